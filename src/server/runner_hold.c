/* runner_hold.c: held long-polls: a runner's jobs/request, and a GET of a pipeline with
 * ?wait= (api.c). A request with nothing to answer yet is suspended (libmicrohttpd's
 * suspend/resume, no thread kept) until a wake of its key or its wake time; then its
 * handler runs again. A runner's request that finds no job is held until a job may be
 * pending (every wake resumes all held runner requests: each looks for a job again and the
 * losers are held anew); a pipeline's wait until that pipeline's status changes. */
#include "base/compat.h"
#include "base/alloc.h"
#include "base/log.h"
#include "base/time.h"
#include "server/runner.h"

#include <errno.h>
#include <microhttpd.h>
#include <sys/socket.h>
#include <unistd.h>

struct held {
    struct MHD_Connection *conn;
    int64_t key;     /* SRV_HOLD_RUNNERS, or the pipeline a wait is for */
    int64_t wake_at; /* monotonic ms: resumed then at the latest */
};

#define BUCKETS 64 /* the wake generations: bucket 0 the runners', the others by pipeline */

struct runner_hub {
    pthread_mutex_t mu;
    unsigned long gen[BUCKETS]; /* under mu; a wake of a key bumps its bucket's */
    size_t live;                /* under mu: requests held once and not yet completed */
    struct held *held;
    size_t n, cap;
};

static size_t bucket(int64_t key)
{
    return key == SRV_HOLD_RUNNERS ? 0 : 1 + (size_t)((uint64_t)key % (BUCKETS - 1));
}

void sl_srv_runners_init(struct sl_server *s)
{
    s->hub = sl_xcalloc(1, sizeof(*s->hub));
    pthread_mutex_init(&s->hub->mu, NULL);
}

void sl_srv_runners_free(struct sl_server *s)
{
    if (!s->hub)
        return;
    pthread_mutex_destroy(&s->hub->mu);
    free(s->hub->held);
    free(s->hub);
    s->hub = NULL;
}

unsigned long sl_srv_hold_gen(struct sl_server *s, int64_t key)
{
    pthread_mutex_lock(&s->hub->mu);
    unsigned long g = s->hub->gen[bucket(key)];
    pthread_mutex_unlock(&s->hub->mu);
    return g;
}

bool sl_srv_hold(struct sl_server *s, struct MHD_Connection *conn, int64_t key, unsigned long gen,
                 int64_t wake_at, bool first)
{
    struct runner_hub *h = s->hub;
    pthread_mutex_lock(&h->mu);
    bool ok = gen == h->gen[bucket(key)] && !atomic_load(&s->stopping);
    if (ok) {
        h->live += first;
        SL_GROW(h->held, h->cap, h->n + 1);
        h->held[h->n++] = (struct held){conn, key, wake_at};
        /* under the mutex: a wake cannot resume it before it is suspended */
        MHD_suspend_connection(conn);
    }
    pthread_mutex_unlock(&h->mu);
    return ok;
}

unsigned long sl_srv_runners_gen(struct sl_server *s)
{
    return sl_srv_hold_gen(s, SRV_HOLD_RUNNERS);
}

void sl_srv_hold_completed(struct sl_server *s)
{
    if (!s->hub)
        return;
    pthread_mutex_lock(&s->hub->mu);
    s->hub->live--;
    pthread_mutex_unlock(&s->hub->mu);
}

static size_t count_held(struct sl_server *s, bool runners)
{
    if (!s->hub)
        return 0;
    size_t n = 0;
    pthread_mutex_lock(&s->hub->mu);
    for (size_t i = 0; i < s->hub->n; i++)
        n += (s->hub->held[i].key == SRV_HOLD_RUNNERS) == runners;
    pthread_mutex_unlock(&s->hub->mu);
    return n;
}

size_t sl_srv_runners_held(struct sl_server *s)
{
    return count_held(s, true);
}

size_t sl_srv_pipeline_waits_held(struct sl_server *s)
{
    return count_held(s, false);
}

enum which { KEY, DUE, ALL };

/* Resumes the held requests of KEY (a wake, which also bumps its generation), those due at
 * or before NOW, or all of them (every generation bumped). */
static void resume_where(struct sl_server *s, enum which w, int64_t key, int64_t now)
{
    struct runner_hub *h = s->hub;
    if (!h)
        return;
    pthread_mutex_lock(&h->mu);
    if (w == KEY)
        h->gen[bucket(key)]++;
    else if (w == ALL)
        for (size_t b = 0; b < BUCKETS; b++)
            h->gen[b]++;
    size_t out = 0;
    for (size_t i = 0; i < h->n; i++) {
        const struct held *e = &h->held[i];
        if (w == ALL || (w == KEY && e->key == key) || (w == DUE && e->wake_at <= now))
            MHD_resume_connection(e->conn);
        else
            h->held[out++] = *e;
    }
    h->n = out;
    pthread_mutex_unlock(&h->mu);
}

void sl_srv_hold_wake(struct sl_server *s, int64_t key)
{
    resume_where(s, KEY, key, 0);
}

void sl_srv_runners_wake(struct sl_server *s)
{
    resume_where(s, KEY, SRV_HOLD_RUNNERS, 0);
}

#define STOP_WAIT_MS 1000 /* at shutdown, for the resumed requests to be answered */

void sl_srv_runners_release_all(struct sl_server *s)
{
    resume_where(s, ALL, 0, 0);
    /* their handlers answer now (the server is stopping): give them a moment to, so that
     * their clients get an answer rather than a cut connection from MHD_stop_daemon */
    for (int i = 0; s->hub && i < STOP_WAIT_MS / 10; i++) {
        pthread_mutex_lock(&s->hub->mu);
        size_t live = s->hub->live;
        pthread_mutex_unlock(&s->hub->mu);
        if (!live)
            break;
        usleep(10 * 1000);
    }
}

void sl_srv_runners_tick(struct sl_server *s)
{
    resume_where(s, DUE, 0, sl_time_mono_ns() / 1000000);
}

bool sl_srv_conn_alive(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (!ci)
        return false;
    char c;
    ssize_t n = recv(ci->connect_fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    /* 0: the client closed its end; an error other than "nothing to read": reset */
    return n > 0 || (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR));
}
