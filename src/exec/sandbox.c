/* sandbox.c: the sandbox executor's helper, `sluice __sandbox OPTIONS -- SHELL ARGS...`.
 *
 * The shell executor runs sandbox jobs with this helper in front of the shell's command
 * line (sl_exec_sandbox_argv). It is a fresh, single-threaded process, so it may fork and
 * change namespaces freely:
 *   1. cgroups for the limits (v2 when /sys/fs/cgroup has the memory controller, else v1
 *      memory, pids, cpu), joined before anything else;
 *   2. unshare user (uid and gid mapped to root inside), mount, pid, ipc, uts and (unless
 *      --net-host) net namespaces;
 *   3. fork the namespace's init, which builds the view: the root (host's / or --rootfs)
 *      bind-mounted read-only, each --hide path covered by an empty tmpfs, the workspace
 *      bound writable, a fresh /tmp and /proc, loopback up; pivot_root into it; then forks
 *      the shell in its own process group, forwards TERM and INT to it, and reaps;
 *   4. wait, say `out of memory` when the memory cgroup killed something, remove the
 *      cgroups, exit with the shell's status (128 + signal when it was killed).
 * When the kernel refuses a step the helper says which and exits 125, never running the
 * job without its sandbox. */
#include "base/compat.h"
#include "exec/executors.h"
#include "base/alloc.h"
#include "base/str.h"

#include <fcntl.h>
#include <linux/mount.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <grp.h>
#include <sys/wait.h>
#include <unistd.h>

#define FAIL 125
#define NEWROOT "/tmp/.sluice-root"
#define MAX_HIDE 16

struct opts {
    const char *rootfs, *workspace;
    const char *hide[MAX_HIDE];
    int nhide;
    long long memory, pids;
    double cpus;
    bool net_host;
    char **argv;
};

static pid_t child = -1;

static void die(const char *what)
{
    fprintf(stderr, "sandbox: %s: %s\n", what, strerror(errno));
    _exit(FAIL);
}

static int put(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    ssize_t n;
    if (fd < 0)
        return -1;
    n = write(fd, text, strlen(text));
    close(fd);
    return n == (ssize_t)strlen(text) ? 0 : -1;
}

/* --- cgroups --------------------------------------------------------------------------- */

struct cg {
    bool v2;
    char dir[3][256]; /* v2: [0]; v1: memory, pids, cpu */
    int n;
};

static bool has_v2_memory(void)
{
    char buf[256] = "";
    int fd = open("/sys/fs/cgroup/cgroup.controllers", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    buf[n > 0 ? n : 0] = 0;
    return strstr(buf, "memory") != NULL;
}

/* Makes cgroup DIR for WHAT (an option), saying which controller is absent or that the
 * hierarchy is not delegated to this user: the start-up probe shows this line. */
static void cg_make(struct cg *c, const char *dir, const char *what)
{
    if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
        int e = errno;
        char parent[256];
        snprintf(parent, sizeof(parent), "%s", dir);
        *strrchr(parent, '/') = 0;
        if (e == ENOENT)
            fprintf(stderr,
                    "sandbox: %s needs a cgroup controller this machine does not mount: "
                    "neither cgroup v2 with it in /sys/fs/cgroup/cgroup.controllers nor "
                    "cgroup v1 at %s\n",
                    what, parent);
        else if (e == EACCES || e == EPERM || e == EROFS)
            fprintf(stderr,
                    "sandbox: %s needs cgroup delegation: this user (uid %d) may not create "
                    "%s: %s\n",
                    what, (int)getuid(), dir, strerror(e));
        else
            fprintf(stderr, "sandbox: cannot create the cgroup %s for %s: %s\n", dir, what,
                    strerror(e));
        _exit(FAIL);
    }
    snprintf(c->dir[c->n++], sizeof(c->dir[0]), "%s", dir);
}

static void cg_set(const char *dir, const char *file, const char *value)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, file);
    if (put(path, value) < 0) {
        fprintf(stderr, "sandbox: cannot set %s to %s: %s\n", path, value, strerror(errno));
        _exit(FAIL);
    }
}

static void cg_setup(struct cg *c, const struct opts *o)
{
    char v[64], dir[256], self[32];
    if (!o->memory && !o->pids && !o->cpus)
        return;
    snprintf(self, sizeof(self), "%d", (int)getpid());
    c->v2 = has_v2_memory();
    if (c->v2) {
        snprintf(dir, sizeof(dir), "/sys/fs/cgroup/sluice-sandbox-%d", (int)getpid());
        cg_make(c, dir, o->memory ? "--memory" : o->pids ? "--pids" : "--cpus");
        if (o->memory) {
            snprintf(v, sizeof(v), "%lld", o->memory);
            cg_set(dir, "memory.max", v);
            cg_set(dir, "memory.swap.max", "0");
        }
        if (o->pids) {
            snprintf(v, sizeof(v), "%lld", o->pids);
            cg_set(dir, "pids.max", v);
        }
        if (o->cpus) {
            snprintf(v, sizeof(v), "%lld 100000", (long long)(o->cpus * 100000));
            cg_set(dir, "cpu.max", v);
        }
        cg_set(dir, "cgroup.procs", self);
        return;
    }
    if (o->memory) {
        snprintf(dir, sizeof(dir), "/sys/fs/cgroup/memory/sluice-sandbox-%d", (int)getpid());
        cg_make(c, dir, "--memory");
        snprintf(v, sizeof(v), "%lld", o->memory);
        cg_set(dir, "memory.limit_in_bytes", v);
        cg_set(dir, "cgroup.procs", self);
    }
    if (o->pids) {
        snprintf(dir, sizeof(dir), "/sys/fs/cgroup/pids/sluice-sandbox-%d", (int)getpid());
        cg_make(c, dir, "--pids");
        snprintf(v, sizeof(v), "%lld", o->pids);
        cg_set(dir, "pids.max", v);
        cg_set(dir, "cgroup.procs", self);
    }
    if (o->cpus) {
        snprintf(dir, sizeof(dir), "/sys/fs/cgroup/cpu/sluice-sandbox-%d", (int)getpid());
        cg_make(c, dir, "--cpus");
        snprintf(v, sizeof(v), "%lld", (long long)(o->cpus * 100000));
        cg_set(dir, "cpu.cfs_period_us", "100000");
        cg_set(dir, "cpu.cfs_quota_us", v);
        cg_set(dir, "cgroup.procs", self);
    }
}

/* True when the memory cgroup killed a process. */
static bool cg_oom(const struct cg *c)
{
    char path[512], buf[4096];
    for (int i = 0; i < c->n; i++) {
        const char *file = c->v2 ? "memory.events" : "memory.oom_control";
        if (!c->v2 && !strstr(c->dir[i], "/memory/"))
            continue;
        snprintf(path, sizeof(path), "%s/%s", c->dir[i], file);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            continue;
        ssize_t n = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        buf[n > 0 ? n : 0] = 0;
        const char *k = strstr(buf, "oom_kill ");
        if (k && sl_parse_ll(k + 9) > 0)
            return true;
    }
    return false;
}

static void cg_remove(const struct cg *c)
{
    char path[512], self[32];
    snprintf(self, sizeof(self), "%d", (int)getpid());
    for (int i = 0; i < c->n; i++) {
        /* leave the cgroup first: it can only go once empty */
        snprintf(path, sizeof(path), "%s", c->dir[i]);
        char *slash = strrchr(path, '/');
        size_t len = (size_t)(slash - path);
        snprintf(slash, sizeof(path) - len, "/cgroup.procs");
        put(path, self);
        for (int t = 0; t < 200 && rmdir(c->dir[i]) < 0 && errno == EBUSY; t++)
            usleep(5000);
    }
}

/* --- the view ------------------------------------------------------------------------ */

static void mount_or_die(const char *src, const char *dst, const char *type, unsigned long flags,
                         const char *data, const char *what)
{
    if (mount(src, dst, type, flags, data) < 0) {
        fprintf(stderr, "sandbox: cannot mount %s on %s: %s\n", what, dst, strerror(errno));
        _exit(FAIL);
    }
}

static void mkdir_p(char *path)
{
    for (char *p = path + 1; *p; p++) {
        if (*p == '/') {
            *p = 0;
            mkdir(path, 0755);
            *p = '/';
        }
    }
    /* the parents may exist already; the last one must be there now (its mount follows) */
    if (mkdir(path, 0755) < 0 && errno != EEXIST)
        die("cannot make the workspace's mount point");
}

static void build_view(const struct opts *o)
{
    char p[4096], fdpath[64];
    struct mount_attr ro = {.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID};
    /* held by descriptor: the tmpfs that makes room for the new root may cover them */
    int root_fd = open(o->rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
    int ws_fd = o->workspace ? open(o->workspace, O_PATH | O_DIRECTORY | O_CLOEXEC) : -1;

    if (root_fd < 0 || (o->workspace && ws_fd < 0))
        die(root_fd < 0 ? "cannot open the root" : "cannot open the workspace");
    mount_or_die(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL, "a private /");
    mount_or_die("tmpfs", "/tmp", "tmpfs", 0, "mode=0755", "a tmpfs");
    if (mkdir(NEWROOT, 0755) < 0 && errno != EEXIST)
        die("cannot make the new root's mount point");
    snprintf(fdpath, sizeof(fdpath), "/proc/self/fd/%d", root_fd);
    mount_or_die(fdpath, NEWROOT, NULL, MS_BIND | MS_REC, NULL, "the root");
    if (syscall(SYS_mount_setattr, AT_FDCWD, NEWROOT, AT_RECURSIVE, &ro, sizeof(ro)) < 0)
        die("cannot make the root read-only (mount_setattr)");
    mount_or_die("tmpfs", NEWROOT "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777",
                 "a private /tmp");
    for (int i = 0; i < o->nhide; i++) {
        snprintf(p, sizeof(p), NEWROOT "%s", o->hide[i]);
        if (access(p, F_OK) == 0)
            mount_or_die("tmpfs", p, "tmpfs", MS_NOSUID, "mode=0755", "a tmpfs over a hidden path");
    }
    if (o->workspace) {
        snprintf(p, sizeof(p), NEWROOT "%s", o->workspace);
        mkdir_p(p); /* within /tmp or a hidden path it is not there yet */
        snprintf(fdpath, sizeof(fdpath), "/proc/self/fd/%d", ws_fd);
        mount_or_die(fdpath, p, NULL, MS_BIND | MS_REC, NULL, "the workspace");
    }
    close(root_fd);
    if (ws_fd >= 0)
        close(ws_fd);
    mount_or_die("proc", NEWROOT "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL,
                 "the job's /proc");
    if (chdir(NEWROOT) < 0 || syscall(SYS_pivot_root, ".", ".") < 0)
        die("cannot pivot_root into the job's view");
    if (umount2(".", MNT_DETACH) < 0)
        die("cannot detach the host's root");
    if (chdir(o->workspace ? o->workspace : "/") < 0)
        die("cannot enter the workspace");
}

static void loopback_up(void)
{
    struct ifreq ifr = {0};
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        return;
    snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
    if (ioctl(s, SIOCGIFFLAGS, &ifr) == 0) {
        ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
        ioctl(s, SIOCSIFFLAGS, &ifr);
    }
    close(s);
}

static void forward(int sig)
{
    if (child > 0)
        if (kill(-child, sig) < 0)
            kill(child, sig);
}

static int status_code(int st)
{
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* The namespace's init: the view, then the shell, reaped with everything else. */
static int init_main(const struct opts *o)
{
    struct sigaction sa = {.sa_handler = forward};
    int st;
    pid_t w;

    build_view(o);
    if (!o->net_host)
        loopback_up();
    sethostname("sluice-job", 10);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    child = fork();
    if (child < 0)
        die("fork");
    if (child == 0) {
        signal(SIGTERM, SIG_DFL);
        signal(SIGINT, SIG_DFL);
        setpgid(0, 0);
        execv(o->argv[0], o->argv);
        fprintf(stderr, "sandbox: cannot run %s: %s\n", o->argv[0], strerror(errno));
        _exit(127);
    }
    for (;;) {
        w = waitpid(-1, &st, 0);
        if (w == child)
            return status_code(st);
        if (w < 0 && errno != EINTR)
            return FAIL;
    }
}

/* V as a whole positive number (a byte or process count), else -1: a typo must not
 * become an unlimited job (atoll would give 0). */
static long long positive(const char *v)
{
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    return end != v && !*end && errno == 0 && n > 0 ? n : -1;
}

static int parse(int argc, char **argv, struct opts *o)
{
    int i;
    o->rootfs = "/";
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--")) {
            i++;
            break;
        }
        if (!strcmp(a, "--net-host")) {
            o->net_host = true;
            continue;
        }
        if (!v)
            return -1;
        i++;
        if (!strcmp(a, "--rootfs"))
            o->rootfs = v;
        else if (!strcmp(a, "--workspace"))
            o->workspace = v;
        else if (!strcmp(a, "--hide") && o->nhide < MAX_HIDE)
            o->hide[o->nhide++] = v;
        else if (!strcmp(a, "--memory")) {
            if ((o->memory = positive(v)) < 0)
                return -1;
        } else if (!strcmp(a, "--pids")) {
            if ((o->pids = positive(v)) < 0)
                return -1;
        } else if (!strcmp(a, "--cpus")) {
            char *end;
            errno = 0;
            o->cpus = strtod(v, &end);
            if (end == v || *end || errno || !(o->cpus > 0))
                return -1;
        } else {
            return -1;
        }
    }
    if (i >= argc)
        return -1;
    o->argv = argv + i;
    return 0;
}

/* In a child of the helper: the namespaces, then their init. Returns the job's status. */
static int enter_namespaces(const struct opts *o)
{
    struct sigaction sa = {.sa_handler = forward};
    char map[64];
    uid_t uid = getuid();
    gid_t gid = getgid();
    int flags = CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS;
    int st;

    if (!o->net_host)
        flags |= CLONE_NEWNET;
    if (unshare(flags) < 0) {
        fprintf(stderr,
                "sandbox: the kernel refuses new namespaces (user, mount, pid, ipc, uts%s): %s; "
                "user namespaces need user.max_user_namespaces above 0 (and, on kernels that "
                "have it, kernel.unprivileged_userns_clone=1)\n",
                o->net_host ? "" : ", net", strerror(errno));
        return FAIL;
    }
    put("/proc/self/setgroups", "deny");
    snprintf(map, sizeof(map), "0 %d 1", (int)uid);
    if (put("/proc/self/uid_map", map) < 0)
        die("cannot map the user into the user namespace");
    snprintf(map, sizeof(map), "0 %d 1", (int)gid);
    if (put("/proc/self/gid_map", map) < 0)
        die("cannot map the group into the user namespace");
    child = fork();
    if (child < 0)
        die("fork");
    if (child == 0)
        _exit(init_main(o));
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    while (waitpid(child, &st, 0) < 0)
        if (errno != EINTR)
            die("waitpid");
    return status_code(st);
}

int sl_exec_sandbox_main(int argc, char **argv)
{
    struct opts o = {0};
    struct cg c = {0};
    struct sigaction sa = {.sa_handler = forward};
    int st, code;

    if (parse(argc, argv, &o) < 0) {
        fprintf(stderr, "usage: sluice __sandbox [--rootfs DIR] [--workspace DIR] [--hide PATH]... "
                        "[--memory BYTES] [--pids N] [--cpus F] [--net-host] -- PROGRAM ARGS...\n");
        return 2;
    }
    cg_setup(&c, &o);
    /* the namespaces are made in a child: this process stays in the host's mount
     * namespace, where it can still remove the cgroups at the end */
    child = fork();
    if (child < 0)
        die("fork");
    if (child == 0)
        _exit(enter_namespaces(&o));
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    while (waitpid(child, &st, 0) < 0)
        if (errno != EINTR)
            die("waitpid");
    code = status_code(st);
    if (cg_oom(&c)) {
        fprintf(stderr, "sandbox: the job ran out of memory (limit %lld bytes): out of memory\n",
                o.memory);
        if (code == 0)
            code = 137;
    }
    cg_remove(&c);
    return code;
}

/* --- the command line the shell executor puts in front of the shell -------------------- */

static const char *env_value(const char *const *env, const char *name)
{
    size_t n = strlen(name);
    for (; env && *env; env++)
        if (!strncmp(*env, name, n) && (*env)[n] == '=')
            return *env + n + 1;
    return NULL;
}

int sl_exec_sandbox_argv(const struct sl_exec_spec *spec, char **argv, struct sl_error *err)
{
    const struct sl_exec_sandbox *sb = spec->sandbox;
    char self[4096];
    int n = 0;
    ssize_t len;

    if (sb && sb->helper) {
        argv[n++] = sl_xstrdup(sb->helper);
    } else {
        if ((len = readlink("/proc/self/exe", self, sizeof(self) - 1)) < 0)
            return sl_error_set_errno(err, SL_EIO, "sandbox: cannot find the sluice program");
        self[len] = 0;
        /* sluice-sandbox next to this program when it is there (it starts faster), else
         * this program's own `__sandbox` */
        char *slash = strrchr(self, '/');
        char *near = slash ? sl_xasprintf("%.*s/sluice-sandbox", (int)(slash - self), self) : NULL;
        if (near && access(near, X_OK) == 0) {
            argv[n++] = near;
        } else {
            free(near);
            argv[n++] = sl_xstrdup(self);
            argv[n++] = sl_xstrdup("__sandbox");
        }
    }
    if (spec->workdir) {
        argv[n++] = sl_xstrdup("--workspace");
        argv[n++] = sl_xstrdup(spec->workdir);
    }
    if (sb && sb->rootfs) {
        argv[n++] = sl_xstrdup("--rootfs");
        argv[n++] = sl_xstrdup(sb->rootfs);
    }
    for (const char *const *h = sb ? sb->hide : NULL; h && *h && n < SL_EXEC_SANDBOX_ARGS - 12;
         h++) {
        argv[n++] = sl_xstrdup("--hide");
        argv[n++] = sl_xstrdup(*h);
    }
    if (sb && sb->memory_bytes) {
        argv[n++] = sl_xstrdup("--memory");
        argv[n++] = sl_xasprintf("%lld", (long long)sb->memory_bytes);
    }
    if (sb && sb->pids) {
        argv[n++] = sl_xstrdup("--pids");
        argv[n++] = sl_xasprintf("%lld", (long long)sb->pids);
    }
    if (sb && sb->cpus > 0) {
        argv[n++] = sl_xstrdup("--cpus");
        argv[n++] = sl_xasprintf("%g", sb->cpus);
    }
    if (sb && sb->allow_host_network &&
        sl_streq(env_value(spec->env, "SLUICE_SANDBOX_NETWORK"), "host"))
        argv[n++] = sl_xstrdup("--net-host");
    argv[n++] = sl_xstrdup("--");
    return n;
}

/* --- the start-up probe ----------------------------------------------------------------- */

static int probe(const struct sl_exec_sandbox *sb, bool as, uid_t uid, gid_t gid,
                 struct sl_error *err)
{
    struct sl_exec_spec spec = {0};
    char *argv[SL_EXEC_SANDBOX_ARGS + 4] = {0};
    char msg[1024] = "";
    int p[2] = {-1, -1}, st = 0, rc = 0;
    size_t got = 0;
    spec.sandbox = sb;
    int n = sl_exec_sandbox_argv(&spec, argv, err);
    if (n < 0)
        return n;
    argv[n++] = sl_xstrdup("/bin/sh");
    argv[n++] = sl_xstrdup("-c");
    argv[n++] = sl_xstrdup(":");
    if (pipe2(p, O_CLOEXEC) < 0) {
        rc = sl_error_set_errno(err, SL_EIO, "sandbox: the start-up probe");
        goto out;
    }
    pid_t pid = fork();
    if (pid < 0) {
        rc = sl_error_set_errno(err, SL_EIO, "sandbox: the start-up probe");
        goto out;
    }
    if (pid == 0) {
        int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
        dup2(devnull, 0);
        dup2(devnull, 1);
        dup2(p[1], 2);
        if (as && (setgroups(0, NULL) < 0 || setgid(gid) < 0 || setuid(uid) < 0)) {
            fprintf(stderr, "sandbox: cannot become uid %d: %s\n", (int)uid, strerror(errno));
            _exit(FAIL);
        }
        execv(argv[0], argv);
        fprintf(stderr, "sandbox: cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(FAIL);
    }
    close(p[1]);
    p[1] = -1;
    for (ssize_t r;
         got < sizeof(msg) - 1 &&
         ((r = read(p[0], msg + got, sizeof(msg) - 1 - got)) > 0 || (r < 0 && errno == EINTR));)
        got += r > 0 ? (size_t)r : 0;
    msg[got] = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        char *nl = strchr(msg, '\n');
        if (nl)
            *nl = 0;
        const char *why = !strncmp(msg, "sandbox: ", 9) ? msg + 9 : msg;
        rc = sl_error_set(err, SL_EPERM,
                          "the sandbox executor cannot run on this machine: %s (a trial job "
                          "exited %d); no job is run without its sandbox",
                          *why ? why : "the helper said nothing",
                          WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
    }
out:
    if (p[0] >= 0)
        close(p[0]);
    if (p[1] >= 0)
        close(p[1]);
    for (int i = 0; i < n; i++)
        free(argv[i]);
    return rc;
}

int sl_exec_sandbox_probe(const struct sl_exec_sandbox *sb, struct sl_error *err)
{
    return probe(sb, false, 0, 0, err);
}

int sl_exec_sandbox_probe_as(const struct sl_exec_sandbox *sb, uid_t uid, gid_t gid,
                             struct sl_error *err)
{
    return probe(sb, true, uid, gid, err);
}
