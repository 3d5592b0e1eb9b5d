/* tokens.c: API tokens. The secret is 32 random bytes; only its SHA-256 is stored.
 *
 * A fast hash is right here (no password hashing): the input has 256 bits of entropy, so
 * there is nothing to brute-force, and verification runs on every request. */
#include "base/compat.h"
#include "base/alloc.h"
#include "store/backend.h"

#include <pthread.h>
#include <sodium.h>

/* last_used_at is precise to this: a write per request would serialise every API call */
#define LAST_USED_GRANULARITY_MS 60000

/* The cache of verified tokens (backend.h): a token verified from its row is taken from
 * here for up to CACHE_TTL_MS, while its last_used_at needs no write and it has not
 * expired. sl_store_token_revoke drops it at once; GEN, bumped by every revoke, keeps a
 * verification that read the row before a revoke committed from putting it back after.
 * A revoke by another process on the same SQLite file (no server does that; the CLI has no
 * revoke) takes effect here within CACHE_TTL_MS. Only hashes are kept, as in the store. */
#define CACHE_N 32
#define CACHE_TTL_MS 5000

struct cached_token {
    char hash[DB_TOKEN_HASH_HEX + 1];
    struct sl_store_token t; /* t.id 0: a free slot */
    int64_t at;              /* when it was read from its row */
};

struct db_token_cache {
    pthread_mutex_t mu;
    uint64_t gen;
    size_t next; /* the slot a new token takes when its hash has none */
    struct cached_token e[CACHE_N];
};

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

struct db_token_cache *sl_db_token_cache_new(void)
{
    struct db_token_cache *c = sl_xcalloc(1, sizeof(*c));
    pthread_mutex_init(&c->mu, NULL);
    return c;
}

void sl_db_token_cache_free(struct db_token_cache *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < CACHE_N; i++)
        sl_store_token_release(&c->e[i].t);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

static void token_copy(const struct sl_store_token *from, struct sl_store_token *to)
{
    *to = *from;
    to->name = sl_xstrdup(from->name);
    to->role = sl_xstrdup(from->role);
}

/* True when HASH's token is cached and still good at NOW (copied into *OUT if not NULL);
 * *GEN the cache's generation before the caller reads the row. */
static bool cache_get(struct db_token_cache *c, const char *hash, int64_t now,
                      struct sl_store_token *out, uint64_t *gen)
{
    bool hit = false;
    pthread_mutex_lock(&c->mu);
    *gen = c->gen;
    for (size_t i = 0; i < CACHE_N; i++) {
        struct cached_token *e = &c->e[i];
        if (!e->t.id || sodium_memcmp(e->hash, hash, DB_TOKEN_HASH_HEX) != 0)
            continue;
        hit = now >= e->at && now - e->at < CACHE_TTL_MS &&
              !(e->t.expires_at && e->t.expires_at <= now) &&
              e->t.last_used_at >= now - LAST_USED_GRANULARITY_MS;
        if (hit && out)
            token_copy(&e->t, out);
        if (!hit) /* read again from its row, which puts it back */
            sl_store_token_release(&e->t);
        break;
    }
    pthread_mutex_unlock(&c->mu);
    return hit;
}

static void cache_put(struct db_token_cache *c, const char *hash, const struct sl_store_token *t,
                      int64_t now, uint64_t gen)
{
    pthread_mutex_lock(&c->mu);
    if (c->gen == gen) { /* no revoke since the row was read */
        struct cached_token *e = NULL;
        for (size_t i = 0; i < CACHE_N && !e; i++)
            if (c->e[i].t.id && !strcmp(c->e[i].hash, hash))
                e = &c->e[i];
        if (!e)
            e = &c->e[c->next++ % CACHE_N];
        sl_store_token_release(&e->t);
        memcpy(e->hash, hash, sizeof(e->hash));
        token_copy(t, &e->t);
        e->at = now;
    }
    pthread_mutex_unlock(&c->mu);
}

static void cache_drop(struct db_token_cache *c, int64_t id)
{
    pthread_mutex_lock(&c->mu);
    c->gen++;
    for (size_t i = 0; i < CACHE_N; i++)
        if (c->e[i].t.id == id)
            sl_store_token_release(&c->e[i].t);
    pthread_mutex_unlock(&c->mu);
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
    struct db_token_cache *c = sl_db_token_cache(st);
    uint64_t gen = 0;
    if (c && cache_get(c, hash, now, out, &gen))
        return 0;
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
    if (out || c) {
        struct sl_store_token t = {0};
        read_token(&rows, 0, &t);
        if (t.last_used_at < now - LAST_USED_GRANULARITY_MS)
            t.last_used_at = now;
        if (c)
            cache_put(c, hash, &t, now, gen);
        if (out)
            *out = t;
        else
            sl_store_token_release(&t);
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
    /* refused from now on, by this process's every thread */
    if (sl_db_token_cache(st))
        cache_drop(sl_db_token_cache(st), id);
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
