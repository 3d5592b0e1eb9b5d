/* http.c: the HTTP side: libmicrohttpd's callbacks, the body cap, routing through the one
 * route table, bearer authentication, answers and the access log. */
#include "base/compat.h"
#include "base/alloc.h"
#include "base/log.h"
#include "base/str.h"
#include "base/time.h"
#include "server/http.h"
#include "server/internal.h"
#include "server/validate.h"
#include "exec/artifacts.h"
#include "server/runner.h"
#include "server/upload.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <microhttpd.h>

/* Per connection: the body as it arrives. */
struct conn_ctx {
    struct sl_str body;
    bool too_big;
    bool answered; /* a response is queued: ignore whatever else arrives */
    int64_t t0;
    int64_t hold_deadline; /* a held long-poll's (req.hold_deadline, req.hold_status) */
    char hold_status[32];
    bool held; /* it was held once: its completion is reported (sl_srv_hold_completed) */
    /* an upload route's body (upload.h); upload_bad: it is not multipart/form-data (the
     * handler gets no upload and answers 400 once the caller is authenticated) */
    struct srv_upload *upload;
    bool upload_bad;
    json_t *body_tree; /* the body parsed (req.body_tree) */
};

void sl_reply_json(struct req *r, int status, json_t *v)
{
    char *s = json_dumps(v, SL_SRV_JSON_DUMP_FLAGS);
    json_decref(v);
    sl_str_reset(&r->out);
    sl_str_adds(&r->out, s ? s : "null");
    sl_str_addc(&r->out, '\n');
    free(s);
    r->status = status;
    r->content_type = "application/json";
}

struct sl_str *sl_reply_json_begin(struct req *r)
{
    sl_str_reset(&r->out);
    return &r->out;
}

void sl_reply_json_text(struct req *r, int status, struct sl_str *text)
{
    sl_str_release(&r->out);
    r->out = *text;
    sl_str_init(text);
    sl_reply_json_end(r, status);
}

void sl_reply_json_end(struct req *r, int status)
{
    sl_str_addc(&r->out, '\n');
    r->status = status;
    r->content_type = "application/json";
}

void sl_reply_error(struct req *r, int status, const char *code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = sl_xvasprintf(fmt, ap);
    va_end(ap);
    json_t *o = json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", msg);
    free(msg);
    sl_reply_json(r, status, o);
}

void sl_reply_sl_error(struct req *r, int code, const struct sl_error *err)
{
    const char *msg = err && err->message ? sl_error_format(err) : sl_strerror(code);
    switch (code) {
    case SL_ENOENT:
        sl_reply_error(r, 404, "not_found", "%s", msg);
        break;
    case SL_EEXISTS:
        sl_reply_error(r, 409, "conflict", "%s", msg);
        break;
    case SL_EBUSY:
        sl_reply_error(r, 409, "conflict", "%s", msg);
        break;
    case SL_EINVAL:
    case SL_ELIMIT:
        sl_reply_error(r, 400, "invalid", "%s", msg);
        break;
    default:
        atomic_fetch_add(&r->s->metrics.store_errors, 1);
        sl_log(SL_LOG_ERROR, "internal error", "path", r->path, "error", msg, NULL);
        sl_reply_error(r, 500, "internal", "%s", msg);
        break;
    }
}

void sl_reply_header(struct req *r, const char *name, const char *fmt, ...)
{
    if (r->nheaders >= (int)SL_ARRAY_LEN(r->headers))
        return;
    snprintf(r->headers[r->nheaders].name, sizeof(r->headers[0].name), "%s", name);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->headers[r->nheaders].value, sizeof(r->headers[0].value), fmt, ap);
    va_end(ap);
    r->nheaders++;
}

json_t *sl_body_json(struct req *r)
{
    json_error_t je;
    if (r->body_len == 0)
        return json_object();
    if (r->body_tree && *r->body_tree)
        return json_incref(*r->body_tree);
    json_t *v = json_loadb(r->body ? r->body : "", r->body_len, JSON_REJECT_DUPLICATES, &je);
    if (!v || !json_is_object(v)) {
        sl_reply_error(r, 400, "invalid_json", "the body must be a JSON object%s%s", v ? "" : ": ",
                       v ? "" : je.text);
        json_decref(v);
        return NULL;
    }
    if (r->body_tree)
        *r->body_tree = json_incref(v);
    return v;
}

bool sl_body_fields_known(struct req *r, json_t *b, const char *const *fields)
{
    const char *k;
    json_t *x;
    json_object_foreach(b, k, x)
    {
        bool known = false;
        for (const char *const *f = fields; *f && !known; f++)
            known = !strcmp(*f, k);
        if (!known) {
            struct sl_str all = SL_STR_INIT;
            for (const char *const *f = fields; *f; f++)
                sl_str_addf(&all, "%s%s", f == fields ? "" : ", ", *f);
            sl_reply_error(r, 400, "invalid", "unknown field '%s' (%s)", k, all.buf ? all.buf : "");
            sl_str_release(&all);
            return false;
        }
    }
    return true;
}

const char *sl_query_arg(struct req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *sl_header_arg(struct req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

void sl_remote_addr(struct req *r, char *buf, size_t size)
{
    buf[0] = '\0';
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (!ci || !ci->client_addr)
        return;
    const struct sockaddr *sa = ci->client_addr;
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, buf, (socklen_t)size);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, buf, (socklen_t)size);
}

void sl_audit(struct req *r, const char *actor, const char *action, const char *target,
              json_t *detail)
{
    char addr[INET6_ADDRSTRLEN + 1], who[48];
    sl_remote_addr(r, addr, sizeof(addr));
    if (!actor) {
        snprintf(who, sizeof(who), "token:%lld", (long long)r->token.id);
        actor = who;
    }
    if (!detail)
        detail = json_object();
    json_object_set_new(detail, "request_id", json_string(r->request_id));
    char *d = json_dumps(detail, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(detail);
    struct sl_store_audit a = {0};
    a.at = sl_time_now_ms();
    a.actor = (char *)actor;
    a.action = (char *)action;
    a.target = (char *)target;
    a.detail = d;
    a.remote_addr = addr;
    struct sl_error err = SL_ERROR_INIT;
    if (sl_store_audit_add(r->s->st, &a, NULL, &err) < 0) {
        atomic_fetch_add(&r->s->metrics.store_errors, 1);
        sl_log(SL_LOG_ERROR, "cannot record an audit event", "action", action, "error",
               sl_error_format(&err), NULL);
    }
    sl_error_release(&err);
    free(d);
}

/* Copies one path segment of U (any byte but '/' and controls: a feature flag's or an
 * environment's name, UTF-8 included) into OUT; the number of bytes taken, 0 when none or
 * too long (then *TOO_LONG is set). */
static size_t match_segment(const char *u, char out[SRV_KEY_MAX + 1], bool *too_long)
{
    size_t n = 0;
    while (u[n] && u[n] != '/' && (unsigned char)u[n] >= 0x20 && u[n] != 0x7f) {
        if (n == SRV_KEY_MAX) {
            *too_long = true;
            return 0;
        }
        out[n] = u[n];
        n++;
    }
    out[n] = '\0';
    return n;
}

/* Matches PATH against PATTERN; {id} takes a positive decimal integer, {key} a variable
 * key (letters, digits and '_', up to SRV_KEY_MAX bytes) copied into KEY, {name} and {env}
 * one path segment copied into KEY and KEY2, {ref} (last in a pattern) the rest of the path,
 * any printable bytes (a branch name with its '/'), into KEY; {group} as {ref} but followed
 * by the pattern's literal tail, if any (no placeholder after it). *TOO_LONG is set when PATH
 * matched as far as a name longer than SRV_KEY_MAX bytes. */
static bool route_match(const char *pattern, const char *path, int64_t *id,
                        char key[SRV_KEY_MAX + 1], char key2[SRV_KEY_MAX + 1], bool *too_long)
{
    const char *p = pattern, *u = path;
    while (*p && *u) {
        /* a literal character: the placeholders below all start with '{' (every request
         * walks the route table, so this is most of the matching) */
        if (*p != '{') {
            if (*p++ != *u++)
                return false;
            continue;
        }
        if (!strncmp(p, "{name}", 6) || !strncmp(p, "{env}", 5)) {
            bool env = p[1] == 'e';
            size_t n = match_segment(u, env ? key2 : key, too_long);
            if (n == 0)
                return false;
            u += n;
            p += env ? 5 : 6;
            continue;
        }
        if (!strncmp(p, "{key}", 5)) {
            size_t n = 0;
            while (isalnum((unsigned char)*u) || *u == '_') {
                if (n == SRV_KEY_MAX) {
                    *too_long = true;
                    return false;
                }
                key[n++] = *u++;
            }
            if (n == 0)
                return false;
            key[n] = '\0';
            p += 5;
            continue;
        }
        if (!strncmp(p, "{group}", 7)) {
            /* a resource group's key, '/' and all (GitLab's API takes production%2Feu, which
             * arrives decoded): the rest of the path up to the pattern's literal tail */
            const char *tail = p + 7;
            size_t n = strlen(u), t = strlen(tail);
            if (strchr(tail, '{') || n <= t || strcmp(u + n - t, tail) != 0)
                return false;
            n -= t;
            *too_long |= n > SRV_KEY_MAX;
            if (n > SRV_KEY_MAX)
                return false;
            for (size_t i = 0; i < n; i++)
                if ((unsigned char)u[i] < 0x20 || u[i] == 0x7f)
                    return false;
            memcpy(key, u, n);
            key[n] = '\0';
            return true;
        }
        if (!strcmp(p, "{ref}")) { /* the rest of the path: a ref name or pattern, '/' and all */
            size_t n = strlen(u);
            *too_long |= n > SRV_KEY_MAX;
            if (n == 0 || n > SRV_KEY_MAX)
                return false;
            for (size_t i = 0; i < n; i++)
                if ((unsigned char)u[i] < 0x20 || u[i] == 0x7f)
                    return false;
            memcpy(key, u, n + 1);
            return true;
        }
        if (!strncmp(p, "{id}", 4)) {
            int64_t v = 0;
            const char *start = u;
            while (*u >= '0' && *u <= '9') {
                if (v > (INT64_MAX - 9) / 10)
                    return false;
                v = v * 10 + (*u++ - '0');
            }
            if (u == start || v <= 0)
                return false;
            *id = v;
            p += 4;
            continue;
        }
        if (*p++ != *u++)
            return false;
    }
    return !*p && !*u;
}

/* Authenticates R by the CI_JOB_TOKEN SECRET of a running job of project R->id; 0, or -1
 * with R answered (401 unknown or finished, 403 another project's job, or a fork's job
 * asking to change something). */
static int job_token_auth(struct req *r, const char *secret)
{
    struct sl_store_job job = {0};
    struct sl_store_pipeline p = {0};
    struct sl_error err = SL_ERROR_INIT;
    int rc = sl_store_job_token_lookup(r->s->st, secret, &job, &err);
    if (rc == 0 && strcmp(job.status, "running") != 0)
        rc = SL_ENOENT;
    if (rc == 0)
        rc = sl_store_pipeline_get(r->s->st, job.pipeline_id, &p, &err);
    if (rc == SL_ENOENT) {
        sl_srv_auth_failed(r);
        sl_reply_error(r, 401, "unauthorized", "invalid job token, or its job is not running");
    } else if (rc < 0) {
        sl_reply_sl_error(r, rc, &err);
    } else if (p.project_id != r->id) {
        sl_reply_error(r, 403, "forbidden", "a job token acts on its own project only");
        rc = -1;
    } else if (strcmp(r->method, "GET") != 0 && sl_srv_pipeline_from_fork(r->s, &p)) {
        sl_reply_error(r, 403, "forbidden",
                       "a job of a merge request pipeline from a fork may read, not change");
        rc = -1;
    } else {
        r->job_id = job.id;
        r->pipeline_id = job.pipeline_id;
        r->token.name = sl_xasprintf("job:%lld", (long long)job.id);
        r->token.role = sl_xstrdup("developer");
    }
    sl_store_job_release(&job);
    sl_store_pipeline_release(&p);
    sl_error_release(&err);
    return rc < 0 ? -1 : 0;
}

static void authenticate_and_run(struct req *r, const struct route *rt)
{
    if (rt->role) {
        const char *h =
            MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
        if (!h && sl_srv_session_present(r)) {
            if (sl_srv_session_auth(r) < 0)
                return;
        } else if (!h || strncasecmp(h, "Bearer ", 7) != 0) {
            sl_reply_error(r, 401, "unauthorized",
                           "an API token is required (Authorization: Bearer)");
            return;
        }
        if (!r->session_id[0]) {
            if (sl_srv_auth_throttled(r))
                return;
            const char *secret = h + 7;
            while (*secret == ' ')
                secret++;
            if (sl_starts_with(secret, SL_STORE_JOB_TOKEN_PREFIX) &&
                sl_srv_route_takes_job_token(rt)) {
                if (job_token_auth(r, secret) == 0 && sl_srv_request_check(r, rt))
                    rt->fn(r);
                return;
            }
            struct sl_error err = SL_ERROR_INIT;
            int rc = sl_store_token_verify(r->s->st, secret, sl_time_now_ms(), &r->token, &err);
            if (rc == SL_ENOENT) {
                sl_srv_auth_failed(r);
                sl_reply_error(r, 401, "unauthorized", "invalid, expired or revoked token");
                sl_error_release(&err);
                return;
            }
            if (rc < 0) {
                sl_reply_sl_error(r, rc, &err);
                sl_error_release(&err);
                return;
            }
            sl_error_release(&err);
        }
        if (sl_server_role_rank(r->token.role) < sl_server_role_rank(rt->role)) {
            sl_reply_error(r, 403, "forbidden", "this needs the %s role; the token has %s",
                           rt->role, r->token.role);
            return;
        }
    }
    /* the request's shape (validate.c), after authentication: a stranger learns nothing */
    if (sl_srv_request_check(r, rt))
        rt->fn(r);
}

/* Finds the route for R and runs it; returns the route's index, or sl_srv_nroutes. */
static size_t dispatch(struct req *r)
{
    bool path_known = false, too_long = false;
    for (size_t i = 0; i < sl_srv_nroutes; i++) {
        int64_t id = 0;
        if (!route_match(sl_srv_routes[i].pattern, r->path, &id, r->key, r->key2, &too_long))
            continue;
        path_known = true;
        if (strcmp(sl_srv_routes[i].method, r->method) != 0)
            continue;
        r->id = id;
        authenticate_and_run(r, &sl_srv_routes[i]);
        return i;
    }
    if (!path_known && sl_srv_git_http_handle(r))
        return sl_srv_nroutes;
    if (!path_known && sl_srv_ui_handle(r))
        return sl_srv_nroutes;
    if (path_known)
        sl_reply_error(r, 405, "method_not_allowed", "%s is not allowed on %s", r->method, r->path);
    else if (too_long) /* a route's path with a name over the documented limit */
        sl_reply_error(r, 400, "invalid", "a name in the path is too long (at most %d bytes)",
                       SRV_KEY_MAX);
    else
        sl_reply_error(r, 404, "not_found", "no route for %s", r->path);
    return sl_srv_nroutes;
}

/* The client's X-Request-Id when it is short and plain (proxies set one to follow a request
 * across services), else this server's counter. */
static void request_id(struct req *r)
{
    const char *h = sl_header_arg(r, "X-Request-Id");
    size_t n = h ? strlen(h) : 0;
    bool plain = n > 0 && n < sizeof(r->request_id);
    for (size_t i = 0; plain && i < n; i++)
        plain = isalnum((unsigned char)h[i]) || strchr("-_.:", h[i]);
    if (plain) {
        memcpy(r->request_id, h, n + 1);
        return;
    }
    unsigned long long id = atomic_fetch_add(&r->s->next_request_id, 1) + 1;
    snprintf(r->request_id, sizeof(r->request_id), "%llu", id);
}

static const char *const security_headers[][2] = {
    {"Content-Security-Policy",
     "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
     "connect-src 'self'; worker-src 'self'; font-src 'self'; manifest-src 'self'; "
     "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"},
    {"X-Frame-Options", "DENY"},
    {"X-Content-Type-Options", "nosniff"},
    {"Referrer-Policy", "no-referrer"},
};

static enum MHD_Result send_reply(struct req *r, const char *route, int64_t t0, size_t route_idx)
{
    struct MHD_Response *resp = r->response;
    if (!resp) {
        size_t len = r->out.len;
        char *buf = sl_str_detach(&r->out);
        resp = MHD_create_response_from_buffer(len, buf, MHD_RESPMEM_MUST_FREE);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                                r->content_type ? r->content_type : "application/json");
    }
    r->response = NULL;
    MHD_add_response_header(resp, "X-Request-Id", r->request_id);
    if (r->next_offset[0])
        MHD_add_response_header(resp, "X-Next-Offset", r->next_offset);
    if (r->set_cookie[0])
        MHD_add_response_header(resp, MHD_HTTP_HEADER_SET_COOKIE, r->set_cookie);
    if (r->retry_after[0])
        MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, r->retry_after);
    for (int i = 0; i < r->nheaders; i++)
        MHD_add_response_header(resp, r->headers[i].name, r->headers[i].value);
    /* Every answer: the UI's script and styles only from this origin, never framed, no
     * referrer to other sites (docs/ui.md). */
    for (size_t i = 0; i < SL_ARRAY_LEN(security_headers); i++)
        MHD_add_response_header(resp, security_headers[i][0], security_headers[i][1]);
    enum MHD_Result ret = MHD_queue_response(r->conn, (unsigned)r->status, resp);
    MHD_destroy_response(resp);

    double secs = (double)(sl_time_mono_ns() - t0) / 1e9;
    sl_metrics_request(&r->s->metrics, (int)route_idx, r->status, secs);
    char status[16], dur[32];
    snprintf(status, sizeof(status), "%d", r->status);
    snprintf(dur, sizeof(dur), "%.3f", secs * 1000.0);
    sl_log(r->status >= 500 ? SL_LOG_ERROR : SL_LOG_INFO, "request", "request_id", r->request_id,
           "method", r->method, "path", r->path, "route", route, "status", status, "duration_ms",
           dur, NULL);
    return ret;
}

/* Starts R as a request of S on CONN. */
static void req_init(struct req *r, struct sl_server *s, struct MHD_Connection *conn,
                     const char *method, const char *url)
{
    memset(r, 0, sizeof(*r));
    r->s = s;
    r->conn = conn;
    r->method = method;
    r->path = url;
    r->status = 200;
    sl_str_init(&r->out);
    request_id(r);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    (void)version;
    struct sl_server *s = cls;
    struct conn_ctx *cc = *con_cls;
    if (!cc) {
        cc = sl_xcalloc(1, sizeof(*cc));
        sl_str_init(&cc->body);
        cc->t0 = sl_time_mono_ns();
        *con_cls = cc;
        /* A declared length over the cap is refused before a byte of it is read (MHD then
         * closes the connection instead of reading the rest). */
        const char *cl =
            MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        bool upload = sl_srv_upload_route(method, url);
        /* an upload's body goes to a file; its cap is the artifact's plus the form's */
        unsigned long long cap =
            upload ? (unsigned long long)SL_ARTIFACTS_MAX_BYTES + SRV_BODY_MAX : SRV_BODY_MAX;
        if (cl && strtoull(cl, NULL, 10) > cap) {
            struct req r;
            req_init(&r, s, conn, method, url);
            sl_reply_error(&r, 413, "too_large", "the request body is over %llu bytes", cap);
            cc->answered = true;
            enum MHD_Result ret = send_reply(&r, "", cc->t0, sl_srv_nroutes);
            sl_str_release(&r.out);
            return ret;
        }
        if (upload) {
            struct sl_error err = SL_ERROR_INIT;
            cc->upload_bad = sl_srv_upload_new(&cc->upload, s->data_dir, conn, &err) < 0;
            sl_error_release(&err);
        }
        return MHD_YES;
    }
    if (cc->answered) {
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (*upload_data_size && (cc->upload || cc->upload_bad)) {
        if (cc->upload)
            sl_srv_upload_feed(cc->upload, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (*upload_data_size) {
        if (cc->too_big || cc->body.len + *upload_data_size > SRV_BODY_MAX) {
            cc->too_big = true;
            sl_str_release(&cc->body);
        } else {
            sl_str_add(&cc->body, upload_data, *upload_data_size);
        }
        *upload_data_size = 0;
        return MHD_YES;
    }

    struct req r;
    req_init(&r, s, conn, method, url);
    r.body = cc->body.buf;
    r.body_len = cc->body.len;
    r.body_tree = &cc->body_tree;
    cc->answered = true;
    size_t idx = sl_srv_nroutes;
    const char *route = "";
    r.upload = cc->upload;
    if (cc->too_big) {
        sl_reply_error(&r, 413, "too_large", "the request body is over %d bytes", SRV_BODY_MAX);
    } else {
        r.hold_deadline = cc->hold_deadline;
        memcpy(r.hold_status, cc->hold_status, sizeof(r.hold_status));
        idx = dispatch(&r);
        /* a long-poll with nothing to hand over yet: suspend the connection until a wake
         * or its deadline resumes it, then this runs again (a wake that came meanwhile:
         * look again now) */
        for (int tries = 0; r.hold; tries++) {
            cc->hold_deadline = r.hold_deadline;
            memcpy(cc->hold_status, r.hold_status, sizeof(cc->hold_status));
            if (tries < 3 &&
                sl_srv_hold(s, conn, r.hold_key, r.hold_gen,
                            r.hold_wake_at ? r.hold_wake_at : r.hold_deadline, !cc->held)) {
                cc->held = true;
                cc->answered = false;
                sl_str_release(&r.out);
                sl_store_token_release(&r.token); /* verified again when it runs again */
                return MHD_YES;
            }
            r.hold = false;
            if (tries >= 3)
                break;
            sl_str_reset(&r.out);
            sl_store_token_release(&r.token);
            r.nheaders = 0;
            r.hold_wake_at = 0;
            r.hold_refused = tries == 2; /* the last look: answer, do not hold */
            idx = dispatch(&r);
        }
        if (idx < sl_srv_nroutes)
            route = sl_srv_routes[idx].pattern;
    }
    enum MHD_Result ret = send_reply(&r, route, cc->t0, idx);
    if (r.response)
        MHD_destroy_response(r.response);
    sl_store_token_release(&r.token);
    sl_str_release(&r.out);
    return ret;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)conn, (void)toe;
    struct conn_ctx *cc = *con_cls;
    if (cc) {
        if (cc->held)
            sl_srv_hold_completed(cls);
        sl_str_release(&cc->body);
        sl_srv_upload_free(cc->upload);
        json_decref(cc->body_tree);
        free(cc);
        *con_cls = NULL;
    }
}

/* "ADDR:PORT" (IPv4) into SA. */
static int parse_listen(const char *listen, struct sockaddr_in *sa, struct sl_error *err)
{
    const char *colon = strrchr(listen, ':');
    if (!colon)
        return sl_error_set(err, SL_EINVAL, "--listen takes ADDR:PORT, not '%s'", listen);
    char *host = sl_xstrndup(listen, (size_t)(colon - listen));
    char *end;
    long port = strtol(colon + 1, &end, 10);
    memset(sa, 0, sizeof(*sa));
    sa->sin_family = AF_INET;
    int rc = 0;
    if (!*host || !strcmp(host, "localhost"))
        inet_pton(AF_INET, "127.0.0.1", &sa->sin_addr);
    else if (inet_pton(AF_INET, host, &sa->sin_addr) != 1)
        rc = sl_error_set(err, SL_EINVAL, "--listen: '%s' is not an IPv4 address", host);
    if (!rc && (*end || colon[1] == '\0' || port < 0 || port > 65535))
        rc = sl_error_set(err, SL_EINVAL, "--listen: '%s' is not a port", colon + 1);
    sa->sin_port = htons((uint16_t)port);
    free(host);
    return rc;
}

int sl_srv_http_bind(struct sl_server *s, const char *where, struct sl_error *err)
{
    struct sockaddr_in sa;
    socklen_t len = sizeof(sa);
    int rc, one = 1;
    if ((rc = parse_listen(where, &sa, err)) < 0)
        return rc;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return sl_error_set_errno(err, SL_EIO, "cannot listen on %s", where);
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 128) < 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &len) < 0) {
        rc = sl_error_set_errno(err, SL_EIO, "cannot listen on %s", where);
        close(fd);
        return rc;
    }
    char ip[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &sa.sin_addr, ip, sizeof(ip));
    snprintf(s->address, sizeof(s->address), "%s:%u", ip, (unsigned)ntohs(sa.sin_port));
    s->listen_fd = fd;
    return 0;
}

int sl_srv_http_start(struct sl_server *s, int threads, struct sl_error *err)
{
    sl_streams_init(s);
    sl_sessions_init(s);
    s->auth_limiter = sl_auth_limiter_new();
    s->daemon = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME, 0, NULL, NULL,
        on_request, s, MHD_OPTION_LISTEN_SOCKET, s->listen_fd, MHD_OPTION_THREAD_POOL_SIZE,
        (unsigned)(threads > 0 ? threads : 2), MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60, MHD_OPTION_CONNECTION_LIMIT, (unsigned)512,
        MHD_OPTION_END);
    if (!s->daemon)
        return sl_error_set(err, SL_EIO, "cannot serve HTTP on %s", s->address);
    s->listen_fd = -1; /* the daemon's now: MHD_stop_daemon closes it */
    return 0;
}

void sl_srv_http_stop(struct sl_server *s)
{
    if (s->daemon) {
        sl_streams_stop(s);
        sl_srv_runners_release_all(s);
        MHD_stop_daemon(s->daemon);
        s->daemon = NULL;
    }
    /* the streams' state is freed with the server (sl_server_free), after the workers:
     * a worker still running a job in the grace period wakes its streams (none are left) */
    sl_sessions_free(s);
    sl_auth_limiter_free(s->auth_limiter);
    s->auth_limiter = NULL;
}
