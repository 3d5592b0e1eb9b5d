/* fuzz_config.c: libFuzzer target for the YAML → resolved configuration path
 * (sl_config_load_string, then sl_config_emit_yaml on what loads).
 *
 * The input is the main file, optionally followed by more files, each introduced by a line
 * `#@@ NAME` (NAME up to the end of the line): they are served by an in-memory reader and
 * lister, so the fuzzer reaches include:local, globs and nested includes without touching
 * the file system. */
#include "base/compat.h"
#include "base/alloc.h"
#include "base/diag.h"
#include "base/str.h"
#include "config/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_FILES 64

struct mem_file {
    char *name;
    const char *text;
    size_t len;
};

struct project {
    struct mem_file files[MAX_FILES];
    size_t n;
};

static int mem_read(void *ctx, const char *path, char **out, size_t *len, struct sl_error *err)
{
    struct project *p = ctx;
    for (size_t i = 0; i < p->n; i++) {
        if (!strcmp(p->files[i].name, path)) {
            *out = sl_xstrndup(p->files[i].text, p->files[i].len);
            *len = p->files[i].len;
            return 0;
        }
    }
    return sl_error_set(err, SL_ENOENT, "%s: no such file", path);
}

static int mem_list(void *ctx, void (*emit)(void *, const char *), void *emit_ctx,
                    struct sl_error *err)
{
    struct project *p = ctx;
    (void)err;
    for (size_t i = 0; i < p->n; i++)
        emit(emit_ctx, p->files[i].name);
    return 0;
}

static const char *find_marker(const char *s, const char *end)
{
    for (const char *q = s; q + 4 <= end; q++)
        if ((q == s || q[-1] == '\n') && !memcmp(q, "#@@ ", 4))
            return q;
    return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = sl_xstrndup((const char *)data, size); /* NUL-terminated copy */
    const char *end = buf + strlen(buf);               /* an embedded NUL ends the input */
    struct project p = {0};
    const char *m = find_marker(buf, end);
    size_t main_len = m ? (size_t)(m - buf) : (size_t)(end - buf);

    while (m && p.n < MAX_FILES) {
        const char *name = m + 4;
        const char *nl = memchr(name, '\n', (size_t)(end - name));
        const char *text = nl ? nl + 1 : end;
        const char *next = find_marker(text, end);
        p.files[p.n].name = sl_xstrndup(name, (size_t)((nl ? nl : end) - name));
        p.files[p.n].text = text;
        p.files[p.n].len = (size_t)((next ? next : end) - text);
        p.n++;
        m = next;
    }

    static const char *const vars[] = {"CI_DEFAULT_BRANCH=main", "CI_PROJECT_NAME=fuzz", NULL};
    struct sl_config_opts opts = {0};
    struct sl_diag diag = SL_DIAG_INIT;
    struct sl_config *cfg = NULL;
    opts.read = mem_read;
    opts.list = mem_list;
    opts.io_ctx = &p;
    opts.vars = vars;
    opts.max_includes = 20;
    opts.yaml.max_bytes = 1 << 20;
    opts.yaml.max_nodes = 100000;
    sl_config_load_string(&cfg, ".gitlab-ci.yml", buf, main_len, &opts, &diag);
    if (cfg) {
        /* the emitted YAML must read back as the same tree */
        struct sl_str out = SL_STR_INIT;
        struct sl_arena a = SL_ARENA_INIT;
        struct sl_diag d2 = SL_DIAG_INIT;
        struct sl_node *back = NULL;
        sl_config_emit_yaml(cfg, &out);
        if (sl_yaml_parse(&a, "emitted.yml", out.buf, out.len, NULL, &back, NULL, &d2) != 0 ||
            !sl_node_equal(back, cfg->root)) {
            fprintf(stderr, "emitted YAML does not read back the same:\n%s\n", out.buf);
            for (size_t i = 0; i < d2.n; i++)
                fprintf(stderr, "%d:%d: %s\n", d2.items[i].line, d2.items[i].column,
                        d2.items[i].message);
            abort();
        }
        sl_diag_release(&d2);
        sl_arena_release(&a);
        sl_str_release(&out);
    }
    sl_config_free(cfg);
    sl_diag_release(&diag);
    for (size_t i = 0; i < p.n; i++)
        free(p.files[i].name);
    free(buf);
    return 0;
}
