/* The bounded least-recently-used cache (base/lru.h): filled past its bound it evicts the
 * least recently used entry, a get counts as a use, a put of a present key replaces its
 * value, and every value reaches the free callback exactly once (ASan sees the rest). */
#include "base/compat.h"
#include "harness/harness.h"
#include "base/alloc.h"
#include "base/lru.h"

struct freed {
    char names[16][16];
    size_t n;
};

/* values are heap strings: the callback records which one went, then frees it */
static void note_free(void *value, void *arg)
{
    struct freed *f = arg;
    if (f->n < 16)
        snprintf(f->names[f->n++], sizeof(f->names[0]), "%s", (char *)value);
    free(value);
}

static void put(struct sl_lru *c, const char *key, const char *value)
{
    sl_lru_put(c, key, sl_xstrdup(value));
}

TEST(filled_past_its_bound_it_evicts_the_least_recently_used)
{
    struct freed f = {0};
    struct sl_lru c;
    sl_lru_init(&c, 3, note_free, &f);
    put(&c, "a", "A");
    put(&c, "b", "B");
    put(&c, "c", "C");
    CHECK_INT_EQ(c.n, 3);
    CHECK_INT_EQ(f.n, 0);
    put(&c, "d", "D"); /* a is the oldest */
    CHECK_INT_EQ(c.n, 3);
    CHECK_INT_EQ(f.n, 1);
    CHECK_STR_EQ(f.names[0], "A");
    CHECK(sl_lru_get(&c, "a") == NULL);
    CHECK_STR_EQ(sl_lru_get(&c, "b"), "B");
    CHECK_STR_EQ(sl_lru_get(&c, "c"), "C");
    CHECK_STR_EQ(sl_lru_get(&c, "d"), "D");
    sl_lru_release(&c);
    CHECK_INT_EQ(f.n, 4);
}

TEST(a_get_counts_as_a_use)
{
    struct freed f = {0};
    struct sl_lru c;
    sl_lru_init(&c, 3, note_free, &f);
    put(&c, "a", "A");
    put(&c, "b", "B");
    put(&c, "c", "C");
    CHECK_STR_EQ(sl_lru_get(&c, "a"), "A"); /* now b is the oldest */
    put(&c, "d", "D");
    CHECK_STR_EQ(f.names[0], "B");
    CHECK(sl_lru_get(&c, "b") == NULL);
    CHECK(sl_lru_get(&c, "missing") == NULL); /* a miss changes nothing */
    put(&c, "e", "E");                        /* c, never got since its put */
    CHECK_STR_EQ(f.names[1], "C");
    put(&c, "f", "F"); /* a: got after b and c, but before d and e were put */
    CHECK_STR_EQ(f.names[2], "A");
    CHECK_STR_EQ(sl_lru_get(&c, "d"), "D");
    CHECK_STR_EQ(sl_lru_get(&c, "e"), "E");
    CHECK_STR_EQ(sl_lru_get(&c, "f"), "F");
    sl_lru_release(&c);
}

TEST(a_put_of_a_present_key_replaces_its_value_in_place)
{
    struct freed f = {0};
    struct sl_lru c;
    sl_lru_init(&c, 2, note_free, &f);
    put(&c, "a", "A1");
    put(&c, "b", "B");
    put(&c, "a", "A2"); /* replaces, frees A1, and makes a the most recent */
    CHECK_INT_EQ(c.n, 2);
    CHECK_INT_EQ(f.n, 1);
    CHECK_STR_EQ(f.names[0], "A1");
    CHECK_STR_EQ(sl_lru_get(&c, "a"), "A2");
    put(&c, "c", "C"); /* b is the oldest now */
    CHECK_STR_EQ(f.names[1], "B");
    CHECK_STR_EQ(sl_lru_get(&c, "a"), "A2");
    /* the same value put again is kept, not freed */
    char *same = sl_lru_get(&c, "c");
    sl_lru_put(&c, "c", same);
    CHECK_INT_EQ(f.n, 2);
    CHECK_STR_EQ(sl_lru_get(&c, "c"), "C");
    sl_lru_release(&c);
    CHECK_INT_EQ(f.n, 4);
}

TEST(keys_are_copied_and_texts_compared_not_pointers)
{
    struct freed f = {0};
    struct sl_lru c;
    char key[32];
    sl_lru_init(&c, 4, note_free, &f);
    snprintf(key, sizeof(key), "SELECT %d", 1);
    put(&c, key, "one");
    snprintf(key, sizeof(key), "SELECT %d", 2); /* the buffer changes: the cache kept a copy */
    put(&c, key, "two");
    CHECK_STR_EQ(sl_lru_get(&c, "SELECT 1"), "one");
    CHECK_STR_EQ(sl_lru_get(&c, "SELECT 2"), "two");
    CHECK(sl_lru_get(&c, "SELECT 3") == NULL);
    CHECK(sl_lru_get(&c, "") == NULL);
    put(&c, "", "empty key"); /* an empty key is a key like any other */
    CHECK_STR_EQ(sl_lru_get(&c, ""), "empty key");
    sl_lru_release(&c);
    CHECK_INT_EQ(f.n, 3);
}

static void count_free(void *value, void *arg)
{
    (*(size_t *)arg)++;
    free(value);
}

TEST(a_long_run_frees_each_value_once)
{
    /* 1000 lookups of 37 keys through 8 entries, a miss put at once: every value put is
     * freed exactly once, by eviction or release (a double free or a leak is ASan's) */
    struct sl_lru c;
    char key[16];
    size_t puts = 0, freed = 0;
    sl_lru_init(&c, 8, count_free, &freed);
    for (int i = 0; i < 1000; i++) {
        snprintf(key, sizeof(key), "k%d", (i * 7) % 37);
        if (!sl_lru_get(&c, key)) {
            sl_lru_put(&c, key, sl_xstrdup(key));
            puts++;
        }
        CHECK(c.n <= 8);
        CHECK_STR_EQ(sl_lru_get(&c, key), key);
    }
    CHECK_INT_EQ(c.n, 8);
    CHECK_INT_EQ(freed, puts - 8);
    sl_lru_release(&c);
    CHECK_INT_EQ(freed, puts);
}

TEST(release_of_a_zeroed_cache_is_harmless)
{
    struct sl_lru c = {0};
    sl_lru_release(&c);
    sl_lru_release(&c);
    CHECK(c.e == NULL);
}
