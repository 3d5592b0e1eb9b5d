/* payload.h: GitLab's job payload (the 201 answer of POST /api/v4/jobs/request) as a
 * runnable job.
 *
 * The payload is what gitlab-runner's spec.Job decodes (common/spec/spec.go): id, token,
 * job_info, git_info, runner_info, variables (a list of {key, value, public, masked, file,
 * raw}), steps (script and after_script, each with when and timeout), image, services,
 * artifacts (one entry per upload: the archive and each report), cache, dependencies.
 * sl_agent_payload_parse turns it into a struct sl_job_spec (exec/job.h) whose scripts,
 * caches, image and services come from the payload; the agent then fills in what belongs
 * to its own machine (workspace, project copy, cache directory, environment, log).
 *
 *   struct sl_agent_job job;
 *   if (sl_agent_payload_parse(&job, body, len, &err) < 0) ... refuse the job ...
 *   ... job.spec.workspace = ...; sl_job_run(&job.spec, &res, &err); ...
 *   sl_agent_job_release(&job);
 *
 * Everything is hostile input: the document is capped (SL_AGENT_PAYLOAD_MAX), lists are
 * capped (SL_AGENT_PAYLOAD_MAX_LIST entries), and a field of the wrong shape is SL_EINVAL
 * naming it ("payload: steps[0].script: not a list of strings"). Fields sluice does not use
 * (secrets, hooks, credentials, features, run) are ignored, as an older gitlab-runner
 * ignores what a newer GitLab sends. */
#ifndef SL_AGENT_PAYLOAD_H
#define SL_AGENT_PAYLOAD_H

#include "base/arena.h"
#include "base/compat.h"
#include "base/error.h"
#include "exec/job.h"

#define SL_AGENT_PAYLOAD_MAX (16 * 1024 * 1024)
#define SL_AGENT_PAYLOAD_MAX_LIST 10000

/* One entry of `variables`. */
struct sl_agent_var {
    const char *key;
    const char *value;
    bool masked; /* replaced by [MASKED] in the log */
    bool file;   /* the job sees a path to a file holding VALUE */
    bool raw;
    bool public_;
};

/* One entry of `artifacts`: the archive, or a report (artifact_type junit, dotenv, ...). */
struct sl_agent_upload {
    const char *name;      /* the archive's name; NULL: "artifacts" */
    const char *type;      /* artifact_type: "archive" (default), "junit", "dotenv", ... */
    const char *format;    /* artifact_format: "zip" (default), "gzip", "raw" */
    const char *expire_in; /* as written ("1 week"); NULL: the server's default */
    enum sl_job_artifacts_when when;
    struct sl_artifacts_select select;
};

/* One entry of `dependencies`: a job whose artifacts this job downloads. */
struct sl_agent_dep {
    int64_t id;
    const char *token; /* sent as JOB-TOKEN when downloading */
    const char *name;
    const char *filename; /* artifacts_file.filename; NULL: the job has no artifacts */
    int64_t size;
};

struct sl_agent_git {
    const char *repo_url; /* with the job token in it: never log it */
    const char *ref;
    const char *sha; /* 40 hex digits (checked) */
    const char *before_sha;
    const char *ref_type;        /* "branch", "tag" */
    const char *const *refspecs; /* NULL-terminated; NULL: none given */
    int depth;                   /* GIT_DEPTH; 0: full */
};

/* A parsed payload. Strings and lists live in ARENA; SPEC's pointers point into it. */
struct sl_agent_job {
    struct sl_arena arena;
    int64_t id;
    const char *token; /* the job token (JOB-TOKEN of every request about this job) */
    const char *name;
    const char *stage;
    int64_t project_id;
    int64_t pipeline_id;
    const char *project_path; /* job_info.project_full_path, or NULL */
    struct sl_agent_git git;
    struct sl_agent_var *vars;
    size_t nvars;
    struct sl_agent_upload *uploads;
    size_t nuploads;
    struct sl_agent_dep *deps;
    size_t ndeps;
    int64_t timeout_s; /* runner_info.timeout; 0: none */
    /* Scripts (before_script is part of GitLab's "script" step), after_script and its
     * timeout, caches, image and services. The rest is for the agent to fill in. */
    struct sl_job_spec spec;
};

/* Parses the payload TEXT (LEN bytes) into *OUT (release with sl_agent_job_release, also
 * after a failure). SL_EINVAL names the bad field, SL_ELIMIT past the caps. */
int sl_agent_payload_parse(struct sl_agent_job *out, const char *text, size_t len,
                           struct sl_error *err);
void sl_agent_job_release(struct sl_agent_job *job);

/* The value of variable KEY in JOB, or NULL. Borrowed. */
const char *sl_agent_job_var(const struct sl_agent_job *job, const char *key);

#endif
