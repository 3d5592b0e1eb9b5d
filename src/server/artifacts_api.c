/* artifacts_api.c: a job's artifacts archive browsed over the API: its entries, one file out
 * of it, the whole archive (GET /api/v1/jobs/{id}/artifacts/{artifact}/files|file|download).
 * The web UI's job page uses these, as any client may. A file is always a download
 * (Content-Disposition: attachment, octet-stream): an artifact is the job's output, never a
 * page of this origin. */
#include "base/compat.h"
#include "base/alloc.h"
#include "base/fs.h"
#include "exec/artifacts.h"
#include "server/internal.h"

#include <fcntl.h>
#include <microhttpd.h>
#include <sys/stat.h>
#include <unistd.h>

#define ENTRIES_MAX 10000 /* entries per listing */
#define PATH_MAX_LEN 4096 /* bytes of ?path= */

/* The archive file of artifact {key} of job {id} (caller frees), or NULL with the answer
 * given (404 for an unknown job or artifact). */
static char *artifact_file(struct req *r)
{
    struct sl_store_job j = {0};
    struct sl_store_artifact *as = NULL;
    size_t n = 0;
    struct sl_error err = SL_ERROR_INIT;
    char *file = NULL, *end;
    long long want = strtoll(r->key, &end, 10);
    int rc = sl_store_job_get(r->s->st, r->id, &j, &err);
    if (rc == 0)
        rc = sl_store_artifact_list(r->s->st, r->id, &as, &n, &err);
    if (rc < 0) {
        sl_reply_sl_error(r, rc, &err);
        goto out;
    }
    for (size_t i = 0; !*end && i < n; i++)
        if (as[i].id == want && !strstr(as[i].path, ".."))
            file = sl_fs_join(r->s->data_dir, as[i].path);
    if (!file)
        sl_reply_error(r, 404, "not_found", "job %lld has no artifact '%s'", (long long)r->id,
                       r->key);
out:
    sl_store_artifacts_free(as, n);
    sl_store_job_release(&j);
    sl_error_release(&err);
    return file;
}

void sl_h_job_artifact_files(struct req *r)
{
    struct sl_artifacts_entry *e = NULL;
    size_t n = 0;
    bool truncated = false;
    struct sl_error err = SL_ERROR_INIT;
    char *file = artifact_file(r);
    if (!file)
        return;
    int rc = sl_artifacts_entries(file, ENTRIES_MAX, &e, &n, &truncated, &err);
    if (rc == SL_ENOENT) {
        sl_reply_error(r, 404, "not_found", "the artifact's archive is gone (expired?)");
    } else if (rc < 0) {
        sl_reply_error(r, 500, "internal", "%s", sl_error_format(&err));
    } else {
        json_t *files = json_array();
        for (size_t i = 0; i < n; i++) {
            const char *type = e[i].type == 'f' ? "file" : e[i].type == 'd' ? "directory" : "link";
            json_array_append_new(files, json_pack("{s:s,s:s,s:I}", "path", e[i].path, "type", type,
                                                   "size", (json_int_t)e[i].size));
        }
        sl_reply_json(r, 200, json_pack("{s:o,s:b}", "files", files, "truncated", truncated));
    }
    sl_artifacts_entries_free(e, n);
    sl_error_release(&err);
    free(file);
}

/* A file name for Content-Disposition: the path's last part, with anything but letters,
 * digits, '.', '-' and '_' made '_' (no quote or control byte reaches the header). */
static void download_name(const char *path, char *out, size_t size)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t i = 0;
    for (; base[i] && i + 1 < size; i++) {
        unsigned char c = (unsigned char)base[i];
        out[i] = (char)((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                                (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_'
                            ? c
                            : '_');
    }
    out[i] = '\0';
    if (i == 0 || !strcmp(out, ".") || !strcmp(out, ".."))
        snprintf(out, size, "artifact");
}

static void answer_fd(struct req *r, int fd, uint64_t size, const char *type, const char *name)
{
    char cd[200];
    r->response = MHD_create_response_from_fd(size, fd);
    if (!r->response) {
        close(fd);
        sl_reply_error(r, 500, "internal", "cannot answer with the file");
        return;
    }
    MHD_add_response_header(r->response, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    snprintf(cd, sizeof(cd), "attachment; filename=\"%s\"", name);
    MHD_add_response_header(r->response, "Content-Disposition", cd);
    r->status = 200;
}

void sl_h_job_artifact_file(struct req *r)
{
    const char *path = sl_query_arg(r, "path");
    struct sl_error err = SL_ERROR_INIT;
    char *tmpdir = NULL, *tmp = NULL, *file = NULL;
    int fd = -1;
    int64_t size = 0;
    if (!path || !*path || strlen(path) > PATH_MAX_LEN) {
        sl_reply_error(r, 400, "invalid", "path must name a file of the archive (1 to %d bytes)",
                       PATH_MAX_LEN);
        return;
    }
    if (!(file = artifact_file(r)))
        return;
    /* the file goes through an unlinked temporary file: the answer streams it from there */
    tmpdir = sl_fs_join(r->s->data_dir, "tmp");
    tmp = sl_xasprintf("%s/artifact-XXXXXX", tmpdir);
    if (sl_fs_mkdir_p(tmpdir, 0700, &err) < 0 || (fd = mkostemp(tmp, O_CLOEXEC)) < 0) {
        sl_reply_error(r, 500, "internal", "cannot make a temporary file");
        goto out;
    }
    unlink(tmp);
    int rc = sl_artifacts_read_entry(file, path, fd, 0, &size, &err);
    if (rc == SL_ENOENT) {
        sl_reply_error(r, 404, "not_found", "%s", sl_error_format(&err));
    } else if (rc < 0) {
        sl_reply_error(r, rc == SL_ELIMIT ? 413 : 500, rc == SL_ELIMIT ? "too_large" : "internal",
                       "%s", sl_error_format(&err));
    } else if (lseek(fd, 0, SEEK_SET) < 0) {
        sl_reply_error(r, 500, "internal", "cannot read the file back");
    } else {
        char name[128];
        download_name(path, name, sizeof(name));
        answer_fd(r, fd, (uint64_t)size, "application/octet-stream", name);
        fd = -1; /* the response owns it */
    }
out:
    if (fd >= 0)
        close(fd);
    sl_error_release(&err);
    free(tmp);
    free(tmpdir);
    free(file);
}

void sl_h_job_artifact_download(struct req *r)
{
    struct stat st;
    char *file = artifact_file(r);
    if (!file)
        return;
    int fd = open(file, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        if (fd >= 0)
            close(fd);
        sl_reply_error(r, 404, "not_found", "the artifact's archive is gone (expired?)");
    } else {
        /* as stored: the built-in workers' tar.zst, or the zip a runner uploaded */
        bool zip = sl_ends_with(file, ".zip");
        answer_fd(r, fd, (uint64_t)st.st_size, zip ? "application/zip" : "application/zstd",
                  zip ? "artifacts.zip" : "artifacts.tar.zst");
    }
    free(file);
}
