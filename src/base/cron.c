/* cron.c: cron expressions and zoneinfo offsets (cron.h). */
#include "base/compat.h"
#include "base/alloc.h"
#include "base/cron.h"
#include "base/fs.h"

#include <ctype.h>
#include <strings.h>
#include <time.h>

/* --- expressions ------------------------------------------------------------------- */

struct field {
    const char *name;
    int lo, hi;
    const char *const *names; /* NULL or names for lo.. */
};

static const char *const months[] = {"jan", "feb", "mar", "apr", "may", "jun", "jul",
                                     "aug", "sep", "oct", "nov", "dec", NULL};
static const char *const days[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat", NULL};

static const struct field fields[5] = {
    {"minute", 0, 59, NULL},  {"hour", 0, 23, NULL},       {"day of month", 1, 31, NULL},
    {"month", 1, 12, months}, {"day of week", 0, 7, days},
};

/* A value of field F at *P (a number or a name), advancing *P; -1 when none. */
static int value(const struct field *f, const char **p)
{
    if (isdigit((unsigned char)**p)) {
        int v = 0;
        while (isdigit((unsigned char)**p) && v < 1000)
            v = v * 10 + (*(*p)++ - '0');
        return v;
    }
    for (size_t i = 0; f->names && f->names[i]; i++)
        if (!strncasecmp(*p, f->names[i], 3) && !isalpha((unsigned char)(*p)[3])) {
            *p += 3;
            return f->lo + (int)i;
        }
    return -1;
}

/* Parses one field's text [S, END) into the bit set *BITS. */
static int parse_field(const struct field *f, const char *s, const char *end, uint64_t *bits,
                       bool *any)
{
    *bits = 0;
    *any = end - s == 1 && *s == '*';
    while (s < end) {
        const char *comma = memchr(s, ',', (size_t)(end - s));
        const char *item_end = comma ? comma : end;
        int lo = f->lo, hi = f->hi, step = 1;
        bool single = false; /* one value, no range: "5/15" runs from 5 to the end */
        const char *p = s;
        if (*p == '*') {
            p++;
        } else {
            if ((lo = value(f, &p)) < 0)
                return -1;
            hi = lo;
            single = true;
            if (p < item_end && *p == '-') {
                p++;
                single = false;
                if ((hi = value(f, &p)) < 0)
                    return -1;
            }
        }
        if (p < item_end && *p == '/') {
            p++;
            const char *q = p;
            if ((step = value(&fields[0], &q)) <= 0)
                return -1;
            if (single)
                hi = f->hi;
            p = q;
        }
        if (p != item_end || lo < f->lo || hi > f->hi || lo > hi)
            return -1;
        for (int v = lo; v <= hi; v += step)
            *bits |= UINT64_C(1) << v;
        s = comma ? comma + 1 : end;
        if (comma && s == end)
            return -1;
    }
    return 0;
}

int sl_cron_parse(struct sl_cron *out, const char *expr, struct sl_error *err)
{
    uint64_t bits[5];
    bool any[5];
    const char *p = expr ? expr : "";
    size_t n = 0;
    while (n < 5) {
        while (*p == ' ' || *p == '\t')
            p++;
        const char *start = p;
        while (*p && *p != ' ' && *p != '\t')
            p++;
        if (p == start)
            break;
        if (parse_field(&fields[n], start, p, &bits[n], &any[n]) < 0)
            return sl_error_set(err, SL_EINVAL, "cron '%s': the %s field '%.*s' is not valid", expr,
                                fields[n].name, (int)(p - start), start);
        n++;
    }
    while (*p == ' ' || *p == '\t')
        p++;
    if (n != 5 || *p)
        return sl_error_set(err, SL_EINVAL,
                            "cron '%s' must have five fields: minute hour day-of-month month "
                            "day-of-week",
                            expr ? expr : "");
    if (bits[4] & (UINT64_C(1) << 7))
        bits[4] |= 1; /* 7 is Sunday too */
    out->minute = bits[0];
    out->hour = (uint32_t)bits[1];
    out->dom = (uint32_t)bits[2];
    out->month = (uint16_t)bits[3];
    out->dow = (uint8_t)(bits[4] & 0x7f);
    out->dom_any = any[2];
    out->dow_any = any[4];
    return 0;
}

static bool day_matches(const struct sl_cron *c, const struct tm *t)
{
    if (!(c->month & (1u << (t->tm_mon + 1))))
        return false;
    bool dom = c->dom & (1u << t->tm_mday), dow = c->dow & (1u << t->tm_wday);
    if (c->dom_any || c->dow_any)
        return dom && dow;
    return dom || dow;
}

/* --- zones --------------------------------------------------------------------------- */

struct sl_tz {
    size_t n;
    int64_t *at;     /* transition times, ascending */
    int32_t *offset; /* the offset from each transition on */
    int32_t initial; /* before the first */
};

static bool zone_name_ok(const char *n)
{
    if (!*n || *n == '/' || strstr(n, "..") || strlen(n) > 100)
        return false;
    for (; *n; n++)
        if (!(isalnum((unsigned char)*n) || strchr("/_+-", *n)))
            return false;
    return true;
}

static int64_t be(const unsigned char *p, int bytes)
{
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++)
        v = v << 8 | p[i];
    return bytes == 4 ? (int64_t)(int32_t)(uint32_t)v : (int64_t)v;
}

int sl_tz_load(struct sl_tz **out, const char *name, struct sl_error *err)
{
    struct sl_tz *tz = sl_xcalloc(1, sizeof(*tz));
    if (!strcmp(name, "UTC") || !strcmp(name, "Etc/UTC")) {
        *out = tz;
        return 0;
    }
    if (!zone_name_ok(name)) {
        free(tz);
        return sl_error_set(err, SL_EINVAL, "'%s' is not a time zone name", name);
    }
    char *path = sl_xasprintf("/usr/share/zoneinfo/%s", name), *buf = NULL;
    size_t len = 0;
    int rc = sl_fs_read_file(path, 1 << 20, &buf, &len, NULL);
    free(path);
    if (rc < 0) {
        free(tz);
        return sl_error_set(err, SL_ENOENT, "unknown time zone '%s'", name);
    }
    const unsigned char *p = (const unsigned char *)buf, *end = p + len;
    rc = SL_EINVAL;
    /* the version 1 block (32-bit times), then for version 2+ the same with 64-bit times */
    for (int pass = 0; pass < 2; pass++) {
        if (end - p < 44 || memcmp(p, "TZif", 4))
            goto out;
        int ver = p[4];
        int64_t isut = be(p + 20, 4), isstd = be(p + 24, 4), leap = be(p + 28, 4),
                timecnt = be(p + 32, 4), typecnt = be(p + 36, 4), charcnt = be(p + 40, 4);
        int tb = pass == 0 ? 4 : 8;
        if (isut < 0 || isstd < 0 || leap < 0 || timecnt < 0 || timecnt > 100000 || typecnt <= 0 ||
            typecnt > 256 || charcnt < 0)
            goto out;
        int64_t size =
            timecnt * tb + timecnt + typecnt * 6 + charcnt + leap * (tb + 4) + isstd + isut;
        p += 44;
        if (end - p < size)
            goto out;
        if (pass == 0 && ver >= '2') {
            p += size;
            continue;
        }
        const unsigned char *times = p, *idx = p + timecnt * tb, *types = idx + timecnt;
        tz->n = (size_t)timecnt;
        tz->at = sl_xcalloc(tz->n + 1, sizeof(*tz->at));
        tz->offset = sl_xcalloc(tz->n + 1, sizeof(*tz->offset));
        for (int64_t i = 0; i < timecnt; i++) {
            if (idx[i] >= typecnt)
                goto out;
            tz->at[i] = be(times + i * tb, tb);
            tz->offset[i] = (int32_t)be(types + idx[i] * 6, 4);
        }
        tz->initial = (int32_t)be(types, 4);
        rc = 0;
        break;
    }
out:
    free(buf);
    if (rc < 0) {
        sl_tz_free(tz);
        return sl_error_set(err, SL_EINVAL, "the zoneinfo file of '%s' is not TZif", name);
    }
    *out = tz;
    return 0;
}

void sl_tz_free(struct sl_tz *tz)
{
    if (!tz)
        return;
    free(tz->at);
    free(tz->offset);
    free(tz);
}

int32_t sl_tz_offset(const struct sl_tz *tz, int64_t t)
{
    if (!tz || tz->n == 0 || t < tz->at[0])
        return tz ? tz->initial : 0;
    size_t lo = 0, hi = tz->n; /* the last transition at or before T */
    while (hi - lo > 1) {
        size_t mid = (lo + hi) / 2;
        if (tz->at[mid] <= t)
            lo = mid;
        else
            hi = mid;
    }
    return tz->offset[lo];
}

/* --- occurrences ------------------------------------------------------------------- */

#define SEARCH_DAYS (5 * 366) /* "0 0 29 2 *" happens once in four years */

/* Walks wall-clock minutes from T's local time in direction DIR (-1 or +1), skipping days
 * and hours that cannot match. */
static int64_t walk(const struct sl_cron *c, const struct sl_tz *tz, int64_t t, int dir)
{
    int64_t local = t + sl_tz_offset(tz, t);
    local -= ((local % 60) + 60) % 60; /* whole minutes */
    if (dir > 0 && local < t + sl_tz_offset(tz, t))
        local += 60;
    int64_t limit = local + dir * (int64_t)SEARCH_DAYS * 86400;
    while (dir < 0 ? local >= limit : local <= limit) {
        time_t tt = (time_t)local;
        struct tm tm;
        gmtime_r(&tt, &tm);
        if (!day_matches(c, &tm)) {
            int64_t midnight = local - (tm.tm_hour * 3600 + tm.tm_min * 60);
            local = dir < 0 ? midnight - 60 : midnight + 86400;
            continue;
        }
        if (!(c->hour & (1u << tm.tm_hour))) {
            int64_t hour = local - tm.tm_min * 60;
            local = dir < 0 ? hour - 60 : hour + 3600;
            continue;
        }
        if (!(c->minute & (UINT64_C(1) << tm.tm_min))) {
            local += dir * 60;
            continue;
        }
        /* back to UTC with the offset in force then */
        int64_t utc = local - sl_tz_offset(tz, local - sl_tz_offset(tz, local));
        return utc;
    }
    return -1;
}

int64_t sl_cron_prev(const struct sl_cron *c, const struct sl_tz *tz, int64_t t)
{
    return walk(c, tz, t, -1);
}

int64_t sl_cron_next(const struct sl_cron *c, const struct sl_tz *tz, int64_t t)
{
    return walk(c, tz, t, +1);
}
