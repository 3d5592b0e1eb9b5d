/* runner.c: `sluice runner create|registration-token`, runners for the server's runner API
 * (/api/v4), made straight in its store as `sluice token` makes API tokens. */
#include "base/compat.h"
#include "base/alloc.h"
#include "base/time.h"
#include "cli/cli.h"
#include "server/server.h"
#include "store/store.h"

#include <getopt.h>

static void usage(FILE *f)
{
    fprintf(f, "usage: sluice runner create [--tags A,B] [--run-untagged] [--name N] [--locked]\n"
               "                            [--paused] [--data DIR | --db URL] [--init]\n"
               "       sluice runner registration-token [--data DIR | --db URL] [--init]\n\n"
               "create: makes a runner and prints its authentication token (glrt-..., shown once)\n"
               "for `sluice agent --token` or `gitlab-runner register --token`.\n"
               "registration-token: prints a new registration token for the legacy\n"
               "`gitlab-runner register --registration-token` flow (the previous one stops\n"
               "working).\n\n"
               "Options:\n"
               "  --tags A,B      the runner's tags: it runs jobs whose tags it all has\n"
               "  --run-untagged  it runs jobs without tags too (the default without --tags)\n"
               "  --name N        a name (also its description)\n"
               "  --locked        locked to its projects (recorded; sluice has no per-project\n"
               "                  runners yet)\n"
               "  --paused        made paused: it gets no job until resumed\n"
               "  --data DIR      the server's data directory (default ./sluice-data)\n"
               "  --db URL        the store, when the server uses --db\n"
               "  --init          create the store when the database holds none yet\n"
               "  -h, --help      show this help\n");
}

static void split_tags(const char *s, struct sl_store_runner *rn)
{
    size_t cap = 0;
    while (s && *s) {
        size_t n = strcspn(s, ",");
        if (n) {
            SL_GROW(rn->tags, cap, rn->ntags + 1);
            rn->tags[rn->ntags++] = sl_xstrndup(s, n);
        }
        s += n + (s[n] == ',');
    }
}

int sl_cmd_runner(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"tags", required_argument, NULL, 't'}, {"run-untagged", no_argument, NULL, 'u'},
        {"name", required_argument, NULL, 'n'}, {"locked", no_argument, NULL, 'l'},
        {"paused", no_argument, NULL, 'p'},     {"data", required_argument, NULL, 'd'},
        {"db", required_argument, NULL, 'b'},   {"init", no_argument, NULL, 'i'},
        {"help", no_argument, NULL, 'h'},       {NULL, 0, NULL, 0}};
    const char *data = "sluice-data", *db = NULL, *tags = NULL, *name = "";
    bool init = false, untagged = false, locked = false, paused = false;
    int opt, rc;
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? SL_EXIT_USAGE : SL_EXIT_OK;
    }
    bool create = !strcmp(argv[1], "create");
    if (!create && strcmp(argv[1], "registration-token") != 0) {
        sl_cli_error("runner: unknown subcommand '%s'; see 'sluice runner --help'", argv[1]);
        return SL_EXIT_USAGE;
    }
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc - 1, argv + 1, "h", longopts, NULL)) != -1) {
        switch (opt) {
        case 't':
            tags = optarg;
            break;
        case 'u':
            untagged = true;
            break;
        case 'n':
            name = optarg;
            break;
        case 'l':
            locked = true;
            break;
        case 'p':
            paused = true;
            break;
        case 'd':
            data = optarg;
            break;
        case 'b':
            db = optarg;
            break;
        case 'i':
            init = true;
            break;
        case 'h':
            usage(stdout);
            return SL_EXIT_OK;
        default:
            sl_cli_error("runner: unknown option '%s'", argv[optind]);
            return SL_EXIT_USAGE;
        }
    }
    if (optind < argc - 1) {
        sl_cli_error("runner: unexpected argument '%s'", argv[optind + 1]);
        return SL_EXIT_USAGE;
    }
    if (!create && (tags || untagged || *name || locked || paused)) {
        sl_cli_error("runner registration-token: takes only --data, --db and --init");
        return SL_EXIT_USAGE;
    }
    struct sl_error err = SL_ERROR_INIT;
    struct sl_store *st = NULL;
    struct sl_store_runner rn = {0};
    char *token = NULL;
    if ((rc = sl_server_store_open(data, db, init, &st, &err)) < 0)
        goto out;
    if (create) {
        split_tags(tags, &rn);
        rn.name = rn.description = (char *)name;
        rn.run_untagged = untagged || rn.ntags == 0;
        rn.locked = locked;
        rn.paused = paused;
        rc = sl_store_runner_create(st, &rn, sl_time_now_ms(), &token, NULL, &err);
        rn.name = rn.description = NULL;
    } else {
        rc = sl_store_registration_token_reset(st, sl_time_now_ms(), &token, &err);
    }
    if (rc == 0)
        printf("%s\n", token);
out:
    if (rc < 0)
        sl_cli_error("runner: %s", sl_error_format(&err));
    sl_error_release(&err);
    sl_store_runner_release(&rn);
    free(token);
    sl_store_close(st);
    return rc < 0 ? SL_EXIT_USAGE : SL_EXIT_OK;
}
