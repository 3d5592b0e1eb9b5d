/* regex.c: GitLab's `/re/flags` (RE2 syntax) on PCRE2.
 *
 * Users write these patterns and the subjects come from commits and variables, so every
 * match runs under match and depth limits: a catastrophic pattern ends as "no match"
 * quickly instead of hanging a pipeline. */
#include "base/compat.h"
#include "expr/expr.h"
#include "base/alloc.h"
#include "base/str.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#define MATCH_LIMIT 200000
#define DEPTH_LIMIT 2000

struct sl_regex {
    pcre2_code *code;
    pcre2_match_context *mctx;
};

bool sl_regex_literal(const char *s)
{
    size_t n = strlen(s);
    if (n < 2 || s[0] != '/')
        return false;
    const char *end = strrchr(s, '/');
    if (end == s)
        return false;
    for (const char *f = end + 1; *f; f++)
        if (!strchr("ismU", *f))
            return false;
    return true;
}

int sl_regex_compile(struct sl_regex **out, const char *src, struct sl_error *err)
{
    if (!sl_regex_literal(src))
        return sl_error_set(err, SL_EINVAL, "not a regular expression: %s", src);
    const char *end = strrchr(src, '/');
    struct sl_str body = SL_STR_INIT;
    uint32_t opts = PCRE2_UTF | PCRE2_MATCH_INVALID_UTF | PCRE2_NEVER_BACKSLASH_C;
    int rc = 0;

    for (const char *f = end + 1; *f; f++) {
        switch (*f) {
        case 'i':
            opts |= PCRE2_CASELESS;
            break;
        case 's':
            opts |= PCRE2_DOTALL;
            break;
        case 'm':
            opts |= PCRE2_MULTILINE;
            break;
        case 'U':
            opts |= PCRE2_UNGREEDY;
            break;
        }
    }
    /* GitLab unescapes `\/` before compiling (the slash only needed escaping in YAML) */
    for (const char *p = src + 1; p < end; p++) {
        if (p[0] == '\\' && p[1] == '/' && p + 1 < end) {
            sl_str_addc(&body, '/');
            p++;
        } else {
            sl_str_addc(&body, *p);
        }
    }
    int code;
    PCRE2_SIZE off;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)body.buf, body.len, opts, &code, &off, NULL);
    if (!re) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(code, msg, sizeof(msg));
        rc = sl_error_set(err, SL_EINVAL, "invalid regular expression %s: %s", src,
                          (const char *)msg);
        goto out;
    }
    pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); /* best effort: the interpreter also works */
    struct sl_regex *r = sl_xcalloc(1, sizeof(*r));
    r->code = re;
    r->mctx = pcre2_match_context_create(NULL);
    pcre2_set_match_limit(r->mctx, MATCH_LIMIT);
    pcre2_set_depth_limit(r->mctx, DEPTH_LIMIT);
    *out = r;
out:
    sl_str_release(&body);
    return rc;
}

bool sl_regex_search(const struct sl_regex *re, const char *subject, size_t len)
{
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(re->code, NULL);
    int rc = pcre2_match(re->code, (PCRE2_SPTR)subject, len, 0, 0, md, re->mctx);
    pcre2_match_data_free(md);
    return rc >= 0;
}

void sl_regex_free(struct sl_regex *re)
{
    if (!re)
        return;
    pcre2_code_free(re->code);
    pcre2_match_context_free(re->mctx);
    free(re);
}
