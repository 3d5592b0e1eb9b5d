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
    free(vars->slots);
    vars->v = NULL;
    vars->slots = NULL;
    vars->n = vars->cap = vars->nslots = 0;
}

static uint32_t hash_name(const char *s, size_t len)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 16777619u;
    }
    return h;
}

/* The slot holding NAME (LEN bytes), or the empty slot where it would go. */
static uint32_t *slot_of(const struct sl_vars *vars, const char *name, size_t len)
{
    size_t mask = vars->nslots - 1;
    for (size_t i = hash_name(name, len) & mask;; i = (i + 1) & mask) {
        uint32_t at = vars->slots[i];
        if (!at)
            return &vars->slots[i];
        const char *k = vars->v[at - 1].name;
        if (!strncmp(k, name, len) && k[len] == '\0')
            return &vars->slots[i];
    }
}

static void reindex(struct sl_vars *vars, size_t nslots)
{
    free(vars->slots);
    vars->slots = sl_xcalloc(nslots, sizeof(*vars->slots));
    vars->nslots = nslots;
    for (size_t i = 0; i < vars->n; i++)
        *slot_of(vars, vars->v[i].name, strlen(vars->v[i].name)) = (uint32_t)(i + 1);
}

/* Index + 1 of the variable named by the LEN bytes at NAME, or 0. */
static size_t lookup(const struct sl_vars *vars, const char *name, size_t len)
{
    return vars->nslots ? *slot_of(vars, name, len) : 0;
}

void sl_vars_set(struct sl_vars *vars, const char *name, const char *value, bool raw)
{
    size_t len = strlen(name);
    size_t at = lookup(vars, name, len);
    if (at) {
        struct sl_var *v = &vars->v[at - 1];
        free(v->value);
        v->value = sl_xstrdup(value ? value : "");
        v->raw = raw;
        return;
    }
    SL_GROW(vars->v, vars->cap, vars->n + 1);
    struct sl_var *v = &vars->v[vars->n++];
    v->name = sl_xstrndup(name, len);
    v->value = sl_xstrdup(value ? value : "");
    v->raw = raw;
    if ((vars->n + 1) * 2 > vars->nslots)
        reindex(vars, vars->nslots ? vars->nslots * 2 : 64);
    else
        *slot_of(vars, name, len) = (uint32_t)vars->n;
}

const struct sl_var *sl_vars_find(const struct sl_vars *vars, const char *name)
{
    size_t at = lookup(vars, name, strlen(name));
    return at ? &vars->v[at - 1] : NULL;
}

const char *sl_vars_get(const struct sl_vars *vars, const char *name)
{
    const struct sl_var *v = sl_vars_find(vars, name);
    return v ? v->value : NULL;
}

void sl_vars_copy(struct sl_vars *dst, const struct sl_vars *src)
{
    if (dst->n == 0 && src->n) { /* into an empty collection: no lookups needed */
        SL_GROW(dst->v, dst->cap, src->n);
        for (size_t i = 0; i < src->n; i++) {
            dst->v[i].name = sl_xstrdup(src->v[i].name);
            dst->v[i].value = sl_xstrdup(src->v[i].value);
            dst->v[i].raw = src->v[i].raw;
        }
        dst->n = src->n;
        size_t nslots = 64;
        while ((dst->n + 1) * 2 > nslots)
            nslots *= 2;
        reindex(dst, nslots);
        return;
    }
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
        size_t at = lookup(vars, name, nlen);
        const struct sl_var *v = at ? &vars->v[at - 1] : NULL;
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
                size_t at = lookup(vars, name, nlen);
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
