/* artifacts.c: selecting files by GitLab's rules, tar+zstd packing and safe
 * unpacking (see artifacts.h). */
#include "base/compat.h"
#include "exec/artifacts.h"
#include "base/alloc.h"

/* The selection matches globs with sl_glob_match (src/base/glob.h), which another change
 * is adding to base. Until that header exists this file compiles to nothing and the
 * artifacts and cache tests say SKIPPED; nothing else in sluice calls these functions yet. */
#include "base/fs.h"
#include "base/glob.h"
#include "base/map.h"
#include "base/str.h"
#include "base/time.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <git2.h>
#include <jansson.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

/* --- Lists
 * ---------------------------------------------------------------------------
 */

static void strv_free(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

void sl_artifacts_list_release(struct sl_artifacts_list *l)
{
    strv_free(l->paths, l->n);
    strv_free(l->warnings, l->nwarnings);
    memset(l, 0, sizeof(*l));
}

static void warn(struct sl_artifacts_list *l, const char *fmt, ...) SL_PRINTF(2, 3);
static void warn(struct sl_artifacts_list *l, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    SL_GROW(l->warnings, l->wcap, l->nwarnings + 1);
    l->warnings[l->nwarnings++] = sl_xvasprintf(fmt, ap);
    va_end(ap);
}

/* --- Path checks
 * --------------------------------------------------------------------- */

static bool has_meta(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] == '*' || s[i] == '?' || s[i] == '[' || s[i] == '{' || s[i] == '\\')
            return true;
    return false;
}

/* Makes PAT relative to the workspace ROOT: strips "ROOT/" and "./", drops "."
 * and empty components and a trailing slash. "" means the workspace itself.
 * SL_EPERM when PAT is absolute elsewhere or has a ".." component. Caller frees
 * *OUT. */
static int normalize(const char *root, const char *pat, char **out, struct sl_error *err)
{
    size_t rn = strlen(root);
    const char *p = pat;
    struct sl_str s = SL_STR_INIT;

    if (p[0] == '/') {
        if (strncmp(p, root, rn) == 0 && (p[rn] == '/' || p[rn] == '\0'))
            p += rn;
        else
            return sl_error_set(err, SL_EPERM, "%s: path is outside the project directory", pat);
    }
    while (*p) {
        while (*p == '/')
            p++;
        const char *e = strchr(p, '/');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n == 0)
            break;
        if (n == 2 && p[0] == '.' && p[1] == '.') {
            sl_str_release(&s);
            return sl_error_set(err, SL_EPERM, "%s: path is outside the project directory", pat);
        }
        if (!(n == 1 && p[0] == '.')) {
            if (s.len)
                sl_str_addc(&s, '/');
            sl_str_add(&s, p, n);
        }
        p += n;
    }
    *out = sl_str_detach(&s);
    return 0;
}

/* True when the symbolic link at REL with target TARGET stays inside the
 * workspace when resolved lexically: not absolute, and its ".." never climb
 * above the root. */
static bool link_inside(const char *rel, const char *target)
{
    int depth = 0;
    if (target[0] == '/' || target[0] == '\0')
        return false;
    for (const char *s = rel; *s; s++)
        if (*s == '/')
            depth++;
    for (const char *p = target; *p;) {
        const char *e = strchr(p, '/');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n == 2 && p[0] == '.' && p[1] == '.') {
            if (--depth < 0)
                return false;
        } else if (n && !(n == 1 && p[0] == '.')) {
            depth++;
        }
        p += n;
        while (*p == '/')
            p++;
    }
    return true;
}

/* --- Selection
 * ----------------------------------------------------------------------- */

struct matcher {
    const char *root; /* real path of the workspace */
    struct sl_artifacts_list *out;
    struct sl_map seen;
    struct sl_str abs;
    size_t hits; /* files a pattern matched, taken before or not */
};

static const char *absp(struct matcher *m, const char *rel)
{
    sl_str_reset(&m->abs);
    sl_str_adds(&m->abs, m->root);
    if (rel[0]) {
        sl_str_addc(&m->abs, '/');
        sl_str_adds(&m->abs, rel);
    }
    return m->abs.buf;
}

static int add_file(struct matcher *m, const char *rel, const struct stat *st, struct sl_error *err)
{
    if (!S_ISREG(st->st_mode) && !S_ISLNK(st->st_mode))
        return 0; /* fifos, sockets, devices: not archivable */
    if (sl_streq(rel, ".git") || sl_starts_with(rel, ".git/"))
        return 0; /* the workspace's repository is never an artifact */
    m->hits++;
    if (sl_map_has(&m->seen, rel))
        return 0;
    if (S_ISLNK(st->st_mode)) {
        char target[PATH_MAX];
        ssize_t n = readlink(absp(m, rel), target, sizeof(target) - 1);
        if (n < 0)
            return sl_error_set_errno(err, SL_EIO, "cannot read the link %s", rel);
        target[n] = '\0';
        if (!link_inside(rel, target))
            return sl_error_set(err, SL_EPERM,
                                "%s: symbolic link to %s points outside the project directory", rel,
                                target);
    }
    if (m->out->n >= SL_ARTIFACTS_MAX_FILES)
        return sl_error_set(err, SL_ELIMIT, "more than %d files to archive",
                            SL_ARTIFACTS_MAX_FILES);
    SL_GROW(m->out->paths, m->out->cap, m->out->n + 1);
    m->out->paths[m->out->n++] = sl_xstrdup(rel);
    if (S_ISREG(st->st_mode))
        m->out->bytes += (uint64_t)st->st_size;
    sl_map_put(&m->seen, rel, (void *)1);
    return 0;
}

/* Walks the directory REL. With PATTERN, entries that match are taken (a
 * directory whole) and the others descended into while DEPTH allows; without,
 * everything is taken. Symbolic links are never followed; `.git` at the top is
 * skipped. */
static int walk(struct matcher *m, const char *rel, const char *pattern, int depth,
                struct sl_error *err)
{
    DIR *d = opendir(absp(m, rel));
    int rc = 0;
    struct dirent *e;

    if (!d)
        return errno == ENOENT ? 0 : sl_error_set_errno(err, SL_EIO, "%s", m->abs.buf);
    while (rc == 0 && (e = readdir(d))) {
        if (sl_streq(e->d_name, ".") || sl_streq(e->d_name, ".."))
            continue;
        if (!rel[0] && sl_streq(e->d_name, ".git"))
            continue;
        char *child = rel[0] ? sl_xasprintf("%s/%s", rel, e->d_name) : sl_xstrdup(e->d_name);
        struct stat st;
        if (lstat(absp(m, child), &st) < 0) {
            free(child);
            continue; /* vanished */
        }
        bool take = !pattern || sl_glob_match(pattern, child);
        if (S_ISDIR(st.st_mode)) {
            if (take)
                rc = walk(m, child, NULL, 0, err);
            else if (depth != 1)
                rc = walk(m, child, pattern, depth > 0 ? depth - 1 : -1, err);
        } else if (take) {
            rc = add_file(m, child, &st, err);
        }
        free(child);
    }
    closedir(d);
    return rc;
}

/* True when the real location of REL's directory is inside the workspace: a
 * path may pass through a link that stays inside, never through one that
 * leaves. */
static bool parent_inside(struct matcher *m, const char *rel)
{
    const char *slash = strrchr(rel, '/');
    if (!slash)
        return true;
    char *dir = sl_xstrndup(rel, (size_t)(slash - rel));
    char *real = realpath(absp(m, dir), NULL);
    size_t rn = strlen(m->root);
    bool ok = !real || (strncmp(real, m->root, rn) == 0 && (real[rn] == '/' || !real[rn]));
    free(real);
    free(dir);
    return ok;
}

static int add_pattern(struct matcher *m, const char *pat, const char *orig, struct sl_error *err)
{
    size_t before = m->hits;
    int rc = 0;

    if (!has_meta(pat, strlen(pat))) {
        struct stat st;
        if (!parent_inside(m, pat))
            return sl_error_set(err, SL_EPERM,
                                "%s: path goes through a symbolic link out of the project "
                                "directory",
                                orig);
        if (lstat(absp(m, pat), &st) == 0) {
            if (S_ISDIR(st.st_mode))
                rc = walk(m, pat, NULL, 0, err);
            else
                rc = add_file(m, pat, &st, err);
        }
    } else {
        /* walk only below the literal leading directories */
        size_t lit = 0;
        for (const char *p = pat; *p;) {
            const char *e = strchr(p, '/');
            size_t n = e ? (size_t)(e - p) : strlen(p);
            if (!e || has_meta(p, n))
                break;
            lit = (size_t)(e - pat);
            p = e + 1;
        }
        char *base = sl_xstrndup(pat, lit);
        int depth = -1;
        if (!strstr(pat + lit, "**")) {
            depth = 1;
            for (const char *p = pat + (lit ? lit + 1 : 0); *p; p++)
                depth += *p == '/';
        }
        char *probe = sl_xasprintf("%s/x", base);
        bool inside = !base[0] || parent_inside(m, probe);
        free(probe);
        if (!inside) {
            rc = sl_error_set(err, SL_EPERM,
                              "%s: path goes through a symbolic link out of the project "
                              "directory",
                              orig);
        } else {
            struct stat st;
            if (lstat(absp(m, base), &st) == 0 && S_ISDIR(st.st_mode))
                rc = walk(m, base, pat, depth, err);
        }
        free(base);
    }
    if (rc == 0 && m->hits == before)
        warn(m->out, "%s: no matching files", orig);
    return rc;
}

// `dir/**` excludes everything below dir, as doublestar does in the runner; in
// Ruby's fnmatch a trailing `**` is only `*`, so it is matched as `dir/**/*`
// too.
static bool excluded(const char *const *exclude, char *const *norm, const char *path)
{
    for (size_t i = 0; exclude && exclude[i]; i++) {
        const char *p = norm[i];
        if (!p)
            continue;
        if (sl_glob_match(p, path))
            return true;
        if (sl_ends_with(p, "/**") || sl_streq(p, "**")) {
            char *deep = sl_xasprintf("%s/*", p);
            bool hit = sl_glob_match(deep, path);
            free(deep);
            if (hit)
                return true;
        }
    }
    return false;
}

static int add_untracked(struct matcher *m, struct sl_error *err)
{
    git_repository *repo = NULL;
    git_status_list *status = NULL;
    git_status_options so;
    int rc = 0;

    git_libgit2_init();
    if (git_repository_open_ext(&repo, m->root, GIT_REPOSITORY_OPEN_NO_SEARCH, NULL) < 0) {
        warn(m->out, "untracked: the project directory is not a git repository");
        goto out;
    }
    git_status_options_init(&so, GIT_STATUS_OPTIONS_VERSION);
    so.show = GIT_STATUS_SHOW_WORKDIR_ONLY;
    so.flags = GIT_STATUS_OPT_INCLUDE_UNTRACKED | GIT_STATUS_OPT_RECURSE_UNTRACKED_DIRS |
               GIT_STATUS_OPT_INCLUDE_IGNORED | GIT_STATUS_OPT_RECURSE_IGNORED_DIRS |
               GIT_STATUS_OPT_EXCLUDE_SUBMODULES;
    if (git_status_list_new(&status, repo, &so) < 0) {
        const git_error *e = git_error_last();
        rc = sl_error_set(err, SL_EPROTO, "untracked: %s", e ? e->message : "git status failed");
        goto out;
    }
    size_t n = git_status_list_entrycount(status);
    for (size_t i = 0; i < n && rc == 0; i++) {
        const git_status_entry *s = git_status_byindex(status, i);
        if (!(s->status & (GIT_STATUS_WT_NEW | GIT_STATUS_IGNORED)) || !s->index_to_workdir)
            continue;
        const char *path = s->index_to_workdir->new_file.path;
        struct stat st;
        if (sl_ends_with(path, "/")) { /* a nested repository: take its files */
            char *dir = sl_xstrndup(path, strlen(path) - 1);
            rc = walk(m, dir, NULL, 0, err);
            free(dir);
        } else if (lstat(absp(m, path), &st) == 0) {
            rc = add_file(m, path, &st, err);
        }
    }
out:
    git_status_list_free(status);
    git_repository_free(repo);
    git_libgit2_shutdown();
    return rc;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int sl_artifacts_match(struct sl_artifacts_list *out, const char *workspace,
                       const struct sl_artifacts_select *sel, struct sl_error *err)
{
    struct sl_artifacts_list list = {0};
    struct matcher m = {NULL, &list, SL_MAP_INIT, SL_STR_INIT, 0};
    char *root = realpath(workspace, NULL);
    char **ex = NULL;
    size_t nex = 0;
    int rc = 0;

    if (!root) {
        rc = sl_error_set_errno(err, errno == ENOENT ? SL_ENOENT : SL_EIO, "%s", workspace);
        goto out;
    }
    m.root = root;
    for (size_t i = 0; sel->paths && sel->paths[i] && rc == 0; i++) {
        char *pat = NULL;
        if ((rc = normalize(root, sel->paths[i], &pat, err)) < 0)
            break;
        rc = add_pattern(&m, pat, sel->paths[i], err);
        free(pat);
    }
    if (rc == 0 && sel->untracked)
        rc = add_untracked(&m, err);
    if (rc < 0)
        goto out;
    while (sel->exclude && sel->exclude[nex])
        nex++;
    ex = sl_xcalloc(nex + 1, sizeof(*ex));
    for (size_t i = 0; i < nex; i++)
        if (normalize(root, sel->exclude[i], &ex[i], NULL) < 0)
            ex[i] = NULL; /* outside the project: it cannot match anything */
    size_t kept = 0;
    list.bytes = 0;
    for (size_t i = 0; i < list.n; i++) {
        if (nex && excluded(sel->exclude, ex, list.paths[i])) {
            free(list.paths[i]);
            continue;
        }
        struct stat st;
        if (lstat(absp(&m, list.paths[i]), &st) == 0 && S_ISREG(st.st_mode))
            list.bytes += (uint64_t)st.st_size;
        list.paths[kept++] = list.paths[i];
    }
    list.n = kept;
    if (list.n)
        qsort(list.paths, list.n, sizeof(*list.paths), cmp_str);
    *out = list;
    memset(&list, 0, sizeof(list));
out:
    strv_free(ex, nex);
    sl_artifacts_list_release(&list);
    sl_map_release(&m.seen);
    sl_str_release(&m.abs);
    free(root);
    return rc;
}

/* --- Packing
 * ------------------------------------------------------------------------- */

struct sink {
    int fd;
    int64_t written, max;
    bool over;
    int err_no;
};

static la_ssize_t sink_write(struct archive *a, void *ctx, const void *buf, size_t n)
{
    struct sink *s = ctx;
    (void)a;
    if (s->written + (int64_t)n > s->max) {
        s->over = true;
        return -1;
    }
    for (size_t off = 0; off < n;) {
        ssize_t w = write(s->fd, (const char *)buf + off, n - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            s->err_no = errno;
            return -1;
        }
        off += (size_t)w;
    }
    s->written += (int64_t)n;
    return (la_ssize_t)n;
}

/* A temporary file beside PATH: "<dir>/.<base>.XXXXXX". Caller frees *TMP. */
static int open_temp(const char *path, char **tmp, struct sl_error *err)
{
    const char *slash = strrchr(path, '/');
    char *t = slash ? sl_xasprintf("%.*s/.%s.XXXXXX", (int)(slash - path), path, slash + 1)
                    : sl_xasprintf(".%s.XXXXXX", path);
    int fd = mkostemp(t, O_CLOEXEC);
    if (fd < 0) {
        sl_error_set_errno(err, SL_EIO, "cannot create a temporary file for %s", path);
        free(t);
        return -1;
    }
    *tmp = t;
    return fd;
}

static int la_fail(struct archive *a, struct sl_error *err, int code, const char *what)
{
    const char *m = archive_error_string(a);
    return sl_error_set(err, code, "%s: %s", what, m ? m : "archive error");
}

int sl_artifacts_pack(const char *workspace, const struct sl_artifacts_list *list,
                      const char *archive_path, int64_t max_bytes,
                      struct sl_artifacts_pack_stats *stats, struct sl_error *err)
{
    struct archive *a = NULL;
    struct archive_entry *ent = NULL;
    struct sink sink = {-1, 0, max_bytes > 0 ? max_bytes : SL_ARTIFACTS_MAX_BYTES, false, 0};
    struct sl_artifacts_pack_stats st = {0};
    char *tmp = NULL, *buf = NULL;
    struct sl_str abs = SL_STR_INIT;
    int rc = 0, fd = -1;
    const size_t bufsz = 1 << 20;

    if ((sink.fd = open_temp(archive_path, &tmp, err)) < 0) {
        rc = SL_EIO;
        goto out;
    }
    a = archive_write_new();
    if (archive_write_add_filter_zstd(a) != ARCHIVE_OK ||
        archive_write_set_filter_option(a, "zstd", "compression-level", "3") != ARCHIVE_OK ||
        archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
        archive_write_set_bytes_in_last_block(a, 1) != ARCHIVE_OK ||
        archive_write_open2(a, &sink, NULL, sink_write, NULL, NULL) != ARCHIVE_OK) {
        rc = la_fail(a, err, SL_EIO, archive_path);
        goto out;
    }
    buf = sl_xmalloc(bufsz);
    ent = archive_entry_new();
    for (size_t i = 0; i < list->n; i++) {
        struct stat fst;
        char target[PATH_MAX];
        sl_str_reset(&abs);
        sl_str_addf(&abs, "%s/%s", workspace, list->paths[i]);
        if (lstat(abs.buf, &fst) < 0)
            continue; /* removed since the selection */
        archive_entry_clear(ent);
        archive_entry_copy_pathname(ent, list->paths[i]);
        archive_entry_copy_stat(ent, &fst);
        archive_entry_set_uid(ent, 0);
        archive_entry_set_gid(ent, 0);
        if (S_ISLNK(fst.st_mode)) {
            ssize_t n = readlink(abs.buf, target, sizeof(target) - 1);
            if (n < 0) {
                rc = sl_error_set_errno(err, SL_EIO, "cannot read the link %s", abs.buf);
                goto out;
            }
            target[n] = '\0';
            archive_entry_copy_symlink(ent, target);
            archive_entry_set_size(ent, 0);
        } else if (S_ISREG(fst.st_mode)) {
            if ((fd = open(abs.buf, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0) {
                rc = sl_error_set_errno(err, SL_EIO, "cannot open %s", abs.buf);
                goto out;
            }
        } else {
            continue;
        }
        if (archive_write_header(a, ent) != ARCHIVE_OK)
            goto write_failed;
        int64_t left = S_ISREG(fst.st_mode) ? fst.st_size : 0;
        while (left > 0) {
            ssize_t r = read(fd, buf, (size_t)SL_MIN((int64_t)bufsz, left));
            if (r < 0 && errno == EINTR)
                continue;
            if (r < 0) {
                rc = sl_error_set_errno(err, SL_EIO, "cannot read %s", abs.buf);
                goto out;
            }
            if (r == 0) { /* shrank meanwhile: pad to the size the header promised */
                memset(buf, 0, (size_t)SL_MIN((int64_t)bufsz, left));
                r = (ssize_t)SL_MIN((int64_t)bufsz, left);
            }
            if (archive_write_data(a, buf, (size_t)r) < 0)
                goto write_failed;
            left -= r;
            st.bytes += (uint64_t)r;
        }
        if (fd >= 0) {
            close(fd);
            fd = -1;
        }
        st.files++;
    }
    if (archive_write_close(a) != ARCHIVE_OK)
        goto write_failed;
    if (fdatasync(sink.fd) < 0 || close(sink.fd) < 0) {
        sink.fd = -1;
        rc = sl_error_set_errno(err, SL_EIO, "cannot write %s", tmp);
        goto out;
    }
    sink.fd = -1;
    if (rename(tmp, archive_path) < 0) {
        rc = sl_error_set_errno(err, SL_EIO, "cannot rename %s to %s", tmp, archive_path);
        goto out;
    }
    free(tmp);
    tmp = NULL;
    st.archive_bytes = (uint64_t)sink.written;
    if (stats)
        *stats = st;
    goto out;
write_failed:
    if (sink.over)
        rc =
            sl_error_set(err, SL_ELIMIT, "artifacts archive is larger than the limit of %lld bytes",
                         (long long)sink.max);
    else if (sink.err_no)
        rc = sl_error_set(err, SL_EIO, "cannot write %s: %s", archive_path, strerror(sink.err_no));
    else
        rc = la_fail(a, err, SL_EIO, archive_path);
out:
    if (a)
        archive_write_free(a); /* after a failure this may try to flush: the sink refuses */
    archive_entry_free(ent);
    if (fd >= 0)
        close(fd);
    if (sink.fd >= 0)
        close(sink.fd);
    if (tmp)
        unlink(tmp);
    free(tmp);
    free(buf);
    sl_str_release(&abs);
    return rc;
}

/* --- Unpacking
 * ----------------------------------------------------------------------- */

/* A safe relative entry name: not absolute, no ".." component, not empty.
 * Leading "./" and repeated slashes are dropped. NULL when unsafe; caller
 * frees. */
static char *safe_name(const char *name)
{
    char *n = NULL;
    if (!name || name[0] == '/' || normalize("/", name, &n, NULL) < 0 || !n[0]) {
        free(n);
        return NULL;
    }
    return n;
}

int sl_artifacts_extract(const char *archive_path, const char *workspace, int64_t max_bytes,
                         struct sl_artifacts_pack_stats *stats, struct sl_error *err)
{
    struct archive *a = NULL, *disk = NULL;
    struct archive_entry *ent;
    struct sl_artifacts_pack_stats st = {0};
    char *root = NULL, *rel = NULL, *dest = NULL;
    int64_t cap = max_bytes > 0 ? max_bytes : SL_ARTIFACTS_EXTRACT_MAX_BYTES;
    int rc = 0, r;
    struct stat ast;

    if (stat(archive_path, &ast) < 0) {
        rc = sl_error_set_errno(err, errno == ENOENT ? SL_ENOENT : SL_EIO, "%s", archive_path);
        goto out;
    }
    st.archive_bytes = (uint64_t)ast.st_size;
    if ((rc = sl_fs_mkdir_p(workspace, 0755, err)) < 0)
        goto out;
    if (!(root = realpath(workspace, NULL))) {
        rc = sl_error_set_errno(err, SL_EIO, "%s", workspace);
        goto out;
    }
    a = archive_read_new();
    archive_read_support_filter_zstd(a);
    archive_read_support_filter_none(a);
    archive_read_support_format_tar(a);
    /* the archives gitlab-runner and sluice agent upload, handed back to dependent jobs */
    archive_read_support_format_zip(a);
    if (archive_read_open_filename(a, archive_path, 1 << 16) != ARCHIVE_OK) {
        rc = la_fail(a, err, SL_EINVAL, archive_path);
        goto out;
    }
    disk = archive_write_disk_new();
    archive_write_disk_set_options(
        disk, ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_SECURE_SYMLINKS |
                  ARCHIVE_EXTRACT_SECURE_NODOTDOT | ARCHIVE_EXTRACT_UNLINK);
    while ((r = archive_read_next_header(a, &ent)) == ARCHIVE_OK) {
        const char *name = archive_entry_pathname(ent);
        mode_t type = archive_entry_filetype(ent);
        free(rel);
        free(dest);
        dest = NULL;
        if (!(rel = safe_name(name))) {
            rc = sl_error_set(err, SL_EPERM,
                              "%s: entry %s would be written outside the "
                              "workspace",
                              archive_path, name ? name : "(no name)");
            goto out;
        }
        if (archive_entry_hardlink(ent) ||
            !(type == AE_IFREG || type == AE_IFDIR || type == AE_IFLNK)) {
            rc = sl_error_set(err, SL_EPERM,
                              "%s: entry %s is not a file, directory or "
                              "symbolic link",
                              archive_path, name);
            goto out;
        }
        if (type == AE_IFLNK) {
            const char *target = archive_entry_symlink(ent);
            if (!target || !link_inside(rel, target)) {
                rc = sl_error_set(err, SL_EPERM,
                                  "%s: entry %s is a symbolic link to %s, "
                                  "outside the workspace",
                                  archive_path, name, target ? target : "(nothing)");
                goto out;
            }
        }
        if (++st.files > SL_ARTIFACTS_MAX_FILES) {
            rc = sl_error_set(err, SL_ELIMIT, "%s: more than %d entries", archive_path,
                              SL_ARTIFACTS_MAX_FILES);
            goto out;
        }
        if (type == AE_IFREG && archive_entry_size(ent) > cap - (int64_t)st.bytes) {
            rc = sl_error_set(err, SL_ELIMIT,
                              "%s: extracting would write more than the limit "
                              "of %lld bytes",
                              archive_path, (long long)cap);
            goto out;
        }
        dest = sl_xasprintf("%s/%s", root, rel);
        archive_entry_copy_pathname(ent, dest);
        archive_entry_set_perm(ent, archive_entry_perm(ent) & 0777);
        if (type == AE_IFDIR)
            archive_entry_set_perm(ent, (archive_entry_perm(ent) & 0777) | 0700);
        if (archive_write_header(disk, ent) != ARCHIVE_OK) {
            rc = la_fail(disk, err, SL_EPERM, rel);
            goto out;
        }
        if (type == AE_IFREG) {
            const void *buf;
            size_t n;
            la_int64_t off;
            while ((r = archive_read_data_block(a, &buf, &n, &off)) == ARCHIVE_OK) {
                if (archive_write_data_block(disk, buf, n, off) != ARCHIVE_OK) {
                    rc = la_fail(disk, err, SL_EIO, rel);
                    goto out;
                }
                st.bytes += n;
            }
            if (r != ARCHIVE_EOF) {
                rc = la_fail(a, err, SL_EINVAL, archive_path);
                goto out;
            }
        }
        if (archive_write_finish_entry(disk) != ARCHIVE_OK) {
            rc = la_fail(disk, err, SL_EIO, rel);
            goto out;
        }
    }
    if (r != ARCHIVE_EOF) {
        rc = la_fail(a, err, SL_EINVAL, archive_path);
        goto out;
    }
    if (archive_write_close(disk) != ARCHIVE_OK) {
        rc = la_fail(disk, err, SL_EIO, workspace);
        goto out;
    }
    if (stats)
        *stats = st;
out:
    if (a)
        archive_read_free(a);
    if (disk)
        archive_write_free(disk);
    free(root);
    free(rel);
    free(dest);
    return rc;
}

/* --- Job artifacts
 * ------------------------------------------------------------------- */

void sl_artifacts_meta_free(struct sl_artifacts_meta *meta)
{
    if (!meta)
        return;
    free(meta->name);
    free(meta->archive);
    strv_free(meta->paths, meta->npaths);
    strv_free(meta->warnings, meta->nwarnings);
    free(meta);
}

bool sl_artifacts_expired(const struct sl_artifacts_meta *meta, int64_t now_ms)
{
    if (meta->expire_in_s == SL_ARTIFACTS_EXPIRE_NEVER)
        return false;
    return now_ms >= meta->created_ms + meta->expire_in_s * 1000;
}

static json_t *strv_json(char **v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_string(v[i]));
    return a;
}

static int meta_write(const struct sl_artifacts_meta *m, const char *path, struct sl_error *err)
{
    char when[32];
    sl_time_iso8601(m->created_ms, when, sizeof(when));
    json_t *o = json_pack(
        "{s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:o, s:o}", "name", m->name, "archive", m->archive,
        "created_at", when, "created_ms", (json_int_t)m->created_ms, "files", (json_int_t)m->files,
        "bytes", (json_int_t)m->bytes, "archive_bytes", (json_int_t)m->archive_bytes, "paths",
        strv_json(m->paths, m->npaths), "warnings", strv_json(m->warnings, m->nwarnings));
    if (m->expire_in_s == SL_ARTIFACTS_EXPIRE_NEVER)
        json_object_set_new(o, "expire_in", json_string("never"));
    else
        json_object_set_new(o, "expire_in", json_integer(m->expire_in_s));
    char *text = json_dumps(o, JSON_INDENT(1) | JSON_SORT_KEYS);
    int rc = sl_fs_write_atomic(path, text, strlen(text), 0644, err);
    free(text);
    json_decref(o);
    return rc;
}

int sl_artifacts_meta_save(const struct sl_artifacts_meta *meta, const char *store_dir,
                           struct sl_error *err)
{
    char *json = sl_fs_join(store_dir, "artifacts.json");
    int rc = meta_write(meta, json, err);
    free(json);
    return rc;
}

static int strv_from_json(json_t *a, char ***out, size_t *n)
{
    if (!json_is_array(a))
        return -1;
    size_t k = json_array_size(a);
    char **v = sl_xcalloc(k + 1, sizeof(*v));
    for (size_t i = 0; i < k; i++) {
        const char *s = json_string_value(json_array_get(a, i));
        if (!s) {
            strv_free(v, i);
            return -1;
        }
        v[i] = sl_xstrdup(s);
    }
    *out = v;
    *n = k;
    return 0;
}

int sl_artifacts_meta_load(struct sl_artifacts_meta **out, const char *store_dir,
                           struct sl_error *err)
{
    char *path = sl_fs_join(store_dir, "artifacts.json");
    char *text = NULL;
    size_t len;
    json_t *o = NULL, *exp;
    json_error_t je;
    struct sl_artifacts_meta *m = sl_xcalloc(1, sizeof(*m));
    const char *name, *archive;
    json_int_t created, files, bytes, abytes;
    json_t *paths, *warnings;
    int rc = sl_fs_read_file(path, (size_t)1 << 30, &text, &len, err);

    if (rc < 0)
        goto out;
    if (!(o = json_loadb(text, len, 0, &je)) ||
        json_unpack(o, "{s:s, s:s, s:I, s:I, s:I, s:I, s:o, s:o, s:o}", "name", &name, "archive",
                    &archive, "created_ms", &created, "files", &files, "bytes", &bytes,
                    "archive_bytes", &abytes, "paths", &paths, "warnings", &warnings, "expire_in",
                    &exp) < 0 ||
        strv_from_json(paths, &m->paths, &m->npaths) < 0 ||
        strv_from_json(warnings, &m->warnings, &m->nwarnings) < 0) {
        rc = sl_error_set(err, SL_EINVAL, "%s: not an artifacts record", path);
        goto out;
    }
    m->name = sl_xstrdup(name);
    m->archive = sl_xstrdup(archive);
    m->created_ms = created;
    m->files = (size_t)files;
    m->bytes = (uint64_t)bytes;
    m->archive_bytes = (uint64_t)abytes;
    m->expire_in_s = json_is_integer(exp) ? json_integer_value(exp) : SL_ARTIFACTS_EXPIRE_NEVER;
    *out = m;
    m = NULL;
out:
    sl_artifacts_meta_free(m);
    json_decref(o);
    free(text);
    free(path);
    return rc;
}

int sl_artifacts_collect(struct sl_artifacts_meta **out, const char *workspace,
                         const struct sl_artifacts_spec *spec, const char *store_dir,
                         struct sl_error *err)
{
    struct sl_artifacts_list list = {0};
    struct sl_artifacts_pack_stats ps;
    struct sl_artifacts_meta *m = NULL;
    char *archive = NULL, *json = NULL, *dir = NULL;
    int rc;

    if ((rc = sl_artifacts_match(&list, workspace, &spec->select, err)) < 0)
        goto out;
    if ((rc = sl_fs_mkdir_p(store_dir, 0755, err)) < 0)
        goto out;
    if (!(dir = realpath(store_dir, NULL))) {
        rc = sl_error_set_errno(err, SL_EIO, "%s", store_dir);
        goto out;
    }
    archive = sl_fs_join(dir, "artifacts.tar.zst");
    json = sl_fs_join(dir, "artifacts.json");
    if (list.n == 0)
        warn(&list, "no files to upload");
    if ((rc = sl_artifacts_pack(workspace, &list, archive, spec->max_bytes, &ps, err)) < 0)
        goto out;
    m = sl_xcalloc(1, sizeof(*m));
    m->name = sl_xstrdup(spec->name && spec->name[0] ? spec->name : "artifacts");
    m->archive = archive;
    archive = NULL;
    m->created_ms = sl_time_now_ms();
    m->expire_in_s = spec->expire_in_s == 0  ? SL_ARTIFACTS_EXPIRE_DEFAULT
                     : spec->expire_in_s < 0 ? SL_ARTIFACTS_EXPIRE_NEVER
                                             : spec->expire_in_s;
    m->files = ps.files;
    m->bytes = ps.bytes;
    m->archive_bytes = ps.archive_bytes;
    m->paths = list.paths;
    m->npaths = list.n;
    m->warnings = list.warnings;
    m->nwarnings = list.nwarnings;
    list.paths = list.warnings = NULL;
    list.n = list.nwarnings = 0;
    if ((rc = meta_write(m, json, err)) < 0)
        goto out;
    *out = m;
    m = NULL;
out:
    sl_artifacts_meta_free(m);
    sl_artifacts_list_release(&list);
    free(archive);
    free(json);
    free(dir);
    return rc;
}

int sl_artifacts_restore(const char *store_dir, const char *workspace, struct sl_error *err)
{
    char *archive = sl_fs_join(store_dir, "artifacts.tar.zst");
    if (!sl_fs_exists(archive)) {
        /* uploaded by a runner over /api/v4: a zip, as gitlab-runner packs it */
        free(archive);
        archive = sl_fs_join(store_dir, "artifacts.zip");
    }
    int rc = sl_artifacts_extract(archive, workspace, 0, NULL, err);
    free(archive);
    return rc;
}

int sl_artifacts_to_zip(const char *archive_path, int out_fd, int64_t max_bytes,
                        struct sl_error *err)
{
    struct archive *in = archive_read_new(), *out = archive_write_new();
    struct archive_entry *ent;
    int64_t cap = max_bytes > 0 ? max_bytes : SL_ARTIFACTS_EXTRACT_MAX_BYTES, bytes = 0;
    size_t files = 0;
    const size_t bufsz = 1 << 16;
    char *buf = sl_xmalloc(bufsz);
    int rc = 0, r;

    archive_read_support_filter_zstd(in);
    archive_read_support_filter_none(in);
    archive_read_support_format_tar(in);
    if (archive_read_open_filename(in, archive_path, 1 << 16) != ARCHIVE_OK) {
        rc = la_fail(in, err, errno == ENOENT ? SL_ENOENT : SL_EINVAL, archive_path);
        goto out;
    }
    /* deflate, as gitlab-runner's own archiver writes them */
    if (archive_write_set_format_zip(out) != ARCHIVE_OK ||
        archive_write_set_options(out, "zip:compression=deflate") != ARCHIVE_OK ||
        archive_write_open_fd(out, out_fd) != ARCHIVE_OK) {
        rc = la_fail(out, err, SL_EIO, "zip");
        goto out;
    }
    while ((r = archive_read_next_header(in, &ent)) == ARCHIVE_OK) {
        mode_t type = archive_entry_filetype(ent);
        if (archive_entry_hardlink(ent) ||
            !(type == AE_IFREG || type == AE_IFDIR || type == AE_IFLNK))
            continue;
        if (++files > SL_ARTIFACTS_MAX_FILES) {
            rc = sl_error_set(err, SL_ELIMIT, "%s: more than %d entries", archive_path,
                              SL_ARTIFACTS_MAX_FILES);
            goto out;
        }
        if (type == AE_IFREG && archive_entry_size(ent) > cap - bytes) {
            rc = sl_error_set(err, SL_ELIMIT, "%s: more than %lld bytes", archive_path,
                              (long long)cap);
            goto out;
        }
        if (archive_write_header(out, ent) != ARCHIVE_OK) {
            rc = la_fail(out, err, SL_EIO, "zip");
            goto out;
        }
        la_ssize_t n = 0;
        while (type == AE_IFREG && (n = archive_read_data(in, buf, bufsz)) > 0) {
            if ((bytes += n) > cap) {
                rc = sl_error_set(err, SL_ELIMIT, "%s: more than %lld bytes", archive_path,
                                  (long long)cap);
                goto out;
            }
            if (archive_write_data(out, buf, (size_t)n) != n) {
                rc = la_fail(out, err, SL_EIO, "zip");
                goto out;
            }
        }
        if (type == AE_IFREG && n < 0) {
            rc = la_fail(in, err, SL_EINVAL, archive_path);
            goto out;
        }
    }
    if (r != ARCHIVE_EOF) {
        rc = la_fail(in, err, SL_EINVAL, archive_path);
        goto out;
    }
    if (archive_write_close(out) != ARCHIVE_OK)
        rc = la_fail(out, err, SL_EIO, "zip");
out:
    archive_read_free(in);
    archive_write_free(out);
    free(buf);
    return rc;
}
