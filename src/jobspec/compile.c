/* compile.c: a planned job plus its run context becomes the runnable job (jobspec.h). */
#include "jobspec/jobspec.h"

#include "base/alloc.h"
#include "base/time.h"
#include "expr/vars.h"

/* --- planning: typed plan fields as written ---------------------------------------------- */

static enum sl_job_artifacts_when artifacts_when(const char *w)
{
    return w && !strcmp(w, "on_failure") ? SL_JOB_ARTIFACTS_ON_FAILURE
           : w && !strcmp(w, "always")   ? SL_JOB_ARTIFACTS_ALWAYS
                                         : SL_JOB_ARTIFACTS_ON_SUCCESS;
}

static enum sl_cache_when cache_when(const char *w)
{
    return w && !strcmp(w, "on_failure") ? SL_CACHE_ON_FAILURE
           : w && !strcmp(w, "always")   ? SL_CACHE_ALWAYS
                                         : SL_CACHE_ON_SUCCESS;
}

/* cache:policy may be a variable (GitLab expands it when the pipeline is created). */
static enum sl_cache_policy cache_policy(const char *p, const struct sl_vars *vars)
{
    char *e = p ? sl_vars_expand(vars, p, false) : NULL;
    enum sl_cache_policy r = e && !strcmp(e, "pull")   ? SL_CACHE_PULL
                             : e && !strcmp(e, "push") ? SL_CACHE_PUSH
                                                       : SL_CACHE_PULL_PUSH;
    free(e);
    return r;
}

static const char *const *dup_strv(struct sl_arena *a, const char *const *v)
{
    if (!v)
        return NULL;
    size_t n = 0;
    while (v[n])
        n++;
    const char **out = sl_arena_alloc(a, (n + 1) * sizeof(*out));
    for (size_t i = 0; i < n; i++)
        out[i] = sl_arena_strdup(a, v[i]);
    return out;
}

static const char *dup_str(struct sl_arena *a, const char *s)
{
    return s ? sl_arena_strdup(a, s) : NULL;
}

static void plan_image(struct sl_arena *a, const struct sl_plan_image *pi, struct sl_job_image *im)
{
    memset(im, 0, sizeof(*im));
    im->name = dup_str(a, pi->name);
    im->entrypoint = dup_strv(a, pi->entrypoint);
    im->pull_policy = dup_strv(a, pi->pull_policy);
    if (pi->alias) {
        const char **al = sl_arena_alloc(a, 2 * sizeof(*al));
        al[0] = sl_arena_strdup(a, pi->alias);
        im->alias = al;
    }
    im->command = dup_strv(a, pi->command);
    im->variables = dup_strv(a, pi->variables);
    im->platform = dup_str(a, pi->platform);
    im->user = dup_str(a, pi->user);
}

int sl_jobspec_plan(struct sl_jobspec *out, const struct sl_plan *p, size_t idx,
                    struct sl_error *err)
{
    memset(out, 0, sizeof(*out));
    out->arena = (struct sl_arena)SL_ARENA_INIT;
    if (idx >= p->njobs)
        return sl_error_set(err, SL_EINVAL, "jobspec: no job %zu in the plan", idx);
    struct sl_arena *a = &out->arena;
    const struct sl_plan_job *pj = &p->jobs[idx];
    struct sl_job_spec *s = &out->spec;

    sl_exec_spec_init(&s->exec);
    s->exec.name = sl_arena_strdup(a, pj->name);
    s->exec.before_script = dup_strv(a, pj->before_script);
    s->exec.script = pj->script ? dup_strv(a, pj->script) : dup_strv(a, (const char *[]){NULL});
    s->exec.after_script = dup_strv(a, pj->after_script);
    s->exec.timeout_ms = pj->timeout_s * 1000;

    struct sl_job_var *vars = sl_arena_alloc(a, (pj->variables.n + 1) * sizeof(*vars));
    for (size_t i = 0; i < pj->variables.n; i++) {
        vars[i].key = sl_arena_strdup(a, pj->variables.v[i].name);
        vars[i].value = sl_arena_strdup(a, pj->variables.v[i].value);
        vars[i].raw = pj->variables.v[i].raw;
    }
    s->variables = vars;
    s->nvariables = pj->variables.n;
    s->tags = dup_strv(a, pj->tags);

    const struct sl_plan_artifacts *pa = &pj->artifacts;
    if (pa->declared) {
        s->has_artifacts = pa->paths || pa->untracked;
        s->artifacts.name = dup_str(a, pa->name);
        s->artifacts.select.paths = dup_strv(a, pa->paths);
        s->artifacts.select.exclude = dup_strv(a, pa->exclude);
        s->artifacts.select.untracked = pa->untracked;
        int64_t secs;
        if (pa->expire_in && !strcmp(pa->expire_in, "never"))
            s->artifacts.expire_in_s = SL_ARTIFACTS_EXPIRE_NEVER;
        else if (pa->expire_in && sl_time_parse_duration(pa->expire_in, &secs) == 0)
            s->artifacts.expire_in_s = secs;
        s->artifacts_when = artifacts_when(pa->when);
        s->dotenv = dup_strv(a, pa->dotenv);
        s->junit = dup_strv(a, pa->junit);
    }
    s->coverage = dup_str(a, pj->coverage);

    if (pj->ncaches) {
        struct sl_cache_spec *cs = sl_arena_alloc(a, pj->ncaches * sizeof(*cs));
        for (size_t i = 0; i < pj->ncaches; i++) {
            const struct sl_plan_cache *pc = &pj->caches[i];
            cs[i] = (struct sl_cache_spec)SL_CACHE_SPEC_INIT;
            cs[i].key = dup_str(a, pc->key);
            cs[i].key_files = dup_strv(a, pc->key_files);
            cs[i].key_prefix = dup_str(a, pc->key_prefix);
            cs[i].fallback_keys = dup_strv(a, pc->fallback_keys);
            cs[i].select.paths = dup_strv(a, pc->paths);
            cs[i].select.untracked = pc->untracked;
            cs[i].policy = cache_policy(pc->policy, &pj->variables);
            cs[i].when = cache_when(pc->when);
        }
        s->caches = cs;
        s->ncaches = pj->ncaches;
    }

    if (pj->image) {
        struct sl_job_image *im = sl_arena_alloc(a, sizeof(*im));
        plan_image(a, pj->image, im);
        s->image = im;
    }
    if (pj->nservices) {
        struct sl_job_image *sv = sl_arena_alloc(a, pj->nservices * sizeof(*sv));
        for (size_t i = 0; i < pj->nservices; i++)
            plan_image(a, &pj->services[i], &sv[i]);
        s->services = sv;
        s->nservices = pj->nservices;
    }
    return 0;
}

/* --- binding: the run context -------------------------------------------------------- */

static bool listed(const char *const *names, const char *name)
{
    for (; names && *names; names++)
        if (!strcmp(*names, name))
            return true;
    return false;
}

/* Sets each KEY=VALUE of KV in V unless its name is protected. */
static void set_kv(struct sl_vars *v, const char *const *kv, const char *const *protected_vars,
                   bool raw)
{
    for (; kv && *kv; kv++) {
        const char *eq = strchr(*kv, '=');
        if (!eq || eq == *kv)
            continue;
        char *k = sl_xstrndup(*kv, (size_t)(eq - *kv));
        if (!listed(protected_vars, k))
            sl_vars_set(v, k, eq + 1, raw);
        free(k);
    }
}

static void set_num(struct sl_vars *v, const char *k, long long n)
{
    char buf[32];
    snprintf(buf, sizeof(buf), "%lld", n);
    sl_vars_set(v, k, buf, false);
}

/* A string expanded as the runner expands paths and keys (sl_vars_runner_expand, against
 * the final environment). */
static const char *rx(struct sl_arena *a, const struct sl_vars *fin, const char *s)
{
    if (!s)
        return NULL;
    char *e = sl_vars_runner_expand(fin, s);
    const char *r = sl_arena_strdup(a, e);
    free(e);
    return r;
}

static const char *const *rxv(struct sl_arena *a, const struct sl_vars *fin, const char *const *v)
{
    if (!v)
        return NULL;
    size_t n = 0;
    while (v[n])
        n++;
    const char **out = sl_arena_alloc(a, (n + 1) * sizeof(*out));
    for (size_t i = 0; i < n; i++)
        out[i] = rx(a, fin, v[i]);
    return out;
}

static void bind_image(struct sl_arena *a, const struct sl_vars *fin, const struct sl_job_image *in,
                       struct sl_job_image *im)
{
    *im = *in;
    im->name = rx(a, fin, in->name);
    im->alias = rxv(a, fin, in->alias);
    im->variables = rxv(a, fin, in->variables);
}

static int bind_into(struct sl_arena *a, struct sl_job_spec *s, const struct sl_job_spec *planned,
                     const struct sl_jobspec_ctx *ctx, struct sl_error *err)
{
    struct sl_vars v = SL_VARS_INIT, fin = SL_VARS_INIT;
    char ts[40];
    if (!ctx->workspace)
        return sl_error_set(err, SL_EINVAL, "jobspec: job %s has no workspace",
                            planned->exec.name ? planned->exec.name : "(unnamed)");
    *s = *planned;

    /* 1, 2: the base, then the job's own variables */
    set_kv(&v, ctx->base_env, NULL, true);
    for (size_t i = 0; i < planned->nvariables; i++)
        sl_vars_set(&v, planned->variables[i].key, planned->variables[i].value,
                    planned->variables[i].raw);
    /* 3: what only the run knows */
    sl_vars_set(&v, "CI_PROJECT_DIR", ctx->workspace, false);
    if (ctx->builds_dir)
        sl_vars_set(&v, "CI_BUILDS_DIR", ctx->builds_dir, false);
    if (ctx->job_id > 0)
        set_num(&v, "CI_JOB_ID", (long long)ctx->job_id);
    if (ctx->pipeline_id > 0)
        set_num(&v, "CI_PIPELINE_ID", (long long)ctx->pipeline_id);
    if (ctx->pipeline_iid > 0)
        set_num(&v, "CI_PIPELINE_IID", (long long)ctx->pipeline_iid);
    if (ctx->attempt > 0)
        set_num(&v, "CI_JOB_ATTEMPT", ctx->attempt);
    if (ctx->job_url)
        sl_vars_set(&v, "CI_JOB_URL", ctx->job_url, false);
    if (ctx->pipeline_url)
        sl_vars_set(&v, "CI_PIPELINE_URL", ctx->pipeline_url, false);
    sl_time_iso8601(sl_time_now_ms(), ts, sizeof(ts));
    sl_vars_set(&v, "CI_JOB_STARTED_AT", ts, false);
    sl_vars_set(&v, "CI_SHARED_ENVIRONMENT", "true", false);
    sl_vars_set(&v, "CI_RUNNER_DESCRIPTION",
                ctx->runner_description ? ctx->runner_description : "sluice", false);
    sl_vars_set(&v, "CI_RUNNER_TAGS", "[]", false);
    sl_vars_set(&v, "CI_RUNNER_VERSION", SL_VERSION, false);
    sl_vars_set(&v, "CI_CONCURRENT_ID", "0", false);
    if (planned->image && planned->image->name)
        sl_vars_set(&v, "CI_JOB_IMAGE", planned->image->name, false);
    /* 4: the sources' dotenv reports, then the extra variables, under the protected names */
    for (size_t i = 0; i < ctx->nsources; i++)
        set_kv(&v, ctx->sources[i].dotenv, ctx->protected_vars, false);
    set_kv(&v, ctx->extra, ctx->protected_vars, false);
    set_kv(&v, ctx->extra_raw, ctx->protected_vars, true);

    char **envp = sl_vars_envp_runner(&v);
    size_t n = 0;
    while (envp[n])
        n++;
    const char **env = sl_arena_alloc(a, (n + 1) * sizeof(*env));
    for (size_t i = 0; i < n; i++) {
        env[i] = sl_arena_strdup(a, envp[i]);
        char *eq = strchr(envp[i], '=');
        *eq = 0;
        sl_vars_set(&fin, envp[i], eq + 1, true);
    }
    sl_vars_envp_free(envp);
    s->exec.env = env;

    /* paths and keys, as the runner expands them */
    s->artifacts.name = rx(a, &fin, planned->artifacts.name);
    s->artifacts.select.paths = rxv(a, &fin, planned->artifacts.select.paths);
    s->artifacts.select.exclude = rxv(a, &fin, planned->artifacts.select.exclude);
    s->dotenv = rxv(a, &fin, planned->dotenv);
    s->junit = rxv(a, &fin, planned->junit);
    if (planned->ncaches) {
        struct sl_cache_spec *cs = sl_arena_alloc(a, planned->ncaches * sizeof(*cs));
        for (size_t i = 0; i < planned->ncaches; i++) {
            const struct sl_cache_spec *pc = &planned->caches[i];
            cs[i] = *pc;
            cs[i].key = rx(a, &fin, pc->key);
            cs[i].key_files = rxv(a, &fin, pc->key_files);
            cs[i].key_prefix = rx(a, &fin, pc->key_prefix);
            cs[i].fallback_keys = rxv(a, &fin, pc->fallback_keys);
            cs[i].select.paths = rxv(a, &fin, pc->select.paths);
        }
        s->caches = cs;
    }
    if (planned->image) {
        struct sl_job_image *im = sl_arena_alloc(a, sizeof(*im));
        bind_image(a, &fin, planned->image, im);
        s->image = im;
    }
    if (planned->nservices) {
        struct sl_job_image *sv = sl_arena_alloc(a, planned->nservices * sizeof(*sv));
        for (size_t i = 0; i < planned->nservices; i++)
            bind_image(a, &fin, &planned->services[i], &sv[i]);
        s->services = sv;
    }

    s->project_dir = dup_str(a, ctx->project_dir);
    s->workspace = sl_arena_strdup(a, ctx->workspace);
    s->cache_dir = dup_str(a, ctx->cache_dir);
    s->artifacts_dir = dup_str(a, ctx->artifacts_dir);
    struct sl_job_source *src = sl_arena_alloc(a, (ctx->nsources + 1) * sizeof(*src));
    size_t ns = 0;
    for (size_t i = 0; i < ctx->nsources; i++) {
        if (!ctx->sources[i].store_dir)
            continue;
        src[ns].name = dup_str(a, ctx->sources[i].name);
        src[ns].store_dir = sl_arena_strdup(a, ctx->sources[i].store_dir);
        src[ns++].job_id = ctx->sources[i].job_id;
    }
    s->sources = src;
    s->nsources = ns;
    sl_vars_release(&v);
    sl_vars_release(&fin);
    return 0;
}

int sl_jobspec_bind(struct sl_jobspec *out, const struct sl_job_spec *planned,
                    const struct sl_jobspec_ctx *ctx, struct sl_error *err)
{
    memset(out, 0, sizeof(*out));
    out->arena = (struct sl_arena)SL_ARENA_INIT;
    return bind_into(&out->arena, &out->spec, planned, ctx, err);
}

int sl_jobspec_compile(struct sl_jobspec *out, const struct sl_plan *p, size_t idx,
                       const struct sl_jobspec_ctx *ctx, struct sl_error *err)
{
    int rc = sl_jobspec_plan(out, p, idx, err);
    if (rc < 0)
        return rc;
    struct sl_job_spec planned = out->spec;
    return bind_into(&out->arena, &out->spec, &planned, ctx, err);
}

void sl_jobspec_release(struct sl_jobspec *js)
{
    sl_arena_release(&js->arena);
    memset(&js->spec, 0, sizeof(js->spec));
}
