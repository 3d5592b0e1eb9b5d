/* The docker executor's pure parts: the aliases GitLab derives for a service. */
#include "base/compat.h"
#include "harness/harness.h"
#include "exec/docker_services.h"
#include "base/str.h"

static char *joined(char **v)
{
    struct sl_str s = SL_STR_INIT;
    for (char **p = v; p && *p; p++)
        sl_str_addf(&s, "%s%s", p == v ? "" : " ", *p);
    sl_docker_strv_free(v);
    return sl_str_detach(&s);
}

TEST(service_aliases_as_gitlab_derives_them)
{
    static const struct {
        const char *name, *alias, *want;
    } cases[] = {
        {"postgres:15", NULL, "postgres"},
        {"postgres", NULL, "postgres"},
        {"registry.example.com/tools/db:1", NULL,
         "registry.example.com__tools__db registry.example.com-tools-db"},
        {"tutum/wordpress:latest", "wp", "tutum__wordpress tutum-wordpress wp"},
        {"localhost:5000/img", NULL, "localhost:5000__img localhost:5000-img"},
        {"redis@sha256:abcd", NULL, "redis"},
        {"mysql:8", "db, mysql8 db", "mysql db mysql8"},
        {"mysql:8", "mysql", "mysql"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        const char *al[] = {cases[i].alias, NULL};
        char *got = joined(sl_docker_service_aliases(cases[i].name, cases[i].alias ? al : NULL));
        if (!sl_streq(got, cases[i].want))
            sl_test_fail(__FILE__, __LINE__, "%s: got '%s', want '%s'", cases[i].name, got,
                         cases[i].want);
        free(got);
    }
}
