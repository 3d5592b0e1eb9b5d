#include "base/compat.h"
#include "exec/spawn.h"
#include "base/alloc.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static int pidfd_open_compat(pid_t pid)
{
#ifdef SYS_pidfd_open
    return (int)syscall(SYS_pidfd_open, pid, 0);
#else
    (void)pid;
    errno = ENOSYS;
    return -1;
#endif
}

/* Returns FD, or a close-on-exec duplicate of it above 3 when FD is one of the
 * descriptors the child's file actions overwrite (a process started with 0-2 closed gets
 * its pipes there). *TMP receives the duplicate to close, or -1. */
static int above_3(int fd, int *tmp)
{
    *tmp = -1;
    if (fd < 0 || fd > 3)
        return fd;
    *tmp = fcntl(fd, F_DUPFD_CLOEXEC, 4);
    return *tmp >= 0 ? *tmp : fd;
}

/* The child of spawn_as: only system calls between fork and exec (the parent has threads,
 * whose locks may be held). Reports a failing step's errno on ERRFD and exits 127. */
static _Noreturn void child_as(const struct sl_exec_spawn_opts *opts, int out_fd, int extra_fd,
                               int errfd)
{
    struct sigaction dfl;
    sigset_t none;
    int e = 0;

    memset(&dfl, 0, sizeof(dfl));
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; sig++)
        if (sig != SIGKILL && sig != SIGSTOP)
            sigaction(sig, &dfl, NULL); /* fails harmlessly for the few it cannot set */
    sigemptyset(&none);
    if (setsid() < 0)
        goto fail;
    int null = open("/dev/null", O_RDONLY);
    if (null < 0 || dup2(null, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(out_fd, 2) < 0)
        goto fail;
    if (extra_fd >= 0 && dup2(extra_fd, 3) < 0)
        goto fail;
    if (opts->cwd && chdir(opts->cwd) < 0)
        goto fail;
    /* raw system calls: glibc's wrappers would try to signal the parent's other threads */
    if (syscall(SYS_setgroups, 0, NULL) < 0 ||
        syscall(SYS_setresgid, opts->gid, opts->gid, opts->gid) < 0 ||
        syscall(SYS_setresuid, opts->uid, opts->uid, opts->uid) < 0)
        goto fail;
    /* ERRFD (above 9, close-on-exec) stays open until exec succeeds; the rest closes now */
    syscall(SYS_close_range, extra_fd >= 0 ? 4U : 3U, (unsigned)errfd - 1, 0U);
    syscall(SYS_close_range, (unsigned)errfd + 1, ~0U, 0U);
    sigprocmask(SIG_SETMASK, &none, NULL);
    execve(opts->path, opts->argv, opts->envp);
fail:
    e = errno;
    if (write(errfd, &e, sizeof(e)) < 0)
        e = 0;
    _exit(127);
}

/* sl_exec_proc_spawn for SET_IDS: fork, drop privileges, exec; an errno from the child's
 * steps comes back over a close-on-exec pipe (nothing read: exec succeeded). */
static int spawn_as(pid_t *pidp, const struct sl_exec_spawn_opts *opts, int out_fd, int extra_fd)
{
    int errp[2], e = 0;
    sigset_t all, old;

    if (pipe2(errp, O_CLOEXEC) < 0)
        return errno;
    /* above the descriptors the child sets up (0-3), so dup2 there cannot clobber it */
    int hi = fcntl(errp[1], F_DUPFD_CLOEXEC, 10);
    if (hi < 0) {
        e = errno;
        close(errp[0]);
        close(errp[1]);
        return e;
    }
    close(errp[1]);
    errp[1] = hi;
    /* no handler of ours may run in the child before its dispositions are reset */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pid_t pid = fork();
    if (pid == 0)
        child_as(opts, out_fd, extra_fd, errp[1]);
    if (pid < 0)
        e = errno;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    close(errp[1]);
    if (pid > 0) {
        ssize_t n;
        do
            n = read(errp[0], &e, sizeof(e));
        while (n < 0 && errno == EINTR);
        if (n == (ssize_t)sizeof(e)) {
            waitpid(pid, NULL, 0);
        } else {
            e = 0;
            *pidp = pid;
        }
    }
    close(errp[0]);
    return e;
}

int sl_exec_proc_spawn(struct sl_exec_proc *p, const struct sl_exec_spawn_opts *opts,
                       struct sl_error *err)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    sigset_t all, none;
    pid_t pid;
    int rc = 0, e, tmp_out, tmp_extra;
    int out_fd = above_3(opts->out_fd, &tmp_out);
    int extra_fd = above_3(opts->extra_fd, &tmp_extra);

    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&attr);

    sigfillset(&all);
    sigdelset(&all, SIGKILL);
    sigdelset(&all, SIGSTOP);
    sigemptyset(&none);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setflags(&attr,
                             POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);

    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
    posix_spawn_file_actions_adddup2(&fa, out_fd, 2);
    if (extra_fd >= 0)
        posix_spawn_file_actions_adddup2(&fa, extra_fd, 3);
    posix_spawn_file_actions_addclosefrom_np(&fa, extra_fd >= 0 ? 4 : 3);
    if (opts->cwd)
        posix_spawn_file_actions_addchdir_np(&fa, opts->cwd);

    e = opts->set_ids ? spawn_as(&pid, opts, out_fd, extra_fd)
                      : posix_spawn(&pid, opts->path, &fa, &attr, opts->argv, opts->envp);
    if (e != 0) {
        errno = e;
        rc = sl_error_set_errno(err, e == ENOENT ? SL_ENOENT : SL_EIO, "cannot start %s%s%s",
                                opts->path, opts->cwd ? " in " : "", opts->cwd ? opts->cwd : "");
        goto out;
    }
    p->pid = pid;
    p->pidfd = pidfd_open_compat(pid);
    p->exited = false;
    p->reaped = false;
    p->exit_code = -1;
    p->signal = 0;
out:
    if (tmp_out >= 0)
        close(tmp_out);
    if (tmp_extra >= 0)
        close(tmp_extra);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    return rc;
}

static void record_status(struct sl_exec_proc *p, const siginfo_t *si)
{
    p->exited = true;
    if (si->si_code == CLD_EXITED) {
        p->exit_code = si->si_status;
        p->signal = 0;
    } else {
        p->signal = si->si_status;
        p->exit_code = 128 + si->si_status;
    }
}

bool sl_exec_proc_check_exit(struct sl_exec_proc *p)
{
    siginfo_t si;

    if (p->exited)
        return true;
    memset(&si, 0, sizeof(si));
    if (waitid(P_PID, (id_t)p->pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0) {
        if (errno == EINTR)
            return false;
        /* ECHILD: someone else reaped it (SIGCHLD ignored, or a stray wait()). The
         * status is lost; report it as killed by nothing with an impossible code. */
        p->exited = p->reaped = true;
        p->exit_code = -1;
        return true;
    }
    if (si.si_pid == 0)
        return false;
    record_status(p, &si);
    return true;
}

int sl_exec_proc_signal_group(const struct sl_exec_proc *p, int sig)
{
    return kill(-p->pid, sig) < 0 && errno == ESRCH ? -1 : 0;
}

bool sl_exec_proc_group_empty(const struct sl_exec_proc *p)
{
    return kill(-p->pid, 0) < 0 && errno == ESRCH;
}

void sl_exec_proc_reap(struct sl_exec_proc *p)
{
    if (!p->reaped) {
        siginfo_t si;
        int r;
        memset(&si, 0, sizeof(si));
        do
            r = waitid(P_PID, (id_t)p->pid, &si, WEXITED);
        while (r < 0 && errno == EINTR);
        if (r == 0 && !p->exited)
            record_status(p, &si);
        p->exited = p->reaped = true;
    }
    if (p->pidfd >= 0) {
        close(p->pidfd);
        p->pidfd = -1;
    }
}

static bool is_executable_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

char *sl_exec_find_program(const char *name, const char *search_path)
{
    const char *p = search_path, *colon;

    if (strchr(name, '/'))
        return is_executable_file(name) ? sl_xstrdup(name) : NULL;
    if (!p)
        p = "/usr/local/bin:/usr/bin:/bin";
    for (;; p = colon + 1) {
        colon = strchr(p, ':');
        size_t n = colon ? (size_t)(colon - p) : strlen(p);
        /* An empty entry (the current directory for execvp) is skipped: the job's shell
         * must not depend on where sluice happens to be started. */
        if (n) {
            char *cand = sl_xasprintf("%.*s/%s", (int)n, p, name);
            if (is_executable_file(cand))
                return cand;
            free(cand);
        }
        if (!colon)
            return NULL;
    }
}
