/* jobenv.c: what a built-in worker's job starts from: its environment and its user.
 *
 * Never the server's environment (environ): that may hold a database URL with its password,
 * cloud keys or tokens, and a job runs code from any branch of a repository. The job gets a
 * standard PATH, the identity of the user it runs as and a UTF-8 locale; everything else
 * comes from its variables.
 *
 * Never the server's user either, when the server can help it: a server running as root
 * runs jobs as --run-as USER (default `nobody`), and then keeps its data directory to
 * itself: the directory is 0711 (a job reaches its own workspace under builds/ by name,
 * lists nothing), everything in it but builds/ is closed to others (the SQLite file, its
 * -wal and -shm, admin.token and secrets.key 0600, repositories, trees, logs and artifacts
 * 0700), and the server's umask becomes 077 so what it makes later stays so. The user's
 * processes cannot read /proc/<server>/environ (another user's) nor signal the server. */
#include "base/compat.h"
#include "base/alloc.h"
#include "base/fs.h"
#include "base/log.h"
#include "server/internal.h"

#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#define JOB_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define DEFAULT_RUN_AS "nobody"

char **sl_srv_job_base_env(const struct sl_server *s, const char *home_override)
{
    char **env = sl_xcalloc(8, sizeof(*env));
    size_t n = 0;
    struct passwd pw, *res = NULL;
    char buf[4096];
    const char *home = "/", *user = NULL, *shell = "/bin/sh";
    uid_t uid = s && s->run_as ? s->run_uid : geteuid();
    if (getpwuid_r(uid, &pw, buf, sizeof(buf), &res) == 0 && res) {
        home = res->pw_dir && *res->pw_dir ? res->pw_dir : home;
        user = res->pw_name;
    }
    if (home_override)
        home = home_override;
    env[n++] = sl_xstrdup("PATH=" JOB_PATH);
    env[n++] = sl_xasprintf("HOME=%s", home);
    env[n++] = sl_xasprintf("SHELL=%s", shell);
    env[n++] = sl_xstrdup("LANG=C.UTF-8");
    if (user) {
        env[n++] = sl_xasprintf("USER=%s", user);
        env[n++] = sl_xasprintf("LOGNAME=%s", user);
    }
    env[n] = NULL;
    return env;
}

/* USER as a name or a numeric uid. */
static int lookup_user(const char *user, uid_t *uid, gid_t *gid, char **home, struct sl_error *err)
{
    struct passwd pw, *res = NULL;
    char buf[4096], *end;
    unsigned long num = strtoul(user, &end, 10);
    int e = *user && !*end ? getpwuid_r((uid_t)num, &pw, buf, sizeof(buf), &res)
                           : getpwnam_r(user, &pw, buf, sizeof(buf), &res);
    if (e != 0 || !res) {
        if (*user && !*end) { /* a uid with no passwd entry: its own group, no home */
            *uid = (uid_t)num;
            *gid = (gid_t)num;
            *home = NULL;
            return 0;
        }
        return sl_error_set(err, SL_EINVAL, "--run-as: no user '%s' on this system", user);
    }
    *uid = res->pw_uid;
    *gid = res->pw_gid;
    *home =
        res->pw_dir && *res->pw_dir && sl_fs_is_dir(res->pw_dir) ? sl_xstrdup(res->pw_dir) : NULL;
    return 0;
}

/* Closes DIR's entries to everyone but the server (all but KEEP), without following links. */
static void close_entries(const char *dir, const char *keep)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    if (!d)
        return;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") || !strcmp(e->d_name, keep))
            continue;
        struct stat st;
        if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISLNK(st.st_mode))
            fchmodat(dirfd(d), e->d_name, st.st_mode & 0700, 0);
    }
    closedir(d);
}

int sl_srv_run_as_setup(struct sl_server *s, const char *user, struct sl_error *err)
{
    bool root = geteuid() == 0;
    int rc = 0;

    if (!user && !root)
        return 0; /* jobs run as the server's user: nothing else it may do */
    if (!user)
        user = DEFAULT_RUN_AS;
    uid_t uid;
    gid_t gid;
    char *home = NULL;
    if ((rc = lookup_user(user, &uid, &gid, &home, err)) < 0)
        return rc;
    if (!root) {
        free(home);
        if (uid == geteuid())
            return 0;
        return sl_error_set(err, SL_EPERM,
                            "--run-as %s: only a server started as root can run jobs as "
                            "another user",
                            user);
    }
    if (uid == 0) {
        free(home);
        sl_log(SL_LOG_WARN,
               "jobs run as root (--run-as asked for it): a job can read the "
               "server's data, keys and tokens",
               NULL);
        return 0;
    }
    s->run_as = true;
    s->run_uid = uid;
    s->run_gid = gid;
    s->run_home = home;
    umask(077);
    char *builds = sl_fs_join(s->data_dir, "builds");
    if ((rc = sl_fs_mkdir_p(builds, 0711, err)) == 0) {
        close_entries(s->data_dir, "builds");
        if (chmod(builds, 0711) < 0 || chmod(s->data_dir, 0711) < 0)
            rc = sl_error_set_errno(err, SL_EIO, "cannot set the modes of %s", s->data_dir);
    }
    free(builds);
    if (rc == 0) {
        char num[24];
        snprintf(num, sizeof(num), "%u", (unsigned)uid);
        sl_log(SL_LOG_INFO, "jobs run as another user", "user", user, "uid", num, NULL);
    }
    return rc;
}
