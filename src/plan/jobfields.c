/* jobfields.c: the keywords of a job that the runner acts on (artifacts, cache, image,
 * services, coverage, tags), read once from the resolved configuration into the typed
 * fields of struct sl_plan_job, so no room above plan reads YAML keys again. Values stay as
 * written: the runner expands them with the job's final variables (jobspec). The validator
 * has checked the shapes; anything else found here is skipped, never trusted. */
#include "base/compat.h"
#include "base/alloc.h"
#include "base/str.h"
#include "plan/internal.h"

/* A scalar or a list of scalars as a NULL-terminated array; NULL when absent or null. */
static const char *const *strv(struct sl_arena *a, const struct sl_node *n)
{
    if (!n || n->kind == SL_NODE_NULL || n->kind == SL_NODE_MAP)
        return NULL;
    size_t cnt = n->kind == SL_NODE_SEQ ? n->n : 1, k = 0;
    const char **out = sl_arena_alloc(a, (cnt + 1) * sizeof(*out));
    for (size_t i = 0; i < cnt; i++) {
        const char *s = sl_node_scalar(n->kind == SL_NODE_SEQ ? n->items[i] : n);
        if (s)
            out[k++] = s;
    }
    return out;
}

static bool is_true(const struct sl_node *n)
{
    return n && n->kind == SL_NODE_BOOL && !strcmp(n->str, "true");
}

/* A map of variables (services:variables) as KEY=VALUE; `{value: ...}` forms too. */
static const char *const *vars_strv(struct sl_arena *a, const struct sl_node *m)
{
    if (!m || m->kind != SL_NODE_MAP)
        return NULL;
    const char **out = sl_arena_alloc(a, (m->n + 1) * sizeof(*out));
    size_t k = 0;
    for (size_t i = 0; i < m->n; i++) {
        const struct sl_node *v = m->pairs[i].value;
        const char *s = v && v->kind == SL_NODE_MAP ? sl_node_scalar(sl_node_get(v, "value"))
                                                    : sl_node_scalar(v);
        out[k++] = sl_arena_printf(a, "%s=%s", m->pairs[i].key, s ? s : "");
    }
    return out;
}

/* `image:` or a `services:` entry: a name, or a map with one. False when there is none. */
static bool image_of(struct sl_arena *a, const struct sl_node *n, struct sl_plan_image *im)
{
    memset(im, 0, sizeof(*im));
    if (!n)
        return false;
    if (n->kind != SL_NODE_MAP) {
        im->name = sl_node_scalar(n);
        return im->name && *im->name;
    }
    im->name = sl_node_scalar(sl_node_get(n, "name"));
    if (!im->name || !*im->name)
        return false;
    im->entrypoint = strv(a, sl_node_get(n, "entrypoint"));
    im->pull_policy = strv(a, sl_node_get(n, "pull_policy"));
    const struct sl_node *d = sl_node_get(n, "docker");
    im->platform = sl_node_scalar(sl_node_get(d, "platform"));
    im->user = sl_node_scalar(sl_node_get(d, "user"));
    im->alias = sl_node_scalar(sl_node_get(n, "alias"));
    im->command = strv(a, sl_node_get(n, "command"));
    im->variables = vars_strv(a, sl_node_get(n, "variables"));
    return true;
}

static void artifacts_of(struct sl_arena *a, const struct sl_node *n, struct sl_plan_artifacts *r)
{
    memset(r, 0, sizeof(*r));
    if (!n || n->kind != SL_NODE_MAP)
        return;
    r->declared = true;
    r->name = sl_node_scalar(sl_node_get(n, "name"));
    r->paths = strv(a, sl_node_get(n, "paths"));
    r->exclude = strv(a, sl_node_get(n, "exclude"));
    r->untracked = is_true(sl_node_get(n, "untracked"));
    r->when = sl_node_scalar(sl_node_get(n, "when"));
    r->expire_in = sl_node_scalar(sl_node_get(n, "expire_in"));
    r->expose_as = sl_node_scalar(sl_node_get(n, "expose_as"));
    const struct sl_node *rep = sl_node_get(n, "reports");
    if (!rep || rep->kind != SL_NODE_MAP)
        return;
    const char **other = sl_arena_alloc(a, (rep->n * 8 + 1) * sizeof(*other));
    size_t k = 0;
    for (size_t i = 0; i < rep->n; i++) {
        const char *key = rep->pairs[i].key;
        const struct sl_node *v = rep->pairs[i].value;
        if (!strcmp(key, "dotenv")) {
            r->dotenv = strv(a, v);
        } else if (!strcmp(key, "junit")) {
            r->junit = strv(a, v);
        } else if (!strcmp(key, "coverage_report")) {
            r->coverage_format = sl_node_scalar(sl_node_get(v, "coverage_format"));
            r->coverage_path = sl_node_scalar(sl_node_get(v, "path"));
        } else {
            const char *const *paths = strv(a, v);
            for (size_t p = 0; paths && paths[p] && p < 8; p++)
                other[k++] = sl_arena_printf(a, "%s=%s", key, paths[p]);
        }
    }
    r->other_reports = k ? other : NULL;
}

static void cache_one(struct sl_arena *a, const struct sl_node *c, struct sl_plan_cache *r)
{
    memset(r, 0, sizeof(*r));
    const struct sl_node *key = sl_node_get(c, "key");
    if (key && key->kind == SL_NODE_MAP) {
        r->key_files = strv(a, sl_node_get(key, "files"));
        r->key_prefix = sl_node_scalar(sl_node_get(key, "prefix"));
    } else {
        r->key = sl_node_scalar(key);
    }
    r->fallback_keys = strv(a, sl_node_get(c, "fallback_keys"));
    r->paths = strv(a, sl_node_get(c, "paths"));
    r->untracked = is_true(sl_node_get(c, "untracked"));
    r->unprotect = is_true(sl_node_get(c, "unprotect"));
    r->policy = sl_node_scalar(sl_node_get(c, "policy"));
    r->when = sl_node_scalar(sl_node_get(c, "when"));
}

static void trigger_of(struct sl_arena *a, const struct sl_node *t, struct sl_plan_trigger *r)
{
    memset(r, 0, sizeof(*r));
    r->forward_yaml_variables = true;
    if (!t || t->kind == SL_NODE_NULL)
        return;
    r->declared = true;
    if (t->kind != SL_NODE_MAP) {
        r->project = sl_node_scalar(t);
        return;
    }
    r->project = sl_node_scalar(sl_node_get(t, "project"));
    r->branch = sl_node_scalar(sl_node_get(t, "branch"));
    r->strategy = sl_node_scalar(sl_node_get(t, "strategy"));
    r->depend = r->strategy && !strcmp(r->strategy, "depend");
    const struct sl_node *fw = sl_node_get(t, "forward");
    const struct sl_node *y = sl_node_get(fw, "yaml_variables");
    const struct sl_node *pv = sl_node_get(fw, "pipeline_variables");
    if (y && y->kind == SL_NODE_BOOL)
        r->forward_yaml_variables = !strcmp(y->str, "true");
    if (pv && pv->kind == SL_NODE_BOOL)
        r->forward_pipeline_variables = !strcmp(pv->str, "true");
    const struct sl_node *inc = sl_node_get(t, "include");
    if (!inc || inc->kind == SL_NODE_NULL)
        return;
    size_t n = inc->kind == SL_NODE_SEQ ? inc->n : 1;
    r->includes = sl_arena_alloc(a, (n + 1) * sizeof(*r->includes));
    for (size_t i = 0; i < n; i++) {
        const struct sl_node *e = inc->kind == SL_NODE_SEQ ? inc->items[i] : inc;
        struct sl_plan_trigger_include *x = &r->includes[r->nincludes++];
        if (e && e->kind != SL_NODE_MAP) {
            x->local = sl_node_scalar(e);
            x->other = !x->local;
            continue;
        }
        x->local = sl_node_scalar(sl_node_get(e, "local"));
        x->artifact = sl_node_scalar(sl_node_get(e, "artifact"));
        x->job = sl_node_scalar(sl_node_get(e, "job"));
        x->other = !x->local && !x->artifact;
        const struct sl_node *in = sl_node_get(e, "inputs");
        if (in && in->kind == SL_NODE_MAP && in->n) {
            const char **lines = sl_arena_alloc(a, (in->n + 1) * sizeof(*lines));
            for (size_t k = 0; k < in->n; k++) {
                struct sl_str v = SL_STR_INIT;
                sl_node_inspect(&v, in->pairs[k].value); /* JSON-like: YAML reads it back */
                lines[k] = sl_arena_printf(a, "'%s': %s", in->pairs[k].key, v.buf);
                sl_str_release(&v);
            }
            x->inputs = lines;
        }
    }
}

/* The job's YAML variable names: the top-level ones unless `inherit:variables` says
 * otherwise (false, or a list of the names it takes), then its own. */
static const char *const *yaml_names(struct sl_arena *a, const struct sl_node *job,
                                     const struct sl_node *top)
{
    const struct sl_node *own = sl_node_get(job, "variables");
    const struct sl_node *inh = sl_node_get(sl_node_get(job, "inherit"), "variables");
    size_t cap = (top && top->kind == SL_NODE_MAP ? top->n : 0) +
                 (own && own->kind == SL_NODE_MAP ? own->n : 0);
    const char **out = sl_arena_alloc(a, (cap + 1) * sizeof(*out));
    size_t n = 0;
    bool none = inh && inh->kind == SL_NODE_BOOL && !strcmp(inh->str, "false");
    for (size_t i = 0; !none && top && top->kind == SL_NODE_MAP && i < top->n; i++) {
        bool take = !inh || inh->kind != SL_NODE_SEQ;
        for (size_t k = 0; !take && k < inh->n; k++)
            take = sl_node_scalar(inh->items[k]) && !strcmp(inh->items[k]->str, top->pairs[i].key);
        if (take)
            out[n++] = top->pairs[i].key;
    }
    for (size_t i = 0; own && own->kind == SL_NODE_MAP && i < own->n; i++)
        out[n++] = own->pairs[i].key;
    return out;
}

void sl_plan_job_fields(struct sl_arena *a, struct sl_plan_job *j, const struct sl_node *top_vars)
{
    const struct sl_node *job = j->node;
    artifacts_of(a, sl_node_get(job, "artifacts"), &j->artifacts);

    const struct sl_node *cache = sl_node_get(job, "cache");
    if (cache && (cache->kind == SL_NODE_MAP || cache->kind == SL_NODE_SEQ)) {
        size_t cnt = cache->kind == SL_NODE_SEQ ? cache->n : 1;
        j->caches = sl_arena_alloc(a, (cnt + 1) * sizeof(*j->caches));
        for (size_t i = 0; i < cnt; i++) {
            const struct sl_node *c = cache->kind == SL_NODE_SEQ ? cache->items[i] : cache;
            if (c && c->kind == SL_NODE_MAP)
                cache_one(a, c, &j->caches[j->ncaches++]);
        }
    }

    struct sl_plan_image im;
    if (image_of(a, sl_node_get(job, "image"), &im)) {
        struct sl_plan_image *p = sl_arena_alloc(a, sizeof(*p));
        *p = im;
        j->image = p;
    }
    const struct sl_node *svcs = sl_node_get(job, "services");
    if (svcs && svcs->kind != SL_NODE_NULL) {
        size_t cnt = svcs->kind == SL_NODE_SEQ ? svcs->n : 1;
        j->services = sl_arena_alloc(a, (cnt + 1) * sizeof(*j->services));
        for (size_t i = 0; i < cnt; i++)
            if (image_of(a, svcs->kind == SL_NODE_SEQ ? svcs->items[i] : svcs, &im))
                j->services[j->nservices++] = im;
    }

    j->coverage = sl_node_scalar(sl_node_get(job, "coverage"));
    const char *const *tags = strv(a, sl_node_get(job, "tags"));
    j->tags = tags ? tags : sl_arena_alloc(a, sizeof(*tags));
    trigger_of(a, j->trigger, &j->bridge);
    j->yaml_variable_names = yaml_names(a, job, top_vars);
}

void sl_plan_var_attrs(struct sl_plan *p, const struct sl_node *top_vars)
{
    if (!top_vars || top_vars->kind != SL_NODE_MAP)
        return;
    p->var_attrs = sl_arena_alloc(&p->arena, (top_vars->n + 1) * sizeof(*p->var_attrs));
    for (size_t i = 0; i < top_vars->n; i++) {
        const struct sl_node *v = top_vars->pairs[i].value;
        if (!v || v->kind != SL_NODE_MAP)
            continue;
        const char *desc = sl_node_scalar(sl_node_get(v, "description"));
        const char *const *opts = strv(&p->arena, sl_node_get(v, "options"));
        if (!desc && !opts)
            continue;
        struct sl_plan_var_attr *at = &p->var_attrs[p->nvar_attrs++];
        at->name = top_vars->pairs[i].key;
        at->description = desc;
        at->options = opts;
    }
}
