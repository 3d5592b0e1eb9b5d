/* source.c: fetch and check out a job's commit (source.h). */
#include "base/compat.h"
#include "agent/source.h"
#include "base/alloc.h"
#include "base/fs.h"
#include "base/git_net.h"
#include "base/str.h"

#include <git2.h>
#include <pthread.h>

static pthread_mutex_t fetch_lock = PTHREAD_MUTEX_INITIALIZER;

/* libgit2's last error, with the job token (it is part of the URL) never repeated. */
static int git_fail(struct sl_error *err, const struct sl_agent_job *job, const char *what)
{
    const git_error *e = git_error_last();
    const char *msg = e && e->message ? e->message : "unknown error";
    struct sl_str s = SL_STR_INIT;
    size_t tl = job->token ? strlen(job->token) : 0;
    for (const char *p = msg; *p;) {
        if (tl && !strncmp(p, job->token, tl)) {
            sl_str_adds(&s, "[MASKED]");
            p += tl;
        } else {
            sl_str_addc(&s, *p++);
        }
    }
    int rc = sl_error_set(err, SL_EPROTO, "%s: %s", what, s.buf ? s.buf : "");
    sl_str_release(&s);
    return rc;
}

static int open_mirror(git_repository **out, const char *dir, struct sl_error *err)
{
    if (git_repository_open_bare(out, dir) == 0)
        return 0;
    if (git_repository_init(out, dir, 1) == 0)
        return 0;
    const git_error *e = git_error_last();
    return sl_error_set(err, SL_EPROTO, "git mirror %s: %s", dir, e ? e->message : "cannot init");
}

static int fetch(const struct sl_agent_job *job, const char *mirror_dir, struct sl_error *err)
{
    static const char *const defaults[] = {"+refs/heads/*:refs/remotes/origin/*",
                                           "+refs/tags/*:refs/tags/*", NULL};
    git_repository *repo = NULL;
    git_remote *remote = NULL;
    git_fetch_options fo;
    git_strarray specs = {0};
    const char *const *rs =
        job->git.refspecs && job->git.refspecs[0] ? job->git.refspecs : defaults;
    git_oid oid;
    git_commit *commit = NULL;
    int rc = 0;

    if ((rc = open_mirror(&repo, mirror_dir, err)) < 0)
        return rc;
    /* already there (a retry, or a later job of the same commit): nothing to fetch */
    if (git_oid_fromstr(&oid, job->git.sha) == 0 && git_commit_lookup(&commit, repo, &oid) == 0)
        goto out;
    for (const char *const *p = rs; *p; p++)
        specs.count++;
    specs.strings = (char **)rs;
    git_fetch_options_init(&fo, GIT_FETCH_OPTIONS_VERSION);
    fo.prune = GIT_FETCH_NO_PRUNE;
    fo.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE;
    /* as the server's mirror fetch: no url.*.insteadOf rewriting, whose config glob
     * leaks PCRE2 match frames in libgit2 1.5 on every call, and the URL is the server's
     * own anyway */
    git_remote_create_options ro;
    git_remote_create_options_init(&ro, GIT_REMOTE_CREATE_OPTIONS_VERSION);
    ro.repository = repo;
    ro.flags = GIT_REMOTE_CREATE_SKIP_INSTEADOF | GIT_REMOTE_CREATE_SKIP_DEFAULT_FETCHSPEC;
    if (git_remote_create_with_opts(&remote, job->git.repo_url, &ro) < 0 ||
        git_remote_fetch(remote, &specs, &fo, NULL) < 0) {
        rc = git_fail(err, job, "fetching the source");
        goto out;
    }
    if (git_commit_lookup(&commit, repo, &oid) < 0)
        rc = sl_error_set(err, SL_EPROTO,
                          "fetching the source: commit %s is not in what the "
                          "server sent (refspecs %s)",
                          job->git.sha, rs[0]);
out:
    git_commit_free(commit);
    git_remote_free(remote);
    git_repository_free(repo);
    return rc;
}

static int checkout(const struct sl_agent_job *job, const char *mirror_dir, const char *dir,
                    struct sl_error *err)
{
    git_repository *repo = NULL;
    git_checkout_options co;
    git_oid oid;
    char *alt = NULL, *objects = NULL, *abs = NULL;
    int rc;

    if ((rc = sl_fs_remove_tree(dir, err)) < 0 && rc != SL_ENOENT)
        return rc;
    if (git_repository_init(&repo, dir, 0) < 0)
        return git_fail(err, job, "checkout");
    git_repository_free(repo);
    repo = NULL;
    /* the objects stay in the mirror: a checkout costs its files, not a copy of history */
    if (!(abs = realpath(mirror_dir, NULL))) {
        rc = sl_error_set_errno(err, SL_EIO, "%s", mirror_dir);
        goto out;
    }
    objects = sl_xasprintf("%s/objects\n", abs);
    alt = sl_xasprintf("%s/.git/objects/info/alternates", dir);
    if ((rc = sl_fs_write_atomic(alt, objects, strlen(objects), 0644, err)) < 0)
        goto out;
    if (git_repository_open(&repo, dir) < 0 || git_oid_fromstr(&oid, job->git.sha) < 0 ||
        git_repository_set_head_detached(repo, &oid) < 0) {
        rc = git_fail(err, job, "checkout");
        goto out;
    }
    git_checkout_options_init(&co, GIT_CHECKOUT_OPTIONS_VERSION);
    co.checkout_strategy = GIT_CHECKOUT_FORCE;
    if (git_checkout_head(repo, &co) < 0)
        rc = git_fail(err, job, "checkout");
out:
    git_repository_free(repo);
    free(abs);
    free(objects);
    free(alt);
    return rc;
}

int sl_agent_source_fetch(const struct sl_agent_job *job, const char *mirror_dir,
                          const char *checkout_dir, struct sl_error *err)
{
    int rc;
    git_libgit2_init();
    sl_git_net_install(); /* a silent server fails the fetch instead of holding the job */
    pthread_mutex_lock(&fetch_lock);
    rc = fetch(job, mirror_dir, err);
    pthread_mutex_unlock(&fetch_lock);
    if (rc == 0)
        rc = checkout(job, mirror_dir, checkout_dir, err);
    return rc;
}
