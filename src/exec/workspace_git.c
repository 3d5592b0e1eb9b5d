/* workspace_git.c: the copy of a git project, fresh (CLONE) or brought up to date
 * (FETCH), with its own small repository (workspace.h says what and why). */
#include "base/compat.h"
#include "exec/workspace_int.h"
#include "base/alloc.h"
#include "base/fs.h"
#include "base/map.h"
#include "base/str.h"

#include <fcntl.h>
#include <git2.h>
#include <unistd.h>

/* GIT_DEPTH walks at most this many commits; a deeper depth is a full history anyway. */
#define SHALLOW_WALK_MAX 200000

/* One path of the project that the copy takes. */
struct item {
    char *path;
    bool dir;       /* a gitlink (empty directory) or a directory in the index's way */
    struct stat st; /* of the source, for files and links */
};

struct items {
    struct item *v;
    size_t n, cap;
};

static void items_release(struct items *it)
{
    for (size_t i = 0; i < it->n; i++)
        free(it->v[i].path);
    free(it->v);
}

static bool is_gitlink(uint32_t mode)
{
    return mode == GIT_FILEMODE_COMMIT;
}

int sl_ws_git_fail(struct sl_error *err, const char *what)
{
    const git_error *e = git_error_last();
    return sl_error_set(err, SL_EPROTO, "%s: %s", what, e && e->message ? e->message : "git error");
}

/* Adds REL when it exists in the working tree; missing files are counted as skipped
 * (deleted in the working tree but not yet from the index). */
static int add_item(struct copier *c, struct items *it, const char *rel, bool gitlink,
                    struct sl_error *err)
{
    struct stat st;

    if (sl_ws_excluded(c, rel))
        return 0;
    memset(&st, 0, sizeof(st));
    if (!gitlink) {
        sl_ws_abs_path(&c->sp, c->src, rel);
        if (lstat(c->sp.buf, &st) < 0) {
            if (errno == ENOENT || errno == ENOTDIR) {
                c->st.skipped++;
                return 0;
            }
            return sl_error_set_errno(err, SL_EIO, "%s", c->sp.buf);
        }
    }
    SL_GROW(it->v, it->cap, it->n + 1);
    it->v[it->n++] = (struct item){sl_xstrdup(rel), gitlink || S_ISDIR(st.st_mode), st};
    return 0;
}

/* What the copy takes (workspace.h): the index's paths in their working-tree state, and
 * untracked files git does not ignore. CHANGED gets every path that differs from HEAD. */
static int collect(struct copier *c, git_repository *repo, struct items *it, struct sl_map *changed,
                   struct sl_error *err)
{
    git_status_list *status = NULL;
    git_index *idx = NULL;
    git_status_options so;
    const char *prev = NULL;
    int rc = 0;

    git_status_options_init(&so, GIT_STATUS_OPTIONS_VERSION);
    /* never look into .sluice/: it may hold thousands of files of earlier builds */
    if (git_ignore_add_rule(repo, "/.sluice/\n") < 0) {
        rc = sl_ws_git_fail(err, "cannot set up the status walk");
        goto out;
    }
    so.show = GIT_STATUS_SHOW_INDEX_AND_WORKDIR;
    so.flags = GIT_STATUS_OPT_INCLUDE_UNTRACKED | GIT_STATUS_OPT_RECURSE_UNTRACKED_DIRS |
               GIT_STATUS_OPT_EXCLUDE_SUBMODULES;
    if (git_status_list_new(&status, repo, &so) < 0) {
        rc = sl_ws_git_fail(err, "cannot read the repository status");
        goto out;
    }
    if (git_repository_index(&idx, repo) < 0) {
        rc = sl_ws_git_fail(err, "cannot read the index");
        goto out;
    }
    size_t n = git_index_entrycount(idx);
    for (size_t i = 0; i < n && rc == 0; i++) {
        const git_index_entry *e = git_index_get_byindex(idx, i);
        if (!e || (prev && sl_streq(prev, e->path))) /* conflict stages: copy once */
            continue;
        prev = e->path;
        rc = add_item(c, it, e->path, is_gitlink(e->mode), err);
    }
    size_t ns = git_status_list_entrycount(status);
    for (size_t i = 0; i < ns && rc == 0; i++) {
        const git_status_entry *s = git_status_byindex(status, i);
        const git_diff_delta *d = s->index_to_workdir ? s->index_to_workdir : s->head_to_index;
        if (!d)
            continue;
        const char *path = d->new_file.path ? d->new_file.path : d->old_file.path;
        if (s->head_to_index && s->head_to_index->old_file.path)
            sl_map_put(changed, s->head_to_index->old_file.path, (void *)1);
        sl_map_put(changed, path, (void *)1);
        if ((s->status & GIT_STATUS_WT_NEW) && !sl_ends_with(path, "/"))
            rc = add_item(c, it, path, false, err);
    }
out:
    git_index_free(idx);
    git_status_list_free(status);
    return rc;
}

/* Every path the copy must have, with its parents as directories. */
static void expect_all(const struct items *it, struct sl_map *expected)
{
    for (size_t i = 0; i < it->n; i++) {
        char *p = sl_xstrdup(it->v[i].path);
        sl_map_put(expected, p, it->v[i].dir ? WS_EXPECT_DIR : WS_EXPECT_FILE);
        for (char *slash = strrchr(p, '/'); slash; slash = strrchr(p, '/')) {
            *slash = '\0';
            if (sl_map_get(expected, p) == WS_EXPECT_DIR)
                break;
            sl_map_put(expected, p, WS_EXPECT_DIR);
        }
        free(p);
    }
}

/* Puts item I into the copy. Under FETCH (OLD given) a file whose source and copy are
 * both as the last prepare left them stays; anything else is replaced. NEW records it. */
static int apply(struct copier *c, const struct item *i, const struct ws_manifest *old,
                 struct ws_manifest *new, bool *dirty, struct sl_error *err)
{
    struct ws_stat src, dst;
    struct stat st;
    int rc;

    if (i->dir)
        return sl_ws_make_dir(c, i->path, strlen(i->path), 0755, err);
    if ((rc = sl_ws_make_parent(c, i->path, err)) < 0)
        return rc;
    sl_ws_stat_from(&src, &i->st);
    sl_ws_abs_path(&c->dp, c->dst, i->path);
    bool there = lstat(c->dp.buf, &st) == 0;
    if (there && old) {
        const struct ws_entry *e = sl_map_get(&old->entries, i->path);
        sl_ws_stat_from(&dst, &st);
        if (e && sl_ws_stat_same(&e->src, &src) && sl_ws_stat_same(&e->dst, &dst)) {
            sl_ws_manifest_put(new, i->path, &src, &dst);
            c->st.unchanged++;
            return 0;
        }
    }
    *dirty = true;
    if (there) {
        if ((rc = sl_fs_remove_tree(c->dp.buf, err)) < 0)
            return rc;
        c->st.removed++;
    }
    if ((rc = sl_ws_copy_one(c, i->path, &i->st, err)) < 0)
        return rc;
    sl_ws_abs_path(&c->dp, c->dst, i->path);
    if (lstat(c->dp.buf, &st) == 0) { /* special files were skipped: nothing to record */
        sl_ws_stat_from(&dst, &st);
        sl_ws_manifest_put(new, i->path, &src, &dst);
    }
    return 0;
}

/* Writes CONTENT to GITDIR/NAME unless it already holds exactly that. */
static int put_file(const char *gitdir, const char *name, const struct sl_str *content,
                    struct sl_error *err)
{
    char *path = sl_fs_join(gitdir, name), *old = NULL;
    size_t len = 0;
    int rc = 0;

    if (sl_fs_read_file(path, WS_MANIFEST_MAX, &old, &len, NULL) == 0 && len == content->len &&
        memcmp(old, content->buf, len) == 0)
        goto out;
    rc = sl_fs_write_atomic(path, content->buf, content->len, 0644, err);
out:
    free(old);
    free(path);
    return rc;
}

/* The project's branches and tags as packed-refs: one file whatever their number; git
 * peels tags on demand, so no peeled lines are needed. */
static int refs_text(git_repository *src, struct sl_str *out, struct sl_error *err)
{
    git_reference_iterator *it = NULL;
    git_reference *ref = NULL;
    int rc = 0, e;

    if (git_reference_iterator_new(&it, src) < 0)
        return sl_ws_git_fail(err, "cannot list the refs");
    sl_str_adds(out, "# pack-refs with: \n");
    while ((e = git_reference_next(&ref, it)) == 0) {
        const char *name = git_reference_name(ref);
        const git_oid *oid = git_reference_target(ref);
        if (oid && (sl_starts_with(name, "refs/heads/") || sl_starts_with(name, "refs/tags/"))) {
            char hex[GIT_OID_HEXSZ + 1];
            git_oid_tostr(hex, sizeof(hex), oid);
            sl_str_addf(out, "%s %s\n", hex, name);
        }
        git_reference_free(ref);
        ref = NULL;
    }
    if (e != GIT_ITEROVER)
        rc = sl_ws_git_fail(err, "cannot list the refs");
    git_reference_iterator_free(it);
    return rc;
}

/* The project's HEAD: *OID set (and true returned) for a commit, else the branch an
 * unborn HEAD names goes into BRANCH. */
static int read_head(git_repository *src, git_oid *oid, bool *born, struct sl_str *branch,
                     struct sl_error *err)
{
    git_reference *head = NULL, *sym = NULL;
    int e = git_repository_head(&head, src);

    *born = false;
    if (e == GIT_EUNBORNBRANCH || e == GIT_ENOTFOUND) {
        if (git_reference_lookup(&sym, src, "HEAD") == 0 &&
            git_reference_type(sym) == GIT_REFERENCE_SYMBOLIC)
            sl_str_adds(branch, git_reference_symbolic_target(sym));
        else
            sl_str_adds(branch, "refs/heads/main");
        git_reference_free(sym);
        return 0;
    }
    if (e < 0)
        return sl_ws_git_fail(err, "cannot read HEAD");
    *oid = *git_reference_target(head); /* git_repository_head resolves */
    *born = true;
    git_reference_free(head);
    return 0;
}

/* The commits of `.git/shallow` for GIT_DEPTH: those DEPTH-1 steps from HEAD, whose
 * parents the copy then does not show, as `git clone --depth DEPTH` cuts them. */
static int shallow_text(git_repository *repo, const git_oid *head, int depth, struct sl_str *out,
                        struct sl_error *err)
{
    git_oid *frontier = sl_xmalloc(sizeof(*frontier)), *next = NULL;
    size_t nf = 1, nn = 0, cap = 0, walked = 0;
    struct sl_map seen = SL_MAP_INIT;
    char hex[GIT_OID_HEXSZ + 1];
    int rc = 0;

    frontier[0] = *head;
    sl_map_put(&seen, git_oid_tostr(hex, sizeof(hex), head), (void *)1);
    for (int level = 0; level < depth && nf > 0 && rc == 0; level++) {
        nn = 0;
        for (size_t i = 0; i < nf && rc == 0; i++) {
            git_commit *commit = NULL;
            if (git_commit_lookup(&commit, repo, &frontier[i]) < 0) {
                rc = sl_ws_git_fail(err, "GIT_DEPTH: cannot read a commit");
                break;
            }
            unsigned np = git_commit_parentcount(commit);
            if (level == depth - 1) {
                if (np > 0)
                    sl_str_addf(out, "%s\n", git_oid_tostr(hex, sizeof(hex), &frontier[i]));
            } else {
                for (unsigned p = 0; p < np; p++) {
                    const git_oid *po = git_commit_parent_id(commit, p);
                    if (sl_map_has(&seen, git_oid_tostr(hex, sizeof(hex), po)))
                        continue;
                    sl_map_put(&seen, hex, (void *)1);
                    SL_GROW(next, cap, nn + 1);
                    next[nn++] = *po;
                }
            }
            git_commit_free(commit);
            if (++walked > SHALLOW_WALK_MAX) { /* deeper than any history: no cut */
                sl_str_reset(out);
                goto out;
            }
        }
        free(frontier);
        frontier = next;
        nf = nn;
        next = NULL;
        cap = 0;
    }
out:
    free(frontier);
    free(next);
    sl_map_release(&seen);
    return rc;
}

/* Fills the stat data of index entry E from the copied file, for files whose content is
 * the committed one, so that `git status` in the job need not hash them. */
static void fill_stat(git_index_entry *e, const struct stat *st)
{
    e->ctime.seconds = (int32_t)st->st_ctim.tv_sec;
    e->ctime.nanoseconds = (uint32_t)st->st_ctim.tv_nsec;
    e->mtime.seconds = (int32_t)st->st_mtim.tv_sec;
    e->mtime.nanoseconds = (uint32_t)st->st_mtim.tv_nsec;
    e->dev = (uint32_t)st->st_dev;
    e->ino = (uint32_t)st->st_ino;
    e->uid = st->st_uid;
    e->gid = st->st_gid;
    e->file_size = (uint32_t)st->st_size;
    /* we just copied and stat'ed it: no need for libgit2 to re-hash it as racily clean */
    e->flags_extended |= GIT_INDEX_ENTRY_UPTODATE;
}

/* The copy's index: HEAD's tree, with the stat data of the unchanged files. */
static int write_index(struct copier *c, git_repository *dst, const git_oid *head,
                       const struct sl_map *changed, struct sl_error *err)
{
    git_commit *commit = NULL;
    git_tree *tree = NULL;
    git_index *idx = NULL;
    int rc = 0;

    if (git_commit_lookup(&commit, dst, head) < 0 || git_commit_tree(&tree, commit) < 0) {
        rc = sl_ws_git_fail(err, "cannot read the HEAD commit through the alternates");
        goto out;
    }
    if (git_repository_index(&idx, dst) < 0 || git_index_read_tree(idx, tree) < 0) {
        rc = sl_ws_git_fail(err, "cannot build the workspace index");
        goto out;
    }
    size_t n = git_index_entrycount(idx);
    for (size_t i = 0; i < n; i++) {
        const git_index_entry *ie = git_index_get_byindex(idx, i);
        struct stat st;
        if (!ie || sl_map_has(changed, ie->path) || is_gitlink(ie->mode))
            continue;
        sl_ws_abs_path(&c->dp, c->dst, ie->path);
        if (lstat(c->dp.buf, &st) < 0)
            continue;
        if ((S_ISLNK(st.st_mode) != S_ISLNK(ie->mode)) ||
            !(S_ISREG(st.st_mode) || S_ISLNK(st.st_mode)))
            continue;
        git_index_entry copy = *ie;
        fill_stat(&copy, &st);
        if (git_index_add(idx, &copy) < 0) {
            rc = sl_ws_git_fail(err, "cannot update the workspace index");
            goto out;
        }
    }
    if (git_index_write(idx) < 0)
        rc = sl_ws_git_fail(err, "cannot write the workspace index");
out:
    git_index_free(idx);
    git_tree_free(tree);
    git_commit_free(commit);
    return rc;
}

/* The copy's git directory, written directly: HEAD, config, objects/info/alternates
 * naming the project's objects, refs/, packed-refs, and `shallow` for GIT_DEPTH. Under
 * FETCH only what differs is rewritten. */
static int write_gitdir(git_repository *src, const char *gitdir, const git_oid *head, bool born,
                        const char *branch, int depth, struct sl_error *err)
{
    static const char *const dirs[] = {"", "/objects", "/objects/info", "/refs"};
    struct sl_str s = SL_STR_INIT;
    char hex[GIT_OID_HEXSZ + 1];
    int rc = 0;

    for (size_t i = 0; i < sizeof(dirs) / sizeof(*dirs); i++) {
        char *d = sl_xasprintf("%s%s", gitdir, dirs[i]);
        if (mkdir(d, 0755) < 0 && errno != EEXIST)
            rc = sl_error_set_errno(err, SL_EIO, "cannot create directory %s", d);
        free(d);
        if (rc < 0)
            goto out;
    }
    if (born)
        sl_str_addf(&s, "%s\n", git_oid_tostr(hex, sizeof(hex), head));
    else
        sl_str_addf(&s, "ref: %s\n", branch);
    if ((rc = put_file(gitdir, "HEAD", &s, err)) < 0)
        goto out;
    sl_str_reset(&s);
    sl_str_adds(&s, "[core]\n\trepositoryformatversion = 0\n\tfilemode = true\n\tbare = false\n"
                    "\tlogallrefupdates = true\n");
    char *cfg = sl_fs_join(gitdir, "config");
    bool has_cfg = sl_fs_exists(cfg);
    free(cfg);
    if (!has_cfg && (rc = put_file(gitdir, "config", &s, err)) < 0) /* a job may add to it */
        goto out;
    sl_str_reset(&s);
    sl_str_addf(&s, "%s/objects\n", git_repository_commondir(src));
    /* the common dir ends with a slash: keep the path as git itself writes it */
    if ((rc = put_file(gitdir, "objects/info/alternates", &s, err)) < 0)
        goto out;
    sl_str_reset(&s);
    if ((rc = refs_text(src, &s, err)) < 0 || (rc = put_file(gitdir, "packed-refs", &s, err)) < 0)
        goto out;
    sl_str_reset(&s);
    char *shallow = sl_fs_join(gitdir, "shallow");
    if (born && depth > 0 && (rc = shallow_text(src, head, depth, &s, err)) < 0) {
        free(shallow);
        goto out;
    }
    if (s.len > 0)
        rc = put_file(gitdir, "shallow", &s, err);
    else if (unlink(shallow) < 0 && errno != ENOENT)
        rc = sl_error_set_errno(err, SL_EIO, "cannot remove %s", shallow);
    free(shallow);
out:
    sl_str_release(&s);
    return rc;
}

static bool ignored_in(void *ctx, const char *rel)
{
    int ign = 0;
    return git_ignore_path_is_ignored(&ign, ctx, rel) == 0 && ign;
}

int sl_ws_git_prepare(struct copier *c, git_repository *repo, const struct sl_workspace_options *o,
                      struct sl_error *err)
{
    struct items it = {0};
    struct sl_map changed = SL_MAP_INIT, expected = SL_MAP_INIT;
    struct ws_manifest old, new;
    struct ws_clean clean = {0};
    struct sl_str branch = SL_STR_INIT;
    git_repository *dst = NULL;
    char *gitdir = sl_fs_join(c->dst, ".git");
    char *mpath = sl_fs_join(gitdir, WS_MANIFEST_NAME);
    char hex[GIT_OID_HEXSZ + 1] = "-";
    git_oid head;
    bool born = false, dirty = false;
    int rc;

    sl_ws_manifest_init(&old);
    sl_ws_manifest_init(&new);
    if ((rc = sl_ws_clean_parse(&clean, o->clean_flags, err)) < 0)
        goto out;
    bool reuse = o->strategy == SL_WORKSPACE_FETCH && sl_fs_is_dir(gitdir) &&
                 sl_ws_manifest_load(&old, mpath) == 0;
    if (!reuse && (rc = sl_fs_remove_tree(c->dst, err)) < 0)
        goto out;
    if ((rc = sl_fs_mkdir_p(c->dst, 0755, err)) < 0)
        goto out;
    if ((rc = read_head(repo, &head, &born, &branch, err)) < 0)
        goto out;
    if (born)
        git_oid_tostr(hex, sizeof(hex), &head);
    if (o->checkout) {
        if ((rc = collect(c, repo, &it, &changed, err)) < 0)
            goto out;
        for (size_t i = 0; i < it.n && rc == 0; i++)
            rc = apply(c, &it.v[i], reuse ? &old : NULL, &new, &dirty, err);
        if (rc < 0)
            goto out;
    }
    if ((rc = write_gitdir(repo, gitdir, &head, born, branch.buf, o->depth, err)) < 0)
        goto out;
    if (git_repository_open_ext(&dst, c->dst, GIT_REPOSITORY_OPEN_NO_SEARCH, NULL) < 0) {
        rc = sl_ws_git_fail(err, "cannot open the workspace repository");
        goto out;
    }
    if (!o->checkout)
        goto out; /* no files, no index, no record: the next FETCH copies afresh */
    if (reuse && clean.enabled) {
        /* after the copy, so the project's current .gitignore files decide */
        expect_all(&it, &expected);
        if ((rc = sl_ws_clean_walk(&clean, c->dst, &expected, ignored_in, dst, &c->st.removed,
                                   err)) < 0)
            goto out;
    }
    char *ipath = sl_fs_join(gitdir, "index");
    struct stat ist;
    struct ws_stat is = {0};
    if (lstat(ipath, &ist) == 0)
        sl_ws_stat_from(&is, &ist);
    if (!reuse || dirty || !sl_streq(old.head, hex) || old.entries.n != new.entries.n ||
        !sl_ws_stat_same(&is, &old.index)) {
        if (born && (rc = write_index(c, dst, &head, &changed, err)) < 0) {
            free(ipath);
            goto out;
        }
        memset(&is, 0, sizeof(is));
        if (lstat(ipath, &ist) == 0)
            sl_ws_stat_from(&is, &ist);
    }
    free(ipath);
    snprintf(new.head, sizeof(new.head), "%s", hex);
    new.index = is;
    rc = sl_ws_manifest_save(&new, mpath, err);
    c->st.reused = reuse;
out:
    git_repository_free(dst);
    sl_ws_clean_release(&clean);
    sl_ws_manifest_release(&old);
    sl_ws_manifest_release(&new);
    sl_map_release(&changed);
    sl_map_release(&expected);
    sl_str_release(&branch);
    items_release(&it);
    free(gitdir);
    free(mpath);
    return rc;
}
