/* sqlite.c: the SQLite backend (WAL, busy timeout, foreign keys, cached statements). */
#include "base/compat.h"
#include "base/alloc.h"
#include "base/lru.h"
#include "store/backend.h"

#include <pthread.h>
#include <sqlite3.h>

/* Statements are prepared once per connection and kept: the store runs the same few dozen
 * statements over and over. Dynamic SQL (tag filters) is keyed by its text as well. */
#define STMT_CACHE 48

struct sqlite_conn {
    sqlite3 *db;
    struct sl_lru stmts; /* SQL text -> sqlite3_stmt, finalized when evicted */
};

static int map_error(sqlite3 *db, int rc, const char *what, struct sl_error *err)
{
    int ext = sqlite3_extended_errcode(db);
    int code = SL_ESTORE;

    if (ext == SQLITE_CONSTRAINT_UNIQUE || ext == SQLITE_CONSTRAINT_PRIMARYKEY)
        code = SL_EEXISTS;
    else if (ext == SQLITE_CONSTRAINT_FOREIGNKEY)
        code = SL_ENOENT;
    else if ((rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED)
        code = SL_EBUSY;
    return sl_error_set(err, code, "sqlite: %s: %s", what, sqlite3_errmsg(db));
}

static void finalize(void *stmt, void *arg)
{
    (void)arg;
    sqlite3_finalize(stmt);
}

static void sqlite_disconnect(void *conn)
{
    struct sqlite_conn *c = conn;
    if (!c)
        return;
    sl_lru_release(&c->stmts);
    sqlite3_close_v2(c->db);
    free(c);
}

/* SQLite gives every connection's page cache an up-front block of 20 pages (about 90 KB)
 * whether the connection reads 2 pages or 2,000: allocate pages one by one instead (a
 * process-wide setting that only takes before SQLite initialises: if something initialised
 * it first, the default stays, which is only more memory). */
static void sqlite_configure_once(void)
{
    (void)sqlite3_config(SQLITE_CONFIG_PAGECACHE, NULL, 0, 0);
}

static int sqlite_connect(void **out, const char *target, const struct sl_store_options *opts,
                          struct sl_error *err)
{
    static pthread_once_t configured = PTHREAD_ONCE_INIT;
    pthread_once(&configured, sqlite_configure_once);
    struct sqlite_conn *c = sl_xcalloc(1, sizeof(*c));
    sl_lru_init(&c->stmts, STMT_CACHE, finalize, NULL);
    bool memory = sl_streq(target, ":memory:");
    int rc;

    rc = sqlite3_open_v2(target, &c->db,
                         SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        rc = c->db ? map_error(c->db, rc, target, err)
                   : sl_error_set(err, SL_ESTORE, "sqlite: %s: cannot open", target);
        goto out;
    }
    sqlite3_extended_result_codes(c->db, 1);
    sqlite3_busy_timeout(c->db, opts->busy_timeout_ms);
    /* WAL lets readers run beside the writer; synchronous=NORMAL is durable in WAL mode
     * except for the last transactions before a power loss, never corrupt. */
    const char *pragmas = memory ? "PRAGMA foreign_keys=ON;"
                                 : "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
                                   "PRAGMA foreign_keys=ON;";
    rc = sqlite3_exec(c->db, pragmas, NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        rc = map_error(c->db, rc, target, err);
        goto out;
    }
    *out = c;
    c = NULL;
    rc = 0;
out:
    sqlite_disconnect(c);
    return rc;
}

static int prepare(struct sqlite_conn *c, const char *sql, sqlite3_stmt **out, struct sl_error *err)
{
    sqlite3_stmt *stmt = sl_lru_get(&c->stmts, sql);
    int rc;

    if (stmt) {
        *out = stmt;
        return 0;
    }
    rc = sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, NULL);
    if (rc != SQLITE_OK)
        return map_error(c->db, rc, "prepare", err);
    if (stmt) /* SQL of only blanks or comments prepares to no statement */
        sl_lru_put(&c->stmts, sql, stmt);
    *out = stmt;
    return 0;
}

static int bind(sqlite3_stmt *stmt, int i, const struct db_value *v)
{
    switch (v->type) {
    case DB_NULL:
        return sqlite3_bind_null(stmt, i);
    case DB_INT:
        return sqlite3_bind_int64(stmt, i, v->i);
    case DB_REAL:
        return sqlite3_bind_double(stmt, i, v->d);
    case DB_TEXT:
        return sqlite3_bind_text64(stmt, i, v->p, v->len, SQLITE_STATIC, SQLITE_UTF8);
    case DB_BLOB:
        /* a zero-length blob with a NULL pointer would bind NULL */
        return sqlite3_bind_blob64(stmt, i, v->p ? v->p : "", v->len, SQLITE_STATIC);
    }
    return SQLITE_MISUSE;
}

/* The current row into ROWS, its cells' bytes in one block (db_rows.blocks): each cell is
 * measured first (its text or blob asked for before its size, as SQLite wants; a number is
 * converted to its text then, once), then copied from sqlite3_column_blob, which gives a
 * converted or text value's bytes as they are (sqlite3_column_type is undefined after a
 * conversion). CAP, BCAP: the capacities of ROWS' cells and blocks. */
static void add_row(struct db_rows *rows, sqlite3_stmt *stmt, size_t *cap, size_t *bcap)
{
    static char not_null; /* a cell to be copied, in the first pass */
    size_t ncols = (size_t)sqlite3_column_count(stmt), total = 0;
    rows->ncols = ncols;
    SL_GROW(rows->cells, *cap, (rows->nrows + 1) * ncols);
    SL_GROW(rows->blocks, *bcap, rows->nrows + 1);
    struct sl_db_cell *row = rows->cells + rows->nrows * ncols;
    for (size_t col = 0; col < ncols; col++) {
        int type = sqlite3_column_type(stmt, (int)col);
        row[col].data = NULL;
        row[col].len = 0;
        if (type == SQLITE_NULL)
            continue;
        if (type == SQLITE_BLOB)
            (void)sqlite3_column_blob(stmt, (int)col);
        else
            (void)sqlite3_column_text(stmt, (int)col);
        row[col].len = (size_t)sqlite3_column_bytes(stmt, (int)col);
        row[col].data = &not_null;
        total += row[col].len + 1;
    }
    char *block = total ? sl_xmalloc(total) : NULL, *at = block;
    for (size_t col = 0; col < ncols; col++) {
        if (!row[col].data)
            continue;
        size_t len = row[col].len;
        if (len)
            memcpy(at, sqlite3_column_blob(stmt, (int)col), len);
        at[len] = '\0';
        row[col].data = at;
        at += len + 1;
    }
    rows->blocks[rows->nrows++] = block;
}

static int sqlite_exec(void *conn, const char *sql, const struct db_value *params, size_t nparams,
                       struct db_rows *rows, int64_t *changes, struct sl_error *err)
{
    struct sqlite_conn *c = conn;
    struct db_rows got = {0};
    size_t cap = 0, bcap = 0;
    sqlite3_stmt *stmt = NULL;
    int rc;

    if ((rc = prepare(c, sql, &stmt, err)) < 0)
        return rc;
    for (size_t i = 0; i < nparams; i++) {
        if ((rc = bind(stmt, (int)i + 1, &params[i])) != SQLITE_OK) {
            rc = map_error(c->db, rc, "bind", err);
            goto out;
        }
    }
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
        if (rows)
            add_row(&got, stmt, &cap, &bcap);
    if (rc != SQLITE_DONE) {
        rc = map_error(c->db, rc, "step", err);
        goto out;
    }
    rc = 0;
    if (changes)
        *changes = sqlite3_changes64(c->db);
    if (rows) {
        *rows = got;
        got = (struct db_rows){0};
    }
out:
    sl_db_rows_release(&got);
    sqlite3_reset(stmt);
    sqlite3_clear_bindings(stmt);
    return rc;
}

static int sqlite_exec_script(void *conn, const char *sql, struct sl_error *err)
{
    struct sqlite_conn *c = conn;
    int rc = sqlite3_exec(c->db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? 0 : map_error(c->db, rc, "script", err);
}

static bool sqlite_healthy(void *conn)
{
    (void)conn;
    return true;
}

const struct sl_store_backend sl_store_sqlite_backend = {
    .name = "sqlite",
    .serialize_writes = true,
    .begin_write = "BEGIN IMMEDIATE",
    .claim_lock = "",
    .row_lock = "",
    .migrate_lock = NULL,
    .migration_suffix = "sqlite",
    .connect = sqlite_connect,
    .disconnect = sqlite_disconnect,
    .exec = sqlite_exec,
    .exec_script = sqlite_exec_script,
    .healthy = sqlite_healthy,
};
