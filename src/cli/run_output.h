/* run_output.h: what `sluice run` prints: job log lines prefixed with the job's name,
 * status lines, the summary table, or JSON-lines events with --json.
 *
 * Thread-safe: job threads call sl_run_output_line concurrently; each call writes whole
 * lines under one lock, so lines of different jobs never interleave mid-line. */
#ifndef SL_CLI_RUN_OUTPUT_H
#define SL_CLI_RUN_OUTPUT_H

#include "base/compat.h"
#include "exec/exec.h"

struct run_output;

struct run_summary_row {
    const char *name;
    const char *stage;
    const char *status;             /* "success", "failed", ... */
    bool allowed_failure;           /* failed but allow_failure: shown as a warning */
    int64_t duration_ms;            /* -1: did not run */
    const char *coverage;           /* "87.5" or NULL */
    int tests_passed, tests_failed; /* -1 when no junit report */
    const char *failure_reason;     /* NULL or "" when none */
    int attempt;
};

/* FP receives everything. COLOR: ANSI colours. JSON: JSON-lines events instead of text.
 * NAME_WIDTH: the widest job name, for padding. */
struct run_output *sl_run_output_new(FILE *fp, bool color, bool json, size_t name_width);
void sl_run_output_free(struct run_output *o);

/* One line of job JOB's log (JOB_INDEX picks its colour). */
void sl_run_output_line(struct run_output *o, const char *job, size_t job_index,
                        enum sl_exec_stream stream, const char *line, size_t len);
/* A job changed status; DETAIL is optional text ("exit code 1", "attempt 2"). */
void sl_run_output_job_status(struct run_output *o, const char *job, size_t job_index,
                              const char *status, const char *detail);
/* A message about the pipeline (not a job). */
void sl_run_output_note(struct run_output *o, const char *fmt, ...) SL_PRINTF(2, 3);
/* The final table, the pipeline's status line and, last, where the job logs are
 * (LOGS_DIR, shown relative to the current directory when under it). */
void sl_run_output_summary(struct run_output *o, const struct run_summary_row *rows, size_t n,
                           const char *pipeline_status, bool warnings, int64_t duration_ms,
                           const char *logs_dir);

#endif
