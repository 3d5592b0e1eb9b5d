/* expand.c: variable collections and GitLab's expansion of references between them. */
#include "base/compat.h"
#include "expr/vars.h"
#include "base/alloc.h"
#include "base/str.h"

#include <ctype.h>

void sl_vars_release(struct sl_vars *vars)
{
    for (size_t i = 0; i < vars->n; i++) {
        free(vars->v[i].name);
        free(vars->v[i].value);
    }
    free(vars->v);
    sl_map_release(&vars->index);
    vars->v = NULL;
    vars->n = vars->cap = 0;
}

void sl_vars_set(struct sl_vars *vars, const char *name, const char *value, bool raw)
{
    uintptr_t at = (uintptr_t)sl_map_get(&vars->index, name);
    if (at) {
        struct sl_var *v = &vars->v[at - 1];
        free(v->value);
        v->value = sl_xstrdup(value ? value : "");
        v->raw = raw;
        return;
    }
    SL_GROW(vars->v, vars->cap, vars->n + 1);
    struct sl_var *v = &vars->v[vars->n++];
    v->name = sl_xstrdup(name);
    v->value = sl_xstrdup(value ? value : "");
    v->raw = raw;
    sl_map_put(&vars->index, name, (void *)(uintptr_t)vars->n);
}

const struct sl_var *sl_vars_find(const struct sl_vars *vars, const char *name)
{
    uintptr_t at = (uintptr_t)sl_map_get(&vars->index, name);
    return at ? &vars->v[at - 1] : NULL;
}

const char *sl_vars_get(const struct sl_vars *vars, const char *name)
{
    const struct sl_var *v = sl_vars_find(vars, name);
    return v ? v->value : NULL;
}

void sl_vars_copy(struct sl_vars *dst, const struct sl_vars *src)
{
    for (size_t i = 0; i < src->n; i++)
        sl_vars_set(dst, src->v[i].name, src->v[i].value, src->v[i].raw);
}

static bool name_start(char c)
{
    return isalpha((unsigned char)c) || c == '_';
}

static bool name_char(char c)
{
    return isalnum((unsigned char)c) || c == '_';
}

/* Scans one reference at S: returns its length (0 if none), the name's start and length,
 * or ESCAPE set for `$$` / `%%`. */
static size_t scan_ref(const char *s, const char **name, size_t *nlen, bool *escape)
{
    *escape = false;
    if (s[0] == '$' && s[1] == '$') {
        *escape = true;
        return 2;
    }
    if (s[0] == '%' && s[1] == '%') {
        *escape = true;
        return 2;
    }
    if (s[0] == '$' && s[1] == '{' && name_start(s[2])) {
        size_t i = 2;
        while (name_char(s[i]))
            i++;
        if (s[i] != '}')
            return 0;
        *name = s + 2;
        *nlen = i - 2;
        return i + 1;
    }
    if ((s[0] == '$' || s[0] == '%') && name_start(s[1])) {
        size_t i = 1;
        while (name_char(s[i]))
            i++;
        if (s[0] == '%') {
            if (s[i] != '%')
                return 0;
            *name = s + 1;
            *nlen = i - 1;
            return i + 1;
        }
        *name = s + 1;
        *nlen = i - 1;
        return i;
    }
    return 0;
}

char *sl_vars_expand(const struct sl_vars *vars, const char *s, bool keep_undefined)
{
    struct sl_str out = SL_STR_INIT;
    while (*s) {
        const char *name = NULL;
        size_t nlen = 0;
        bool escape;
        size_t len = scan_ref(s, &name, &nlen, &escape);
        if (!len) {
            sl_str_addc(&out, *s++);
            continue;
        }
        if (escape) {
            sl_str_add(&out, s, len);
            s += len;
            continue;
        }
        char *key = sl_xstrndup(name, nlen);
        const struct sl_var *v = sl_vars_find(vars, key);
        free(key);
        if (v && !v->raw)
            sl_str_adds(&out, v->value);
        else if (v || keep_undefined)
            sl_str_add(&out, s, len);
        s += len;
    }
    return sl_str_detach(&out);
}

/* Depth-first topological order over references; a grey node met again is a cycle. */
enum mark { WHITE, GREY, BLACK };

static int visit(struct sl_vars *vars, size_t i, enum mark *marks, size_t *order, size_t *norder,
                 struct sl_error *err)
{
    if (marks[i] == BLACK)
        return 0;
    if (marks[i] == GREY)
        return SL_ECYCLE;
    marks[i] = GREY;
    if (!vars->v[i].raw) {
        const char *s = vars->v[i].value;
        while (*s) {
            const char *name = NULL;
            size_t nlen = 0;
            bool escape;
            size_t len = scan_ref(s, &name, &nlen, &escape);
            if (!len) {
                s++;
                continue;
            }
            if (!escape) {
                char *key = sl_xstrndup(name, nlen);
                uintptr_t at = (uintptr_t)sl_map_get(&vars->index, key);
                free(key);
                if (at) {
                    int rc = visit(vars, at - 1, marks, order, norder, err);
                    if (rc < 0)
                        return rc;
                }
            }
            s += len;
        }
    }
    marks[i] = BLACK;
    order[(*norder)++] = i;
    return 0;
}

int sl_vars_expand_all(struct sl_vars *vars, struct sl_error *err)
{
    enum mark *marks = sl_xcalloc(vars->n + 1, sizeof(*marks));
    size_t *order = sl_xcalloc(vars->n + 1, sizeof(*order));
    size_t norder = 0;
    int rc = 0;

    for (size_t i = 0; i < vars->n; i++) {
        if ((rc = visit(vars, i, marks, order, &norder, err)) < 0) {
            /* GitLab names every variable on the cycle, in collection order */
            struct sl_str names = SL_STR_INIT;
            for (size_t k = 0; k < vars->n; k++) {
                if (marks[k] != GREY)
                    continue;
                sl_str_addf(&names, "%s\"%s\"", names.len ? ", " : "", vars->v[k].name);
            }
            rc = sl_error_set(err, SL_ECYCLE, "circular variable reference detected: [%s]",
                              names.buf);
            sl_str_release(&names);
            goto out;
        }
    }
    for (size_t k = 0; k < norder; k++) {
        struct sl_var *v = &vars->v[order[k]];
        if (v->raw)
            continue;
        char *x = sl_vars_expand(vars, v->value, true);
        free(v->value);
        v->value = x;
    }
out:
    free(marks);
    free(order);
    return rc;
}

char *sl_vars_unescape(const char *s)
{
    struct sl_str out = SL_STR_INIT;
    for (; *s; s++) {
        sl_str_addc(&out, *s);
        if (s[0] == '$' && s[1] == '$')
            s++;
    }
    return sl_str_detach(&out);
}

char **sl_vars_envp(const struct sl_vars *vars)
{
    char **env = sl_xcalloc(vars->n + 1, sizeof(*env));
    for (size_t i = 0; i < vars->n; i++) {
        char *val = sl_vars_unescape(vars->v[i].value);
        env[i] = sl_xasprintf("%s=%s", vars->v[i].name, val);
        free(val);
    }
    return env;
}

void sl_vars_envp_free(char **envp)
{
    if (!envp)
        return;
    for (char **p = envp; *p; p++)
        free(*p);
    free(envp);
}
