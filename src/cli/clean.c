/* clean.c: `sluice clean`, removing what `sluice run` keeps under .sluice/: the jobs'
 * workspaces (builds/), the caches (cache/), and the pipelines' artifacts and logs
 * (pipelines/<id>/), the newest N kept with --keep. The counters stay, so pipeline and
 * job numbers never repeat, and so does .gitignore. */
#include "base/compat.h"
#include "base/alloc.h"
#include "base/error.h"
#include "base/fs.h"
#include "cli/cli.h"
#include "cli/opts.h"
#include "cli/pipeline.h"

#include <dirent.h>
#include <ftw.h>
#include <libgen.h>

enum {
    WHAT_WORKSPACES = 1 << 0,
    WHAT_CACHES = 1 << 1,
    WHAT_ARTIFACTS = 1 << 2,
    WHAT_PIPELINES = 1 << 3,
};

static const struct sl_cli_opt clean_opts[] = {
    {'W', 0, "workspaces", NULL, "the jobs' workspaces (.sluice/builds/)", 0},
    {'C', 0, "caches", NULL, "the caches (.sluice/cache/)", 0},
    {'A', 0, "artifacts", NULL, "the artifacts of pipelines (.sluice/pipelines/N/artifacts/)", 0},
    {'P', 0, "pipelines", NULL, "whole pipelines: their logs and artifacts", 0},
    {'k', 0, "keep", "N", "keep the N newest pipelines (default 0)", 0},
    {'n', 'n', "dry-run", NULL, "say what would be removed, remove nothing", 0},
    {'f', 'f', "file", "FILE",
     "the pipeline file whose project to clean (default: the .gitlab-ci.yml at the root of the "
     "current git work tree)",
     0},
};

const struct sl_cli_spec sl_cli_spec_clean = {
    .name = "clean",
    .about = "Removes what 'sluice run' keeps under .sluice/ of the project. Without a choice,\n"
             "all of it; the pipeline and job counters stay, so numbers never repeat.\n",
    .epilog = "Exit codes: 0 done, 2 usage error or something could not be removed.\n",
    .docs = "docs/run.md",
    .opts = clean_opts,
    .nopts = SL_ARRAY_LEN(clean_opts),
};

static _Thread_local uint64_t walked_bytes;

static int add_size(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)path, (void)ftw;
    if (flag == FTW_F)
        walked_bytes += (uint64_t)st->st_blocks * 512;
    return 0;
}

static uint64_t tree_bytes(const char *path)
{
    walked_bytes = 0;
    nftw(path, add_size, 16, FTW_PHYS);
    return walked_bytes;
}

static void human(uint64_t b, char *buf, size_t n)
{
    if (b >= (1ull << 30))
        snprintf(buf, n, "%.1f GiB", (double)b / (1ull << 30));
    else if (b >= (1ull << 20))
        snprintf(buf, n, "%.1f MiB", (double)b / (1ull << 20));
    else
        snprintf(buf, n, "%.0f KiB", (double)b / 1024);
}

struct clean {
    const char *root; /* the project directory, for shown paths */
    bool dry;
    uint64_t total;
    size_t removed;
    int ret;
};

/* Removes PATH (a tree) unless dry, saying so. */
static void drop(struct clean *c, const char *path)
{
    if (!sl_fs_exists(path))
        return;
    char sz[32];
    uint64_t b = tree_bytes(path);
    const char *shown = path + strlen(c->root) + 1;
    human(b, sz, sizeof(sz));
    if (c->dry) {
        printf("would remove %s (%s)\n", shown, sz);
    } else {
        struct sl_error err = SL_ERROR_INIT;
        if (sl_fs_remove_tree(path, &err) < 0) {
            sl_cli_error("clean: %s", sl_error_format(&err));
            sl_error_release(&err);
            c->ret = SL_EXIT_USAGE;
            return;
        }
        printf("removed %s (%s)\n", shown, sz);
    }
    c->total += b;
    c->removed++;
}

static int cmp_desc(const void *a, const void *b)
{
    long long x = *(const long long *)a, y = *(const long long *)b;
    return x < y ? 1 : x > y ? -1 : 0;
}

/* The pipeline ids under DIR, newest first. Caller frees. */
static long long *pipeline_ids(const char *dir, size_t *n)
{
    long long *ids = NULL;
    size_t cap = 0;
    *n = 0;
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        char *end;
        long long id = strtoll(e->d_name, &end, 10);
        if (*end || end == e->d_name || id <= 0)
            continue; /* not one of ours */
        SL_GROW(ids, cap, *n + 1);
        ids[(*n)++] = id;
    }
    if (d)
        closedir(d);
    if (*n)
        qsort(ids, *n, sizeof(*ids), cmp_desc);
    return ids;
}

int sl_cmd_clean(int argc, char **argv)
{
    unsigned what = 0;
    long keep = 0;
    const char *file = NULL;
    char *found = NULL, *end;
    struct clean c = {0};
    int opt;

    struct sl_cli_args ca;
    sl_cli_args_init(&ca, &sl_cli_spec_clean, argc, argv);
    while ((opt = sl_cli_next(&ca)) > 0) {
        switch (opt) {
        case 'W':
            what |= WHAT_WORKSPACES;
            break;
        case 'C':
            what |= WHAT_CACHES;
            break;
        case 'A':
            what |= WHAT_ARTIFACTS;
            break;
        case 'P':
            what |= WHAT_PIPELINES;
            break;
        case 'k':
            keep = strtol(ca.arg, &end, 10);
            if (*end || end == ca.arg || keep < 0) {
                sl_cli_error("clean: --keep takes a number of pipelines, not '%s'", ca.arg);
                return SL_EXIT_USAGE;
            }
            break;
        case 'n':
            c.dry = true;
            break;
        case 'f':
            file = ca.arg;
            break;
        }
    }
    if (opt < 0)
        return ca.exit;
    if (sl_cli_too_many(&ca, 0))
        return SL_EXIT_USAGE;
    if (!what)
        what = WHAT_WORKSPACES | WHAT_CACHES | WHAT_PIPELINES;
    if (!file && !(file = found = sl_cli_default_ci_file()))
        return SL_EXIT_USAGE;
    char *abs = realpath(file, NULL);
    if (!abs) {
        sl_cli_error("%s: %s", file, strerror(errno));
        free(found);
        return SL_EXIT_USAGE;
    }
    char *root = sl_xstrdup(dirname(abs));
    char *dot = sl_fs_join(root, ".sluice");
    c.root = root;
    c.ret = SL_EXIT_OK;

    if (what & WHAT_WORKSPACES) {
        char *p = sl_fs_join(dot, "builds");
        drop(&c, p);
        free(p);
    }
    if (what & WHAT_CACHES) {
        char *p = sl_fs_join(dot, "cache");
        drop(&c, p);
        free(p);
    }
    if (what & (WHAT_ARTIFACTS | WHAT_PIPELINES)) {
        char *pdir = sl_fs_join(dot, "pipelines");
        size_t n;
        long long *ids = pipeline_ids(pdir, &n);
        for (size_t i = (size_t)keep; i < n; i++) {
            char *p = sl_xasprintf("%s/%lld", pdir, ids[i]);
            char *art = sl_fs_join(p, "artifacts");
            drop(&c, what & WHAT_PIPELINES ? p : art);
            free(art);
            free(p);
        }
        free(ids);
        free(pdir);
    }
    char sz[32];
    human(c.total, sz, sizeof(sz));
    if (!c.removed)
        printf("nothing to clean in %s/.sluice\n", root);
    else
        printf("%s %zu item%s, %s\n", c.dry ? "would remove" : "removed", c.removed,
               c.removed == 1 ? "" : "s", sz);
    free(dot);
    free(root);
    free(abs);
    free(found);
    return c.ret;
}
