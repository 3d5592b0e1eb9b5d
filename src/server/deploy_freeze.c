/* deploy_freeze.c: deploy freeze periods over HTTP (GitLab's freeze_periods API) and the
 * question pipeline creation asks: is the project in a freeze now? Then the pipeline gets
 * CI_DEPLOY_FREEZE=true, so its jobs can refuse to deploy (rules: - if: $CI_DEPLOY_FREEZE).
 *
 * A period is active as GitLab's Ci::FreezePeriod#active? decides it: take the next time
 * FREEZE_END happens after now, and the last time FREEZE_START happened before that end;
 * the period is active when that start is not in the future. */
#include "base/compat.h"
#include "base/cron.h"
#include "base/log.h"
#include "base/time.h"
#include "server/internal.h"

/* Whether F is active at NOW (UTC seconds); false (with ERR) when F cannot be read. */
static int period_active(const struct sl_store_freeze_period *f, int64_t now, bool *out,
                         struct sl_error *err)
{
    struct sl_cron start, end;
    struct sl_tz *tz = NULL;
    int rc;
    if ((rc = sl_cron_parse(&start, f->freeze_start, err)) < 0 ||
        (rc = sl_cron_parse(&end, f->freeze_end, err)) < 0 ||
        (rc = sl_tz_load(&tz, f->cron_timezone, err)) < 0)
        return rc;
    int64_t next_end = sl_cron_next(&end, tz, now);
    int64_t last_start = next_end < 0 ? -1 : sl_cron_prev(&start, tz, next_end);
    *out = last_start >= 0 && last_start <= now;
    sl_tz_free(tz);
    return 0;
}

int sl_srv_deploy_frozen(struct sl_server *s, int64_t project_id, int64_t now_ms, bool *out,
                         struct sl_error *err)
{
    struct sl_store_freeze_period *fs = NULL;
    size_t n = 0;
    int rc = sl_store_freeze_period_list(s->st, project_id, &fs, &n, err);
    *out = false;
    for (size_t i = 0; rc == 0 && i < n && !*out; i++) {
        /* a row the API accepted stays readable; if the system's zones changed, say so */
        struct sl_error perr = SL_ERROR_INIT;
        if (period_active(&fs[i], now_ms / 1000, out, &perr) < 0)
            sl_log(SL_LOG_WARN, "a freeze period cannot be read", "error", sl_error_format(&perr),
                   NULL);
        sl_error_release(&perr);
    }
    sl_store_freeze_periods_free(fs, n);
    return rc;
}

static json_t *period_json(const struct sl_store_freeze_period *f)
{
    json_t *o =
        json_pack("{s:I,s:s,s:s,s:s}", "id", (json_int_t)f->id, "freeze_start", f->freeze_start,
                  "freeze_end", f->freeze_end, "cron_timezone", f->cron_timezone);
    json_object_set_new(o, "created_at", sl_srv_time_json(f->created_at));
    json_object_set_new(o, "updated_at", sl_srv_time_json(f->updated_at));
    return o;
}

/* Applies body B to F (strings borrowed from B) and checks the result; answers 400 naming
 * the field and returns false when it is wrong. */
static bool period_fields(struct req *r, json_t *b, struct sl_store_freeze_period *f)
{
    const char *k;
    json_t *x;
    json_object_foreach(b, k, x)
    {
        char **dst = !strcmp(k, "freeze_start")    ? &f->freeze_start
                     : !strcmp(k, "freeze_end")    ? &f->freeze_end
                     : !strcmp(k, "cron_timezone") ? &f->cron_timezone
                                                   : NULL;
        if (!dst || !json_is_string(x)) {
            sl_reply_error(r, 400, "invalid",
                           "'%s': expected \"freeze_start\", \"freeze_end\" (cron expressions) and "
                           "\"cron_timezone\" (strings)",
                           k);
            return false;
        }
        *dst = (char *)json_string_value(x);
    }
    struct sl_error err = SL_ERROR_INIT;
    struct sl_cron c;
    struct sl_tz *tz = NULL;
    const char *bad = !f->freeze_start                               ? "freeze_start"
                      : !f->freeze_end                               ? "freeze_end"
                      : sl_cron_parse(&c, f->freeze_start, &err) < 0 ? "freeze_start"
                      : sl_cron_parse(&c, f->freeze_end, &err) < 0   ? "freeze_end"
                      : sl_tz_load(&tz, f->cron_timezone ? f->cron_timezone : "UTC", &err) < 0
                          ? "cron_timezone"
                          : NULL;
    if (bad)
        sl_reply_error(r, 400, "invalid", "%s is invalid: %s", bad,
                       err.message ? sl_error_format(&err) : "it is required");
    sl_tz_free(tz);
    sl_error_release(&err);
    return !bad;
}

void sl_h_freeze_period_create(struct req *r)
{
    struct sl_error err = SL_ERROR_INIT;
    struct sl_store_project proj = {0};
    json_t *b = sl_body_json(r);
    if (!b)
        return;
    struct sl_store_freeze_period f = {.project_id = r->id};
    int rc = sl_store_project_get(r->s->st, r->id, &proj, &err);
    if (rc < 0) {
        sl_reply_sl_error(r, rc, &err);
    } else if (period_fields(r, b, &f)) {
        if (!f.cron_timezone)
            f.cron_timezone = (char *)"UTC";
        if ((rc = sl_store_freeze_period_create(r->s->st, &f, sl_time_now_ms(), &f.id, &err)) < 0) {
            sl_reply_sl_error(r, rc, &err);
        } else {
            sl_srv_audit_on(r, "freeze_period.create", "freeze_period", f.id);
            f.created_at = f.updated_at = sl_time_now_ms();
            sl_reply_json(r, 201, period_json(&f));
        }
    }
    sl_store_project_release(&proj);
    json_decref(b);
    sl_error_release(&err);
}

void sl_h_freeze_period_list(struct req *r)
{
    struct sl_error err = SL_ERROR_INIT;
    struct sl_store_project proj = {0};
    struct sl_store_freeze_period *fs = NULL;
    size_t n = 0;
    int rc = sl_store_project_get(r->s->st, r->id, &proj, &err);
    if (rc == 0)
        rc = sl_store_freeze_period_list(r->s->st, r->id, &fs, &n, &err);
    if (rc < 0) {
        sl_reply_sl_error(r, rc, &err);
    } else {
        json_t *a = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(a, period_json(&fs[i]));
        sl_reply_json(r, 200, a);
    }
    sl_store_freeze_periods_free(fs, n);
    sl_store_project_release(&proj);
    sl_error_release(&err);
}

void sl_h_freeze_period_get(struct req *r)
{
    struct sl_error err = SL_ERROR_INIT;
    struct sl_store_freeze_period f = {0};
    int rc = sl_store_freeze_period_get(r->s->st, r->id, &f, &err);
    if (rc < 0)
        sl_reply_sl_error(r, rc, &err);
    else
        sl_reply_json(r, 200, period_json(&f));
    sl_store_freeze_period_release(&f);
    sl_error_release(&err);
}

void sl_h_freeze_period_update(struct req *r)
{
    struct sl_error err = SL_ERROR_INIT;
    struct sl_store_freeze_period cur = {0};
    json_t *b = sl_body_json(r);
    if (!b)
        return;
    int rc = sl_store_freeze_period_get(r->s->st, r->id, &cur, &err);
    if (rc < 0) {
        sl_reply_sl_error(r, rc, &err);
    } else {
        struct sl_store_freeze_period f = cur; /* CUR's strings, B's where the body says */
        if (period_fields(r, b, &f)) {
            if ((rc = sl_store_freeze_period_update(r->s->st, &f, sl_time_now_ms(), &err)) < 0) {
                sl_reply_sl_error(r, rc, &err);
            } else {
                sl_srv_audit_on(r, "freeze_period.update", "freeze_period", f.id);
                f.updated_at = sl_time_now_ms();
                sl_reply_json(r, 200, period_json(&f));
            }
        }
    }
    sl_store_freeze_period_release(&cur);
    json_decref(b);
    sl_error_release(&err);
}

void sl_h_freeze_period_delete(struct req *r)
{
    struct sl_error err = SL_ERROR_INIT;
    int rc = sl_store_freeze_period_delete(r->s->st, r->id, &err);
    if (rc < 0) {
        sl_reply_sl_error(r, rc, &err);
    } else {
        sl_srv_audit_on(r, "freeze_period.delete", "freeze_period", r->id);
        r->status = 204;
    }
    sl_error_release(&err);
}
