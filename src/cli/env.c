/* env.c: `sluice env list|show|stop|rollback|approve|reject`, environments and deployments
 * of a running server over its API (docs/deployments.md). */
#include "base/compat.h"
#include "base/alloc.h"
#include "base/str.h"
#include "cli/api_client.h"
#include "cli/cli.h"
#include "cli/opts.h"

#include <jansson.h>

enum { O_TO = 1, O_COMMENT };

static const struct sl_cli_opt env_opts[] = {
    SL_CLI_API_OPTS("", "", "the project's id (list)"),
    {O_TO, 0, "to", "ID", "the deployment to roll back to (rollback)", 0},
    {O_COMMENT, 0, "comment", "TEXT", "a comment on the decision (approve, reject)", 0},
};

const struct sl_cli_spec sl_cli_spec_env = {
    .name = "env",
    .forms = (const char *const[]){"list --project ID [--url URL] [--token TOKEN]",
                                   "show ENV_ID [--url URL] [--token TOKEN]",
                                   "stop ENV_ID [--url URL] [--token TOKEN]",
                                   "rollback ENV_ID [--to DEPLOYMENT_ID] [--url URL] "
                                   "[--token TOKEN]",
                                   "approve|reject DEPLOYMENT_ID [--comment TEXT] [--url URL] "
                                   "[--token TOKEN]",
                                   NULL},
    .subcommands = "list|show|stop|rollback|approve|reject",
    .about = "Environments and deployments of a sluice server. list: a project's environments\n"
             "and what is deployed where; show: one environment and its deployments; stop:\n"
             "runs its on_stop job; rollback: re-deploys an earlier successful deployment (the\n"
             "last one without --to); approve, reject: decide on a blocked deployment.\n",
    .docs = "docs/deployments.md",
    .opts = env_opts,
    .nopts = SL_ARRAY_LEN(env_opts),
};

static const char *str(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "-";
}

static void print_deployment_line(json_t *d)
{
    printf("  #%-5lld %-9s %.12s %-20s job %lld%s\n",
           (long long)json_integer_value(json_object_get(d, "iid")), str(d, "status"),
           str(d, "sha"), str(d, "created_at"),
           (long long)json_integer_value(json_object_get(json_object_get(d, "deployable"), "id")),
           json_is_integer(json_object_get(d, "rollback_of")) ? " (rollback)" : "");
}

static void print_environments(const char *text)
{
    json_t *a = json_loads(text, 0, NULL);
    size_t i;
    json_t *e;
    printf("%-6s %-32s %-10s %-12s %-10s %s\n", "ID", "NAME", "STATE", "TIER", "DEPLOYED", "URL");
    json_array_foreach(a, i, e)
    {
        json_t *last = json_object_get(e, "last_deployment");
        char sha[16] = "-";
        if (json_is_object(last))
            snprintf(sha, sizeof(sha), "%.10s", str(last, "sha"));
        printf("%-6lld %-32s %-10s %-12s %-10s %s\n",
               (long long)json_integer_value(json_object_get(e, "id")), str(e, "name"),
               str(e, "state"), str(e, "tier"), sha, str(e, "external_url"));
    }
    json_decref(a);
}

/* A positive id from ARG, or 0 (with a message) when it is not one. */
static long long parse_id(const char *what, const char *arg)
{
    char *end = NULL;
    long long v = arg ? strtoll(arg, &end, 10) : 0;
    if (!arg || *end || v <= 0) {
        sl_cli_error("env: %s must be a positive id, not '%s'", what, arg ? arg : "");
        return 0;
    }
    return v;
}

int sl_cmd_env(int argc, char **argv)
{
    struct sl_cli_api c;
    sl_cli_api_init(&c, "env", false);
    const char *to = NULL, *comment = NULL;
    int opt, rc = SL_EXIT_USAGE;
    long status = 0;
    char path[256];

    int help = sl_cli_subcommand_help(argc, argv, &sl_cli_spec_env);
    if (help >= 0)
        return help;
    const char *sub = argv[1];
    struct sl_cli_args ca;
    sl_cli_args_init(&ca, &sl_cli_spec_env, argc - 1, argv + 1);
    while ((opt = sl_cli_next(&ca)) > 0) {
        if (sl_cli_api_opt(&c, opt, ca.arg))
            continue;
        switch (opt) {
        case O_TO:
            to = ca.arg;
            break;
        case O_COMMENT:
            comment = ca.arg;
            break;
        }
    }
    if (opt < 0)
        return ca.exit;
    const char *arg = ca.nrest > 0 ? ca.rest[0] : NULL;
    if (sl_cli_api_check(&c, !strcmp(sub, "list")) != SL_EXIT_OK)
        return SL_EXIT_USAGE;
    if (!strcmp(sub, "list")) {
        long long pid = parse_id("--project", c.project);
        if (!pid)
            goto out;
        snprintf(path, sizeof(path), "/api/v1/projects/%lld/environments", pid);
        if (sl_cli_api_call(&c, "GET", path, NULL, &status) < 0) {
            rc = SL_EXIT_FAIL;
            goto out;
        }
        if (status != 200) {
            rc = sl_cli_api_fail(&c, status);
            goto out;
        }
        print_environments(c.body.buf);
        rc = SL_EXIT_OK;
    } else if (!strcmp(sub, "show") || !strcmp(sub, "stop") || !strcmp(sub, "rollback")) {
        long long id = parse_id("ENV_ID", arg);
        if (!id)
            goto out;
        char *body = NULL;
        const char *method = "GET";
        if (!strcmp(sub, "stop")) {
            method = "POST";
            snprintf(path, sizeof(path), "/api/v1/environments/%lld/stop", id);
        } else if (!strcmp(sub, "rollback")) {
            long long dep = to ? parse_id("--to", to) : 0;
            if (to && !dep)
                goto out;
            method = "POST";
            snprintf(path, sizeof(path), "/api/v1/environments/%lld/rollback", id);
            if (dep)
                body = sl_xasprintf("{\"deployment_id\":%lld}", dep);
        } else {
            snprintf(path, sizeof(path), "/api/v1/environments/%lld", id);
        }
        int hrc = sl_cli_api_call(&c, method, path, body, &status);
        free(body);
        if (hrc < 0) {
            rc = SL_EXIT_FAIL;
            goto out;
        }
        if (status != 200 && status != 201) {
            rc = sl_cli_api_fail(&c, status);
            goto out;
        }
        json_t *o = json_loads(c.body.buf, 0, NULL);
        if (!strcmp(sub, "rollback")) {
            printf("deployment #%lld rolls back to deployment %lld\n",
                   (long long)json_integer_value(json_object_get(o, "iid")),
                   (long long)json_integer_value(json_object_get(o, "rollback_of")));
        } else {
            printf("%s (%s, %s) %s\n", str(o, "name"), str(o, "state"), str(o, "tier"),
                   str(o, "external_url"));
        }
        json_decref(o);
        if (!strcmp(sub, "show")) {
            snprintf(path, sizeof(path), "/api/v1/environments/%lld/deployments?limit=20", id);
            if (sl_cli_api_call(&c, "GET", path, NULL, &status) == 0 && status == 200) {
                json_t *a = json_loads(c.body.buf, 0, NULL);
                size_t i;
                json_t *d;
                json_array_foreach(a, i, d) print_deployment_line(d);
                json_decref(a);
            }
        }
        rc = SL_EXIT_OK;
    } else if (!strcmp(sub, "approve") || !strcmp(sub, "reject")) {
        long long id = parse_id("DEPLOYMENT_ID", arg);
        if (!id)
            goto out;
        snprintf(path, sizeof(path), "/api/v1/deployments/%lld/%s", id, sub);
        json_t *b = json_pack("{s:s}", "comment", comment ? comment : "");
        char *body = json_dumps(b, JSON_COMPACT);
        json_decref(b);
        int hrc = sl_cli_api_call(&c, "POST", path, body, &status);
        free(body);
        if (hrc < 0) {
            rc = SL_EXIT_FAIL;
            goto out;
        }
        if (status != 200) {
            rc = sl_cli_api_fail(&c, status);
            goto out;
        }
        json_t *o = json_loads(c.body.buf, 0, NULL);
        printf("deployment %lld is %s\n", id, str(o, "status"));
        json_decref(o);
        rc = SL_EXIT_OK;
    } else {
        sl_cli_error("env: unknown subcommand '%s' (list, show, stop, rollback, approve, reject)",
                     sub);
        sl_cli_usage(stderr, &sl_cli_spec_env);
    }
out:
    sl_str_release(&c.body);
    return rc;
}
