/* workspace_clean.c: GIT_CLEAN_FLAGS on a reused workspace, as `git clean` would apply
 * them after `git reset --hard` (workspace.h says which flags). The walk never follows a
 * link: everything is looked at with lstat and removed with unlink/rmdir. */
#include "base/compat.h"
#include "exec/workspace_int.h"
#include "base/alloc.h"
#include "base/fs.h"
#include "base/str.h"

#include <dirent.h>
#include <fnmatch.h>
#include <unistd.h>

#define MAX_EXCLUDES 64

static int add_exclude(struct ws_clean *c, size_t *n, const char *pat, struct sl_error *err)
{
    if (!pat[0])
        return sl_error_set(err, SL_EINVAL, "GIT_CLEAN_FLAGS: -e needs a pattern");
    if (*n >= MAX_EXCLUDES)
        return sl_error_set(err, SL_ELIMIT, "GIT_CLEAN_FLAGS: more than %d -e patterns",
                            MAX_EXCLUDES);
    c->excludes = sl_xrealloc(c->excludes, (*n + 2) * sizeof(*c->excludes));
    c->excludes[(*n)++] = sl_xstrdup(pat);
    c->excludes[*n] = NULL;
    return 0;
}

int sl_ws_clean_parse(struct ws_clean *c, const char *flags, struct sl_error *err)
{
    char *copy = sl_xstrdup(flags ? flags : "-ffdx"), *save = NULL;
    size_t n = 0;
    int rc = 0;

    memset(c, 0, sizeof(*c));
    c->enabled = true;
    if (sl_streq(copy, "none")) {
        c->enabled = false;
        goto out;
    }
    for (char *t = strtok_r(copy, " \t\n", &save); t && rc == 0;
         t = strtok_r(NULL, " \t\n", &save)) {
        if (sl_starts_with(t, "--exclude=")) {
            rc = add_exclude(c, &n, t + 10, err);
        } else if (sl_streq(t, "--force") || sl_streq(t, "--quiet")) {
            /* always forced; nothing is printed anyway */
        } else if (sl_streq(t, "--dry-run")) {
            c->enabled = false;
        } else if (t[0] == '-' && t[1] && t[1] != '-') {
            bool took_pattern = false;
            for (const char *f = t + 1; *f && rc == 0 && !took_pattern; f++) {
                switch (*f) {
                case 'f':
                case 'q':
                    break;
                case 'd':
                    c->dirs = true;
                    break;
                case 'x':
                    c->ignored = true;
                    break;
                case 'X':
                    c->only_ignored = true;
                    break;
                case 'n':
                    c->enabled = false;
                    break;
                case 'e': {
                    const char *pat = f[1] ? f + 1 : strtok_r(NULL, " \t\n", &save);
                    rc = add_exclude(c, &n, pat ? pat : "", err);
                    took_pattern = true; /* the rest of the token was the pattern */
                    break;
                }
                default:
                    rc = sl_error_set(err, SL_EINVAL,
                                      "GIT_CLEAN_FLAGS: unknown flag -%c in \"%s\" (known: -f -d "
                                      "-x -X -q -n -e PATTERN, or none)",
                                      *f, flags);
                }
            }
        } else {
            rc = sl_error_set(err, SL_EINVAL, "GIT_CLEAN_FLAGS: cannot use \"%s\" (in \"%s\")", t,
                              flags);
        }
    }
out:
    free(copy);
    if (rc < 0)
        sl_ws_clean_release(c);
    return rc;
}

void sl_ws_clean_release(struct ws_clean *c)
{
    if (c->excludes)
        for (char **p = c->excludes; *p; p++)
            free(*p);
    free(c->excludes);
    c->excludes = NULL;
}

/* A -e pattern as gitignore reads one: with a slash it matches the whole path from the
 * top, without one the base name at any depth; a trailing slash matches directories only. */
static bool excluded(const struct ws_clean *c, const char *rel, bool is_dir)
{
    if (!c->excludes)
        return false;
    const char *base = strrchr(rel, '/');
    base = base ? base + 1 : rel;
    for (char **p = c->excludes; *p; p++) {
        char *pat = sl_xstrdup(**p == '/' ? *p + 1 : *p);
        size_t len = strlen(pat);
        bool dir_only = len > 1 && pat[len - 1] == '/';
        if (dir_only)
            pat[len - 1] = '\0';
        bool hit = false;
        if (!dir_only || is_dir)
            hit = strchr(pat, '/') || **p == '/' ? fnmatch(pat, rel, FNM_PATHNAME) == 0
                                                 : fnmatch(pat, base, 0) == 0;
        free(pat);
        if (hit)
            return true;
    }
    return false;
}

struct walker {
    const struct ws_clean *c;
    const char *root;
    const struct sl_map *expected;
    bool (*is_ignored)(void *ctx, const char *rel);
    void *ctx;
    size_t removed;
};

static int remove_path(struct walker *w, const char *abs, struct sl_error *err)
{
    int rc = sl_fs_remove_tree(abs, err);
    if (rc == 0)
        w->removed++;
    return rc;
}

/* Whether git clean would take the untracked REL. */
static bool cleans(struct walker *w, const char *rel)
{
    bool ign = w->is_ignored && w->is_ignored(w->ctx, rel);
    if (w->c->only_ignored)
        return ign;
    return w->c->ignored || !ign;
}

static int walk(struct walker *w, const char *rel, bool untracked, struct sl_error *err);

static int visit(struct walker *w, const char *rel, bool untracked_parent, struct sl_error *err)
{
    char *abs = sl_fs_join(w->root, rel);
    struct stat st;
    int rc = 0;

    if (lstat(abs, &st) < 0)
        goto out; /* gone meanwhile */
    bool is_dir = S_ISDIR(st.st_mode);
    void *want = untracked_parent ? NULL : sl_map_get(w->expected, rel);
    if (want == WS_EXPECT_DIR) {
        rc = is_dir ? walk(w, rel, false, err) : remove_path(w, abs, err);
    } else if (want == WS_EXPECT_FILE) {
        if (is_dir) /* a directory where the project has a file: reset replaces it */
            rc = remove_path(w, abs, err);
    } else if (!w->c->enabled || excluded(w->c, rel, is_dir)) {
        /* kept */
    } else if (!is_dir) {
        if (cleans(w, rel))
            rc = remove_path(w, abs, err);
    } else if (w->c->dirs) {
        /* a whole untracked directory goes at once unless something inside may stay */
        bool ign = w->is_ignored && w->is_ignored(w->ctx, rel);
        if (!w->c->only_ignored && !w->c->ignored && ign)
            goto out; /* an ignored directory without -x */
        if ((w->c->only_ignored && !ign) || w->c->excludes) {
            if ((rc = walk(w, rel, true, err)) == 0 && rmdir(abs) == 0)
                w->removed++;
        } else {
            rc = remove_path(w, abs, err);
        }
    }
out:
    free(abs);
    return rc;
}

static int walk(struct walker *w, const char *rel, bool untracked, struct sl_error *err)
{
    char *dir = rel[0] ? sl_fs_join(w->root, rel) : sl_xstrdup(w->root);
    DIR *d = opendir(dir);
    char **names = NULL;
    size_t nnames = 0, cap = 0;
    struct dirent *e;
    int rc = 0;

    if (!d) {
        rc = sl_error_set_errno(err, SL_EIO, "cannot read the directory %s", dir);
        goto out;
    }
    /* names first, then visits: removing while readdir walks the same directory is
     * allowed but may skip or repeat entries */
    while ((e = readdir(d))) {
        if (sl_streq(e->d_name, ".") || sl_streq(e->d_name, ".."))
            continue;
        if (!rel[0] && sl_streq(e->d_name, ".git"))
            continue;
        SL_GROW(names, cap, nnames + 1);
        names[nnames++] = rel[0] ? sl_xasprintf("%s/%s", rel, e->d_name) : sl_xstrdup(e->d_name);
    }
    for (size_t i = 0; i < nnames && rc == 0; i++)
        rc = visit(w, names[i], untracked, err);
out:
    for (size_t i = 0; i < nnames; i++)
        free(names[i]);
    free(names);
    if (d)
        closedir(d);
    free(dir);
    return rc;
}

int sl_ws_clean_walk(const struct ws_clean *c, const char *root, const struct sl_map *expected,
                     bool (*is_ignored)(void *ctx, const char *rel), void *ctx, size_t *removed,
                     struct sl_error *err)
{
    struct walker w = {c, root, expected, is_ignored, ctx, 0};
    int rc = walk(&w, "", false, err);
    *removed += w.removed;
    return rc;
}
