/* fuzz_api.c: libFuzzer target for the JSON bodies of the HTTP API, sent to a real server
 * (server_harness.h) as its admin, so every handler gets past authentication to its
 * parsing. Input: byte 0 picks a route of the route table that takes a body (POST, PUT and
 * PATCH under /api/v1, the Unleash APIs; the runner API and the webhooks have targets of
 * their own), byte 1 picks the ids put into its path and whether a Content-Type is sent,
 * the rest is the body, where "@REPO@" becomes the project's repository path. Routes the
 * table gains later are fuzzed without a change here.
 * Properties: no crash, no 5xx, always an answer (the harness aborts otherwise). */
#include "base/compat.h"
#include "base/str.h"
#include "server/internal.h"
#include "server_harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool takes_body(const struct route *rt)
{
    if (strcmp(rt->method, "POST") && strcmp(rt->method, "PUT") && strcmp(rt->method, "PATCH"))
        return false;
    return !strncmp(rt->pattern, "/api/v1/", 8) || !strncmp(rt->pattern, "/api/client/", 12) ||
           !strncmp(rt->pattern, "/api/frontend", 13) ||
           !strncmp(rt->pattern, "/api/v4/feature_flags/", 22);
}

/* PATTERN with its placeholders filled: {id} by one of a few ids (the project, small
 * ones, an overflow), {key}/{name}/{env}/{ref} by plain names. */
static void fill_path(struct sl_str *out, const char *pattern, unsigned pick, int64_t project)
{
    static const char *const odd_ids[] = {"1", "2", "0", "99999999999999999999999", "-1"};
    while (*pattern) {
        if (*pattern != '{') {
            sl_str_addc(out, *pattern++);
            continue;
        }
        const char *end = strchr(pattern, '}');
        if (!end)
            break;
        if (!strncmp(pattern, "{id}", 4)) {
            if (pick % 6 == 0)
                sl_str_addf(out, "%lld", (long long)project);
            else
                sl_str_adds(out, odd_ids[pick % 6 - 1]);
        } else if (!strncmp(pattern, "{env}", 5)) {
            sl_str_adds(out, "production");
        } else {
            sl_str_adds(out, pick & 8 ? "FUZZ_KEY" : "main");
        }
        pattern = end + 1;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    const struct fz_server *s = fz_server();
    size_t nbody = 0;
    const struct route *pick[512];
    for (size_t i = 0; i < sl_srv_nroutes && nbody < SL_ARRAY_LEN(pick); i++)
        if (takes_body(&sl_srv_routes[i]))
            pick[nbody++] = &sl_srv_routes[i];
    const struct route *rt = pick[data[0] % nbody];

    struct sl_str path = SL_STR_INIT, headers = SL_STR_INIT;
    fill_path(&path, rt->pattern, data[1], s->project_id);
    sl_str_addf(&headers, "Authorization: Bearer %s\r\n", s->admin);
    if (!(data[1] & 0x80))
        sl_str_adds(&headers, "Content-Type: application/json\r\n");
    const char *needle[] = {"@REPO@"}, *value[] = {s->repo_url};
    size_t len;
    char *body = fz_substitute(data + 2, size - 2, needle, value, 1, &len);
    struct fz_answer a;
    fz_http(rt->method, path.buf, headers.buf, body, len, &a);
    free(body);
    sl_str_release(&path);
    sl_str_release(&headers);
    return 0;
}
