/* executors.h: what the executors share inside the exec room.
 *
 * sl_exec_run (exec.c) picks the executor of the spec; each one fills a result as exec.h
 * describes. */
#ifndef SL_EXEC_EXECUTORS_H
#define SL_EXEC_EXECUTORS_H

#include "exec/exec.h"
#include "exec/output.h"

int sl_exec_shell_run(const struct sl_exec_spec *spec, struct sl_exec_result *result,
                      struct sl_error *err);
int sl_exec_docker_run(const struct sl_exec_spec *spec, struct sl_exec_result *result,
                       struct sl_error *err);

/* The script of one phase: `set -e`, pipefail (IS_BASH: plainly; otherwise where the
 * shell has it), then each command of the NLISTS lists echoed as `MARKER$ command` and
 * run. A new string. */
char *sl_exec_script_build(const char *marker, bool is_bash, const char *const *lists[],
                           size_t nlists);

/* The sandbox's command-line prefix for SPEC (sandbox.c): the helper (`sluice __sandbox`)
 * and its options, ending with "--"; the shell's argv follows. ARGV has room for
 * SL_EXEC_SANDBOX_ARGS entries; each string is allocated (free them up to the returned
 * count). Returns the count, or a negative code when the program cannot be found. */
#define SL_EXEC_SANDBOX_ARGS 48
int sl_exec_sandbox_argv(const struct sl_exec_spec *spec, char **argv, struct sl_error *err);

/* The environment a phase runs with: SRC (NULL: environ) without CI_JOB_STATUS, plus
 * CI_JOB_STATUS=STATUS. The array is new (free it, not the strings); *STORAGE holds the
 * one string made here (free it too). */
char **sl_exec_phase_env(const char *const *src, const char *status, char **storage);

/* How the main script's phase ended, as every executor reports it in R: a timeout wins
 * over a cancel (GitLab's job_execution_timeout), a cancel over the exit code, then a
 * non-zero exit is a script_failure. R's exit code and signal are the caller's. */
void sl_exec_result_settle(struct sl_exec_result *r, bool timed_out, bool canceled, int exit_code);
/* The after_script's time limit for SPEC in ms: its own, else GitLab's 5 minutes. */
int64_t sl_exec_after_script_timeout_ms(const struct sl_exec_spec *spec);
/* How an after_script's phase ended: it never changes the job's status, so what happened
 * goes only to the job's log (OUT, in GitLab Runner's wording) and to R's after_script_*
 * fields. WHY_NOT_STARTED: it could not run at all (the rest is then unused). */
struct sl_exec_phase_end {
    bool timed_out, canceled;
    int exit_code, signal;
};
void sl_exec_after_script_ended(struct sl_exec_output *out, struct sl_exec_result *r,
                                const char *why_not_started, const struct sl_exec_phase_end *e,
                                int64_t timeout_ms);
/* Whether the job's after_script runs after the main script ended as R says: when there is
 * one, unless the job timed out or its cancel was forced (a second cancel: stop at once). */
bool sl_exec_after_script_due(const struct sl_exec_spec *spec, const struct sl_exec_result *r);

#endif
