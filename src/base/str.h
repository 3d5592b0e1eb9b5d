/* str.h: a growable, always NUL-terminated byte buffer (git's strbuf).
 *
 *   struct sl_str s = SL_STR_INIT;
 *   sl_str_addf(&s, "%d jobs", n);
 *   puts(s.buf);
 *   sl_str_release(&s);
 *
 * `buf` is never NULL (an empty string points at a static ""), `len` excludes the NUL. */
#ifndef SL_STR_H
#define SL_STR_H

#include "base/compat.h"

struct sl_str {
    char *buf;
    size_t len;
    size_t cap;
};

extern char sl_str_empty[];
#define SL_STR_INIT                                                                                \
    {                                                                                              \
        sl_str_empty, 0, 0                                                                         \
    }

void sl_str_init(struct sl_str *s);
/* Frees the buffer and resets S to empty. */
void sl_str_release(struct sl_str *s);
void sl_str_reset(struct sl_str *s);
/* The largest a buffer may grow (4 GiB): beyond it sl_str_grow aborts as on an allocation
 * failure, never wraps. Buffers fed from outside have their own, far smaller, caps at the
 * point of reading (HTTP bodies, YAML files, log lines). */
#define SL_STR_MAX ((size_t)1 << 32)
void sl_str_grow(struct sl_str *s, size_t extra);
void sl_str_add(struct sl_str *s, const void *data, size_t n);
void sl_str_adds(struct sl_str *s, const char *cstr);
void sl_str_addc(struct sl_str *s, char c);
void sl_str_addf(struct sl_str *s, const char *fmt, ...) SL_PRINTF(2, 3);
void sl_str_vaddf(struct sl_str *s, const char *fmt, va_list ap) SL_PRINTF(2, 0);
void sl_str_truncate(struct sl_str *s, size_t len);
/* Returns the buffer (caller frees) and resets S. Never NULL. */
char *sl_str_detach(struct sl_str *s);
/* S as a base-10 integer for input already checked to be one (a YAML int, a status
 * line): leading blanks and sign as strtoll, stops at the first non-digit, saturates at
 * LLONG_MIN/LLONG_MAX instead of atoi's undefined behaviour; 0 when S has no digits. */
long long sl_parse_ll(const char *s);
/* The same, clamped to [LO, HI] (so `(int)sl_parse_clamp(s, 0, INT_MAX)` is safe). */
long long sl_parse_clamp(const char *s, long long lo, long long hi);
/* Appends C with JSON string escaping (no surrounding quotes). */
void sl_str_add_json_escaped(struct sl_str *s, const char *c);

#endif
