/* lru.h: a small bounded cache of string-keyed values; when it is full, the least recently
 * used entry makes room.
 *
 * For caches of a few dozen to a few hundred entries (prepared statements per store
 * connection, compiled snapshots): the table is allocated once at init, a lookup scans it
 * comparing 64-bit hashes (FNV-1a) and compares texts only where they match, so there is no
 * index to keep up and nothing is allocated per lookup. Not for large or unbounded sets.
 *
 * The cache copies keys and owns the copies. Values are owned by the cache from sl_lru_put
 * on: it hands each one to FREE_VALUE (with ARG) when it is replaced, evicted or at
 * sl_lru_release; FREE_VALUE may be NULL (values the caller frees otherwise). Values are
 * never NULL. Not thread-safe: the caller holds its own lock where threads share one. */
#ifndef SL_LRU_H
#define SL_LRU_H

#include "base/compat.h"

typedef void sl_lru_free_fn(void *value, void *arg);

struct sl_lru_entry {
    char *key; /* NULL: the entry is free */
    uint64_t hash;
    void *value;
    uint64_t used; /* the cache's clock when last put or got */
};

struct sl_lru {
    struct sl_lru_entry *e;
    size_t cap, n;
    uint64_t clock;
    sl_lru_free_fn *free_value;
    void *arg;
};

/* A cache of at most CAP (> 0) entries. */
void sl_lru_init(struct sl_lru *c, size_t cap, sl_lru_free_fn *free_value, void *arg);
/* Frees every value (FREE_VALUE) and key, and the table. Safe on a zeroed struct. */
void sl_lru_release(struct sl_lru *c);
/* KEY's value (borrowed; it stays the cache's), marked as just used; NULL when absent. */
void *sl_lru_get(struct sl_lru *c, const char *key);
/* Stores VALUE (not NULL) for KEY: in place of KEY's old value (which is freed), else in a
 * free entry, else in that of the least recently used one (which is freed). */
void sl_lru_put(struct sl_lru *c, const char *key, void *value);

#endif
