/* Dropping start-up's code pages (base/resident.h): the resident set shrinks, and nothing a
 * process holds is lost: code still runs (here and in a thread running meanwhile), read-only
 * data still reads, and what the loader relocated (pointers in RELRO tables, which a wrong
 * drop would turn back into the file's unrelocated bytes) and what the process wrote stay. */
#include "base/compat.h"
#include "harness/harness.h"
#include "base/resident.h"

#include <pthread.h>
#include <unistd.h>

static int twice(int x)
{
    return 2 * x;
}

static int thrice(int x)
{
    return 3 * x;
}

/* pointers in a const table: in a position-independent binary this lands in .data.rel.ro,
 * written by the loader's relocations and then made read-only (PT_GNU_RELRO) */
static const struct {
    int (*fn)(int);
    const char *name;
} relocated[] = {{twice, "twice"}, {thrice, "thrice"}};

static int written = 1;

static long resident_pages(void)
{
    long size = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f)
        return -1;
    if (fscanf(f, "%ld %ld", &size, &resident) != 2)
        resident = -1;
    fclose(f);
    return resident;
}

static int by_value(const void *a, const void *b)
{
    return *(const int *)a - *(const int *)b;
}

/* runs libc and this binary's code over and over while the pages are dropped under it */
static void *sorter(void *arg)
{
    long *sum = arg;
    for (int round = 0; round < 2000; round++) {
        int v[64];
        for (int i = 0; i < 64; i++)
            v[i] = (i * 37 + round) % 64;
        qsort(v, 64, sizeof(v[0]), by_value);
        for (int i = 0; i < 64; i++)
            *sum += v[i] == i;
    }
    return NULL;
}

TEST(the_resident_set_shrinks)
{
    long before = resident_pages();
    if (before < 0) {
        sl_test_skip("no /proc/self/statm");
        return;
    }
    size_t advised = sl_resident_drop_code();
    long after = resident_pages();
    CHECK(advised > 0);
    CHECK(after < before);
}

TEST(relocated_and_written_data_survive)
{
    written = 42;
    char *heap = strdup("on the heap");
    sl_resident_drop_code();
    CHECK_INT_EQ(relocated[0].fn(21), 42);
    CHECK_INT_EQ(relocated[1].fn(5), 15);
    CHECK_STR_EQ(relocated[1].name, "thrice");
    CHECK_INT_EQ(written, 42);
    CHECK_STR_EQ(heap, "on the heap");
    free(heap);
    char buf[32];
    snprintf(buf, sizeof(buf), "%d-%s", 7, "seven");
    CHECK_STR_EQ(buf, "7-seven");
}

TEST(code_running_in_another_thread_goes_on)
{
    long sum = 0;
    pthread_t t;
    CHECK_INT_EQ(pthread_create(&t, NULL, sorter, &sum), 0);
    for (int i = 0; i < 20; i++)
        sl_resident_drop_code();
    pthread_join(t, NULL);
    CHECK_INT_EQ(sum, 2000 * 64);
}
