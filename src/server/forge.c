/* forge.c: a project's forge connection (PUT/GET/DELETE /api/v1/projects/{id}/forge) and the
 * commit statuses sluice reports there as a pipeline's state changes, in each forge's own
 * API and vocabulary:
 *
 *   GitHub  POST {api}/repos/{owner}/{repo}/statuses/{sha}  {state, target_url, description,
 *           context}; Authorization: Bearer TOKEN
 *   Gitea   the same path and fields; Authorization: token TOKEN
 *   GitLab  POST {api}/projects/{id or url-encoded path}/statuses/{sha}  {state, ref, name,
 *           target_url, description}; PRIVATE-TOKEN: TOKEN
 *
 * The requests go through the delivery queue (delivery.c), so a forge that is down gets
 * them later, in order of the pipeline's changes. */
#include "base/compat.h"

#include <inttypes.h>
#include "base/alloc.h"
#include "base/log.h"
#include "base/time.h"
#include "server/internal.h"

#include <curl/curl.h>
#include <sodium.h>

#define CONTEXT_MAX 255 /* GitHub's limit on a context */

/* The forges, as data. */
static const struct forge_kind {
    const char *kind;
    const char *collection; /* API_ROOT/COLLECTION/REPOSITORY/statuses/SHA */
    bool encode_repo;       /* the repository is one path segment (GitLab's id or path) */
    const char *auth;       /* the header the token follows */
    bool gitlab_states;
} forge_kinds[] = {
    {"github", "repos", false, "Authorization: Bearer ", false},
    {"gitea", "repos", false, "Authorization: token ", false},
    {"gitlab", "projects", true, "PRIVATE-TOKEN: ", true},
};

/* A pipeline's status in each vocabulary: GitHub and Gitea have pending, success, failure and
 * error; GitLab's commit statuses have pending, running, success, failed, canceled. */
static const struct state_row {
    const char *sluice, *github, *gitlab;
} states[] = {
    {"created", "pending", "pending"},   {"waiting_for_resource", "pending", "pending"},
    {"preparing", "pending", "pending"}, {"pending", "pending", "pending"},
    {"scheduled", "pending", "pending"}, {"manual", "pending", "pending"},
    {"running", "pending", "running"},   {"success", "success", "success"},
    {"failed", "failure", "failed"},     {"canceled", "error", "canceled"},
    {"skipped", "error", "canceled"},
};

static const struct forge_kind *forge_kind(const char *kind)
{
    for (size_t i = 0; i < SL_ARRAY_LEN(forge_kinds); i++)
        if (!strcmp(forge_kinds[i].kind, kind))
            return &forge_kinds[i];
    return NULL;
}

static const char *forge_state(const struct forge_kind *fk, const char *status)
{
    for (size_t i = 0; status && i < SL_ARRAY_LEN(states); i++)
        if (!strcmp(states[i].sluice, status))
            return fk->gitlab_states ? states[i].gitlab : states[i].github;
    return NULL;
}

char *sl_srv_forge_auth_header(const char *kind, const char *token)
{
    const struct forge_kind *fk = forge_kind(kind);
    return sl_xasprintf("%s%s", fk ? fk->auth : "Authorization: Bearer ", token ? token : "");
}

/* What happened to a pipeline or job of STATUS, for a status's description. */
static const char *verb(const char *status)
{
    return !strcmp(status, "success")    ? "passed"
           : !strcmp(status, "failed")   ? "failed"
           : !strcmp(status, "canceled") ? "was canceled"
           : !strcmp(status, "skipped")  ? "was skipped"
           : !strcmp(status, "running")  ? "is running"
                                         : "is waiting";
}

/* The status context of P: "sluice/" + its workflow:name (recorded in its jobs' specs), or
 * "sluice/pipeline". Caller frees. */
static char *status_context(struct sl_server *s, const struct sl_store_pipeline *p)
{
    struct sl_store_job *jobs = NULL;
    size_t n = 0;
    char *ctx = NULL;
    if (sl_store_job_list_by_pipeline(s->st, p->id, &jobs, &n, NULL) == 0 && n > 0) {
        json_t *o = sl_srv_stored_json(jobs[0].spec, JSON_OBJECT, "job spec", jobs[0].id);
        const char *name = json_string_value(json_object_get(o, "pipeline_name"));
        if (name && *name)
            ctx = sl_xasprintf("sluice/%.*s", CONTEXT_MAX - 7, name);
        json_decref(o);
    }
    sl_store_jobs_free(jobs, n);
    return ctx ? ctx : sl_xstrdup("sluice/pipeline");
}

/* Queues STATE of P's commit on forge F under context CTX, linking LINK. */
static int queue_status(struct sl_server *s, const struct sl_store_forge *f,
                        const struct forge_kind *fk, const struct sl_store_pipeline *p,
                        const char *state, const char *ctx, const char *link, const char *desc,
                        struct sl_error *err)
{
    char *repo = fk->encode_repo ? curl_easy_escape(NULL, f->repository, 0) : NULL;
    char *url = sl_xasprintf("%s/%s/%s/statuses/%s", f->api_url, fk->collection,
                             repo ? repo : f->repository,
                             /* a merged results pipeline's verdict is on the request's head,
                              * where the forge shows it, not on its test merge */
                             p->source_sha ? p->source_sha : p->sha);
    json_t *b = json_pack("{s:s,s:s,s:s}", "state", state, "target_url", link, "description", desc);
    json_object_set_new(b, fk->gitlab_states ? "name" : "context", json_string(ctx));
    if (fk->gitlab_states)
        json_object_set_new(b, "ref", json_string(p->ref));
    char *body = json_dumps(b, JSON_COMPACT | JSON_PRESERVE_ORDER);
    char kind[32];
    snprintf(kind, sizeof(kind), "status:%s", fk->kind);
    int rc = sl_srv_delivery_queue(s, p->project_id, 0, kind, url, "POST", body, err);
    free(body);
    json_decref(b);
    free(url);
    curl_free(repo);
    return rc;
}

/* Queues P's own status: one context per pipeline definition, so a newer pipeline of the
 * commit replaces an older one's. */
static int queue_pipeline_status(struct sl_server *s, const struct sl_store_forge *f,
                                 const struct forge_kind *fk, const struct sl_store_pipeline *p,
                                 const char *state, struct sl_error *err)
{
    char *ctx = status_context(s, p);
    char *link = sl_xasprintf("%s/pipelines/%" PRId64, s->external_url, p->id);
    /* a fork's pipeline held for a maintainer says so on the request */
    char *desc = p->hold_reason && !p->finished_at
                     ? sl_xstrdup("The pipeline waits for a maintainer's approval")
                     : sl_xasprintf("The pipeline %s", verb(p->status));
    int rc = queue_status(s, f, fk, p, state, ctx, link, desc, err);
    free(desc);
    free(link);
    free(ctx);
    return rc;
}

/* The forge connection of P's project (without its token) into *OUT, as sl_store_forge_get;
 * SL_ENOENT without asking the store when P's row, read with it, says there is none (a
 * project without a forge reports at each of its jobs' moves: one read saved each). */
static int forge_of(struct sl_server *s, const struct sl_store_pipeline *p,
                    struct sl_store_forge *out, struct sl_error *err)
{
    if (p->forge_known && !p->has_forge)
        return SL_ENOENT;
    return sl_store_forge_get(s->st, p->project_id, false, out, err);
}

void sl_srv_job_reported(struct sl_server *s, int64_t job_id)
{
    struct sl_error err = SL_ERROR_INIT;
    struct sl_store_job j = {0};
    int rc = sl_store_job_get(s->st, job_id, &j, &err);
    if (rc == 0) {
        sl_srv_job_reported_of(s, &j, NULL);
    } else if (rc != SL_ENOENT) {
        atomic_fetch_add(&s->metrics.store_errors, 1);
        sl_log(SL_LOG_ERROR, "cannot queue a job's commit status", "error", sl_error_format(&err),
               NULL);
    }
    sl_store_job_release(&j);
    sl_error_release(&err);
}

void sl_srv_job_reported_of(struct sl_server *s, const struct sl_store_job *job,
                            const struct sl_store_pipeline *pipeline)
{
    struct sl_error err = SL_ERROR_INIT;
    struct sl_store_pipeline read = {0};
    struct sl_store_forge f = {0};
    const struct sl_store_job *jp = job;
    const struct sl_store_pipeline *pp = pipeline;
    int rc = 0;
    if (!pp) {
        rc = sl_store_pipeline_get(s->st, job->pipeline_id, &read, &err);
        pp = &read;
    }
    if (rc == 0)
        rc = forge_of(s, pp, &f, &err);
    if (rc == SL_ENOENT) {
        rc = 0;
        goto out;
    }
    const struct forge_kind *fk = rc == 0 ? forge_kind(f.kind) : NULL;
    /* a job that never starts (skipped, manual, created) must not leave the commit pending */
    bool shown = !strcmp(jp->status, "pending") || !strcmp(jp->status, "running") ||
                 !strcmp(jp->status, "success") || !strcmp(jp->status, "failed") ||
                 !strcmp(jp->status, "canceled");
    if (rc < 0 || !fk || !f.per_job || !shown || pp->parent_pipeline_id || !pp->sha || !*pp->sha)
        goto out;
    /* an allowed failure does not fail the commit, as it does not fail the pipeline */
    bool allowed = !strcmp(jp->status, "failed") && jp->allow_failure;
    const char *state = forge_state(fk, allowed ? "success" : jp->status);
    char *ctx = sl_xasprintf("sluice/job/%.*s", CONTEXT_MAX - 11, jp->name);
    char *link = sl_xasprintf("%s/jobs/%" PRId64, s->external_url, jp->id);
    char *desc =
        sl_xasprintf("The job %s%s", verb(jp->status), allowed ? " (allowed to fail)" : "");
    rc = queue_status(s, &f, fk, pp, state, ctx, link, desc, &err);
    free(desc);
    free(link);
    free(ctx);
out:
    if (rc < 0) {
        atomic_fetch_add(&s->metrics.store_errors, 1);
        sl_log(SL_LOG_ERROR, "cannot queue a job's commit status", "error", sl_error_format(&err),
               NULL);
    }
    sl_store_forge_release(&f);
    sl_store_pipeline_release(&read);
    sl_error_release(&err);
}

void sl_srv_pipeline_reported(struct sl_server *s, const struct sl_store_pipeline *p,
                              const char *old_status)
{
    struct sl_error err = SL_ERROR_INIT;
    struct sl_store_forge f = {0};
    /* a child pipeline is part of its parent's verdict, which the forge gets */
    if (p->parent_pipeline_id || !p->sha || !*p->sha)
        return;
    int rc = forge_of(s, p, &f, &err);
    if (rc == 0) {
        const struct forge_kind *fk = forge_kind(f.kind);
        const char *now = fk ? forge_state(fk, p->status) : NULL;
        const char *was = fk ? forge_state(fk, old_status) : NULL;
        /* running after pending is no news to GitHub: send only what the forge can tell apart,
         * and what leaving manual says (a held pipeline approved, a blocked one played: its
         * description was the wait's) */
        bool left_manual = old_status && !strcmp(old_status, "manual");
        if (now && (!was || strcmp(now, was) != 0 || left_manual))
            rc = queue_pipeline_status(s, &f, fk, p, now, &err);
    } else if (rc == SL_ENOENT) {
        rc = 0;
    }
    if (rc < 0) {
        atomic_fetch_add(&s->metrics.store_errors, 1);
        sl_log(SL_LOG_ERROR, "cannot queue a commit status", "error", sl_error_format(&err), NULL);
    }
    sl_store_forge_release(&f);
    sl_error_release(&err);
    bool finished = !strcmp(p->status, "success") || !strcmp(p->status, "failed");
    if (finished && (!old_status || strcmp(old_status, p->status) != 0))
        sl_srv_notify_pipeline(s, p);
}

/* ---- the API ---- */

static json_t *forge_json(const struct sl_store_forge *f)
{
    json_t *o = json_pack("{s:s,s:s,s:s,s:b}", "kind", f->kind, "api_url", f->api_url, "repository",
                          f->repository, "per_job", f->per_job);
    json_object_set_new(o, "created_at", sl_srv_time_json(f->created_at));
    json_object_set_new(o, "updated_at", sl_srv_time_json(f->updated_at));
    return o;
}

void sl_h_forge_get(struct req *r)
{
    struct sl_error err = SL_ERROR_INIT;
    struct sl_store_forge f = {0};
    int rc = sl_store_forge_get(r->s->st, r->id, false, &f, &err);
    if (rc < 0)
        sl_reply_sl_error(r, rc, &err);
    else
        sl_reply_json(r, 200, forge_json(&f));
    sl_store_forge_release(&f);
    sl_error_release(&err);
}

static bool http_url(const char *u)
{
    return u && (!strncmp(u, "http://", 7) || !strncmp(u, "https://", 8)) && !strpbrk(u, " \r\n");
}

void sl_h_forge_put(struct req *r)
{
    struct sl_error err = SL_ERROR_INIT;
    struct sl_store_project proj = {0};
    struct sl_store_forge f = {.project_id = r->id};
    char *api = NULL;
    json_t *b = sl_body_json(r);
    if (!b)
        return;
    /* the fields and their types were checked before (validate.c) */
    const char *kind = json_string_value(json_object_get(b, "kind"));
    const char *api_url = json_string_value(json_object_get(b, "api_url"));
    const char *repo = json_string_value(json_object_get(b, "repository"));
    const char *token = json_string_value(json_object_get(b, "token"));
    json_t *pj = json_object_get(b, "per_job");
    const struct forge_kind *fk = kind ? forge_kind(kind) : NULL;
    if (!fk) {
        sl_reply_error(r, 400, "invalid", "kind must be github, gitlab or gitea");
        goto out;
    }
    if (!http_url(api_url) || strlen(api_url) > 2048) {
        sl_reply_error(r, 400, "invalid",
                       "api_url must be the forge's API root, an http:// or https:// URL "
                       "(https://api.github.com, https://gitlab.example.com/api/v4, "
                       "https://gitea.example.com/api/v1)");
        goto out;
    }
    if (!repo || !*repo || strlen(repo) > 1024 || strpbrk(repo, " \r\n?#") ||
        (!fk->encode_repo && (!strchr(repo, '/') || strchr(repo, '/') != strrchr(repo, '/')))) {
        sl_reply_error(r, 400, "invalid",
                       fk->encode_repo ? "repository must be the GitLab project's id or path"
                                       : "repository must be owner/name");
        goto out;
    }
    if (!token || !*token || strlen(token) > 4096 || strpbrk(token, "\r\n")) {
        sl_reply_error(r, 400, "invalid", "token is required (a single line)");
        goto out;
    }
    if (pj && !json_is_boolean(pj)) {
        sl_reply_error(r, 400, "invalid", "per_job must be true or false");
        goto out;
    }
    size_t n = strlen(api_url);
    while (n > 0 && api_url[n - 1] == '/')
        n--;
    api = sl_xstrndup(api_url, n);
    f.kind = (char *)kind;
    f.api_url = api;
    f.repository = (char *)repo;
    f.token = (char *)token;
    f.per_job = json_is_true(pj);
    int rc = sl_store_project_get(r->s->st, r->id, &proj, &err);
    if (rc == 0)
        rc = sl_store_forge_set(r->s->st, &f, sl_time_now_ms(), &err);
    if (rc < 0) {
        sl_reply_sl_error(r, rc, &err);
        goto out;
    }
    sl_srv_audit_on(r, "forge.set", "project", r->id);
    f.created_at = f.updated_at = sl_time_now_ms();
    struct sl_store_forge stored = {0};
    if (sl_store_forge_get(r->s->st, r->id, false, &stored, &err) == 0)
        sl_reply_json(r, 200, forge_json(&stored));
    else
        sl_reply_json(r, 200, forge_json(&f));
    sl_store_forge_release(&stored);
out:
    free(api);
    sl_store_project_release(&proj);
    json_decref(b);
    sl_error_release(&err);
}

void sl_h_forge_delete(struct req *r)
{
    struct sl_error err = SL_ERROR_INIT;
    int rc = sl_store_forge_delete(r->s->st, r->id, &err);
    if (rc < 0) {
        sl_reply_sl_error(r, rc, &err);
    } else {
        sl_srv_audit_on(r, "forge.delete", "project", r->id);
        r->status = 204;
    }
    sl_error_release(&err);
}
