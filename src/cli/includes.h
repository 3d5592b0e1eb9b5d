/* includes.h: the include resolver `sluice plan`, `run`, `lint` and `config` hand the config
 * room (its sl_config_fetch_fn): include:remote over HTTP(S) with libcurl, include:project
 * and include:component from git repositories with libgit2, include:template from a
 * directory or GitLab's raw templates, all through a cache on disk so a pipeline that
 * worked once online plans again offline (docs/includes.md).
 *
 * Where a project comes from: `--include-project PATH=SOURCE` (SOURCE a git work tree or
 * bare repository, a plain directory, or a git URL that is cloned into the cache); else,
 * when CI_SERVER_URL is known (from the `origin` remote), CI_SERVER_URL/PATH.git.
 * Cache: $SLUICE_INCLUDE_CACHE, else $XDG_CACHE_HOME/sluice/includes, else
 * ~/.cache/sluice/includes: remote/<hash> (a remote file, by its URL) and repos/<hash>
 * (a bare clone of a project, by its URL; its commits are content-addressed by git). */
#ifndef SL_CLI_INCLUDES_H
#define SL_CLI_INCLUDES_H

#include "base/compat.h"
#include "config/config.h"

/* The options, as the command line gives them (strings borrowed). */
struct cli_include_opts {
    bool offline;          /* --offline: the cache only */
    const char **projects; /* --include-project PATH=SOURCE, NULL-terminated (or NULL) */
    const char *templates; /* --template-dir DIR or URL; NULL: SL_INCLUDE_TEMPLATES_URL */
};

struct cli_includes {
    struct cli_include_opts opts;
    const char *const *vars; /* "K=V" (CI_SERVER_URL, CI_SERVER_FQDN), borrowed */
    char *cache;             /* the cache directory */
};

/* Sets R up (nothing is created before a fetch needs it). VARS is borrowed for R's life. */
void sl_cli_includes_init(struct cli_includes *r, const struct cli_include_opts *o,
                          const char *const *vars);
void sl_cli_includes_release(struct cli_includes *r);
/* The sl_config_fetch_fn; CTX is a struct cli_includes. */
int sl_cli_includes_fetch(void *ctx, const struct sl_config_include *inc,
                          struct sl_config_fetched *out, struct sl_error *err);
/* Handles the option ID (one of the CLI_OPT_* below) with ARG; false for another id. */
bool sl_cli_include_opt(struct cli_include_opts *o, int id, const char *arg, size_t *nprojects);

enum { CLI_OPT_OFFLINE = 0x200, CLI_OPT_INCLUDE_PROJECT, CLI_OPT_TEMPLATE_DIR };
/* The three table rows, for the commands that load a pipeline. */
#define CLI_INCLUDE_OPTS                                                                           \
    {CLI_OPT_OFFLINE,                                                                              \
     0,                                                                                            \
     "offline",                                                                                    \
     NULL,                                                                                         \
     "resolve remote, project, template and component includes from the include cache only "       \
     "(docs/includes.md)",                                                                         \
     0},                                                                                           \
        {CLI_OPT_INCLUDE_PROJECT,                                                                  \
         0,                                                                                        \
         "include-project",                                                                        \
         "PATH=SRC",                                                                               \
         "read include:project and include:component project PATH from SRC: a git repository, "    \
         "a directory or a git URL; repeatable",                                                   \
         SL_OPT_REPEAT},                                                                           \
    {                                                                                              \
        CLI_OPT_TEMPLATE_DIR, 0, "template-dir", "DIR",                                            \
            "where include:template files are (a directory or an http(s) URL; default: "           \
            "GitLab's templates on gitlab.com)",                                                   \
            0                                                                                      \
    }

#endif
