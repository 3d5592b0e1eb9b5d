#include "base/compat.h"
#include "base/time.h"
#include "base/error.h"

#include <ctype.h>
#include <time.h>

int64_t sl_time_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t sl_time_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void sl_time_iso8601(int64_t ms, char *buf, size_t size)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int sl_time_parse_iso8601(const char *s, int64_t *ms)
{
    struct tm tm = {0};
    int n = 0;
    if (!s || sscanf(s, "%4d-%2d-%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &n) != 3 || n != 10)
        return SL_EINVAL;
    const char *p = s + n;
    int64_t frac_ms = 0;
    if (*p == 'T') {
        int m = 0;
        if (sscanf(p + 1, "%2d:%2d:%2d%n", &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &m) != 3 || m != 8)
            return SL_EINVAL;
        p += 1 + m;
        if (*p == '.') {
            int64_t scale = 100;
            for (p++; *p >= '0' && *p <= '9'; p++, scale /= 10)
                frac_ms += (*p - '0') * scale;
        }
        if (*p == 'Z')
            p++;
        else if (!strcmp(p, "+00:00"))
            p += 6;
        else
            return SL_EINVAL;
    }
    if (*p || tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 ||
        tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60 || tm.tm_year < 1970)
        return SL_EINVAL;
    int mday = tm.tm_mday;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    time_t t = timegm(&tm);
    if (t == (time_t)-1 || tm.tm_mday != mday) /* 2026-02-30 is not a date */
        return SL_EINVAL;
    *ms = (int64_t)t * 1000 + frac_ms;
    return 0;
}

/* ChronicDuration's words (GitLab vendors gitlab-chronic-duration 0.12 and sets
 * raise_exceptions, so any other word makes the value "not a duration"). Months are 30
 * days, weeks 7, years 365.25 days. */
struct unit {
    const char *name;
    double seconds;
};
static const struct unit units[] = {
    {"s", 1},          {"sec", 1},         {"secs", 1},         {"second", 1},     {"seconds", 1},
    {"m", 60},         {"min", 60},        {"mins", 60},        {"minute", 60},    {"minutes", 60},
    {"h", 3600},       {"hr", 3600},       {"hrs", 3600},       {"hour", 3600},    {"hours", 3600},
    {"d", 86400},      {"dy", 86400},      {"day", 86400},      {"days", 86400},   {"w", 604800},
    {"wk", 604800},    {"wks", 604800},    {"week", 604800},    {"weeks", 604800}, {"mo", 2592000},
    {"mos", 2592000},  {"month", 2592000}, {"months", 2592000}, {"y", 31557600},   {"yr", 31557600},
    {"yrs", 31557600}, {"year", 31557600}, {"years", 31557600},
};

/* ChronicDuration's float_matcher /[0-9]*\.?[0-9]+/ at P: the length matched, 0 if none. */
static size_t number_len(const char *p)
{
    size_t n = 0;
    while (isdigit((unsigned char)p[n]))
        n++;
    if (p[n] == '.' && isdigit((unsigned char)p[n + 1])) {
        n++;
        while (isdigit((unsigned char)p[n]))
            n++;
    }
    return n;
}

/* "4:01:01" (ChronicDuration's time_matcher ^[0-9]+:[0-9]+(:[0-9]+){0,4}(\.[0-9]*)?$ on the
 * string without spaces) reads right to left as seconds, minutes, hours, days, months,
 * years: rewrites it so into OUT (of SIZE bytes). False when S is not of that form. */
static bool rewrite_clock(const char *s, char *out, size_t size)
{
    static const char *const names[] = {"seconds", "minutes", "hours", "days", "months", "years"};
    char flat[256];
    size_t n = 0;
    for (; *s; s++)
        if (*s != ' ') {
            if (n + 1 >= sizeof(flat))
                return false;
            flat[n++] = *s;
        }
    flat[n] = 0;
    const char *parts[6];
    size_t lens[6], np = 0;
    const char *p = flat;
    for (;;) {
        const char *b = p;
        while (isdigit((unsigned char)*p))
            p++;
        if (p == b || np == 6)
            return false;
        parts[np] = b;
        lens[np] = (size_t)(p - b);
        np++;
        if (*p == ':') {
            p++;
            continue;
        }
        if (*p == '.') { /* a fraction only on the last part */
            p++;
            while (isdigit((unsigned char)*p))
                p++;
            lens[np - 1] = (size_t)(p - parts[np - 1]);
        }
        break;
    }
    if (*p || np < 2)
        return false;
    size_t o = 0;
    for (size_t i = 0; i < np; i++) {
        int w = snprintf(out + o, size - o, "%.*s %s ", (int)lens[i], parts[i], names[np - 1 - i]);
        if (w < 0 || (size_t)w >= size - o)
            return false;
        o += (size_t)w;
    }
    return true;
}

enum { TOK_NUM, TOK_UNIT };
struct tok {
    int kind;
    double v; /* the number, or the unit's seconds */
};

int sl_time_parse_duration(const char *s, int64_t *out)
{
    char low[256], clock[320];
    size_t n = strlen(s);
    if (n >= sizeof(low))
        return SL_EINVAL;
    for (size_t i = 0; i <= n; i++)
        low[i] = (char)tolower((unsigned char)s[i]);
    const char *p = rewrite_clock(low, clock, sizeof(clock)) ? clock : low;

    /* numbers are words of their own; the rest splits at white space */
    struct tok toks[128];
    size_t nt = 0;
    while (*p) {
        size_t len = number_len(p);
        if (len) {
            if (nt == SL_ARRAY_LEN(toks))
                return SL_EINVAL;
            toks[nt].kind = TOK_NUM;
            toks[nt++].v = strtod(p, NULL);
            p += len;
            continue;
        }
        if (isspace((unsigned char)*p)) {
            p++;
            continue;
        }
        const char *w = p;
        while (*p && !isspace((unsigned char)*p) && !number_len(p))
            p++;
        size_t wl = (size_t)(p - w);
        if (wl && w[0] == ',') /* one comma either side of a word is dropped */
            w++, wl--;
        if (wl && w[wl - 1] == ',')
            wl--;
        if ((wl == 3 && !strncmp(w, "and", 3)) ||
            (wl == 4 && (!strncmp(w, "with", 4) || !strncmp(w, "plus", 4))))
            continue;
        bool found = false;
        for (size_t i = 0; i < SL_ARRAY_LEN(units) && !found; i++)
            if (strlen(units[i].name) == wl && !strncmp(units[i].name, w, wl)) {
                if (nt == SL_ARRAY_LEN(toks))
                    return SL_EINVAL;
                toks[nt].kind = TOK_UNIT;
                toks[nt++].v = units[i].seconds;
                found = true;
            }
        if (!found)
            return SL_EINVAL; /* an invalid word (an empty one, as for a lone ",", too) */
    }
    /* a leading unit counts once ("day", "minute 30sec"); a number before another number
     * counts nothing; a last number without a unit is seconds */
    double total = nt && toks[0].kind == TOK_UNIT ? toks[0].v : 0;
    for (size_t i = 0; i < nt; i++) {
        if (toks[i].kind != TOK_NUM)
            continue;
        double mult = i + 1 == nt ? 1 : toks[i + 1].kind == TOK_UNIT ? toks[i + 1].v : 0;
        total += toks[i].v * mult;
    }
    if (!(total > 0) || total > 1e15)
        return SL_EINVAL; /* ChronicDuration's 0 is nil: not a duration */
    *out = (int64_t)total;
    return 0;
}

void sl_time_format_go(int64_t ms, char *buf, size_t size)
{
    if (ms < 0)
        ms = 0;
    if (ms == 0) {
        snprintf(buf, size, "0s");
        return;
    }
    if (ms < 1000) {
        snprintf(buf, size, "%lldms", (long long)ms);
        return;
    }
    long long h = ms / 3600000, m = ms / 60000 % 60, s = ms / 1000 % 60, frac = ms % 1000;
    char sec[32];
    if (frac) {
        snprintf(sec, sizeof(sec), "%lld.%03lld", s, frac);
        size_t n = strlen(sec);
        while (sec[n - 1] == '0') /* Go trims the fraction's trailing zeros */
            sec[--n] = 0;
    } else {
        snprintf(sec, sizeof(sec), "%lld", s);
    }
    if (h)
        snprintf(buf, size, "%lldh%lldm%ss", h, m, sec);
    else if (m)
        snprintf(buf, size, "%lldm%ss", m, sec);
    else
        snprintf(buf, size, "%ss", sec);
}
