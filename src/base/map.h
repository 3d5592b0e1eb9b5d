/* map.h: a string-keyed hash map (open addressing, FNV-1a) to borrowed void pointers.
 *
 * The map copies keys and owns those copies; values are borrowed: the map never frees
 * them (walk it with sl_map_next to free them yourself before sl_map_release). Iteration
 * order is unspecified; keep a vector beside the map where order matters. */
#ifndef SL_MAP_H
#define SL_MAP_H

#include "base/compat.h"

struct sl_map_slot {
    char *key; /* NULL = empty */
    void *value;
    uint32_t hash;
};

struct sl_map {
    struct sl_map_slot *slots;
    size_t cap; /* power of two or 0 */
    size_t n;
};

#define SL_MAP_INIT                                                                                \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }

/* Inserts or replaces. Returns the previous value (or NULL). */
void *sl_map_put(struct sl_map *m, const char *key, void *value);
/* The value stored for KEY, or NULL. */
void *sl_map_get(const struct sl_map *m, const char *key);
bool sl_map_has(const struct sl_map *m, const char *key);
/* Removes KEY; returns its value or NULL. */
void *sl_map_del(struct sl_map *m, const char *key);
/* Iteration: `size_t it = 0; const char *k; void *v; while (sl_map_next(m, &it, &k, &v))`. */
bool sl_map_next(const struct sl_map *m, size_t *it, const char **key, void **value);
void sl_map_release(struct sl_map *m);

#endif
