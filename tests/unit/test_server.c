/* test_server.c: the server's pure parts: webhook signature verification (with the
 * forges' published example vectors), the route table's invariants, the cache of parsed
 * job specs and which mail relays count as loopback. The HTTP API itself
 * is tested against the real binary by tests/e2e/server_*.sh. */
#include "base/compat.h"
#include "harness/harness.h"
#include "server/internal.h"
#include "server/validate.h"

/* GitHub's documentation of X-Hub-Signature-256 ("Validating webhook deliveries") gives
 * this secret, payload and signature. */
#define GH_SECRET "It's a Secret to Everybody"
#define GH_BODY "Hello, World!"
#define GH_SIG "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"

TEST(github_signature_of_the_documented_example_verifies)
{
    CHECK(sl_srv_webhook_verify(SRV_FORGE_GITHUB, GH_SECRET, "sha256=" GH_SIG, GH_BODY,
                                strlen(GH_BODY)));
    /* hex digits in upper case are the same bytes */
    CHECK(sl_srv_webhook_verify(
        SRV_FORGE_GITHUB, GH_SECRET,
        "sha256=757107EA0EB2509FC211221CCE984B8A37570B6D7586C22C46F4379C8B043E17", GH_BODY,
        strlen(GH_BODY)));
}

TEST(github_forged_or_malformed_signatures_do_not_verify)
{
    const char *bad[] = {
        "",
        "sha256=",
        GH_SIG, /* no prefix */
        ("sha1=" GH_SIG),
        "sha256=857107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17", /* 1 digit */
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e1",  /* short */
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e1700",
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e1z",
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(bad); i++) {
        sl_test_case_begin(bad[i]);
        CHECK(
            !sl_srv_webhook_verify(SRV_FORGE_GITHUB, GH_SECRET, bad[i], GH_BODY, strlen(GH_BODY)));
        sl_test_case_end();
    }
    /* the right signature of another body, or with another secret */
    CHECK(
        !sl_srv_webhook_verify(SRV_FORGE_GITHUB, GH_SECRET, "sha256=" GH_SIG, "Hello, World?", 13));
    CHECK(!sl_srv_webhook_verify(SRV_FORGE_GITHUB, "another secret", "sha256=" GH_SIG, GH_BODY,
                                 strlen(GH_BODY)));
    CHECK(!sl_srv_webhook_verify(SRV_FORGE_GITHUB, GH_SECRET, NULL, GH_BODY, strlen(GH_BODY)));
}

TEST(gitea_signature_is_the_bare_hex_hmac)
{
    CHECK(sl_srv_webhook_verify(SRV_FORGE_GITEA, GH_SECRET, GH_SIG, GH_BODY, strlen(GH_BODY)));
    CHECK(!sl_srv_webhook_verify(SRV_FORGE_GITEA, GH_SECRET, "sha256=" GH_SIG, GH_BODY,
                                 strlen(GH_BODY)));
}

TEST(hmac_of_an_empty_body_and_a_long_key)
{
    /* RFC 4231 test case 6: a 131-byte key (longer than SHA-256's block, so it is hashed
     * first) and the message "Test Using Larger Than Block-Size Key - Hash Key First". */
    char key[132];
    memset(key, 0xaa, 131);
    key[131] = '\0';
    const char *msg = "Test Using Larger Than Block-Size Key - Hash Key First";
    CHECK(sl_srv_webhook_verify(SRV_FORGE_GITEA, key,
                                "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
                                msg, strlen(msg)));
    /* HMAC-SHA256 with key "key" of the empty message */
    CHECK(sl_srv_webhook_verify(SRV_FORGE_GITEA, "key",
                                "5d5d139563c95b5967b9bd9a8c9b233a9dedb45072794cd232dc1b74832607d0",
                                "", 0));
}

TEST(gitlab_token_is_compared_whole)
{
    CHECK(sl_srv_webhook_verify(SRV_FORGE_GITLAB, "s3cret-token", "s3cret-token", "{}", 2));
    CHECK(!sl_srv_webhook_verify(SRV_FORGE_GITLAB, "s3cret-token", "s3cret-toke", "{}", 2));
    CHECK(!sl_srv_webhook_verify(SRV_FORGE_GITLAB, "s3cret-token", "s3cret-token ", "{}", 2));
    CHECK(!sl_srv_webhook_verify(SRV_FORGE_GITLAB, "s3cret-token", "", "{}", 2));
}

TEST(a_project_without_a_secret_never_verifies)
{
    CHECK(!sl_srv_webhook_verify(SRV_FORGE_GITLAB, "", "", "{}", 2));
    CHECK(!sl_srv_webhook_verify(SRV_FORGE_GITLAB, NULL, "x", "{}", 2));
    CHECK(!sl_srv_webhook_verify(SRV_FORGE_GITHUB, "", "sha256=" GH_SIG, GH_BODY, strlen(GH_BODY)));
}

TEST(route_table_declares_a_known_role_for_every_route)
{
    /* Only these answer without a token: probes and webhooks (which verify signatures). */
    const char *open_routes[] = {"/healthz",      "/readyz",      "/hooks/github",
                                 "/hooks/gitlab", "/hooks/gitea", "/api/v1/session"};
    /* Other protocols bring their own credentials, checked by the handlers: Unleash SDKs
     * Unleash tokens or GitLab instance ids, runners (/api/v4) runner and job tokens */
    const char *unleash_prefixes[] = {"/api/client/", "/api/frontend", "/api/v4/"};
    for (size_t i = 0; i < sl_srv_nroutes; i++) {
        const struct route *rt = &sl_srv_routes[i];
        sl_test_case_begin(rt->pattern);
        if (rt->role) {
            CHECK(sl_server_role_rank(rt->role) >= 0);
        } else {
            bool listed = false;
            for (size_t k = 0; k < SL_ARRAY_LEN(open_routes); k++)
                listed |= !strcmp(open_routes[k], rt->pattern);
            for (size_t k = 0; k < SL_ARRAY_LEN(unleash_prefixes); k++)
                listed |= sl_starts_with(rt->pattern, unleash_prefixes[k]);
            CHECK(listed);
        }
        CHECK(rt->fn != NULL);
        CHECK(!strcmp(rt->method, "GET") || !strcmp(rt->method, "POST") ||
              !strcmp(rt->method, "PUT") || !strcmp(rt->method, "DELETE") ||
              !strcmp(rt->method, "PATCH") || !strcmp(rt->method, "OPTIONS"));
        for (size_t k = 0; k < i; k++)
            CHECK(strcmp(sl_srv_routes[k].pattern, rt->pattern) != 0 ||
                  strcmp(sl_srv_routes[k].method, rt->method) != 0);
        /* writes need at least a developer (lint writes nothing; anyone signs out) */
        if (rt->role && strcmp(rt->method, "GET") != 0 && strcmp(rt->pattern, "/api/v1/lint") &&
            strcmp(rt->pattern, "/api/v1/session"))
            CHECK(sl_server_role_rank(rt->role) >= sl_server_role_rank("developer"));
        sl_test_case_end();
    }
}

/* Every write of the API has its request table (validate.c), so its body is checked by the
 * one validator; every table names a route that exists. */
TEST(every_api_write_has_a_request_table)
{
    for (size_t i = 0; i < sl_srv_nroutes; i++) {
        const struct route *rt = &sl_srv_routes[i];
        if (!sl_starts_with(rt->pattern, "/api/v1/") || !strcmp(rt->method, "GET") ||
            !strcmp(rt->method, "DELETE"))
            continue;
        sl_test_case_begin(rt->pattern);
        CHECK(sl_srv_request_spec_of(rt) != NULL);
        sl_test_case_end();
    }
    for (size_t i = 0; i < sl_srv_nrequest_specs; i++) {
        const struct srv_request_spec *sp = &sl_srv_request_specs[i];
        sl_test_case_begin(sp->pattern);
        bool found = false;
        for (size_t k = 0; k < sl_srv_nroutes && !found; k++)
            found = !strcmp(sl_srv_routes[k].pattern, sp->pattern) &&
                    !strcmp(sl_srv_routes[k].method, sp->method);
        CHECK(found);
        for (size_t f = 0; f < sp->nfields; f++)
            CHECK(sp->fields[f].name && sp->fields[f].type);
        sl_test_case_end();
    }
}

TEST(role_ranks_are_ordered)
{
    CHECK(sl_server_role_rank("admin") > sl_server_role_rank("maintainer"));
    CHECK(sl_server_role_rank("maintainer") > sl_server_role_rank("developer"));
    CHECK(sl_server_role_rank("developer") > sl_server_role_rank("viewer"));
    CHECK_INT_EQ(sl_server_role_rank("viewer"), 0);
    CHECK_INT_EQ(sl_server_role_rank("root"), -1);
    CHECK_INT_EQ(sl_server_role_rank(NULL), -1);
    CHECK_INT_EQ(sl_server_role_rank("Admin"), -1);
}

/* spec_view.c: a stored spec is parsed once per job id; the cache stays bounded. */
#define SPEC_A                                                                                     \
    "{\"script\":[\"make\"],\"stage_idx\":2,\"nstages\":5,\"needs_declared\":true,"                \
    "\"needs\":[0,3],\"when\":\"delayed\",\"start_in_ms\":1500,\"allow_failure\":true,"            \
    "\"allow_exit_codes\":[3,4],\"retry_max\":2,\"retry_when\":6,\"retry_exit_codes\":[137],"      \
    "\"deployment_approval\":true}"
#define SPEC_BRIDGE "{\"name\":\"b\",\"bridge\":{\"trigger\":{}},\"stage_idx\":1}"

TEST(spec_view_reads_the_schedulers_facts_once_per_job)
{
    struct srv_spec_views *c = sl_srv_spec_views_new();
    struct srv_spec_view v;
    struct sl_error err = SL_ERROR_INIT;
    unsigned long hits, misses;
    size_t n;
    CHECK_INT_EQ(sl_srv_spec_view_get(c, 7, SPEC_A, &v, &err), 0);
    CHECK_INT_EQ(v.sched.stage, 2);
    CHECK_INT_EQ((int)v.nstages, 5);
    CHECK(v.sched.needs_declared);
    CHECK_INT_EQ((int)v.sched.nneeds, 2);
    CHECK_INT_EQ((int)v.sched.needs[1], 3);
    CHECK_INT_EQ(v.sched.when, SL_SCHED_DELAYED);
    CHECK_INT_EQ((int)v.sched.start_in_ms, 1500);
    CHECK(v.sched.allow_failure);
    CHECK_INT_EQ((int)v.sched.nallow_exit_codes, 2);
    CHECK_INT_EQ(v.sched.allow_exit_codes[1], 4);
    CHECK_INT_EQ(v.sched.retry_max, 2);
    CHECK_INT_EQ((int)v.sched.retry_when, 6);
    CHECK_INT_EQ((int)v.sched.nretry_exit_codes, 1);
    CHECK_INT_EQ(v.sched.retry_exit_codes[0], 137);
    CHECK(v.deployment_approval);
    CHECK(!v.bridge);
    sl_srv_spec_view_release(&v);
    /* the same job again comes from the cache: the text is not read (a spec never changes) */
    CHECK_INT_EQ(sl_srv_spec_view_get(c, 7, "not json", &v, &err), 0);
    CHECK_INT_EQ((int)v.sched.nneeds, 2);
    CHECK_INT_EQ(v.sched.retry_exit_codes[0], 137);
    sl_srv_spec_view_release(&v);
    sl_srv_spec_views_stats(c, &hits, &misses, &n);
    CHECK_INT_EQ((int)hits, 1);
    CHECK_INT_EQ((int)misses, 1);
    /* a job whose id takes the same slot has its own view */
    CHECK_INT_EQ(sl_srv_spec_view_get(c, 7 + SL_SRV_SPEC_VIEWS_MAX, SPEC_BRIDGE, &v, &err), 0);
    CHECK(v.bridge);
    CHECK_INT_EQ(v.sched.stage, 1);
    CHECK_INT_EQ((int)v.sched.nneeds, 0);
    CHECK(v.sched.needs == NULL);
    sl_srv_spec_view_release(&v);
    /* ... and the first one, evicted, is parsed again from its text */
    CHECK_INT_EQ(sl_srv_spec_view_get(c, 7, SPEC_A, &v, &err), 0);
    CHECK_INT_EQ((int)v.sched.needs[0], 0);
    sl_srv_spec_view_release(&v);
    sl_srv_spec_views_stats(c, &hits, &misses, &n);
    CHECK_INT_EQ((int)misses, 3);
    CHECK_INT_EQ((int)n, 1);
    sl_srv_spec_views_free(c);
}

/* a view kept at the pipeline's creation (sl_srv_spec_view_put, from the spec's tree) is the
 * one the text would give, and is served without reading the text */
TEST(spec_view_put_from_the_tree_is_served_as_parsed)
{
    struct srv_spec_views *c = sl_srv_spec_views_new();
    struct srv_spec_view v, put;
    struct sl_error err = SL_ERROR_INIT;
    unsigned long hits, misses;
    size_t n;
    json_t *o = json_loads(SPEC_A, 0, NULL);
    memset(&put, 0, sizeof(put));
    CHECK(o != NULL);
    CHECK_INT_EQ(sl_srv_sched_job_from_json(o, &put.sched, &err), 0);
    sl_srv_spec_view_flags(o, &put);
    sl_srv_spec_view_put(c, 9, &put);
    sl_srv_sched_job_release(&put.sched); /* the cache keeps copies of the arrays */
    json_decref(o);
    CHECK_INT_EQ(sl_srv_spec_view_get(c, 9, "not json", &v, &err), 0);
    CHECK_INT_EQ(v.sched.stage, 2);
    CHECK_INT_EQ((int)v.nstages, 5);
    CHECK_INT_EQ((int)v.sched.nneeds, 2);
    CHECK_INT_EQ((int)v.sched.needs[1], 3);
    CHECK_INT_EQ(v.sched.allow_exit_codes[1], 4);
    CHECK_INT_EQ(v.sched.retry_exit_codes[0], 137);
    CHECK(v.deployment_approval && !v.bridge && !v.bridge_declared);
    sl_srv_spec_view_release(&v);
    sl_srv_spec_views_stats(c, &hits, &misses, &n);
    CHECK_INT_EQ((int)hits, 1);
    CHECK_INT_EQ((int)misses, 0);
    CHECK_INT_EQ((int)n, 1);
    o = json_loads(SPEC_BRIDGE, 0, NULL);
    memset(&put, 0, sizeof(put));
    CHECK_INT_EQ(sl_srv_sched_job_from_json(o, &put.sched, &err), 0);
    sl_srv_spec_view_flags(o, &put);
    sl_srv_spec_view_put(c, 9, &put); /* the same id again: replaced, not added */
    sl_srv_sched_job_release(&put.sched);
    json_decref(o);
    CHECK_INT_EQ(sl_srv_spec_view_get(c, 9, "not json", &v, &err), 0);
    CHECK(v.bridge && v.bridge_declared && v.sched.needs == NULL);
    sl_srv_spec_view_release(&v);
    sl_srv_spec_views_stats(c, &hits, &misses, &n);
    CHECK_INT_EQ((int)n, 1);
    sl_srv_spec_views_free(c);
}

TEST(spec_view_of_a_corrupt_spec_is_an_error_and_is_not_kept)
{
    struct srv_spec_views *c = sl_srv_spec_views_new();
    struct srv_spec_view v;
    struct sl_error err = SL_ERROR_INIT;
    const char *bad[] = {"", "{", "[1,2]", "\"x\"", "{\"needs\":", "null"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
        CHECK_INT_EQ(sl_srv_spec_view_get(c, 11, bad[i], &v, &err), SL_EINVAL);
        CHECK(strstr(sl_error_format(&err), "job spec") != NULL);
        sl_error_release(&err);
    }
    CHECK_INT_EQ(sl_srv_spec_view_get(c, 11, NULL, &v, &err), 0); /* no spec: "{}" */
    CHECK_INT_EQ(v.sched.stage, 0);
    sl_srv_spec_view_release(&v);
    /* wrong types read as absent, never a crash */
    CHECK_INT_EQ(
        sl_srv_spec_view_get(c, 12, "{\"needs\":\"x\",\"stage_idx\":[1],\"nstages\":-4}", &v, &err),
        0);
    CHECK_INT_EQ((int)v.sched.nneeds, 0);
    CHECK_INT_EQ((int)v.nstages, 0);
    sl_srv_spec_view_release(&v);
    sl_srv_spec_views_free(c);
}

TEST(spec_view_cache_stays_bounded)
{
    struct srv_spec_views *c = sl_srv_spec_views_new();
    struct srv_spec_view v;
    unsigned long hits, misses;
    size_t n;
    for (int64_t id = 1; id <= 3 * SL_SRV_SPEC_VIEWS_MAX; id++) {
        CHECK_INT_EQ(sl_srv_spec_view_get(c, id, SPEC_A, &v, NULL), 0);
        sl_srv_spec_view_release(&v);
    }
    sl_srv_spec_views_stats(c, &hits, &misses, &n);
    CHECK_INT_EQ((int)n, SL_SRV_SPEC_VIEWS_MAX);
    CHECK_INT_EQ((int)hits, 0);
    /* the newest jobs (one pipeline's ids are consecutive) are all still there */
    for (int64_t id = 2 * SL_SRV_SPEC_VIEWS_MAX + 1; id <= 3 * SL_SRV_SPEC_VIEWS_MAX; id++) {
        CHECK_INT_EQ(sl_srv_spec_view_get(c, id, "not json", &v, NULL), 0);
        sl_srv_spec_view_release(&v);
    }
    sl_srv_spec_views_stats(c, &hits, &misses, &n);
    CHECK_INT_EQ((int)hits, SL_SRV_SPEC_VIEWS_MAX);
    sl_srv_spec_views_free(c);
}

/* Workers, HTTP threads and the ticker share the cache: lookups and evictions from several
 * threads at once give every caller its own job's view (make check runs this under TSan). */
struct spec_view_hammer {
    struct srv_spec_views *c;
    int seed;
    int wrong;
};

static void *spec_view_hammer_run(void *arg)
{
    struct spec_view_hammer *h = arg;
    for (int i = 0; i < 20000; i++) {
        /* ids that share slots (id and id + SLOTS) so threads evict each other's entries */
        int64_t id =
            1 + (int64_t)((i * 7 + h->seed) % 64) + (i % 3 == 0 ? SL_SRV_SPEC_VIEWS_MAX : 0);
        char spec[96];
        snprintf(spec, sizeof(spec), "{\"stage_idx\":%d,\"needs\":[%d,%d]}", (int)(id % 1000),
                 (int)(id % 97), (int)(id % 89));
        struct srv_spec_view v;
        if (sl_srv_spec_view_get(h->c, id, spec, &v, NULL) != 0 || v.sched.stage != id % 1000 ||
            v.sched.nneeds != 2 || v.sched.needs[0] != (size_t)(id % 97) ||
            v.sched.needs[1] != (size_t)(id % 89))
            h->wrong++;
        sl_srv_spec_view_release(&v);
    }
    return NULL;
}

TEST(spec_view_cache_is_shared_by_threads)
{
    struct srv_spec_views *c = sl_srv_spec_views_new();
    pthread_t th[4];
    struct spec_view_hammer h[4];
    for (int i = 0; i < 4; i++) {
        h[i] = (struct spec_view_hammer){c, i * 13, 0};
        CHECK(pthread_create(&th[i], NULL, spec_view_hammer_run, &h[i]) == 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        CHECK_INT_EQ(h[i].wrong, 0);
    }
    unsigned long hits, misses;
    size_t n;
    sl_srv_spec_views_stats(c, &hits, &misses, &n);
    CHECK_INT_EQ((int)(hits + misses), 80000);
    CHECK(n <= 64);
    sl_srv_spec_views_free(c);
}

TEST(smtp_loopback_is_judged_by_the_host_as_written)
{
    static const char *const lo[] = {"smtp://127.0.0.1",    "smtp://127.0.0.1:2525",
                                     "smtp://localhost:25", "smtp://u:p@127.1.2.3:587",
                                     "smtp://[::1]:25",     "smtp://127.255.255.254"};
    for (size_t i = 0; i < SL_ARRAY_LEN(lo); i++)
        CHECK(sl_srv_smtp_loopback(lo[i]));
    /* a name is never resolved: one that starts like a loopback address is DNS's to place */
    static const char *const not_lo[] = {"smtp://127.mail.example.com",
                                         "smtp://127.0.0.1.example.com:25",
                                         "smtp://u:p@127.evil.example:587",
                                         "smtp://192.0.2.2:25",
                                         "smtp://128.0.0.1",
                                         "smtp://localhost.example.com",
                                         "smtp://[::2]:25",
                                         "smtp://",
                                         "not a url"};
    for (size_t i = 0; i < SL_ARRAY_LEN(not_lo); i++)
        CHECK(!sl_srv_smtp_loopback(not_lo[i]));
}
