/* constraint.c: Unleash strategy constraints, compiled once and evaluated per context.
 *
 * The semantics are the specification's (files 09, 11, 13, 14, 21, 22): a missing context
 * field fails every operator except NOT_IN; an unknown operator is false even when
 * inverted; `caseInsensitive` applies to the STR_* operators and REGEX; numbers are
 * JavaScript numbers, dates ISO 8601, versions strict semver (no leading `v`). REGEX has
 * RE2's syntax as the Unleash engine (Yggdrasil) uses it: look-around and
 * back-references are refused (the constraint is then false), `$` matches only at the
 * end, and every match runs under PCRE2 match and depth limits, as the patterns come from
 * whoever may edit flags. */
#include "base/compat.h"
#include "flags/model.h"
#include "base/alloc.h"

#include <ctype.h>
#include <pthread.h>

#define MATCH_LIMIT 100000
#define DEPTH_LIMIT 1000

struct op_name {
    const char *name;
    enum op op;
};

static const struct op_name OPS[] = {
    {"IN", OP_IN},
    {"NOT_IN", OP_NOT_IN},
    {"STR_CONTAINS", OP_STR_CONTAINS},
    {"STR_STARTS_WITH", OP_STR_STARTS_WITH},
    {"STR_ENDS_WITH", OP_STR_ENDS_WITH},
    {"NUM_EQ", OP_NUM_EQ},
    {"NUM_GT", OP_NUM_GT},
    {"NUM_GTE", OP_NUM_GTE},
    {"NUM_LT", OP_NUM_LT},
    {"NUM_LTE", OP_NUM_LTE},
    {"DATE_AFTER", OP_DATE_AFTER},
    {"DATE_BEFORE", OP_DATE_BEFORE},
    {"SEMVER_EQ", OP_SEMVER_EQ},
    {"SEMVER_GT", OP_SEMVER_GT},
    {"SEMVER_LT", OP_SEMVER_LT},
    {"SEMVER_GTE", OP_SEMVER_GTE},
    {"SEMVER_LTE", OP_SEMVER_LTE},
    {"REGEX", OP_REGEX},
    {"IN_CIDR", OP_IN_CIDR},
};

static bool is_string_op(enum op op)
{
    return op == OP_STR_CONTAINS || op == OP_STR_STARTS_WITH || op == OP_STR_ENDS_WITH;
}

static void lower_ascii(char *s)
{
    for (; *s; s++)
        *s = (char)tolower((unsigned char)*s);
}

/* RE2 has no look-around, back-references, atomic groups, recursion or possessive
 * quantifiers; PCRE2 has them all, so they are refused before compiling. */
static bool re2_compatible(const char *p)
{
    bool in_class = false;
    for (; *p; p++) {
        if (*p == '\\') {
            char c = p[1];
            if (!c)
                return false;
            if (!in_class && ((c >= '1' && c <= '9') || c == 'g' || c == 'k' || c == 'K'))
                return false;
            p++;
            continue;
        }
        if (in_class) {
            if (*p == ']')
                in_class = false;
            continue;
        }
        if (*p == '[') {
            in_class = true;
            if (p[1] == '^')
                p++;
            if (p[1] == ']') /* a literal ] first in a class */
                p++;
            else if (p[1] == '[' && p[2] == ':') { /* [[:alpha:]] */
                const char *e = strstr(p + 3, ":]");
                if (e)
                    p = e + 1;
            }
            continue;
        }
        if (*p == '(' && p[1] == '?') {
            char c = p[2];
            if (c == '=' || c == '!' || c == '>' || c == 'R' || c == '&' || c == '|' ||
                isdigit((unsigned char)c) || c == '+' || c == '(' || c == 'C')
                return false;
            if (c == '<' && (p[3] == '=' || p[3] == '!'))
                return false;
            if (c == 'P' && (p[3] == '=' || p[3] == '>'))
                return false;
        }
        if ((*p == '*' || *p == '+' || *p == '?' || *p == '}') && p[1] == '+')
            return false;
    }
    return true;
}

static pcre2_code *compile_regex(const char *pattern, bool ci)
{
    if (strlen(pattern) > SL_FLAGS_MAX_REGEX || !re2_compatible(pattern))
        return NULL;
    uint32_t opts = PCRE2_DOLLAR_ENDONLY | PCRE2_UTF | PCRE2_MATCH_INVALID_UTF;
    if (ci)
        opts |= PCRE2_CASELESS;
    pcre2_compile_context *cc = pcre2_compile_context_create(NULL);
    pcre2_set_newline(cc, PCRE2_NEWLINE_LF);
    int ec;
    PCRE2_SIZE eo;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, opts, &ec, &eo, cc);
    pcre2_compile_context_free(cc);
    if (re)
        (void)pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); /* falls back to the interpreter */
    return re;
}

/* JSON string, or a number/boolean as JavaScript's String() writes it; NULL otherwise. */
static const char *json_text(struct sl_arena *a, const json_t *v)
{
    if (json_is_string(v))
        return sl_arena_strdup(a, json_string_value(v));
    if (json_is_integer(v))
        return sl_arena_printf(a, "%lld", (long long)json_integer_value(v));
    if (json_is_real(v))
        return sl_arena_printf(a, "%.17g", json_real_value(v));
    if (json_is_boolean(v))
        return json_is_true(v) ? "true" : "false";
    return NULL;
}

int sl_flags_constraint_compile(struct sl_flags_state *st, struct constraint *c, const json_t *j,
                                const char *path, struct sl_error *err)
{
    struct sl_arena *a = &st->arena;
    if (!json_is_object(j))
        return sl_error_set(err, SL_EINVAL, "%s: a constraint must be an object", path);
    const json_t *name = json_object_get(j, "contextName");
    if (!json_is_string(name))
        return sl_error_set(err, SL_EINVAL, "%s.contextName: a string is required", path);
    c->context_name = sl_arena_strdup(a, json_string_value(name));
    const char *op = json_string_value(json_object_get(j, "operator"));
    c->op = OP_UNKNOWN;
    for (size_t i = 0; op && i < SL_ARRAY_LEN(OPS); i++)
        if (sl_streq(op, OPS[i].name))
            c->op = OPS[i].op;
    c->inverted = json_is_true(json_object_get(j, "inverted"));
    c->case_insensitive = json_is_true(json_object_get(j, "caseInsensitive"));

    const json_t *values = json_object_get(j, "values");
    if (values && !json_is_array(values) && !json_is_null(values))
        return sl_error_set(err, SL_EINVAL, "%s.values: an array is required", path);
    size_t nv = json_array_size(values);
    if (nv > SL_FLAGS_MAX_VALUES)
        return sl_error_set(err, SL_ELIMIT, "%s.values: more than %d values", path,
                            SL_FLAGS_MAX_VALUES);
    c->values = sl_arena_alloc(a, (nv ? nv : 1) * sizeof *c->values);
    for (size_t i = 0; i < nv; i++) {
        const char *t = json_text(a, json_array_get(values, i));
        if (!t)
            continue;
        if (c->case_insensitive && is_string_op(c->op)) {
            char *l = sl_arena_strdup(a, t);
            lower_ascii(l);
            t = l;
        }
        c->values[c->nvalues++] = t;
    }
    /* the single-value operators read `value`, falling back to the first of `values` */
    const char *value = json_text(a, json_object_get(j, "value"));
    if (!value && c->nvalues > 0)
        value = c->values[0];
    switch (c->op) {
    case OP_NUM_EQ:
    case OP_NUM_GT:
    case OP_NUM_GTE:
    case OP_NUM_LT:
    case OP_NUM_LTE:
        c->valid = value && sl_flags_js_number(value, &c->num);
        break;
    case OP_DATE_AFTER:
    case OP_DATE_BEFORE:
        c->valid = value && sl_flags_parse_date(value, &c->date_ms);
        break;
    case OP_SEMVER_EQ:
    case OP_SEMVER_GT:
    case OP_SEMVER_LT:
    case OP_SEMVER_GTE:
    case OP_SEMVER_LTE:
        c->valid = value && sl_flags_parse_semver(sl_arena_strdup(a, value), &c->sv);
        break;
    case OP_REGEX:
        if (value && (c->re = compile_regex(value, c->case_insensitive)) != NULL)
            c->valid = true;
        break;
    case OP_IN_CIDR:
        c->cidrs = sl_arena_alloc(a, (c->nvalues ? c->nvalues : 1) * sizeof *c->cidrs);
        for (size_t i = 0; i < c->nvalues; i++)
            if (sl_flags_parse_cidr(c->values[i], &c->cidrs[c->ncidrs]))
                c->ncidrs++;
        c->valid = true;
        break;
    default:
        c->valid = true;
    }
    return 0;
}

const char *sl_flags_ctx_get(const struct sl_flags_context *ctx, const char *name)
{
    for (size_t i = 0; i < ctx->nfields; i++)
        if (ctx->fields[i].value && ctx->fields[i].value[0] && sl_streq(ctx->fields[i].name, name))
            return ctx->fields[i].value;
    for (size_t i = 0; i < ctx->nprops; i++)
        if (ctx->props[i].value && ctx->props[i].value[0] && sl_streq(ctx->props[i].name, name))
            return ctx->props[i].value;
    return NULL;
}

static bool string_op(const struct constraint *c, const char *v)
{
    char small[256], *lv = NULL;
    if (c->case_insensitive) {
        size_t n = strlen(v);
        lv = n < sizeof small ? small : sl_xmalloc(n + 1);
        memcpy(lv, v, n + 1);
        lower_ascii(lv);
        v = lv;
    }
    size_t n = strlen(v);
    bool hit = false;
    for (size_t i = 0; i < c->nvalues && !hit; i++) {
        const char *w = c->values[i];
        size_t m = strlen(w);
        switch (c->op) {
        case OP_STR_CONTAINS:
            hit = strstr(v, w) != NULL;
            break;
        case OP_STR_STARTS_WITH:
            hit = m <= n && memcmp(v, w, m) == 0;
            break;
        default:
            hit = m <= n && memcmp(v + n - m, w, m) == 0;
        }
    }
    if (lv && lv != small)
        free(lv);
    return hit;
}

/* One match block per thread, made on its first REGEX and freed when the thread ends (a
 * server's request threads come and go): a pthread key's destructor, not _Thread_local. */
static pthread_key_t md_key;
static pthread_once_t md_once = PTHREAD_ONCE_INIT;

static void md_free(void *md)
{
    pcre2_match_data_free(md);
}

static void md_key_make(void)
{
    pthread_key_create(&md_key, md_free);
}

static bool regex_match(const struct sl_flags_state *st, pcre2_code *re, const char *v)
{
    pthread_once(&md_once, md_key_make);
    pcre2_match_data *md = pthread_getspecific(md_key);
    if (!md) {
        md = pcre2_match_data_create(1, NULL);
        pthread_setspecific(md_key, md);
    }
    int rc = pcre2_match(re, (PCRE2_SPTR)v, strlen(v), 0, 0, md, st->mctx);
    return rc >= 0;
}

static bool eval_op(const struct sl_flags_state *st, const struct constraint *c,
                    const struct sl_flags_context *ctx)
{
    const char *v = sl_flags_ctx_get(ctx, c->context_name);
    switch (c->op) {
    case OP_IN:
    case OP_NOT_IN: {
        bool in = false;
        for (size_t i = 0; v && i < c->nvalues && !in; i++)
            in = sl_streq(c->values[i], v);
        return c->op == OP_IN ? in : !in;
    }
    case OP_STR_CONTAINS:
    case OP_STR_STARTS_WITH:
    case OP_STR_ENDS_WITH:
        return v && string_op(c, v);
    case OP_NUM_EQ:
    case OP_NUM_GT:
    case OP_NUM_GTE:
    case OP_NUM_LT:
    case OP_NUM_LTE: {
        double x;
        if (!c->valid || !v || !sl_flags_js_number(v, &x))
            return false;
        return c->op == OP_NUM_EQ    ? x == c->num
               : c->op == OP_NUM_GT  ? x > c->num
               : c->op == OP_NUM_GTE ? x >= c->num
               : c->op == OP_NUM_LT  ? x < c->num
                                     : x <= c->num;
    }
    case OP_DATE_AFTER:
    case OP_DATE_BEFORE: {
        int64_t t;
        if (!c->valid)
            return false;
        if (v) {
            if (!sl_flags_parse_date(v, &t))
                return false;
        } else if (sl_streq(c->context_name, "currentTime")) {
            t = ctx->now_ms;
        } else {
            return false;
        }
        return c->op == OP_DATE_AFTER ? t > c->date_ms : t < c->date_ms;
    }
    case OP_SEMVER_EQ:
    case OP_SEMVER_GT:
    case OP_SEMVER_LT:
    case OP_SEMVER_GTE:
    case OP_SEMVER_LTE: {
        struct semver x;
        if (!c->valid || !v || !sl_flags_parse_semver(v, &x))
            return false;
        int r = sl_flags_semver_cmp(&x, &c->sv);
        return c->op == OP_SEMVER_EQ    ? r == 0
               : c->op == OP_SEMVER_GT  ? r > 0
               : c->op == OP_SEMVER_LT  ? r < 0
               : c->op == OP_SEMVER_GTE ? r >= 0
                                        : r <= 0;
    }
    case OP_REGEX:
        return c->valid && v && regex_match(st, c->re, v);
    case OP_IN_CIDR: {
        uint8_t ip[16];
        if (!v || !sl_flags_parse_ip(v, ip))
            return false;
        for (size_t i = 0; i < c->ncidrs; i++)
            if (sl_flags_cidr_contains(&c->cidrs[i], ip))
                return true;
        return false;
    }
    default:
        return false;
    }
}

bool sl_flags_constraint_eval(const struct sl_flags_state *st, const struct constraint *c,
                              const struct sl_flags_context *ctx)
{
    if (c->op == OP_UNKNOWN)
        return false; /* the SDKs: an unknown operator fails, inverted or not */
    bool r = eval_op(st, c, ctx);
    return c->inverted ? !r : r;
}
