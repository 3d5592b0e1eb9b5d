/* stream.c: GET /api/v1/jobs/{id}/log/stream, a job's log as Server-Sent Events while it
 * runs.
 *
 * A stream is a libmicrohttpd response whose content callback reads the log from the store.
 * When there is nothing new it suspends its connection (the pool thread goes on serving
 * others) and one "resumer" thread wakes every suspended stream each POLL_MS to look again;
 * a chunk stored in a job's log wakes that job's streams at once (sl_streams_log_grew), so
 * a line is streamed when it is stored, not up to POLL_MS later. So a stream costs no
 * thread, and a quiet one costs two small queries per poll.
 *
 * Events: `event: log` with `id:` the byte offset after it (what EventSource sends back as
 * Last-Event-ID on reconnection) and `data: {"offset":N,"text":"..."}` (JSON, because a
 * log holds carriage returns and arbitrary bytes that SSE lines cannot carry); then one
 * `event: end` with `data: {"status":"success","offset":N}` when the job is over, or
 * {"status":"server_stopping"} when the server shuts down. A comment line every
 * KEEPALIVE_MS keeps proxies from closing a quiet stream. */
#include "base/compat.h"
#include "base/alloc.h"
#include "base/log.h"
#include "base/time.h"
#include "server/internal.h"

#include <microhttpd.h>
#include <unistd.h>

#define POLL_MS 200
#define KEEPALIVE_MS 15000
#define READ_MAX (64 * 1024) /* log bytes per event */
#define STREAMS_MAX 256      /* open streams per server; over it: 503 */
#define STOP_WAIT_MS 1000    /* at shutdown, for streams to end */

struct stream {
    struct sl_server *s;
    struct MHD_Connection *conn;
    int64_t job_id;
    int64_t offset;      /* next log byte to send */
    struct sl_str buf;   /* SSE text not yet handed to libmicrohttpd */
    size_t pos;          /* of BUF already handed */
    bool job_over;       /* the job reached a final status: one last read, then the end */
    char status[32];     /* that status */
    bool done;           /* the end event is in BUF */
    int64_t last_send;   /* ms: for keepalives */
    struct stream *next; /* in the suspended list */
    bool suspended;
};

struct streams {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct stream *suspended;
    size_t open;
    atomic_bool stopping; /* written under MU, read by content callbacks without it */
    bool started;
    pthread_t resumer;
};

static void *resumer_main(void *arg)
{
    struct streams *ss = arg;
    pthread_mutex_lock(&ss->mu);
    while (!ss->stopping) {
        if (!ss->suspended) {
            pthread_cond_wait(&ss->cv, &ss->mu);
            continue;
        }
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts); /* ss->cv waits on CLOCK_MONOTONIC */
        ts.tv_nsec += POLL_MS * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&ss->cv, &ss->mu, &ts);
        for (struct stream *st = ss->suspended; st; st = st->next) {
            st->suspended = false;
            MHD_resume_connection(st->conn);
        }
        ss->suspended = NULL;
    }
    pthread_mutex_unlock(&ss->mu);
    return NULL;
}

void sl_streams_log_grew(struct sl_server *s, int64_t job_id)
{
    struct streams *ss = s->streams;
    if (!ss)
        return;
    pthread_mutex_lock(&ss->mu);
    for (struct stream **pp = &ss->suspended; *pp;) {
        struct stream *st = *pp;
        if (st->job_id != job_id) {
            pp = &st->next;
            continue;
        }
        *pp = st->next;
        st->suspended = false;
        MHD_resume_connection(st->conn);
    }
    pthread_mutex_unlock(&ss->mu);
}

void sl_streams_init(struct sl_server *s)
{
    if (s->streams)
        return;
    struct streams *ss = sl_xcalloc(1, sizeof(*ss));
    pthread_mutex_init(&ss->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&ss->cv, &ca);
    pthread_condattr_destroy(&ca);
    s->streams = ss;
}

void sl_streams_stop(struct sl_server *s)
{
    struct streams *ss = s->streams;
    if (!ss)
        return;
    pthread_mutex_lock(&ss->mu);
    ss->stopping = true;
    for (struct stream *st = ss->suspended; st; st = st->next) {
        st->suspended = false;
        MHD_resume_connection(st->conn);
    }
    ss->suspended = NULL;
    pthread_cond_broadcast(&ss->cv);
    pthread_mutex_unlock(&ss->mu);
    if (ss->started)
        pthread_join(ss->resumer, NULL);
    ss->started = false;
    /* Give the resumed streams a moment to send their end event and close the body, so
     * clients see a clean end rather than a cut connection. */
    for (int i = 0; i < STOP_WAIT_MS / 10; i++) {
        pthread_mutex_lock(&ss->mu);
        size_t open = ss->open;
        pthread_mutex_unlock(&ss->mu);
        if (!open)
            break;
        usleep(10 * 1000);
    }
}

void sl_streams_free(struct sl_server *s)
{
    struct streams *ss = s->streams;
    if (!ss)
        return;
    sl_streams_stop(s);
    pthread_mutex_destroy(&ss->mu);
    pthread_cond_destroy(&ss->cv);
    free(ss);
    s->streams = NULL;
}

/* Length of the UTF-8 sequence starting at P (at most N bytes available): > 0 for a whole
 * valid one, 0 when it is cut by the end of the buffer, -1 when it is invalid. */
static int utf8_seq(const unsigned char *p, size_t n)
{
    unsigned c = p[0];
    int need;
    unsigned min;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        need = 2, min = 0x80;
    else if (c >= 0xe0 && c <= 0xef)
        need = 3, min = 0x800;
    else if (c >= 0xf0 && c <= 0xf4)
        need = 4, min = 0x10000;
    else
        return -1;
    unsigned v = c & (0x3f >> (need - 1));
    for (int i = 1; i < need; i++) {
        if ((size_t)i >= n)
            return 0;
        if ((p[i] & 0xc0) != 0x80)
            return -1;
        v = (v << 6) | (p[i] & 0x3f);
    }
    if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
        return -1;
    return need;
}

/* Copies RAW into OUT as valid UTF-8 (invalid bytes become U+FFFD) and returns how many
 * bytes of RAW it consumed: a sequence cut by the end is left for the next read unless
 * FINAL (nothing more will come). */
static size_t utf8_clean(const char *raw, size_t len, bool final, struct sl_str *out)
{
    const unsigned char *p = (const unsigned char *)raw;
    size_t i = 0;
    while (i < len) {
        int n = utf8_seq(p + i, len - i);
        if (n == 0 && !final)
            break;
        if (n <= 0) {
            sl_str_adds(out, "\xef\xbf\xbd");
            i++;
            continue;
        }
        sl_str_add(out, p + i, (size_t)n);
        i += (size_t)n;
    }
    return i;
}

static void event_end(struct stream *st, const char *status)
{
    json_t *o = json_pack("{s:s,s:I}", "status", status, "offset", (json_int_t)st->offset);
    char *d = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    sl_str_addf(&st->buf, "event: end\ndata: %s\n\n", d);
    free(d);
    json_decref(o);
    st->done = true;
}

/* Puts what there is to send into ST->buf: new log bytes, the end, or nothing. */
static void fill(struct stream *st)
{
    struct sl_str raw = SL_STR_INIT, clean = SL_STR_INIT;
    struct sl_error err = SL_ERROR_INIT;
    int64_t next = 0;
    for (int round = 0; round < 2; round++) {
        sl_str_reset(&raw);
        if (sl_store_log_read(st->s->st, st->job_id, st->offset, READ_MAX, &raw, &next, &err) < 0) {
            atomic_fetch_add(&st->s->metrics.store_errors, 1);
            sl_log(SL_LOG_ERROR, "log stream: cannot read the log", "error", sl_error_format(&err),
                   NULL);
            event_end(st, "error");
            goto out;
        }
        if (raw.len) {
            sl_str_reset(&clean);
            size_t used = utf8_clean(raw.buf, raw.len, st->job_over, &clean);
            if (used) {
                int64_t from = st->offset;
                st->offset += (int64_t)used;
                json_t *o = json_pack("{s:I,s:s%}", "offset", (json_int_t)from, "text",
                                      clean.buf ? clean.buf : "", clean.len);
                char *d = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
                sl_str_addf(&st->buf, "id: %lld\nevent: log\ndata: %s\n\n", (long long)st->offset,
                            d);
                free(d);
                json_decref(o);
                goto out;
            }
        }
        if (st->job_over) {
            event_end(st, st->status);
            goto out;
        }
        /* Nothing new: if the job is over, read once more (its last lines may have been
         * appended between the read above and its end), then end. */
        struct sl_store_job j = {0};
        int rc = sl_store_job_get(st->s->st, st->job_id, &j, &err);
        if (rc == 0 && sl_sched_status_name_ended(j.status)) {
            st->job_over = true;
            snprintf(st->status, sizeof(st->status), "%s", j.status);
        }
        sl_store_job_release(&j);
        if (rc < 0) {
            event_end(st, rc == SL_ENOENT ? "deleted" : "error");
            goto out;
        }
        if (!st->job_over)
            goto out;
    }
out:
    sl_error_release(&err);
    sl_str_release(&raw);
    sl_str_release(&clean);
}

static ssize_t reader(void *cls, uint64_t pos, char *out, size_t max)
{
    (void)pos;
    struct stream *st = cls;
    struct streams *ss = st->s->streams;
    for (int round = 0; round < 3; round++) {
        if (st->pos < st->buf.len) {
            size_t n = st->buf.len - st->pos;
            if (n > max)
                n = max;
            memcpy(out, st->buf.buf + st->pos, n);
            st->pos += n;
            st->last_send = sl_time_now_ms();
            return (ssize_t)n;
        }
        sl_str_reset(&st->buf);
        st->pos = 0;
        if (st->done)
            return MHD_CONTENT_READER_END_OF_STREAM;
        if (atomic_load(&st->s->stopping) || atomic_load(&ss->stopping)) {
            event_end(st, "server_stopping");
            continue;
        }
        fill(st);
        if (st->buf.len)
            continue;
        if (sl_time_now_ms() - st->last_send >= KEEPALIVE_MS) {
            sl_str_adds(&st->buf, ": keepalive\n\n");
            continue;
        }
        pthread_mutex_lock(&ss->mu);
        if (ss->stopping) {
            pthread_mutex_unlock(&ss->mu);
            continue;
        }
        MHD_suspend_connection(st->conn);
        st->suspended = true;
        st->next = ss->suspended;
        ss->suspended = st;
        if (!ss->started && pthread_create(&ss->resumer, NULL, resumer_main, ss) == 0)
            ss->started = true;
        pthread_cond_broadcast(&ss->cv);
        pthread_mutex_unlock(&ss->mu);
        return 0;
    }
    return 0;
}

static void stream_free(void *cls)
{
    struct stream *st = cls;
    struct streams *ss = st->s->streams;
    pthread_mutex_lock(&ss->mu);
    for (struct stream **p = &ss->suspended; *p; p = &(*p)->next)
        if (*p == st) {
            *p = st->next;
            break;
        }
    ss->open--;
    pthread_mutex_unlock(&ss->mu);
    sl_str_release(&st->buf);
    free(st);
}

void sl_h_job_log_stream(struct req *r)
{
    struct streams *ss = r->s->streams;
    const char *off = sl_query_arg(r, "offset");
    if (!off)
        off = sl_header_arg(r, "Last-Event-ID");
    int64_t offset = 0;
    if (off) {
        char *end;
        offset = strtoll(off, &end, 10);
        if (*end || offset < 0) {
            sl_reply_error(r, 400, "invalid", "offset must be a byte offset");
            return;
        }
    }
    struct sl_store_job j = {0};
    struct sl_error err = SL_ERROR_INIT;
    int rc = sl_store_job_get(r->s->st, r->id, &j, &err);
    sl_store_job_release(&j);
    if (rc < 0) {
        sl_reply_sl_error(r, rc, &err);
        sl_error_release(&err);
        return;
    }
    pthread_mutex_lock(&ss->mu);
    bool full = ss->open >= STREAMS_MAX, stopping = ss->stopping;
    if (!full && !stopping)
        ss->open++;
    pthread_mutex_unlock(&ss->mu);
    if (full || stopping) {
        sl_reply_error(r, 503, "unavailable", "%s",
                       stopping ? "the server is stopping" : "too many open log streams");
        return;
    }
    struct stream *st = sl_xcalloc(1, sizeof(*st));
    st->s = r->s;
    st->conn = r->conn;
    st->job_id = r->id;
    st->offset = offset;
    st->last_send = sl_time_now_ms();
    sl_str_init(&st->buf);
    /* reconnect after 2 s if the connection drops */
    sl_str_adds(&st->buf, "retry: 2000\n\n");
    r->response =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 * 1024, reader, st, stream_free);
    if (!r->response) {
        stream_free(st);
        sl_reply_error(r, 500, "internal", "cannot create a stream");
        return;
    }
    MHD_add_response_header(r->response, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
    MHD_add_response_header(r->response, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    MHD_add_response_header(r->response, "X-Accel-Buffering", "no");
    r->status = 200;
}
