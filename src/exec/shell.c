/* shell.c: the shell executor (GitLab's "shell" executor with bash).
 *
 * A job is at most two shell processes: one for before_script + script, one for
 * after_script. Each gets a generated script (see script.c) as its `-c` argument (or
 * through a memfd when it is too long for one), its output through one pipe, and is watched by one
 * poll loop (run_phase) that also watches the pidfd, the cancel handle and the deadlines. */
#include "base/compat.h"
#include "exec/exec.h"
#include "exec/cancel.h"
#include "exec/output.h"
#include "exec/spawn.h"
#include "exec/executors.h"
#include "base/alloc.h"
#include "base/str.h"
#include "base/fs.h"
#include "base/time.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

extern char **environ;

/* How long reading goes on once the job's process group is gone, for a process that left
 * the group (setsid, a daemon) but still holds the pipe: its output is not worth a hang. */
#define DRAIN_MS 200
/* Poll tick for the child's exit when the kernel has no pidfd_open. */
#define TICK_MS 10
#define READ_CHUNK (64 * 1024)
/* Scripts up to this size go in an argument (`sh -c`); longer ones through a memfd. */
#define SCRIPT_ARG_MAX (120 * 1024)

struct phase {
    /* in */
    const char *script;
    char **envp;
    int64_t deadline_ns; /* 0: none */
    int cancel_fd;       /* graceful cancel to watch, or -1 */
    int force_fd;        /* forced cancel to watch, or -1 */
    /* out */
    bool timed_out;
    bool canceled;
    int exit_code;
    int signal;
};

struct job {
    const struct sl_exec_spec *spec;
    char *shell_path;
    bool is_bash;
    int64_t grace_ns;
    struct sl_exec_output out;
    char *readbuf;
};

void sl_exec_spec_init(struct sl_exec_spec *spec)
{
    memset(spec, 0, sizeof(*spec));
}

const char *sl_exec_status_name(enum sl_exec_status s)
{
    switch (s) {
    case SL_EXEC_SUCCESS:
        return "success";
    case SL_EXEC_FAILED:
        return "failed";
    case SL_EXEC_CANCELED:
        return "canceled";
    case SL_EXEC_TIMEOUT:
        return "timeout";
    }
    return "unknown";
}

const char *sl_exec_failure_name(enum sl_exec_failure f)
{
    switch (f) {
    case SL_EXEC_FAILURE_NONE:
        return "";
    case SL_EXEC_SCRIPT_FAILURE:
        return "script_failure";
    case SL_EXEC_JOB_EXECUTION_TIMEOUT:
        return "job_execution_timeout";
    case SL_EXEC_RUNNER_SYSTEM_FAILURE:
        return "runner_system_failure";
    case SL_EXEC_IMAGE_PULL_FAILURE:
        return "image_pull_failure";
    }
    return "unknown_failure";
}

/* The environment for a phase: SRC without any CI_JOB_STATUS, plus CI_JOB_STATUS=STATUS.
 * The array is new (caller frees it, not the strings); STORAGE holds our entry. */
char **sl_exec_phase_env(const char *const *src, const char *status, char **storage)
{
    const char *const *e = src ? src : (const char *const *)environ;
    size_t n = 0, k = 0;
    char **env;

    while (e && e[n])
        n++;
    env = sl_xmalloc((n + 2) * sizeof(*env));
    for (size_t i = 0; i < n; i++)
        if (!sl_starts_with(e[i], "CI_JOB_STATUS="))
            env[k++] = (char *)e[i];
    *storage = sl_xasprintf("CI_JOB_STATUS=%s", status);
    env[k++] = *storage;
    env[k] = NULL;
    return env;
}

static const char *env_lookup(const char *const *env, const char *name)
{
    size_t n = strlen(name);

    if (!env)
        return getenv(name);
    for (; *env; env++)
        if (strncmp(*env, name, n) == 0 && (*env)[n] == '=')
            return *env + n + 1;
    return NULL;
}

static int resolve_shell(struct job *j, struct sl_error *err)
{
    const char *want = j->spec->shell;
    const char *path = env_lookup(j->spec->env, "PATH");
    const char *base;

    if (!path)
        path = getenv("PATH");
    if (want) {
        j->shell_path = sl_exec_find_program(want, path);
    } else {
        j->shell_path = sl_exec_find_program("bash", path);
        if (!j->shell_path)
            j->shell_path = sl_exec_find_program("sh", path);
        want = "bash or sh";
    }
    if (!j->shell_path)
        return sl_error_set(err, SL_ENOENT, "shell %s not found in PATH %s", want,
                            path ? path : "(default)");
    base = strrchr(j->shell_path, '/');
    j->is_bash = sl_streq(base ? base + 1 : j->shell_path, "bash");
    return 0;
}

/* Reads what the pipe has now (a bounded number of chunks, so that the loop keeps
 * checking its deadlines under a flood). Returns false at end of file. */
static bool read_some(struct job *j, int fd)
{
    for (int i = 0; i < 16; i++) {
        ssize_t r = read(fd, j->readbuf, READ_CHUNK);
        if (r > 0) {
            sl_exec_output_feed(&j->out, j->readbuf, (size_t)r);
            continue;
        }
        if (r == 0)
            return false;
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN)
            break;
        return false; /* EIO and the like: nothing more will come */
    }
    sl_exec_output_flush(&j->out);
    return true;
}

static int64_t ms_until(int64_t when_ns, int64_t now_ns)
{
    if (when_ns <= now_ns)
        return 0;
    return (when_ns - now_ns + 999999) / 1000000;
}

/* A memfd holding HEAD then TEXT, or a negative code. */
static int memfd_with(const char *head, const char *text, struct sl_error *err)
{
    const char *parts[] = {head, text};
    int fd = memfd_create("sluice-script", MFD_CLOEXEC);

    if (fd < 0)
        return sl_error_set_errno(err, SL_EIO, "cannot create the script memfd");
    for (size_t i = 0; i < SL_ARRAY_LEN(parts); i++) {
        size_t len = strlen(parts[i]), off = 0;
        while (off < len) {
            ssize_t w = write(fd, parts[i] + off, len - off);
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0) {
                sl_error_set_errno(err, SL_EIO, "cannot write the script");
                close(fd);
                return SL_EIO;
            }
            off += (size_t)w;
        }
    }
    return fd;
}

/* Runs one shell with PH's script to its end. Returns 0 when the shell ran (PH says how
 * it ended), or a negative code when it could not be started. */
static int run_phase(struct job *j, struct phase *ph, struct sl_error *err)
{
    struct sl_exec_proc proc = {.pid = -1, .pidfd = -1};
    int pipefd[2] = {-1, -1}, scriptfd = -1, rc;
    bool pipe_open = true, term_sent = false, kill_sent = false, group_done = false;
    int64_t kill_at = 0, stop_at = 0;
    char *argv[SL_EXEC_SANDBOX_ARGS + 7];
    int argc = 0, nwrap = 0;

    if (j->spec->executor == SL_EXEC_SANDBOX) {
        if ((rc = nwrap = sl_exec_sandbox_argv(j->spec, argv, err)) < 0) {
            nwrap = 0;
            goto out;
        }
        argc = nwrap;
    }
    argv[argc++] = j->shell_path;
    if (j->is_bash) {
        argv[argc++] = (char *)"--noprofile";
        argv[argc++] = (char *)"--norc";
    }
    if (strlen(ph->script) <= SCRIPT_ARG_MAX) {
        /* `SHELL -c SCRIPT SHELL`: $0 is the shell, so errors read "/usr/bin/bash: line 3:
         * foo: command not found" as in GitLab's logs. */
        argv[argc++] = (char *)"-c";
        argv[argc++] = (char *)ph->script;
        argv[argc++] = j->shell_path;
    } else {
        /* Too long for one argument (the kernel caps each at 128 KiB): the shell reads it
         * from a memfd as its fd 3, which is closed first thing to keep it from jobs. */
        if ((rc = scriptfd = memfd_with("exec 3<&-\n", ph->script, err)) < 0)
            goto out;
        argv[argc++] = (char *)"/proc/self/fd/3";
    }
    argv[argc] = NULL;
    if (pipe2(pipefd, O_CLOEXEC) < 0) {
        rc = sl_error_set_errno(err, SL_EIO, "cannot create the output pipe");
        goto out;
    }
    fcntl(pipefd[0], F_SETFL, O_NONBLOCK);

    struct sl_exec_spawn_opts so = {
        .path = nwrap ? argv[0] : j->shell_path,
        .argv = argv,
        .envp = ph->envp,
        .cwd = j->spec->workdir,
        .out_fd = pipefd[1],
        .extra_fd = scriptfd,
        .set_ids = j->spec->run_as,
        .uid = j->spec->uid,
        .gid = j->spec->gid,
    };
    if ((rc = sl_exec_proc_spawn(&proc, &so, err)) < 0)
        goto out;
    close(pipefd[1]);
    pipefd[1] = -1;
    close(scriptfd);
    scriptfd = -1;

    for (;;) {
        int64_t now = sl_time_mono_ns();
        struct pollfd pfd[4];
        int npfd = 0, ipipe = -1, iproc = -1, icancel = -1, iforce = -1;
        int64_t wait_ms = -1;

        if (!proc.exited && !term_sent && ph->deadline_ns && now >= ph->deadline_ns) {
            ph->timed_out = true;
            sl_exec_proc_signal_group(&proc, SIGTERM);
            term_sent = true;
            kill_at = now + j->grace_ns;
        }
        if (kill_at && !kill_sent && now >= kill_at) {
            sl_exec_proc_signal_group(&proc, SIGKILL);
            kill_sent = true;
        }
        if (proc.reaped && !group_done) {
            /* Whether the group is empty cannot be told by kill(-pgid, 0) alone: orphans
             * that died stay in it as zombies until their new parent reaps them, which
             * some container inits never do. A closed pipe says that nobody alive
             * holds it, so once it is, what is left is finished off at once; a process
             * that still holds the pipe after TERM gets the grace period. */
            if (!kill_sent && !sl_exec_proc_group_empty(&proc) && !pipe_open) {
                sl_exec_proc_signal_group(&proc, SIGKILL);
                kill_sent = true;
            }
            if (kill_sent || sl_exec_proc_group_empty(&proc)) {
                group_done = true;
                stop_at = now + (int64_t)DRAIN_MS * 1000000;
            }
        }
        if (group_done && (!pipe_open || now >= stop_at))
            break;

        if (pipe_open) {
            ipipe = npfd;
            pfd[npfd++] = (struct pollfd){.fd = pipefd[0], .events = POLLIN};
        }
        if (!proc.exited && proc.pidfd >= 0) {
            iproc = npfd;
            pfd[npfd++] = (struct pollfd){.fd = proc.pidfd, .events = POLLIN};
        }
        if (!proc.exited && !term_sent && ph->cancel_fd >= 0) {
            icancel = npfd;
            pfd[npfd++] = (struct pollfd){.fd = ph->cancel_fd, .events = POLLIN};
        }
        if (!kill_sent && ph->force_fd >= 0) {
            iforce = npfd;
            pfd[npfd++] = (struct pollfd){.fd = ph->force_fd, .events = POLLIN};
        }
        if (!proc.exited && !term_sent && ph->deadline_ns)
            wait_ms = ms_until(ph->deadline_ns, now);
        if (kill_at && !kill_sent)
            wait_ms =
                wait_ms < 0 ? ms_until(kill_at, now) : SL_MIN(wait_ms, ms_until(kill_at, now));
        if (group_done)
            wait_ms =
                wait_ms < 0 ? ms_until(stop_at, now) : SL_MIN(wait_ms, ms_until(stop_at, now));
        if (!proc.exited && proc.pidfd < 0)
            wait_ms = wait_ms < 0 ? TICK_MS : SL_MIN(wait_ms, TICK_MS);

        if (poll(pfd, (nfds_t)npfd, (int)SL_MIN(wait_ms, INT32_MAX)) < 0 && errno != EINTR) {
            rc = sl_error_set_errno(err, SL_EIO, "poll");
            /* Cannot watch the job any more: end it rather than leave it behind. */
            sl_exec_proc_signal_group(&proc, SIGKILL);
            sl_exec_proc_reap(&proc);
            goto out;
        }
        if (ipipe >= 0 && pfd[ipipe].revents && !read_some(j, pipefd[0])) {
            pipe_open = false;
            close(pipefd[0]);
            pipefd[0] = -1;
        }
        if (icancel >= 0 && (pfd[icancel].revents & POLLIN) && !proc.exited) {
            ph->canceled = true;
            sl_exec_proc_signal_group(&proc, SIGTERM);
            term_sent = true;
            kill_at = sl_time_mono_ns() + j->grace_ns;
        }
        if (iforce >= 0 && (pfd[iforce].revents & POLLIN)) {
            /* Once the shell has exited its outcome stands; only leftovers die here. */
            if (!proc.exited)
                ph->canceled = true;
            sl_exec_proc_signal_group(&proc, SIGKILL);
            term_sent = kill_sent = true;
        }
        if (!proc.exited && (iproc < 0 || pfd[iproc].revents) && sl_exec_proc_check_exit(&proc)) {
            /* Signal what is left of the group while the zombie leader still holds the
             * group id, so that it cannot have been reused; then reap. */
            if (!term_sent) {
                sl_exec_proc_signal_group(&proc, SIGTERM);
                term_sent = true;
                kill_at = sl_time_mono_ns() + j->grace_ns;
            }
            sl_exec_proc_reap(&proc);
        }
    }
    if (pipe_open)
        read_some(j, pipefd[0]);
    sl_exec_output_end(&j->out);
    sl_exec_output_flush(&j->out);
    ph->exit_code = proc.exit_code;
    ph->signal = proc.signal;
    rc = 0;
out:
    if (proc.pid > 0 && !proc.reaped) {
        sl_exec_proc_signal_group(&proc, SIGKILL);
        sl_exec_proc_reap(&proc);
    }
    sl_exec_proc_done(&proc);
    if (proc.pidfd >= 0)
        close(proc.pidfd);
    if (pipefd[0] >= 0)
        close(pipefd[0]);
    if (pipefd[1] >= 0)
        close(pipefd[1]);
    if (scriptfd >= 0)
        close(scriptfd);
    for (int i = 0; i < nwrap; i++)
        free(argv[i]);
    return rc;
}

static void system_failure(struct sl_exec_result *r, const struct sl_error *e, const char *fallback)
{
    r->status = SL_EXEC_FAILED;
    r->failure = SL_EXEC_RUNNER_SYSTEM_FAILURE;
    snprintf(r->message, sizeof(r->message), "%s", e && e->message ? e->message : fallback);
}

static void run_after_script(struct job *j, struct sl_exec_result *r)
{
    const struct sl_exec_spec *spec = j->spec;
    struct phase ph = {.cancel_fd = -1, .force_fd = -1};
    struct sl_error err = SL_ERROR_INIT;
    const char *const *lists[] = {spec->after_script};
    char *status_var = NULL;
    int64_t tmo = sl_exec_after_script_timeout_ms(spec);

    ph.script = sl_exec_script_build(j->out.marker, j->is_bash, lists, 1);
    ph.envp = sl_exec_phase_env(spec->env, sl_exec_status_name(r->status), &status_var);
    if (tmo > 0)
        ph.deadline_ns = sl_time_mono_ns() + tmo * 1000000;
    if (spec->cancel)
        ph.force_fd = sl_exec_cancel_force_fd(spec->cancel);

    sl_exec_output_system(&j->out, "Running after_script");
    bool started = run_phase(j, &ph, &err) == 0;
    struct sl_exec_phase_end e = {ph.timed_out, ph.canceled, ph.exit_code, ph.signal};
    sl_exec_after_script_ended(&j->out, r,
                               started       ? NULL
                               : err.message ? err.message
                                             : "cannot start it",
                               &e, tmo);
    sl_exec_output_flush(&j->out);
    free((char *)ph.script);
    free(ph.envp);
    free(status_var);
    sl_error_release(&err);
}

int sl_exec_shell_run(const struct sl_exec_spec *spec, struct sl_exec_result *result,
                      struct sl_error *err)
{
    struct job j = {.spec = spec};
    struct sl_exec_result r;
    struct phase ph = {.cancel_fd = -1, .force_fd = -1};
    struct sl_error perr = SL_ERROR_INIT;
    int64_t start = sl_time_mono_ns();
    int log_fd = -1, rc = 0;
    char *status_var = NULL;

    if (!spec || !spec->script || !result)
        return sl_error_set(err, SL_EINVAL, "job %s has no script",
                            spec && spec->name ? spec->name : "(unnamed)");

    memset(&r, 0, sizeof(r));
    r.exit_code = -1;
    r.after_script_exit_code = -1;
    j.grace_ns = (spec->kill_grace_ms > 0 ? spec->kill_grace_ms : SL_EXEC_KILL_GRACE_MS) * 1000000;

    if (spec->log_path) {
        log_fd = open(spec->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (log_fd < 0) {
            sl_error_set_errno(&perr, SL_EIO, "cannot open the log file %s", spec->log_path);
            system_failure(&r, &perr, "cannot open the log file");
            goto done;
        }
    }
    sl_exec_output_init(&j.out, spec->on_line, spec->ctx, log_fd);
    sl_exec_output_set_mask(&j.out, spec->mask);
    j.readbuf = sl_xmalloc(READ_CHUNK);

    if (spec->cancel && sl_exec_cancel_requested(spec->cancel)) {
        r.status = SL_EXEC_CANCELED;
        goto done;
    }
    if (spec->workdir && !sl_fs_is_dir(spec->workdir)) {
        sl_error_set(&perr, SL_ENOENT, "working directory %s does not exist", spec->workdir);
        system_failure(&r, &perr, "");
        goto done;
    }
    if (resolve_shell(&j, &perr) < 0) {
        system_failure(&r, &perr, "");
        goto done;
    }

    const char *const *lists[] = {spec->before_script, spec->script};
    ph.script = sl_exec_script_build(j.out.marker, j.is_bash, lists, 2);
    ph.envp = sl_exec_phase_env(spec->env, "running", &status_var);
    if (spec->timeout_ms > 0)
        ph.deadline_ns = start + spec->timeout_ms * 1000000;
    if (spec->cancel) {
        ph.cancel_fd = sl_exec_cancel_fd(spec->cancel);
        ph.force_fd = sl_exec_cancel_force_fd(spec->cancel);
    }
    if (run_phase(&j, &ph, &perr) < 0) {
        system_failure(&r, &perr, "");
        goto done;
    }
    r.exit_code = ph.exit_code;
    r.signal = ph.signal;
    sl_exec_result_settle(&r, ph.timed_out, ph.canceled, ph.exit_code);

    if (sl_exec_after_script_due(spec, &r))
        run_after_script(&j, &r);

done:
    if (log_fd >= 0) {
        if (j.out.line) {
            sl_exec_output_flush(&j.out);
            /* A job whose log is incomplete did not run as it should have, but a cancel
             * or a timeout says more about what happened. */
            if (j.out.log_errno &&
                (r.status == SL_EXEC_SUCCESS || r.failure == SL_EXEC_SCRIPT_FAILURE)) {
                errno = j.out.log_errno;
                sl_error_set_errno(&perr, SL_EIO, "cannot write the log file %s", spec->log_path);
                system_failure(&r, &perr, "");
            }
        }
        close(log_fd);
    }
    r.log_bytes = j.out.bytes;
    r.log_lines = j.out.lines;
    r.duration_ms = (sl_time_mono_ns() - start) / 1000000;
    if (r.failure == SL_EXEC_RUNNER_SYSTEM_FAILURE && err)
        sl_error_set(err, perr.code ? perr.code : SL_EIO, "%s", r.message);
    *result = r;
    if (j.out.line)
        sl_exec_output_release(&j.out);
    free(j.readbuf);
    free(j.shell_path);
    free((char *)ph.script);
    free(ph.envp);
    free(status_var);
    sl_error_release(&perr);
    return rc;
}
