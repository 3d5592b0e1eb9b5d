#include "base/compat.h"
#include "harness/harness.h"
#include "expr/vars.h"

TEST(nested_references_expand_in_dependency_order)
{
    struct sl_vars v = SL_VARS_INIT;
    sl_vars_set(&v, "C", "${B}-c", false);
    sl_vars_set(&v, "B", "$A/b", false);
    sl_vars_set(&v, "A", "a", false);
    sl_vars_set(&v, "D", "%A%:$UNKNOWN:$$A:%%", false);
    CHECK(sl_vars_expand_all(&v, NULL) == 0);
    CHECK_STR_EQ(sl_vars_get(&v, "C"), "a/b-c");
    CHECK_STR_EQ(sl_vars_get(&v, "D"), "a:$UNKNOWN:$$A:%%");
    sl_vars_release(&v);
}

TEST(raw_variables_are_neither_expanded_nor_inlined)
{
    struct sl_vars v = SL_VARS_INIT;
    sl_vars_set(&v, "A", "a", false);
    sl_vars_set(&v, "R", "$A", true);
    sl_vars_set(&v, "B", "x$R", false);
    CHECK(sl_vars_expand_all(&v, NULL) == 0);
    CHECK_STR_EQ(sl_vars_get(&v, "R"), "$A");
    CHECK_STR_EQ(sl_vars_get(&v, "B"), "x$R");
    sl_vars_release(&v);
}

TEST(cycles_are_reported_as_gitlab_does)
{
    struct sl_vars v = SL_VARS_INIT;
    sl_vars_set(&v, "OK", "fine", false);
    sl_vars_set(&v, "A", "$B", false);
    sl_vars_set(&v, "B", "${A}", false);
    struct sl_error err = SL_ERROR_INIT;
    CHECK(sl_vars_expand_all(&v, &err) == SL_ECYCLE);
    CHECK_STR_EQ(err.message, "circular variable reference detected: [\"A\", \"B\"]");
    CHECK_STR_EQ(sl_vars_get(&v, "A"), "$B");
    sl_error_release(&err);
    sl_vars_release(&v);
}

TEST(set_replaces_in_place)
{
    struct sl_vars v = SL_VARS_INIT;
    sl_vars_set(&v, "A", "1", false);
    sl_vars_set(&v, "B", "2", false);
    sl_vars_set(&v, "A", "3", false);
    CHECK_INT_EQ(v.n, 2);
    CHECK_STR_EQ(v.v[0].value, "3");
    sl_vars_release(&v);
}

TEST(envp_unescapes_dollars_like_the_runner)
{
    struct sl_vars v = SL_VARS_INIT;
    sl_vars_set(&v, "PRICE", "$$5 and %%", false);
    char **env = sl_vars_envp(&v);
    CHECK_STR_EQ(env[0], "PRICE=$5 and %%");
    CHECK(env[1] == NULL);
    sl_vars_envp_free(env);
    char *s = sl_vars_unescape("a$$$$b");
    CHECK_STR_EQ(s, "a$$b");
    free(s);
    sl_vars_release(&v);
}

TEST(expand_can_drop_undefined)
{
    struct sl_vars v = SL_VARS_INIT;
    sl_vars_set(&v, "A", "a", false);
    char *s = sl_vars_expand(&v, "$A-$NOPE-${A}", false);
    CHECK_STR_EQ(s, "a--a");
    free(s);
    sl_vars_release(&v);
}

TEST(cycle_names_only_the_strongly_connected_component)
{
    /* X leads into the cycle but is not on it; TSort names B first when it starts there */
    struct sl_vars v = SL_VARS_INIT;
    sl_vars_set(&v, "X", "$B", false);
    sl_vars_set(&v, "A", "%C%", false);
    sl_vars_set(&v, "B", "${A}", false);
    sl_vars_set(&v, "C", "$B-$X", false);
    struct sl_error err = SL_ERROR_INIT;
    CHECK(sl_vars_expand_all(&v, &err) == SL_ECYCLE);
    CHECK_STR_EQ(err.message, "circular variable reference detected: [\"X\", \"B\", \"A\", \"C\"]");
    sl_error_release(&err);
    sl_vars_release(&v);

    sl_vars_set(&v, "X", "$B", false);
    sl_vars_set(&v, "A", "$B", false);
    sl_vars_set(&v, "B", "$A", false);
    CHECK(sl_vars_expand_all(&v, &err) == SL_ECYCLE);
    CHECK_STR_EQ(err.message, "circular variable reference detected: [\"B\", \"A\"]");
    sl_error_release(&err);
    sl_vars_release(&v);
}

TEST(self_reference_is_kept_not_a_cycle)
{
    struct sl_vars v = SL_VARS_INIT;
    sl_vars_set(&v, "PATH", "/opt/bin:$PATH", false);
    sl_vars_set(&v, "B", "<$PATH>", false);
    CHECK(sl_vars_expand_all(&v, NULL) == 0);
    CHECK_STR_EQ(sl_vars_get(&v, "PATH"), "/opt/bin:$PATH");
    CHECK_STR_EQ(sl_vars_get(&v, "B"), "</opt/bin:$PATH>");
    sl_vars_release(&v);
}

TEST(long_chains_expand_in_order)
{
    struct sl_vars v = SL_VARS_INIT;
    char name[16], value[32];
    for (int i = 0; i < 2000; i++) { /* V0 refers to V1, ..., V1999 is a literal */
        snprintf(name, sizeof(name), "V%d", i);
        if (i < 1999)
            snprintf(value, sizeof(value), "${V%d}", i + 1);
        else
            snprintf(value, sizeof(value), "end");
        sl_vars_set(&v, name, value, false);
    }
    CHECK(sl_vars_expand_all(&v, NULL) == 0);
    CHECK_STR_EQ(sl_vars_get(&v, "V0"), "end");
    sl_vars_release(&v);
}

TEST(runner_expansion_is_go_os_expand)
{
    struct sl_vars v = SL_VARS_INIT;
    sl_vars_set(&v, "A", "a", false);
    sl_vars_set(&v, "R", "$A", true);
    static const char *const cases[][2] = {
        {"$A-${A}", "a-a"}, {"$$A", "$A"},  {"%A%", "%A%"}, {"$NOPE.", "."},          {"${A", "A"},
        {"${}x", "x"},      {"$1x", "x"},   {"${R}", "$A"}, {"cost: 5$", "cost: 5$"}, {"$-x", "x"},
        {"a$", "a$"},       {"${A B}", ""}, {"$ x", "$ x"},
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(cases); i++) {
        sl_test_case_begin(cases[i][0]);
        char *s = sl_vars_runner_expand(&v, cases[i][0]);
        CHECK_STR_EQ(s, cases[i][1]);
        free(s);
        sl_test_case_end();
    }
    sl_vars_release(&v);
}

TEST(envp_defers_raw_references_to_the_runner)
{
    struct sl_vars v = SL_VARS_INIT;
    sl_vars_set(&v, "A", "a", false);
    sl_vars_set(&v, "R", "$A and $$", true); /* expand: false */
    sl_vars_set(&v, "B", "x$R", false);
    CHECK(sl_vars_expand_all(&v, NULL) == 0);
    CHECK_STR_EQ(sl_vars_get(&v, "B"), "x$R");
    char **env = sl_vars_envp_runner(&v);
    CHECK_STR_EQ(env[0], "A=a");
    CHECK_STR_EQ(env[1], "R=$A and $$");  /* raw: untouched */
    CHECK_STR_EQ(env[2], "B=x$A and $$"); /* the raw value, once */
    sl_vars_envp_free(env);
    env = sl_vars_envp(&v); /* the plain export leaves references alone */
    CHECK_STR_EQ(env[1], "R=$A and $$");
    CHECK_STR_EQ(env[2], "B=x$R");
    sl_vars_envp_free(env);
    sl_vars_release(&v);
}
