/* runners.c: remote runners, the instance's registration token and job tokens. Tokens have
 * 256 (registration: 160) random bits, so a fast hash is right (nothing to brute-force) and
 * only the hash is stored, as for API tokens (tokens.c). */
#include "base/compat.h"
#include "base/alloc.h"
#include "base/str.h"
#include "store/backend.h"

#include <sodium.h>

/* a reported value changes rarely; contacted_at is precise to this */
#define CONTACT_GRANULARITY_MS 3000

#define RUNNER_COLS                                                                                \
    "id, name, description, tags, run_untagged, locked, paused, created_at, contacted_at, "        \
    "version, platform, architecture, executor"

void sl_db_token_hash(const char *secret, char out[DB_TOKEN_HASH_HEX + 1])
{
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, (const unsigned char *)secret, strlen(secret));
    sodium_bin2hex(out, DB_TOKEN_HASH_HEX + 1, h, sizeof(h));
}

void sl_db_token_generate(const char *prefix, size_t nbytes, char *out)
{
    unsigned char raw[64];
    size_t pl = strlen(prefix);
    if (nbytes > sizeof(raw))
        nbytes = sizeof(raw);
    randombytes_buf(raw, nbytes);
    memcpy(out, prefix, pl);
    sodium_bin2hex(out + pl, nbytes * 2 + 1, raw, nbytes);
    sodium_memzero(raw, sizeof(raw));
}

bool sl_db_token_well_formed(const char *secret, const char *prefix, size_t len)
{
    if (!secret || strlen(secret) != len || !sl_starts_with(secret, prefix))
        return false;
    for (const char *p = secret + strlen(prefix); *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return false;
    return true;
}

void sl_store_runner_release(struct sl_store_runner *r)
{
    if (!r)
        return;
    free(r->name);
    free(r->description);
    for (size_t i = 0; i < r->ntags; i++)
        free(r->tags[i]);
    free(r->tags);
    free(r->version);
    free(r->platform);
    free(r->architecture);
    free(r->executor);
    *r = (struct sl_store_runner){0};
}

void sl_store_runners_free(struct sl_store_runner *arr, size_t n)
{
    for (size_t i = 0; i < n; i++)
        sl_store_runner_release(&arr[i]);
    free(arr);
}

static void split_tags(const char *s, struct sl_store_runner *r)
{
    size_t cap = 0;
    while (s && *s) {
        size_t n = strcspn(s, ",");
        if (n) {
            SL_GROW(r->tags, cap, r->ntags + 1);
            r->tags[r->ntags++] = sl_xstrndup(s, n);
        }
        s += n + (s[n] == ',');
    }
}

static void read_runner(const struct db_rows *rows, size_t i, struct sl_store_runner *r)
{
    *r = (struct sl_store_runner){0};
    r->id = sl_db_get_int(rows, i, 0);
    r->name = sl_db_get_str0(rows, i, 1);
    r->description = sl_db_get_str0(rows, i, 2);
    split_tags(sl_db_cell(rows, i, 3)->data, r);
    r->run_untagged = sl_db_get_int(rows, i, 4) != 0;
    r->locked = sl_db_get_int(rows, i, 5) != 0;
    r->paused = sl_db_get_int(rows, i, 6) != 0;
    r->created_at = sl_db_get_int(rows, i, 7);
    r->contacted_at = sl_db_get_int(rows, i, 8);
    r->version = sl_db_get_str0(rows, i, 9);
    r->platform = sl_db_get_str0(rows, i, 10);
    r->architecture = sl_db_get_str0(rows, i, 11);
    r->executor = sl_db_get_str0(rows, i, 12);
}

static int check_short(const char *s, const char *what, struct sl_error *err)
{
    if (s && strlen(s) > SL_STORE_RUNNER_TEXT_MAX)
        return sl_error_set(err, SL_ELIMIT, "a runner's %s is over %d bytes", what,
                            SL_STORE_RUNNER_TEXT_MAX);
    return 0;
}

/* The tags of R joined by commas into OUT. */
static int join_tags(const struct sl_store_runner *r, struct sl_str *out, struct sl_error *err)
{
    if (r->ntags > SL_STORE_TAGS_MAX)
        return sl_error_set(err, SL_ELIMIT, "a runner with %zu tags (max %d)", r->ntags,
                            SL_STORE_TAGS_MAX);
    for (size_t i = 0; i < r->ntags; i++) {
        const char *t = r->tags[i];
        if (!t || !*t || strchr(t, ',') || strlen(t) > 255)
            return sl_error_set(err, SL_EINVAL, "a runner tag must be 1 to 255 bytes without ','");
        if (i)
            sl_str_addc(out, ',');
        sl_str_adds(out, t);
    }
    return 0;
}

int sl_store_runner_create(struct sl_store *st, const struct sl_store_runner *r, int64_t now,
                           char **token_out, int64_t *id_out, struct sl_error *err)
{
    char token[SL_STORE_RUNNER_TOKEN_LEN + 1], hash[DB_TOKEN_HASH_HEX + 1];
    struct sl_str tags = SL_STR_INIT;
    struct db_rows rows = {0};
    int rc;

    if ((rc = check_short(r->name, "name", err)) < 0 ||
        (rc = check_short(r->description, "description", err)) < 0 ||
        (rc = join_tags(r, &tags, err)) < 0)
        goto out;
    sl_db_token_generate(SL_STORE_RUNNER_TOKEN_PREFIX, 32, token);
    sl_db_token_hash(token, hash);
    struct db_value v[] = {db_text(r->name ? r->name : ""),
                           db_text(r->description ? r->description : ""),
                           db_text(tags.buf ? tags.buf : ""),
                           db_int(r->run_untagged),
                           db_int(r->locked),
                           db_int(r->paused),
                           db_text(hash),
                           db_int(now)};
    rc = sl_db_run(st, true,
                   "INSERT INTO runners (name, description, tags, run_untagged, locked, paused, "
                   "token_hash, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                   v, SL_ARRAY_LEN(v), &rows, NULL, err);
    if (rc < 0)
        goto out;
    if (id_out)
        *id_out = sl_db_get_int(&rows, 0, 0);
    *token_out = sl_xstrdup(token);
out:
    sodium_memzero(token, sizeof(token));
    sl_db_rows_release(&rows);
    sl_str_release(&tags);
    return rc;
}

int sl_store_runner_get(struct sl_store *st, int64_t id, struct sl_store_runner *out,
                        struct sl_error *err)
{
    struct db_rows rows = {0};
    struct db_value v = db_int(id);
    int rc = sl_db_run(st, false, "SELECT " RUNNER_COLS " FROM runners WHERE id = ?", &v, 1, &rows,
                       NULL, err);
    if (rc == 0 && rows.nrows == 0)
        rc = sl_error_set(err, SL_ENOENT, "no runner %" PRId64, id);
    if (rc == 0)
        read_runner(&rows, 0, out);
    sl_db_rows_release(&rows);
    return rc;
}

int sl_store_runner_list(struct sl_store *st, const struct sl_store_page *page,
                         struct sl_store_runner **out, size_t *n, struct sl_error *err)
{
    struct db_rows rows = {0};
    struct db_value v[] = {db_int(page ? page->after : 0), db_int(sl_db_page_limit(page))};
    int rc =
        sl_db_run(st, false, "SELECT " RUNNER_COLS " FROM runners WHERE id > ? ORDER BY id LIMIT ?",
                  v, SL_ARRAY_LEN(v), &rows, NULL, err);
    if (rc == 0) {
        struct sl_store_runner *arr = sl_xcalloc(rows.nrows + 1, sizeof(*arr));
        for (size_t i = 0; i < rows.nrows; i++)
            read_runner(&rows, i, &arr[i]);
        *out = arr;
        *n = rows.nrows;
    }
    sl_db_rows_release(&rows);
    return rc;
}

/* Runs a one-row UPDATE/DELETE on runner ID: SL_ENOENT when no row changed. */
static int runner_write(struct sl_store *st, const char *sql, const struct db_value *v, size_t nv,
                        int64_t id, struct sl_error *err)
{
    int64_t changes = 0;
    int rc = sl_db_run(st, true, sql, v, nv, NULL, &changes, err);
    if (rc == 0 && changes == 0)
        rc = sl_error_set(err, SL_ENOENT, "no runner %" PRId64, id);
    return rc;
}

int sl_store_runner_delete(struct sl_store *st, int64_t id, struct sl_error *err)
{
    struct db_value v = db_int(id);
    return runner_write(st, "DELETE FROM runners WHERE id = ?", &v, 1, id, err);
}

int sl_store_runner_set_paused(struct sl_store *st, int64_t id, bool paused, struct sl_error *err)
{
    struct db_value v[] = {db_int(paused), db_int(id)};
    return runner_write(st, "UPDATE runners SET paused = ? WHERE id = ?", v, 2, id, err);
}

int sl_store_runner_verify(struct sl_store *st, const char *token, struct sl_store_runner *out,
                           struct sl_error *err)
{
    char hash[DB_TOKEN_HASH_HEX + 1];
    struct db_rows rows = {0};
    int rc;

    if (!sl_db_token_well_formed(token, SL_STORE_RUNNER_TOKEN_PREFIX, SL_STORE_RUNNER_TOKEN_LEN))
        return sl_error_set(err, SL_ENOENT, "invalid runner token");
    sl_db_token_hash(token, hash);
    struct db_value v = db_text(hash);
    rc =
        sl_db_run(st, false, "SELECT " RUNNER_COLS ", token_hash FROM runners WHERE token_hash = ?",
                  &v, 1, &rows, NULL, err);
    if (rc < 0)
        goto out;
    if (rows.nrows == 0 || sl_db_cell(&rows, 0, 13)->len != DB_TOKEN_HASH_HEX ||
        sodium_memcmp(sl_db_cell(&rows, 0, 13)->data, hash, DB_TOKEN_HASH_HEX) != 0) {
        rc = sl_error_set(err, SL_ENOENT, "invalid runner token");
        goto out;
    }
    if (out)
        read_runner(&rows, 0, out);
out:
    sl_db_rows_release(&rows);
    return rc;
}

static bool same(const char *now, const char *was)
{
    return !now || !strcmp(now, was ? was : "");
}

int sl_store_runner_contacted(struct sl_store *st, const struct sl_store_runner *seen,
                              const char *version, const char *platform, const char *architecture,
                              const char *executor, int64_t now, struct sl_error *err)
{
    int rc;
    if (same(version, seen->version) && same(platform, seen->platform) &&
        same(architecture, seen->architecture) && same(executor, seen->executor) &&
        seen->contacted_at && now - seen->contacted_at < CONTACT_GRANULARITY_MS)
        return 0;
    if ((rc = check_short(version, "version", err)) < 0 ||
        (rc = check_short(platform, "platform", err)) < 0 ||
        (rc = check_short(architecture, "architecture", err)) < 0 ||
        (rc = check_short(executor, "executor", err)) < 0)
        return rc;
    struct db_value v[] = {db_int(now),
                           db_text(version ? version : seen->version),
                           db_text(platform ? platform : seen->platform),
                           db_text(architecture ? architecture : seen->architecture),
                           db_text(executor ? executor : seen->executor),
                           db_int(seen->id)};
    return sl_db_run(st, true,
                     "UPDATE runners SET contacted_at = ?, version = COALESCE(?, ''), platform = "
                     "COALESCE(?, ''), architecture = COALESCE(?, ''), executor = COALESCE(?, '') "
                     "WHERE id = ?",
                     v, SL_ARRAY_LEN(v), NULL, NULL, err);
}

int sl_store_registration_token_reset(struct sl_store *st, int64_t now, char **token_out,
                                      struct sl_error *err)
{
    char token[SL_STORE_REGISTRATION_TOKEN_LEN + 1], hash[DB_TOKEN_HASH_HEX + 1];
    sl_db_token_generate(SL_STORE_REGISTRATION_TOKEN_PREFIX, 20, token);
    sl_db_token_hash(token, hash);
    struct db_value v[] = {db_text(hash), db_int(now)};
    /* one row: the upsert both backends share */
    int rc =
        sl_db_run(st, true,
                  "INSERT INTO runner_registration (id, token_hash, created_at) VALUES (1, ?, ?) "
                  "ON CONFLICT (id) DO UPDATE SET token_hash = excluded.token_hash, "
                  "created_at = excluded.created_at",
                  v, SL_ARRAY_LEN(v), NULL, NULL, err);
    if (rc == 0)
        *token_out = sl_xstrdup(token);
    sodium_memzero(token, sizeof(token));
    return rc;
}

int sl_store_registration_token_check(struct sl_store *st, const char *token, struct sl_error *err)
{
    char hash[DB_TOKEN_HASH_HEX + 1];
    struct db_rows rows = {0};
    if (!sl_db_token_well_formed(token, SL_STORE_REGISTRATION_TOKEN_PREFIX,
                                 SL_STORE_REGISTRATION_TOKEN_LEN))
        return sl_error_set(err, SL_ENOENT, "invalid registration token");
    sl_db_token_hash(token, hash);
    int rc = sl_db_run(st, false, "SELECT token_hash FROM runner_registration WHERE id = 1", NULL,
                       0, &rows, NULL, err);
    if (rc == 0 && (rows.nrows == 0 || sl_db_cell(&rows, 0, 0)->len != DB_TOKEN_HASH_HEX ||
                    sodium_memcmp(sl_db_cell(&rows, 0, 0)->data, hash, DB_TOKEN_HASH_HEX) != 0))
        rc = sl_error_set(err, SL_ENOENT, "invalid registration token");
    sl_db_rows_release(&rows);
    return rc;
}

int sl_store_job_token_issue(struct sl_store *st, int64_t id, const char *worker_id,
                             char **token_out, struct sl_error *err)
{
    char token[SL_STORE_JOB_TOKEN_LEN + 1], hash[DB_TOKEN_HASH_HEX + 1];
    int64_t changes = 0;
    sl_db_token_generate(SL_STORE_JOB_TOKEN_PREFIX, 32, token);
    sl_db_token_hash(token, hash);
    struct db_value v[] = {db_text(hash), db_int(id), db_text(worker_id)};
    int rc = sl_db_run(st, true,
                       "UPDATE jobs SET job_token_hash = ? WHERE id = ? AND status = 'running' AND "
                       "runner_id = ?",
                       v, SL_ARRAY_LEN(v), NULL, &changes, err);
    if (rc == 0 && changes == 0)
        rc = sl_error_set(err, SL_ECANCELED, "job %" PRId64 " is not running under %s", id,
                          worker_id);
    if (rc == 0)
        *token_out = sl_xstrdup(token);
    sodium_memzero(token, sizeof(token));
    return rc;
}

int sl_store_job_token_lookup(struct sl_store *st, const char *token, struct sl_store_job *out,
                              struct sl_error *err)
{
    char hash[DB_TOKEN_HASH_HEX + 1];
    if (!sl_db_token_well_formed(token, SL_STORE_JOB_TOKEN_PREFIX, SL_STORE_JOB_TOKEN_LEN))
        return sl_error_set(err, SL_ENOENT, "invalid job token");
    sl_db_token_hash(token, hash);
    /* the row read by its token (one statement, not the id and then the row) */
    return sl_db_job_get_by_token_hash(st, hash, out, err);
}
