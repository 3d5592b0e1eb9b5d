/* jobspec: which earlier jobs' artifacts a job receives (GitLab's dependencies and needs
 * rule), on hand-made plans. */
#include "base/compat.h"
#include "harness/harness.h"
#include "jobspec/jobspec.h"

/* Four jobs: a, b in stage 0, c in stage 1, d (the one under test) in stage 2. */
static void plan4(struct sl_plan *p, struct sl_plan_job *jobs)
{
    memset(p, 0, sizeof(*p));
    memset(jobs, 0, 4 * sizeof(*jobs));
    static const char *const names[] = {"a", "b", "c", "d"};
    static const size_t stages[] = {0, 0, 1, 2};
    for (size_t i = 0; i < 4; i++) {
        jobs[i].name = names[i];
        jobs[i].stage_index = stages[i];
    }
    p->jobs = jobs;
    p->njobs = 4;
}

static size_t sources(const struct sl_plan *p, size_t *out)
{
    return sl_jobspec_sources(p, 3, out);
}

TEST(earlier_stages_by_default)
{
    struct sl_plan p;
    struct sl_plan_job j[4];
    size_t out[4];
    plan4(&p, j);
    CHECK_INT_EQ(sources(&p, out), 3);
    CHECK(out[0] == 0 && out[1] == 1 && out[2] == 2);
    CHECK_INT_EQ(sl_jobspec_sources(&p, 0, out), 0); /* nothing before the first stage */
}

TEST(needs_with_artifacts_only)
{
    struct sl_plan p;
    struct sl_plan_job j[4];
    size_t out[4];
    plan4(&p, j);
    struct sl_plan_need needs[] = {{"c", 2, true, false}, {"a", 0, false, false}};
    j[3].needs_declared = true;
    j[3].needs = needs;
    j[3].nneeds = 2;
    CHECK_INT_EQ(sources(&p, out), 1);
    CHECK_INT_EQ(out[0], 2);
    j[3].nneeds = 0; /* needs: [] */
    CHECK_INT_EQ(sources(&p, out), 0);
}

TEST(dependencies_alone_in_their_order)
{
    struct sl_plan p;
    struct sl_plan_job j[4];
    size_t out[4];
    plan4(&p, j);
    size_t deps[] = {2, 0, 2};
    j[3].dependencies_declared = true;
    j[3].dependencies = deps;
    j[3].ndependencies = 3;
    CHECK_INT_EQ(sources(&p, out), 2);
    CHECK(out[0] == 2 && out[1] == 0);
    j[3].ndependencies = 0; /* dependencies: [] */
    CHECK_INT_EQ(sources(&p, out), 0);
}

TEST(dependencies_intersected_with_needs_artifacts)
{
    struct sl_plan p;
    struct sl_plan_job j[4];
    size_t out[4];
    plan4(&p, j);
    struct sl_plan_need needs[] = {
        {"a", 0, true, false}, {"b", 1, false, false}, {"c", 2, true, false}};
    size_t deps[] = {1, 2};
    j[3].needs_declared = true;
    j[3].needs = needs;
    j[3].nneeds = 3;
    j[3].dependencies_declared = true;
    j[3].dependencies = deps;
    j[3].ndependencies = 2;
    CHECK_INT_EQ(sources(&p, out), 1); /* b is needed without artifacts, a not listed */
    CHECK_INT_EQ(out[0], 2);
    j[3].nneeds = 0; /* needs: [] with dependencies: nothing */
    CHECK_INT_EQ(sources(&p, out), 0);
}

/* --- compiling: planned job + run context ------------------------------------------ */

/* The value of NAME in a KEY=VALUE list, or NULL. */
static const char *env_get(const char *const *env, const char *name)
{
    size_t n = strlen(name);
    for (; env && *env; env++)
        if (!strncmp(*env, name, n) && (*env)[n] == '=')
            return *env + n + 1;
    return NULL;
}

/* One job "build" with variables, artifacts, a cache and an image, as plan would type
 * them (unexpanded). */
static void plan1(struct sl_plan *p, struct sl_plan_job *j, struct sl_plan_cache *cache,
                  struct sl_plan_image *img)
{
    static const char *const script[] = {"make", NULL};
    static const char *const paths[] = {"$CI_PROJECT_DIR/out/", "${OUT}/bin", NULL};
    static const char *const excl[] = {"$CI_PROJECT_DIR/out/*.o", NULL};
    static const char *const cpaths[] = {"$CI_PROJECT_DIR/.cache", NULL};
    static const char *const dotenv[] = {"$OUT/build.env", NULL};
    static const char *const tags[] = {"linux", NULL};
    memset(p, 0, sizeof(*p));
    memset(j, 0, sizeof(*j));
    memset(cache, 0, sizeof(*cache));
    memset(img, 0, sizeof(*img));
    j->name = "build";
    j->script = script;
    j->timeout_s = 60;
    sl_vars_set(&j->variables, "OUT", "dist", false);
    sl_vars_set(&j->variables, "RAW", "$OUT-kept", true);
    sl_vars_set(&j->variables, "DEFERRED", "$RAW", false);
    sl_vars_set(&j->variables, "CACHE_POLICY", "pull", false);
    sl_vars_set(&j->variables, "CI_COMMIT_REF_SLUG", "main", false);
    sl_vars_set(&j->variables, "FROM_YAML", "yaml", false);
    sl_vars_set(&j->variables, "PIPELINE_VAR", "api", false);
    j->artifacts.declared = true;
    j->artifacts.name = "bin-$CI_JOB_ID";
    j->artifacts.paths = paths;
    j->artifacts.exclude = excl;
    j->artifacts.when = "always";
    j->artifacts.expire_in = "1 day";
    j->artifacts.dotenv = dotenv;
    cache->key = "deps-$CI_COMMIT_REF_SLUG";
    cache->paths = cpaths;
    cache->policy = "$CACHE_POLICY";
    j->caches = cache;
    j->ncaches = 1;
    img->name = "alpine:$OUT";
    j->image = img;
    j->tags = tags;
    p->jobs = j;
    p->njobs = 1;
}

TEST(compile_resolves_env_paths_and_keys)
{
    struct sl_plan p;
    struct sl_plan_job j;
    struct sl_plan_cache c;
    struct sl_plan_image im;
    plan1(&p, &j, &c, &im);
    static const char *const base[] = {"PATH=/bin", "HOME=/h", "FROM_YAML=host", NULL};
    static const char *const dot1[] = {"FROM_YAML=dotenv1", "PIPELINE_VAR=dotenv", NULL};
    static const char *const dot2[] = {"FROM_YAML=dotenv2", NULL};
    static const char *const prot[] = {"PIPELINE_VAR", NULL};
    struct sl_jobspec_source src[] = {{"a", "/store/a", 11, dot1},
                                      {"b", NULL, 12, dot2}}; /* b left no artifacts */
    struct sl_jobspec_ctx ctx = {0};
    ctx.base_env = base;
    ctx.job_id = 42;
    ctx.pipeline_id = 7;
    ctx.attempt = 2;
    ctx.job_url = "http://h/jobs/42";
    ctx.workspace = "/ws/build";
    ctx.builds_dir = "/ws";
    ctx.cache_dir = "/cache";
    ctx.artifacts_dir = "/store/build";
    ctx.sources = src;
    ctx.nsources = 2;
    ctx.protected_vars = prot;
    struct sl_jobspec js;
    struct sl_error err = SL_ERROR_INIT;
    CHECK_INT_EQ(sl_jobspec_compile(&js, &p, 0, &ctx, &err), 0);
    const struct sl_job_spec *s = &js.spec;
    const char *const *env = s->exec.env;
    CHECK_STR_EQ(env_get(env, "PATH"), "/bin");
    CHECK_STR_EQ(env_get(env, "CI_PROJECT_DIR"), "/ws/build");
    CHECK_STR_EQ(env_get(env, "CI_JOB_ID"), "42");
    CHECK_STR_EQ(env_get(env, "CI_PIPELINE_ID"), "7");
    CHECK_STR_EQ(env_get(env, "CI_JOB_URL"), "http://h/jobs/42");
    CHECK_STR_EQ(env_get(env, "CI_JOB_IMAGE"), "alpine:dist");
    CHECK_STR_EQ(env_get(env, "FROM_YAML"), "dotenv2");  /* later source wins over YAML */
    CHECK_STR_EQ(env_get(env, "PIPELINE_VAR"), "api");   /* protected from dotenv */
    CHECK_STR_EQ(env_get(env, "RAW"), "$OUT-kept");      /* raw: verbatim */
    CHECK_STR_EQ(env_get(env, "DEFERRED"), "$OUT-kept"); /* expanded once, as the runner */
    CHECK_STR_EQ(s->artifacts.name, "bin-42");
    CHECK_STR_EQ(s->artifacts.select.paths[0], "/ws/build/out/");
    CHECK_STR_EQ(s->artifacts.select.paths[1], "dist/bin");
    CHECK_STR_EQ(s->artifacts.select.exclude[0], "/ws/build/out/*.o");
    CHECK_INT_EQ(s->artifacts.expire_in_s, 86400);
    CHECK_INT_EQ(s->artifacts_when, SL_JOB_ARTIFACTS_ALWAYS);
    CHECK_STR_EQ(s->dotenv[0], "dist/build.env");
    CHECK_INT_EQ(s->ncaches, 1);
    CHECK_STR_EQ(s->caches[0].key, "deps-main");
    CHECK_STR_EQ(s->caches[0].select.paths[0], "/ws/build/.cache");
    CHECK_INT_EQ(s->caches[0].policy, SL_CACHE_PULL);
    CHECK_STR_EQ(s->image->name, "alpine:dist");
    CHECK_STR_EQ(s->cache_dir, "/cache");
    CHECK_INT_EQ(s->nsources, 1); /* only sources with artifacts are restored */
    CHECK_STR_EQ(s->sources[0].store_dir, "/store/a");
    CHECK_INT_EQ(s->sources[0].job_id, 11);
    CHECK_STR_EQ(s->tags[0], "linux");
    sl_jobspec_release(&js);
    sl_vars_release(&j.variables);
    sl_error_release(&err);
}

TEST(planned_spec_keeps_what_is_written)
{
    struct sl_plan p;
    struct sl_plan_job j;
    struct sl_plan_cache c;
    struct sl_plan_image im;
    plan1(&p, &j, &c, &im);
    struct sl_jobspec js;
    CHECK_INT_EQ(sl_jobspec_plan(&js, &p, 0, NULL), 0);
    CHECK(js.spec.exec.env == NULL);
    CHECK_STR_EQ(js.spec.artifacts.select.paths[0], "$CI_PROJECT_DIR/out/");
    CHECK_STR_EQ(js.spec.caches[0].key, "deps-$CI_COMMIT_REF_SLUG");
    CHECK_INT_EQ(js.spec.nvariables, 7);
    CHECK(js.spec.variables[1].raw);
    CHECK_INT_EQ(js.spec.exec.timeout_ms, 60000);
    struct sl_jobspec_ctx ctx = {0}; /* no workspace: refused */
    struct sl_jobspec b;
    struct sl_error err = SL_ERROR_INIT;
    CHECK_INT_EQ(sl_jobspec_bind(&b, &js.spec, &ctx, &err), SL_EINVAL);
    sl_jobspec_release(&b);
    CHECK_INT_EQ(sl_jobspec_plan(&b, &p, 5, &err), SL_EINVAL);
    sl_jobspec_release(&b);
    sl_jobspec_release(&js);
    sl_vars_release(&j.variables);
    sl_error_release(&err);
}
