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
