/* harness.h: the in-tree test harness (TAP-like output).
 *
 *   TEST(parses_empty) { CHECK(x == 1); CHECK_STR_EQ(got, "want"); }
 *
 * Each test executable links harness.c, which provides main(): it runs every TEST in
 * file order (or only those named on the command line), prints `ok N - name` or
 * `not ok N - name` with `# file:line: ...` details, `ok N - name # SKIP reason` for
 * skips, and ends with `N passed, N failed, N skipped`. Exit status 1 if any failed.
 * A failed CHECK returns from the test function. */
#ifndef SL_HARNESS_H
#define SL_HARNESS_H

#include "base/compat.h"

typedef void (*sl_test_fn)(void);
void sl_test_register(const char *name, sl_test_fn fn);
void sl_test_fail(const char *file, int line, const char *fmt, ...) SL_PRINTF(3, 4);
void sl_test_skip(const char *fmt, ...) SL_PRINTF(1, 2);
/* The source tree root (for test data); from SL_SOURCE_DIR in the environment or build. */
const char *sl_test_source_dir(void);
/* A fresh empty directory under the build's temp area; removed at exit unless the test
 * failed. Borrowed string. */
const char *sl_test_tmpdir(void);
/* Writes CONTENT to DIR/REL, creating the directories on the way (tests that lay out a
 * project). Aborts the test run on failure: a test cannot go on without its files. */
void sl_test_write(const char *dir, const char *rel, const char *content);
/* The content of DIR/REL (caller frees), or NULL when it cannot be read. */
char *sl_test_read(const char *dir, const char *rel);
/* The entries of DIR, sorted, for the data-driven walkers: every one, however many (no
 * fixed array to fill up). Names starting with '.' are left out; with SUFFIX only names
 * ending in it; with DIRS_ONLY only directories. NULL-terminated (free with
 * sl_test_names_free); *N (may be NULL) gets the count. NULL when DIR cannot be read. */
char **sl_test_list_dir(const char *dir, const char *suffix, bool dirs_only, size_t *n);
void sl_test_names_free(char **names);
/* Runs a named sub-case inside a data-driven test: failures inside are reported with the
 * case name, and counted as separate results. */
void sl_test_case_begin(const char *name);
void sl_test_case_end(void);

#define TEST(name)                                                                                 \
    static void name(void);                                                                        \
    __attribute__((constructor)) static void register_##name(void)                                 \
    {                                                                                              \
        sl_test_register(#name, name);                                                             \
    }                                                                                              \
    static void name(void)

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            sl_test_fail(__FILE__, __LINE__, "CHECK(%s)", #cond);                                  \
            return;                                                                                \
        }                                                                                          \
    } while (0)

#define CHECK_INT_EQ(a, b)                                                                         \
    do {                                                                                           \
        long long a_ = (long long)(a), b_ = (long long)(b);                                        \
        if (a_ != b_) {                                                                            \
            sl_test_fail(__FILE__, __LINE__, "%s == %s: got %lld, want %lld", #a, #b, a_, b_);     \
            return;                                                                                \
        }                                                                                          \
    } while (0)

#define CHECK_STR_EQ(a, b)                                                                         \
    do {                                                                                           \
        const char *a_ = (a), *b_ = (b);                                                           \
        if (!a_ || !b_ || strcmp(a_, b_) != 0) {                                                   \
            sl_test_fail(__FILE__, __LINE__, "%s == %s:\n#   got:  %s\n#   want: %s", #a, #b,      \
                         a_ ? a_ : "(null)", b_ ? b_ : "(null)");                                  \
            return;                                                                                \
        }                                                                                          \
    } while (0)

#define SKIP(...)                                                                                  \
    do {                                                                                           \
        sl_test_skip(__VA_ARGS__);                                                                 \
        return;                                                                                    \
    } while (0)

#endif
