/* Every validation error with its exact position: tests/cases/config/errors/<case>/ holds a
 * .gitlab-ci.yml and expected.err, the error lines `sluice lint` must print (warnings
 * aside), in order. */
#include "base/compat.h"
#include "harness/harness.h"
#include "base/alloc.h"
#include "base/fs.h"
#include "base/str.h"
#include "config/config.h"

#include <dirent.h>
#include <unistd.h>

/* The expression room is not linked here (layering); a stand-in checker that rejects
 * what the cases use as broken expressions keeps the test about the config room. */
static bool fake_expr_ok(const char *src)
{
    size_t n = strlen(src);
    return !strstr(src, " = ") && !(n >= 2 && !strcmp(src + n - 2, "&&"));
}

static void run_case(const char *dir)
{
    char *old = get_current_dir_name();
    struct sl_diag diag = SL_DIAG_INIT;
    struct sl_config *cfg = NULL;
    struct sl_config_opts opts = {0};
    struct sl_str got = SL_STR_INIT;
    char *want = NULL;
    size_t len = 0;

    if (chdir(dir) < 0 || sl_fs_read_file("expected.err", 1 << 20, &want, &len, NULL) < 0) {
        sl_test_fail(__FILE__, __LINE__, "cannot read %s/expected.err", dir);
        goto out;
    }
    opts.project_dir = ".";
    sl_config_load_file(&cfg, ".gitlab-ci.yml", &opts, &diag);
    sl_diag_sort(&diag);
    for (size_t i = 0; i < diag.n; i++) {
        const struct sl_diag_item *it = &diag.items[i];
        if (it->level == SL_DIAG_ERROR)
            sl_str_addf(&got, "%s:%d:%d: %s\n", it->file, it->line, it->column, it->message);
    }
    if (strcmp(got.buf, want))
        sl_test_fail(__FILE__, __LINE__, "errors differ\n#   got:\n%s#   want:\n%s", got.buf, want);
out:
    if (old && chdir(old) < 0)
        sl_test_fail(__FILE__, __LINE__, "cannot return to %s", old);
    free(old);
    free(want);
    sl_str_release(&got);
    sl_config_free(cfg);
    sl_diag_release(&diag);
}

TEST(error_cases)
{
    char *root = sl_fs_join(sl_test_source_dir(), "tests/cases/config/errors");
    size_t n = 0;
    char **names = sl_test_list_dir(root, NULL, false, &n);
    CHECK(names);
    sl_config_set_expr_checker(fake_expr_ok);
    for (size_t i = 0; i < n; i++) {
        char *dir = sl_fs_join(root, names[i]);
        sl_test_case_begin(names[i]);
        run_case(dir);
        sl_test_case_end();
        free(dir);
    }
    sl_test_names_free(names);
    CHECK(n >= 20);
    free(root);
}
