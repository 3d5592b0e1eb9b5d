/* migrate.h: the embedded migrations (internal to src/store and its tests). */
#ifndef SL_STORE_MIGRATE_H
#define SL_STORE_MIGRATE_H

#include "base/compat.h"
#include "base/error.h"

struct sl_store_migration {
    int version;
    char *name;      /* owned: "init" of 0001_init.sqlite.sql */
    const char *sql; /* borrowed from the embedded table */
};

/* The migrations a backend runs (SUFFIX "sqlite" or "postgres": its variants plus the
 * shared NNNN_name.sql files), by version. SL_EINVAL for a badly named file or two files
 * with one version. Free *out with sl_store_migrations_free. */
int sl_store_migrations(const char *suffix, struct sl_store_migration **out, size_t *n,
                        struct sl_error *err);
void sl_store_migrations_free(struct sl_store_migration *arr, size_t n);

#endif
