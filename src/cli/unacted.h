/* unacted.h: keywords a pipeline uses that `sluice plan` or `sluice run` accepts but does
 * not act on in its mode (tags in a local run, image and services on the shell executor):
 * said once per keyword per pipeline, naming the jobs, on stderr before the run, never
 * repeated per job nor in the job logs. The keywords sluice never acts on (secrets, ...)
 * are lint's warnings (config/lint.c), which plan and run print too. */
#ifndef SL_CLI_UNACTED_H
#define SL_CLI_UNACTED_H

#include "base/compat.h"
#include "plan/plan.h"

#define CLI_UNACTED_MAX 8

struct cli_unacted {
    struct {
        const char *keyword; /* borrowed (static) */
        const char *why;     /* borrowed (static) */
        char *jobs;          /* owned: "a, b, c" */
        size_t njobs;
    } items[CLI_UNACTED_MAX];
    size_t n;
};

/* Notes that JOB's KEYWORD is not acted on, because WHY (a static string). */
void sl_cli_unacted_add(struct cli_unacted *u, const char *keyword, const char *why,
                        const char *job);
/* What no local mode acts on, for the jobs of P that SEL marks (NULL: all). */
void sl_cli_unacted_local(struct cli_unacted *u, const struct sl_plan *p, const bool *sel);
/* One line per keyword: "sluice: warning: `tags` is ignored: WHY (jobs: a, b)". */
void sl_cli_unacted_print(const struct cli_unacted *u, FILE *f);
void sl_cli_unacted_release(struct cli_unacted *u);

#endif
