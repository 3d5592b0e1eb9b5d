/* var.c: `sluice var set|list|rm`, CI/CD variables of a running server over its API. */
#include "base/compat.h"
#include "base/alloc.h"
#include "base/str.h"
#include "cli/api_client.h"
#include "cli/cli.h"
#include "cli/opts.h"

#include <curl/curl.h>
#include <jansson.h>

enum { O_SCOPE = 1, O_DESC };

static const struct sl_cli_opt var_opts[] = {
    SL_CLI_API_OPTS("", "", "the project's id"),
    {'m', 0, "masked", NULL, "mask the value in job logs", 0},
    {'H', 0, "hidden", NULL, "masked, and never shown again (only at creation)", 0},
    {'p', 0, "protected", NULL, "only for pipelines on protected refs", 0},
    {'r', 0, "raw", NULL, "no variable expansion in the value", 0},
    {'f', 0, "file", NULL, "a file variable (the job gets a path to the value)", 0},
    {O_SCOPE, 0, "scope", "S", "environment scope (default *)", 0},
    {O_DESC, 0, "description", "D", "a description", 0},
};

const struct sl_cli_spec sl_cli_spec_var = {
    .name = "var",
    .forms =
        (const char *const[]){"set KEY VALUE --url URL --token TOKEN [--project ID] "
                              "[--masked] [--hidden] [--protected] [--raw] [--file] "
                              "[--scope S] [--description D]",
                              "list --url URL --token TOKEN [--project ID]",
                              "rm KEY --url URL --token TOKEN [--project ID] [--scope S]", NULL},
    .subcommands = "set|list|rm",
    .about = "Manages CI/CD variables of a sluice server: a project's with --project, else the\n"
             "instance's (admin). VALUE '-' reads the value from stdin, so it stays out of the\n"
             "shell history. set creates the variable, or updates it when it exists.\n",
    .docs = "docs/secrets.md",
    .opts = var_opts,
    .nopts = SL_ARRAY_LEN(var_opts),
};

static char *read_stdin_value(void)
{
    struct sl_str s = SL_STR_INIT;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), stdin)) > 0 && s.len < 1 << 20)
        sl_str_add(&s, buf, n);
    while (s.len > 0 && (s.buf[s.len - 1] == '\n' || s.buf[s.len - 1] == '\r'))
        sl_str_truncate(&s, s.len - 1);
    return sl_str_detach(&s);
}

static void print_list(const char *text)
{
    json_t *a = json_loads(text, 0, NULL);
    size_t i;
    json_t *v;
    printf("%-32s %-12s %-8s %s\n", "KEY", "SCOPE", "TYPE", "ATTRIBUTES");
    json_array_foreach(a, i, v)
    {
        printf("%-32s %-12s %-8s %s%s%s%s\n", json_string_value(json_object_get(v, "key")),
               json_string_value(json_object_get(v, "environment_scope")),
               json_string_value(json_object_get(v, "variable_type")),
               json_is_true(json_object_get(v, "masked")) ? "masked " : "",
               json_is_true(json_object_get(v, "hidden")) ? "hidden " : "",
               json_is_true(json_object_get(v, "protected")) ? "protected " : "",
               json_is_true(json_object_get(v, "raw")) ? "raw" : "");
    }
    json_decref(a);
}

int sl_cmd_var(int argc, char **argv)
{
    struct sl_cli_api c;
    sl_cli_api_init(&c, "var", false);
    const char *scope = NULL, *desc = NULL;
    bool masked = false, hidden = false, prot = false, raw = false, file = false;
    int opt, rc = SL_EXIT_USAGE;
    long status = 0;
    char *value = NULL, *path = NULL, *base = NULL, *body_text = NULL;

    int help = sl_cli_subcommand_help(argc, argv, &sl_cli_spec_var);
    if (help >= 0)
        return help;
    const char *sub = argv[1];
    struct sl_cli_args ca;
    sl_cli_args_init(&ca, &sl_cli_spec_var, argc - 1, argv + 1);
    while ((opt = sl_cli_next(&ca)) > 0) {
        if (sl_cli_api_opt(&c, opt, ca.arg))
            continue;
        switch (opt) {
        case O_SCOPE:
            scope = ca.arg;
            break;
        case O_DESC:
            desc = ca.arg;
            break;
        case 'm':
            masked = true;
            break;
        case 'H':
            hidden = true;
            break;
        case 'p':
            prot = true;
            break;
        case 'r':
            raw = true;
            break;
        case 'f':
            file = true;
            break;
        }
    }
    if (opt < 0)
        return ca.exit;
    char **args = ca.rest;
    int nargs = ca.nrest;
    if (sl_cli_api_check(&c, false) != SL_EXIT_OK)
        return SL_EXIT_USAGE;
    base = c.project ? sl_xasprintf("/api/v1/projects/%s/variables", c.project)
                     : sl_xstrdup("/api/v1/admin/variables");
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (!strcmp(sub, "list") && nargs == 0) {
        if (sl_cli_api_call(&c, "GET", base, NULL, &status) < 0)
            rc = SL_EXIT_FAIL;
        else if (status != 200)
            rc = sl_cli_api_fail(&c, status);
        else {
            print_list(c.body.buf);
            rc = SL_EXIT_OK;
        }
    } else if (!strcmp(sub, "rm") && nargs == 1) {
        char *esc = scope ? curl_easy_escape(NULL, scope, 0) : NULL;
        path = sl_xasprintf("%s/%s%s%s", base, args[0],
                            esc ? "?filter%5Benvironment_scope%5D=" : "", esc ? esc : "");
        curl_free(esc);
        if (sl_cli_api_call(&c, "DELETE", path, NULL, &status) < 0)
            rc = SL_EXIT_FAIL;
        else
            rc = status == 204 ? SL_EXIT_OK : sl_cli_api_fail(&c, status);
    } else if (!strcmp(sub, "set") && nargs == 2) {
        value = !strcmp(args[1], "-") ? read_stdin_value() : sl_xstrdup(args[1]);
        json_t *b = json_pack("{s:s,s:s,s:b,s:b,s:s}", "key", args[0], "value", value, "masked",
                              masked || hidden, "protected", prot, "variable_type",
                              file ? "file" : "env_var");
        json_object_set_new(b, "raw", json_boolean(raw));
        if (hidden)
            json_object_set_new(b, "masked_and_hidden", json_true());
        if (scope)
            json_object_set_new(b, "environment_scope", json_string(scope));
        if (desc)
            json_object_set_new(b, "description", json_string(desc));
        body_text = json_dumps(b, JSON_COMPACT);
        json_decref(b);
        if (sl_cli_api_call(&c, "POST", base, body_text, &status) < 0) {
            rc = SL_EXIT_FAIL;
        } else if (status == 400 && strstr(c.body.buf, "has already been taken")) {
            /* it exists: update it (a hidden variable stays hidden) */
            char *esc = curl_easy_escape(NULL, scope ? scope : "*", 0);
            path = sl_xasprintf("%s/%s?filter%%5Benvironment_scope%%5D=%s", base, args[0], esc);
            curl_free(esc);
            json_t *u = json_loads(body_text, 0, NULL);
            json_object_del(u, "masked_and_hidden");
            free(body_text);
            body_text = json_dumps(u, JSON_COMPACT);
            json_decref(u);
            if (sl_cli_api_call(&c, "PUT", path, body_text, &status) < 0)
                rc = SL_EXIT_FAIL;
            else
                rc = status == 200 ? SL_EXIT_OK : sl_cli_api_fail(&c, status);
        } else {
            rc = status == 201 ? SL_EXIT_OK : sl_cli_api_fail(&c, status);
        }
    } else {
        sl_cli_error("var: usage: sluice var set KEY VALUE | list | rm KEY (see --help)");
    }
    curl_global_cleanup();
    if (value) {
        memset(value, 0, strlen(value));
        free(value);
    }
    free(body_text);
    free(path);
    free(base);
    sl_str_release(&c.body);
    return rc;
}
