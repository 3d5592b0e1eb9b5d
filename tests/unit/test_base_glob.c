/* Ruby File.fnmatch(pattern, path, FNM_PATHNAME | FNM_DOTMATCH | FNM_EXTGLOB), with the
 * examples of Ruby's documentation and GitLab's rules:changes docs. */
#include "base/compat.h"
#include "harness/harness.h"
#include "base/glob.h"
#include "base/time.h"

struct row {
    const char *pattern, *path;
    bool want;
};

static const struct row rows[] = {
    {"cat", "cat", true},
    {"cat", "category", false},
    {"c{at,ub}s", "cats", true},
    {"c{at,ub}s", "cubs", true},
    {"c{at,ub}s", "cups", false},
    {"c?t", "cat", true},
    {"c??t", "cat", false},
    {"c*", "cats", true},
    {"c*t", "c/a/b/t", false},
    {"ca[a-z]", "cat", true},
    {"ca[^t]", "cat", false},
    {"ca[!t]", "cab", true},
    {"cat", "CAT", false},
    {"?", "/", false},
    {"*", "/", false},
    {"*", ".profile", true}, /* DOTMATCH */
    {".*", ".profile", true},
    {"**/*.rb", "main.rb", true},
    {"**/*.rb", "./main.rb", true}, /* DOTMATCH: "." is a directory like any other */
    {"**/foo", "/a/b/c/foo", true},
    {"**/*.rb", "lib/song.rb", true},
    {"**/*.rb", "lib/deep/er/song.rb", true},
    {"**.rb", "main.rb", true},
    {"**.rb", "lib/song.rb", false},
    {"*/**/foo", "a/foo", true},
    {"*/**/foo", "a/b/c/foo", true},
    {"**/foo", "a/.b/c/foo", true},
    {"**/foo", "foo", true},
    {"docs/**/*", "docs/a.md", true},
    {"docs/**/*", "docs/x/y/a.md", true},
    {"docs/**/*", "src/a.md", false},
    {"*.{md,txt}", "README.md", true},
    {"*.{md,txt}", "notes.txt", true},
    {"*.{md,txt}", "a/README.md", false},
    {"{src,lib}/**/*.{c,h}", "lib/x/y.h", true},
    {"{src,lib}/**/*.{c,h}", "doc/y.h", false},
    {"{a,{b,c}}d", "cd", true},
    {"\\*", "*", true},
    {"\\*", "a", false},
    {"[", "[", true},
    {"a[]]b", "a]b", true},
    {"Dockerfile", "Dockerfile", true},
    {"dir/", "dir/", true},
    {"", "", true},
    {"", "a", false},
};

TEST(fnmatch_table)
{
    for (size_t i = 0; i < SL_ARRAY_LEN(rows); i++) {
        char name[200];
        snprintf(name, sizeof(name), "'%s' vs '%s' is %s", rows[i].pattern, rows[i].path,
                 rows[i].want ? "a match" : "no match");
        sl_test_case_begin(name);
        if (sl_glob_match(rows[i].pattern, rows[i].path) != rows[i].want)
            sl_test_fail(__FILE__, __LINE__, "got %s", rows[i].want ? "no match" : "a match");
        sl_test_case_end();
    }
}

TEST(hostile_patterns_stay_fast)
{
    char path[4096];
    memset(path, 'a', sizeof(path) - 1);
    path[sizeof(path) - 1] = '\0';
    int64_t t0 = sl_time_mono_ns();
    CHECK(!sl_glob_match("*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b", path));
    CHECK(!sl_glob_match("{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}c", "aaaa"));
    int64_t ms = (sl_time_mono_ns() - t0) / 1000000;
    /* not a timing assertion: a backtracking matcher takes hours, DP takes microseconds */
    CHECK(ms < 5000);
}

TEST(magic_detection)
{
    CHECK(sl_glob_has_magic("*.c"));
    CHECK(sl_glob_has_magic("a{b,c}"));
    CHECK(!sl_glob_has_magic("src/main.c"));
    CHECK(!sl_glob_has_magic("a\\*b"));
}
