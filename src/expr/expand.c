/* expand.c: variable collections and GitLab's expansion of references between them. */
#include "base/compat.h"
#include "expr/vars.h"
#include "base/alloc.h"
#include "base/str.h"

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

bool sl_vars_name_ok(const char *name)
{
    if (!name || !*name)
        return false;
    for (const char *c = name; *c; c++)
        if (!(*c == '_' || (*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'z') ||
              (*c >= 'A' && *c <= 'Z')))
            return false;
    return true;
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
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool name_char(char c)
{
    return name_start(c) || (c >= '0' && c <= '9');
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

/* GitLab's Collection#expand_value: SELF (an index, or SIZE_MAX) is the variable being
 * expanded, which is not in GitLab's new collection yet, so a reference to itself counts
 * as undefined. */
static char *expand(const struct sl_vars *vars, const char *s, bool keep_undefined, size_t self)
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
        const struct sl_var *v = at && at - 1 != self ? &vars->v[at - 1] : NULL;
        if (v && !v->raw)
            sl_str_adds(&out, v->value);
        else if (v || keep_undefined)
            sl_str_add(&out, s, len);
        s += len;
    }
    return sl_str_detach(&out);
}

char *sl_vars_expand(const struct sl_vars *vars, const char *s, bool keep_undefined)
{
    return expand(vars, s, keep_undefined, SIZE_MAX);
}

/* Ruby's TSort over references (Collection::Sort), the same walk so that the same
 * strongly connected component is reported first and its names come in the same order:
 * each_strongly_connected_component_from, Tarjan's algorithm. */
enum { UNSEEN = -1, DONE = -2 };

struct tsort {
    struct sl_vars *vars;
    long *id;      /* UNSEEN, DONE or the visit number of a node on the stack */
    size_t *stack; /* nodes being visited */
    size_t nstack;
    long next;
    size_t *order; /* finished single nodes: dependencies first */
    size_t norder;
    size_t *cycle; /* the first component of two or more, once found */
    size_t ncycle;
};

static long tsort_from(struct tsort *t, size_t node)
{
    long min = t->id[node] = t->next++;
    size_t base = t->nstack;
    t->stack[t->nstack++] = node;

    const struct sl_var *var = &t->vars->v[node];
    for (const char *s = var->raw ? "" : var->value; *s;) {
        const char *name = NULL;
        size_t nlen = 0;
        bool escape;
        size_t len = scan_ref(s, &name, &nlen, &escape);
        if (!len) {
            s++;
            continue;
        }
        s += len;
        size_t at = escape ? 0 : lookup(t->vars, name, nlen);
        if (!at)
            continue;
        size_t child = at - 1;
        if (t->id[child] == UNSEEN) {
            long sub = tsort_from(t, child);
            min = sub < min ? sub : min;
        } else if (t->id[child] != DONE && t->id[child] < min) {
            min = t->id[child];
        }
    }
    if (t->id[node] == min) {
        size_t n = t->nstack - base;
        if (n > 1 && !t->ncycle) {
            memcpy(t->cycle, t->stack + base, n * sizeof(*t->cycle));
            t->ncycle = n;
        }
        if (n == 1)
            t->order[t->norder++] = node;
        for (size_t k = base; k < t->nstack; k++)
            t->id[t->stack[k]] = DONE;
        t->nstack = base;
    }
    return min;
}

int sl_vars_expand_all(struct sl_vars *vars, struct sl_error *err)
{
    size_t n = vars->n;
    struct tsort t = {vars, NULL, NULL, 0, 0, NULL, 0, NULL, 0};
    int rc = 0;

    t.id = sl_xmalloc((n + 1) * sizeof(*t.id));
    t.stack = sl_xmalloc((n + 1) * sizeof(*t.stack));
    t.order = sl_xmalloc((n + 1) * sizeof(*t.order));
    t.cycle = sl_xmalloc((n + 1) * sizeof(*t.cycle));
    for (size_t i = 0; i < n; i++)
        t.id[i] = UNSEEN;
    for (size_t i = 0; i < n; i++)
        if (t.id[i] == UNSEEN)
            tsort_from(&t, i);
    if (t.ncycle) {
        struct sl_str names = SL_STR_INIT;
        for (size_t k = 0; k < t.ncycle; k++)
            sl_str_addf(&names, "%s\"%s\"", k ? ", " : "", vars->v[t.cycle[k]].name);
        rc = sl_error_set(err, SL_ECYCLE, "circular variable reference detected: [%s]", names.buf);
        sl_str_release(&names);
        goto out;
    }
    for (size_t k = 0; k < t.norder; k++) {
        struct sl_var *v = &vars->v[t.order[k]];
        if (v->raw)
            continue;
        char *x = expand(vars, v->value, true, t.order[k]);
        free(v->value);
        v->value = x;
    }
out:
    free(t.id);
    free(t.stack);
    free(t.order);
    free(t.cycle);
    return rc;
}

/* The runner's Variables.Get: "$" for `$$`, nothing for the shell's special parameters,
 * the last value otherwise ("" when undefined). */
static const char *runner_get(const struct sl_vars *vars, const char *name, size_t len)
{
    if (len == 1 && name[0] == '$')
        return "$";
    if (len == 1 && strchr("*#@!?0123456789", name[0]))
        return "";
    size_t at = lookup(vars, name, len);
    return at ? vars->v[at - 1].value : "";
}

static bool go_special(char c)
{
    return c && strchr("*#$@!?-0123456789", c) != NULL;
}

char *sl_vars_runner_expand(const struct sl_vars *vars, const char *s)
{
    struct sl_str out = SL_STR_INIT;
    /* Go's os.Expand, byte for byte */
    for (; *s; s++) {
        if (s[0] != '$' || !s[1]) {
            sl_str_addc(&out, *s);
            continue;
        }
        const char *r = s + 1, *name = r;
        size_t nlen = 0, w = 0;
        if (r[0] == '{') {
            if (go_special(r[1]) && r[2] == '}') {
                name = r + 1;
                nlen = 1;
                w = 3;
            } else {
                const char *close = strchr(r + 1, '}');
                if (!close) {
                    w = 1; /* bad syntax: eat "${" */
                } else if (close == r + 1) {
                    w = 2; /* bad syntax: eat "${}" */
                } else {
                    name = r + 1;
                    nlen = (size_t)(close - r - 1);
                    w = nlen + 2;
                }
            }
        } else if (go_special(r[0])) {
            nlen = w = 1;
        } else {
            while (name_char(r[w]) && (unsigned char)r[w] < 0x80)
                w++;
            nlen = w;
        }
        if (nlen)
            sl_str_adds(&out, runner_get(vars, name, nlen));
        else if (!w)
            sl_str_addc(&out, '$'); /* `$` not followed by a name stays */
        s += w;
    }
    return sl_str_detach(&out);
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

static char **envp(const struct sl_vars *vars, bool runner)
{
    char **env = sl_xcalloc(vars->n + 1, sizeof(*env));
    for (size_t i = 0; i < vars->n; i++) {
        const struct sl_var *v = &vars->v[i];
        char *val = v->raw   ? sl_xstrdup(v->value)
                    : runner ? sl_vars_runner_expand(vars, v->value)
                             : sl_vars_unescape(v->value);
        env[i] = sl_xasprintf("%s=%s", v->name, val);
        free(val);
    }
    return env;
}

char **sl_vars_envp(const struct sl_vars *vars)
{
    return envp(vars, false);
}

char **sl_vars_envp_runner(const struct sl_vars *vars)
{
    return envp(vars, true);
}

void sl_vars_envp_free(char **envp)
{
    if (!envp)
        return;
    for (char **p = envp; *p; p++)
        free(*p);
    free(envp);
}
