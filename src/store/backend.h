/* backend.h: what a database backend gives the store (internal to src/store).
 *
 * The store's logic (store.c, migrate.c and one file per kind of row) is written once, in
 * the SQL that SQLite and PostgreSQL share, with `?` placeholders. A backend connects,
 * runs one statement with parameters (rewriting placeholders as its driver wants),
 * runs a migration script, and supplies the few fragments where the dialects differ.
 *
 * Results are copied into a `struct db_rows`: every cell as NUL-terminated bytes (text as
 * the database prints it, integers in decimal, blobs raw), so the store reads both
 * backends the same way. */
#ifndef SL_STORE_BACKEND_H
#define SL_STORE_BACKEND_H

#include "base/compat.h"
#include "base/error.h"
#include "store/store.h"

#include <inttypes.h>

enum db_type { DB_NULL, DB_INT, DB_REAL, DB_TEXT, DB_BLOB };

/* A statement parameter; pointers are borrowed for the duration of the call. */
struct db_value {
    enum db_type type;
    int64_t i;
    double d;
    const void *p;
    size_t len;
};

static inline struct db_value db_int(int64_t v)
{
    return (struct db_value){.type = DB_INT, .i = v};
}
/* 0 is stored as NULL (times, optional ids). */
static inline struct db_value db_int_or_null(int64_t v)
{
    return v ? db_int(v) : (struct db_value){.type = DB_NULL};
}
static inline struct db_value db_real(double v)
{
    return (struct db_value){.type = DB_REAL, .d = v};
}
/* NULL S is a NULL value. */
static inline struct db_value db_text(const char *s)
{
    return s ? (struct db_value){.type = DB_TEXT, .p = s, .len = strlen(s)}
             : (struct db_value){.type = DB_NULL};
}
static inline struct db_value db_blob(const void *p, size_t len)
{
    return (struct db_value){.type = DB_BLOB, .p = p, .len = len};
}
static inline struct db_value db_null(void)
{
    return (struct db_value){.type = DB_NULL};
}

struct sl_db_cell {
    char *data; /* owned, NUL-terminated; NULL for SQL NULL */
    size_t len;
};

struct db_rows {
    size_t nrows, ncols;
    struct sl_db_cell *cells; /* row-major */
    /* When not NULL, one allocation per row holds all of the row's cells' bytes (NULL for a
     * row of NULLs), and the cells own nothing: a row of 25 columns is one malloc, not 25
     * (a transition reads every job row of its pipeline). */
    char **blocks;
};

void sl_db_rows_release(struct db_rows *r);
/* Cell accessors: NULL reads as 0 / NULL. */
const struct sl_db_cell *sl_db_cell(const struct db_rows *r, size_t row, size_t col);
int64_t sl_db_get_int(const struct db_rows *r, size_t row, size_t col);
double sl_db_get_real(const struct db_rows *r, size_t row, size_t col);
bool sl_db_is_null(const struct db_rows *r, size_t row, size_t col);
/* A copy of the cell (caller frees), NULL for SQL NULL. */
char *sl_db_get_str(const struct db_rows *r, size_t row, size_t col);
/* A copy of the cell, "" for SQL NULL. */
char *sl_db_get_str0(const struct db_rows *r, size_t row, size_t col);

struct sl_store_backend {
    const char *name;
    /* true: one process's writes are serialised by the store's write mutex (SQLite has a
     * single writer; waiting on a mutex beats polling on SQLITE_BUSY). */
    bool serialize_writes;
    /* Starts a transaction that will write ("BEGIN IMMEDIATE" takes SQLite's write lock at
     * once, so two writers never deadlock upgrading from read). */
    const char *begin_write;
    /* Appended to a queue claim's inner SELECT (PostgreSQL: FOR UPDATE SKIP LOCKED; the
     * delivery queue's). */
    const char *claim_lock;
    /* Appended to the SELECT that locks a pipeline's row for a transition (PostgreSQL: FOR
     * UPDATE; SQLite: "", its BEGIN IMMEDIATE holds the whole database). */
    const char *row_lock;
    /* Run first in the migration transaction: serialises concurrent start-ups (NULL:
     * begin_write already does). */
    const char *migrate_lock;
    /* File suffix of this backend's migration variants: "sqlite" or "postgres". */
    const char *migration_suffix;

    /* Opens one connection to TARGET (a path or a libpq conninfo/URI). */
    int (*connect)(void **conn, const char *target, const struct sl_store_options *opts,
                   struct sl_error *err);
    void (*disconnect)(void *conn);
    /* Runs one statement with `?` placeholders bound to PARAMS. ROWS (may be NULL) gets
     * the result rows; *changes (may be NULL) the number of rows written. */
    int (*exec)(void *conn, const char *sql, const struct db_value *params, size_t nparams,
                struct db_rows *rows, int64_t *changes, struct sl_error *err);
    /* Runs a script of several statements without parameters (migrations). */
    int (*exec_script)(void *conn, const char *sql, struct sl_error *err);
    /* Whether the connection is still usable (else the pool reconnects it). */
    bool (*healthy)(void *conn);
};

extern const struct sl_store_backend sl_store_sqlite_backend;
extern const struct sl_store_backend sl_store_postgres_backend;

/* A borrowed connection (store.c). A write borrow holds the write mutex on backends that
 * serialise writes. */
struct db_conn {
    struct sl_store *st;
    void *c;
    bool write;
    /* borrowed inside this thread's open transaction (sl_store_tx_begin): release gives
     * nothing back, begin/end are a savepoint */
    bool nested;
    /* the connection of this thread's read snapshot (sl_store_read_begin), taken for a
     * write: release gives it back to the snapshot, not to the pool */
    bool borrowed;
};

int sl_db_acquire(struct sl_store *st, bool write, struct db_conn *out, struct sl_error *err);
void sl_db_release(struct db_conn *dc);
int sl_db_exec(struct db_conn *dc, const char *sql, const struct db_value *params, size_t nparams,
               struct db_rows *rows, int64_t *changes, struct sl_error *err);
/* Transactions on a borrowed connection: begin uses begin_write for write borrows. end
 * commits when RC is 0 and rolls back otherwise; it returns RC, or the commit's error. */
int sl_db_begin(struct db_conn *dc, struct sl_error *err);
int sl_db_end(struct db_conn *dc, int rc, struct sl_error *err);

const struct sl_store_backend *sl_db_backend(const struct sl_store *st);
const struct sl_store_options *sl_db_options(const struct sl_store *st);
/* The sealing key (borrowed), or NULL when the store has none. */
const unsigned char *sl_db_seal_key(const struct sl_store *st);
/* Seals LEN bytes of PLAIN for a row of PROJECT_ID under KEY (seal.c); *OUT (caller frees)
 * gets *OUT_LEN bytes. */
void sl_db_seal(const unsigned char *key, int64_t project_id, const char *plain, size_t len,
                unsigned char **out, size_t *out_len);
/* Opens a sealed cell; *OUT (caller frees, NUL-terminated). SL_EINVAL when it does not
 * open under KEY (another key, another project's row, tampering). */
int sl_db_unseal(const unsigned char *key, int64_t project_id, const struct sl_db_cell *cell,
                 char **out, struct sl_error *err);
/* sl_db_seal and sl_db_unseal for another PURPOSE than a variable ("webhook"): a value sealed for
 * one purpose does not open as another. */
void sl_db_seal_as(const unsigned char *key, const char *purpose, int64_t project_id,
                   const char *plain, size_t len, unsigned char **out, size_t *out_len);
int sl_db_unseal_as(const unsigned char *key, const char *purpose, int64_t project_id,
                    const struct sl_db_cell *cell, char **out, struct sl_error *err);

/* Runs the migrations (migrate.c) on a fresh connection during open. */
int sl_store_migrate(struct sl_store *st, int migrate_to, struct sl_error *err);

/* Limits shared by the row files: SL_EINVAL/SL_ELIMIT naming WHAT when S is NULL (if
 * REQUIRED) or longer than SL_STORE_TEXT_MAX. */
/* Borrows a connection, runs one statement, returns the connection (a write when WRITE). */
int sl_db_run(struct sl_store *st, bool write, const char *sql, const struct db_value *params,
              size_t nparams, struct db_rows *rows, int64_t *changes, struct sl_error *err);
int sl_db_check_text(const char *s, bool required, const char *what, struct sl_error *err);
/* The id of PROJECT_ID's resource group KEY, made (unordered) when it is new, inside DC's
 * transaction (resource_groups.c). */
int sl_db_resource_group_ensure(struct db_conn *dc, int64_t project_id, const char *key,
                                int64_t now, int64_t *id, struct sl_error *err);
/* sl_store_secret_finding_add on DC (inside its transaction: secret_findings.c). */
int sl_db_secret_finding_add(struct db_conn *dc, const struct sl_store_secret_finding *f,
                             int64_t now, bool *added_out, struct sl_error *err);
/* Jobs read with "SELECT <every job column> FROM jobs WHERE " TAIL (jobs.c); *out is the
 * caller's (sl_store_jobs_free). */
int sl_db_jobs_select(struct sl_store *st, const char *tail, const struct db_value *v, size_t nv,
                      struct sl_store_job **out, size_t *n, struct sl_error *err);
/* The job whose job_token_hash is HASH (64 hex digits), with its tags (jobs.c); SL_ENOENT
 * "invalid job token" when none. */
int sl_db_job_get_by_token_hash(struct sl_store *st, const char *hash, struct sl_store_job *out,
                                struct sl_error *err);
/* SL_EINVAL/SL_ELIMIT when job J cannot be stored (jobs.c). */
int sl_db_job_check(const struct sl_store_job *j, struct sl_error *err);
/* Runner, registration and job tokens (runners.c): SHA-256 of SECRET as 64 lowercase hex
 * digits into OUT; a new secret PREFIX + 2*NBYTES hex digits of random bytes into OUT
 * (room for strlen(PREFIX) + 2*NBYTES + 1). */
#define DB_TOKEN_HASH_HEX 64
void sl_db_token_hash(const char *secret, char out[DB_TOKEN_HASH_HEX + 1]);
/* The API tokens this process verified lately (tokens.c), so that a client's every request
 * does not read its token's row: made by sl_store_open for SQLite only, NULL otherwise
 * (several servers share a PostgreSQL store, and a token one of them revokes must be
 * refused by all at once). */
struct db_token_cache;
struct db_token_cache *sl_db_token_cache_new(void);
void sl_db_token_cache_free(struct db_token_cache *c);
struct db_token_cache *sl_db_token_cache(struct sl_store *st);
void sl_db_token_generate(const char *prefix, size_t nbytes, char *out);
/* Whether SECRET is PREFIX followed by exactly LEN - strlen(PREFIX) lowercase hex digits. */
bool sl_db_token_well_formed(const char *secret, const char *prefix, size_t len);
/* ROWS read into a new array of structs: *OUT (caller frees; never NULL, an empty answer is
 * an empty array) gets READ(ROWS, i, &(*OUT)[i]) for each row i, and *N their count. A
 * macro, so that each READ keeps its own struct type. */
#define SL_DB_READ_ALL(rows, read, out, n)                                                         \
    do {                                                                                           \
        const struct db_rows *rows_ = (rows);                                                      \
        *(out) = sl_xcalloc(rows_->nrows ? rows_->nrows : 1, sizeof(**(out)));                     \
        for (size_t i_ = 0; i_ < rows_->nrows; i_++)                                               \
            read(rows_, i_, &(*(out))[i_]);                                                        \
        *(n) = rows_->nrows;                                                                       \
    } while (0)
/* LIMIT of a page, capped at SL_STORE_LIST_MAX. */
int sl_db_page_limit(const struct sl_store_page *page);

#endif
