/* mask.h: replace secrets by [MASKED] in a stream of bytes, however it is cut.
 *
 * A mask is a set of secrets, built once (sl_mask_add) and then read-only, so any number
 * of streams on any threads may share it. For each secret it also holds the forms a job
 * is likely to print by accident or on purpose:
 *  - the base64 encoding (standard and URL-safe alphabets) of the secret alone, and the
 *    part that stays the same when the secret sits at any offset inside longer base64
 *    text (`printf "x$S" | base64`);
 *  - its URL encoding (RFC 3986 unreserved characters kept, and also with '/' kept as
 *    Python quotes), %xx in either case;
 *  - its hex encoding, in either case (mixed case too).
 *
 * A stream (struct sl_mask_stream) holds back only the bytes that could still be the
 * start of a secret, so a secret split across writes, chunks or trace patches, or printed
 * one character at a time, is still replaced whole, and output never waits for more than
 * the longest form minus one byte. Matching is leftmost-longest and does not depend on
 * how the input is cut: feeding a text in any pieces gives the same output as
 * sl_mask_string on the whole text.
 *
 * Guarantee (what tests/fuzz/fuzz_mask.c checks): for a secret of at least
 * SL_MASK_MIN_LEN bytes without '[' or ']', no form of it appears in the output. Shorter
 * secrets are masked too, but [MASKED] next to their bytes can spell them again; the
 * variables layer refuses them for masked variables, as GitLab does. */
#ifndef SL_EXEC_MASK_H
#define SL_EXEC_MASK_H

#include "base/compat.h"
#include "base/error.h"

#define SL_MASK_TEXT "[MASKED]"
/* Shortest secret the guarantee above covers (GitLab's minimum for a masked variable). */
#define SL_MASK_MIN_LEN 8
/* Longest secret accepted: its hex form, the longest, is twice this. */
#define SL_MASK_SECRET_MAX 16384
/* Most secrets in one mask. */
#define SL_MASK_SECRETS_MAX 1024

struct sl_mask;

/* GitLab's Ci::Maskable: whether VALUE may be a masked variable's. At least
 * SL_MASK_MIN_LEN characters, all of A-Z a-z 0-9 _ + = / @ : . ~ - (so no form of it can
 * hide in a line break or a [MASKED]); for a RAW variable any printable non-space ones. */
bool sl_mask_value_ok(const char *value, bool raw);
/* An empty mask (masks nothing). Free with sl_mask_free (NULL-safe). */
struct sl_mask *sl_mask_new(void);
void sl_mask_free(struct sl_mask *m);
/* Adds SECRET (LEN bytes, copied) and its encoded forms. Adding a secret twice is a no-op.
 * Returns 0; SL_EINVAL for an empty secret; SL_ELIMIT past SL_MASK_SECRET_MAX bytes or
 * SL_MASK_SECRETS_MAX secrets (ERR says which).
 * Not safe while streams use M. */
int sl_mask_add(struct sl_mask *m, const char *secret, size_t len, struct sl_error *err);
/* True when M is NULL or holds no secret. */
bool sl_mask_empty(const struct sl_mask *m);
/* The whole of TEXT (LEN bytes) masked, NUL-terminated; *OUT_LEN (may be NULL) gets its
 * length. Caller frees. M may be NULL (a copy). */
char *sl_mask_string(const struct sl_mask *m, const char *text, size_t len, size_t *out_len);

/* Receives masked output; DATA is borrowed for the call. */
typedef void (*sl_mask_emit_fn)(void *ctx, const char *data, size_t len);

struct sl_mask_stream {
    const struct sl_mask *mask; /* borrowed; NULL: bytes pass through */
    sl_mask_emit_fn emit;
    void *ctx;
    char *buf; /* pending bytes (a possible start of a secret), then room for input */
    size_t len, cap;
};

/* Sets up S over MASK (borrowed, must outlive S; may be NULL). */
void sl_mask_stream_init(struct sl_mask_stream *s, const struct sl_mask *mask, sl_mask_emit_fn emit,
                         void *ctx);
void sl_mask_stream_release(struct sl_mask_stream *s);
/* Feeds N bytes; emits what can no longer be part of a secret. */
void sl_mask_stream_feed(struct sl_mask_stream *s, const char *data, size_t n);
/* Emits the held-back bytes: at the end of the stream they are not a secret. Call only
 * at the end (never on a pause: the rest of a secret may still come); feeding may go on
 * afterwards as a new stream. */
void sl_mask_stream_flush(struct sl_mask_stream *s);

#endif
