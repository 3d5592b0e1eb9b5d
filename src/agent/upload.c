/* upload.c: a job's artifacts, packed as gitlab-runner packs them and uploaded
 * (POST /api/v4/jobs/{id}/artifacts, multipart field `file`).
 *
 * Formats (artifact_format): zip for the archive (paths kept, symbolic links as links,
 * file modes kept), gzip for reports (each file a gzip member, concatenated, as the
 * runner's gzip format), raw for a single file sent as it is. Files are chosen with exec's
 * artifacts rules (artifacts.h: globs, exclude, untracked, nothing outside the
 * workspace). */
#include "base/compat.h"
#include "agent/http.h"
#include "agent/internal.h"
#include "base/alloc.h"
#include "base/fs.h"
#include "base/str.h"
#include "exec/artifacts.h"

#include <archive.h>
#include <archive_entry.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

static int pack_zip(const char *ws, const struct sl_artifacts_list *l, const char *out,
                    struct sl_error *err)
{
    struct archive *a = archive_write_new();
    struct archive_entry *e = archive_entry_new();
    char buf[65536];
    int rc = 0;

    if (archive_write_set_format_zip(a) != ARCHIVE_OK ||
        archive_write_open_filename(a, out) != ARCHIVE_OK) {
        rc = sl_error_set(err, SL_EIO, "zip %s: %s", out, archive_error_string(a));
        goto out;
    }
    for (size_t i = 0; i < l->n && rc == 0; i++) {
        char *path = sl_fs_join(ws, l->paths[i]);
        struct stat st;
        int fd = -1;
        if (lstat(path, &st) < 0) { /* vanished since the selection */
            free(path);
            continue;
        }
        archive_entry_clear(e);
        archive_entry_set_pathname(e, l->paths[i]);
        archive_entry_set_mode(e, st.st_mode & (S_IFMT | 0777));
        archive_entry_set_mtime(e, st.st_mtime, 0);
        if (S_ISLNK(st.st_mode)) {
            ssize_t n = readlink(path, buf, sizeof(buf) - 1);
            buf[n > 0 ? n : 0] = '\0';
            archive_entry_set_symlink(e, buf);
            archive_entry_set_size(e, 0);
        } else {
            archive_entry_set_size(e, st.st_size);
            fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        }
        if (archive_write_header(a, e) != ARCHIVE_OK) {
            rc = sl_error_set(err, SL_EIO, "zip %s: %s", l->paths[i], archive_error_string(a));
        } else if (fd >= 0) {
            ssize_t n;
            while ((n = read(fd, buf, sizeof(buf))) > 0)
                if (archive_write_data(a, buf, (size_t)n) < 0) {
                    rc = sl_error_set(err, SL_EIO, "zip: %s", archive_error_string(a));
                    break;
                }
        }
        if (fd >= 0)
            close(fd);
        free(path);
    }
    if (archive_write_close(a) != ARCHIVE_OK && rc == 0)
        rc = sl_error_set(err, SL_EIO, "zip %s: %s", out, archive_error_string(a));
out:
    archive_entry_free(e);
    archive_write_free(a);
    return rc;
}

static int pack_gzip(const char *ws, const struct sl_artifacts_list *l, const char *out,
                     struct sl_error *err)
{
    char buf[65536];
    int rc = 0;
    unlink(out);
    for (size_t i = 0; i < l->n && rc == 0; i++) {
        char *path = sl_fs_join(ws, l->paths[i]);
        int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        gzFile g = fd >= 0 ? gzopen(out, "ab") : NULL;
        ssize_t n;
        if (fd >= 0 && !g)
            rc = sl_error_set_errno(err, SL_EIO, "%s", out);
        while (g && (n = read(fd, buf, sizeof(buf))) > 0)
            if (gzwrite(g, buf, (unsigned)n) != (int)n) {
                rc = sl_error_set(err, SL_EIO, "gzip %s", out);
                break;
            }
        if (g)
            gzclose(g);
        if (fd >= 0)
            close(fd);
        free(path);
    }
    return rc;
}

static int pack(const struct sl_agent_upload *u, const char *ws, const struct sl_artifacts_list *l,
                const char *out, const char **upload_path, struct sl_error *err)
{
    *upload_path = out;
    if (!strcmp(u->format, "gzip"))
        return pack_gzip(ws, l, out, err);
    if (!strcmp(u->format, "raw")) {
        /* one file, sent as it is: the path is the workspace's own file */
        static __thread char path[4096];
        snprintf(path, sizeof(path), "%s/%s", ws, l->paths[0]);
        *upload_path = path;
        return 0;
    }
    return pack_zip(ws, l, out, err);
}

static long post(struct sl_agent *a, const struct sl_agent_job *job,
                 const struct sl_agent_upload *u, const char *file, const char *name)
{
    char *q_type = curl_easy_escape(NULL, u->type, 0);
    char *q_fmt = curl_easy_escape(NULL, u->format, 0);
    char *q_exp = u->expire_in ? curl_easy_escape(NULL, u->expire_in, 0) : NULL;
    char *url = sl_xasprintf("%s/jobs/%lld/artifacts?artifact_format=%s&artifact_type=%s%s%s",
                             a->base, (long long)job->id, q_fmt, q_type, q_exp ? "&expire_in=" : "",
                             q_exp ? q_exp : "");
    char *hdr = sl_xasprintf("JOB-TOKEN: %s", job->token);
    const char *hdrs[] = {hdr, NULL};
    struct sl_agent_http_req req = {.method = "POST",
                                    .url = url,
                                    .headers = hdrs,
                                    .upload_path = file,
                                    .upload_name = name,
                                    .timeout_s = 600};
    long status = 0;
    int64_t delay = 1000;
    for (int attempt = 0; attempt < 5; attempt++) {
        struct sl_agent_http_resp r;
        if (sl_agent_http(&req, &r, NULL) == 0) {
            status = r.status;
            sl_agent_http_resp_release(&r);
            if (status < 500)
                break;
        }
        usleep((useconds_t)delay * 1000);
        delay = sl_agent_backoff(delay);
    }
    curl_free(q_type);
    curl_free(q_fmt);
    curl_free(q_exp);
    free(url);
    free(hdr);
    return status;
}

static bool due(enum sl_job_artifacts_when when, bool success)
{
    return when == SL_JOB_ARTIFACTS_ALWAYS || (when == SL_JOB_ARTIFACTS_ON_SUCCESS) == success;
}

bool sl_agent_upload_artifacts(struct sl_agent *a, const struct sl_agent_job *job,
                               const char *workspace, const char *tmp_dir, bool success,
                               agent_say_fn say, void *ctx)
{
    bool ok = true;
    for (size_t i = 0; i < job->nuploads; i++) {
        const struct sl_agent_upload *u = &job->uploads[i];
        struct sl_artifacts_list l;
        struct sl_error err = SL_ERROR_INIT;
        const char *file = NULL;
        if (!due(u->when, success))
            continue;
        say(ctx, "Uploading artifacts for %s job", success ? "successful" : "failed");
        if (sl_artifacts_match(&l, workspace, &u->select, &err) < 0) {
            say(ctx, "ERROR: Uploading artifacts as \"%s\": %s", u->type, sl_error_format(&err));
            sl_error_release(&err);
            ok = false;
            continue;
        }
        for (size_t w = 0; w < l.nwarnings; w++)
            say(ctx, "WARNING: %s", l.warnings[w]);
        if (l.n == 0) {
            say(ctx, "WARNING: No files to upload");
            sl_artifacts_list_release(&l);
            continue;
        }
        char *out = sl_xasprintf("%s/upload-%zu", tmp_dir, i);
        const char *ext = !strcmp(u->format, "gzip")  ? ".gz"
                          : !strcmp(u->format, "raw") ? ""
                                                      : ".zip";
        char *name = sl_xasprintf("%s%s", u->name && *u->name ? u->name : u->type, ext);
        if (pack(u, workspace, &l, out, &file, &err) < 0) {
            say(ctx, "ERROR: Uploading artifacts as \"%s\": %s", u->type, sl_error_format(&err));
            sl_error_release(&err);
            ok = false;
        } else {
            long st = post(a, job, u, file, name);
            say(ctx,
                "Uploading artifacts as \"%s\" to coordinator... %s  id=%lld "
                "responseStatus=%ld",
                u->type, st == 201 ? "201 Created" : "failed", (long long)job->id, st);
            if (st != 201)
                ok = false;
        }
        unlink(out);
        free(out);
        free(name);
        sl_artifacts_list_release(&l);
    }
    return ok;
}
