/* worker.c: the built-in workers. Each claims the oldest pending job through
 * sl_store_claim_job (the operation remote agents will use too), runs it with sl_job_run
 * in DATA/builds/<project id>/<job slug>-<slot> (kept from run to run, see workspace_take)
 * made from the pipeline's tree, streams its log into the store
 * in chunks, and reports the end as a pipeline transition. A ticker thread renews the
 * leases of running jobs every second (a lease the store refuses means the job was
 * canceled: the worker stops it) and promotes delayed jobs whose time came. */
#include "base/compat.h"
#include "base/alloc.h"
#include "base/fs.h"
#include "base/log.h"
#include "base/time.h"
#include "exec/job.h"
#include "exec/jobjson.h"
#include "exec/mask.h"
#include "jobspec/jobspec.h"
#include "plan/plan.h"
#include "server/internal.h"
#include "server/runner.h"

#include <sodium.h>
#include <sys/stat.h>
#include <git2.h>
#include <unistd.h>

#define LOG_FLUSH_BYTES (16 * 1024)
#define LOG_FLUSH_MS 200
#define LOG_TICK_MS 100 /* the ticker's period: a waiting line is stored within ~200 ms */

struct worker {
    struct sl_server *s;
    int idx;
    pthread_t th;
    bool started;
    char id[SL_STORE_WORKER_ID_MAX];
    pthread_mutex_t mu; /* guards job_id, cancel, pipeline_id, claiming and claims */
    int64_t job_id;     /* 0 when idle */
    struct sl_exec_cancel *cancel;
    /* the pipeline of the job claimed, from its claim until everything of its run is done
     * (0: none), and whether a claim is under way (CLAIMS counts those that ended): a
     * project's deletion waits for both (sl_srv_workers_drop) */
    int64_t pipeline_id;
    bool claiming;
    unsigned claims;
    /* the log being written: on_line (the worker's thread) appends, and the ticker flushes
     * what a quiet job left waiting, so a line is stored within LOG_FLUSH_MS of being
     * printed even when no other line follows it */
    pthread_mutex_t log_mu;
    struct sl_str logbuf;
    int64_t log_job;    /* the job LOGBUF belongs to */
    int64_t last_flush; /* monotonic ms */
    bool log_full;
};

/* Under w->log_mu. */
static void log_flush(struct worker *w)
{
    if (w->logbuf.len == 0 || w->log_full) {
        sl_str_reset(&w->logbuf);
        return;
    }
    struct sl_error err = SL_ERROR_INIT;
    int rc = sl_srv_log_append(w->s, w->log_job, 0, w->logbuf.buf, w->logbuf.len, sl_time_now_ms(),
                               NULL, &err);
    if (rc == 0 || rc == SL_ELIMIT)
        sl_streams_log_grew(w->s, w->log_job);
    if (rc == SL_ELIMIT)
        w->log_full = true;
    else if (rc < 0)
        sl_log(SL_LOG_WARN, "cannot store a log chunk", "error", sl_error_format(&err), NULL);
    sl_error_release(&err);
    sl_str_reset(&w->logbuf);
    w->last_flush = sl_time_mono_ns() / 1000000;
}

/* The ticker's part: stores what waited LOG_TICK_MS or more since the last flush. */
static void log_flush_quiet(struct worker *w)
{
    pthread_mutex_lock(&w->log_mu);
    if (w->logbuf.len && sl_time_mono_ns() / 1000000 - w->last_flush >= LOG_TICK_MS)
        log_flush(w);
    pthread_mutex_unlock(&w->log_mu);
}

/* The stored log is what the job printed: the pieces of an overlong line are joined back
 * (no newline until the line ends). */
static void on_line(void *ctx, enum sl_exec_stream stream, const char *line, size_t len,
                    bool ends_line)
{
    (void)stream;
    struct worker *w = ctx;
    pthread_mutex_lock(&w->log_mu);
    sl_str_add(&w->logbuf, line, len);
    if (ends_line)
        sl_str_addc(&w->logbuf, '\n');
    if (w->logbuf.len >= LOG_FLUSH_BYTES ||
        sl_time_mono_ns() / 1000000 - w->last_flush >= LOG_FLUSH_MS)
        log_flush(w);
    pthread_mutex_unlock(&w->log_mu);
}

char *sl_srv_dotenv_json(const struct sl_dotenv *env)
{
    if (!env->n)
        return NULL;
    json_t *a = json_array();
    for (size_t i = 0; i < env->n; i++) {
        char *kv = sl_xasprintf("%s=%s", env->vars[i].key, env->vars[i].value);
        json_array_append_new(a, json_string(kv));
        free(kv);
    }
    char *text = json_dumps(a, JSON_COMPACT);
    json_decref(a);
    return text;
}

char *sl_srv_junit_json(const struct sl_junit_counts *c)
{
    json_t *o =
        json_pack("{s:I,s:I,s:I,s:I,s:I,s:f}", "count", (json_int_t)c->tests, "success",
                  (json_int_t)c->success, "failed", (json_int_t)c->failed, "skipped",
                  (json_int_t)c->skipped, "error", (json_int_t)c->errored, "time_s", c->time_s);
    char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return text;
}

/* What the job's reports leave for the jobs after it (dotenv) and for the pipeline's test
 * report (JUnit counts), in the store's job_reports; written after every attempt, so a
 * retry's reports replace the earlier attempt's. */
static void reports_save(struct sl_server *s, int64_t job_id, const struct sl_job_result *res)
{
    char *dotenv = sl_srv_dotenv_json(&res->dotenv);
    char *junit = res->has_junit ? sl_srv_junit_json(&res->junit) : NULL;
    struct sl_error err = SL_ERROR_INIT;
    if (sl_store_job_report_set(s->st, job_id, dotenv, junit, &err) < 0)
        sl_log(SL_LOG_WARN, "cannot record a job's reports", "error", sl_error_format(&err), NULL);
    sl_error_release(&err);
    free(dotenv);
    free(junit);
}

/* The run context of a claimed job: its sources (the artifacts and dotenv reports of the
 * jobs at SPEC's source_positions, as they are now), the pipeline's own variables (which
 * dotenv does not override), directories and ids. Strings in A. */
static void job_ctx(struct worker *w, const struct sl_store_job *job, json_t *spec,
                    const char *pdir, struct sl_arena *a, struct sl_jobspec_ctx *c,
                    int64_t *project_id)
{
    struct sl_server *s = w->s;
    struct sl_store_pipeline pl;
    struct sl_jobspec_source *src = NULL;
    size_t ns = 0;
    memset(&pl, 0, sizeof(pl));
    if (sl_store_pipeline_get(s->st, job->pipeline_id, &pl, NULL) == 0) {
        *project_id = pl.project_id;
        c->pipeline_iid = pl.iid;
        /* GitLab's separate caches for protected branches: an unprotected pipeline (a
         * fork's above all) never writes what a protected one restores (runner_payload.c) */
        c->cache_dir =
            sl_arena_printf(a, "%s/cache/%lld/%s", s->data_dir, (long long)pl.project_id,
                            pl.protected_known && pl.protected_ ? "protected" : "non_protected");
        json_t *vars = sl_srv_stored_json(pl.variables, JSON_OBJECT, "pipeline's variables", pl.id);
        const char **prot = sl_arena_alloc(a, (json_object_size(vars) + 1) * sizeof(*prot));
        size_t np = 0;
        const char *k;
        json_t *v;
        json_object_foreach(vars, k, v) prot[np++] = sl_arena_strdup(a, k);
        json_decref(vars);
        c->protected_vars = prot;
    }
    sl_store_pipeline_release(&pl);
    sl_srv_job_sources(s, job, spec, pdir, a, &src, &ns);
    c->sources = src;
    c->nsources = ns;
    c->pipeline_id = job->pipeline_id;
    c->job_id = job->id;
    c->attempt = job->attempt;
    c->job_url =
        sl_arena_printf(a, "http://%s/jobs/%lld", sl_server_address(s), (long long)job->id);
    c->pipeline_url = sl_arena_printf(a, "http://%s/pipelines/%lld", sl_server_address(s),
                                      (long long)job->pipeline_id);
    c->runner_description = "sluice serve";
}

/* Records the job's coverage on its row while it is still running under this worker. */
static void coverage_save(struct sl_server *s, int64_t job_id, const char *coverage)
{
    struct sl_store_job j;
    memset(&j, 0, sizeof(j));
    if (!coverage || sl_store_job_get(s->st, job_id, &j, NULL) < 0)
        return;
    j.has_coverage = true;
    j.coverage = strtod(coverage, NULL);
    struct sl_error err = SL_ERROR_INIT;
    if (sl_store_job_update(s->st, &j, "running", &err) < 0 && err.code != SL_EBUSY)
        sl_log(SL_LOG_WARN, "cannot record a job's coverage", "error", sl_error_format(&err), NULL);
    sl_error_release(&err);
    sl_store_job_release(&j);
}

/* Workspaces are kept per project and job, as a runner keeps its builds directory:
 * DATA/builds/<project id>/<job slug>-<slot>, so GIT_STRATEGY fetch finds the previous
 * run's files (workspace.h) exactly as sluice run's .sluice/builds/<job> does. A slot is
 * held by one job at a time: two pipelines of a project may run the same job at once, and
 * two prepares of one directory must not (the runner's concurrent id does the same). */
static pthread_mutex_t slots_mu = PTHREAD_MUTEX_INITIALIZER;
static char **slots_busy;
static size_t nslots_busy, capslots_busy;

/* The kept workspace of a root server belongs to the user jobs run as (--run-as), and
 * libgit2 refuses to open a repository its process does not own (git's safe.directory),
 * which would turn every FETCH reuse into a system failure. The server owns the whole
 * builds directory and libgit2 runs nothing a repository's config names, so the check is
 * off in this process; libgit2 stays initialised from then on (as pipelines.c keeps it). */
static pthread_once_t owner_once = PTHREAD_ONCE_INIT;

static void owner_validation_off(void)
{
    git_libgit2_init();
    git_libgit2_opts(GIT_OPT_SET_OWNER_VALIDATION, 0);
}

static char *workspace_take(const char *builds, int64_t project_id, const char *job_name)
{
    struct sl_arena a = SL_ARENA_INIT;
    const char *slug = sl_plan_slugify(&a, job_name);
    char *path = NULL;
    pthread_mutex_lock(&slots_mu);
    for (int slot = 0; !path; slot++) {
        char *p = sl_xasprintf("%s/%lld/%s-%d", builds, (long long)project_id, *slug ? slug : "job",
                               slot);
        bool busy = false;
        for (size_t i = 0; i < nslots_busy && !busy; i++)
            busy = !strcmp(slots_busy[i], p);
        if (busy) {
            free(p);
            continue;
        }
        SL_GROW(slots_busy, capslots_busy, nslots_busy + 1);
        slots_busy[nslots_busy++] = sl_xstrdup(p);
        path = p;
    }
    pthread_mutex_unlock(&slots_mu);
    sl_arena_release(&a);
    /* 0711 as builds/ itself: a job run as another user reaches its own workspace by
     * name and lists nobody else's */
    char *dir = sl_xasprintf("%s/%lld", builds, (long long)project_id);
    if (sl_fs_mkdir_p(dir, 0711, NULL) == 0)
        chmod(dir, 0711);
    free(dir);
    return path;
}

static void workspace_give(const char *path)
{
    pthread_mutex_lock(&slots_mu);
    for (size_t i = 0; i < nslots_busy; i++)
        if (!strcmp(slots_busy[i], path)) {
            free(slots_busy[i]);
            slots_busy[i] = slots_busy[--nslots_busy];
            break;
        }
    if (nslots_busy == 0) {
        free(slots_busy);
        slots_busy = NULL;
        capslots_busy = 0;
    }
    pthread_mutex_unlock(&slots_mu);
}

bool sl_srv_job_settle_bridge(struct sl_server *s, struct sl_store_job *job, const char *worker_id)
{
    /* bridge.c's, never pending; from the parsed view (spec_view.c): every claim asks */
    struct srv_spec_view v;
    if (sl_srv_spec_view_get(s->spec_views, job->id, job->spec, &v, NULL) < 0)
        return false; /* a corrupt spec fails the job where it is decoded */
    bool bridge = v.bridge_declared;
    sl_srv_spec_view_release(&v);
    if (!bridge)
        return false;
    static const char line[] =
        "ERROR: trigger: this bridge job reached a runner; the server makes downstream "
        "pipelines itself (bridge.c), so it is failed\n";
    sl_store_log_append(s->st, job->id, line, sizeof(line) - 1, sl_time_now_ms(), NULL, NULL);
    struct srv_finish fin = {SL_SCHED_FAILURE_DOWNSTREAM_CREATION, SL_SCHED_NO_EXIT_CODE, worker_id,
                             job->id};
    struct sl_error err = SL_ERROR_INIT;
    if (sl_srv_transition(s, job->pipeline_id, SRV_EV_FINISHED, (size_t)job->position, &fin, false,
                          &err) < 0)
        sl_log(SL_LOG_ERROR, "cannot record a bridge's end", "error", sl_error_format(&err), NULL);
    sl_error_release(&err);
    return true;
}

static void run_claimed(struct worker *w, struct sl_store_job *job)
{
    struct sl_server *s = w->s;
    json_t *spec = sl_srv_stored_json(job->spec, JSON_OBJECT, "job spec", job->id);
    struct sl_job_decoded planned;
    struct sl_jobspec bound;
    struct sl_arena ca = SL_ARENA_INIT;
    struct sl_jobspec_ctx ctx;
    struct sl_job_result res;
    struct sl_error err = SL_ERROR_INIT;
    struct srv_job_vars jv = {0};
    struct sl_mask *mask = NULL;
    int64_t project_id = 0;
    memset(&ctx, 0, sizeof(ctx));
    memset(&res, 0, sizeof(res));
    memset(&bound, 0, sizeof(bound));
    /* a corrupt row (no JSON, no tree) fails the job below (decode, workspace), no crash */
    const char *tree_rel = json_string_value(json_object_get(spec, "tree"));
    char *tree = sl_fs_join(s->data_dir, tree_rel ? tree_rel : "trees/missing");
    char *builds = sl_fs_join(s->data_dir, "builds");
    struct sl_store_pipeline pl;
    memset(&pl, 0, sizeof(pl));
    sl_store_pipeline_get(s->st, job->pipeline_id, &pl, NULL);
    char *workspace = workspace_take(builds, pl.project_id, job->name);
    if (s->run_as)
        pthread_once(&owner_once, owner_validation_off);
    /* what the pipeline decided when it was made, not what its YAML says (job_variables.c) */
    int pl_protected = !pl.protected_known ? -1 : pl.protected_;
    sl_store_pipeline_release(&pl);
    char *pdir = sl_xasprintf("%s/pipelines/%lld", s->data_dir, (long long)job->pipeline_id);
    char *artdir = sl_srv_artifacts_dir(s, job->pipeline_id, job->id); /* this attempt's own */
    char *logdir = sl_xasprintf("%s/logs", pdir);
    char *logpath = sl_xasprintf("%s/%lld.log", logdir, (long long)job->id);
    char *varfiles = sl_xasprintf("%s.tmp", workspace); /* file variables, as the runner's */
    /* a user without a home of its own (nobody's is /nonexistent) gets one per job, so
     * tools that write there (git config --global, caches) work */
    char *home = s->run_as && !s->run_home ? sl_xasprintf("%s.home", workspace) : NULL;
    if (home) {
        sl_fs_remove_tree(home, NULL);
        if (mkdir(home, 0700) < 0 || chown(home, s->run_uid, s->run_gid) < 0)
            sl_log(SL_LOG_WARN, "cannot make a job's home", "path", home, NULL);
    }
    char **base = sl_srv_job_base_env(s, home);
    struct sl_error merr = SL_ERROR_INIT;
    if (sl_fs_mkdir_p(logdir, 0755, &merr) < 0) /* the store keeps the log all the same */
        sl_log(SL_LOG_WARN, "cannot make a log directory", "error", sl_error_format(&merr), NULL);
    sl_error_release(&merr);

    /* the stored job as planned, bound to this run (jobspec.h): the same path sluice run
     * takes */
    int brc = sl_job_json_decode(&planned, job->spec, strlen(job->spec), &err);
    if (brc == 0) {
        job_ctx(w, job, spec, pdir, &ca, &ctx, &project_id);
        /* the project's and instance's CI/CD variables, and the mask of their secrets */
        brc = sl_srv_job_variables(s, project_id, pl_protected, &planned.spec, &jv, &err);
        /* CI_JOB_TOKEN: valid while this attempt runs (git over HTTP, artifacts of its
         * dependencies, the API calls that take it), masked in its log */
        char *job_token = NULL;
        if (brc == 0 &&
            (brc = sl_store_job_token_issue(s->st, job->id, w->id, &job_token, &err)) == 0) {
            sl_srv_job_vars_add(&jv, "CI_JOB_TOKEN", job_token, true);
            sodium_memzero(job_token, strlen(job_token));
            free(job_token);
        }
        if (brc == 0)
            brc = sl_srv_job_vars_env(s, &jv, varfiles, &ca, &ctx.extra, &ctx.extra_raw, &err);
        if (brc == 0 && jv.n) {
            mask = sl_mask_new();
            brc = sl_srv_job_vars_mask(&jv, mask, &err);
        }
        ctx.base_env = (const char *const *)base;
        ctx.project_dir = tree;
        ctx.workspace = workspace;
        ctx.builds_dir = builds;
        ctx.artifacts_dir = artdir;
        if (brc == 0)
            brc = sl_jobspec_bind(&bound, &planned.spec, &ctx, &err);
    }
    struct sl_job_spec js = bound.spec;
    js.exec.log_path = logpath;
    js.exec.on_line = on_line;
    js.exec.ctx = w;
    js.exec.mask = mask;
    js.exec.run_as = s->run_as;
    js.exec.uid = s->run_uid;
    js.exec.gid = s->run_gid;
    /* the same choice as sluice run's: a job with an image runs in a container */
    struct sl_exec_docker dk;
    struct sl_exec_service *svcs = sl_xcalloc(js.nservices + 1, sizeof(*svcs));
    sl_exec_choose(&s->executor, &js, &dk, svcs);
    const char *ignored_image = NULL; /* said in the log once it is this job's */
    if (s->use_sandbox) { /* --executor sandbox: every job, an image ignored as an agent does */
        if (js.exec.executor == SL_EXEC_DOCKER && js.exec.docker)
            ignored_image = js.exec.docker->image;
        js.exec.executor = SL_EXEC_SANDBOX;
        js.exec.docker = NULL;
        js.exec.sandbox = &s->sandbox;
    }

    pthread_mutex_lock(&w->mu);
    w->cancel = sl_exec_cancel_new(NULL);
    w->job_id = job->id;
    pthread_mutex_unlock(&w->mu);
    js.exec.cancel = w->cancel;
    pthread_mutex_lock(&w->log_mu);
    w->log_job = job->id;
    w->last_flush = 0; /* the first line goes out at once */
    w->log_full = false;
    pthread_mutex_unlock(&w->log_mu);
    if (job->attempt > 1) {
        char line[96];
        snprintf(line, sizeof(line), "--- attempt %d ---", job->attempt);
        on_line(w, SL_EXEC_STREAM_SYSTEM, line, strlen(line), true);
    }
    if (ignored_image) {
        char line[512];
        snprintf(line, sizeof(line), "WARNING: image %s ignored by the sandbox executor",
                 ignored_image);
        on_line(w, SL_EXEC_STREAM_SYSTEM, line, strlen(line), true);
    }
    char num[32];
    snprintf(num, sizeof(num), "%lld", (long long)job->id);
    sl_log(SL_LOG_INFO, "job started", "job_id", num, "name", job->name, "worker", w->id, NULL);

    int64_t t0 = sl_time_mono_ns();
    if (brc < 0 || sl_job_run(&js, &res, &err) < 0) {
        res.success = false;
        res.failure_name = "runner_system_failure";
        res.exit_code = -1;
        on_line(w, SL_EXEC_STREAM_SYSTEM, sl_error_format(&err), strlen(sl_error_format(&err)),
                true);
    }
    double secs = (double)(sl_time_mono_ns() - t0) / 1e9;
    sl_metrics_job(&s->metrics, secs);
    pthread_mutex_lock(&w->log_mu);
    log_flush(w);
    pthread_mutex_unlock(&w->log_mu);
    reports_save(s, job->id, &res);
    coverage_save(s, job->id, res.coverage);
    if (res.artifacts) {
        struct sl_store_artifact a = {0};
        a.job_id = job->id;
        a.name = res.artifacts->name ? res.artifacts->name : (char *)"artifacts";
        size_t dl = strlen(s->data_dir);
        a.path = !strncmp(res.artifacts->archive, s->data_dir, dl) ? res.artifacts->archive + dl + 1
                                                                   : res.artifacts->archive;
        a.size = (int64_t)res.artifacts->archive_bytes;
        a.created_at = sl_time_now_ms();
        if (res.artifacts->expire_in_s > 0)
            a.expire_at = a.created_at + res.artifacts->expire_in_s * 1000;
        sl_store_artifact_add(s->st, &a, NULL, NULL);
    }

    pthread_mutex_lock(&w->mu);
    w->job_id = 0;
    struct sl_exec_cancel *c = w->cancel;
    w->cancel = NULL;
    pthread_mutex_unlock(&w->mu);
    sl_exec_cancel_free(c);

    /* the workspace stays for the job's next run; its slot is free again (before the end is
     * recorded, so a retry finds it) */
    if (home)
        sl_fs_remove_tree(home, NULL);
    sl_fs_remove_tree(varfiles, NULL);
    workspace_give(workspace);

    struct sl_error terr = SL_ERROR_INIT;
    int rc;
    const char *outcome;
    if (res.canceled) {
        /* canceled through the API (already recorded) or by shutdown (record it now) */
        outcome = "canceled";
        rc = sl_srv_transition(s, job->pipeline_id, SRV_EV_CANCEL_JOB, (size_t)job->position, NULL,
                               false, &terr);
        /* SL_EINVAL: not running any more, the API canceled it. Either way settle from the
         * stored rows: a kill is recorded on the job only, and the pipeline must finish
         * (canceled) rather than stay running across a restart. */
        if (rc == 0 || rc == SL_EINVAL)
            rc = sl_srv_transition(s, job->pipeline_id, SRV_EV_SETTLE, 0, NULL, false, &terr);
    } else {
        enum sl_sched_failure f = SL_SCHED_FAILURE_NONE;
        if (!res.success && sl_sched_failure_parse(res.failure_name, &f) < 0)
            f = SL_SCHED_FAILURE_UNKNOWN;
        if (!res.success && f == SL_SCHED_FAILURE_NONE)
            f = SL_SCHED_FAILURE_UNKNOWN;
        outcome = res.success ? "success" : res.failure_name;
        struct srv_finish fin = {f, res.exit_code >= 0 ? res.exit_code : SL_SCHED_NO_EXIT_CODE,
                                 w->id, job->id};
        rc = sl_srv_transition(s, job->pipeline_id, SRV_EV_FINISHED, (size_t)job->position, &fin,
                               false, &terr);
    }
    if (rc < 0)
        sl_log(SL_LOG_ERROR, "cannot record a job's end", "job_id", num, "error",
               sl_error_format(&terr), NULL);
    char dur[32];
    snprintf(dur, sizeof(dur), "%.3f", secs);
    sl_log(SL_LOG_INFO, "job finished", "job_id", num, "name", job->name, "outcome", outcome,
           "duration_s", dur, NULL);
    sl_error_release(&terr);
    free(home);

    sl_job_result_release(&res);
    free(svcs);
    sl_error_release(&err);
    sl_srv_job_vars_release(&jv);
    sl_mask_free(mask);
    free(varfiles);
    sl_jobspec_release(&bound);
    sl_job_decoded_release(&planned);
    sl_arena_release(&ca);
    for (char **e = base; *e; e++)
        free(*e);
    free(base);
    free(tree);
    free(builds);
    free(workspace);
    free(pdir);
    free(artdir);
    free(logdir);
    free(logpath);
    json_decref(spec);
}

/* A claim's in_claim argument: the server, and the claimed job's pipeline row as the claim's
 * transaction left it (HAVE false: not read, or what the transition wrote rolled back). */
struct claim_ctx {
    struct sl_server *s;
    struct sl_store_pipeline p;
    bool have;
};

/* sl_store_claim's in_claim: the pipeline says running (with its started_at) in the
 * claim's own transaction, so no instant shows its job running and the pipeline not */
static int pipeline_runs(void *arg, const struct sl_store_job *job, struct sl_error *err)
{
    struct claim_ctx *c = arg;
    struct sl_server *s = c->s;
    sl_store_pipeline_release(&c->p);
    c->have = false;
    bool read = sl_store_pipeline_get(s->st, job->pipeline_id, &c->p, NULL) == 0;
    /* already running (every claim but a pipeline's first): a settle would read all its
     * jobs to find that out again (a pipeline of N jobs, N times) */
    if (read && !strcmp(c->p.status, "running") && c->p.started_at && !c->p.hold_reason) {
        c->have = true;
        return 0;
    }
    /* the row just read in this transaction: the settle takes it instead of reading it */
    int rc = read ? sl_srv_transition_of(s, &c->p, SRV_EV_SETTLE, 0, NULL, err)
                  : sl_srv_transition(s, job->pipeline_id, SRV_EV_SETTLE, 0, NULL, false, err);
    if (rc < 0) {
        atomic_fetch_add(&s->metrics.store_errors, 1);
        sl_log(SL_LOG_WARN, "cannot mark the pipeline running", "error", sl_error_format(err),
               NULL);
        return rc;
    }
    c->have = read;
    return 0;
}

int sl_srv_claim(struct sl_server *s, const char *worker_id, const char *const *tags, size_t ntags,
                 bool untagged, struct sl_store_job *out, char **token_out,
                 struct sl_store_pipeline *pipeline_out, bool *have_pipeline, struct sl_error *err)
{
    struct claim_ctx ctx = {.s = s};
    struct sl_store_claim c = {.worker_id = worker_id,
                               .tags = tags,
                               .ntags = ntags,
                               .untagged = untagged,
                               .lease_seconds = s->lease_s,
                               .now = sl_time_now_ms(),
                               .in_claim = pipeline_runs,
                               .arg = &ctx};
    int rc = sl_store_claim(s->st, &c, out, token_out, err);
    *have_pipeline = rc == 1 && ctx.have;
    if (*have_pipeline) {
        *pipeline_out = ctx.p;
        memset(&ctx.p, 0, sizeof(ctx.p));
    }
    sl_store_pipeline_release(&ctx.p);
    return rc;
}

bool sl_srv_job_claimed(struct sl_server *s, const struct sl_store_job *job, const char *worker_id,
                        const struct sl_store_pipeline *pipeline)
{
    /* refused first: a rejected deployment must not be taken for a retried one */
    if (sl_srv_deploy_claimed(s, job, worker_id))
        return false;
    sl_srv_job_reported_of(s, job, pipeline); /* the claimed row, as the claim returned it */
    return true;
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct sl_server *s = w->s;
    while (!atomic_load(&s->stopping)) {
        struct sl_store_job job;
        struct sl_error err = SL_ERROR_INIT;
        memset(&job, 0, sizeof(job));
        pthread_mutex_lock(&w->mu);
        w->claiming = true;
        pthread_mutex_unlock(&w->mu);
        struct sl_store_pipeline pl = {0};
        bool have_pl = false;
        int rc = sl_srv_claim(s, w->id, NULL, 0, true, &job, NULL, &pl, &have_pl, &err);
        pthread_mutex_lock(&w->mu);
        w->claiming = false;
        w->claims++;
        w->pipeline_id = rc == 1 ? job.pipeline_id : 0;
        pthread_mutex_unlock(&w->mu);
        if (rc == 1) {
            bool run = sl_srv_job_claimed(s, &job, w->id, have_pl ? &pl : NULL) &&
                       !sl_srv_job_settle_bridge(s, &job, w->id);
            sl_store_pipeline_release(&pl);
            if (run)
                run_claimed(w, &job);
            pthread_mutex_lock(&w->mu);
            w->pipeline_id = 0;
            pthread_mutex_unlock(&w->mu);
            sl_store_job_release(&job);
            continue;
        }
        if (rc < 0) {
            atomic_fetch_add(&s->metrics.store_errors, 1);
            sl_log(SL_LOG_ERROR, "cannot claim a job", "error", sl_error_format(&err), NULL);
        }
        sl_error_release(&err);
        pthread_mutex_lock(&s->wake_mu);
        if (!atomic_load(&s->stopping)) {
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts); /* wake_cv waits on CLOCK_MONOTONIC */
            ts.tv_sec += 1;
            pthread_cond_timedwait(&s->wake_cv, &s->wake_mu, &ts);
        }
        pthread_mutex_unlock(&s->wake_mu);
    }
    return NULL;
}

/* Settles every pipeline with a delayed job due by NOW, however many wait (keyset pages
 * over the pipelines that have one, not the first rows of the queue), each once. */
static void settle_due(struct sl_server *s, int64_t now)
{
    int64_t after = 0;
    for (;;) {
        int64_t *ids = NULL;
        size_t n = 0;
        struct sl_error err = SL_ERROR_INIT;
        if (sl_store_due_pipelines(s->st, now, after, SL_STORE_LIST_MAX, &ids, &n, &err) < 0) {
            atomic_fetch_add(&s->metrics.store_errors, 1);
            sl_log(SL_LOG_ERROR, "cannot list delayed jobs", "error", sl_error_format(&err), NULL);
            sl_error_release(&err);
            return;
        }
        for (size_t i = 0; i < n && !atomic_load(&s->stopping); i++)
            sl_srv_transition(s, ids[i], SRV_EV_SETTLE, 0, NULL, false, NULL);
        after = n ? ids[n - 1] : after;
        free(ids);
        if (n < (size_t)SL_STORE_LIST_MAX || atomic_load(&s->stopping))
            return;
    }
}

/* The earliest delayed job's due time (0: none waits), or NOW when the store cannot say
 * (the ticker then settles every second, as it would without it). */
static int64_t next_due(struct sl_server *s, int64_t now)
{
    int64_t due = 0;
    struct sl_error err = SL_ERROR_INIT;
    if (sl_store_next_due(s->st, &due, &err) < 0) {
        atomic_fetch_add(&s->metrics.store_errors, 1);
        sl_log(SL_LOG_ERROR, "cannot read when delayed jobs are due", "error",
               sl_error_format(&err), NULL);
        due = now;
    }
    sl_error_release(&err);
    return due;
}

/* Every LOG_TICK_MS: stores log lines a quiet job left waiting; every 250 ms renews leases
 * (a refused renewal cancels the job) and cancels everything once the grace period is over;
 * every second reads when the next delayed job is due and does the periodic work of
 * environments, resource groups and lapsed jobs. Delayed jobs are settled at the first tick
 * at or after their time, not at the next whole second (a job started up to 1 s late). */
static void *ticker_main(void *arg)
{
    struct sl_server *s = arg;
    int64_t last_settle = 0, last_renew = 0, due = 0;
    for (;;) {
        bool stopping = atomic_load(&s->stopping);
        int busy = 0;
        int64_t mono = sl_time_mono_ns() / 1000000;
        bool renew = mono - last_renew >= 250;
        if (renew)
            last_renew = mono;
        for (int i = 0; i < s->nworkers; i++) {
            struct worker *w = &s->workers[i];
            log_flush_quiet(w);
            pthread_mutex_lock(&w->mu);
            if (w->job_id) {
                busy++;
                int rc = renew ? sl_store_job_renew_lease(s->st, w->job_id, w->id, s->lease_s,
                                                          sl_time_now_ms(), NULL)
                               : 0;
                if ((rc == SL_ECANCELED || atomic_load(&s->cancel_all)) && w->cancel)
                    sl_exec_cancel(w->cancel);
            }
            pthread_mutex_unlock(&w->mu);
        }
        if (stopping && busy == 0)
            break;
        int64_t now = sl_time_now_ms();
        /* the second's reading also finds jobs made since, due sooner than the last known */
        if (!stopping && now - last_settle >= 1000)
            due = next_due(s, now);
        if (!stopping && due && now >= due) {
            settle_due(s, now);
            due = next_due(s, now);
            /* a due job its pipeline did not take stays scheduled: settled again at the
             * next second's reading, not at every tick */
            if (due && due <= now)
                due = 0;
        }
        if (!stopping && now - last_settle >= 1000) {
            last_settle = now;
            sl_srv_deploy_tick(s, now);
            sl_srv_resource_groups_kick(s, 0);
            sl_srv_recover_lapsed(s);
        }
        sl_srv_runners_tick(s);
        usleep(LOG_TICK_MS * 1000);
    }
    return NULL;
}

int sl_srv_workers_start(struct sl_server *s, int n, struct sl_error *err)
{
    s->nworkers = n;
    s->workers = sl_xcalloc((size_t)(n > 0 ? n : 1), sizeof(struct worker));
    for (int i = 0; i < n; i++) {
        struct worker *w = &s->workers[i];
        w->s = s;
        w->idx = i;
        snprintf(w->id, sizeof(w->id), "%sworker-%d", s->worker_prefix, i);
        pthread_mutex_init(&w->mu, NULL);
        pthread_mutex_init(&w->log_mu, NULL);
        sl_str_init(&w->logbuf);
    }
    /* containers a server killed with -9 left running: removed now, not at the first
     * docker job (in the background: no engine, or a slow one, must not hold the start) */
    if (n > 0 && !s->use_sandbox && s->executor.kind != SL_EXEC_CHOOSE_SHELL)
        sl_exec_docker_sweep_start();
    for (int i = 0; i < n; i++) {
        if (pthread_create(&s->workers[i].th, NULL, worker_main, &s->workers[i]) != 0)
            return sl_error_set(err, SL_EIO, "cannot start worker %d", i);
        s->workers[i].started = true;
    }
    if (pthread_create(&s->ticker, NULL, ticker_main, s) != 0)
        return sl_error_set(err, SL_EIO, "cannot start the ticker thread");
    s->ticker_started = true;
    return 0;
}

void sl_srv_workers_wake(struct sl_server *s)
{
    sl_srv_runners_wake(s);
    pthread_mutex_lock(&s->wake_mu);
    pthread_cond_broadcast(&s->wake_cv);
    pthread_mutex_unlock(&s->wake_mu);
}

int sl_srv_workers_busy(struct sl_server *s)
{
    int busy = 0;
    for (int i = 0; i < s->nworkers; i++) {
        pthread_mutex_lock(&s->workers[i].mu);
        busy += s->workers[i].job_id != 0;
        pthread_mutex_unlock(&s->workers[i].mu);
    }
    return busy;
}

static bool among(int64_t id, const int64_t *ids, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (ids[i] == id)
            return true;
    return false;
}

void sl_srv_workers_drop(struct sl_server *s, const int64_t *pipelines, size_t n)
{
    for (int i = 0; i < s->nworkers; i++) {
        struct worker *w = &s->workers[i];
        pthread_mutex_lock(&w->mu);
        unsigned seen = w->claims;
        /* a claim under way when we looked may have taken a job of PIPELINES before they
         * were canceled; one that starts later finds them canceled */
        while ((w->claiming && w->claims == seen) ||
               (w->pipeline_id && among(w->pipeline_id, pipelines, n))) {
            if (w->cancel && w->pipeline_id && among(w->pipeline_id, pipelines, n))
                sl_exec_cancel(w->cancel);
            pthread_mutex_unlock(&w->mu);
            usleep(10 * 1000);
            pthread_mutex_lock(&w->mu);
        }
        pthread_mutex_unlock(&w->mu);
    }
}

void sl_srv_workers_join(struct sl_server *s)
{
    sl_srv_workers_wake(s);
    for (int i = 0; i < s->nworkers; i++)
        if (s->workers[i].started)
            pthread_join(s->workers[i].th, NULL);
    if (s->ticker_started)
        pthread_join(s->ticker, NULL);
    s->ticker_started = false;
    for (int i = 0; i < s->nworkers; i++) {
        s->workers[i].started = false;
        sl_str_release(&s->workers[i].logbuf);
        pthread_mutex_destroy(&s->workers[i].mu);
        pthread_mutex_destroy(&s->workers[i].log_mu);
    }
    free(s->workers);
    s->workers = NULL;
    s->nworkers = 0;
}

/* Fails the running jobs whose lease lapsed and, with PREFIX, those of this server's own
 * workers, feeding each to its pipeline as a runner_system_failure (retry applies). */
static int recover(struct sl_server *s, const char *prefix, const char *why, struct sl_error *err)
{
    struct sl_store_job *jobs = NULL;
    size_t n = 0;
    int rc = sl_store_recover_jobs(s->st, prefix, sl_time_now_ms(), &jobs, &n, err);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < n; i++) {
        char num[32];
        snprintf(num, sizeof(num), "%lld", (long long)jobs[i].id);
        sl_log(SL_LOG_WARN, why, "job_id", num, "name", jobs[i].name, "runner",
               jobs[i].runner_id ? jobs[i].runner_id : "", "failure_reason",
               "runner_system_failure", NULL);
        struct srv_finish fin = {SL_SCHED_FAILURE_RUNNER_SYSTEM, SL_SCHED_NO_EXIT_CODE, NULL,
                                 jobs[i].id};
        struct sl_error terr = SL_ERROR_INIT;
        /* a job its runner was asked to cancel ends canceled, not retried */
        enum srv_event ev = jobs[i].cancel_requested_at ? SRV_EV_CANCEL_JOB : SRV_EV_FINISHED;
        if (sl_srv_transition(s, jobs[i].pipeline_id, ev, (size_t)jobs[i].position, &fin, true,
                              &terr) < 0)
            sl_log(SL_LOG_ERROR, "cannot settle a recovered job", "job_id", num, "error",
                   sl_error_format(&terr), NULL);
        sl_error_release(&terr);
    }
    sl_store_jobs_free(jobs, n);
    return 0;
}

int sl_srv_recover(struct sl_server *s, struct sl_error *err)
{
    char **gone = NULL;
    size_t n = 0;
    int rc = sl_srv_instance_start(s, &gone, &n, err);
    if (rc == 0)
        rc = recover(s, NULL, "job whose lease lapsed marked failed", err);
    for (size_t i = 0; i < n; i++) {
        if (rc == 0)
            rc = recover(s, gone[i], "job left running by a crash marked failed", err);
        free(gone[i]);
    }
    free(gone);
    return rc;
}

void sl_srv_recover_lapsed(struct sl_server *s)
{
    struct sl_error err = SL_ERROR_INIT;
    if (recover(s, NULL, "job whose lease lapsed marked failed", &err) < 0) {
        atomic_fetch_add(&s->metrics.store_errors, 1);
        sl_log(SL_LOG_ERROR, "cannot fail lapsed jobs", "error", sl_error_format(&err), NULL);
    }
    sl_error_release(&err);
}
