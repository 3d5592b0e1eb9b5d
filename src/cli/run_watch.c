/* run_watch.c: `sluice run --watch` waits here until tracked files change. Tracked is
 * what `git ls-files` lists (the index), read afresh before each wait so a file added with
 * `git add` between runs is watched too; each directory holding one gets an inotify watch.
 * A burst of events (an editor's save, a `git checkout`) is gathered into one change: the
 * wait ends once no event came for WATCH_QUIET_MS. */
#include "base/compat.h"
#include "cli/run_watch.h"
#include "base/alloc.h"
#include "base/str.h"
#include "base/time.h"

#include <git2.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <unistd.h>

enum {
    WATCH_QUIET_MS = 300,   /* a save is one change: wait for this much silence */
    WATCH_BURST_MS = 3000,  /* ... but report a change that never goes quiet after this */
    WATCH_MAX_DIRS = 16384, /* each directory costs one inotify watch (a kernel-wide limit) */
};

struct watch {
    char *root;   /* the work tree, with its trailing '/' */
    char **files; /* tracked paths relative to ROOT, sorted */
    size_t nfiles;
    struct dirw {
        int wd;
        char *dir; /* relative, "" for the root, else with a trailing '/' */
    } * dirs;
    size_t ndirs, capdirs;
    char **changed; /* NULL-terminated */
    size_t nchanged, capchanged;
};

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The index's paths of the repository holding PROJECT_DIR. */
static int list_tracked(struct watch *w, const char *project_dir, struct sl_error *err)
{
    git_repository *repo = NULL;
    git_index *idx = NULL;
    int rc = 0;
    if (git_repository_open_ext(&repo, project_dir, 0, NULL) < 0 || !git_repository_workdir(repo) ||
        git_repository_index(&idx, repo) < 0) {
        const git_error *e = git_error_last();
        rc = sl_error_set(err, SL_EINVAL, "--watch needs a git work tree at %s: %s", project_dir,
                          e && e->message ? e->message : "no work tree");
        goto out;
    }
    w->root = sl_xstrdup(git_repository_workdir(repo));
    size_t n = git_index_entrycount(idx);
    w->files = sl_xcalloc(n + 1, sizeof(*w->files));
    for (size_t i = 0; i < n; i++) {
        const git_index_entry *e = git_index_get_byindex(idx, i);
        if (e && e->path)
            w->files[w->nfiles++] = sl_xstrdup(e->path);
    }
    qsort(w->files, w->nfiles, sizeof(*w->files), cmp_str);
out:
    git_index_free(idx);
    git_repository_free(repo);
    return rc;
}

/* One watch per directory of a tracked file (and the root). */
static void add_watches(struct watch *w, int fd)
{
    bool warned = false;
    for (size_t i = 0; i <= w->nfiles; i++) {
        const char *path = i < w->nfiles ? w->files[i] : "";
        const char *slash = strrchr(path, '/');
        size_t len = slash ? (size_t)(slash - path) + 1 : 0;
        if (w->ndirs && strlen(w->dirs[w->ndirs - 1].dir) == len &&
            !strncmp(w->dirs[w->ndirs - 1].dir, path, len))
            continue; /* sorted paths: a directory's files are together (mostly) */
        bool seen = false;
        for (size_t k = 0; k < w->ndirs && !seen; k++)
            seen = strlen(w->dirs[k].dir) == len && !strncmp(w->dirs[k].dir, path, len);
        if (seen)
            continue;
        if (w->ndirs >= WATCH_MAX_DIRS)
            break;
        char *abs = sl_xasprintf("%s%.*s", w->root, (int)len, path);
        int wd = inotify_add_watch(fd, abs,
                                   IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE |
                                       IN_CREATE | IN_ONLYDIR);
        if (wd < 0 && !warned) {
            fprintf(stderr, "sluice: run --watch: cannot watch %s: %s\n", abs, strerror(errno));
            warned = true;
        }
        free(abs);
        if (wd < 0)
            continue;
        SL_GROW(w->dirs, w->capdirs, w->ndirs + 1);
        w->dirs[w->ndirs++] = (struct dirw){wd, sl_xstrndup(path, len)};
    }
}

/* Records the tracked file NAME of the directory watched by WD as changed. */
static void note_event(struct watch *w, int wd, const char *name)
{
    const char *dir = NULL;
    for (size_t k = 0; k < w->ndirs && !dir; k++)
        if (w->dirs[k].wd == wd)
            dir = w->dirs[k].dir;
    if (!dir || !*name)
        return;
    char *path = sl_xasprintf("%s%s", dir, name);
    bool tracked = bsearch(&path, w->files, w->nfiles, sizeof(*w->files), cmp_str) != NULL;
    for (size_t i = 0; tracked && i < w->nchanged; i++)
        tracked = strcmp(w->changed[i], path) != 0;
    if (!tracked) {
        free(path);
        return;
    }
    SL_GROW(w->changed, w->capchanged, w->nchanged + 2);
    w->changed[w->nchanged++] = path;
    w->changed[w->nchanged] = NULL;
}

/* Reads what FD has; false on an error other than "nothing now". */
static bool drain(struct watch *w, int fd)
{
    char buf[64 * 1024] __attribute__((aligned(__alignof__(struct inotify_event))));
    for (;;) {
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n < 0)
            return errno == EAGAIN || errno == EINTR;
        for (char *p = buf; p < buf + n;) {
            const struct inotify_event *ev = (const struct inotify_event *)p;
            if (ev->len && !(ev->mask & IN_ISDIR))
                note_event(w, ev->wd, ev->name);
            p += sizeof(*ev) + ev->len;
        }
    }
}

static void watch_release(struct watch *w)
{
    free(w->root);
    for (size_t i = 0; i < w->nfiles; i++)
        free(w->files[i]);
    free(w->files);
    for (size_t i = 0; i < w->ndirs; i++)
        free(w->dirs[i].dir);
    free(w->dirs);
    sl_run_watch_free(w->changed);
}

int sl_run_watch_wait(const char *project_dir, char ***changed, struct sl_error *err)
{
    struct watch w = {0};
    int ifd = -1, sfd = -1, rc;
    sigset_t set, old;
    *changed = NULL;
    if ((rc = list_tracked(&w, project_dir, err)) < 0)
        goto out_nomask;
    /* Ctrl-C and SIGTERM come as a readable signalfd while waiting, so the wait ends
     * cleanly (no handler interrupting allocation); the run engine takes them itself */
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, &old);
    ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (ifd < 0 || sfd < 0) {
        rc = sl_error_set(err, SL_EIO, "--watch: %s", strerror(errno));
        goto out;
    }
    add_watches(&w, ifd);
    fprintf(stderr, "sluice: watching %zu tracked file%s for changes; Ctrl-C stops\n", w.nfiles,
            w.nfiles == 1 ? "" : "s");
    int64_t first = -1;
    for (;;) {
        struct pollfd pf[2] = {{ifd, POLLIN, 0}, {sfd, POLLIN, 0}};
        int timeout = w.nchanged ? WATCH_QUIET_MS : -1;
        int64_t now_ms = sl_time_mono_ns() / 1000000;
        if (w.nchanged && first < 0)
            first = now_ms;
        if (w.nchanged && now_ms - first >= WATCH_BURST_MS)
            break;
        int n = poll(pf, 2, timeout);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = sl_error_set(err, SL_EIO, "--watch: poll: %s", strerror(errno));
            goto out;
        }
        if (pf[1].revents) { /* Ctrl-C: stop watching */
            struct signalfd_siginfo si;
            while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
                ;
            rc = 0;
            goto out;
        }
        if (n == 0) /* quiet for WATCH_QUIET_MS after a change */
            break;
        if (!drain(&w, ifd)) {
            rc = sl_error_set(err, SL_EIO, "--watch: inotify: %s", strerror(errno));
            goto out;
        }
    }
    *changed = w.changed;
    w.changed = NULL;
    rc = 1;
out:
    if (ifd >= 0)
        close(ifd);
    if (sfd >= 0)
        close(sfd);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
out_nomask:
    watch_release(&w);
    return rc;
}

void sl_run_watch_free(char **changed)
{
    for (size_t i = 0; changed && changed[i]; i++)
        free(changed[i]);
    free(changed);
}
