/* artifacts_browse.c: what is inside a job's artifacts archive, and one file out of it, for
 * the HTTP API's artifact browser (the archive stays as stored; nothing is extracted to
 * disk but the one file asked for). */
#include "base/compat.h"
#include "base/alloc.h"
#include "exec/artifacts.h"

#include <archive.h>
#include <archive_entry.h>
#include <unistd.h>

static struct archive *open_archive(const char *archive_path, struct sl_error *err, int *rc)
{
    struct archive *in = archive_read_new();
    archive_read_support_filter_zstd(in);
    archive_read_support_filter_none(in);
    archive_read_support_format_tar(in);
    archive_read_support_format_zip(in); /* uploaded by gitlab-runner over /api/v4 */
    if (archive_read_open_filename(in, archive_path, 1 << 16) != ARCHIVE_OK) {
        *rc = sl_error_set(err, errno == ENOENT ? SL_ENOENT : SL_EINVAL, "%s: %s", archive_path,
                           archive_error_string(in) ? archive_error_string(in) : "cannot open");
        archive_read_free(in);
        return NULL;
    }
    *rc = 0;
    return in;
}

/* The entry's path as a user names it: without a leading "./" or "/". */
static const char *entry_path(struct archive_entry *ent)
{
    const char *p = archive_entry_pathname(ent);
    if (!p)
        return "";
    while (p[0] == '.' && p[1] == '/')
        p += 2;
    while (*p == '/')
        p++;
    return p;
}

int sl_artifacts_entries(const char *archive_path, size_t max, struct sl_artifacts_entry **out,
                         size_t *n, bool *truncated, struct sl_error *err)
{
    int rc, r;
    struct archive_entry *ent;
    struct sl_artifacts_entry *list = NULL;
    size_t len = 0, cap = 0;
    *out = NULL;
    *n = 0;
    *truncated = false;
    struct archive *in = open_archive(archive_path, err, &rc);
    if (!in)
        return rc;
    while ((r = archive_read_next_header(in, &ent)) == ARCHIVE_OK) {
        mode_t type = archive_entry_filetype(ent);
        const char *p = entry_path(ent);
        if (!*p || !(type == AE_IFREG || type == AE_IFDIR || type == AE_IFLNK))
            continue;
        if (len == max) {
            *truncated = true;
            break;
        }
        if (len == cap) {
            cap = cap ? cap * 2 : 64;
            list = sl_xrealloc(list, cap * sizeof(*list));
        }
        list[len++] = (struct sl_artifacts_entry){
            .path = sl_xstrdup(p),
            .size = type == AE_IFREG ? (int64_t)archive_entry_size(ent) : 0,
            .type = type == AE_IFREG   ? 'f'
                    : type == AE_IFDIR ? 'd'
                                       : 'l',
        };
    }
    if (r != ARCHIVE_OK && r != ARCHIVE_EOF)
        rc = sl_error_set(err, SL_EINVAL, "%s: %s", archive_path,
                          archive_error_string(in) ? archive_error_string(in) : "corrupt");
    archive_read_free(in);
    if (rc < 0) {
        sl_artifacts_entries_free(list, len);
        return rc;
    }
    *out = list;
    *n = len;
    return 0;
}

void sl_artifacts_entries_free(struct sl_artifacts_entry *e, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(e[i].path);
    free(e);
}

int sl_artifacts_read_entry(const char *archive_path, const char *path, int out_fd,
                            int64_t max_bytes, int64_t *size_out, struct sl_error *err)
{
    int rc, r;
    struct archive_entry *ent;
    int64_t cap = max_bytes > 0 ? max_bytes : SL_ARTIFACTS_EXTRACT_MAX_BYTES, bytes = 0;
    struct archive *in = open_archive(archive_path, err, &rc);
    if (!in)
        return rc;
    while ((r = archive_read_next_header(in, &ent)) == ARCHIVE_OK) {
        if (archive_entry_filetype(ent) != AE_IFREG || strcmp(entry_path(ent), path) != 0)
            continue;
        char buf[1 << 15];
        la_ssize_t got;
        while ((got = archive_read_data(in, buf, sizeof(buf))) > 0) {
            if ((bytes += got) > cap) {
                rc = sl_error_set(err, SL_ELIMIT, "%s: larger than %lld bytes", path,
                                  (long long)cap);
                goto out;
            }
            for (la_ssize_t off = 0; off < got;) {
                ssize_t w = write(out_fd, buf + off, (size_t)(got - off));
                if (w < 0) {
                    rc = sl_error_set_errno(err, SL_EIO, "writing %s", path);
                    goto out;
                }
                off += w;
            }
        }
        if (got < 0)
            rc = sl_error_set(err, SL_EINVAL, "%s: %s", archive_path,
                              archive_error_string(in) ? archive_error_string(in) : "corrupt");
        else if (size_out)
            *size_out = bytes;
        goto out;
    }
    if (r == ARCHIVE_EOF)
        rc = sl_error_set(err, SL_ENOENT, "no file %s in the artifacts", path);
    else
        rc = sl_error_set(err, SL_EINVAL, "%s: %s", archive_path,
                          archive_error_string(in) ? archive_error_string(in) : "corrupt");
out:
    archive_read_free(in);
    return rc;
}
