/* reports.c: dotenv, JUnit and coverage (see reports.h for the rules). */
#include "base/compat.h"
#include "exec/reports.h"
#include "base/alloc.h"
#include "base/fs.h"
#include "base/str.h"

#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

/* --- dotenv ------------------------------------------------------------------------------ */

void sl_dotenv_release(struct sl_dotenv *env)
{
    for (size_t i = 0; i < env->n; i++) {
        free(env->vars[i].key);
        free(env->vars[i].value);
    }
    free(env->vars);
    env->vars = NULL;
    env->n = env->cap = 0;
}

const char *sl_dotenv_get(const struct sl_dotenv *env, const char *key)
{
    for (size_t i = 0; i < env->n; i++)
        if (sl_streq(env->vars[i].key, key))
            return env->vars[i].value;
    return NULL;
}

/* True when DATA is well-formed UTF-8 (no overlongs, no surrogates, at most U+10FFFF). */
static bool valid_utf8(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        size_t len;
        uint32_t cp, min;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            len = 2, cp = c & 0x1f, min = 0x80;
        } else if ((c & 0xf0) == 0xe0) {
            len = 3, cp = c & 0x0f, min = 0x800;
        } else if ((c & 0xf8) == 0xf0) {
            len = 4, cp = c & 0x07, min = 0x10000;
        } else {
            return false;
        }
        if (n - i < len)
            return false;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += len;
    }
    return true;
}

/* Ruby's String#strip: ASCII whitespace and NUL. */
static bool is_strip(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r' || c == '\0';
}

static char *strip_dup(const char *s, size_t n)
{
    while (n && is_strip(*s))
        s++, n--;
    while (n && is_strip(s[n - 1]))
        n--;
    return sl_xstrndup(s, n);
}

static bool valid_key(const char *k)
{
    if (!*k)
        return false;
    for (; *k; k++)
        if (!((*k >= 'A' && *k <= 'Z') || (*k >= 'a' && *k <= 'z') || (*k >= '0' && *k <= '9') ||
              *k == '_'))
            return false;
    return true;
}

int sl_reports_dotenv_parse(struct sl_dotenv *out, const char *data, size_t len,
                            struct sl_error *err)
{
    struct sl_dotenv env = SL_DOTENV_INIT;
    char *key = NULL, *value = NULL;
    int rc = 0, line = 0;

    if (len >= SL_DOTENV_MAX_BYTES) {
        rc = sl_error_set(err, SL_ELIMIT, "dotenv report is %zu bytes: the limit is %d bytes", len,
                          SL_DOTENV_MAX_BYTES - 1);
        goto out;
    }
    if (!valid_utf8((const unsigned char *)data, len)) {
        rc = sl_error_set(err, SL_EINVAL, "dotenv report is not valid UTF-8");
        goto out;
    }
    for (size_t pos = 0; pos < len;) {
        const char *l = data + pos, *nl = memchr(l, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - l) : len - pos;
        pos += n + (nl ? 1 : 0);
        line++;
        const char *eq = memchr(l, '=', n);
        if (!eq) {
            rc = sl_error_set_at(err, SL_EINVAL, NULL, line, 0,
                                 "line %d: invalid format: expected KEY=value", line);
            goto out;
        }
        key = strip_dup(l, (size_t)(eq - l));
        value = strip_dup(eq + 1, n - (size_t)(eq + 1 - l));
        if (!valid_key(key)) {
            rc = sl_error_set_at(err, SL_EINVAL, NULL, line, 0,
                                 "line %d: invalid key \"%s\": names may only contain A-Z, a-z, "
                                 "0-9 and _",
                                 line, key);
            goto out;
        }
        size_t i;
        for (i = 0; i < env.n && !sl_streq(env.vars[i].key, key); i++)
            ;
        if (i < env.n) { /* last duplicate wins */
            free(env.vars[i].value);
            env.vars[i].value = value;
            free(key);
        } else {
            SL_GROW(env.vars, env.cap, env.n + 1);
            env.vars[env.n].key = key;
            env.vars[env.n].value = value;
            env.n++;
        }
        key = value = NULL;
    }
    if (env.n > SL_DOTENV_MAX_VARS) {
        rc = sl_error_set(err, SL_ELIMIT, "dotenv report has %zu variables: the limit is %d", env.n,
                          SL_DOTENV_MAX_VARS);
        goto out;
    }
    *out = env;
    env = (struct sl_dotenv)SL_DOTENV_INIT;
out:
    free(key);
    free(value);
    sl_dotenv_release(&env);
    return rc;
}

int sl_reports_dotenv_load(struct sl_dotenv *out, const char *path, struct sl_error *err)
{
    char *data = NULL;
    size_t len = 0;
    struct stat st;
    int rc;

    if (stat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_size >= SL_DOTENV_MAX_BYTES) {
        rc = sl_error_set(err, SL_ELIMIT, "dotenv report is %lld bytes: the limit is %d bytes",
                          (long long)st.st_size, SL_DOTENV_MAX_BYTES - 1);
    } else if ((rc = sl_fs_read_file(path, SL_DOTENV_MAX_BYTES - 1, &data, &len, err)) == 0) {
        rc = sl_reports_dotenv_parse(out, data, len, err);
    }
    if (rc < 0 && err && !err->file)
        err->file = sl_xstrdup(path);
    free(data);
    return rc;
}

/* --- JUnit ------------------------------------------------------------------------------- */

static bool has_child(const xmlNode *n, const char *name)
{
    for (const xmlNode *c = n->children; c; c = c->next)
        if (c->type == XML_ELEMENT_NODE && xmlStrcmp(c->name, (const xmlChar *)name) == 0)
            return true;
    return false;
}

/* Walks the element tree iteratively (a deep document must not exhaust the stack). */

/* xmlFree is a variable of libxml2 (its allocator hook), not a function: libxml2 is loaded
 * on first use (base/lazy.h), and its stubs can stand for functions only, so the hook is
 * read through xmlMemGet. */
static void reports_xml_free(void *p)
{
    xmlFreeFunc f = NULL;
    if (xmlMemGet(&f, NULL, NULL, NULL) == 0 && f)
        f(p);
}

static void count_cases(const xmlNode *root, struct sl_junit_counts *c)
{
    const xmlNode *n = root;
    while (n) {
        bool descend = true;
        if (n->type == XML_ELEMENT_NODE && xmlStrcmp(n->name, (const xmlChar *)"testcase") == 0) {
            c->tests++;
            if (has_child(n, "failure"))
                c->failed++;
            else if (has_child(n, "error"))
                c->errored++;
            else if (has_child(n, "skipped"))
                c->skipped++;
            else
                c->success++;
            xmlChar *t = xmlGetProp(n, (const xmlChar *)"time");
            if (t) {
                char *end;
                double v = strtod((const char *)t, &end);
                if (end != (char *)t && v >= 0 && v < 1e12)
                    c->time_s += v;
                reports_xml_free(t);
            }
            descend = false; /* a testcase holds no testcases */
        }
        /* only into elements: an entity reference's children are the entity's own nodes,
         * shared and parented elsewhere, and walking back up from them never returns here
         * (found by fuzz_junit: a report with `&c;` in a suite's text hung the job) */
        if (descend && n->type == XML_ELEMENT_NODE && n->children) {
            n = n->children;
            continue;
        }
        while (n && n != root && !n->next)
            n = n->parent;
        if (!n || n == root)
            break;
        n = n->next;
    }
}

static pthread_once_t xml_once = PTHREAD_ONCE_INIT;

/* libxml2 wants one initialisation before threads use it concurrently */
static void xml_init(void)
{
    xmlInitParser();
}

int sl_reports_junit_parse(struct sl_junit_counts *counts, const char *data, size_t len,
                           const char *name, struct sl_error *err)
{
    xmlParserCtxtPtr ctx = NULL;
    xmlDocPtr doc = NULL;
    int rc = 0;

    if (len > SL_JUNIT_MAX_BYTES) {
        rc = sl_error_set(err, SL_ELIMIT, "%s: JUnit report is larger than the limit of %zu bytes",
                          name, SL_JUNIT_MAX_BYTES);
        goto out;
    }
    if (len > INT_MAX) {
        rc = sl_error_set(err, SL_ELIMIT, "%s: JUnit report too large", name);
        goto out;
    }
    pthread_once(&xml_once, xml_init);
    if (!(ctx = xmlNewParserCtxt())) {
        rc = sl_error_set(err, SL_EIO, "%s: cannot create an XML parser", name);
        goto out;
    }
    /* no entity substitution, no DTD loading, no network: a report is untrusted input */
    doc = xmlCtxtReadMemory(ctx, data, (int)len, name, NULL,
                            XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    if (!doc || !ctx->wellFormed) {
        const xmlError *e = xmlCtxtGetLastError(ctx);
        if (e && e->message) {
            size_t m = strlen(e->message);
            while (m && e->message[m - 1] == '\n')
                m--;
            rc = sl_error_set_at(err, SL_EINVAL, name, e->line, e->int2,
                                 "invalid JUnit report: %.*s", (int)m, e->message);
        } else {
            rc = sl_error_set_at(err, SL_EINVAL, name, 0, 0, "invalid JUnit report");
        }
        goto out;
    }
    struct sl_junit_counts c = *counts;
    count_cases(xmlDocGetRootElement(doc), &c);
    c.files++;
    *counts = c;
out:
    if (doc)
        xmlFreeDoc(doc);
    if (ctx)
        xmlFreeParserCtxt(ctx);
    return rc;
}

int sl_reports_junit_load(struct sl_junit_counts *counts, const char *path, struct sl_error *err)
{
    char *data = NULL;
    size_t len = 0;
    int rc = sl_fs_read_file(path, SL_JUNIT_MAX_BYTES, &data, &len, err);
    if (rc == 0)
        rc = sl_reports_junit_parse(counts, data, len, path, err);
    free(data);
    return rc;
}

/* --- coverage ---------------------------------------------------------------------------- */

/* Limits for one line: generous for any sane expression, small enough that a
 * catastrophic one gives up in milliseconds. */
#define COVERAGE_MATCH_LIMIT 1000000
#define COVERAGE_DEPTH_LIMIT 10000
#define COVERAGE_HEAP_LIMIT_KB 20000

struct sl_coverage {
    pcre2_code *re;
    pcre2_code *num; /* \d+(?:\.\d+)? */
    pcre2_match_data *md;
    pcre2_match_data *num_md;
    pcre2_match_context *mctx;
    uint32_t groups;
    char value[64];
    bool have;
    size_t limit_hits;
};

void sl_coverage_free(struct sl_coverage *cov)
{
    if (!cov)
        return;
    pcre2_match_data_free(cov->md);
    pcre2_match_data_free(cov->num_md);
    pcre2_match_context_free(cov->mctx);
    pcre2_code_free(cov->re);
    pcre2_code_free(cov->num);
    free(cov);
}

static pcre2_code *compile(const char *pat, size_t len, uint32_t opts, struct sl_str *why)
{
    int ec;
    PCRE2_SIZE off;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)pat, len, opts, &ec, &off, NULL);
    if (!re) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(ec, msg, sizeof(msg));
        sl_str_addf(why, "%s at offset %zu", (const char *)msg, (size_t)off);
        return NULL;
    }
    (void)pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); /* falls back to the interpreter */
    return re;
}

int sl_coverage_new(struct sl_coverage **out, const char *regex, struct sl_error *err)
{
    struct sl_coverage *cov = sl_xcalloc(1, sizeof(*cov));
    struct sl_str why = SL_STR_INIT;
    uint32_t opts = PCRE2_UTF | PCRE2_MATCH_INVALID_UTF;
    int rc = 0;
    size_t n = strlen(regex);
    const char *close = n >= 2 && regex[0] == '/' ? strrchr(regex, '/') : NULL;

    if (!close || close == regex) {
        rc = sl_error_set(err, SL_EINVAL,
                          "coverage config must be a regular expression with re2 syntax: "
                          "%s is not enclosed in slashes",
                          regex);
        goto out;
    }
    for (const char *f = close + 1; *f; f++) {
        if (*f == 'i')
            opts |= PCRE2_CASELESS;
        else if (*f == 'm')
            opts |= PCRE2_MULTILINE;
        else if (*f == 's')
            opts |= PCRE2_DOTALL;
        else {
            rc = sl_error_set(err, SL_EINVAL,
                              "coverage config must be a regular expression with re2 syntax: "
                              "unknown flag '%c'",
                              *f);
            goto out;
        }
    }
    if (!(cov->re = compile(regex + 1, (size_t)(close - regex - 1), opts, &why))) {
        rc = sl_error_set(err, SL_EINVAL,
                          "coverage config must be a regular expression with re2 syntax: %s",
                          why.buf);
        goto out;
    }
    cov->num = compile("\\d+(?:\\.\\d+)?", PCRE2_ZERO_TERMINATED, 0, &why);
    pcre2_pattern_info(cov->re, PCRE2_INFO_CAPTURECOUNT, &cov->groups);
    cov->md = pcre2_match_data_create_from_pattern(cov->re, NULL);
    cov->num_md = pcre2_match_data_create_from_pattern(cov->num, NULL);
    cov->mctx = pcre2_match_context_create(NULL);
    pcre2_set_match_limit(cov->mctx, COVERAGE_MATCH_LIMIT);
    pcre2_set_depth_limit(cov->mctx, COVERAGE_DEPTH_LIMIT);
    pcre2_set_heap_limit(cov->mctx, COVERAGE_HEAP_LIMIT_KB);
    *out = cov;
    cov = NULL;
out:
    sl_str_release(&why);
    sl_coverage_free(cov);
    return rc;
}

void sl_coverage_feed(struct sl_coverage *cov, const char *line, size_t len)
{
    PCRE2_SIZE start = 0, cand_off = 0, cand_len = 0;
    bool cand = false;

    if (len > SL_COVERAGE_LINE_MAX)
        len = SL_COVERAGE_LINE_MAX;
    /* scan: every non-overlapping match, as Ruby's String#scan / RE2 scan walk them */
    while (start <= len) {
        int m = pcre2_match(cov->re, (PCRE2_SPTR)line, len, start, 0, cov->md, cov->mctx);
        if (m == PCRE2_ERROR_NOMATCH)
            break;
        if (m < 0) {
            if (m == PCRE2_ERROR_MATCHLIMIT || m == PCRE2_ERROR_DEPTHLIMIT ||
                m == PCRE2_ERROR_HEAPLIMIT)
                cov->limit_hits++;
            return; /* a line we cannot match yields nothing */
        }
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(cov->md);
        uint32_t g = cov->groups;    /* the last group, or the whole match (0) */
        if (g && (uint32_t)m <= g) { /* the last group did not take part */
            cand = false;
        } else if (ov[2 * g] != PCRE2_UNSET) {
            cand = true;
            cand_off = ov[2 * g];
            cand_len = ov[2 * g + 1] - ov[2 * g];
        }
        start = ov[1] > ov[0] ? ov[1] : ov[1] + 1;
        /* step over a whole UTF-8 character after an empty match */
        while (ov[1] == ov[0] && start < len && ((unsigned char)line[start] & 0xc0) == 0x80)
            start++;
    }
    if (!cand)
        return;
    int m =
        pcre2_match(cov->num, (PCRE2_SPTR)line + cand_off, cand_len, 0, 0, cov->num_md, cov->mctx);
    if (m <= 0)
        return;
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(cov->num_md);
    size_t n = ov[1] - ov[0];
    if (n >= sizeof(cov->value))
        n = sizeof(cov->value) - 1;
    memcpy(cov->value, line + cand_off + ov[0], n);
    cov->value[n] = '\0';
    cov->have = true;
}

const char *sl_coverage_value(const struct sl_coverage *cov)
{
    return cov->have ? cov->value : NULL;
}

size_t sl_coverage_limit_hits(const struct sl_coverage *cov)
{
    return cov->limit_hits;
}
