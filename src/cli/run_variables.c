/* run_variables.c: `sluice run`'s variables files (run_variables.h). */
#include "base/compat.h"
#include "base/alloc.h"
#include "base/diag.h"
#include "base/fs.h"
#include "cli/run_variables.h"
#include "config/node.h"
#include "exec/mask.h"
#include "expr/vars.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#define VARFILE_MAX (1u << 20) /* bytes of one variables file */
#define VARS_MAX 4096          /* variables of all files together */

struct var {
    const char *key, *value;
    bool masked, raw, file;
};

struct loader {
    struct sl_arena *a;
    struct var *vars;
    size_t n;
};

static int add(struct loader *l, const char *file, int line, struct var v, struct sl_error *err)
{
    if (!sl_vars_name_ok(v.key) || strlen(v.key) > 255)
        return sl_error_set(err, SL_EINVAL,
                            "%s:%d: '%s' is not a variable name (letters, digits and '_')", file,
                            line, v.key);
    if (v.masked && !sl_mask_value_ok(v.value, v.raw))
        return sl_error_set(err, SL_EINVAL,
                            "%s:%d: %s cannot be masked: a masked value is at least 8 characters "
                            "of A-Z a-z 0-9 _ + = / @ : . ~ - (any non-space ones when raw)",
                            file, line, v.key);
    size_t i = 0;
    while (i < l->n && strcmp(l->vars[i].key, v.key))
        i++;
    if (i == l->n) {
        if (l->n == VARS_MAX)
            return sl_error_set(err, SL_ELIMIT, "%s: more than %d variables", file, VARS_MAX);
        l->n++;
    }
    l->vars[i] = v;
    return 0;
}

/* One `KEY: value` or `KEY: {value, masked, variable_type, raw, description}` entry. */
static int yaml_entry(struct loader *l, const char *file, const struct sl_pair *p,
                      struct sl_error *err)
{
    struct var v = {.key = p->key};
    const struct sl_node *n = p->value;
    if (n && sl_node_is_scalar(n)) {
        v.value = sl_node_scalar(n);
    } else if (n && n->kind == SL_NODE_MAP) {
        for (size_t i = 0; i < n->n; i++) {
            const char *k = n->pairs[i].key;
            const struct sl_node *x = n->pairs[i].value;
            const char *s = x && sl_node_is_scalar(x) ? sl_node_scalar(x) : NULL;
            bool is_true = s && !strcmp(s, "true"), is_bool = is_true || (s && !strcmp(s, "false"));
            if (!strcmp(k, "value") && s)
                v.value = s;
            else if (!strcmp(k, "masked") && is_bool)
                v.masked = is_true;
            else if (!strcmp(k, "raw") && is_bool)
                v.raw = is_true;
            else if (!strcmp(k, "variable_type") && s &&
                     (!strcmp(s, "file") || !strcmp(s, "env_var")))
                v.file = !strcmp(s, "file");
            else if (!strcmp(k, "description") && s)
                ;
            else
                return sl_error_set(err, SL_EINVAL,
                                    "%s:%d: %s: '%s' is not an attribute of a variable (value, "
                                    "masked, variable_type: env_var|file, raw, description)",
                                    file, n->pairs[i].key_pos.line, p->key, k);
        }
        if (!v.value)
            return sl_error_set(err, SL_EINVAL, "%s:%d: %s has no value", file, p->key_pos.line,
                                p->key);
    } else {
        return sl_error_set(err, SL_EINVAL, "%s:%d: %s must be a string or a mapping with a value",
                            file, p->key_pos.line, p->key);
    }
    return add(l, file, p->key_pos.line, v, err);
}

/* A dotenv file: KEY=value lines, # comments and blank lines. */
static int dotenv(struct loader *l, const char *file, char *text, struct sl_error *err)
{
    int line = 0, rc = 0;
    for (char *s = text, *nl; rc == 0 && s && *s; s = nl ? nl + 1 : NULL) {
        nl = strchr(s, '\n');
        if (nl)
            *nl = '\0';
        line++;
        size_t len = strlen(s);
        if (len && s[len - 1] == '\r')
            s[--len] = '\0';
        while (*s == ' ' || *s == '\t')
            s++;
        if (!*s || *s == '#')
            continue;
        if (!strncmp(s, "export ", 7))
            s += 7;
        char *eq = strchr(s, '=');
        if (!eq)
            return sl_error_set(err, SL_EINVAL,
                                "%s:%d: neither a YAML mapping nor a KEY=value line", file, line);
        *eq = '\0';
        char *value = eq + 1;
        size_t vl = strlen(value);
        if (vl >= 2 && (value[0] == '"' || value[0] == '\'') && value[vl - 1] == value[0]) {
            value[vl - 1] = '\0';
            value++;
        }
        struct var v = {.key = sl_arena_strdup(l->a, s), .value = sl_arena_strdup(l->a, value)};
        rc = add(l, file, line, v, err);
    }
    return rc;
}

static int load_file(struct loader *l, const char *path, bool required, struct sl_error *err)
{
    char *text = NULL;
    size_t len = 0;
    int rc = sl_fs_read_file(path, VARFILE_MAX, &text, &len, err);
    if (rc == SL_ENOENT && !required) {
        sl_error_release(err);
        return 0;
    }
    if (rc < 0)
        return rc;
    const char *file = sl_arena_strdup(l->a, path);
    struct sl_node *root = NULL;
    struct sl_diag diag = SL_DIAG_INIT;
    /* a dotenv line (KEY=value) is a YAML scalar: only a mapping is the YAML form */
    if (sl_yaml_parse(l->a, file, text, len, NULL, &root, NULL, &diag) == 0 && root &&
        root->kind == SL_NODE_MAP) {
        for (size_t i = 0; rc == 0 && i < root->n; i++)
            rc = yaml_entry(l, file, &root->pairs[i], err);
    } else if (root && root->kind != SL_NODE_STR && root->kind != SL_NODE_NULL) {
        rc = sl_error_set(err, SL_EINVAL, "%s: a variables file is a mapping of KEY: value", file);
    } else {
        rc = dotenv(l, file, text, err);
    }
    sl_diag_release(&diag);
    sodium_memzero(text, len);
    free(text);
    return rc;
}

int sl_run_variables_load(struct run_variables *rv, const char *project_dir,
                          const char *const *files, const char *files_dir, struct sl_error *err)
{
    struct loader l = {.a = &rv->arena};
    int rc = 0;
    memset(rv, 0, sizeof(*rv));
    l.vars = sl_arena_alloc(&rv->arena, VARS_MAX * sizeof(*l.vars));
    const char *home = getenv("HOME");
    if (home && *home) {
        char *p = sl_xasprintf("%s/.config/sluice/variables.yml", home);
        rc = load_file(&l, p, false, err);
        free(p);
    }
    if (rc == 0) {
        char *p = sl_xasprintf("%s/.sluice/variables.yml", project_dir);
        rc = load_file(&l, p, false, err);
        free(p);
    }
    for (size_t i = 0; rc == 0 && files && files[i]; i++)
        rc = load_file(&l, files[i], true, err);
    if (rc < 0)
        return rc;

    rv->count = l.n;
    rv->extra = sl_arena_alloc(&rv->arena, (l.n + 1) * sizeof(*rv->extra));
    rv->extra_raw = sl_arena_alloc(&rv->arena, (l.n + 1) * sizeof(*rv->extra_raw));
    size_t np = 0, nr = 0;
    for (size_t i = 0; i < l.n; i++) {
        const struct var *v = &l.vars[i];
        const char *value = v->value;
        char *path = NULL;
        if (v->masked && *v->value) {
            if (!rv->mask)
                rv->mask = sl_mask_new();
            if ((rc = sl_mask_add(rv->mask, v->value, strlen(v->value), err)) < 0)
                return rc;
        }
        if (v->file) {
            if (!rv->files_dir) {
                if ((rc = sl_fs_mkdir_p(files_dir, 0700, err)) < 0)
                    return rc;
                rv->files_dir = sl_xstrdup(files_dir);
            }
            path = sl_fs_join(files_dir, v->key);
            if ((rc = sl_fs_write_atomic(path, v->value, strlen(v->value), 0600, err)) < 0) {
                free(path);
                return rc;
            }
            value = path;
        }
        const char *kv = sl_arena_printf(&rv->arena, "%s=%s", v->key, value);
        free(path);
        if (v->raw || v->file)
            rv->extra_raw[nr++] = kv;
        else
            rv->extra[np++] = kv;
    }
    rv->extra[np] = NULL;
    rv->extra_raw[nr] = NULL;
    return 0;
}

void sl_run_variables_release(struct run_variables *rv)
{
    if (rv->files_dir)
        sl_fs_remove_tree(rv->files_dir, NULL);
    free(rv->files_dir);
    sl_mask_free(rv->mask);
    sl_arena_release(&rv->arena);
    memset(rv, 0, sizeof(*rv));
}
