/* output.h: cut a job's output stream into lines for the callback and the log file.
 *
 * Internal to the exec room. Memory is fixed at init (one line buffer of
 * SL_EXEC_LINE_MAX + 1 bytes and one log buffer), whatever the size of the log: an
 * overlong line is delivered in pieces, and the log is written at each sl_exec_output_flush.
 *
 * Echo lines: the script generator prefixes each `$ command` line with a marker that is
 * random per job. A line that starts with the marker is delivered on SL_EXEC_STREAM_ECHO
 * with the marker removed, so the caller can colour it; the job cannot forge one without
 * guessing the marker. */
#ifndef SL_EXEC_OUTPUT_H
#define SL_EXEC_OUTPUT_H

#include "exec/exec.h"
#include "exec/mask.h"

/* "@@sluice-" + 32 hex digits + "@@". Printable on purpose: bash mangles some control
 * characters (\001 is its internal quoting escape) in script text. */
#define SL_EXEC_MARKER_LEN 43

struct sl_exec_output {
    sl_exec_line_fn fn;
    void *ctx;
    int log_fd; /* -1: no log file; borrowed */
    int log_errno;
    char marker[SL_EXEC_MARKER_LEN + 1];
    char *line; /* SL_EXEC_LINE_MAX + 1 */
    size_t len;
    bool continued; /* the pending bytes continue a piece already delivered */
    bool midline;   /* the log does not end with a newline */
    char *logbuf;
    size_t loglen;
    uint64_t bytes;
    uint64_t lines;
    /* every byte passes through the masker before it is cut into lines, so a secret is
     * masked wherever the reads and the line cap cut it */
    struct sl_mask_stream mask;
};

/* Sets up O with a fresh random marker. LOG_FD (borrowed, may be -1) receives the log. */
void sl_exec_output_init(struct sl_exec_output *o, sl_exec_line_fn fn, void *ctx, int log_fd);
void sl_exec_output_release(struct sl_exec_output *o);
/* Masks the secrets of MASK (borrowed, may be NULL) in everything O delivers and logs from
 * now on: output and executor messages. */
void sl_exec_output_set_mask(struct sl_exec_output *o, const struct sl_mask *mask);
/* Feeds N bytes of the job's output. */
void sl_exec_output_feed(struct sl_exec_output *o, const char *data, size_t n);
/* Ends the stream: delivers a last line without newline, if any. */
void sl_exec_output_end(struct sl_exec_output *o);
/* Delivers a message of the executor as one line on SL_EXEC_STREAM_SYSTEM, after ending
 * a pending partial line (which then gets a newline in the log). */
void sl_exec_output_system(struct sl_exec_output *o, const char *fmt, ...) SL_PRINTF(2, 3);
/* Writes what is buffered to the log file. Returns 0, or -1 once a write has failed
 * (o->log_errno says why; later output is no longer written). */
int sl_exec_output_flush(struct sl_exec_output *o);

#endif
