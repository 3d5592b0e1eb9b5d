/* cache.c: cache keys, restore with fallbacks, atomic save (see cache.h). */
#include "base/compat.h"
#include "exec/cache.h"
#include "base/alloc.h"

/* The selection matches globs with sl_glob_match (src/base/glob.h), which another change
 * is adding to base. Until that header exists this file compiles to nothing and the
 * artifacts and cache tests say SKIPPED; nothing else in sluice calls these functions yet. */
#include "base/fs.h"
#include "base/str.h"

#include <fcntl.h>
#include <sodium.h>
#include <unistd.h>

int sl_cache_key_check(const char *key, struct sl_error *err)
{
    if (strchr(key, '/') || strcasestr(key, "%2f"))
        return sl_error_set(err, SL_EINVAL, "cache key cannot contain the \"/\" character");
    if (sl_streq(key, ".") || sl_streq(key, ".."))
        return sl_error_set(err, SL_EINVAL, "cache key cannot be \".\" or \"..\"");
    if (strlen(key) > SL_CACHE_KEY_MAX)
        return sl_error_set(err, SL_EINVAL, "cache key is longer than %d bytes", SL_CACHE_KEY_MAX);
    for (const unsigned char *p = (const unsigned char *)key; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return sl_error_set(err, SL_EINVAL, "cache key cannot contain control characters");
    return 0;
}

char *sl_cache_archive_path(const char *cache_dir, const char *key)
{
    size_t n = strlen(cache_dir);
    return sl_xasprintf("%s%s%s.tar.zst", cache_dir, n && cache_dir[n - 1] == '/' ? "" : "/", key);
}

/* SHA-256 of PATH's content into OUT. */
static int hash_file(const char *path, unsigned char out[crypto_hash_sha256_BYTES],
                     struct sl_error *err)
{
    crypto_hash_sha256_state st;
    unsigned char buf[65536];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return sl_error_set_errno(err, SL_EIO, "cache key: cannot read %s", path);
    crypto_hash_sha256_init(&st);
    for (;;) {
        ssize_t r = read(fd, buf, sizeof(buf));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int rc = sl_error_set_errno(err, SL_EIO, "cache key: cannot read %s", path);
            close(fd);
            return rc;
        }
        if (r == 0)
            break;
        crypto_hash_sha256_update(&st, buf, (unsigned long long)r);
    }
    close(fd);
    crypto_hash_sha256_final(&st, out);
    return 0;
}

/* The key:files part: hex SHA-256, or NULL (in *OUT) when no listed file
 * exists. */
static int files_digest(char **out, const char *workspace, const char *const *files,
                        struct sl_error *err)
{
    struct sl_artifacts_list list = {0};
    struct sl_artifacts_select sel = {files, NULL, false};
    crypto_hash_sha256_state st;
    unsigned char d[crypto_hash_sha256_BYTES];
    char hex[2 * crypto_hash_sha256_BYTES + 1];
    size_t hashed = 0;
    int rc;

    if (sodium_init() < 0)
        return sl_error_set(err, SL_EIO, "libsodium cannot initialise");
    if ((rc = sl_artifacts_match(&list, workspace, &sel, err)) < 0)
        return rc;
    crypto_hash_sha256_init(&st);
    for (size_t i = 0; i < list.n; i++) {
        char *p = sl_fs_join(workspace, list.paths[i]);
        bool dir = sl_fs_is_dir(p); /* a link to a directory: nothing to hash */
        if (!dir)
            rc = hash_file(p, d, err);
        free(p);
        if (rc < 0)
            goto out;
        if (dir)
            continue;
        crypto_hash_sha256_update(&st, (const unsigned char *)list.paths[i],
                                  strlen(list.paths[i]) + 1);
        crypto_hash_sha256_update(&st, d, sizeof(d));
        hashed++;
    }
    *out = NULL;
    if (hashed) {
        crypto_hash_sha256_final(&st, d);
        sodium_bin2hex(hex, sizeof(hex), d, sizeof(d));
        *out = sl_xstrdup(hex);
    }
out:
    sl_artifacts_list_release(&list);
    return rc;
}

int sl_cache_key(char **out, const char *workspace, const struct sl_cache_spec *spec,
                 struct sl_error *err)
{
    char *key = NULL, *digest = NULL;
    int rc = 0;

    if (spec->key_files && spec->key_files[0]) {
        if ((rc = files_digest(&digest, workspace, spec->key_files, err)) < 0)
            goto out;
        const char *part = digest ? digest : "default";
        key = spec->key_prefix && spec->key_prefix[0]
                  ? sl_xasprintf("%s-%s", spec->key_prefix, part)
                  : sl_xstrdup(part);
    } else {
        key = sl_xstrdup(spec->key && spec->key[0] ? spec->key : "default");
    }
    if ((rc = sl_cache_key_check(key, err)) < 0)
        goto out;
    *out = key;
    key = NULL;
out:
    free(key);
    free(digest);
    return rc;
}

int sl_cache_restore(char **hit, const char *cache_dir, const char *workspace,
                     const struct sl_cache_spec *spec, const char *key, struct sl_error *err)
{
    int rc = 0;

    if (spec->policy == SL_CACHE_PUSH) {
        *hit = NULL;
        return 0;
    }
    for (size_t i = 0; spec->fallback_keys && spec->fallback_keys[i]; i++)
        if ((rc = sl_cache_key_check(spec->fallback_keys[i], err)) < 0)
            return rc;
    if ((rc = sl_cache_key_check(key, err)) < 0)
        return rc;
    for (size_t i = 0;; i++) {
        const char *k = i == 0 ? key : spec->fallback_keys ? spec->fallback_keys[i - 1] : NULL;
        if (!k)
            break;
        char *path = sl_cache_archive_path(cache_dir, k);
        bool there = sl_fs_exists(path);
        if (there)
            rc = sl_artifacts_extract(path, workspace, 0, NULL, err);
        free(path);
        if (rc < 0)
            return rc;
        if (there) {
            *hit = sl_xstrdup(k);
            return 0;
        }
    }
    *hit = NULL;
    return 0;
}

int sl_cache_save(struct sl_cache_saved *out, const char *cache_dir, const char *workspace,
                  const struct sl_cache_spec *spec, const char *key, bool job_succeeded,
                  struct sl_error *err)
{
    struct sl_cache_saved res = {false, NULL, 0, 0, 0};
    struct sl_artifacts_list list = {0};
    struct sl_artifacts_pack_stats ps;
    char *path = NULL;
    int rc;

    if ((rc = sl_cache_key_check(key, err)) < 0)
        goto out;
    if (spec->policy == SL_CACHE_PULL) {
        res.skipped = "policy is pull";
        goto done;
    }
    if (spec->when == SL_CACHE_ON_SUCCESS && !job_succeeded) {
        res.skipped = "when: on_success and the job failed";
        goto done;
    }
    if (spec->when == SL_CACHE_ON_FAILURE && job_succeeded) {
        res.skipped = "when: on_failure and the job succeeded";
        goto done;
    }
    struct sl_artifacts_select sel = {spec->select.paths, NULL, spec->select.untracked};
    if ((rc = sl_artifacts_match(&list, workspace, &sel, err)) < 0)
        goto out;
    res.nwarnings = list.nwarnings;
    if (list.n == 0) {
        res.skipped = "no matching files";
        goto done;
    }
    if ((rc = sl_fs_mkdir_p(cache_dir, 0755, err)) < 0)
        goto out;
    path = sl_cache_archive_path(cache_dir, key);
    if ((rc = sl_artifacts_pack(workspace, &list, path,
                                spec->max_bytes > 0 ? spec->max_bytes : SL_CACHE_MAX_BYTES, &ps,
                                err)) < 0)
        goto out;
    res.saved = true;
    res.files = ps.files;
    res.archive_bytes = ps.archive_bytes;
done:
    *out = res;
out:
    sl_artifacts_list_release(&list);
    free(path);
    return rc;
}
