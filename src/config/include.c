/* include.c: `include` (lib/gitlab/ci/config/external/: mapper, file/local.rb, processor.rb).
 *
 * Each file's `include` is expanded into a list of locations (a string, a hash, or a list of
 * both; a string is `local`, or `remote` when it is an http(s) URL). Only `local` is
 * supported: sluice runs offline, so `remote`, `project`, `template`, `component` and
 * `artifact` are each rejected with one error. A local path may use the variables of
 * opts->vars (`$X`, `${X}`; unknown ones expand to nothing, as in GitLab), is relative to
 * the project directory (leading slashes dropped; `..` segments and symlinks leading out of
 * the project are refused as files that do not exist), must end in .yml or .yaml, and may be a
 * glob: `*` matches within a path segment and `**` anything, as GitLab's
 * search_files_by_wildcard_path turns them into the regexps `[^/]*?` and `.*?`.
 *
 * Included files are expanded recursively (their own local includes are also relative to
 * the project), then merged: {} deep_merge file1 deep_merge file2 ... deep_merge the
 * including file, so the including file wins. At most opts->max_includes distinct files;
 * a file that includes itself through a chain is an error; a file included twice with the
 * same inputs (or none) is read once (GitLab deduplicates them too). An included file's
 * `spec:inputs` header is filled from the entry's `inputs` (inputs.c).
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

/* Reads, parses and expands one local file; *out is its expanded map (or NULL: skipped). */
static int include_local(struct inc *x, const char *rel, const struct sl_node *args,
                         struct sl_pos pos, struct sl_node **out)
{
    struct sl_resolve *r = x->r;
    /* a file is read once per set of inputs: the same template is often included several
     * times with different ones */
    const char *key = rel;
    if (args) {
        struct sl_str k = SL_STR_INIT;
        sl_str_addf(&k, "%s\n", rel);
        sl_node_inspect(&k, args);
        key = sl_arena_strdup(r->a, k.buf);
        sl_str_release(&k);
    }
    struct file_memo *m = sl_map_get(&x->files, key);
    struct sl_error err = SL_ERROR_INIT;
    char *text = NULL;
    size_t len = 0;
    int rc = 0;

    *out = NULL;
    if (!yaml_extension(rel)) {
        sl_resolve_error(r, pos, "Included file `%s` does not have YAML extension!", rel);
        return 0;
    }
    if (m && m->busy) {
        struct sl_str chain = SL_STR_INIT;
        for (size_t i = 0; i < x->nchain; i++)
            sl_str_addf(&chain, "%s → ", x->chain[i]);
        sl_str_adds(&chain, rel);
        sl_resolve_error(r, pos, "Local file `%s` is included recursively (%s)", rel, chain.buf);
        sl_str_release(&chain);
        return 0;
    }
    if (m) {
        *out = m->expanded;
        return 0;
    }
    if (r->nincludes >= r->opts.max_includes) {
        sl_resolve_error(r, pos, "Maximum of %zu nested includes are allowed!",
                         r->opts.max_includes);
        x->stop = true;
        return SL_ELIMIT;
    }
    r->nincludes++;
    m = sl_xcalloc(1, sizeof(*m));
    sl_map_put(&x->files, key, m);

    /* Outside the project is, as far as the project is concerned, nowhere: GitLab reads
     * include:local from the repository's tree, where `..` and a symlink's target name no
     * file, so it answers "does not exist" for both; so does sluice, before any read. */
    rc = leaves_project(rel) ? SL_ENOENT : r->opts.read(r->opts.io_ctx, rel, &text, &len, &err);
    if (rc == SL_ENOENT || rc == SL_EPERM) {
        sl_resolve_error(r, pos, "Local file `%s` does not exist!", rel);
        rc = 0;
        goto failed;
    }
    if (rc == SL_ELIMIT) {
        sl_resolve_error(r, pos, "Local file `%s` is larger than the limit of %zu bytes", rel,
                         r->yaml.max_bytes);
        rc = 0;
        goto failed;
    }
    if (rc < 0) {
        sl_resolve_error(r, pos, "Local file `%s` cannot be read: %s", rel,
                         err.message ? err.message : sl_strerror(rc));
        rc = 0;
        goto failed;
    }
    bool blank = true;
    for (size_t i = 0; i < len && blank; i++)
        blank = text[i] == ' ' || text[i] == '\t' || text[i] == '\n' || text[i] == '\r';
    if (blank) {
        sl_resolve_error(r, pos, "Local file `%s` is empty!", rel);
        goto failed;
    }
    const char *display = display_name(x, rel);
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
        sl_resolve_error(r, pos, "Included file `%s` does not have valid YAML syntax!", rel);
        goto failed;
    }
    if (header || args) {
        size_t errors = r->errors;
        sl_config_interpolate_inputs(r, &doc, header, args, pos);
        if (r->errors > errors)
            goto failed;
    }

    SL_GROW(x->chain, x->capchain, x->nchain + 1);
    x->chain[x->nchain++] = sl_arena_strdup(r->a, rel);
    m->busy = true;
    rc = expand_file(x, doc, display, &m->expanded);
    m->busy = false;
    x->nchain--;
    if (rc < 0 || !m->expanded)
        goto failed;
    *out = m->expanded;
    free(text);
    return 0;
failed:
    m->failed = true;
    m->expanded = NULL;
    free(text);
    sl_error_release(&err);
    return rc;
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

/* One entry of an `include` list: appends the expanded maps of its files to FILES. */
static int include_one(struct inc *x, const struct sl_node *loc, struct sl_node ***files,
                       size_t *nfiles, size_t *capfiles)
{
    struct sl_resolve *r = x->r;
    const struct sl_node *local = NULL, *args = NULL;
    const char *kind = NULL;
    int rc = 0;

    if (loc->kind == SL_NODE_STR || (sl_node_is_scalar(loc) && loc->kind != SL_NODE_NULL)) {
        if (sl_starts_with(loc->str, "http://") || sl_starts_with(loc->str, "https://"))
            kind = "remote";
        else
            local = loc;
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
        if (!strcmp(kind, "local")) {
            local = sl_node_get(loc, "local");
            args = sl_node_get(loc, "inputs");
            kind = NULL;
        }
    } else {
        sl_resolve_error(r, loc->pos,
                         "include config should be a string, a hash or an array of "
                         "strings and hashes");
        return 0;
    }
    if (kind) {
        sl_resolve_error(r, loc->pos,
                         "include:%s is not supported: sluice runs offline; vendor the file and "
                         "use include:local",
                         kind);
        return 0;
    }
    if (!sl_node_is_str(local) && !(sl_node_is_scalar(local) && local->kind != SL_NODE_NULL)) {
        struct sl_str js = SL_STR_INIT;
        location_json(&js, local);
        sl_resolve_error(r, local->pos, "Included file `%s` needs to be a string", js.buf);
        sl_str_release(&js);
        return 0;
    }

    char *path = expand_vars(x, local->str);
    const char *rel = path;
    while (*rel == '/')
        rel++;
    if (strchr(rel, '*')) {
        if ((rc = list_project(x, local->pos)) < 0)
            goto out;
        for (size_t k = 0; k < x->nlisting && rc == 0 && !x->stop; k++) {
            if (!wildcard_match(rel, x->listing[k]))
                continue;
            struct sl_node *f = NULL;
            rc = include_local(x, x->listing[k], args, local->pos, &f);
            if (f) {
                SL_GROW(*files, *capfiles, *nfiles + 1);
                (*files)[(*nfiles)++] = f;
            }
        }
    } else {
        struct sl_node *f = NULL;
        rc = include_local(x, rel, args, local->pos, &f);
        if (f) {
            SL_GROW(*files, *capfiles, *nfiles + 1);
            (*files)[(*nfiles)++] = f;
        }
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
