/* context.c: the trigger of a pipeline, read from the git repository (libgit2), and the
 * predefined variables GitLab would set for it (VARIABLES.md). */
#include "base/compat.h"
#include "plan/internal.h"
#include "base/alloc.h"
#include "base/fs.h"
#include "base/str.h"
#include "base/time.h"

#include <ctype.h>
#include <fcntl.h>
#include <git2.h>
#include <libgen.h>
#include <sys/file.h>
#include <unistd.h>

#define ZERO_SHA "0000000000000000000000000000000000000000"

void sl_trigger_init(struct sl_trigger *t)
{
    memset(t, 0, sizeof(*t));
    t->source = sl_xstrdup("push");
    t->config_path = sl_xstrdup(".gitlab-ci.yml");
    t->ref_protected = -1;
}

void sl_trigger_release(struct sl_trigger *t)
{
    free(t->ref);
    free(t->sha);
    free(t->before_sha);
    free(t->source);
    free(t->project_dir);
    free(t->config_path);
    free(t->default_branch);
    free(t->server_url);
    free(t->warning);
    for (size_t i = 0; i < t->nchanged; i++)
        free(t->changed[i]);
    free(t->changed);
    sl_vars_release(&t->predefined);
    sl_vars_release(&t->pipeline_vars);
    sl_vars_release(&t->stored_vars);
    memset(t, 0, sizeof(*t));
}

static void add_changed(struct sl_trigger *t, const char *path)
{
    SL_GROW(t->changed, t->capchanged, t->nchanged + 1);
    t->changed[t->nchanged++] = sl_xstrdup(path);
    t->changes_known = true;
}

void sl_trigger_add_changed(struct sl_trigger *t, const char *path)
{
    add_changed(t, path);
    t->changed_by_user = true;
}

char *sl_plan_slugify(struct sl_arena *a, const char *s)
{
    char buf[64];
    size_t n = 0;
    for (const char *p = s; *p && n < 63; p++) {
        unsigned char c = (unsigned char)tolower((unsigned char)*p);
        buf[n++] = (isdigit(c) || (c >= 'a' && c <= 'z')) ? (char)c : '-';
    }
    buf[n] = '\0';
    size_t start = 0;
    while (buf[start] == '-')
        start++;
    while (n > start && buf[n - 1] == '-')
        buf[--n] = '\0';
    return sl_arena_strdup(a, buf + start);
}

/* "git@host:group/sub/proj.git", "https://host/group/proj.git", "/srv/git/proj" →
 * "group/sub/proj", "group/proj", "proj". */
static char *project_path_from_url(const char *url)
{
    const char *p = url;
    const char *scheme = strstr(p, "://");
    if (scheme) {
        p = scheme + 3;
        const char *slash = strchr(p, '/');
        p = slash ? slash + 1 : "";
    } else if (strchr(p, ':') && !strchr(p, '/')) {
        p = strchr(p, ':') + 1;
    } else if (strchr(p, ':') && strchr(p, ':') < strchr(p, '/')) {
        p = strchr(p, ':') + 1;
    }
    char *s = sl_xstrdup(p);
    size_t n = strlen(s);
    while (n && s[n - 1] == '/')
        s[--n] = '\0';
    if (n > 4 && !strcmp(s + n - 4, ".git"))
        s[n - 4] = '\0';
    char *out = s;
    while (*out == '/')
        out++;
    if (!scheme && url[0] == '/') { /* a local path: keep the last two components */
        char *last = strrchr(out, '/');
        if (last && last != out) {
            char *prev = last - 1;
            while (prev > out && *prev != '/')
                prev--;
            out = *prev == '/' ? prev + 1 : prev;
        }
    }
    char *r = sl_xstrdup(out);
    free(s);
    return r;
}

static void setv(struct sl_trigger *t, const char *name, const char *value)
{
    sl_vars_set(&t->predefined, name, value ? value : "", false);
}

/* The server a remote URL names, as GitLab's CI_SERVER_URL: "https://host[:port]" for
 * http(s) remotes, "https://host" for ssh and scp-like ones (whose port is SSH's); NULL for
 * local paths and file://. */
static char *server_url_from_remote(const char *url)
{
    const char *scheme = strstr(url, "://"), *host;
    bool web = sl_starts_with(url, "https://") || sl_starts_with(url, "http://");
    if (scheme && !web && !sl_starts_with(url, "ssh://") && !sl_starts_with(url, "git://"))
        return NULL; /* file:// and the like */
    if (scheme)
        host = scheme + 3;
    else if (url[0] != '/' && strchr(url, ':') &&
             (!strchr(url, '/') || strchr(url, ':') < strchr(url, '/')))
        host = url; /* user@host:path */
    else
        return NULL;
    const char *at = strchr(host, '@'), *end = host + strcspn(host, web ? "/" : ":/");
    if (at && at < end)
        host = at + 1;
    end = host + strcspn(host, web ? "/" : ":/");
    if (end == host)
        return NULL;
    if (web)
        return sl_xasprintf("%.*s%.*s", (int)(scheme + 3 - url), url, (int)(end - host), host);
    return sl_xasprintf("https://%.*s", (int)(end - host), host);
}

/* CI_SERVER_* and CI_API_* of the server at URL ("proto://host[:port]"), and GitLab.com's
 * CI_PAGES_* (other instances configure their Pages domain: unknown here). */
static void set_server_vars(struct sl_trigger *t, const char *url, const char *path,
                            const char *root_ns)
{
    const char *sep = strstr(url, "://");
    if (!sep)
        return;
    char *proto = sl_xstrndup(url, (size_t)(sep - url));
    const char *fqdn = sep + 3;
    const char *colon = strrchr(fqdn, ':');
    if (colon && strchr(fqdn, ']') > colon) /* "[::1]" without a port */
        colon = NULL;
    char *host = colon ? sl_xstrndup(fqdn, (size_t)(colon - fqdn)) : sl_xstrdup(fqdn);
    const char *port = colon ? colon + 1 : !strcmp(proto, "https") ? "443" : "80";
    setv(t, "CI_SERVER_URL", url);
    setv(t, "CI_SERVER_HOST", host);
    setv(t, "CI_SERVER_PORT", port);
    setv(t, "CI_SERVER_PROTOCOL", proto);
    setv(t, "CI_SERVER_FQDN", fqdn);
    setv(t, "CI_SERVER_SHELL_SSH_HOST", host);
    setv(t, "CI_SERVER_SHELL_SSH_PORT", "22");
    char *api = sl_xasprintf("%s/api/v4", url), *gql = sl_xasprintf("%s/api/graphql", url);
    setv(t, "CI_API_V4_URL", api);
    setv(t, "CI_API_GRAPHQL_URL", gql);
    char *purl = sl_xasprintf("%s/%s", url, path);
    setv(t, "CI_PROJECT_URL", purl);
    if (!strcmp(host, "gitlab.com") && root_ns[0]) {
        /* GitLab.com: NAMESPACE.gitlab.io/PROJECT-PATH-BELOW-IT */
        char *ph = sl_xasprintf("%s.gitlab.io", root_ns);
        const char *below = path + strlen(root_ns);
        char *pu = sl_xasprintf("https://%s%s", ph, below);
        setv(t, "CI_PAGES_DOMAIN", "gitlab.io");
        setv(t, "CI_PAGES_HOSTNAME", ph);
        setv(t, "CI_PAGES_URL", pu);
        free(ph);
        free(pu);
    }
    free(purl);
    free(api);
    free(gql);
    free(host);
    free(proto);
}

/* CI_PIPELINE_SOURCE's values (GitLab's Ci::Pipeline sources) */
static bool known_source(const char *s)
{
    static const char *const sources[] = {"api",
                                          "chat",
                                          "external",
                                          "external_pull_request_event",
                                          "merge_request_event",
                                          "ondemand_dast_scan",
                                          "ondemand_dast_validation",
                                          "parent_pipeline",
                                          "pipeline",
                                          "push",
                                          "schedule",
                                          "security_orchestration_policy",
                                          "trigger",
                                          "web",
                                          "webide"};
    for (size_t i = 0; i < SL_ARRAY_LEN(sources); i++)
        if (!strcmp(sources[i], s))
            return true;
    return false;
}

/* A detached HEAD is no branch: the pipeline's ref is a branch or tag pointing at OID,
 * the one origin knows first (refs/remotes/origin/...), then a local branch, then a tag
 * (a tag pipeline). Sets t->ref (and t->tag); false when none points there. */
static bool ref_at_commit(git_repository *repo, const git_oid *oid, struct sl_trigger *t)
{
    static const struct {
        const char *glob;
        size_t strip;
        bool tag;
    } kinds[] = {{"refs/remotes/origin/*", 20, false},
                 {"refs/heads/*", 11, false},
                 {"refs/tags/*", 10, true}};
    for (size_t k = 0; k < SL_ARRAY_LEN(kinds) && !t->ref; k++) {
        git_reference_iterator *it = NULL;
        git_reference *ref = NULL;
        if (git_reference_iterator_glob_new(&it, repo, kinds[k].glob) < 0)
            continue;
        while (!t->ref && git_reference_next(&ref, it) == 0) {
            git_object *target = NULL;
            const char *name = git_reference_name(ref);
            if (git_reference_type(ref) == GIT_REFERENCE_DIRECT &&
                strcmp(name + kinds[k].strip, "HEAD") &&
                git_reference_peel(&target, ref, GIT_OBJECT_COMMIT) == 0 &&
                git_oid_equal(git_object_id(target), oid)) {
                t->ref = sl_xstrdup(name + kinds[k].strip);
                t->tag = kinds[k].tag;
            }
            git_object_free(target);
            git_reference_free(ref);
        }
        git_reference_iterator_free(it);
    }
    return t->ref != NULL;
}

/* CI_DEFAULT_BRANCH: origin/HEAD, init.defaultBranch (from CFG, the repository's config
 * snapshot, NULL: none), then a guess (below). */
static char *default_branch(git_repository *repo, git_config *cfg)
{
    git_reference *ref = NULL;
    char *out = NULL;
    if (git_reference_lookup(&ref, repo, "refs/remotes/origin/HEAD") == 0) {
        const char *target = git_reference_symbolic_target(ref);
        if (target && sl_starts_with(target, "refs/remotes/origin/"))
            out = sl_xstrdup(target + strlen("refs/remotes/origin/"));
        git_reference_free(ref);
    }
    if (!out && cfg) {
        git_buf buf = {0};
        if (git_config_get_string_buf(&buf, cfg, "init.defaultBranch") == 0)
            out = sl_xstrdup(buf.ptr);
        git_buf_dispose(&buf);
    }
    /* a local repository has no server to say: main, else master, else the current branch */
    static const char *const guesses[] = {"refs/heads/main", "refs/heads/master"};
    for (size_t i = 0; !out && i < SL_ARRAY_LEN(guesses); i++) {
        if (git_reference_lookup(&ref, repo, guesses[i]) == 0) {
            out = sl_xstrdup(guesses[i] + strlen("refs/heads/"));
            git_reference_free(ref);
        }
    }
    if (!out && git_repository_head(&ref, repo) == 0) {
        if (git_reference_is_branch(ref))
            out = sl_xstrdup(git_reference_shorthand(ref));
        git_reference_free(ref);
    }
    return out ? out : sl_xstrdup("main");
}

/* KEY of CFG (a config snapshot; NULL: none) into *OUT, when set. */
static void config_string(git_config *cfg, const char *key, char **out)
{
    git_buf buf = {0};
    if (cfg && git_config_get_string_buf(&buf, cfg, key) == 0)
        *out = sl_xstrdup(buf.ptr);
    git_buf_dispose(&buf);
}

/* The paths that differ between trees A and B: added, modified, and deleted or renamed
 * away (GitLab's diff_stats paths: both names of a rename). */
static int diff_paths(git_repository *repo, git_tree *a, git_tree *b,
                      void (*add)(void *ctx, const char *path), void *ctx)
{
    git_diff *diff = NULL;
    if (git_diff_tree_to_tree(&diff, repo, a, b, NULL) < 0)
        return -1;
    for (size_t i = 0; i < git_diff_num_deltas(diff); i++) {
        const git_diff_delta *d = git_diff_get_delta(diff, i);
        if (d->new_file.path && d->status != GIT_DELTA_DELETED)
            add(ctx, d->new_file.path);
        if (d->old_file.path && (d->status == GIT_DELTA_DELETED || d->status == GIT_DELTA_RENAMED))
            add(ctx, d->old_file.path);
    }
    git_diff_free(diff);
    return 0;
}

static void add_to_trigger(void *ctx, const char *path)
{
    add_changed(ctx, path);
}

static int collect_changes(struct sl_trigger *t, git_repository *repo, git_commit *commit)
{
    git_commit *parent = NULL;
    git_tree *a = NULL, *b = NULL;
    int rc = -1;
    if (git_commit_parentcount(commit) == 0)
        return 0; /* a first commit: like a new branch, changes are always true */
    if (git_commit_parent(&parent, commit, 0) < 0 || git_commit_tree(&a, parent) < 0 ||
        git_commit_tree(&b, commit) < 0)
        goto out;
    t->changes_known = true;
    rc = diff_paths(repo, a, b, add_to_trigger, t);
out:
    git_tree_free(a);
    git_tree_free(b);
    git_commit_free(parent);
    return rc;
}

struct path_list {
    char **paths;
    size_t n, cap;
};

static void add_to_list(void *ctx, const char *path)
{
    struct path_list *l = ctx;
    SL_GROW(l->paths, l->cap, l->n + 1);
    l->paths[l->n++] = sl_xstrdup(path);
}

/* BASE_REF as GitLab's compare_to takes it: a full ref, a branch, a tag or a SHA; locally
 * a branch known only as origin's is accepted too. */
static int peel_ref(git_repository *repo, const char *ref, git_commit **out)
{
    static const char *const prefixes[] = {"", "refs/heads/", "refs/tags/", "refs/remotes/origin/"};
    git_object *obj = NULL, *peeled = NULL;
    for (size_t i = 0; i < SL_ARRAY_LEN(prefixes) && !obj; i++) {
        char *spec = sl_xasprintf("%s%s", prefixes[i], ref);
        if (git_revparse_single(&obj, repo, spec) < 0)
            obj = NULL;
        free(spec);
    }
    if (!obj)
        return -1;
    int rc = git_object_peel(&peeled, obj, GIT_OBJECT_COMMIT);
    git_object_free(obj);
    if (rc < 0)
        return -1;
    *out = (git_commit *)peeled;
    return 0;
}

/* The files that differ between the merge base of BASE_REF and SHA, and SHA, in the git
 * repository holding PROJECT_DIR: the trigger's changed_since (rules:changes:compare_to).
 * SL_EINVAL when BASE_REF names nothing. */
static int git_changed_between(const char *project_dir, const char *base_ref, const char *sha,
                               char ***paths, size_t *npaths, struct sl_error *err)
{
    git_repository *repo = NULL;
    git_commit *base = NULL, *head = NULL, *mb = NULL;
    git_tree *a = NULL, *b = NULL;
    struct path_list list = {NULL, 0, 0};
    git_oid oid;
    int rc = SL_EINVAL;

    git_libgit2_init();
    if (git_repository_open_ext(&repo, project_dir, 0, NULL) < 0) {
        rc = sl_error_set(err, SL_EINVAL, "rules:changes:compare_to needs a git repository");
        goto out;
    }
    if (peel_ref(repo, base_ref, &base) < 0) {
        rc = sl_error_set(err, SL_EINVAL, "rules:changes:compare_to is not a valid ref");
        goto out;
    }
    if (peel_ref(repo, sha && *sha ? sha : "HEAD", &head) < 0) {
        rc = sl_error_set(err, SL_EINVAL, "rules:changes:compare_to: no commit to compare");
        goto out;
    }
    if (git_merge_base(&oid, repo, git_commit_id(base), git_commit_id(head)) < 0 ||
        git_commit_lookup(&mb, repo, &oid) < 0 || git_commit_tree(&a, mb) < 0 ||
        git_commit_tree(&b, head) < 0 || diff_paths(repo, a, b, add_to_list, &list) < 0) {
        rc = sl_error_set(err, SL_EINVAL, "rules:changes:compare_to: no common ancestor with %s",
                          base_ref);
        goto out;
    }
    *paths = list.paths;
    *npaths = list.n;
    list.paths = NULL;
    list.n = 0;
    rc = 0;
out:
    for (size_t i = 0; i < list.n; i++)
        free(list.paths[i]);
    free(list.paths);
    git_tree_free(a);
    git_tree_free(b);
    git_commit_free(mb);
    git_commit_free(head);
    git_commit_free(base);
    git_repository_free(repo);
    git_libgit2_shutdown();
    return rc;
}

/* Finds the commit the trigger's ref names: for a tag refs/tags/X (peeled) and nothing
 * else; for a branch refs/heads/X, refs/remotes/origin/X, else HEAD (a branch that exists
 * only on the server is planned as HEAD's commit). */
static int resolve_commit(git_repository *repo, struct sl_trigger *t, git_commit **out)
{
    git_object *obj = NULL;
    if (t->sha && *t->sha) {
        /* the caller's commit (a merge request's head or merge, on no branch of REPO): the
         * ref only names it */
        git_oid oid;
        if (git_oid_fromstr(&oid, t->sha) < 0 ||
            git_commit_lookup((git_commit **)&obj, repo, &oid) < 0)
            return -1;
        *out = (git_commit *)obj;
        return 0;
    }
    if (t->ref) {
        const char *forms[3];
        char *a = sl_xasprintf("refs/tags/%s", t->ref);
        char *b = sl_xasprintf("refs/heads/%s", t->ref);
        char *c = sl_xasprintf("refs/remotes/origin/%s", t->ref);
        forms[0] = t->tag ? a : b;
        forms[1] = t->tag ? b : c;
        forms[2] = t->tag ? c : a;
        for (int i = 0; i < (t->tag ? 1 : 3) && !obj; i++)
            if (git_revparse_single(&obj, repo, forms[i]) < 0)
                obj = NULL;
        free(a);
        free(b);
        free(c);
        if (!obj && t->tag)
            return -1;
        if (!obj) {
            free(t->warning);
            t->warning = sl_xasprintf("--ref %s names no branch or tag of this repository: "
                                      "planned as branch %s at HEAD",
                                      t->ref, t->ref);
        }
    }
    if (!obj && git_revparse_single(&obj, repo, "HEAD") < 0)
        return -1;
    git_object *peeled = NULL;
    int rc = git_object_peel(&peeled, obj, GIT_OBJECT_COMMIT);
    git_object_free(obj);
    if (rc < 0)
        return -1;
    *out = (git_commit *)peeled;
    return 0;
}

/* The message of tag NAME when it is annotated (CI_COMMIT_TAG_MESSAGE), else NULL. */
static char *annotated_tag_message(git_repository *repo, const char *name)
{
    git_reference *ref = NULL;
    git_tag *tag = NULL;
    char *out = NULL;
    char *full = sl_xasprintf("refs/tags/%s", name);
    if (git_reference_lookup(&ref, repo, full) == 0 && git_reference_target(ref) &&
        git_tag_lookup(&tag, repo, git_reference_target(ref)) == 0 && git_tag_message(tag))
        out = sl_xstrdup(git_tag_message(tag));
    git_tag_free(tag);
    git_reference_free(ref);
    free(full);
    return out;
}

static int git_changed_since(const struct sl_trigger *t, const char *ref, char ***paths,
                             size_t *npaths, struct sl_error *err)
{
    return git_changed_between(t->project_dir ? t->project_dir : ".", ref, t->sha, paths, npaths,
                               err);
}

int sl_trigger_from_git(struct sl_trigger *t, const char *project_dir, struct sl_error *err)
{
    return sl_trigger_from_repo(t, project_dir, NULL, err);
}

int sl_trigger_from_repo(struct sl_trigger *t, const char *project_dir, git_repository *given,
                         struct sl_error *err)
{
    git_repository *repo = given;
    git_commit *commit = NULL;
    git_reference *head = NULL;
    char *abs = t->project_dir_real ? sl_xstrdup(project_dir) : realpath(project_dir, NULL);
    char *defbranch = NULL, *remote_url = NULL, *user_name = NULL, *user_email = NULL;
    char *tag_message = NULL;
    struct sl_arena a = SL_ARENA_INIT;
    int rc = 0;

    git_libgit2_init();
    t->changed_since = git_changed_since;
    if (!abs) {
        rc = sl_error_set_errno(err, SL_ENOENT, "%s", project_dir);
        goto out;
    }
    free(t->project_dir);
    t->project_dir = sl_xstrdup(abs);
    if (!known_source(t->source)) {
        rc = sl_error_set(err, SL_EINVAL,
                          "unknown pipeline source '%s': GitLab's are api, chat, external, "
                          "external_pull_request_event, merge_request_event, "
                          "ondemand_dast_scan, ondemand_dast_validation, parent_pipeline, "
                          "pipeline, push, schedule, security_orchestration_policy, trigger, "
                          "web, webide",
                          t->source);
        goto out;
    }

    if (repo || git_repository_open_ext(&repo, abs, 0, NULL) == 0) {
        if (!t->ref) { /* HEAD is read only to name the ref */
            int hr = git_repository_head(&head, repo);
            if (hr == 0 && git_reference_is_branch(head))
                t->ref = sl_xstrdup(git_reference_shorthand(head));
            else if (hr == GIT_EUNBORNBRANCH) {
                git_reference *sym = NULL;
                if (git_reference_lookup(&sym, repo, "HEAD") == 0) {
                    const char *target = git_reference_symbolic_target(sym);
                    if (target && sl_starts_with(target, "refs/heads/"))
                        t->ref = sl_xstrdup(target + strlen("refs/heads/"));
                    git_reference_free(sym);
                }
            }
        }
        if (resolve_commit(repo, t, &commit) == 0) {
            char sha[GIT_OID_HEXSZ + 1];
            git_oid_tostr(sha, sizeof(sha), git_commit_id(commit));
            free(t->sha);
            t->sha = sl_xstrdup(sha);
            if (!t->ref && !ref_at_commit(repo, git_commit_id(commit), t)) {
                rc = sl_error_set(err, SL_EINVAL,
                                  "HEAD is detached at %.8s and no branch or tag points at it: "
                                  "say which ref this pipeline is for with --ref BRANCH or "
                                  "--tag TAG",
                                  sha);
                goto out;
            }
            if (git_commit_parentcount(commit) > 0) {
                git_oid_tostr(sha, sizeof(sha), git_commit_parent_id(commit, 0));
                free(t->before_sha);
                t->before_sha = sl_xstrdup(sha);
            }
            if (!t->changes_known && !strcmp(t->source, "push") && !t->tag)
                collect_changes(t, repo, commit);
            if (t->tag)
                tag_message = annotated_tag_message(repo, t->ref);
        } else if (t->ref && t->tag) {
            rc = sl_error_set(err, SL_EINVAL, "tag %s does not exist in %s", t->ref, abs);
            goto out;
        }
        /* one snapshot for the three keys: each read of the live config stats every
         * config file again (a server makes a pipeline's trigger here, bench/README.md) */
        git_config *cfg = NULL;
        if (git_repository_config_snapshot(&cfg, repo) < 0)
            cfg = NULL;
        defbranch = t->default_branch ? sl_xstrdup(t->default_branch) : default_branch(repo, cfg);
        /* no remote.origin.url (a server's mirror has no remote): no lookup, which takes a
         * config snapshot of its own */
        git_remote *remote = NULL;
        git_buf url = {0};
        bool has_origin = !cfg || git_config_get_string_buf(&url, cfg, "remote.origin.url") == 0;
        git_buf_dispose(&url);
        if (has_origin && git_remote_lookup(&remote, repo, "origin") == 0) {
            if (git_remote_url(remote))
                remote_url = sl_xstrdup(git_remote_url(remote));
            git_remote_free(remote);
        }
        config_string(cfg, "user.name", &user_name);
        config_string(cfg, "user.email", &user_email);
        git_config_free(cfg);
    }
    if (!t->ref)
        t->ref = sl_xstrdup(defbranch ? defbranch : "main");
    if (!defbranch)
        defbranch = sl_xstrdup(t->default_branch ? t->default_branch : "main");
    if (!t->sha)
        t->sha = sl_xstrdup("");
    if (!t->before_sha)
        t->before_sha = sl_xstrdup(ZERO_SHA);

    /* the predefined variables, VARIABLES.md order */
    char *tmp = sl_xstrdup(abs);
    const char *dirname_ = basename(tmp);
    char *path =
        remote_url ? project_path_from_url(remote_url) : sl_xasprintf("local/%s", dirname_);
    char *ns = sl_xstrdup(path);
    char *last = strrchr(ns, '/');
    const char *name = last ? last + 1 : ns;
    if (last)
        *last = '\0';
    char *root_ns = sl_xstrdup(last ? ns : "");
    if (strchr(root_ns, '/'))
        *strchr(root_ns, '/') = '\0';

    setv(t, "CI", "true");
    setv(t, "GITLAB_CI", "true");
    setv(t, "CI_SERVER", "yes");
    setv(t, "CI_SERVER_NAME", "sluice");
    setv(t, "CI_SERVER_VERSION", SL_VERSION);
    setv(t, "CI_COMMIT_SHA", t->sha);
    char shortsha[9];
    snprintf(shortsha, sizeof(shortsha), "%s", t->sha);
    setv(t, "CI_COMMIT_SHORT_SHA", shortsha);
    /* a tag push creates its ref: there is no previous tip, as for non-push sources */
    setv(t, "CI_COMMIT_BEFORE_SHA", strcmp(t->source, "push") || t->tag ? ZERO_SHA : t->before_sha);
    setv(t, "CI_COMMIT_REF_NAME", t->ref);
    setv(t, "CI_COMMIT_REF_SLUG", sl_plan_slugify(&a, t->ref));
    if (t->tag) {
        setv(t, "CI_COMMIT_TAG", t->ref);
        if (tag_message)
            setv(t, "CI_COMMIT_TAG_MESSAGE", tag_message);
    } else if (strcmp(t->source, "merge_request_event"))
        setv(t, "CI_COMMIT_BRANCH", t->ref);
    bool is_protected =
        t->ref_protected >= 0 ? t->ref_protected : !t->tag && !strcmp(t->ref, defbranch);
    setv(t, "CI_COMMIT_REF_PROTECTED", is_protected ? "true" : "false");
    if (commit) {
        const char *msg = git_commit_message(commit);
        setv(t, "CI_COMMIT_MESSAGE", msg);
        const char *nl = strchr(msg, '\n');
        char *title = nl ? sl_xstrndup(msg, (size_t)(nl - msg)) : sl_xstrdup(msg);
        setv(t, "CI_COMMIT_TITLE", title);
        const char *body = nl ? nl + 1 : "";
        while (*body == '\n')
            body++;
        setv(t, "CI_COMMIT_DESCRIPTION", strlen(title) < 100 ? body : "");
        free(title);
        const git_signature *au = git_commit_author(commit);
        char *author = sl_xasprintf("%s <%s>", au->name, au->email);
        setv(t, "CI_COMMIT_AUTHOR", author);
        free(author);
        char ts[40];
        sl_time_iso8601((int64_t)git_commit_time(commit) * 1000, ts, sizeof(ts));
        setv(t, "CI_COMMIT_TIMESTAMP", ts);
    }
    setv(t, "CI_DEFAULT_BRANCH", defbranch);
    setv(t, "CI_DEFAULT_BRANCH_SLUG", sl_plan_slugify(&a, defbranch));
    setv(t, "CI_PIPELINE_SOURCE", t->source);
    setv(t, "CI_CONFIG_PATH", t->config_path);
    setv(t, "CI_PROJECT_NAME", name);
    setv(t, "CI_PROJECT_TITLE", name);
    setv(t, "CI_PROJECT_PATH", path);
    setv(t, "CI_PROJECT_PATH_SLUG", sl_plan_slugify(&a, path));
    setv(t, "CI_PROJECT_NAMESPACE", ns);
    setv(t, "CI_PROJECT_NAMESPACE_SLUG", sl_plan_slugify(&a, ns));
    setv(t, "CI_PROJECT_ROOT_NAMESPACE", root_ns);
    setv(t, "CI_PROJECT_ID", "1");
    setv(t, "CI_PROJECT_VISIBILITY", "private");
    setv(t, "CI_REPOSITORY_URL", remote_url ? remote_url : abs);
    if (!t->server_url && remote_url)
        t->server_url = server_url_from_remote(remote_url);
    if (t->server_url)
        set_server_vars(t, t->server_url, path, root_ns);
    const char *login = getenv("USER");
    setv(t, "GITLAB_USER_LOGIN", login && *login ? login : "root");
    setv(t, "GITLAB_USER_NAME", user_name ? user_name : (login ? login : "root"));
    setv(t, "GITLAB_USER_EMAIL", user_email ? user_email : "");
    setv(t, "GITLAB_USER_ID", "1");
    free(tmp);
    free(path);
    free(ns);
    free(root_ns);
out:
    free(abs);
    free(defbranch);
    free(remote_url);
    free(user_name);
    free(user_email);
    free(tag_message);
    git_reference_free(head);
    git_commit_free(commit);
    if (repo != given)
        git_repository_free(repo);
    sl_arena_release(&a);
    git_libgit2_shutdown();
    return rc;
}

/* NAME=VALUE, joined without printf's machinery (a server does it for every predefined
 * variable of every pipeline) */
static char *name_eq_value(const char *name, const char *value)
{
    size_t n = strlen(name), m = strlen(value);
    char *s = sl_xmalloc(n + m + 2);
    memcpy(s, name, n);
    s[n] = '=';
    memcpy(s + n + 1, value, m + 1);
    return s;
}

char **sl_trigger_include_vars(const struct sl_trigger *t)
{
    size_t n = 0;
    char **v = sl_xcalloc(t->predefined.n + 1, sizeof(*v));
    for (size_t i = 0; i < t->predefined.n; i++) {
        const struct sl_var *x = &t->predefined.v[i];
        if (sl_starts_with(x->name, "CI_") || sl_starts_with(x->name, "GITLAB_"))
            v[n++] = name_eq_value(x->name, x->value);
    }
    /* then the stored variables and the pipeline's own ones (--var, trigger and API
     * variables), which GitLab passes to include and include:rules too */
    v = sl_xrealloc(v, (n + t->stored_vars.n + t->pipeline_vars.n + 1) * sizeof(*v));
    for (size_t i = 0; i < t->stored_vars.n; i++)
        v[n++] = name_eq_value(t->stored_vars.v[i].name, t->stored_vars.v[i].value);
    for (size_t i = 0; i < t->pipeline_vars.n; i++)
        v[n++] = name_eq_value(t->pipeline_vars.v[i].name, t->pipeline_vars.v[i].value);
    v[n] = NULL;
    return v;
}

/* The counter DIR/.sluice/NAME: *ID is its value plus one; when BUMP it is advanced by
 * STEP (atomically, under a lock), reserving the ids *ID .. *ID + STEP - 1. */
static int counter_next(const char *project_dir, const char *name, int64_t step, bool bump,
                        int64_t *id, struct sl_error *err)
{
    char *dir = sl_fs_join(project_dir, ".sluice");
    char *path = sl_fs_join(dir, name);
    int rc = 0, fd = -1;
    char buf[32] = {0};

    if (bump && (rc = sl_fs_mkdir_p(dir, 0755, err)) < 0)
        goto out;
    fd = open(path, (bump ? O_RDWR | O_CREAT : O_RDONLY) | O_CLOEXEC, 0644);
    if (fd < 0) {
        if (!bump && errno == ENOENT) {
            *id = 1;
            goto out;
        }
        rc = sl_error_set_errno(err, SL_EIO, "%s", path);
        goto out;
    }
    flock(fd, LOCK_EX); /* two `sluice run`s at once get different ids */
    ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
    int64_t last = n > 0 ? strtoll(buf, NULL, 10) : 0;
    if (last < 0)
        last = 0;
    *id = last + 1;
    if (bump) {
        int len = snprintf(buf, sizeof(buf), "%lld\n", (long long)(last + step));
        if (ftruncate(fd, 0) < 0 || pwrite(fd, buf, (size_t)len, 0) != len)
            rc = sl_error_set_errno(err, SL_EIO, "%s", path);
    }
out:
    if (fd >= 0)
        close(fd);
    free(dir);
    free(path);
    return rc;
}

int sl_plan_next_pipeline_id(const char *project_dir, bool bump, int64_t *id, struct sl_error *err)
{
    return counter_next(project_dir, "pipeline-counter", 1, bump, id, err);
}

int sl_plan_reserve_job_ids(const char *project_dir, int64_t n, int64_t *first,
                            struct sl_error *err)
{
    return counter_next(project_dir, "job-counter", n, true, first, err);
}
