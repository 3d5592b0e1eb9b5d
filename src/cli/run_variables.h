/* run_variables.h: a developer's own CI/CD variables for `sluice run`, kept in files so
 * secrets stay out of the command line and the shell history.
 *
 * Read, later files winning on a key:
 *   ~/.config/sluice/variables.yml   (the developer's, every project)
 *   PROJECT/.sluice/variables.yml    (this project's; .sluice/ is never committed)
 *   --variables-file FILE ...        (in the order given)
 * A file is YAML, a mapping of `KEY: value` or `KEY: {value, masked, variable_type, raw,
 * description}`, or a dotenv file of `KEY=value` lines (# comments, blank lines) for plain
 * variables. They rank as a project's CI/CD variables do: above the YAML's variables and
 * dotenv reports, below --var. Masked values are masked in the output and stored logs, file
 * variables become paths to files in the pipeline's directory (0600), removed at the end.
 *
 * Errors (SL_EINVAL, with FILE:LINE where known): a file that is neither YAML mapping nor
 * dotenv, a bad key, an unknown attribute, a masked value GitLab would not mask. A missing
 * default file is not an error; a missing --variables-file is. */
#ifndef SL_CLI_RUN_VARIABLES_H
#define SL_CLI_RUN_VARIABLES_H

#include "base/arena.h"
#include "base/compat.h"
#include "base/error.h"

struct sl_mask;

struct run_variables {
    struct sl_arena arena;
    const char **extra;     /* KEY=VALUE, NULL-terminated: for sl_jobspec_ctx.extra */
    const char **extra_raw; /* raw ones and file paths: sl_jobspec_ctx.extra_raw */
    struct sl_mask *mask;   /* the masked values; NULL when none */
    char *files_dir;        /* where file variables were written; NULL when none */
    size_t count;           /* variables read */
};

/* Reads the default files and FILES (NULL-terminated, may be NULL) into *RV, writing file
 * variables under FILES_DIR. Release with sl_run_variables_release, also after a failure. */
int sl_run_variables_load(struct run_variables *rv, const char *project_dir,
                          const char *const *files, const char *files_dir, struct sl_error *err);
/* Removes the file variables' directory and frees *RV. */
void sl_run_variables_release(struct run_variables *rv);

#endif
