/* runner_artifacts.c: a runner's artifacts over GitLab's runner API.
 *
 * POST /api/v4/jobs/{id}/artifacts (multipart `file`, streamed to disk by upload.c) with
 * the job's token (JOB-TOKEN header, or the `token` field or query argument, as GitLab
 * takes it) and `artifact_type` / `artifact_format` / `expire_in` as query arguments or
 * fields (gitlab-runner sends them in the query):
 *   archive (zip)         kept where the built-in workers keep a job's artifacts
 *                         (DATA/pipelines/P/jobs/ID/artifacts, with its artifacts.json), so any
 *                         later job gets them whoever runs it, and recorded as the job's
 *                         artifact row;
 *   dotenv, junit (gzip, or raw)  parsed into the job's stored reports, as a built-in worker
 *                         records them: later jobs get the dotenv variables, the pipeline's
 *                         test report counts the JUnit cases.
 * Answers as GitLab: 201, 400 (no file, bad type or format, unparsable report), 403 (a
 * token that is not this running job's), 413 (over the artifact cap).
 *
 * GET /api/v4/jobs/{id}/artifacts: the archive of job {id}, for the JOB-TOKEN of a running
 * job of the same project (GitLab lets any job of the project fetch them), except across
 * the edge of a fork's pipeline (may_read). */
#include "base/compat.h"
#include "base/alloc.h"
#include "base/fs.h"
#include "base/log.h"
#include "base/time.h"
#include "exec/artifacts.h"
#include "server/runner.h"
#include "server/upload.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <microhttpd.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

/* A query argument, else the form field of the same name. */
static const char *arg(struct req *r, const char *name)
{
    const char *v = sl_query_arg(r, name);
    return v ? v : sl_srv_upload_field(r->upload, name);
}

/* The members of the gzip stream at PATH, each inflated and handed to EACH (gitlab-runner's
 * gzip format: one member per file). A raw FORMAT is one member as it is. Each member is
 * capped at MAX bytes. */
static int each_member(const char *path, const char *format, size_t max,
                       int (*each)(void *ctx, const char *data, size_t len, struct sl_error *err),
                       void *ctx, struct sl_error *err)
{
    char *raw = NULL;
    size_t rawlen = 0;
    struct sl_str out = SL_STR_INIT;
    z_stream z;
    bool zinit = false;
    size_t members = 0;
    int rc;
    if (!strcmp(format, "raw")) {
        if ((rc = sl_fs_read_file(path, max, &raw, &rawlen, err)) < 0)
            goto out;
        rc = each(ctx, raw, rawlen, err);
        goto out;
    }
    /* the compressed file is at most as large as what it may hold, plus gzip's framing */
    if ((rc = sl_fs_read_file(path, max + (max >> 3) + 4096, &raw, &rawlen, err)) < 0)
        goto out;
    memset(&z, 0, sizeof(z));
    if (inflateInit2(&z, 15 + 16) != Z_OK) {
        rc = sl_error_set(err, SL_EIO, "cannot start inflating");
        goto out;
    }
    zinit = true;
    z.next_in = (Bytef *)raw;
    z.avail_in = (uInt)rawlen;
    while (z.avail_in > 0) {
        char buf[16384];
        z.next_out = (Bytef *)buf;
        z.avail_out = sizeof(buf);
        int zr = inflate(&z, Z_NO_FLUSH);
        if (zr != Z_OK && zr != Z_STREAM_END) {
            rc = sl_error_set(err, SL_EINVAL, "the report is not gzip: %s",
                              z.msg ? z.msg : "corrupt");
            goto out;
        }
        sl_str_add(&out, buf, sizeof(buf) - z.avail_out);
        if (out.len > max) {
            rc = sl_error_set(err, SL_ELIMIT, "a report file is over %zu bytes", max);
            goto out;
        }
        if (zr == Z_STREAM_END) {
            if ((rc = each(ctx, out.buf ? out.buf : "", out.len, err)) < 0)
                goto out;
            sl_str_reset(&out);
            inflateReset(&z);
            members++;
        }
    }
    if (out.len || members == 0 || z.avail_in > 0) {
        rc = sl_error_set(err, SL_EINVAL, "the report's gzip stream is truncated");
        goto out;
    }
    rc = 0;
out:
    if (zinit)
        inflateEnd(&z);
    sl_str_release(&out);
    free(raw);
    return rc;
}

static int dotenv_member(void *ctx, const char *data, size_t len, struct sl_error *err)
{
    struct sl_dotenv *env = ctx, one = SL_DOTENV_INIT;
    int rc = sl_reports_dotenv_parse(&one, data, len, err);
    if (rc < 0)
        return rc;
    /* several files: later ones win, as the runner's concatenation would */
    sl_dotenv_release(env);
    *env = one;
    return 0;
}

static int junit_member(void *ctx, const char *data, size_t len, struct sl_error *err)
{
    return sl_reports_junit_parse(ctx, data, len, "junit report", err);
}

/* Stores one report into the job's row, keeping the other kind it may already have. */
static int report_store(struct sl_server *s, const struct sl_store_job *job, const char *dotenv,
                        const char *junit, struct sl_error *err)
{
    struct sl_store_job_report *reps = NULL;
    size_t n = 0;
    int rc = sl_store_job_reports_by_pipeline(s->st, job->pipeline_id, &reps, &n, err);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < n; i++) {
        if (reps[i].job_id != job->id)
            continue;
        if (!dotenv && reps[i].dotenv)
            dotenv = reps[i].dotenv;
        if (!junit && reps[i].junit)
            junit = reps[i].junit;
    }
    rc = sl_store_job_report_set(s->st, job->id, dotenv, junit, err);
    sl_store_job_reports_free(reps, n);
    return rc;
}

static int save_report(struct sl_server *s, const struct sl_store_job *job, const char *type,
                       const char *format, const char *path, struct sl_error *err)
{
    char *text = NULL;
    int rc;
    if (!strcmp(type, "dotenv")) {
        struct sl_dotenv env = SL_DOTENV_INIT;
        if ((rc = each_member(path, format, SL_DOTENV_MAX_BYTES, dotenv_member, &env, err)) == 0) {
            text = sl_srv_dotenv_json(&env);
            rc = report_store(s, job, text ? text : "[]", NULL, err);
        }
        sl_dotenv_release(&env);
    } else {
        struct sl_junit_counts c = {0};
        if ((rc = each_member(path, format, SL_JUNIT_MAX_BYTES, junit_member, &c, err)) == 0) {
            text = sl_srv_junit_json(&c);
            rc = report_store(s, job, NULL, text, err);
        }
    }
    free(text);
    return rc;
}

/* Moves the uploaded zip into the job's artifacts directory and records it. */
static int save_archive(struct sl_server *s, const struct sl_store_job *job, struct req *r,
                        int64_t bytes, int64_t expire_in_s, struct sl_error *err)
{
    char *dir = sl_srv_artifacts_dir(s, job->pipeline_id, job->id);
    char *zip = sl_fs_join(dir, "artifacts.zip");
    char *old = sl_fs_join(dir, "artifacts.tar.zst");
    char *tmp = NULL;
    int rc;
    /* the job may have been deleted with its project since it was checked: then nothing of
     * it is written again (as for any job that is gone: 403) */
    if (!sl_srv_job_files_begin(s, job->id)) {
        free(old);
        free(zip);
        free(dir);
        return SL_EPERM;
    }
    if ((rc = sl_fs_mkdir_p(dir, 0755, err)) < 0)
        goto out;
    tmp = sl_srv_upload_take(r->upload);
    if (rename(tmp, zip) < 0) {
        rc = sl_error_set_errno(err, SL_EIO, "%s", zip);
        unlink(tmp);
        goto out;
    }
    unlink(old); /* a built-in worker's of this job, had one packed it before */
    struct sl_artifacts_meta m = {0};
    m.name = (char *)"artifacts";
    m.archive = zip;
    m.created_ms = sl_time_now_ms();
    m.expire_in_s = expire_in_s;
    m.archive_bytes = (uint64_t)bytes;
    if ((rc = sl_artifacts_meta_save(&m, dir, err)) < 0)
        goto out;
    struct sl_store_artifact a = {0};
    a.job_id = job->id;
    a.name = m.name;
    a.path = zip + strlen(s->data_dir) + 1;
    a.size = bytes;
    a.created_at = m.created_ms;
    if (expire_in_s > 0)
        a.expire_at = a.created_at + expire_in_s * 1000;
    rc = sl_store_artifact_add(s->st, &a, NULL, err);
out:
    sl_srv_job_files_end();
    free(tmp);
    free(old);
    free(zip);
    free(dir);
    return rc;
}

static const char *const report_types[] = {"archive", "dotenv", "junit"};

void sl_h_v4_job_artifacts_upload(struct req *r)
{
    struct sl_server *s = r->s;
    struct sl_store_job job = {0};
    struct sl_error err = SL_ERROR_INIT;
    const char *token = sl_header_arg(r, "JOB-TOKEN");
    const char *path = NULL;
    int64_t bytes = 0, expire_in_s = 0;
    int rc;
    if (!sl_srv_runner_job_auth(r, token ? token : arg(r, "token"), &job))
        goto out;
    sl_srv_runner_renew(r, &job);
    if (!r->upload) {
        sl_reply_json(r, 400,
                      json_pack("{s:s}", "message",
                                "400 Bad request - the body must be multipart/form-data"));
        goto out;
    }
    rc = sl_srv_upload_file(r->upload, &path, &bytes);
    if (rc == SL_ELIMIT) {
        sl_reply_json(r, 413, json_pack("{s:s}", "message", "413 Request Entity Too Large"));
        goto out;
    }
    if (rc < 0) {
        sl_reply_json(r, 400, json_pack("{s:s}", "message", "400 Bad request - file is missing"));
        goto out;
    }
    const char *type = arg(r, "artifact_type");
    type = type && *type ? type : "archive";
    size_t t;
    for (t = 0; t < SL_ARRAY_LEN(report_types) && strcmp(type, report_types[t]) != 0; t++)
        ;
    if (t == SL_ARRAY_LEN(report_types)) {
        sl_reply_json(r, 400,
                      json_pack("{s:s}", "message", "400 Bad request - artifact_type is invalid"));
        goto out;
    }
    bool archive = t == 0;
    const char *format = arg(r, "artifact_format");
    format = format && *format ? format : archive ? "zip" : "gzip";
    /* GitLab's: archive only as zip, reports as gzip (or a raw file) */
    if (archive ? strcmp(format, "zip") != 0 : strcmp(format, "gzip") && strcmp(format, "raw")) {
        sl_reply_json(
            r, 400, json_pack("{s:s}", "message", "400 Bad request - artifact_format is invalid"));
        goto out;
    }
    const char *exp = arg(r, "expire_in");
    if (exp && *exp) {
        if (!strcmp(exp, "never"))
            expire_in_s = SL_ARTIFACTS_EXPIRE_NEVER;
        else if (sl_time_parse_duration(exp, &expire_in_s) < 0) {
            sl_reply_json(r, 400,
                          json_pack("{s:s}", "message", "400 Bad request - expire_in is invalid"));
            goto out;
        }
    }
    rc = archive ? save_archive(s, &job, r, bytes, expire_in_s, &err)
                 : save_report(s, &job, type, format, path, &err);
    if (rc == SL_EPERM) {
        sl_reply_header(r, "Job-Status", "failed");
        sl_reply_json(r, 403, json_pack("{s:s}", "message", "403 Forbidden"));
        goto out;
    }
    if (rc == SL_EINVAL || rc == SL_ELIMIT) {
        sl_reply_json(r, 400, json_pack("{s:s}", "message", sl_error_format(&err)));
        goto out;
    }
    if (rc < 0) {
        sl_reply_sl_error(r, rc, &err);
        goto out;
    }
    char num[32];
    snprintf(num, sizeof(num), "%" PRId64, job.id);
    sl_log(SL_LOG_INFO, "artifacts uploaded", "job_id", num, "artifact_type", type, "runner",
           job.runner_id, NULL);
    sl_reply_json(r, 201,
                  json_pack("{s:I,s:s,s:s}", "id", (json_int_t)job.id, "name", job.name, "status",
                            job.status));
out:
    sl_error_release(&err);
    sl_store_job_release(&job);
}

/* Whether ANCESTOR is P's parent pipeline, or its parent's (children nest two deep). */
static bool is_ancestor(struct sl_server *s, const struct sl_store_pipeline *p, int64_t ancestor)
{
    int64_t up = p->parent_pipeline_id;
    for (int depth = 0; up && depth < 8; depth++) {
        if (up == ancestor)
            return true;
        struct sl_store_pipeline q = {0};
        if (sl_store_pipeline_get(s->st, up, &q, NULL) < 0)
            return false;
        up = q.parent_pipeline_id;
        sl_store_pipeline_release(&q);
    }
    return false;
}

/* Whether the job of TOKEN may read the artifacts of job TARGET: it is running, in the same
 * project. A fork's pipeline is an island: its jobs read only their own pipeline's
 * artifacts and their parents' (needs:pipeline of a child), and nothing outside it reads
 * its artifacts (a fork's code must neither see what a protected branch built nor feed it
 * an archive). */
static bool may_read(struct sl_server *s, const char *token, const struct sl_store_job *target)
{
    struct sl_store_job j = {0};
    struct sl_store_pipeline a = {0}, b = {0};
    bool ok = false;
    if (!token || sl_store_job_token_lookup(s->st, token, &j, NULL) < 0 ||
        strcmp(j.status, "running") != 0)
        goto out;
    if (j.pipeline_id == target->pipeline_id) {
        ok = true;
        goto out;
    }
    ok = sl_store_pipeline_get(s->st, j.pipeline_id, &a, NULL) == 0 &&
         sl_store_pipeline_get(s->st, target->pipeline_id, &b, NULL) == 0 &&
         a.project_id == b.project_id;
    if (ok && (sl_srv_pipeline_from_fork(s, &a) || sl_srv_pipeline_from_fork(s, &b)))
        ok = is_ancestor(s, &a, b.id);
out:
    sl_store_pipeline_release(&a);
    sl_store_pipeline_release(&b);
    sl_store_job_release(&j);
    return ok;
}

/* A zip of the tar archive FILE (a built-in worker's), in an unlinked file of DATA/tmp, for
 * runners: gitlab-runner extracts a dependency's artifacts as a zip. The fd, or -1. */
static int zip_of(struct sl_server *s, const char *file)
{
    struct sl_error err = SL_ERROR_INIT;
    char *dir = sl_fs_join(s->data_dir, "tmp");
    char *path = sl_xasprintf("%s/zip-XXXXXX", dir);
    int fd = -1;
    if (sl_fs_mkdir_p(dir, 0700, &err) < 0 || (fd = mkostemp(path, O_CLOEXEC)) < 0)
        goto out;
    unlink(path); /* the answer's fd keeps it until it is sent */
    if (sl_artifacts_to_zip(file, fd, 0, &err) < 0 || lseek(fd, 0, SEEK_SET) < 0) {
        close(fd);
        fd = -1;
    }
out:
    if (fd < 0)
        sl_log(SL_LOG_WARN, "cannot serve artifacts as a zip", "archive", file, "error",
               sl_error_format(&err), NULL);
    sl_error_release(&err);
    free(path);
    free(dir);
    return fd;
}

void sl_h_v4_job_artifacts_download(struct req *r)
{
    struct sl_server *s = r->s;
    struct sl_store_job job = {0};
    struct sl_store_artifact *as = NULL;
    size_t n = 0;
    char *file = NULL;
    int fd = -1;
    const char *token = sl_header_arg(r, "JOB-TOKEN");
    if (!token)
        token = sl_query_arg(r, "token");
    if (sl_store_job_get(s->st, r->id, &job, NULL) < 0 || !may_read(s, token, &job)) {
        /* an unknown job and a token that may not read it look alike */
        sl_reply_json(r, 403, json_pack("{s:s}", "message", "403 Forbidden"));
        goto out;
    }
    if (sl_store_artifact_list(s->st, job.id, &as, &n, NULL) < 0 || n == 0) {
        sl_reply_json(r, 404, json_pack("{s:s}", "message", "404 Not Found"));
        goto out;
    }
    /* the newest row: a built-in worker's or an upload's archive */
    struct stat st;
    file = sl_fs_join(s->data_dir, as[n - 1].path);
    if (strstr(as[n - 1].path, "..") || (fd = open(file, O_RDONLY | O_CLOEXEC)) < 0 ||
        fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        sl_reply_json(r, 404, json_pack("{s:s}", "message", "404 Not Found"));
        goto out;
    }
    /* a runner gets a zip whoever made the archive (the built-in workers keep .tar.zst) */
    if (strlen(file) < 4 || strcmp(file + strlen(file) - 4, ".zip") != 0) {
        close(fd);
        if ((fd = zip_of(s, file)) < 0 || fstat(fd, &st) < 0) {
            sl_reply_error(r, 500, "internal", "cannot make a zip of the artifacts");
            goto out;
        }
    }
    r->response = MHD_create_response_from_fd((uint64_t)st.st_size, fd);
    if (!r->response) {
        sl_reply_error(r, 500, "internal", "cannot answer with the archive");
        goto out;
    }
    fd = -1; /* the response owns it */
    MHD_add_response_header(r->response, MHD_HTTP_HEADER_CONTENT_TYPE, "application/zip");
    MHD_add_response_header(r->response, "Content-Disposition",
                            "attachment; filename=\"artifacts.zip\"");
    r->status = 200;
out:
    if (fd >= 0)
        close(fd);
    free(file);
    sl_store_artifacts_free(as, n);
    sl_store_job_release(&job);
}
