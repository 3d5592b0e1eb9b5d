/* lint.c: sl_config_validate, the validation of a resolved configuration: every job and
 * the default: section through the keyword table (keywords.c), the top-level keys, then
 * the logical checks of GitLab's YamlProcessor (stages exist, needs and dependencies name
 * jobs in allowed stages, at least one visible job, every job has script or trigger). */
#include "base/compat.h"
#include "config/keywords.h"
#include "config/lint_graph.h"
#include "base/alloc.h"
#include "base/str.h"
#include "base/suggest.h"

#include <stdatomic.h>

static _Atomic(sl_config_expr_check_fn) expr_checker;

void sl_config_set_expr_checker(sl_config_expr_check_fn fn)
{
    atomic_store(&expr_checker, fn);
}

bool sl_lint_expression_ok(const char *src)
{
    sl_config_expr_check_fn fn = atomic_load(&expr_checker);
    return !fn || fn(src);
}

static void vadd(struct lint *l, enum sl_diag_level level, struct sl_pos pos, const char *fmt,
                 va_list ap) SL_PRINTF(4, 0);
static void vadd(struct lint *l, enum sl_diag_level level, struct sl_pos pos, const char *fmt,
                 va_list ap)
{
    sl_diag_vadd(l->diag, level, pos.file ? pos.file : l->cfg->path, pos.line, pos.col, fmt, ap);
}

void sl_lint_error(struct lint *l, const struct sl_node *at, const char *fmt, ...)
{
    va_list ap;
    struct sl_pos none = {NULL, 0, 0};
    va_start(ap, fmt);
    vadd(l, SL_DIAG_ERROR, at ? at->pos : none, fmt, ap);
    va_end(ap);
}

void sl_lint_error_pos(struct lint *l, struct sl_pos pos, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vadd(l, SL_DIAG_ERROR, pos, fmt, ap);
    va_end(ap);
}

void sl_lint_warning(struct lint *l, struct sl_pos pos, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vadd(l, SL_DIAG_WARNING, pos, fmt, ap);
    va_end(ap);
}

/* A keyword sluice accepts but does not act on: one warning per pipeline, at its first
 * place; the others are counted into that warning's message by count_unacted. */
static void warn_unacted(struct lint *l, const struct keyword *kw, const char *loc,
                         const struct sl_pair *p)
{
    for (size_t i = 0; i < l->nunacted; i++) {
        if (l->unacted[i].kw == kw) {
            l->unacted[i].more++;
            return;
        }
    }
    sl_lint_warning(l, p->key_pos, "%s:%s is accepted but sluice does not act on it", loc, p->key);
    if (l->nunacted < SL_ARRAY_LEN(l->unacted)) {
        l->unacted[l->nunacted].kw = kw;
        l->unacted[l->nunacted].item = l->diag->last;
        l->unacted[l->nunacted++].more = 0;
    }
}

static void count_unacted(struct lint *l)
{
    for (size_t i = 0; i < l->nunacted; i++) {
        size_t more = l->unacted[i].more;
        if (!more)
            continue;
        struct sl_diag_item *it = &l->diag->items[l->unacted[i].item];
        char *m = sl_xasprintf("%s (and in %zu more place%s, warned once)", it->message, more,
                               more == 1 ? "" : "s");
        free(it->message);
        it->message = m;
    }
}

/* One job's keys through the table. */
/* ONLY (NULL: any): the keys of the table's WHERE that this entry takes, for a bridge job,
 * whose keys are a subset of a job's; NOT: the ones it does not (NULL: none). */
static void check_keys(struct lint *l, const char *loc, const struct sl_node *job, unsigned where,
                       const char *const *only, const char *const * not )
{
    struct sl_str unknown = SL_STR_INIT;
    const struct sl_pair *first = NULL;
    for (size_t i = 0; i < job->n; i++) {
        const struct sl_pair *p = &job->pairs[i];
        const struct keyword *kw = sl_keyword_find(p->key);
        if (!kw || !(kw->where & where) || (only && !sl_kw_one_of(p->key, only)) ||
            (not &&sl_kw_one_of(p->key, not ))) {
            sl_str_addf(&unknown, "%s%s", unknown.len ? ", " : "", p->key);
            if (!first)
                first = p;
            continue;
        }
        if (kw->prio == KW_RARE)
            warn_unacted(l, kw, loc, p);
        /* null removes a keyword (extends/default merges write it), it is not a shape;
         * but GitLab's JSON schema, which shape-only mode follows, has null as a value,
         * allowed for these keywords only */
        if (p->value && p->value->kind == SL_NODE_NULL) {
            static const char *const nullable[] = {"rules", "only", "except", "artifacts"};
            bool ok = !l->cfg->shape_only;
            for (size_t k = 0; k < SL_ARRAY_LEN(nullable) && !ok; k++)
                ok = !strcmp(nullable[k], p->key);
            if (!ok)
                sl_lint_error(l, p->value, "%s:%s config can't be blank", loc, p->key);
            continue;
        }
        if (kw->check && p->value)
            kw->check(l, loc, p->key, p->value);
    }
    if (first) {
        sl_lint_error_pos(l, first->key_pos, "%s config contains unknown keys: %s", loc,
                          unknown.buf);
        struct sl_suggest s;
        sl_suggest_init(&s, first->key);
        for (size_t i = 0; i < sl_job_keywords_count; i++)
            if ((sl_job_keywords[i].where & where) &&
                (!only || sl_kw_one_of(sl_job_keywords[i].name, only)) &&
                (!not || !sl_kw_one_of(sl_job_keywords[i].name, not )))
                sl_suggest_try(&s, sl_job_keywords[i].name);
        if (s.best)
            sl_diag_hint(l->diag, "did you mean `%s`?", s.best);
    }
    sl_str_release(&unknown);
}

static size_t stage_of(const struct sl_config *cfg, const char *stage)
{
    for (size_t i = 0; i < cfg->nstages; i++)
        if (!strcmp(cfg->stages[i], stage))
            return i;
    return SIZE_MAX;
}

static const char *job_stage(const struct sl_node *job)
{
    const char *s = sl_node_scalar(sl_node_get(job, "stage"));
    if (!s)
        s = sl_node_scalar(sl_node_get(job, "type"));
    return s ? s : "test";
}

/* Does REST ("v1, v2]") name a combination of ENTRY's values, from key K on? A scalar value
 * is a list of one. */
static bool matrix_match(const char *rest, const struct sl_node *entry, size_t k)
{
    const struct sl_node *v = entry->pairs[k].value;
    size_t n = v->kind == SL_NODE_SEQ ? v->n : 1;
    for (size_t i = 0; i < n; i++) {
        const char *s = sl_node_scalar(v->kind == SL_NODE_SEQ ? v->items[i] : v);
        size_t len = s ? strlen(s) : 0;
        if (!s || strncmp(rest, s, len))
            continue;
        if (k + 1 == entry->n
                ? !strcmp(rest + len, "]")
                : !strncmp(rest + len, ", ", 2) && matrix_match(rest + len + 2, entry, k + 1))
            return true;
    }
    return false;
}

/* GitLab expands parallel jobs before it checks needs, so a need may name one instance:
 * "build: [x86, debug]" of a parallel:matrix job, or "build 2/3" of parallel: 3. Returns
 * the job NAME is an instance of, or NULL. */
static const struct sl_config_job *instance_of(const struct sl_config *cfg, const char *name)
{
    const char *colon = strstr(name, ": [");
    const char *space = strrchr(name, ' ');
    if (colon) {
        char *base = sl_xstrndup(name, (size_t)(colon - name));
        const struct sl_config_job *j = sl_config_job(cfg, base);
        free(base);
        const struct sl_node *m =
            j ? sl_node_get(sl_node_get(j->node, "parallel"), "matrix") : NULL;
        for (size_t e = 0; m && m->kind == SL_NODE_SEQ && e < m->n; e++)
            if (m->items[e]->kind == SL_NODE_MAP && m->items[e]->n &&
                matrix_match(colon + 3, m->items[e], 0))
                return j;
    } else if (space) {
        int i, total, used = 0;
        if (sscanf(space + 1, "%d/%d%n", &i, &total, &used) != 2 || space[1 + used] || i < 1 ||
            i > total)
            return NULL;
        char *base = sl_xstrndup(name, (size_t)(space - name));
        const struct sl_config_job *j = sl_config_job(cfg, base);
        free(base);
        const struct sl_node *p = j ? sl_node_get(j->node, "parallel") : NULL;
        if (p && p->kind == SL_NODE_INT && (int)sl_parse_clamp(p->str, INT_MIN, INT_MAX) == total)
            return j;
    }
    return NULL;
}

static const struct sl_config_job *job_or_instance(const struct sl_config *cfg, const char *name)
{
    const struct sl_config_job *j = sl_config_job(cfg, name);
    return j ? j : instance_of(cfg, name);
}

/* needs and dependencies: the names exist, in allowed stages; no job needs itself. */
static void check_references(struct lint *l, const struct sl_config_job *j)
{
    const struct sl_config *cfg = l->cfg;
    size_t my = stage_of(cfg, job_stage(j->node));
    const struct sl_node *needs = sl_node_get(j->node, "needs");
    for (size_t i = 0; needs && needs->kind == SL_NODE_SEQ && i < needs->n; i++) {
        const struct sl_node *it = needs->items[i];
        const char *name = sl_node_scalar(it);
        if (!name && it && it->kind == SL_NODE_MAP) {
            if (sl_node_get(it, "pipeline") || sl_node_get(it, "project"))
                continue;
            name = sl_node_scalar(sl_node_get(it, "job"));
        }
        if (!name)
            continue;
        if (!strcmp(name, j->name)) {
            sl_lint_error(l, it, "%s job: need %s is itself", j->name, name);
            continue;
        }
        const struct sl_config_job *o = job_or_instance(cfg, name);
        if (!o) {
            bool optional = false;
            const struct sl_node *opt =
                it->kind == SL_NODE_MAP ? sl_node_get(it, "optional") : NULL;
            optional = opt && opt->kind == SL_NODE_BOOL && !strcmp(opt->str, "true");
            if (!optional) {
                sl_lint_error(l, it, "%s job: undefined need: %s", j->name, name);
                sl_kw_hint_job(l, name);
            }
            continue;
        }
        size_t theirs = stage_of(cfg, job_stage(o->node));
        if (my != SIZE_MAX && theirs != SIZE_MAX && theirs > my)
            sl_lint_error(l, it, "%s job: need %s is not defined in current or prior stages",
                          j->name, name);
    }
    const struct sl_node *deps = sl_node_get(j->node, "dependencies");
    for (size_t i = 0; deps && deps->kind == SL_NODE_SEQ && i < deps->n; i++) {
        const char *name = sl_node_scalar(deps->items[i]);
        if (!name)
            continue;
        const struct sl_config_job *o = job_or_instance(cfg, name);
        if (!o) {
            sl_lint_error(l, deps->items[i], "%s job: undefined dependency: %s", j->name, name);
            sl_kw_hint_job(l, name);
            continue;
        }
        size_t theirs = stage_of(cfg, job_stage(o->node));
        if (my != SIZE_MAX && theirs != SIZE_MAX && theirs > my)
            sl_lint_error(l, deps->items[i],
                          "%s job: dependency %s is not defined in current or prior stages",
                          j->name, name);
    }
}

/* Shape-only mode keeps the one needs check that the job alone can fail. */
static void check_self_needs(struct lint *l, const struct sl_config_job *j)
{
    const struct sl_node *needs = sl_node_get(j->node, "needs");
    for (size_t i = 0; needs && needs->kind == SL_NODE_SEQ && i < needs->n; i++) {
        const struct sl_node *it = needs->items[i];
        const char *name = sl_node_scalar(it);
        if (!name && it && it->kind == SL_NODE_MAP && !sl_node_get(it, "pipeline") &&
            !sl_node_get(it, "project"))
            name = sl_node_scalar(sl_node_get(it, "job"));
        if (name && !strcmp(name, j->name))
            sl_lint_error(l, it, "%s job: need %s is itself", j->name, name);
    }
}

/* GitLab's MutuallyExclusiveKeysValidator for keys A and B of job J: both present is an
 * error naming them in the job's order. */
static void exclusive(struct lint *l, const struct sl_config_job *j, const char *loc, const char *a,
                      const char *b)
{
    const struct sl_node *job = j->node;
    if (!sl_node_get(job, a) || !sl_node_get(job, b))
        return;
    const char *first = NULL;
    for (size_t i = 0; i < job->n && !first; i++)
        if (!strcmp(job->pairs[i].key, a) || !strcmp(job->pairs[i].key, b))
            first = job->pairs[i].key;
    sl_lint_error_pos(l, j->pos, "%s config these keys cannot be used together: %s, %s", loc, first,
                      !strcmp(first, a) ? b : a);
}

/* Whether JOB needs an upstream project's pipeline (`needs: {pipeline: group/project}`,
 * GitLab's Need::Bridge: `pipeline` without `job`), which a bridge may mirror instead of
 * triggering anything. */
static bool bridge_pipeline_need(const struct sl_node *job)
{
    const struct sl_node *needs = sl_node_get(job, "needs");
    if (needs && needs->kind == SL_NODE_MAP)
        return sl_node_get(needs, "pipeline") && !sl_node_get(needs, "job");
    for (size_t i = 0; needs && needs->kind == SL_NODE_SEQ && i < needs->n; i++) {
        const struct sl_node *it = needs->items[i];
        if (it && it->kind == SL_NODE_MAP && sl_node_get(it, "pipeline") && !sl_node_get(it, "job"))
            return true;
    }
    return false;
}

/* GitLab's Job entry: `only`, `except` and `start_in` may not be used with a non-null
 * `rules`; a key whose value is null does not count, and the message names the keys
 * present, in the job's order (the disallowed_keys validator with ignore_nil). */
static void check_disallowed_with_rules(struct lint *l, const struct sl_config_job *j,
                                        const char *loc)
{
    static const char *const disallowed[] = {"only", "except", "start_in", NULL};
    const struct sl_node *job = j->node, *rules = sl_node_get(job, "rules");
    if (!rules || rules->kind == SL_NODE_NULL)
        return;
    struct sl_str keys = SL_STR_INIT;
    for (size_t i = 0; i < job->n; i++)
        if (sl_kw_one_of(job->pairs[i].key, disallowed) && job->pairs[i].value &&
            job->pairs[i].value->kind != SL_NODE_NULL)
            sl_str_addf(&keys, "%s%s", keys.len ? ", " : "", job->pairs[i].key);
    if (keys.len)
        sl_lint_error_pos(l, j->pos, "%s config key may not be used with `rules`: %s", loc,
                          keys.buf);
    sl_str_release(&keys);
}

static void check_job(struct lint *l, const struct sl_config_job *j)
{
    char *loc = sl_xasprintf("jobs:%s", j->name);
    const struct sl_node *job = j->node;
    l->job = j->name;
    l->bridge = false;
    if (!job || job->kind != SL_NODE_MAP) {
        sl_lint_error_pos(l, j->pos, "jobs:%s config should be a hash", j->name);
        free(loc);
        return;
    }
    if (strlen(j->name) > 255)
        sl_lint_error_pos(l, j->pos, "jobs:%s name is too long (maximum is 255 characters)",
                          j->name);
    /* GitLab's Jobs#find_type: a key with `script` or `run` is a Job (whose keys do not
     * include `trigger`), else one with `trigger` or `needs` a Bridge (the Processable keys,
     * `trigger` and `parallel`) */
    static const char *const job_not[] = {"trigger", NULL};
    static const char *const bridge_keys[] = {
        "trigger",        "parallel",      "extends",       "stage",
        "only",           "except",        "rules",         "variables",
        "inherit",        "allow_failure", "when",          "needs",
        "resource_group", "environment",   "interruptible", NULL};
    bool is_job = sl_node_get(job, "script") || sl_node_get(job, "run");
    bool is_bridge = !is_job && (sl_node_get(job, "trigger") || sl_node_get(job, "needs"));
    /* shape-only: a job that extends something may get its script from a file not read;
     * and GitLab's JSON schema (which --schema follows) takes any job key on either kind,
     * so there only the old rule applies: script, run or trigger */
    bool maybe_inherited = l->cfg->shape_only && sl_node_get(job, "extends");
    l->bridge = is_bridge && !l->cfg->shape_only;
    if (l->cfg->shape_only) {
        is_job = sl_node_get(job, "script") || sl_node_get(job, "run") ||
                 sl_node_get(job, "trigger") || maybe_inherited;
        is_bridge = false;
        check_keys(l, loc, job, KW_JOB, NULL, NULL);
    } else if (is_bridge) {
        check_keys(l, loc, job, KW_JOB, bridge_keys, NULL);
    } else {
        check_keys(l, loc, job, KW_JOB, NULL, is_job ? job_not : NULL);
    }
    if (!l->cfg->shape_only) {
        /* Processable's mutually_exclusive_keys (script/trigger, run/trigger), then Job's
         * (script/run) */
        exclusive(l, j, loc, "script", "trigger");
        exclusive(l, j, loc, "run", "trigger");
        exclusive(l, j, loc, "script", "run");
    }
    if (is_bridge && !sl_node_get(job, "trigger") && !bridge_pipeline_need(job))
        sl_lint_error_pos(l, j->pos,
                          "%s config should contain either a trigger or a needs:pipeline", loc);
    if (!is_job && !is_bridge)
        sl_lint_error_pos(l, j->pos,
                          "jobs %s config should implement the script:, run:, or trigger: keyword",
                          j->name);
    /* Job's publish validator: only in a pages job (a `pages:` hash, or the job `pages`
     * unless it says `pages: false`) */
    const struct sl_node *pages = sl_node_get(job, "pages");
    bool pages_false = pages && pages->kind == SL_NODE_BOOL && !strcmp(pages->str, "false");
    bool pages_job = (pages && pages->kind != SL_NODE_NULL && !pages_false) ||
                     (!strcmp(j->name, "pages") && !pages_false);
    const struct sl_node *publish = sl_kw_get(job, "publish");
    if (is_job && !l->cfg->shape_only && publish && !pages_job)
        sl_lint_error(l, publish, "%s publish can only be used within a `pages` job", loc);
    check_disallowed_with_rules(l, j, loc);
    const char *when = sl_node_scalar(sl_node_get(job, "when"));
    if (when && !strcmp(when, "delayed") && !sl_node_get(job, "start_in") &&
        !sl_node_get(job, "rules") && !l->bridge) {
        /* the duration validator's two checks both fail on nil */
        sl_lint_error_pos(l, j->pos, "%s start in should be a duration", loc);
        sl_lint_error_pos(l, j->pos, "%s start in should not exceed the limit", loc);
    }
    /* GitLab's Job entry: start_in only for a delayed job without rules */
    const struct sl_node *start_in = sl_kw_get(job, "start_in");
    if (start_in && !l->bridge && (!when || strcmp(when, "delayed") || sl_node_get(job, "rules")))
        sl_lint_error(l, start_in, "%s start in must be blank", loc);
    const char *stage = job_stage(job);
    if (l->cfg->shape_only) {
        check_self_needs(l, j);
        free(loc);
        return;
    }
    if (stage_of(l->cfg, stage) == SIZE_MAX) {
        struct sl_str all = SL_STR_INIT;
        for (size_t i = 0; i < l->cfg->nstages; i++)
            sl_str_addf(&all, "%s%s", i ? ", " : "", l->cfg->stages[i]);
        const struct sl_node *sn = sl_node_get(job, "stage");
        sl_lint_error_pos(l, sn ? sn->pos : j->pos,
                          "%s job: chosen stage %s does not exist; available stages are %s",
                          j->name, stage, all.buf);
        sl_kw_hint_stage(l, stage);
        sl_str_release(&all);
    }
    check_references(l, j);
    sl_lint_job_graph(l, j);
    free(loc);
}

static void check_default(struct lint *l, const struct sl_node *def)
{
    if (!def || def->kind == SL_NODE_NULL)
        return;
    if (def->kind != SL_NODE_MAP) {
        sl_lint_error(l, def, "default config should be a hash");
        return;
    }
    check_keys(l, "default", def, KW_DEFAULT, NULL, NULL);
}

static void check_top(struct lint *l, const struct sl_node *root)
{
    const struct sl_node *n;
    if ((n = sl_node_get(root, "stages")) && n->kind != SL_NODE_NULL) {
        bool ok = n->kind == SL_NODE_SEQ;
        for (size_t i = 0; ok && i < n->n; i++)
            ok = sl_kw_is_str(n->items[i], false) || sl_kw_str_array(n->items[i]);
        if (!ok)
            sl_lint_error(l, n, "stages config should be an array of strings");
    }
    if ((n = sl_node_get(root, "variables")) && n->kind != SL_NODE_NULL) {
        const struct keyword *kw = sl_keyword_find("variables");
        if (n->kind != SL_NODE_MAP)
            sl_lint_error(l, n, "variables config should be a hash of key value pairs");
        else
            kw->check(l, "root", "variables", n);
    }
    if ((n = sl_config_section(root, "workflow")) && n->kind != SL_NODE_NULL) {
        static const char *const allowed[] = {"rules", "name", "auto_cancel", NULL};
        if (n->kind != SL_NODE_MAP)
            sl_lint_error(l, n, "workflow config should be a hash");
        else {
            for (size_t i = 0; i < n->n; i++) {
                bool ok = false;
                for (const char *const *a = allowed; *a && !ok; a++)
                    ok = !strcmp(*a, n->pairs[i].key);
                if (!ok)
                    sl_lint_error_pos(l, n->pairs[i].key_pos,
                                      "workflow config contains unknown keys: %s", n->pairs[i].key);
            }
            const struct sl_node *rules = sl_node_get(n, "rules");
            if (rules && rules->kind != SL_NODE_NULL)
                sl_lint_workflow_rules(l, rules);
            const struct sl_node *name = sl_node_get(n, "name");
            if (name && (!sl_node_scalar(name) || strlen(name->str) > 255 || !*name->str))
                sl_lint_error(l, name, "workflow name is too long (maximum is 255 characters)");
            const struct sl_node *ac = sl_kw_get(n, "auto_cancel");
            if (ac)
                sl_lint_auto_cancel(l, "workflow", ac);
        }
    }
    static const char *const deprecated[] = {"image", "services", "cache", "before_script",
                                             "after_script"};
    for (size_t i = 0; i < SL_ARRAY_LEN(deprecated); i++) {
        const struct sl_pair *p = sl_node_get_pair(root, deprecated[i]);
        const struct keyword *kw = sl_keyword_find(deprecated[i]);
        if (p && p->value && p->value->kind != SL_NODE_NULL && kw->check)
            kw->check(l, "root", p->key, p->value);
    }
    check_default(l, sl_config_section(root, "default"));
    /* only shape-only mode leaves `include` for the validator (include.c resolves it) */
    if ((n = sl_node_get(root, "include")))
        sl_lint_include(l, n);
    if (l->cfg->header)
        sl_lint_spec(l, l->cfg->header);
}

bool sl_config_validate(const struct sl_config *cfg, struct sl_diag *diag)
{
    struct lint l = {.cfg = cfg, .diag = diag};
    size_t before = diag->errors;

    if (!cfg->root || cfg->root->kind != SL_NODE_MAP) {
        sl_diag_add(diag, SL_DIAG_ERROR, cfg->path, 0, 0,
                    "Please provide content of .gitlab-ci.yml");
        return false;
    }
    check_top(&l, cfg->root);
    if (cfg->njobs == 0)
        sl_diag_add(diag, SL_DIAG_ERROR, cfg->path, 1, 1,
                    "jobs config should contain at least one visible job");
    for (size_t i = 0; i < cfg->njobs; i++)
        check_job(&l, &cfg->jobs[i]);
    if (!cfg->shape_only)
        sl_lint_graph_cycles(&l);
    sl_lint_expr_names(&l);
    count_unacted(&l);
    return diag->errors == before;
}
