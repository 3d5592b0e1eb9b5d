/* config.h: a `.gitlab-ci.yml` (with its includes) compiled into one resolved, validated
 * configuration. This is the config room's public API.
 *
 * Processing order (GitLab's, SPEC.md §0): YAML load (anchors, merge keys) → `include`
 * (included files merged under the main file, which wins) → `extends` → `!reference` →
 * `.pre`/`.post` stages → `default:`/`inherit` copied into jobs → validation (keyword table,
 * then logical checks). The config room does no I/O except through the injected reader and
 * lister, so it is testable on strings.
 *
 * Ownership: a struct sl_config owns an arena holding every node and string it points to;
 * sl_config_free releases it all. Diagnostics go to the caller's struct sl_diag. */
#ifndef SL_CONFIG_H
#define SL_CONFIG_H

#include "base/compat.h"
#include "base/diag.h"
#include "base/map.h"
#include "base/str.h"
#include "config/node.h"

/* Reads PATH (as given to it: relative to the project dir for include:local, or the main
 * file's path) into *out (caller frees, NUL-terminated) and *len. Returns 0, SL_ENOENT or
 * another SL_E* code with err filled. */
typedef int (*sl_config_read_fn)(void *ctx, const char *path, char **out, size_t *len,
                                 struct sl_error *err);
/* Lists every file of the project (paths relative to the project dir, "/" separated,
 * without a leading "./"), calling EMIT for each; used to expand include:local globs.
 * Returns 0 or an SL_E* code. */
typedef int (*sl_config_list_fn)(void *ctx, void (*emit)(void *emit_ctx, const char *path),
                                 void *emit_ctx, struct sl_error *err);

/* An include that is not a file of the project (include:remote, include:project,
 * include:template, include:component, and an include:local inside a file that came from
 * another project, which GitLab reads from that project): what the loader asks the
 * caller's resolver for. The config room does no network and knows no cache; the CLI and
 * the server hand it a resolver (src/cli/includes.c). Every string is borrowed and has its
 * variables expanded already. */
struct sl_config_include {
    const char *kind;     /* "remote", "project", "template" or "component" */
    const char *location; /* remote: the URL; project: the project's path (lower case);
                           * template: the template's name; component: its address */
    const char *ref;      /* project: the ref, NULL for the project's HEAD */
    const char *file;     /* project: the file (no leading slash) */
};
/* What the resolver found. TEXT (caller frees) is the file; PROJECT and SHA (caller frees,
 * NULL for remote and template) the project and commit it came from, which become the
 * context of the file's own include:local entries, as GitLab's context.mutate makes them. */
struct sl_config_fetched {
    char *text;
    size_t len;
    char *project;
    char *sha;
};
/* Resolves INC into *out. Returns 0; or SL_ENOENT, SL_EPERM, SL_ETIMEOUT or another SL_E*
 * code with err->message set to the whole message for the user in GitLab's wording
 * ("Project `g/p` reference `v9` does not exist!"), which the loader reports at the
 * include's position. */
typedef int (*sl_config_fetch_fn)(void *ctx, const struct sl_config_include *inc,
                                  struct sl_config_fetched *out, struct sl_error *err);

struct sl_config_opts {
    const char *project_dir; /* include:local root; default: the main file's directory */
    sl_config_read_fn read;  /* default: the file system under project_dir */
    sl_config_list_fn list;  /* default: walk project_dir (skipping .git and .sluice) */
    void *io_ctx;            /* passed to read and list */
    /* Resolves the includes that are not local files; NULL: each is an error that says no
     * resolver was given (a configuration loaded from a string by a library user). */
    sl_config_fetch_fn fetch;
    void *fetch_ctx;
    const char *const *vars; /* "K=V" variables usable in include paths, NULL-ended */
    /* include:rules `if` and `changes` need the pipeline and the expression room, which
     * config may not use: the caller decides them (sl_plan_include_rule, with
     * include_rule_ctx and the variables above). Unset, they hold, with a warning. */
    bool (*include_rule)(void *ctx, const struct sl_node *rule, const char *const *vars);
    void *include_rule_ctx;
    /* The main file's inputs, "NAME=VALUE" (NULL-ended): `sluice run --input`, the API's
     * `inputs`. Checked against its `spec:inputs`; without them the defaults apply. */
    const char *const *inputs;
    size_t max_includes;        /* default SL_CONFIG_MAX_INCLUDES */
    struct sl_yaml_limits yaml; /* zero: defaults */
    /* Shape-only mode (`sluice lint --schema`), as GitLab's JSON schema checks a file in its
     * editor: every keyword's shape and allowed values are checked, but nothing that needs
     * the whole project. Includes are checked for shape and not read (`include` stays in the
     * root); an unknown `extends` parent counts as an empty hash; a `!reference` that cannot
     * be found stays a plain array; a top-level `spec:` in the one document is the header;
     * the validator skips stages exist, needs/dependencies name jobs, and script required
     * of a job that extends something. */
    bool shape_only;
};

#define SL_CONFIG_MAX_INCLUDES 150
#define SL_CONFIG_MAX_EXTENDS_DEPTH 10
#define SL_CONFIG_MAX_REFERENCE_DEPTH 10
#define SL_CONFIG_MAX_MATRIX 200
#define SL_CONFIG_MAX_NEEDS 50

struct sl_config_job {
    const char *name;
    struct sl_node *node; /* the resolved job map (extends, references, defaults applied) */
    struct sl_pos pos;    /* where the job's key is written */
};

struct sl_config {
    struct sl_arena arena;
    const char *path;       /* the main file, as given */
    struct sl_node *root;   /* the resolved top-level map; hidden jobs kept */
    struct sl_node *header; /* the `spec:` header document, or NULL */
    const char **stages;    /* effective stages: .pre first, .post last */
    size_t nstages;
    struct sl_config_job *jobs; /* visible jobs, in file order */
    size_t njobs;
    struct sl_map job_index; /* job name -> index + 1 into jobs, for sl_config_job */
    const char **files;      /* every file read (main file first), for messages */
    size_t nfiles;
    bool shape_only; /* loaded with opts->shape_only: sl_config_validate checks shapes only */
};

/* Loads, resolves and validates the pipeline file PATH. Returns 0 when valid (warnings may
 * still be in DIAG), SL_EINVAL when any error was found (all of them in DIAG, sorted by
 * position), or another SL_E* code for a failure that stopped processing early (also in
 * DIAG). On success *out owns the configuration (free with sl_config_free). With an error,
 * *out is still set when the file could be parsed and resolved far enough to be shown
 * (so `sluice config` can print it), else NULL. */
int sl_config_load_file(struct sl_config **out, const char *path, const struct sl_config_opts *opts,
                        struct sl_diag *diag);
/* As sl_config_load_file for an in-memory main file named NAME. */
int sl_config_load_string(struct sl_config **out, const char *name, const char *text, size_t len,
                          const struct sl_config_opts *opts, struct sl_diag *diag);
void sl_config_free(struct sl_config *cfg);

/* The job called NAME (visible jobs only), or NULL. */
const struct sl_config_job *sl_config_job(const struct sl_config *cfg, const char *name);
/* True when the top-level pair KEY: VALUE is a job (visible), as GitLab's
 * Entry::Root#filter_jobs! decides: `default` or `workflow` with script/run/trigger is one. */
bool sl_config_is_job_key(const char *key, const struct sl_node *value);
/* ROOT's top-level section KEY (e.g. `default`, `workflow`), NULL when absent or when that
 * key is a job. The node belongs to ROOT. */
struct sl_node *sl_config_section(const struct sl_node *root, const char *key);

/* Writes the merged configuration as YAML, as GitLab shows its merged YAML: includes,
 * anchors, extends, !reference and defaults resolved; top-level keys in file order. */
void sl_config_emit_yaml(const struct sl_config *cfg, struct sl_str *out);

/* The keyword-table validation and the logical checks, on a resolved configuration.
 * Adds every problem to DIAG (errors in GitLab's wording, prefixed by position; warnings for
 * keywords sluice accepts but does not act on). Returns true when no error was added. */
bool sl_config_validate(const struct sl_config *cfg, struct sl_diag *diag);

/* The config room may not use the expression room (DESIGN.md §1), so the syntax check of
 * `rules:if` and `only/except:variables` comes in through this hook; the CLI and the server
 * set it to sl_expr_valid. Unset, expressions are not checked. Process-wide. */
typedef bool (*sl_config_expr_check_fn)(const char *expression);
void sl_config_set_expr_checker(sl_config_expr_check_fn fn);

/* Likewise an input's `regex` (RE2 syntax, untrusted): returns 1 when PATTERN matches
 * somewhere in SUBJECT, 0 when not, negative when PATTERN is invalid. The CLI and the
 * server set it to sl_regex_match_once. Unset, `regex` is not checked. Process-wide. */
typedef int (*sl_config_regex_match_fn)(const char *pattern, const char *subject);
void sl_config_set_regex_matcher(sl_config_regex_match_fn fn);

#endif
