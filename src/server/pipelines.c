/* pipelines.c: a pipeline from a repository: fetch the project into its mirror
 * (DATA/repos/<id>, bare, libgit2), check the commit out once into DATA/trees/<sha> (the
 * jobs copy their workspace from it), compile .gitlab-ci.yml there, plan it, and store the
 * pipeline with its jobs. Each job carries the spec its worker needs as JSON; the
 * scheduler's view of the job is read from that same JSON (sl_srv_sched_job_from_json, and
 * later once per job through spec_view.c), so creation and every later transition agree. */
#include "base/compat.h"
#include "base/alloc.h"
#include "base/diag.h"
#include "base/fs.h"
#include "base/git_net.h"
#include "base/include_git.h"
#include "base/include_http.h"
#include "base/log.h"
#include "base/time.h"
#include "config/config.h"
#include "expr/expr.h"
#include "exec/jobjson.h"
#include "exec/mask.h"
#include "jobspec/jobspec.h"
#include "plan/plan.h"
#include "expr/vars.h"
#include "server/internal.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <ftw.h>
#include <stdatomic.h>
#include <git2.h>
#include <sys/stat.h>
#include <unistd.h>

#define CI_FILE_MAX (4 * 1024 * 1024)

/* Repository operations are serialised per project: libgit2 locks refs per repository,
 * and two fetches of one mirror at once would fail for no good reason. Only per project: a
 * remote that hangs holds its own project's lock, never another project's pipelines. The
 * locks live while someone holds or waits for them (a list: a server has few fetches at
 * once), under locks_mu, which is never held across a fetch. */
struct repo_lock {
    int64_t project_id;
    int users; /* holding or waiting; under locks_mu */
    pthread_mutex_t mu;
    struct repo_lock *next;
};
static pthread_mutex_t locks_mu = PTHREAD_MUTEX_INITIALIZER;
static struct repo_lock *locks;
/* Projects deleted since this start (sl_srv_project_delete), under locks_mu: a request that
 * read its project before the deletion and takes the lock after it must not make the mirror
 * again (ids are never reused, so the list only grows, by one id a deletion). */
static int64_t *deleted;
static size_t ndeleted, deleted_cap;
static atomic_uint tree_seq; /* temporary trees' names, unique across threads */

static struct repo_lock *repo_lock(int64_t project_id)
{
    pthread_mutex_lock(&locks_mu);
    struct repo_lock *l = locks;
    while (l && l->project_id != project_id)
        l = l->next;
    if (!l) {
        l = sl_xcalloc(1, sizeof(*l));
        l->project_id = project_id;
        pthread_mutex_init(&l->mu, NULL);
        l->next = locks;
        locks = l;
    }
    l->users++;
    pthread_mutex_unlock(&locks_mu);
    pthread_mutex_lock(&l->mu);
    return l;
}

static void repo_unlock(struct repo_lock *l)
{
    pthread_mutex_unlock(&l->mu);
    pthread_mutex_lock(&locks_mu);
    if (--l->users == 0) {
        struct repo_lock **pp = &locks;
        while (*pp != l)
            pp = &(*pp)->next;
        *pp = l->next;
        pthread_mutex_destroy(&l->mu);
        free(l);
    }
    pthread_mutex_unlock(&locks_mu);
}

/* Whether project PROJECT_ID was deleted since this start: asked holding its repo_lock,
 * before anything that would write its mirror. */
static bool project_deleted(int64_t project_id)
{
    bool found = false;
    pthread_mutex_lock(&locks_mu);
    for (size_t i = 0; i < ndeleted && !found; i++)
        found = deleted[i] == project_id;
    pthread_mutex_unlock(&locks_mu);
    return found;
}

/* libgit2 is initialised on first use, not at start-up: Debian's libgit2 reads the whole
 * system CA bundle into memory when initialised, which an idle server never needs. */
static pthread_once_t git_once = PTHREAD_ONCE_INIT;

static void git_init_once(void)
{
    git_libgit2_init();
    /* the objects libgit2 keeps parsed, for all repositories at once: the mirrors stay open
     * (mirror_cache.c), so their commits and trees would pile up to libgit2's 256 MiB
     * default; a pipeline looks up a handful */
    git_libgit2_opts(GIT_OPT_SET_CACHE_MAX_SIZE, (ssize_t)(4 << 20));
    if (sl_git_net_install() < 0) /* then fetches have no time limit: say so */
        sl_log(SL_LOG_WARN, "libgit2 refused the time-limited socket stream", NULL);
}

static int git_fail(struct sl_error *err, const char *what)
{
    const git_error *e = git_error_last();
    return sl_error_set(err, SL_EINVAL, "%s: %s", what, e && e->message ? e->message : "failed");
}

/* Whether a fetch of REM (connected) into REPO would change nothing: every branch and tag
 * it advertises, and EXTRA_REF (NULL: none), is already in REPO at the same object. The
 * fetch's refspecs map those names onto themselves and nothing is pruned, so such a fetch
 * writes no ref and downloads nothing (a ref REPO has points at objects REPO has); a ref
 * pushed since the last fetch differs, or is missing, and makes it false. The peeled
 * entries of annotated tags ("^{}") are the advertisement's, not refs. */
static bool fetch_is_noop(git_repository *repo, git_remote *rem, const char *extra_ref)
{
    const git_remote_head **heads;
    size_t n;
    bool extra_seen = !extra_ref;
    if (git_remote_ls(&heads, &n, rem) < 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        const char *name = heads[i]->name;
        bool extra = extra_ref && !strcmp(name, extra_ref);
        if (!extra && strncmp(name, "refs/heads/", 11) && strncmp(name, "refs/tags/", 10))
            continue;
        size_t len = strlen(name);
        if (len >= 3 && !strcmp(name + len - 3, "^{}"))
            continue;
        git_oid have;
        if (git_reference_name_to_id(&have, repo, name) < 0 ||
            !git_oid_equal(&have, &heads[i]->oid))
            return false;
        extra_seen |= extra;
    }
    /* a missing extra ref is the fetch's to report */
    return extra_seen;
}

/* loose_noop's walk of PATH (LEN bytes, in a buffer of PATH_MAX; its ref names start at
 * BASE): 1 when every ref file under it names in REPO what it names in SRC, 0 when one does
 * not (or does not resolve), -1 when the walk cannot tell (an entry that is neither a plain
 * directory nor a plain file, a name too long or too deep, a directory unreadable). */
static int loose_walk(git_repository *repo, git_repository *src, char *path, size_t len,
                      size_t base, int depth)
{
    DIR *d = depth < 32 ? opendir(path) : NULL;
    if (!d)
        return depth < 32 && errno == ENOENT && depth == 0 ? 1 : -1;
    int rc = 1;
    struct dirent *e;
    while (rc == 1 && (e = readdir(d))) {
        const char *name = e->d_name;
        size_t n = strlen(name);
        if (!strcmp(name, ".") || !strcmp(name, ".."))
            continue;
        if (n >= 5 && !strcmp(name + n - 5, ".lock")) /* an update under way: as the iterator */
            continue;
        if (name[0] == '.' || len + 1 + n >= PATH_MAX) {
            rc = -1;
            break;
        }
        path[len] = '/';
        memcpy(path + len + 1, name, n + 1);
        if (e->d_type == DT_DIR) {
            rc = loose_walk(repo, src, path, len + 1 + n, base, depth + 1);
        } else if (e->d_type == DT_REG) {
            git_oid want, have;
            rc = git_reference_name_to_id(&want, src, path + base) == 0 &&
                 git_reference_name_to_id(&have, repo, path + base) == 0 &&
                 git_oid_equal(&have, &want);
        } else {
            rc = -1;
        }
        path[len] = '\0';
    }
    closedir(d);
    return rc;
}

/* local_fetch_is_noop the short way, for a source without packed refs (most local
 * repositories a server is given): its refs/heads and refs/tags directories read directly,
 * each file's ref resolved in SRC and in REPO. libgit2's iterator walks all of refs/ with a
 * stat of each entry and copies the packed refs; at every pipeline, that was about a
 * fiftieth of the server's CPU (bench/README.md). -1: cannot tell (packed refs, a worktree,
 * anything unusual): the iterator answers. */
static int loose_noop(git_repository *repo, git_repository *src)
{
    const char *common = git_repository_commondir(src), *gitdir = git_repository_path(src);
    char path[PATH_MAX];
    size_t n = common ? strlen(common) : 0;
    if (!n || !gitdir || strcmp(common, gitdir) || common[n - 1] != '/' || n + 64 >= PATH_MAX)
        return -1;
    int rc = 1;
    static const char *const dirs[] = {"refs/heads", "refs/tags"};
    for (size_t i = 0; rc == 1 && i < SL_ARRAY_LEN(dirs); i++) {
        int len = snprintf(path, sizeof(path), "%s%s", common, dirs[i]);
        rc = loose_walk(repo, src, path, (size_t)len, n, 0);
    }
    /* packed refs (looked for after the walk: a pack-refs under way moved nothing it saw
     * out of sight then) are the iterator's */
    struct stat st;
    snprintf(path, sizeof(path), "%spacked-refs", common);
    if (rc == 1 && (lstat(path, &st) == 0 || errno != ENOENT))
        rc = -1;
    return rc;
}

/* fetch_is_noop for a remote that is the local repository SRC, read directly: every branch
 * and tag of SRC (a symbolic one at what it resolves to, as the local transport lists it) is
 * in REPO at the same object. False when a ref does not resolve: the fetch then reports
 * what it reports. */
static bool local_fetch_is_noop(git_repository *repo, git_repository *src)
{
    int fast = loose_noop(repo, src);
    if (fast >= 0)
        return fast == 1;
    git_reference_iterator *it = NULL;
    git_reference *ref = NULL;
    bool noop = true;
    if (git_reference_iterator_new(&it, src) < 0)
        return false;
    int rc;
    while (noop && (rc = git_reference_next(&ref, it)) == 0) {
        const char *name = git_reference_name(ref);
        if (!strncmp(name, "refs/heads/", 11) || !strncmp(name, "refs/tags/", 10)) {
            /* a direct ref's object is the iterator's, read already; a symbolic one is
             * resolved */
            git_oid want, have;
            const git_oid *direct = git_reference_target(ref);
            if (direct)
                git_oid_cpy(&want, direct);
            noop = (direct || git_reference_name_to_id(&want, src, name) == 0) &&
                   git_reference_name_to_id(&have, repo, name) == 0 && git_oid_equal(&have, &want);
        }
        git_reference_free(ref);
    }
    if (noop && rc != GIT_ITEROVER)
        noop = false;
    git_reference_iterator_free(it);
    return noop;
}

/* Fetches every branch and tag of URL into REPO, and EXTRA_REF (NULL: none) under its own
 * name: a merge request's head, which a fork's commits are only reachable from. The remote's
 * refs are listed first, and when REPO already has every one of them (fetch_is_noop) the
 * fetch stops there: most pipelines are made for a ref that has not moved since the last
 * one, and a fetch that changes nothing still negotiates and rewrites FETCH_HEAD (about a
 * tenth of a trivial job's server CPU, bench/README.md). SRC (NULL: none) is URL's repository
 * when URL is a local directory, already open (sl_srv_mirror_source): its refs are compared
 * with REPO's directly, without the remote connect that opened it and listed them again
 * (about a twentieth of a trivial job's server CPU). */
static int fetch_all(git_repository *repo, const char *url, const char *extra_ref,
                     git_repository *src, struct sl_error *err)
{
    if (src && !extra_ref && local_fetch_is_noop(repo, src))
        return 0;
    git_remote *rem = NULL;
    char heads[] = "+refs/heads/*:refs/heads/*", tags[] = "+refs/tags/*:refs/tags/*";
    char *extra = extra_ref ? sl_xasprintf("+%s:%s", extra_ref, extra_ref) : NULL;
    char *specs[] = {heads, tags, extra};
    git_strarray arr = {specs, extra ? 3 : 2};
    git_fetch_options fo;
    git_fetch_options_init(&fo, GIT_FETCH_OPTIONS_VERSION);
    /* An anonymous remote without url.*.insteadOf rewriting: libgit2 1.5 with PCRE2 10.42
     * leaks the match frames of every config glob iteration (about 25 KiB each), and
     * git_remote_create_anonymous runs two such iterations per call, so every pipeline cost
     * some 200 KiB of RSS for good (bench/server_soak.sh). The mirror fetches the project's
     * URL as registered; rewriting it by the server user's git config is not wanted anyway. */
    git_remote_create_options ro;
    git_remote_create_options_init(&ro, GIT_REMOTE_CREATE_OPTIONS_VERSION);
    ro.repository = repo;
    ro.flags = GIT_REMOTE_CREATE_SKIP_INSTEADOF | GIT_REMOTE_CREATE_SKIP_DEFAULT_FETCHSPEC;
    int rc = 0;
    if (git_remote_create_with_opts(&rem, url, &ro) < 0 ||
        git_remote_connect(rem, GIT_DIRECTION_FETCH, &fo.callbacks, &fo.proxy_opts,
                           &fo.custom_headers) < 0) {
        rc = git_fail(err, url);
        goto out;
    }
    if (fetch_is_noop(repo, rem, extra_ref))
        goto out;
    /* the fetch connects again with its own options: one listing more, only when something
     * moved */
    git_remote_disconnect(rem);
    if (git_remote_fetch(rem, &arr, &fo, NULL) < 0)
        rc = git_fail(err, url);
out:
    git_remote_free(rem);
    free(extra);
    return rc;
}

/* The forge's merge of MR into its target, if REPO can have it: fetched from URL's
 * MR->merge_ref (in a fetch of its own: a ref the forge dropped, as GitHub does on a
 * conflict, must not fail the pipeline, which then runs on the head) and only if it is a
 * merge of MR's head into something (its second parent the head), so a stale merge of an
 * older head is never run. On success MERGE_OUT and TARGET_OUT (41 bytes each) get the
 * merge and its first parent. */
static bool merge_resolve(git_repository *repo, const char *url, const struct srv_mr *mr,
                          char *merge_out, char *target_out)
{
    git_object *obj = NULL;
    git_oid head;
    bool ok = false;
    struct sl_error ferr = SL_ERROR_INIT;
    char *spec = sl_xasprintf("%s^{commit}", mr->merge_sha);
    fetch_all(repo, url, mr->merge_ref, NULL, &ferr);
    sl_error_release(&ferr);
    if (git_oid_fromstr(&head, mr->head_sha) == 0 && git_revparse_single(&obj, repo, spec) == 0) {
        const git_commit *c = (const git_commit *)obj;
        if (git_commit_parentcount(c) == 2 && git_oid_equal(git_commit_parent_id(c, 1), &head)) {
            git_oid_tostr(merge_out, GIT_OID_HEXSZ + 1, git_commit_id(c));
            git_oid_tostr(target_out, GIT_OID_HEXSZ + 1, git_commit_parent_id(c, 0));
            ok = true;
        }
    }
    git_object_free(obj);
    free(spec);
    return ok;
}

/* Fetches URL into project PROJECT_ID's bare mirror DIR (kept open from one pipeline to the
 * next: mirror_cache.c; the caller holds the project's repo_lock) and resolves REF there (a branch
 * first, then a tag). *SHA_OUT (41 bytes) gets the commit, *IS_TAG whether REF was a tag. For a
 * merge request MR (else NULL) the commit is its head, fetched with its forge's head ref, or the
 * forge's merge of it (merge_resolve), whose target's commit then goes to MERGED_TARGET
 * (41 bytes; "" for a head). */
static int mirror_resolve(struct sl_server *s, int64_t project_id, const char *url, const char *dir,
                          const char *ref, const struct srv_mr *mr, char *sha_out,
                          char *merged_target, bool *is_tag, struct sl_error *err)
{
    git_repository *repo = NULL;
    git_object *obj = NULL;
    int rc = 0;
    pthread_once(&git_once, git_init_once);
    if (sl_srv_mirror_take(s->mirrors, project_id, dir, true, &repo) < 0) {
        rc = git_fail(err, dir);
        goto out;
    }
    /* a project whose URL is a local directory: its repository, kept open with the mirror
     * (as libgit2 picks its local transport: a path that is a directory) */
    bool src_owned = false;
    git_repository *src = !mr && url[0] == '/' && !strstr(url, "://") && sl_fs_is_dir(url)
                              ? sl_srv_mirror_source(s->mirrors, project_id, repo, url, &src_owned)
                              : NULL;
    rc = fetch_all(repo, url, mr ? mr->head_ref : NULL, src, err);
    if (src_owned)
        git_repository_free(src);
    if (rc < 0)
        goto out;
    *is_tag = false;
    if (mr) {
        char *head = sl_xasprintf("%s^{commit}", mr->head_sha);
        if (strlen(mr->head_sha) != GIT_OID_HEXSZ || git_revparse_single(&obj, repo, head) < 0)
            rc = sl_error_set(err, SL_EINVAL,
                              "the merge request's head %.40s is not in the repository (nor "
                              "in %s)",
                              mr->head_sha, mr->head_ref);
        else if (!mr->merge_sha || !merge_resolve(repo, url, mr, sha_out, merged_target))
            git_oid_tostr(sha_out, GIT_OID_HEXSZ + 1, git_object_id(obj));
        free(head);
        goto out;
    }
    char *branch = sl_xasprintf("refs/heads/%s^{commit}", ref);
    char *tag = sl_xasprintf("refs/tags/%s^{commit}", ref);
    if (git_revparse_single(&obj, repo, branch) < 0) {
        *is_tag = git_revparse_single(&obj, repo, tag) == 0;
        if (!*is_tag)
            rc = sl_error_set(err, SL_EINVAL, "the repository has no branch or tag '%s'", ref);
    }
    free(branch);
    free(tag);
    if (rc == 0)
        git_oid_tostr(sha_out, GIT_OID_HEXSZ + 1, git_object_id(obj));
out:
    git_object_free(obj);
    sl_srv_mirror_give(s->mirrors, project_id, repo);
    return rc;
}

/* The commit SHA (a parent pipeline's) of the mirror DIR, into SHA_OUT: a child pipeline
 * runs on its parent's commit, not on what its branch points at by now, nor, for a fork's
 * request, on the project's own branch of that name. Nothing is fetched: the parent's
 * pipeline brought the commit. */
static int mirror_commit(struct sl_server *s, int64_t project_id, const char *dir, const char *sha,
                         char *sha_out, struct sl_error *err)
{
    git_repository *repo = NULL;
    git_object *obj = NULL;
    int rc = 0;
    pthread_once(&git_once, git_init_once);
    char *spec = sl_xasprintf("%s^{commit}", sha);
    if (strlen(sha) != GIT_OID_HEXSZ ||
        sl_srv_mirror_take(s->mirrors, project_id, dir, false, &repo) < 0 ||
        git_revparse_single(&obj, repo, spec) < 0)
        rc = sl_error_set(err, SL_EINVAL,
                          "the parent pipeline's commit %.40s is not in the "
                          "project's repository",
                          sha);
    else
        git_oid_tostr(sha_out, GIT_OID_HEXSZ + 1, git_object_id(obj));
    free(spec);
    git_object_free(obj);
    sl_srv_mirror_give(s->mirrors, project_id, repo);
    return rc;
}

/* A tree's files readable by the user jobs run as (--run-as): a job's workspace borrows
 * the tree's objects (objects/info/alternates, workspace.h), so `git` in a job of a root
 * server needs them. The tree is the commit the job gets anyway; trees/ stays 0711, so a
 * job reaches a tree by its commit's name only, never by listing. Links are not
 * followed. */
static int open_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)ftw;
    if (type == FTW_D)
        chmod(path, (st->st_mode & 07777) | 0055);
    else if (type == FTW_F)
        chmod(path, (st->st_mode & 07777) | 0044);
    return 0;
}

static void tree_open(const char *trees, const char *dir)
{
    chmod(trees, 0711);
    nftw(dir, open_entry, 16, FTW_PHYS);
}

/* DATA/trees/<sha>: a repository with the mirror's branches and tags and HEAD detached at
 * SHA, checked out. Made under a temporary name and renamed, so a tree that exists is
 * whole. */
static int tree_checkout(const char *mirror, const char *trees, const char *sha,
                         atomic_bool *trees_open, char **out, struct sl_error *err)
{
    char *final = sl_xasprintf("%s/%s", trees, sha);
    char *tmp = NULL;
    git_repository *repo = NULL;
    git_object *commit = NULL;
    int rc = 0;
    if (sl_fs_is_dir(final)) {
        /* a restart closed it (jobenv.c): opened again once, not at every pipeline */
        if (!atomic_load(trees_open) && chmod(trees, 0711) == 0)
            atomic_store(trees_open, true);
        goto out;
    }
    if ((rc = sl_fs_mkdir_p(trees, 0755, err)) < 0)
        goto out;
    /* two projects (a fork and its origin) may check the same commit out at once */
    tmp =
        sl_xasprintf("%s/.tmp-%s-%d-%u", trees, sha, (int)getpid(), atomic_fetch_add(&tree_seq, 1));
    sl_fs_remove_tree(tmp, NULL);
    git_oid oid;
    if (git_repository_init(&repo, tmp, 0) < 0 || fetch_all(repo, mirror, NULL, NULL, err) < 0 ||
        git_oid_fromstr(&oid, sha) < 0 || git_repository_set_head_detached(repo, &oid) < 0 ||
        git_object_lookup(&commit, repo, &oid, GIT_OBJECT_COMMIT) < 0) {
        rc = err && err->code ? err->code : git_fail(err, "checkout");
        goto out;
    }
    git_checkout_options co;
    git_checkout_options_init(&co, GIT_CHECKOUT_OPTIONS_VERSION);
    co.checkout_strategy = GIT_CHECKOUT_FORCE;
    if (git_checkout_tree(repo, commit, &co) < 0) {
        rc = git_fail(err, "checkout");
        goto out;
    }
    tree_open(trees, tmp);
    if (rename(tmp, final) < 0 && !sl_fs_is_dir(final))
        rc = sl_error_set_errno(err, SL_EIO, "rename %s", tmp);
out:
    git_object_free(commit);
    git_repository_free(repo);
    if (tmp) {
        if (rc < 0 || sl_fs_exists(tmp))
            sl_fs_remove_tree(tmp, NULL);
        free(tmp);
    }
    if (rc == 0)
        *out = final;
    else
        free(final);
    return rc;
}

/* --- job specs ---------------------------------------------------------------------- */

static json_t *ints_json(const int *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_integer(v[i]));
    return a;
}

/* Which earlier jobs' artifacts a job receives, by position: the rule sluice run uses
 * (jobspec.h). The worker turns them into the run context's sources. */
static json_t *sources_json(const struct sl_plan *p, size_t idx)
{
    size_t *from = sl_xcalloc(p->njobs + 1, sizeof(*from));
    size_t n = sl_jobspec_sources(p, idx, from);
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_integer((json_int_t)from[i]));
    free(from);
    return a;
}

/* The stored job: the planned runnable job (sl_jobspec_plan) in exec/jobjson, which a
 * worker or a runner decodes as it is (the codec ignores what it does not know), plus the
 * scheduler's view of the job and where its sources and tree are, under keys of their
 * own. */
static int job_spec_json(const struct sl_plan *p, size_t idx, const char *tree, json_t **out,
                         struct sl_error *err)
{
    const struct sl_plan_job *pj = &p->jobs[idx];
    struct sl_jobspec js;
    json_t *o;
    if (pj->bridge.declared) {
        /* a bridge runs no script, so it has no runnable job: "bridge" tells the workers
         * (and the runner API) to settle it instead of running it */
        o = json_pack("{s:s,s:b}", "name", pj->name, "bridge", true);
    } else {
        int rc = sl_jobspec_plan(&js, p, idx, err);
        if (rc == 0)
            rc = sl_job_json_encode_tree(&o, &js.spec, err);
        sl_jobspec_release(&js);
        if (rc < 0)
            return rc;
    }
    json_object_set_new(o, "nstages", json_integer((json_int_t)p->nstages));
    /* workflow:name, for what reports the pipeline outside (forge.c's status context) */
    if (p->name && *p->name)
        json_object_set_new(o, "pipeline_name", json_string(p->name));
    json_object_set_new(o, "stage_idx", json_integer((json_int_t)pj->stage_index));
    json_object_set_new(o, "needs_declared", json_boolean(pj->needs_declared));
    json_t *needs = json_array();
    for (size_t i = 0; i < pj->nneeds; i++)
        json_array_append_new(needs, json_integer((json_int_t)pj->needs[i].index));
    json_object_set_new(o, "needs", needs);
    json_object_set_new(o, "when", json_string(sl_plan_when_name(pj->when)));
    json_object_set_new(o, "start_in_ms", json_integer(pj->start_in_s * 1000));
    json_object_set_new(o, "allow_failure", json_boolean(pj->allow_failure));
    json_object_set_new(o, "allow_exit_codes",
                        ints_json(pj->allow_exit_codes, pj->nallow_exit_codes));
    json_object_set_new(o, "retry_max", json_integer(SL_MIN(pj->retry_max, SL_SCHED_MAX_RETRY)));
    uint32_t mask = 0;
    for (size_t i = 0; i < pj->nretry_when; i++)
        sl_sched_retry_when_parse(pj->retry_when[i], &mask);
    json_object_set_new(o, "retry_when", json_integer(mask));
    json_object_set_new(o, "retry_exit_codes",
                        ints_json(pj->retry_exit_codes, pj->nretry_exit_codes));
    json_object_set_new(o, "source_positions", sources_json(p, idx));
    json_object_set_new(o, "tree", json_string(tree));
    /* auto-cancel (auto_cancel.c): whether a newer pipeline may cancel this job, and
     * whether its failure cancels the rest of its pipeline */
    json_object_set_new(o, "interruptible", json_boolean(pj->interruptible));
    json_object_set_new(o, "auto_cancel_on_new_commit", json_string(p->auto_cancel_on_new_commit));
    json_object_set_new(o, "cancel_pipeline_on_failure",
                        json_boolean(!strcmp(p->auto_cancel_on_job_failure, "all")));
    *out = o;
    return 0;
}

/* The job's tags for the store, each once. Borrowed from the plan; caller frees the
 * array. */
static char **job_tags(const struct sl_plan_job *pj, size_t *n)
{
    size_t cnt = 0;
    while (pj->tags && pj->tags[cnt])
        cnt++;
    char **v = sl_xcalloc(cnt + 1, sizeof(*v));
    *n = 0;
    for (size_t i = 0; i < cnt; i++) {
        bool seen = false;
        for (size_t k = 0; k < *n && !seen; k++)
            seen = !strcmp(v[k], pj->tags[i]);
        if (!seen)
            v[(*n)++] = (char *)pj->tags[i];
    }
    return v;
}

static int int_array(json_t *a, int **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (!json_is_array(a) || json_array_size(a) == 0)
        return 0;
    *out = sl_xcalloc(json_array_size(a), sizeof(int));
    for (size_t i = 0; i < json_array_size(a); i++)
        (*out)[(*n)++] = (int)json_integer_value(json_array_get(a, i));
    return 0;
}

int sl_srv_sched_job_from_json(json_t *o, struct sl_sched_job *sj, struct sl_error *err)
{
    memset(sj, 0, sizeof(*sj));
    if (!json_is_object(o))
        return sl_error_set(err, SL_EINVAL, "job spec: not an object");
    sj->stage = (int)json_integer_value(json_object_get(o, "stage_idx"));
    sj->needs_declared = json_is_true(json_object_get(o, "needs_declared"));
    json_t *needs = json_object_get(o, "needs");
    if (json_array_size(needs)) {
        size_t *nv = sl_xcalloc(json_array_size(needs), sizeof(size_t));
        for (size_t i = 0; i < json_array_size(needs); i++)
            nv[i] = (size_t)json_integer_value(json_array_get(needs, i));
        sj->needs = nv;
        sj->nneeds = json_array_size(needs);
    }
    enum sl_sched_when w = SL_SCHED_ON_SUCCESS;
    const char *when = json_string_value(json_object_get(o, "when"));
    if (when)
        sl_sched_when_parse(when, &w);
    sj->when = w;
    sj->start_in_ms = json_integer_value(json_object_get(o, "start_in_ms"));
    sj->allow_failure = json_is_true(json_object_get(o, "allow_failure"));
    int *codes;
    size_t n;
    int_array(json_object_get(o, "allow_exit_codes"), &codes, &n);
    sj->allow_exit_codes = codes;
    sj->nallow_exit_codes = n;
    sj->retry_max = (int)json_integer_value(json_object_get(o, "retry_max"));
    sj->retry_when = (uint32_t)json_integer_value(json_object_get(o, "retry_when"));
    int_array(json_object_get(o, "retry_exit_codes"), &codes, &n);
    sj->retry_exit_codes = codes;
    sj->nretry_exit_codes = n;
    return 0;
}

void sl_srv_sched_job_release(struct sl_sched_job *sj)
{
    free((void *)sj->needs);
    free((void *)sj->allow_exit_codes);
    free((void *)sj->retry_exit_codes);
    memset(sj, 0, sizeof(*sj));
}

/* --- creation ----------------------------------------------------------------------- */

/* The lint messages of DIAG as a JSON array of "FILE:LINE:COL: message", paths relative
 * to the tree. */
/* TEXT (taken) with the masked values of STORED replaced by [MASKED]: a failed pipeline's
 * errors may quote an include path or a value expanded from a stored variable. */
static char *masked(const struct srv_job_vars *stored, char *text)
{
    struct sl_mask *m = sl_mask_new();
    struct sl_error err = SL_ERROR_INIT;
    char *out = text;
    if (text && sl_srv_job_vars_mask(stored, m, &err) == 0 && !sl_mask_empty(m)) {
        size_t n;
        out = sl_mask_string(m, text, strlen(text), &n);
        free(text);
    }
    sl_error_release(&err);
    sl_mask_free(m);
    return out;
}

static char *diag_json(const struct sl_diag *d, const char *tree)
{
    json_t *a = json_array();
    size_t tl = strlen(tree);
    for (size_t i = 0; i < d->n; i++) {
        const struct sl_diag_item *it = &d->items[i];
        if (it->level != SL_DIAG_ERROR)
            continue;
        const char *f = it->file ? it->file : ".gitlab-ci.yml";
        if (!strncmp(f, tree, tl) && f[tl] == '/')
            f += tl + 1;
        char *line = it->line ? sl_xasprintf("%s:%d:%d: %s", f, it->line, it->column, it->message)
                              : sl_xasprintf("%s: %s", f, it->message);
        json_array_append_new(a, json_string(line));
        free(line);
    }
    char *s = json_dumps(a, JSON_COMPACT);
    json_decref(a);
    return s;
}

const char *sl_srv_job_status_store(enum sl_sched_status st, bool in_resource_group)
{
    if (st == SL_SCHED_PENDING && in_resource_group)
        return "waiting_for_resource";
    return sl_sched_status_name(st);
}

/* A push of a branch is the commit polling compares with next, recorded whatever the
 * pipeline becomes (a push workflow:rules filter out is not retried at every poll). With
 * ONLY_IF_MOVED (the poller) *UNCHANGED says the branch is where it was recorded, or was
 * not recorded yet (then it is now): no pipeline. Called under the project's repo_lock, so a
 * webhook's push and a poll of the same commit cannot both see the branch as moved. */
static int record_push(struct sl_server *s, int64_t project_id, const char *ref, const char *sha,
                       int64_t now, bool only_if_moved, bool *unchanged, struct sl_error *err)
{
    char *known = NULL;
    int rc = 0;
    *unchanged = false;
    if (only_if_moved) {
        if ((rc = sl_store_project_ref_get(s->st, project_id, ref, &known, err)) < 0)
            return rc;
        *unchanged = !known || !strcmp(known, sha);
        bool first = !known;
        free(known);
        if (*unchanged && !first)
            return 0;
        return sl_store_project_ref_set(s->st, project_id, ref, sha, now, err);
    }
    struct sl_error rerr = SL_ERROR_INIT;
    if (sl_store_project_ref_set(s->st, project_id, ref, sha, now, &rerr) < 0)
        sl_log(SL_LOG_WARN, "cannot record the pushed commit", "ref", ref, "error",
               sl_error_format(&rerr), NULL);
    sl_error_release(&rerr);
    return 0;
}

/* "NAME=VALUE" strings of the API's `inputs` object for the config room (a string as it
 * is, anything else as JSON, which YAML reads back with its type); NULL-ended, heap. */
static char **input_strings(json_t *inputs)
{
    char **out = sl_xcalloc(json_object_size(inputs) + 1, sizeof(*out));
    size_t n = 0;
    const char *k;
    json_t *v;
    json_object_foreach(inputs, k, v)
    {
        char *val = json_is_string(v) ? sl_xstrdup(json_string_value(v))
                                      : json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
        out[n++] = sl_xasprintf("%s=%s", k, val ? val : "");
        free(val);
    }
    return out;
}

/* Stores P, a pipeline that failed before it had jobs (a configuration that does not load or
 * plan), and reports it as any pipeline's change is. */
/* The server's include resolver (includes.md "On the server"): include:project and
 * include:component read from the mirror of a project of this server, named by its name;
 * the mirror is fetched from the project's repository first (under its lock), as GitLab
 * reads the project's current refs. include:remote and include:template are fetched only
 * from the hosts of --allow-remote-includes (redirects checked hop by hop); without it the
 * server makes no outside request for a pipeline's configuration. */
struct srv_includes {
    struct sl_server *s;
    const char *const *vars;
    /* a fork's merge request pipeline: its YAML is not the project's, so it may include
     * from the project itself (whose repository it forked) but read no other project of
     * this server, which GitLab would refuse a user without access to */
    const char *fork_of;
};

static int srv_include_open(void *ctx, const char *project, struct sl_include_project *out,
                            struct sl_error *err)
{
    struct srv_includes *ri = ctx;
    struct sl_store_project proj;
    struct sl_error lookup = SL_ERROR_INIT;
    char dir[4096];
    memset(&proj, 0, sizeof(proj));
    if (ri->fork_of && strcmp(project, ri->fork_of) != 0)
        return sl_error_set(err, SL_EPERM,
                            "a merge request from a fork may include only from project '%s' "
                            "itself, not from '%s'",
                            ri->fork_of, project);
    int rc = sl_store_project_get_by_name(ri->s->st, project, &proj, &lookup);
    sl_error_release(&lookup);
    if (rc < 0)
        return rc == SL_ENOENT ? SL_ENOENT : sl_error_set(err, rc, "the store failed");
    snprintf(dir, sizeof(dir), "%s/repos/%lld", ri->s->data_dir, (long long)proj.id);
    pthread_once(&git_once, git_init_once);
    struct repo_lock *lock = repo_lock(proj.id);
    git_repository *repo = NULL;
    if (project_deleted(proj.id))
        rc = SL_ENOENT;
    else if (git_repository_open_bare(&repo, dir) < 0 && git_repository_init(&repo, dir, 1) < 0)
        rc = git_fail(err, dir);
    else
        rc = fetch_all(repo, proj.repo_url, NULL, NULL, err);
    if (rc == 0 && proj.default_branch && *proj.default_branch) {
        /* an include without `ref` reads the project's default branch (GitLab's HEAD) */
        char *head = sl_xasprintf("refs/heads/%s", proj.default_branch);
        git_repository_set_head(repo, head);
        free(head);
    }
    repo_unlock(lock);
    if (rc == 0) {
        out->repo = repo;
        out->origin = sl_xstrdup(project);
    } else {
        git_repository_free(repo);
    }
    sl_store_project_release(&proj);
    return rc;
}

static const char *srv_include_var(const struct srv_includes *ri, const char *name)
{
    size_t n = strlen(name);
    for (const char *const *v = ri->vars; v && *v; v++)
        if (!strncmp(*v, name, n) && (*v)[n] == '=')
            return *v + n + 1;
    return NULL;
}

static int srv_include_fetch(void *ctx, const struct sl_config_include *inc,
                             struct sl_config_fetched *out, struct sl_error *err)
{
    struct srv_includes *ri = ctx;
    struct sl_include_git g = {srv_include_open, ri, srv_include_var(ri, "CI_SERVER_FQDN"),
                               "sluice: no project of this server has that name"};
    int rc;
    if (!strcmp(inc->kind, "project")) {
        rc = sl_include_git_project(&g, inc->location, inc->ref, inc->file, &out->text, &out->len,
                                    &out->sha, err);
        if (rc == 0)
            out->project = sl_xstrdup(inc->location);
        return rc;
    }
    if (!strcmp(inc->kind, "component"))
        return sl_include_git_component(&g, inc->location, &out->text, &out->len, &out->project,
                                        &out->sha, err);
    bool remote = !strcmp(inc->kind, "remote"), template = !strcmp(inc->kind, "template");
    if ((remote || template) && ri->s->remote_include_hosts) {
        const char *const *hosts = (const char *const *)ri->s->remote_include_hosts;
        if (remote)
            return sl_include_http_get(inc->location, inc->location, hosts, &out->text, &out->len,
                                       err);
        if (strstr(inc->location, "..") || inc->location[0] == '/')
            return sl_error_set(err, SL_ENOENT, "Included file `%s` is empty or does not exist!",
                                inc->location);
        char *url = sl_xasprintf("%s/%s", SL_INCLUDE_TEMPLATES_URL, inc->location);
        rc = sl_include_http_get(url, url, hosts, &out->text, &out->len, err);
        if (rc == SL_ENOENT) {
            sl_error_release(err);
            rc = sl_error_set(err, rc, "Included file `%s` is empty or does not exist!",
                              inc->location);
        }
        free(url);
        return rc;
    }
    return sl_error_set(err, SL_EUNSUPPORTED,
                        "include:%s `%s` is not resolved on this server: it makes no outside "
                        "request for a pipeline's configuration (include the file from a "
                        "project of the server, or start it with --allow-remote-includes HOSTS)",
                        inc->kind, inc->location);
}

/* AUDIT (or NULL): the request whose "pipeline.create" event is stored in the pipeline's
 * transaction (one commit; an event that cannot be stored is logged, as sl_audit does, and
 * the pipeline is kept). */
static void audit_created(struct req *audit, int64_t pipeline_id)
{
    if (audit)
        sl_srv_audit_on(audit, "pipeline.create", "pipeline", pipeline_id);
}

static int created_failed(struct sl_server *s, struct sl_store_pipeline *p, int64_t now,
                          struct req *audit, int64_t *id_out, struct sl_error *err)
{
    int trc = audit ? sl_store_tx_begin(s->st, 0, err) : SL_EBUSY;
    if (trc < 0 && trc != SL_EBUSY)
        return trc;
    if (audit && trc == SL_EBUSY)
        sl_error_release(err);
    int rc = sl_store_pipeline_create(s->st, p, NULL, 0, now, &p->id, &p->iid, err);
    if (rc == 0)
        audit_created(audit, p->id);
    if (trc == 0)
        rc = sl_store_tx_end(s->st, rc, err);
    if (rc == 0) {
        if (id_out)
            *id_out = p->id;
        p->created_at = now;
        sl_srv_pipeline_reported(s, p, NULL);
    }
    return rc;
}

/* sl_trigger_from_git for T (T->sha set) at the tree TREE, read from project PROJECT_ID's
 * mirror DIR kept open (mirror_cache.c) rather than by opening the tree's repository, its
 * configuration and its packs again: the tree was fetched from the mirror, so the mirror
 * has its commit, and it has the tree's branches and tags as they are now (the tree's are
 * as they were when that commit was first checked out). When the mirror lacks the commit
 * (made again since), the tree's own repository answers as before. */
static int trigger_read(struct sl_server *s, int64_t project_id, const char *dir, const char *tree,
                        struct sl_trigger *t, struct sl_error *err)
{
    git_repository *repo = NULL;
    git_oid oid;
    git_object *commit = NULL;
    pthread_once(&git_once, git_init_once);
    struct repo_lock *lock = repo_lock(project_id);
    if (sl_srv_mirror_take(s->mirrors, project_id, dir, false, &repo) == 0 &&
        (git_oid_fromstr(&oid, t->sha) < 0 ||
         git_object_lookup(&commit, repo, &oid, GIT_OBJECT_COMMIT) < 0)) {
        sl_srv_mirror_give(s->mirrors, project_id, repo);
        repo = NULL;
    }
    git_object_free(commit);
    int rc = sl_trigger_from_repo(t, tree, repo, err);
    sl_srv_mirror_give(s->mirrors, project_id, repo);
    repo_unlock(lock);
    return rc;
}

static int pipeline_create(struct sl_server *s, const struct sl_store_project *proj,
                           const char *ref, json_t *variables, json_t *inputs, const char *source,
                           const char *actor, bool only_if_moved, bool *unchanged_out,
                           const struct srv_downstream *ds, const struct srv_mr *mr,
                           struct req *audit, int64_t *id_out, struct sl_error *err)
{
    bool unchanged = false;
    char mirror[4096], trees[4096], sha[GIT_OID_HEXSZ + 1];
    char merged_target[GIT_OID_HEXSZ + 1] = ""; /* a merged results pipeline's target commit */
    char *tree = NULL, **ivars = NULL, *cifile = NULL, *vars_text = NULL, **istrs = NULL;
    bool is_tag = false;
    struct sl_trigger t;
    struct sl_diag diag = SL_DIAG_INIT;
    struct sl_config *cfg = NULL;
    struct sl_plan *plan = NULL;
    struct sl_store_job *jobs = NULL;
    struct sl_sched_job *sj = NULL;
    struct sl_sched *m = NULL;
    bool *gated = NULL;                 /* jobs waiting for their deployment's approvals */
    struct srv_spec_view *views = NULL; /* the jobs' spec views (their sched: SJ's) */
    int64_t *job_ids = NULL;
    size_t njobs = 0;
    int rc = 0;
    int64_t now = sl_time_now_ms();
    struct sl_store_pipeline p;
    struct srv_job_vars stored = {0};
    char *plan_error = NULL, *old_sha = NULL, *secret_error = NULL;
    struct srv_push_findings pf = {0};
    bool scan_push = !strcmp(source, "push") && !mr && !ds;

    memset(&p, 0, sizeof(p));
    sl_trigger_init(&t);
    t.created_at_ms = now; /* the stored pipeline's created_at too */
    if (!ref || !*ref)
        ref = proj->default_branch;
    snprintf(mirror, sizeof(mirror), "%s/repos/%lld", s->data_dir, (long long)proj->id);
    snprintf(trees, sizeof(trees), "%s/trees", s->data_dir);

    struct repo_lock *lock = repo_lock(proj->id);
    if (mr) {
        ref = mr->source_branch;
        source = "merge_request_event";
    }
    /* a child pipeline is its parent's: its commit, its protection, its request */
    const struct sl_store_pipeline *parent = ds ? ds->parent : NULL;
    bool fork = (mr && mr->from_fork) || (parent && sl_srv_pipeline_from_fork(s, parent));
    if (project_deleted(proj->id)) {
        rc = sl_error_set(err, SL_ENOENT, "project %lld was deleted", (long long)proj->id);
    } else if (parent) {
        rc = mirror_commit(s, proj->id, mirror, parent->sha, sha, err);
        is_tag = parent->is_tag;
    } else {
        rc = mirror_resolve(s, proj->id, proj->repo_url, mirror, ref, mr, sha, merged_target,
                            &is_tag, err);
    }
    /* the branch's last known commit: what the push brings is what comes after it */
    if (rc == 0 && scan_push && !is_tag)
        rc = sl_store_project_ref_get(s->st, proj->id, ref, &old_sha, err);
    if (rc == 0 && !is_tag && !strcmp(source, "push"))
        rc = record_push(s, proj->id, ref, sha, now, only_if_moved, &unchanged, err);
    if (rc == 0 && !unchanged)
        rc = tree_checkout(mirror, trees, sha, &s->trees_open, &tree, err);
    if (rc == 0 && !unchanged && scan_push) {
        struct sl_error serr = SL_ERROR_INIT;
        if (sl_srv_scan_push(s, mirror, tree, ref, proj->default_branch, old_sha, sha, &pf, &serr) <
            0)
            sl_log(SL_LOG_WARN, "cannot scan a push for secrets", "error", sl_error_format(&serr),
                   NULL);
        sl_error_release(&serr);
    }
    repo_unlock(lock);
    if (rc < 0 || unchanged)
        goto out;

    t.ref = sl_xstrdup(ref);
    t.tag = is_tag;
    free(t.source);
    t.source = sl_xstrdup(source);
    if (variables) {
        const char *k;
        json_t *v;
        json_object_foreach(variables, k, v)
        {
            if (!sl_vars_name_ok(k) || !(json_is_string(v) || json_is_number(v))) {
                rc = sl_error_set(err, SL_EINVAL,
                                  "variables: '%s' must be a name ([A-Za-z0-9_]) with a string "
                                  "value",
                                  k);
                goto out;
            }
            char *val = json_is_string(v) ? sl_xstrdup(json_string_value(v))
                                          : json_dumps(v, JSON_ENCODE_ANY);
            sl_vars_set(&t.pipeline_vars, k, val, false);
            free(val);
        }
    }
    bool is_protected = false, frozen = false;
    if ((rc = sl_srv_ref_protected(s, proj->id, ref, is_tag, &is_protected, err)) < 0 ||
        (rc = sl_srv_deploy_frozen(s, proj->id, now, &frozen, err)) < 0)
        goto out;
    if (parent && parent->protected_known)
        is_protected = parent->protected_;
    t.ref_protected = is_protected && !mr; /* a request's: sl_srv_mr_prepare decides */
    free(t.server_url);
    t.server_url = sl_xasprintf("http://%s", sl_server_address(s));
    /* the commit resolved in the mirror, not whatever the tree's branch of that name is at:
     * a tree is checked out once per commit, with the branches of that moment, and a
     * request's or a parent's commit may be on no branch of that name at all (and a lookup
     * by id is cheaper than resolving the ref again) */
    t.sha = sl_xstrdup(sha);
    t.project_dir_real = true; /* DATA (realpath at start)/trees/<sha> */
    /* CI_DEFAULT_BRANCH is the project's, as GitLab's: the mirror has no origin/HEAD to say
     * it, and its guesses (main, master) are wrong for a project whose default is another */
    if (proj->default_branch && *proj->default_branch)
        t.default_branch = sl_xstrdup(proj->default_branch);
    if ((rc = trigger_read(s, proj->id, mirror, tree, &t, err)) < 0)
        goto out;
    if (mr)
        rc = sl_srv_mr_prepare(s, proj->id, mr, mirror, *merged_target ? merged_target : NULL, &t,
                               &is_protected, err);
    else if (!is_tag)
        rc = sl_srv_mr_open_list(s, proj->id, ref, &t, err);
    if (rc < 0)
        goto out;
    /* decided once, here: the jobs' variables come from this, not from their own
     * CI_COMMIT_REF_PROTECTED, which the YAML can set */
    p.protected_known = true;
    p.protected_ = is_protected;
    if (mr)
        p.merge_request_iid = mr->iid;
    else if (parent)
        p.merge_request_iid = parent->merge_request_iid;
    if (*merged_target) {
        p.source_sha = (char *)mr->head_sha;
        p.target_sha = merged_target;
    }
    /* a fork's code waits for a maintainer when the project says so (h_pipeline_approve) */
    bool held = mr && mr->from_fork && proj->fork_pipelines_need_approval;
    /* rules and include paths see the stored variables, as in GitLab (plan.h) */
    if ((rc = sl_srv_stored_variables(s, proj->id, NULL, is_protected, &stored, err)) < 0)
        goto out;
    for (size_t i = 0; i < stored.n; i++)
        if (!stored.vars[i].file) /* its file does not exist before the job starts */
            sl_vars_set(&t.stored_vars, stored.vars[i].key, stored.vars[i].value,
                        stored.vars[i].raw);
    if (frozen) /* GitLab: "true" inside a deploy freeze period, otherwise unset */
        sl_vars_set(&t.predefined, "CI_DEPLOY_FREEZE", "true", false);
    char project_id[32]; /* the server's project, not the local run's stand-in "1" */
    snprintf(project_id, sizeof(project_id), "%lld", (long long)proj->id);
    sl_vars_set(&t.predefined, "CI_PROJECT_ID", project_id, false);

    p.project_id = proj->id;
    /* the project's row as this request read it says whether its first status report has a
     * forge to go to (a connection made meanwhile gets the pipeline's next report) */
    p.forge_known = proj->forge_known;
    p.has_forge = proj->has_forge;
    p.ref = (char *)ref;
    p.is_tag = is_tag;
    p.sha = sha;
    p.before_sha = t.before_sha;
    p.source = (char *)source;
    vars_text = variables ? json_dumps(variables, JSON_COMPACT) : NULL;
    p.variables = vars_text;
    p.status = (char *)"created";
    if (pf.n) {
        /* the project's secret detection policy: report (go on), fail, refuse */
        char *policy = NULL;
        struct sl_error perr = SL_ERROR_INIT;
        if (sl_store_secret_policy_get(s->st, proj->id, &policy, &perr) < 0)
            sl_log(SL_LOG_ERROR, "cannot read the secret detection policy: report only", "error",
                   sl_error_format(&perr), NULL);
        sl_error_release(&perr);
        const struct sl_store_secret_finding *f0 = &pf.f[0];
        char *what = sl_xasprintf("the push adds %zu secret%s (%s in %s:%" PRId64 " of %.12s%s)",
                                  pf.n, pf.n == 1 ? "" : "s", f0->rule, f0->file, f0->line,
                                  f0->commit_sha, pf.n > 1 ? ", ..." : "");
        bool refuse = policy && !strcmp(policy, "refuse"), fail = policy && !strcmp(policy, "fail");
        free(policy);
        if (refuse) {
            rc =
                sl_error_set(err, SL_EINVAL,
                             "no pipeline: %s and the project's secret detection refuses it", what);
            free(what);
            goto out;
        }
        if (fail) {
            p.status = (char *)"failed";
            p.error_message = secret_error =
                sl_xasprintf("secret detection: %s; the project's policy fails the pipeline", what);
            p.finished_at = now;
            free(what);
            rc = created_failed(s, &p, now, audit, id_out, err);
            goto out;
        }
        free(what);
    }

    ivars = sl_trigger_include_vars(&t);
    struct sl_config_opts opts = {0};
    opts.project_dir = tree;
    opts.vars = (const char *const *)ivars;
    opts.include_rule = sl_plan_include_rule;
    opts.include_rule_ctx = &t;
    struct srv_includes ri = {s, opts.vars, fork ? proj->name : NULL};
    opts.fetch = srv_include_fetch;
    opts.fetch_ctx = &ri;
    istrs = inputs ? input_strings(inputs) : NULL;
    opts.inputs = (const char *const *)istrs;
    if (ds) {
        p.parent_pipeline_id = ds->parent_pipeline_id;
        p.parent_job_id = ds->parent_job_id;
    }
    bool child_config = ds && ds->config_yaml; /* its includes go through the reader */
    cifile = sl_fs_join(tree, child_config ? ds->config_name : ".gitlab-ci.yml");
    /* The main file is read outside include's confined reader: a symlink to the server's own
     * files (admin.token, the store) must not be read, nor echoed back in yaml_errors. TREE
     * is a real path (the data directory's, realpath at start, and the server's own trees/
     * and <sha> directories), so only the file's name is looked at. */
    int crc = child_config ? sl_config_load_string(&cfg, cifile, ds->config_yaml,
                                                   strlen(ds->config_yaml), &opts, &diag)
              : sl_fs_resolve_below(tree, ".gitlab-ci.yml", NULL, NULL) == SL_EPERM
                  ? SL_EPERM
                  : sl_config_load_file(&cfg, cifile, &opts, &diag);
    sl_diag_sort(&diag);
    if (crc < 0) {
        p.status = (char *)"failed";
        p.error_message =
            (char *)(crc == SL_EPERM ? "the commit's .gitlab-ci.yml is a symlink leading out of "
                                       "the repository"
                     : crc == SL_ENOENT && diag.n == 0
                         ? "the commit has no .gitlab-ci.yml"
                         : "the configuration is invalid (see yaml_errors)");
        p.yaml_errors = masked(&stored, diag_json(&diag, tree));
        p.finished_at = now;
        rc = created_failed(s, &p, now, audit, id_out, err);
        goto out;
    }
    struct sl_error perr = SL_ERROR_INIT;
    if (sl_plan_build(&plan, cfg, &t, &perr) < 0) {
        p.status = (char *)"failed";
        p.error_message = plan_error = masked(&stored, sl_xstrdup(sl_error_format(&perr)));
        rc = created_failed(s, &p, now, audit, id_out, err);
        sl_error_release(&perr);
        goto out;
    }
    if (!plan->created || plan->njobs == 0) {
        rc = sl_error_set(err, SL_EINVAL, "no pipeline: %s",
                          !plan->created ? (plan->reason ? plan->reason : "workflow:rules")
                                         : "the configuration has no jobs for this ref");
        goto out;
    }
    njobs = plan->njobs;
    jobs = sl_xcalloc(njobs, sizeof(*jobs));
    sj = sl_xcalloc(njobs, sizeof(*sj));
    const char *tree_rel = tree + strlen(s->data_dir) + 1;
    gated = sl_xcalloc(njobs, sizeof(*gated));
    views = sl_xcalloc(njobs, sizeof(*views));
    job_ids = sl_xcalloc(njobs, sizeof(*job_ids));
    for (size_t i = 0; i < njobs; i++) {
        json_t *spec = NULL;
        if ((rc = job_spec_json(plan, i, tree_rel, &spec, err)) < 0)
            goto out;
        jobs[i].tags = job_tags(&plan->jobs[i], &jobs[i].ntags);
        gated[i] = sl_srv_deploy_gate(s, proj->id, &plan->jobs[i], spec);
        if (plan->jobs[i].trigger)
            sl_srv_bridge_spec(spec, cfg, &plan->jobs[i], &t);
        jobs[i].spec = json_dumps(spec, JSON_COMPACT);
        rc = sl_srv_sched_job_from_json(spec, &sj[i], err);
        sl_srv_spec_view_flags(spec, &views[i]);
        json_decref(spec);
        if (rc < 0)
            goto out;
        sj[i].name = plan->jobs[i].name;
    }
    /* a held pipeline is not started: its jobs stay created until it is approved, when
     * the transition that rebuilds the machine settles it (transitions.c) */
    if ((rc = sl_sched_new(&m, sj, njobs, plan->nstages, err)) < 0 ||
        (!held && (rc = sl_sched_start(m, now, err)) < 0))
        goto out;
    /* bridge jobs are the server's own: running at once, never queued for a runner */
    bool bridges = false;
    for (size_t i = 0; i < njobs; i++)
        if (plan->jobs[i].trigger && sl_sched_job_status(m, i) == SL_SCHED_PENDING) {
            sl_sched_job_started(m, i, now, NULL);
            bridges = true;
        }
    for (size_t i = 0; i < njobs; i++) {
        const struct sl_plan_job *pj = &plan->jobs[i];
        jobs[i].name = (char *)pj->name;
        jobs[i].stage = (char *)pj->stage;
        jobs[i].stage_idx = (int)pj->stage_index;
        jobs[i].resource_group = pj->trigger ? NULL : pj->resource_group;
        jobs[i].status =
            (char *)sl_srv_job_status_store(sl_sched_job_status(m, i), jobs[i].resource_group);
        jobs[i].when = gated[i] ? (char *)"manual" : (char *)sl_plan_when_name(pj->when);
        jobs[i].allow_failure = pj->allow_failure;
        jobs[i].attempt = 1;
        if (!strcmp(jobs[i].status, "pending"))
            jobs[i].queued_at = now;
        if (pj->trigger && sl_sched_job_status(m, i) == SL_SCHED_RUNNING)
            jobs[i].lease_deadline = sl_srv_bridge_unfired_lease(s, now);
        if (sl_sched_job_status(m, i) == SL_SCHED_SCHEDULED)
            jobs[i].due_at = sl_sched_job_due(m, i);
    }
    /* held: GitLab's "manual" (blocked) pipeline status, waiting for someone to act */
    p.status = held ? (char *)"manual" : (char *)sl_sched_status_name(sl_sched_status(m));
    p.hold_reason = held ? (char *)"fork" : NULL;
    if (!held && sl_sched_is_finished(m))
        p.finished_at = now;
    int64_t pid = 0;
    /* The pipeline, its deployments and its first status report in one transaction: a
     * worker that takes a job the moment it is visible reports "running" after the
     * pipeline's "pending", never before it (a forge shows the last status it got), and
     * finds the job's deployment already there. Nested in a caller's transaction, in it. */
    int trc = sl_store_tx_begin(s->st, 0, err);
    if (trc < 0 && trc != SL_EBUSY) {
        rc = trc;
        goto out;
    }
    if (trc == SL_EBUSY)
        sl_error_release(err);
    rc = sl_store_pipeline_create_ids(s->st, &p, jobs, njobs, now, &pid, &p.iid, job_ids, err);
    if (rc == 0) {
        p.id = pid;
        p.created_at = now;
        audit_created(audit, pid);
        struct sl_error derr = SL_ERROR_INIT;
        if (sl_srv_deploy_record(s, &p, plan, actor, &derr) < 0) {
            atomic_fetch_add(&s->metrics.store_errors, 1);
            sl_log(SL_LOG_ERROR, "cannot record the pipeline's deployments", "error",
                   sl_error_format(&derr), NULL);
        }
        sl_error_release(&derr);
        sl_srv_pipeline_reported(s, &p, NULL);
    }
    if (trc == 0)
        rc = sl_store_tx_end(s->st, rc, err);
    if (rc == 0) {
        if (id_out)
            *id_out = pid;
        /* the views of the specs just stored, from their trees (spec_view.c): the answer's
         * jobs and the first transitions parse none of them again */
        for (size_t i = 0; i < njobs; i++) {
            views[i].sched = sj[i];
            sl_srv_spec_view_put(s->spec_views, job_ids[i], &views[i]);
        }
        sl_srv_auto_cancel_redundant(s, &p);
        sl_srv_resource_groups_kick(s, pid);
        sl_srv_workers_wake(s);
        if (bridges)
            sl_srv_bridges_fire(s, pid);
    }
out:
    if (pf.n) /* with the pipeline they belong to, or none when it was not made */
        sl_srv_push_findings_store(s, proj->id, p.id, &pf);
    sl_srv_push_findings_release(&pf);
    free(old_sha);
    free(secret_error);
    free(gated);
    free(views);
    free(job_ids);
    if (jobs)
        for (size_t i = 0; i < njobs; i++) {
            free(jobs[i].spec);
            free(jobs[i].tags);
        }
    free(jobs);
    if (sj)
        for (size_t i = 0; i < njobs; i++)
            sl_srv_sched_job_release(&sj[i]);
    free(sj);
    sl_sched_free(m);
    free(vars_text);
    free(p.yaml_errors);
    free(plan_error);
    sl_srv_job_vars_release(&stored);
    sl_plan_free(plan);
    sl_config_free(cfg);
    sl_diag_release(&diag);
    if (ivars) {
        for (char **v = ivars; *v; v++)
            free(*v);
        free(ivars);
    }
    for (char **i = istrs; i && *i; i++)
        free(*i);
    free(istrs);
    free(cifile);
    free(tree);
    sl_trigger_release(&t);
    if (unchanged_out)
        *unchanged_out = unchanged;
    return rc;
}

int sl_srv_pipeline_create(struct sl_server *s, const struct sl_store_project *proj,
                           const char *ref, json_t *variables, const char *source, int64_t *id_out,
                           struct sl_error *err)
{
    return pipeline_create(s, proj, ref, variables, NULL, source, NULL, false, NULL, NULL, NULL,
                           NULL, id_out, err);
}

int sl_srv_pipeline_create_by(struct sl_server *s, const struct sl_store_project *proj,
                              const char *ref, json_t *variables, json_t *inputs,
                              const char *source, const char *actor, struct req *audit,
                              int64_t *id_out, struct sl_error *err)
{
    return pipeline_create(s, proj, ref, variables, inputs, source, actor, false, NULL, NULL, NULL,
                           audit, id_out, err);
}

int sl_srv_pipeline_create_downstream(struct sl_server *s, const struct sl_store_project *proj,
                                      const char *ref, json_t *variables, const char *source,
                                      const struct srv_downstream *ds, int64_t *id_out,
                                      struct sl_error *err)
{
    return pipeline_create(s, proj, ref, variables, NULL, source, NULL, false, NULL, ds, NULL, NULL,
                           id_out, err);
}

int sl_srv_pipeline_create_mr(struct sl_server *s, const struct sl_store_project *proj,
                              const struct srv_mr *mr, const char *actor, int64_t *id_out,
                              struct sl_error *err)
{
    return pipeline_create(s, proj, mr->source_branch, NULL, NULL, "merge_request_event", actor,
                           false, NULL, NULL, mr, NULL, id_out, err);
}

int sl_srv_pipeline_poll(struct sl_server *s, const struct sl_store_project *proj, int64_t *id_out,
                         struct sl_error *err)
{
    bool unchanged = false;
    int rc = pipeline_create(s, proj, proj->default_branch, NULL, NULL, "push", NULL, true,
                             &unchanged, NULL, NULL, NULL, id_out, err);
    return rc < 0 ? rc : unchanged ? 0 : 1;
}

/* Removes DIR's tree, logging what it could not remove. */
static void remove_logged(const char *dir)
{
    struct sl_error err = SL_ERROR_INIT;
    if (sl_fs_remove_tree(dir, &err) < 0)
        sl_log(SL_LOG_WARN, "cannot remove a deleted project's files", "path", dir, "error",
               sl_error_format(&err), NULL);
    sl_error_release(&err);
}

/* Moves DIR into the data directory's trash/ and returns where it went (caller frees), so
 * a deletion's locks are held for a rename, not for removing a tree of any size; NULL when
 * DIR does not exist, or could not be moved and was removed in place. What a crash leaves
 * in trash/ goes at the next start (sl_srv_trash_empty). */
static char *trash_move(struct sl_server *s, const char *dir)
{
    static atomic_uint seq;
    char *trash = sl_fs_join(s->data_dir, "trash");
    char *to = sl_xasprintf("%s/%ld.%u", trash, (long)getpid(), atomic_fetch_add(&seq, 1));
    bool moved = (mkdir(trash, 0700) == 0 || errno == EEXIST) && rename(dir, to) == 0;
    int gone = errno == ENOENT;
    free(trash);
    if (moved)
        return to;
    free(to);
    if (!gone)
        remove_logged(dir);
    return NULL;
}

void sl_srv_trash_empty(struct sl_server *s)
{
    char *trash = sl_fs_join(s->data_dir, "trash");
    remove_logged(trash);
    free(trash);
}

/* Under locks_mu: takes PROJECT_ID off the deleted list (its deletion failed). */
static void deleted_forget(int64_t project_id)
{
    for (size_t i = 0; i < ndeleted; i++)
        if (deleted[i] == project_id) {
            deleted[i] = deleted[--ndeleted];
            break;
        }
}

/* Writers of a running job's files from outside its worker (a runner's artifacts upload)
 * hold this read side while they write; a project's deletion holds the write side while it
 * removes the rows and the files, so no upload that checked its job before writes after. */
static pthread_rwlock_t job_files_rw = PTHREAD_RWLOCK_INITIALIZER;

bool sl_srv_job_files_begin(struct sl_server *s, int64_t job_id)
{
    struct sl_store_job j;
    memset(&j, 0, sizeof(j));
    pthread_rwlock_rdlock(&job_files_rw);
    bool live = sl_store_job_get(s->st, job_id, &j, NULL) == 0;
    sl_store_job_release(&j);
    if (!live)
        pthread_rwlock_unlock(&job_files_rw);
    return live;
}

void sl_srv_job_files_end(void)
{
    pthread_rwlock_unlock(&job_files_rw);
}

int sl_srv_project_delete(struct sl_server *s, int64_t project_id, struct sl_error *err)
{
    int64_t *pls = NULL;
    size_t npls = 0, ntrashed = 0;
    char **trashed = NULL;
    struct sl_store_project proj;
    memset(&proj, 0, sizeof(proj));
    int rc = sl_store_project_get(s->st, project_id, &proj, err);
    sl_store_project_release(&proj);
    if (rc < 0)
        return rc;
    /* listed deleted first: no pipeline of it is made from here on (one under way when it
     * is listed finishes first: taking the lock waits for it) */
    pthread_mutex_lock(&locks_mu);
    if (ndeleted == deleted_cap) {
        deleted_cap = deleted_cap ? 2 * deleted_cap : 8;
        deleted = sl_xrealloc(deleted, deleted_cap * sizeof(*deleted));
    }
    deleted[ndeleted++] = project_id;
    pthread_mutex_unlock(&locks_mu);
    repo_unlock(repo_lock(project_id));
    /* its unfinished jobs are canceled, as a cancel of each pipeline does: a pending one is
     * not claimed any more, a runner's is told at its next request (403 once the rows are
     * gone), and this server's workers are stopped and waited for, so nothing of theirs
     * writes the project's files after they are removed. Not under the repository lock: a
     * job's end may make pipelines (bridges) and take repository locks. */
    rc = sl_store_project_pipeline_ids(s->st, project_id, &pls, &npls, err);
    for (size_t i = 0; rc == 0 && i < npls; i++) {
        struct sl_store_pipeline p;
        memset(&p, 0, sizeof(p));
        bool open = sl_store_pipeline_get(s->st, pls[i], &p, NULL) == 0 && !p.finished_at;
        sl_store_pipeline_release(&p);
        struct sl_error cerr = SL_ERROR_INIT;
        if (open && sl_srv_transition(s, pls[i], SRV_EV_CANCEL_PIPELINE, 0, NULL, false, &cerr) < 0)
            sl_log(SL_LOG_WARN, "cannot cancel a pipeline of a deleted project", "error",
                   sl_error_format(&cerr), NULL);
        sl_error_release(&cerr);
    }
    if (rc == 0)
        sl_srv_workers_drop(s, pls, npls);
    free(pls);
    pls = NULL;
    npls = 0;
    struct repo_lock *lock = repo_lock(project_id);
    pthread_rwlock_wrlock(&job_files_rw);
    if (rc == 0)
        rc = sl_store_project_pipeline_ids(s->st, project_id, &pls, &npls, err);
    if (rc == 0)
        rc = sl_store_project_delete(s->st, project_id, err);
    if (rc < 0) {
        pthread_mutex_lock(&locks_mu);
        deleted_forget(project_id);
        pthread_mutex_unlock(&locks_mu);
        goto out;
    }
    /* nobody has the mirror taken: takers hold this lock */
    sl_srv_mirror_forget(s->mirrors, project_id);
    static const char *const per_project[] = {"repos", "cache", "builds"};
    trashed = sl_xcalloc(SL_ARRAY_LEN(per_project) + npls, sizeof(*trashed));
    for (size_t i = 0; i < SL_ARRAY_LEN(per_project); i++) {
        char *dir = sl_xasprintf("%s/%s/%lld", s->data_dir, per_project[i], (long long)project_id);
        trashed[ntrashed++] = trash_move(s, dir);
        free(dir);
    }
    for (size_t i = 0; i < npls; i++) {
        char *dir = sl_xasprintf("%s/pipelines/%lld", s->data_dir, (long long)pls[i]);
        trashed[ntrashed++] = trash_move(s, dir);
        free(dir);
    }
out:
    pthread_rwlock_unlock(&job_files_rw);
    repo_unlock(lock);
    /* every upload and this project's lock are free again while the trees go */
    for (size_t i = 0; i < ntrashed; i++) {
        if (trashed[i])
            remove_logged(trashed[i]);
        free(trashed[i]);
    }
    free(trashed);
    free(pls);
    return rc;
}
