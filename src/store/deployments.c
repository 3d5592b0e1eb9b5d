/* deployments.c: environments, the jobs that act on them, and deployments.
 *
 * The server decides what a job does to an environment (deploy.c); these rows only keep
 * it. A deployment's status follows its job's, written by the server as the job moves. */
#include "base/compat.h"
#include "base/alloc.h"
#include "store/backend.h"

#define ENV_COLS                                                                                   \
    "e.id, e.project_id, e.name, e.slug, e.tier, e.url, e.state, e.auto_stop_at, e.created_at, "   \
    "e.updated_at, (SELECT MAX(d.id) FROM deployments d WHERE d.environment_id = e.id AND "        \
    "d.status = 'success'), e.kubernetes"

#define DEP_COLS                                                                                   \
    "d.id, d.project_id, d.environment_id, d.iid, d.job_id, d.pipeline_id, d.status, d.sha, "      \
    "d.ref, d.triggered_by, d.rollback_of, d.created_at, d.started_at, d.finished_at, e.name, "    \
    "d.required_approvals"

static const char *const env_states[] = {"available", "stopping", "stopped"};
static const char *const dep_statuses[] = {"created",  "running", "success", "failed",
                                           "canceled", "blocked", "skipped"};

static bool among(const char *s, const char *const *set, size_t n)
{
    for (size_t i = 0; s && i < n; i++)
        if (!strcmp(s, set[i]))
            return true;
    return false;
}

void sl_store_environment_release(struct sl_store_environment *e)
{
    if (!e)
        return;
    free(e->name);
    free(e->slug);
    free(e->tier);
    free(e->url);
    free(e->kubernetes);
    free(e->state);
    *e = (struct sl_store_environment){0};
}

void sl_store_environments_free(struct sl_store_environment *arr, size_t n)
{
    for (size_t i = 0; i < n; i++)
        sl_store_environment_release(&arr[i]);
    free(arr);
}

void sl_store_environment_job_release(struct sl_store_environment_job *j)
{
    if (!j)
        return;
    free(j->action);
    free(j->url);
    *j = (struct sl_store_environment_job){0};
}

void sl_store_deployment_release(struct sl_store_deployment *d)
{
    if (!d)
        return;
    free(d->status);
    free(d->sha);
    free(d->ref);
    free(d->triggered_by);
    free(d->environment_name);
    *d = (struct sl_store_deployment){0};
}

void sl_store_deployments_free(struct sl_store_deployment *arr, size_t n)
{
    for (size_t i = 0; i < n; i++)
        sl_store_deployment_release(&arr[i]);
    free(arr);
}

static void read_env(const struct db_rows *r, size_t row, struct sl_store_environment *e)
{
    e->id = sl_db_get_int(r, row, 0);
    e->project_id = sl_db_get_int(r, row, 1);
    e->name = sl_db_get_str0(r, row, 2);
    e->slug = sl_db_get_str0(r, row, 3);
    e->tier = sl_db_get_str0(r, row, 4);
    e->url = sl_db_get_str0(r, row, 5);
    e->state = sl_db_get_str0(r, row, 6);
    e->auto_stop_at = sl_db_get_int(r, row, 7);
    e->created_at = sl_db_get_int(r, row, 8);
    e->updated_at = sl_db_get_int(r, row, 9);
    e->last_deployment_id = sl_db_get_int(r, row, 10);
    e->kubernetes = sl_db_get_str(r, row, 11);
}

static void read_dep(const struct db_rows *r, size_t row, struct sl_store_deployment *d)
{
    d->id = sl_db_get_int(r, row, 0);
    d->project_id = sl_db_get_int(r, row, 1);
    d->environment_id = sl_db_get_int(r, row, 2);
    d->iid = sl_db_get_int(r, row, 3);
    d->job_id = sl_db_get_int(r, row, 4);
    d->pipeline_id = sl_db_get_int(r, row, 5);
    d->status = sl_db_get_str0(r, row, 6);
    d->sha = sl_db_get_str0(r, row, 7);
    d->ref = sl_db_get_str0(r, row, 8);
    d->triggered_by = sl_db_get_str0(r, row, 9);
    d->rollback_of = sl_db_get_int(r, row, 10);
    d->created_at = sl_db_get_int(r, row, 11);
    d->started_at = sl_db_get_int(r, row, 12);
    d->finished_at = sl_db_get_int(r, row, 13);
    d->environment_name = sl_db_get_str0(r, row, 14);
    d->required_approvals = (int)sl_db_get_int(r, row, 15);
}

/* Runs a SELECT of ENV_COLS or DEP_COLS and copies its rows with READ into *out. */
#define LIST_INTO(T, READ, rows, out, n)                                                           \
    do {                                                                                           \
        T *arr_ = sl_xcalloc((rows).nrows ? (rows).nrows : 1, sizeof(*arr_));                      \
        for (size_t i_ = 0; i_ < (rows).nrows; i_++)                                               \
            READ(&(rows), i_, &arr_[i_]);                                                          \
        *(out) = arr_;                                                                             \
        *(n) = (rows).nrows;                                                                       \
    } while (0)

int sl_store_environment_ensure(struct sl_store *st, int64_t project_id, const char *name,
                                const char *slug, const char *tier, const char *url, int64_t now,
                                int64_t *id_out, struct sl_error *err)
{
    struct db_rows rows = {0};
    int rc;

    if ((rc = sl_db_check_text(name, true, "environment name", err)) < 0 ||
        (rc = sl_db_check_text(slug, true, "environment slug", err)) < 0 ||
        (rc = sl_db_check_text(tier, true, "environment tier", err)) < 0 ||
        (rc = sl_db_check_text(url, false, "environment url", err)) < 0)
        return rc;
    struct db_value v[] = {db_int(project_id),      db_text(name), db_text(slug), db_text(tier),
                           db_text(url ? url : ""), db_int(now),   db_int(now)};
    /* one statement, so two pipelines naming a new environment at once make one row */
    rc = sl_db_run(st, true,
                   "INSERT INTO environments (project_id, name, slug, tier, url, created_at, "
                   "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (project_id, name) DO "
                   "UPDATE SET url = CASE WHEN excluded.url <> '' THEN excluded.url ELSE "
                   "environments.url END, updated_at = excluded.updated_at RETURNING id",
                   v, SL_ARRAY_LEN(v), &rows, NULL, err);
    if (rc == 0)
        *id_out = sl_db_get_int(&rows, 0, 0);
    sl_db_rows_release(&rows);
    return rc;
}

int sl_store_environment_get(struct sl_store *st, int64_t id, struct sl_store_environment *out,
                             struct sl_error *err)
{
    struct db_rows rows = {0};
    struct db_value v = db_int(id);
    int rc = sl_db_run(st, false, "SELECT " ENV_COLS " FROM environments e WHERE e.id = ?", &v, 1,
                       &rows, NULL, err);
    if (rc == 0 && rows.nrows == 0)
        rc = sl_error_set(err, SL_ENOENT, "environment %" PRId64 " does not exist", id);
    if (rc == 0)
        read_env(&rows, 0, out);
    sl_db_rows_release(&rows);
    return rc;
}

int sl_store_environment_list(struct sl_store *st, int64_t project_id,
                              const struct sl_store_page *page, struct sl_store_environment **out,
                              size_t *n, struct sl_error *err)
{
    struct db_rows rows = {0};
    const char *state = page ? page->status : NULL;
    struct db_value v[] = {db_int(project_id), db_int(page ? page->after : 0), db_text(state),
                           db_text(state), db_int(sl_db_page_limit(page))};
    int rc =
        sl_db_run(st, false,
                  "SELECT " ENV_COLS " FROM environments e WHERE e.project_id = ? AND e.id > ? "
                  "AND (CAST(? AS TEXT) IS NULL OR e.state = ?) ORDER BY e.id LIMIT ?",
                  v, SL_ARRAY_LEN(v), &rows, NULL, err);
    if (rc == 0)
        LIST_INTO(struct sl_store_environment, read_env, rows, out, n);
    sl_db_rows_release(&rows);
    return rc;
}

int sl_store_environment_set_state(struct sl_store *st, int64_t id, const char *state,
                                   const char *expect_state, int64_t auto_stop_at, const char *url,
                                   int64_t now, struct sl_error *err)
{
    int64_t changes = 0;
    if (!among(state, env_states, SL_ARRAY_LEN(env_states)))
        return sl_error_set(err, SL_EINVAL, "unknown environment state '%s'",
                            state ? state : "(null)");
    /* the url is read twice in the CASE and once after ELSE: bound three times */
    struct db_value w[] = {db_text(state),       db_int_or_null(auto_stop_at),
                           db_text(url),         db_text(url),
                           db_text(url),         db_int(now),
                           db_int(id),           db_text(expect_state),
                           db_text(expect_state)};
    int rc = sl_db_run(st, true,
                       "UPDATE environments SET state = ?, auto_stop_at = ?, url = CASE WHEN "
                       "CAST(? AS TEXT) IS NULL OR CAST(? AS TEXT) = '' THEN url ELSE ? END, "
                       "updated_at = ? WHERE id = ? AND (CAST(? AS TEXT) IS NULL OR state = ?)",
                       w, SL_ARRAY_LEN(w), NULL, &changes, err);
    if (rc == 0 && changes == 0) {
        struct sl_store_environment e = {0};
        rc = sl_store_environment_get(st, id, &e, err);
        if (rc == 0)
            rc = sl_error_set(err, SL_EBUSY, "environment %" PRId64 " is %s", id, e.state);
        sl_store_environment_release(&e);
    }
    return rc;
}

int sl_store_environment_delete(struct sl_store *st, int64_t id, struct sl_error *err)
{
    int64_t changes = 0;
    struct db_value v = db_int(id);
    int rc = sl_db_run(st, true, "DELETE FROM environments WHERE id = ? AND state = 'stopped'", &v,
                       1, NULL, &changes, err);
    if (rc == 0 && changes == 0) {
        struct sl_store_environment e = {0};
        rc = sl_store_environment_get(st, id, &e, err);
        if (rc == 0)
            rc = sl_error_set(err, SL_EBUSY,
                              "environment %" PRId64 " is %s: only a stopped environment can "
                              "be deleted",
                              id, e.state);
        sl_store_environment_release(&e);
    }
    return rc;
}

int sl_store_environment_list_due(struct sl_store *st, int64_t now, int limit,
                                  struct sl_store_environment **out, size_t *n,
                                  struct sl_error *err)
{
    struct db_rows rows = {0};
    struct sl_store_page pg = {.limit = limit};
    struct db_value v[] = {db_int(now), db_int(sl_db_page_limit(&pg))};
    int rc = sl_db_run(st, false,
                       "SELECT " ENV_COLS " FROM environments e WHERE e.state = 'available' AND "
                       "e.auto_stop_at IS NOT NULL AND e.auto_stop_at <= ? ORDER BY e.auto_stop_at "
                       "LIMIT ?",
                       v, SL_ARRAY_LEN(v), &rows, NULL, err);
    if (rc == 0)
        LIST_INTO(struct sl_store_environment, read_env, rows, out, n);
    sl_db_rows_release(&rows);
    return rc;
}

int sl_store_environment_job_add(struct sl_store *st, const struct sl_store_environment_job *j,
                                 struct sl_error *err)
{
    int rc;
    if ((rc = sl_db_check_text(j->action, true, "environment action", err)) < 0 ||
        (rc = sl_db_check_text(j->url, false, "environment url", err)) < 0)
        return rc;
    struct db_value v[] = {db_int(j->job_id),         db_int(j->environment_id),
                           db_text(j->action),        db_int_or_null(j->on_stop_job_id),
                           db_int(j->auto_stop_in_s), db_text(j->url ? j->url : "")};
    return sl_db_run(
        st, true,
        "INSERT INTO environment_jobs (job_id, environment_id, action, on_stop_job_id, "
        "auto_stop_in_s, url) VALUES (?, ?, ?, ?, ?, ?)",
        v, SL_ARRAY_LEN(v), NULL, NULL, err);
}

int sl_store_environment_job_get(struct sl_store *st, int64_t job_id,
                                 struct sl_store_environment_job *out, struct sl_error *err)
{
    struct db_rows rows = {0};
    struct db_value v = db_int(job_id);
    int rc = sl_db_run(st, false,
                       "SELECT job_id, environment_id, action, on_stop_job_id, auto_stop_in_s, url "
                       "FROM environment_jobs WHERE job_id = ?",
                       &v, 1, &rows, NULL, err);
    if (rc == 0 && rows.nrows == 0)
        rc = sl_error_set(err, SL_ENOENT, "job %" PRId64 " has no environment", job_id);
    if (rc == 0) {
        out->job_id = sl_db_get_int(&rows, 0, 0);
        out->environment_id = sl_db_get_int(&rows, 0, 1);
        out->action = sl_db_get_str0(&rows, 0, 2);
        out->on_stop_job_id = sl_db_get_int(&rows, 0, 3);
        out->auto_stop_in_s = sl_db_get_int(&rows, 0, 4);
        out->url = sl_db_get_str0(&rows, 0, 5);
    }
    sl_db_rows_release(&rows);
    return rc;
}

int sl_store_deployment_create(struct sl_store *st, const struct sl_store_deployment *d,
                               int64_t now, int64_t *id_out, struct sl_error *err)
{
    struct db_rows rows = {0};
    int rc;

    if (!among(d->status, dep_statuses, SL_ARRAY_LEN(dep_statuses)))
        return sl_error_set(err, SL_EINVAL, "unknown deployment status '%s'",
                            d->status ? d->status : "(null)");
    if ((rc = sl_db_check_text(d->sha, true, "deployment sha", err)) < 0 ||
        (rc = sl_db_check_text(d->ref, true, "deployment ref", err)) < 0 ||
        (rc = sl_db_check_text(d->triggered_by, false, "deployment triggered_by", err)) < 0)
        return rc;
    /* The iid is the project's next; two writers racing for it collide on the unique key
     * (PostgreSQL), and the second tries again. */
    for (int tries = 0; tries < 5; tries++) {
        struct sl_error e = SL_ERROR_INIT;
        struct db_value w[] = {db_int(d->project_id),
                               db_int(d->environment_id),
                               db_int(d->job_id),
                               db_int(d->pipeline_id),
                               db_text(d->status),
                               db_text(d->sha),
                               db_text(d->ref),
                               db_text(d->triggered_by ? d->triggered_by : ""),
                               db_int_or_null(d->rollback_of),
                               db_int(d->required_approvals),
                               db_int(now),
                               db_int(d->project_id)};
        rc = sl_db_run(
            st, true,
            "INSERT INTO deployments (project_id, environment_id, iid, job_id, "
            "pipeline_id, status, sha, ref, triggered_by, rollback_of, required_approvals, "
            "created_at) SELECT ?, ?, COALESCE(MAX(iid), 0) + 1, ?, ?, ?, ?, ?, ?, ?, ?, ? "
            "FROM "
            "deployments WHERE project_id = ? RETURNING id",
            w, SL_ARRAY_LEN(w), &rows, NULL, &e);
        if (rc != SL_EEXISTS) {
            if (rc < 0)
                sl_error_set(err, rc, "%s", e.message ? e.message : "cannot store a deployment");
            sl_error_release(&e);
            break;
        }
        sl_error_release(&e);
    }
    if (rc == 0 && id_out)
        *id_out = sl_db_get_int(&rows, 0, 0);
    sl_db_rows_release(&rows);
    return rc;
}

/* The latest deployment whose column WHERE_COL is KEY; MISSING names what was looked for. */
static int get_dep(struct sl_store *st, const char *where_col, int64_t key,
                   struct sl_store_deployment *out, struct sl_error *err, const char *missing)
{
    struct db_rows rows = {0};
    struct db_value v = db_int(key);
    char sql[512];
    snprintf(sql, sizeof(sql),
             "SELECT " DEP_COLS " FROM deployments d JOIN environments e ON e.id = "
             "d.environment_id WHERE %s = ? ORDER BY d.id DESC LIMIT 1",
             where_col);
    int rc = sl_db_run(st, false, sql, &v, 1, &rows, NULL, err);
    if (rc == 0 && rows.nrows == 0)
        rc = sl_error_set(err, SL_ENOENT, "%s %" PRId64 " does not exist", missing, key);
    if (rc == 0)
        read_dep(&rows, 0, out);
    sl_db_rows_release(&rows);
    return rc;
}

int sl_store_deployment_get(struct sl_store *st, int64_t id, struct sl_store_deployment *out,
                            struct sl_error *err)
{
    return get_dep(st, "d.id", id, out, err, "deployment");
}

int sl_store_deployment_get_by_job(struct sl_store *st, int64_t job_id,
                                   struct sl_store_deployment *out, struct sl_error *err)
{
    return get_dep(st, "d.job_id", job_id, out, err, "deployment of job");
}

int sl_store_deployment_move_job(struct sl_store *st, int64_t id, int64_t job_id,
                                 struct sl_error *err)
{
    int64_t changes = 0;
    struct db_value v[] = {db_int(job_id), db_int(id)};
    int rc = sl_db_run(st, true,
                       "UPDATE deployments SET job_id = ? WHERE id = ? AND started_at IS NULL AND "
                       "status IN ('created', 'blocked')",
                       v, SL_ARRAY_LEN(v), NULL, &changes, err);
    if (rc == 0 && changes == 0)
        rc = sl_error_set(err, SL_EBUSY, "deployment %" PRId64 " is gone or started", id);
    return rc;
}

int sl_store_deployment_set_triggered_by(struct sl_store *st, int64_t id, const char *actor,
                                         struct sl_error *err)
{
    int64_t changes = 0;
    int rc;
    if ((rc = sl_db_check_text(actor, false, "deployment triggered_by", err)) < 0)
        return rc;
    struct db_value v[] = {db_text(actor), db_int(id)};
    rc = sl_db_run(st, true,
                   "UPDATE deployments SET triggered_by = ? WHERE id = ? AND started_at IS NULL "
                   "AND status = 'created'",
                   v, SL_ARRAY_LEN(v), NULL, &changes, err);
    if (rc == 0 && changes == 0)
        rc = sl_error_set(err, SL_EBUSY, "deployment %" PRId64 " is gone, started or blocked", id);
    return rc;
}

int sl_store_deployment_list(struct sl_store *st, int64_t environment_id,
                             const struct sl_store_page *page, struct sl_store_deployment **out,
                             size_t *n, struct sl_error *err)
{
    struct db_rows rows = {0};
    const char *status = page ? page->status : NULL;
    int64_t after = page && page->after > 0 ? page->after : INT64_MAX;
    struct db_value v[] = {db_int(environment_id), db_int(after), db_text(status), db_text(status),
                           db_int(sl_db_page_limit(page))};
    int rc = sl_db_run(
        st, false,
        "SELECT " DEP_COLS " FROM deployments d JOIN environments e ON e.id = "
        "d.environment_id WHERE d.environment_id = ? AND d.id < ? AND (CAST(? AS TEXT) IS NULL OR "
        "d.status = ?) ORDER BY d.id DESC LIMIT ?",
        v, SL_ARRAY_LEN(v), &rows, NULL, err);
    if (rc == 0)
        LIST_INTO(struct sl_store_deployment, read_dep, rows, out, n);
    sl_db_rows_release(&rows);
    return rc;
}

int sl_store_deployment_set_status(struct sl_store *st, int64_t id, const char *status,
                                   const char *expect_status, int64_t now, struct sl_error *err)
{
    int64_t changes = 0;
    if (!among(status, dep_statuses, SL_ARRAY_LEN(dep_statuses)))
        return sl_error_set(err, SL_EINVAL, "unknown deployment status '%s'",
                            status ? status : "(null)");
    bool running = !strcmp(status, "running");
    bool ended = !strcmp(status, "success") || !strcmp(status, "failed") ||
                 !strcmp(status, "canceled") || !strcmp(status, "skipped");
    struct db_value v[] = {db_text(status),
                           db_int_or_null(running ? now : 0),
                           db_int_or_null(ended ? now : 0),
                           db_int(id),
                           db_text(expect_status),
                           db_text(expect_status)};
    int rc = sl_db_run(st, true,
                       "UPDATE deployments SET status = ?, started_at = COALESCE(?, started_at), "
                       "finished_at = ? WHERE id = ? AND (CAST(? AS TEXT) IS NULL OR status = ?)",
                       v, SL_ARRAY_LEN(v), NULL, &changes, err);
    if (rc == 0 && changes == 0)
        rc = sl_error_set(err, SL_EBUSY, "deployment %" PRId64 " is gone or moved on", id);
    return rc;
}

int sl_store_environment_set_kubernetes(struct sl_store *st, int64_t id, const char *kubernetes,
                                        struct sl_error *err)
{
    int rc;
    if ((rc = sl_db_check_text(kubernetes, false, "environment kubernetes", err)) < 0)
        return rc;
    struct db_value v[] = {kubernetes ? db_text(kubernetes) : db_null(), db_int(id)};
    return sl_db_run(st, true, "UPDATE environments SET kubernetes = ? WHERE id = ?", v,
                     SL_ARRAY_LEN(v), NULL, NULL, err);
}
