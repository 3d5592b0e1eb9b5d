/* test_agent.c: the agent's reading of GitLab's job payload (agent/payload.h), on payloads
 * shaped as GitLab's /api/v4/jobs/request sends them. */
#include "base/compat.h"
#include "agent/payload.h"
#include "base/alloc.h"
#include "harness/harness.h"

static char *load(const char *name)
{
    char *rel = sl_xasprintf("tests/data/agent/%s", name);
    char *text = sl_test_read(sl_test_source_dir(), rel);
    free(rel);
    return text;
}

static int parse(struct sl_agent_job *job, const char *text, struct sl_error *err)
{
    return sl_agent_payload_parse(job, text, strlen(text), err);
}

TEST(gitlab_payload_becomes_a_job)
{
    char *text = load("payload_gitlab.json");
    struct sl_agent_job job;
    struct sl_error err = SL_ERROR_INIT;
    CHECK(text != NULL);
    CHECK(parse(&job, text, &err) == 0);
    CHECK(job.id == 8213);
    CHECK_STR_EQ(job.token, "glcbt-64_abcdefghijklmnopqrstu");
    CHECK_STR_EQ(job.name, "test:unit");
    CHECK_STR_EQ(job.stage, "test");
    CHECK(job.project_id == 12 && job.pipeline_id == 977);
    CHECK_STR_EQ(job.project_path, "acme/shop");
    CHECK(job.timeout_s == 3600 && job.spec.exec.timeout_ms == 3600000);

    CHECK_STR_EQ(job.git.sha, "3f786850e387550fdab836ed7e6dc881de23001b");
    CHECK_STR_EQ(job.git.ref, "main");
    CHECK_STR_EQ(job.git.ref_type, "branch");
    CHECK(job.git.depth == 20);
    CHECK_STR_EQ(job.git.refspecs[0], "+refs/pipelines/977:refs/pipelines/977");
    CHECK(job.git.refspecs[2] == NULL);

    CHECK(job.nvars == 5);
    CHECK(job.vars[1].masked && !job.vars[1].public_);
    CHECK(job.vars[3].file);
    CHECK(job.vars[4].raw);
    CHECK_STR_EQ(sl_agent_job_var(&job, "CI_SERVER_URL"), "http://sluice.example:8080");
    CHECK(sl_agent_job_var(&job, "NOPE") == NULL);

    CHECK_STR_EQ(job.spec.exec.script[0], "npm ci");
    CHECK_STR_EQ(job.spec.exec.script[1], "npm test");
    CHECK(job.spec.exec.script[2] == NULL);
    CHECK_STR_EQ(job.spec.exec.after_script[0], "echo done");
    CHECK(job.spec.exec.after_script_timeout_ms == 300000);

    CHECK(job.spec.image != NULL);
    CHECK_STR_EQ(job.spec.image->name, "node:20");
    CHECK_STR_EQ(job.spec.image->entrypoint[0], "");
    CHECK_STR_EQ(job.spec.image->pull_policy[0], "if-not-present");
    CHECK(job.spec.nservices == 1);
    CHECK_STR_EQ(job.spec.services[0].name, "postgres:15");
    CHECK_STR_EQ(job.spec.services[0].alias[0], "db");
    CHECK_STR_EQ(job.spec.services[0].alias[1], "pg");
    CHECK_STR_EQ(job.spec.services[0].command[2], "fsync=off");
    CHECK_STR_EQ(job.spec.services[0].variables[0], "POSTGRES_PASSWORD=x");

    CHECK(job.nuploads == 2);
    CHECK_STR_EQ(job.uploads[0].name, "shop-dist");
    CHECK_STR_EQ(job.uploads[0].type, "archive");
    CHECK_STR_EQ(job.uploads[0].format, "zip");
    CHECK_STR_EQ(job.uploads[0].expire_in, "1 week");
    CHECK_STR_EQ(job.uploads[0].select.paths[0], "dist/");
    CHECK_STR_EQ(job.uploads[0].select.exclude[0], "dist/**/*.map");
    CHECK(job.uploads[0].when == SL_JOB_ARTIFACTS_ON_SUCCESS);
    CHECK_STR_EQ(job.uploads[1].type, "junit");
    CHECK_STR_EQ(job.uploads[1].format, "gzip");
    CHECK(job.uploads[1].expire_in == NULL);
    CHECK(job.uploads[1].when == SL_JOB_ARTIFACTS_ALWAYS);

    CHECK(job.spec.ncaches == 1);
    CHECK_STR_EQ(job.spec.caches[0].key, "npm-main");
    CHECK_STR_EQ(job.spec.caches[0].fallback_keys[0], "npm-default");
    CHECK_STR_EQ(job.spec.caches[0].select.paths[0], "node_modules/");
    CHECK(job.spec.caches[0].policy == SL_CACHE_PULL_PUSH);

    CHECK(job.ndeps == 2);
    CHECK(job.deps[0].id == 8210);
    CHECK_STR_EQ(job.deps[0].name, "build");
    CHECK_STR_EQ(job.deps[0].filename, "artifacts.zip");
    CHECK(job.deps[0].size == 1234);
    CHECK(job.deps[1].filename == NULL);
    sl_agent_job_release(&job);
    sl_error_release(&err);
    free(text);
}

TEST(minimal_payload)
{
    const char *text = "{\"id\":1,\"token\":\"t\",\"git_info\":{\"repo_url\":\"http://h/p.git\","
                       "\"sha\":\"3f786850e387550fdab836ed7e6dc881de23001b\"},"
                       "\"steps\":[{\"name\":\"script\",\"script\":[\"true\"]}]}";
    struct sl_agent_job job;
    CHECK(parse(&job, text, NULL) == 0);
    CHECK_STR_EQ(job.name, "job 1");
    CHECK(job.spec.image == NULL && job.nuploads == 0 && job.ndeps == 0);
    CHECK(job.spec.exec.after_script == NULL);
    CHECK(job.spec.exec.timeout_ms == 0);
    sl_agent_job_release(&job);
}

/* Hostile or broken payloads: one clear error naming the field, never a crash. */
TEST(bad_payloads_name_the_field)
{
    static const struct {
        const char *json;
        int rc;
        const char *msg;
    } cases[] = {
        {"[]", SL_EINVAL, "not a JSON object"},
        {"{\"id\":", SL_EINVAL, "not a JSON object"},
        {"{\"id\":1}", SL_EINVAL, "a job needs an id and a token"},
        {"{\"id\":1,\"token\":\"t\"}", SL_EINVAL, "git_info: missing"},
        {"{\"id\":1,\"token\":\"t\",\"git_info\":{\"repo_url\":\"u\",\"sha\":\"HEAD\"}}", SL_EINVAL,
         "git_info.sha: not a commit id"},
        {"{\"id\":1,\"token\":\"t\",\"git_info\":{\"repo_url\":\"u\",\"sha\":"
         "\"3f786850e387550fdab836ed7e6dc881de23001b\"},\"steps\":[{\"name\":\"script\","
         "\"script\":[1]}]}",
         SL_EINVAL, "steps[0].script: not a list of strings"},
        {"{\"id\":1,\"token\":\"t\",\"git_info\":{\"repo_url\":\"u\",\"sha\":"
         "\"3f786850e387550fdab836ed7e6dc881de23001b\"},\"steps\":[]}",
         SL_EINVAL, "steps: no script step"},
        {"{\"id\":1,\"token\":\"t\",\"git_info\":{\"repo_url\":\"u\",\"sha\":"
         "\"3f786850e387550fdab836ed7e6dc881de23001b\"},\"steps\":[{\"name\":\"script\","
         "\"script\":[]}],\"cache\":[{\"policy\":\"sometimes\"}]}",
         SL_EINVAL, "cache[0].policy: unknown value 'sometimes'"},
        {"{\"id\":1,\"token\":\"t\",\"git_info\":{\"repo_url\":\"u\",\"sha\":"
         "\"3f786850e387550fdab836ed7e6dc881de23001b\"},\"steps\":[{\"name\":\"script\","
         "\"script\":[]}],\"variables\":[{\"key\":\"A=B\",\"value\":\"x\"}]}",
         SL_EINVAL, "variables[0].key: missing or not a variable name"},
        {"{\"id\":1,\"token\":\"t\",\"git_info\":{\"repo_url\":\"u\",\"sha\":"
         "\"3f786850e387550fdab836ed7e6dc881de23001b\"},\"steps\":[{\"name\":\"script\","
         "\"script\":[]}],\"artifacts\":[{\"artifact_format\":\"rar\"}]}",
         SL_EINVAL, "artifacts[0].artifact_format: unsupported format 'rar'"},
        {"{\"id\":1,\"id\":2}", SL_EINVAL, "not a JSON object"},
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(cases); i++) {
        struct sl_agent_job job;
        struct sl_error err = SL_ERROR_INIT;
        sl_test_case_begin(cases[i].json);
        CHECK(parse(&job, cases[i].json, &err) == cases[i].rc);
        CHECK(err.message && strstr(err.message, cases[i].msg));
        sl_agent_job_release(&job);
        sl_error_release(&err);
        sl_test_case_end();
    }
}

TEST(oversized_payload_is_refused)
{
    struct sl_agent_job job;
    struct sl_error err = SL_ERROR_INIT;
    CHECK(sl_agent_payload_parse(&job, "{}", (size_t)SL_AGENT_PAYLOAD_MAX + 1, &err) == SL_ELIMIT);
    sl_agent_job_release(&job);
    sl_error_release(&err);
}

/* Shapes a payload may carry as YAML wrote them: variables as a map, a service as a bare
 * name, a cache key of files. */
TEST(yaml_shaped_fields_are_understood)
{
    const char *text =
        "{\"id\":2,\"token\":\"t\",\"git_info\":{\"repo_url\":\"http://h/p.git\","
        "\"sha\":\"3f786850e387550fdab836ed7e6dc881de23001b\"},"
        "\"steps\":[{\"name\":\"script\",\"script\":[\"true\"]}],"
        "\"image\":{\"name\":\"alpine\",\"pull_policy\":\"always\"},"
        "\"services\":[\"redis:7\",{\"name\":\"pg\",\"variables\":{\"A\":\"1\",\"B\":{\"value\":"
        "\"2\"}}}],"
        "\"cache\":[{\"key\":{\"files\":[\"Gemfile.lock\"],\"prefix\":\"gems\"},\"paths\":[\"v/"
        "\"]}]}";
    struct sl_agent_job job;
    struct sl_error err = SL_ERROR_INIT;
    CHECK(parse(&job, text, &err) == 0);
    CHECK_STR_EQ(job.spec.image->pull_policy[0], "always");
    CHECK(job.spec.nservices == 2);
    CHECK_STR_EQ(job.spec.services[0].name, "redis:7");
    CHECK_STR_EQ(job.spec.services[1].variables[0], "A=1");
    CHECK_STR_EQ(job.spec.services[1].variables[1], "B=2");
    CHECK(job.spec.caches[0].key == NULL);
    CHECK_STR_EQ(job.spec.caches[0].key_files[0], "Gemfile.lock");
    CHECK_STR_EQ(job.spec.caches[0].key_prefix, "gems");
    sl_agent_job_release(&job);
    sl_error_release(&err);
}
