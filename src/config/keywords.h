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
 * "jobs:rspec"). It adds errors through lint_error in GitLab's wording: an entry's own
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
};

void lint_error(struct lint *l, const struct sl_node *at, const char *fmt, ...) SL_PRINTF(3, 4);
void lint_error_pos(struct lint *l, struct sl_pos pos, const char *fmt, ...) SL_PRINTF(3, 4);
void lint_warning(struct lint *l, struct sl_pos pos, const char *fmt, ...) SL_PRINTF(3, 4);
/* `workflow:rules`, with the workflow vocabulary (when: always | never). */
void sl_lint_workflow_rules(struct lint *l, const struct sl_node *n);
/* The expression hook (config.h). */
bool lint_expression_ok(const char *src);

#endif
