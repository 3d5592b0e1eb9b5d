/* runjob.c: one job on an agent, from payload to final state (internal.h). */
#include "base/compat.h"
#include "agent/http.h"
#include "agent/internal.h"
#include "agent/source.h"
#include "agent/trace.h"
#include "base/alloc.h"
#include "base/fs.h"
#include "base/log.h"
#include "base/str.h"
#include "base/time.h"
#include "exec/job.h"
#include "exec/mask.h"

#include <fcntl.h>
#include <jansson.h>
#include <unistd.h>
#include <zlib.h>

/* How long a finished job's log and outcome are kept trying while the server is away. */
#define REPORT_DEADLINE_MS (15 * 60 * 1000)
/* A log of at most this many bytes goes with the job's end (its last patch saved) */
#define TRACE_WITH_END_MAX (64 * 1024)

/* Variables of the agent's own environment a job gets (never the rest: the agent's
 * environment may hold its token or a cloud credential). */
static const char *const passed_env[] = {"PATH",        "HOME",           "USER", "LOGNAME",
                                         "LANG",        "LC_ALL",         "TZ",   "TMPDIR",
                                         "DOCKER_HOST", "CONTAINERS_CONF"};

struct run {
    struct sl_agent *a;
    struct agent_slot *slot;
    struct sl_agent_job job;
    struct sl_agent_trace *trace;
    char *dir; /* WORK_DIR/jobs/<id>: everything of this job, removed at the end */
    char *log_path;
    char *tok_hdr;
};

static void say(void *ctx, const char *fmt, ...) SL_PRINTF(2, 3);
static void say(void *ctx, const char *fmt, ...)
{
    struct run *r = ctx;
    struct sl_str s = SL_STR_INIT;
    va_list ap;
    va_start(ap, fmt);
    sl_str_vaddf(&s, fmt, ap);
    va_end(ap);
    sl_str_addc(&s, '\n');
    int fd = open(r->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd >= 0) {
        ssize_t SL_UNUSED w = write(fd, s.buf, s.len);
        close(fd);
    }
    sl_str_release(&s);
    if (r->trace)
        sl_agent_trace_notify(r->trace);
}

static void on_line(void *ctx, enum sl_exec_stream stream, const char *line, size_t len,
                    bool ends_line)
{
    (void)stream, (void)line, (void)len, (void)ends_line; /* the trace reads the log file */
    struct run *r = ctx;
    sl_agent_trace_notify(r->trace);
}

static void add_env(char ***env, size_t *n, size_t *cap, char *kv)
{
    SL_GROW(*env, *cap, *n + 2);
    (*env)[(*n)++] = kv;
    (*env)[*n] = NULL;
}

/* The job's environment: a few of the agent's variables, the payload's (file variables
 * as paths to files in TMP), then what only the agent knows; the last of a name wins. */
static char **job_env(struct run *r, const char *workspace, const char *builds, const char *tmp)
{
    char **env = NULL;
    size_t n = 0, cap = 0;
    for (size_t i = 0; i < SL_ARRAY_LEN(passed_env); i++) {
        const char *v = getenv(passed_env[i]);
        if (v)
            add_env(&env, &n, &cap, sl_xasprintf("%s=%s", passed_env[i], v));
    }
    for (size_t i = 0; i < r->job.nvars; i++) {
        const struct sl_agent_var *v = &r->job.vars[i];
        if (v->file) {
            char *path = sl_xasprintf("%s/%s", tmp, v->key);
            if (strchr(v->key, '/') ||
                sl_fs_write_atomic(path, v->value, strlen(v->value), 0600, NULL) < 0) {
                say(r, "WARNING: file variable %s could not be written", v->key);
                free(path);
                continue;
            }
            add_env(&env, &n, &cap, sl_xasprintf("%s=%s", v->key, path));
            free(path);
        } else {
            add_env(&env, &n, &cap, sl_xasprintf("%s=%s", v->key, v->value));
        }
    }
    add_env(&env, &n, &cap, sl_xasprintf("CI_PROJECT_DIR=%s", workspace));
    add_env(&env, &n, &cap, sl_xasprintf("CI_BUILDS_DIR=%s", builds));
    add_env(&env, &n, &cap, sl_xasprintf("CI_RUNNER_VERSION=%s", SL_VERSION));
    add_env(&env, &n, &cap, sl_xstrdup("CI_RUNNER_EXECUTABLE_ARCH=linux/amd64"));
    add_env(&env, &n, &cap,
            sl_xasprintf("CI_RUNNER_SHORT_TOKEN=%.8s",
                         r->a->o.token + (sl_starts_with(r->a->o.token, "glrt-") ? 5 : 0)));
    size_t out = 0;
    for (size_t i = 0; i < n; i++) {
        size_t kl = strcspn(env[i], "=");
        bool later = false;
        for (size_t j = i + 1; j < n && !later; j++)
            later = !strncmp(env[i], env[j], kl) && env[j][kl] == '=';
        if (later)
            free(env[i]);
        else
            env[out++] = env[i];
    }
    env[out] = NULL;
    return env;
}

static void env_free(char **env)
{
    for (char **e = env; e && *e; e++)
        free(*e);
    free(env);
}

static unsigned pull_policies(const char *const *names)
{
    static const struct {
        const char *name;
        unsigned bit;
    } table[] = {{"always", SL_PULL_ALWAYS},
                 {"if-not-present", SL_PULL_IF_NOT_PRESENT},
                 {"never", SL_PULL_NEVER}};
    unsigned mask = 0;
    for (const char *const *p = names; p && *p; p++)
        for (size_t i = 0; i < SL_ARRAY_LEN(table); i++)
            if (!strcmp(*p, table[i].name))
                mask |= table[i].bit;
    return mask;
}

/* The executor for this job, and the docker part from the payload's image and services. */
static void choose_executor(struct run *r, struct sl_exec_docker *dk, struct sl_exec_service *svcs)
{
    struct sl_job_spec *js = &r->job.spec;
    enum sl_agent_executor e = r->a->o.executor;
    if (e == SL_AGENT_EXEC_AUTO)
        e = js->image ? SL_AGENT_EXEC_DOCKER : SL_AGENT_EXEC_SHELL;
    if (e == SL_AGENT_EXEC_DOCKER && !js->image) {
        say(r, "ERROR: the docker executor needs an image: the job has none");
        e = SL_AGENT_EXEC_SHELL;
    }
    if (e != SL_AGENT_EXEC_DOCKER && js->image)
        say(r, "WARNING: image %s ignored by the %s executor", js->image->name,
            e == SL_AGENT_EXEC_SANDBOX ? "sandbox" : "shell");
    switch (e) {
    case SL_AGENT_EXEC_DOCKER:
        js->exec.executor = SL_EXEC_DOCKER;
        memset(dk, 0, sizeof(*dk));
        dk->image = js->image->name;
        dk->entrypoint = js->image->entrypoint;
        dk->pull_policy = pull_policies(js->image->pull_policy);
        dk->project_path = r->job.project_path;
        for (size_t i = 0; i < js->nservices; i++) {
            const struct sl_job_image *s = &js->services[i];
            svcs[i] =
                (struct sl_exec_service){s->name,    s->alias,     s->entrypoint,
                                         s->command, s->variables, pull_policies(s->pull_policy)};
        }
        dk->services = svcs;
        dk->nservices = js->nservices;
        js->exec.docker = dk;
        break;
    case SL_AGENT_EXEC_SANDBOX:
        js->exec.executor = SL_EXEC_SANDBOX;
        js->exec.sandbox = &r->a->sandbox;
        break;
    default:
        js->exec.executor = SL_EXEC_SHELL;
        break;
    }
}

/* Downloads the artifacts of each dependency that has some into DIR, as the job's artifact
 * sources. False (with the reason in the log) when one cannot be had. */
static bool download_deps(struct run *r, const char *dir, struct sl_job_source *srcs, size_t *ns)
{
    *ns = 0;
    for (size_t i = 0; i < r->job.ndeps; i++) {
        const struct sl_agent_dep *d = &r->job.deps[i];
        if (!d->filename)
            continue;
        char *url = sl_xasprintf("%s/jobs/%lld/artifacts", r->a->base, (long long)d->id);
        char *path = sl_xasprintf("%s/%lld.zip", dir, (long long)d->id);
        char *hdr = sl_xasprintf("JOB-TOKEN: %s", d->token ? d->token : r->job.token);
        const char *hdrs[] = {hdr, NULL};
        struct sl_agent_http_req req = {.method = "GET",
                                        .url = url,
                                        .headers = hdrs,
                                        .download_path = path,
                                        .download_max = SL_ARTIFACTS_MAX_BYTES,
                                        .timeout_s = 600};
        struct sl_agent_http_resp resp = {0};
        struct sl_error err = SL_ERROR_INIT;
        int64_t delay = 1000;
        long status = 0;
        for (int attempt = 0; attempt < 5; attempt++) {
            if (sl_agent_http(&req, &resp, &err) == 0) {
                status = resp.status;
                sl_agent_http_resp_release(&resp);
                if (status < 500)
                    break;
            }
            sl_error_release(&err);
            usleep((useconds_t)delay * 1000);
            delay = sl_agent_backoff(delay);
        }
        free(url);
        free(hdr);
        if (status != 200) {
            say(r, "ERROR: Downloading artifacts from coordinator... failed: %s (id=%lld, %ld)",
                d->name ? d->name : "?", (long long)d->id, status);
            free(path);
            return false;
        }
        say(r, "Downloading artifacts for %s (%lld)... ok", d->name ? d->name : "?",
            (long long)d->id);
        srcs[*ns] = (struct sl_job_source){d->name, NULL, d->id, path};
        (*ns)++;
    }
    return true;
}

static const char *info_or_empty(struct sl_agent *a)
{
    return a->info_json ? a->info_json : "{}";
}

/* crc32 of the whole log, as gitlab-runner's output checksum ("crc32:%08x"). */
static void log_checksum(const char *path, char *buf, size_t size, uint64_t *bytes)
{
    uLong crc = crc32(0L, Z_NULL, 0);
    char chunk[65536];
    ssize_t n;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    *bytes = 0;
    while (fd >= 0 && (n = read(fd, chunk, sizeof(chunk))) > 0) {
        crc = crc32(crc, (const Bytef *)chunk, (uInt)n);
        *bytes += (uint64_t)n;
    }
    if (fd >= 0)
        close(fd);
    snprintf(buf, size, "crc32:%08lx", (unsigned long)crc);
}

/* The whole log at PATH as a JSON string when it is BYTES long and text JSON can carry (UTF-8
 * without NUL bytes); NULL otherwise. */
static json_t *log_text(const char *path, uint64_t bytes)
{
    char *buf = sl_xmalloc(bytes + 1);
    json_t *v = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t got = fd >= 0 ? read(fd, buf, bytes + 1) : -1;
    if (fd >= 0)
        close(fd);
    if (got == (ssize_t)bytes && !memchr(buf, 0, bytes))
        v = json_stringn(buf, bytes);
    free(buf);
    return v;
}

/* The final PUT, retried while the server is away or answers 202 (not yet complete). With
 * TAIL (sl_agent_trace_finish_short left the rest of the log unsent) the whole log goes in
 * its "trace"; when it cannot (not text) or the server does not take it (412: it still lacks
 * bytes), TAIL sends the rest as patches first and the PUT goes without. */
static void put_final(struct run *r, const char *state, const char *reason, int exit_code,
                      struct sl_agent_trace *tail)
{
    char sum[32], id[32];
    uint64_t bytes;
    snprintf(id, sizeof(id), "%lld", (long long)r->job.id);
    log_checksum(r->log_path, sum, sizeof(sum), &bytes);
    json_t *o =
        json_pack("{s:s,s:s,s:s,s:{s:s,s:I}}", "token", r->job.token, "state", state, "checksum",
                  sum, "output", "checksum", sum, "bytesize", (json_int_t)bytes);
    json_t *text = tail ? log_text(r->log_path, bytes) : NULL;
    if (text)
        json_object_set_new(o, "trace", text);
    else if (tail && sl_agent_trace_finish(tail, sl_time_mono_ns() / 1000000 +
                                                     REPORT_DEADLINE_MS) == SL_ECANCELED) {
        sl_log(SL_LOG_WARN, "job aborted by the server: outcome not sent", "job", id, NULL);
        json_decref(o);
        return;
    }
    if (reason && *reason)
        json_object_set_new(o, "failure_reason", json_string(reason));
    if (exit_code >= 0)
        json_object_set_new(o, "exit_code", json_integer(exit_code));
    json_t *info = json_loads(info_or_empty(r->a), 0, NULL);
    if (info)
        json_object_set_new(o, "info", info);
    char *body = json_dumps(o, JSON_COMPACT);
    char *url = sl_xasprintf("%s/jobs/%lld", r->a->base, (long long)r->job.id);
    const char *hdrs[] = {r->tok_hdr, NULL};
    struct sl_agent_http_req req = {.method = "PUT",
                                    .url = url,
                                    .headers = hdrs,
                                    .body = body,
                                    .body_len = strlen(body),
                                    .timeout_s = 30};
    int64_t deadline = sl_time_mono_ns() / 1000000 + REPORT_DEADLINE_MS, delay = 1000;
    for (;;) {
        struct sl_agent_http_resp resp;
        struct sl_error err = SL_ERROR_INIT;
        if (sl_agent_http(&req, &resp, &err) == 0) {
            long st = resp.status;
            sl_agent_http_resp_release(&resp);
            if (st == 412 && text) {
                /* a server without "trace" (or one that refused it): patches, then again */
                text = NULL;
                json_object_del(o, "trace");
                free(body);
                body = json_dumps(o, JSON_COMPACT);
                req.body = body;
                req.body_len = strlen(body);
                if (sl_agent_trace_finish(tail, deadline) < 0) {
                    sl_log(SL_LOG_WARN, "final state refused", "job", id, "status", "412", NULL);
                    break;
                }
                continue;
            }
            if (st == 200) {
                sl_log(SL_LOG_INFO, "job finished", "job", id, "state", state, "failure_reason",
                       reason ? reason : "", NULL);
                break;
            }
            if (st != 202 && st < 500) {
                /* 403: the job is no longer ours (its lease lapsed); 404: gone */
                char code[24];
                snprintf(code, sizeof(code), "%ld", st);
                sl_log(SL_LOG_WARN, "final state refused", "job", id, "status", code, NULL);
                break;
            }
        } else {
            sl_log(SL_LOG_WARN, "final state not sent, retrying", "job", id, "error",
                   sl_error_format(&err), NULL);
            sl_error_release(&err);
        }
        if (sl_time_mono_ns() / 1000000 >= deadline || r->a->stop_now) {
            sl_log(SL_LOG_ERROR, "final state lost: server away too long", "job", id, NULL);
            break;
        }
        usleep((useconds_t)delay * 1000);
        delay = sl_agent_backoff(delay);
    }
    free(url);
    free(body);
    json_decref(o);
}

static struct sl_mask *job_mask(struct run *r)
{
    struct sl_mask *m = sl_mask_new();
    for (size_t i = 0; i < r->job.nvars; i++)
        if (r->job.vars[i].masked && *r->job.vars[i].value)
            sl_mask_add(m, r->job.vars[i].value, strlen(r->job.vars[i].value), NULL);
    sl_mask_add(m, r->job.token, strlen(r->job.token), NULL);
    return m;
}

/* Parses enough of a payload that failed to decode to tell the server (id and token). */
static void report_unreadable(struct sl_agent *a, const char *payload, size_t len,
                              const struct sl_error *perr)
{
    json_t *root = json_loadb(payload, SL_MIN(len, (size_t)SL_AGENT_PAYLOAD_MAX), 0, NULL);
    json_int_t id = json_integer_value(json_object_get(root, "id"));
    const char *token = json_string_value(json_object_get(root, "token"));
    sl_log(SL_LOG_ERROR, "job payload refused", "error", sl_error_format(perr), NULL);
    if (id > 0 && token) {
        struct run r = {.a = a};
        r.job.id = id;
        r.job.token = token;
        r.dir = sl_xasprintf("%s/jobs/%lld", a->work_dir, (long long)id);
        if (sl_fs_mkdir_p(r.dir, 0700, NULL) < 0) /* the log then goes to the server only */
            sl_log(SL_LOG_WARN, "cannot make the job's directory", "path", r.dir, NULL);
        r.log_path = sl_xasprintf("%s/job.log", r.dir);
        r.tok_hdr = sl_xasprintf("JOB-TOKEN: %s", token);
        say(&r, "ERROR: the agent cannot run this job: %s", sl_error_format(perr));
        struct sl_agent_trace_opts to = {a->base, id, token, r.log_path, NULL, a->info_json};
        r.trace = sl_agent_trace_start(&to);
        sl_agent_trace_finish(r.trace, sl_time_mono_ns() / 1000000 + 60000);
        sl_agent_trace_free(r.trace);
        put_final(&r, "failed", "runner_system_failure", -1, NULL);
        sl_fs_remove_tree(r.dir, NULL);
        free(r.dir);
        free(r.log_path);
        free(r.tok_hdr);
    }
    json_decref(root);
}

void sl_agent_run_job(struct agent_slot *slot, const char *payload, size_t len)
{
    struct sl_agent *a = slot->a;
    struct run r = {.a = a, .slot = slot};
    struct sl_error err = SL_ERROR_INIT;
    struct sl_job_result res;
    struct sl_exec_docker dk;
    struct sl_exec_service *svcs = NULL;
    struct sl_job_source *srcs = NULL;
    struct sl_mask *mask = NULL;
    struct sl_exec_cancel *cancel = NULL;
    char **env = NULL;
    char *src = NULL, *ws = NULL, *builds = NULL, *tmp = NULL, *deps = NULL, *mirror = NULL;
    const char *state = "failed", *reason = "runner_system_failure";
    int exit_code = -1;
    size_t ns = 0;
    char id[32];
    bool ran = false;

    memset(&res, 0, sizeof(res));
    if (sl_agent_payload_parse(&r.job, payload, len, &err) < 0) {
        report_unreadable(a, payload, len, &err);
        sl_error_release(&err);
        sl_agent_job_release(&r.job);
        return;
    }
    snprintf(id, sizeof(id), "%lld", (long long)r.job.id);
    sl_log(SL_LOG_INFO, "job received", "job", id, "name", r.job.name, "slot",
           sl_arena_printf(&r.job.arena, "%d", slot->index), NULL);
    r.dir = sl_xasprintf("%s/jobs/%lld", a->work_dir, (long long)r.job.id);
    sl_fs_remove_tree(r.dir, NULL);
    builds = sl_xasprintf("%s/builds", r.dir);
    ws = sl_xasprintf("%s/builds/%lld", r.dir, (long long)r.job.id);
    src = sl_xasprintf("%s/src", r.dir);
    tmp = sl_xasprintf("%s/tmp", r.dir);
    deps = sl_xasprintf("%s/deps", r.dir);
    r.log_path = sl_xasprintf("%s/job.log", r.dir);
    r.tok_hdr = sl_xasprintf("JOB-TOKEN: %s", r.job.token);
    mirror = sl_xasprintf("%s/repos/%lld.git", a->work_dir, (long long)r.job.project_id);
    if (sl_fs_mkdir_p(tmp, 0700, &err) < 0 || sl_fs_mkdir_p(deps, 0700, &err) < 0) {
        sl_log(SL_LOG_ERROR, "job directory", "job", id, "error", sl_error_format(&err), NULL);
        sl_error_release(&err);
    }
    cancel = sl_exec_cancel_new(NULL);
    struct sl_agent_trace_opts to = {a->base,    r.job.id, r.job.token,
                                     r.log_path, cancel,   a->info_json};
    say(&r, "Running with sluice agent %s (%s)", SL_VERSION, a->o.name);
    r.trace = sl_agent_trace_start(&to);
    pthread_mutex_lock(&a->mu);
    slot->cancel = cancel;
    slot->stop_failed = false;
    pthread_mutex_unlock(&a->mu);

    say(&r, "Getting source from Git repository");
    say(&r, "Fetching changes...");
    /* libgit2 1.5 cannot fetch shallow: a GIT_DEPTH the job asks for is said not to apply
     * where the user looks (the server's default depth is not: more history harms nothing) */
    for (size_t i = 0; i < r.job.nvars; i++)
        if (!strcmp(r.job.vars[i].key, "GIT_DEPTH") && *r.job.vars[i].value)
            say(&r,
                "WARNING: GIT_DEPTH=%s is not applied: the agent fetches whole histories "
                "(once per project, into its mirror; later jobs fetch only new objects)",
                r.job.vars[i].value);
    if (sl_agent_source_fetch(&r.job, mirror, src, &err) < 0) {
        say(&r, "ERROR: %s", sl_error_format(&err));
        sl_error_release(&err);
        goto report;
    }
    say(&r, "Checking out %.8s as detached HEAD (ref is %s)...", r.job.git.sha,
        r.job.git.ref ? r.job.git.ref : "?");
    srcs = sl_xcalloc(r.job.ndeps + 1, sizeof(*srcs));
    if (!download_deps(&r, deps, srcs, &ns)) {
        reason = "unmet_prerequisites";
        goto report;
    }

    svcs = sl_xcalloc(r.job.spec.nservices + 1, sizeof(*svcs));
    choose_executor(&r, &dk, svcs);
    env = job_env(&r, ws, builds, tmp);
    mask = job_mask(&r);
    r.job.spec.exec.env = (const char *const *)env;
    r.job.spec.exec.log_path = r.log_path;
    r.job.spec.exec.on_line = on_line;
    r.job.spec.exec.ctx = &r;
    r.job.spec.exec.cancel = cancel;
    r.job.spec.exec.mask = mask;
    r.job.spec.project_dir = src;
    r.job.spec.workspace = ws;
    r.job.spec.sources = srcs;
    r.job.spec.nsources = ns;
    r.job.spec.cache_dir = a->cache_dir;
    r.job.spec.caller_writes_outcome = true;
    say(&r, "Executing \"step_script\" stage of the job script");
    if (sl_job_run(&r.job.spec, &res, &err) < 0) {
        say(&r, "ERROR: %s", sl_error_format(&err));
        sl_error_release(&err);
        goto report;
    }
    ran = true;
    exit_code = res.exit_code;
    if (!sl_agent_trace_aborted(r.trace) && !res.canceled) {
        if (!sl_agent_upload_artifacts(a, &r.job, ws, tmp, res.success, say, &r) && res.success) {
            res.success = false;
            res.failure_name = "unknown_failure";
            snprintf(res.message, sizeof(res.message), "uploading artifacts failed");
        }
    }
    sl_job_outcome(&r.job.spec, &res);
    if (res.success) {
        state = "success";
        reason = NULL;
    } else if (res.canceled)
        reason = NULL;
    else
        reason = res.failure_name;
report:
    pthread_mutex_lock(&a->mu);
    slot->cancel = NULL;
    if (slot->stop_failed) {
        /* the agent's stop ended it: the runner failed, not the job */
        reason = "runner_system_failure";
        state = "failed";
    }
    pthread_mutex_unlock(&a->mu);
    /* at a stop the agent exits soon: a server away then is given a minute, not 15 */
    int trc = sl_agent_trace_finish_short(
        r.trace, sl_time_mono_ns() / 1000000 + (a->stopping ? 60000 : REPORT_DEADLINE_MS),
        TRACE_WITH_END_MAX);
    if (trc == SL_ECANCELED || sl_agent_trace_aborted(r.trace))
        sl_log(SL_LOG_WARN, "job aborted by the server: outcome not sent", "job", id, NULL);
    else
        put_final(&r, state, reason, ran ? exit_code : -1, trc == 1 ? r.trace : NULL);
    sl_agent_trace_free(r.trace);
    sl_job_result_release(&res);
    sl_fs_remove_tree(r.dir, NULL);
    sl_exec_cancel_free(cancel);
    sl_mask_free(mask);
    env_free(env);
    free(svcs);
    for (size_t i = 0; i < ns; i++)
        free((char *)srcs[i].archive);
    free(srcs);
    free(src);
    free(ws);
    free(builds);
    free(tmp);
    free(deps);
    free(mirror);
    free(r.dir);
    free(r.log_path);
    free(r.tok_hdr);
    sl_agent_job_release(&r.job);
}
