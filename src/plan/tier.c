/* tier.c: the deployment tier of an environment that does not say it.
 *
 * GitLab matches the name against five case-insensitive patterns in order (its
 * Environment#guess_tier); the first that matches anywhere in the name wins. The patterns
 * are alternations of literals, so a table of substrings says them exactly:
 * `ac(ce|)pt` is "accept" or "acpt", `st(a|)g` "stag" or "stg", `mod(e|)l` "model" or
 * "modl", `pr(o|)d` "prod" or "prd". */
#include "base/compat.h"
#include "plan/plan.h"

static const struct {
    const char *tier;
    const char *const words[10];
} tiers[] = {
    {"development", {"dev", "review", "trunk"}},
    {"testing", {"test", "tst", "int", "accept", "acpt", "qa", "qc", "control", "quality"}},
    {"staging", {"stag", "stg", "model", "modl", "pre", "demo", "non"}},
    {"production", {"prod", "prd", "live"}},
};

const char *sl_plan_guess_tier(const char *name)
{
    for (size_t t = 0; name && t < SL_ARRAY_LEN(tiers); t++)
        for (size_t w = 0; w < SL_ARRAY_LEN(tiers[t].words) && tiers[t].words[w]; w++)
            if (strcasestr(name, tiers[t].words[w]))
                return tiers[t].tier;
    return "other";
}
