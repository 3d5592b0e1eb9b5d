/* lint_vars.c: "did you mean `CI_COMMIT_BRANCH`?" for a misspelt variable in an expression.
 *
 * GitLab evaluates an unknown `$CI_COMMIT_BRNACH` to null without a word, so the rule just
 * never matches. Once the whole file is checked, every `$NAME` of the noted expressions is
 * looked up among the variables the file defines (top-level, default:, every job, hidden
 * ones and parallel:matrix included) and GitLab's predefined ones; an unknown name close to
 * a known one gets a warning with the hint. A name far from all of them is probably a
 * project or group variable set in settings: nothing is said. */
#include "base/compat.h"
#include "config/keywords.h"
#include "base/alloc.h"
#include "base/map.h"
#include "base/suggest.h"
#include "config/predefined.h"

void sl_lint_note_expression(struct lint *l, const struct sl_node *n)
{
    if (!n || !sl_node_is_scalar(n))
        return;
    SL_GROW(l->exprs, l->exprs_cap, l->nexprs + 1);
    l->exprs[l->nexprs++] = n;
}

static void define_keys(struct sl_map *known, const struct sl_node *vars)
{
    if (!vars || vars->kind != SL_NODE_MAP)
        return;
    for (size_t i = 0; i < vars->n; i++)
        sl_map_put(known, vars->pairs[i].key, (void *)vars->pairs[i].key);
}

/* The variables a job (or default:) defines, with its matrix's. */
static void define_job(struct sl_map *known, const struct sl_node *job)
{
    if (!job || job->kind != SL_NODE_MAP)
        return;
    define_keys(known, sl_node_get(job, "variables"));
    const struct sl_node *m = sl_node_get(sl_node_get(job, "parallel"), "matrix");
    for (size_t i = 0; m && m->kind == SL_NODE_SEQ && i < m->n; i++)
        define_keys(known, m->items[i]);
}

static bool name_char(char c, bool first)
{
    return c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
           (!first && c >= '0' && c <= '9');
}

/* Skips a quoted string or a /regex/ starting at S[I]; returns the index after it. */
static size_t skip_literal(const char *s, size_t i)
{
    char q = s[i++];
    while (s[i] && s[i] != q) {
        if (s[i] == '\\' && s[i + 1])
            i++;
        i++;
    }
    return s[i] ? i + 1 : i;
}

static void check_name(struct lint *l, const struct sl_map *known, const struct sl_node *at,
                       const char *name)
{
    if (sl_map_has(known, name) || sl_config_is_predefined_var(name))
        return;
    struct sl_suggest sg;
    sl_suggest_init(&sg, name);
    for (const char *const *p = sl_config_predefined_vars; *p; p++)
        sl_suggest_try(&sg, *p);
    size_t it = 0;
    const char *k;
    while (sl_map_next(known, &it, &k, NULL))
        sl_suggest_try(&sg, k);
    if (!sg.best)
        return;
    sl_lint_warning(l, at->pos,
                    "$%s is neither defined in this file nor predefined by GitLab: it is null "
                    "in this expression",
                    name);
    sl_diag_hint(l->diag, "did you mean `%s`?", sg.best);
}

static void check_expression(struct lint *l, const struct sl_map *known, const struct sl_node *e)
{
    const char *s = e->str;
    bool after_match = false; /* the last operator was =~ or !~: a '/' opens a regex */
    for (size_t i = 0; s[i];) {
        char c = s[i];
        if (c == '"' || c == '\'' || (c == '/' && after_match)) {
            i = skip_literal(s, i);
            after_match = false;
            continue;
        }
        if ((c == '=' || c == '!') && s[i + 1] == '~') {
            after_match = true;
            i += 2;
            continue;
        }
        if (c != ' ' && c != '\t')
            after_match = false;
        if (c != '$') {
            i++;
            continue;
        }
        bool brace = s[i + 1] == '{';
        size_t b = i + 1 + brace, e_ = b;
        while (name_char(s[e_], e_ == b))
            e_++;
        if (e_ > b && e_ - b <= SL_SUGGEST_MAX_LEN) {
            char *name = sl_xstrndup(s + b, e_ - b);
            check_name(l, known, e, name);
            free(name);
        }
        i = e_ > i + 1 ? e_ : i + 1;
    }
}

void sl_lint_expr_names(struct lint *l)
{
    struct sl_map known = SL_MAP_INIT;
    const struct sl_node *root = l->cfg->root;
    if (l->nexprs && root && root->kind == SL_NODE_MAP) {
        define_keys(&known, sl_node_get(root, "variables"));
        for (size_t i = 0; i < root->n; i++)
            define_job(&known, root->pairs[i].value);
        for (size_t i = 0; i < l->nexprs; i++)
            check_expression(l, &known, l->exprs[i]);
    }
    sl_map_release(&known);
    free(l->exprs);
    l->exprs = NULL;
    l->nexprs = l->exprs_cap = 0;
}
