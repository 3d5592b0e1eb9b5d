/* regex.c: GitLab's `/re/flags` (RE2 syntax, Gitlab::UntrustedRegexp) run on PCRE2.
 *
 * RE2 and PCRE2 agree on most of the syntax but not all of it, so a pattern is first
 * translated: what RE2 rejects (back-references, look-around, atomic groups, possessive
 * or doubled quantifiers, `\Z`, `\h`, repeats over 1000, ...) is rejected here too, and the
 * few constructs that mean something else in PCRE2 (`\v`, `\s`, octal escapes) are
 * rewritten. `$` matches only at the very end (RE2 without `m`), newlines are LF only.
 *
 * Users write these patterns and the subjects come from commits and variables, so every
 * match runs under match, depth and heap limits: a catastrophic pattern ends as "no match"
 * quickly instead of hanging a pipeline. Compiled code is JIT-compiled when the platform
 * allows it. */
#include "base/compat.h"
#include "expr/expr.h"
#include "base/alloc.h"
#include "base/str.h"

#include <ctype.h>
#include <pthread.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#define MATCH_LIMIT 1000000
#define DEPTH_LIMIT 5000
#define HEAP_LIMIT_KIB (16 * 1024)
#define RE2_MAX_REPEAT 1000

struct sl_regex {
    pcre2_code *code;
    bool jit;
    char *source; /* "/re/flags" as given */
};

/* --- the `/re/flags` form -------------------------------------------------------------- */

/* Ruby's `^/(?<regexp>.*)/(?<flags>[ismU]*)$` (UntrustedRegexp::RubySyntax): the first line
 * of S that starts with '/' and ends with '/' plus flags. Ruby's `^` and `$` are line
 * anchors and `.` stops at a newline, so a multi-line string can hold the form on any
 * line. Sets the body and the flags. */
static bool ruby_syntax(const char *s, size_t n, const char **body, size_t *blen,
                        const char **flags, size_t *flen)
{
    for (size_t ls = 0; ls <= n;) {
        size_t le = ls;
        while (le < n && s[le] != '\n')
            le++;
        if (le > ls && s[ls] == '/') {
            size_t slash = le;
            while (slash > ls && s[slash - 1] != '/')
                slash--;
            slash--; /* the last '/' of the line */
            bool ok = slash > ls;
            for (size_t k = slash + 1; ok && k < le; k++)
                ok = strchr("ismU", s[k]) != NULL && s[k] != '\0';
            if (ok) {
                *body = s + ls + 1;
                *blen = slash - ls - 1;
                *flags = s + slash + 1;
                *flen = le - slash - 1;
                return true;
            }
        }
        ls = le + 1;
    }
    return false;
}

bool sl_regex_literal(const char *s)
{
    const char *b, *f;
    size_t bl, fl;
    return ruby_syntax(s, strlen(s), &b, &bl, &f, &fl);
}

/* --- RE2 to PCRE2 ------------------------------------------------------------------------ */

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_alnum(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int bad(struct sl_error *err, const char *what, const char *at, size_t n)
{
    return sl_error_set(err, SL_EINVAL, "%s: %.*s", what, (int)SL_MIN(n, (size_t)12), at);
}

/* One escape at P[0] == '\\'. Appends its PCRE2 form and returns the bytes consumed. */
static int escape(const char *p, const char *end, bool in_class, struct sl_str *out, size_t *used,
                  struct sl_error *err)
{
    if (p + 1 >= end)
        return bad(err, "trailing \\", p, 1);
    char c = p[1];
    *used = 2;
    if (!is_alnum(c) && c != '\0') { /* \. \/ \_ \- ...: the character itself */
        sl_str_add(out, p, 2);
        return 0;
    }
    if (c >= '0' && c <= '7') { /* octal: \0, \12, \123; \1 alone is a back-reference */
        size_t k = 1;
        unsigned v = 0;
        while (k <= 3 && p + k < end && p[k] >= '0' && p[k] <= '7')
            v = v * 8 + (unsigned)(p[k++] - '0');
        if (c != '0' && k == 2)
            return bad(err, "invalid escape sequence", p, 2);
        *used = k;
        sl_str_addf(out, "\\x{%x}", v);
        return 0;
    }
    switch (c) {
    case 'a':
    case 'f':
    case 't':
    case 'n':
    case 'r':
    case 'd':
    case 'D':
    case 'w':
    case 'W':
        sl_str_add(out, p, 2);
        return 0;
    case 'v': /* RE2: the vertical tab; PCRE2: any vertical space */
        sl_str_adds(out, "\\x{b}");
        return 0;
    case 's': /* RE2's \s has no vertical tab */
        sl_str_adds(out, in_class ? "\\t\\n\\f\\r " : "[\\t\\n\\f\\r ]");
        return 0;
    case 'S':
        sl_str_adds(out, in_class ? "\\S" : "[^\\t\\n\\f\\r ]");
        return 0;
    case 'b':
    case 'B':
    case 'A':
    case 'z':
        if (in_class)
            return bad(err, "invalid escape sequence", p, 2);
        sl_str_add(out, p, 2);
        return 0;
    case 'C': /* any byte in RE2; PCRE2 refuses \C, and UTF mode has characters */
        if (in_class)
            return bad(err, "invalid escape sequence", p, 2);
        sl_str_adds(out, "(?s:.)");
        return 0;
    case 'x': {
        const char *q = p + 2;
        if (q < end && *q == '{') {
            const char *r = q + 1;
            while (r < end && *r != '}' && isxdigit((unsigned char)*r))
                r++;
            if (r >= end || *r != '}' || r == q + 1)
                return bad(err, "invalid escape sequence", p, (size_t)(r - p) + 1);
            *used = (size_t)(r + 1 - p);
        } else {
            if (q + 1 >= end || !isxdigit((unsigned char)q[0]) || !isxdigit((unsigned char)q[1]))
                return bad(err, "invalid escape sequence", p, 4);
            *used = 4;
        }
        sl_str_add(out, p, *used);
        return 0;
    }
    case 'p':
    case 'P': {
        const char *q = p + 2;
        if (q >= end)
            return bad(err, "invalid character class range", p, 2);
        if (*q == '{') {
            const char *r = memchr(q, '}', (size_t)(end - q));
            if (!r)
                return bad(err, "invalid character class range", p, (size_t)(end - p));
            *used = (size_t)(r + 1 - p);
        } else {
            *used = 3;
        }
        sl_str_add(out, p, *used);
        return 0;
    }
    default:
        return bad(err, "invalid escape sequence", p, 2);
    }
}

/* A repeat {n}, {n,} or {n,m} at P, as RE2 reads it; false when P is a literal '{'. */
static bool repeat_braces(const char *p, const char *end, size_t *len, long *lo, long *hi)
{
    const char *q = p + 1;
    if (q >= end || !is_digit(*q))
        return false;
    *lo = 0;
    while (q < end && is_digit(*q) && *lo < 100000)
        *lo = *lo * 10 + (*q++ - '0');
    *hi = *lo;
    if (q < end && *q == ',') {
        q++;
        *hi = -1;
        if (q < end && is_digit(*q)) {
            *hi = 0;
            while (q < end && is_digit(*q) && *hi < 100000)
                *hi = *hi * 10 + (*q++ - '0');
        }
    }
    if (q >= end || *q != '}')
        return false;
    *len = (size_t)(q + 1 - p);
    return true;
}

/* Copies the RE2 pattern [P, END) into OUT as PCRE2 syntax, or fails with RE2's verdict. */
static int translate(const char *p, const char *end, struct sl_str *out, struct sl_error *err)
{
    bool can_repeat = false; /* the previous item is a repeatable atom */
    bool repeated = false;   /* the previous item was a quantifier */
    int rc;

    while (p < end) {
        char c = *p;
        size_t used = 1;
        if (c == '\\' && p + 1 < end && p[1] == 'Q') { /* literal text up to \E */
            const char *q = p + 2;
            while (q < end && !(q[0] == '\\' && q + 1 < end && q[1] == 'E'))
                q++;
            sl_str_add(out, p, (size_t)(q - p));
            sl_str_adds(out, "\\E");
            p = q < end ? q + 2 : end;
            can_repeat = true;
            repeated = false;
            continue;
        }
        if (c == '\\') {
            if ((rc = escape(p, end, false, out, &used, err)) < 0)
                return rc;
            p += used;
            can_repeat = true;
            repeated = false;
            continue;
        }
        if (c == '[') {
            const char *q = p + 1;
            sl_str_addc(out, '[');
            if (q < end && *q == '^')
                sl_str_addc(out, *q++);
            bool first = true;
            while (q < end && (*q != ']' || first)) {
                first = false;
                if (*q == '[' && q + 1 < end && q[1] == ':') {
                    const char *r = q + 2;
                    while (r + 1 < end && !(r[0] == ':' && r[1] == ']'))
                        r++;
                    if (r + 1 < end) {
                        sl_str_add(out, q, (size_t)(r + 2 - q));
                        q = r + 2;
                        continue;
                    }
                }
                if (*q == '\\') {
                    if (q + 1 < end && q[1] == 'Q')
                        return bad(err, "invalid escape sequence", q, 2);
                    if ((rc = escape(q, end, true, out, &used, err)) < 0)
                        return rc;
                    q += used;
                    continue;
                }
                if (*q == '[') { /* literal in RE2, a possible POSIX class in PCRE2 */
                    sl_str_adds(out, "\\[");
                    q++;
                    continue;
                }
                sl_str_addc(out, *q++);
            }
            if (q >= end)
                return bad(err, "missing closing ]", p, (size_t)(end - p));
            sl_str_addc(out, ']');
            p = q + 1;
            can_repeat = true;
            repeated = false;
            continue;
        }
        if (c == '(') {
            const char *q = p + 1;
            if (q < end && *q == '*')
                return bad(err, "missing argument to repetition operator", q, 1);
            if (q < end && *q == '?') {
                q++;
                if (q + 1 < end && q[0] == 'P' && q[1] == '<')
                    q++;
                if (q < end && *q == '<' && q + 1 < end && q[1] != '=' && q[1] != '!') {
                    const char *r = q + 1;
                    while (r < end && (is_alnum(*r) || *r == '_'))
                        r++;
                    if (r >= end || *r != '>' || r == q + 1)
                        return bad(err, "invalid named capture group", p, (size_t)(r - p) + 1);
                    sl_str_adds(out, "(?<");
                    sl_str_add(out, q + 1, (size_t)(r - q));
                    p = r + 1;
                    can_repeat = false;
                    repeated = false;
                    continue;
                }
                const char *r = q;
                while (r < end && strchr("imsU-", *r) && *r)
                    r++;
                if (r >= end || (*r != ')' && *r != ':') || (r == q && *r == ')'))
                    return bad(err, "invalid perl operator", p, (size_t)(r - p) + 1);
                sl_str_add(out, p, (size_t)(r + 1 - p));
                p = r + 1;
                can_repeat = false;
                repeated = false;
                continue;
            }
            sl_str_addc(out, '(');
            p++;
            can_repeat = false;
            repeated = false;
            continue;
        }
        long lo = 0, hi = 0;
        size_t blen = 0;
        bool braces = c == '{' && repeat_braces(p, end, &blen, &lo, &hi);
        if (c == '*' || c == '+' || c == '?' || braces) {
            if (repeated)
                return bad(err, "bad repetition operator", p - 1, 2);
            if (!can_repeat)
                return bad(err, "missing argument to repetition operator", p, 1);
            if (braces && (lo > RE2_MAX_REPEAT || hi > RE2_MAX_REPEAT || (hi >= 0 && hi < lo)))
                return bad(err, "invalid repetition size", p, blen);
            used = braces ? blen : 1;
            sl_str_add(out, p, used);
            p += used;
            if (p < end && *p == '?') /* lazy */
                sl_str_addc(out, *p++);
            repeated = true;
            continue;
        }
        if (c == '{') { /* not a repeat: a literal brace */
            sl_str_adds(out, "\\{");
            p++;
            can_repeat = true;
            repeated = false;
            continue;
        }
        if (c == '|') {
            sl_str_addc(out, c);
            p++;
            can_repeat = false;
            repeated = false;
            continue;
        }
        sl_str_addc(out, c);
        p++;
        can_repeat = true; /* literals, '.', ')', '^' and '$' (RE2 repeats assertions) */
        repeated = false;
    }
    return 0;
}

/* --- compile, match, cache ------------------------------------------------------------- */

struct thread_state {
    pcre2_match_data *md;
    pcre2_match_context *mctx;
    pcre2_compile_context *cctx;
    struct cache_entry {
        char *key;           /* "/re/flags"; NULL when empty */
        struct sl_regex *re; /* NULL: the key is not a valid regex */
        uint64_t used;
    } cache[64];
    uint64_t clock;
};

static pthread_key_t state_key;
static _Thread_local struct thread_state *tls_state; /* the fast path to the key's value */
static pthread_once_t state_once = PTHREAD_ONCE_INIT;

static void state_free(void *p)
{
    struct thread_state *st = p;
    if (!st)
        return;
    tls_state = NULL;
    for (size_t i = 0; i < SL_ARRAY_LEN(st->cache); i++) {
        free(st->cache[i].key);
        sl_regex_free(st->cache[i].re);
    }
    pcre2_match_data_free(st->md);
    pcre2_match_context_free(st->mctx);
    pcre2_compile_context_free(st->cctx);
    free(st);
}

static void state_key_init(void)
{
    pthread_key_create(&state_key, state_free);
}

/* Per-thread scratch (match data, contexts, the regex cache): matching allocates nothing
 * and needs no lock. Freed when the thread ends. */
static struct thread_state *state(void)
{
    if (tls_state)
        return tls_state;
    pthread_once(&state_once, state_key_init);
    struct thread_state *st;
    st = sl_xcalloc(1, sizeof(*st));
    st->md = pcre2_match_data_create(1, NULL);
    st->mctx = pcre2_match_context_create(NULL);
    st->cctx = pcre2_compile_context_create(NULL);
    if (!st->md || !st->mctx || !st->cctx) {
        fputs("sluice: out of memory\n", stderr);
        abort();
    }
    pcre2_set_match_limit(st->mctx, MATCH_LIMIT);
    pcre2_set_depth_limit(st->mctx, DEPTH_LIMIT);
    pcre2_set_heap_limit(st->mctx, HEAP_LIMIT_KIB);
    pcre2_set_newline(st->cctx, PCRE2_NEWLINE_LF);
    pcre2_set_max_pattern_length(st->cctx, SL_REGEX_MAX_PATTERN);
    pthread_setspecific(state_key, st);
    tls_state = st;
    return st;
}

static int compile(struct sl_regex **out, const char *src, bool unescape_slashes,
                   struct sl_error *err)
{
    const char *body, *flags;
    size_t blen, flen;
    struct sl_str pat = SL_STR_INIT;
    struct sl_str unescaped = SL_STR_INIT;
    const char *given = src;
    uint32_t opts = PCRE2_UTF | PCRE2_MATCH_INVALID_UTF | PCRE2_DOLLAR_ENDONLY;
    pcre2_code *code = NULL;
    int rc = 0;

    if (unescape_slashes) { /* Lexeme::Pattern: regexp.gsub(%r{\\/}, '/') before all else */
        for (const char *q = src; *q; q++) {
            if (q[0] == '\\' && q[1] == '/')
                q++;
            sl_str_addc(&unescaped, *q);
        }
        src = unescaped.buf;
    }
    if (!ruby_syntax(src, strlen(src), &body, &blen, &flags, &flen)) {
        rc = sl_error_set(err, SL_EINVAL, "not a regular expression: %s", src);
        goto out;
    }
    if (blen > SL_REGEX_MAX_PATTERN) {
        rc = sl_error_set(err, SL_EINVAL, "regular expression longer than %d bytes",
                          SL_REGEX_MAX_PATTERN);
        goto out;
    }
    /* flags become an inline group, as GitLab prefixes "(?flags)" */
    if (flen) {
        sl_str_adds(&pat, "(?");
        sl_str_add(&pat, flags, flen);
        sl_str_addc(&pat, ')');
    }
    if ((rc = translate(body, body + blen, &pat, err)) < 0)
        goto out;
    struct thread_state *st = state();
    int code_err;
    PCRE2_SIZE off;
    code = pcre2_compile((PCRE2_SPTR)pat.buf, pat.len, opts, &code_err, &off, st->cctx);
    if (!code) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(code_err, msg, sizeof(msg));
        rc = sl_error_set(err, SL_EINVAL, "%s", (const char *)msg);
        goto out;
    }
    /* best effort: the interpreter also works */
    bool jit = pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) == 0;
    struct sl_regex *r = sl_xcalloc(1, sizeof(*r));
    r->jit = jit;
    r->code = code;
    r->source = sl_xstrdup(given);
    code = NULL;
    *out = r;
out:
    pcre2_code_free(code);
    sl_str_release(&pat);
    sl_str_release(&unescaped);
    return rc;
}

int sl_regex_compile(struct sl_regex **out, const char *src, struct sl_error *err)
{
    return compile(out, src, false, err);
}

int sl_regex_compile_pattern(struct sl_regex **out, const char *src, struct sl_error *err)
{
    return compile(out, src, true, err);
}

bool sl_regex_search(const struct sl_regex *re, const char *subject, size_t len)
{
    struct thread_state *st = state();
    if (re->jit) /* the same limits apply; the JIT skips the option checks */
        return pcre2_jit_match(re->code, (PCRE2_SPTR)subject, len, 0, 0, st->md, st->mctx) >= 0;
    return pcre2_match(re->code, (PCRE2_SPTR)subject, len, 0, 0, st->md, st->mctx) >= 0;
}

const char *sl_regex_source(const struct sl_regex *re)
{
    return re->source;
}

const struct sl_regex *sl_regex_cached(const char *src)
{
    struct thread_state *st = state();
    struct cache_entry *victim = &st->cache[0];
    st->clock++;
    for (size_t i = 0; i < SL_ARRAY_LEN(st->cache); i++) {
        struct cache_entry *c = &st->cache[i];
        if (c->key && !strcmp(c->key, src)) {
            c->used = st->clock;
            return c->re;
        }
        if (!c->key || c->used < victim->used)
            victim = c;
    }
    free(victim->key);
    sl_regex_free(victim->re);
    victim->re = NULL;
    victim->key = sl_xstrdup(src);
    victim->used = st->clock;
    if (compile(&victim->re, src, true, NULL) < 0)
        victim->re = NULL;
    return victim->re;
}

void sl_regex_free(struct sl_regex *re)
{
    if (!re)
        return;
    pcre2_code_free(re->code);
    free(re->source);
    free(re);
}

int sl_regex_match_once(const char *pattern, const char *subject)
{
    char *src = sl_xasprintf("/%s/", pattern);
    struct sl_regex *re = NULL;
    int rc = sl_regex_compile(&re, src, NULL);
    free(src);
    if (rc < 0)
        return SL_EINVAL;
    rc = sl_regex_search(re, subject, strlen(subject)) ? 1 : 0;
    sl_regex_free(re);
    return rc;
}
