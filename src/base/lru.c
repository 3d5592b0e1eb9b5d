/* lru.c: the bounded least-recently-used cache of lru.h. */
#include "base/compat.h"
#include "base/alloc.h"
#include "base/lru.h"

/* FNV-1a: keys that share a long prefix (SQL naming a table's columns) differ only late, so
 * comparing every entry's text cost more than hashing the one looked up */
static uint64_t key_hash(const char *key)
{
    uint64_t h = 14695981039346656037ULL;
    for (const unsigned char *p = (const unsigned char *)key; *p; p++)
        h = (h ^ *p) * 1099511628211ULL;
    return h;
}

void sl_lru_init(struct sl_lru *c, size_t cap, sl_lru_free_fn *free_value, void *arg)
{
    c->e = sl_xcalloc(cap ? cap : 1, sizeof(*c->e));
    c->cap = cap ? cap : 1;
    c->n = 0;
    c->clock = 0;
    c->free_value = free_value;
    c->arg = arg;
}

static void drop(struct sl_lru *c, struct sl_lru_entry *e)
{
    if (c->free_value)
        c->free_value(e->value, c->arg);
    free(e->key);
    e->key = NULL;
    e->value = NULL;
    c->n--;
}

void sl_lru_release(struct sl_lru *c)
{
    if (!c->e)
        return;
    for (size_t i = 0; i < c->cap; i++)
        if (c->e[i].key)
            drop(c, &c->e[i]);
    free(c->e);
    c->e = NULL;
    c->cap = 0;
}

static struct sl_lru_entry *find(struct sl_lru *c, const char *key, uint64_t hash)
{
    for (size_t i = 0; i < c->cap; i++) {
        struct sl_lru_entry *e = &c->e[i];
        if (e->key && e->hash == hash && sl_streq(e->key, key))
            return e;
    }
    return NULL;
}

void *sl_lru_get(struct sl_lru *c, const char *key)
{
    struct sl_lru_entry *e = find(c, key, key_hash(key));
    if (!e)
        return NULL;
    e->used = ++c->clock;
    return e->value;
}

void sl_lru_put(struct sl_lru *c, const char *key, void *value)
{
    uint64_t hash = key_hash(key);
    struct sl_lru_entry *e = find(c, key, hash);

    if (e) {
        if (c->free_value && e->value != value)
            c->free_value(e->value, c->arg);
    } else {
        /* a free entry (used 0 and lowest), else the least recently used */
        e = &c->e[0];
        for (size_t i = 0; i < c->cap && e->key; i++)
            if (!c->e[i].key || c->e[i].used < e->used)
                e = &c->e[i];
        if (e->key)
            drop(c, e);
        e->key = sl_xstrdup(key);
        e->hash = hash;
        c->n++;
    }
    e->value = value;
    e->used = ++c->clock;
}
