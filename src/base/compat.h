/* compat.h: the first include of every sluice source file.
 *
 * Pulls in the libc pieces every room uses and a few portable helpers. Nothing here
 * allocates or does I/O. */
#ifndef SL_COMPAT_H
#define SL_COMPAT_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SL_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define SL_UNUSED __attribute__((unused))
#define SL_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define SL_NORETURN __attribute__((noreturn))
#define SL_MIN(a, b) ((a) < (b) ? (a) : (b))
#define SL_MAX(a, b) ((a) > (b) ? (a) : (b))

/* True when the two NUL-terminated strings are equal. */
static inline bool sl_streq(const char *a, const char *b)
{
    return strcmp(a, b) == 0;
}

/* True when S starts with PREFIX. */
static inline bool sl_starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* True when S ends with SUFFIX. */
static inline bool sl_ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && memcmp(s + n - m, suffix, m) == 0;
}

/* What the code must not call (base/banned.h); last, after the system headers above. */
#ifdef SL_BANNED
#include "base/banned.h"
#endif

#endif
