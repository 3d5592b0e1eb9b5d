/* run.c: `sluice run`, the pipeline of the current repository run right here: plan it,
 * turn each planned job into a job spec (workspace, artifacts, caches, environment), and
 * hand them to the engine (run_engine.c). */
#include "base/compat.h"
#include "cli/run.h"
#include "base/alloc.h"
#include "base/arena.h"
#include "base/fs.h"
#include "base/str.h"
#include "base/time.h"
#include "cli/cli.h"
#include "cli/pipeline.h"

#include "cli/run_executor.h"
#include "jobspec/jobspec.h"

#include <getopt.h>
#include <git2.h>
#include <unistd.h>

extern char **environ;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: sluice run [JOB...] [-f FILE] [--var K=V]... [-j N] [--needs] [--stage S]\n"
            "                  [--input N=V]... [--manual JOB]... [--no-color] [--json]\n"
            "                  [--executor E]\n\n"
            "Plans the pipeline of the current repository and runs it here, as GitLab would:\n"
            "stages and needs, when, allow_failure, retry, timeouts, artifacts, caches and\n"
            "dotenv reports. Each job runs in its own clean copy of the project under\n"
            ".sluice/builds/ (tracked files plus untracked files git does not ignore, so local\n"
            "edits are tested without a commit), kept from run to run and cleaned before each\n"
            "job as GIT_STRATEGY fetch does (GIT_STRATEGY, GIT_CLEAN_FLAGS, GIT_DEPTH and\n"
            "GIT_CHECKOUT work as in GitLab).\n\n"
            "Options:\n"
            "  JOB...             run only these jobs (a parallel job's name runs all instances)\n"
            "  -f, --file FILE    the pipeline file (default: .gitlab-ci.yml at the root of the\n"
            "                     git work tree holding the current directory)\n"
            "      --var K=V      a pipeline variable (highest precedence); repeatable\n"
            "      --input N=V    a value for input N of the file's spec:inputs; repeatable\n"
            "  -j, --jobs N       run up to N jobs at once (default: the number of cores)\n"
            "      --needs        with JOB..., also run what they wait for (needs, else earlier\n"
            "                     stages), transitively\n"
            "      --stage S      run only the jobs of stage S\n"
            "      --manual JOB   play manual job JOB when it is reached; repeatable\n"
            "      --ref R        plan as branch R;  --tag T  plan as tag T\n"
            "      --no-color     no colours even on a terminal\n"
            "      --json         JSON-lines events instead of text\n"
            "      --executor E   auto (default: docker for jobs with an image, else shell),\n"
            "                     shell, docker or sandbox (docs/executors.md)\n"
            "      --memory B, --pids N, --cpus F, --rootfs DIR  the sandbox's limits and root\n"
            "      --sandbox-host-network    honour SLUICE_SANDBOX_NETWORK=host of jobs\n"
            "      --image I      the default image of jobs without one (as a runner's)\n"
            "      --pull-policy P           always, if-not-present (default) or never\n"
            "      --allowed-pull-policies L  the jobs' pull_policy values honoured\n"
            "  -h, --help         show this help\n\n"
            "Exit codes: 0 the pipeline passed, 1 it failed or was canceled, 2 usage or\n"
            "configuration error.\n");
}

struct run_args {
    const char **jobs, **vars, **manual, **inputs;
    size_t njobs, nvars, nmanual, ninputs;
    const char *file, *stage, *ref, *tag;
    long parallel;
    bool needs, color, json;
    struct run_executor_opts xo;
};

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
    return same ? sl_arena_printf(b->a, "%s-%d", slug, same + 1) : slug;
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

    /* the job as written now; the run context is bound when it starts (run_engine.c),
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
    run_executor_apply(b->a, b->xo, &probe, b->unacted);
}

/* --- the command ------------------------------------------------------------------ */

static int parse_args(int argc, char **argv, struct run_args *a)
{
    static const struct option longopts[] = {
        {"file", required_argument, NULL, 'f'},
        {"var", required_argument, NULL, 'v'},
        {"input", required_argument, NULL, 'i'},
        {"jobs", required_argument, NULL, 'j'},
        {"needs", no_argument, NULL, 'n'},
        {"stage", required_argument, NULL, 's'},
        {"manual", required_argument, NULL, 'm'},
        {"no-color", no_argument, NULL, 'C'},
        {"json", no_argument, NULL, 'J'},
        {"executor", required_argument, NULL, 'e'},
        {"image", required_argument, NULL, 'I'},
        {"pull-policy", required_argument, NULL, 'P'},
        {"allowed-pull-policies", required_argument, NULL, 'A'},
        {"memory", required_argument, NULL, 'M'},
        {"pids", required_argument, NULL, 'N'},
        {"cpus", required_argument, NULL, 'U'},
        {"rootfs", required_argument, NULL, 'R'},
        {"sandbox-host-network", no_argument, NULL, 'H'},
        {"ref", required_argument, NULL, 'r'},
        {"tag", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    int opt;
    a->color = sl_cli_color();
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "f:j:h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'f':
            a->file = optarg;
            break;
        case 'v':
            a->vars[a->nvars++] = optarg;
            break;
        case 'i':
            a->inputs[a->ninputs++] = optarg;
            break;
        case 'm':
            a->manual[a->nmanual++] = optarg;
            break;
        case 'n':
            a->needs = true;
            break;
        case 's':
            a->stage = optarg;
            break;
        case 'C':
            a->color = false;
            break;
        case 'J':
            a->json = true;
            break;
        case 'r':
            a->ref = optarg;
            break;
        case 't':
            a->tag = optarg;
            break;
        case 'j': {
            char *end;
            a->parallel = strtol(optarg, &end, 10);
            if (*end || a->parallel < 1 || a->parallel > 1024) {
                sl_cli_error("run: -j takes a number of jobs from 1 to 1024, not '%s'", optarg);
                return SL_EXIT_USAGE;
            }
            break;
        }
        case 'e':
            if (!run_executor_parse(optarg, &a->xo.executor)) {
                sl_cli_error("run: unknown executor '%s' (auto, shell, docker or sandbox)", optarg);
                return SL_EXIT_USAGE;
            }
            break;
        case 'I':
            a->xo.image = optarg;
            break;
        case 'M':
        case 'N':
        case 'U': {
            char *end;
            double v = strtod(optarg, &end);
            double unit = opt != 'M'                   ? 1
                          : *end == 'k' || *end == 'K' ? 1024.0
                          : *end == 'm' || *end == 'M' ? 1048576.0
                          : *end == 'g' || *end == 'G' ? 1073741824.0
                                                       : 1;
            if (unit != 1)
                end++;
            if (*end || v <= 0) {
                sl_cli_error("run: --%s takes a positive number, not '%s'",
                             opt == 'M'   ? "memory"
                             : opt == 'N' ? "pids"
                                          : "cpus",
                             optarg);
                return SL_EXIT_USAGE;
            }
            if (opt == 'M')
                a->xo.sandbox.memory_bytes = (int64_t)(v * unit);
            else if (opt == 'N')
                a->xo.sandbox.pids = (int64_t)v;
            else
                a->xo.sandbox.cpus = v;
            break;
        }
        case 'R':
            a->xo.sandbox.rootfs = optarg;
            break;
        case 'H':
            a->xo.sandbox.allow_host_network = true;
            break;
        case 'P':
        case 'A': {
            unsigned m = run_executor_policies(optarg);
            if (!m || (opt == 'P' && (m & (m - 1)))) {
                sl_cli_error("run: --%s takes %s of always, if-not-present, never, not '%s'",
                             opt == 'P' ? "pull-policy" : "allowed-pull-policies",
                             opt == 'P' ? "one" : "a comma-separated list", optarg);
                return SL_EXIT_USAGE;
            }
            if (opt == 'P')
                a->xo.pull_policy = m;
            else
                a->xo.allowed_policies = m;
            break;
        }
        case 'h':
            usage(stdout);
            return -1;
        default:
            sl_cli_error("run: unknown option '%s'; see 'sluice run --help'", argv[optind - 1]);
            return SL_EXIT_USAGE;
        }
    }
    while (optind < argc)
        a->jobs[a->njobs++] = argv[optind++];
    if (a->ref && a->tag) {
        sl_cli_error("run: --ref and --tag exclude each other");
        return SL_EXIT_USAGE;
    }
    return SL_EXIT_OK;
}

int sl_cmd_run(int argc, char **argv)
{
    struct run_args a = {0};
    struct cli_pipeline p;
    struct sl_arena arena = SL_ARENA_INIT;
    struct run_job *jobs = NULL;
    bool *sel = NULL;
    size_t n = 0;
    struct cli_unacted unacted = {0};
    int ret;

    /* one libgit2 reference for the whole run: every job's workspace opens repositories,
     * and each first initialisation parses the system CA bundle (Debian's libgit2 on
     * mbedTLS), about 10 ms of CPU that would otherwise be paid per job */
    git_libgit2_init();
    a.jobs = sl_xcalloc((size_t)argc + 1, sizeof(char *));
    a.vars = sl_xcalloc((size_t)argc + 1, sizeof(char *));
    a.inputs = sl_xcalloc((size_t)argc + 1, sizeof(char *));
    a.manual = sl_xcalloc((size_t)argc + 1, sizeof(char *));
    a.parallel = sysconf(_SC_NPROCESSORS_ONLN);
    if (a.parallel < 1)
        a.parallel = 1;
    memset(&p, 0, sizeof(p));
    if ((ret = parse_args(argc, argv, &a)) != SL_EXIT_OK) {
        ret = ret < 0 ? SL_EXIT_OK : ret;
        goto out;
    }
    struct cli_pipeline_args pa = {a.file, a.ref, a.tag, NULL, a.vars, NULL, true, a.inputs};
    if ((ret = cli_pipeline_prepare(&p, &pa)) != SL_EXIT_OK)
        goto out;
    const struct sl_plan *plan = p.plan;
    if (!plan->created) {
        printf("pipeline skipped: %s\n", plan->reason ? plan->reason : "workflow:rules");
        goto out;
    }
    sel = sl_xcalloc(plan->njobs + 1, sizeof(*sel));
    if ((ret = select_jobs(plan, &a, sel)) != SL_EXIT_OK)
        goto out;

    /* .sluice/ layout: builds/ (workspaces), cache/, pipelines/<id>/{logs,artifacts}/ */
    struct builder b = {0};
    b.a = &arena;
    b.plan = plan;
    b.project_dir = p.project_dir;
    b.sluice_dir = sl_arena_printf(&arena, "%s/.sluice", p.project_dir);
    b.pipeline_dir = sl_arena_printf(&arena, "%s/pipelines/%lld", b.sluice_dir,
                                     (long long)p.trigger.pipeline_id);
    b.host_env = environ;
    b.xo = &a.xo;
    b.pipeline_id = (long long)p.trigger.pipeline_id;
    b.newidx = sl_arena_alloc(&arena, (plan->njobs + 1) * sizeof(size_t));
    for (size_t i = 0; i < plan->njobs; i++)
        b.newidx[i] = sel[i] ? n++ : SIZE_MAX;
    if (n == 0) {
        printf("pipeline created with no jobs to run\n");
        goto out;
    }
    char *logs = sl_xasprintf("%s/logs", b.pipeline_dir);
    struct sl_error err = SL_ERROR_INIT;
    if (sl_fs_mkdir_p(logs, 0755, &err) < 0) {
        sl_cli_error("%s", sl_error_format(&err));
        sl_error_release(&err);
        free(logs);
        ret = SL_EXIT_USAGE;
        goto out;
    }
    free(logs);
    if (sl_plan_reserve_job_ids(p.project_dir, (int64_t)n, &b.first_job_id, &err) < 0) {
        sl_cli_error("%s", sl_error_format(&err));
        sl_error_release(&err);
        ret = SL_EXIT_USAGE;
        goto out;
    }
    jobs = sl_xcalloc(n, sizeof(*jobs));
    size_t width = 0;
    b.unacted = &unacted;
    cli_unacted_local(&unacted, plan, sel);
    for (size_t i = 0; i < plan->njobs; i++) {
        if (!sel[i])
            continue;
        build_job(&b, &jobs[b.newidx[i]], i, b.newidx[i]);
        width = SL_MAX(width, strlen(plan->jobs[i].name));
    }
    cli_unacted_print(&unacted, stderr);

    struct run_output *out = run_output_new(stdout, a.color, a.json, width);
    run_output_note(out, "pipeline #%lld on %s %s (%.8s): %zu job%s",
                    (long long)p.trigger.pipeline_id, p.trigger.tag ? "tag" : "branch",
                    p.trigger.ref, p.trigger.sha, n, n == 1 ? "" : "s");
    struct run_options opts = {0};
    opts.parallel = (size_t)a.parallel;
    opts.manual = a.manual;
    opts.project_dir = p.project_dir;
    opts.sluice_dir = b.sluice_dir;
    opts.pipeline_dir = b.pipeline_dir;
    opts.xo = &a.xo;
    /* --var names protect those variables from dotenv reports */
    const char **protected_vars = sl_xcalloc(a.nvars + 1, sizeof(char *));
    for (size_t i = 0; i < a.nvars; i++) {
        const char *eq = strchr(a.vars[i], '=');
        protected_vars[i] = sl_arena_strndup(&arena, a.vars[i], eq ? (size_t)(eq - a.vars[i]) : 0);
    }
    opts.protected_vars = protected_vars;
    enum sl_sched_status status = SL_SCHED_FAILED;
    bool warnings = false;
    int64_t duration = 0;
    if (run_engine(jobs, n, plan->nstages, &opts, out, &status, &warnings, &duration, &err) < 0) {
        sl_cli_error("run: %s", sl_error_format(&err));
        sl_error_release(&err);
        ret = SL_EXIT_USAGE;
    } else {
        struct run_summary_row *rows = sl_xcalloc(n, sizeof(*rows));
        for (size_t i = 0; i < n; i++) {
            struct run_job *j = &jobs[i];
            rows[i].name = j->name;
            rows[i].stage = j->stage;
            rows[i].status = sl_sched_status_name(j->status);
            rows[i].allowed_failure = j->allowed_failure;
            rows[i].duration_ms = j->ran ? j->duration_ms : -1;
            rows[i].coverage = j->result.coverage;
            rows[i].tests_passed = j->result.has_junit ? (int)j->result.junit.success : -1;
            rows[i].tests_failed =
                j->result.has_junit ? (int)(j->result.junit.failed + j->result.junit.errored) : 0;
            rows[i].failure_reason =
                j->status == SL_SCHED_FAILED || j->allowed_failure ? j->failure : NULL;
            rows[i].attempt = j->attempt;
        }
        const char *st = sl_sched_status_name(status);
        run_output_summary(out, rows, n, st, warnings, duration);
        free(rows);
        ret = status == SL_SCHED_SUCCESS || status == SL_SCHED_MANUAL || status == SL_SCHED_SKIPPED
                  ? SL_EXIT_OK
                  : SL_EXIT_FAIL;
    }
    free(protected_vars);
    run_output_free(out);
out:
    cli_unacted_release(&unacted);
    for (size_t i = 0; jobs && i < n; i++) {
        sl_job_result_release(&jobs[i].result);
        sl_jobspec_release(&jobs[i].planned);
    }
    free(jobs);
    free(sel);
    cli_pipeline_release(&p);
    sl_arena_release(&arena);
    free(a.jobs);
    free(a.vars);
    free(a.inputs);
    free(a.manual);
    git_libgit2_shutdown();
    return ret;
}
