/* notify.c: `sluice notify test`, a sample message to every notification rule of a project
 * over the server's API (POST /api/v1/projects/{id}/notifications/test). */
#include "base/compat.h"
#include "base/alloc.h"
#include "base/str.h"
#include "cli/api_client.h"
#include "cli/cli.h"
#include "cli/opts.h"

#include <curl/curl.h>
#include <jansson.h>

static const struct sl_cli_opt notify_opts[] = {
    SL_CLI_API_OPTS("", "", "the project's id"),
};

const struct sl_cli_spec sl_cli_spec_notify = {
    .name = "notify",
    .forms = (const char *const[]){"test --project ID --url URL --token TOKEN", NULL},
    .subcommands = "test",
    .about = "Sends a sample notification, about the project's latest pipeline, to every\n"
             "notification rule of the project (docs/notifications.md). The messages go\n"
             "through the server's delivery queue: see how each went with\n"
             "GET /api/v1/projects/ID/deliveries.\n",
    .docs = "docs/notifications.md",
    .opts = notify_opts,
    .nopts = SL_ARRAY_LEN(notify_opts),
};

int sl_cmd_notify(int argc, char **argv)
{
    struct sl_cli_api c;
    sl_cli_api_init(&c, "notify", false);
    int opt, rc = SL_EXIT_USAGE;
    long status = 0;

    int help = sl_cli_subcommand_help(argc, argv, &sl_cli_spec_notify);
    if (help >= 0)
        return help;
    if (strcmp(argv[1], "test") != 0) {
        sl_cli_error("notify: unknown subcommand '%s'; see 'sluice notify --help'", argv[1]);
        return SL_EXIT_USAGE;
    }
    struct sl_cli_args ca;
    sl_cli_args_init(&ca, &sl_cli_spec_notify, argc - 1, argv + 1);
    while ((opt = sl_cli_next(&ca)) > 0)
        sl_cli_api_opt(&c, opt, ca.arg); /* the table has no other options */
    if (opt < 0)
        return ca.exit;
    if (sl_cli_too_many(&ca, 0) || sl_cli_api_check(&c, true) != SL_EXIT_OK)
        return SL_EXIT_USAGE;
    char *path = sl_xasprintf("/api/v1/projects/%s/notifications/test", c.project);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (sl_cli_api_call(&c, "POST", path, "{}", &status) < 0) {
        rc = SL_EXIT_FAIL;
    } else if (status != 202) {
        rc = sl_cli_api_fail(&c, status);
    } else {
        json_t *o = json_loads(c.body.buf, 0, NULL);
        long long n = (long long)json_integer_value(json_object_get(o, "queued"));
        printf("queued %lld sample notification%s\n", n, n == 1 ? "" : "s");
        json_decref(o);
        rc = SL_EXIT_OK;
    }
    free(path);
    sl_str_release(&c.body);
    curl_global_cleanup();
    return rc;
}
