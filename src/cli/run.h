/* run.h: `sluice run` inside: the planned jobs turned into runnable jobs (run.c) and the
 * engine that drives them through the scheduler with a pool of job threads
 * (sl_run_engine.c). */
#ifndef SL_CLI_RUN_H
#define SL_CLI_RUN_H

#include "base/compat.h"
#include "cli/run_executor.h"
#include "cli/run_output.h"
#include "exec/job.h"
#include "jobspec/jobspec.h"
#include "sched/pipeline.h"

/* One job of the run: what the scheduler needs, what the job needs to run, and what it
 * left behind. Everything is owned by the run (freed with the run's arena or by
 * run_jobs_release). */
struct run_job {
    const char *name;
    const char *stage;
    struct sl_sched_job sched; /* needs[] are indices into the run's jobs */

    /* The job as planned (sl_jobspec_plan) and its run context but the sources, which the
     * engine adds when an attempt starts and binds (sl_jobspec_bind). */
    struct sl_jobspec planned;
    struct sl_jobspec_ctx ctx;
    const char *log_path;
    /* `resource_group` (expanded) or NULL: at most one job of a group runs at a time. */
    const char *resource_group;
    /* Jobs whose artifacts (and dotenv variables) this job receives, by GitLab's rules. */
    size_t *sources;
    size_t nsources;
    /* Sources that are not part of this run (a job run alone): their artifacts from the
     * latest earlier pipeline that has some. Restored before SOURCES. */
    const struct sl_job_source *earlier;
    size_t nearlier;

    /* Results of the last attempt. */
    bool ran;
    int64_t duration_ms;
    struct sl_job_result result;
    const char *failure; /* failure reason of the last attempt, "" if none */

    /* Set by sl_run_engine when the pipeline ends. */
    enum sl_sched_status status;
    int attempt;
    bool allowed_failure;

    /* A bridge job (`trigger:`): what it triggers, and the child pipeline it ran (run.c
     * owns it; its jobs show in the summary under this one). */
    const struct sl_plan_trigger *trigger; /* borrowed from the plan; NULL: not a bridge */
    bool depend; /* strategy: depend: the job mirrors the child's status */
    struct run_child *child;
};

/* A bridge job's downstream pipeline, made and run by run.c for the engine. */
struct run_child;
struct run_bridge_ops {
    void *ctx;
    /* Makes the child pipeline of bridge job JOB of JOBS (its configuration read and
     * planned); NULL with WHY filled when it cannot be made. Called without the engine's
     * lock, from the job's thread. */
    struct run_child *(*prepare)(void *ctx, struct run_job *jobs, size_t job, char *why,
                                 size_t whylen);
    /* Runs CHILD to its end with the parent engine's CANCEL handle; its status. */
    enum sl_sched_status (*run)(void *ctx, struct run_child *child, struct sl_exec_cancel *cancel);
};

struct sl_mask;

struct run_options {
    size_t parallel;           /* -j */
    const char *const *manual; /* jobs to play when they become manual */
    const char *project_dir;
    const char *sluice_dir;   /* PROJECT/.sluice */
    const char *pipeline_dir; /* .sluice/pipelines/<id> */
    /* Pipeline variables (--var): dotenv reports of earlier jobs do not override them. */
    const char *const *protected_vars;
    /* The variables files' variables (run_variables.h): jobspec's extra and extra_raw, and
     * the mask of their masked values (NULL: none). */
    const char *const *extra, *const *extra_raw;
    const struct sl_mask *mask;
    const struct run_executor_opts *xo;  /* each job's executor (run_executor.h) */
    const struct run_bridge_ops *bridge; /* bridge jobs; NULL: they fail */
    /* A child pipeline's engine shares its parent's cancel handle (Ctrl-C reaches every
     * job) and takes no signals itself; NULL for the top pipeline. */
    struct sl_exec_cancel *cancel;
};

/* Runs JOBS[0..N) in NSTAGES stages to the end (or until Ctrl-C), printing through OUT.
 * Writes the pipeline's final status and warnings flag. Returns 0, or an SL_E* code when
 * the scheduler refused the jobs (a cycle: ERR says why). */
int sl_run_engine(struct run_job *jobs, size_t n, size_t nstages, const struct run_options *opts,
                  struct run_output *out, enum sl_sched_status *status, bool *warnings,
                  int64_t *duration_ms, struct sl_error *err);

#endif
