/* protected_refs.c: the protected branches and tags of projects. Which ref a row covers
 * (wildcards) is decided by the server with plan/scope.h; this file only keeps the rows. */
#include "base/compat.h"
#include "base/alloc.h"
#include "store/backend.h"

#define REF_COLS "id, project_id, kind, name, created_at"

static const char *kind_of(bool tag)
{
    return tag ? "tag" : "branch";
}

void sl_store_protected_ref_release(struct sl_store_protected_ref *p)
{
    if (!p)
        return;
    free(p->name);
    *p = (struct sl_store_protected_ref){0};
}

void sl_store_protected_refs_free(struct sl_store_protected_ref *arr, size_t n)
{
    for (size_t i = 0; i < n; i++)
        sl_store_protected_ref_release(&arr[i]);
    free(arr);
}

static void read_row(const struct db_rows *rows, size_t i, struct sl_store_protected_ref *out)
{
    out->id = sl_db_get_int(rows, i, 0);
    out->project_id = sl_db_get_int(rows, i, 1);
    const struct sl_db_cell *kind = sl_db_cell(rows, i, 2);
    out->tag = kind && kind->data && !strcmp(kind->data, "tag");
    out->name = sl_db_get_str0(rows, i, 3);
    out->created_at = sl_db_get_int(rows, i, 4);
}

int sl_store_protected_ref_create(struct sl_store *st, const struct sl_store_protected_ref *p,
                                  int64_t now, int64_t *id_out, struct sl_error *err)
{
    struct db_rows rows = {0};
    int rc;

    if ((rc = sl_db_check_text(p->name, true, "protected ref name", err)) < 0)
        return rc;
    if (!*p->name)
        return sl_error_set(err, SL_EINVAL, "name is missing");
    struct db_value v[] = {db_int(p->project_id), db_text(kind_of(p->tag)), db_text(p->name),
                           db_int(now)};
    rc = sl_db_run(st, true,
                   "INSERT INTO protected_refs (project_id, kind, name, created_at) "
                   "VALUES (?, ?, ?, ?) RETURNING id",
                   v, SL_ARRAY_LEN(v), &rows, NULL, err);
    if (rc == SL_EEXISTS)
        rc = sl_error_set(err, SL_EEXISTS, "Protected %s '%s' already exists", kind_of(p->tag),
                          p->name);
    if (rc == 0 && id_out)
        *id_out = sl_db_get_int(&rows, 0, 0);
    sl_db_rows_release(&rows);
    return rc;
}

int sl_store_protected_ref_list(struct sl_store *st, int64_t project_id, bool tag,
                                struct sl_store_protected_ref **out, size_t *n,
                                struct sl_error *err)
{
    struct db_rows rows = {0};
    struct db_value v[] = {db_int(project_id), db_text(kind_of(tag)), db_int(SL_STORE_LIST_MAX)};
    int rc = sl_db_run(st, false,
                       "SELECT " REF_COLS " FROM protected_refs WHERE project_id = ? AND kind = ? "
                       "ORDER BY name LIMIT ?",
                       v, SL_ARRAY_LEN(v), &rows, NULL, err);
    if (rc == 0)
        SL_DB_READ_ALL(&rows, read_row, out, n);
    sl_db_rows_release(&rows);
    return rc;
}

static int not_protected(struct sl_error *err, bool tag, const char *name)
{
    return sl_error_set(err, SL_ENOENT, "%s '%s' is not protected", tag ? "tag" : "branch", name);
}

int sl_store_protected_ref_get(struct sl_store *st, int64_t project_id, bool tag, const char *name,
                               struct sl_store_protected_ref *out, struct sl_error *err)
{
    struct db_rows rows = {0};
    struct db_value v[] = {db_int(project_id), db_text(kind_of(tag)), db_text(name)};
    int rc = sl_db_run(st, false,
                       "SELECT " REF_COLS " FROM protected_refs WHERE project_id = ? AND kind = ? "
                       "AND name = ?",
                       v, SL_ARRAY_LEN(v), &rows, NULL, err);
    if (rc == 0 && rows.nrows == 0)
        rc = not_protected(err, tag, name);
    else if (rc == 0)
        read_row(&rows, 0, out);
    sl_db_rows_release(&rows);
    return rc;
}

int sl_store_protected_ref_delete(struct sl_store *st, int64_t project_id, bool tag,
                                  const char *name, struct sl_error *err)
{
    int64_t changes = 0;
    struct db_value v[] = {db_int(project_id), db_text(kind_of(tag)), db_text(name)};
    int rc = sl_db_run(st, true,
                       "DELETE FROM protected_refs WHERE project_id = ? AND kind = ? AND name = ?",
                       v, SL_ARRAY_LEN(v), NULL, &changes, err);
    if (rc == 0 && changes == 0)
        rc = not_protected(err, tag, name);
    return rc;
}
