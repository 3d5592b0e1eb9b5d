/* includes.c: the CLI's include resolver (includes.h). Messages are GitLab's
 * (lib/gitlab/ci/config/external/file/, Ci::Components::FetchService), with what sluice
 * adds (how to make a project known, that the cache has no copy) after them. */
#include "base/compat.h"
#include "cli/includes.h"
#include "base/alloc.h"
#include "base/fs.h"
#include "base/include_git.h"
#include "base/include_http.h"
#include "base/str.h"

#include <ctype.h>
#include <git2.h>
#include <sodium.h>

static const char *var(const struct cli_includes *r, const char *name)
{
    size_t n = strlen(name);
    for (const char *const *v = r->vars; v && *v; v++)
        if (!strncmp(*v, name, n) && (*v)[n] == '=')
            return *v + n + 1;
    return NULL;
}

void sl_cli_includes_init(struct cli_includes *r, const struct cli_include_opts *o,
                          const char *const *vars)
{
    memset(r, 0, sizeof(*r));
    if (o)
        r->opts = *o;
    r->vars = vars;
    const char *env = getenv("SLUICE_INCLUDE_CACHE");
    const char *xdg = getenv("XDG_CACHE_HOME");
    const char *home = getenv("HOME");
    if (env && *env)
        r->cache = sl_xstrdup(env);
    else if (xdg && *xdg)
        r->cache = sl_xasprintf("%s/sluice/includes", xdg);
    else
        r->cache = sl_xasprintf("%s/.cache/sluice/includes", home && *home ? home : "/tmp");
}

void sl_cli_includes_release(struct cli_includes *r)
{
    free(r->cache);
    r->cache = NULL;
}

bool sl_cli_include_opt(struct cli_include_opts *o, int id, const char *arg, size_t *nprojects)
{
    switch (id) {
    case CLI_OPT_OFFLINE:
        o->offline = true;
        return true;
    case CLI_OPT_INCLUDE_PROJECT:
        o->projects[(*nprojects)++] = arg;
        return true;
    case CLI_OPT_TEMPLATE_DIR:
        o->templates = arg;
        return true;
    }
    return false;
}

/* The cache's name for KEY: 32 hex digits of its BLAKE2b hash, under KIND. */
static char *cache_path(const struct cli_includes *r, const char *kind, const char *key)
{
    unsigned char d[16];
    char hex[33];
    if (sodium_init() < 0)
        abort();
    crypto_generichash(d, sizeof(d), (const unsigned char *)key, strlen(key), NULL, 0);
    sodium_bin2hex(hex, sizeof(hex), d, sizeof(d));
    return sl_xasprintf("%s/%s/%s", r->cache, kind, hex);
}

static bool is_url(const char *s)
{
    return strstr(s, "://") || sl_starts_with(s, "git@");
}

/* A remote file by URL, through the cache (remote/<hash of URL>): fetched online (the cache
 * then updated), the cached copy offline. */
static int fetch_url(struct cli_includes *r, const char *url, const char *what, char **text,
                     size_t *len, struct sl_error *err)
{
    char *path = cache_path(r, "remote", url);
    int rc;
    if (r->opts.offline) {
        rc = sl_fs_read_file(path, SL_INCLUDE_GIT_MAX_BYTES, text, len, NULL);
        if (rc < 0)
            rc = sl_error_set(err, SL_ENOENT,
                              "Remote file `%s` could not be fetched: it is not in the include "
                              "cache (%s) and --offline forbids the network",
                              what, r->cache);
        goto out;
    }
    if ((rc = sl_include_http_get(url, what, NULL, text, len, err)) < 0)
        goto out;
    char *dir = sl_fs_join(r->cache, "remote");
    if (sl_fs_mkdir_p(dir, 0700, NULL) == 0)
        sl_fs_write_atomic(path, *text, *len, 0600, NULL); /* a cache: best effort */
    free(dir);
out:
    free(path);
    return rc;
}

/* --- git ------------------------------------------------------------------------------- */

static int credentials(git_credential **out, const char *url, const char *user_from_url,
                       unsigned int allowed, void *payload)
{
    int *tries = payload;
    (void)url;
    if ((*tries)++ > 2)
        return GIT_EUSER; /* each way once: libgit2 asks again after a refusal */
    if (allowed & GIT_CREDENTIAL_SSH_KEY)
        return git_credential_ssh_key_from_agent(out, user_from_url ? user_from_url : "git");
    const char *job = getenv("CI_JOB_TOKEN"), *tok = getenv("SLUICE_GIT_TOKEN");
    if ((allowed & GIT_CREDENTIAL_USERPASS_PLAINTEXT) && tok && *tok)
        return git_credential_userpass_plaintext_new(out, "oauth2", tok);
    if ((allowed & GIT_CREDENTIAL_USERPASS_PLAINTEXT) && job && *job)
        return git_credential_userpass_plaintext_new(out, "gitlab-ci-token", job);
    return GIT_PASSTHROUGH;
}

/* A bare clone of URL in the cache (repos/<hash of URL>), fetched when online. */
static int open_clone(struct cli_includes *r, const char *url, git_repository **out,
                      struct sl_error *err)
{
    char *path = cache_path(r, "repos", url);
    git_repository *repo = NULL;
    git_remote *remote = NULL;
    int rc = 0;
    bool have = git_repository_open_bare(&repo, path) == 0;

    if (r->opts.offline) {
        if (!have)
            rc = sl_error_set(err, SL_ENOENT,
                              "%s is not in the include cache (%s) and --offline forbids "
                              "cloning it",
                              url, r->cache);
        goto out;
    }
    if (!have) {
        char *dir = sl_fs_join(r->cache, "repos");
        int mk = sl_fs_mkdir_p(dir, 0700, err);
        free(dir);
        if (mk < 0 || git_repository_init(&repo, path, 1) < 0) {
            rc = mk < 0 ? mk : sl_error_set(err, SL_EIO, "%s", git_error_last()->message);
            goto out;
        }
    }
    char heads[] = "+refs/heads/*:refs/heads/*", tags[] = "+refs/tags/*:refs/tags/*";
    char *specs[] = {heads, tags};
    git_strarray refspecs = {specs, 2};
    git_fetch_options fo;
    git_fetch_options_init(&fo, GIT_FETCH_OPTIONS_VERSION);
    int tries = 0;
    fo.callbacks.credentials = credentials;
    fo.callbacks.payload = &tries;
    fo.prune = GIT_FETCH_PRUNE;
    fo.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE;
    /* not git_remote_create_anonymous: libgit2 1.5 leaks PCRE2 match frames in its
     * url.*.insteadOf lookup (server/pipelines.c fetch_all says more) */
    git_remote_create_options ro;
    git_remote_create_options_init(&ro, GIT_REMOTE_CREATE_OPTIONS_VERSION);
    ro.repository = repo;
    ro.flags = GIT_REMOTE_CREATE_SKIP_INSTEADOF | GIT_REMOTE_CREATE_SKIP_DEFAULT_FETCHSPEC;
    if (git_remote_create_with_opts(&remote, url, &ro) < 0 ||
        git_remote_fetch(remote, &refspecs, &fo, NULL) < 0) {
        const git_error *e = git_error_last();
        rc = sl_error_set(err, SL_EIO, "%s cannot be fetched: %s", url, e ? e->message : "?");
        goto out;
    }
    /* the remote's HEAD becomes the clone's, for include:project without `ref` */
    git_buf head = GIT_BUF_INIT;
    if (git_remote_default_branch(&head, remote) == 0)
        git_repository_set_head(repo, head.ptr);
    git_buf_dispose(&head);
out:
    git_remote_free(remote);
    free(path);
    if (rc == 0)
        *out = repo;
    else
        git_repository_free(repo);
    return rc;
}

/* Finds PROJECT: --include-project, else CI_SERVER_URL/PROJECT.git. SL_ENOENT without a
 * message when nothing names it; other errors with one. */
static int project_open(void *ctx, const char *project, struct sl_include_project *s,
                        struct sl_error *err)
{
    struct cli_includes *r = ctx;
    const char *src = NULL;
    size_t n = strlen(project);
    memset(s, 0, sizeof(*s));
    for (const char **p = r->opts.projects; p && *p; p++)
        if (!strncasecmp(*p, project, n) && (*p)[n] == '=')
            src = *p + n + 1;
    char *url = NULL;
    if (!src) {
        const char *server = var(r, "CI_SERVER_URL");
        if (!server || !*server)
            return SL_ENOENT;
        url = sl_xasprintf("%s/%s.git", server, project);
        src = url;
    }
    s->origin = sl_xstrdup(src);
    int rc = 0;
    if (is_url(src)) {
        rc = open_clone(r, src, &s->repo, err);
    } else if (git_repository_open_ext(&s->repo, src, GIT_REPOSITORY_OPEN_NO_SEARCH, NULL) < 0) {
        s->repo = NULL;
        if (sl_fs_is_dir(src))
            s->dir = sl_xstrdup(src);
        else
            rc = sl_error_set(err, SL_ENOENT, "--include-project %s=%s: no such directory", project,
                              src);
    }
    free(url);
    if (rc < 0)
        sl_include_project_release(s);
    return rc;
}

/* --- templates ------------------------------------------------------------------------- */

static int fetch_template(struct cli_includes *r, const struct sl_config_include *inc,
                          struct sl_config_fetched *out, struct sl_error *err)
{
    const char *base = r->opts.templates ? r->opts.templates : SL_INCLUDE_TEMPLATES_URL;
    const char *name = inc->location;
    int rc;
    if (strstr(name, "..") || name[0] == '/')
        return sl_error_set(err, SL_ENOENT, "Included file `%s` is empty or does not exist!", name);
    if (sl_starts_with(base, "http://") || sl_starts_with(base, "https://")) {
        char *url = sl_xasprintf("%s/%s", base, name);
        rc = fetch_url(r, url, url, &out->text, &out->len, err);
        if (rc == SL_ENOENT && !r->opts.offline) {
            sl_error_release(err);
            rc = sl_error_set(err, rc, "Included file `%s` is empty or does not exist!", name);
        }
        free(url);
        return rc;
    }
    rc = sl_fs_read_within(base, name, SL_INCLUDE_GIT_MAX_BYTES, &out->text, &out->len, NULL);
    if (rc < 0)
        return sl_error_set(err, SL_ENOENT,
                            "Included file `%s` is empty or does not exist! (looked in "
                            "--template-dir %s)",
                            name, base);
    return 0;
}

/* --- components ------------------------------------------------------------------------ */

static struct sl_include_git git_ways(struct cli_includes *r)
{
    struct sl_include_git g = {project_open, r, var(r, "CI_SERVER_FQDN"),
                               "sluice: name it with --include-project PATH=DIR-OR-GIT-URL"};
    return g;
}

int sl_cli_includes_fetch(void *ctx, const struct sl_config_include *inc,
                          struct sl_config_fetched *out, struct sl_error *err)
{
    struct cli_includes *r = ctx;
    git_libgit2_init();
    struct sl_include_git g = git_ways(r);
    int rc;
    if (!strcmp(inc->kind, "remote")) {
        rc = fetch_url(r, inc->location, inc->location, &out->text, &out->len, err);
    } else if (!strcmp(inc->kind, "project")) {
        rc = sl_include_git_project(&g, inc->location, inc->ref, inc->file, &out->text, &out->len,
                                    &out->sha, err);
        if (rc == 0)
            out->project = sl_xstrdup(inc->location);
    } else if (!strcmp(inc->kind, "template")) {
        rc = fetch_template(r, inc, out, err);
    } else if (!strcmp(inc->kind, "component")) {
        rc = sl_include_git_component(&g, inc->location, &out->text, &out->len, &out->project,
                                      &out->sha, err);
    } else {
        rc = sl_error_set(err, SL_EUNSUPPORTED, "include:%s is not known", inc->kind);
    }
    git_libgit2_shutdown();
    return rc;
}
