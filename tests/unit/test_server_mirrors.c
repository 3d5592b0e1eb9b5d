/* test_server_mirrors.c: the opened mirrors the server keeps (server/mirror_cache.c) on real
 * bare repositories: a mirror given back is the one the next take gets; a second taker of a
 * mirror in use gets one of its own and the kept one is not disturbed; the least recently
 * given back is the one evicted; a deleted project's mirror closes even while taken; a
 * directory removed under the server is not served from the cache; a project's local source
 * repository is kept with its mirror and closed with it. Leaks and frees of a
 * repository still in use are ASan's to catch (make check runs this under it). */
#include "base/compat.h"
#include "harness/harness.h"
#include "base/alloc.h"
#include "server/internal.h"

#include <git2.h>
#include <stdlib.h>
#include <sys/stat.h>

static const char *base; /* this test's directory (each sl_test_tmpdir call makes one) */

static char *dir_of(int64_t project)
{
    return sl_xasprintf("%s/repos/%" PRId64, base, project);
}

/* project PROJECT's mirror, made when missing; NULL when it cannot be */
static git_repository *take(struct srv_mirrors *c, int64_t project, bool create)
{
    git_repository *r = NULL;
    char *dir = dir_of(project);
    if (sl_srv_mirror_take(c, project, dir, create, &r) < 0)
        r = NULL;
    free(dir);
    return r;
}

/* A mark on the opened repository object only (libgit2 keeps a set ident in memory, never
 * on disk): a repository opened again has none, whatever address it got. */
static void mark(git_repository *r, const char *name)
{
    git_repository_set_ident(r, name, "t@t");
}

static bool marked(git_repository *r, const char *name)
{
    const char *n = NULL, *e = NULL;
    return r && git_repository_ident(&n, &e, r) == 0 && n && !strcmp(n, name);
}

TEST(a_mirror_given_back_is_taken_again)
{
    git_libgit2_init();
    base = sl_test_tmpdir();
    struct srv_mirrors *c = sl_srv_mirrors_new();
    git_repository *a = take(c, 1, true);
    CHECK(a != NULL);
    mark(a, "a");
    sl_srv_mirror_give(c, 1, a);
    CHECK(take(c, 1, false) == a && marked(a, "a"));

    /* taken: a second taker gets a repository of its own, and giving it back keeps the
     * first */
    git_repository *b = take(c, 1, false);
    CHECK(b != NULL && b != a);
    sl_srv_mirror_give(c, 1, b);
    sl_srv_mirror_give(c, 1, a);
    CHECK(take(c, 1, false) == a); /* a is still alive here: no reopen can share its address */
    sl_srv_mirror_give(c, 1, a);
    sl_srv_mirrors_free(c);
    git_libgit2_shutdown();
}

TEST(the_least_recently_given_back_is_evicted)
{
    git_libgit2_init();
    base = sl_test_tmpdir();
    struct srv_mirrors *c = sl_srv_mirrors_new();
    git_repository *r[6] = {0};
    char name[6][8];
    for (int p = 1; p <= 4; p++) {
        r[p] = take(c, p, true);
        CHECK(r[p] != NULL);
        snprintf(name[p], sizeof(name[p]), "p%d", p);
        mark(r[p], name[p]);
        sl_srv_mirror_give(c, p, r[p]);
    }
    /* 1 used again: 2 is now the least recently given back */
    CHECK(take(c, 1, false) == r[1]);
    sl_srv_mirror_give(c, 1, r[1]);
    r[5] = take(c, 5, true);
    sl_srv_mirror_give(c, 5, r[5]);
    git_repository *got[6] = {0};
    for (int p = 1; p <= 5; p++)
        got[p] = take(c, p, false);
    CHECK(marked(got[1], "p1") && marked(got[3], "p3") && marked(got[4], "p4"));
    CHECK(got[2] != NULL && !marked(got[2], "p2")); /* 2 was evicted: opened again */
    for (int p = 1; p <= 5; p++)
        sl_srv_mirror_give(c, p, got[p]); /* the slots are full: one of these is freed */
    sl_srv_mirrors_free(c);
    git_libgit2_shutdown();
}

TEST(a_deleted_project_and_a_removed_directory)
{
    git_libgit2_init();
    base = sl_test_tmpdir();
    struct srv_mirrors *c = sl_srv_mirrors_new();
    git_repository *a = take(c, 7, true);
    CHECK(a != NULL);
    sl_srv_mirror_forget(c, 7);       /* taken: closed once given back */
    CHECK(git_repository_is_bare(a)); /* still usable by its taker */
    sl_srv_mirror_give(c, 7, a);
    a = take(c, 7, false);
    CHECK(a != NULL);
    sl_srv_mirror_give(c, 7, a);
    sl_srv_mirror_forget(c, 7); /* given back: closed at once */

    a = take(c, 8, true);
    sl_srv_mirror_give(c, 8, a);
    char *dir = dir_of(8), *cmd = sl_xasprintf("rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
    CHECK(take(c, 8, false) == NULL); /* not served from the cache once gone */
    a = take(c, 8, true);             /* made again */
    CHECK(a != NULL && git_repository_is_bare(a));
    sl_srv_mirror_give(c, 8, a);
    free(cmd);
    free(dir);
    sl_srv_mirrors_free(c);
    git_libgit2_shutdown();
}

/* a project's local repository (sl_srv_mirror_source): kept with its mirror from one take to
 * the next, opened again at another path, the caller's own beside a mirror that is not kept,
 * NULL for a directory that is no repository, and closed with the mirror (forget, eviction,
 * the cache's end: ASan reports a leak or a double free) */
TEST(a_local_source_is_kept_with_its_mirror)
{
    git_libgit2_init();
    base = sl_test_tmpdir();
    struct srv_mirrors *c = sl_srv_mirrors_new();
    char *src1 = sl_xasprintf("%s/src1", base), *src2 = sl_xasprintf("%s/src2", base);
    char *plain = sl_xasprintf("%s/plain", base);
    git_repository *init = NULL;
    CHECK(git_repository_init(&init, src1, 0) == 0);
    git_repository_free(init);
    CHECK(git_repository_init(&init, src2, 1) == 0);
    git_repository_free(init);
    CHECK(mkdir(plain, 0755) == 0);

    bool owned = true;
    git_repository *a = take(c, 1, true);
    CHECK(sl_srv_mirror_source(c, 1, a, plain, &owned) == NULL);
    git_repository *s = sl_srv_mirror_source(c, 1, a, src1, &owned);
    CHECK(s != NULL && owned); /* a mirror not yet kept (its slot is made at the give) */
    if (owned)
        git_repository_free(s);
    sl_srv_mirror_give(c, 1, a);

    a = take(c, 1, false);
    s = sl_srv_mirror_source(c, 1, a, src1, &owned);
    CHECK(s != NULL);
    if (owned)
        git_repository_free(s);
    else
        mark(s, "s1");
    sl_srv_mirror_give(c, 1, a);
    a = take(c, 1, false);
    s = sl_srv_mirror_source(c, 1, a, src1, &owned);
    CHECK(!owned && marked(s, "s1")); /* the same repository object again */
    s = sl_srv_mirror_source(c, 1, a, src2, &owned);
    CHECK(s != NULL && !owned && !marked(s, "s1") && git_repository_is_bare(s));

    /* a second taker's mirror is not kept: its source is its own to free */
    git_repository *b = take(c, 1, false);
    CHECK(b != NULL && b != a);
    git_repository *t = sl_srv_mirror_source(c, 1, b, src1, &owned);
    CHECK(t != NULL && owned);
    git_repository_free(t);
    sl_srv_mirror_give(c, 1, b);
    sl_srv_mirror_give(c, 1, a);

    /* forgotten while taken: the source is freed with the mirror at the give */
    a = take(c, 1, false);
    CHECK(sl_srv_mirror_source(c, 1, a, src2, &owned) != NULL && !owned);
    sl_srv_mirror_forget(c, 1);
    sl_srv_mirror_give(c, 1, a);

    /* evicted: five projects with sources in four slots */
    for (int p = 2; p <= 6; p++) {
        a = take(c, p, true);
        sl_srv_mirror_give(c, p, a);
        a = take(c, p, false);
        CHECK(sl_srv_mirror_source(c, p, a, src1, &owned) != NULL && !owned);
        sl_srv_mirror_give(c, p, a);
    }
    free(src1);
    free(src2);
    free(plain);
    sl_srv_mirrors_free(c);
    git_libgit2_shutdown();
}
