/* config.c: loading a pipeline file, in GitLab's order (SPEC.md §0): YAML → include →
 * extends → !reference → default/inherit → stages and jobs → validation.
 *
 * A resolution error (an include that cannot be read, an unknown `extends` parent, a
 * missing `!reference`) stops processing after the pass that found it, as GitLab does: the
 * pass reports every such problem it meets, but the next passes would only add noise on a
 * half-resolved tree. Validation errors leave the configuration in *out so that it can still
 * be shown. */
#include "base/compat.h"
#include "config/resolve.h"
#include "base/alloc.h"
#include "base/fs.h"
#include "base/map.h"

static const char *const reserved_keys[] = {
    "default",   "include", "before_script", "image",    "services", "after_script",
    "variables", "stages",  "cache",         "workflow", "types",
};

bool sl_config_is_reserved_key(const char *key)
{
    for (size_t i = 0; i < SL_ARRAY_LEN(reserved_keys); i++)
        if (!strcmp(reserved_keys[i], key))
            return true;
    return false;
}

/* GitLab's Entry::Root#filter_jobs! reserves every top-level keyword but `default` and
 * `workflow`: under these two names, a hash that a job type matches (script, run or
 * trigger) is a job. */
static bool is_job_shaped(const struct sl_node *v)
{
    return v && v->kind == SL_NODE_MAP &&
           (sl_node_get_pair(v, "script") || sl_node_get_pair(v, "run") ||
            sl_node_get_pair(v, "trigger"));
}

bool sl_config_is_job_key(const char *key, const struct sl_node *value)
{
    if (key[0] == '.')
        return false;
    if (!sl_config_is_reserved_key(key))
        return true;
    return (!strcmp(key, "default") || !strcmp(key, "workflow")) && is_job_shaped(value);
}

struct sl_node *sl_config_section(const struct sl_node *root, const char *key)
{
    struct sl_node *v = sl_node_get(root, key);
    return v && sl_config_is_job_key(key, v) ? NULL : v;
}

void sl_resolve_error(struct sl_resolve *r, struct sl_pos pos, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    size_t before = r->diag->errors;
    sl_diag_vadd(r->diag, SL_DIAG_ERROR, pos.file, pos.line, pos.col, fmt, ap);
    va_end(ap);
    /* a duplicate (same position and message) is not added; count it anyway, since the
     * caller meant an error */
    r->errors += r->diag->errors > before ? r->diag->errors - before : 1;
}

void sl_resolve_warning(struct sl_resolve *r, struct sl_pos pos, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sl_diag_vadd(r->diag, SL_DIAG_WARNING, pos.file, pos.line, pos.col, fmt, ap);
    va_end(ap);
}

struct sl_node *sl_config_deep_merge(struct sl_arena *a, struct sl_node *base, struct sl_node *over)
{
    if (!base || !over || base->kind != SL_NODE_MAP || over->kind != SL_NODE_MAP)
        return over;
    if (base->n == 0)
        return over;
    if (over->n == 0)
        return base;
    struct sl_node *m = sl_node_shallow_copy(a, base);
    m->pos = over->pos;
    m->tag = over->tag;
    /* big maps (the top level of included files) get an index, so merging N jobs is not
     * N^2 string comparisons */
    struct sl_map index = SL_MAP_INIT;
    bool indexed = base->n * over->n > 256;
    if (indexed)
        for (size_t j = 0; j < m->n; j++)
            sl_map_put(&index, m->pairs[j].key, (void *)(uintptr_t)(j + 1));
    for (size_t i = 0; i < over->n; i++) {
        const struct sl_pair *op = &over->pairs[i];
        size_t j = 0;
        if (indexed) {
            j = (uintptr_t)sl_map_get(&index, op->key);
        } else {
            for (size_t k = 0; k < m->n && !j; k++)
                if (!strcmp(m->pairs[k].key, op->key))
                    j = k + 1;
        }
        if (j) {
            m->pairs[j - 1].value = sl_config_deep_merge(a, m->pairs[j - 1].value, op->value);
            m->pairs[j - 1].key_pos = op->key_pos;
        } else {
            sl_node_map_push(a, m, op->key, op->key_pos, op->value);
            if (indexed)
                sl_map_put(&index, op->key, (void *)(uintptr_t)m->n);
        }
    }
    sl_map_release(&index);
    return m;
}

struct sl_node *sl_config_map_without(struct sl_arena *a, struct sl_node *map, const char *key)
{
    if (!sl_node_get_pair(map, key))
        return map;
    struct sl_node *m = sl_node_new(a, SL_NODE_MAP, map->pos);
    m->tag = map->tag;
    for (size_t i = 0; i < map->n; i++)
        if (strcmp(map->pairs[i].key, key))
            sl_node_map_push(a, m, map->pairs[i].key, map->pairs[i].key_pos, map->pairs[i].value);
    return m;
}

struct sl_node *sl_config_map_with(struct sl_arena *a, struct sl_node *map, const char *key,
                                   struct sl_pos key_pos, struct sl_node *value)
{
    struct sl_node *m = sl_node_shallow_copy(a, map);
    for (size_t i = 0; i < m->n; i++) {
        if (!strcmp(m->pairs[i].key, key)) {
            m->pairs[i].value = value;
            return m;
        }
    }
    sl_node_map_push(a, m, key, key_pos, value);
    return m;
}

static size_t ptr_hash(const void *p)
{
    uint64_t h = (uint64_t)(uintptr_t)p;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return (size_t)h;
}

void *sl_ptrmap_get(const struct sl_ptrmap *m, const void *key)
{
    if (!m->cap)
        return NULL;
    for (size_t i = ptr_hash(key) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        if (!m->keys[i])
            return NULL;
        if (m->keys[i] == key)
            return m->values[i];
    }
}

void sl_ptrmap_put(struct sl_ptrmap *m, const void *key, void *value)
{
    if ((m->n + 1) * 2 > m->cap) {
        struct sl_ptrmap g = {NULL, NULL, m->cap ? m->cap * 2 : 64, 0};
        g.keys = sl_xcalloc(g.cap, sizeof(*g.keys));
        g.values = sl_xcalloc(g.cap, sizeof(*g.values));
        for (size_t i = 0; i < m->cap; i++)
            if (m->keys[i])
                sl_ptrmap_put(&g, m->keys[i], m->values[i]);
        sl_ptrmap_release(m);
        *m = g;
    }
    size_t i = ptr_hash(key) & (m->cap - 1);
    while (m->keys[i] && m->keys[i] != key)
        i = (i + 1) & (m->cap - 1);
    if (!m->keys[i])
        m->n++;
    m->keys[i] = key;
    m->values[i] = value;
}

void sl_ptrmap_release(struct sl_ptrmap *m)
{
    free(m->keys);
    free(m->values);
    memset(m, 0, sizeof(*m));
}

/* stages */

static void push_stage(struct sl_resolve *r, const char ***arr, size_t *n, size_t *cap,
                       const char *s)
{
    (void)r;
    for (size_t i = 0; i < *n; i++)
        if (!strcmp((*arr)[i], s))
            return; /* GitLab keeps the first of duplicate stages */
    if (*n == *cap) {
        size_t ncap = *cap ? *cap * 2 : 8;
        const char **na = sl_arena_alloc(r->a, ncap * sizeof(*na));
        if (*n)
            memcpy(na, *arr, *n * sizeof(*na));
        *arr = na;
        *cap = ncap;
    }
    (*arr)[(*n)++] = s;
}

static void collect_stages(struct sl_resolve *r, const struct sl_node *seq, int depth,
                           const char ***arr, size_t *n, size_t *cap)
{
    for (size_t i = 0; i < seq->n; i++) {
        const struct sl_node *it = seq->items[i];
        if (it->kind == SL_NODE_SEQ && depth < SL_CONFIG_MAX_REFERENCE_DEPTH)
            collect_stages(r, it, depth + 1, arr, n, cap);
        else if (sl_node_is_scalar(it) && it->kind != SL_NODE_NULL && strcmp(it->str, ".pre") &&
                 strcmp(it->str, ".post"))
            push_stage(r, arr, n, cap, it->str);
    }
}

static void flatten_stages(struct sl_resolve *r, struct sl_node *out, const struct sl_node *seq,
                           int depth)
{
    for (size_t i = 0; i < seq->n; i++) {
        struct sl_node *it = seq->items[i];
        if (it->kind == SL_NODE_SEQ && depth < SL_CONFIG_MAX_REFERENCE_DEPTH)
            flatten_stages(r, out, it, depth + 1);
        else if (!(sl_node_is_scalar(it) &&
                   (!strcmp(it->str, ".pre") || !strcmp(it->str, ".post"))))
            sl_node_seq_push(r->a, out, it);
    }
}

/* GitLab's EdgeStagesInjector: a declared `stages` (or `types`) list is flattened and gets
 * .pre first and .post last, which the merged YAML shows. */
static struct sl_node *wrap_stages(struct sl_resolve *r, struct sl_node *root)
{
    const char *key = "stages";
    const struct sl_pair *p = sl_node_get_pair(root, key);
    if (!p) {
        key = "types";
        p = sl_node_get_pair(root, key);
    }
    if (!p || p->value->kind != SL_NODE_SEQ)
        return root;
    struct sl_node *seq = sl_node_new(r->a, SL_NODE_SEQ, p->value->pos);
    sl_node_seq_push(r->a, seq, sl_node_new_str(r->a, ".pre", p->value->pos));
    flatten_stages(r, seq, p->value, 1);
    sl_node_seq_push(r->a, seq, sl_node_new_str(r->a, ".post", p->value->pos));
    return sl_config_map_with(r->a, root, key, p->key_pos, seq);
}

/* The effective stages: the declared ones (nested arrays flattened, `types` as the old
 * name) or GitLab's default, always with .pre first and .post last. */
static void fill_stages(struct sl_resolve *r, struct sl_node *root)
{
    static const char *const defaults[] = {"build", "test", "deploy"};
    struct sl_node *decl = sl_node_get(root, "stages");
    const char **arr = NULL;
    size_t n = 0, cap = 0;

    if (!decl || decl->kind == SL_NODE_NULL)
        decl = sl_node_get(root, "types");
    push_stage(r, &arr, &n, &cap, ".pre");
    if (decl && decl->kind == SL_NODE_SEQ) {
        collect_stages(r, decl, 1, &arr, &n, &cap);
    } else {
        for (size_t i = 0; i < SL_ARRAY_LEN(defaults); i++)
            push_stage(r, &arr, &n, &cap, defaults[i]);
    }
    push_stage(r, &arr, &n, &cap, ".post");
    r->cfg->stages = arr;
    r->cfg->nstages = n;
}

/* Every top-level key that is neither reserved nor hidden is a job (sl_config_is_job_key), whatever
 * its value (the validator reports a job that is not a hash). */
static void fill_jobs(struct sl_resolve *r, struct sl_node *root)
{
    size_t n = 0;
    for (size_t i = 0; i < root->n; i++)
        if (sl_config_is_job_key(root->pairs[i].key, root->pairs[i].value))
            n++;
    struct sl_config_job *jobs = n ? sl_arena_alloc(r->a, n * sizeof(*jobs)) : NULL;
    size_t k = 0;
    for (size_t i = 0; i < root->n; i++) {
        const struct sl_pair *p = &root->pairs[i];
        if (!sl_config_is_job_key(p->key, p->value))
            continue;
        jobs[k].name = p->key;
        jobs[k].node = p->value;
        jobs[k].pos = p->key_pos;
        k++;
        sl_map_put(&r->cfg->job_index, p->key, (void *)(uintptr_t)k);
    }
    r->cfg->jobs = jobs;
    r->cfg->njobs = n;
}

const struct sl_config_job *sl_config_job(const struct sl_config *cfg, const char *name)
{
    uintptr_t at = cfg ? (uintptr_t)sl_map_get(&cfg->job_index, name) : 0;
    return at ? &cfg->jobs[at - 1] : NULL;
}

void sl_config_free(struct sl_config *cfg)
{
    if (!cfg)
        return;
    sl_map_release(&cfg->job_index);
    sl_arena_release(&cfg->arena);
    free(cfg);
}

static void init_resolver(struct sl_resolve *r, struct sl_config *cfg,
                          const struct sl_config_opts *opts, const char *default_dir,
                          struct sl_diag *diag)
{
    memset(r, 0, sizeof(*r));
    r->cfg = cfg;
    r->a = &cfg->arena;
    r->diag = diag;
    if (opts)
        r->opts = *opts;
    cfg->shape_only = r->opts.shape_only;
    r->project_dir = sl_arena_strdup(r->a, r->opts.project_dir ? r->opts.project_dir
                                           : default_dir       ? default_dir
                                                               : ".");
    if (!r->opts.max_includes)
        r->opts.max_includes = SL_CONFIG_MAX_INCLUDES;
    r->yaml.max_bytes = r->opts.yaml.max_bytes ? r->opts.yaml.max_bytes : SL_YAML_MAX_BYTES;
    r->yaml.max_nodes = r->opts.yaml.max_nodes ? r->opts.yaml.max_nodes : SL_YAML_MAX_NODES;
    r->yaml.max_depth = r->opts.yaml.max_depth ? r->opts.yaml.max_depth : SL_YAML_MAX_DEPTH;
}

typedef int (*pass_fn)(struct sl_resolve *r, struct sl_node **root);

/* Everything after the main file was read. On return *out is CFG or NULL (CFG freed). */
static int compile(struct sl_config **out, struct sl_resolve *r, const char *name, const char *text,
                   size_t len)
{
    static const pass_fn passes[] = {
        sl_config_resolve_includes,
        sl_config_resolve_extends,
        sl_config_resolve_references,
        sl_config_apply_defaults,
    };
    struct sl_config *cfg = r->cfg;
    struct sl_node *root = NULL, *header = NULL;
    int rc;

    if ((rc = sl_yaml_parse(r->a, name, text, len, &r->yaml, &root, &header, r->diag)) < 0)
        goto fail;
    cfg->header = header;
    if (!root || (root->kind == SL_NODE_NULL)) {
        sl_resolve_error(r, (struct sl_pos){cfg->path, 1, 1},
                         "Please provide content of .gitlab-ci.yml");
        rc = SL_EINVAL;
        goto fail;
    }
    if (root->kind != SL_NODE_MAP) {
        sl_resolve_error(r, root->pos, "Invalid configuration format");
        rc = SL_EINVAL;
        goto fail;
    }
    /* shape-only: a single document's `spec:` is read as the header (the JSON schema
     * knows `spec` as a top-level key), not as a job */
    const struct sl_pair *spec =
        r->opts.shape_only && !header ? sl_node_get_pair(root, "spec") : NULL;
    if (spec) {
        header = sl_node_new(r->a, SL_NODE_MAP, root->pos);
        sl_node_map_push(r->a, header, spec->key, spec->key_pos, spec->value);
        cfg->header = header;
        root = sl_config_map_without(r->a, root, "spec");
    }
    if (!r->opts.shape_only && (header || r->opts.inputs)) {
        size_t before = r->errors;
        struct sl_pos at = {cfg->path, 1, 1};
        struct sl_node *args = sl_config_inputs_from_strings(r, header, r->opts.inputs, at);
        sl_config_interpolate_inputs(r, &root, header, args, at);
        if (r->errors > before) {
            rc = SL_EINVAL;
            goto fail;
        }
    }
    for (size_t i = 0; i < SL_ARRAY_LEN(passes); i++) {
        size_t before = r->errors;
        rc = passes[i](r, &root);
        if (rc < 0)
            goto fail;
        if (r->errors > before) {
            rc = SL_EINVAL;
            goto fail;
        }
    }
    fill_stages(r, root);
    root = wrap_stages(r, root);
    cfg->root = root;
    fill_jobs(r, root);
    if (!sl_config_validate(cfg, r->diag))
        rc = SL_EINVAL;
    else if (r->errors)
        rc = SL_EINVAL;
    sl_diag_sort(r->diag);
    *out = cfg;
    return rc;
fail:
    sl_diag_sort(r->diag);
    sl_config_free(cfg);
    *out = NULL;
    return rc < 0 ? rc : SL_EINVAL;
}

static struct sl_config *config_new(const char *name)
{
    struct sl_config *cfg = sl_xcalloc(1, sizeof(*cfg));
    cfg->path = sl_arena_strdup(&cfg->arena, name);
    cfg->files = sl_arena_alloc(&cfg->arena, sizeof(*cfg->files));
    cfg->files[0] = cfg->path;
    cfg->nfiles = 1;
    return cfg;
}

int sl_config_load_string(struct sl_config **out, const char *name, const char *text, size_t len,
                          const struct sl_config_opts *opts, struct sl_diag *diag)
{
    struct sl_resolve r;
    struct sl_config *cfg = config_new(name);
    struct sl_config_io_root io;

    init_resolver(&r, cfg, opts, ".", diag);
    io.dir = r.project_dir;
    io.max_bytes = r.yaml.max_bytes;
    if (!r.opts.read) {
        r.opts.read = sl_config_io_read;
        r.opts.list = sl_config_io_list;
        r.opts.io_ctx = &io;
    } else if (!r.opts.list) {
        r.opts.list = sl_config_io_list;
    }
    return compile(out, &r, cfg->path, text, len);
}

int sl_config_load_file(struct sl_config **out, const char *path, const struct sl_config_opts *opts,
                        struct sl_diag *diag)
{
    struct sl_resolve r;
    struct sl_config *cfg = config_new(path);
    struct sl_config_io_root io;
    struct sl_error err = SL_ERROR_INIT;
    char *text = NULL;
    size_t len = 0;
    int rc;

    const char *slash = strrchr(path, '/');
    char *dir =
        slash ? sl_xstrndup(path, slash == path ? 1 : (size_t)(slash - path)) : sl_xstrdup(".");
    init_resolver(&r, cfg, opts, dir, diag);
    free(dir);
    io.dir = r.project_dir;
    io.max_bytes = r.yaml.max_bytes;
    if (!r.opts.read) {
        r.opts.read = sl_config_io_read;
        r.opts.list = sl_config_io_list;
        r.opts.io_ctx = &io;
        rc = sl_fs_read_file(path, r.yaml.max_bytes, &text, &len, &err);
    } else {
        if (!r.opts.list)
            r.opts.list = sl_config_io_list;
        rc = r.opts.read(r.opts.io_ctx, path, &text, &len, &err);
    }
    if (rc < 0) {
        if (rc == SL_ELIMIT)
            sl_diag_add(diag, SL_DIAG_ERROR, path, 0, 0,
                        "config file is larger than the limit of %zu bytes", r.yaml.max_bytes);
        else if (rc == SL_ENOENT)
            sl_diag_add(diag, SL_DIAG_ERROR, path, 0, 0, "file does not exist");
        else
            sl_diag_add(diag, SL_DIAG_ERROR, path, 0, 0, "%s",
                        err.message ? err.message : sl_strerror(rc));
        sl_config_free(cfg);
        *out = NULL;
        goto out;
    }
    rc = compile(out, &r, cfg->path, text, len);
out:
    free(text);
    sl_error_release(&err);
    return rc;
}
