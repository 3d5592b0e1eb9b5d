/* internal.h: the expression room's private types (lexer tokens, parse tree). */
#ifndef SL_EXPR_INTERNAL_H
#define SL_EXPR_INTERNAL_H

#include "base/compat.h"
#include "expr/expr.h"

enum tok_type {
    TOK_LPAREN,
    TOK_RPAREN,
    TOK_INPUT,    /* $[[ inputs.NAME ]]: text is "inputs.NAME" */
    TOK_VARIABLE, /* $NAME: text is NAME */
    TOK_STRING,   /* text is the content */
    TOK_PATTERN,  /* text is /re/flags as written */
    TOK_NULL,
    TOK_TRUE,
    TOK_FALSE,
    TOK_EQ,
    TOK_MATCH,
    TOK_NE,
    TOK_NOMATCH,
    TOK_AND,
    TOK_OR,
    TOK_NOT,
};

struct token {
    enum tok_type type;
    char *text;             /* see above; owned */
    char *source;           /* the token as written; owned */
    size_t offset;          /* byte offset in the expression */
    struct sl_regex *regex; /* TOK_PATTERN: compiled; owned */
};

struct tokens {
    struct token *v;
    size_t n, cap;
};

/* Splits SRC into tokens (GitLab's lexer, with its MAX_TOKENS as MAX_TOKENS: the
 * expression may have MAX_TOKENS - 1 tokens). SL_EINVAL with "Unknown lexeme found!",
 * "Too many tokens!" or "Invalid regular expression!". *out is filled on success. */
int sl_expr_lex(const char *src, int max_tokens, struct tokens *out, struct sl_error *err);
void sl_expr_tokens_release(struct tokens *t);

struct node {
    enum tok_type op;          /* an operator, or the value token's type for a leaf */
    const struct token *tok;   /* the token (owned by the expression's tokens) */
    struct node *left, *right; /* binary: both; `!`: right only */
};

struct sl_expr {
    struct tokens toks;
    struct node *nodes; /* all nodes, one array */
    size_t nnodes;
    struct node *root;
};

/* Builds E->root from E->toks. SL_EINVAL with GitLab's parser messages. */
int sl_expr_parse(struct sl_expr *e, struct sl_error *err);

#endif
