/* runner_admin.c: runners as the admin manages them, under /api/v1/runners: create one
 * (its token is shown once), list, show (each with the jobs it is running), pause, resume,
 * delete (revokes it: its next request gets 403). */
#include "base/compat.h"
#include "base/alloc.h"
#include "base/time.h"
#include "server/runner.h"
#include <inttypes.h>

json_t *sl_srv_runner_json(const struct sl_store_runner *rn)
{
    json_t *tags = json_array();
    for (size_t i = 0; i < rn->ntags; i++)
        json_array_append_new(tags, json_string(rn->tags[i]));
    return json_pack("{s:I,s:s,s:s,s:o,s:b,s:b,s:b,s:o,s:o,s:s,s:s,s:s,s:s}", "id",
                     (json_int_t)rn->id, "name", rn->name, "description", rn->description, "tags",
                     tags, "run_untagged", rn->run_untagged, "locked", rn->locked, "paused",
                     rn->paused, "created_at", sl_srv_time_json(rn->created_at), "contacted_at",
                     sl_srv_time_json(rn->contacted_at), "version", rn->version, "platform",
                     rn->platform, "architecture", rn->architecture, "executor", rn->executor);
}

/* The running jobs of remote runners, by worker id ("runner:N") into *OUT: an object of
 * arrays of {"id","name","stage","pipeline_id","started_at"}. One indexed walk of the running
 * jobs (jobs_queue starts with status), however many runners there are. */
static int running_jobs(struct req *r, json_t **out, struct sl_error *err)
{
    struct sl_store_page page = {.limit = SL_STORE_LIST_MAX, .status = "running"};
    json_t *by = json_object();
    int rc;
    for (;;) {
        struct sl_store_job *js = NULL;
        size_t n = 0;
        if ((rc = sl_store_job_list(r->s->st, &page, &js, &n, err)) < 0)
            break;
        for (size_t i = 0; i < n; i++) {
            const struct sl_store_job *j = &js[i];
            if (!j->runner_id || strncmp(j->runner_id, "runner:", 7) != 0)
                continue; /* a built-in worker's */
            json_t *list = json_object_get(by, j->runner_id);
            if (!list) {
                list = json_array();
                json_object_set_new(by, j->runner_id, list);
            }
            json_array_append_new(list, json_pack("{s:I,s:s,s:s,s:I,s:o}", "id", (json_int_t)j->id,
                                                  "name", j->name, "stage", j->stage, "pipeline_id",
                                                  (json_int_t)j->pipeline_id, "started_at",
                                                  sl_srv_time_json(j->started_at)));
        }
        if (n)
            page.after = js[n - 1].id;
        sl_store_jobs_free(js, n);
        if (n < SL_STORE_LIST_MAX)
            break;
    }
    if (rc < 0)
        json_decref(by);
    else
        *out = by;
    return rc;
}

/* RN's JSON with "running": the jobs it runs, from BY (running_jobs). */
static json_t *runner_with_jobs(const struct sl_store_runner *rn, json_t *by)
{
    char key[48];
    snprintf(key, sizeof(key), "runner:%" PRId64, rn->id);
    json_t *o = sl_srv_runner_json(rn), *list = json_object_get(by, key);
    json_object_set_new(o, "running", list ? json_incref(list) : json_array());
    return o;
}

void sl_h_runner_create(struct req *r)
{
    json_t *body = sl_body_json(r);
    struct sl_store_runner rn = {0};
    struct sl_error err = SL_ERROR_INIT;
    char *token = NULL;
    int64_t id = 0;
    size_t cap = 0;
    if (!body)
        return;
    json_t *tags = json_object_get(body, "tags"), *t;
    size_t i;
    if (tags && !json_is_array(tags)) {
        sl_reply_error(r, 400, "invalid", "tags must be an array of strings");
        goto out;
    }
    json_array_foreach(tags, i, t)
    {
        if (!json_is_string(t)) {
            sl_reply_error(r, 400, "invalid", "tags must be an array of strings");
            goto out;
        }
        SL_GROW(rn.tags, cap, rn.ntags + 1);
        rn.tags[rn.ntags++] = sl_xstrdup(json_string_value(t));
    }
    const char *name = json_string_value(json_object_get(body, "name"));
    const char *desc = json_string_value(json_object_get(body, "description"));
    rn.name = sl_xstrdup(name ? name : "");
    rn.description = sl_xstrdup(desc ? desc : rn.name);
    json_t *ru = json_object_get(body, "run_untagged");
    rn.run_untagged = json_is_boolean(ru) ? json_is_true(ru) : rn.ntags == 0;
    rn.locked = json_is_true(json_object_get(body, "locked"));
    rn.paused = json_is_true(json_object_get(body, "paused"));
    int rc = sl_store_runner_create(r->s->st, &rn, sl_time_now_ms(), &token, &id, &err);
    if (rc < 0) {
        sl_reply_sl_error(r, rc, &err);
        goto out;
    }
    sl_srv_audit_on(r, "runner.create", "runner", id);
    struct sl_store_runner got = {0};
    if (sl_store_runner_get(r->s->st, id, &got, &err) < 0) {
        sl_reply_sl_error(r, SL_ESTORE, &err);
        goto out;
    }
    json_t *o = sl_srv_runner_json(&got);
    json_object_set_new(o, "token", json_string(token));
    sl_store_runner_release(&got);
    sl_reply_json(r, 201, o);
out:
    free(token);
    sl_store_runner_release(&rn);
    sl_error_release(&err);
    json_decref(body);
}

void sl_h_runner_list(struct req *r)
{
    struct sl_store_page page;
    struct sl_store_runner *arr = NULL;
    size_t n = 0;
    struct sl_error err = SL_ERROR_INIT;
    json_t *by = NULL;
    if (!sl_srv_page_args(r, &page))
        return;
    int rc = sl_store_runner_list(r->s->st, &page, &arr, &n, &err);
    if (rc == 0)
        rc = running_jobs(r, &by, &err);
    if (rc < 0) {
        sl_reply_sl_error(r, rc, &err);
    } else {
        json_t *a = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(a, runner_with_jobs(&arr[i], by));
        sl_reply_json(r, 200, json_pack("{s:o}", "runners", a));
    }
    json_decref(by);
    sl_store_runners_free(arr, n);
    sl_error_release(&err);
}

void sl_h_runner_get(struct req *r)
{
    struct sl_store_runner rn = {0};
    struct sl_error err = SL_ERROR_INIT;
    json_t *by = NULL;
    int rc = sl_store_runner_get(r->s->st, r->id, &rn, &err);
    if (rc == 0)
        rc = running_jobs(r, &by, &err);
    if (rc < 0)
        sl_reply_sl_error(r, rc, &err);
    else
        sl_reply_json(r, 200, runner_with_jobs(&rn, by));
    json_decref(by);
    sl_store_runner_release(&rn);
    sl_error_release(&err);
}

static void set_paused(struct req *r, bool paused)
{
    struct sl_error err = SL_ERROR_INIT;
    int rc = sl_store_runner_set_paused(r->s->st, r->id, paused, &err);
    if (rc < 0) {
        sl_reply_sl_error(r, rc, &err);
    } else {
        sl_srv_audit_on(r, paused ? "runner.pause" : "runner.resume", "runner", r->id);
        sl_h_runner_get(r);
        if (!paused)
            sl_srv_runners_wake(r->s); /* its held request may take a job now */
    }
    sl_error_release(&err);
}

void sl_h_runner_pause(struct req *r)
{
    set_paused(r, true);
}

void sl_h_runner_resume(struct req *r)
{
    set_paused(r, false);
}

void sl_h_runner_delete(struct req *r)
{
    struct sl_error err = SL_ERROR_INIT;
    int rc = sl_store_runner_delete(r->s->st, r->id, &err);
    if (rc < 0) {
        sl_reply_sl_error(r, rc, &err);
    } else {
        sl_srv_audit_on(r, "runner.delete", "runner", r->id);
        sl_str_reset(&r->out);
        r->status = 204;
    }
    sl_error_release(&err);
}

/* Whether runner RN takes JOB: its tags cover the job's, and an untagged job only on a
 * runner that runs untagged jobs (as the claim's filter decides). */
static bool runner_takes(const struct sl_store_runner *rn, const struct sl_store_job *job)
{
    if (job->ntags == 0)
        return rn->run_untagged;
    for (size_t i = 0; i < job->ntags; i++) {
        size_t k;
        for (k = 0; k < rn->ntags && strcmp(rn->tags[k], job->tags[i]) != 0; k++)
            ;
        if (k == rn->ntags)
            return false;
    }
    return true;
}

char *sl_srv_runner_stuck_reason(struct sl_server *s, const struct sl_store_job *job, int64_t now)
{
    struct sl_store_page page = {0, SL_STORE_LIST_MAX, NULL};
    struct sl_store_runner *rns = NULL;
    size_t n = 0;
    bool online = false, takes = false;
    char *why = NULL;
    /* the built-in workers take any job; a job no one could list runners for is not stuck
     * on that account */
    if (strcmp(job->status, "pending") != 0 || s->nworkers > 0)
        return NULL;
    /* every runner, page by page (a fleet is small; the cap keeps a huge one bounded) */
    for (int pages = 0; pages < 100; pages++) {
        if (sl_store_runner_list(s->st, &page, &rns, &n, NULL) < 0)
            return NULL;
        for (size_t i = 0; i < n; i++) {
            if (rns[i].paused || !rns[i].contacted_at ||
                now - rns[i].contacted_at > (int64_t)SRV_RUNNER_ONLINE_S * 1000)
                continue;
            online = true;
            takes = takes || runner_takes(&rns[i], job);
        }
        int64_t last = n ? rns[n - 1].id : 0;
        sl_store_runners_free(rns, n);
        rns = NULL;
        if (takes || n < SL_STORE_LIST_MAX)
            break;
        page.after = last;
        n = 0;
    }
    if (takes)
        return NULL;
    /* GitLab's wording (the job page's stuck hint) */
    if (!online) {
        why = sl_xstrdup("This job is stuck because the project doesn't have any runners online "
                         "assigned to it.");
    } else if (job->ntags == 0) {
        why = sl_xstrdup("This job is stuck because you don't have any active runners that can "
                         "run this job.");
    } else {
        struct sl_str t = SL_STR_INIT;
        sl_str_adds(&t, "This job is stuck because you don't have any active runners online or "
                        "available with any of these tags assigned to them:");
        for (size_t i = 0; i < job->ntags; i++)
            sl_str_addf(&t, "%s %s", i ? "," : "", job->tags[i]);
        why = sl_str_detach(&t);
    }
    return why;
}
