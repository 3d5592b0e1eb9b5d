/* parser.c: tokens to a tree, with GitLab's precedence and its error messages
 * (lib/gitlab/ci/pipeline/expression/parser.rb; SPEC.md §3). Tightest first: `!`, the
 * comparisons `==` `!=` `=~` `!~`, then `&&`, then `||`; all left-associative. */
#include "base/compat.h"
#include "expr/internal.h"
#include "base/alloc.h"
#include "base/str.h"

struct parser {
    struct sl_expr *e;
    size_t pos;
    int depth; /* open parentheses */
    struct sl_error *err;
    int rc;
};

static struct node *new_node(struct parser *ps, enum tok_type op)
{
    struct node *n = &ps->e->nodes[ps->e->nnodes++];
    n->op = op;
    return n;
}

static const struct token *peek(const struct parser *ps)
{
    return ps->pos < ps->e->toks.n ? &ps->e->toks.v[ps->pos] : NULL;
}

static struct node *fail(struct parser *ps, const char *msg)
{
    if (!ps->rc)
        ps->rc = sl_error_set(ps->err, SL_EINVAL, "%s", msg);
    return NULL;
}

static bool is_binary(enum tok_type t)
{
    return t == TOK_EQ || t == TOK_NE || t == TOK_MATCH || t == TOK_NOMATCH || t == TOK_AND ||
           t == TOK_OR;
}

static struct node *parse_or(struct parser *ps);

/* An operand: RIGHT when it follows an operator (for the error message). */
static struct node *parse_unary(struct parser *ps, bool right)
{
    const struct token *t = peek(ps);
    if (!t)
        return fail(ps, ps->depth ? "unmatched parenthesis"
                        : right   ? "Invalid right operand"
                                  : "Empty parse tree");
    switch (t->type) {
    case TOK_NOT: {
        ps->pos++;
        struct node *operand = parse_unary(ps, true);
        if (!operand)
            return NULL;
        struct node *n = new_node(ps, TOK_NOT);
        n->right = operand;
        return n;
    }
    case TOK_LPAREN: {
        ps->pos++;
        ps->depth++;
        struct node *inner = parse_or(ps);
        if (!inner)
            return NULL;
        t = peek(ps);
        if (!t || t->type != TOK_RPAREN)
            return fail(ps, "unmatched parenthesis");
        ps->pos++;
        ps->depth--;
        return inner;
    }
    case TOK_RPAREN:
        return fail(ps, ps->depth && !right ? "Invalid left operand" : "unmatched parenthesis");
    case TOK_INPUT:
    case TOK_VARIABLE:
    case TOK_STRING:
    case TOK_PATTERN:
    case TOK_NULL:
    case TOK_TRUE:
    case TOK_FALSE: {
        struct node *n = new_node(ps, t->type);
        n->tok = t;
        ps->pos++;
        return n;
    }
    default:
        return fail(ps, right ? "Invalid right operand" : "Invalid left operand");
    }
}

static struct node *binary(struct parser *ps, struct node *(*operand)(struct parser *, bool),
                           const enum tok_type *ops, size_t nops)
{
    struct node *left = operand(ps, false);
    while (left) {
        const struct token *t = peek(ps);
        bool hit = false;
        for (size_t i = 0; t && i < nops; i++)
            hit |= t->type == ops[i];
        if (!hit)
            break;
        ps->pos++;
        struct node *right = operand(ps, true);
        if (!right)
            return NULL;
        struct node *n = new_node(ps, t->type);
        n->left = left;
        n->right = right;
        left = n;
    }
    return left;
}

static struct node *parse_cmp(struct parser *ps, bool right)
{
    static const enum tok_type ops[] = {TOK_EQ, TOK_NE, TOK_MATCH, TOK_NOMATCH};
    (void)right;
    return binary(ps, parse_unary, ops, SL_ARRAY_LEN(ops));
}

static struct node *parse_and(struct parser *ps, bool right)
{
    static const enum tok_type ops[] = {TOK_AND};
    (void)right;
    return binary(ps, parse_cmp, ops, SL_ARRAY_LEN(ops));
}

static struct node *parse_or(struct parser *ps)
{
    static const enum tok_type ops[] = {TOK_OR};
    return binary(ps, parse_and, ops, SL_ARRAY_LEN(ops));
}

int sl_expr_parse(struct sl_expr *e, struct sl_error *err)
{
    struct parser ps = {e, 0, 0, err, 0};
    if (e->toks.n == 0)
        return sl_error_set(err, SL_EINVAL, "Empty parse tree");
    /* each token makes at most one node */
    e->nodes = sl_xcalloc(e->toks.n, sizeof(*e->nodes));
    struct node *root = parse_or(&ps);
    if (!root)
        return ps.rc ? ps.rc : sl_error_set(err, SL_EINVAL, "Invalid expression syntax");
    const struct token *t = peek(&ps);
    if (t) {
        if (t->type == TOK_RPAREN)
            return sl_error_set(err, SL_EINVAL, "unmatched parenthesis");
        if (is_binary(t->type))
            return sl_error_set(err, SL_EINVAL, "Invalid left operand");
        return sl_error_set(err, SL_EINVAL, "Unreachable nodes in parse tree");
    }
    e->root = root;
    return 0;
}

static void print_tree(struct sl_str *s, const struct node *n)
{
    const char *name = NULL;
    switch (n->op) {
    case TOK_EQ:
        name = "equals";
        break;
    case TOK_NE:
        name = "not_equals";
        break;
    case TOK_MATCH:
        name = "matches";
        break;
    case TOK_NOMATCH:
        name = "not_matches";
        break;
    case TOK_AND:
        name = "and";
        break;
    case TOK_OR:
        name = "or";
        break;
    case TOK_NOT:
        name = "not";
        break;
    default:
        sl_str_adds(s, n->tok->source);
        return;
    }
    sl_str_addf(s, "%s(", name);
    if (n->left) {
        print_tree(s, n->left);
        sl_str_adds(s, ", ");
    }
    print_tree(s, n->right);
    sl_str_addc(s, ')');
}

char *sl_expr_tree(const struct sl_expr *e)
{
    struct sl_str s = SL_STR_INIT;
    print_tree(&s, e->root);
    return sl_str_detach(&s);
}
