/* Workspaces: real trees and real git repositories (made with the git command), copied
 * with sl_workspace_prepare and inspected with lstat and git itself. */
#include "base/compat.h"
#include "harness/harness.h"
#include "exec/workspace.h"
#include "base/alloc.h"
#include "base/fs.h"
#include "base/str.h"

#include <sys/stat.h>
#include <unistd.h>

/* Runs a shell command; returns its exit status. */
static int sh(const char *fmt, ...) SL_PRINTF(1, 2);
static int sh(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *cmd = sl_xvasprintf(fmt, ap);
    va_end(ap);
    int st = system(cmd);
    free(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* The output of a shell command (stdout), trailing newline kept. Caller frees. */
static char *sh_out(const char *fmt, ...) SL_PRINTF(1, 2);
static char *sh_out(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *cmd = sl_xvasprintf(fmt, ap);
    va_end(ap);
    struct sl_str s = SL_STR_INIT;
    FILE *p = popen(cmd, "r");
    char buf[4096];
    size_t n;
    while (p && (n = fread(buf, 1, sizeof(buf), p)) > 0)
        sl_str_add(&s, buf, n);
    if (p)
        pclose(p);
    free(cmd);
    return sl_str_detach(&s);
}

static bool have_git(void)
{
    return sh("git --version >/dev/null 2>&1") == 0;
}

#define GIT                                                                                        \
    "git -c user.name=t -c user.email=t@example.com -c init.defaultBranch=main "                   \
    "-c core.autocrlf=false"

static bool exists_l(const char *dir, const char *rel, struct stat *st)
{
    char *p = sl_fs_join(dir, rel);
    struct stat tmp;
    bool ok = lstat(p, st ? st : &tmp) == 0;
    free(p);
    return ok;
}

/* A committed repository with the shapes a project has, then local changes of every
 * kind on top. */
static char *make_repo(void)
{
    char *proj = sl_fs_join(sl_test_tmpdir(), "proj");
    sl_test_write(proj, "README.md", "hello\n");
    sl_test_write(proj, "src/main.c", "int main(void) { return 0; }\n");
    sl_test_write(proj, "src/deep/er/x.txt", "x\n");
    sl_test_write(proj, "gone.txt", "to be deleted\n");
    sl_test_write(proj, "run.sh", "#!/bin/sh\necho run\n");
    sl_test_write(proj, ".gitignore", "*.log\nbuild/\n");
    if (sh("cd '%s' && chmod 755 run.sh && ln -s src/main.c link && " GIT " init -q && " GIT
           " add -A && " GIT " commit -q -m first && " GIT " tag v1.0",
           proj) != 0)
        return NULL;
    sl_test_write(proj, "README.md", "hello, edited\n");        /* unstaged edit */
    sl_test_write(proj, "untracked.txt", "new\n");              /* untracked */
    sl_test_write(proj, "newdir/inner/file.txt", "nested\n");   /* untracked dir */
    sl_test_write(proj, "debug.log", "ignored\n");              /* ignored */
    sl_test_write(proj, "build/out.o", "ignored too\n");        /* ignored dir */
    sl_test_write(proj, "staged.txt", "staged\n");              /* staged, new */
    sl_test_write(proj, ".sluice/builds/old/stale.txt", "old"); /* sluice's own */
    if (sh("cd '%s' && rm gone.txt && " GIT " add staged.txt", proj) != 0)
        return NULL;
    return proj;
}

TEST(git_copy_takes_tracked_and_untracked_not_ignored)
{
    if (!have_git())
        SKIP("SKIPPED: the git command is not installed");
    char *proj = make_repo();
    CHECK(proj);
    char *dest = sl_fs_join(proj, ".sluice/builds/1/job");
    struct sl_workspace_stats st;
    struct sl_error err = SL_ERROR_INIT;
    int rc = sl_workspace_prepare(proj, dest, NULL, &st, &err);
    if (rc < 0)
        sl_test_fail(__FILE__, __LINE__, "%s", sl_error_format(&err));
    CHECK_INT_EQ(rc, 0);
    CHECK(st.git);

    char *t = sl_test_read(dest, "README.md");
    CHECK_STR_EQ(t, "hello, edited\n");
    free(t);
    t = sl_test_read(dest, "src/deep/er/x.txt");
    CHECK_STR_EQ(t, "x\n");
    free(t);
    t = sl_test_read(dest, "untracked.txt");
    CHECK_STR_EQ(t, "new\n");
    free(t);
    t = sl_test_read(dest, "newdir/inner/file.txt");
    CHECK_STR_EQ(t, "nested\n");
    free(t);
    t = sl_test_read(dest, "staged.txt");
    CHECK_STR_EQ(t, "staged\n");
    free(t);
    CHECK(exists_l(dest, ".gitignore", NULL));
    CHECK(!exists_l(dest, "debug.log", NULL));
    CHECK(!exists_l(dest, "build", NULL));
    CHECK(!exists_l(dest, "gone.txt", NULL));
    CHECK(!exists_l(dest, ".sluice", NULL));

    struct stat ls;
    CHECK(exists_l(dest, "run.sh", &ls));
    CHECK_INT_EQ(ls.st_mode & 0777, 0755);
    CHECK(exists_l(dest, "README.md", &ls));
    CHECK_INT_EQ(ls.st_mode & 0777, 0644);
    CHECK(exists_l(dest, "link", &ls));
    CHECK(S_ISLNK(ls.st_mode));
    char target[64] = {0};
    char *lp = sl_fs_join(dest, "link");
    CHECK(readlink(lp, target, 63) > 0);
    free(lp);
    CHECK_STR_EQ(target, "src/main.c");

    /* not a hard link: a job writing its copy leaves the project alone */
    struct stat a, b;
    CHECK(exists_l(proj, "src/main.c", &a) && exists_l(dest, "src/main.c", &b));
    CHECK(a.st_ino != b.st_ino || a.st_dev != b.st_dev);
    CHECK_INT_EQ(st.files, 8); /* README main x run .gitignore untracked file staged */
    CHECK_INT_EQ(st.symlinks, 1);

    /* git works in the copy: its own repository on the project's objects */
    CHECK(sl_fs_is_dir(t = sl_fs_join(dest, ".git")));
    free(t);
    char *h1 = sh_out("git -C '%s' rev-parse HEAD", proj);
    char *h2 = sh_out("git -C '%s' rev-parse HEAD", dest);
    CHECK(strlen(h1) == 41);
    CHECK_STR_EQ(h2, h1);
    free(h1);
    free(h2);
    char *desc = sh_out("git -C '%s' describe --tags", dest);
    CHECK_STR_EQ(desc, "v1.0\n");
    free(desc);
    char *br =
        sh_out("git -C '%s' rev-parse --verify -q refs/heads/main >/dev/null && echo ok", dest);
    CHECK_STR_EQ(br, "ok\n");
    free(br);
    char *status = sh_out("git -C '%s' status --porcelain --untracked-files=all", dest);
    CHECK_STR_EQ(status, " M README.md\n D gone.txt\n?? newdir/inner/file.txt\n?? staged.txt\n"
                         "?? untracked.txt\n");
    free(status);
    char *show = sh_out("git -C '%s' show HEAD:gone.txt", dest);
    CHECK_STR_EQ(show, "to be deleted\n");
    free(show);

    /* the job's git writes stay in the copy */
    CHECK_INT_EQ(sh("cd '%s' && " GIT " add -A && " GIT " commit -q -m job", dest), 0);
    char *pst = sh_out("git -C '%s' status --porcelain", proj);
    CHECK_STR_EQ(pst, " M README.md\n D gone.txt\nA  staged.txt\n?? .sluice/\n?? newdir/\n"
                      "?? untracked.txt\n");
    free(pst);
    char *plog = sh_out("git -C '%s' log --oneline | wc -l", proj);
    CHECK_STR_EQ(plog, "1\n");
    free(plog);
    free(dest);
    free(proj);
}

TEST(git_copy_of_an_unborn_repository)
{
    if (!have_git())
        SKIP("SKIPPED: the git command is not installed");
    char *proj = sl_fs_join(sl_test_tmpdir(), "unborn");
    sl_test_write(proj, "a.txt", "a\n");
    sl_test_write(proj, "ignored.tmp", "tmp\n");
    sl_test_write(proj, ".gitignore", "*.tmp\n");
    CHECK_INT_EQ(sh("cd '%s' && " GIT " init -q -b trunk", proj), 0);
    char *dest = sl_fs_join(proj, ".sluice/builds/j");
    struct sl_workspace_stats st;
    struct sl_error err = SL_ERROR_INIT;
    CHECK_INT_EQ(sl_workspace_prepare(proj, dest, NULL, &st, &err), 0);
    CHECK(exists_l(dest, "a.txt", NULL));
    CHECK(!exists_l(dest, "ignored.tmp", NULL));
    char *head = sh_out("git -C '%s' symbolic-ref HEAD", dest);
    CHECK_STR_EQ(head, "refs/heads/trunk\n");
    free(head);
    char *status = sh_out("git -C '%s' status --porcelain", dest);
    CHECK_STR_EQ(status, "?? .gitignore\n?? a.txt\n");
    free(status);
    free(dest);
    free(proj);
}

TEST(plain_tree_copy_keeps_modes_links_and_empty_dirs)
{
    char *proj = sl_fs_join(sl_test_tmpdir(), "plain");
    sl_test_write(proj, "a/b/c.txt", "c\n");
    sl_test_write(proj, ".hidden", "h\n");
    sl_test_write(proj, "tool", "#!/bin/sh\n");
    sl_test_write(proj, ".sluice/cache/k.tar.zst", "not copied");
    CHECK_INT_EQ(sh("cd '%s' && chmod 750 tool && mkdir -p empty && ln -s /etc/hostname abs && "
                    "ln -s a/b dirlink && mkfifo fifo",
                    proj),
                 0);
    char *dest = sl_fs_join(sl_test_tmpdir(), "plain-copy");
    struct sl_workspace_stats st;
    struct sl_error err = SL_ERROR_INIT;
    CHECK_INT_EQ(sl_workspace_prepare(proj, dest, NULL, &st, &err), 0);
    CHECK(!st.git);
    char *t = sl_test_read(dest, "a/b/c.txt");
    CHECK_STR_EQ(t, "c\n");
    free(t);
    CHECK(exists_l(dest, ".hidden", NULL));
    CHECK(!exists_l(dest, ".sluice", NULL));
    CHECK(!exists_l(dest, "fifo", NULL));
    CHECK(sl_fs_is_dir(t = sl_fs_join(dest, "empty")));
    free(t);
    struct stat ls;
    CHECK(exists_l(dest, "tool", &ls));
    CHECK_INT_EQ(ls.st_mode & 07777, 0750);
    CHECK(exists_l(dest, "abs", &ls) && S_ISLNK(ls.st_mode));
    CHECK(exists_l(dest, "dirlink", &ls) && S_ISLNK(ls.st_mode));
    CHECK_INT_EQ(st.files, 3);
    CHECK_INT_EQ(st.symlinks, 2);
    CHECK_INT_EQ(st.skipped, 1);

    /* a second prepare starts from scratch */
    sl_test_write(dest, "left-over", "x");
    CHECK_INT_EQ(sl_workspace_prepare(proj, dest, NULL, NULL, &err), 0);
    CHECK(!exists_l(dest, "left-over", NULL));
    free(dest);
    free(proj);
}

TEST(large_and_empty_files_copy_byte_for_byte)
{
    char *proj = sl_fs_join(sl_test_tmpdir(), "big");
    CHECK_INT_EQ(sl_fs_mkdir_p(proj, 0755, NULL), 0);
    CHECK_INT_EQ(sh("cd '%s' && head -c 3000000 /dev/urandom > big.bin && : > empty", proj), 0);
    char *dest = sl_fs_join(sl_test_tmpdir(), "big-copy");
    CHECK_INT_EQ(sl_workspace_prepare(proj, dest, NULL, NULL, NULL), 0);
    CHECK_INT_EQ(sh("cmp -s '%s/big.bin' '%s/big.bin' && test -f '%s/empty' && ! test -s "
                    "'%s/empty'",
                    proj, dest, dest, dest),
                 0);
    free(dest);
    free(proj);
}

TEST(bad_destinations_are_refused)
{
    char *proj = sl_fs_join(sl_test_tmpdir(), "p");
    sl_test_write(proj, "f", "f");
    struct sl_error err = SL_ERROR_INIT;
    char *inside = sl_fs_join(proj, "builds/x");
    CHECK_INT_EQ(sl_workspace_prepare(proj, inside, NULL, NULL, &err), SL_EINVAL);
    CHECK(strstr(err.message, "must be under its .sluice/"));
    sl_error_release(&err);
    CHECK(!exists_l(proj, "builds", NULL)); /* refused before anything was made */
    char *missing = sl_fs_join(sl_test_tmpdir(), "does-not-exist");
    char *d2 = sl_fs_join(sl_test_tmpdir(), "d2");
    CHECK_INT_EQ(sl_workspace_prepare(missing, d2, NULL, NULL, &err), SL_ENOENT);
    sl_error_release(&err);
    CHECK(exists_l(proj, "f", NULL));
    free(missing);
    free(d2);
    free(inside);
    free(proj);
}

TEST(destination_holding_the_project_is_refused_untouched)
{
    char *root = sl_fs_join(sl_test_tmpdir(), "holder");
    char *proj = sl_fs_join(root, "proj");
    sl_test_write(proj, "keep.txt", "keep");
    struct sl_error err = SL_ERROR_INIT;
    CHECK_INT_EQ(sl_workspace_prepare(proj, root, NULL, NULL, &err), SL_EINVAL);
    sl_error_release(&err);
    CHECK_INT_EQ(sl_workspace_prepare(proj, proj, NULL, NULL, &err), SL_EINVAL);
    sl_error_release(&err);
    CHECK(exists_l(proj, "keep.txt", NULL));
    free(proj);
    free(root);
}

/* --- GIT_STRATEGY and friends ---------------------------------------------------------- */

static int prep(const char *proj, const char *dest, const char *const *env,
                struct sl_workspace_stats *st)
{
    struct sl_workspace_options o;
    struct sl_error err = SL_ERROR_INIT;
    sl_workspace_options_init(&o);
    int rc = sl_workspace_options_from_env(&o, env, &err);
    if (rc == 0)
        rc = sl_workspace_prepare(proj, dest, &o, st, &err);
    if (rc < 0)
        sl_test_fail(__FILE__, __LINE__, "%s", sl_error_format(&err));
    sl_error_release(&err);
    return rc;
}

static ino_t ino_of(const char *dir, const char *rel)
{
    struct stat st;
    return exists_l(dir, rel, &st) ? st.st_ino : 0;
}

TEST(fetch_reuses_the_workspace_and_undoes_what_the_job_did)
{
    if (!have_git())
        SKIP("SKIPPED: the git command is not installed");
    char *proj = make_repo();
    CHECK(proj);
    char *dest = sl_fs_join(proj, ".sluice/builds/fetch");
    char *outside = sl_fs_join(sl_test_tmpdir(), "outside");
    sl_test_write(outside, "precious.txt", "mine\n");
    struct sl_workspace_stats st;
    CHECK_INT_EQ(prep(proj, dest, NULL, &st), 0);
    CHECK(!st.reused);
    char *status1 = sh_out("git -C '%s' status --porcelain --untracked-files=all", dest);
    ino_t main_ino = ino_of(dest, "src/main.c");

    /* what a job may leave: edits, deletions, new files (ignored or not), a link where a
     * directory was (pointing outside: the next copy must not write through it) */
    sl_test_write(dest, "README.md", "job edit\n");
    sl_test_write(dest, "junk.txt", "junk\n");
    sl_test_write(dest, "build/out.o", "object\n");
    CHECK_INT_EQ(
        sh("cd '%s' && rm src/deep/er/x.txt && rm -r newdir && ln -s '%s' newdir", dest, outside),
        0);
    /* and the project moves on */
    sl_test_write(proj, "untracked.txt", "newer\n");

    CHECK_INT_EQ(prep(proj, dest, NULL, &st), 0);
    CHECK(st.reused);
    CHECK_INT_EQ(ino_of(dest, "src/main.c"), main_ino); /* unchanged: not copied again */
    CHECK(st.unchanged >= 5);
    char *t = sl_test_read(dest, "README.md");
    CHECK_STR_EQ(t, "hello, edited\n");
    free(t);
    t = sl_test_read(dest, "untracked.txt");
    CHECK_STR_EQ(t, "newer\n");
    free(t);
    t = sl_test_read(dest, "src/deep/er/x.txt");
    CHECK_STR_EQ(t, "x\n");
    free(t);
    struct stat ls;
    CHECK(exists_l(dest, "newdir", &ls) && S_ISDIR(ls.st_mode));
    t = sl_test_read(dest, "newdir/inner/file.txt");
    CHECK_STR_EQ(t, "nested\n");
    free(t);
    CHECK(!exists_l(outside, "inner", NULL)); /* nothing went through the link */
    CHECK(exists_l(outside, "precious.txt", NULL));
    CHECK(!exists_l(dest, "junk.txt", NULL));
    CHECK(!exists_l(dest, "build", NULL)); /* -ffdx: ignored files go too */
    char *status2 = sh_out("git -C '%s' status --porcelain --untracked-files=all", dest);
    CHECK_STR_EQ(status2, status1);
    free(status2);

    /* a job's `git add` changes the index: the next prepare rebuilds it */
    CHECK_INT_EQ(sh("cd '%s' && " GIT " add -A", dest), 0);
    CHECK_INT_EQ(prep(proj, dest, NULL, &st), 0);
    status2 = sh_out("git -C '%s' status --porcelain --untracked-files=all", dest);
    CHECK_STR_EQ(status2, status1);
    free(status2);

    /* a new commit in the project moves HEAD in the copy */
    CHECK_INT_EQ(sh("cd '%s' && " GIT " add -A . ':!.sluice' && " GIT " commit -q -m second", proj),
                 0);
    CHECK_INT_EQ(prep(proj, dest, NULL, &st), 0);
    char *h1 = sh_out("git -C '%s' rev-parse HEAD", proj);
    char *h2 = sh_out("git -C '%s' rev-parse HEAD", dest);
    CHECK_STR_EQ(h2, h1);
    status2 = sh_out("git -C '%s' status --porcelain --untracked-files=all", dest);
    CHECK_STR_EQ(status2, "");
    free(status2);
    free(h1);
    free(h2);

    /* a damaged record is no record: a fresh copy */
    char *rec = sl_fs_join(dest, ".git/sluice-workspace");
    CHECK_INT_EQ(sh("printf 'sluice-workspace 1\\nhead x\\n' > '%s'", rec), 0);
    CHECK_INT_EQ(prep(proj, dest, NULL, &st), 0);
    CHECK(!st.reused);
    CHECK(exists_l(dest, "README.md", NULL));
    free(rec);
    free(status1);
    free(outside);
    free(dest);
    free(proj);
}

TEST(git_clean_flags_decide_what_stays)
{
    if (!have_git())
        SKIP("SKIPPED: the git command is not installed");
    char *proj = make_repo();
    CHECK(proj);
    char *dest = sl_fs_join(proj, ".sluice/builds/clean");
    static const struct {
        const char *flags;
        bool junk, junkdir, ignored_file, ignored_dir, kept;
    } cases[] = {
        /* flags               junk   junkdir ign.log build/ keep.me */
        {"-ffdx", false, false, false, false, false},
        {"-ffd", false, false, true, true, false},
        {"-ff", false, true, true, true, false},
        {"-ffdx -e keep.me", false, false, false, false, true},
        {"-ffdX", true, true, false, false, true},
        {"none", true, true, true, true, true},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        char *var = sl_xasprintf("GIT_CLEAN_FLAGS=%s", cases[i].flags);
        const char *env[] = {var, NULL};
        struct sl_workspace_stats st;
        CHECK_INT_EQ(prep(proj, dest, env, &st), 0);
        sl_test_write(dest, "junk.txt", "j\n");
        sl_test_write(dest, "junkdir/a.txt", "j\n");
        sl_test_write(dest, "src/more.log", "ignored\n");
        sl_test_write(dest, "build/out.o", "ignored\n");
        sl_test_write(dest, "keep.me", "k\n");
        CHECK_INT_EQ(prep(proj, dest, env, &st), 0);
        CHECK(st.reused);
        if (exists_l(dest, "junk.txt", NULL) != cases[i].junk ||
            exists_l(dest, "junkdir/a.txt", NULL) != cases[i].junkdir ||
            exists_l(dest, "src/more.log", NULL) != cases[i].ignored_file ||
            exists_l(dest, "build/out.o", NULL) != cases[i].ignored_dir ||
            exists_l(dest, "keep.me", NULL) != cases[i].kept)
            sl_test_fail(__FILE__, __LINE__, "GIT_CLEAN_FLAGS=%s kept the wrong files",
                         cases[i].flags);
        CHECK(exists_l(dest, "README.md", NULL));
        /* start the next case from scratch */
        const char *clone[] = {"GIT_STRATEGY=clone", NULL};
        CHECK_INT_EQ(prep(proj, dest, clone, &st), 0);
        free(var);
    }
    free(dest);
    free(proj);
}

TEST(strategies_clone_none_and_empty)
{
    if (!have_git())
        SKIP("SKIPPED: the git command is not installed");
    char *proj = make_repo();
    CHECK(proj);
    char *dest = sl_fs_join(proj, ".sluice/builds/strat");
    struct sl_workspace_stats st;
    CHECK_INT_EQ(prep(proj, dest, NULL, &st), 0);
    sl_test_write(dest, "left.txt", "left\n");
    CHECK_INT_EQ(sh("cd '%s' && " GIT " commit -q --allow-empty -m job", dest), 0);

    const char *none[] = {"GIT_STRATEGY=none", NULL};
    CHECK_INT_EQ(prep(proj, dest, none, &st), 0);
    CHECK(exists_l(dest, "left.txt", NULL)); /* untouched */
    char *n = sh_out("git -C '%s' rev-list --count HEAD", dest);
    CHECK_STR_EQ(n, "2\n");
    free(n);

    const char *clone[] = {"GIT_STRATEGY=clone", NULL};
    CHECK_INT_EQ(prep(proj, dest, clone, &st), 0);
    CHECK(!st.reused);
    CHECK(!exists_l(dest, "left.txt", NULL));
    n = sh_out("git -C '%s' rev-list --count HEAD", dest);
    CHECK_STR_EQ(n, "1\n"); /* the job's commit went with the old copy */
    free(n);

    const char *empty[] = {"GIT_STRATEGY=empty", NULL};
    CHECK_INT_EQ(prep(proj, dest, empty, &st), 0);
    CHECK(sl_fs_is_dir(dest));
    n = sh_out("ls -A '%s' | wc -l", dest);
    CHECK_STR_EQ(n, "0\n");
    free(n);

    /* GIT_CHECKOUT=false: the repository, no files */
    const char *nocheckout[] = {"GIT_STRATEGY=clone", "GIT_CHECKOUT=false", NULL};
    CHECK_INT_EQ(prep(proj, dest, nocheckout, &st), 0);
    CHECK(!exists_l(dest, "README.md", NULL));
    char *h1 = sh_out("git -C '%s' rev-parse HEAD", proj);
    char *h2 = sh_out("git -C '%s' rev-parse HEAD", dest);
    CHECK_STR_EQ(h2, h1);
    free(h1);
    free(h2);
    free(dest);
    free(proj);
}

TEST(git_depth_makes_a_shallow_copy)
{
    if (!have_git())
        SKIP("SKIPPED: the git command is not installed");
    char *proj = sl_fs_join(sl_test_tmpdir(), "deep");
    sl_test_write(proj, "f", "1\n");
    CHECK_INT_EQ(sh("cd '%s' && " GIT " init -q && " GIT " add -A && " GIT " commit -q -m 1 && "
                    "echo 2 > f && " GIT " commit -qam 2 && echo 3 > f && " GIT " commit -qam 3 && "
                    "echo 4 > f && " GIT " commit -qam 4",
                    proj),
                 0);
    char *dest = sl_fs_join(sl_test_tmpdir(), "deep-copy");
    static const struct {
        const char *var, *count;
    } cases[] = {{"GIT_DEPTH=1", "1\n"},  {"GIT_DEPTH=3", "3\n"}, {"GIT_DEPTH=0", "4\n"},
                 {"GIT_DEPTH=50", "4\n"}, {"GIT_DEPTH=2", "2\n"}, {"GIT_DEPTH=", "4\n"}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        const char *env[] = {cases[i].var, NULL};
        CHECK_INT_EQ(prep(proj, dest, env, NULL), 0);
        char *n = sh_out("git -C '%s' rev-list --count HEAD", dest);
        if (!sl_streq(n, cases[i].count))
            sl_test_fail(__FILE__, __LINE__, "%s: %s commits", cases[i].var, n);
        free(n);
    }
    free(dest);
    free(proj);
}

TEST(workspace_variables_are_checked)
{
    static const struct {
        const char *var, *msg;
    } bad[] = {{"GIT_STRATEGY=rsync", "GIT_STRATEGY: unknown strategy"},
               {"GIT_DEPTH=ten", "GIT_DEPTH"},
               {"GIT_DEPTH=-1", "GIT_DEPTH"},
               {"GIT_CHECKOUT=maybe", "GIT_CHECKOUT"},
               {"GIT_CLEAN_FLAGS=-ffdz", "unknown flag -z"},
               {"GIT_CLEAN_FLAGS=-ffd -e", "-e needs a pattern"},
               {"GIT_CLEAN_FLAGS=--interactive", "cannot use"}};
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
        struct sl_workspace_options o;
        struct sl_error err = SL_ERROR_INIT;
        const char *env[] = {bad[i].var, NULL};
        sl_workspace_options_init(&o);
        CHECK_INT_EQ(sl_workspace_options_from_env(&o, env, &err), SL_EINVAL);
        CHECK(err.message && strstr(err.message, bad[i].msg));
        CHECK_INT_EQ(o.strategy, SL_WORKSPACE_FETCH); /* untouched on error */
        sl_error_release(&err);
    }
    struct sl_workspace_options o;
    const char *env[] = {"GIT_STRATEGY=clone", "GIT_DEPTH=5",
                         "GIT_CHECKOUT=false", "GIT_CLEAN_FLAGS=-ffd -e node_modules/",
                         "GIT_STRATEGY=none",  NULL};
    sl_workspace_options_init(&o);
    CHECK_INT_EQ(sl_workspace_options_from_env(&o, env, NULL), 0);
    CHECK_INT_EQ(o.strategy, SL_WORKSPACE_NONE); /* the last one wins */
    CHECK_INT_EQ(o.depth, 5);
    CHECK(!o.checkout);
    CHECK_STR_EQ(o.clean_flags, "-ffd -e node_modules/");
}
