/* sources.c: which earlier jobs a job receives artifacts from (jobspec.h). */
#include "jobspec/jobspec.h"

static bool listed(const size_t *v, size_t n, size_t x)
{
    for (size_t i = 0; i < n; i++)
        if (v[i] == x)
            return true;
    return false;
}

/* True when PJ needs job X with `artifacts: true`. */
static bool needs_artifacts(const struct sl_plan_job *pj, size_t x)
{
    for (size_t i = 0; i < pj->nneeds; i++)
        if (pj->needs[i].index == x && pj->needs[i].artifacts)
            return true;
    return false;
}

size_t sl_jobspec_sources(const struct sl_plan *p, size_t idx, size_t *out)
{
    const struct sl_plan_job *pj = &p->jobs[idx];
    size_t n = 0;
    if (pj->dependencies_declared) {
        for (size_t i = 0; i < pj->ndependencies; i++) {
            size_t x = pj->dependencies[i];
            if ((!pj->needs_declared || needs_artifacts(pj, x)) && !listed(out, n, x))
                out[n++] = x;
        }
        return n;
    }
    if (pj->needs_declared) {
        for (size_t i = 0; i < pj->nneeds; i++)
            if (pj->needs[i].artifacts && !listed(out, n, pj->needs[i].index))
                out[n++] = pj->needs[i].index;
        return n;
    }
    for (size_t i = 0; i < p->njobs; i++)
        if (p->jobs[i].stage_index < pj->stage_index)
            out[n++] = i;
    return n;
}
