/* workspace.c: the per-job copy of the project (see workspace.h for what and why). */
#include "base/compat.h"
#include "exec/workspace.h"
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

/* What a copy run carries: the two roots, the directories already made (relative to
 * DST), and the path of DEST_DIR relative to the project when it lies inside it. */
struct copier {
    const char *src;
    const char *dst;
    struct sl_map dirs;   /* relative dir -> (void *)1 */
    struct sl_str sp, dp; /* scratch: absolute source and destination paths */
    const char *skip_rel; /* DEST_DIR relative to SRC, or NULL */
    bool try_reflink;     /* false once the file system said it cannot */
    bool try_copy_range;  /* false once copy_file_range said it cannot */
    struct sl_workspace_stats st;
};

static void copier_init(struct copier *c, const char *src, const char *dst)
{
    memset(c, 0, sizeof(*c));
    c->src = src;
    c->dst = dst;
    sl_str_init(&c->sp);
    sl_str_init(&c->dp);
    c->try_reflink = true;
    c->try_copy_range = true;
}

static void copier_release(struct copier *c)
{
    sl_map_release(&c->dirs);
    sl_str_release(&c->sp);
    sl_str_release(&c->dp);
}

static const char *abs_path(struct sl_str *s, const char *root, const char *rel)
{
    sl_str_reset(s);
    sl_str_adds(s, root);
    sl_str_addc(s, '/');
    sl_str_adds(s, rel);
    return s->buf;
}

/* True for paths the copy never takes: `.sluice/` at the top and DEST_DIR itself. */
static bool excluded(const struct copier *c, const char *rel)
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
static int make_dir(struct copier *c, const char *rel, size_t len, mode_t mode,
                    struct sl_error *err)
{
    char *d = sl_xstrndup(rel, len);
    int rc = 0;

    if (sl_map_has(&c->dirs, d))
        goto out;
    const char *slash = strrchr(d, '/');
    if (slash && (rc = make_dir(c, d, (size_t)(slash - d), 0755, err)) < 0)
        goto out;
    abs_path(&c->dp, c->dst, d);
    if (mkdir(c->dp.buf, mode | 0700) == 0) {
        c->st.dirs++;
    } else if (errno != EEXIST) {
        rc = sl_error_set_errno(err, SL_EIO, "cannot create directory %s", c->dp.buf);
        goto out;
    }
    sl_map_put(&c->dirs, d, (void *)1);
out:
    free(d);
    return rc;
}

static int make_parent(struct copier *c, const char *rel, struct sl_error *err)
{
    const char *slash = strrchr(rel, '/');
    return slash ? make_dir(c, rel, (size_t)(slash - rel), 0755, err) : 0;
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
static int copy_one(struct copier *c, const char *rel, const struct stat *st, struct sl_error *err)
{
    int sfd = -1, dfd = -1, rc;
    char *target = NULL;

    if ((rc = make_parent(c, rel, err)) < 0)
        goto out;
    abs_path(&c->sp, c->src, rel);
    abs_path(&c->dp, c->dst, rel);
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
        if (excluded(c, child)) {
            free(child);
            continue;
        }
        abs_path(&c->sp, c->src, child);
        if (lstat(c->sp.buf, &st) < 0) {
            if (errno != ENOENT) /* vanished meanwhile: nothing to copy */
                rc = sl_error_set_errno(err, SL_EIO, "%s", c->sp.buf);
        } else if (S_ISDIR(st.st_mode)) {
            rc = make_dir(c, child, strlen(child), st.st_mode & 07777, err);
            if (rc == 0)
                rc = copy_tree(c, child, err);
        } else {
            rc = copy_one(c, child, &st, err);
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

/* --- Git repositories ----------------------------------------------------------------- */

static bool is_gitlink(uint32_t mode)
{
    return mode == GIT_FILEMODE_COMMIT;
}

static int git_fail(struct sl_error *err, const char *what)
{
    const git_error *e = git_error_last();
    return sl_error_set(err, SL_EPROTO, "%s: %s", what, e && e->message ? e->message : "git error");
}

/* Copies the working-tree version of REL when it exists; missing files are counted as
 * skipped (deleted in the working tree but not yet from the index). */
static int copy_path(struct copier *c, const char *rel, struct sl_error *err)
{
    struct stat st;

    if (excluded(c, rel))
        return 0;
    abs_path(&c->sp, c->src, rel);
    if (lstat(c->sp.buf, &st) < 0) {
        if (errno == ENOENT || errno == ENOTDIR) {
            c->st.skipped++;
            return 0;
        }
        return sl_error_set_errno(err, SL_EIO, "%s", c->sp.buf);
    }
    if (S_ISDIR(st.st_mode)) /* an untracked nested repository, or a typechange */
        return make_dir(c, rel, strlen(rel), 0755, err);
    return copy_one(c, rel, &st, err);
}

/* Writes `.git/packed-refs` of the copy with the project's branches and tags. One file
 * whatever the number of refs; git peels tags on demand, so no peeled lines are needed. */
static int copy_refs(git_repository *src, const char *dst_gitdir, struct sl_error *err)
{
    git_reference_iterator *it = NULL;
    git_reference *ref = NULL;
    struct sl_str out = SL_STR_INIT;
    char *path = NULL;
    int rc = 0, e;

    if (git_reference_iterator_new(&it, src) < 0) {
        rc = git_fail(err, "cannot list the refs");
        goto out;
    }
    sl_str_adds(&out, "# pack-refs with: \n");
    while ((e = git_reference_next(&ref, it)) == 0) {
        const char *name = git_reference_name(ref);
        const git_oid *oid = git_reference_target(ref);
        if (oid && (sl_starts_with(name, "refs/heads/") || sl_starts_with(name, "refs/tags/"))) {
            char hex[GIT_OID_HEXSZ + 1];
            git_oid_tostr(hex, sizeof(hex), oid);
            sl_str_addf(&out, "%s %s\n", hex, name);
        }
        git_reference_free(ref);
        ref = NULL;
    }
    if (e != GIT_ITEROVER) {
        rc = git_fail(err, "cannot list the refs");
        goto out;
    }
    path = sl_fs_join(dst_gitdir, "packed-refs");
    rc = sl_fs_write_atomic(path, out.buf, out.len, 0644, err);
out:
    git_reference_iterator_free(it);
    sl_str_release(&out);
    free(path);
    return rc;
}

/* Fills the stat data of index entry E from the copied file, for files whose content is
 * the committed one, so that `git status` in the job need not hash them. */
static void fill_stat(git_index_entry *e, const struct stat *st)
{
    e->ctime.seconds = (int32_t)st->st_ctim.tv_sec;
    e->ctime.nanoseconds = (uint32_t)st->st_ctim.tv_nsec;
    e->mtime.seconds = (int32_t)st->st_mtim.tv_sec;
    e->mtime.nanoseconds = (uint32_t)st->st_mtim.tv_nsec;
    e->dev = (uint32_t)st->st_dev;
    e->ino = (uint32_t)st->st_ino;
    e->uid = st->st_uid;
    e->gid = st->st_gid;
    e->file_size = (uint32_t)st->st_size;
    /* we just copied and stat'ed it: no need for libgit2 to re-hash it as racily clean */
    e->flags_extended |= GIT_INDEX_ENTRY_UPTODATE;
}

/* Gives DEST_DIR its own repository that borrows the project's objects (workspace.h). */
static int make_repo(struct copier *c, git_repository *src, const struct sl_map *changed,
                     struct sl_error *err)
{
    git_repository *dst = NULL;
    git_reference *head = NULL;
    git_commit *commit = NULL;
    git_tree *tree = NULL;
    git_index *idx = NULL;
    char *gitdir = sl_fs_join(c->dst, ".git");
    char *alt = NULL, *objects = NULL;
    const char *initial_head = NULL;
    int rc = 0, e;
    git_repository_init_options opts;

    git_repository_init_options_init(&opts, GIT_REPOSITORY_INIT_OPTIONS_VERSION);
    e = git_repository_head(&head, src);
    if (e == GIT_EUNBORNBRANCH || e == GIT_ENOTFOUND) {
        /* no commit yet: keep the branch name that HEAD points at */
        git_reference *sym = NULL;
        if (git_reference_lookup(&sym, src, "HEAD") == 0 &&
            git_reference_type(sym) == GIT_REFERENCE_SYMBOLIC)
            initial_head = sl_xstrdup(git_reference_symbolic_target(sym));
        git_reference_free(sym);
    } else if (e < 0) {
        rc = git_fail(err, "cannot read HEAD");
        goto out;
    }
    opts.flags = GIT_REPOSITORY_INIT_MKDIR | GIT_REPOSITORY_INIT_NO_REINIT;
    opts.initial_head = initial_head;
    if (git_repository_init_ext(&dst, gitdir, &opts) < 0) {
        rc = git_fail(err, "cannot create the workspace repository");
        goto out;
    }
    objects = sl_fs_join(git_repository_commondir(src), "objects");
    alt = sl_fs_join(gitdir, "objects/info/alternates");
    char *line = sl_xasprintf("%s\n", objects);
    rc = sl_fs_write_atomic(alt, line, strlen(line), 0644, err);
    free(line);
    if (rc < 0)
        goto out;
    if ((rc = copy_refs(src, gitdir, err)) < 0)
        goto out;
    /* reopen, so the object database sees the alternates written above */
    git_repository_free(dst);
    dst = NULL;
    if (git_repository_open_ext(&dst, c->dst, GIT_REPOSITORY_OPEN_NO_SEARCH, NULL) < 0) {
        rc = git_fail(err, "cannot open the workspace repository");
        goto out;
    }
    if (!head)
        goto out; /* unborn: empty index, HEAD already names the branch */
    const git_oid *oid = git_reference_target(head);
    git_reference *resolved = NULL;
    if (!oid) {
        if (git_reference_resolve(&resolved, head) < 0) {
            rc = git_fail(err, "cannot resolve HEAD");
            goto out;
        }
        git_reference_free(head);
        head = resolved;
        oid = git_reference_target(head);
    }
    if (git_commit_lookup(&commit, dst, oid) < 0 || git_commit_tree(&tree, commit) < 0) {
        rc = git_fail(err, "cannot read the HEAD commit through the alternates");
        goto out;
    }
    if (git_repository_set_head_detached(dst, oid) < 0) {
        rc = git_fail(err, "cannot set HEAD in the workspace");
        goto out;
    }
    if (git_repository_index(&idx, dst) < 0 || git_index_read_tree(idx, tree) < 0) {
        rc = git_fail(err, "cannot build the workspace index");
        goto out;
    }
    size_t n = git_index_entrycount(idx);
    for (size_t i = 0; i < n; i++) {
        const git_index_entry *ie = git_index_get_byindex(idx, i);
        struct stat st;
        if (!ie || sl_map_has(changed, ie->path) || is_gitlink(ie->mode))
            continue;
        abs_path(&c->dp, c->dst, ie->path);
        if (lstat(c->dp.buf, &st) < 0)
            continue;
        if ((S_ISLNK(st.st_mode) != S_ISLNK(ie->mode)) ||
            !(S_ISREG(st.st_mode) || S_ISLNK(st.st_mode)))
            continue;
        git_index_entry copy = *ie;
        fill_stat(&copy, &st);
        if (git_index_add(idx, &copy) < 0) {
            rc = git_fail(err, "cannot update the workspace index");
            goto out;
        }
    }
    if (git_index_write(idx) < 0) {
        rc = git_fail(err, "cannot write the workspace index");
        goto out;
    }
out:
    git_index_free(idx);
    git_tree_free(tree);
    git_commit_free(commit);
    git_reference_free(head);
    git_repository_free(dst);
    free((char *)initial_head);
    free(gitdir);
    free(alt);
    free(objects);
    return rc;
}

static int copy_git(struct copier *c, git_repository *repo, struct sl_error *err)
{
    git_status_list *status = NULL;
    git_index *idx = NULL;
    struct sl_map changed = SL_MAP_INIT;
    git_status_options so;
    const char *prev = NULL;
    int rc = 0;

    git_status_options_init(&so, GIT_STATUS_OPTIONS_VERSION);
    /* never look into .sluice/: it may hold thousands of files of earlier builds */
    if (git_ignore_add_rule(repo, "/.sluice/\n") < 0) {
        rc = git_fail(err, "cannot set up the status walk");
        goto out;
    }
    so.show = GIT_STATUS_SHOW_INDEX_AND_WORKDIR;
    so.flags = GIT_STATUS_OPT_INCLUDE_UNTRACKED | GIT_STATUS_OPT_RECURSE_UNTRACKED_DIRS |
               GIT_STATUS_OPT_EXCLUDE_SUBMODULES;
    if (git_status_list_new(&status, repo, &so) < 0) {
        rc = git_fail(err, "cannot read the repository status");
        goto out;
    }
    if (git_repository_index(&idx, repo) < 0) {
        rc = git_fail(err, "cannot read the index");
        goto out;
    }
    size_t n = git_index_entrycount(idx);
    for (size_t i = 0; i < n && rc == 0; i++) {
        const git_index_entry *e = git_index_get_byindex(idx, i);
        if (!e || (prev && sl_streq(prev, e->path))) /* conflict stages: copy once */
            continue;
        prev = e->path;
        if (excluded(c, e->path))
            continue;
        if (is_gitlink(e->mode))
            rc = make_dir(c, e->path, strlen(e->path), 0755, err);
        else
            rc = copy_path(c, e->path, err);
    }
    size_t ns = git_status_list_entrycount(status);
    for (size_t i = 0; i < ns && rc == 0; i++) {
        const git_status_entry *s = git_status_byindex(status, i);
        const git_diff_delta *d = s->index_to_workdir ? s->index_to_workdir : s->head_to_index;
        if (!d)
            continue;
        const char *path = d->new_file.path ? d->new_file.path : d->old_file.path;
        if (s->head_to_index && s->head_to_index->old_file.path)
            sl_map_put(&changed, s->head_to_index->old_file.path, (void *)1);
        sl_map_put(&changed, path, (void *)1);
        if ((s->status & GIT_STATUS_WT_NEW) && !sl_ends_with(path, "/"))
            rc = copy_path(c, path, err);
    }
    if (rc == 0)
        rc = make_repo(c, repo, &changed, err);
out:
    sl_map_release(&changed);
    git_index_free(idx);
    git_status_list_free(status);
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

int sl_workspace_prepare(const char *project_dir, const char *dest_dir,
                         struct sl_workspace_stats *stats, struct sl_error *err)
{
    char *src = NULL, *dst = NULL, *skip = NULL;
    git_repository *repo = NULL;
    struct copier c;
    int rc = 0;
    bool git_up = false;

    copier_init(&c, NULL, NULL);
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
    if ((rc = sl_fs_remove_tree(dst, err)) < 0)
        goto out;
    if ((rc = sl_fs_mkdir_p(dst, 0755, err)) < 0)
        goto out;
    c.src = src;
    c.dst = dst;
    c.skip_rel = skip;

    git_libgit2_init();
    git_up = true;
    char *dotgit = sl_fs_join(src, ".git");
    bool has_git = sl_fs_exists(dotgit);
    free(dotgit);
    if (has_git) {
        if (git_repository_open_ext(&repo, src, GIT_REPOSITORY_OPEN_NO_SEARCH, NULL) < 0) {
            rc = git_fail(err, "cannot open the git repository of the project");
            goto out;
        }
        if (git_repository_is_bare(repo)) {
            rc = sl_error_set(err, SL_EINVAL, "%s: a bare repository has no files to copy", src);
            goto out;
        }
        rc = copy_git(&c, repo, err);
        c.st.git = true;
    } else {
        rc = copy_tree(&c, "", err);
    }
    if (rc == 0 && stats)
        *stats = c.st;
out:
    git_repository_free(repo);
    if (git_up)
        git_libgit2_shutdown();
    copier_release(&c);
    free(src);
    free(dst);
    free(skip);
    return rc;
}
