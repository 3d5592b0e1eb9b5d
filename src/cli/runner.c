/* runner.c: `sluice runner create|registration-token`, runners for the server's runner API
 * (/api/v4), made straight in its store as `sluice token` makes API tokens. */
#include "base/compat.h"
#include "base/alloc.h"
#include "base/time.h"
#include "cli/cli.h"
#include "cli/opts.h"
#include "server/server.h"
#include "store/store.h"

static const struct sl_cli_opt runner_opts[] = {
    {'t', 0, "tags", "A,B", "the runner's tags: it runs jobs whose tags it all has", 0},
    {'u', 0, "run-untagged", NULL, "it runs jobs without tags too (the default without --tags)", 0},
    {'n', 0, "name", "N", "a name (also its description)", 0},
    {'l', 0, "locked", NULL,
     "locked to its projects (recorded; sluice has no per-project runners yet)", 0},
    {'p', 0, "paused", NULL, "made paused: it gets no job until resumed", 0},
    SL_CLI_OPT_DATA(SL_CLI_O_DATA),
    SL_CLI_OPT_DB(SL_CLI_O_DB),
    SL_CLI_OPT_DB_FILE(SL_CLI_O_DB_FILE),
    SL_CLI_OPT_INIT('i'),
};

const struct sl_cli_spec sl_cli_spec_runner = {
    .name = "runner",
    .forms =
        (const char *const[]){
            "create [--tags A,B] [--run-untagged] [--name N] [--locked] "
            "[--paused] [--data DIR | --db URL | --db-file FILE] [--init]",
            "registration-token [--data DIR | --db URL | --db-file FILE] [--init]", NULL},
    .subcommands = "create|registration-token",
    .about = "create: makes a runner and prints its authentication token (glrt-..., shown once)\n"
             "for `sluice agent --token` or `gitlab-runner register --token`.\n"
             "registration-token: prints a new registration token for the legacy\n"
             "`gitlab-runner register --registration-token` flow (the previous one stops\n"
             "working).\n",
    .docs = "docs/agents.md",
    .opts = runner_opts,
    .nopts = SL_ARRAY_LEN(runner_opts),
};

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
    struct sl_cli_store_args so = {.data = "sluice-data"};
    const char *tags = NULL, *name = "";
    char *db = NULL;
    bool init = false, untagged = false, locked = false, paused = false;
    int opt, rc;
    int help = sl_cli_subcommand_help(argc, argv, &sl_cli_spec_runner);
    if (help >= 0)
        return help;
    bool create = !strcmp(argv[1], "create");
    if (!create && strcmp(argv[1], "registration-token") != 0) {
        sl_cli_error("runner: unknown subcommand '%s'; see 'sluice runner --help'", argv[1]);
        return SL_EXIT_USAGE;
    }
    struct sl_cli_args ca;
    sl_cli_args_init(&ca, &sl_cli_spec_runner, argc - 1, argv + 1);
    while ((opt = sl_cli_next(&ca)) > 0) {
        if (sl_cli_store_opt(&so, opt, ca.arg))
            continue;
        switch (opt) {
        case 't':
            tags = ca.arg;
            break;
        case 'u':
            untagged = true;
            break;
        case 'n':
            name = ca.arg;
            break;
        case 'l':
            locked = true;
            break;
        case 'p':
            paused = true;
            break;
        case 'i':
            init = true;
            break;
        }
    }
    if (opt < 0)
        return ca.exit;
    if (sl_cli_too_many(&ca, 0))
        return SL_EXIT_USAGE;
    if (sl_cli_db_url("runner", so.db_arg, so.db_file, &db) < 0)
        return SL_EXIT_USAGE;
    if (!create && (tags || untagged || *name || locked || paused)) {
        sl_cli_error("runner registration-token: takes only --data, --db and --init");
        return SL_EXIT_USAGE;
    }
    struct sl_error err = SL_ERROR_INIT;
    struct sl_store *st = NULL;
    struct sl_store_runner rn = {0};
    char *token = NULL;
    if ((rc = sl_server_store_open(so.data, db, init, &st, &err)) < 0)
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
    free(db);
    return rc < 0 ? SL_EXIT_USAGE : SL_EXIT_OK;
}
