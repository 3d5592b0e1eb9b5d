/* upload.h: multipart/form-data bodies streamed to a temporary file (upload.c), for the
 * routes whose bodies may be far over SRV_BODY_MAX (a runner's artifacts). Not a public API.
 *
 * The HTTP layer creates one per request of such a route (sl_srv_upload_route), feeds it the
 * body as it arrives and hands it to the handler in req.upload; the handler takes the file
 * (sl_srv_upload_take) to keep it, else sl_srv_upload_free removes it. */
#ifndef SL_SERVER_UPLOAD_H
#define SL_SERVER_UPLOAD_H

#include "base/compat.h"
#include "base/error.h"

#include <stdbool.h>
#include <stdint.h>

struct MHD_Connection;
struct srv_upload;

/* Whether METHOD URL is a route whose body is streamed as an upload. */
bool sl_srv_upload_route(const char *method, const char *url);
/* A new upload for the request on CONN, writing its file under DATA_DIR/tmp. SL_EINVAL
 * when the body is not multipart/form-data (the caller answers 400). */
int sl_srv_upload_new(struct srv_upload **out, const char *data_dir, struct MHD_Connection *conn,
                      struct sl_error *err);
/* Feeds LEN more bytes of the body. A file part past SL_ARTIFACTS_MAX_BYTES is dropped and
 * remembered (sl_srv_upload_file says SL_ELIMIT). */
void sl_srv_upload_feed(struct srv_upload *u, const char *data, size_t len);
/* The form field NAME (other than the file; at most 256 bytes), or NULL. Borrowed. */
const char *sl_srv_upload_field(const struct srv_upload *u, const char *name);
/* The uploaded `file` part: its temporary path (borrowed) and size. SL_ENOENT when the body
 * had none, SL_ELIMIT when it was too large, SL_EINVAL when the body was malformed. */
int sl_srv_upload_file(struct srv_upload *u, const char **path, int64_t *bytes);
/* Takes the temporary file: the caller owns the returned path (and the file), which
 * sl_srv_upload_free then leaves alone. */
char *sl_srv_upload_take(struct srv_upload *u);
/* Removes the temporary file unless taken. NULL-safe. */
void sl_srv_upload_free(struct srv_upload *u);

#endif
