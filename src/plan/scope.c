#include "base/compat.h"
#include "plan/scope.h"

bool sl_scope_wildcard_match(const char *pattern, const char *name)
{
    /* iterative glob with one backtrack point: linear enough for untrusted patterns
     * (no exponential blow-up on "a*a*a*...") */
    const char *p = pattern, *n = name, *star = NULL, *resume = NULL;

    while (*n) {
        if (*p == '*') {
            star = p++;
            resume = n;
        } else if (*p == *n) {
            p++;
            n++;
        } else if (star) {
            p = star + 1;
            n = ++resume;
        } else {
            return false;
        }
    }
    while (*p == '*')
        p++;
    return *p == '\0';
}

int sl_scope_env_rank(const char *scope, const char *environment)
{
    if (!scope || !*scope)
        return -1;
    if (!strcmp(scope, "*"))
        return 0;
    if (!environment || !*environment)
        return -1;
    if (!strcmp(scope, environment))
        return 2;
    return strchr(scope, '*') && sl_scope_wildcard_match(scope, environment) ? 1 : -1;
}
