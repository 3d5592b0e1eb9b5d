/* auto_cancel.c: GitLab's workflow:auto_cancel on the server (internal.h).
 *
 * on_new_commit, as GitLab's Ci::PipelineCreation::CancelRedundantPipelinesService: a new
 * branch pipeline looks at the older pipelines of the same project and branch that can
 * still be canceled (created, pending, running, scheduled), made in the last 7 days for
 * another commit than its own, and treats each as that pipeline's own setting says:
 *  - conservative (the default): cancels it whole when its started jobs are all
 *    interruptible (a job that is not interruptible and has started protects it);
 *  - interruptible: cancels only its interruptible jobs, whatever else runs;
 *  - none: leaves it.
 * Tag pipelines and pipelines of other refs are never touched, nor, for a merge request
 * pipeline, those of another request or of the branch (and for a branch pipeline, merge
 * request pipelines): a request's source branch is a name in another repository.
 *
 * on_job_failure: all: a job that fails (not allowed to, no retry left) cancels the rest
 * of its pipeline. */
#include "base/compat.h"
#include "base/log.h"
#include "base/time.h"
#include "server/internal.h"

static bool spec_flag(const struct sl_store_job *j, const char *key)
{
    json_t *o = sl_srv_stored_json(j->spec, JSON_OBJECT, "job spec", j->id);
    bool v = json_is_true(json_object_get(o, key));
    json_decref(o);
    return v;
}

static bool started(const struct sl_store_job *j)
{
    return j->started_at != 0 || !strcmp(j->status, "running");
}

static bool active(const struct sl_store_job *j)
{
    return !strcmp(j->status, "running") || !strcmp(j->status, "pending") ||
           !strcmp(j->status, "created") || !strcmp(j->status, "scheduled") ||
           !strcmp(j->status, "waiting_for_resource");
}

static void log_failure(const char *what, int64_t pipeline_id, struct sl_error *err)
{
    char id[32];
    snprintf(id, sizeof(id), "%lld", (long long)pipeline_id);
    sl_log(SL_LOG_WARN, what, "pipeline_id", id, "error", sl_error_format(err), NULL);
    sl_error_release(err);
}

/* The on_new_commit setting of a pipeline, kept in its jobs' specs (conservative for
 * pipelines made before it was). */
static const char *mode_of(const struct sl_store_job *jobs, size_t n, char *buf, size_t size)
{
    json_t *o = n ? sl_srv_stored_json(jobs[0].spec, JSON_OBJECT, "job spec", jobs[0].id) : NULL;
    const char *m = json_string_value(json_object_get(o, "auto_cancel_on_new_commit"));
    snprintf(buf, size, "%s", m ? m : "conservative");
    json_decref(o);
    return buf;
}

/* Cancels what its own setting says of the older pipeline OLD. */
static void cancel_older(struct sl_server *s, const struct sl_store_pipeline *old)
{
    struct sl_store_job *jobs = NULL;
    size_t n = 0;
    struct sl_error err = SL_ERROR_INIT;
    if (sl_store_job_list_by_pipeline(s->st, old->id, &jobs, &n, &err) < 0) {
        log_failure("auto-cancel: cannot read a pipeline's jobs", old->id, &err);
        return;
    }
    char mode[32];
    mode_of(jobs, n, mode, sizeof(mode));
    bool whole = !strcmp(mode, "conservative");
    if (!strcmp(mode, "none")) {
        sl_store_jobs_free(jobs, n);
        return;
    }
    bool protected_ = false;
    for (size_t i = 0; i < n; i++)
        if (started(&jobs[i]) && !spec_flag(&jobs[i], "interruptible"))
            protected_ = true;
    char id[32];
    snprintf(id, sizeof(id), "%lld", (long long)old->id);
    if (whole && !protected_) {
        if (sl_srv_transition(s, old->id, SRV_EV_CANCEL_PIPELINE, 0, NULL, false, &err) < 0)
            log_failure("auto-cancel: cannot cancel a pipeline", old->id, &err);
        else
            sl_log(SL_LOG_INFO, "auto-canceled a redundant pipeline", "pipeline_id", id, NULL);
    } else if (!whole) {
        for (size_t i = 0; i < n; i++) {
            if (!active(&jobs[i]) || !spec_flag(&jobs[i], "interruptible"))
                continue;
            if (sl_srv_transition(s, old->id, SRV_EV_CANCEL_JOB, (size_t)jobs[i].position, NULL,
                                  false, &err) < 0)
                log_failure("auto-cancel: cannot cancel a job", old->id, &err);
        }
        sl_log(SL_LOG_INFO, "auto-canceled the interruptible jobs of a pipeline", "pipeline_id", id,
               NULL);
    }
    sl_store_jobs_free(jobs, n);
}

#define AUTO_CANCEL_MAX_AGE_MS (7LL * 86400 * 1000) /* GitLab's pipelines_created_after */

void sl_srv_auto_cancel_redundant(struct sl_server *s, const struct sl_store_pipeline *p)
{
    if (p->is_tag || (p->source && !strcmp(p->source, "parent_pipeline")))
        return; /* GitLab: a child pipeline cancels nothing */
    int64_t now = sl_time_now_ms();
    /* the older ones of its ref that can still be canceled, in one query (not one per
     * status: each scanned the project's pipelines) */
    struct sl_store_pipeline *older = NULL;
    size_t n = 0;
    struct sl_error err = SL_ERROR_INIT;
    if (sl_store_pipeline_list_cancelable(s->st, p->project_id, p->ref, p->id, &older, &n, &err) <
        0) {
        log_failure("auto-cancel: cannot list pipelines", p->id, &err);
        return;
    }
    for (size_t i = 0; i < n; i++)
        /* GitLab's: a merge request pipeline's redundant ones are its request's, a
         * branch pipeline's its branch's; a request's source branch is only a name (a
         * fork's "main" is not the project's main) */
        if (older[i].id < p->id && !older[i].is_tag && !strcmp(older[i].ref, p->ref) &&
            older[i].merge_request_iid == p->merge_request_iid && strcmp(older[i].sha, p->sha) &&
            older[i].created_at + AUTO_CANCEL_MAX_AGE_MS > now)
            cancel_older(s, &older[i]);
    sl_store_pipelines_free(older, n);
}

void sl_srv_auto_cancel_on_failure(struct sl_server *s, int64_t pipeline_id, size_t pos)
{
    struct sl_store_job *jobs = NULL;
    size_t n = 0;
    struct sl_error err = SL_ERROR_INIT;
    if (sl_store_job_list_by_pipeline(s->st, pipeline_id, &jobs, &n, &err) < 0) {
        log_failure("auto-cancel: cannot read a pipeline's jobs", pipeline_id, &err);
        return;
    }
    bool cancel = pos < n && !strcmp(jobs[pos].status, "failed") && !jobs[pos].allow_failure &&
                  spec_flag(&jobs[pos], "cancel_pipeline_on_failure");
    bool others = false;
    for (size_t i = 0; cancel && i < n; i++)
        others = others || (i != pos && active(&jobs[i]));
    sl_store_jobs_free(jobs, n);
    if (!cancel || !others)
        return;
    if (sl_srv_transition(s, pipeline_id, SRV_EV_CANCEL_PIPELINE, 0, NULL, false, &err) < 0)
        log_failure("auto-cancel: cannot cancel a pipeline after a failure", pipeline_id, &err);
}
