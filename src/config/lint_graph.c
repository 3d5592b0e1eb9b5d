/* lint_graph.c: the checks of GitLab's YamlProcessor that look across jobs, beyond the
 * names of a job's own needs and dependencies (lint.c): rules:needs, needs:parallel:matrix
 * selections, duplicated needs, the needs limit, dependencies among needs,
 * environment:on_stop, circular needs. Messages in GitLab's wording
 * (lib/gitlab/ci/yaml_processor.rb, yaml_processor/dag.rb, config/entry/job.rb). */
#include "base/compat.h"
#include "config/lint_graph.h"
#include "base/alloc.h"
#include "base/map.h"
#include "base/str.h"

/* The instance names a matrix may stand for are generated to be compared; the validator
 * reports matrices over SL_CONFIG_MAX_MATRIX, this only keeps a broken one from exploding. */
#define MAX_EXPANDED 10000

static const char *job_stage(const struct sl_node *job)
{
    const char *s = sl_node_scalar(sl_node_get(job, "stage"));
    if (!s)
        s = sl_node_scalar(sl_node_get(job, "type"));
    return s ? s : "test";
}

static size_t stage_index(const struct sl_config *cfg, const struct sl_config_job *j)
{
    const char *stage = job_stage(j->node);
    for (size_t i = 0; i < cfg->nstages; i++)
        if (!strcmp(cfg->stages[i], stage))
            return i;
    return SIZE_MAX;
}

/* The job name a `needs` item stands for, and its `parallel:matrix` selection; NULL for a
 * cross-pipeline need (`pipeline:` or `project:`) or a malformed item (the keyword table
 * reports those). */
static const char *need_name(const struct sl_node *it, const struct sl_node **sel)
{
    *sel = NULL;
    if (sl_node_is_scalar(it) && it->kind != SL_NODE_NULL)
        return it->str;
    if (!it || it->kind != SL_NODE_MAP || sl_node_get(it, "pipeline") || sl_node_get(it, "project"))
        return NULL;
    const struct sl_node *m = sl_node_get(sl_node_get(it, "parallel"), "matrix");
    *sel = m && m->kind == SL_NODE_SEQ ? m : NULL;
    return sl_node_scalar(sl_node_get(it, "job"));
}

static bool need_optional(const struct sl_node *it)
{
    const struct sl_node *o = it && it->kind == SL_NODE_MAP ? sl_node_get(it, "optional") : NULL;
    return o && o->kind == SL_NODE_BOOL && !strcmp(o->str, "true");
}

/* Calls FN with each name `BASE: [v1, v2]` that MATRIX (a sequence of hashes of a value or
 * an array of values) generates, first key slowest, as GitLab's Normalizer names them.
 * Stops early when FN returns true, and then returns true. */
typedef bool (*name_fn)(void *ctx, const char *name);
static bool each_matrix_name(const char *base, const struct sl_node *matrix, name_fn fn, void *ctx)
{
    struct sl_str s = SL_STR_INIT;
    size_t made = 0;
    bool stop = false;
    for (size_t e = 0; !stop && matrix && matrix->kind == SL_NODE_SEQ && e < matrix->n; e++) {
        const struct sl_node *entry = matrix->items[e];
        if (!entry || entry->kind != SL_NODE_MAP || !entry->n)
            continue;
        size_t total = 1;
        for (size_t k = 0; k < entry->n && total <= MAX_EXPANDED; k++) {
            const struct sl_node *v = entry->pairs[k].value;
            total *= v && v->kind == SL_NODE_SEQ && v->n ? v->n : 1;
        }
        for (size_t idx = 0; !stop && idx < total && made < MAX_EXPANDED; idx++, made++) {
            /* the last key varies fastest: decode IDX from the last key backwards */
            size_t pick[64], rest = idx, nk = entry->n < 64 ? entry->n : 64;
            for (size_t k = nk; k-- > 0;) {
                const struct sl_node *v = entry->pairs[k].value;
                size_t len = v && v->kind == SL_NODE_SEQ && v->n ? v->n : 1;
                pick[k] = rest % len;
                rest /= len;
            }
            sl_str_reset(&s);
            sl_str_addf(&s, "%s: [", base);
            for (size_t k = 0; k < nk; k++) {
                const struct sl_node *v = entry->pairs[k].value;
                const struct sl_node *x =
                    v && v->kind == SL_NODE_SEQ ? (v->n ? v->items[pick[k]] : NULL) : v;
                const char *str = sl_node_scalar(x);
                sl_str_addf(&s, "%s%s", k ? ", " : "", str ? str : "");
            }
            sl_str_addc(&s, ']');
            stop = fn(ctx, s.buf);
        }
    }
    sl_str_release(&s);
    return stop;
}

static bool name_equals(void *ctx, const char *name)
{
    return !strcmp(ctx, name);
}

/* The job NAME is, or whose parallel instance it is: `build 2/3` is an instance of `build`
 * with `parallel: 3`, `build: [a, x]` one of `build` with a matrix generating it. */
static const struct sl_config_job *find_job(const struct sl_config *cfg, const char *name)
{
    const struct sl_config_job *j = sl_config_job(cfg, name);
    if (j)
        return j;
    size_t len = strlen(name);
    const char *sp = strrchr(name, ' ');
    unsigned i, n;
    int used = 0;
    if (sp && sscanf(sp + 1, "%u/%u%n", &i, &n, &used) == 2 && sp[1 + used] == '\0' && i >= 1 &&
        i <= n) {
        char *base = sl_xstrndup(name, (size_t)(sp - name));
        j = sl_config_job(cfg, base);
        free(base);
        const struct sl_node *par = j ? sl_node_get(j->node, "parallel") : NULL;
        if (par && par->kind == SL_NODE_INT && strtoul(par->str, NULL, 10) == n)
            return j;
        j = NULL;
    }
    if (len < 4 || name[len - 1] != ']')
        return NULL;
    /* a job name may itself hold ": [": try every split */
    for (const char *at = strstr(name, ": ["); at; at = strstr(at + 1, ": [")) {
        char *base = sl_xstrndup(name, (size_t)(at - name));
        j = sl_config_job(cfg, base);
        const struct sl_node *m =
            j ? sl_node_get(sl_node_get(j->node, "parallel"), "matrix") : NULL;
        bool found = m && each_matrix_name(base, m, name_equals, (void *)name);
        free(base);
        if (found)
            return j;
    }
    return NULL;
}

struct need_ctx {
    struct lint *l;
    const struct sl_config_job *self, *target;
    const struct sl_node *item;
    bool optional;
    struct sl_map *seen;
    struct sl_str *dups;
    const struct sl_node **dup_at;
};

/* A need's name as GitLab compares it for duplicates (after parallel expansion). */
static void note_need(struct need_ctx *c, const char *name)
{
    if (!sl_map_has(c->seen, name)) {
        sl_map_put(c->seen, name, (void *)1);
        return;
    }
    if (sl_map_get(c->seen, name) == (void *)2)
        return;
    sl_map_put(c->seen, name, (void *)2);
    sl_str_addf(c->dups, "%s%s", c->dups->len ? ", " : "", name);
    if (!*c->dup_at)
        *c->dup_at = c->item;
}

static bool count_name(void *ctx, const char *name)
{
    (void)name;
    return ++*(size_t *)ctx > SL_CONFIG_MAX_MATRIX;
}

/* One name of a `parallel:matrix` selection; the first one that names no instance is
 * reported and ends the walk (GitLab stops at its first error too). */
static bool check_selected(void *ctx, const char *name)
{
    struct need_ctx *c = ctx;
    note_need(c, name);
    /* `$[[ matrix.NAME ]]` is the needing instance's own value: known only once expanded */
    if (strstr(name, "$[[") || find_job(c->l->cfg, name) == c->target || c->optional)
        return false;
    sl_lint_error(c->l, c->item, "%s job: undefined need: %s", c->self->name, name);
    return true;
}

/* One `needs` list. NAMES: also check that each name exists in an allowed stage and is not
 * the job itself (lint.c's check_references does that for the job's own `needs`; a rule's
 * `needs` come here for it). Always: the names a `parallel:matrix` selection stands for,
 * duplicates and the limit. */
static void check_needs(struct lint *l, const struct sl_config_job *j, const struct sl_node *needs,
                        size_t mine, bool names)
{
    struct sl_map seen = SL_MAP_INIT;
    struct sl_str dups = SL_STR_INIT;
    const struct sl_node *dup_at = NULL;
    for (size_t i = 0; i < needs->n; i++) {
        const struct sl_node *it = needs->items[i], *sel;
        const char *name = need_name(it, &sel);
        if (!name)
            continue;
        struct need_ctx c = {l, j, NULL, it, need_optional(it), &seen, &dups, &dup_at};
        if (!strcmp(name, j->name)) {
            if (names)
                sl_lint_error(l, it, "%s job: need %s is itself", j->name, name);
            continue;
        }
        c.target = sel ? sl_config_job(l->cfg, name) : find_job(l->cfg, name);
        if (!c.target) {
            note_need(&c, name);
            if (names && !c.optional) {
                sl_lint_error(l, it, "%s job: undefined need: %s", j->name, name);
                sl_kw_hint_job(l, name);
            }
            continue;
        }
        size_t selected = 0;
        if (sel && !each_matrix_name(name, sel, count_name, &selected))
            each_matrix_name(name, sel, check_selected, &c);
        else if (!sel)
            note_need(&c, name);
        size_t theirs = stage_index(l->cfg, c.target);
        if (names && mine != SIZE_MAX && theirs != SIZE_MAX && theirs > mine)
            sl_lint_error(l, it, "%s job: need %s is not defined in current or prior stages",
                          j->name, name);
    }
    /* GitLab counts needs when it creates the pipeline, after expanding parallel jobs (the
     * plan room does that); a list longer than the limit fails whatever the expansion */
    if (needs->n > SL_CONFIG_MAX_NEEDS)
        sl_lint_error(l, needs,
                      "%s: one job can only need %d others, but you have listed %zu. See needs "
                      "keyword documentation for more details",
                      j->name, SL_CONFIG_MAX_NEEDS, needs->n);
    if (dup_at)
        sl_lint_error(l, dup_at, "%s has the following needs duplicated: %s.", j->name, dups.buf);
    sl_str_release(&dups);
    sl_map_release(&seen);
}

static bool in_needs(const struct sl_node *needs, const char *name)
{
    for (size_t i = 0; i < needs->n; i++) {
        const struct sl_node *sel;
        const char *n = need_name(needs->items[i], &sel);
        if (n && !strcmp(n, name))
            return true;
    }
    return false;
}

/* GitLab's Job entry: with both keywords, every dependency must also be a need. */
static void check_dependencies_in_needs(struct lint *l, const struct sl_config_job *j,
                                        const struct sl_node *deps, const struct sl_node *needs)
{
    if (!needs || needs->kind != SL_NODE_SEQ || !needs->n)
        return;
    bool local = false;
    for (size_t i = 0; i < needs->n && !local; i++) {
        const struct sl_node *sel;
        local = need_name(needs->items[i], &sel) != NULL;
    }
    if (!local) {
        sl_lint_error(l, needs,
                      "jobs:%s needs corresponding to dependencies must be from the same "
                      "pipeline",
                      j->name);
        return;
    }
    struct sl_str missing = SL_STR_INIT;
    const struct sl_node *at = NULL;
    for (size_t i = 0; i < deps->n; i++) {
        const char *name = sl_node_scalar(deps->items[i]);
        if (!name || in_needs(needs, name))
            continue;
        sl_str_addf(&missing, "%s%s", missing.len ? ", " : "", name);
        if (!at)
            at = deps->items[i];
    }
    if (at)
        sl_lint_error(l, at, "jobs:%s dependencies the %s should be part of needs", j->name,
                      missing.buf);
    sl_str_release(&missing);
}

static const char *env_name(const struct sl_node *env)
{
    return env && env->kind == SL_NODE_MAP ? sl_node_scalar(sl_node_get(env, "name"))
                                           : sl_node_scalar(env);
}

/* `environment:on_stop` names a job that stops the same environment. GitLab stops at the
 * first of these four problems. */
static void check_on_stop(struct lint *l, const struct sl_config_job *j)
{
    const struct sl_node *env = sl_node_get(j->node, "environment");
    const struct sl_node *on_stop =
        env && env->kind == SL_NODE_MAP ? sl_node_get(env, "on_stop") : NULL;
    const char *stop_name = sl_node_scalar(on_stop);
    if (!stop_name || on_stop->kind == SL_NODE_NULL)
        return;
    const struct sl_config_job *stop = find_job(l->cfg, stop_name);
    const struct sl_node *senv = stop ? sl_node_get(stop->node, "environment") : NULL;
    const char *a = env_name(env), *b = env_name(senv);
    const char *action =
        senv && senv->kind == SL_NODE_MAP ? sl_node_scalar(sl_node_get(senv, "action")) : NULL;
    if (!stop)
        sl_lint_error(l, on_stop, "%s job: on_stop job %s is not defined", j->name, stop_name);
    else if (!senv || senv->kind == SL_NODE_NULL)
        sl_lint_error(l, on_stop, "%s job: on_stop job %s does not have environment defined",
                      j->name, stop_name);
    else if (!a || !b || strcmp(a, b))
        sl_lint_error(l, on_stop, "%s job: on_stop job %s have different environment name", j->name,
                      stop_name);
    else if (!action || strcmp(action, "stop"))
        sl_lint_error(l, on_stop, "%s job: on_stop job %s needs to have action stop defined",
                      j->name, stop_name);
}

void sl_lint_job_graph(struct lint *l, const struct sl_config_job *j)
{
    size_t mine = stage_index(l->cfg, j);
    const struct sl_node *needs = sl_node_get(j->node, "needs");
    if (needs && needs->kind == SL_NODE_SEQ)
        check_needs(l, j, needs, mine, false);
    const struct sl_node *rules = sl_node_get(j->node, "rules");
    for (size_t i = 0; rules && rules->kind == SL_NODE_SEQ && i < rules->n; i++) {
        const struct sl_node *rn = sl_node_get(rules->items[i], "needs");
        if (rn && rn->kind == SL_NODE_SEQ)
            check_needs(l, j, rn, mine, true);
    }
    const struct sl_node *deps = sl_node_get(j->node, "dependencies");
    if (deps && deps->kind == SL_NODE_SEQ)
        check_dependencies_in_needs(l, j, deps, needs);
    check_on_stop(l, j);
}

/* Depth-first search over `needs` edges with an explicit stack (a long chain of needs must
 * not exhaust the C stack). */
void sl_lint_graph_cycles(struct lint *l)
{
    const struct sl_config *cfg = l->cfg;
    size_t n = cfg->njobs;
    if (!n)
        return;
    unsigned char *state = sl_xcalloc(n, 1); /* 0 new, 1 on the stack, 2 done */
    size_t *job = sl_xmalloc(n * sizeof(*job)), *next = sl_xmalloc(n * sizeof(*next));
    for (size_t root = 0; root < n; root++) {
        if (state[root])
            continue;
        size_t depth = 0;
        job[depth] = root;
        next[depth++] = 0;
        state[root] = 1;
        while (depth) {
            size_t cur = job[depth - 1];
            const struct sl_node *needs = sl_node_get(cfg->jobs[cur].node, "needs");
            size_t count = needs && needs->kind == SL_NODE_SEQ ? needs->n : 0;
            if (next[depth - 1] >= count) {
                state[cur] = 2;
                depth--;
                continue;
            }
            const struct sl_node *it = needs->items[next[depth - 1]++], *sel;
            const char *name = need_name(it, &sel);
            const struct sl_config_job *o = !name ? NULL
                                            : sel ? sl_config_job(cfg, name)
                                                  : find_job(cfg, name);
            if (!o)
                continue;
            size_t to = (size_t)(o - cfg->jobs);
            if (to == cur || state[to] == 2)
                continue; /* a job needing itself has its own message */
            if (state[to] == 1) {
                sl_lint_error(l, it, "The pipeline has circular dependencies.");
                goto out;
            }
            state[to] = 1;
            job[depth] = to;
            next[depth++] = 0;
        }
    }
out:
    free(state);
    free(job);
    free(next);
}
