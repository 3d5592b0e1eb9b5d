/* upload.c: multipart/form-data request bodies streamed to a temporary file instead of
 * memory, for the one route whose bodies outgrow SRV_BODY_MAX: a runner's artifacts
 * upload (POST /api/v4/jobs/{id}/artifacts, the `file` field; gitlab-runner's
 * network/gitlab.go sends it so). MHD's post processor parses the parts; the file field
 * goes to DATA/tmp, every other field is kept small in memory. */
#include "base/compat.h"
#include "base/alloc.h"
#include "base/fs.h"
#include "exec/artifacts.h"
#include "server/upload.h"

#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <unistd.h>

#define FIELD_MAX 256 /* a form field other than the file (token, artifact_type, ...) */
#define FIELDS_MAX 8

struct srv_upload {
    struct MHD_PostProcessor *pp;
    char *path; /* the temporary file; NULL once taken */
    int fd;
    int64_t bytes;
    bool over;   /* past SL_ARTIFACTS_MAX_BYTES: the rest is dropped */
    bool failed; /* a write failed or the body did not parse */
    bool has_file;
    struct {
        char name[32];
        char value[FIELD_MAX + 1];
    } fields[FIELDS_MAX];
    int nfields;
};

bool sl_srv_upload_route(const char *method, const char *url)
{
    const char *p = "/api/v4/jobs/";
    if (strcmp(method, "POST") != 0 || strncmp(url, p, strlen(p)) != 0)
        return false;
    url += strlen(p);
    size_t digits = strspn(url, "0123456789");
    return digits > 0 && digits < 20 && !strcmp(url + digits, "/artifacts");
}

static enum MHD_Result on_part(void *cls, enum MHD_ValueKind kind, const char *key,
                               const char *filename, const char *content_type,
                               const char *transfer_encoding, const char *data, uint64_t off,
                               size_t size)
{
    (void)kind, (void)filename, (void)content_type, (void)transfer_encoding;
    struct srv_upload *u = cls;
    if (!key)
        return MHD_YES;
    if (!strcmp(key, "file")) {
        u->has_file = true;
        if (u->over || u->failed)
            return MHD_YES;
        if (u->bytes + (int64_t)size > SL_ARTIFACTS_MAX_BYTES) {
            u->over = true;
            return MHD_YES;
        }
        for (size_t done = 0; done < size;) {
            ssize_t w = write(u->fd, data + done, size - done);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0) {
                u->failed = true;
                return MHD_YES;
            }
            done += (size_t)w;
        }
        u->bytes += (int64_t)size;
        return MHD_YES;
    }
    /* a small field, possibly in several pieces: OFF says where this one goes */
    int i;
    for (i = 0; i < u->nfields && strcmp(u->fields[i].name, key) != 0; i++)
        ;
    if (i == u->nfields) {
        if (u->nfields == FIELDS_MAX || strlen(key) >= sizeof(u->fields[0].name))
            return MHD_YES; /* ignored: no route reads it */
        snprintf(u->fields[i].name, sizeof(u->fields[i].name), "%s", key);
        u->nfields++;
    }
    if (off + size > FIELD_MAX) {
        u->failed = true;
        return MHD_YES;
    }
    memcpy(u->fields[i].value + off, data, size);
    u->fields[i].value[off + size] = '\0';
    return MHD_YES;
}

int sl_srv_upload_new(struct srv_upload **out, const char *data_dir, struct MHD_Connection *conn,
                      struct sl_error *err)
{
    struct srv_upload *u = sl_xcalloc(1, sizeof(*u));
    char *dir = sl_fs_join(data_dir, "tmp");
    int rc = 0;
    u->fd = -1;
    u->pp = MHD_create_post_processor(conn, 64 * 1024, on_part, u);
    if (!u->pp) {
        rc = sl_error_set(err, SL_EINVAL, "the body must be multipart/form-data");
        goto out;
    }
    if ((rc = sl_fs_mkdir_p(dir, 0700, err)) < 0)
        goto out;
    u->path = sl_xasprintf("%s/upload-XXXXXX", dir);
    if ((u->fd = mkostemp(u->path, O_CLOEXEC)) < 0) {
        rc = sl_error_set_errno(err, SL_EIO, "%s", u->path);
        free(u->path);
        u->path = NULL;
        goto out;
    }
    *out = u;
    u = NULL;
out:
    sl_srv_upload_free(u);
    free(dir);
    return rc;
}

void sl_srv_upload_feed(struct srv_upload *u, const char *data, size_t len)
{
    if (!u->failed && MHD_post_process(u->pp, data, len) != MHD_YES)
        u->failed = true;
}

const char *sl_srv_upload_field(const struct srv_upload *u, const char *name)
{
    for (int i = 0; u && i < u->nfields; i++)
        if (!strcmp(u->fields[i].name, name))
            return u->fields[i].value;
    return NULL;
}

int sl_srv_upload_file(struct srv_upload *u, const char **path, int64_t *bytes)
{
    if (!u || u->failed)
        return SL_EINVAL;
    if (u->over)
        return SL_ELIMIT;
    if (!u->has_file || !u->path)
        return SL_ENOENT;
    if (u->fd >= 0) {
        close(u->fd);
        u->fd = -1;
    }
    *path = u->path;
    *bytes = u->bytes;
    return 0;
}

char *sl_srv_upload_take(struct srv_upload *u)
{
    char *p = u->path;
    u->path = NULL;
    return p;
}

void sl_srv_upload_free(struct srv_upload *u)
{
    if (!u)
        return;
    if (u->pp)
        MHD_destroy_post_processor(u->pp);
    if (u->fd >= 0)
        close(u->fd);
    if (u->path)
        unlink(u->path);
    free(u->path);
    free(u);
}
