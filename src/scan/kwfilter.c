/* kwfilter.c: see kwfilter.h.
 *
 * The filter (Teddy, from Hyperscan, as in Rust's aho-corasick): every keyword goes into
 * one of 8 buckets (a bit each; by its first byte, so that the keywords of a bucket share
 * it). For each offset o of 0-2 two tables of 16 bytes say which buckets have a keyword
 * whose byte o has that low nibble, and which that high nibble. PSHUFB looks up 16 (32
 * with AVX2) of the text's bytes in a table at once; a place is in when some bucket has a
 * bit in all six lookups.
 *
 * Why no place where a keyword starts is left out. A keyword's bytes are lowercased, and a
 * text's byte T is that keyword's byte K when fold(T) == K (fold: A-Z to a-z, scan.c).
 * Then T | 0x20 == K | 0x20: T is K, or K's upper case, which differs from it in bit 0x20
 * only. The tables are filled from the keywords' bytes | 0x20 and looked up with the
 * text's bytes | 0x20, so a keyword K of bucket B at a place has B's bit in the low and the
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
    uint8_t firsts[256] = {0}, nfirsts = 0; /* a keyword's bucket: its first byte's, 1-8 */
    for (size_t j = 0; j < n; j++) {
        const uint8_t *w = (const uint8_t *)words[j];
        if (!firsts[w[0] | 0x20])
            firsts[w[0] | 0x20] = (uint8_t)(nfirsts++ % 8 + 1);
        uint8_t bit = (uint8_t)(1u << (firsts[w[0] | 0x20] - 1));
        for (int o = 0; o < 3; o++) {
            uint8_t c = w[o] | 0x20;
            f->lo[o][c & 15] |= bit;
            f->hi[o][c >> 4] |= bit;
        }
    }
    f->path = path;
}

#ifdef KWF_X86
/* The same as avx2_next below, 16 places at a time, for a CPU with SSSE3 and no AVX2. */
__attribute__((target("ssse3"))) static size_t
ssse3_next(const struct sl_kwfilter *f, const char *text, size_t end, size_t q, uint32_t *mask)
{
    const __m128i case_bit = _mm_set1_epi8(0x20), nibble = _mm_set1_epi8(0x0f);
    __m128i lo[3], hi[3];
    for (int o = 0; o < 3; o++) {
        lo[o] = _mm_loadu_si128((const __m128i *)f->lo[o]);
        hi[o] = _mm_loadu_si128((const __m128i *)f->hi[o]);
    }
    for (; q < end; q += SL_KWFILTER_BLOCK) {
        uint32_t m = 0;
        for (int half = 0; half < 2; half++) {
            __m128i in = _mm_set1_epi8(-1);
            for (int o = 0; o < 3; o++) {
                __m128i x = _mm_or_si128(
                    _mm_loadu_si128((const __m128i *)(text + q + 16 * half + o)), case_bit);
                __m128i l = _mm_shuffle_epi8(lo[o], _mm_and_si128(x, nibble));
                __m128i h = _mm_shuffle_epi8(hi[o], _mm_and_si128(_mm_srli_epi16(x, 4), nibble));
                in = _mm_and_si128(in, _mm_and_si128(l, h));
            }
            m |= (uint32_t)(~_mm_movemask_epi8(_mm_cmpeq_epi8(in, _mm_setzero_si128())) & 0xffff)
                 << 16 * half;
        }
        if (m) {
            *mask = m;
            return q;
        }
    }
    return end;
}

/* 32 places at a time: for each offset o of 0-2, the buckets whose keywords have byte
 * o's low nibble AND those that have its high nibble; a place is in when some bucket is
 * left after the three offsets. */
__attribute__((target("avx2"))) static size_t
avx2_next(const struct sl_kwfilter *f, const char *text, size_t end, size_t q, uint32_t *mask)
{
    const __m256i case_bit = _mm256_set1_epi8(0x20), nibble = _mm256_set1_epi8(0x0f);
    __m256i lo[3], hi[3];
    for (int o = 0; o < 3; o++) {
        lo[o] = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)f->lo[o]));
        hi[o] = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)f->hi[o]));
    }
    for (; q < end; q += SL_KWFILTER_BLOCK) {
        __m256i in = _mm256_set1_epi8(-1);
        for (int o = 0; o < 3; o++) {
            __m256i x =
                _mm256_or_si256(_mm256_loadu_si256((const __m256i *)(text + q + o)), case_bit);
            __m256i l = _mm256_shuffle_epi8(lo[o], _mm256_and_si256(x, nibble));
            __m256i h =
                _mm256_shuffle_epi8(hi[o], _mm256_and_si256(_mm256_srli_epi16(x, 4), nibble));
            in = _mm256_and_si256(in, _mm256_and_si256(l, h));
        }
        uint32_t m = ~(uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(in, _mm256_setzero_si256()));
        if (m) {
            *mask = m;
            return q;
        }
    }
    return end;
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
