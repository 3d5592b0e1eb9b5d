/* workspace_int.h: what the workspace files (workspace.c, workspace_manifest.c,
 * workspace_clean.c) share. Not an API: nothing outside src/exec/workspace*.c includes it. */
#ifndef SL_EXEC_WORKSPACE_INT_H
#define SL_EXEC_WORKSPACE_INT_H

#include "base/compat.h"
#include "base/error.h"
#include "base/map.h"
#include "base/str.h"
#include "exec/workspace.h"

#include <git2.h>
#include <sys/stat.h>

/* --- Copying (workspace.c) ------------------------------------------------------------ */

/* What a copy run carries: the two roots, the directories already made or checked
 * (relative to DST), and the path of DEST_DIR relative to the project when it lies
 * inside it. */
struct copier {
    const char *src;
    const char *dst;
    struct sl_map dirs;   /* relative dir -> (void *)1 */
    struct sl_str sp, dp; /* scratch: absolute source and destination paths */
    const char *skip_rel; /* DEST_DIR relative to SRC, or NULL */
    bool try_reflink;     /* false once the file system said it cannot */
    bool try_copy_range;  /* false once copy_file_range said it cannot */
    struct sl_workspace_stats st;
};

void sl_ws_copier_init(struct copier *c, const char *src, const char *dst);
void sl_ws_copier_release(struct copier *c);
/* ROOT/REL in S (reset first); returns S's buffer. */
const char *sl_ws_abs_path(struct sl_str *s, const char *root, const char *rel);
/* True for paths the copy never takes: `.sluice/` at the top and DEST_DIR itself. */
bool sl_ws_excluded(const struct copier *c, const char *rel);
/* Makes the directory REL[0..LEN) of DST and its parents, once per run. Something
 * else in the way (a file, a link a job left) is removed first: nothing is ever written
 * through a path that was not checked with lstat. */
int sl_ws_make_dir(struct copier *c, const char *rel, size_t len, mode_t mode,
                   struct sl_error *err);
int sl_ws_make_parent(struct copier *c, const char *rel, struct sl_error *err);
/* Copies the file or link REL whose source lstat is ST into DST, where REL must not
 * exist. Special files are counted as skipped. */
int sl_ws_copy_one(struct copier *c, const char *rel, const struct stat *st, struct sl_error *err);

/* --- Git projects (workspace_git.c) --------------------------------------------------- */

/* Sets ERR from libgit2's last error: "WHAT: message"; returns SL_EPROTO. */
int sl_ws_git_fail(struct sl_error *err, const char *what);
/* Makes (or, under FETCH, updates) the copy of the git project REPO in C->dst. */
int sl_ws_git_prepare(struct copier *c, git_repository *repo, const struct sl_workspace_options *o,
                      struct sl_error *err);

/* The part of a stat that tells whether a file is still the one written: a job that
 * rewrites a file, even keeping its size and mtime, changes its ctime. */
struct ws_stat {
    uint64_t dev, ino, size;
    int64_t mtime_ns, ctime_ns;
    uint32_t mode;
};

void sl_ws_stat_from(struct ws_stat *out, const struct stat *st);
bool sl_ws_stat_same(const struct ws_stat *a, const struct ws_stat *b);

/* One copied file or link: its source's stat when copied and the copy's right after. */
struct ws_entry {
    struct ws_stat src, dst;
};

/* The record of the last prepare of a workspace, in DEST/.git/sluice-workspace. */
struct ws_manifest {
    char head[48];         /* the HEAD commit the index was built from, or "-" */
    struct ws_stat index;  /* the index file as written (a job's `git add` changes it) */
    struct sl_map entries; /* relative path -> struct ws_entry * (owned) */
};

#define WS_MANIFEST_NAME "sluice-workspace"
#define WS_MANIFEST_MAX ((size_t)256 << 20)

void sl_ws_manifest_init(struct ws_manifest *m);
void sl_ws_manifest_release(struct ws_manifest *m);
/* Adds (or replaces) PATH's entry. */
void sl_ws_manifest_put(struct ws_manifest *m, const char *path, const struct ws_stat *src,
                        const struct ws_stat *dst);
/* Loads PATH into M (initialised). Returns 0, or -1 when the file is missing, too large
 * or damaged: the caller then starts afresh. */
int sl_ws_manifest_load(struct ws_manifest *m, const char *path);
/* Writes M to PATH in place when its bytes differ from what is there (no new inode when
 * nothing changed). */
int sl_ws_manifest_save(const struct ws_manifest *m, const char *path, struct sl_error *err);

/* GIT_CLEAN_FLAGS, parsed. */
struct ws_clean {
    bool enabled;      /* false for "none" */
    bool dirs;         /* -d */
    bool ignored;      /* -x */
    bool only_ignored; /* -X */
    char **excludes;   /* -e patterns, NULL-terminated, owned */
};

int sl_ws_clean_parse(struct ws_clean *c, const char *flags, struct sl_error *err);
void sl_ws_clean_release(struct ws_clean *c);

/* What a path of the copy must be, in the EXPECTED map of sl_ws_clean_walk. */
#define WS_EXPECT_FILE ((void *)1) /* a file or a link */
#define WS_EXPECT_DIR ((void *)2)

/* Brings ROOT (a reused workspace) back to what EXPECTED lists, before files are copied:
 * an expected path of the wrong type is removed whatever the flags (git reset would
 * replace it); a path not expected is removed as C says. IS_IGNORED (may be NULL: nothing
 * is ignored) answers whether a relative path is ignored by the copy's .gitignore files.
 * `.git` at the top is never touched. *REMOVED counts what went. */
int sl_ws_clean_walk(const struct ws_clean *c, const char *root, const struct sl_map *expected,
                     bool (*is_ignored)(void *ctx, const char *rel), void *ctx, size_t *removed,
                     struct sl_error *err);

#endif
