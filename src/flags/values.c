/* values.c: the value syntaxes of Unleash constraints, parsed as the SDKs parse them:
 * JavaScript's Number(), ISO-8601 dates, strict semantic versions, IPv4/IPv6 and CIDR. */
#include "base/compat.h"
#include "flags/model.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <math.h>

/* JavaScript's Number(s) for the decimal forms: surrounding white space ignored, an empty
 * string is 0, "Infinity" allowed; hex floats, "inf" and "nan" (which strtod takes) are
 * not numbers. */
bool sl_flags_js_number(const char *s, double *out)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        n--;
    if (n == 0) {
        *out = 0;
        return true;
    }
    char buf[128];
    if (n >= sizeof buf)
        return false;
    memcpy(buf, s, n);
    buf[n] = '\0';
    const char *p = buf;
    double sign = 1;
    if (*p == '+' || *p == '-') {
        sign = *p == '-' ? -1 : 1;
        p++;
    }
    if (strcmp(p, "Infinity") == 0) {
        *out = sign * INFINITY;
        return true;
    }
    if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X') && p == buf) {
        char *end;
        unsigned long long v = strtoull(p + 2, &end, 16);
        if (end == p + 2 || *end)
            return false;
        *out = (double)v;
        return true;
    }
    for (const char *q = p; *q; q++)
        if (!(isdigit((unsigned char)*q) || *q == '.' || *q == 'e' || *q == 'E' || *q == '+' ||
              *q == '-'))
            return false;
    char *end;
    errno = 0;
    double v = strtod(buf, &end);
    if (end == buf || *end)
        return false;
    *out = v;
    return true;
}

static bool digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*p)[i]))
            return false;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *out = v;
    return true;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

/* ISO 8601 as JavaScript's Date parses it: YYYY-MM-DD, optionally THH:MM[:SS[.fff]] and
 * Z or ±HH:MM; a date-time without a zone is taken as UTC (JavaScript would take local
 * time, which a server must not depend on). */
bool sl_flags_parse_date(const char *s, int64_t *ms)
{
    int y, mo, d, h = 0, mi = 0, sec = 0, frac = 0, tz = 0;
    const char *p = s;
    if (!digits(&p, 4, &y) || *p++ != '-' || !digits(&p, 2, &mo) || *p++ != '-' ||
        !digits(&p, 2, &d))
        return false;
    if (mo < 1 || mo > 12 || d < 1 || d > 31)
        return false;
    if (*p == 'T' || *p == 't' || *p == ' ') {
        p++;
        if (!digits(&p, 2, &h) || *p++ != ':' || !digits(&p, 2, &mi))
            return false;
        if (*p == ':') {
            p++;
            if (!digits(&p, 2, &sec))
                return false;
            if (*p == '.') {
                p++;
                int nd = 0;
                while (isdigit((unsigned char)*p)) {
                    if (nd < 3)
                        frac = frac * 10 + (*p - '0');
                    nd++;
                    p++;
                }
                if (nd == 0)
                    return false;
                for (; nd < 3; nd++)
                    frac *= 10;
            }
        }
        if (h > 24 || mi > 59 || sec > 59)
            return false;
        if (*p == 'Z' || *p == 'z') {
            p++;
        } else if (*p == '+' || *p == '-') {
            int sign = *p++ == '-' ? -1 : 1, th, tm;
            if (!digits(&p, 2, &th))
                return false;
            if (*p == ':')
                p++;
            if (!digits(&p, 2, &tm))
                return false;
            tz = sign * (th * 60 + tm);
        }
    }
    if (*p)
        return false;
    int64_t days = days_from_civil(y, (unsigned)mo, (unsigned)d);
    *ms = ((days * 86400 + h * 3600 + mi * 60 + sec) - (int64_t)tz * 60) * 1000 + frac;
    return true;
}

/* A numeric identifier of semver: 0 or no leading zero. */
static bool sv_num(const char **p, uint64_t *out)
{
    const char *s = *p;
    if (!isdigit((unsigned char)*s))
        return false;
    if (*s == '0' && isdigit((unsigned char)s[1]))
        return false;
    uint64_t v = 0;
    while (isdigit((unsigned char)*s)) {
        if (v > UINT64_MAX / 10 - 10)
            return false;
        v = v * 10 + (uint64_t)(*s++ - '0');
    }
    *p = s;
    *out = v;
    return true;
}

static bool sv_ident_char(char c)
{
    return isalnum((unsigned char)c) || c == '-';
}

/* Dot-separated identifiers from *P up to a '+' or the end; numeric ones without leading
 * zeros when PRE. */
static bool sv_idents(const char **p, bool pre)
{
    const char *s = *p;
    for (;;) {
        const char *b = s;
        bool numeric = true;
        while (sv_ident_char(*s)) {
            numeric = numeric && isdigit((unsigned char)*s);
            s++;
        }
        if (s == b)
            return false;
        if (pre && numeric && *b == '0' && s - b > 1)
            return false;
        if (*s != '.')
            break;
        s++;
    }
    *p = s;
    return true;
}

bool sl_flags_parse_semver(const char *s, struct semver *out)
{
    struct semver v = {0};
    const char *p = s;
    if (!sv_num(&p, &v.major) || *p++ != '.' || !sv_num(&p, &v.minor) || *p++ != '.' ||
        !sv_num(&p, &v.patch))
        return false;
    if (*p == '-') {
        const char *b = ++p;
        if (!sv_idents(&p, true))
            return false;
        v.pre = b;
        v.pre_len = (size_t)(p - b);
    }
    if (*p == '+') {
        p++;
        if (!sv_idents(&p, false))
            return false;
    }
    if (*p)
        return false;
    *out = v;
    return true;
}

static int cmp_u64(uint64_t a, uint64_t b)
{
    return a < b ? -1 : a > b;
}

/* Precedence of semver.org §11: a release ranks above its pre-releases; identifiers
 * compare numerically when both are numeric, numeric ones rank lower, otherwise ASCII. */
int sl_flags_semver_cmp(const struct semver *a, const struct semver *b)
{
    int c;
    if ((c = cmp_u64(a->major, b->major)) || (c = cmp_u64(a->minor, b->minor)) ||
        (c = cmp_u64(a->patch, b->patch)))
        return c;
    if (!a->pre || !b->pre)
        return a->pre ? -1 : b->pre ? 1 : 0;
    const char *pa = a->pre, *ea = a->pre + a->pre_len, *pb = b->pre, *eb = b->pre + b->pre_len;
    for (;;) {
        if (pa >= ea || pb >= eb) /* the one with fewer identifiers ranks lower */
            return pa >= ea && pb >= eb ? 0 : pa >= ea ? -1 : 1;
        const char *qa = memchr(pa, '.', (size_t)(ea - pa)),
                   *qb = memchr(pb, '.', (size_t)(eb - pb));
        if (!qa)
            qa = ea;
        if (!qb)
            qb = eb;
        size_t la = (size_t)(qa - pa), lb = (size_t)(qb - pb);
        bool na = true, nb = true;
        for (size_t i = 0; i < la; i++)
            na = na && isdigit((unsigned char)pa[i]);
        for (size_t i = 0; i < lb; i++)
            nb = nb && isdigit((unsigned char)pb[i]);
        if (na && nb) {
            if (la != lb)
                return la < lb ? -1 : 1;
            if ((c = memcmp(pa, pb, la)))
                return c < 0 ? -1 : 1;
        } else if (na != nb) {
            return na ? -1 : 1;
        } else {
            if ((c = memcmp(pa, pb, SL_MIN(la, lb))))
                return c < 0 ? -1 : 1;
            if (la != lb)
                return la < lb ? -1 : 1;
        }
        pa = qa < ea ? qa + 1 : ea;
        pb = qb < eb ? qb + 1 : eb;
    }
}

bool sl_flags_parse_ip(const char *s, uint8_t out[16])
{
    struct in_addr a4;
    if (inet_pton(AF_INET, s, &a4) == 1) {
        memset(out, 0, 10);
        out[10] = out[11] = 0xff;
        memcpy(out + 12, &a4, 4);
        return true;
    }
    return inet_pton(AF_INET6, s, out) == 1;
}

/* "ADDR" (a single address) or "ADDR/BITS". */
bool sl_flags_parse_cidr(const char *s, struct cidr *out)
{
    char buf[64];
    const char *slash = strchr(s, '/');
    size_t n = slash ? (size_t)(slash - s) : strlen(s);
    if (n >= sizeof buf)
        return false;
    memcpy(buf, s, n);
    buf[n] = '\0';
    struct cidr c;
    if (!sl_flags_parse_ip(buf, c.addr))
        return false;
    bool v4 = strchr(buf, ':') == NULL;
    unsigned max = v4 ? 32 : 128;
    c.bits = 128;
    if (slash) {
        const char *p = slash + 1;
        unsigned long b = 0;
        if (!*p || strlen(p) > 3)
            return false;
        for (; *p; p++) {
            if (!isdigit((unsigned char)*p))
                return false;
            b = b * 10 + (unsigned long)(*p - '0');
        }
        if (b > max)
            return false;
        c.bits = (unsigned)b + (v4 ? 96 : 0);
    }
    *out = c;
    return true;
}

bool sl_flags_cidr_contains(const struct cidr *c, const uint8_t ip[16])
{
    unsigned full = c->bits / 8, rest = c->bits % 8;
    if (memcmp(c->addr, ip, full) != 0)
        return false;
    if (rest == 0)
        return true;
    uint8_t mask = (uint8_t)(0xff << (8 - rest));
    return (c->addr[full] & mask) == (ip[full] & mask);
}
