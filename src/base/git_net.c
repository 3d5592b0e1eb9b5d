/* git_net.c: libgit2's plain sockets, with a limit on waiting (git_net.h). */
#include "base/compat.h"
#include "base/git_net.h"
#include "base/alloc.h"
#include "base/time.h"

#include <errno.h>
#include <fcntl.h>
#include <git2.h>
#include <git2/sys/stream.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

/* the limits of the connections made from now on, in milliseconds */
static atomic_int connect_ms = 30000, idle_ms = 120000;

struct limited_stream {
    git_stream parent; /* first: libgit2 casts between the two */
    char *host, *port;
    int fd;
    int idle_ms; /* this connection's, fixed when it was made */
};

SL_PRINTF(1, 2) static int net_error(const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    git_error_set_str(GIT_ERROR_NET, msg);
    return -1;
}

/* Waits until FD is ready for EVENTS, at most MS milliseconds: 1 ready, 0 timed out, -1
 * failed (errno). */
static int wait_fd(int fd, short events, int ms)
{
    int64_t deadline = (sl_time_mono_ns() / 1000000) + ms;
    for (;;) {
        int64_t left = deadline - (sl_time_mono_ns() / 1000000);
        if (left <= 0)
            return 0;
        struct pollfd p = {.fd = fd, .events = events};
        int rc = poll(&p, 1, (int)left);
        if (rc > 0)
            return 1;
        if (rc == 0)
            return 0;
        if (errno != EINTR)
            return -1;
    }
}

/* Connects to one address before DEADLINE (monotonic ms): the socket, or -1 (errno). */
static int connect_one(const struct addrinfo *ai, int64_t deadline)
{
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
    if (fd < 0)
        return -1;
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
        int ready = -1, soerr = 0;
        socklen_t len = sizeof(soerr);
        if (errno != EINPROGRESS ||
            (ready = wait_fd(fd, POLLOUT, (int)(deadline - (sl_time_mono_ns() / 1000000)))) <= 0 ||
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0 || soerr != 0) {
            int e = errno;
            if (soerr)
                e = soerr;
            else if (ready == 0)
                e = ETIMEDOUT;
            close(fd);
            errno = e;
            return -1;
        }
    }
    return fd;
}

static int ls_connect(git_stream *st)
{
    struct limited_stream *ls = (struct limited_stream *)st;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res = NULL;
    int rc = getaddrinfo(ls->host, ls->port, &hints, &res);
    if (rc != 0)
        return net_error("cannot resolve %s:%s: %s", ls->host, ls->port, gai_strerror(rc));
    int limit = atomic_load(&connect_ms);
    int64_t deadline = (sl_time_mono_ns() / 1000000) + limit;
    int err = ETIMEDOUT;
    for (const struct addrinfo *ai = res; ai && ls->fd < 0; ai = ai->ai_next) {
        if ((sl_time_mono_ns() / 1000000) >= deadline)
            break;
        if ((ls->fd = connect_one(ai, deadline)) < 0)
            err = errno;
    }
    freeaddrinfo(res);
    if (ls->fd >= 0)
        return 0;
    if (err == ETIMEDOUT) {
        return net_error("cannot connect to %s:%s: no connection in %d s", ls->host, ls->port,
                         limit / 1000);
    }
    return net_error("cannot connect to %s:%s: %s", ls->host, ls->port, strerror(err));
}

/* Waits for FD to be ready for EVENTS within the connection's idle limit; 0, or -1 with
 * libgit2's error set. */
static int wait_ready(struct limited_stream *ls, short events)
{
    int rc = wait_fd(ls->fd, events, ls->idle_ms);
    if (rc > 0)
        return 0;
    if (rc == 0)
        return net_error("%s:%s %s nothing for %d s", ls->host, ls->port,
                         events == POLLIN ? "sent" : "took", ls->idle_ms / 1000);
    return net_error("waiting on %s:%s: %s", ls->host, ls->port, strerror(errno));
}

static ssize_t ls_read(git_stream *st, void *buf, size_t len)
{
    struct limited_stream *ls = (struct limited_stream *)st;
    for (;;) {
        if (wait_ready(ls, POLLIN) < 0)
            return -1;
        ssize_t n = recv(ls->fd, buf, len, 0);
        if (n >= 0)
            return n;
        if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK)
            return net_error("cannot read from %s:%s: %s", ls->host, ls->port, strerror(errno));
    }
}

static ssize_t ls_write(git_stream *st, const char *buf, size_t len, int flags)
{
    struct limited_stream *ls = (struct limited_stream *)st;
    (void)flags;
    for (;;) {
        if (wait_ready(ls, POLLOUT) < 0)
            return -1;
        ssize_t n = send(ls->fd, buf, len, MSG_NOSIGNAL);
        if (n >= 0)
            return n;
        if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK)
            return net_error("cannot write to %s:%s: %s", ls->host, ls->port, strerror(errno));
    }
}

static int ls_close(git_stream *st)
{
    struct limited_stream *ls = (struct limited_stream *)st;
    if (ls->fd >= 0)
        close(ls->fd);
    ls->fd = -1;
    return 0;
}

static void ls_free(git_stream *st)
{
    struct limited_stream *ls = (struct limited_stream *)st;
    ls_close(st);
    free(ls->host);
    free(ls->port);
    free(ls);
}

static int ls_new(git_stream **out, const char *host, const char *port)
{
    struct limited_stream *ls = sl_xcalloc(1, sizeof(*ls));
    ls->parent.version = GIT_STREAM_VERSION;
    ls->parent.connect = ls_connect;
    ls->parent.read = ls_read;
    ls->parent.write = ls_write;
    ls->parent.close = ls_close;
    ls->parent.free = ls_free;
    ls->host = sl_xstrdup(host);
    ls->port = sl_xstrdup(port);
    ls->fd = -1;
    ls->idle_ms = atomic_load(&idle_ms);
    *out = &ls->parent;
    return 0;
}

void sl_git_net_set_limits(int connect_s, int idle_s)
{
    atomic_store(&connect_ms, connect_s > 0 ? connect_s * 1000 : 1000);
    atomic_store(&idle_ms, idle_s > 0 ? idle_s * 1000 : 1000);
}

int sl_git_net_install(void)
{
    git_stream_registration reg = {.version = GIT_STREAM_VERSION, .init = ls_new};
    return git_stream_register(GIT_STREAM_STANDARD, &reg) < 0 ? -1 : 0;
}
