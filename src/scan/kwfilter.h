/* kwfilter.h: the SIMD pre-filter of scan.c's keyword pass. Given the keywords of 2 bytes
 * or more (lowercased), it says, for 32 places of a text at once, at which a keyword may
 * start (in any case): scan.c then looks those places up in its exact pair table and
 * verifies them. A place where a keyword starts is never left out (see kwfilter.c for why);
 * places where none starts may be in (the pair table and the verification drop them).
 *
 *   struct sl_kwfilter f;
 *   sl_kwfilter_build(&f, words, n, sl_kwfilter_default());
 *   for (size_t q = 0; (q = sl_kwfilter_next(&f, text, len, q, &mask)) < sl_kwfilter_end(len);
 *        q += SL_KWFILTER_BLOCK)
 *       ... each bit b of mask: a keyword may start at q + b
 *   ... places from sl_kwfilter_end(len) to the end: scalar
 *
 * Paths: SCALAR (no filter: scan.c's own pass of every other pair, what a CPU without
 * SSSE3 and a build for another CPU than x86-64 run), SSSE3 (16 places a PSHUFB) and AVX2
 * (32), chosen at run time by what the CPU has. SSE2 alone (baseline x86-64) has no byte
 * shuffle: comparing the text with the keywords' first and second bytes as sets (25
 * compares a 16 bytes for the default rules) was 3 times slower than SCALAR, so it is not
 * a path. No errors: a path the CPU cannot run is built as SCALAR; f->path says which. */
#ifndef SL_SCAN_KWFILTER_H
#define SL_SCAN_KWFILTER_H

#include "base/compat.h"

#define SL_KWFILTER_BLOCK 32 /* places per mask */
#define SL_KWFILTER_READ 34  /* bytes read for a block: a keyword's 3rd byte of the last */

enum sl_kwfilter_path { SL_KWFILTER_SCALAR, SL_KWFILTER_SSSE3, SL_KWFILTER_AVX2 };

struct sl_kwfilter {
    enum sl_kwfilter_path path;
    /* by offset 0-2, a byte's low and high nibble (of byte | 0x20) to the buckets
     * (one bit each; which keywords share one: kwfilter.c) of the keywords that have it there */
    uint8_t lo[3][16], hi[3][16];
    bool high; /* a keyword has a byte of 0x80 or more at offset 0-2 */
};

/* The best path this CPU has, or what SL_SCAN_KEYWORD_PASS (scalar, ssse3, avx2) asks for
 * when the CPU has it; read once per process. */
enum sl_kwfilter_path sl_kwfilter_default(void);
/* Whether this build and CPU can run PATH. */
bool sl_kwfilter_available(enum sl_kwfilter_path path);
/* Builds F for the N keywords WORDS (each lowercased, 2 bytes or more) on PATH. */
void sl_kwfilter_build(struct sl_kwfilter *f, const char *const *words, size_t n,
                       enum sl_kwfilter_path path);

/* Where the blocks end for a text of LEN bytes: places from there on are the caller's. */
static inline size_t sl_kwfilter_end(size_t len)
{
    return len < SL_KWFILTER_READ
               ? 0
               : (len - SL_KWFILTER_READ) / SL_KWFILTER_BLOCK * SL_KWFILTER_BLOCK +
                     SL_KWFILTER_BLOCK;
}

/* The first block at or after Q (a multiple of SL_KWFILTER_BLOCK) with a place where a
 * keyword may start, its places in *MASK (bit b: Q + b); sl_kwfilter_end(LEN) when there is
 * none. Not for a SCALAR F. */
size_t sl_kwfilter_next(const struct sl_kwfilter *f, const char *text, size_t len, size_t q,
                        uint32_t *mask);

/* A block with a place: its start, its places (bit b: AT + b). */
struct sl_kwfilter_block {
    size_t at;
    uint32_t mask;
};

/* The blocks with a place from Q (a multiple of SL_KWFILTER_BLOCK) on, at most CAP of them,
 * into OUT: how many; *NEXT is where to go on from (sl_kwfilter_end(LEN): all looked at).
 * The same blocks as sl_kwfilter_next's, found without a branch a block on AVX2. Not for a
 * SCALAR F. */
size_t sl_kwfilter_blocks(const struct sl_kwfilter *f, const char *text, size_t len, size_t q,
                          struct sl_kwfilter_block *out, size_t cap, size_t *next);

#endif
