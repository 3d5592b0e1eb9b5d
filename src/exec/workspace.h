/* workspace.h: a clean copy of the project for one job.
 *
 * Each job runs in its own copy of the project (GitLab's runner clones the repository for
 * every job; sluice copies the working tree instead, so local edits are tested without a
 * commit). The runner picks the destination, typically `.sluice/builds/<pipeline>/<job>`,
 * and points CI_PROJECT_DIR at it.
 *
 *   struct sl_workspace_stats st;
 *   if (sl_workspace_prepare(project, dest, &st, &err) < 0) ... sl_error_format(&err) ...
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

struct sl_workspace_stats {
    size_t files;    /* regular files copied */
    size_t symlinks; /* symbolic links created */
    size_t dirs;     /* directories created (DEST_DIR itself excluded) */
    uint64_t bytes;  /* bytes of regular-file content */
    size_t skipped;  /* special files, and index entries missing from the working tree */
    bool git;        /* PROJECT_DIR was a git repository and DEST_DIR got one too */
    bool reflinked;  /* at least one file was cloned by reflink */
};

/* Makes DEST_DIR a fresh copy of PROJECT_DIR as described above. DEST_DIR is removed
 * first when it exists (a job always starts clean), and created with its parents.
 * STATS may be NULL; it is written only on success.
 *
 * Errors: SL_ENOENT when PROJECT_DIR does not exist, SL_EINVAL when DEST_DIR is
 * PROJECT_DIR or contains it (or DEST_DIR is inside the project but not under its
 * `.sluice/`: the copy would then be visible to later copies as untracked files),
 * SL_ELIMIT for a file over SL_WORKSPACE_FILE_MAX, SL_EIO for a failed system call and
 * SL_EPROTO when libgit2 cannot read the repository. On error DEST_DIR may hold a partial
 * copy; the next call removes it. */
int sl_workspace_prepare(const char *project_dir, const char *dest_dir,
                         struct sl_workspace_stats *stats, struct sl_error *err);

#endif
