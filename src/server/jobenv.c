/* jobenv.c: the environment a built-in worker's job starts from. Never the server's own
 * (environ): that may hold a database URL with its password, cloud keys or tokens, and a job
 * runs code from any branch of a repository. The job gets a standard PATH, the identity of
 * the user it runs as and a UTF-8 locale; everything else comes from its variables. */
#include "base/compat.h"
#include "base/alloc.h"
#include "server/internal.h"

#include <pwd.h>
#include <unistd.h>

#define JOB_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

char **srv_job_base_env(void)
{
    char **env = sl_xcalloc(8, sizeof(*env));
    size_t n = 0;
    struct passwd pw, *res = NULL;
    char buf[4096];
    const char *home = "/", *user = NULL, *shell = "/bin/sh";
    if (getpwuid_r(geteuid(), &pw, buf, sizeof(buf), &res) == 0 && res) {
        home = res->pw_dir && *res->pw_dir ? res->pw_dir : home;
        user = res->pw_name;
    }
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
