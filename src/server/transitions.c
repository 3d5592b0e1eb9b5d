/* transitions.c: one pipeline event at a time. The pipeline's machine is rebuilt from the
 * stored jobs (sl_sched_restore), the event applied, and every job whose status changed is
 * written back with a compare-and-set on the status it was read with (a new attempt is a
 * new job: the retried one keeps its row, sl_store_job_retry); then the
 * pipeline's status. The machine is never kept in memory, so a restart, another server or
 * a crash between two writes changes nothing: the next event settles what was missed. */
#include "base/compat.h"
#include "base/alloc.h"
#include "base/log.h"
#include "base/time.h"
#include "server/internal.h"

static bool terminal(enum sl_sched_status st)
{
    return st == SL_SCHED_SUCCESS || st == SL_SCHED_FAILED || st == SL_SCHED_CANCELED ||
           st == SL_SCHED_SKIPPED;
}

/* Whether the parsed view V of job I of N fits its pipeline as the scheduler checks it:
 * a spec that parses but was altered (needs out of range, another stage than its row's, a
 * retry count the scheduler refuses) must not make every later transition of the pipeline
 * fail. */
static bool view_fits(const struct srv_spec_view *v, const struct sl_store_job *row, size_t i,
                      size_t n)
{
    const struct sl_sched_job *sj = &v->sched;
    if (sj->stage != row->stage_idx || sj->retry_max < 0 || sj->retry_max > SL_SCHED_MAX_RETRY ||
        (unsigned)sj->when > SL_SCHED_DELAYED || sj->start_in_ms < 0 ||
        v->nstages > SL_SCHED_MAX_JOBS)
        return false;
    for (size_t t = 0; t < sj->nneeds; t++)
        if (sj->needs[t] >= n || sj->needs[t] == i)
            return false;
    return true;
}

/* The view of a job whose stored spec is corrupt, from its row's own columns (stage, when,
 * allow_failure): it is scheduled as a job without needs or retries, and fails where its
 * spec is decoded (a worker, the runner API), instead of wedging its pipeline. */
static void view_from_row(const struct sl_store_job *row, struct srv_spec_view *v)
{
    enum sl_sched_when w = SL_SCHED_ON_SUCCESS;
    memset(v, 0, sizeof(*v));
    v->sched.stage = row->stage_idx >= 0 && row->stage_idx < SL_SCHED_MAX_JOBS ? row->stage_idx : 0;
    if (row->when)
        sl_sched_when_parse(row->when, &w);
    v->sched.when = w == SL_SCHED_DELAYED ? SL_SCHED_ON_SUCCESS : w; /* its delay is in the spec */
    v->sched.allow_failure = row->allow_failure;
}

static void saved_from_row(const struct sl_store_job *j, struct sl_sched_saved *sv)
{
    enum sl_sched_status st = SL_SCHED_CREATED;
    enum sl_sched_failure f = SL_SCHED_FAILURE_NONE;
    /* a job waiting for its resource group is ready as far as its pipeline knows: the
     * group, not the machine, says when it is queued (resource_group.c) */
    if (!strcmp(j->status, "waiting_for_resource"))
        st = SL_SCHED_PENDING;
    else
        sl_sched_status_parse(j->status, &st);
    if (j->failure_reason && sl_sched_failure_parse(j->failure_reason, &f) < 0)
        f = SL_SCHED_FAILURE_UNKNOWN;
    sv->status = st;
    sv->attempt = j->attempt > 0 ? j->attempt : 1;
    sv->exit_code = j->has_exit_code ? j->exit_code : SL_SCHED_NO_EXIT_CODE;
    sv->failure = f;
    sv->due_ms = j->due_at;
}

/* A new attempt of row J (GitLab's retry: a new job, Ci::RetryJobService): J keeps the
 * outcome it has, or, still running, the one FIN (the event that ended it; NULL: none
 * known) says, and is marked retried; the copy at its position gets the machine's state. */
static int retry_as_new_job(struct sl_server *s, const struct sl_store_pipeline *p,
                            struct sl_sched *m, size_t i, struct sl_store_job *j,
                            enum sl_sched_status st, const struct srv_finish *fin, int64_t now,
                            struct sl_error *err)
{
    struct sl_store_job next = {0};
    enum sl_sched_status was = SL_SCHED_CREATED;
    sl_sched_status_parse(j->status, &was);
    char *old_status = sl_xstrdup(j->status);
    if (!terminal(was)) {
        enum sl_sched_failure f = fin ? fin->reason : SL_SCHED_FAILURE_UNKNOWN;
        if (f == SL_SCHED_FAILURE_NONE)
            f = SL_SCHED_FAILURE_UNKNOWN;
        free(j->status);
        j->status = sl_xstrdup("failed");
        free(j->failure_reason);
        j->failure_reason = sl_xstrdup(sl_sched_failure_name(f));
        j->has_exit_code = fin && fin->exit_code != SL_SCHED_NO_EXIT_CODE;
        j->exit_code = fin ? fin->exit_code : 0;
    }
    if (!j->finished_at)
        j->finished_at = now;
    next.status = (char *)sl_srv_job_status_store(st, j->resource_group_id != 0);
    next.attempt = sl_sched_job_attempt(m, i);
    next.due_at = st == SL_SCHED_SCHEDULED ? sl_sched_job_due(m, i) : 0;
    int64_t new_id = 0;
    int rc = sl_store_job_retry(s->st, j, old_status, &next, &new_id, err);
    if (rc == 0) {
        char a[32], b[32];
        snprintf(a, sizeof(a), "%lld", (long long)j->id);
        snprintf(b, sizeof(b), "%lld", (long long)new_id);
        sl_log(SL_LOG_INFO, "job retried as a new job", "job_id", a, "new_job_id", b, "name",
               j->name, NULL);
        atomic_fetch_add(&s->metrics.jobs_retried, 1);
        /* an attempt ended by this event (an automatic retry): its deployment ends with it,
         * or it would stay running */
        if (!terminal(was))
            sl_srv_deploy_job_moved(s, j->id, j->status);
        sl_srv_deploy_job_retried(s, j->id, new_id);
        /* the row now stands for the new attempt (pending is what the caller looks for) */
        j->id = new_id;
        free(j->status);
        j->status = sl_xstrdup(next.status);
        sl_srv_deploy_job_moved(s, new_id, next.status);
        sl_srv_job_reported_of(s, j, p);
    }
    free(old_status);
    return rc;
}

/* Writes job I's new state from the machine into row J (read with status OLD). FIN: the
 * end of job I's attempt when that is the event (else NULL). */
static int persist_job(struct sl_server *s, const struct sl_store_pipeline *p, struct sl_sched *m,
                       size_t i, struct sl_store_job *j, bool kill, const struct srv_finish *fin,
                       int64_t now, struct sl_error *err)
{
    enum sl_sched_status st = kill ? SL_SCHED_CANCELED : sl_sched_job_status(m, i);
    int attempt = sl_sched_job_attempt(m, i);
    char *old = sl_xstrdup(j->status);
    enum sl_sched_status was = SL_SCHED_CREATED;
    sl_sched_status_parse(old, &was);
    int rc = 0;
    if (st == was && attempt == j->attempt && !kill)
        goto out;
    if (kill && sl_srv_job_on_remote_runner(j) && !j->cancel_requested_at) {
        /* GitLab's canceling: the runner hears it (Job-Status: canceling), runs after_script
         * and reports; the job is canceled then (a kill again, runner_api.c), or when its
         * lease lapses. The machine goes on as if it were canceled. */
        rc = sl_store_job_request_cancel(s->st, j->id, j->runner_id, now, err);
        if (rc == 0)
            j->cancel_requested_at = now;
        goto out;
    }
    if (attempt != j->attempt && !kill) {
        rc = retry_as_new_job(s, p, m, i, j, st, fin, now, err);
        goto out;
    }
    free(j->status);
    j->status = sl_xstrdup(sl_srv_job_status_store(st, j->resource_group_id != 0));
    if (st == SL_SCHED_PENDING) {
        j->queued_at = 0;
        j->started_at = 0;
        j->finished_at = 0;
        j->has_exit_code = false;
        free(j->failure_reason);
        j->failure_reason = NULL;
        free(j->runner_id);
        j->runner_id = NULL;
        j->lease_deadline = 0;
    }
    if (st == SL_SCHED_SCHEDULED)
        j->due_at = sl_sched_job_due(m, i);
    if (terminal(st)) {
        if (!j->finished_at)
            j->finished_at = now;
        /* runner_id stays: the job API says who ran it, also after it ended */
        j->lease_deadline = 0;
        enum sl_sched_failure f = sl_sched_job_failure(m, i);
        free(j->failure_reason);
        j->failure_reason =
            st == SL_SCHED_FAILED || (st == SL_SCHED_CANCELED && !kill)
                ? (f != SL_SCHED_FAILURE_NONE ? sl_xstrdup(sl_sched_failure_name(f)) : NULL)
                : NULL;
        int code = sl_sched_job_exit_code(m, i);
        j->has_exit_code = code != SL_SCHED_NO_EXIT_CODE && st != SL_SCHED_SKIPPED;
        j->exit_code = code;
    }
    rc = sl_store_job_update(s->st, j, old, err);
    if (rc == 0) {
        sl_srv_deploy_job_moved(s, j->id, j->status);
        sl_srv_job_reported_of(s, j, p); /* the row as written, of the transition's pipeline */
    }
out:
    free(old);
    return rc;
}

static int persist_pipeline(struct sl_server *s, struct sl_store_pipeline *p, struct sl_sched *m,
                            int64_t now, bool *moved, struct sl_error *err)
{
    enum sl_sched_status st = sl_sched_status(m);
    const char *name = sl_sched_status_name(st);
    bool finished = sl_sched_is_finished(m);
    bool started = st != SL_SCHED_CREATED && st != SL_SCHED_PENDING;
    int64_t started_at = p->started_at ? p->started_at : (started ? now : 0);
    int64_t finished_at = finished ? (p->finished_at ? p->finished_at : now) : 0;
    if (!strcmp(p->status, name) && started_at == p->started_at && finished_at == p->finished_at)
        return 0;
    char *old = p->status;
    p->status = sl_xstrdup(name);
    p->started_at = started_at;
    p->finished_at = finished_at;
    int rc = sl_store_pipeline_update(s->st, p, err);
    /* queued in the transition's transaction: a status change and its report are one */
    if (rc == 0 && strcmp(old, name) != 0) {
        sl_srv_pipeline_reported(s, p, old);
        *moved = true;
    }
    free(old);
    return rc;
}

/* The specs of the N JOBS (read without them) into their rows, from the pipeline's full
 * list (in the transition's transaction: the same rows), or one by one if it differs. */
static int specs_of(struct sl_server *s, int64_t pipeline_id, struct sl_store_job *jobs, size_t n,
                    struct sl_error *err)
{
    struct sl_store_job *full = NULL;
    size_t nf = 0;
    int rc = sl_store_job_list_by_pipeline(s->st, pipeline_id, &full, &nf, err);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (i < nf && full[i].id == jobs[i].id) {
            free(jobs[i].spec);
            jobs[i].spec = full[i].spec;
            full[i].spec = NULL;
            continue;
        }
        struct sl_store_job one = {0};
        if ((rc = sl_store_job_get(s->st, jobs[i].id, &one, err)) == 0) {
            free(jobs[i].spec);
            jobs[i].spec = one.spec;
            one.spec = NULL;
        }
        sl_store_job_release(&one);
    }
    sl_store_jobs_free(full, nf);
    return rc;
}

/* Applies EV to pipeline P, its row as read in the transition's transaction (and left as
 * written). */
static int apply(struct sl_server *s, struct sl_store_pipeline *p, enum srv_event ev, size_t pos,
                 const struct srv_finish *fin, bool force_running, bool *lost_race,
                 bool *fire_bridges, bool *settle_upstream, bool *groups, int64_t *retried,
                 bool *moved, struct sl_error *err)
{
    int64_t pipeline_id = p->id;
    struct sl_store_job *jobs = NULL;
    struct sl_sched_job *sj = NULL;
    struct sl_sched_saved *saved = NULL;
    struct sl_sched *m = NULL;
    bool *bridge = NULL;
    size_t n = 0, nstages = 1;
    int64_t now = sl_time_now_ms();
    int rc = 0;
    bool woke = false, with_specs = false;

    if (p->hold_reason && ev != SRV_EV_CANCEL_PIPELINE) {
        /* held for a maintainer (a fork's merge request): nothing starts before the
         * approval, whose settle is the first event it takes; cancel still ends it */
        if (ev != SRV_EV_SETTLE)
            rc = sl_error_set(err, SL_EBUSY, "pipeline %lld waits for a maintainer's approval",
                              (long long)pipeline_id);
        goto out;
    }
    /* the rows without their specs: a job's parsed view is cached (spec_view.c), and a
     * pipeline of N jobs would read N specs at each of its N jobs' events; the specs are
     * read (once, all of them) only when a view is not cached */
    if ((rc = sl_store_job_list_by_pipeline_no_spec(s->st, pipeline_id, &jobs, &n, err)) < 0)
        goto out;
    if (n == 0) /* a pipeline that failed to compile: nothing to schedule */
        goto out;
    if ((ev != SRV_EV_SETTLE && ev != SRV_EV_CANCEL_PIPELINE) && pos >= n) {
        rc = sl_error_set(err, SL_ENOENT, "no job at position %zu", pos);
        goto out;
    }
    sj = sl_xcalloc(n, sizeof(*sj));
    saved = sl_xcalloc(n, sizeof(*saved));
    bridge = sl_xcalloc(n, sizeof(*bridge));
    for (size_t i = 0; i < n; i++) {
        struct srv_spec_view v;
        struct sl_error verr = SL_ERROR_INIT;
        bool fits = sl_srv_spec_view_cached(s->spec_views, jobs[i].id, &v);
        if (!fits && !with_specs) {
            if ((rc = specs_of(s, pipeline_id, jobs, n, err)) < 0)
                goto out;
            with_specs = true;
        }
        if (!fits)
            fits = sl_srv_spec_view_get(s->spec_views, jobs[i].id, jobs[i].spec, &v, &verr) == 0;
        if (fits && !view_fits(&v, &jobs[i], i, n)) {
            sl_srv_spec_view_release(&v);
            fits = false;
            sl_error_set(&verr, SL_EINVAL, "job spec: does not fit its pipeline");
        }
        if (!fits) {
            sl_log(SL_LOG_ERROR, "a job's stored spec is corrupt: scheduled from its row", "job",
                   jobs[i].name, "error", sl_error_format(&verr), NULL);
            atomic_fetch_add(&s->metrics.store_errors, 1);
            view_from_row(&jobs[i], &v);
        }
        sl_error_release(&verr);
        sj[i] = v.sched; /* its arrays are now sj[i]'s */
        sj[i].name = jobs[i].name;
        bridge[i] = v.bridge;
        saved_from_row(&jobs[i], &saved[i]);
        if (jobs[i].stage_idx + 1 > (int)nstages)
            nstages = (size_t)jobs[i].stage_idx + 1;
        /* the spec knows the full stage count (stages without jobs of this ref count too) */
        if (v.nstages > nstages)
            nstages = v.nstages;
    }
    if (force_running && pos < n)
        saved[pos].status = SL_SCHED_RUNNING;
    if (ev == SRV_EV_FINISHED && !force_running) {
        if (strcmp(jobs[pos].status, "running") != 0 ||
            (fin->job_id && jobs[pos].id != fin->job_id) ||
            (fin->worker_id && jobs[pos].runner_id &&
             strcmp(jobs[pos].runner_id, fin->worker_id) != 0))
            ev = SRV_EV_SETTLE; /* canceled or taken over meanwhile: its end changes nothing */
    }
    if ((rc = sl_sched_restore(&m, sj, n, nstages, saved, now, err)) < 0)
        goto out;
    switch (ev) {
    case SRV_EV_SETTLE:
        rc = sl_sched_tick(m, now, err);
        break;
    case SRV_EV_FINISHED:
        rc = sl_sched_job_finished(m, pos, fin->reason, fin->exit_code, now, err);
        break;
    case SRV_EV_PLAY:
        rc = sl_sched_play(m, pos, now, err);
        break;
    case SRV_EV_RETRY:
        rc = sl_sched_retry_job(m, pos, now, err);
        break;
    case SRV_EV_CANCEL_JOB:
        rc = sl_sched_cancel_job(m, pos, now, err);
        break;
    case SRV_EV_CANCEL_PIPELINE:
        rc = sl_sched_cancel(m, now, err);
        break;
    }
    if (rc < 0)
        goto out;
    /* a bridge job that became pending is the server's to run (bridge.c), not a runner's */
    for (size_t i = 0; i < n; i++)
        if (sl_sched_job_status(m, i) == SL_SCHED_PENDING && bridge[i]) {
            sl_sched_job_started(m, i, now, NULL);
            jobs[i].lease_deadline = sl_srv_bridge_unfired_lease(s, now);
            *fire_bridges = true;
        }
    size_t nch = 0;
    const struct sl_sched_change *ch = sl_sched_changes(m, &nch);
    bool *kill = sl_xcalloc(n, sizeof(bool));
    for (size_t k = 0; k < nch; k++)
        if (ch[k].kill && ch[k].job < n)
            kill[ch[k].job] = true;
    for (size_t i = 0; i < n; i++) {
        struct sl_error jerr = SL_ERROR_INIT;
        int64_t was_id = jobs[i].id;
        int jrc = persist_job(s, p, m, i, &jobs[i], kill[i],
                              ev == SRV_EV_FINISHED && i == pos ? fin : NULL, now, &jerr);
        if (jrc == SL_EBUSY) {
            *lost_race = true; /* claimed or finished meanwhile */
        } else if (jrc < 0) {
            sl_log(SL_LOG_ERROR, "cannot store a job's status", "job", jobs[i].name, "error",
                   sl_error_format(&jerr), NULL);
            atomic_fetch_add(&s->metrics.store_errors, 1);
        }
        if (jrc == 0 && !strcmp(jobs[i].status, "pending"))
            woke = true;
        if (jrc == 0 && jobs[i].resource_group_id)
            *groups = true;
        /* the attempt that ended was retried automatically (retry:): a new job */
        if (jrc == 0 && ev == SRV_EV_FINISHED && i == pos && jobs[i].id != was_id)
            *retried = jobs[i].id;
        sl_error_release(&jerr);
    }
    free(kill);
    bool was_finished = p->finished_at != 0;
    rc = persist_pipeline(s, p, m, now, moved, err);
    if (rc == 0 && p->parent_job_id && !was_finished && p->finished_at)
        *settle_upstream = true;
out:
    if (woke)
        sl_srv_workers_wake(s);
    sl_sched_free(m);
    if (sj)
        for (size_t i = 0; i < n; i++)
            sl_srv_sched_job_release(&sj[i]);
    free(sj);
    free(saved);
    free(bridge);
    sl_store_jobs_free(jobs, n);
    return rc;
}

/* sl_srv_transition_after, on HELD (the pipeline's row as the caller read it in its open
 * transaction, left as written) or, NULL, on the row of PIPELINE_ID read in the transition's
 * transaction. */
static int transition(struct sl_server *s, int64_t pipeline_id, struct sl_store_pipeline *held,
                      enum srv_event ev, size_t job_pos, const struct srv_finish *fin,
                      bool force_running, srv_tx_first_fn first, void *arg, struct sl_error *err)
{
    struct sl_store_pipeline read = {0};
    struct sl_store_pipeline *p = held;
    int rc;
    /* One store transaction holding the pipeline's row (store.h): a crash mid-transition
     * leaves pipeline and jobs as they were, and two servers on one PostgreSQL finishing two
     * jobs of a pipeline at once take turns, so what they decide is decided once. A
     * transition started from inside another (SL_EBUSY: this thread's transaction is open)
     * runs in that one. */
    /* a job that printed a secret fails when its project's policy says so (secret_scan.c);
     * read before the transaction, which holds the pipeline row */
    /* (with FIRST, whose writes (a log's last bytes) may be what fails the job, read in the
     * transaction after it) */
    struct srv_finish secret_fin;
    if (!first && ev == SRV_EV_FINISHED && fin && fin->reason == SL_SCHED_FAILURE_NONE &&
        sl_srv_secret_fails_job(s, pipeline_id, 0, fin->job_id)) {
        secret_fin = *fin;
        secret_fin.reason = SL_SCHED_FAILURE_SECRET_DETECTED;
        fin = &secret_fin;
    }
    int trc = sl_store_tx_begin(s->st, pipeline_id, err);
    if (trc < 0 && trc != SL_EBUSY)
        return trc;
    if (trc == SL_EBUSY)
        sl_error_release(err);
    bool fire = false, settle = false, groups = false;
    bool lost = false, moved = false;
    int64_t retried = 0;
    rc = first ? first(s, arg, err) : 0;
    if (rc == 1) { /* FIRST's writes alone */
        rc = 0;
        goto end;
    }
    /* read once, after FIRST's writes: the secret check and the event take it */
    if (rc == 0 && !p) {
        rc = sl_store_pipeline_get(s->st, pipeline_id, &read, err);
        p = &read;
    }
    if (rc == 0 && first && ev == SRV_EV_FINISHED && fin && fin->reason == SL_SCHED_FAILURE_NONE &&
        sl_srv_secret_fails_job(s, pipeline_id, p->project_id, fin->job_id)) {
        secret_fin = *fin;
        secret_fin.reason = SL_SCHED_FAILURE_SECRET_DETECTED;
        fin = &secret_fin;
    }
    if (rc == 0)
        rc = apply(s, p, ev, job_pos, fin, force_running, &lost, &fire, &settle, &groups, &retried,
                   &moved, err);
    /* A pending job claimed between our read and our write: cancel again so the claimed
     * (now running) job is asked to stop too. */
    for (int tries = 0; rc == 0 && lost && tries < 3 && ev == SRV_EV_CANCEL_PIPELINE; tries++) {
        lost = false;
        rc = apply(s, p, ev, job_pos, fin, false, &lost, &fire, &settle, &groups, &retried, &moved,
                   err);
    }
    /* an automatic retry of a deployment that needs approvals waits for them again, in this
     * transaction: no worker claims the new attempt first */
    if (rc == 0 && retried)
        rc = sl_srv_deploy_auto_retried(s, retried, err);
end:
    sl_store_pipeline_release(&read);
    if (trc == 0)
        rc = sl_store_tx_end(s->st, rc, err);
    /* the pipeline's status changed: its held waits (api.c) read it again, after the commit
     * (nested in a caller's transaction, before it: they see it at their next look, or the
     * caller wakes them, as sl_srv_deploy_job_event does) */
    if (rc == 0 && moved)
        sl_srv_hold_wake(s, pipeline_id);
    /* a job of a resource group moved: the group's resource may go to the next in line (in
     * a transaction of its own after ours, so no lock is ever taken in the other order;
     * nested in a caller's transaction, the ticker does it) */
    if (rc == 0 && groups && trc == 0)
        sl_srv_resource_groups_kick(s, pipeline_id);
    /* workflow:auto_cancel:on_job_failure: all (a transition of its own, so outside) */
    if (rc == 0 && ev == SRV_EV_FINISHED && fin && fin->reason != SL_SCHED_FAILURE_NONE)
        sl_srv_auto_cancel_on_failure(s, pipeline_id, job_pos);
    /* downstream pipelines are made and told of after the transaction: they transition too */
    if (fire)
        sl_srv_bridges_fire(s, pipeline_id);
    if (settle)
        sl_srv_bridge_upstream_settle(s, pipeline_id);
    return rc;
}

int sl_srv_transition(struct sl_server *s, int64_t pipeline_id, enum srv_event ev, size_t job_pos,
                      const struct srv_finish *fin, bool force_running, struct sl_error *err)
{
    return transition(s, pipeline_id, NULL, ev, job_pos, fin, force_running, NULL, NULL, err);
}

int sl_srv_transition_of(struct sl_server *s, struct sl_store_pipeline *p, enum srv_event ev,
                         size_t job_pos, const struct srv_finish *fin, struct sl_error *err)
{
    return transition(s, p->id, p, ev, job_pos, fin, false, NULL, NULL, err);
}

int sl_srv_transition_after(struct sl_server *s, int64_t pipeline_id, enum srv_event ev,
                            size_t job_pos, const struct srv_finish *fin, bool force_running,
                            srv_tx_first_fn first, void *arg, struct sl_error *err)
{
    return transition(s, pipeline_id, NULL, ev, job_pos, fin, force_running, first, arg, err);
}
