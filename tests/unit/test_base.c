#include "base/compat.h"
#include "harness/harness.h"
#include "base/alloc.h"
#include "base/cron.h"
#include "base/diag.h"
#include "base/error.h"
#include "base/fs.h"
#include "base/include_http.h"
#include "base/jsonw.h"
#include "base/map.h"
#include "base/str.h"
#include "base/time.h"
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

TEST(str_grows_and_formats)
{
    struct sl_str s = SL_STR_INIT;
    CHECK_STR_EQ(s.buf, "");
    for (int i = 0; i < 1000; i++)
        sl_str_addf(&s, "%d,", i);
    CHECK(s.len > 1000);
    CHECK(!strncmp(s.buf, "0,1,2,", 6));
    sl_str_truncate(&s, 3);
    CHECK_STR_EQ(s.buf, "0,1");
    char *d = sl_str_detach(&s);
    CHECK_STR_EQ(d, "0,1");
    CHECK_STR_EQ(s.buf, "");
    free(d);
}

/* A size that would wrap len + extra + 1 is an abort, never a short allocation. */
TEST(str_growth_never_wraps)
{
    pid_t pid = fork();
    if (pid == 0) {
        struct sl_str s = SL_STR_INIT;
        sl_str_addc(&s, 'x');
        sl_str_grow(&s, SIZE_MAX - 1); /* 1 + (SIZE_MAX - 1) + 1 wraps to 1 */
        _exit(0);                      /* not reached */
    }
    int st = 0;
    waitpid(pid, &st, 0);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT);
}

TEST(parse_ll_saturates)
{
    CHECK(sl_parse_ll("99999999999999999999999") == LLONG_MAX);
    CHECK(sl_parse_ll("-99999999999999999999999") == LLONG_MIN);
    CHECK(sl_parse_ll(" 42x") == 42);
    CHECK(sl_parse_ll("x") == 0);
    CHECK(sl_parse_clamp("99999999999", 0, INT_MAX) == INT_MAX);
    CHECK(sl_parse_clamp("-5", 0, 10) == 0);
}

TEST(str_json_escape)
{
    struct sl_str s = SL_STR_INIT;
    sl_str_add_json_escaped(&s, "a\"b\\c\n\x01");
    CHECK_STR_EQ(s.buf, "a\\\"b\\\\c\\n\\u0001");
    sl_str_release(&s);
}

TEST(map_put_get_delete)
{
    struct sl_map m = SL_MAP_INIT;
    char keys[500][8];
    for (int i = 0; i < 500; i++) {
        snprintf(keys[i], sizeof(keys[i]), "k%d", i);
        sl_map_put(&m, keys[i], keys[i]);
    }
    CHECK_INT_EQ(m.n, 500);
    for (int i = 0; i < 500; i += 2)
        CHECK(sl_map_del(&m, keys[i]) == keys[i]);
    for (int i = 0; i < 500; i++)
        CHECK((sl_map_get(&m, keys[i]) != NULL) == (i % 2 == 1));
    size_t it = 0, count = 0;
    const char *k;
    void *v;
    while (sl_map_next(&m, &it, &k, &v))
        count++;
    CHECK_INT_EQ(count, 250);
    sl_map_release(&m);
}

TEST(durations_parse_like_gitlab)
{
    int64_t s;
    CHECK(sl_time_parse_duration("3h 30m", &s) == 0);
    CHECK_INT_EQ(s, 12600);
    CHECK(sl_time_parse_duration("1 week", &s) == 0);
    CHECK_INT_EQ(s, 604800);
    CHECK(sl_time_parse_duration("90", &s) == 0);
    CHECK_INT_EQ(s, 90);
    CHECK(sl_time_parse_duration("2 days and 1 hour", &s) == 0);
    CHECK_INT_EQ(s, 176400);
    CHECK(sl_time_parse_duration("soon", &s) < 0);
    CHECK(sl_time_parse_duration("", &s) < 0);
}

TEST(cron_expressions_and_zones)
{
    struct sl_cron c;
    struct sl_tz *utc = NULL, *berlin = NULL;
    struct sl_error err = SL_ERROR_INIT;
    CHECK(sl_tz_load(&utc, "UTC", &err) == 0);
    if (sl_tz_load(&berlin, "Europe/Berlin", &err) < 0) {
        sl_error_release(&err);
        sl_tz_free(utc);
        SKIP("no zoneinfo for Europe/Berlin (Debian's tzdata)");
    }
    int64_t now = INT64_C(1796230800); /* Wednesday 2026-12-02 17:00 UTC */
    CHECK(sl_cron_parse(&c, "0 23 * * 5", &err) == 0);
    CHECK_INT_EQ(sl_cron_prev(&c, berlin, now), INT64_C(1795816800)); /* Fri 23:00 CET */
    CHECK(sl_cron_parse(&c, "0 7 * * mon", &err) == 0);
    CHECK_INT_EQ(sl_cron_next(&c, berlin, now), INT64_C(1796623200)); /* Mon 07:00 CET */
    CHECK(sl_cron_parse(&c, "30 2 * * *", &err) == 0);                /* summer time: 02:30 CEST */
    CHECK_INT_EQ(sl_cron_prev(&c, berlin, INT64_C(1782907200)), INT64_C(1782865800));
    CHECK(sl_cron_parse(&c, "0 0 29 2 *", &err) == 0);
    CHECK_INT_EQ(sl_cron_next(&c, utc, now), INT64_C(1835395200)); /* 2028-02-29 */
    CHECK(sl_cron_parse(&c, "*/15 9-17 1,15 * mon", &err) == 0);   /* either day field */
    CHECK_INT_EQ(sl_cron_next(&c, utc, now), INT64_C(1796634000));
    CHECK(sl_cron_parse(&c, "0 17 * * 3", &err) == 0); /* the minute itself counts */
    CHECK_INT_EQ(sl_cron_prev(&c, utc, now), now);
    CHECK_INT_EQ(sl_cron_next(&c, utc, now), now);
    CHECK(sl_cron_parse(&c, "5/20 * * * 7", &err) == 0);           /* 5, 25, 45 on Sundays */
    CHECK_INT_EQ(sl_cron_next(&c, utc, now), INT64_C(1796515500)); /* Sun 00:05 */
    static const char *const bad[] = {
        "",           "* * * *",     "* * * * * *", "60 * * * *",  "* 24 * * *",
        "* * 0 * *",  "* * * 13 *",  "* * * * 8",   "*/0 * * * *", "1-x * * * *",
        "1, * * * *", "5-1 * * * *", "foo * * * *"};
    for (size_t i = 0; i < SL_ARRAY_LEN(bad); i++) {
        CHECK(sl_cron_parse(&c, bad[i], &err) == SL_EINVAL);
        sl_error_release(&err);
    }
    struct sl_tz *none = NULL;
    CHECK(sl_tz_load(&none, "Mars/Olympus", &err) == SL_ENOENT);
    sl_error_release(&err);
    CHECK(sl_tz_load(&none, "../../etc/passwd", &err) == SL_EINVAL);
    sl_error_release(&err);
    sl_tz_free(utc);
    sl_tz_free(berlin);
}

TEST(iso8601_times_parse)
{
    int64_t ms = 0;
    CHECK(sl_time_parse_iso8601("2026-12-31", &ms) == 0);
    CHECK_INT_EQ(ms, INT64_C(1798675200000));
    CHECK(sl_time_parse_iso8601("2026-12-31T08:00:01Z", &ms) == 0);
    CHECK_INT_EQ(ms, INT64_C(1798675200000) + 8 * 3600000 + 1000);
    CHECK(sl_time_parse_iso8601("2026-12-31T08:00:01.250+00:00", &ms) == 0);
    CHECK_INT_EQ(ms, INT64_C(1798675200000) + 8 * 3600000 + 1250);
    char back[32];
    sl_time_iso8601(INT64_C(1798675200000), back, sizeof(back));
    CHECK_STR_EQ(back, "2026-12-31T00:00:00Z");
    static const char *const refused[] = {"",
                                          "2026-13-01",
                                          "2026-02-30",
                                          "2026-1-01",
                                          "2026-12-31T08:00:01+02:00",
                                          "2026-12-31T8:00:01Z",
                                          "2026-12-31 08:00:01Z",
                                          "tomorrow",
                                          "2026-12-31x"};
    for (size_t i = 0; i < SL_ARRAY_LEN(refused); i++)
        CHECK(sl_time_parse_iso8601(refused[i], &ms) == SL_EINVAL);
}

/* GitLab Runner words a timeout with Go's Duration.String */
TEST(durations_format_as_go)
{
    char b[64];
    static const struct {
        int64_t ms;
        const char *want;
    } cases[] = {{3600000, "1h0m0s"}, {330000, "5m30s"}, {1500, "1.5s"},        {200, "200ms"},
                 {0, "0s"},           {1000, "1s"},      {3661250, "1h1m1.25s"}};
    for (size_t i = 0; i < SL_ARRAY_LEN(cases); i++) {
        sl_time_format_go(cases[i].ms, b, sizeof(b));
        CHECK_STR_EQ(b, cases[i].want);
    }
}

/* tests/cases/durations/durations.tsv: one accepted or refused form a line */
TEST(durations_table)
{
    char *text = sl_test_read(sl_test_source_dir(), "tests/cases/durations/durations.tsv");
    CHECK(text != NULL);
    size_t cases = 0;
    for (char *line = text, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = 0;
        char *tab = strchr(line, '\t');
        if (line[0] == '#' || !tab)
            continue;
        *tab = 0;
        int64_t s = -1;
        int rc = sl_time_parse_duration(line, &s);
        if (!strcmp(tab + 1, "invalid")) {
            if (rc == 0)
                fprintf(stderr, "duration '%s' parsed as %lld, want invalid\n", line, (long long)s);
            CHECK(rc < 0);
        } else {
            if (rc != 0 || s != strtoll(tab + 1, NULL, 10))
                fprintf(stderr, "duration '%s': rc %d, %lld, want %s\n", line, rc, (long long)s,
                        tab + 1);
            CHECK(rc == 0 && s == strtoll(tab + 1, NULL, 10));
        }
        cases++;
    }
    CHECK(cases > 50);
    free(text);
}

TEST(read_file_respects_limit)
{
    const char *dir = sl_test_tmpdir();
    char *p = sl_fs_join(dir, "f.txt");
    CHECK(sl_fs_write_atomic(p, "hello world", 11, 0644, NULL) == 0);
    char *buf = NULL;
    size_t len = 0;
    struct sl_error err = SL_ERROR_INIT;
    CHECK(sl_fs_read_file(p, 100, &buf, &len, &err) == 0);
    CHECK_STR_EQ(buf, "hello world");
    free(buf);
    CHECK(sl_fs_read_file(p, 5, &buf, &len, &err) == SL_ELIMIT);
    CHECK(strstr(err.message, "limit") != NULL);
    sl_error_release(&err);
    char *missing = sl_fs_join(dir, "nope");
    CHECK(sl_fs_read_file(missing, 100, &buf, &len, &err) == SL_ENOENT);
    sl_error_release(&err);
    free(missing);
    free(p);
}

/* sl_fs_resolve_below answers as sl_fs_resolve_within on the joined path: the fast walk
 * of REL's components and the slow realpath give the same path, the same refusals */
TEST(resolve_below_agrees_with_resolve_within)
{
    char *root = realpath(sl_test_tmpdir(), NULL);
    CHECK(root != NULL);
    char *d = sl_fs_join(root, "rb"), *sub = sl_fs_join(d, "sub"), *f = sl_fs_join(sub, "f.yml");
    CHECK(sl_fs_mkdir_p(sub, 0755, NULL) == 0);
    CHECK(sl_fs_write_atomic(f, "x", 1, 0644, NULL) == 0);
    char *in = sl_fs_join(d, "in"), *out = sl_fs_join(d, "out"), *dotdot = sl_fs_join(d, "up");
    CHECK(symlink("sub/f.yml", in) == 0);
    CHECK(symlink("/etc/hostname", out) == 0);
    CHECK(symlink("..", dotdot) == 0);
    static const char *const rels[] = {"sub/f.yml",
                                       "./sub//f.yml",
                                       "sub/./f.yml",
                                       "in",
                                       "out",
                                       "up/rb/in",
                                       "sub/../sub/f.yml",
                                       "../rb/in",
                                       "sub/f.yml/x",
                                       "nope",
                                       "sub/nope",
                                       ".",
                                       ""};
    for (size_t i = 0; i < sizeof(rels) / sizeof(rels[0]); i++) {
        char *full = sl_fs_join(d, rels[i]), *a = NULL, *b = NULL;
        int ra = sl_fs_resolve_below(d, rels[i], &a, NULL);
        int rb = sl_fs_resolve_within(d, full, &b, NULL);
        CHECK(ra == rb);
        if (ra == 0 && rb == 0)
            CHECK_STR_EQ(a, b);
        free(a);
        free(b);
        free(full);
    }
    char *got = NULL;
    CHECK(sl_fs_resolve_below(d, "sub/f.yml", &got, NULL) == 0);
    CHECK_STR_EQ(got, f);
    free(got);
    CHECK(sl_fs_resolve_below(d, "in", NULL, NULL) == 0);
    CHECK(sl_fs_resolve_below(d, "out", NULL, NULL) == SL_EPERM);
    CHECK(sl_fs_resolve_below(d, "up", NULL, NULL) == SL_EPERM);
    CHECK(sl_fs_resolve_below(d, "nope", NULL, NULL) == SL_ENOENT);
    free(in);
    free(out);
    free(dotdot);
    free(f);
    free(sub);
    free(d);
    free(root);
}

TEST(diag_sorts_and_dedups)
{
    struct sl_diag d = SL_DIAG_INIT;
    sl_diag_add(&d, SL_DIAG_ERROR, "a.yml", 5, 1, "late");
    sl_diag_add(&d, SL_DIAG_WARNING, "a.yml", 2, 3, "early");
    sl_diag_add(&d, SL_DIAG_ERROR, "a.yml", 5, 1, "late");
    CHECK_INT_EQ(d.n, 2);
    sl_diag_sort(&d);
    CHECK_STR_EQ(d.items[0].message, "early");
    CHECK_INT_EQ(d.errors, 1);
    CHECK_INT_EQ(d.warnings, 1);
    sl_diag_release(&d);
}

/* The writer's text is what json_dumps writes for the same value (`sluice plan --json`
 * moved from a jansson tree to it without a byte of its output changing). */
TEST(jsonw_writes_as_jansson_dumps)
{
    struct sl_str s = SL_STR_INIT;
    struct sl_jsonw w;
    const char *odd = "q\"b\\s/\b\f\n\r\t\x01\x1f\x7f é € 𝄞";
    const char *const v[] = {"a", "", NULL};
    sl_jsonw_init(&w, &s);
    sl_jsonw_obj(&w);
    sl_jsonw_key(&w, "s");
    sl_jsonw_str(&w, odd);
    sl_jsonw_key(&w, odd);
    sl_jsonw_int(&w, -9223372036854775807LL - 1);
    sl_jsonw_key(&w, "v");
    sl_jsonw_strv(&w, v);
    sl_jsonw_key(&w, "none");
    sl_jsonw_strv(&w, NULL);
    sl_jsonw_key(&w, "e");
    sl_jsonw_arr(&w);
    sl_jsonw_obj(&w);
    sl_jsonw_end_obj(&w);
    sl_jsonw_arr(&w);
    sl_jsonw_end_arr(&w);
    sl_jsonw_bool(&w, true);
    sl_jsonw_bool(&w, false);
    sl_jsonw_str(&w, NULL);
    sl_jsonw_end_arr(&w);
    sl_jsonw_end_obj(&w);

    json_t *o =
        json_pack("{s:s,s:I,s:[s,s],s:n,s:[{},[],b,b,n]}", "s", odd, odd,
                  (json_int_t)(-9223372036854775807LL - 1), "v", "a", "", "none", "e", 1, 0);
    CHECK(o != NULL);
    char *want = json_dumps(o, 0);
    CHECK_STR_EQ(s.buf, want);
    free(want);
    json_decref(o);
    sl_str_release(&s);
}

/* Bytes that are not UTF-8 become U+FFFD (jansson would refuse the whole string); valid
 * sequences next to them are kept, and the text parses. */
TEST(jsonw_replaces_bytes_that_are_not_utf8)
{
    static const struct {
        const char *in, *want;
    } cases[] = {
        {"caf\xe9", "\"caf\xef\xbf\xbd\""},                           /* Latin-1 é */
        {"\xc0\xaf", "\"\xef\xbf\xbd\xef\xbf\xbd\""},                 /* overlong '/' */
        {"\xed\xa0\x80", "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\""}, /* a surrogate */
        {"\xf4\x90\x80\x80x", "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbdx\""},
        {"\xe2\x82", "\"\xef\xbf\xbd\xef\xbf\xbd\""}, /* cut short by the end */
        {"\xc3\xa9\xff", "\"\xc3\xa9\xef\xbf\xbd\""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct sl_str s = SL_STR_INIT;
        struct sl_jsonw w;
        sl_jsonw_init(&w, &s);
        sl_jsonw_str(&w, cases[i].in);
        CHECK_STR_EQ(s.buf, cases[i].want);
        json_t *back = json_loads(s.buf, JSON_DECODE_ANY, NULL);
        CHECK(back != NULL);
        json_decref(back);
        sl_str_release(&s);
    }
}

/* Writing after text already in the buffer: no comma before the first value. */
TEST(jsonw_appends_after_existing_text)
{
    struct sl_str s = SL_STR_INIT;
    struct sl_jsonw w;
    sl_str_adds(&s, "data: ");
    sl_jsonw_init(&w, &s);
    sl_jsonw_arr(&w);
    sl_jsonw_int(&w, 1);
    sl_jsonw_int(&w, 2);
    sl_jsonw_end_arr(&w);
    CHECK_STR_EQ(s.buf, "data: [1, 2]");
    sl_str_release(&s);
}

/* The compact layout is JSON_COMPACT's, reals are JSON_REAL_PRECISION's, byte for byte (the
 * server's answers are dumped so, http.c), and raw JSON goes in as a value. */
TEST(jsonw_compact_reals_and_raw_as_jansson_dumps)
{
    static const double reals[] = {0.0,      1.0,  -2.5,       0.1,       1234567.0,
                                   1e20,     1e-5, 3e300,      -7.5e-300, 12.3456789,
                                   100000.0, 1e6,  0.000123456};
    for (int prec = 6; prec <= 17; prec += 11)
        for (size_t i = 0; i < SL_ARRAY_LEN(reals); i++) {
            struct sl_str s = SL_STR_INIT;
            struct sl_jsonw w;
            sl_jsonw_init_compact(&w, &s);
            sl_jsonw_arr(&w);
            sl_jsonw_real(&w, reals[i], prec);
            sl_jsonw_end_arr(&w);
            json_t *a = json_pack("[f]", reals[i]);
            char *want = json_dumps(a, JSON_COMPACT | JSON_REAL_PRECISION(prec));
            CHECK_STR_EQ(s.buf, want);
            free(want);
            json_decref(a);
            sl_str_release(&s);
        }

    struct sl_str s = SL_STR_INIT;
    struct sl_jsonw w;
    const char *const v[] = {"a", "b", NULL};
    sl_jsonw_init_compact(&w, &s);
    sl_jsonw_obj(&w);
    sl_jsonw_key(&w, "k");
    sl_jsonw_str(&w, "x: y, z");
    sl_jsonw_key(&w, "v");
    sl_jsonw_strv(&w, v);
    sl_jsonw_key(&w, "raw");
    sl_jsonw_raw(&w, "{\"a\":[1,2]}", 11);
    sl_jsonw_key(&w, "o");
    sl_jsonw_obj(&w);
    sl_jsonw_key(&w, "n");
    sl_jsonw_int(&w, 7);
    sl_jsonw_key(&w, "none");
    sl_jsonw_real(&w, NAN, 6);
    sl_jsonw_end_obj(&w);
    sl_jsonw_key(&w, "t");
    sl_jsonw_bool(&w, true);
    sl_jsonw_end_obj(&w);
    json_t *o = json_pack("{s:s,s:[s,s],s:{s:[i,i]},s:{s:i,s:n},s:b}", "k", "x: y, z", "v", "a",
                          "b", "raw", "a", 1, 2, "o", "n", 7, "none", "t", 1);
    char *want = json_dumps(o, JSON_COMPACT);
    CHECK_STR_EQ(s.buf, want);
    free(want);
    json_decref(o);
    sl_str_release(&s);
}

/* The server's --allow-remote-includes check reads the host as libcurl will connect to it:
 * user info, ports, case and look-alike suffixes do not fool it. */
TEST(include_http_host_allow_list)
{
    const char *const hosts[] = {"gitlab.com", "*.example.org", "127.0.0.1", "::1", NULL};
    CHECK(sl_include_http_host_allowed("https://gitlab.com/a.yml", hosts));
    CHECK(sl_include_http_host_allowed("https://GitLab.COM:8443/a.yml", hosts));
    CHECK(sl_include_http_host_allowed("http://ci.example.org/x", hosts));
    CHECK(sl_include_http_host_allowed("http://a.b.example.org/x", hosts));
    CHECK(sl_include_http_host_allowed("http://127.0.0.1:8080/x", hosts));
    CHECK(sl_include_http_host_allowed("http://[::1]:8080/x", hosts));
    CHECK(!sl_include_http_host_allowed("http://example.org/x", hosts)); /* only subdomains */
    CHECK(!sl_include_http_host_allowed("http://evilexample.org/x", hosts));
    CHECK(!sl_include_http_host_allowed("https://gitlab.com.evil.net/a.yml", hosts));
    CHECK(!sl_include_http_host_allowed("https://gitlab.com@evil.net/a.yml", hosts));
    CHECK(!sl_include_http_host_allowed("https://evil.net/gitlab.com", hosts));
    CHECK(!sl_include_http_host_allowed("not a url", hosts));
    CHECK(!sl_include_http_host_allowed("https://gitlab.com/a.yml", NULL));
}
