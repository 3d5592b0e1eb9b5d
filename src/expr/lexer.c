/* lexer.c: GitLab's expression lexer (lib/gitlab/ci/pipeline/expression/lexer.rb).
 *
 * Each round skips `\s+`, then tries every lexeme's Ruby regex at the cursor in a fixed
 * order; the first that matches makes the token. The regexes are reproduced by hand,
 * including their Ruby details: `.` stops at a newline, `\w` is ASCII, and the pattern
 * lexeme's backtracking picks the same end as Onigmo does. */
#include "base/compat.h"
#include "expr/internal.h"
#include "base/alloc.h"

static bool word_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

/* Ruby's \s: [ \t\n\v\f\r] */
static bool space_char(char c)
{
    return c == ' ' || (c >= '\t' && c <= '\r');
}

static void push(struct tokens *t, enum tok_type type, const char *text, size_t tlen,
                 const char *src, size_t slen, size_t offset)
{
    SL_GROW(t->v, t->cap, t->n + 1);
    struct token *k = &t->v[t->n++];
    k->type = type;
    k->text = sl_xstrndup(text, tlen);
    k->source = sl_xstrndup(src, slen);
    k->offset = offset;
    k->regex = NULL;
}

/* `\$\[\[\s*inputs\.(?<name>\w+)\s*\]\]`; sets NAME and NLEN to "inputs.NAME". */
static size_t lex_input(const char *s, const char **name, size_t *nlen)
{
    const char *p = s;
    if (strncmp(p, "$[[", 3))
        return 0;
    p += 3;
    while (space_char(*p))
        p++;
    if (strncmp(p, "inputs.", 7))
        return 0;
    const char *n = p;
    p += 7;
    const char *id = p;
    while (word_char(*p))
        p++;
    if (p == id)
        return 0;
    *name = n;
    *nlen = (size_t)(p - n);
    while (space_char(*p))
        p++;
    if (strncmp(p, "]]", 2))
        return 0;
    return (size_t)(p + 2 - s);
}

/* `("(?<string>.*?)")|('(?<string>.*?)')`: the shortest quoted run without a newline. */
static size_t lex_string(const char *s)
{
    if (*s != '"' && *s != '\'')
        return 0;
    for (const char *p = s + 1; *p && *p != '\n'; p++)
        if (*p == *s)
            return (size_t)(p + 1 - s);
    return 0;
}

/* `^\/([^\/]|\\/)+[^\\]\/[ismU]*`, matched the way a backtracking engine does: at each
 * step the loop first tries another `[^/]`, then `\/`, and only then the tail `[^\\]/`;
 * the first success in that order wins. g[i] is the end (after the closing slash) of the
 * first success from loop position i with at least one iteration done, 0 for none. The
 * loop cannot pass a slash that is not preceded by a backslash, which bounds the scan. */
static size_t lex_pattern(const char *s)
{
    if (s[0] != '/')
        return 0;
    size_t j = 1;
    while (s[j] && !(s[j] == '/' && s[j - 1] != '\\'))
        j++;
    if (j == 1 && s[1] == '/')
        return 0;
    size_t *g = sl_xcalloc(j + 3, sizeof(*g));
    for (size_t i = j + 1; i-- > 1;) {
        size_t r = 0;
        if (s[i] && s[i] != '/')
            r = g[i + 1];
        if (!r && s[i] == '\\' && s[i + 1] == '/')
            r = g[i + 2];
        if (!r && s[i] && s[i] != '\\' && s[i + 1] == '/')
            r = i + 2;
        g[i] = r;
    }
    size_t end = 0; /* the first iteration is mandatory: no tail at position 1 */
    if (s[1] && s[1] != '/')
        end = g[2];
    if (!end && s[1] == '\\' && s[2] == '/')
        end = g[3];
    free(g);
    if (!end)
        return 0;
    while (s[end] && strchr("ismU", s[end]))
        end++;
    return end;
}

/* `\b(?:true|false)\b` at the cursor (which counts as the start of the string). Bytes of
 * multi-byte characters count as word characters, as Unicode letters do for Ruby. */
static size_t lex_word(const char *s, const char *w)
{
    size_t n = strlen(w);
    if (strncmp(s, w, n) || word_char(s[n]) || (unsigned char)s[n] >= 0x80)
        return 0;
    return n;
}

int sl_expr_lex(const char *src, int max_tokens, struct tokens *out, struct sl_error *err)
{
    static const struct {
        const char *op;
        enum tok_type type;
    } ops[] = {{"==", TOK_EQ},  {"=~", TOK_MATCH}, {"!=", TOK_NE}, {"!~", TOK_NOMATCH},
               {"&&", TOK_AND}, {"||", TOK_OR},    {"!", TOK_NOT}};
    struct tokens t = {0};
    const char *p = src;
    int rc = 0;

    /* GitLab runs MAX_TOKENS rounds, each one token, and raises when they end: so 99
     * tokens at most */
    for (int round = 0;; round++) {
        while (space_char(*p))
            p++;
        size_t at = (size_t)(p - src);
        if (round == max_tokens) {
            rc = sl_error_set_at(err, SL_EINVAL, NULL, 0, (int)at + 1, "Too many tokens!");
            goto out;
        }
        if (!*p)
            break;
        const char *name = NULL;
        size_t len, nlen = 0;
        if (*p == '(') {
            push(&t, TOK_LPAREN, p, 1, p, 1, at);
            p++;
        } else if (*p == ')') {
            push(&t, TOK_RPAREN, p, 1, p, 1, at);
            p++;
        } else if ((len = lex_input(p, &name, &nlen))) {
            push(&t, TOK_INPUT, name, nlen, p, len, at);
            p += len;
        } else if (*p == '$' && word_char(p[1])) {
            const char *q = p + 1;
            while (word_char(*q))
                q++;
            push(&t, TOK_VARIABLE, p + 1, (size_t)(q - p - 1), p, (size_t)(q - p), at);
            p = q;
        } else if ((len = lex_string(p))) {
            push(&t, TOK_STRING, p + 1, len - 2, p, len, at);
            p += len;
        } else if ((len = lex_pattern(p))) {
            push(&t, TOK_PATTERN, p, len, p, len, at);
            if (sl_regex_compile_pattern(&t.v[t.n - 1].regex, t.v[t.n - 1].text, NULL) < 0) {
                rc = sl_error_set_at(err, SL_EINVAL, NULL, 0, (int)at + 1,
                                     "Invalid regular expression!");
                goto out;
            }
            p += len;
        } else if (!strncmp(p, "null", 4)) {
            push(&t, TOK_NULL, p, 4, p, 4, at);
            p += 4;
        } else if ((len = lex_word(p, "true")) || (len = lex_word(p, "false"))) {
            push(&t, *p == 't' ? TOK_TRUE : TOK_FALSE, p, len, p, len, at);
            p += len;
        } else {
            bool found = false;
            for (size_t i = 0; i < SL_ARRAY_LEN(ops) && !found; i++) {
                size_t n = strlen(ops[i].op);
                if (!strncmp(p, ops[i].op, n)) {
                    push(&t, ops[i].type, p, n, p, n, at);
                    p += n;
                    found = true;
                }
            }
            if (!found) {
                rc = sl_error_set_at(err, SL_EINVAL, NULL, 0, (int)at + 1, "Unknown lexeme found!");
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
