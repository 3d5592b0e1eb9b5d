#include "base/compat.h"
#include "base/glob.h"
#include "base/alloc.h"
#include "base/str.h"

/* --- braces: expanded first into plain alternatives ----------------------------------- */

struct alts {
    char **v;
    size_t n, cap;
    bool overflow;
};

static void alts_add(struct alts *a, const char *s, size_t len)
{
    if (a->n >= SL_GLOB_MAX_ALTERNATIVES) {
        a->overflow = true;
        return;
    }
    SL_GROW(a->v, a->cap, a->n + 1);
    a->v[a->n++] = sl_xstrndup(s, len);
}

/* Finds the first top-level `{` with its matching `}` (skipping escapes and classes).
 * Returns false when the pattern has no complete brace group. */
static bool find_braces(const char *p, size_t *open, size_t *close)
{
    int depth = 0;
    bool in_class = false;
    for (size_t i = 0; p[i]; i++) {
        if (p[i] == '\\' && p[i + 1]) {
            i++;
            continue;
        }
        if (in_class) {
            if (p[i] == ']')
                in_class = false;
            continue;
        }
        if (p[i] == '[') {
            in_class = true;
            continue;
        }
        if (p[i] == '{') {
            if (depth++ == 0)
                *open = i;
        } else if (p[i] == '}' && depth > 0) {
            if (--depth == 0) {
                *close = i;
                return true;
            }
        }
    }
    return false;
}

static void expand(struct alts *out, const char *p, int depth)
{
    size_t open = 0, close = 0;
    if (out->overflow)
        return;
    if (depth > 32 || !find_braces(p, &open, &close)) {
        alts_add(out, p, strlen(p));
        return;
    }
    /* split the group's body at top-level commas */
    size_t start = open + 1;
    int nest = 0;
    for (size_t i = open + 1; i <= close && !out->overflow; i++) {
        if (p[i] == '\\' && i + 1 < close) {
            i++;
            continue;
        }
        if (p[i] == '{')
            nest++;
        else if (p[i] == '}' && nest > 0)
            nest--;
        else if ((p[i] == ',' && nest == 0) || i == close) {
            struct sl_str s = SL_STR_INIT;
            sl_str_add(&s, p, open);
            sl_str_add(&s, p + start, i - start);
            sl_str_adds(&s, p + close + 1);
            expand(out, s.buf, depth + 1);
            sl_str_release(&s);
            start = i + 1;
        }
    }
}

/* --- one alternative, by dynamic programming ----------------------------------------- */

/* Parses the class at P (just after '['); on success sets *END past the ']' and returns
 * whether C is in it. A '[' without a closing ']' is a literal '['. */
static bool class_match(const char *p, const char **end, char c, bool *valid)
{
    bool neg = false, hit = false;
    const char *q = p;
    if (*q == '!' || *q == '^') {
        neg = true;
        q++;
    }
    bool first = true;
    while (*q && (*q != ']' || first)) {
        char lo = *q, hi;
        if (lo == '\\' && q[1])
            lo = *++q;
        q++;
        hi = lo;
        if (q[0] == '-' && q[1] && q[1] != ']') {
            hi = q[1];
            if (hi == '\\' && q[2])
                hi = q[2], q++;
            q += 2;
        }
        if ((unsigned char)c >= (unsigned char)lo && (unsigned char)c <= (unsigned char)hi)
            hit = true;
        first = false;
    }
    if (*q != ']') {
        *valid = false;
        return false;
    }
    *valid = true;
    *end = q + 1;
    return c != '/' && (hit != neg);
}

static bool match_one(const char *p, const char *s)
{
    size_t n = strlen(s);
    bool *cur = sl_xcalloc(n + 1, sizeof(*cur));
    bool *nxt = sl_xcalloc(n + 1, sizeof(*nxt));
    bool any = true;
    cur[0] = true;

    while (*p && any) {
        memset(nxt, 0, (n + 1) * sizeof(*nxt));
        if (p[0] == '*' && p[1] == '*' && p[2] == '/') {
            /* zero or more whole directories: stay, or jump past any later '/' */
            bool seen = false;
            for (size_t j = 0; j <= n; j++) {
                nxt[j] = cur[j] || (seen && j > 0 && s[j - 1] == '/');
                seen = seen || cur[j];
            }
            p += 3;
        } else if (p[0] == '*') {
            while (*p == '*')
                p++;
            for (size_t j = 0; j <= n; j++)
                nxt[j] = cur[j] || (j > 0 && nxt[j - 1] && s[j - 1] != '/');
        } else if (p[0] == '?') {
            for (size_t j = 0; j < n; j++)
                if (cur[j] && s[j] != '/')
                    nxt[j + 1] = true;
            p++;
        } else if (p[0] == '[') {
            const char *end = NULL;
            bool valid = true;
            for (size_t j = 0; j < n; j++)
                if (cur[j] && class_match(p + 1, &end, s[j], &valid))
                    nxt[j + 1] = true;
            if (!end) /* find the end once even when nothing was tested */
                class_match(p + 1, &end, '\0', &valid);
            if (!valid) { /* a lone '[' is literal */
                for (size_t j = 0; j < n; j++)
                    if (cur[j] && s[j] == '[')
                        nxt[j + 1] = true;
                p++;
            } else {
                p = end;
            }
        } else {
            char c = p[0];
            if (c == '\\' && p[1])
                c = *++p;
            for (size_t j = 0; j < n; j++)
                if (cur[j] && s[j] == c)
                    nxt[j + 1] = true;
            p++;
        }
        bool *t = cur;
        cur = nxt;
        nxt = t;
        any = false;
        for (size_t j = 0; j <= n && !any; j++)
            any = cur[j];
    }
    bool ok = !*p && cur[n];
    free(cur);
    free(nxt);
    return ok;
}

bool sl_glob_match(const char *pattern, const char *path)
{
    struct alts a = {0};
    bool ok = false;
    expand(&a, pattern, 0);
    for (size_t i = 0; i < a.n && !ok && !a.overflow; i++)
        ok = match_one(a.v[i], path);
    for (size_t i = 0; i < a.n; i++)
        free(a.v[i]);
    free(a.v);
    return ok;
}

bool sl_glob_has_magic(const char *pattern)
{
    for (const char *p = pattern; *p; p++) {
        if (*p == '\\' && p[1]) {
            p++;
            continue;
        }
        if (strchr("*?[{", *p))
            return true;
    }
    return false;
}
