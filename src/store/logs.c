/* logs.c: job logs as append-only chunks, read back by byte offset. */
#include "base/compat.h"
#include "base/alloc.h"
#include "store/backend.h"

/* Chunks fetched per query while reading; a log written line by line has many small ones. */
#define READ_BATCH 256

int sl_store_log_append(struct sl_store *st, int64_t job_id, const void *data, size_t len,
                        int64_t now, int64_t *end_out, struct sl_error *err)
{
    struct db_conn dc;
    struct db_rows rows = {0};
    int64_t end = 0;
    int rc;

    if (len == 0)
        return sl_error_set(err, SL_EINVAL, "an empty log chunk");
    if (len > SL_STORE_LOG_CHUNK_MAX)
        return sl_error_set(err, SL_ELIMIT, "a log chunk of %zu bytes (max %d)", len,
                            SL_STORE_LOG_CHUNK_MAX);
    if ((rc = db_acquire(st, true, &dc, err)) < 0)
        return rc;
    if ((rc = db_begin(&dc, err)) < 0)
        goto release;
    struct db_value idv = db_int(job_id);
    rc = db_exec(&dc,
                 "SELECT COALESCE(MAX(seq), 0), COALESCE(MAX(end_offset), 0) FROM "
                 "job_log_chunks WHERE job_id = ?",
                 &idv, 1, &rows, NULL, err);
    if (rc < 0)
        goto end;
    int64_t seq = db_get_int(&rows, 0, 0), start = db_get_int(&rows, 0, 1);
    if (start + (int64_t)len > db_options(st)->max_log_bytes) {
        rc = sl_error_set(err, SL_ELIMIT, "the log of job %" PRId64 " exceeds %" PRId64 " bytes",
                          job_id, db_options(st)->max_log_bytes);
        goto end;
    }
    end = start + (int64_t)len;
    struct db_value v[] = {db_int(job_id), db_int(seq + 1),    db_int(start),
                           db_int(end),    db_blob(data, len), db_int(now)};
    rc = db_exec(&dc,
                 "INSERT INTO job_log_chunks (job_id, seq, start_offset, end_offset, data, "
                 "created_at) VALUES (?, ?, ?, ?, ?, ?)",
                 v, SL_ARRAY_LEN(v), NULL, NULL, err);
    if (rc == SL_ENOENT)
        rc = sl_error_set(err, SL_ENOENT, "job %" PRId64 " does not exist", job_id);
    else if (rc == SL_EEXISTS) /* two writers raced on one job's log (PostgreSQL) */
        rc = sl_error_set(err, SL_EBUSY, "concurrent append to the log of job %" PRId64, job_id);
end:
    rc = db_end(&dc, rc, err);
release:
    db_release(&dc);
    db_rows_release(&rows);
    if (rc == 0 && end_out)
        *end_out = end;
    return rc;
}

int sl_store_log_read(struct sl_store *st, int64_t job_id, int64_t offset, size_t max,
                      struct sl_str *out, int64_t *next_out, struct sl_error *err)
{
    struct db_conn dc;
    struct db_rows rows = {0};
    int64_t pos = offset < 0 ? 0 : offset;
    size_t want = SL_MIN(max, (size_t)SL_STORE_LOG_READ_MAX), got = 0;
    int rc;

    if ((rc = db_acquire(st, false, &dc, err)) < 0)
        return rc;
    /* one snapshot, so chunks appended meanwhile cannot leave a gap */
    if ((rc = db_begin(&dc, err)) < 0)
        goto release;
    while (got < want) {
        struct db_value v[] = {db_int(job_id), db_int(pos), db_int(READ_BATCH)};
        db_rows_release(&rows);
        rc = db_exec(&dc,
                     "SELECT start_offset, data FROM job_log_chunks WHERE job_id = ? AND "
                     "end_offset > ? ORDER BY end_offset LIMIT ?",
                     v, SL_ARRAY_LEN(v), &rows, NULL, err);
        if (rc < 0 || rows.nrows == 0)
            break;
        for (size_t i = 0; i < rows.nrows && got < want; i++) {
            int64_t start = db_get_int(&rows, i, 0);
            const struct db_cell *c = db_cell(&rows, i, 1);
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
    rc = db_end(&dc, rc, err);
release:
    db_release(&dc);
    db_rows_release(&rows);
    if (rc == 0 && next_out)
        *next_out = pos;
    return rc;
}

int sl_store_log_size(struct sl_store *st, int64_t job_id, int64_t *out, struct sl_error *err)
{
    struct db_rows rows = {0};
    struct db_value v = db_int(job_id);
    int rc = db_run(st, false,
                    "SELECT COALESCE(MAX(end_offset), 0) FROM job_log_chunks WHERE job_id = ?", &v,
                    1, &rows, NULL, err);
    if (rc == 0)
        *out = db_get_int(&rows, 0, 0);
    db_rows_release(&rows);
    return rc;
}

int64_t sl_store_log_max(const struct sl_store *st)
{
    return db_options(st)->max_log_bytes;
}
