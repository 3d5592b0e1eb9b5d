/* payload.c: GitLab's job payload into a runnable job (payload.h). */
#include "base/compat.h"
#include "agent/payload.h"
#include "base/alloc.h"

#include <jansson.h>

/* The decoder's state: where strings go, and the first error met (later ones are
 * dropped, so the message names the first bad field). */
struct dec {
    struct sl_arena *a;
    struct sl_error *err;
    int rc;
};

static void bad(struct dec *d, const char *field, const char *what)
{
    if (d->rc < 0)
        return;
    d->rc = sl_error_set(d->err, SL_EINVAL, "payload: %s: %s", field, what);
}

/* An optional string: NULL when absent or null. */
static const char *str(struct dec *d, json_t *o, const char *key, const char *field)
{
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v))
        return NULL;
    if (!json_is_string(v)) {
        bad(d, field, "not a string");
        return NULL;
    }
    return sl_arena_strndup(d->a, json_string_value(v), json_string_length(v));
}

static int64_t num(struct dec *d, json_t *o, const char *key, const char *field)
{
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_integer(v)) {
        bad(d, field, "not an integer");
        return 0;
    }
    return json_integer_value(v);
}

static bool flag(struct dec *d, json_t *o, const char *key, const char *field)
{
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v))
        return false;
    if (!json_is_boolean(v)) {
        bad(d, field, "not a boolean");
        return false;
    }
    return json_is_true(v);
}

/* A list of strings, NULL-terminated; NULL when absent. A lone string counts as a list of
 * one (GitLab sends `entrypoint` and `command` both ways in older versions). */
static const char *const *strv(struct dec *d, json_t *o, const char *key, const char *field)
{
    json_t *v = json_object_get(o, key);
    const char **out;
    if (!v || json_is_null(v))
        return NULL;
    if (json_is_string(v)) {
        out = sl_arena_alloc(d->a, 2 * sizeof(*out));
        out[0] = sl_arena_strdup(d->a, json_string_value(v));
        return out;
    }
    if (!json_is_array(v)) {
        bad(d, field, "not a list of strings");
        return NULL;
    }
    if (json_array_size(v) > SL_AGENT_PAYLOAD_MAX_LIST) {
        if (d->rc == 0)
            d->rc = sl_error_set(d->err, SL_ELIMIT, "payload: %s: more than %d entries", field,
                                 SL_AGENT_PAYLOAD_MAX_LIST);
        return NULL;
    }
    out = sl_arena_alloc(d->a, (json_array_size(v) + 1) * sizeof(*out));
    for (size_t i = 0; i < json_array_size(v); i++) {
        json_t *e = json_array_get(v, i);
        if (!json_is_string(e)) {
            bad(d, field, "not a list of strings");
            return NULL;
        }
        out[i] = sl_arena_strndup(d->a, json_string_value(e), json_string_length(e));
    }
    return out;
}

/* The entries of list KEY of O (an array of objects), or 0 with *ARR NULL when absent. */
static size_t objs(struct dec *d, json_t *o, const char *key, json_t **arr)
{
    json_t *v = json_object_get(o, key);
    *arr = NULL;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_array(v)) {
        bad(d, key, "not a list");
        return 0;
    }
    if (json_array_size(v) > SL_AGENT_PAYLOAD_MAX_LIST) {
        if (d->rc == 0)
            d->rc = sl_error_set(d->err, SL_ELIMIT, "payload: %s: more than %d entries", key,
                                 SL_AGENT_PAYLOAD_MAX_LIST);
        return 0;
    }
    for (size_t i = 0; i < json_array_size(v); i++)
        if (!json_is_object(json_array_get(v, i))) {
            bad(d, key, "not a list of objects");
            return 0;
        }
    *arr = v;
    return json_array_size(v);
}

static json_t *obj(struct dec *d, json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v))
        return NULL;
    if (!json_is_object(v)) {
        bad(d, key, "not an object");
        return NULL;
    }
    return v;
}

static const char *field_name(struct dec *d, const char *list, size_t i, const char *key)
{
    return sl_arena_printf(d->a, "%s[%zu].%s", list, i, key);
}

/* A table of the string values a field may take, so each enum is data. */
struct name_value {
    const char *name;
    int value;
};

static int named(struct dec *d, const char *s, const struct name_value *t, size_t n, int dflt,
                 const char *field)
{
    if (!s || !*s)
        return dflt;
    for (size_t i = 0; i < n; i++)
        if (!strcmp(s, t[i].name))
            return t[i].value;
    bad(d, field, sl_arena_printf(d->a, "unknown value '%s'", s));
    return dflt;
}

static const struct name_value when_names[] = {{"on_success", SL_JOB_ARTIFACTS_ON_SUCCESS},
                                               {"on_failure", SL_JOB_ARTIFACTS_ON_FAILURE},
                                               {"always", SL_JOB_ARTIFACTS_ALWAYS}};
static const struct name_value cache_when_names[] = {{"on_success", SL_CACHE_ON_SUCCESS},
                                                     {"on_failure", SL_CACHE_ON_FAILURE},
                                                     {"always", SL_CACHE_ALWAYS}};
static const struct name_value policy_names[] = {
    {"pull-push", SL_CACHE_PULL_PUSH}, {"pull", SL_CACHE_PULL}, {"push", SL_CACHE_PUSH}};

static void parse_vars(struct dec *d, json_t *root, struct sl_agent_job *job)
{
    json_t *arr;
    size_t n = objs(d, root, "variables", &arr);
    job->vars = sl_arena_alloc(d->a, (n + 1) * sizeof(*job->vars));
    for (size_t i = 0; i < n && d->rc == 0; i++) {
        json_t *v = json_array_get(arr, i);
        struct sl_agent_var *out = &job->vars[job->nvars];
        out->key = str(d, v, "key", field_name(d, "variables", i, "key"));
        out->value = str(d, v, "value", field_name(d, "variables", i, "value"));
        out->masked = flag(d, v, "masked", field_name(d, "variables", i, "masked"));
        out->file = flag(d, v, "file", field_name(d, "variables", i, "file"));
        out->raw = flag(d, v, "raw", field_name(d, "variables", i, "raw"));
        out->public_ = flag(d, v, "public", field_name(d, "variables", i, "public"));
        if (d->rc == 0 && (!out->key || !*out->key || strchr(out->key, '=')))
            bad(d, field_name(d, "variables", i, "key"), "missing or not a variable name");
        if (!out->value)
            out->value = "";
        job->nvars++;
    }
}

/* steps: GitLab sends before_script and script joined as the step "script", and
 * after_script as the step "after_script" with its own timeout. */
static void parse_steps(struct dec *d, json_t *root, struct sl_agent_job *job)
{
    json_t *arr;
    size_t n = objs(d, root, "steps", &arr);
    for (size_t i = 0; i < n && d->rc == 0; i++) {
        json_t *s = json_array_get(arr, i);
        const char *name = str(d, s, "name", field_name(d, "steps", i, "name"));
        const char *const *script = strv(d, s, "script", field_name(d, "steps", i, "script"));
        int64_t timeout = num(d, s, "timeout", field_name(d, "steps", i, "timeout"));
        if (d->rc < 0)
            break;
        if (name && !strcmp(name, "script")) {
            job->spec.exec.script = script ? script : (const char *const[]){NULL};
        } else if (name && !strcmp(name, "after_script")) {
            job->spec.exec.after_script = script;
            if (timeout > 0)
                job->spec.exec.after_script_timeout_ms = timeout * 1000;
        } else {
            bad(d, field_name(d, "steps", i, "name"),
                sl_arena_printf(d->a, "unsupported step '%s'", name ? name : ""));
        }
    }
    if (d->rc == 0 && !job->spec.exec.script)
        bad(d, "steps", "no script step");
}

/* GitLab's alias is one string; with service_multiple_aliases it may hold several,
 * separated by commas or spaces. */
static const char *const *aliases(struct dec *d, const char *alias)
{
    size_t n = 0, cap = 0;
    const char **out = NULL, **res;
    for (const char *p = alias; p && *p;) {
        size_t skip = strspn(p, ", "), len;
        p += skip;
        len = strcspn(p, ", ");
        if (!len)
            break;
        SL_GROW(out, cap, n + 1);
        out[n++] = sl_arena_strndup(d->a, p, len);
        p += len;
    }
    if (!n)
        return NULL;
    res = sl_arena_alloc(d->a, (n + 1) * sizeof(*res));
    memcpy(res, out, n * sizeof(*res));
    free(out);
    return res;
}

static void parse_image(struct dec *d, json_t *o, struct sl_job_image *img, const char *field)
{
    json_t *vars;
    size_t nv;
    const char *alias;
    img->name = str(d, o, "name", sl_arena_printf(d->a, "%s.name", field));
    img->entrypoint = strv(d, o, "entrypoint", sl_arena_printf(d->a, "%s.entrypoint", field));
    img->command = strv(d, o, "command", sl_arena_printf(d->a, "%s.command", field));
    img->pull_policy = strv(d, o, "pull_policy", sl_arena_printf(d->a, "%s.pull_policy", field));
    alias = str(d, o, "alias", sl_arena_printf(d->a, "%s.alias", field));
    img->alias = aliases(d, alias);
    vars = json_object_get(o, "variables");
    if (json_is_object(vars)) {
        /* a map, as written in YAML ({KEY: VALUE} or {KEY: {value: V}}) */
        const char **kv = sl_arena_alloc(d->a, (json_object_size(vars) + 1) * sizeof(*kv));
        const char *k;
        json_t *v;
        size_t i = 0;
        json_object_foreach(vars, k, v)
        {
            json_t *val = json_is_object(v) ? json_object_get(v, "value") : v;
            kv[i++] = sl_arena_printf(d->a, "%s=%s", k,
                                      json_is_string(val) ? json_string_value(val) : "");
        }
        img->variables = kv;
        return;
    }
    nv = objs(d, o, "variables", &vars);
    if (nv) {
        const char **kv = sl_arena_alloc(d->a, (nv + 1) * sizeof(*kv));
        for (size_t i = 0; i < nv; i++) {
            json_t *v = json_array_get(vars, i);
            const char *k = str(d, v, "key", sl_arena_printf(d->a, "%s.variables", field));
            const char *val = str(d, v, "value", sl_arena_printf(d->a, "%s.variables", field));
            kv[i] = sl_arena_printf(d->a, "%s=%s", k ? k : "", val ? val : "");
        }
        img->variables = kv;
    }
}

static void parse_images(struct dec *d, json_t *root, struct sl_agent_job *job)
{
    json_t *image = obj(d, root, "image"), *arr;
    if (image && json_object_get(image, "name") &&
        json_string_length(json_object_get(image, "name"))) {
        struct sl_job_image *img = sl_arena_alloc(d->a, sizeof(*img));
        parse_image(d, image, img, "image");
        job->spec.image = img;
    }
    arr = json_object_get(root, "services");
    size_t n = json_is_array(arr) ? json_array_size(arr) : 0;
    if (arr && !json_is_null(arr) && !json_is_array(arr))
        bad(d, "services", "not a list");
    if (n > SL_AGENT_PAYLOAD_MAX_LIST && d->rc == 0)
        d->rc = sl_error_set(d->err, SL_ELIMIT, "payload: services: more than %d entries",
                             SL_AGENT_PAYLOAD_MAX_LIST);
    if (n && d->rc == 0) {
        struct sl_job_image *svcs = sl_arena_alloc(d->a, n * sizeof(*svcs));
        for (size_t i = 0; i < n && d->rc == 0; i++) {
            json_t *e = json_array_get(arr, i);
            if (json_is_string(e)) /* a name alone, as YAML allows */
                svcs[i].name = sl_arena_strdup(d->a, json_string_value(e));
            else if (json_is_object(e))
                parse_image(d, e, &svcs[i], sl_arena_printf(d->a, "services[%zu]", i));
            else
                bad(d, sl_arena_printf(d->a, "services[%zu]", i), "not an image");
            if (d->rc == 0 && (!svcs[i].name || !*svcs[i].name))
                bad(d, field_name(d, "services", i, "name"), "missing");
        }
        job->spec.services = svcs;
        job->spec.nservices = n;
    }
}

static void parse_artifacts(struct dec *d, json_t *root, struct sl_agent_job *job)
{
    json_t *arr;
    size_t n = objs(d, root, "artifacts", &arr);
    job->uploads = sl_arena_alloc(d->a, (n + 1) * sizeof(*job->uploads));
    for (size_t i = 0; i < n && d->rc == 0; i++) {
        json_t *a = json_array_get(arr, i);
        struct sl_agent_upload *u = &job->uploads[i];
        u->name = str(d, a, "name", field_name(d, "artifacts", i, "name"));
        u->type = str(d, a, "artifact_type", field_name(d, "artifacts", i, "artifact_type"));
        u->format = str(d, a, "artifact_format", field_name(d, "artifacts", i, "artifact_format"));
        u->expire_in = str(d, a, "expire_in", field_name(d, "artifacts", i, "expire_in"));
        u->when = named(d, str(d, a, "when", field_name(d, "artifacts", i, "when")), when_names,
                        SL_ARRAY_LEN(when_names), SL_JOB_ARTIFACTS_ON_SUCCESS,
                        field_name(d, "artifacts", i, "when"));
        u->select.paths = strv(d, a, "paths", field_name(d, "artifacts", i, "paths"));
        u->select.exclude = strv(d, a, "exclude", field_name(d, "artifacts", i, "exclude"));
        u->select.untracked = flag(d, a, "untracked", field_name(d, "artifacts", i, "untracked"));
        if (!u->type || !*u->type)
            u->type = "archive";
        if (!u->format || !*u->format)
            u->format = "zip";
        if (d->rc == 0 && strcmp(u->format, "zip") && strcmp(u->format, "gzip") &&
            strcmp(u->format, "raw"))
            bad(d, field_name(d, "artifacts", i, "artifact_format"),
                sl_arena_printf(d->a, "unsupported format '%s'", u->format));
        job->nuploads++;
    }
}

static void parse_caches(struct dec *d, json_t *root, struct sl_agent_job *job)
{
    json_t *arr;
    size_t n = objs(d, root, "cache", &arr);
    if (!n)
        return;
    struct sl_cache_spec *caches = sl_arena_alloc(d->a, n * sizeof(*caches));
    for (size_t i = 0; i < n && d->rc == 0; i++) {
        json_t *c = json_array_get(arr, i);
        struct sl_cache_spec *cs = &caches[i];
        *cs = (struct sl_cache_spec)SL_CACHE_SPEC_INIT;
        json_t *key = json_object_get(c, "key");
        if (json_is_object(key)) {
            /* key:files and key:prefix, as written: the agent hashes the files */
            cs->key_files = strv(d, key, "files", field_name(d, "cache", i, "key.files"));
            cs->key_prefix = str(d, key, "prefix", field_name(d, "cache", i, "key.prefix"));
        } else {
            cs->key = str(d, c, "key", field_name(d, "cache", i, "key"));
        }
        cs->fallback_keys = strv(d, c, "fallback_keys", field_name(d, "cache", i, "fallback_keys"));
        cs->select.paths = strv(d, c, "paths", field_name(d, "cache", i, "paths"));
        cs->select.untracked = flag(d, c, "untracked", field_name(d, "cache", i, "untracked"));
        cs->policy = named(d, str(d, c, "policy", field_name(d, "cache", i, "policy")),
                           policy_names, SL_ARRAY_LEN(policy_names), SL_CACHE_PULL_PUSH,
                           field_name(d, "cache", i, "policy"));
        cs->when = named(d, str(d, c, "when", field_name(d, "cache", i, "when")), cache_when_names,
                         SL_ARRAY_LEN(cache_when_names), SL_CACHE_ON_SUCCESS,
                         field_name(d, "cache", i, "when"));
    }
    job->spec.caches = caches;
    job->spec.ncaches = n;
}

static void parse_deps(struct dec *d, json_t *root, struct sl_agent_job *job)
{
    json_t *arr;
    size_t n = objs(d, root, "dependencies", &arr);
    job->deps = sl_arena_alloc(d->a, (n + 1) * sizeof(*job->deps));
    for (size_t i = 0; i < n && d->rc == 0; i++) {
        json_t *o = json_array_get(arr, i), *file;
        struct sl_agent_dep *dep = &job->deps[i];
        dep->id = num(d, o, "id", field_name(d, "dependencies", i, "id"));
        dep->token = str(d, o, "token", field_name(d, "dependencies", i, "token"));
        dep->name = str(d, o, "name", field_name(d, "dependencies", i, "name"));
        if ((file = obj(d, o, "artifacts_file"))) {
            dep->filename = str(d, file, "filename", "dependencies.artifacts_file.filename");
            dep->size = num(d, file, "size", "dependencies.artifacts_file.size");
        }
        if (d->rc == 0 && dep->id <= 0)
            bad(d, field_name(d, "dependencies", i, "id"), "missing");
        job->ndeps++;
    }
}

static bool is_sha(const char *s)
{
    size_t n = s ? strspn(s, "0123456789abcdef") : 0;
    return s && (n == 40 || n == 64) && !s[n];
}

static void parse_git(struct dec *d, json_t *root, struct sl_agent_job *job)
{
    json_t *g = obj(d, root, "git_info");
    if (!g) {
        bad(d, "git_info", "missing");
        return;
    }
    job->git.repo_url = str(d, g, "repo_url", "git_info.repo_url");
    job->git.ref = str(d, g, "ref", "git_info.ref");
    job->git.sha = str(d, g, "sha", "git_info.sha");
    job->git.before_sha = str(d, g, "before_sha", "git_info.before_sha");
    job->git.ref_type = str(d, g, "ref_type", "git_info.ref_type");
    job->git.refspecs = strv(d, g, "refspecs", "git_info.refspecs");
    job->git.depth = (int)num(d, g, "depth", "git_info.depth");
    if (d->rc == 0 && (!job->git.repo_url || !*job->git.repo_url))
        bad(d, "git_info.repo_url", "missing");
    if (d->rc == 0 && !is_sha(job->git.sha))
        bad(d, "git_info.sha", "not a commit id");
}

int sl_agent_payload_parse(struct sl_agent_job *out, const char *text, size_t len,
                           struct sl_error *err)
{
    struct dec d = {&out->arena, err, 0};
    json_error_t je;
    json_t *root = NULL, *info, *runner;

    memset(out, 0, sizeof(*out));
    out->arena = (struct sl_arena)SL_ARENA_INIT;
    sl_exec_spec_init(&out->spec.exec);
    if (len > SL_AGENT_PAYLOAD_MAX) {
        d.rc = sl_error_set(err, SL_ELIMIT, "payload: larger than %d bytes", SL_AGENT_PAYLOAD_MAX);
        goto out;
    }
    root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (!root || !json_is_object(root)) {
        d.rc = sl_error_set(err, SL_EINVAL, "payload: not a JSON object%s%s", root ? "" : ": ",
                            root ? "" : je.text);
        goto out;
    }
    out->id = num(&d, root, "id", "id");
    out->token = str(&d, root, "token", "token");
    if (d.rc == 0 && (out->id <= 0 || !out->token || !*out->token))
        bad(&d, "id", "a job needs an id and a token");
    if ((info = obj(&d, root, "job_info"))) {
        out->name = str(&d, info, "name", "job_info.name");
        out->stage = str(&d, info, "stage", "job_info.stage");
        out->project_id = num(&d, info, "project_id", "job_info.project_id");
        out->pipeline_id = num(&d, info, "pipeline_id", "job_info.pipeline_id");
        out->project_path = str(&d, info, "project_full_path", "job_info.project_full_path");
    }
    if ((runner = obj(&d, root, "runner_info")))
        out->timeout_s = num(&d, runner, "timeout", "runner_info.timeout");
    if (!out->name)
        out->name = sl_arena_printf(&out->arena, "job %lld", (long long)out->id);
    out->spec.exec.name = out->name;
    if (out->timeout_s > 0)
        out->spec.exec.timeout_ms = out->timeout_s * 1000;
    parse_git(&d, root, out);
    parse_vars(&d, root, out);
    parse_steps(&d, root, out);
    parse_images(&d, root, out);
    parse_artifacts(&d, root, out);
    parse_caches(&d, root, out);
    parse_deps(&d, root, out);
out:
    json_decref(root);
    return d.rc;
}

void sl_agent_job_release(struct sl_agent_job *job)
{
    sl_arena_release(&job->arena);
    memset(job, 0, sizeof(*job));
}

const char *sl_agent_job_var(const struct sl_agent_job *job, const char *key)
{
    /* the last entry wins, as in the runner's variable list */
    for (size_t i = job->nvars; i-- > 0;)
        if (!strcmp(job->vars[i].key, key))
            return job->vars[i].value;
    return NULL;
}
