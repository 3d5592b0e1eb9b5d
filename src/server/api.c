/* api.c: the route table and its handlers (docs/api.md documents each one). */
#include "base/compat.h"
#include "base/alloc.h"
#include "base/log.h"
#include "base/diag.h"
#include "base/jsonw.h"
#include "base/time.h"
#include "config/config.h"
#include "server/flags_api.h"
#include "server/internal.h"
#include "server/runner.h"

#include <sodium.h>

#define ISO(ms, buf) (sl_time_iso8601((ms), (buf), sizeof(buf)), (buf))

static json_t *time_json(int64_t ms)
{
    if (!ms)
        return json_null();
    char buf[40];
    return json_string(ISO(ms, buf));
}

static json_t *str_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

/* An sl_audit event of the request's token on KIND:ID. */
static void audit_on(struct req *r, const char *action, const char *kind, int64_t id)
{
    char target[64];
    snprintf(target, sizeof(target), "%s:%lld", kind, (long long)id);
    sl_audit(r, NULL, action, target, NULL);
}

json_t *sl_srv_time_json(int64_t ms)
{
    return time_json(ms);
}

void sl_srv_audit_on(struct req *r, const char *action, const char *kind, int64_t id)
{
    audit_on(r, action, kind, id);
}

/* --- operations ----------------------------------------------------------------------- */

static void h_healthz(struct req *r)
{
    sl_reply_json(r, 200, json_pack("{s:s}", "status", "ok"));
}

static void h_readyz(struct req *r)
{
    struct sl_error err = SL_ERROR_INIT;
    int v = 0;
    if (sl_store_ping(r->s->st, &err) < 0 || sl_store_schema_version(r->s->st, &v, &err) < 0) {
        sl_reply_error(r, 503, "not_ready", "store: %s", sl_error_format(&err));
    } else if (v != sl_store_latest_version()) {
        sl_reply_error(r, 503, "not_ready", "schema version %d, this binary needs %d", v,
                       sl_store_latest_version());
    } else {
        sl_reply_json(r, 200,
                      json_pack("{s:s,s:s,s:i}", "status", "ready", "store",
                                sl_store_backend(r->s->st), "schema_version", v));
    }
    sl_error_release(&err);
}

static void h_metrics(struct req *r)
{
    sl_str_reset(&r->out);
    sl_metrics_render(r->s, &r->out);
    r->status = 200;
    r->content_type = "text/plain; version=0.0.4";
}

/* --- projects ----------------------------------------------------------------------- */

static json_t *project_json(const struct sl_store_project *p)
{
    return json_pack("{s:I,s:s,s:s,s:s,s:i,s:b,s:b,s:b,s:o}", "id", (json_int_t)p->id, "name",
                     p->name, "repo_url", p->repo_url, "default_branch", p->default_branch,
                     "poll_interval_s", p->poll_interval_s, "webhook_secret_set",
                     p->webhook_secret && *p->webhook_secret, "ci_forward_deployment_enabled",
                     !p->outdated_deployments_allowed, "fork_pipelines_need_approval",
                     p->fork_pipelines_need_approval, "created_at", time_json(p->created_at));
}

static bool repo_url_ok(const char *u)
{
    return u[0] == '/' || sl_starts_with(u, "file://") || sl_starts_with(u, "https://") ||
           sl_starts_with(u, "http://") || sl_starts_with(u, "ssh://") ||
           sl_starts_with(u, "git://") || strchr(u, '@');
}

/* A webhook secret for a project created without one: 32 random bytes as hex. */
static char *new_webhook_secret(void)
{
    unsigned char raw[32];
    char hex[2 * sizeof(raw) + 1];
    randombytes_buf(raw, sizeof(raw));
    sodium_bin2hex(hex, sizeof(hex), raw, sizeof(raw));
    return sl_xstrdup(hex);
}

/* Applies the fields of body B to P (strings borrowed from B), answering 400 naming the
 * first field that is unknown or wrong and returning false then. CREATE: name and repo_url
 * are required. */
static bool project_fields(struct req *r, json_t *b, struct sl_store_project *p, bool create)
{
    const char *k;
    json_t *x;
    json_object_foreach(b, k, x)
    {
        const char *s = json_string_value(x);
        if (!strcmp(k, "name")) {
            if (!s || !*s || strlen(s) > 200) {
                sl_reply_error(r, 400, "invalid", "name must be a string of 1 to 200 bytes");
                return false;
            }
            p->name = (char *)s;
        } else if (!strcmp(k, "repo_url")) {
            if (!s || !*s || strlen(s) > 4096 || !repo_url_ok(s)) {
                sl_reply_error(r, 400, "invalid",
                               "repo_url must be an absolute path or a file://, https://, "
                               "git:// or ssh URL");
                return false;
            }
            /* a repository that cannot be read is refused now, not at the first pipeline
             * (sl_srv_repo_check; a remote is asked for its refs, waiting 10 s at most) */
            struct sl_error rerr = SL_ERROR_INIT;
            int rc = sl_srv_repo_check(s, &rerr);
            if (rc == SL_EBUSY) {
                sl_reply_header(r, "Retry-After", "5");
                sl_reply_error(r, 503, "busy", "%s", sl_error_format(&rerr));
            } else if (rc < 0) {
                sl_reply_error(r, 400, "invalid", "repo_url cannot be read: %s",
                               sl_error_format(&rerr));
            }
            sl_error_release(&rerr);
            if (rc < 0)
                return false;
            p->repo_url = (char *)s;
        } else if (!strcmp(k, "default_branch")) {
            if (!s || !*s || strlen(s) > 255) {
                sl_reply_error(r, 400, "invalid", "default_branch must be a branch name");
                return false;
            }
            p->default_branch = (char *)s;
        } else if (!strcmp(k, "webhook_secret")) {
            if (!s || !*s || strlen(s) > 256) {
                sl_reply_error(r, 400, "invalid",
                               "webhook_secret must be a string of 1 to 256 bytes");
                return false;
            }
            p->webhook_secret = (char *)s;
        } else if (!strcmp(k, "poll_interval_s")) {
            if (!json_is_integer(x) || json_integer_value(x) < 0 ||
                json_integer_value(x) > SRV_POLL_MAX_S) {
                sl_reply_error(r, 400, "invalid",
                               "poll_interval_s must be 0 (no polling) to %d seconds",
                               SRV_POLL_MAX_S);
                return false;
            }
            p->poll_interval_s = (int)json_integer_value(x);
        } else if (!strcmp(k, "ci_forward_deployment_enabled")) {
            if (!json_is_boolean(x)) {
                sl_reply_error(r, 400, "invalid",
                               "ci_forward_deployment_enabled must be true or false");
                return false;
            }
            p->outdated_deployments_allowed = !json_is_true(x);
        } else if (!strcmp(k, "fork_pipelines_need_approval")) {
            if (!json_is_boolean(x)) {
                sl_reply_error(r, 400, "invalid",
                               "fork_pipelines_need_approval must be true or false");
                return false;
            }
            p->fork_pipelines_need_approval = json_is_true(x);
        } /* no other field gets here (validate.c) */
    }
    if (create && (!p->name || !p->repo_url)) {
        sl_reply_error(r, 400, "invalid", "name and repo_url are required strings");
        return false;
    }
    return true;
}

static void h_project_create(struct req *r)
{
    json_t *b = sl_body_json(r);
    if (!b)
        return;
    char *made = NULL;
    struct sl_store_project p = {0};
    if (project_fields(r, b, &p, true)) {
        if (!p.default_branch)
            p.default_branch = (char *)"main";
        /* Without a secret the project's webhooks could never verify: make one, shown in
         * this answer only, as the admin token is. */
        if (!p.webhook_secret)
            p.webhook_secret = made = new_webhook_secret();
        struct sl_error err = SL_ERROR_INIT;
        int64_t id;
        int rc = sl_store_project_create(r->s->st, &p, sl_time_now_ms(), &id, &err);
        struct sl_store_project got = {0};
        if (rc == 0)
            rc = sl_store_project_get(r->s->st, id, &got, &err);
        if (rc < 0) {
            sl_reply_sl_error(r, rc, &err);
        } else {
            char target[48];
            snprintf(target, sizeof(target), "project:%lld", (long long)id);
            sl_audit(r, NULL, "project.create", target, json_pack("{s:s}", "name", p.name));
            if (p.poll_interval_s > 0)
                sl_srv_poller_wake(r->s);
            json_t *o = project_json(&got);
            if (made)
                json_object_set_new(o, "webhook_secret", json_string(made));
            sl_reply_json(r, 201, o);
        }
        sl_store_project_release(&got);
        sl_error_release(&err);
    }
    if (made)
        sodium_memzero(made, strlen(made));
    free(made);
    json_decref(b);
}

/* PUT /api/v1/projects/{id}: changes the fields the body names, the others stay. */
static void h_project_update(struct req *r)
{
    struct sl_store_project cur = {0};
    struct sl_error err = SL_ERROR_INIT;
    json_t *b = sl_body_json(r);
    if (!b)
        return;
    int rc = sl_store_project_get(r->s->st, r->id, &cur, &err);
    if (rc < 0) {
        sl_reply_sl_error(r, rc, &err);
        goto out;
    }
    struct sl_store_project p = cur; /* borrows CUR's strings, B's where the body says */
    if (!project_fields(r, b, &p, false))
        goto out;
    if ((rc = sl_store_project_update(r->s->st, &p, &err)) < 0) {
        sl_reply_sl_error(r, rc, &err);
        goto out;
    }
    char target[48];
    snprintf(target, sizeof(target), "project:%lld", (long long)r->id);
    json_t *fields = json_array();
    const char *k;
    json_t *x;
    json_object_foreach(b, k, x) json_array_append_new(fields, json_string(k));
    sl_audit(r, NULL, "project.update", target, json_pack("{s:o}", "fields", fields));
    if (p.poll_interval_s > 0)
        sl_srv_poller_wake(r->s);
    struct sl_store_project got = {0};
    if ((rc = sl_store_project_get(r->s->st, r->id, &got, &err)) < 0)
        sl_reply_sl_error(r, rc, &err);
    else
        sl_reply_json(r, 200, project_json(&got));
    sl_store_project_release(&got);
out:
    sl_store_project_release(&cur);
    sl_error_release(&err);
    json_decref(b);
}

/* ?after=N&limit=N as a page; false (and 400) when malformed. */
static bool page_args(struct req *r, struct sl_store_page *page)
{
    const char *after = sl_query_arg(r, "after"), *limit = sl_query_arg(r, "limit");
    char *end;
    page->after = 0;
    page->limit = SL_STORE_LIST_MAX;
    if (after) {
        page->after = strtoll(after, &end, 10);
        if (*end || page->after < 0) {
            sl_reply_error(r, 400, "invalid", "after must be an id");
            return false;
        }
    }
    if (limit) {
        long l = strtol(limit, &end, 10);
        if (*end || l < 1 || l > SL_STORE_LIST_MAX) {
            sl_reply_error(r, 400, "invalid", "limit must be 1 to %d", SL_STORE_LIST_MAX);
            return false;
        }
        page->limit = (int)l;
    }
    return true;
}

bool sl_srv_page_args(struct req *r, struct sl_store_page *page)
{
    return page_args(r, page);
}

static void h_project_list(struct req *r)
{
    struct sl_store_page page;
    if (!page_args(r, &page))
        return;
    struct sl_store_project *ps = NULL;
    size_t n = 0;
    struct sl_error err = SL_ERROR_INIT;
    int rc = sl_store_project_list(r->s->st, &page, &ps, &n, &err);
    if (rc < 0) {
        sl_reply_sl_error(r, rc, &err);
    } else {
        json_t *a = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(a, project_json(&ps[i]));
        sl_reply_json(r, 200, a);
    }
    sl_store_projects_free(ps, n);
    sl_error_release(&err);
}

static void h_project_get(struct req *r)
{
    struct sl_store_project p = {0};
    struct sl_error err = SL_ERROR_INIT;
    int rc = sl_store_project_get(r->s->st, r->id, &p, &err);
    if (rc < 0)
        sl_reply_sl_error(r, rc, &err);
    else
        sl_reply_json(r, 200, project_json(&p));
    sl_store_project_release(&p);
    sl_error_release(&err);
}

static void h_project_delete(struct req *r)
{
    struct sl_error err = SL_ERROR_INIT;
    int rc = sl_srv_project_delete(r->s, r->id, &err);
    if (rc < 0) {
        sl_reply_sl_error(r, rc, &err);
    } else {
        char target[48];
        snprintf(target, sizeof(target), "project:%lld", (long long)r->id);
        sl_audit(r, NULL, "project.delete", target, NULL);
        r->status = 204;
        sl_str_reset(&r->out);
    }
    sl_error_release(&err);
}

/* --- pipelines ------------------------------------------------------------------------ */

/* The answers of the hot routes (a pipeline's GET and POST, the pipeline list) are written
 * as text (base/jsonw.h) instead of built as jansson trees and dumped: the tree's
 * allocations, its hashing and its dump were most of the work of a pipeline's GET. The few
 * callers that want a tree (a job's GET, which adds to it; the webhook's answer) read the
 * text back, so each shape is written in one place. */

/* JSON read back from W's text (an object, as the writers below write one). */
static json_t *json_of_text(const struct sl_str *text)
{
    json_t *o = json_loadb(text->buf, text->len, 0, NULL);
    return o ? o : json_object();
}

static void time_w(struct sl_jsonw *w, const char *key, int64_t ms)
{
    sl_jsonw_key(w, key);
    if (!ms) {
        sl_jsonw_null(w);
        return;
    }
    char buf[40];
    sl_jsonw_str(w, ISO(ms, buf));
}

/* P's members, in an object W has open. */
static void pipeline_members_w(struct sl_jsonw *w, const struct sl_store_pipeline *p)
{
    sl_jsonw_kint(w, "id", p->id);
    sl_jsonw_kint(w, "project_id", p->project_id);
    sl_jsonw_kint(w, "iid", p->iid);
    sl_jsonw_kstr(w, "status", p->status);
    sl_jsonw_kstr(w, "ref", p->ref);
    sl_jsonw_kbool(w, "tag", p->is_tag);
    sl_jsonw_kstr(w, "sha", p->sha ? p->sha : "");
    sl_jsonw_kstr(w, "source", p->source ? p->source : "");
    time_w(w, "created_at", p->created_at);
    time_w(w, "started_at", p->started_at);
    time_w(w, "finished_at", p->finished_at);
    if (p->error_message)
        sl_jsonw_kstr(w, "error_message", p->error_message);
    if (p->yaml_errors) { /* stored as JSON; as its text when it is not */
        json_t *ye = json_loads(p->yaml_errors, 0, NULL);
        char *text = ye ? json_dumps(ye, SL_SRV_JSON_DUMP_FLAGS) : NULL;
        sl_jsonw_key(w, "yaml_errors");
        if (text)
            sl_jsonw_raw(w, text, strlen(text));
        else
            sl_jsonw_str(w, p->yaml_errors);
        free(text);
        json_decref(ye);
    }
    if (p->parent_pipeline_id) {
        sl_jsonw_kint(w, "parent_pipeline_id", p->parent_pipeline_id);
        sl_jsonw_kint(w, "parent_job_id", p->parent_job_id);
    }
    if (p->merge_request_iid)
        sl_jsonw_kint(w, "merge_request_iid", p->merge_request_iid);
    if (p->source_sha) { /* a merged results pipeline: SHA is the forge's merge */
        sl_jsonw_kstr(w, "source_sha", p->source_sha);
        sl_jsonw_kstr(w, "target_sha", p->target_sha);
    }
    /* a fork's pipeline held for a maintainer (docs/merge-requests.md "Forks") */
    sl_jsonw_kbool(w, "waits_for_approval", p->hold_reason != NULL && !p->finished_at);
    if (p->hold_reason)
        sl_jsonw_kstr(w, "hold_reason", p->hold_reason);
    if (p->approved_by) {
        sl_jsonw_kstr(w, "approved_by", p->approved_by);
        time_w(w, "approved_at", p->approved_at);
    }
}

void sl_srv_pipeline_w(struct sl_jsonw *w, const struct sl_store_pipeline *p)
{
    sl_jsonw_obj(w);
    pipeline_members_w(w, p);
    sl_jsonw_end_obj(w);
}

json_t *sl_pipeline_json(const struct sl_store_pipeline *p)
{
    struct sl_str text = SL_STR_INIT;
    struct sl_jsonw w;
    sl_jsonw_init_compact(&w, &text);
    sl_srv_pipeline_w(&w, p);
    json_t *o = json_of_text(&text);
    sl_str_release(&text);
    return o;
}

static double duration_s(const struct sl_store_job *j)
{
    if (!j->started_at)
        return -1;
    int64_t end = j->finished_at ? j->finished_at : sl_time_now_ms();
    return (double)(end - j->started_at) / 1000.0;
}

/* allow_failure as GitLab answers it (Ci::Build#allow_failure?): with
 * allow_failure:exit_codes, a job that failed with another exit code was not allowed to
 * fail, as the pipeline's status and sluice run's summary say. */
static bool allowed_to_fail(const struct sl_store_job *j)
{
    if (!j->allow_failure || !j->spec || !j->has_exit_code || strcmp(j->status, "failed"))
        return j->allow_failure;
    json_t *spec = sl_srv_stored_json(j->spec, JSON_OBJECT, "job spec", j->id);
    json_t *codes = json_object_get(spec, "allow_exit_codes");
    bool ok = json_array_size(codes) == 0;
    for (size_t i = 0; !ok && i < json_array_size(codes); i++)
        ok = json_integer_value(json_array_get(codes, i)) == j->exit_code;
    json_decref(spec);
    return ok;
}

/* Job J as the API shows it, its needs and approval from its parsed view V (NULL: its spec
 * does not read); FULL as GET /jobs/{id} shows it (J then has its spec). */
static void job_w(struct sl_jsonw *w, const struct sl_store_job *j, const struct srv_spec_view *v,
                  bool full)
{
    sl_jsonw_obj(w);
    sl_jsonw_kint(w, "id", j->id);
    sl_jsonw_kstr(w, "name", j->name);
    sl_jsonw_kstr(w, "stage", j->stage);
    sl_jsonw_kstr(w, "status", sl_srv_job_status_shown(j));
    double d = duration_s(j);
    sl_jsonw_key(w, "duration_s");
    if (d < 0)
        sl_jsonw_null(w);
    else
        sl_jsonw_real(w, d, 6);
    sl_jsonw_kstr(w, "failure_reason", j->failure_reason);
    /* GitLab's: an attempt a later one replaced (listed only with ?include_retried=true) */
    sl_jsonw_kbool(w, "retried", j->retried);
    /* what the UI draws: the needs graph (positions of the pipeline's jobs) and why a job
     * waits */
    sl_jsonw_kint(w, "position", j->position);
    sl_jsonw_kstr(w, "when", j->when ? j->when : "on_success");
    time_w(w, "due_at", j->due_at);
    sl_jsonw_key(w, "needs");
    sl_jsonw_arr(w);
    for (size_t i = 0; v && i < v->sched.nneeds; i++)
        sl_jsonw_int(w, (long long)v->sched.needs[i]);
    sl_jsonw_end_arr(w);
    /* a protected environment's deployment job waits for its approvals, not for a play */
    sl_jsonw_kbool(w, "waits_for_approval",
                   !strcmp(j->status, "manual") && v && v->deployment_approval);
    if (full) {
        /* the names of the job's variables, never their values (which may be secrets) */
        json_t *spec = sl_srv_stored_json(j->spec, JSON_OBJECT, "job spec", j->id);
        json_t *vars = json_object_get(spec, "variables"), *var;
        size_t i;
        sl_jsonw_key(w, "variables");
        sl_jsonw_arr(w);
        json_array_foreach(vars, i, var)
        {
            json_t *k = json_object_get(var, "key"); /* exec/jobjson's variables */
            if (json_is_string(k))
                sl_jsonw_str(w, json_string_value(k));
        }
        sl_jsonw_end_arr(w);
        json_decref(spec);
        sl_jsonw_kint(w, "pipeline_id", j->pipeline_id);
        sl_jsonw_kbool(w, "allow_failure", allowed_to_fail(j));
        sl_jsonw_kint(w, "attempt", j->attempt);
        sl_jsonw_key(w, "exit_code");
        if (j->has_exit_code)
            sl_jsonw_int(w, j->exit_code);
        else
            sl_jsonw_null(w);
        sl_jsonw_key(w, "coverage");
        if (j->has_coverage)
            sl_jsonw_real(w, j->coverage, 6);
        else
            sl_jsonw_null(w);
        time_w(w, "created_at", j->created_at);
        time_w(w, "queued_at", j->queued_at);
        time_w(w, "started_at", j->started_at);
        time_w(w, "finished_at", j->finished_at);
        sl_jsonw_kstr(w, "runner", j->runner_id);
    }
    sl_jsonw_end_obj(w);
}

json_t *sl_srv_job_json(struct sl_server *s, const struct sl_store_job *j, bool full)
{
    /* the needs and the approval from the job's parsed view (spec_view.c) */
    struct srv_spec_view v;
    bool have = sl_srv_spec_view_get(s->spec_views, j->id, j->spec, &v, NULL) == 0;
    struct sl_str text = SL_STR_INIT;
    struct sl_jsonw w;
    sl_jsonw_init_compact(&w, &text);
    job_w(&w, j, have ? &v : NULL, full);
    if (have)
        sl_srv_spec_view_release(&v);
    json_t *o = json_of_text(&text);
    sl_str_release(&text);
    return o;
}

/* A pipeline's jobs and their parsed views (HAVE[i]: job i's view is VIEWS[i]; a spec that
 * does not read has none). */
struct pipeline_jobs {
    struct sl_store_job *jobs;
    size_t n;
    struct srv_spec_view *views;
    bool *have;
};

static void pipeline_jobs_release(struct pipeline_jobs *pj)
{
    for (size_t i = 0; i < pj->n; i++)
        if (pj->have[i])
            sl_srv_spec_view_release(&pj->views[i]);
    free(pj->views);
    free(pj->have);
    sl_store_jobs_free(pj->jobs, pj->n);
    memset(pj, 0, sizeof(*pj));
}

/* Pipeline ID's jobs (RETRIED: every attempt) with their views. The newest attempts are
 * read without their specs: a pipeline's GET, polled by the UI and by clients, needs only
 * the views, cached once its jobs were seen (spec_view.c); the specs are read, all at once,
 * only when a view is not cached. */
static int pipeline_jobs_read(struct sl_server *s, int64_t id, bool retried,
                              struct pipeline_jobs *pj, struct sl_error *err)
{
    memset(pj, 0, sizeof(*pj));
    int rc = retried ? sl_store_job_list_attempts(s->st, id, &pj->jobs, &pj->n, err)
                     : sl_store_job_list_by_pipeline_no_spec(s->st, id, &pj->jobs, &pj->n, err);
    if (rc < 0)
        return rc;
    pj->views = sl_xcalloc(pj->n ? pj->n : 1, sizeof(*pj->views));
    pj->have = sl_xcalloc(pj->n ? pj->n : 1, sizeof(*pj->have));
    bool all = true;
    for (size_t i = 0; !retried && i < pj->n; i++)
        all =
            (pj->have[i] = sl_srv_spec_view_cached(s->spec_views, pj->jobs[i].id, &pj->views[i])) &&
            all;
    if (retried || all)
        goto views;
    pipeline_jobs_release(pj);
    if ((rc = sl_store_job_list_by_pipeline(s->st, id, &pj->jobs, &pj->n, err)) < 0)
        return rc;
    pj->views = sl_xcalloc(pj->n ? pj->n : 1, sizeof(*pj->views));
    pj->have = sl_xcalloc(pj->n ? pj->n : 1, sizeof(*pj->have));
views:
    for (size_t i = 0; i < pj->n; i++)
        if (!pj->have[i])
            pj->have[i] = pj->jobs[i].spec &&
                          sl_srv_spec_view_get(s->spec_views, pj->jobs[i].id, pj->jobs[i].spec,
                                               &pj->views[i], NULL) == 0;
    return 0;
}

/* Whether a pipeline with jobs PJ may have downstream pipelines: only its bridge jobs make
 * them (bridge.c), and every attempt of a job has its spec, so a pipeline without a
 * `trigger:` job has none and its answer needs no query for them. True when a spec does
 * not read (the query then says). */
static bool may_have_downstream(const struct pipeline_jobs *pj)
{
    for (size_t i = 0; i < pj->n; i++)
        if (!pj->have[i] || pj->views[i].bridge || pj->views[i].bridge_declared)
            return true;
    return false;
}

/* Answers pipeline P (read by the caller, who releases it) with its jobs. */
static void reply_pipeline_of(struct req *r, int status, struct sl_store_pipeline *p)
{
    struct pipeline_jobs pj;
    struct sl_error err = SL_ERROR_INIT;
    int64_t id = p->id;
    /* each attempt is a job of its own: the retried ones only when asked, as in GitLab */
    const char *ir = sl_query_arg(r, "include_retried");
    bool retried = ir && !strcmp(ir, "true");
    int rc = pipeline_jobs_read(r->s, id, retried, &pj, &err);
    if (rc < 0) {
        sl_reply_sl_error(r, rc, &err);
        sl_error_release(&err);
        return;
    }
    struct sl_jsonw w;
    sl_jsonw_init_compact(&w, sl_reply_json_begin(r));
    sl_jsonw_obj(&w);
    pipeline_members_w(&w, p);
    sl_jsonw_key(&w, "jobs");
    sl_jsonw_arr(&w);
    for (size_t i = 0; i < pj.n; i++)
        job_w(&w, &pj.jobs[i], pj.have[i] ? &pj.views[i] : NULL, false);
    sl_jsonw_end_arr(&w);
    /* the pipelines its bridge jobs made (child and multi-project) */
    struct sl_store_pipeline *ds = NULL;
    size_t nds = 0;
    sl_jsonw_key(&w, "downstream");
    sl_jsonw_arr(&w);
    if (may_have_downstream(&pj) &&
        sl_store_pipeline_downstream(r->s->st, id, &ds, &nds, NULL) == 0)
        for (size_t i = 0; i < nds; i++)
            sl_srv_pipeline_w(&w, &ds[i]);
    sl_store_pipelines_free(ds, nds);
    sl_jsonw_end_arr(&w);
    sl_jsonw_end_obj(&w);
    sl_reply_json_end(r, status);
    pipeline_jobs_release(&pj);
    sl_error_release(&err);
}

static void reply_pipeline(struct req *r, int status, int64_t id)
{
    struct sl_store_pipeline p = {0};
    struct sl_error err = SL_ERROR_INIT;
    sl_store_read_begin(r->s->st); /* the row and its jobs in one read transaction */
    int rc = sl_store_pipeline_get(r->s->st, id, &p, &err);
    if (rc < 0)
        sl_reply_sl_error(r, rc, &err);
    else
        reply_pipeline_of(r, status, &p);
    sl_store_read_end(r->s->st);
    sl_store_pipeline_release(&p);
    sl_error_release(&err);
}

static void h_pipeline_create(struct req *r)
{
    json_t *b = sl_body_json(r);
    if (!b)
        return;
    struct sl_store_project p = {0};
    struct sl_error err = SL_ERROR_INIT;
    json_t *ref = json_object_get(b, "ref"), *vars = json_object_get(b, "variables");
    json_t *inputs = json_object_get(b, "inputs");
    int64_t id = 0;
    int rc;
    /* the fields and their types were checked before (validate.c) */
    if ((rc = sl_store_project_get(r->s->st, r->id, &p, &err)) < 0) {
        sl_reply_sl_error(r, rc, &err);
        goto out;
    }
    char actor[48];
    snprintf(actor, sizeof(actor), "token:%lld", (long long)r->token.id);
    rc = sl_srv_pipeline_create_by(
        r->s, &p, ref ? json_string_value(ref) : NULL, json_is_object(vars) ? vars : NULL,
        json_is_object(inputs) ? inputs : NULL, "api", actor, r, &id, &err);
    if (rc == SL_EINVAL) {
        sl_reply_error(r, 400, "invalid", "%s", sl_error_format(&err));
    } else if (rc < 0) {
        sl_reply_sl_error(r, rc, &err);
    } else {
        reply_pipeline(r, 201, id); /* the audit event is stored with the pipeline */
    }
out:
    sl_store_project_release(&p);
    sl_error_release(&err);
    json_decref(b);
}

static void h_pipeline_list(struct req *r)
{
    struct sl_store_page page;
    if (!page_args(r, &page))
        return;
    page.status = sl_query_arg(r, "status"); /* one of GitLab's (validate.c) */
    struct sl_store_project proj = {0};
    struct sl_store_pipeline *ps = NULL;
    size_t n = 0;
    struct sl_error err = SL_ERROR_INIT;
    int rc = sl_store_project_get(r->s->st, r->id, &proj, &err);
    if (rc == 0)
        rc = sl_store_pipeline_list(r->s->st, r->id, &page, &ps, &n, &err);
    if (rc < 0) {
        sl_reply_sl_error(r, rc, &err);
    } else {
        struct sl_jsonw w;
        sl_jsonw_init_compact(&w, sl_reply_json_begin(r));
        sl_jsonw_arr(&w);
        for (size_t i = 0; i < n; i++)
            sl_srv_pipeline_w(&w, &ps[i]);
        sl_jsonw_end_arr(&w);
        sl_reply_json_end(r, 200);
    }
    sl_store_pipelines_free(ps, n);
    sl_store_project_release(&proj);
    sl_error_release(&err);
}

#define PIPELINE_WAIT_MAX_S 60
/* A held wait looks again this often even unwoken: a status another server stored (on a
 * shared PostgreSQL), or one stored inside a caller's transaction (woken before the commit),
 * is seen this late at the most. */
#define PIPELINE_WAIT_LOOK_MS 1000

/* GET /api/v1/pipelines/{id}[?wait=N[&status=S]]: with WAIT, held (no thread kept,
 * runner_hold.c) while the pipeline's status is S, or, without S, is the status it had at
 * the request when that was not an end; answered at once otherwise, and when N seconds
 * pass or the server stops. */
static void h_pipeline_get(struct req *r)
{
    const char *w = sl_query_arg(r, "wait");
    if (!w) {
        reply_pipeline(r, 200, r->id);
        return;
    }
    char *end = NULL;
    long secs = strtol(w, &end, 10);
    if (!*w || *end || secs < 1 || secs > PIPELINE_WAIT_MAX_S) {
        sl_reply_error(r, 400, "invalid", "wait is a number of seconds from 1 to %d, not '%s'",
                       PIPELINE_WAIT_MAX_S, w);
        return;
    }
    struct sl_server *s = r->s;
    int64_t now = sl_time_mono_ns() / 1000000;
    /* resumed after its client went away: nobody reads the answer, spare its reads */
    if (r->hold_deadline && !sl_srv_conn_alive(r->conn)) {
        r->status = 204;
        return;
    }
    unsigned long gen = sl_srv_hold_gen(s, r->id); /* before the read: a change after it wakes */
    struct sl_store_pipeline p = {0};
    struct sl_error err = SL_ERROR_INIT;
    /* the row and its jobs in one read transaction (its snapshot is taken at the first read,
     * after GEN), ended before the request is held */
    sl_store_read_begin(s->st);
    int rc = sl_store_pipeline_get(s->st, r->id, &p, &err);
    if (rc < 0) {
        sl_reply_sl_error(r, rc, &err);
        goto out;
    }
    if (!r->hold_deadline) { /* the first look */
        const char *want = sl_query_arg(r, "status");
        r->hold_deadline = now + secs * 1000;
        snprintf(r->hold_status, sizeof(r->hold_status), "%s",
                 want                                   ? want
                 : sl_sched_status_name_ended(p.status) ? ""
                                                        : p.status);
    }
    if (r->hold_status[0] && !strcmp(p.status, r->hold_status) && now < r->hold_deadline &&
        !r->hold_refused && !atomic_load(&s->stopping)) {
        r->hold = true;
        r->hold_key = r->id;
        r->hold_gen = gen;
        r->hold_wake_at = now + PIPELINE_WAIT_LOOK_MS < r->hold_deadline
                              ? now + PIPELINE_WAIT_LOOK_MS
                              : r->hold_deadline;
        goto out;
    }
    reply_pipeline_of(r, 200, &p);
out:
    sl_store_read_end(s->st);
    sl_store_pipeline_release(&p);
    sl_error_release(&err);
}

static void h_pipeline_cancel(struct req *r)
{
    struct sl_error err = SL_ERROR_INIT;
    int rc = sl_srv_transition(r->s, r->id, SRV_EV_CANCEL_PIPELINE, 0, NULL, false, &err);
    if (rc < 0) {
        sl_reply_sl_error(r, rc, &err);
    } else {
        audit_on(r, "pipeline.cancel", "pipeline", r->id);
        reply_pipeline(r, 200, r->id);
    }
    sl_error_release(&err);
}

static void h_pipeline_retry(struct req *r)
{
    struct sl_store_job *jobs = NULL;
    size_t n = 0;
    struct sl_error err = SL_ERROR_INIT;
    int rc = sl_store_job_list_by_pipeline(r->s->st, r->id, &jobs, &n, &err);
    if (rc == 0 && n == 0) { /* no jobs: 404 unless the pipeline exists */
        struct sl_store_pipeline p = {0};
        rc = sl_store_pipeline_get(r->s->st, r->id, &p, &err);
        sl_store_pipeline_release(&p);
    }
    for (size_t i = 0; rc == 0 && i < n; i++)
        if (!strcmp(jobs[i].status, "failed") || !strcmp(jobs[i].status, "canceled"))
            sl_srv_transition(r->s, r->id, SRV_EV_RETRY, (size_t)jobs[i].position, NULL, false,
                              NULL);
    if (rc < 0) {
        sl_reply_sl_error(r, rc, &err);
    } else {
        audit_on(r, "pipeline.retry", "pipeline", r->id);
        reply_pipeline(r, 200, r->id);
    }
    sl_store_jobs_free(jobs, n);
    sl_error_release(&err);
}

/* A maintainer lets a held pipeline (a fork's merge request, docs/merge-requests.md) run: the
 * hold is cleared once (compare-and-set in the store) and the pipeline settled, which starts
 * it as its creation would have. */
static void h_pipeline_approve(struct req *r)
{
    struct sl_error err = SL_ERROR_INIT;
    char actor[48];
    snprintf(actor, sizeof(actor), "token:%lld", (long long)r->token.id);
    int rc = sl_store_pipeline_approve(r->s->st, r->id, actor, sl_time_now_ms(), &err);
    if (rc == 0) {
        audit_on(r, "pipeline.approve", "pipeline", r->id);
        /* a failure here leaves it approved and created: the next settle starts it */
        struct sl_error terr = SL_ERROR_INIT;
        if (sl_srv_transition(r->s, r->id, SRV_EV_SETTLE, 0, NULL, false, &terr) < 0)
            sl_log(SL_LOG_ERROR, "cannot start an approved pipeline", "error",
                   sl_error_format(&terr), NULL);
        sl_error_release(&terr);
        reply_pipeline(r, 200, r->id);
    } else {
        sl_reply_sl_error(r, rc, &err);
    }
    sl_error_release(&err);
}

/* --- jobs ----------------------------------------------------------------------------- */

static void h_job_get(struct req *r)
{
    struct sl_store_job j = {0};
    struct sl_error err = SL_ERROR_INIT;
    int rc = sl_store_job_get(r->s->st, r->id, &j, &err);
    if (rc < 0) {
        sl_reply_sl_error(r, rc, &err);
    } else {
        json_t *o = sl_srv_job_json(r->s, &j, true);
        /* GitLab's stuck hint: a pending job no online runner can take says why */
        char *why = sl_srv_runner_stuck_reason(r->s, &j, sl_time_now_ms());
        json_object_set_new(o, "stuck", json_boolean(why != NULL));
        if (why)
            json_object_set_new(o, "stuck_reason", json_string(why));
        free(why);
        sl_srv_resource_group_job_info(r->s, &j, o);
        sl_reply_json(r, 200, o);
    }
    sl_store_job_release(&j);
    sl_error_release(&err);
}

static void job_event(struct req *r, enum srv_event ev, const char *what)
{
    char action[32];
    snprintf(action, sizeof(action), "job.%s", what);
    struct sl_store_job j = {0};
    struct sl_error err = SL_ERROR_INIT;
    int rc = sl_store_job_get(r->s->st, r->id, &j, &err);
    if (rc == 0 && j.retried) {
        /* as GitLab's Ci::Build#retryable?: a retried attempt is history, its newest is the
         * job to act on */
        sl_reply_error(r, 409, "conflict", "cannot %s job %lld: it was retried", what,
                       (long long)r->id);
        goto out;
    }
    char actor[48];
    snprintf(actor, sizeof(actor), "token:%lld", (long long)r->token.id);
    bool deploys = rc == 0 && (ev == SRV_EV_PLAY || ev == SRV_EV_RETRY);
    if (deploys) {
        int refused =
            sl_srv_deploy_play_refused(r->s, j.id, actor, r->token.role, ev == SRV_EV_PLAY, &err);
        if (refused < 0) {
            sl_reply_error(r, refused == SL_EPERM ? 403 : 409,
                           refused == SL_EPERM ? "forbidden" : "conflict", "%s",
                           sl_error_format(&err));
            goto out;
        }
    }
    /* a play or retry deploys as its caller: the deployment names the token (deploy.c) */
    if (rc == 0)
        rc = deploys ? sl_srv_deploy_job_event(r->s, &j, ev, actor, &err)
                     : sl_srv_transition(r->s, j.pipeline_id, ev, (size_t)j.position, NULL, false,
                                         &err);
    if (rc == SL_EINVAL) {
        sl_reply_error(r, 409, "conflict", "cannot %s job %lld: it is %s", what, (long long)r->id,
                       j.status);
    } else if (rc < 0) {
        sl_reply_sl_error(r, rc, &err);
    } else {
        audit_on(r, action, "job", r->id);
        /* a retry answers with the new job it made */
        struct sl_store_job now = {0};
        if (sl_store_job_get_current(r->s->st, r->id, &now, &err) == 0)
            sl_reply_json(r, 200, sl_srv_job_json(r->s, &now, true));
        else
            sl_reply_sl_error(r, SL_ESTORE, &err);
        sl_store_job_release(&now);
    }
out:
    sl_store_job_release(&j);
    sl_error_release(&err);
}

static void h_job_play(struct req *r)
{
    job_event(r, SRV_EV_PLAY, "play");
}
static void h_job_retry(struct req *r)
{
    job_event(r, SRV_EV_RETRY, "retry");
}
static void h_job_cancel(struct req *r)
{
    job_event(r, SRV_EV_CANCEL_JOB, "cancel");
}

static void h_job_artifacts(struct req *r)
{
    struct sl_store_job j = {0};
    struct sl_store_artifact *as = NULL;
    size_t n = 0;
    struct sl_error err = SL_ERROR_INIT;
    int rc = sl_store_job_get(r->s->st, r->id, &j, &err);
    if (rc == 0)
        rc = sl_store_artifact_list(r->s->st, r->id, &as, &n, &err);
    if (rc < 0) {
        sl_reply_sl_error(r, rc, &err);
    } else {
        json_t *a = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(a, json_pack("{s:I,s:s,s:s,s:I,s:o,s:o}", "id",
                                               (json_int_t)as[i].id, "name", as[i].name, "path",
                                               as[i].path, "size", (json_int_t)as[i].size,
                                               "created_at", time_json(as[i].created_at),
                                               "expire_at", time_json(as[i].expire_at)));
        sl_reply_json(r, 200, a);
    }
    sl_store_artifacts_free(as, n);
    sl_store_job_release(&j);
    sl_error_release(&err);
}

/* --- sl_audit --------------------------------------------------------------------------- */

static void h_audit_list(struct req *r)
{
    struct sl_store_page page;
    if (!page_args(r, &page))
        return;
    struct sl_store_audit_filter f = {.action = sl_query_arg(r, "action"),
                                      .actor = sl_query_arg(r, "actor")};
    const char *since = sl_query_arg(r, "since"), *until = sl_query_arg(r, "until");
    if ((since && sl_time_parse_iso8601(since, &f.since) < 0) ||
        (until && sl_time_parse_iso8601(until, &f.until) < 0)) {
        sl_reply_error(r, 400, "invalid",
                       "since and until must be ISO 8601 UTC times (2026-12-03T07:00:00Z)");
        return;
    }
    /* an empty filter is no filter (a cleared form field) */
    if (f.action && !*f.action)
        f.action = NULL;
    if (f.actor && !*f.actor)
        f.actor = NULL;
    struct sl_store_audit *as = NULL;
    size_t n = 0;
    struct sl_error err = SL_ERROR_INIT;
    int rc = sl_store_audit_list(r->s->st, &page, &f, &as, &n, &err);
    if (rc < 0) {
        sl_reply_sl_error(r, rc, &err);
    } else {
        json_t *a = json_array();
        for (size_t i = 0; i < n; i++) {
            json_t *d =
                sl_srv_stored_json(as[i].detail, JSON_OBJECT, "audit event's detail", as[i].id);
            json_array_append_new(a, json_pack("{s:I,s:o,s:s,s:s,s:s,s:o,s:s}", "id",
                                               (json_int_t)as[i].id, "at", time_json(as[i].at),
                                               "actor", as[i].actor, "action", as[i].action,
                                               "target", as[i].target ? as[i].target : "", "detail",
                                               d ? d : json_object(), "remote_addr",
                                               as[i].remote_addr ? as[i].remote_addr : ""));
        }
        sl_reply_json(r, 200, a);
    }
    sl_store_audits_free(as, n);
    sl_error_release(&err);
}

/* --- lint ----------------------------------------------------------------------------- */

static json_t *diag_items(const struct sl_diag *d, enum sl_diag_level level)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < d->n; i++) {
        const struct sl_diag_item *it = &d->items[i];
        if (it->level != level)
            continue;
        json_t *o = json_pack("{s:o,s:i,s:i,s:s}", "file", str_or_null(it->file), "line", it->line,
                              "column", it->column, "message", it->message);
        if (it->hint)
            json_object_set_new(o, "hint", json_string(it->hint));
        json_array_append_new(arr, o);
    }
    return arr;
}

/* No file system for a linted body: include:local has nothing to read. */
static int lint_read(void *ctx, const char *path, char **out, size_t *len, struct sl_error *err)
{
    (void)ctx, (void)out, (void)len;
    return sl_error_set(err, SL_ENOENT, "%s: include:local cannot be read by POST /lint", path);
}

static int lint_list(void *ctx, void (*emit)(void *, const char *), void *emit_ctx,
                     struct sl_error *err)
{
    (void)ctx, (void)emit, (void)emit_ctx, (void)err;
    return 0;
}

static void h_lint(struct req *r)
{
    struct sl_diag diag = SL_DIAG_INIT;
    struct sl_config *cfg = NULL;
    struct sl_config_opts opts = {0};
    opts.read = lint_read;
    opts.list = lint_list;
    int rc = sl_config_load_string(&cfg, ".gitlab-ci.yml", r->body ? r->body : "", r->body_len,
                                   &opts, &diag);
    sl_diag_sort(&diag);
    json_t *o = json_object();
    json_object_set_new(o, "valid", json_boolean(rc == 0 && diag.errors == 0));
    json_object_set_new(o, "errors", diag_items(&diag, SL_DIAG_ERROR));
    json_object_set_new(o, "warnings", diag_items(&diag, SL_DIAG_WARNING));
    sl_reply_json(r, 200, o);
    sl_config_free(cfg);
    sl_diag_release(&diag);
}

const struct route sl_srv_routes[] = {
    {"GET", "/healthz", h_healthz, NULL},
    {"GET", "/readyz", h_readyz, NULL},
    {"GET", "/metrics", h_metrics, "viewer"},
    {"POST", "/api/v1/projects", h_project_create, "maintainer"},
    {"GET", "/api/v1/projects", h_project_list, "viewer"},
    {"GET", "/api/v1/projects/{id}", h_project_get, "viewer"},
    {"PUT", "/api/v1/projects/{id}", h_project_update, "maintainer"},
    {"DELETE", "/api/v1/projects/{id}", h_project_delete, "admin"},
    {"POST", "/api/v1/projects/{id}/pipelines", h_pipeline_create, "developer"},
    {"GET", "/api/v1/projects/{id}/pipelines", h_pipeline_list, "viewer"},
    {"GET", "/api/v1/pipelines/{id}", h_pipeline_get, "viewer"},
    {"POST", "/api/v1/pipelines/{id}/cancel", h_pipeline_cancel, "developer"},
    {"POST", "/api/v1/pipelines/{id}/retry", h_pipeline_retry, "developer"},
    {"POST", "/api/v1/pipelines/{id}/approve", h_pipeline_approve, "maintainer"},
    {"GET", "/api/v1/pipelines/{id}/test_report", sl_h_pipeline_test_report, "viewer"},
    {"GET", "/api/v1/jobs/{id}", h_job_get, "viewer"},
    {"GET", "/api/v1/jobs/{id}/log", sl_h_job_log, "viewer"},
    {"GET", "/api/v1/jobs/{id}/log/stream", sl_h_job_log_stream, "viewer"},
    {"GET", "/api/v1/jobs/{id}/log/raw", sl_h_job_log_raw, "viewer"},
    {"GET", "/api/v1/jobs/{id}/log/search", sl_h_job_log_search, "viewer"},
    {"GET", "/api/v1/jobs/{id}/artifacts", h_job_artifacts, "viewer"},
    {"GET", "/api/v1/jobs/{id}/artifacts/{key}/files", sl_h_job_artifact_files, "viewer"},
    {"GET", "/api/v1/jobs/{id}/artifacts/{key}/file", sl_h_job_artifact_file, "viewer"},
    {"GET", "/api/v1/jobs/{id}/artifacts/{key}/download", sl_h_job_artifact_download, "viewer"},
    {"POST", "/api/v1/jobs/{id}/play", h_job_play, "developer"},
    {"POST", "/api/v1/jobs/{id}/retry", h_job_retry, "developer"},
    {"POST", "/api/v1/jobs/{id}/cancel", h_job_cancel, "developer"},
    {"GET", "/api/v1/projects/{id}/environments", sl_h_environment_list, "viewer"},
    {"GET", "/api/v1/environments/{id}", sl_h_environment_get, "viewer"},
    {"POST", "/api/v1/environments/{id}/stop", sl_h_environment_stop, "developer"},
    {"POST", "/api/v1/environments/{id}/rollback", sl_h_environment_rollback, "maintainer"},
    {"DELETE", "/api/v1/environments/{id}", sl_h_environment_delete, "maintainer"},
    {"GET", "/api/v1/environments/{id}/deployments", sl_h_environment_deployments, "viewer"},
    {"GET", "/api/v1/deployments/{id}", sl_h_deployment_get, "viewer"},
    {"POST", "/api/v1/deployments/{id}/approve", sl_h_deployment_approve, "developer"},
    {"POST", "/api/v1/deployments/{id}/reject", sl_h_deployment_reject, "developer"},
    {"POST", "/api/v1/projects/{id}/protected_environments", sl_h_protected_env_create,
     "maintainer"},
    {"GET", "/api/v1/projects/{id}/protected_environments", sl_h_protected_env_list, "viewer"},
    {"DELETE", "/api/v1/protected_environments/{id}", sl_h_protected_env_delete, "maintainer"},
    {"GET", "/api/v1/projects/{id}/forge", sl_h_forge_get, "maintainer"},
    {"PUT", "/api/v1/projects/{id}/forge", sl_h_forge_put, "maintainer"},
    {"DELETE", "/api/v1/projects/{id}/forge", sl_h_forge_delete, "maintainer"},
    {"GET", "/api/v1/projects/{id}/notifications", sl_h_notification_list, "maintainer"},
    {"POST", "/api/v1/projects/{id}/notifications", sl_h_notification_create, "maintainer"},
    {"POST", "/api/v1/projects/{id}/notifications/test", sl_h_notification_test, "maintainer"},
    {"DELETE", "/api/v1/projects/{id}/notifications/{key}", sl_h_notification_delete, "maintainer"},
    {"GET", "/api/v1/projects/{id}/deliveries", sl_h_delivery_list, "maintainer"},
    {"GET", "/api/v1/projects/{id}/secret_findings", sl_h_secret_finding_list, "developer"},
    {"GET", "/api/v1/projects/{id}/secret_detection", sl_h_secret_policy_get, "developer"},
    {"PUT", "/api/v1/projects/{id}/secret_detection", sl_h_secret_policy_put, "maintainer"},
    {"GET", "/api/v1/projects/{id}/resource_groups", sl_h_resource_group_list, "viewer"},
    /* a key may hold '/' ({group}): the longer path first, which would take it */
    {"GET", "/api/v1/projects/{id}/resource_groups/{group}/upcoming_jobs",
     sl_h_resource_group_upcoming, "viewer"},
    {"GET", "/api/v1/projects/{id}/resource_groups/{group}", sl_h_resource_group_get, "viewer"},
    {"PUT", "/api/v1/projects/{id}/resource_groups/{group}", sl_h_resource_group_update,
     "maintainer"},
    {"GET", "/api/v1/projects/{id}/freeze_periods", sl_h_freeze_period_list, "viewer"},
    {"POST", "/api/v1/projects/{id}/freeze_periods", sl_h_freeze_period_create, "maintainer"},
    {"GET", "/api/v1/freeze_periods/{id}", sl_h_freeze_period_get, "viewer"},
    {"PUT", "/api/v1/freeze_periods/{id}", sl_h_freeze_period_update, "maintainer"},
    {"DELETE", "/api/v1/freeze_periods/{id}", sl_h_freeze_period_delete, "maintainer"},
    {"GET", "/api/v1/projects/{id}/protected_branches", sl_h_protected_branch_list, "viewer"},
    {"POST", "/api/v1/projects/{id}/protected_branches", sl_h_protected_branch_create,
     "maintainer"},
    {"GET", "/api/v1/projects/{id}/protected_branches/{ref}", sl_h_protected_branch_get, "viewer"},
    {"DELETE", "/api/v1/projects/{id}/protected_branches/{ref}", sl_h_protected_branch_delete,
     "maintainer"},
    {"GET", "/api/v1/projects/{id}/protected_tags", sl_h_protected_tag_list, "viewer"},
    {"POST", "/api/v1/projects/{id}/protected_tags", sl_h_protected_tag_create, "maintainer"},
    {"GET", "/api/v1/projects/{id}/protected_tags/{ref}", sl_h_protected_tag_get, "viewer"},
    {"DELETE", "/api/v1/projects/{id}/protected_tags/{ref}", sl_h_protected_tag_delete,
     "maintainer"},
    {"POST", "/api/v1/lint", h_lint, "viewer"},
    {"GET", "/api/v1/audit", h_audit_list, "admin"},
    /* the web UI's sign-in (session.c): the body's token authenticates the POST */
    {"POST", "/api/v1/session", sl_h_session_create, NULL},
    {"GET", "/api/v1/session", sl_h_session_get, "viewer"},
    {"DELETE", "/api/v1/session", sl_h_session_delete, "viewer"},
    {"GET", "/api/v1/tokens", sl_h_token_list, "admin"},
    {"POST", "/api/v1/tokens", sl_h_token_create, "admin"},
    {"DELETE", "/api/v1/tokens/{id}", sl_h_token_revoke, "admin"},
    {"GET", "/api/v1/projects/{id}/variables", sl_h_project_variables_list, "developer"},
    {"POST", "/api/v1/projects/{id}/variables", sl_h_project_variable_create, "maintainer"},
    {"GET", "/api/v1/projects/{id}/variables/{key}", sl_h_project_variable_get, "developer"},
    {"PUT", "/api/v1/projects/{id}/variables/{key}", sl_h_project_variable_update, "maintainer"},
    {"DELETE", "/api/v1/projects/{id}/variables/{key}", sl_h_project_variable_delete, "maintainer"},
    {"GET", "/api/v1/admin/variables", sl_h_admin_variables_list, "admin"},
    {"POST", "/api/v1/admin/variables", sl_h_admin_variable_create, "admin"},
    {"GET", "/api/v1/admin/variables/{key}", sl_h_admin_variable_get, "admin"},
    {"PUT", "/api/v1/admin/variables/{key}", sl_h_admin_variable_update, "admin"},
    {"DELETE", "/api/v1/admin/variables/{key}", sl_h_admin_variable_delete, "admin"},
    /* feature flags (flags_api.c); the fixed paths before {name}, which would take them */
    {"GET", "/api/v1/projects/{id}/feature_flags/environments/{env}/state", sl_h_flags_state_get,
     "developer"},
    {"PUT", "/api/v1/projects/{id}/feature_flags/environments/{env}/state", sl_h_flags_state_put,
     "maintainer"},
    {"GET", "/api/v1/projects/{id}/feature_flags/tokens", sl_h_flag_tokens_list, "maintainer"},
    {"POST", "/api/v1/projects/{id}/feature_flags/tokens", sl_h_flag_token_create, "maintainer"},
    {"DELETE", "/api/v1/projects/{id}/feature_flags/tokens/{key}", sl_h_flag_token_revoke,
     "maintainer"},
    {"GET", "/api/v1/projects/{id}/feature_flags/unleash", sl_h_flags_unleash_get, "developer"},
    {"POST", "/api/v1/projects/{id}/feature_flags/unleash/reset", sl_h_flags_unleash_reset,
     "maintainer"},
    {"GET", "/api/v1/projects/{id}/feature_flags", sl_h_flags_list, "developer"},
    {"POST", "/api/v1/projects/{id}/feature_flags", sl_h_flag_create, "maintainer"},
    {"GET", "/api/v1/projects/{id}/feature_flags/{name}", sl_h_flag_get, "developer"},
    {"PUT", "/api/v1/projects/{id}/feature_flags/{name}", sl_h_flag_update, "maintainer"},
    {"DELETE", "/api/v1/projects/{id}/feature_flags/{name}", sl_h_flag_delete, "maintainer"},
    {"GET", "/api/v1/projects/{id}/feature_flags/{name}/history", sl_h_flag_history, "developer"},
    {"PUT", "/api/v1/projects/{id}/feature_flags/{name}/environments/{env}", sl_h_flag_env_set,
     "maintainer"},
    /* Unleash SDKs, authenticated by Unleash tokens or GitLab instance ids (flags_client.c) */
    {"GET", "/api/client/features", sl_h_unleash_features, NULL},
    {"POST", "/api/client/register", sl_h_unleash_register, NULL},
    {"POST", "/api/client/metrics", sl_h_unleash_metrics, NULL},
    {"GET", "/api/frontend", sl_h_unleash_frontend, NULL},
    {"POST", "/api/frontend", sl_h_unleash_frontend, NULL},
    {"OPTIONS", "/api/frontend", sl_h_unleash_frontend_preflight, NULL},
    {"POST", "/api/frontend/client/metrics", sl_h_unleash_frontend_metrics, NULL},
    {"OPTIONS", "/api/frontend/client/metrics", sl_h_unleash_frontend_preflight, NULL},
    {"GET", "/api/v4/feature_flags/unleash/{id}/features", sl_h_gitlab_unleash_features, NULL},
    {"GET", "/api/v4/feature_flags/unleash/{id}/client/features", sl_h_gitlab_unleash_features,
     NULL},
    {"POST", "/api/v4/feature_flags/unleash/{id}/client/register", sl_h_gitlab_unleash_register,
     NULL},
    {"POST", "/api/v4/feature_flags/unleash/{id}/client/metrics", sl_h_gitlab_unleash_metrics,
     NULL},
    {"POST", "/api/v1/runners", sl_h_runner_create, "admin"},
    {"GET", "/api/v1/runners", sl_h_runner_list, "admin"},
    {"GET", "/api/v1/runners/{id}", sl_h_runner_get, "admin"},
    {"POST", "/api/v1/runners/{id}/pause", sl_h_runner_pause, "admin"},
    {"POST", "/api/v1/runners/{id}/resume", sl_h_runner_resume, "admin"},
    {"DELETE", "/api/v1/runners/{id}", sl_h_runner_delete, "admin"},
    /* GitLab's runner API: authenticated by runner and job tokens (runner_api.c) */
    {"POST", "/api/v4/runners/verify", sl_h_v4_runner_verify, NULL},
    {"POST", "/api/v4/runners", sl_h_v4_runner_register, NULL},
    {"DELETE", "/api/v4/runners", sl_h_v4_runner_delete, NULL},
    {"POST", "/api/v4/jobs/request", sl_h_v4_jobs_request, NULL},
    {"PUT", "/api/v4/jobs/{id}", sl_h_v4_job_update, NULL},
    {"PATCH", "/api/v4/jobs/{id}/trace", sl_h_v4_job_trace, NULL},
    {"POST", "/api/v4/jobs/{id}/artifacts", sl_h_v4_job_artifacts_upload, NULL},
    {"GET", "/api/v4/jobs/{id}/artifacts", sl_h_v4_job_artifacts_download, NULL},
    /* authenticated by the project's webhook secret, not by a token (webhook.c) */
    {"POST", "/hooks/github", sl_h_hook_github, NULL},
    {"POST", "/hooks/gitlab", sl_h_hook_gitlab, NULL},
    {"POST", "/hooks/gitea", sl_h_hook_gitea, NULL},
};
const size_t sl_srv_nroutes = SL_ARRAY_LEN(sl_srv_routes);

/* The routes a job's CI_JOB_TOKEN may call, on its own project: reading and rolling out
 * feature flags from a pipeline (sluice flag in a job), and listing the project's
 * environments (what a deploy job may want to know). */
static const route_fn job_token_routes[] = {sl_h_flags_list, sl_h_flag_get, sl_h_flag_env_set,
                                            sl_h_environment_list};

bool sl_srv_route_takes_job_token(const struct route *rt)
{
    for (size_t i = 0; i < SL_ARRAY_LEN(job_token_routes); i++)
        if (rt->fn == job_token_routes[i])
            return true;
    return false;
}
