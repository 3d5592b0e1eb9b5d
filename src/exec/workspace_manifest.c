/* workspace_manifest.c: the record a reused workspace keeps of its last prepare
 * (workspace_int.h). A text file, one line per copied path; the path comes last with its
 * length first, so any byte (a newline, a space) may be in it. A record that does not
 * parse, or lacks its closing count, is treated as absent: the workspace is then copied
 * afresh, never trusted half-read. */
#include "base/compat.h"
#include "exec/workspace_int.h"
#include "base/alloc.h"
#include "base/fs.h"
#include "base/str.h"

#include <fcntl.h>
#include <unistd.h>

#define MAGIC "sluice-workspace 1\n"

void sl_ws_stat_from(struct ws_stat *out, const struct stat *st)
{
    out->dev = (uint64_t)st->st_dev;
    out->ino = (uint64_t)st->st_ino;
    out->size = (uint64_t)st->st_size;
    out->mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
    out->ctime_ns = (int64_t)st->st_ctim.tv_sec * 1000000000 + st->st_ctim.tv_nsec;
    out->mode = (uint32_t)st->st_mode;
}

bool sl_ws_stat_same(const struct ws_stat *a, const struct ws_stat *b)
{
    return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
           a->mtime_ns == b->mtime_ns && a->ctime_ns == b->ctime_ns && a->mode == b->mode;
}

void sl_ws_manifest_init(struct ws_manifest *m)
{
    memset(m, 0, sizeof(*m));
    snprintf(m->head, sizeof(m->head), "-");
}

void sl_ws_manifest_release(struct ws_manifest *m)
{
    size_t it = 0;
    const char *k;
    void *v;
    while (sl_map_next(&m->entries, &it, &k, &v))
        free(v);
    sl_map_release(&m->entries);
}

void sl_ws_manifest_put(struct ws_manifest *m, const char *path, const struct ws_stat *src,
                        const struct ws_stat *dst)
{
    struct ws_entry *e = sl_xmalloc(sizeof(*e));
    e->src = *src;
    e->dst = *dst;
    free(sl_map_put(&m->entries, path, e));
}

static void add_stat(struct sl_str *s, const struct ws_stat *st)
{
    sl_str_addf(s, " %llu %llu %llu %lld %lld %o", (unsigned long long)st->dev,
                (unsigned long long)st->ino, (unsigned long long)st->size, (long long)st->mtime_ns,
                (long long)st->ctime_ns, (unsigned)st->mode);
}

static bool parse_stat(const char **p, const char *end, struct ws_stat *st)
{
    unsigned long long dev, ino, size;
    long long mt, ct;
    unsigned mode;
    int used = 0;
    /* the buffer is NUL-terminated (sl_fs_read_file), so sscanf cannot run past it */
    if (sscanf(*p, " %llu %llu %llu %lld %lld %o%n", &dev, &ino, &size, &mt, &ct, &mode, &used) !=
            6 ||
        *p + used > end)
        return false;
    *p += used;
    *st = (struct ws_stat){dev, ino, size, mt, ct, mode};
    return true;
}

static void serialise(const struct ws_manifest *m, struct sl_str *out)
{
    size_t it = 0, n = 0;
    const char *k;
    void *v;

    sl_str_adds(out, MAGIC);
    sl_str_addf(out, "head %s\nindex", m->head);
    add_stat(out, &m->index);
    sl_str_addc(out, '\n');
    while (sl_map_next(&m->entries, &it, &k, &v)) {
        const struct ws_entry *e = v;
        sl_str_adds(out, "f");
        add_stat(out, &e->src);
        add_stat(out, &e->dst);
        sl_str_addf(out, " %zu ", strlen(k));
        sl_str_adds(out, k);
        sl_str_addc(out, '\n');
        n++;
    }
    sl_str_addf(out, "end %zu\n", n);
}

int sl_ws_manifest_load(struct ws_manifest *m, const char *path)
{
    char *buf = NULL;
    size_t len = 0, n = 0;
    int rc = -1;

    if (sl_fs_read_file(path, WS_MANIFEST_MAX, &buf, &len, NULL) < 0)
        return -1;
    const char *p = buf, *end = buf + len;
    if (!sl_starts_with(p, MAGIC))
        goto out;
    p += strlen(MAGIC);
    int used = 0;
    if (sscanf(p, "head %47s%n", m->head, &used) != 1 || p[used] != '\n')
        goto out;
    p += used + 1;
    if (!sl_starts_with(p, "index"))
        goto out;
    p += 5;
    if (!parse_stat(&p, end, &m->index) || *p++ != '\n')
        goto out;
    while (p < end && *p == 'f') {
        struct ws_stat src, dst;
        size_t plen;
        p++;
        if (!parse_stat(&p, end, &src) || !parse_stat(&p, end, &dst))
            goto out;
        if (sscanf(p, " %zu %n", &plen, &used) != 1)
            goto out;
        p += used;
        if (plen == 0 || plen > (size_t)(end - p) - 1 || p[plen] != '\n' || memchr(p, '\0', plen))
            goto out;
        char *rel = sl_xstrndup(p, plen);
        sl_ws_manifest_put(m, rel, &src, &dst);
        free(rel);
        p += plen + 1;
        n++;
    }
    size_t count;
    if (sscanf(p, "end %zu%n", &count, &used) != 1 || count != n || p + used + 1 != end)
        goto out;
    rc = 0;
out:
    free(buf);
    return rc;
}

int sl_ws_manifest_save(const struct ws_manifest *m, const char *path, struct sl_error *err)
{
    struct sl_str s = SL_STR_INIT;
    char *old = NULL;
    size_t oldlen = 0;
    int rc = 0, fd = -1;

    serialise(m, &s);
    if (sl_fs_read_file(path, WS_MANIFEST_MAX, &old, &oldlen, NULL) == 0 && oldlen == s.len &&
        memcmp(old, s.buf, s.len) == 0)
        goto out;
    /* in place, not by rename: a new inode per job is what this file exists to avoid; a
     * torn write fails the closing count and costs one fresh copy */
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0) {
        rc = sl_error_set_errno(err, SL_EIO, "cannot write %s", path);
        goto out;
    }
    for (size_t off = 0; off < s.len;) {
        ssize_t w = write(fd, s.buf + off, s.len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            rc = sl_error_set_errno(err, SL_EIO, "cannot write %s", path);
            goto out;
        }
        off += (size_t)w;
    }
out:
    if (fd >= 0 && close(fd) < 0 && rc == 0)
        rc = sl_error_set_errno(err, SL_EIO, "cannot write %s", path);
    free(old);
    sl_str_release(&s);
    return rc;
}
