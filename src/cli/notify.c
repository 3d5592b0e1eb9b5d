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

enum { O_URL = 1, O_TOKEN, O_PROJECT };

static const struct sl_cli_opt notify_opts[] = {
    {O_PROJECT, 0, "project", "ID", "the project's id", 0},
    SL_CLI_OPT_URL(O_URL, ""),
    SL_CLI_OPT_TOKEN(O_TOKEN, ""),
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
    struct sl_cli_api c = {getenv("SLUICE_URL"), getenv("SLUICE_TOKEN"), "notify", SL_STR_INIT};
    const char *project = NULL;
    int opt, rc = SL_EXIT_USAGE;
    long status = 0;

    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        sl_cli_help(argc < 2 ? stderr : stdout, &sl_cli_spec_notify);
        return argc < 2 ? SL_EXIT_USAGE : SL_EXIT_OK;
    }
    if (strcmp(argv[1], "test") != 0) {
        sl_cli_error("notify: unknown subcommand '%s'; see 'sluice notify --help'", argv[1]);
        return SL_EXIT_USAGE;
    }
    struct sl_cli_args ca;
    sl_cli_args_init(&ca, &sl_cli_spec_notify, argc - 1, argv + 1);
    while ((opt = sl_cli_next(&ca)) > 0) {
        switch (opt) {
        case O_URL:
            c.url = ca.arg;
            break;
        case O_TOKEN:
            c.token = ca.arg;
            break;
        case O_PROJECT:
            project = ca.arg;
            break;
        }
    }
    if (opt < 0)
        return ca.exit;
    if (sl_cli_too_many(&ca, 0))
        return SL_EXIT_USAGE;
    if (!c.url || !c.token) {
        sl_cli_error("notify: --url and --token (or SLUICE_URL and SLUICE_TOKEN) are required");
        return SL_EXIT_USAGE;
    }
    if (!project || !*project || strspn(project, "0123456789") != strlen(project)) {
        sl_cli_error("notify: --project takes a project id");
        return SL_EXIT_USAGE;
    }
    char *path = sl_xasprintf("/api/v1/projects/%s/notifications/test", project);
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
