/* log_api.c: a job's log over HTTP by byte offset or by line range
 * (GET /api/v1/jobs/{id}/log?offset=N | ?lines=A-B), and searched on the server
 * (GET /api/v1/jobs/{id}/log/search?q=). A log may be 1 GiB: clients read the part they
 * show and never need the whole log to find a line or a match (the web UI's viewer). */
#include "base/compat.h"
#include "base/alloc.h"
#include "server/internal.h"

#include <ctype.h>

#define LINES_MAX 100000     /* lines per range answer (and SL_STORE_LOG_READ_MAX bytes) */
#define QUERY_MAX 256        /* bytes of a search */
#define MATCHES_MAX 10000    /* line numbers per search answer */
#define MATCHES_DEFAULT 1000 /* when ?limit= is absent */
#define LONG_LINE (1 << 20)  /* a line longer than this is searched in pieces */

static bool parse_count(const char *s, int64_t *out)
{
    char *end;
    if (!s || !isdigit((unsigned char)*s))
        return false;
    long long v = strtoll(s, &end, 10);
    if (*end || v < 1)
        return false;
    *out = v;
    return true;
}

/* "A-B" or "A-" (to the end): 1-based, inclusive. */
static bool parse_lines(const char *s, int64_t *a, int64_t *b)
{
    const char *dash = strchr(s, '-');
    char first[24];
    if (!dash || dash == s || (size_t)(dash - s) >= sizeof(first))
        return false;
    memcpy(first, s, (size_t)(dash - s));
    first[dash - s] = '\0';
    if (!parse_count(first, a))
        return false;
    if (!dash[1]) {
        *b = INT64_MAX;
        return true;
    }
    return parse_count(dash + 1, b) && *b >= *a;
}

/* Answers TEXT (a log read) with where it came from and where to go on. */
static void reply_log(struct req *r, const struct sl_str *text, int64_t next)
{
    sl_str_reset(&r->out);
    sl_str_add(&r->out, text->buf, text->len);
    r->status = 200;
    r->content_type = "text/plain; charset=utf-8";
    /* where to read from next, for polling clients */
    snprintf(r->next_offset, sizeof(r->next_offset), "%lld", (long long)next);
}

/* ?lines=A-B: the lines from A, as many as fit (LINES_MAX, one read). */
static int log_lines(struct req *r, int64_t a, int64_t b, struct sl_error *err)
{
    struct sl_str text = SL_STR_INIT;
    int64_t start = 0, next = 0, total = 0;
    int rc = sl_store_log_line_offset(r->s->st, r->id, a, &start, err);
    if (rc == 0)
        rc = sl_store_log_lines(r->s->st, r->id, &total, err);
    if (rc == 0)
        rc = sl_store_log_read(r->s->st, r->id, start, SL_STORE_LOG_READ_MAX, &text, &next, err);
    if (rc < 0)
        goto out;
    int64_t want = b - a + 1 < LINES_MAX ? b - a + 1 : LINES_MAX, got = 0;
    const char *p = text.buf, *e = text.buf + text.len;
    while (got < want && p < e) {
        const char *nl = memchr(p, '\n', (size_t)(e - p));
        if (!nl) {
            /* an unfinished last line is served when it is the log's end; in the middle of
             * the log it is one cut by the read's size, left for the next range */
            if (got > 0 && text.len == SL_STORE_LOG_READ_MAX)
                break;
            p = e;
            got++;
            break;
        }
        p = nl + 1;
        got++;
    }
    text.len = (size_t)(p - text.buf);
    next = start + (int64_t)text.len;
    reply_log(r, &text, next);
    sl_reply_header(r, "X-Log-First-Line", "%lld", (long long)a);
    sl_reply_header(r, "X-Log-Line-Count", "%lld", (long long)got);
    sl_reply_header(r, "X-Log-Offset", "%lld", (long long)start);
    sl_reply_header(r, "X-Log-Lines", "%lld", (long long)total);
out:
    sl_str_release(&text);
    return rc;
}

void sl_h_job_log(struct req *r)
{
    const char *off = sl_query_arg(r, "offset"), *lines = sl_query_arg(r, "lines");
    int64_t offset = 0, a = 0, b = 0;
    if (off && lines) {
        sl_reply_error(r, 400, "invalid", "give offset or lines, not both");
        return;
    }
    if (off) {
        char *end;
        offset = strtoll(off, &end, 10);
        if (!*off || *end || offset < 0) {
            sl_reply_error(r, 400, "invalid", "offset must be a byte offset");
            return;
        }
    }
    if (lines && !parse_lines(lines, &a, &b)) {
        sl_reply_error(r, 400, "invalid", "lines must be A-B or A- (1-based line numbers, A <= B)");
        return;
    }
    struct sl_store_job j = {0};
    struct sl_error err = SL_ERROR_INIT;
    struct sl_str text = SL_STR_INIT;
    int64_t next = 0;
    int rc = sl_store_job_get(r->s->st, r->id, &j, &err);
    if (rc == 0 && lines)
        rc = log_lines(r, a, b, &err);
    else if (rc == 0) {
        rc = sl_store_log_read(r->s->st, r->id, offset, SL_STORE_LOG_READ_MAX, &text, &next, &err);
        if (rc == 0)
            reply_log(r, &text, next);
    }
    if (rc < 0)
        sl_reply_sl_error(r, rc, &err);
    sl_str_release(&text);
    sl_store_job_release(&j);
    sl_error_release(&err);
}

/* ---- search ---- */

struct search {
    char q[QUERY_MAX + 1]; /* lowercased */
    size_t qlen;
    struct sl_str fold; /* a piece of the log as shown: escapes removed, lowercased */
    json_t *hits;
    size_t limit, nhits;
    int64_t line;  /* the line the scan is in */
    bool line_hit; /* that line matched already */
};

/* FOLD gets P as a terminal shows it, ignoring case: ANSI escape sequences (CSI, OSC, two-
 * byte ones) removed, ASCII lowercased; newlines are kept (an escape never swallows one),
 * so line numbers stay the log's. */
static void fold(struct sl_str *out, const char *p, size_t len)
{
    sl_str_reset(out);
    sl_str_grow(out, len + 1);
    char *o = out->buf;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c == 0x1b && i + 1 < len && p[i + 1] != '\n') {
            if (p[i + 1] == '[') { /* CSI: parameters up to a final byte */
                for (i += 2; i < len && p[i] != '\n' &&
                             ((unsigned char)p[i] < 0x40 || (unsigned char)p[i] > 0x7e);)
                    i++;
            } else if (p[i + 1] == ']') { /* OSC: up to BEL or ST */
                for (i += 2; i < len && p[i] != '\n' && p[i] != '\a' && p[i] != 0x1b;)
                    i++;
                if (i + 1 < len && p[i] == 0x1b && p[i + 1] == '\\')
                    i++;
            } else {
                i++;
            }
            if (i < len && p[i] == '\n')
                i--; /* the newline is the next byte kept */
            continue;
        }
        *o++ = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
    }
    out->len = (size_t)(o - out->buf);
    out->buf[out->len] = '\0';
}

/* Scans P (whole lines, or the start of one very long line when it holds no newline):
 * records each line that holds the query once, counting lines as it goes. False once the
 * limit is reached (s->line is then the line to go on from). */
static bool scan(struct search *s, const char *p, size_t len)
{
    fold(&s->fold, p, len);
    const char *t = s->fold.buf, *e = t + s->fold.len, *nl;
    while (t < e) {
        const char *m =
            s->qlen <= (size_t)(e - t) ? memmem(t, (size_t)(e - t), s->q, s->qlen) : NULL;
        const char *stop = m ? m : e;
        /* count the lines passed on the way to the match */
        while ((nl = memchr(t, '\n', (size_t)(stop - t))) != NULL) {
            s->line++;
            s->line_hit = false;
            t = nl + 1;
        }
        if (!m)
            break;
        if (!s->line_hit) {
            json_array_append_new(s->hits, json_integer(s->line));
            s->line_hit = true;
            if (++s->nhits >= s->limit) {
                s->line++; /* the next search starts after this line */
                return false;
            }
        }
        nl = memchr(m, '\n', (size_t)(e - m));
        t = nl ? nl : e;
    }
    return true;
}

/* Scans the log from byte OFFSET (where line s->line starts) until the limit or the end.
 * *next_line gets the line to go on from (0 = the end was reached). */
static int search_log(struct req *r, struct search *s, int64_t offset, int64_t *next_line,
                      struct sl_error *err)
{
    struct sl_str buf = SL_STR_INIT; /* an unfinished line, then the next read */
    int64_t pos = offset, next = 0;
    int rc = 0;
    *next_line = 0;
    for (;;) {
        size_t carry = buf.len;
        if ((rc = sl_store_log_read(r->s->st, r->id, pos, SL_STORE_LOG_READ_MAX, &buf, &next,
                                    err)) < 0)
            break;
        bool end = buf.len == carry;
        pos = next;
        const char *last = buf.len ? memrchr(buf.buf, '\n', buf.len) : NULL;
        size_t cut = end ? buf.len : last ? (size_t)(last - buf.buf) + 1 : 0;
        size_t keep = s->qlen * 8; /* escape sequences may sit between the letters */
        if (!end && !last && buf.len > LONG_LINE && buf.len > keep)
            cut = buf.len - keep; /* a very long line is searched as it comes */
        if (cut && !scan(s, buf.buf, cut)) {
            *next_line = s->line;
            break;
        }
        if (end)
            break;
        /* what was searched of a long line's start is left out; the tail kept may match
         * again, and line_hit keeps that from counting twice */
        memmove(buf.buf, buf.buf + cut, buf.len - cut);
        buf.len -= cut;
    }
    sl_str_release(&buf);
    return rc;
}

void sl_h_job_log_search(struct req *r)
{
    const char *q = sl_query_arg(r, "q"), *from = sl_query_arg(r, "from"),
               *lim = sl_query_arg(r, "limit");
    struct search s = {.limit = MATCHES_DEFAULT, .fold = SL_STR_INIT};
    int64_t from_line = 1, limit = 0, offset = 0, next_line = 0;
    if (!q || !*q || strlen(q) > QUERY_MAX) {
        sl_reply_error(r, 400, "invalid", "q must be 1 to %d bytes of text to find", QUERY_MAX);
        return;
    }
    if (from && !parse_count(from, &from_line)) {
        sl_reply_error(r, 400, "invalid", "from must be a line number (1-based)");
        return;
    }
    if (lim && (!parse_count(lim, &limit) || limit > MATCHES_MAX)) {
        sl_reply_error(r, 400, "invalid", "limit must be 1 to %d", MATCHES_MAX);
        return;
    }
    if (limit)
        s.limit = (size_t)limit;
    for (s.qlen = 0; q[s.qlen]; s.qlen++)
        s.q[s.qlen] = (char)tolower((unsigned char)q[s.qlen]);
    struct sl_store_job j = {0};
    struct sl_error err = SL_ERROR_INIT;
    s.hits = json_array();
    int rc = sl_store_job_get(r->s->st, r->id, &j, &err);
    if (rc == 0)
        rc = sl_store_log_line_offset(r->s->st, r->id, from_line, &offset, &err);
    s.line = from_line;
    if (rc == 0)
        rc = search_log(r, &s, offset, &next_line, &err);
    if (rc < 0) {
        sl_reply_sl_error(r, rc, &err);
        json_decref(s.hits);
    } else {
        /* next_from: where a client asks again for more matches (null: none are left) */
        sl_reply_json(r, 200,
                      json_pack("{s:s,s:o,s:b,s:o}", "query", q, "lines", s.hits, "truncated",
                                next_line != 0, "next_from",
                                next_line ? json_integer(next_line) : json_null()));
    }
    sl_str_release(&s.fold);
    sl_store_job_release(&j);
    sl_error_release(&err);
}
