/* Environment scopes and protected-ref patterns matched as GitLab matches them. */
#include "base/compat.h"
#include "harness/harness.h"
#include "plan/scope.h"

TEST(wildcards_match_as_gitlab)
{
    static const struct {
        const char *pattern, *name;
        bool match;
    } cases[] = {
        {"main", "main", true},
        {"main", "mainline", false},
        {"release/*", "release/1.0", true},
        {"release/*", "release/a/b", true}, /* '*' crosses '/' */
        {"release/*", "release", false},
        {"release/*", "release/", true},
        {"*-stable", "13-stable", true},
        {"*-stable", "13-stable-x", false},
        {"*", "", true},
        {"a*b*c", "aXbYc", true},
        {"a*b*c", "aXbY", false},
        {"Main", "main", false}, /* case-sensitive */
        {"review/*/app", "review/feature/x/app", true},
        {"a*a*a*a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false},
        {"feat?", "feat?", true}, /* only '*' is special */
        {"feat?", "feats", false},
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(cases); i++) {
        sl_test_case_begin(cases[i].pattern);
        CHECK(sl_scope_wildcard_match(cases[i].pattern, cases[i].name) == cases[i].match);
        sl_test_case_end();
    }
}

TEST(environment_scope_most_specific_wins)
{
    CHECK_INT_EQ(sl_scope_env_rank("*", NULL), 0);
    CHECK_INT_EQ(sl_scope_env_rank("*", "production"), 0);
    CHECK_INT_EQ(sl_scope_env_rank("production", NULL), -1); /* no environment: `*` only */
    CHECK_INT_EQ(sl_scope_env_rank("review/*", ""), -1);
    CHECK_INT_EQ(sl_scope_env_rank("production", "production"), 2);
    CHECK_INT_EQ(sl_scope_env_rank("review/*", "review/feature-1"), 1);
    CHECK_INT_EQ(sl_scope_env_rank("review/*", "staging"), -1);
    CHECK_INT_EQ(sl_scope_env_rank("prod", "production"), -1);
    CHECK_INT_EQ(sl_scope_env_rank("", "production"), -1);
    CHECK(sl_scope_env_rank("production", "production") > sl_scope_env_rank("prod*", "production"));
    CHECK(sl_scope_env_rank("prod*", "production") > sl_scope_env_rank("*", "production"));
}
