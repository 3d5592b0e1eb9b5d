/* deliveries.c: forge connections, notification rules and the delivery queue (store.h).
 * Building and sending what is queued is the server's (server/delivery.c); this file keeps
 * the rows, and the tokens and secrets only sealed. */
#include "base/compat.h"
#include "base/alloc.h"
#include "store/backend.h"

#include <sodium.h>

#define FORGE_COLS                                                                                 \
    "project_id, kind, api_url, repository, token_sealed, per_job, created_at, updated_at"
#define RULE_COLS "id, project_id, channel, target, events, refs, secret_sealed, created_at"
#define DELIVERY_COLS                                                                              \
    "id, project_id, source_id, kind, target, payload, state, attempts, last_error, next_at, "     \
    "created_at, updated_at, delivered_at"

void sl_store_forge_release(struct sl_store_forge *f)
{
    if (!f)
        return;
    free(f->kind);
    free(f->api_url);
    free(f->repository);
    if (f->token) {
        sodium_memzero(f->token, strlen(f->token));
        free(f->token);
    }
    *f = (struct sl_store_forge){0};
}

void sl_store_notify_rule_release(struct sl_store_notify_rule *r)
{
    if (!r)
        return;
    free(r->channel);
    free(r->target);
    free(r->events);
    free(r->refs);
    if (r->secret) {
        sodium_memzero(r->secret, strlen(r->secret));
        free(r->secret);
    }
    *r = (struct sl_store_notify_rule){0};
}

void sl_store_notify_rules_free(struct sl_store_notify_rule *arr, size_t n)
{
    for (size_t i = 0; i < n; i++)
        sl_store_notify_rule_release(&arr[i]);
    free(arr);
}

void sl_store_delivery_release(struct sl_store_delivery *d)
{
    if (!d)
        return;
    free(d->kind);
    free(d->target);
    free(d->payload);
    free(d->state);
    free(d->last_error);
    *d = (struct sl_store_delivery){0};
}

void sl_store_deliveries_free(struct sl_store_delivery *arr, size_t n)
{
    for (size_t i = 0; i < n; i++)
        sl_store_delivery_release(&arr[i]);
    free(arr);
}

/* ---- forge connection ---- */

int sl_store_forge_set(struct sl_store *st, const struct sl_store_forge *f, int64_t now,
                       struct sl_error *err)
{
    const unsigned char *key = sl_db_seal_key(st);
    unsigned char *sealed = NULL;
    size_t slen = 0;
    int rc;
    if ((rc = sl_db_check_text(f->kind, true, "kind", err)) < 0 ||
        (rc = sl_db_check_text(f->api_url, true, "api_url", err)) < 0 ||
        (rc = sl_db_check_text(f->repository, true, "repository", err)) < 0 ||
        (rc = sl_db_check_text(f->token, true, "token", err)) < 0)
        return rc;
    if (!key)
        return sl_error_set(err, SL_EINVAL, "no secrets key: a forge token is only stored sealed");
    sl_db_seal_as(key, "forge", f->project_id, f->token, strlen(f->token), &sealed, &slen);
    struct db_value v[] = {
        db_int(f->project_id), db_text(f->kind),   db_text(f->api_url), db_text(f->repository),
        db_blob(sealed, slen), db_int(f->per_job), db_int(now),         db_int(now)};
    rc = sl_db_run(st, true,
                   "INSERT INTO forge_connections (" FORGE_COLS ") VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                   "ON CONFLICT (project_id) DO UPDATE SET kind = excluded.kind, api_url = "
                   "excluded.api_url, repository = excluded.repository, token_sealed = "
                   "excluded.token_sealed, per_job = excluded.per_job, updated_at = "
                   "excluded.updated_at",
                   v, SL_ARRAY_LEN(v), NULL, NULL, err);
    free(sealed);
    return rc;
}

int sl_store_forge_get(struct sl_store *st, int64_t project_id, bool with_token,
                       struct sl_store_forge *out, struct sl_error *err)
{
    struct db_rows rows = {0};
    struct db_value v = db_int(project_id);
    struct sl_store_forge f = {0};
    int rc =
        sl_db_run(st, false, "SELECT " FORGE_COLS " FROM forge_connections WHERE project_id = ?",
                  &v, 1, &rows, NULL, err);
    if (rc == 0 && rows.nrows == 0)
        rc =
            sl_error_set(err, SL_ENOENT, "project %" PRId64 " has no forge connection", project_id);
    if (rc < 0)
        goto out;
    f.project_id = sl_db_get_int(&rows, 0, 0);
    f.kind = sl_db_get_str0(&rows, 0, 1);
    f.api_url = sl_db_get_str0(&rows, 0, 2);
    f.repository = sl_db_get_str0(&rows, 0, 3);
    f.per_job = sl_db_get_int(&rows, 0, 5) != 0;
    f.created_at = sl_db_get_int(&rows, 0, 6);
    f.updated_at = sl_db_get_int(&rows, 0, 7);
    if (with_token && (rc = sl_db_unseal_as(sl_db_seal_key(st), "forge", project_id,
                                            sl_db_cell(&rows, 0, 4), &f.token, err)) < 0) {
        sl_store_forge_release(&f);
        goto out;
    }
    *out = f;
out:
    sl_db_rows_release(&rows);
    return rc;
}

int sl_store_forge_delete(struct sl_store *st, int64_t project_id, struct sl_error *err)
{
    int64_t changes = 0;
    struct db_value v = db_int(project_id);
    int rc = sl_db_run(st, true, "DELETE FROM forge_connections WHERE project_id = ?", &v, 1, NULL,
                       &changes, err);
    if (rc == 0 && changes == 0)
        rc =
            sl_error_set(err, SL_ENOENT, "project %" PRId64 " has no forge connection", project_id);
    return rc;
}

/* ---- notification rules ---- */

static int read_rule(struct sl_store *st, const struct db_rows *r, size_t i, bool with_secret,
                     struct sl_store_notify_rule *out, struct sl_error *err)
{
    struct sl_store_notify_rule n = {0};
    n.id = sl_db_get_int(r, i, 0);
    n.project_id = sl_db_get_int(r, i, 1);
    n.channel = sl_db_get_str0(r, i, 2);
    n.target = sl_db_get_str0(r, i, 3);
    n.events = sl_db_get_str0(r, i, 4);
    n.refs = sl_db_get_str0(r, i, 5);
    n.created_at = sl_db_get_int(r, i, 7);
    if (with_secret) {
        int rc = 0;
        if (sl_db_is_null(r, i, 6))
            n.secret = sl_xstrdup("");
        else if ((rc = sl_db_unseal_as(sl_db_seal_key(st), "notify", n.project_id,
                                       sl_db_cell(r, i, 6), &n.secret, err)) < 0) {
            sl_store_notify_rule_release(&n);
            return rc;
        }
    }
    *out = n;
    return 0;
}

int sl_store_notify_rule_create(struct sl_store *st, const struct sl_store_notify_rule *r,
                                int64_t now, int64_t *id_out, struct sl_error *err)
{
    struct db_rows rows = {0};
    unsigned char *sealed = NULL;
    size_t slen = 0;
    int rc;
    bool secret = r->secret && *r->secret;
    if ((rc = sl_db_check_text(r->channel, true, "channel", err)) < 0 ||
        (rc = sl_db_check_text(r->target, true, "target", err)) < 0 ||
        (rc = sl_db_check_text(r->events, true, "events", err)) < 0 ||
        (rc = sl_db_check_text(r->refs, true, "refs", err)) < 0 ||
        (rc = sl_db_check_text(r->secret, false, "secret", err)) < 0)
        return rc;
    if (secret && !sl_db_seal_key(st))
        return sl_error_set(err, SL_EINVAL,
                            "no secrets key: a notification secret is only stored sealed");
    struct db_value pv = db_int(r->project_id);
    if ((rc = sl_db_run(st, false, "SELECT COUNT(*) FROM notification_rules WHERE project_id = ?",
                        &pv, 1, &rows, NULL, err)) < 0)
        goto out;
    if (sl_db_get_int(&rows, 0, 0) >= SL_STORE_NOTIFY_RULES_MAX) {
        rc = sl_error_set(err, SL_ELIMIT, "a project has at most %d notification rules",
                          SL_STORE_NOTIFY_RULES_MAX);
        goto out;
    }
    sl_db_rows_release(&rows);
    if (secret)
        sl_db_seal_as(sl_db_seal_key(st), "notify", r->project_id, r->secret, strlen(r->secret),
                      &sealed, &slen);
    struct db_value v[] = {db_int(r->project_id),
                           db_text(r->channel),
                           db_text(r->target),
                           db_text(r->events),
                           db_text(r->refs),
                           secret ? db_blob(sealed, slen) : db_null(),
                           db_int(now)};
    rc = sl_db_run(st, true,
                   "INSERT INTO notification_rules (project_id, channel, target, events, refs, "
                   "secret_sealed, created_at) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
                   v, SL_ARRAY_LEN(v), &rows, NULL, err);
    if (rc == 0 && id_out)
        *id_out = sl_db_get_int(&rows, 0, 0);
out:
    free(sealed);
    sl_db_rows_release(&rows);
    return rc;
}

int sl_store_notify_rule_list(struct sl_store *st, int64_t project_id, bool with_secrets,
                              struct sl_store_notify_rule **out, size_t *n, struct sl_error *err)
{
    struct db_rows rows = {0};
    struct db_value v[] = {db_int(project_id), db_int(SL_STORE_NOTIFY_RULES_MAX)};
    int rc = sl_db_run(st, false,
                       "SELECT " RULE_COLS " FROM notification_rules WHERE project_id = ? ORDER BY "
                       "id LIMIT ?",
                       v, SL_ARRAY_LEN(v), &rows, NULL, err);
    struct sl_store_notify_rule *arr = NULL;
    size_t got = 0;
    if (rc == 0) {
        arr = sl_xcalloc(rows.nrows ? rows.nrows : 1, sizeof(*arr));
        for (; rc == 0 && got < rows.nrows; got++)
            if ((rc = read_rule(st, &rows, got, with_secrets, &arr[got], err)) < 0)
                break;
    }
    if (rc == 0) {
        *out = arr;
        *n = got;
    } else {
        sl_store_notify_rules_free(arr, got);
    }
    sl_db_rows_release(&rows);
    return rc;
}

int sl_store_notify_rule_get(struct sl_store *st, int64_t id, bool with_secret,
                             struct sl_store_notify_rule *out, struct sl_error *err)
{
    struct db_rows rows = {0};
    struct db_value v = db_int(id);
    int rc = sl_db_run(st, false, "SELECT " RULE_COLS " FROM notification_rules WHERE id = ?", &v,
                       1, &rows, NULL, err);
    if (rc == 0 && rows.nrows == 0)
        rc = sl_error_set(err, SL_ENOENT, "notification rule %" PRId64 " does not exist", id);
    else if (rc == 0)
        rc = read_rule(st, &rows, 0, with_secret, out, err);
    sl_db_rows_release(&rows);
    return rc;
}

int sl_store_notify_rule_delete(struct sl_store *st, int64_t project_id, int64_t id,
                                struct sl_error *err)
{
    int64_t changes = 0;
    struct db_value v[] = {db_int(id), db_int(project_id)};
    int rc = sl_db_run(st, true, "DELETE FROM notification_rules WHERE id = ? AND project_id = ?",
                       v, SL_ARRAY_LEN(v), NULL, &changes, err);
    if (rc == 0 && changes == 0)
        rc = sl_error_set(err, SL_ENOENT, "notification rule %" PRId64 " does not exist", id);
    return rc;
}

/* ---- deliveries ---- */

static void read_delivery(const struct db_rows *r, size_t i, struct sl_store_delivery *d)
{
    d->id = sl_db_get_int(r, i, 0);
    d->project_id = sl_db_get_int(r, i, 1);
    d->source_id = sl_db_get_int(r, i, 2);
    d->kind = sl_db_get_str0(r, i, 3);
    d->target = sl_db_get_str0(r, i, 4);
    d->payload = sl_db_get_str0(r, i, 5);
    d->state = sl_db_get_str0(r, i, 6);
    d->attempts = (int)sl_db_get_int(r, i, 7);
    d->last_error = sl_db_get_str(r, i, 8);
    d->next_at = sl_db_get_int(r, i, 9);
    d->created_at = sl_db_get_int(r, i, 10);
    d->updated_at = sl_db_get_int(r, i, 11);
    d->delivered_at = sl_db_get_int(r, i, 12);
}

int sl_store_delivery_add(struct sl_store *st, const struct sl_store_delivery *d, int64_t now,
                          int64_t *id_out, struct sl_error *err)
{
    struct db_rows rows = {0};
    int rc;
    if ((rc = sl_db_check_text(d->kind, true, "kind", err)) < 0 ||
        (rc = sl_db_check_text(d->target, true, "target", err)) < 0 ||
        (rc = sl_db_check_text(d->payload, true, "payload", err)) < 0)
        return rc;
    struct db_value v[] = {db_int(d->project_id), db_int(d->source_id), db_text(d->kind),
                           db_text(d->target),    db_text(d->payload),  db_int(now),
                           db_int(now),           db_int(now)};
    rc =
        sl_db_run(st, true,
                  "INSERT INTO deliveries (project_id, source_id, kind, target, payload, state, "
                  "attempts, next_at, created_at, updated_at) VALUES (?, ?, ?, ?, ?, 'pending', 0, "
                  "?, ?, ?) RETURNING id",
                  v, SL_ARRAY_LEN(v), &rows, NULL, err);
    if (rc == 0 && id_out)
        *id_out = sl_db_get_int(&rows, 0, 0);
    sl_db_rows_release(&rows);
    return rc;
}

int sl_store_delivery_claim(struct sl_store *st, int64_t now, int64_t lease_ms,
                            struct sl_store_delivery *out, struct sl_error *err)
{
    const struct sl_store_backend *be = sl_db_backend(st);
    struct db_rows rows = {0};
    struct sl_str sql = SL_STR_INIT;
    struct db_conn dc;
    struct db_value v[] = {db_int(now + lease_ms), db_int(now)};
    int rc;
    /* One statement, as a job's claim: two senders never take the same row. A row waits
     * for the older pending rows to its target: a forge must get a commit's statuses in the
     * order they happened (a late "pending" must not overwrite "success"). */
    sl_str_addf(&sql,
                "UPDATE deliveries SET next_at = ? WHERE id = (SELECT d.id FROM deliveries d "
                "WHERE d.state = 'pending' AND d.next_at <= ? AND NOT EXISTS (SELECT 1 FROM "
                "deliveries e WHERE e.state = 'pending' AND e.target = d.target AND e.id < d.id) "
                "ORDER BY d.next_at, d.id LIMIT 1%s) RETURNING " DELIVERY_COLS,
                be->claim_lock);
    if ((rc = sl_db_acquire(st, true, &dc, err)) < 0)
        goto out;
    rc = sl_db_exec(&dc, sql.buf, v, SL_ARRAY_LEN(v), &rows, NULL, err);
    sl_db_release(&dc);
    if (rc == 0 && rows.nrows == 1) {
        read_delivery(&rows, 0, out);
        rc = 1;
    }
out:
    sl_str_release(&sql);
    sl_db_rows_release(&rows);
    return rc;
}

int sl_store_delivery_update(struct sl_store *st, const struct sl_store_delivery *d, int64_t now,
                             struct sl_error *err)
{
    int64_t changes = 0;
    int rc;
    if ((rc = sl_db_check_text(d->state, true, "state", err)) < 0 ||
        (rc = sl_db_check_text(d->last_error, false, "last_error", err)) < 0)
        return rc;
    bool delivered = !strcmp(d->state, "delivered");
    struct db_value v[] = {
        db_text(d->state),  db_int(d->attempts), db_text(d->last_error),
        db_int(d->next_at), db_int(now),         delivered ? db_int(now) : db_null(),
        db_int(d->id)};
    rc = sl_db_run(st, true,
                   "UPDATE deliveries SET state = ?, attempts = ?, last_error = ?, next_at = ?, "
                   "updated_at = ?, delivered_at = ? WHERE id = ?",
                   v, SL_ARRAY_LEN(v), NULL, &changes, err);
    if (rc == 0 && changes == 0)
        rc = sl_error_set(err, SL_ENOENT, "delivery %" PRId64 " does not exist", d->id);
    return rc;
}

int sl_store_delivery_next_due(struct sl_store *st, int64_t *out, struct sl_error *err)
{
    struct db_rows rows = {0};
    int rc =
        sl_db_run(st, false,
                  "SELECT MIN(d.next_at) FROM deliveries d WHERE d.state = 'pending' AND NOT "
                  "EXISTS (SELECT 1 FROM deliveries e WHERE e.state = 'pending' AND e.target = "
                  "d.target AND e.id < d.id)",
                  NULL, 0, &rows, NULL, err);
    if (rc == 0)
        *out = sl_db_get_int(&rows, 0, 0);
    sl_db_rows_release(&rows);
    return rc;
}

int sl_store_delivery_list(struct sl_store *st, int64_t project_id,
                           const struct sl_store_page *page, struct sl_store_delivery **out,
                           size_t *n, struct sl_error *err)
{
    struct db_rows rows = {0};
    int64_t after = page && page->after > 0 ? page->after : INT64_MAX;
    const char *state = page ? page->status : NULL;
    struct db_value v[] = {db_int(project_id), db_int(after), db_text(state), db_text(state),
                           db_int(sl_db_page_limit(page))};
    int rc =
        sl_db_run(st, false,
                  "SELECT " DELIVERY_COLS " FROM deliveries WHERE project_id = ? AND id < ? AND "
                  "(CAST(? AS TEXT) IS NULL OR state = ?) ORDER BY id DESC LIMIT ?",
                  v, SL_ARRAY_LEN(v), &rows, NULL, err);
    if (rc == 0)
        SL_DB_READ_ALL(&rows, read_delivery, out, n);
    sl_db_rows_release(&rows);
    return rc;
}

int sl_store_delivery_get(struct sl_store *st, int64_t id, struct sl_store_delivery *out,
                          struct sl_error *err)
{
    struct db_rows rows = {0};
    struct db_value v = db_int(id);
    int rc = sl_db_run(st, false, "SELECT " DELIVERY_COLS " FROM deliveries WHERE id = ?", &v, 1,
                       &rows, NULL, err);
    if (rc == 0 && rows.nrows == 0)
        rc = sl_error_set(err, SL_ENOENT, "delivery %" PRId64 " does not exist", id);
    else if (rc == 0)
        read_delivery(&rows, 0, out);
    sl_db_rows_release(&rows);
    return rc;
}

int sl_store_delivery_prune(struct sl_store *st, int64_t before, struct sl_error *err)
{
    struct db_value v = db_int(before);
    return sl_db_run(st, true, "DELETE FROM deliveries WHERE state <> 'pending' AND updated_at < ?",
                     &v, 1, NULL, NULL, err);
}

int sl_store_ref_status_swap(struct sl_store *st, int64_t project_id, const char *ref,
                             const char *status, int64_t now, char **old_out, struct sl_error *err)
{
    struct db_rows rows = {0};
    struct db_conn dc;
    int rc;
    if ((rc = sl_db_check_text(ref, true, "ref", err)) < 0 ||
        (rc = sl_db_check_text(status, true, "status", err)) < 0)
        return rc;
    if ((rc = sl_db_acquire(st, true, &dc, err)) < 0)
        return rc;
    if ((rc = sl_db_begin(&dc, err)) < 0)
        goto release;
    struct db_value k[] = {db_int(project_id), db_text(ref)};
    rc = sl_db_exec(&dc, "SELECT status FROM ref_statuses WHERE project_id = ? AND ref = ?", k,
                    SL_ARRAY_LEN(k), &rows, NULL, err);
    struct db_value v[] = {db_int(project_id), db_text(ref), db_text(status), db_int(now)};
    if (rc == 0)
        rc = sl_db_exec(
            &dc,
            "INSERT INTO ref_statuses (project_id, ref, status, updated_at) VALUES (?, ?, "
            "?, ?) ON CONFLICT (project_id, ref) DO UPDATE SET status = excluded.status, "
            "updated_at = excluded.updated_at",
            v, SL_ARRAY_LEN(v), NULL, NULL, err);
    rc = sl_db_end(&dc, rc, err);
    if (rc == 0)
        *old_out = rows.nrows ? sl_db_get_str(&rows, 0, 0) : NULL;
release:
    sl_db_release(&dc);
    sl_db_rows_release(&rows);
    return rc;
}
