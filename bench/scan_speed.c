/* scan_speed: secret-scanning throughput of the default rules (src/scan) on two kinds of
 * text, each N MB (default 32): a job log (build output lines, one in 40 with a rule's
 * keyword), a diff (added source lines), and the worst case, a log with a keyword on
 * every line; one real-looking secret every ~64 KiB so the regexes run for real. Prints MB/s and
 * the findings; the keyword pre-filter is what keeps it cheap.
 *
 *   cmake --preset release && cmake --build build/release --target sl_scan
 *   cc -O2 -D_GNU_SOURCE -Isrc bench/scan_speed.c build/release/libsl_scan.a \
 *      build/release/libsl_base.a $(pkg-config --libs jansson libpcre2-8) -lm -o /tmp/scan_speed
 *   /tmp/scan_speed [MB [LOG-FILE [PIECE_KIB]]]
 *
 * LOG-FILE: that file's text, repeated to MB, is scanned instead of the three generated kinds
 * (say `python3 bench/log_scan_http.py --dense-text 300000`, a log with assignment-like keywords
 * on every line), in pieces of PIECE_KIB (default 1024; 4 and 64 are a server's PATCHes),
 * best of 5 runs.
 */
#include "base/compat.h"
#include "base/str.h"
#include "scan/scan.h"

#include <time.h>

static int count(void *ctx, const struct sl_scan_finding *f)
{
    (void)f;
    (*(int *)ctx)++;
    return 0;
}

/* CPU time of the process: the figure that holds on a shared, loaded machine */
static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void make(struct sl_str *s, size_t bytes, bool diff, bool worst)
{
    unsigned long x = 88172645463325252UL;
    size_t i = 0;
    while (s->len < bytes) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        if (diff)
            sl_str_addf(s, "+    result_%lu = compute(value_%lu, options.timeout)  # step %zu\n",
                        x % 1000, x % 977, i);
        else
            sl_str_addf(s, "[%06zu] CC src/module_%lu.o -O2 -Wall (%lu ms) objects=%lu%s\n", i,
                        x % 500, x % 90, x % 100000,
                        worst || i % 40 == 0 ? " cache key=deps-v2" : "");
        if (++i % 900 == 0)
            sl_str_addf(s, "%sexport GITHUB_TOKEN=ghp_%016lx%016lxabcd\n", diff ? "+" : "", x,
                        x * 31);
    }
}

/* LOG-FILE's text repeated to MB, scanned in pieces of PIECE bytes: the best of 5 runs */
static int scan_file(const struct sl_scan *s, size_t mb, const char *file, size_t piece)
{
    struct sl_str one = SL_STR_INIT, text = SL_STR_INIT;
    FILE *f = fopen(file, "rb");
    char buf[65536];
    for (size_t n; f && (n = fread(buf, 1, sizeof(buf), f)) > 0;)
        sl_str_add(&one, buf, n);
    if (f)
        fclose(f);
    if (!one.len) {
        fprintf(stderr, "%s: empty or unreadable\n", file);
        return 1;
    }
    while (text.len < mb << 20)
        sl_str_add(&text, one.buf, one.len);
    double best = 0;
    int hits = 0;
    for (int run = 0; run < 5; run++) {
        hits = 0;
        double t0 = now();
        for (size_t at = 0; at < text.len; at += piece)
            sl_scan_text(s, NULL, text.buf + at, SL_MIN(piece, text.len - at), count, &hits);
        double dt = now() - t0;
        best = run == 0 || dt < best ? dt : best;
    }
    printf("%s, %zu KiB pieces, %.1f MB: best %.4f s of CPU, %.0f MB/s, %d findings\n", file,
           piece >> 10, (double)text.len / 1e6, best, (double)text.len / 1e6 / best, hits);
    sl_str_release(&one);
    sl_str_release(&text);
    return 0;
}

int main(int argc, char **argv)
{
    size_t mb = argc > 1 ? (size_t)strtoul(argv[1], NULL, 10) : 32;
    struct sl_scan *s = NULL;
    struct sl_error err = SL_ERROR_INIT;
    if (sl_scan_default(&s, &err) < 0) {
        fprintf(stderr, "%s\n", err.message);
        return 1;
    }
    if (argc > 2) {
        size_t kib = argc > 3 ? (size_t)strtoul(argv[3], NULL, 10) : 1024;
        int rc = scan_file(s, mb, argv[2], (kib ? kib : 1024) << 10);
        sl_scan_free(s);
        return rc;
    }
    static const char *const names[] = {"log", "diff", "log, a keyword on every line"};
    for (int kind = 0; kind < 3; kind++) {
        struct sl_str text = SL_STR_INIT;
        make(&text, mb << 20, kind == 1, kind == 2);
        int hits = 0;
        double t0 = now();
        /* in 1 MiB pieces, as a log is stored */
        for (size_t at = 0; at < text.len; at += 1u << 20)
            sl_scan_text(s, kind == 1 ? "src/app.py" : NULL, text.buf + at,
                         SL_MIN((size_t)1u << 20, text.len - at), count, &hits);
        double dt = now() - t0;
        printf("%-30s %zu MB: %.3f s of CPU, %.0f MB/s, %d findings (%zu rules)\n", names[kind], mb,
               dt, (double)mb / dt, hits, sl_scan_rule_count(s));
        sl_str_release(&text);
    }
    sl_scan_free(s);
    return 0;
}
