/* glob.c: Ruby's File.fnmatch(pattern, path, FNM_PATHNAME | FNM_DOTMATCH | FNM_EXTGLOB),
 * following dir.c step by step (with FNM_NOESCAPE, FNM_CASEFOLD and the leading-period
 * rule switched off, as those flags leave them). Characters are UTF-8; an invalid byte
 * counts as one character. Every loop pays from a step budget. */
#include "base/compat.h"
#include "base/glob.h"
#include "base/alloc.h"

struct budget {
    long left;
    bool exhausted;
};

static bool pay(struct budget *b, long cost)
{
    b->left -= cost;
    if (b->left < 0)
        b->exhausted = true;
    return !b->exhausted;
}

/* The length of the UTF-8 character at P (1 for an invalid byte or the NUL). */
static size_t clen(const char *p)
{
    const unsigned char *s = (const unsigned char *)p;
    size_t n = s[0] < 0xc0 ? 1 : s[0] < 0xe0 ? 2 : s[0] < 0xf0 ? 3 : s[0] < 0xf8 ? 4 : 1;
    for (size_t i = 1; i < n; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 1;
    return n;
}

static uint32_t codepoint(const char *p)
{
    const unsigned char *s = (const unsigned char *)p;
    size_t n = clen(p);
    if (n == 1)
        return s[0];
    uint32_t c = s[0] & (0x7f >> n);
    for (size_t i = 1; i < n; i++)
        c = (c << 6) | (s[i] & 0x3f);
    return c;
}

#define ISEND(p) (!*(p) || *(p) == '/')
#define UNESCAPE(p) (*(p) == '\\' ? (p) + 1 : (p))

/* dir.c bracket(): P is just after '['. Returns the pattern after the class when the
 * character at S is in it, NULL when not (or when the class is malformed). */
static const char *bracket(const char *p, const char *s)
{
    bool ok = false, not = false;
    size_t slen = strlen(s);

    if (!*p)
        return NULL;
    if (*p == '!' || *p == '^') {
        not = true;
        p++;
    }
    while (*p != ']') {
        const char *t1 = p;
        if (*t1 == '\\')
            t1++;
        if (!*t1)
            return NULL;
        size_t r1 = clen(t1);
        p = t1 + r1;
        if (!*p)
            return NULL;
        if (p[0] == '-' && p[1] != ']') {
            const char *t2 = p + 1;
            if (*t2 == '\\')
                t2++;
            if (!*t2)
                return NULL;
            size_t r2 = clen(t2);
            p = t2 + r2;
            if (ok)
                continue;
            if ((r1 <= slen && !memcmp(t1, s, r1)) || (r2 <= slen && !memcmp(t2, s, r2))) {
                ok = true;
                continue;
            }
            uint32_t c = codepoint(s);
            if (c < codepoint(t1) || c > codepoint(t2))
                continue;
        } else {
            if (ok)
                continue;
            if (r1 <= slen && !memcmp(t1, s, r1)) {
                ok = true;
                continue;
            }
            continue;
        }
        ok = true;
    }
    return ok == not ? NULL : p + 1;
}

/* dir.c fnmatch_helper(): matches one path segment; on return *PCUR and *SCUR are where
 * matching stopped. 0 on a match. */
static int helper(const char **pcur, const char **scur, struct budget *b)
{
    const char *ptmp = NULL, *stmp = NULL;
    const char *p = *pcur, *s = *scur;
    int r = 1;

    for (;;) {
        if (!pay(b, 1))
            goto out;
        switch (*p) {
        case '*':
            do {
                p++;
            } while (*p == '*');
            if (ISEND(UNESCAPE(p))) {
                p = UNESCAPE(p);
                r = 0;
                goto out;
            }
            if (ISEND(s))
                goto out;
            ptmp = p;
            stmp = s;
            continue;
        case '?':
            if (ISEND(s))
                goto out;
            p++;
            s += clen(s);
            continue;
        case '[': {
            if (ISEND(s))
                goto out;
            const char *t = bracket(p + 1, s);
            if (!pay(b, (long)((t ? t : p) - p) + 1))
                goto out;
            if (t) {
                p = t;
                s += clen(s);
                continue;
            }
            goto failed;
        }
        }
        /* ordinary */
        p = UNESCAPE(p);
        if (ISEND(s)) {
            r = ISEND(p) ? 0 : 1;
            goto out;
        }
        if (ISEND(p))
            goto failed;
        size_t n = clen(p);
        if (!strncmp(p, s, n) && strnlen(s, n) == n) {
            p += n;
            s += n;
            continue;
        }
    failed: /* try the next position for the last '*' */
        if (ptmp && stmp) {
            p = ptmp;
            stmp += clen(stmp);
            s = stmp;
            continue;
        }
        goto out;
    }
out:
    *pcur = p;
    *scur = s;
    return b->exhausted ? 1 : r;
}

/* dir.c fnmatch() with FNM_PATHNAME: segment by segment, `**` + `/` remembered as the
 * place to retry from with one more directory skipped. */
static bool fnmatch_path(const char *pattern, const char *string, struct budget *b)
{
    const char *p = pattern, *s = string;
    const char *ptmp = NULL, *stmp = NULL;

    for (;;) {
        if (!pay(b, 1))
            return false;
        if (p[0] == '*' && p[1] == '*' && p[2] == '/') {
            do {
                p += 3;
            } while (p[0] == '*' && p[1] == '*' && p[2] == '/');
            ptmp = p;
            stmp = s;
        }
        if (helper(&p, &s, b) == 0) {
            while (*s && *s != '/')
                s += clen(s);
            if (*p && *s) {
                p++;
                s++;
                continue;
            }
            if (!*p && !*s)
                return true;
        }
        if (b->exhausted)
            return false;
        if (ptmp && stmp) { /* FNM_DOTMATCH: dot directories are skipped like any */
            while (*stmp && *stmp != '/')
                stmp += clen(stmp);
            if (*stmp) {
                p = ptmp;
                stmp++;
                s = stmp;
                continue;
            }
        }
        return false;
    }
}

/* dir.c ruby_brace_expand(): the first top-level {...} is replaced by each of its
 * alternatives in turn, recursively; a pattern with no braces is matched. An opening
 * brace without its closing one yields nothing at all. */
static bool brace_expand(const char *str, const char *path, struct budget *b)
{
    const char *p = str, *lbrace = NULL, *rbrace = NULL;
    int nest = 0;
    bool hit = false;

    if (!pay(b, (long)strlen(str) + 1))
        return false;
    while (*p) {
        if (*p == '{' && nest++ == 0)
            lbrace = p;
        if (*p == '}' && lbrace && --nest == 0) {
            rbrace = p;
            break;
        }
        if (*p == '\\' && !*++p)
            break;
        p += clen(p);
    }
    if (!lbrace)
        return fnmatch_path(str, path, b);
    if (!rbrace)
        return false;

    size_t len = strlen(str) + 1, shift = (size_t)(lbrace - str);
    size_t tail = strlen(rbrace + 1);
    char *buf = sl_xmalloc(len);
    memcpy(buf, str, shift);
    p = lbrace;
    while (p < rbrace && !hit && !b->exhausted) {
        const char *t = ++p;
        nest = 0;
        while (p < rbrace && !(*p == ',' && nest == 0)) {
            if (*p == '{')
                nest++;
            if (*p == '}')
                nest--;
            if (*p == '\\' && ++p == rbrace)
                break;
            p += clen(p);
        }
        size_t alt = (size_t)(p - t);
        memcpy(buf + shift, t, alt);
        memcpy(buf + shift + alt, rbrace + 1, tail + 1);
        hit = brace_expand(buf, path, b);
    }
    free(buf);
    return hit;
}

bool sl_glob_match_ex(const char *pattern, const char *path, bool *exhausted)
{
    struct budget b = {SL_GLOB_MAX_STEPS, false};
    bool hit = brace_expand(pattern, path, &b);
    if (exhausted)
        *exhausted = b.exhausted;
    return hit && !b.exhausted;
}

bool sl_glob_match(const char *pattern, const char *path)
{
    return sl_glob_match_ex(pattern, path, NULL);
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
