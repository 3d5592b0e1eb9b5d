/* Replays every scenario under tests/cases/sched/ (format: tests/cases/sched/README.md).
 * Each file is one sub-case: jobs, then events and expectations, line by line. */
#include "base/compat.h"
#include "harness/harness.h"
#include "base/alloc.h"
#include "base/error.h"
#include "base/fs.h"
#include "sched/pipeline.h"

#include <dirent.h>
#include <limits.h>

#define MAX_JOBS 64
#define MAX_LIST 32
#define MAX_FILE (64 * 1024)

struct scenario {
    const char *path;
    int line;
    struct sl_sched_job jobs[MAX_JOBS];
    char names[MAX_JOBS][32];
    size_t needs[MAX_JOBS][MAX_LIST];
    int allow_codes[MAX_JOBS][MAX_LIST], retry_codes[MAX_JOBS][MAX_LIST];
    size_t n, nstages;
    struct sl_sched *s;
    bool failed;
};

static void fail(struct scenario *sc, const char *fmt, ...) SL_PRINTF(2, 3);
static void fail(struct scenario *sc, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    sl_test_fail(sc->path, sc->line, "%s", msg);
    sc->failed = true;
}

static int find_job(struct scenario *sc, const char *name)
{
    for (size_t i = 0; i < sc->n; i++)
        if (sl_streq(sc->names[i], name))
            return (int)i;
    fail(sc, "unknown job '%s'", name);
    return -1;
}

static bool parse_int(struct scenario *sc, const char *s, long long *out)
{
    char *end;

    errno = 0;
    *out = strtoll(s, &end, 10);
    if (errno || end == s || *end) {
        fail(sc, "not a number: '%s'", s);
        return false;
    }
    return true;
}

/* Splits a comma list in place; returns the count, -1 on overflow. "" is an empty list. */
static int split(char *s, char **items, int max)
{
    int n = 0;

    if (!*s)
        return 0;
    for (char *tok = strtok(s, ","); tok; tok = strtok(NULL, ",")) {
        if (n == max)
            return -1;
        items[n++] = tok;
    }
    return n;
}

static int int_list(struct scenario *sc, char *s, int *out)
{
    char *items[MAX_LIST];
    int n = split(s, items, MAX_LIST);
    long long v;

    if (n < 0)
        fail(sc, "list too long");
    for (int i = 0; i < n; i++) {
        if (!parse_int(sc, items[i], &v))
            return -1;
        out[i] = (int)v;
    }
    return n;
}

/* job NAME key=value... */
static void parse_job(struct scenario *sc, char **tok, int ntok)
{
    struct sl_sched_job *j;
    size_t i = sc->n;

    if (ntok < 2 || i == MAX_JOBS || strlen(tok[1]) >= sizeof(sc->names[0]))
        return fail(sc, "bad job line");
    j = &sc->jobs[sc->n++];
    memset(j, 0, sizeof(*j));
    snprintf(sc->names[i], sizeof(sc->names[i]), "%s", tok[1]);
    j->name = sc->names[i];
    for (int t = 2; t < ntok && !sc->failed; t++) {
        char *k = tok[t], *v = strchr(k, '=');
        long long num;
        if (v)
            *v++ = '\0';
        if (sl_streq(k, "allow_failure") && !v) {
            j->allow_failure = true;
        } else if (!v) {
            fail(sc, "job option '%s' needs a value", k);
        } else if (sl_streq(k, "stage")) {
            if (parse_int(sc, v, &num))
                j->stage = (int)num;
        } else if (sl_streq(k, "when")) {
            if (sl_sched_when_parse(v, &j->when) < 0)
                fail(sc, "bad when '%s'", v);
        } else if (sl_streq(k, "start_in")) {
            if (parse_int(sc, v, &num))
                j->start_in_ms = num;
        } else if (sl_streq(k, "retry")) {
            if (parse_int(sc, v, &num))
                j->retry_max = (int)num;
        } else if (sl_streq(k, "retry_when")) {
            char *items[MAX_LIST];
            int n = split(v, items, MAX_LIST);
            for (int x = 0; x < n; x++)
                if (sl_sched_retry_when_parse(items[x], &j->retry_when) < 0)
                    fail(sc, "bad retry when '%s'", items[x]);
        } else if (sl_streq(k, "allow_exit_codes")) {
            int n = int_list(sc, v, sc->allow_codes[i]);
            j->allow_failure = true;
            j->allow_exit_codes = sc->allow_codes[i];
            j->nallow_exit_codes = n > 0 ? (size_t)n : 0;
        } else if (sl_streq(k, "retry_exit_codes")) {
            int n = int_list(sc, v, sc->retry_codes[i]);
            j->retry_exit_codes = sc->retry_codes[i];
            j->nretry_exit_codes = n > 0 ? (size_t)n : 0;
        } else if (sl_streq(k, "needs")) {
            /* names resolve against jobs declared so far: a need comes first */
            char *items[MAX_LIST];
            int n = split(v, items, MAX_LIST);
            j->needs_declared = true;
            j->needs = sc->needs[i];
            for (int x = 0; x < n; x++) {
                int idx = find_job(sc, items[x]);
                if (idx >= 0)
                    sc->needs[i][j->nneeds++] = (size_t)idx;
            }
        } else {
            fail(sc, "unknown job option '%s'", k);
        }
    }
}

static int64_t take_time(struct scenario *sc, char **tok, int *ntok)
{
    long long t;

    if (*ntok < 2 || tok[*ntok - 1][0] != '@') {
        fail(sc, "event without @time");
        return 0;
    }
    if (!parse_int(sc, tok[*ntok - 1] + 1, &t))
        return 0;
    (*ntok)--;
    return t;
}

static void build(struct scenario *sc)
{
    struct sl_error err = SL_ERROR_INIT;

    if (sc->nstages == 0)
        for (size_t i = 0; i < sc->n; i++)
            sc->nstages = SL_MAX(sc->nstages, (size_t)sc->jobs[i].stage + 1);
    if (sl_sched_new(&sc->s, sc->jobs, sc->n, sc->nstages, &err) < 0)
        fail(sc, "sl_sched_new: %s", sl_error_format(&err));
    sl_error_release(&err);
}

/* restore JOB=STATUS[#ATTEMPT][,exit=N][,due=T][,reason=R]... @T */
static void restore(struct scenario *sc, char **tok, int ntok, int64_t now, bool want_error)
{
    struct sl_sched_saved saved[MAX_JOBS];
    struct sl_error err = SL_ERROR_INIT;
    int rc;

    for (size_t i = 0; i < sc->n; i++)
        saved[i] = (struct sl_sched_saved){SL_SCHED_CREATED, 1, SL_SCHED_NO_EXIT_CODE,
                                           SL_SCHED_FAILURE_NONE, 0};
    for (int t = 1; t < ntok && !sc->failed; t++) {
        char *eq = strchr(tok[t], '='), *items[8], *hash;
        int n, idx;
        long long v;
        if (!eq)
            return fail(sc, "restore wants JOB=STATE");
        *eq = '\0';
        if ((idx = find_job(sc, tok[t])) < 0)
            return;
        n = split(eq + 1, items, 8);
        if (n < 1)
            return fail(sc, "restore: empty state");
        if ((hash = strchr(items[0], '#'))) {
            *hash++ = '\0';
            if (!parse_int(sc, hash, &v))
                return;
            saved[idx].attempt = (int)v;
        }
        if (sl_sched_status_parse(items[0], &saved[idx].status) < 0)
            return fail(sc, "bad status '%s'", items[0]);
        for (int x = 1; x < n; x++) {
            char *val = strchr(items[x], '=');
            if (!val)
                return fail(sc, "restore: bad field '%s'", items[x]);
            *val++ = '\0';
            if (sl_streq(items[x], "reason")) {
                if (sl_sched_failure_parse(val, &saved[idx].failure) < 0)
                    return fail(sc, "bad reason '%s'", val);
                continue;
            }
            if (!parse_int(sc, val, &v))
                return;
            if (sl_streq(items[x], "exit"))
                saved[idx].exit_code = (int)v;
            else if (sl_streq(items[x], "due"))
                saved[idx].due_ms = v;
            else
                return fail(sc, "restore: unknown field '%s'", items[x]);
        }
    }
    if (sc->nstages == 0)
        for (size_t i = 0; i < sc->n; i++)
            sc->nstages = SL_MAX(sc->nstages, (size_t)sc->jobs[i].stage + 1);
    rc = sl_sched_restore(&sc->s, sc->jobs, sc->n, sc->nstages, saved, now, &err);
    if (want_error && rc == 0)
        fail(sc, "restore succeeded, expected an error");
    else if (!want_error && rc < 0)
        fail(sc, "restore: %s", sl_error_format(&err));
    sl_error_release(&err);
}

static void event(struct scenario *sc, char **tok, int ntok)
{
    struct sl_error err = SL_ERROR_INIT;
    bool want_error = false;
    int64_t now;
    int rc = 0, idx = -1;
    const char *verb;

    if (sl_streq(tok[0], "!")) {
        want_error = true;
        tok++;
        ntok--;
        if (ntok < 1)
            return fail(sc, "'!' without an event");
    }
    now = take_time(sc, tok, &ntok);
    if (sc->failed)
        return;
    verb = tok[0];
    if (sl_streq(verb, "restore")) {
        if (sc->s)
            return fail(sc, "restore must be the first event");
        return restore(sc, tok, ntok, now, want_error);
    }
    if (!sc->s) {
        build(sc);
        if (sc->failed)
            return;
    }
    if (ntok >= 2 && (idx = find_job(sc, tok[1])) < 0)
        return;
    if (sl_streq(verb, "start") && ntok == 1) {
        rc = sl_sched_start(sc->s, now, &err);
    } else if (sl_streq(verb, "tick") && ntok == 1) {
        rc = sl_sched_tick(sc->s, now, &err);
    } else if (sl_streq(verb, "cancel") && ntok == 1) {
        rc = sl_sched_cancel(sc->s, now, &err);
    } else if (sl_streq(verb, "run") && ntok == 2) {
        rc = sl_sched_job_started(sc->s, (size_t)idx, now, &err);
    } else if (sl_streq(verb, "play") && ntok == 2) {
        rc = sl_sched_play(sc->s, (size_t)idx, now, &err);
    } else if (sl_streq(verb, "cancel_job") && ntok == 2) {
        rc = sl_sched_cancel_job(sc->s, (size_t)idx, now, &err);
    } else if (sl_streq(verb, "retry") && ntok == 2) {
        rc = sl_sched_retry_job(sc->s, (size_t)idx, now, &err);
    } else if (sl_streq(verb, "finish") && ntok >= 3 && ntok <= 4) {
        /* finish JOB success | finish JOB REASON [exit=N] */
        enum sl_sched_failure reason = SL_SCHED_FAILURE_NONE;
        long long code = sl_streq(tok[2], "success") ? 0 : SL_SCHED_NO_EXIT_CODE;
        if (!sl_streq(tok[2], "success") && sl_sched_failure_parse(tok[2], &reason) < 0)
            return fail(sc, "bad failure reason '%s'", tok[2]);
        if (ntok == 4) {
            if (!sl_starts_with(tok[3], "exit="))
                return fail(sc, "want exit=N");
            if (!parse_int(sc, tok[3] + 5, &code))
                return;
        }
        rc = sl_sched_job_finished(sc->s, (size_t)idx, reason, (int)code, now, &err);
    } else {
        return fail(sc, "bad event '%s'", verb);
    }
    if (want_error && rc == 0)
        fail(sc, "%s succeeded, expected an error", verb);
    else if (!want_error && rc < 0)
        fail(sc, "%s: %s", verb, sl_error_format(&err));
    sl_error_release(&err);
}

/* The jobs (by name, comma-separated, "none" if none) for which PRED holds. */
static void job_list(struct scenario *sc, char *buf, size_t size,
                     bool (*pred)(const struct sl_sched *, size_t))
{
    size_t len = 0;

    buf[0] = '\0';
    for (size_t i = 0; i < sc->n; i++)
        if (pred(sc->s, i))
            len += (size_t)snprintf(buf + len, size - SL_MIN(len, size), "%s%s", len ? "," : "",
                                    sc->names[i]);
    if (!len)
        snprintf(buf, size, "none");
}

static bool is_pending(const struct sl_sched *s, size_t i)
{
    return sl_sched_job_status(s, i) == SL_SCHED_PENDING;
}

static void expect(struct scenario *sc, char **tok, int ntok)
{
    char got[1024];

    if (!sc->s) {
        build(sc);
        if (sc->failed)
            return;
    }
    for (int t = 1; t < ntok && !sc->failed; t++) {
        char *k = tok[t], *v = strchr(k, '=');
        if (!v)
            return fail(sc, "expect wants KEY=VALUE, got '%s'", k);
        *v++ = '\0';
        if (sl_streq(k, "pipeline")) {
            snprintf(got, sizeof(got), "%s", sl_sched_status_name(sl_sched_status(sc->s)));
        } else if (sl_streq(k, "warnings")) {
            snprintf(got, sizeof(got), "%d", sl_sched_has_warnings(sc->s));
        } else if (sl_streq(k, "finished")) {
            snprintf(got, sizeof(got), "%d", sl_sched_is_finished(sc->s));
        } else if (sl_streq(k, "active")) {
            snprintf(got, sizeof(got), "%d", sl_sched_is_active(sc->s));
        } else if (sl_streq(k, "due")) {
            int64_t at;
            if (sl_sched_next_due(sc->s, &at))
                snprintf(got, sizeof(got), "%lld", (long long)at);
            else
                snprintf(got, sizeof(got), "none");
        } else if (sl_streq(k, "pending")) {
            job_list(sc, got, sizeof(got), is_pending);
        } else if (sl_streq(k, "kill")) {
            job_list(sc, got, sizeof(got), sl_sched_job_kill_requested);
        } else if (sl_streq(k, "allowed")) {
            job_list(sc, got, sizeof(got), sl_sched_job_failure_allowed);
        } else {
            int idx = find_job(sc, k);
            if (idx < 0)
                return;
            /* STATUS, or STATUS#ATTEMPT when the expectation names an attempt */
            if (strchr(v, '#'))
                snprintf(got, sizeof(got), "%s#%d",
                         sl_sched_status_name(sl_sched_job_status(sc->s, (size_t)idx)),
                         sl_sched_job_attempt(sc->s, (size_t)idx));
            else
                snprintf(got, sizeof(got), "%s",
                         sl_sched_status_name(sl_sched_job_status(sc->s, (size_t)idx)));
        }
        if (!sl_streq(got, v))
            fail(sc, "expect %s: got %s, want %s", k, got, v);
    }
}

static void run_scenario(const char *path)
{
    struct scenario *sc = sl_xcalloc(1, sizeof(*sc));
    struct sl_error err = SL_ERROR_INIT;
    char *text = NULL, *next;
    size_t len;

    sc->path = path;
    if (sl_fs_read_file(path, MAX_FILE, &text, &len, &err) < 0) {
        fail(sc, "%s", sl_error_format(&err));
        goto out;
    }
    for (char *line = text; line && !sc->failed; line = next) {
        char *tok[MAX_LIST + 8], *hash, *ts = NULL;
        int ntok = 0;
        if ((next = strchr(line, '\n')))
            *next++ = '\0';
        sc->line++;
        if ((hash = strchr(line, '#')) && (hash == line || hash[-1] == ' ' || hash[-1] == '\t'))
            *hash = '\0'; /* comments; STATUS#ATTEMPT has no space before '#' */
        for (char *t = strtok_r(line, " \t", &ts); t; t = strtok_r(NULL, " \t", &ts)) {
            if (ntok == (int)SL_ARRAY_LEN(tok)) {
                fail(sc, "too many words");
                break;
            }
            tok[ntok++] = t;
        }
        if (!ntok || sc->failed)
            continue;
        if (sl_streq(tok[0], "job")) {
            if (sc->s)
                fail(sc, "jobs come before events");
            else
                parse_job(sc, tok, ntok);
        } else if (sl_streq(tok[0], "stages") && ntok == 2) {
            long long v;
            if (parse_int(sc, tok[1], &v))
                sc->nstages = (size_t)v;
        } else if (sl_streq(tok[0], "expect")) {
            expect(sc, tok, ntok);
        } else if (sl_streq(tok[0], "new_fails")) {
            /* the job list itself must be rejected */
            struct sl_error e2 = SL_ERROR_INIT;
            struct sl_sched *s2 = NULL;
            if (sc->nstages == 0)
                for (size_t i = 0; i < sc->n; i++)
                    sc->nstages = SL_MAX(sc->nstages, (size_t)sc->jobs[i].stage + 1);
            if (sl_sched_new(&s2, sc->jobs, sc->n, sc->nstages, &e2) == 0)
                fail(sc, "sl_sched_new succeeded, expected an error");
            sl_sched_free(s2);
            sl_error_release(&e2);
            goto out;
        } else {
            event(sc, tok, ntok);
        }
    }
out:
    sl_error_release(&err);
    sl_sched_free(sc->s);
    free(text);
    free(sc);
}

TEST(sched_scenarios_replay)
{
    char dir[PATH_MAX];
    size_t n = 0;

    snprintf(dir, sizeof(dir), "%s/tests/cases/sched", sl_test_source_dir());
    char **names = sl_test_list_dir(dir, ".txt", false, &n);
    CHECK(names != NULL);
    for (size_t i = 0; i < n; i++) {
        char *path = sl_fs_join(dir, names[i]);
        sl_test_case_begin(names[i]);
        run_scenario(path);
        sl_test_case_end();
        free(path);
    }
    sl_test_names_free(names);
    CHECK(n >= 20); /* the scenarios are there; a missing directory is a failure */
}
