/* Reports: dotenv parsing (GitLab's rules and limits), JUnit counting on sample files in
 * tests/data/junit/, and coverage regular expressions on log lines. */
#include "base/compat.h"
#include "harness/harness.h"
#include "exec/reports.h"
#include "base/alloc.h"
#include "base/fs.h"
#include "base/str.h"

/* --- dotenv --------------------------------------------------------------------------- */

static int parse(struct sl_dotenv *env, const char *text, struct sl_error *err)
{
    return sl_reports_dotenv_parse(env, text, strlen(text), err);
}

TEST(dotenv_basic_trim_quotes_and_equals)
{
    struct sl_dotenv env = SL_DOTENV_INIT;
    struct sl_error err = SL_ERROR_INIT;
    CHECK_INT_EQ(parse(&env,
                       "A=1\n"
                       "  SPACED  =  value with spaces  \n"
                       "QUOTED=\"kept\"\n"
                       "SINGLE='also kept'\n"
                       "URL=https://x.test/?a=b&c=d\n"
                       "EMPTY=\n"
                       "CRLF=windows\r\n"
                       "lower_9=ok",
                       &err),
                 0);
    CHECK_INT_EQ(env.n, 8);
    CHECK_STR_EQ(env.vars[0].key, "A");
    CHECK_STR_EQ(env.vars[0].value, "1");
    CHECK_STR_EQ(sl_dotenv_get(&env, "SPACED"), "value with spaces");
    CHECK_STR_EQ(sl_dotenv_get(&env, "QUOTED"), "\"kept\"");
    CHECK_STR_EQ(sl_dotenv_get(&env, "SINGLE"), "'also kept'");
    CHECK_STR_EQ(sl_dotenv_get(&env, "URL"), "https://x.test/?a=b&c=d");
    CHECK_STR_EQ(sl_dotenv_get(&env, "EMPTY"), "");
    CHECK_STR_EQ(sl_dotenv_get(&env, "CRLF"), "windows");
    CHECK_STR_EQ(sl_dotenv_get(&env, "lower_9"), "ok");
    CHECK(sl_dotenv_get(&env, "MISSING") == NULL);
    sl_dotenv_release(&env);
}

TEST(dotenv_last_duplicate_wins_and_keeps_first_position)
{
    struct sl_dotenv env = SL_DOTENV_INIT;
    CHECK_INT_EQ(parse(&env, "A=1\nB=2\nA=3\n", NULL), 0);
    CHECK_INT_EQ(env.n, 2);
    CHECK_STR_EQ(env.vars[0].key, "A");
    CHECK_STR_EQ(env.vars[0].value, "3");
    CHECK_STR_EQ(env.vars[1].key, "B");
    sl_dotenv_release(&env);
}

TEST(dotenv_empty_file_has_no_variables)
{
    struct sl_dotenv env = SL_DOTENV_INIT;
    CHECK_INT_EQ(parse(&env, "", NULL), 0);
    CHECK_INT_EQ(env.n, 0);
    sl_dotenv_release(&env);
}

TEST(dotenv_errors_name_the_line)
{
    static const struct {
        const char *text;
        int code;
        const char *msg;
    } cases[] = {
        {"A=1\n\nB=2\n", SL_EINVAL, "line 2: invalid format: expected KEY=value"},
        {"# comment\n", SL_EINVAL, "line 1: invalid format: expected KEY=value"},
        {"A=1\nexport B=2\n", SL_EINVAL, "line 2: invalid key \"export B\""},
        {"A-B=1\n", SL_EINVAL, "line 1: invalid key \"A-B\""},
        {"=value\n", SL_EINVAL, "line 1: invalid key \"\""},
        {"A=\"multi\nline\"\n", SL_EINVAL, "line 2: invalid format"},
        {"K=\xff\xfe\n", SL_EINVAL, "not valid UTF-8"},
        {"\xc3\xa9=accent\n", SL_EINVAL, "invalid key"},
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(cases); i++) {
        char name[16];
        snprintf(name, sizeof(name), "case %zu", i);
        sl_test_case_begin(name);
        struct sl_dotenv env = SL_DOTENV_INIT;
        struct sl_error err = SL_ERROR_INIT;
        CHECK_INT_EQ(parse(&env, cases[i].text, &err), cases[i].code);
        CHECK(err.message && strstr(err.message, cases[i].msg));
        CHECK_INT_EQ(env.n, 0);
        sl_error_release(&err);
        sl_test_case_end();
    }
}

TEST(dotenv_limits_twenty_variables_and_5_kib)
{
    struct sl_str s = SL_STR_INIT;
    for (int i = 0; i < 20; i++)
        sl_str_addf(&s, "V%d=%d\n", i, i);
    sl_str_adds(&s, "V0=again\n"); /* a duplicate does not count twice */
    struct sl_dotenv env = SL_DOTENV_INIT;
    struct sl_error err = SL_ERROR_INIT;
    CHECK_INT_EQ(parse(&env, s.buf, &err), 0);
    CHECK_INT_EQ(env.n, 20);
    sl_dotenv_release(&env);
    sl_str_adds(&s, "V20=one too many\n");
    CHECK_INT_EQ(parse(&env, s.buf, &err), SL_ELIMIT);
    CHECK_STR_EQ(err.message, "dotenv report has 21 variables: the limit is 20");
    sl_error_release(&err);

    sl_str_reset(&s);
    sl_str_adds(&s, "BIG=");
    while (s.len < 5119)
        sl_str_addc(&s, 'x');
    CHECK_INT_EQ(parse(&env, s.buf, &err), 0); /* 5119 bytes: just under */
    sl_dotenv_release(&env);
    sl_str_addc(&s, 'x');
    CHECK_INT_EQ(parse(&env, s.buf, &err), SL_ELIMIT);
    CHECK_STR_EQ(err.message, "dotenv report is 5120 bytes: the limit is 5119 bytes");
    sl_error_release(&err);

    /* from a file: refused before being read whole */
    char *path = sl_fs_join(sl_test_tmpdir(), "big.env");
    struct sl_str big = SL_STR_INIT;
    for (int i = 0; i < 100000; i++)
        sl_str_adds(&big, "A=1\n");
    CHECK_INT_EQ(sl_fs_write_atomic(path, big.buf, big.len, 0644, NULL), 0);
    CHECK_INT_EQ(sl_reports_dotenv_load(&env, path, &err), SL_ELIMIT);
    CHECK_STR_EQ(err.file, path);
    sl_error_release(&err);
    sl_str_release(&big);
    free(path);
    sl_str_release(&s);
}

TEST(dotenv_load_reads_a_file_and_reports_missing_ones)
{
    char *path = sl_fs_join(sl_test_tmpdir(), "build.env");
    CHECK_INT_EQ(sl_fs_write_atomic(path, "VERSION=1.2.3\nDEPLOY=yes\n", 25, 0644, NULL), 0);
    struct sl_dotenv env = SL_DOTENV_INIT;
    struct sl_error err = SL_ERROR_INIT;
    CHECK_INT_EQ(sl_reports_dotenv_load(&env, path, &err), 0);
    CHECK_STR_EQ(sl_dotenv_get(&env, "VERSION"), "1.2.3");
    CHECK_STR_EQ(sl_dotenv_get(&env, "DEPLOY"), "yes");
    sl_dotenv_release(&env);
    char *missing = sl_fs_join(sl_test_tmpdir(), "nope.env");
    CHECK_INT_EQ(sl_reports_dotenv_load(&env, missing, &err), SL_ENOENT);
    sl_error_release(&err);
    free(missing);
    free(path);
}

/* --- JUnit ---------------------------------------------------------------------------- */

static char *junit_path(const char *name)
{
    return sl_xasprintf("%s/tests/data/junit/%s", sl_test_source_dir(), name);
}

TEST(junit_counts_testcases_like_gitlab)
{
    static const struct {
        const char *file;
        size_t tests, success, failed, errored, skipped;
        double time;
    } cases[] = {
        {"pytest.xml", 5, 2, 1, 1, 1, 0.113},
        {"rspec.xml", 3, 3, 0, 0, 0, 1.5},
        /* nested suites; attributes ignored; failure wins over error; bad time ignored */
        {"nested.xml", 5, 2, 2, 0, 1, 2.0},
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(cases); i++) {
        sl_test_case_begin(cases[i].file);
        struct sl_junit_counts c = {0};
        struct sl_error err = SL_ERROR_INIT;
        char *p = junit_path(cases[i].file);
        int rc = sl_reports_junit_load(&c, p, &err);
        free(p);
        if (rc < 0)
            sl_test_fail(__FILE__, __LINE__, "%s", sl_error_format(&err));
        CHECK_INT_EQ(rc, 0);
        CHECK_INT_EQ(c.tests, cases[i].tests);
        CHECK_INT_EQ(c.success, cases[i].success);
        CHECK_INT_EQ(c.failed, cases[i].failed);
        CHECK_INT_EQ(c.errored, cases[i].errored);
        CHECK_INT_EQ(c.skipped, cases[i].skipped);
        CHECK(c.time_s > cases[i].time - 1e-9 && c.time_s < cases[i].time + 1e-9);
        CHECK_INT_EQ(c.files, 1);
        sl_test_case_end();
    }
}

TEST(junit_counts_add_up_over_files)
{
    struct sl_junit_counts c = {0};
    const char *files[] = {"pytest.xml", "rspec.xml", "nested.xml"};
    for (size_t i = 0; i < SL_ARRAY_LEN(files); i++) {
        char *p = junit_path(files[i]);
        CHECK_INT_EQ(sl_reports_junit_load(&c, p, NULL), 0);
        free(p);
    }
    CHECK_INT_EQ(c.tests, 13);
    CHECK_INT_EQ(c.failed, 3);
    CHECK_INT_EQ(c.files, 3);
}

TEST(junit_malformed_file_is_an_error_with_its_line)
{
    struct sl_junit_counts c = {0};
    struct sl_error err = SL_ERROR_INIT;
    char *p = junit_path("broken.xml");
    CHECK_INT_EQ(sl_reports_junit_load(&c, p, &err), SL_EINVAL);
    CHECK(strstr(err.message, "invalid JUnit report"));
    CHECK_STR_EQ(err.file, p);
    CHECK(err.line >= 3);
    CHECK_INT_EQ(c.tests, 0); /* unchanged on error */
    CHECK_INT_EQ(c.files, 0);
    sl_error_release(&err);
    free(p);
    CHECK_INT_EQ(sl_reports_junit_parse(&c, "", 0, "empty.xml", &err), SL_EINVAL);
    sl_error_release(&err);
    CHECK_INT_EQ(sl_reports_junit_parse(&c, "not xml at all", 14, "text.xml", &err), SL_EINVAL);
    sl_error_release(&err);
}

TEST(junit_never_loads_external_entities)
{
    struct sl_junit_counts c = {0};
    char *p = junit_path("xxe.xml");
    char *data = NULL;
    size_t len;
    CHECK_INT_EQ(sl_fs_read_file(p, 1 << 20, &data, &len, NULL), 0);
    struct sl_error err = SL_ERROR_INIT;
    /* either refused or counted without the entity's content: never an error reading it */
    int rc = sl_reports_junit_parse(&c, data, len, p, &err);
    CHECK(rc == 0 || rc == SL_EINVAL);
    if (rc == 0)
        CHECK_INT_EQ(c.tests, 1);
    sl_error_release(&err);
    free(data);
    free(p);
}

TEST(junit_deep_nesting_does_not_overflow)
{
    struct sl_str s = SL_STR_INIT;
    for (int i = 0; i < 200; i++)
        sl_str_adds(&s, "<testsuite>");
    sl_str_adds(&s, "<testcase name=\"deep\"/>");
    for (int i = 0; i < 200; i++)
        sl_str_adds(&s, "</testsuite>");
    struct sl_junit_counts c = {0};
    CHECK_INT_EQ(sl_reports_junit_parse(&c, s.buf, s.len, "deep.xml", NULL), 0);
    CHECK_INT_EQ(c.tests, 1);
    sl_str_release(&s);
}

/* --- coverage ------------------------------------------------------------------------- */

static const char *cov_run(struct sl_coverage *cov, const char *const *lines)
{
    for (; *lines; lines++)
        sl_coverage_feed(cov, *lines, strlen(*lines));
    return sl_coverage_value(cov);
}

TEST(coverage_regexes_gitlab_documents)
{
    static const struct {
        const char *regex;
        const char *lines[5];
        const char *want; /* NULL: no coverage */
    } cases[] = {
        /* GitLab's examples (ci/testing/code_coverage) */
        {"/TOTAL.*? (100(?:\\.0+)?\\%|[1-9]?\\d(?:\\.\\d+)?\\%)$/",
         {"Name    Stmts   Miss  Cover", "TOTAL      120     12    90%", NULL},
         "90"},
        {"/All files[^|]*\\|[^|]*\\s+([\\d\\.]+)/",
         {"All files |   87.5 |  80 | 100 | 87.5 |", NULL},
         "87.5"},
        {"/^\\d+.\\d+% covered/", {"57.14% covered (4 of 7)", NULL}, "57.14"},
        {"/Code coverage: \\d+\\.\\d+/", {"Code coverage: 67.52", NULL}, "67.52"},
        /* last matching line wins */
        {"/Coverage: \\d+%/", {"Coverage: 10%", "noise", "Coverage: 75%", "tail", NULL}, "75"},
        /* a later line that matches without a number does not erase the earlier one */
        {"/Coverage: \\S+/", {"Coverage: 40%", "Coverage: none", NULL}, "40"},
        /* the last group of the last match on the line */
        {"/(\\d+)% of (\\d+)/", {"12% of 300 then 45% of 600", NULL}, "600"},
        /* no group: the whole last match, first number in it */
        {"/cov=\\d+ \\d+/", {"cov=11 22 cov=33 44", NULL}, "33"},
        {"/lines\\.*: \\d+\\.\\d+%/i", {"LINES......: 81.2% (100 of 123 lines)", NULL}, "81.2"},
        {"/Coverage: \\d+%/", {"no coverage here", NULL}, NULL},
        /* invalid UTF-8 in the log does not stop matching */
        {"/cov \\d+/", {"\xff\xfe garbage cov 5", NULL}, "5"},
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(cases); i++) {
        sl_test_case_begin(cases[i].regex);
        struct sl_coverage *cov = NULL;
        struct sl_error err = SL_ERROR_INIT;
        int rc = sl_coverage_new(&cov, cases[i].regex, &err);
        if (rc < 0)
            sl_test_fail(__FILE__, __LINE__, "%s", err.message);
        CHECK_INT_EQ(rc, 0);
        const char *got = cov_run(cov, cases[i].lines);
        if (cases[i].want)
            CHECK_STR_EQ(got, cases[i].want);
        else
            CHECK(got == NULL);
        sl_coverage_free(cov);
        sl_test_case_end();
    }
}

TEST(coverage_bad_regexes_are_refused)
{
    const char *bad[] = {"Coverage: \\d+", "/unclosed(/", "/x/q", "/", ""};
    for (size_t i = 0; i < SL_ARRAY_LEN(bad); i++) {
        sl_test_case_begin(bad[i]);
        struct sl_coverage *cov = NULL;
        struct sl_error err = SL_ERROR_INIT;
        CHECK_INT_EQ(sl_coverage_new(&cov, bad[i], &err), SL_EINVAL);
        CHECK(strstr(err.message, "must be a regular expression with re2 syntax"));
        CHECK(cov == NULL);
        sl_error_release(&err);
        sl_test_case_end();
    }
}

TEST(coverage_catastrophic_regex_gives_up_quickly)
{
    struct sl_coverage *cov = NULL;
    CHECK_INT_EQ(sl_coverage_new(&cov, "/^(a+)+$/", NULL), 0);
    char line[4096];
    memset(line, 'a', sizeof(line) - 2);
    line[sizeof(line) - 2] = 'b';
    line[sizeof(line) - 1] = '\0';
    sl_coverage_feed(cov, line, strlen(line));
    CHECK(sl_coverage_value(cov) == NULL);
    /* the limits cut the backtracking short, or the engine proved "no match" quickly:
     * either way the call returned, and the next line is matched normally */
    sl_coverage_feed(cov, "a", 1);
    sl_coverage_free(cov);

    /* a line longer than the cap is matched on its first bytes only */
    CHECK_INT_EQ(sl_coverage_new(&cov, "/total (\\d+)/", NULL), 0);
    size_t n = SL_COVERAGE_LINE_MAX + 100;
    char *big = sl_xmalloc(n + 1);
    memset(big, ' ', n);
    memcpy(big + n - 9, "total 99", 8);
    big[n] = '\0';
    sl_coverage_feed(cov, big, n);
    CHECK(sl_coverage_value(cov) == NULL);
    memcpy(big, "total 42", 8);
    sl_coverage_feed(cov, big, n);
    CHECK_STR_EQ(sl_coverage_value(cov), "42");
    free(big);
    sl_coverage_free(cov);
}
