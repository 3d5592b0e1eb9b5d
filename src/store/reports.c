/* reports.c: what a job's reports left (store.h, job_reports): its dotenv variables and
 * its JUnit counts, as JSON texts the server writes and reads. */
#include "base/compat.h"
#include "base/alloc.h"
#include "store/backend.h"

void sl_store_job_report_release(struct sl_store_job_report *r)
{
    if (!r)
        return;
    free(r->name);
    free(r->dotenv);
    free(r->junit);
    *r = (struct sl_store_job_report){0};
}

void sl_store_job_reports_free(struct sl_store_job_report *arr, size_t n)
{
    for (size_t i = 0; i < n; i++)
        sl_store_job_report_release(&arr[i]);
    free(arr);
}

int sl_store_job_report_set(struct sl_store *st, int64_t job_id, const char *dotenv,
                            const char *junit, struct sl_error *err)
{
    int rc;
    if ((rc = sl_db_check_text(dotenv, false, "dotenv report", err)) < 0 ||
        (rc = sl_db_check_text(junit, false, "junit report", err)) < 0)
        return rc;
    struct db_value v[] = {db_int(job_id), db_text(dotenv), db_text(junit)};
    rc = sl_db_run(st, true,
                   "INSERT INTO job_reports (job_id, dotenv, junit) VALUES (?, ?, ?) "
                   "ON CONFLICT (job_id) DO UPDATE SET dotenv = excluded.dotenv, "
                   "junit = excluded.junit",
                   v, SL_ARRAY_LEN(v), NULL, NULL, err);
    if (rc == SL_ENOENT)
        rc = sl_error_set(err, SL_ENOENT, "job %" PRId64 " does not exist", job_id);
    return rc;
}

int sl_store_job_reports_by_pipeline(struct sl_store *st, int64_t pipeline_id,
                                     struct sl_store_job_report **out, size_t *n,
                                     struct sl_error *err)
{
    struct db_rows rows = {0};
    struct db_value v[] = {db_int(pipeline_id), db_int(SL_STORE_PIPELINE_JOBS_MAX)};
    int rc = sl_db_run(st, false,
                       "SELECT j.id, j.position, j.name, r.dotenv, r.junit FROM job_reports r "
                       "JOIN jobs j ON j.id = r.job_id WHERE j.pipeline_id = ? AND "
                       "j.retried_position IS NULL ORDER BY j.position LIMIT ?",
                       v, SL_ARRAY_LEN(v), &rows, NULL, err);
    if (rc == 0) {
        struct sl_store_job_report *arr = sl_xcalloc(rows.nrows ? rows.nrows : 1, sizeof(*arr));
        for (size_t i = 0; i < rows.nrows; i++) {
            arr[i].job_id = sl_db_get_int(&rows, i, 0);
            arr[i].position = (int)sl_db_get_int(&rows, i, 1);
            arr[i].name = sl_db_get_str0(&rows, i, 2);
            arr[i].dotenv = sl_db_is_null(&rows, i, 3) ? NULL : sl_db_get_str0(&rows, i, 3);
            arr[i].junit = sl_db_is_null(&rows, i, 4) ? NULL : sl_db_get_str0(&rows, i, 4);
        }
        *out = arr;
        *n = rows.nrows;
    }
    sl_db_rows_release(&rows);
    return rc;
}
