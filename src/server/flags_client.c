/* flags_client.c: what Unleash SDKs talk to (docs/feature-flags.md):
 *
 *   GET  /api/client/features     server-side SDKs: the environment's whole state
 *   POST /api/client/register     (accepted, 202)
 *   POST /api/client/metrics      counts per flag, environment and variant (/metrics)
 *   GET|POST /api/frontend        browser and mobile SDKs: flags evaluated here for the
 *                                 given context, enabled ones only, with their variants
 *   /api/v4/feature_flags/unleash/{id}/...   GitLab's endpoint: instance id + app name
 *
 * Client and frontend tokens (`<project>:<environment>.<secret>`, in `Authorization`) pick
 * the project and environment; a frontend token never reads strategies, a client token is
 * not a frontend token. The frontend answers CORS only for its token's allowed origins. */
#include "base/compat.h"
#include "base/alloc.h"
#include "base/log.h"
#include "base/time.h"
#include "server/flags_api.h"

#include <microhttpd.h>
#include <sodium.h>

#define FILTER_VALUES_MAX 32 /* tag= and project= values of one request */

/* Answers R with LEN bytes of BODY (copied), ETAG (may be NULL) and, when ORIGIN is not
 * NULL, the CORS headers that let that origin read it. An If-None-Match equal to ETAG gets
 * 304 and no body. */
static void reply_body(struct req *r, int status, const char *body, size_t len, const char *etag,
                       const char *origin)
{
    const char *inm = sl_header_arg(r, "If-None-Match");
    bool same = etag && inm && sl_streq(inm, etag);
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        same ? 0 : len, same ? (void *)"" : (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!same)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    if (etag)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, etag);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    if (origin) {
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        MHD_add_response_header(resp, "Access-Control-Expose-Headers", "ETag");
        MHD_add_response_header(resp, MHD_HTTP_HEADER_VARY, "Origin");
    }
    if (r->response)
        MHD_destroy_response(r->response);
    r->response = resp;
    r->status = same ? 304 : status;
}

/* Unleash answers errors as {"message": ...}; sluice's shape is kept beside it. */
static void unleash_error(struct req *r, int status, const char *code, const char *msg)
{
    sl_reply_json(
        r, status,
        json_pack("{s:s,s:{s:s,s:s}}", "message", msg, "error", "code", code, "message", msg));
}

/* The token of R (Authorization: TOKEN, or Bearer TOKEN) into *t when it is one of TYPE.
 * False with R answered (401 unknown, 403 the other type). */
static bool unleash_auth(struct req *r, const char *type, struct sl_store_flag_token *t)
{
    const char *h = sl_header_arg(r, MHD_HTTP_HEADER_AUTHORIZATION);
    struct sl_error err = SL_ERROR_INIT;
    if (h && !strncasecmp(h, "Bearer ", 7))
        h += 7;
    while (h && *h == ' ')
        h++;
    if (!h || !*h) {
        unleash_error(r, 401, "unauthorized",
                      "an Unleash token is required in the Authorization header");
        return false;
    }
    int rc = sl_store_flag_token_verify(r->s->st, h, sl_time_now_ms(), t, &err);
    if (rc == SL_ENOENT)
        unleash_error(r, 401, "unauthorized", "invalid or revoked token");
    else if (rc < 0)
        sl_reply_sl_error(r, rc, &err);
    sl_error_release(&err);
    if (rc < 0)
        return false;
    if (!sl_streq(t->type, type)) {
        unleash_error(r, 403, "forbidden",
                      sl_streq(type, "client") ? "a frontend token cannot read the client API"
                                               : "the frontend API takes a frontend token");
        sl_store_flag_token_release(t);
        return false;
    }
    return true;
}

/* ---- the client API ---- */

struct values {
    const char *name;
    const char *v[FILTER_VALUES_MAX];
    size_t n;
};

static enum MHD_Result collect(void *cls, enum MHD_ValueKind kind, const char *key,
                               const char *value)
{
    (void)kind;
    struct values *vs = cls;
    if (value && sl_streq(key, vs->name) && vs->n < FILTER_VALUES_MAX)
        vs->v[vs->n++] = value;
    return MHD_YES;
}

/* Serves the state of ENVIRONMENT of PROJECT_ID to a server-side SDK. */
static void serve_features(struct req *r, int64_t project_id, const char *environment)
{
    struct values tags = {.name = "tag"}, projects = {.name = "project"};
    struct srv_flags_filter flt = {.name_prefix = sl_query_arg(r, "namePrefix")};
    struct sl_error err = SL_ERROR_INIT;
    MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, collect, &tags);
    MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, collect, &projects);
    flt.tags = tags.v;
    flt.ntags = tags.n;
    flt.projects = projects.v;
    flt.nprojects = projects.n;
    if (!flt.name_prefix && !flt.ntags && !flt.nprojects) {
        struct srv_flags_snapshot *snap = NULL;
        int rc = sl_srv_flags_snapshot_get(r->s, project_id, environment, &snap, &err);
        if (rc < 0)
            sl_reply_sl_error(r, rc, &err);
        else
            reply_body(r, 200, snap->body, snap->len, snap->etag, NULL);
        sl_srv_flags_snapshot_release(r->s, snap);
        sl_error_release(&err);
        return;
    }
    /* filtered answers are rarer: built from the store each time, never cached */
    json_t *doc = NULL;
    int rc = sl_srv_flags_document(r->s, project_id, environment, &flt, &doc, &err);
    if (rc < 0) {
        sl_reply_sl_error(r, rc, &err);
    } else {
        json_object_set_new(doc, "query", json_pack("{s:s*}", "namePrefix", flt.name_prefix));
        char *body = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
        char etag[48];
        sl_srv_flags_etag(body, strlen(body), etag);
        reply_body(r, 200, body, strlen(body), etag, NULL);
        free(body);
    }
    json_decref(doc);
    sl_error_release(&err);
}

void sl_h_unleash_features(struct req *r)
{
    struct sl_store_flag_token t = {0};
    if (!unleash_auth(r, "client", &t))
        return;
    serve_features(r, t.project_id, t.environment);
    sl_store_flag_token_release(&t);
}

static void accepted(struct req *r, int status)
{
    r->status = status;
    sl_str_reset(&r->out);
}

/* Registration: the body is checked (an SDK with a broken one hears so), nothing kept. */
static void do_register(struct req *r, int status)
{
    json_t *b = sl_body_json(r);
    if (!b)
        return;
    json_decref(b);
    accepted(r, status);
}

/* Counts the bucket of an SDK's metrics report for ENVIRONMENT of PROJECT_ID. */
static void do_metrics(struct req *r, int64_t project_id, const char *environment, int status,
                       const char *origin)
{
    struct srv_flags_snapshot *snap = NULL;
    struct sl_error err = SL_ERROR_INIT;
    json_t *b = sl_body_json(r);
    if (!b)
        return;
    int rc = sl_srv_flags_snapshot_get(r->s, project_id, environment, &snap, &err);
    if (rc < 0) {
        sl_reply_sl_error(r, rc, &err);
    } else {
        sl_srv_flags_count(r->s, snap, json_object_get(b, "bucket"));
        reply_body(r, status, "", 0, NULL, origin);
    }
    sl_srv_flags_snapshot_release(r->s, snap);
    sl_error_release(&err);
    json_decref(b);
}

void sl_h_unleash_register(struct req *r)
{
    struct sl_store_flag_token t = {0};
    if (!unleash_auth(r, "client", &t))
        return;
    do_register(r, 202);
    sl_store_flag_token_release(&t);
}

void sl_h_unleash_metrics(struct req *r)
{
    struct sl_store_flag_token t = {0};
    if (!unleash_auth(r, "client", &t))
        return;
    do_metrics(r, t.project_id, t.environment, 202, NULL);
    sl_store_flag_token_release(&t);
}

/* ---- the frontend API ---- */

/* The Origin of R when token T lets it read answers (its allowed_origins hold it or "*"),
 * else NULL. */
static const char *allowed_origin(struct req *r, const struct sl_store_flag_token *t)
{
    const char *origin = sl_header_arg(r, "Origin");
    if (!origin)
        return NULL;
    json_t *arr = json_loads(t->allowed_origins ? t->allowed_origins : "[]", 0, NULL), *v;
    size_t i;
    bool ok = false;
    json_array_foreach(arr, i, v)
    {
        const char *o = json_string_value(v);
        ok = ok || (o && (sl_streq(o, "*") || sl_streq(o, origin)));
    }
    json_decref(arr);
    return ok ? origin : NULL;
}

/* The query's context as the SDKs send it: `userId=…&properties[plan]=pro`. */
static enum MHD_Result context_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
    (void)kind;
    json_t *ctx = cls;
    if (!value)
        return MHD_YES;
    size_t n = strlen(key);
    if (n > 12 && !strncmp(key, "properties[", 11) && key[n - 1] == ']') {
        json_t *props = json_object_get(ctx, "properties");
        if (!props) {
            props = json_object();
            json_object_set_new(ctx, "properties", props);
        }
        char *name = sl_xstrndup(key + 11, n - 12);
        if (json_object_size(props) < 1000)
            json_object_set_new(props, name, json_string(value));
        free(name);
    } else if (json_object_size(ctx) < 1000) {
        json_object_set_new(ctx, key, json_string(value));
    }
    return MHD_YES;
}

static json_t *toggle_json(const struct srv_flags_snapshot *snap, size_t i,
                           const struct sl_flags_variant *v)
{
    json_t *var = json_pack("{s:s,s:b,s:b}", "name", v->name, "enabled", v->enabled,
                            "feature_enabled", v->feature_enabled);
    if (v->payload_type)
        json_object_set_new(var, "payload",
                            json_pack("{s:s,s:s}", "type", v->payload_type, "value",
                                      v->payload_value ? v->payload_value : ""));
    return json_pack("{s:s,s:b,s:o,s:b}", "name", sl_flags_state_name(snap->state, i), "enabled", 1,
                     "variant", var, "impressionData",
                     sl_flags_state_impression_data(snap->state, i));
}

void sl_h_unleash_frontend(struct req *r)
{
    struct sl_store_flag_token t = {0};
    struct srv_flags_snapshot *snap = NULL;
    struct sl_error err = SL_ERROR_INIT;
    struct sl_flags_context_hold hold = {0};
    json_t *ctxj = NULL, *b = NULL;
    if (!unleash_auth(r, "frontend", &t))
        return;
    const char *origin = allowed_origin(r, &t);
    if (sl_streq(r->method, "POST")) {
        if (!(b = sl_body_json(r)))
            goto out;
        const json_t *c = json_object_get(b, "context");
        ctxj = json_is_object(c) ? json_incref((json_t *)c) : json_object();
    } else {
        ctxj = json_object();
        MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, context_arg, ctxj);
    }
    int rc = sl_srv_flags_snapshot_get(r->s, t.project_id, t.environment, &snap, &err);
    if (rc < 0) {
        sl_reply_sl_error(r, rc, &err);
        goto out;
    }
    /* exactly the given context: no sessionId is made up; the random state only serves
     * gradualRolloutRandom and `random` stickiness */
    uint64_t rng = 0;
    randombytes_buf(&rng, sizeof(rng));
    struct sl_flags_context ctx = {0};
    sl_flags_context_from_json(&ctx, &hold, ctxj);
    ctx.now_ms = sl_time_now_ms();
    ctx.rng = &rng;
    json_t *toggles = json_array();
    size_t n = sl_flags_state_count(snap->state);
    for (size_t i = 0; i < n; i++) {
        struct sl_flags_variant v;
        if (sl_flags_eval_at(snap->state, i, &ctx, &v))
            json_array_append_new(toggles, toggle_json(snap, i, &v));
    }
    json_t *doc = json_pack("{s:o}", "toggles", toggles);
    char *body = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
    char etag[48];
    sl_srv_flags_etag(body, strlen(body), etag);
    reply_body(r, 200, body, strlen(body), etag, origin);
    free(body);
    json_decref(doc);
out:
    sl_flags_context_hold_release(&hold);
    sl_srv_flags_snapshot_release(r->s, snap);
    sl_store_flag_token_release(&t);
    sl_error_release(&err);
    json_decref(ctxj);
    json_decref(b);
}

void sl_h_unleash_frontend_metrics(struct req *r)
{
    struct sl_store_flag_token t = {0};
    if (!unleash_auth(r, "frontend", &t))
        return;
    do_metrics(r, t.project_id, t.environment, 200, allowed_origin(r, &t));
    sl_store_flag_token_release(&t);
}

/* A browser's preflight carries no token, so it cannot be checked against one: it is
 * answered for any origin, and the real request's answer is readable only by its token's
 * allowed origins. */
void sl_h_unleash_frontend_preflight(struct req *r)
{
    const char *origin = sl_header_arg(r, "Origin");
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    if (origin) {
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        MHD_add_response_header(resp, "Access-Control-Allow-Methods", "GET, POST, OPTIONS");
        MHD_add_response_header(resp, "Access-Control-Allow-Headers",
                                "Authorization, Content-Type, If-None-Match, unleash-appname, "
                                "unleash-connection-id, unleash-sdk, x-unleash-connection-id, "
                                "x-unleash-sdk");
        MHD_add_response_header(resp, "Access-Control-Max-Age", "86400");
        MHD_add_response_header(resp, MHD_HTTP_HEADER_VARY, "Origin");
    }
    if (r->response)
        MHD_destroy_response(r->response);
    r->response = resp;
    r->status = 204;
}

/* ---- GitLab's endpoint ---- */

/* The environment R's application names (UNLEASH-APPNAME or app_name), once its instance id
 * (UNLEASH-INSTANCEID or instance_id) proved it is one of project {id}'s; NULL with R
 * answered otherwise, as GitLab answers (401). */
static const char *gitlab_auth(struct req *r)
{
    const char *inst = sl_header_arg(r, "UNLEASH-INSTANCEID");
    const char *app = sl_header_arg(r, "UNLEASH-APPNAME");
    struct sl_error err = SL_ERROR_INIT;
    int64_t pid = 0;
    if (!inst)
        inst = sl_query_arg(r, "instance_id");
    if (!app)
        app = sl_query_arg(r, "app_name");
    int rc = inst ? sl_store_flag_instance_project(r->s->st, inst, &pid, &err) : SL_ENOENT;
    sl_error_release(&err);
    if (rc == SL_ENOENT || (rc == 0 && pid != r->id)) {
        unleash_error(r, 401, "unauthorized", "401 Unauthorized");
        return NULL;
    }
    if (rc < 0) {
        sl_reply_sl_error(r, rc, NULL);
        return NULL;
    }
    if (!app || !*app || strlen(app) > SL_STORE_FLAG_NAME_MAX) {
        unleash_error(r, 400, "invalid",
                      "the application name (UNLEASH-APPNAME or app_name) names the environment");
        return NULL;
    }
    return app;
}

void sl_h_gitlab_unleash_features(struct req *r)
{
    const char *env = gitlab_auth(r);
    if (env)
        serve_features(r, r->id, env);
}

void sl_h_gitlab_unleash_register(struct req *r)
{
    if (gitlab_auth(r))
        do_register(r, 200);
}

void sl_h_gitlab_unleash_metrics(struct req *r)
{
    const char *env = gitlab_auth(r);
    if (env)
        do_metrics(r, r->id, env, 200, NULL);
}
