/* repo_check.c: whether a project's repo_url can be read, asked when the project is made or
 * changed (api.c) so that a wrong URL is refused then, not at the first pipeline.
 *
 * A path on this machine must open as a git repository. A network URL (https, http, ssh,
 * git://, user@host:path) is asked for its refs the way the mirror fetch will ask
 * (pipelines.c: libgit2, an anonymous remote without insteadOf rewriting, no credentials), so
 * what the check accepts is what a pipeline can fetch. libgit2 1.5 has no connect or read
 * timeout of its own (a remote that accepts and never answers holds its caller for ever), so
 * the question is asked on a detached thread and the request waits at most CHECK_WAIT_S for
 * it. The request holds one of the HTTP pool's threads (two by default) meanwhile, so only
 * WAITING_MAX requests wait on remotes at once and the pool always has a thread for the rest;
 * a check thread whose remote never answers is left to end with that connection, and at most
 * THREADS_MAX of them live at once, so a hostile URL cannot make the server spend threads
 * without bound. Past either limit the request is answered 503 (SL_EBUSY). */
#include "base/compat.h"
#include "base/alloc.h"
#include "base/git_net.h"
#include "base/str.h"
#include "server/internal.h"

#include <errno.h>
#include <git2.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

enum {
    CHECK_WAIT_S = 10, /* the longest a project request waits on a remote */
    WAITING_MAX = 1,   /* requests waiting on a remote at once */
    THREADS_MAX = 8,   /* check threads alive at once, abandoned ones included */
};

static pthread_once_t git_once = PTHREAD_ONCE_INIT;
static atomic_int checks_waiting, check_threads;

/* Takes one of LIMIT places in *COUNT: false when all are taken. */
static bool take(atomic_int *count, int limit)
{
    if (atomic_fetch_add(count, 1) < limit)
        return true;
    atomic_fetch_sub(count, 1);
    return false;
}

static void git_init_once(void)
{
    git_libgit2_init(); /* kept initialised, as pipelines.c keeps it */
    sl_git_net_install();
}

/* One network check, shared by the waiting request and the thread asking the remote; the
 * last of the two to let go frees it. */
struct check {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int refs;
    bool done;
    int rc;
    char *url;
    char *msg; /* libgit2's message when rc < 0 */
};

static void check_release(struct check *c)
{
    pthread_mutex_lock(&c->mu);
    bool last = --c->refs == 0;
    pthread_mutex_unlock(&c->mu);
    if (!last)
        return;
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->cv);
    free(c->url);
    free(c->msg);
    free(c);
}

/* Connects to URL for a fetch and reads its refs (git ls-remote): 0, or -1 with *MSG. */
static int ls_remote(const char *url, char **msg)
{
    git_remote *rem = NULL;
    git_remote_create_options ro;
    git_remote_create_options_init(&ro, GIT_REMOTE_CREATE_OPTIONS_VERSION);
    ro.flags = GIT_REMOTE_CREATE_SKIP_INSTEADOF | GIT_REMOTE_CREATE_SKIP_DEFAULT_FETCHSPEC;
    git_remote_callbacks cb;
    git_remote_init_callbacks(&cb, GIT_REMOTE_CALLBACKS_VERSION);
    const git_remote_head **heads;
    size_t nheads;
    int rc = 0;
    if (git_remote_create_with_opts(&rem, url, &ro) < 0 ||
        git_remote_connect(rem, GIT_DIRECTION_FETCH, &cb, NULL, NULL) < 0 ||
        git_remote_ls(&heads, &nheads, rem) < 0) {
        const git_error *e = git_error_last();
        *msg = sl_xstrdup(e && e->message ? e->message : "failed");
        rc = -1;
    }
    if (rem)
        git_remote_disconnect(rem);
    git_remote_free(rem);
    return rc;
}

static void *check_thread(void *arg)
{
    struct check *c = arg;
    char *msg = NULL;
    int rc = ls_remote(c->url, &msg);
    pthread_mutex_lock(&c->mu);
    c->rc = rc;
    c->msg = msg;
    c->done = true;
    pthread_cond_signal(&c->cv);
    pthread_mutex_unlock(&c->mu);
    atomic_fetch_sub(&check_threads, 1);
    check_release(c);
    return NULL;
}

/* The URL itself stays out of the messages: it may carry a password. */
static int check_remote(const char *url, struct sl_error *err)
{
    if (!take(&checks_waiting, WAITING_MAX))
        return sl_error_set(err, SL_EBUSY,
                            "another repository is being checked; try again shortly");
    if (!take(&check_threads, THREADS_MAX)) {
        atomic_fetch_sub(&checks_waiting, 1);
        return sl_error_set(err, SL_EBUSY,
                            "%d repositories that never answered are still being checked; "
                            "try again later",
                            THREADS_MAX);
    }
    struct check *c = sl_xcalloc(1, sizeof(*c));
    pthread_mutex_init(&c->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&c->cv, &ca);
    pthread_condattr_destroy(&ca);
    c->refs = 2;
    c->url = sl_xstrdup(url);

    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_t t;
    int e = pthread_create(&t, &attr, check_thread, c);
    pthread_attr_destroy(&attr);
    if (e != 0) {
        atomic_fetch_sub(&check_threads, 1);
        atomic_fetch_sub(&checks_waiting, 1);
        c->refs = 1;
        check_release(c);
        errno = e;
        return sl_error_set_errno(err, SL_EIO, "cannot start the repository check");
    }

    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += CHECK_WAIT_S;
    int rc = 0;
    pthread_mutex_lock(&c->mu);
    while (!c->done && pthread_cond_timedwait(&c->cv, &c->mu, &deadline) != ETIMEDOUT) {
    }
    if (!c->done)
        rc = sl_error_set(err, SL_EINVAL, "no answer within %d s", CHECK_WAIT_S);
    else if (c->rc < 0)
        rc = sl_error_set(err, SL_EINVAL, "%s", c->msg);
    pthread_mutex_unlock(&c->mu);
    atomic_fetch_sub(&checks_waiting, 1);
    check_release(c);
    return rc;
}

int sl_srv_repo_check(const char *repo_url, struct sl_error *err)
{
    pthread_once(&git_once, git_init_once);
    const char *path = sl_starts_with(repo_url, "file://") ? repo_url + 7
                       : repo_url[0] == '/'                ? repo_url
                                                           : NULL;
    if (!path)
        return check_remote(repo_url, err);
    git_repository *repo = NULL;
    if (git_repository_open_ext(&repo, path, GIT_REPOSITORY_OPEN_NO_SEARCH, NULL) < 0) {
        const git_error *e = git_error_last();
        return sl_error_set(err, SL_EINVAL, "%s: %s", path,
                            e && e->message ? e->message : "failed");
    }
    git_repository_free(repo);
    return 0;
}
