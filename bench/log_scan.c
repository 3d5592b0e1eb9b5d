/* log_scan: what secret scanning adds to the server's log handling. The same log (N MB,
 * default 32, of build-output lines, a rule's keyword on one line in 40 and a real-looking
 * token every ~1 MiB) is stored in chunks of 4 KiB (a runner's small trace PATCHes), 64 KiB
 * and 1 MiB, once with sl_store_log_append alone (what the server did before) and once with
 * sl_srv_log_append, the server's own path: the append, the log's last 8 KiB (kept in memory
 * from the chunk before), the scan, findings recorded. Each run is a new job of one SQLite store (a
 * file, WAL). Prints the process's CPU time (the figure that holds on a loaded machine) and wall
 * time of each, and the overhead. With ROUNDS (default 1), each chunk size runs that many
 * pairs, which of the two goes first alternating (the store's file grows with every job), and
 * prints the medians: the store's own noise is as large as scanning's part.
 *
 * Both jobs get each chunk as the server does: copied first into a new request buffer (the
 * HTTP layer's body, grown piece by piece), so the chunk is in cache when the append (and the
 * scan) reads it, as in the server. Before scan10 the scan read the 32 MB log itself and took
 * its cache misses, which the store-only job took in its own newline pass: that charged
 * scanning about 2 points of store CPU at 64 KiB and 1 MiB that a server does not pay. The
 * copy is outside both jobs' shares in a profile (it is under main, not under an append); in
 * the CPU times it is in both. The default rules are compiled before the jobs (a server
 * compiles them once, at its first chunk). (The two jobs'
 * appends interleaved chunk by chunk, each call timed, was worse: SQLite's WAL checkpoint
 * every few MiB fell on the same side of every pair, 0.05 s against 0.2 s at 1 MiB.)
 *
 *   cmake --preset release && cmake --build build/release --target sl_server
 *   cc -O2 -D_GNU_SOURCE -Isrc bench/log_scan.c build/release/libsl_server.a \
 *      build/release/libsl_{sched,plan,config,expr,jobspec,exec,store,flags,scan,base}.a \
 *      $(pkg-config --libs libmicrohttpd libcurl libgit2 sqlite3 libpq libsodium jansson \
 *      libpcre2-8 libfyaml libarchive) -lm -lpthread -o /tmp/log_scan
 *   /tmp/log_scan /tmp/log_scan.db [MB [ROUNDS [CHUNK_KIB [LOG-FILE]]]]
 *
 * LOG-FILE: the log is that file's text repeated (an ordinary build log, say the compiler's
 * commands of `ninja -t commands`) instead of the generated lines; 0 as CHUNK_KIB: every size.
 *
 * CHUNK_KIB (4, 64 or 1024) runs that chunk size alone, for a profile of one size:
 * `perf record --call-graph dwarf` of it, scanning's samples (under sl_srv_log_append, not
 * under its store append, the findings' inserts counted as scanning's) against those of the
 * store-only job's appends. */
#include "base/compat.h"
#include "base/alloc.h"
#include "base/str.h"
#include "base/time.h"
#include "scan/scan.h"
#include "server/internal.h"

#include <time.h>
#include <unistd.h>

/* the size of the pieces libmicrohttpd hands on_request of a request's body: what fits in its
 * read buffer (half of MHD_OPTION_CONNECTION_MEMORY_LIMIT's default 32 KiB) */
#define BODY_PIECE 16384

static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void make_log(struct sl_str *s, size_t bytes)
{
    unsigned long x = 88172645463325252UL;
    size_t i = 0;
    while (s->len < bytes) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        if (i % 40 == 0)
            sl_str_addf(s, "[%zu] fetching token for registry mirror %lu (cached)\n", i, x % 977);
        else
            sl_str_addf(s, "[%zu] CC src/module_%lu/file_%lu.o -O2 -Wall -fPIC ok\n", i, x % 97,
                        x % 1013);
        if (i % 18000 == 0) /* a made-up token, about every MiB */
            sl_str_addf(s, "export GITHUB_TOKEN=ghp_%016lx%016lxAbCd\n", x, x * 31);
        i++;
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, size_t n)
{
    qsort(v, n, sizeof(*v), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static int64_t new_job(struct sl_store *st, int64_t project, struct sl_error *err)
{
    struct sl_store_job j = {.name = (char *)"bench",
                             .stage = (char *)"test",
                             .status = (char *)"running",
                             .spec = (char *)"{\"script\":[\"true\"]}"};
    struct sl_store_pipeline pl = {.project_id = project,
                                   .status = (char *)"running",
                                   .ref = (char *)"main",
                                   .source = (char *)"push"};
    int64_t pid = 0;
    if (sl_store_pipeline_create(st, &pl, &j, 1, sl_time_now_ms(), &pid, NULL, err) < 0)
        return -1;
    struct sl_store_job *jobs = NULL;
    size_t n = 0;
    int64_t id = -1;
    if (sl_store_job_list_by_pipeline(st, pid, &jobs, &n, err) == 0 && n == 1)
        id = jobs[0].id;
    sl_store_jobs_free(jobs, n);
    return id;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s DB-FILE [MB [ROUNDS [CHUNK_KIB [LOG-FILE]]]]\n", argv[0]);
        return 2;
    }
    size_t mb = argc > 2 ? (size_t)atoi(argv[2]) : 32;
    size_t rounds = argc > 3 && atoi(argv[3]) > 0 ? (size_t)atoi(argv[3]) : 1;
    if (rounds > 64)
        rounds = 64;
    size_t only = argc > 4 ? (size_t)atoi(argv[4]) << 10 : 0; /* one chunk size (KiB): perf */
    struct sl_error err = SL_ERROR_INIT;
    struct sl_server s = {0};
    struct sl_str log = SL_STR_INIT;
    unlink(argv[1]);
    if (sl_store_open(&s.st, argv[1], &err) < 0) {
        fprintf(stderr, "log_scan: %s\n", sl_error_format(&err));
        return 1;
    }
    sl_srv_scan_init(&s);
    /* the default rules compiled before the jobs, as a running server has them after its first
     * chunk (default_scan compiles them once a process): not a cost of these jobs' logs */
    if (sl_scan_default(&s.scan, &err) < 0) {
        fprintf(stderr, "log_scan: %s\n", sl_error_format(&err));
        return 1;
    }
    struct sl_store_project p = {.name = (char *)"bench-log", .repo_url = (char *)"file:///x"};
    int64_t project = 0;
    if (sl_store_project_create(s.st, &p, sl_time_now_ms(), &project, &err) < 0) {
        fprintf(stderr, "log_scan: %s\n", sl_error_format(&err));
        return 1;
    }
    if (argc > 5) { /* a log of the file's text, repeated */
        struct sl_str file = SL_STR_INIT;
        FILE *fp = fopen(argv[5], "rb");
        char buf[65536];
        size_t got;
        while (fp && (got = fread(buf, 1, sizeof(buf), fp)) > 0)
            sl_str_add(&file, buf, got);
        if (fp)
            fclose(fp);
        if (!file.len) {
            fprintf(stderr, "log_scan: cannot read %s\n", argv[5]);
            return 1;
        }
        while (log.len < mb << 20)
            sl_str_add(&log, file.buf, SL_MIN(file.len, (mb << 20) - log.len));
        sl_str_release(&file);
    } else {
        make_log(&log, mb << 20);
    }
    printf("%s, a log of %.1f MB\n", sl_store_backend(s.st), (double)log.len / 1048576.0);
    static const size_t chunks[] = {4096, 65536, 1048576};
    for (size_t c = 0; c < SL_ARRAY_LEN(chunks); c++) {
        if (only && chunks[c] != only)
            continue;
        double cpu[2][64], wall[2][64], added[64];
        for (size_t round = 0; round < rounds; round++) {
            for (int k = 0; k < 2; k++) {
                int scan = round % 2 ? !k : k; /* odd rounds: scanning first */
                int64_t job = new_job(s.st, project, &err);
                if (job < 0) {
                    fprintf(stderr, "log_scan: %s\n", sl_error_format(&err));
                    return 1;
                }
                double c0 = cpu_now();
                int64_t w0 = sl_time_mono_ns();
                for (size_t at = 0; at < log.len; at += chunks[c]) {
                    size_t n = SL_MIN(chunks[c], log.len - at);
                    /* the request's body, as http.c's on_request builds it: a new buffer per
                     * request, grown by sl_str_add with each piece MHD hands over */
                    struct sl_str body = SL_STR_INIT;
                    for (size_t off = 0; off < n; off += BODY_PIECE)
                        sl_str_add(&body, log.buf + at + off, SL_MIN(BODY_PIECE, n - off));
                    int rc = scan ? sl_srv_log_append(&s, job, 0, body.buf, n, 0, NULL, &err)
                                  : sl_store_log_append(s.st, job, body.buf, n, 0, NULL, &err);
                    sl_str_release(&body);
                    if (rc < 0) {
                        fprintf(stderr, "log_scan: %s\n", sl_error_format(&err));
                        return 1;
                    }
                }
                cpu[scan][round] = cpu_now() - c0;
                wall[scan][round] = (double)(sl_time_mono_ns() - w0) / 1e9;
            }
            added[round] = 100.0 * (cpu[1][round] - cpu[0][round]) / cpu[0][round];
        }
        double added_median = median(added, rounds), store_cpu = median(cpu[0], rounds),
               scan_cpu = median(cpu[1], rounds), store_wall = median(wall[0], rounds),
               scan_wall = median(wall[1], rounds);
        printf("  chunks of %4zu KiB: store only %.3f s CPU (%.3f s wall), with scanning %.3f s "
               "CPU (%.3f s wall): +%.1f%% CPU, %.0f MB/s of log handled with scanning",
               chunks[c] >> 10, store_cpu, store_wall, scan_cpu, scan_wall,
               100.0 * (scan_cpu - store_cpu) / store_cpu, (double)log.len / 1048576.0 / scan_cpu);
        if (rounds > 1)
            printf(" (medians of %zu rounds; the rounds' own: %+.1f%%)", rounds, added_median);
        printf("\n");
    }
    sl_str_release(&log);
    sl_srv_scan_free(&s);
    sl_store_close(s.st);
    return 0;
}
