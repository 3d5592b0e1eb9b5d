/* store_claim: jobs claimed per second from a queue of N pending jobs (default 10,000),
 * by 1 and by 4 threads sharing one store (pool of 4 connections).
 *
 * Build (after building sl_store in a release dir) and run:
 *   cmake -S . -B build/rel -G Ninja -DCMAKE_BUILD_TYPE=Release && \
 *     cmake --build build/rel --target sl_store
 *   cc -O2 -D_GNU_SOURCE -Isrc bench/store_claim.c build/rel/libsl_store.a \
 *      build/rel/libsl_base.a $(pkg-config --libs sqlite3 libpq libsodium) -lpthread \
 *      -o /tmp/store_claim
 *   /tmp/store_claim sqlite:///tmp/claim.db
 *   url=$(scripts/pg-test-server.sh start --durable); /tmp/store_claim "$url"; \
 *     scripts/pg-test-server.sh stop "$url"
 *
 * The database at URL is used as it is: point it at a scratch database. Each round deletes
 * its own project first. */
#include "base/compat.h"
#include "base/alloc.h"
#include "base/time.h"
#include "store/store.h"

#include <pthread.h>

struct worker {
    struct sl_store *st;
    char id[32];
    long claimed;
    long errors;
};

static void *claim_all(void *arg)
{
    struct worker *w = arg;
    for (;;) {
        struct sl_store_job j = {0};
        int rc = sl_store_claim_job(w->st, w->id, NULL, 0, 600, sl_time_now_ms(), &j, NULL);
        if (rc == 0)
            break;
        if (rc < 0) {
            if (++w->errors > 100)
                break;
            continue;
        }
        w->claimed++;
        sl_store_job_release(&j);
    }
    return NULL;
}

static int fill(struct sl_store *st, int n, struct sl_error *err)
{
    struct sl_store_project old = {0};
    if (sl_store_project_get_by_name(st, "bench-claim", &old, NULL) == 0) {
        sl_store_project_delete(st, old.id, NULL);
        sl_store_project_release(&old);
    }
    struct sl_store_project p = {.name = (char *)"bench-claim", .repo_url = (char *)"file:///x"};
    int64_t project = 0;
    int rc = sl_store_project_create(st, &p, sl_time_now_ms(), &project, err);
    if (rc < 0)
        return rc;
    struct sl_store_job *jobs = sl_xcalloc((size_t)n, sizeof(*jobs));
    char **names = sl_xcalloc((size_t)n, sizeof(*names));
    for (int i = 0; i < n; i++) {
        names[i] = sl_xasprintf("job-%d", i);
        jobs[i] = (struct sl_store_job){.name = names[i],
                                        .stage = (char *)"test",
                                        .status = (char *)"pending",
                                        .spec = (char *)"{\"script\":[\"true\"]}",
                                        .queued_at = 1 + i};
    }
    struct sl_store_pipeline pl = {.project_id = project,
                                   .status = (char *)"pending",
                                   .ref = (char *)"main",
                                   .source = (char *)"push"};
    int64_t t0 = sl_time_mono_ns();
    rc = sl_store_pipeline_create(st, &pl, jobs, (size_t)n, sl_time_now_ms(), NULL, NULL, err);
    int64_t t1 = sl_time_mono_ns();
    if (rc == 0)
        printf("  created a pipeline of %d jobs in %.0f ms\n", n, (double)(t1 - t0) / 1e6);
    for (int i = 0; i < n; i++)
        free(names[i]);
    free(names);
    free(jobs);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s URL [N]\n", argv[0]);
        return 2;
    }
    int n = argc > 2 ? atoi(argv[2]) : 10000;
    struct sl_error err = SL_ERROR_INIT;
    struct sl_store *st = NULL;
    struct sl_store_options opts = {.pool_size = 4};
    if (sl_store_open_with(&st, argv[1], &opts, &err) < 0) {
        fprintf(stderr, "store_claim: %s\n", sl_error_format(&err));
        return 1;
    }
    printf("%s, %d queued jobs\n", sl_store_backend(st), n);
    static const int thread_counts[] = {1, 4};
    for (size_t r = 0; r < SL_ARRAY_LEN(thread_counts); r++) {
        int nt = thread_counts[r];
        if (fill(st, n, &err) < 0) {
            fprintf(stderr, "store_claim: %s\n", sl_error_format(&err));
            return 1;
        }
        struct worker w[4];
        pthread_t th[4];
        int64_t t0 = sl_time_mono_ns();
        for (int i = 0; i < nt; i++) {
            w[i] = (struct worker){.st = st};
            snprintf(w[i].id, sizeof(w[i].id), "bench-%d", i);
            pthread_create(&th[i], NULL, claim_all, &w[i]);
        }
        long claimed = 0, errors = 0;
        for (int i = 0; i < nt; i++) {
            pthread_join(th[i], NULL);
            claimed += w[i].claimed;
            errors += w[i].errors;
        }
        double s = (double)(sl_time_mono_ns() - t0) / 1e9;
        printf("  %d thread%s: %ld claims in %.2f s = %.0f claims/s (%ld errors)\n", nt,
               nt > 1 ? "s" : "", claimed, s, (double)claimed / s, errors);
    }
    sl_store_close(st);
    return 0;
}
