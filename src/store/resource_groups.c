/* resource_groups.c: GitLab's resource groups (Ci::ResourceGroup and its one Ci::Resource).
 * The group's row is its resource: HOLDER_JOB_ID is the one job of the group that may be
 * pending or running. Giving it away (sl_store_resource_group_assign) locks the row, so two
 * servers deciding at once decide once; the claim (jobs.c) checks the holder again. */
#include "base/compat.h"
#include "base/alloc.h"
#include "base/str.h"
#include "store/backend.h"

#define GROUP_COLS "id, project_id, key, process_mode, holder_job_id, created_at, updated_at"

/* GitLab's upcoming_processables per process mode (resource_group.rb): which jobs are in
 * line and in what order. oldest_first and newest_first count jobs not yet ready (created,
 * scheduled) too, so an older (or newer) pipeline's job keeps its turn; within a pipeline a
 * job already waiting goes first, as GitLab sorts to avoid a deadlock. */
#define READY_FIRST "CASE status WHEN 'waiting_for_resource' THEN 0 ELSE 1 END"
static const struct {
    const char *mode;
    const char *statuses;
    const char *order;
} modes[] = {
    {"unordered", "status = 'waiting_for_resource'", "id"},
    {"oldest_first", "status IN ('created', 'scheduled', 'waiting_for_resource')",
     "pipeline_id, " READY_FIRST ", id"},
    {"newest_first", "status IN ('created', 'scheduled', 'waiting_for_resource')",
     "pipeline_id DESC, " READY_FIRST ", id"},
    {"newest_ready_first", "status = 'waiting_for_resource'",
     "pipeline_id DESC, " READY_FIRST ", id"},
};

static size_t mode_index(const char *mode)
{
    for (size_t i = 0; i < SL_ARRAY_LEN(modes); i++)
        if (mode && !strcmp(modes[i].mode, mode))
            return i;
    return 0; /* an unknown stored mode (never written) reads as GitLab's default */
}

bool sl_store_resource_group_mode_valid(const char *mode)
{
    for (size_t i = 0; i < SL_ARRAY_LEN(modes); i++)
        if (mode && !strcmp(modes[i].mode, mode))
            return true;
    return false;
}

void sl_store_resource_group_release(struct sl_store_resource_group *g)
{
    if (!g)
        return;
    free(g->key);
    free(g->process_mode);
    *g = (struct sl_store_resource_group){0};
}

void sl_store_resource_groups_free(struct sl_store_resource_group *arr, size_t n)
{
    for (size_t i = 0; i < n; i++)
        sl_store_resource_group_release(&arr[i]);
    free(arr);
}

static void read_row(const struct db_rows *r, size_t i, struct sl_store_resource_group *g)
{
    g->id = sl_db_get_int(r, i, 0);
    g->project_id = sl_db_get_int(r, i, 1);
    g->key = sl_db_get_str0(r, i, 2);
    g->process_mode = sl_db_get_str0(r, i, 3);
    g->holder_job_id = sl_db_get_int(r, i, 4);
    g->created_at = sl_db_get_int(r, i, 5);
    g->updated_at = sl_db_get_int(r, i, 6);
}

int sl_db_resource_group_ensure(struct db_conn *dc, int64_t project_id, const char *key,
                                int64_t now, int64_t *id, struct sl_error *err)
{
    struct db_rows rows = {0};
    struct db_value v[] = {db_int(project_id), db_text(key), db_int(now), db_int(now)};
    int rc = sl_db_exec(dc,
                        "INSERT INTO resource_groups (project_id, key, created_at, updated_at) "
                        "VALUES (?, ?, ?, ?) ON CONFLICT (project_id, key) DO NOTHING",
                        v, SL_ARRAY_LEN(v), NULL, NULL, err);
    if (rc == 0)
        rc = sl_db_exec(dc, "SELECT id FROM resource_groups WHERE project_id = ? AND key = ?", v, 2,
                        &rows, NULL, err);
    if (rc == 0 && rows.nrows == 0)
        rc = sl_error_set(err, SL_ESTORE, "resource group '%s' vanished", key);
    if (rc == 0)
        *id = sl_db_get_int(&rows, 0, 0);
    sl_db_rows_release(&rows);
    return rc;
}

int sl_store_resource_group_list(struct sl_store *st, int64_t project_id,
                                 struct sl_store_resource_group **out, size_t *n,
                                 struct sl_error *err)
{
    struct db_rows rows = {0};
    struct db_value v[] = {db_int(project_id), db_int(SL_STORE_LIST_MAX)};
    int rc =
        sl_db_run(st, false,
                  "SELECT " GROUP_COLS " FROM resource_groups WHERE project_id = ? ORDER BY key "
                  "LIMIT ?",
                  v, SL_ARRAY_LEN(v), &rows, NULL, err);
    if (rc == 0)
        SL_DB_READ_ALL(&rows, read_row, out, n);
    sl_db_rows_release(&rows);
    return rc;
}

int sl_store_resource_group_get(struct sl_store *st, int64_t project_id, const char *key,
                                struct sl_store_resource_group *out, struct sl_error *err)
{
    struct db_rows rows = {0};
    int rc;
    if ((rc = sl_db_check_text(key, true, "resource group key", err)) < 0)
        return rc;
    struct db_value v[] = {db_int(project_id), db_text(key)};
    rc = sl_db_run(st, false,
                   "SELECT " GROUP_COLS " FROM resource_groups WHERE project_id = ? AND key = ?", v,
                   SL_ARRAY_LEN(v), &rows, NULL, err);
    if (rc == 0 && rows.nrows == 0)
        rc = sl_error_set(err, SL_ENOENT, "no resource group '%s' in project %" PRId64, key,
                          project_id);
    if (rc == 0) {
        *out = (struct sl_store_resource_group){0};
        read_row(&rows, 0, out);
    }
    sl_db_rows_release(&rows);
    return rc;
}

int sl_store_resource_group_get_id(struct sl_store *st, int64_t id,
                                   struct sl_store_resource_group *out, struct sl_error *err)
{
    struct db_rows rows = {0};
    struct db_value v = db_int(id);
    int rc = sl_db_run(st, false, "SELECT " GROUP_COLS " FROM resource_groups WHERE id = ?", &v, 1,
                       &rows, NULL, err);
    if (rc == 0 && rows.nrows == 0)
        rc = sl_error_set(err, SL_ENOENT, "no resource group %" PRId64, id);
    if (rc == 0) {
        *out = (struct sl_store_resource_group){0};
        read_row(&rows, 0, out);
    }
    sl_db_rows_release(&rows);
    return rc;
}

int sl_store_resource_group_set_mode(struct sl_store *st, int64_t project_id, const char *key,
                                     const char *mode, int64_t now, struct sl_error *err)
{
    int64_t changes = 0;
    int rc;
    if (!sl_store_resource_group_mode_valid(mode))
        return sl_error_set(err, SL_EINVAL,
                            "process_mode must be one of unordered, oldest_first, newest_first, "
                            "newest_ready_first");
    if ((rc = sl_db_check_text(key, true, "resource group key", err)) < 0)
        return rc;
    struct db_value v[] = {db_text(mode), db_int(now), db_int(project_id), db_text(key)};
    rc = sl_db_run(
        st, true,
        "UPDATE resource_groups SET process_mode = ?, updated_at = ? WHERE project_id = ? "
        "AND key = ?",
        v, SL_ARRAY_LEN(v), NULL, &changes, err);
    if (rc == 0 && changes == 0)
        rc = sl_error_set(err, SL_ENOENT, "no resource group '%s' in project %" PRId64, key,
                          project_id);
    return rc;
}

/* The head of group G's line in MODE: its id and whether it is waiting_for_resource. */
static int line_head(struct db_conn *dc, int64_t g, size_t mode, int64_t *job, bool *ready,
                     struct sl_error *err)
{
    struct db_rows rows = {0};
    struct sl_str sql = SL_STR_INIT;
    struct db_value v = db_int(g);
    sl_str_addf(&sql,
                "SELECT id, status FROM jobs WHERE resource_group_id = ? AND retried_position IS "
                "NULL AND %s ORDER BY %s LIMIT 1",
                modes[mode].statuses, modes[mode].order);
    int rc = sl_db_exec(dc, sql.buf, &v, 1, &rows, NULL, err);
    *job = 0;
    *ready = false;
    if (rc == 0 && rows.nrows == 1) {
        *job = sl_db_get_int(&rows, 0, 0);
        *ready = !strcmp(sl_db_cell(&rows, 0, 1)->data, "waiting_for_resource");
    }
    sl_db_rows_release(&rows);
    sl_str_release(&sql);
    return rc;
}

int sl_store_resource_group_assign(struct sl_store *st, int64_t id, int64_t now, int64_t *assigned,
                                   struct sl_error *err)
{
    struct db_conn dc;
    struct db_rows rows = {0};
    struct sl_str sql = SL_STR_INIT;
    int64_t got = 0, changes = 0;
    int rc;

    if ((rc = sl_db_acquire(st, true, &dc, err)) < 0)
        return rc;
    if ((rc = sl_db_begin(&dc, err)) < 0)
        goto release;
    struct db_value gv = db_int(id);
    sl_str_addf(&sql, "SELECT process_mode, holder_job_id FROM resource_groups WHERE id = ?%s",
                sl_db_backend(st)->row_lock);
    if ((rc = sl_db_exec(&dc, sql.buf, &gv, 1, &rows, NULL, err)) < 0)
        goto end;
    if (rows.nrows == 0) {
        rc = sl_error_set(err, SL_ENOENT, "no resource group %" PRId64, id);
        goto end;
    }
    size_t mode = mode_index(sl_db_cell(&rows, 0, 0)->data);
    int64_t holder = sl_db_get_int(&rows, 0, 1);
    sl_db_rows_release(&rows);
    if (holder) {
        /* GitLab's release_resource_from_stale_jobs: a holder that ended (or is gone) lets go */
        struct db_value hv = db_int(holder);
        if ((rc = sl_db_exec(&dc,
                             "SELECT 1 FROM jobs WHERE id = ? AND status IN ('pending', 'running')",
                             &hv, 1, &rows, NULL, err)) < 0)
            goto end;
        bool holds = rows.nrows > 0;
        sl_db_rows_release(&rows);
        if (holds)
            goto end;
        struct db_value rv[] = {db_int(now), db_int(id)};
        if ((rc =
                 sl_db_exec(&dc,
                            "UPDATE resource_groups SET holder_job_id = NULL, updated_at = ? WHERE "
                            "id = ?",
                            rv, SL_ARRAY_LEN(rv), NULL, NULL, err)) < 0)
            goto end;
    }
    int64_t head = 0;
    bool ready = false;
    if ((rc = line_head(&dc, id, mode, &head, &ready, err)) < 0 || !ready)
        goto end; /* nobody waits, or the head of the line is not ready: it stays free */
    struct db_value jv[] = {db_int(now), db_int(head)};
    if ((rc = sl_db_exec(
             &dc,
             "UPDATE jobs SET status = 'pending', queued_at = ? WHERE id = ? AND status = "
             "'waiting_for_resource'",
             jv, SL_ARRAY_LEN(jv), NULL, &changes, err)) < 0 ||
        changes == 0)
        goto end; /* canceled meanwhile: the next assign looks again */
    struct db_value hv[] = {db_int(head), db_int(now), db_int(id)};
    if ((rc = sl_db_exec(
             &dc, "UPDATE resource_groups SET holder_job_id = ?, updated_at = ? WHERE id = ?", hv,
             SL_ARRAY_LEN(hv), NULL, NULL, err)) < 0)
        goto end;
    got = head;
end:
    rc = sl_db_end(&dc, rc, err);
release:
    sl_db_release(&dc);
    sl_db_rows_release(&rows);
    sl_str_release(&sql);
    if (rc == 0 && assigned)
        *assigned = got;
    return rc;
}

int sl_store_resource_group_ids(struct sl_store *st, int64_t pipeline_id, int64_t **ids, size_t *n,
                                struct sl_error *err)
{
    struct db_rows rows = {0};
    struct db_value v[] = {db_int(pipeline_id), db_int(SL_STORE_LIST_MAX)};
    int rc =
        pipeline_id
            ? sl_db_run(st, false,
                        "SELECT DISTINCT resource_group_id FROM jobs WHERE pipeline_id = ? AND "
                        "resource_group_id IS NOT NULL ORDER BY resource_group_id LIMIT ?",
                        v, 2, &rows, NULL, err)
            : sl_db_run(st, false,
                        "SELECT id FROM resource_groups g WHERE g.holder_job_id IS NOT NULL OR "
                        "EXISTS (SELECT 1 FROM jobs j WHERE j.resource_group_id = g.id AND "
                        "j.status = 'waiting_for_resource') ORDER BY id LIMIT ?",
                        v + 1, 1, &rows, NULL, err);
    if (rc == 0) {
        *ids = sl_xcalloc(rows.nrows ? rows.nrows : 1, sizeof(**ids));
        for (size_t i = 0; i < rows.nrows; i++)
            (*ids)[i] = sl_db_get_int(&rows, i, 0);
        *n = rows.nrows;
    }
    sl_db_rows_release(&rows);
    return rc;
}

int sl_store_resource_group_upcoming(struct sl_store *st, int64_t id, struct sl_store_job **out,
                                     size_t *n, struct sl_error *err)
{
    struct sl_store_resource_group g = {0};
    struct db_rows rows = {0};
    struct db_value v[] = {db_int(id), db_int(SL_STORE_LIST_MAX)};
    int rc = sl_db_run(st, false, "SELECT " GROUP_COLS " FROM resource_groups WHERE id = ?", v, 1,
                       &rows, NULL, err);
    if (rc == 0 && rows.nrows == 0)
        rc = sl_error_set(err, SL_ENOENT, "no resource group %" PRId64, id);
    if (rc < 0)
        goto out;
    read_row(&rows, 0, &g);
    size_t mode = mode_index(g.process_mode);
    struct sl_str tail = SL_STR_INIT;
    sl_str_addf(&tail,
                "resource_group_id = ? AND retried_position IS NULL AND %s ORDER BY %s "
                "LIMIT ?",
                modes[mode].statuses, modes[mode].order);
    rc = sl_db_jobs_select(st, tail.buf, v, SL_ARRAY_LEN(v), out, n, err);
    sl_str_release(&tail);
out:
    sl_store_resource_group_release(&g);
    sl_db_rows_release(&rows);
    return rc;
}
