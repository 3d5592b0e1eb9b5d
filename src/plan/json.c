/* json.c: a plan as JSON, the shape `sluice plan --json` and the server's API share:
 * {"pipeline": "created"|"skipped", "reason", "name", "stages", "jobs": [...],
 *  "excluded": [{"name", "reason"}]}. */
#include "base/compat.h"
#include "plan/plan.h"

#include <jansson.h>

static json_t *str_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

/* A node as JSON (scalars as their string form, which is how GitLab shows a bridge's
 * `trigger` in its API's `downstream_pipeline` options). */
static json_t *node_json(const struct sl_node *n)
{
    if (!n || n->kind == SL_NODE_NULL)
        return json_null();
    if (n->kind == SL_NODE_SEQ) {
        json_t *a = json_array();
        for (size_t i = 0; i < n->n; i++)
            json_array_append_new(a, node_json(n->items[i]));
        return a;
    }
    if (n->kind == SL_NODE_MAP) {
        json_t *o = json_object();
        for (size_t i = 0; i < n->n; i++)
            json_object_set_new(o, n->pairs[i].key, node_json(n->pairs[i].value));
        return o;
    }
    if (n->kind == SL_NODE_BOOL)
        return json_boolean(!strcmp(n->str, "true"));
    return json_string(n->str);
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
        json_object_set_new(o, "trigger", node_json(j->trigger));
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
    return o;
}
