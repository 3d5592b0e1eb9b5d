/* build.c: sl_plan_build, the pipeline a trigger makes (SPEC.md §2): workflow:rules, each
 * job's rules or only/except, parallel and matrix instances, stages, needs and
 * dependencies, the effective when/allow_failure/retry/timeout, and every job's variables
 * in GitLab's precedence order (VARIABLES.md). */
#include "base/compat.h"
#include "plan/internal.h"
#include "base/alloc.h"
#include "base/jsonw.h"
#include "base/str.h"
#include "base/time.h"

struct instance {
    struct sl_plan_job job;
    struct sl_vars matrix;       /* matrix variables of this instance */
    const struct sl_node *rule;  /* the matching rule, or NULL */
    const struct sl_node *needs; /* job or rule needs */
    size_t order;                /* file order, for a stable sort */
};

static const char *when_names[] = {"on_success", "on_failure", "always", "manual", "delayed"};

const char *sl_plan_when_name(enum sl_plan_when w)
{
    return when_names[w];
}

static bool parse_when(const char *s, enum sl_plan_when *out)
{
    for (size_t i = 0; i < SL_ARRAY_LEN(when_names); i++) {
        if (s && !strcmp(s, when_names[i])) {
            *out = (enum sl_plan_when)i;
            return true;
        }
    }
    return false;
}

size_t sl_plan_find(const struct sl_plan *p, const char *name)
{
    for (size_t i = 0; i < p->njobs; i++)
        if (!strcmp(p->jobs[i].name, name))
            return i;
    return SIZE_MAX;
}

void sl_plan_free(struct sl_plan *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->njobs; i++)
        sl_vars_release(&p->jobs[i].variables);
    sl_vars_release(&p->variables);
    free(p->jobs);
    free(p->excluded);
    sl_arena_release(&p->arena);
    free(p);
}

/* `variables:` of a map into VARS: scalars, or {value, expand}. */
static void add_yaml_vars(struct sl_vars *vars, const struct sl_node *map,
                          const struct sl_node *only_names, bool all)
{
    if (!map || map->kind != SL_NODE_MAP)
        return;
    for (size_t i = 0; i < map->n; i++) {
        const struct sl_pair *p = &map->pairs[i];
        if (!all) {
            bool listed = false;
            for (size_t k = 0; only_names && k < only_names->n; k++)
                listed |= sl_node_scalar(only_names->items[k]) &&
                          !strcmp(only_names->items[k]->str, p->key);
            if (!listed)
                continue;
        }
        const struct sl_node *v = p->value;
        bool raw = false;
        if (v && v->kind == SL_NODE_MAP) {
            const struct sl_node *e = sl_node_get(v, "expand");
            raw = e && e->kind == SL_NODE_BOOL && !strcmp(e->str, "false");
            v = sl_node_get(v, "value");
        }
        sl_vars_set(vars, p->key, sl_node_scalar(v) ? v->str : "", raw);
    }
}

/* The root variables as the job's `inherit:variables` lets it see them: the top-level
 * `variables:` (TOP, looked up once: the root map has a key per job) overridden by those of
 * the matching workflow rule (WF), which GitLab merges into the root ones before
 * inheritance (Seed::Build#calculate_yaml_variables!). */
static void add_root_vars(struct sl_vars *vars, const struct sl_node *top, const struct sl_vars *wf,
                          const struct sl_node *job)
{
    const struct sl_node *inh = sl_node_get(sl_node_get(job, "inherit"), "variables");
    if (inh && inh->kind == SL_NODE_BOOL && !strcmp(inh->str, "false"))
        return;
    const struct sl_node *names = inh && inh->kind == SL_NODE_SEQ ? inh : NULL;
    add_yaml_vars(vars, top, names, names == NULL);
    for (size_t i = 0; i < wf->n; i++) {
        bool listed = names == NULL;
        for (size_t k = 0; !listed && k < names->n; k++)
            listed =
                sl_node_scalar(names->items[k]) && !strcmp(names->items[k]->str, wf->v[i].name);
        if (listed)
            sl_vars_set(vars, wf->v[i].name, wf->v[i].value, wf->v[i].raw);
    }
}

static bool bool_of(const struct sl_node *n, bool *out)
{
    if (!n || n->kind != SL_NODE_BOOL)
        return false;
    *out = !strcmp(n->str, "true");
    return true;
}

static int64_t duration_of(const struct sl_node *n, int64_t dflt)
{
    int64_t s;
    const char *str = sl_node_scalar(n);
    if (!str)
        return dflt;
    return sl_time_parse_duration(str, &s) == 0 ? s : dflt;
}

/* An int or a list of ints into an arena array. */
static int *ints_of(struct sl_arena *a, const struct sl_node *n, size_t *count)
{
    *count = 0;
    if (!n)
        return NULL;
    size_t max = n->kind == SL_NODE_SEQ ? n->n : 1;
    int *v = sl_arena_alloc(a, (max + 1) * sizeof(int));
    for (size_t i = 0; i < max; i++) {
        const struct sl_node *x = n->kind == SL_NODE_SEQ ? n->items[i] : n;
        if (x && x->kind == SL_NODE_INT)
            v[(*count)++] = (int)sl_parse_clamp(x->str, INT_MIN, INT_MAX);
    }
    return v;
}

/* script/before_script/after_script: strings and nested lists, flattened. */
static void flatten(struct sl_arena *a, const struct sl_node *n, const char ***arr, size_t *len,
                    size_t *cap, int depth)
{
    if (!n || depth > 16)
        return;
    if (n->kind == SL_NODE_SEQ) {
        for (size_t i = 0; i < n->n; i++)
            flatten(a, n->items[i], arr, len, cap, depth + 1);
        return;
    }
    if (!sl_node_scalar(n) || n->kind == SL_NODE_NULL)
        return;
    SL_GROW(*arr, *cap, *len + 2);
    (*arr)[(*len)++] = n->str;
}

static const char *const *script_of(struct sl_arena *a, const struct sl_node *n)
{
    const char **tmp = NULL;
    size_t len = 0, cap = 0;
    if (!n)
        return NULL;
    flatten(a, n, &tmp, &len, &cap, 0);
    const char **out = sl_arena_alloc(a, (len + 1) * sizeof(*out));
    for (size_t i = 0; i < len; i++)
        out[i] = tmp[i];
    free(tmp);
    return out;
}

/* --- parallel ------------------------------------------------------------------------- */

struct combo {
    const char **keys, **values;
    size_t n;
};

/* The matrix entries of `parallel: {matrix: [...]}` as combinations, first key slowest. */
static void matrix_combos(struct sl_arena *a, const struct sl_node *matrix, struct combo **out,
                          size_t *nout, size_t *cap)
{
    for (size_t e = 0; matrix && matrix->kind == SL_NODE_SEQ && e < matrix->n; e++) {
        const struct sl_node *entry = matrix->items[e];
        if (!entry || entry->kind != SL_NODE_MAP || entry->n == 0)
            continue;
        size_t nk = entry->n, total = 1;
        for (size_t k = 0; k < nk; k++) {
            const struct sl_node *v = entry->pairs[k].value;
            total *= v && v->kind == SL_NODE_SEQ ? (v->n ? v->n : 1) : 1;
            if (total > 10000)
                return; /* the validator reports the 200 limit; never explode here */
        }
        for (size_t idx = 0; idx < total; idx++) {
            SL_GROW(*out, *cap, *nout + 1);
            struct combo *c = &(*out)[(*nout)++];
            c->n = nk;
            c->keys = sl_arena_alloc(a, nk * sizeof(char *));
            c->values = sl_arena_alloc(a, nk * sizeof(char *));
            size_t rest = idx;
            for (size_t k = nk; k-- > 0;) { /* last key fastest */
                const struct sl_node *v = entry->pairs[k].value;
                size_t len = v && v->kind == SL_NODE_SEQ ? (v->n ? v->n : 1) : 1;
                const struct sl_node *pick =
                    v && v->kind == SL_NODE_SEQ ? (v->n ? v->items[rest % len] : NULL) : v;
                rest /= len;
                c->keys[k] = entry->pairs[k].key;
                c->values[k] = sl_node_scalar(pick) ? pick->str : "";
            }
        }
    }
}

static const char *matrix_name(struct sl_arena *a, const char *base, const struct combo *c)
{
    struct sl_str s = SL_STR_INIT;
    sl_str_addf(&s, "%s: [", base);
    for (size_t k = 0; k < c->n; k++)
        sl_str_addf(&s, "%s%s", k ? ", " : "", c->values[k]);
    sl_str_addc(&s, ']');
    const char *r = sl_arena_strdup(a, s.buf);
    sl_str_release(&s);
    return r;
}

/* --- variables ------------------------------------------------------------------------ */

/* The job's predefined variables rules may see too (builder.rb predefined_variables):
 * its names, stage and parallel position. */
static void job_names(struct sl_arena *a, struct sl_vars *v, const struct sl_plan_job *j)
{
    sl_vars_set(v, "CI_JOB_NAME", j->name, true);
    sl_vars_set(v, "CI_JOB_NAME_SLUG", sl_plan_slugify(a, j->name), true);
    sl_vars_set(v, "CI_JOB_GROUP_NAME", j->base_name, true);
    sl_vars_set(v, "CI_JOB_STAGE", j->stage, true);
    if (j->parallel_total)
        sl_vars_set(v, "CI_NODE_INDEX", sl_arena_printf(a, "%d", j->parallel_index), false);
    sl_vars_set(v, "CI_NODE_TOTAL",
                sl_arena_printf(a, "%d", j->parallel_total ? j->parallel_total : 1), false);
}

/* True when a user variable (top-level, workflow or pipeline) has a name job_names sets:
 * setting those in place would then override the user's value. */
static bool overrides_job_names(const struct sl_node *top, const struct sl_vars *wf,
                                const struct sl_vars *pipeline)
{
    static const char *const names[] = {"CI_JOB_NAME",  "CI_JOB_NAME_SLUG", "CI_JOB_GROUP_NAME",
                                        "CI_JOB_STAGE", "CI_NODE_INDEX",    "CI_NODE_TOTAL"};
    for (size_t i = 0; i < SL_ARRAY_LEN(names); i++)
        if (sl_node_get(top, names[i]) || sl_vars_get(wf, names[i]) ||
            sl_vars_get(pipeline, names[i]))
            return true;
    return false;
}

static void job_predefined(struct sl_arena *a, struct sl_vars *v, const struct sl_plan_job *j)
{
    job_names(a, v, j);
    if (j->when == SL_PLAN_MANUAL)
        sl_vars_set(v, "CI_JOB_MANUAL", "true", false);
    sl_vars_set(v, "CI_JOB_TIMEOUT", sl_arena_printf(a, "%lld", (long long)j->timeout_s), false);
}

/* --- the build ------------------------------------------------------------------------ */

/* Variables GitLab does not let rules see: they exist only once a job runs (VARIABLES.md,
 * "Job-only"; SPEC.md §4's persisted variables). */
static bool job_only(const char *name)
{
    static const char *const names[] = {
        "CI_PIPELINE_ID",    "CI_PIPELINE_URL", "CI_PIPELINE_CREATED_AT", "CI_REPOSITORY_URL",
        "CI_SERVER",         "CI_JOB_ID",       "CI_JOB_TOKEN",           "CI_JOB_URL",
        "CI_JOB_STARTED_AT", "CI_PROJECT_DIR",  "CI_BUILDS_DIR"};
    for (size_t i = 0; i < SL_ARRAY_LEN(names); i++)
        if (!strcmp(names[i], name))
            return true;
    return false;
}

static void copy_for_rules(struct sl_vars *dst, const struct sl_vars *src)
{
    for (size_t i = 0; i < src->n; i++)
        if (!job_only(src->v[i].name))
            sl_vars_set(dst, src->v[i].name, src->v[i].value, src->v[i].raw);
}

static void free_instances(struct instance *all, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        sl_vars_release(&all[i].job.variables);
        sl_vars_release(&all[i].matrix);
        free(all[i].job.needs);
        free(all[i].job.dependencies);
    }
    free(all);
}

void sl_plan_ctx_release(struct plan_ctx *c)
{
    for (size_t i = 0; i < c->nfiles; i++)
        free(c->files[i]);
    free(c->files);
    for (size_t i = 0; i < c->ncompares; i++) {
        for (size_t k = 0; k < c->compares[i].npaths; k++)
            free(c->compares[i].paths[k]);
        free(c->compares[i].paths);
        free(c->compares[i].ref);
    }
    free(c->compares);
    sl_error_release(&c->rule_err);
}

static void exclude(struct sl_plan *p, size_t *cap, const char *name, const char *reason)
{
    SL_GROW(p->excluded, *cap, p->nexcluded + 1);
    p->excluded[p->nexcluded].name = name;
    p->excluded[p->nexcluded].reason = reason;
    p->nexcluded++;
}

static size_t stage_index(const struct sl_config *cfg, const char *stage)
{
    for (size_t i = 0; i < cfg->nstages; i++)
        if (!strcmp(cfg->stages[i], stage))
            return i;
    return SIZE_MAX;
}

static int cmp_instance(const void *a, const void *b)
{
    const struct instance *x = a, *y = b;
    if (x->job.stage_index != y->job.stage_index)
        return x->job.stage_index < y->job.stage_index ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

/* The names of the instances config job NODE (called NAME) expands to: "name 1/N"...,
 * "name: [a, b]"..., or NAME itself. Appended to *names (arena strings). */
/* A selection value with `$[[ matrix.NAME ]]` (GitLab's matrix expressions, 18.8) takes
 * the needing instance's own value of NAME there, alone or within text ("x-$[[ matrix.V
 * ]]"); NULL when the instance has no such value. Other text as given; allocated in A when
 * anything is replaced. */
static const char *matrix_expression(struct sl_arena *a, const char *v,
                                     const struct sl_vars *matrix)
{
    if (!strstr(v, "$[["))
        return v;
    struct sl_str out = SL_STR_INIT;
    const char *s = v, *res = NULL;
    for (;;) {
        const char *at = strstr(s, "$[[");
        if (!at) {
            sl_str_adds(&out, s);
            break;
        }
        sl_str_add(&out, s, (size_t)(at - s));
        const char *p = at + 3;
        while (*p == ' ')
            p++;
        size_t len = strncmp(p, "matrix.", 7) ? 0 : strcspn(p + 7, " ]");
        const char *q = p + 7 + len;
        while (len && *q == ' ')
            q++;
        if (!len || strncmp(q, "]]", 2)) { /* not a matrix expression: kept as written */
            sl_str_add(&out, at, 3);
            s = at + 3;
            continue;
        }
        char *key = sl_xstrndup(p + 7, len);
        const char *val = sl_vars_get(matrix, key);
        free(key);
        if (!val)
            goto out;
        sl_str_adds(&out, val);
        s = q + 2;
    }
    res = sl_arena_strdup(a, out.buf ? out.buf : "");
out:
    sl_str_release(&out);
    return res;
}

static void instance_names(struct sl_arena *a, const char *name, const struct sl_node *node,
                           const struct sl_node *selection, const struct sl_vars *own_matrix,
                           const char ***names, size_t *n, size_t *cap)
{
    const struct sl_node *par = sl_node_get(node, "parallel");
    if (!selection && par && par->kind == SL_NODE_MAP)
        selection = sl_node_get(par, "matrix");
    if (selection) {
        struct combo *combos = NULL;
        size_t nc = 0, cc = 0;
        matrix_combos(a, selection, &combos, &nc, &cc);
        for (size_t k = 0; k < nc; k++) {
            for (size_t v = 0; own_matrix && v < combos[k].n; v++) {
                const char *x = matrix_expression(a, combos[k].values[v], own_matrix);
                combos[k].values[v] = x ? x : "";
            }
            SL_GROW(*names, *cap, *n + 1);
            (*names)[(*n)++] = matrix_name(a, name, &combos[k]);
        }
        free(combos);
        return;
    }
    int count =
        par && par->kind == SL_NODE_INT ? (int)sl_parse_clamp(par->str, INT_MIN, INT_MAX) : 0;
    for (int i = 0; i < count; i++) {
        SL_GROW(*names, *cap, *n + 1);
        (*names)[(*n)++] = sl_arena_printf(a, "%s %d/%d", name, i + 1, count);
    }
    if (count < 1) {
        SL_GROW(*names, *cap, *n + 1);
        (*names)[(*n)++] = name;
    }
}

/* True when NAME is the name of an instance of a parallel job of CFG: "job 2/3" or
 * "job: [a, b]". */
static bool is_instance_name(const struct sl_config *cfg, const char *name)
{
    const char *cut = strstr(name, ": [");
    size_t len = cut ? (size_t)(cut - name) : 0;
    if (!cut) {
        const char *sp = strrchr(name, ' ');
        int a, b, used = 0;
        if (!sp || sscanf(sp + 1, "%d/%d%n", &a, &b, &used) != 2 || sp[1 + used] != '\0')
            return false;
        len = (size_t)(sp - name);
    }
    char *base = sl_xstrndup(name, len);
    const struct sl_config_job *j = sl_config_job(cfg, base);
    free(base);
    return j && sl_node_get(j->node, "parallel");
}

/* Resolves `needs` of instance IN by name. A need on a parallel job stands for each of its
 * instances (or the matrix selection), each of which must be in the pipeline unless the
 * need is optional (Normalizer, then Seed::Build#needs_errors). Errors in GitLab's
 * wording. */
static int resolve_needs(struct sl_plan *p, struct instance *all, struct instance *in,
                         const struct sl_config *cfg, const struct sl_map *byname,
                         struct sl_error *err)
{
    const struct sl_node *needs = in->needs;
    struct sl_plan_job *j = &in->job;
    const char **wanted = NULL;
    size_t cap = 0, wcap = 0;
    int rc = 0;
    if (!needs || needs->kind != SL_NODE_SEQ)
        return 0;
    j->needs_declared = true;
    for (size_t i = 0; i < needs->n && rc == 0; i++) {
        const struct sl_node *it = needs->items[i];
        const char *name = NULL;
        bool artifacts = true, optional = false;
        const struct sl_node *sel = NULL;
        if (sl_node_is_scalar(it))
            name = it->str;
        else if (it && it->kind == SL_NODE_MAP) {
            if (sl_node_get(it, "pipeline") || sl_node_get(it, "project"))
                continue; /* cross-pipeline needs: nothing to wait for locally */
            name = sl_node_scalar(sl_node_get(it, "job"));
            bool_of(sl_node_get(it, "artifacts"), &artifacts);
            bool_of(sl_node_get(it, "optional"), &optional);
            sel = sl_node_get(sl_node_get(it, "parallel"), "matrix");
        }
        if (!name)
            continue;
        const struct sl_config_job *target = sl_config_job(cfg, name);
        size_t nwanted = 0;
        if (target) {
            instance_names(&p->arena, name, target->node, sel, sel ? &in->matrix : NULL, &wanted,
                           &nwanted, &wcap);
        } else if (is_instance_name(cfg, name)) {
            /* `needs: ["build: [x86]"]` names one instance, as GitLab allows */
            SL_GROW(wanted, wcap, 1);
            wanted[nwanted++] = name;
        } else {
            if (!optional)
                rc = sl_error_set(err, SL_EINVAL, "%s job: undefined need: %s", j->name, name);
            continue;
        }
        for (size_t w = 0; w < nwanted && rc == 0; w++) {
            uintptr_t at = (uintptr_t)sl_map_get(byname, wanted[w]);
            if (!at) {
                if (!optional)
                    rc = sl_error_set(err, SL_EINVAL,
                                      "'%s' job needs '%s' job, but '%s' does not exist in the "
                                      "pipeline. This might be because of the only, except, or "
                                      "rules keywords. To need a job that sometimes does not "
                                      "exist in the pipeline, use needs:optional.",
                                      j->name, wanted[w], wanted[w]);
                continue;
            }
            const struct instance *o = &all[at - 1];
            if (o->job.stage_index > j->stage_index) {
                rc = sl_error_set(err, SL_EINVAL,
                                  "'%s' job needs '%s' job, but '%s' is not in any previous stage",
                                  j->name, wanted[w], wanted[w]);
                break;
            }
            SL_GROW(j->needs, cap, j->nneeds + 1);
            j->needs[j->nneeds].job = o->job.name;
            j->needs[j->nneeds].index = at - 1;
            j->needs[j->nneeds].artifacts = artifacts;
            j->needs[j->nneeds].optional = optional;
            j->nneeds++;
        }
    }
    free(wanted);
    if (rc == 0 && j->nneeds > SL_PLAN_MAX_NEEDS)
        rc = sl_error_set(err, SL_EINVAL,
                          "%s: one job can only need %d others, but you have listed %zu. "
                          "See needs keyword documentation for more details",
                          j->name, SL_PLAN_MAX_NEEDS, j->nneeds);
    return rc;
}

static void resolve_dependencies(struct instance *all, size_t n, struct instance *in,
                                 const struct sl_map *bybase)
{
    const struct sl_node *deps = sl_node_get(in->job.node, "dependencies");
    struct sl_plan_job *j = &in->job;
    size_t cap = 0;
    if (!deps || deps->kind != SL_NODE_SEQ)
        return;
    j->dependencies_declared = true;
    for (size_t i = 0; i < deps->n; i++) {
        const char *name = sl_node_scalar(deps->items[i]);
        uintptr_t at = name ? (uintptr_t)sl_map_get(bybase, name) : 0;
        for (size_t k = at ? at - 1 : n; k < n && !strcmp(all[k].job.base_name, name); k++) {
            SL_GROW(j->dependencies, cap, j->ndependencies + 1);
            j->dependencies[j->ndependencies++] = k;
        }
    }
}

static void normalise_retry(struct sl_arena *a, struct sl_plan_job *j, const struct sl_node *r)
{
    if (!r)
        return;
    if (r->kind == SL_NODE_INT) {
        j->retry_max = (int)sl_parse_clamp(r->str, INT_MIN, INT_MAX);
        return;
    }
    if (r->kind != SL_NODE_MAP)
        return;
    const struct sl_node *max = sl_node_get(r, "max");
    if (max && max->kind == SL_NODE_INT)
        j->retry_max = (int)sl_parse_clamp(max->str, INT_MIN, INT_MAX);
    const struct sl_node *when = sl_node_get(r, "when");
    size_t n = when && when->kind == SL_NODE_SEQ ? when->n : (when ? 1 : 0);
    j->retry_when = sl_arena_alloc(a, (n + 1) * sizeof(char *));
    for (size_t i = 0; i < n; i++) {
        const struct sl_node *w = when->kind == SL_NODE_SEQ ? when->items[i] : when;
        if (sl_node_scalar(w))
            j->retry_when[j->nretry_when++] = w->str;
    }
    j->retry_exit_codes = ints_of(a, sl_node_get(r, "exit_codes"), &j->nretry_exit_codes);
}

/* Decides whether instance IN (named, with its matrix variables) is in the pipeline, with
 * RV the variables its rules see; on inclusion fills its when, allow_failure, needs,
 * interruptible and start_in from the job and the matching rule. False when left out
 * (the reason recorded). */
static bool decide(struct plan_ctx *c, struct instance *in, const struct sl_vars *rv,
                   size_t *capexcl)
{
    struct sl_plan *p = c->plan;
    struct sl_plan_job *j = &in->job;
    const struct sl_node *job = j->node;
    const struct sl_node *rules = sl_node_get(job, "rules");
    const struct sl_node *rule = NULL;
    const char *reason = NULL;

    if (rules && rules->kind == SL_NODE_SEQ) {
        size_t idx = 0;
        rule = sl_plan_first_rule(c, rules, rv, &idx);
        if (!rule) {
            exclude(p, capexcl, j->name, "rules: no rule matched");
            return false;
        }
        const char *w = sl_node_scalar(sl_node_get(rule, "when"));
        if (w && !strcmp(w, "never")) {
            exclude(p, capexcl, j->name,
                    sl_arena_printf(&p->arena, "rules: rule %zu (line %d) has when: never", idx + 1,
                                    rule->pos.line));
            return false;
        }
    } else if (!sl_plan_only_except(c, job, rv, &reason)) {
        exclude(p, capexcl, j->name, reason);
        return false;
    }
    in->rule = rule;

    /* the effective when and allow_failure (SPEC.md §2: manual defaults differ) */
    enum sl_plan_when job_when = SL_PLAN_ON_SUCCESS;
    parse_when(sl_node_scalar(sl_node_get(job, "when")), &job_when);
    j->when = job_when;
    if (rule)
        parse_when(sl_node_scalar(sl_node_get(rule, "when")), &j->when);
    /* GitLab computes the default from the job's own `when` (Entry::Job#ignored?), before
     * any rule: `rules: [{when: manual}]` blocks, a job-level `when: manual` does not */
    j->allow_failure = job_when == SL_PLAN_MANUAL;
    const struct sl_node *af = rule ? sl_node_get(rule, "allow_failure") : NULL;
    if (!af)
        af = sl_node_get(job, "allow_failure");
    if (af && af->kind == SL_NODE_MAP) {
        j->allow_exit_codes =
            ints_of(&p->arena, sl_node_get(af, "exit_codes"), &j->nallow_exit_codes);
        j->allow_failure = true;
    } else {
        bool_of(af, &j->allow_failure);
    }
    bool_of(sl_node_get(job, "interruptible"), &j->interruptible);
    if (rule)
        bool_of(sl_node_get(rule, "interruptible"), &j->interruptible);
    const struct sl_node *start_in = rule && sl_node_get(rule, "start_in")
                                         ? sl_node_get(rule, "start_in")
                                         : sl_node_get(job, "start_in");
    j->start_in_s = duration_of(start_in, 0);
    in->needs =
        rule && sl_node_get(rule, "needs") ? sl_node_get(rule, "needs") : sl_node_get(job, "needs");
    return true;
}

/* Builds the instances of config job CJ that their rules let in. GitLab expands
 * `parallel` first (Normalizer) and evaluates each instance's rules on its own, with its
 * name and matrix values among the variables (Seed::Build#evaluate_context). */
static int plan_job(struct plan_ctx *c, const struct sl_config_job *cj, size_t order,
                    struct sl_vars *base_vars, const struct sl_vars *workflow_vars,
                    struct instance **all, size_t *n, size_t *cap, size_t *capexcl)
{
    struct sl_plan *p = c->plan;
    const struct sl_node *job = cj->node;

    const char *stage = sl_node_scalar(sl_node_get(job, "stage"));
    if (!stage)
        stage = "test";
    /* most jobs have neither variables, inherit:variables nor parallel: their rules see
     * the shared BASE_VARS with the job's own predefined names set in place */
    const struct sl_node *par = sl_node_get(job, "parallel");
    bool shared = c->shared_rule_vars && !par && !sl_node_get(job, "variables") &&
                  !sl_node_get(sl_node_get(job, "inherit"), "variables");

    /* instances: parallel N, parallel:matrix, or one */
    struct combo *combos = NULL;
    size_t ncombos = 0, ccombos = 0;
    int count = 1;
    if (par && par->kind == SL_NODE_INT)
        count = (int)sl_parse_clamp(par->str, INT_MIN, INT_MAX);
    else if (par && par->kind == SL_NODE_MAP) {
        matrix_combos(&p->arena, sl_node_get(par, "matrix"), &combos, &ncombos, &ccombos);
        count = (int)ncombos;
    }
    if (count < 1)
        count = 1;
    for (int i = 0; i < count; i++) {
        SL_GROW(*all, *cap, *n + 1);
        struct instance *in = &(*all)[*n];
        memset(in, 0, sizeof(*in));
        struct sl_plan_job *j = &in->job;
        in->order = order;
        j->base_name = cj->name;
        j->node = job;
        j->stage = stage;
        j->stage_index = stage_index(c->cfg, stage);
        if (combos) {
            j->name = matrix_name(&p->arena, cj->name, &combos[i]);
            for (size_t k = 0; k < combos[i].n; k++)
                sl_vars_set(&in->matrix, combos[i].keys[k], combos[i].values[k], false);
            j->parallel_index = i + 1;
            j->parallel_total = count;
        } else if (par && par->kind == SL_NODE_INT) {
            j->name = sl_arena_printf(&p->arena, "%s %d/%d", cj->name, i + 1, count);
            j->parallel_index = i + 1;
            j->parallel_total = count;
        } else {
            j->name = cj->name;
        }

        bool in_pipeline;
        if (shared) {
            job_names(&p->arena, base_vars, j);
            in_pipeline = decide(c, in, base_vars, capexcl);
        } else {
            struct sl_vars rv = SL_VARS_INIT;
            sl_vars_copy(&rv, c->rule_base);
            job_names(&p->arena, &rv, j);
            add_root_vars(&rv, c->top_vars, workflow_vars, job);
            add_yaml_vars(&rv, sl_node_get(job, "variables"), NULL, true);
            sl_vars_copy(&rv, &in->matrix);
            sl_vars_copy(&rv, &c->t->stored_vars);
            sl_vars_copy(&rv, &c->t->pipeline_vars);
            in_pipeline = decide(c, in, &rv, capexcl);
            sl_vars_release(&rv);
        }
        if (!in_pipeline) {
            sl_vars_release(&in->matrix);
            continue;
        }
        j->timeout_s = duration_of(sl_node_get(job, "timeout"), SL_PLAN_DEFAULT_TIMEOUT_S);
        normalise_retry(&p->arena, j, sl_node_get(job, "retry"));
        j->before_script = script_of(&p->arena, sl_node_get(job, "before_script"));
        j->script = script_of(&p->arena, sl_node_get(job, "script"));
        j->after_script = script_of(&p->arena, sl_node_get(job, "after_script"));
        if (!sl_node_get(job, "script"))
            j->trigger = sl_node_get(job, "trigger");
        sl_plan_job_fields(&p->arena, j, c->top_vars);
        (*n)++;
    }
    free(combos);
    return 0;
}

/* Every variable the job sees, lowest precedence first (VARIABLES.md, builder.rb). */
static int job_variables(struct plan_ctx *c, struct instance *in, const struct sl_vars *pipeline,
                         const struct sl_vars *workflow_vars, struct sl_error *err)
{
    struct sl_plan_job *j = &in->job;
    struct sl_vars *v = &j->variables;
    sl_vars_copy(v, pipeline);
    job_predefined(&c->plan->arena, v, j);
    add_root_vars(v, c->top_vars, workflow_vars, j->node);
    add_yaml_vars(v, sl_node_get(j->node, "variables"), NULL, true);
    sl_vars_copy(v, &in->matrix);
    if (in->rule)
        add_yaml_vars(v, sl_node_get(in->rule, "variables"), NULL, true);
    sl_vars_copy(v, &c->t->pipeline_vars);
    struct sl_error e = SL_ERROR_INIT;
    if (sl_vars_expand_all(v, &e) < 0) {
        /* Seed::Build#variable_expansion_errors: "<job name>: <errors>" */
        int rc = sl_error_set(err, SL_EINVAL, "%s: %s", j->name, e.message);
        sl_error_release(&e);
        return rc;
    }
    /* environment and resource_group are expanded by GitLab with the job's variables */
    const struct sl_node *env = sl_node_get(j->node, "environment");
    const char *env_name =
        sl_node_scalar(env) ? env->str : sl_node_scalar(sl_node_get(env, "name"));
    if (env_name) {
        char *x = sl_vars_expand(v, env_name, false);
        j->environment = sl_arena_strdup(&c->plan->arena, x);
        free(x);
        sl_vars_set(v, "CI_ENVIRONMENT_NAME", j->environment, false);
        sl_vars_set(v, "CI_ENVIRONMENT_SLUG", sl_plan_slugify(&c->plan->arena, j->environment),
                    false);
        const char *action = sl_node_scalar(sl_node_get(env, "action"));
        j->environment_action = action ? action : "start";
        sl_vars_set(v, "CI_ENVIRONMENT_ACTION", j->environment_action, false);
        const char *url = sl_node_scalar(sl_node_get(env, "url"));
        if (url) {
            char *u = sl_vars_expand(v, url, false);
            /* what the job's variables leave undefined may come from its own dotenv
             * report (GitLab's dynamic environment URL): the server expands it again
             * when the job succeeds */
            char *k = sl_vars_expand(v, url, true);
            j->environment_url = sl_arena_strdup(&c->plan->arena, u);
            if (strcmp(k, u) != 0)
                j->environment_url_template = sl_arena_strdup(&c->plan->arena, k);
            sl_vars_set(v, "CI_ENVIRONMENT_URL", u, false);
            free(u);
            free(k);
        }
        const struct sl_node *k8s = sl_node_get(env, "kubernetes");
        if (k8s) {
            struct sl_str text = SL_STR_INIT;
            struct sl_jsonw w;
            sl_jsonw_init(&w, &text);
            sl_plan_node_write_json(&w, k8s);
            j->environment_kubernetes = sl_arena_strdup(&c->plan->arena, text.buf);
            sl_str_release(&text);
        }
        const char *tier = sl_node_scalar(sl_node_get(env, "deployment_tier"));
        j->environment_tier = tier ? tier : sl_plan_guess_tier(j->environment);
        sl_vars_set(v, "CI_ENVIRONMENT_TIER", j->environment_tier, false);
        j->environment_on_stop = sl_node_scalar(sl_node_get(env, "on_stop"));
        const char *stop_in = sl_node_scalar(sl_node_get(env, "auto_stop_in"));
        int64_t secs = 0;
        if (stop_in && strcmp(stop_in, "never") && sl_time_parse_duration(stop_in, &secs) == 0)
            j->environment_auto_stop_in_s = secs;
    }
    const char *rg = sl_node_scalar(sl_node_get(j->node, "resource_group"));
    if (rg) {
        char *x = sl_vars_expand(v, rg, false);
        j->resource_group = sl_arena_strdup(&c->plan->arena, x);
        free(x);
    }
    return 0;
}

/* True when some job is outside .pre and .post: those alone make no pipeline
 * (Chain::Populate#stage_names). */
static bool has_real_stage(const struct instance *all, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(all[i].job.stage, ".pre") && strcmp(all[i].job.stage, ".post"))
            return true;
    return false;
}

/* One auto_cancel value of NODE's KEY, if it is one of ALLOWED; else DEF. */
static const char *auto_cancel_value(const struct sl_node *node, const char *key,
                                     const char *const *allowed, const char *def)
{
    const char *v = sl_node_scalar(sl_node_get(node, key));
    for (size_t i = 0; v && allowed[i]; i++)
        if (!strcmp(v, allowed[i]))
            return allowed[i];
    return def;
}

/* workflow:auto_cancel, then the matching workflow rule's auto_cancel over it (GitLab
 * lets a rule set either key). */
static void auto_cancel(struct sl_plan *p, const struct sl_node *workflow_ac,
                        const struct sl_node *rule_ac)
{
    static const char *const on_new_commit[] = {"conservative", "interruptible", "none", NULL};
    static const char *const on_job_failure[] = {"none", "all", NULL};
    p->auto_cancel_on_new_commit = auto_cancel_value(
        rule_ac, "on_new_commit", on_new_commit,
        auto_cancel_value(workflow_ac, "on_new_commit", on_new_commit, "conservative"));
    p->auto_cancel_on_job_failure =
        auto_cancel_value(rule_ac, "on_job_failure", on_job_failure,
                          auto_cancel_value(workflow_ac, "on_job_failure", on_job_failure, "none"));
}

int sl_plan_build(struct sl_plan **out, const struct sl_config *cfg, const struct sl_trigger *t,
                  struct sl_error *err)
{
    struct sl_plan *p = sl_xcalloc(1, sizeof(*p));
    struct plan_ctx c = {0};
    struct sl_vars workflow_vars = SL_VARS_INIT, rule_base = SL_VARS_INIT;
    struct sl_map byname = SL_MAP_INIT, bybase = SL_MAP_INIT;
    struct instance *all = NULL;
    size_t n = 0, cap = 0, capexcl = 0;
    int rc = 0;
    char ts[40];

    c.plan = p;
    c.a = &p->arena;
    c.cfg = cfg;
    c.t = t;
    c.rule_base = &rule_base;

    /* pipeline-level variables: what workflow:rules and workflow:name see */
    sl_vars_copy(&p->variables, &t->predefined);
    /* a server plans before its store numbers the pipeline (pipeline_id 0): the ids are
     * then left out, so references to them stay for the runner's expansion with the real
     * ones (jobspec.h's bind) instead of becoming "0" */
    if (t->pipeline_id > 0) {
        sl_vars_set(&p->variables, "CI_PIPELINE_ID",
                    sl_arena_printf(&p->arena, "%lld", (long long)t->pipeline_id), false);
        sl_vars_set(
            &p->variables, "CI_PIPELINE_IID",
            sl_arena_printf(&p->arena, "%lld",
                            (long long)(t->pipeline_iid ? t->pipeline_iid : t->pipeline_id)),
            false);
    }
    if (t->created_at_ms > 0) { /* the trigger's time: the plan reads no clock */
        sl_time_iso8601(t->created_at_ms, ts, sizeof(ts));
        sl_vars_set(&p->variables, "CI_PIPELINE_CREATED_AT", ts, false);
    }
    copy_for_rules(&rule_base, &p->variables);
    struct sl_vars rule_vars = SL_VARS_INIT;
    sl_vars_copy(&rule_vars, &rule_base);
    add_yaml_vars(&rule_vars, sl_node_get(cfg->root, "variables"), NULL, true);
    sl_vars_copy(&rule_vars, &t->stored_vars);
    sl_vars_copy(&rule_vars, &t->pipeline_vars);

    c.top_vars = sl_node_get(cfg->root, "variables");
    sl_plan_var_attrs(p, c.top_vars);
    const struct sl_node *workflow = sl_config_section(cfg->root, "workflow");
    const struct sl_node *wrules = sl_node_get(workflow, "rules");
    c.workflow_rules = wrules && wrules->kind == SL_NODE_SEQ;
    p->created = true;
    const struct sl_node *wrule = NULL; /* the workflow rule that matched */
    if (c.workflow_rules) {
        size_t idx = 0;
        const struct sl_node *r = sl_plan_first_rule(&c, wrules, &rule_vars, &idx);
        wrule = r;
        if (c.rule_rc < 0) {
            rc = sl_error_set(err, c.rule_rc, "workflow: %s", c.rule_err.message);
            sl_vars_release(&rule_vars);
            goto fail;
        }
        if (!r) {
            p->created = false;
            p->reason = "workflow:rules: no rule matched";
        } else {
            const char *w = sl_node_scalar(sl_node_get(r, "when"));
            bool never = w && !strcmp(w, "never");
            p->created = !never;
            const char *file = r->pos.file ? strrchr(r->pos.file, '/') : NULL;
            file = file ? file + 1 : (r->pos.file ? r->pos.file : "?");
            p->reason = sl_arena_printf(&p->arena, "workflow:rules: rule %zu (%s:%d)%s", idx + 1,
                                        file, r->pos.line, never ? " has when: never" : " matched");
            add_yaml_vars(&workflow_vars, sl_node_get(r, "variables"), NULL, true);
        }
    }
    auto_cancel(p, sl_node_get(workflow, "auto_cancel"), sl_node_get(wrule, "auto_cancel"));
    const char *wname = sl_node_scalar(sl_node_get(workflow, "name"));
    if (wname) {
        struct sl_vars nv = SL_VARS_INIT; /* the rules' variables but the stored ones */
        sl_vars_copy(&nv, &rule_base);
        add_yaml_vars(&nv, sl_node_get(cfg->root, "variables"), NULL, true);
        sl_vars_copy(&nv, &t->pipeline_vars);
        sl_vars_copy(&nv, &workflow_vars);
        char *x = sl_vars_expand(&nv, wname, false);
        p->name = sl_arena_strdup(&p->arena, x);
        free(x);
        sl_vars_release(&nv);
        sl_vars_set(&p->variables, "CI_PIPELINE_NAME", p->name, false);
        sl_vars_set(&rule_base, "CI_PIPELINE_NAME", p->name, false);
    }
    sl_vars_release(&rule_vars);
    if (!p->created)
        goto done;

    /* the shared rule variables keep the job names at the lowest precedence (set per job in
     * place); a user variable of one of those names makes every job build its own */
    struct sl_vars base = SL_VARS_INIT;
    sl_vars_copy(&base, &rule_base);
    struct sl_plan_job blank = {.name = "", .base_name = "", .stage = ""};
    job_names(&p->arena, &base, &blank);
    add_yaml_vars(&base, c.top_vars, NULL, true);
    sl_vars_copy(&base, &workflow_vars);
    sl_vars_copy(&base, &t->stored_vars);
    sl_vars_copy(&base, &t->pipeline_vars);
    c.shared_rule_vars = !overrides_job_names(c.top_vars, &workflow_vars, &t->pipeline_vars) &&
                         !overrides_job_names(c.top_vars, &workflow_vars, &t->stored_vars);
    for (size_t i = 0; i < cfg->njobs && rc == 0; i++) {
        rc = plan_job(&c, &cfg->jobs[i], i, &base, &workflow_vars, &all, &n, &cap, &capexcl);
        if (rc == 0 && c.rule_rc < 0) /* Seed::Build#rules_errors */
            rc = sl_error_set(err, c.rule_rc, "Failed to parse rule for %s: %s", cfg->jobs[i].name,
                              c.rule_err.message);
    }
    sl_vars_release(&base);
    if (rc < 0)
        goto fail;
    /* stage order, then file order (qsort with the order key keeps it stable) */
    if (n)
        qsort(all, n, sizeof(*all), cmp_instance);
    for (size_t i = 0; i < n; i++) {
        sl_map_put(&byname, all[i].job.name, (void *)(uintptr_t)(i + 1));
        if (!sl_map_has(&bybase, all[i].job.base_name))
            sl_map_put(&bybase, all[i].job.base_name, (void *)(uintptr_t)(i + 1));
    }
    for (size_t i = 0; i < n; i++) {
        if ((rc = resolve_needs(p, all, &all[i], cfg, &byname, err)) < 0)
            goto fail;
        resolve_dependencies(all, n, &all[i], &bybase);
        if ((rc = job_variables(&c, &all[i], &p->variables, &workflow_vars, err)) < 0)
            goto fail;
    }
    if (!has_real_stage(all, n)) {
        /* GitLab refuses to create it: no pipeline, and any .pre/.post job is left out */
        p->created = false;
        p->reason = "Pipeline will not run for the selected trigger. The rules configuration "
                    "prevented any jobs from being added to the pipeline.";
        for (size_t i = 0; i < n; i++)
            exclude(p, &capexcl, all[i].job.name,
                    ".pre and .post jobs alone do not make a pipeline");
        free_instances(all, n);
        all = NULL;
        n = 0;
        goto done;
    }
    /* a job whose needs were all optional and absent behaves as needs: [] (already so) */
    p->jobs = sl_xcalloc(n + 1, sizeof(*p->jobs));
    for (size_t i = 0; i < n; i++) {
        p->jobs[i] = all[i].job;
        sl_vars_release(&all[i].matrix);
    }
    p->njobs = n;
    /* the stages that have jobs */
    p->stages = sl_arena_alloc(&p->arena, (cfg->nstages + 1) * sizeof(char *));
    for (size_t s = 0; s < cfg->nstages; s++) {
        bool used = false;
        for (size_t i = 0; i < n && !used; i++)
            used = p->jobs[i].stage_index == s;
        if (used)
            p->stages[p->nstages++] = cfg->stages[s];
    }
    /* renumber stage indices into p->stages */
    for (size_t i = 0; i < n; i++) {
        for (size_t s = 0; s < p->nstages; s++)
            if (!strcmp(p->stages[s], p->jobs[i].stage))
                p->jobs[i].stage_index = s;
        /* needs arrays were allocated with SL_GROW: move them into the arena */
        struct sl_plan_need *needs =
            sl_arena_alloc(&p->arena, (p->jobs[i].nneeds + 1) * sizeof(*needs));
        if (p->jobs[i].nneeds)
            memcpy(needs, p->jobs[i].needs, p->jobs[i].nneeds * sizeof(*needs));
        free(p->jobs[i].needs);
        p->jobs[i].needs = needs;
        size_t *deps = sl_arena_alloc(&p->arena, (p->jobs[i].ndependencies + 1) * sizeof(*deps));
        if (p->jobs[i].ndependencies)
            memcpy(deps, p->jobs[i].dependencies, p->jobs[i].ndependencies * sizeof(*deps));
        free(p->jobs[i].dependencies);
        p->jobs[i].dependencies = deps;
    }
    free(all);
    all = NULL;
    n = 0;
done:
    sl_map_release(&byname);
    sl_map_release(&bybase);
    sl_vars_release(&workflow_vars);
    sl_vars_release(&rule_base);
    sl_plan_ctx_release(&c);
    *out = p;
    return 0;
fail:
    sl_map_release(&byname);
    sl_map_release(&bybase);
    free_instances(all, n);
    sl_vars_release(&workflow_vars);
    sl_vars_release(&rule_base);
    sl_plan_ctx_release(&c);
    sl_plan_free(p);
    return rc;
}
