/* include.c: `include` (lib/gitlab/ci/config/external/: mapper, file/, processor.rb).
 *
 * Each file's `include` is expanded into a list of locations (a string, a hash, or a list of
 * both; a string is `local`, or `remote` when it is an http(s) URL). `local` files are read
 * here through opts->read; `remote`, `project`, `template` and `component` are asked of the
 * caller's resolver (opts->fetch: the CLI's and the server's include resolvers, with their
 * cache, network and limits), so this room stays free of network code. `artifact` is only for
 * `trigger:include`. Every location may use the variables of opts->vars (`$X`, `${X}`;
 * unknown ones expand to nothing, as in GitLab). A local path is relative to the project
 * directory (leading slashes dropped; `..` segments and symlinks leading out of the project
 * are refused as files that do not exist), must end in .yml or .yaml, and may be a glob: `*`
 * matches within a path segment and `**` anything, as GitLab's search_files_by_wildcard_path
 * turns them into the regexps `[^/]*?` and `.*?`.
 *
 * Included files are expanded recursively, then merged: {} deep_merge file1 deep_merge file2
 * ... deep_merge the including file, so the including file wins. A file that came from
 * another project (include:project, include:component) is the context of its own
 * include:local entries, which are then read from that project at that commit, as GitLab's
 * context.mutate does; a remote or template file keeps its includer's context. At most
 * opts->max_includes distinct files; a file that includes itself through a chain is an
 * error; a file included twice with the same inputs (or none) is read once (GitLab
 * deduplicates them too). An included file's `spec:inputs` header is filled from the
 * entry's `inputs` (inputs.c).
 *
 * `include:rules`: `exists` is evaluated against the project's files; `if` and `changes`
 * need the pipeline's context and the expression room, so the caller decides them through
 * opts->include_rule (the plan room's sl_plan_include_rule); without it (sluice lint,
 * config) a rule with them counts as matching and a warning says so. */
#include "base/compat.h"
#include "config/resolve.h"
#include "base/alloc.h"
#include "base/glob.h"
#include "base/map.h"
#include "base/str.h"

#include <ctype.h>

struct file_memo {
    struct sl_node *expanded; /* NULL while being expanded (a cycle) or after a failure */
    bool busy;
    bool failed;
};

struct inc {
    struct sl_resolve *r;
    struct sl_map files; /* project-relative path -> struct file_memo (heap) */
    const char **chain;  /* the files being expanded, outermost first */
    size_t nchain, capchain;
    char **listing; /* the project's files, listed on first need; NULL-ended (heap) */
    size_t nlisting, caplisting;
    bool listed;
    bool stop; /* a limit was hit: no more files */
    /* the project and commit whose file is being expanded (include:project or component),
     * NULL for the pipeline's own project: where include:local entries are read */
    const char *ctx_project, *ctx_sha;
};

static int expand_file(struct inc *x, struct sl_node *doc, const char *display,
                       struct sl_node **out);

/* GitLab's include:local wildcard (search_files_by_wildcard_path): `**` → `.*?`, `*` →
 * "[^/]*?", everything else literal. This is not File.fnmatch (`ci/` + `**.yml` matches
 * `ci/a/b.yml` here), so sl_glob_match does not do. Dynamic programming over (pattern,
 * path) positions: a backtracking matcher went exponential on many stars (fuzz_config). */
static bool wildcard_match(const char *p, const char *s)
{
    size_t n = strlen(s);
    bool *cur = sl_xcalloc(n + 1, sizeof(*cur));
    bool *nxt = sl_xcalloc(n + 1, sizeof(*nxt));
    bool any = true;
    cur[0] = true;
    while (*p && any) {
        memset(nxt, 0, (n + 1) * sizeof(*nxt));
        if (p[0] == '*' && p[1] == '*') {
            bool seen = false;
            for (size_t j = 0; j <= n; j++) {
                seen = seen || cur[j];
                nxt[j] = seen;
            }
            p += 2;
        } else if (p[0] == '*') {
            for (size_t j = 0; j <= n; j++)
                nxt[j] = cur[j] || (j > 0 && nxt[j - 1] && s[j - 1] != '/');
            p++;
        } else {
            for (size_t j = 0; j < n; j++)
                if (cur[j] && s[j] == p[0])
                    nxt[j + 1] = true;
            p++;
        }
        bool *t = cur;
        cur = nxt;
        nxt = t;
        any = false;
        for (size_t j = 0; j <= n && !any; j++)
            any = cur[j];
    }
    bool ok = !*p && cur[n];
    free(cur);
    free(nxt);
    return ok;
}

static void collect(void *ctx, const char *path)
{
    struct inc *x = ctx;
    SL_GROW(x->listing, x->caplisting, x->nlisting + 1);
    x->listing[x->nlisting++] = sl_xstrdup(path);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int list_project(struct inc *x, struct sl_pos pos)
{
    if (x->listed)
        return 0;
    struct sl_error err = SL_ERROR_INIT;
    int rc = x->r->opts.list(x->r->opts.io_ctx, collect, x, &err);
    if (rc < 0) {
        sl_resolve_error(x->r, pos, "cannot list the project's files: %s",
                         err.message ? err.message : sl_strerror(rc));
        sl_error_release(&err);
        return rc;
    }
    if (x->nlisting)
        qsort(x->listing, x->nlisting, sizeof(*x->listing), cmp_str);
    x->listed = true;
    return 0;
}

/* $NAME and ${NAME} from opts->vars; unknown names expand to "". */
static char *expand_vars(struct inc *x, const char *s)
{
    struct sl_str out = SL_STR_INIT;
    const char *const *vars = x->r->opts.vars;
    while (*s) {
        if (*s != '$') {
            sl_str_addc(&out, *s++);
            continue;
        }
        const char *name = s + 1;
        size_t n = 0;
        bool brace = *name == '{';
        if (brace)
            name++;
        while (name[n] == '_' || (name[n] >= 'A' && name[n] <= 'Z') ||
               (name[n] >= 'a' && name[n] <= 'z') || (name[n] >= '0' && name[n] <= '9'))
            n++;
        if (n == 0 || (brace && name[n] != '}')) {
            sl_str_addc(&out, *s++);
            continue;
        }
        const char *value = NULL; /* the last one given wins (pipeline variables) */
        for (size_t i = 0; vars && vars[i]; i++)
            if (!strncmp(vars[i], name, n) && vars[i][n] == '=')
                value = vars[i] + n + 1;
        if (value)
            sl_str_adds(&out, value);
        s = name + n + (brace ? 1 : 0);
    }
    return sl_str_detach(&out);
}

static bool yaml_extension(const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t n = strlen(base);
    return (n > 4 && !strcasecmp(base + n - 4, ".yml")) ||
           (n > 5 && !strcasecmp(base + n - 5, ".yaml"));
}

/* True when REL has a `..` segment: such a path is refused whether or not it would climb
 * above the project (a repository's tree has no `..` entries to walk through). */
static bool leaves_project(const char *rel)
{
    for (const char *p = rel; *p;) {
        const char *e = strchr(p, '/');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n == 2 && p[0] == '.' && p[1] == '.')
            return true;
        p += n;
        while (*p == '/')
            p++;
    }
    return false;
}

static const char *display_name(struct inc *x, const char *rel)
{
    const char *dir = x->r->project_dir;
    if (!strcmp(dir, "."))
        return sl_arena_strdup(x->r->a, rel);
    size_t dl = strlen(dir);
    return sl_arena_printf(x->r->a, "%.*s/%s", (int)(dl > 1 && dir[dl - 1] == '/' ? dl - 1 : dl),
                           dir, rel);
}

static void add_file(struct sl_resolve *r, const char *name)
{
    struct sl_config *cfg = r->cfg;
    const char **files = sl_arena_alloc(r->a, (cfg->nfiles + 1) * sizeof(*files));
    memcpy(files, cfg->files, cfg->nfiles * sizeof(*files));
    files[cfg->nfiles++] = name;
    cfg->files = files;
}

/* Where an entry's file comes from: a file of the pipeline's project (REQ NULL, REL the
 * project-relative path) or what the resolver finds for REQ. */
struct source {
    const struct sl_config_include *req;
    const char *rel;
};

/* The name a file goes by in messages (the include chain) and the memo key's first part. */
static char *source_name(const struct source *src)
{
    const struct sl_config_include *q = src->req;
    if (!q)
        return sl_xstrdup(src->rel);
    if (!strcmp(q->kind, "project"))
        return sl_xasprintf("%s/%s%s%s", q->location, q->file, q->ref ? "@" : "",
                            q->ref ? q->ref : "");
    return sl_xstrdup(q->location);
}

/* GitLab's location checks (file/base.rb validate_location! and its subclasses), before
 * anything is read. False with the error reported when the location is refused. */
static bool location_valid(struct inc *x, const struct source *src, struct sl_pos pos)
{
    const struct sl_config_include *q = src->req;
    if (!q) {
        if (yaml_extension(src->rel))
            return true;
        sl_resolve_error(x->r, pos, "Included file `%s` does not have YAML extension!", src->rel);
        return false;
    }
    if (!strcmp(q->kind, "remote")) {
        const char *host = sl_starts_with(q->location, "https://")  ? q->location + 8
                           : sl_starts_with(q->location, "http://") ? q->location + 7
                                                                    : NULL;
        if (!host || !*host || *host == '/' || strchr(q->location, ' ')) {
            sl_resolve_error(x->r, pos, "Remote file `%s` does not have a valid address!",
                             q->location);
            return false;
        }
    } else if (!strcmp(q->kind, "template")) {
        if (!sl_ends_with(q->location, ".gitlab-ci.yml")) {
            sl_resolve_error(x->r, pos, "Template file `%s` is not a valid location!", q->location);
            return false;
        }
        return true;
    } else if (!strcmp(q->kind, "component")) {
        return true; /* the resolver knows components' paths */
    }
    const char *path = !strcmp(q->kind, "project") ? q->file : q->location;
    if (yaml_extension(path))
        return true;
    sl_resolve_error(x->r, pos, "Included file `%s` does not have YAML extension!", path);
    return false;
}

/* Reads SRC's text; 0 with *text set, or 1 when an error was reported (the entry is
 * skipped), or a negative code when loading must stop. */
static int source_read(struct inc *x, const struct source *src, struct sl_pos pos, char **text,
                       size_t *len, struct sl_config_fetched *got)
{
    struct sl_resolve *r = x->r;
    struct sl_error err = SL_ERROR_INIT;
    int rc;

    if (!src->req) {
        /* Outside the project is, as far as the project is concerned, nowhere: GitLab reads
         * include:local from the repository's tree, where `..` and a symlink's target name
         * no file, so it answers "does not exist" for both; so does sluice, before any read. */
        rc = leaves_project(src->rel) ? SL_ENOENT
                                      : r->opts.read(r->opts.io_ctx, src->rel, text, len, &err);
        if (rc == SL_ENOENT || rc == SL_EPERM)
            sl_resolve_error(r, pos, "Local file `%s` does not exist!", src->rel);
        else if (rc == SL_ELIMIT)
            sl_resolve_error(r, pos, "Local file `%s` is larger than the limit of %zu bytes",
                             src->rel, r->yaml.max_bytes);
        else if (rc < 0)
            sl_resolve_error(r, pos, "Local file `%s` cannot be read: %s", src->rel,
                             err.message ? err.message : sl_strerror(rc));
        sl_error_release(&err);
        return rc < 0 ? 1 : 0;
    }
    if (!r->opts.fetch) {
        sl_resolve_error(r, pos, "include:%s `%s` cannot be resolved: no include resolver here",
                         src->req->kind, src->req->location);
        return 1;
    }
    rc = r->opts.fetch(r->opts.fetch_ctx, src->req, got, &err);
    if (rc < 0) {
        sl_resolve_error(r, pos, "%s", err.message ? err.message : sl_strerror(rc));
        sl_error_release(&err);
        return 1;
    }
    *text = got->text;
    *len = got->len;
    got->text = NULL;
    return 0;
}

static void blank_error(struct inc *x, const struct source *src, struct sl_pos pos)
{
    const struct sl_config_include *q = src->req;
    if (!q)
        sl_resolve_error(x->r, pos, "Local file `%s` is empty!", src->rel);
    else if (!strcmp(q->kind, "project"))
        sl_resolve_error(x->r, pos, "Project `%s` file `%s` is empty!", q->location, q->file);
    else
        sl_resolve_error(x->r, pos, "Included file `%s` is empty or does not exist!", q->location);
}

/* Reads, parses and expands one file; *out is its expanded map (or NULL: skipped). */
static int include_file(struct inc *x, const struct source *src, const struct sl_node *args,
                        struct sl_pos pos, struct sl_node **out)
{
    struct sl_resolve *r = x->r;
    struct sl_config_fetched got = {0};
    char *name = source_name(src);
    /* a file is read once per set of inputs: the same template is often included several
     * times with different ones */
    struct sl_str k = SL_STR_INIT;
    sl_str_addf(&k, "%s\n%s", src->req ? src->req->kind : "local", name);
    if (args) {
        sl_str_adds(&k, "\n");
        sl_node_inspect(&k, args);
    }
    const char *key = sl_arena_strdup(r->a, k.buf);
    sl_str_release(&k);
    struct file_memo *m = sl_map_get(&x->files, key);
    const char *saved_project = x->ctx_project, *saved_sha = x->ctx_sha;
    char *text = NULL;
    size_t len = 0;
    int rc = 0;

    *out = NULL;
    if (!location_valid(x, src, pos))
        goto done;
    if (m && m->busy) {
        struct sl_str chain = SL_STR_INIT;
        for (size_t i = 0; i < x->nchain; i++)
            sl_str_addf(&chain, "%s → ", x->chain[i]);
        sl_str_adds(&chain, name);
        if (src->req)
            sl_resolve_error(r, pos, "Included file `%s` is included recursively (%s)", name,
                             chain.buf);
        else
            sl_resolve_error(r, pos, "Local file `%s` is included recursively (%s)", name,
                             chain.buf);
        sl_str_release(&chain);
        goto done;
    }
    if (m) {
        *out = m->expanded;
        goto done;
    }
    if (r->nincludes >= r->opts.max_includes) {
        sl_resolve_error(r, pos, "Maximum of %zu nested includes are allowed!",
                         r->opts.max_includes);
        x->stop = true;
        rc = SL_ELIMIT;
        goto done;
    }
    r->nincludes++;
    m = sl_xcalloc(1, sizeof(*m));
    sl_map_put(&x->files, key, m);

    if ((rc = source_read(x, src, pos, &text, &len, &got)) != 0) {
        rc = rc < 0 ? rc : 0;
        goto failed;
    }
    bool blank = true;
    for (size_t i = 0; i < len && blank; i++)
        blank = text[i] == ' ' || text[i] == '\t' || text[i] == '\n' || text[i] == '\r';
    if (blank) {
        blank_error(x, src, pos);
        goto failed;
    }
    const char *display = src->req ? sl_arena_strdup(r->a, name) : display_name(x, src->rel);
    add_file(r, display);
    struct sl_node *doc = NULL, *header = NULL;
    size_t before = r->diag->errors;
    rc = sl_yaml_parse(r->a, display, text, len, &r->yaml, &doc, &header, r->diag);
    if (rc < 0) {
        r->errors += r->diag->errors - before;
        rc = rc == SL_ELIMIT ? rc : 0;
        goto failed;
    }
    if (!doc || doc->kind != SL_NODE_MAP) {
        sl_resolve_error(r, pos, "Included file `%s` does not have valid YAML syntax!",
                         src->req && !strcmp(src->req->kind, "project") ? src->req->file
                         : src->req                                     ? src->req->location
                                                                        : src->rel);
        goto failed;
    }
    if (header || args) {
        size_t errors = r->errors;
        sl_config_interpolate_inputs(r, &doc, header, args, pos);
        if (r->errors > errors)
            goto failed;
    }

    if (got.project) {
        x->ctx_project = sl_arena_strdup(r->a, got.project);
        x->ctx_sha = got.sha ? sl_arena_strdup(r->a, got.sha) : NULL;
    }
    SL_GROW(x->chain, x->capchain, x->nchain + 1);
    x->chain[x->nchain++] = sl_arena_strdup(r->a, name);
    m->busy = true;
    rc = expand_file(x, doc, display, &m->expanded);
    m->busy = false;
    x->nchain--;
    x->ctx_project = saved_project;
    x->ctx_sha = saved_sha;
    if (rc < 0 || !m->expanded)
        goto failed;
    *out = m->expanded;
    goto done;
failed:
    m->failed = true;
    m->expanded = NULL;
done:
    free(text);
    free(got.text);
    free(got.project);
    free(got.sha);
    free(name);
    return rc;
}

/* An include:local path REL read from where the current file's context says: the
 * pipeline's project, or the project an include:project or component file came from. */
static int include_local(struct inc *x, const char *rel, const struct sl_node *args,
                         struct sl_pos pos, struct sl_node **out)
{
    struct sl_config_include q = {
        .kind = "project", .location = x->ctx_project, .ref = x->ctx_sha, .file = rel};
    struct source src = {.req = x->ctx_project ? &q : NULL, .rel = rel};
    return include_file(x, &src, args, pos, out);
}

static const char *const kinds[] = {"local",    "project",   "remote",
                                    "template", "component", "artifact"};

static bool exists_matches(struct inc *x, const struct sl_node *exists, struct sl_pos pos)
{
    const struct sl_node *paths = exists;
    if (exists->kind == SL_NODE_MAP)
        paths = sl_node_get(exists, "paths");
    if (!paths)
        return false;
    if (list_project(x, pos) < 0)
        return false;
    size_t n = paths->kind == SL_NODE_SEQ ? paths->n : 1;
    for (size_t i = 0; i < n; i++) {
        const struct sl_node *p = paths->kind == SL_NODE_SEQ ? paths->items[i] : paths;
        if (!sl_node_is_scalar(p))
            continue;
        char *pat = expand_vars(x, p->str);
        for (size_t k = 0; k < x->nlisting; k++) {
            if (sl_glob_match(pat, x->listing[k])) {
                free(pat);
                return true;
            }
        }
        free(pat);
    }
    return false;
}

/* include:rules: first matching rule decides; no rule matching means not included. */
static bool rules_include(struct inc *x, const struct sl_node *rules, struct sl_pos pos)
{
    if (!rules || rules->kind != SL_NODE_SEQ)
        return true; /* shape errors are the validator's */
    for (size_t i = 0; i < rules->n; i++) {
        const struct sl_node *rule = rules->items[i];
        if (rule->kind != SL_NODE_MAP)
            continue;
        bool match = true;
        const struct sl_node *exists = sl_node_get(rule, "exists");
        if (exists && !exists_matches(x, exists, pos))
            match = false;
        const struct sl_config_opts *o = &x->r->opts;
        if (match && (sl_node_get(rule, "if") || sl_node_get(rule, "changes"))) {
            if (o->include_rule)
                match = o->include_rule(o->include_rule_ctx, rule, o->vars);
            else
                sl_resolve_warning(x->r, rule->pos,
                                   "include:rules with `if` or `changes` are not evaluated "
                                   "here (no pipeline): the file is included");
        }
        if (!match)
            continue;
        const struct sl_node *when = sl_node_get(rule, "when");
        return !(when && sl_node_is_scalar(when) && !strcmp(when->str, "never"));
    }
    return false;
}

static void location_json(struct sl_str *s, const struct sl_node *n)
{
    if (n->kind == SL_NODE_MAP) {
        sl_str_adds(s, "{");
        for (size_t i = 0; i < n->n; i++) {
            sl_str_addf(s, "%s\"", i ? "," : "");
            sl_str_add_json_escaped(s, n->pairs[i].key);
            sl_str_adds(s, "\":");
            location_json(s, n->pairs[i].value);
        }
        sl_str_adds(s, "}");
    } else if (n->kind == SL_NODE_SEQ) {
        sl_str_adds(s, "[");
        for (size_t i = 0; i < n->n; i++) {
            if (i)
                sl_str_adds(s, ",");
            location_json(s, n->items[i]);
        }
        sl_str_adds(s, "]");
    } else if (n->kind == SL_NODE_STR) {
        sl_str_adds(s, "\"");
        sl_str_add_json_escaped(s, n->str);
        sl_str_adds(s, "\"");
    } else {
        sl_str_adds(s, n->kind == SL_NODE_NULL ? "null" : n->str);
    }
}

static void push_file(struct sl_node *f, struct sl_node ***files, size_t *nfiles, size_t *capfiles)
{
    if (!f)
        return;
    SL_GROW(*files, *capfiles, *nfiles + 1);
    (*files)[(*nfiles)++] = f;
}

/* True when V is a location GitLab takes (a string; numbers and booleans are written as
 * strings); otherwise reports "needs to be a string". */
static bool location_string(struct inc *x, const struct sl_node *v, struct sl_pos at)
{
    if (v && sl_node_is_scalar(v) && v->kind != SL_NODE_NULL)
        return true;
    struct sl_str js = SL_STR_INIT;
    if (v)
        location_json(&js, v);
    else
        sl_str_adds(&js, "null");
    sl_resolve_error(x->r, v ? v->pos : at, "Included file `%s` needs to be a string", js.buf);
    sl_str_release(&js);
    return false;
}

/* include:project: one file or a list of them, from PROJECT at REF. */
static int include_project(struct inc *x, const struct sl_node *loc, const struct sl_node *args,
                           struct sl_node ***files, size_t *nfiles, size_t *capfiles)
{
    const struct sl_node *project = sl_node_get(loc, "project");
    const struct sl_node *ref = sl_node_get(loc, "ref");
    const struct sl_node *file = sl_node_get(loc, "file");
    int rc = 0;

    if (!location_string(x, project, loc->pos) || (ref && !location_string(x, ref, loc->pos)))
        return 0;
    if (!file) {
        sl_resolve_error(x->r, loc->pos, "Included file `null` needs to be a string");
        return 0;
    }
    char *pname = expand_vars(x, project->str);
    for (char *c = pname; *c; c++)
        *c = (char)tolower((unsigned char)*c); /* GitLab downcases the project's path */
    char *pref = ref ? expand_vars(x, ref->str) : NULL;
    size_t n = file->kind == SL_NODE_SEQ ? file->n : 1;
    for (size_t i = 0; i < n && rc == 0 && !x->stop; i++) {
        const struct sl_node *f = file->kind == SL_NODE_SEQ ? file->items[i] : file;
        if (!location_string(x, f, loc->pos))
            continue;
        char *path = expand_vars(x, f->str);
        const char *rel = path;
        while (*rel == '/')
            rel++;
        struct sl_config_include q = {
            .kind = "project", .location = pname, .ref = pref && *pref ? pref : NULL, .file = rel};
        struct source src = {.req = &q};
        struct sl_node *out = NULL;
        rc = include_file(x, &src, args, f->pos, &out);
        push_file(out, files, nfiles, capfiles);
        free(path);
    }
    free(pref);
    free(pname);
    return rc;
}

/* One entry of an `include` list: appends the expanded maps of its files to FILES. */
static int include_one(struct inc *x, const struct sl_node *loc, struct sl_node ***files,
                       size_t *nfiles, size_t *capfiles)
{
    struct sl_resolve *r = x->r;
    const struct sl_node *value = NULL, *args = NULL;
    const char *kind = NULL;
    int rc = 0;

    if (loc->kind == SL_NODE_STR || (sl_node_is_scalar(loc) && loc->kind != SL_NODE_NULL)) {
        value = loc;
        kind = sl_starts_with(loc->str, "http://") || sl_starts_with(loc->str, "https://")
                   ? "remote"
                   : "local";
    } else if (loc->kind == SL_NODE_MAP) {
        size_t found = 0;
        for (size_t i = 0; i < SL_ARRAY_LEN(kinds); i++) {
            if (sl_node_get_pair(loc, kinds[i])) {
                found++;
                kind = kinds[i];
            }
        }
        if (found != 1) {
            struct sl_str js = SL_STR_INIT;
            location_json(&js, loc);
            if (found == 0)
                sl_resolve_error(r, loc->pos,
                                 "`%s` does not have a valid subkey for include. Valid subkeys "
                                 "are: `local`, `project`, `remote`, `template`, `component`, "
                                 "`artifact`",
                                 js.buf);
            else
                sl_resolve_error(r, loc->pos,
                                 "Each include must use only one of: `local`, `project`, "
                                 "`remote`, `template`, `component`, `artifact`");
            sl_str_release(&js);
            return 0;
        }
        if (!rules_include(x, sl_node_get(loc, "rules"), loc->pos))
            return 0;
        args = sl_node_get(loc, "inputs");
        value = sl_node_get(loc, kind);
    } else {
        sl_resolve_error(r, loc->pos,
                         "include config should be a string, a hash or an array of "
                         "strings and hashes");
        return 0;
    }
    if (!strcmp(kind, "artifact")) {
        /* file/artifact.rb: an artifact exists only for a child pipeline's trigger */
        sl_resolve_error(r, loc->pos,
                         "Including configs from artifacts is only allowed when triggering "
                         "child pipelines");
        return 0;
    }
    if (!strcmp(kind, "project"))
        return include_project(x, loc, args, files, nfiles, capfiles);
    if (!location_string(x, value, loc->pos))
        return 0;

    char *path = expand_vars(x, value->str);
    if (strcmp(kind, "local")) {
        struct sl_config_include q = {.kind = kind, .location = path};
        struct source src = {.req = &q};
        struct sl_node *f = NULL;
        rc = include_file(x, &src, args, value->pos, &f);
        push_file(f, files, nfiles, capfiles);
        goto out;
    }
    const char *rel = path;
    while (*rel == '/')
        rel++;
    if (strchr(rel, '*')) {
        if (x->ctx_project) {
            sl_resolve_error(r, value->pos,
                             "include:local `%s`: wildcards are not supported in a file "
                             "included from another project (%s)",
                             rel, x->ctx_project);
            goto out;
        }
        if ((rc = list_project(x, value->pos)) < 0)
            goto out;
        for (size_t k = 0; k < x->nlisting && rc == 0 && !x->stop; k++) {
            if (!wildcard_match(rel, x->listing[k]))
                continue;
            struct sl_node *f = NULL;
            rc = include_local(x, x->listing[k], args, value->pos, &f);
            push_file(f, files, nfiles, capfiles);
        }
    } else {
        struct sl_node *f = NULL;
        rc = include_local(x, rel, args, value->pos, &f);
        push_file(f, files, nfiles, capfiles);
    }
out:
    free(path);
    return rc;
}

/* DOC with its `include` expanded and merged under it, `include` removed. */
static int expand_file(struct inc *x, struct sl_node *doc, const char *display,
                       struct sl_node **out)
{
    struct sl_resolve *r = x->r;
    const struct sl_node *inc = sl_node_get(doc, "include");
    struct sl_node **files = NULL;
    size_t nfiles = 0, capfiles = 0;
    int rc = 0;

    (void)display;
    if (!sl_node_get_pair(doc, "include")) {
        *out = doc;
        return 0;
    }
    if (inc->kind == SL_NODE_SEQ) {
        for (size_t i = 0; i < inc->n && rc == 0 && !x->stop; i++)
            rc = include_one(x, inc->items[i], &files, &nfiles, &capfiles);
    } else if (inc->kind != SL_NODE_NULL) {
        rc = include_one(x, inc, &files, &nfiles, &capfiles);
    }
    if (rc == 0) {
        struct sl_node *merged = NULL;
        for (size_t i = 0; i < nfiles; i++)
            merged = merged ? sl_config_deep_merge(r->a, merged, files[i]) : files[i];
        struct sl_node *self = sl_config_map_without(r->a, doc, "include");
        merged = merged ? sl_config_deep_merge(r->a, merged, self) : self;
        /* an included file's own `include` was removed above; drop any the merge kept */
        *out = sl_config_map_without(r->a, merged, "include");
    }
    free(files);
    return rc;
}

int sl_config_resolve_includes(struct sl_resolve *r, struct sl_node **root)
{
    struct inc x = {0};
    struct sl_node *out = NULL;
    int rc;

    /* shape-only: `include` stays in the root, where the validator checks its shape;
     * no file is read */
    if (!sl_node_get_pair(*root, "include") || r->opts.shape_only)
        return 0;
    x.r = r;
    rc = expand_file(&x, *root, r->cfg->path, &out);
    if (rc == 0 && out)
        *root = out;
    size_t it = 0;
    void *v;
    while (sl_map_next(&x.files, &it, NULL, &v))
        free(v);
    sl_map_release(&x.files);
    free(x.chain);
    for (size_t i = 0; i < x.nlisting; i++)
        free(x.listing[i]);
    free(x.listing);
    return rc;
}
