/* diag.h: a list of diagnostics (errors and warnings) about input files.
 *
 * Used where one pass reports many problems at once (lint). Each item owns its strings;
 * sl_diag_release frees them all. Items keep insertion order; sl_diag_sort orders them by
 * file, line and column, which is how `sluice lint` prints them. */
#ifndef SL_DIAG_H
#define SL_DIAG_H

#include "base/compat.h"

enum sl_diag_level { SL_DIAG_ERROR, SL_DIAG_WARNING };

struct sl_diag_item {
    enum sl_diag_level level;
    char *file;    /* owned; may be NULL */
    int line;      /* 1-based; 0 when unknown */
    int column;    /* 1-based; 0 when unknown */
    char *message; /* owned */
    char *hint;    /* owned; NULL: none. What to do, e.g. "did you mean `script`?" */
};

struct sl_diag {
    struct sl_diag_item *items;
    size_t n, cap;
    size_t errors, warnings;
    size_t last; /* index of the item the last add made or found (for sl_diag_hint) */
};

#define SL_DIAG_INIT                                                                               \
    {                                                                                              \
        NULL, 0, 0, 0, 0, 0                                                                        \
    }

void sl_diag_add(struct sl_diag *d, enum sl_diag_level level, const char *file, int line,
                 int column, const char *fmt, ...) SL_PRINTF(6, 7);
void sl_diag_vadd(struct sl_diag *d, enum sl_diag_level level, const char *file, int line,
                  int column, const char *fmt, va_list ap) SL_PRINTF(6, 0);
/* Sets the hint of the item the last sl_diag_add made (or found already present), unless
 * it has one. No-op on an empty list. */
void sl_diag_hint(struct sl_diag *d, const char *fmt, ...) SL_PRINTF(2, 3);
/* Stable sort by level-independent position (file, line, column). */
void sl_diag_sort(struct sl_diag *d);
/* True when an identical item (level, position and message) is already present. */
bool sl_diag_has(const struct sl_diag *d, enum sl_diag_level level, const char *file, int line,
                 int column, const char *message);
void sl_diag_release(struct sl_diag *d);

#endif
