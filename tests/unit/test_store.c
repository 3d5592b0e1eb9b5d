/* test_store.c: the store suite. Every STORE_TEST runs twice, as "sqlite/NAME" on a fresh
 * file and as "postgres/NAME" on a fresh schema of a PostgreSQL server that this test starts
 * on a private unix socket (scripts/pg-test-server.sh; SL_TEST_PG_URL uses an existing one
 * instead). When PostgreSQL cannot be started the postgres cases are SKIPPED, loudly; with
 * SL_REQUIRE_PG=1 they fail instead. */
#include "base/compat.h"
#include "harness/harness.h"
#include "base/alloc.h"
#include "base/fs.h"
#include "base/str.h"
#include "base/time.h"
#include "store/backend.h"
#include "store/migrate.h"
#include "store/flags.h"
#include "store/store.h"

#include <libpq-fe.h>
#include <pthread.h>
#include <sodium.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- the PostgreSQL server ---- */

static char *pg_url;    /* base URL, or NULL */
static char *pg_why;    /* why there is none */
static bool pg_started; /* by us: stop at exit */
static bool pg_tried;

static void pg_stop(void)
{
    if (!pg_started)
        return;
    char *cmd = sl_xasprintf("'%s/scripts/pg-test-server.sh' stop '%s' >/dev/null 2>&1",
                             sl_test_source_dir(), pg_url);
    if (system(cmd) != 0)
        fprintf(stderr, "test_store: could not stop the PostgreSQL test server %s\n", pg_url);
    free(cmd);
}

static const char *pg_server(void)
{
    if (pg_tried)
        return pg_url;
    pg_tried = true;
    const char *env = getenv("SL_TEST_PG_URL");
    if (env && *env) {
        pg_url = sl_xstrdup(env);
        return pg_url;
    }
    char *cmd = sl_xasprintf("'%s/scripts/pg-test-server.sh' start --watch %d 2>&1",
                             sl_test_source_dir(), (int)getpid());
    FILE *f = popen(cmd, "r");
    free(cmd);
    struct sl_str out = SL_STR_INIT;
    char buf[512];
    size_t n;
    while (f && (n = fread(buf, 1, sizeof(buf), f)) > 0)
        sl_str_add(&out, buf, n);
    int status = f ? pclose(f) : -1;
    while (out.len && out.buf[out.len - 1] == '\n')
        sl_str_truncate(&out, out.len - 1);
    if (status == 0 && sl_starts_with(out.buf, "postgresql://")) {
        pg_url = sl_str_detach(&out);
        pg_started = true;
        atexit(pg_stop);
    } else {
        pg_why = sl_xasprintf("PostgreSQL test server did not start (exit %d): %s",
                              WIFEXITED(status) ? WEXITSTATUS(status) : -1, out.buf);
    }
    sl_str_release(&out);
    return pg_url;
}

/* Empties the database: every test starts from nothing. */
static int pg_reset(const char *url, char **why)
{
    PGconn *c = PQconnectdb(url);
    int rc = 0;
    if (PQstatus(c) != CONNECTION_OK) {
        *why = sl_xasprintf("connect: %s", PQerrorMessage(c));
        rc = -1;
    } else {
        PGresult *r = PQexec(c, "SET client_min_messages = warning; "
                                "DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public");
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
            *why = sl_xasprintf("reset: %s", PQresultErrorMessage(r));
            rc = -1;
        }
        PQclear(r);
    }
    PQfinish(c);
    return rc;
}

/* ---- running each test on both backends ---- */

typedef void (*store_body)(struct sl_store *st, const char *url);

static void run_on(const char *backend, store_body body)
{
    char *url = NULL;
    struct sl_store *st = NULL;
    struct sl_error err = SL_ERROR_INIT;

    if (sl_streq(backend, "postgres")) {
        char *why = NULL;
        if (!pg_server()) {
            if (getenv("SL_REQUIRE_PG")) {
                sl_test_fail(__FILE__, __LINE__, "SL_REQUIRE_PG is set: %s", pg_why);
                return;
            }
            SKIP("%s", pg_why);
        }
        if (pg_reset(pg_url, &why) < 0) {
            sl_test_fail(__FILE__, __LINE__, "%s", why);
            free(why);
            return;
        }
        url = sl_xstrdup(pg_url);
    } else {
        url = sl_xasprintf("sqlite://%s/store.db", sl_test_tmpdir());
    }
    if (sl_store_open(&st, url, &err) < 0)
        sl_test_fail(__FILE__, __LINE__, "open %s: %s", url, sl_error_format(&err));
    else
        body(st, url);
    sl_store_close(st);
    sl_error_release(&err);
    free(url);
}

static void run_both(const char *name, store_body body)
{
    static const char *const backends[] = {"sqlite", "postgres"};
    for (size_t i = 0; i < SL_ARRAY_LEN(backends); i++) {
        char *case_name = sl_xasprintf("%s/%s", backends[i], name);
        sl_test_case_begin(case_name);
        run_on(backends[i], body);
        sl_test_case_end();
        free(case_name);
    }
}

#define STORE_TEST(name)                                                                           \
    static void name##_body(struct sl_store *st, const char *url);                                 \
    TEST(name)                                                                                     \
    {                                                                                              \
        run_both(#name, name##_body);                                                              \
    }                                                                                              \
    static void name##_body(struct sl_store *st, SL_UNUSED const char *url)

#define CHECK_OK(call)                                                                             \
    do {                                                                                           \
        struct sl_error e_ = SL_ERROR_INIT;                                                        \
        int rc_ = (call);                                                                          \
        if (rc_ < 0) {                                                                             \
            sl_test_fail(__FILE__, __LINE__, "%s: %d %s", #call, rc_, sl_error_format(&e_));       \
            sl_error_release(&e_);                                                                 \
            return;                                                                                \
        }                                                                                          \
        sl_error_release(&e_);                                                                     \
    } while (0)

/* CALL (which uses `e_` as its error) must fail with CODE. */
#define CHECK_FAILS(code, call)                                                                    \
    do {                                                                                           \
        struct sl_error e_ = SL_ERROR_INIT;                                                        \
        int rc_ = (call);                                                                          \
        if (rc_ != (code)) {                                                                       \
            sl_test_fail(__FILE__, __LINE__, "%s: got %d (%s), want %d", #call, rc_,               \
                         e_.message ? e_.message : "", (int)(code));                               \
            sl_error_release(&e_);                                                                 \
            return;                                                                                \
        }                                                                                          \
        sl_error_release(&e_);                                                                     \
    } while (0)

/* ---- fixtures ---- */

static int64_t make_project(struct sl_store *st, const char *name)
{
    struct sl_store_project p = {.name = (char *)name, .repo_url = (char *)"file:///srv/repo.git"};
    int64_t id = 0;
    if (sl_store_project_create(st, &p, 1000, &id, NULL) < 0)
        return 0;
    return id;
}

/* A pipeline of N jobs "job-<i>" in status STATUS, queued at QUEUED_AT + i. */
static int64_t make_pipeline(struct sl_store *st, int64_t project, size_t n, const char *status,
                             int64_t queued_at)
{
    struct sl_store_pipeline p = {.project_id = project,
                                  .status = (char *)"running",
                                  .ref = (char *)"main",
                                  .sha = (char *)"0123456789abcdef0123456789abcdef01234567",
                                  .source = (char *)"push"};
    struct sl_store_job *jobs = sl_xcalloc(n ? n : 1, sizeof(*jobs));
    char **names = sl_xcalloc(n ? n : 1, sizeof(*names));
    int64_t id = 0;
    for (size_t i = 0; i < n; i++) {
        names[i] = sl_xasprintf("job-%zu", i);
        jobs[i] = (struct sl_store_job){.name = names[i],
                                        .stage = (char *)"test",
                                        .status = (char *)status,
                                        .queued_at = queued_at ? queued_at + (int64_t)i : 0};
    }
    if (sl_store_pipeline_create(st, &p, jobs, n, 2000, &id, NULL, NULL) < 0)
        id = 0;
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    free(jobs);
    return id;
}

/* The id of PIPELINE's first job (0 when it has none or the store fails). */
static int64_t first_job(struct sl_store *st, int64_t pipeline)
{
    struct sl_store_job *jobs = NULL;
    size_t n = 0;
    int64_t id = 0;
    if (sl_store_job_list_by_pipeline(st, pipeline, &jobs, &n, NULL) == 0 && n)
        id = jobs[0].id;
    sl_store_jobs_free(jobs, n);
    return id;
}

/* ---- tests on one backend ---- */

TEST(open_urls)
{
    struct sl_store *st = NULL;
    struct sl_error err = SL_ERROR_INIT;
    const char *dir = sl_test_tmpdir();
    char *url;

    CHECK_INT_EQ(sl_store_open(&st, "mysql://x/y", &err), SL_EINVAL);
    CHECK(strstr(err.message, "unsupported database URL"));
    CHECK_INT_EQ(sl_store_open(&st, "", &err), SL_EINVAL);
    CHECK_INT_EQ(sl_store_open(&st, "sqlite://", &err), SL_EINVAL);
    url = sl_xasprintf("%s/missing-dir/x.db", dir);
    CHECK_INT_EQ(sl_store_open(&st, url, &err), SL_ESTORE);
    free(url);

    const char *forms[] = {"sqlite://", "sqlite:", ""};
    const char *files[] = {"a.db", "b.db", "c.db"};
    for (size_t i = 0; i < SL_ARRAY_LEN(forms); i++) {
        url = sl_xasprintf("%s%s/%s", forms[i], dir, files[i]);
        int rc = sl_store_open(&st, url, &err);
        free(url);
        CHECK_INT_EQ(rc, 0);
        CHECK_STR_EQ(sl_store_backend(st), "sqlite");
        int v = 0;
        CHECK_INT_EQ(sl_store_schema_version(st, &v, &err), 0);
        CHECK_INT_EQ(v, sl_store_latest_version());
        CHECK_INT_EQ(sl_store_ping(st, &err), 0);
        sl_store_close(st);
    }
    char *path = sl_xasprintf("%s/a.db", dir);
    CHECK(sl_fs_exists(path));
    free(path);

    CHECK_INT_EQ(sl_store_open(&st, ":memory:", &err), 0);
    CHECK_INT_EQ(make_project(st, "mem") > 0, 1);
    sl_store_close(st);
    sl_store_close(NULL);

    CHECK_INT_EQ(
        sl_store_open(&st, "postgresql:///nope?host=/nonexistent-dir&connect_timeout=2", &err),
        SL_ESTORE);
    CHECK(sl_starts_with(err.message, "postgres: connect:"));
    sl_error_release(&err);
}

TEST(migrations_are_paired)
{
    struct sl_store_migration *a = NULL, *b = NULL;
    size_t na = 0, nb = 0;
    CHECK_INT_EQ(sl_store_migrations("sqlite", &a, &na, NULL), 0);
    CHECK_INT_EQ(sl_store_migrations("postgres", &b, &nb, NULL), 0);
    bool same = na == nb && na > 0;
    for (size_t i = 0; same && i < na; i++)
        same = a[i].version == b[i].version && sl_streq(a[i].name, b[i].name) &&
               (i == 0 ? a[i].version == 1 : a[i].version > a[i - 1].version);
    int latest = na ? a[na - 1].version : 0;
    sl_store_migrations_free(a, na);
    sl_store_migrations_free(b, nb);
    /* both backends have the same versions, ascending from 1 (numbers are reserved per
     * feature, so there may be gaps), with the same names */
    CHECK(same);
    CHECK_INT_EQ(sl_store_latest_version(), latest);
    CHECK(latest >= 2);
}

/* ---- tests on both backends ---- */

STORE_TEST(projects)
{
    struct sl_store_project p = {.name = (char *)"web",
                                 .repo_url = (char *)"https://example.com/web.git",
                                 .default_branch = (char *)"trunk",
                                 .poll_interval_s = 60,
                                 .webhook_secret = (char *)"s3cret"};
    struct sl_store_project got = {0};
    int64_t id = 0;

    unsigned char key[SL_STORE_SEAL_KEY_BYTES];
    randombytes_buf(key, sizeof(key));
    CHECK_FAILS(SL_EINVAL, sl_store_project_create(st, &p, 1234, &id, &e_)); /* no key */
    sl_store_set_seal_key(st, key);
    CHECK_OK(sl_store_project_create(st, &p, 1234, &id, &e_));
    CHECK(id > 0);
    CHECK_FAILS(SL_EEXISTS, sl_store_project_create(st, &p, 1234, NULL, &e_));
    /* the webhook secret is stored sealed only */
    struct db_rows raw = {0};
    CHECK_OK(sl_db_run(
        st, false,
        "SELECT webhook_secret, CASE WHEN webhook_secret_sealed IS NULL THEN 0 ELSE 1 END "
        "FROM projects",
        NULL, 0, &raw, NULL, &e_));
    CHECK_STR_EQ(sl_db_cell(&raw, 0, 0)->data, "");
    CHECK_INT_EQ(sl_db_get_int(&raw, 0, 1), 1);
    sl_db_rows_release(&raw);
    CHECK_OK(sl_store_project_get(st, id, &got, &e_));
    CHECK_STR_EQ(got.name, "web");
    CHECK_STR_EQ(got.repo_url, "https://example.com/web.git");
    CHECK_STR_EQ(got.default_branch, "trunk");
    CHECK_STR_EQ(got.webhook_secret, "s3cret");
    CHECK_INT_EQ(got.poll_interval_s, 60);
    CHECK_INT_EQ(got.created_at, 1234);
    sl_store_project_release(&got);

    p.id = id;
    p.name = (char *)"web2";
    p.default_branch = NULL; /* defaults to main */
    CHECK_OK(sl_store_project_update(st, &p, &e_));
    CHECK_OK(sl_store_project_get_by_name(st, "web2", &got, &e_));
    CHECK_INT_EQ(got.id, id);
    CHECK_STR_EQ(got.default_branch, "main");
    sl_store_project_release(&got);
    CHECK_FAILS(SL_ENOENT, sl_store_project_get_by_name(st, "web", &got, &e_));
    CHECK_FAILS(SL_ENOENT, sl_store_project_get(st, id + 100, &got, &e_));
    p.id = id + 100;
    CHECK_FAILS(SL_ENOENT, sl_store_project_update(st, &p, &e_));

    /* a secret stored in clear before migration 0010 is sealed when the key is loaded */
    CHECK_OK(sl_db_run(st, true,
                       "UPDATE projects SET webhook_secret = 'legacy-s3cret', "
                       "webhook_secret_sealed = NULL",
                       NULL, 0, NULL, NULL, &e_));
    char *keypath = sl_fs_join(sl_test_tmpdir(), "projects.key");
    CHECK_OK(sl_store_seal_key_write(keypath, key, &e_));
    CHECK_OK(sl_store_seal_key_load(st, keypath, NULL, &e_));
    free(keypath);
    CHECK_OK(sl_db_run(st, false, "SELECT webhook_secret FROM projects", NULL, 0, &raw, NULL, &e_));
    CHECK_STR_EQ(sl_db_cell(&raw, 0, 0)->data, "");
    sl_db_rows_release(&raw);
    CHECK_OK(sl_store_project_get(st, id, &got, &e_));
    CHECK_STR_EQ(got.webhook_secret, "legacy-s3cret");
    sl_store_project_release(&got);
    /* under another key the secret reads as none: webhooks are refused, not accepted */
    unsigned char other[SL_STORE_SEAL_KEY_BYTES];
    randombytes_buf(other, sizeof(other));
    sl_store_set_seal_key(st, other);
    CHECK_OK(sl_store_project_get(st, id, &got, &e_));
    CHECK_STR_EQ(got.webhook_secret, "");
    sl_store_project_release(&got);
    sl_store_set_seal_key(st, key);
    p.name = (char *)"";
    CHECK_FAILS(SL_EINVAL, sl_store_project_create(st, &p, 1, NULL, &e_));
    p.name = NULL;
    CHECK_FAILS(SL_EINVAL, sl_store_project_create(st, &p, 1, NULL, &e_));

    /* refs for polling: insert, then overwrite */
    char *sha = NULL;
    CHECK_OK(sl_store_project_ref_get(st, id, "main", &sha, &e_));
    CHECK(sha == NULL);
    CHECK_OK(sl_store_project_ref_set(st, id, "main", "aaa", 1, &e_));
    CHECK_OK(sl_store_project_ref_set(st, id, "main", "bbb", 2, &e_));
    CHECK_OK(sl_store_project_ref_get(st, id, "main", &sha, &e_));
    CHECK_STR_EQ(sha, "bbb");
    free(sha);
    CHECK_FAILS(SL_ENOENT, sl_store_project_ref_set(st, id + 100, "main", "c", 3, &e_));

    /* keyset pages, ascending */
    for (int i = 0; i < 4; i++) {
        char name[16];
        snprintf(name, sizeof(name), "p%d", i);
        CHECK(make_project(st, name) > 0);
    }
    struct sl_store_page page = {.limit = 2};
    struct sl_store_project *list = NULL;
    size_t n = 0, total = 0;
    int64_t last = 0;
    for (int round = 0; round < 10; round++) {
        CHECK_OK(sl_store_project_list(st, &page, &list, &n, &e_));
        for (size_t i = 0; i < n; i++) {
            CHECK(list[i].id > last);
            last = list[i].id;
        }
        total += n;
        sl_store_projects_free(list, n);
        if (n < 2)
            break;
        page.after = last;
    }
    CHECK_INT_EQ(total, 5);

    /* delete cascades to pipelines and jobs */
    int64_t pl = make_pipeline(st, id, 2, "pending", 0);
    CHECK(pl > 0);
    CHECK_OK(sl_store_project_delete(st, id, &e_));
    CHECK_FAILS(SL_ENOENT, sl_store_project_delete(st, id, &e_));
    struct sl_store_pipeline gp = {0};
    CHECK_FAILS(SL_ENOENT, sl_store_pipeline_get(st, pl, &gp, &e_));
    struct sl_store_job *jobs = NULL;
    CHECK_OK(sl_store_job_list_by_pipeline(st, pl, &jobs, &n, &e_));
    sl_store_jobs_free(jobs, n);
    CHECK_INT_EQ(n, 0);
}

STORE_TEST(pipelines_with_jobs)
{
    int64_t proj = make_project(st, "app");
    CHECK(proj > 0);
    char *tags[] = {(char *)"docker", (char *)"linux"};
    struct sl_store_job jobs[] = {
        {.name = (char *)"build",
         .stage = (char *)"build",
         .stage_idx = 0,
         .status = (char *)"pending",
         .spec = (char *)"{\"script\":[\"make\"]}",
         .tags = tags,
         .ntags = 2},
        {.name = (char *)"test",
         .stage = (char *)"test",
         .stage_idx = 1,
         .status = (char *)"created",
         .when = (char *)"manual",
         .allow_failure = true,
         .retry = (char *)"{\"max\":2}"},
    };
    struct sl_store_pipeline p = {.project_id = proj,
                                  .status = (char *)"pending",
                                  .ref = (char *)"v1.0",
                                  .is_tag = true,
                                  .sha = (char *)"abc",
                                  .before_sha = (char *)"000",
                                  .source = (char *)"push",
                                  .variables = (char *)"{\"A\":\"1\"}"};
    int64_t id = 0, iid = 0, id2 = 0, iid2 = 0;
    CHECK_OK(sl_store_pipeline_create(st, &p, jobs, 2, 5000, &id, &iid, &e_));
    CHECK_INT_EQ(iid, 1);
    CHECK_OK(sl_store_pipeline_create(st, &p, NULL, 0, 6000, &id2, &iid2, &e_));
    CHECK_INT_EQ(iid2, 2);
    CHECK(id2 > id);

    struct sl_store_pipeline got = {0};
    CHECK_OK(sl_store_pipeline_get(st, id, &got, &e_));
    CHECK_INT_EQ(got.project_id, proj);
    CHECK_STR_EQ(got.status, "pending");
    CHECK_STR_EQ(got.ref, "v1.0");
    CHECK(got.is_tag);
    CHECK_STR_EQ(got.sha, "abc");
    CHECK_STR_EQ(got.before_sha, "000");
    CHECK_STR_EQ(got.source, "push");
    CHECK_STR_EQ(got.variables, "{\"A\":\"1\"}");
    CHECK(got.error_message == NULL && got.yaml_errors == NULL);
    CHECK_INT_EQ(got.created_at, 5000);
    CHECK_INT_EQ(got.started_at, 0);

    free(got.status);
    got.status = sl_xstrdup("failed");
    got.error_message = sl_xstrdup("yaml invalid");
    got.yaml_errors = sl_xstrdup("[\".gitlab-ci.yml:3:1: jobs config should contain...\"]");
    got.finished_at = 7000;
    CHECK_OK(sl_store_pipeline_update(st, &got, &e_));
    sl_store_pipeline_release(&got);
    CHECK_OK(sl_store_pipeline_get(st, id, &got, &e_));
    CHECK_STR_EQ(got.status, "failed");
    CHECK_STR_EQ(got.error_message, "yaml invalid");
    CHECK(got.yaml_errors && sl_starts_with(got.yaml_errors, "[\".gitlab-ci.yml:3:1"));
    CHECK_INT_EQ(got.finished_at, 7000);
    sl_store_pipeline_release(&got);

    struct sl_store_job *list = NULL;
    size_t n = 0;
    CHECK_OK(sl_store_job_list_by_pipeline(st, id, &list, &n, &e_));
    CHECK_INT_EQ(n, 2);
    CHECK_STR_EQ(list[0].name, "build");
    CHECK_INT_EQ(list[0].position, 0);
    CHECK_STR_EQ(list[0].when, "on_success");
    CHECK_INT_EQ(list[0].queued_at, 5000); /* pending without a time: queued at creation */
    CHECK_STR_EQ(list[1].name, "test");
    CHECK_INT_EQ(list[1].position, 1);
    CHECK_INT_EQ(list[1].stage_idx, 1);
    CHECK_STR_EQ(list[1].when, "manual");
    CHECK(list[1].allow_failure);
    CHECK_INT_EQ(list[1].attempt, 1);
    CHECK_STR_EQ(list[1].retry, "{\"max\":2}");
    CHECK_STR_EQ(list[1].spec, "{}");
    CHECK_INT_EQ(list[1].queued_at, 0);
    CHECK(!list[1].has_exit_code && !list[1].has_coverage && !list[1].failure_reason);
    int64_t build_id = list[0].id;
    sl_store_jobs_free(list, n);

    struct sl_store_job j = {0};
    CHECK_OK(sl_store_job_get(st, build_id, &j, &e_));
    CHECK_INT_EQ(j.ntags, 2);
    CHECK_STR_EQ(j.tags[0], "docker");
    CHECK_STR_EQ(j.tags[1], "linux");
    CHECK_STR_EQ(j.spec, "{\"script\":[\"make\"]}");
    sl_store_job_release(&j);
    CHECK_FAILS(SL_ENOENT, sl_store_job_get(st, build_id + 1000, &j, &e_));

    /* a failing creation leaves nothing behind, not even a used iid */
    char *dup[] = {(char *)"x", (char *)"x"};
    jobs[1].tags = dup;
    jobs[1].ntags = 2;
    CHECK_FAILS(SL_EINVAL, sl_store_pipeline_create(st, &p, jobs, 2, 8000, NULL, NULL, &e_));
    p.project_id = proj + 100;
    CHECK_FAILS(SL_ENOENT, sl_store_pipeline_create(st, &p, NULL, 0, 8000, NULL, NULL, &e_));
    p.project_id = proj;
    CHECK_OK(sl_store_pipeline_create(st, &p, NULL, 0, 9000, NULL, &iid, &e_));
    CHECK_INT_EQ(iid, 3);
    jobs[1].name = NULL;
    CHECK_FAILS(SL_EINVAL, sl_store_pipeline_create(st, &p, jobs, 2, 8000, NULL, NULL, &e_));

    /* lists: newest first, keyset pages, status filter, per project */
    int64_t other = make_project(st, "other");
    CHECK(make_pipeline(st, other, 0, "x", 0) > 0);
    struct sl_store_pipeline *pl = NULL;
    struct sl_store_page page = {.limit = 2};
    CHECK_OK(sl_store_pipeline_list(st, proj, &page, &pl, &n, &e_));
    CHECK_INT_EQ(n, 2);
    CHECK_INT_EQ(pl[0].iid, 3);
    CHECK_INT_EQ(pl[1].iid, 2);
    page.after = pl[1].id;
    sl_store_pipelines_free(pl, n);
    CHECK_OK(sl_store_pipeline_list(st, proj, &page, &pl, &n, &e_));
    CHECK_INT_EQ(n, 1);
    CHECK_INT_EQ(pl[0].id, id);
    sl_store_pipelines_free(pl, n);
    page = (struct sl_store_page){.status = "failed"};
    CHECK_OK(sl_store_pipeline_list(st, proj, &page, &pl, &n, &e_));
    CHECK_INT_EQ(n, 1);
    CHECK_INT_EQ(pl[0].id, id);
    sl_store_pipelines_free(pl, n);
    CHECK_OK(sl_store_pipeline_list(st, 0, NULL, &pl, &n, &e_));
    CHECK_INT_EQ(n, 4);
    sl_store_pipelines_free(pl, n);
}

/* One pipeline of PROJECT on REF (a tag when TAG) in STATUS; 0 when the store fails. */
static int64_t make_ref_pipeline(struct sl_store *st, int64_t project, const char *ref, bool tag,
                                 const char *status)
{
    struct sl_store_pipeline p = {.project_id = project,
                                  .status = (char *)status,
                                  .ref = (char *)ref,
                                  .is_tag = tag,
                                  .sha = (char *)"0123456789abcdef0123456789abcdef01234567",
                                  .source = (char *)"push"};
    int64_t id = 0;
    if (sl_store_pipeline_create(st, &p, NULL, 0, 2000, &id, NULL, NULL) < 0)
        return 0;
    return id;
}

/* The auto-cancel's candidates: REF's branch pipelines of the project, older than the one
 * given, in a status that can still be canceled, newest first; and the later columns
 * (hold, protected, a merged result's commits, the request) written by the INSERT itself. */
STORE_TEST(pipeline_list_cancelable)
{
    int64_t proj = make_project(st, "p"), other = make_project(st, "o");
    int64_t created = make_ref_pipeline(st, proj, "main", false, "created");
    make_ref_pipeline(st, proj, "main", false, "success");
    make_ref_pipeline(st, proj, "main", false, "canceled");
    make_ref_pipeline(st, proj, "main", true, "running"); /* a tag named main */
    make_ref_pipeline(st, proj, "dev", false, "running");
    make_ref_pipeline(st, other, "main", false, "running");
    int64_t waiting = make_ref_pipeline(st, proj, "main", false, "waiting_for_resource");
    int64_t running = make_ref_pipeline(st, proj, "main", false, "running");
    int64_t pending = make_ref_pipeline(st, proj, "main", false, "pending");
    int64_t scheduled = make_ref_pipeline(st, proj, "main", false, "scheduled");
    int64_t newest = make_ref_pipeline(st, proj, "main", false, "running");
    CHECK(created > 0 && newest > scheduled);
    struct sl_store_pipeline *pl = NULL;
    size_t n = 0;
    CHECK_OK(sl_store_pipeline_list_cancelable(st, proj, "main", newest, &pl, &n, &e_));
    CHECK_INT_EQ(n, 5);
    int64_t want[] = {scheduled, pending, running, waiting, created};
    for (size_t i = 0; i < n && i < SL_ARRAY_LEN(want); i++)
        CHECK_INT_EQ(pl[i].id, want[i]);
    sl_store_pipelines_free(pl, n);
    CHECK_OK(sl_store_pipeline_list_cancelable(st, proj, "main", running, &pl, &n, &e_));
    CHECK_INT_EQ(n, 2);
    sl_store_pipelines_free(pl, n);
    CHECK_OK(sl_store_pipeline_list_cancelable(st, proj, "nope", newest, &pl, &n, &e_));
    CHECK_INT_EQ(n, 0);
    sl_store_pipelines_free(pl, n);

    struct sl_store_pipeline p = {.project_id = proj,
                                  .status = (char *)"manual",
                                  .ref = (char *)"main",
                                  .source = (char *)"merge_request_event",
                                  .hold_reason = (char *)"fork",
                                  .protected_known = true,
                                  .protected_ = true,
                                  .source_sha = (char *)"1111111111111111111111111111111111111111",
                                  .target_sha = (char *)"2222222222222222222222222222222222222222",
                                  .merge_request_iid = 7,
                                  .parent_pipeline_id = newest};
    int64_t id = 0;
    CHECK_OK(sl_store_pipeline_create(st, &p, NULL, 0, 3000, &id, NULL, &e_));
    struct sl_store_pipeline got = {0};
    CHECK_OK(sl_store_pipeline_get(st, id, &got, &e_));
    CHECK_STR_EQ(got.hold_reason, "fork");
    CHECK(got.protected_known && got.protected_);
    CHECK_STR_EQ(got.source_sha, p.source_sha);
    CHECK_STR_EQ(got.target_sha, p.target_sha);
    CHECK_INT_EQ(got.merge_request_iid, 7);
    CHECK_INT_EQ(got.parent_pipeline_id, newest);
    sl_store_pipeline_release(&got);
    p = (struct sl_store_pipeline){.project_id = proj,
                                   .status = (char *)"pending",
                                   .ref = (char *)"main",
                                   .source = (char *)"web"};
    CHECK_OK(sl_store_pipeline_create(st, &p, NULL, 0, 3000, &id, NULL, &e_));
    CHECK_OK(sl_store_pipeline_get(st, id, &got, &e_));
    CHECK(!got.hold_reason && !got.protected_known && !got.source_sha && !got.target_sha);
    CHECK_INT_EQ(got.merge_request_iid, 0);
    CHECK_INT_EQ(got.parent_pipeline_id, 0);
    sl_store_pipeline_release(&got);
}

/* When the ticker settles next: the earliest due_at of a scheduled job, whatever the order
 * of the rows, and only of scheduled jobs; 0 when none waits. */
STORE_TEST(next_due)
{
    int64_t due = -1;
    CHECK_OK(sl_store_next_due(st, &due, &e_));
    CHECK(due == 0);
    int64_t project = make_project(st, "delayed");
    struct sl_store_pipeline p = {.project_id = project,
                                  .status = (char *)"scheduled",
                                  .ref = (char *)"main",
                                  .sha = (char *)"0123456789abcdef0123456789abcdef01234567",
                                  .source = (char *)"push"};
    struct sl_store_job jobs[] = {
        {.name = (char *)"late",
         .stage = (char *)"a",
         .status = (char *)"scheduled",
         .due_at = 9000},
        {.name = (char *)"soon",
         .stage = (char *)"a",
         .status = (char *)"scheduled",
         .due_at = 5000},
        {.name = (char *)"not-delayed",
         .stage = (char *)"a",
         .status = (char *)"pending",
         .due_at = 1000,
         .queued_at = 1000},
    };
    int64_t id = 0;
    CHECK_OK(sl_store_pipeline_create(st, &p, jobs, SL_ARRAY_LEN(jobs), 2000, &id, NULL, &e_));
    CHECK_OK(sl_store_next_due(st, &due, &e_));
    CHECK(due == 5000);
    int64_t *ids = NULL;
    size_t n = 0;
    CHECK_OK(sl_store_due_pipelines(st, 4999, 0, 10, &ids, &n, &e_));
    CHECK(n == 0);
    free(ids);
    CHECK_OK(sl_store_due_pipelines(st, 5000, 0, 10, &ids, &n, &e_));
    CHECK(n == 1 && ids[0] == id);
    free(ids);
}

STORE_TEST(job_reports)
{
    int64_t project = make_project(st, "reports");
    int64_t pl = make_pipeline(st, project, 3, "success", 0);
    CHECK(pl > 0);
    struct sl_store_job *jobs = NULL;
    size_t n = 0;
    CHECK_OK(sl_store_job_list_by_pipeline(st, pl, &jobs, &n, &e_));
    CHECK_INT_EQ(n, 3);
    CHECK_OK(sl_store_job_report_set(st, jobs[2].id, "[\"A=1\"]", NULL, &e_));
    CHECK_OK(sl_store_job_report_set(st, jobs[0].id, NULL, "{\"count\":2}", &e_));
    struct sl_store_job_report *r = NULL;
    size_t nr = 0;
    CHECK_OK(sl_store_job_reports_by_pipeline(st, pl, &r, &nr, &e_));
    CHECK_INT_EQ(nr, 2); /* job-1 left none */
    CHECK_INT_EQ(r[0].position, 0);
    CHECK(r[0].dotenv == NULL);
    CHECK_STR_EQ(r[0].junit, "{\"count\":2}");
    CHECK_STR_EQ(r[1].name, "job-2");
    CHECK_STR_EQ(r[1].dotenv, "[\"A=1\"]");
    sl_store_job_reports_free(r, nr);
    /* a retry's reports replace the earlier attempt's, none included */
    CHECK_OK(sl_store_job_report_set(st, jobs[2].id, NULL, NULL, &e_));
    CHECK_OK(sl_store_job_reports_by_pipeline(st, pl, &r, &nr, &e_));
    CHECK_INT_EQ(nr, 2);
    CHECK(r[1].dotenv == NULL && r[1].junit == NULL);
    sl_store_job_reports_free(r, nr);
    CHECK_FAILS(SL_ENOENT, sl_store_job_report_set(st, 999999, "[]", NULL, &e_));
    sl_store_jobs_free(jobs, n);
}

STORE_TEST(job_update_and_lists)
{
    int64_t proj = make_project(st, "p");
    int64_t pl = make_pipeline(st, proj, 3, "created", 0);
    struct sl_store_job *jobs = NULL;
    size_t n = 0;
    CHECK_OK(sl_store_job_list_by_pipeline(st, pl, &jobs, &n, &e_));
    CHECK_INT_EQ(n, 3);

    struct sl_store_job *j = &jobs[0];
    free(j->status);
    j->status = sl_xstrdup("pending");
    CHECK_OK(sl_store_job_update(st, j, "created", &e_));
    /* compare-and-set: the job is no longer "created" */
    CHECK_FAILS(SL_EBUSY, sl_store_job_update(st, j, "created", &e_));
    struct sl_store_job got = {0};
    CHECK_OK(sl_store_job_get(st, j->id, &got, &e_));
    CHECK(got.queued_at > 0); /* set when it became pending */
    j->queued_at = got.queued_at;
    sl_store_job_release(&got);
    free(j->status);
    j->status = sl_xstrdup("failed");
    j->failure_reason = sl_xstrdup("script_failure");
    j->has_exit_code = true;
    j->exit_code = 3;
    j->has_coverage = true;
    j->coverage = 87.5;
    j->attempt = 2;
    j->finished_at = 4242;
    CHECK_OK(sl_store_job_update(st, j, NULL, &e_));
    CHECK_OK(sl_store_job_get(st, j->id, &got, &e_));
    CHECK_STR_EQ(got.status, "failed");
    CHECK_STR_EQ(got.failure_reason, "script_failure");
    CHECK(got.has_exit_code && got.exit_code == 3);
    CHECK(got.has_coverage && got.coverage > 87.49 && got.coverage < 87.51);
    CHECK_INT_EQ(got.attempt, 2);
    CHECK_INT_EQ(got.finished_at, 4242);
    CHECK_INT_EQ(got.queued_at, j->queued_at);
    sl_store_job_release(&got);
    int64_t missing = jobs[2].id + 1000;
    jobs[2].id = missing;
    CHECK_FAILS(SL_ENOENT, sl_store_job_update(st, &jobs[2], NULL, &e_));
    CHECK_FAILS(SL_ENOENT, sl_store_job_update(st, &jobs[2], "created", &e_));
    sl_store_jobs_free(jobs, n);

    struct sl_store_page page = {.status = "created"};
    CHECK_OK(sl_store_job_list(st, &page, &jobs, &n, &e_));
    CHECK_INT_EQ(n, 2);
    sl_store_jobs_free(jobs, n);
    page = (struct sl_store_page){.limit = 1};
    CHECK_OK(sl_store_job_list(st, &page, &jobs, &n, &e_));
    CHECK_INT_EQ(n, 1);
    page.after = jobs[0].id;
    sl_store_jobs_free(jobs, n);
    page.limit = 1000; /* capped */
    CHECK_OK(sl_store_job_list(st, &page, &jobs, &n, &e_));
    CHECK_INT_EQ(n, 2);
    sl_store_jobs_free(jobs, n);

    struct sl_store_count *counts = NULL;
    CHECK_OK(sl_store_count_by_status(st, SL_STORE_JOBS, &counts, &n, &e_));
    CHECK_INT_EQ(n, 2);
    CHECK_STR_EQ(counts[0].status, "created");
    CHECK_INT_EQ(counts[0].count, 2);
    CHECK_STR_EQ(counts[1].status, "failed");
    CHECK_INT_EQ(counts[1].count, 1);
    sl_store_counts_free(counts, n);
    CHECK_OK(sl_store_count_by_status(st, SL_STORE_PIPELINES, &counts, &n, &e_));
    CHECK_INT_EQ(n, 1);
    CHECK_STR_EQ(counts[0].status, "running");
    sl_store_counts_free(counts, n);
}

STORE_TEST(retry_is_a_new_job)
{
    int64_t proj = make_project(st, "p");
    int64_t pl = make_pipeline(st, proj, 2, "pending", 100);
    struct sl_store_job *jobs = NULL, claimed = {0}, got = {0};
    size_t n = 0;
    static const char *const tags[] = {NULL};
    CHECK_INT_EQ(sl_store_claim_job(st, "runner:7", tags, 0, 60, 5000, &claimed, NULL), 1);
    CHECK_STR_EQ(claimed.name, "job-0");
    CHECK_OK(sl_store_job_report_set(st, claimed.id, "[\"OLD=1\"]", NULL, &e_));
    /* the attempt ends failed (its runner stays) and a new job takes its position */
    free(claimed.status);
    claimed.status = sl_xstrdup("failed");
    claimed.failure_reason = sl_xstrdup("runner_system_failure");
    claimed.finished_at = 6000;
    struct sl_store_job next = {.status = (char *)"pending", .attempt = 2};
    int64_t id2 = 0;
    CHECK_OK(sl_store_job_retry(st, &claimed, "running", &next, &id2, &e_));
    CHECK(id2 > claimed.id);
    /* once only: the attempt is retried already */
    CHECK_FAILS(SL_EBUSY, sl_store_job_retry(st, &claimed, "failed", &next, NULL, &e_));
    CHECK_OK(sl_store_job_get(st, claimed.id, &got, &e_));
    CHECK(got.retried);
    CHECK_STR_EQ(got.status, "failed");
    CHECK_STR_EQ(got.failure_reason, "runner_system_failure");
    CHECK_STR_EQ(got.runner_id, "runner:7");
    CHECK_INT_EQ(got.position, 0);
    CHECK_INT_EQ(got.attempt, 1);
    sl_store_job_release(&got);
    CHECK_OK(sl_store_job_get(st, id2, &got, &e_));
    CHECK(!got.retried);
    CHECK_STR_EQ(got.status, "pending");
    CHECK_STR_EQ(got.name, "job-0");
    CHECK_INT_EQ(got.position, 0);
    CHECK_INT_EQ(got.attempt, 2);
    CHECK(got.runner_id == NULL && got.failure_reason == NULL && got.queued_at > 0);
    sl_store_job_release(&got);
    CHECK_OK(sl_store_job_get_current(st, claimed.id, &got, &e_));
    CHECK_INT_EQ(got.id, id2);
    sl_store_job_release(&got);
    /* the pipeline's jobs are the newest attempts; with the retried ones, each first */
    CHECK_OK(sl_store_job_list_by_pipeline(st, pl, &jobs, &n, &e_));
    CHECK_INT_EQ(n, 2);
    CHECK_INT_EQ(jobs[0].id, id2);
    sl_store_jobs_free(jobs, n);
    CHECK_OK(sl_store_job_list_attempts(st, pl, &jobs, &n, &e_));
    CHECK_INT_EQ(n, 3);
    CHECK(jobs[0].id == claimed.id && jobs[0].retried && jobs[1].id == id2 && !jobs[1].retried);
    CHECK_STR_EQ(jobs[2].name, "job-1");
    sl_store_jobs_free(jobs, n);
    /* the retried attempt's reports no longer count */
    struct sl_store_job_report *r = NULL;
    size_t nr = 0;
    CHECK_OK(sl_store_job_reports_by_pipeline(st, pl, &r, &nr, &e_));
    CHECK_INT_EQ(nr, 0);
    sl_store_job_reports_free(r, nr);
    /* metrics count the newest attempts */
    struct sl_store_count *c = NULL;
    size_t nc = 0;
    CHECK_OK(sl_store_count_by_status(st, SL_STORE_JOBS, &c, &nc, &e_));
    CHECK_INT_EQ(nc, 1);
    CHECK_STR_EQ(c[0].status, "pending");
    CHECK_INT_EQ(c[0].count, 2);
    sl_store_counts_free(c, nc);
    sl_store_job_release(&claimed);
}

/* A pipeline with one job "deploy" of resource group GROUP in STATUS; *job gets its id. */
static int64_t make_group_pipeline(struct sl_store *st, int64_t project, const char *group,
                                   const char *status, int64_t *job)
{
    struct sl_store_pipeline p = {.project_id = project,
                                  .status = (char *)"pending",
                                  .ref = (char *)"main",
                                  .sha = (char *)"0123456789abcdef0123456789abcdef01234567",
                                  .source = (char *)"push"};
    struct sl_store_job j = {.name = (char *)"deploy",
                             .stage = (char *)"deploy",
                             .status = (char *)status,
                             .resource_group = group};
    struct sl_store_job *jobs = NULL;
    size_t n = 0;
    int64_t id = 0;
    if (sl_store_pipeline_create(st, &p, &j, 1, 2000, &id, NULL, NULL) < 0)
        return 0;
    if (sl_store_job_list_by_pipeline(st, id, &jobs, &n, NULL) == 0 && n == 1)
        *job = jobs[0].id;
    sl_store_jobs_free(jobs, n);
    return id;
}

/* GitLab's resource group: one resource, handed over by process mode; the claim takes a job
 * of a group only while it holds it. */
STORE_TEST(resource_group_one_at_a_time)
{
    int64_t proj = make_project(st, "p");
    int64_t a = 0, b = 0, c = 0, got = -1;
    struct sl_store_job j = {0};
    struct sl_store_resource_group g = {0};
    static const char *const tags[] = {NULL};
    CHECK(make_group_pipeline(st, proj, "prod", "waiting_for_resource", &a) > 0);
    CHECK(make_group_pipeline(st, proj, "prod", "waiting_for_resource", &b) > 0);
    CHECK(make_group_pipeline(st, proj, "prod", "created", &c) > 0);
    CHECK_OK(sl_store_resource_group_get(st, proj, "prod", &g, &e_));
    CHECK_STR_EQ(g.process_mode, "unordered");
    CHECK_INT_EQ(g.holder_job_id, 0);
    /* a pending job of a group that does not hold it is never claimed */
    CHECK_INT_EQ(sl_store_claim_job(st, "w", tags, 0, 60, 3000, &j, NULL), 0);
    CHECK_OK(sl_store_resource_group_assign(st, g.id, 3000, &got, &e_));
    CHECK_INT_EQ(got, a);
    CHECK_OK(sl_store_resource_group_assign(st, g.id, 3000, &got, &e_));
    CHECK_INT_EQ(got, 0); /* held */
    CHECK_INT_EQ(sl_store_claim_job(st, "w", tags, 0, 60, 3000, &j, NULL), 1);
    CHECK_INT_EQ(j.id, a);
    CHECK_INT_EQ(sl_store_claim_job(st, "w", tags, 0, 60, 3000, &j, NULL), 0);
    /* newest_first: the newest pipeline's job is not ready: the resource waits for it */
    CHECK_FAILS(SL_EINVAL, sl_store_resource_group_set_mode(st, proj, "prod", "fast", 1, &e_));
    CHECK_OK(sl_store_resource_group_set_mode(st, proj, "prod", "newest_first", 4000, &e_));
    free(j.status);
    j.status = sl_xstrdup("success");
    CHECK_OK(sl_store_job_update(st, &j, "running", &e_));
    CHECK_OK(sl_store_resource_group_assign(st, g.id, 5000, &got, &e_));
    CHECK_INT_EQ(got, 0);
    struct sl_store_job *up = NULL;
    size_t n = 0;
    CHECK_OK(sl_store_resource_group_upcoming(st, g.id, &up, &n, &e_));
    CHECK(n == 2 && up[0].id == c && up[1].id == b);
    sl_store_jobs_free(up, n);
    /* newest_ready_first: the ready one */
    CHECK_OK(sl_store_resource_group_set_mode(st, proj, "prod", "newest_ready_first", 6000, &e_));
    CHECK_OK(sl_store_resource_group_assign(st, g.id, 6000, &got, &e_));
    CHECK_INT_EQ(got, b);
    sl_store_job_release(&j);
    CHECK_OK(sl_store_job_get(st, b, &j, &e_));
    CHECK_STR_EQ(j.status, "pending");
    CHECK_INT_EQ(j.resource_group_id, g.id);
    int64_t *ids = NULL;
    size_t nids = 0;
    CHECK_OK(sl_store_resource_group_ids(st, 0, &ids, &nids, &e_));
    CHECK(nids == 1 && ids[0] == g.id);
    free(ids);
    struct sl_store_resource_group *gs = NULL;
    CHECK_OK(sl_store_resource_group_list(st, proj, &gs, &n, &e_));
    CHECK(n == 1 && !strcmp(gs[0].key, "prod") &&
          !strcmp(gs[0].process_mode, "newest_ready_first"));
    sl_store_resource_groups_free(gs, n);
    CHECK_FAILS(SL_ENOENT, sl_store_resource_group_get(st, proj, "nope", &g, &e_));
    sl_store_job_release(&j);
    sl_store_resource_group_release(&g);
}

STORE_TEST(claim_order_and_tags)
{
    struct sl_store_job j = {0};
    int64_t proj = make_project(st, "p");
    /* queued out of id order: the oldest queued goes first */
    int64_t late = make_pipeline(st, proj, 1, "pending", 9000);
    int64_t early = make_pipeline(st, proj, 2, "pending", 1000);
    CHECK(late && early);
    CHECK_INT_EQ(make_pipeline(st, proj, 1, "created", 0) > 0, 1);

    int rc;
    CHECK_INT_EQ(rc = sl_store_claim_job(st, "w1", NULL, 0, 60, 50000, &j, NULL), 1);
    CHECK_INT_EQ(j.pipeline_id, early);
    CHECK_STR_EQ(j.name, "job-0");
    CHECK_STR_EQ(j.status, "running");
    CHECK_STR_EQ(j.runner_id, "w1");
    CHECK_INT_EQ(j.started_at, 50000);
    CHECK_INT_EQ(j.lease_deadline, 110000);
    sl_store_job_release(&j);
    CHECK_INT_EQ(sl_store_claim_job(st, "w1", NULL, 0, 60, 50000, &j, NULL), 1);
    CHECK_INT_EQ(j.pipeline_id, early);
    CHECK_STR_EQ(j.name, "job-1");
    sl_store_job_release(&j);
    CHECK_INT_EQ(sl_store_claim_job(st, "w1", NULL, 0, 60, 50000, &j, NULL), 1);
    CHECK_INT_EQ(j.pipeline_id, late);
    sl_store_job_release(&j);
    CHECK_INT_EQ(sl_store_claim_job(st, "w1", NULL, 0, 60, 50000, &j, NULL), 0);

    /* tags: a job runs only where all of its tags are offered */
    char *t_docker[] = {(char *)"docker"}, *t_gpu[] = {(char *)"docker", (char *)"gpu"};
    struct sl_store_job defs[] = {
        {.name = (char *)"untagged",
         .stage = (char *)"s",
         .status = (char *)"pending",
         .queued_at = 1},
        {.name = (char *)"docker",
         .stage = (char *)"s",
         .status = (char *)"pending",
         .queued_at = 2,
         .tags = t_docker,
         .ntags = 1},
        {.name = (char *)"gpu",
         .stage = (char *)"s",
         .status = (char *)"pending",
         .queued_at = 3,
         .tags = t_gpu,
         .ntags = 2},
    };
    struct sl_store_pipeline p = {.project_id = proj,
                                  .status = (char *)"pending",
                                  .ref = (char *)"main",
                                  .source = (char *)"web"};
    CHECK_OK(sl_store_pipeline_create(st, &p, defs, 3, 1, NULL, NULL, &e_));
    const char *offer_linux_docker[] = {"linux", "docker"};
    CHECK_INT_EQ(sl_store_claim_job(st, "w2", offer_linux_docker, 2, 60, 1, &j, NULL), 1);
    CHECK_STR_EQ(j.name, "untagged");
    sl_store_job_release(&j);
    CHECK_INT_EQ(sl_store_claim_job(st, "w2", offer_linux_docker, 2, 60, 1, &j, NULL), 1);
    CHECK_STR_EQ(j.name, "docker");
    sl_store_job_release(&j);
    CHECK_INT_EQ(sl_store_claim_job(st, "w2", offer_linux_docker, 2, 60, 1, &j, NULL), 0);
    CHECK_INT_EQ(sl_store_claim_job(st, "w3", offer_linux_docker, 0, 60, 1, &j, NULL), 0);
    const char *offer_gpu[] = {"gpu", "docker", "arm"};
    CHECK_INT_EQ(sl_store_claim_job(st, "w4", offer_gpu, 3, 60, 1, &j, NULL), 1);
    CHECK_STR_EQ(j.name, "gpu");
    sl_store_job_release(&j);

    CHECK_FAILS(SL_EINVAL, sl_store_claim_job(st, "", NULL, 0, 60, 1, &j, &e_));
    CHECK_FAILS(SL_EINVAL, sl_store_claim_job(st, "w", NULL, 0, 0, 1, &j, &e_));
    char long_id[SL_STORE_WORKER_ID_MAX + 2];
    memset(long_id, 'w', sizeof(long_id) - 1);
    long_id[sizeof(long_id) - 1] = '\0';
    CHECK_FAILS(SL_ELIMIT, sl_store_claim_job(st, long_id, NULL, 0, 60, 1, &j, &e_));
}

STORE_TEST(runners_and_job_tokens)
{
    char *tok = NULL, *tok2 = NULL, *reg = NULL, *jt = NULL, *jt2 = NULL;
    int64_t id = 0;
    char *tags[] = {(char *)"linux", (char *)"docker"};
    struct sl_store_runner in = {.name = (char *)"r1", .tags = tags, .ntags = 2};
    struct sl_store_runner got = {0};
    CHECK_OK(sl_store_runner_create(st, &in, 10, &tok, &id, &e_));
    CHECK(sl_starts_with(tok, "glrt-") && strlen(tok) == SL_STORE_RUNNER_TOKEN_LEN);
    CHECK_OK(sl_store_runner_verify(st, tok, &got, &e_));
    CHECK_INT_EQ(got.id, id);
    CHECK_INT_EQ(got.ntags, 2);
    CHECK_STR_EQ(got.tags[1], "docker");
    CHECK_OK(sl_store_runner_contacted(st, &got, "17.11.0", "linux", "amd64", "shell", 20, &e_));
    sl_store_runner_release(&got);
    CHECK_OK(sl_store_runner_get(st, id, &got, &e_));
    CHECK_STR_EQ(got.version, "17.11.0");
    CHECK_INT_EQ(got.contacted_at, 20);
    sl_store_runner_release(&got);
    CHECK_FAILS(SL_ENOENT, sl_store_runner_verify(st, "glrt-0", NULL, &e_));
    char *bad_tags[] = {(char *)"a,b"};
    struct sl_store_runner bad = {.tags = bad_tags, .ntags = 1};
    CHECK_FAILS(SL_EINVAL, sl_store_runner_create(st, &bad, 10, &tok2, NULL, &e_));
    CHECK_OK(sl_store_runner_set_paused(st, id, true, &e_));
    CHECK_OK(sl_store_runner_get(st, id, &got, &e_));
    CHECK(got.paused);
    sl_store_runner_release(&got);

    CHECK_OK(sl_store_registration_token_reset(st, 30, &reg, &e_));
    CHECK_OK(sl_store_registration_token_check(st, reg, &e_));
    CHECK_OK(sl_store_registration_token_reset(st, 31, &tok2, &e_));
    CHECK_FAILS(SL_ENOENT, sl_store_registration_token_check(st, reg, &e_));

    /* a runner that does not run untagged jobs skips them; job tokens per claim */
    int64_t proj = make_project(st, "p");
    CHECK(make_pipeline(st, proj, 1, "pending", 100) > 0);
    struct sl_store_job j = {0}, k = {0};
    const char *const none[] = {NULL};
    CHECK_INT_EQ(sl_store_claim_job_tagged(st, "runner:1", none, 0, false, 60, 1, &j, NULL), 0);
    CHECK_INT_EQ(sl_store_claim_job_tagged(st, "runner:1", none, 0, true, 60, 1, &j, NULL), 1);
    CHECK_OK(sl_store_job_token_issue(st, j.id, "runner:1", &jt, &e_));
    CHECK(sl_starts_with(jt, "glcbt-"));
    CHECK_FAILS(SL_ECANCELED, sl_store_job_token_issue(st, j.id, "runner:2", &jt2, &e_));
    CHECK_OK(sl_store_job_token_lookup(st, jt, &k, &e_));
    CHECK_INT_EQ(k.id, j.id);
    /* the whole row, as sl_store_job_get reads it (one statement by the token's hash) */
    struct sl_store_job g = {0};
    CHECK_OK(sl_store_job_get(st, j.id, &g, &e_));
    CHECK_INT_EQ(k.pipeline_id, g.pipeline_id);
    CHECK_STR_EQ(k.name, g.name);
    CHECK_STR_EQ(k.status, "running");
    CHECK_STR_EQ(k.runner_id, "runner:1");
    CHECK_STR_EQ(k.spec, g.spec);
    CHECK_INT_EQ(k.lease_deadline, g.lease_deadline);
    CHECK_INT_EQ(k.ntags, g.ntags);
    sl_store_job_release(&g);
    sl_store_job_release(&k);
    /* a well-formed token that no job holds */
    char *other = sl_xstrdup(jt);
    size_t olen = strlen(other);
    other[olen - 1] = other[olen - 1] == '0' ? '1' : '0';
    CHECK_FAILS(SL_ENOENT, sl_store_job_token_lookup(st, other, &k, &e_));
    free(other);
    CHECK_OK(sl_store_job_token_issue(st, j.id, "runner:1", &jt2, &e_));
    CHECK_FAILS(SL_ENOENT, sl_store_job_token_lookup(st, jt, &k, &e_));
    sl_store_job_release(&j);

    /* the token in the claim's own write; none when nothing is claimed */
    char *jt3 = NULL;
    struct sl_store_claim c = {
        .worker_id = "runner:1", .tags = none, .untagged = true, .lease_seconds = 60, .now = 1};
    CHECK_INT_EQ(sl_store_claim(st, &c, &j, &jt3, NULL), 0);
    CHECK(jt3 == NULL);
    CHECK(make_pipeline(st, proj, 1, "pending", 101) > 0);
    CHECK_INT_EQ(sl_store_claim(st, &c, &j, &jt3, NULL), 1);
    CHECK(jt3 && sl_starts_with(jt3, "glcbt-"));
    CHECK_OK(sl_store_job_token_lookup(st, jt3, &k, &e_));
    CHECK_INT_EQ(k.id, j.id);
    CHECK_STR_EQ(k.status, "running");
    sl_store_job_release(&k);
    sl_store_job_release(&j);
    free(jt3);

    CHECK_OK(sl_store_runner_delete(st, id, &e_));
    CHECK_FAILS(SL_ENOENT, sl_store_runner_verify(st, tok, NULL, &e_));
    free(tok);
    free(tok2);
    free(reg);
    free(jt);
    free(jt2);
}

/* in_claim hooks: one that marks the job's pipeline "canceling" (a status no one else sets
 * here), one that does so and then fails */
static int mark_pipeline(void *arg, const struct sl_store_job *job, struct sl_error *err)
{
    struct sl_store *st = arg;
    struct sl_store_pipeline p = {0};
    int rc = sl_store_pipeline_get(st, job->pipeline_id, &p, err);
    if (rc == 0) {
        free(p.status);
        p.status = sl_xstrdup("canceling");
        rc = sl_store_pipeline_update(st, &p, err);
    }
    sl_store_pipeline_release(&p);
    return rc;
}

static int mark_pipeline_then_fail(void *arg, const struct sl_store_job *job, struct sl_error *err)
{
    int rc = mark_pipeline(arg, job, err);
    return rc < 0 ? rc : sl_error_set(err, SL_ESTORE, "the hook failed");
}

static const char *pipeline_status(struct sl_store *st, int64_t id, char buf[32])
{
    struct sl_store_pipeline p = {0};
    snprintf(buf, 32, "%s", sl_store_pipeline_get(st, id, &p, NULL) == 0 ? p.status : "?");
    sl_store_pipeline_release(&p);
    return buf;
}

/* What a claim's in_claim writes commits with the claim; its failure rolls back only what
 * it wrote (the job is taken, the pipeline as it was); a claim never nests in a
 * transaction. */
STORE_TEST(claim_in_its_pipeline_transaction)
{
    char buf[32];
    int64_t proj = make_project(st, "p");
    int64_t pid = make_pipeline(st, proj, 1, "pending", 100);
    CHECK(pid > 0);
    struct sl_store_job j = {0};
    struct sl_store_claim c = {.worker_id = "w", .lease_seconds = 60, .now = 1, .arg = st};

    c.in_claim = mark_pipeline_then_fail;
    CHECK_INT_EQ(sl_store_claim(st, &c, &j, NULL, NULL), 1);
    CHECK_STR_EQ(j.status, "running");
    CHECK_STR_EQ(pipeline_status(st, pid, buf), "running");
    sl_store_job_release(&j);

    pid = make_pipeline(st, proj, 1, "pending", 200);
    CHECK(pid > 0);
    CHECK_OK(sl_store_tx_begin(st, pid, &e_));
    c.in_claim = mark_pipeline;
    CHECK_FAILS(SL_EBUSY, sl_store_claim(st, &c, &j, NULL, &e_));
    CHECK_OK(sl_store_tx_end(st, 0, &e_));

    CHECK_INT_EQ(sl_store_claim(st, &c, &j, NULL, NULL), 1);
    CHECK_STR_EQ(j.status, "running");
    CHECK_INT_EQ(j.pipeline_id, pid);
    CHECK_STR_EQ(pipeline_status(st, pid, buf), "canceling");
    sl_store_job_release(&j);
    CHECK_INT_EQ(sl_store_claim(st, &c, &j, NULL, NULL), 0);
}

STORE_TEST(leases_finish_and_recovery)
{
    struct sl_store_job a = {0}, b = {0}, c = {0}, d = {0};
    int64_t proj = make_project(st, "p");
    CHECK(make_pipeline(st, proj, 4, "pending", 100) > 0);
    CHECK_INT_EQ(sl_store_claim_job(st, "srv1/w0", NULL, 0, 10, 1000, &a, NULL), 1);
    CHECK_INT_EQ(sl_store_claim_job(st, "srv1/w1", NULL, 0, 10, 1000, &b, NULL), 1);
    CHECK_INT_EQ(sl_store_claim_job(st, "srv2/w0", NULL, 0, 10, 1000, &c, NULL), 1);
    CHECK_INT_EQ(sl_store_claim_job(st, "srv2/w1", NULL, 0, 10, 1000, &d, NULL), 1);
    int64_t ida = a.id, idb = b.id, idc = c.id, idd = d.id;
    sl_store_job_release(&a);
    sl_store_job_release(&b);
    sl_store_job_release(&c);
    sl_store_job_release(&d);

    CHECK_OK(sl_store_job_renew_lease(st, ida, "srv1/w0", 100, 5000, &e_));
    CHECK_FAILS(SL_ECANCELED, sl_store_job_renew_lease(st, ida, "srv2/w0", 100, 5000, &e_));
    CHECK_OK(sl_store_job_renew_lease(st, idd, "srv2/w1", 100, 5000, &e_));

    CHECK_OK(sl_store_job_finish(st, ida, "srv1/w0", "success", NULL, 0, 6000, &e_));
    CHECK_FAILS(SL_ECANCELED,
                sl_store_job_finish(st, ida, "srv1/w0", "failed", NULL, 1, 6000, &e_));
    CHECK_FAILS(SL_ECANCELED, sl_store_job_renew_lease(st, ida, "srv1/w0", 10, 6000, &e_));
    CHECK_OK(sl_store_job_get(st, ida, &a, &e_));
    CHECK_STR_EQ(a.status, "success");
    CHECK(a.has_exit_code && a.exit_code == 0);
    CHECK_INT_EQ(a.finished_at, 6000);
    CHECK_INT_EQ(a.lease_deadline, 0);
    sl_store_job_release(&a);

    /* at 20000: c's lease (11000) ran out; b is srv1's own; d's lease (105000) holds */
    struct sl_store_job *rec = NULL;
    size_t n = 0;
    CHECK_OK(sl_store_recover_jobs(st, "srv1/", 20000, &rec, &n, &e_));
    CHECK_INT_EQ(n, 2);
    bool saw_b = false, saw_c = false;
    for (size_t i = 0; i < n; i++) {
        saw_b = saw_b || rec[i].id == idb;
        saw_c = saw_c || rec[i].id == idc;
        CHECK_STR_EQ(rec[i].status, "failed");
        CHECK_STR_EQ(rec[i].failure_reason, "runner_system_failure");
        CHECK_INT_EQ(rec[i].finished_at, 20000);
    }
    sl_store_jobs_free(rec, n);
    CHECK(saw_b && saw_c);
    /* the recovered worker learns it lost its job */
    CHECK_FAILS(SL_ECANCELED, sl_store_job_finish(st, idb, "srv1/w1", "success", NULL, 0, 1, &e_));
    CHECK_OK(sl_store_job_get(st, idd, &d, &e_));
    CHECK_STR_EQ(d.status, "running");
    sl_store_job_release(&d);
    CHECK_OK(sl_store_recover_jobs(st, NULL, 20000, NULL, &n, &e_));
    CHECK_INT_EQ(n, 0);
    CHECK_OK(sl_store_recover_jobs(st, NULL, 200000, NULL, &n, &e_));
    CHECK_INT_EQ(n, 1);
}

STORE_TEST(logs)
{
    int64_t proj = make_project(st, "p");
    int64_t pl = make_pipeline(st, proj, 1, "running", 0);
    int64_t job = first_job(st, pl);
    CHECK(job > 0);

    int64_t size = -1, end = 0, next = 0;
    CHECK_OK(sl_store_log_size(st, job, &size, &e_));
    CHECK_INT_EQ(size, 0);
    /* bytes, not text: NUL, invalid UTF-8, CR */
    static const char bin[] = {'a', '\0', 'b', (char)0xff, (char)0xc3, '\r', '\n'};
    CHECK_OK(sl_store_log_append(st, job, "hello ", 6, 1, &end, &e_));
    CHECK_INT_EQ(end, 6);
    CHECK_OK(sl_store_log_append(st, job, bin, sizeof(bin), 2, &end, &e_));
    CHECK_OK(sl_store_log_append(st, job, "world\n", 6, 3, &end, &e_));
    CHECK_INT_EQ(end, 6 + 7 + 6);

    struct sl_str s = SL_STR_INIT;
    CHECK_OK(sl_store_log_read(st, job, 0, 1 << 20, &s, &next, &e_));
    CHECK_INT_EQ(s.len, 19);
    CHECK_INT_EQ(next, 19);
    CHECK(memcmp(s.buf, "hello ", 6) == 0 && memcmp(s.buf + 6, bin, sizeof(bin)) == 0 &&
          memcmp(s.buf + 13, "world\n", 6) == 0);
    /* from the middle of a chunk, limited */
    sl_str_reset(&s);
    CHECK_OK(sl_store_log_read(st, job, 4, 5, &s, &next, &e_));
    CHECK_INT_EQ(s.len, 5);
    CHECK(memcmp(s.buf, "o a\0b", 5) == 0);
    CHECK_INT_EQ(next, 9);
    sl_str_reset(&s);
    CHECK_OK(sl_store_log_read(st, job, 19, 100, &s, &next, &e_));
    CHECK_INT_EQ(s.len, 0);
    CHECK_INT_EQ(next, 19);
    CHECK_OK(sl_store_log_read(st, job, 1000, 100, &s, &next, &e_));
    CHECK_INT_EQ(s.len, 0);

    /* many small chunks: reads go past one batch */
    for (int i = 0; i < 600; i++) {
        char line[16];
        int len = snprintf(line, sizeof(line), "%04d\n", i);
        CHECK_OK(sl_store_log_append(st, job, line, (size_t)len, 4, NULL, &e_));
    }
    CHECK_OK(sl_store_log_size(st, job, &size, &e_));
    CHECK_INT_EQ(size, 19 + 600 * 5);
    sl_str_reset(&s);
    CHECK_OK(sl_store_log_read(st, job, 19 + 5 * 10 + 2, 1 << 20, &s, &next, &e_));
    CHECK_INT_EQ(s.len, 600 * 5 - 52);
    CHECK(sl_starts_with(s.buf, "10\n0011\n"));
    CHECK(sl_ends_with(s.buf, "0599\n"));
    CHECK_INT_EQ(next, size);
    sl_str_release(&s);

    CHECK_FAILS(SL_EINVAL, sl_store_log_append(st, job, "", 0, 1, NULL, &e_));
    char *big = sl_xcalloc(1, SL_STORE_LOG_CHUNK_MAX + 1);
    int rc = sl_store_log_append(st, job, big, SL_STORE_LOG_CHUNK_MAX + 1, 1, NULL, NULL);
    free(big);
    CHECK_INT_EQ(rc, SL_ELIMIT);
    CHECK_FAILS(SL_ENOENT, sl_store_log_append(st, job + 1000, "x", 1, 1, NULL, &e_));

    /* the per-job cap, through a second store on the same database */
    struct sl_store *small = NULL;
    struct sl_store_options opts = {.max_log_bytes = size + 10, .pool_size = 1};
    CHECK_OK(sl_store_open_with(&small, url, &opts, &e_));
    rc = sl_store_log_append(small, job, "0123456789", 10, 5, NULL, NULL);
    CHECK_INT_EQ(rc, 0);
    /* past the cap: what fits is stored, then a last line saying why the log ends there */
    int64_t capped_end = 0;
    int64_t capped_lines = -1, lines_then = -1;
    rc = sl_store_log_append_lines(small, job, "abc\nx", 5, 5, &capped_end, &capped_lines, NULL);
    CHECK_INT_EQ(rc, SL_ELIMIT);
    CHECK_OK(sl_store_log_lines(small, job, &lines_then, &e_));
    CHECK_INT_EQ(capped_lines, lines_then); /* the note's line counted */
    int rc2 = sl_store_log_append(small, job, "y", 1, 5, NULL, NULL);
    CHECK_INT_EQ(rc2, SL_ELIMIT);
    int64_t capped = 0;
    CHECK_OK(sl_store_log_size(small, job, &capped, &e_));
    CHECK_INT_EQ(capped, capped_end);
    CHECK(capped > sl_store_log_max(small));
    sl_str_reset(&s);
    CHECK_OK(sl_store_log_read(small, job, size, 1 << 20, &s, &next, &e_));
    CHECK(sl_starts_with(s.buf, "0123456789\n"));
    CHECK(strstr(s.buf, "reached its cap") != NULL);
    CHECK(sl_ends_with(s.buf, "\n"));
    sl_str_release(&s);
    sl_store_close(small);
}

/* The line index: line N's offset without reading the log from its start, over chunks
 * with no newline, many, or one ending mid-line. */
STORE_TEST(log_lines)
{
    int64_t proj = make_project(st, "p");
    int64_t pl = make_pipeline(st, proj, 1, "running", 0);
    int64_t job = first_job(st, pl);
    CHECK(job > 0);
    int64_t off = -1, lines = -1;
    CHECK_OK(sl_store_log_line_offset(st, job, 5, &off, &e_));
    CHECK_INT_EQ(off, 0);
    CHECK_OK(sl_store_log_lines(st, job, &lines, &e_));
    CHECK_INT_EQ(lines, 0);
    const char *parts[] = {"one\ntw", "o\n", "thr", "ee", "\nfour\nfive\nsi", "x\n"};
    static const int64_t after[] = {1, 2, 2, 2, 5, 6}; /* what the append says it holds */
    for (size_t i = 0; i < SL_ARRAY_LEN(parts); i++) {
        int64_t told = -1;
        CHECK_OK(
            sl_store_log_append_lines(st, job, parts[i], strlen(parts[i]), 1, NULL, &told, &e_));
        CHECK_INT_EQ(told, after[i]);
    }
    /* one\ntwo\nthree\nfour\nfive\nsix\n */
    static const int64_t want[] = {0, 0, 4, 8, 14, 19, 24, 28, 28};
    for (int64_t line = 0; line < (int64_t)SL_ARRAY_LEN(want); line++) {
        CHECK_OK(sl_store_log_line_offset(st, job, line, &off, &e_));
        CHECK_INT_EQ(off, want[line]);
    }
    CHECK_OK(sl_store_log_lines(st, job, &lines, &e_));
    CHECK_INT_EQ(lines, 6);
}

/* A chunk and its secret findings in one transaction: places and lines given against the
 * chunk become the log's; a log that does not end where the findings were made for, or a cap
 * that would cut the chunk, stores neither; a rolled-back transaction loses both. */
STORE_TEST(log_append_findings)
{
    int64_t proj = make_project(st, "p");
    int64_t pl = make_pipeline(st, proj, 1, "running", 0);
    int64_t job = first_job(st, pl);
    CHECK(job > 0);
    CHECK_OK(sl_store_log_append(st, job, "one\ntwo", 7, 1, NULL, &e_));
    /* the log: one\ntwo\nthree KEY\nfour; a finding on the carried line "two" (4 bytes before
     * the chunk's end... its place -3) and one on the chunk's second line, whose line the store
     * numbers itself (the 99 given is not read) */
    static const char chunk[] = "\nthree KEY\nfour";
    const struct sl_store_secret_finding given[] = {
        {.job_id = 999, .rule = (char *)"r-two", .line = 1, .place = -3, .excerpt = (char *)"t*"},
        {.rule = (char *)"r-key", .line = 99, .place = 7, .excerpt = (char *)"three *****"},
    };
    struct sl_store_secret_finding fs[2];
    memcpy(fs, given, sizeof(fs));
    bool added[2] = {false, false};
    size_t failed = 9;
    int64_t end = 0, lines = -1, size = 0, count = -1;
    /* the log is not 6 bytes long: nothing stored */
    CHECK_FAILS(SL_EBUSY, sl_store_log_append_findings(st, job, chunk, strlen(chunk), 2, 6, fs, 2,
                                                       added, &failed, &end, &lines, &e_));
    CHECK_OK(sl_store_log_size(st, job, &size, &e_));
    CHECK_INT_EQ(size, 7);
    CHECK_OK(sl_store_secret_finding_count(st, pl, job, &count, &e_));
    CHECK_INT_EQ(count, 0);
    /* a rolled-back transaction: neither the chunk nor its findings */
    CHECK_OK(sl_store_tx_begin(st, 0, &e_));
    CHECK_OK(sl_store_log_append_findings(st, job, chunk, strlen(chunk), 2, 7, fs, 2, added,
                                          &failed, &end, &lines, &e_));
    CHECK_INT_EQ(end, 7 + (int64_t)strlen(chunk));
    CHECK(added[0] && added[1]);
    CHECK_INT_EQ(sl_store_tx_end(st, SL_EIO, NULL), SL_EIO);
    memcpy(fs, given, sizeof(fs)); /* the call made them the log's */
    CHECK_OK(sl_store_log_size(st, job, &size, &e_));
    CHECK_INT_EQ(size, 7);
    CHECK_OK(sl_store_secret_finding_count(st, pl, job, &count, &e_));
    CHECK_INT_EQ(count, 0);
    /* as it should: both, the findings at the log's places and lines */
    added[0] = added[1] = false;
    CHECK_OK(sl_store_log_append_findings(st, job, chunk, strlen(chunk), 2, 7, fs, 2, added,
                                          &failed, &end, &lines, &e_));
    CHECK(added[0] && added[1]);
    CHECK_INT_EQ(failed, 0);
    CHECK_INT_EQ(end, 7 + (int64_t)strlen(chunk));
    CHECK_INT_EQ(lines, 3);
    CHECK_INT_EQ(fs[0].place, 4); /* written back as stored */
    CHECK_INT_EQ(fs[0].line, 2);
    CHECK_INT_EQ(fs[1].place, 14);
    CHECK_INT_EQ(fs[1].line, 3);
    struct sl_str s = SL_STR_INIT;
    int64_t next = 0;
    CHECK_OK(sl_store_log_read(st, job, 0, 100, &s, &next, &e_));
    CHECK_STR_EQ(s.buf, "one\ntwo\nthree KEY\nfour");
    sl_str_release(&s);
    struct sl_store_secret_finding *got = NULL;
    struct sl_store_page page = {0};
    size_t n = 0;
    CHECK_OK(sl_store_secret_finding_list(st, proj, &page, &got, &n, &e_));
    CHECK_INT_EQ(n, 2);
    if (n == 2) { /* newest first */
        CHECK_STR_EQ(got[1].rule, "r-two");
        CHECK_INT_EQ(got[1].place, 4);
        CHECK_INT_EQ(got[1].line, 2);
        CHECK_INT_EQ(got[1].job_id, job);
        CHECK_INT_EQ(got[1].pipeline_id, pl);
        CHECK_STR_EQ(got[0].rule, "r-key");
        CHECK_INT_EQ(got[0].place, 14);
        CHECK_INT_EQ(got[0].line, 3);
        CHECK_STR_EQ(got[0].excerpt, "three *****");
    }
    sl_store_secret_findings_free(got, n);
    /* the same finding again, from the next chunk's carried bytes: not added twice */
    struct sl_store_secret_finding again = {
        .rule = (char *)"r-key", .line = 0, .place = -8, .excerpt = (char *)"three *****"};
    CHECK_OK(sl_store_log_append_findings(st, job, "\n", 1, 3, 22, &again, 1, added, &failed, &end,
                                          &lines, &e_));
    CHECK(!added[0]);
    CHECK_INT_EQ(end, 23);
    CHECK_OK(sl_store_secret_finding_count(st, pl, job, &count, &e_));
    CHECK_INT_EQ(count, 2);
    /* an excerpt PostgreSQL cannot take as text (no UTF-8): left out there, the chunk and the
     * other finding stored; SQLite keeps the bytes */
    bool pg = sl_starts_with(url, "postgres");
    struct sl_store_secret_finding bad[] = {
        {.rule = (char *)"r-bad", .line = 1, .place = 0, .excerpt = (char *)"\xff\xfe *****"},
        {.rule = (char *)"r-ok", .line = 1, .place = 2, .excerpt = (char *)"ok *****"},
    };
    bad[0].line = bad[1].line = -5; /* not read: the store numbers them (line 5 of the log) */
    CHECK_OK(sl_store_log_append_findings(st, job, "x y z\n", 6, 4, 23, bad, 2, added, &failed,
                                          &end, &lines, &e_));
    CHECK_INT_EQ(failed, pg ? 1 : 0);
    CHECK(added[0] == !pg && added[1]);
    CHECK_INT_EQ(bad[0].line, 5);
    CHECK_INT_EQ(bad[1].line, 5);
    CHECK_INT_EQ(end, 29);
    CHECK_OK(sl_store_secret_finding_count(st, pl, job, &count, &e_));
    CHECK_INT_EQ(count, pg ? 3 : 4);
    /* the cap would cut the chunk: nothing stored (the caller appends another way) */
    struct sl_store *small = NULL;
    struct sl_store_options opts = {.max_log_bytes = 32, .pool_size = 1};
    CHECK_OK(sl_store_open_with(&small, url, &opts, &e_));
    CHECK_FAILS(SL_EBUSY, sl_store_log_append_findings(small, job, "abcdef", 6, 5, 29, bad + 1, 1,
                                                       added, &failed, &end, &lines, &e_));
    CHECK_OK(sl_store_log_size(small, job, &size, &e_));
    CHECK_INT_EQ(size, 29);
    CHECK_OK(sl_store_secret_finding_count(small, pl, job, &count, &e_));
    CHECK_INT_EQ(count, pg ? 3 : 4);
    sl_store_close(small);
    /* a job that does not exist: neither */
    memcpy(fs, given, sizeof(fs));
    CHECK_FAILS(SL_ENOENT, sl_store_log_append_findings(st, job + 1000, "x", 1, 1, 0, fs, 2, added,
                                                        &failed, &end, &lines, &e_));
    CHECK_OK(sl_store_secret_finding_count(st, pl, 0, &count, &e_));
    CHECK_INT_EQ(count, pg ? 3 : 4);
}

STORE_TEST(artifacts)
{
    int64_t proj = make_project(st, "p");
    int64_t pl = make_pipeline(st, proj, 1, "success", 0);
    int64_t job = first_job(st, pl);
    CHECK(job > 0);

    struct sl_store_artifact a = {.job_id = job,
                                  .name = (char *)"archive",
                                  .path = (char *)"artifacts/1/archive.zip",
                                  .size = 1234,
                                  .created_at = 10,
                                  .expire_at = 100};
    int64_t id1 = 0, id2 = 0;
    CHECK_OK(sl_store_artifact_add(st, &a, &id1, &e_));
    a.name = (char *)"junit";
    a.expire_at = 0;
    CHECK_OK(sl_store_artifact_add(st, &a, &id2, &e_));
    a.job_id = job + 100;
    CHECK_FAILS(SL_ENOENT, sl_store_artifact_add(st, &a, NULL, &e_));

    struct sl_store_artifact *list = NULL;
    size_t n = 0;
    CHECK_OK(sl_store_artifact_list(st, job, &list, &n, &e_));
    CHECK_INT_EQ(n, 2);
    CHECK_STR_EQ(list[0].name, "archive");
    CHECK_STR_EQ(list[0].path, "artifacts/1/archive.zip");
    CHECK_INT_EQ(list[0].size, 1234);
    CHECK_INT_EQ(list[0].expire_at, 100);
    CHECK_INT_EQ(list[1].expire_at, 0);
    sl_store_artifacts_free(list, n);

    CHECK_OK(sl_store_artifact_list_expired(st, 100, 10, &list, &n, &e_));
    CHECK_INT_EQ(n, 0);
    sl_store_artifacts_free(list, n);
    CHECK_OK(sl_store_artifact_list_expired(st, 101, 10, &list, &n, &e_));
    CHECK_INT_EQ(n, 1);
    CHECK_INT_EQ(list[0].id, id1);
    sl_store_artifacts_free(list, n);
    CHECK_OK(sl_store_artifact_delete(st, id1, &e_));
    CHECK_FAILS(SL_ENOENT, sl_store_artifact_delete(st, id1, &e_));
    CHECK_OK(sl_store_artifact_list(st, job, &list, &n, &e_));
    CHECK_INT_EQ(n, 1);
    CHECK_INT_EQ(list[0].id, id2);
    sl_store_artifacts_free(list, n);
}

STORE_TEST(tokens)
{
    char *secret = NULL, *secret2 = NULL;
    int64_t id = 0;
    CHECK_OK(sl_store_token_create(st, "ci-admin", "admin", 100, 0, &secret, &id, &e_));
    CHECK_INT_EQ(strlen(secret), SL_STORE_TOKEN_LEN);
    CHECK(sl_starts_with(secret, "slt_"));
    CHECK_OK(sl_store_token_create(st, "viewer", "viewer", 100, 0, &secret2, NULL, &e_));
    CHECK(!sl_streq(secret, secret2));
    CHECK_FAILS(SL_EINVAL, sl_store_token_create(st, "x", "root", 100, 0, &secret2, NULL, &e_));

    struct sl_store_token t = {0};
    CHECK_OK(sl_store_token_verify(st, secret, 200000, &t, &e_));
    CHECK_INT_EQ(t.id, id);
    CHECK_STR_EQ(t.name, "ci-admin");
    CHECK_STR_EQ(t.role, "admin");
    CHECK_INT_EQ(t.last_used_at, 200000);
    sl_store_token_release(&t);
    CHECK_OK(sl_store_token_verify(st, secret2, 200000, &t, &e_));
    CHECK_STR_EQ(t.role, "viewer");
    sl_store_token_release(&t);

    /* only the hash is stored */
    struct db_rows rows = {0};
    CHECK_OK(sl_db_run(st, false, "SELECT token_hash FROM tokens ORDER BY id", NULL, 0, &rows, NULL,
                       &e_));
    CHECK_INT_EQ(rows.nrows, 2);
    CHECK_INT_EQ(sl_db_cell(&rows, 0, 0)->len, 64);
    bool leaked = strstr(sl_db_cell(&rows, 0, 0)->data, secret + 4) != NULL;
    sl_db_rows_release(&rows);
    CHECK(!leaked);

    char *wrong = sl_xstrdup(secret);
    wrong[10] = wrong[10] == 'a' ? 'b' : 'a';
    int rc_wrong = sl_store_token_verify(st, wrong, 1, &t, NULL);
    int rc_short = sl_store_token_verify(st, "slt_abc", 1, &t, NULL);
    int rc_prefix = sl_store_token_verify(st, secret + 1, 1, &t, NULL);
    wrong[10] = 'Z';
    int rc_charset = sl_store_token_verify(st, wrong, 1, &t, NULL);
    free(wrong);
    CHECK_INT_EQ(rc_wrong, SL_ENOENT);
    CHECK_INT_EQ(rc_short, SL_ENOENT);
    CHECK_INT_EQ(rc_prefix, SL_ENOENT);
    CHECK_INT_EQ(rc_charset, SL_ENOENT);
    CHECK_FAILS(SL_ENOENT, sl_store_token_verify(st, NULL, 1, &t, &e_));

    /* an expiring token authenticates until its expiry, never from then on */
    char *expiring = NULL;
    int64_t eid = 0;
    CHECK_FAILS(SL_EINVAL,
                sl_store_token_create(st, "late", "viewer", 5000, 5000, &expiring, NULL, &e_));
    CHECK_OK(sl_store_token_create(st, "soon", "viewer", 1000, 300000, &expiring, &eid, &e_));
    CHECK_OK(sl_store_token_verify(st, expiring, 299999, &t, &e_));
    CHECK_INT_EQ(t.expires_at, 300000);
    sl_store_token_release(&t);
    CHECK_FAILS(SL_ENOENT, sl_store_token_verify(st, expiring, 300000, &t, &e_));
    CHECK_OK(sl_store_token_revoke(st, eid, &e_));
    free(expiring);

    /* a token verified again and again (SQLite keeps it in memory a while: backend.h) is
     * refused the moment it is revoked, and its expiry holds as before */
    char *held = NULL;
    int64_t hid = 0;
    CHECK_OK(sl_store_token_create(st, "held", "developer", 1000, 400000, &held, &hid, &e_));
    for (int64_t at = 310000; at < 310003; at++) {
        CHECK_OK(sl_store_token_verify(st, held, at, &t, &e_));
        CHECK_INT_EQ(t.id, hid);
        CHECK_STR_EQ(t.role, "developer");
        CHECK_INT_EQ(t.last_used_at, 310000);
        sl_store_token_release(&t);
    }
    CHECK_OK(sl_store_token_verify(st, held, 310003, NULL, &e_));
    CHECK_FAILS(SL_ENOENT, sl_store_token_verify(st, held, 400000, &t, &e_));
    CHECK_OK(sl_store_token_verify(st, held, 310004, NULL, &e_));
    CHECK_OK(sl_store_token_revoke(st, hid, &e_));
    CHECK_FAILS(SL_ENOENT, sl_store_token_verify(st, held, 310005, &t, &e_));
    CHECK_FAILS(SL_ENOENT, sl_store_token_verify(st, held, 310005, NULL, &e_));
    /* a minute after its last recorded use, a use is written again */
    CHECK_OK(sl_store_token_verify(st, secret, 200001, &t, &e_));
    sl_store_token_release(&t);
    CHECK_OK(sl_store_token_verify(st, secret, 270001, &t, &e_));
    CHECK_INT_EQ(t.last_used_at, 270001);
    sl_store_token_release(&t);
    CHECK_OK(sl_db_run(st, false, "SELECT last_used_at FROM tokens WHERE id = ?",
                       (struct db_value[]){db_int(id)}, 1, &rows, NULL, &e_));
    int64_t used = sl_db_get_int(&rows, 0, 0);
    sl_db_rows_release(&rows);
    CHECK_INT_EQ(used, 270001);
    free(held);

    CHECK_OK(sl_store_token_revoke(st, id, &e_));
    CHECK_FAILS(SL_ENOENT, sl_store_token_verify(st, secret, 1, &t, &e_));
    CHECK_FAILS(SL_ENOENT, sl_store_token_revoke(st, id + 100, &e_));

    struct sl_store_token *list = NULL;
    size_t n = 0;
    CHECK_OK(sl_store_token_list(st, NULL, &list, &n, &e_));
    CHECK_INT_EQ(n, 4);
    CHECK(list[0].revoked && !list[1].revoked && list[2].revoked && list[3].revoked);
    CHECK_INT_EQ(list[0].last_used_at, 270001);
    CHECK_INT_EQ(list[0].expires_at, 0);
    CHECK_INT_EQ(list[2].expires_at, 300000);
    sl_store_tokens_free(list, n);
    free(secret);
    free(secret2);
}

STORE_TEST(sl_audit)
{
    for (int i = 0; i < 5; i++) {
        struct sl_store_audit a = {.at = 1000 + i,
                                   .actor = (char *)(i < 3 ? "token:1" : "webhook:github"),
                                   .action =
                                       (char *)(i % 2 ? "webhook.rejected" : "project.create"),
                                   .target = i ? (char *)"project:1" : NULL,
                                   .detail = i ? (char *)"{\"why\":\"bad signature\"}" : NULL,
                                   .remote_addr = (char *)"127.0.0.1"};
        CHECK_OK(sl_store_audit_add(st, &a, NULL, &e_));
    }
    struct sl_store_audit bad = {.at = 1, .actor = (char *)"x"};
    CHECK_FAILS(SL_EINVAL, sl_store_audit_add(st, &bad, NULL, &e_));

    struct sl_store_audit *list = NULL;
    size_t n = 0;
    struct sl_store_page page = {.limit = 3};
    CHECK_OK(sl_store_audit_list(st, &page, NULL, &list, &n, &e_));
    CHECK_INT_EQ(n, 3);
    CHECK_INT_EQ(list[0].at, 1004); /* newest first */
    CHECK_STR_EQ(list[0].detail, "{\"why\":\"bad signature\"}");
    CHECK_STR_EQ(list[0].remote_addr, "127.0.0.1");
    page.after = list[2].id;
    sl_store_audits_free(list, n);
    CHECK_OK(sl_store_audit_list(st, &page, NULL, &list, &n, &e_));
    CHECK_INT_EQ(n, 2);
    CHECK_INT_EQ(list[1].at, 1000);
    CHECK_STR_EQ(list[1].target, "");
    CHECK_STR_EQ(list[1].detail, "{}");
    sl_store_audits_free(list, n);
    page = (struct sl_store_page){0};
    struct sl_store_audit_filter f = {.action = "webhook.rejected"};
    CHECK_OK(sl_store_audit_list(st, &page, &f, &list, &n, &e_));
    CHECK_INT_EQ(n, 2);
    sl_store_audits_free(list, n);
    /* by actor, and by time (since inclusive, until exclusive), ANDed with the action */
    f = (struct sl_store_audit_filter){.actor = "token:1"};
    CHECK_OK(sl_store_audit_list(st, &page, &f, &list, &n, &e_));
    CHECK_INT_EQ(n, 3);
    sl_store_audits_free(list, n);
    f = (struct sl_store_audit_filter){.since = 1001, .until = 1004};
    CHECK_OK(sl_store_audit_list(st, &page, &f, &list, &n, &e_));
    CHECK_INT_EQ(n, 3);
    CHECK_INT_EQ(list[0].at, 1003);
    CHECK_INT_EQ(list[2].at, 1001);
    sl_store_audits_free(list, n);
    f = (struct sl_store_audit_filter){.action = "webhook.rejected", .actor = "token:1"};
    CHECK_OK(sl_store_audit_list(st, &page, &f, &list, &n, &e_));
    CHECK_INT_EQ(n, 1);
    sl_store_audits_free(list, n);
    f = (struct sl_store_audit_filter){.actor = "nobody"};
    CHECK_OK(sl_store_audit_list(st, &page, &f, &list, &n, &e_));
    CHECK_INT_EQ(n, 0);
    sl_store_audits_free(list, n);
}

/* Drops every table of ST (whatever the migrations made): tables that others reference
 * fail to drop until those are gone, so it goes round until nothing is left. */
static int drop_every_table(struct sl_store *st)
{
    const char *list = sl_streq(sl_store_backend(st), "sqlite")
                           ? "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT "
                             "LIKE 'sqlite_%'"
                           : "SELECT tablename FROM pg_tables WHERE schemaname = "
                             "current_schema()";
    for (int round = 0; round < 50; round++) {
        struct db_rows rows = {0};
        if (sl_db_run(st, false, list, NULL, 0, &rows, NULL, NULL) < 0)
            return -1;
        size_t left = rows.nrows;
        for (size_t i = 0; i < rows.nrows; i++) {
            char sql[256];
            snprintf(sql, sizeof(sql), "DROP TABLE %s", sl_db_cell(&rows, i, 0)->data);
            if (sl_db_run(st, true, sql, NULL, 0, NULL, NULL, NULL) == 0)
                left--;
        }
        sl_db_rows_release(&rows);
        if (left == 0)
            return 0;
    }
    return -1;
}

STORE_TEST(migrate_from_older_schema)
{
    /* st was opened with every migration; start over with only 0001 applied */
    int v = 0;
    CHECK_OK(sl_store_schema_version(st, &v, &e_));
    CHECK_INT_EQ(v, sl_store_latest_version());
    CHECK_OK(drop_every_table(st));

    struct sl_store *old = NULL, *cur = NULL;
    struct sl_store_options opts = {.migrate_to = 1};
    CHECK_OK(sl_store_open_with(&old, url, &opts, &e_));
    int rc = sl_store_schema_version(old, &v, NULL);
    int64_t proj = make_project(old, "kept");
    int64_t pl = make_pipeline(old, proj, 2, "pending", 10);
    char *secret = NULL;
    int rc_tok = sl_store_token_create(old, "t", "admin", 1, 0, &secret, NULL, NULL);
    sl_store_close(old);
    CHECK_INT_EQ(rc, 0);
    CHECK_INT_EQ(v, 1);
    CHECK(proj > 0 && pl > 0);
    CHECK_INT_EQ(rc_tok, SL_ESTORE); /* no tokens table at version 1 */

    CHECK_OK(sl_store_open(&cur, url, &e_));
    rc = sl_store_schema_version(cur, &v, NULL);
    struct sl_store_pipeline p = {0};
    int rc_get = sl_store_pipeline_get(cur, pl, &p, NULL);
    rc_tok = sl_store_token_create(cur, "t", "admin", 1, 0, &secret, NULL, NULL);
    struct sl_store_job j = {0};
    int claimed = sl_store_claim_job(cur, "w", NULL, 0, 10, 100, &j, NULL);
    struct db_rows rows = {0};
    int rc_rows =
        sl_db_run(cur, false, "SELECT version, name FROM schema_migrations ORDER BY version", NULL,
                  0, &rows, NULL, NULL);
    sl_store_close(cur);
    CHECK_INT_EQ(rc, 0);
    CHECK_INT_EQ(v, sl_store_latest_version());
    CHECK_INT_EQ(rc_get, 0);
    CHECK_INT_EQ(p.project_id, proj);
    sl_store_pipeline_release(&p);
    CHECK_INT_EQ(rc_tok, 0);
    free(secret);
    CHECK_INT_EQ(claimed, 1);
    CHECK_INT_EQ(j.pipeline_id, pl);
    sl_store_job_release(&j);
    CHECK_INT_EQ(rc_rows, 0);
    struct sl_store_migration *all = NULL;
    size_t nall = 0;
    CHECK_OK(sl_store_migrations("sqlite", &all, &nall, &e_));
    sl_store_migrations_free(all, nall);
    CHECK_INT_EQ(rows.nrows, nall); /* every embedded migration, once */
    bool names_ok = sl_streq(sl_db_cell(&rows, 0, 1)->data, "init") &&
                    sl_streq(sl_db_cell(&rows, 1, 1)->data, "artifacts_tokens_audit");
    sl_db_rows_release(&rows);
    CHECK(names_ok);
}

/* 0081: the jobs' token and resource-group indexes hold only rows that have one. A
 * database of version 80 with a claimed job (a token) and pending ones (none) migrates; the
 * token still finds its job, a new claim's does too, two jobs cannot share a token, and both
 * indexes are partial. */
STORE_TEST(migrate_partial_job_indexes)
{
    CHECK_OK(drop_every_table(st));
    struct sl_store *old = NULL, *cur = NULL;
    struct sl_store_options opts = {.migrate_to = 80};
    CHECK_OK(sl_store_open_with(&old, url, &opts, &e_));
    int64_t proj = make_project(old, "kept");
    int64_t pl = make_pipeline(old, proj, 3, "pending", 10);
    struct sl_store_claim c = {
        .worker_id = "w", .untagged = true, .lease_seconds = 600, .now = 100};
    struct sl_store_job j1 = {0}, j2 = {0}, got1 = {0}, got2 = {0};
    char *tok1 = NULL, *tok2 = NULL;
    int claimed1 = sl_store_claim(old, &c, &j1, &tok1, NULL);
    sl_store_close(old);
    CHECK(pl > 0);
    CHECK_INT_EQ(claimed1, 1);

    CHECK_OK(sl_store_open(&cur, url, &e_));
    int v = 0;
    int rc_v = sl_store_schema_version(cur, &v, NULL);
    int rc1 = sl_store_job_token_lookup(cur, tok1, &got1, NULL);
    int claimed2 = sl_store_claim(cur, &c, &j2, &tok2, NULL);
    int rc2 = claimed2 == 1 ? sl_store_job_token_lookup(cur, tok2, &got2, NULL) : -1;
    struct db_value dv[] = {db_int(j1.id), db_int(j2.id)};
    int rc_dup = sl_db_run(cur, true,
                           "UPDATE jobs SET job_token_hash = (SELECT job_token_hash FROM jobs "
                           "WHERE id = ?) WHERE id = ?",
                           dv, 2, NULL, NULL, NULL);
    bool sqlite = sl_streq(sl_store_backend(cur), "sqlite");
    const char *q = sqlite ? "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = ?"
                           : "SELECT indexdef FROM pg_indexes WHERE indexname = ?";
    bool partial[2] = {false, false};
    const char *names[2] = {"jobs_by_token", "jobs_by_resource_group"};
    for (size_t i = 0; i < 2; i++) {
        struct db_rows rows = {0};
        struct db_value nv = db_text(names[i]);
        if (sl_db_run(cur, false, q, &nv, 1, &rows, NULL, NULL) == 0 && rows.nrows == 1)
            partial[i] = strstr(sl_db_cell(&rows, 0, 0)->data, "WHERE") != NULL;
        sl_db_rows_release(&rows);
    }
    sl_store_close(cur);
    CHECK_INT_EQ(rc_v, 0);
    CHECK_INT_EQ(v, sl_store_latest_version());
    CHECK_INT_EQ(rc1, 0);
    CHECK_INT_EQ(got1.id, j1.id);
    CHECK_INT_EQ(claimed2, 1);
    CHECK_INT_EQ(rc2, 0);
    CHECK_INT_EQ(got2.id, j2.id);
    CHECK(j1.id != j2.id);
    CHECK_INT_EQ(rc_dup, SL_EEXISTS);
    CHECK(partial[0]);
    CHECK(partial[1]);
    free(tok1);
    free(tok2);
    sl_store_job_release(&j1);
    sl_store_job_release(&j2);
    sl_store_job_release(&got1);
    sl_store_job_release(&got2);
}

STORE_TEST(newer_schema_refused)
{
    struct db_value v[] = {db_int(999), db_text("from_the_future"), db_int(1)};
    CHECK_OK(sl_db_run(st, true,
                       "INSERT INTO schema_migrations (version, name, applied_at) "
                       "VALUES (?, ?, ?)",
                       v, 3, NULL, NULL, &e_));
    struct sl_store *again = NULL;
    struct sl_error err = SL_ERROR_INIT;
    int rc = sl_store_open(&again, url, &err);
    char *want = sl_xasprintf("database schema version 999 is newer than this sluice (%d); "
                              "upgrade sluice",
                              sl_store_latest_version());
    bool same = err.message && sl_streq(err.message, want);
    if (!same)
        printf("# got: %s\n", err.message ? err.message : "(none)");
    free(want);
    sl_error_release(&err);
    sl_store_close(again);
    CHECK_INT_EQ(rc, SL_EUNSUPPORTED);
    CHECK(same);
}

/* ---- concurrency: every job claimed exactly once ---- */

#define RACE_JOBS 500

struct claimer {
    struct sl_store *st;
    char worker[32];
    int64_t *ids; /* RACE_JOBS slots */
    size_t n;
    int failures;
};

static void *claim_loop(void *arg)
{
    struct claimer *c = arg;
    for (;;) {
        struct sl_store_job j = {0};
        int rc = sl_store_claim_job(c->st, c->worker, NULL, 0, 600, sl_time_now_ms(), &j, NULL);
        if (rc == 0)
            break;
        if (rc < 0) {
            /* a busy database is not a lost job: try again a few times */
            if (++c->failures > 1000)
                break;
            continue;
        }
        if (c->n < RACE_JOBS)
            c->ids[c->n++] = j.id;
        sl_store_job_release(&j);
    }
    return NULL;
}

/* Runs NTHREADS claimers on ST; writes every claimed id to IDS (at least RACE_JOBS slots). */
static size_t claim_with_threads(struct sl_store *st, int nthreads, const char *prefix,
                                 int64_t *ids, int *failures)
{
    struct claimer c[8];
    pthread_t th[8];
    size_t total = 0;
    for (int i = 0; i < nthreads; i++) {
        c[i] = (struct claimer){.st = st, .ids = sl_xcalloc(RACE_JOBS, sizeof(int64_t))};
        snprintf(c[i].worker, sizeof(c[i].worker), "%s-%d", prefix, i);
        pthread_create(&th[i], NULL, claim_loop, &c[i]);
    }
    for (int i = 0; i < nthreads; i++) {
        pthread_join(th[i], NULL);
        for (size_t k = 0; k < c[i].n && total < RACE_JOBS; k++)
            ids[total++] = c[i].ids[k];
        *failures += c[i].failures;
        free(c[i].ids);
    }
    return total;
}

static int cmp_id(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Every one of the RACE_JOBS jobs appears exactly once in IDS, and is running. */
static void check_claimed_once(struct sl_store *st, int64_t *ids, size_t n)
{
    CHECK_INT_EQ(n, RACE_JOBS);
    qsort(ids, n, sizeof(*ids), cmp_id);
    for (size_t i = 1; i < n; i++)
        CHECK(ids[i] != ids[i - 1]);
    struct sl_store_count *counts = NULL;
    size_t nc = 0;
    CHECK_OK(sl_store_count_by_status(st, SL_STORE_JOBS, &counts, &nc, &e_));
    bool all_running =
        nc == 1 && sl_streq(counts[0].status, "running") && counts[0].count == RACE_JOBS;
    sl_store_counts_free(counts, nc);
    CHECK(all_running);
}

/* Four threads try to take each of the RACE_JOBS running bridges (as servers starting at
 * once on one store, each firing what a stop left unfired): every one is taken once. */
struct bridge_taker {
    struct sl_store *st;
    const int64_t *ids;
    int taken;
};

static void *take_bridges(void *arg)
{
    struct bridge_taker *t = arg;
    for (size_t i = 0; i < RACE_JOBS; i++) {
        struct sl_error err = SL_ERROR_INIT;
        if (sl_store_job_take_bridge(t->st, t->ids[i], 1000, 500, &err) == 0)
            t->taken++;
        sl_error_release(&err);
    }
    return NULL;
}

STORE_TEST(bridge_taken_once)
{
    int64_t proj = make_project(st, "bridges");
    int64_t pl = make_pipeline(st, proj, RACE_JOBS + 1, "created", 0);
    struct sl_store_job *jobs = NULL;
    size_t n = 0;
    CHECK_OK(sl_store_job_list_by_pipeline(st, pl, &jobs, &n, &e_));
    CHECK_INT_EQ(n, RACE_JOBS + 1);
    int64_t *ids = sl_xcalloc(RACE_JOBS, sizeof(*ids));
    for (size_t i = 0; i < RACE_JOBS; i++) { /* running, no runner: unfired */
        free(jobs[i].status);
        jobs[i].status = sl_xstrdup("running");
        CHECK_OK(sl_store_job_update(st, &jobs[i], NULL, &e_));
        ids[i] = jobs[i].id;
    }
    struct bridge_taker t[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        t[i] = (struct bridge_taker){.st = st, .ids = ids};
        pthread_create(&th[i], NULL, take_bridges, &t[i]);
    }
    int taken = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        taken += t[i].taken;
    }
    CHECK_INT_EQ(taken, RACE_JOBS);
    struct sl_store_job got = {0};
    CHECK_OK(sl_store_job_get(st, ids[0], &got, &e_));
    CHECK_STR_EQ(got.runner_id, "bridge");
    CHECK_INT_EQ(got.lease_deadline, 1000);
    CHECK_INT_EQ(got.started_at, 500);
    sl_store_job_release(&got);
    CHECK_FAILS(SL_EBUSY, sl_store_job_take_bridge(st, ids[0], 2000, 600, &e_));
    /* a job that is not running is no bridge to fire; an unknown one is not found */
    CHECK_FAILS(SL_EBUSY, sl_store_job_take_bridge(st, jobs[RACE_JOBS].id, 2000, 600, &e_));
    CHECK_FAILS(SL_ENOENT, sl_store_job_take_bridge(st, jobs[RACE_JOBS].id + 1000, 1, 1, &e_));
    free(ids);
    sl_store_jobs_free(jobs, n);
}

STORE_TEST(claim_race_threads)
{
    int64_t proj = make_project(st, "race");
    CHECK(make_pipeline(st, proj, RACE_JOBS, "pending", 1) > 0);
    int64_t *ids = sl_xcalloc(RACE_JOBS, sizeof(*ids));
    int failures = 0;
    size_t n = claim_with_threads(st, 4, "t", ids, &failures);
    if (failures)
        printf("# %d claim attempts failed and were retried\n", failures);
    check_claimed_once(st, ids, n);
    free(ids);
}

STORE_TEST(claim_race_processes)
{
    int64_t proj = make_project(st, "race");
    CHECK(make_pipeline(st, proj, RACE_JOBS, "pending", 1) > 0);
    /* two processes, each its own store (own connections) with two threads: as two
     * servers on one database */
    const char *dir = sl_test_tmpdir();
    pid_t pids[2];
    int ready[2], go[2];
    CHECK(pipe(ready) == 0 && pipe(go) == 0);
    fflush(stdout);
    for (int p = 0; p < 2; p++) {
        pids[p] = fork();
        CHECK(pids[p] >= 0);
        if (pids[p] == 0) {
            struct sl_store *own = NULL;
            int64_t ids[RACE_JOBS];
            int failures = 0;
            char b = 0;
            close(go[1]);
            if (sl_store_open(&own, url, NULL) < 0)
                _exit(2);
            /* both processes start claiming together */
            if (write(ready[1], "r", 1) != 1 || read(go[0], &b, 1) != 0)
                _exit(4);
            char prefix[16];
            snprintf(prefix, sizeof(prefix), "proc%d", p);
            size_t n = claim_with_threads(own, 2, prefix, ids, &failures);
            sl_store_close(own);
            char *path = sl_xasprintf("%s/claimed-%d", dir, p);
            FILE *f = fopen(path, "w");
            for (size_t i = 0; f && i < n; i++)
                fprintf(f, "%" PRId64 "\n", ids[i]);
            _exit(f && fclose(f) == 0 ? 0 : 3);
        }
    }
    char b[2];
    bool both_ready = read(ready[0], b, 1) == 1 && read(ready[0], b + 1, 1) == 1;
    close(go[1]); /* go */
    close(go[0]);
    close(ready[0]);
    close(ready[1]);
    for (int p = 0; p < 2; p++) {
        int status = 0;
        waitpid(pids[p], &status, 0);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    CHECK(both_ready);
    int64_t *ids = sl_xcalloc(2 * RACE_JOBS, sizeof(*ids));
    size_t n = 0, per[2] = {0};
    for (int p = 0; p < 2; p++) {
        char *path = sl_xasprintf("%s/claimed-%d", dir, p);
        FILE *f = fopen(path, "r");
        free(path);
        long long id;
        while (f && n < 2 * RACE_JOBS && fscanf(f, "%lld", &id) == 1) {
            ids[n++] = id;
            per[p]++;
        }
        if (f)
            fclose(f);
    }
    printf("# process 0 claimed %zu, process 1 claimed %zu\n", per[0], per[1]);
    check_claimed_once(st, ids, n);
    free(ids);
}

/* ---- CI/CD variables, sealed ---- */

static bool file_contains(const char *path, const char *needle)
{
    char *buf = NULL;
    size_t len = 0;
    bool hit = false;
    if (sl_fs_read_file(path, 64u << 20, &buf, &len, NULL) == 0)
        hit = memmem(buf, len, needle, strlen(needle)) != NULL;
    free(buf);
    return hit;
}

/* A transition's transaction: every store call of the thread runs in it, a function with a
 * transaction of its own gets a savepoint, and a rollback leaves nothing. */
STORE_TEST(transition_transaction)
{
    int64_t proj = make_project(st, "tx"), pl = make_pipeline(st, proj, 2, "pending", 0), id = 0;
    struct sl_store_pipeline got = {0};
    CHECK(pl > 0);
    CHECK_FAILS(SL_ENOENT, sl_store_tx_begin(st, pl + 1000, &e_));
    CHECK_OK(sl_store_tx_begin(st, pl, &e_));
    CHECK_FAILS(SL_EBUSY, sl_store_tx_begin(st, pl, &e_)); /* one per thread */
    CHECK_OK(sl_store_pipeline_get(st, pl, &got, &e_));
    free(got.status);
    got.status = sl_xstrdup("failed"); /* make_pipeline's are running */
    CHECK_OK(sl_store_pipeline_update(st, &got, &e_));
    sl_store_pipeline_release(&got);
    struct sl_store_project p = {.name = (char *)"tx-inner", .repo_url = (char *)"file:///r"};
    CHECK_OK(sl_store_project_create(st, &p, 1, &id, &e_));      /* its own transaction: nested */
    CHECK_FAILS(SL_EINVAL, sl_store_tx_end(st, SL_EINVAL, &e_)); /* roll back */
    CHECK_OK(sl_store_pipeline_get(st, pl, &got, &e_));
    CHECK_STR_EQ(got.status, "running");
    sl_store_pipeline_release(&got);
    struct sl_store_project gp = {0};
    CHECK_FAILS(SL_ENOENT, sl_store_project_get_by_name(st, "tx-inner", &gp, &e_));
    /* and a commit keeps both */
    CHECK_OK(sl_store_tx_begin(st, pl, &e_));
    CHECK_OK(sl_store_project_create(st, &p, 1, &id, &e_));
    CHECK_OK(sl_store_tx_end(st, 0, &e_));
    CHECK_OK(sl_store_project_get_by_name(st, "tx-inner", &gp, &e_));
    sl_store_project_release(&gp);
}

/* A read snapshot (sl_store_read_begin): on SQLite the reads share one transaction, so
 * another store's commit is seen only once the thread writes or the snapshot ends; a write
 * in it is the thread's to read at once, a transaction in it commits, and it nests. With a
 * pool of one connection, the writes must run on the snapshot's own (else they would wait
 * for it forever). On PostgreSQL it changes nothing: every read sees the latest commit. */
STORE_TEST(read_snapshot)
{
    bool sqlite = !strcmp(sl_store_backend(st), "sqlite");
    int64_t proj = make_project(st, "snap"), pl = make_pipeline(st, proj, 1, "pending", 0), id = 0;
    struct sl_store *one = NULL;
    struct sl_store_options opts = {.pool_size = 1};
    struct sl_store_pipeline got = {0};
    struct sl_store_project gp = {0};
    CHECK(pl > 0);
    CHECK_OK(sl_store_open_with(&one, url, &opts, &e_));
    if (!one)
        return;

    sl_store_read_begin(one);
    CHECK_OK(sl_store_pipeline_get(one, pl, &got, &e_));
    CHECK_STR_EQ(got.status, "running");
    /* another store commits */
    free(got.status);
    got.status = sl_xstrdup("failed");
    CHECK_OK(sl_store_pipeline_update(st, &got, &e_));
    sl_store_pipeline_release(&got);
    sl_store_read_begin(one); /* nested: the same snapshot */
    CHECK_OK(sl_store_pipeline_get(one, pl, &got, &e_));
    CHECK_STR_EQ(got.status, sqlite ? "running" : "failed");
    sl_store_pipeline_release(&got);
    sl_store_read_end(one);
    CHECK_OK(sl_store_pipeline_get(one, pl, &got, &e_));
    CHECK_STR_EQ(got.status, sqlite ? "running" : "failed");
    sl_store_pipeline_release(&got);
    /* a write: read at once, and the snapshot after it is new */
    struct sl_store_project p = {.name = (char *)"snap-1", .repo_url = (char *)"file:///r"};
    CHECK_OK(sl_store_project_create(one, &p, 1, &id, &e_));
    CHECK_OK(sl_store_project_get_by_name(one, "snap-1", &gp, &e_));
    sl_store_project_release(&gp);
    CHECK_OK(sl_store_pipeline_get(one, pl, &got, &e_));
    CHECK_STR_EQ(got.status, "failed");
    sl_store_pipeline_release(&got);
    /* a transaction in it commits (the other store sees its row) */
    p.name = (char *)"snap-2";
    CHECK_OK(sl_store_tx_begin(one, pl, &e_));
    CHECK_OK(sl_store_project_create(one, &p, 1, &id, &e_));
    CHECK_OK(sl_store_tx_end(one, 0, &e_));
    CHECK_OK(sl_store_project_get_by_name(st, "snap-2", &gp, &e_));
    sl_store_project_release(&gp);
    sl_store_read_end(one);

    /* ended: the connection is the pool's again, and reads see the latest */
    CHECK_OK(sl_store_pipeline_get(st, pl, &got, &e_));
    free(got.status);
    got.status = sl_xstrdup("success");
    CHECK_OK(sl_store_pipeline_update(st, &got, &e_));
    sl_store_pipeline_release(&got);
    CHECK_OK(sl_store_pipeline_get(one, pl, &got, &e_));
    CHECK_STR_EQ(got.status, "success");
    sl_store_pipeline_release(&got);
    /* inside a transaction it does nothing (the transaction is the snapshot) */
    CHECK_OK(sl_store_tx_begin(one, pl, &e_));
    sl_store_read_begin(one);
    CHECK_OK(sl_store_pipeline_get(one, pl, &got, &e_));
    CHECK_STR_EQ(got.status, "success");
    sl_store_pipeline_release(&got);
    sl_store_read_end(one);
    CHECK_OK(sl_store_tx_end(one, 0, &e_));
    CHECK_OK(sl_store_ping(one, &e_));
    sl_store_close(one);
}

STORE_TEST(variables_sealed)
{
    unsigned char k1[SL_STORE_SEAL_KEY_BYTES], k2[SL_STORE_SEAL_KEY_BYTES];
    struct sl_store_variable v = {.key = (char *)"DEPLOY_TOKEN",
                                  .value = (char *)"v3ry-s3cret-deploy-value",
                                  .masked = true,
                                  .protected_ = true,
                                  .description = (char *)"deploys"};
    struct sl_store_variable got = {0}, *arr = NULL;
    size_t n = 0;
    int64_t id = 0, pid = make_project(st, "vars"), count = 0;
    char *keypath = sl_fs_join(sl_test_tmpdir(), "secrets.key");
    bool created = false;
    CHECK(pid > 0);

    remove(keypath);
    CHECK_FAILS(SL_ENOENT, sl_store_seal_key_file(keypath, false, k1, NULL, &e_));
    CHECK_OK(sl_store_seal_key_file(keypath, true, k1, &created, &e_));
    CHECK(created);
    struct stat sb;
    CHECK(stat(keypath, &sb) == 0 && (sb.st_mode & 0777) == 0600);
    CHECK_OK(sl_store_seal_key_file(keypath, true, k2, &created, &e_));
    CHECK(!created && memcmp(k1, k2, sizeof(k1)) == 0);

    v.project_id = pid;
    CHECK_FAILS(SL_EINVAL, sl_store_variable_create(st, &v, 10, &id, &e_)); /* no key */
    sl_store_set_seal_key(st, k1);
    CHECK_OK(sl_store_variable_create(st, &v, 10, &id, &e_));
    CHECK_FAILS(SL_EEXISTS, sl_store_variable_create(st, &v, 11, NULL, &e_));
    v.environment_scope = (char *)"production";
    v.value = (char *)"prod-only-s3cret-value";
    CHECK_OK(sl_store_variable_create(st, &v, 12, NULL, &e_));
    struct sl_store_variable inst = {.key = (char *)"REGISTRY", .value = (char *)"registry.local"};
    CHECK_OK(sl_store_variable_create(st, &inst, 13, NULL, &e_));

    CHECK_FAILS(SL_EINVAL, sl_store_variable_get(st, pid, "DEPLOY_TOKEN", NULL, true, &got, &e_));
    CHECK_OK(sl_store_variable_get(st, pid, "DEPLOY_TOKEN", "*", true, &got, &e_));
    CHECK_STR_EQ(got.value, "v3ry-s3cret-deploy-value");
    CHECK(got.masked && got.protected_ && !got.hidden && !got.raw);
    CHECK_STR_EQ(got.variable_type, "env_var");
    CHECK_STR_EQ(got.description, "deploys");
    sl_store_variable_release(&got);
    CHECK_OK(sl_store_variable_list(st, 0, true, &arr, &n, &e_));
    CHECK_INT_EQ(n, 1);
    CHECK_STR_EQ(arr[0].value, "registry.local");
    sl_store_variables_free(arr, n);
    CHECK_OK(sl_store_variable_list(st, pid, false, &arr, &n, &e_));
    CHECK_INT_EQ(n, 2);
    CHECK(arr[0].value == NULL);
    CHECK_STR_EQ(arr[1].environment_scope, "production");
    sl_store_variables_free(arr, n);

    /* the database holds no value in clear */
    if (sl_starts_with(url, "sqlite://")) {
        CHECK(!file_contains(url + 9, "v3ry-s3cret-deploy-value"));
        char *wal = sl_xasprintf("%s-wal", url + 9);
        CHECK(!file_contains(wal, "v3ry-s3cret-deploy-value"));
        CHECK(!file_contains(wal, "prod-only-s3cret-value"));
        free(wal);
    }

    /* update keeps the value when none is given */
    struct sl_store_variable up = {
        .project_id = pid, .key = (char *)"DEPLOY_TOKEN", .variable_type = (char *)"file"};
    CHECK_OK(sl_store_variable_update(st, &up, "*", 20, &e_));
    CHECK_OK(sl_store_variable_get(st, pid, "DEPLOY_TOKEN", "*", true, &got, &e_));
    CHECK_STR_EQ(got.value, "v3ry-s3cret-deploy-value");
    CHECK_STR_EQ(got.variable_type, "file");
    CHECK(!got.masked);
    CHECK_INT_EQ(got.updated_at, 20);
    sl_store_variable_release(&got);

    /* rotation re-seals everything; the old key no longer opens anything */
    randombytes_buf(k2, sizeof(k2));
    CHECK_OK(sl_store_rotate_seal_key(st, k2, &count, &e_));
    CHECK_INT_EQ(count, 3);
    CHECK_OK(sl_store_variable_get(st, pid, "DEPLOY_TOKEN", "production", true, &got, &e_));
    CHECK_STR_EQ(got.value, "prod-only-s3cret-value");
    sl_store_variable_release(&got);
    sl_store_set_seal_key(st, k1);
    CHECK_FAILS(SL_EINVAL,
                sl_store_variable_get(st, pid, "DEPLOY_TOKEN", "production", true, &got, &e_));
    CHECK_FAILS(SL_EINVAL, sl_store_rotate_seal_key(st, k2, NULL, &e_));
    sl_store_set_seal_key(st, k2);
    CHECK_OK(sl_store_sealed_count(st, &count, &e_));
    CHECK_INT_EQ(count, 3);

    CHECK_OK(sl_store_variable_delete(st, pid, "DEPLOY_TOKEN", "production", &e_));
    CHECK_OK(sl_store_variable_delete(st, pid, "DEPLOY_TOKEN", NULL, &e_));
    CHECK_FAILS(SL_ENOENT, sl_store_variable_delete(st, pid, "DEPLOY_TOKEN", NULL, &e_));
    free(keypath);
}

STORE_TEST(feature_flags)
{
    struct sl_store_project p = {.name = (char *)"app", .repo_url = (char *)"r"};
    struct sl_store_flag f = {.name = (char *)"new-checkout",
                              .description = (char *)"the new checkout",
                              .impression_data = true};
    struct sl_store_flag got = {0}, *flags = NULL;
    struct sl_store_flag_env env = {.environment = (char *)"production",
                                    .enabled = true,
                                    .strategies = (char *)"[{\"name\":\"default\"}]"};
    struct sl_store_flag_env *envs = NULL;
    struct sl_store_flag_actor by = {.actor = "token:1", .action = "flag.create"};
    struct sl_store_flag_actor job = {
        .actor = "job:7", .action = "flag.env.set", .pipeline_id = 3, .job_id = 7};
    struct sl_store_flag_change *ch = NULL;
    struct sl_store_flag_token tok = {.environment = (char *)"production",
                                      .type = (char *)"frontend",
                                      .allowed_origins = (char *)"[\"https://a.example\"]"};
    struct sl_store_flag_token vt = {0}, *toks = NULL;
    char *secret = NULL, *inst = NULL, *inst2 = NULL;
    int64_t pid = 0, other = 0, rev = 0, rev2 = 0, tid = 0, found = 0;
    size_t n = 0;

    CHECK_OK(sl_store_project_create(st, &p, 1, &pid, &e_));
    p.name = (char *)"other";
    CHECK_OK(sl_store_project_create(st, &p, 1, &other, &e_));
    f.project_id = pid;
    CHECK_OK(sl_store_flag_create(st, &f, &by, 10, NULL, &e_));
    CHECK_FAILS(SL_EEXISTS, sl_store_flag_create(st, &f, &by, 10, NULL, &e_));
    f.type = (char *)"nonsense";
    CHECK_FAILS(SL_EINVAL, sl_store_flag_create(st, &f, &by, 10, NULL, &e_));
    f.type = NULL;
    f.name = (char *)"a/b";
    CHECK_FAILS(SL_EINVAL, sl_store_flag_create(st, &f, &by, 10, NULL, &e_));
    f.name = (char *)"new-checkout";
    CHECK_OK(sl_store_flag_get(st, pid, "new-checkout", &got, &e_));
    CHECK_STR_EQ(got.type, "release");
    CHECK(got.impression_data);
    CHECK_STR_EQ(got.dependencies, "[]");
    sl_store_flag_release(&got);
    CHECK_FAILS(SL_ENOENT, sl_store_flag_get(st, other, "new-checkout", &got, &e_));

    /* a job's rollout step is recorded with its pipeline and job */
    CHECK_OK(sl_store_flag_revision(st, pid, &rev, &e_));
    /* a real time in milliseconds: 64-bit columns on both backends */
    CHECK_OK(sl_store_flag_env_set(st, pid, "new-checkout", &env, &job, 1796231173923, &e_));
    CHECK_OK(sl_store_flag_revision(st, pid, &rev2, &e_));
    CHECK(rev2 == rev + 1);
    CHECK_FAILS(SL_ENOENT, sl_store_flag_env_set(st, pid, "missing", &env, &job, 20, &e_));
    env.strategies = (char *)"{}";
    CHECK_FAILS(SL_EINVAL, sl_store_flag_env_set(st, pid, "new-checkout", &env, &job, 20, &e_));
    CHECK_OK(sl_store_flag_change_list(st, pid, "new-checkout", NULL, &ch, &n, &e_));
    CHECK_INT_EQ(n, 2);
    CHECK_STR_EQ(ch[0].action, "flag.env.set");
    CHECK_STR_EQ(ch[0].environment, "production");
    CHECK_INT_EQ(ch[0].pipeline_id, 3);
    CHECK_INT_EQ(ch[0].job_id, 7);
    CHECK_INT_EQ(ch[0].at, 1796231173923);
    CHECK_STR_EQ(ch[1].actor, "token:1");
    sl_store_flag_changes_free(ch, n);

    /* import: flags absent from the document end disabled in that environment only */
    struct sl_store_flag in[] = {{.name = (char *)"fresh", .stale = true}};
    struct sl_store_flag_env ine[] = {{.enabled = true, .variants = (char *)"[]"}};
    struct sl_store_flag_segment seg[] = {
        {.id = 5, .name = (char *)"beta", .constraints = (char *)"[]"}};
    struct sl_store_flag_actor imp = {.actor = "token:1", .action = "flag.state.import"};
    env.strategies = NULL;
    env.environment = (char *)"staging";
    CHECK_OK(sl_store_flag_env_set(st, pid, "new-checkout", &env, &by, 30, &e_));
    CHECK_OK(sl_store_flag_state_replace(st, pid, "production", in, ine, 1, seg, 1, &imp, 40, &e_));
    CHECK_OK(sl_store_flag_env_list(st, pid, NULL, "production", &envs, &n, &e_));
    CHECK_INT_EQ(n, 2);
    CHECK_STR_EQ(envs[0].flag, "fresh");
    CHECK(envs[0].enabled);
    CHECK_STR_EQ(envs[1].flag, "new-checkout");
    CHECK(!envs[1].enabled);
    CHECK_STR_EQ(envs[1].strategies, "[{\"name\":\"default\"}]");
    sl_store_flag_envs_free(envs, n);
    CHECK_OK(sl_store_flag_env_list(st, pid, "new-checkout", NULL, &envs, &n, &e_));
    CHECK_INT_EQ(n, 2);
    CHECK_STR_EQ(envs[1].environment, "staging");
    CHECK(envs[1].enabled);
    sl_store_flag_envs_free(envs, n);
    CHECK_FAILS(SL_ENOENT, sl_store_flag_state_replace(st, 999, "production", in, ine, 1, NULL, 0,
                                                       &imp, 40, &e_));
    struct sl_store_flag_segment *segs = NULL;
    CHECK_OK(sl_store_flag_segment_list(st, pid, &segs, &n, &e_));
    CHECK_INT_EQ(n, 1);
    CHECK_INT_EQ(segs[0].id, 5);
    sl_store_flag_segments_free(segs, n);
    char **names = NULL;
    CHECK_OK(sl_store_flag_environments(st, pid, &names, &n, &e_));
    CHECK_INT_EQ(n, 2);
    CHECK_STR_EQ(names[0], "production");
    sl_store_flag_names_free(names, n);

    CHECK_OK(sl_store_flag_list(st, pid, &flags, &n, &e_));
    CHECK_INT_EQ(n, 2);
    CHECK(flags[0].stale);
    sl_store_flags_free(flags, n);
    CHECK_OK(sl_store_flag_delete(st, pid, "fresh", &by, 50, &e_));
    CHECK_FAILS(SL_ENOENT, sl_store_flag_delete(st, pid, "fresh", &by, 50, &e_));

    /* tokens: shown once, only the hash kept, scoped, revocable */
    tok.project_id = pid;
    CHECK_OK(sl_store_flag_token_create(st, &tok, "app", 60, &secret, &tid, &e_));
    CHECK(sl_starts_with(secret, "app:production."));
    CHECK_OK(sl_store_flag_token_verify(st, secret, 70, &vt, &e_));
    CHECK_INT_EQ(vt.project_id, pid);
    CHECK_STR_EQ(vt.type, "frontend");
    CHECK_STR_EQ(vt.allowed_origins, "[\"https://a.example\"]");
    sl_store_flag_token_release(&vt);
    secret[strlen(secret) - 1] ^= 1;
    CHECK_FAILS(SL_ENOENT, sl_store_flag_token_verify(st, secret, 70, NULL, &e_));
    secret[strlen(secret) - 1] ^= 1;
    CHECK_FAILS(SL_ENOENT, sl_store_flag_token_verify(st, "app:production.x", 70, NULL, &e_));
    CHECK_OK(sl_store_flag_token_list(st, pid, &toks, &n, &e_));
    CHECK_INT_EQ(n, 1);
    sl_store_flag_tokens_free(toks, n);
    CHECK_FAILS(SL_ENOENT, sl_store_flag_token_revoke(st, other, tid, &e_));
    CHECK_OK(sl_store_flag_token_revoke(st, pid, tid, &e_));
    CHECK_FAILS(SL_ENOENT, sl_store_flag_token_verify(st, secret, 70, NULL, &e_));
    tok.type = (char *)"admin";
    CHECK_FAILS(SL_EINVAL, sl_store_flag_token_create(st, &tok, "app", 60, &inst, NULL, &e_));

    /* GitLab instance ids: stable until reset */
    CHECK_OK(sl_store_flag_instance_id(st, pid, false, 80, &inst, &e_));
    CHECK(sl_starts_with(inst, "glffct-"));
    CHECK_OK(sl_store_flag_instance_id(st, pid, false, 80, &inst2, &e_));
    CHECK_STR_EQ(inst, inst2);
    free(inst2);
    CHECK_OK(sl_store_flag_instance_project(st, inst, &found, &e_));
    CHECK_INT_EQ(found, pid);
    CHECK_OK(sl_store_flag_instance_id(st, pid, true, 90, &inst2, &e_));
    CHECK(strcmp(inst, inst2) != 0);
    CHECK_FAILS(SL_ENOENT, sl_store_flag_instance_project(st, inst, &found, &e_));
    free(inst);
    free(inst2);
    free(secret);

    /* the project takes its flags with it */
    CHECK_OK(sl_store_project_delete(st, pid, &e_));
    CHECK_OK(sl_store_flag_list(st, pid, &flags, &n, &e_));
    CHECK_INT_EQ(n, 0);
    sl_store_flags_free(flags, n);
}

STORE_TEST(forge_and_deliveries)
{
    int64_t pid = make_project(st, "forge"), id = 0, count = 0, next = 0;
    struct sl_store_forge f = {.project_id = pid,
                               .kind = (char *)"github",
                               .api_url = (char *)"https://api.github.com",
                               .repository = (char *)"o/r",
                               .token = (char *)"ghp_s3cret-forge-token"};
    struct sl_store_forge gotf = {0};
    struct sl_store_notify_rule rule = {.project_id = pid,
                                        .channel = (char *)"webhook",
                                        .target = (char *)"http://hook",
                                        .events = (char *)"[\"failed\"]",
                                        .refs = (char *)"all",
                                        .secret = (char *)"hook-s3cret"};
    struct sl_store_notify_rule *rules = NULL;
    struct sl_store_delivery d = {.project_id = pid,
                                  .kind = (char *)"status:github",
                                  .target = (char *)"http://a",
                                  .payload = (char *)"{}"},
                             got = {0}, *ds = NULL;
    size_t n = 0;
    unsigned char k1[SL_STORE_SEAL_KEY_BYTES], k2[SL_STORE_SEAL_KEY_BYTES];
    randombytes_buf(k1, sizeof(k1));
    randombytes_buf(k2, sizeof(k2));
    CHECK(pid > 0);

    /* the forge token and a rule's secret are stored only sealed */
    CHECK_FAILS(SL_EINVAL, sl_store_forge_set(st, &f, 10, &e_)); /* no key */
    sl_store_set_seal_key(st, k1);
    CHECK_OK(sl_store_forge_set(st, &f, 10, &e_));
    f.repository = (char *)"o/r2";
    CHECK_OK(sl_store_forge_set(st, &f, 20, &e_)); /* replaces */
    CHECK_OK(sl_store_forge_get(st, pid, false, &gotf, &e_));
    CHECK_STR_EQ(gotf.repository, "o/r2");
    CHECK(gotf.token == NULL);
    CHECK_INT_EQ(gotf.created_at, 10);
    CHECK_INT_EQ(gotf.updated_at, 20);
    sl_store_forge_release(&gotf);
    CHECK_OK(sl_store_notify_rule_create(st, &rule, 30, &id, &e_));
    rule.secret = NULL;
    rule.channel = (char *)"slack";
    CHECK_OK(sl_store_notify_rule_create(st, &rule, 31, NULL, &e_));
    if (sl_starts_with(url, "sqlite://")) {
        CHECK(!file_contains(url + 9, "ghp_s3cret-forge-token"));
        CHECK(!file_contains(url + 9, "hook-s3cret"));
    }
    /* rotation re-seals them with the variables' values and the webhook secrets */
    CHECK_OK(sl_store_rotate_seal_key(st, k2, &count, &e_));
    CHECK_INT_EQ(count, 2);
    CHECK_OK(sl_store_sealed_count(st, &count, &e_));
    CHECK_INT_EQ(count, 2);
    CHECK_OK(sl_store_forge_get(st, pid, true, &gotf, &e_));
    CHECK_STR_EQ(gotf.token, "ghp_s3cret-forge-token");
    sl_store_forge_release(&gotf);
    CHECK_OK(sl_store_notify_rule_list(st, pid, true, &rules, &n, &e_));
    CHECK_INT_EQ(n, 2);
    CHECK_STR_EQ(rules[0].secret, "hook-s3cret");
    CHECK_STR_EQ(rules[1].secret, "");
    CHECK_STR_EQ(rules[1].channel, "slack");
    sl_store_notify_rules_free(rules, n);
    sl_store_set_seal_key(st, k1); /* the old key opens nothing */
    CHECK_FAILS(SL_EINVAL, sl_store_forge_get(st, pid, true, &gotf, &e_));
    CHECK_FAILS(SL_EINVAL, sl_store_notify_rule_get(st, id, true, &rule, &e_));
    sl_store_set_seal_key(st, k2);
    CHECK_FAILS(SL_ENOENT, sl_store_notify_rule_delete(st, pid + 1, id, &e_));
    CHECK_OK(sl_store_notify_rule_delete(st, pid, id, &e_));

    /* deliveries: claimed when due, in order per target, leased while being sent */
    CHECK_OK(sl_store_delivery_add(st, &d, 100, &id, &e_));
    d.target = (char *)"http://b";
    CHECK_OK(sl_store_delivery_add(st, &d, 100, NULL, &e_));
    d.target = (char *)"http://a";
    CHECK_OK(sl_store_delivery_add(st, &d, 100, NULL, &e_));            /* waits for the first */
    CHECK_INT_EQ(sl_store_delivery_claim(st, 99, 1000, &got, NULL), 0); /* none due yet */
    CHECK_INT_EQ(sl_store_delivery_claim(st, 100, 1000, &got, NULL), 1);
    CHECK_INT_EQ(got.id, id);
    CHECK_STR_EQ(got.state, "pending");
    CHECK_INT_EQ(got.next_at, 1100);
    /* the first to http://a is leased: the next one due is http://b's, not a's second */
    struct sl_store_delivery other = {0};
    CHECK_INT_EQ(sl_store_delivery_claim(st, 100, 1000, &other, NULL), 1);
    CHECK_STR_EQ(other.target, "http://b");
    sl_store_delivery_release(&other);
    CHECK_INT_EQ(sl_store_delivery_claim(st, 100, 1000, &other, NULL), 0);
    /* a failed attempt waits; then delivered */
    free(got.state);
    got.state = sl_xstrdup("pending");
    got.attempts = 1;
    got.last_error = sl_xstrdup("HTTP 503");
    got.next_at = 200;
    CHECK_OK(sl_store_delivery_update(st, &got, 150, &e_));
    CHECK_OK(sl_store_delivery_next_due(st, &next, &e_));
    CHECK_INT_EQ(next, 200); /* a's first again: a's second, due at 100, waits for it */
    CHECK_INT_EQ(sl_store_delivery_claim(st, 199, 1000, &other, NULL), 0);
    CHECK_INT_EQ(sl_store_delivery_claim(st, 200, 1000, &other, NULL), 1);
    CHECK_INT_EQ(other.id, id);
    CHECK_INT_EQ(other.attempts, 1);
    CHECK_STR_EQ(other.last_error, "HTTP 503");
    free(other.state);
    other.state = sl_xstrdup("delivered");
    other.attempts = 2;
    free(other.last_error);
    other.last_error = NULL;
    CHECK_OK(sl_store_delivery_update(st, &other, 210, &e_));
    sl_store_delivery_release(&other);
    CHECK_INT_EQ(sl_store_delivery_claim(st, 300, 1000, &other, NULL), 1);
    CHECK_STR_EQ(other.target, "http://a"); /* now a's second may go */
    CHECK(other.id != id);
    sl_store_delivery_release(&other);
    sl_store_delivery_release(&got);
    CHECK_OK(sl_store_delivery_get(st, id, &got, &e_));
    CHECK_STR_EQ(got.state, "delivered");
    CHECK_INT_EQ(got.delivered_at, 210);
    CHECK(got.last_error == NULL);
    sl_store_delivery_release(&got);
    struct sl_store_page page = {.status = "delivered"};
    CHECK_OK(sl_store_delivery_list(st, pid, &page, &ds, &n, &e_));
    CHECK_INT_EQ(n, 1);
    sl_store_deliveries_free(ds, n);
    page = (struct sl_store_page){.limit = 2};
    CHECK_OK(sl_store_delivery_list(st, pid, &page, &ds, &n, &e_));
    CHECK_INT_EQ(n, 2);
    CHECK(ds[0].id > ds[1].id); /* newest first */
    page.after = ds[1].id;
    sl_store_deliveries_free(ds, n);
    CHECK_OK(sl_store_delivery_list(st, pid, &page, &ds, &n, &e_));
    CHECK_INT_EQ(n, 1);
    CHECK_INT_EQ(ds[0].id, id);
    sl_store_deliveries_free(ds, n);

    /* finished deliveries go after a while, pending ones stay */
    CHECK_OK(sl_store_delivery_prune(st, 250, &e_));
    CHECK_FAILS(SL_ENOENT, sl_store_delivery_get(st, id, &got, &e_)); /* updated at 210 */
    page = (struct sl_store_page){0};
    CHECK_OK(sl_store_delivery_list(st, pid, &page, &ds, &n, &e_));
    CHECK_INT_EQ(n, 2);
    sl_store_deliveries_free(ds, n);

    /* a ref's last status, for "fixed" */
    char *old = NULL;
    CHECK_OK(sl_store_ref_status_swap(st, pid, "main", "failed", 1, &old, &e_));
    CHECK(old == NULL);
    CHECK_OK(sl_store_ref_status_swap(st, pid, "main", "success", 2, &old, &e_));
    CHECK_STR_EQ(old, "failed");
    free(old);

    /* the project takes it all with it */
    CHECK_OK(sl_store_project_delete(st, pid, &e_));
    CHECK_FAILS(SL_ENOENT, sl_store_forge_get(st, pid, false, &gotf, &e_));
    CHECK_OK(sl_store_delivery_list(st, pid, &page, &ds, &n, &e_));
    CHECK_INT_EQ(n, 0);
    sl_store_deliveries_free(ds, n);
    CHECK_FAILS(SL_ENOENT, sl_store_forge_delete(st, pid, &e_));
}

/* A pipeline's row and its project's say whether the project has a forge connection, read
 * with them: the commit status reports ask the store for the connection only then. */
STORE_TEST(rows_say_whether_a_forge_is_connected)
{
    int64_t pid = make_project(st, "forge-flag"), other = make_project(st, "no-forge");
    int64_t pl = make_pipeline(st, pid, 1, "pending", 0);
    int64_t pl2 = make_pipeline(st, other, 1, "pending", 0);
    struct sl_store_forge f = {.project_id = pid,
                               .kind = (char *)"gitea",
                               .api_url = (char *)"http://forge/api/v1",
                               .repository = (char *)"o/r",
                               .token = (char *)"t0ken"};
    struct sl_store_pipeline p = {0};
    struct sl_store_project proj = {0};
    unsigned char key[SL_STORE_SEAL_KEY_BYTES];
    randombytes_buf(key, sizeof(key));
    sl_store_set_seal_key(st, key);
    CHECK(pl > 0 && pl2 > 0);

    CHECK_OK(sl_store_pipeline_get(st, pl, &p, &e_));
    CHECK(p.forge_known && !p.has_forge);
    sl_store_pipeline_release(&p);
    CHECK_OK(sl_store_project_get(st, pid, &proj, &e_));
    CHECK(proj.forge_known && !proj.has_forge);
    sl_store_project_release(&proj);

    CHECK_OK(sl_store_forge_set(st, &f, 10, &e_));
    CHECK_OK(sl_store_pipeline_get(st, pl, &p, &e_));
    CHECK(p.forge_known && p.has_forge);
    sl_store_pipeline_release(&p);
    CHECK_OK(sl_store_project_get(st, pid, &proj, &e_));
    CHECK(proj.forge_known && proj.has_forge);
    sl_store_project_release(&proj);
    /* another project's rows are not another's connection */
    CHECK_OK(sl_store_pipeline_get(st, pl2, &p, &e_));
    CHECK(p.forge_known && !p.has_forge);
    sl_store_pipeline_release(&p);
    CHECK_OK(sl_store_project_get(st, other, &proj, &e_));
    CHECK(proj.forge_known && !proj.has_forge);
    sl_store_project_release(&proj);

    CHECK_OK(sl_store_forge_delete(st, pid, &e_));
    CHECK_OK(sl_store_pipeline_get(st, pl, &p, &e_));
    CHECK(p.forge_known && !p.has_forge);
    sl_store_pipeline_release(&p);
}

/* A store whose only sealed value is a forge token refuses a wrong key at start-up too. */
STORE_TEST(seal_key_checks_forge_tokens)
{
    int64_t pid = make_project(st, "only-forge");
    unsigned char k1[SL_STORE_SEAL_KEY_BYTES], k2[SL_STORE_SEAL_KEY_BYTES];
    randombytes_buf(k1, sizeof(k1));
    randombytes_buf(k2, sizeof(k2));
    struct sl_store_forge f = {.project_id = pid,
                               .kind = (char *)"gitea",
                               .api_url = (char *)"https://gitea.example/api/v1",
                               .repository = (char *)"o/r",
                               .token = (char *)"tok"};
    sl_store_set_seal_key(st, k1);
    CHECK_OK(sl_store_forge_set(st, &f, 1, &e_));
    char *keypath = sl_fs_join(sl_test_tmpdir(), "forge-only.key");
    CHECK_OK(sl_store_seal_key_write(keypath, k2, &e_));
    CHECK_FAILS(SL_EINVAL, sl_store_seal_key_load(st, keypath, NULL, &e_));
    CHECK_OK(sl_store_seal_key_write(keypath, k1, &e_));
    CHECK_OK(sl_store_seal_key_load(st, keypath, NULL, &e_));
    free(keypath);
}
