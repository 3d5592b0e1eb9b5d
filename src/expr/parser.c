/* parser.c: tokens to a tree exactly as GitLab's parser does it
 * (lib/gitlab/ci/pipeline/expression/parser.rb): the shunting-yard algorithm turns the
 * tokens into reverse Polish notation, and a stack machine builds the tree from that.
 *
 * Precedence numbers are GitLab's (lower binds tighter): `!` 1, comparisons 10, `&&` 11,
 * `||` 12, `)` 900, `(` 901. A binary operator pops every stacked operator whose number is
 * not greater than its own (left associativity); `!` and `(` are pushed without popping.
 * The error messages are GitLab's, raised at the same points. */
#include "base/compat.h"
#include "expr/internal.h"
#include "base/alloc.h"
#include "base/str.h"

static int precedence(enum tok_type t)
{
    switch (t) {
    case TOK_NOT:
        return 1;
    case TOK_EQ:
    case TOK_NE:
    case TOK_MATCH:
    case TOK_NOMATCH:
        return 10;
    case TOK_AND:
        return 11;
    case TOK_OR:
        return 12;
    case TOK_RPAREN:
        return 900;
    case TOK_LPAREN:
        return 901;
    default:
        return 0;
    }
}

static bool is_value(enum tok_type t)
{
    switch (t) {
    case TOK_INPUT:
    case TOK_VARIABLE:
    case TOK_STRING:
    case TOK_PATTERN:
    case TOK_NULL:
    case TOK_TRUE:
    case TOK_FALSE:
        return true;
    default:
        return false;
    }
}

static bool is_binary(enum tok_type t)
{
    return precedence(t) >= 10 && precedence(t) <= 12;
}

static int fail(struct sl_error *err, const struct token *t, const char *msg)
{
    return sl_error_set_at(err, SL_EINVAL, NULL, 0, t ? (int)t->offset + 1 : 0, "%s", msg);
}

int sl_expr_parse(struct sl_expr *e, struct sl_error *err)
{
    size_t n = e->toks.n;
    const struct token **rpn = NULL, **ops = NULL;
    struct node **stack = NULL;
    size_t nrpn = 0, nops = 0, nstack = 0;
    int rc = 0;

    if (n == 0) /* Statement#parse_tree: no lexemes */
        return fail(err, NULL, "Empty parse tree");
    rpn = sl_xcalloc(n, sizeof(*rpn));
    ops = sl_xcalloc(n, sizeof(*ops));
    stack = sl_xcalloc(n, sizeof(*stack));
    e->nodes = sl_xcalloc(n, sizeof(*e->nodes)); /* at most one node per token */

    /* tokens_rpn */
    for (size_t i = 0; i < n; i++) {
        const struct token *t = &e->toks.v[i];
        if (is_value(t->type)) {
            rpn[nrpn++] = t;
        } else if (is_binary(t->type) || t->type == TOK_RPAREN) {
            while (nops && precedence(t->type) >= precedence(ops[nops - 1]->type))
                rpn[nrpn++] = ops[--nops];
            if (t->type != TOK_RPAREN) {
                ops[nops++] = t;
                continue;
            }
            if (!nops) {
                rc = fail(err, t, "Unmatched parenthesis");
                goto out;
            }
            nops--; /* only `(` outranks `)`: the loop stopped at one */
        } else {    /* `(` and `!` */
            ops[nops++] = t;
        }
    }
    while (nops)
        rpn[nrpn++] = ops[--nops];

    /* tree */
    for (size_t i = 0; i < nrpn; i++) {
        const struct token *t = rpn[i];
        struct node *nd = &e->nodes[e->nnodes];
        if (is_value(t->type)) {
            nd->op = t->type;
        } else if (t->type == TOK_NOT) {
            nd->right = nstack ? stack[--nstack] : NULL;
            if (!nd->right) {
                rc = fail(err, t, "Invalid operand");
                goto out;
            }
            nd->op = t->type;
        } else if (is_binary(t->type)) {
            nd->right = nstack ? stack[--nstack] : NULL;
            nd->left = nstack ? stack[--nstack] : NULL;
            if (!nd->left || !nd->right) {
                rc = fail(err, t, nd->left ? "Invalid right operand" : "Invalid left operand");
                goto out;
            }
            nd->op = t->type;
        } else {
            rc = fail(err, t, "Unprocessable token found in parse tree: parenthesis_open");
            goto out;
        }
        nd->tok = t;
        e->nnodes++;
        stack[nstack++] = nd;
    }
    if (nstack > 1) {
        rc = fail(err, NULL, "Unreachable nodes in parse tree");
        goto out;
    }
    if (nstack < 1) {
        rc = fail(err, NULL, "Empty parse tree");
        goto out;
    }
    e->root = stack[0];
out:
    free(rpn);
    free(ops);
    free(stack);
    return rc;
}

/* Ruby's String#inspect for the common characters. */
static void add_inspected(struct sl_str *s, const char *v)
{
    sl_str_addc(s, '"');
    for (; *v; v++) {
        switch (*v) {
        case '"':
        case '\\':
            sl_str_addc(s, '\\');
            sl_str_addc(s, *v);
            break;
        case '\n':
            sl_str_adds(s, "\\n");
            break;
        case '\t':
            sl_str_adds(s, "\\t");
            break;
        case '\r':
            sl_str_adds(s, "\\r");
            break;
        case '#':
            sl_str_adds(s, v[1] == '{' || v[1] == '$' || v[1] == '@' ? "\\#" : "#");
            break;
        default:
            if ((unsigned char)*v < 0x20 || *v == 0x7f)
                sl_str_addf(s, "\\x%02X", (unsigned char)*v);
            else
                sl_str_addc(s, *v);
        }
    }
    sl_str_addc(s, '"');
}

static void print_tree(struct sl_str *s, const struct node *n)
{
    static const char *const names[] = {
        [TOK_EQ] = "equals",     [TOK_NE] = "not_equals",
        [TOK_MATCH] = "matches", [TOK_NOMATCH] = "not_matches",
        [TOK_AND] = "and",       [TOK_OR] = "or",
        [TOK_NOT] = "not",
    };
    switch (n->op) {
    case TOK_STRING:
        add_inspected(s, n->tok->text);
        return;
    case TOK_INPUT:
        sl_str_addf(s, "$[[ %s ]]", n->tok->text);
        return;
    case TOK_VARIABLE:
    case TOK_PATTERN:
    case TOK_NULL:
    case TOK_TRUE:
    case TOK_FALSE:
        sl_str_adds(s, n->tok->source);
        return;
    default:
        break;
    }
    sl_str_addf(s, "%s(", names[n->op]);
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
