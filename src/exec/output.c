#include "base/compat.h"
#include "exec/output.h"
#include "base/alloc.h"

#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#define LOGBUF_CAP (2 * SL_EXEC_LINE_MAX + 2)

static void make_marker(char *out)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char rnd[16];

    if (getrandom(rnd, sizeof(rnd), GRND_NONBLOCK) != (ssize_t)sizeof(rnd)) {
        /* No entropy yet (early boot): the marker only has to be unguessable by the
         * job's output in practice, so time, pid and an address will do. */
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        uint64_t a = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 30) ^ (uint64_t)getpid();
        uint64_t b = (uint64_t)(uintptr_t)out ^ ((uint64_t)gettid() << 20);
        memcpy(rnd, &a, 8);
        memcpy(rnd + 8, &b, 8);
    }
    memcpy(out, "@@sluice-", 9);
    for (int i = 0; i < 16; i++) {
        out[9 + 2 * i] = hex[rnd[i] >> 4];
        out[10 + 2 * i] = hex[rnd[i] & 15];
    }
    memcpy(out + 41, "@@", 3);
}

void sl_exec_output_init(struct sl_exec_output *o, sl_exec_line_fn fn, void *ctx, int log_fd)
{
    memset(o, 0, sizeof(*o));
    o->fn = fn;
    o->ctx = ctx;
    o->log_fd = log_fd;
    make_marker(o->marker);
    o->line = sl_xmalloc(SL_EXEC_LINE_MAX + 1);
    o->logbuf = log_fd >= 0 ? sl_xmalloc(LOGBUF_CAP) : NULL;
    sl_exec_output_set_mask(o, NULL);
}

static void feed_lines(void *ctx, const char *data, size_t n);

void sl_exec_output_set_mask(struct sl_exec_output *o, const struct sl_mask *mask)
{
    sl_mask_stream_release(&o->mask);
    sl_mask_stream_init(&o->mask, mask, feed_lines, o);
}

void sl_exec_output_release(struct sl_exec_output *o)
{
    free(o->line);
    free(o->logbuf);
    sl_mask_stream_release(&o->mask);
    o->line = o->logbuf = NULL;
}

static void log_append(struct sl_exec_output *o, const char *data, size_t n)
{
    if (!o->logbuf || o->log_errno)
        return;
    if (o->loglen + n > LOGBUF_CAP)
        sl_exec_output_flush(o);
    memcpy(o->logbuf + o->loglen, data, n);
    o->loglen += n;
}

static void deliver_one(struct sl_exec_output *o, enum sl_exec_stream stream, char *line,
                        size_t len, bool newline, bool piece);

/* An echo line starts with the job's marker, but follows on the same line whatever the last
 * command printed without a newline (`printf b64=`, a lone `\r`, binary bytes). The marker
 * is 128 random bits, so wherever it appears it is ours: what comes before it is the job's
 * output (delivered as a line of its own), the rest is the echo without its marker. */
static void deliver(struct sl_exec_output *o, enum sl_exec_stream stream, char *line, size_t len,
                    bool newline, bool piece)
{
    char *m =
        stream == SL_EXEC_STREAM_OUTPUT ? memmem(line, len, o->marker, SL_EXEC_MARKER_LEN) : NULL;
    if (!m) {
        deliver_one(o, stream, line, len, newline, piece);
        return;
    }
    size_t head = (size_t)(m - line);
    if (head > 0)
        deliver_one(o, SL_EXEC_STREAM_OUTPUT, line, head, true, false);
    deliver_one(o, SL_EXEC_STREAM_ECHO, m + SL_EXEC_MARKER_LEN, len - head - SL_EXEC_MARKER_LEN,
                newline, piece);
}

/* PIECE: a part of an overlong line that goes on (no newline here, in the log or for the
 * caller); otherwise NEWLINE says whether the log gets one (the caller's line ends). */
static void deliver_one(struct sl_exec_output *o, enum sl_exec_stream stream, char *line,
                        size_t len, bool newline, bool piece)
{
    log_append(o, line, len);
    if (newline)
        log_append(o, "\n", 1);
    o->midline = !newline;
    o->bytes += len + (newline ? 1 : 0);
    o->lines++;
    if (o->fn) {
        char saved = line[len];
        line[len] = '\0';
        o->fn(o->ctx, stream, line, len, !piece);
        line[len] = saved;
    }
}

void sl_exec_output_feed(struct sl_exec_output *o, const char *data, size_t n)
{
    sl_mask_stream_feed(&o->mask, data, n);
}

/* Cuts masked bytes into lines. */
static void feed_lines(void *ctx, const char *data, size_t n)
{
    struct sl_exec_output *o = ctx;

    while (n > 0) {
        const char *nl = memchr(data, '\n', n);
        size_t take = nl ? (size_t)(nl - data) : n;
        size_t room = SL_EXEC_LINE_MAX - o->len;

        if (take > room) {
            /* The line does not fit: fill the buffer and deliver it as a piece. A full
             * buffer waits for the next byte, so that a line of exactly
             * SL_EXEC_LINE_MAX bytes and its newline stay one line. */
            memcpy(o->line + o->len, data, room);
            o->len += room;
            deliver(o, SL_EXEC_STREAM_OUTPUT, o->line, o->len, false, true);
            o->len = 0;
            o->continued = true;
            data += room;
            n -= room;
            continue;
        }
        memcpy(o->line + o->len, data, take);
        o->len += take;
        if (!nl)
            return;
        deliver(o, SL_EXEC_STREAM_OUTPUT, o->line, o->len, true, false);
        o->len = 0;
        o->continued = false;
        data += take + 1;
        n -= take + 1;
    }
}

void sl_exec_output_end(struct sl_exec_output *o)
{
    sl_mask_stream_flush(&o->mask);
    if (o->len > 0)
        deliver(o, SL_EXEC_STREAM_OUTPUT, o->line, o->len, false, false);
    o->len = 0;
    o->continued = false;
}

void sl_exec_output_system(struct sl_exec_output *o, const char *fmt, ...)
{
    va_list ap;
    char buf[512];
    int n;

    /* A system line must not glue onto a partial line of the job's output, in the log
     * either. */
    sl_exec_output_end(o);
    if (o->midline) {
        log_append(o, "\n", 1);
        o->bytes++;
    }
    va_start(ap, fmt);
    n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    size_t len = SL_MIN((size_t)n, sizeof(buf) - 1);
    if (sl_mask_empty(o->mask.mask)) {
        deliver(o, SL_EXEC_STREAM_SYSTEM, buf, len, true, false);
        return;
    }
    char *masked = sl_mask_string(o->mask.mask, buf, len, &len);
    deliver(o, SL_EXEC_STREAM_SYSTEM, masked, len, true, false);
    free(masked);
}

int sl_exec_output_flush(struct sl_exec_output *o)
{
    size_t off = 0;

    if (o->log_errno)
        return -1;
    while (off < o->loglen) {
        ssize_t w = write(o->log_fd, o->logbuf + off, o->loglen - off);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            o->log_errno = errno;
            o->loglen = 0;
            return -1;
        }
        off += (size_t)w;
    }
    o->loglen = 0;
    return 0;
}
