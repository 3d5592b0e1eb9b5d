/* fs.h: file-system helpers with explicit limits and sl_error reporting. */
#ifndef SL_FS_H
#define SL_FS_H

#include "base/compat.h"
#include "base/error.h"

#include <sys/types.h>

/* Reads PATH whole. Fails with SL_ELIMIT when it is larger than MAX bytes, SL_ENOENT when
 * it does not exist. On success *out is NUL-terminated (caller frees) and *len its size. */
int sl_fs_read_file(const char *path, size_t max, char **out, size_t *len, struct sl_error *err);
/* Reads REL, a path relative to ROOT, like sl_fs_read_file but only when the file it names,
 * symlinks followed, lies inside ROOT (symlinks followed too). A path that leaves ROOT fails
 * with SL_EPERM, so a repository's symlink cannot make the server read its own files.
 * The check is on resolved paths; ROOT must not be writable by whoever could race it. */
int sl_fs_read_within(const char *root, const char *rel, size_t max, char **out, size_t *len,
                      struct sl_error *err);
/* 0 when PATH, symlinks followed, lies inside ROOT; SL_EPERM when it leaves ROOT, SL_ENOENT
 * when it (or ROOT) does not exist. On success *resolved (when not NULL) is PATH's real path
 * (caller frees). */
int sl_fs_resolve_within(const char *root, const char *path, char **resolved, struct sl_error *err);
/* sl_fs_resolve_within(REAL_ROOT, REAL_ROOT "/" REL) for a REAL_ROOT that is a real path
 * already (realpath's: absolute, no symlink, "." or ".." in it), so only REL's components
 * are looked at: one lstat each, where realpath reads every component of the whole path
 * again. A REL with a symlink or ".." in it is resolved the slow way. *resolved (when not
 * NULL) as sl_fs_resolve_within's. */
int sl_fs_resolve_below(const char *real_root, const char *rel, char **resolved,
                        struct sl_error *err);
/* Writes DATA to PATH through a temporary file and rename, so readers never see half. */
int sl_fs_write_atomic(const char *path, const void *data, size_t len, int mode,
                       struct sl_error *err);
/* mkdir -p; MODE for created directories. */
int sl_fs_mkdir_p(const char *path, int mode, struct sl_error *err);
/* rm -rf, without following symlinks. Missing PATH is success. */
int sl_fs_remove_tree(const char *path, struct sl_error *err);
/* chown -R PATH to UID:GID without following symlinks (each link itself is changed). */
int sl_fs_chown_tree(const char *path, uid_t uid, gid_t gid, struct sl_error *err);
bool sl_fs_is_dir(const char *path);
bool sl_fs_exists(const char *path);
/* DIR "/" NAME, without doubling slashes. Caller frees. */
char *sl_fs_join(const char *dir, const char *name);

#endif
