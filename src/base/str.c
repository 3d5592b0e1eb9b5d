#include "base/compat.h"
#include "base/str.h"
#include "base/alloc.h"

char sl_str_empty[1];

void sl_str_init(struct sl_str *s)
{
    s->buf = sl_str_empty;
    s->len = s->cap = 0;
}

void sl_str_release(struct sl_str *s)
{
    if (s->cap)
        free(s->buf);
    sl_str_init(s);
}

void sl_str_reset(struct sl_str *s)
{
    sl_str_truncate(s, 0);
}

void sl_str_grow(struct sl_str *s, size_t extra)
{
    /* len + extra + 1 must not wrap, nor the doubling: a wrapped size would allocate too
     * little and the copy after it would overrun. Past SL_STR_MAX a buffer is a runaway (every
     * outside input has its own, smaller, cap), treated as the allocation failure it is. */
    if (extra > SL_STR_MAX || s->len > SL_STR_MAX - extra) {
        fprintf(stderr, "sluice: a string buffer would exceed %zu bytes\n", (size_t)SL_STR_MAX);
        abort();
    }
    size_t need = s->len + extra + 1;
    if (need <= s->cap)
        return;
    size_t cap = s->cap ? s->cap : 64;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    if (s->cap)
        s->buf = sl_xrealloc(s->buf, cap);
    else {
        s->buf = sl_xmalloc(cap);
        s->buf[0] = '\0';
    }
    s->cap = cap;
}

void sl_str_add(struct sl_str *s, const void *data, size_t n)
{
    sl_str_grow(s, n);
    memcpy(s->buf + s->len, data, n);
    s->len += n;
    s->buf[s->len] = '\0';
}

void sl_str_adds(struct sl_str *s, const char *cstr)
{
    sl_str_add(s, cstr, strlen(cstr));
}

void sl_str_addc(struct sl_str *s, char c)
{
    sl_str_grow(s, 1);
    s->buf[s->len++] = c;
    s->buf[s->len] = '\0';
}

void sl_str_vaddf(struct sl_str *s, const char *fmt, va_list ap)
{
    va_list cp;
    va_copy(cp, ap);
    int n = vsnprintf(s->buf + s->len, s->cap ? s->cap - s->len : 0, fmt, cp);
    va_end(cp);
    if (n < 0)
        return;
    if (!s->cap || (size_t)n >= s->cap - s->len) {
        sl_str_grow(s, (size_t)n);
        vsnprintf(s->buf + s->len, s->cap - s->len, fmt, ap);
    }
    s->len += (size_t)n;
}

void sl_str_addf(struct sl_str *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sl_str_vaddf(s, fmt, ap);
    va_end(ap);
}

void sl_str_truncate(struct sl_str *s, size_t len)
{
    if (len >= s->len)
        return;
    s->len = len;
    s->buf[len] = '\0';
}

char *sl_str_detach(struct sl_str *s)
{
    char *b = s->cap ? s->buf : sl_xstrdup("");
    sl_str_init(s);
    return b;
}

void sl_str_add_json_escaped(struct sl_str *s, const char *c)
{
    for (; *c; c++) {
        unsigned char ch = (unsigned char)*c;
        switch (ch) {
        case '"':
            sl_str_adds(s, "\\\"");
            break;
        case '\\':
            sl_str_adds(s, "\\\\");
            break;
        case '\n':
            sl_str_adds(s, "\\n");
            break;
        case '\r':
            sl_str_adds(s, "\\r");
            break;
        case '\t':
            sl_str_adds(s, "\\t");
            break;
        default:
            if (ch < 0x20)
                sl_str_addf(s, "\\u%04x", ch);
            else
                sl_str_addc(s, (char)ch);
        }
    }
}

long long sl_parse_ll(const char *s)
{
    if (!s)
        return 0;
    int saved = errno;
    long long v = strtoll(s, NULL, 10); /* saturates on overflow (ERANGE) */
    errno = saved;
    return v;
}

long long sl_parse_clamp(const char *s, long long lo, long long hi)
{
    long long v = sl_parse_ll(s);
    return v < lo ? lo : v > hi ? hi : v;
}
