/* eval.c: evaluating a parsed expression with Ruby's semantics (SPEC.md §3): values are
 * nil, booleans, strings and regexes; `&&`/`||` return an operand; `!` and the final
 * answer use Rails' present?. */
#include "base/compat.h"
#include "expr/internal.h"
#include "base/alloc.h"
#include "base/str.h"

#include <ctype.h>

static struct sl_expr_value nil(void)
{
    struct sl_expr_value v = {SL_EXPR_NIL, false, NULL};
    return v;
}

static struct sl_expr_value boolean(bool b)
{
    struct sl_expr_value v = {SL_EXPR_BOOL, b, NULL};
    return v;
}

static struct sl_expr_value string(const char *s, enum sl_expr_type type)
{
    struct sl_expr_value v = {type, false, sl_xstrdup(s)};
    return v;
}

void sl_expr_value_release(struct sl_expr_value *v)
{
    free(v->str);
    v->str = NULL;
}

/* Rails' present?: not nil, not false, not a blank string. */
static bool present(const struct sl_expr_value *v)
{
    switch (v->type) {
    case SL_EXPR_NIL:
        return false;
    case SL_EXPR_BOOL:
        return v->b;
    case SL_EXPR_REGEX:
        return true;
    case SL_EXPR_STRING:
        for (const char *p = v->str; *p; p++)
            if (!isspace((unsigned char)*p))
                return true;
        return false;
    }
    return false;
}

/* Ruby truthiness (for && and ||): only nil and false are falsy. */
static bool truthy(const struct sl_expr_value *v)
{
    return !(v->type == SL_EXPR_NIL || (v->type == SL_EXPR_BOOL && !v->b));
}

/* The value as a string for comparisons: booleans compare equal to "true"/"false". */
static const char *as_text(const struct sl_expr_value *v)
{
    switch (v->type) {
    case SL_EXPR_NIL:
        return NULL;
    case SL_EXPR_BOOL:
        return v->b ? "true" : "false";
    default:
        return v->str;
    }
}

static bool equals(const struct sl_expr_value *a, const struct sl_expr_value *b)
{
    const char *x = as_text(a), *y = as_text(b);
    if (!x || !y)
        return !x && !y;
    return !strcmp(x, y);
}

/* `a =~ b`: b a regex (or a string of the form /re/flags) is searched in a.to_s; any other
 * string b is a substring test: a occurs in b. b nil is false. */
static bool matches(const struct sl_expr_value *a, const struct sl_expr_value *b,
                    const struct sl_regex *compiled)
{
    const char *subject = as_text(a);
    if (!subject)
        subject = "";
    if (b->type == SL_EXPR_NIL)
        return false;
    if (compiled)
        return sl_regex_search(compiled, subject, strlen(subject));
    const char *text = as_text(b);
    if (b->type == SL_EXPR_REGEX || sl_regex_literal(text)) {
        struct sl_regex *re = NULL;
        if (sl_regex_compile(&re, text, NULL) == 0) {
            bool hit = sl_regex_search(re, subject, strlen(subject));
            sl_regex_free(re);
            return hit;
        }
    }
    return strstr(text, subject) != NULL;
}

static struct sl_expr_value eval(const struct node *n, sl_expr_lookup lookup, void *ctx)
{
    switch (n->op) {
    case TOK_VARIABLE:
    case TOK_INPUT: {
        const char *v = lookup ? lookup(ctx, n->tok->text) : NULL;
        return v ? string(v, SL_EXPR_STRING) : nil();
    }
    case TOK_STRING:
        return string(n->tok->text, SL_EXPR_STRING);
    case TOK_PATTERN:
        return string(n->tok->text, SL_EXPR_REGEX);
    case TOK_NULL:
        return nil();
    case TOK_TRUE:
        return boolean(true);
    case TOK_FALSE:
        return boolean(false);
    case TOK_NOT: {
        struct sl_expr_value v = eval(n->right, lookup, ctx);
        bool p = present(&v);
        sl_expr_value_release(&v);
        return boolean(!p);
    }
    case TOK_AND:
    case TOK_OR: {
        struct sl_expr_value l = eval(n->left, lookup, ctx);
        if (truthy(&l) == (n->op == TOK_OR))
            return l;
        sl_expr_value_release(&l);
        return eval(n->right, lookup, ctx);
    }
    case TOK_EQ:
    case TOK_NE:
    case TOK_MATCH:
    case TOK_NOMATCH: {
        struct sl_expr_value l = eval(n->left, lookup, ctx);
        struct sl_expr_value r = eval(n->right, lookup, ctx);
        bool res;
        if (n->op == TOK_EQ || n->op == TOK_NE) {
            res = equals(&l, &r) == (n->op == TOK_EQ);
        } else {
            const struct sl_regex *pre = n->right->op == TOK_PATTERN ? n->right->tok->regex : NULL;
            if (r.type == SL_EXPR_NIL)
                res = n->op == TOK_NOMATCH; /* nil pattern: =~ false, !~ true */
            else
                res = matches(&l, &r, pre) == (n->op == TOK_MATCH);
        }
        sl_expr_value_release(&l);
        sl_expr_value_release(&r);
        return boolean(res);
    }
    default:
        return nil();
    }
}

void sl_expr_eval(const struct sl_expr *e, sl_expr_lookup lookup, void *ctx,
                  struct sl_expr_value *out)
{
    *out = eval(e->root, lookup, ctx);
}

bool sl_expr_truthful(const struct sl_expr *e, sl_expr_lookup lookup, void *ctx)
{
    struct sl_expr_value v = eval(e->root, lookup, ctx);
    bool p = present(&v);
    sl_expr_value_release(&v);
    return p;
}

int sl_expr_compile(struct sl_expr **out, const char *src, struct sl_error *err)
{
    struct sl_expr *e = sl_xcalloc(1, sizeof(*e));
    int rc;
    if ((rc = sl_expr_lex(src, &e->toks, err)) < 0 || (rc = sl_expr_parse(e, err)) < 0) {
        sl_expr_free(e);
        return rc;
    }
    *out = e;
    return 0;
}

void sl_expr_free(struct sl_expr *e)
{
    if (!e)
        return;
    sl_expr_tokens_release(&e->toks);
    free(e->nodes);
    free(e);
}

bool sl_expr_matches(const char *src, sl_expr_lookup lookup, void *ctx)
{
    struct sl_expr *e = NULL;
    if (sl_expr_compile(&e, src, NULL) < 0)
        return false;
    bool r = sl_expr_truthful(e, lookup, ctx);
    sl_expr_free(e);
    return r;
}

bool sl_expr_valid(const char *src)
{
    struct sl_expr *e = NULL;
    if (sl_expr_compile(&e, src, NULL) < 0)
        return false;
    sl_expr_free(e);
    return true;
}

int sl_expr_tokens(const char *src, char **out, struct sl_error *err)
{
    struct tokens t = {0};
    int rc = sl_expr_lex(src, &t, err);
    if (rc < 0)
        return rc;
    struct sl_str s = SL_STR_INIT;
    sl_str_addc(&s, '[');
    for (size_t i = 0; i < t.n; i++) {
        sl_str_adds(&s, i ? ", \"" : "\"");
        sl_str_add_json_escaped(&s, t.v[i].source);
        sl_str_addc(&s, '"');
    }
    sl_str_addc(&s, ']');
    sl_expr_tokens_release(&t);
    *out = sl_str_detach(&s);
    return 0;
}
