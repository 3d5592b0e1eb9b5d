/* seal.c: the key variables are sealed under, and sealing itself.
 *
 * A sealed value is: version byte 1, a random 24-byte nonce, then the XChaCha20-Poly1305
 * (IETF) ciphertext and tag. The additional data names the row's project, so a sealed
 * value copied into another project's row (by someone with write access to the database
 * but not the key) does not open there. Random nonces are safe at XChaCha's 192 bits. */
#include "base/compat.h"
#include "base/alloc.h"
#include "base/fs.h"
#include "store/backend.h"

#include <sodium.h>

#define SEAL_VERSION 1
#define NONCE crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define TAG crypto_aead_xchacha20poly1305_ietf_ABYTES
#define KEY_HEX (2 * SL_STORE_SEAL_KEY_BYTES)

/* The additional data: what the value is (a variable, a webhook secret) and whose, so a
 * sealed value opens only in the column and the project's row it was sealed for. */
static size_t ad_for(const char *purpose, int64_t project_id, char *buf, size_t size)
{
    int n = snprintf(buf, size, "sluice-%s:%" PRId64, purpose, project_id);
    return (size_t)n;
}

void sl_db_seal(const unsigned char *key, int64_t project_id, const char *plain, size_t len,
                unsigned char **out, size_t *out_len)
{
    sl_db_seal_as(key, "variable", project_id, plain, len, out, out_len);
}

int sl_db_unseal(const unsigned char *key, int64_t project_id, const struct sl_db_cell *cell,
                 char **out, struct sl_error *err)
{
    return sl_db_unseal_as(key, "variable", project_id, cell, out, err);
}

void sl_db_seal_as(const unsigned char *key, const char *purpose, int64_t project_id,
                   const char *plain, size_t len, unsigned char **out, size_t *out_len)
{
    char ad[64];
    size_t adlen = ad_for(purpose, project_id, ad, sizeof(ad));
    unsigned char *o = sl_xmalloc(1 + NONCE + len + TAG);
    unsigned long long clen = 0;

    o[0] = SEAL_VERSION;
    randombytes_buf(o + 1, NONCE);
    crypto_aead_xchacha20poly1305_ietf_encrypt(o + 1 + NONCE, &clen, (const unsigned char *)plain,
                                               len, (const unsigned char *)ad, adlen, NULL, o + 1,
                                               key);
    *out = o;
    *out_len = 1 + NONCE + (size_t)clen;
}

int sl_db_unseal_as(const unsigned char *key, const char *purpose, int64_t project_id,
                    const struct sl_db_cell *cell, char **out, struct sl_error *err)
{
    char ad[64];
    size_t adlen = ad_for(purpose, project_id, ad, sizeof(ad));
    const unsigned char *c = (const unsigned char *)(cell ? cell->data : NULL);
    unsigned long long plen = 0;

    if (!c || cell->len < 1 + NONCE + TAG || c[0] != SEAL_VERSION)
        return sl_error_set(err, SL_EINVAL, "a sealed value is malformed");
    size_t clen = cell->len - 1 - NONCE;
    char *p = sl_xmalloc(clen - TAG + 1);
    if (crypto_aead_xchacha20poly1305_ietf_decrypt((unsigned char *)p, &plen, NULL, c + 1 + NONCE,
                                                   clen, (const unsigned char *)ad, adlen, c + 1,
                                                   key) != 0) {
        free(p);
        return sl_error_set(err, SL_EINVAL,
                            "a sealed value does not open under this secrets key "
                            "(wrong key file, or the row was tampered with)");
    }
    p[plen] = '\0';
    *out = p;
    return 0;
}

int sl_store_seal_key_write(const char *path, const unsigned char key[SL_STORE_SEAL_KEY_BYTES],
                            struct sl_error *err)
{
    char hex[KEY_HEX + 2];
    sodium_bin2hex(hex, KEY_HEX + 1, key, SL_STORE_SEAL_KEY_BYTES);
    hex[KEY_HEX] = '\n';
    int rc = sl_fs_write_atomic(path, hex, KEY_HEX + 1, 0600, err);
    sodium_memzero(hex, sizeof(hex));
    return rc;
}

int sl_store_seal_key_file(const char *path, bool create,
                           unsigned char key[SL_STORE_SEAL_KEY_BYTES], bool *created,
                           struct sl_error *err)
{
    char *text = NULL;
    size_t len = 0, got = 0;
    const char *end = NULL;
    int rc;

    if (sodium_init() < 0)
        return sl_error_set(err, SL_EIO, "libsodium cannot initialise");
    if (created)
        *created = false;
    rc = sl_fs_read_file(path, 4096, &text, &len, err);
    if (rc == SL_ENOENT && create) {
        sl_error_release(err);
        unsigned char k[SL_STORE_SEAL_KEY_BYTES];
        randombytes_buf(k, sizeof(k));
        if ((rc = sl_store_seal_key_write(path, k, err)) == 0) {
            memcpy(key, k, sizeof(k));
            if (created)
                *created = true;
        }
        sodium_memzero(k, sizeof(k));
        return rc;
    }
    if (rc < 0)
        return rc;
    while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r'))
        len--;
    unsigned char k[SL_STORE_SEAL_KEY_BYTES];
    if (len != KEY_HEX || sodium_hex2bin(k, sizeof(k), text, len, NULL, &got, &end) != 0 ||
        got != sizeof(k)) {
        rc = sl_error_set(err, SL_EINVAL, "%s: a secrets key file holds 64 hex digits", path);
    } else {
        memcpy(key, k, sizeof(k));
    }
    sodium_memzero(k, sizeof(k));
    sodium_memzero(text, len);
    free(text);
    return rc;
}

int sl_store_sealed_count(struct sl_store *st, int64_t *n, struct sl_error *err)
{
    struct db_rows rows = {0};
    int rc = sl_db_run(st, false,
                       "SELECT (SELECT COUNT(*) FROM variables) + (SELECT COUNT(*) FROM projects "
                       "WHERE webhook_secret_sealed IS NOT NULL) + (SELECT COUNT(*) FROM "
                       "forge_connections) + (SELECT COUNT(*) FROM notification_rules WHERE "
                       "secret_sealed IS NOT NULL)",
                       NULL, 0, &rows, NULL, err);
    if (rc == 0)
        *n = sl_db_get_int(&rows, 0, 0);
    sl_db_rows_release(&rows);
    return rc;
}

/* The sealed columns other than variables' values, each with its purpose and the column
 * of the project it is bound to: rotation re-seals them all. */
static const struct sealed_column {
    const char *table, *id, *project, *column, *purpose;
} sealed_columns[] = {
    {"projects", "id", "id", "webhook_secret_sealed", "webhook"},
    {"forge_connections", "project_id", "project_id", "token_sealed", "forge"},
    {"notification_rules", "id", "project_id", "secret_sealed", "notify"},
};

/* Re-seals column C from OLD to NEW inside DC's transaction. */
static int reseal_column(struct db_conn *dc, const struct sealed_column *c,
                         const unsigned char *old, const unsigned char *new_key, int64_t *count,
                         struct sl_error *err)
{
    struct db_rows rows = {0};
    char *sel = sl_xasprintf("SELECT %s, %s, %s FROM %s WHERE %s IS NOT NULL", c->id, c->project,
                             c->column, c->table, c->column);
    char *upd = sl_xasprintf("UPDATE %s SET %s = ? WHERE %s = ?", c->table, c->column, c->id);
    int rc = sl_db_exec(dc, sel, NULL, 0, &rows, NULL, err);
    for (size_t i = 0; rc == 0 && i < rows.nrows; i++) {
        int64_t id = sl_db_get_int(&rows, i, 0), pid = sl_db_get_int(&rows, i, 1);
        char *plain = NULL;
        if ((rc = sl_db_unseal_as(old, c->purpose, pid, sl_db_cell(&rows, i, 2), &plain, err)) < 0)
            break;
        unsigned char *sealed = NULL;
        size_t slen = 0;
        sl_db_seal_as(new_key, c->purpose, pid, plain, strlen(plain), &sealed, &slen);
        sodium_memzero(plain, strlen(plain));
        free(plain);
        struct db_value v[] = {db_blob(sealed, slen), db_int(id)};
        rc = sl_db_exec(dc, upd, v, SL_ARRAY_LEN(v), NULL, NULL, err);
        free(sealed);
        (*count)++;
    }
    free(sel);
    free(upd);
    sl_db_rows_release(&rows);
    return rc;
}

/* Seals the webhook secrets a store from before migration 0010 keeps in clear. */
static int seal_clear_webhook_secrets(struct sl_store *st, const unsigned char *key,
                                      struct sl_error *err)
{
    struct db_conn dc;
    struct db_rows rows = {0};
    int rc;

    if ((rc = sl_db_acquire(st, true, &dc, err)) < 0)
        return rc;
    if ((rc = sl_db_begin(&dc, err)) < 0)
        goto release;
    rc = sl_db_exec(&dc, "SELECT id, webhook_secret FROM projects WHERE webhook_secret <> ''", NULL,
                    0, &rows, NULL, err);
    for (size_t i = 0; rc == 0 && i < rows.nrows; i++) {
        int64_t id = sl_db_get_int(&rows, i, 0);
        const struct sl_db_cell *plain = sl_db_cell(&rows, i, 1);
        unsigned char *sealed = NULL;
        size_t slen = 0;
        sl_db_seal_as(key, "webhook", id, plain->data, plain->len, &sealed, &slen);
        struct db_value v[] = {db_blob(sealed, slen), db_int(id)};
        rc = sl_db_exec(&dc,
                        "UPDATE projects SET webhook_secret_sealed = ?, webhook_secret = '' WHERE "
                        "id = ?",
                        v, SL_ARRAY_LEN(v), NULL, NULL, err);
        free(sealed);
    }
    rc = sl_db_end(&dc, rc, err);
release:
    sl_db_rows_release(&rows);
    sl_db_release(&dc);
    return rc;
}

int sl_store_rotate_seal_key(struct sl_store *st,
                             const unsigned char new_key[SL_STORE_SEAL_KEY_BYTES],
                             int64_t *resealed, struct sl_error *err)
{
    const unsigned char *old = sl_db_seal_key(st);
    struct db_conn dc;
    struct db_rows rows = {0};
    int64_t count = 0;
    int rc;

    if (!old)
        return sl_error_set(err, SL_EINVAL, "the store has no secrets key to rotate from");
    if ((rc = sl_db_acquire(st, true, &dc, err)) < 0)
        return rc;
    if ((rc = sl_db_begin(&dc, err)) < 0)
        goto release;
    rc = sl_db_exec(&dc, "SELECT id, COALESCE(project_id, 0), value_sealed FROM variables", NULL, 0,
                    &rows, NULL, err);
    for (size_t i = 0; rc == 0 && i < rows.nrows; i++) {
        char *plain = NULL;
        int64_t pid = sl_db_get_int(&rows, i, 1);
        if ((rc = sl_db_unseal(old, pid, sl_db_cell(&rows, i, 2), &plain, err)) < 0)
            break;
        unsigned char *sealed = NULL;
        size_t slen = 0;
        sl_db_seal(new_key, pid, plain, strlen(plain), &sealed, &slen);
        sodium_memzero(plain, strlen(plain));
        free(plain);
        struct db_value v[] = {db_blob(sealed, slen), db_int(sl_db_get_int(&rows, i, 0))};
        rc = sl_db_exec(&dc, "UPDATE variables SET value_sealed = ? WHERE id = ?", v,
                        SL_ARRAY_LEN(v), NULL, NULL, err);
        free(sealed);
        count++;
    }
    for (size_t i = 0; rc == 0 && i < SL_ARRAY_LEN(sealed_columns); i++)
        rc = reseal_column(&dc, &sealed_columns[i], old, new_key, &count, err);
    rc = sl_db_end(&dc, rc, err);
    if (rc == 0) {
        sl_store_set_seal_key(st, new_key);
        if (resealed)
            *resealed = count;
    }
release:
    sl_db_rows_release(&rows);
    sl_db_release(&dc);
    return rc;
}

int sl_store_seal_key_load(struct sl_store *st, const char *path, bool *created,
                           struct sl_error *err)
{
    unsigned char key[SL_STORE_SEAL_KEY_BYTES];
    struct db_rows rows = {0};
    int64_t n = 0;
    bool made = false;
    int rc;

    if ((rc = sl_store_sealed_count(st, &n, err)) < 0)
        return rc;
    rc = sl_store_seal_key_file(path, n == 0, key, &made, err);
    if (rc == SL_ENOENT) {
        sl_error_release(err);
        rc = sl_error_set(err, SL_EINVAL,
                          "the store holds %" PRId64 " sealed variable value%s but the secrets "
                          "key %s does not exist: restore it from a backup (or point "
                          "--secrets-key-file at it); sluice does not start without it",
                          n, n == 1 ? "" : "s", path);
        goto out;
    }
    if (rc < 0)
        goto out;
    /* a wrong key must stop the start, not give jobs empty secrets later */
    if (n > 0) {
        rc = sl_db_run(st, false,
                       "SELECT COALESCE(project_id, 0), value_sealed FROM variables ORDER BY id "
                       "LIMIT 1",
                       NULL, 0, &rows, NULL, err);
        char *plain = NULL;
        const char *purpose = "variable";
        /* no variable: check the first of the other sealed columns that holds a value */
        for (size_t i = 0; rc == 0 && rows.nrows == 0 && i < SL_ARRAY_LEN(sealed_columns); i++) {
            const struct sealed_column *c = &sealed_columns[i];
            char *sql = sl_xasprintf("SELECT %s, %s FROM %s WHERE %s IS NOT NULL ORDER BY %s "
                                     "LIMIT 1",
                                     c->project, c->column, c->table, c->column, c->id);
            sl_db_rows_release(&rows);
            rc = sl_db_run(st, false, sql, NULL, 0, &rows, NULL, err);
            free(sql);
            purpose = c->purpose;
        }
        if (rc == 0 && rows.nrows == 1 &&
            sl_db_unseal_as(key, purpose, sl_db_get_int(&rows, 0, 0), sl_db_cell(&rows, 0, 1),
                            &plain, NULL) < 0)
            rc = sl_error_set(err, SL_EINVAL,
                              "the secrets key %s does not open the stored %s values: it is "
                              "not the key they were sealed with",
                              path, !strcmp(purpose, "variable") ? "variable" : "sealed");
        free(plain);
        if (rc < 0)
            goto out;
    }
    if ((rc = seal_clear_webhook_secrets(st, key, err)) < 0)
        goto out;
    sl_store_set_seal_key(st, key);
    if (created)
        *created = made;
out:
    sodium_memzero(key, sizeof(key));
    sl_db_rows_release(&rows);
    return rc;
}
