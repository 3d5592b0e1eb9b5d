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
};

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

#endif
