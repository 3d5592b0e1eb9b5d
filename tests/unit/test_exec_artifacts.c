/* Artifacts: selection by GitLab's rules on real trees, tar+zstd round trips,
 * the size caps, and archives crafted with libarchive to try every zip-slip
 * shape. */
#include "base/compat.h"
#include "harness/harness.h"
#include "exec/artifacts.h"
#include "base/alloc.h"
#include "base/fs.h"
#include "base/str.h"
#include "base/time.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

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

static bool there(const char *dir, const char *rel)
{
    char *p = sl_fs_join(dir, rel);
    struct stat st;
    bool ok = lstat(p, &st) == 0;
    free(p);
    return ok;
}

/* The list's paths joined with spaces, for one comparison. */
static char *joined(const struct sl_artifacts_list *l)
{
    struct sl_str s = SL_STR_INIT;
    for (size_t i = 0; i < l->n; i++)
        sl_str_addf(&s, "%s%s", i ? " " : "", l->paths[i]);
    return sl_str_detach(&s);
}

static char *dir_of(const char *name)
{
    char *d = sl_fs_join(sl_test_tmpdir(), name);
    sl_fs_mkdir_p(d, 0755, NULL);
    return d;
}

static char *build_tree(const char *name)
{
    char *ws = dir_of(name);
    sl_test_write(ws, "dist/app.js", "app");
    sl_test_write(ws, "dist/app.js.map", "map");
    sl_test_write(ws, "dist/sub/lib.js", "lib");
    sl_test_write(ws, "dist/sub/lib.js.map", "map2");
    sl_test_write(ws, "reports/unit/junit.xml", "<x/>");
    sl_test_write(ws, "reports/notes.txt", "notes");
    sl_test_write(ws, "reports/deep/er/more.xml", "<y/>");
    sl_test_write(ws, "top.txt", "top");
    sl_test_write(ws, ".hidden/cfg", "h");
    sl_test_write(ws, ".git/config", "not an artifact");
    sl_test_write(ws, "bin/tool", "#!/bin/sh\n");
    sh("cd '%s' && chmod 755 bin/tool && ln -s dist/app.js link", ws);
    return ws;
}

TEST(select_paths_globs_directories_and_excludes)
{
    char *ws = build_tree("sel");
    static const struct {
        const char *paths[4];
        const char *exclude[3];
        const char *want;
        size_t warnings;
    } cases[] = {
        {{"dist/", NULL},
         {NULL},
         "dist/app.js dist/app.js.map dist/sub/lib.js dist/sub/lib.js.map",
         0},
        {{"dist", NULL}, {"dist/**/*.map", NULL}, "dist/app.js dist/sub/lib.js", 0},
        {{"dist", NULL},
         {"*.map", NULL},
         "dist/app.js dist/app.js.map dist/sub/lib.js "
         "dist/sub/lib.js.map",
         0},
        {{"dist", NULL}, {"dist/**", NULL}, "", 1},
        {{"dist", NULL}, {"dist/*", NULL}, "dist/sub/lib.js dist/sub/lib.js.map", 0},
        {{"reports/**/*.xml", NULL}, {NULL}, "reports/deep/er/more.xml reports/unit/junit.xml", 0},
        {{"reports/*", NULL},
         {NULL},
         "reports/deep/er/more.xml reports/notes.txt "
         "reports/unit/junit.xml",
         0},
        {{"*.txt", "link", "nope/", NULL}, {NULL}, "link top.txt", 1},
        {{"./top.txt", "top.txt", NULL}, {NULL}, "top.txt", 0},
        {{"**/lib.js", NULL}, {NULL}, "dist/sub/lib.js", 0},
        {{".hidden", NULL}, {NULL}, ".hidden/cfg", 0},
        {{"*", NULL}, {"dist/**", "reports/**", NULL}, ".hidden/cfg bin/tool link top.txt", 0},
        {{".git/config", "missing.txt", NULL}, {NULL}, "", 2},
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(cases); i++) {
        char name[24];
        snprintf(name, sizeof(name), "case %zu", i);
        sl_test_case_begin(name);
        struct sl_artifacts_select sel = {cases[i].paths, cases[i].exclude, false};
        struct sl_artifacts_list l;
        struct sl_error err = SL_ERROR_INIT;
        int rc = sl_artifacts_match(&l, ws, &sel, &err);
        if (rc < 0)
            sl_test_fail(__FILE__, __LINE__, "%s", sl_error_format(&err));
        CHECK_INT_EQ(rc, 0);
        char *got = joined(&l);
        CHECK_STR_EQ(got, cases[i].want);
        free(got);
        if (cases[i].warnings != (size_t)-1 && cases[i].exclude[0] == NULL)
            CHECK_INT_EQ(l.nwarnings, cases[i].warnings);
        sl_artifacts_list_release(&l);
        sl_test_case_end();
    }
    free(ws);
}

TEST(select_warns_for_patterns_that_match_nothing)
{
    char *ws = build_tree("warn");
    const char *paths[] = {"top.txt", "nothing/here", "*.none", NULL};
    struct sl_artifacts_select sel = {paths, NULL, false};
    struct sl_artifacts_list l;
    CHECK_INT_EQ(sl_artifacts_match(&l, ws, &sel, NULL), 0);
    CHECK_INT_EQ(l.n, 1);
    CHECK_INT_EQ(l.nwarnings, 2);
    CHECK_STR_EQ(l.warnings[0], "nothing/here: no matching files");
    CHECK_STR_EQ(l.warnings[1], "*.none: no matching files");
    CHECK_INT_EQ(l.bytes, 3);
    sl_artifacts_list_release(&l);
    free(ws);
}

TEST(select_refuses_paths_and_links_leaving_the_workspace)
{
    char *ws = build_tree("escape");
    char *outside = dir_of("outside");
    sl_test_write(outside, "secret", "s");
    CHECK_INT_EQ(sh("cd '%s' && ln -s /etc/hostname abs && ln -s ../outside up && "
                    "ln -s '%s' outdir && mkdir -p in && ln -s ../dist in/ok",
                    ws, outside),
                 0);
    static const struct {
        const char *path;
        const char *msg;
    } bad[] = {
        {"../outside/secret", "path is outside the project directory"},
        {"dist/../../outside", "path is outside the project directory"},
        {"/etc/hostname", "path is outside the project directory"},
        {"abs", "points outside the project directory"},
        {"up", "points outside the project directory"},
        {"outdir/secret", "symbolic link out of the project directory"},
        {"outdir/*", "symbolic link out of the project directory"},
        {"*", "points outside the project directory"}, /* the walk meets abs and up */
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(bad); i++) {
        sl_test_case_begin(bad[i].path);
        const char *paths[] = {bad[i].path, NULL};
        struct sl_artifacts_select sel = {paths, NULL, false};
        struct sl_artifacts_list l;
        struct sl_error err = SL_ERROR_INIT;
        CHECK_INT_EQ(sl_artifacts_match(&l, ws, &sel, &err), SL_EPERM);
        CHECK(strstr(err.message, bad[i].msg));
        sl_error_release(&err);
        sl_test_case_end();
    }
    /* a link that stays inside is fine, and the walk does not enter linked
     * directories */
    const char *ok[] = {"in", NULL};
    struct sl_artifacts_select sel = {ok, NULL, false};
    struct sl_artifacts_list l;
    CHECK_INT_EQ(sl_artifacts_match(&l, ws, &sel, NULL), 0);
    char *got = joined(&l);
    CHECK_STR_EQ(got, "in/ok");
    free(got);
    sl_artifacts_list_release(&l);
    /* $CI_PROJECT_DIR/... is taken relative to the workspace */
    char *real = realpath(ws, NULL);
    char *absd = sl_xasprintf("%s/dist/sub", real);
    const char *abs_paths[] = {absd, NULL};
    sel.paths = abs_paths;
    CHECK_INT_EQ(sl_artifacts_match(&l, ws, &sel, NULL), 0);
    got = joined(&l);
    CHECK_STR_EQ(got, "dist/sub/lib.js dist/sub/lib.js.map");
    free(got);
    sl_artifacts_list_release(&l);
    free(absd);
    free(real);
    free(outside);
    free(ws);
}

TEST(collect_and_restore_round_trip)
{
    char *ws = build_tree("rt");
    char *store = sl_fs_join(sl_test_tmpdir(), "store/rt");
    const char *paths[] = {"dist/", "bin", "link", "reports/**/*.xml", "gone/", NULL};
    const char *exclude[] = {"**/*.map", NULL};
    struct sl_artifacts_spec spec = SL_ARTIFACTS_SPEC_INIT;
    spec.name = "build-output";
    spec.select.paths = paths;
    spec.select.exclude = exclude;
    spec.expire_in_s = 3600;
    struct sl_artifacts_meta *m = NULL;
    struct sl_error err = SL_ERROR_INIT;
    int64_t before = sl_time_now_ms();
    int rc = sl_artifacts_collect(&m, ws, &spec, store, &err);
    if (rc < 0)
        sl_test_fail(__FILE__, __LINE__, "%s", sl_error_format(&err));
    CHECK_INT_EQ(rc, 0);
    CHECK_STR_EQ(m->name, "build-output");
    CHECK_INT_EQ(m->files, 6);
    CHECK_INT_EQ(m->bytes, 3 + 3 + 10 + 4 + 4);
    CHECK(m->archive_bytes > 0);
    CHECK_INT_EQ(m->expire_in_s, 3600);
    CHECK(m->created_ms >= before);
    CHECK_INT_EQ(m->npaths, 6);
    CHECK_STR_EQ(m->paths[0], "bin/tool");
    CHECK_INT_EQ(m->nwarnings, 1);
    CHECK(!sl_artifacts_expired(m, m->created_ms + 3599 * 1000));
    CHECK(sl_artifacts_expired(m, m->created_ms + 3600 * 1000));

    struct sl_artifacts_meta *back = NULL;
    CHECK_INT_EQ(sl_artifacts_meta_load(&back, store, &err), 0);
    CHECK_STR_EQ(back->name, "build-output");
    CHECK_STR_EQ(back->archive, m->archive);
    CHECK_INT_EQ(back->created_ms, m->created_ms);
    CHECK_INT_EQ(back->files, 6);
    CHECK_INT_EQ(back->npaths, 6);
    CHECK_STR_EQ(back->paths[5], "reports/unit/junit.xml");
    CHECK_STR_EQ(back->warnings[0], "gone/: no matching files");
    CHECK_INT_EQ(back->expire_in_s, 3600);
    sl_artifacts_meta_free(back);

    char *next = dir_of("rt-next");
    sl_test_write(next, "dist/app.js", "old content, overwritten");
    CHECK_INT_EQ(sl_artifacts_restore(store, next, &err), 0);
    char *t = sl_test_read(next, "dist/app.js");
    CHECK_STR_EQ(t, "app");
    free(t);
    t = sl_test_read(next, "dist/sub/lib.js");
    CHECK_STR_EQ(t, "lib");
    free(t);
    t = sl_test_read(next, "reports/deep/er/more.xml");
    CHECK_STR_EQ(t, "<y/>");
    free(t);
    CHECK(!there(next, "dist/app.js.map"));
    CHECK(!there(next, "reports/notes.txt"));
    struct stat st;
    char *p = sl_fs_join(next, "bin/tool");
    CHECK(stat(p, &st) == 0 && (st.st_mode & 0777) == 0755);
    free(p);
    char target[64] = {0};
    p = sl_fs_join(next, "link");
    CHECK(readlink(p, target, sizeof(target) - 1) > 0);
    free(p);
    CHECK_STR_EQ(target, "dist/app.js");
    sl_artifacts_meta_free(m);
    free(next);
    free(store);
    free(ws);
}

TEST(collect_records_never_and_the_default_expiry)
{
    char *ws = build_tree("exp");
    char *store = sl_fs_join(sl_test_tmpdir(), "store/exp");
    const char *paths[] = {"top.txt", NULL};
    struct sl_artifacts_spec spec = SL_ARTIFACTS_SPEC_INIT;
    spec.select.paths = paths;
    spec.expire_in_s = SL_ARTIFACTS_EXPIRE_NEVER;
    struct sl_artifacts_meta *m = NULL, *back = NULL;
    CHECK_INT_EQ(sl_artifacts_collect(&m, ws, &spec, store, NULL), 0);
    CHECK_STR_EQ(m->name, "artifacts");
    CHECK_INT_EQ(sl_artifacts_meta_load(&back, store, NULL), 0);
    CHECK_INT_EQ(back->expire_in_s, SL_ARTIFACTS_EXPIRE_NEVER);
    CHECK(!sl_artifacts_expired(back, INT64_MAX / 2));
    char *json = sl_test_read(store, "artifacts.json");
    CHECK(strstr(json, "\"expire_in\": \"never\""));
    free(json);
    sl_artifacts_meta_free(m);
    sl_artifacts_meta_free(back);
    spec.expire_in_s = 0;
    CHECK_INT_EQ(sl_artifacts_collect(&m, ws, &spec, store, NULL), 0);
    CHECK_INT_EQ(m->expire_in_s, SL_ARTIFACTS_EXPIRE_DEFAULT);
    sl_artifacts_meta_free(m);

    /* nothing matched: an empty archive and a warning, not an error */
    const char *none[] = {"nope", NULL};
    spec.select.paths = none;
    CHECK_INT_EQ(sl_artifacts_collect(&m, ws, &spec, store, NULL), 0);
    CHECK_INT_EQ(m->files, 0);
    CHECK_INT_EQ(m->nwarnings, 2);
    CHECK_STR_EQ(m->warnings[1], "no files to upload");
    char *empty = dir_of("exp-empty");
    CHECK_INT_EQ(sl_artifacts_restore(store, empty, NULL), 0);
    sl_artifacts_meta_free(m);
    free(empty);
    free(store);
    free(ws);
}

TEST(size_caps_on_pack_and_extract)
{
    char *ws = dir_of("cap");
    CHECK_INT_EQ(sh("head -c 3000000 /dev/urandom > '%s/random.bin'", ws), 0);
    char *store = dir_of("cap-store");
    const char *paths[] = {"random.bin", NULL};
    struct sl_artifacts_spec spec = SL_ARTIFACTS_SPEC_INIT;
    spec.select.paths = paths;
    spec.max_bytes = 1000000;
    struct sl_artifacts_meta *m = NULL;
    struct sl_error err = SL_ERROR_INIT;
    CHECK_INT_EQ(sl_artifacts_collect(&m, ws, &spec, store, &err), SL_ELIMIT);
    CHECK_STR_EQ(err.message, "artifacts archive is larger than the limit of 1000000 bytes");
    sl_error_release(&err);
    /* neither the archive nor its temporary file is left behind */
    DIR *d = opendir(store);
    struct dirent *e;
    int entries = 0;
    while ((e = readdir(d)))
        entries += e->d_name[0] != '.' || (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."));
    closedir(d);
    CHECK_INT_EQ(entries, 0);

    spec.max_bytes = 0;
    CHECK_INT_EQ(sl_artifacts_collect(&m, ws, &spec, store, &err), 0);
    char *dest = dir_of("cap-dest");
    CHECK_INT_EQ(sl_artifacts_extract(m->archive, dest, 1000000, NULL, &err), SL_ELIMIT);
    CHECK(strstr(err.message, "more than the limit of 1000000 bytes"));
    sl_error_release(&err);
    struct sl_artifacts_pack_stats ps;
    CHECK_INT_EQ(sl_artifacts_extract(m->archive, dest, 0, &ps, &err), 0);
    CHECK_INT_EQ(ps.bytes, 3000000);
    CHECK_INT_EQ(ps.files, 1);
    CHECK_INT_EQ(sh("cmp -s '%s/random.bin' '%s/random.bin'", ws, dest), 0);
    sl_artifacts_meta_free(m);
    free(dest);
    free(store);
    free(ws);
}

TEST(tar_archive_as_a_zip_for_runners)
{
    char *ws = build_tree("zip");
    char *store = sl_fs_join(sl_test_tmpdir(), "store/zip");
    const char *paths[] = {"dist/", "bin", "link", NULL};
    struct sl_artifacts_spec spec = SL_ARTIFACTS_SPEC_INIT;
    spec.select.paths = paths;
    struct sl_artifacts_meta *m = NULL;
    struct sl_error err = SL_ERROR_INIT;
    CHECK_INT_EQ(sl_artifacts_collect(&m, ws, &spec, store, &err), 0);
    char *zip = sl_fs_join(sl_test_tmpdir(), "artifacts.zip");
    int fd = open(zip, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    CHECK(fd >= 0);
    int rc = sl_artifacts_to_zip(m->archive, fd, 0, &err);
    if (rc < 0)
        sl_test_fail(__FILE__, __LINE__, "%s", sl_error_format(&err));
    close(fd);
    /* a zip that Python's zipfile tests whole and that extracts to the same files */
    CHECK_INT_EQ(sh("python3 -c 'import sys, zipfile; "
                    "sys.exit(zipfile.ZipFile(sys.argv[1]).testzip() is not None)' '%s'",
                    zip),
                 0);
    char *dest = dir_of("zip-dest");
    CHECK_INT_EQ(sl_artifacts_extract(zip, dest, 0, NULL, &err), 0);
    CHECK_INT_EQ(sh("cmp -s '%s/dist/sub/lib.js' '%s/dist/sub/lib.js'", ws, dest), 0);
    CHECK_INT_EQ(sh("test -x '%s/bin/tool' && test -L '%s/link'", dest, dest), 0);
    /* the content cap holds, and what is not an archive is refused */
    fd = open(zip, O_WRONLY | O_TRUNC | O_CLOEXEC);
    CHECK_INT_EQ(sl_artifacts_to_zip(m->archive, fd, 5, &err), SL_ELIMIT);
    sl_error_release(&err);
    CHECK_INT_EQ(sl_artifacts_to_zip("/etc/hostname", fd, 0, &err), SL_EINVAL);
    sl_error_release(&err);
    close(fd);
    sl_artifacts_meta_free(m);
    free(dest);
    free(zip);
    free(store);
    free(ws);
}

/* --- Crafted archives
 * ------------------------------------------------------------------ */

enum kind { REG, DIR_, LNK, HARD, FIFO };

struct craft {
    enum kind kind;
    const char *name;
    const char *target; /* link target, or content */
};

static char *craft_archive(const char *name, const struct craft *items, size_t n)
{
    char *path = sl_fs_join(sl_test_tmpdir(), name);
    struct archive *a = archive_write_new();
    archive_write_add_filter_zstd(a);
    archive_write_set_format_pax_restricted(a);
    archive_write_open_filename(a, path);
    for (size_t i = 0; i < n; i++) {
        struct archive_entry *e = archive_entry_new();
        archive_entry_set_pathname(e, items[i].name);
        archive_entry_set_perm(e, 0644);
        switch (items[i].kind) {
        case REG:
            archive_entry_set_filetype(e, AE_IFREG);
            archive_entry_set_size(e, (la_int64_t)strlen(items[i].target));
            break;
        case DIR_:
            archive_entry_set_filetype(e, AE_IFDIR);
            break;
        case LNK:
            archive_entry_set_filetype(e, AE_IFLNK);
            archive_entry_set_symlink(e, items[i].target);
            break;
        case HARD:
            archive_entry_set_filetype(e, AE_IFREG);
            archive_entry_set_hardlink(e, items[i].target);
            break;
        case FIFO:
            archive_entry_set_filetype(e, AE_IFIFO);
            break;
        }
        archive_write_header(a, e);
        if (items[i].kind == REG)
            archive_write_data(a, items[i].target, strlen(items[i].target));
        archive_entry_free(e);
    }
    archive_write_close(a);
    archive_write_free(a);
    return path;
}

TEST(extract_refuses_zip_slip_archives)
{
    char *root = dir_of("slip");
    char *ws = sl_fs_join(root, "a/b/ws");
    sl_fs_mkdir_p(ws, 0755, NULL);
    static const struct {
        const char *name;
        struct craft items[3];
        size_t n;
    } cases[] = {
        {"dotdot", {{REG, "../../escaped.txt", "x"}}, 1},
        {"dotdot-inner", {{REG, "ok/../../../escaped.txt", "x"}}, 1},
        {"absolute", {{REG, "/tmp/sluice-escaped-abs.txt", "x"}}, 1},
        {"link-abs", {{LNK, "l", "/etc"}, {REG, "l/escaped.txt", "x"}}, 2},
        {"link-up", {{LNK, "l", "../../.."}, {REG, "l/escaped.txt", "x"}}, 2},
        {"link-deep-up", {{LNK, "d/e/l", "../../../x"}}, 1},
        {"hardlink", {{HARD, "h", "/etc/passwd"}}, 1},
        {"fifo", {{FIFO, "f", ""}}, 1},
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(cases); i++) {
        sl_test_case_begin(cases[i].name);
        char *file = sl_xasprintf("%s.tar.zst", cases[i].name);
        char *ar = craft_archive(file, cases[i].items, cases[i].n);
        struct sl_error err = SL_ERROR_INIT;
        CHECK_INT_EQ(sl_artifacts_extract(ar, ws, 0, NULL, &err), SL_EPERM);
        CHECK(err.message != NULL);
        sl_error_release(&err);
        CHECK(!there(root, "escaped.txt"));
        CHECK(!there(root, "a/escaped.txt"));
        CHECK(!sl_fs_exists("/tmp/sluice-escaped-abs.txt"));
        free(ar);
        free(file);
        sl_test_case_end();
    }
    /* a link already in the workspace that points out is replaced, never followed
     */
    char *outside = dir_of("slip-outside");
    char *lnk = sl_fs_join(ws, "pre");
    CHECK_INT_EQ(symlink(outside, lnk), 0);
    struct craft through[] = {{REG, "pre/escaped.txt", "x"}, {REG, "pre2", "y"}};
    char *lnk2 = sl_fs_join(ws, "pre2");
    char *victim = sl_fs_join(outside, "victim");
    sl_test_write(outside, "victim", "untouched");
    CHECK_INT_EQ(symlink(victim, lnk2), 0);
    char *ar = craft_archive("through.tar.zst", through, 2);
    struct sl_error err = SL_ERROR_INIT;
    CHECK_INT_EQ(sl_artifacts_extract(ar, ws, 0, NULL, &err), 0);
    CHECK(!there(outside, "escaped.txt"));
    char *v = sl_test_read(outside, "victim");
    CHECK_STR_EQ(v, "untouched");
    free(v);
    struct stat lst;
    CHECK(lstat(lnk, &lst) == 0 && S_ISDIR(lst.st_mode));
    CHECK(lstat(lnk2, &lst) == 0 && S_ISREG(lst.st_mode));
    free(lnk2);
    free(victim);
    /* and a safe link inside, with a safe ./ name, is fine */
    struct craft fine[] = {{DIR_, "./d/", ""}, {REG, "d/f.txt", "f"}, {LNK, "d/l", "f.txt"}};
    free(ar);
    ar = craft_archive("fine.tar.zst", fine, 3);
    CHECK_INT_EQ(sl_artifacts_extract(ar, ws, 0, NULL, &err), 0);
    char *t = sl_test_read(ws, "d/l");
    CHECK_STR_EQ(t, "f");
    free(t);
    free(ar);
    free(lnk);
    free(outside);
    free(ws);
    free(root);
}

TEST(extract_reports_missing_and_corrupt_archives)
{
    char *ws = dir_of("corrupt");
    struct sl_error err = SL_ERROR_INIT;
    char *missing = sl_fs_join(ws, "none.tar.zst");
    CHECK_INT_EQ(sl_artifacts_extract(missing, ws, 0, NULL, &err), SL_ENOENT);
    sl_error_release(&err);
    char *bad = sl_fs_join(ws, "bad.tar.zst");
    CHECK_INT_EQ(sl_fs_write_atomic(bad, "\x28\xb5\x2f\xfd garbage", 12, 0644, NULL), 0);
    CHECK_INT_EQ(sl_artifacts_extract(bad, ws, 0, NULL, &err), SL_EINVAL);
    sl_error_release(&err);
    free(bad);
    free(missing);
    free(ws);
}

TEST(untracked_takes_untracked_and_ignored_files)
{
    if (sh("git --version >/dev/null 2>&1") != 0)
        SKIP("SKIPPED: the git command is not installed");
    char *ws = dir_of("untracked");
    sl_test_write(ws, "tracked.txt", "t");
    sl_test_write(ws, ".gitignore", "*.log\n");
    CHECK_INT_EQ(sh("cd '%s' && git -c init.defaultBranch=main init -q && git "
                    "add -A && git -c "
                    "user.name=t -c user.email=t@t commit -q -m x",
                    ws),
                 0);
    sl_test_write(ws, "new.txt", "n");
    sl_test_write(ws, "out/build.log", "ignored but taken");
    sl_test_write(ws, "out/keep.bin", "b");
    const char *exclude[] = {"out/*.bin", NULL};
    struct sl_artifacts_select sel = {NULL, exclude, true};
    struct sl_artifacts_list l;
    CHECK_INT_EQ(sl_artifacts_match(&l, ws, &sel, NULL), 0);
    char *got = joined(&l);
    CHECK_STR_EQ(got, "new.txt out/build.log");
    free(got);
    sl_artifacts_list_release(&l);

    char *plain = dir_of("untracked-plain");
    sl_test_write(plain, "a", "a");
    CHECK_INT_EQ(sl_artifacts_match(&l, plain, &sel, NULL), 0);
    CHECK_INT_EQ(l.n, 0);
    CHECK_INT_EQ(l.nwarnings, 1);
    sl_artifacts_list_release(&l);
    free(plain);
    free(ws);
}
