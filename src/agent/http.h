/* http.h: the agent's HTTP client (libcurl), just what GitLab's runner API needs.
 *
 * One call, one request, one answer: sl_agent_http fills a struct sl_agent_http_resp with
 * the status, the body (capped), and the headers the runner protocol reads (Range,
 * Job-Status, X-GitLab-Trace-Update-Interval). A body can come from memory or, for an
 * artifacts upload, from a file sent as the multipart field `file`; an answer can go to a
 * file instead of memory (an artifacts download). A transport failure (no server, reset,
 * timeout) is SL_EIO: the caller retries with backoff; any HTTP status is a success of
 * the call, the caller reads it.
 *
 * Thread-safe once sl_agent_http_global_init was called (curl_global_init, once per
 * process before threads start). Requests share one cache of kept-alive connections (a
 * curl share), so successive requests to the server reuse a connection. */
#ifndef SL_AGENT_HTTP_H
#define SL_AGENT_HTTP_H

#include "base/compat.h"
#include "base/error.h"

#include <stdatomic.h>

/* Cap on an answer held in memory (a job payload is the largest). */
#define SL_AGENT_HTTP_BODY_MAX (16 * 1024 * 1024)

struct sl_agent_http_req {
    const char *method; /* "GET", "POST", "PUT", "PATCH" */
    const char *url;
    const char *const *headers; /* "Name: value" lines, NULL-terminated; may be NULL */
    const char *body;           /* NULL: none */
    size_t body_len;
    const char *content_type;  /* of BODY; NULL: application/json */
    const char *upload_path;   /* a file sent as multipart field "file"; NULL: none */
    const char *upload_name;   /* its file name in the form */
    const char *download_path; /* write a 200 answer's body here instead of memory */
    int64_t download_max;      /* cap on that file; 0: no cap */
    long timeout_s;            /* whole request; 0: 60 s */
    atomic_int *abort;         /* the request ends (SL_ECANCELED) once *ABORT is non-zero */
};

struct sl_agent_http_resp {
    long status;
    char *body; /* NUL-terminated, owned; "" when none */
    size_t len;
    char range[64];      /* Range header, "" when absent */
    char job_status[32]; /* Job-Status header, "" when absent */
    int update_interval; /* X-GitLab-Trace-Update-Interval in seconds; -1 when absent */
};

void sl_agent_http_global_init(void);

/* Performs REQ. On success (any HTTP status) *OUT is filled; release it with
 * sl_agent_http_resp_release. SL_EIO for a transport failure, SL_ECANCELED when aborted,
 * SL_ELIMIT for an answer over its cap. */
int sl_agent_http(const struct sl_agent_http_req *req, struct sl_agent_http_resp *out,
                  struct sl_error *err);
void sl_agent_http_resp_release(struct sl_agent_http_resp *r);

#endif
