/* internal.h: what the plan room's files share while building one plan. */
#ifndef SL_PLAN_INTERNAL_H
#define SL_PLAN_INTERNAL_H

#include "base/compat.h"
#include "plan/plan.h"

struct plan_ctx {
    struct sl_plan *plan;
    struct sl_arena *a;
    const struct sl_config *cfg;
    const struct sl_trigger *t;
    char **files; /* the project's files, for rules:exists; listed on first use */
    size_t nfiles, capfiles;
    bool listed;
    const struct sl_node *top_vars; /* the top-level `variables:` */
    bool workflow_rules;            /* `workflow:rules` given: no implicit `only` */
    /* the pipeline's variables rules may see: all but the job-only ones (VARIABLES.md) */
    const struct sl_vars *rule_base;
    bool shared_rule_vars; /* jobs without variables may share one rule set (build.c) */
    /* rules:changes:compare_to, diffed once per ref */
    struct compare {
        char *ref;
        char **paths;
        size_t npaths;
    } * compares;
    size_t ncompares, capcompares;
    /* the first error met while evaluating rules (an unknown compare_to ref): rules have
     * no error channel of their own, so the build checks this after each job */
    int rule_rc;
    struct sl_error rule_err;
};

/* Frees what C holds (file listing, compare_to diffs, rule error), not C itself. */
void sl_plan_ctx_release(struct plan_ctx *c);

/* Lookup for expressions over a variable collection (ctx is a struct sl_vars *). */
const char *sl_plan_lookup(void *ctx, const char *name);

/* True when RULE (one item of `rules:`) matches: its `if`, `changes` and `exists` all
 * hold (a missing clause holds). VARS are the variables visible to the rule. */
bool sl_plan_rule_matches(struct plan_ctx *c, const struct sl_node *rule,
                          const struct sl_vars *vars);
/* The first matching rule of RULES (a sequence), or NULL. *index gets its position. */
const struct sl_node *sl_plan_first_rule(struct plan_ctx *c, const struct sl_node *rules,
                                         const struct sl_vars *vars, size_t *index);
/* only/except (including the implicit `only: [branches, tags]`). Returns true when the job
 * is in the pipeline, else false with *reason (arena string). */
bool sl_plan_only_except(struct plan_ctx *c, const struct sl_node *job, const struct sl_vars *vars,
                         const char **reason);

/* Fills J's typed keywords (artifacts, caches, image, services, coverage, tags, trigger,
 * YAML variable names given the top-level `variables:` TOP_VARS) from J->node, in A
 * (jobfields.c). */
void sl_plan_job_fields(struct sl_arena *a, struct sl_plan_job *j, const struct sl_node *top_vars);
/* Fills P's var_attrs from the top-level `variables:` TOP_VARS (jobfields.c). */
void sl_plan_var_attrs(struct sl_plan *p, const struct sl_node *top_vars);

#endif
