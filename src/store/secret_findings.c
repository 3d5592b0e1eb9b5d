/* secret_findings.c: secret findings and the project's policy for them (store.h). The
 * scanning is the server's (server/secret_scan.c); this file keeps the rows. */
#include "base/compat.h"
#include "base/alloc.h"
#include "store/backend.h"

#define FINDING_COLS                                                                               \
    "id, project_id, pipeline_id, job_id, commit_sha, file, rule, line, place, excerpt, "          \
    "created_at"

void sl_store_secret_finding_release(struct sl_store_secret_finding *f)
{
    if (!f)
        return;
    free(f->commit_sha);
    free(f->file);
    free(f->rule);
    free(f->excerpt);
    *f = (struct sl_store_secret_finding){0};
}

void sl_store_secret_findings_free(struct sl_store_secret_finding *arr, size_t n)
{
    for (size_t i = 0; i < n; i++)
        sl_store_secret_finding_release(&arr[i]);
    free(arr);
}

int sl_db_secret_finding_add(struct db_conn *dc, const struct sl_store_secret_finding *f,
                             int64_t now, bool *added_out, struct sl_error *err)
{
    int64_t changes = 0;
    int rc;
    if ((rc = sl_db_check_text(f->rule, true, "rule", err)) < 0 ||
        (rc = sl_db_check_text(f->excerpt, true, "excerpt", err)) < 0 ||
        (rc = sl_db_check_text(f->commit_sha, false, "commit", err)) < 0 ||
        (rc = sl_db_check_text(f->file, false, "file", err)) < 0)
        return rc;
    if (f->job_id > 0) {
        /* the job names its pipeline and project; a job gone meanwhile adds nothing */
        struct db_value v[] = {db_text(f->rule),    db_int(f->line), db_int(f->place),
                               db_text(f->excerpt), db_int(now),     db_int(f->job_id)};
        rc = sl_db_exec(dc,
                        "INSERT INTO secret_findings (project_id, pipeline_id, job_id, rule, line, "
                        "place, excerpt, created_at) SELECT p.project_id, p.id, j.id, "
                        "CAST(? AS TEXT), CAST(? AS BIGINT), CAST(? AS BIGINT), CAST(? AS TEXT), "
                        "CAST(? AS BIGINT) FROM jobs j JOIN pipelines p ON p.id = j.pipeline_id "
                        "WHERE j.id = ? ON CONFLICT DO NOTHING",
                        v, SL_ARRAY_LEN(v), NULL, &changes, err);
    } else {
        struct db_value v[] = {db_int(f->project_id),
                               db_int_or_null(f->pipeline_id),
                               db_text(f->commit_sha ? f->commit_sha : ""),
                               db_text(f->file ? f->file : ""),
                               db_text(f->rule),
                               db_int(f->line),
                               db_int(f->place),
                               db_text(f->excerpt),
                               db_int(now)};
        rc =
            sl_db_exec(dc,
                       "INSERT INTO secret_findings (project_id, pipeline_id, commit_sha, file, "
                       "rule, line, place, excerpt, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
                       "ON CONFLICT DO NOTHING",
                       v, SL_ARRAY_LEN(v), NULL, &changes, err);
    }
    if (rc == 0 && added_out)
        *added_out = changes > 0;
    return rc;
}

int sl_store_secret_finding_add(struct sl_store *st, const struct sl_store_secret_finding *f,
                                int64_t now, bool *added_out, struct sl_error *err)
{
    struct db_conn dc;
    int rc = sl_db_acquire(st, true, &dc, err);
    if (rc < 0)
        return rc;
    rc = sl_db_secret_finding_add(&dc, f, now, added_out, err);
    sl_db_release(&dc);
    return rc;
}

static void read_finding(const struct db_rows *r, size_t i, struct sl_store_secret_finding *f)
{
    f->id = sl_db_get_int(r, i, 0);
    f->project_id = sl_db_get_int(r, i, 1);
    f->pipeline_id = sl_db_get_int(r, i, 2);
    f->job_id = sl_db_get_int(r, i, 3);
    f->commit_sha = sl_db_get_str0(r, i, 4);
    f->file = sl_db_get_str0(r, i, 5);
    f->rule = sl_db_get_str0(r, i, 6);
    f->line = sl_db_get_int(r, i, 7);
    f->place = sl_db_get_int(r, i, 8);
    f->excerpt = sl_db_get_str0(r, i, 9);
    f->created_at = sl_db_get_int(r, i, 10);
}

int sl_store_secret_finding_list(struct sl_store *st, int64_t project_id,
                                 const struct sl_store_page *page,
                                 struct sl_store_secret_finding **out, size_t *n,
                                 struct sl_error *err)
{
    struct db_rows rows = {0};
    int64_t after = page && page->after > 0 ? page->after : INT64_MAX;
    const char *source = page ? page->status : NULL;
    if (source && strcmp(source, "log") != 0 && strcmp(source, "push") != 0)
        return sl_error_set(err, SL_EINVAL, "a finding's source is log or push");
    struct db_value v[] = {db_int(project_id), db_int(after), db_text(source), db_text(source),
                           db_int(sl_db_page_limit(page))};
    int rc = sl_db_run(st, false,
                       "SELECT " FINDING_COLS " FROM secret_findings WHERE project_id = ? AND "
                       "id < ? AND (CAST(? AS TEXT) IS NULL OR (CASE WHEN job_id > 0 THEN 'log' "
                       "ELSE 'push' END) = ?) ORDER BY id DESC LIMIT ?",
                       v, SL_ARRAY_LEN(v), &rows, NULL, err);
    if (rc == 0) {
        struct sl_store_secret_finding *arr = sl_xcalloc(rows.nrows ? rows.nrows : 1, sizeof(*arr));
        for (size_t i = 0; i < rows.nrows; i++)
            read_finding(&rows, i, &arr[i]);
        *out = arr;
        *n = rows.nrows;
    }
    sl_db_rows_release(&rows);
    return rc;
}

int sl_store_secret_finding_count(struct sl_store *st, int64_t pipeline_id, int64_t job_id,
                                  int64_t *out, struct sl_error *err)
{
    struct db_rows rows = {0};
    struct db_value v[] = {db_int(pipeline_id), db_int(job_id), db_int(job_id)};
    int rc = sl_db_run(st, false,
                       "SELECT COUNT(*) FROM secret_findings WHERE pipeline_id = ? AND job_id > 0 "
                       "AND (CAST(? AS BIGINT) = 0 OR job_id = ?)",
                       v, SL_ARRAY_LEN(v), &rows, NULL, err);
    if (rc == 0)
        *out = sl_db_get_int(&rows, 0, 0);
    sl_db_rows_release(&rows);
    return rc;
}

static bool policy_known(const char *p)
{
    return p && (!strcmp(p, "report") || !strcmp(p, "fail") || !strcmp(p, "refuse"));
}

int sl_store_secret_policy_get(struct sl_store *st, int64_t project_id, char **out,
                               struct sl_error *err)
{
    struct db_rows rows = {0};
    struct db_value v = db_int(project_id);
    int rc = sl_db_run(st, false, "SELECT policy FROM secret_policies WHERE project_id = ?", &v, 1,
                       &rows, NULL, err);
    if (rc == 0)
        *out = rows.nrows ? sl_db_get_str0(&rows, 0, 0) : sl_xstrdup("report");
    sl_db_rows_release(&rows);
    return rc;
}

int sl_store_secret_policy_set(struct sl_store *st, int64_t project_id, const char *policy,
                               int64_t now, struct sl_error *err)
{
    if (!policy_known(policy))
        return sl_error_set(err, SL_EINVAL, "the policy must be report, fail or refuse");
    struct db_value v[] = {db_int(project_id), db_text(policy), db_int(now)};
    return sl_db_run(
        st, true,
        "INSERT INTO secret_policies (project_id, policy, updated_at) VALUES (?, ?, ?) "
        "ON CONFLICT (project_id) DO UPDATE SET policy = excluded.policy, "
        "updated_at = excluded.updated_at",
        v, SL_ARRAY_LEN(v), NULL, NULL, err);
}
