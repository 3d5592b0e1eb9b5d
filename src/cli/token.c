/* token.c: `sluice token create`, an API token for the server. */
#include "base/compat.h"
#include "base/time.h"
#include "cli/cli.h"
#include "cli/opts.h"
#include "server/server.h"

static const struct sl_cli_opt token_opts[] = {
    {'r', 0, "role", "ROLE", "the token's role (required)", SL_OPT_REQUIRED},
    SL_CLI_OPT_DATA(SL_CLI_O_DATA),
    SL_CLI_OPT_DB(SL_CLI_O_DB),
    SL_CLI_OPT_DB_FILE(SL_CLI_O_DB_FILE),
    {'n', 0, "name", "NAME", "a name to recognise it by (default: the role)", 0},
    {'E', 0, "expires-in", "DURATION",
     "the token stops working after DURATION (\"30 days\", \"12h\")", 0},
    {'A', 0, "expires-at", "DATE", "... or at DATE (ISO 8601: 2026-12-31, or 2026-12-31T08:00:00Z)",
     0},
    SL_CLI_OPT_INIT('i'),
};

const struct sl_cli_spec sl_cli_spec_token = {
    .name = "token",
    .forms =
        (const char *const[]){
            "create --role ROLE [--data DIR] [--db URL | --db-file FILE] [--name NAME] "
            "[--expires-in DURATION | --expires-at DATE] [--init]",
            NULL},
    .subcommands = "create",
    .about = "Creates an API token and prints it once on stdout (only its hash is stored); its id\n"
             "goes to stderr.\n"
             "Roles, strongest first: admin, maintainer, developer, viewer.\n",
    .docs = "docs/server.md",
    .opts = token_opts,
    .nopts = SL_ARRAY_LEN(token_opts),
};

int sl_cmd_token(int argc, char **argv)
{
    struct sl_cli_store_args so = {.data = "sluice-data"};
    char *db = NULL;
    struct sl_server_new_token nt = {0};
    int64_t secs = 0;
    int rc;
    int opt;
    int help = sl_cli_subcommand_help(argc, argv, &sl_cli_spec_token);
    if (help >= 0)
        return help;
    if (strcmp(argv[1], "create") != 0) {
        sl_cli_error("token: unknown subcommand '%s'; see 'sluice token --help'", argv[1]);
        return SL_EXIT_USAGE;
    }
    struct sl_cli_args ca;
    sl_cli_args_init(&ca, &sl_cli_spec_token, argc - 1, argv + 1);
    while ((opt = sl_cli_next(&ca)) > 0) {
        if (sl_cli_store_opt(&so, opt, ca.arg))
            continue;
        switch (opt) {
        case 'r':
            nt.role = ca.arg;
            break;
        case 'n':
            nt.name = ca.arg;
            break;
        case 'i':
            nt.init = true;
            break;
        case 'E':
            if (sl_time_parse_duration(ca.arg, &secs) < 0) {
                sl_cli_error("token: --expires-in: '%s' is not a duration (\"30 days\", \"12h\")",
                             ca.arg);
                return SL_EXIT_USAGE;
            }
            nt.expires_at = sl_time_now_ms() + secs * 1000;
            break;
        case 'A':
            if (sl_time_parse_iso8601(ca.arg, &nt.expires_at) < 0) {
                sl_cli_error("token: --expires-at: '%s' is not an ISO 8601 date or time "
                             "(2026-12-31, 2026-12-31T08:00:00Z)",
                             ca.arg);
                return SL_EXIT_USAGE;
            }
            break;
        }
    }
    if (opt < 0)
        return ca.exit;
    if (sl_cli_too_many(&ca, 0))
        return SL_EXIT_USAGE;
    if (sl_cli_db_url("token", so.db_arg, so.db_file, &db) < 0)
        return SL_EXIT_USAGE;
    if (!nt.role) {
        sl_cli_error("token create: --role is required (admin, maintainer, developer, viewer)");
        return SL_EXIT_USAGE;
    }
    struct sl_error err = SL_ERROR_INIT;
    char *secret = NULL;
    int64_t id = 0;
    rc = sl_server_token_create(so.data, db, &nt, &secret, &id, &err);
    free(db);
    if (rc < 0) {
        sl_cli_error("token: %s", sl_error_format(&err));
        sl_error_release(&err);
        return SL_EXIT_USAGE;
    }
    fprintf(stderr, "sluice: token %lld created; it is shown once, below\n", (long long)id);
    printf("%s\n", secret);
    free(secret);
    return SL_EXIT_OK;
}
