/* freeze_periods.c: deploy freeze periods of projects. Whether one is active now is the
 * server's (deploy_freeze.c); this file keeps the rows. */
#include "base/compat.h"
#include "base/alloc.h"
#include "store/backend.h"

#define FREEZE_COLS                                                                                \
    "id, project_id, freeze_start, freeze_end, cron_timezone, created_at, updated_at"

void sl_store_freeze_period_release(struct sl_store_freeze_period *f)
{
    if (!f)
        return;
    free(f->freeze_start);
    free(f->freeze_end);
    free(f->cron_timezone);
    *f = (struct sl_store_freeze_period){0};
}

void sl_store_freeze_periods_free(struct sl_store_freeze_period *arr, size_t n)
{
    for (size_t i = 0; i < n; i++)
        sl_store_freeze_period_release(&arr[i]);
    free(arr);
}

static void read_row(const struct db_rows *r, size_t i, struct sl_store_freeze_period *f)
{
    f->id = sl_db_get_int(r, i, 0);
    f->project_id = sl_db_get_int(r, i, 1);
    f->freeze_start = sl_db_get_str0(r, i, 2);
    f->freeze_end = sl_db_get_str0(r, i, 3);
    f->cron_timezone = sl_db_get_str0(r, i, 4);
    f->created_at = sl_db_get_int(r, i, 5);
    f->updated_at = sl_db_get_int(r, i, 6);
}

static int check(const struct sl_store_freeze_period *f, struct sl_error *err)
{
    int rc;
    if ((rc = sl_db_check_text(f->freeze_start, true, "freeze_start", err)) < 0 ||
        (rc = sl_db_check_text(f->freeze_end, true, "freeze_end", err)) < 0 ||
        (rc = sl_db_check_text(f->cron_timezone, false, "cron_timezone", err)) < 0)
        return rc;
    return 0;
}

int sl_store_freeze_period_create(struct sl_store *st, const struct sl_store_freeze_period *f,
                                  int64_t now, int64_t *id_out, struct sl_error *err)
{
    struct db_rows rows = {0};
    int rc;
    if ((rc = check(f, err)) < 0)
        return rc;
    struct db_value v[] = {db_int(f->project_id),
                           db_text(f->freeze_start),
                           db_text(f->freeze_end),
                           db_text(f->cron_timezone ? f->cron_timezone : "UTC"),
                           db_int(now),
                           db_int(now)};
    rc = sl_db_run(
        st, true,
        "INSERT INTO freeze_periods (project_id, freeze_start, freeze_end, cron_timezone, "
        "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
        v, SL_ARRAY_LEN(v), &rows, NULL, err);
    if (rc == 0 && id_out)
        *id_out = sl_db_get_int(&rows, 0, 0);
    sl_db_rows_release(&rows);
    return rc;
}

int sl_store_freeze_period_list(struct sl_store *st, int64_t project_id,
                                struct sl_store_freeze_period **out, size_t *n,
                                struct sl_error *err)
{
    struct db_rows rows = {0};
    struct db_value v[] = {db_int(project_id), db_int(SL_STORE_LIST_MAX)};
    int rc =
        sl_db_run(st, false,
                  "SELECT " FREEZE_COLS " FROM freeze_periods WHERE project_id = ? ORDER BY id "
                  "LIMIT ?",
                  v, SL_ARRAY_LEN(v), &rows, NULL, err);
    if (rc == 0)
        SL_DB_READ_ALL(&rows, read_row, out, n);
    sl_db_rows_release(&rows);
    return rc;
}

int sl_store_freeze_period_get(struct sl_store *st, int64_t id, struct sl_store_freeze_period *out,
                               struct sl_error *err)
{
    struct db_rows rows = {0};
    struct db_value v = db_int(id);
    int rc = sl_db_run(st, false, "SELECT " FREEZE_COLS " FROM freeze_periods WHERE id = ?", &v, 1,
                       &rows, NULL, err);
    if (rc == 0 && rows.nrows == 0)
        rc = sl_error_set(err, SL_ENOENT, "freeze period %" PRId64 " does not exist", id);
    else if (rc == 0)
        read_row(&rows, 0, out);
    sl_db_rows_release(&rows);
    return rc;
}

int sl_store_freeze_period_update(struct sl_store *st, const struct sl_store_freeze_period *f,
                                  int64_t now, struct sl_error *err)
{
    int64_t changes = 0;
    int rc;
    if ((rc = check(f, err)) < 0)
        return rc;
    struct db_value v[] = {db_text(f->freeze_start), db_text(f->freeze_end),
                           db_text(f->cron_timezone ? f->cron_timezone : "UTC"), db_int(now),
                           db_int(f->id)};
    rc = sl_db_run(st, true,
                   "UPDATE freeze_periods SET freeze_start = ?, freeze_end = ?, cron_timezone = ?, "
                   "updated_at = ? WHERE id = ?",
                   v, SL_ARRAY_LEN(v), NULL, &changes, err);
    if (rc == 0 && changes == 0)
        rc = sl_error_set(err, SL_ENOENT, "freeze period %" PRId64 " does not exist", f->id);
    return rc;
}

int sl_store_freeze_period_delete(struct sl_store *st, int64_t id, struct sl_error *err)
{
    int64_t changes = 0;
    struct db_value v = db_int(id);
    int rc =
        sl_db_run(st, true, "DELETE FROM freeze_periods WHERE id = ?", &v, 1, NULL, &changes, err);
    if (rc == 0 && changes == 0)
        rc = sl_error_set(err, SL_ENOENT, "freeze period %" PRId64 " does not exist", id);
    return rc;
}
