/* bridge.c: bridge jobs (`trigger:`) on the server. A bridge never reaches a runner: when
 * it becomes pending the machine marks it running (pipelines.c, transitions.c) and this
 * file makes its downstream pipeline:
 *
 *   trigger:include   a child pipeline of the same project and commit, its configuration
 *                     the included files (local ones, or one `artifact:` file of an
 *                     earlier job; up to two levels of children, as GitLab allows),
 *                     CI_PIPELINE_SOURCE=parent_pipeline; it keeps its parent's commit,
 *                     protection (protected variables or none) and merge request, so the
 *                     child of a fork's pipeline is a fork's pipeline too;
 *   trigger:project   a pipeline of that project when the server has it (by name, or by
 *                     its path's last part), on `branch` or its default branch, source
 *                     `pipeline`; else the bridge fails (downstream_bridge_project_not_found);
 *                     never from a fork's pipeline (insufficient_bridge_permissions).
 *
 * Both get the variables the bridge forwards (sl_plan_bridge_variables) and record their
 * parent pipeline and job (GET /api/v1/pipelines/{id} lists them as `downstream`). Without
 * `strategy: depend` the bridge succeeds once the pipeline exists; with it, the bridge ends
 * when its downstream pipeline ends, with its status. Why a downstream pipeline could not
 * be made is written to the bridge's log. A bridge made running waits for its firing under
 * a lease like any running job (sl_srv_bridge_unfired_lease); a server that stops before
 * firing it fires it when it starts again (sl_srv_bridges_resume). */
#include "base/compat.h"
#include "base/alloc.h"
#include "base/log.h"
#include "base/str.h"
#include "base/fs.h"
#include "base/time.h"
#include "exec/artifacts.h"
#include "server/internal.h"

#include <errno.h>
#include <stdlib.h>

#define MAX_CHILD_DEPTH 2

void sl_srv_bridge_spec(json_t *spec, const struct sl_config *cfg, const struct sl_plan_job *pj,
                        const struct sl_trigger *t)
{
    struct sl_vars vars = SL_VARS_INIT;
    (void)cfg;
    sl_plan_bridge_variables(pj, t, &vars);
    json_t *v = json_object();
    for (size_t i = 0; i < vars.n; i++)
        json_object_set_new(v, vars.v[i].name, json_string(vars.v[i].value));
    sl_vars_release(&vars);
    json_t *b = json_object();
    json_object_set_new(b, "trigger", sl_plan_node_json(pj->trigger));
    json_object_set_new(b, "variables", v);
    json_object_set_new(b, "depend", json_boolean(pj->bridge.depend));
    json_object_set_new(spec, "bridge", b);
}

bool sl_srv_spec_is_bridge(const char *spec)
{
    /* the key is ours and its value an object: no variable or script text can spell it */
    return spec && strstr(spec, "\"bridge\":{") != NULL;
}

static void finish(struct sl_server *s, const struct sl_store_job *j, enum sl_sched_failure why,
                   const char *msg)
{
    struct sl_error err = SL_ERROR_INIT;
    if (msg) {
        char *line = sl_xasprintf("%s\n", msg);
        sl_store_log_append(s->st, j->id, line, strlen(line), sl_time_now_ms(), NULL, NULL);
        free(line);
    }
    struct srv_finish fin = {why, why == SL_SCHED_FAILURE_NONE ? 0 : SL_SCHED_NO_EXIT_CODE, NULL,
                             j->id};
    if (sl_srv_transition(s, j->pipeline_id, SRV_EV_FINISHED, (size_t)j->position, &fin, false,
                          &err) < 0)
        sl_log(SL_LOG_ERROR, "cannot settle a bridge job", "job", j->name, "error",
               sl_error_format(&err), NULL);
    sl_error_release(&err);
}

/* How many parents PIPELINE has (0 for a pipeline nothing triggered). */
static int depth_of(struct sl_server *s, const struct sl_store_pipeline *p)
{
    int d = 0;
    int64_t up = p->parent_pipeline_id;
    while (up && d <= MAX_CHILD_DEPTH) {
        struct sl_store_pipeline q = {0};
        if (sl_store_pipeline_get(s->st, up, &q, NULL) < 0)
            break;
        up = q.parent_pipeline_id;
        sl_store_pipeline_release(&q);
        d++;
    }
    return d;
}

/* The most bytes a generated child configuration may have (an artifact's file). */
#define MAX_ARTIFACT_CONFIG (4u << 20)

/* trigger:include of `artifact: FILE, job: JOB`: FILE out of the archive of JOB of pipeline
 * UP (it ran before the bridge: needs or an earlier stage), as the child's whole
 * configuration; NULL with WHY set otherwise. The archive is unpacked into a directory of
 * its own under the data directory and removed again. */
static char *artifact_config(struct sl_server *s, const struct sl_store_pipeline *up,
                             const json_t *e, char *why, size_t whylen)
{
    const char *file = json_string_value(json_object_get(e, "artifact"));
    const char *job = json_string_value(json_object_get(e, "job"));
    struct sl_store_job *jobs = NULL;
    struct sl_store_artifact *as = NULL;
    size_t n = 0, na = 0, len = 0;
    struct sl_error err = SL_ERROR_INIT;
    char *dir = NULL, *archive = NULL, *yaml = NULL;
    const struct sl_store_job *src = NULL;
    if (!file || !job) {
        snprintf(why, whylen, "trigger:include: an `artifact` include needs `artifact` and `job`");
        goto out;
    }
    if (sl_store_job_list_by_pipeline(s->st, up->id, &jobs, &n, &err) < 0) {
        snprintf(why, whylen, "%s", sl_error_format(&err));
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        if (!strcmp(jobs[i].name, job))
            src = &jobs[i];
    if (!src || strcmp(src->status, "success") != 0) {
        snprintf(why, whylen, "trigger:include: job `%s` %s, so artifact `%s` cannot be read", job,
                 src ? "has not succeeded" : "is not in this pipeline", file);
        goto out;
    }
    if (sl_store_artifact_list(s->st, src->id, &as, &na, &err) < 0 || na == 0 ||
        strstr(as[na - 1].path, "..")) {
        snprintf(why, whylen, "trigger:include: job `%s` has no artifacts, so `%s` cannot be read",
                 job, file);
        goto out;
    }
    archive = sl_fs_join(s->data_dir, as[na - 1].path); /* the newest row, as downloads take */
    dir = sl_xasprintf("%s/tmp/bridge-%lld-XXXXXX", s->data_dir, (long long)up->id);
    char *slash = strrchr(dir, '/');
    *slash = '\0';
    int rc = sl_fs_mkdir_p(dir, 0700, &err);
    *slash = '/';
    if (rc < 0 || !mkdtemp(dir)) {
        snprintf(why, whylen, "trigger:include: no scratch directory for `%s`: %s", file,
                 rc < 0 ? sl_error_format(&err) : strerror(errno));
        free(dir);
        dir = NULL;
        goto out;
    }
    if (sl_artifacts_extract(archive, dir, 0, NULL, &err) < 0 ||
        sl_fs_read_within(dir, file, MAX_ARTIFACT_CONFIG, &yaml, &len, &err) < 0) {
        snprintf(why, whylen, "trigger:include: artifact `%s` of job `%s`: %s", file, job,
                 sl_error_format(&err));
        free(yaml);
        yaml = NULL;
    }
out:
    if (dir)
        sl_fs_remove_tree(dir, NULL);
    free(dir);
    free(archive);
    sl_store_artifacts_free(as, na);
    sl_store_jobs_free(jobs, n);
    sl_error_release(&err);
    return yaml;
}

/* trigger:include as a main file of include:local entries, or a single artifact include's
 * file (artifact_config); NULL with WHY set otherwise. */
static char *child_config(struct sl_server *s, const struct sl_store_pipeline *up,
                          const json_t *inc, char *why, size_t whylen)
{
    const json_t *first = json_is_array(inc) ? json_array_get(inc, 0) : inc;
    size_t count = json_is_array(inc) ? json_array_size(inc) : 1;
    if (count == 1 && json_object_get(first, "artifact"))
        return artifact_config(s, up, first, why, whylen);
    struct sl_str y = SL_STR_INIT;
    size_t n = json_is_array(inc) ? json_array_size(inc) : 1;
    sl_str_adds(&y, "include:\n");
    for (size_t i = 0; i < n; i++) {
        const json_t *e = json_is_array(inc) ? json_array_get(inc, i) : inc;
        const char *file = json_is_string(e) ? json_string_value(e)
                                             : json_string_value(json_object_get(e, "local"));
        if (!file) {
            snprintf(why, whylen,
                     "trigger:include: the server reads local files of the commit, or one "
                     "artifact include alone (not an artifact among other files, nor project, "
                     "template, remote or component includes yet)");
            sl_str_release(&y);
            return NULL;
        }
        json_t *js = json_string(file);
        char *q = json_dumps(js, JSON_ENCODE_ANY); /* JSON is YAML */
        json_decref(js);
        sl_str_addf(&y, "  - local: %s\n", q ? q : "''");
        free(q);
        json_t *in = json_object_get(e, "inputs");
        if (json_is_object(in) && json_object_size(in)) {
            char *t = json_dumps(in, JSON_COMPACT);
            sl_str_addf(&y, "    inputs: %s\n", t ? t : "{}");
            free(t);
        }
    }
    return sl_str_detach(&y);
}

/* Makes bridge J's downstream pipeline; false with WHY/REASON when it cannot. */
static bool fire_one(struct sl_server *s, const struct sl_store_pipeline *up,
                     const struct sl_store_job *j, json_t *bridge, enum sl_sched_failure *reason,
                     char *why, size_t whylen)
{
    json_t *t = json_object_get(bridge, "trigger");
    json_t *vars = json_object_get(bridge, "variables");
    bool depend = json_is_true(json_object_get(bridge, "depend"));
    const char *project =
        json_is_string(t) ? json_string_value(t) : json_string_value(json_object_get(t, "project"));
    struct sl_store_project proj = {0};
    struct sl_error err = SL_ERROR_INIT;
    struct srv_downstream ds = {up->id, j->id, NULL, NULL, NULL};
    char *yaml = NULL, *name = NULL;
    const char *ref = up->ref, *source = "parent_pipeline";
    int64_t id = 0;
    bool ok = false;
    *reason = SL_SCHED_FAILURE_DOWNSTREAM_CREATION;

    if (project && sl_srv_pipeline_from_fork(s, up)) {
        /* a fork's code reaches no other project: on GitLab it runs in the fork, whose
         * members may not create pipelines in another project */
        *reason = SL_SCHED_FAILURE_INSUFFICIENT_BRIDGE_PERMISSIONS;
        snprintf(why, whylen,
                 "trigger:project: a pipeline of a merge request from a fork may not trigger "
                 "another project's pipeline");
        goto out;
    }
    if (project) {
        int rc = sl_store_project_get_by_name(s->st, project, &proj, NULL);
        const char *last = strrchr(project, '/');
        if (rc < 0 && last)
            rc = sl_store_project_get_by_name(s->st, last + 1, &proj, NULL);
        if (rc < 0) {
            *reason = SL_SCHED_FAILURE_DOWNSTREAM_BRIDGE_PROJECT_NOT_FOUND;
            snprintf(why, whylen, "trigger:project: this server has no project `%s`", project);
            goto out;
        }
        ref = json_string_value(json_object_get(t, "branch"));
        source = "pipeline";
    } else {
        if (depth_of(s, up) >= MAX_CHILD_DEPTH) {
            snprintf(why, whylen,
                     "downstream pipeline cannot be created: child pipelines nest "
                     "at most %d levels deep",
                     MAX_CHILD_DEPTH);
            goto out;
        }
        if (!(yaml = child_config(s, up, json_object_get(t, "include"), why, whylen)))
            goto out;
        if (sl_store_project_get(s->st, up->project_id, &proj, &err) < 0) {
            snprintf(why, whylen, "%s", sl_error_format(&err));
            goto out;
        }
        name = sl_xasprintf("trigger:include of %s", j->name);
        ds.config_yaml = yaml;
        ds.config_name = name;
        ds.parent = up;
    }
    if (sl_srv_pipeline_create_downstream(s, &proj, ref, json_is_object(vars) ? vars : NULL, source,
                                          &ds, &id, &err) < 0) {
        snprintf(why, whylen, "downstream pipeline cannot be created: %s", sl_error_format(&err));
        goto out;
    }
    struct sl_store_pipeline down = {0};
    if (sl_store_pipeline_get(s->st, id, &down, &err) < 0) {
        snprintf(why, whylen, "%s", sl_error_format(&err));
        goto out;
    }
    char note[256];
    snprintf(note, sizeof(note), "downstream pipeline #%lld created (project %lld)", (long long)id,
             (long long)down.project_id);
    sl_store_log_append(s->st, j->id, note, strlen(note), sl_time_now_ms(), NULL, NULL);
    sl_store_log_append(s->st, j->id, "\n", 1, sl_time_now_ms(), NULL, NULL);
    if (down.error_message) {
        snprintf(why, whylen, "downstream pipeline cannot be created: %s%s%s", down.error_message,
                 down.yaml_errors ? ": " : "", down.yaml_errors ? down.yaml_errors : "");
    } else if (!depend) {
        *reason = SL_SCHED_FAILURE_NONE;
        ok = true;
    } else if (down.finished_at) { /* ended at once (nothing to run): settle now */
        *reason =
            !strcmp(down.status, "success") ? SL_SCHED_FAILURE_NONE : SL_SCHED_FAILURE_UNKNOWN;
        ok = true;
    } else {
        *reason = SL_SCHED_FAILURE_COUNT; /* depend: its end settles the bridge */
        ok = true;
    }
    sl_store_pipeline_release(&down);
out:
    free(yaml);
    free(name);
    sl_store_project_release(&proj);
    sl_error_release(&err);
    return ok;
}

void sl_srv_bridges_fire(struct sl_server *s, int64_t pipeline_id)
{
    struct sl_store_pipeline up = {0};
    struct sl_store_job *jobs = NULL;
    size_t n = 0;
    if (sl_store_pipeline_get(s->st, pipeline_id, &up, NULL) < 0)
        return;
    if (sl_store_job_list_by_pipeline(s->st, pipeline_id, &jobs, &n, NULL) < 0)
        goto out;
    for (size_t i = 0; i < n; i++) {
        struct sl_store_job *j = &jobs[i];
        if (strcmp(j->status, "running") || j->runner_id || !sl_srv_spec_is_bridge(j->spec))
            continue;
        /* fired once: the bridge's runner is "bridge" from now on, taken atomically (another
         * server starting at the same moment may be firing the same unfired bridge); no
         * runner renews a bridge's lease: one that never runs out, so the sweep of lost
         * jobs leaves it to its downstream pipeline */
        int64_t now = sl_time_now_ms();
        j->lease_deadline = now + (int64_t)10 * 365 * 24 * 3600 * 1000;
        if (sl_store_job_take_bridge(s->st, j->id, j->lease_deadline, now, NULL) < 0)
            continue;
        j->runner_id = sl_xstrdup("bridge");
        if (!j->started_at)
            j->started_at = now;
        json_t *spec = sl_srv_stored_json(j->spec, JSON_OBJECT, "job spec", j->id);
        char why[1024] = "";
        enum sl_sched_failure reason;
        bool ok = fire_one(s, &up, j, json_object_get(spec, "bridge"), &reason, why, sizeof(why));
        json_decref(spec);
        if (!ok)
            finish(s, j, reason, why);
        else if (reason != SL_SCHED_FAILURE_COUNT)
            finish(s, j, reason, NULL);
    }
out:
    sl_store_jobs_free(jobs, n);
    sl_store_pipeline_release(&up);
}

void sl_srv_bridge_upstream_settle(struct sl_server *s, int64_t pipeline_id)
{
    struct sl_store_pipeline down = {0};
    struct sl_store_job j = {0};
    if (sl_store_pipeline_get(s->st, pipeline_id, &down, NULL) < 0)
        return;
    if (down.parent_job_id && sl_store_job_get(s->st, down.parent_job_id, &j, NULL) == 0 &&
        !strcmp(j.status, "running") && strstr(j.spec, "\"depend\":true")) {
        bool passed = !strcmp(down.status, "success");
        char msg[128];
        snprintf(msg, sizeof(msg), "downstream pipeline #%lld %s", (long long)down.id, down.status);
        finish(s, &j, passed ? SL_SCHED_FAILURE_NONE : SL_SCHED_FAILURE_UNKNOWN, msg);
    }
    sl_store_job_release(&j);
    sl_store_pipeline_release(&down);
}

int64_t sl_srv_bridge_unfired_lease(const struct sl_server *s, int64_t now)
{
    return now + (int64_t)s->lease_s * 1000;
}

int sl_srv_bridges_resume(struct sl_server *s, struct sl_error *err)
{
    struct sl_store_page page = {.after = 0, .limit = SL_STORE_LIST_MAX, .status = "running"};
    int64_t last_fired = 0;
    for (;;) {
        struct sl_store_job *jobs = NULL;
        size_t n = 0;
        int rc = sl_store_job_list(s->st, &page, &jobs, &n, err);
        if (rc < 0)
            return rc;
        for (size_t i = 0; i < n; i++) {
            const struct sl_store_job *j = &jobs[i];
            /* a fired bridge's runner is "bridge"; one pipeline is fired once */
            if (j->runner_id || !sl_srv_spec_is_bridge(j->spec) || j->pipeline_id == last_fired)
                continue;
            char num[32];
            snprintf(num, sizeof(num), "%lld", (long long)j->id);
            sl_log(SL_LOG_INFO, "bridge left unfired by a stop fired now", "job_id", num, "name",
                   j->name, NULL);
            sl_srv_bridges_fire(s, j->pipeline_id);
            last_fired = j->pipeline_id;
        }
        if (n)
            page.after = jobs[n - 1].id;
        sl_store_jobs_free(jobs, n);
        if (n < (size_t)page.limit)
            return 0;
    }
}
