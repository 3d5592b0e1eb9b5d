/* store.c: opening a store, its connection pool, and the helpers the row files share. */
#include "base/compat.h"
#include "base/alloc.h"
#include "store/backend.h"

#include <pthread.h>
#include <sodium.h>

#define POOL_MAX 64

struct sl_store {
    const struct sl_store_backend *be;
    struct sl_store_options opts;
    char *target; /* path or conninfo, kept to reconnect */

    pthread_mutex_t mu; /* guards the pool */
    pthread_cond_t cv;  /* signalled when a connection is returned */
    void **idle;
    size_t nidle, nconns;

    pthread_mutex_t write_mu; /* one writer per process (serialize_writes backends) */

    /* the key variables are sealed under (seal.c); set once at start-up, or by a rotation
     * that holds the write lock */
    unsigned char seal_key[SL_STORE_SEAL_KEY_BYTES];
    bool has_seal_key;

    struct db_token_cache *tokens; /* NULL but on SQLite (backend.h) */
};

/* ---- rows ---- */

void sl_db_rows_release(struct db_rows *r)
{
    if (!r)
        return;
    if (r->blocks) {
        for (size_t i = 0; i < r->nrows; i++)
            free(r->blocks[i]);
        free(r->blocks);
    } else {
        for (size_t i = 0; i < r->nrows * r->ncols; i++)
            free(r->cells[i].data);
    }
    free(r->cells);
    *r = (struct db_rows){0};
}

const struct sl_db_cell *sl_db_cell(const struct db_rows *r, size_t row, size_t col)
{
    return &r->cells[row * r->ncols + col];
}

bool sl_db_is_null(const struct db_rows *r, size_t row, size_t col)
{
    return sl_db_cell(r, row, col)->data == NULL;
}

int64_t sl_db_get_int(const struct db_rows *r, size_t row, size_t col)
{
    const char *s = sl_db_cell(r, row, col)->data;
    return s ? strtoll(s, NULL, 10) : 0;
}

double sl_db_get_real(const struct db_rows *r, size_t row, size_t col)
{
    const char *s = sl_db_cell(r, row, col)->data;
    return s ? strtod(s, NULL) : 0;
}

char *sl_db_get_str(const struct db_rows *r, size_t row, size_t col)
{
    const struct sl_db_cell *c = sl_db_cell(r, row, col);
    return c->data ? sl_xstrndup(c->data, c->len) : NULL;
}

char *sl_db_get_str0(const struct db_rows *r, size_t row, size_t col)
{
    char *s = sl_db_get_str(r, row, col);
    return s ? s : sl_xstrdup("");
}

int sl_db_check_text(const char *s, bool required, const char *what, struct sl_error *err)
{
    if (!s)
        return required ? sl_error_set(err, SL_EINVAL, "%s is required", what) : 0;
    if (strlen(s) > SL_STORE_TEXT_MAX)
        return sl_error_set(err, SL_ELIMIT, "%s is longer than %d bytes", what, SL_STORE_TEXT_MAX);
    return 0;
}

int sl_db_page_limit(const struct sl_store_page *page)
{
    int limit = page ? page->limit : 0;
    return limit <= 0 || limit > SL_STORE_LIST_MAX ? SL_STORE_LIST_MAX : limit;
}

/* ---- pool ---- */

const struct sl_store_backend *sl_db_backend(const struct sl_store *st)
{
    return st->be;
}

const struct sl_store_options *sl_db_options(const struct sl_store *st)
{
    return &st->opts;
}

const unsigned char *sl_db_seal_key(const struct sl_store *st)
{
    return st->has_seal_key ? st->seal_key : NULL;
}

void sl_store_set_seal_key(struct sl_store *st, const unsigned char *key)
{
    st->has_seal_key = key != NULL;
    if (key)
        memcpy(st->seal_key, key, SL_STORE_SEAL_KEY_BYTES);
    else
        sodium_memzero(st->seal_key, sizeof(st->seal_key));
}

/* This thread's open transaction (sl_store_tx_begin): every store call of the thread on
 * that store uses its connection, so what a transition reads and writes is one transaction
 * without threading a connection through every store function. */
static _Thread_local struct {
    struct sl_store *st;
    struct db_conn dc;
    int savepoints;
} tx;

/* This thread's read snapshot (sl_store_read_begin): its connection, and whether a read
 * transaction is open on it now (a write ended it; the next read begins one). */
static _Thread_local struct {
    struct sl_store *st;
    void *c;
    int depth; /* begin/end pairs open, the inert ones (in a transaction, PostgreSQL) too */
    bool open;
} rd;

static int pool_take(struct sl_store *st, void **out, struct sl_error *err);
static void pool_give(struct sl_store *st, void *c);

/* A connection of the thread's read snapshot: for a read, inside its read transaction
 * (begun now if a write ended the last); for a write, with none open. */
static int snapshot_conn(bool write, struct db_conn *out, struct sl_error *err)
{
    struct sl_store *st = rd.st;
    int rc;
    if (write) {
        if (rd.open) {
            rd.open = false;
            if ((rc = st->be->exec(rd.c, "COMMIT", NULL, 0, NULL, NULL, err)) < 0)
                return rc;
        }
        if (st->be->serialize_writes)
            pthread_mutex_lock(&st->write_mu);
        *out = (struct db_conn){.st = st, .c = rd.c, .write = true, .borrowed = true};
        return 0;
    }
    if (!rd.open) {
        if ((rc = st->be->exec(rd.c, "BEGIN", NULL, 0, NULL, NULL, err)) < 0)
            return rc;
        rd.open = true;
    }
    *out = (struct db_conn){.st = st, .c = rd.c, .nested = true};
    return 0;
}

void sl_store_read_begin(struct sl_store *st)
{
    if (rd.depth++ > 0 || tx.st == st || st->be != &sl_store_sqlite_backend)
        return;
    struct sl_error err = SL_ERROR_INIT;
    void *c;
    /* a connection that cannot be had leaves the reads to take their own, as without */
    if (pool_take(st, &c, &err) == 0) {
        rd.st = st;
        rd.c = c;
        rd.open = false;
    }
    sl_error_release(&err);
}

void sl_store_read_end(struct sl_store *st)
{
    if (--rd.depth > 0 || rd.st != st)
        return;
    if (rd.open)
        (void)st->be->exec(rd.c, "COMMIT", NULL, 0, NULL, NULL, NULL);
    pool_give(st, rd.c);
    rd.st = NULL;
    rd.c = NULL;
    rd.open = false;
}

int sl_db_acquire(struct sl_store *st, bool write, struct db_conn *out, struct sl_error *err)
{
    void *c;
    int rc;

    if (tx.st == st) {
        *out = tx.dc;
        out->nested = true;
        return 0;
    }
    if (rd.st == st)
        return snapshot_conn(write, out, err);
    if (write && st->be->serialize_writes)
        pthread_mutex_lock(&st->write_mu);
    if ((rc = pool_take(st, &c, err)) < 0) {
        if (write && st->be->serialize_writes)
            pthread_mutex_unlock(&st->write_mu);
        return rc;
    }
    *out = (struct db_conn){.st = st, .c = c, .write = write};
    return 0;
}

/* A connection from the pool (a new one while it has fewer than pool_size), checked. */
static int pool_take(struct sl_store *st, void **out, struct sl_error *err)
{
    void *c;
    int rc = 0;

    pthread_mutex_lock(&st->mu);
    while (st->nidle == 0 && st->nconns >= (size_t)st->opts.pool_size)
        pthread_cond_wait(&st->cv, &st->mu);
    if (st->nidle == 0) {
        /* the pool grows on demand up to pool_size: an idle server holds the one connection
         * it migrated with (each SQLite connection keeps its own schema and page cache,
         * about 250 KB), a busy one as many as its threads use at once */
        st->nconns++;
        pthread_mutex_unlock(&st->mu);
        if ((rc = st->be->connect(&c, st->target, &st->opts, err)) < 0) {
            pthread_mutex_lock(&st->mu);
            st->nconns--;
            pthread_cond_signal(&st->cv);
            pthread_mutex_unlock(&st->mu);
            return rc;
        }
    } else {
        c = st->idle[--st->nidle];
        pthread_mutex_unlock(&st->mu);
    }

    if (!st->be->healthy(c)) {
        /* a PostgreSQL connection dropped (server restart): try a fresh one */
        void *fresh = NULL;
        if ((rc = st->be->connect(&fresh, st->target, &st->opts, err)) == 0) {
            st->be->disconnect(c);
            c = fresh;
        }
    }
    if (rc < 0) {
        pool_give(st, c);
        return rc;
    }
    *out = c;
    return 0;
}

static void pool_give(struct sl_store *st, void *c)
{
    pthread_mutex_lock(&st->mu);
    st->idle[st->nidle++] = c;
    pthread_cond_signal(&st->cv);
    pthread_mutex_unlock(&st->mu);
}

void sl_db_release(struct db_conn *dc)
{
    struct sl_store *st = dc->st;
    if (!st)
        return;
    if (dc->nested) {
        dc->st = NULL;
        return;
    }
    if (!dc->borrowed) /* else it stays the read snapshot's */
        pool_give(st, dc->c);
    if (dc->write && st->be->serialize_writes)
        pthread_mutex_unlock(&st->write_mu);
    dc->st = NULL;
}

int sl_db_exec(struct db_conn *dc, const char *sql, const struct db_value *params, size_t nparams,
               struct db_rows *rows, int64_t *changes, struct sl_error *err)
{

    return dc->st->be->exec(dc->c, sql, params, nparams, rows, changes, err);
}

int sl_db_begin(struct db_conn *dc, struct sl_error *err)
{
    if (dc->nested) { /* inside the thread's transaction: a savepoint of it */
        char sql[48];
        snprintf(sql, sizeof(sql), "SAVEPOINT sl_%d", ++tx.savepoints);
        return sl_db_exec(dc, sql, NULL, 0, NULL, NULL, err);
    }
    const char *sql = dc->write ? dc->st->be->begin_write : "BEGIN";
    return sl_db_exec(dc, sql, NULL, 0, NULL, NULL, err);
}

int sl_db_end(struct db_conn *dc, int rc, struct sl_error *err)
{
    if (dc->nested) {
        char sql[80];
        int n = tx.savepoints--;
        if (rc < 0) {
            snprintf(sql, sizeof(sql), "ROLLBACK TO SAVEPOINT sl_%d", n);
            dc->st->be->exec(dc->c, sql, NULL, 0, NULL, NULL, NULL);
        }
        snprintf(sql, sizeof(sql), "RELEASE SAVEPOINT sl_%d", n);
        int r = dc->st->be->exec(dc->c, sql, NULL, 0, NULL, NULL, rc < 0 ? NULL : err);
        return rc < 0 ? rc : r;
    }
    if (rc < 0) {
        /* the first error is the one worth reporting */
        dc->st->be->exec(dc->c, "ROLLBACK", NULL, 0, NULL, NULL, NULL);
        return rc;
    }
    return sl_db_exec(dc, "COMMIT", NULL, 0, NULL, NULL, err);
}

/* ---- open / close ---- */

/* Splits URL into a backend and the target it connects to (caller frees *target). */
static int parse_url(const char *url, const struct sl_store_backend **be, char **target,
                     struct sl_error *err)
{
    if (!url || !*url)
        return sl_error_set(err, SL_EINVAL, "store: empty database URL");
    if (sl_starts_with(url, "postgres://") || sl_starts_with(url, "postgresql://")) {
        *be = &sl_store_postgres_backend;
        *target = sl_xstrdup(url);
        return 0;
    }
    const char *path = url;
    if (sl_starts_with(url, "sqlite://"))
        path = url + strlen("sqlite://"); /* sqlite:///abs -> /abs; sqlite://rel -> rel */
    else if (sl_starts_with(url, "sqlite:"))
        path = url + strlen("sqlite:");
    else if (strstr(url, "://"))
        return sl_error_set(err, SL_EINVAL,
                            "store: unsupported database URL '%s' (use sqlite:///PATH, a "
                            "path, or postgres://...)",
                            url);
    if (!*path)
        return sl_error_set(err, SL_EINVAL, "store: database URL '%s' has no path", url);
    *be = &sl_store_sqlite_backend;
    *target = sl_xstrdup(path);
    return 0;
}

static void store_free(struct sl_store *st)
{
    if (!st)
        return;
    for (size_t i = 0; i < st->nidle; i++)
        st->be->disconnect(st->idle[i]);
    free(st->idle);
    free(st->target);
    pthread_mutex_destroy(&st->mu);
    pthread_cond_destroy(&st->cv);
    pthread_mutex_destroy(&st->write_mu);
    sl_db_token_cache_free(st->tokens);
    free(st);
}

struct db_token_cache *sl_db_token_cache(struct sl_store *st)
{
    return st->tokens;
}

int sl_store_open_with(struct sl_store **out, const char *url, const struct sl_store_options *opts,
                       struct sl_error *err)
{
    struct sl_store *st = NULL;
    const struct sl_store_backend *be = NULL;
    char *target = NULL;
    int rc;

    if ((rc = parse_url(url, &be, &target, err)) < 0)
        goto out;
    if (sodium_init() < 0) {
        rc = sl_error_set(err, SL_ESTORE, "store: libsodium failed to initialise");
        goto out;
    }
    st = sl_xcalloc(1, sizeof(*st));
    st->be = be;
    st->target = target;
    target = NULL;
    if (opts)
        st->opts = *opts;
    if (st->opts.pool_size <= 0)
        st->opts.pool_size = 4;
    if (st->opts.pool_size > POOL_MAX)
        st->opts.pool_size = POOL_MAX;
    if (be == &sl_store_sqlite_backend && sl_streq(st->target, ":memory:"))
        st->opts.pool_size = 1; /* each connection would get its own empty database */
    if (st->opts.busy_timeout_ms <= 0)
        st->opts.busy_timeout_ms = 5000;
    if (st->opts.max_log_bytes <= 0)
        st->opts.max_log_bytes = 1024LL * 1024 * 1024; /* 1 GiB: the UI shows logs of any size */
    if (st->opts.connect_timeout_s <= 0)
        st->opts.connect_timeout_s = 10;
    pthread_mutex_init(&st->mu, NULL);
    pthread_cond_init(&st->cv, NULL);
    pthread_mutex_init(&st->write_mu, NULL);
    st->idle = sl_xcalloc((size_t)st->opts.pool_size, sizeof(*st->idle));
    if (be == &sl_store_sqlite_backend)
        st->tokens = sl_db_token_cache_new();

    /* the first connection migrates before any other opens, so they see the schema */
    void *c = NULL;
    if ((rc = be->connect(&c, st->target, &st->opts, err)) < 0)
        goto out;
    st->idle[st->nidle++] = c;
    st->nconns = 1;
    if (st->opts.existing_only) {
        struct sl_error verr = SL_ERROR_INIT;
        int version = 0;
        if (sl_store_schema_version(st, &version, &verr) < 0 || version == 0)
            rc = sl_error_set(err, SL_ENOENT, "the database holds no sluice store");
        sl_error_release(&verr);
        if (rc < 0)
            goto out;
    }
    if ((rc = sl_store_migrate(st, st->opts.migrate_to, err)) < 0)
        goto out;
    /* the migrations read and wrote every page of a new database: those pages are not the
     * server's working set, give them back (SQLite keeps a connection's pages until its
     * cache_size, 2 MB) */
    if (be == &sl_store_sqlite_backend) {
        struct db_conn dc = {.st = st, .c = st->idle[0]};
        struct sl_error serr = SL_ERROR_INIT;
        (void)sl_db_exec(&dc, "PRAGMA shrink_memory", NULL, 0, NULL, NULL, &serr);
        sl_error_release(&serr);
    }
    /* the others open on first need (sl_db_acquire) */
    *out = st;
    st = NULL;
out:
    store_free(st);
    free(target);
    return rc;
}

int sl_store_open(struct sl_store **out, const char *url, struct sl_error *err)
{
    return sl_store_open_with(out, url, NULL, err);
}

void sl_store_close(struct sl_store *st)
{
    if (st)
        sl_store_set_seal_key(st, NULL);
    store_free(st);
}

const char *sl_store_backend(const struct sl_store *st)
{
    return st->be->name;
}

int sl_store_ping(struct sl_store *st, struct sl_error *err)
{
    struct db_conn dc;
    int rc;

    if ((rc = sl_db_acquire(st, false, &dc, err)) < 0)
        return rc;
    rc = sl_db_exec(&dc, "SELECT 1", NULL, 0, NULL, NULL, err);
    sl_db_release(&dc);
    return rc;
}

int sl_db_run(struct sl_store *st, bool write, const char *sql, const struct db_value *params,
              size_t nparams, struct db_rows *rows, int64_t *changes, struct sl_error *err)
{
    struct db_conn dc;
    int rc;
    if ((rc = sl_db_acquire(st, write, &dc, err)) < 0)
        return rc;
    rc = sl_db_exec(&dc, sql, params, nparams, rows, changes, err);
    sl_db_release(&dc);
    return rc;
}

int sl_store_tx_begin(struct sl_store *st, int64_t pipeline_id, struct sl_error *err)
{
    struct db_conn dc;
    struct db_rows rows = {0};
    int rc;

    if (tx.st)
        return sl_error_set(err, SL_EBUSY, "store: a transaction is already open here");
    if ((rc = sl_db_acquire(st, true, &dc, err)) < 0)
        return rc;
    if ((rc = sl_db_begin(&dc, err)) < 0) {
        sl_db_release(&dc);
        return rc;
    }
    char sql[96];
    snprintf(sql, sizeof(sql), "SELECT id FROM pipelines WHERE id = ?%s", st->be->row_lock);
    struct db_value v = db_int(pipeline_id);
    if (pipeline_id != 0 && (rc = sl_db_exec(&dc, sql, &v, 1, &rows, NULL, err)) == 0 &&
        rows.nrows == 0)
        rc = sl_error_set(err, SL_ENOENT, "pipeline %" PRId64 " does not exist", pipeline_id);
    sl_db_rows_release(&rows);
    if (rc < 0) {
        sl_db_end(&dc, rc, NULL);
        sl_db_release(&dc);
        return rc;
    }
    tx.st = st;
    tx.dc = dc;
    tx.savepoints = 0;
    return 0;
}

int sl_store_tx_end(struct sl_store *st, int rc, struct sl_error *err)
{
    if (tx.st != st)
        return rc < 0 ? rc : sl_error_set(err, SL_EINVAL, "store: no transaction is open here");
    struct db_conn dc = tx.dc;
    tx.st = NULL;
    rc = sl_db_end(&dc, rc, err);
    sl_db_release(&dc);
    return rc;
}
