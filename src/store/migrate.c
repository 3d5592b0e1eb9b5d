/* migrate.c: versioned schema migrations, embedded in the binary and applied at open.
 *
 * src/store/migrations/NNNN_name.sql runs on every backend; where the dialects differ a
 * migration comes as a pair NNNN_name.sqlite.sql + NNNN_name.postgres.sql instead. All
 * pending migrations run in one transaction, each recorded in schema_migrations. */
#include "base/compat.h"
#include "base/alloc.h"
#include "base/embedded.h"
#include "base/time.h"
#include "store/backend.h"
#include "store/migrate.h"

#define MIGRATIONS_DIR "src/store/migrations/"

void sl_store_migrations_free(struct sl_store_migration *arr, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(arr[i].name);
    free(arr);
}

static int by_version(const void *a, const void *b)
{
    const struct sl_store_migration *x = a, *y = b;
    return (x->version > y->version) - (x->version < y->version);
}

/* "0001_init.sqlite.sql" -> version 1, name "init", variant "sqlite" ("" when shared). */
static bool parse_name(const char *file, int *version, char **name, char **variant)
{
    char *end;
    long v = strtol(file, &end, 10);
    if (end != file + 4 || *end != '_' || v <= 0 || !sl_ends_with(file, ".sql"))
        return false;
    const char *base = end + 1;
    size_t len = strlen(base) - strlen(".sql");
    const char *dot = memchr(base, '.', len);
    *version = (int)v;
    *name = sl_xstrndup(base, dot ? (size_t)(dot - base) : len);
    *variant = dot ? sl_xstrndup(dot + 1, len - (size_t)(dot + 1 - base)) : sl_xstrdup("");
    return **name != '\0';
}

int sl_store_migrations(const char *suffix, struct sl_store_migration **out, size_t *n,
                        struct sl_error *err)
{
    struct sl_store_migration *list = NULL;
    size_t count = 0, cap = 0;
    int rc = 0;

    for (const struct sl_embedded *e = sl_embedded_files; e->path; e++) {
        if (!sl_starts_with(e->path, MIGRATIONS_DIR))
            continue;
        const char *file = e->path + strlen(MIGRATIONS_DIR);
        int version;
        char *name = NULL, *variant = NULL;
        if (!parse_name(file, &version, &name, &variant)) {
            free(name);
            free(variant);
            rc = sl_error_set(err, SL_EINVAL, "store: badly named migration %s", e->path);
            goto out;
        }
        bool mine = !*variant || sl_streq(variant, suffix);
        free(variant);
        if (!mine) {
            free(name);
            continue;
        }
        for (size_t i = 0; i < count; i++) {
            if (list[i].version == version) {
                free(name);
                rc = sl_error_set(err, SL_EINVAL, "store: two migrations with version %d", version);
                goto out;
            }
        }
        SL_GROW(list, cap, count + 1);
        list[count++] = (struct sl_store_migration){version, name, (const char *)e->data};
    }
    if (count)
        qsort(list, count, sizeof(*list), by_version);
    *out = list;
    *n = count;
    list = NULL;
    count = 0;
out:
    sl_store_migrations_free(list, count);
    return rc;
}

int sl_store_latest_version(void)
{
    struct sl_store_migration *list = NULL;
    size_t n = 0;
    int latest = 0;
    if (sl_store_migrations("sqlite", &list, &n, NULL) == 0 && n)
        latest = list[n - 1].version;
    sl_store_migrations_free(list, n);
    return latest;
}

/* Whether VERSION is among the applied rows of schema_migrations. Migrations are applied by
 * set, not by "everything above the highest": numbers are reserved per feature, so one
 * with a lower number may land after a higher one and must still be applied. */
static bool is_applied(const struct db_rows *applied, int version)
{
    for (size_t i = 0; i < applied->nrows; i++)
        if (sl_db_get_int(applied, i, 0) == version)
            return true;
    return false;
}

static int read_version(struct db_conn *dc, int *out, struct sl_error *err)
{
    struct db_rows rows = {0};
    int rc =
        sl_db_exec(dc, "SELECT MAX(version) FROM schema_migrations", NULL, 0, &rows, NULL, err);
    if (rc == 0)
        *out = rows.nrows ? (int)sl_db_get_int(&rows, 0, 0) : 0;
    sl_db_rows_release(&rows);
    return rc;
}

int sl_store_schema_version(struct sl_store *st, int *out, struct sl_error *err)
{
    struct db_conn dc;
    int rc;

    if ((rc = sl_db_acquire(st, false, &dc, err)) < 0)
        return rc;
    rc = read_version(&dc, out, err);
    sl_db_release(&dc);
    return rc;
}

int sl_store_migrate(struct sl_store *st, int migrate_to, struct sl_error *err)
{
    const struct sl_store_backend *be = sl_db_backend(st);
    struct sl_store_migration *list = NULL;
    size_t n = 0;
    struct db_conn dc = {0};
    struct db_rows applied = {0};
    int current = 0, rc;

    if ((rc = sl_store_migrations(be->migration_suffix, &list, &n, err)) < 0)
        goto out;
    if (n == 0) {
        rc = sl_error_set(err, SL_EINVAL, "store: no migrations are embedded in this binary");
        goto out;
    }
    int latest = list[n - 1].version;
    if ((rc = sl_db_acquire(st, true, &dc, err)) < 0)
        goto out;
    if ((rc = sl_db_begin(&dc, err)) < 0)
        goto release;
    /* under the lock, so two servers starting at once migrate one after the other */
    if (be->migrate_lock && (rc = sl_db_exec(&dc, be->migrate_lock, NULL, 0, NULL, NULL, err)) < 0)
        goto end;
    rc = be->exec_script(dc.c,
                         "CREATE TABLE IF NOT EXISTS schema_migrations ("
                         "version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
                         "applied_at BIGINT NOT NULL)",
                         err);
    if (rc < 0 || (rc = read_version(&dc, &current, err)) < 0)
        goto end;
    if ((rc = sl_db_exec(&dc, "SELECT version FROM schema_migrations", NULL, 0, &applied, NULL,
                         err)) < 0)
        goto end;
    if (current > latest) {
        rc = sl_error_set(err, SL_EUNSUPPORTED,
                          "database schema version %d is newer than this sluice (%d); "
                          "upgrade sluice",
                          current, latest);
        goto end;
    }
    for (size_t i = 0; i < n; i++) {
        const struct sl_store_migration *m = &list[i];
        if (is_applied(&applied, m->version) || (migrate_to > 0 && m->version > migrate_to))
            continue;
        if ((rc = be->exec_script(dc.c, m->sql, err)) < 0) {
            char *why = sl_xstrdup(err && err->message ? err->message : "failed");
            rc = sl_error_set(err, rc, "migration %04d_%s: %s", m->version, m->name, why);
            free(why);
            goto end;
        }
        struct db_value p[] = {db_int(m->version), db_text(m->name), db_int(sl_time_now_ms())};
        rc = sl_db_exec(&dc,
                        "INSERT INTO schema_migrations (version, name, applied_at) "
                        "VALUES (?, ?, ?)",
                        p, SL_ARRAY_LEN(p), NULL, NULL, err);
        if (rc < 0)
            goto end;
    }
end:
    rc = sl_db_end(&dc, rc, err);
    sl_db_rows_release(&applied);
release:
    sl_db_release(&dc);
out:
    sl_store_migrations_free(list, n);
    return rc;
}
