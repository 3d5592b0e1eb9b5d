/* workspace.h: a clean copy of the project for one job.
 *
 * Each job runs in its own copy of the project (GitLab's runner clones or fetches the
 * repository for every job; sluice copies the working tree instead, so local edits are
 * tested without a commit). The runner picks the destination, `.sluice/builds/<job>` for
 * `sluice run` (kept from run to run, see GIT_STRATEGY below), and points CI_PROJECT_DIR
 * at it.
 *
 *   struct sl_workspace_options o;
 *   sl_workspace_options_init(&o);
 *   if (sl_workspace_options_from_env(&o, job_env, &err) < 0) ...
 *   struct sl_workspace_stats st;
 *   if (sl_workspace_prepare(project, dest, &o, &st, &err) < 0) ... sl_error_format(&err) ...
 *
 * What is copied (docs/artifacts-and-cache.md says it for users):
 *  - When PROJECT_DIR is the top of a git repository (it has a `.git`): every file in the
 *    index that exists in the working tree, with its working-tree content (so unstaged
 *    edits are included and files deleted from the working tree are not), plus every
 *    untracked file that git does not ignore. Ignored files (build output, node_modules,
 *    .env, ...) are not copied: GitLab's clone would not have them either.
 *    Submodules (gitlinks) become empty directories, as with GitLab's default
 *    GIT_SUBMODULE_STRATEGY=none.
 *  - Otherwise the whole tree is copied.
 *  - `.sluice/` at the top of the project is never copied, and neither is DEST_DIR when it
 *    lies inside the project.
 *  - Regular files keep their permission bits; symbolic links are copied as links (their
 *    target text unchanged, never followed); fifos, sockets and devices are skipped.
 *    Content is copied with a reflink (FICLONE) when the file system offers it, else with
 *    copy_file_range, so the kernel does the work and no page passes through user space.
 *    Files are never hard-linked: a job may modify its copy.
 *
 * Git inside the copy: jobs that run `git` (git describe, git log, git diff HEAD~1) need a
 * repository. A `.git` file pointing at the project's git dir would share its index and
 * HEAD with the user (a job's `git add` or `git checkout` would change the user's
 * repository), so instead the copy gets its own small repository:
 *  - The repository is written directly with only what git needs (HEAD, config,
 *    objects/info/alternates, refs/, packed-refs, index): creating inodes is most of the
 *    cost of a small workspace, so no hooks, logs or description.
 *  - `.git/objects/info/alternates` names the project's object store, so every commit is
 *    readable without copying one object; objects a job creates go to the copy's store.
 *  - Local branches and tags are copied as refs; HEAD is detached at the project's HEAD
 *    commit, as in a GitLab job (an unborn HEAD stays unborn on the same branch name).
 *  - The index is HEAD's tree, with the stat data of the copied files filled in for the
 *    files that are unchanged since HEAD, so `git status` in the job is fast and shows
 *    exactly the project's uncommitted changes as modifications and its untracked files
 *    as untracked.
 *  Caveat: the copy borrows objects from the project; running `git gc --prune=now` in the
 *  project while an old copy still exists can make commits the copy refers to unreadable
 *  there. Copies are meant to live for one pipeline.
 */
#ifndef SL_EXEC_WORKSPACE_H
#define SL_EXEC_WORKSPACE_H

#include "base/compat.h"
#include "base/error.h"

/* Per-file cap: a tracked file larger than this is refused (a clear error) rather than
 * silently filling the disk once per job. */
#define SL_WORKSPACE_FILE_MAX ((int64_t)16 << 30)

/* GitLab's GIT_STRATEGY, for a copy instead of a clone:
 *  - FETCH (the default, as for a new GitLab project): DEST_DIR is kept from the job's
 *    previous run and brought back to a fresh copy the way the runner's `git fetch` +
 *    `git reset --hard` + `git clean` does: files that differ from the project (or that
 *    the last job changed) are copied again, the rest stay, and what the project does not
 *    have is removed as GIT_CLEAN_FLAGS says. Cheap: a job that changes nothing costs a
 *    stat of each file and no new inode.
 *  - CLONE: DEST_DIR is removed and copied afresh.
 *  - NONE: DEST_DIR is made when missing and otherwise left exactly as it is (no copy,
 *    no clean), as GitLab leaves the build directory alone.
 *  - EMPTY: DEST_DIR is removed and made again, empty (GitLab 17's `empty`).
 * A project that is not a git repository is always copied as CLONE (there is no index to
 * tell what belongs to it), except under NONE and EMPTY. */
enum sl_workspace_strategy {
    SL_WORKSPACE_FETCH = 0,
    SL_WORKSPACE_CLONE,
    SL_WORKSPACE_NONE,
    SL_WORKSPACE_EMPTY,
};

/* How the workspace is made, from the job's variables (sl_workspace_options_from_env). */
struct sl_workspace_options {
    enum sl_workspace_strategy strategy;
    /* GIT_CLEAN_FLAGS for FETCH: NULL means GitLab's default "-ffdx"; "none" keeps
     * everything. Understood: -f (ignored: the clean is always forced), -d (untracked
     * directories too), -x (ignored files too), -X (only ignored files), -q, -e PATTERN /
     * --exclude=PATTERN (kept; gitignore-style, matched against the base name or, when the
     * pattern has a slash, the whole path). Borrowed. */
    const char *clean_flags;
    /* GIT_DEPTH: 0 is the whole history; N > 0 makes the copy's repository shallow at
     * depth N from HEAD (`.git/shallow`), as `git clone --depth N` would. */
    int depth;
    /* GIT_CHECKOUT: false gives the repository (HEAD, refs, index) without copying files
     * (CLONE: an empty tree; FETCH: the files of the last run stay, uncleaned). */
    bool checkout;
};

/* The defaults: FETCH, "-ffdx", full depth, checkout. */
void sl_workspace_options_init(struct sl_workspace_options *o);

/* Reads GIT_STRATEGY, GIT_CLEAN_FLAGS, GIT_DEPTH and GIT_CHECKOUT from ENV (KEY=VALUE,
 * NULL-terminated; NULL reads nothing) over the defaults. O borrows from ENV. Empty values
 * mean "not set", as in GitLab. Errors: SL_EINVAL naming the variable for a value GitLab
 * would not accept either (an unknown strategy, a depth that is not a number, an unknown
 * clean flag). */
int sl_workspace_options_from_env(struct sl_workspace_options *o, const char *const *env,
                                  struct sl_error *err);

struct sl_workspace_stats {
    size_t files;     /* regular files copied */
    size_t symlinks;  /* symbolic links created */
    size_t dirs;      /* directories created (DEST_DIR itself excluded) */
    uint64_t bytes;   /* bytes of regular-file content */
    size_t skipped;   /* special files, and index entries missing from the working tree */
    size_t unchanged; /* FETCH: files and links kept from the previous run */
    size_t removed;   /* FETCH: paths removed (cleaned, or changed in type) */
    bool git;         /* PROJECT_DIR was a git repository and DEST_DIR got one too */
    bool reflinked;   /* at least one file was cloned by reflink */
    bool reused;      /* FETCH found the previous run's workspace and updated it */
};

/* Makes DEST_DIR a clean copy of PROJECT_DIR as described above, per OPTS (NULL: the
 * defaults). DEST_DIR is created with its parents when missing. STATS may be NULL; it is
 * written only on success. Two prepares of the same DEST_DIR must not run at once.
 *
 * Under FETCH the previous run's state is kept in DEST_DIR/.git/sluice-workspace (what was
 * copied, with the stat data of both sides); a missing or damaged record makes the
 * prepare a CLONE. Nothing in DEST_DIR is trusted: paths are checked with lstat before
 * anything is written through them, so a link a job left cannot redirect the copy.
 *
 * Errors: SL_ENOENT when PROJECT_DIR does not exist, SL_EINVAL when DEST_DIR is
 * PROJECT_DIR or contains it (or DEST_DIR is inside the project but not under its
 * `.sluice/`: the copy would then be visible to later copies as untracked files),
 * SL_ELIMIT for a file over SL_WORKSPACE_FILE_MAX, SL_EIO for a failed system call and
 * SL_EPROTO when libgit2 cannot read the repository. On error DEST_DIR may hold a partial
 * copy; the next call repairs or removes it. */
int sl_workspace_prepare(const char *project_dir, const char *dest_dir,
                         const struct sl_workspace_options *opts, struct sl_workspace_stats *stats,
                         struct sl_error *err);

#endif
