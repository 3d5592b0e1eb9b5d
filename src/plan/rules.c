/* rules.c: `rules`, `workflow:rules` and `only`/`except`, as GitLab evaluates them at
 * pipeline creation (SPEC.md §2). */
#include "base/compat.h"
#include "plan/internal.h"
#include "base/alloc.h"
#include "base/glob.h"
#include "base/str.h"
#include "expr/expr.h"

#include <dirent.h>
#include <sys/stat.h>

const char *sl_plan_lookup(void *ctx, const char *name)
{
    return sl_vars_get(ctx, name);
}

/* Walks the project once (skipping .git and .sluice) for rules:exists. */
static void list_dir(struct plan_ctx *c, const char *root, const char *rel, int depth)
{
    if (depth > 64 || c->nfiles > 200000)
        return;
    char *dir = rel[0] ? sl_xasprintf("%s/%s", root, rel) : sl_xstrdup(root);
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        if (!rel[0] && (!strcmp(e->d_name, ".git") || !strcmp(e->d_name, ".sluice")))
            continue;
        char *path = rel[0] ? sl_xasprintf("%s/%s", rel, e->d_name) : sl_xstrdup(e->d_name);
        char *full = sl_xasprintf("%s/%s", root, path);
        struct stat st;
        if (lstat(full, &st) == 0) {
            SL_GROW(c->files, c->capfiles, c->nfiles + 2);
            if (S_ISDIR(st.st_mode)) {
                c->files[c->nfiles++] = sl_xasprintf("%s/", path); /* "dir/" matches dirs */
                list_dir(c, root, path, depth + 1);
            } else {
                c->files[c->nfiles++] = sl_xstrdup(path);
            }
        }
        free(full);
        free(path);
    }
    if (d)
        closedir(d);
    free(dir);
}

/* Patterns of `changes:`/`exists:`: a list, or a hash with `paths`. $VARs are expanded
 * when defined (else left as written, as GitLab does). */
static const struct sl_node *patterns_of(const struct sl_node *n)
{
    if (n && n->kind == SL_NODE_MAP)
        return sl_node_get(n, "paths");
    return n;
}

static bool any_pattern(struct plan_ctx *c, const struct sl_node *list, const struct sl_vars *vars,
                        char **paths, size_t npaths)
{
    if (!list || list->kind != SL_NODE_SEQ)
        return false;
    for (size_t i = 0; i < list->n; i++) {
        const char *raw = sl_node_scalar(list->items[i]);
        if (!raw)
            continue;
        char *pat = sl_vars_expand(vars, raw, true);
        for (size_t k = 0; k < npaths; k++) {
            /* a directory entry "dir/" also answers a pattern "dir" (exists on a dir) */
            if (sl_glob_match(pat, paths[k])) {
                free(pat);
                return true;
            }
        }
        free(pat);
    }
    (void)c;
    return false;
}

/* The files changed since REF's merge base with the commit, asked of the trigger once per
 * ref (its changed_since: the rules run no git themselves). NULL (and c->rule_rc set) when
 * REF names nothing. */
static const struct compare *compare_with(struct plan_ctx *c, const char *ref)
{
    for (size_t i = 0; i < c->ncompares; i++)
        if (!strcmp(c->compares[i].ref, ref))
            return &c->compares[i];
    char **paths = NULL;
    size_t n = 0;
    struct sl_error e = SL_ERROR_INIT;
    int rc = c->t->changed_since
                 ? c->t->changed_since(c->t, ref, &paths, &n, &e)
                 : sl_error_set(&e, SL_EINVAL,
                                "rules:changes:compare_to needs a repository to compare with");
    if (rc < 0) {
        if (!c->rule_rc) {
            c->rule_rc = SL_EINVAL;
            sl_error_set(&c->rule_err, SL_EINVAL, "%s", e.message);
        }
        sl_error_release(&e);
        return NULL;
    }
    SL_GROW(c->compares, c->capcompares, c->ncompares + 1);
    struct compare *cmp = &c->compares[c->ncompares++];
    cmp->ref = sl_xstrdup(ref);
    cmp->paths = paths;
    cmp->npaths = n;
    return cmp;
}

static bool changes_match(struct plan_ctx *c, const struct sl_node *changes,
                          const struct sl_vars *vars)
{
    const char *compare_to = changes && changes->kind == SL_NODE_MAP
                                 ? sl_node_scalar(sl_node_get(changes, "compare_to"))
                                 : NULL;
    /* compare_to makes a diff even without a push event; files given with --changed
     * stand for every diff */
    if (compare_to && !c->t->changed_by_user) {
        char *ref = sl_vars_expand(vars, compare_to, true);
        const struct compare *cmp = compare_with(c, ref);
        free(ref);
        return cmp && any_pattern(c, patterns_of(changes), vars, cmp->paths, cmp->npaths);
    }
    /* no push event to compare with (tags, web, schedules, new branches): always true */
    if (!c->t->changes_known)
        return true;
    return any_pattern(c, patterns_of(changes), vars, c->t->changed, c->t->nchanged);
}

static bool exists_match(struct plan_ctx *c, const struct sl_node *exists,
                         const struct sl_vars *vars)
{
    if (!c->listed) {
        list_dir(c, c->t->project_dir ? c->t->project_dir : ".", "", 0);
        c->listed = true;
    }
    return any_pattern(c, patterns_of(exists), vars, c->files, c->nfiles);
}

static bool if_match(const struct sl_node *cond, const struct sl_vars *vars)
{
    const char *src = sl_node_scalar(cond);
    return src && sl_expr_matches(src, sl_plan_lookup, (void *)vars);
}

bool sl_plan_include_rule(void *trigger, const struct sl_node *rule, const char *const *vars)
{
    struct plan_ctx c = {0};
    struct sl_vars v = SL_VARS_INIT;
    const struct sl_node *n;
    bool ok = true;
    c.t = trigger;
    for (const char *const *kv = vars; kv && *kv; kv++) {
        const char *eq = strchr(*kv, '=');
        if (!eq)
            continue;
        char *name = sl_xstrndup(*kv, (size_t)(eq - *kv));
        sl_vars_set(&v, name, eq + 1, true);
        free(name);
    }
    if ((n = sl_node_get(rule, "if")) && !if_match(n, &v))
        ok = false;
    /* an unknown compare_to ref makes the clause false here: include has no error channel */
    if (ok && (n = sl_node_get(rule, "changes")) && !changes_match(&c, n, &v))
        ok = false;
    sl_plan_ctx_release(&c);
    sl_vars_release(&v);
    return ok;
}

bool sl_plan_rule_matches(struct plan_ctx *c, const struct sl_node *rule,
                          const struct sl_vars *vars)
{
    const struct sl_node *n;
    if (!rule || rule->kind != SL_NODE_MAP)
        return false;
    if ((n = sl_node_get(rule, "if")) && !if_match(n, vars))
        return false;
    if ((n = sl_node_get(rule, "changes")) && !changes_match(c, n, vars))
        return false;
    if ((n = sl_node_get(rule, "exists")) && !exists_match(c, n, vars))
        return false;
    return true;
}

const struct sl_node *sl_plan_first_rule(struct plan_ctx *c, const struct sl_node *rules,
                                         const struct sl_vars *vars, size_t *index)
{
    if (!rules || rules->kind != SL_NODE_SEQ)
        return NULL;
    for (size_t i = 0; i < rules->n; i++) {
        const struct sl_node *r = rules->items[i];
        /* `- !reference [...]` items were flattened by the config room; a nested list
         * left here is a list of rules */
        if (r && r->kind == SL_NODE_SEQ) {
            const struct sl_node *hit = sl_plan_first_rule(c, r, vars, index);
            if (hit)
                return hit;
            continue;
        }
        if (sl_plan_rule_matches(c, r, vars)) {
            *index = i;
            return r;
        }
    }
    return NULL;
}

/* --- only / except ------------------------------------------------------------------- */

static bool keyword_matches(const struct sl_trigger *t, const char *k)
{
    const char *src = t->source;
    if (!strcmp(k, "branches"))
        return !t->tag && strcmp(src, "merge_request_event");
    if (!strcmp(k, "tags"))
        return t->tag;
    if (!strcmp(k, "pushes"))
        return !strcmp(src, "push");
    if (!strcmp(k, "schedules"))
        return !strcmp(src, "schedule");
    if (!strcmp(k, "merge_requests"))
        return !strcmp(src, "merge_request_event");
    if (!strcmp(k, "pipelines"))
        return !strcmp(src, "pipeline") || !strcmp(src, "parent_pipeline");
    if (!strcmp(k, "triggers"))
        return !strcmp(src, "trigger");
    if (!strcmp(k, "external_pull_requests"))
        return !strcmp(src, "external_pull_request_event");
    if (!strcmp(k, "api") || !strcmp(k, "web") || !strcmp(k, "chat") || !strcmp(k, "external"))
        return !strcmp(src, k);
    return false;
}

static bool is_keyword(const char *k)
{
    static const char *const words[] = {"branches",
                                        "tags",
                                        "pushes",
                                        "schedules",
                                        "merge_requests",
                                        "pipelines",
                                        "triggers",
                                        "external_pull_requests",
                                        "api",
                                        "web",
                                        "chat",
                                        "external"};
    for (size_t i = 0; i < SL_ARRAY_LEN(words); i++)
        if (!strcmp(words[i], k))
            return true;
    return false;
}

static bool ref_matches(const struct sl_trigger *t, const char *pattern)
{
    if (is_keyword(pattern))
        return keyword_matches(t, pattern);
    /* "branch@group/project" limits to a project: locally, the project is always ours */
    char *p = sl_xstrdup(pattern);
    char *at = p[0] != '/' ? strchr(p, '@') : NULL;
    if (at)
        *at = '\0';
    bool hit;
    if (sl_regex_literal(p)) {
        struct sl_regex *re = NULL;
        hit = sl_regex_compile(&re, p, NULL) == 0 && sl_regex_search(re, t->ref, strlen(t->ref));
        sl_regex_free(re);
    } else {
        hit = !strcmp(p, t->ref);
    }
    free(p);
    return hit;
}

/* One only:/except: entry: does the pipeline match it? (All given policies must match;
 * within refs, variables and changes, any item is enough.) */
static bool policy_matches(struct plan_ctx *c, const struct sl_node *policy,
                           const struct sl_vars *vars)
{
    const struct sl_node *refs = policy, *variables = NULL, *changes = NULL;
    if (policy->kind == SL_NODE_MAP) {
        refs = sl_node_get(policy, "refs");
        variables = sl_node_get(policy, "variables");
        changes = sl_node_get(policy, "changes");
    } else if (policy->kind != SL_NODE_SEQ) {
        return ref_matches(c->t, policy->str);
    }
    if (refs && refs->kind == SL_NODE_SEQ) {
        bool any = false;
        for (size_t i = 0; i < refs->n && !any; i++)
            any = sl_node_scalar(refs->items[i]) && ref_matches(c->t, refs->items[i]->str);
        if (!any)
            return false;
    }
    if (variables && variables->kind == SL_NODE_SEQ) {
        bool any = false;
        for (size_t i = 0; i < variables->n && !any; i++)
            any = if_match(variables->items[i], vars);
        if (!any)
            return false;
    }
    if (changes && !changes_match(c, changes, vars))
        return false;
    return true;
}

bool sl_plan_only_except(struct plan_ctx *c, const struct sl_node *job, const struct sl_vars *vars,
                         const char **reason)
{
    const struct sl_node *only = sl_node_get(job, "only");
    const struct sl_node *except = sl_node_get(job, "except");
    if (only && only->kind != SL_NODE_NULL) {
        if (!policy_matches(c, only, vars)) {
            *reason = sl_arena_printf(c->a, "only: the pipeline (%s %s, source %s) does not match",
                                      c->t->tag ? "tag" : "branch", c->t->ref, c->t->source);
            return false;
        }
    } else if (!c->workflow_rules && !keyword_matches(c->t, "branches") &&
               !keyword_matches(c->t, "tags")) {
        /* GitLab drops the implicit `only: [branches, tags]` when workflow:rules exist
         * (Entry::Processable#compose!) */
        *reason = sl_arena_strdup(c->a, "only: [branches, tags] (the default) does not match");
        return false;
    }
    if (except && except->kind != SL_NODE_NULL && policy_matches(c, except, vars)) {
        *reason = sl_arena_printf(c->a, "except: the pipeline (%s %s, source %s) matches",
                                  c->t->tag ? "tag" : "branch", c->t->ref, c->t->source);
        return false;
    }
    return true;
}

bool sl_plan_job_changes_match(const struct sl_plan_job *j, char **paths, size_t npaths)
{
    const struct sl_node *rules = j->node ? sl_node_get(j->node, "rules") : NULL;
    if (!rules || rules->kind != SL_NODE_SEQ)
        return false;
    for (size_t i = 0; i < rules->n; i++) {
        const struct sl_node *changes = sl_node_get(rules->items[i], "changes");
        if (changes && any_pattern(NULL, patterns_of(changes), &j->variables, paths, npaths))
            return true;
    }
    return false;
}
