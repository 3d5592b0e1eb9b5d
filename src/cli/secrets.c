/* secrets.c: `sluice secrets rotate-key`, a new key for the sealed CI/CD variables. */
#include "base/compat.h"
#include "base/alloc.h"
#include "base/fs.h"
#include "cli/cli.h"
#include "cli/opts.h"
#include "store/store.h"

#include <inttypes.h>
#include <sodium.h>

static const struct sl_cli_opt secrets_opts[] = {
    SL_CLI_OPT_DATA(SL_CLI_O_DATA),
    SL_CLI_OPT_DB(SL_CLI_O_DB),
    SL_CLI_OPT_DB_FILE(SL_CLI_O_DB_FILE),
    {'k', 0, "secrets-key-file", "FILE", "the key file (default DIR/secrets.key)", 0},
};

const struct sl_cli_spec sl_cli_spec_secrets = {
    .name = "secrets",
    .forms =
        (const char *const[]){
            "rotate-key [--data DIR] [--db URL | --db-file FILE] [--secrets-key-file FILE]", NULL},
    .subcommands = "rotate-key",
    .about = "Makes a new secrets key and re-seals every CI/CD variable under it in one\n"
             "transaction, then replaces the key file. Stop the server first: a running\n"
             "server keeps the old key until it restarts.\n",
    .docs = "docs/secrets.md",
    .opts = secrets_opts,
    .nopts = SL_ARRAY_LEN(secrets_opts),
};

/* The new key goes to FILE.new before the transaction and over FILE after it, so a crash at
 * any point leaves a key that opens the values: the old one (FILE) until the commit, the
 * new one (FILE.new, then FILE) after. */
static int rotate(const char *data, const char *db, const char *keyfile, int64_t *n,
                  struct sl_error *err)
{
    char *url = db ? sl_xstrdup(db) : sl_fs_join(data, "sluice.db");
    char *path = keyfile ? sl_xstrdup(keyfile) : sl_fs_join(data, "secrets.key");
    char *next = sl_xasprintf("%s.new", path);
    struct sl_store *st = NULL;
    unsigned char key[SL_STORE_SEAL_KEY_BYTES];
    int rc;

    if ((rc = sl_store_open(&st, url, err)) < 0 ||
        (rc = sl_store_seal_key_load(st, path, NULL, err)) < 0)
        goto out;
    randombytes_buf(key, sizeof(key));
    if ((rc = sl_store_seal_key_write(next, key, err)) < 0 ||
        (rc = sl_store_rotate_seal_key(st, key, n, err)) < 0)
        goto out;
    if (rename(next, path) < 0)
        rc = sl_error_set_errno(err, SL_EIO,
                                "the values are sealed under the new key in %s, but it could not "
                                "replace %s: move it there by hand",
                                next, path);
out:
    if (rc < 0 && rc != SL_EIO)
        remove(next);
    sodium_memzero(key, sizeof(key));
    sl_store_close(st);
    free(next);
    free(path);
    free(url);
    return rc;
}

int sl_cmd_secrets(int argc, char **argv)
{
    struct sl_cli_store_args so = {.data = "sluice-data"};
    const char *keyfile = NULL;
    char *db = NULL;
    int opt;

    int help = sl_cli_subcommand_help(argc, argv, &sl_cli_spec_secrets);
    if (help >= 0)
        return help;
    if (strcmp(argv[1], "rotate-key") != 0) {
        sl_cli_error("secrets: unknown subcommand '%s'; see 'sluice secrets --help'", argv[1]);
        return SL_EXIT_USAGE;
    }
    struct sl_cli_args ca;
    sl_cli_args_init(&ca, &sl_cli_spec_secrets, argc - 1, argv + 1);
    while ((opt = sl_cli_next(&ca)) > 0) {
        if (sl_cli_store_opt(&so, opt, ca.arg))
            continue;
        switch (opt) {
        case 'k':
            keyfile = ca.arg;
            break;
        }
    }
    if (opt < 0)
        return ca.exit;
    if (sl_cli_too_many(&ca, 0))
        return SL_EXIT_USAGE;
    if (sl_cli_db_url("secrets", so.db_arg, so.db_file, &db) < 0)
        return SL_EXIT_USAGE;
    struct sl_error err = SL_ERROR_INIT;
    int64_t n = 0;
    int rc = rotate(so.data, db, keyfile, &n, &err);
    free(db);
    if (rc < 0) {
        sl_cli_error("secrets rotate-key: %s", sl_error_format(&err));
        sl_error_release(&err);
        return SL_EXIT_USAGE;
    }
    printf("re-sealed %" PRId64 " value%s under a new key\n", n, n == 1 ? "" : "s");
    return SL_EXIT_OK;
}
