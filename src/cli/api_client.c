/* api_client.c: the CLI's client of the server's API (api_client.h). */
#include "base/compat.h"
#include "cli/api_client.h"
#include "base/alloc.h"
#include "cli/cli.h"

#include <curl/curl.h>
#include <jansson.h>

/* VAR, or with JOB and VAR unset or empty, JOB_VAR */
static const char *env_default(const char *var, bool job, const char *job_var)
{
    const char *v = getenv(var);
    return (v && *v) || !job ? v : getenv(job_var);
}

void sl_cli_api_init(struct sl_cli_api *c, const char *cmd, bool job)
{
    *c = (struct sl_cli_api){.url = env_default("SLUICE_URL", job, "CI_SERVER_URL"),
                             .token = env_default("SLUICE_TOKEN", job, "CI_JOB_TOKEN"),
                             .project = job ? getenv("CI_PROJECT_ID") : NULL,
                             .cmd = cmd,
                             .job = job,
                             .body = SL_STR_INIT};
}

bool sl_cli_api_opt(struct sl_cli_api *c, int opt, const char *arg)
{
    switch (opt) {
    case SL_CLI_API_O_URL:
        c->url = arg;
        return true;
    case SL_CLI_API_O_TOKEN:
        c->token = arg;
        return true;
    case SL_CLI_API_O_PROJECT:
        c->project = arg;
        return true;
    default:
        return false;
    }
}

int sl_cli_api_check(const struct sl_cli_api *c, bool project_required)
{
    if (!c->url || !*c->url || !c->token || !*c->token) {
        sl_cli_error("%s: --url and --token (or SLUICE_URL and SLUICE_TOKEN%s) are required",
                     c->cmd, c->job ? "; in a job CI_SERVER_URL and CI_JOB_TOKEN" : "");
        return SL_EXIT_USAGE;
    }
    const char *p = c->project;
    if (!p && !project_required)
        return SL_EXIT_OK;
    if (!p || !*p || strspn(p, "0123456789") != strlen(p) || strspn(p, "0") == strlen(p) ||
        strlen(p) > 18) {
        sl_cli_error("%s: --project takes a project id%s, not '%s'", c->cmd,
                     c->job ? " (or CI_PROJECT_ID)" : "", p ? p : "");
        return SL_EXIT_USAGE;
    }
    return SL_EXIT_OK;
}

static size_t collect(char *p, size_t size, size_t n, void *ctx)
{
    sl_str_add(ctx, p, size * n);
    return size * n;
}

int sl_cli_api_call(struct sl_cli_api *c, const char *method, const char *path, const char *body,
                    long *status)
{
    CURL *h = curl_easy_init();
    struct curl_slist *hdr = NULL;
    char *url = sl_xasprintf("%s%s", c->url, path);
    char *auth = sl_xasprintf("Authorization: Bearer %s", c->token);
    int rc = 0;

    sl_str_reset(&c->body);
    hdr = curl_slist_append(hdr, auth);
    hdr = curl_slist_append(hdr, "Content-Type: application/json");
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &c->body);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 60L);
    if (body)
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    CURLcode cc = curl_easy_perform(h);
    if (cc != CURLE_OK) {
        sl_cli_error("%s: %s: %s", c->cmd, c->url, curl_easy_strerror(cc));
        rc = -1;
    } else {
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
    }
    curl_slist_free_all(hdr);
    curl_easy_cleanup(h);
    free(auth);
    free(url);
    return rc;
}

int sl_cli_api_fail(struct sl_cli_api *c, long status)
{
    json_t *j = json_loads(c->body.buf ? c->body.buf : "", 0, NULL);
    const char *msg = json_string_value(json_object_get(json_object_get(j, "error"), "message"));
    sl_cli_error("%s: the server answered %ld: %s", c->cmd, status,
                 msg ? msg : (c->body.buf ? c->body.buf : ""));
    json_decref(j);
    return SL_EXIT_FAIL;
}
