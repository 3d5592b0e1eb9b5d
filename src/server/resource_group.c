/* resource_group.c: `resource_group` on the server, as GitLab's resource groups. A ready job
 * of a group is stored waiting_for_resource (its pipeline's machine sees it as pending);
 * after every transition that moved a job of a group, at pipeline creation and on the
 * ticker, each group's resource goes to the next job in line of its process mode
 * (sl_store_resource_group_assign), which becomes pending for any worker or agent. The
 * claim takes a job of a group only while it holds the resource, so at most one job of a
 * group runs at a time across all pipelines of the project, on every server of one store.
 * A crash between a job's end and the handover loses nothing: the ticker hands over. */
#include "base/compat.h"
#include "base/alloc.h"
#include "base/log.h"
#include "base/time.h"
#include "server/internal.h"

void sl_srv_resource_groups_kick(struct sl_server *s, int64_t pipeline_id)
{
    struct sl_error err = SL_ERROR_INIT;
    int64_t *ids = NULL;
    size_t n = 0;
    bool queued = false;
    if (sl_store_resource_group_ids(s->st, pipeline_id, &ids, &n, &err) < 0)
        goto fail;
    for (size_t i = 0; i < n; i++) {
        int64_t job = 0;
        if (sl_store_resource_group_assign(s->st, ids[i], sl_time_now_ms(), &job, &err) < 0)
            goto fail;
        if (job) {
            char a[32], b[32];
            snprintf(a, sizeof(a), "%lld", (long long)ids[i]);
            snprintf(b, sizeof(b), "%lld", (long long)job);
            sl_log(SL_LOG_INFO, "resource group assigned", "resource_group_id", a, "job_id", b,
                   NULL);
            queued = true;
        }
    }
    goto out;
fail:
    atomic_fetch_add(&s->metrics.store_errors, 1);
    sl_log(SL_LOG_ERROR, "cannot assign a resource group", "error", sl_error_format(&err), NULL);
out:
    if (queued)
        sl_srv_workers_wake(s);
    free(ids);
    sl_error_release(&err);
}

/* GitLab's resource group object. */
static json_t *group_json(const struct sl_store_resource_group *g)
{
    json_t *o = json_pack("{s:I,s:s,s:s}", "id", (json_int_t)g->id, "key", g->key, "process_mode",
                          g->process_mode);
    json_object_set_new(o, "created_at", sl_srv_time_json(g->created_at));
    json_object_set_new(o, "updated_at", sl_srv_time_json(g->updated_at));
    return o;
}

void sl_srv_resource_group_job_info(struct sl_server *s, const struct sl_store_job *j, json_t *o)
{
    struct sl_store_resource_group g = {0};
    struct sl_store_job h = {0};
    if (!j->resource_group_id ||
        sl_store_resource_group_get_id(s->st, j->resource_group_id, &g, NULL) < 0)
        return;
    json_t *rg = group_json(&g);
    /* what GitLab's job page says of a waiting job: which job uses the resource now */
    if (g.holder_job_id && g.holder_job_id != j->id &&
        sl_store_job_get(s->st, g.holder_job_id, &h, NULL) == 0)
        json_object_set_new(rg, "held_by",
                            json_pack("{s:I,s:s,s:I,s:s}", "id", (json_int_t)h.id, "name", h.name,
                                      "pipeline_id", (json_int_t)h.pipeline_id, "status",
                                      h.status));
    else
        json_object_set_new(rg, "held_by", json_null());
    json_object_set_new(o, "resource_group", rg);
    sl_store_job_release(&h);
    sl_store_resource_group_release(&g);
}

/* The project of the route exists (else answers 404). */
static bool project_ok(struct req *r)
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

void sl_h_resource_group_list(struct req *r)
{
    struct sl_error err = SL_ERROR_INIT;
    struct sl_store_resource_group *gs = NULL;
    size_t n = 0;
    if (!project_ok(r))
        return;
    int rc = sl_store_resource_group_list(r->s->st, r->id, &gs, &n, &err);
    if (rc < 0) {
        sl_reply_sl_error(r, rc, &err);
    } else {
        json_t *a = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(a, group_json(&gs[i]));
        sl_reply_json(r, 200, a);
    }
    sl_store_resource_groups_free(gs, n);
    sl_error_release(&err);
}

void sl_h_resource_group_get(struct req *r)
{
    struct sl_error err = SL_ERROR_INIT;
    struct sl_store_resource_group g = {0};
    if (!project_ok(r))
        return;
    int rc = sl_store_resource_group_get(r->s->st, r->id, r->key, &g, &err);
    if (rc < 0)
        sl_reply_sl_error(r, rc, &err);
    else
        sl_reply_json(r, 200, group_json(&g));
    sl_store_resource_group_release(&g);
    sl_error_release(&err);
}

void sl_h_resource_group_update(struct req *r)
{
    static const char *const fields[] = {"process_mode", NULL};
    struct sl_error err = SL_ERROR_INIT;
    struct sl_store_resource_group g = {0};
    json_t *b = NULL;
    if (!project_ok(r) || !(b = sl_body_json(r)))
        return;
    if (!sl_body_fields_known(r, b, fields))
        goto out;
    const char *mode = json_string_value(json_object_get(b, "process_mode"));
    if (!mode) {
        sl_reply_error(r, 400, "invalid", "process_mode is required (a string)");
        goto out;
    }
    int rc =
        sl_store_resource_group_set_mode(r->s->st, r->id, r->key, mode, sl_time_now_ms(), &err);
    if (rc == 0)
        rc = sl_store_resource_group_get(r->s->st, r->id, r->key, &g, &err);
    if (rc < 0) {
        sl_reply_sl_error(r, rc, &err);
        goto out;
    }
    sl_srv_audit_on(r, "resource_group.update", "resource_group", g.id);
    sl_reply_json(r, 200, group_json(&g));
    /* the new order may put a ready job first */
    sl_srv_resource_groups_kick(r->s, 0);
out:
    json_decref(b);
    sl_store_resource_group_release(&g);
    sl_error_release(&err);
}

void sl_h_resource_group_upcoming(struct req *r)
{
    struct sl_error err = SL_ERROR_INIT;
    struct sl_store_resource_group g = {0};
    struct sl_store_job *jobs = NULL;
    size_t n = 0;
    if (!project_ok(r))
        return;
    int rc = sl_store_resource_group_get(r->s->st, r->id, r->key, &g, &err);
    if (rc == 0)
        rc = sl_store_resource_group_upcoming(r->s->st, g.id, &jobs, &n, &err);
    if (rc < 0) {
        sl_reply_sl_error(r, rc, &err);
    } else {
        json_t *a = json_array();
        for (size_t i = 0; i < n; i++) {
            json_t *o = sl_srv_job_json(r->s, &jobs[i], false);
            json_object_set_new(o, "pipeline_id", json_integer(jobs[i].pipeline_id));
            json_array_append_new(a, o);
        }
        sl_reply_json(r, 200, a);
    }
    sl_store_jobs_free(jobs, n);
    sl_store_resource_group_release(&g);
    sl_error_release(&err);
}
