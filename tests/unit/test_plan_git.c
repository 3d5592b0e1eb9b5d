/* The trigger context and rules:changes against real git repositories made in temporary
 * directories (the git command line builds them; libgit2 reads them). */
#include "base/compat.h"
#include "harness/harness.h"
#include "base/alloc.h"
#include "base/diag.h"
#include "expr/expr.h"
#include "plan/plan.h"

/* Runs the shell commands SCRIPT in DIR; false when git is missing or a step failed. */
static bool sh(const char *dir, const char *script)
{
    char *cmd = sl_xasprintf("cd '%s' && (%s) >/dev/null 2>&1", dir, script);
    int rc = system(cmd);
    free(cmd);
    return rc == 0;
}

#define GIT_IDENTITY                                                                               \
    "git config user.email dev@example.com && git config user.name Dev && "                        \
    "git config commit.gpgsign false && git config tag.gpgsign false"

static const char *var(const struct sl_trigger *t, const char *name)
{
    return sl_vars_get(&t->predefined, name);
}

/* Plans YAML for T; the plan or NULL (with ERR). */
static struct sl_plan *plan_of(const char *dir, const char *yaml, const struct sl_trigger *t,
                               struct sl_config **cfg, struct sl_error *err)
{
    struct sl_diag diag = SL_DIAG_INIT;
    struct sl_config_opts opts = {0};
    struct sl_plan *p = NULL;
    opts.project_dir = dir;
    sl_config_set_expr_checker(sl_expr_valid);
    if (sl_config_load_string(cfg, ".gitlab-ci.yml", yaml, strlen(yaml), &opts, &diag) < 0) {
        sl_error_set(err, SL_EINVAL, "config: %s", diag.n ? diag.items[0].message : "?");
        sl_diag_release(&diag);
        return NULL;
    }
    sl_diag_release(&diag);
    if (sl_plan_build(&p, *cfg, t, err) < 0)
        return NULL;
    return p;
}

static bool has_job(const struct sl_plan *p, const char *name)
{
    return sl_plan_find(p, name) != SIZE_MAX;
}

TEST(tag_pipeline_from_an_annotated_tag)
{
    const char *dir = sl_test_tmpdir();
    if (!sh(dir, "git init -q -b main && " GIT_IDENTITY " && echo a > a && git add a && "
                 "git commit -qm one && echo b > b && git add b && git commit -qm two && "
                 "git tag -a v1.2 -m 'Release 1.2' HEAD~1"))
        SKIP("git is not available to make a repository");
    struct sl_trigger t;
    struct sl_error err = SL_ERROR_INIT;
    sl_trigger_init(&t);
    t.ref = sl_xstrdup("v1.2");
    t.tag = true;
    CHECK(sl_trigger_from_git(&t, dir, &err) == 0);
    CHECK_STR_EQ(var(&t, "CI_COMMIT_TAG"), "v1.2");
    CHECK_STR_EQ(var(&t, "CI_COMMIT_TAG_MESSAGE"), "Release 1.2\n");
    CHECK_STR_EQ(var(&t, "CI_COMMIT_TITLE"), "one"); /* the tagged commit, not HEAD */
    CHECK(var(&t, "CI_COMMIT_BRANCH") == NULL);
    CHECK_STR_EQ(var(&t, "CI_COMMIT_BEFORE_SHA"), "0000000000000000000000000000000000000000");
    CHECK_STR_EQ(var(&t, "CI_COMMIT_REF_PROTECTED"), "false");
    CHECK(!t.changes_known); /* no push diff for tags: changes rules hold */
    sl_trigger_release(&t);

    sl_trigger_init(&t);
    t.ref = sl_xstrdup("v9");
    t.tag = true;
    CHECK(sl_trigger_from_git(&t, dir, &err) == SL_EINVAL);
    CHECK(err.message && strstr(err.message, "tag v9 does not exist"));
    sl_trigger_release(&t);
    sl_error_release(&err);
}

TEST(branch_push_context)
{
    const char *dir = sl_test_tmpdir();
    if (!sh(dir, "git init -q -b main && " GIT_IDENTITY " && echo a > a && git add a && "
                 "git commit -qm one && git checkout -qb Feature/Big_Thing && "
                 "echo b > b && git rm -q a && git add b && "
                 "git commit -qm 'two: a title' -m 'body line' && "
                 "git remote add origin https://gitlab.example.com/grp/sub/app.git && "
                 "git update-ref refs/remotes/origin/trunk HEAD~1 && "
                 "git symbolic-ref refs/remotes/origin/HEAD refs/remotes/origin/trunk"))
        SKIP("git is not available to make a repository");
    struct sl_trigger t;
    sl_trigger_init(&t);
    CHECK(sl_trigger_from_git(&t, dir, NULL) == 0);
    CHECK_STR_EQ(t.ref, "Feature/Big_Thing");
    CHECK_STR_EQ(var(&t, "CI_COMMIT_REF_SLUG"), "feature-big-thing");
    CHECK_STR_EQ(var(&t, "CI_DEFAULT_BRANCH"), "trunk"); /* origin/HEAD wins */
    CHECK_STR_EQ(var(&t, "CI_COMMIT_REF_PROTECTED"), "false");
    CHECK_STR_EQ(var(&t, "CI_PROJECT_URL"), "https://gitlab.example.com/grp/sub/app");
    CHECK_STR_EQ(var(&t, "CI_REPOSITORY_URL"), "https://gitlab.example.com/grp/sub/app.git");
    CHECK_STR_EQ(var(&t, "CI_PROJECT_PATH_SLUG"), "grp-sub-app");
    CHECK_STR_EQ(var(&t, "CI_COMMIT_TITLE"), "two: a title");
    CHECK_INT_EQ(strlen(var(&t, "CI_COMMIT_BEFORE_SHA")), 40);
    CHECK(strcmp(var(&t, "CI_COMMIT_BEFORE_SHA"), "0000000000000000000000000000000000000000"));
    CHECK(sl_starts_with(var(&t, "CI_COMMIT_TIMESTAMP"), "20"));
    /* the deleted file counts as changed, as in GitLab's diff */
    CHECK(t.changes_known);
    CHECK_INT_EQ(t.nchanged, 2);
    sl_trigger_release(&t);

    /* a web pipeline has no push event: before-SHA zero, changes unknown */
    sl_trigger_init(&t);
    free(t.source);
    t.source = sl_xstrdup("web");
    CHECK(sl_trigger_from_git(&t, dir, NULL) == 0);
    CHECK_STR_EQ(var(&t, "CI_COMMIT_BEFORE_SHA"), "0000000000000000000000000000000000000000");
    CHECK_STR_EQ(var(&t, "CI_PIPELINE_SOURCE"), "web");
    CHECK(!t.changes_known);
    sl_trigger_release(&t);
}

TEST(detached_head_and_empty_repository)
{
    const char *dir = sl_test_tmpdir();
    if (!sh(dir, "git init -q -b main && " GIT_IDENTITY " && echo a > a && git add a && "
                 "git commit -qm one && git checkout -q --detach HEAD"))
        SKIP("git is not available to make a repository");
    struct sl_trigger t;
    struct sl_error err = SL_ERROR_INIT;
    sl_trigger_init(&t);
    /* a detached HEAD is no branch: the branch pointing at it is the ref */
    CHECK(sl_trigger_from_git(&t, dir, NULL) == 0);
    CHECK_STR_EQ(t.ref, "main");
    CHECK_STR_EQ(var(&t, "CI_COMMIT_BRANCH"), "main");
    sl_trigger_release(&t);
    /* origin's branch first, then a tag when no branch points there */
    CHECK(sh(dir, "git update-ref refs/remotes/origin/release HEAD"));
    sl_trigger_init(&t);
    CHECK(sl_trigger_from_git(&t, dir, NULL) == 0);
    CHECK_STR_EQ(t.ref, "release");
    sl_trigger_release(&t);
    CHECK(sh(dir, "git tag -a v1 -m v1 && echo b > b && git add b && git commit -qm two && "
                  "git checkout -q --detach HEAD~1 && git branch -q -f main HEAD@{1} && "
                  "git update-ref -d refs/remotes/origin/release"));
    sl_trigger_init(&t);
    CHECK(sl_trigger_from_git(&t, dir, NULL) == 0);
    CHECK_STR_EQ(t.ref, "v1");
    CHECK(t.tag);
    CHECK_STR_EQ(var(&t, "CI_COMMIT_TAG"), "v1");
    CHECK(var(&t, "CI_COMMIT_BRANCH") == NULL);
    sl_trigger_release(&t);
    /* nothing points at it: an error that says what to do, never the SHA as a branch */
    CHECK(sh(dir, "git commit -q --allow-empty -m three"));
    sl_trigger_init(&t);
    CHECK(sl_trigger_from_git(&t, dir, &err) < 0);
    CHECK(strstr(err.message, "--ref BRANCH or --tag TAG") != NULL);
    sl_trigger_release(&t);
    sl_error_release(&err);
    sl_trigger_init(&t);
    t.ref = sl_xstrdup("main");
    CHECK(sl_trigger_from_git(&t, dir, NULL) == 0);
    CHECK_STR_EQ(var(&t, "CI_COMMIT_BRANCH"), "main");
    sl_trigger_release(&t);

    const char *empty = sl_test_tmpdir();
    if (!sh(empty, "git init -q -b trunk"))
        SKIP("git init failed");
    sl_trigger_init(&t);
    CHECK(sl_trigger_from_git(&t, empty, NULL) == 0);
    CHECK_STR_EQ(t.ref, "trunk"); /* the unborn branch */
    CHECK_STR_EQ(t.sha, "");
    CHECK_STR_EQ(var(&t, "CI_COMMIT_SHA"), "");
    CHECK(var(&t, "CI_COMMIT_MESSAGE") == NULL);
    sl_trigger_release(&t);
}

TEST(init_default_branch_when_no_origin)
{
    const char *dir = sl_test_tmpdir();
    if (!sh(dir, "git init -q -b work && " GIT_IDENTITY " && "
                 "git config init.defaultBranch develop && echo a > a && git add a && "
                 "git commit -qm one"))
        SKIP("git is not available to make a repository");
    struct sl_trigger t;
    sl_trigger_init(&t);
    CHECK(sl_trigger_from_git(&t, dir, NULL) == 0);
    CHECK_STR_EQ(var(&t, "CI_DEFAULT_BRANCH"), "develop");
    CHECK_STR_EQ(var(&t, "CI_COMMIT_BRANCH"), "work");
    sl_trigger_release(&t);
}

TEST(changes_from_the_commit_and_compare_to)
{
    const char *dir = sl_test_tmpdir();
    if (!sh(dir, "git init -q -b main && " GIT_IDENTITY " && echo a > a && git add a && "
                 "git commit -qm one && git checkout -qb topic && mkdir src docs && "
                 "echo c > src/x.c && git add src && git commit -qm code && "
                 "echo d > docs/y.md && git add docs && git commit -qm docs && "
                 "git checkout -q main && echo m > m && git add m && git commit -qm main2 && "
                 "git checkout -q topic"))
        SKIP("git is not available to make a repository");
    static const char yaml[] = "last-commit-code:\n"
                               "  script: [echo]\n"
                               "  rules:\n"
                               "    - changes: [src/**/*]\n"
                               "last-commit-docs:\n"
                               "  script: [echo]\n"
                               "  rules:\n"
                               "    - changes: [docs/*]\n"
                               "since-main-code:\n"
                               "  script: [echo]\n"
                               "  rules:\n"
                               "    - changes:\n"
                               "        paths: [src/**/*]\n"
                               "        compare_to: $BASE\n"
                               "since-main-other:\n"
                               "  script: [echo]\n"
                               "  rules:\n"
                               "    - changes:\n"
                               "        paths: [m]\n"
                               "        compare_to: refs/heads/main\n"
                               "variables:\n"
                               "  BASE: main\n";
    struct sl_trigger t;
    struct sl_error err = SL_ERROR_INIT;
    struct sl_config *cfg = NULL;
    struct sl_plan *p;

    /* a push: the commit against its parent, compare_to against the merge base */
    sl_trigger_init(&t);
    CHECK(sl_trigger_from_git(&t, dir, &err) == 0);
    p = plan_of(dir, yaml, &t, &cfg, &err);
    CHECK(p != NULL);
    if (p) {
        CHECK(!has_job(p, "last-commit-code"));
        CHECK(has_job(p, "last-commit-docs"));
        CHECK(has_job(p, "since-main-code"));
        CHECK(!has_job(p, "since-main-other")); /* main's own commit is not in the diff */
    }
    sl_plan_free(p);
    sl_config_free(cfg);
    cfg = NULL;
    sl_trigger_release(&t);

    /* a web pipeline: plain changes hold, compare_to still diffs */
    sl_trigger_init(&t);
    free(t.source);
    t.source = sl_xstrdup("web");
    CHECK(sl_trigger_from_git(&t, dir, &err) == 0);
    p = plan_of(dir, yaml, &t, &cfg, &err);
    CHECK(p != NULL);
    if (p) {
        CHECK(has_job(p, "last-commit-code"));
        CHECK(has_job(p, "since-main-code"));
        CHECK(!has_job(p, "since-main-other"));
    }
    sl_plan_free(p);
    sl_config_free(cfg);
    cfg = NULL;
    sl_trigger_release(&t);

    /* --changed stands for every diff, compare_to included */
    sl_trigger_init(&t);
    sl_trigger_add_changed(&t, "m");
    CHECK(sl_trigger_from_git(&t, dir, &err) == 0);
    CHECK_INT_EQ(t.nchanged, 1);
    p = plan_of(dir, yaml, &t, &cfg, &err);
    CHECK(p != NULL);
    if (p) {
        CHECK(!has_job(p, "since-main-code"));
        CHECK(has_job(p, "since-main-other"));
    }
    sl_plan_free(p);
    sl_config_free(cfg);
    cfg = NULL;
    sl_trigger_release(&t);

    /* an unknown ref is GitLab's rule error */
    sl_trigger_init(&t);
    CHECK(sl_trigger_from_git(&t, dir, &err) == 0);
    p = plan_of(dir,
                "job:\n  script: [echo]\n  rules:\n    - changes:\n        paths: [a]\n"
                "        compare_to: nowhere\n",
                &t, &cfg, &err);
    CHECK(p == NULL);
    CHECK_STR_EQ(err.message,
                 "Failed to parse rule for job: rules:changes:compare_to is not a valid ref");
    sl_plan_free(p);
    sl_config_free(cfg);
    sl_trigger_release(&t);
    sl_error_release(&err);
}

/* tests/cases/server_vars/remotes.tsv: the server variables each origin remote gives */
TEST(server_variables_from_the_origin_remote)
{
    static const char *const names[] = {"CI_SERVER_URL",      "CI_SERVER_HOST", "CI_SERVER_PORT",
                                        "CI_SERVER_PROTOCOL", "CI_API_V4_URL",  "CI_PROJECT_URL",
                                        "CI_PAGES_URL"};
    const char *dir = sl_test_tmpdir();
    if (!sh(dir, "git init -q -b main && " GIT_IDENTITY " && echo a > a && git add a && "
                 "git commit -qm one && git remote add origin /nowhere"))
        SKIP("git is not available to make a repository");
    char *text = sl_test_read(sl_test_source_dir(), "tests/cases/server_vars/remotes.tsv");
    CHECK(text != NULL);
    size_t rows = 0;
    for (char *line = text, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = 0;
        if (line[0] == '#' || !line[0])
            continue;
        char *cols[8] = {0}, *save = NULL;
        size_t n = 0;
        for (char *c = strtok_r(line, "\t", &save); c && n < 8; c = strtok_r(NULL, "\t", &save))
            cols[n++] = c;
        CHECK_INT_EQ(n, 8);
        if (n != 8)
            continue;
        char *set = sl_xasprintf("git remote set-url origin '%s'", cols[0]);
        CHECK(sh(dir, set));
        free(set);
        struct sl_trigger t;
        sl_trigger_init(&t);
        CHECK(sl_trigger_from_git(&t, dir, NULL) == 0);
        for (size_t i = 0; i < 7; i++) {
            const char *got = var(&t, names[i]), *want = cols[i + 1];
            bool ok = !strcmp(want, "-") ? got == NULL : got && !strcmp(got, want);
            if (!ok)
                fprintf(stderr, "%s: %s is %s, want %s\n", cols[0], names[i], got ? got : "unset",
                        want);
            CHECK(ok);
        }
        sl_trigger_release(&t);
        rows++;
    }
    CHECK(rows >= 6);
    free(text);
}
