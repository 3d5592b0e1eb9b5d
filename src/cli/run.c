/* run.c: `sluice run`, the pipeline of the current repository run right here: plan it,
 * turn each planned job into a job spec (workspace, artifacts, caches, environment), and
 * hand them to the engine (sl_run_engine.c). */
#include "base/compat.h"
#include "cli/run.h"
#include "cli/run_variables.h"
#include "base/alloc.h"
#include "base/arena.h"
#include "base/fs.h"
#include "base/str.h"
#include "base/time.h"
#include "cli/cli.h"
#include "cli/opts.h"
#include "cli/pipeline.h"

#include "cli/run_executor.h"
#include "cli/run_watch.h"
#include "jobspec/jobspec.h"

#include <jansson.h>
#include <git2.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <sys/file.h>
#include <unistd.h>

extern char **environ;

static const struct sl_cli_opt run_opts[] = {
    SL_CLI_OPT_FILE('f'),
    SL_CLI_OPT_VAR('v'),
    SL_CLI_OPT_INPUT('i'),
    {'F', 0, "variables-file", "FILE",
     "CI/CD variables (YAML KEY: value or KEY: {value, masked, variable_type, raw}, or "
     "KEY=value lines), as a project's; also read: ~/.config/sluice/variables.yml and "
     ".sluice/variables.yml; repeatable (docs/secrets.md)",
     SL_OPT_REPEAT},
    {'j', 'j', "jobs", "N", "run up to N jobs at once (default: the number of cores)", 0},
    {'n', 0, "needs", NULL,
     "with JOB..., also run what they wait for (needs, else earlier stages), transitively", 0},
    {'s', 0, "stage", "S", "run only the jobs of stage S", 0},
    {'m', 0, "manual", "JOB", "play manual job JOB when it is reached; repeatable", SL_OPT_REPEAT},
    {'r', 0, "ref", "R", "plan as branch R", 0},
    {'t', 0, "tag", "T", "plan as tag T", 0},
    {'C', 0, "no-color", NULL, "no colours even on a terminal", 0},
    {'J', 0, "json", NULL, "JSON-lines events instead of text", 0},
    {'L', 0, "list", NULL,
     "list the pipeline's jobs (stage, when, allow_failure, needs) without running them", 0},
    {'O', 0, "list-json", NULL, "the same as --list, as JSON", 0},
    {'e', 0, "executor", "E",
     "auto (default: docker for jobs with an image, else shell), shell, docker or sandbox "
     "(docs/executors.md)",
     0},
    {'I', 0, "image", "I", "the default image of jobs without one (as a runner's)", 0},
    {'P', 0, "pull-policy", "P", "always, if-not-present (default) or never", 0},
    {'A', 0, "allowed-pull-policies", "L", "the jobs' pull_policy values honoured", 0},
    {'M', 0, "memory", "B", "the sandbox's memory limit (bytes; k, m, g suffixes)", 0},
    {'N', 0, "pids", "N", "the sandbox's limit of processes", 0},
    {'U', 0, "cpus", "F", "the sandbox's CPUs (a fraction allowed)", 0},
    {'R', 0, "rootfs", "DIR", "the sandbox's root file system", 0},
    {'H', 0, "sandbox-host-network", NULL, "honour SLUICE_SANDBOX_NETWORK=host of jobs", 0},
    {'W', 0, "watch", NULL,
     "after the run, wait for tracked files (git ls-files) to change and run again: the jobs "
     "whose rules:changes match the changed files, else every job; Ctrl-C stops",
     0},
    CLI_INCLUDE_OPTS,
};

const struct sl_cli_spec sl_cli_spec_run = {
    .name = "run",
    .operands = "[JOB...]",
    .about = "Plans the pipeline of the current repository and runs it here, as GitLab would:\n"
             "stages and needs, when, allow_failure, retry, timeouts, artifacts, caches and\n"
             "dotenv reports. Each job runs in its own clean copy of the project under\n"
             ".sluice/builds/ (tracked files plus untracked files git does not ignore, so local\n"
             "edits are tested without a commit), kept from run to run and cleaned before each\n"
             "job as GIT_STRATEGY fetch does (GIT_STRATEGY, GIT_CLEAN_FLAGS, GIT_DEPTH and\n"
             "GIT_CHECKOUT work as in GitLab). JOB... runs only these jobs (a parallel job's\n"
             "name runs all its instances).\n",
    .epilog = "Exit codes: 0 the pipeline passed, 1 it failed or was canceled, 2 usage or\n"
              "configuration error.\n",
    .docs = "docs/run.md",
    .opts = run_opts,
    .nopts = SL_ARRAY_LEN(run_opts),
};

struct run_args {
    const char **jobs, **vars, **manual, **inputs, **varfiles;
    size_t njobs, nvars, nmanual, ninputs, nvarfiles;
    const char *file, *stage, *ref, *tag;
    long parallel;
    bool needs, color, json, watch;
    int list; /* 0, LIST_TEXT or LIST_JSON */
    struct run_executor_opts xo;
    struct cli_include_opts includes;
    size_t nprojects;
};

enum { LIST_TEXT = 1, LIST_JSON };

/* --- --list ------------------------------------------------------------------------ */

/* The jobs SEL marks, as gitlab-ci-local --list shows them: needs is "-" (JSON null) when
 * the job has no needs: and waits for the earlier stages. */
static void list_jobs(const struct sl_plan *p, const bool *sel, bool as_json)
{
    json_t *arr = json_array();
    size_t wn = 3, ws = 5;
    for (size_t i = 0; i < p->njobs; i++)
        if (sel[i]) {
            wn = SL_MAX(wn, strlen(p->jobs[i].name));
            ws = SL_MAX(ws, strlen(p->jobs[i].stage));
        }
    if (!as_json)
        printf("%-*s  %-*s  %-10s  %-13s  %s\n", (int)wn, "job", (int)ws, "stage", "when",
               "allow_failure", "needs");
    for (size_t i = 0; i < p->njobs; i++) {
        const struct sl_plan_job *j = &p->jobs[i];
        if (!sel[i])
            continue;
        json_t *needs = j->needs_declared ? json_array() : json_null();
        struct sl_str ns = SL_STR_INIT;
        for (size_t k = 0; k < j->nneeds; k++) {
            json_array_append_new(needs, json_string(j->needs[k].job));
            sl_str_addf(&ns, "%s%s", k ? ", " : "", j->needs[k].job);
        }
        if (as_json) {
            json_array_append_new(arr,
                                  json_pack("{s:s, s:s, s:s, s:b, s:o}", "name", j->name, "stage",
                                            j->stage, "when", sl_plan_when_name(j->when),
                                            "allow_failure", j->allow_failure, "needs", needs));
        } else {
            printf("%-*s  %-*s  %-10s  %-13s  %s\n", (int)wn, j->name, (int)ws, j->stage,
                   sl_plan_when_name(j->when), j->allow_failure ? "true" : "false",
                   !j->needs_declared ? "-"
                   : ns.len           ? ns.buf
                                      : "[]");
            json_decref(needs);
        }
        sl_str_release(&ns);
    }
    if (as_json) {
        char *out = json_dumps(arr, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        printf("%s\n", out);
        free(out);
    }
    json_decref(arr);
}

/* --- selection --------------------------------------------------------------------- */

/* What job I waits for, as GitLab runs it: its `needs`, or without `needs` every job of the
 * earlier stages; transitively. */
static void select_needs(const struct sl_plan *p, size_t i, bool *sel)
{
    const struct sl_plan_job *j = &p->jobs[i];
    if (!j->needs_declared) {
        for (size_t o = 0; o < p->njobs; o++)
            if (p->jobs[o].stage_index < j->stage_index && !sel[o]) {
                sel[o] = true;
                select_needs(p, o, sel);
            }
        return;
    }
    for (size_t k = 0; k < j->nneeds; k++) {
        size_t o = j->needs[k].index;
        if (!sel[o]) {
            sel[o] = true;
            select_needs(p, o, sel);
        }
    }
}

static int select_jobs(const struct sl_plan *p, const struct run_args *a, bool *sel)
{
    bool any_filter = a->njobs || a->stage;
    for (size_t i = 0; i < p->njobs; i++)
        sel[i] = !any_filter;
    for (size_t n = 0; n < a->njobs; n++) {
        bool found = false;
        for (size_t i = 0; i < p->njobs; i++) {
            if (!strcmp(p->jobs[i].name, a->jobs[n]) || !strcmp(p->jobs[i].base_name, a->jobs[n])) {
                sel[i] = found = true;
            }
        }
        if (!found) {
            bool excluded = false;
            for (size_t e = 0; e < p->nexcluded; e++)
                if (!strcmp(p->excluded[e].name, a->jobs[n])) {
                    sl_cli_error("run: job '%s' is not in this pipeline: %s", a->jobs[n],
                                 p->excluded[e].reason);
                    excluded = true;
                }
            if (!excluded)
                sl_cli_error("run: there is no job '%s'", a->jobs[n]);
            return SL_EXIT_USAGE;
        }
    }
    if (a->stage) {
        bool found = false;
        for (size_t i = 0; i < p->njobs; i++)
            if (!strcmp(p->jobs[i].stage, a->stage))
                sel[i] = found = true;
        if (!found) {
            sl_cli_error("run: no job of this pipeline is in stage '%s'", a->stage);
            return SL_EXIT_USAGE;
        }
    }
    if (a->needs)
        for (size_t i = 0; i < p->njobs; i++)
            if (sel[i])
                select_needs(p, i, sel);
    return SL_EXIT_OK;
}

/* --- job specs from the plan ---------------------------------------------------------- */

struct builder {
    struct sl_arena *a;
    const struct sl_plan *plan;
    const char *project_dir, *sluice_dir, *pipeline_dir;
    size_t *newidx; /* plan index -> run index, SIZE_MAX when not selected */
    char **host_env;
    long long pipeline_id;
    int64_t first_job_id; /* CI_JOB_ID of run index 0 (sl_plan_reserve_job_ids) */
    const struct run_executor_opts *xo;
    struct cli_unacted *unacted; /* what the jobs' executors ignore, warned once */
    const char *dir_prefix;      /* a child pipeline's jobs: "<bridge slug>-", else "" */
};

/* A job's directory name, the same in every run of the same configuration (so a later
 * run can find an earlier run's artifacts): its slug, with "-2", "-3"... for jobs whose
 * names slug alike, in plan order. */
static const char *job_dir_name(struct builder *b, size_t plan_index)
{
    const struct sl_plan *p = b->plan;
    const char *slug = sl_plan_slugify(b->a, p->jobs[plan_index].name);
    if (!*slug)
        slug = "job";
    int same = 0;
    for (size_t i = 0; i < plan_index; i++)
        same += !strcmp(sl_plan_slugify(b->a, p->jobs[i].name), slug);
    const char *pre = b->dir_prefix ? b->dir_prefix : "";
    return same ? sl_arena_printf(b->a, "%s%s-%d", pre, slug, same + 1)
                : sl_arena_printf(b->a, "%s%s", pre, slug);
}

/* The artifacts of job PLAN_INDEX from the latest earlier pipeline that collected some,
 * for a job run alone (`sluice run deploy` after a full run), as gitlab-ci-local does. */
static const char *earlier_artifacts(struct builder *b, size_t plan_index, long long *from)
{
    const char *dir = job_dir_name(b, plan_index);
    for (long long id = b->pipeline_id - 1; id >= 1 && id > b->pipeline_id - 1000; id--) {
        char *store = sl_xasprintf("%s/pipelines/%lld/artifacts/%s", b->sluice_dir, id, dir);
        char *meta = sl_fs_join(store, "artifacts.json");
        bool found = sl_fs_exists(meta);
        free(meta);
        if (found) {
            const char *r = sl_arena_strdup(b->a, store);
            free(store);
            *from = id;
            return r;
        }
        free(store);
    }
    return NULL;
}

/* A source job that is not part of this run: its artifacts from an earlier run, if any. */
static void add_earlier(struct builder *b, struct run_job *rj, size_t plan_index)
{
    long long from = 0;
    const char *store = earlier_artifacts(b, plan_index, &from);
    if (!store)
        return;
    struct sl_job_source *x = (struct sl_job_source *)&rj->earlier[rj->nearlier++];
    x->name = sl_arena_printf(b->a, "%s of pipeline #%lld", b->plan->jobs[plan_index].name, from);
    x->store_dir = store;
}

static void fill_sources(struct builder *b, struct run_job *rj, const struct sl_plan_job *pj)
{
    const struct sl_plan *p = b->plan;
    size_t cap = p->njobs + 1;
    rj->sources = sl_arena_alloc(b->a, cap * sizeof(size_t));
    rj->earlier = sl_arena_alloc(b->a, cap * sizeof(struct sl_job_source));
    size_t *from = sl_arena_alloc(b->a, cap * sizeof(size_t));
    size_t n = sl_jobspec_sources(p, (size_t)(pj - p->jobs), from);
    for (size_t i = 0; i < n; i++) {
        size_t o = b->newidx[from[i]];
        if (o == SIZE_MAX) { /* not part of this run */
            add_earlier(b, rj, from[i]);
            continue;
        }
        rj->sources[rj->nsources++] = o;
    }
}

static enum sl_sched_when sched_when(enum sl_plan_when w)
{
    switch (w) {
    case SL_PLAN_ON_FAILURE:
        return SL_SCHED_ON_FAILURE;
    case SL_PLAN_ALWAYS:
        return SL_SCHED_ALWAYS;
    case SL_PLAN_MANUAL:
        return SL_SCHED_WHEN_MANUAL;
    case SL_PLAN_DELAYED:
        return SL_SCHED_DELAYED;
    default:
        return SL_SCHED_ON_SUCCESS;
    }
}

static void build_job(struct builder *b, struct run_job *rj, size_t plan_index, size_t idx)
{
    const struct sl_plan_job *pj = &b->plan->jobs[plan_index];
    const char *dir = job_dir_name(b, plan_index);
    struct sl_sched_job *s = &rj->sched;
    rj->name = pj->name;
    rj->stage = pj->stage;
    rj->resource_group = pj->resource_group;
    s->name = pj->name;
    s->stage = (int)pj->stage_index;
    s->needs_declared = pj->needs_declared;
    size_t *needs = sl_arena_alloc(b->a, (pj->nneeds + 1) * sizeof(size_t));
    size_t nn = 0;
    for (size_t i = 0; i < pj->nneeds; i++)
        if (b->newidx[pj->needs[i].index] != SIZE_MAX)
            needs[nn++] = b->newidx[pj->needs[i].index];
    s->needs = needs;
    s->nneeds = nn;
    s->when = sched_when(pj->when);
    s->start_in_ms = pj->start_in_s * 1000;
    s->allow_failure = pj->allow_failure;
    s->allow_exit_codes = pj->allow_exit_codes;
    s->nallow_exit_codes = pj->nallow_exit_codes;
    s->retry_max = pj->retry_max > SL_SCHED_MAX_RETRY ? SL_SCHED_MAX_RETRY : pj->retry_max;
    for (size_t i = 0; i < pj->nretry_when; i++)
        sl_sched_retry_when_parse(pj->retry_when[i], &s->retry_when);
    s->retry_exit_codes = pj->retry_exit_codes;
    s->nretry_exit_codes = pj->nretry_exit_codes;

    /* the job as written now; the run context is bound when it starts (sl_run_engine.c),
     * once the jobs it depends on have left their artifacts and dotenv reports */
    sl_jobspec_plan(&rj->planned, b->plan, plan_index, NULL);
    struct sl_jobspec_ctx *c = &rj->ctx;
    c->base_env = (const char *const *)b->host_env;
    c->job_id = b->first_job_id + (int64_t)idx;
    c->project_dir = b->project_dir;
    c->workspace = sl_arena_printf(b->a, "%s/builds/%s", b->sluice_dir, dir);
    c->builds_dir = sl_arena_printf(b->a, "%s/builds", b->sluice_dir);
    c->cache_dir = sl_arena_printf(b->a, "%s/cache", b->sluice_dir);
    c->artifacts_dir = sl_arena_printf(b->a, "%s/artifacts/%s", b->pipeline_dir, dir);
    c->runner_description = "sluice run";
    rj->log_path = sl_arena_printf(b->a, "%s/logs/%s.log", b->pipeline_dir, dir);
    fill_sources(b, rj, pj);
    /* what the job's executor will ignore, noted once before the run */
    struct sl_job_spec probe = rj->planned.spec;
    probe.workspace = c->workspace;
    sl_run_executor_apply(b->a, b->xo, &probe, b->unacted);
    /* a container gets the job's variables only, as with the runner: nothing of the
     * environment sluice was started in (a shell job keeps it, as a local run wants) */
    if (probe.exec.executor == SL_EXEC_DOCKER)
        c->base_env = NULL;
}

/* --- the command ------------------------------------------------------------------ */

static int parse_args(int argc, char **argv, struct run_args *a)
{
    int opt;
    a->color = sl_cli_color();
    struct sl_cli_args p;
    sl_cli_args_init(&p, &sl_cli_spec_run, argc, argv);
    while ((opt = sl_cli_next(&p)) > 0) {
        switch (opt) {
        case 'f':
            a->file = p.arg;
            break;
        case CLI_OPT_OFFLINE:
        case CLI_OPT_INCLUDE_PROJECT:
        case CLI_OPT_TEMPLATE_DIR:
            sl_cli_include_opt(&a->includes, opt, p.arg, &a->nprojects);
            break;
        case 'v':
            a->vars[a->nvars++] = p.arg;
            break;
        case 'i':
            a->inputs[a->ninputs++] = p.arg;
            break;
        case 'F':
            a->varfiles[a->nvarfiles++] = p.arg;
            break;
        case 'm':
            a->manual[a->nmanual++] = p.arg;
            break;
        case 'n':
            a->needs = true;
            break;
        case 's':
            a->stage = p.arg;
            break;
        case 'C':
            a->color = false;
            break;
        case 'J':
            a->json = true;
            break;
        case 'r':
            a->ref = p.arg;
            break;
        case 't':
            a->tag = p.arg;
            break;
        case 'j': {
            char *end;
            a->parallel = strtol(p.arg, &end, 10);
            if (*end || a->parallel < 1 || a->parallel > 1024) {
                sl_cli_error("run: -j takes a number of jobs from 1 to 1024, not '%s'", p.arg);
                return SL_EXIT_USAGE;
            }
            break;
        }
        case 'e':
            if (!sl_run_executor_parse(p.arg, &a->xo.executor)) {
                sl_cli_error("run: unknown executor '%s' (auto, shell, docker or sandbox)", p.arg);
                return SL_EXIT_USAGE;
            }
            break;
        case 'I':
            a->xo.image = p.arg;
            break;
        case 'M':
        case 'N':
        case 'U':
            if (!sl_run_executor_limit("run",
                                       opt == 'M'   ? "memory"
                                       : opt == 'N' ? "pids"
                                                    : "cpus",
                                       p.arg, &a->xo.sandbox))
                return SL_EXIT_USAGE;
            break;
        case 'R':
            a->xo.sandbox.rootfs = p.arg;
            break;
        case 'H':
            a->xo.sandbox.allow_host_network = true;
            break;
        case 'P':
        case 'A': {
            unsigned m = sl_run_executor_policies(p.arg);
            if (!m || (opt == 'P' && (m & (m - 1)))) {
                sl_cli_error("run: --%s takes %s of always, if-not-present, never, not '%s'",
                             opt == 'P' ? "pull-policy" : "allowed-pull-policies",
                             opt == 'P' ? "one" : "a comma-separated list", p.arg);
                return SL_EXIT_USAGE;
            }
            if (opt == 'P')
                a->xo.pull_policy = m;
            else
                a->xo.allowed_policies = m;
            break;
        }
        case 'W':
            a->watch = true;
            break;
        case 'L':
            a->list = LIST_TEXT;
            break;
        case 'O':
            a->list = LIST_JSON;
            break;
        }
    }
    if (opt < 0)
        return p.exit == SL_EXIT_OK ? -1 : p.exit;
    for (int i = 0; i < p.nrest; i++)
        a->jobs[a->njobs++] = p.rest[i];
    if (a->ref && a->tag) {
        sl_cli_error("run: --ref and --tag exclude each other");
        return SL_EXIT_USAGE;
    }
    if (a->watch && a->list) {
        sl_cli_error("run: --watch runs jobs; it does not go with --list or --list-json");
        return SL_EXIT_USAGE;
    }
    return SL_EXIT_OK;
}

/* --- pipelines: the top one and the children of its bridge jobs -------------------- */

/* What every pipeline of one `sluice run` shares. */
struct run_ctx {
    const struct run_args *a;
    const char *project_dir, *sluice_dir;
    const char *const *protected_vars;
    const struct run_variables *variables; /* the variables files' */
    struct run_output *out;
    struct cli_unacted *unacted;
};

/* One pipeline being run: the top one, or a bridge job's child. */
struct run_child {
    struct run_ctx *rc;
    struct sl_arena arena;
    const char *prefix;     /* "bridge > " for a child's job names, "" at the top */
    const char *bridge;     /* the bridge job's name (a child), NULL at the top */
    const char *dir_prefix; /* its jobs' directories: "<bridge slug>-", NULL at the top */
    struct sl_trigger trigger;
    struct sl_config *cfg;
    struct sl_plan *plan;
    bool *sel;
    struct run_job *jobs;
    size_t n;
    const char *pipeline_dir;
    struct sl_exec_cancel *cancel; /* a child's: its parent's; NULL at the top */
    struct run_bridge_ops ops;     /* for its bridge jobs: ctx is this pipeline */
    int depth;                     /* 0 at the top, 1 for a child, 2 for its child */
    enum sl_sched_status status;
    int64_t duration_ms;
};

static struct run_child *child_prepare(void *ctx, struct run_job *jobs, size_t bridge, char *why,
                                       size_t whylen);
static enum sl_sched_status child_run(void *ctx, struct run_child *c,
                                      struct sl_exec_cancel *cancel);

static void pipe_ops(struct run_child *c)
{
    c->ops.ctx = c;
    c->ops.prepare = child_prepare;
    c->ops.run = child_run;
}

static void pipe_release(struct run_child *c)
{
    for (size_t i = 0; c->jobs && i < c->n; i++) {
        if (c->jobs[i].child) {
            pipe_release(c->jobs[i].child);
            free(c->jobs[i].child);
        }
        sl_job_result_release(&c->jobs[i].result);
        sl_jobspec_release(&c->jobs[i].planned);
    }
    free(c->jobs);
    free(c->sel);
    if (c->prefix && *c->prefix) { /* a child owns its trigger, config and plan */
        sl_plan_free(c->plan);
        sl_config_free(c->cfg);
        sl_trigger_release(&c->trigger);
    }
    sl_arena_release(&c->arena);
}

/* The run jobs of C's selected plan jobs, with their directories and job ids. */
static int pipe_build(struct run_child *c, struct sl_error *err)
{
    struct run_ctx *rc = c->rc;
    const struct sl_plan *plan = c->plan;
    struct builder b = {0};
    b.a = &c->arena;
    b.plan = plan;
    b.project_dir = rc->project_dir;
    b.sluice_dir = rc->sluice_dir;
    b.pipeline_dir = c->pipeline_dir;
    b.host_env = environ;
    b.xo = &rc->a->xo;
    b.unacted = rc->unacted;
    b.pipeline_id = (long long)c->trigger.pipeline_id;
    b.dir_prefix = c->dir_prefix;
    b.newidx = sl_arena_alloc(&c->arena, (plan->njobs + 1) * sizeof(size_t));
    c->n = 0;
    for (size_t i = 0; i < plan->njobs; i++)
        b.newidx[i] = c->sel[i] ? c->n++ : SIZE_MAX;
    if (c->n == 0)
        return 0;
    char *logs = sl_xasprintf("%s/logs", c->pipeline_dir);
    int r = sl_fs_mkdir_p(logs, 0755, err);
    free(logs);
    if (r < 0)
        return r;
    if ((r = sl_plan_reserve_job_ids(rc->project_dir, (int64_t)c->n, &b.first_job_id, err)) < 0)
        return r;
    c->jobs = sl_xcalloc(c->n, sizeof(*c->jobs));
    for (size_t i = 0; i < plan->njobs; i++) {
        if (!c->sel[i])
            continue;
        struct run_job *rj = &c->jobs[b.newidx[i]];
        build_job(&b, rj, i, b.newidx[i]);
        if (*c->prefix) {
            rj->name = sl_arena_printf(&c->arena, "%s%s", c->prefix, rj->name);
            rj->sched.name = rj->name;
        }
        if (plan->jobs[i].bridge.declared) {
            rj->trigger = &plan->jobs[i].bridge;
            rj->depend = rj->trigger->depend;
        }
    }
    return 0;
}

static int pipe_run(struct run_child *c, struct sl_error *err)
{
    struct run_ctx *rc = c->rc;
    struct run_options opts = {0};
    opts.parallel = (size_t)rc->a->parallel;
    opts.manual = rc->a->manual;
    opts.project_dir = rc->project_dir;
    opts.sluice_dir = rc->sluice_dir;
    opts.pipeline_dir = c->pipeline_dir;
    opts.xo = &rc->a->xo;
    opts.protected_vars = rc->protected_vars;
    opts.extra = rc->variables->extra;
    opts.extra_raw = rc->variables->extra_raw;
    opts.mask = rc->variables->mask;
    opts.bridge = &c->ops;
    opts.cancel = c->cancel;
    bool warnings = false;
    c->status = SL_SCHED_FAILED;
    return sl_run_engine(c->jobs, c->n, c->plan->nstages, &opts, rc->out, &c->status, &warnings,
                         &c->duration_ms, err);
}

/* The summary rows of C's jobs, each bridge's child's rows after it. */
static void pipe_rows(const struct run_child *c, struct run_summary_row **rows, size_t *n,
                      size_t *cap)
{
    for (size_t i = 0; i < c->n; i++) {
        const struct run_job *j = &c->jobs[i];
        SL_GROW(*rows, *cap, *n + 1);
        struct run_summary_row *r = &(*rows)[(*n)++];
        memset(r, 0, sizeof(*r));
        r->name = j->name;
        r->stage = j->stage;
        r->status = sl_sched_status_name(j->status);
        r->allowed_failure = j->allowed_failure;
        r->duration_ms = j->ran ? j->duration_ms : -1;
        r->coverage = j->result.coverage;
        r->tests_passed = j->result.has_junit ? (int)j->result.junit.success : -1;
        r->tests_failed =
            j->result.has_junit ? (int)(j->result.junit.failed + j->result.junit.errored) : 0;
        r->failure_reason = j->status == SL_SCHED_FAILED || j->allowed_failure ? j->failure : NULL;
        r->attempt = j->attempt;
        if (j->child)
            pipe_rows(j->child, rows, n, cap);
    }
}

/* trigger:include as the child's main file: its entries as include:local, an artifact's
 * file first restored from the job that made it into the child's directory. NULL (WHY
 * filled) for what sluice run cannot read. Caller frees. */
static char *child_yaml(struct run_child *parent, size_t bridge, const char *child_dir, char *why,
                        size_t whylen)
{
    const struct sl_plan_trigger *t = parent->jobs[bridge].trigger;
    struct sl_str y = SL_STR_INIT;
    struct sl_error err = SL_ERROR_INIT;
    sl_str_adds(&y, "include:\n");
    for (size_t i = 0; i < t->nincludes; i++) {
        const struct sl_plan_trigger_include *e = &t->includes[i];
        const char *file = e->local;
        const char *art = e->artifact;
        if (art) {
            const char *job = e->job;
            const struct run_job *src = NULL;
            for (size_t k = 0; job && k < parent->n; k++)
                if (!strcmp(parent->jobs[k].name + strlen(parent->prefix), job))
                    src = &parent->jobs[k];
            if (!src || !src->ran) {
                snprintf(why, whylen,
                         "trigger:include: job `%s` %s, so artifact `%s` cannot "
                         "be read",
                         job ? job : "?",
                         src ? "has not run"
                             : "is not in this "
                               "pipeline",
                         art);
                goto fail;
            }
            char *dest = sl_xasprintf("%s/trigger-artifacts/%zu", child_dir, i);
            int r = sl_artifacts_restore(src->ctx.artifacts_dir, dest, &err);
            free(dest);
            if (r < 0) {
                snprintf(why, whylen, "trigger:include: the artifacts of `%s`: %s", job,
                         sl_error_format(&err));
                goto fail;
            }
            sl_str_addf(&y, "  - local: '%s/trigger-artifacts/%zu/%s'\n",
                        child_dir + strlen(parent->rc->project_dir) + 1, i, art);
        } else if (file) {
            sl_str_addf(&y, "  - local: '%s'\n", file);
        } else {
            snprintf(why, whylen,
                     "trigger:include: only local files and artifacts of earlier "
                     "jobs can be read by sluice run (not project, template, remote or "
                     "component)");
            goto fail;
        }
        if (e->inputs) {
            sl_str_adds(&y, "    inputs:\n");
            for (const char *const *in = e->inputs; *in; in++)
                sl_str_addf(&y, "      %s\n", *in);
        }
    }
    sl_error_release(&err);
    return sl_str_detach(&y);
fail:
    sl_error_release(&err);
    sl_str_release(&y);
    return NULL;
}

static struct run_child *child_prepare(void *ctx, struct run_job *jobs, size_t bridge, char *why,
                                       size_t whylen)
{
    struct run_child *parent = ctx, *c = NULL;
    struct sl_error err = SL_ERROR_INIT;
    struct sl_diag diag = SL_DIAG_INIT;
    char *yaml = NULL, **ivars = NULL;
    const struct run_job *bj = &jobs[bridge];
    const struct sl_plan_job *pj = NULL;
    for (size_t i = 0, k = 0; i < parent->plan->njobs && !pj; i++)
        if (parent->sel[i] && k++ == bridge)
            pj = &parent->plan->jobs[i];
    const struct sl_plan_trigger *t = bj->trigger;
    if (!pj)
        return NULL;
    if (t->project) {
        snprintf(why, whylen,
                 "trigger:project: multi-project pipelines run on sluice serve, "
                 "where the server knows the project; sluice run has only this one");
        return NULL;
    }
    if (!t->nincludes) {
        snprintf(why, whylen, "trigger: neither include nor project");
        return NULL;
    }
    if (parent->depth >= 2) { /* GitLab's limit too; a file including itself stops here */
        snprintf(why, whylen,
                 "downstream pipeline cannot be created: child pipelines nest at "
                 "most 2 levels deep");
        return NULL;
    }

    c = sl_xcalloc(1, sizeof(*c));
    c->rc = parent->rc;
    c->depth = parent->depth + 1;
    c->prefix = sl_arena_printf(&c->arena, "%s > ", bj->name);
    c->bridge = sl_arena_strdup(&c->arena, bj->name);
    c->dir_prefix = sl_arena_printf(&c->arena, "%s-", sl_plan_slugify(&c->arena, bj->name));
    pipe_ops(c);
    sl_trigger_init(&c->trigger);
    struct sl_trigger *ct = &c->trigger;
    ct->created_at_ms = sl_time_now_ms(); /* the child pipeline is created now */
    ct->ref = sl_xstrdup(parent->trigger.ref);
    ct->tag = parent->trigger.tag;
    free(ct->source);
    ct->source = sl_xstrdup("parent_pipeline");
    sl_plan_bridge_variables(pj, &parent->trigger, &ct->pipeline_vars);
    if (sl_trigger_from_git(ct, c->rc->project_dir, &err) < 0 ||
        sl_plan_next_pipeline_id(c->rc->project_dir, true, &ct->pipeline_id, &err) < 0) {
        snprintf(why, whylen, "%s", sl_error_format(&err));
        goto fail;
    }
    ct->pipeline_iid = ct->pipeline_id;
    c->pipeline_dir = sl_arena_printf(&c->arena, "%s/pipelines/%lld", c->rc->sluice_dir,
                                      (long long)ct->pipeline_id);
    if (!(yaml = child_yaml(parent, bridge, c->pipeline_dir, why, whylen)))
        goto fail;

    ivars = sl_trigger_include_vars(ct);
    struct sl_config_opts opts = {0};
    opts.project_dir = c->rc->project_dir;
    opts.vars = (const char *const *)ivars;
    opts.include_rule = sl_plan_include_rule;
    opts.include_rule_ctx = ct;
    struct cli_includes res;
    sl_cli_includes_init(&res, &c->rc->a->includes, opts.vars);
    opts.fetch = sl_cli_includes_fetch;
    opts.fetch_ctx = &res;
    char *name = sl_xasprintf("%s/trigger:include of %s", c->rc->project_dir, pj->name);
    int r = sl_config_load_string(&c->cfg, name, yaml, strlen(yaml), &opts, &diag);
    sl_cli_includes_release(&res);
    free(name);
    if (r < 0) {
        sl_diag_sort(&diag);
        const struct sl_diag_item *it = NULL;
        for (size_t i = 0; i < diag.n && !it; i++)
            if (diag.items[i].level == SL_DIAG_ERROR)
                it = &diag.items[i];
        const char *file = it && it->file ? it->file : "";
        if (sl_starts_with(file, c->rc->project_dir) && file[strlen(c->rc->project_dir)] == '/')
            file += strlen(c->rc->project_dir) + 1;
        snprintf(why, whylen, "the downstream pipeline's configuration is invalid: %s:%d:%d: %s",
                 file, it ? it->line : 0, it ? it->column : 0, it ? it->message : "unknown error");
        goto fail;
    }
    if (sl_plan_build(&c->plan, c->cfg, ct, &err) < 0) {
        snprintf(why, whylen, "the downstream pipeline cannot be created: %s",
                 sl_error_format(&err));
        goto fail;
    }
    if (!c->plan->created || !c->plan->njobs) {
        snprintf(why, whylen, "the downstream pipeline was not created: %s",
                 !c->plan->created ? (c->plan->reason ? c->plan->reason : "workflow:rules")
                                   : "it has no jobs");
        goto fail;
    }
    c->sel = sl_xcalloc(c->plan->njobs, sizeof(*c->sel));
    for (size_t i = 0; i < c->plan->njobs; i++)
        c->sel[i] = true;
    if (pipe_build(c, &err) < 0) {
        snprintf(why, whylen, "%s", sl_error_format(&err));
        goto fail;
    }
    sl_run_output_note(c->rc->out, "%s: child pipeline #%lld: %zu job%s", bj->name,
                       (long long)ct->pipeline_id, c->n, c->n == 1 ? "" : "s");
    goto out;
fail:
    if (c) {
        pipe_release(c);
        free(c);
    }
    c = NULL;
out:
    for (char **v = ivars; v && *v; v++)
        free(*v);
    free(ivars);
    free(yaml);
    sl_diag_release(&diag);
    sl_error_release(&err);
    return c;
}

static enum sl_sched_status child_run(void *ctx, struct run_child *c, struct sl_exec_cancel *cancel)
{
    struct sl_error err = SL_ERROR_INIT;
    (void)ctx;
    c->cancel = cancel;
    if (pipe_run(c, &err) < 0) {
        sl_run_output_note(c->rc->out, "%s: %s", c->bridge, sl_error_format(&err));
        c->status = SL_SCHED_FAILED;
    }
    sl_error_release(&err);
    sl_run_output_note(c->rc->out, "%s: child pipeline #%lld %s", c->bridge,
                       (long long)c->trigger.pipeline_id, sl_sched_status_name(c->status));
    return c->status;
}

/* A --watch re-run: of the jobs SEL marks, only those whose rules:changes match CHANGED
 * (and what they need, with --needs); all of them when none does. */
static void select_affected(const struct sl_plan *p, const struct run_args *a, const char **changed,
                            bool *sel)
{
    size_t nchanged = 0, naffected = 0;
    while (changed[nchanged])
        nchanged++;
    bool *hit = sl_xcalloc(p->njobs + 1, sizeof(*hit));
    for (size_t i = 0; i < p->njobs; i++) {
        hit[i] = sel[i] && sl_plan_job_changes_match(&p->jobs[i], (char **)changed, nchanged);
        naffected += hit[i];
    }
    if (naffected) {
        memcpy(sel, hit, p->njobs * sizeof(*sel));
        if (a->needs)
            for (size_t i = 0; i < p->njobs; i++)
                if (hit[i])
                    select_needs(p, i, sel);
    }
    free(hit);
}

/* One pipeline: plan, select, run, summary. CHANGED (NULL-terminated, or NULL): the files
 * a --watch re-run is for: they are the pipeline's changes (rules:changes), and only the
 * jobs whose rules:changes match them run, or every job when none does. *CANCELED: the run
 * was stopped by Ctrl-C. Returns the exit code. */
/* Two runs of one project would share its .sluice/builds/<job> workspaces (and caches):
 * a run holds .sluice/run.lock while its jobs run, and a second one waits for it, saying
 * so. The descriptor, or -1 when no lock could be had (the run goes on as before). */
static int run_lock(const char *sluice_dir)
{
    char *path = sl_xasprintf("%s/run.lock", sluice_dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    free(path);
    if (fd < 0)
        return -1;
    if (flock(fd, LOCK_EX | LOCK_NB) < 0 && errno == EWOULDBLOCK) {
        fprintf(stderr, "sluice: run: another sluice run of this project is running; waiting for "
                        "it to end (runs of one project share their workspaces)\n");
        while (flock(fd, LOCK_EX) < 0 && errno == EINTR)
            ;
    }
    return fd;
}

/* A line about a pipeline that does not run, before there is an output: with --json a
 * "note" event like the others, so stdout stays JSON lines. */
static void SL_PRINTF(2, 3) run_note(const struct run_args *a, const char *fmt, ...)
{
    struct sl_str msg = SL_STR_INIT;
    va_list ap;
    va_start(ap, fmt);
    sl_str_vaddf(&msg, fmt, ap);
    va_end(ap);
    struct run_output *o = sl_run_output_new(stdout, a->color, a->json, 0);
    sl_run_output_note(o, "%s", msg.buf);
    sl_run_output_free(o);
    sl_str_release(&msg);
}

static int run_pipeline(struct run_args *a, const char **changed, bool *canceled)
{
    int lock_fd = -1;
    struct cli_pipeline p;
    struct run_child top = {0};
    struct cli_unacted unacted = {0};
    struct run_ctx rc = {0};
    struct run_variables variables = {0};
    int ret;

    memset(&p, 0, sizeof(p));
    struct cli_pipeline_args pa = {
        a->file,   a->ref,      a->tag,
        NULL,      a->vars,     changed,
        a->inputs, a->includes, a->json ? CLI_JSON_EVENT : CLI_JSON_NONE};
    if ((ret = sl_cli_pipeline_prepare(&p, &pa)) != SL_EXIT_OK)
        goto out;
    const struct sl_plan *plan = p.plan;
    if (!plan->created) {
        run_note(a, "pipeline skipped: %s", plan->reason ? plan->reason : "workflow:rules");
        goto out;
    }
    top.sel = sl_xcalloc(plan->njobs + 1, sizeof(*top.sel));
    if ((ret = select_jobs(plan, a, top.sel)) != SL_EXIT_OK)
        goto out;
    if (changed)
        select_affected(plan, a, changed, top.sel);
    if (a->list) {
        list_jobs(plan, top.sel, a->list == LIST_JSON);
        goto out;
    }
    size_t nsel = 0;
    for (size_t i = 0; i < plan->njobs; i++)
        nsel += top.sel[i];
    if (nsel == 0) {
        run_note(a, "pipeline created with no jobs to run");
        goto out;
    }
    /* a sandbox the kernel refuses stops the run before any job, saying what is missing */
    if (a->xo.executor == RUN_EXEC_SANDBOX && !sl_run_executor_probe("run", &a->xo.sandbox)) {
        ret = SL_EXIT_FAIL;
        goto out;
    }
    /* from here on the run has started: it takes its pipeline number */
    if ((ret = sl_cli_pipeline_start(&p)) != SL_EXIT_OK)
        goto out;
    plan = p.plan;

    /* .sluice/ layout: builds/ (workspaces), cache/, pipelines/<id>/{logs,artifacts}/ */
    rc.a = a;
    rc.project_dir = p.project_dir;
    rc.sluice_dir = sl_arena_printf(&top.arena, "%s/.sluice", p.project_dir);
    lock_fd = run_lock(rc.sluice_dir);
    rc.unacted = &unacted;
    top.rc = &rc;
    top.prefix = "";
    pipe_ops(&top);
    top.trigger = p.trigger; /* borrowed: p releases it */
    top.cfg = p.cfg;
    top.plan = p.plan;
    top.pipeline_dir = sl_arena_printf(&top.arena, "%s/pipelines/%lld", rc.sluice_dir,
                                       (long long)p.trigger.pipeline_id);
    struct sl_error err = SL_ERROR_INIT;
    char *varfiles_dir = sl_xasprintf("%s/variables", top.pipeline_dir);
    int vrc = sl_run_variables_load(&variables, rc.project_dir, a->varfiles, varfiles_dir, &err);
    free(varfiles_dir);
    if (vrc < 0) {
        sl_cli_error("run: %s", sl_error_format(&err));
        sl_error_release(&err);
        ret = SL_EXIT_USAGE;
        goto out;
    }
    rc.variables = &variables;
    sl_cli_unacted_local(&unacted, plan, top.sel);
    if (pipe_build(&top, &err) < 0) {
        sl_cli_error("%s", sl_error_format(&err));
        sl_error_release(&err);
        ret = SL_EXIT_USAGE;
        goto out;
    }
    if (top.n == 0) {
        printf("pipeline created with no jobs to run\n");
        goto out;
    }
    size_t n = top.n, width = 0;
    for (size_t i = 0; i < n; i++)
        width = SL_MAX(width, strlen(top.jobs[i].name));
    sl_cli_unacted_print(&unacted, stderr);

    struct run_output *out = sl_run_output_new(stdout, a->color, a->json, width);
    rc.out = out;
    sl_run_output_note(out, "pipeline #%lld on %s %s (%.8s): %zu job%s",
                       (long long)p.trigger.pipeline_id, p.trigger.tag ? "tag" : "branch",
                       p.trigger.ref, p.trigger.sha, n, n == 1 ? "" : "s");
    /* --var names protect those variables from dotenv reports */
    const char **protected_vars = sl_xcalloc(a->nvars + 1, sizeof(char *));
    for (size_t i = 0; i < a->nvars; i++) {
        const char *eq = strchr(a->vars[i], '=');
        protected_vars[i] =
            sl_arena_strndup(&top.arena, a->vars[i], eq ? (size_t)(eq - a->vars[i]) : 0);
    }
    rc.protected_vars = protected_vars;
    if (pipe_run(&top, &err) < 0) {
        sl_cli_error("run: %s", sl_error_format(&err));
        sl_error_release(&err);
        ret = SL_EXIT_USAGE;
    } else {
        struct run_summary_row *rows = NULL;
        size_t nrows = 0, caprows = 0;
        pipe_rows(&top, &rows, &nrows, &caprows);
        /* the top pipeline's warnings flag: any allowed failure among its rows */
        bool warnings = false;
        for (size_t i = 0; i < n; i++)
            warnings = warnings || top.jobs[i].allowed_failure;
        enum sl_sched_status status = top.status;
        char *logs_dir = sl_xasprintf("%s/logs", top.pipeline_dir);
        sl_run_output_summary(out, rows, nrows, sl_sched_status_name(status), warnings,
                              top.duration_ms, logs_dir);
        free(logs_dir);
        free(rows);
        ret = status == SL_SCHED_SUCCESS || status == SL_SCHED_MANUAL || status == SL_SCHED_SKIPPED
                  ? SL_EXIT_OK
                  : SL_EXIT_FAIL;
    }
    free(protected_vars);
    sl_run_output_free(out);
out:
    if (canceled)
        *canceled = top.status == SL_SCHED_CANCELED;
    sl_cli_unacted_release(&unacted);
    top.prefix = ""; /* the top's trigger, config and plan belong to P */
    pipe_release(&top);
    sl_cli_pipeline_release(&p);
    sl_run_variables_release(&variables);
    if (lock_fd >= 0)
        close(lock_fd);
    return ret;
}

/* --watch: a run, then one more each time tracked files change, until Ctrl-C (while
 * waiting, or during a run: that run is canceled as without --watch). A run that cannot
 * start (a configuration error) waits for the fix like any other. Returns the last run's
 * exit code. */
static int run_watch(struct run_args *a)
{
    char *found = a->file ? NULL : sl_cli_default_ci_file();
    const char *file = a->file ? a->file : found;
    if (!file)
        return SL_EXIT_USAGE;
    char *abs = realpath(file, NULL);
    if (!abs) {
        sl_cli_error("run: %s: %s", file, strerror(errno));
        free(found);
        return SL_EXIT_USAGE;
    }
    char *dir = sl_xstrdup(dirname(abs));
    bool canceled = false;
    int ret = run_pipeline(a, NULL, &canceled);
    while (!canceled) {
        struct sl_error err = SL_ERROR_INIT;
        char **changed = NULL;
        fflush(stdout);
        int w = sl_run_watch_wait(dir, &changed, &err);
        if (w < 0) {
            sl_cli_error("run: %s", sl_error_format(&err));
            sl_error_release(&err);
            ret = SL_EXIT_USAGE;
        }
        if (w <= 0)
            break;
        struct sl_str names = SL_STR_INIT;
        size_t k = 0;
        for (; changed[k]; k++)
            if (k < 5)
                sl_str_addf(&names, "%s%s", k ? ", " : "", changed[k]);
        fprintf(stderr, "sluice: changed: %s%s; running again\n", names.buf, k > 5 ? ", ..." : "");
        sl_str_release(&names);
        ret = run_pipeline(a, (const char **)changed, &canceled);
        sl_run_watch_free(changed);
    }
    fprintf(stderr, "sluice: run --watch stopped\n");
    free(dir);
    free(abs);
    free(found);
    return ret;
}

int sl_cmd_run(int argc, char **argv)
{
    struct run_args a = {0};
    int ret;

    /* one libgit2 reference for the whole run: every job's workspace opens repositories,
     * and each first initialisation parses the system CA bundle (Debian's libgit2 on
     * mbedTLS), about 10 ms of CPU that would otherwise be paid per job */
    git_libgit2_init();
    a.jobs = sl_xcalloc((size_t)argc + 1, sizeof(char *));
    a.vars = sl_xcalloc((size_t)argc + 1, sizeof(char *));
    a.inputs = sl_xcalloc((size_t)argc + 1, sizeof(char *));
    a.varfiles = sl_xcalloc((size_t)argc + 1, sizeof(char *));
    a.manual = sl_xcalloc((size_t)argc + 1, sizeof(char *));
    a.includes.projects = sl_xcalloc((size_t)argc + 1, sizeof(char *));
    a.parallel = sysconf(_SC_NPROCESSORS_ONLN);
    if (a.parallel < 1)
        a.parallel = 1;
    if ((ret = parse_args(argc, argv, &a)) != SL_EXIT_OK)
        ret = ret < 0 ? SL_EXIT_OK : ret;
    else if (a.watch)
        ret = run_watch(&a);
    else
        ret = run_pipeline(&a, NULL, NULL);
    free(a.jobs);
    free(a.vars);
    free(a.inputs);
    free(a.includes.projects);
    free(a.varfiles);
    free(a.manual);
    git_libgit2_shutdown();
    return ret;
}
