/* secrets.c: `sluice secrets rotate-key`, a new key for the sealed CI/CD variables. */
#include "base/compat.h"
#include "base/alloc.h"
#include "base/fs.h"
#include "cli/cli.h"
#include "store/store.h"

#include <getopt.h>
#include <inttypes.h>
#include <sodium.h>

static void usage(FILE *f)
{
    fprintf(f,
            "usage: sluice secrets rotate-key [--data DIR] [--db URL] [--secrets-key-file FILE]\n\n"
            "Makes a new secrets key and re-seals every CI/CD variable under it in one\n"
            "transaction, then replaces the key file. Stop the server first: a running\n"
            "server keeps the old key until it restarts.\n\n"
            "Options:\n"
            "  --data DIR               the server's data directory (default ./sluice-data)\n"
            "  --db URL                 the store, when the server uses --db\n"
            "  --secrets-key-file FILE  the key file (default DIR/secrets.key)\n"
            "  -h, --help               show this help\n");
}

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
    static const struct option longopts[] = {{"data", required_argument, NULL, 'd'},
                                             {"db", required_argument, NULL, 'b'},
                                             {"secrets-key-file", required_argument, NULL, 'k'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    const char *data = "sluice-data", *db = NULL, *keyfile = NULL;
    int opt;

    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? SL_EXIT_USAGE : SL_EXIT_OK;
    }
    if (strcmp(argv[1], "rotate-key") != 0) {
        sl_cli_error("secrets: unknown subcommand '%s'; see 'sluice secrets --help'", argv[1]);
        return SL_EXIT_USAGE;
    }
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc - 1, argv + 1, "h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'd':
            data = optarg;
            break;
        case 'b':
            db = optarg;
            break;
        case 'k':
            keyfile = optarg;
            break;
        case 'h':
            usage(stdout);
            return SL_EXIT_OK;
        default:
            sl_cli_error("secrets: unknown option '%s'", argv[optind]);
            return SL_EXIT_USAGE;
        }
    }
    if (optind < argc - 1) {
        sl_cli_error("secrets: unexpected argument '%s'", argv[optind + 1]);
        return SL_EXIT_USAGE;
    }
    struct sl_error err = SL_ERROR_INIT;
    int64_t n = 0;
    if (rotate(data, db, keyfile, &n, &err) < 0) {
        sl_cli_error("secrets rotate-key: %s", sl_error_format(&err));
        sl_error_release(&err);
        return SL_EXIT_USAGE;
    }
    printf("re-sealed %" PRId64 " value%s under a new key\n", n, n == 1 ? "" : "s");
    return SL_EXIT_OK;
}
