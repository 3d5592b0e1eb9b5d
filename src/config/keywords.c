/* keywords.c: the keyword table (SPEC.md §1) and the shape checkers of its rows, in
 * GitLab's wording (GitLab's lib/gitlab/ci/config/entry classes, SPEC.md §5). */
#include "base/compat.h"
#include "config/keywords.h"
#include "base/alloc.h"
#include "base/str.h"
#include "base/time.h"

/* --- shapes -------------------------------------------------------------------------- */

/* A key's value, with null read as absent: extends and default write null to remove a
 * keyword, and GitLab validates the result, where the key is then gone. */
static const struct sl_node *get(const struct sl_node *map, const char *key)
{
    const struct sl_node *n = sl_node_get(map, key);
    return n && n->kind == SL_NODE_NULL ? NULL : n;
}

/* GitLab reads numbers and booleans as strings in many places (variables, tags). */
static bool is_scalar_value(const struct sl_node *n)
{
    return n && n->kind != SL_NODE_SEQ && n->kind != SL_NODE_MAP && n->kind != SL_NODE_NULL;
}

static bool is_bool(const struct sl_node *n)
{
    return n && n->kind == SL_NODE_BOOL;
}

static bool array_of_strings(const struct sl_node *n)
{
    if (!n || n->kind != SL_NODE_SEQ)
        return false;
    for (size_t i = 0; i < n->n; i++)
        if (!is_scalar_value(n->items[i]))
            return false;
    return true;
}

static bool nested_strings(const struct sl_node *n, int depth)
{
    if (is_scalar_value(n))
        return true;
    if (!n || n->kind != SL_NODE_SEQ || depth > 10)
        return false;
    for (size_t i = 0; i < n->n; i++)
        if (!nested_strings(n->items[i], depth + 1))
            return false;
    return true;
}

static bool duration_ok(const struct sl_node *n, int64_t *secs)
{
    int64_t s;
    if (!is_scalar_value(n) || sl_time_parse_duration(n->str, &s) < 0)
        return false;
    if (secs)
        *secs = s;
    return true;
}

/* Reports keys of MAP not in ALLOWED (NULL-terminated) as "LOC config contains unknown
 * keys: a, b". */
static void unknown_keys(struct lint *l, const char *loc, const struct sl_node *map,
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
    if (first)
        lint_error_pos(l, first->key_pos, "%s config contains unknown keys: %s", loc, bad.buf);
    sl_str_release(&bad);
}

static bool one_of(const char *s, const char *const *values)
{
    for (const char *const *v = values; *v; v++)
        if (s && !strcmp(s, *v))
            return true;
    return false;
}

static char *join(const char *const *values)
{
    struct sl_str s = SL_STR_INIT;
    for (const char *const *v = values; *v; v++)
        sl_str_addf(&s, "%s%s", s.len ? ", " : "", *v);
    return sl_str_detach(&s);
}

static char *loc2(const char *parent, const char *key)
{
    return sl_xasprintf("%s:%s", parent, key);
}

/* --- checkers ------------------------------------------------------------------------ */

static void check_script(struct lint *l, const char *p, const char *k, const struct sl_node *n)
{
    if (!nested_strings(n, 1))
        lint_error(l, n,
                   "%s:%s config should be a string or a nested array of strings up to 10 "
                   "levels deep",
                   p, k);
}

static void check_string(struct lint *l, const char *p, const char *k, const struct sl_node *n)
{
    if (!is_scalar_value(n))
        lint_error(l, n, "%s:%s config should be a string", p, k);
}

static void check_bool(struct lint *l, const char *p, const char *k, const struct sl_node *n)
{
    if (!is_bool(n))
        lint_error(l, n, "%s:%s config should be a boolean value", p, k);
}

static void check_duration(struct lint *l, const char *p, const char *k, const struct sl_node *n)
{
    if (!duration_ok(n, NULL))
        lint_error(l, n, "%s:%s config should be a duration", p, k);
}

static void check_strings(struct lint *l, const char *p, const char *k, const struct sl_node *n)
{
    if (!array_of_strings(n))
        lint_error(l, n, "%s:%s config should be an array of strings", p, k);
}

static void check_variables(struct lint *l, const char *p, const char *k, const struct sl_node *n)
{
    static const char *const allowed[] = {"value", "description", "expand", "options", NULL};
    if (!n || n->kind == SL_NODE_NULL)
        return;
    if (n->kind != SL_NODE_MAP) {
        lint_error(l, n, "%s:%s config should be a hash of key value pairs", p, k);
        return;
    }
    for (size_t i = 0; i < n->n; i++) {
        const struct sl_node *v = n->pairs[i].value;
        if (v && v->kind == SL_NODE_MAP) {
            char *loc = sl_xasprintf("%s:%s:%s", p, k, n->pairs[i].key);
            unknown_keys(l, loc, v, allowed);
            const struct sl_node *e = get(v, "expand");
            if (e && !is_bool(e))
                lint_error(l, e, "%s:expand config should be a boolean value", loc);
            free(loc);
        } else if (v && v->kind == SL_NODE_SEQ) {
            lint_error(l, v,
                       "%s:%s config should be a hash of key value pairs, value can be a "
                       "hash",
                       p, k);
            return;
        }
    }
}

static void check_image(struct lint *l, const char *p, const char *k, const struct sl_node *n)
{
    static const char *const allowed[] = {"name",       "entrypoint",  "docker",
                                          "kubernetes", "pull_policy", NULL};
    if (is_scalar_value(n))
        return;
    if (!n || n->kind != SL_NODE_MAP) {
        lint_error(l, n, "%s:%s config should be a hash or a string", p, k);
        return;
    }
    char *loc = loc2(p, k);
    unknown_keys(l, loc, n, allowed);
    if (!get(n, "name"))
        lint_error(l, n, "%s config missing required keys: name", loc);
    free(loc);
}

static void check_services(struct lint *l, const char *p, const char *k, const struct sl_node *n)
{
    static const char *const allowed[] = {"name",       "alias",       "entrypoint",
                                          "command",    "variables",   "docker",
                                          "kubernetes", "pull_policy", NULL};
    if (!n || n->kind != SL_NODE_SEQ) {
        lint_error(l, n, "%s:%s config should be a array", p, k);
        return;
    }
    char *loc = loc2(p, k);
    for (size_t i = 0; i < n->n; i++) {
        const struct sl_node *s = n->items[i];
        if (is_scalar_value(s))
            continue;
        if (!s || s->kind != SL_NODE_MAP) {
            lint_error(l, s, "%s:service config should be a hash or a string", loc);
            continue;
        }
        unknown_keys(l, loc, s, allowed);
        if (!get(s, "name"))
            lint_error(l, s, "%s:service config missing required keys: name", loc);
    }
    free(loc);
}

static void check_expression(struct lint *l, const char *loc, const struct sl_node *n)
{
    if (!is_scalar_value(n)) {
        lint_error(l, n, "%s if should be a string", loc);
        return;
    }
    if (!lint_expression_ok(n->str))
        lint_error(l, n, "%s if Invalid expression syntax", loc);
}

static void check_changes(struct lint *l, const char *loc, const char *k, const struct sl_node *n)
{
    static const char *const allowed[] = {"paths", "compare_to", NULL};
    if (n && n->kind == SL_NODE_MAP) {
        char *x = loc2(loc, k);
        unknown_keys(l, x, n, allowed);
        const struct sl_node *paths = get(n, "paths");
        if (!paths)
            lint_error(l, n, "%s config missing required keys: paths", x);
        else if (!array_of_strings(paths))
            lint_error(l, paths, "%s:paths config should be an array of strings", x);
        free(x);
    } else if (!array_of_strings(n)) {
        lint_error(l, n, "%s %s should be an array or a hash", loc, k);
    } else if (n->n > 50) {
        lint_error(l, n, "%s %s has too many entries (maximum 50)", loc, k);
    }
}

static void check_rules_list(struct lint *l, const char *p, const char *k, const struct sl_node *n,
                             bool workflow)
{
    static const char *const job_keys[] = {
        "if",        "changes", "exists",        "when",     "allow_failure",
        "variables", "needs",   "interruptible", "start_in", NULL};
    static const char *const wf_keys[] = {"if",        "changes",     "exists",   "when",
                                          "variables", "auto_cancel", "start_in", "allow_failure",
                                          "needs",     NULL};
    static const char *const job_when[] = {"on_success", "on_failure", "always", "manual",
                                           "delayed",    "never",      NULL};
    static const char *const wf_when[] = {"always", "never", NULL};
    if (!n || n->kind != SL_NODE_SEQ) {
        lint_error(l, n, "%s %s should be an array of hashes", p, k);
        return;
    }
    char *loc = sl_xasprintf("%s:%s:rule", p, k);
    for (size_t i = 0; i < n->n; i++) {
        const struct sl_node *r = n->items[i];
        if (r && r->kind == SL_NODE_SEQ) { /* a flattened !reference */
            check_rules_list(l, p, k, r, workflow);
            continue;
        }
        if (!r || r->kind != SL_NODE_MAP) {
            lint_error(l, r, "%s %s should be an array of hashes", p, k);
            continue;
        }
        unknown_keys(l, loc, r, workflow ? wf_keys : job_keys);
        const struct sl_node *x;
        if ((x = get(r, "if")))
            check_expression(l, loc, x);
        if ((x = get(r, "changes")))
            check_changes(l, loc, "changes", x);
        if ((x = get(r, "exists")) && !(x->kind == SL_NODE_MAP || array_of_strings(x)))
            lint_error(l, x, "%s exists should be an array of strings or a hash", loc);
        if ((x = get(r, "when")) && !one_of(sl_node_scalar(x), workflow ? wf_when : job_when))
            lint_error(l, x, "%s when unknown value: %s", loc,
                       sl_node_scalar(x) ? x->str : sl_node_kind_name(x));
        if ((x = get(r, "allow_failure")) && !is_bool(x) &&
            !(x->kind == SL_NODE_MAP && get(x, "exit_codes")))
            lint_error(l, x, "%s allow_failure should be a boolean value", loc);
        if ((x = get(r, "interruptible")) && !is_bool(x))
            lint_error(l, x, "%s interruptible should be a boolean value", loc);
        if ((x = get(r, "start_in")) && !duration_ok(x, NULL))
            lint_error(l, x, "%s start_in should be a duration", loc);
        if ((x = get(r, "variables")))
            check_variables(l, loc, "variables", x);
        if (!get(r, "if") && !get(r, "changes") && !get(r, "exists") && !get(r, "when"))
            lint_error(l, r, "%s config must contain at least one of: if, changes, exists, when",
                       loc);
    }
    free(loc);
}

static void check_rules(struct lint *l, const char *p, const char *k, const struct sl_node *n)
{
    check_rules_list(l, p, k, n, false);
}

static void check_only_except(struct lint *l, const char *p, const char *k, const struct sl_node *n)
{
    static const char *const allowed[] = {"refs", "variables", "changes", "kubernetes", NULL};
    if (array_of_strings(n) || is_scalar_value(n))
        return;
    if (!n || n->kind != SL_NODE_MAP) {
        lint_error(l, n,
                   "%s:%s config should be an array of strings or regular expressions "
                   "using re2 syntax or a hash",
                   p, k);
        return;
    }
    char *loc = loc2(p, k);
    unknown_keys(l, loc, n, allowed);
    const struct sl_node *x;
    if ((x = get(n, "refs")) && !array_of_strings(x))
        lint_error(l, x,
                   "%s:refs config should be an array of strings or regular expressions "
                   "using re2 syntax",
                   loc);
    if ((x = get(n, "variables"))) {
        if (!array_of_strings(x))
            lint_error(l, x, "%s:variables config should be an array of strings", loc);
        else
            for (size_t i = 0; i < x->n; i++)
                if (!lint_expression_ok(x->items[i]->str))
                    lint_error(l, x->items[i],
                               "%s:variables config should be valid expression "
                               "syntax",
                               loc);
    }
    if ((x = get(n, "changes")) && !array_of_strings(x))
        lint_error(l, x, "%s:changes config should be an array of strings", loc);
    free(loc);
}

static void check_needs(struct lint *l, const char *p, const char *k, const struct sl_node *n)
{
    static const char *const allowed[] = {"job",      "artifacts", "optional", "parallel",
                                          "pipeline", "project",   "ref",      NULL};
    if (!n || n->kind != SL_NODE_SEQ) {
        lint_error(l, n, "%s:%s config should be an array", p, k);
        return;
    }
    char *loc = loc2(p, k);
    if (n->n > SL_CONFIG_MAX_NEEDS)
        lint_error(l, n, "%s config has too many entries (maximum %d)", loc, SL_CONFIG_MAX_NEEDS);
    for (size_t i = 0; i < n->n; i++) {
        const struct sl_node *x = n->items[i];
        if (is_scalar_value(x))
            continue;
        if (!x || x->kind != SL_NODE_MAP) {
            lint_error(l, x, "%s:need config should be a string or a hash", loc);
            continue;
        }
        unknown_keys(l, loc, x, allowed);
        if (!get(x, "job"))
            lint_error(l, x, "%s:need config missing required keys: job", loc);
        const struct sl_node *b;
        if ((b = get(x, "artifacts")) && !is_bool(b))
            lint_error(l, b, "%s:need artifacts should be a boolean value", loc);
        if ((b = get(x, "optional")) && !is_bool(b))
            lint_error(l, b, "%s:need optional should be a boolean value", loc);
    }
    free(loc);
}

static void check_artifacts(struct lint *l, const char *p, const char *k, const struct sl_node *n)
{
    static const char *const allowed[] = {"name",   "untracked", "paths",     "reports",
                                          "when",   "expire_in", "expose_as", "exclude",
                                          "public", "access",    NULL};
    static const char *const whens[] = {"on_success", "on_failure", "always", NULL};
    if (!n || n->kind != SL_NODE_MAP) {
        lint_error(l, n, "%s:%s config should be a hash", p, k);
        return;
    }
    char *loc = loc2(p, k);
    unknown_keys(l, loc, n, allowed);
    const struct sl_node *x;
    if ((x = get(n, "paths")) && !array_of_strings(x))
        lint_error(l, x, "%s paths should be an array of strings", loc);
    if ((x = get(n, "exclude")) && !array_of_strings(x))
        lint_error(l, x, "%s exclude should be an array of strings", loc);
    if ((x = get(n, "untracked")) && !is_bool(x))
        lint_error(l, x, "%s untracked should be a boolean value", loc);
    if ((x = get(n, "when")) && !one_of(sl_node_scalar(x), whens))
        lint_error(l, x, "%s when should be on_success, on_failure or always", loc);
    if ((x = get(n, "expire_in")) && !(sl_node_scalar(x) && !strcmp(x->str, "never")) &&
        !duration_ok(x, NULL))
        lint_error(l, x, "%s expire in should be a duration", loc);
    if ((x = get(n, "reports")) && x->kind != SL_NODE_MAP)
        lint_error(l, x, "%s:reports config should be a hash", loc);
    if (get(n, "public") && get(n, "access"))
        lint_error(l, n, "%s config these keys cannot be used together: public, access", loc);
    free(loc);
}

static void check_cache_key(struct lint *l, const char *loc, const struct sl_node *key)
{
    static const char *const allowed[] = {"files", "prefix", "files_commits", NULL};
    if (key->kind == SL_NODE_MAP) {
        char *x = loc2(loc, "key");
        unknown_keys(l, x, key, allowed);
        const struct sl_node *f = get(key, "files");
        if (f && !array_of_strings(f))
            lint_error(l, f, "%s:files config should be an array of strings", x);
        free(x);
        return;
    }
    const char *s = sl_node_scalar(key);
    if (!s)
        lint_error(l, key, "%s:key config should be a hash, a string or a symbol", loc);
    else if (strchr(s, '/') || strstr(s, "%2F") || strstr(s, "%2f"))
        lint_error(l, key, "%s:key config cannot contain the \"/\" character", loc);
    else if (!strcmp(s, ".") || !strcmp(s, ".."))
        lint_error(l, key, "%s:key config cannot be \".\" or \"..\"", loc);
}

static void check_one_cache(struct lint *l, const char *loc, const struct sl_node *n)
{
    static const char *const allowed[] = {"key",    "untracked", "paths",         "when",
                                          "policy", "unprotect", "fallback_keys", NULL};
    static const char *const whens[] = {"on_success", "on_failure", "always", NULL};
    static const char *const policies[] = {"pull", "push", "pull-push", NULL};
    if (!n || n->kind != SL_NODE_MAP) {
        lint_error(l, n, "%s config should be a hash", loc);
        return;
    }
    unknown_keys(l, loc, n, allowed);
    const struct sl_node *x;
    if ((x = get(n, "key")))
        check_cache_key(l, loc, x);
    if ((x = get(n, "paths")) && !array_of_strings(x))
        lint_error(l, x, "%s:paths config should be an array of strings", loc);
    if ((x = get(n, "when")) && !one_of(sl_node_scalar(x), whens))
        lint_error(l, x, "%s:when config should be one of on_success, on_failure or always", loc);
    if ((x = get(n, "policy")) && !one_of(sl_node_scalar(x), policies) &&
        !(sl_node_scalar(x) && x->str[0] == '$'))
        lint_error(l, x, "%s:policy config should be one of: pull-push, push, pull", loc);
    if ((x = get(n, "fallback_keys"))) {
        if (!array_of_strings(x))
            lint_error(l, x, "%s:fallback_keys config should be an array of strings", loc);
        else if (x->n > 5)
            lint_error(l, x, "%s:fallback_keys config has too many entries (maximum 5)", loc);
    }
}

static void check_cache(struct lint *l, const char *p, const char *k, const struct sl_node *n)
{
    char *loc = loc2(p, k);
    if (n && n->kind == SL_NODE_SEQ) {
        if (n->n > 4)
            lint_error(l, n, "%s config no more than 4 caches can be created", loc);
        for (size_t i = 0; i < n->n; i++)
            check_one_cache(l, loc, n->items[i]);
    } else if (n && n->kind != SL_NODE_NULL) {
        check_one_cache(l, loc, n);
    }
    free(loc);
}

static void check_when(struct lint *l, const char *p, const char *k, const struct sl_node *n)
{
    static const char *const whens[] = {"on_success", "on_failure", "always",
                                        "manual",     "delayed",    NULL};
    if (!one_of(sl_node_scalar(n), whens)) {
        char *all = join(whens);
        lint_error(l, n, "%s %s should be one of: %s", p, k, all);
        free(all);
    }
}

static void check_allow_failure(struct lint *l, const char *p, const char *k,
                                const struct sl_node *n)
{
    static const char *const allowed[] = {"exit_codes", NULL};
    if (is_bool(n))
        return;
    if (!n || n->kind != SL_NODE_MAP) {
        lint_error(l, n, "%s:%s config should be a hash or a boolean value", p, k);
        return;
    }
    char *loc = loc2(p, k);
    unknown_keys(l, loc, n, allowed);
    const struct sl_node *c = get(n, "exit_codes");
    if (!c)
        lint_error(l, n, "%s config missing required keys: exit_codes", loc);
    else if (!(c->kind == SL_NODE_INT || (c->kind == SL_NODE_SEQ && c->n && c->n <= 255)))
        lint_error(l, c, "%s exit codes should be an array of integers or an integer", loc);
    free(loc);
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
    char *loc = loc2(p, k);
    const struct sl_node *max = n;
    if (n && n->kind == SL_NODE_MAP) {
        unknown_keys(l, loc, n, allowed);
        max = get(n, "max");
        const struct sl_node *w = get(n, "when");
        for (size_t i = 0; w && i < (w->kind == SL_NODE_SEQ ? w->n : 1); i++) {
            const struct sl_node *x = w->kind == SL_NODE_SEQ ? w->items[i] : w;
            if (!one_of(sl_node_scalar(x), reasons))
                lint_error(l, x, "%s when unknown value: %s", loc,
                           sl_node_scalar(x) ? x->str : sl_node_kind_name(x));
        }
    } else if (!n || n->kind != SL_NODE_INT) {
        lint_error(l, n, "%s config has to be either an integer or a hash", loc);
        max = NULL;
    }
    if (max && (max->kind != SL_NODE_INT || atoi(max->str) < 0 || atoi(max->str) > 2))
        lint_error(l, max, "%s config must be a non negative integer less than or equal to 2", loc);
    free(loc);
}

static void check_inherit(struct lint *l, const char *p, const char *k, const struct sl_node *n)
{
    static const char *const allowed[] = {"default", "variables", NULL};
    char *loc = loc2(p, k);
    if (!n || n->kind != SL_NODE_MAP)
        lint_error(l, n, "%s config should be a hash", loc);
    else {
        unknown_keys(l, loc, n, allowed);
        for (size_t i = 0; i < n->n; i++) {
            const struct sl_node *v = n->pairs[i].value;
            if (!is_bool(v) && !array_of_strings(v))
                lint_error(l, v, "%s:%s config should be a boolean value or an array of strings",
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

static void check_parallel(struct lint *l, const char *p, const char *k, const struct sl_node *n)
{
    char *loc = loc2(p, k);
    if (n && n->kind == SL_NODE_INT) {
        long v = atol(n->str);
        if (v < 1 || v > SL_CONFIG_MAX_MATRIX)
            lint_error(l, n, "%s config must be less than or equal to %d and greater than 1", loc,
                       SL_CONFIG_MAX_MATRIX);
    } else if (n && n->kind == SL_NODE_MAP) {
        static const char *const allowed[] = {"matrix", NULL};
        unknown_keys(l, loc, n, allowed);
        const struct sl_node *m = get(n, "matrix");
        if (!m || m->kind != SL_NODE_SEQ)
            lint_error(l, m ? m : n, "%s:matrix config should be an array of hashes", loc);
        else {
            for (size_t i = 0; i < m->n; i++)
                if (!m->items[i] || m->items[i]->kind != SL_NODE_MAP)
                    lint_error(l, m->items[i], "%s:matrix config should be an array of hashes",
                               loc);
            if (matrix_size(m) > SL_CONFIG_MAX_MATRIX)
                lint_error(l, m, "%s:matrix config generates too many jobs (maximum is %d)", loc,
                           SL_CONFIG_MAX_MATRIX);
        }
    } else {
        lint_error(l, n, "%s config should be an integer or a hash", loc);
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
    if (is_scalar_value(n))
        return;
    char *loc = loc2(p, k);
    if (!n || n->kind != SL_NODE_MAP)
        lint_error(l, n, "%s config should be a hash or a string", loc);
    else {
        unknown_keys(l, loc, n, allowed);
        const struct sl_node *x;
        if (!get(n, "name"))
            lint_error(l, n, "%s name can't be blank", loc);
        if ((x = get(n, "action")) && !one_of(sl_node_scalar(x), actions))
            lint_error(l, x, "%s action should be start, stop, prepare, verify, or access", loc);
        if ((x = get(n, "deployment_tier")) && !one_of(sl_node_scalar(x), tiers))
            lint_error(l, x,
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
        lint_error(l, n, "%s:%s config must be a regular expression", p, k);
}

static void check_extends(struct lint *l, const char *p, const char *k, const struct sl_node *n)
{
    if (!is_scalar_value(n) && !array_of_strings(n))
        lint_error(l, n, "%s:%s config should be an array of strings or a string", p, k);
}

static void check_start_in(struct lint *l, const char *p, const char *k, const struct sl_node *n)
{
    int64_t s;
    if (!duration_ok(n, &s))
        lint_error(l, n, "%s %s should be a duration", p, "start in");
    else if (s > 7 * 86400)
        lint_error(l, n, "%s %s should not exceed the limit", p, "start in");
    (void)k;
}

static void check_trigger(struct lint *l, const char *p, const char *k, const struct sl_node *n)
{
    if (!is_scalar_value(n) && !(n && n->kind == SL_NODE_MAP))
        lint_error(l, n, "%s:%s config should be a hash or a string", p, k);
}

static void check_tags(struct lint *l, const char *p, const char *k, const struct sl_node *n)
{
    if (!nested_strings(n, 1) || !n || n->kind != SL_NODE_SEQ)
        lint_error(l, n, "%s:%s config should be an array of strings", p, k);
    else if (n->n >= 50)
        lint_error(l, n, "%s:%s config must be less than the limit of 50 tags", p, k);
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
    {"timeout", KW_JOB | KW_DEFAULT, KW_CORE, check_duration},
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
    {"secrets", KW_JOB, KW_RARE, NULL},
    {"id_tokens", KW_JOB | KW_DEFAULT, KW_RARE, NULL},
    {"hooks", KW_JOB | KW_DEFAULT, KW_RARE, NULL},
    {"identity", KW_JOB | KW_DEFAULT, KW_RARE, NULL},
    {"dast_configuration", KW_JOB, KW_RARE, NULL},
    {"pages", KW_JOB, KW_RARE, NULL},
    {"publish", KW_JOB, KW_RARE, check_string},
    {"inputs", KW_JOB, KW_RARE, NULL},
    {"run", KW_JOB, KW_RARE, NULL},
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
    check_rules_list(l, "workflow", "rules", n, true);
}
