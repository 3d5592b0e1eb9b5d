/* kwfilter.c: see kwfilter.h.
 *
 * The filter (Teddy, from Hyperscan, as in Rust's aho-corasick): every keyword goes into
 * one of 8 buckets (a bit each). Which keywords share a bucket is searched for when it is built
 * (assign_buckets): first the first bytes by a weight of the bytes they let through, then the
 * first bytes and at last each keyword on its own by the places they let through in an
 * embedded sample of CI output (cost_sample), so a first byte's keywords may split. For each
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

static double weighted_cost(const struct nibbles *n)
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

/* A few kinds of CI job output (a runner's preamble, npm, vite, pip, pytest, cmake, a compiler,
 * go, cargo, docker), written for this: what a bucket's false places are counted on once its
 * first bytes are placed by weight. bench/kwfilter_buckets.py models the search on other texts:
 * with this sample an ordinary build log's compile commands pass 944 places in 173 KB by weight
 * alone, 499 after it (a first byte's keywords split between buckets); bench/log_scan.c's
 * generated lines the same 968 a MiB (their real `token` lines). */
static const char cost_sample[] =
    "Running with gitlab-runner 16.5.0 on docker-runner-3\n"
    "Preparing the \"docker\" executor\n"
    "Using Docker executor with image node:20-alpine ...\n"
    "Pulling docker image node:20-alpine ...\n"
    "Getting source from Git repository\n"
    "Fetching changes with git depth set to 20...\n"
    "Initialized empty Git repository in /builds/group/project/.git/\n"
    "Created fresh repository.\n"
    "Checking out 4f2a9c1e as detached HEAD (ref is main)...\n"
    "Skipping Git submodules setup\n"
    "Executing \"step_script\" stage of the job script\n"
    "$ npm ci --prefer-offline\n"
    "added 1284 packages, and audited 1285 packages in 41s\n"
    "found 0 vulnerabilities\n"
    "$ npm run build\n"
    "> web@2.3.1 build\n"
    "> vite build --mode production\n"
    "vite v5.0.10 building for production...\n"
    "transforming (412) src/components/Table.vue\n"
    "dist/assets/index-3b9f1c2e.js   412.31 kB | gzip: 131.02 kB\n"
    "built in 12.84s\n"
    "$ pip install -r requirements.txt\n"
    "Collecting requests==2.31.0\n"
    "  Downloading requests-2.31.0-py3-none-any.whl (62 kB)\n"
    "Requirement already satisfied: urllib3<3,>=1.21.1 in /usr/lib/python3/dist-packages\n"
    "Successfully installed certifi-2023.11.17 charset-normalizer-3.3.2 idna-3.6 requests-2.31.0\n"
    "$ pytest -q tests/\n"
    "........................................................................ [ 72%]\n"
    "............................F.......                                     [100%]\n"
    "FAILED tests/test_api.py::test_list_users - AssertionError: assert 404 == 200\n"
    "1 failed, 107 passed in 9.31s\n"
    "$ cmake -S . -B build -DCMAKE_BUILD_TYPE=Release\n"
    "-- The C compiler identification is GNU 12.2.0\n"
    "-- Detecting C compiler ABI info - done\n"
    "-- Looking for pthread.h - found\n"
    "-- Configuring done (1.2s)\n"
    "-- Generating done (0.1s)\n"
    "-- Build files have been written to: /builds/group/project/build\n"
    "$ cmake --build build -j4\n"
    "[1/96] Building C object CMakeFiles/core.dir/src/util/buffer.c.o\n"
    "[2/96] Building C object CMakeFiles/core.dir/src/util/hash.c.o\n"
    "[3/96] Building CXX object CMakeFiles/app.dir/src/main.cpp.o\n"
    "[4/96] Linking C static library libcore.a\n"
    "/usr/bin/cc -O2 -Wall -Wextra -Isrc -Ibuild/gen -c src/net/http.c -o build/obj/net/http.o\n"
    "/usr/bin/cc -O2 -Wall -Wextra -Isrc -Ibuild/gen -c src/net/tls.c -o build/obj/net/tls.o\n"
    "src/net/tls.c:214:9: warning: unused variable 'len' [-Wunused-variable]\n"
    "$ go test ./...\n"
    "ok      example.com/service/internal/store      0.412s\n"
    "ok      example.com/service/internal/api        1.093s\n"
    "?       example.com/service/cmd/server  [no test files]\n"
    "$ cargo build --release\n"
    "   Compiling serde v1.0.193\n"
    "   Compiling tokio v1.35.1\n"
    "    Finished release [optimized] target(s) in 1m 02s\n"
    "$ docker build -t registry.example.com/group/project:4f2a9c1e .\n"
    "Step 4/9 : RUN apk add --no-cache ca-certificates curl\n"
    " ---> Running in 0d2c7a91be3f\n"
    "fetch https://dl-cdn.alpinelinux.org/alpine/v3.19/main/x86_64/APKINDEX.tar.gz\n"
    "OK: 12 MiB in 19 packages\n"
    "Successfully built 7e1f0c9a2b44\n"
    "Successfully tagged registry.example.com/group/project:4f2a9c1e\n"
    "Uploading artifacts for successful job\n"
    "Uploading artifacts as \"archive\" to coordinator... 201 Created\n"
    "Cleaning up project directory and file based variables\n"
    "Job succeeded\n";

/* The sample's distinct byte triples (byte 0 in the low bits) and how often each comes */
static uint32_t sample_triple[sizeof(cost_sample)], sample_count[sizeof(cost_sample)];
static size_t sample_n;
static pthread_once_t sample_once = PTHREAD_ONCE_INIT;

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static void sample_make(void)
{
    static uint32_t all[sizeof(cost_sample)];
    size_t len = sizeof(cost_sample) - 1, n = 0;
    for (size_t i = 0; i + 2 < len; i++)
        all[n++] = (uint32_t)(uint8_t)cost_sample[i] | (uint32_t)(uint8_t)cost_sample[i + 1] << 8 |
                   (uint32_t)(uint8_t)cost_sample[i + 2] << 16;
    qsort(all, n, sizeof(*all), cmp_u32);
    for (size_t i = 0; i < n; i++) {
        if (sample_n && sample_triple[sample_n - 1] == all[i]) {
            sample_count[sample_n - 1]++;
        } else {
            sample_triple[sample_n] = all[i];
            sample_count[sample_n++] = 1;
        }
    }
}

/* The places of the sample a bucket with nibbles N lets through */
static double sample_cost(const struct nibbles *n)
{
    uint8_t pass[3][256];
    for (int o = 0; o < 3; o++)
        for (unsigned c = 0; c < 256; c++)
            pass[o][c] = (uint8_t)(n->lo[o] >> (c & 15) & n->hi[o] >> (c >> 4) & 1);
    double places = 0;
    for (size_t i = 0; i < sample_n; i++) {
        uint32_t t = sample_triple[i];
        if (pass[0][t & 0xff] & pass[1][t >> 8 & 0xff] & pass[2][t >> 16])
            places += sample_count[i];
    }
    return places;
}

/* How many buckets are tried by the sample (each costs a pass over its 2,000-odd triples): the
 * default rules' searches end by themselves before it, the whole build in 6-9 ms (0.04 ms by
 * weight alone); once per rule set, as the weighted search */
#define SAMPLE_TRIES 1000

/* A bound on the buckets tried (each costs a few hundred steps): a rule file of hundreds of
 * first bytes gets a few milliseconds' search, not seconds */
#define SEARCH_TRIES 20000

/* Which of NSHARED buckets each of NGROUPS groups (G: their nibbles; FIXED: held where IN[]
 * has them) goes in, IN[] given round robin and improved: a group moved to another bucket or
 * swapped with one of it while that lowers what the two let through. Sharing a bucket mixes
 * its groups' nibbles, and which first bytes share one decides how many places of a log pass
 * that start no keyword: a build log's compile commands passed at one place in 32 with round
 * robin, one in 180 after this by weight (BUCKET_COST weighted_cost, BOUND SEARCH_TRIES), one
 * in 290 after the sample's searches (sample_cost, SAMPLE_TRIES each). */
static void assign_buckets(const struct nibbles *g, int ngroups, const bool *fixed, int nshared,
                           uint8_t *in, double (*bucket_cost)(const struct nibbles *), long bound)
{
    double cost[8];
    long tries = 0;
    for (int b = 0; b < 8; b++) {
        struct nibbles n = bucket_of(g, ngroups, in, b);
        cost[b] = bucket_cost(&n);
    }
    for (int better = 1; better && tries < bound;) {
        better = 0;
        for (int k = 0; k < ngroups && tries < bound; k++) {
            if (fixed[k])
                continue;
            for (int b = 0; b < nshared && tries < bound; b++) {
                int a = in[k];
                if (b == a)
                    continue;
                for (int h = -1; h < ngroups && tries < bound; h++) { /* -1: a move */
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

/* Adds keyword W's bytes at offsets 0-2 to X, as the tables hold them; true: one is 0x80 or more */
static bool add_word(struct nibbles *x, const uint8_t *w)
{
    bool high = false;
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
        high |= c >= 0x80;
    }
    return high;
}

/* Up to how many keywords are placed one by one (more: by first byte only) */
#define KEYWORDS_SPLIT 256

void sl_kwfilter_build(struct sl_kwfilter *f, const char *const *words, size_t n,
                       enum sl_kwfilter_path path)
{
    memset(f, 0, sizeof(*f));
    if (!sl_kwfilter_available(path))
        path = SL_KWFILTER_SCALAR;
    /* the search starts from groups of the keywords of a first byte (at most 256 of them).
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
    struct nibbles g[256] = {{{0}, {0}}};
    uint8_t in[256];
    bool fixed[256] = {false};
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
        if (!w[2] && nshared == 7)
            fixed[group_of[c0]] = true;
        f->high |= add_word(&g[group_of[c0]], w);
    }
    int next = 0;
    for (int k = 0; k < ngroups; k++)
        in[k] = fixed[k] ? 7 : (uint8_t)(next++ % nshared);
    pthread_once(&weights_once, weights_make);
    assign_buckets(g, ngroups, fixed, nshared, in, weighted_cost, SEARCH_TRIES);
    /* then by the sample's places: the first bytes, then each keyword on its own (a first
     * byte's keywords may go to different buckets: `a` has akia, aws, aiza, a3t...) */
    const struct nibbles *groups = g;
    const uint8_t *where = in;
    int nwhere = ngroups;
    struct nibbles kg[KEYWORDS_SPLIT];
    uint8_t kin[KEYWORDS_SPLIT];
    bool kfixed[KEYWORDS_SPLIT];
    if (path != SL_KWFILTER_SCALAR) {
        pthread_once(&sample_once, sample_make);
        assign_buckets(g, ngroups, fixed, nshared, in, sample_cost, SAMPLE_TRIES);
        if (n <= KEYWORDS_SPLIT) {
            for (size_t j = 0; j < n; j++) {
                const uint8_t *w = (const uint8_t *)words[j];
                kg[j] = (struct nibbles){{0}, {0}};
                add_word(&kg[j], w);
                kfixed[j] = !w[2] && nshared == 7;
                kin[j] = in[group_of[w[0] | 0x20]];
            }
            assign_buckets(kg, (int)n, kfixed, nshared, kin, sample_cost, SAMPLE_TRIES);
            groups = kg, where = kin, nwhere = (int)n;
        }
    }
    for (int k = 0; k < nwhere; k++) {
        uint8_t bit = (uint8_t)(1u << where[k]);
        for (int o = 0; o < 3; o++)
            for (int v = 0; v < 16; v++) {
                if (groups[k].lo[o] >> v & 1)
                    f->lo[o][v] |= bit;
                if (groups[k].hi[o] >> v & 1)
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

/* sl_kwfilter_blocks on AVX2: every block's mask stored, the count moved on only past one
 * with a place, so no branch a block (a build log's blocks with a place come one in 30,
 * at no pattern a predictor learns: each was a mispredicted exit from avx2_run, a return
 * and a call, and its tables loaded again) */
__attribute__((target("avx2"), always_inline)) static inline size_t
avx2_blocks_run(const struct sl_kwfilter *f, const char *text, size_t end, size_t q,
                struct sl_kwfilter_block *out, size_t cap, size_t *next, bool high)
{
    __m256i lo[3], hi[3];
    for (int o = 0; o < 3; o++) {
        lo[o] = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)f->lo[o]));
        hi[o] = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)f->hi[o]));
    }
    const __m256i zero = _mm256_setzero_si256();
    size_t n = 0;
    for (; q + SL_KWFILTER_BLOCK < end && n + 2 <= cap; q += 2 * SL_KWFILTER_BLOCK) {
        __m256i a = avx2_block(lo, hi, text + q, high);
        __m256i b = avx2_block(lo, hi, text + q + SL_KWFILTER_BLOCK, high);
        if (!_mm256_testz_si256(_mm256_or_si256(a, b), _mm256_or_si256(a, b))) {
            uint32_t ma = ~(uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(a, zero));
            uint32_t mb = ~(uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(b, zero));
            out[n].at = q;
            out[n].mask = ma;
            n += ma != 0;
            out[n].at = q + SL_KWFILTER_BLOCK;
            out[n].mask = mb;
            n += mb != 0;
        }
    }
    for (; q < end && n < cap; q += SL_KWFILTER_BLOCK) {
        uint32_t m = ~(uint32_t)_mm256_movemask_epi8(
            _mm256_cmpeq_epi8(avx2_block(lo, hi, text + q, high), zero));
        out[n].at = q;
        out[n].mask = m;
        n += m != 0;
    }
    *next = q;
    return n;
}

__attribute__((target("avx2"))) static size_t avx2_blocks(const struct sl_kwfilter *f,
                                                          const char *text, size_t end, size_t q,
                                                          struct sl_kwfilter_block *out, size_t cap,
                                                          size_t *next)
{
    return f->high ? avx2_blocks_run(f, text, end, q, out, cap, next, true)
                   : avx2_blocks_run(f, text, end, q, out, cap, next, false);
}
#endif

size_t sl_kwfilter_blocks(const struct sl_kwfilter *f, const char *text, size_t len, size_t q,
                          struct sl_kwfilter_block *out, size_t cap, size_t *next)
{
    size_t end = sl_kwfilter_end(len), n = 0;
#ifdef KWF_X86
    if (f->path == SL_KWFILTER_AVX2 && cap)
        return avx2_blocks(f, text, end, q, out, cap, next);
#endif
    for (; n < cap && (q = sl_kwfilter_next(f, text, len, q, &out[n].mask)) < end;
         q += SL_KWFILTER_BLOCK)
        out[n++].at = q;
    *next = n < cap ? end : q;
    return n;
}

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
