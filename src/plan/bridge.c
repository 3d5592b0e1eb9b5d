/* bridge.c: what a bridge job (`trigger:`) hands its downstream pipeline, shared by
 * `sluice run` (child pipelines here) and the server (child and multi-project pipelines).
 * GitLab: Ci::Bridge#downstream_variables and the `trigger:forward` defaults. */
#include "base/compat.h"
#include "plan/plan.h"

void sl_plan_bridge_variables(const struct sl_plan_job *pj, const struct sl_trigger *t,
                              struct sl_vars *out)
{
    if (pj->bridge.forward_yaml_variables)
        for (const char *const *k = pj->yaml_variable_names; k && *k; k++) {
            const char *v = sl_vars_get(&pj->variables, *k);
            if (v)
                sl_vars_set(out, *k, v, true);
        }
    if (pj->bridge.forward_pipeline_variables)
        for (size_t i = 0; i < t->pipeline_vars.n; i++)
            sl_vars_set(out, t->pipeline_vars.v[i].name, t->pipeline_vars.v[i].value, true);
}
