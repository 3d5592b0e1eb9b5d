/* pipelines.c: pipelines, created together with their jobs. */
#include "base/compat.h"
#include "base/alloc.h"
#include "store/backend.h"

#define PIPELINE_COLS                                                                              \
    "id, project_id, iid, status, ref, is_tag, sha, before_sha, source, variables, "               \
    "error_message, yaml_errors, created_at, started_at, finished_at, parent_pipeline_id, "        \
    "parent_job_id, hold_reason, approved_by, approved_at, protected, source_sha, target_sha, "    \
    "merge_request_iid, CASE WHEN EXISTS (SELECT 1 FROM forge_connections f WHERE "                \
    "f.project_id = pipelines.project_id) THEN 1 ELSE 0 END"

void sl_store_pipeline_release(struct sl_store_pipeline *p)
{
    if (!p)
        return;
    free(p->status);
    free(p->ref);
    free(p->sha);
    free(p->before_sha);
    free(p->source);
    free(p->variables);
    free(p->error_message);
    free(p->yaml_errors);
    free(p->hold_reason);
    free(p->approved_by);
    free(p->source_sha);
    free(p->target_sha);
    *p = (struct sl_store_pipeline){0};
}

void sl_store_pipelines_free(struct sl_store_pipeline *arr, size_t n)
{
    for (size_t i = 0; i < n; i++)
        sl_store_pipeline_release(&arr[i]);
    free(arr);
}

static void read_pipeline(const struct db_rows *r, size_t row, struct sl_store_pipeline *p)
{
    p->id = sl_db_get_int(r, row, 0);
    p->project_id = sl_db_get_int(r, row, 1);
    p->iid = sl_db_get_int(r, row, 2);
    p->status = sl_db_get_str0(r, row, 3);
    p->ref = sl_db_get_str0(r, row, 4);
    p->is_tag = sl_db_get_int(r, row, 5) != 0;
    p->sha = sl_db_get_str0(r, row, 6);
    p->before_sha = sl_db_get_str0(r, row, 7);
    p->source = sl_db_get_str0(r, row, 8);
    p->variables = sl_db_get_str0(r, row, 9);
    p->error_message = sl_db_get_str(r, row, 10);
    p->yaml_errors = sl_db_get_str(r, row, 11);
    p->created_at = sl_db_get_int(r, row, 12);
    p->started_at = sl_db_get_int(r, row, 13);
    p->finished_at = sl_db_get_int(r, row, 14);
    p->parent_pipeline_id = sl_db_get_int(r, row, 15);
    p->parent_job_id = sl_db_get_int(r, row, 16);
    p->hold_reason = sl_db_get_str(r, row, 17);
    p->approved_by = sl_db_get_str(r, row, 18);
    p->approved_at = sl_db_get_int(r, row, 19);
    p->protected_known = !sl_db_is_null(r, row, 20);
    p->protected_ = sl_db_get_int(r, row, 20) != 0;
    p->source_sha = sl_db_get_str(r, row, 21);
    p->target_sha = sl_db_get_str(r, row, 22);
    p->merge_request_iid = sl_db_get_int(r, row, 23);
    p->forge_known = true;
    p->has_forge = sl_db_get_int(r, row, 24) != 0;
}

static int check_pipeline(const struct sl_store_pipeline *p, struct sl_error *err)
{
    int rc;
    if ((rc = sl_db_check_text(p->status, true, "pipeline status", err)) < 0 ||
        (rc = sl_db_check_text(p->ref, true, "ref", err)) < 0 ||
        (rc = sl_db_check_text(p->sha, false, "sha", err)) < 0 ||
        (rc = sl_db_check_text(p->before_sha, false, "before_sha", err)) < 0 ||
        (rc = sl_db_check_text(p->source, true, "source", err)) < 0 ||
        (rc = sl_db_check_text(p->variables, false, "variables", err)) < 0 ||
        (rc = sl_db_check_text(p->error_message, false, "error_message", err)) < 0 ||
        (rc = sl_db_check_text(p->yaml_errors, false, "yaml_errors", err)) < 0 ||
        (rc = sl_db_check_text(p->hold_reason, false, "hold_reason", err)) < 0 ||
        (rc = sl_db_check_text(p->source_sha, false, "source_sha", err)) < 0 ||
        (rc = sl_db_check_text(p->target_sha, false, "target_sha", err)) < 0)
        return rc;
    return 0;
}

static int insert_job(struct db_conn *dc, int64_t project_id, int64_t pipeline_id, int position,
                      const struct sl_store_job *j, int64_t now, int64_t *id_out,
                      struct sl_error *err)
{
    struct db_rows rows = {0};
    int64_t group = 0;
    int rc;

    if (j->resource_group &&
        (rc = sl_db_resource_group_ensure(dc, project_id, j->resource_group, now, &group, err)) < 0)
        return rc;

    /* a pending job must have a queued_at: the queue is ordered by it */
    int64_t queued_at = j->queued_at;
    if (!queued_at && sl_streq(j->status, "pending"))
        queued_at = now;
    struct db_value v[] = {
        db_int(pipeline_id),
        db_int(position),
        db_text(j->name),
        db_text(j->stage),
        db_int(j->stage_idx),
        db_text(j->status),
        db_text(j->when ? j->when : "on_success"),
        db_int(j->allow_failure),
        db_int(j->attempt > 0 ? j->attempt : 1),
        db_text(j->retry ? j->retry : "{}"),
        db_text(j->spec ? j->spec : "{}"),
        db_int(now),
        db_int_or_null(queued_at),
        db_int_or_null(j->due_at),
        db_int_or_null(j->lease_deadline), /* a bridge running from the start (bridge.c) */
        db_int_or_null(group),
    };
    /* the column is named only when used: a store held at an older version (migrate_to)
     * still takes jobs without a group */
    rc = sl_db_exec(
        dc,
        group ? "INSERT INTO jobs (pipeline_id, position, name, stage, stage_idx, status, "
                "run_when, allow_failure, attempt, retry, spec, created_at, queued_at, "
                "due_at, lease_deadline, resource_group_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, "
                "?, ?, ?, ?, ?, ?, ?, ?) RETURNING id"
              : "INSERT INTO jobs (pipeline_id, position, name, stage, stage_idx, status, "
                "run_when, allow_failure, attempt, retry, spec, created_at, queued_at, "
                "due_at, lease_deadline) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "RETURNING id",
        v, SL_ARRAY_LEN(v) - (group ? 0 : 1), &rows, NULL, err);
    if (rc < 0)
        goto out;
    int64_t job_id = sl_db_get_int(&rows, 0, 0);
    if (id_out)
        *id_out = job_id;
    for (size_t t = 0; t < j->ntags; t++) {
        struct db_value tv[] = {db_int(job_id), db_text(j->tags[t])};
        rc = sl_db_exec(dc, "INSERT INTO job_tags (job_id, tag) VALUES (?, ?)", tv,
                        SL_ARRAY_LEN(tv), NULL, NULL, err);
        if (rc == SL_EEXISTS)
            rc = sl_error_set(err, SL_EINVAL, "job '%s' lists tag '%s' twice", j->name, j->tags[t]);
        if (rc < 0)
            goto out;
    }
out:
    sl_db_rows_release(&rows);
    return rc;
}

int sl_store_pipeline_create(struct sl_store *st, const struct sl_store_pipeline *p,
                             const struct sl_store_job *jobs, size_t njobs, int64_t now,
                             int64_t *id_out, int64_t *iid_out, struct sl_error *err)
{
    return sl_store_pipeline_create_ids(st, p, jobs, njobs, now, id_out, iid_out, NULL, err);
}

int sl_store_pipeline_create_ids(struct sl_store *st, const struct sl_store_pipeline *p,
                                 const struct sl_store_job *jobs, size_t njobs, int64_t now,
                                 int64_t *id_out, int64_t *iid_out, int64_t *job_ids_out,
                                 struct sl_error *err)
{
    struct db_conn dc = {0};
    struct db_rows rows = {0};
    int64_t iid = 0, id = 0;
    int rc;

    if ((rc = check_pipeline(p, err)) < 0)
        return rc;
    if (njobs > SL_STORE_PIPELINE_JOBS_MAX)
        return sl_error_set(err, SL_ELIMIT, "a pipeline of %zu jobs (max %d)", njobs,
                            SL_STORE_PIPELINE_JOBS_MAX);
    for (size_t i = 0; i < njobs; i++)
        if ((rc = sl_db_job_check(&jobs[i], err)) < 0)
            return rc;

    if ((rc = sl_db_acquire(st, true, &dc, err)) < 0)
        return rc;
    if ((rc = sl_db_begin(&dc, err)) < 0)
        goto release;
    /* the counter row also serialises concurrent creations in one project */
    struct db_value pv = db_int(p->project_id);
    rc = sl_db_exec(&dc,
                    "UPDATE projects SET last_pipeline_iid = last_pipeline_iid + 1 WHERE id = ? "
                    "RETURNING last_pipeline_iid",
                    &pv, 1, &rows, NULL, err);
    if (rc < 0)
        goto end;
    if (rows.nrows == 0) {
        rc = sl_error_set(err, SL_ENOENT, "project %" PRId64 " does not exist", p->project_id);
        goto end;
    }
    iid = sl_db_get_int(&rows, 0, 0);
    sl_db_rows_release(&rows);
    struct db_value v[21] = {
        db_int(p->project_id),
        db_int(iid),
        db_text(p->status),
        db_text(p->ref),
        db_int(p->is_tag),
        db_text(p->sha ? p->sha : ""),
        db_text(p->before_sha ? p->before_sha : ""),
        db_text(p->source),
        db_text(p->variables ? p->variables : "{}"),
        db_text(p->error_message),
        db_text(p->yaml_errors),
        db_int(now),
        db_int_or_null(p->started_at),
        db_int_or_null(p->finished_at),
    };
    size_t nv = 14;
    char cols[256] = "";
    size_t cl = 0; /* strlen(cols) */
    /* the later migrations' columns only when set, in the one INSERT: a store at an older
     * schema can still take ordinary pipelines (tests/unit/test_store.c
     * migrate_from_older_schema) */
    if (p->parent_pipeline_id || p->parent_job_id) { /* 0080's */
        cl += (size_t)snprintf(cols + cl, sizeof(cols) - cl, "%s",
                               ", parent_pipeline_id, parent_job_id");
        v[nv++] = db_int_or_null(p->parent_pipeline_id);
        v[nv++] = db_int_or_null(p->parent_job_id);
    }
    if (p->hold_reason || p->protected_known) { /* 0061's */
        cl += (size_t)snprintf(cols + cl, sizeof(cols) - cl, "%s", ", hold_reason, protected");
        v[nv++] = db_text(p->hold_reason);
        v[nv++] = p->protected_known ? db_int(p->protected_) : db_null();
    }
    if (p->source_sha) { /* 0064's */
        cl += (size_t)snprintf(cols + cl, sizeof(cols) - cl, "%s", ", source_sha, target_sha");
        v[nv++] = db_text(p->source_sha);
        v[nv++] = db_text(p->target_sha);
    }
    if (p->merge_request_iid) { /* 0065's */
        cl += (size_t)snprintf(cols + cl, sizeof(cols) - cl, "%s", ", merge_request_iid");
        v[nv++] = db_int(p->merge_request_iid);
    }
    char sql[768]; /* a ", ?" (3 bytes) of the placeholders' tail for each value past 14 */
    snprintf(sql, sizeof(sql),
             "INSERT INTO pipelines (project_id, iid, status, ref, is_tag, sha, before_sha, "
             "source, variables, error_message, yaml_errors, created_at, started_at, "
             "finished_at%s) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?%.*s) RETURNING id",
             cols, (int)(3 * (nv - 14)), ", ?, ?, ?, ?, ?, ?, ?");
    if ((rc = sl_db_exec(&dc, sql, v, nv, &rows, NULL, err)) < 0)
        goto end;
    id = sl_db_get_int(&rows, 0, 0);
    for (size_t i = 0; i < njobs; i++)
        if ((rc = insert_job(&dc, p->project_id, id, (int)i, &jobs[i], now,
                             job_ids_out ? &job_ids_out[i] : NULL, err)) < 0)
            goto end;
end:
    rc = sl_db_end(&dc, rc, err);
release:
    sl_db_release(&dc);
    sl_db_rows_release(&rows);
    if (rc == 0) {
        if (id_out)
            *id_out = id;
        if (iid_out)
            *iid_out = iid;
    }
    return rc;
}

int sl_store_pipeline_get(struct sl_store *st, int64_t id, struct sl_store_pipeline *out,
                          struct sl_error *err)
{
    struct db_rows rows = {0};
    struct db_value v = db_int(id);
    int rc = sl_db_run(st, false, "SELECT " PIPELINE_COLS " FROM pipelines WHERE id = ?", &v, 1,
                       &rows, NULL, err);
    if (rc == 0 && rows.nrows == 0)
        rc = sl_error_set(err, SL_ENOENT, "pipeline %" PRId64 " does not exist", id);
    if (rc == 0)
        read_pipeline(&rows, 0, out);
    sl_db_rows_release(&rows);
    return rc;
}

int sl_store_pipeline_downstream(struct sl_store *st, int64_t parent_id,
                                 struct sl_store_pipeline **out, size_t *n, struct sl_error *err)
{
    struct db_rows rows = {0};
    struct db_value v = db_int(parent_id);
    int rc = sl_db_run(st, false,
                       "SELECT " PIPELINE_COLS " FROM pipelines WHERE parent_pipeline_id = ? "
                       "ORDER BY id LIMIT 1000",
                       &v, 1, &rows, NULL, err);
    if (rc == 0) {
        *out = sl_xcalloc(rows.nrows + 1, sizeof(**out));
        for (size_t i = 0; i < rows.nrows; i++)
            read_pipeline(&rows, i, &(*out)[i]);
        *n = rows.nrows;
    }
    sl_db_rows_release(&rows);
    return rc;
}

int sl_store_pipeline_update(struct sl_store *st, const struct sl_store_pipeline *p,
                             struct sl_error *err)
{
    int64_t changes = 0;
    int rc;

    if ((rc = sl_db_check_text(p->status, true, "pipeline status", err)) < 0 ||
        (rc = sl_db_check_text(p->error_message, false, "error_message", err)) < 0 ||
        (rc = sl_db_check_text(p->yaml_errors, false, "yaml_errors", err)) < 0)
        return rc;
    struct db_value v[] = {
        db_text(p->status),
        db_text(p->error_message),
        db_text(p->yaml_errors),
        db_int_or_null(p->started_at),
        db_int_or_null(p->finished_at),
        db_int(p->id),
    };
    rc = sl_db_run(st, true,
                   "UPDATE pipelines SET status = ?, error_message = ?, yaml_errors = ?, "
                   "started_at = ?, finished_at = ? WHERE id = ?",
                   v, SL_ARRAY_LEN(v), NULL, &changes, err);
    if (rc == 0 && changes == 0)
        rc = sl_error_set(err, SL_ENOENT, "pipeline %" PRId64 " does not exist", p->id);
    return rc;
}

int sl_store_pipeline_approve(struct sl_store *st, int64_t id, const char *by, int64_t now,
                              struct sl_error *err)
{
    int64_t changes = 0;
    int rc;
    if ((rc = sl_db_check_text(by, true, "approved_by", err)) < 0)
        return rc;
    struct db_value v[] = {db_text(by), db_int(now), db_int(id)};
    /* compare-and-set on the hold: of two approvals at once, one lets it run */
    rc = sl_db_run(st, true,
                   "UPDATE pipelines SET hold_reason = NULL, approved_by = ?, approved_at = ? "
                   "WHERE id = ? AND hold_reason IS NOT NULL AND finished_at IS NULL",
                   v, SL_ARRAY_LEN(v), NULL, &changes, err);
    if (rc == 0 && changes == 0) {
        struct sl_store_pipeline p = {0};
        rc = sl_store_pipeline_get(st, id, &p, err);
        sl_store_pipeline_release(&p);
        if (rc == 0)
            rc = sl_error_set(err, SL_EBUSY,
                              "pipeline %" PRId64
                              " does not wait for an approval (it was never held, "
                              "was approved already or has ended)",
                              id);
    }
    return rc;
}

int sl_store_pipeline_list_cancelable(struct sl_store *st, int64_t project_id, const char *ref,
                                      int64_t before_id, struct sl_store_pipeline **out, size_t *n,
                                      struct sl_error *err)
{
    struct db_rows rows = {0};
    int rc;
    if ((rc = sl_db_check_text(ref, true, "ref", err)) < 0)
        return rc;
    struct db_value v[] = {db_int(project_id), db_text(ref), db_int(before_id),
                           db_int(5 * SL_STORE_LIST_MAX)};
    /* by the statuses (pipelines_by_status: the few unfinished pipelines), not by the
     * project: "+project_id" keeps SQLite off pipelines_by_project, whose walk reads every
     * pipeline the project ever had (7.5 ms a creation at 3000 of them, where this takes
     * 0.02 ms) */
    rc = sl_db_run(st, false,
                   "SELECT " PIPELINE_COLS " FROM pipelines WHERE status IN ('created', "
                   "'pending', 'running', 'scheduled', 'waiting_for_resource') AND "
                   "+project_id = ? AND ref = ? AND is_tag = 0 AND id < ? ORDER BY id DESC "
                   "LIMIT ?",
                   v, SL_ARRAY_LEN(v), &rows, NULL, err);
    if (rc == 0)
        SL_DB_READ_ALL(&rows, read_pipeline, out, n);
    sl_db_rows_release(&rows);
    return rc;
}

int sl_store_pipeline_list(struct sl_store *st, int64_t project_id,
                           const struct sl_store_page *page, struct sl_store_pipeline **out,
                           size_t *n, struct sl_error *err)
{
    struct db_rows rows = {0};
    struct db_value v[4];
    size_t nv = 0;
    char sql[512];
    int rc;

    if (page && (rc = sl_db_check_text(page->status, false, "status", err)) < 0)
        return rc;
    /* newest first: the next page holds smaller ids */
    int64_t after = page && page->after > 0 ? page->after : INT64_MAX;
    v[nv++] = db_int(after);
    snprintf(sql, sizeof(sql),
             "SELECT " PIPELINE_COLS " FROM pipelines WHERE id < ?%s%s "
             "ORDER BY id DESC LIMIT ?",
             project_id ? " AND project_id = ?" : "",
             page && page->status ? " AND status = ?" : "");
    if (project_id)
        v[nv++] = db_int(project_id);
    if (page && page->status)
        v[nv++] = db_text(page->status);
    v[nv++] = db_int(sl_db_page_limit(page));
    rc = sl_db_run(st, false, sql, v, nv, &rows, NULL, err);
    if (rc == 0)
        SL_DB_READ_ALL(&rows, read_pipeline, out, n);
    sl_db_rows_release(&rows);
    return rc;
}
