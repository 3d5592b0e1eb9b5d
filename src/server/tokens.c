/* tokens.c: API tokens over HTTP (admin): list, create (the secret is in that answer only),
 * revoke. The web UI's admin page uses these, as any client may. */
#include "base/compat.h"
#include "base/alloc.h"
#include "base/time.h"
#include "server/internal.h"

#include <microhttpd.h>
#include <sodium.h>

static json_t *when_json(int64_t ms)
{
    if (!ms)
        return json_null();
    char buf[40];
    sl_time_iso8601(ms, buf, sizeof(buf));
    return json_string(buf);
}

static json_t *token_json(const struct sl_store_token *t)
{
    bool expired = t->expires_at && t->expires_at <= sl_time_now_ms();
    return json_pack("{s:I,s:s,s:s,s:o,s:o,s:o,s:b,s:b,s:b}", "id", (json_int_t)t->id, "name",
                     t->name, "role", t->role, "created_at", when_json(t->created_at),
                     "last_used_at", when_json(t->last_used_at), "expires_at",
                     when_json(t->expires_at), "revoked", t->revoked, "expired", expired, "active",
                     !t->revoked && !expired);
}

/* The expiry a create body asks for: "expires_at" (ISO 8601: a date, as GitLab's tokens take
 * it, or a time) or "expires_in" (seconds, or a duration such as "30 days"); 0 for none.
 * Answers 400 and returns false when it cannot be read. */
static bool body_expiry(struct req *r, const json_t *b, int64_t *out)
{
    const json_t *at = json_object_get(b, "expires_at"), *in = json_object_get(b, "expires_in");
    int64_t secs = 0;
    *out = 0;
    if (at && in) {
        sl_reply_error(r, 400, "invalid", "give expires_at or expires_in, not both");
        return false;
    }
    if (at && !json_is_null(at)) {
        if (!json_is_string(at) || sl_time_parse_iso8601(json_string_value(at), out) < 0) {
            sl_reply_error(r, 400, "invalid",
                           "expires_at must be an ISO 8601 date or time (2026-12-31, "
                           "2026-12-31T08:00:00Z)");
            return false;
        }
    } else if (in && !json_is_null(in)) {
        if (json_is_integer(in) && json_integer_value(in) > 0 &&
            json_integer_value(in) < INT64_MAX / 1000 / 2)
            secs = json_integer_value(in);
        else if (!json_is_string(in) || sl_time_parse_duration(json_string_value(in), &secs) < 0) {
            sl_reply_error(r, 400, "invalid",
                           "expires_in must be a number of seconds or a duration (\"30 days\")");
            return false;
        }
        *out = sl_time_now_ms() + secs * 1000;
    }
    if (*out && *out <= sl_time_now_ms()) {
        sl_reply_error(r, 400, "invalid", "the expiry must be in the future");
        return false;
    }
    return true;
}

void sl_h_token_list(struct req *r)
{
    struct sl_store_page page = {0, SL_STORE_LIST_MAX, NULL};
    const char *after = sl_query_arg(r, "after");
    if (after) {
        char *end;
        page.after = strtoll(after, &end, 10);
        if (*end || page.after < 0) {
            sl_reply_error(r, 400, "invalid", "after must be an id");
            return;
        }
    }
    struct sl_store_token *ts = NULL;
    size_t n = 0;
    struct sl_error err = SL_ERROR_INIT;
    int rc = sl_store_token_list(r->s->st, &page, &ts, &n, &err);
    if (rc < 0) {
        sl_reply_sl_error(r, rc, &err);
    } else {
        json_t *a = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(a, token_json(&ts[i]));
        sl_reply_json(r, 200, a);
    }
    sl_store_tokens_free(ts, n);
    sl_error_release(&err);
}

void sl_h_token_create(struct req *r)
{
    json_t *b = sl_body_json(r);
    if (!b)
        return;
    const char *name = json_string_value(json_object_get(b, "name"));
    const char *role = json_string_value(json_object_get(b, "role"));
    char *secret = NULL;
    int64_t id = 0, expires_at = 0;
    struct sl_error err = SL_ERROR_INIT;
    if (!body_expiry(r, b, &expires_at)) {
        /* answered */
    } else if (!name || !*name || strlen(name) > 200) {
        sl_reply_error(r, 400, "invalid", "name is required (1 to 200 bytes)");
    } else if (sl_server_role_rank(role) < 0) {
        sl_reply_error(r, 400, "invalid", "role must be admin, maintainer, developer or viewer");
    } else {
        int rc = sl_store_token_create(r->s->st, name, role, sl_time_now_ms(), expires_at, &secret,
                                       &id, &err);
        if (rc < 0) {
            sl_reply_sl_error(r, rc, &err);
        } else {
            char target[48];
            snprintf(target, sizeof(target), "token:%lld", (long long)id);
            sl_audit(r, NULL, "token.create", target,
                     json_pack("{s:s,s:s}", "name", name, "role", role));
            json_t *o = json_pack("{s:I,s:s,s:s,s:s}", "id", (json_int_t)id, "name", name, "role",
                                  role, "token", secret);
            json_object_set_new(o, "expires_at", when_json(expires_at));
            sl_reply_json(r, 201, o);
        }
    }
    if (secret) {
        sodium_memzero(secret, strlen(secret));
        free(secret);
    }
    sl_error_release(&err);
    json_decref(b);
}

void sl_h_token_revoke(struct req *r)
{
    struct sl_error err = SL_ERROR_INIT;
    int rc = sl_store_token_revoke(r->s->st, r->id, &err);
    if (rc < 0) {
        sl_reply_sl_error(r, rc, &err);
    } else {
        char target[48];
        snprintf(target, sizeof(target), "token:%lld", (long long)r->id);
        sl_audit(r, NULL, "token.revoke", target, NULL);
        r->status = 204;
        sl_str_reset(&r->out);
    }
    sl_error_release(&err);
}

/* GET /api/v1/jobs/{id}/log/raw: the whole log as a download, read from the store in
 * pieces as the client takes it (a log may be far over one read's 4 MiB). */
struct raw_log {
    struct sl_store *st;
    int64_t job_id;
};

static ssize_t raw_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct raw_log *rl = cls;
    struct sl_str text = SL_STR_INIT;
    int64_t next = 0;
    if (max > SL_STORE_LOG_READ_MAX)
        max = SL_STORE_LOG_READ_MAX;
    if (sl_store_log_read(rl->st, rl->job_id, (int64_t)pos, max, &text, &next, NULL) < 0) {
        sl_str_release(&text);
        return MHD_CONTENT_READER_END_WITH_ERROR;
    }
    ssize_t n = (ssize_t)text.len;
    if (n == 0) {
        sl_str_release(&text);
        return MHD_CONTENT_READER_END_OF_STREAM;
    }
    memcpy(buf, text.buf, text.len);
    sl_str_release(&text);
    return n;
}

void sl_h_job_log_raw(struct req *r)
{
    struct sl_store_job j = {0};
    struct sl_error err = SL_ERROR_INIT;
    int64_t size = 0;
    int rc = sl_store_job_get(r->s->st, r->id, &j, &err);
    if (rc == 0)
        rc = sl_store_log_size(r->s->st, r->id, &size, &err);
    if (rc < 0) {
        sl_reply_sl_error(r, rc, &err);
    } else {
        struct raw_log *rl = sl_xcalloc(1, sizeof(*rl));
        rl->st = r->s->st;
        rl->job_id = r->id;
        /* the size now: a running job's log grows, the download is what it held */
        r->response =
            MHD_create_response_from_callback((uint64_t)size, 256 * 1024, raw_read, rl, free);
        MHD_add_response_header(r->response, MHD_HTTP_HEADER_CONTENT_TYPE,
                                "text/plain; charset=utf-8");
        char cd[96];
        snprintf(cd, sizeof(cd), "attachment; filename=\"job-%lld.log\"", (long long)r->id);
        MHD_add_response_header(r->response, "Content-Disposition", cd);
        r->status = 200;
    }
    sl_store_job_release(&j);
    sl_error_release(&err);
}
