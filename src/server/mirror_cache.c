/* mirror_cache.c: the opened libgit2 repositories of the projects' mirrors (DATA/repos/<id>)
 * used last, kept open from one pipeline to the next. Opening a mirror reads its
 * configuration, the user's and the system's, and the mirror's refs again each time; that,
 * with the configuration snapshot of every fetch's remote, was about a twentieth of a
 * trivial job's server CPU (bench/README.md). A libgit2 repository is not for two threads at
 * once: whoever takes a mirror holds its project's repository lock (pipelines.c) until it
 * gives it back, and a mirror taken is never evicted. A kept repository sees what others
 * write to the directory (libgit2 reads loose refs at each lookup, re-reads packed-refs when
 * it changes, and rescans the packs on a missing object); a directory removed under the
 * server is noticed at the next take. At most SRV_MIRRORS_MAX are kept, the least recently
 * given back evicted first; a project's is closed when the project is deleted. A project
 * whose URL is a local directory has that repository kept open with its mirror too
 * (sl_srv_mirror_source): listing its refs through a remote connect opened it again, with
 * its configuration, at every pipeline. */
#include "base/alloc.h"
#include "base/fs.h"
#include "server/internal.h"

#include <git2.h>

#define SRV_MIRRORS_MAX 4

struct mirror {
    int64_t project_id; /* 0: a free slot */
    git_repository *repo;
    bool taken;
    bool forgotten;      /* its project was deleted while taken: freed when given back */
    uint64_t used;       /* the LRU clock at the last give */
    git_repository *src; /* the project's local repository (NULL: none opened) */
    char *src_path;      /* the path SRC was opened at */
};

/* Empties M into *OLD, whose repositories mirror_free frees outside the lock. */
static void mirror_clear(struct mirror *m, struct mirror *old)
{
    *old = *m;
    memset(m, 0, sizeof(*m));
}

static void mirror_free(struct mirror *old)
{
    git_repository_free(old->repo);
    git_repository_free(old->src);
    free(old->src_path);
}

struct srv_mirrors {
    pthread_mutex_t mu; /* the slots; never held across a libgit2 call but a free */
    struct mirror slot[SRV_MIRRORS_MAX];
    uint64_t clock;
};

struct srv_mirrors *sl_srv_mirrors_new(void)
{
    struct srv_mirrors *c = sl_xcalloc(1, sizeof(*c));
    pthread_mutex_init(&c->mu, NULL);
    return c;
}

void sl_srv_mirrors_free(struct srv_mirrors *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < SRV_MIRRORS_MAX; i++)
        mirror_free(&c->slot[i]);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

static struct mirror *find(struct srv_mirrors *c, int64_t project_id)
{
    for (size_t i = 0; i < SRV_MIRRORS_MAX; i++)
        if (c->slot[i].project_id == project_id)
            return &c->slot[i];
    return NULL;
}

int sl_srv_mirror_take(struct srv_mirrors *c, int64_t project_id, const char *dir, bool create,
                       git_repository **out)
{
    struct mirror stale = {0};
    *out = NULL;
    pthread_mutex_lock(&c->mu);
    struct mirror *m = find(c, project_id);
    if (m && !m->taken) {
        if (sl_fs_is_dir(dir)) {
            m->taken = true;
            *out = m->repo;
        } else { /* removed under the server: opened (or made) again below */
            mirror_clear(m, &stale);
        }
    }
    pthread_mutex_unlock(&c->mu);
    mirror_free(&stale);
    if (*out)
        return 0;
    /* not kept, or (a caller without the project's lock) taken: a repository of its own,
     * which sl_srv_mirror_give keeps when a slot is free then */
    if (git_repository_open_bare(out, dir) == 0 ||
        (create && git_repository_init(out, dir, 1) == 0))
        return 0;
    *out = NULL;
    return -1;
}

void sl_srv_mirror_give(struct srv_mirrors *c, int64_t project_id, git_repository *repo)
{
    struct mirror drop = {0};
    if (!repo)
        return;
    pthread_mutex_lock(&c->mu);
    c->clock++;
    struct mirror *m = find(c, project_id);
    if (m && m->repo == repo) {
        m->taken = false;
        m->used = c->clock;
        if (m->forgotten)
            mirror_clear(m, &drop);
    } else if (m) {
        drop.repo = repo; /* the project's is kept already */
    } else {
        struct mirror *victim = NULL;
        for (size_t i = 0; i < SRV_MIRRORS_MAX; i++) {
            struct mirror *e = &c->slot[i];
            if (!e->project_id) {
                victim = e;
                break;
            }
            if (!e->taken && (!victim || e->used < victim->used))
                victim = e;
        }
        if (victim) {
            mirror_clear(victim, &drop);
            *victim = (struct mirror){project_id, repo, false, false, c->clock, NULL, NULL};
        } else {
            drop.repo = repo; /* every slot taken */
        }
    }
    pthread_mutex_unlock(&c->mu);
    mirror_free(&drop);
}

git_repository *sl_srv_mirror_source(struct srv_mirrors *c, int64_t project_id,
                                     git_repository *repo, const char *path, bool *owned)
{
    git_repository *src = NULL, *old = NULL;
    char *old_path = NULL;
    *owned = false;
    pthread_mutex_lock(&c->mu);
    struct mirror *m = find(c, project_id);
    bool kept = m && m->repo == repo && m->taken && !m->forgotten;
    if (kept && m->src && !strcmp(m->src_path, path))
        src = m->src;
    pthread_mutex_unlock(&c->mu);
    if (src)
        return src;
    /* as libgit2's local transport opens it: PATH itself, no search upwards */
    if (git_repository_open_ext(&src, path, GIT_REPOSITORY_OPEN_NO_SEARCH, NULL) < 0)
        return NULL;
    pthread_mutex_lock(&c->mu);
    m = kept ? find(c, project_id) : NULL; /* taken by the caller: still the same slot */
    if (m && m->repo == repo && !m->forgotten) {
        old = m->src;
        old_path = m->src_path;
        m->src = src;
        m->src_path = sl_xstrdup(path);
    } else {
        *owned = true;
    }
    pthread_mutex_unlock(&c->mu);
    git_repository_free(old);
    free(old_path);
    return src;
}

void sl_srv_mirror_forget(struct srv_mirrors *c, int64_t project_id)
{
    struct mirror drop = {0};
    pthread_mutex_lock(&c->mu);
    struct mirror *m = find(c, project_id);
    if (m && m->taken)
        m->forgotten = true;
    else if (m)
        mirror_clear(m, &drop);
    pthread_mutex_unlock(&c->mu);
    mirror_free(&drop);
}
