/* pipeline.c: the pipeline state machine (see pipeline.h and docs/pipeline-states.md).
 *
 * The model follows GitLab's AtomicProcessingService: after every event, each `created`
 * job whose prerequisites are complete is decided from their composite status and its
 * `when` (Ci::ProcessBuildService); statuses combine as Gitlab::Ci::Status::Composite. */
#include "base/compat.h"
#include "sched/pipeline.h"
#include "base/alloc.h"

#include <limits.h>

/* Keys of the composite status: the job statuses, plus GitLab's two derived keys. */
enum {
    K_WARN = SL_SCHED_STATUS_COUNT, /* failed or canceled with allow_failure */
    K_IGNORED,                      /* manual with allow_failure: not blocking */
};
#define B(k) (1u << (k))

struct job {
    struct sl_sched_job def; /* arrays and name owned (copied) */
    enum sl_sched_status status;
    int attempt;
    int exit_code;
    enum sl_sched_failure failure;
    /* GitLab's allow_failure column: static, or set when an exit code in
     * allow_failure:exit_codes failed the job. */
    bool allow;
    bool kill;        /* asked to stop; canceled when it reports back */
    bool enqueue_now; /* retried by a user: do not wait to be played again */
    int64_t due;
};

struct sl_sched {
    struct job *jobs;
    size_t n, nstages;
    size_t *order; /* job indices by stage, then input order */
    bool started;
    struct sl_sched_change *changes;
    size_t nchanges, capchanges;
};

static bool contains(const int *list, size_t n, int v)
{
    for (size_t i = 0; i < n; i++)
        if (list[i] == v)
            return true;
    return false;
}

static bool static_allow(const struct sl_sched_job *d)
{
    return d->allow_failure && d->nallow_exit_codes == 0;
}

static unsigned key_of(const struct job *j)
{
    if (j->allow && (j->status == SL_SCHED_FAILED || j->status == SL_SCHED_CANCELED))
        return K_WARN;
    if (j->allow && j->status == SL_SCHED_MANUAL)
        return K_IGNORED;
    return j->status;
}

static bool only_of(unsigned set, unsigned allowed)
{
    return set && !(set & ~allowed);
}

/* Gitlab::Ci::Status::Composite#status over the key SET; DAG for a job's needs. No jobs
 * at all counts as success (StatusCollection's default). */
static enum sl_sched_status composite(unsigned set, bool dag)
{
    const unsigned ok = B(SL_SCHED_SUCCESS) | B(SL_SCHED_SKIPPED) | B(K_WARN) | B(K_IGNORED);

    if (!set)
        return SL_SCHED_SUCCESS;
    if (dag && (set & (B(SL_SCHED_SKIPPED) | B(K_IGNORED))))
        return SL_SCHED_SKIPPED; /* a need that does not run skips the DAG job */
    if (dag && !only_of(set, B(SL_SCHED_SUCCESS) | B(SL_SCHED_FAILED) | B(SL_SCHED_CANCELED) |
                                 B(SL_SCHED_SKIPPED) | B(K_WARN)))
        return SL_SCHED_PENDING; /* a need is not complete yet */
    if (only_of(set, B(SL_SCHED_SKIPPED) | B(K_IGNORED)))
        return SL_SCHED_SKIPPED;
    if (only_of(set, ok))
        return SL_SCHED_SUCCESS;
    if (only_of(set, B(SL_SCHED_CREATED) | B(K_WARN) | B(K_IGNORED)))
        return SL_SCHED_CREATED;
    if (only_of(set, ok | B(SL_SCHED_CANCELED)))
        return SL_SCHED_CANCELED;
    if (only_of(set, B(SL_SCHED_PENDING) | B(SL_SCHED_CREATED) | B(SL_SCHED_SKIPPED) | B(K_WARN) |
                         B(K_IGNORED)))
        return SL_SCHED_PENDING;
    if (set & (B(SL_SCHED_RUNNING) | B(SL_SCHED_PENDING)))
        return SL_SCHED_RUNNING;
    if (set & B(SL_SCHED_MANUAL))
        return SL_SCHED_MANUAL;
    if (set & B(SL_SCHED_SCHEDULED))
        return SL_SCHED_SCHEDULED;
    if (set & B(SL_SCHED_CREATED))
        return SL_SCHED_RUNNING;
    return SL_SCHED_FAILED;
}

static bool completed(enum sl_sched_status st)
{
    return st == SL_SCHED_SUCCESS || st == SL_SCHED_FAILED || st == SL_SCHED_CANCELED ||
           st == SL_SCHED_SKIPPED;
}

static void record(struct sl_sched *s, size_t i, enum sl_sched_status from, bool kill)
{
    SL_GROW(s->changes, s->capchanges, s->nchanges + 1);
    s->changes[s->nchanges++] = (struct sl_sched_change){.job = i,
                                                         .from = from,
                                                         .to = s->jobs[i].status,
                                                         .attempt = s->jobs[i].attempt,
                                                         .kill = kill};
}

static void set_status(struct sl_sched *s, size_t i, enum sl_sched_status to)
{
    enum sl_sched_status from = s->jobs[i].status;

    s->jobs[i].status = to;
    record(s, i, from, false);
}

/* Ci::ProcessBuildService: decides created job I once its prerequisites are complete. */
static void decide(struct sl_sched *s, size_t i, enum sl_sched_status prior, int64_t now)
{
    struct job *j = &s->jobs[i];
    bool dag = j->def.needs_declared, run;

    switch (j->def.when) {
    case SL_SCHED_ON_FAILURE:
        run = prior == SL_SCHED_FAILED;
        break;
    case SL_SCHED_ALWAYS:
        run = prior == SL_SCHED_SUCCESS || prior == SL_SCHED_FAILED || prior == SL_SCHED_SKIPPED;
        break;
    default: /* on_success, manual, delayed */
        run = prior == SL_SCHED_SUCCESS || (!dag && prior == SL_SCHED_SKIPPED);
        break;
    }
    if (!run) {
        j->enqueue_now = false;
        set_status(s, i, SL_SCHED_SKIPPED);
    } else if (j->enqueue_now) {
        j->enqueue_now = false;
        set_status(s, i, SL_SCHED_PENDING);
    } else if (j->def.when == SL_SCHED_DELAYED) {
        /* saturate: a due time past the end of time is simply never */
        j->due =
            now > 0 && j->def.start_in_ms > INT64_MAX - now ? INT64_MAX : now + j->def.start_in_ms;
        set_status(s, i, SL_SCHED_SCHEDULED);
    } else if (j->def.when == SL_SCHED_WHEN_MANUAL) {
        set_status(s, i, SL_SCHED_MANUAL);
    } else {
        set_status(s, i, SL_SCHED_PENDING);
    }
}

/* One sweep in stage order; returns true when a job was decided. A DAG job whose need
 * sits later in the order is caught by the next sweep. */
static bool sweep(struct sl_sched *s, int64_t now)
{
    unsigned earlier = 0; /* keys of every job in stages before the current one */
    size_t folded = 0;
    bool changed = false;

    for (size_t k = 0; k < s->n; k++) {
        size_t i = s->order[k];
        struct job *j = &s->jobs[i];
        enum sl_sched_status prior;

        while (folded < k && s->jobs[s->order[folded]].def.stage < j->def.stage)
            earlier |= B(key_of(&s->jobs[s->order[folded++]]));
        if (j->status != SL_SCHED_CREATED)
            continue;
        if (j->def.needs_declared) {
            unsigned set = 0;
            for (size_t t = 0; t < j->def.nneeds; t++)
                set |= B(key_of(&s->jobs[j->def.needs[t]]));
            prior = composite(set, true);
        } else {
            prior = composite(earlier, false);
        }
        if (!completed(prior))
            continue;
        decide(s, i, prior, now);
        changed = true;
    }
    return changed;
}

/* Brings the pipeline to rest at NOW after an event. Terminates: every productive sweep
 * moves at least one job out of `created`. */
static void settle(struct sl_sched *s, int64_t now)
{
    if (!s->started)
        return;
    while (sweep(s, now))
        ;
    for (size_t k = 0; k < s->n; k++) {
        size_t i = s->order[k];
        if (s->jobs[i].status == SL_SCHED_SCHEDULED && s->jobs[i].due <= now)
            set_status(s, i, SL_SCHED_PENDING);
    }
}

/* GitLab's ResetSkippedJobsService, after a play or a retry of job I: skipped jobs in
 * later stages and skipped jobs that need I (transitively) go back to `created`, to be
 * decided again. */
static void reset_skipped(struct sl_sched *s, size_t i)
{
    bool *dep = sl_xcalloc(s->n, sizeof(*dep));
    bool grew = true;

    dep[i] = true;
    while (grew) {
        grew = false;
        for (size_t k = 0; k < s->n; k++) {
            const struct sl_sched_job *d = &s->jobs[k].def;
            if (dep[k] || !d->needs_declared)
                continue;
            for (size_t t = 0; t < d->nneeds; t++) {
                if (dep[d->needs[t]]) {
                    dep[k] = grew = true;
                    break;
                }
            }
        }
    }
    for (size_t k = 0; k < s->n; k++) {
        size_t x = s->order[k];
        if (x != i && s->jobs[x].status == SL_SCHED_SKIPPED &&
            (dep[x] || s->jobs[x].def.stage > s->jobs[i].def.stage))
            set_status(s, x, SL_SCHED_CREATED);
    }
    free(dep);
}

/* GitLab's AutoRetry: the reason is in `retry:when` (default always, or nothing when
 * exit_codes are given) or the exit code is in `retry:exit_codes`, and retries remain. */
static bool auto_retry(const struct job *j, enum sl_sched_failure reason, int exit_code)
{
    const struct sl_sched_job *d = &j->def;
    uint32_t when = d->retry_when;

    if (d->retry_max <= 0)
        return false;
    if (when == 0 && d->nretry_exit_codes == 0)
        when = SL_SCHED_RETRY_ALWAYS;
    if (!(when & SL_SCHED_RETRY_BIT(reason)) &&
        !(exit_code != SL_SCHED_NO_EXIT_CODE &&
          contains(d->retry_exit_codes, d->nretry_exit_codes, exit_code)))
        return false;
    return d->retry_max > j->attempt - 1;
}

static const char *job_name(const struct sl_sched *s, size_t i)
{
    return s->jobs[i].def.name ? s->jobs[i].def.name : "(unnamed)";
}

/* Checks that no job waits for itself, through needs or stage order. Stage order is
 * modelled by one node per stage end (E_s waits for every job of stage s and for E_s-1;
 * a stage-ordered job of stage s waits for E_s-1), so the graph stays linear in size;
 * then Kahn's algorithm must reach every node. */
static bool acyclic(const struct sl_sched_job *jobs, size_t n, size_t nstages)
{
    size_t nodes = n + nstages, nedges = 0, *outdeg, *start, *adj, *indeg, *queue;
    size_t head = 0, tail = 0;

#define EDGES(ADD)                                                                                 \
    for (size_t i_ = 0; i_ < n; i_++) {                                                            \
        size_t st_ = (size_t)jobs[i_].stage;                                                       \
        ADD(i_, n + st_);                                                                          \
        if (jobs[i_].needs_declared) {                                                             \
            for (size_t t_ = 0; t_ < jobs[i_].nneeds; t_++)                                        \
                ADD(jobs[i_].needs[t_], i_);                                                       \
        } else if (st_ > 0) {                                                                      \
            ADD(n + st_ - 1, i_);                                                                  \
        }                                                                                          \
    }                                                                                              \
    for (size_t s_ = 1; s_ < nstages; s_++)                                                        \
        ADD(n + s_ - 1, n + s_);

    outdeg = sl_xcalloc(nodes + 1, sizeof(*outdeg));
    indeg = sl_xcalloc(nodes, sizeof(*indeg));
#define COUNT(from, to) (outdeg[(from)]++, indeg[(to)]++, nedges++)
    EDGES(COUNT)
#undef COUNT
    start = sl_xcalloc(nodes + 1, sizeof(*start));
    for (size_t v = 0; v < nodes; v++)
        start[v + 1] = start[v] + outdeg[v];
    adj = sl_xcalloc(nedges + 1, sizeof(*adj));
    memset(outdeg, 0, (nodes + 1) * sizeof(*outdeg));
#define FILL(from, to) (adj[start[(from)] + outdeg[(from)]++] = (to))
    EDGES(FILL)
#undef FILL
#undef EDGES
    queue = sl_xmalloc(nodes * sizeof(*queue));
    for (size_t v = 0; v < nodes; v++)
        if (indeg[v] == 0)
            queue[tail++] = v;
    while (head < tail) {
        size_t v = queue[head++];
        for (size_t e = start[v]; e < start[v + 1]; e++)
            if (--indeg[adj[e]] == 0)
                queue[tail++] = adj[e];
    }
    free(outdeg);
    free(indeg);
    free(start);
    free(adj);
    free(queue);
    return tail == nodes;
}

static int validate(const struct sl_sched_job *jobs, size_t n, size_t nstages, struct sl_error *err)
{
    if (n == 0)
        return sl_error_set(err, SL_EINVAL, "a pipeline needs at least one job");
    if (n > SL_SCHED_MAX_JOBS)
        return sl_error_set(err, SL_ELIMIT, "%zu jobs: more than the limit of %d", n,
                            SL_SCHED_MAX_JOBS);
    if (nstages == 0 || nstages > SL_SCHED_MAX_JOBS)
        return sl_error_set(err, SL_EINVAL, "stage count %zu out of range", nstages);
    for (size_t i = 0; i < n; i++) {
        const struct sl_sched_job *d = &jobs[i];
        const char *name = d->name ? d->name : "(unnamed)";
        if (d->stage < 0 || (size_t)d->stage >= nstages)
            return sl_error_set(err, SL_EINVAL, "job %s: stage %d out of range", name, d->stage);
        if ((unsigned)d->when > SL_SCHED_DELAYED)
            return sl_error_set(err, SL_EINVAL, "job %s: invalid when", name);
        if (d->retry_max < 0 || d->retry_max > SL_SCHED_MAX_RETRY)
            return sl_error_set(err, SL_EINVAL, "job %s: retry max %d is not 0, 1 or 2", name,
                                d->retry_max);
        if (d->when == SL_SCHED_DELAYED && d->start_in_ms < 0)
            return sl_error_set(err, SL_EINVAL, "job %s: negative start_in", name);
        if ((d->nneeds && !d->needs) || (d->nallow_exit_codes && !d->allow_exit_codes) ||
            (d->nretry_exit_codes && !d->retry_exit_codes))
            return sl_error_set(err, SL_EINVAL, "job %s: list without items", name);
        for (size_t t = 0; t < d->nneeds; t++) {
            if (d->needs[t] >= n)
                return sl_error_set(err, SL_EINVAL, "job %s: need %zu out of range", name,
                                    d->needs[t]);
            if (d->needs[t] == i)
                return sl_error_set(err, SL_ECYCLE, "job %s needs itself", name);
        }
    }
    if (!acyclic(jobs, n, nstages))
        return sl_error_set(err, SL_ECYCLE,
                            "jobs wait for each other (a needs cycle, or needs on a later stage)");
    return 0;
}

static void *dup_array(const void *p, size_t n, size_t size)
{
    void *q;

    if (!n)
        return NULL;
    q = sl_xmalloc(n * size);
    memcpy(q, p, n * size);
    return q;
}

int sl_sched_new(struct sl_sched **out, const struct sl_sched_job *jobs, size_t n, size_t nstages,
                 struct sl_error *err)
{
    struct sl_sched *s;
    size_t *count;
    int rc;

    if ((rc = validate(jobs, n, nstages, err)) < 0)
        return rc;
    s = sl_xcalloc(1, sizeof(*s));
    s->n = n;
    s->nstages = nstages;
    s->jobs = sl_xcalloc(n, sizeof(*s->jobs));
    for (size_t i = 0; i < n; i++) {
        struct job *j = &s->jobs[i];
        const struct sl_sched_job *d = &jobs[i];
        j->def = *d;
        j->def.name = d->name ? sl_xstrdup(d->name) : NULL;
        j->def.needs = dup_array(d->needs, d->nneeds, sizeof(*d->needs));
        j->def.allow_exit_codes =
            dup_array(d->allow_exit_codes, d->nallow_exit_codes, sizeof(*d->allow_exit_codes));
        j->def.retry_exit_codes =
            dup_array(d->retry_exit_codes, d->nretry_exit_codes, sizeof(*d->retry_exit_codes));
        j->status = SL_SCHED_CREATED;
        j->attempt = 1;
        j->exit_code = SL_SCHED_NO_EXIT_CODE;
        j->allow = static_allow(d);
    }
    /* counting sort by stage keeps input order within a stage */
    count = sl_xcalloc(nstages + 1, sizeof(*count));
    for (size_t i = 0; i < n; i++)
        count[jobs[i].stage + 1]++;
    for (size_t st = 0; st < nstages; st++)
        count[st + 1] += count[st];
    s->order = sl_xmalloc(n * sizeof(*s->order));
    for (size_t i = 0; i < n; i++)
        s->order[count[jobs[i].stage]++] = i;
    free(count);
    *out = s;
    return 0;
}

void sl_sched_free(struct sl_sched *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++) {
        free((char *)s->jobs[i].def.name);
        free((size_t *)s->jobs[i].def.needs);
        free((int *)s->jobs[i].def.allow_exit_codes);
        free((int *)s->jobs[i].def.retry_exit_codes);
    }
    free(s->jobs);
    free(s->order);
    free(s->changes);
    free(s);
}

int sl_sched_restore(struct sl_sched **out, const struct sl_sched_job *jobs, size_t n,
                     size_t nstages, const struct sl_sched_saved *saved, int64_t now,
                     struct sl_error *err)
{
    struct sl_sched *s = NULL;
    int rc;

    for (size_t i = 0; i < n; i++) {
        if ((unsigned)saved[i].status >= SL_SCHED_STATUS_COUNT || saved[i].attempt < 1 ||
            saved[i].attempt == INT_MAX || (unsigned)saved[i].failure >= SL_SCHED_FAILURE_COUNT) {
            rc = sl_error_set(err, SL_EINVAL, "job %zu: stored state out of range", i);
            goto out;
        }
    }
    if ((rc = sl_sched_new(&s, jobs, n, nstages, err)) < 0)
        goto out;
    for (size_t i = 0; i < n; i++) {
        struct job *j = &s->jobs[i];
        j->status = saved[i].status;
        j->attempt = saved[i].attempt;
        j->exit_code = saved[i].exit_code;
        j->failure = saved[i].failure;
        j->due = saved[i].due_ms;
        if (j->status == SL_SCHED_FAILED && j->def.allow_failure && j->def.nallow_exit_codes &&
            contains(j->def.allow_exit_codes, j->def.nallow_exit_codes, j->exit_code))
            j->allow = true;
    }
    s->started = true;
    settle(s, now);
    *out = s;
    s = NULL;
out:
    sl_sched_free(s);
    return rc;
}

/* Common prologue of events: a fresh change list, and I checked when given. */
static int begin(struct sl_sched *s, size_t i, bool need_start, struct sl_error *err)
{
    s->nchanges = 0;
    if (i != SIZE_MAX && i >= s->n)
        return sl_error_set(err, SL_EINVAL, "job index %zu out of range", i);
    if (need_start && !s->started)
        return sl_error_set(err, SL_EINVAL, "the pipeline has not started");
    return 0;
}

static int wrong_status(struct sl_sched *s, size_t i, const char *what, struct sl_error *err)
{
    return sl_error_set(err, SL_EINVAL, "cannot %s job %s: it is %s", what, job_name(s, i),
                        sl_sched_status_name(s->jobs[i].status));
}

int sl_sched_start(struct sl_sched *s, int64_t now, struct sl_error *err)
{
    int rc;

    if ((rc = begin(s, SIZE_MAX, false, err)) < 0)
        return rc;
    if (s->started)
        return sl_error_set(err, SL_EINVAL, "the pipeline has already started");
    s->started = true;
    settle(s, now);
    return 0;
}

int sl_sched_job_started(struct sl_sched *s, size_t i, int64_t now, struct sl_error *err)
{
    int rc;

    if ((rc = begin(s, i, true, err)) < 0)
        return rc;
    if (s->jobs[i].status != SL_SCHED_PENDING)
        return wrong_status(s, i, "start", err);
    set_status(s, i, SL_SCHED_RUNNING);
    settle(s, now);
    return 0;
}

int sl_sched_job_finished(struct sl_sched *s, size_t i, enum sl_sched_failure reason, int exit_code,
                          int64_t now, struct sl_error *err)
{
    struct job *j;
    int rc;

    if ((rc = begin(s, i, true, err)) < 0)
        return rc;
    if ((unsigned)reason >= SL_SCHED_FAILURE_COUNT)
        return sl_error_set(err, SL_EINVAL, "invalid failure reason %d", (int)reason);
    j = &s->jobs[i];
    if (j->status != SL_SCHED_RUNNING)
        return wrong_status(s, i, "finish", err);
    j->exit_code = exit_code;
    j->failure = reason;
    if (j->kill) {
        j->kill = false;
        set_status(s, i, SL_SCHED_CANCELED);
    } else if (reason == SL_SCHED_FAILURE_NONE) {
        set_status(s, i, SL_SCHED_SUCCESS);
    } else if (auto_retry(j, reason, exit_code)) {
        j->attempt++;
        set_status(s, i, SL_SCHED_PENDING);
    } else {
        if (j->def.allow_failure && j->def.nallow_exit_codes &&
            contains(j->def.allow_exit_codes, j->def.nallow_exit_codes, exit_code))
            j->allow = true;
        set_status(s, i, SL_SCHED_FAILED);
    }
    settle(s, now);
    return 0;
}

int sl_sched_play(struct sl_sched *s, size_t i, int64_t now, struct sl_error *err)
{
    int rc;

    if ((rc = begin(s, i, true, err)) < 0)
        return rc;
    if (s->jobs[i].status != SL_SCHED_MANUAL && s->jobs[i].status != SL_SCHED_SCHEDULED)
        return wrong_status(s, i, "play", err);
    set_status(s, i, SL_SCHED_PENDING);
    reset_skipped(s, i);
    settle(s, now);
    return 0;
}

static void cancel_one(struct sl_sched *s, size_t i)
{
    struct job *j = &s->jobs[i];

    if (j->status == SL_SCHED_RUNNING && !j->kill) {
        j->kill = true;
        record(s, i, SL_SCHED_RUNNING, true);
    } else if (j->status == SL_SCHED_CREATED || j->status == SL_SCHED_PENDING ||
               j->status == SL_SCHED_SCHEDULED) {
        set_status(s, i, SL_SCHED_CANCELED);
    }
}

int sl_sched_cancel(struct sl_sched *s, int64_t now, struct sl_error *err)
{
    int rc;

    if ((rc = begin(s, SIZE_MAX, false, err)) < 0)
        return rc;
    s->started = true;
    for (size_t k = 0; k < s->n; k++) {
        size_t i = s->order[k];
        /* GitLab leaves manual jobs playable; a blocking one is canceled too, or it would
         * hold the canceled pipeline in `manual` (documented divergence). */
        if (s->jobs[i].status == SL_SCHED_MANUAL && !s->jobs[i].allow)
            set_status(s, i, SL_SCHED_CANCELED);
        else
            cancel_one(s, i);
    }
    settle(s, now);
    return 0;
}

int sl_sched_cancel_job(struct sl_sched *s, size_t i, int64_t now, struct sl_error *err)
{
    enum sl_sched_status st;
    int rc;

    if ((rc = begin(s, i, true, err)) < 0)
        return rc;
    st = s->jobs[i].status;
    if (st != SL_SCHED_CREATED && st != SL_SCHED_PENDING && st != SL_SCHED_SCHEDULED &&
        !(st == SL_SCHED_RUNNING && !s->jobs[i].kill))
        return wrong_status(s, i, "cancel", err);
    cancel_one(s, i);
    settle(s, now);
    return 0;
}

int sl_sched_retry_job(struct sl_sched *s, size_t i, int64_t now, struct sl_error *err)
{
    struct job *j;
    int rc;

    if ((rc = begin(s, i, true, err)) < 0)
        return rc;
    j = &s->jobs[i];
    if (j->status != SL_SCHED_SUCCESS && j->status != SL_SCHED_FAILED &&
        j->status != SL_SCHED_CANCELED)
        return wrong_status(s, i, "retry", err);
    if (j->attempt == INT_MAX)
        return sl_error_set(err, SL_ELIMIT, "job %s: too many attempts", job_name(s, i));
    j->attempt++;
    j->allow = static_allow(&j->def);
    j->enqueue_now = true;
    set_status(s, i, SL_SCHED_CREATED);
    reset_skipped(s, i);
    settle(s, now);
    return 0;
}

int sl_sched_tick(struct sl_sched *s, int64_t now, struct sl_error *err)
{
    int rc;

    if ((rc = begin(s, SIZE_MAX, true, err)) < 0)
        return rc;
    settle(s, now);
    return 0;
}

const struct sl_sched_change *sl_sched_changes(const struct sl_sched *s, size_t *n)
{
    *n = s->nchanges;
    return s->changes;
}

size_t sl_sched_job_count(const struct sl_sched *s)
{
    return s->n;
}

enum sl_sched_status sl_sched_job_status(const struct sl_sched *s, size_t i)
{
    return s->jobs[i].status;
}

int sl_sched_job_attempt(const struct sl_sched *s, size_t i)
{
    return s->jobs[i].attempt;
}

enum sl_sched_failure sl_sched_job_failure(const struct sl_sched *s, size_t i)
{
    return s->jobs[i].failure;
}

int sl_sched_job_exit_code(const struct sl_sched *s, size_t i)
{
    return s->jobs[i].exit_code;
}

bool sl_sched_job_failure_allowed(const struct sl_sched *s, size_t i)
{
    return key_of(&s->jobs[i]) == K_WARN;
}

bool sl_sched_job_kill_requested(const struct sl_sched *s, size_t i)
{
    return s->jobs[i].kill;
}

int64_t sl_sched_job_due(const struct sl_sched *s, size_t i)
{
    return s->jobs[i].due;
}

size_t sl_sched_pending(const struct sl_sched *s, size_t *idx, size_t cap)
{
    size_t count = 0;

    for (size_t k = 0; k < s->n; k++) {
        if (s->jobs[s->order[k]].status != SL_SCHED_PENDING)
            continue;
        if (count < cap)
            idx[count] = s->order[k];
        count++;
    }
    return count;
}

bool sl_sched_next_due(const struct sl_sched *s, int64_t *at)
{
    bool any = false;
    int64_t min = 0;

    for (size_t i = 0; i < s->n; i++) {
        if (s->jobs[i].status != SL_SCHED_SCHEDULED)
            continue;
        if (!any || s->jobs[i].due < min)
            min = s->jobs[i].due;
        any = true;
    }
    if (any)
        *at = min;
    return any;
}

static unsigned all_keys(const struct sl_sched *s)
{
    unsigned set = 0;

    for (size_t i = 0; i < s->n; i++)
        set |= B(key_of(&s->jobs[i]));
    return set;
}

enum sl_sched_status sl_sched_status(const struct sl_sched *s)
{
    return composite(all_keys(s), false);
}

bool sl_sched_has_warnings(const struct sl_sched *s)
{
    return (all_keys(s) & B(K_WARN)) != 0;
}

bool sl_sched_status_name_ended(const char *name)
{
    enum sl_sched_status st;
    return sl_sched_status_parse(name, &st) == 0 && completed(st);
}

bool sl_sched_is_finished(const struct sl_sched *s)
{
    return completed(sl_sched_status(s));
}

bool sl_sched_is_active(const struct sl_sched *s)
{
    for (size_t i = 0; i < s->n; i++) {
        enum sl_sched_status st = s->jobs[i].status;
        if (st == SL_SCHED_PENDING || st == SL_SCHED_RUNNING || st == SL_SCHED_SCHEDULED)
            return true;
    }
    return false;
}
