/* workspace_artifacts: what a job pays for its workspace and its artifacts.
 *  (1) sl_workspace_prepare on a generated git repository of 1,000 committed files (plus a
 *      few local edits and untracked files), median of N copies;
 *  (2) sl_artifacts_collect then sl_artifacts_extract of 100 MB: once incompressible
 *      (random bytes), once compressible (log-like text).
 *
 * Build (after building sl_exec in build/<dir>) and run:
 *   cc -O2 -D_GNU_SOURCE -Isrc bench/workspace_artifacts.c build/<dir>/libsl_exec.a \
 *      build/<dir>/libsl_base.a $(pkg-config --libs libgit2 libarchive libsodium jansson \
 *      libpcre2-8 libxml-2.0) -lpthread -o /tmp/wa && /tmp/wa [DIR] [N]
 * DIR (default /tmp) holds the generated trees; it should be on the disk builds use. */
#include "base/compat.h"
#include "exec/artifacts.h"
#include "exec/workspace.h"
#include "base/alloc.h"
#include "base/fs.h"
#include "base/time.h"

#include <fcntl.h>
#include <unistd.h>

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static void put(const char *path, const char *data, size_t n)
{
    if (sl_fs_write_atomic(path, data, n, 0644, NULL) < 0) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(1);
    }
}

static void die_on(int rc, struct sl_error *err)
{
    if (rc < 0) {
        fprintf(stderr, "error: %s\n", sl_error_format(err));
        exit(1);
    }
}

int main(int argc, char **argv)
{
    const char *base = argc > 1 ? argv[1] : "/tmp";
    int n = argc > 2 ? atoi(argv[2]) : 20;
    char *root = sl_xasprintf("%s/sluice-bench-wa.%d", base, (int)getpid());
    char *proj = sl_fs_join(root, "proj");
    struct sl_error err = SL_ERROR_INIT;
    char buf[2048];

    /* (1) a 1,000-file repository: 50 directories of 20 files of about 2 KB */
    for (int d = 0; d < 50; d++) {
        char *dir = sl_xasprintf("%s/src/mod%02d", proj, d);
        sl_fs_mkdir_p(dir, 0755, NULL);
        for (int f = 0; f < 20; f++) {
            char *p = sl_xasprintf("%s/file%02d.c", dir, f);
            int len = snprintf(buf, sizeof(buf), "/* module %d file %d */\n", d, f);
            while (len < (int)sizeof(buf) - 40)
                len += snprintf(buf + len, sizeof(buf) - (size_t)len, "int f%d_%d_%d(void);\n", d,
                                f, len);
            put(p, buf, (size_t)len);
            free(p);
        }
        free(dir);
    }
    char *cmd = sl_xasprintf("cd '%s' && git -c init.defaultBranch=main init -q && git add -A && "
                             "git -c user.name=b -c user.email=b@b commit -q -m init && "
                             "echo edit >> src/mod00/file00.c && echo new > untracked.txt",
                             proj);
    if (system(cmd) != 0) {
        fprintf(stderr, "git failed\n");
        return 1;
    }
    free(cmd);
    int64_t *ns = sl_xcalloc((size_t)n, sizeof(*ns));
    struct sl_workspace_stats st = {0};
    for (int i = 0; i < n; i++) {
        char *dest = sl_xasprintf("%s/.sluice/builds/%d", proj, i);
        int64_t t0 = sl_time_mono_ns();
        die_on(sl_workspace_prepare(proj, dest, NULL, &st, &err), &err);
        ns[i] = sl_time_mono_ns() - t0;
        free(dest);
    }
    qsort(ns, (size_t)n, sizeof(*ns), cmp_i64);
    printf("workspace copy, %zu files (%.1f MB), git=%d reflink=%d: median %.2f ms, min %.2f ms,"
           " max %.2f ms over %d copies\n",
           st.files, (double)st.bytes / 1e6, st.git, st.reflinked, (double)ns[n / 2] / 1e6,
           (double)ns[0] / 1e6, (double)ns[n - 1] / 1e6, n);

    /* (2) 100 MB of artifacts, 100 files of 1 MB */
    static const char *kinds[] = {"random", "text"};
    for (int k = 0; k < 2; k++) {
        char *ws = sl_xasprintf("%s/ws-%s", root, kinds[k]);
        char *out = sl_xasprintf("%s/out", ws);
        sl_fs_mkdir_p(out, 0755, NULL);
        char *mb = sl_xmalloc(1 << 20);
        int rfd = open("/dev/urandom", O_RDONLY);
        for (int f = 0; f < 100; f++) {
            if (k == 0) {
                for (size_t off = 0; off < (1 << 20);) {
                    ssize_t r = read(rfd, mb + off, (1 << 20) - off);
                    if (r <= 0)
                        return 1;
                    off += (size_t)r;
                }
            } else {
                size_t off = 0;
                for (int line = 0; off < (1 << 20) - 128; line++)
                    off += (size_t)snprintf(mb + off, 128,
                                            "2024-05-01T10:%02d:%02d INFO worker %d handled "
                                            "request %d in %d ms\n",
                                            line % 60, f % 60, line % 7, line, (line * 37) % 500);
                memset(mb + off, '\n', (1 << 20) - off);
            }
            char *p = sl_xasprintf("%s/part%03d.bin", out, f);
            put(p, mb, 1 << 20);
            free(p);
        }
        close(rfd);
        free(mb);
        struct sl_artifacts_spec spec = SL_ARTIFACTS_SPEC_INIT;
        spec.select.paths = (const char *const[]){"out/", NULL};
        struct sl_artifacts_meta *m = NULL;
        char *store = sl_xasprintf("%s/store-%s", root, kinds[k]);
        int64_t t0 = sl_time_mono_ns();
        die_on(sl_artifacts_collect(&m, ws, &spec, store, &err), &err);
        int64_t t1 = sl_time_mono_ns();
        char *dest = sl_xasprintf("%s/restore-%s", root, kinds[k]);
        die_on(sl_artifacts_extract(m->archive, dest, 0, NULL, &err), &err);
        int64_t t2 = sl_time_mono_ns();
        printf("artifacts, 100 MB %s in 100 files: collect %.2f s (archive %.1f MB), extract "
               "%.2f s\n",
               kinds[k], (double)(t1 - t0) / 1e9, (double)m->archive_bytes / 1e6,
               (double)(t2 - t1) / 1e9);
        sl_artifacts_meta_free(m);
        free(dest);
        free(store);
        free(out);
        free(ws);
    }
    sl_fs_remove_tree(root, NULL);
    free(ns);
    free(proj);
    free(root);
    return 0;
}
