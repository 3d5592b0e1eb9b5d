#include "base/compat.h"
#include "harness/harness.h"
#include "base/alloc.h"
#include "base/fs.h"

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
    return failed ? 1 : 0;
}
