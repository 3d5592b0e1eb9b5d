/* exec.h: run one job spec and stream its log.
 *
 * exec knows nothing of YAML or plans. The caller (sluice run, the agent) hands it a fully
 * resolved job spec: the command lists, the environment, a working directory, timeouts, and
 * where the output goes. sl_exec_run runs it the way GitLab's runner runs a job with its
 * shell executor and bash, blocks until it is over, and fills a result.
 *
 *   struct sl_exec_spec spec;
 *   struct sl_exec_result res;
 *   sl_exec_spec_init(&spec);
 *   spec.name = "build";
 *   spec.script = (const char *const[]){"make", "make test", NULL};
 *   spec.workdir = "/work/project";
 *   spec.on_line = print_line;
 *   if (sl_exec_run(&spec, &res, &err) < 0) ... invalid spec ...
 *   if (res.status != SL_EXEC_SUCCESS) ... sl_exec_failure_name(res.failure) ...
 *
 * Behaviour (docs/executors.md says it for users):
 *  - The job runs in its own session and process group (setsid). stdin is /dev/null.
 *    stdout and stderr share one pipe, so lines arrive in the order a terminal would show.
 *  - before_script and script run in one shell with `set -e` and `set -o pipefail` (when
 *    the shell has it); the first failing command ends the job. Each command is echoed as
 *    `$ command` first; a multi-line command is echoed as its first line followed by
 *    ` # collapsed multi-line command`, as the runner does.
 *  - after_script runs in a second shell, in the working directory again, with
 *    CI_JOB_STATUS set to success, failed or canceled, under its own timeout. Its exit code
 *    never changes the job's status. It runs after success, failure and cancel; not after
 *    a job timeout (GitLab's default), not after a forced cancel.
 *  - A timeout or a cancel sends SIGTERM to the whole process group, then SIGKILL after
 *    kill_grace_ms. When the main shell exits, whatever is left in its process group gets
 *    the same TERM-then-KILL treatment, and reading stops shortly after even if a process
 *    that escaped the group still holds the pipe open.
 *  - Output is cut into lines. A line longer than SL_EXEC_LINE_MAX is delivered in pieces
 *    of that size; memory use does not depend on the size of the log.
 *
 * Thread safety: sl_exec_run keeps all its state on the caller's stack and heap, opens
 * every descriptor with O_CLOEXEC, starts processes with posix_spawn (no fork of a
 * threaded process, no allocation in the child), closes every inherited descriptor above
 * 2 in the child, and waits only for its own child through a pidfd, so any number of jobs
 * may run at once from different threads. The process must not set SIGCHLD to SIG_IGN
 * (the kernel would then reap children before sl_exec_run can read their status), and no
 * other code may call waitpid(-1, ...) or wait(). */
#ifndef SL_EXEC_H
#define SL_EXEC_H

#include "base/compat.h"
#include "base/error.h"

/* Longest line delivered to on_line; longer lines come in pieces of this many bytes. */
#define SL_EXEC_LINE_MAX (64 * 1024)
/* Defaults applied when the corresponding spec field is 0. */
#define SL_EXEC_AFTER_SCRIPT_TIMEOUT_MS (5 * 60 * 1000) /* RUNNER_AFTER_SCRIPT_TIMEOUT */
#define SL_EXEC_KILL_GRACE_MS 5000

/* Where a line delivered to on_line comes from. */
enum sl_exec_stream {
    /* Output of the job's commands: stdout and stderr merged in the order written. */
    SL_EXEC_STREAM_OUTPUT = 0,
    /* The `$ command` line echoed before each command (including the "$ "). Callers show
     * it in bold green, as GitLab does. */
    SL_EXEC_STREAM_ECHO = 1,
    /* A message from the executor itself ("Running after_script", the after_script
     * warning). GitLab shows these in cyan (info) or yellow (WARNING:). */
    SL_EXEC_STREAM_SYSTEM = 2,
};

enum sl_exec_status {
    SL_EXEC_SUCCESS = 0,
    SL_EXEC_FAILED,
    SL_EXEC_CANCELED,
    SL_EXEC_TIMEOUT,
};

/* Failure reasons, named as GitLab names them (retry:when, the job API). */
enum sl_exec_failure {
    SL_EXEC_FAILURE_NONE = 0,
    SL_EXEC_SCRIPT_FAILURE,        /* "script_failure": a command failed or was killed */
    SL_EXEC_JOB_EXECUTION_TIMEOUT, /* "job_execution_timeout" */
    SL_EXEC_RUNNER_SYSTEM_FAILURE, /* "runner_system_failure": the executor itself failed */
    SL_EXEC_IMAGE_PULL_FAILURE,    /* "image_pull_failure": the job's image is not there */
};

/* Where a job runs (docs/executors.md says what each isolates). */
enum sl_exec_kind {
    SL_EXEC_SHELL = 0, /* on the host, as this user (shell.c) */
    SL_EXEC_SANDBOX,   /* on the host in fresh namespaces and cgroups (sandbox.c) */
    SL_EXEC_DOCKER,    /* in a container of a Docker Engine API (docker.c) */
};

/* Pull policies, GitLab's names; a set is a bit mask. */
enum sl_exec_pull_policy {
    SL_PULL_ALWAYS = 1,
    SL_PULL_IF_NOT_PRESENT = 2,
    SL_PULL_NEVER = 4,
};

/* A service container of a docker job (GitLab's services:). */
struct sl_exec_service {
    const char *name;              /* the image */
    const char *const *aliases;    /* besides those derived from NAME; may be NULL */
    const char *const *entrypoint; /* NULL: the image's */
    const char *const *command;    /* NULL: the image's */
    const char *const *variables;  /* KEY=VALUE, added to the job's; may be NULL */
    unsigned pull_policy;          /* 0: the job's */
};

/* The docker executor's part of a job. Borrowed like the rest of the spec. */
struct sl_exec_docker {
    const char *host;               /* "unix://PATH"; NULL: DOCKER_HOST, then discovery */
    const char *image;              /* required */
    const char *const *entrypoint;  /* NULL: the image's; {NULL}/{""}: none */
    const char *platform;           /* image:docker:platform, or NULL */
    const char *user;               /* image:docker:user, or NULL */
    unsigned pull_policy;           /* the job's (pull_policy:), 0: the operator's default */
    unsigned default_pull_policy;   /* the operator's (--pull-policy); 0: if-not-present */
    unsigned allowed_pull_policies; /* the operator's (--allowed-pull-policies); 0: any */
    const char *project_path;       /* builds/<this> in the container; NULL: CI_PROJECT_PATH
                                     * of ENV, else the workspace's base name */
    const struct sl_exec_service *services;
    size_t nservices;
    int64_t services_wait_ms; /* per service; 0: 30 s; < 0: no wait */
};

/* The sandbox executor's part of a job (set by the operator, not by the pipeline). */
struct sl_exec_sandbox {
    const char *helper;      /* the sluice-sandbox program; NULL: next to this program */
    const char *rootfs;      /* the job's root, read-only; NULL: the host's "/" */
    const char *const *hide; /* host paths made empty in the job's view (other jobs'
                              * workspaces, the server's data) */
    int64_t memory_bytes;    /* 0: no limit */
    int64_t pids;            /* 0: no limit */
    double cpus;             /* 0: no limit */
    bool allow_host_network; /* SLUICE_SANDBOX_NETWORK=host of a job is honoured */
};

/* A cancel handle, shared by any number of jobs (one per `sluice run`, or one per job).
 * Made of two eventfds that stay readable once written, so every job watching the handle
 * wakes up. */
struct sl_exec_cancel;
struct sl_mask;

/* Creates a cancel handle; NULL with ERR set when the eventfds cannot be created. Free
 * with sl_exec_cancel_free once no job uses it any more. */
struct sl_exec_cancel *sl_exec_cancel_new(struct sl_error *err);
void sl_exec_cancel_free(struct sl_exec_cancel *c);
/* Requests a cancel: running scripts get TERM then KILL, after_script still runs with
 * CI_JOB_STATUS=canceled. Jobs started after this are not run at all. Async-signal-safe
 * (an atomic store and a write(2)); safe from any thread. */
void sl_exec_cancel(struct sl_exec_cancel *c);
/* Requests a forced cancel (a second Ctrl-C): as sl_exec_cancel, and a running
 * after_script is killed too, and none is started. Async-signal-safe. */
void sl_exec_cancel_force(struct sl_exec_cancel *c);
/* True once sl_exec_cancel or sl_exec_cancel_force was called. */
bool sl_exec_cancel_requested(const struct sl_exec_cancel *c);

/* Called for each line, on the thread that called sl_exec_run. LINE has no trailing
 * newline and is NUL-terminated at LINE[LEN] for convenience (it may itself contain NUL
 * bytes written by the job); it is borrowed for the duration of the call. A line longer
 * than SL_EXEC_LINE_MAX comes in pieces: each but the last with ENDS_LINE false, so that
 * a caller keeping the log (the server) joins them back into the line the job printed,
 * while one showing lines (a terminal) may show each piece as a line. A last line without
 * a newline ends its line (ENDS_LINE true), as does every echo and system line. */
typedef void (*sl_exec_line_fn)(void *ctx, enum sl_exec_stream stream, const char *line, size_t len,
                                bool ends_line);

/* A job spec. Every pointer is borrowed for the duration of sl_exec_run. Command and
 * environment arrays are NULL-terminated; a NULL array means none. Start from
 * sl_exec_spec_init so that fields added later get their defaults. */
struct sl_exec_spec {
    const char *name; /* the job's name, for messages only */
    const char *const *before_script;
    const char *const *script;
    const char *const *after_script;
    /* KEY=VALUE strings given to the shell as its whole environment. NULL means the
     * environment of this process (environ, read without a lock: no setenv meanwhile). The executor
     * adds only CI_JOB_STATUS (running during the script, then success/failed/canceled for
     * after_script), replacing any given. */
    const char *const *env;
    const char *workdir;             /* NULL: the current directory */
    int64_t timeout_ms;              /* job timeout; <= 0: none */
    int64_t after_script_timeout_ms; /* 0: SL_EXEC_AFTER_SCRIPT_TIMEOUT_MS; < 0: none */
    int64_t kill_grace_ms;           /* TERM to KILL delay; 0: SL_EXEC_KILL_GRACE_MS */
    /* The shell, a name looked up in the PATH of ENV (or of this process when ENV has no
     * PATH), or a path. NULL: "bash", or "sh" when bash is not found. The script is run
     * as `SHELL --noprofile --norc -c SCRIPT SHELL` when it is bash, `SHELL -c SCRIPT
     * SHELL` otherwise (so $0 is the shell, and errors read "bash: line 3: ..."); a
     * script over 120 KiB is passed as a memfd on fd 3 instead. */
    const char *shell;
    /* File the log is appended to (created 0644 when missing): the job's output byte for
     * byte (pieces of a long line are not cut there), each `$ command` line, and the
     * executor's lines; a newline is added only where a system line follows output that
     * did not end with one. NULL: none. */
    const char *log_path;
    sl_exec_line_fn on_line;       /* NULL: lines only go to the log */
    void *ctx;                     /* passed to on_line */
    struct sl_exec_cancel *cancel; /* NULL: the job cannot be canceled */
    /* Secrets replaced by [MASKED] in everything on_line and the log get, before any byte
     * leaves the executor (exec/mask.h: split writes, long lines, encoded forms). NULL:
     * none. */
    const struct sl_mask *mask;
    /* When RUN_AS, the job's shells run as UID and GID with no supplementary groups (the
     * caller must be root; sl_job_run hands the workspace over first), so a job cannot read
     * what only the runner's user may: its data, its keys, /proc/<runner>/environ. */
    bool run_as;
    uid_t uid;
    gid_t gid;
    /* The executor, and its options (the one for EXECUTOR is required, others ignored). */
    enum sl_exec_kind executor;
    const struct sl_exec_docker *docker;
    const struct sl_exec_sandbox *sandbox;
};

struct sl_exec_result {
    enum sl_exec_status status;
    enum sl_exec_failure failure; /* NONE for success and canceled */
    /* Exit status of the script shell: its exit code, or 128 + signal when a signal
     * killed it (as a shell reports it); -1 when the shell never ran. */
    int exit_code;
    int signal;          /* the signal that killed the script shell, or 0 */
    int64_t duration_ms; /* wall time of the whole run, after_script included */
    bool after_script_ran;
    int after_script_exit_code; /* as exit_code; -1 when it did not run or timed out */
    bool after_script_timed_out;
    uint64_t log_bytes; /* bytes of log produced (written to log_path when set) */
    uint64_t log_lines; /* calls made to on_line */
    /* Why, for runner_system_failure ("cannot start bash: ..."); "" otherwise. */
    char message[256];
};

/* Sets SPEC to no commands, no timeout, default shell and timeouts. */
void sl_exec_spec_init(struct sl_exec_spec *spec);

/* Runs SPEC to its end and fills *RESULT. Blocking; any number of calls may run at once
 * on different threads.
 *
 * Returns 0 whenever the job was attempted, whatever its outcome, including a failure of
 * the executor itself (no shell, a working directory that does not exist, the log file
 * cannot be written, a pipe cannot be made): that is a result with status FAILED and
 * failure RUNNER_SYSTEM_FAILURE, the reason in result->message and in ERR. Returns
 * SL_EINVAL (and leaves *RESULT alone) only for a spec that cannot be a job: no script
 * array. A job whose cancel handle was already triggered is not started: status CANCELED,
 * exit_code -1. */
int sl_exec_run(const struct sl_exec_spec *spec, struct sl_exec_result *result,
                struct sl_error *err);

/* Removes, in a thread of its own (the caller does not wait), the containers and service
 * networks of docker jobs whose sluice process is gone (killed with -9), from the engine
 * DOCKER_HOST or the default socket names (docker_api.h): for a server or agent that may
 * run docker jobs, at start. An engine that cannot be reached is logged as a warning;
 * the first docker job then tries again. Done once per process. */
void sl_exec_docker_sweep_start(void);
/* The jobs' process groups, for the next start's crash recovery (spawn.c), beside the
 * guard that kills them when this process dies: with DIR, each group started from now on is
 * listed, with its leader's start time (/proc/<pid>/stat), in DIR/groups-<pid of this
 * process> (DIR made when missing) while it runs, so that when the guard was killed too
 * (kill -9 of both) sl_exec_groups_recover at the next start kills what is left. NULL:
 * no more recording. */
void sl_exec_groups_record(const char *dir);
/* Kills (SIGKILL) the process groups listed in DIR by sluice processes that are gone
 * (their pid is free, or another process's: start times differ) whose leader is still
 * the process recorded (same pid and start time, leading its group), and removes their
 * files; the files of processes still running are theirs. Returns how many groups it
 * killed, which a warning line also says. A group whose leader has exited is not killed
 * (its id cannot be checked). */
int sl_exec_groups_recover(const char *dir);
/* At a serve or agent start: sl_exec_groups_recover(DIR), then sl_exec_groups_record(DIR). */
void sl_exec_groups_take_over(const char *dir);
/* Ends that thread and waits for it, at stop: a call of it to an engine that answers slowly
 * or not at all is given up within about a second (an INFO line says so). A no-op when
 * none was started; another start may follow. */
void sl_exec_docker_sweep_stop(void);

/* The sandbox helper, `sluice-sandbox OPTIONS -- PROGRAM ARGS...` (or `sluice __sandbox
 * ...`, called with ARGV from "__sandbox" on; sandbox.c): runs PROGRAM in fresh namespaces
 * and cgroups. Called from main() of a fresh process only. */
int sl_exec_sandbox_main(int argc, char **argv);
/* Runs a trial job (`/bin/sh -c :`) through the sandbox helper with SB's root and limits,
 * so that a kernel that refuses (no user namespaces, a cgroup controller missing or not
 * delegated for a limit asked for, a root without a shell) is found when sluice starts,
 * not at the first job. 0, or SL_EPERM with ERR quoting the helper's line that names what
 * is missing. The callers (run, serve, agent with --executor sandbox) stop on it: there
 * is no fall-back to the shell executor. */
int sl_exec_sandbox_probe(const struct sl_exec_sandbox *sb, struct sl_error *err);
/* The same as the user UID:GID the jobs run as (a root server's --run-as user): the
 * probe's process switches to it before it runs the helper. */
int sl_exec_sandbox_probe_as(const struct sl_exec_sandbox *sb, uid_t uid, gid_t gid,
                             struct sl_error *err);

/* "success", "failed", "canceled", "timeout". Static strings. */
const char *sl_exec_status_name(enum sl_exec_status s);
/* "script_failure", "job_execution_timeout", "runner_system_failure"; "" for NONE. */
const char *sl_exec_failure_name(enum sl_exec_failure f);

#endif
