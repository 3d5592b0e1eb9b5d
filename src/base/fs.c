#include "base/compat.h"
#include "base/fs.h"
#include "base/alloc.h"

#include <dirent.h>
#include <errno.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

int sl_fs_read_file(const char *path, size_t max, char **out, size_t *len, struct sl_error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    char *buf = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    struct stat st;

    if (fd < 0)
        return sl_error_set_errno(err, errno == ENOENT ? SL_ENOENT : SL_EIO, "%s", path);
    if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
        rc = sl_error_set(err, SL_EINVAL, "%s: is a directory", path);
        goto out;
    }
    for (;;) {
        SL_GROW(buf, cap, n + 65536 + 1);
        ssize_t r = read(fd, buf + n, cap - n - 1);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            rc = sl_error_set_errno(err, SL_EIO, "%s", path);
            goto out;
        }
        if (r == 0)
            break;
        n += (size_t)r;
        if (n > max) {
            rc = sl_error_set(err, SL_ELIMIT, "%s: file is larger than the limit of %zu bytes",
                              path, max);
            goto out;
        }
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    buf = NULL;
out:
    free(buf);
    close(fd);
    return rc;
}

int sl_fs_resolve_within(const char *root, const char *path, char **resolved, struct sl_error *err)
{
    char *rroot = realpath(root, NULL), *rpath = NULL;
    int rc = 0;

    if (!rroot) {
        rc = sl_error_set_errno(err, errno == ENOENT ? SL_ENOENT : SL_EIO, "%s", root);
        goto out;
    }
    if (!(rpath = realpath(path, NULL))) {
        rc = sl_error_set_errno(err, errno == ENOENT || errno == ENOTDIR ? SL_ENOENT : SL_EIO, "%s",
                                path);
        goto out;
    }
    size_t n = strlen(rroot);
    if (n == 1) /* ROOT is "/": everything is inside */
        n = 0;
    if (strncmp(rpath, rroot, n) || (rpath[n] != '/' && rpath[n] != '\0')) {
        rc = sl_error_set(err, SL_EPERM, "%s: points outside %s", path, root);
        goto out;
    }
    if (resolved) {
        *resolved = rpath;
        rpath = NULL;
    }
out:
    free(rroot);
    free(rpath);
    return rc;
}

int sl_fs_resolve_below(const char *real_root, const char *rel, char **resolved,
                        struct sl_error *err)
{
    char *full = sl_fs_join(real_root, rel);
    size_t n = strlen(real_root), at = n == 1 ? 0 : n; /* FULL[AT] is the '/' before REL */
    int rc = 0;
    /* REL's components, each checked to be no symlink and no "..": then FULL is inside and
     * is its own real path once "." and doubled slashes are dropped */
    char *real = sl_xmalloc(strlen(full) + 2), *w = real + at;
    memcpy(real, full, at);
    const char *c = full + at;
    while (*c) {
        while (*c == '/')
            c++;
        size_t len = strcspn(c, "/");
        if (len == 0)
            break;
        if (len == 1 && c[0] == '.') {
            c += len;
            continue;
        }
        if (len == 2 && c[0] == '.' && c[1] == '.')
            goto slow;
        *w++ = '/';
        memcpy(w, c, len);
        w += len;
        *w = '\0';
        struct stat st;
        if (lstat(real, &st) < 0) {
            if (errno != ENOENT && errno != ENOTDIR)
                goto slow; /* as realpath would say it */
            rc = sl_error_set_errno(err, SL_ENOENT, "%s", full);
            goto out;
        }
        if (S_ISLNK(st.st_mode))
            goto slow;
        c += len;
        if (*c && !S_ISDIR(st.st_mode)) {
            errno = ENOTDIR;
            rc = sl_error_set_errno(err, SL_ENOENT, "%s", full);
            goto out;
        }
    }
    if (w == real) /* REL was only "." or "": the root itself */
        *w++ = '/';
    *w = '\0';
    if (resolved) {
        *resolved = real;
        real = NULL;
    }
    goto out;
slow:
    rc = sl_fs_resolve_within(real_root, full, resolved, err);
out:
    free(real);
    free(full);
    return rc;
}

int sl_fs_read_within(const char *root, const char *rel, size_t max, char **out, size_t *len,
                      struct sl_error *err)
{
    char *full = sl_fs_join(root, rel), *real = NULL;
    int rc = sl_fs_resolve_within(root, full, &real, err);
    if (rc == 0)
        rc = sl_fs_read_file(real, max, out, len, err);
    free(full);
    free(real);
    return rc;
}

/* Changes DIRFD's entries (recursively) and not DIRFD itself; takes DIRFD over. */
static int chown_entries(int dirfd, uid_t uid, gid_t gid, int depth)
{
    DIR *d = fdopendir(dirfd);
    struct dirent *e;
    int rc = 0;

    if (!d) {
        close(dirfd);
        return -1;
    }
    while (rc == 0 && (e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        if (fchownat(dirfd, e->d_name, uid, gid, AT_SYMLINK_NOFOLLOW) < 0) {
            rc = -1;
            break;
        }
        struct stat st;
        if (fstatat(dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
            rc = -1;
            break;
        }
        if (S_ISDIR(st.st_mode)) {
            if (depth >= 256) {
                errno = ELOOP;
                rc = -1;
                break;
            }
            int sub = openat(dirfd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (sub < 0 || chown_entries(sub, uid, gid, depth + 1) < 0)
                rc = -1;
        }
    }
    int saved = errno;
    closedir(d);
    errno = saved;
    return rc;
}

int sl_fs_chown_tree(const char *path, uid_t uid, gid_t gid, struct sl_error *err)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd >= 0 && fchown(fd, uid, gid) < 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        fd = -1;
    }
    if (fd < 0 || chown_entries(fd, uid, gid, 0) < 0) /* chown_entries takes fd over */
        return sl_error_set_errno(err, SL_EIO, "cannot hand %s over to uid %u", path,
                                  (unsigned)uid);
    return 0;
}

int sl_fs_write_atomic(const char *path, const void *data, size_t len, int mode,
                       struct sl_error *err)
{
    char *tmp = sl_xasprintf("%s.tmp.%d", path, (int)getpid());
    int rc = 0;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0) {
        rc = sl_error_set_errno(err, SL_EIO, "%s", tmp);
        goto out;
    }
    const char *p = data;
    while (len) {
        ssize_t w = write(fd, p, len);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            rc = sl_error_set_errno(err, SL_EIO, "%s", tmp);
            close(fd);
            unlink(tmp);
            goto out;
        }
        p += w;
        len -= (size_t)w;
    }
    if (close(fd) < 0 || rename(tmp, path) < 0) {
        rc = sl_error_set_errno(err, SL_EIO, "%s", path);
        unlink(tmp);
    }
out:
    free(tmp);
    return rc;
}

int sl_fs_mkdir_p(const char *path, int mode, struct sl_error *err)
{
    char *p = sl_xstrdup(path);
    int rc = 0;
    for (char *s = p + 1;; s++) {
        if (*s == '/' || *s == '\0') {
            char c = *s;
            *s = '\0';
            if (mkdir(p, (mode_t)mode) < 0 && errno != EEXIST) {
                rc = sl_error_set_errno(err, SL_EIO, "cannot create directory %s", p);
                break;
            }
            *s = c;
            if (!c)
                break;
        }
    }
    free(p);
    return rc;
}

int sl_fs_remove_tree(const char *path, struct sl_error *err)
{
    struct stat st;
    if (lstat(path, &st) < 0)
        return errno == ENOENT ? 0 : sl_error_set_errno(err, SL_EIO, "%s", path);
    if (!S_ISDIR(st.st_mode)) {
        if (unlink(path) < 0 && errno != ENOENT)
            return sl_error_set_errno(err, SL_EIO, "cannot remove %s", path);
        return 0;
    }
    DIR *d = opendir(path);
    if (!d)
        return sl_error_set_errno(err, SL_EIO, "%s", path);
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char *child = sl_fs_join(path, e->d_name);
        rc = sl_fs_remove_tree(child, err);
        free(child);
    }
    closedir(d);
    if (rc == 0 && rmdir(path) < 0)
        rc = sl_error_set_errno(err, SL_EIO, "cannot remove %s", path);
    return rc;
}

bool sl_fs_is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

bool sl_fs_exists(const char *path)
{
    return access(path, F_OK) == 0;
}

char *sl_fs_join(const char *dir, const char *name)
{
    size_t n = strlen(dir);
    if (n && dir[n - 1] == '/')
        return sl_xasprintf("%s%s", dir, name);
    return sl_xasprintf("%s/%s", dir, name);
}
