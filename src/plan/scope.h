/* scope.h: which stored variables and protected refs apply to a pipeline, as GitLab
 * matches them. Pure string functions; the jobspec room uses them to pick a job's
 * variables, the server to decide CI_COMMIT_REF_PROTECTED.
 *
 * Environment scopes (Ci::HasEnvironmentScope): a scope applies to an environment when it
 * is `*`, the environment's name, or a pattern whose `*` match any characters ('/'
 * included; everything else literal, case-sensitive). Of several variables with one key
 * that apply, the most specific wins: an exact name over a pattern over `*`. A job without
 * an environment gets only `*` variables.
 *
 * Protected ref patterns (Gitlab::Git::WildcardMatcher / RefMatcher): a name, or a pattern
 * whose `*` match any characters, '/' included (`rel*` matches `release/1.0` and
 * `release/a/b`), anchored at both ends. */
#ifndef SL_PLAN_SCOPE_H
#define SL_PLAN_SCOPE_H

#include "base/compat.h"

/* Whether PATTERN (with `*` wildcards) matches the whole of NAME. */
bool sl_scope_wildcard_match(const char *pattern, const char *name);
/* How specifically SCOPE applies to ENVIRONMENT (NULL or "": the job has none): -1 not at
 * all, 0 `*`, 1 a matching pattern, 2 the exact name. */
int sl_scope_env_rank(const char *scope, const char *environment);

#endif
