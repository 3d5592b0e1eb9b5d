/* projects.c: projects and the last commit seen per ref. */
#include "base/compat.h"
#include "base/alloc.h"
#include "store/backend.h"

#define PROJECT_COLS                                                                               \
    "id, name, repo_url, default_branch, poll_interval_s, webhook_secret, created_at, "            \
    "webhook_secret_sealed, forward_deployment_enabled, fork_pipelines_need_approval, "            \
    "CASE WHEN EXISTS (SELECT 1 FROM forge_connections f WHERE f.project_id = projects.id) "       \
    "THEN 1 ELSE 0 END"

void sl_store_project_release(struct sl_store_project *p)
{
    if (!p)
        return;
    free(p->name);
    free(p->repo_url);
    free(p->default_branch);
    free(p->webhook_secret);
    *p = (struct sl_store_project){0};
}

void sl_store_projects_free(struct sl_store_project *arr, size_t n)
{
    for (size_t i = 0; i < n; i++)
        sl_store_project_release(&arr[i]);
    free(arr);
}

/* The webhook secret is stored sealed (migration 0010); a row sealed under another key, or
 * tampered with, reads as no secret: its webhooks are then refused, never accepted. */
static void read_project(struct sl_store *st, const struct db_rows *r, size_t row,
                         struct sl_store_project *p)
{
    p->id = sl_db_get_int(r, row, 0);
    p->name = sl_db_get_str0(r, row, 1);
    p->repo_url = sl_db_get_str0(r, row, 2);
    p->default_branch = sl_db_get_str0(r, row, 3);
    p->poll_interval_s = (int)sl_db_get_int(r, row, 4);
    p->created_at = sl_db_get_int(r, row, 6);
    p->outdated_deployments_allowed = sl_db_get_int(r, row, 8) == 0;
    p->fork_pipelines_need_approval = sl_db_get_int(r, row, 9) != 0;
    p->forge_known = true;
    p->has_forge = sl_db_get_int(r, row, 10) != 0;
    p->webhook_secret = NULL;
    if (!sl_db_is_null(r, row, 7) && sl_db_seal_key(st))
        sl_db_unseal_as(sl_db_seal_key(st), "webhook", p->id, sl_db_cell(r, row, 7),
                        &p->webhook_secret, NULL);
    if (!p->webhook_secret)
        p->webhook_secret = sl_db_get_str0(r, row, 5); /* "" unless from before 0010 */
}

/* Writes P's webhook secret, sealed, into project ID's row (on DC when not NULL). */
static int write_secret(struct sl_store *st, struct db_conn *dc, int64_t id, const char *secret,
                        struct sl_error *err)
{
    unsigned char *sealed = NULL;
    size_t slen = 0;
    if (secret && *secret)
        sl_db_seal_as(sl_db_seal_key(st), "webhook", id, secret, strlen(secret), &sealed, &slen);
    struct db_value v[] = {sealed ? db_blob(sealed, slen) : db_null(), db_int(id)};
    const char *sql = "UPDATE projects SET webhook_secret_sealed = ?, webhook_secret = '' "
                      "WHERE id = ?";
    int rc = dc ? sl_db_exec(dc, sql, v, SL_ARRAY_LEN(v), NULL, NULL, err)
                : sl_db_run(st, true, sql, v, SL_ARRAY_LEN(v), NULL, NULL, err);
    free(sealed);
    return rc;
}

static int check_project(struct sl_store *st, const struct sl_store_project *p,
                         struct sl_error *err)
{
    int rc;
    if ((rc = sl_db_check_text(p->name, true, "project name", err)) < 0 ||
        (rc = sl_db_check_text(p->repo_url, true, "repo_url", err)) < 0 ||
        (rc = sl_db_check_text(p->default_branch, false, "default_branch", err)) < 0 ||
        (rc = sl_db_check_text(p->webhook_secret, false, "webhook_secret", err)) < 0)
        return rc;
    if (!*p->name)
        return sl_error_set(err, SL_EINVAL, "project name is empty");
    if (p->webhook_secret && *p->webhook_secret && !sl_db_seal_key(st))
        return sl_error_set(err, SL_EINVAL,
                            "no secrets key: a webhook secret is only stored sealed");
    if (p->poll_interval_s < 0)
        return sl_error_set(err, SL_EINVAL, "poll interval is negative");
    return 0;
}

int sl_store_project_create(struct sl_store *st, const struct sl_store_project *p, int64_t now,
                            int64_t *id_out, struct sl_error *err)
{
    struct db_rows rows = {0};
    int rc;

    if ((rc = check_project(st, p, err)) < 0)
        return rc;
    struct db_value v[] = {
        db_text(p->name),
        db_text(p->repo_url),
        db_text(p->default_branch ? p->default_branch : "main"),
        db_int(p->poll_interval_s),
        db_int(now),
    };
    /* the secret is sealed bound to the row's id, known once inserted: one transaction */
    struct db_conn dc;
    if ((rc = sl_db_acquire(st, true, &dc, err)) < 0)
        return rc;
    if ((rc = sl_db_begin(&dc, err)) < 0)
        goto release;
    rc = sl_db_exec(&dc,
                    "INSERT INTO projects (name, repo_url, default_branch, poll_interval_s, "
                    "webhook_secret, created_at) VALUES (?, ?, ?, ?, '', ?) RETURNING id",
                    v, SL_ARRAY_LEN(v), &rows, NULL, err);
    int64_t id = rc == 0 ? sl_db_get_int(&rows, 0, 0) : 0;
    if (rc == 0 && p->webhook_secret && *p->webhook_secret)
        rc = write_secret(st, &dc, id, p->webhook_secret, err);
    if (rc == 0 && p->outdated_deployments_allowed) { /* the column's default is GitLab's */
        struct db_value idv = db_int(id);
        rc = sl_db_exec(&dc, "UPDATE projects SET forward_deployment_enabled = 0 WHERE id = ?",
                        &idv, 1, NULL, NULL, err);
    }
    if (rc == 0 && p->fork_pipelines_need_approval) { /* 0061's column, named when used */
        struct db_value idv = db_int(id);
        rc = sl_db_exec(&dc, "UPDATE projects SET fork_pipelines_need_approval = 1 WHERE id = ?",
                        &idv, 1, NULL, NULL, err);
    }
    rc = sl_db_end(&dc, rc, err);
    if (rc == SL_EEXISTS)
        rc = sl_error_set(err, SL_EEXISTS, "a project named '%s' exists", p->name);
    if (rc == 0 && id_out)
        *id_out = id;
release:
    sl_db_release(&dc);
    sl_db_rows_release(&rows);
    return rc;
}

int sl_store_project_update(struct sl_store *st, const struct sl_store_project *p,
                            struct sl_error *err)
{
    int64_t changes = 0;
    int rc;

    if ((rc = check_project(st, p, err)) < 0)
        return rc;
    struct db_value v[] = {
        db_text(p->name),
        db_text(p->repo_url),
        db_text(p->default_branch ? p->default_branch : "main"),
        db_int(p->poll_interval_s),
        db_int(!p->outdated_deployments_allowed),
        db_int(p->fork_pipelines_need_approval),
        db_int(p->id),
    };
    struct db_conn dc;
    if ((rc = sl_db_acquire(st, true, &dc, err)) < 0)
        return rc;
    if ((rc = sl_db_begin(&dc, err)) < 0)
        goto release;
    rc = sl_db_exec(&dc,
                    "UPDATE projects SET name = ?, repo_url = ?, default_branch = ?, "
                    "poll_interval_s = ?, forward_deployment_enabled = ?, "
                    "fork_pipelines_need_approval = ? WHERE id = ?",
                    v, SL_ARRAY_LEN(v), NULL, &changes, err);
    if (rc == 0 && changes == 0)
        rc = sl_error_set(err, SL_ENOENT, "project %" PRId64 " does not exist", p->id);
    if (rc == 0)
        rc = write_secret(st, &dc, p->id, p->webhook_secret, err);
    rc = sl_db_end(&dc, rc, err);
    if (rc == SL_EEXISTS)
        rc = sl_error_set(err, SL_EEXISTS, "a project named '%s' exists", p->name);
release:
    sl_db_release(&dc);
    return rc;
}

static int get_one(struct sl_store *st, const char *sql, struct db_value key, const char *what,
                   struct sl_store_project *out, struct sl_error *err)
{
    struct db_rows rows = {0};
    int rc = sl_db_run(st, false, sql, &key, 1, &rows, NULL, err);
    if (rc == 0 && rows.nrows == 0)
        rc = sl_error_set(err, SL_ENOENT, "project %s does not exist", what);
    if (rc == 0)
        read_project(st, &rows, 0, out);
    sl_db_rows_release(&rows);
    return rc;
}

int sl_store_project_get(struct sl_store *st, int64_t id, struct sl_store_project *out,
                         struct sl_error *err)
{
    char what[32];
    snprintf(what, sizeof(what), "%" PRId64, id);
    return get_one(st, "SELECT " PROJECT_COLS " FROM projects WHERE id = ?", db_int(id), what, out,
                   err);
}

int sl_store_project_get_by_name(struct sl_store *st, const char *name,
                                 struct sl_store_project *out, struct sl_error *err)
{
    int rc;
    if ((rc = sl_db_check_text(name, true, "project name", err)) < 0)
        return rc;
    return get_one(st, "SELECT " PROJECT_COLS " FROM projects WHERE name = ?", db_text(name), name,
                   out, err);
}

int sl_store_project_list(struct sl_store *st, const struct sl_store_page *page,
                          struct sl_store_project **out, size_t *n, struct sl_error *err)
{
    struct db_rows rows = {0};
    struct db_value v[] = {db_int(page ? page->after : 0), db_int(sl_db_page_limit(page))};
    int rc = sl_db_run(st, false,
                       "SELECT " PROJECT_COLS " FROM projects WHERE id > ? ORDER BY id LIMIT ?", v,
                       SL_ARRAY_LEN(v), &rows, NULL, err);
    if (rc == 0) {
        struct sl_store_project *arr = sl_xcalloc(rows.nrows ? rows.nrows : 1, sizeof(*arr));
        for (size_t i = 0; i < rows.nrows; i++)
            read_project(st, &rows, i, &arr[i]);
        *out = arr;
        *n = rows.nrows;
    }
    sl_db_rows_release(&rows);
    return rc;
}

int sl_store_project_delete(struct sl_store *st, int64_t id, struct sl_error *err)
{
    int64_t changes = 0;
    struct db_value v = db_int(id);
    int rc = sl_db_run(st, true, "DELETE FROM projects WHERE id = ?", &v, 1, NULL, &changes, err);
    if (rc == 0 && changes == 0)
        rc = sl_error_set(err, SL_ENOENT, "project %" PRId64 " does not exist", id);
    return rc;
}

int sl_store_project_pipeline_ids(struct sl_store *st, int64_t project_id, int64_t **out, size_t *n,
                                  struct sl_error *err)
{
    struct db_rows rows = {0};
    struct db_value v = db_int(project_id);
    int rc = sl_db_run(st, false, "SELECT id FROM pipelines WHERE project_id = ? ORDER BY id", &v,
                       1, &rows, NULL, err);
    if (rc == 0) {
        int64_t *ids = rows.nrows ? sl_xmalloc(rows.nrows * sizeof(*ids)) : NULL;
        for (size_t i = 0; i < rows.nrows; i++)
            ids[i] = sl_db_get_int(&rows, i, 0);
        *out = ids;
        *n = rows.nrows;
    }
    sl_db_rows_release(&rows);
    return rc;
}

int sl_store_project_ref_get(struct sl_store *st, int64_t project_id, const char *ref,
                             char **sha_out, struct sl_error *err)
{
    struct db_rows rows = {0};
    int rc;
    if ((rc = sl_db_check_text(ref, true, "ref", err)) < 0)
        return rc;
    struct db_value v[] = {db_int(project_id), db_text(ref)};
    rc = sl_db_run(st, false, "SELECT sha FROM project_refs WHERE project_id = ? AND ref = ?", v,
                   SL_ARRAY_LEN(v), &rows, NULL, err);
    if (rc == 0)
        *sha_out = rows.nrows ? sl_db_get_str(&rows, 0, 0) : NULL;
    sl_db_rows_release(&rows);
    return rc;
}

int sl_store_project_ref_set(struct sl_store *st, int64_t project_id, const char *ref,
                             const char *sha, int64_t now, struct sl_error *err)
{
    int rc;
    if ((rc = sl_db_check_text(ref, true, "ref", err)) < 0 ||
        (rc = sl_db_check_text(sha, true, "sha", err)) < 0)
        return rc;
    struct db_value v[] = {db_int(project_id), db_text(ref), db_text(sha), db_int(now)};
    rc =
        sl_db_run(st, true,
                  "INSERT INTO project_refs (project_id, ref, sha, updated_at) VALUES (?, ?, ?, ?) "
                  "ON CONFLICT (project_id, ref) DO UPDATE SET sha = excluded.sha, "
                  "updated_at = excluded.updated_at",
                  v, SL_ARRAY_LEN(v), NULL, NULL, err);
    if (rc == SL_ENOENT)
        rc = sl_error_set(err, SL_ENOENT, "project %" PRId64 " does not exist", project_id);
    return rc;
}
