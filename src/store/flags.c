/* flags.c: feature flags, their per-environment configuration, segments, the history of
 * changes, Unleash tokens and GitLab instance ids (store/flags.h). */
#include "base/compat.h"
#include "base/alloc.h"
#include "store/backend.h"
#include "store/flags.h"

#include <sodium.h>

#define LAST_USED_GRANULARITY_MS 60000 /* as API tokens: no write per poll */

#define FLAG_COLS                                                                                  \
    "id, project_id, name, description, type, stale, archived, impression_data, dependencies, "    \
    "tags, created_at, updated_at"
#define ENV_COLS "f.name, e.environment, e.enabled, e.strategies, e.variants, e.updated_at"
#define CHANGE_COLS                                                                                \
    "id, project_id, flag, environment, at, actor, action, detail, pipeline_id, job_id"
#define FTOKEN_COLS                                                                                \
    "id, project_id, environment, type, name, allowed_origins, created_at, last_used_at, revoked"

static const char *const flag_types[] = {"release", "experiment", "operational", "kill-switch",
                                         "permission"};

void sl_store_flag_release(struct sl_store_flag *f)
{
    if (!f)
        return;
    free(f->name);
    free(f->description);
    free(f->type);
    free(f->dependencies);
    free(f->tags);
    *f = (struct sl_store_flag){0};
}

void sl_store_flags_free(struct sl_store_flag *arr, size_t n)
{
    for (size_t i = 0; i < n; i++)
        sl_store_flag_release(&arr[i]);
    free(arr);
}

void sl_store_flag_env_release(struct sl_store_flag_env *e)
{
    if (!e)
        return;
    free(e->flag);
    free(e->environment);
    free(e->strategies);
    free(e->variants);
    *e = (struct sl_store_flag_env){0};
}

void sl_store_flag_envs_free(struct sl_store_flag_env *arr, size_t n)
{
    for (size_t i = 0; i < n; i++)
        sl_store_flag_env_release(&arr[i]);
    free(arr);
}

void sl_store_flag_segments_free(struct sl_store_flag_segment *arr, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(arr[i].name);
        free(arr[i].constraints);
    }
    free(arr);
}

void sl_store_flag_changes_free(struct sl_store_flag_change *arr, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(arr[i].flag);
        free(arr[i].environment);
        free(arr[i].actor);
        free(arr[i].action);
        free(arr[i].detail);
    }
    free(arr);
}

void sl_store_flag_names_free(char **arr, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(arr[i]);
    free(arr);
}

/* ---- checks ---- */

static int check_name(const char *s, const char *what, struct sl_error *err)
{
    if (!s || !*s || strlen(s) > SL_STORE_FLAG_NAME_MAX)
        return sl_error_set(err, SL_EINVAL, "%s is 1 to %d bytes", what, SL_STORE_FLAG_NAME_MAX);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7f || *p == '/')
            return sl_error_set(err, SL_EINVAL, "%s must not hold '/' or control characters", what);
    return 0;
}

/* A JSON array as text: the store does not parse JSON, it only refuses what cannot be one. */
static int check_array(const char *s, const char *what, struct sl_error *err)
{
    int rc;
    if ((rc = sl_db_check_text(s, false, what, err)) < 0)
        return rc;
    if (!s)
        return 0;
    while (*s == ' ' || *s == '\n' || *s == '\t' || *s == '\r')
        s++;
    if (*s != '[')
        return sl_error_set(err, SL_EINVAL, "%s must be a JSON array", what);
    return 0;
}

static int check_flag(const struct sl_store_flag *f, struct sl_error *err)
{
    int rc;
    if ((rc = check_name(f->name, "a flag name", err)) < 0 ||
        (rc = sl_db_check_text(f->description, false, "description", err)) < 0 ||
        (rc = check_array(f->dependencies, "dependencies", err)) < 0 ||
        (rc = check_array(f->tags, "tags", err)) < 0)
        return rc;
    bool known = !f->type;
    for (size_t i = 0; !known && i < SL_ARRAY_LEN(flag_types); i++)
        known = sl_streq(f->type, flag_types[i]);
    if (!known)
        return sl_error_set(err, SL_EINVAL,
                            "unknown flag type '%s' (release, experiment, operational, "
                            "kill-switch or permission)",
                            f->type);
    return 0;
}

static int check_env(const struct sl_store_flag_env *e, struct sl_error *err)
{
    int rc;
    if ((rc = check_name(e->environment, "an environment name", err)) < 0 ||
        (rc = check_array(e->strategies, "strategies", err)) < 0 ||
        (rc = check_array(e->variants, "variants", err)) < 0)
        return rc;
    return 0;
}

static int check_actor(const struct sl_store_flag_actor *by, struct sl_error *err)
{
    int rc;
    if (!by)
        return sl_error_set(err, SL_EINVAL, "a change needs its actor");
    if ((rc = sl_db_check_text(by->actor, true, "actor", err)) < 0 ||
        (rc = sl_db_check_text(by->action, true, "action", err)) < 0 ||
        (rc = sl_db_check_text(by->detail, false, "detail", err)) < 0)
        return rc;
    return 0;
}

/* ---- reading rows ---- */

static void read_flag(const struct db_rows *r, size_t i, struct sl_store_flag *f)
{
    f->id = sl_db_get_int(r, i, 0);
    f->project_id = sl_db_get_int(r, i, 1);
    f->name = sl_db_get_str0(r, i, 2);
    f->description = sl_db_get_str0(r, i, 3);
    f->type = sl_db_get_str0(r, i, 4);
    f->stale = sl_db_get_int(r, i, 5) != 0;
    f->archived = sl_db_get_int(r, i, 6) != 0;
    f->impression_data = sl_db_get_int(r, i, 7) != 0;
    f->dependencies = sl_db_get_str0(r, i, 8);
    f->tags = sl_db_get_str0(r, i, 9);
    f->created_at = sl_db_get_int(r, i, 10);
    f->updated_at = sl_db_get_int(r, i, 11);
}

static void read_env(const struct db_rows *r, size_t i, struct sl_store_flag_env *e)
{
    e->flag = sl_db_get_str0(r, i, 0);
    e->environment = sl_db_get_str0(r, i, 1);
    e->enabled = sl_db_get_int(r, i, 2) != 0;
    e->strategies = sl_db_get_str0(r, i, 3);
    e->variants = sl_db_get_str0(r, i, 4);
    e->updated_at = sl_db_get_int(r, i, 5);
}

/* ---- one write transaction: the change, its history row and the revision ---- */

struct tx {
    struct db_conn dc;
    bool open;
};

static int tx_begin(struct sl_store *st, struct tx *t, struct sl_error *err)
{
    int rc;
    t->open = false;
    if ((rc = sl_db_acquire(st, true, &t->dc, err)) < 0)
        return rc;
    if ((rc = sl_db_begin(&t->dc, err)) < 0) {
        sl_db_release(&t->dc);
        return rc;
    }
    t->open = true;
    return 0;
}

static int tx_end(struct tx *t, int rc, struct sl_error *err)
{
    if (!t->open)
        return rc;
    rc = sl_db_end(&t->dc, rc, err);
    sl_db_release(&t->dc);
    t->open = false;
    return rc;
}

/* Bumps the revision of PROJECT_ID and records BY's change of FLAG in ENVIRONMENT. */
static int record(struct tx *t, int64_t project_id, const char *flag, const char *environment,
                  const struct sl_store_flag_actor *by, int64_t now, struct sl_error *err)
{
    struct db_value rv = db_int(project_id);
    int rc = sl_db_exec(&t->dc,
                        "INSERT INTO feature_flag_revisions (project_id, revision) VALUES (?, 1) "
                        "ON CONFLICT (project_id) DO UPDATE SET revision = "
                        "feature_flag_revisions.revision + 1",
                        &rv, 1, NULL, NULL, err);
    if (rc < 0)
        return rc == SL_ENOENT
                   ? sl_error_set(err, SL_ENOENT, "project %" PRId64 " does not exist", project_id)
                   : rc;
    struct db_value v[] = {db_int(project_id),
                           db_text(flag ? flag : ""),
                           db_text(environment ? environment : ""),
                           db_int(now),
                           db_text(by->actor),
                           db_text(by->action),
                           db_text(by->detail ? by->detail : "{}"),
                           db_int_or_null(by->pipeline_id),
                           db_int_or_null(by->job_id)};
    return sl_db_exec(&t->dc,
                      "INSERT INTO feature_flag_changes (project_id, flag, environment, at, actor, "
                      "action, detail, pipeline_id, job_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                      v, SL_ARRAY_LEN(v), NULL, NULL, err);
}

/* The id of flag NAME of PROJECT_ID on T's connection. */
static int flag_id(struct tx *t, int64_t project_id, const char *name, int64_t *id,
                   struct sl_error *err)
{
    struct db_rows rows = {0};
    struct db_value v[] = {db_int(project_id), db_text(name)};
    int rc = sl_db_exec(&t->dc, "SELECT id FROM feature_flags WHERE project_id = ? AND name = ?", v,
                        2, &rows, NULL, err);
    if (rc == 0 && rows.nrows == 0)
        rc = sl_error_set(err, SL_ENOENT, "feature flag %s does not exist", name);
    if (rc == 0)
        *id = sl_db_get_int(&rows, 0, 0);
    sl_db_rows_release(&rows);
    return rc;
}

/* ---- flags ---- */

int sl_store_flag_create(struct sl_store *st, const struct sl_store_flag *f,
                         const struct sl_store_flag_actor *by, int64_t now, int64_t *id_out,
                         struct sl_error *err)
{
    struct db_rows rows = {0};
    struct tx t;
    int rc;

    if ((rc = check_flag(f, err)) < 0 || (rc = check_actor(by, err)) < 0)
        return rc;
    if ((rc = tx_begin(st, &t, err)) < 0)
        return rc;
    struct db_value v[] = {db_int(f->project_id),
                           db_text(f->name),
                           db_text(f->description ? f->description : ""),
                           db_text(f->type ? f->type : "release"),
                           db_int(f->stale),
                           db_int(f->archived),
                           db_int(f->impression_data),
                           db_text(f->dependencies ? f->dependencies : "[]"),
                           db_text(f->tags ? f->tags : "[]"),
                           db_int(now),
                           db_int(now)};
    rc = sl_db_exec(
        &t.dc,
        "INSERT INTO feature_flags (project_id, name, description, type, stale, archived, "
        "impression_data, dependencies, tags, created_at, updated_at) VALUES (?, ?, ?, "
        "?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        v, SL_ARRAY_LEN(v), &rows, NULL, err);
    if (rc == SL_EEXISTS)
        rc = sl_error_set(err, SL_EEXISTS, "feature flag %s exists already", f->name);
    else if (rc == SL_ENOENT)
        rc = sl_error_set(err, SL_ENOENT, "project %" PRId64 " does not exist", f->project_id);
    if (rc == 0)
        rc = record(&t, f->project_id, f->name, NULL, by, now, err);
    rc = tx_end(&t, rc, err);
    if (rc == 0 && id_out)
        *id_out = sl_db_get_int(&rows, 0, 0);
    sl_db_rows_release(&rows);
    return rc;
}

int sl_store_flag_update(struct sl_store *st, const struct sl_store_flag *f,
                         const struct sl_store_flag_actor *by, int64_t now, struct sl_error *err)
{
    struct tx t;
    int64_t changed = 0;
    int rc;

    if ((rc = check_flag(f, err)) < 0 || (rc = check_actor(by, err)) < 0)
        return rc;
    if ((rc = tx_begin(st, &t, err)) < 0)
        return rc;
    struct db_value v[] = {db_text(f->description ? f->description : ""),
                           db_text(f->type ? f->type : "release"),
                           db_int(f->stale),
                           db_int(f->archived),
                           db_int(f->impression_data),
                           db_text(f->dependencies ? f->dependencies : "[]"),
                           db_text(f->tags ? f->tags : "[]"),
                           db_int(now),
                           db_int(f->project_id),
                           db_text(f->name)};
    rc = sl_db_exec(&t.dc,
                    "UPDATE feature_flags SET description = ?, type = ?, stale = ?, archived = ?, "
                    "impression_data = ?, dependencies = ?, tags = ?, updated_at = ? WHERE "
                    "project_id = ? AND name = ?",
                    v, SL_ARRAY_LEN(v), NULL, &changed, err);
    if (rc == 0 && changed == 0)
        rc = sl_error_set(err, SL_ENOENT, "feature flag %s does not exist", f->name);
    if (rc == 0)
        rc = record(&t, f->project_id, f->name, NULL, by, now, err);
    return tx_end(&t, rc, err);
}

int sl_store_flag_get(struct sl_store *st, int64_t project_id, const char *name,
                      struct sl_store_flag *out, struct sl_error *err)
{
    struct db_rows rows = {0};
    struct db_value v[] = {db_int(project_id), db_text(name)};
    int rc = sl_db_run(st, false,
                       "SELECT " FLAG_COLS " FROM feature_flags WHERE project_id = ? AND name = ?",
                       v, 2, &rows, NULL, err);
    if (rc == 0 && rows.nrows == 0)
        rc = sl_error_set(err, SL_ENOENT, "feature flag %s does not exist", name);
    if (rc == 0) {
        *out = (struct sl_store_flag){0};
        read_flag(&rows, 0, out);
    }
    sl_db_rows_release(&rows);
    return rc;
}

int sl_store_flag_list(struct sl_store *st, int64_t project_id, struct sl_store_flag **out,
                       size_t *n, struct sl_error *err)
{
    struct db_rows rows = {0};
    struct db_value v[] = {db_int(project_id), db_int(SL_STORE_FLAGS_MAX)};
    int rc = sl_db_run(st, false,
                       "SELECT " FLAG_COLS " FROM feature_flags WHERE project_id = ? ORDER BY name "
                       "LIMIT ?",
                       v, 2, &rows, NULL, err);
    if (rc == 0)
        SL_DB_READ_ALL(&rows, read_flag, out, n);
    sl_db_rows_release(&rows);
    return rc;
}

int sl_store_flag_delete(struct sl_store *st, int64_t project_id, const char *name,
                         const struct sl_store_flag_actor *by, int64_t now, struct sl_error *err)
{
    struct tx t;
    int64_t id = 0;
    int rc;

    if ((rc = check_actor(by, err)) < 0)
        return rc;
    if ((rc = tx_begin(st, &t, err)) < 0)
        return rc;
    if ((rc = flag_id(&t, project_id, name, &id, err)) < 0)
        goto out;
    struct db_value v = db_int(id); /* its configurations go with it (ON DELETE CASCADE) */
    if ((rc = sl_db_exec(&t.dc, "DELETE FROM feature_flags WHERE id = ?", &v, 1, NULL, NULL, err)) <
        0)
        goto out;
    rc = record(&t, project_id, name, NULL, by, now, err);
out:
    return tx_end(&t, rc, err);
}

/* ---- configurations per environment ---- */

static int env_upsert(struct tx *t, int64_t id, const struct sl_store_flag_env *e, int64_t now,
                      struct sl_error *err)
{
    struct db_value v[] = {db_int(id),
                           db_text(e->environment),
                           db_int(e->enabled),
                           db_text(e->strategies ? e->strategies : "[]"),
                           db_text(e->variants ? e->variants : "[]"),
                           db_int(now)};
    return sl_db_exec(&t->dc,
                      "INSERT INTO feature_flag_envs (flag_id, environment, enabled, strategies, "
                      "variants, updated_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (flag_id, "
                      "environment) DO UPDATE SET enabled = excluded.enabled, strategies = "
                      "excluded.strategies, variants = excluded.variants, updated_at = "
                      "excluded.updated_at",
                      v, SL_ARRAY_LEN(v), NULL, NULL, err);
}

int sl_store_flag_env_set(struct sl_store *st, int64_t project_id, const char *name,
                          const struct sl_store_flag_env *e, const struct sl_store_flag_actor *by,
                          int64_t now, struct sl_error *err)
{
    struct tx t;
    int64_t id = 0;
    int rc;

    if ((rc = check_env(e, err)) < 0 || (rc = check_actor(by, err)) < 0)
        return rc;
    if ((rc = tx_begin(st, &t, err)) < 0)
        return rc;
    if ((rc = flag_id(&t, project_id, name, &id, err)) == 0 &&
        (rc = env_upsert(&t, id, e, now, err)) == 0)
        rc = record(&t, project_id, name, e->environment, by, now, err);
    return tx_end(&t, rc, err);
}

int sl_store_flag_env_list(struct sl_store *st, int64_t project_id, const char *name,
                           const char *environment, struct sl_store_flag_env **out, size_t *n,
                           struct sl_error *err)
{
    struct db_rows rows = {0};
    struct db_value v[3];
    size_t nv = 0;
    v[nv++] = db_int(project_id);
    if (environment)
        v[nv++] = db_text(environment);
    else if (name)
        v[nv++] = db_text(name);
    int rc =
        sl_db_run(st, false,
                  environment ? "SELECT " ENV_COLS " FROM feature_flag_envs e JOIN feature_flags "
                                "f ON f.id = e.flag_id WHERE f.project_id = ? AND "
                                "e.environment = ? ORDER BY f.name"
                  : name      ? "SELECT " ENV_COLS " FROM feature_flag_envs e JOIN feature_flags f "
                                "ON f.id = e.flag_id WHERE f.project_id = ? AND f.name = ? ORDER "
                                "BY e.environment"
                              : "SELECT " ENV_COLS " FROM feature_flag_envs e JOIN feature_flags f "
                                "ON f.id = e.flag_id WHERE f.project_id = ? ORDER BY f.name, "
                                "e.environment",
                  v, nv, &rows, NULL, err);
    if (rc == 0)
        SL_DB_READ_ALL(&rows, read_env, out, n);
    sl_db_rows_release(&rows);
    return rc;
}

int sl_store_flag_environments(struct sl_store *st, int64_t project_id, char ***out, size_t *n,
                               struct sl_error *err)
{
    struct db_rows rows = {0};
    struct db_value v[] = {db_int(project_id), db_int(project_id), db_int(SL_STORE_LIST_MAX)};
    int rc = sl_db_run(st, false,
                       "SELECT environment FROM feature_flag_envs e JOIN feature_flags f ON f.id = "
                       "e.flag_id WHERE f.project_id = ? UNION SELECT environment FROM "
                       "feature_flag_tokens WHERE project_id = ? ORDER BY 1 LIMIT ?",
                       v, SL_ARRAY_LEN(v), &rows, NULL, err);
    if (rc == 0) {
        char **arr = sl_xcalloc(rows.nrows ? rows.nrows : 1, sizeof(*arr));
        for (size_t i = 0; i < rows.nrows; i++)
            arr[i] = sl_db_get_str0(&rows, i, 0);
        *out = arr;
        *n = rows.nrows;
    }
    sl_db_rows_release(&rows);
    return rc;
}

int sl_store_flag_segment_list(struct sl_store *st, int64_t project_id,
                               struct sl_store_flag_segment **out, size_t *n, struct sl_error *err)
{
    struct db_rows rows = {0};
    struct db_value v[] = {db_int(project_id), db_int(SL_STORE_FLAG_SEGMENTS_MAX)};
    int rc = sl_db_run(st, false,
                       "SELECT segment_id, name, constraints FROM feature_flag_segments WHERE "
                       "project_id = ? ORDER BY segment_id LIMIT ?",
                       v, 2, &rows, NULL, err);
    if (rc == 0) {
        struct sl_store_flag_segment *arr = sl_xcalloc(rows.nrows ? rows.nrows : 1, sizeof(*arr));
        for (size_t i = 0; i < rows.nrows; i++) {
            arr[i].id = sl_db_get_int(&rows, i, 0);
            arr[i].name = sl_db_get_str0(&rows, i, 1);
            arr[i].constraints = sl_db_get_str0(&rows, i, 2);
        }
        *out = arr;
        *n = rows.nrows;
    }
    sl_db_rows_release(&rows);
    return rc;
}

/* Creates flag F or gives it F's attributes (and takes it out of the archive); *id gets its
 * id. */
static int flag_upsert(struct tx *t, int64_t project_id, const struct sl_store_flag *f, int64_t now,
                       int64_t *id, struct sl_error *err)
{
    struct db_rows rows = {0};
    struct db_value v[] = {db_int(project_id),
                           db_text(f->name),
                           db_text(f->description ? f->description : ""),
                           db_text(f->type ? f->type : "release"),
                           db_int(f->stale),
                           db_int(f->impression_data),
                           db_text(f->dependencies ? f->dependencies : "[]"),
                           db_text(f->tags ? f->tags : "[]"),
                           db_int(now),
                           db_int(now)};
    int rc =
        sl_db_exec(&t->dc,
                   "INSERT INTO feature_flags (project_id, name, description, type, stale, "
                   "impression_data, dependencies, tags, created_at, updated_at) VALUES (?, ?, "
                   "?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (project_id, name) DO UPDATE SET "
                   "description = excluded.description, type = excluded.type, stale = "
                   "excluded.stale, archived = 0, impression_data = excluded.impression_data, "
                   "dependencies = excluded.dependencies, tags = excluded.tags, updated_at = "
                   "excluded.updated_at RETURNING id",
                   v, SL_ARRAY_LEN(v), &rows, NULL, err);
    if (rc == 0)
        *id = sl_db_get_int(&rows, 0, 0);
    sl_db_rows_release(&rows);
    return rc;
}

int sl_store_flag_state_replace(struct sl_store *st, int64_t project_id, const char *environment,
                                const struct sl_store_flag *flags,
                                const struct sl_store_flag_env *envs, size_t nflags,
                                const struct sl_store_flag_segment *segs, size_t nsegs,
                                const struct sl_store_flag_actor *by, int64_t now,
                                struct sl_error *err)
{
    struct tx t;
    int rc;

    if ((rc = check_name(environment, "an environment name", err)) < 0 ||
        (rc = check_actor(by, err)) < 0)
        return rc;
    if (nflags > SL_STORE_FLAGS_MAX || nsegs > SL_STORE_FLAG_SEGMENTS_MAX)
        return sl_error_set(err, SL_ELIMIT, "a state holds at most %d flags and %d segments",
                            SL_STORE_FLAGS_MAX, SL_STORE_FLAG_SEGMENTS_MAX);
    for (size_t i = 0; i < nflags; i++) {
        struct sl_store_flag_env e = envs[i];
        e.environment = (char *)environment;
        if ((rc = check_flag(&flags[i], err)) < 0 || (rc = check_env(&e, err)) < 0)
            return rc;
    }
    for (size_t i = 0; i < nsegs; i++)
        if ((rc = sl_db_check_text(segs[i].name, false, "segment name", err)) < 0 ||
            (rc = check_array(segs[i].constraints, "segment constraints", err)) < 0)
            return rc;
    if ((rc = tx_begin(st, &t, err)) < 0)
        return rc;
    /* the revision first: it also proves the project exists before anything is written */
    if ((rc = record(&t, project_id, NULL, environment, by, now, err)) < 0)
        goto out;
    for (size_t i = 0; i < nsegs; i++) {
        struct db_value v[] = {
            db_int(project_id), db_int(segs[i].id), db_text(segs[i].name ? segs[i].name : ""),
            db_text(segs[i].constraints ? segs[i].constraints : "[]"), db_int(now)};
        rc = sl_db_exec(&t.dc,
                        "INSERT INTO feature_flag_segments (project_id, segment_id, name, "
                        "constraints, updated_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (project_id, "
                        "segment_id) DO UPDATE SET name = excluded.name, constraints = "
                        "excluded.constraints, updated_at = excluded.updated_at",
                        v, SL_ARRAY_LEN(v), NULL, NULL, err);
        if (rc < 0)
            goto out;
    }
    struct db_value dv[] = {db_int(now), db_text(environment), db_int(project_id)};
    rc =
        sl_db_exec(&t.dc,
                   "UPDATE feature_flag_envs SET enabled = 0, updated_at = ? WHERE environment = ? "
                   "AND flag_id IN (SELECT id FROM feature_flags WHERE project_id = ?)",
                   dv, SL_ARRAY_LEN(dv), NULL, NULL, err);
    for (size_t i = 0; rc == 0 && i < nflags; i++) {
        int64_t id = 0;
        struct sl_store_flag_env e = envs[i];
        e.environment = (char *)environment;
        if ((rc = flag_upsert(&t, project_id, &flags[i], now, &id, err)) == 0)
            rc = env_upsert(&t, id, &e, now, err);
    }
out:
    return tx_end(&t, rc, err);
}

int sl_store_flag_revision(struct sl_store *st, int64_t project_id, int64_t *out,
                           struct sl_error *err)
{
    struct db_rows rows = {0};
    struct db_value v = db_int(project_id);
    int rc =
        sl_db_run(st, false, "SELECT revision FROM feature_flag_revisions WHERE project_id = ?", &v,
                  1, &rows, NULL, err);
    if (rc == 0)
        *out = rows.nrows ? sl_db_get_int(&rows, 0, 0) : 0;
    sl_db_rows_release(&rows);
    return rc;
}

int sl_store_flag_change_list(struct sl_store *st, int64_t project_id, const char *name,
                              const struct sl_store_page *page, struct sl_store_flag_change **out,
                              size_t *n, struct sl_error *err)
{
    struct db_rows rows = {0};
    struct db_value v[4];
    size_t nv = 0;
    v[nv++] = db_int(project_id);
    v[nv++] = db_int(page && page->after > 0 ? page->after : INT64_MAX);
    if (name)
        v[nv++] = db_text(name);
    v[nv++] = db_int(sl_db_page_limit(page));
    int rc =
        sl_db_run(st, false,
                  name ? "SELECT " CHANGE_COLS " FROM feature_flag_changes WHERE project_id = ? "
                         "AND id < ? AND flag = ? ORDER BY id DESC LIMIT ?"
                       : "SELECT " CHANGE_COLS " FROM feature_flag_changes WHERE project_id = ? "
                         "AND id < ? ORDER BY id DESC LIMIT ?",
                  v, nv, &rows, NULL, err);
    if (rc == 0) {
        struct sl_store_flag_change *arr = sl_xcalloc(rows.nrows ? rows.nrows : 1, sizeof(*arr));
        for (size_t i = 0; i < rows.nrows; i++) {
            arr[i].id = sl_db_get_int(&rows, i, 0);
            arr[i].project_id = sl_db_get_int(&rows, i, 1);
            arr[i].flag = sl_db_get_str0(&rows, i, 2);
            arr[i].environment = sl_db_get_str0(&rows, i, 3);
            arr[i].at = sl_db_get_int(&rows, i, 4);
            arr[i].actor = sl_db_get_str0(&rows, i, 5);
            arr[i].action = sl_db_get_str0(&rows, i, 6);
            arr[i].detail = sl_db_get_str0(&rows, i, 7);
            arr[i].pipeline_id = sl_db_get_int(&rows, i, 8);
            arr[i].job_id = sl_db_get_int(&rows, i, 9);
        }
        *out = arr;
        *n = rows.nrows;
    }
    sl_db_rows_release(&rows);
    return rc;
}

/* ---- Unleash tokens ---- */

void sl_store_flag_token_release(struct sl_store_flag_token *t)
{
    if (!t)
        return;
    free(t->environment);
    free(t->type);
    free(t->name);
    free(t->allowed_origins);
    *t = (struct sl_store_flag_token){0};
}

void sl_store_flag_tokens_free(struct sl_store_flag_token *arr, size_t n)
{
    for (size_t i = 0; i < n; i++)
        sl_store_flag_token_release(&arr[i]);
    free(arr);
}

static void read_ftoken(const struct db_rows *r, size_t i, struct sl_store_flag_token *t)
{
    t->id = sl_db_get_int(r, i, 0);
    t->project_id = sl_db_get_int(r, i, 1);
    t->environment = sl_db_get_str0(r, i, 2);
    t->type = sl_db_get_str0(r, i, 3);
    t->name = sl_db_get_str0(r, i, 4);
    t->allowed_origins = sl_db_get_str0(r, i, 5);
    t->created_at = sl_db_get_int(r, i, 6);
    t->last_used_at = sl_db_get_int(r, i, 7);
    t->revoked = sl_db_get_int(r, i, 8) != 0;
}

int sl_store_flag_token_create(struct sl_store *st, const struct sl_store_flag_token *t,
                               const char *project_name, int64_t now, char **secret_out,
                               int64_t *id_out, struct sl_error *err)
{
    struct db_rows rows = {0};
    unsigned char raw[32];
    char hex[65], hash[DB_TOKEN_HASH_HEX + 1];
    int rc;

    if ((rc = check_name(t->environment, "an environment name", err)) < 0 ||
        (rc = check_name(project_name, "a project name", err)) < 0 ||
        (rc = sl_db_check_text(t->name, false, "token name", err)) < 0 ||
        (rc = check_array(t->allowed_origins, "allowed_origins", err)) < 0)
        return rc;
    if (!t->type || (!sl_streq(t->type, "client") && !sl_streq(t->type, "frontend")))
        return sl_error_set(err, SL_EINVAL, "a token's type is client or frontend");
    randombytes_buf(raw, sizeof(raw));
    sodium_bin2hex(hex, sizeof(hex), raw, sizeof(raw));
    char *secret = sl_xasprintf("%s:%s.%s", project_name, t->environment, hex);
    sl_db_token_hash(secret, hash);
    struct db_value v[] = {db_int(t->project_id),
                           db_text(t->environment),
                           db_text(t->type),
                           db_text(t->name ? t->name : ""),
                           db_text(hash),
                           db_text(t->allowed_origins ? t->allowed_origins : "[]"),
                           db_int(now)};
    rc = sl_db_run(
        st, true,
        "INSERT INTO feature_flag_tokens (project_id, environment, type, name, token_hash, "
        "allowed_origins, created_at) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
        v, SL_ARRAY_LEN(v), &rows, NULL, err);
    if (rc == SL_ENOENT)
        rc = sl_error_set(err, SL_ENOENT, "project %" PRId64 " does not exist", t->project_id);
    if (rc == 0) {
        if (id_out)
            *id_out = sl_db_get_int(&rows, 0, 0);
        *secret_out = secret;
        secret = NULL;
    }
    if (secret) {
        sodium_memzero(secret, strlen(secret));
        free(secret);
    }
    sodium_memzero(raw, sizeof(raw));
    sodium_memzero(hex, sizeof(hex));
    sl_db_rows_release(&rows);
    return rc;
}

int sl_store_flag_token_verify(struct sl_store *st, const char *secret, int64_t now,
                               struct sl_store_flag_token *out, struct sl_error *err)
{
    struct db_rows rows = {0};
    char hash[DB_TOKEN_HASH_HEX + 1];
    int rc;

    /* `<project>:<environment>.<64 hex>`: anything else is not one of ours */
    size_t len = secret ? strlen(secret) : 0;
    if (len < 67 || len > 2 * SL_STORE_FLAG_NAME_MAX + 66 || secret[len - 65] != '.' ||
        !strchr(secret, ':'))
        return sl_error_set(err, SL_ENOENT, "invalid token");
    sl_db_token_hash(secret, hash);
    struct db_value hv = db_text(hash);
    rc = sl_db_run(st, false,
                   "SELECT " FTOKEN_COLS
                   ", token_hash FROM feature_flag_tokens WHERE token_hash = ?",
                   &hv, 1, &rows, NULL, err);
    if (rc < 0)
        goto out;
    const struct sl_db_cell *c = rows.nrows ? sl_db_cell(&rows, 0, 9) : NULL;
    if (!c || !c->data || c->len != DB_TOKEN_HASH_HEX ||
        sodium_memcmp(c->data, hash, DB_TOKEN_HASH_HEX) != 0 || sl_db_get_int(&rows, 0, 8) != 0) {
        rc = sl_error_set(err, SL_ENOENT, "invalid token");
        goto out;
    }
    int64_t id = sl_db_get_int(&rows, 0, 0), last = sl_db_get_int(&rows, 0, 7);
    if (now - last >= LAST_USED_GRANULARITY_MS) {
        struct db_value v[] = {db_int(now), db_int(id)};
        if ((rc =
                 sl_db_run(st, true, "UPDATE feature_flag_tokens SET last_used_at = ? WHERE id = ?",
                           v, 2, NULL, NULL, err)) < 0)
            goto out;
    }
    if (out) {
        *out = (struct sl_store_flag_token){0};
        read_ftoken(&rows, 0, out);
    }
out:
    sl_db_rows_release(&rows);
    return rc;
}

int sl_store_flag_token_list(struct sl_store *st, int64_t project_id,
                             struct sl_store_flag_token **out, size_t *n, struct sl_error *err)
{
    struct db_rows rows = {0};
    struct db_value v[] = {db_int(project_id), db_int(SL_STORE_LIST_MAX)};
    int rc = sl_db_run(st, false,
                       "SELECT " FTOKEN_COLS " FROM feature_flag_tokens WHERE project_id = ? AND "
                       "revoked = 0 ORDER BY id LIMIT ?",
                       v, 2, &rows, NULL, err);
    if (rc == 0)
        SL_DB_READ_ALL(&rows, read_ftoken, out, n);
    sl_db_rows_release(&rows);
    return rc;
}

int sl_store_flag_token_revoke(struct sl_store *st, int64_t project_id, int64_t id,
                               struct sl_error *err)
{
    int64_t changed = 0;
    struct db_value v[] = {db_int(project_id), db_int(id)};
    int rc = sl_db_run(st, true,
                       "UPDATE feature_flag_tokens SET revoked = 1 WHERE project_id = ? AND id = ? "
                       "AND revoked = 0",
                       v, 2, NULL, &changed, err);
    if (rc == 0 && changed == 0)
        rc = sl_error_set(err, SL_ENOENT, "no feature flag token %" PRId64, id);
    return rc;
}

/* ---- GitLab instance ids ---- */

int sl_store_flag_instance_id(struct sl_store *st, int64_t project_id, bool reset, int64_t now,
                              char **out, struct sl_error *err)
{
    struct db_rows rows = {0};
    struct db_value pv = db_int(project_id);
    int rc;

    if (!reset) {
        rc = sl_db_run(st, false,
                       "SELECT instance_id FROM feature_flag_instances WHERE project_id = ?", &pv,
                       1, &rows, NULL, err);
        if (rc == 0 && rows.nrows) {
            *out = sl_db_get_str0(&rows, 0, 0);
            sl_db_rows_release(&rows);
            return 0;
        }
        sl_db_rows_release(&rows);
        if (rc < 0)
            return rc;
    }
    /* GitLab's instance ids are "glffct-" and 20 random characters */
    unsigned char raw[10];
    char hex[21];
    randombytes_buf(raw, sizeof(raw));
    sodium_bin2hex(hex, sizeof(hex), raw, sizeof(raw));
    char *id = sl_xasprintf("glffct-%s", hex);
    struct db_value v[] = {db_int(project_id), db_text(id), db_int(now)};
    rc =
        sl_db_run(st, true,
                  "INSERT INTO feature_flag_instances (project_id, instance_id, created_at) VALUES "
                  "(?, ?, ?) ON CONFLICT (project_id) DO UPDATE SET instance_id = "
                  "excluded.instance_id, created_at = excluded.created_at",
                  v, SL_ARRAY_LEN(v), NULL, NULL, err);
    if (rc == SL_ENOENT)
        rc = sl_error_set(err, SL_ENOENT, "project %" PRId64 " does not exist", project_id);
    if (rc == 0)
        *out = id;
    else
        free(id);
    return rc;
}

int sl_store_flag_instance_project(struct sl_store *st, const char *instance_id,
                                   int64_t *project_id, struct sl_error *err)
{
    struct db_rows rows = {0};
    if (!instance_id || strlen(instance_id) > 64)
        return sl_error_set(err, SL_ENOENT, "unknown instance id");
    struct db_value v = db_text(instance_id);
    int rc =
        sl_db_run(st, false, "SELECT project_id FROM feature_flag_instances WHERE instance_id = ?",
                  &v, 1, &rows, NULL, err);
    if (rc == 0 && rows.nrows == 0)
        rc = sl_error_set(err, SL_ENOENT, "unknown instance id");
    if (rc == 0)
        *project_id = sl_db_get_int(&rows, 0, 0);
    sl_db_rows_release(&rows);
    return rc;
}
