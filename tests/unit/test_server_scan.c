/* test_server_scan.c: the server's log scanning (server/secret_scan.c) on a real SQLite store
 * and real git mirrors: a secret cut by a chunk boundary anywhere is found once, and the two
 * in-memory caches in front of the store (the log tails of the jobs that logged last, the
 * rules of the pipelines that logged last) give the same findings once an entry was evicted
 * and read again. The HTTP side is tests/e2e/server_secret_scan.sh. */
#include "base/compat.h"
#include "harness/harness.h"
#include "base/alloc.h"
#include "base/str.h"
#include "base/time.h"
#include "server/internal.h"

#include <unistd.h>

/* made up here: a GitHub token, written in two parts so this file holds none */
#define TOKEN_HEAD "ghp_"
#define TOKEN_BODY "Xq7Lm2Vr9Tz4Kp8Wn3Bc6Hd1Jf5Gs0Ya2ReU"

struct fixture {
    struct sl_server s;
    int64_t project;
    char *dir;
};

static bool fixture_open(struct fixture *f)
{
    struct sl_error err = SL_ERROR_INIT;
    memset(f, 0, sizeof(*f));
    f->dir = sl_xasprintf("%s", sl_test_tmpdir());
    f->s.data_dir = sl_xasprintf("%s/data", f->dir);
    char *db = sl_xasprintf("%s/data/sluice.db", f->dir);
    sl_test_write(f->dir, "data/.keep", "");
    struct sl_store_project p = {.name = (char *)"scan", .repo_url = (char *)"file:///none"};
    sl_srv_scan_init(&f->s);
    bool ok = sl_store_open(&f->s.st, db, &err) == 0 &&
              sl_store_project_create(f->s.st, &p, sl_time_now_ms(), &f->project, &err) == 0;
    if (!ok)
        fprintf(stderr, "# %s\n", sl_error_format(&err));
    sl_error_release(&err);
    free(db);
    return ok;
}

static void fixture_close(struct fixture *f)
{
    sl_srv_scan_free(&f->s);
    sl_store_close(f->s.st);
    free(f->s.data_dir);
    free(f->dir);
}

/* A pipeline of NJOBS jobs on commit SHA (NULL: none); their ids into JOBS. */
static int64_t pipeline(struct fixture *f, const char *sha, int64_t *jobs, size_t njobs)
{
    struct sl_error err = SL_ERROR_INIT;
    struct sl_store_job *in = sl_xcalloc(njobs, sizeof(*in));
    char **names = sl_xcalloc(njobs, sizeof(*names));
    for (size_t i = 0; i < njobs; i++) {
        names[i] = sl_xasprintf("job-%zu", i);
        in[i] = (struct sl_store_job){.name = names[i],
                                      .stage = (char *)"test",
                                      .status = (char *)"running",
                                      .spec = (char *)"{\"script\":[\"true\"]}"};
    }
    struct sl_store_pipeline pl = {.project_id = f->project,
                                   .status = (char *)"running",
                                   .ref = (char *)"main",
                                   .sha = (char *)(sha ? sha : ""),
                                   .source = (char *)"push"};
    int64_t id = 0;
    struct sl_store_job *out = NULL;
    size_t n = 0;
    if (sl_store_pipeline_create(f->s.st, &pl, in, njobs, sl_time_now_ms(), &id, NULL, &err) < 0 ||
        sl_store_job_list_by_pipeline(f->s.st, id, &out, &n, &err) < 0 || n != njobs) {
        fprintf(stderr, "# pipeline: %s\n", err.code ? sl_error_format(&err) : "jobs missing");
        id = -1;
    }
    for (size_t i = 0; id > 0 && i < n; i++)
        jobs[i] = out[i].id;
    sl_store_jobs_free(out, n);
    for (size_t i = 0; i < njobs; i++)
        free(names[i]);
    free(names);
    free(in);
    sl_error_release(&err);
    return id;
}

static void append(struct fixture *f, int64_t job, const char *text)
{
    struct sl_error err = SL_ERROR_INIT;
    CHECK_INT_EQ(sl_srv_log_append(&f->s, job, 0, text, strlen(text), 0, NULL, &err), 0);
    sl_error_release(&err);
}

static int64_t findings(struct fixture *f, int64_t pipeline_id, int64_t job)
{
    struct sl_error err = SL_ERROR_INIT;
    int64_t n = -1;
    if (sl_store_secret_finding_count(f->s.st, pipeline_id, job, &n, &err) < 0) {
        fprintf(stderr, "# findings: %s\n", sl_error_format(&err));
        n = -1;
    }
    sl_error_release(&err);
    return n;
}

static struct sl_srv_scan_stats stats(struct fixture *f)
{
    struct sl_srv_scan_stats st;
    sl_srv_scan_stats(&f->s, &st);
    return st;
}

TEST(a_token_cut_anywhere_by_a_chunk_boundary_is_found_once)
{
    struct fixture f;
    bool opened = fixture_open(&f);
    CHECK(opened);
    if (!opened)
        return;
    const char *token = TOKEN_HEAD TOKEN_BODY;
    size_t tl = strlen(token);
    /* every cut: inside the keyword ("gh" | "p_..."), right after it, inside the secret,
     * before its last byte; a line of build output before it, one job each. (Not after
     * `TOKEN=`: the generic rule takes a cut value of 16 bytes or more at a chunk's end for
     * a secret of its own, a second finding of the same secret.) */
    for (size_t cut = 1; cut < tl; cut++) {
        int64_t job = 0;
        int64_t pid = pipeline(&f, NULL, &job, 1);
        CHECK(pid > 0);
        char *first = sl_xasprintf("[1] CC src/a.o ok\ncloning with %.*s", (int)cut, token);
        char *second = sl_xasprintf("%s\n[2] done\n", token + cut);
        append(&f, job, first);
        append(&f, job, second);
        sl_test_case_begin(first + strlen(first) - cut);
        CHECK_INT_EQ(findings(&f, pid, job), 1);
        sl_test_case_end();
        free(first);
        free(second);
    }
    fixture_close(&f);
}

TEST(a_private_key_across_chunks_is_found_from_its_begin_line)
{
    struct fixture f;
    bool opened = fixture_open(&f);
    CHECK(opened);
    if (!opened)
        return;
    int64_t job = 0;
    int64_t pid = pipeline(&f, NULL, &job, 1);
    CHECK(pid > 0);
    static const char body[] = "i6DPvldcP/w5GsIzSmL4dujeBSRah+GLV6K0F+w0Plsx/YTXzOBn/ZyEG98le8k3\n";
    /* BEGIN in the first chunk (after a line holding a 'B' that begins nothing), the body
     * over the next ones, END in the last: only the last chunk completes a match */
    append(&f, job, "Build -B started\n-----BEGIN RSA PRIVATE ");
    append(&f, job, "KEY-----\n");
    append(&f, job, body);
    append(&f, job, body);
    append(&f, job, "-----END RSA PRIVATE KEY-----\nok\n");
    CHECK_INT_EQ(findings(&f, pid, job), 1);
    fixture_close(&f);
}

/* A log of 60 KiB in chunks of 1,000 bytes (cut mid-line): the tail kept in memory slides
 * many times, and still holds the 8 KiB before each chunk: a private key whose BEGIN is 5 KiB
 * before its END and tokens cut by a chunk boundary each found once, nothing read back. */
TEST(a_long_log_in_small_chunks_scans_from_the_tail_it_keeps)
{
    struct fixture f;
    bool opened = fixture_open(&f);
    CHECK(opened);
    if (!opened)
        return;
    int64_t job = 0;
    int64_t pid = pipeline(&f, NULL, &job, 1);
    CHECK(pid > 0);
    struct sl_str log = SL_STR_INIT;
    size_t i = 0;
    for (; log.len < 20000; i++)
        sl_str_addf(&log, "[%zu] CC src/module_%zu.o -O2 -Wall ok\n", i, i % 97);
    sl_str_adds(&log, "-----BEGIN RSA PRIVATE KEY-----\n");
    for (int k = 0; k < 80; k++)
        sl_str_adds(&log, "i6DPvldcP/w5GsIzSmL4dujeBSRah+GLV6K0F+w0Plsx/YTXzOBn/ZyEG98le8k3\n");
    sl_str_adds(&log, "-----END RSA PRIVATE KEY-----\n");
    for (int t = 0; t < 3; t++) {
        for (size_t end = log.len + 9000 + 77 * (size_t)t; log.len < end; i++)
            sl_str_addf(&log, "[%zu] CC src/module_%zu.o -O2 -Wall ok\n", i, i % 97);
        /* each token over a boundary somewhere in it */
        sl_str_addf(&log, "cloning with " TOKEN_HEAD "%.*s%s\n", t, "XYZ", &TOKEN_BODY[t]);
    }
    struct sl_error err = SL_ERROR_INIT;
    for (size_t at = 0; at < log.len; at += 1000)
        CHECK_INT_EQ(sl_srv_log_append(&f.s, job, 0, log.buf + at,
                                       SL_MIN((size_t)1000, log.len - at), 0, NULL, &err),
                     0);
    sl_error_release(&err);
    CHECK_INT_EQ(findings(&f, pid, job), 4);
    CHECK_INT_EQ(stats(&f).tails_read_back, 0);
    /* each at its line of the log */
    struct sl_store_secret_finding *fs = NULL;
    size_t n = 0, right = 0;
    struct sl_store_page page = {.limit = 100};
    CHECK_INT_EQ(sl_store_secret_finding_list(f.s.st, f.project, &page, &fs, &n, &err), 0);
    for (size_t k = 0; k < n; k++) {
        int64_t line = 1;
        for (int64_t b = 0; b < fs[k].place && b < (int64_t)log.len; b++)
            line += log.buf[b] == '\n';
        right += fs[k].line == line;
    }
    CHECK_INT_EQ(n, 4);
    CHECK_INT_EQ(right, n);
    sl_store_secret_findings_free(fs, n);
    sl_error_release(&err);
    sl_str_release(&log);
    fixture_close(&f);
}

/* Filler lines up to byte TARGET of LOG, the last one cut to end exactly there. */
static void pad_to(struct sl_str *log, size_t target, size_t *i)
{
    for (; log->len + 80 < target; (*i)++)
        sl_str_addf(log, "[%zu] CC src/module_%zu.o -O2 -Wall ok\n", *i, *i % 97);
    size_t n = target - log->len;
    for (size_t k = 0; k + 1 < n; k++)
        sl_str_addc(log, k % 10 ? 'x' : ' ');
    if (n)
        sl_str_addc(log, '\n');
}

/* Chunks of 32 KiB, each cut mid-line, so the server scans the carried partial line and the
 * chunk's first line joined and the chunk's other lines where they are: a token on a chunk's
 * first line after a carried "cloning with ", one cut inside, one at the start of a chunk's
 * second line, a private key begun on a chunk's first line and ended lines later (that joint
 * must be scanned with the chunk), and after a restart of the server's scan state (tails
 * lost: read back from the store) a token on the first line again: each found once, at its
 * place and its line of the log, the excerpt the whole line. */
TEST(big_chunks_cut_mid_line_find_what_the_joined_log_holds_at_its_lines)
{
    struct fixture f;
    bool opened = fixture_open(&f);
    CHECK(opened);
    if (!opened)
        return;
    int64_t job = 0;
    int64_t pid = pipeline(&f, NULL, &job, 1);
    CHECK(pid > 0);
    const size_t C = 32768;
    struct sl_str log = SL_STR_INIT;
    size_t i = 0;
    pad_to(&log, C - 13, &i); /* chunk 1 ends after "cloning with " */
    sl_str_adds(&log, "cloning with " TOKEN_HEAD TOKEN_BODY " done\n");
    pad_to(&log, 2 * C - 20, &i); /* chunk 2 ends inside the token */
    sl_str_adds(&log, "cloning with " TOKEN_HEAD TOKEN_BODY "\n");
    pad_to(&log, 3 * C + 10, &i); /* chunk 3 ends mid-line, the token on chunk 4's second */
    sl_str_addf(&log, "[x] step done\n" TOKEN_HEAD "A%s set\n", &TOKEN_BODY[1]);
    pad_to(&log, 4 * C - 12, &i); /* chunk 4 ends inside the key's BEGIN line */
    sl_str_adds(&log, "-----BEGIN RSA PRIVATE KEY-----\n");
    for (int k = 0; k < 4; k++)
        sl_str_adds(&log, "i6DPvldcP/w5GsIzSmL4dujeBSRah+GLV6K0F+w0Plsx/YTXzOBn/ZyEG98le8k3\n");
    sl_str_adds(&log, "-----END RSA PRIVATE KEY-----\n");
    pad_to(&log, 6 * C - 13, &i); /* chunk 6 (after the restart) ends after "cloning with " */
    sl_str_addf(&log, "cloning with " TOKEN_HEAD "B%s done\n", &TOKEN_BODY[1]);
    pad_to(&log, 7 * C + 300, &i);
    struct sl_error err = SL_ERROR_INIT;
    for (size_t at = 0; at < log.len; at += C) {
        if (at == 6 * C) { /* the server restarts: its tails and line counts are gone */
            sl_srv_scan_free(&f.s);
            sl_srv_scan_init(&f.s);
        }
        CHECK_INT_EQ(
            sl_srv_log_append(&f.s, job, 0, log.buf + at, SL_MIN(C, log.len - at), 0, NULL, &err),
            0);
    }
    CHECK_INT_EQ(stats(&f).tails_read_back, 1);
    struct sl_store_secret_finding *fs = NULL;
    size_t n = 0, right = 0, whole = 0;
    struct sl_store_page page = {.limit = 100};
    CHECK_INT_EQ(sl_store_secret_finding_list(f.s.st, f.project, &page, &fs, &n, &err), 0);
    for (size_t k = 0; k < n; k++) {
        int64_t line = 1;
        for (int64_t b = 0; b < fs[k].place && b < (int64_t)log.len; b++)
            line += log.buf[b] == '\n';
        sl_test_case_begin(fs[k].excerpt);
        CHECK_INT_EQ(fs[k].line, line);
        sl_test_case_end();
        right += fs[k].line == line;
        /* the excerpt starts where the line does: the carried part is in it */
        const char *ls = log.buf + fs[k].place;
        while (ls > log.buf && ls[-1] != '\n')
            ls--;
        whole += !strncmp(fs[k].excerpt, ls, SL_MIN((size_t)(log.buf + fs[k].place - ls), 12));
    }
    CHECK_INT_EQ(n, 5);
    CHECK_INT_EQ(right, 5);
    CHECK_INT_EQ(whole, 5);
    sl_store_secret_findings_free(fs, n);
    sl_error_release(&err);
    sl_str_release(&log);
    fixture_close(&f);
}

/* A chunk with several secrets records them in one transaction: every one is there. */
TEST(a_chunk_with_several_secrets_records_each)
{
    struct fixture f;
    bool opened = fixture_open(&f);
    CHECK(opened);
    if (!opened)
        return;
    int64_t job = 0;
    int64_t pid = pipeline(&f, NULL, &job, 1);
    CHECK(pid > 0);
    struct sl_str log = SL_STR_INIT;
    for (int t = 0; t < 3; t++)
        sl_str_addf(&log, "[%d] ok\ncloning with " TOKEN_HEAD "%.*s%s\n", t, t, "XYZ",
                    &TOKEN_BODY[t]);
    append(&f, job, log.buf);
    CHECK_INT_EQ(findings(&f, pid, job), 3);
    sl_str_release(&log);
    fixture_close(&f);
}

TEST(a_job_of_a_pipeline_without_a_commit_is_looked_up_once)
{
    struct fixture f;
    bool opened = fixture_open(&f);
    CHECK(opened);
    if (!opened)
        return;
    int64_t job = 0;
    int64_t pid = pipeline(&f, NULL, &job, 1);
    CHECK(pid > 0);
    for (int i = 0; i < 3; i++)
        append(&f, job, "[1] CC src/a.o ok\n");
    append(&f, job, "cloning with " TOKEN_HEAD TOKEN_BODY "\n"); /* the defaults scan */
    CHECK_INT_EQ(findings(&f, pid, job), 1);
    CHECK_INT_EQ(stats(&f).jobs_read, 1); /* no rule file to look for: none looked for */
    CHECK_INT_EQ(stats(&f).rules_read, 0);
    fixture_close(&f);
}

TEST(a_job_whose_log_tail_was_evicted_reads_it_back_from_the_store)
{
    struct fixture f;
    bool opened = fixture_open(&f);
    CHECK(opened);
    if (!opened)
        return;
    enum { N = SRV_SCAN_TAILS_MAX + 2 };
    int64_t jobs[N];
    int64_t pid = pipeline(&f, NULL, jobs, N);
    CHECK(pid > 0);
    /* every job's first chunk ends inside a token: the first two jobs' tails are evicted
     * by the 64 that log after them */
    for (size_t i = 0; i < N; i++)
        append(&f, jobs[i], "step 1\nexport GITHUB_TOKEN=" TOKEN_HEAD "Xq7Lm2Vr9");
    struct sl_srv_scan_stats before = stats(&f);
    CHECK_INT_EQ(before.tails_read_back, 0);
    append(&f, jobs[0], "Tz4Kp8Wn3Bc6Hd1Jf5Gs0Ya2ReU\n"); /* evicted: from the store */
    CHECK_INT_EQ(stats(&f).tails_read_back, 1);
    CHECK_INT_EQ(findings(&f, pid, jobs[0]), 1);
    append(&f, jobs[N - 1], "Tz4Kp8Wn3Bc6Hd1Jf5Gs0Ya2ReU\n"); /* the newest: from memory */
    CHECK_INT_EQ(stats(&f).tails_read_back, 1);
    CHECK_INT_EQ(findings(&f, pid, jobs[N - 1]), 1);
    /* job 0 is in memory again: its next chunk needs no store read */
    append(&f, jobs[0], "export OTHER=" TOKEN_HEAD "Zz9Lm2Vr9Tz4Kp8Wn3Bc6Hd1Jf5Gs0Ya2ReQ\n");
    CHECK_INT_EQ(stats(&f).tails_read_back, 1);
    CHECK_INT_EQ(findings(&f, pid, jobs[0]), 2);
    /* job 1, evicted too, still finds its token cut across the boundary */
    append(&f, jobs[1], "Tz4Kp8Wn3Bc6Hd1Jf5Gs0Ya2ReU\n");
    CHECK_INT_EQ(stats(&f).tails_read_back, 2);
    CHECK_INT_EQ(findings(&f, pid, jobs[1]), 1);
    /* a tail kept for another end of the log (it grew behind this server's back) is not used */
    struct sl_error err = SL_ERROR_INIT;
    const char *elsewhere = "export GITHUB_TOKEN=" TOKEN_HEAD "Xq7Lm2";
    CHECK_INT_EQ(
        sl_store_log_append(f.s.st, jobs[N - 2], elsewhere, strlen(elsewhere), 0, NULL, &err), 0);
    sl_error_release(&err);
    uint64_t reads = stats(&f).tails_read_back;
    append(&f, jobs[N - 2], "Vr9Tz4Kp8Wn3Bc6Hd1Jf5Gs0Ya2ReU\n");
    CHECK_INT_EQ(stats(&f).tails_read_back, reads + 1);
    /* the chunk scanned against the tail went in with no findings made for it: scanned again
     * with the log as it is, its token found at its place and line */
    CHECK_INT_EQ(findings(&f, pid, jobs[N - 2]), 1);
    struct sl_store_secret_finding *fs = NULL;
    size_t n = 0, here = 0;
    struct sl_store_page page = {.limit = 100};
    CHECK_INT_EQ(sl_store_secret_finding_list(f.s.st, f.project, &page, &fs, &n, &err), 0);
    int64_t want = (int64_t)strlen("step 1\nexport GITHUB_TOKEN=" TOKEN_HEAD "Xq7Lm2Vr9") +
                   (int64_t)strlen("export GITHUB_TOKEN=");
    for (size_t k = 0; k < n; k++)
        here += fs[k].job_id == jobs[N - 2] && fs[k].place == want && fs[k].line == 2;
    CHECK_INT_EQ(here, 1);
    sl_store_secret_findings_free(fs, n);
    sl_error_release(&err);
    fixture_close(&f);
}

/* Runs the shell commands SCRIPT in DIR; its first line of output into OUT (SIZE bytes);
 * false when a step failed (git missing). */
static bool sh(const char *dir, const char *script, char *out, size_t size)
{
    char *cmd = sl_xasprintf("cd '%s' && (%s) 2>/dev/null", dir, script);
    FILE *p = popen(cmd, "r");
    free(cmd);
    if (!p)
        return false;
    char line[256] = "";
    if (!fgets(line, sizeof(line), p))
        line[0] = 0;
    line[strcspn(line, "\n")] = 0;
    if (out)
        snprintf(out, size, "%s", line);
    return pclose(p) == 0;
}

#define GIT_IDENTITY                                                                               \
    "git config user.email dev@example.com && git config user.name Dev && "                        \
    "git config commit.gpgsign false"

/* A commit on the work repository at F's WORK whose .gitleaks.toml holds one rule, RULE,
 * for secrets `RULE_` and 24 hex digits; its sha into SHA (41 bytes). */
static bool commit_rule(const char *work, const char *rule, char *sha)
{
    char *script = sl_xasprintf(
        "printf '[[rules]]\\nid = \"%s\"\\nregex = \"%s_[0-9a-f]{24}\"\\nkeywords = [\"%s_\"]\\n'"
        " > .gitleaks.toml && git add .gitleaks.toml && git commit -qm '%s' && "
        "git rev-parse HEAD",
        rule, rule, rule, rule);
    bool ok = sh(work, script, sha, 41);
    free(script);
    return ok && strlen(sha) == 40;
}

/* The project's mirror as the server keeps it (DATA/repos/ID, bare), of WORK as it is now. */
static bool mirror(struct fixture *f, const char *work)
{
    char *script = sl_xasprintf("rm -rf '%s/repos/%lld' && git clone -q --bare '%s' "
                                "'%s/repos/%lld'",
                                f->s.data_dir, (long long)f->project, work, f->s.data_dir,
                                (long long)f->project);
    bool ok = sh(f->dir, script, NULL, 0);
    free(script);
    return ok;
}

TEST(a_pipeline_whose_rules_were_evicted_reads_them_again_from_its_commit)
{
    struct fixture f;
    bool opened = fixture_open(&f);
    CHECK(opened);
    if (!opened)
        return;
    char *work = sl_xasprintf("%s/work", f.dir);
    sl_test_write(f.dir, "work/README", "x\n");
    if (!sh(work, "git init -q -b main && " GIT_IDENTITY " && git add README && git commit -qm 0",
            NULL, 0)) {
        free(work);
        fixture_close(&f);
        SKIP("git is not available to make a repository");
    }
    /* one commit per pipeline, each with a rule of its own: one more pipeline than kept */
    enum { N = SRV_SCAN_RULES_MAX + 1 };
    char sha[N][41], rule[N][16];
    for (int i = 0; i < N; i++) {
        snprintf(rule[i], sizeof(rule[i]), "acme%d", i);
        CHECK(commit_rule(work, rule[i], sha[i]));
    }
    CHECK(mirror(&f, work));
    int64_t pid[N], job[N];
    char text[128];
    for (int i = 0; i < N; i++) {
        pid[i] = pipeline(&f, sha[i], &job[i], 1);
        CHECK(pid[i] > 0);
        /* the rule of the pipeline's own commit finds it, the others' rules do not apply */
        snprintf(text, sizeof(text),
                 "key %s_0123456789abcdef01234567 and %s_0123456789abcdef0123"
                 "4567\n",
                 rule[i], rule[(i + 1) % N]);
        append(&f, job[i], text);
        sl_test_case_begin(rule[i]);
        CHECK_INT_EQ(findings(&f, pid[i], job[i]), 1);
        sl_test_case_end();
    }
    CHECK_INT_EQ(stats(&f).rules_read, N);
    /* pipeline 0's rules were evicted by the 16 after it: read again, the same findings */
    snprintf(text, sizeof(text), "again %s_fedcba9876543210fedcba98\n", rule[0]);
    append(&f, job[0], text);
    CHECK_INT_EQ(stats(&f).rules_read, N + 1);
    CHECK_INT_EQ(findings(&f, pid[0], job[0]), 2);
    /* the newest pipeline's are still kept */
    snprintf(text, sizeof(text), "again %s_fedcba9876543210fedcba98\n", rule[N - 1]);
    append(&f, job[N - 1], text);
    CHECK_INT_EQ(stats(&f).rules_read, N + 1);
    CHECK_INT_EQ(findings(&f, pid[N - 1], job[N - 1]), 2);
    /* a new commit changes the rule file: a pipeline on it scans with the new rules */
    char changed[41];
    CHECK(commit_rule(work, "beta", changed));
    CHECK(mirror(&f, work));
    int64_t job_new = 0, pid_new = pipeline(&f, changed, &job_new, 1);
    CHECK(pid_new > 0);
    snprintf(text, sizeof(text), "%s_0123456789abcdef01234567\n", rule[N - 1]);
    append(&f, job_new, text);
    CHECK_INT_EQ(findings(&f, pid_new, job_new), 0); /* that rule is gone in this commit */
    append(&f, job_new, "beta_0123456789abcdef01234567\n");
    CHECK_INT_EQ(findings(&f, pid_new, job_new), 1);
    free(work);
    fixture_close(&f);
}

TEST(pipelines_of_one_commit_share_its_rules_and_a_commit_not_fetched_is_read_again)
{
    struct fixture f;
    bool opened = fixture_open(&f);
    CHECK(opened);
    if (!opened)
        return;
    char *work = sl_xasprintf("%s/work", f.dir);
    sl_test_write(f.dir, "work/README", "x\n");
    char sha[41], later[41];
    if (!sh(work, "git init -q -b main && " GIT_IDENTITY " && git add README && git commit -qm 0",
            NULL, 0)) {
        free(work);
        fixture_close(&f);
        SKIP("git is not available to make a repository");
    }
    CHECK(commit_rule(work, "gamma", sha));
    CHECK(mirror(&f, work));
    int64_t job_a = 0, job_b = 0, job_c = 0;
    int64_t pa = pipeline(&f, sha, &job_a, 1), pb = pipeline(&f, sha, &job_b, 1);
    CHECK(pa > 0 && pb > 0);
    append(&f, job_a, "gamma_0123456789abcdef01234567\n");
    CHECK_INT_EQ(findings(&f, pa, job_a), 1);
    CHECK_INT_EQ(stats(&f).rules_read, 1);
    /* a second pipeline of the commit (a retry, a merge request's): its rules from memory */
    append(&f, job_b, "gamma_0123456789abcdef01234567\n");
    CHECK_INT_EQ(findings(&f, pb, job_b), 1);
    CHECK_INT_EQ(stats(&f).rules_read, 1);
    /* a commit the mirror does not have yet: the defaults scan, and once it is fetched its
     * rules are read (after RULES_UNKNOWN_MS: waited for, up to a minute) */
    CHECK(commit_rule(work, "delta", later));
    int64_t pc = pipeline(&f, later, &job_c, 1);
    CHECK(pc > 0);
    append(&f, job_c, "delta_0123456789abcdef01234567\n");
    CHECK_INT_EQ(findings(&f, pc, job_c), 0);
    CHECK_INT_EQ(stats(&f).rules_read, 2);
    CHECK(mirror(&f, work));
    int64_t found = 0;
    for (int i = 0; i < 120 && found == 0; i++) {
        usleep(500 * 1000);
        append(&f, job_c, "delta_0123456789abcdef01234567\n"); /* a new place each time */
        found = findings(&f, pc, job_c);
    }
    CHECK(found >= 1);
    free(work);
    fixture_close(&f);
}
