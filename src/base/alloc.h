/* alloc.h: allocation that never returns NULL.
 *
 * Every allocation in sluice goes through these; on out-of-memory they print one line and
 * abort, so callers never check for NULL (git's xmalloc convention). */
#ifndef SL_ALLOC_H
#define SL_ALLOC_H

#include "base/compat.h"

void *sl_xmalloc(size_t n);
void *sl_xcalloc(size_t count, size_t size);
void *sl_xrealloc(void *p, size_t n);
/* Grows *P (an array of *CAP elements of SIZE bytes) to hold at least NEED elements. */
void sl_xgrow(void **p, size_t *cap, size_t need, size_t size);
char *sl_xstrdup(const char *s);
char *sl_xstrndup(const char *s, size_t n);
/* N bytes of zeros mapped on their own (mmap), for a big fixed table most of which an idle
 * process never touches: its pages take no memory until written, where calloc may clear
 * (and so make resident) reused heap memory. Freed with sl_xunmap(P, N) only. */
void *sl_xmap_zeroed(size_t n);
void sl_xunmap(void *p, size_t n);
/* printf into a new string; caller frees. */
char *sl_xasprintf(const char *fmt, ...) SL_PRINTF(1, 2);
char *sl_xvasprintf(const char *fmt, va_list ap) SL_PRINTF(1, 0);

/* Typed convenience: SL_GROW(arr, cap, need) on `T *arr; size_t cap;`. */
#define SL_GROW(arr, cap, need) sl_xgrow((void **)&(arr), &(cap), (need), sizeof(*(arr)))

#endif
