#include "base/compat.h"
#include "base/map.h"
#include "base/alloc.h"

static uint32_t hash_str(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 16777619u;
    }
    return h;
}

static struct sl_map_slot *find(const struct sl_map *m, const char *key, uint32_t h)
{
    size_t mask = m->cap - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        struct sl_map_slot *s = &m->slots[i];
        if (!s->key || (s->hash == h && !strcmp(s->key, key)))
            return s;
    }
}

static void rehash(struct sl_map *m, size_t cap)
{
    struct sl_map_slot *old = m->slots;
    size_t oldcap = m->cap;
    m->slots = sl_xcalloc(cap, sizeof(*m->slots));
    m->cap = cap;
    for (size_t i = 0; i < oldcap; i++) {
        if (!old[i].key)
            continue;
        *find(m, old[i].key, old[i].hash) = old[i];
    }
    free(old);
}

void *sl_map_put(struct sl_map *m, const char *key, void *value)
{
    if ((m->n + 1) * 4 >= m->cap * 3)
        rehash(m, m->cap ? m->cap * 2 : 16);
    uint32_t h = hash_str(key);
    struct sl_map_slot *s = find(m, key, h);
    if (s->key) {
        void *prev = s->value;
        s->value = value;
        return prev;
    }
    s->key = sl_xstrdup(key);
    s->hash = h;
    s->value = value;
    m->n++;
    return NULL;
}

void *sl_map_get(const struct sl_map *m, const char *key)
{
    if (!m->cap)
        return NULL;
    struct sl_map_slot *s = find(m, key, hash_str(key));
    return s->key ? s->value : NULL;
}

bool sl_map_has(const struct sl_map *m, const char *key)
{
    return m->cap && find(m, key, hash_str(key))->key != NULL;
}

void *sl_map_del(struct sl_map *m, const char *key)
{
    if (!m->cap)
        return NULL;
    struct sl_map_slot *s = find(m, key, hash_str(key));
    if (!s->key)
        return NULL;
    void *v = s->value;
    free(s->key);
    s->key = NULL;
    m->n--;
    /* re-insert the rest of the cluster so probing stays correct */
    size_t mask = m->cap - 1;
    for (size_t i = ((size_t)(s - m->slots) + 1) & mask; m->slots[i].key; i = (i + 1) & mask) {
        struct sl_map_slot tmp = m->slots[i];
        m->slots[i].key = NULL;
        *find(m, tmp.key, tmp.hash) = tmp;
    }
    return v;
}

bool sl_map_next(const struct sl_map *m, size_t *it, const char **key, void **value)
{
    for (; *it < m->cap; (*it)++) {
        if (m->slots[*it].key) {
            if (key)
                *key = m->slots[*it].key;
            if (value)
                *value = m->slots[*it].value;
            (*it)++;
            return true;
        }
    }
    return false;
}

void sl_map_release(struct sl_map *m)
{
    for (size_t i = 0; i < m->cap; i++)
        free(m->slots[i].key);
    free(m->slots);
    m->slots = NULL;
    m->cap = m->n = 0;
}
