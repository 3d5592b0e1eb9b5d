/* defaults.c: `default:` and `inherit:` (Entry::Default, Entry::Inherit, Entry::Job).
 *
 * After `extends` and `!reference`, each keyword of `default:` is copied into every visible
 * job that does not write that keyword itself (a key present with null counts as written),
 * unless the job's `inherit:default` is false or a list without it. Nothing is merged: a
 * job's `image` hides the default `image` entirely. The deprecated top-level `image`,
 * `services`, `cache`, `before_script` and `after_script` act as `default:` ones; writing
 * one both there and in `default:` is an error.
 *
 * Jobs with `trigger` (bridges) take no defaults: they have none of these keywords.
 * Top-level `variables` are not copied: the planner applies variable precedence and reads
 * `inherit:variables`, which stays in the job. Hidden jobs are templates, never composed. */
#include "base/compat.h"
#include "config/resolve.h"

static const char *const default_keys[] = {
    "after_script", "artifacts",     "before_script", "cache",    "hooks", "id_tokens", "identity",
    "image",        "interruptible", "retry",         "services", "tags",  "timeout",
};

static const char *const deprecated_keys[] = {
    "image", "services", "cache", "before_script", "after_script",
};

static bool is_one_of(const char *key, const char *const *set, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(set[i], key))
            return true;
    return false;
}

/* Does the job's `inherit:default` let it take KEY? */
static bool inherits(const struct sl_node *job, const char *key)
{
    const struct sl_node *inh = sl_node_get(job, "inherit");
    const struct sl_node *d = inh && inh->kind == SL_NODE_MAP ? sl_node_get(inh, "default") : NULL;
    if (!d || d->kind == SL_NODE_NULL)
        return true;
    if (d->kind == SL_NODE_BOOL)
        return !strcmp(d->str, "true");
    if (d->kind == SL_NODE_SEQ) {
        for (size_t i = 0; i < d->n; i++)
            if (sl_node_is_scalar(d->items[i]) && !strcmp(d->items[i]->str, key))
                return true;
        return false;
    }
    return true; /* a malformed inherit is the validator's to report */
}

int sl_config_apply_defaults(struct sl_resolve *r, struct sl_node **rootp)
{
    struct sl_node *root = *rootp;
    struct sl_node *def = sl_config_section(root, "default");
    struct sl_node *eff = NULL; /* the effective defaults: keyword -> value */

    if (def && def->kind != SL_NODE_MAP)
        def = NULL; /* the validator reports it */
    /* in file order: the deprecated top-level keywords and `default:`'s own order */
    for (size_t i = 0; i < root->n; i++) {
        const struct sl_pair *top = &root->pairs[i];
        if (is_one_of(top->key, deprecated_keys, SL_ARRAY_LEN(deprecated_keys))) {
            if (def && sl_node_get_pair(def, top->key)) {
                sl_resolve_error(r, top->key_pos, "%s is defined in top-level and `default:` entry",
                                 top->key);
                continue;
            }
            if (!eff)
                eff = sl_node_new(r->a, SL_NODE_MAP, top->key_pos);
            sl_node_map_push(r->a, eff, top->key, top->key_pos, top->value);
        } else if (def && !strcmp(top->key, "default")) {
            for (size_t k = 0; k < def->n; k++) {
                const struct sl_pair *p = &def->pairs[k];
                if (!is_one_of(p->key, default_keys, SL_ARRAY_LEN(default_keys)))
                    continue;
                if (!eff)
                    eff = sl_node_new(r->a, SL_NODE_MAP, def->pos);
                sl_node_map_push(r->a, eff, p->key, p->key_pos, p->value);
            }
        }
    }
    if (!eff)
        return 0;

    struct sl_node *out = NULL;
    for (size_t i = 0; i < root->n; i++) {
        const struct sl_pair *jp = &root->pairs[i];
        struct sl_node *job = jp->value;
        if (!sl_config_is_job_key(jp->key, job) || job->kind != SL_NODE_MAP ||
            sl_node_get_pair(job, "trigger"))
            continue;
        struct sl_node *nj = NULL;
        for (size_t k = 0; k < eff->n; k++) {
            const struct sl_pair *dp = &eff->pairs[k];
            if (sl_node_get_pair(job, dp->key) || !inherits(job, dp->key))
                continue;
            if (!nj)
                nj = sl_node_shallow_copy(r->a, job);
            sl_node_map_push(r->a, nj, dp->key, dp->key_pos, dp->value);
        }
        if (!nj)
            continue;
        if (!out)
            out = sl_node_shallow_copy(r->a, root);
        out->pairs[i].value = nj;
    }
    if (out)
        *rootp = out;
    return 0;
}
