/* keywords.c: the keyword table (SPEC.md §1) and the shape checkers of its rows, in
 * GitLab's wording (GitLab's lib/gitlab/ci/config/entry classes, SPEC.md §5). */
#include "base/compat.h"
#include "config/keywords.h"
#include "base/alloc.h"
#include "base/str.h"
#include "base/suggest.h"
#include "base/time.h"

#include <ctype.h>

/* --- shapes -------------------------------------------------------------------------- */

const struct sl_node *sl_kw_get(const struct sl_node *map, const char *key)
{
    const struct sl_node *n = sl_node_get(map, key);
    return n && n->kind == SL_NODE_NULL ? NULL : n;
}

const struct sl_node *sl_kw_val(const struct lint *l, const struct sl_node *map, const char *key)
{
    return l->cfg->shape_only ? sl_node_get(map, key) : sl_kw_get(map, key);
}

bool sl_kw_is_scalar(const struct sl_node *n)
{
    return n && n->kind != SL_NODE_SEQ && n->kind != SL_NODE_MAP && n->kind != SL_NODE_NULL;
}

bool sl_kw_is_bool(const struct sl_node *n)
{
    return n && n->kind == SL_NODE_BOOL;
}

bool sl_kw_is_int(const struct sl_node *n)
{
    return n && n->kind == SL_NODE_INT;
}

bool sl_kw_is_str(const struct sl_node *n, bool nonempty)
{
    return n && n->kind == SL_NODE_STR && (!nonempty || n->str[0]);
}

bool sl_kw_str_array(const struct sl_node *n)
{
    if (!n || n->kind != SL_NODE_SEQ)
        return false;
    for (size_t i = 0; i < n->n; i++)
        if (!sl_kw_is_str(n->items[i], false))
            return false;
    return true;
}

bool sl_kw_script_ok(const struct sl_node *n, int depth)
{
    if (sl_kw_is_str(n, false))
        return true;
    /* at the top: the depth as GitLab counts it (node.h: spliced references) */
    if (!n || n->kind != SL_NODE_SEQ || depth > 10 || (depth == 1 && sl_node_depth(n, 11) > 10))
        return false;
    for (size_t i = 0; i < n->n; i++)
        if (!sl_kw_script_ok(n->items[i], depth + 1))
            return false;
    return true;
}

bool sl_kw_strings(const struct sl_node *n)
{
    if (!n || n->kind != SL_NODE_SEQ)
        return false;
    for (size_t i = 0; i < n->n; i++)
        if (!sl_kw_is_scalar(n->items[i]))
            return false;
    return true;
}

bool sl_kw_nested_strings(const struct sl_node *n, int depth)
{
    if (sl_kw_is_scalar(n))
        return true;
    /* at the top: the depth as GitLab counts it (node.h: spliced references) */
    if (!n || n->kind != SL_NODE_SEQ || depth > 10 || (depth == 1 && sl_node_depth(n, 11) > 10))
        return false;
    for (size_t i = 0; i < n->n; i++)
        if (!sl_kw_nested_strings(n->items[i], depth + 1))
            return false;
    return true;
}

bool sl_kw_duration_ok(const struct sl_node *n, int64_t *secs)
{
    int64_t s;
    if (!sl_kw_is_scalar(n) || sl_time_parse_duration(n->str, &s) < 0)
        return false;
    if (secs)
        *secs = s;
    return true;
}

bool sl_kw_unknown_keys(struct lint *l, const char *loc, const struct sl_node *map,
                        const char *const *allowed)
{
    struct sl_str bad = SL_STR_INIT;
    const struct sl_pair *first = NULL;
    for (size_t i = 0; map && map->kind == SL_NODE_MAP && i < map->n; i++) {
        bool ok = false;
        for (const char *const *a = allowed; *a && !ok; a++)
            ok = !strcmp(*a, map->pairs[i].key);
        if (!ok) {
            sl_str_addf(&bad, "%s%s", bad.len ? ", " : "", map->pairs[i].key);
            if (!first)
                first = &map->pairs[i];
        }
    }
    if (first) {
        sl_lint_error_pos(l, first->key_pos, "%s config contains unknown keys: %s", loc, bad.buf);
        sl_kw_hint_names(l, first->key, allowed);
    }
    sl_str_release(&bad);
    return !first;
}

static void hint(struct lint *l, const struct sl_suggest *s)
{
    if (s->best)
        sl_diag_hint(l->diag, "did you mean `%s`?", s->best);
}

void sl_kw_hint_names(struct lint *l, const char *word, const char *const *names)
{
    struct sl_suggest s;
    sl_suggest_init(&s, word);
    for (const char *const *n = names; n && *n; n++)
        sl_suggest_try(&s, *n);
    hint(l, &s);
}

void sl_kw_hint_job(struct lint *l, const char *word)
{
    struct sl_suggest s;
    sl_suggest_init(&s, word);
    for (size_t i = 0; i < l->cfg->njobs; i++)
        sl_suggest_try(&s, l->cfg->jobs[i].name);
    hint(l, &s);
}

void sl_kw_hint_stage(struct lint *l, const char *word)
{
    struct sl_suggest s;
    sl_suggest_init(&s, word);
    for (size_t i = 0; i < l->cfg->nstages; i++)
        sl_suggest_try(&s, l->cfg->stages[i]);
    hint(l, &s);
}

bool sl_kw_required_keys(struct lint *l, const char *loc, const struct sl_node *map,
                         const char *const *required)
{
    struct sl_str missing = SL_STR_INIT;
    for (const char *const *r = required; *r; r++)
        if (!sl_node_get_pair(map, *r))
            sl_str_addf(&missing, "%s%s", missing.len ? ", " : "", *r);
    if (missing.len)
        sl_lint_error(l, map, "%s config missing required keys: %s", loc, missing.buf);
    bool ok = !missing.len;
    sl_str_release(&missing);
    return ok;
}

bool sl_kw_one_of(const char *s, const char *const *values)
{
    for (const char *const *v = values; *v; v++)
        if (s && !strcmp(s, *v))
            return true;
    return false;
}

char *sl_kw_join(const char *const *values)
{
    struct sl_str s = SL_STR_INIT;
    for (const char *const *v = values; *v; v++)
        sl_str_addf(&s, "%s%s", s.len ? ", " : "", *v);
    return sl_str_detach(&s);
}

char *sl_kw_loc(const char *parent, const char *key)
{
    return sl_xasprintf("%s:%s", parent, key);
}

/* --- checkers ------------------------------------------------------------------------ */

static void check_matrix(struct lint *l, const char *loc, const struct sl_node *m);
static void check_exit_codes(struct lint *l, const char *loc, const struct sl_node *c);

static void check_script(struct lint *l, const char *p, const char *k, const struct sl_node *n)
{
    if (!sl_kw_script_ok(n, 1))
        sl_lint_error(l, n,
                      "%s:%s config should be a string or a nested array of strings up to 10 "
                      "levels deep",
                      p, k);
    else if (!strcmp(k, "script") && (n->kind == SL_NODE_SEQ ? n->n == 0 : !n->str[0]))
        sl_lint_error(l, n, "%s:%s config can't be blank", p, k);
}

static void check_string(struct lint *l, const char *p, const char *k, const struct sl_node *n)
{
    if (!sl_kw_is_scalar(n))
        sl_lint_error(l, n, "%s:%s config should be a string", p, k);
}

static void check_bool(struct lint *l, const char *p, const char *k, const struct sl_node *n)
{
    if (!sl_kw_is_bool(n))
        sl_lint_error(l, n, "%s:%s config should be a boolean value", p, k);
}

/* GitLab's DurationValidator with a limit, for LOC NAME (`jobs:x start in`): a value that is
 * no duration (or absent: N NULL, reported at AT) fails both of its checks, "should be a
 * duration" and "should not exceed the limit" (validate_duration_limit is false for what does
 * not parse); a duration fails the second past LIMIT_S seconds. The limit compares
 * `value.from_now < limit.from_now`, two clock readings apart, so the limit itself passes. */
void sl_kw_duration_limit(struct lint *l, const char *loc, const char *name,
                          const struct sl_node *n, const struct sl_node *at, int64_t limit_s)
{
    int64_t s = 0;
    bool ok = n && sl_kw_duration_ok(n, &s);
    if (!ok)
        sl_lint_error(l, n ? n : at, "%s %s should be a duration", loc, name);
    if (!ok || s > limit_s)
        sl_lint_error(l, n ? n : at, "%s %s should not exceed the limit", loc, name);
}

/* GitLab's Entry::Timeout: at most ChronicDuration.output(Project::MAX_BUILD_TIMEOUT), one
 * ActiveSupport month (2,629,746 s: "1 mo 10 hrs 29 mins 6 secs"). */
#define KW_TIMEOUT_LIMIT_S 2629746
static void check_timeout(struct lint *l, const char *p, const char *k, const struct sl_node *n)
{
    char *loc = sl_xasprintf("%s:%s", p, k);
    sl_kw_duration_limit(l, loc, "config", n, n, KW_TIMEOUT_LIMIT_S);
    free(loc);
}

static void check_strings(struct lint *l, const char *p, const char *k, const struct sl_node *n)
{
    if (!sl_kw_strings(n))
        sl_lint_error(l, n, "%s:%s config should be an array of strings", p, k);
}

static void check_variables(struct lint *l, const char *p, const char *k, const struct sl_node *n)
{
    static const char *const allowed[] = {"value", "description", "expand", "options", NULL};
    if (!n || n->kind == SL_NODE_NULL)
        return;
    if (n->kind != SL_NODE_MAP) {
        sl_lint_error(l, n, "%s:%s config should be a hash of key value pairs", p, k);
        return;
    }
    for (size_t i = 0; i < n->n; i++) {
        const struct sl_node *v = n->pairs[i].value;
        if (v && v->kind == SL_NODE_MAP) {
            char *loc = sl_xasprintf("%s:%s:%s", p, k, n->pairs[i].key);
            sl_kw_unknown_keys(l, loc, v, allowed);
            const struct sl_node *e = sl_kw_get(v, "expand");
            if (e && !sl_kw_is_bool(e))
                sl_lint_error(l, e, "%s:expand config should be a boolean value", loc);
            if ((e = sl_kw_get(v, "value")) && !sl_kw_is_scalar(e))
                sl_lint_error(l, e, "%s:value config should be a string", loc);
            if ((e = sl_kw_get(v, "description")) && !sl_kw_is_scalar(e))
                sl_lint_error(l, e, "%s:description config should be a string", loc);
            if ((e = sl_kw_get(v, "options")) && (!sl_kw_strings(e) || e->n == 0))
                sl_lint_error(l, e, "%s:options config should be a non-empty array of strings",
                              loc);
            free(loc);
        } else if (v && v->kind == SL_NODE_SEQ) {
            sl_lint_error(l, v,
                          "%s:%s config should be a hash of key value pairs, value can be a "
                          "hash",
                          p, k);
            return;
        }
    }
}

/* `docker:` / `kubernetes:` executor options and `pull_policy` of an image or a service. */
static void check_image_options(struct lint *l, const char *loc, const struct sl_node *n)
{
    static const char *const docker_keys[] = {"platform", "user", NULL};
    static const char *const kube_keys[] = {"user", NULL};
    static const char *const policies[] = {"always", "never", "if-not-present", NULL};
    const struct sl_node *x, *y;
    if ((x = sl_kw_val(l, n, "docker"))) {
        char *d = sl_kw_loc(loc, "docker");
        if (x->kind != SL_NODE_MAP) {
            sl_lint_error(l, x, "%s config should be a hash", d);
        } else {
            sl_kw_unknown_keys(l, d, x, docker_keys);
            if ((y = sl_kw_val(l, x, "platform")) && !sl_kw_is_str(y, true))
                sl_lint_error(l, y, "%s:platform config should be a non-empty string", d);
            if ((y = sl_kw_val(l, x, "user")) && (!sl_kw_is_str(y, true) || strlen(y->str) > 255))
                sl_lint_error(l, y, "%s:user config should be a non-empty string", d);
        }
        free(d);
    }
    if ((x = sl_kw_val(l, n, "kubernetes"))) {
        char *d = sl_kw_loc(loc, "kubernetes");
        if (x->kind != SL_NODE_MAP) {
            sl_lint_error(l, x, "%s config should be a hash", d);
        } else {
            sl_kw_unknown_keys(l, d, x, kube_keys);
            if ((y = sl_kw_val(l, x, "user")) &&
                ((!sl_kw_is_str(y, true) && !sl_kw_is_int(y)) || strlen(y->str) > 255))
                sl_lint_error(l, y, "%s:user config should be a non-empty string or an integer", d);
        }
        free(d);
    }
    if ((x = sl_kw_val(l, n, "pull_policy"))) {
        bool ok = sl_kw_one_of(sl_node_scalar(x), policies);
        if (x->kind == SL_NODE_SEQ) {
            ok = x->n > 0;
            for (size_t i = 0; ok && i < x->n; i++)
                ok = sl_kw_one_of(sl_node_scalar(x->items[i]), policies);
            for (size_t i = 0; ok && i < x->n; i++)
                for (size_t j = 0; ok && j < i; j++)
                    ok = strcmp(x->items[i]->str, x->items[j]->str) != 0;
        }
        if (!ok)
            sl_lint_error(l, x,
                          "%s:pull_policy config should be one of always, never, if-not-present, "
                          "or a non-empty array of them",
                          loc);
    }
    if ((x = sl_kw_val(l, n, "entrypoint")) && (!sl_kw_str_array(x) || x->n == 0))
        sl_lint_error(l, x, "%s:entrypoint config should be a non-empty array of strings", loc);
}

static void check_image(struct lint *l, const char *p, const char *k, const struct sl_node *n)
{
    static const char *const allowed[] = {"name",       "entrypoint",  "docker",
                                          "kubernetes", "pull_policy", NULL};
    if (sl_kw_is_scalar(n)) {
        if (!n->str[0])
            sl_lint_error(l, n, "%s:%s config can't be blank", p, k);
        return;
    }
    if (!n || n->kind != SL_NODE_MAP) {
        sl_lint_error(l, n, "%s:%s config should be a hash or a string", p, k);
        return;
    }
    char *loc = sl_kw_loc(p, k);
    sl_kw_unknown_keys(l, loc, n, allowed);
    const struct sl_node *name = sl_kw_val(l, n, "name");
    if (!name)
        sl_lint_error(l, n, "%s config missing required keys: name", loc);
    else if (!sl_kw_is_scalar(name) || !name->str[0])
        sl_lint_error(l, name, "%s:name config should be a non-empty string", loc);
    check_image_options(l, loc, n);
    free(loc);
}

static void check_services(struct lint *l, const char *p, const char *k, const struct sl_node *n)
{
    static const char *const allowed[] = {"name",       "alias",       "entrypoint",
                                          "command",    "variables",   "docker",
                                          "kubernetes", "pull_policy", NULL};
    if (!n || n->kind != SL_NODE_SEQ) {
        sl_lint_error(l, n, "%s:%s config should be a array", p, k);
        return;
    }
    char *loc = sl_kw_loc(p, k);
    char *sloc = sl_kw_loc(loc, "service");
    for (size_t i = 0; i < n->n; i++) {
        const struct sl_node *s = n->items[i];
        if (sl_kw_is_scalar(s)) {
            if (!s->str[0])
                sl_lint_error(l, s, "%s config can't be blank", sloc);
            continue;
        }
        if (!s || s->kind != SL_NODE_MAP) {
            sl_lint_error(l, s, "%s config should be a hash or a string", sloc);
            continue;
        }
        sl_kw_unknown_keys(l, loc, s, allowed);
        const struct sl_node *x = sl_kw_val(l, s, "name");
        if (!x)
            sl_lint_error(l, s, "%s config missing required keys: name", sloc);
        else if (!sl_kw_is_scalar(x) || !x->str[0])
            sl_lint_error(l, x, "%s:name config should be a non-empty string", sloc);
        if ((x = sl_kw_val(l, s, "alias")) && (!sl_kw_is_scalar(x) || !x->str[0]))
            sl_lint_error(l, x, "%s:alias config should be a non-empty string", sloc);
        if ((x = sl_kw_val(l, s, "command")) &&
            (!sl_kw_script_ok(x, 1) || (x->kind == SL_NODE_SEQ ? x->n == 0 : !x->str[0])))
            sl_lint_error(l, x, "%s:command config should be a non-empty array of strings", sloc);
        if ((x = sl_kw_get(s, "variables")))
            check_variables(l, sloc, "variables", x);
        check_image_options(l, sloc, s);
    }
    free(sloc);
    free(loc);
}

static void check_expression(struct lint *l, const char *loc, const struct sl_node *n)
{
    if (!sl_kw_is_scalar(n)) {
        sl_lint_error(l, n, "%s if should be a string", loc);
        return;
    }
    if (!sl_lint_expression_ok(n->str))
        sl_lint_error(l, n, "%s if Invalid expression syntax", loc);
    else
        sl_lint_note_expression(l, n);
}

static void check_changes(struct lint *l, const char *loc, const char *k, const struct sl_node *n)
{
    static const char *const allowed[] = {"paths", "compare_to", NULL};
    if (n && n->kind == SL_NODE_MAP) {
        char *x = sl_kw_loc(loc, k);
        sl_kw_unknown_keys(l, x, n, allowed);
        const struct sl_node *paths = sl_kw_get(n, "paths"), *cmp;
        if (!paths)
            sl_lint_error(l, n, "%s config missing required keys: paths", x);
        else if (!sl_kw_strings(paths))
            sl_lint_error(l, paths, "%s:paths config should be an array of strings", x);
        if ((cmp = sl_kw_val(l, n, "compare_to")) && !sl_kw_is_scalar(cmp))
            sl_lint_error(l, cmp, "%s:compare_to config should be a string", x);
        free(x);
    } else if (!sl_kw_strings(n)) {
        sl_lint_error(l, n, "%s %s should be an array or a hash", loc, k);
    } else if (n->n > 50) {
        sl_lint_error(l, n, "%s %s has too many entries (maximum 50)", loc, k);
    }
}

/* rules:exists: an array of paths, or {paths, project, ref} (ref only with project). */
static void check_exists(struct lint *l, const char *loc, const struct sl_node *n)
{
    static const char *const allowed[] = {"paths", "project", "ref", NULL};
    if (sl_kw_strings(n))
        return;
    if (n->kind != SL_NODE_MAP) {
        sl_lint_error(l, n, "%s exists should be an array of strings or a hash", loc);
        return;
    }
    char *x = sl_kw_loc(loc, "exists");
    sl_kw_unknown_keys(l, x, n, allowed);
    const struct sl_node *paths = sl_kw_val(l, n, "paths"), *v;
    if (!paths)
        sl_lint_error(l, n, "%s config missing required keys: paths", x);
    else if (!sl_kw_strings(paths))
        sl_lint_error(l, paths, "%s:paths config should be an array of strings", x);
    if ((v = sl_kw_val(l, n, "project")) && !sl_kw_is_scalar(v))
        sl_lint_error(l, v, "%s:project config should be a string", x);
    if ((v = sl_kw_val(l, n, "ref")) && !sl_kw_is_scalar(v))
        sl_lint_error(l, v, "%s:ref config should be a string", x);
    if (sl_kw_get(n, "ref") && !sl_kw_get(n, "project"))
        sl_lint_error(l, n, "%s config ref requires project", x);
    free(x);
}

/* rules:needs: job names or {job, artifacts, optional}. */
static void check_rule_needs(struct lint *l, const char *loc, const struct sl_node *n)
{
    static const char *const allowed[] = {"job", "artifacts", "optional", NULL};
    char *x = sl_kw_loc(loc, "needs");
    char *need = sl_kw_loc(x, "need");
    if (n->kind != SL_NODE_SEQ) {
        sl_lint_error(l, n, "%s config should be an array of strings or hashes", x);
        goto out;
    }
    for (size_t i = 0; i < n->n; i++) {
        const struct sl_node *it = n->items[i], *v;
        if (sl_kw_is_str(it, true))
            continue;
        if (it->kind != SL_NODE_MAP) {
            sl_lint_error(l, it, "%s config should be a string or a hash", need);
            continue;
        }
        sl_kw_unknown_keys(l, need, it, allowed);
        if (!(v = sl_kw_val(l, it, "job")))
            sl_lint_error(l, it, "%s config missing required keys: job", need);
        else if (!sl_kw_is_str(v, true))
            sl_lint_error(l, v, "%s:job config should be a non-empty string", need);
        if ((v = sl_kw_val(l, it, "artifacts")) && !sl_kw_is_bool(v))
            sl_lint_error(l, v, "%s:artifacts config should be a boolean value", need);
        if ((v = sl_kw_val(l, it, "optional")) && !sl_kw_is_bool(v))
            sl_lint_error(l, v, "%s:optional config should be a boolean value", need);
    }
out:
    free(need);
    free(x);
}

void sl_lint_auto_cancel(struct lint *l, const char *loc, const struct sl_node *n)
{
    static const char *const allowed[] = {"on_new_commit", "on_job_failure", NULL};
    static const char *const on_new_commit[] = {"conservative", "interruptible", "none", NULL};
    static const char *const on_job_failure[] = {"none", "all", NULL};
    char *x = sl_kw_loc(loc, "auto_cancel");
    const struct sl_node *v;
    if (n->kind != SL_NODE_MAP) {
        sl_lint_error(l, n, "%s config should be a hash", x);
    } else {
        sl_kw_unknown_keys(l, x, n, allowed);
        if ((v = sl_kw_val(l, n, "on_new_commit")) &&
            !sl_kw_one_of(sl_node_scalar(v), on_new_commit))
            sl_lint_error(
                l, v, "%s on_new_commit should be one of: conservative, interruptible, none", x);
        if ((v = sl_kw_val(l, n, "on_job_failure")) &&
            !sl_kw_one_of(sl_node_scalar(v), on_job_failure))
            sl_lint_error(l, v, "%s on_job_failure should be one of: none, all", x);
    }
    free(x);
}

enum rules_kind { RULES_JOB, RULES_WORKFLOW, RULES_INCLUDE };

static void check_rules_list(struct lint *l, const char *p, const char *k, const struct sl_node *n,
                             enum rules_kind kind, bool blank_ok)
{
    static const char *const job_keys[] = {
        "if",        "changes", "exists",        "when",     "allow_failure",
        "variables", "needs",   "interruptible", "start_in", NULL};
    static const char *const wf_keys[] = {"if",        "changes",     "exists",   "when",
                                          "variables", "auto_cancel", "start_in", "allow_failure",
                                          "needs",     NULL};
    static const char *const inc_keys[] = {"if", "changes", "exists", "when", NULL};
    static const char *const job_when[] = {"on_success", "on_failure", "always", "manual",
                                           "delayed",    "never",      NULL};
    static const char *const wf_when[] = {"always", "never", NULL};
    const char *const *keys = kind == RULES_JOB        ? job_keys
                              : kind == RULES_WORKFLOW ? wf_keys
                                                       : inc_keys;
    const char *const *whens = kind == RULES_JOB ? job_when : wf_when;
    if (!n || n->kind != SL_NODE_SEQ) {
        sl_lint_error(l, n, "%s %s should be an array of hashes", p, k);
        return;
    }
    char *loc = sl_xasprintf("%s:%s:rule", p, k);
    if (n->n == 0 && !blank_ok) /* Entry::Rules validates presence */
        sl_lint_error(l, n, "%s:%s config can't be blank", p, k);
    for (size_t i = 0; i < n->n; i++) {
        const struct sl_node *r = n->items[i];
        if (r && r->kind == SL_NODE_SEQ) { /* a flattened !reference */
            check_rules_list(l, p, k, r, kind, true);
            continue;
        }
        if (!r || r->kind != SL_NODE_MAP) {
            sl_lint_error(l, r, "%s %s should be an array of hashes", p, k);
            continue;
        }
        sl_kw_unknown_keys(l, loc, r, keys);
        const struct sl_node *x;
        if ((x = sl_kw_val(l, r, "if")))
            check_expression(l, loc, x);
        if ((x = sl_kw_get(r, "changes")))
            check_changes(l, loc, "changes", x);
        if ((x = sl_kw_get(r, "exists")))
            check_exists(l, loc, x);
        if ((x = sl_kw_get(r, "when")) && !sl_kw_one_of(sl_node_scalar(x), whens)) {
            sl_lint_error(l, x, "%s when unknown value: %s", loc,
                          sl_node_scalar(x) ? x->str : sl_node_kind_name(x));
            sl_kw_hint_names(l, sl_node_scalar(x), whens);
        }
        if ((x = sl_kw_get(r, "allow_failure")) && !sl_kw_is_bool(x) &&
            !(x->kind == SL_NODE_MAP && sl_kw_get(x, "exit_codes")))
            sl_lint_error(l, x, "%s allow_failure should be a boolean value", loc);
        if ((x = sl_kw_get(r, "interruptible")) && !sl_kw_is_bool(x))
            sl_lint_error(l, x, "%s interruptible should be a boolean value", loc);
        /* Rules::Rule: start_in only with `when: delayed`, and there required (presence,
         * then the duration validator with its one-week limit) */
        x = sl_kw_get(r, "start_in");
        const char *rw = sl_node_scalar(sl_kw_get(r, "when"));
        bool delayed = rw && !strcmp(rw, "delayed");
        if (kind == RULES_JOB && x && !delayed)
            sl_lint_error(l, r, "%s config contains disallowed keys: start_in", loc);
        if (kind == RULES_JOB && delayed) {
            if (!x)
                sl_lint_error(l, r, "%s start in can't be blank", loc);
            sl_kw_duration_limit(l, loc, "start in", x, r, SL_KW_START_IN_LIMIT_S);
        } else if (kind != RULES_JOB && x && !sl_kw_duration_ok(x, NULL)) {
            sl_lint_error(l, x, "%s start in should be a duration", loc);
        }
        if ((x = sl_kw_get(r, "variables")))
            check_variables(l, loc, "variables", x);
        if ((x = sl_kw_val(l, r, "needs")))
            check_rule_needs(l, loc, x);
        if (kind == RULES_WORKFLOW && (x = sl_kw_get(r, "auto_cancel")))
            sl_lint_auto_cancel(l, loc, x);
        /* a rule with no clause always matches (GitLab's Rules::Rule accepts one with only
         * allow_failure or interruptible); only an empty one is refused */
        if (r->n == 0)
            sl_lint_error(l, r, "%s config can't be blank", loc);
    }
    free(loc);
}

static void check_rules(struct lint *l, const char *p, const char *k, const struct sl_node *n)
{
    check_rules_list(l, p, k, n, RULES_JOB, false);
}

static void check_only_except(struct lint *l, const char *p, const char *k, const struct sl_node *n)
{
    static const char *const allowed[] = {"refs", "variables", "changes", "kubernetes", NULL};
    if (sl_kw_strings(n) || sl_kw_is_scalar(n))
        return;
    if (!n || n->kind != SL_NODE_MAP) {
        sl_lint_error(l, n,
                      "%s:%s config should be an array of strings or regular expressions "
                      "using re2 syntax or a hash",
                      p, k);
        return;
    }
    char *loc = sl_kw_loc(p, k);
    sl_kw_unknown_keys(l, loc, n, allowed);
    const struct sl_node *x;
    if ((x = sl_kw_get(n, "refs")) && !sl_kw_strings(x))
        sl_lint_error(l, x,
                      "%s:refs config should be an array of strings or regular expressions "
                      "using re2 syntax",
                      loc);
    if ((x = sl_kw_get(n, "variables"))) {
        if (!sl_kw_strings(x))
            sl_lint_error(l, x, "%s:variables config should be an array of strings", loc);
        else
            for (size_t i = 0; i < x->n; i++)
                if (!sl_lint_expression_ok(x->items[i]->str))
                    sl_lint_error(l, x->items[i],
                                  "%s:variables config should be valid expression "
                                  "syntax",
                                  loc);
                else
                    sl_lint_note_expression(l, x->items[i]);
    }
    if ((x = sl_kw_get(n, "changes")) && !sl_kw_strings(x))
        sl_lint_error(l, x, "%s:changes config should be an array of strings", loc);
    free(loc);
}

/* needs:parallel: only the {matrix: [...]} form, to pick jobs of a matrix. */
static void check_need_parallel(struct lint *l, const char *need, const struct sl_node *n)
{
    static const char *const allowed[] = {"matrix", NULL};
    char *loc = sl_kw_loc(need, "parallel");
    const struct sl_node *m;
    if (n->kind != SL_NODE_MAP) {
        sl_lint_error(l, n, "%s config should be a hash with a matrix", loc);
    } else {
        sl_kw_unknown_keys(l, loc, n, allowed);
        if (!(m = sl_kw_val(l, n, "matrix")))
            sl_lint_error(l, n, "%s config missing required keys: matrix", loc);
        else
            check_matrix(l, loc, m);
    }
    free(loc);
}

static void check_needs(struct lint *l, const char *p, const char *k, const struct sl_node *n)
{
    static const char *const job_keys[] = {"job", "artifacts", "optional", "parallel", NULL};
    static const char *const pipeline_keys[] = {"pipeline", "job",      "artifacts",
                                                "optional", "parallel", NULL};
    static const char *const project_keys[] = {"project",   "job",      "ref",
                                               "artifacts", "parallel", NULL};
    if (!n || n->kind != SL_NODE_SEQ) {
        sl_lint_error(l, n, "%s:%s config should be an array", p, k);
        return;
    }
    char *loc = sl_kw_loc(p, k);
    char *need = sl_kw_loc(loc, "need");
    for (size_t i = 0; i < n->n; i++) {
        const struct sl_node *x = n->items[i];
        if (sl_kw_is_str(x, true))
            continue;
        if (x && x->kind == SL_NODE_SEQ && x->tag) /* a !reference from a file not read */
            continue;
        if (!x || x->kind != SL_NODE_MAP) {
            sl_lint_error(l, x, "%s config should be a string or a hash", need);
            continue;
        }
        const char *const *allowed = sl_kw_get(x, "pipeline")  ? pipeline_keys
                                     : sl_kw_get(x, "project") ? project_keys
                                                               : job_keys;
        sl_kw_unknown_keys(l, loc, x, allowed);
        const struct sl_node *b;
        if (!(b = sl_kw_val(l, x, "job")))
            sl_lint_error(l, x, "%s config missing required keys: job", need);
        else if (!sl_kw_is_str(b, true))
            sl_lint_error(l, b, "%s:job config should be a non-empty string", need);
        if (sl_kw_get(x, "project") && !sl_kw_get(x, "ref"))
            sl_lint_error(l, x, "%s config missing required keys: ref", need);
        if ((b = sl_kw_val(l, x, "pipeline")) && !sl_kw_is_scalar(b))
            sl_lint_error(l, b, "%s:pipeline config should be a string", need);
        if ((b = sl_kw_val(l, x, "project")) && !sl_kw_is_scalar(b))
            sl_lint_error(l, b, "%s:project config should be a string", need);
        if ((b = sl_kw_val(l, x, "artifacts")) && !sl_kw_is_bool(b))
            sl_lint_error(l, b, "%s artifacts should be a boolean value", need);
        if ((b = sl_kw_val(l, x, "optional")) && !sl_kw_is_bool(b))
            sl_lint_error(l, b, "%s optional should be a boolean value", need);
        if ((b = sl_kw_val(l, x, "parallel")))
            check_need_parallel(l, need, b);
    }
    free(need);
    free(loc);
}

/* artifacts:reports, each report type with its shape (the JSON schema's). */
static void check_reports(struct lint *l, const char *loc, const struct sl_node *n)
{
    /* string or array of strings */
    static const char *const file_lists[] = {"api_fuzzing",
                                             "performance",
                                             "coverage_fuzzing",
                                             "codequality",
                                             "dotenv",
                                             "lsif",
                                             "sast",
                                             "dependency_scanning",
                                             "container_scanning",
                                             "dast",
                                             "license_management",
                                             "license_scanning",
                                             "requirements",
                                             "secret_detection",
                                             "metrics",
                                             "terraform",
                                             "cyclonedx",
                                             "sarif",
                                             "load_performance",
                                             "repository_xray",
                                             "requirements_v2",
                                             "cluster_image_scanning",
                                             NULL};
    static const char *const strings[] = {"accessibility", "annotations", "browser_performance",
                                          NULL};
    static const char *const formats[] = {"cobertura", "jacoco", NULL};
    static const char *const cov_keys[] = {"coverage_format", "path", NULL};
    char *x = sl_kw_loc(loc, "reports");
    if (n->kind != SL_NODE_MAP) {
        sl_lint_error(l, n, "%s config should be a hash", x);
        free(x);
        return;
    }
    for (size_t i = 0; i < n->n; i++) {
        const char *key = n->pairs[i].key;
        const struct sl_node *v = n->pairs[i].value;
        bool shape = l->cfg->shape_only; /* the backend reads a null report as absent */
        /* Entry::Reports still takes `performance` (renamed browser_performance); the
         * JSON schema does not */
        if (sl_kw_one_of(key, file_lists) && !(shape && !strcmp(key, "performance"))) {
            if ((v->kind != SL_NODE_NULL || shape) && !sl_kw_is_str(v, false) &&
                !sl_kw_str_array(v))
                sl_lint_error(l, v, "%s:%s config should be a string or an array of strings", x,
                              key);
        } else if (sl_kw_one_of(key, strings)) {
            /* GitLab's backend also takes a list of paths; its JSON schema does not */
            if ((v->kind != SL_NODE_NULL || shape) && !sl_kw_is_str(v, false) &&
                (shape || !sl_kw_str_array(v)))
                sl_lint_error(l, v, "%s:%s config should be a string", x, key);
        } else if (!strcmp(key, "junit")) {
            if ((v->kind != SL_NODE_NULL || shape) && !sl_kw_is_str(v, false) &&
                !(sl_kw_str_array(v) && v->n))
                sl_lint_error(l, v, "%s:%s config should be a string or an array of strings", x,
                              key);
        } else if (!strcmp(key, "coverage_report")) {
            char *c = sl_kw_loc(x, key);
            const struct sl_node *f;
            if (v->kind == SL_NODE_MAP) {
                sl_kw_unknown_keys(l, c, v, cov_keys);
                if ((f = sl_kw_get(v, "coverage_format")) &&
                    !sl_kw_one_of(sl_node_scalar(f), formats))
                    sl_lint_error(l, f,
                                  "%s:coverage_format config should be one of: cobertura, "
                                  "jacoco",
                                  c);
                if ((f = sl_kw_val(l, v, "path")) && !sl_kw_is_str(f, true))
                    sl_lint_error(l, f, "%s:path config should be a non-empty string", c);
            } else if (v->kind != SL_NODE_NULL) {
                sl_lint_error(l, v, "%s config should be a hash", c);
            }
            free(c);
        } else {
            sl_lint_error_pos(l, n->pairs[i].key_pos, "%s config contains unknown keys: %s", x,
                              key);
        }
    }
    free(x);
}

static void check_artifacts(struct lint *l, const char *p, const char *k, const struct sl_node *n)
{
    static const char *const allowed[] = {"name",   "untracked", "paths",     "reports",
                                          "when",   "expire_in", "expose_as", "exclude",
                                          "public", "access",    NULL};
    static const char *const whens[] = {"on_success", "on_failure", "always", NULL};
    static const char *const access[] = {"none", "developer", "maintainer", "all", NULL};
    if (!n || n->kind != SL_NODE_MAP) {
        sl_lint_error(l, n, "%s:%s config should be a hash", p, k);
        return;
    }
    char *loc = sl_kw_loc(p, k);
    sl_kw_unknown_keys(l, loc, n, allowed);
    const struct sl_node *x;
    if ((x = sl_kw_get(n, "paths")) && !sl_kw_strings(x))
        sl_lint_error(l, x, "%s paths should be an array of strings", loc);
    if ((x = sl_kw_get(n, "exclude")) && !sl_kw_strings(x))
        sl_lint_error(l, x, "%s exclude should be an array of strings", loc);
    if ((x = sl_kw_get(n, "untracked")) && !sl_kw_is_bool(x))
        sl_lint_error(l, x, "%s untracked should be a boolean value", loc);
    if ((x = sl_kw_get(n, "when")) && !sl_kw_one_of(sl_node_scalar(x), whens))
        sl_lint_error(l, x, "%s when should be on_success, on_failure or always", loc);
    if ((x = sl_kw_get(n, "expire_in")) && !(sl_node_scalar(x) && !strcmp(x->str, "never")) &&
        !sl_kw_duration_ok(x, NULL))
        sl_lint_error(l, x, "%s expire in should be a duration", loc);
    if ((x = sl_kw_get(n, "reports")))
        check_reports(l, loc, x);
    if ((x = sl_kw_get(n, "public")) && !sl_kw_is_bool(x))
        sl_lint_error(l, x, "%s public should be a boolean value", loc);
    if ((x = sl_kw_val(l, n, "access")) && !sl_kw_one_of(sl_node_scalar(x), access))
        sl_lint_error(l, x, "%s access should be one of: none, developer, maintainer, all", loc);
    if (sl_kw_get(n, "public") && sl_kw_get(n, "access"))
        sl_lint_error(l, n, "%s config these keys cannot be used together: public, access", loc);
    if ((x = sl_kw_get(n, "name")) && !sl_kw_is_scalar(x))
        sl_lint_error(l, x, "%s name should be a string", loc);
    if ((x = sl_kw_get(n, "expose_as")) && !sl_kw_is_scalar(x))
        sl_lint_error(l, x, "%s expose_as should be a string", loc);
    free(loc);
}

static void check_cache_key(struct lint *l, const char *loc, const struct sl_node *key)
{
    static const char *const allowed[] = {"files", "prefix", "files_commits", NULL};
    if (key->kind == SL_NODE_MAP) {
        char *x = sl_kw_loc(loc, "key");
        sl_kw_unknown_keys(l, x, key, allowed);
        const struct sl_node *f = sl_kw_val(l, key, "files");
        if (f && !sl_kw_strings(f))
            sl_lint_error(l, f, "%s:files config should be an array of strings", x);
        else if (f && f->n == 0) /* Entry::Files: 1 to 2 paths (10 behind a feature flag) */
            sl_lint_error(l, f, "%s:files config requires at least 1 item", x);
        else if (f && f->n > 10)
            sl_lint_error(l, f, "%s:files config has too many items (maximum is 10)", x);
        else if (f && f->n > 2 && !l->cfg->shape_only) /* the schema has the flagged limit */
            sl_lint_error(l, f, "%s:files config has too many items (maximum is 2)", x);
        if ((f = sl_kw_val(l, key, "files_commits")) && !sl_kw_strings(f))
            sl_lint_error(l, f, "%s:files_commits config should be an array of strings", x);
        else if (f && (f->n == 0 || f->n > 2))
            sl_lint_error(l, f, "%s:files_commits config should have 1 or 2 entries", x);
        if ((f = sl_kw_val(l, key, "prefix")) && !sl_kw_is_scalar(f))
            sl_lint_error(l, f, "%s:prefix config should be a string", x);
        free(x);
        return;
    }
    const char *s = sl_node_scalar(key);
    if (!s)
        sl_lint_error(l, key, "%s:key config should be a hash, a string or a symbol", loc);
    else if (strchr(s, '/') || strstr(s, "%2F") || strstr(s, "%2f"))
        sl_lint_error(l, key, "%s:key config cannot contain the \"/\" character", loc);
    else if (!strcmp(s, ".") || !strcmp(s, ".."))
        sl_lint_error(l, key, "%s:key config cannot be \".\" or \"..\"", loc);
}

static void check_one_cache(struct lint *l, const char *loc, const struct sl_node *n)
{
    static const char *const allowed[] = {"key",    "untracked", "paths",         "when",
                                          "policy", "unprotect", "fallback_keys", NULL};
    static const char *const whens[] = {"on_success", "on_failure", "always", NULL};
    static const char *const policies[] = {"pull", "push", "pull-push", NULL};
    if (!n || n->kind != SL_NODE_MAP) {
        sl_lint_error(l, n, "%s config should be a hash", loc);
        return;
    }
    sl_kw_unknown_keys(l, loc, n, allowed);
    const struct sl_node *x;
    if ((x = sl_kw_get(n, "key")))
        check_cache_key(l, loc, x);
    if ((x = sl_kw_get(n, "paths")) && !sl_kw_strings(x))
        sl_lint_error(l, x, "%s:paths config should be an array of strings", loc);
    if ((x = sl_kw_val(l, n, "untracked")) && !sl_kw_is_bool(x))
        sl_lint_error(l, x, "%s:untracked config should be a boolean value", loc);
    if ((x = sl_kw_val(l, n, "unprotect")) && !sl_kw_is_bool(x))
        sl_lint_error(l, x, "%s:unprotect config should be a boolean value", loc);
    if ((x = sl_kw_get(n, "when")) && !sl_kw_one_of(sl_node_scalar(x), whens))
        sl_lint_error(l, x, "%s:when config should be one of on_success, on_failure or always",
                      loc);
    if ((x = sl_kw_get(n, "policy")) && !sl_kw_one_of(sl_node_scalar(x), policies) &&
        !(sl_node_scalar(x) && x->str[0] == '$'))
        sl_lint_error(l, x, "%s:policy config should be one of: pull-push, push, pull", loc);
    if ((x = sl_kw_get(n, "fallback_keys"))) {
        if (!sl_kw_strings(x))
            sl_lint_error(l, x, "%s:fallback_keys config should be an array of strings", loc);
        else if (x->n > 5)
            sl_lint_error(l, x, "%s:fallback_keys config has too many entries (maximum 5)", loc);
    }
}

static void check_cache(struct lint *l, const char *p, const char *k, const struct sl_node *n)
{
    char *loc = sl_kw_loc(p, k);
    if (n && n->kind == SL_NODE_SEQ) {
        if (n->n > 4)
            sl_lint_error(l, n, "%s config no more than 4 caches can be created", loc);
        for (size_t i = 0; i < n->n; i++)
            check_one_cache(l, loc, n->items[i]);
    } else if (n && n->kind != SL_NODE_NULL) {
        check_one_cache(l, loc, n);
    }
    free(loc);
}

static void check_when(struct lint *l, const char *p, const char *k, const struct sl_node *n)
{
    static const char *const job_whens[] = {"on_success", "on_failure", "always",
                                            "manual",     "delayed",    NULL};
    static const char *const bridge_whens[] = {"on_success", "on_failure", "always", "manual",
                                               NULL}; /* Bridge::ALLOWED_WHEN */
    const char *const *whens = l->bridge ? bridge_whens : job_whens;
    if (!sl_kw_one_of(sl_node_scalar(n), whens)) {
        char *all = sl_kw_join(whens);
        sl_lint_error(l, n, "%s %s should be one of: %s", p, k, all);
        sl_kw_hint_names(l, sl_node_scalar(n), whens);
        free(all);
    }
}

static void check_allow_failure(struct lint *l, const char *p, const char *k,
                                const struct sl_node *n)
{
    static const char *const allowed[] = {"exit_codes", NULL};
    if (sl_kw_is_bool(n))
        return;
    if (!n || n->kind != SL_NODE_MAP) {
        sl_lint_error(l, n, "%s:%s config should be a hash or a boolean value", p, k);
        return;
    }
    char *loc = sl_kw_loc(p, k);
    sl_kw_unknown_keys(l, loc, n, allowed);
    const struct sl_node *c = sl_kw_get(n, "exit_codes");
    if (!c)
        sl_lint_error(l, n, "%s config missing required keys: exit_codes", loc);
    else
        check_exit_codes(l, loc, c);
    free(loc);
}

/* exit_codes: an integer or a non-empty array of unique integers. */
static void check_exit_codes(struct lint *l, const char *loc, const struct sl_node *c)
{
    if (sl_kw_is_int(c))
        return;
    bool ok = c->kind == SL_NODE_SEQ && c->n > 0 && c->n <= 255;
    for (size_t i = 0; ok && i < c->n; i++)
        ok = sl_kw_is_int(c->items[i]);
    if (!ok) {
        sl_lint_error(l, c, "%s exit_codes should be an array of integers or an integer", loc);
        return;
    }
    for (size_t i = 0; i < c->n; i++)
        for (size_t j = 0; j < i; j++)
            if (!strcmp(c->items[i]->str, c->items[j]->str)) {
                sl_lint_error(l, c->items[i], "%s exit_codes contains duplicate values: %s", loc,
                              c->items[i]->str);
                return;
            }
}

static void check_retry(struct lint *l, const char *p, const char *k, const struct sl_node *n)
{
    static const char *const allowed[] = {"max", "when", "exit_codes", NULL};
    static const char *const reasons[] = {"always",
                                          "unknown_failure",
                                          "script_failure",
                                          "api_failure",
                                          "stuck_or_timeout_failure",
                                          "runner_system_failure",
                                          "runner_unsupported",
                                          "stale_schedule",
                                          "job_execution_timeout",
                                          "archived_failure",
                                          "unmet_prerequisites",
                                          "scheduler_failure",
                                          "data_integrity_failure",
                                          "stuck_pending_with_matching_runners",
                                          "stuck_pending_no_matching_runners",
                                          "no_updates_running",
                                          "no_updates_canceling",
                                          "runner_configuration_error",
                                          "runner_external_dependency_failure",
                                          "runner_interrupted",
                                          "server_timeout_running",
                                          "server_timeout_canceling",
                                          NULL};
    char *loc = sl_kw_loc(p, k);
    const struct sl_node *max = n;
    if (n && n->kind == SL_NODE_MAP) {
        sl_kw_unknown_keys(l, loc, n, allowed);
        max = sl_kw_get(n, "max");
        const struct sl_node *w = sl_kw_get(n, "when");
        for (size_t i = 0; w && i < (w->kind == SL_NODE_SEQ ? w->n : 1); i++) {
            const struct sl_node *x = w->kind == SL_NODE_SEQ ? w->items[i] : w;
            if (!sl_kw_one_of(sl_node_scalar(x), reasons))
                sl_lint_error(l, x, "%s when unknown value: %s", loc,
                              sl_node_scalar(x) ? x->str : sl_node_kind_name(x));
        }
    } else if (!n || n->kind != SL_NODE_INT) {
        sl_lint_error(l, n, "%s config has to be either an integer or a hash", loc);
        max = NULL;
    }
    const struct sl_node *codes =
        n && n->kind == SL_NODE_MAP ? sl_kw_val(l, n, "exit_codes") : NULL;
    if (codes)
        check_exit_codes(l, loc, codes);
    if (max && (max->kind != SL_NODE_INT || sl_parse_ll(max->str) < 0 || sl_parse_ll(max->str) > 2))
        sl_lint_error(l, max, "%s config must be a non negative integer less than or equal to 2",
                      loc);
    free(loc);
}

static void check_inherit(struct lint *l, const char *p, const char *k, const struct sl_node *n)
{
    static const char *const allowed[] = {"default", "variables", NULL};
    char *loc = sl_kw_loc(p, k);
    if (!n || n->kind != SL_NODE_MAP)
        sl_lint_error(l, n, "%s config should be a hash", loc);
    else {
        sl_kw_unknown_keys(l, loc, n, allowed);
        for (size_t i = 0; i < n->n; i++) {
            const struct sl_node *v = n->pairs[i].value;
            if (!sl_kw_is_bool(v) && !sl_kw_strings(v))
                sl_lint_error(l, v, "%s:%s config should be a boolean value or an array of strings",
                              loc, n->pairs[i].key);
        }
    }
    free(loc);
}

static size_t matrix_size(const struct sl_node *matrix)
{
    size_t total = 0;
    for (size_t e = 0; matrix && matrix->kind == SL_NODE_SEQ && e < matrix->n; e++) {
        const struct sl_node *entry = matrix->items[e];
        size_t t = 1;
        for (size_t k = 0; entry && entry->kind == SL_NODE_MAP && k < entry->n; k++) {
            const struct sl_node *v = entry->pairs[k].value;
            t *= v && v->kind == SL_NODE_SEQ ? (v->n ? v->n : 1) : 1;
            if (t > 100000)
                return t;
        }
        total += t;
    }
    return total;
}

/* A parallel:matrix: an array of at most 200 hashes of strings, numbers or arrays. */
static void check_matrix(struct lint *l, const char *loc, const struct sl_node *m)
{
    if (m->kind != SL_NODE_SEQ) {
        sl_lint_error(l, m, "%s:matrix config should be an array of hashes", loc);
        return;
    }
    for (size_t i = 0; i < m->n; i++) {
        const struct sl_node *e = m->items[i];
        if (!e || e->kind != SL_NODE_MAP) {
            sl_lint_error(l, e, "%s:matrix config should be an array of hashes", loc);
            continue;
        }
        for (size_t k = 0; k < e->n; k++) {
            const struct sl_node *v = e->pairs[k].value;
            if (!sl_kw_is_scalar(v) && v->kind != SL_NODE_SEQ)
                sl_lint_error(l, v, "%s:matrix:%s config should be a string, a number or an array",
                              loc, e->pairs[k].key);
        }
    }
    if (matrix_size(m) > SL_CONFIG_MAX_MATRIX)
        sl_lint_error(l, m, "%s:matrix config generates too many jobs (maximum is %d)", loc,
                      SL_CONFIG_MAX_MATRIX);
}

static void check_parallel(struct lint *l, const char *p, const char *k, const struct sl_node *n)
{
    char *loc = sl_kw_loc(p, k);
    if (n && n->kind == SL_NODE_INT) {
        long v = sl_parse_ll(n->str);
        if (v < 1 || v > SL_CONFIG_MAX_MATRIX)
            sl_lint_error(l, n, "%s config must be less than or equal to %d and greater than 1",
                          loc, SL_CONFIG_MAX_MATRIX);
    } else if (n && n->kind == SL_NODE_MAP) {
        static const char *const allowed[] = {"matrix", NULL};
        sl_kw_unknown_keys(l, loc, n, allowed);
        const struct sl_node *m = sl_kw_val(l, n, "matrix");
        if (!m)
            sl_lint_error(l, n, "%s:matrix config should be an array of hashes", loc);
        else
            check_matrix(l, loc, m);
    } else {
        sl_lint_error(l, n, "%s config should be an integer or a hash", loc);
    }
    free(loc);
}

static void check_environment(struct lint *l, const char *p, const char *k, const struct sl_node *n)
{
    static const char *const allowed[] = {
        "name", "url", "action", "on_stop", "auto_stop_in", "kubernetes", "deployment_tier", NULL};
    static const char *const actions[] = {"start", "prepare", "stop", "verify", "access", NULL};
    static const char *const tiers[] = {"production",  "staging", "testing",
                                        "development", "other",   NULL};
    if (sl_kw_is_scalar(n))
        return;
    char *loc = sl_kw_loc(p, k);
    if (!n || n->kind != SL_NODE_MAP)
        sl_lint_error(l, n, "%s config should be a hash or a string", loc);
    else {
        sl_kw_unknown_keys(l, loc, n, allowed);
        const struct sl_node *x;
        if (!sl_kw_get(n, "name"))
            sl_lint_error(l, n, "%s name can't be blank", loc);
        if ((x = sl_kw_get(n, "action")) && !sl_kw_one_of(sl_node_scalar(x), actions))
            sl_lint_error(l, x, "%s action should be start, stop, prepare, verify, or access", loc);
        if ((x = sl_kw_get(n, "deployment_tier")) && !sl_kw_one_of(sl_node_scalar(x), tiers))
            sl_lint_error(l, x,
                          "%s deployment tier must be one of production, staging, testing, "
                          "development, other",
                          loc);
    }
    free(loc);
}

static void check_coverage(struct lint *l, const char *p, const char *k, const struct sl_node *n)
{
    const char *s = sl_node_scalar(n);
    size_t len = s ? strlen(s) : 0;
    if (!s || len < 2 || s[0] != '/' || s[len - 1] != '/')
        sl_lint_error(l, n, "%s:%s config must be a regular expression", p, k);
}

static void check_extends(struct lint *l, const char *p, const char *k, const struct sl_node *n)
{
    if (!sl_kw_is_scalar(n) && !sl_kw_strings(n))
        sl_lint_error(l, n, "%s:%s config should be an array of strings or a string", p, k);
}

static void check_start_in(struct lint *l, const char *p, const char *k, const struct sl_node *n)
{
    sl_kw_duration_limit(l, p, "start in", n, n, SL_KW_START_IN_LIMIT_S);
    (void)k;
}

/* GitLab's JSON schema for a project path: `group/project` somewhere in it (a slash with a
 * non-blank character on each side), or a variable. */
static bool project_path_ok(const char *s)
{
    for (size_t i = 0; s[i]; i++) {
        if (s[i] == '/' && i > 0 && !isspace((unsigned char)s[i - 1]) && s[i + 1] &&
            !isspace((unsigned char)s[i + 1]))
            return true;
        if (s[i] == '$' && s[i + 1] && !isspace((unsigned char)s[i + 1]))
            return true;
    }
    return false;
}

void sl_lint_project_path(struct lint *l, const char *loc, const struct sl_node *n)
{
    if (!sl_kw_is_scalar(n))
        sl_lint_error(l, n, "%s project should be a string", loc);
    else if (!project_path_ok(n->str))
        sl_lint_error(l, n,
                      "%s project should be a full project path (namespace/project), not \"%s\"",
                      loc, n->str);
}

static void check_trigger(struct lint *l, const char *p, const char *k, const struct sl_node *n)
{
    static const char *const project_keys[] = {"project", "branch",  "strategy",
                                               "inputs",  "forward", NULL};
    static const char *const include_keys[] = {"include", "strategy", "forward", NULL};
    static const char *const forward_keys[] = {"yaml_variables", "pipeline_variables", NULL};
    static const char *const strategies[] = {"depend", "mirror", NULL};
    char *loc = sl_kw_loc(p, k);
    const struct sl_node *x;
    if (sl_kw_is_scalar(n)) {
        sl_lint_project_path(l, loc, n);
        goto out;
    }
    if (!n || n->kind != SL_NODE_MAP) {
        sl_lint_error(l, n, "%s config should be a hash or a string", loc);
        goto out;
    }
    if (sl_kw_get(n, "include")) {
        sl_kw_unknown_keys(l, loc, n, include_keys);
        x = sl_kw_get(n, "include");
        char *inc = sl_kw_loc(loc, "include");
        if (sl_kw_is_scalar(x)) {
            if (!sl_kw_is_str(x, true))
                sl_lint_error(l, x, "%s config should be a file path or an array of hashes", inc);
        } else if (x->kind != SL_NODE_SEQ) {
            sl_lint_error(l, x, "%s config should be a file path or an array of hashes", inc);
        } else {
            if (x->n > 3)
                sl_lint_error(l, x, "%s config has too many entries (maximum 3)", inc);
            for (size_t i = 0; i < x->n; i++)
                sl_lint_include_item(l, inc, x->items[i], KW_INCLUDE_TRIGGER);
        }
        free(inc);
    } else {
        sl_kw_unknown_keys(l, loc, n, project_keys);
        if (!(x = sl_kw_val(l, n, "project")))
            sl_lint_error(l, n, "%s config missing required keys: project", loc);
        else
            sl_lint_project_path(l, loc, x);
        if ((x = sl_kw_val(l, n, "branch")) && !sl_kw_is_scalar(x))
            sl_lint_error(l, x, "%s branch should be a string", loc);
        if ((x = sl_kw_get(n, "inputs")))
            sl_lint_inputs_values(l, loc, x);
    }
    if ((x = sl_kw_val(l, n, "strategy")) && !sl_kw_one_of(sl_node_scalar(x), strategies))
        sl_lint_error(l, x, "%s strategy should be one of: depend, mirror", loc);
    if ((x = sl_kw_val(l, n, "forward"))) {
        char *f = sl_kw_loc(loc, "forward");
        if (x->kind != SL_NODE_MAP) {
            sl_lint_error(l, x, "%s config should be a hash", f);
        } else {
            sl_kw_unknown_keys(l, f, x, forward_keys);
            for (size_t i = 0; i < x->n; i++)
                if (!sl_kw_is_bool(x->pairs[i].value))
                    sl_lint_error(l, x->pairs[i].value, "%s %s should be a boolean value", f,
                                  x->pairs[i].key);
        }
        free(f);
    }
out:
    free(loc);
}

static void check_tags(struct lint *l, const char *p, const char *k, const struct sl_node *n)
{
    if (!sl_kw_nested_strings(n, 1) || !n || n->kind != SL_NODE_SEQ)
        sl_lint_error(l, n, "%s:%s config should be an array of strings", p, k);
    else if (n->n >= 50)
        sl_lint_error(l, n, "%s:%s config must be less than the limit of 50 tags", p, k);
}

/* The table. RARE rows are accepted with a warning that sluice does not act on them. */
const struct keyword sl_job_keywords[] = {
    {"script", KW_JOB, KW_CORE, check_script},
    {"before_script", KW_JOB | KW_DEFAULT | KW_TOP, KW_CORE, check_script},
    {"after_script", KW_JOB | KW_DEFAULT | KW_TOP, KW_CORE, check_script},
    {"stage", KW_JOB, KW_CORE, check_string},
    {"type", KW_JOB, KW_RARE, check_string},
    {"variables", KW_JOB | KW_TOP, KW_CORE, check_variables},
    {"image", KW_JOB | KW_DEFAULT | KW_TOP, KW_CORE, check_image},
    {"services", KW_JOB | KW_DEFAULT | KW_TOP, KW_CORE, check_services},
    {"rules", KW_JOB, KW_CORE, check_rules},
    {"only", KW_JOB, KW_CORE, check_only_except},
    {"except", KW_JOB, KW_CORE, check_only_except},
    {"needs", KW_JOB, KW_CORE, check_needs},
    {"dependencies", KW_JOB, KW_CORE, check_strings},
    {"artifacts", KW_JOB | KW_DEFAULT, KW_CORE, check_artifacts},
    {"cache", KW_JOB | KW_DEFAULT | KW_TOP, KW_CORE, check_cache},
    {"when", KW_JOB, KW_CORE, check_when},
    {"allow_failure", KW_JOB, KW_CORE, check_allow_failure},
    {"retry", KW_JOB | KW_DEFAULT, KW_CORE, check_retry},
    {"timeout", KW_JOB | KW_DEFAULT, KW_CORE, check_timeout},
    {"extends", KW_JOB, KW_CORE, check_extends},
    {"inherit", KW_JOB, KW_CORE, check_inherit},
    {"parallel", KW_JOB, KW_CORE, check_parallel},
    {"environment", KW_JOB, KW_CORE, check_environment},
    {"tags", KW_JOB | KW_DEFAULT, KW_CORE, check_tags},
    {"coverage", KW_JOB, KW_CORE, check_coverage},
    {"interruptible", KW_JOB | KW_DEFAULT, KW_CORE, check_bool},
    {"resource_group", KW_JOB, KW_CORE, check_string},
    {"trigger", KW_JOB, KW_CORE, check_trigger},
    {"start_in", KW_JOB, KW_COMMON, check_start_in},
    {"manual_confirmation", KW_JOB, KW_RARE, check_string},
    {"release", KW_JOB, KW_RARE, NULL},
    {"secrets", KW_JOB, KW_RARE, sl_kw_check_secrets},
    {"id_tokens", KW_JOB | KW_DEFAULT, KW_RARE, sl_kw_check_id_tokens},
    {"hooks", KW_JOB | KW_DEFAULT, KW_RARE, sl_kw_check_hooks},
    {"identity", KW_JOB | KW_DEFAULT, KW_RARE, sl_kw_check_identity},
    {"dast_configuration", KW_JOB, KW_RARE, sl_kw_check_dast},
    {"pages", KW_JOB, KW_RARE, sl_kw_check_pages},
    {"publish", KW_JOB, KW_RARE, check_string},
    {"inputs", KW_JOB, KW_RARE, sl_kw_check_job_inputs},
    {"run", KW_JOB, KW_RARE, sl_kw_check_run},
};
const size_t sl_job_keywords_count = SL_ARRAY_LEN(sl_job_keywords);

const struct keyword *sl_keyword_find(const char *name)
{
    for (size_t i = 0; i < sl_job_keywords_count; i++)
        if (!strcmp(sl_job_keywords[i].name, name))
            return &sl_job_keywords[i];
    return NULL;
}

void sl_lint_workflow_rules(struct lint *l, const struct sl_node *n)
{
    check_rules_list(l, "workflow", "rules", n, RULES_WORKFLOW, false);
}

void sl_lint_include_rules(struct lint *l, const char *loc, const struct sl_node *n)
{
    check_rules_list(l, loc, "rules", n, RULES_INCLUDE, false);
}
