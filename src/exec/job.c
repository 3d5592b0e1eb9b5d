#include "base/compat.h"
#include "exec/job.h"
#include "base/alloc.h"
#include "base/fs.h"
#include "base/str.h"
#include "base/time.h"

#include <fcntl.h>
#include <unistd.h>

struct job_ctx {
    const struct sl_job_spec *spec;
    struct sl_coverage *coverage;
};

/* A progress line: to the caller as a system line, and into the log. */
static void progress(const struct sl_job_spec *spec, const char *fmt, ...) SL_PRINTF(2, 3);
static void progress(const struct sl_job_spec *spec, const char *fmt, ...)
{
    struct sl_str s = SL_STR_INIT;
    va_list ap;
    va_start(ap, fmt);
    sl_str_vaddf(&s, fmt, ap);
    va_end(ap);
    if (spec->exec.on_line)
        spec->exec.on_line(spec->exec.ctx, SL_EXEC_STREAM_SYSTEM, s.buf, s.len, true);
    if (spec->exec.log_path) {
        int fd = open(spec->exec.log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (fd >= 0) {
            sl_str_addc(&s, '\n');
            ssize_t SL_UNUSED w = write(fd, s.buf, s.len);
            close(fd);
        }
    }
    sl_str_release(&s);
}

/* Feeds every output line to the coverage matcher on its way to the caller. */
static void on_line(void *ctx, enum sl_exec_stream stream, const char *line, size_t len,
                    bool ends_line)
{
    struct job_ctx *jc = ctx;
    if (jc->coverage && stream == SL_EXEC_STREAM_OUTPUT)
        sl_coverage_feed(jc->coverage, line, len);
    if (jc->spec->exec.on_line)
        jc->spec->exec.on_line(jc->spec->exec.ctx, stream, line, len, ends_line);
}

static void fail(struct sl_job_result *r, const char *reason, const char *fmt, ...) SL_PRINTF(3, 4);
static void fail(struct sl_job_result *r, const char *reason, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->message, sizeof(r->message), fmt, ap);
    va_end(ap);
    r->success = false;
    r->failure_name = reason;
}

static bool artifacts_due(enum sl_job_artifacts_when when, bool ok)
{
    return when == SL_JOB_ARTIFACTS_ALWAYS || (when == SL_JOB_ARTIFACTS_ON_SUCCESS) == ok;
}

static void restore_caches(const struct sl_job_spec *spec, char **keys)
{
    for (size_t i = 0; i < spec->ncaches; i++) {
        struct sl_error err = SL_ERROR_INIT;
        char *hit = NULL;
        if (!keys[i])
            continue;
        if (spec->caches[i].policy == SL_CACHE_PUSH) {
            progress(spec, "Not restoring cache %s: policy is push", keys[i]);
            continue;
        }
        if (sl_cache_restore(&hit, spec->cache_dir, spec->workspace, &spec->caches[i], keys[i],
                             &err) < 0)
            progress(spec, "WARNING: cache %s not restored: %s", keys[i], sl_error_format(&err));
        else if (hit)
            progress(spec, "Restored cache %s%s", hit, strcmp(hit, keys[i]) ? " (fallback)" : "");
        else
            progress(spec, "No cache found for %s", keys[i]);
        free(hit);
        sl_error_release(&err);
    }
}

static void save_caches(const struct sl_job_spec *spec, char **keys, bool ok)
{
    for (size_t i = 0; i < spec->ncaches; i++) {
        struct sl_error err = SL_ERROR_INIT;
        struct sl_cache_saved saved;
        if (!keys[i])
            continue;
        if (sl_cache_save(&saved, spec->cache_dir, spec->workspace, &spec->caches[i], keys[i], ok,
                          &err) < 0)
            progress(spec, "WARNING: cache %s not saved: %s", keys[i], sl_error_format(&err));
        else if (saved.saved)
            progress(spec, "Saved cache %s (%zu files, %llu bytes)", keys[i], saved.files,
                     (unsigned long long)saved.archive_bytes);
        else
            progress(spec, "Not saving cache %s: %s", keys[i], saved.skipped);
        sl_error_release(&err);
    }
}

/* Reads reports:dotenv and reports:junit. Returns false (and fails R) for an invalid
 * dotenv report, which GitLab treats as a failed artifact upload. */
static bool read_reports(const struct sl_job_spec *spec, struct sl_job_result *r)
{
    struct sl_artifacts_select sel = {spec->dotenv, NULL, false};
    struct sl_artifacts_list files;
    struct sl_error err = SL_ERROR_INIT;
    bool ok = true;

    if (spec->dotenv && spec->dotenv[0]) {
        if (sl_artifacts_match(&files, spec->workspace, &sel, &err) == 0) {
            for (size_t i = 0; i < files.n && ok; i++) {
                char *path = sl_fs_join(spec->workspace, files.paths[i]);
                struct sl_dotenv one;
                /* the job wrote the workspace: a report that is a symlink out of it would be
                 * read with the runner's rights */
                if (sl_fs_resolve_within(spec->workspace, path, NULL, &err) < 0 ||
                    sl_reports_dotenv_load(&one, path, &err) < 0) {
                    fail(r, "unknown_failure", "reports:dotenv %s: %s", files.paths[i],
                         err.message ? err.message : "invalid");
                    progress(spec, "ERROR: %s", r->message);
                    ok = false;
                } else {
                    /* later files override earlier ones, key by key */
                    for (size_t k = 0; k < one.n; k++) {
                        bool found = false;
                        for (size_t j = 0; j < r->dotenv.n; j++) {
                            if (!strcmp(r->dotenv.vars[j].key, one.vars[k].key)) {
                                free(r->dotenv.vars[j].value);
                                r->dotenv.vars[j].value = sl_xstrdup(one.vars[k].value);
                                found = true;
                            }
                        }
                        if (!found) {
                            SL_GROW(r->dotenv.vars, r->dotenv.cap, r->dotenv.n + 1);
                            r->dotenv.vars[r->dotenv.n].key = sl_xstrdup(one.vars[k].key);
                            r->dotenv.vars[r->dotenv.n].value = sl_xstrdup(one.vars[k].value);
                            r->dotenv.n++;
                        }
                    }
                    sl_dotenv_release(&one);
                }
                free(path);
                sl_error_release(&err);
            }
            sl_artifacts_list_release(&files);
        } else {
            progress(spec, "WARNING: reports:dotenv: %s", sl_error_format(&err));
        }
        sl_error_release(&err);
    }
    if (spec->junit && spec->junit[0]) {
        sel.paths = spec->junit;
        if (sl_artifacts_match(&files, spec->workspace, &sel, &err) == 0) {
            for (size_t i = 0; i < files.n; i++) {
                char *path = sl_fs_join(spec->workspace, files.paths[i]);
                if (sl_fs_resolve_within(spec->workspace, path, NULL, &err) < 0 ||
                    sl_reports_junit_load(&r->junit, path, &err) < 0)
                    progress(spec, "WARNING: reports:junit %s: %s", files.paths[i],
                             err.message ? err.message : "invalid");
                else
                    r->has_junit = true;
                sl_error_release(&err);
                free(path);
            }
            sl_artifacts_list_release(&files);
        } else {
            progress(spec, "WARNING: reports:junit: %s", sl_error_format(&err));
        }
        sl_error_release(&err);
    }
    return ok;
}

/* The log line of the workspace, saying what GitLab's "Fetching changes" or "Skipping
 * Git repository setup" would. */
static void workspace_line(const struct sl_job_spec *spec, const struct sl_workspace_options *o,
                           const struct sl_workspace_stats *ws, int64_t ns)
{
    double ms = (double)ns / 1e6;
    if (o->strategy == SL_WORKSPACE_NONE)
        progress(spec, "Skipping Git repository setup (GIT_STRATEGY none): workspace %s",
                 spec->workspace);
    else if (o->strategy == SL_WORKSPACE_EMPTY)
        progress(spec, "Prepared an empty workspace %s (GIT_STRATEGY empty)", spec->workspace);
    else if (ws->reused)
        progress(spec,
                 "Prepared workspace %s (fetch: %zu files unchanged, %zu copied, %zu removed) in "
                 "%.0f ms",
                 spec->workspace, ws->unchanged, ws->files + ws->symlinks, ws->removed, ms);
    else
        progress(spec, "Prepared workspace %s (%zu files) in %.0f ms", spec->workspace, ws->files,
                 ms);
}

void sl_job_outcome(const struct sl_job_spec *spec, const struct sl_job_result *r)
{
    char d[64];
    if (r->success)
        progress(spec, "Job succeeded");
    else if (r->canceled)
        progress(spec, "ERROR: Job failed: canceled");
    else if (r->exec.status == SL_EXEC_TIMEOUT) {
        sl_time_format_go(spec->exec.timeout_ms, d, sizeof(d));
        progress(spec, "ERROR: Job failed: execution took longer than %s seconds", d);
    } else if (r->exec.failure == SL_EXEC_IMAGE_PULL_FAILURE)
        ; /* the docker executor's own "ERROR: Job failed (image_pull_failure): ..." */
    else if (r->message[0] && !strcmp(r->failure_name, "runner_system_failure"))
        progress(spec, "ERROR: Job failed (system failure): %s", r->message);
    else if (r->message[0])
        progress(spec, "ERROR: Job failed: %s", r->message);
    else
        progress(spec, "ERROR: Job failed: exit code %d", r->exit_code);
}

int sl_job_run(const struct sl_job_spec *spec, struct sl_job_result *r, struct sl_error *err)
{
    struct job_ctx jc = {spec, NULL};
    struct sl_exec_spec es;
    char **keys = NULL;
    int rc = 0;

    if (!spec->workspace || !spec->project_dir || !spec->exec.script)
        return sl_error_set(err, SL_EINVAL, "a job needs a workspace, a project and a script");
    memset(r, 0, sizeof(*r));
    r->exit_code = -1;
    r->exec.exit_code = -1;
    r->failure_name = "";

    int64_t t0 = sl_time_mono_ns();
    struct sl_workspace_stats ws;
    struct sl_workspace_options wo;
    struct sl_error e = SL_ERROR_INIT;
    sl_workspace_options_init(&wo);
    /* GIT_STRATEGY and friends are the job's variables, as the runner reads them */
    if (sl_workspace_options_from_env(&wo, spec->exec.env, &e) < 0 ||
        sl_workspace_prepare(spec->project_dir, spec->workspace, &wo, &ws, &e) < 0) {
        fail(r, "runner_system_failure", "cannot prepare the workspace: %s", sl_error_format(&e));
        sl_error_release(&e);
        goto out;
    }
    workspace_line(spec, &wo, &ws, sl_time_mono_ns() - t0);

    if (spec->ncaches && spec->cache_dir) {
        keys = sl_xcalloc(spec->ncaches, sizeof(*keys));
        for (size_t i = 0; i < spec->ncaches; i++) {
            if (sl_cache_key(&keys[i], spec->workspace, &spec->caches[i], &e) < 0) {
                progress(spec, "WARNING: cache %zu skipped: %s", i + 1, sl_error_format(&e));
                keys[i] = NULL;
            }
            sl_error_release(&e);
        }
        restore_caches(spec, keys);
    }

    for (size_t i = 0; i < spec->nsources; i++) {
        const struct sl_job_source *src = &spec->sources[i];
        struct sl_artifacts_meta *meta = NULL;
        if (!src->archive && sl_artifacts_meta_load(&meta, src->store_dir, &e) < 0) {
            /* a job that made no artifacts is not a missing dependency */
            sl_error_release(&e);
            continue;
        }
        sl_artifacts_meta_free(meta);
        if ((src->archive ? sl_artifacts_extract(src->archive, spec->workspace, 0, NULL, &e)
                          : sl_artifacts_restore(src->store_dir, spec->workspace, &e)) < 0) {
            fail(r, "unmet_prerequisites", "artifacts of %s cannot be restored: %s", src->name,
                 sl_error_format(&e));
            sl_error_release(&e);
            goto out;
        }
        progress(spec, "Downloaded artifacts of %s", src->name);
    }

    if (spec->coverage && sl_coverage_new(&jc.coverage, spec->coverage, &e) < 0) {
        progress(spec, "WARNING: coverage regex: %s", sl_error_format(&e));
        sl_error_release(&e);
    }

    /* Handed over last, with everything restored: the job's user owns all it may change,
     * and nothing the runner keeps elsewhere. */
    if (spec->exec.run_as &&
        sl_fs_chown_tree(spec->workspace, spec->exec.uid, spec->exec.gid, &e) < 0) {
        fail(r, "runner_system_failure", "cannot prepare the workspace: %s", sl_error_format(&e));
        sl_error_release(&e);
        goto out;
    }

    es = spec->exec;
    es.workdir = spec->workspace;
    es.on_line = on_line;
    es.ctx = &jc;
    if ((rc = sl_exec_run(&es, &r->exec, err)) < 0)
        goto out;
    r->exit_code = r->exec.exit_code;
    r->canceled = r->exec.status == SL_EXEC_CANCELED;
    r->success = r->exec.status == SL_EXEC_SUCCESS;
    r->failure_name = r->success || r->canceled ? "" : sl_exec_failure_name(r->exec.failure);
    if (r->exec.failure == SL_EXEC_RUNNER_SYSTEM_FAILURE)
        snprintf(r->message, sizeof(r->message), "%s", r->exec.message);

    if (jc.coverage && sl_coverage_value(jc.coverage))
        r->coverage = sl_xstrdup(sl_coverage_value(jc.coverage));

    if (!r->canceled) {
        if (!read_reports(spec, r))
            r->success = false;
        if (spec->has_artifacts && spec->artifacts_dir &&
            artifacts_due(spec->artifacts_when, r->success)) {
            if (sl_artifacts_collect(&r->artifacts, spec->workspace, &spec->artifacts,
                                     spec->artifacts_dir, &e) < 0) {
                if (r->success)
                    fail(r, "unknown_failure", "artifacts: %s", sl_error_format(&e));
                progress(spec, "ERROR: uploading artifacts: %s", sl_error_format(&e));
                sl_error_release(&e);
            } else {
                for (size_t i = 0; i < r->artifacts->nwarnings; i++)
                    progress(spec, "WARNING: artifacts: %s", r->artifacts->warnings[i]);
                progress(spec, "Uploaded artifacts: %zu files, %llu bytes", r->artifacts->files,
                         (unsigned long long)r->artifacts->archive_bytes);
            }
        }
        if (keys)
            save_caches(spec, keys, r->success);
    }
out:
    if (rc == 0 && !spec->caller_writes_outcome)
        sl_job_outcome(spec, r);
    if (keys) {
        for (size_t i = 0; i < spec->ncaches; i++)
            free(keys[i]);
        free(keys);
    }
    sl_coverage_free(jc.coverage);
    return rc;
}

void sl_job_result_release(struct sl_job_result *r)
{
    sl_dotenv_release(&r->dotenv);
    free(r->coverage);
    r->coverage = NULL;
    sl_artifacts_meta_free(r->artifacts);
    r->artifacts = NULL;
}
