/* extends.c: GitLab's `extends` (lib/gitlab/ci/config/extendable/entry.rb).
 *
 * For an entry whose value is a hash with `extends`: its parents (a string or a list) are
 * resolved first, recursively; then merged = {} deep_merge parent1 deep_merge parent2 ...
 * deep_merge the entry itself. Errors, checked in GitLab's order and prefixed by the name of
 * the entry being extended: unknown parents, parents that are not hashes, more than 10
 * ancestors, a cycle. Every top-level entry (hidden or not) may extend and be extended.
 *
 * GitLab re-walks the ancestry of every entry; we memoise each entry's result and its
 * height (the longest chain of extending entries above and including it), which gives the
 * same depth errors without the exponential walk on diamond-shaped hierarchies. */
#include "base/compat.h"
#include "config/resolve.h"
#include "base/map.h"
#include "base/str.h"

enum state { ST_NEW, ST_BUSY, ST_DONE, ST_FAILED };

struct entry {
    enum state state;
    size_t index;        /* in the top-level map */
    struct sl_node *out; /* resolved value */
    int height;          /* 0: not extensible; else 1 + the highest parent */
};

struct ext {
    struct sl_resolve *r;
    struct sl_node *root;
    struct entry *entries;
    struct sl_map index; /* key -> entry index + 1 */
};

static struct entry *find(struct ext *x, const char *key)
{
    uintptr_t i = (uintptr_t)sl_map_get(&x->index, key);
    return i ? &x->entries[i - 1] : NULL;
}

static const char *key_of(struct ext *x, const struct entry *e)
{
    return x->root->pairs[e->index].key;
}

static struct sl_node *value_of(struct ext *x, const struct entry *e)
{
    return x->root->pairs[e->index].value;
}

static bool extensible(const struct sl_node *v)
{
    return v && v->kind == SL_NODE_MAP && sl_node_get_pair(v, "extends");
}

/* The parent names of V's `extends` (Ruby's Array(value).map(&:to_s)). */
static size_t parents_of(const struct sl_node *v, const struct sl_node **list, size_t max)
{
    const struct sl_node *ext = sl_node_get(v, "extends");
    if (!ext || ext->kind == SL_NODE_NULL)
        return 0;
    if (ext->kind != SL_NODE_SEQ) {
        if (!sl_node_is_scalar(ext))
            return 0;
        list[0] = ext;
        return 1;
    }
    size_t n = 0;
    for (size_t i = 0; i < ext->n && n < max; i++)
        if (sl_node_is_scalar(ext->items[i]) && ext->items[i]->kind != SL_NODE_NULL)
            list[n++] = ext->items[i];
    return n;
}

#define MAX_PARENTS 64

static struct sl_pos extends_pos(const struct sl_node *v)
{
    const struct sl_pair *p = sl_node_get_pair(v, "extends");
    return p ? p->value->pos : v->pos;
}

/* Reports "too deep" on the entry GitLab would meet at depth > 10: follow the highest
 * parents down from E (at DEPTH ancestors) until the limit. */
static void report_too_deep(struct ext *x, struct entry *e, int depth)
{
    for (;;) {
        struct sl_node *v = value_of(x, e);
        if (depth > SL_CONFIG_MAX_EXTENDS_DEPTH) {
            sl_resolve_error(x->r, extends_pos(v), "%s: nesting too deep in `extends`",
                             key_of(x, e));
            return;
        }
        const struct sl_node *list[MAX_PARENTS];
        size_t n = parents_of(v, list, MAX_PARENTS);
        struct entry *best = NULL;
        for (size_t i = 0; i < n; i++) {
            struct entry *p = find(x, list[i]->str);
            if (p && p->state == ST_DONE && (!best || p->height > best->height))
                best = p;
        }
        if (!best || best->height == 0)
            return;
        e = best;
        depth++;
    }
}

static int resolve(struct ext *x, struct entry *e, int depth)
{
    struct sl_resolve *r = x->r;
    struct sl_node *v = value_of(x, e);
    const char *key = key_of(x, e);

    if (e->state == ST_FAILED)
        return -1;
    if (!extensible(v)) {
        e->state = ST_DONE;
        e->out = v;
        e->height = 0;
        return 0;
    }
    if (e->state == ST_DONE) {
        if (depth + e->height - 1 > SL_CONFIG_MAX_EXTENDS_DEPTH) {
            report_too_deep(x, e, depth);
            return -1;
        }
        return 0;
    }

    const struct sl_node *list[MAX_PARENTS];
    size_t n = parents_of(v, list, MAX_PARENTS);
    struct sl_pos pos = extends_pos(v);
    if (r->opts.shape_only) { /* an unknown parent is in a file not read: an empty hash */
        size_t k = 0;
        for (size_t i = 0; i < n; i++)
            if (find(x, list[i]->str))
                list[k++] = list[i];
        n = k;
    }
    struct sl_str bad = SL_STR_INIT;

    size_t nbad = 0;
    for (size_t i = 0; i < n; i++)
        if (!find(x, list[i]->str))
            sl_str_addf(&bad, "%s%s", nbad++ ? ", " : "", list[i]->str);
    if (nbad) {
        sl_resolve_error(r, pos, "%s: unknown keys in `extends` (%s)", key, bad.buf);
        goto failed;
    }
    for (size_t i = 0; i < n; i++)
        if (value_of(x, find(x, list[i]->str))->kind != SL_NODE_MAP)
            sl_str_addf(&bad, "%s%s", nbad++ ? ", " : "", list[i]->str);
    if (nbad) {
        sl_resolve_error(r, pos, "%s: invalid base hashes in `extends` (%s)", key, bad.buf);
        goto failed;
    }
    if (depth > SL_CONFIG_MAX_EXTENDS_DEPTH) {
        sl_resolve_error(r, pos, "%s: nesting too deep in `extends`", key);
        goto failed;
    }
    if (e->state == ST_BUSY) {
        sl_resolve_error(r, pos, "%s: circular dependency detected in `extends`", key);
        sl_str_release(&bad);
        return -1; /* the entry being resolved further up reports its own outcome */
    }

    e->state = ST_BUSY;
    struct sl_node *merged = NULL;
    int height = 0;
    for (size_t i = 0; i < n; i++) {
        struct entry *p = find(x, list[i]->str);
        if (resolve(x, p, depth + 1) < 0)
            goto failed;
        merged = merged ? sl_config_deep_merge(r->a, merged, p->out) : p->out;
        if (p->height > height)
            height = p->height;
    }
    e->out = merged ? sl_config_deep_merge(r->a, merged, v) : v;
    e->height = height + 1;
    e->state = ST_DONE;
    sl_str_release(&bad);
    return 0;
failed:
    sl_str_release(&bad);
    e->state = ST_FAILED;
    return -1;
}

int sl_config_resolve_extends(struct sl_resolve *r, struct sl_node **rootp)
{
    struct sl_node *root = *rootp;
    struct ext x = {r, root, NULL, SL_MAP_INIT};
    bool any = false;

    for (size_t i = 0; i < root->n && !any; i++)
        any = extensible(root->pairs[i].value);
    if (!any)
        return 0;
    x.entries = sl_arena_alloc(r->a, root->n * sizeof(*x.entries));
    for (size_t i = 0; i < root->n; i++) {
        x.entries[i].index = i;
        sl_map_put(&x.index, root->pairs[i].key, (void *)(uintptr_t)(i + 1));
    }
    for (size_t i = 0; i < root->n; i++)
        resolve(&x, &x.entries[i], 0);

    struct sl_node *out = sl_node_shallow_copy(r->a, root);
    for (size_t i = 0; i < root->n; i++)
        if (x.entries[i].state == ST_DONE)
            out->pairs[i].value = x.entries[i].out;
    sl_map_release(&x.index);
    *rootp = out;
    return 0;
}
