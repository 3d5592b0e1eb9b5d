/* job.h: one whole job, as a runner does it: a clean workspace, caches and artifacts of
 * earlier jobs restored, the scripts run (exec.h), then artifacts and caches saved and the
 * reports (dotenv, JUnit, coverage) read.
 *
 * Shared by `sluice run` and the server's workers and agents, so that a job behaves the
 * same everywhere. Like the rest of exec it knows nothing of YAML: the caller resolves
 * the job (variables expanded, paths chosen, which jobs' artifacts to restore) into a
 * struct sl_job_spec.
 *
 * Progress lines (GitLab's "Restoring cache", "Downloading artifacts from build", ...)
 * reach the caller through spec->exec.on_line as SL_EXEC_STREAM_SYSTEM lines and are
 * appended to spec->exec.log_path, so the log reads like a GitLab job log.
 *
 * Failures and their reasons (GitLab's names, in result->failure_name):
 *  - the workspace cannot be made: runner_system_failure;
 *  - an artifacts archive to restore is missing or unsafe: unmet_prerequisites (GitLab
 *    fails a job whose dependencies' artifacts are gone);
 *  - the script fails: script_failure, job_execution_timeout (exec.h);
 *  - artifacts cannot be collected (over the size limit, a path leaving the workspace) or
 *    a dotenv report is invalid: unknown_failure, after a script that succeeded.
 *  A cache that cannot be restored or saved is only a warning, as in GitLab. */
#ifndef SL_EXEC_JOB_H
#define SL_EXEC_JOB_H

#include "base/compat.h"
#include "base/error.h"
#include "exec/artifacts.h"
#include "exec/cache.h"
#include "exec/exec.h"
#include "exec/reports.h"
#include "exec/workspace.h"

enum sl_job_artifacts_when {
    SL_JOB_ARTIFACTS_ON_SUCCESS = 0, /* GitLab's default */
    SL_JOB_ARTIFACTS_ON_FAILURE,
    SL_JOB_ARTIFACTS_ALWAYS,
};

/* An earlier job whose artifacts this job restores. */
struct sl_job_source {
    const char *name;      /* for the progress line */
    const char *store_dir; /* where that job's artifacts were collected */
    int64_t job_id;        /* that job's id (0: unknown), so a remote runner can fetch them */
    /* An archive file to extract instead of STORE_DIR's collected artifacts (an agent's
     * download from the server; sl_artifacts_extract's formats); NULL: STORE_DIR. */
    const char *archive;
};

/* An `image:` or a `services:` entry, as typed data for a container executor (the shell
 * executor ignores them). Lists NULL-terminated; NULL means "not given" (the image's own
 * entrypoint or command, the executor's default pull policy). ALIAS, COMMAND and VARIABLES
 * (KEY=VALUE, already expanded) are those of a service; an image leaves them NULL. */
struct sl_job_image {
    const char *name; /* expanded; never NULL in a spec */
    const char *const *entrypoint;
    const char *const *pull_policy; /* "always", "if-not-present", "never" */
    const char *const *alias;
    const char *const *command;
    const char *const *variables;
    const char *platform; /* image:docker:platform, or NULL */
    const char *user;     /* image:docker:user, or NULL */
};

/* One of the job's own variables as GitLab hands it to a runner: what a planned job
 * carries before the run context makes its environment (jobspec.h). */
struct sl_job_var {
    const char *key;
    const char *value;
    bool raw; /* `expand: false`: the runner does not expand it */
};

/* Every pointer is borrowed for the duration of sl_job_run; arrays NULL-terminated unless
 * they come with a count. */
struct sl_job_spec {
    /* The scripts, environment, timeouts and output. exec.workdir is ignored: the job
     * runs in WORKSPACE. The environment should point CI_PROJECT_DIR at WORKSPACE. */
    struct sl_exec_spec exec;
    const char *project_dir; /* copied into WORKSPACE (workspace.h) */
    const char *workspace;   /* the job's own directory, made afresh */

    const struct sl_job_source *sources; /* artifacts restored in this order */
    size_t nsources;

    const struct sl_cache_spec *caches; /* keys already expanded */
    size_t ncaches;
    const char *cache_dir; /* NULL: no caching */

    /* artifacts: collected into ARTIFACTS_DIR when HAS_ARTIFACTS and WHEN matches. */
    bool has_artifacts;
    struct sl_artifacts_spec artifacts;
    enum sl_job_artifacts_when artifacts_when;
    const char *artifacts_dir;

    /* reports: always read, whatever the job's outcome. Globs relative to WORKSPACE. */
    const char *const *dotenv; /* reports:dotenv */
    const char *const *junit;  /* reports:junit */
    const char *coverage;      /* the `coverage` regex (/.../) or NULL */

    /* containers: the job's image (NULL: none, the shell executor) and its services. */
    const struct sl_job_image *image;
    const struct sl_job_image *services;
    size_t nservices;

    /* The job's variables in precedence order, lowest first, before the run context
     * (jobspec.h's sl_jobspec_plan fills them; sl_jobspec_bind turns them into exec.env).
     * sl_job_run ignores them: it runs with exec.env. */
    const struct sl_job_var *variables;
    size_t nvariables;
    const char *const *tags; /* the job's tags (which runner may take it), or NULL */

    /* The caller writes the log's last line itself with sl_job_outcome, because work it
     * does after sl_job_run can still fail the job (an agent uploads the artifacts to the
     * server afterwards). */
    bool caller_writes_outcome;
};

struct sl_job_result {
    struct sl_exec_result exec; /* the script's outcome */
    bool success;               /* the job succeeded (script and everything after it) */
    bool canceled;
    const char *failure_name; /* GitLab's failure reason; "" on success. Static. */
    int exit_code;            /* the script's, or -1 when it did not run */
    struct sl_dotenv dotenv;  /* variables from reports:dotenv (release with the result) */
    bool has_junit;
    struct sl_junit_counts junit;
    char *coverage;                      /* "87.5" or NULL; owned */
    struct sl_artifacts_meta *artifacts; /* collected artifacts or NULL; owned */
    char message[512];                   /* why, for a failure outside the script */
};

/* Runs the job SPEC describes and fills *RESULT (release with sl_job_result_release).
 * Returns 0 whenever the job was attempted, whatever its outcome (see the header comment
 * for failures), SL_EINVAL for a spec that cannot be a job (no workspace or script). */
int sl_job_run(const struct sl_job_spec *spec, struct sl_job_result *result, struct sl_error *err);
void sl_job_result_release(struct sl_job_result *r);

/* Writes the log's last line for RESULT in GitLab Runner's words ("Job succeeded",
 * "ERROR: Job failed: exit code 3", ...) through SPEC's line callback and log file, as
 * sl_job_run does itself unless SPEC->caller_writes_outcome. */
void sl_job_outcome(const struct sl_job_spec *spec, const struct sl_job_result *result);

#endif
