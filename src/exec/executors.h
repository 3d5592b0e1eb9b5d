/* executors.h: what the executors share inside the exec room.
 *
 * sl_exec_run (exec.c) picks the executor of the spec; each one fills a result as exec.h
 * describes. */
#ifndef SL_EXEC_EXECUTORS_H
#define SL_EXEC_EXECUTORS_H

#include "exec/exec.h"

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

#endif
