/* fuzz_runner.c: libFuzzer target for the runner protocol's requests (GitLab's /api/v4 as
 * gitlab-runner sends it), to a real server (server_harness.h) that has handed a real job
 * to a real runner, so the job routes get past the job token to their parsing. Input:
 * byte 0 picks the request (verify, register, jobs/request, job update, trace patch,
 * artifacts upload), byte 1 the Content-Range of a trace patch, the job id in the path
 * and whether the JOB-TOKEN header is sent; the rest is the body, where "@RUNNER@" becomes
 * the runner's token and "@JOBTOKEN@" the running job's. When the job has ended (a fuzzed
 * update may finish it), the next input gets a new one.
 * Properties: no crash, no 5xx, always an answer. */
#include "base/compat.h"
#include "base/str.h"
#include "server_harness.h"

#include <jansson.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int64_t job_id;
static char job_token[128];

/* A new pipeline, and its first job handed to the harness's runner. */
static void take_job(const struct fz_server *s)
{
    char path[96], auth[256], body[256];
    struct fz_answer a;
    snprintf(path, sizeof(path), "/api/v1/projects/%lld/pipelines", (long long)s->project_id);
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s\r\nContent-Type: application/json\r\n",
             s->admin);
    fz_http("POST", path, auth, "{\"ref\": \"main\"}", 15, &a);
    snprintf(body, sizeof(body), "{\"token\": \"%s\", \"info\": {\"features\": {}}}", s->runner);
    fz_http("POST", "/api/v4/jobs/request", "Content-Type: application/json\r\n", body,
            strlen(body), &a);
    job_id = 0;
    if (a.status != 201)
        return; /* the next input tries again */
    json_t *v = json_loads(a.body, 0, NULL);
    job_id = json_integer_value(json_object_get(v, "id"));
    snprintf(job_token, sizeof(job_token), "%s",
             json_string_value(json_object_get(v, "token")) ?: "");
    json_decref(v);
}

static const char *const ranges[] = {
    NULL, "0-0", "0-9", "5-3", "bytes 0-10", "-1-5", "0-99999999999999999999", "10-20/30"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    const struct fz_server *s = fz_server();
    if (!job_id)
        take_job(s);
    const char *needle[] = {"@RUNNER@", "@JOBTOKEN@"}, *value[] = {s->runner, job_token};
    size_t len;
    char *body = fz_substitute(data + 2, size - 2, needle, value, 2, &len);

    struct sl_str path = SL_STR_INIT, headers = SL_STR_INIT;
    long long id = data[1] & 0x20 ? 1 : (long long)job_id;
    if (!(data[1] & 0x40))
        sl_str_addf(&headers, "JOB-TOKEN: %s\r\n", job_token);
    const char *method = "POST";
    switch (data[0] % 6) {
    case 0:
        sl_str_adds(&path, "/api/v4/runners/verify");
        break;
    case 1:
        sl_str_adds(&path, "/api/v4/runners");
        break;
    case 2:
        sl_str_adds(&path, "/api/v4/jobs/request");
        break;
    case 3:
        method = "PUT";
        sl_str_addf(&path, "/api/v4/jobs/%lld", id);
        break;
    case 4:
        method = "PATCH";
        sl_str_addf(&path, "/api/v4/jobs/%lld/trace", id);
        if (ranges[data[1] % SL_ARRAY_LEN(ranges)])
            sl_str_addf(&headers, "Content-Range: %s\r\n", ranges[data[1] % SL_ARRAY_LEN(ranges)]);
        break;
    default:
        sl_str_addf(&path, "/api/v4/jobs/%lld/artifacts?artifact_type=%s", id,
                    data[1] & 1 ? "dotenv" : "archive");
        sl_str_adds(&headers, "Content-Type: multipart/form-data; boundary=FuZz\r\n");
        break;
    }
    if (data[0] % 6 < 4)
        sl_str_adds(&headers, "Content-Type: application/json\r\n");
    struct fz_answer a;
    fz_http(method, path.buf, headers.buf, body, len, &a);
    if (data[0] % 6 >= 3 && id == job_id && a.status == 403)
        job_id = 0; /* the job has ended: the next input takes a new one */
    free(body);
    sl_str_release(&path);
    sl_str_release(&headers);
    return 0;
}
