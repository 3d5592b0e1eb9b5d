#include "base/compat.h"
#include "base/arena.h"
#include "base/alloc.h"

struct sl_arena_chunk {
    struct sl_arena_chunk *next;
    size_t size;
    _Alignas(16) unsigned char data[];
};

enum { CHUNK = 64 * 1024 };

void *sl_arena_alloc(struct sl_arena *a, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    if (!a->head || a->used + n > a->head->size) {
        size_t size = n > CHUNK / 4 ? n : CHUNK;
        struct sl_arena_chunk *c = sl_xmalloc(sizeof(*c) + size);
        c->size = size;
        if (a->head && n > CHUNK / 4) {
            /* a big block gets its own chunk behind the head, so the head keeps its room */
            c->next = a->head->next;
            a->head->next = c;
            a->total += n;
            return memset(c->data, 0, n);
        }
        c->next = a->head;
        a->head = c;
        a->used = 0;
    }
    void *p = a->head->data + a->used;
    a->used += n;
    a->total += n;
    return memset(p, 0, n);
}

char *sl_arena_strndup(struct sl_arena *a, const char *s, size_t n)
{
    char *p = sl_arena_alloc(a, n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *sl_arena_strdup(struct sl_arena *a, const char *s)
{
    return sl_arena_strndup(a, s, strlen(s));
}

char *sl_arena_printf(struct sl_arena *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *tmp = sl_xvasprintf(fmt, ap);
    va_end(ap);
    char *p = sl_arena_strdup(a, tmp);
    free(tmp);
    return p;
}

void sl_arena_release(struct sl_arena *a)
{
    struct sl_arena_chunk *c = a->head;
    while (c) {
        struct sl_arena_chunk *next = c->next;
        free(c);
        c = next;
    }
    a->head = NULL;
    a->used = a->total = 0;
}
