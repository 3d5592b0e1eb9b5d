/* deploy_api.c: the environments and deployments routes (docs/api.md, "Environments and
 * deployments"). The shapes follow GitLab's environments and deployments APIs: an
 * environment has `external_url` and `state`, a deployment its `deployable` job. */
#include "base/compat.h"
#include "base/alloc.h"
#include "base/time.h"
#include "server/internal.h"

static json_t *deployment_json(const struct sl_store_deployment *d)
{
    json_t *o = json_pack("{s:I,s:I,s:s,s:s,s:s,s:s}", "id", (json_int_t)d->id, "iid",
                          (json_int_t)d->iid, "ref", d->ref, "sha", d->sha, "status", d->status,
                          "triggered_by", d->triggered_by);
    json_object_set_new(o, "environment",
                        json_pack("{s:I,s:s}", "id", (json_int_t)d->environment_id, "name",
                                  d->environment_name ? d->environment_name : ""));
    json_object_set_new(o, "deployable",
                        json_pack("{s:I,s:I}", "id", (json_int_t)d->job_id, "pipeline_id",
                                  (json_int_t)d->pipeline_id));
    json_object_set_new(o, "rollback_of",
                        d->rollback_of ? json_integer((json_int_t)d->rollback_of) : json_null());
    json_object_set_new(o, "required_approval_count", json_integer(d->required_approvals));
    json_object_set_new(o, "created_at", sl_srv_time_json(d->created_at));
    json_object_set_new(o, "started_at", sl_srv_time_json(d->started_at));
    json_object_set_new(o, "finished_at", sl_srv_time_json(d->finished_at));
    return o;
}

static json_t *environment_json(struct sl_server *s, const struct sl_store_environment *e)
{
    json_t *o = json_pack("{s:I,s:I,s:s,s:s,s:s,s:s}", "id", (json_int_t)e->id, "project_id",
                          (json_int_t)e->project_id, "name", e->name, "slug", e->slug, "state",
                          e->state, "tier", e->tier);
    json_object_set_new(o, "external_url", *e->url ? json_string(e->url) : json_null());
    json_object_set_new(o, "auto_stop_at", sl_srv_time_json(e->auto_stop_at));
    /* environment:kubernetes as the pipeline gave it (GitLab shows its agent and namespace) */
    json_t *k8s = sl_srv_stored_json(e->kubernetes, -1, "environment's kubernetes", e->id);
    json_object_set_new(o, "kubernetes", k8s ? k8s : json_null());
    json_object_set_new(o, "created_at", sl_srv_time_json(e->created_at));
    json_object_set_new(o, "updated_at", sl_srv_time_json(e->updated_at));
    struct sl_store_deployment d = {0};
    if (e->last_deployment_id &&
        sl_store_deployment_get(s->st, e->last_deployment_id, &d, NULL) == 0)
        json_object_set_new(o, "last_deployment", deployment_json(&d));
    else
        json_object_set_new(o, "last_deployment", json_null());
    sl_store_deployment_release(&d);
    return o;
}

static void reply_environment(struct req *r, int status, int64_t id)
{
    struct sl_store_environment e = {0};
    struct sl_error err = SL_ERROR_INIT;
    int rc = sl_store_environment_get(r->s->st, id, &e, &err);
    if (rc < 0)
        sl_reply_sl_error(r, rc, &err);
    else
        sl_reply_json(r, status, environment_json(r->s, &e));
    sl_store_environment_release(&e);
    sl_error_release(&err);
}

void sl_h_environment_list(struct req *r)
{
    struct sl_store_page page;
    struct sl_store_project proj = {0};
    struct sl_store_environment *es = NULL;
    size_t n = 0;
    struct sl_error err = SL_ERROR_INIT;
    if (!sl_srv_page_args(r, &page))
        return;
    page.status = sl_query_arg(r, "state");
    int rc = sl_store_project_get(r->s->st, r->id, &proj, &err);
    if (rc == 0)
        rc = sl_store_environment_list(r->s->st, r->id, &page, &es, &n, &err);
    if (rc < 0) {
        sl_reply_sl_error(r, rc, &err);
    } else {
        json_t *a = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(a, environment_json(r->s, &es[i]));
        sl_reply_json(r, 200, a);
    }
    sl_store_environments_free(es, n);
    sl_store_project_release(&proj);
    sl_error_release(&err);
}

void sl_h_environment_get(struct req *r)
{
    reply_environment(r, 200, r->id);
}

void sl_h_environment_stop(struct req *r)
{
    struct sl_error err = SL_ERROR_INIT;
    char actor[48];
    snprintf(actor, sizeof(actor), "token:%lld", (long long)r->token.id);
    /* a stop runs the on_stop job: of a protected environment, only who may deploy to it */
    int rc = sl_srv_deploy_access_refused(r->s, r->id, actor, r->token.role, &err);
    if (rc == 0)
        rc = sl_srv_deploy_stop(r->s, r->id, &err);
    if (rc == SL_EPERM) {
        sl_reply_error(r, 403, "forbidden", "%s", sl_error_format(&err));
    } else if (rc == SL_EBUSY || rc == SL_EINVAL) {
        sl_reply_error(r, 409, "conflict", "%s", sl_error_format(&err));
    } else if (rc < 0) {
        sl_reply_sl_error(r, rc, &err);
    } else {
        sl_srv_audit_on(r, "environment.stop", "environment", r->id);
        reply_environment(r, 200, r->id);
    }
    sl_error_release(&err);
}

void sl_h_environment_delete(struct req *r)
{
    struct sl_error err = SL_ERROR_INIT;
    int rc = sl_store_environment_delete(r->s->st, r->id, &err);
    if (rc == SL_EBUSY) {
        sl_reply_error(r, 409, "conflict", "%s", sl_error_format(&err));
    } else if (rc < 0) {
        sl_reply_sl_error(r, rc, &err);
    } else {
        sl_srv_audit_on(r, "environment.delete", "environment", r->id);
        r->status = 204;
    }
    sl_error_release(&err);
}

void sl_h_environment_rollback(struct req *r)
{
    struct sl_error err = SL_ERROR_INIT;
    int64_t dep = 0, new_id = 0;
    json_t *b = NULL;
    if (r->body_len) {
        if (!(b = sl_body_json(r)))
            return;
        json_t *v = json_object_get(b, "deployment_id");
        const char *k;
        json_t *x;
        json_object_foreach(b, k, x)
        {
            if (strcmp(k, "deployment_id") != 0) {
                sl_reply_error(r, 400, "invalid", "unknown field '%s' (deployment_id)", k);
                goto out;
            }
        }
        if (v && (!json_is_integer(v) || json_integer_value(v) < 1)) {
            sl_reply_error(r, 400, "invalid", "deployment_id must be a deployment's id");
            goto out;
        }
        dep = v ? (int64_t)json_integer_value(v) : 0;
    }
    char actor[48];
    snprintf(actor, sizeof(actor), "token:%lld", (long long)r->token.id);
    int rc = sl_srv_deploy_rollback(r->s, r->id, dep, actor, r->token.role, &new_id, &err);
    if (rc == SL_EPERM) {
        sl_reply_error(r, 403, "forbidden", "%s", sl_error_format(&err));
    } else if (rc == SL_EBUSY || rc == SL_EINVAL) {
        sl_reply_error(r, rc == SL_EBUSY ? 409 : 400, rc == SL_EBUSY ? "conflict" : "invalid", "%s",
                       sl_error_format(&err));
    } else if (rc < 0) {
        sl_reply_sl_error(r, rc, &err);
    } else {
        char target[64];
        snprintf(target, sizeof(target), "environment:%lld", (long long)r->id);
        sl_audit(r, NULL, "environment.rollback", target,
                 json_pack("{s:I,s:I}", "deployment_id", (json_int_t)new_id, "rollback_of",
                           (json_int_t)dep));
        struct sl_store_deployment d = {0};
        if (sl_store_deployment_get(r->s->st, new_id, &d, &err) < 0)
            sl_reply_sl_error(r, SL_ESTORE, &err);
        else
            sl_reply_json(r, 201, deployment_json(&d));
        sl_store_deployment_release(&d);
    }
out:
    json_decref(b);
    sl_error_release(&err);
}

void sl_h_environment_deployments(struct req *r)
{
    struct sl_store_page page;
    struct sl_store_environment e = {0};
    struct sl_store_deployment *ds = NULL;
    size_t n = 0;
    struct sl_error err = SL_ERROR_INIT;
    if (!sl_srv_page_args(r, &page))
        return;
    page.status = sl_query_arg(r, "status");
    int rc = sl_store_environment_get(r->s->st, r->id, &e, &err);
    if (rc == 0)
        rc = sl_store_deployment_list(r->s->st, r->id, &page, &ds, &n, &err);
    if (rc < 0) {
        sl_reply_sl_error(r, rc, &err);
    } else {
        json_t *a = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(a, deployment_json(&ds[i]));
        sl_reply_json(r, 200, a);
    }
    sl_store_deployments_free(ds, n);
    sl_store_environment_release(&e);
    sl_error_release(&err);
}

static json_t *approvals_json(struct sl_server *s, int64_t deployment_id);

void sl_h_deployment_get(struct req *r)
{
    struct sl_store_deployment d = {0};
    struct sl_error err = SL_ERROR_INIT;
    int rc = sl_store_deployment_get(r->s->st, r->id, &d, &err);
    if (rc < 0) {
        sl_reply_sl_error(r, rc, &err);
    } else {
        json_t *o = deployment_json(&d);
        json_object_set_new(o, "approvals", approvals_json(r->s, d.id));
        sl_reply_json(r, 200, o);
    }
    sl_store_deployment_release(&d);
    sl_error_release(&err);
}

static json_t *approvals_json(struct sl_server *s, int64_t deployment_id)
{
    struct sl_store_approval *list = NULL;
    size_t n = 0;
    json_t *a = json_array();
    if (sl_store_approval_list(s->st, deployment_id, &list, &n, NULL) == 0)
        for (size_t i = 0; i < n; i++) {
            json_t *o = json_pack("{s:s,s:s,s:s}", "user", list[i].actor, "status", list[i].status,
                                  "comment", list[i].comment);
            json_object_set_new(o, "created_at", sl_srv_time_json(list[i].created_at));
            json_array_append_new(a, o);
        }
    sl_store_approvals_free(list, n);
    return a;
}

/* POST /deployments/{id}/approve|reject {"comment"} */
static void decide(struct req *r, bool approve)
{
    struct sl_error err = SL_ERROR_INIT;
    const char *comment = "";
    json_t *b = NULL;
    if (r->body_len) {
        if (!(b = sl_body_json(r)))
            return;
        const char *k;
        json_t *x;
        json_object_foreach(b, k, x)
        {
            if (strcmp(k, "comment") != 0 || !json_is_string(x)) {
                sl_reply_error(r, 400, "invalid", "'%s': the body takes only a string \"comment\"",
                               k);
                goto out;
            }
            comment = json_string_value(x);
        }
    }
    char actor[48];
    snprintf(actor, sizeof(actor), "token:%lld", (long long)r->token.id);
    int rc = sl_srv_deploy_decide(r->s, r->id, actor, r->token.role, approve, comment, &err);
    if (rc == SL_EBUSY || rc == SL_EEXISTS) {
        sl_reply_error(r, 409, "conflict", "%s", sl_error_format(&err));
    } else if (rc == SL_EPERM) {
        sl_reply_error(r, 403, "forbidden", "%s", sl_error_format(&err));
    } else if (rc < 0) {
        sl_reply_sl_error(r, rc, &err);
    } else {
        char target[64];
        snprintf(target, sizeof(target), "deployment:%lld", (long long)r->id);
        sl_audit(r, NULL, approve ? "deployment.approve" : "deployment.reject", target,
                 json_pack("{s:s}", "comment", comment));
        sl_h_deployment_get(r);
    }
out:
    json_decref(b);
    sl_error_release(&err);
}

void sl_h_deployment_approve(struct req *r)
{
    decide(r, true);
}

void sl_h_deployment_reject(struct req *r)
{
    decide(r, false);
}

static json_t *protected_json(const struct sl_store_protected_env *p)
{
    json_t *o = json_pack("{s:I,s:I,s:s,s:s,s:i}", "id", (json_int_t)p->id, "project_id",
                          (json_int_t)p->project_id, "name", p->name, "deploy_role", p->deploy_role,
                          "required_approval_count", p->required_approval_count);
    json_t *toks = json_array();
    for (size_t i = 0; i < p->ndeploy_tokens; i++)
        json_array_append_new(toks, json_integer(p->deploy_tokens[i]));
    json_object_set_new(o, "deploy_tokens", toks);
    json_object_set_new(o, "created_at", sl_srv_time_json(p->created_at));
    return o;
}

void sl_h_protected_env_create(struct req *r)
{
    struct sl_error err = SL_ERROR_INIT;
    struct sl_store_project proj = {0};
    json_t *b = sl_body_json(r);
    if (!b)
        return;
    struct sl_store_protected_env p = {0};
    int64_t toks[SL_STORE_DEPLOY_TOKENS_MAX];
    p.project_id = r->id;
    p.deploy_tokens = toks;
    p.deploy_role = (char *)"maintainer";
    const char *k;
    json_t *x;
    json_object_foreach(b, k, x)
    {
        if (!strcmp(k, "name") && json_is_string(x)) {
            p.name = (char *)json_string_value(x);
        } else if (!strcmp(k, "deploy_role") && json_is_string(x)) {
            p.deploy_role = (char *)json_string_value(x);
        } else if (!strcmp(k, "deploy_tokens") && json_is_array(x) &&
                   json_array_size(x) <= SL_STORE_DEPLOY_TOKENS_MAX) {
            /* GitLab's deploy access by user: here API tokens by id */
            size_t i;
            json_t *t;
            json_array_foreach(x, i, t)
            {
                if (!json_is_integer(t) || json_integer_value(t) <= 0) {
                    sl_reply_error(r, 400, "invalid",
                                   "deploy_tokens: token ids (positive integers)");
                    goto out;
                }
                toks[i] = json_integer_value(t);
            }
            p.ndeploy_tokens = json_array_size(x);
        } else if (!strcmp(k, "required_approval_count") && json_is_integer(x)) {
            p.required_approval_count = (int)SL_MIN(json_integer_value(x), INT32_MAX);
            if (json_integer_value(x) < 0)
                p.required_approval_count = -1;
        } else {
            sl_reply_error(r, 400, "invalid",
                           "'%s': expected \"name\" (string), \"deploy_role\" (string), "
                           "\"deploy_tokens\" (at most %d token ids), \"required_approval_count\" "
                           "(integer)",
                           k, SL_STORE_DEPLOY_TOKENS_MAX);
            goto out;
        }
    }
    if (!p.name) {
        sl_reply_error(r, 400, "invalid", "name is required");
        goto out;
    }
    int64_t id = 0;
    int rc = sl_store_project_get(r->s->st, r->id, &proj, &err);
    if (rc == 0)
        rc = sl_store_protected_env_create(r->s->st, &p, sl_time_now_ms(), &id, &err);
    if (rc < 0) {
        sl_reply_sl_error(r, rc, &err);
    } else {
        sl_srv_audit_on(r, "protected_environment.create", "protected_environment", id);
        p.id = id;
        p.created_at = sl_time_now_ms();
        sl_reply_json(r, 201, protected_json(&p));
    }
out:
    sl_store_project_release(&proj);
    json_decref(b);
    sl_error_release(&err);
}

void sl_h_protected_env_list(struct req *r)
{
    struct sl_error err = SL_ERROR_INIT;
    struct sl_store_project proj = {0};
    struct sl_store_protected_env *ps = NULL;
    size_t n = 0;
    int rc = sl_store_project_get(r->s->st, r->id, &proj, &err);
    if (rc == 0)
        rc = sl_store_protected_env_list(r->s->st, r->id, &ps, &n, &err);
    if (rc < 0) {
        sl_reply_sl_error(r, rc, &err);
    } else {
        json_t *a = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(a, protected_json(&ps[i]));
        sl_reply_json(r, 200, a);
    }
    sl_store_protected_envs_free(ps, n);
    sl_store_project_release(&proj);
    sl_error_release(&err);
}

void sl_h_protected_env_delete(struct req *r)
{
    struct sl_error err = SL_ERROR_INIT;
    int rc = sl_store_protected_env_delete(r->s->st, 0, r->id, &err);
    if (rc < 0) {
        sl_reply_sl_error(r, rc, &err);
    } else {
        sl_srv_audit_on(r, "protected_environment.delete", "protected_environment", r->id);
        r->status = 204;
    }
    sl_error_release(&err);
}
