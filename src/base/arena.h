/* arena.h: a bump allocator for data that lives and dies together (a parsed configuration,
 * one HTTP request). Allocations are 16-byte aligned and never freed one by one;
 * sl_arena_release frees them all. Aborts on out-of-memory like sl_xmalloc. */
#ifndef SL_ARENA_H
#define SL_ARENA_H

#include "base/compat.h"

struct sl_arena_chunk;

struct sl_arena {
    struct sl_arena_chunk *head;
    size_t used;  /* bytes used in head */
    size_t total; /* bytes handed out, for limits and statistics */
};

#define SL_ARENA_INIT                                                                              \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }

void *sl_arena_alloc(struct sl_arena *a, size_t n); /* zeroed */
char *sl_arena_strdup(struct sl_arena *a, const char *s);
char *sl_arena_strndup(struct sl_arena *a, const char *s, size_t n);
char *sl_arena_printf(struct sl_arena *a, const char *fmt, ...) SL_PRINTF(2, 3);
void sl_arena_release(struct sl_arena *a);

#endif
