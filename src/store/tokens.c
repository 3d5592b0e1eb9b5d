/* tokens.c: API tokens. The secret is 32 random bytes; only its SHA-256 is stored.
 *
 * A fast hash is right here (no password hashing): the input has 256 bits of entropy, so
 * there is nothing to brute-force, and verification runs on every request. */
#include "base/compat.h"
#include "base/alloc.h"
#include "store/backend.h"

#include <sodium.h>

/* last_used_at is precise to this: a write per request would serialise every API call */
#define LAST_USED_GRANULARITY_MS 60000

static const char *const roles[] = {"admin", "maintainer", "developer", "viewer"};

void sl_store_token_release(struct sl_store_token *t)
{
    if (!t)
        return;
    free(t->name);
    free(t->role);
    *t = (struct sl_store_token){0};
}

void sl_store_tokens_free(struct sl_store_token *arr, size_t n)
{
    for (size_t i = 0; i < n; i++)
        sl_store_token_release(&arr[i]);
    free(arr);
}

#define TOKEN_COLS "id, name, role, created_at, last_used_at, revoked, expires_at"

static void read_token(const struct db_rows *r, size_t row, struct sl_store_token *t)
{
    t->id = sl_db_get_int(r, row, 0);
    t->name = sl_db_get_str0(r, row, 1);
    t->role = sl_db_get_str0(r, row, 2);
    t->created_at = sl_db_get_int(r, row, 3);
    t->last_used_at = sl_db_get_int(r, row, 4);
    t->revoked = sl_db_get_int(r, row, 5) != 0;
    t->expires_at = sl_db_get_int(r, row, 6);
}

void sl_store_token_generate(char out[SL_STORE_TOKEN_LEN + 1])
{
    unsigned char raw[32];
    randombytes_buf(raw, sizeof(raw));
    memcpy(out, SL_STORE_TOKEN_PREFIX, strlen(SL_STORE_TOKEN_PREFIX));
    sodium_bin2hex(out + strlen(SL_STORE_TOKEN_PREFIX),
                   SL_STORE_TOKEN_LEN + 1 - strlen(SL_STORE_TOKEN_PREFIX), raw, sizeof(raw));
    sodium_memzero(raw, sizeof(raw));
}

int sl_store_token_add(struct sl_store *st, const char *name, const char *role, const char *secret,
                       int64_t now, int64_t expires_at, int64_t *id_out, struct sl_error *err)
{
    char hash[DB_TOKEN_HASH_HEX + 1];
    struct db_rows rows = {0};
    bool known = false;
    int rc;

    if ((rc = sl_db_check_text(name, true, "token name", err)) < 0 ||
        (rc = sl_db_check_text(role, true, "token role", err)) < 0)
        return rc;
    for (size_t i = 0; i < SL_ARRAY_LEN(roles); i++)
        known = known || sl_streq(role, roles[i]);
    if (!known)
        return sl_error_set(err, SL_EINVAL,
                            "unknown role '%s' (admin, maintainer, developer or viewer)", role);
    if (expires_at && expires_at <= now)
        return sl_error_set(err, SL_EINVAL, "expires_at must be in the future");
    sl_db_token_hash(secret, hash);
    struct db_value v[] = {db_text(name), db_text(role), db_text(hash), db_int(now),
                           db_int_or_null(expires_at)};
    rc = sl_db_run(st, true,
                   "INSERT INTO tokens (name, role, token_hash, created_at, expires_at) "
                   "VALUES (?, ?, ?, ?, ?) RETURNING id",
                   v, SL_ARRAY_LEN(v), &rows, NULL, err);
    if (rc == 0 && id_out)
        *id_out = sl_db_get_int(&rows, 0, 0);
    sl_db_rows_release(&rows);
    return rc;
}

int sl_store_token_create(struct sl_store *st, const char *name, const char *role, int64_t now,
                          int64_t expires_at, char **secret_out, int64_t *id_out,
                          struct sl_error *err)
{
    char secret[SL_STORE_TOKEN_LEN + 1];
    sl_store_token_generate(secret);
    int rc = sl_store_token_add(st, name, role, secret, now, expires_at, id_out, err);
    if (rc == 0)
        *secret_out = sl_xstrdup(secret);
    sodium_memzero(secret, sizeof(secret));
    return rc;
}

int sl_store_token_verify(struct sl_store *st, const char *secret, int64_t now,
                          struct sl_store_token *out, struct sl_error *err)
{
    char hash[DB_TOKEN_HASH_HEX + 1];
    struct db_rows rows = {0};
    int rc;

    if (!secret || !sl_db_token_well_formed(secret, SL_STORE_TOKEN_PREFIX, SL_STORE_TOKEN_LEN))
        return sl_error_set(err, SL_ENOENT, "invalid token");
    sl_db_token_hash(secret, hash);
    struct db_value hv = db_text(hash);
    rc = sl_db_run(st, false, "SELECT " TOKEN_COLS ", token_hash FROM tokens WHERE token_hash = ?",
                   &hv, 1, &rows, NULL, err);
    if (rc < 0)
        goto out;
    /* the lookup found it by equality; the constant-time compare keeps that true even if
     * an index or collation ever matched loosely */
    if (rows.nrows == 0 || sl_db_cell(&rows, 0, 7)->len != DB_TOKEN_HASH_HEX ||
        sodium_memcmp(sl_db_cell(&rows, 0, 7)->data, hash, DB_TOKEN_HASH_HEX) != 0 ||
        sl_db_get_int(&rows, 0, 5) != 0 ||
        (sl_db_get_int(&rows, 0, 6) && sl_db_get_int(&rows, 0, 6) <= now)) {
        rc = sl_error_set(err, SL_ENOENT, "invalid token");
        goto out;
    }
    int64_t id = sl_db_get_int(&rows, 0, 0);
    if (sl_db_get_int(&rows, 0, 4) < now - LAST_USED_GRANULARITY_MS) {
        struct db_value v[] = {db_int(now), db_int(id)};
        if ((rc = sl_db_run(st, true, "UPDATE tokens SET last_used_at = ? WHERE id = ?", v,
                            SL_ARRAY_LEN(v), NULL, NULL, err)) < 0)
            goto out;
    }
    if (out) {
        read_token(&rows, 0, out);
        if (out->last_used_at < now - LAST_USED_GRANULARITY_MS)
            out->last_used_at = now;
    }
out:
    sl_db_rows_release(&rows);
    return rc;
}

int sl_store_token_revoke(struct sl_store *st, int64_t id, struct sl_error *err)
{
    int64_t changes = 0;
    struct db_value v = db_int(id);
    int rc = sl_db_run(st, true, "UPDATE tokens SET revoked = 1 WHERE id = ?", &v, 1, NULL,
                       &changes, err);
    if (rc == 0 && changes == 0)
        rc = sl_error_set(err, SL_ENOENT, "token %" PRId64 " does not exist", id);
    return rc;
}

int sl_store_token_list(struct sl_store *st, const struct sl_store_page *page,
                        struct sl_store_token **out, size_t *n, struct sl_error *err)
{
    struct db_rows rows = {0};
    struct db_value v[] = {db_int(page ? page->after : 0), db_int(sl_db_page_limit(page))};
    int rc =
        sl_db_run(st, false, "SELECT " TOKEN_COLS " FROM tokens WHERE id > ? ORDER BY id LIMIT ?",
                  v, SL_ARRAY_LEN(v), &rows, NULL, err);
    if (rc == 0)
        SL_DB_READ_ALL(&rows, read_token, out, n);
    sl_db_rows_release(&rows);
    return rc;
}
