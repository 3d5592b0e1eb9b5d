/* io.c: the default reader and lister of a project directory, used when the caller of
 * sl_config_load_* injects none. Paths are relative to the project directory, and what they
 * name (symlinks followed) must lie inside it. */
#include "base/compat.h"
#include "config/resolve.h"
#include "base/alloc.h"
#include "base/fs.h"
#include "base/str.h"

#include <dirent.h>
#include <sys/stat.h>

/* A project with more files than this is not walked for include globs: a clear error is
 * better than minutes spent in a home directory someone ran sluice in. */
#define MAX_LISTED_FILES 200000
#define MAX_WALK_DEPTH 64

int sl_config_io_read(void *ctx, const char *path, char **out, size_t *len, struct sl_error *err)
{
    const struct sl_config_io_root *root = ctx;
    /* Confined to the project: a symlink in a repository must not make the server (or a
     * pipeline run on someone's checkout) read files from outside it. */
    return sl_fs_read_within(root->dir, path, root->max_bytes, out, len, err);
}

struct walk {
    void (*emit)(void *emit_ctx, const char *path);
    void *emit_ctx;
    size_t count;
};

static int walk_dir(struct walk *w, struct sl_str *abs, size_t rel_off, int depth,
                    struct sl_error *err)
{
    DIR *d = opendir(abs->buf);
    struct dirent *e;
    int rc = 0;

    if (!d)
        return depth == 0 ? sl_error_set_errno(err, SL_EIO, "cannot list %s", abs->buf) : 0;
    size_t base = abs->len;
    while ((e = readdir(d)) && rc == 0) {
        const char *name = e->d_name;
        if (!strcmp(name, ".") || !strcmp(name, ".."))
            continue;
        if (depth == 0 && (!strcmp(name, ".git") || !strcmp(name, ".sluice")))
            continue;
        sl_str_truncate(abs, base);
        sl_str_addf(abs, "/%s", name);
        struct stat st;
        if (lstat(abs->buf, &st) < 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            if (depth + 1 < MAX_WALK_DEPTH)
                rc = walk_dir(w, abs, rel_off, depth + 1, err);
        } else if (S_ISREG(st.st_mode) || S_ISLNK(st.st_mode)) {
            if (++w->count > MAX_LISTED_FILES) {
                rc = sl_error_set(err, SL_ELIMIT,
                                  "the project has more than %d files; include globs are not "
                                  "expanded in a tree that large",
                                  MAX_LISTED_FILES);
                break;
            }
            w->emit(w->emit_ctx, abs->buf + rel_off);
        }
    }
    sl_str_truncate(abs, base);
    closedir(d);
    return rc;
}

int sl_config_io_list(void *ctx, void (*emit)(void *emit_ctx, const char *path), void *emit_ctx,
                      struct sl_error *err)
{
    const struct sl_config_io_root *root = ctx;
    struct walk w = {emit, emit_ctx, 0};
    struct sl_str abs = SL_STR_INIT;
    size_t dl = strlen(root->dir);

    while (dl > 1 && root->dir[dl - 1] == '/')
        dl--;
    sl_str_add(&abs, root->dir, dl);
    int rc = walk_dir(&w, &abs, abs.len + 1, 0, err);
    sl_str_release(&abs);
    return rc;
}
