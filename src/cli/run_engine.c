/* sl_run_engine.c: drives the run's jobs through the scheduler (sched/pipeline.h) with up to
 * -j job threads, the way the server's workers will: events in (a job ended, time passed,
 * Ctrl-C), transitions out (print them, start what became pending).
 *
 * One mutex guards the scheduler and the run's bookkeeping; job threads touch only their
 * own run_job while they run and hand their end back through a queue. Signals are taken
 * by a dedicated thread with sigwait, so no handler ever touches the mutex. A bridge job's
 * thread runs its child pipeline through a nested engine (run.c's run_bridge_ops) that
 * shares this one's cancel handle. */
#include "base/compat.h"
#include "cli/run.h"
#include "base/alloc.h"
#include "base/fs.h"
#include "base/str.h"
#include "base/time.h"

#include <pthread.h>
#include <signal.h>
#include <time.h>

struct engine {
    struct run_job *jobs;
    size_t n;
    const struct run_options *opts;
    struct run_output *out;
    struct sl_sched *sched;
    struct sl_exec_cancel *cancel;

    pthread_mutex_t mu;
    pthread_cond_t cv;
    size_t running;
    size_t children;  /* child pipelines still running after their bridge job ended */
    size_t *finished; /* queue of job indices that ended, not yet told to the scheduler */
    size_t nfinished, capfinished;
    int signals; /* Ctrl-C count */
    bool cancel_applied;
    int64_t *started_ms;
    /* resource_group: the job of the run holding each job's group (SIZE_MAX: none), and
     * whether a job waiting for its group said so */
    size_t *holder;
    bool *wait_noted;
    /* the thread of each running job (not of bridges, whose thread may outlive its job:
     * detached), joined when its end is told to the scheduler, so that no job thread is
     * still exiting (libgit2's per-thread state freed at its exit) when the run ends */
    pthread_t *tid;
    bool *has_tid;
};

/* The running job that holds job I's resource group, or SIZE_MAX (also when it has none). */
static size_t group_holder(const struct engine *e, size_t i)
{
    const char *g = e->jobs[i].resource_group;
    for (size_t k = 0; g && k < e->n; k++)
        if (e->holder[k] != SIZE_MAX && k != i && e->jobs[k].resource_group &&
            !strcmp(e->jobs[k].resource_group, g))
            return k;
    return SIZE_MAX;
}

struct attempt {
    struct engine *e;
    size_t i;
};

static void print_change(struct engine *e, const struct sl_sched_change *c)
{
    struct run_job *j = &e->jobs[c->job];
    const char *status = sl_sched_status_name(c->to);
    char detail[1024] = "";

    switch (c->to) {
    case SL_SCHED_PENDING:
        if (c->attempt > 1)
            snprintf(detail, sizeof(detail), "retrying, attempt %d", c->attempt);
        else if (c->from == SL_SCHED_MANUAL)
            snprintf(detail, sizeof(detail), "played");
        break;
    case SL_SCHED_RUNNING:
        if (c->kill)
            snprintf(detail, sizeof(detail), "stopping");
        break;
    case SL_SCHED_SUCCESS:
        snprintf(detail, sizeof(detail), "%.2f s", (double)j->duration_ms / 1000);
        break;
    case SL_SCHED_FAILED:
        if (sl_sched_job_failure_allowed(e->sched, c->job))
            status = "warning";
        if (j->trigger) { /* a bridge has no exit code: why its downstream failed */
            snprintf(detail, sizeof(detail), "%s%s: %.900s",
                     sl_sched_job_failure_allowed(e->sched, c->job) ? "allowed to fail: " : "",
                     j->failure && *j->failure ? j->failure : "failed", j->result.message);
            break;
        }
        snprintf(detail, sizeof(detail), "%s%s, exit code %d, %.2f s",
                 sl_sched_job_failure_allowed(e->sched, c->job) ? "allowed to fail: " : "",
                 j->failure && *j->failure ? j->failure : "failed", j->result.exit_code,
                 (double)j->duration_ms / 1000);
        if (j->result.message[0]) {
            size_t l = strlen(detail);
            snprintf(detail + l, sizeof(detail) - l, " (%.600s)", j->result.message);
        }
        break;
    case SL_SCHED_MANUAL:
        snprintf(detail, sizeof(detail), "play it with --manual '%s'", j->name);
        break;
    case SL_SCHED_SCHEDULED: {
        int64_t in = sl_sched_job_due(e->sched, c->job) - sl_time_now_ms();
        snprintf(detail, sizeof(detail), "starts in %.1f s", (double)(in < 0 ? 0 : in) / 1000);
        break;
    }
    default:
        break;
    }
    /* people do not need to see every step; --json readers get them all */
    if (c->to == SL_SCHED_CREATED && c->from == SL_SCHED_CREATED)
        return;
    if (c->to == SL_SCHED_PENDING && !detail[0])
        status = "pending";
    sl_run_output_job_status(e->out, j->name, c->job, status, detail);
}

static bool wants_play(const struct engine *e, size_t i)
{
    for (const char *const *m = e->opts->manual; m && *m; m++)
        if (!strcmp(*m, e->jobs[i].name))
            return true;
    return false;
}

/* Prints the last event's changes, then plays the manual jobs the user asked for as they
 * appear (which is another event, hence the loop). */
static void apply_changes(struct engine *e)
{
    for (;;) {
        size_t n = 0;
        const struct sl_sched_change *c = sl_sched_changes(e->sched, &n);
        size_t play = SIZE_MAX;
        for (size_t k = 0; k < n; k++) {
            print_change(e, &c[k]);
            if (c[k].to == SL_SCHED_MANUAL && play == SIZE_MAX && wants_play(e, c[k].job))
                play = c[k].job;
        }
        if (play == SIZE_MAX || e->signals)
            return;
        sl_sched_play(e->sched, play, sl_time_now_ms(), NULL);
    }
}

/* A job's dotenv report as KEY=VALUE strings for its dependants (sl_jobspec_source).
 * Caller frees each and the array. */
static char **dotenv_kv(const struct sl_dotenv *d)
{
    char **kv = sl_xcalloc(d->n + 1, sizeof(*kv));
    for (size_t i = 0; i < d->n; i++)
        kv[i] = sl_xasprintf("%s=%s", d->vars[i].key, d->vars[i].value);
    return kv;
}

/* On the terminal each piece of an overlong line is shown as a line (the log file keeps the
 * line whole). */
static void on_line(void *ctx, enum sl_exec_stream stream, const char *line, size_t len,
                    bool ends_line)
{
    (void)ends_line;
    struct attempt *a = ctx;
    sl_run_output_line(a->e->out, a->e->jobs[a->i].name, a->i, stream, line, len);
}

/* Hands job I's end to the engine (under the lock). */
static void job_ended(struct engine *e, size_t i)
{
    SL_GROW(e->finished, e->capfinished, e->nfinished + 1);
    e->finished[e->nfinished++] = i;
    e->running--;
    pthread_cond_broadcast(&e->cv);
}

static void *job_thread(void *arg)
{
    struct attempt *a = arg;
    struct engine *e = a->e;
    struct run_job *j = &e->jobs[a->i];
    struct sl_jobspec bound;
    struct sl_jobspec_source *sources = NULL;
    char ***dotenv = NULL;
    size_t nsources = 0;

    /* the sources as they ended: their artifacts and dotenv reports (read under the lock,
     * against their threads' ends) */
    pthread_mutex_lock(&e->mu);
    sources = sl_xcalloc(j->nsources + j->nearlier + 1, sizeof(*sources));
    dotenv = sl_xcalloc(j->nsources + 1, sizeof(*dotenv));
    for (size_t s = 0; s < j->nearlier; s++) {
        sources[nsources].name = j->earlier[s].name;
        sources[nsources++].store_dir = j->earlier[s].store_dir;
    }
    for (size_t s = 0; s < j->nsources; s++) {
        struct run_job *src = &e->jobs[j->sources[s]];
        if (!src->ran)
            continue;
        dotenv[s] = dotenv_kv(&src->result.dotenv);
        sources[nsources].name = src->name;
        sources[nsources].store_dir = src->ctx.artifacts_dir;
        sources[nsources].job_id = src->ctx.job_id;
        sources[nsources++].dotenv = (const char *const *)dotenv[s];
    }
    pthread_mutex_unlock(&e->mu);

    struct sl_jobspec_ctx ctx = j->ctx;
    ctx.sources = sources;
    ctx.nsources = nsources;
    ctx.protected_vars = e->opts->protected_vars;
    ctx.extra = e->opts->extra;
    ctx.extra_raw = e->opts->extra_raw;
    struct sl_error berr = SL_ERROR_INIT;
    if (sl_jobspec_bind(&bound, &j->planned.spec, &ctx, &berr) < 0)
        sl_run_output_note(e->out, "%s: %s", j->name, sl_error_format(&berr));
    sl_error_release(&berr);
    struct sl_job_spec spec = bound.spec;
    sl_run_executor_apply(&bound.arena, e->opts->xo, &spec, NULL);
    spec.exec.log_path = j->log_path;
    spec.exec.on_line = on_line;
    spec.exec.ctx = a;
    spec.exec.cancel = e->cancel;
    spec.exec.mask = e->opts->mask;
    if (spec.exec.log_path)
        unlink(spec.exec.log_path); /* each attempt's log starts empty */

    struct sl_job_result result;
    struct sl_error err = SL_ERROR_INIT;
    int64_t t0 = sl_time_mono_ns();
    if (sl_job_run(&spec, &result, &err) < 0) {
        memset(&result, 0, sizeof(result));
        result.exit_code = -1;
        result.failure_name = "runner_system_failure";
        snprintf(result.message, sizeof(result.message), "%s", sl_error_format(&err));
    }
    sl_error_release(&err);

    pthread_mutex_lock(&e->mu);
    sl_job_result_release(&j->result);
    j->result = result;
    j->ran = true;
    j->duration_ms = (sl_time_mono_ns() - t0) / 1000000;
    j->failure = result.failure_name;
    /* after job_ended the run may end and free e->jobs (the engine joins this thread only
     * once it told the scheduler): nothing of J is read past this point */
    size_t ndotenv = j->nsources;
    job_ended(e, a->i);
    pthread_mutex_unlock(&e->mu);

    for (size_t s = 0; s < ndotenv; s++) {
        for (char **p = dotenv[s]; p && *p; p++)
            free(*p);
        free(dotenv[s]);
    }
    free(dotenv);
    free(sources);
    sl_jobspec_release(&bound);
    free(a);
    return NULL;
}

/* A bridge job: its child pipeline is made, then run. With `strategy: depend` the job
 * ends with the child and mirrors its status; without, it succeeds as soon as the child
 * exists (GitLab's bridge) and the child goes on running while the parent does. */
static void *bridge_thread(void *arg)
{
    struct attempt *a = arg;
    struct engine *e = a->e;
    struct run_job *j = &e->jobs[a->i];
    const struct run_bridge_ops *ops = e->opts->bridge;
    char why[sizeof(j->result.message)] = "sluice cannot run this downstream pipeline here";
    int64_t t0 = sl_time_mono_ns();
    struct run_child *child = ops ? ops->prepare(ops->ctx, e->jobs, a->i, why, sizeof(why)) : NULL;

    pthread_mutex_lock(&e->mu);
    sl_job_result_release(&j->result);
    memset(&j->result, 0, sizeof(j->result));
    j->ran = true;
    j->child = child;
    if (!child) {
        j->result.exit_code = 1;
        /* a local run knows no other project: GitLab's reason for a project it lacks, as
         * the server gives for one it has not */
        j->failure = j->trigger && j->trigger->project ? "downstream_bridge_project_not_found"
                                                       : "downstream_pipeline_creation_failed";
        snprintf(j->result.message, sizeof(j->result.message), "%s", why);
    } else if (!j->depend) {
        j->result.success = true;
        j->failure = "";
        e->children++;
    }
    j->duration_ms = (sl_time_mono_ns() - t0) / 1000000;
    if (!child || !j->depend)
        job_ended(e, a->i);
    pthread_mutex_unlock(&e->mu);

    if (child) {
        enum sl_sched_status st = ops->run(ops->ctx, child, e->cancel);
        pthread_mutex_lock(&e->mu);
        if (j->depend) {
            j->result.success = st == SL_SCHED_SUCCESS;
            j->result.exit_code = j->result.success ? 0 : 1;
            j->failure = j->result.success ? "" : st == SL_SCHED_CANCELED ? "canceled" : "";
            if (!j->result.success)
                snprintf(j->result.message, sizeof(j->result.message), "the downstream pipeline %s",
                         sl_sched_status_name(st));
            j->duration_ms = (sl_time_mono_ns() - t0) / 1000000;
            job_ended(e, a->i);
        } else {
            e->children--;
            pthread_cond_broadcast(&e->cv);
        }
        pthread_mutex_unlock(&e->mu);
    }
    free(a);
    return NULL;
}

static void start_job(struct engine *e, size_t i)
{
    struct attempt *a = sl_xmalloc(sizeof(*a));
    pthread_attr_t attr;
    pthread_t t;
    a->e = e;
    a->i = i;
    bool bridge = e->jobs[i].trigger != NULL;
    pthread_attr_init(&attr);
    if (bridge)
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    e->running++;
    int prc = pthread_create(&t, &attr, bridge ? bridge_thread : job_thread, a);
    if (prc == 0 && !bridge) {
        e->tid[i] = t;
        e->has_tid[i] = true;
    }
    if (prc != 0) {
        /* no thread: report the job as a system failure through the normal path */
        e->running--;
        e->jobs[i].failure = "runner_system_failure";
        e->jobs[i].result.exit_code = -1;
        snprintf(e->jobs[i].result.message, sizeof(e->jobs[i].result.message),
                 "cannot start a thread: %s", strerror(errno));
        SL_GROW(e->finished, e->capfinished, e->nfinished + 1);
        e->finished[e->nfinished++] = i;
        free(a);
    }
    pthread_attr_destroy(&attr);
}

static void *signal_thread(void *arg)
{
    struct engine *e = arg;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGUSR1); /* the engine's own "stop waiting" */
    for (;;) {
        int sig = 0;
        if (sigwait(&set, &sig) != 0)
            continue;
        if (sig == SIGUSR1)
            return NULL;
        pthread_mutex_lock(&e->mu);
        e->signals++;
        if (e->signals == 1) {
            sl_exec_cancel(e->cancel);
            sl_run_output_note(e->out, "Canceling: stopping running jobs (Ctrl-C again to force)");
        } else {
            sl_exec_cancel_force(e->cancel);
            sl_run_output_note(e->out, "Forcing: killing jobs and their after_script");
        }
        pthread_cond_broadcast(&e->cv);
        pthread_mutex_unlock(&e->mu);
    }
}

static enum sl_sched_failure failure_of(const struct run_job *j)
{
    enum sl_sched_failure f = SL_SCHED_FAILURE_UNKNOWN;
    if (!j->failure || !*j->failure)
        return j->result.success ? SL_SCHED_FAILURE_NONE : SL_SCHED_FAILURE_UNKNOWN;
    if (sl_sched_failure_parse(j->failure, &f) < 0)
        f = SL_SCHED_FAILURE_UNKNOWN;
    return f;
}

static void wait_for_event(struct engine *e)
{
    int64_t due;
    if (!sl_sched_next_due(e->sched, &due)) {
        pthread_cond_wait(&e->cv, &e->mu);
        return;
    }
    int64_t now = sl_time_now_ms();
    if (due <= now)
        return;
    /* the wait is measured on the monotonic clock (the condition variable's): a wall-clock
     * step back must not hold a delayed job for that long */
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    int64_t ns = (int64_t)ts.tv_nsec + (due - now) % 1000 * 1000000;
    ts.tv_sec += (time_t)((due - now) / 1000 + ns / 1000000000);
    ts.tv_nsec = (long)(ns % 1000000000);
    pthread_cond_timedwait(&e->cv, &e->mu, &ts);
}

int sl_run_engine(struct run_job *jobs, size_t n, size_t nstages, const struct run_options *opts,
                  struct run_output *out, enum sl_sched_status *status, bool *warnings,
                  int64_t *duration_ms, struct sl_error *err)
{
    struct engine e = {0};
    struct sl_sched_job *sj = sl_xcalloc(n, sizeof(*sj));
    sigset_t set, old;
    pthread_t sigthread;
    int rc;
    int64_t t0 = sl_time_mono_ns();

    for (size_t i = 0; i < n; i++)
        sj[i] = jobs[i].sched;
    rc = sl_sched_new(&e.sched, sj, n, nstages, err);
    free(sj);
    if (rc < 0)
        return rc;
    bool nested = opts->cancel != NULL;
    if (!(e.cancel = nested ? opts->cancel : sl_exec_cancel_new(err))) {
        sl_sched_free(e.sched);
        return SL_EIO;
    }
    e.jobs = jobs;
    e.n = n;
    e.holder = sl_xmalloc((n + 1) * sizeof(*e.holder));
    for (size_t i = 0; i < n; i++)
        e.holder[i] = SIZE_MAX;
    e.wait_noted = sl_xcalloc(n + 1, sizeof(*e.wait_noted));
    e.tid = sl_xcalloc(n + 1, sizeof(*e.tid));
    e.has_tid = sl_xcalloc(n + 1, sizeof(*e.has_tid));
    e.opts = opts;
    e.out = out;
    pthread_mutex_init(&e.mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&e.cv, &ca);
    pthread_condattr_destroy(&ca);

    /* every thread inherits the blocked mask; only the signal thread takes them */
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &set, &old);
    if (!nested)
        pthread_create(&sigthread, NULL, signal_thread, &e);

    pthread_mutex_lock(&e.mu);
    sl_sched_start(e.sched, sl_time_now_ms(), NULL);
    apply_changes(&e);
    for (;;) {
        if (e.signals && !e.cancel_applied) {
            sl_sched_cancel(e.sched, sl_time_now_ms(), NULL);
            apply_changes(&e);
            e.cancel_applied = true;
        }
        while (e.nfinished) {
            size_t i = e.finished[0];
            memmove(e.finished, e.finished + 1, (e.nfinished - 1) * sizeof(*e.finished));
            e.nfinished--;
            if (e.has_tid[i]) { /* it ended: past its last use of the lock, exiting */
                pthread_join(e.tid[i], NULL);
                e.has_tid[i] = false;
            }
            e.holder[i] = SIZE_MAX; /* its resource group is free again */
            sl_sched_job_finished(e.sched, i, failure_of(&jobs[i]), jobs[i].result.exit_code,
                                  sl_time_now_ms(), NULL);
            apply_changes(&e);
        }
        sl_sched_tick(e.sched, sl_time_now_ms(), NULL);
        apply_changes(&e);
        if (!e.signals) {
            size_t idx[64];
            size_t np = sl_sched_pending(e.sched, idx, SL_ARRAY_LEN(idx));
            for (size_t k = 0; k < SL_MIN(np, SL_ARRAY_LEN(idx)); k++) {
                if (e.running >= opts->parallel)
                    break;
                size_t h = group_holder(&e, idx[k]);
                if (h != SIZE_MAX) { /* GitLab's waiting_for_resource */
                    if (!e.wait_noted[idx[k]])
                        sl_run_output_note(out, "%s: waiting for resource '%s' (held by %s)",
                                           jobs[idx[k]].name, jobs[idx[k]].resource_group,
                                           jobs[h].name);
                    e.wait_noted[idx[k]] = true;
                    continue;
                }
                e.wait_noted[idx[k]] = false;
                if (jobs[idx[k]].resource_group)
                    e.holder[idx[k]] = idx[k];
                sl_sched_job_started(e.sched, idx[k], sl_time_now_ms(), NULL);
                apply_changes(&e);
                start_job(&e, idx[k]);
            }
        }
        if (e.nfinished)
            continue;
        if (e.running == 0 && e.children == 0 && (!sl_sched_is_active(e.sched) || e.signals))
            break;
        wait_for_event(&e);
    }
    *status = sl_sched_status(e.sched);
    *warnings = sl_sched_has_warnings(e.sched);
    pthread_mutex_unlock(&e.mu);

    if (!nested) {
        pthread_kill(sigthread, SIGUSR1);
        pthread_join(sigthread, NULL);
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);

    for (size_t i = 0; i < n; i++) {
        jobs[i].status = sl_sched_job_status(e.sched, i);
        jobs[i].attempt = sl_sched_job_attempt(e.sched, i);
        jobs[i].allowed_failure = sl_sched_job_failure_allowed(e.sched, i);
    }
    *duration_ms = (sl_time_mono_ns() - t0) / 1000000;
    sl_sched_free(e.sched);
    if (!nested)
        sl_exec_cancel_free(e.cancel);
    free(e.finished);
    free(e.holder);
    free(e.tid);
    free(e.has_tid);
    free(e.wait_noted);
    pthread_cond_destroy(&e.cv);
    pthread_mutex_destroy(&e.mu);
    return 0;
}
