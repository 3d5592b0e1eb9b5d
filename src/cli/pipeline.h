/* pipeline.h: what `sluice plan` and `sluice run` share: finding the pipeline file and
 * its project, reading the trigger from git, loading the configuration and planning. */
#ifndef SL_CLI_PIPELINE_H
#define SL_CLI_PIPELINE_H

#include "base/compat.h"
#include "cli/includes.h"
#include "config/config.h"
#include "plan/plan.h"

#include <jansson.h>

struct cli_pipeline_args {
    const char *file; /* -f, or NULL for the default */
    const char *ref;  /* --ref */
    const char *tag;  /* --tag */
    const char *source;
    const char **vars; /* "K=V" (--var), NULL-terminated */
    const char **changed;
    const char **inputs; /* "NAME=VALUE" (--input) for the file's spec:inputs, NULL-terminated */
    struct cli_include_opts includes; /* --offline, --include-project, --template-dir */
    /* --json: a refused configuration is also said on stdout, as lint --json's object
     * (CLI_JSON_OBJECT: plan) or as a "config" event line (CLI_JSON_EVENT: run) */
    enum { CLI_JSON_NONE, CLI_JSON_OBJECT, CLI_JSON_EVENT } json_errors;
};

struct cli_pipeline {
    char *file;        /* the pipeline file */
    char *project_dir; /* its directory, absolute */
    struct sl_trigger trigger;
    struct sl_config *cfg;
    struct sl_plan *plan;
    struct cli_include_opts includes; /* as given, for child pipelines' includes */
};

/* Does it all; prints what went wrong (configuration errors as FILE:LINE:COL: message,
 * warnings too) and returns the exit code to use, or SL_EXIT_OK with P filled. */
int sl_cli_pipeline_prepare(struct cli_pipeline *p, const struct cli_pipeline_args *args);
void sl_cli_pipeline_release(struct cli_pipeline *p);
/* A run that starts: takes its pipeline number (prepare only looked at the next one, so
 * a run refused before it starts uses none), replanning in the rare case another run took
 * that number meanwhile; makes .sluice/ with its .gitignore. Prints what went wrong and
 * returns the exit code to use. */
int sl_cli_pipeline_start(struct cli_pipeline *p);
/* Makes PROJECT_DIR/.sluice and its .gitignore ("*": the directory never shows in git
 * status). Returns 0 or an SL_E* code with ERR set. */
int sl_cli_sluice_dir_ensure(const char *project_dir, struct sl_error *err);
/* For lint and config, which read no git: the variables include:local paths may use, from
 * the environment (CI_PROJECT_*, CI_COMMIT_*, CI_DEFAULT_BRANCH, ...), with CI_PROJECT_DIR
 * and CI_PROJECT_NAME from PROJECT_DIR. NULL-terminated; free each string and the array. */
char **sl_cli_env_include_vars(const char *project_dir);
/* lint's and config's loading: FILE's directory is the project, include variables from
 * the environment, the expression hook set; DIAG sorted. Returns sl_config_load_file's
 * code; *cfg as it sets it. */
int sl_cli_load_config(const char *file, bool shape_only, const struct cli_include_opts *includes,
                       struct sl_config **cfg, struct sl_diag *diag);
/* Prints DIAG's items to stderr as FILE:LINE:COL: [warning: ]message. */
void sl_cli_print_diag(const struct sl_diag *diag);
/* Each item as FILE:LINE:COL: [warning: ]MESSAGE, then the source line with a caret under
 * the column, then "hint: ..." when the item has one (diag_print.c). */
void sl_cli_diag_write(FILE *out, const struct sl_diag *diag);
/* DIAG as {"valid": VALID, "errors": [...], "warnings": [...]}, each item with file,
 * line, column, message and, when it has one, hint (lint --json's shape). A new object. */
json_t *sl_cli_diag_json(const struct sl_diag *diag, bool valid);
/* Parses "K=V" into the collection; false (and a message) for a malformed one. */
bool sl_cli_parse_var(struct sl_vars *vars, const char *kv);

#endif
