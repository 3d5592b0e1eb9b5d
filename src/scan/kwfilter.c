/* kwfilter.c: see kwfilter.h.
 *
 * The filter (Teddy, from Hyperscan, as in Rust's aho-corasick): every keyword goes into
 * one of 8 buckets (a bit each; by its first byte, so that the keywords of a bucket share
 * it). For each offset o of 0-2 two tables of 16 bytes say which buckets have a keyword
 * whose byte o has that low nibble, and which that high nibble (a keyword of 2 bytes: every
 * nibble at offset 2). PSHUFB looks up 16 (32 with AVX2) of the text's bytes in a table at
 * once; a place is in when some bucket has a bit in all six lookups.
 *
 * Why no place where a keyword starts is left out. A keyword's bytes are lowercased, and a
 * text's byte T is that keyword's byte K when fold(T) == K (fold: A-Z to a-z, scan.c).
 * Then T | 0x20 == K | 0x20: T is K, or K's upper case, which differs from it in bit 0x20
 * only. The tables are filled from the keywords' bytes | 0x20 and looked up with what the
 * text's bytes | 0x20 would look up (0x20 is in the high nibble: its table has the keyword's
 * nibble both with and without that bit, and the low nibble is the same either way), so a
 * keyword K of bucket B at a place has B's bit in the low and the
 * high nibble's entry at each offset 0-2: the AND of the six keeps it, the place is in. The
 * converse does not hold ('_' | 0x20 is DEL's; a bucket's tables mix its keywords' nibbles
 * and bytes): those places are what scan.c's pair table and verification drop. */
#include "scan/kwfilter.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#define KWF_X86 1
#endif

void sl_kwfilter_build(struct sl_kwfilter *f, const char *const *words, size_t n,
                       enum sl_kwfilter_path path)
{
    memset(f, 0, sizeof(*f));
    if (!sl_kwfilter_available(path))
        path = SL_KWFILTER_SCALAR;
    /* a keyword's bucket: its first byte's, 1-8. A keyword of 2 bytes has any byte at
     * offset 2, so its bucket passes whatever follows its two: such keywords get the last
     * bucket to themselves (when there are other first bytes to share the other seven),
     * so that they do not make a 3-byte keyword's bucket pass after its two bytes alone. */
    uint8_t firsts[256] = {0}, nfirsts = 0, nshared = 7;
    bool any_short = false, any_long = false;
    for (size_t j = 0; j < n; j++)
        if (words[j][2])
            any_long = true;
        else
            any_short = true;
    if (!any_short || !any_long)
        nshared = 8;
    for (size_t j = 0; j < n; j++) {
        const uint8_t *w = (const uint8_t *)words[j];
        if (!w[2] && nshared == 7 && !firsts[w[0] | 0x20])
            firsts[w[0] | 0x20] = 8;
    }
    for (size_t j = 0; j < n; j++) {
        const uint8_t *w = (const uint8_t *)words[j];
        if (!firsts[w[0] | 0x20])
            firsts[w[0] | 0x20] = (uint8_t)(nfirsts++ % nshared + 1);
        uint8_t bit = (uint8_t)(1u << (firsts[w[0] | 0x20] - 1));
        for (int o = 0; o < 3; o++) {
            if (o == 2 && !w[2]) { /* any byte */
                for (int k = 0; k < 16; k++)
                    f->lo[o][k] |= bit, f->hi[o][k] |= bit;
                break;
            }
            uint8_t c = w[o] | 0x20;
            f->lo[o][c & 15] |= bit;
            /* looked up by the text's byte's own high nibble: T | 0x20 has the nibble
             * (T >> 4) | 2, so both nibbles that give C's are its */
            f->hi[o][c >> 4] |= bit;
            f->hi[o][(c >> 4) & ~2] |= bit;
            if (c >= 0x80)
                f->high = true;
        }
    }
    f->path = path;
}

#ifdef KWF_X86
/* The buckets that may have a keyword at each of the 16 places at TEXT: for each offset o of
 * 0-2, those whose keywords have byte o's low nibble AND those that have its high nibble.
 * HIGH (a keyword byte of 0x80 or more): the low nibble is masked; without, PSHUFB's zero for
 * a byte with its top bit set is right (no keyword has such a byte there). */
__attribute__((target("ssse3"), always_inline)) static inline __m128i
ssse3_block(const __m128i *lo, const __m128i *hi, const char *text, bool high)
{
    const __m128i nibble = _mm_set1_epi8(0x0f);
    __m128i in = _mm_set1_epi8(-1);
    for (int o = 0; o < 3; o++) {
        __m128i x = _mm_loadu_si128((const __m128i *)(text + o));
        __m128i l = _mm_shuffle_epi8(lo[o], high ? _mm_and_si128(x, nibble) : x);
        __m128i h = _mm_shuffle_epi8(hi[o], _mm_and_si128(_mm_srli_epi16(x, 4), nibble));
        in = _mm_and_si128(in, _mm_and_si128(l, h));
    }
    return in;
}

/* The same as avx2_next below, 16 places at a time, for a CPU with SSSE3 and no AVX2. */
__attribute__((target("ssse3"), always_inline)) static inline size_t
ssse3_run(const struct sl_kwfilter *f, const char *text, size_t end, size_t q, uint32_t *mask,
          bool high)
{
    __m128i lo[3], hi[3];
    for (int o = 0; o < 3; o++) {
        lo[o] = _mm_loadu_si128((const __m128i *)f->lo[o]);
        hi[o] = _mm_loadu_si128((const __m128i *)f->hi[o]);
    }
    const __m128i zero = _mm_setzero_si128();
    for (; q < end; q += SL_KWFILTER_BLOCK) {
        __m128i a = ssse3_block(lo, hi, text + q, high);
        __m128i b = ssse3_block(lo, hi, text + q + 16, high);
        uint32_t m = (uint32_t)(~_mm_movemask_epi8(_mm_cmpeq_epi8(a, zero)) & 0xffff) |
                     (uint32_t)(~_mm_movemask_epi8(_mm_cmpeq_epi8(b, zero)) & 0xffff) << 16;
        if (m) {
            *mask = m;
            return q;
        }
    }
    return end;
}

__attribute__((target("ssse3"))) static size_t
ssse3_next(const struct sl_kwfilter *f, const char *text, size_t end, size_t q, uint32_t *mask)
{
    return f->high ? ssse3_run(f, text, end, q, mask, true)
                   : ssse3_run(f, text, end, q, mask, false);
}

/* ssse3_block's 32 places at a time. */
__attribute__((target("avx2"), always_inline)) static inline __m256i
avx2_block(const __m256i *lo, const __m256i *hi, const char *text, bool high)
{
    const __m256i nibble = _mm256_set1_epi8(0x0f);
    __m256i in = _mm256_set1_epi8(-1);
    for (int o = 0; o < 3; o++) {
        __m256i x = _mm256_loadu_si256((const __m256i *)(text + o));
        __m256i l = _mm256_shuffle_epi8(lo[o], high ? _mm256_and_si256(x, nibble) : x);
        __m256i h = _mm256_shuffle_epi8(hi[o], _mm256_and_si256(_mm256_srli_epi16(x, 4), nibble));
        in = _mm256_and_si256(in, _mm256_and_si256(l, h));
    }
    return in;
}

/* 32 places a block, two blocks looked at before a branch (a block with a place is rare:
 * one in 30 of a build log's with the default rules). */
__attribute__((target("avx2"), always_inline)) static inline size_t
avx2_run(const struct sl_kwfilter *f, const char *text, size_t end, size_t q, uint32_t *mask,
         bool high)
{
    __m256i lo[3], hi[3];
    for (int o = 0; o < 3; o++) {
        lo[o] = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)f->lo[o]));
        hi[o] = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)f->hi[o]));
    }
    const __m256i zero = _mm256_setzero_si256();
    for (; q + SL_KWFILTER_BLOCK < end; q += 2 * SL_KWFILTER_BLOCK) {
        __m256i a = avx2_block(lo, hi, text + q, high);
        __m256i b = avx2_block(lo, hi, text + q + SL_KWFILTER_BLOCK, high);
        if (!_mm256_testz_si256(_mm256_or_si256(a, b), _mm256_or_si256(a, b))) {
            uint32_t m = ~(uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(a, zero));
            if (m) {
                *mask = m;
                return q;
            }
            *mask = ~(uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(b, zero));
            return q + SL_KWFILTER_BLOCK;
        }
    }
    if (q < end) {
        uint32_t m = ~(uint32_t)_mm256_movemask_epi8(
            _mm256_cmpeq_epi8(avx2_block(lo, hi, text + q, high), zero));
        if (m) {
            *mask = m;
            return q;
        }
    }
    return end;
}

__attribute__((target("avx2"))) static size_t
avx2_next(const struct sl_kwfilter *f, const char *text, size_t end, size_t q, uint32_t *mask)
{
    return f->high ? avx2_run(f, text, end, q, mask, true) : avx2_run(f, text, end, q, mask, false);
}
#endif

size_t sl_kwfilter_next(const struct sl_kwfilter *f, const char *text, size_t len, size_t q,
                        uint32_t *mask)
{
    size_t end = sl_kwfilter_end(len);
#ifdef KWF_X86
    if (f->path == SL_KWFILTER_AVX2)
        return avx2_next(f, text, end, q, mask);
    if (f->path == SL_KWFILTER_SSSE3)
        return ssse3_next(f, text, end, q, mask);
#else
    (void)f, (void)text, (void)q, (void)mask;
#endif
    return end;
}

bool sl_kwfilter_available(enum sl_kwfilter_path path)
{
#ifdef KWF_X86
    return path == SL_KWFILTER_AVX2    ? __builtin_cpu_supports("avx2")
           : path == SL_KWFILTER_SSSE3 ? __builtin_cpu_supports("ssse3")
                                       : true;
#else
    return path == SL_KWFILTER_SCALAR;
#endif
}

static enum sl_kwfilter_path chosen;
static pthread_once_t chosen_once = PTHREAD_ONCE_INIT;

static void choose(void)
{
    const char *want = getenv("SL_SCAN_KEYWORD_PASS");
    chosen = sl_kwfilter_available(SL_KWFILTER_AVX2)    ? SL_KWFILTER_AVX2
             : sl_kwfilter_available(SL_KWFILTER_SSSE3) ? SL_KWFILTER_SSSE3
                                                        : SL_KWFILTER_SCALAR;
    if (want && !strcmp(want, "scalar"))
        chosen = SL_KWFILTER_SCALAR;
    else if (want && !strcmp(want, "ssse3") && sl_kwfilter_available(SL_KWFILTER_SSSE3))
        chosen = SL_KWFILTER_SSSE3;
}

enum sl_kwfilter_path sl_kwfilter_default(void)
{
    pthread_once(&chosen_once, choose);
    return chosen;
}
