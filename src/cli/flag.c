/* flag.c: `sluice flag list|enable|disable|set`, feature flags of a running server over its
 * API (docs/feature-flags.md). In a job it needs no options: the server, the project and the
 * job's CI_JOB_TOKEN come from the job's variables, and the server records the rollout with
 * the pipeline and job that made it. */
#include "base/compat.h"
#include "base/alloc.h"
#include "base/str.h"
#include "cli/api_client.h"
#include "cli/cli.h"
#include "cli/opts.h"

#include <curl/curl.h>
#include <jansson.h>

enum { O_ENV = 1, O_ROLLOUT };

static const struct sl_cli_opt flag_opts[] = {
    SL_CLI_API_OPTS(", or CI_SERVER_URL", ", or CI_JOB_TOKEN",
                    "the project's id (or CI_PROJECT_ID)"),
    {O_ENV, 0, "env", "E", "the environment", 0},
    {O_ROLLOUT, 0, "rollout", "PERCENT", "0 to 100 (set)", 0},
};

const struct sl_cli_spec sl_cli_spec_flag = {
    .name = "flag",
    .forms = (const char *const[]){"list [--env E] [--project ID] [--url URL] [--token TOKEN]",
                                   "enable|disable NAME --env E [--project ID] [--url URL] "
                                   "[--token TOKEN]",
                                   "set NAME --env E --rollout PERCENT [--project ID] [--url URL] "
                                   "[--token TOKEN]",
                                   NULL},
    .subcommands = "list|enable|disable|set",
    .about = "Feature flags of a sluice server's project. list: the flags and where they are on;\n"
             "enable, disable: the flag in environment E; set --rollout: a gradual rollout to\n"
             "PERCENT of users (the flag's flexibleRollout strategy, made when it has none).\n"
             "In a job the defaults are the job's: CI_SERVER_URL, CI_PROJECT_ID, CI_JOB_TOKEN.\n",
    .docs = "docs/feature-flags.md",
    .opts = flag_opts,
    .nopts = SL_ARRAY_LEN(flag_opts),
};

static void print_list(const char *text, const char *env)
{
    json_t *a = json_loads(text, 0, NULL), *f;
    size_t i;
    printf("%-40s %-12s %s\n", "NAME", "TYPE", "ENVIRONMENTS");
    json_array_foreach(a, i, f)
    {
        struct sl_str envs = SL_STR_INIT;
        json_t *e;
        size_t k;
        json_array_foreach(json_object_get(f, "environments"), k, e)
        {
            const char *name = json_string_value(json_object_get(e, "environment"));
            if (env && (!name || strcmp(name, env) != 0))
                continue;
            sl_str_addf(&envs, "%s%s:%s", envs.len ? " " : "", name ? name : "?",
                        json_is_true(json_object_get(e, "enabled")) ? "on" : "off");
            json_t *s;
            size_t j;
            json_array_foreach(json_object_get(e, "strategies"), j, s)
            {
                const char *r =
                    json_string_value(json_object_get(json_object_get(s, "parameters"), "rollout"));
                if (r)
                    sl_str_addf(&envs, "(%s%%)", r);
            }
        }
        printf("%-40s %-12s %s%s\n", json_string_value(json_object_get(f, "name")),
               json_string_value(json_object_get(f, "type")), envs.len ? envs.buf : "-",
               json_is_true(json_object_get(f, "stale")) ? " [stale]" : "");
        sl_str_release(&envs);
    }
    json_decref(a);
}

int sl_cmd_flag(int argc, char **argv)
{
    struct sl_cli_api c;
    sl_cli_api_init(&c, "flag", true);
    const char *env = NULL, *rollout = NULL;
    int opt, rc = SL_EXIT_USAGE;
    long status = 0;
    char *path = NULL, *body = NULL;

    int help = sl_cli_subcommand_help(argc, argv, &sl_cli_spec_flag);
    if (help >= 0)
        return help;
    const char *sub = argv[1];
    struct sl_cli_args ca;
    sl_cli_args_init(&ca, &sl_cli_spec_flag, argc - 1, argv + 1);
    while ((opt = sl_cli_next(&ca)) > 0) {
        if (sl_cli_api_opt(&c, opt, ca.arg))
            continue;
        switch (opt) {
        case O_ENV:
            env = ca.arg;
            break;
        case O_ROLLOUT:
            rollout = ca.arg;
            break;
        }
    }
    if (opt < 0)
        return ca.exit;
    char **args = ca.rest;
    int nargs = ca.nrest;
    if (sl_cli_api_check(&c, true) != SL_EXIT_OK)
        return SL_EXIT_USAGE;
    const char *project = c.project;
    long pct = -1;
    if (rollout) {
        char *end;
        pct = strtol(rollout, &end, 10);
        if (*end || end == rollout || pct < 0 || pct > 100) {
            sl_cli_error("flag: --rollout takes a percentage from 0 to 100, not '%s'", rollout);
            return SL_EXIT_USAGE;
        }
    }
    bool list = !strcmp(sub, "list") && nargs == 0;
    bool on = !strcmp(sub, "enable"), off = !strcmp(sub, "disable"), set = !strcmp(sub, "set");
    if (!list && !((on || off || (set && rollout)) && nargs == 1 && env)) {
        sl_cli_error("flag: usage: sluice flag list | enable|disable NAME --env E | set NAME "
                     "--env E --rollout PERCENT (see --help)");
        return SL_EXIT_USAGE;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (list) {
        path = sl_xasprintf("/api/v1/projects/%s/feature_flags", project);
        if (sl_cli_api_call(&c, "GET", path, NULL, &status) < 0)
            rc = SL_EXIT_FAIL;
        else if (status != 200)
            rc = sl_cli_api_fail(&c, status);
        else {
            print_list(c.body.buf, env);
            rc = SL_EXIT_OK;
        }
    } else {
        char *name = curl_easy_escape(NULL, args[0], 0), *e = curl_easy_escape(NULL, env, 0);
        path =
            sl_xasprintf("/api/v1/projects/%s/feature_flags/%s/environments/%s", project, name, e);
        curl_free(name);
        curl_free(e);
        json_t *b = set ? json_pack("{s:I}", "rollout", (json_int_t)pct)
                        : json_pack("{s:b}", "enabled", on);
        body = json_dumps(b, JSON_COMPACT);
        json_decref(b);
        if (sl_cli_api_call(&c, "PUT", path, body, &status) < 0) {
            rc = SL_EXIT_FAIL;
        } else if (status != 200) {
            rc = sl_cli_api_fail(&c, status);
        } else {
            if (set)
                printf("%s: %s rolled out to %ld%%\n", args[0], env, pct);
            else
                printf("%s: %s in %s\n", args[0], on ? "enabled" : "disabled", env);
            rc = SL_EXIT_OK;
        }
    }
    curl_global_cleanup();
    free(body);
    free(path);
    sl_str_release(&c.body);
    return rc;
}
