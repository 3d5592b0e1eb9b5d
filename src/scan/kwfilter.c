/* kwfilter.c: see kwfilter.h.
 *
 * The filter (Teddy, from Hyperscan, as in Rust's aho-corasick): every keyword goes into
 * one of 8 buckets (a bit each; by its first byte, so that the keywords of a first byte share
 * one; which first bytes share a bucket is searched for when it is built, assign_buckets). For each
 * offset o of 0-2 two tables of 16 bytes say which buckets have a keyword whose byte o has that low
 * nibble, and which that high nibble (a keyword of 2 bytes: every nibble at offset 2). PSHUFB looks
 * up 16 (32 with AVX2) of the text's bytes in a table at once; a place is in when some bucket has a
 * bit in all six lookups.
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

/* How often a byte is in a build log, roughly (what a bucket's false places are weighed by):
 * white space and lowercase letters most, then digits, then the rest of printable ASCII. */
static unsigned byte_weight(unsigned c)
{
    return c == ' '                ? 8
           : c >= 'a' && c <= 'z'  ? 3
           : c >= '0' && c <= '9'  ? 2
           : c >= 0x21 && c < 0x7f ? 1
                                   : 0;
}

/* The nibbles a group of keywords (those of one first byte) has at offsets 0-2, as the
 * tables hold them: bit L of LO[o] for low nibble L, bit H of HI[o] for high nibble H. */
struct nibbles {
    uint16_t lo[3], hi[3];
};

/* What a bucket with nibbles N lets through, by weight: the product over offsets 0-2 of the
 * weight of the ASCII bytes that pass there (a place passes when all three do). */
static unsigned weights[8][2][256]; /* by high nibble, of low nibbles 0-7 / 8-15 as a mask */
static pthread_once_t weights_once = PTHREAD_ONCE_INIT;

static void weights_make(void)
{
    for (unsigned h = 0; h < 8; h++)
        for (unsigned half = 0; half < 2; half++)
            for (unsigned m = 0; m < 256; m++)
                for (unsigned l = 0; l < 8; l++)
                    if (m >> l & 1)
                        weights[h][half][m] += byte_weight(h << 4 | (half * 8 + l));
}

static double bucket_cost(const struct nibbles *n)
{
    double cost = 1;
    for (int o = 0; o < 3; o++) {
        unsigned w = 0;
        for (unsigned h = 0; h < 8; h++)
            if (n->hi[o] >> h & 1)
                w += weights[h][0][n->lo[o] & 0xff] + weights[h][1][n->lo[o] >> 8];
        cost *= w;
    }
    return cost;
}

/* The nibbles of bucket B: those of the groups IN[] puts there */
static struct nibbles bucket_of(const struct nibbles *g, int ngroups, const uint8_t *in, int b)
{
    struct nibbles n = {{0}, {0}};
    for (int k = 0; k < ngroups; k++)
        if (in[k] == b)
            for (int o = 0; o < 3; o++)
                n.lo[o] |= g[k].lo[o], n.hi[o] |= g[k].hi[o];
    return n;
}

/* A bound on the buckets tried (each costs a few hundred steps): a rule file of hundreds of
 * first bytes gets a few milliseconds' search, not seconds */
#define SEARCH_TRIES 20000

/* Which of NSHARED buckets each of NGROUPS groups (G: their nibbles; FIXED: held where IN[]
 * has them) goes in, IN[] given round robin and improved: a group moved to another bucket or
 * swapped with one of it while that lowers what the two let through. Sharing a bucket mixes
 * its groups' nibbles, and which first bytes share one decides how many places of a log pass
 * that start no keyword: a build log's compile commands passed at one place in 32 with round
 * robin, one in 180 after this. */
static void assign_buckets(const struct nibbles *g, int ngroups, const bool *fixed, int nshared,
                           uint8_t *in)
{
    double cost[8];
    long tries = 0;
    pthread_once(&weights_once, weights_make);
    for (int b = 0; b < 8; b++) {
        struct nibbles n = bucket_of(g, ngroups, in, b);
        cost[b] = bucket_cost(&n);
    }
    for (int better = 1; better && tries < SEARCH_TRIES;) {
        better = 0;
        for (int k = 0; k < ngroups && tries < SEARCH_TRIES; k++) {
            if (fixed[k])
                continue;
            for (int b = 0; b < nshared && tries < SEARCH_TRIES; b++) {
                int a = in[k];
                if (b == a)
                    continue;
                for (int h = -1; h < ngroups && tries < SEARCH_TRIES; h++) { /* -1: a move */
                    if (h >= 0 && (fixed[h] || in[h] != b))
                        continue;
                    in[k] = (uint8_t)b;
                    if (h >= 0)
                        in[h] = (uint8_t)a;
                    struct nibbles na = bucket_of(g, ngroups, in, a),
                                   nb = bucket_of(g, ngroups, in, b);
                    double ca = bucket_cost(&na), cb = bucket_cost(&nb);
                    tries += 2;
                    if (ca + cb < cost[a] + cost[b] - 1e-9) {
                        cost[a] = ca, cost[b] = cb;
                        better = 1;
                        break;
                    }
                    in[k] = (uint8_t)a;
                    if (h >= 0)
                        in[h] = (uint8_t)b;
                }
            }
        }
    }
}

void sl_kwfilter_build(struct sl_kwfilter *f, const char *const *words, size_t n,
                       enum sl_kwfilter_path path)
{
    memset(f, 0, sizeof(*f));
    if (!sl_kwfilter_available(path))
        path = SL_KWFILTER_SCALAR;
    /* a keyword's bucket (1-8) is its first byte's: the keywords of a first byte share one.
     * A keyword of 2 bytes has any byte at offset 2, so its bucket passes whatever follows
     * its two: such keywords get the last bucket to themselves (when there are other first
     * bytes to share the other seven), so that they do not make a 3-byte keyword's bucket pass
     * after its two bytes alone. */
    bool any_short = false, any_long = false;
    for (size_t j = 0; j < n; j++)
        if (words[j][2])
            any_long = true;
        else
            any_short = true;
    int nshared = any_short && any_long ? 7 : 8;
    /* the groups (first bytes), in the order they come, their nibbles, and which are held in
     * the last bucket */
    int group_of[256], ngroups = 0;
    struct nibbles g[256];
    uint8_t in[256];
    bool fixed[256];
    for (int c = 0; c < 256; c++)
        group_of[c] = -1;
    for (size_t j = 0; j < n; j++) {
        const uint8_t *w = (const uint8_t *)words[j];
        uint8_t c0 = w[0] | 0x20;
        if (group_of[c0] < 0) {
            group_of[c0] = ngroups;
            g[ngroups] = (struct nibbles){{0}, {0}};
            fixed[ngroups] = false;
            ngroups++;
        }
        struct nibbles *x = &g[group_of[c0]];
        if (!w[2] && nshared == 7)
            fixed[group_of[c0]] = true;
        for (int o = 0; o < 3; o++) {
            if (o == 2 && !w[2]) { /* any byte */
                x->lo[o] = x->hi[o] = 0xffff;
                break;
            }
            uint8_t c = w[o] | 0x20;
            x->lo[o] |= (uint16_t)(1u << (c & 15));
            /* looked up by the text's byte's own high nibble: T | 0x20 has the nibble
             * (T >> 4) | 2, so both nibbles that give C's are its */
            x->hi[o] |= (uint16_t)(1u << (c >> 4) | 1u << ((c >> 4) & ~2));
            if (c >= 0x80)
                f->high = true;
        }
    }
    int next = 0;
    for (int k = 0; k < ngroups; k++)
        in[k] = fixed[k] ? 7 : (uint8_t)(next++ % nshared);
    assign_buckets(g, ngroups, fixed, nshared, in);
    for (int k = 0; k < ngroups; k++) {
        uint8_t bit = (uint8_t)(1u << in[k]);
        for (int o = 0; o < 3; o++)
            for (int v = 0; v < 16; v++) {
                if (g[k].lo[o] >> v & 1)
                    f->lo[o][v] |= bit;
                if (g[k].hi[o] >> v & 1)
                    f->hi[o][v] |= bit;
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
