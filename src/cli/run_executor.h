/* run_executor.h: which executor runs a job of `sluice run`, and its docker options.
 *
 *   --executor auto (default): a job with an image (its own or default:'s, or --image) runs
 *   on docker, one without on shell; shell|docker force one for every job (an image then
 *   ignored is noted in the run's cli_unacted, warned once for all jobs). */
#ifndef SL_CLI_RUN_EXECUTOR_H
#define SL_CLI_RUN_EXECUTOR_H

#include "base/arena.h"
#include "cli/unacted.h"
#include "exec/job.h"

enum run_executor { RUN_EXEC_AUTO = 0, RUN_EXEC_SHELL, RUN_EXEC_DOCKER, RUN_EXEC_SANDBOX };

struct run_executor_opts {
    enum run_executor executor;
    const char *image;              /* --image: the runner's default image */
    unsigned pull_policy;           /* --pull-policy; 0: if-not-present */
    unsigned allowed_policies;      /* --allowed-pull-policies; 0: any */
    struct sl_exec_sandbox sandbox; /* --memory, --pids, --cpus, --rootfs */
};

/* Parses "auto|shell|docker|sandbox" into *E; false when unknown. */
bool sl_run_executor_parse(const char *s, enum run_executor *e);
/* Parses a comma-separated list of pull policies into a mask; 0 when one is unknown. */
unsigned sl_run_executor_policies(const char *s);
/* Sets JS's executor and docker options from its image (JS->image, expanded when JS is
 * bound). An image or services the job's executor ignores are noted in U (NULL: not
 * noted; sluice run notes them once, on the planned jobs, before the run). */
void sl_run_executor_apply(struct sl_arena *a, const struct run_executor_opts *o,
                           struct sl_job_spec *js, struct cli_unacted *u);

/* The sandbox's limit options of run, serve and agent: NAME is "memory" (bytes, or with a
 * k, m or g suffix), "pids" or "cpus" (a fraction of cores); S its value, set in SB.
 * Prints CMD's usage error and returns false when S is not a positive number. */
bool sl_run_executor_limit(const char *cmd, const char *name, const char *s,
                           struct sl_exec_sandbox *sb);
/* --executor sandbox at start-up: the trial job of sl_exec_sandbox_probe; prints CMD's
 * error naming what the kernel refuses and returns false when the sandbox cannot run. */
bool sl_run_executor_probe(const char *cmd, const struct sl_exec_sandbox *sb);

#endif
