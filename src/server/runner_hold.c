/* runner_hold.c: held jobs/request long-polls. A runner's request that finds no job is
 * suspended (libmicrohttpd's suspend/resume, no thread kept) until a job may be pending or
 * its deadline passes; then the handler runs again, on a live connection only. Every wake
 * resumes all held requests: each looks for a job again and the losers are held anew. */
#include "base/compat.h"
#include "base/alloc.h"
#include "base/log.h"
#include "base/time.h"
#include "server/runner.h"

#include <errno.h>
#include <microhttpd.h>
#include <sys/socket.h>

struct held {
    struct MHD_Connection *conn;
    int64_t deadline;
};

struct runner_hub {
    pthread_mutex_t mu;
    unsigned long gen; /* under mu; bumped by every wake */
    struct held *held;
    size_t n, cap;
};

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

unsigned long sl_srv_runners_gen(struct sl_server *s)
{
    pthread_mutex_lock(&s->hub->mu);
    unsigned long g = s->hub->gen;
    pthread_mutex_unlock(&s->hub->mu);
    return g;
}

bool sl_srv_runner_hold(struct sl_server *s, struct MHD_Connection *conn, unsigned long gen,
                        int64_t deadline)
{
    struct runner_hub *h = s->hub;
    pthread_mutex_lock(&h->mu);
    bool ok = gen == h->gen && !atomic_load(&s->stopping);
    if (ok) {
        SL_GROW(h->held, h->cap, h->n + 1);
        h->held[h->n++] = (struct held){conn, deadline};
        /* under the mutex: a wake cannot resume it before it is suspended */
        MHD_suspend_connection(conn);
    }
    pthread_mutex_unlock(&h->mu);
    return ok;
}

size_t sl_srv_runners_held(struct sl_server *s)
{
    if (!s->hub)
        return 0;
    pthread_mutex_lock(&s->hub->mu);
    size_t n = s->hub->n;
    pthread_mutex_unlock(&s->hub->mu);
    return n;
}

/* Resumes every held request (ALL: a wake, which also bumps the generation) or those whose
 * deadline is at or before NOW. */
static void resume_where(struct sl_server *s, int64_t now, bool all)
{
    struct runner_hub *h = s->hub;
    if (!h)
        return;
    pthread_mutex_lock(&h->mu);
    if (all)
        h->gen++;
    size_t out = 0;
    for (size_t i = 0; i < h->n; i++) {
        if (all || h->held[i].deadline <= now)
            MHD_resume_connection(h->held[i].conn);
        else
            h->held[out++] = h->held[i];
    }
    h->n = out;
    pthread_mutex_unlock(&h->mu);
}

void sl_srv_runners_wake(struct sl_server *s)
{
    resume_where(s, 0, true);
}

void sl_srv_runners_release_all(struct sl_server *s)
{
    resume_where(s, 0, true);
}

void sl_srv_runners_tick(struct sl_server *s)
{
    resume_where(s, sl_time_mono_ns() / 1000000, false);
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
