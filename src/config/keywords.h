/* keywords.h: the keyword table of the validator: one row per keyword of a job (and of
 * the nested hashes that have their own keys), with where it may appear, its priority
 * (SPEC.md §1) and the checker of its shape. lint.c walks a configuration through it. */
#ifndef SL_CONFIG_KEYWORDS_H
#define SL_CONFIG_KEYWORDS_H

#include "base/compat.h"
#include "base/diag.h"
#include "config/config.h"

enum kw_prio { KW_CORE, KW_COMMON, KW_RARE };

/* Where a keyword may appear. */
enum kw_where {
    KW_JOB = 1 << 0,
    KW_DEFAULT = 1 << 1,
    KW_TOP = 1 << 2,
};

struct lint;

/* A checker: N is the value of keyword KEY inside PARENT (a location such as
 * "jobs:rspec"). It adds errors through sl_lint_error in GitLab's wording: an entry's own
 * errors read "PARENT:KEY config ...", an attribute's read "PARENT KEY ...". */
typedef void (*kw_check_fn)(struct lint *l, const char *parent, const char *key,
                            const struct sl_node *n);

struct keyword {
    const char *name;
    unsigned where;
    enum kw_prio prio;
    kw_check_fn check; /* NULL: any shape */
};

extern const struct keyword sl_job_keywords[];
extern const size_t sl_job_keywords_count;
const struct keyword *sl_keyword_find(const char *name);

struct lint {
    const struct sl_config *cfg;
    struct sl_diag *diag;
    const char *job; /* the job being checked, for logical messages */
    bool bridge;     /* that job is a Bridge (a trigger job): its keys' rules differ */
    /* Expressions met (rules:if, only/except:variables), checked for misspelt variable
     * names once every variable the file defines is known (lint_vars.c). Heap array of
     * borrowed nodes, freed by sl_lint_expr_names. */
    const struct sl_node **exprs;
    size_t nexprs, exprs_cap;
    /* Keywords sluice accepts but does not act on: warned once per pipeline at the first
     * place, the message then counts the others (lint.c). */
    struct {
        const struct keyword *kw;
        size_t item; /* index in diag */
        size_t more;
    } unacted[16];
    size_t nunacted;
};

void sl_lint_error(struct lint *l, const struct sl_node *at, const char *fmt, ...) SL_PRINTF(3, 4);
void sl_lint_error_pos(struct lint *l, struct sl_pos pos, const char *fmt, ...) SL_PRINTF(3, 4);
void sl_lint_warning(struct lint *l, struct sl_pos pos, const char *fmt, ...) SL_PRINTF(3, 4);
/* Remembers expression N (a scalar) for sl_lint_expr_names. */
void sl_lint_note_expression(struct lint *l, const struct sl_node *n);
/* Warns about each `$NAME` of the noted expressions that neither the file defines nor
 * GitLab predefines but that is one or two edits from a name that is: "did you mean"
 * (a name far from every known one may be a project variable: no warning). */
void sl_lint_expr_names(struct lint *l);
/* `workflow:rules`, with the workflow vocabulary (when: always | never). */
void sl_lint_workflow_rules(struct lint *l, const struct sl_node *n);
/* `include:rules` (LOC is the include entry's location): if, changes, exists, when: never |
 * always. */
void sl_lint_include_rules(struct lint *l, const char *loc, const struct sl_node *n);
/* The top-level `include` (present only in shape-only mode: otherwise include.c resolved
 * it), the `spec:` header (HEADER is the map holding `spec`), and `workflow:auto_cancel`. */
void sl_lint_include(struct lint *l, const struct sl_node *n);
void sl_lint_spec(struct lint *l, const struct sl_node *header);
void sl_lint_auto_cancel(struct lint *l, const char *loc, const struct sl_node *n);
/* One entry of an include list, in one of three vocabularies: the top-level `include`,
 * `trigger:include` and `spec:include`. */
enum kw_include_kind { KW_INCLUDE_TOP, KW_INCLUDE_TRIGGER, KW_INCLUDE_SPEC };
void sl_lint_include_item(struct lint *l, const char *loc, const struct sl_node *n,
                          enum kw_include_kind kind);
/* `inputs` passed to an included file or a downstream pipeline: names of letters, digits,
 * `_` and `-`; values of any shape but strings at most 1024 characters. */
void sl_lint_inputs_values(struct lint *l, const char *loc, const struct sl_node *n);

/* A project path (`trigger`, `include:project`): "LOC project should be a full project
 * path (namespace/project)" unless it has a slash between two non-blank characters or a
 * variable, as GitLab's JSON schema asks. */
void sl_lint_project_path(struct lint *l, const char *loc, const struct sl_node *n);

/* The checkers of keywords_rare.c (the RARE keywords sluice keeps but does not act on). */
void sl_kw_check_run(struct lint *l, const char *p, const char *k, const struct sl_node *n);
void sl_kw_check_secrets(struct lint *l, const char *p, const char *k, const struct sl_node *n);
void sl_kw_check_id_tokens(struct lint *l, const char *p, const char *k, const struct sl_node *n);
void sl_kw_check_hooks(struct lint *l, const char *p, const char *k, const struct sl_node *n);
void sl_kw_check_identity(struct lint *l, const char *p, const char *k, const struct sl_node *n);
void sl_kw_check_dast(struct lint *l, const char *p, const char *k, const struct sl_node *n);
void sl_kw_check_job_inputs(struct lint *l, const char *p, const char *k, const struct sl_node *n);
void sl_kw_check_pages(struct lint *l, const char *p, const char *k, const struct sl_node *n);

/* Shape helpers shared by keywords.c and keywords_rare.c. */
/* KEY's value in MAP, a null value read as absent (extends and default write null to remove
 * a keyword, and GitLab validates the result, where the key is then gone). */
const struct sl_node *sl_kw_get(const struct sl_node *map, const char *key);
/* As sl_kw_get, but in shape-only mode a null value is returned: the JSON schema sees null as
 * a value, and the checker rejects it where the schema does. */
const struct sl_node *sl_kw_val(const struct lint *l, const struct sl_node *map, const char *key);
/* Scalars other than null: GitLab reads numbers and booleans as strings in many places. */
bool sl_kw_is_scalar(const struct sl_node *n);
bool sl_kw_is_bool(const struct sl_node *n);
bool sl_kw_is_int(const struct sl_node *n);
/* A string scalar (quoted or plain), optionally non-empty. */
bool sl_kw_is_str(const struct sl_node *n, bool nonempty);
/* An array of scalars (sl_kw_strings) or of string scalars only (sl_kw_str_array). */
bool sl_kw_strings(const struct sl_node *n);
bool sl_kw_str_array(const struct sl_node *n);
bool sl_kw_nested_strings(const struct sl_node *n, int depth);
bool sl_kw_duration_ok(const struct sl_node *n, int64_t *secs);
/* GitLab's DurationValidator with a limit (keywords.c): "LOC NAME should be a duration" and
 * "... should not exceed the limit", N NULL for an absent value (reported at AT). */
#define SL_KW_START_IN_LIMIT_S (7 * 86400)
void sl_kw_duration_limit(struct lint *l, const char *loc, const char *name,
                          const struct sl_node *n, const struct sl_node *at, int64_t limit_s);
/* Reports keys of MAP not in ALLOWED (NULL-terminated) as "LOC config contains unknown
 * keys: a, b". Returns true when there were none. */
bool sl_kw_unknown_keys(struct lint *l, const char *loc, const struct sl_node *map,
                        const char *const *allowed);
/* Reports the keys of REQUIRED missing from MAP as "LOC config missing required keys: a". */
bool sl_kw_required_keys(struct lint *l, const char *loc, const struct sl_node *map,
                         const char *const *required);
bool sl_kw_one_of(const char *s, const char *const *values);
/* Hints on the diagnostic just added: "did you mean `NAME`?" with the name of NAMES
 * (NULL-terminated) closest to WORD, or of the visible jobs, or of the stages; nothing
 * when none is close (base/suggest.h). */
void sl_kw_hint_names(struct lint *l, const char *word, const char *const *names);
void sl_kw_hint_job(struct lint *l, const char *word);
void sl_kw_hint_stage(struct lint *l, const char *word);
char *sl_kw_join(const char *const *values);          /* "a, b, c"; caller frees */
char *sl_kw_loc(const char *parent, const char *key); /* "PARENT:KEY"; caller frees */
/* The `script` shape: a string or an array of strings and arrays of strings, nested up to
 * 10 levels; numbers and booleans are not strings here (GitLab's validator is strict). */
bool sl_kw_script_ok(const struct sl_node *n, int depth);
/* The expression hook (config.h). */
bool sl_lint_expression_ok(const char *src);

#endif
