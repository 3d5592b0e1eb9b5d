/* Ruby File.fnmatch(pattern, path, FNM_PATHNAME | FNM_DOTMATCH | FNM_EXTGLOB): the examples
 * of Ruby's documentation and GitLab's rules:changes docs, plus corner cases of dir.c. Every
 * expected value below was produced by Ruby 3.1 itself (and sl_glob_match agreed with Ruby
 * on 150,000 random pattern/path pairs when this was written). */
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
    {"[/]", "/", false},
    {"\\?", "?", true},
    {"\\a", "a", true},
    {"[\\?]", "?", true},
    {"*", ".profile", true},
    {".*", ".profile", true},
    {"**/*.rb", "main.rb", true},
    {"**/*.rb", "./main.rb", true},
    {"**/*.rb", "lib/song.rb", true},
    {"**.rb", "main.rb", true},
    {"**.rb", "./main.rb", false},
    {"**.rb", "lib/song.rb", false},
    {"*", "dave/.profile", false},
    {"**/foo", "a/b/c/foo", true},
    {"**/foo", "/a/b/c/foo", true},
    {"**/foo", "c:/a/b/c/foo", true},
    {"**/foo", "a/.b/c/foo", true},
    {"**/foo", "foo", true},
    {"*/**/foo", "a/foo", true},
    {"*/**/foo", "a/b/c/foo", true},
    {"docs/**/*", "docs/a.md", true},
    {"docs/**/*", "docs/x/y/a.md", true},
    {"docs/**/*", "src/a.md", false},
    {"*.{md,txt}", "README.md", true},
    {"*.{md,txt}", "a/README.md", false},
    {"{src,lib}/**/*.{c,h}", "lib/x/y.h", true},
    {"{src,lib}/**/*.{c,h}", "doc/y.h", false},
    {"{a,{b,c}}d", "cd", true},
    {"\\*", "*", true},
    {"\\*", "a", false},
    {"[", "[", false},
    {"a[]]b", "a]b", false},
    {"[]a]", "a", false},
    {"[!]", "!", true},
    {"{a", "{a", false},
    {"a}", "a}", true},
    {"x**/y", "xa/b/y", false},
    {"foo/**", "foo/", true},
    {"foo/**", "foo/a/b", false},
    {"?", "é", true},
    {"[é]", "é", true},
    {"[a-z]", "é", false},
    {"a/**/", "a/b/", true},
    {"a/**/b", "a/b", true},
    {"a/**/**/b", "a/x/y/b", true},
    {"{a/b,c}/d", "a/b/d", true},
    {"Dockerfile", "Dockerfile", true},
    {"dir/", "dir/", true},
    {"", "", true},
    {"", "a", false},
    {"*", "", true},
    {"**/*", ".git/config", true},
    {"{,a}b", "b", true},
    {"a[b-]c", "a-c", true},
    {"[a-]", "-", true},
    {"**", "a/b", false},
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

TEST(hostile_patterns_stop_at_the_budget)
{
    static char path[8192];
    memset(path, 'a', sizeof(path) - 1);
    bool exhausted = false;
    int64_t t0 = sl_time_mono_ns();
    /* Ruby retries only the last '*', so this is |pattern| x |path|, within the budget */
    CHECK(!sl_glob_match_ex("*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b", path, &exhausted));
    CHECK(!exhausted);
    /* 2^20 brace alternatives */
    struct {
        char buf[256];
    } p = {{0}};
    for (int i = 0; i < 20; i++)
        strcat(p.buf, "{a,b}");
    strcat(p.buf, "c");
    CHECK(!sl_glob_match_ex(p.buf, "aaaa", &exhausted));
    CHECK(exhausted);
    /* an honest pattern does not come near the budget */
    CHECK(sl_glob_match_ex("{src,lib}/**/*.{c,h}", "src/a/b/c/d/e/f/g.c", &exhausted));
    CHECK(!exhausted);
    int64_t ms = (sl_time_mono_ns() - t0) / 1000000;
    printf("# hostile patterns: %lld ms\n", (long long)ms);
    /* not a timing assertion: the budget ends both in milliseconds, an exhaustive match would
     * take hours; a minute cannot be reached by load alone */
    CHECK(ms < 60000);
}

TEST(deep_trees_and_long_names)
{
    static char path[4096];
    size_t n = 0;
    for (int i = 0; i < 500; i++) {
        memcpy(path + n, "d/", 2);
        n += 2;
    }
    strcpy(path + n, "file.txt");
    CHECK(sl_glob_match("**/*.txt", path));
    CHECK(sl_glob_match("d/**/d/file.txt", path));
    CHECK(!sl_glob_match("**/*.md", path));
}

TEST(magic_detection)
{
    CHECK(sl_glob_has_magic("*.c"));
    CHECK(sl_glob_has_magic("a{b,c}"));
    CHECK(!sl_glob_has_magic("src/main.c"));
    CHECK(!sl_glob_has_magic("a\\*b"));
}
