/* workspace.c: the per-job copy of the project (see workspace.h for what and why). */
#include "base/compat.h"
#include "exec/workspace.h"
#include "exec/workspace_int.h"
#include "base/alloc.h"
#include "base/fs.h"
#include "base/map.h"
#include "base/str.h"

#include <dirent.h>
#include <fcntl.h>
#include <git2.h>
#include <limits.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

void sl_ws_copier_init(struct copier *c, const char *src, const char *dst)
{
    memset(c, 0, sizeof(*c));
    c->src = src;
    c->dst = dst;
    sl_str_init(&c->sp);
    sl_str_init(&c->dp);
    c->try_reflink = true;
    c->try_copy_range = true;
}

void sl_ws_copier_release(struct copier *c)
{
    sl_map_release(&c->dirs);
    sl_str_release(&c->sp);
    sl_str_release(&c->dp);
}

const char *sl_ws_abs_path(struct sl_str *s, const char *root, const char *rel)
{
    sl_str_reset(s);
    sl_str_adds(s, root);
    sl_str_addc(s, '/');
    sl_str_adds(s, rel);
    return s->buf;
}

/* True for paths the copy never takes: `.sluice/` at the top and DEST_DIR itself. */
bool sl_ws_excluded(const struct copier *c, const char *rel)
{
    if (sl_streq(rel, ".sluice") || sl_starts_with(rel, ".sluice/"))
        return true;
    if (c->skip_rel) {
        size_t n = strlen(c->skip_rel);
        if (strncmp(rel, c->skip_rel, n) == 0 && (rel[n] == '\0' || rel[n] == '/'))
            return true;
    }
    return false;
}

/* Makes the directory REL (relative to DST) and its parents, once. */
int sl_ws_make_dir(struct copier *c, const char *rel, size_t len, mode_t mode, struct sl_error *err)
{
    char *d = sl_xstrndup(rel, len);
    int rc = 0;

    if (sl_map_has(&c->dirs, d))
        goto out;
    const char *slash = strrchr(d, '/');
    if (slash && (rc = sl_ws_make_dir(c, d, (size_t)(slash - d), 0755, err)) < 0)
        goto out;
    sl_ws_abs_path(&c->dp, c->dst, d);
    if (mkdir(c->dp.buf, mode | 0700) == 0) {
        c->st.dirs++;
    } else if (errno != EEXIST) {
        rc = sl_error_set_errno(err, SL_EIO, "cannot create directory %s", c->dp.buf);
        goto out;
    } else {
        struct stat st;
        if (lstat(c->dp.buf, &st) < 0 || !S_ISDIR(st.st_mode)) {
            /* a reused workspace: whatever a job left here goes, never followed */
            if ((rc = sl_fs_remove_tree(c->dp.buf, err)) < 0)
                goto out;
            c->st.removed++;
            sl_ws_abs_path(&c->dp, c->dst, d);
            if (mkdir(c->dp.buf, mode | 0700) < 0) {
                rc = sl_error_set_errno(err, SL_EIO, "cannot create directory %s", c->dp.buf);
                goto out;
            }
            c->st.dirs++;
        }
    }
    sl_map_put(&c->dirs, d, (void *)1);
out:
    free(d);
    return rc;
}

int sl_ws_make_parent(struct copier *c, const char *rel, struct sl_error *err)
{
    const char *slash = strrchr(rel, '/');
    return slash ? sl_ws_make_dir(c, rel, (size_t)(slash - rel), 0755, err) : 0;
}

/* Copies SIZE bytes from SFD to DFD: a reflink when the file system can share extents,
 * else copy_file_range (in-kernel, and server-side on NFS), else read/write. */
static int copy_content(struct copier *c, int sfd, int dfd, int64_t size, const char *path,
                        struct sl_error *err)
{
    if (size == 0)
        return 0;
    if (c->try_reflink) {
        if (ioctl(dfd, FICLONE, sfd) == 0) {
            c->st.reflinked = true;
            return 0;
        }
        if (errno == EOPNOTSUPP || errno == EXDEV || errno == EINVAL || errno == ENOTTY ||
            errno == EPERM)
            c->try_reflink = false;
    }
    int64_t done = 0;
    while (c->try_copy_range && done < size) {
        ssize_t n = copy_file_range(sfd, NULL, dfd, NULL, (size_t)(size - done), 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (done == 0 && (errno == EXDEV || errno == ENOSYS || errno == EOPNOTSUPP ||
                              errno == EINVAL || errno == EBADF)) {
                c->try_copy_range = false;
                break;
            }
            return sl_error_set_errno(err, SL_EIO, "cannot copy %s", path);
        }
        if (n == 0)
            return 0; /* the file shrank while we copied it: take what there was */
        done += n;
    }
    if (done >= size)
        return 0;
    char buf[65536];
    for (;;) {
        ssize_t r = read(sfd, buf, sizeof(buf));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return sl_error_set_errno(err, SL_EIO, "cannot read %s", path);
        if (r == 0)
            return 0;
        for (ssize_t off = 0; off < r;) {
            ssize_t w = write(dfd, buf + off, (size_t)(r - off));
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0)
                return sl_error_set_errno(err, SL_EIO, "cannot write the copy of %s", path);
            off += w;
        }
    }
}

/* Copies the file or link REL whose lstat is ST. Directories are made by the caller.
 * Returns 0 (also for skipped special files) or an error. */
int sl_ws_copy_one(struct copier *c, const char *rel, const struct stat *st, struct sl_error *err)
{
    int sfd = -1, dfd = -1, rc;
    char *target = NULL;

    if ((rc = sl_ws_make_parent(c, rel, err)) < 0)
        goto out;
    sl_ws_abs_path(&c->sp, c->src, rel);
    sl_ws_abs_path(&c->dp, c->dst, rel);
    if (S_ISLNK(st->st_mode)) {
        size_t cap = (size_t)st->st_size + 1;
        if (cap < 2 || cap > PATH_MAX)
            cap = PATH_MAX;
        target = sl_xmalloc(cap);
        ssize_t n = readlink(c->sp.buf, target, cap);
        if (n < 0 || (size_t)n >= cap) {
            rc = sl_error_set_errno(err, SL_EIO, "cannot read the link %s", c->sp.buf);
            goto out;
        }
        target[n] = '\0';
        if (symlink(target, c->dp.buf) < 0) {
            rc = sl_error_set_errno(err, SL_EIO, "cannot create the link %s", c->dp.buf);
            goto out;
        }
        c->st.symlinks++;
        goto out;
    }
    if (!S_ISREG(st->st_mode)) {
        c->st.skipped++;
        goto out;
    }
    if (st->st_size > SL_WORKSPACE_FILE_MAX) {
        rc = sl_error_set(err, SL_ELIMIT,
                          "%s: %lld bytes is larger than the limit of %lld bytes for one file",
                          c->sp.buf, (long long)st->st_size, (long long)SL_WORKSPACE_FILE_MAX);
        goto out;
    }
    sfd = open(c->sp.buf, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
    if (sfd < 0) {
        rc = sl_error_set_errno(err, SL_EIO, "cannot open %s", c->sp.buf);
        goto out;
    }
    dfd = open(c->dp.buf, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (dfd < 0) {
        rc = sl_error_set_errno(err, SL_EIO, "cannot create %s", c->dp.buf);
        goto out;
    }
    if ((rc = copy_content(c, sfd, dfd, st->st_size, c->sp.buf, err)) < 0)
        goto out;
    /* fchmod, not the open mode: the umask must not change what the job sees */
    if (fchmod(dfd, st->st_mode & 07777) < 0) {
        rc = sl_error_set_errno(err, SL_EIO, "cannot set the mode of %s", c->dp.buf);
        goto out;
    }
    c->st.files++;
    c->st.bytes += (uint64_t)st->st_size;
out:
    if (sfd >= 0)
        close(sfd);
    if (dfd >= 0 && close(dfd) < 0 && rc == 0)
        rc = sl_error_set_errno(err, SL_EIO, "cannot write %s", c->dp.buf);
    free(target);
    return rc;
}

/* --- Plain trees ------------------------------------------------------------------ */

static int copy_tree(struct copier *c, const char *rel, struct sl_error *err)
{
    char *dir = rel[0] ? sl_fs_join(c->src, rel) : sl_xstrdup(c->src);
    DIR *d = opendir(dir);
    int rc = 0;
    struct dirent *e;

    if (!d) {
        rc = sl_error_set_errno(err, SL_EIO, "cannot read the directory %s", dir);
        goto out;
    }
    while (rc == 0 && (errno = 0, e = readdir(d))) {
        if (sl_streq(e->d_name, ".") || sl_streq(e->d_name, ".."))
            continue;
        char *child = rel[0] ? sl_xasprintf("%s/%s", rel, e->d_name) : sl_xstrdup(e->d_name);
        struct stat st;
        if (sl_ws_excluded(c, child)) {
            free(child);
            continue;
        }
        sl_ws_abs_path(&c->sp, c->src, child);
        if (lstat(c->sp.buf, &st) < 0) {
            if (errno != ENOENT) /* vanished meanwhile: nothing to copy */
                rc = sl_error_set_errno(err, SL_EIO, "%s", c->sp.buf);
        } else if (S_ISDIR(st.st_mode)) {
            rc = sl_ws_make_dir(c, child, strlen(child), st.st_mode & 07777, err);
            if (rc == 0)
                rc = copy_tree(c, child, err);
        } else {
            rc = sl_ws_copy_one(c, child, &st, err);
        }
        free(child);
    }
    if (rc == 0 && errno != 0)
        rc = sl_error_set_errno(err, SL_EIO, "cannot read the directory %s", dir);
out:
    if (d)
        closedir(d);
    free(dir);
    return rc;
}

/* --- The entry point ------------------------------------------------------------------ */

/* PATH made absolute with symlinks resolved, also when it (or some of its parents) does
 * not exist yet: the longest existing prefix is resolved, the rest appended. Caller
 * frees; NULL with errno set on failure. */
static char *resolve_path(const char *path)
{
    char *real = realpath(path, NULL);
    if (real || errno != ENOENT)
        return real;
    char *copy = sl_xstrdup(path), *slash = strrchr(copy, '/');
    char *res = NULL;
    while (slash && slash > copy && slash[1] == '\0') { /* trailing slashes */
        *slash = '\0';
        slash = strrchr(copy, '/');
    }
    if (!slash) {
        char *cwd = getcwd(NULL, 0);
        if (cwd)
            res = sl_fs_join(cwd, copy);
        free(cwd);
    } else {
        *slash = '\0';
        char *parent = resolve_path(slash == copy ? "/" : copy);
        if (parent)
            res = sl_fs_join(parent, slash + 1);
        free(parent);
    }
    free(copy);
    return res;
}

void sl_workspace_options_init(struct sl_workspace_options *o)
{
    memset(o, 0, sizeof(*o));
    o->strategy = SL_WORKSPACE_FETCH;
    o->checkout = true;
}

/* The last KEY=... of ENV (later entries win, as in an environment built by appending),
 * or NULL; an empty value counts as unset, as the runner reads these variables. */
static const char *env_get(const char *const *env, const char *key)
{
    const char *v = NULL;
    size_t n = strlen(key);
    for (const char *const *e = env; e && *e; e++)
        if (strncmp(*e, key, n) == 0 && (*e)[n] == '=')
            v = *e + n + 1;
    return v && v[0] ? v : NULL;
}

int sl_workspace_options_from_env(struct sl_workspace_options *o, const char *const *env,
                                  struct sl_error *err)
{
    static const struct {
        const char *name;
        enum sl_workspace_strategy s;
    } strategies[] = {{"fetch", SL_WORKSPACE_FETCH},
                      {"clone", SL_WORKSPACE_CLONE},
                      {"none", SL_WORKSPACE_NONE},
                      {"empty", SL_WORKSPACE_EMPTY}};
    struct sl_workspace_options t = *o;
    const char *v;

    if ((v = env_get(env, "GIT_STRATEGY"))) {
        size_t i = 0, n = sizeof(strategies) / sizeof(*strategies);
        while (i < n && !sl_streq(v, strategies[i].name))
            i++;
        if (i == n)
            return sl_error_set(err, SL_EINVAL,
                                "GIT_STRATEGY: unknown strategy \"%s\" (clone, fetch, none "
                                "or empty)",
                                v);
        t.strategy = strategies[i].s;
    }
    if ((v = env_get(env, "GIT_DEPTH"))) {
        char *end = NULL;
        errno = 0;
        long d = strtol(v, &end, 10);
        if (errno || *end || d < 0 || d > INT_MAX)
            return sl_error_set(err, SL_EINVAL, "GIT_DEPTH: \"%s\" is not a depth", v);
        t.depth = (int)d;
    }
    if ((v = env_get(env, "GIT_CHECKOUT"))) {
        if (sl_streq(v, "false"))
            t.checkout = false;
        else if (sl_streq(v, "true"))
            t.checkout = true;
        else
            return sl_error_set(err, SL_EINVAL, "GIT_CHECKOUT: \"%s\" is not true or false", v);
    }
    if ((v = env_get(env, "GIT_CLEAN_FLAGS"))) {
        struct ws_clean c;
        int rc = sl_ws_clean_parse(&c, v, err); /* refused now, not at the first reuse */
        if (rc < 0)
            return rc;
        sl_ws_clean_release(&c);
        t.clean_flags = v;
    }
    *o = t;
    return 0;
}

int sl_workspace_prepare(const char *project_dir, const char *dest_dir,
                         const struct sl_workspace_options *opts, struct sl_workspace_stats *stats,
                         struct sl_error *err)
{
    struct sl_workspace_options defaults;
    char *src = NULL, *dst = NULL, *skip = NULL;
    git_repository *repo = NULL;
    struct copier c;
    int rc = 0;
    bool git_up = false;

    if (!opts) {
        sl_workspace_options_init(&defaults);
        opts = &defaults;
    }
    sl_ws_copier_init(&c, NULL, NULL);
    if (!(src = realpath(project_dir, NULL))) {
        rc = sl_error_set_errno(err, errno == ENOENT ? SL_ENOENT : SL_EIO, "%s", project_dir);
        goto out;
    }
    /* every check before anything is removed: a wrong DEST_DIR must not cost the user */
    if (!(dst = resolve_path(dest_dir))) {
        rc = sl_error_set_errno(err, SL_EIO, "%s", dest_dir);
        goto out;
    }
    size_t sn = strlen(src), dn = strlen(dst);
    if (dn <= sn && strncmp(src, dst, dn) == 0 && (src[dn] == '/' || src[dn] == '\0' || dn == 1)) {
        rc = sl_error_set(err, SL_EINVAL, "the workspace %s cannot hold the project %s", dst, src);
        goto out;
    }
    if (dn > sn && strncmp(src, dst, sn) == 0 && dst[sn] == '/') {
        skip = sl_xstrdup(dst + sn + 1);
        if (!sl_starts_with(skip, ".sluice/")) {
            rc = sl_error_set(err, SL_EINVAL,
                              "a workspace inside the project must be under its .sluice/ "
                              "directory, not %s",
                              skip);
            goto out;
        }
    }
    c.src = src;
    c.dst = dst;
    c.skip_rel = skip;
    if (opts->strategy == SL_WORKSPACE_NONE || opts->strategy == SL_WORKSPACE_EMPTY) {
        if (opts->strategy == SL_WORKSPACE_EMPTY && (rc = sl_fs_remove_tree(dst, err)) < 0)
            goto out;
        rc = sl_fs_mkdir_p(dst, 0755, err);
        goto done;
    }

    git_libgit2_init();
    git_up = true;
    char *dotgit = sl_fs_join(src, ".git");
    bool has_git = sl_fs_exists(dotgit);
    free(dotgit);
    if (has_git) {
        if (git_repository_open_ext(&repo, src, GIT_REPOSITORY_OPEN_NO_SEARCH, NULL) < 0) {
            rc = sl_ws_git_fail(err, "cannot open the git repository of the project");
            goto out;
        }
        if (git_repository_is_bare(repo)) {
            rc = sl_error_set(err, SL_EINVAL, "%s: a bare repository has no files to copy", src);
            goto out;
        }
        rc = sl_ws_git_prepare(&c, repo, opts, err);
        c.st.git = true;
    } else {
        /* no index to tell what belongs to the project: always afresh */
        if ((rc = sl_fs_remove_tree(dst, err)) < 0 || (rc = sl_fs_mkdir_p(dst, 0755, err)) < 0)
            goto out;
        if (opts->checkout)
            rc = copy_tree(&c, "", err);
    }
done:
    if (rc == 0 && stats)
        *stats = c.st;
out:
    git_repository_free(repo);
    if (git_up)
        git_libgit2_shutdown();
    sl_ws_copier_release(&c);
    free(src);
    free(dst);
    free(skip);
    return rc;
}
