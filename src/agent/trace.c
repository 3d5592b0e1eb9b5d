/* trace.c: the log sender of one job (trace.h). */
#include "base/compat.h"
#include "agent/trace.h"
#include "agent/http.h"
#include "base/alloc.h"
#include "base/log.h"
#include "base/time.h"

#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEFAULT_INTERVAL_S 3

struct sl_agent_trace {
    struct sl_agent_trace_opts o;
    char *patch_url, *put_url, *tok_hdr;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t thread;
    bool started;
    bool dirty;         /* notified since the last look at the file */
    bool finishing;     /* the job is over: send everything, then stop */
    bool stop;          /* the thread must end now */
    bool aborted;       /* the server said the job is not ours any more */
    bool complete;      /* everything up to the file's end at finish was taken */
    bool left;          /* finish stopped with the rest left for the job's end (finish_short) */
    uint64_t short_max; /* finish_short's MAX; 0: send everything */
    int interval_s;     /* the server's latest X-GitLab-Trace-Update-Interval */
    uint64_t sent;      /* bytes the server has */
    int64_t last_contact_ms;
    int64_t deadline_ms;
};

static int64_t now_ms(void)
{
    return sl_time_mono_ns() / 1000000;
}

static uint64_t file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
}

/* The server's answer about the job's state (common to PATCH and PUT). Locked. */
static void job_state(struct sl_agent_trace *t, const struct sl_agent_http_resp *r)
{
    if (r->update_interval > 0)
        t->interval_s = r->update_interval;
    if (!strcmp(r->job_status, "canceling")) {
        sl_exec_cancel(t->o.cancel);
    } else if (!strcmp(r->job_status, "canceled") || !strcmp(r->job_status, "failed") ||
               r->status == 403 || r->status == 404) {
        if (!t->aborted)
            sl_log(SL_LOG_WARN, "job no longer ours", "url", t->put_url, "job_status",
                   r->job_status, NULL);
        t->aborted = true;
        sl_exec_cancel_force(t->o.cancel);
    }
}

/* One PATCH from t->sent. Called unlocked; returns true when the server took it. */
static bool send_patch(struct sl_agent_trace *t, uint64_t start, uint64_t end)
{
    size_t n = (size_t)SL_MIN(end - start, (uint64_t)SL_AGENT_TRACE_CHUNK);
    char *buf = sl_xmalloc(n ? n : 1), range[64], crange[96];
    const char *hdrs[] = {t->tok_hdr, crange, NULL};
    struct sl_agent_http_resp r;
    bool ok = false;
    int fd = open(t->o.log_path, O_RDONLY | O_CLOEXEC);
    ssize_t got = fd >= 0 ? pread(fd, buf, n, (off_t)start) : -1;
    if (fd >= 0)
        close(fd);
    if (got <= 0) {
        free(buf);
        return false;
    }
    snprintf(range, sizeof(range), "%llu-%llu", (unsigned long long)start,
             (unsigned long long)(start + (uint64_t)got - 1));
    snprintf(crange, sizeof(crange), "Content-Range: %s", range);
    struct sl_agent_http_req req = {.method = "PATCH",
                                    .url = t->patch_url,
                                    .headers = hdrs,
                                    .body = buf,
                                    .body_len = (size_t)got,
                                    .content_type = "text/plain",
                                    .timeout_s = 30};
    if (sl_agent_http(&req, &r, NULL) < 0) {
        free(buf);
        return false;
    }
    pthread_mutex_lock(&t->mu);
    t->last_contact_ms = now_ms();
    job_state(t, &r);
    const char *dash = strchr(r.range, '-');
    uint64_t server_end = dash ? strtoull(dash + 1, NULL, 10) : 0;
    if (!t->aborted && r.status == 202) {
        t->sent = dash && server_end <= start + (uint64_t)got ? server_end : start + (uint64_t)got;
        ok = true;
    } else if (!t->aborted && r.status == 416) {
        /* the server has a different length: resend from where it is */
        t->sent = dash ? server_end : 0;
        ok = true;
    }
    pthread_mutex_unlock(&t->mu);
    sl_agent_http_resp_release(&r);
    free(buf);
    return ok;
}

/* PUT state=running: the job is quiet, but alive (gitlab-runner's touchJob). */
static void keep_alive(struct sl_agent_trace *t)
{
    json_t *o = json_pack("{s:s,s:s}", "token", t->o.token, "state", "running");
    json_t *info = t->o.info_json ? json_loads(t->o.info_json, 0, NULL) : NULL;
    if (info)
        json_object_set_new(o, "info", info);
    char *body = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    const char *hdrs[] = {t->tok_hdr, NULL};
    struct sl_agent_http_req req = {.method = "PUT",
                                    .url = t->put_url,
                                    .headers = hdrs,
                                    .body = body,
                                    .body_len = strlen(body),
                                    .timeout_s = 30};
    struct sl_agent_http_resp r;
    if (sl_agent_http(&req, &r, NULL) == 0) {
        pthread_mutex_lock(&t->mu);
        t->last_contact_ms = now_ms();
        job_state(t, &r);
        pthread_mutex_unlock(&t->mu);
        sl_agent_http_resp_release(&r);
    }
    free(body);
}

static void wait_ms(struct sl_agent_trace *t, int64_t ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (ms % 1000) * 1000000;
    if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
    }
    pthread_cond_timedwait(&t->cv, &t->mu, &ts);
}

static void *sender(void *arg)
{
    struct sl_agent_trace *t = arg;
    int64_t last_send = 0, backoff = 1000;
    bool first = true;

    pthread_mutex_lock(&t->mu);
    while (!t->stop && !t->aborted) {
        uint64_t size = file_size(t->o.log_path);
        int64_t now = now_ms(), interval = (int64_t)t->interval_s * 1000;
        bool pending = size > t->sent;
        bool due = first || t->finishing || now - last_send >= interval ||
                   size - t->sent >= SL_AGENT_TRACE_CHUNK;
        t->dirty = false;
        if (pending && t->finishing && size <= t->short_max) {
            t->left = true;
            break;
        }
        if (pending && due) {
            uint64_t start = t->sent;
            pthread_mutex_unlock(&t->mu);
            bool ok = send_patch(t, start, size);
            pthread_mutex_lock(&t->mu);
            if (ok) {
                first = false;
                last_send = now_ms();
                backoff = 1000;
                continue; /* more may be pending (chunks, a 416) */
            }
            if (t->finishing && now_ms() >= t->deadline_ms)
                break;
            wait_ms(t, t->finishing ? backoff : SL_MIN(backoff, interval));
            backoff = SL_MIN(backoff * 2, 60000);
            continue;
        }
        if (!pending && t->finishing) {
            t->complete = true;
            break;
        }
        if (!pending && now - t->last_contact_ms >= interval) {
            pthread_mutex_unlock(&t->mu);
            keep_alive(t);
            pthread_mutex_lock(&t->mu);
            continue;
        }
        if (!t->dirty) {
            int64_t next =
                pending ? interval - (now - last_send) : interval - (now - t->last_contact_ms);
            wait_ms(t, SL_MAX(next, 10));
        }
    }
    pthread_mutex_unlock(&t->mu);
    return NULL;
}

struct sl_agent_trace *sl_agent_trace_start(const struct sl_agent_trace_opts *o)
{
    struct sl_agent_trace *t = sl_xcalloc(1, sizeof(*t));
    pthread_condattr_t ca;
    t->o = *o;
    t->patch_url = sl_xasprintf("%s/jobs/%lld/trace", o->base_url, (long long)o->job_id);
    t->put_url = sl_xasprintf("%s/jobs/%lld", o->base_url, (long long)o->job_id);
    t->tok_hdr = sl_xasprintf("JOB-TOKEN: %s", o->token);
    t->interval_s = DEFAULT_INTERVAL_S;
    t->last_contact_ms = now_ms();
    pthread_mutex_init(&t->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&t->cv, &ca);
    pthread_condattr_destroy(&ca);
    t->started = pthread_create(&t->thread, NULL, sender, t) == 0;
    return t;
}

void sl_agent_trace_notify(struct sl_agent_trace *t)
{
    pthread_mutex_lock(&t->mu);
    if (!t->dirty) {
        t->dirty = true;
        pthread_cond_signal(&t->cv);
    }
    pthread_mutex_unlock(&t->mu);
}

static int finish(struct sl_agent_trace *t, int64_t deadline_ms, uint64_t short_max)
{
    pthread_mutex_lock(&t->mu);
    t->finishing = true;
    t->left = false;
    t->short_max = short_max;
    t->deadline_ms = deadline_ms;
    pthread_cond_signal(&t->cv);
    pthread_mutex_unlock(&t->mu);
    if (t->started) {
        pthread_join(t->thread, NULL);
        t->started = false;
    } else {
        /* no thread: send from here */
        sender(t);
    }
    if (t->aborted)
        return SL_ECANCELED;
    if (t->left)
        return 1;
    return t->complete ? 0 : SL_ETIMEOUT;
}

int sl_agent_trace_finish(struct sl_agent_trace *t, int64_t deadline_ms)
{
    return finish(t, deadline_ms, 0);
}

int sl_agent_trace_finish_short(struct sl_agent_trace *t, int64_t deadline_ms, uint64_t max)
{
    return finish(t, deadline_ms, max);
}

bool sl_agent_trace_aborted(const struct sl_agent_trace *t)
{
    /* the sender thread sets it (job_state, under MU) while the job's thread asks */
    struct sl_agent_trace *m = (struct sl_agent_trace *)t;
    pthread_mutex_lock(&m->mu);
    bool aborted = t->aborted;
    pthread_mutex_unlock(&m->mu);
    return aborted;
}

int sl_agent_trace_interval(const struct sl_agent_trace *t)
{
    return t->interval_s;
}

void sl_agent_trace_free(struct sl_agent_trace *t)
{
    if (!t)
        return;
    if (t->started) {
        pthread_mutex_lock(&t->mu);
        t->stop = true;
        pthread_cond_signal(&t->cv);
        pthread_mutex_unlock(&t->mu);
        pthread_join(t->thread, NULL);
    }
    pthread_mutex_destroy(&t->mu);
    pthread_cond_destroy(&t->cv);
    free(t->patch_url);
    free(t->put_url);
    free(t->tok_hdr);
    free(t);
}
