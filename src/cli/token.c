/* token.c: `sluice token create`, an API token for the server. */
#include "base/compat.h"
#include "base/time.h"
#include "cli/cli.h"
#include "server/server.h"

#include <getopt.h>

static void usage(FILE *f)
{
    fprintf(f,
            "usage: sluice token create --role ROLE [--data DIR] [--db URL] [--name NAME]\n"
            "                           [--expires-in DURATION | --expires-at DATE] [--init]\n\n"
            "Creates an API token and prints it once on stdout (only its hash is stored); its id\n"
            "goes to stderr.\n"
            "Roles, strongest first: admin, maintainer, developer, viewer.\n\n"
            "Options:\n"
            "  --role ROLE   the token's role (required)\n"
            "  --data DIR    the server's data directory (default ./sluice-data)\n"
            "  --db URL      the store, when the server uses --db\n"
            "  --name NAME   a name to recognise it by (default: the role)\n"
            "  --expires-in DURATION\n"
            "                the token stops working after DURATION (\"30 days\", \"12h\")\n"
            "  --expires-at DATE\n"
            "                ... or at DATE (ISO 8601: 2026-12-31, or 2026-12-31T08:00:00Z)\n"
            "  --init        create the store when the database holds none yet (without it,\n"
            "                a directory or database no server has used is an error)\n"
            "  -h, --help    show this help\n");
}

int sl_cmd_token(int argc, char **argv)
{
    static const struct option longopts[] = {{"role", required_argument, NULL, 'r'},
                                             {"data", required_argument, NULL, 'd'},
                                             {"db", required_argument, NULL, 'b'},
                                             {"name", required_argument, NULL, 'n'},
                                             {"init", no_argument, NULL, 'i'},
                                             {"expires-in", required_argument, NULL, 'E'},
                                             {"expires-at", required_argument, NULL, 'A'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    const char *data = "sluice-data", *db = NULL;
    struct sl_server_new_token nt = {0};
    int64_t secs = 0;
    int opt;
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? SL_EXIT_USAGE : SL_EXIT_OK;
    }
    if (strcmp(argv[1], "create") != 0) {
        sl_cli_error("token: unknown subcommand '%s'; see 'sluice token --help'", argv[1]);
        return SL_EXIT_USAGE;
    }
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc - 1, argv + 1, "h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'r':
            nt.role = optarg;
            break;
        case 'd':
            data = optarg;
            break;
        case 'b':
            db = optarg;
            break;
        case 'n':
            nt.name = optarg;
            break;
        case 'i':
            nt.init = true;
            break;
        case 'E':
            if (sl_time_parse_duration(optarg, &secs) < 0) {
                sl_cli_error("token: --expires-in: '%s' is not a duration (\"30 days\", \"12h\")",
                             optarg);
                return SL_EXIT_USAGE;
            }
            nt.expires_at = sl_time_now_ms() + secs * 1000;
            break;
        case 'A':
            if (sl_time_parse_iso8601(optarg, &nt.expires_at) < 0) {
                sl_cli_error("token: --expires-at: '%s' is not an ISO 8601 date or time "
                             "(2026-12-31, 2026-12-31T08:00:00Z)",
                             optarg);
                return SL_EXIT_USAGE;
            }
            break;
        case 'h':
            usage(stdout);
            return SL_EXIT_OK;
        default:
            sl_cli_error("token: unknown option '%s'", argv[optind]);
            return SL_EXIT_USAGE;
        }
    }
    if (optind < argc - 1) {
        sl_cli_error("token: unexpected argument '%s'", argv[optind + 1]);
        return SL_EXIT_USAGE;
    }
    if (!nt.role) {
        sl_cli_error("token create: --role is required (admin, maintainer, developer, viewer)");
        return SL_EXIT_USAGE;
    }
    struct sl_error err = SL_ERROR_INIT;
    char *secret = NULL;
    int64_t id = 0;
    if (sl_server_token_create(data, db, &nt, &secret, &id, &err) < 0) {
        sl_cli_error("token: %s", sl_error_format(&err));
        sl_error_release(&err);
        return SL_EXIT_USAGE;
    }
    fprintf(stderr, "sluice: token %lld created; it is shown once, below\n", (long long)id);
    printf("%s\n", secret);
    free(secret);
    return SL_EXIT_OK;
}
