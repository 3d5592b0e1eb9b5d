/* postgres.c: the PostgreSQL backend (libpq, text results, `?` rewritten to `$n`). */
#include "base/compat.h"
#include "base/alloc.h"
#include "base/lru.h"
#include "base/str.h"
#include "store/backend.h"

#include <inttypes.h>
#include <limits.h>
#include <libpq-fe.h>

#define BYTEA_OID 17
/* Statements have few parameters; the claim's tag list is the longest. */
#define PARAMS_MAX (SL_STORE_TAGS_MAX + 16)

/* Statements are prepared once per connection (parse and plan once), keyed by their text,
 * as in sqlite.c; the least recently used one is deallocated when the cache is full. */
#define STMT_CACHE 48

struct pg_conn {
    PGconn *pg;
    struct sl_lru stmts; /* SQL text (rewritten) -> the statement's name, a heap string */
    uint64_t seq;
    bool closing; /* the connection goes with its statements: no DEALLOCATE each */
};

static void quiet(void *arg, const char *message)
{
    /* library code never prints: NOTICEs (e.g. "relation exists, skipping") are dropped */
    (void)arg;
    (void)message;
}

/* libpq messages end with a newline; the error message should not. */
static int set_pg_error(int code, const char *what, const char *msg, struct sl_error *err)
{
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
        n--;
    return sl_error_set(err, code, "postgres: %s: %.*s", what, (int)n, msg);
}

/* An evicted statement is deallocated on the server, which would keep it otherwise. */
static void deallocate(void *name, void *arg)
{
    struct pg_conn *c = arg;
    if (!c->closing) {
        char sql[40];
        snprintf(sql, sizeof(sql), "DEALLOCATE %s", (const char *)name);
        PQclear(PQexec(c->pg, sql));
    }
    free(name);
}

static void pg_disconnect(void *conn)
{
    struct pg_conn *c = conn;
    if (!c)
        return;
    c->closing = true;
    sl_lru_release(&c->stmts);
    PQfinish(c->pg);
    free(c);
}

static int pg_connect(void **out, const char *target, const struct sl_store_options *opts,
                      struct sl_error *err)
{
    char timeout[16];
    snprintf(timeout, sizeof(timeout), "%d", opts->connect_timeout_s);
    /* expand_dbname: TARGET may be a URI or a conninfo string; the other keywords are
     * defaults it can override */
    const char *const keys[] = {"dbname", "connect_timeout", "application_name", NULL};
    const char *const values[] = {target, timeout, "sluice", NULL};
    PGconn *c = PQconnectdbParams(keys, values, 1);
    int rc;

    if (!c)
        return sl_error_set(err, SL_ESTORE, "postgres: out of memory");
    if (PQstatus(c) != CONNECTION_OK) {
        rc = set_pg_error(SL_ESTORE, "connect", PQerrorMessage(c), err);
        PQfinish(c);
        return rc;
    }
    PQsetNoticeProcessor(c, quiet, NULL);
    struct pg_conn *conn = sl_xcalloc(1, sizeof(*conn));
    conn->pg = c;
    sl_lru_init(&conn->stmts, STMT_CACHE, deallocate, conn);
    *out = conn;
    return 0;
}

/* `?` to `$1`, `$2`... outside quoted strings and identifiers. */
static void rewrite(const char *sql, struct sl_str *out)
{
    int n = 0;
    char quote = 0;
    for (const char *p = sql; *p; p++) {
        if (quote) {
            if (*p == quote)
                quote = 0;
            sl_str_addc(out, *p);
        } else if (*p == '\'' || *p == '"') {
            quote = *p;
            sl_str_addc(out, *p);
        } else if (*p == '?') {
            sl_str_addf(out, "$%d", ++n);
        } else {
            sl_str_addc(out, *p);
        }
    }
}

static int map_result_error(PGresult *res, PGconn *c, struct sl_error *err)
{
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *msg = res ? PQresultErrorMessage(res) : PQerrorMessage(c);
    int code = SL_ESTORE;

    if (state) {
        if (sl_streq(state, "23505"))
            code = SL_EEXISTS; /* unique_violation */
        else if (sl_streq(state, "23503"))
            code = SL_ENOENT; /* foreign_key_violation */
        else if (sl_starts_with(state, "22"))
            code = SL_EINVAL; /* data exception: bad encoding, out of range */
        else if (sl_streq(state, "40001") || sl_streq(state, "40P01") || sl_streq(state, "55P03"))
            code = SL_EBUSY; /* serialization failure, deadlock, lock not available */
    }
    return set_pg_error(code, "query", msg && *msg ? msg : "failed", err);
}

/* The name of the prepared statement for SQL (already rewritten), preparing it if needed. */
static int prepare(struct pg_conn *c, const char *sql, int nparams, const char **name,
                   struct sl_error *err)
{
    char *cached = sl_lru_get(&c->stmts, sql);
    if (cached) {
        *name = cached;
        return 0;
    }
    char *fresh = sl_xmalloc(24);
    snprintf(fresh, 24, "sl%" PRIu64, ++c->seq);
    PGresult *res = PQprepare(c->pg, fresh, sql, nparams, NULL);
    if (!res || PQresultStatus(res) != PGRES_COMMAND_OK) {
        int rc = map_result_error(res, c->pg, err);
        PQclear(res);
        free(fresh);
        return rc;
    }
    PQclear(res);
    sl_lru_put(&c->stmts, sql, fresh); /* the least recently used one is deallocated */
    *name = fresh;
    return 0;
}

static int copy_rows(PGresult *res, struct db_rows *rows)
{
    size_t nrows = (size_t)PQntuples(res), ncols = (size_t)PQnfields(res);
    rows->nrows = nrows;
    rows->ncols = ncols;
    rows->blocks = NULL; /* each cell owns its bytes */
    rows->cells = nrows && ncols ? sl_xcalloc(nrows * ncols, sizeof(*rows->cells)) : NULL;
    for (size_t r = 0; r < nrows; r++) {
        for (size_t col = 0; col < ncols; col++) {
            struct sl_db_cell *cell = &rows->cells[r * ncols + col];
            if (PQgetisnull(res, (int)r, (int)col))
                continue;
            const char *v = PQgetvalue(res, (int)r, (int)col);
            size_t len = (size_t)PQgetlength(res, (int)r, (int)col);
            if (PQftype(res, (int)col) == BYTEA_OID) {
                size_t n = 0;
                unsigned char *raw = PQunescapeBytea((const unsigned char *)v, &n);
                if (!raw)
                    return -1;
                cell->data = sl_xmalloc(n + 1);
                memcpy(cell->data, raw, n);
                cell->data[n] = '\0';
                cell->len = n;
                PQfreemem(raw);
            } else {
                cell->data = sl_xstrndup(v, len);
                cell->len = len;
            }
        }
    }
    return 0;
}

static int pg_exec(void *conn, const char *sql, const struct db_value *params, size_t nparams,
                   struct db_rows *rows, int64_t *changes, struct sl_error *err)
{
    struct pg_conn *c = conn;
    struct sl_str text = SL_STR_INIT;
    const char *name = NULL;
    char numbuf[PARAMS_MAX][32];
    const char *values[PARAMS_MAX];
    int lengths[PARAMS_MAX], formats[PARAMS_MAX];
    PGresult *res = NULL;
    int rc;

    if (nparams > PARAMS_MAX)
        return sl_error_set(err, SL_ELIMIT, "postgres: %zu parameters (max %d)", nparams,
                            PARAMS_MAX);
    for (size_t i = 0; i < nparams; i++) {
        const struct db_value *v = &params[i];
        lengths[i] = 0;
        formats[i] = 0;
        switch (v->type) {
        case DB_NULL:
            values[i] = NULL;
            break;
        case DB_INT:
            snprintf(numbuf[i], sizeof(numbuf[i]), "%" PRId64, v->i);
            values[i] = numbuf[i];
            break;
        case DB_REAL:
            snprintf(numbuf[i], sizeof(numbuf[i]), "%.17g", v->d);
            values[i] = numbuf[i];
            break;
        case DB_TEXT:
            values[i] = v->p;
            break;
        case DB_BLOB:
            if (v->len > INT_MAX)
                return sl_error_set(err, SL_ELIMIT, "postgres: blob too large");
            values[i] = v->p ? v->p : "";
            lengths[i] = (int)v->len;
            formats[i] = 1; /* binary: raw bytes, no escaping */
            break;
        }
    }
    rewrite(sql, &text);
    if ((rc = prepare(c, text.buf, (int)nparams, &name, err)) < 0)
        goto out;
    res = PQexecPrepared(c->pg, name, (int)nparams, values, lengths, formats, 0);
    ExecStatusType status = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
        rc = map_result_error(res, c->pg, err);
        goto out;
    }
    if (changes) {
        const char *n = PQcmdTuples(res);
        *changes = *n ? strtoll(n, NULL, 10) : 0;
    }
    if (rows && copy_rows(res, rows) < 0) {
        sl_db_rows_release(rows);
        rc = sl_error_set(err, SL_ESTORE, "postgres: cannot decode bytea");
        goto out;
    }
    rc = 0;
out:
    PQclear(res);
    sl_str_release(&text);
    return rc;
}

static int pg_exec_script(void *conn, const char *sql, struct sl_error *err)
{
    struct pg_conn *c = conn;
    PGresult *res = PQexec(c->pg, sql);
    int rc = 0;
    if (!res || (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK))
        rc = map_result_error(res, c->pg, err);
    PQclear(res);
    return rc;
}

static bool pg_healthy(void *conn)
{
    struct pg_conn *c = conn;
    return PQstatus(c->pg) == CONNECTION_OK && PQtransactionStatus(c->pg) == PQTRANS_IDLE;
}

const struct sl_store_backend sl_store_postgres_backend = {
    .name = "postgres",
    .serialize_writes = false,
    .begin_write = "BEGIN",
    .claim_lock = " FOR UPDATE SKIP LOCKED",
    .row_lock = " FOR UPDATE",
    /* any constant: every sluice start-up on this database takes the same lock */
    .migrate_lock = "SELECT pg_advisory_xact_lock(7305873901)",
    .migration_suffix = "postgres",
    .connect = pg_connect,
    .disconnect = pg_disconnect,
    .exec = pg_exec,
    .exec_script = pg_exec_script,
    .healthy = pg_healthy,
};
