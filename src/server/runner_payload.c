/* runner_payload.c: the job as GitLab's POST /api/v4/jobs/request answers it (the shape
 * gitlab-runner's spec.Job decodes: id, token, git_info, variables, steps, image, services,
 * artifacts, cache, dependencies, runner_info, job_info, features), built from the stored
 * job, its pipeline and project. Nothing secret but the job's own token and the variables
 * the job may see. */
#include "base/compat.h"
#include "base/alloc.h"
#include "base/time.h"
#include "exec/jobjson.h"
#include "jobspec/jobspec.h"
#include "server/internal.h"
#include "server/runner.h"

/* GitLab's failure reasons that the runner may report and that sched knows. */
static const char *const failure_reasons[] = {
    "unknown_failure",          "script_failure",        "api_failure",
    "stuck_or_timeout_failure", "runner_system_failure", "runner_unsupported",
    "job_execution_timeout",    "unmet_prerequisites",
};

/* {"key", "value", "public", "masked", "file": false, "raw": false}, built directly: a
 * payload has some eighty, and json_pack parsed its format string for each. NULL, as
 * json_pack's, when KEY or VALUE is no UTF-8 (the array then does not take it). */
static json_t *variable(const char *key, const char *value, bool public_, bool masked)
{
    json_t *k = json_string(key), *v = json_string(value ? value : "");
    if (!k || !v) {
        json_decref(k);
        json_decref(v);
        return NULL;
    }
    json_t *o = json_object();
    json_object_set_new_nocheck(o, "key", k);
    json_object_set_new_nocheck(o, "value", v);
    json_object_set_new_nocheck(o, "public", json_boolean(public_));
    json_object_set_new_nocheck(o, "masked", json_boolean(masked));
    json_object_set_new_nocheck(o, "file", json_false());
    json_object_set_new_nocheck(o, "raw", json_false());
    return o;
}

static json_t *strv_json(const char *const *v)
{
    json_t *a = json_array();
    for (size_t i = 0; v && v[i]; i++)
        json_array_append_new(a, json_string(v[i]));
    return a;
}

/* "http://gitlab-ci-token:TOKEN@HOST/NAME.git" from the external URL BASE. */
static char *repo_url(const char *base, const char *project, const char *token)
{
    const char *host = strstr(base, "://");
    size_t scheme = host ? (size_t)(host - base) + 3 : 0;
    return sl_xasprintf("%.*sgitlab-ci-token:%s@%s/%s.git", (int)scheme, base, token, base + scheme,
                        project);
}

/* An image or service as spec.Image; lists only when given (gitlab-runner's defaults
 * otherwise). */
static json_t *image_json(const struct sl_job_image *img, bool service)
{
    json_t *o = json_pack("{s:s,s:[]}", "name", img->name, "ports");
    if (img->entrypoint)
        json_object_set_new(o, "entrypoint", strv_json(img->entrypoint));
    if (img->pull_policy)
        json_object_set_new(o, "pull_policy", strv_json(img->pull_policy));
    if (service && img->command)
        json_object_set_new(o, "command", strv_json(img->command));
    if (service && img->alias && img->alias[0])
        json_object_set_new(o, "alias", json_string(img->alias[0]));
    if (service && img->variables) {
        json_t *vars = json_array();
        for (size_t i = 0; img->variables[i]; i++) {
            const char *kv = img->variables[i], *eq = strchr(kv, '=');
            if (!eq)
                continue;
            char *k = sl_xstrndup(kv, (size_t)(eq - kv));
            json_array_append_new(vars, variable(k, eq + 1, true, false));
            free(k);
        }
        json_object_set_new(o, "variables", vars);
    }
    if (img->platform || img->user) {
        json_t *d = json_object();
        if (img->platform)
            json_object_set_new(d, "platform", json_string(img->platform));
        if (img->user)
            json_object_set_new(d, "user", json_string(img->user));
        json_object_set_new(o, "executor_opts", json_pack("{s:o}", "docker", d));
    }
    return o;
}

static const char *const art_when[] = {"on_success", "on_failure", "always"};
static const char *const cache_policy[] = {"pull-push", "pull", "push"};
static const char *const cache_when[] = {"on_success", "on_failure", "always"};

static json_t *expire_json(int64_t secs)
{
    if (secs == SL_ARTIFACTS_EXPIRE_NEVER)
        return json_string("never");
    if (secs <= 0)
        return json_null();
    char buf[48];
    snprintf(buf, sizeof(buf), "%lld sec", (long long)secs);
    return json_string(buf);
}

/* The archive, then each report as an upload of its own type, as GitLab sends them. */
static json_t *artifacts_json(const struct sl_job_spec *js)
{
    json_t *list = json_array();
    if (js->has_artifacts) {
        const struct sl_artifacts_spec *a = &js->artifacts;
        unsigned w = (unsigned)js->artifacts_when < SL_ARRAY_LEN(art_when)
                         ? (unsigned)js->artifacts_when
                         : 0;
        json_array_append_new(list,
                              json_pack("{s:s,s:b,s:o,s:o,s:s,s:s,s:s,s:o}", "name",
                                        a->name ? a->name : "artifacts", "untracked",
                                        a->select.untracked, "paths", strv_json(a->select.paths),
                                        "exclude", strv_json(a->select.exclude), "when",
                                        art_when[w], "artifact_type", "archive", "artifact_format",
                                        "zip", "expire_in", expire_json(a->expire_in_s)));
    }
    const struct {
        const char *type;
        const char *const *paths;
    } reports[] = {{"dotenv", js->dotenv}, {"junit", js->junit}};
    for (size_t i = 0; i < SL_ARRAY_LEN(reports); i++) {
        if (!reports[i].paths || !reports[i].paths[0])
            continue;
        json_array_append_new(
            list, json_pack("{s:s,s:b,s:o,s:[],s:s,s:s,s:s,s:o}", "name", reports[i].type,
                            "untracked", 0, "paths", strv_json(reports[i].paths), "exclude", "when",
                            "always", "artifact_type", reports[i].type, "artifact_format", "gzip",
                            "expire_in", expire_json(js->artifacts.expire_in_s)));
    }
    return list;
}

/* The cache keys as GitLab sends them with "use separate caches for protected branches"
 * (its default): KEY-protected for a pipeline that gets protected variables, else
 * KEY-non_protected, so a pipeline of an unprotected branch or a fork's request cannot
 * write a cache a protected pipeline restores. */
static json_t *cache_json(const struct sl_job_spec *js, bool protected_)
{
    const char *suffix = protected_ ? "-protected" : "-non_protected";
    json_t *list = json_array();
    for (size_t i = 0; i < js->ncaches; i++) {
        const struct sl_cache_spec *c = &js->caches[i];
        unsigned p = (unsigned)c->policy < SL_ARRAY_LEN(cache_policy) ? (unsigned)c->policy : 0;
        unsigned w = (unsigned)c->when < SL_ARRAY_LEN(cache_when) ? (unsigned)c->when : 0;
        json_t *fallback = json_array();
        for (const char *const *f = c->fallback_keys; f && *f; f++)
            json_array_append_new(fallback, json_sprintf("%s%s", *f, suffix));
        json_array_append_new(list,
                              json_pack("{s:o,s:b,s:s,s:o,s:s,s:o}", "key",
                                        json_sprintf("%s%s", c->key ? c->key : "default", suffix),
                                        "untracked", c->select.untracked, "policy", cache_policy[p],
                                        "paths", strv_json(c->select.paths), "when", cache_when[w],
                                        "fallback_keys", fallback));
    }
    return list;
}

/* Earlier jobs whose artifacts this one gets: their ids and the archive they uploaded. */
static json_t *dependencies_json(struct sl_server *s, const struct sl_store_job *job, json_t *spec,
                                 const char *token)
{
    json_t *deps = json_array();
    json_t *srcs = json_object_get(spec, "source_positions");
    if (!json_array_size(srcs))
        return deps;
    struct sl_store_job *jobs = NULL;
    size_t n = 0;
    if (sl_store_job_list_by_pipeline_no_spec(s->st, job->pipeline_id, &jobs, &n, NULL) < 0)
        return deps;
    for (size_t i = 0; i < json_array_size(srcs); i++) {
        json_int_t pos = json_integer_value(json_array_get(srcs, i));
        if (pos < 0 || (size_t)pos >= n)
            continue;
        const struct sl_store_job *d = &jobs[pos];
        json_t *o =
            json_pack("{s:I,s:s,s:s}", "id", (json_int_t)d->id, "name", d->name, "token", token);
        struct sl_store_artifact *arts = NULL;
        size_t na = 0;
        if (sl_store_artifact_list(s->st, d->id, &arts, &na, NULL) == 0 && na > 0)
            json_object_set_new(o, "artifacts_file",
                                json_pack("{s:s,s:I}", "filename", "artifacts.zip", "size",
                                          (json_int_t)arts[0].size));
        sl_store_artifacts_free(arts, na);
        json_array_append_new(deps, o);
    }
    sl_store_jobs_free(jobs, n);
    return deps;
}

/* The project's and instance's CI/CD variables the job gets (job_variables.c), appended to
 * VARS so they rank above the YAML's, except the pipeline's own variables, which rank
 * above them and are already in VARS. Masked ones are not public and masked by the runner;
 * file ones are written to a file by it. */
static int stored_variables(struct sl_server *s, const struct sl_store_pipeline *p,
                            const struct sl_job_spec *js, json_t *vars, struct sl_error *err)
{
    struct srv_job_vars jv = {0};
    int rc = sl_srv_job_variables(s, p->project_id, !p->protected_known ? -1 : p->protected_, js,
                                  &jv, err);
    json_t *pipeline_vars =
        sl_srv_stored_json(p->variables, JSON_OBJECT, "pipeline's variables", p->id);
    for (size_t i = 0; rc == 0 && i < jv.n; i++) {
        const struct srv_job_var *v = &jv.vars[i];
        if (json_object_get(pipeline_vars, v->key))
            continue;
        json_t *o = variable(v->key, v->value, !v->masked, v->masked);
        json_object_set_new(o, "file", json_boolean(v->file));
        json_object_set_new(o, "raw", json_boolean(v->raw));
        json_array_append_new(vars, o);
    }
    json_decref(pipeline_vars);
    sl_srv_job_vars_release(&jv);
    return rc;
}

/* The dotenv variables of the jobs this one receives artifacts from (sl_srv_job_sources),
 * appended to VARS: above the job's YAML variables, below the pipeline's own (which are in
 * VARS already and are skipped), as the built-in workers bind them (jobspec.h). */
static void dotenv_variables(struct sl_server *s, const struct sl_store_job *job, json_t *spec,
                             const struct sl_store_pipeline *p, json_t *vars)
{
    struct sl_arena a = SL_ARENA_INIT;
    struct sl_jobspec_source *src = NULL;
    size_t n = 0;
    char *pdir = sl_xasprintf("%s/pipelines/%lld", s->data_dir, (long long)job->pipeline_id);
    json_t *pipeline_vars =
        sl_srv_stored_json(p->variables, JSON_OBJECT, "pipeline's variables", p->id);
    sl_srv_job_sources(s, job, spec, pdir, &a, &src, &n);
    for (size_t i = 0; i < n; i++)
        for (const char *const *kv = src[i].dotenv; kv && *kv; kv++) {
            const char *eq = strchr(*kv, '=');
            if (!eq || eq == *kv)
                continue;
            char *k = sl_xstrndup(*kv, (size_t)(eq - *kv));
            if (!json_object_get(pipeline_vars, k))
                json_array_append_new(vars, variable(k, eq + 1, true, false));
            free(k);
        }
    json_decref(pipeline_vars);
    free(pdir);
    sl_arena_release(&a);
}

int sl_srv_runner_payload(struct sl_server *s, const struct sl_store_job *job,
                          const struct sl_store_pipeline *pipeline,
                          const struct sl_store_runner *runner, const char *token, json_t **out,
                          struct sl_error *err)
{
    struct sl_store_pipeline read = {0};
    struct sl_store_project proj = {0};
    struct sl_job_decoded d;
    json_t *extra = NULL;
    char *repo = NULL, *refspec = NULL;
    int rc;

    memset(&d, 0, sizeof(d));
    if (!pipeline && (rc = sl_store_pipeline_get(s->st, job->pipeline_id, &read, err)) < 0)
        goto out;
    const struct sl_store_pipeline *pp = pipeline ? pipeline : &read;
    if ((rc = sl_store_project_get(s->st, pp->project_id, &proj, err)) < 0)
        goto out;
    const char *spec = job->spec ? job->spec : "{}";
    size_t spec_len = strlen(spec);
    /* parsed once: the codec's keys decoded from the tree, the server's read beside them */
    if (spec_len <= SL_JOB_JSON_MAX_BYTES)
        extra = json_loadb(spec, spec_len, JSON_REJECT_DUPLICATES, NULL);
    rc = extra ? sl_job_json_decode_tree(&d, extra, err)
               : sl_job_json_decode(&d, spec, spec_len, err); /* which says what is wrong */
    if (rc < 0)
        goto out;
    const struct sl_job_spec *js = &d.spec;
    /* set once the daemon is bound; a request can only come after that, but never NULL */
    char bound[96];
    snprintf(bound, sizeof(bound), "http://%s", s->address);
    const char *base = s->external_url ? s->external_url : bound;
    repo = repo_url(base, proj.name, token);
    json_int_t timeout_s = js->exec.timeout_ms > 0 ? js->exec.timeout_ms / 1000 : 3600;
    json_int_t after_s =
        js->exec.after_script_timeout_ms > 0 ? js->exec.after_script_timeout_ms / 1000 : 300;

    /* variables: what only the server knows first, then the job's own in precedence order
     * (the runner lets later entries win) */
    json_t *vars = json_array();
    char num[32], pnum[32], url[512];
    snprintf(num, sizeof(num), "%lld", (long long)job->id);
    snprintf(pnum, sizeof(pnum), "%lld", (long long)job->pipeline_id);
    json_array_append_new(vars, variable("CI", "true", true, false));
    json_array_append_new(vars, variable("GITLAB_CI", "true", true, false));
    json_array_append_new(vars, variable("CI_SERVER_URL", base, true, false));
    for (size_t i = 0; i < js->nvariables; i++)
        json_array_append_new(vars,
                              variable(js->variables[i].key, js->variables[i].value, true, false));
    dotenv_variables(s, job, extra, pp, vars);
    if ((rc = stored_variables(s, pp, js, vars, err)) < 0) {
        json_decref(vars);
        goto out;
    }
    json_array_append_new(vars, variable("CI_JOB_ID", num, true, false));
    json_array_append_new(vars, variable("CI_JOB_NAME", job->name, true, false));
    json_array_append_new(vars, variable("CI_JOB_STAGE", job->stage, true, false));
    json_array_append_new(vars, variable("CI_JOB_TOKEN", token, false, true));
    json_array_append_new(vars, variable("CI_PIPELINE_ID", pnum, true, false));
    snprintf(url, sizeof(url), "%s/jobs/%lld", base, (long long)job->id);
    json_array_append_new(vars, variable("CI_JOB_URL", url, true, false));
    snprintf(url, sizeof(url), "%s/pipelines/%lld", base, (long long)job->pipeline_id);
    json_array_append_new(vars, variable("CI_PIPELINE_URL", url, true, false));
    json_array_append_new(vars, variable("CI_REPOSITORY_URL", repo, false, true));
    snprintf(num, sizeof(num), "%d", job->attempt);
    json_array_append_new(vars, variable("CI_JOB_ATTEMPT", num, true, false));
    json_array_append_new(vars,
                          variable("CI_RUNNER_DESCRIPTION", runner->description, true, false));
    snprintf(num, sizeof(num), "%lld", (long long)runner->id);
    json_array_append_new(vars, variable("CI_RUNNER_ID", num, true, false));
    for (size_t i = 0; i < json_array_size(vars); i++) {
        json_t *v = json_array_get(vars, i);
        for (size_t k = 0; k < js->nvariables; k++)
            if (js->variables[k].raw &&
                !strcmp(js->variables[k].key, json_string_value(json_object_get(v, "key"))))
                json_object_set_new(v, "raw", json_true());
    }

    json_t *script = strv_json(js->exec.before_script);
    json_t *main_script = strv_json(js->exec.script);
    json_array_extend(script, main_script);
    json_decref(main_script);
    json_t *steps = json_pack("[{s:s,s:o,s:I,s:s,s:b}]", "name", "script", "script", script,
                              "timeout", timeout_s, "when", "on_success", "allow_failure", 0);
    if (js->exec.after_script && js->exec.after_script[0])
        json_array_append_new(steps,
                              json_pack("{s:s,s:o,s:I,s:s,s:b}", "name", "after_script", "script",
                                        strv_json(js->exec.after_script), "timeout", after_s,
                                        "when", "always", "allow_failure", 1));
    json_t *services = json_array();
    for (size_t i = 0; i < js->nservices; i++)
        json_array_append_new(services, image_json(&js->services[i], true));
    json_t *reasons = json_array();
    for (size_t i = 0; i < SL_ARRAY_LEN(failure_reasons); i++)
        json_array_append_new(reasons, json_string(failure_reasons[i]));

    const char *ref = pp->ref ? pp->ref : "";
    refspec = pp->is_tag ? sl_xasprintf("+refs/tags/%s:refs/tags/%s", ref, ref)
                         : sl_xasprintf("+refs/heads/%s:refs/remotes/origin/%s", ref, ref);
    int64_t now = sl_time_now_ms();
    json_t *o = json_pack(
        "{s:I,s:s,s:b,s:{s:I,s:s,s:s,s:I,s:s,s:I},s:{s:s,s:s,s:s,s:s,s:s,s:s,s:[s],s:i},"
        "s:{s:I},s:o,s:o,s:o,s:o,s:o,s:o,s:[],s:o,s:{s:b,s:o}}",
        "id", (json_int_t)job->id, "token", token, "allow_git_fetch", 1, "job_info", "id",
        (json_int_t)job->id, "name", job->name, "stage", job->stage, "project_id",
        (json_int_t)proj.id, "project_name", proj.name, "time_in_queue_seconds",
        (json_int_t)(job->queued_at && now > job->queued_at ? (now - job->queued_at) / 1000 : 0),
        "git_info", "repo_url", repo, "repo_object_format", "sha1", "ref", ref, "sha",
        pp->sha ? pp->sha : "", "before_sha",
        pp->before_sha && *pp->before_sha ? pp->before_sha
                                          : "0000000000000000000000000000000000000000",
        "ref_type", pp->is_tag ? "tag" : "branch", "refspecs", refspec, "depth", 20, "runner_info",
        "timeout", timeout_s, "variables", vars, "steps", steps, "image",
        js->image ? image_json(js->image, false) : json_null(), "services", services, "artifacts",
        artifacts_json(js), "cache", cache_json(js, pp->protected_known && pp->protected_),
        "credentials", "dependencies", dependencies_json(s, job, extra, token), "features",
        "trace_sections", 1, "failure_reasons", reasons);
    if (!o) {
        rc = sl_error_set(err, SL_EINVAL, "job %lld: cannot build its payload", (long long)job->id);
        goto out;
    }
    *out = o;
out:
    free(repo);
    free(refspec);
    json_decref(extra);
    sl_job_decoded_release(&d);
    sl_store_pipeline_release(&read);
    sl_store_project_release(&proj);
    return rc;
}
