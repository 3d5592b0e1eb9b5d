/* poll.c: polling repositories. Projects with a poll interval are fetched by one thread
 * when due; when the default branch points at another commit than the one recorded for it
 * (sl_store_project_ref_get), a pipeline is made for it with CI_PIPELINE_SOURCE "push", as
 * a webhook's push would (sl_srv_pipeline_poll; every push pipeline of a branch records its
 * commit, so a commit a webhook built first is not built again by the poller).
 *
 * The first look at a project only records where its default branch is: registering a
 * project is not a push. When each project is next due lives in this thread's memory
 * only; after a restart every polled project is looked at once. */
#include "base/compat.h"
#include "base/alloc.h"
#include "base/log.h"
#include "base/time.h"
#include "server/internal.h"

#define POLL_PROJECTS_MAX 10000 /* projects looked at in one pass */
#define POLL_IDLE_MS 30000      /* longest sleep when nothing is due (a wake cuts it) */

struct due {
    int64_t project_id;
    int64_t next_ms; /* monotonic */
    bool seen;       /* in this pass (projects deleted meanwhile are dropped) */
};

struct poller {
    struct due *due;
    size_t n, cap;
};

static struct due *due_find(struct poller *pl, int64_t id)
{
    for (size_t i = 0; i < pl->n; i++)
        if (pl->due[i].project_id == id)
            return &pl->due[i];
    SL_GROW(pl->due, pl->cap, pl->n + 1);
    struct due *d = &pl->due[pl->n++];
    d->project_id = id;
    d->next_ms = 0;
    return d;
}

static void poll_project(struct sl_server *s, const struct sl_store_project *p)
{
    char num[32], pid[32];
    struct sl_error err = SL_ERROR_INIT;
    int64_t id = 0;
    snprintf(num, sizeof(num), "%lld", (long long)p->id);
    int rc = sl_srv_pipeline_poll(s, p, &id, &err);
    struct sl_store_project now = {0};
    if (rc < 0 && sl_store_project_get(s->st, p->id, &now, NULL) == SL_ENOENT) {
        /* deleted after this pass listed it: nothing to poll, nothing went wrong */
        sl_log(SL_LOG_DEBUG, "poll: project deleted meanwhile", "project_id", num, NULL);
    } else if (rc < 0) {
        /* a fetch that failed is tried again at the next interval; a push that made no
         * pipeline (workflow:rules, no .gitlab-ci.yml) was recorded and is not */
        sl_log(SL_LOG_WARN, "poll: no pipeline", "project_id", num, "ref", p->default_branch,
               "error", sl_error_format(&err), NULL);
    } else if (rc == 1) {
        snprintf(pid, sizeof(pid), "%lld", (long long)id);
        sl_log(SL_LOG_INFO, "poll: pipeline created", "project_id", num, "ref", p->default_branch,
               "pipeline_id", pid, NULL);
    }
    sl_store_project_release(&now);
    sl_error_release(&err);
    atomic_fetch_add(&s->metrics.polls, 1);
}

/* One pass over the projects: polls the due ones. Returns the monotonic time the next one
 * is due (now + POLL_IDLE_MS when none polls). */
static int64_t poll_pass(struct sl_server *s, struct poller *pl)
{
    int64_t next = sl_time_mono_ns() / 1000000 + POLL_IDLE_MS;
    struct sl_store_page page = {0, SL_STORE_LIST_MAX, NULL};
    struct sl_error err = SL_ERROR_INIT;
    for (size_t i = 0; i < pl->n; i++)
        pl->due[i].seen = false;
    for (size_t seen = 0; seen < POLL_PROJECTS_MAX && !atomic_load(&s->stopping);) {
        struct sl_store_project *ps = NULL;
        size_t n = 0;
        if (sl_store_project_list(s->st, &page, &ps, &n, &err) < 0) {
            atomic_fetch_add(&s->metrics.store_errors, 1);
            sl_log(SL_LOG_ERROR, "poll: cannot list projects", "error", sl_error_format(&err),
                   NULL);
            sl_error_release(&err);
            /* try again soon, and forget nothing */
            for (size_t i = 0; i < pl->n; i++)
                pl->due[i].seen = true;
            next = SL_MIN(next, sl_time_mono_ns() / 1000000 + 5000);
            break;
        }
        for (size_t i = 0; i < n && !atomic_load(&s->stopping); i++) {
            if (ps[i].poll_interval_s <= 0)
                continue;
            struct due *d = due_find(pl, ps[i].id);
            d->seen = true;
            int64_t now = sl_time_mono_ns() / 1000000;
            if (now >= d->next_ms) {
                poll_project(s, &ps[i]);
                /* from the end of the fetch: a slow remote is not polled back to back */
                d->next_ms = sl_time_mono_ns() / 1000000 + (int64_t)ps[i].poll_interval_s * 1000;
            }
            next = SL_MIN(next, d->next_ms);
        }
        seen += n;
        page.after = n ? ps[n - 1].id : 0;
        sl_store_projects_free(ps, n);
        if (n < (size_t)SL_STORE_LIST_MAX)
            break;
    }
    size_t out = 0;
    for (size_t i = 0; i < pl->n; i++)
        if (pl->due[i].seen)
            pl->due[out++] = pl->due[i];
    pl->n = out;
    return next;
}

static void *poller_main(void *arg)
{
    struct sl_server *s = arg;
    struct poller pl = {0};
    while (!atomic_load(&s->stopping)) {
        int64_t next = poll_pass(s, &pl);
        pthread_mutex_lock(&s->poll_mu);
        while (!s->poll_kick && !atomic_load(&s->stopping)) {
            int64_t now = sl_time_mono_ns() / 1000000;
            if (now >= next)
                break;
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            int64_t ns = (int64_t)ts.tv_nsec + (next - now) * 1000000;
            ts.tv_sec += (time_t)(ns / 1000000000);
            ts.tv_nsec = (long)(ns % 1000000000);
            pthread_cond_timedwait(&s->poll_cv, &s->poll_mu, &ts);
        }
        s->poll_kick = false;
        pthread_mutex_unlock(&s->poll_mu);
    }
    free(pl.due);
    return NULL;
}

int sl_srv_poller_start(struct sl_server *s, struct sl_error *err)
{
    if (pthread_create(&s->poller, NULL, poller_main, s) != 0)
        return sl_error_set(err, SL_EIO, "cannot start the polling thread");
    s->poller_started = true;
    return 0;
}

void sl_srv_poller_wake(struct sl_server *s)
{
    pthread_mutex_lock(&s->poll_mu);
    s->poll_kick = true;
    pthread_cond_signal(&s->poll_cv);
    pthread_mutex_unlock(&s->poll_mu);
}

void sl_srv_poller_join(struct sl_server *s)
{
    if (!s->poller_started)
        return;
    sl_srv_poller_wake(s);
    pthread_join(s->poller, NULL);
    s->poller_started = false;
}
