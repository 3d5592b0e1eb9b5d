/* variables.c: CI/CD variables of the instance and of projects, values sealed (seal.c).
 *
 * The instance's variables have project_id NULL; the unique index treats that as 0, so a
 * key is unique per owner and environment scope, as in GitLab. */
#include "base/compat.h"
#include "base/alloc.h"
#include "store/backend.h"

#include <sodium.h>

#define VAR_COLS                                                                                   \
    "id, COALESCE(project_id, 0), key, variable_type, protected, masked, hidden, raw, "            \
    "environment_scope, description, created_at, updated_at, value_sealed"
/* project_id = ? treats 0 as the instance */
#define OWNER "COALESCE(project_id, 0) = ?"

void sl_store_variable_release(struct sl_store_variable *v)
{
    if (!v)
        return;
    free(v->key);
    if (v->value) {
        sodium_memzero(v->value, strlen(v->value));
        free(v->value);
    }
    free(v->variable_type);
    free(v->environment_scope);
    free(v->description);
    *v = (struct sl_store_variable){0};
}

void sl_store_variables_free(struct sl_store_variable *arr, size_t n)
{
    for (size_t i = 0; i < n; i++)
        sl_store_variable_release(&arr[i]);
    free(arr);
}

static int need_key(struct sl_store *st, struct sl_error *err)
{
    if (!sl_db_seal_key(st))
        return sl_error_set(err, SL_EINVAL, "the store has no secrets key: variables are sealed");
    return 0;
}

static int read_var(struct sl_store *st, const struct db_rows *r, size_t row, bool with_value,
                    struct sl_store_variable *v, struct sl_error *err)
{
    *v = (struct sl_store_variable){0};
    v->id = sl_db_get_int(r, row, 0);
    v->project_id = sl_db_get_int(r, row, 1);
    v->key = sl_db_get_str0(r, row, 2);
    v->variable_type = sl_db_get_str0(r, row, 3);
    v->protected_ = sl_db_get_int(r, row, 4) != 0;
    v->masked = sl_db_get_int(r, row, 5) != 0;
    v->hidden = sl_db_get_int(r, row, 6) != 0;
    v->raw = sl_db_get_int(r, row, 7) != 0;
    v->environment_scope = sl_db_get_str0(r, row, 8);
    v->description = sl_db_get_str0(r, row, 9);
    v->created_at = sl_db_get_int(r, row, 10);
    v->updated_at = sl_db_get_int(r, row, 11);
    if (!with_value)
        return 0;
    int rc = need_key(st, err);
    if (rc == 0)
        rc =
            sl_db_unseal(sl_db_seal_key(st), v->project_id, sl_db_cell(r, row, 12), &v->value, err);
    if (rc < 0)
        sl_store_variable_release(v);
    return rc;
}

static int check(const struct sl_store_variable *v, bool need_value, struct sl_error *err)
{
    int rc;
    if (!v->key || !*v->key || strlen(v->key) > SL_STORE_VARIABLE_KEY_MAX)
        return sl_error_set(err, SL_EINVAL, "a variable key is 1 to %d bytes",
                            SL_STORE_VARIABLE_KEY_MAX);
    if (need_value && !v->value)
        return sl_error_set(err, SL_EINVAL, "a variable needs a value");
    if (v->value && strlen(v->value) > SL_STORE_VARIABLE_VALUE_MAX)
        return sl_error_set(err, SL_ELIMIT, "a variable's value is limited to %d bytes",
                            SL_STORE_VARIABLE_VALUE_MAX);
    if ((rc = sl_db_check_text(v->environment_scope, false, "environment_scope", err)) < 0 ||
        (rc = sl_db_check_text(v->description, false, "description", err)) < 0)
        return rc;
    return 0;
}

int sl_store_variable_create(struct sl_store *st, const struct sl_store_variable *v, int64_t now,
                             int64_t *id_out, struct sl_error *err)
{
    struct db_rows rows = {0};
    unsigned char *sealed = NULL;
    size_t slen = 0;
    int rc;

    if ((rc = check(v, true, err)) < 0 || (rc = need_key(st, err)) < 0)
        return rc;
    sl_db_seal(sl_db_seal_key(st), v->project_id, v->value, strlen(v->value), &sealed, &slen);
    struct db_value p[] = {
        db_int_or_null(v->project_id),
        db_text(v->key),
        db_blob(sealed, slen),
        db_text(v->variable_type ? v->variable_type : "env_var"),
        db_int(v->protected_),
        db_int(v->masked || v->hidden),
        db_int(v->hidden),
        db_int(v->raw),
        db_text(v->environment_scope ? v->environment_scope : "*"),
        db_text(v->description ? v->description : ""),
        db_int(now),
        db_int(now),
    };
    rc =
        sl_db_run(st, true,
                  "INSERT INTO variables (project_id, key, value_sealed, variable_type, protected, "
                  "masked, hidden, raw, environment_scope, description, created_at, updated_at) "
                  "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                  p, SL_ARRAY_LEN(p), &rows, NULL, err);
    if (rc == 0 && id_out)
        *id_out = sl_db_get_int(&rows, 0, 0);
    free(sealed);
    sl_db_rows_release(&rows);
    return rc;
}

/* The id of KEY of PROJECT_ID in SCOPE (NULL: the only row of that key). */
static int find(struct sl_store *st, int64_t project_id, const char *key, const char *scope,
                bool with_value, struct sl_store_variable *out, struct sl_error *err)
{
    struct db_rows rows = {0};
    int rc;
    struct db_value p[] = {db_int(project_id), db_text(key), db_text(scope)};
    rc = sl_db_run(st, false,
                   scope ? "SELECT " VAR_COLS " FROM variables WHERE " OWNER
                           " AND key = ? AND environment_scope = ?"
                         : "SELECT " VAR_COLS " FROM variables WHERE " OWNER " AND key = ? LIMIT 2",
                   p, scope ? 3 : 2, &rows, NULL, err);
    if (rc < 0)
        goto out;
    if (rows.nrows == 0)
        rc = sl_error_set(err, SL_ENOENT, "variable %s does not exist", key);
    else if (rows.nrows > 1)
        rc = sl_error_set(err, SL_EINVAL,
                          "variable %s exists in several environment scopes: say which with "
                          "filter[environment_scope]",
                          key);
    else
        rc = read_var(st, &rows, 0, with_value, out, err);
out:
    sl_db_rows_release(&rows);
    return rc;
}

int sl_store_variable_get(struct sl_store *st, int64_t project_id, const char *key,
                          const char *scope, bool with_value, struct sl_store_variable *out,
                          struct sl_error *err)
{
    return find(st, project_id, key, scope, with_value, out, err);
}

int sl_store_variable_update(struct sl_store *st, const struct sl_store_variable *v,
                             const char *scope, int64_t now, struct sl_error *err)
{
    struct sl_store_variable cur = {0};
    unsigned char *sealed = NULL;
    size_t slen = 0;
    int rc;

    if ((rc = check(v, false, err)) < 0 || (rc = need_key(st, err)) < 0)
        return rc;
    if ((rc = find(st, v->project_id, v->key, scope, false, &cur, err)) < 0)
        return rc;
    if (v->value)
        sl_db_seal(sl_db_seal_key(st), v->project_id, v->value, strlen(v->value), &sealed, &slen);
    struct db_value p[] = {
        db_int(v->value != NULL),
        sealed ? db_blob(sealed, slen) : db_blob("", 0),
        db_text(v->variable_type ? v->variable_type : "env_var"),
        db_int(v->protected_),
        db_int(v->masked || v->hidden),
        db_int(v->hidden),
        db_int(v->raw),
        db_text(v->environment_scope ? v->environment_scope : cur.environment_scope),
        db_text(v->description ? v->description : cur.description),
        db_int(now),
        db_int(cur.id),
    };
    rc = sl_db_run(
        st, true,
        "UPDATE variables SET value_sealed = CASE WHEN ? = 1 THEN ? ELSE value_sealed END, "
        "variable_type = ?, protected = ?, masked = ?, hidden = ?, raw = ?, "
        "environment_scope = ?, description = ?, updated_at = ? WHERE id = ?",
        p, SL_ARRAY_LEN(p), NULL, NULL, err);
    free(sealed);
    sl_store_variable_release(&cur);
    return rc;
}

int sl_store_variable_delete(struct sl_store *st, int64_t project_id, const char *key,
                             const char *scope, struct sl_error *err)
{
    struct sl_store_variable cur = {0};
    int rc = find(st, project_id, key, scope, false, &cur, err);
    if (rc == 0) {
        struct db_value p = db_int(cur.id);
        rc = sl_db_run(st, true, "DELETE FROM variables WHERE id = ?", &p, 1, NULL, NULL, err);
    }
    sl_store_variable_release(&cur);
    return rc;
}

int sl_store_variable_list(struct sl_store *st, int64_t project_id, bool with_value,
                           struct sl_store_variable **out, size_t *n, struct sl_error *err)
{
    struct db_rows rows = {0};
    struct sl_store_variable *arr = NULL;
    size_t got = 0;
    struct db_value p[] = {db_int(project_id), db_int(SL_STORE_VARIABLES_MAX)};
    int rc = sl_db_run(st, false,
                       "SELECT " VAR_COLS " FROM variables WHERE " OWNER
                       " ORDER BY key, environment_scope LIMIT ?",
                       p, SL_ARRAY_LEN(p), &rows, NULL, err);
    if (rc < 0)
        goto out;
    arr = sl_xcalloc(rows.nrows ? rows.nrows : 1, sizeof(*arr));
    for (; got < rows.nrows; got++)
        if ((rc = read_var(st, &rows, got, with_value, &arr[got], err)) < 0)
            goto out;
    *out = arr;
    *n = got;
    arr = NULL;
    got = 0;
out:
    sl_store_variables_free(arr, got);
    sl_db_rows_release(&rows);
    return rc;
}
