/* token.c: `sluice token create`, an API token for the server. */
#include "base/compat.h"
#include "cli/cli.h"
#include "server/server.h"

#include <getopt.h>

static void usage(FILE *f)
{
    fprintf(
        f,
        "usage: sluice token create --role ROLE [--data DIR] [--db URL] [--name NAME] [--init]\n\n"
        "Creates an API token and prints it once (only its hash is stored).\n"
        "Roles, strongest first: admin, maintainer, developer, viewer.\n\n"
        "Options:\n"
        "  --role ROLE   the token's role (required)\n"
        "  --data DIR    the server's data directory (default ./sluice-data)\n"
        "  --db URL      the store, when the server uses --db\n"
        "  --name NAME   a name to recognise it by (default: the role)\n"
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
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    const char *role = NULL, *data = "sluice-data", *db = NULL, *name = NULL;
    bool init = false;
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
            role = optarg;
            break;
        case 'd':
            data = optarg;
            break;
        case 'b':
            db = optarg;
            break;
        case 'n':
            name = optarg;
            break;
        case 'i':
            init = true;
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
    if (!role) {
        sl_cli_error("token create: --role is required (admin, maintainer, developer, viewer)");
        return SL_EXIT_USAGE;
    }
    struct sl_error err = SL_ERROR_INIT;
    char *secret = NULL;
    if (sl_server_token_create(data, db, role, name, init, &secret, &err) < 0) {
        sl_cli_error("token: %s", sl_error_format(&err));
        sl_error_release(&err);
        return SL_EXIT_USAGE;
    }
    printf("%s\n", secret);
    free(secret);
    return SL_EXIT_OK;
}
