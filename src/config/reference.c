/* reference.c: `!reference [a, b, c]` (lib/gitlab/ci/config/yaml/tags/reference.rb).
 *
 * Runs after `extends`, on the whole top-level map: the path is looked up from the top
 * level in the unresolved tree (keys only: a path that walks into an array or a scalar is
 * not found), and the value found is itself resolved, so references nest; a reference met
 * again while it is being resolved is a cycle. A referenced array that is an item of an
 * array is spliced into it (one level), which is how `script: [!reference [.a, script],
 * echo]` and `rules: [!reference [.r, rules], {when: never}]` read in GitLab.
 *
 * Any tag other than `!reference` and YAML's own `!!type` tags is an error. */
#include "base/compat.h"
#include "config/resolve.h"
#include "base/str.h"

enum state { ST_BUSY = 1, ST_DONE };

/* Depths are counted up to here: past GitLab's 10 levels the exact figure does not matter. */
#define SPLICE_DEPTH_CAP 100

struct memo {
    enum state state;
    struct sl_node *value; /* ST_DONE: the resolved value, NULL when it failed */
};

struct refs {
    struct sl_resolve *r;
    struct sl_node *root;  /* unresolved */
    struct sl_ptrmap memo; /* tag node -> struct memo (arena) */
    struct sl_ptrmap done; /* untagged node -> its resolved node */
    int depth;
};

static bool is_yaml_tag(const char *tag)
{
    return sl_starts_with(tag, "!!") || sl_starts_with(tag, "tag:yaml.org,2002:");
}

static bool is_reference(const struct sl_node *n)
{
    return n->tag && !strcmp(n->tag, "!reference");
}

static struct sl_node *resolve_node(struct refs *x, struct sl_node *n);

static bool valid_reference(const struct sl_node *n)
{
    if (n->kind != SL_NODE_SEQ || n->n == 0)
        return false;
    for (size_t i = 0; i < n->n; i++)
        if (n->items[i]->kind != SL_NODE_STR)
            return false;
    return true;
}

static struct sl_node *resolve_reference(struct refs *x, struct sl_node *n)
{
    struct sl_resolve *r = x->r;
    struct sl_str desc = SL_STR_INIT;
    struct memo *m;
    struct sl_node *found = NULL, *value = NULL;

    sl_str_adds(&desc, "!reference ");
    sl_node_inspect(&desc, n);
    if (!valid_reference(n)) {
        sl_resolve_error(r, n->pos, "%s is not valid", desc.buf);
        goto out;
    }
    m = sl_ptrmap_get(&x->memo, n);
    if (m && m->state == ST_BUSY) {
        sl_resolve_error(r, n->pos, "%s is part of a circular chain", desc.buf);
        goto out;
    }
    if (m) {
        value = m->value;
        goto out;
    }
    if (x->depth >= SL_CONFIG_MAX_REFERENCE_DEPTH) {
        sl_resolve_error(r, n->pos, "%s is nested more than %d levels deep", desc.buf,
                         SL_CONFIG_MAX_REFERENCE_DEPTH);
        goto out;
    }
    m = sl_arena_alloc(r->a, sizeof(*m));
    m->state = ST_BUSY;
    sl_ptrmap_put(&x->memo, n, m);

    found = x->root;
    for (size_t i = 0; i < n->n && found; i++)
        found = found->kind == SL_NODE_MAP ? sl_node_get(found, n->items[i]->str) : NULL;
    /* Ruby's `unless value`: nil and false are "not found" too */
    if (found && (found->kind == SL_NODE_NULL ||
                  (found->kind == SL_NODE_BOOL && !strcmp(found->str, "false"))))
        found = NULL;
    if (!found && r->opts.shape_only) {
        value = n; /* in a file not read: stays the plain array it is written as */
    } else if (!found) {
        sl_resolve_error(r, n->pos, "%s could not be found", desc.buf);
    } else {
        x->depth++;
        value = resolve_node(x, found);
        x->depth--;
    }
    m->state = ST_DONE;
    m->value = value;
out:
    sl_str_release(&desc);
    return value;
}

/* The node with every reference below it resolved; N itself when nothing changed. A failed
 * reference resolves to a null node (the error is reported). */
static struct sl_node *resolve_untagged(struct refs *x, struct sl_node *n);

static struct sl_node *resolve_node(struct refs *x, struct sl_node *n)
{
    struct sl_resolve *r = x->r;

    if (n->tag && !is_yaml_tag(n->tag)) {
        if (is_reference(n)) {
            struct sl_node *v = resolve_reference(x, n);
            return v ? v : sl_node_new(r->a, SL_NODE_NULL, n->pos);
        }
        sl_resolve_error(r, n->pos, "unknown YAML tag `%s` (sluice knows `!reference`)", n->tag);
        return n;
    }
    if (n->kind != SL_NODE_SEQ && n->kind != SL_NODE_MAP)
        return n;
    /* a subtree resolves the same wherever it is met (lookups start at the top) */
    struct sl_node *done = sl_ptrmap_get(&x->done, n);
    if (!done) {
        done = resolve_untagged(x, n);
        sl_ptrmap_put(&x->done, n, done);
    }
    return done;
}

/* The depth GitLab's validators see in SEQ once resolved: it keeps a referenced array as
 * one item where sluice splices it in, so splicing must not make a script shallower (the
 * `up to 10 levels deep` check). Items resolve from the memo, so this costs a walk of SEQ. */
static int gitlab_depth(struct refs *x, struct sl_node *seq)
{
    int d = 0;
    for (size_t i = 0; i < seq->n && d < SPLICE_DEPTH_CAP - 1; i++) {
        int di = sl_node_depth(resolve_node(x, seq->items[i]), SPLICE_DEPTH_CAP - 1);
        if (di > d)
            d = di;
    }
    return d + 1;
}

static struct sl_node *resolve_untagged(struct refs *x, struct sl_node *n)
{
    struct sl_resolve *r = x->r;

    if (n->kind == SL_NODE_SEQ) {
        struct sl_node *out = NULL;
        bool spliced = false;
        for (size_t i = 0; i < n->n; i++) {
            struct sl_node *it = n->items[i];
            struct sl_node *v = resolve_node(x, it);
            bool splice = it->tag && is_reference(it) && v->kind == SL_NODE_SEQ && v != it;
            if (!out && v == it)
                continue;
            if (!out) {
                out = sl_node_new(r->a, SL_NODE_SEQ, n->pos);
                out->quoted = n->quoted;
                for (size_t j = 0; j < i; j++)
                    sl_node_seq_push(r->a, out, n->items[j]);
            }
            if (splice)
                for (size_t j = 0; j < v->n; j++)
                    sl_node_seq_push(r->a, out, v->items[j]);
            else
                sl_node_seq_push(r->a, out, v);
            spliced |= splice;
        }
        if (spliced)
            out->spliced_depth = (unsigned char)gitlab_depth(x, n);
        return out ? out : n;
    }
    if (n->kind == SL_NODE_MAP) {
        struct sl_node *out = NULL;
        for (size_t i = 0; i < n->n; i++) {
            struct sl_node *v = resolve_node(x, n->pairs[i].value);
            if (v == n->pairs[i].value && !out)
                continue;
            if (!out)
                out = sl_node_shallow_copy(r->a, n);
            out->pairs[i].value = v;
        }
        return out ? out : n;
    }
    return n;
}

int sl_config_resolve_references(struct sl_resolve *r, struct sl_node **root)
{
    struct refs x = {r, *root, {0}, {0}, 0};
    struct sl_node *out = resolve_node(&x, *root);
    sl_ptrmap_release(&x.memo);
    sl_ptrmap_release(&x.done);
    *root = out;
    return 0;
}
