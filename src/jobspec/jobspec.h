/* jobspec.h: turning a planned job into the runnable job of exec (job.h), the one path
 * `sluice run`, the server's workers and agents share, so a job is the same everywhere.
 *
 * Two halves, because the server plans a job long before a worker or a runner takes it:
 *
 *   sl_jobspec_plan    planned job (plan.h) -> a "planned" struct sl_job_spec: scripts,
 *                      timeouts, the job's variables (typed, in precedence order), and
 *                      artifacts, caches, image, services and reports as written (NOT
 *                      expanded: the runner expands them with the job's final variables).
 *                      Nothing of the run is known yet. This is what the server stores
 *                      (exec/jobjson) and what GitLab's runner API turns into a payload.
 *   sl_jobspec_bind    planned spec + run context (ids, attempt, directories, the
 *                      artifacts and dotenv of the jobs it depends on, extra variables)
 *                      -> the fully resolved spec sl_job_run runs: the final environment
 *                      in GitLab's precedence, paths and keys expanded as the runner does
 *                      ($CI_PROJECT_DIR in artifacts:paths, exclude, cache:paths and key).
 *   sl_jobspec_compile both at once (`sluice run`, which knows everything when a job
 *                      starts).
 *
 *   struct sl_jobspec js;
 *   struct sl_jobspec_ctx ctx = {.workspace = ..., .job_id = 42, ...};
 *   if (sl_jobspec_compile(&js, plan, idx, &ctx, &err) < 0) ... ERR says why ...
 *   sl_job_run(&js.spec, &res, &err);   (set js.spec.exec.on_line, log_path, cancel first)
 *   sl_jobspec_release(&js);
 *
 * The environment, lowest precedence first (GitLab's order, VARIABLES.md):
 *   1. CTX->base_env, verbatim (the host's for `sluice run`'s shell jobs, a clean base on
 *      the server);
 *   2. the job's variables from the plan (predefined, global and job YAML, matrix, rules,
 *      pipeline variables: plan.h has applied their precedence);
 *   3. what only the run knows: CI_PROJECT_DIR, CI_BUILDS_DIR, CI_JOB_ID, CI_PIPELINE_ID
 *      and CI_PIPELINE_IID (when CTX gives them), CI_JOB_URL, CI_PIPELINE_URL, CI_JOB_STARTED_AT,
 *      CI_JOB_IMAGE, CI_RUNNER_*, CI_CONCURRENT_ID, CI_SHARED_ENVIRONMENT;
 *   4. dotenv variables of the sources, in source order (a later job's value wins), then
 *      CTX->extra (project CI/CD variables rank above dotenv); neither overrides a name
 *      in CTX->protected_vars (the pipeline's own variables, which rank above both);
 *   then the runner's expansion (sl_vars_envp_runner): references deferred to raw
 *   variables are expanded once, raw values stay verbatim. */
#ifndef SL_JOBSPEC_H
#define SL_JOBSPEC_H

#include "base/arena.h"
#include "base/compat.h"
#include "base/error.h"
#include "exec/job.h"
#include "plan/plan.h"

/* The jobs whose artifacts and dotenv reports job IDX of P receives, GitLab's rule:
 *  - `dependencies:` when given (`dependencies: []`: nothing), in its order; with
 *    `needs:` as well, only those of them needed with `artifacts: true`;
 *  - else, with `needs:`, its needs with `artifacts: true` (`needs: []`: nothing);
 *  - else every job of the earlier stages, in plan order.
 * Writes plan indices to OUT (room for p->njobs entries), in the order artifacts are
 * restored (a later job's files win), and returns how many. */
size_t sl_jobspec_sources(const struct sl_plan *p, size_t idx, size_t *out);

/* An earlier job this job receives artifacts (and dotenv variables) from: one of those
 * sl_jobspec_sources names, as the caller found it. All borrowed. */
struct sl_jobspec_source {
    const char *name;          /* for the "Downloading artifacts" line */
    const char *store_dir;     /* where its artifacts were collected; NULL: it has none */
    int64_t job_id;            /* 0: unknown */
    const char *const *dotenv; /* KEY=VALUE from its reports:dotenv, NULL-terminated or NULL */
};

/* What the run adds to a planned job. Every pointer is borrowed for the call; strings
 * the result keeps are copied. NULL or 0 fields are simply not set. */
struct sl_jobspec_ctx {
    const char *const *base_env;    /* KEY=VALUE, lowest precedence */
    int64_t pipeline_id;            /* CI_PIPELINE_ID when the plan did not know it (server) */
    int64_t pipeline_iid;           /* CI_PIPELINE_IID likewise */
    int64_t job_id;                 /* CI_JOB_ID */
    int attempt;                    /* 1-based; the server's CI_JOB_ATTEMPT */
    const char *job_url;            /* CI_JOB_URL */
    const char *pipeline_url;       /* CI_PIPELINE_URL */
    const char *project_dir;        /* copied into WORKSPACE (workspace.h) */
    const char *workspace;          /* the job's directory: CI_PROJECT_DIR */
    const char *builds_dir;         /* CI_BUILDS_DIR */
    const char *cache_dir;          /* where caches live; NULL: no caching */
    const char *artifacts_dir;      /* where this job's artifacts are collected */
    const char *runner_description; /* CI_RUNNER_DESCRIPTION */
    const struct sl_jobspec_source *sources; /* in restore order */
    size_t nsources;
    const char *const *protected_vars; /* names dotenv and EXTRA never override */
    const char *const *extra;          /* KEY=VALUE above dotenv (CI/CD variables) */
    const char *const *extra_raw;      /* the same, kept verbatim (raw: true, file paths) */
};

/* A runnable job and the arena its strings and lists live in. */
struct sl_jobspec {
    struct sl_arena arena;
    struct sl_job_spec spec;
};

/* The planned spec of job IDX of P into *OUT (release with sl_jobspec_release, also after
 * a failure). Borrows nothing from P afterwards. */
int sl_jobspec_plan(struct sl_jobspec *out, const struct sl_plan *p, size_t idx,
                    struct sl_error *err);
/* PLANNED (from sl_jobspec_plan, or decoded from exec/jobjson) bound to CTX into *OUT:
 * the spec to run. *OUT owns copies of everything it points to except the scripts,
 * variables and tags of PLANNED, which it borrows: PLANNED must outlive *OUT. SL_EINVAL
 * when CTX has no workspace. */
int sl_jobspec_bind(struct sl_jobspec *out, const struct sl_job_spec *planned,
                    const struct sl_jobspec_ctx *ctx, struct sl_error *err);
/* sl_jobspec_plan and sl_jobspec_bind in one: *OUT owns everything. */
int sl_jobspec_compile(struct sl_jobspec *out, const struct sl_plan *p, size_t idx,
                       const struct sl_jobspec_ctx *ctx, struct sl_error *err);
void sl_jobspec_release(struct sl_jobspec *js);

#endif
