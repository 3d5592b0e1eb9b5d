/* The shell executor on real processes. Timeouts and sleeps are short so that the suite
 * runs in a few seconds. */
#include "base/compat.h"
#include "harness/harness.h"
#include "exec/exec.h"
#include "exec/spawn.h"
#include "base/alloc.h"
#include "base/fs.h"
#include "base/str.h"
#include "base/time.h"

#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* Not a timing assertion: in the tests below the wrong outcome waits for a sleep of 100 s
 * or more (a kill that did not happen, a pipe held open), so any duration under a minute is
 * the right one however loaded the machine is; timings belong in bench/. */
#define NOT_WAITED_MS 60000

/* What a job printed: every line as "O:", "E:" or "S:" (stream) + text, one per line,
 * unless count_only (then only counts). */
struct capture {
    struct sl_str text;
    bool count_only;
    uint64_t lines, bytes, echo_lines, max_len;
    uint64_t ended; /* lines delivered as ending (not a piece of a longer one) */
};

static void on_line(void *ctx, enum sl_exec_stream stream, const char *line, size_t len,
                    bool ends_line)
{
    struct capture *c = ctx;
    static const char tag[] = "OES";

    c->lines++;
    c->ended += ends_line;
    c->bytes += len;
    c->max_len = SL_MAX(c->max_len, len);
    if (stream == SL_EXEC_STREAM_ECHO)
        c->echo_lines++;
    if (line[len] != '\0')
        sl_test_fail(__FILE__, __LINE__, "line not NUL-terminated");
    if (c->count_only)
        return;
    sl_str_addc(&c->text, tag[stream]);
    sl_str_addc(&c->text, ':');
    sl_str_add(&c->text, line, len);
    sl_str_addc(&c->text, '\n');
}

static void spec_for(struct sl_exec_spec *s, struct capture *c, const char *const *script)
{
    sl_exec_spec_init(s);
    memset(c, 0, sizeof(*c));
    sl_str_init(&c->text);
    s->name = "test";
    s->script = script;
    s->on_line = on_line;
    s->ctx = c;
    s->kill_grace_ms = 300;
}

static int run(const struct sl_exec_spec *s, struct sl_exec_result *r)
{
    struct sl_error err = SL_ERROR_INIT;
    int rc = sl_exec_run(s, r, &err);
    if (rc < 0)
        printf("# sl_exec_run: %s\n", err.message ? err.message : "?");
    sl_error_release(&err);
    return rc;
}

static bool has(const struct capture *c, const char *needle)
{
    return strstr(c->text.buf, needle) != NULL;
}

/* True when PID is gone or a zombie (dead, not yet reaped by init), within WAIT_MS. */
static bool pid_dead(pid_t pid, int wait_ms)
{
    for (int i = 0; i <= wait_ms / 10; i++) {
        char path[64], *stat = NULL;
        size_t len;
        snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
        if (sl_fs_read_file(path, 4096, &stat, &len, NULL) < 0)
            return true;
        const char *rp = strrchr(stat, ')');
        bool zombie = rp && rp[1] == ' ' && (rp[2] == 'Z' || rp[2] == 'X');
        free(stat);
        if (zombie)
            return true;
        usleep(10000);
    }
    return false;
}

static pid_t read_pid(const char *dir, const char *name)
{
    char *path = sl_fs_join(dir, name), *text = NULL;
    size_t len;
    pid_t pid = -1;
    if (sl_fs_read_file(path, 64, &text, &len, NULL) == 0)
        pid = (pid_t)atoi(text);
    free(path);
    free(text);
    return pid;
}

TEST(success_echoes_commands_and_output)
{
    const char *script[] = {"echo hello", "echo world", NULL};
    struct sl_exec_spec s;
    struct sl_exec_result r;
    struct capture c;

    spec_for(&s, &c, script);
    CHECK_INT_EQ(run(&s, &r), 0);
    CHECK_INT_EQ(r.status, SL_EXEC_SUCCESS);
    CHECK_INT_EQ(r.failure, SL_EXEC_FAILURE_NONE);
    CHECK_INT_EQ(r.exit_code, 0);
    CHECK_STR_EQ(c.text.buf, "E:$ echo hello\nO:hello\nE:$ echo world\nO:world\n");
    CHECK_INT_EQ(r.log_lines, 4);
    CHECK_INT_EQ(r.log_bytes, strlen("$ echo hello\nhello\n$ echo world\nworld\n"));
    CHECK_INT_EQ(r.after_script_ran, 0);
    CHECK_INT_EQ(r.after_script_exit_code, -1);
    CHECK_STR_EQ(sl_exec_status_name(r.status), "success");
    sl_str_release(&c.text);
}

TEST(before_script_runs_first_in_same_shell)
{
    const char *before[] = {"X=from_before", NULL};
    const char *script[] = {"echo \"$X\"", NULL};
    struct sl_exec_spec s;
    struct sl_exec_result r;
    struct capture c;

    spec_for(&s, &c, script);
    s.before_script = before;
    CHECK_INT_EQ(run(&s, &r), 0);
    CHECK_INT_EQ(r.status, SL_EXEC_SUCCESS);
    CHECK_STR_EQ(c.text.buf, "E:$ X=from_before\nE:$ echo \"$X\"\nO:from_before\n");
    sl_str_release(&c.text);
}

TEST(failure_stops_at_first_failing_command)
{
    const char *script[] = {"echo a", "false", "echo b", NULL};
    struct sl_exec_spec s;
    struct sl_exec_result r;
    struct capture c;

    spec_for(&s, &c, script);
    CHECK_INT_EQ(run(&s, &r), 0);
    CHECK_INT_EQ(r.status, SL_EXEC_FAILED);
    CHECK_INT_EQ(r.failure, SL_EXEC_SCRIPT_FAILURE);
    CHECK_STR_EQ(sl_exec_failure_name(r.failure), "script_failure");
    CHECK_INT_EQ(r.exit_code, 1);
    CHECK_STR_EQ(c.text.buf, "E:$ echo a\nO:a\nE:$ false\n");
    sl_str_release(&c.text);
}

TEST(before_script_failure_skips_script)
{
    const char *before[] = {"exit 3", NULL};
    const char *script[] = {"echo never", NULL};
    struct sl_exec_spec s;
    struct sl_exec_result r;
    struct capture c;

    spec_for(&s, &c, script);
    s.before_script = before;
    CHECK_INT_EQ(run(&s, &r), 0);
    CHECK_INT_EQ(r.status, SL_EXEC_FAILED);
    CHECK_INT_EQ(r.exit_code, 3);
    CHECK(!has(&c, "O:never"));
    sl_str_release(&c.text);
}

TEST(exit_code_propagates)
{
    const char *script[] = {"echo start", "exit 42", NULL};
    struct sl_exec_spec s;
    struct sl_exec_result r;
    struct capture c;

    spec_for(&s, &c, script);
    CHECK_INT_EQ(run(&s, &r), 0);
    CHECK_INT_EQ(r.status, SL_EXEC_FAILED);
    CHECK_INT_EQ(r.exit_code, 42);
    CHECK_INT_EQ(r.signal, 0);
    sl_str_release(&c.text);
}

TEST(pipefail_fails_the_pipeline)
{
    const char *script[] = {"false | cat", "echo not reached", NULL};
    struct sl_exec_spec s;
    struct sl_exec_result r;
    struct capture c;

    spec_for(&s, &c, script);
    CHECK_INT_EQ(run(&s, &r), 0);
    CHECK_INT_EQ(r.status, SL_EXEC_FAILED);
    CHECK(!has(&c, "O:not reached"));
    sl_str_release(&c.text);
}

TEST(echo_lines_multiline_and_quotes)
{
    const char *script[] = {"echo one\necho two", "echo \"it's\"\n", "  echo   spaced  ", NULL};
    struct sl_exec_spec s;
    struct sl_exec_result r;
    struct capture c;

    spec_for(&s, &c, script);
    CHECK_INT_EQ(run(&s, &r), 0);
    CHECK_INT_EQ(r.status, SL_EXEC_SUCCESS);
    CHECK_STR_EQ(c.text.buf, "E:$ echo one # collapsed multi-line command\nO:one\nO:two\n"
                             "E:$ echo \"it's\"\nO:it's\n"
                             "E:$ echo   spaced\nO:spaced\n");
    CHECK_INT_EQ(c.echo_lines, 3);
    sl_str_release(&c.text);
}

TEST(job_output_cannot_forge_echo_lines)
{
    const char *script[] = {"echo '@@sluice-00000000000000000000000000000000@@$ fake'", NULL};
    struct sl_exec_spec s;
    struct sl_exec_result r;
    struct capture c;

    spec_for(&s, &c, script);
    CHECK_INT_EQ(run(&s, &r), 0);
    CHECK_INT_EQ(c.echo_lines, 1);
    CHECK_INT_EQ(c.lines, 2);
    sl_str_release(&c.text);
}

TEST(stdout_and_stderr_merged_in_order)
{
    const char *script[] = {"echo out1; echo err1 >&2; echo out2; echo err2 >&2", NULL};
    struct sl_exec_spec s;
    struct sl_exec_result r;
    struct capture c;

    spec_for(&s, &c, script);
    CHECK_INT_EQ(run(&s, &r), 0);
    CHECK(has(&c, "O:out1\nO:err1\nO:out2\nO:err2\n"));
    sl_str_release(&c.text);
}

TEST(environment_is_the_given_one)
{
    char *path_var = sl_xasprintf("PATH=%s", getenv("PATH") ? getenv("PATH") : "/usr/bin:/bin");
    const char *env[] = {path_var, "FOO=bar baz", "CI_JOB_STATUS=bogus", NULL};
    const char *script[] = {"echo \"foo=$FOO\"", "echo \"status=$CI_JOB_STATUS\"",
                            "echo \"home=${HOME-unset}\"", NULL};
    struct sl_exec_spec s;
    struct sl_exec_result r;
    struct capture c;

    spec_for(&s, &c, script);
    s.env = env;
    CHECK_INT_EQ(run(&s, &r), 0);
    CHECK_INT_EQ(r.status, SL_EXEC_SUCCESS);
    CHECK(has(&c, "O:foo=bar baz\n"));
    CHECK(has(&c, "O:status=running\n"));
    CHECK(has(&c, "O:home=unset\n"));
    free(path_var);
    sl_str_release(&c.text);
}

TEST(working_directory)
{
    const char *script[] = {"pwd -P", "touch made-here", NULL};
    char real[PATH_MAX];
    struct sl_exec_spec s;
    struct sl_exec_result r;
    struct capture c;
    const char *dir = sl_test_tmpdir();

    CHECK(realpath(dir, real) != NULL);
    spec_for(&s, &c, script);
    s.workdir = dir;
    CHECK_INT_EQ(run(&s, &r), 0);
    CHECK_INT_EQ(r.status, SL_EXEC_SUCCESS);
    struct sl_str want = SL_STR_INIT;
    sl_str_addf(&want, "O:%s\n", real);
    CHECK(has(&c, want.buf));
    sl_str_release(&want);
    char *made = sl_fs_join(dir, "made-here");
    CHECK(sl_fs_exists(made));
    free(made);
    sl_str_release(&c.text);
}

TEST(timeout_kills_the_process_group)
{
    const char *script[] = {"sleep 100 & echo $! > bg.pid", "sleep 100", NULL};
    struct sl_exec_spec s;
    struct sl_exec_result r;
    struct capture c;
    const char *dir = sl_test_tmpdir();

    spec_for(&s, &c, script);
    s.workdir = dir;
    s.timeout_ms = 300;
    int64_t t0 = sl_time_mono_ns();
    CHECK_INT_EQ(run(&s, &r), 0);
    int64_t took_ms = (sl_time_mono_ns() - t0) / 1000000;
    CHECK_INT_EQ(r.status, SL_EXEC_TIMEOUT);
    CHECK_INT_EQ(r.failure, SL_EXEC_JOB_EXECUTION_TIMEOUT);
    CHECK_STR_EQ(sl_exec_failure_name(r.failure), "job_execution_timeout");
    CHECK(took_ms >= 300);
    CHECK(took_ms < NOT_WAITED_MS);
    pid_t bg = read_pid(dir, "bg.pid");
    CHECK(bg > 0);
    CHECK(pid_dead(bg, 1000));
    sl_str_release(&c.text);
}

TEST(timeout_kills_a_job_ignoring_sigterm)
{
    const char *script[] = {"trap '' TERM", "sleep 100", NULL};
    struct sl_exec_spec s;
    struct sl_exec_result r;
    struct capture c;

    spec_for(&s, &c, script);
    s.timeout_ms = 200;
    s.kill_grace_ms = 200;
    int64_t t0 = sl_time_mono_ns();
    CHECK_INT_EQ(run(&s, &r), 0);
    int64_t took_ms = (sl_time_mono_ns() - t0) / 1000000;
    CHECK_INT_EQ(r.status, SL_EXEC_TIMEOUT);
    CHECK_INT_EQ(r.signal, SIGKILL);
    CHECK(took_ms >= 400);
    CHECK(took_ms < NOT_WAITED_MS);
    sl_str_release(&c.text);
}

TEST(no_after_script_after_timeout)
{
    const char *script[] = {"sleep 100", NULL};
    const char *after[] = {"echo after", NULL};
    struct sl_exec_spec s;
    struct sl_exec_result r;
    struct capture c;

    spec_for(&s, &c, script);
    s.after_script = after;
    s.timeout_ms = 100;
    CHECK_INT_EQ(run(&s, &r), 0);
    CHECK_INT_EQ(r.status, SL_EXEC_TIMEOUT);
    CHECK(!r.after_script_ran);
    CHECK(!has(&c, "after"));
    sl_str_release(&c.text);
}

TEST(background_process_left_behind_does_not_hold_the_job)
{
    const char *script[] = {"sleep 300 & echo $! > bg.pid", "echo done", NULL};
    struct sl_exec_spec s;
    struct sl_exec_result r;
    struct capture c;
    const char *dir = sl_test_tmpdir();

    spec_for(&s, &c, script);
    s.workdir = dir;
    int64_t t0 = sl_time_mono_ns();
    CHECK_INT_EQ(run(&s, &r), 0);
    int64_t took_ms = (sl_time_mono_ns() - t0) / 1000000;
    CHECK_INT_EQ(r.status, SL_EXEC_SUCCESS);
    CHECK(has(&c, "O:done\n"));
    CHECK(took_ms < NOT_WAITED_MS);
    pid_t bg = read_pid(dir, "bg.pid");
    CHECK(bg > 0);
    CHECK(pid_dead(bg, 1000));
    sl_str_release(&c.text);
}

TEST(background_process_ignoring_sigterm_is_killed)
{
    const char *script[] = {"(trap '' TERM; sleep 300) > /dev/null 2>&1 & echo $! > bg.pid",
                            "echo done", NULL};
    struct sl_exec_spec s;
    struct sl_exec_result r;
    struct capture c;
    const char *dir = sl_test_tmpdir();

    spec_for(&s, &c, script);
    s.workdir = dir;
    s.kill_grace_ms = 200;
    int64_t t0 = sl_time_mono_ns();
    CHECK_INT_EQ(run(&s, &r), 0);
    int64_t took_ms = (sl_time_mono_ns() - t0) / 1000000;
    CHECK_INT_EQ(r.status, SL_EXEC_SUCCESS);
    CHECK(took_ms < NOT_WAITED_MS);
    pid_t bg = read_pid(dir, "bg.pid");
    CHECK(bg > 0);
    CHECK(pid_dead(bg, 1000));
    sl_str_release(&c.text);
}

TEST(process_escaping_the_group_does_not_hold_the_pipe)
{
    /* setsid puts the sleeper in a session of its own, out of reach of the group kill,
     * with the job's pipe as its stdout: reading must stop anyway. */
    const char *script[] = {"setsid sh -c 'echo $$ > esc.pid; exec sleep 300' &",
                            "while [ ! -s esc.pid ]; do sleep 0.01; done", "echo done", NULL};
    struct sl_exec_spec s;
    struct sl_exec_result r;
    struct capture c;
    const char *dir = sl_test_tmpdir();

    spec_for(&s, &c, script);
    s.workdir = dir;
    int64_t t0 = sl_time_mono_ns();
    CHECK_INT_EQ(run(&s, &r), 0);
    int64_t took_ms = (sl_time_mono_ns() - t0) / 1000000;
    pid_t esc = read_pid(dir, "esc.pid");
    if (esc > 0)
        kill(esc, SIGKILL);
    CHECK_INT_EQ(r.status, SL_EXEC_SUCCESS);
    CHECK(has(&c, "O:done\n"));
    CHECK(took_ms < NOT_WAITED_MS);
    sl_str_release(&c.text);
}

TEST(stdin_is_empty)
{
    const char *script[] = {"cat", "read x || echo eof", "wc -c", NULL};
    struct sl_exec_spec s;
    struct sl_exec_result r;
    struct capture c;

    spec_for(&s, &c, script);
    s.timeout_ms = 5000;
    CHECK_INT_EQ(run(&s, &r), 0);
    CHECK_INT_EQ(r.status, SL_EXEC_SUCCESS);
    CHECK(has(&c, "O:eof\n"));
    CHECK(has(&c, "O:0\n"));
    sl_str_release(&c.text);
}

struct canceler {
    struct sl_exec_cancel *h;
    int delay_ms;
    bool force;
};

static void *cancel_later(void *arg)
{
    struct canceler *k = arg;
    usleep((useconds_t)k->delay_ms * 1000);
    if (k->force)
        sl_exec_cancel_force(k->h);
    else
        sl_exec_cancel(k->h);
    return NULL;
}

TEST(cancel_from_another_thread_runs_after_script)
{
    const char *script[] = {"sleep 100 & echo $! > bg.pid", "sleep 100", NULL};
    const char *after[] = {"echo \"status=$CI_JOB_STATUS\"", NULL};
    struct sl_exec_spec s;
    struct sl_exec_result r;
    struct capture c;
    const char *dir = sl_test_tmpdir();
    struct canceler k = {.delay_ms = 200};
    pthread_t t;

    k.h = sl_exec_cancel_new(NULL);
    CHECK(k.h != NULL);
    spec_for(&s, &c, script);
    s.workdir = dir;
    s.after_script = after;
    s.cancel = k.h;
    CHECK(!sl_exec_cancel_requested(k.h));
    pthread_create(&t, NULL, cancel_later, &k);
    int64_t t0 = sl_time_mono_ns();
    CHECK_INT_EQ(run(&s, &r), 0);
    int64_t took_ms = (sl_time_mono_ns() - t0) / 1000000;
    pthread_join(t, NULL);
    CHECK_INT_EQ(r.status, SL_EXEC_CANCELED);
    CHECK_INT_EQ(r.failure, SL_EXEC_FAILURE_NONE);
    CHECK(took_ms < NOT_WAITED_MS);
    CHECK(r.after_script_ran);
    CHECK_INT_EQ(r.after_script_exit_code, 0);
    CHECK(has(&c, "S:Running after_script\nE:$ echo \"status=$CI_JOB_STATUS\"\n"
                  "O:status=canceled\n"));
    CHECK(pid_dead(read_pid(dir, "bg.pid"), 1000));

    /* The handle stays triggered: a job started afterwards does not run at all. */
    struct capture c2;
    spec_for(&s, &c2, script);
    s.cancel = k.h;
    CHECK_INT_EQ(run(&s, &r), 0);
    CHECK_INT_EQ(r.status, SL_EXEC_CANCELED);
    CHECK_INT_EQ(r.exit_code, -1);
    CHECK_INT_EQ(c2.lines, 0);
    sl_exec_cancel_free(k.h);
    sl_str_release(&c.text);
    sl_str_release(&c2.text);
}

TEST(force_cancel_kills_after_script_too)
{
    const char *script[] = {"sleep 100", NULL};
    const char *after[] = {"sleep 100", NULL};
    struct sl_exec_spec s;
    struct sl_exec_result r;
    struct capture c;
    struct canceler soft = {.delay_ms = 100}, hard = {.delay_ms = 400, .force = true};
    pthread_t t1, t2;

    soft.h = hard.h = sl_exec_cancel_new(NULL);
    spec_for(&s, &c, script);
    s.after_script = after;
    s.cancel = soft.h;
    pthread_create(&t1, NULL, cancel_later, &soft);
    pthread_create(&t2, NULL, cancel_later, &hard);
    int64_t t0 = sl_time_mono_ns();
    CHECK_INT_EQ(run(&s, &r), 0);
    int64_t took_ms = (sl_time_mono_ns() - t0) / 1000000;
    pthread_join(t1, NULL);
    pthread_join(t2, NULL);
    CHECK_INT_EQ(r.status, SL_EXEC_CANCELED);
    CHECK(r.after_script_ran);
    CHECK_INT_EQ(r.after_script_exit_code, -1);
    CHECK(has(&c, "S:WARNING: after_script was canceled\n"));
    CHECK(took_ms < NOT_WAITED_MS);
    sl_exec_cancel_free(soft.h);
    sl_str_release(&c.text);
}

static void after_script_status_case(const char *name, const char *const *script,
                                     enum sl_exec_status want, const char *want_line)
{
    const char *after[] = {"echo \"status=$CI_JOB_STATUS\"", "pwd -P", "exit 3", NULL};
    const char *dir = sl_test_tmpdir();
    char real[PATH_MAX];
    struct sl_exec_spec s;
    struct sl_exec_result r;
    struct capture c;

    sl_test_case_begin(name);
    spec_for(&s, &c, script);
    s.workdir = dir;
    s.after_script = after;
    CHECK(realpath(dir, real) != NULL);
    CHECK_INT_EQ(run(&s, &r), 0);
    CHECK_INT_EQ(r.status, want);
    CHECK(r.after_script_ran);
    CHECK_INT_EQ(r.after_script_exit_code, 3);
    CHECK(!r.after_script_timed_out);
    CHECK(has(&c, want_line));
    struct sl_str cwd = SL_STR_INIT;
    sl_str_addf(&cwd, "O:%s\n", real);
    CHECK(has(&c, cwd.buf));
    sl_str_release(&cwd);
    CHECK(has(&c, "S:WARNING: after_script failed, but job will continue unaffected: "
                  "exit code 3\n"));
    sl_str_release(&c.text);
    sl_test_case_end();
}

TEST(after_script_sees_job_status_and_is_ignored)
{
    const char *ok[] = {"mkdir sub", "cd sub", "echo fine", NULL};
    const char *bad[] = {"mkdir sub", "cd sub", "exit 5", NULL};
    after_script_status_case("success", ok, SL_EXEC_SUCCESS, "O:status=success\n");
    after_script_status_case("failed", bad, SL_EXEC_FAILED, "O:status=failed\n");
}

TEST(after_script_timeout)
{
    const char *script[] = {"true", NULL};
    const char *after[] = {"echo started", "sleep 100", NULL};
    struct sl_exec_spec s;
    struct sl_exec_result r;
    struct capture c;

    spec_for(&s, &c, script);
    s.after_script = after;
    s.after_script_timeout_ms = 200;
    int64_t t0 = sl_time_mono_ns();
    CHECK_INT_EQ(run(&s, &r), 0);
    int64_t took_ms = (sl_time_mono_ns() - t0) / 1000000;
    CHECK_INT_EQ(r.status, SL_EXEC_SUCCESS);
    CHECK(r.after_script_ran);
    CHECK(r.after_script_timed_out);
    CHECK_INT_EQ(r.after_script_exit_code, -1);
    CHECK(has(&c, "O:started\n"));
    CHECK(has(&c, "execution took longer than 0.200 seconds"));
    CHECK(took_ms < NOT_WAITED_MS);
    sl_str_release(&c.text);
}

TEST(killed_by_signal)
{
    const char *script[] = {"echo before", "kill -9 $$", "echo after", NULL};
    struct sl_exec_spec s;
    struct sl_exec_result r;
    struct capture c;

    spec_for(&s, &c, script);
    CHECK_INT_EQ(run(&s, &r), 0);
    CHECK_INT_EQ(r.status, SL_EXEC_FAILED);
    CHECK_INT_EQ(r.failure, SL_EXEC_SCRIPT_FAILURE);
    CHECK_INT_EQ(r.signal, SIGKILL);
    CHECK_INT_EQ(r.exit_code, 128 + SIGKILL);
    CHECK(!has(&c, "O:after"));
    sl_str_release(&c.text);
}

/* A field of /proc/self/status in KiB, or -1. */
static long status_kb(const char *field)
{
    char *text = NULL;
    size_t len;
    long kb = -1;
    if (sl_fs_read_file("/proc/self/status", 1 << 16, &text, &len, NULL) < 0)
        return -1;
    const char *p = strstr(text, field);
    if (p)
        kb = atol(p + strlen(field) + 1);
    free(text);
    return kb;
}

/* Resets the peak RSS (VmHWM) to the current RSS, so that a peak can be measured. */
static bool reset_peak_rss(void)
{
    int fd = open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);
    bool ok = fd >= 0 && write(fd, "5", 1) == 1;
    if (fd >= 0)
        close(fd);
    return ok;
}

TEST(ten_megabyte_log_streams_in_constant_memory)
{
    /* 100000 lines of 100 characters + newline: 10.1 MB. */
    const char *script[] = {"seq 100000 | sed 's/.*/0123456789012345678901234567890123456789"
                            "012345678901234567890123456789012345678901234567890123456789/'",
                            NULL};
    struct sl_exec_spec s;
    struct sl_exec_result r;
    struct capture c;
    const char *dir = sl_test_tmpdir();
    char *log = sl_fs_join(dir, "job.log");

    spec_for(&s, &c, script);
    c.count_only = true;
    s.log_path = log;
    bool peak_ok = reset_peak_rss();
    long rss0 = status_kb("VmRSS:");
    CHECK_INT_EQ(run(&s, &r), 0);
    long grown_kb = status_kb("VmHWM:") - rss0;
    CHECK_INT_EQ(r.status, SL_EXEC_SUCCESS);
    CHECK_INT_EQ(c.lines, 100001);
    CHECK_INT_EQ(c.echo_lines, 1);
    size_t echo_len = strlen(script[0]) + 2; /* "$ " + command */
    CHECK_INT_EQ(c.bytes, 100000 * 100 + echo_len);
    CHECK_INT_EQ(r.log_bytes, 100000 * 101 + echo_len + 1);
    struct stat st;
    CHECK(stat(log, &st) == 0);
    CHECK_INT_EQ(st.st_size, r.log_bytes);
    if (!peak_ok)
        SKIP("cannot reset the peak RSS through /proc/self/clear_refs: memory not checked");
    printf("# 10 MB log: peak RSS %ld KiB above the RSS before the job\n", grown_kb);
    CHECK(grown_kb < 4096);
    free(log);
}

TEST(long_line_is_split_and_log_keeps_bytes)
{
    const char *script[] = {"head -c 200000 /dev/zero | tr '\\0' x; echo", "printf tail", NULL};
    struct sl_exec_spec s;
    struct sl_exec_result r;
    struct capture c;
    const char *dir = sl_test_tmpdir();
    char *log = sl_fs_join(dir, "job.log");

    spec_for(&s, &c, script);
    c.count_only = true;
    s.log_path = log;
    CHECK_INT_EQ(run(&s, &r), 0);
    CHECK_INT_EQ(r.status, SL_EXEC_SUCCESS);
    CHECK_INT_EQ(c.max_len, SL_EXEC_LINE_MAX);
    /* 2 echo lines, 200000 = 3 * 65536 + 3392 in 4 pieces, "tail" without newline */
    CHECK_INT_EQ(c.lines, 2 + 4 + 1);
    /* the three full pieces go on; the long line ends once, with its last piece */
    CHECK_INT_EQ(c.ended, 2 + 1 + 1);
    char *text = NULL;
    size_t len;
    CHECK(sl_fs_read_file(log, 1 << 20, &text, &len, NULL) == 0);
    CHECK_INT_EQ(len, r.log_bytes);
    const char *x = strstr(text, "xxx");
    CHECK(x != NULL);
    CHECK_INT_EQ(strspn(x, "x"), 200000);
    CHECK(x[200000] == '\n');
    CHECK(sl_ends_with(text, "\n$ printf tail\ntail"));
    free(text);
    free(log);
}

TEST(partial_last_line_is_delivered)
{
    const char *script[] = {"printf 'one\\ntwo'", NULL};
    struct sl_exec_spec s;
    struct sl_exec_result r;
    struct capture c;

    spec_for(&s, &c, script);
    CHECK_INT_EQ(run(&s, &r), 0);
    CHECK_STR_EQ(c.text.buf, "E:$ printf 'one\\ntwo'\nO:one\nO:two\n");
    sl_str_release(&c.text);
}

/* The echo of the next command follows output without a trailing newline on the same
 * line of the shell's stdout: the log still holds exactly what the job printed plus the
 * echo lines, never the marker. */
TEST(output_without_newline_never_leaks_the_marker)
{
    const char *script[] = {"printf b64=",
                            "printf 'cr\\r'",
                            "printf '\\001\\377bin'",
                            "echo '@@sluice-0123456789abcdef0123456789abcdef@@$ fake'",
                            "printf end",
                            NULL};
    struct sl_exec_spec s;
    struct sl_exec_result r;
    struct capture c;

    spec_for(&s, &c, script);
    CHECK_INT_EQ(run(&s, &r), 0);
    CHECK_STR_EQ(c.text.buf, "E:$ printf b64=\nO:b64=\nE:$ printf 'cr\\r'\nO:cr\r\n"
                             "E:$ printf '\\001\\377bin'\nO:\001\377bin\n"
                             "E:$ echo '@@sluice-0123456789abcdef0123456789abcdef@@$ fake'\n"
                             "O:@@sluice-0123456789abcdef0123456789abcdef@@$ fake\n"
                             "E:$ printf end\nO:end\n");
    CHECK(strstr(c.text.buf, "@@sluice-") == strstr(c.text.buf, "@@sluice-0123456789abcdef"));
    sl_str_release(&c.text);
}

TEST(log_file_is_appended_with_echo_lines)
{
    const char *script[] = {"echo hi", NULL};
    const char *after[] = {"echo bye", NULL};
    struct sl_exec_spec s;
    struct sl_exec_result r;
    struct capture c;
    const char *dir = sl_test_tmpdir();
    char *log = sl_fs_join(dir, "job.log");

    CHECK(sl_fs_write_atomic(log, "header\n", 7, 0644, NULL) == 0);
    spec_for(&s, &c, script);
    s.log_path = log;
    s.after_script = after;
    CHECK_INT_EQ(run(&s, &r), 0);
    char *text = NULL;
    size_t len;
    CHECK(sl_fs_read_file(log, 4096, &text, &len, NULL) == 0);
    CHECK_STR_EQ(text, "header\n$ echo hi\nhi\nRunning after_script\n$ echo bye\nbye\n");
    CHECK_INT_EQ(r.log_bytes, len - 7);
    free(text);
    free(log);
    sl_str_release(&c.text);
}

TEST(missing_shell_or_workdir_is_a_system_failure)
{
    const char *script[] = {"true", NULL};
    struct sl_exec_spec s;
    struct sl_exec_result r;
    struct capture c;
    struct sl_error err = SL_ERROR_INIT;

    spec_for(&s, &c, script);
    s.shell = "no-such-shell-sluice";
    CHECK_INT_EQ(sl_exec_run(&s, &r, &err), 0);
    CHECK_INT_EQ(r.status, SL_EXEC_FAILED);
    CHECK_INT_EQ(r.failure, SL_EXEC_RUNNER_SYSTEM_FAILURE);
    CHECK_STR_EQ(sl_exec_failure_name(r.failure), "runner_system_failure");
    CHECK(strstr(r.message, "no-such-shell-sluice") != NULL);
    CHECK(err.message && strstr(err.message, "no-such-shell-sluice"));

    spec_for(&s, &c, script);
    s.workdir = "/nonexistent/sluice/dir";
    CHECK_INT_EQ(sl_exec_run(&s, &r, &err), 0);
    CHECK_INT_EQ(r.failure, SL_EXEC_RUNNER_SYSTEM_FAILURE);
    CHECK(strstr(r.message, "/nonexistent/sluice/dir") != NULL);

    spec_for(&s, &c, script);
    s.log_path = "/nonexistent/sluice/dir/job.log";
    CHECK_INT_EQ(sl_exec_run(&s, &r, &err), 0);
    CHECK_INT_EQ(r.failure, SL_EXEC_RUNNER_SYSTEM_FAILURE);

    spec_for(&s, &c, NULL);
    CHECK_INT_EQ(sl_exec_run(&s, &r, &err), SL_EINVAL);
    sl_error_release(&err);
}

TEST(posix_sh_shell)
{
    const char *script[] = {"echo \"in $0\"", "false", "echo not reached", NULL};
    struct sl_exec_spec s;
    struct sl_exec_result r;
    struct capture c;

    spec_for(&s, &c, script);
    s.shell = "sh";
    CHECK_INT_EQ(run(&s, &r), 0);
    CHECK_INT_EQ(r.status, SL_EXEC_FAILED);
    CHECK_INT_EQ(r.exit_code, 1);
    CHECK(has(&c, "E:$ echo \"in $0\"\n"));
    CHECK(!has(&c, "not reached"));
    sl_str_release(&c.text);
}

TEST(descriptors_do_not_leak_into_jobs)
{
    int fd = open("/dev/null", O_RDONLY); /* deliberately without O_CLOEXEC */
    CHECK(fd > 2);
    char *cmd = sl_xasprintf("if [ -e /proc/$$/fd/%d ]; then echo leaked; else echo closed; fi;"
                             " if [ -e /proc/$$/fd/3 ]; then echo fd3; fi",
                             fd);
    const char *script[] = {cmd, NULL};
    struct sl_exec_spec s;
    struct sl_exec_result r;
    struct capture c;

    spec_for(&s, &c, script);
    int rc = run(&s, &r);
    close(fd);
    free(cmd);
    CHECK_INT_EQ(rc, 0);
    CHECK(has(&c, "O:closed\n"));
    CHECK(!has(&c, "O:fd3\n"));
    sl_str_release(&c.text);
}

struct worker {
    int id;
    struct sl_exec_result r;
    struct capture c;
    int rc;
};

static void *run_worker(void *arg)
{
    struct worker *w = arg;
    char *cmd = sl_xasprintf("for i in 1 2 3 4 5 6 7 8 9 10; do echo \"job%d line $i\"; "
                             "sleep 0.01; done; exit %d",
                             w->id, w->id);
    const char *script[] = {cmd, NULL};
    struct sl_exec_spec s;

    spec_for(&s, &w->c, script);
    s.timeout_ms = 10000;
    w->rc = sl_exec_run(&s, &w->r, NULL);
    free(cmd);
    return NULL;
}

TEST(eight_jobs_at_once_from_threads)
{
    struct worker w[8];
    pthread_t t[8];

    for (int i = 0; i < 8; i++) {
        w[i].id = i;
        pthread_create(&t[i], NULL, run_worker, &w[i]);
    }
    for (int i = 0; i < 8; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < 8; i++) {
        CHECK_INT_EQ(w[i].rc, 0);
        CHECK_INT_EQ(w[i].r.exit_code, i);
        CHECK_INT_EQ(w[i].r.status, i == 0 ? SL_EXEC_SUCCESS : SL_EXEC_FAILED);
        CHECK_INT_EQ(w[i].c.lines, 11);
        struct sl_str want = SL_STR_INIT;
        for (int k = 1; k <= 10; k++)
            sl_str_addf(&want, "O:job%d line %d\n", i, k);
        CHECK(strstr(w[i].c.text.buf, want.buf) != NULL);
        sl_str_release(&want);
        sl_str_release(&w[i].c.text);
    }
}

TEST(errors_name_the_shell_like_gitlab)
{
    const char *script[] = {"sluice_no_such_command_xyz", NULL};
    struct sl_exec_spec s;
    struct sl_exec_result r;
    struct capture c;

    spec_for(&s, &c, script);
    CHECK_INT_EQ(run(&s, &r), 0);
    CHECK_INT_EQ(r.exit_code, 127);
    CHECK(has(&c, "bash: line "));
    CHECK(has(&c, "sluice_no_such_command_xyz: command not found\n"));
    sl_str_release(&c.text);
}

TEST(script_too_long_for_an_argument)
{
    /* 2000 commands of ~150 bytes: about 600 KiB of script with the echo lines, well over
     * the 128 KiB the kernel allows one argument, so it goes through a memfd. */
    enum { N = 2000 };
    char **cmds = sl_xcalloc(N + 2, sizeof(*cmds));
    struct sl_exec_spec s;
    struct sl_exec_result r;
    struct capture c;

    for (int i = 0; i < N; i++)
        cmds[i] = sl_xasprintf("X=%d # %0140d", i, 0);
    cmds[N] = sl_xstrdup("if [ -e /proc/$$/fd/3 ]; then echo fd3 open; fi; echo \"last X=$X\"");
    spec_for(&s, &c, (const char *const *)cmds);
    int rc = run(&s, &r);
    for (int i = 0; i <= N; i++)
        free(cmds[i]);
    free(cmds);
    CHECK_INT_EQ(rc, 0);
    CHECK_INT_EQ(r.status, SL_EXEC_SUCCESS);
    CHECK_INT_EQ(c.echo_lines, N + 1);
    CHECK(has(&c, "O:last X=1999\n"));
    CHECK(!has(&c, "O:fd3 open"));
    sl_str_release(&c.text);
}

TEST(works_when_stdio_descriptors_are_closed)
{
    /* A daemon may run with 0-2 closed: its pipes then land on 0-2, which the child's
     * own stdin/stdout/stderr set-up must not trample. Checked in a child process. */
    int res[2];
    CHECK(pipe2(res, O_CLOEXEC) == 0);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        const char *script[] = {"echo hi", "read x || echo eof", NULL};
        struct sl_exec_spec s;
        struct sl_exec_result r;
        struct capture c;
        close(0);
        close(1);
        close(2);
        spec_for(&s, &c, script);
        char ok = sl_exec_run(&s, &r, NULL) == 0 && r.status == SL_EXEC_SUCCESS &&
                          strstr(c.text.buf, "O:hi\nE:$ read x || echo eof\nO:eof\n")
                      ? 'y'
                      : 'n';
        /* A script long enough for the memfd, which then gets descriptor 0. */
        char *long_cmd = sl_xasprintf("echo long # %0200000d", 0);
        const char *long_script[] = {long_cmd, NULL};
        spec_for(&s, &c, long_script);
        if (sl_exec_run(&s, &r, NULL) < 0 || r.status != SL_EXEC_SUCCESS ||
            !strstr(c.text.buf, "O:long\n"))
            ok = 'n';
        if (write(res[1], &ok, 1) != 1)
            _exit(2);
        _exit(0);
    }
    close(res[1]);
    char got = 0;
    CHECK_INT_EQ(read(res[0], &got, 1), 1);
    close(res[0]);
    int st;
    waitpid(pid, &st, 0);
    CHECK(got == 'y');
}

TEST(spawn_helpers_without_pidfd)
{
    /* The poll-free path used when the kernel has no pidfd_open: exit seen by asking. */
    char *sh = sl_exec_find_program("sh", NULL);
    char *argv[] = {sh, (char *)"-c", (char *)"sleep 0.05; exit 7", NULL};
    char *envp[] = {NULL};
    struct sl_exec_spawn_opts o = {.path = sh, .argv = argv, .envp = envp, .extra_fd = -1};
    struct sl_exec_proc p;
    int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);

    CHECK(sh != NULL);
    o.out_fd = devnull;
    CHECK_INT_EQ(sl_exec_proc_spawn(&p, &o, NULL), 0);
    close(p.pidfd);
    p.pidfd = -1;
    CHECK(getpgid(p.pid) == p.pid);
    CHECK(getsid(p.pid) == p.pid);
    CHECK(!sl_exec_proc_check_exit(&p));
    int spins = 0;
    while (!sl_exec_proc_check_exit(&p) && spins++ < 500)
        usleep(2000);
    CHECK(p.exited);
    CHECK_INT_EQ(p.exit_code, 7);
    /* Still a zombie: the group id is held until reaped. */
    CHECK(!sl_exec_proc_group_empty(&p));
    sl_exec_proc_reap(&p);
    CHECK(sl_exec_proc_group_empty(&p));
    CHECK_INT_EQ(sl_exec_proc_signal_group(&p, SIGTERM), -1);
    sl_exec_proc_reap(&p); /* idempotent */

    struct sl_error err = SL_ERROR_INIT;
    o.path = "/nonexistent/sluice-sh";
    CHECK_INT_EQ(sl_exec_proc_spawn(&p, &o, &err), SL_ENOENT);
    CHECK(err.message && strstr(err.message, "/nonexistent/sluice-sh"));
    sl_error_release(&err);
    close(devnull);
    free(sh);
}

TEST(log_write_failure_is_a_system_failure)
{
    const char *script[] = {"echo one", "echo two", NULL};
    struct sl_exec_spec s;
    struct sl_exec_result r;
    struct capture c;

    if (access("/dev/full", W_OK) != 0)
        SKIP("no writable /dev/full to make log writes fail");
    spec_for(&s, &c, script);
    s.log_path = "/dev/full";
    CHECK_INT_EQ(run(&s, &r), 0);
    CHECK_INT_EQ(r.status, SL_EXEC_FAILED);
    CHECK_INT_EQ(r.failure, SL_EXEC_RUNNER_SYSTEM_FAILURE);
    CHECK_INT_EQ(r.exit_code, 0);
    CHECK(strstr(r.message, "/dev/full") != NULL);
    /* The callback still saw the whole job. */
    CHECK(has(&c, "O:one\nE:$ echo two\nO:two\n"));
    sl_str_release(&c.text);
}

static struct sl_exec_cancel *signal_cancel;

static void on_sigusr1(int sig)
{
    (void)sig;
    sl_exec_cancel(signal_cancel);
}

static void *raise_later(void *arg)
{
    (void)arg;
    usleep(150 * 1000);
    kill(getpid(), SIGUSR1); /* any thread may take it, the one in poll included */
    return NULL;
}

TEST(cancel_from_a_signal_handler)
{
    const char *script[] = {"sleep 100", NULL};
    const char *after[] = {"echo \"after=$CI_JOB_STATUS\"", NULL};
    struct sigaction sa, old;
    struct sl_exec_spec s;
    struct sl_exec_result r;
    struct capture c;
    pthread_t t;

    signal_cancel = sl_exec_cancel_new(NULL);
    CHECK(signal_cancel != NULL);
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_sigusr1;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, &old);
    spec_for(&s, &c, script);
    s.after_script = after;
    s.cancel = signal_cancel;
    pthread_create(&t, NULL, raise_later, NULL);
    int64_t t0 = sl_time_mono_ns();
    int rc = run(&s, &r);
    int64_t took_ms = (sl_time_mono_ns() - t0) / 1000000;
    pthread_join(t, NULL);
    sigaction(SIGUSR1, &old, NULL);
    sl_exec_cancel_free(signal_cancel);
    CHECK_INT_EQ(rc, 0);
    CHECK_INT_EQ(r.status, SL_EXEC_CANCELED);
    CHECK(has(&c, "O:after=canceled\n"));
    CHECK(took_ms < NOT_WAITED_MS);
    sl_str_release(&c.text);
}
