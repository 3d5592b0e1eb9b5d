/* Cache: keys (string, files, prefix, refused keys), two "runs" sharing a cache
 * dir, fallback keys, policy and when, several caches per job, and concurrent
 * saves. */
#include "base/compat.h"
#include "harness/harness.h"
#include "exec/cache.h"
#include "base/alloc.h"
#include "base/fs.h"
#include "base/str.h"

#include <dirent.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

static char *dir_of(const char *name)
{
    char *d = sl_fs_join(sl_test_tmpdir(), name);
    sl_fs_mkdir_p(d, 0755, NULL);
    return d;
}

/* Names in DIR, sorted, space-separated (dot files included). */
static char *listing(const char *dir)
{
    char *names[64];
    size_t n = 0;
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d)) && n < 64)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            names[n++] = sl_xstrdup(e->d_name);
    if (d)
        closedir(d);
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
            char *t = names[j];
            names[j] = names[j - 1];
            names[j - 1] = t;
        }
    struct sl_str s = SL_STR_INIT;
    for (size_t i = 0; i < n; i++) {
        sl_str_addf(&s, "%s%s", i ? " " : "", names[i]);
        free(names[i]);
    }
    return sl_str_detach(&s);
}

TEST(key_string_default_and_refused_keys)
{
    char *ws = dir_of("keys");
    struct sl_cache_spec c = SL_CACHE_SPEC_INIT;
    char *key = NULL;
    CHECK_INT_EQ(sl_cache_key(&key, ws, &c, NULL), 0);
    CHECK_STR_EQ(key, "default");
    free(key);
    c.key = "";
    CHECK_INT_EQ(sl_cache_key(&key, ws, &c, NULL), 0);
    CHECK_STR_EQ(key, "default");
    free(key);
    c.key = "main-ruby3.2";
    CHECK_INT_EQ(sl_cache_key(&key, ws, &c, NULL), 0);
    CHECK_STR_EQ(key, "main-ruby3.2");
    free(key);

    static const struct {
        const char *key;
        const char *msg;
    } bad[] = {
        {"feature/x", "cache key cannot contain the \"/\" character"},
        {"feature%2Fx", "cache key cannot contain the \"/\" character"},
        {"feature%2fx", "cache key cannot contain the \"/\" character"},
        {".", "cache key cannot be \".\" or \"..\""},
        {"..", "cache key cannot be \".\" or \"..\""},
        {"tab\there", "cache key cannot contain control characters"},
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(bad); i++) {
        sl_test_case_begin(bad[i].key);
        struct sl_error err = SL_ERROR_INIT;
        c.key = bad[i].key;
        key = NULL;
        CHECK_INT_EQ(sl_cache_key(&key, ws, &c, &err), SL_EINVAL);
        CHECK_STR_EQ(err.message, bad[i].msg);
        CHECK(key == NULL);
        sl_error_release(&err);
        sl_test_case_end();
    }
    CHECK_INT_EQ(sl_cache_key_check("...", NULL), 0); /* only "." and ".." are refused */
    char longkey[SL_CACHE_KEY_MAX + 2];
    memset(longkey, 'k', sizeof(longkey) - 1);
    longkey[sizeof(longkey) - 1] = '\0';
    CHECK_INT_EQ(sl_cache_key_check(longkey, NULL), SL_EINVAL);
    free(ws);
}

TEST(key_files_hash_content_with_prefix_and_default)
{
    char *ws = dir_of("keyfiles");
    sl_test_write(ws, "Gemfile.lock", "rails 7\n");
    sl_test_write(ws, "yarn.lock", "left-pad 1\n");
    struct sl_cache_spec c = SL_CACHE_SPEC_INIT;
    c.key = "ignored when files are given";
    c.key_files = (const char *const[]){"Gemfile.lock", "missing.lock", NULL};
    char *k1 = NULL, *k2 = NULL, *k3 = NULL, *k4 = NULL;
    CHECK_INT_EQ(sl_cache_key(&k1, ws, &c, NULL), 0);
    CHECK_INT_EQ(strlen(k1), 64);
    CHECK(strspn(k1, "0123456789abcdef") == 64);
    /* a missing file changes nothing */
    c.key_files = (const char *const[]){"Gemfile.lock", NULL};
    CHECK_INT_EQ(sl_cache_key(&k2, ws, &c, NULL), 0);
    CHECK_STR_EQ(k2, k1);
    /* content changes the key */
    sl_test_write(ws, "Gemfile.lock", "rails 8\n");
    CHECK_INT_EQ(sl_cache_key(&k3, ws, &c, NULL), 0);
    CHECK(strcmp(k3, k1) != 0);
    /* prefix, and two files */
    c.key_prefix = "gems";
    c.key_files = (const char *const[]){"Gemfile.lock", "yarn.lock", NULL};
    CHECK_INT_EQ(sl_cache_key(&k4, ws, &c, NULL), 0);
    CHECK(sl_starts_with(k4, "gems-"));
    CHECK_INT_EQ(strlen(k4), 5 + 64);
    CHECK(strcmp(k4 + 5, k3) != 0);
    free(k1);
    free(k2);
    free(k3);
    free(k4);
    /* none exists: default, with or without prefix */
    c.key_files = (const char *const[]){"nope.lock", NULL};
    CHECK_INT_EQ(sl_cache_key(&k1, ws, &c, NULL), 0);
    CHECK_STR_EQ(k1, "gems-default");
    free(k1);
    c.key_prefix = NULL;
    CHECK_INT_EQ(sl_cache_key(&k1, ws, &c, NULL), 0);
    CHECK_STR_EQ(k1, "default");
    free(k1);
    /* a prefix that makes the key invalid is refused */
    c.key_prefix = "a/b";
    struct sl_error err = SL_ERROR_INIT;
    CHECK_INT_EQ(sl_cache_key(&k1, ws, &c, &err), SL_EINVAL);
    sl_error_release(&err);
    /* the same content in another workspace gives the same key */
    char *ws2 = dir_of("keyfiles2");
    sl_test_write(ws2, "Gemfile.lock", "rails 8\n");
    c.key_prefix = NULL;
    c.key_files = (const char *const[]){"Gemfile.lock", NULL};
    CHECK_INT_EQ(sl_cache_key(&k1, ws2, &c, NULL), 0);
    CHECK_INT_EQ(sl_cache_key(&k2, ws, &c, NULL), 0);
    CHECK_STR_EQ(k1, k2);
    free(k1);
    free(k2);
    free(ws2);
    free(ws);
}

TEST(cache_survives_across_two_runs)
{
    char *cache = sl_fs_join(sl_test_tmpdir(), ".sluice/cache");
    struct sl_cache_spec c = SL_CACHE_SPEC_INIT;
    c.key = "deps";
    c.select.paths = (const char *const[]){"vendor/", NULL};
    char *hit = NULL;
    struct sl_cache_saved saved;
    struct sl_error err = SL_ERROR_INIT;

    /* run 1: cold */
    char *ws1 = dir_of("run1");
    CHECK_INT_EQ(sl_cache_restore(&hit, cache, ws1, &c, "deps", &err), 0);
    CHECK(hit == NULL);
    sl_test_write(ws1, "vendor/lib/a.rb", "module A; end\n");
    sl_test_write(ws1, "vendor/bin/x", "x");
    CHECK_INT_EQ(sl_cache_save(&saved, cache, ws1, &c, "deps", true, &err), 0);
    CHECK(saved.saved);
    CHECK_INT_EQ(saved.files, 2);
    CHECK(saved.archive_bytes > 0);
    char *ls = listing(cache);
    CHECK_STR_EQ(ls, "deps.tar.zst"); /* no temporary file left */
    free(ls);

    /* run 2: a fresh workspace gets the files back */
    char *ws2 = dir_of("run2");
    CHECK_INT_EQ(sl_cache_restore(&hit, cache, ws2, &c, "deps", &err), 0);
    CHECK_STR_EQ(hit, "deps");
    free(hit);
    char *t = sl_test_read(ws2, "vendor/lib/a.rb");
    CHECK_STR_EQ(t, "module A; end\n");
    free(t);
    /* run 2 adds a file and saves again: the archive is replaced whole */
    sl_test_write(ws2, "vendor/lib/b.rb", "module B; end\n");
    CHECK_INT_EQ(sl_cache_save(&saved, cache, ws2, &c, "deps", true, &err), 0);
    CHECK_INT_EQ(saved.files, 3);
    char *ws3 = dir_of("run3");
    CHECK_INT_EQ(sl_cache_restore(&hit, cache, ws3, &c, "deps", &err), 0);
    free(hit);
    t = sl_test_read(ws3, "vendor/lib/b.rb");
    CHECK_STR_EQ(t, "module B; end\n");
    free(t);
    free(ws1);
    free(ws2);
    free(ws3);
    free(cache);
}

TEST(fallback_keys_are_tried_in_order)
{
    char *cache = dir_of("fb-cache");
    char *src = dir_of("fb-src");
    struct sl_cache_spec c = SL_CACHE_SPEC_INIT;
    c.select.paths = (const char *const[]){"out.txt", NULL};
    struct sl_cache_saved saved;
    sl_test_write(src, "out.txt", "from main");
    CHECK_INT_EQ(sl_cache_save(&saved, cache, src, &c, "cache-main", true, NULL), 0);
    sl_test_write(src, "out.txt", "from default");
    CHECK_INT_EQ(sl_cache_save(&saved, cache, src, &c, "cache-default", true, NULL), 0);

    c.fallback_keys = (const char *const[]){"cache-absent", "cache-main", "cache-default", NULL};
    char *ws = dir_of("fb-ws");
    char *hit = NULL;
    CHECK_INT_EQ(sl_cache_restore(&hit, cache, ws, &c, "cache-feature", NULL), 0);
    CHECK_STR_EQ(hit, "cache-main");
    free(hit);
    char *t = sl_test_read(ws, "out.txt");
    CHECK_STR_EQ(t, "from main");
    free(t);
    /* the key itself wins over fallbacks */
    CHECK_INT_EQ(sl_cache_restore(&hit, cache, ws, &c, "cache-default", NULL), 0);
    CHECK_STR_EQ(hit, "cache-default");
    free(hit);
    /* nothing anywhere */
    c.fallback_keys = (const char *const[]){"x", "y", NULL};
    CHECK_INT_EQ(sl_cache_restore(&hit, cache, ws, &c, "z", NULL), 0);
    CHECK(hit == NULL);
    /* a refused fallback key is an error */
    c.fallback_keys = (const char *const[]){"a/b", NULL};
    struct sl_error err = SL_ERROR_INIT;
    CHECK_INT_EQ(sl_cache_restore(&hit, cache, ws, &c, "z", &err), SL_EINVAL);
    CHECK_STR_EQ(err.message, "cache key cannot contain the \"/\" character");
    sl_error_release(&err);
    free(ws);
    free(src);
    free(cache);
}

TEST(policy_and_when_decide_restore_and_save)
{
    char *cache = dir_of("pol-cache");
    char *ws = dir_of("pol-ws");
    sl_test_write(ws, "f", "1");
    struct sl_cache_spec c = SL_CACHE_SPEC_INIT;
    c.select.paths = (const char *const[]){"f", NULL};
    struct sl_cache_saved s;
    char *hit = NULL;

    c.policy = SL_CACHE_PULL;
    CHECK_INT_EQ(sl_cache_save(&s, cache, ws, &c, "k", true, NULL), 0);
    CHECK(!s.saved);
    CHECK_STR_EQ(s.skipped, "policy is pull");
    char *kp = sl_cache_archive_path(cache, "k");
    CHECK(!sl_fs_exists(kp));
    free(kp);

    c.policy = SL_CACHE_PUSH;
    CHECK_INT_EQ(sl_cache_save(&s, cache, ws, &c, "k", true, NULL), 0);
    CHECK(s.saved);
    CHECK_INT_EQ(sl_cache_restore(&hit, cache, ws, &c, "k", NULL), 0);
    CHECK(hit == NULL); /* push never reads */

    static const struct {
        enum sl_cache_when when;
        bool ok;
        bool saved;
        const char *skipped;
    } w[] = {
        {SL_CACHE_ON_SUCCESS, true, true, NULL},
        {SL_CACHE_ON_SUCCESS, false, false, "when: on_success and the job failed"},
        {SL_CACHE_ON_FAILURE, true, false, "when: on_failure and the job succeeded"},
        {SL_CACHE_ON_FAILURE, false, true, NULL},
        {SL_CACHE_ALWAYS, true, true, NULL},
        {SL_CACHE_ALWAYS, false, true, NULL},
    };
    c.policy = SL_CACHE_PULL_PUSH;
    for (size_t i = 0; i < SL_ARRAY_LEN(w); i++) {
        char name[16];
        snprintf(name, sizeof(name), "when %zu", i);
        sl_test_case_begin(name);
        c.when = w[i].when;
        CHECK_INT_EQ(sl_cache_save(&s, cache, ws, &c, "w", w[i].ok, NULL), 0);
        CHECK(s.saved == w[i].saved);
        if (w[i].skipped)
            CHECK_STR_EQ(s.skipped, w[i].skipped);
        sl_test_case_end();
    }
    /* nothing to save: skipped, and an older archive is kept */
    c.when = SL_CACHE_ALWAYS;
    c.select.paths = (const char *const[]){"nothing-here/", NULL};
    CHECK_INT_EQ(sl_cache_save(&s, cache, ws, &c, "w", true, NULL), 0);
    CHECK(!s.saved);
    CHECK_STR_EQ(s.skipped, "no matching files");
    CHECK_INT_EQ(s.nwarnings, 1);
    char *p = sl_cache_archive_path(cache, "w");
    CHECK(sl_fs_exists(p));
    free(p);
    free(ws);
    free(cache);
}

TEST(several_caches_per_job)
{
    char *cache = dir_of("multi-cache");
    char *ws = dir_of("multi-ws");
    sl_test_write(ws, "node_modules/x/index.js", "js");
    sl_test_write(ws, ".bundle/gems/y.rb", "rb");
    sl_test_write(ws, "package-lock.json", "{}");
    struct sl_cache_spec specs[2] = {SL_CACHE_SPEC_INIT, SL_CACHE_SPEC_INIT};
    specs[0].key_files = (const char *const[]){"package-lock.json", NULL};
    specs[0].key_prefix = "npm";
    specs[0].select.paths = (const char *const[]){"node_modules/", NULL};
    specs[1].key = "gems";
    specs[1].select.paths = (const char *const[]){".bundle", NULL};
    char *keys[2];
    for (int i = 0; i < 2; i++) {
        struct sl_cache_saved s;
        CHECK_INT_EQ(sl_cache_key(&keys[i], ws, &specs[i], NULL), 0);
        CHECK_INT_EQ(sl_cache_save(&s, cache, ws, &specs[i], keys[i], true, NULL), 0);
        CHECK(s.saved);
    }
    char *next = dir_of("multi-next");
    sl_test_write(next, "package-lock.json", "{}");
    for (int i = 0; i < 2; i++) {
        char *k = NULL, *hit = NULL;
        CHECK_INT_EQ(sl_cache_key(&k, next, &specs[i], NULL), 0);
        CHECK_STR_EQ(k, keys[i]);
        CHECK_INT_EQ(sl_cache_restore(&hit, cache, next, &specs[i], k, NULL), 0);
        CHECK_STR_EQ(hit, keys[i]);
        free(hit);
        free(k);
        free(keys[i]);
    }
    char *t = sl_test_read(next, "node_modules/x/index.js");
    CHECK_STR_EQ(t, "js");
    free(t);
    t = sl_test_read(next, ".bundle/gems/y.rb");
    CHECK_STR_EQ(t, "rb");
    free(t);
    free(next);
    free(ws);
    free(cache);
}

struct saver {
    const char *cache;
    const char *ws;
    int rc;
};

static void *save_many(void *arg)
{
    struct saver *s = arg;
    struct sl_cache_spec c = SL_CACHE_SPEC_INIT;
    c.select.paths = (const char *const[]){"data/", NULL};
    for (int i = 0; i < 10 && s->rc == 0; i++) {
        struct sl_cache_saved out;
        s->rc = sl_cache_save(&out, s->cache, s->ws, &c, "shared", true, NULL);
    }
    return NULL;
}

TEST(concurrent_saves_leave_one_whole_archive)
{
    char *cache = dir_of("conc-cache");
    char *wa = dir_of("conc-a"), *wb = dir_of("conc-b");
    struct sl_str big = SL_STR_INIT;
    for (int i = 0; i < 20000; i++)
        sl_str_addf(&big, "line %d of a file that compresses\n", i);
    sl_test_write(wa, "data/a.txt", big.buf);
    sl_test_write(wb, "data/b.txt", big.buf);
    struct saver sa = {cache, wa, 0}, sb = {cache, wb, 0};
    pthread_t ta, tb;
    pthread_create(&ta, NULL, save_many, &sa);
    pthread_create(&tb, NULL, save_many, &sb);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    CHECK_INT_EQ(sa.rc, 0);
    CHECK_INT_EQ(sb.rc, 0);
    char *ls = listing(cache);
    CHECK_STR_EQ(ls, "shared.tar.zst");
    free(ls);
    char *ws = dir_of("conc-restore");
    struct sl_cache_spec c = SL_CACHE_SPEC_INIT;
    char *hit = NULL;
    CHECK_INT_EQ(sl_cache_restore(&hit, cache, ws, &c, "shared", NULL), 0);
    free(hit);
    char *a = sl_test_read(ws, "data/a.txt"), *b = sl_test_read(ws, "data/b.txt");
    CHECK((a != NULL) != (b != NULL)); /* exactly one writer's archive, whole */
    CHECK_STR_EQ(a ? a : b, big.buf);
    free(a);
    free(b);
    sl_str_release(&big);
    free(ws);
    free(wa);
    free(wb);
    free(cache);
}
