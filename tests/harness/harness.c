#include "base/compat.h"
#include "harness/harness.h"
#include "base/alloc.h"
#include "base/fs.h"

#include <dirent.h>
#include <unistd.h>

struct test {
    const char *name;
    sl_test_fn fn;
};

static struct test *tests;
static size_t ntests, captests;
static int number, passed, failed, skipped;
static bool cur_failed, cur_skipped, any_failed;
static char *skip_reason;
static const char *case_name;
static char *tmp_root;

void sl_test_register(const char *name, sl_test_fn fn)
{
    SL_GROW(tests, captests, ntests + 1);
    tests[ntests].name = name;
    tests[ntests].fn = fn;
    ntests++;
}

void sl_test_fail(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("# %s:%d: %s", file, line, case_name ? "[" : "");
    if (case_name)
        printf("%s] ", case_name);
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    cur_failed = true;
}

void sl_test_skip(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    free(skip_reason);
    skip_reason = sl_xvasprintf(fmt, ap);
    va_end(ap);
    cur_skipped = true;
    fprintf(stderr, "SKIPPED: %s\n", skip_reason);
}

const char *sl_test_source_dir(void)
{
    const char *d = getenv("SL_SOURCE_DIR");
#ifdef SL_SOURCE_DIR_DEFAULT
    if (!d)
        d = SL_SOURCE_DIR_DEFAULT;
#endif
    return d ? d : ".";
}

const char *sl_test_tmpdir(void)
{
    static int seq;
    static char *last;
    if (!tmp_root) {
        char tmpl[] = "/tmp/sluice-test.XXXXXX";
        if (!mkdtemp(tmpl)) {
            perror("mkdtemp");
            abort();
        }
        tmp_root = sl_xstrdup(tmpl);
    }
    free(last);
    last = sl_xasprintf("%s/%d", tmp_root, ++seq);
    sl_fs_mkdir_p(last, 0755, NULL);
    return last;
}

void sl_test_write(const char *dir, const char *rel, const char *content)
{
    char *p = sl_fs_join(dir, rel);
    char *slash = strrchr(p, '/');
    *slash = '\0';
    sl_fs_mkdir_p(p, 0755, NULL);
    *slash = '/';
    if (sl_fs_write_atomic(p, content, strlen(content), 0644, NULL) < 0) {
        fprintf(stderr, "cannot write %s\n", p);
        abort();
    }
    free(p);
}

char *sl_test_read(const char *dir, const char *rel)
{
    char *p = sl_fs_join(dir, rel), *buf = NULL;
    size_t n;
    if (sl_fs_read_file(p, 1 << 24, &buf, &n, NULL) < 0)
        buf = NULL;
    free(p);
    return buf;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

char **sl_test_list_dir(const char *dir, const char *suffix, bool dirs_only, size_t *n)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char **v = NULL;
    size_t cnt = 0, cap = 0;

    if (!d)
        return NULL;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' || (suffix && !sl_ends_with(e->d_name, suffix)))
            continue;
        if (dirs_only) {
            char *p = sl_fs_join(dir, e->d_name);
            bool is_dir = sl_fs_is_dir(p);
            free(p);
            if (!is_dir)
                continue;
        }
        SL_GROW(v, cap, cnt + 2);
        v[cnt++] = sl_xstrdup(e->d_name);
    }
    closedir(d);
    SL_GROW(v, cap, cnt + 1);
    v[cnt] = NULL;
    qsort(v, cnt, sizeof(*v), cmp_names);
    if (n)
        *n = cnt;
    return v;
}

void sl_test_names_free(char **names)
{
    for (char **p = names; p && *p; p++)
        free(*p);
    free(names);
}

static void report(const char *name)
{
    number++;
    if (cur_failed) {
        failed++;
        any_failed = true;
        printf("not ok %d - %s\n", number, name);
    } else if (cur_skipped) {
        skipped++;
        printf("ok %d - %s # SKIP %s\n", number, name, skip_reason ? skip_reason : "");
    } else {
        passed++;
        printf("ok %d - %s\n", number, name);
    }
    fflush(stdout);
    cur_failed = cur_skipped = false;
}

void sl_test_case_begin(const char *name)
{
    case_name = name;
    cur_failed = cur_skipped = false;
}

void sl_test_case_end(void)
{
    report(case_name);
    case_name = NULL;
}

static bool selected(const char *name, int argc, char **argv)
{
    if (argc < 2)
        return true;
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], name))
            return true;
    return false;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    for (size_t i = 0; i < ntests; i++) {
        if (!selected(tests[i].name, argc, argv))
            continue;
        int before = number;
        tests[i].fn();
        if (number == before || cur_failed || cur_skipped)
            report(tests[i].name);
    }
    printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
    if (tmp_root && !any_failed)
        sl_fs_remove_tree(tmp_root, NULL);
    else if (tmp_root)
        printf("# temporary files kept in %s\n", tmp_root);
    free(tests);
    free(skip_reason);
    free(tmp_root);
    /* ctest reads 77 as skipped (SKIP_RETURN_CODE): a run that skipped anything is not
     * reported as passed; under CI=true nothing may skip, so it fails */
    const char *ci = getenv("CI");
    if (skipped && !failed && ci && !strcmp(ci, "true")) {
        printf("# CI=true: %d skipped, and nothing may skip there\n", skipped);
        return 1;
    }
    return failed ? 1 : skipped ? 77 : 0;
}
