#include "base/compat.h"
#include "exec/spawn.h"
#include "base/alloc.h"
#include "base/fs.h"
#include "base/log.h"
#include "base/str.h"
#include "exec/exec.h"

#include <dirent.h>

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
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

/* IN_FD (>= 0): the child's standard input instead of /dev/null (the guard's script; not
 * with SET_IDS). */
static int proc_spawn(struct sl_exec_proc *p, const struct sl_exec_spawn_opts *opts, int in_fd,
                      struct sl_error *err)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    sigset_t all, none;
    pid_t pid;
    int rc = 0, e, tmp_out, tmp_extra, tmp_in;
    int out_fd = above_3(opts->out_fd, &tmp_out);
    int extra_fd = above_3(opts->extra_fd, &tmp_extra);
    in_fd = above_3(in_fd, &tmp_in);

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

    if (in_fd >= 0)
        posix_spawn_file_actions_adddup2(&fa, in_fd, 0);
    else
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
    if (tmp_in >= 0)
        close(tmp_in);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    return rc;
}

/* --- the guard ------------------------------------------------------------------------
 *
 * One /bin/sh per process, started with its first job, told the process group of each job
 * as it starts ("+ PGID") and as it is finished with ("- PGID") over a socket whose other
 * end only this process holds (close-on-exec, and every child's descriptors above the
 * ones it is given are closed). When this process is gone, however it died (kill -9
 * included), the kernel closes that end: the guard reads the end of its input and sends
 * SIGTERM to every group still listed, then SIGKILL a second later, so that nothing of a
 * job outlives the server, agent or `sluice run` that ran it, not even a child that
 * ignores SIGHUP (a sandbox job's group holds its pid namespace's init, so all of the
 * sandbox goes). The guard is in a session of its own and ignores the signals a terminal
 * or a service manager's stop sends, so it is there when its input ends. A socket rather
 * than a pipe: send(MSG_NOSIGNAL) to a guard that is gone is an error, not SIGPIPE. When
 * it is gone (killed by someone) the next job starts another and tells it every group
 * still running. A process that left its job's group (setsid, a daemon) is not its job's
 * any more, here as in the shell executor's end of a job. Its command line is short,
 * `sluice-guard -s <pid of this process>` (argv[0] set, the script read from its standard
 * input, a pipe that holds it all), so that ps shows what it is and whose, not the script. */
static const char guard_script[] =
    "trap '' HUP INT QUIT TERM PIPE\n"
    "g=' '\n"
    "while read -r op pg <&3; do\n"
    "  case $op in\n"
    "  +) g=\"$g$pg \" ;;\n"
    "  -) case $g in *\" $pg \"*) g=\"${g%%\" $pg \"*} ${g#*\" $pg \"}\" ;; esac ;;\n"
    "  esac\n"
    "done\n"
    "[ \"$g\" = ' ' ] && exit 0\n"
    "for pg in $g; do kill -s TERM -- \"-$pg\"; done 2>/dev/null\n"
    "sleep 1\n"
    "for pg in $g; do kill -s KILL -- \"-$pg\"; done 2>/dev/null\n";

static pthread_mutex_t guard_mu = PTHREAD_MUTEX_INITIALIZER;
static pid_t guard_pid = -1;
static int guard_fd = -1;
static pid_t *guarded;           /* the groups the guard is to kill, under guard_mu */
static long long *guarded_start; /* their leaders' start times (proc_start), -1: unknown */
static size_t nguarded, guarded_cap;
static char *record_file; /* sl_exec_groups_record's file, NULL: none; under guard_mu */

/* The start time of process PID (clock ticks after boot, /proc/PID/stat's 22nd field),
 * which with its pid tells it from a later process given the same pid; *PGRP (when not
 * NULL) gets its process group. -1 when there is no such process. */
static long long proc_start(pid_t pid, pid_t *pgrp)
{
    char path[48], buf[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    char *p = strrchr(buf, ')'); /* the command name may hold anything, ')' included */
    char state;
    int pg;
    unsigned long long start;
    if (!p ||
        sscanf(p + 1,
               " %c %*d %d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d %llu",
               &state, &pg, &start) != 3)
        return -1;
    if (pgrp)
        *pgrp = pg;
    return (long long)start;
}

/* Under guard_mu: writes the list to RECORD_FILE (this process's pid and start time, then
 * one line per group), or removes it when no group is listed. A new file renamed over the
 * old, so a crash leaves one or the other. */
static void record_write(void)
{
    if (!record_file)
        return;
    if (nguarded == 0) {
        unlink(record_file);
        return;
    }
    struct sl_str b = SL_STR_INIT;
    sl_str_addf(&b, "%d %lld\n", (int)getpid(), proc_start(getpid(), NULL));
    for (size_t i = 0; i < nguarded; i++)
        sl_str_addf(&b, "%d %lld\n", (int)guarded[i], guarded_start[i]);
    char *tmp = sl_xasprintf("%s.tmp", record_file);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    bool ok = fd >= 0 && write(fd, b.buf, b.len) == (ssize_t)b.len;
    if (fd >= 0)
        close(fd);
    if (!ok || rename(tmp, record_file) < 0)
        unlink(tmp);
    free(tmp);
    sl_str_release(&b);
}

void sl_exec_groups_record(const char *dir)
{
    char *file = NULL;
    if (dir && sl_fs_mkdir_p(dir, 0700, NULL) == 0)
        file = sl_xasprintf("%s/groups-%d", dir, (int)getpid());
    pthread_mutex_lock(&guard_mu);
    free(record_file);
    record_file = file;
    record_write();
    pthread_mutex_unlock(&guard_mu);
}

int sl_exec_groups_recover(const char *dir)
{
    DIR *d = opendir(dir);
    int killed = 0;
    struct dirent *e;
    if (!d)
        return 0;
    while ((e = readdir(d))) {
        int owner;
        long long owner_start, start;
        char end;
        if (sscanf(e->d_name, "groups-%d%c", &owner, &end) != 1 || owner == (int)getpid())
            continue;
        char *path = sl_fs_join(dir, e->d_name);
        FILE *f = fopen(path, "re");
        if (!f) {
            free(path);
            continue;
        }
        /* its sluice still runs: its groups are its own (its guard's) */
        if (fscanf(f, "%d %lld", &owner, &owner_start) == 2 &&
            proc_start((pid_t)owner, NULL) == owner_start && owner_start >= 0) {
            fclose(f);
            free(path);
            continue;
        }
        int pg;
        while (fscanf(f, "%d %lld", &pg, &start) == 2) {
            pid_t pgrp = -1;
            /* the same process as recorded, still leading its group: a job left behind */
            if (pg > 1 && start >= 0 && proc_start((pid_t)pg, &pgrp) == start && pgrp == pg &&
                kill(-(pid_t)pg, SIGKILL) == 0)
                killed++;
        }
        fclose(f);
        unlink(path);
        free(path);
    }
    closedir(d);
    if (killed > 0) {
        char num[16];
        snprintf(num, sizeof(num), "%d", killed);
        sl_log(SL_LOG_WARN, "processes of jobs left running by a crash killed", "groups", num,
               NULL);
    }
    return killed;
}

void sl_exec_groups_take_over(const char *dir)
{
    sl_exec_groups_recover(dir);
    sl_exec_groups_record(dir);
}

static bool guard_send(char op, pid_t pgid)
{
    char line[32];
    int n = snprintf(line, sizeof(line), "%c %d\n", op, (int)pgid);
    for (int off = 0; off < n;) {
        ssize_t w = send(guard_fd, line + off, (size_t)(n - off), MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        off += (int)w;
    }
    return true;
}

/* Under guard_mu: a guard that is gone is reaped; then one is started when there is none,
 * told every group of GUARDED. False when none runs. */
static bool guard_ready(void)
{
    static char *const envp[] = {(char *)"PATH=/usr/local/bin:/usr/bin:/bin", NULL};
    char self[24];
    char *argv[] = {(char *)"sluice-guard", (char *)"-s", self, NULL};
    struct sl_exec_proc g;
    int sv[2], script[2], null;

    if (guard_fd >= 0)
        return true;
    snprintf(self, sizeof(self), "%d", (int)getpid());
    if (pipe2(script, O_CLOEXEC) < 0)
        return false;
    /* the whole script fits in the pipe's buffer: written now, read by the guard */
    bool wrote = write(script[1], guard_script, sizeof(guard_script) - 1) ==
                 (ssize_t)(sizeof(guard_script) - 1);
    close(script[1]);
    if (!wrote || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
        close(script[0]);
        return false;
    }
    if ((null = open("/dev/null", O_WRONLY | O_CLOEXEC)) < 0) {
        close(script[0]);
        close(sv[0]);
        close(sv[1]);
        return false;
    }
    struct sl_exec_spawn_opts o = {
        .path = "/bin/sh",
        .argv = argv,
        .envp = envp,
        .cwd = "/", /* holds no directory of the server's (a data directory, a mount) busy */
        .out_fd = null,
        .extra_fd = sv[1]};
    int rc = proc_spawn(&g, &o, script[0], NULL);
    close(script[0]);
    close(sv[1]);
    close(null);
    if (rc < 0) {
        close(sv[0]);
        return false;
    }
    if (g.pidfd >= 0)
        close(g.pidfd);
    guard_pid = g.pid;
    guard_fd = sv[0];
    for (size_t i = 0; i < nguarded; i++)
        if (!guard_send('+', guarded[i]))
            return false;
    return true;
}

/* Under guard_mu: the guard is not listening any more: ended and reaped. */
static void guard_lost(void)
{
    close(guard_fd);
    guard_fd = -1;
    kill(guard_pid, SIGKILL);
    while (waitpid(guard_pid, NULL, 0) < 0 && errno == EINTR)
        ;
    guard_pid = -1;
}

/* Lists PGID (ADD) or takes it off the list, and tells the guard (started when there is
 * none); a guard that cannot start leaves the list to the next one. */
static void guard_tell(pid_t pgid, bool add)
{
    bool told = false;
    pthread_mutex_lock(&guard_mu);
    if (add) {
        if (nguarded == guarded_cap) {
            guarded_cap = guarded_cap ? 2 * guarded_cap : 8;
            guarded = sl_xrealloc(guarded, guarded_cap * sizeof(*guarded));
            guarded_start = sl_xrealloc(guarded_start, guarded_cap * sizeof(*guarded_start));
        }
        guarded_start[nguarded] = proc_start(pgid, NULL);
        guarded[nguarded++] = pgid;
    } else {
        for (size_t i = 0; i < nguarded; i++)
            if (guarded[i] == pgid) {
                guarded_start[i] = guarded_start[nguarded - 1];
                guarded[i] = guarded[--nguarded];
                break;
            }
    }
    record_write();
    /* a guard found gone is replaced once: it is told every group, this one included */
    for (int attempt = 0; attempt < 2 && !told; attempt++) {
        bool fresh = guard_fd < 0;
        if (!guard_ready())
            break;
        told = fresh || guard_send(add ? '+' : '-', pgid);
        if (!told)
            guard_lost();
    }
    if (!told && guard_fd >= 0)
        guard_lost();
    pthread_mutex_unlock(&guard_mu);
}

int sl_exec_proc_spawn(struct sl_exec_proc *p, const struct sl_exec_spawn_opts *opts,
                       struct sl_error *err)
{
    int rc = proc_spawn(p, opts, -1, err);
    p->guarded = rc == 0;
    if (rc == 0)
        guard_tell(p->pid, true);
    return rc;
}

void sl_exec_proc_done(struct sl_exec_proc *p)
{
    if (p->guarded)
        guard_tell(p->pid, false);
    p->guarded = false;
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
