/* include_git.h: include:project and include:component read from git repositories, shared
 * by the CLI's include resolver (src/cli/includes.c) and the server's (src/server/includes.c),
 * which differ only in how a project's path becomes a repository: a --include-project map
 * or a clone for the CLI, a project of the server and its mirror for the server.
 * Messages are GitLab's (file/project.rb, Ci::Components::FetchService), with what sluice
 * adds after them in parentheses. */
#ifndef SL_BASE_INCLUDE_GIT_H
#define SL_BASE_INCLUDE_GIT_H

#include "base/compat.h"
#include "base/error.h"

#include <git2.h>

#define SL_INCLUDE_GIT_MAX_BYTES (4u << 20) /* one file */

/* Where a project's files are: a repository, or a plain directory (only its HEAD). */
struct sl_include_project {
    git_repository *repo; /* owned */
    char *dir;            /* owned */
    char *origin;         /* what it was found as, for messages; owned */
};
void sl_include_project_release(struct sl_include_project *p);

/* Opens PROJECT (lower case) into *out. SL_ENOENT without a message in ERR when no project
 * has that path; any other error with one. */
typedef int (*sl_include_open_fn)(void *ctx, const char *project, struct sl_include_project *out,
                                  struct sl_error *err);

struct sl_include_git {
    sl_include_open_fn open;
    void *ctx;
    const char *fqdn; /* CI_SERVER_FQDN: the components this instance serves; NULL: none */
    const char *hint; /* said after "not found" ("sluice: name it with ..."), or NULL */
};

/* FILE of PROJECT at REF (NULL: the repository's HEAD; a branch, then a tag, then anything
 * git names). On success *text (caller frees, NUL-terminated), *len and *sha (caller frees;
 * NULL for a plain directory). */
int sl_include_git_project(const struct sl_include_git *g, const char *project, const char *ref,
                           const char *file, char **text, size_t *len, char **sha,
                           struct sl_error *err);
/* The component at ADDR ("FQDN/group/project/name@version"): templates/name.yml or
 * templates/name/template.yml at the version (`~latest` and `1`/`1.2`: the highest
 * semantic-version tag, of that major or minor). *project and *sha as above. */
int sl_include_git_component(const struct sl_include_git *g, const char *addr, char **text,
                             size_t *len, char **project, char **sha, struct sl_error *err);

#endif
