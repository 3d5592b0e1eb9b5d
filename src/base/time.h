/* time.h: clocks and GitLab-style durations. */
#ifndef SL_TIME_H
#define SL_TIME_H

#include "base/compat.h"

/* Monotonic clock in nanoseconds (for measuring). */
int64_t sl_time_mono_ns(void);
/* Wall clock in milliseconds since the epoch (for recording). */
int64_t sl_time_now_ms(void);
/* ISO 8601 UTC ("2026-11-23T06:46:19Z") of MS into BUF (at least 32 bytes). */
void sl_time_iso8601(int64_t ms, char *buf, size_t size);
/* Parses an ISO 8601 UTC time as APIs send it: "2026-12-31" (midnight UTC, as GitLab reads a
 * token's expires_at), "2026-12-31T08:00:00Z" or with fractional seconds; an offset other
 * than Z or +00:00 is refused. *MS gets milliseconds since the epoch; 0 or SL_EINVAL. */
int sl_time_parse_iso8601(const char *s, int64_t *ms);
/* Parses a human duration as GitLab's ChronicDuration (0.12, raise_exceptions) reads it:
 * "3h 30m", "1 hour", "90 minutes", "2 dy", "3 mos", "2 hrs and 5 mins", "1 week", "day",
 * "4:01:01" (h:m:s), "30" (seconds), "1.5h"; case-insensitive; 0 is not a duration. Returns the
 * seconds in *out, 0 on success or SL_EINVAL. "never" is not a duration (callers handle it). */
int sl_time_parse_duration(const char *s, int64_t *out);
/* MS as Go prints a time.Duration ("1h0m0s", "5m30s", "1.5s", "200ms"), which is how
 * GitLab Runner words a timeout: "execution took longer than 1h0m0s seconds". */
void sl_time_format_go(int64_t ms, char *buf, size_t size);

#endif
