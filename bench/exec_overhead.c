/* exec_overhead: per-job cost of sl_exec_run on a `true` script, next to the cost of
 * starting the same shell by hand (posix_spawn + waitpid) and of fork + exec.
 *
 * Build (after building sl_exec in build/<dir>) and run:
 *   cc -O2 -D_GNU_SOURCE -Isrc bench/exec_overhead.c build/<dir>/libsl_exec.a \
 *      build/<dir>/libsl_base.a -lpthread -o /tmp/exec_overhead && /tmp/exec_overhead [N]
 *
 * Prints the mean and median wall time per job over N runs (default 200). */
#include "base/compat.h"
#include "exec/exec.h"
#include "base/time.h"

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static void report(const char *what, int64_t *ns, int n)
{
    int64_t sum = 0;
    for (int i = 0; i < n; i++)
        sum += ns[i];
    qsort(ns, (size_t)n, sizeof(*ns), cmp_i64);
    printf("%-44s mean %7.3f ms  median %7.3f ms  p90 %7.3f ms\n", what, sum / (double)n / 1e6,
           ns[n / 2] / 1e6, ns[n * 9 / 10] / 1e6);
}

static void count_line(void *ctx, enum sl_exec_stream s, const char *line, size_t len)
{
    (void)s, (void)line, (void)len;
    ++*(int *)ctx;
}

static void bench_exec(const char *what, const char *shell, int n, int64_t *ns)
{
    const char *script[] = {"true", NULL};
    struct sl_exec_spec spec;
    struct sl_exec_result r;
    int lines = 0;

    sl_exec_spec_init(&spec);
    spec.script = script;
    spec.shell = shell;
    spec.on_line = count_line;
    spec.ctx = &lines;
    for (int i = 0; i < n; i++) {
        int64_t t0 = sl_time_mono_ns();
        if (sl_exec_run(&spec, &r, NULL) < 0 || r.status != SL_EXEC_SUCCESS) {
            fprintf(stderr, "job failed: %s\n", r.message);
            exit(1);
        }
        ns[i] = sl_time_mono_ns() - t0;
    }
    report(what, ns, n);
}

static void bench_spawn(const char *what, const char *path, bool use_fork, int n, int64_t *ns)
{
    char *argv[] = {(char *)path, (char *)"-c", (char *)"true", NULL};
    for (int i = 0; i < n; i++) {
        int64_t t0 = sl_time_mono_ns();
        pid_t pid;
        int st;
        if (use_fork) {
            pid = fork();
            if (pid == 0) {
                execve(path, argv, environ);
                _exit(127);
            }
        } else if (posix_spawn(&pid, path, NULL, NULL, argv, environ) != 0) {
            exit(1);
        }
        waitpid(pid, &st, 0);
        ns[i] = sl_time_mono_ns() - t0;
    }
    report(what, ns, n);
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 200;
    int64_t *ns = calloc((size_t)n, sizeof(*ns));

    if (n < 10 || !ns)
        return 2;
    printf("%d runs each\n", n);
    bench_spawn("fork+exec sh -c true", "/bin/sh", true, n, ns);
    bench_spawn("fork+exec bash -c true", "/bin/bash", true, n, ns);
    bench_spawn("posix_spawn bash -c true", "/bin/bash", false, n, ns);
    bench_exec("sl_exec_run script [true], shell sh", "sh", n, ns);
    bench_exec("sl_exec_run script [true], shell bash", NULL, n, ns);
    free(ns);
    return 0;
}
