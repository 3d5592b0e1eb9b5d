/* protected_refs.c: protected branches and tags over HTTP, GitLab's shape
 * (/projects/{id}/protected_branches|protected_tags[/{name}]), and the question pipeline
 * creation asks of them: is this ref protected? Matching is GitLab's RefMatcher
 * (plan/scope.h): a name, or a pattern whose `*` matches anything, '/' included. */
#include "base/compat.h"
#include "base/time.h"
#include "plan/scope.h"
#include "server/internal.h"

static json_t *ref_json(const struct sl_store_protected_ref *p)
{
    json_t *o = json_pack("{s:I,s:s}", "id", (json_int_t)p->id, "name", p->name);
    json_object_set_new(o, "created_at", sl_srv_time_json(p->created_at));
    return o;
}

int sl_srv_ref_protected(struct sl_server *s, int64_t project_id, const char *ref, bool tag,
                         bool *out, struct sl_error *err)
{
    struct sl_store_protected_ref *refs = NULL;
    size_t n = 0;
    int rc = sl_store_protected_ref_list(s->st, project_id, tag, &refs, &n, err);
    if (rc == 0) {
        bool hit = false;
        for (size_t i = 0; i < n && !hit; i++)
            hit = sl_scope_wildcard_match(refs[i].name, ref);
        *out = hit;
    }
    sl_store_protected_refs_free(refs, n);
    return rc;
}

/* The project of the route must exist: 404 for an unknown one, before anything else. */
static bool project_exists(struct req *r)
{
    struct sl_error err = SL_ERROR_INIT;
    struct sl_store_project proj = {0};
    int rc = sl_store_project_get(r->s->st, r->id, &proj, &err);
    if (rc < 0)
        sl_reply_sl_error(r, rc, &err);
    sl_store_project_release(&proj);
    sl_error_release(&err);
    return rc == 0;
}

static void list(struct req *r, bool tag)
{
    struct sl_error err = SL_ERROR_INIT;
    struct sl_store_protected_ref *refs = NULL;
    size_t n = 0;
    if (!project_exists(r))
        return;
    int rc = sl_store_protected_ref_list(r->s->st, r->id, tag, &refs, &n, &err);
    if (rc < 0) {
        sl_reply_sl_error(r, rc, &err);
    } else {
        json_t *a = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(a, ref_json(&refs[i]));
        sl_reply_json(r, 200, a);
    }
    sl_store_protected_refs_free(refs, n);
    sl_error_release(&err);
}

/* The name to protect: the body's "name", or ?name= as GitLab's API documents it. */
static void create(struct req *r, bool tag)
{
    struct sl_error err = SL_ERROR_INIT;
    json_t *b = NULL;
    const char *name = sl_query_arg(r, "name");
    if (!name) {
        if (!(b = sl_body_json(r)))
            return;
        const char *k;
        json_t *x;
        json_object_foreach(b, k, x)
        {
            if (strcmp(k, "name") || !json_is_string(x)) {
                sl_reply_error(r, 400, "invalid", "'%s': expected \"name\" (string)", k);
                goto out;
            }
            name = json_string_value(x);
        }
    }
    if (!name || !*name) {
        sl_reply_error(r, 400, "invalid", "name is missing");
        goto out;
    }
    if (!project_exists(r))
        goto out;
    struct sl_store_protected_ref p = {.project_id = r->id, .tag = tag, .name = (char *)name};
    int rc = sl_store_protected_ref_create(r->s->st, &p, sl_time_now_ms(), &p.id, &err);
    if (rc < 0) {
        sl_reply_sl_error(r, rc, &err);
        goto out;
    }
    sl_srv_audit_on(r, tag ? "protected_tag.create" : "protected_branch.create",
                    tag ? "protected_tag" : "protected_branch", p.id);
    p.created_at = sl_time_now_ms();
    sl_reply_json(r, 201, ref_json(&p));
out:
    json_decref(b);
    sl_error_release(&err);
}

static void get(struct req *r, bool tag)
{
    struct sl_error err = SL_ERROR_INIT;
    struct sl_store_protected_ref p = {0};
    if (!project_exists(r))
        return;
    int rc = sl_store_protected_ref_get(r->s->st, r->id, tag, r->key, &p, &err);
    if (rc < 0)
        sl_reply_sl_error(r, rc, &err);
    else
        sl_reply_json(r, 200, ref_json(&p));
    sl_store_protected_ref_release(&p);
    sl_error_release(&err);
}

static void unprotect(struct req *r, bool tag)
{
    struct sl_error err = SL_ERROR_INIT;
    struct sl_store_protected_ref p = {0};
    if (!project_exists(r))
        return;
    int rc = sl_store_protected_ref_get(r->s->st, r->id, tag, r->key, &p, &err);
    if (rc == 0)
        rc = sl_store_protected_ref_delete(r->s->st, r->id, tag, r->key, &err);
    if (rc < 0) {
        sl_reply_sl_error(r, rc, &err);
    } else {
        sl_srv_audit_on(r, tag ? "protected_tag.delete" : "protected_branch.delete",
                        tag ? "protected_tag" : "protected_branch", p.id);
        r->status = 204;
    }
    sl_store_protected_ref_release(&p);
    sl_error_release(&err);
}

void sl_h_protected_branch_list(struct req *r)
{
    list(r, false);
}
void sl_h_protected_branch_create(struct req *r)
{
    create(r, false);
}
void sl_h_protected_branch_get(struct req *r)
{
    get(r, false);
}
void sl_h_protected_branch_delete(struct req *r)
{
    unprotect(r, false);
}
void sl_h_protected_tag_list(struct req *r)
{
    list(r, true);
}
void sl_h_protected_tag_create(struct req *r)
{
    create(r, true);
}
void sl_h_protected_tag_get(struct req *r)
{
    get(r, true);
}
void sl_h_protected_tag_delete(struct req *r)
{
    unprotect(r, true);
}
