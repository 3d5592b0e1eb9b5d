/* diag_print.c: diagnostics as compilers print them (sl_cli_diag_write, pipeline.h):
 *
 *   .gitlab-ci.yml:4:3: jobs:build config contains unknown keys: scirpt
 *     scirpt: echo hi
 *     ^
 *     hint: did you mean `script`?
 *
 * The source line is read again from the file named by the item (the configuration keeps
 * no text); it is left out when the file cannot be read or has no such line. The same
 * items as JSON (sl_cli_diag_json) are what lint --json prints, and plan --json and run
 * --json when the configuration is refused. */
#include "base/compat.h"
#include "cli/pipeline.h"
#include "base/fs.h"

/* Enough for any pipeline file sluice accepts; a longer line is shown cut. */
#define SOURCE_MAX (8u << 20)
#define LINE_SHOWN 240

struct source {
    char *path; /* of the text held; owned */
    char *text; /* owned; NULL when unreadable */
    size_t len;
};

static void source_load(struct source *s, const char *path)
{
    if (s->path && !strcmp(s->path, path))
        return;
    free(s->path);
    free(s->text);
    s->path = strdup(path);
    s->text = NULL;
    s->len = 0;
    struct sl_error err = SL_ERROR_INIT;
    if (sl_fs_read_file(path, SOURCE_MAX, &s->text, &s->len, &err) < 0)
        s->text = NULL;
    sl_error_release(&err);
}

static void show_line(FILE *out, const struct source *s, int line, int column)
{
    const char *p = s->text, *end = s->text + s->len;
    for (int l = 1; p && l < line && p < end; l++) {
        p = memchr(p, '\n', (size_t)(end - p));
        if (p)
            p++;
    }
    if (!p || p >= end)
        return;
    const char *eol = memchr(p, '\n', (size_t)(end - p));
    size_t n = (size_t)((eol ? eol : end) - p);
    if (n && p[n - 1] == '\r')
        n--;
    if (n > LINE_SHOWN)
        n = LINE_SHOWN;
    fprintf(out, "  %.*s\n  ", (int)n, p);
    /* the caret under the column: tabs kept so it lines up as the terminal shows the line */
    for (int c = 1; c < column && (size_t)(c - 1) < n; c++)
        fputc(p[c - 1] == '\t' ? '\t' : ' ', out);
    fputs("^\n", out);
}

void sl_cli_diag_write(FILE *out, const struct sl_diag *d)
{
    struct source src = {NULL, NULL, 0};
    for (size_t i = 0; i < d->n; i++) {
        const struct sl_diag_item *it = &d->items[i];
        const char *level = it->level == SL_DIAG_WARNING ? "warning: " : "";
        if (it->file && it->line) {
            fprintf(out, "%s:%d:%d: %s%s\n", it->file, it->line, it->column, level, it->message);
            source_load(&src, it->file);
            if (src.text && it->column > 0)
                show_line(out, &src, it->line, it->column);
        } else if (it->file) {
            fprintf(out, "%s: %s%s\n", it->file, level, it->message);
        } else {
            fprintf(out, "%s%s\n", level, it->message);
        }
        if (it->hint)
            fprintf(out, "  hint: %s\n", it->hint);
    }
    free(src.path);
    free(src.text);
}

static json_t *items_json(const struct sl_diag *d, enum sl_diag_level level)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < d->n; i++) {
        const struct sl_diag_item *it = &d->items[i];
        if (it->level != level)
            continue;
        json_t *o = json_object();
        json_object_set_new(o, "file", it->file ? json_string(it->file) : json_null());
        json_object_set_new(o, "line", json_integer(it->line));
        json_object_set_new(o, "column", json_integer(it->column));
        json_object_set_new(o, "message", json_string(it->message));
        if (it->hint)
            json_object_set_new(o, "hint", json_string(it->hint));
        json_array_append_new(arr, o);
    }
    return arr;
}

json_t *sl_cli_diag_json(const struct sl_diag *d, bool valid)
{
    json_t *o = json_object();
    json_object_set_new(o, "valid", json_boolean(valid));
    json_object_set_new(o, "errors", items_json(d, SL_DIAG_ERROR));
    json_object_set_new(o, "warnings", items_json(d, SL_DIAG_WARNING));
    return o;
}
