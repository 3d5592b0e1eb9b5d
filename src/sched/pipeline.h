/* pipeline.h: the pipeline state machine, shared by `sluice run` and the server.
 *
 * Pure: no I/O, no clock, no threads. The caller describes the planned jobs once, then
 * feeds events (a job started, a job finished, a manual job was played, the pipeline was
 * canceled, time passed); after each event it reads which jobs changed status and which
 * are pending (ready to be started by the caller). Time is always an argument, in
 * milliseconds on whatever clock the caller uses consistently (wall clock on the server,
 * so stored `due` times survive a restart).
 *
 *   struct sl_sched *s;
 *   if (sl_sched_new(&s, jobs, njobs, nstages, err) < 0) ...
 *   sl_sched_start(s, now, err);
 *   while (sl_sched_is_active(s)) {
 *       n = sl_sched_pending(s, idx, cap);           start those, sl_sched_job_started(...)
 *       wait for a job to end or for sl_sched_next_due(); then
 *       sl_sched_job_finished(s, i, reason, exit_code, now, err)  or  sl_sched_tick(s, now, err)
 *       changes = sl_sched_changes(s, &nchanges);    log / persist / kill what they say
 *   }
 *   sl_sched_status(s) is the pipeline's outcome (SL_SCHED_MANUAL: blocked on a manual job).
 *   sl_sched_free(s);
 *
 * The semantics are GitLab's (docs/pipeline-states.md has the tables): a job is decided
 * when the jobs it waits for are complete (all jobs of earlier stages, or its `needs`),
 * from their composite status and its `when`; statuses combine exactly as GitLab's
 * Gitlab::Ci::Status::Composite does, allow_failure turning failed/canceled into
 * "success with warnings" and an unplayed non-blocking manual job into "ignored".
 *
 * The server persists each job's status, attempt, exit code and due time after every
 * event and rebuilds the machine with sl_sched_restore after a restart. */
#ifndef SL_SCHED_PIPELINE_H
#define SL_SCHED_PIPELINE_H

#include "base/compat.h"
#include "base/error.h"

/* Statuses of a job and of the pipeline (GitLab's names; the pipeline uses the same set). */
enum sl_sched_status {
    SL_SCHED_CREATED = 0, /* waiting for the jobs it depends on */
    SL_SCHED_PENDING,     /* ready: the caller should start it */
    SL_SCHED_RUNNING,
    SL_SCHED_SUCCESS,
    SL_SCHED_FAILED,
    SL_SCHED_CANCELED,
    SL_SCHED_SKIPPED,
    SL_SCHED_MANUAL,    /* waiting to be played */
    SL_SCHED_SCHEDULED, /* `when: delayed`, waiting for its time */
    SL_SCHED_STATUS_COUNT
};

enum sl_sched_when {
    SL_SCHED_ON_SUCCESS = 0,
    SL_SCHED_ON_FAILURE,
    SL_SCHED_ALWAYS,
    SL_SCHED_WHEN_MANUAL,
    SL_SCHED_DELAYED,
};

/* GitLab's failure reasons (the `retry:when` vocabulary). NONE means success. */
enum sl_sched_failure {
    SL_SCHED_FAILURE_NONE = 0,
    SL_SCHED_FAILURE_UNKNOWN,
    SL_SCHED_FAILURE_SCRIPT,
    SL_SCHED_FAILURE_API,
    SL_SCHED_FAILURE_STUCK_OR_TIMEOUT,
    SL_SCHED_FAILURE_RUNNER_SYSTEM,
    SL_SCHED_FAILURE_RUNNER_UNSUPPORTED,
    SL_SCHED_FAILURE_STALE_SCHEDULE,
    SL_SCHED_FAILURE_JOB_EXECUTION_TIMEOUT,
    SL_SCHED_FAILURE_ARCHIVED,
    SL_SCHED_FAILURE_UNMET_PREREQUISITES,
    SL_SCHED_FAILURE_SCHEDULER,
    SL_SCHED_FAILURE_DATA_INTEGRITY,
    SL_SCHED_FAILURE_STUCK_PENDING_WITH_MATCHING_RUNNERS,
    SL_SCHED_FAILURE_STUCK_PENDING_NO_MATCHING_RUNNERS,
    SL_SCHED_FAILURE_NO_UPDATES_RUNNING,
    SL_SCHED_FAILURE_NO_UPDATES_CANCELING,
    SL_SCHED_FAILURE_RUNNER_CONFIGURATION_ERROR,
    SL_SCHED_FAILURE_RUNNER_EXTERNAL_DEPENDENCY,
    SL_SCHED_FAILURE_RUNNER_INTERRUPTED,
    SL_SCHED_FAILURE_SERVER_TIMEOUT_RUNNING,
    SL_SCHED_FAILURE_SERVER_TIMEOUT_CANCELING,
    /* a deployment job older than the environment's latest deployment (deploy.c) */
    SL_SCHED_FAILURE_FORWARD_DEPLOYMENT,
    /* a deployment its approvers rejected (deploy.c) */
    SL_SCHED_FAILURE_DEPLOYMENT_REJECTED,
    /* a bridge (trigger:) whose downstream pipeline could not be created */
    SL_SCHED_FAILURE_DOWNSTREAM_CREATION,
    /* a bridge whose trigger:project names a project the server does not have */
    SL_SCHED_FAILURE_DOWNSTREAM_BRIDGE_PROJECT_NOT_FOUND,
    /* a bridge whose pipeline may not trigger the project it names (a fork's pipeline:
     * server/bridge.c) */
    SL_SCHED_FAILURE_INSUFFICIENT_BRIDGE_PERMISSIONS,
    /* a deployment job whose triggerer may not deploy to its protected environment (deploy.c) */
    SL_SCHED_FAILURE_PROTECTED_ENVIRONMENT,
    /* sluice's own: a job whose log holds a secret, under a project policy that fails it
     * (server/secret_scan.c) */
    SL_SCHED_FAILURE_SECRET_DETECTED,
    SL_SCHED_FAILURE_COUNT
};

/* retry_when is a bitmask of (1u << reason); `retry: when: always` is every bit. */
#define SL_SCHED_RETRY_BIT(reason) (1u << (reason))
#define SL_SCHED_RETRY_ALWAYS UINT32_MAX

/* The exit code of a job that ended without one (runner failure, restart). */
#define SL_SCHED_NO_EXIT_CODE (-1)

/* Hard caps: GitLab allows retry max 2; a pipeline of more jobs than this is a bug upstream. */
#define SL_SCHED_MAX_RETRY 2
#define SL_SCHED_MAX_JOBS 100000

/* One planned job, filled by the caller (from the plan). sl_sched_new copies everything,
 * so the caller may free its arrays afterwards. */
struct sl_sched_job {
    const char *name; /* for error messages only; NULL allowed */
    int stage;        /* index into the ordered stage list (.pre is 0, .post the last) */
    /* `needs:` present, even `needs: []`: the job waits for its needs only, not for
     * earlier stages. NEEDS are job indices, already expanded for parallel/matrix. */
    bool needs_declared;
    const size_t *needs;
    size_t nneeds;
    enum sl_sched_when when;
    int64_t start_in_ms; /* `when: delayed` */
    /* The effective allow_failure (the caller applies GitLab's defaults: true for a
     * job-level `when: manual`, false for `rules: when: manual`). With ALLOW_EXIT_CODES
     * (allow_failure: {exit_codes}), set allow_failure true: the failure is then allowed
     * only for those codes, and a manual job is blocking. */
    bool allow_failure;
    const int *allow_exit_codes;
    size_t nallow_exit_codes;
    /* `retry`: MAX 0..2; WHEN a mask of SL_SCHED_RETRY_BIT(reason), or 0 when `when` was
     * not written (GitLab then retries on any reason, unless exit_codes are given: then
     * on those codes only). A failure is retried when its reason is in WHEN *or* its exit
     * code is in EXIT_CODES (GitLab's AutoRetry). */
    int retry_max;
    uint32_t retry_when;
    const int *retry_exit_codes;
    size_t nretry_exit_codes;
};

/* One status change produced by an event. KILL set (with from == to == RUNNING) asks the
 * caller to stop that running job; it becomes canceled when it reports back. */
struct sl_sched_change {
    size_t job;
    enum sl_sched_status from, to;
    int attempt; /* the job's attempt after the change, 1-based */
    bool kill;
};

struct sl_sched;

/* Builds a machine over JOBS[0..N) in NSTAGES stages, every job `created`, not started.
 * On success *OUT owns it (free with sl_sched_free). Errors (SL_EINVAL, SL_ECYCLE,
 * SL_ELIMIT): no jobs, a stage or need out of range, a job needing itself, retry max
 * over 2, more than SL_SCHED_MAX_JOBS jobs, or jobs that would wait for each other
 * (a needs cycle, or a needs edge to a later stage that closes a loop through stage
 * order). */
int sl_sched_new(struct sl_sched **out, const struct sl_sched_job *jobs, size_t n, size_t nstages,
                 struct sl_error *err);
void sl_sched_free(struct sl_sched *s);

/* A job's state as the server stores it. */
struct sl_sched_saved {
    enum sl_sched_status status;
    int attempt;                   /* 1-based */
    int exit_code;                 /* of the last finish; SL_SCHED_NO_EXIT_CODE if none */
    enum sl_sched_failure failure; /* of the last finish */
    int64_t due_ms;                /* when SCHEDULED becomes pending */
};

/* Rebuilds a started machine from the stored state of every job (SAVED[i] for JOBS[i]),
 * then settles it at NOW: if the server stopped between persisting a job's end and
 * persisting what followed, the missing transitions happen now and are listed by
 * sl_sched_changes. Jobs stored as RUNNING stay running: the server reports them as
 * finished with SL_SCHED_FAILURE_RUNNER_SYSTEM (retried where `retry` allows). A kill
 * request is not stored: re-issue sl_sched_cancel if the pipeline was being canceled.
 * Errors as sl_sched_new, plus SL_EINVAL for a status or attempt out of range. */
int sl_sched_restore(struct sl_sched **out, const struct sl_sched_job *jobs, size_t n,
                     size_t nstages, const struct sl_sched_saved *saved, int64_t now,
                     struct sl_error *err);

/* Events. Each one clears the previous change list, applies the event, then settles the
 * pipeline at NOW (decides every job whose prerequisites are complete; promotes
 * scheduled jobs whose time came). An event that does not apply (wrong job status,
 * index out of range, not started) returns SL_EINVAL and changes nothing. */

/* Starts the pipeline: jobs with nothing to wait for become pending (or manual,
 * scheduled, skipped). */
int sl_sched_start(struct sl_sched *s, int64_t now, struct sl_error *err);
/* The caller started pending job I. */
int sl_sched_job_started(struct sl_sched *s, size_t i, int64_t now, struct sl_error *err);
/* Running job I ended: REASON NONE is success, anything else a failure with that reason.
 * EXIT_CODE is the script's exit code (SL_SCHED_NO_EXIT_CODE when there is none); it
 * decides allow_failure:exit_codes and retry:exit_codes. A failure that `retry` allows
 * makes the job pending again with attempt + 1. A job asked to stop becomes canceled
 * whatever it reports. */
int sl_sched_job_finished(struct sl_sched *s, size_t i, enum sl_sched_failure reason, int exit_code,
                          int64_t now, struct sl_error *err);
/* Plays a manual job (or runs a scheduled one now): it becomes pending; jobs skipped
 * because of it (its `needs` dependents, later stages) are reconsidered. */
int sl_sched_play(struct sl_sched *s, size_t i, int64_t now, struct sl_error *err);
/* Cancels the pipeline: created, pending and scheduled jobs, and blocking manual jobs,
 * become canceled; running jobs are asked to stop (a change with KILL set); optional
 * manual jobs stay playable. Succeeds in any state; a pipeline never started is canceled
 * whole. */
int sl_sched_cancel(struct sl_sched *s, int64_t now, struct sl_error *err);
/* Cancels one created, pending or scheduled job (canceled at once) or running job (asked
 * to stop). Jobs after it then see a canceled job and are skipped, as in GitLab. */
int sl_sched_cancel_job(struct sl_sched *s, size_t i, int64_t now, struct sl_error *err);
/* A user retries finished job I (success, failed or canceled): attempt + 1, and it runs
 * again as soon as its prerequisites allow (a manual or delayed job does not wait to be
 * played again); skipped jobs after it are reconsidered. */
int sl_sched_retry_job(struct sl_sched *s, size_t i, int64_t now, struct sl_error *err);
/* Time passed: scheduled jobs due at or before NOW become pending. */
int sl_sched_tick(struct sl_sched *s, int64_t now, struct sl_error *err);

/* Queries. */

/* The transitions of the last event, in the order they happened. Borrowed until the next
 * event. */
const struct sl_sched_change *sl_sched_changes(const struct sl_sched *s, size_t *n);
size_t sl_sched_job_count(const struct sl_sched *s);
enum sl_sched_status sl_sched_job_status(const struct sl_sched *s, size_t i);
int sl_sched_job_attempt(const struct sl_sched *s, size_t i);
/* The reason and exit code of job I's last finish (NONE and SL_SCHED_NO_EXIT_CODE before). */
enum sl_sched_failure sl_sched_job_failure(const struct sl_sched *s, size_t i);
int sl_sched_job_exit_code(const struct sl_sched *s, size_t i);
/* True when job I failed (or was canceled) and allow_failure covers it: a warning. */
bool sl_sched_job_failure_allowed(const struct sl_sched *s, size_t i);
/* True when running job I has been asked to stop. */
bool sl_sched_job_kill_requested(const struct sl_sched *s, size_t i);
/* The time a scheduled job I becomes pending. */
int64_t sl_sched_job_due(const struct sl_sched *s, size_t i);
/* Writes up to CAP indices of pending jobs into IDX, in stage then input order; returns
 * how many are pending (which may exceed CAP). */
size_t sl_sched_pending(const struct sl_sched *s, size_t *idx, size_t cap);
/* True and *AT set when a job is scheduled: the earliest time sl_sched_tick has work. */
bool sl_sched_next_due(const struct sl_sched *s, int64_t *at);
/* The pipeline's status (GitLab's composite of all jobs). */
enum sl_sched_status sl_sched_status(const struct sl_sched *s);
/* True when a job failed or was canceled with allow_failure: "passed with warnings". */
bool sl_sched_has_warnings(const struct sl_sched *s);
/* True when the pipeline reached success, failed, canceled or skipped. It may still be
 * resumed by playing a non-blocking manual job or retrying a job. */
bool sl_sched_is_finished(const struct sl_sched *s);
/* True while something will still happen without a user: a job is pending, running or
 * scheduled. Not active and not finished means blocked on a manual job. */
bool sl_sched_is_active(const struct sl_sched *s);

/* Names: "created", "on_success", "script_failure"... Static strings. */
const char *sl_sched_status_name(enum sl_sched_status st);
const char *sl_sched_when_name(enum sl_sched_when w);
const char *sl_sched_failure_name(enum sl_sched_failure f);
/* Parse those names; 0 or SL_EINVAL. sl_sched_retry_when_parse also takes "always" and
 * ORs the bit(s) into *MASK. */
int sl_sched_status_parse(const char *name, enum sl_sched_status *out);
/* Whether NAME is a status a job or pipeline ends in (success, failed, canceled, skipped;
 * not manual: a blocked pipeline waits for a play). False for a name that is no status. */
bool sl_sched_status_name_ended(const char *name);
int sl_sched_when_parse(const char *name, enum sl_sched_when *out);
int sl_sched_failure_parse(const char *name, enum sl_sched_failure *out);
int sl_sched_retry_when_parse(const char *name, uint32_t *mask);

#endif
