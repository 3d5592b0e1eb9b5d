/* The exec room's pieces that need no process: line cutting, echo markers, the log
 * writer, the cancel handle, program lookup, names. */
#include "base/compat.h"
#include "harness/harness.h"
#include "exec/exec.h"
#include "exec/cancel.h"
#include "exec/output.h"
#include "exec/spawn.h"
#include "base/alloc.h"
#include "base/fs.h"
#include "base/str.h"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

struct lines {
    struct sl_str text; /* "<stream>:<len>:<bytes>\n" per line */
    size_t n;
    size_t pieces; /* lines that do not end (parts of an overlong line) */
};

static void collect(void *ctx, enum sl_exec_stream stream, const char *line, size_t len,
                    bool ends_line)
{
    struct lines *l = ctx;
    if (!ends_line)
        l->pieces++;
    sl_str_addf(&l->text, "%d:%zu:", (int)stream, len);
    if (len <= 64)
        sl_str_add(&l->text, line, len);
    sl_str_addc(&l->text, '\n');
    l->n++;
}

/* Feeds DATA in pieces of STEP bytes (all at once when 0). */
static void feed_in_steps(struct sl_exec_output *o, const char *data, size_t n, size_t step)
{
    if (!step)
        step = n ? n : 1;
    for (size_t off = 0; off < n; off += step)
        sl_exec_output_feed(o, data + off, SL_MIN(step, n - off));
}

TEST(lines_are_the_same_whatever_the_chunking)
{
    const char *input = "alpha\nbeta\n\ngamma without newline";
    const size_t steps[] = {0, 1, 2, 3, 7};

    for (size_t i = 0; i < SL_ARRAY_LEN(steps); i++) {
        struct lines l = {SL_STR_INIT, 0, 0};
        struct sl_exec_output o;
        char name[32];
        snprintf(name, sizeof(name), "step %zu", steps[i]);
        sl_test_case_begin(name);
        sl_exec_output_init(&o, collect, &l, -1);
        feed_in_steps(&o, input, strlen(input), steps[i]);
        sl_exec_output_end(&o);
        CHECK_STR_EQ(l.text.buf, "0:5:alpha\n0:4:beta\n0:0:\n0:21:gamma without newline\n");
        CHECK_INT_EQ(o.lines, 4);
        CHECK_INT_EQ(o.bytes, strlen(input));
        sl_exec_output_release(&o);
        sl_str_release(&l.text);
        sl_test_case_end();
    }
}

TEST(echo_marker_is_recognised_across_chunks_wherever_it_is)
{
    struct lines l = {SL_STR_INIT, 0, 0};
    struct sl_exec_output o;
    struct sl_str in = SL_STR_INIT;

    sl_exec_output_init(&o, collect, &l, -1);
    CHECK_INT_EQ(strlen(o.marker), SL_EXEC_MARKER_LEN);
    sl_str_addf(&in, "%s$ make\nbuilt\nnot at start %s$ x\n%s", o.marker, o.marker, o.marker);
    feed_in_steps(&o, in.buf, in.len, 5);
    sl_exec_output_end(&o);
    /* output without a newline before an echo stays the job's line; the echo is ours */
    CHECK_STR_EQ(l.text.buf, "1:6:$ make\n0:5:built\n0:13:not at start \n1:3:$ x\n1:0:\n");
    /* The log sees the echoes without their markers, and a newline before the second. */
    CHECK_INT_EQ(o.bytes, in.len - 3 * SL_EXEC_MARKER_LEN + 1);
    sl_str_release(&in);
    sl_exec_output_release(&o);
    sl_str_release(&l.text);
}

TEST(markers_differ_between_jobs)
{
    struct sl_exec_output a, b;
    sl_exec_output_init(&a, NULL, NULL, -1);
    sl_exec_output_init(&b, NULL, NULL, -1);
    CHECK(strcmp(a.marker, b.marker) != 0);
    sl_exec_output_release(&a);
    sl_exec_output_release(&b);
}

TEST(long_lines_are_cut_at_the_cap)
{
    const size_t M = SL_EXEC_LINE_MAX;
    struct {
        const char *name;
        size_t len;       /* bytes of 'x' */
        bool newline;     /* followed by '\n' */
        const char *want; /* piece lengths */
    } cases[] = {
        {"cap minus one", M - 1, true, "65535"},
        {"exactly the cap", M, true, "65536"},
        {"cap plus one", M + 1, true, "65536,1"},
        {"three caps and a bit", 3 * M + 10, true, "65536,65536,65536,10"},
        {"two caps exactly, no newline", 2 * M, false, "65536,65536"},
    };
    char *buf = sl_xmalloc(4 * M);

    memset(buf, 'x', 4 * M);
    for (size_t i = 0; i < SL_ARRAY_LEN(cases); i++) {
        for (size_t step = 0; step <= 4096; step += 4096) {
            struct lines l = {SL_STR_INIT, 0, 0};
            struct sl_exec_output o;
            struct sl_str got = SL_STR_INIT;
            sl_test_case_begin(cases[i].name);
            sl_exec_output_init(&o, collect, &l, -1);
            buf[cases[i].len] = '\n';
            feed_in_steps(&o, buf, cases[i].len + (cases[i].newline ? 1 : 0), step);
            buf[cases[i].len] = 'x';
            sl_exec_output_end(&o);
            for (const char *p = l.text.buf; *p; p = strchr(p, '\n') + 1)
                sl_str_addf(&got, "%s%ld", got.len ? "," : "", strtol(p + 2, NULL, 10));
            CHECK_STR_EQ(got.buf, cases[i].want);
            /* each piece but the last goes on: a caller joins them into the line */
            size_t commas = 0;
            for (const char *w = cases[i].want; *w; w++)
                commas += *w == ',';
            CHECK_INT_EQ(l.pieces, commas);
            CHECK_INT_EQ(o.bytes, cases[i].len + (cases[i].newline ? 1 : 0));
            sl_str_release(&got);
            sl_exec_output_release(&o);
            sl_str_release(&l.text);
            sl_test_case_end();
        }
    }
    free(buf);
}

TEST(log_gets_the_exact_bytes)
{
    const char *dir = sl_test_tmpdir();
    char *path = sl_fs_join(dir, "log");
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    struct sl_exec_output o;
    struct sl_str in = SL_STR_INIT;
    char *big = sl_xmalloc(SL_EXEC_LINE_MAX * 3);

    CHECK(fd >= 0);
    memset(big, 'y', SL_EXEC_LINE_MAX * 3);
    sl_exec_output_init(&o, NULL, NULL, fd);
    sl_str_addf(&in, "%s$ cmd\none\n", o.marker);
    sl_str_add(&in, big, SL_EXEC_LINE_MAX * 3);
    sl_str_adds(&in, "\nlast");
    feed_in_steps(&o, in.buf, in.len, 1000);
    sl_exec_output_system(&o, "Running %s", "after_script");
    CHECK_INT_EQ(sl_exec_output_flush(&o), 0);
    close(fd);

    char *text = NULL;
    size_t len;
    CHECK(sl_fs_read_file(path, 1 << 20, &text, &len, NULL) == 0);
    struct sl_str want = SL_STR_INIT;
    sl_str_adds(&want, "$ cmd\none\n");
    sl_str_add(&want, big, SL_EXEC_LINE_MAX * 3);
    sl_str_adds(&want, "\nlast\nRunning after_script\n");
    CHECK_INT_EQ(len, want.len);
    CHECK(memcmp(text, want.buf, len) == 0);
    CHECK_INT_EQ(o.bytes, len);
    free(text);
    free(big);
    free(path);
    sl_str_release(&want);
    sl_str_release(&in);
    sl_exec_output_release(&o);
}

TEST(log_write_failure_is_reported)
{
    int fds[2];
    struct sl_exec_output o;

    CHECK(pipe2(fds, O_CLOEXEC) == 0);
    close(fds[1]);
    /* A read-only descriptor: every write fails with EBADF. */
    sl_exec_output_init(&o, NULL, NULL, fds[0]);
    sl_exec_output_feed(&o, "hello\n", 6);
    CHECK_INT_EQ(sl_exec_output_flush(&o), -1);
    CHECK_INT_EQ(o.log_errno, EBADF);
    sl_exec_output_feed(&o, "more\n", 5);
    CHECK_INT_EQ(sl_exec_output_flush(&o), -1);
    sl_exec_output_release(&o);
    close(fds[0]);
}

TEST(cancel_handle_levels_and_fds)
{
    struct sl_exec_cancel *c = sl_exec_cancel_new(NULL);
    struct pollfd p[2];

    CHECK(c != NULL);
    p[0] = (struct pollfd){.fd = sl_exec_cancel_fd(c), .events = POLLIN};
    p[1] = (struct pollfd){.fd = sl_exec_cancel_force_fd(c), .events = POLLIN};
    CHECK_INT_EQ(poll(p, 2, 0), 0);
    CHECK(!sl_exec_cancel_requested(c));
    sl_exec_cancel(c);
    sl_exec_cancel(c);
    CHECK(sl_exec_cancel_requested(c));
    CHECK(!sl_exec_cancel_forced(c));
    CHECK_INT_EQ(poll(p, 2, 0), 1);
    CHECK(p[0].revents & POLLIN);
    /* Stays readable: a second watcher sees it too. */
    CHECK_INT_EQ(poll(p, 1, 0), 1);
    sl_exec_cancel_force(c);
    CHECK(sl_exec_cancel_forced(c));
    CHECK_INT_EQ(poll(p, 2, 0), 2);
    sl_exec_cancel_free(c);
    sl_exec_cancel_free(NULL);
}

TEST(find_program)
{
    char *p = sl_exec_find_program("sh", "/nonexistent::/usr/bin:/bin");
    CHECK(p != NULL);
    CHECK(sl_ends_with(p, "/sh"));
    CHECK(p[0] == '/');
    free(p);
    CHECK(sl_exec_find_program("sh", "/nonexistent") == NULL);
    CHECK(sl_exec_find_program("sluice-no-such-program", NULL) == NULL);
    /* A directory is not a program, a path is taken as it is. */
    CHECK(sl_exec_find_program("/usr/bin", NULL) == NULL);
    p = sl_exec_find_program("/bin/sh", "/nonexistent");
    CHECK_STR_EQ(p, "/bin/sh");
    free(p);
}

TEST(names_match_gitlab)
{
    CHECK_STR_EQ(sl_exec_status_name(SL_EXEC_SUCCESS), "success");
    CHECK_STR_EQ(sl_exec_status_name(SL_EXEC_FAILED), "failed");
    CHECK_STR_EQ(sl_exec_status_name(SL_EXEC_CANCELED), "canceled");
    CHECK_STR_EQ(sl_exec_status_name(SL_EXEC_TIMEOUT), "timeout");
    CHECK_STR_EQ(sl_exec_failure_name(SL_EXEC_FAILURE_NONE), "");
    CHECK_STR_EQ(sl_exec_failure_name(SL_EXEC_SCRIPT_FAILURE), "script_failure");
    CHECK_STR_EQ(sl_exec_failure_name(SL_EXEC_JOB_EXECUTION_TIMEOUT), "job_execution_timeout");
    CHECK_STR_EQ(sl_exec_failure_name(SL_EXEC_RUNNER_SYSTEM_FAILURE), "runner_system_failure");
}

TEST(spec_init_defaults)
{
    struct sl_exec_spec s;
    memset(&s, 0xa5, sizeof(s));
    sl_exec_spec_init(&s);
    CHECK(s.script == NULL && s.env == NULL && s.shell == NULL && s.cancel == NULL);
    CHECK_INT_EQ(s.timeout_ms, 0);
    CHECK_INT_EQ(s.after_script_timeout_ms, 0);
}
