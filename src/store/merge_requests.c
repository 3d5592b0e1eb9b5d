/* merge_requests.c: the forges' merge (pull) requests as their webhooks last reported
 * them (migration 0069). The server reads which are open for a branch
 * (CI_OPEN_MERGE_REQUESTS) and whether a request's pipeline runs a fork's code; everything
 * else of a request travels with its event. */
#include "base/compat.h"
#include "base/alloc.h"
#include "store/backend.h"

int sl_store_merge_request_put(struct sl_store *st, const struct sl_store_merge_request *mr,
                               int64_t now, struct sl_error *err)
{
    int rc;
    if ((rc = sl_db_check_text(mr->title, true, "merge request title", err)) < 0 ||
        (rc = sl_db_check_text(mr->source_branch, true, "source branch", err)) < 0 ||
        (rc = sl_db_check_text(mr->target_branch, true, "target branch", err)) < 0 ||
        (rc = sl_db_check_text(mr->head_sha, true, "head sha", err)) < 0 ||
        (rc = sl_db_check_text(mr->state, true, "state", err)) < 0)
        return rc;
    struct db_value v[] = {db_int(mr->project_id),
                           db_int(mr->iid),
                           db_text(mr->title),
                           db_text(mr->source_branch),
                           db_text(mr->target_branch),
                           db_text(mr->head_sha),
                           db_text(mr->state),
                           db_int(mr->from_fork),
                           db_int(now)};
    rc =
        sl_db_run(st, true,
                  "INSERT INTO merge_requests (project_id, iid, title, source_branch, "
                  "target_branch, head_sha, state, from_fork, updated_at) "
                  "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
                  "ON CONFLICT (project_id, iid) DO UPDATE SET title = excluded.title, "
                  "source_branch = excluded.source_branch, target_branch = excluded.target_branch, "
                  "head_sha = excluded.head_sha, state = excluded.state, "
                  "from_fork = excluded.from_fork, updated_at = excluded.updated_at",
                  v, SL_ARRAY_LEN(v), NULL, NULL, err);
    if (rc == SL_ENOENT)
        rc = sl_error_set(err, SL_ENOENT, "project %" PRId64 " does not exist", mr->project_id);
    return rc;
}

int sl_store_merge_request_open_iids(struct sl_store *st, int64_t project_id,
                                     const char *source_branch, int64_t *iids, size_t max,
                                     size_t *n, struct sl_error *err)
{
    struct db_rows rows = {0};
    *n = 0;
    struct db_value v[] = {db_int(project_id), db_text(source_branch), db_int((int64_t)max)};
    int rc = sl_db_run(st, false,
                       "SELECT iid FROM merge_requests WHERE project_id = ? AND source_branch = ? "
                       "AND state = 'opened' AND from_fork = 0 ORDER BY iid LIMIT ?",
                       v, SL_ARRAY_LEN(v), &rows, NULL, err);
    for (size_t i = 0; rc == 0 && i < rows.nrows && i < max; i++)
        iids[(*n)++] = sl_db_get_int(&rows, i, 0);
    sl_db_rows_release(&rows);
    return rc;
}

int sl_store_merge_request_from_fork(struct sl_store *st, int64_t project_id, int64_t iid,
                                     bool *from_fork, struct sl_error *err)
{
    struct db_rows rows = {0};
    struct db_value v[] = {db_int(project_id), db_int(iid)};
    int rc = sl_db_run(st, false,
                       "SELECT from_fork FROM merge_requests WHERE project_id = ? AND iid = ?", v,
                       SL_ARRAY_LEN(v), &rows, NULL, err);
    if (rc == 0 && rows.nrows == 0)
        rc = sl_error_set(err, SL_ENOENT, "project %" PRId64 " has no merge request !%" PRId64,
                          project_id, iid);
    if (rc == 0)
        *from_fork = sl_db_get_int(&rows, 0, 0) != 0;
    sl_db_rows_release(&rows);
    return rc;
}
