#include "base/compat.h"
#include "base/diag.h"
#include "base/alloc.h"

/* Index of an identical item, SIZE_MAX when none. */
static size_t find(const struct sl_diag *d, enum sl_diag_level level, const char *file, int line,
                   int column, const char *message)
{
    for (size_t i = 0; i < d->n; i++) {
        const struct sl_diag_item *it = &d->items[i];
        if (it->level == level && it->line == line && it->column == column &&
            !strcmp(it->message, message) &&
            ((!it->file && !file) || (it->file && file && !strcmp(it->file, file))))
            return i;
    }
    return SIZE_MAX;
}

void sl_diag_vadd(struct sl_diag *d, enum sl_diag_level level, const char *file, int line,
                  int column, const char *fmt, va_list ap)
{
    char *msg = sl_xvasprintf(fmt, ap);
    size_t at = find(d, level, file, line, column, msg);
    if (at != SIZE_MAX) {
        d->last = at;
        free(msg);
        return;
    }
    SL_GROW(d->items, d->cap, d->n + 1);
    struct sl_diag_item *it = &d->items[d->n++];
    it->level = level;
    it->file = file ? sl_xstrdup(file) : NULL;
    it->line = line;
    it->column = column;
    it->message = msg;
    it->hint = NULL;
    d->last = d->n - 1;
    if (level == SL_DIAG_ERROR)
        d->errors++;
    else
        d->warnings++;
}

void sl_diag_add(struct sl_diag *d, enum sl_diag_level level, const char *file, int line,
                 int column, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sl_diag_vadd(d, level, file, line, column, fmt, ap);
    va_end(ap);
}

void sl_diag_hint(struct sl_diag *d, const char *fmt, ...)
{
    if (!d->n || d->items[d->last].hint)
        return;
    va_list ap;
    va_start(ap, fmt);
    d->items[d->last].hint = sl_xvasprintf(fmt, ap);
    va_end(ap);
}

bool sl_diag_has(const struct sl_diag *d, enum sl_diag_level level, const char *file, int line,
                 int column, const char *message)
{
    return find(d, level, file, line, column, message) != SIZE_MAX;
}

static int cmp_item(const struct sl_diag_item *a, const struct sl_diag_item *b)
{
    int c = strcmp(a->file ? a->file : "", b->file ? b->file : "");
    if (c)
        return c;
    if (a->line != b->line)
        return a->line < b->line ? -1 : 1;
    if (a->column != b->column)
        return a->column < b->column ? -1 : 1;
    return 0;
}

void sl_diag_sort(struct sl_diag *d)
{
    /* insertion sort: stable, and lists are short */
    for (size_t i = 1; i < d->n; i++) {
        struct sl_diag_item x = d->items[i];
        size_t j = i;
        while (j > 0 && cmp_item(&d->items[j - 1], &x) > 0) {
            d->items[j] = d->items[j - 1];
            j--;
        }
        d->items[j] = x;
    }
}

void sl_diag_release(struct sl_diag *d)
{
    for (size_t i = 0; i < d->n; i++) {
        free(d->items[i].file);
        free(d->items[i].message);
        free(d->items[i].hint);
    }
    free(d->items);
    d->items = NULL;
    d->n = d->cap = d->errors = d->warnings = 0;
}
