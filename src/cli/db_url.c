/* db_url.c: where the store's URL comes from for the commands that open it (serve, token,
 * runner, secrets), without leaving a database password where every user can read it.
 *
 * A command line is public on Linux: /proc/PID/cmdline and ps show it to every user of the
 * machine, for as long as the process runs. So the URL is taken, in this order, from
 *   --db URL        (a password in it is overwritten in place with '*', so ps and
 *                    /proc/PID/cmdline no longer show it, with a warning: it was visible
 *                    until then, and stays in the shell's history);
 *   --db-file FILE  (the URL on the file's first line; the file should be mode 0600);
 *   SLUICE_DB       (the environment, readable only by the process's own user and root).
 * A password is the userinfo's after the ':' (postgres://user:PASSWORD@host/db) or the
 * value of a password= parameter (libpq's ?password=). */
#include "base/compat.h"
#include "base/alloc.h"
#include "base/fs.h"
#include "cli/cli.h"

#define DB_FILE_MAX 8192

/* Overwrites [P, P+N) with '*'. */
static void stars(char *p, size_t n)
{
    memset(p, '*', n);
}

/* Blanks the passwords of URL in place; returns how many bytes were blanked. */
static size_t scrub(char *url)
{
    size_t blanked = 0;
    char *auth = strstr(url, "://");
    if (auth) {
        auth += 3;
        size_t alen = strcspn(auth, "/?#");
        char *at = NULL;
        for (size_t i = 0; i < alen; i++)
            if (auth[i] == '@')
                at = auth + i; /* the last '@': a password may hold one unencoded */
        char *colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
        if (colon && at > colon + 1) {
            stars(colon + 1, (size_t)(at - colon - 1));
            blanked += (size_t)(at - colon - 1);
        }
    }
    /* password=VALUE anywhere after a '?' or '&' (URI parameters), or at a word's start */
    for (char *p = url; (p = strstr(p, "password=")) != NULL; p += 9) {
        if (p != url && p[-1] != '?' && p[-1] != '&' && p[-1] != ' ')
            continue;
        char *v = p + 9;
        size_t n = strcspn(v, "& ");
        stars(v, n);
        blanked += n;
    }
    return blanked;
}

bool sl_cli_store_opt(struct sl_cli_store_args *s, int opt, const char *arg)
{
    switch (opt) {
    case SL_CLI_O_DATA:
        s->data = arg;
        return true;
    case SL_CLI_O_DB:
        s->db_arg = (char *)arg; /* argv's own bytes (sl_cli_db_url scrubs the password) */
        return true;
    case SL_CLI_O_DB_FILE:
        s->db_file = arg;
        return true;
    default:
        return false;
    }
}

int sl_cli_db_url(const char *cmd, char *db_arg, const char *db_file, char **out)
{
    *out = NULL;
    if (db_arg && db_file) {
        sl_cli_error("%s: --db and --db-file name the same thing; give one", cmd);
        return -1;
    }
    if (db_arg) {
        *out = sl_xstrdup(db_arg);
        if (scrub(db_arg))
            sl_cli_error("warning: %s: the database password in --db was visible to every user "
                         "of this machine (ps, /proc/PID/cmdline) until now, and is in your "
                         "shell's history; put the URL in SLUICE_DB or a --db-file FILE (mode "
                         "0600) instead",
                         cmd);
        return 0;
    }
    if (db_file) {
        struct sl_error err = SL_ERROR_INIT;
        char *text = NULL;
        size_t len = 0;
        if (sl_fs_read_file(db_file, DB_FILE_MAX, &text, &len, &err) < 0) {
            sl_cli_error("%s: --db-file: %s", cmd, sl_error_format(&err));
            sl_error_release(&err);
            return -1;
        }
        size_t line = 0;
        while (line < len && text[line] != '\n' && text[line] != '\r')
            line++;
        /* one URL: no blank and no NUL byte in it */
        bool ok = line > 0 && strnlen(text, line) == line && strcspn(text, " \t") >= line;
        text[line] = 0;
        if (!ok) {
            free(text);
            sl_cli_error("%s: --db-file %s: its first line must be the store's URL "
                         "(postgres://..., or a SQLite file's path)",
                         cmd, db_file);
            return -1;
        }
        *out = text;
        return 0;
    }
    const char *env = getenv("SLUICE_DB");
    if (env && *env)
        *out = sl_xstrdup(env);
    unsetenv("SLUICE_DB"); /* read: no child process (git, a hook) inherits it */
    return 0;
}
