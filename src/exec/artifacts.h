// artifacts.h: job artifacts: choosing files, packing them, unpacking them.
//
// After a job, the runner collects its artifacts from the job's workspace into a store
// directory it owns (say `.sluice/artifacts/<pipeline>/<job>/`); before a later job it
// restores them into that job's workspace. Archives are tar (pax) compressed with zstd,
// written through libarchive. The cache (cache.h) reuses the same packing.
//
//   struct sl_artifacts_spec spec = SL_ARTIFACTS_SPEC_INIT;
//   spec.paths = (const char *const[]){"dist/", "reports/**/*.xml", NULL};
//   spec.exclude = (const char *const[]){"dist/**/*.map", NULL};
//   spec.expire_in_s = 7 * 86400;
//   struct sl_artifacts_meta *meta;
//   if (sl_artifacts_collect(&meta, workspace, &spec, store, &err) < 0) ...
//   ... later, for another job ...
//   sl_artifacts_extract(meta->archive, other_workspace, 0, NULL, &err);
//
// Which files (GitLab's rules, as the runner applies them):
//  - `paths` are globs relative to the workspace (`*`, `?`, `[...]`, `{a,b}` and `**`, with
//    Ruby fnmatch semantics through sl_glob_match: `*` never crosses a `/`, `**/` crosses
//    any number of directories, dot files match). A path or glob that names a directory
//    takes everything under it. A path that matches nothing is a warning, not an error.
//    An absolute path inside the workspace ("$CI_PROJECT_DIR/dist") is taken relative to
//    it.
//  - `exclude` globs are matched against each file's path (not recursive: to exclude a
//    directory's content write `dir/**`, which here, as in the runner, excludes everything
//    below dir).
//  - `untracked` adds every file git does not track in the workspace, ignored files
//    included (as the runner's `git ls-files -o` does); it needs a git workspace.
//  - `.git/` is never taken. Symbolic links are stored as links, never followed; a link
//    whose target is absolute or climbs out of the workspace is refused (SL_EPERM), and
//    so is a path that reaches its files through a link to a directory outside it. The
//    walk below a glob never enters a linked directory (the link itself is taken).
//  - A path that is absolute outside the workspace or climbs out of it with `..` is
//    refused (SL_EPERM).
//
// Unpacking refuses (SL_EPERM) any entry that is absolute, contains a `..` component,
// is a hard link, a device, a fifo, or a symbolic link whose target leaves the workspace:
// the zip-slip family. A symbolic link already in the workspace where an entry (or one of
// its parent directories) goes is removed and replaced, never followed (libarchive's
// UNLINK and SECURE_SYMLINKS together), so nothing is ever written outside. Permissions
// are restored without setuid/setgid bits; files belong to the user who extracts them.
#ifndef SL_EXEC_ARTIFACTS_H
#define SL_EXEC_ARTIFACTS_H

#include "base/compat.h"
#include "base/error.h"

/* Default cap on an archive's (compressed) size, as GitLab's "maximum artifacts size". */
#define SL_ARTIFACTS_MAX_BYTES ((int64_t)1 << 30)
/* Default cap on the bytes one extraction may write (a zstd bomb is tiny on disk). */
#define SL_ARTIFACTS_EXTRACT_MAX_BYTES ((int64_t)16 << 30)
/* Cap on the number of files in one archive, both ways. */
#define SL_ARTIFACTS_MAX_FILES 1000000
/* expire_in values: "never", and GitLab's default when the job gives none (30 days). */
#define SL_ARTIFACTS_EXPIRE_NEVER ((int64_t)-1)
#define SL_ARTIFACTS_EXPIRE_DEFAULT ((int64_t)30 * 86400)

/* Which files: the part of artifacts: and cache: that selects. Arrays are
 * NULL-terminated (NULL: none); every pointer is borrowed. */
struct sl_artifacts_select {
    const char *const *paths;
    const char *const *exclude;
    bool untracked;
};

/* A selection's result. Paths are relative to the workspace, sorted, unique, and name
 * regular files and symbolic links only (directories are implied). */
struct sl_artifacts_list {
    char **paths;
    size_t n, cap;
    uint64_t bytes;  /* sum of the regular files' sizes */
    char **warnings; /* "dist/: no matching files" and the like */
    size_t nwarnings, wcap;
};

void sl_artifacts_list_release(struct sl_artifacts_list *l);

/* Selects files of WORKSPACE as described above. On success *out (initialised by the
 * callee) holds them; release with sl_artifacts_list_release. Errors: SL_EPERM for a path
 * or link leaving the workspace, SL_ELIMIT past SL_ARTIFACTS_MAX_FILES, SL_EIO. */
int sl_artifacts_match(struct sl_artifacts_list *out, const char *workspace,
                       const struct sl_artifacts_select *sel, struct sl_error *err);

struct sl_artifacts_pack_stats {
    size_t files;           /* entries written (files and links) */
    uint64_t bytes;         /* content bytes */
    uint64_t archive_bytes; /* size of the archive file */
};

/* Writes the files of LIST (relative to WORKSPACE) to the archive ARCHIVE_PATH, through a
 * temporary file in the same directory renamed into place once complete and synced, so
 * a reader or a crash never sees half an archive. MAX_BYTES caps the archive's size (0:
 * SL_ARTIFACTS_MAX_BYTES): past it the temporary file is removed and SL_ELIMIT says
 * "artifacts archive is larger than the limit of N bytes". A file that vanished since the
 * selection is skipped. STATS may be NULL. */
int sl_artifacts_pack(const char *workspace, const struct sl_artifacts_list *list,
                      const char *archive_path, int64_t max_bytes,
                      struct sl_artifacts_pack_stats *stats, struct sl_error *err);

/* Extracts ARCHIVE_PATH (tar, plain or zstd, or zip as the runner API carries them) into
 * WORKSPACE (created when missing), overwriting files of the same name. MAX_BYTES caps the content
 * written (0: SL_ARTIFACTS_EXTRACT_MAX_BYTES). Refused entries are SL_EPERM naming the entry; a
 * corrupt archive SL_EINVAL; SL_ENOENT when the archive does not exist. Entries before a refused
 * one stay extracted. STATS (files and bytes written; archive_bytes is the archive's size) may be
 * NULL. */
int sl_artifacts_extract(const char *archive_path, const char *workspace, int64_t max_bytes,
                         struct sl_artifacts_pack_stats *stats, struct sl_error *err);
/* Writes the tar archive ARCHIVE_PATH (plain or zstd, as sl_artifacts_pack makes it) to OUT_FD
 * as a zip, the format gitlab-runner expects of a dependency's artifacts: regular files,
 * directories and symbolic links, in their order (anything else is left out), streamed entry
 * by entry. MAX_BYTES caps the content (0: SL_ARTIFACTS_EXTRACT_MAX_BYTES, SL_ELIMIT beyond),
 * as SL_ARTIFACTS_MAX_FILES the entries. SL_EINVAL for a corrupt archive, SL_EIO when OUT_FD
 * cannot be written. */
int sl_artifacts_to_zip(const char *archive_path, int out_fd, int64_t max_bytes,
                        struct sl_error *err);

/* An entry of an artifacts archive as the API's browser lists it: its path (without a
 * leading "./"), size (regular files; 0 otherwise) and type: 'f' file, 'd' directory, 'l'
 * symbolic link. */
struct sl_artifacts_entry {
    char *path;
    int64_t size;
    char type;
};
/* The entries of ARCHIVE_PATH (tar, plain or zstd, or zip), in their order, at most MAX
 * (*truncated says more were left out); hard links, devices and the like are left out.
 * *OUT (owned; sl_artifacts_entries_free) and *N. SL_ENOENT for no archive, SL_EINVAL for
 * a corrupt one. */
int sl_artifacts_entries(const char *archive_path, size_t max, struct sl_artifacts_entry **out,
                         size_t *n, bool *truncated, struct sl_error *err);
void sl_artifacts_entries_free(struct sl_artifacts_entry *e, size_t n);
/* Writes the regular file PATH of ARCHIVE_PATH (as sl_artifacts_entries names it) to OUT_FD;
 * *size_out (may be NULL) gets its size. MAX_BYTES caps it (0: SL_ARTIFACTS_EXTRACT_MAX_BYTES;
 * SL_ELIMIT beyond). SL_ENOENT when the archive has no such file. */
int sl_artifacts_read_entry(const char *archive_path, const char *path, int out_fd,
                            int64_t max_bytes, int64_t *size_out, struct sl_error *err);

/* --- Job artifacts: selection + archive + metadata ------------------------------------- */

struct sl_artifacts_spec {
    const char *name; /* artifacts:name, already expanded; NULL: "artifacts" */
    struct sl_artifacts_select select;
    int64_t expire_in_s; /* seconds; SL_ARTIFACTS_EXPIRE_NEVER; 0: the default */
    int64_t max_bytes;   /* archive cap; 0: SL_ARTIFACTS_MAX_BYTES */
};

#define SL_ARTIFACTS_SPEC_INIT                                                                     \
    {                                                                                              \
        NULL, {NULL, NULL, false}, 0, 0                                                            \
    }

/* What was collected, as stored in STORE_DIR/artifacts.json beside the archive. */
struct sl_artifacts_meta {
    char *name;
    char *archive;       /* absolute path of the archive */
    int64_t created_ms;  /* wall clock, ms since the epoch */
    int64_t expire_in_s; /* seconds, or SL_ARTIFACTS_EXPIRE_NEVER */
    size_t files;        /* files and links in the archive */
    uint64_t bytes;      /* their content */
    uint64_t archive_bytes;
    char **paths; /* the archived paths, sorted */
    size_t npaths;
    char **warnings;
    size_t nwarnings;
};

/* Selects, packs to STORE_DIR/artifacts.tar.zst and records STORE_DIR/artifacts.json
 * (STORE_DIR is created when missing; an earlier collect there is replaced). When nothing
 * matched, the archive is still written (empty) and a warning says "no files to upload".
 * On success *out is the record (free with sl_artifacts_meta_free). */
int sl_artifacts_collect(struct sl_artifacts_meta **out, const char *workspace,
                         const struct sl_artifacts_spec *spec, const char *store_dir,
                         struct sl_error *err);
/* Reads the record STORE_DIR/artifacts.json. SL_ENOENT when there is none. */
int sl_artifacts_meta_load(struct sl_artifacts_meta **out, const char *store_dir,
                           struct sl_error *err);
void sl_artifacts_meta_free(struct sl_artifacts_meta *meta);
/* Records META as STORE_DIR/artifacts.json (atomically), for an archive that arrived whole
 * (a runner's upload) rather than through sl_artifacts_collect. */
int sl_artifacts_meta_save(const struct sl_artifacts_meta *meta, const char *store_dir,
                           struct sl_error *err);
/* True when META's expire_in has passed at NOW_MS. */
bool sl_artifacts_expired(const struct sl_artifacts_meta *meta, int64_t now_ms);
/* Extracts the archive of STORE_DIR into WORKSPACE (sl_artifacts_extract with the default
 * cap). SL_ENOENT when STORE_DIR holds no artifacts. */
int sl_artifacts_restore(const char *store_dir, const char *workspace, struct sl_error *err);

#endif
