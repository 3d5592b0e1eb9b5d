/* include_git.c: include:project and include:component from git (include_git.h). */
#include "base/compat.h"
#include "base/include_git.h"
#include "base/alloc.h"
#include "base/fs.h"

#include <ctype.h>

void sl_include_project_release(struct sl_include_project *s)
{
    git_repository_free(s->repo);
    free(s->dir);
    free(s->origin);
    memset(s, 0, sizeof(*s));
}

/* REF (NULL: HEAD) as a commit: a branch, then a tag, then anything git names. */
static int resolve_ref(git_repository *repo, const char *ref, git_oid *out)
{
    git_object *o = NULL;
    int rc = -1;
    if (!ref) {
        rc = git_revparse_single(&o, repo, "HEAD^{commit}");
    } else {
        /* a branch, then a tag, then anything git names */
        for (int i = 0; i < 3 && rc < 0; i++) {
            char *spec = i == 0   ? sl_xasprintf("refs/heads/%s^{commit}", ref)
                         : i == 1 ? sl_xasprintf("refs/tags/%s^{commit}", ref)
                                  : sl_xasprintf("%s^{commit}", ref);
            rc = git_revparse_single(&o, repo, spec);
            free(spec);
        }
    }
    if (rc == 0)
        git_oid_cpy(out, git_object_id(o));
    git_object_free(o);
    return rc;
}

/* FILE of commit OID: 0, SL_ENOENT (no such file), SL_ELIMIT. */
static int read_blob(git_repository *repo, const git_oid *oid, const char *file, char **text,
                     size_t *len)
{
    git_commit *c = NULL;
    git_tree *t = NULL;
    git_tree_entry *e = NULL;
    git_blob *b = NULL;
    int rc = SL_ENOENT;
    if (git_commit_lookup(&c, repo, oid) < 0 || git_commit_tree(&t, c) < 0 ||
        git_tree_entry_bypath(&e, t, file) < 0 || git_tree_entry_type(e) != GIT_OBJECT_BLOB ||
        git_blob_lookup(&b, repo, git_tree_entry_id(e)) < 0)
        goto out;
    git_object_size_t size = git_blob_rawsize(b);
    if (size > SL_INCLUDE_GIT_MAX_BYTES) {
        rc = SL_ELIMIT;
        goto out;
    }
    *len = (size_t)size;
    *text = sl_xmalloc(*len + 1);
    memcpy(*text, git_blob_rawcontent(b), *len);
    (*text)[*len] = '\0';
    rc = 0;
out:
    git_blob_free(b);
    git_tree_entry_free(e);
    git_tree_free(t);
    git_commit_free(c);
    return rc;
}

/* FILE of project source S at REF; *sha set (caller frees, NULL for a plain directory).
 * Errors as include:project's. */
static int project_read(const char *project, struct sl_include_project *s, const char *ref,
                        const char *file, char **text, size_t *len, char **sha,
                        struct sl_error *err)
{
    int rc;
    *sha = NULL;
    if (s->dir) {
        if (ref && strcmp(ref, "HEAD"))
            return sl_error_set(err, SL_ENOENT,
                                "Project `%s` reference `%s` does not exist! (%s is a plain "
                                "directory: it has no refs)",
                                project, ref, s->dir);
        rc = sl_fs_read_within(s->dir, file, SL_INCLUDE_GIT_MAX_BYTES, text, len, NULL);
    } else {
        git_oid oid;
        if (resolve_ref(s->repo, ref, &oid) < 0)
            return sl_error_set(err, SL_ENOENT, "Project `%s` reference `%s` does not exist!",
                                project, ref ? ref : "HEAD");
        char hex[GIT_OID_HEXSZ + 1];
        git_oid_tostr(hex, sizeof(hex), &oid);
        rc = read_blob(s->repo, &oid, file, text, len);
        if (rc == 0)
            *sha = sl_xstrdup(hex);
    }
    if (rc == SL_ELIMIT)
        return sl_error_set(err, rc, "Project `%s` file `%s` is larger than %u bytes", project,
                            file, SL_INCLUDE_GIT_MAX_BYTES);
    if (rc < 0)
        return sl_error_set(err, SL_ENOENT, "Project `%s` file `%s` does not exist!", project,
                            file);
    return 0;
}

int sl_include_git_project(const struct sl_include_git *g, const char *project, const char *ref,
                           const char *file, char **text, size_t *len, char **sha,
                           struct sl_error *err)
{
    struct sl_include_project s = {0};
    int rc = g->open(g->ctx, project, &s, err);
    if (rc == SL_ENOENT && !err->message)
        return sl_error_set(err, rc,
                            "Project `%s` not found or access denied! Make sure any includes in "
                            "the pipeline configuration are correctly defined.%s%s%s",
                            project, g->hint ? " (" : "", g->hint ? g->hint : "",
                            g->hint ? ")" : "");
    if (rc < 0)
        return rc;
    rc = project_read(project, &s, ref, file, text, len, sha, err);
    sl_include_project_release(&s);
    return rc;
}

/* "v1.2.3" or "1.2.3" as three numbers; false for anything else. */
static bool semver(const char *s, long v[3])
{
    char *end;
    if (*s == 'v')
        s++;
    for (int i = 0; i < 3; i++) {
        if (*s < '0' || *s > '9')
            return false;
        v[i] = strtol(s, &end, 10);
        s = end;
        if (i < 2 && *s++ != '.')
            return false;
    }
    return *s == '\0';
}

/* The highest semantic-version tag, or with WANT ("1" or "1.2") the highest of that major
 * (and minor): GitLab takes the catalog's released versions; locally the tags are those. */
static char *latest_tag(git_repository *repo, const char *want)
{
    git_strarray tags = {0};
    long best[3] = {-1, -1, -1}, w[2] = {-1, -1};
    char *found = NULL;
    if (want) {
        char *end;
        w[0] = strtol(want, &end, 10);
        if (*end == '.')
            w[1] = strtol(end + 1, NULL, 10);
    }
    if (git_tag_list(&tags, repo) < 0)
        return NULL;
    for (size_t i = 0; i < tags.count; i++) {
        long v[3];
        if (!semver(tags.strings[i], v) || (w[0] >= 0 && v[0] != w[0]) ||
            (w[1] >= 0 && v[1] != w[1]))
            continue;
        if (v[0] > best[0] ||
            (v[0] == best[0] && (v[1] > best[1] || (v[1] == best[1] && v[2] > best[2])))) {
            memcpy(best, v, sizeof(best));
            free(found);
            found = sl_xstrdup(tags.strings[i]);
        }
    }
    git_strarray_dispose(&tags);
    return found;
}

static bool partial_semver(const char *v)
{
    const char *p = v;
    while (*p >= '0' && *p <= '9')
        p++;
    if (p == v)
        return false;
    if (*p == '.') {
        const char *q = ++p;
        while (*p >= '0' && *p <= '9')
            p++;
        if (p == q)
            return false;
    }
    return *p == '\0';
}

int sl_include_git_component(const struct sl_include_git *g, const char *addr, char **text,
                             size_t *len, char **project_out, char **sha, struct sl_error *err)
{
    const char *fqdn = g->fqdn;
    const char *at = strchr(addr, '@');
    size_t fl = fqdn ? strlen(fqdn) : 0;
    struct sl_include_project s = {0};
    char *path = NULL, *project = NULL, *version = NULL;
    int rc = 0;

    if (!at || !fqdn || !*fqdn || strncmp(addr, fqdn, fl) || addr[fl] != '/')
        return sl_error_set(err, SL_EUNSUPPORTED,
                            "Component '%s' - the component path is not supported%s%s%s", addr,
                            fqdn ? " (this server is " : " (CI_SERVER_FQDN is unknown: no origin",
                            fqdn ? fqdn : "", fqdn ? ")" : " remote)");
    path = sl_xstrndup(addr + fl + 1, (size_t)(at - addr - (ptrdiff_t)fl - 1));
    version = sl_xstrdup(at + 1);
    char *slash = strrchr(path, '/');
    if (!slash || slash == path || !slash[1] || path[0] == '/') {
        rc = sl_error_set(err, SL_ENOENT, "Component '%s' - content not found", addr);
        goto out;
    }
    project = sl_xstrndup(path, (size_t)(slash - path));
    for (char *c = project; *c; c++)
        *c = (char)tolower((unsigned char)*c);
    const char *name = slash + 1;
    rc = g->open(g->ctx, project, &s, err);
    if (rc == SL_ENOENT && !err->message) {
        rc = sl_error_set(err, rc,
                          "Component '%s' - project does not exist or you don't have "
                          "sufficient permissions%s%s%s",
                          addr, g->hint ? " (" : "", g->hint ? g->hint : "", g->hint ? ")" : "");
        goto out;
    }
    if (rc < 0)
        goto out;
    if (!s.repo) {
        rc = sl_error_set(err, SL_ENOENT,
                          "Component '%s' - content not found (%s is not a git repository: "
                          "components are read at a version)",
                          addr, s.origin);
        goto out;
    }
    char *ref = NULL;
    if (!strcmp(version, "~latest") || partial_semver(version)) {
        ref = latest_tag(s.repo, strcmp(version, "~latest") ? version : NULL);
        if (!ref && !partial_semver(version)) {
            rc = sl_error_set(err, SL_ENOENT,
                              "Component '%s' - The ~latest version reference is not supported "
                              "for non-catalog resources. Use a tag, branch, or commit SHA "
                              "instead.",
                              addr);
            goto out;
        }
    }
    const char *use = ref ? ref : version;
    git_oid oid;
    char *file1 = sl_xasprintf("templates/%s.yml", name);
    char *file2 = sl_xasprintf("templates/%s/template.yml", name);
    rc = SL_ENOENT;
    if (resolve_ref(s.repo, use, &oid) == 0) {
        rc = read_blob(s.repo, &oid, file1, text, len);
        if (rc == SL_ENOENT)
            rc = read_blob(s.repo, &oid, file2, text, len);
    }
    free(file1);
    free(file2);
    free(ref);
    if (rc == SL_ELIMIT) {
        rc = sl_error_set(err, rc, "Component '%s' - it is larger than %u bytes", addr,
                          SL_INCLUDE_GIT_MAX_BYTES);
    } else if (rc < 0) {
        rc = sl_error_set(err, rc, "Component '%s' - content not found", addr);
    } else {
        char hex[GIT_OID_HEXSZ + 1];
        git_oid_tostr(hex, sizeof(hex), &oid);
        *sha = sl_xstrdup(hex);
        *project_out = project;
        project = NULL;
    }
out:
    sl_include_project_release(&s);
    free(project);
    free(path);
    free(version);
    return rc;
}
