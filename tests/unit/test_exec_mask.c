/* The streaming masker (exec/mask.h): whole, split, one byte at a time, encoded forms,
 * past the line cap, in executor messages, and through a real shell job. */
#include "base/compat.h"
#include "harness/harness.h"
#include "exec/exec.h"
#include "exec/mask.h"
#include "exec/output.h"
#include "base/alloc.h"
#include "base/fs.h"
#include "base/str.h"

#include <fcntl.h>
#include <unistd.h>

#define SECRET "s3cr3t-Value_42"

static struct sl_mask *mask_of(const char *const *secrets)
{
    struct sl_mask *m = sl_mask_new();
    for (size_t i = 0; secrets[i]; i++)
        if (sl_mask_add(m, secrets[i], strlen(secrets[i]), NULL) < 0)
            abort();
    return m;
}

static void to_str(void *ctx, const char *data, size_t len)
{
    sl_str_add(ctx, data, len);
}

/* TEXT masked through a stream fed in pieces of STEP bytes (all at once when 0). */
static char *stream_masked(const struct sl_mask *m, const char *text, size_t step)
{
    struct sl_str out = SL_STR_INIT;
    struct sl_mask_stream s;
    size_t n = strlen(text);
    sl_mask_stream_init(&s, m, to_str, &out);
    if (!step)
        step = n ? n : 1;
    for (size_t off = 0; off < n; off += step)
        sl_mask_stream_feed(&s, text + off, SL_MIN(step, n - off));
    sl_mask_stream_flush(&s);
    sl_mask_stream_release(&s);
    return sl_str_detach(&out);
}

static char *one_shot(const struct sl_mask *m, const char *text)
{
    return sl_mask_string(m, text, strlen(text), NULL);
}

TEST(whole_secret_is_masked)
{
    struct sl_mask *m = mask_of((const char *[]){SECRET, NULL});
    char *out = one_shot(m, "token=" SECRET " and " SECRET "\n");
    CHECK_STR_EQ(out, "token=[MASKED] and [MASKED]\n");
    free(out);
    out = one_shot(m, "s3cr3t-Value_4 is not it\n");
    CHECK_STR_EQ(out, "s3cr3t-Value_4 is not it\n");
    free(out);
    sl_mask_free(m);
}

TEST(split_anywhere_and_byte_by_byte)
{
    struct sl_mask *m = mask_of((const char *[]){SECRET, NULL});
    const char *text = "a " SECRET " b " SECRET SECRET " c";
    char *want = one_shot(m, text);
    CHECK_STR_EQ(want, "a [MASKED] b [MASKED][MASKED] c");
    for (size_t step = 1; step <= strlen(text); step++) {
        char *got = stream_masked(m, text, step);
        CHECK_STR_EQ(got, want);
        free(got);
    }
    /* two writes cut at every position */
    for (size_t cut = 0; cut <= strlen(text); cut++) {
        struct sl_str out = SL_STR_INIT;
        struct sl_mask_stream s;
        sl_mask_stream_init(&s, m, to_str, &out);
        sl_mask_stream_feed(&s, text, cut);
        sl_mask_stream_feed(&s, text + cut, strlen(text) - cut);
        sl_mask_stream_flush(&s);
        sl_mask_stream_release(&s);
        CHECK_STR_EQ(out.buf, want);
        sl_str_release(&out);
    }
    free(want);
    sl_mask_free(m);
}

TEST(held_back_only_while_a_secret_may_follow)
{
    struct sl_mask *m = mask_of((const char *[]){SECRET, NULL});
    struct sl_str out = SL_STR_INIT;
    struct sl_mask_stream s;
    sl_mask_stream_init(&s, m, to_str, &out);
    sl_mask_stream_feed(&s, "hello s3cr", 10);
    CHECK_STR_EQ(out.buf, "hello "); /* "s3cr" may start the secret */
    sl_mask_stream_feed(&s, "ew", 2);
    CHECK_STR_EQ(out.buf, "hello s3crew");
    sl_mask_stream_feed(&s, " s3cr3t", 7);
    sl_mask_stream_flush(&s); /* the stream ended: it was not the secret */
    CHECK_STR_EQ(out.buf, "hello s3crew s3cr3t");
    sl_mask_stream_release(&s);
    sl_str_release(&out);
    sl_mask_free(m);
}

TEST(encoded_forms_are_masked)
{
    /* "p@ss:w0rd/x+y" base64 "cEBzczp3MHJkL3greQ==", URL-encoded "p%40ss%3Aw0rd%2Fx%2By",
     * hex "704073733a7730726 42f782b79" */
    struct sl_mask *m = mask_of((const char *[]){"p@ss:w0rd/x+y", NULL});
    static const char *const leaks[] = {
        "cEBzczp3MHJkL3greQ==",        /* base64 */
        "cEBzczp3MHJkL3greQ",          /* without padding */
        "p%40ss%3Aw0rd%2Fx%2By",       /* URL-encoded, upper case */
        "p%40ss%3aw0rd%2fx%2by",       /* lower case */
        "p%40ss%3Aw0rd%2fx%2By",       /* mixed */
        "704073733a77307264 2f782b79", /* not a form: has a space */
        "704073733a773072642f782b79",  /* hex */
        "704073733A773072642F782B79",  /* HEX */
        "704073733a773072642F782b79",  /* mixed */
        NULL,
    };
    for (size_t i = 0; leaks[i]; i++) {
        char *out = one_shot(m, leaks[i]);
        bool is_form = strchr(leaks[i], ' ') == NULL;
        if (is_form)
            CHECK_STR_EQ(out, "[MASKED]");
        else
            CHECK_STR_EQ(out, leaks[i]);
        free(out);
    }
    /* inside longer base64 text, at each offset modulo 3 ("x", "xx", "xxx" before it):
     * base64 of "xp@ss:w0rd/x+y!", "xxp@ss:w0rd/x+y!", "xxxp@ss:w0rd/x+y!" */
    static const char *const inside[] = {
        "eHBAc3M6dzByZC94K3kh", "eHhwQHNzOncwcmQveCt5IQ==", "eHh4cEBzczp3MHJkL3greSE=", NULL};
    for (size_t i = 0; inside[i]; i++) {
        char *out = one_shot(m, inside[i]);
        CHECK(strstr(out, "[MASKED]") != NULL);
        CHECK(strlen(out) < strlen(inside[i])); /* most of it went */
        free(out);
    }
    sl_mask_free(m);
}

TEST(leftmost_longest_and_overlaps)
{
    struct sl_mask *m = mask_of((const char *[]){"abcdefgh", "abcdefghijkl", "ghijklmn", NULL});
    const char *text = "xxabcdefghijklmnyy abcdefghzz";
    char *want = one_shot(m, text);
    CHECK_STR_EQ(want, "xx[MASKED]mnyy [MASKED]zz");
    for (size_t step = 1; step < 8; step++) {
        char *got = stream_masked(m, text, step);
        CHECK_STR_EQ(got, want);
        free(got);
    }
    free(want);
    sl_mask_free(m);
}

TEST(limits_and_empty_masks)
{
    struct sl_mask *m = sl_mask_new();
    struct sl_error err = SL_ERROR_INIT;
    CHECK_INT_EQ(sl_mask_add(m, "", 0, &err), SL_EINVAL);
    sl_error_release(&err);
    char *big = sl_xmalloc(SL_MASK_SECRET_MAX + 1);
    memset(big, 'a', SL_MASK_SECRET_MAX + 1);
    CHECK_INT_EQ(sl_mask_add(m, big, SL_MASK_SECRET_MAX + 1, &err), SL_ELIMIT);
    sl_error_release(&err);
    free(big);
    CHECK(sl_mask_empty(m));
    CHECK(sl_mask_empty(NULL));
    char *out = one_shot(NULL, "plain");
    CHECK_STR_EQ(out, "plain");
    free(out);
    CHECK_INT_EQ(sl_mask_add(m, SECRET, strlen(SECRET), NULL), 0);
    CHECK_INT_EQ(sl_mask_add(m, SECRET, strlen(SECRET), NULL), 0); /* twice: one */
    CHECK(!sl_mask_empty(m));
    sl_mask_free(m);
}

struct lines {
    struct sl_str text;
};

static void collect(void *ctx, enum sl_exec_stream stream, const char *line, size_t len,
                    bool ends_line)
{
    (void)ends_line;
    struct lines *l = ctx;
    sl_str_addf(&l->text, "%d:", (int)stream);
    sl_str_add(&l->text, line, len);
    sl_str_addc(&l->text, '\n');
}

TEST(secret_across_the_line_cap_and_in_system_lines)
{
    struct sl_mask *m = mask_of((const char *[]){SECRET, NULL});
    struct lines l = {SL_STR_INIT};
    struct sl_exec_output o;
    char *dir = sl_fs_join(sl_test_tmpdir(), "mask-log");
    sl_test_write(dir, "log", "");
    char *path = sl_fs_join(dir, "log");
    int fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
    CHECK(fd >= 0);
    sl_exec_output_init(&o, collect, &l, fd);
    sl_exec_output_set_mask(&o, m);
    /* the secret straddles the SL_EXEC_LINE_MAX cut, fed one byte at a time there */
    size_t pad = SL_EXEC_LINE_MAX - 5;
    char *a = sl_xmalloc(pad);
    memset(a, 'a', pad);
    sl_exec_output_feed(&o, a, pad);
    for (const char *p = SECRET; *p; p++)
        sl_exec_output_feed(&o, p, 1);
    sl_exec_output_feed(&o, "\n", 1);
    sl_exec_output_system(&o, "WARNING: " SECRET " was printed");
    sl_exec_output_end(&o);
    sl_exec_output_flush(&o);
    sl_exec_output_release(&o);
    close(fd);
    CHECK(strstr(l.text.buf, "s3cr3t") == NULL);
    CHECK(strstr(l.text.buf, "0:ED]\n") != NULL); /* the line cap cuts [MASKED] itself */
    CHECK(strstr(l.text.buf, "2:WARNING: [MASKED] was printed\n") != NULL);
    char *log = sl_test_read(dir, "log");
    CHECK(strstr(log, "s3cr3t") == NULL);
    CHECK(strstr(log, "a[MASKED]\n") != NULL);
    free(log);
    free(a);
    free(path);
    free(dir);
    sl_str_release(&l.text);
    sl_mask_free(m);
}

TEST(shell_job_printing_a_secret_slowly_leaks_nothing)
{
    struct sl_mask *m = mask_of((const char *[]){SECRET, NULL});
    struct lines l = {SL_STR_INIT};
    struct sl_exec_spec spec;
    struct sl_exec_result res;
    char *dir = sl_fs_join(sl_test_tmpdir(), "mask-job");
    sl_test_write(dir, "keep", "");
    char *log_path = sl_fs_join(dir, "job.log");
    const char *env[] = {"PATH=/usr/bin:/bin", "S=" SECRET, NULL};
    const char *script[] = {
        "for i in $(seq 0 $((${#S} - 1))); do printf %s \"${S:$i:1}\"; sleep 0.01; done; echo",
        "echo \"$S\" >&2",
        "printf %s \"$S\" | base64",
        "printf %s \"$S\" | od -An -tx1 | tr -d ' \\n'; echo",
        "exit 3",
        NULL,
    };
    const char *after[] = {"echo \"after $S\"", NULL};
    sl_exec_spec_init(&spec);
    spec.name = "mask";
    spec.script = script;
    spec.after_script = after;
    spec.env = env;
    spec.workdir = dir;
    spec.on_line = collect;
    spec.ctx = &l;
    spec.log_path = log_path;
    spec.mask = m;
    CHECK_INT_EQ(sl_exec_run(&spec, &res, NULL), 0);
    CHECK_INT_EQ(res.status, SL_EXEC_FAILED);
    const char *leaks[] = {SECRET, "czNjcjN0LVZhbHVlXzQy", "73336372337", NULL};
    char *log = sl_test_read(dir, "job.log");
    for (size_t i = 0; leaks[i]; i++) {
        CHECK(strstr(l.text.buf, leaks[i]) == NULL);
        CHECK(strstr(log, leaks[i]) == NULL);
    }
    CHECK(strstr(log, "after [MASKED]") != NULL);
    const char *p = log;
    int n = 0;
    while ((p = strstr(p, "[MASKED]")) != NULL) {
        n++;
        p++;
    }
    CHECK_INT_EQ(n, 5);
    free(log);
    free(log_path);
    free(dir);
    sl_str_release(&l.text);
    sl_mask_free(m);
}
