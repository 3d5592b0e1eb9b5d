/* approvals.c: protected environments and the approvals of deployments to them. Which
 * environment a rule covers, and what a decision does, is the server's (deploy.c). */
#include "base/compat.h"
#include "base/alloc.h"
#include "base/str.h"
#include "store/backend.h"

#define PROT_COLS                                                                                  \
    "id, project_id, name, deploy_role, required_approval_count, created_at, deploy_token_ids"
#define APPROVAL_MAX 1000 /* approvals a rule may require */

void sl_store_protected_env_release(struct sl_store_protected_env *p)
{
    if (!p)
        return;
    free(p->name);
    free(p->deploy_role);
    free(p->deploy_tokens);
    *p = (struct sl_store_protected_env){0};
}

void sl_store_protected_envs_free(struct sl_store_protected_env *arr, size_t n)
{
    for (size_t i = 0; i < n; i++)
        sl_store_protected_env_release(&arr[i]);
    free(arr);
}

void sl_store_approvals_free(struct sl_store_approval *arr, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(arr[i].actor);
        free(arr[i].status);
        free(arr[i].comment);
    }
    free(arr);
}

int sl_store_protected_env_create(struct sl_store *st, const struct sl_store_protected_env *p,
                                  int64_t now, int64_t *id_out, struct sl_error *err)
{
    struct db_rows rows = {0};
    int rc;

    if ((rc = sl_db_check_text(p->name, true, "protected environment name", err)) < 0)
        return rc;
    if (!*p->name)
        return sl_error_set(err, SL_EINVAL, "name must not be empty");
    static const char *const deployers[] = {"admin", "maintainer", "developer"};
    bool known = false;
    for (size_t i = 0; p->deploy_role && i < SL_ARRAY_LEN(deployers); i++)
        known = known || !strcmp(p->deploy_role, deployers[i]);
    if (!known)
        return sl_error_set(err, SL_EINVAL,
                            "deploy_role must be admin, maintainer or developer, not '%s'",
                            p->deploy_role ? p->deploy_role : "(null)");
    if (p->required_approval_count < 0 || p->required_approval_count > APPROVAL_MAX)
        return sl_error_set(err, SL_EINVAL, "required_approval_count must be 0 to %d",
                            APPROVAL_MAX);
    if (p->ndeploy_tokens > SL_STORE_DEPLOY_TOKENS_MAX)
        return sl_error_set(err, SL_ELIMIT, "at most %d deploy_tokens", SL_STORE_DEPLOY_TOKENS_MAX);
    struct sl_str ids = SL_STR_INIT;
    sl_str_adds(&ids, "");
    for (size_t i = 0; i < p->ndeploy_tokens; i++) {
        if (p->deploy_tokens[i] <= 0) {
            sl_str_release(&ids);
            return sl_error_set(err, SL_EINVAL, "deploy_tokens are token ids (positive integers)");
        }
        sl_str_addf(&ids, "%s%" PRId64, i ? "," : "", p->deploy_tokens[i]);
    }
    struct db_value v[] = {db_int(p->project_id),
                           db_text(p->name),
                           db_text(p->deploy_role),
                           db_int(p->required_approval_count),
                           db_int(now),
                           db_text(ids.buf)};
    rc = sl_db_run(
        st, true,
        "INSERT INTO protected_environments (project_id, name, deploy_role, "
        "required_approval_count, created_at, deploy_token_ids) VALUES (?, ?, ?, ?, ?, ?) "
        "RETURNING id",
        v, SL_ARRAY_LEN(v), &rows, NULL, err);
    sl_str_release(&ids);
    if (rc == SL_EEXISTS)
        rc = sl_error_set(err, SL_EEXISTS, "%s is protected already", p->name);
    if (rc == 0 && id_out)
        *id_out = sl_db_get_int(&rows, 0, 0);
    sl_db_rows_release(&rows);
    return rc;
}

int sl_store_protected_env_list(struct sl_store *st, int64_t project_id,
                                struct sl_store_protected_env **out, size_t *n,
                                struct sl_error *err)
{
    struct db_rows rows = {0};
    struct db_value v[] = {db_int(project_id), db_int(SL_STORE_LIST_MAX)};
    int rc = sl_db_run(st, false,
                       "SELECT " PROT_COLS " FROM protected_environments WHERE project_id = ? "
                       "ORDER BY id LIMIT ?",
                       v, SL_ARRAY_LEN(v), &rows, NULL, err);
    if (rc == 0) {
        struct sl_store_protected_env *arr = sl_xcalloc(rows.nrows ? rows.nrows : 1, sizeof(*arr));
        for (size_t i = 0; i < rows.nrows; i++) {
            arr[i].id = sl_db_get_int(&rows, i, 0);
            arr[i].project_id = sl_db_get_int(&rows, i, 1);
            arr[i].name = sl_db_get_str0(&rows, i, 2);
            arr[i].deploy_role = sl_db_get_str0(&rows, i, 3);
            arr[i].required_approval_count = (int)sl_db_get_int(&rows, i, 4);
            arr[i].created_at = sl_db_get_int(&rows, i, 5);
            /* "3,7": written by create only, so well-formed; strtoll stops at each comma */
            const char *s = sl_db_cell(&rows, i, 6)->data;
            arr[i].deploy_tokens = sl_xcalloc(SL_STORE_DEPLOY_TOKENS_MAX, sizeof(int64_t));
            while (s && *s && arr[i].ndeploy_tokens < SL_STORE_DEPLOY_TOKENS_MAX) {
                char *end;
                int64_t id = strtoll(s, &end, 10);
                if (end == s)
                    break;
                arr[i].deploy_tokens[arr[i].ndeploy_tokens++] = id;
                s = *end == ',' ? end + 1 : end;
            }
        }
        *out = arr;
        *n = rows.nrows;
    }
    sl_db_rows_release(&rows);
    return rc;
}

int sl_store_protected_env_delete(struct sl_store *st, int64_t project_id, int64_t id,
                                  struct sl_error *err)
{
    int64_t changes = 0;
    struct db_value v[] = {db_int(id), db_int(project_id), db_int(project_id)};
    int rc = sl_db_run(
        st, true, "DELETE FROM protected_environments WHERE id = ? AND (? = 0 OR project_id = ?)",
        v, SL_ARRAY_LEN(v), NULL, &changes, err);
    if (rc == 0 && changes == 0)
        rc = sl_error_set(err, SL_ENOENT, "protected environment %" PRId64 " does not exist", id);
    return rc;
}

int sl_store_approval_add(struct sl_store *st, const struct sl_store_approval *a, int64_t now,
                          struct sl_error *err)
{
    int rc;
    if ((rc = sl_db_check_text(a->actor, true, "approval actor", err)) < 0 ||
        (rc = sl_db_check_text(a->comment, false, "approval comment", err)) < 0)
        return rc;
    if (!a->status || (strcmp(a->status, "approved") && strcmp(a->status, "rejected")))
        return sl_error_set(err, SL_EINVAL, "an approval is approved or rejected");
    struct db_value v[] = {db_int(a->deployment_id), db_text(a->actor), db_text(a->status),
                           db_text(a->comment ? a->comment : ""), db_int(now)};
    rc = sl_db_run(st, true,
                   "INSERT INTO deployment_approvals (deployment_id, actor, status, comment, "
                   "created_at) VALUES (?, ?, ?, ?, ?)",
                   v, SL_ARRAY_LEN(v), NULL, NULL, err);
    if (rc == SL_EEXISTS)
        rc = sl_error_set(err, SL_EEXISTS, "%s decided on this deployment already", a->actor);
    return rc;
}

int sl_store_approval_list(struct sl_store *st, int64_t deployment_id,
                           struct sl_store_approval **out, size_t *n, struct sl_error *err)
{
    struct db_rows rows = {0};
    struct db_value v[] = {db_int(deployment_id), db_int(SL_STORE_LIST_MAX)};
    int rc = sl_db_run(st, false,
                       "SELECT id, deployment_id, actor, status, comment, created_at FROM "
                       "deployment_approvals WHERE deployment_id = ? ORDER BY id LIMIT ?",
                       v, SL_ARRAY_LEN(v), &rows, NULL, err);
    if (rc == 0) {
        struct sl_store_approval *arr = sl_xcalloc(rows.nrows ? rows.nrows : 1, sizeof(*arr));
        for (size_t i = 0; i < rows.nrows; i++) {
            arr[i].id = sl_db_get_int(&rows, i, 0);
            arr[i].deployment_id = sl_db_get_int(&rows, i, 1);
            arr[i].actor = sl_db_get_str0(&rows, i, 2);
            arr[i].status = sl_db_get_str0(&rows, i, 3);
            arr[i].comment = sl_db_get_str0(&rows, i, 4);
            arr[i].created_at = sl_db_get_int(&rows, i, 5);
        }
        *out = arr;
        *n = rows.nrows;
    }
    sl_db_rows_release(&rows);
    return rc;
}
