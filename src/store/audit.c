/* sl_audit.c: the sl_audit trail (who did what, from where). */
#include "base/compat.h"
#include "base/alloc.h"
#include "store/backend.h"

#define AUDIT_COLS "id, at, actor, action, target, detail, remote_addr"

void sl_store_audit_release(struct sl_store_audit *a)
{
    if (!a)
        return;
    free(a->actor);
    free(a->action);
    free(a->target);
    free(a->detail);
    free(a->remote_addr);
    *a = (struct sl_store_audit){0};
}

void sl_store_audits_free(struct sl_store_audit *arr, size_t n)
{
    for (size_t i = 0; i < n; i++)
        sl_store_audit_release(&arr[i]);
    free(arr);
}

int sl_store_audit_add(struct sl_store *st, const struct sl_store_audit *a, int64_t *id_out,
                       struct sl_error *err)
{
    struct db_rows rows = {0};
    int rc;

    if ((rc = sl_db_check_text(a->actor, true, "audit actor", err)) < 0 ||
        (rc = sl_db_check_text(a->action, true, "audit action", err)) < 0 ||
        (rc = sl_db_check_text(a->target, false, "audit target", err)) < 0 ||
        (rc = sl_db_check_text(a->detail, false, "audit detail", err)) < 0 ||
        (rc = sl_db_check_text(a->remote_addr, false, "remote address", err)) < 0)
        return rc;
    struct db_value v[] = {
        db_int(a->at),
        db_text(a->actor),
        db_text(a->action),
        db_text(a->target ? a->target : ""),
        db_text(a->detail ? a->detail : "{}"),
        db_text(a->remote_addr ? a->remote_addr : ""),
    };
    rc = sl_db_run(st, true,
                   "INSERT INTO audit_events (at, actor, action, target, detail, remote_addr) "
                   "VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
                   v, SL_ARRAY_LEN(v), &rows, NULL, err);
    if (rc == 0 && id_out)
        *id_out = sl_db_get_int(&rows, 0, 0);
    sl_db_rows_release(&rows);
    return rc;
}

int sl_store_audit_list(struct sl_store *st, const struct sl_store_page *page,
                        const struct sl_store_audit_filter *f, struct sl_store_audit **out,
                        size_t *n, struct sl_error *err)
{
    static const struct sl_store_audit_filter none = {0};
    struct db_rows rows = {0};
    int rc;

    if (!f)
        f = &none;
    if ((rc = sl_db_check_text(f->action, false, "action", err)) < 0 ||
        (rc = sl_db_check_text(f->actor, false, "actor", err)) < 0)
        return rc;
    /* the filters are ANDed; the scan walks ids down from AFTER (the primary key) */
    char sql[256];
    struct db_value v[6];
    size_t nv = 0;
    int len = snprintf(sql, sizeof(sql), "SELECT " AUDIT_COLS " FROM audit_events WHERE id < ?");
    v[nv++] = db_int(page && page->after > 0 ? page->after : INT64_MAX);
    if (f->action) {
        len += snprintf(sql + len, sizeof(sql) - (size_t)len, " AND action = ?");
        v[nv++] = db_text(f->action);
    }
    if (f->actor) {
        len += snprintf(sql + len, sizeof(sql) - (size_t)len, " AND actor = ?");
        v[nv++] = db_text(f->actor);
    }
    if (f->since) {
        len += snprintf(sql + len, sizeof(sql) - (size_t)len, " AND at >= ?");
        v[nv++] = db_int(f->since);
    }
    if (f->until) {
        len += snprintf(sql + len, sizeof(sql) - (size_t)len, " AND at < ?");
        v[nv++] = db_int(f->until);
    }
    snprintf(sql + len, sizeof(sql) - (size_t)len, " ORDER BY id DESC LIMIT ?");
    v[nv++] = db_int(sl_db_page_limit(page));
    rc = sl_db_run(st, false, sql, v, nv, &rows, NULL, err);
    if (rc == 0) {
        struct sl_store_audit *arr = sl_xcalloc(rows.nrows ? rows.nrows : 1, sizeof(*arr));
        for (size_t i = 0; i < rows.nrows; i++) {
            arr[i].id = sl_db_get_int(&rows, i, 0);
            arr[i].at = sl_db_get_int(&rows, i, 1);
            arr[i].actor = sl_db_get_str0(&rows, i, 2);
            arr[i].action = sl_db_get_str0(&rows, i, 3);
            arr[i].target = sl_db_get_str0(&rows, i, 4);
            arr[i].detail = sl_db_get_str0(&rows, i, 5);
            arr[i].remote_addr = sl_db_get_str0(&rows, i, 6);
        }
        *out = arr;
        *n = rows.nrows;
    }
    sl_db_rows_release(&rows);
    return rc;
}
