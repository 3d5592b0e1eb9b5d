/* cron.h: five-field cron expressions and time zones, as GitLab's deploy freezes read them
 * (Gitlab::Ci::CronParser over Fugit: "0 23 * * 5" in "Europe/Berlin").
 *
 * Fields: minute (0-59), hour (0-23), day of month (1-31), month (1-12 or jan-dec), day
 * of week (0-7 or sun-sat, 0 and 7 are Sunday); each `*`, a value, a range `a-b`, a step
 * `*` `/n` or `a-b/n`, or a comma list of those. When both day fields are restricted a day
 * matching either one matches, as in Vixie cron.
 *
 * Time zones are the system's zoneinfo files (TZif, /usr/share/zoneinfo/NAME); "UTC" and
 * "Etc/UTC" need none. Offsets come from the file's transitions, which Debian's tzdata
 * carries through 2037; later instants keep the last transition's offset. */
#ifndef SL_CRON_H
#define SL_CRON_H

#include "base/compat.h"
#include "base/error.h"

struct sl_cron {
    uint64_t minute;
    uint32_t hour, dom;
    uint16_t month;
    uint8_t dow;
    bool dom_any, dow_any; /* the field was `*` */
};

/* Parses EXPR into *OUT. SL_EINVAL naming the field that is wrong. */
int sl_cron_parse(struct sl_cron *out, const char *expr, struct sl_error *err);

struct sl_tz;
/* Loads time zone NAME (an IANA name such as "Europe/Berlin"). SL_EINVAL for a name that
 * is not one, SL_ENOENT when the system has no such zone. Free with sl_tz_free. */
int sl_tz_load(struct sl_tz **out, const char *name, struct sl_error *err);
void sl_tz_free(struct sl_tz *tz);
/* The zone's offset from UTC, in seconds, at UTC instant T (seconds since the epoch). */
int32_t sl_tz_offset(const struct sl_tz *tz, int64_t t);

/* The latest minute at or before T (UTC seconds) whose wall-clock time in TZ matches C,
 * or the earliest at or after T for sl_cron_next; -1 when none within five years. */
int64_t sl_cron_prev(const struct sl_cron *c, const struct sl_tz *tz, int64_t t);
int64_t sl_cron_next(const struct sl_cron *c, const struct sl_tz *tz, int64_t t);

#endif
