/* agent.c: `sluice agent`'s loop: verify, long-poll for jobs, run them (agent.h). */
#include "base/compat.h"
#include "agent/http.h"
#include "agent/internal.h"
#include "base/alloc.h"
#include "base/fs.h"
#include "base/log.h"
#include "base/time.h"

#include <jansson.h>
#include <sodium.h>
#include <unistd.h>

bool sl_agent_executor_parse(const char *s, enum sl_agent_executor *out)
{
    static const struct {
        const char *name;
        enum sl_agent_executor e;
    } names[] = {{"auto", SL_AGENT_EXEC_AUTO},
                 {"shell", SL_AGENT_EXEC_SHELL},
                 {"sandbox", SL_AGENT_EXEC_SANDBOX},
                 {"docker", SL_AGENT_EXEC_DOCKER}};
    for (size_t i = 0; i < SL_ARRAY_LEN(names); i++)
        if (!strcmp(s, names[i].name)) {
            *out = names[i].e;
            return true;
        }
    return false;
}

static const char *executor_name(enum sl_agent_executor e)
{
    static const char *const names[] = {"auto", "shell", "sandbox", "docker"};
    return names[e];
}

int64_t sl_agent_backoff(int64_t delay_ms)
{
    int64_t next = SL_MIN(delay_ms * 2, 60000);
    /* +-20 %: agents that lost the same server do not all come back in the same instant */
    int64_t jitter = (int64_t)randombytes_uniform((uint32_t)(next * 2 / 5 + 1)) - next / 5;
    return next + jitter;
}

void sl_agent_wait(struct sl_agent *a, int64_t ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (ms % 1000) * 1000000;
    if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
    }
    if (!a->stopping)
        pthread_cond_timedwait(&a->cv, &a->mu, &ts);
}

/* The runner info object of gitlab-runner's requests (common.Info), with the features
 * this agent has. */
static char *info_json(const struct sl_agent *a)
{
    json_t *f =
        json_pack("{s:b,s:b,s:b,s:b,s:b,s:b,s:b,s:b,s:b,s:b,s:b,s:b,s:b,s:b}", "variables", 1,
                  "image", 1, "services", 1, "artifacts", 1, "cache", 1, "fallback_cache_keys", 1,
                  "upload_multiple_artifacts", 1, "refspecs", 1, "masking", 1, "raw_variables", 1,
                  "artifacts_exclude", 1, "trace_reset", 1, "trace_checksum", 1, "trace_size", 1);
    json_object_set_new(f, "cancelable", json_true());
    json_object_set_new(f, "return_exit_code", json_true());
    json_object_set_new(f, "multi_build_steps", json_true());
    json_object_set_new(f, "service_variables", json_true());
    json_object_set_new(f, "service_multiple_aliases", json_true());
    json_object_set_new(f, "cancel_gracefully", json_true());
    json_t *o =
        json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:o}", "name", a->o.name, "version", SL_VERSION,
                  "revision", "sluice", "platform", "linux", "architecture", "amd64", "executor",
                  executor_name(a->o.executor), "shell", "bash", "features", f);
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return s;
}

/* A request body: TOKEN, system_id and info, plus EXTRA's fields. */
static char *runner_body(const struct sl_agent *a)
{
    json_t *o = json_pack("{s:s,s:s}", "token", a->o.token, "system_id", a->system_id);
    json_t *info = json_loads(a->info_json, 0, NULL);
    json_object_set_new(o, "info", info);
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return s;
}

static void refuse(struct sl_agent *a, const char *why)
{
    pthread_mutex_lock(&a->mu);
    if (!a->refused) {
        a->refused = true;
        snprintf(a->refused_msg, sizeof(a->refused_msg), "%s", why);
    }
    a->stopping = 1;
    pthread_cond_broadcast(&a->cv);
    pthread_mutex_unlock(&a->mu);
}

/* POST /runners/verify until the server answers: 200 goes on, 403 refuses the token. */
static int verify(struct sl_agent *a, struct sl_error *err)
{
    char *url = sl_xasprintf("%s/runners/verify", a->base), *body = runner_body(a);
    struct sl_agent_http_req req = {.method = "POST",
                                    .url = url,
                                    .body = body,
                                    .body_len = strlen(body),
                                    .timeout_s = 30,
                                    .abort = &a->stopping};
    int64_t delay = 1000;
    int rc = 0;
    for (;;) {
        struct sl_agent_http_resp r;
        struct sl_error e = SL_ERROR_INIT;
        if (sl_agent_http(&req, &r, &e) == 0) {
            long st = r.status;
            json_t *o = json_loads(r.body, 0, NULL);
            char idbuf[32];
            snprintf(idbuf, sizeof(idbuf), "%lld",
                     (long long)json_integer_value(json_object_get(o, "id")));
            json_decref(o);
            sl_agent_http_resp_release(&r);
            if (st == 200 || st == 201) {
                sl_log(SL_LOG_INFO, "runner verified", "url", a->o.url, "runner", idbuf, NULL);
                break;
            }
            if (st == 403 || st == 401) {
                rc = sl_error_set(err, SL_EPERM, "the server refused the runner token (%ld)", st);
                break;
            }
            sl_logf(SL_LOG_WARN, "verify: server answered %ld, retrying", st);
        } else {
            if (e.code == SL_ECANCELED) {
                sl_error_release(&e);
                break;
            }
            sl_log(SL_LOG_WARN, "server unreachable, retrying", "url", a->o.url, "error",
                   sl_error_format(&e), NULL);
            sl_error_release(&e);
        }
        pthread_mutex_lock(&a->mu);
        sl_agent_wait(a, delay);
        bool stop = a->stopping;
        pthread_mutex_unlock(&a->mu);
        if (stop)
            break;
        delay = sl_agent_backoff(delay);
    }
    free(url);
    free(body);
    return rc;
}

static void *slot_main(void *arg)
{
    struct agent_slot *slot = arg;
    struct sl_agent *a = slot->a;
    char *url = sl_xasprintf("%s/jobs/request", a->base), *body = runner_body(a);
    struct sl_agent_http_req req = {.method = "POST",
                                    .url = url,
                                    .body = body,
                                    .body_len = strlen(body),
                                    .timeout_s = a->o.long_poll_s > 0 ? a->o.long_poll_s : 60,
                                    .abort = &a->stopping};
    int64_t delay = 1000;
    bool was_away = false;

    while (!a->stopping) {
        struct sl_agent_http_resp r;
        struct sl_error e = SL_ERROR_INIT;
        int64_t wait_ms = 0;
        if (sl_agent_http(&req, &r, &e) == 0) {
            if (was_away)
                sl_log(SL_LOG_INFO, "server reachable again", "url", a->o.url, NULL);
            was_away = false;
            if (r.status == 201) {
                delay = 1000;
                sl_agent_run_job(slot, r.body, r.len);
            } else if (r.status == 204) {
                delay = 1000; /* nothing now: ask again at once, the server holds the request */
            } else if (r.status == 403 || r.status == 401) {
                sl_log(SL_LOG_ERROR, "the server refused the runner token", "url", a->o.url, NULL);
                refuse(a, "the server refused the runner token (deleted or paused runner?)");
            } else {
                sl_logf(SL_LOG_WARN, "jobs/request: server answered %ld, retrying", r.status);
                wait_ms = delay;
            }
            sl_agent_http_resp_release(&r);
        } else if (e.code != SL_ECANCELED) {
            if (!was_away)
                sl_log(SL_LOG_WARN, "server unreachable, retrying with backoff", "url", a->o.url,
                       "error", sl_error_format(&e), NULL);
            was_away = true;
            wait_ms = delay;
        }
        sl_error_release(&e);
        if (wait_ms) {
            pthread_mutex_lock(&a->mu);
            sl_agent_wait(a, wait_ms);
            pthread_mutex_unlock(&a->mu);
            delay = sl_agent_backoff(delay);
        }
    }
    free(url);
    free(body);
    pthread_mutex_lock(&a->mu);
    a->slots_alive--;
    pthread_cond_broadcast(&a->cv);
    pthread_mutex_unlock(&a->mu);
    return NULL;
}

int sl_agent_new(struct sl_agent **out, const struct sl_agent_options *opts, struct sl_error *err)
{
    struct sl_agent *a;
    char host[256] = "sluice-agent";
    pthread_condattr_t ca;
    unsigned char h[8];
    int rc;

    if (!opts->url ||
        !(sl_starts_with(opts->url, "http://") || sl_starts_with(opts->url, "https://")))
        return sl_error_set(err, SL_EINVAL, "--url must be http://HOST[:PORT] or https://...");
    if (!opts->token || !*opts->token)
        return sl_error_set(err, SL_EINVAL, "--token is required (a runner token, glrt-...)");
    if (sodium_init() < 0)
        return sl_error_set(err, SL_EIO, "libsodium cannot start");
    a = sl_xcalloc(1, sizeof(*a));
    a->o = *opts;
    gethostname(host, sizeof(host) - 1);
    if (!a->o.name)
        a->o.name = sl_xstrdup(host);
    else
        a->o.name = sl_xstrdup(a->o.name);
    if (a->o.concurrency <= 0)
        a->o.concurrency = 1;
    if (a->o.grace_ms == 0)
        a->o.grace_ms = 30000;
    size_t ul = strlen(opts->url);
    while (ul && opts->url[ul - 1] == '/')
        ul--;
    a->base = sl_xasprintf("%.*s/api/v4", (int)ul, opts->url);
    a->work_dir = sl_xstrdup(opts->work_dir ? opts->work_dir : "sluice-agent");
    a->cache_dir = opts->cache_dir ? sl_xstrdup(opts->cache_dir) : sl_fs_join(a->work_dir, "cache");
    if ((rc = sl_fs_mkdir_p(a->work_dir, 0700, err)) < 0 ||
        (rc = sl_fs_mkdir_p(a->cache_dir, 0700, err)) < 0) {
        sl_agent_free(a);
        return rc;
    }
    a->work_abs = realpath(a->work_dir, NULL);
    a->cache_abs = realpath(a->cache_dir, NULL);
    a->sandbox = a->o.sandbox;
    a->hide[0] = a->work_abs;
    a->hide[a->work_abs ? 1 : 0] = a->cache_abs;
    a->sandbox.hide = a->hide;
    /* a kernel that refuses the sandbox is found now, not at the first job */
    if (a->o.executor == SL_AGENT_EXEC_SANDBOX &&
        (rc = sl_exec_sandbox_probe(&a->sandbox, err)) < 0) {
        sl_agent_free(a);
        return rc;
    }
    /* GitLab's system_id names the machine a runner token is used from: the same work
     * directory on the same host is the same system across restarts */
    char *seed = sl_xasprintf("%s:%s", host, a->work_dir);
    crypto_generichash(h, sizeof(h), (const unsigned char *)seed, strlen(seed), NULL, 0);
    free(seed);
    a->system_id = sl_xasprintf("s_%02x%02x%02x%02x%02x%02x", h[0], h[1], h[2], h[3], h[4], h[5]);
    a->info_json = info_json(a);
    pthread_mutex_init(&a->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&a->cv, &ca);
    pthread_condattr_destroy(&ca);
    sl_agent_http_global_init();
    *out = a;
    return 0;
}

/* Cancels every running job; STOP_FAILED marks them as ended by the agent's stop. */
static void cancel_running(struct sl_agent *a)
{
    for (int i = 0; i < a->o.concurrency; i++)
        if (a->slots[i].cancel) {
            a->slots[i].stop_failed = true;
            sl_exec_cancel(a->slots[i].cancel);
        }
}

int sl_agent_run(struct sl_agent *a, struct sl_error *err)
{
    int rc;
    char n[16];

    if ((rc = verify(a, err)) < 0)
        return rc;
    snprintf(n, sizeof(n), "%d", a->o.concurrency);
    sl_log(SL_LOG_INFO, "agent started", "name", a->o.name, "url", a->o.url, "concurrency", n,
           "executor", executor_name(a->o.executor), "work_dir", a->work_dir, NULL);
    /* jobs' processes of an agent killed with -9 with its guard (see the server's start) */
    char *groups = sl_fs_join(a->work_abs ? a->work_abs : a->work_dir, ".groups");
    sl_exec_groups_take_over(groups);
    free(groups);
    /* containers of an agent killed with -9 (see the server's workers) */
    if (a->o.executor == SL_AGENT_EXEC_AUTO || a->o.executor == SL_AGENT_EXEC_DOCKER)
        sl_exec_docker_sweep_start();
    a->slots = sl_xcalloc((size_t)a->o.concurrency, sizeof(*a->slots));
    pthread_mutex_lock(&a->mu);
    for (int i = 0; i < a->o.concurrency; i++) {
        a->slots[i].a = a;
        a->slots[i].index = i;
        if (pthread_create(&a->slots[i].thread, NULL, slot_main, &a->slots[i]) == 0)
            a->slots_alive++;
        else
            a->slots[i].index = -1;
    }
    /* until stopped; then the grace period for running jobs; then cancel them */
    while (!a->stopping)
        pthread_cond_wait(&a->cv, &a->mu);
    bool busy = false;
    for (int i = 0; i < a->o.concurrency; i++)
        busy = busy || a->slots[i].cancel;
    if (busy && !a->stop_now) {
        char g[32];
        snprintf(g, sizeof(g), "%lld", (long long)(a->o.grace_ms > 0 ? a->o.grace_ms : 0));
        sl_log(SL_LOG_INFO, "stopping: running jobs may finish", "grace_ms", g, NULL);
        int64_t end = sl_time_mono_ns() / 1000000 + (a->o.grace_ms > 0 ? a->o.grace_ms : 0);
        while (a->slots_alive > 0 && !a->stop_now) {
            int64_t left = end - sl_time_mono_ns() / 1000000;
            if (left <= 0)
                break;
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            ts.tv_sec += left / 1000;
            ts.tv_nsec += (left % 1000) * 1000000;
            if (ts.tv_nsec >= 1000000000) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000;
            }
            pthread_cond_timedwait(&a->cv, &a->mu, &ts);
        }
    }
    if (a->slots_alive > 0) {
        sl_log(SL_LOG_WARN, "stopping: canceling running jobs", NULL);
        cancel_running(a);
    }
    pthread_mutex_unlock(&a->mu);
    for (int i = 0; i < a->o.concurrency; i++)
        if (a->slots[i].index >= 0)
            pthread_join(a->slots[i].thread, NULL);
    sl_exec_docker_sweep_stop(); /* the start's sweep, when still under way */
    sl_exec_groups_record(NULL);
    if (a->refused)
        return sl_error_set(err, SL_EPERM, "%s", a->refused_msg);
    sl_log(SL_LOG_INFO, "agent stopped", NULL);
    return 0;
}

void sl_agent_stop(struct sl_agent *a)
{
    pthread_mutex_lock(&a->mu);
    a->stopping = 1;
    pthread_cond_broadcast(&a->cv);
    pthread_mutex_unlock(&a->mu);
}

void sl_agent_stop_now(struct sl_agent *a)
{
    pthread_mutex_lock(&a->mu);
    a->stopping = 1;
    a->stop_now = true;
    if (a->slots)
        cancel_running(a);
    pthread_cond_broadcast(&a->cv);
    pthread_mutex_unlock(&a->mu);
}

void sl_agent_free(struct sl_agent *a)
{
    if (!a)
        return;
    if (a->info_json) {
        pthread_mutex_destroy(&a->mu);
        pthread_cond_destroy(&a->cv);
    }
    free((char *)a->o.name);
    free(a->base);
    free(a->work_dir);
    free(a->cache_dir);
    free(a->work_abs);
    free(a->cache_abs);
    free(a->system_id);
    free(a->info_json);
    free(a->slots);
    free(a);
}
