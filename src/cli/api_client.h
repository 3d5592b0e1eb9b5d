/* api_client.h: the commands that talk to a running server over its API (sluice var, env,
 * flag, notify) share this one small client, and its options: --url, --token and --project,
 * one table entry each (SL_CLI_API_OPTS), their defaults from the environment and their
 * checks.
 *
 *   static const struct sl_cli_opt env_opts[] = {
 *       SL_CLI_API_OPTS("", "", "the project's id (list)"), ...the command's own...};
 *
 *   struct sl_cli_api c;
 *   sl_cli_api_init(&c, "env", false);
 *   while ((opt = sl_cli_next(&ca)) > 0)
 *       if (!sl_cli_api_opt(&c, opt, ca.arg))
 *           switch (opt) { ...the command's own... }
 *   if (opt < 0) return ca.exit;
 *   if (sl_cli_api_check(&c, false) != SL_EXIT_OK) return SL_EXIT_USAGE;
 *   long status;
 *   if (sl_cli_api_call(&c, "GET", "/api/v1/environments/3", NULL, &status) < 0) ...
 *   if (status != 200) return sl_cli_api_fail(&c, status);
 *   ... c.body holds the answer ...
 *   sl_str_release(&c.body);
 */
#ifndef SL_CLI_API_CLIENT_H
#define SL_CLI_API_CLIENT_H

#include "base/compat.h"
#include "base/str.h"

#include "cli/opts.h"

/* The ids of the client's options in a command's table: above any letter a command uses. */
enum { SL_CLI_API_O_URL = 900, SL_CLI_API_O_TOKEN, SL_CLI_API_O_PROJECT };

/* The three table entries; URL_ALSO and TOKEN_ALSO (string literals) name more defaults in
 * the help (", or CI_SERVER_URL"), PROJECT_HELP is --project's help. */
#define SL_CLI_API_OPTS(url_also, token_also, project_help)                                        \
    SL_CLI_OPT_URL(SL_CLI_API_O_URL, url_also), SL_CLI_OPT_TOKEN(SL_CLI_API_O_TOKEN, token_also),  \
    {                                                                                              \
        SL_CLI_API_O_PROJECT, 0, "project", "ID", (project_help), 0                                \
    }

struct sl_cli_api {
    const char *url;     /* the server, e.g. http://127.0.0.1:8080 (borrowed) */
    const char *token;   /* an API token (borrowed) */
    const char *project; /* --project's id (borrowed), or NULL */
    const char *cmd;     /* the command's name, for messages ("var") */
    bool job;            /* a job's variables are defaults too (sluice flag in a job) */
    struct sl_str body;  /* the last answer's body (owned; sl_str_release) */
};

/* C for command CMD, its url and token from SLUICE_URL and SLUICE_TOKEN; with JOB, a job's
 * CI_SERVER_URL, CI_JOB_TOKEN and CI_PROJECT_ID when those are unset. */
void sl_cli_api_init(struct sl_cli_api *c, const char *cmd, bool job);
/* Takes option OPT (as sl_cli_next returned it) with ARG when it is one of the client's:
 * true; false for the command's own. */
bool sl_cli_api_opt(struct sl_cli_api *c, int opt, const char *arg);
/* After the options: SL_EXIT_OK, or SL_EXIT_USAGE with the error on stderr when the url or
 * token is missing, when a --project given is not a positive id, or when PROJECT_REQUIRED
 * and none was given. */
int sl_cli_api_check(const struct sl_cli_api *c, bool project_required);

/* METHOD PATH with a JSON BODY (NULL: none). 0 with *status set and c->body holding the
 * answer; -1 (with a message on stderr) when the server cannot be reached. */
int sl_cli_api_call(struct sl_cli_api *c, const char *method, const char *path, const char *body,
                    long *status);
/* Prints the server's error message of an answer that is not 2xx; returns SL_EXIT_FAIL. */
int sl_cli_api_fail(struct sl_cli_api *c, long status);

#endif
