/* json.c: a plan as JSON, the shape `sluice plan --json` and the server's API share:
 * {"pipeline": "created"|"skipped", "reason", "name", "stages", "jobs": [...],
 *  "excluded": [{"name", "reason"}], "variable_attributes": {NAME: {"description",
 *  "options"}}}. Written as text through base/jsonw.h, not built as a jansson tree: for
 * 1,000 jobs of 75 variables each, building, dumping and freeing the tree took more
 * instructions than loading and planning the pipeline (bench/README.md). */
#include "base/compat.h"
#include "base/jsonw.h"
#include "plan/plan.h"

#include <jansson.h>

/* A node as JSON (scalars as their string form, which is how GitLab shows a bridge's
 * `trigger` in its API's `downstream_pipeline` options). */
void sl_plan_node_write_json(struct sl_jsonw *w, const struct sl_node *n)
{
    if (!n || n->kind == SL_NODE_NULL) {
        sl_jsonw_null(w);
    } else if (n->kind == SL_NODE_SEQ) {
        sl_jsonw_arr(w);
        for (size_t i = 0; i < n->n; i++)
            sl_plan_node_write_json(w, n->items[i]);
        sl_jsonw_end_arr(w);
    } else if (n->kind == SL_NODE_MAP) {
        sl_jsonw_obj(w);
        for (size_t i = 0; i < n->n; i++) {
            sl_jsonw_key(w, n->pairs[i].key);
            sl_plan_node_write_json(w, n->pairs[i].value);
        }
        sl_jsonw_end_obj(w);
    } else if (n->kind == SL_NODE_BOOL) {
        sl_jsonw_bool(w, !strcmp(n->str, "true"));
    } else {
        sl_jsonw_str(w, n->str);
    }
}

json_t *sl_plan_node_json(const struct sl_node *n)
{
    struct sl_str s = SL_STR_INIT;
    struct sl_jsonw w;
    sl_jsonw_init(&w, &s);
    sl_plan_node_write_json(&w, n);
    json_t *v = json_loads(s.buf, JSON_DECODE_ANY, NULL);
    sl_str_release(&s);
    return v ? v : json_null();
}

static void image_json(struct sl_jsonw *w, const struct sl_plan_image *im)
{
    sl_jsonw_obj(w);
    sl_jsonw_kstr(w, "name", im->name);
    sl_jsonw_kstrv(w, "entrypoint", im->entrypoint);
    sl_jsonw_kstrv(w, "pull_policy", im->pull_policy);
    sl_jsonw_kstr(w, "platform", im->platform);
    sl_jsonw_kstr(w, "user", im->user);
    sl_jsonw_kstr(w, "alias", im->alias);
    sl_jsonw_kstrv(w, "command", im->command);
    sl_jsonw_kstrv(w, "variables", im->variables);
    sl_jsonw_end_obj(w);
}

/* The typed keywords the runner acts on, as written (plan.h): what jobspec compiles. */
static void runner_fields_json(struct sl_jsonw *w, const struct sl_plan_job *j)
{
    const struct sl_plan_artifacts *a = &j->artifacts;
    sl_jsonw_key(w, "artifacts");
    if (a->declared) {
        sl_jsonw_obj(w);
        sl_jsonw_kstr(w, "name", a->name);
        sl_jsonw_kstrv(w, "paths", a->paths);
        sl_jsonw_kstrv(w, "exclude", a->exclude);
        sl_jsonw_kbool(w, "untracked", a->untracked);
        sl_jsonw_kstr(w, "when", a->when ? a->when : "on_success");
        sl_jsonw_kstr(w, "expire_in", a->expire_in);
        sl_jsonw_kstr(w, "expose_as", a->expose_as);
        sl_jsonw_key(w, "reports");
        sl_jsonw_obj(w);
        sl_jsonw_kstrv(w, "dotenv", a->dotenv);
        sl_jsonw_kstrv(w, "junit", a->junit);
        sl_jsonw_key(w, "coverage_report");
        if (a->coverage_format || a->coverage_path) {
            sl_jsonw_obj(w);
            sl_jsonw_kstr(w, "coverage_format", a->coverage_format);
            sl_jsonw_kstr(w, "path", a->coverage_path);
            sl_jsonw_end_obj(w);
        } else {
            sl_jsonw_null(w);
        }
        sl_jsonw_kstrv(w, "other", a->other_reports);
        sl_jsonw_end_obj(w);
        sl_jsonw_end_obj(w);
    } else {
        sl_jsonw_null(w);
    }
    sl_jsonw_key(w, "cache");
    sl_jsonw_arr(w);
    for (size_t i = 0; i < j->ncaches; i++) {
        const struct sl_plan_cache *c = &j->caches[i];
        sl_jsonw_obj(w);
        sl_jsonw_kstr(w, "key", c->key);
        sl_jsonw_kstrv(w, "key_files", c->key_files);
        sl_jsonw_kstr(w, "key_prefix", c->key_prefix);
        sl_jsonw_kstrv(w, "fallback_keys", c->fallback_keys);
        sl_jsonw_kstrv(w, "paths", c->paths);
        sl_jsonw_kbool(w, "untracked", c->untracked);
        sl_jsonw_kbool(w, "unprotect", c->unprotect);
        sl_jsonw_kstr(w, "policy", c->policy ? c->policy : "pull-push");
        sl_jsonw_kstr(w, "when", c->when ? c->when : "on_success");
        sl_jsonw_end_obj(w);
    }
    sl_jsonw_end_arr(w);
    sl_jsonw_key(w, "image");
    if (j->image)
        image_json(w, j->image);
    else
        sl_jsonw_null(w);
    sl_jsonw_key(w, "services");
    sl_jsonw_arr(w);
    for (size_t i = 0; i < j->nservices; i++)
        image_json(w, &j->services[i]);
    sl_jsonw_end_arr(w);
    sl_jsonw_kstr(w, "coverage", j->coverage);
    sl_jsonw_kstrv(w, "tags", j->tags);
}

/* A job's variables are unique by name (sl_vars_set replaces), so they are written as they
 * are, in precedence order. */
static void job_json(struct sl_jsonw *w, const struct sl_plan *p, const struct sl_plan_job *j)
{
    sl_jsonw_obj(w);
    sl_jsonw_kstr(w, "name", j->name);
    sl_jsonw_kstr(w, "stage", j->stage);
    sl_jsonw_kstr(w, "when", sl_plan_when_name(j->when));
    sl_jsonw_key(w, "allow_failure");
    if (j->nallow_exit_codes) {
        sl_jsonw_obj(w);
        sl_jsonw_key(w, "exit_codes");
        sl_jsonw_arr(w);
        for (size_t i = 0; i < j->nallow_exit_codes; i++)
            sl_jsonw_int(w, j->allow_exit_codes[i]);
        sl_jsonw_end_arr(w);
        sl_jsonw_end_obj(w);
    } else {
        sl_jsonw_bool(w, j->allow_failure);
    }
    sl_jsonw_key(w, "needs");
    if (j->needs_declared) {
        sl_jsonw_arr(w);
        for (size_t i = 0; i < j->nneeds; i++) {
            sl_jsonw_obj(w);
            sl_jsonw_kstr(w, "job", j->needs[i].job);
            sl_jsonw_kbool(w, "artifacts", j->needs[i].artifacts);
            sl_jsonw_kbool(w, "optional", j->needs[i].optional);
            sl_jsonw_end_obj(w);
        }
        sl_jsonw_end_arr(w);
    } else {
        sl_jsonw_null(w);
    }
    sl_jsonw_key(w, "dependencies");
    if (j->dependencies_declared) {
        sl_jsonw_arr(w);
        for (size_t i = 0; i < j->ndependencies; i++)
            sl_jsonw_str(w, p->jobs[j->dependencies[i]].name);
        sl_jsonw_end_arr(w);
    } else {
        sl_jsonw_null(w);
    }
    sl_jsonw_key(w, "variables");
    sl_jsonw_obj(w);
    for (size_t i = 0; i < j->variables.n; i++)
        sl_jsonw_kstr(w, j->variables.v[i].name, j->variables.v[i].value);
    sl_jsonw_end_obj(w);
    sl_jsonw_key(w, "parallel");
    if (j->parallel_total) {
        sl_jsonw_obj(w);
        sl_jsonw_kint(w, "index", j->parallel_index);
        sl_jsonw_kint(w, "total", j->parallel_total);
        sl_jsonw_end_obj(w);
    } else {
        sl_jsonw_null(w);
    }
    sl_jsonw_key(w, "retry");
    sl_jsonw_obj(w);
    sl_jsonw_kint(w, "max", j->retry_max);
    sl_jsonw_key(w, "when");
    sl_jsonw_arr(w);
    if (j->nretry_when)
        for (size_t i = 0; i < j->nretry_when; i++)
            sl_jsonw_str(w, j->retry_when[i]);
    else if (!j->nretry_exit_codes)
        sl_jsonw_str(w, "always");
    sl_jsonw_end_arr(w);
    sl_jsonw_key(w, "exit_codes");
    sl_jsonw_arr(w);
    for (size_t i = 0; i < j->nretry_exit_codes; i++)
        sl_jsonw_int(w, j->retry_exit_codes[i]);
    sl_jsonw_end_arr(w);
    sl_jsonw_end_obj(w);
    sl_jsonw_kint(w, "timeout_s", j->timeout_s);
    sl_jsonw_kstr(w, "environment", j->environment);
    sl_jsonw_kstr(w, "resource_group", j->resource_group);
    sl_jsonw_kbool(w, "interruptible", j->interruptible);
    if (j->when == SL_PLAN_DELAYED)
        sl_jsonw_kint(w, "start_in_s", j->start_in_s);
    if (j->trigger) {
        sl_jsonw_key(w, "trigger");
        sl_plan_node_write_json(w, j->trigger);
    }
    runner_fields_json(w, j);
    sl_jsonw_end_obj(w);
}

void sl_plan_write_json(const struct sl_plan *p, struct sl_str *out)
{
    struct sl_jsonw w;
    sl_jsonw_init(&w, out);
    sl_jsonw_obj(&w);
    sl_jsonw_kstr(&w, "pipeline", p->created ? "created" : "skipped");
    sl_jsonw_kstr(&w, "reason", p->reason);
    sl_jsonw_kstr(&w, "name", p->name);
    sl_jsonw_key(&w, "stages");
    sl_jsonw_arr(&w);
    for (size_t i = 0; i < p->nstages; i++)
        sl_jsonw_str(&w, p->stages[i]);
    sl_jsonw_end_arr(&w);
    sl_jsonw_key(&w, "jobs");
    sl_jsonw_arr(&w);
    for (size_t i = 0; i < p->njobs; i++)
        job_json(&w, p, &p->jobs[i]);
    sl_jsonw_end_arr(&w);
    sl_jsonw_key(&w, "excluded");
    sl_jsonw_arr(&w);
    for (size_t i = 0; i < p->nexcluded; i++) {
        sl_jsonw_obj(&w);
        sl_jsonw_kstr(&w, "name", p->excluded[i].name);
        sl_jsonw_kstr(&w, "reason", p->excluded[i].reason);
        sl_jsonw_end_obj(&w);
    }
    sl_jsonw_end_arr(&w);
    /* what a manual pipeline's form offers: top-level variables' description and options */
    sl_jsonw_key(&w, "variable_attributes");
    sl_jsonw_obj(&w);
    for (size_t i = 0; i < p->nvar_attrs; i++) {
        const struct sl_plan_var_attr *va = &p->var_attrs[i];
        sl_jsonw_key(&w, va->name);
        sl_jsonw_obj(&w);
        sl_jsonw_kstr(&w, "description", va->description);
        sl_jsonw_kstrv(&w, "options", va->options);
        sl_jsonw_end_obj(&w);
    }
    sl_jsonw_end_obj(&w);
    sl_jsonw_end_obj(&w);
}
