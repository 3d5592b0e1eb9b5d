/* fs.h: file-system helpers with explicit limits and sl_error reporting. */
#ifndef SL_FS_H
#define SL_FS_H

#include "base/compat.h"
#include "base/error.h"

/* Reads PATH whole. Fails with SL_ELIMIT when it is larger than MAX bytes, SL_ENOENT when
 * it does not exist. On success *out is NUL-terminated (caller frees) and *len its size. */
int sl_fs_read_file(const char *path, size_t max, char **out, size_t *len, struct sl_error *err);
/* Writes DATA to PATH through a temporary file and rename, so readers never see half. */
int sl_fs_write_atomic(const char *path, const void *data, size_t len, int mode,
                       struct sl_error *err);
/* mkdir -p; MODE for created directories. */
int sl_fs_mkdir_p(const char *path, int mode, struct sl_error *err);
/* rm -rf, without following symlinks. Missing PATH is success. */
int sl_fs_remove_tree(const char *path, struct sl_error *err);
bool sl_fs_is_dir(const char *path);
bool sl_fs_exists(const char *path);
/* DIR "/" NAME, without doubling slashes. Caller frees. */
char *sl_fs_join(const char *dir, const char *name);

#endif
