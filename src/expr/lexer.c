/* lexer.c: GitLab's expression lexer (lib/gitlab/ci/pipeline/expression/lexer.rb): skip
 * blanks, then try each lexeme in order; the first that matches at the cursor wins. */
#include "base/compat.h"
#include "expr/internal.h"
#include "base/alloc.h"

#include <ctype.h>

static bool word_char(char c)
{
    return isalnum((unsigned char)c) || c == '_';
}

static void push(struct tokens *t, enum tok_type type, const char *text, size_t tlen,
                 const char *src, size_t slen)
{
    SL_GROW(t->v, t->cap, t->n + 1);
    struct token *k = &t->v[t->n++];
    k->type = type;
    k->text = sl_xstrndup(text, tlen);
    k->source = sl_xstrndup(src, slen);
    k->regex = NULL;
}

/* `\$\[\[\s*inputs\.(\w+)\s*\]\]` */
static size_t lex_input(const char *s, const char **name, size_t *nlen)
{
    const char *p = s;
    if (strncmp(p, "$[[", 3))
        return 0;
    p += 3;
    while (isspace((unsigned char)*p))
        p++;
    if (strncmp(p, "inputs.", 7))
        return 0;
    p += 7;
    const char *n = p;
    while (word_char(*p))
        p++;
    if (p == n)
        return 0;
    *name = n - 7;
    *nlen = (size_t)(p - n) + 7;
    while (isspace((unsigned char)*p))
        p++;
    if (strncmp(p, "]]", 2))
        return 0;
    return (size_t)(p + 2 - s);
}

/* `^\/([^\/]|\\/)+[^\\]\/[ismU]*`: a body of at least two characters, `\/` escapes a
 * slash, and the closing slash may not follow a backslash. */
static size_t lex_pattern(const char *s)
{
    if (s[0] != '/')
        return 0;
    size_t i = 1;
    for (;;) {
        if (s[i] == '\0')
            return 0;
        if (s[i] == '\\' && s[i + 1] == '/') {
            i += 2;
            continue;
        }
        if (s[i] == '/')
            break;
        i++;
    }
    size_t body = i - 1;
    if (body < 2 || s[i - 1] == '\\')
        return 0;
    i++;
    while (s[i] && strchr("ismU", s[i]))
        i++;
    return i;
}

static bool starts_word(const char *s, const char *w)
{
    size_t n = strlen(w);
    return !strncmp(s, w, n) && !word_char(s[n]);
}

int sl_expr_lex(const char *src, struct tokens *out, struct sl_error *err)
{
    struct tokens t = {0};
    const char *p = src;
    int rc = 0;

    for (;;) {
        while (isspace((unsigned char)*p))
            p++;
        if (!*p)
            break;
        if (t.n >= SL_EXPR_MAX_TOKENS) {
            rc = sl_error_set(err, SL_EINVAL, "Too many tokens!");
            goto out;
        }
        const char *name;
        size_t len = 0, nlen = 0;
        if (*p == '(') {
            push(&t, TOK_LPAREN, p, 1, p, 1);
            p++;
        } else if (*p == ')') {
            push(&t, TOK_RPAREN, p, 1, p, 1);
            p++;
        } else if ((len = lex_input(p, &name, &nlen))) {
            push(&t, TOK_INPUT, name, nlen, p, len);
            p += len;
        } else if (*p == '$' && word_char(p[1])) {
            const char *q = p + 1;
            while (word_char(*q))
                q++;
            push(&t, TOK_VARIABLE, p + 1, (size_t)(q - p - 1), p, (size_t)(q - p));
            p = q;
        } else if ((*p == '"' || *p == '\'') && strchr(p + 1, *p)) {
            const char *q = strchr(p + 1, *p);
            push(&t, TOK_STRING, p + 1, (size_t)(q - p - 1), p, (size_t)(q - p + 1));
            p = q + 1;
        } else if ((len = lex_pattern(p))) {
            push(&t, TOK_PATTERN, p, len, p, len);
            if (sl_regex_compile(&t.v[t.n - 1].regex, t.v[t.n - 1].text, NULL) < 0) {
                rc = sl_error_set(err, SL_EINVAL, "Invalid regular expression!");
                goto out;
            }
            p += len;
        } else if (!strncmp(p, "null", 4)) {
            push(&t, TOK_NULL, p, 4, p, 4);
            p += 4;
        } else if (starts_word(p, "true")) {
            push(&t, TOK_TRUE, p, 4, p, 4);
            p += 4;
        } else if (starts_word(p, "false")) {
            push(&t, TOK_FALSE, p, 5, p, 5);
            p += 5;
        } else {
            static const struct {
                const char *op;
                enum tok_type type;
            } ops[] = {{"==", TOK_EQ},  {"=~", TOK_MATCH}, {"!=", TOK_NE}, {"!~", TOK_NOMATCH},
                       {"&&", TOK_AND}, {"||", TOK_OR},    {"!", TOK_NOT}};
            bool found = false;
            for (size_t i = 0; i < SL_ARRAY_LEN(ops) && !found; i++) {
                size_t n = strlen(ops[i].op);
                if (!strncmp(p, ops[i].op, n)) {
                    push(&t, ops[i].type, p, n, p, n);
                    p += n;
                    found = true;
                }
            }
            if (!found) {
                rc = sl_error_set(err, SL_EINVAL, "Unknown lexeme found!");
                goto out;
            }
        }
    }
    *out = t;
    t.v = NULL;
    t.n = 0;
out:
    sl_expr_tokens_release(&t);
    return rc;
}

void sl_expr_tokens_release(struct tokens *t)
{
    for (size_t i = 0; i < t->n; i++) {
        free(t->v[i].text);
        free(t->v[i].source);
        sl_regex_free(t->v[i].regex);
    }
    free(t->v);
    t->v = NULL;
    t->n = t->cap = 0;
}
