// cache.h: job caches, kept across pipelines under `.sluice/cache/<key>.tar.zst`.
//
// The runner computes each cache's key once, before the job (GitLab computes it when the
// pipeline is created, so the job cannot change its own key), restores before the job's
// script and saves after it:
//
//   struct sl_cache_spec c = SL_CACHE_SPEC_INIT;
//   c.key_files = (const char *const[]){"package-lock.json", NULL};
//   c.key_prefix = "npm";
//   c.select.paths = (const char *const[]){"node_modules/", NULL};
//   char *key, *hit;
//   sl_cache_key(&key, workspace, &c, &err);            "npm-3f2a...", or "npm-default"
//   sl_cache_restore(&hit, cache_dir, workspace, &c, key, &err);
//   ... the job runs ...
//   sl_cache_save(&saved, cache_dir, workspace, &c, key, job_succeeded, &err);
//
// A job may have several caches (GitLab allows 4): one spec each, restored in order.
//
// Keys (GitLab's rules):
//  - `key: <string>`, already variable-expanded by the caller; empty or NULL means
//    "default".
//  - `key: {files: [...]}`: the SHA-256 of the listed files' content (paths relative to
//    the workspace, globs allowed; missing files are ignored); when none exists the key is
//    "default". `prefix` makes it `<prefix>-<sha>` or `<prefix>-default`.
//    What is hashed: for each existing file, in path order, its path, a NUL byte and the
//    SHA-256 of its content; the key is the lowercase hex of the SHA-256 of that.
//  - A key, or a fallback key, may not contain "/" (nor its URL form "%2F"): "cache key
//    cannot contain the \"/\" character"; may not be "." or "..": "cache key cannot be
//    \".\" or \"..\"". sluice also refuses keys over SL_CACHE_KEY_MAX bytes and keys with
//    control characters, since the key is a file name.
//
// Restore tries the key, then each fallback key in order, and extracts the first archive
// that exists; no archive at all is not an error (the first job of a project starts
// cold). Save packs `paths` (and `untracked`) with the artifacts rules (artifacts.h) into
// a temporary file renamed over `<key>.tar.zst`, so a crash or a concurrent job never
// leaves half an archive; two jobs saving the same key at once leave one whole archive.
// Save is skipped when the policy is pull, when `when` does not match the job's outcome,
// or when no file matched (GitLab's runner does not upload an empty cache either).
#ifndef SL_EXEC_CACHE_H
#define SL_EXEC_CACHE_H

#include "base/compat.h"
#include "base/error.h"
#include "exec/artifacts.h"

#define SL_CACHE_KEY_MAX 200
/* Default cap on one cache archive's size. */
#define SL_CACHE_MAX_BYTES ((int64_t)4 << 30)

enum sl_cache_policy {
    SL_CACHE_PULL_PUSH = 0, /* GitLab's default */
    SL_CACHE_PULL,
    SL_CACHE_PUSH,
};

enum sl_cache_when {
    SL_CACHE_ON_SUCCESS = 0, /* GitLab's default */
    SL_CACHE_ON_FAILURE,
    SL_CACHE_ALWAYS,
};

/* One entry of a job's `cache:`. Arrays NULL-terminated (NULL: none); pointers borrowed. */
struct sl_cache_spec {
    const char *key;              /* string key, expanded; ignored when key_files is set */
    const char *const *key_files; /* key:files */
    const char *key_prefix;       /* key:prefix (with key_files only) */
    const char *const *fallback_keys;
    struct sl_artifacts_select select; /* paths, untracked (exclude is not GitLab's, unused) */
    enum sl_cache_policy policy;
    enum sl_cache_when when;
    int64_t max_bytes; /* 0: SL_CACHE_MAX_BYTES */
};

#define SL_CACHE_SPEC_INIT                                                                         \
    {                                                                                              \
        NULL, NULL, NULL, NULL, {NULL, NULL, false}, SL_CACHE_PULL_PUSH, SL_CACHE_ON_SUCCESS, 0    \
    }

/* Checks KEY against GitLab's rules (above). 0 or SL_EINVAL with GitLab's message. */
int sl_cache_key_check(const char *key, struct sl_error *err);

/* Computes the key of SPEC for WORKSPACE (the job's copy of the project, before the job
 * runs). *OUT (caller frees) is written on success. SL_EINVAL for a refused key. */
int sl_cache_key(char **out, const char *workspace, const struct sl_cache_spec *spec,
                 struct sl_error *err);

/* The archive of KEY: CACHE_DIR "/" KEY ".tar.zst". Caller frees. */
char *sl_cache_archive_path(const char *cache_dir, const char *key);

/* Restores the cache of SPEC into WORKSPACE: KEY (from sl_cache_key), else the fallback
 * keys in order. *HIT (caller frees) is the key whose archive was extracted, or NULL
 * when none existed or the policy is push (nothing is read then). Errors are those of
 * sl_artifacts_extract (a corrupt or unsafe archive) and SL_EINVAL for a refused
 * fallback key. */
int sl_cache_restore(char **hit, const char *cache_dir, const char *workspace,
                     const struct sl_cache_spec *spec, const char *key, struct sl_error *err);

struct sl_cache_saved {
    bool saved;
    /* when not saved: "policy is pull", "when: on_success and the job failed", "when:
     * on_failure and the job succeeded", "no matching files". Static string. */
    const char *skipped;
    size_t files;
    uint64_t archive_bytes;
    size_t nwarnings; /* patterns that matched nothing (they are not errors) */
};

/* Saves WORKSPACE's files of SPEC as the cache KEY in CACHE_DIR (created when missing),
 * following policy and when (JOB_SUCCEEDED is the job's outcome). *OUT is always written
 * on success, saved or not. SL_ELIMIT past the size cap (the old archive stays). */
int sl_cache_save(struct sl_cache_saved *out, const char *cache_dir, const char *workspace,
                  const struct sl_cache_spec *spec, const char *key, bool job_succeeded,
                  struct sl_error *err);

#endif
