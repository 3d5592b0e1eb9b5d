/* The planner against data-driven cases (tests/cases/plan/, see its README.md), plus the
 * trigger context read from a real git repository and the slug rules. */
#include "base/compat.h"
#include "harness/harness.h"
#include "base/alloc.h"
#include "base/fs.h"
#include "base/str.h"
#include "base/time.h"
#include "expr/expr.h"
#include "plan/plan.h"

#include <dirent.h>
#include <jansson.h>

/* Every key of WANT is in GOT with a matching value; arrays match item by item. A null in
 * WANT also accepts an absent key ("CI_COMMIT_TAG": null: the variable is not set). */
static bool subset(const json_t *want, const json_t *got, struct sl_str *path)
{
    size_t mark = path->len;
    bool ok = true;
    if (json_is_object(want)) {
        const char *k;
        json_t *v;
        if (!json_is_object(got))
            return false;
        json_object_foreach((json_t *)want, k, v)
        {
            sl_str_addf(path, ".%s", k);
            if (json_is_null(v) && !json_object_get(got, k)) {
                sl_str_truncate(path, mark);
                continue;
            }
            if (!subset(v, json_object_get(got, k), path))
                return false;
            sl_str_truncate(path, mark);
        }
        return true;
    }
    if (json_is_array(want)) {
        if (!json_is_array(got) || json_array_size(want) != json_array_size(got)) {
            sl_str_adds(path, " (array length)");
            return false;
        }
        for (size_t i = 0; ok && i < json_array_size(want); i++) {
            sl_str_addf(path, "[%zu]", i);
            ok = subset(json_array_get(want, i), json_array_get(got, i), path);
            if (ok)
                sl_str_truncate(path, mark);
        }
        return ok;
    }
    return got && json_equal((json_t *)want, (json_t *)got);
}

/* Reads a case's trigger file into T; *default_branch gets a `default_branch` line (to
 * apply once git has filled T). */
static void read_trigger(struct sl_trigger *t, const char *path, char **default_branch,
                         char ***inputs)
{
    char *buf = NULL;
    size_t len = 0;
    if (sl_fs_read_file(path, 1 << 16, &buf, &len, NULL) < 0)
        return;
    char *save = NULL;
    for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *sp = strchr(line, ' ');
        if (!sp)
            continue;
        *sp = '\0';
        const char *arg = sp + 1;
        if (!strcmp(line, "ref")) {
            free(t->ref);
            t->ref = sl_xstrdup(arg);
        } else if (!strcmp(line, "tag")) {
            free(t->ref);
            t->ref = sl_xstrdup(arg);
            t->tag = true;
        } else if (!strcmp(line, "source")) {
            free(t->source);
            t->source = sl_xstrdup(arg);
        } else if (!strcmp(line, "changed")) {
            sl_trigger_add_changed(t, arg);
        } else if (!strcmp(line, "default_branch")) {
            free(*default_branch);
            *default_branch = sl_xstrdup(arg);
        } else if (!strcmp(line, "input")) {
            size_t n = 0;
            while (*inputs && (*inputs)[n])
                n++;
            *inputs = sl_xrealloc(*inputs, (n + 2) * sizeof(**inputs));
            (*inputs)[n] = sl_xstrdup(arg);
            (*inputs)[n + 1] = NULL;
        } else if (!strcmp(line, "var")) {
            const char *eq = strchr(arg, '=');
            char *k = sl_xstrndup(arg, (size_t)(eq - arg));
            sl_vars_set(&t->pipeline_vars, k, eq + 1, false);
            free(k);
        }
    }
    free(buf);
}

static void run_case(const char *src_dir, const char *name)
{
    /* planned from a copy outside any git repository, so the context is deterministic */
    const char *dir = sl_test_tmpdir();
    char *cmd = sl_xasprintf("cp -a '%s/%s/.' '%s/'", src_dir, name, dir);
    if (system(cmd) != 0) {
        sl_test_fail(__FILE__, __LINE__, "cannot copy the case");
        free(cmd);
        return;
    }
    free(cmd);
    char *file = sl_fs_join(dir, ".gitlab-ci.yml");
    char *trig = sl_fs_join(dir, "trigger");
    char *exp = sl_fs_join(dir, "expected.json");
    struct sl_diag diag = SL_DIAG_INIT;
    struct sl_config *cfg = NULL;
    struct sl_config_opts opts = {0};
    struct sl_trigger t;
    struct sl_plan *p = NULL;
    struct sl_error err = SL_ERROR_INIT;
    json_error_t jerr;
    json_t *want = json_load_file(exp, 0, &jerr), *got = NULL;
    char **ivars = NULL;

    char *default_branch = NULL;
    char **inputs = NULL;
    sl_trigger_init(&t);
    read_trigger(&t, trig, &default_branch, &inputs);
    opts.project_dir = dir;
    if (!want) {
        sl_test_fail(__FILE__, __LINE__, "expected.json: %s", jerr.text);
        goto out;
    }
    /* the trigger first: include and include:rules see its variables, as in the CLI */
    if (sl_trigger_from_git(&t, dir, &err) < 0) {
        sl_test_fail(__FILE__, __LINE__, "trigger: %s", err.message);
        goto out;
    }
    if (default_branch) {
        struct sl_arena a = SL_ARENA_INIT;
        sl_vars_set(&t.predefined, "CI_DEFAULT_BRANCH", default_branch, false);
        sl_vars_set(&t.predefined, "CI_DEFAULT_BRANCH_SLUG", sl_plan_slugify(&a, default_branch),
                    false);
        sl_arena_release(&a);
    }
    ivars = sl_trigger_include_vars(&t);
    opts.vars = (const char *const *)ivars;
    opts.include_rule = sl_plan_include_rule;
    opts.include_rule_ctx = &t;
    opts.inputs = (const char *const *)inputs;
    const char *want_config = json_string_value(json_object_get(want, "config_error"));
    if (sl_config_load_file(&cfg, file, &opts, &diag) < 0) {
        const char *msg = diag.n ? diag.items[0].message : "load failed";
        if (!want_config || strcmp(want_config, msg))
            sl_test_fail(__FILE__, __LINE__, "config: %s\n#   want: %s", msg,
                         want_config ? want_config : "a configuration");
        goto out;
    }
    if (want_config) {
        sl_test_fail(__FILE__, __LINE__, "loaded, want the configuration error %s", want_config);
        goto out;
    }
    t.pipeline_id = 7;
    const char *want_error = json_string_value(json_object_get(want, "error"));
    if (sl_plan_build(&p, cfg, &t, &err) < 0) {
        if (!want_error || strcmp(want_error, err.message))
            sl_test_fail(__FILE__, __LINE__, "plan failed: %s\n#   want: %s", err.message,
                         want_error ? want_error : "a plan");
        goto out;
    }
    if (want_error) {
        sl_test_fail(__FILE__, __LINE__, "planned, want the error %s", want_error);
        goto out;
    }
    struct sl_str text = SL_STR_INIT;
    sl_plan_write_json(p, &text);
    got = json_loads(text.buf, 0, &jerr);
    if (!got)
        sl_test_fail(__FILE__, __LINE__, "the plan's JSON does not parse: %s: %.300s", jerr.text,
                     text.buf);
    sl_str_release(&text);
    if (!got)
        goto out;
    struct sl_str path = SL_STR_INIT;
    if (!subset(want, got, &path)) {
        char *dump = json_dumps(got, JSON_COMPACT);
        sl_test_fail(__FILE__, __LINE__, "mismatch at %s\n#   got: %.3000s", path.buf, dump);
        free(dump);
    }
    sl_str_release(&path);
out:
    for (char **v = ivars; v && *v; v++)
        free(*v);
    free(ivars);
    json_decref(want);
    json_decref(got);
    sl_plan_free(p);
    sl_config_free(cfg);
    sl_trigger_release(&t);
    sl_diag_release(&diag);
    sl_error_release(&err);
    free(default_branch);
    for (char **i = inputs; i && *i; i++)
        free(*i);
    free(inputs);
    free(file);
    free(trig);
    free(exp);
}

TEST(plan_cases)
{
    char *root = sl_fs_join(sl_test_source_dir(), "tests/cases/plan");
    size_t n = 0;
    char **names = sl_test_list_dir(root, NULL, true, &n); /* each case is a directory */
    CHECK(names);
    sl_config_set_expr_checker(sl_expr_valid);
    sl_config_set_regex_matcher(sl_regex_match_once);
    for (size_t i = 0; i < n; i++) {
        sl_test_case_begin(names[i]);
        run_case(root, names[i]);
        sl_test_case_end();
    }
    sl_test_names_free(names);
    CHECK(n >= 20);
    free(root);
}

TEST(slugs_follow_gitlab)
{
    struct sl_arena a = SL_ARENA_INIT;
    CHECK_STR_EQ(sl_plan_slugify(&a, "Feature/Login_Page"), "feature-login-page");
    CHECK_STR_EQ(sl_plan_slugify(&a, "--x--"), "x");
    char long_name[100];
    memset(long_name, 'a', 99);
    long_name[99] = '\0';
    CHECK_INT_EQ(strlen(sl_plan_slugify(&a, long_name)), 63);
    sl_arena_release(&a);
}

TEST(context_from_a_real_repository)
{
    const char *dir = sl_test_tmpdir();
    char *cmd = sl_xasprintf(
        "cd '%s' && git init -q -b trunk && git config user.email dev@example.com && "
        "git config user.name Dev && echo a > a.txt && git add a.txt && "
        "git commit -qm 'first' && echo b > b.txt && mkdir -p docs && echo c > docs/c.md && "
        "git add . && git commit -qm 'Add b' -m 'with a body' && "
        "git remote add origin git@gitlab.example.com:group/sub/proj.git",
        dir);
    if (system(cmd) != 0) {
        free(cmd);
        SKIP("git is not available to make a repository");
    }
    free(cmd);
    struct sl_trigger t;
    struct sl_error err = SL_ERROR_INIT;
    sl_trigger_init(&t);
    CHECK(sl_trigger_from_git(&t, dir, &err) == 0);
    CHECK_STR_EQ(t.ref, "trunk");
    CHECK_INT_EQ(strlen(t.sha), 40);
    CHECK(t.changes_known);
    CHECK_INT_EQ(t.nchanged, 2);
    CHECK_STR_EQ(sl_vars_get(&t.predefined, "CI_COMMIT_BRANCH"), "trunk");
    CHECK_STR_EQ(sl_vars_get(&t.predefined, "CI_COMMIT_TITLE"), "Add b");
    CHECK_STR_EQ(sl_vars_get(&t.predefined, "CI_COMMIT_DESCRIPTION"), "with a body\n");
    CHECK_STR_EQ(sl_vars_get(&t.predefined, "CI_COMMIT_AUTHOR"), "Dev <dev@example.com>");
    CHECK_STR_EQ(sl_vars_get(&t.predefined, "CI_PROJECT_PATH"), "group/sub/proj");
    CHECK_STR_EQ(sl_vars_get(&t.predefined, "CI_PROJECT_NAMESPACE"), "group/sub");
    CHECK_STR_EQ(sl_vars_get(&t.predefined, "CI_PROJECT_ROOT_NAMESPACE"), "group");
    CHECK_INT_EQ(strlen(sl_vars_get(&t.predefined, "CI_COMMIT_SHORT_SHA")), 8);
    CHECK(sl_vars_get(&t.predefined, "CI_COMMIT_TAG") == NULL);
    sl_trigger_release(&t);
    sl_error_release(&err);
}

TEST(no_repository_is_a_documented_fallback)
{
    const char *dir = sl_test_tmpdir();
    struct sl_trigger t;
    sl_trigger_init(&t);
    CHECK(sl_trigger_from_git(&t, dir, NULL) == 0);
    CHECK_STR_EQ(t.ref, "main");
    CHECK_STR_EQ(t.sha, "");
    CHECK(!t.changes_known);
    CHECK(sl_starts_with(sl_vars_get(&t.predefined, "CI_PROJECT_PATH"), "local/"));
    CHECK(sl_vars_get(&t.predefined, "CI_COMMIT_BRANCH") != NULL);
    sl_trigger_release(&t);
}

TEST(pipeline_counter)
{
    const char *dir = sl_test_tmpdir();
    int64_t id = 0;
    CHECK(sl_plan_next_pipeline_id(dir, false, &id, NULL) == 0);
    CHECK_INT_EQ(id, 1);
    CHECK(sl_plan_next_pipeline_id(dir, true, &id, NULL) == 0);
    CHECK_INT_EQ(id, 1);
    CHECK(sl_plan_next_pipeline_id(dir, true, &id, NULL) == 0);
    CHECK_INT_EQ(id, 2);
    CHECK(sl_plan_next_pipeline_id(dir, false, &id, NULL) == 0);
    CHECK_INT_EQ(id, 3);
}

/* The configuration YML, written as .gitlab-ci.yml in a fresh directory (*DIR) and loaded;
 * NULL (the check failed) when it does not load. */
static struct sl_config *load_yml(const char *yml, const char **dir)
{
    *dir = sl_test_tmpdir();
    char *file = sl_fs_join(*dir, ".gitlab-ci.yml");
    FILE *f = fopen(file, "w");
    struct sl_diag diag = SL_DIAG_INIT;
    struct sl_config *cfg = NULL;
    struct sl_config_opts opts = {.project_dir = *dir};
    if (!f) {
        sl_test_fail(__FILE__, __LINE__, "cannot write %s", file);
    } else {
        fputs(yml, f);
        fclose(f);
        if (sl_config_load_file(&cfg, file, &opts, &diag) < 0)
            sl_test_fail(__FILE__, __LINE__, "config: %s", diag.n ? diag.items[0].message : "?");
    }
    sl_diag_release(&diag);
    free(file);
    return cfg;
}

/* Planning reads no clock: CI_PIPELINE_CREATED_AT is the trigger's time, so one trigger
 * plans the same whenever it is planned (the server's is the stored created_at). */
TEST(pipeline_created_at_comes_from_the_trigger)
{
    const char *dir;
    struct sl_config *cfg = load_yml("job:\n  script: [\"true\"]\n", &dir);
    for (int pass = 0; pass < 2 && cfg; pass++) {
        struct sl_trigger t;
        struct sl_plan *p = NULL;
        sl_trigger_init(&t);
        CHECK(sl_trigger_from_git(&t, dir, NULL) == 0);
        t.created_at_ms = pass == 0 ? 1764720000123 : 0;
        CHECK(sl_plan_build(&p, cfg, &t, NULL) == 0);
        const char *got = p ? sl_vars_get(&p->variables, "CI_PIPELINE_CREATED_AT") : NULL;
        if (pass == 0) {
            char want[40];
            sl_time_iso8601(1764720000123, want, sizeof(want));
            CHECK(got != NULL && !strcmp(got, want));
        } else {
            CHECK(got == NULL); /* not known: left out, never the planner's clock */
        }
        sl_plan_free(p);
        sl_trigger_release(&t);
    }
    sl_config_free(cfg);
}

/* rules:changes:compare_to asks the trigger for the diff (its changed_since), once per ref:
 * planning runs no git of its own, and a trigger without one makes compare_to an error. */
static int compare_calls;
static int changed_a_only(const struct sl_trigger *t, const char *ref, char ***paths,
                          size_t *npaths, struct sl_error *err)
{
    (void)t;
    (void)err;
    compare_calls += strcmp(ref, "refs/heads/main") ? 100 : 1; /* another ref: the count shows it */
    *paths = sl_xcalloc(1, sizeof(char *));
    (*paths)[0] = sl_xstrdup("src/a.c");
    *npaths = 1;
    return 0;
}

TEST(compare_to_is_answered_by_the_trigger)
{
    const char *dir;
    struct sl_config *cfg = load_yml(
        "a:\n  script: [\"true\"]\n  rules:\n    - changes:\n        paths: [\"src/*.c\"]\n"
        "        compare_to: refs/heads/main\n"
        "b:\n  script: [\"true\"]\n  rules:\n    - changes:\n        paths: [\"docs/*\"]\n"
        "        compare_to: refs/heads/main\n",
        &dir);
    struct sl_trigger t;
    struct sl_plan *p = NULL;
    struct sl_error err = SL_ERROR_INIT;
    sl_trigger_init(&t);
    CHECK(sl_trigger_from_git(&t, dir, NULL) == 0);
    t.changed_since = changed_a_only;
    CHECK(cfg && sl_plan_build(&p, cfg, &t, &err) == 0);
    CHECK(p != NULL && p->njobs == 1 && !strcmp(p->jobs[0].name, "a"));
    CHECK_INT_EQ(compare_calls, 1); /* two jobs, one ref: asked once */
    sl_plan_free(p);
    p = NULL;
    t.changed_since = NULL;
    CHECK(cfg && sl_plan_build(&p, cfg, &t, &err) < 0);
    CHECK(strstr(sl_error_format(&err), "compare_to needs a repository") != NULL);
    sl_plan_free(p);
    sl_error_release(&err);
    sl_trigger_release(&t);
    sl_config_free(cfg);
}
