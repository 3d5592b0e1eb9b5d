/* json.c: a plan as JSON, the shape `sluice plan --json` and the server's API share:
 * {"pipeline": "created"|"skipped", "reason", "name", "stages", "jobs": [...],
 *  "excluded": [{"name", "reason"}], "variable_attributes": {NAME: {"description",
 *  "options"}}}. */
#include "base/compat.h"
#include "plan/plan.h"

#include <jansson.h>

static json_t *str_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

/* A node as JSON (scalars as their string form, which is how GitLab shows a bridge's
 * `trigger` in its API's `downstream_pipeline` options). */
json_t *sl_plan_node_json(const struct sl_node *n)
{
    if (!n || n->kind == SL_NODE_NULL)
        return json_null();
    if (n->kind == SL_NODE_SEQ) {
        json_t *a = json_array();
        for (size_t i = 0; i < n->n; i++)
            json_array_append_new(a, sl_plan_node_json(n->items[i]));
        return a;
    }
    if (n->kind == SL_NODE_MAP) {
        json_t *o = json_object();
        for (size_t i = 0; i < n->n; i++)
            json_object_set_new(o, n->pairs[i].key, sl_plan_node_json(n->pairs[i].value));
        return o;
    }
    if (n->kind == SL_NODE_BOOL)
        return json_boolean(!strcmp(n->str, "true"));
    return json_string(n->str);
}

static json_t *strv_json(const char *const *v)
{
    if (!v)
        return json_null();
    json_t *a = json_array();
    for (; *v; v++)
        json_array_append_new(a, json_string(*v));
    return a;
}

static json_t *image_json(const struct sl_plan_image *im)
{
    json_t *o = json_object();
    json_object_set_new(o, "name", json_string(im->name));
    json_object_set_new(o, "entrypoint", strv_json(im->entrypoint));
    json_object_set_new(o, "pull_policy", strv_json(im->pull_policy));
    json_object_set_new(o, "platform", str_or_null(im->platform));
    json_object_set_new(o, "user", str_or_null(im->user));
    json_object_set_new(o, "alias", str_or_null(im->alias));
    json_object_set_new(o, "command", strv_json(im->command));
    json_object_set_new(o, "variables", strv_json(im->variables));
    return o;
}

/* The typed keywords the runner acts on, as written (plan.h): what jobspec compiles. */
static void runner_fields_json(json_t *o, const struct sl_plan_job *j)
{
    const struct sl_plan_artifacts *a = &j->artifacts;
    if (a->declared) {
        json_t *art = json_object(), *rep = json_object();
        json_object_set_new(art, "name", str_or_null(a->name));
        json_object_set_new(art, "paths", strv_json(a->paths));
        json_object_set_new(art, "exclude", strv_json(a->exclude));
        json_object_set_new(art, "untracked", json_boolean(a->untracked));
        json_object_set_new(art, "when", json_string(a->when ? a->when : "on_success"));
        json_object_set_new(art, "expire_in", str_or_null(a->expire_in));
        json_object_set_new(art, "expose_as", str_or_null(a->expose_as));
        json_object_set_new(rep, "dotenv", strv_json(a->dotenv));
        json_object_set_new(rep, "junit", strv_json(a->junit));
        json_object_set_new(rep, "coverage_report",
                            a->coverage_format || a->coverage_path
                                ? json_pack("{s:o,s:o}", "coverage_format",
                                            str_or_null(a->coverage_format), "path",
                                            str_or_null(a->coverage_path))
                                : json_null());
        json_object_set_new(rep, "other", strv_json(a->other_reports));
        json_object_set_new(art, "reports", rep);
        json_object_set_new(o, "artifacts", art);
    } else {
        json_object_set_new(o, "artifacts", json_null());
    }
    json_t *caches = json_array();
    for (size_t i = 0; i < j->ncaches; i++) {
        const struct sl_plan_cache *c = &j->caches[i];
        json_t *co = json_object();
        json_object_set_new(co, "key", str_or_null(c->key));
        json_object_set_new(co, "key_files", strv_json(c->key_files));
        json_object_set_new(co, "key_prefix", str_or_null(c->key_prefix));
        json_object_set_new(co, "fallback_keys", strv_json(c->fallback_keys));
        json_object_set_new(co, "paths", strv_json(c->paths));
        json_object_set_new(co, "untracked", json_boolean(c->untracked));
        json_object_set_new(co, "unprotect", json_boolean(c->unprotect));
        json_object_set_new(co, "policy", json_string(c->policy ? c->policy : "pull-push"));
        json_object_set_new(co, "when", json_string(c->when ? c->when : "on_success"));
        json_array_append_new(caches, co);
    }
    json_object_set_new(o, "cache", caches);
    json_object_set_new(o, "image", j->image ? image_json(j->image) : json_null());
    json_t *svcs = json_array();
    for (size_t i = 0; i < j->nservices; i++)
        json_array_append_new(svcs, image_json(&j->services[i]));
    json_object_set_new(o, "services", svcs);
    json_object_set_new(o, "coverage", str_or_null(j->coverage));
    json_object_set_new(o, "tags", strv_json(j->tags));
}

static json_t *job_json(const struct sl_plan *p, const struct sl_plan_job *j)
{
    json_t *o = json_object();
    json_object_set_new(o, "name", json_string(j->name));
    json_object_set_new(o, "stage", json_string(j->stage));
    json_object_set_new(o, "when", json_string(sl_plan_when_name(j->when)));
    if (j->nallow_exit_codes) {
        json_t *af = json_object(), *codes = json_array();
        for (size_t i = 0; i < j->nallow_exit_codes; i++)
            json_array_append_new(codes, json_integer(j->allow_exit_codes[i]));
        json_object_set_new(af, "exit_codes", codes);
        json_object_set_new(o, "allow_failure", af);
    } else {
        json_object_set_new(o, "allow_failure", json_boolean(j->allow_failure));
    }
    json_t *needs = j->needs_declared ? json_array() : json_null();
    for (size_t i = 0; j->needs_declared && i < j->nneeds; i++) {
        json_t *n = json_object();
        json_object_set_new(n, "job", json_string(j->needs[i].job));
        json_object_set_new(n, "artifacts", json_boolean(j->needs[i].artifacts));
        json_object_set_new(n, "optional", json_boolean(j->needs[i].optional));
        json_array_append_new(needs, n);
    }
    json_object_set_new(o, "needs", needs);
    json_t *deps = j->dependencies_declared ? json_array() : json_null();
    for (size_t i = 0; j->dependencies_declared && i < j->ndependencies; i++)
        json_array_append_new(deps, json_string(p->jobs[j->dependencies[i]].name));
    json_object_set_new(o, "dependencies", deps);
    json_t *vars = json_object();
    for (size_t i = 0; i < j->variables.n; i++)
        json_object_set_new(vars, j->variables.v[i].name, json_string(j->variables.v[i].value));
    json_object_set_new(o, "variables", vars);
    if (j->parallel_total) {
        json_t *par = json_object();
        json_object_set_new(par, "index", json_integer(j->parallel_index));
        json_object_set_new(par, "total", json_integer(j->parallel_total));
        json_object_set_new(o, "parallel", par);
    } else {
        json_object_set_new(o, "parallel", json_null());
    }
    json_t *retry = json_object(), *when = json_array(), *codes = json_array();
    json_object_set_new(retry, "max", json_integer(j->retry_max));
    if (j->nretry_when)
        for (size_t i = 0; i < j->nretry_when; i++)
            json_array_append_new(when, json_string(j->retry_when[i]));
    else if (!j->nretry_exit_codes)
        json_array_append_new(when, json_string("always"));
    for (size_t i = 0; i < j->nretry_exit_codes; i++)
        json_array_append_new(codes, json_integer(j->retry_exit_codes[i]));
    json_object_set_new(retry, "when", when);
    json_object_set_new(retry, "exit_codes", codes);
    json_object_set_new(o, "retry", retry);
    json_object_set_new(o, "timeout_s", json_integer(j->timeout_s));
    json_object_set_new(o, "environment", str_or_null(j->environment));
    json_object_set_new(o, "resource_group", str_or_null(j->resource_group));
    json_object_set_new(o, "interruptible", json_boolean(j->interruptible));
    if (j->when == SL_PLAN_DELAYED)
        json_object_set_new(o, "start_in_s", json_integer(j->start_in_s));
    if (j->trigger)
        json_object_set_new(o, "trigger", sl_plan_node_json(j->trigger));
    runner_fields_json(o, j);
    return o;
}

struct json_t *sl_plan_to_json(const struct sl_plan *p)
{
    json_t *o = json_object();
    json_object_set_new(o, "pipeline", json_string(p->created ? "created" : "skipped"));
    json_object_set_new(o, "reason", str_or_null(p->reason));
    json_object_set_new(o, "name", str_or_null(p->name));
    json_t *stages = json_array();
    for (size_t i = 0; i < p->nstages; i++)
        json_array_append_new(stages, json_string(p->stages[i]));
    json_object_set_new(o, "stages", stages);
    json_t *jobs = json_array();
    for (size_t i = 0; i < p->njobs; i++)
        json_array_append_new(jobs, job_json(p, &p->jobs[i]));
    json_object_set_new(o, "jobs", jobs);
    json_t *excl = json_array();
    for (size_t i = 0; i < p->nexcluded; i++) {
        json_t *e = json_object();
        json_object_set_new(e, "name", json_string(p->excluded[i].name));
        json_object_set_new(e, "reason", json_string(p->excluded[i].reason));
        json_array_append_new(excl, e);
    }
    json_object_set_new(o, "excluded", excl);
    /* what a manual pipeline's form offers: top-level variables' description and options */
    json_t *attrs = json_object();
    for (size_t i = 0; i < p->nvar_attrs; i++) {
        const struct sl_plan_var_attr *va = &p->var_attrs[i];
        json_object_set_new(attrs, va->name,
                            json_pack("{s:o,s:o}", "description", str_or_null(va->description),
                                      "options", strv_json(va->options)));
    }
    json_object_set_new(o, "variable_attributes", attrs);
    return o;
}
