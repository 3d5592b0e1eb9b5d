/* store.h: the server's database, one interface over SQLite and PostgreSQL.
 *
 *   struct sl_store *st;
 *   if (sl_store_open(&st, "sqlite:///var/lib/sluice/sluice.db", err) < 0) ...
 *   sl_store_claim_job(st, "server-1/worker-0", NULL, 300, &job, err);
 *   sl_store_close(st);
 *
 * URLs: `sqlite:///abs/path.db`, `sqlite:relative.db`, a plain path (SQLite), or
 * `postgres://…` / `postgresql://…` passed to libpq as it is, so everything libpq reads in
 * a URI works, e.g. a unix socket: `postgresql:///sluice?host=/run/postgresql`.
 *
 * Opening applies the embedded migrations (src/store/migrations/NNNN_name.*.sql) that the
 * database lacks, all in one transaction, and records them in `schema_migrations`. A
 * database whose schema is newer than this binary is refused (SL_EUNSUPPORTED).
 *
 * Threads: a `struct sl_store` is thread-safe. It holds a small pool of connections; each
 * call borrows one for its duration (waiting when all are busy). On SQLite the writes of
 * one process are also serialised by a mutex, so threads never spin on SQLITE_BUSY; other
 * processes are waited for through the busy timeout. Any number of processes and servers
 * may share one PostgreSQL database.
 *
 * Values: statuses, failure reasons, roles and sources are GitLab's lowercase names as
 * strings ("pending", "runner_system_failure", ...); the store does not interpret them
 * except where a function says so (claims take "pending" jobs and make them "running").
 * Times are milliseconds since the Unix epoch; 0 means "not set" (NULL in the database).
 * JSON columns are text that the caller produced; the store does not parse them.
 *
 * Ownership: every `char *` in a struct the store fills is heap-allocated and owned by
 * the struct: release one with sl_store_<thing>_release, an array from a list function
 * with sl_store_<things>_free(arr, n). Input structs are only read.
 *
 * Errors: SL_ENOENT (no such row, or a foreign key to a missing row), SL_EEXISTS (a unique
 * value is taken), SL_EINVAL (a bad argument or URL), SL_ELIMIT (a cap was hit), SL_EBUSY
 * (the database stayed locked past the busy timeout, or a conditional update lost a race),
 * SL_ECANCELED (a worker's job is no longer running under it), SL_EUNSUPPORTED (schema too
 * new), SL_ESTORE (anything else the database reported; the message carries its text). */
#ifndef SL_STORE_H
#define SL_STORE_H

#include "base/compat.h"
#include "base/error.h"
#include "base/str.h"

struct sl_store;

/* Limits on what callers may store; hitting one is SL_ELIMIT (SL_EINVAL for names). */
#define SL_STORE_LIST_MAX 100                   /* rows per list page */
#define SL_STORE_LOG_CHUNK_MAX (1024 * 1024)    /* bytes per appended log chunk */
#define SL_STORE_LOG_READ_MAX (4 * 1024 * 1024) /* bytes per log read */
#define SL_STORE_WORKER_ID_MAX 200              /* bytes of a worker id */
#define SL_STORE_TAGS_MAX 64                    /* tags of a job or of a claiming worker */
#define SL_STORE_TEXT_MAX (1024 * 1024)         /* bytes of any text or JSON value */
#define SL_STORE_PIPELINE_JOBS_MAX 10000        /* jobs of one pipeline */

struct sl_store_options {
    int pool_size;         /* connections; 0 = 4 (1 for an in-memory SQLite database) */
    int busy_timeout_ms;   /* SQLite: how long to wait for another process's lock; 0 = 5000 */
    int migrate_to;        /* apply migrations up to this version only; 0 = all (tests) */
    int64_t max_log_bytes; /* per job; 0 = 1 GiB */
    int connect_timeout_s; /* PostgreSQL; 0 = 10 */
    bool existing_only;    /* SL_ENOENT for a database that holds no sluice store yet, instead
                              of creating one (tools that only make sense on a server's store) */
};

/* Opens the database at URL with default options and migrates it. *out owns the store
 * (close with sl_store_close). */
int sl_store_open(struct sl_store **out, const char *url, struct sl_error *err);
/* As sl_store_open with OPTS (may be NULL). */
int sl_store_open_with(struct sl_store **out, const char *url, const struct sl_store_options *opts,
                       struct sl_error *err);
/* Closes every connection. Accepts NULL. No call may be running on other threads. */
void sl_store_close(struct sl_store *st);

/* "sqlite" or "postgres". Static string. */
const char *sl_store_backend(const struct sl_store *st);
/* The highest migration version embedded in this binary. */
int sl_store_latest_version(void);
/* The highest migration version recorded in the database. */
int sl_store_schema_version(struct sl_store *st, int *out, struct sl_error *err);
/* Runs a trivial query: 0 when the database answers (for /readyz). */
int sl_store_ping(struct sl_store *st, struct sl_error *err);

/* Keyset pagination: a page holds up to LIMIT rows (0 or more than SL_STORE_LIST_MAX means
 * SL_STORE_LIST_MAX) that come after the row with id AFTER in the list's order (0 = from
 * the start). STATUS, when not NULL, keeps only rows with that status. A page shorter than
 * the limit is the last one. */
struct sl_store_page {
    int64_t after;
    int limit;
    const char *status;
};

/* ---- projects (listed by id ascending) ---- */

struct sl_store_project {
    int64_t id;
    char *name; /* unique */
    char *repo_url;
    char *default_branch;
    int poll_interval_s; /* 0 = no polling */
    /* GitLab's ci_forward_deployment_enabled switched off: a deployment job of an older
     * pipeline may run over a newer deployment (false, the default: it fails) */
    bool outdated_deployments_allowed;
    /* merge request pipelines of forks wait for a maintainer's approval (migration 0061) */
    bool fork_pipelines_need_approval;
    char *webhook_secret; /* "" = none; stored sealed (needs the store's key to write) */
    int64_t created_at;
    /* Whether it has a forge connection, read with the row (as a pipeline's row has it);
     * FORGE_KNOWN is false on input. */
    bool forge_known, has_forge;
};

void sl_store_project_release(struct sl_store_project *p);
void sl_store_projects_free(struct sl_store_project *arr, size_t n);
/* Inserts P (id and created_at are ignored: NOW is the creation time); *id_out gets the new
 * id. SL_EEXISTS when the name is taken. */
int sl_store_project_create(struct sl_store *st, const struct sl_store_project *p, int64_t now,
                            int64_t *id_out, struct sl_error *err);
/* Overwrites name, repo_url, default_branch, poll_interval_s, webhook_secret,
 * outdated_deployments_allowed and fork_pipelines_need_approval of P->id. */
int sl_store_project_update(struct sl_store *st, const struct sl_store_project *p,
                            struct sl_error *err);
int sl_store_project_get(struct sl_store *st, int64_t id, struct sl_store_project *out,
                         struct sl_error *err);
int sl_store_project_get_by_name(struct sl_store *st, const char *name,
                                 struct sl_store_project *out, struct sl_error *err);
/* PAGE->status is ignored. */
int sl_store_project_list(struct sl_store *st, const struct sl_store_page *page,
                          struct sl_store_project **out, size_t *n, struct sl_error *err);
/* Deletes the project with all its pipelines, jobs, logs and artifact rows. */
int sl_store_project_delete(struct sl_store *st, int64_t id, struct sl_error *err);
/* The ids of every pipeline of project PROJECT_ID, into *OUT (caller frees; NULL when none)
 * and *N: what a deletion of the project leaves on disk is named by them. */
int sl_store_project_pipeline_ids(struct sl_store *st, int64_t project_id, int64_t **out, size_t *n,
                                  struct sl_error *err);
/* The last commit recorded for REF of a project (polling). *sha_out (caller frees) is NULL
 * when none was recorded. */
int sl_store_project_ref_get(struct sl_store *st, int64_t project_id, const char *ref,
                             char **sha_out, struct sl_error *err);
int sl_store_project_ref_set(struct sl_store *st, int64_t project_id, const char *ref,
                             const char *sha, int64_t now, struct sl_error *err);

/* ---- pipelines (listed by id descending: newest first) ---- */

struct sl_store_pipeline {
    int64_t id;
    int64_t project_id;
    int64_t iid; /* 1, 2, 3... per project */
    char *status;
    char *ref;
    bool is_tag;
    char *sha;
    char *before_sha;
    char *source;        /* "push", "web", "api", "schedule", ... (CI_PIPELINE_SOURCE) */
    char *variables;     /* JSON object; NULL on input means "{}" */
    char *error_message; /* why the pipeline could not be created; NULL = none */
    char *yaml_errors;   /* JSON array of lint messages; NULL = none */
    int64_t created_at, started_at, finished_at;
    /* A downstream pipeline: the pipeline and the bridge job that made it; 0 = none. */
    int64_t parent_pipeline_id, parent_job_id;
    /* Why the pipeline waits for a maintainer before any job runs ("fork": a merge request
     * from a fork); NULL = it does not. Once approved: who and when (NULL, 0 before). */
    char *hold_reason;
    char *approved_by;
    int64_t approved_at;
    /* A merged results pipeline (migration 0064): SHA is the forge's merge of the request,
     * SOURCE_SHA the request's head, TARGET_SHA the target's commit it merged; NULL else. */
    char *source_sha, *target_sha;
    /* A merge request pipeline's request (its iid in the project, migration 0065); 0 else. */
    int64_t merge_request_iid;
    /* Its jobs get protected variables (PROTECTED_); PROTECTED_KNOWN false for a pipeline
     * made before migration 0061 (and on input: the columns of 0061 are not written). */
    bool protected_known, protected_;
    /* Whether its project has a forge connection (sl_store_forge_get), read with the row:
     * its commit statuses ask for the connection only then. FORGE_KNOWN is false on input
     * (a row built by its caller): a report asks the store. */
    bool forge_known, has_forge;
};

/* A job as the server keeps it. On creation, id/pipeline_id are ignored and only name,
 * stage, stage_idx, status, when, allow_failure, attempt, retry, spec, tags, queued_at and
 * due_at are read. */
struct sl_store_job {
    int64_t id;
    int64_t pipeline_id;
    int position; /* index in the planned pipeline (sl_sched job index) */
    char *name;
    char *stage;
    int stage_idx;
    char *status;
    char *when; /* on_success, on_failure, always, manual, delayed */
    bool allow_failure;
    int attempt; /* 1-based */
    char *retry; /* JSON; NULL on input means "{}" */
    char *spec;  /* JSON the worker runs; NULL on input means "{}" */
    char **tags; /* NTAGS tags; filled only by sl_store_job_get */
    size_t ntags;
    char *failure_reason; /* NULL = none */
    bool has_exit_code;
    int exit_code;
    bool has_coverage;
    double coverage;
    int64_t created_at, queued_at, started_at, finished_at, due_at;
    char *runner_id; /* the worker that claimed it; NULL = none */
    int64_t lease_deadline;
    /* An attempt that was retried (GitLab's `retried: true`): a later attempt of the same
     * planned job is a job of its own (sl_store_job_retry). POSITION stays the planned one. */
    bool retried;
    /* When a cancel of this running job was asked of its runner (0: never): GitLab's
     * "canceling", until the runner reports (sl_store_job_request_cancel). */
    int64_t cancel_requested_at;
    /* The job's resource group (resource_groups.c; 0: none). On input to
     * sl_store_pipeline_create RESOURCE_GROUP names it instead (the expanded key, borrowed;
     * the group is made on first use); reads leave RESOURCE_GROUP NULL. */
    int64_t resource_group_id;
    const char *resource_group;
};

void sl_store_pipeline_release(struct sl_store_pipeline *p);
void sl_store_pipelines_free(struct sl_store_pipeline *arr, size_t n);
void sl_store_job_release(struct sl_store_job *j);
void sl_store_jobs_free(struct sl_store_job *arr, size_t n);

/* Inserts P with its NJOBS jobs in one transaction: nothing is visible (or claimable)
 * before all of it is. The next iid of the project is taken; P's id, iid, and created_at
 * are ignored (NOW is used, also as the jobs' created_at). JOBS[i].position is set to i.
 * *id_out and *iid_out (either may be NULL) get the new pipeline's id and iid.
 * SL_ENOENT when the project does not exist. */
int sl_store_pipeline_create(struct sl_store *st, const struct sl_store_pipeline *p,
                             const struct sl_store_job *jobs, size_t njobs, int64_t now,
                             int64_t *id_out, int64_t *iid_out, struct sl_error *err);
/* The same, and JOB_IDS_OUT (NJOBS entries; NULL: not wanted) gets the jobs' ids, in
 * JOBS' order, when it succeeds. */
int sl_store_pipeline_create_ids(struct sl_store *st, const struct sl_store_pipeline *p,
                                 const struct sl_store_job *jobs, size_t njobs, int64_t now,
                                 int64_t *id_out, int64_t *iid_out, int64_t *job_ids_out,
                                 struct sl_error *err);
int sl_store_pipeline_get(struct sl_store *st, int64_t id, struct sl_store_pipeline *out,
                          struct sl_error *err);
/* Overwrites status, error_message, yaml_errors, started_at and finished_at of P->id. */
int sl_store_pipeline_update(struct sl_store *st, const struct sl_store_pipeline *p,
                             struct sl_error *err);
/* Lets held pipeline ID run: clears its hold_reason, recording BY and NOW. SL_ENOENT: no
 * such pipeline; SL_EBUSY: it does not wait (never held, approved already, or ended). */
int sl_store_pipeline_approve(struct sl_store *st, int64_t id, const char *by, int64_t now,
                              struct sl_error *err);
/* The pipelines bridge jobs of pipeline PARENT_ID made, oldest first (at most 1000). */
int sl_store_pipeline_downstream(struct sl_store *st, int64_t parent_id,
                                 struct sl_store_pipeline **out, size_t *n, struct sl_error *err);
/* The branch pipelines (no tags) of REF in PROJECT_ID older than BEFORE_ID that may still be
 * canceled (created, pending, running, scheduled, waiting_for_resource), newest first, at
 * most 5 * SL_STORE_LIST_MAX: the auto-cancel of redundant pipelines (the server's
 * auto_cancel.c) in one query. */
int sl_store_pipeline_list_cancelable(struct sl_store *st, int64_t project_id, const char *ref,
                                      int64_t before_id, struct sl_store_pipeline **out, size_t *n,
                                      struct sl_error *err);
/* Pipelines of PROJECT_ID (0 = of every project), newest first. */
int sl_store_pipeline_list(struct sl_store *st, int64_t project_id,
                           const struct sl_store_page *page, struct sl_store_pipeline **out,
                           size_t *n, struct sl_error *err);

/* ---- jobs ---- */

int sl_store_job_get(struct sl_store *st, int64_t id, struct sl_store_job *out,
                     struct sl_error *err);
/* Job ID or, when it was retried, the newest attempt of its planned job (what acting on
 * "that job" of a pipeline means). Tags not filled. */
int sl_store_job_get_current(struct sl_store *st, int64_t id, struct sl_store_job *out,
                             struct sl_error *err);
/* Every job of a pipeline, by position (bounded by the pipeline's size): the newest attempt
 * of each planned job, never a retried one. Tags not filled. */
int sl_store_job_list_by_pipeline(struct sl_store *st, int64_t pipeline_id,
                                  struct sl_store_job **out, size_t *n, struct sl_error *err);
/* As sl_store_job_list_by_pipeline without the jobs' specs (each job's spec is ""): what a
 * transition reads at each event, whose specs' parsed views are cached (spec_view.c). */
int sl_store_job_list_by_pipeline_no_spec(struct sl_store *st, int64_t pipeline_id,
                                          struct sl_store_job **out, size_t *n,
                                          struct sl_error *err);
/* As sl_store_job_list_by_pipeline with the retried attempts too, each before the attempts
 * that followed it (by position, then id; at most 4 x SL_STORE_PIPELINE_JOBS_MAX rows). */
int sl_store_job_list_attempts(struct sl_store *st, int64_t pipeline_id, struct sl_store_job **out,
                               size_t *n, struct sl_error *err);
/* A retry is a new job (GitLab's Ci::RetryJobService clones the build): in one transaction
 * OLD->id, if it still has EXPECT_STATUS and is not retried already, ends as OLD says
 * (status, failure_reason, exit code, finished_at; its runner stays) and is marked retried,
 * and a copy of it (name, stage, when, retry, spec, tags) is made at its planned position
 * with NEXT's status, attempt, queued_at and due_at. *NEW_ID (may be NULL) gets the copy's
 * id. SL_EBUSY when OLD moved meanwhile (nothing changes). */
int sl_store_job_retry(struct sl_store *st, const struct sl_store_job *old,
                       const char *expect_status, const struct sl_store_job *next, int64_t *new_id,
                       struct sl_error *err);
/* Ids of pipelines (above AFTER, ascending, at most MAX; *IDS caller frees) that have a
 * delayed job due by NOW (status scheduled, due_at <= NOW): what the ticker settles. */
int sl_store_due_pipelines(struct sl_store *st, int64_t now, int64_t after, size_t max,
                           int64_t **ids, size_t *n, struct sl_error *err);
/* The earliest due_at of a delayed job (status scheduled) in *OUT, 0 when none waits: when
 * the ticker settles next. */
int sl_store_next_due(struct sl_store *st, int64_t *out, struct sl_error *err);
/* Jobs of every pipeline by id ascending (PAGE->status filters, e.g. the queue). */
int sl_store_job_list(struct sl_store *st, const struct sl_store_page *page,
                      struct sl_store_job **out, size_t *n, struct sl_error *err);
/* Overwrites the mutable state of J->id: status, attempt, failure_reason, exit code,
 * coverage, queued_at, started_at, finished_at, due_at, runner_id, lease_deadline. When
 * EXPECT_STATUS is not NULL the update happens only if the job still has that status
 * (compare-and-set), otherwise SL_EBUSY: someone else (a worker, a cancel) moved it.
 * A job made "pending" without a queued_at is queued now (the queue orders by it). */
int sl_store_job_update(struct sl_store *st, const struct sl_store_job *j,
                        const char *expect_status, struct sl_error *err);

/* Takes running bridge job JOB_ID for firing, once across threads, processes and servers:
 * runner_id becomes "bridge", lease_deadline LEASE_DEADLINE, started_at NOW unless set.
 * SL_EBUSY when it is no longer running or someone took it first (its runner_id is set),
 * SL_ENOENT when there is no such job. */
int sl_store_job_take_bridge(struct sl_store *st, int64_t job_id, int64_t lease_deadline,
                             int64_t now, struct sl_error *err);

/* Atomically takes the oldest pending job (by queued_at, then id) and marks it running
 * under WORKER_ID with a lease of LEASE_SECONDS from NOW: status "running", runner_id,
 * started_at = NOW, lease_deadline. No job is ever handed to two claimers, across threads,
 * processes and servers. TAGS: NULL claims any job; otherwise (NTAGS may be 0) only jobs
 * whose every tag is among TAGS. Returns 1 with *out filled (release it) when a job was
 * claimed, 0 when none is pending. */
int sl_store_claim_job(struct sl_store *st, const char *worker_id, const char *const *tags,
                       size_t ntags, int lease_seconds, int64_t now, struct sl_store_job *out,
                       struct sl_error *err);
/* As sl_store_claim_job; with UNTAGGED false (and TAGS not NULL) a job without tags is not
 * taken either (a runner that does not run untagged jobs). */
int sl_store_claim_job_tagged(struct sl_store *st, const char *worker_id, const char *const *tags,
                              size_t ntags, bool untagged, int lease_seconds, int64_t now,
                              struct sl_store_job *out, struct sl_error *err);
/* What a claim asks for (sl_store_claim). */
struct sl_store_claim {
    const char *worker_id;
    const char *const *tags; /* as sl_store_claim_job's TAGS and NTAGS */
    size_t ntags;
    bool untagged; /* as sl_store_claim_job_tagged's */
    int lease_seconds;
    int64_t now;
    /* Called with the job just taken, inside the claim's write transaction, which holds
     * the job's pipeline row (as sl_store_tx_begin): what it writes commits with the claim
     * (the pipeline's own "running", so that no instant, a crash's included, shows a
     * running job in a pipeline that is not). A negative return (ERR is the hook's to
     * report: the store drops it) rolls back what it wrote, in a savepoint, and the claim
     * stands: a pipeline that cannot transition does not hold up the queue behind its job.
     * NULL: none. */
    int (*in_claim)(void *arg, const struct sl_store_job *job, struct sl_error *err);
    void *arg;
};

/* The general claim: takes the oldest pending job that C's worker may run, as
 * sl_store_claim_job does, in a transaction of its pipeline's row, and calls C->in_claim in
 * it. With TOKEN_OUT the job also gets a new job token in the same write (as
 * sl_store_job_token_issue): *TOKEN_OUT (caller frees) when 1 is returned. Returns 1 with
 * *OUT filled (release it), 0 when no job is pending (or other claimers kept taking the
 * ones found: the caller asks again at its next wake-up), or an error (SL_EBUSY: called
 * inside this thread's open transaction; a claim is a transaction of its own). */
int sl_store_claim(struct sl_store *st, const struct sl_store_claim *c, struct sl_store_job *out,
                   char **token_out, struct sl_error *err);
/* Extends the lease of job ID to NOW + LEASE_SECONDS. SL_ECANCELED when the job is no
 * longer running under WORKER_ID (canceled, recovered): the worker should stop it. */
int sl_store_job_renew_lease(struct sl_store *st, int64_t id, const char *worker_id,
                             int lease_seconds, int64_t now, struct sl_error *err);
/* Asks the runner WORKER_ID to cancel job ID, which it runs: cancel_requested_at = NOW
 * (kept when asked before). SL_EBUSY when the job is no longer running under WORKER_ID. */
int sl_store_job_request_cancel(struct sl_store *st, int64_t id, const char *worker_id, int64_t now,
                                struct sl_error *err);
/* Records the end of job ID run by WORKER_ID: STATUS ("success", "failed", "canceled"),
 * FAILURE_REASON (NULL for none), the exit code when EXIT_CODE >= 0, finished_at = NOW,
 * lease cleared. SL_ECANCELED when the job is no longer running under WORKER_ID. */
int sl_store_job_finish(struct sl_store *st, int64_t id, const char *worker_id, const char *status,
                        const char *failure_reason, int exit_code, int64_t now,
                        struct sl_error *err);
/* Start-up recovery: marks "failed" with failure_reason "runner_system_failure" (and
 * finished_at = NOW) every running job whose lease ended before NOW, and every running job
 * whose runner_id starts with OWNER_PREFIX (this server's own workers, which a crash left
 * behind; NULL or "" = none). *out (may be NULL; free with sl_store_jobs_free) lists the
 * jobs changed, so the server can feed them to sl_sched as failed with
 * SL_SCHED_FAILURE_RUNNER_SYSTEM (retrying where `retry` allows). */
int sl_store_recover_jobs(struct sl_store *st, const char *owner_prefix, int64_t now,
                          struct sl_store_job **out, size_t *n, struct sl_error *err);

/* Counts of rows per status, for metrics (jobs: the newest attempts, not the retried). */
struct sl_store_count {
    char *status;
    int64_t count;
};
enum sl_store_table { SL_STORE_PIPELINES, SL_STORE_JOBS };
int sl_store_count_by_status(struct sl_store *st, enum sl_store_table table,
                             struct sl_store_count **out, size_t *n, struct sl_error *err);
void sl_store_counts_free(struct sl_store_count *arr, size_t n);

/* ---- job reports: what a job's reports left (job_reports) ---- */

struct sl_store_job_report {
    int64_t job_id;
    int position;
    char *name;
    char *dotenv; /* JSON array of "KEY=VALUE" (reports:dotenv), or NULL */
    char *junit;  /* JSON {"count","success","failed","skipped","error","time_s"}, or NULL */
};

void sl_store_job_report_release(struct sl_store_job_report *r);
void sl_store_job_reports_free(struct sl_store_job_report *arr, size_t n);
/* Sets the reports of job JOB_ID (its last attempt's: a retry overwrites them); NULL for
 * none. SL_ENOENT when the job does not exist. */
int sl_store_job_report_set(struct sl_store *st, int64_t job_id, const char *dotenv,
                            const char *junit, struct sl_error *err);
/* The reports of a pipeline's jobs that left some, by position. */
int sl_store_job_reports_by_pipeline(struct sl_store *st, int64_t pipeline_id,
                                     struct sl_store_job_report **out, size_t *n,
                                     struct sl_error *err);

/* ---- job logs: append-only chunks ---- */

/* Appends LEN bytes (1..SL_STORE_LOG_CHUNK_MAX) to the log of job JOB_ID. *end_out (may be
 * NULL) gets the log's size after the append. A log reaching the store's max_log_bytes
 * stores what fits, then a last line saying so, and the call answers SL_ELIMIT (*end_out
 * set); every later append is SL_ELIMIT and stores nothing (a capped log is the one longer
 * than the cap). SL_ENOENT when the job does not exist. */
int sl_store_log_append(struct sl_store *st, int64_t job_id, const void *data, size_t len,
                        int64_t now, int64_t *end_out, struct sl_error *err);
/* As sl_store_log_append, and *LINES_OUT (may be NULL) gets what sl_store_log_lines would
 * answer right after it (the newlines up to the log's end, -1 for a log stored before the
 * line index), from the count the append makes for the line index anyway: no query. Set
 * when *END_OUT is. */
int sl_store_log_append_lines(struct sl_store *st, int64_t job_id, const void *data, size_t len,
                              int64_t now, int64_t *end_out, int64_t *lines_out,
                              struct sl_error *err);
struct sl_store_secret_finding;
/* As sl_store_log_append_lines, with the chunk's secret findings FS[0..N) recorded in the
 * append's own transaction: the chunk and its findings are stored together or not at all. Each
 * FS[i] is given against the chunk: its place is the secret's byte offset from the chunk's
 * first byte (negative: in the log's bytes before the chunk). Its line, for a place before the
 * chunk, is counted from the chunk's first line (1: the line the chunk's first byte is on; 0 and
 * less: lines before it); for a place in the chunk it is not read: the store numbers it
 * with the newline count it makes for its line index anyway (so a scan need not walk the chunk
 * again for it). The store makes them the log's (line 0 for a log stored before the line index) and
 * writes those back into FS[i] (an answer other than 0 or SL_EBUSY may leave them changed). Its
 * job_id is ignored (JOB_ID's). ADDED (may be NULL, else N entries) says which were new (as
 * sl_store_secret_finding_add's *added_out). A finding the database refuses on its own (on
 * PostgreSQL an excerpt that is not UTF-8) is left out and counted in *FAILED (may be NULL);
 * the chunk and the other findings are stored.
 *
 * Findings hold for the text they were found in, so they are stored only when the log is
 * EXPECT_START bytes long before the append and the whole chunk fits under the cap: else
 * nothing is stored and the call answers SL_EBUSY (as for two appends racing), and the caller
 * appends another way. */
int sl_store_log_append_findings(struct sl_store *st, int64_t job_id, const void *data, size_t len,
                                 int64_t now, int64_t expect_start,
                                 struct sl_store_secret_finding *fs, size_t n, bool *added,
                                 size_t *failed, int64_t *end_out, int64_t *lines_out,
                                 struct sl_error *err);
/* Appends up to MAX bytes (capped at SL_STORE_LOG_READ_MAX) of the log from byte OFFSET to
 * OUT; *next_out gets the offset to read from next (OFFSET + bytes read). Reading at or past
 * the end reads nothing. */
int sl_store_log_read(struct sl_store *st, int64_t job_id, int64_t offset, size_t max,
                      struct sl_str *out, int64_t *next_out, struct sl_error *err);
/* The most bytes a job's log may hold (the store's max_log_bytes). */
int64_t sl_store_log_max(const struct sl_store *st);
/* The log's current size in bytes (0 when nothing was written). */
int sl_store_log_size(struct sl_store *st, int64_t job_id, int64_t *out, struct sl_error *err);
/* The byte offset where line LINE (1-based; < 1 reads as 1) of the log starts, found with
 * the chunks' line index (one chunk read, not the log from its start; a log stored before
 * the index is scanned). Past the last line: the log's size. */
int sl_store_log_line_offset(struct sl_store *st, int64_t job_id, int64_t line, int64_t *out,
                             struct sl_error *err);
/* The newlines the log holds so far (its lines, not counting an unfinished last one); -1
 * for a log stored before the line index. */
int sl_store_log_lines(struct sl_store *st, int64_t job_id, int64_t *out, struct sl_error *err);

/* ---- artifacts metadata (files live in the data directory) ---- */

struct sl_store_artifact {
    int64_t id;
    int64_t job_id;
    char *name;
    char *path; /* relative to the data directory */
    int64_t size;
    int64_t created_at;
    int64_t expire_at; /* 0 = never */
};

void sl_store_artifact_release(struct sl_store_artifact *a);
void sl_store_artifacts_free(struct sl_store_artifact *arr, size_t n);
/* Inserts A (id ignored) and returns its id. SL_ENOENT when the job does not exist. */
int sl_store_artifact_add(struct sl_store *st, const struct sl_store_artifact *a, int64_t *id_out,
                          struct sl_error *err);
/* Artifacts of a job by id (bounded by SL_STORE_LIST_MAX). */
int sl_store_artifact_list(struct sl_store *st, int64_t job_id, struct sl_store_artifact **out,
                           size_t *n, struct sl_error *err);
/* Up to LIMIT (capped at SL_STORE_LIST_MAX) artifacts whose expire_at is before NOW: the
 * caller removes their files and then calls sl_store_artifact_delete. */
int sl_store_artifact_list_expired(struct sl_store *st, int64_t now, int limit,
                                   struct sl_store_artifact **out, size_t *n, struct sl_error *err);
int sl_store_artifact_delete(struct sl_store *st, int64_t id, struct sl_error *err);

/* ---- API tokens: only sha256(token) is stored ---- */

struct sl_store_token {
    int64_t id;
    char *name;
    char *role; /* admin, maintainer, developer, viewer */
    int64_t created_at;
    int64_t last_used_at; /* 0 = never */
    int64_t expires_at;   /* 0 = never; from then on the token no longer authenticates */
    bool revoked;
};

#define SL_STORE_TOKEN_PREFIX "slt_"
/* "slt_" + 64 hex digits (32 random bytes) */
#define SL_STORE_TOKEN_LEN (sizeof(SL_STORE_TOKEN_PREFIX) - 1 + 64)

void sl_store_token_release(struct sl_store_token *t);
void sl_store_tokens_free(struct sl_store_token *arr, size_t n);
/* Creates a token from 32 random bytes (libsodium) and stores its hash. *secret_out
 * (caller frees; show it once, it cannot be recovered) gets the token, *id_out (may be
 * NULL) its id. */
int sl_store_token_create(struct sl_store *st, const char *name, const char *role, int64_t now,
                          int64_t expires_at, char **secret_out, int64_t *id_out,
                          struct sl_error *err);
/* A new token secret (32 random bytes, libsodium) into OUT, not stored: for a caller that must
 * put the secret somewhere safe before the store knows it (the admin token's file). */
void sl_store_token_generate(char out[SL_STORE_TOKEN_LEN + 1]);
/* Stores the hash of SECRET (from sl_store_token_generate) as token NAME with ROLE, valid until
 * EXPIRES_AT (ms since the epoch; 0: for ever). SL_EINVAL when EXPIRES_AT is not after NOW. */
int sl_store_token_add(struct sl_store *st, const char *name, const char *role, const char *secret,
                       int64_t now, int64_t expires_at, int64_t *id_out, struct sl_error *err);
/* Looks SECRET up by its hash and compares in constant time. On success *out (may be NULL)
 * is the token and its last_used_at becomes NOW. SL_ENOENT for an unknown, malformed,
 * revoked or expired token (one error for all, so callers answer 401 alike). */
int sl_store_token_verify(struct sl_store *st, const char *secret, int64_t now,
                          struct sl_store_token *out, struct sl_error *err);
int sl_store_token_revoke(struct sl_store *st, int64_t id, struct sl_error *err);
/* Tokens by id ascending. PAGE->status is ignored. */
int sl_store_token_list(struct sl_store *st, const struct sl_store_page *page,
                        struct sl_store_token **out, size_t *n, struct sl_error *err);

/* ---- runners (runners.c): remote agents speaking GitLab's /api/v4 ----
 *
 * A runner authenticates with its token ("glrt-" + 64 hex digits, shown once at creation);
 * only its SHA-256 is stored, compared in constant time. Deleting a runner revokes it. */

#define SL_STORE_RUNNER_TOKEN_PREFIX "glrt-"
#define SL_STORE_RUNNER_TOKEN_LEN (sizeof(SL_STORE_RUNNER_TOKEN_PREFIX) - 1 + 64)
/* the instance's registration token (legacy `gitlab-runner register --registration-token`) */
#define SL_STORE_REGISTRATION_TOKEN_PREFIX "GR1348941"
#define SL_STORE_REGISTRATION_TOKEN_LEN (sizeof(SL_STORE_REGISTRATION_TOKEN_PREFIX) - 1 + 40)
/* a job token (CI_JOB_TOKEN): "glcbt-" + 64 hex digits */
#define SL_STORE_JOB_TOKEN_PREFIX "glcbt-"
#define SL_STORE_JOB_TOKEN_LEN (sizeof(SL_STORE_JOB_TOKEN_PREFIX) - 1 + 64)
#define SL_STORE_RUNNER_TEXT_MAX 1024 /* bytes of a name, description or reported info */

struct sl_store_runner {
    int64_t id;
    char *name;
    char *description;
    char **tags; /* NTAGS tags (each without commas, at most SL_STORE_TAGS_MAX) */
    size_t ntags;
    bool run_untagged; /* takes jobs without tags */
    bool locked;
    bool paused; /* gets no job */
    int64_t created_at;
    int64_t contacted_at; /* 0 = never */
    /* what the runner reported in its last request ("" = nothing yet) */
    char *version, *platform, *architecture, *executor;
};

void sl_store_runner_release(struct sl_store_runner *r);
void sl_store_runners_free(struct sl_store_runner *arr, size_t n);
/* Stores R (id, created_at, contacted_at and the reported info are ignored) with a new
 * token; *TOKEN_OUT (caller frees; shown once) gets it, *ID_OUT (may be NULL) the id.
 * SL_EINVAL for a tag with a comma or an empty one, SL_ELIMIT past the caps. */
int sl_store_runner_create(struct sl_store *st, const struct sl_store_runner *r, int64_t now,
                           char **token_out, int64_t *id_out, struct sl_error *err);
int sl_store_runner_get(struct sl_store *st, int64_t id, struct sl_store_runner *out,
                        struct sl_error *err);
/* Runners by id ascending. PAGE->status is ignored. */
int sl_store_runner_list(struct sl_store *st, const struct sl_store_page *page,
                         struct sl_store_runner **out, size_t *n, struct sl_error *err);
/* Deletes (revokes) runner ID. SL_ENOENT when there is none. */
int sl_store_runner_delete(struct sl_store *st, int64_t id, struct sl_error *err);
int sl_store_runner_set_paused(struct sl_store *st, int64_t id, bool paused, struct sl_error *err);
/* The runner whose token is TOKEN into *OUT (may be NULL). SL_ENOENT for an unknown,
 * malformed or deleted token. */
int sl_store_runner_verify(struct sl_store *st, const char *token, struct sl_store_runner *out,
                           struct sl_error *err);
/* Records a request of runner ID at NOW with what it reported (NULL keeps a value). Writes
 * at most every few seconds per runner unless the info changed, so a polling fleet does not
 * turn every request into a write. */
int sl_store_runner_contacted(struct sl_store *st, const struct sl_store_runner *seen,
                              const char *version, const char *platform, const char *architecture,
                              const char *executor, int64_t now, struct sl_error *err);
/* Makes a new registration token for the instance (the old one stops working). *TOKEN_OUT
 * (caller frees) gets it. */
int sl_store_registration_token_reset(struct sl_store *st, int64_t now, char **token_out,
                                      struct sl_error *err);
/* 0 when TOKEN is the instance's registration token, SL_ENOENT otherwise. */
int sl_store_registration_token_check(struct sl_store *st, const char *token, struct sl_error *err);

/* Gives job ID, running under WORKER_ID, a new job token (the old one, of an earlier
 * attempt, stops working). *TOKEN_OUT (caller frees) gets it. SL_ECANCELED when the job is
 * no longer running under WORKER_ID. */
int sl_store_job_token_issue(struct sl_store *st, int64_t id, const char *worker_id,
                             char **token_out, struct sl_error *err);
/* The job whose current token is TOKEN into *OUT (any status: the caller decides what a
 * token of a job that is not running may do). SL_ENOENT for an unknown token. */
int sl_store_job_token_lookup(struct sl_store *st, const char *token, struct sl_store_job *out,
                              struct sl_error *err);

/* ---- sl_audit events (listed newest first) ---- */

struct sl_store_audit {
    int64_t id;
    int64_t at;
    char *actor;       /* "token:3", "webhook:github", "system" */
    char *action;      /* "project.create", "webhook.rejected", ... */
    char *target;      /* "project:4"; NULL on input means "" */
    char *detail;      /* JSON; NULL on input means "{}" */
    char *remote_addr; /* NULL on input means "" */
};

void sl_store_audit_release(struct sl_store_audit *a);
void sl_store_audits_free(struct sl_store_audit *arr, size_t n);
int sl_store_audit_add(struct sl_store *st, const struct sl_store_audit *a, int64_t *id_out,
                       struct sl_error *err);
/* What an audit listing keeps: each field set narrows it (all of them ANDed). */
struct sl_store_audit_filter {
    const char *action; /* exactly this action */
    const char *actor;  /* exactly this actor ("token:3") */
    int64_t since;      /* at >= since (ms; 0 = no bound) */
    int64_t until;      /* at < until (ms; 0 = no bound) */
};
/* Events newest first, from below PAGE->after; F may be NULL (all events). */
int sl_store_audit_list(struct sl_store *st, const struct sl_store_page *page,
                        const struct sl_store_audit_filter *f, struct sl_store_audit **out,
                        size_t *n, struct sl_error *err);

/* ---- environments and deployments (deployments.c) ---- */

/* An environment of a project, made by the first job that names it. STATE is GitLab's:
 * "available", "stopping", "stopped". */
struct sl_store_environment {
    int64_t id;
    int64_t project_id;
    char *name;
    char *slug;
    char *tier; /* production, staging, testing, development, other */
    char *url;  /* "" = none */
    char *state;
    int64_t auto_stop_at; /* 0 = never */
    int64_t created_at, updated_at;
    int64_t last_deployment_id; /* the latest successful deployment; 0 = none (read only) */
    char *kubernetes;           /* environment:kubernetes as JSON, or NULL
                                   (sl_store_environment_set_kubernetes) */
};

/* What a job with `environment:` does to it. */
struct sl_store_environment_job {
    int64_t job_id;
    int64_t environment_id;
    char *action;           /* start, prepare, verify, access, stop */
    int64_t on_stop_job_id; /* 0 = none */
    int64_t auto_stop_in_s; /* 0 = never */
    char *url;              /* the job's expanded environment:url; "" = none */
};

/* One run of a deploying job. STATUS: created, running, success, failed, canceled, blocked,
 * skipped. */
struct sl_store_deployment {
    int64_t id;
    int64_t project_id;
    int64_t environment_id;
    int64_t iid; /* 1, 2, 3... per project */
    int64_t job_id;
    int64_t pipeline_id;
    char *status;
    char *sha;
    char *ref;
    char *triggered_by;     /* "token:3", "webhook:github", "system" */
    int64_t rollback_of;    /* the deployment this one re-deploys; 0 = none */
    int required_approvals; /* approvals a blocked deployment needs; 0 = none */
    int64_t created_at, started_at, finished_at;
    char *environment_name; /* read only */
};

void sl_store_environment_release(struct sl_store_environment *e);
void sl_store_environments_free(struct sl_store_environment *arr, size_t n);
void sl_store_environment_job_release(struct sl_store_environment_job *j);
void sl_store_deployment_release(struct sl_store_deployment *d);
void sl_store_deployments_free(struct sl_store_deployment *arr, size_t n);

/* The environment NAME of PROJECT_ID, made with SLUG, TIER and URL when it does not exist
 * yet; an existing one keeps its tier and gets URL when URL is not empty. *id_out gets its id. */
int sl_store_environment_ensure(struct sl_store *st, int64_t project_id, const char *name,
                                const char *slug, const char *tier, const char *url, int64_t now,
                                int64_t *id_out, struct sl_error *err);
/* Keeps KUBERNETES (JSON text, NULL: none) as environment ID's environment:kubernetes. */
int sl_store_environment_set_kubernetes(struct sl_store *st, int64_t id, const char *kubernetes,
                                        struct sl_error *err);
int sl_store_environment_get(struct sl_store *st, int64_t id, struct sl_store_environment *out,
                             struct sl_error *err);
/* Environments of a project by id ascending. PAGE->status filters on state. */
int sl_store_environment_list(struct sl_store *st, int64_t project_id,
                              const struct sl_store_page *page, struct sl_store_environment **out,
                              size_t *n, struct sl_error *err);
/* Sets STATE, AUTO_STOP_AT (0 = none) and, when URL is not NULL or empty, the url. When
 * EXPECT_STATE is not NULL the change happens only from that state (else SL_EBUSY). */
int sl_store_environment_set_state(struct sl_store *st, int64_t id, const char *state,
                                   const char *expect_state, int64_t auto_stop_at, const char *url,
                                   int64_t now, struct sl_error *err);
/* Deletes a stopped environment with its deployments; SL_EBUSY when it is not stopped. */
int sl_store_environment_delete(struct sl_store *st, int64_t id, struct sl_error *err);
/* Up to LIMIT available environments whose auto_stop_at is at or before NOW. */
int sl_store_environment_list_due(struct sl_store *st, int64_t now, int limit,
                                  struct sl_store_environment **out, size_t *n,
                                  struct sl_error *err);

int sl_store_environment_job_add(struct sl_store *st, const struct sl_store_environment_job *j,
                                 struct sl_error *err);
/* SL_ENOENT when job JOB_ID has no environment. */
int sl_store_environment_job_get(struct sl_store *st, int64_t job_id,
                                 struct sl_store_environment_job *out, struct sl_error *err);

/* Inserts D (id, iid and created_at ignored: the project's next iid and NOW). */
int sl_store_deployment_create(struct sl_store *st, const struct sl_store_deployment *d,
                               int64_t now, int64_t *id_out, struct sl_error *err);
int sl_store_deployment_get(struct sl_store *st, int64_t id, struct sl_store_deployment *out,
                            struct sl_error *err);
/* The latest deployment of job JOB_ID; SL_ENOENT when it has none. */
int sl_store_deployment_get_by_job(struct sl_store *st, int64_t job_id,
                                   struct sl_store_deployment *out, struct sl_error *err);
/* Deployment ID, not started yet (created or blocked), becomes JOB_ID's: the job that was
 * to run it was retried as JOB_ID. SL_EBUSY when it started or is gone. */
int sl_store_deployment_move_job(struct sl_store *st, int64_t id, int64_t job_id,
                                 struct sl_error *err);
/* ACTOR ("token:3") becomes who triggered deployment ID, not started yet and not blocked:
 * the token that played or retried its job, whose deploy access then counts (GitLab's
 * deployable user). SL_EBUSY when it started, is blocked or is gone. */
int sl_store_deployment_set_triggered_by(struct sl_store *st, int64_t id, const char *actor,
                                         struct sl_error *err);
/* Deployments of an environment, newest first (keyset on id). PAGE->status filters. */
int sl_store_deployment_list(struct sl_store *st, int64_t environment_id,
                             const struct sl_store_page *page, struct sl_store_deployment **out,
                             size_t *n, struct sl_error *err);
/* Sets the status of deployment ID; started_at when it becomes running, finished_at when it
 * ends. When EXPECT_STATUS is not NULL, only from that status (else SL_EBUSY). */
int sl_store_deployment_set_status(struct sl_store *st, int64_t id, const char *status,
                                   const char *expect_status, int64_t now, struct sl_error *err);
/* ---- transactions of a pipeline's transition ----
 *
 * sl_store_tx_begin opens a write transaction and locks PIPELINE_ID's row in it (SELECT …
 * FOR UPDATE on PostgreSQL; SQLite's BEGIN IMMEDIATE holds the whole database): until
 * sl_store_tx_end, every store call this thread makes on ST runs in it (a function that
 * opens a transaction of its own gets a savepoint), and another process's transition of the
 * same pipeline waits. sl_store_tx_end commits when RC is 0, else rolls back, and returns
 * RC or the commit's error. One open transaction per thread; do not wait there on another
 * thread's store call (on SQLite it would wait for this transaction). SL_ENOENT: no such
 * pipeline. PIPELINE_ID 0 locks no row: the transaction that makes a pipeline, so that
 * what is queued with it (its first status report) is committed with it. */
int sl_store_tx_begin(struct sl_store *st, int64_t pipeline_id, struct sl_error *err);
int sl_store_tx_end(struct sl_store *st, int rc, struct sl_error *err);

/* ---- a read snapshot: a request's reads in one transaction ----
 *
 * Between sl_store_read_begin and sl_store_read_end, this thread's reads on ST share one
 * connection and one read transaction, so on SQLite they take the WAL's read lock and check
 * its index once rather than once a statement, and re-read the pages another connection's
 * commit made stale once. A write in between (or sl_store_tx_begin) first ends the read
 * transaction and runs on the same connection; the next read begins a new one, so the
 * thread reads what it wrote. Nests; inside sl_store_tx_begin's transaction it does nothing
 * (that transaction already reads one snapshot), and nothing on PostgreSQL (there every
 * statement of a transaction reads the latest commits anyway, and BEGIN and COMMIT would be
 * two more round trips). It holds a connection out of the pool: keep it to synchronous code
 * (never across a held request's suspension) and do not wait in it on another thread's
 * store call. */
void sl_store_read_begin(struct sl_store *st);
void sl_store_read_end(struct sl_store *st);

/* ---- sealing (seal.c): values of CI/CD variables are stored only sealed ----
 *
 * XChaCha20-Poly1305 (libsodium) under one 32-byte key, bound to the row's project so a
 * sealed value cannot be moved to another project's row. The key lives outside the
 * database (DATA_DIR/secrets.key or --secrets-key-file): a stolen database alone reveals
 * no value. */

#define SL_STORE_SEAL_KEY_BYTES 32

/* Reads the key file PATH: 64 hex digits (and an optional newline). When PATH does not
 * exist and CREATE, makes a new random key there (mode 0600, written whole before it is
 * visible) and sets *created (may be NULL). SL_ENOENT when missing and not CREATE,
 * SL_EINVAL for a malformed file, SL_EIO when it cannot be read or written. */
int sl_store_seal_key_file(const char *path, bool create,
                           unsigned char key[SL_STORE_SEAL_KEY_BYTES], bool *created,
                           struct sl_error *err);
/* Writes KEY to PATH (0600) atomically (a temporary file renamed over it). */
int sl_store_seal_key_write(const char *path, const unsigned char key[SL_STORE_SEAL_KEY_BYTES],
                            struct sl_error *err);
/* Gives the store its key (copied; NULL forgets it). Without a key, variables cannot be
 * written or read (SL_EINVAL "no secrets key"). */
void sl_store_set_seal_key(struct sl_store *st, const unsigned char *key);
/* Gives ST the key at PATH. When PATH is missing: made there (*CREATED, may be NULL, set)
 * if the store holds no sealed value, else SL_EINVAL with a message saying what to
 * restore. SL_EINVAL too when the key does not open the stored values. */
int sl_store_seal_key_load(struct sl_store *st, const char *path, bool *created,
                           struct sl_error *err);
/* How many sealed values the store holds (a start-up without the key must refuse them). */
int sl_store_sealed_count(struct sl_store *st, int64_t *n, struct sl_error *err);
/* Re-seals every value under NEW_KEY in one transaction; on success the store uses
 * NEW_KEY. SL_EINVAL when a value does not open under the current key (nothing changes). */
int sl_store_rotate_seal_key(struct sl_store *st,
                             const unsigned char new_key[SL_STORE_SEAL_KEY_BYTES],
                             int64_t *resealed, struct sl_error *err);

/* ---- CI/CD variables (variables.c), GitLab's attributes ---- */

#define SL_STORE_VARIABLE_KEY_MAX 255
#define SL_STORE_VARIABLE_VALUE_MAX 10000 /* GitLab's limit for a variable's value */

struct sl_store_variable {
    int64_t id;
    int64_t project_id; /* 0: an instance variable */
    char *key;
    char *value;         /* opened; NULL in what list_meta returns */
    char *variable_type; /* "env_var" or "file"; NULL on input means env_var */
    bool protected_;
    bool masked;
    bool hidden; /* masked_and_hidden: the value is never shown again */
    bool raw;
    char *environment_scope; /* NULL on input means "*" */
    char *description;       /* NULL on input means "" */
    int64_t created_at, updated_at;
};

void sl_store_variable_release(struct sl_store_variable *v);
void sl_store_variables_free(struct sl_store_variable *arr, size_t n);
/* Stores V (project_id 0: instance). SL_EEXISTS when its key and scope are taken. */
int sl_store_variable_create(struct sl_store *st, const struct sl_store_variable *v, int64_t now,
                             int64_t *id_out, struct sl_error *err);
/* Replaces the row of V->project_id, V->key and SCOPE (NULL: the only row of that key;
 * SL_EINVAL when there are several) with V's attributes and value (V->value NULL keeps the
 * value). SL_ENOENT when there is none. */
int sl_store_variable_update(struct sl_store *st, const struct sl_store_variable *v,
                             const char *scope, int64_t now, struct sl_error *err);
/* Deletes KEY of PROJECT_ID in SCOPE (NULL: the only row of that key). */
int sl_store_variable_delete(struct sl_store *st, int64_t project_id, const char *key,
                             const char *scope, struct sl_error *err);
/* The row of KEY (SCOPE as for delete), value opened when WITH_VALUE. */
int sl_store_variable_get(struct sl_store *st, int64_t project_id, const char *key,
                          const char *scope, bool with_value, struct sl_store_variable *out,
                          struct sl_error *err);
/* Every variable of PROJECT_ID (0: the instance's) by key then scope, values opened when
 * WITH_VALUE. At most SL_STORE_VARIABLES_MAX. */
#define SL_STORE_VARIABLES_MAX 8000
int sl_store_variable_list(struct sl_store *st, int64_t project_id, bool with_value,
                           struct sl_store_variable **out, size_t *n, struct sl_error *err);

/* ---- resource groups (resource_groups.c) ---- */

/* GitLab's resource group: at most one job of it runs at a time across the project's
 * pipelines. Its one resource is HOLDER_JOB_ID (0: free), given by
 * sl_store_resource_group_assign to a waiting_for_resource job, which then becomes pending;
 * a claim takes a job of a group only while it holds the resource. */
#define SL_STORE_RESOURCE_GROUP_KEY_MAX 255 /* GitLab's limit */
struct sl_store_resource_group {
    int64_t id;
    int64_t project_id;
    char *key;
    char *process_mode; /* unordered, oldest_first, newest_first, newest_ready_first */
    int64_t holder_job_id;
    int64_t created_at, updated_at;
};

void sl_store_resource_group_release(struct sl_store_resource_group *g);
void sl_store_resource_groups_free(struct sl_store_resource_group *arr, size_t n);
/* Whether MODE is one of GitLab's process modes. */
bool sl_store_resource_group_mode_valid(const char *mode);
/* A project's groups by key (bounded by SL_STORE_LIST_MAX). */
int sl_store_resource_group_list(struct sl_store *st, int64_t project_id,
                                 struct sl_store_resource_group **out, size_t *n,
                                 struct sl_error *err);
/* SL_ENOENT when the project has no group KEY. */
int sl_store_resource_group_get(struct sl_store *st, int64_t project_id, const char *key,
                                struct sl_store_resource_group *out, struct sl_error *err);
/* Group ID (SL_ENOENT when there is none). */
int sl_store_resource_group_get_id(struct sl_store *st, int64_t id,
                                   struct sl_store_resource_group *out, struct sl_error *err);
/* Sets the process mode of group KEY (SL_EINVAL for an unknown mode, SL_ENOENT). */
int sl_store_resource_group_set_mode(struct sl_store *st, int64_t project_id, const char *key,
                                     const char *mode, int64_t now, struct sl_error *err);
/* GitLab's AssignResourceFromResourceGroupService for group ID, in one transaction: a
 * holder that is no longer pending or running lets go, then, when the resource is free,
 * the first of the group's upcoming jobs in its process mode gets it and becomes pending
 * if it is waiting_for_resource (an upcoming job not yet ready, first in oldest_first or
 * newest_first, keeps the resource free until it is). *assigned (may be NULL) gets the job
 * given the resource, 0 if none. */
int sl_store_resource_group_assign(struct sl_store *st, int64_t id, int64_t now, int64_t *assigned,
                                   struct sl_error *err);
/* The groups of pipeline PIPELINE_ID's jobs (PIPELINE_ID 0: every group with a job waiting
 * for its resource, and every held one), at most SL_STORE_LIST_MAX. Caller frees *ids. */
int sl_store_resource_group_ids(struct sl_store *st, int64_t pipeline_id, int64_t **ids, size_t *n,
                                struct sl_error *err);
/* The jobs of group ID in the order its process mode would give them the resource
 * (GitLab's upcoming_jobs), at most SL_STORE_LIST_MAX. */
int sl_store_resource_group_upcoming(struct sl_store *st, int64_t id, struct sl_store_job **out,
                                     size_t *n, struct sl_error *err);

/* ---- deploy freeze periods (freeze_periods.c) ---- */

/* FREEZE_START and FREEZE_END are cron expressions read in CRON_TIMEZONE; checking them is
 * the server's (base/cron.h). */
struct sl_store_freeze_period {
    int64_t id;
    int64_t project_id;
    char *freeze_start, *freeze_end, *cron_timezone;
    int64_t created_at, updated_at;
};

void sl_store_freeze_period_release(struct sl_store_freeze_period *f);
void sl_store_freeze_periods_free(struct sl_store_freeze_period *arr, size_t n);
int sl_store_freeze_period_create(struct sl_store *st, const struct sl_store_freeze_period *f,
                                  int64_t now, int64_t *id_out, struct sl_error *err);
/* A project's freeze periods by id (bounded by SL_STORE_LIST_MAX). */
int sl_store_freeze_period_list(struct sl_store *st, int64_t project_id,
                                struct sl_store_freeze_period **out, size_t *n,
                                struct sl_error *err);
/* SL_ENOENT when there is no freeze period ID. */
int sl_store_freeze_period_get(struct sl_store *st, int64_t id, struct sl_store_freeze_period *out,
                               struct sl_error *err);
/* Overwrites the start, end and time zone of F->id. */
int sl_store_freeze_period_update(struct sl_store *st, const struct sl_store_freeze_period *f,
                                  int64_t now, struct sl_error *err);
int sl_store_freeze_period_delete(struct sl_store *st, int64_t id, struct sl_error *err);

/* ---- merge requests (merge_requests.c) ---- */

/* A forge's merge or pull request, as its last webhook said. */
struct sl_store_merge_request {
    int64_t project_id;
    int64_t iid; /* the request's number in its project */
    const char *title, *source_branch, *target_branch, *head_sha;
    const char *state; /* opened, closed or merged */
    bool from_fork;
};

/* Records MR (a new request, or its new state). SL_ENOENT when the project is gone,
 * SL_EINVAL for text the store refuses. */
int sl_store_merge_request_put(struct sl_store *st, const struct sl_store_merge_request *mr,
                               int64_t now, struct sl_error *err);
/* The iids (ascending, at most MAX, *N of them) of the open requests of the project's own
 * SOURCE_BRANCH (a fork's branch of that name is another branch). */
int sl_store_merge_request_open_iids(struct sl_store *st, int64_t project_id,
                                     const char *source_branch, int64_t *iids, size_t max,
                                     size_t *n, struct sl_error *err);

/* Whether request IID of the project comes from a fork (*FROM_FORK); SL_ENOENT when the
 * store has no such request. */
int sl_store_merge_request_from_fork(struct sl_store *st, int64_t project_id, int64_t iid,
                                     bool *from_fork, struct sl_error *err);

/* ---- protected branches and tags (protected_refs.c) ---- */

/* NAME: a ref name or a wildcard (`release/` followed by `*`); matching a ref against them is
 * the server's (plan/scope.h). A new project's default branch is protected (migration 0031's
 * trigger) until its row is deleted. */
struct sl_store_protected_ref {
    int64_t id;
    int64_t project_id;
    bool tag; /* a protected tag; else a branch */
    char *name;
    int64_t created_at;
};

void sl_store_protected_ref_release(struct sl_store_protected_ref *p);
void sl_store_protected_refs_free(struct sl_store_protected_ref *arr, size_t n);
/* Protects P->name (a branch, or a tag when P->tag) of P->project_id. SL_EEXISTS, with
 * GitLab's message ("Protected branch 'main' already exists"), when it is protected already;
 * SL_EINVAL for an empty or over-long name. */
int sl_store_protected_ref_create(struct sl_store *st, const struct sl_store_protected_ref *p,
                                  int64_t now, int64_t *id_out, struct sl_error *err);
/* The protected branches (or tags) of a project, by name (bounded by SL_STORE_LIST_MAX). */
int sl_store_protected_ref_list(struct sl_store *st, int64_t project_id, bool tag,
                                struct sl_store_protected_ref **out, size_t *n,
                                struct sl_error *err);
/* SL_ENOENT when the project does not protect NAME (exactly that name or pattern). */
int sl_store_protected_ref_get(struct sl_store *st, int64_t project_id, bool tag, const char *name,
                               struct sl_store_protected_ref *out, struct sl_error *err);
int sl_store_protected_ref_delete(struct sl_store *st, int64_t project_id, bool tag,
                                  const char *name, struct sl_error *err);

/* ---- protected environments and deployment approvals (approvals.c) ---- */

/* NAME: an environment name, a wildcard (`review/` followed by `*`) or a tier. DEPLOY_ROLE: the
 * least role that may deploy to and approve for it; the NDEPLOY_TOKENS tokens of
 * DEPLOY_TOKENS (ids, owned) may too, whatever their role. */
#define SL_STORE_DEPLOY_TOKENS_MAX 100
struct sl_store_protected_env {
    int64_t id;
    int64_t project_id;
    char *name;
    char *deploy_role;
    int64_t *deploy_tokens;
    size_t ndeploy_tokens;
    int required_approval_count;
    int64_t created_at;
};

struct sl_store_approval {
    int64_t id;
    int64_t deployment_id;
    char *actor;  /* "token:3" */
    char *status; /* approved, rejected */
    char *comment;
    int64_t created_at;
};

void sl_store_protected_env_release(struct sl_store_protected_env *p);
void sl_store_protected_envs_free(struct sl_store_protected_env *arr, size_t n);
void sl_store_approvals_free(struct sl_store_approval *arr, size_t n);
/* SL_EEXISTS when the project protects NAME already; SL_EINVAL for an unknown role or a
 * negative count. */
int sl_store_protected_env_create(struct sl_store *st, const struct sl_store_protected_env *p,
                                  int64_t now, int64_t *id_out, struct sl_error *err);
/* Every protected environment of a project, by id (bounded by SL_STORE_LIST_MAX). */
int sl_store_protected_env_list(struct sl_store *st, int64_t project_id,
                                struct sl_store_protected_env **out, size_t *n,
                                struct sl_error *err);
/* SL_ENOENT when PROJECT_ID (0: any project) has no protected environment ID. */
int sl_store_protected_env_delete(struct sl_store *st, int64_t project_id, int64_t id,
                                  struct sl_error *err);
/* Records ACTOR's decision on a deployment; SL_EEXISTS when ACTOR decided already. */
int sl_store_approval_add(struct sl_store *st, const struct sl_store_approval *a, int64_t now,
                          struct sl_error *err);
/* Decisions on a deployment, oldest first (bounded by SL_STORE_LIST_MAX). */
int sl_store_approval_list(struct sl_store *st, int64_t deployment_id,
                           struct sl_store_approval **out, size_t *n, struct sl_error *err);

/* ---- forge connections, notification rules and the delivery queue (deliveries.c) ----
 *
 * What sluice tells the outside about pipelines: commit statuses on a project's forge and
 * notifications. Tokens and secrets are stored only sealed (they need the store's key to be
 * written or read) and never listed. A delivery is one HTTP request (or mail) to send; the
 * sender (server/delivery.c) reads the credentials from its source when it sends, so the
 * queue holds no secret. */

#define SL_STORE_NOTIFY_RULES_MAX 50 /* notification rules of one project */

struct sl_store_forge {
    int64_t project_id;
    char *kind;       /* github, gitlab, gitea */
    char *api_url;    /* the API root, without a trailing slash */
    char *repository; /* owner/name, or GitLab's project id or path */
    char *token;      /* opened; NULL when read with WITH_TOKEN false */
    bool per_job;     /* also one status per job */
    int64_t created_at, updated_at;
};

struct sl_store_notify_rule {
    int64_t id;
    int64_t project_id;
    char *channel; /* webhook, slack, matrix, email */
    char *target;  /* a URL or a mail address */
    char *events;  /* JSON array of "failed", "fixed", "success" */
    char *refs;    /* all, protected, default */
    char *secret;  /* opened; "" = none; NULL when read without secrets */
    int64_t created_at;
};

struct sl_store_delivery {
    int64_t id;
    int64_t project_id;
    int64_t source_id; /* the notification rule; 0 = the forge connection */
    char *kind;        /* "status:github", "notify:webhook", ... */
    char *target;      /* the URL (or mail address) it goes to */
    char *payload;     /* JSON the sender builds the request from */
    char *state;       /* pending, delivered, given_up */
    int attempts;
    char *last_error; /* NULL = none */
    int64_t next_at;  /* when a pending delivery is (re)tried */
    int64_t created_at, updated_at, delivered_at;
};

void sl_store_forge_release(struct sl_store_forge *f);
void sl_store_notify_rule_release(struct sl_store_notify_rule *r);
void sl_store_notify_rules_free(struct sl_store_notify_rule *arr, size_t n);
void sl_store_delivery_release(struct sl_store_delivery *d);
void sl_store_deliveries_free(struct sl_store_delivery *arr, size_t n);

/* Sets (creates or replaces) the forge connection of F->project_id, its token sealed.
 * SL_EINVAL without a secrets key or a token; SL_ENOENT when the project does not exist. */
int sl_store_forge_set(struct sl_store *st, const struct sl_store_forge *f, int64_t now,
                       struct sl_error *err);
/* SL_ENOENT when PROJECT_ID has none. The token is opened only WITH_TOKEN (SL_EINVAL when it
 * does not open under the store's key). */
int sl_store_forge_get(struct sl_store *st, int64_t project_id, bool with_token,
                       struct sl_store_forge *out, struct sl_error *err);
int sl_store_forge_delete(struct sl_store *st, int64_t project_id, struct sl_error *err);

/* Adds a rule (R->secret "" or NULL = none, sealed otherwise). SL_ELIMIT past
 * SL_STORE_NOTIFY_RULES_MAX rules. */
int sl_store_notify_rule_create(struct sl_store *st, const struct sl_store_notify_rule *r,
                                int64_t now, int64_t *id_out, struct sl_error *err);
/* A project's rules by id; secrets opened only WITH_SECRETS. */
int sl_store_notify_rule_list(struct sl_store *st, int64_t project_id, bool with_secrets,
                              struct sl_store_notify_rule **out, size_t *n, struct sl_error *err);
int sl_store_notify_rule_get(struct sl_store *st, int64_t id, bool with_secret,
                             struct sl_store_notify_rule *out, struct sl_error *err);
/* SL_ENOENT when PROJECT_ID has no rule ID. */
int sl_store_notify_rule_delete(struct sl_store *st, int64_t project_id, int64_t id,
                                struct sl_error *err);

/* Queues D (id, state, attempts, last_error and times ignored: pending, due at NOW). */
int sl_store_delivery_add(struct sl_store *st, const struct sl_store_delivery *d, int64_t now,
                          int64_t *id_out, struct sl_error *err);
/* Takes the pending delivery that has been due the longest (next_at <= NOW) and pushes its
 * next_at to NOW + LEASE_MS, so no other sender takes it meanwhile (and a sender that dies
 * with it leaves it to be taken again). 1 with *OUT filled, 0 when none is due. */
int sl_store_delivery_claim(struct sl_store *st, int64_t now, int64_t lease_ms,
                            struct sl_store_delivery *out, struct sl_error *err);
/* Records an attempt of D->id: state, attempts, last_error, next_at (delivered_at = NOW
 * when delivered). */
int sl_store_delivery_update(struct sl_store *st, const struct sl_store_delivery *d, int64_t now,
                             struct sl_error *err);
/* The earliest next_at of a pending delivery that may be claimed then (not held back behind
 * an older one to its target) into *OUT (0 = none pending). */
int sl_store_delivery_next_due(struct sl_store *st, int64_t *out, struct sl_error *err);
/* A project's deliveries, newest first (keyset on id); PAGE->status filters on state. */
int sl_store_delivery_list(struct sl_store *st, int64_t project_id,
                           const struct sl_store_page *page, struct sl_store_delivery **out,
                           size_t *n, struct sl_error *err);
int sl_store_delivery_get(struct sl_store *st, int64_t id, struct sl_store_delivery *out,
                          struct sl_error *err);
/* Deletes delivered and given-up deliveries last updated before BEFORE. */
int sl_store_delivery_prune(struct sl_store *st, int64_t before, struct sl_error *err);
/* Records STATUS as the last finished status of REF (a branch, or "refs/tags/NAME") of
 * PROJECT_ID; *OLD_OUT (caller frees) gets the one it replaces, NULL when there was none. */
int sl_store_ref_status_swap(struct sl_store *st, int64_t project_id, const char *ref,
                             const char *status, int64_t now, char **old_out, struct sl_error *err);

/* ---- secret findings and the project's policy for them (secret_findings.c) ----
 *
 * What the server's secret scanning (server/secret_scan.c, with scan/scan.h) found in job
 * logs and pushed commits. A finding never holds the secret: its excerpt is the line with
 * the secret masked. */

struct sl_store_secret_finding {
    int64_t id;
    int64_t project_id;
    int64_t pipeline_id; /* 0 = none (a push that made no pipeline) */
    int64_t job_id;      /* a log finding's job; 0 for a push finding */
    char *commit_sha;    /* a push finding's commit; "" for a log finding */
    char *file;          /* a push finding's path; "" for a log finding */
    char *rule;
    int64_t line;  /* 1-based line of the log or of the file; 0 = not known */
    int64_t place; /* log: the secret's byte offset in the log; push: its byte in the line */
    char *excerpt; /* the line, the secret masked */
    int64_t created_at;
};

void sl_store_secret_finding_release(struct sl_store_secret_finding *f);
void sl_store_secret_findings_free(struct sl_store_secret_finding *arr, size_t n);
/* Records F (id and created_at ignored). A log finding (F->job_id set) takes its project
 * and pipeline from the job, so F->project_id and F->pipeline_id may be 0 then. A finding
 * recorded before (same place, rule, line, job or commit and file) is not added again:
 * *added_out (may be NULL) says whether it was (neither is a log finding of a job that does
 * not exist). SL_ENOENT for a push finding of a project that does not exist. */
int sl_store_secret_finding_add(struct sl_store *st, const struct sl_store_secret_finding *f,
                                int64_t now, bool *added_out, struct sl_error *err);
/* A project's findings, newest first (keyset on id). PAGE->status filters: "log" or "push". */
int sl_store_secret_finding_list(struct sl_store *st, int64_t project_id,
                                 const struct sl_store_page *page,
                                 struct sl_store_secret_finding **out, size_t *n,
                                 struct sl_error *err);
/* How many log findings job JOB_ID has (0: any job of PIPELINE_ID). */
int sl_store_secret_finding_count(struct sl_store *st, int64_t pipeline_id, int64_t job_id,
                                  int64_t *out, struct sl_error *err);
/* A project's policy: "report" (also when none was set), "fail" or "refuse". Caller frees. */
int sl_store_secret_policy_get(struct sl_store *st, int64_t project_id, char **out,
                               struct sl_error *err);
/* SL_EINVAL for another word, SL_ENOENT when the project does not exist. */
int sl_store_secret_policy_set(struct sl_store *st, int64_t project_id, const char *policy,
                               int64_t now, struct sl_error *err);

#endif
