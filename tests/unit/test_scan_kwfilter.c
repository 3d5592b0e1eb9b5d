/* The keyword pass's SIMD filter (scan/kwfilter.h) against the scalar pass: the same
 * findings, in the same order, for keywords at every offset mod 32 (a filter block), at a
 * text's ends and across the last block's end, in any case, among random bytes, and with
 * the default rules on a build log. A path the CPU does not have is skipped. */
#include "base/compat.h"
#include "base/str.h"
#include "harness/harness.h"
#include "scan/kwfilter.h"
#include "scan/scan.h"

/* more than 8 distinct first bytes (buckets are shared), non-letters whose | 0x20 is
 * another byte ('@', '[', '_'), UTF-8 ones, and ones of 2 bytes (found by the filter, by
 * memchr on the scalar pass), one of them a byte of 0x80 and more */
static const char *const words[] = {
    "akia", "a3t", "glpat-",   "sk_live_",   "private key", "hooks.slack.com",
    "key",  "eyj", "xoxb-",    "token",      "passw",       "@ab",
    "[[x",  "__k", "q~",       "cl\xc3\xa9", "secret",      "ghp_",
    "pwd",  "~~~", "\xc3\xa9",
};

struct found {
    struct sl_str s; /* "rule start end line\n" each */
    size_t n;
};

static int on_found(void *ctx, const struct sl_scan_finding *f)
{
    struct found *x = ctx;
    sl_str_addf(&x->s, "%s %zu %zu %zu\n", f->rule_id, f->start, f->end, f->line);
    x->n++;
    return 0;
}

static struct sl_scan *word_scanner(void)
{
    struct sl_str t = SL_STR_INIT;
    for (size_t k = 0; k < SL_ARRAY_LEN(words); k++)
        sl_str_addf(&t, "[[rules]]\nid = 'w%zu'\nregex = '''(?i)\\Q%s\\E'''\nkeywords = ['%s']\n",
                    k, words[k], words[k]);
    struct sl_scan *s = NULL;
    struct sl_error err = SL_ERROR_INIT;
    if (sl_scan_load(&s, t.buf, t.len, "words.toml", &err) < 0)
        fprintf(stderr, "# %s\n", err.message);
    sl_error_release(&err);
    sl_str_release(&t);
    return s;
}

/* The findings of TEXT on PATH; *N their number. Caller frees. */
static char *findings(struct sl_scan *s, int path, const char *text, size_t len, size_t *n)
{
    sl_scan_set_keyword_pass(s, path);
    struct found f = {SL_STR_INIT, 0};
    sl_scan_text(s, NULL, text, len, on_found, &f);
    sl_str_add(&f.s, "", 0);
    *n = f.n;
    return sl_str_detach(&f.s);
}

static int failures;

/* Whether PATH finds on TEXT what the scalar pass finds; at least WANT findings */
static bool same(struct sl_scan *s, int path, const char *text, size_t len, size_t want)
{
    size_t n_scalar, n_path;
    char *a = findings(s, SL_KWFILTER_SCALAR, text, len, &n_scalar);
    char *b = findings(s, path, text, len, &n_path);
    bool ok = !strcmp(a, b) && n_scalar >= want;
    if (!ok && failures++ < 3)
        fprintf(stderr, "# %zu bytes: scalar found %zu (want %zu or more):\n%s# path %d:\n%s", len,
                n_scalar, want, a, path, b);
    free(a);
    free(b);
    return ok;
}

static unsigned long rnd(unsigned long *x)
{
    *x ^= *x << 13, *x ^= *x >> 7, *x ^= *x << 17;
    return *x;
}

/* W in the case ROUND picks: lower, upper, every other letter upper */
static void put_word(char *at, const char *w, int round)
{
    for (size_t i = 0; w[i]; i++) {
        bool up = round % 3 == 1 || (round % 3 == 2 && i % 2);
        at[i] = (char)(up && w[i] >= 'a' && w[i] <= 'z' ? w[i] - 32 : w[i]);
    }
}

static void check_path(int path)
{
    if (!sl_kwfilter_available((enum sl_kwfilter_path)path))
        SKIP("this CPU has no path %d", path);
    struct sl_scan *s = word_scanner();
    CHECK(s != NULL);
    CHECK_INT_EQ(sl_scan_set_keyword_pass(s, path), path);
    failures = 0;
    char buf[200];
    /* each keyword at every offset of two blocks and more, in a text of every length up
     * to it (across the last block's end, into the scalar tail, at the very end) */
    for (size_t k = 0; k < SL_ARRAY_LEN(words); k++) {
        size_t wl = strlen(words[k]);
        for (size_t off = 0; off < 80; off++)
            for (size_t len = off + wl; len < off + wl + 40 && len <= sizeof(buf); len++) {
                memset(buf, '.', len);
                put_word(buf + off, words[k], (int)(off + len));
                CHECK(same(s, path, buf, len, 1));
            }
    }
    /* random bytes, every value, with keywords thrown in */
    unsigned long x = 0x9e3779b97f4a7c15UL;
    for (int round = 0; round < 20000; round++) {
        size_t len = rnd(&x) % sizeof(buf);
        for (size_t i = 0; i < len; i++)
            buf[i] = (char)rnd(&x);
        for (int j = 0; len > 16 && j < 4; j++) {
            const char *w = words[rnd(&x) % SL_ARRAY_LEN(words)];
            size_t wl = strlen(w), at = rnd(&x) % (len - wl + 1);
            put_word(buf + at, w, round + j);
        }
        CHECK(same(s, path, buf, len, 0));
    }
    /* letters of the keywords only, both cases: keywords everywhere, overlapping */
    static const char alphabet[] = "aAkKiIeEyYtToOsSpP_-@[~3 \n";
    for (int round = 0; round < 20000; round++) {
        size_t len = rnd(&x) % sizeof(buf);
        for (size_t i = 0; i < len; i++)
            buf[i] = alphabet[rnd(&x) % (sizeof(alphabet) - 1)];
        CHECK(same(s, path, buf, len, 0));
    }
    sl_scan_free(s);
}

TEST(ssse3_finds_what_the_scalar_pass_finds)
{
    check_path(SL_KWFILTER_SSSE3);
}

TEST(avx2_finds_what_the_scalar_pass_finds)
{
    check_path(SL_KWFILTER_AVX2);
}

TEST(default_rules_on_a_log_on_every_path)
{
    struct sl_scan *s = NULL;
    struct sl_error err = SL_ERROR_INIT;
    CHECK_INT_EQ(sl_scan_default(&s, &err), 0);
    struct sl_str log = SL_STR_INIT;
    for (int i = 0; i < 2000; i++)
        sl_str_addf(&log, "[%06d] CC src/module_%d.o -O2 (%d ms)%s\n", i, i % 500, i % 90,
                    i % 40 == 0    ? " cache KEY=deps-v2"
                    : i % 97 == 0  ? " export GITHUB_TOKEN=ghp_Xq7Lm2Vr9Tz4Kp8Wn3Bc6Hd1Jf5Gs0Ya2ReU"
                    : i % 131 == 0 ? " id AKIAQ3EGV5YB4UF6PJXN"
                                   : "");
    for (int path = SL_KWFILTER_SSSE3; path <= SL_KWFILTER_AVX2; path++) {
        if (!sl_kwfilter_available((enum sl_kwfilter_path)path))
            continue;
        failures = 0;
        CHECK(same(s, path, log.buf, log.len, 30));
    }
    sl_str_release(&log);
    sl_scan_free(s);
}

/* An ordinary build log (a compiler's commands, the lines that made round-robin buckets pass
 * at one place in 32), secrets and keywords of the default rules put in at random places in
 * random case: every path finds what the scalar pass finds. */
TEST(default_rules_on_compile_commands_on_every_path)
{
    struct sl_scan *s = NULL;
    struct sl_error err = SL_ERROR_INIT;
    CHECK_INT_EQ(sl_scan_default(&s, &err), 0);
    static const char *const put[] = {
        "api_key=Zx81QmvR7TkpL2ws9YbN",
        "PASSWORD: 'q8Lm3Vz7Rt1Kp9Wx2Bc'",
        "token=ghp_Xq7Lm2Vr9Tz4Kp8Wn3Bc6Hd1Jf5Gs0Ya2ReU",
        "AKIAQ3EGV5YB4UF6PJXN",
        "xoxb-1234567890-abcdefghij",
        "sk_live_4eC39HqLyjWDarjtT1zdp7dc",
        "secret",
        "credential",
        "pwd",
        "glpat-",
        "hooks.slack.com",
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJlMTIz",
        "-----BEGIN RSA PRIVATE KEY-----",
        "q~",
    };
    struct sl_str log = SL_STR_INIT;
    unsigned long x = 0x2545f4914f6cdd1dUL;
    size_t puts = 0;
    struct sl_str line = SL_STR_INIT;
    for (int i = 0; i < 3000; i++) {
        sl_str_reset(&line);
        sl_str_addf(&line,
                    "/usr/bin/cc -DSL_VERSION=\\\"0.%d\\\" -D_GNU_SOURCE -I/work/src -Ibuild/gen "
                    "-O2 -g -Wall -Wextra -Wshadow -std=c11 -MD -MT CMakeFiles/sl_%lu.dir/src/"
                    "store/logs.c.o -MF CMakeFiles/sl_%lu.dir/src/store/logs.c.o.d -o "
                    "CMakeFiles/sl_%lu.dir/src/store/logs.c.o -c /work/src/store/logs.c\n",
                    i, rnd(&x) % 50, rnd(&x) % 50, rnd(&x) % 50);
        size_t p = 0; /* the line as it is, or a word put in at P */
        if (rnd(&x) % 4 == 0) {
            const char *w = put[rnd(&x) % SL_ARRAY_LEN(put)];
            p = rnd(&x) % (line.len - 1);
            sl_str_add(&log, line.buf, p);
            sl_str_addc(&log, ' '); /* the line goes on after it */
            for (size_t k = 0; w[k]; k++)
                sl_str_addc(&log, rnd(&x) % 3 == 0 && w[k] >= 'a' && w[k] <= 'z' ? (char)(w[k] - 32)
                                                                                 : w[k]);
            sl_str_addc(&log, ' ');
            puts++;
        }
        sl_str_add(&log, line.buf + p, line.len - p);
    }
    sl_str_release(&line);
    CHECK(puts > 500);
    for (int path = SL_KWFILTER_SSSE3; path <= SL_KWFILTER_AVX2; path++) {
        if (!sl_kwfilter_available((enum sl_kwfilter_path)path))
            continue;
        failures = 0;
        CHECK(same(s, path, log.buf, log.len, 100));
    }
    sl_str_release(&log);
    sl_scan_free(s);
}

static bool read_file(const char *rel, struct sl_str *out)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", sl_test_source_dir(), rel);
    FILE *f = fopen(path, "rb");
    if (!f)
        return false;
    char b[8192];
    size_t n;
    while ((n = fread(b, 1, sizeof(b), f)) > 0)
        sl_str_add(out, b, n);
    fclose(f);
    return true;
}

/* Real text, the filter's places checked by their three bytes' hash (scan.c's kw_tri) before
 * a bucket's keywords are compared, against the scalar pass (no filter, no hash): this
 * repository's scanning sources, the rules and the true/false-positive corpus (keywords and
 * secrets in every form the rules know), as they are, with CRLF line ends, with each letter's
 * case flipped, with bytes of 0x80 and more and other bytes whose | 0x20 is a letter's or a
 * keyword byte's ('@' '[' '_' '~' DEL, controls) put in; whole and in pieces of many lengths
 * (every filter block's end and the scalar tail at a piece's end). */
TEST(default_rules_on_real_text_on_every_path)
{
    struct sl_scan *s = NULL;
    struct sl_error err = SL_ERROR_INIT;
    CHECK_INT_EQ(sl_scan_default(&s, &err), 0);
    static const char *const files[] = {
        "tests/cases/scan/corpus.tsv", "src/scan/default-rules.toml", "src/scan/scan.c",
        "src/server/secret_scan.c",    "docs/secret-detection.md",
    };
    struct sl_str text = SL_STR_INIT;
    for (size_t i = 0; i < SL_ARRAY_LEN(files); i++)
        CHECK(read_file(files[i], &text));
    CHECK(text.len > 50000);
    struct sl_str v = SL_STR_INIT;
    unsigned long x = 0x853c49e6748fea9bUL;
    static const char odd[] = {'@',        '[',        '_',        '~',        0x7f,
                               0x01,       0x13,       0x1f,       0x00,       '\r',
                               (char)0x80, (char)0xc3, (char)0xa9, (char)0xff, (char)0xe2};
    for (int variant = 0; variant < 4; variant++) {
        sl_str_reset(&v);
        for (size_t i = 0; i < text.len; i++) {
            char c = text.buf[i];
            if (variant == 1 && c == '\n')
                sl_str_addc(&v, '\r');
            if (variant == 2 && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')))
                c ^= 0x20;
            if (variant == 3 && rnd(&x) % 50 == 0)
                c = odd[rnd(&x) % sizeof(odd)];
            sl_str_addc(&v, c);
        }
        for (int path = SL_KWFILTER_SSSE3; path <= SL_KWFILTER_AVX2; path++) {
            if (!sl_kwfilter_available((enum sl_kwfilter_path)path))
                continue;
            failures = 0;
            CHECK(same(s, path, v.buf, v.len, variant < 2 ? 20 : 5));
            /* pieces: a keyword or a secret cut at a piece's end, the last block's end moved */
            static const size_t pieces[] = {33, 67, 101, 1000, 4099};
            for (size_t k = 0; k < SL_ARRAY_LEN(pieces); k++)
                for (size_t at = 0, piece = pieces[k]; at < v.len; at += piece)
                    CHECK(same(s, path, v.buf + at, SL_MIN(piece, v.len - at), 0));
        }
    }
    sl_str_release(&v);
    sl_str_release(&text);
    sl_scan_free(s);
}
