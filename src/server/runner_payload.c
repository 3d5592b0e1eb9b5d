/* runner_payload.c: the job as GitLab's POST /api/v4/jobs/request answers it (the shape
 * gitlab-runner's spec.Job decodes: id, token, git_info, variables, steps, image, services,
 * artifacts, cache, dependencies, runner_info, job_info, features), built from the stored
 * job, its pipeline and project. Nothing secret but the job's own token and the variables
 * the job may see. */
#include "base/compat.h"
#include "base/alloc.h"
#include "base/jsonw.h"
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

/* The payload is written as text (base/jsonw.h, compact as the server's answers are)
 * rather than built as a jansson tree and dumped: a payload holds some eighty variables,
 * and the tree's allocations, its dump and its free were a third of the request's work.
 * The bytes are the ones json_dumps wrote of that tree (the order of every member is
 * gitlab-runner's spec.Job's, as before), except that a string that is not UTF-8 has
 * U+FFFD for its bad bytes, where jansson dropped the variable or the whole payload. */

/* Whether the job's YAML makes KEY a raw variable (variables:KEY:expand: false): the
 * runner then does not expand it, whoever set it (the runner lets later entries win). */
static bool raw_in_yaml(const struct sl_job_spec *js, const char *key)
{
    for (size_t k = 0; k < js->nvariables; k++)
        if (js->variables[k].raw && !strcmp(js->variables[k].key, key))
            return true;
    return false;
}

/* A string list; none is the empty list (gitlab-runner's slices). */
static void key_strv(struct sl_jsonw *w, const char *key, const char *const *v)
{
    sl_jsonw_key(w, key);
    sl_jsonw_arr(w);
    for (size_t i = 0; v && v[i]; i++)
        sl_jsonw_str(w, v[i]);
    sl_jsonw_end_arr(w);
}

/* {"key", "value", "public", "masked", "file", "raw"}: raw also when the job's YAML says so
 * (JS; NULL: a service's variables, which the YAML's do not touch). */
static void variable_w(struct sl_jsonw *w, const struct sl_job_spec *js, const char *key,
                       const char *value, bool public_, bool masked, bool file, bool raw)
{
    sl_jsonw_obj(w);
    sl_jsonw_kstr(w, "key", key);
    sl_jsonw_kstr(w, "value", value ? value : "");
    sl_jsonw_kbool(w, "public", public_);
    sl_jsonw_kbool(w, "masked", masked);
    sl_jsonw_kbool(w, "file", file);
    sl_jsonw_kbool(w, "raw", raw || (js && raw_in_yaml(js, key)));
    sl_jsonw_end_obj(w);
}

/* A public variable of the job, as most are. */
static void public_w(struct sl_jsonw *w, const struct sl_job_spec *js, const char *key,
                     const char *value)
{
    variable_w(w, js, key, value, true, false, false, false);
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
static void image_w(struct sl_jsonw *w, const struct sl_job_image *img, bool service)
{
    sl_jsonw_obj(w);
    sl_jsonw_kstr(w, "name", img->name);
    key_strv(w, "ports", NULL);
    if (img->entrypoint)
        key_strv(w, "entrypoint", img->entrypoint);
    if (img->pull_policy)
        key_strv(w, "pull_policy", img->pull_policy);
    if (service && img->command)
        key_strv(w, "command", img->command);
    if (service && img->alias && img->alias[0])
        sl_jsonw_kstr(w, "alias", img->alias[0]);
    if (service && img->variables) {
        sl_jsonw_key(w, "variables");
        sl_jsonw_arr(w);
        for (size_t i = 0; img->variables[i]; i++) {
            const char *kv = img->variables[i], *eq = strchr(kv, '=');
            if (!eq)
                continue;
            char *k = sl_xstrndup(kv, (size_t)(eq - kv));
            public_w(w, NULL, k, eq + 1);
            free(k);
        }
        sl_jsonw_end_arr(w);
    }
    if (img->platform || img->user) {
        sl_jsonw_key(w, "executor_opts");
        sl_jsonw_obj(w);
        sl_jsonw_key(w, "docker");
        sl_jsonw_obj(w);
        if (img->platform)
            sl_jsonw_kstr(w, "platform", img->platform);
        if (img->user)
            sl_jsonw_kstr(w, "user", img->user);
        sl_jsonw_end_obj(w);
        sl_jsonw_end_obj(w);
    }
    sl_jsonw_end_obj(w);
}

static const char *const art_when[] = {"on_success", "on_failure", "always"};
static const char *const cache_policy[] = {"pull-push", "pull", "push"};
static const char *const cache_when[] = {"on_success", "on_failure", "always"};

static void expire_w(struct sl_jsonw *w, int64_t secs)
{
    sl_jsonw_key(w, "expire_in");
    if (secs == SL_ARTIFACTS_EXPIRE_NEVER) {
        sl_jsonw_str(w, "never");
    } else if (secs <= 0) {
        sl_jsonw_null(w);
    } else {
        char buf[48];
        snprintf(buf, sizeof(buf), "%lld sec", (long long)secs);
        sl_jsonw_str(w, buf);
    }
}

/* One artifacts upload of the payload's list. */
static void upload_w(struct sl_jsonw *w, const char *name, bool untracked, const char *const *paths,
                     const char *const *exclude, const char *when, const char *type,
                     const char *format, int64_t expire_s)
{
    sl_jsonw_obj(w);
    sl_jsonw_kstr(w, "name", name);
    sl_jsonw_kbool(w, "untracked", untracked);
    key_strv(w, "paths", paths);
    key_strv(w, "exclude", exclude);
    sl_jsonw_kstr(w, "when", when);
    sl_jsonw_kstr(w, "artifact_type", type);
    sl_jsonw_kstr(w, "artifact_format", format);
    expire_w(w, expire_s);
    sl_jsonw_end_obj(w);
}

/* The archive, then each report as an upload of its own type, as GitLab sends them. */
static void artifacts_w(struct sl_jsonw *w, const struct sl_job_spec *js)
{
    sl_jsonw_key(w, "artifacts");
    sl_jsonw_arr(w);
    if (js->has_artifacts) {
        const struct sl_artifacts_spec *a = &js->artifacts;
        unsigned wh = (unsigned)js->artifacts_when < SL_ARRAY_LEN(art_when)
                          ? (unsigned)js->artifacts_when
                          : 0;
        upload_w(w, a->name ? a->name : "artifacts", a->select.untracked, a->select.paths,
                 a->select.exclude, art_when[wh], "archive", "zip", a->expire_in_s);
    }
    const struct {
        const char *type;
        const char *const *paths;
    } reports[] = {{"dotenv", js->dotenv}, {"junit", js->junit}};
    for (size_t i = 0; i < SL_ARRAY_LEN(reports); i++)
        if (reports[i].paths && reports[i].paths[0])
            upload_w(w, reports[i].type, false, reports[i].paths, NULL, "always", reports[i].type,
                     "gzip", js->artifacts.expire_in_s);
    sl_jsonw_end_arr(w);
}

/* KEY with SUFFIX, as a string. */
static void suffixed_w(struct sl_jsonw *w, const char *key, const char *suffix)
{
    char *k = sl_xasprintf("%s%s", key, suffix);
    sl_jsonw_str(w, k);
    free(k);
}

/* The cache keys as GitLab sends them with "use separate caches for protected branches"
 * (its default): KEY-protected for a pipeline that gets protected variables, else
 * KEY-non_protected, so a pipeline of an unprotected branch or a fork's request cannot
 * write a cache a protected pipeline restores. */
static void cache_w(struct sl_jsonw *w, const struct sl_job_spec *js, bool protected_)
{
    const char *suffix = protected_ ? "-protected" : "-non_protected";
    sl_jsonw_key(w, "cache");
    sl_jsonw_arr(w);
    for (size_t i = 0; i < js->ncaches; i++) {
        const struct sl_cache_spec *c = &js->caches[i];
        unsigned p = (unsigned)c->policy < SL_ARRAY_LEN(cache_policy) ? (unsigned)c->policy : 0;
        unsigned wh = (unsigned)c->when < SL_ARRAY_LEN(cache_when) ? (unsigned)c->when : 0;
        sl_jsonw_obj(w);
        sl_jsonw_key(w, "key");
        suffixed_w(w, c->key ? c->key : "default", suffix);
        sl_jsonw_kbool(w, "untracked", c->select.untracked);
        sl_jsonw_kstr(w, "policy", cache_policy[p]);
        key_strv(w, "paths", c->select.paths);
        sl_jsonw_kstr(w, "when", cache_when[wh]);
        sl_jsonw_key(w, "fallback_keys");
        sl_jsonw_arr(w);
        for (const char *const *f = c->fallback_keys; f && *f; f++)
            suffixed_w(w, *f, suffix);
        sl_jsonw_end_arr(w);
        sl_jsonw_end_obj(w);
    }
    sl_jsonw_end_arr(w);
}

/* Earlier jobs whose artifacts this one gets: their ids and the archive they uploaded. */
static void dependencies_w(struct sl_jsonw *w, struct sl_server *s, const struct sl_store_job *job,
                           json_t *spec, const char *token)
{
    sl_jsonw_key(w, "dependencies");
    sl_jsonw_arr(w);
    json_t *srcs = json_object_get(spec, "source_positions");
    struct sl_store_job *jobs = NULL;
    size_t n = 0;
    if (json_array_size(srcs) &&
        sl_store_job_list_by_pipeline_no_spec(s->st, job->pipeline_id, &jobs, &n, NULL) == 0)
        for (size_t i = 0; i < json_array_size(srcs); i++) {
            json_int_t pos = json_integer_value(json_array_get(srcs, i));
            if (pos < 0 || (size_t)pos >= n)
                continue;
            const struct sl_store_job *d = &jobs[pos];
            sl_jsonw_obj(w);
            sl_jsonw_kint(w, "id", d->id);
            sl_jsonw_kstr(w, "name", d->name);
            sl_jsonw_kstr(w, "token", token);
            struct sl_store_artifact *arts = NULL;
            size_t na = 0;
            if (sl_store_artifact_list(s->st, d->id, &arts, &na, NULL) == 0 && na > 0) {
                sl_jsonw_key(w, "artifacts_file");
                sl_jsonw_obj(w);
                sl_jsonw_kstr(w, "filename", "artifacts.zip");
                sl_jsonw_kint(w, "size", arts[0].size);
                sl_jsonw_end_obj(w);
            }
            sl_store_artifacts_free(arts, na);
            sl_jsonw_end_obj(w);
        }
    sl_store_jobs_free(jobs, n);
    sl_jsonw_end_arr(w);
}

/* The project's and instance's CI/CD variables the job gets (job_variables.c), written
 * after the YAML's so they rank above them, except the pipeline's own variables
 * (PIPELINE_VARS), which rank above them and are written already. Masked ones are not
 * public and masked by the runner; file ones are written to a file by it. */
static int stored_variables(struct sl_server *s, const struct sl_store_pipeline *p,
                            const struct sl_job_spec *js, json_t *pipeline_vars, struct sl_jsonw *w,
                            struct sl_error *err)
{
    struct srv_job_vars jv = {0};
    int rc = sl_srv_job_variables(s, p->project_id, !p->protected_known ? -1 : p->protected_, js,
                                  &jv, err);
    for (size_t i = 0; rc == 0 && i < jv.n; i++) {
        const struct srv_job_var *v = &jv.vars[i];
        if (!json_object_get(pipeline_vars, v->key))
            variable_w(w, js, v->key, v->value, !v->masked, v->masked, v->file, v->raw);
    }
    sl_srv_job_vars_release(&jv);
    return rc;
}

/* The dotenv variables of the jobs this one receives artifacts from (sl_srv_job_sources),
 * written above the job's YAML variables, below the pipeline's own (PIPELINE_VARS, written
 * already, are skipped), as the built-in workers bind them (jobspec.h). */
static void dotenv_variables(struct sl_server *s, const struct sl_store_job *job, json_t *spec,
                             const struct sl_job_spec *js, json_t *pipeline_vars,
                             struct sl_jsonw *w)
{
    struct sl_arena a = SL_ARENA_INIT;
    struct sl_jobspec_source *src = NULL;
    size_t n = 0;
    char *pdir = sl_xasprintf("%s/pipelines/%lld", s->data_dir, (long long)job->pipeline_id);
    sl_srv_job_sources(s, job, spec, pdir, &a, &src, &n);
    for (size_t i = 0; i < n; i++)
        for (const char *const *kv = src[i].dotenv; kv && *kv; kv++) {
            const char *eq = strchr(*kv, '=');
            if (!eq || eq == *kv)
                continue;
            char *k = sl_xstrndup(*kv, (size_t)(eq - *kv));
            if (!json_object_get(pipeline_vars, k))
                public_w(w, js, k, eq + 1);
            free(k);
        }
    free(pdir);
    sl_arena_release(&a);
}

/* The steps: before_script and script as one, after_script when there is one. */
static void steps_w(struct sl_jsonw *w, const struct sl_job_spec *js, long long timeout_s,
                    long long after_s)
{
    sl_jsonw_key(w, "steps");
    sl_jsonw_arr(w);
    sl_jsonw_obj(w);
    sl_jsonw_kstr(w, "name", "script");
    sl_jsonw_key(w, "script");
    sl_jsonw_arr(w);
    for (const char *const *l = js->exec.before_script; l && *l; l++)
        sl_jsonw_str(w, *l);
    for (const char *const *l = js->exec.script; l && *l; l++)
        sl_jsonw_str(w, *l);
    sl_jsonw_end_arr(w);
    sl_jsonw_kint(w, "timeout", timeout_s);
    sl_jsonw_kstr(w, "when", "on_success");
    sl_jsonw_kbool(w, "allow_failure", false);
    sl_jsonw_end_obj(w);
    if (js->exec.after_script && js->exec.after_script[0]) {
        sl_jsonw_obj(w);
        sl_jsonw_kstr(w, "name", "after_script");
        key_strv(w, "script", js->exec.after_script);
        sl_jsonw_kint(w, "timeout", after_s);
        sl_jsonw_kstr(w, "when", "always");
        sl_jsonw_kbool(w, "allow_failure", true);
        sl_jsonw_end_obj(w);
    }
    sl_jsonw_end_arr(w);
}

int sl_srv_runner_payload(struct sl_server *s, const struct sl_store_job *job,
                          const struct sl_store_pipeline *pipeline,
                          const struct sl_store_runner *runner, const char *token,
                          struct sl_str *out, struct sl_error *err)
{
    struct sl_store_pipeline read = {0};
    struct sl_store_project proj = {0};
    struct sl_job_decoded d;
    json_t *extra = NULL, *pipeline_vars = NULL;
    char *repo = NULL, *refspec = NULL;
    struct sl_str text = SL_STR_INIT;
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
    long long timeout_s = js->exec.timeout_ms > 0 ? js->exec.timeout_ms / 1000 : 3600;
    long long after_s =
        js->exec.after_script_timeout_ms > 0 ? js->exec.after_script_timeout_ms / 1000 : 300;
    const char *ref = pp->ref ? pp->ref : "";
    refspec = pp->is_tag ? sl_xasprintf("+refs/tags/%s:refs/tags/%s", ref, ref)
                         : sl_xasprintf("+refs/heads/%s:refs/remotes/origin/%s", ref, ref);
    int64_t now = sl_time_now_ms();

    struct sl_jsonw w;
    sl_jsonw_init_compact(&w, &text);
    sl_jsonw_obj(&w);
    sl_jsonw_kint(&w, "id", job->id);
    sl_jsonw_kstr(&w, "token", token);
    sl_jsonw_kbool(&w, "allow_git_fetch", true);
    sl_jsonw_key(&w, "job_info");
    sl_jsonw_obj(&w);
    sl_jsonw_kint(&w, "id", job->id);
    sl_jsonw_kstr(&w, "name", job->name);
    sl_jsonw_kstr(&w, "stage", job->stage);
    sl_jsonw_kint(&w, "project_id", proj.id);
    sl_jsonw_kstr(&w, "project_name", proj.name);
    sl_jsonw_kint(&w, "time_in_queue_seconds",
                  job->queued_at && now > job->queued_at ? (now - job->queued_at) / 1000 : 0);
    sl_jsonw_end_obj(&w);
    sl_jsonw_key(&w, "git_info");
    sl_jsonw_obj(&w);
    sl_jsonw_kstr(&w, "repo_url", repo);
    sl_jsonw_kstr(&w, "repo_object_format", "sha1");
    sl_jsonw_kstr(&w, "ref", ref);
    sl_jsonw_kstr(&w, "sha", pp->sha ? pp->sha : "");
    sl_jsonw_kstr(&w, "before_sha",
                  pp->before_sha && *pp->before_sha ? pp->before_sha
                                                    : "0000000000000000000000000000000000000000");
    sl_jsonw_kstr(&w, "ref_type", pp->is_tag ? "tag" : "branch");
    sl_jsonw_key(&w, "refspecs");
    sl_jsonw_arr(&w);
    sl_jsonw_str(&w, refspec);
    sl_jsonw_end_arr(&w);
    sl_jsonw_kint(&w, "depth", 20);
    sl_jsonw_end_obj(&w);
    sl_jsonw_key(&w, "runner_info");
    sl_jsonw_obj(&w);
    sl_jsonw_kint(&w, "timeout", timeout_s);
    sl_jsonw_end_obj(&w);

    /* variables: what only the server knows first, then the job's own in precedence order
     * (the runner lets later entries win) */
    char num[32], url[512];
    sl_jsonw_key(&w, "variables");
    sl_jsonw_arr(&w);
    public_w(&w, js, "CI", "true");
    public_w(&w, js, "GITLAB_CI", "true");
    public_w(&w, js, "CI_SERVER_URL", base);
    for (size_t i = 0; i < js->nvariables; i++)
        variable_w(&w, js, js->variables[i].key, js->variables[i].value, true, false, false, false);
    pipeline_vars = sl_srv_stored_json(pp->variables, JSON_OBJECT, "pipeline's variables", pp->id);
    dotenv_variables(s, job, extra, js, pipeline_vars, &w);
    if ((rc = stored_variables(s, pp, js, pipeline_vars, &w, err)) < 0)
        goto out;
    snprintf(num, sizeof(num), "%lld", (long long)job->id);
    public_w(&w, js, "CI_JOB_ID", num);
    public_w(&w, js, "CI_JOB_NAME", job->name);
    public_w(&w, js, "CI_JOB_STAGE", job->stage);
    variable_w(&w, js, "CI_JOB_TOKEN", token, false, true, false, false);
    snprintf(num, sizeof(num), "%lld", (long long)job->pipeline_id);
    public_w(&w, js, "CI_PIPELINE_ID", num);
    snprintf(url, sizeof(url), "%s/jobs/%lld", base, (long long)job->id);
    public_w(&w, js, "CI_JOB_URL", url);
    snprintf(url, sizeof(url), "%s/pipelines/%lld", base, (long long)job->pipeline_id);
    public_w(&w, js, "CI_PIPELINE_URL", url);
    variable_w(&w, js, "CI_REPOSITORY_URL", repo, false, true, false, false);
    snprintf(num, sizeof(num), "%d", job->attempt);
    public_w(&w, js, "CI_JOB_ATTEMPT", num);
    public_w(&w, js, "CI_RUNNER_DESCRIPTION", runner->description);
    snprintf(num, sizeof(num), "%lld", (long long)runner->id);
    public_w(&w, js, "CI_RUNNER_ID", num);
    sl_jsonw_end_arr(&w);

    steps_w(&w, js, timeout_s, after_s);
    sl_jsonw_key(&w, "image");
    if (js->image)
        image_w(&w, js->image, false);
    else
        sl_jsonw_null(&w);
    sl_jsonw_key(&w, "services");
    sl_jsonw_arr(&w);
    for (size_t i = 0; i < js->nservices; i++)
        image_w(&w, &js->services[i], true);
    sl_jsonw_end_arr(&w);
    artifacts_w(&w, js);
    cache_w(&w, js, pp->protected_known && pp->protected_);
    key_strv(&w, "credentials", NULL);
    dependencies_w(&w, s, job, extra, token);
    sl_jsonw_key(&w, "features");
    sl_jsonw_obj(&w);
    sl_jsonw_kbool(&w, "trace_sections", true);
    sl_jsonw_key(&w, "failure_reasons");
    sl_jsonw_arr(&w);
    for (size_t i = 0; i < SL_ARRAY_LEN(failure_reasons); i++)
        sl_jsonw_str(&w, failure_reasons[i]);
    sl_jsonw_end_arr(&w);
    sl_jsonw_end_obj(&w);
    sl_jsonw_end_obj(&w);
    sl_str_release(out);
    *out = text; /* the caller's now */
    sl_str_init(&text);
out:
    sl_str_release(&text);
    free(repo);
    free(refspec);
    json_decref(extra);
    json_decref(pipeline_vars);
    sl_job_decoded_release(&d);
    sl_store_pipeline_release(&read);
    sl_store_project_release(&proj);
    return rc;
}
