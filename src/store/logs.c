/* logs.c: job logs as append-only chunks, read back by byte offset. */
#include "base/compat.h"
#include "base/alloc.h"
#include "store/backend.h"

/* Chunks fetched per query while reading; a log written line by line has many small ones. */
#define READ_BATCH 256

/* Newlines in LEN bytes: what a chunk adds to the log's line index. */
static int64_t count_newlines(const char *p, size_t len)
{
    int64_t n = 0;
    for (const char *e = p + len; (p = memchr(p, '\n', (size_t)(e - p))) != NULL; p++)
        n++;
    return n;
}

/* Inserts one chunk after the log's current END; END_LINE is the newlines up to the chunk's
 * end (< 0 when the log predates the line index, which then stays unknown for it). */
static int insert_chunk(struct db_conn *dc, int64_t job_id, int64_t seq, int64_t start,
                        int64_t end_line, const char *data, size_t len, int64_t now,
                        struct sl_error *err)
{
    struct db_value v[] = {db_int(job_id),
                           db_int(seq),
                           db_int(start),
                           db_int(start + (int64_t)len),
                           db_blob(data, len),
                           db_int(now),
                           end_line < 0 ? db_null() : db_int(end_line)};
    return sl_db_exec(dc,
                      "INSERT INTO job_log_chunks (job_id, seq, start_offset, end_offset, data, "
                      "created_at, end_line) VALUES (?, ?, ?, ?, ?, ?, ?)",
                      v, SL_ARRAY_LEN(v), NULL, NULL, err);
}

int sl_store_log_append(struct sl_store *st, int64_t job_id, const void *data, size_t len,
                        int64_t now, int64_t *end_out, struct sl_error *err)
{
    return sl_store_log_append_lines(st, job_id, data, len, now, end_out, NULL, err);
}

/* A chunk's secret findings, recorded with it (sl_store_log_append_findings). */
struct chunk_findings {
    int64_t expect_start;
    struct sl_store_secret_finding *fs;
    size_t n;
    bool *added;
    size_t *failed;
};

/* Newlines in DATA[0..LEN), as count_newlines, while giving each of FB's findings in the chunk
 * (place 0 or more) its line from the chunk's first (1: the line of byte 0): the count the line
 * index needs anyway, taken in pieces at the findings' places, so that the scan need not walk
 * the chunk again to number them. */
static int64_t count_newlines_lines(const char *data, size_t len, const struct chunk_findings *fb)
{
    size_t order[256], n = 0;
    for (size_t i = 0; i < fb->n; i++) {
        int64_t at = fb->fs[i].place;
        if (at < 0 || at > (int64_t)len)
            continue;                   /* in the bytes before the chunk: its line was given */
        if (n == SL_ARRAY_LEN(order)) { /* more than a scan keeps: the rest counted apart */
            fb->fs[i].line = 1 + count_newlines(data, (size_t)at);
            continue;
        }
        size_t k = n++;
        for (; k > 0 && fb->fs[order[k - 1]].place > at; k--) /* by place */
            order[k] = order[k - 1];
        order[k] = i;
    }
    int64_t lines = 0;
    size_t pos = 0;
    for (size_t k = 0; k < n; k++) {
        size_t at = (size_t)fb->fs[order[k]].place;
        lines += count_newlines(data + pos, at - pos);
        pos = at;
        fb->fs[order[k]].line = lines + 1;
    }
    return lines + count_newlines(data + pos, len - pos);
}

/* FB's findings, made the log's (the chunk starts at START on the line after LINES_BEFORE
 * newlines) in place, each in a savepoint of DC's transaction: one the database refuses on its
 * own (PostgreSQL: an excerpt that is no UTF-8) is left out, the chunk and the others stay. */
static int insert_findings(struct db_conn *dc, int64_t job_id, int64_t start, int64_t lines_before,
                           const struct chunk_findings *fb, int64_t now, struct sl_error *err)
{
    for (size_t i = 0; i < fb->n; i++) {
        struct sl_store_secret_finding *row = &fb->fs[i];
        row->job_id = job_id;
        row->place += start;
        row->line = lines_before < 0 ? 0 : lines_before + row->line;
        bool added = false;
        int rc = sl_db_exec(dc, "SAVEPOINT sl_finding", NULL, 0, NULL, NULL, err);
        if (rc < 0)
            return rc;
        struct sl_error ferr = SL_ERROR_INIT;
        if (sl_db_secret_finding_add(dc, row, now, &added, &ferr) < 0) {
            (*fb->failed)++;
            rc = sl_db_exec(dc, "ROLLBACK TO SAVEPOINT sl_finding", NULL, 0, NULL, NULL, err);
        }
        sl_error_release(&ferr);
        if (rc == 0)
            rc = sl_db_exec(dc, "RELEASE SAVEPOINT sl_finding", NULL, 0, NULL, NULL, err);
        if (rc < 0)
            return rc;
        if (fb->added)
            fb->added[i] = added;
    }
    return 0;
}

static int append(struct sl_store *st, int64_t job_id, const void *data, size_t len, int64_t now,
                  const struct chunk_findings *fb, int64_t *end_out, int64_t *lines_out,
                  struct sl_error *err)
{
    struct db_conn dc;
    struct db_rows rows = {0};
    int64_t end = 0, max = sl_db_options(st)->max_log_bytes;
    bool capped = false;
    int rc;

    if (len == 0)
        return sl_error_set(err, SL_EINVAL, "an empty log chunk");
    if (len > SL_STORE_LOG_CHUNK_MAX)
        return sl_error_set(err, SL_ELIMIT, "a log chunk of %zu bytes (max %d)", len,
                            SL_STORE_LOG_CHUNK_MAX);
    if ((rc = sl_db_acquire(st, true, &dc, err)) < 0)
        return rc;
    if ((rc = sl_db_begin(&dc, err)) < 0)
        goto release;
    struct db_value idv = db_int(job_id);
    rc = sl_db_exec(&dc,
                    "SELECT seq, end_offset, end_line FROM job_log_chunks WHERE job_id = ? "
                    "ORDER BY seq DESC LIMIT 1",
                    &idv, 1, &rows, NULL, err);
    if (rc < 0)
        goto end;
    bool first = rows.nrows == 0;
    int64_t seq = first ? 0 : sl_db_get_int(&rows, 0, 0);
    int64_t start = first ? 0 : sl_db_get_int(&rows, 0, 1);
    int64_t lines = first ? 0 : sl_db_is_null(&rows, 0, 2) ? -1 : sl_db_get_int(&rows, 0, 2);
    int64_t lines_before = lines;
    if (fb && (start != fb->expect_start || start + (int64_t)len > max)) {
        /* the findings were made for another log: nothing is stored, the caller scans again */
        rc = sl_error_set(err, SL_EBUSY,
                          start != fb->expect_start
                              ? "the log of job %" PRId64 " is not as long as its findings say"
                              : "the log of job %" PRId64 " cannot take the chunk whole",
                          job_id);
        goto end;
    }
    if (start > max) { /* only the cap's note goes past the cap: the log is closed */
        rc = sl_error_set(err, SL_ELIMIT,
                          "the log of job %" PRId64 " reached its cap of %" PRId64 " bytes", job_id,
                          max);
        goto end;
    }
    size_t take = start + (int64_t)len > max ? (size_t)(max - start) : len;
    if (take > 0) {
        /* counted once: a chunk is up to a MiB, and this pass is most of an append's CPU */
        int64_t added =
            fb && fb->n ? count_newlines_lines(data, take, fb) : count_newlines(data, take);
        lines = lines < 0 ? -1 : lines + added;
        rc = insert_chunk(&dc, job_id, ++seq, start, lines, data, take, now, err);
        if (rc == 0 && fb)
            rc = insert_findings(&dc, job_id, start, lines_before, fb, now, err);
        if (rc < 0)
            goto end;
        start += (int64_t)take;
    }
    end = start;
    if (lines_out)
        *lines_out = lines;
    if (take < len) {
        /* the last line says why the log ends here; the log is then longer than the cap,
         * which is how later appends (and the runner API) know it is closed */
        char note[200];
        bool nl = take == 0 ? start > 0 : ((const char *)data)[take - 1] != '\n';
        int n = snprintf(note, sizeof(note),
                         "%s\033[31;1m[sluice] this log reached its cap of %" PRId64
                         " bytes (sluice serve --log-cap): the rest of the job's output "
                         "was not stored\033[0m\n",
                         nl ? "\n" : "", max);
        rc = insert_chunk(&dc, job_id, ++seq, start,
                          lines < 0 ? -1 : lines + count_newlines(note, (size_t)n), note, (size_t)n,
                          now, err);
        if (rc == 0) {
            end = start + n;
            capped = true;
            if (lines_out)
                *lines_out = lines < 0 ? -1 : lines + count_newlines(note, (size_t)n);
        }
    }
    if (rc == SL_ENOENT)
        rc = sl_error_set(err, SL_ENOENT, "job %" PRId64 " does not exist", job_id);
    else if (rc == SL_EEXISTS) /* two writers raced on one job's log (PostgreSQL) */
        rc = sl_error_set(err, SL_EBUSY, "concurrent append to the log of job %" PRId64, job_id);
end:
    rc = sl_db_end(&dc, rc, err);
    /* what fitted and the note are stored, and the caller learns the rest was not */
    if (rc == 0 && capped)
        rc = sl_error_set(err, SL_ELIMIT,
                          "the log of job %" PRId64 " reached its cap of %" PRId64 " bytes", job_id,
                          max);
release:
    sl_db_release(&dc);
    sl_db_rows_release(&rows);
    if ((rc == 0 || capped) && end_out)
        *end_out = end;
    return rc;
}

int sl_store_log_append_lines(struct sl_store *st, int64_t job_id, const void *data, size_t len,
                              int64_t now, int64_t *end_out, int64_t *lines_out,
                              struct sl_error *err)
{
    return append(st, job_id, data, len, now, NULL, end_out, lines_out, err);
}

int sl_store_log_append_findings(struct sl_store *st, int64_t job_id, const void *data, size_t len,
                                 int64_t now, int64_t expect_start,
                                 struct sl_store_secret_finding *fs, size_t n, bool *added,
                                 size_t *failed, int64_t *end_out, int64_t *lines_out,
                                 struct sl_error *err)
{
    size_t failed_here = 0;
    for (size_t i = 0; i < n; i++) {
        int rc;
        if ((rc = sl_db_check_text(fs[i].rule, true, "rule", err)) < 0 ||
            (rc = sl_db_check_text(fs[i].excerpt, true, "excerpt", err)) < 0)
            return rc;
    }
    struct chunk_findings fb = {.expect_start = expect_start,
                                .fs = fs,
                                .n = n,
                                .added = added,
                                .failed = failed ? failed : &failed_here};
    *fb.failed = 0;
    return append(st, job_id, data, len, now, &fb, end_out, lines_out, err);
}

int sl_store_log_read(struct sl_store *st, int64_t job_id, int64_t offset, size_t max,
                      struct sl_str *out, int64_t *next_out, struct sl_error *err)
{
    struct db_conn dc;
    struct db_rows rows = {0};
    int64_t pos = offset < 0 ? 0 : offset;
    size_t want = SL_MIN(max, (size_t)SL_STORE_LOG_READ_MAX), got = 0;
    int rc;

    if ((rc = sl_db_acquire(st, false, &dc, err)) < 0)
        return rc;
    /* one snapshot, so chunks appended meanwhile cannot leave a gap */
    if ((rc = sl_db_begin(&dc, err)) < 0)
        goto release;
    while (got < want) {
        struct db_value v[] = {db_int(job_id), db_int(pos), db_int(READ_BATCH)};
        sl_db_rows_release(&rows);
        rc = sl_db_exec(&dc,
                        "SELECT start_offset, data FROM job_log_chunks WHERE job_id = ? AND "
                        "end_offset > ? ORDER BY end_offset LIMIT ?",
                        v, SL_ARRAY_LEN(v), &rows, NULL, err);
        if (rc < 0 || rows.nrows == 0)
            break;
        for (size_t i = 0; i < rows.nrows && got < want; i++) {
            int64_t start = sl_db_get_int(&rows, i, 0);
            const struct sl_db_cell *c = sl_db_cell(&rows, i, 1);
            size_t skip = pos > start ? (size_t)(pos - start) : 0;
            if (skip >= c->len)
                continue;
            size_t take = SL_MIN(c->len - skip, want - got);
            sl_str_add(out, c->data + skip, take);
            got += take;
            pos += (int64_t)take;
        }
        if (rows.nrows < READ_BATCH)
            break;
    }
    rc = sl_db_end(&dc, rc, err);
release:
    sl_db_release(&dc);
    sl_db_rows_release(&rows);
    if (rc == 0 && next_out)
        *next_out = pos;
    return rc;
}

int sl_store_log_size(struct sl_store *st, int64_t job_id, int64_t *out, struct sl_error *err)
{
    struct db_rows rows = {0};
    struct db_value v = db_int(job_id);
    int rc = sl_db_run(st, false,
                       "SELECT COALESCE(MAX(end_offset), 0) FROM job_log_chunks WHERE job_id = ?",
                       &v, 1, &rows, NULL, err);
    if (rc == 0)
        *out = sl_db_get_int(&rows, 0, 0);
    sl_db_rows_release(&rows);
    return rc;
}

int64_t sl_store_log_max(const struct sl_store *st)
{
    return sl_db_options(st)->max_log_bytes;
}

/* The line index's fallback for a log stored before it existed: counts newlines from the
 * start. */
static int line_offset_by_scan(struct sl_store *st, int64_t job_id, int64_t skip, int64_t *out,
                               struct sl_error *err)
{
    struct sl_str buf = SL_STR_INIT;
    int64_t pos = 0, next = 0;
    int rc = 0;
    while (skip > 0) {
        sl_str_reset(&buf);
        if ((rc = sl_store_log_read(st, job_id, pos, SL_STORE_LOG_READ_MAX, &buf, &next, err)) < 0)
            break;
        if (buf.len == 0)
            break;
        const char *p = buf.buf, *e = buf.buf + buf.len;
        while (skip > 0 && (p = memchr(p, '\n', (size_t)(e - p))) != NULL) {
            p++;
            skip--;
        }
        pos = skip == 0 ? pos + (p - buf.buf) : next;
    }
    sl_str_release(&buf);
    if (rc == 0)
        *out = pos;
    return rc;
}

int sl_store_log_line_offset(struct sl_store *st, int64_t job_id, int64_t line, int64_t *out,
                             struct sl_error *err)
{
    struct db_rows rows = {0};
    int64_t skip = line > 1 ? line - 1 : 0; /* newlines before the line */
    struct db_value idv = db_int(job_id);
    int rc = sl_db_run(st, false,
                       "SELECT end_line, end_offset FROM job_log_chunks WHERE job_id = ? "
                       "ORDER BY seq DESC LIMIT 1",
                       &idv, 1, &rows, NULL, err);
    if (rc < 0 || skip == 0 || rows.nrows == 0) {
        if (rc == 0)
            *out = 0;
        goto out;
    }
    if (sl_db_is_null(&rows, 0, 0)) {
        rc = line_offset_by_scan(st, job_id, skip, out, err);
        goto out;
    }
    if (sl_db_get_int(&rows, 0, 0) < skip) { /* past the last line: the log's end */
        *out = sl_db_get_int(&rows, 0, 1);
        goto out;
    }
    /* the first chunk holding the SKIP-th newline: the line starts right after it */
    struct db_value v[] = {db_int(job_id), db_int(skip)};
    sl_db_rows_release(&rows);
    rc = sl_db_run(st, false,
                   "SELECT start_offset, end_line, data FROM job_log_chunks WHERE job_id = ? AND "
                   "end_line >= ? ORDER BY end_line, seq LIMIT 1",
                   v, SL_ARRAY_LEN(v), &rows, NULL, err);
    if (rc < 0)
        goto out;
    const struct sl_db_cell *c = sl_db_cell(&rows, 0, 2);
    int64_t need = skip - (sl_db_get_int(&rows, 0, 1) - count_newlines(c->data, c->len));
    const char *p = c->data, *e = c->data + c->len;
    while (need > 0 && (p = memchr(p, '\n', (size_t)(e - p))) != NULL) {
        p++;
        need--;
    }
    *out = sl_db_get_int(&rows, 0, 0) + (p ? p - c->data : (int64_t)c->len);
out:
    sl_db_rows_release(&rows);
    return rc;
}

int sl_store_log_lines(struct sl_store *st, int64_t job_id, int64_t *out, struct sl_error *err)
{
    struct db_rows rows = {0};
    struct db_value v = db_int(job_id);
    int rc = sl_db_run(st, false,
                       "SELECT end_line FROM job_log_chunks WHERE job_id = ? ORDER BY seq DESC "
                       "LIMIT 1",
                       &v, 1, &rows, NULL, err);
    if (rc == 0)
        *out = rows.nrows == 0 ? 0 : sl_db_is_null(&rows, 0, 0) ? -1 : sl_db_get_int(&rows, 0, 0);
    sl_db_rows_release(&rows);
    return rc;
}
