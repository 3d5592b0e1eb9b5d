/* The runnable job's JSON codec: a full spec survives encode/decode/encode unchanged,
 * unknown fields are ignored, versions are checked, and bad fields are named. */
#include "base/compat.h"
#include "harness/harness.h"
#include "exec/jobjson.h"
#include "base/alloc.h"

static void full_spec(struct sl_job_spec *s)
{
    static const char *const before[] = {"echo before", NULL};
    static const char *const script[] = {"echo one", "echo \"two\"\n", NULL};
    static const char *const env[] = {"A=1", "CI_JOB_ID=42", "EMPTY=", NULL};
    static const struct sl_job_source sources[] = {{"build", "/data/a/7", 7, NULL},
                                                   {"lint", "/data/a/8", 8, NULL}};
    static const char *const cpaths[] = {"node_modules/", NULL};
    static const char *const kfiles[] = {"package-lock.json", NULL};
    static const char *const fallback[] = {"main", NULL};
    static struct sl_cache_spec caches[2] = {SL_CACHE_SPEC_INIT, SL_CACHE_SPEC_INIT};
    static const char *const apaths[] = {"dist/", NULL};
    static const char *const aexcl[] = {"dist/**/*.map", NULL};
    static const char *const dotenv[] = {"build.env", NULL};
    static const char *const junit[] = {"report.xml", NULL};
    static const char *const entry[] = {"", NULL};
    static const char *const pull[] = {"always", "if-not-present", NULL};
    static const char *const alias[] = {"db", "pg", NULL};
    static const char *const cmd[] = {"postgres", "-c", "fsync=off", NULL};
    static const char *const svars[] = {"POSTGRES_PASSWORD=x", NULL};
    static const struct sl_job_image image = {"alpine:3", entry, pull,          NULL,
                                              NULL,       NULL,  "linux/arm64", "1000"};
    static const struct sl_job_image services[] = {
        {"postgres:16", NULL, NULL, alias, cmd, svars, NULL, NULL}};
    static const struct sl_job_var vars[] = {{"A", "1", false}, {"B", "$A", true}};
    static const char *const tags[] = {"docker", "linux", NULL};

    memset(s, 0, sizeof(*s));
    sl_exec_spec_init(&s->exec);
    s->exec.name = "test job";
    s->exec.before_script = before;
    s->exec.script = script;
    s->exec.env = env;
    s->exec.timeout_ms = 3600000;
    s->exec.after_script_timeout_ms = -1;
    s->exec.shell = "bash";
    s->project_dir = "/src/p";
    s->workspace = "/builds/p/3";
    s->sources = sources;
    s->nsources = 2;
    caches[0].key = "deps-main";
    caches[0].select.paths = cpaths;
    caches[0].fallback_keys = fallback;
    caches[0].policy = SL_CACHE_PULL;
    caches[1].key_files = kfiles;
    caches[1].key_prefix = "npm";
    caches[1].select.untracked = true;
    caches[1].when = SL_CACHE_ALWAYS;
    caches[1].max_bytes = 1024;
    s->caches = caches;
    s->ncaches = 2;
    s->cache_dir = "/data/cache/p";
    s->has_artifacts = true;
    s->artifacts.name = "bin";
    s->artifacts.select.paths = apaths;
    s->artifacts.select.exclude = aexcl;
    s->artifacts.expire_in_s = 86400;
    s->artifacts_when = SL_JOB_ARTIFACTS_ALWAYS;
    s->artifacts_dir = "/data/a/9";
    s->dotenv = dotenv;
    s->junit = junit;
    s->coverage = "/Total: (\\d+)%/";
    s->image = &image;
    s->services = services;
    s->nservices = 1;
    s->variables = vars;
    s->nvariables = 2;
    s->tags = tags;
}

static char *encode(const struct sl_job_spec *s)
{
    struct sl_error err = SL_ERROR_INIT;
    char *text = NULL;
    if (sl_job_json_encode(&text, s, &err) < 0)
        sl_test_fail(__FILE__, __LINE__, "encode: %s", sl_error_format(&err));
    sl_error_release(&err);
    return text ? text : sl_xstrdup("");
}

static int decode(struct sl_job_decoded *d, const char *text, struct sl_error *err)
{
    return sl_job_json_decode(d, text, strlen(text), err);
}

TEST(round_trip_is_exact)
{
    struct sl_job_spec s;
    full_spec(&s);
    char *a = encode(&s);
    struct sl_job_decoded d;
    struct sl_error err = SL_ERROR_INIT;
    CHECK_INT_EQ(decode(&d, a, &err), 0);
    char *b = encode(&d.spec);
    CHECK_STR_EQ(a, b);
    /* a few fields by hand, so a symmetric bug in both directions still shows */
    CHECK_STR_EQ(d.spec.exec.script[1], "echo \"two\"\n");
    CHECK(d.spec.exec.script[2] == NULL);
    CHECK_INT_EQ(d.spec.exec.after_script_timeout_ms, -1);
    CHECK(d.spec.exec.after_script == NULL);
    CHECK_INT_EQ(d.spec.nsources, 2);
    CHECK_INT_EQ(d.spec.sources[1].job_id, 8);
    CHECK_INT_EQ(d.spec.caches[0].policy, SL_CACHE_PULL);
    CHECK_INT_EQ(d.spec.caches[1].when, SL_CACHE_ALWAYS);
    CHECK(d.spec.caches[1].select.untracked);
    CHECK(d.spec.has_artifacts);
    CHECK_INT_EQ(d.spec.artifacts_when, SL_JOB_ARTIFACTS_ALWAYS);
    CHECK_STR_EQ(d.spec.image->name, "alpine:3");
    CHECK_STR_EQ(d.spec.image->entrypoint[0], "");
    CHECK(d.spec.image->alias == NULL);
    CHECK_INT_EQ(d.spec.nservices, 1);
    CHECK_STR_EQ(d.spec.services[0].alias[1], "pg");
    CHECK_STR_EQ(d.spec.image->platform, "linux/arm64");
    CHECK_STR_EQ(d.spec.image->user, "1000");
    CHECK_INT_EQ(d.spec.nvariables, 2);
    CHECK_STR_EQ(d.spec.variables[1].value, "$A");
    CHECK(d.spec.variables[1].raw && !d.spec.variables[0].raw);
    CHECK_STR_EQ(d.spec.tags[1], "linux");
    CHECK(d.spec.exec.on_line == NULL && d.spec.exec.log_path == NULL);
    free(a);
    free(b);
    sl_job_decoded_release(&d);
    sl_error_release(&err);
}

TEST(decoding_a_parsed_tree_is_decoding_its_text)
{
    struct sl_job_spec s;
    full_spec(&s);
    char *a = encode(&s);
    json_t *o = json_loads(a, JSON_REJECT_DUPLICATES, NULL);
    CHECK(o != NULL);
    struct sl_job_decoded d;
    struct sl_error err = SL_ERROR_INIT;
    CHECK_INT_EQ(sl_job_json_decode_tree(&d, o, &err), 0);
    json_decref(o); /* what was decoded lives in the arena, not in the tree */
    char *b = encode(&d.spec);
    CHECK_STR_EQ(a, b);
    sl_job_decoded_release(&d);
    json_t *arr = json_array();
    CHECK_INT_EQ(sl_job_json_decode_tree(&d, arr, &err), SL_EINVAL);
    CHECK(strstr(sl_error_format(&err), "expected an object") != NULL);
    sl_job_decoded_release(&d);
    json_decref(arr);
    free(a);
    free(b);
    sl_error_release(&err);
}

TEST(minimal_spec_keeps_defaults)
{
    static const char *const script[] = {"true", NULL};
    struct sl_job_spec s;
    memset(&s, 0, sizeof(s));
    sl_exec_spec_init(&s.exec);
    s.exec.script = script;
    char *a = encode(&s);
    struct sl_job_decoded d;
    struct sl_error err = SL_ERROR_INIT;
    CHECK_INT_EQ(decode(&d, a, &err), 0);
    CHECK(d.spec.exec.env == NULL); /* "not given" stays distinct from an empty list */
    CHECK(!d.spec.has_artifacts && d.spec.image == NULL && d.spec.nservices == 0);
    CHECK_INT_EQ(d.spec.ncaches, 0);
    free(a);
    sl_job_decoded_release(&d);
    sl_error_release(&err);
}

TEST(unknown_fields_are_ignored)
{
    struct sl_job_decoded d;
    struct sl_error err = SL_ERROR_INIT;
    CHECK_INT_EQ(decode(&d,
                        "{\"version\":1,\"script\":[\"true\"],\"future\":{\"x\":[1]},"
                        "\"caches\":[{\"key\":\"k\",\"new_knob\":true}]}",
                        &err),
                 0);
    CHECK_STR_EQ(d.spec.caches[0].key, "k");
    sl_job_decoded_release(&d);
    sl_error_release(&err);
}

static void expect_error(const char *text, int code, const char *needle)
{
    struct sl_job_decoded d;
    struct sl_error err = SL_ERROR_INIT;
    CHECK_INT_EQ(decode(&d, text, &err), code);
    CHECK(err.message && strstr(err.message, needle));
    if (err.message && !strstr(err.message, needle))
        fprintf(stderr, "message: %s\n", err.message);
    sl_job_decoded_release(&d);
    sl_error_release(&err);
}

TEST(versions_are_checked)
{
    expect_error("{\"script\":[\"true\"]}", SL_EUNSUPPORTED, "no version");
    expect_error("{\"version\":2,\"script\":[\"true\"]}", SL_EUNSUPPORTED, "newer");
    expect_error("{\"version\":\"1\",\"script\":[\"true\"]}", SL_EUNSUPPORTED, "no version");
}

TEST(bad_fields_are_named)
{
    expect_error("{\"version\":1}", SL_EINVAL, "script");
    expect_error("[1]", SL_EINVAL, "expected an object");
    expect_error("{\"version\":1,", SL_EINVAL, "line 1");
    expect_error("{\"version\":1,\"script\":[1]}", SL_EINVAL, "script: expected a list");
    expect_error("{\"version\":1,\"script\":[\"x\"],\"caches\":[{},{\"policy\":\"pushy\"}]}",
                 SL_EINVAL, "caches[1].policy: unknown value");
    expect_error("{\"version\":1,\"script\":[\"x\"],\"services\":[{\"alias\":[\"a\"]}]}", SL_EINVAL,
                 "services[0].name: missing");
    expect_error("{\"version\":1,\"script\":[\"x\"],\"timeout_ms\":1.5}", SL_EINVAL,
                 "timeout_ms: expected an integer");
    expect_error("{\"version\":1,\"version\":1,\"script\":[\"x\"]}", SL_EINVAL, "duplicate");
}

TEST(size_cap)
{
    size_t n = SL_JOB_JSON_MAX_BYTES + 1;
    char *big = sl_xmalloc(n + 1);
    memset(big, ' ', n);
    big[n] = 0;
    struct sl_job_decoded d;
    struct sl_error err = SL_ERROR_INIT;
    CHECK_INT_EQ(sl_job_json_decode(&d, big, n, &err), SL_ELIMIT);
    sl_job_decoded_release(&d);
    sl_error_release(&err);
    free(big);
}
