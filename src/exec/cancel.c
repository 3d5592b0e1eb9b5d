#include "base/compat.h"
#include "exec/exec.h"
#include "exec/cancel.h"
#include "base/alloc.h"

#include <stdatomic.h>
#include <sys/eventfd.h>
#include <unistd.h>

enum { CANCEL_SOFT = 1, CANCEL_FORCE = 2 };

struct sl_exec_cancel {
    int fd;       /* readable once canceled */
    int force_fd; /* readable once force-canceled */
    _Atomic int state;
};

struct sl_exec_cancel *sl_exec_cancel_new(struct sl_error *err)
{
    struct sl_exec_cancel *c = sl_xcalloc(1, sizeof(*c));

    c->fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    c->force_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (c->fd < 0 || c->force_fd < 0) {
        sl_error_set_errno(err, SL_EIO, "cannot create a cancel handle");
        sl_exec_cancel_free(c);
        return NULL;
    }
    atomic_init(&c->state, 0);
    return c;
}

void sl_exec_cancel_free(struct sl_exec_cancel *c)
{
    if (!c)
        return;
    if (c->fd >= 0)
        close(c->fd);
    if (c->force_fd >= 0)
        close(c->force_fd);
    free(c);
}

/* Only async-signal-safe calls: an atomic read-modify-write and write(2). The eventfds are
 * never read, so they stay readable and every job polling them wakes up. */
static void trigger(int fd)
{
    uint64_t one = 1;
    int saved = errno;
    ssize_t r = write(fd, &one, sizeof(one));
    (void)r; /* EAGAIN only when the counter is full, and then it is readable anyway */
    errno = saved;
}

void sl_exec_cancel(struct sl_exec_cancel *c)
{
    atomic_fetch_or(&c->state, CANCEL_SOFT);
    trigger(c->fd);
}

void sl_exec_cancel_force(struct sl_exec_cancel *c)
{
    atomic_fetch_or(&c->state, CANCEL_SOFT | CANCEL_FORCE);
    trigger(c->fd);
    trigger(c->force_fd);
}

bool sl_exec_cancel_requested(const struct sl_exec_cancel *c)
{
    return (atomic_load(&((struct sl_exec_cancel *)c)->state) & CANCEL_SOFT) != 0;
}

bool sl_exec_cancel_forced(const struct sl_exec_cancel *c)
{
    return (atomic_load(&((struct sl_exec_cancel *)c)->state) & CANCEL_FORCE) != 0;
}

int sl_exec_cancel_fd(const struct sl_exec_cancel *c)
{
    return c->fd;
}

int sl_exec_cancel_force_fd(const struct sl_exec_cancel *c)
{
    return c->force_fd;
}
