/* unacted.c: keywords accepted but not acted on in the current mode, once per keyword
 * (unacted.h). */
#include "base/compat.h"
#include "cli/unacted.h"
#include "base/alloc.h"
#include "config/node.h"

/* Shown at most this many job names, then "and N more". */
#define JOBS_SHOWN 5

void sl_cli_unacted_add(struct cli_unacted *u, const char *keyword, const char *why,
                        const char *job)
{
    size_t i = 0;
    while (i < u->n && strcmp(u->items[i].keyword, keyword))
        i++;
    if (i == u->n) {
        if (u->n == CLI_UNACTED_MAX)
            return;
        u->items[u->n].keyword = keyword;
        u->items[u->n].why = why;
        u->items[u->n].jobs = NULL;
        u->items[u->n++].njobs = 0;
    }
    if (u->items[i].njobs++ >= JOBS_SHOWN)
        return;
    char *old = u->items[i].jobs;
    u->items[i].jobs = old ? sl_xasprintf("%s, %s", old, job) : sl_xstrdup(job);
    free(old);
}

void sl_cli_unacted_local(struct cli_unacted *u, const struct sl_plan *p, const bool *sel)
{
    for (size_t i = 0; i < p->njobs; i++) {
        if (sel && !sel[i])
            continue;
        if (p->jobs[i].tags && p->jobs[i].tags[0])
            sl_cli_unacted_add(u, "tags", "a local run runs every job on this machine",
                               p->jobs[i].name);
    }
}

void sl_cli_unacted_print(const struct cli_unacted *u, FILE *f)
{
    for (size_t i = 0; i < u->n; i++) {
        size_t more = u->items[i].njobs > JOBS_SHOWN ? u->items[i].njobs - JOBS_SHOWN : 0;
        fprintf(f, "sluice: warning: `%s` is ignored: %s (job%s %s", u->items[i].keyword,
                u->items[i].why, u->items[i].njobs == 1 ? "" : "s", u->items[i].jobs);
        if (more)
            fprintf(f, " and %zu more", more);
        fputs(")\n", f);
    }
}

void sl_cli_unacted_release(struct cli_unacted *u)
{
    for (size_t i = 0; i < u->n; i++)
        free(u->items[i].jobs);
    u->n = 0;
}
