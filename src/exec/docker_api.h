/* docker_api.h: a small Docker Engine API client (v1.41) over a unix socket, with libcurl.
 *
 * Internal to the exec room (docker.c uses it). Works against Docker and against Podman's
 * `podman system service`, which speaks the same API. No `docker` CLI is run.
 *
 * Which socket (sl_docker_open): DOCKER_HOST when it is set, and then only it (a dead
 * DOCKER_HOST is an error naming it, never a silent fall-back to another engine); else
 * /var/run/docker.sock; else Podman's rootful socket /run/podman/podman.sock; else the
 * rootless one, $XDG_RUNTIME_DIR/podman/podman.sock. Only unix:// hosts are supported.
 *
 * Every call makes its own curl handle, so a call may run (a kill, say) while a stream
 * (logs of an exec) is open on another handle. A client may be used by one thread at a
 * time; open one per job. */
#ifndef SL_EXEC_DOCKER_API_H
#define SL_EXEC_DOCKER_API_H

#include "base/compat.h"
#include "base/error.h"

#include <jansson.h>
#include <stdatomic.h>

struct sl_docker;
struct sl_docker_stream;

/* Finds the engine's socket as above and pings it. HOST overrides DOCKER_HOST when not
 * NULL. On failure *OUT is NULL and ERR says which sockets were tried and why. */
int sl_docker_open(struct sl_docker **out, const char *host, struct sl_error *err);
/* As sl_docker_open, and every call of the client (its ping included) ends within about a
 * second of *STOP becoming true, as an engine that cannot be reached (SL_EIO): for a call
 * that must not outlive its caller's stop, from an engine that does not answer. Not for
 * streams. STOP outlives the client. */
int sl_docker_open_until(struct sl_docker **out, const char *host, const atomic_bool *stop,
                         struct sl_error *err);
void sl_docker_close(struct sl_docker *d);
/* The socket path in use (borrowed). */
const char *sl_docker_socket(const struct sl_docker *d);

/* One request. PATH starts with "/" and is relative to the API version prefix. BODY (may
 * be NULL) is sent as JSON. *STATUS gets the HTTP status; *REPLY (when not NULL) the body
 * parsed as JSON, or NULL when it is empty or not JSON; RAW (when not NULL) the body as
 * text, NUL-terminated, capped at 1 MiB. Returns 0 whenever the engine answered, whatever
 * the status; SL_EIO when it could not be reached. */
int sl_docker_call(struct sl_docker *d, const char *method, const char *path, json_t *body,
                   long *status, json_t **reply, char **raw, struct sl_error *err);
/* The "message" of an error reply, or the raw text, or "HTTP <status>": for messages.
 * Returns a new string. */
char *sl_docker_error_text(long status, json_t *reply, const char *raw);

/* A streamed request: the body arrives through FN as it comes. With DEMUX the body is
 * Docker's multiplexed stream (8-byte frame headers: stream, 0, 0, 0, size big-endian),
 * and FN gets the payloads only. FN returns false to stop reading. */
typedef bool (*sl_docker_chunk_fn)(void *ctx, const char *data, size_t n);
int sl_docker_stream_open(struct sl_docker_stream **out, struct sl_docker *d, const char *method,
                          const char *path, json_t *body, bool demux, sl_docker_chunk_fn fn,
                          void *ctx, struct sl_error *err);
/* Reads the stream for up to TIMEOUT_MS (< 0: no limit) or until one of FDS is readable.
 * Returns 1 when the stream has ended (see sl_docker_stream_status), 0 when it is still
 * open (*READY is the index of a readable descriptor, or -1 for the timeout), negative
 * when the transfer failed. */
int sl_docker_stream_wait(struct sl_docker_stream *s, const int *fds, int nfds, int64_t timeout_ms,
                          int *ready, struct sl_error *err);
long sl_docker_stream_status(const struct sl_docker_stream *s);
void sl_docker_stream_close(struct sl_docker_stream *s);

/* Percent-encodes S for a URL path segment or query value. New string. */
char *sl_docker_escape(const char *s);

#endif
