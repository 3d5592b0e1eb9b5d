/* jobs.c: jobs, the queue (atomic claims, leases) and start-up recovery. */
#include "base/compat.h"
#include "base/alloc.h"
#include "base/str.h"
#include "base/time.h"
#include "store/backend.h"

#include <sodium.h>

#define JOB_COLS                                                                                   \
    "id, pipeline_id, position, name, stage, stage_idx, status, run_when, allow_failure, "         \
    "attempt, retry, spec, failure_reason, exit_code, coverage, created_at, queued_at, "           \
    "started_at, finished_at, due_at, runner_id, lease_deadline, retried_position, "               \
    "cancel_requested_at, resource_group_id"
#define JOB_NCOLS 25 /* JOB_COLS' columns */

void sl_store_job_release(struct sl_store_job *j)
{
    if (!j)
        return;
    free(j->name);
    free(j->stage);
    free(j->status);
    free(j->when);
    free(j->retry);
    free(j->spec);
    for (size_t i = 0; i < j->ntags; i++)
        free(j->tags[i]);
    free(j->tags);
    free(j->failure_reason);
    free(j->runner_id);
    *j = (struct sl_store_job){0};
}

void sl_store_jobs_free(struct sl_store_job *arr, size_t n)
{
    for (size_t i = 0; i < n; i++)
        sl_store_job_release(&arr[i]);
    free(arr);
}

void sl_store_counts_free(struct sl_store_count *arr, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(arr[i].status);
    free(arr);
}

static void read_job(const struct db_rows *r, size_t row, struct sl_store_job *j)
{
    *j = (struct sl_store_job){0};
    j->id = sl_db_get_int(r, row, 0);
    j->pipeline_id = sl_db_get_int(r, row, 1);
    j->position = (int)sl_db_get_int(r, row, 2);
    j->name = sl_db_get_str0(r, row, 3);
    j->stage = sl_db_get_str0(r, row, 4);
    j->stage_idx = (int)sl_db_get_int(r, row, 5);
    j->status = sl_db_get_str0(r, row, 6);
    j->when = sl_db_get_str0(r, row, 7);
    j->allow_failure = sl_db_get_int(r, row, 8) != 0;
    j->attempt = (int)sl_db_get_int(r, row, 9);
    j->retry = sl_db_get_str0(r, row, 10);
    j->spec = sl_db_get_str0(r, row, 11);
    j->failure_reason = sl_db_get_str(r, row, 12);
    j->has_exit_code = !sl_db_is_null(r, row, 13);
    j->exit_code = (int)sl_db_get_int(r, row, 13);
    j->has_coverage = !sl_db_is_null(r, row, 14);
    j->coverage = sl_db_get_real(r, row, 14);
    j->created_at = sl_db_get_int(r, row, 15);
    j->queued_at = sl_db_get_int(r, row, 16);
    j->started_at = sl_db_get_int(r, row, 17);
    j->finished_at = sl_db_get_int(r, row, 18);
    j->due_at = sl_db_get_int(r, row, 19);
    j->runner_id = sl_db_get_str(r, row, 20);
    j->lease_deadline = sl_db_get_int(r, row, 21);
    /* a retried attempt is stored out of the way (position = -id): its planned position */
    j->retried = !sl_db_is_null(r, row, 22);
    if (j->retried)
        j->position = (int)sl_db_get_int(r, row, 22);
    j->cancel_requested_at = sl_db_get_int(r, row, 23);
    j->resource_group_id = sl_db_get_int(r, row, 24);
}

static struct sl_store_job *read_jobs(const struct db_rows *r)
{
    struct sl_store_job *arr = sl_xcalloc(r->nrows ? r->nrows : 1, sizeof(*arr));
    for (size_t i = 0; i < r->nrows; i++)
        read_job(r, i, &arr[i]);
    return arr;
}

static int check_worker(const char *worker_id, struct sl_error *err)
{
    if (!worker_id || !*worker_id)
        return sl_error_set(err, SL_EINVAL, "a worker id is required");
    if (strlen(worker_id) > SL_STORE_WORKER_ID_MAX)
        return sl_error_set(err, SL_ELIMIT, "worker id longer than %d bytes",
                            SL_STORE_WORKER_ID_MAX);
    return 0;
}

int sl_db_job_check(const struct sl_store_job *j, struct sl_error *err)
{
    int rc;
    if ((rc = sl_db_check_text(j->name, true, "job name", err)) < 0 ||
        (rc = sl_db_check_text(j->stage, true, "job stage", err)) < 0 ||
        (rc = sl_db_check_text(j->status, true, "job status", err)) < 0 ||
        (rc = sl_db_check_text(j->when, false, "job when", err)) < 0 ||
        (rc = sl_db_check_text(j->retry, false, "job retry", err)) < 0 ||
        (rc = sl_db_check_text(j->spec, false, "job spec", err)) < 0 ||
        (rc = sl_db_check_text(j->resource_group, false, "resource_group", err)) < 0)
        return rc;
    if (j->resource_group &&
        (!*j->resource_group || strlen(j->resource_group) > SL_STORE_RESOURCE_GROUP_KEY_MAX))
        return sl_error_set(err, SL_EINVAL, "job '%s': resource_group must be 1 to %d characters",
                            j->name, SL_STORE_RESOURCE_GROUP_KEY_MAX);
    if (j->ntags > SL_STORE_TAGS_MAX)
        return sl_error_set(err, SL_ELIMIT, "job '%s' has %zu tags (max %d)", j->name, j->ntags,
                            SL_STORE_TAGS_MAX);
    for (size_t i = 0; i < j->ntags; i++)
        if ((rc = sl_db_check_text(j->tags[i], true, "job tag", err)) < 0)
            return rc;
    return 0;
}

/* The job of SQL's one row (JOB_COLS, then HASH's column when HASH is set, which must hold
 * HASH) and its tags, on one connection. */
static int job_get_row(struct sl_store *st, const char *sql, struct db_value v, const char *hash,
                       struct sl_store_job *out, struct sl_error *err)
{
    struct db_conn dc;
    struct db_rows rows = {0}, tags = {0};
    int rc;

    if ((rc = sl_db_acquire(st, false, &dc, err)) < 0)
        return rc;
    rc = sl_db_exec(&dc, sql, &v, 1, &rows, NULL, err);
    if (rc == 0 && rows.nrows == 0)
        rc = hash ? sl_error_set(err, SL_ENOENT, "invalid job token")
                  : sl_error_set(err, SL_ENOENT, "job %" PRId64 " does not exist", v.i);
    if (rc == 0 && hash &&
        (sl_db_cell(&rows, 0, JOB_NCOLS)->len != DB_TOKEN_HASH_HEX ||
         sodium_memcmp(sl_db_cell(&rows, 0, JOB_NCOLS)->data, hash, DB_TOKEN_HASH_HEX) != 0))
        rc = sl_error_set(err, SL_ENOENT, "invalid job token");
    struct db_value id = db_int(rc == 0 ? sl_db_get_int(&rows, 0, 0) : 0);
    if (rc == 0)
        rc = sl_db_exec(&dc, "SELECT tag FROM job_tags WHERE job_id = ? ORDER BY tag", &id, 1,
                        &tags, NULL, err);
    sl_db_release(&dc);
    if (rc == 0) {
        read_job(&rows, 0, out);
        out->ntags = tags.nrows;
        out->tags = sl_xcalloc(tags.nrows ? tags.nrows : 1, sizeof(*out->tags));
        for (size_t i = 0; i < tags.nrows; i++)
            out->tags[i] = sl_db_get_str0(&tags, i, 0);
    }
    sl_db_rows_release(&rows);
    sl_db_rows_release(&tags);
    return rc;
}

int sl_store_job_get(struct sl_store *st, int64_t id, struct sl_store_job *out,
                     struct sl_error *err)
{
    return job_get_row(st, "SELECT " JOB_COLS " FROM jobs WHERE id = ?", db_int(id), NULL, out,
                       err);
}

int sl_db_job_get_by_token_hash(struct sl_store *st, const char *hash, struct sl_store_job *out,
                                struct sl_error *err)
{
    return job_get_row(st, "SELECT " JOB_COLS ", job_token_hash FROM jobs WHERE job_token_hash = ?",
                       db_text(hash), hash, out, err);
}

int sl_db_jobs_select(struct sl_store *st, const char *tail, const struct db_value *v, size_t nv,
                      struct sl_store_job **out, size_t *n, struct sl_error *err)
{
    struct db_rows rows = {0};
    struct sl_str sql = SL_STR_INIT;
    sl_str_addf(&sql, "SELECT " JOB_COLS " FROM jobs WHERE %s", tail);
    int rc = sl_db_run(st, false, sql.buf, v, nv, &rows, NULL, err);
    if (rc == 0) {
        *out = read_jobs(&rows);
        *n = rows.nrows;
    }
    sl_db_rows_release(&rows);
    sl_str_release(&sql);
    return rc;
}

/* JOB_COLS with NULL for the spec (kilobytes a job, of which a transition needs none once
 * its parsed view is cached): read_job makes it "" */
#define JOB_COLS_NO_SPEC                                                                           \
    "id, pipeline_id, position, name, stage, stage_idx, status, run_when, allow_failure, "         \
    "attempt, retry, NULL, failure_reason, exit_code, coverage, created_at, queued_at, "           \
    "started_at, finished_at, due_at, runner_id, lease_deadline, retried_position, "               \
    "cancel_requested_at, resource_group_id"

static int list_by_pipeline(struct sl_store *st, const char *sql, int64_t pipeline_id,
                            struct sl_store_job **out, size_t *n, struct sl_error *err)
{
    struct db_rows rows = {0};
    struct db_value v = db_int(pipeline_id);
    int rc = sl_db_run(st, false, sql, &v, 1, &rows, NULL, err);
    if (rc == 0) {
        *out = read_jobs(&rows);
        *n = rows.nrows;
    }
    sl_db_rows_release(&rows);
    return rc;
}

int sl_store_job_list_by_pipeline(struct sl_store *st, int64_t pipeline_id,
                                  struct sl_store_job **out, size_t *n, struct sl_error *err)
{
    return list_by_pipeline(st,
                            "SELECT " JOB_COLS " FROM jobs WHERE pipeline_id = ? AND "
                            "retried_position IS NULL ORDER BY position",
                            pipeline_id, out, n, err);
}

int sl_store_job_list_by_pipeline_no_spec(struct sl_store *st, int64_t pipeline_id,
                                          struct sl_store_job **out, size_t *n,
                                          struct sl_error *err)
{
    return list_by_pipeline(st,
                            "SELECT " JOB_COLS_NO_SPEC " FROM jobs WHERE pipeline_id = ? AND "
                            "retried_position IS NULL ORDER BY position",
                            pipeline_id, out, n, err);
}

int sl_store_job_list_attempts(struct sl_store *st, int64_t pipeline_id, struct sl_store_job **out,
                               size_t *n, struct sl_error *err)
{
    struct db_rows rows = {0};
    /* attempts are bounded by the pipeline's size times the retries a job can have (a user
     * may retry without end: the newest are what matters, the cap keeps an answer bounded) */
    struct db_value v[] = {db_int(pipeline_id), db_int(SL_STORE_PIPELINE_JOBS_MAX * 4)};
    int rc = sl_db_run(st, false,
                       "SELECT " JOB_COLS " FROM jobs WHERE pipeline_id = ? ORDER BY "
                       "COALESCE(retried_position, position), id LIMIT ?",
                       v, SL_ARRAY_LEN(v), &rows, NULL, err);
    if (rc == 0) {
        *out = read_jobs(&rows);
        *n = rows.nrows;
    }
    sl_db_rows_release(&rows);
    return rc;
}

int sl_store_job_retry(struct sl_store *st, const struct sl_store_job *old,
                       const char *expect_status, const struct sl_store_job *next, int64_t *new_id,
                       struct sl_error *err)
{
    struct db_conn dc;
    struct db_rows rows = {0};
    int64_t changes = 0;
    int rc;

    if ((rc = sl_db_check_text(old->status, true, "job status", err)) < 0 ||
        (rc = sl_db_check_text(old->failure_reason, false, "failure_reason", err)) < 0 ||
        (rc = sl_db_check_text(expect_status, true, "expected status", err)) < 0 ||
        (rc = sl_db_check_text(next->status, true, "job status", err)) < 0)
        return rc;
    int64_t queued_at = next->queued_at;
    if (!queued_at && sl_streq(next->status, "pending"))
        queued_at = sl_time_now_ms();
    if ((rc = sl_db_acquire(st, true, &dc, err)) < 0)
        return rc;
    if ((rc = sl_db_begin(&dc, err)) < 0)
        goto release;
    /* the attempt keeps what it ended with (its runner too) and leaves its position */
    struct db_value ov[] = {
        db_text(old->status),
        db_text(old->failure_reason),
        old->has_exit_code ? db_int(old->exit_code) : db_null(),
        db_int_or_null(old->finished_at),
        db_int(old->id),
        db_text(expect_status),
    };
    rc = sl_db_exec(
        &dc,
        "UPDATE jobs SET status = ?, failure_reason = ?, exit_code = ?, finished_at = ?, "
        "lease_deadline = NULL, retried_position = position, position = -id "
        "WHERE id = ? AND status = ? AND retried_position IS NULL",
        ov, SL_ARRAY_LEN(ov), NULL, &changes, err);
    if (rc == 0 && changes == 0)
        rc = sl_error_set(err, SL_EBUSY, "job %" PRId64 " is no longer %s", old->id, expect_status);
    if (rc < 0)
        goto end;
    struct db_value nv[] = {
        db_int(old->position),
        db_text(next->status),
        db_int(next->attempt > 0 ? next->attempt : 1),
        db_int(sl_time_now_ms()),
        db_int_or_null(queued_at),
        db_int_or_null(next->due_at),
        db_int(old->id),
    };
    rc = sl_db_exec(
        &dc,
        "INSERT INTO jobs (pipeline_id, position, name, stage, stage_idx, status, "
        "run_when, allow_failure, attempt, retry, spec, created_at, queued_at, due_at, "
        "resource_group_id) SELECT pipeline_id, ?, name, stage, stage_idx, ?, run_when, "
        "allow_failure, ?, retry, spec, ?, ?, ?, resource_group_id FROM jobs WHERE id = ? "
        "RETURNING id",
        nv, SL_ARRAY_LEN(nv), &rows, NULL, err);
    if (rc < 0)
        goto end;
    int64_t id = sl_db_get_int(&rows, 0, 0);
    struct db_value tv[] = {db_int(id), db_int(old->id)};
    rc = sl_db_exec(&dc,
                    "INSERT INTO job_tags (job_id, tag) SELECT ?, tag FROM job_tags WHERE "
                    "job_id = ?",
                    tv, SL_ARRAY_LEN(tv), NULL, NULL, err);
    if (rc == 0 && new_id)
        *new_id = id;
end:
    rc = sl_db_end(&dc, rc, err);
release:
    sl_db_release(&dc);
    sl_db_rows_release(&rows);
    return rc;
}

int sl_store_due_pipelines(struct sl_store *st, int64_t now, int64_t after, size_t max,
                           int64_t **ids, size_t *n, struct sl_error *err)
{
    struct db_rows rows = {0};
    struct db_value v[] = {db_int(now), db_int(after), db_int((int64_t)max)};
    int rc =
        sl_db_run(st, false,
                  "SELECT DISTINCT pipeline_id FROM jobs WHERE status = 'scheduled' AND "
                  "due_at IS NOT NULL AND due_at <= ? AND pipeline_id > ? ORDER BY pipeline_id "
                  "LIMIT ?",
                  v, SL_ARRAY_LEN(v), &rows, NULL, err);
    if (rc == 0) {
        int64_t *out = sl_xcalloc(rows.nrows + 1, sizeof(*out));
        for (size_t i = 0; i < rows.nrows; i++)
            out[i] = sl_db_get_int(&rows, i, 0);
        *ids = out;
        *n = rows.nrows;
    }
    sl_db_rows_release(&rows);
    return rc;
}

int sl_store_next_due(struct sl_store *st, int64_t *out, struct sl_error *err)
{
    struct db_rows rows = {0};
    int rc = sl_db_run(st, false,
                       "SELECT MIN(due_at) FROM jobs WHERE status = 'scheduled' AND due_at IS "
                       "NOT NULL",
                       NULL, 0, &rows, NULL, err);
    *out = 0;
    if (rc == 0 && rows.nrows == 1 && !sl_db_is_null(&rows, 0, 0))
        *out = sl_db_get_int(&rows, 0, 0);
    sl_db_rows_release(&rows);
    return rc;
}

int sl_store_job_list(struct sl_store *st, const struct sl_store_page *page,
                      struct sl_store_job **out, size_t *n, struct sl_error *err)
{
    struct db_rows rows = {0};
    bool filter = page && page->status;
    int rc;

    if (filter && (rc = sl_db_check_text(page->status, false, "status", err)) < 0)
        return rc;
    struct db_value v[3];
    size_t nv = 0;
    v[nv++] = db_int(page ? page->after : 0);
    if (filter)
        v[nv++] = db_text(page->status);
    v[nv++] = db_int(sl_db_page_limit(page));
    rc = sl_db_run(st, false,
                   filter ? "SELECT " JOB_COLS " FROM jobs WHERE id > ? AND status = ? ORDER BY id "
                            "LIMIT ?"
                          : "SELECT " JOB_COLS " FROM jobs WHERE id > ? ORDER BY id LIMIT ?",
                   v, nv, &rows, NULL, err);
    if (rc == 0) {
        *out = read_jobs(&rows);
        *n = rows.nrows;
    }
    sl_db_rows_release(&rows);
    return rc;
}

int sl_store_job_get_current(struct sl_store *st, int64_t id, struct sl_store_job *out,
                             struct sl_error *err)
{
    struct db_rows rows = {0};
    struct db_value v[] = {db_int(id), db_int(id)};
    int rc = sl_db_run(st, false,
                       "SELECT " JOB_COLS " FROM jobs WHERE retried_position IS NULL AND "
                       "pipeline_id = (SELECT pipeline_id FROM jobs WHERE id = ?) AND position = "
                       "(SELECT COALESCE(retried_position, position) FROM jobs WHERE id = ?)",
                       v, SL_ARRAY_LEN(v), &rows, NULL, err);
    if (rc == 0 && rows.nrows == 0)
        rc = sl_error_set(err, SL_ENOENT, "job %" PRId64 " does not exist", id);
    if (rc == 0)
        read_job(&rows, 0, out);
    sl_db_rows_release(&rows);
    return rc;
}

int sl_store_job_update(struct sl_store *st, const struct sl_store_job *j,
                        const char *expect_status, struct sl_error *err)
{
    struct db_conn dc;
    struct db_rows rows = {0};
    int64_t changes = 0;
    int rc;

    if ((rc = sl_db_check_text(j->status, true, "job status", err)) < 0 ||
        (rc = sl_db_check_text(j->failure_reason, false, "failure_reason", err)) < 0 ||
        (rc = sl_db_check_text(expect_status, false, "expected status", err)) < 0 ||
        (j->runner_id && (rc = check_worker(j->runner_id, err)) < 0))
        return rc;
    /* the queue orders by queued_at, which a pending job must have (NULLs sort differently
     * on the two backends) */
    int64_t queued_at = j->queued_at;
    if (!queued_at && sl_streq(j->status, "pending"))
        queued_at = sl_time_now_ms();
    struct db_value v[] = {
        db_text(j->status),
        db_int(j->attempt > 0 ? j->attempt : 1),
        db_text(j->failure_reason),
        j->has_exit_code ? db_int(j->exit_code) : db_null(),
        j->has_coverage ? db_real(j->coverage) : db_null(),
        db_int_or_null(queued_at),
        db_int_or_null(j->started_at),
        db_int_or_null(j->finished_at),
        db_int_or_null(j->due_at),
        db_text(j->runner_id),
        db_int_or_null(j->lease_deadline),
        db_int(j->id),
        db_text(expect_status),
    };
    if ((rc = sl_db_acquire(st, true, &dc, err)) < 0)
        return rc;
    rc =
        sl_db_exec(&dc,
                   expect_status ? "UPDATE jobs SET status = ?, attempt = ?, failure_reason = ?, "
                                   "exit_code = ?, coverage = ?, queued_at = ?, started_at = ?, "
                                   "finished_at = ?, due_at = ?, runner_id = ?, lease_deadline = ? "
                                   "WHERE id = ? AND status = ?"
                                 : "UPDATE jobs SET status = ?, attempt = ?, failure_reason = ?, "
                                   "exit_code = ?, coverage = ?, queued_at = ?, started_at = ?, "
                                   "finished_at = ?, due_at = ?, runner_id = ?, lease_deadline = ? "
                                   "WHERE id = ?",
                   v, expect_status ? SL_ARRAY_LEN(v) : SL_ARRAY_LEN(v) - 1, NULL, &changes, err);
    if (rc == 0 && changes == 0) {
        struct db_value idv = db_int(j->id);
        rc = sl_db_exec(&dc, "SELECT status FROM jobs WHERE id = ?", &idv, 1, &rows, NULL, err);
        if (rc == 0 && rows.nrows == 0)
            rc = sl_error_set(err, SL_ENOENT, "job %" PRId64 " does not exist", j->id);
        else if (rc == 0)
            rc = sl_error_set(err, SL_EBUSY, "job %" PRId64 " is %s, not %s", j->id,
                              sl_db_cell(&rows, 0, 0)->data, expect_status);
    }
    sl_db_release(&dc);
    sl_db_rows_release(&rows);
    return rc;
}

int sl_store_job_take_bridge(struct sl_store *st, int64_t job_id, int64_t lease_deadline,
                             int64_t now, struct sl_error *err)
{
    struct db_value v[] = {db_int(lease_deadline), db_int(now), db_int(job_id)};
    int64_t changes = 0;
    int rc = sl_db_run(st, true,
                       "UPDATE jobs SET runner_id = 'bridge', lease_deadline = ?, "
                       "started_at = COALESCE(started_at, ?) "
                       "WHERE id = ? AND status = 'running' AND runner_id IS NULL",
                       v, SL_ARRAY_LEN(v), NULL, &changes, err);
    if (rc == 0 && changes == 0) {
        struct db_rows rows = {0};
        struct db_value idv = db_int(job_id);
        rc =
            sl_db_run(st, false, "SELECT status FROM jobs WHERE id = ?", &idv, 1, &rows, NULL, err);
        if (rc == 0)
            rc = rows.nrows == 0
                     ? sl_error_set(err, SL_ENOENT, "job %" PRId64 " does not exist", job_id)
                     : sl_error_set(err, SL_EBUSY, "bridge job %" PRId64 " is taken already",
                                    job_id);
        sl_db_rows_release(&rows);
    }
    return rc;
}

int sl_store_claim_job(struct sl_store *st, const char *worker_id, const char *const *tags,
                       size_t ntags, int lease_seconds, int64_t now, struct sl_store_job *out,
                       struct sl_error *err)
{
    return sl_store_claim_job_tagged(st, worker_id, tags, ntags, true, lease_seconds, now, out,
                                     err);
}

int sl_store_claim_job_tagged(struct sl_store *st, const char *worker_id, const char *const *tags,
                              size_t ntags, bool untagged, int lease_seconds, int64_t now,
                              struct sl_store_job *out, struct sl_error *err)
{
    struct sl_store_claim c = {.worker_id = worker_id,
                               .tags = tags,
                               .ntags = ntags,
                               .untagged = untagged,
                               .lease_seconds = lease_seconds,
                               .now = now};
    return sl_store_claim(st, &c, out, NULL, err);
}

/* The claim's pick: the oldest pending job C may take, as "SELECT j.id, j.pipeline_id …"
 * in *SQL with its parameters appended to V (*NV of them). */
static int claim_pick_sql(const struct sl_store_claim *c, struct sl_str *sql, struct db_value *v,
                          size_t *nv, struct sl_error *err)
{
    int rc;
    /* A job of a resource group is taken only while it holds the group's one resource
     * (resource_groups.c), so no claimer anywhere runs two jobs of a group at once. */
    sl_str_adds(sql, "SELECT j.id, j.pipeline_id FROM jobs j WHERE j.status = 'pending' AND "
                     "(j.resource_group_id IS NULL OR EXISTS (SELECT 1 FROM resource_groups g "
                     "WHERE g.id = j.resource_group_id AND g.holder_job_id = j.id))");
    if (c->tags) {
        sl_str_adds(sql, " AND NOT EXISTS (SELECT 1 FROM job_tags t WHERE t.job_id = j.id");
        if (c->ntags) {
            sl_str_adds(sql, " AND t.tag NOT IN (");
            for (size_t i = 0; i < c->ntags; i++) {
                if ((rc = sl_db_check_text(c->tags[i], true, "worker tag", err)) < 0)
                    return rc;
                sl_str_adds(sql, i ? ", ?" : "?");
                v[(*nv)++] = db_text(c->tags[i]);
            }
            sl_str_addc(sql, ')');
        }
        sl_str_addc(sql, ')');
        if (!c->untagged)
            sl_str_adds(sql, " AND EXISTS (SELECT 1 FROM job_tags u WHERE u.job_id = j.id)");
    }
    sl_str_adds(sql, " ORDER BY j.queued_at, j.id LIMIT 1");
    return 0;
}

/* Takes job JOB_ID when it is still pending (and still holds its resource group's
 * resource), inside the open transaction: 1 with *OUT filled, 0 when another claimer took
 * it first. HASH: the new job token's, or NULL. */
static int claim_take(struct sl_store *st, const struct sl_store_claim *c, int64_t job_id,
                      const char *hash, struct sl_store_job *out, struct sl_error *err)
{
    struct db_value v[5];
    struct db_rows rows = {0};
    size_t nv = 0;
    v[nv++] = db_text(c->worker_id);
    v[nv++] = db_int(c->now);
    v[nv++] = db_int(c->now + (int64_t)c->lease_seconds * 1000);
    if (hash)
        v[nv++] = db_text(hash);
    v[nv++] = db_int(job_id);
    /* the same statement with and without the token's column (one cached statement each) */
    struct sl_str sql = SL_STR_INIT;
    sl_str_addf(&sql,
                "UPDATE jobs SET status = 'running', runner_id = ?, started_at = ?, "
                "lease_deadline = ?%s WHERE id = ? AND status = 'pending' AND "
                "(resource_group_id IS NULL OR EXISTS (SELECT 1 FROM resource_groups g WHERE "
                "g.id = jobs.resource_group_id AND g.holder_job_id = jobs.id)) RETURNING " JOB_COLS,
                hash ? ", job_token_hash = ?" : "");
    int rc = sl_db_run(st, true, sql.buf, v, nv, &rows, NULL, err);
    sl_str_release(&sql);
    if (rc == 0 && rows.nrows == 1) {
        read_job(&rows, 0, out);
        rc = 1;
    }
    sl_db_rows_release(&rows);
    return rc;
}

/* Runs C->in_claim on job J, just taken, in a savepoint of the claim's transaction: what it
 * wrote is rolled back when it fails, and the claim stands (a pipeline that cannot
 * transition must not hold up the queue behind its job: its job runs, as before its claim
 * took the pipeline along). 1, or the savepoint's own error. */
static int claim_then(struct sl_store *st, const struct sl_store_claim *c,
                      const struct sl_store_job *j, struct sl_error *err)
{
    struct db_conn dc;
    int rc;
    if ((rc = sl_db_acquire(st, true, &dc, err)) < 0)
        return rc;
    if ((rc = sl_db_begin(&dc, err)) == 0) {
        struct sl_error herr = SL_ERROR_INIT;
        int hrc = c->in_claim(c->arg, j, &herr); /* its failure is its own to report */
        sl_error_release(&herr);
        rc = sl_db_end(&dc, hrc < 0 ? hrc : 0, err);
        if (hrc < 0) /* rolled back to the savepoint: the claim stands */
            rc = 0;
    }
    sl_db_release(&dc);
    return rc < 0 ? rc : 1;
}

/* Picks (and retries the pick) this many times when other claimers keep taking the job a
 * pick found; then the claim answers "none" and the claimer's next wake-up asks again. */
#define CLAIM_TRIES 8

int sl_store_claim(struct sl_store *st, const struct sl_store_claim *c, struct sl_store_job *out,
                   char **token_out, struct sl_error *err)
{
    struct sl_str pick = SL_STR_INIT;
    struct db_value v[SL_STORE_TAGS_MAX];
    struct db_rows rows = {0};
    size_t nv = 0;
    char token[SL_STORE_JOB_TOKEN_LEN + 1] = "", hash[DB_TOKEN_HASH_HEX + 1];
    int rc;

    if ((rc = check_worker(c->worker_id, err)) < 0)
        return rc;
    if (c->lease_seconds <= 0)
        return sl_error_set(err, SL_EINVAL, "a lease must be positive");
    if (c->tags && c->ntags > SL_STORE_TAGS_MAX)
        return sl_error_set(err, SL_ELIMIT, "a worker with %zu tags (max %d)", c->ntags,
                            SL_STORE_TAGS_MAX);
    if ((rc = claim_pick_sql(c, &pick, v, &nv, err)) < 0)
        goto out;
    if (token_out) {
        /* the job token in the claim's own write (sl_store_job_token_issue's, without a
         * transaction of its own) */
        sl_db_token_generate(SL_STORE_JOB_TOKEN_PREFIX, 32, token);
        sl_db_token_hash(token, hash);
    }
    /* The pick is a read: most claims find nothing (every long-poll wake-up of every idle
     * runner asks), and a read answers those without the write lock (on SQLite BEGIN
     * IMMEDIATE and a commit, the journal's sync, for nothing). A job committed after the
     * read is one a claim just before it would have missed too: its insert wakes the
     * claimer again. A job found is taken in a transaction that holds its pipeline's row,
     * the lock every transition of that pipeline takes first (so no lock is ever taken in
     * the other order), and the UPDATE re-checks that it is still pending: no job is ever
     * handed to two claimers, and a claimer that lost it picks again. */
    rc = 0;
    for (int tries = 0; tries < CLAIM_TRIES && rc == 0; tries++) {
        if ((rc = sl_db_run(st, false, pick.buf, v, nv, &rows, NULL, err)) < 0 || rows.nrows == 0)
            break;
        int64_t job_id = sl_db_get_int(&rows, 0, 0), pipeline_id = sl_db_get_int(&rows, 0, 1);
        sl_db_rows_release(&rows);
        int trc = sl_store_tx_begin(st, pipeline_id, err);
        if (trc == SL_ENOENT) { /* the pipeline was deleted since: pick again */
            sl_error_release(err);
            continue;
        }
        if (trc < 0) { /* SL_EBUSY: a claim is a transaction of its own, never nested */
            rc = trc;
            break;
        }
        rc = claim_take(st, c, job_id, token_out ? hash : NULL, out, err);
        bool taken = rc == 1;
        if (taken && c->in_claim)
            rc = claim_then(st, c, out, err);
        int erc = sl_store_tx_end(st, rc < 0 ? rc : 0, err);
        if (erc < 0)
            rc = erc; /* rolled back, or the commit failed */
        if (taken && rc < 0) {
            sl_store_job_release(out);
            memset(out, 0, sizeof(*out));
        }
    }
    if (rc == 1 && token_out)
        *token_out = sl_xstrdup(token);
out:
    sodium_memzero(token, sizeof(token));
    sl_db_rows_release(&rows);
    sl_str_release(&pick);
    return rc;
}

int sl_store_job_renew_lease(struct sl_store *st, int64_t id, const char *worker_id,
                             int lease_seconds, int64_t now, struct sl_error *err)
{
    int64_t changes = 0;
    int rc;

    if ((rc = check_worker(worker_id, err)) < 0)
        return rc;
    if (lease_seconds <= 0)
        return sl_error_set(err, SL_EINVAL, "a lease must be positive");
    struct db_value v[] = {db_int(now + (int64_t)lease_seconds * 1000), db_int(id),
                           db_text(worker_id)};
    rc = sl_db_run(st, true,
                   "UPDATE jobs SET lease_deadline = ? WHERE id = ? AND status = 'running' AND "
                   "runner_id = ?",
                   v, SL_ARRAY_LEN(v), NULL, &changes, err);
    if (rc == 0 && changes == 0)
        rc = sl_error_set(err, SL_ECANCELED, "job %" PRId64 " is not running under %s", id,
                          worker_id);
    return rc;
}

int sl_store_job_request_cancel(struct sl_store *st, int64_t id, const char *worker_id, int64_t now,
                                struct sl_error *err)
{
    int64_t changes = 0;
    int rc;
    if ((rc = check_worker(worker_id, err)) < 0)
        return rc;
    struct db_value v[] = {db_int(now), db_int(id), db_text(worker_id)};
    rc = sl_db_run(st, true,
                   "UPDATE jobs SET cancel_requested_at = COALESCE(cancel_requested_at, ?) WHERE "
                   "id = ? AND status = 'running' AND runner_id = ?",
                   v, SL_ARRAY_LEN(v), NULL, &changes, err);
    if (rc == 0 && changes == 0)
        rc = sl_error_set(err, SL_EBUSY, "job %" PRId64 " is not running under %s", id, worker_id);
    return rc;
}

int sl_store_job_finish(struct sl_store *st, int64_t id, const char *worker_id, const char *status,
                        const char *failure_reason, int exit_code, int64_t now,
                        struct sl_error *err)
{
    int64_t changes = 0;
    int rc;

    if ((rc = check_worker(worker_id, err)) < 0 ||
        (rc = sl_db_check_text(status, true, "job status", err)) < 0 ||
        (rc = sl_db_check_text(failure_reason, false, "failure_reason", err)) < 0)
        return rc;
    struct db_value v[] = {
        db_text(status),
        db_text(failure_reason),
        exit_code >= 0 ? db_int(exit_code) : db_null(),
        db_int(now),
        db_int(id),
        db_text(worker_id),
    };
    rc =
        sl_db_run(st, true,
                  "UPDATE jobs SET status = ?, failure_reason = ?, exit_code = ?, finished_at = ?, "
                  "lease_deadline = NULL WHERE id = ? AND status = 'running' AND runner_id = ?",
                  v, SL_ARRAY_LEN(v), NULL, &changes, err);
    if (rc == 0 && changes == 0)
        rc = sl_error_set(err, SL_ECANCELED, "job %" PRId64 " is not running under %s", id,
                          worker_id);
    return rc;
}

/* Characters (not bytes) of UTF-8 text: substr() counts characters on both backends. */
static int64_t utf8_chars(const char *s)
{
    int64_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xc0) != 0x80;
    return n;
}

int sl_store_recover_jobs(struct sl_store *st, const char *owner_prefix, int64_t now,
                          struct sl_store_job **out, size_t *n, struct sl_error *err)
{
    struct db_rows rows = {0};
    bool by_owner = owner_prefix && *owner_prefix;
    int rc;

    if (by_owner && (rc = check_worker(owner_prefix, err)) < 0)
        return rc;
    struct db_value v[] = {db_int(now), db_int(now),
                           db_int(by_owner ? utf8_chars(owner_prefix) : 0), db_text(owner_prefix)};
    rc = sl_db_run(st, true,
                   by_owner
                       ? "UPDATE jobs SET status = 'failed', failure_reason = "
                         "'runner_system_failure', finished_at = ?, lease_deadline = NULL "
                         "WHERE status = 'running' AND (lease_deadline IS NULL OR "
                         "lease_deadline < ? OR substr(runner_id, 1, ?) = ?) RETURNING " JOB_COLS
                       : "UPDATE jobs SET status = 'failed', failure_reason = "
                         "'runner_system_failure', finished_at = ?, lease_deadline = NULL "
                         "WHERE status = 'running' AND (lease_deadline IS NULL OR "
                         "lease_deadline < ?) RETURNING " JOB_COLS,
                   v, by_owner ? 4 : 2, &rows, NULL, err);
    if (rc == 0) {
        if (out)
            *out = read_jobs(&rows);
        if (n)
            *n = rows.nrows;
    }
    sl_db_rows_release(&rows);
    return rc;
}

int sl_store_count_by_status(struct sl_store *st, enum sl_store_table table,
                             struct sl_store_count **out, size_t *n, struct sl_error *err)
{
    struct db_rows rows = {0};
    const char *sql =
        table == SL_STORE_JOBS
            ? "SELECT status, COUNT(*) FROM jobs WHERE retried_position IS NULL GROUP BY "
              "status ORDER BY status"
            : "SELECT status, COUNT(*) FROM pipelines GROUP BY status ORDER BY "
              "status";
    int rc = sl_db_run(st, false, sql, NULL, 0, &rows, NULL, err);
    if (rc == 0) {
        struct sl_store_count *arr = sl_xcalloc(rows.nrows ? rows.nrows : 1, sizeof(*arr));
        for (size_t i = 0; i < rows.nrows; i++) {
            arr[i].status = sl_db_get_str0(&rows, i, 0);
            arr[i].count = sl_db_get_int(&rows, i, 1);
        }
        *out = arr;
        *n = rows.nrows;
    }
    sl_db_rows_release(&rows);
    return rc;
}
