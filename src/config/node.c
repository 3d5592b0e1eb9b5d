#include "base/compat.h"
#include "config/node.h"
#include "base/str.h"

struct sl_node *sl_node_new(struct sl_arena *a, enum sl_node_kind kind, struct sl_pos pos)
{
    struct sl_node *n = sl_arena_alloc(a, sizeof(*n));
    n->kind = kind;
    n->pos = pos;
    if (kind == SL_NODE_NULL)
        n->str = "";
    return n;
}

struct sl_node *sl_node_new_str(struct sl_arena *a, const char *s, struct sl_pos pos)
{
    struct sl_node *n = sl_node_new(a, SL_NODE_STR, pos);
    n->str = sl_arena_strdup(a, s);
    return n;
}

/* Arrays grow by doubling; the capacity is implied by n (powers of two from 4), so a node
 * needs no capacity field. */
static bool needs_growth(size_t n)
{
    return n >= 4 && (n & (n - 1)) == 0;
}

void sl_node_seq_push(struct sl_arena *a, struct sl_node *seq, struct sl_node *item)
{
    if (!seq->items || needs_growth(seq->n)) {
        size_t cap = seq->n < 4 ? 4 : seq->n * 2;
        struct sl_node **items = sl_arena_alloc(a, cap * sizeof(*items));
        if (seq->n)
            memcpy(items, seq->items, seq->n * sizeof(*items));
        seq->items = items;
    }
    seq->items[seq->n++] = item;
}

void sl_node_map_push(struct sl_arena *a, struct sl_node *map, const char *key,
                      struct sl_pos key_pos, struct sl_node *value)
{
    if (!map->pairs || needs_growth(map->n)) {
        size_t cap = map->n < 4 ? 4 : map->n * 2;
        struct sl_pair *pairs = sl_arena_alloc(a, cap * sizeof(*pairs));
        if (map->n)
            memcpy(pairs, map->pairs, map->n * sizeof(*pairs));
        map->pairs = pairs;
    }
    struct sl_pair *p = &map->pairs[map->n++];
    p->key = key;
    p->key_pos = key_pos;
    p->value = value;
}

struct sl_node *sl_node_shallow_copy(struct sl_arena *a, const struct sl_node *n)
{
    struct sl_node *c = sl_arena_alloc(a, sizeof(*c));
    *c = *n;
    c->items = NULL;
    c->pairs = NULL;
    c->n = 0;
    if (n->kind == SL_NODE_SEQ)
        for (size_t i = 0; i < n->n; i++)
            sl_node_seq_push(a, c, n->items[i]);
    else if (n->kind == SL_NODE_MAP)
        for (size_t i = 0; i < n->n; i++)
            sl_node_map_push(a, c, n->pairs[i].key, n->pairs[i].key_pos, n->pairs[i].value);
    return c;
}

const struct sl_pair *sl_node_get_pair(const struct sl_node *map, const char *key)
{
    if (!map || map->kind != SL_NODE_MAP)
        return NULL;
    for (size_t i = 0; i < map->n; i++)
        if (!strcmp(map->pairs[i].key, key))
            return &map->pairs[i];
    return NULL;
}

struct sl_node *sl_node_get(const struct sl_node *map, const char *key)
{
    const struct sl_pair *p = sl_node_get_pair(map, key);
    return p ? p->value : NULL;
}

bool sl_node_is_scalar(const struct sl_node *n)
{
    return n && n->kind != SL_NODE_SEQ && n->kind != SL_NODE_MAP;
}

bool sl_node_is_str(const struct sl_node *n)
{
    return n && n->kind == SL_NODE_STR;
}

const char *sl_node_scalar(const struct sl_node *n)
{
    return sl_node_is_scalar(n) ? n->str : NULL;
}

const char *sl_node_kind_name(const struct sl_node *n)
{
    if (!n)
        return "nothing";
    switch (n->kind) {
    case SL_NODE_NULL:
        return "null";
    case SL_NODE_BOOL:
        return "a boolean";
    case SL_NODE_INT:
        return "an integer";
    case SL_NODE_FLOAT:
        return "a number";
    case SL_NODE_STR:
        return "a string";
    case SL_NODE_SEQ:
        return "an array";
    case SL_NODE_MAP:
        return "a hash";
    }
    return "a value";
}

bool sl_node_equal(const struct sl_node *a, const struct sl_node *b)
{
    if (a == b)
        return true;
    if (!a || !b || a->kind != b->kind || a->n != b->n)
        return false;
    switch (a->kind) {
    case SL_NODE_SEQ:
        for (size_t i = 0; i < a->n; i++)
            if (!sl_node_equal(a->items[i], b->items[i]))
                return false;
        return true;
    case SL_NODE_MAP:
        for (size_t i = 0; i < a->n; i++)
            if (strcmp(a->pairs[i].key, b->pairs[i].key) ||
                !sl_node_equal(a->pairs[i].value, b->pairs[i].value))
                return false;
        return true;
    default:
        return !strcmp(a->str, b->str);
    }
}

int sl_node_depth(const struct sl_node *n, int cap)
{
    if (!n || n->kind != SL_NODE_SEQ || cap <= 0)
        return 0;
    if (n->spliced_depth)
        return n->spliced_depth < cap ? n->spliced_depth : cap;
    int d = 0;
    for (size_t i = 0; i < n->n && d < cap - 1; i++) {
        int di = sl_node_depth(n->items[i], cap - 1);
        if (di > d)
            d = di;
    }
    return d + 1;
}

void sl_node_inspect(struct sl_str *s, const struct sl_node *n)
{
    if (n->kind != SL_NODE_SEQ) {
        if (n->kind == SL_NODE_MAP) {
            sl_str_adds(s, "{");
            for (size_t i = 0; i < n->n; i++) {
                sl_str_addf(s, "%s\"", i ? ", " : "");
                sl_str_add_json_escaped(s, n->pairs[i].key);
                sl_str_adds(s, "\"=>");
                sl_node_inspect(s, n->pairs[i].value);
            }
            sl_str_adds(s, "}");
        } else if (n->kind == SL_NODE_STR) {
            sl_str_adds(s, "\"");
            sl_str_add_json_escaped(s, n->str);
            sl_str_adds(s, "\"");
        } else {
            sl_str_adds(s, n->kind == SL_NODE_NULL ? "nil" : n->str);
        }
        return;
    }
    sl_str_adds(s, "[");
    for (size_t i = 0; i < n->n; i++) {
        if (i)
            sl_str_adds(s, ", ");
        sl_node_inspect(s, n->items[i]);
    }
    sl_str_adds(s, "]");
}
