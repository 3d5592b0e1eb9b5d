/* api_client.h: the commands that talk to a running server over its API (sluice var,
 * sluice env) share this one small client.
 *
 *   struct sl_cli_api c = {url, token, "env", SL_STR_INIT};
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

struct sl_cli_api {
    const char *url;    /* the server, e.g. http://127.0.0.1:8080 (borrowed) */
    const char *token;  /* an API token (borrowed) */
    const char *cmd;    /* the command's name, for messages ("var") */
    struct sl_str body; /* the last answer's body (owned; sl_str_release) */
};

/* METHOD PATH with a JSON BODY (NULL: none). 0 with *status set and c->body holding the
 * answer; -1 (with a message on stderr) when the server cannot be reached. */
int sl_cli_api_call(struct sl_cli_api *c, const char *method, const char *path, const char *body,
                    long *status);
/* Prints the server's error message of an answer that is not 2xx; returns SL_EXIT_FAIL. */
int sl_cli_api_fail(struct sl_cli_api *c, long status);

#endif
