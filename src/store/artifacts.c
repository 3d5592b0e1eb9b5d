/* artifacts.c: metadata of job artifacts (the files live in the data directory). */
#include "base/compat.h"
#include "base/alloc.h"
#include "store/backend.h"

#define ARTIFACT_COLS "id, job_id, name, path, size, created_at, expire_at"

void sl_store_artifact_release(struct sl_store_artifact *a)
{
    if (!a)
        return;
    free(a->name);
    free(a->path);
    *a = (struct sl_store_artifact){0};
}

void sl_store_artifacts_free(struct sl_store_artifact *arr, size_t n)
{
    for (size_t i = 0; i < n; i++)
        sl_store_artifact_release(&arr[i]);
    free(arr);
}

static struct sl_store_artifact *read_artifacts(const struct db_rows *r)
{
    struct sl_store_artifact *arr = sl_xcalloc(r->nrows ? r->nrows : 1, sizeof(*arr));
    for (size_t i = 0; i < r->nrows; i++) {
        arr[i].id = sl_db_get_int(r, i, 0);
        arr[i].job_id = sl_db_get_int(r, i, 1);
        arr[i].name = sl_db_get_str0(r, i, 2);
        arr[i].path = sl_db_get_str0(r, i, 3);
        arr[i].size = sl_db_get_int(r, i, 4);
        arr[i].created_at = sl_db_get_int(r, i, 5);
        arr[i].expire_at = sl_db_get_int(r, i, 6);
    }
    return arr;
}

int sl_store_artifact_add(struct sl_store *st, const struct sl_store_artifact *a, int64_t *id_out,
                          struct sl_error *err)
{
    struct db_rows rows = {0};
    int rc;

    if ((rc = sl_db_check_text(a->name, true, "artifact name", err)) < 0 ||
        (rc = sl_db_check_text(a->path, true, "artifact path", err)) < 0)
        return rc;
    if (a->size < 0)
        return sl_error_set(err, SL_EINVAL, "artifact size is negative");
    struct db_value v[] = {db_int(a->job_id), db_text(a->name),      db_text(a->path),
                           db_int(a->size),   db_int(a->created_at), db_int_or_null(a->expire_at)};
    rc = sl_db_run(st, true,
                   "INSERT INTO artifacts (job_id, name, path, size, created_at, expire_at) VALUES "
                   "(?, ?, ?, ?, ?, ?) RETURNING id",
                   v, SL_ARRAY_LEN(v), &rows, NULL, err);
    if (rc == SL_ENOENT)
        rc = sl_error_set(err, SL_ENOENT, "job %" PRId64 " does not exist", a->job_id);
    if (rc == 0 && id_out)
        *id_out = sl_db_get_int(&rows, 0, 0);
    sl_db_rows_release(&rows);
    return rc;
}

int sl_store_artifact_list(struct sl_store *st, int64_t job_id, struct sl_store_artifact **out,
                           size_t *n, struct sl_error *err)
{
    struct db_rows rows = {0};
    struct db_value v[] = {db_int(job_id), db_int(SL_STORE_LIST_MAX)};
    int rc = sl_db_run(
        st, false, "SELECT " ARTIFACT_COLS " FROM artifacts WHERE job_id = ? ORDER BY id LIMIT ?",
        v, SL_ARRAY_LEN(v), &rows, NULL, err);
    if (rc == 0) {
        *out = read_artifacts(&rows);
        *n = rows.nrows;
    }
    sl_db_rows_release(&rows);
    return rc;
}

int sl_store_artifact_list_expired(struct sl_store *st, int64_t now, int limit,
                                   struct sl_store_artifact **out, size_t *n, struct sl_error *err)
{
    struct db_rows rows = {0};
    struct sl_store_page page = {.limit = limit};
    struct db_value v[] = {db_int(now), db_int(sl_db_page_limit(&page))};
    int rc = sl_db_run(st, false,
                       "SELECT " ARTIFACT_COLS " FROM artifacts WHERE expire_at IS NOT NULL AND "
                       "expire_at < ? ORDER BY expire_at, id LIMIT ?",
                       v, SL_ARRAY_LEN(v), &rows, NULL, err);
    if (rc == 0) {
        *out = read_artifacts(&rows);
        *n = rows.nrows;
    }
    sl_db_rows_release(&rows);
    return rc;
}

int sl_store_artifact_delete(struct sl_store *st, int64_t id, struct sl_error *err)
{
    int64_t changes = 0;
    struct db_value v = db_int(id);
    int rc = sl_db_run(st, true, "DELETE FROM artifacts WHERE id = ?", &v, 1, NULL, &changes, err);
    if (rc == 0 && changes == 0)
        rc = sl_error_set(err, SL_ENOENT, "artifact %" PRId64 " does not exist", id);
    return rc;
}
