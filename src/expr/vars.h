/* vars.h: CI/CD variable collections and their expansion (SPEC.md §4, VARIABLES.md).
 *
 * A collection is ordered (the order variables were first set) with one value per name:
 * setting an existing name replaces its value in place, so a caller applies sources from
 * the lowest precedence to the highest. References are `$NAME`, `${NAME}` and `%NAME%`
 * (NAME = [A-Za-z_][A-Za-z0-9_]*); `$$` and `%%` are escapes that GitLab leaves alone
 * and the runner turns into `$` and `%`... for `$$` only (the runner's os.Expand).
 *
 *   struct sl_vars v = SL_VARS_INIT;
 *   sl_vars_set(&v, "A", "x", false);
 *   sl_vars_set(&v, "B", "$A/y", false);
 *   if (sl_vars_expand_all(&v, &err) < 0) ... "circular variable reference detected: ..."
 *   sl_vars_get(&v, "B") is "x/y"
 *   sl_vars_release(&v); */
#ifndef SL_EXPR_VARS_H
#define SL_EXPR_VARS_H

#include "base/compat.h"
#include "base/error.h"

struct sl_var {
    char *name;  /* owned */
    char *value; /* owned */
    bool raw;    /* `expand: false`: never expanded, and references to it are kept */
};

struct sl_vars {
    struct sl_var *v;
    size_t n, cap;
    /* open-addressing index of v by name: slot = index + 1, 0 empty. The names are not
     * copied again (a pipeline copies thousands of collections: planning 1,000 jobs). */
    uint32_t *slots;
    size_t nslots; /* a power of two, or 0 */
};

#define SL_VARS_INIT                                                                               \
    {                                                                                              \
        NULL, 0, 0, NULL, 0                                                                        \
    }

void sl_vars_release(struct sl_vars *vars);
/* Sets NAME to VALUE (copied), replacing an existing value but keeping its position. */
void sl_vars_set(struct sl_vars *vars, const char *name, const char *value, bool raw);
/* Whether NAME may name a CI/CD variable: one or more letters, digits and '_' (GitLab's
 * rule for variables given over its API, in a file or on the command line). */
bool sl_vars_name_ok(const char *name);
/* The value of NAME or NULL. Borrowed until the next change. */
const char *sl_vars_get(const struct sl_vars *vars, const char *name);
const struct sl_var *sl_vars_find(const struct sl_vars *vars, const char *name);
void sl_vars_copy(struct sl_vars *dst, const struct sl_vars *src);

/* GitLab's Collection#sort_and_expand_all(keep_undefined: true, expand_raw_refs: false), as
 * the runner payload is built: every non-raw variable's references to others are replaced
 * by their values, in dependency order (Ruby's TSort); references to undefined names are
 * kept as written, references to raw variables are kept too (the runner expands them
 * once). A variable referring to itself is no cycle: the reference is kept, as GitLab's
 * new collection does not hold the variable yet. A cycle of two or more is SL_ECYCLE with
 * GitLab's message `circular variable reference detected: ["A", "B"]`, naming the first
 * strongly connected component TSort finds, in its order; nothing changes then. Positions
 * in the collection do not change. */
int sl_vars_expand_all(struct sl_vars *vars, struct sl_error *err);

/* Expands references in S against VARS. KEEP_UNDEFINED keeps `$X` for unknown X (else it
 * becomes empty). Escapes are left as they are. Caller frees. */
char *sl_vars_expand(const struct sl_vars *vars, const char *s, bool keep_undefined);

/* What the runner does last, for the job's environment: `$$` becomes `$`. Caller frees. */
char *sl_vars_unescape(const char *s);

/* The runner's own expansion (gitlab-runner Variables.ExpandValue, Go's os.Expand):
 * `$NAME` and `${NAME}` (any text up to `}`) become the value in VARS, or "" when
 * undefined; `$$` becomes `$`; the shell's special parameters ($1, $?, ...) become "";
 * `${` without `}` is dropped; one pass, values are not expanded again. `%NAME%` is left
 * alone. Caller frees. */
char *sl_vars_runner_expand(const struct sl_vars *vars, const char *s);

/* KEY=VALUE strings, NULL-terminated: raw values verbatim, the others with `$$` turned
 * into `$` and nothing else expanded. Free with sl_vars_envp_free. */
char **sl_vars_envp(const struct sl_vars *vars);
/* The job's environment exactly as the runner makes it: each non-raw value through
 * sl_vars_runner_expand against VARS (so references deferred to raw variables are
 * expanded once, and undefined ones become ""), raw values verbatim. Free with
 * sl_vars_envp_free. */
char **sl_vars_envp_runner(const struct sl_vars *vars);
void sl_vars_envp_free(char **envp);

#endif
