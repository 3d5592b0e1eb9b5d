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

struct unit {
    const char *name;
    double seconds;
};

static const struct unit units[] = {
    {"s", 1},           {"sec", 1},          {"secs", 1},         {"second", 1},
    {"seconds", 1},     {"m", 60},           {"min", 60},         {"mins", 60},
    {"minute", 60},     {"minutes", 60},     {"h", 3600},         {"hr", 3600},
    {"hrs", 3600},      {"hour", 3600},      {"hours", 3600},     {"d", 86400},
    {"day", 86400},     {"days", 86400},     {"w", 604800},       {"wk", 604800},
    {"wks", 604800},    {"week", 604800},    {"weeks", 604800},   {"mo", 2592000},
    {"month", 2592000}, {"months", 2592000}, {"y", 31536000},     {"yr", 31536000},
    {"yrs", 31536000},  {"year", 31536000},  {"years", 31536000},
};

int sl_time_parse_duration(const char *s, int64_t *out)
{
    double total = 0;
    bool any = false;
    const char *p = s;

    while (*p) {
        while (isspace((unsigned char)*p) || *p == ',')
            p++;
        if (!*p)
            break;
        if (!strncmp(p, "and", 3) && (isspace((unsigned char)p[3]) || !p[3])) {
            p += 3;
            continue;
        }
        if (!isdigit((unsigned char)*p) && *p != '.')
            return SL_EINVAL;
        char *end;
        double v = strtod(p, &end);
        if (end == p)
            return SL_EINVAL;
        p = end;
        while (isspace((unsigned char)*p))
            p++;
        const char *u = p;
        while (isalpha((unsigned char)*p))
            p++;
        size_t ulen = (size_t)(p - u);
        double mult = 1;
        if (ulen) {
            bool found = false;
            for (size_t i = 0; i < SL_ARRAY_LEN(units); i++) {
                if (strlen(units[i].name) == ulen && !strncasecmp(units[i].name, u, ulen)) {
                    mult = units[i].seconds;
                    found = true;
                    break;
                }
            }
            if (!found)
                return SL_EINVAL;
        }
        total += v * mult;
        any = true;
    }
    if (!any || total < 0 || total > 1e15)
        return SL_EINVAL;
    *out = (int64_t)total;
    return 0;
}
