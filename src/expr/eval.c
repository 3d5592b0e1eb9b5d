/* eval.c: evaluating a parsed expression with Ruby's semantics (SPEC.md §3; the
 * `evaluate` methods of lib/gitlab/ci/pipeline/expression/lexeme/ files).
 *
 * Values are nil, booleans, strings and regexes. Strings are borrowed from the tokens or
 * from the lookup for the length of one evaluation, so evaluating allocates nothing. */
#include "base/compat.h"
#include "expr/internal.h"
#include "base/alloc.h"
#include "base/str.h"

#include <pthread.h>

struct val {
    enum sl_expr_type type;
    bool b;
    const char *s;             /* STRING; REGEX: its source */
    const struct sl_regex *re; /* REGEX */
};

static const struct val nil_val = {SL_EXPR_NIL, false, NULL, NULL};

static struct val boolean(bool b)
{
    struct val v = {SL_EXPR_BOOL, b, NULL, NULL};
    return v;
}

/* One UTF-8 character at *P (advanced past it); an invalid byte is returned as itself. */
static uint32_t next_char(const char **p)
{
    const unsigned char *s = (const unsigned char *)*p;
    uint32_t c = s[0];
    int n = c < 0x80 ? 0 : c >= 0xf0 ? 3 : c >= 0xe0 ? 2 : c >= 0xc0 ? 1 : 0;
    for (int i = 1; i <= n; i++)
        if ((s[i] & 0xc0) != 0x80)
            n = 0;
    if (n)
        c &= 0x3f >> n;
    for (int i = 1; i <= n; i++)
        c = (c << 6) | (s[i] & 0x3f);
    *p += n + 1;
    return c;
}

/* Ruby's [[:space:]] on a UTF-8 string: Unicode White_Space. */
static bool unicode_space(uint32_t c)
{
    return (c >= 0x09 && c <= 0x0d) || c == 0x20 || c == 0x85 || c == 0xa0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 || c == 0x202f ||
           c == 0x205f || c == 0x3000;
}

/* Rails' present?: not nil, not false, not a blank string. */
static bool present(const struct val *v)
{
    switch (v->type) {
    case SL_EXPR_NIL:
        return false;
    case SL_EXPR_BOOL:
        return v->b;
    case SL_EXPR_REGEX:
        return true;
    case SL_EXPR_STRING:
        for (const char *p = v->s; *p;)
            if (!unicode_space(next_char(&p)))
                return true;
        return false;
    }
    return false;
}

/* Ruby truthiness (for && and ||): only nil and false are falsy. */
static bool truthy(const struct val *v)
{
    return !(v->type == SL_EXPR_NIL || (v->type == SL_EXPR_BOOL && !v->b));
}

/* to_s: nil is "", booleans are "true"/"false", a regex its source. */
static const char *to_s(const struct val *v)
{
    switch (v->type) {
    case SL_EXPR_NIL:
        return "";
    case SL_EXPR_BOOL:
        return v->b ? "true" : "false";
    default:
        return v->s;
    }
}

/* Lexeme::Equals: booleans compare as their text ("true" == true); nil equals only nil; a
 * regex equals only the same regex. */
static bool equals(const struct val *a, const struct val *b)
{
    if (a->type == SL_EXPR_NIL || b->type == SL_EXPR_NIL)
        return a->type == b->type;
    if ((a->type == SL_EXPR_REGEX) != (b->type == SL_EXPR_REGEX))
        return false;
    return !strcmp(to_s(a), to_s(b));
}

/* Lexeme::Matches with Pattern.build_and_evaluate: a regex searches text.to_s; a string
 * with the /re/flags form (after `\/` becomes `/`) is compiled and used the same way; any
 * other string is String#scan: whether TEXT occurs in it. The caller handles nil/false. */
static bool matches(const struct val *text, const struct val *re)
{
    const char *subject = to_s(text);
    const struct sl_regex *r = re->type == SL_EXPR_REGEX ? re->re : NULL;
    const char *pattern = to_s(re);
    if (!r && strchr(pattern, '/')) /* no slash, no /re/ form: skip the cache */
        r = sl_regex_cached(pattern);
    if (r)
        return sl_regex_search(r, subject, strlen(subject));
    return strstr(pattern, subject) != NULL;
}

static struct val eval(const struct node *n, sl_expr_lookup lookup, void *ctx)
{
    switch (n->op) {
    case TOK_VARIABLE:
    case TOK_INPUT: {
        const char *s = lookup ? lookup(ctx, n->tok->text) : NULL;
        struct val v = {SL_EXPR_STRING, false, s, NULL};
        return s ? v : nil_val;
    }
    case TOK_STRING: {
        struct val v = {SL_EXPR_STRING, false, n->tok->text, NULL};
        return v;
    }
    case TOK_PATTERN: {
        struct val v = {SL_EXPR_REGEX, false, n->tok->text, n->tok->regex};
        return v;
    }
    case TOK_NULL:
        return nil_val;
    case TOK_TRUE:
        return boolean(true);
    case TOK_FALSE:
        return boolean(false);
    case TOK_NOT: {
        struct val v = eval(n->right, lookup, ctx);
        return boolean(!present(&v));
    }
    case TOK_AND:
    case TOK_OR: {
        struct val l = eval(n->left, lookup, ctx);
        if (truthy(&l) == (n->op == TOK_OR))
            return l;
        return eval(n->right, lookup, ctx);
    }
    case TOK_EQ:
    case TOK_NE: {
        struct val l = eval(n->left, lookup, ctx);
        struct val r = eval(n->right, lookup, ctx);
        return boolean(equals(&l, &r) == (n->op == TOK_EQ));
    }
    case TOK_MATCH:
    case TOK_NOMATCH: {
        struct val l = eval(n->left, lookup, ctx);
        struct val r = eval(n->right, lookup, ctx);
        if (!truthy(&r)) /* `return false unless regexp` (true for !~) */
            return boolean(n->op == TOK_NOMATCH);
        return boolean(matches(&l, &r) == (n->op == TOK_MATCH));
    }
    default:
        return nil_val;
    }
}

void sl_expr_value_release(struct sl_expr_value *v)
{
    free(v->str);
    v->str = NULL;
}

void sl_expr_eval(const struct sl_expr *e, sl_expr_lookup lookup, void *ctx,
                  struct sl_expr_value *out)
{
    struct val v = eval(e->root, lookup, ctx);
    out->type = v.type;
    out->b = v.b;
    out->str = v.s ? sl_xstrdup(v.s) : NULL;
}

bool sl_expr_truthful(const struct sl_expr *e, sl_expr_lookup lookup, void *ctx)
{
    struct val v = eval(e->root, lookup, ctx);
    return present(&v);
}

int sl_expr_compile(struct sl_expr **out, const char *src, struct sl_error *err)
{
    struct sl_expr *e = sl_xcalloc(1, sizeof(*e));
    int rc;
    if ((rc = sl_expr_lex(src, SL_EXPR_MAX_TOKENS, &e->toks, err)) < 0 ||
        (rc = sl_expr_parse(e, err)) < 0)
        goto out;
    *out = e;
    e = NULL;
out:
    sl_expr_free(e);
    return rc;
}

void sl_expr_free(struct sl_expr *e)
{
    if (!e)
        return;
    sl_expr_tokens_release(&e->toks);
    free(e->nodes);
    free(e);
}

/* --- the per-thread cache of compiled rules ------------------------------------------- */

struct expr_cache {
    struct {
        char *src; /* NULL: empty slot */
        uint64_t hash;
        struct sl_expr *e; /* NULL: SRC does not compile */
        uint64_t used;
    } slot[64];
    uint64_t clock;
};

static pthread_key_t cache_key;
static _Thread_local struct expr_cache *tls_cache; /* the fast path to the key's value */
static pthread_once_t cache_once = PTHREAD_ONCE_INIT;

static void cache_free(void *p)
{
    struct expr_cache *c = p;
    tls_cache = NULL;
    for (size_t i = 0; c && i < SL_ARRAY_LEN(c->slot); i++) {
        free(c->slot[i].src);
        sl_expr_free(c->slot[i].e);
    }
    free(c);
}

static void cache_key_init(void)
{
    pthread_key_create(&cache_key, cache_free);
}

/* The compiled SRC (NULL when it does not compile), borrowed until the thread's next
 * call. Expressions longer than 4 KiB are not kept. */
static const struct sl_expr *cached(const char *src, struct sl_expr **own)
{
    *own = NULL;
    if (strlen(src) > 4096) {
        if (sl_expr_compile(own, src, NULL) < 0)
            *own = NULL;
        return *own;
    }
    struct expr_cache *c = tls_cache;
    if (!c) {
        pthread_once(&cache_once, cache_key_init);
        c = sl_xcalloc(1, sizeof(*c));
        pthread_setspecific(cache_key, c);
        tls_cache = c;
    }
    c->clock++;
    uint64_t h = 14695981039346656037u;
    for (const char *p = src; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211u;
    size_t victim = 0;
    for (size_t i = 0; i < SL_ARRAY_LEN(c->slot); i++) {
        if (c->slot[i].src && c->slot[i].hash == h && !strcmp(c->slot[i].src, src)) {
            c->slot[i].used = c->clock;
            return c->slot[i].e;
        }
        if (!c->slot[i].src || c->slot[i].used < c->slot[victim].used)
            victim = i;
    }
    free(c->slot[victim].src);
    sl_expr_free(c->slot[victim].e);
    c->slot[victim].src = sl_xstrdup(src);
    c->slot[victim].hash = h;
    c->slot[victim].used = c->clock;
    if (sl_expr_compile(&c->slot[victim].e, src, NULL) < 0)
        c->slot[victim].e = NULL;
    return c->slot[victim].e;
}

bool sl_expr_matches(const char *src, sl_expr_lookup lookup, void *ctx)
{
    struct sl_expr *own;
    const struct sl_expr *e = cached(src, &own);
    bool r = e && sl_expr_truthful(e, lookup, ctx);
    sl_expr_free(own);
    return r;
}

bool sl_expr_valid(const char *src)
{
    struct sl_expr *own;
    const struct sl_expr *e = cached(src, &own);
    sl_expr_free(own);
    return e != NULL;
}

int sl_expr_tokens(const char *src, char **out, struct sl_error *err)
{
    struct tokens t = {0};
    int rc = sl_expr_lex(src, SL_EXPR_MAX_TOKENS, &t, err);
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
