#include "base/compat.h"
#include "base/jsonw.h"

#include <math.h>

void sl_jsonw_init(struct sl_jsonw *w, struct sl_str *out)
{
    w->out = out;
    w->start = out->len;
    w->compact = false;
}

void sl_jsonw_init_compact(struct sl_jsonw *w, struct sl_str *out)
{
    sl_jsonw_init(w, out);
    w->compact = true;
}

/* A comma before a key or an item unless it opens its container or follows a key (": ",
 * or ":" compact: no value ends with a colon or a space). */
static void sep(struct sl_jsonw *w)
{
    struct sl_str *s = w->out;
    if (s->len == w->start)
        return;
    char last = s->buf[s->len - 1];
    if (last != '{' && last != '[' && last != ' ' && last != ':')
        sl_str_add(s, ", ", w->compact ? 1 : 2);
}

void sl_jsonw_obj(struct sl_jsonw *w)
{
    sep(w);
    sl_str_addc(w->out, '{');
}

void sl_jsonw_end_obj(struct sl_jsonw *w)
{
    sl_str_addc(w->out, '}');
}

void sl_jsonw_arr(struct sl_jsonw *w)
{
    sep(w);
    sl_str_addc(w->out, '[');
}

void sl_jsonw_end_arr(struct sl_jsonw *w)
{
    sl_str_addc(w->out, ']');
}

/* The length of the UTF-8 sequence at P (1 to 4), or 0 when it is not one: the rules of
 * RFC 3629 as jansson applies them (no overlong forms, no surrogates, nothing past
 * U+10FFFF). */
static size_t utf8_len(const unsigned char *p)
{
    unsigned c = p[0];
    size_t n;
    unsigned cp;
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
        cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80) /* also stops at the NUL */
            return 0;
        cp = (cp << 6) | (p[i] & 0x3f);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return n;
}

static void add_string(struct sl_str *s, const char *str)
{
    static const char hex[] = "0123456789ABCDEF";
    const unsigned char *p = (const unsigned char *)str;
    sl_str_addc(s, '"');
    for (;;) {
        /* the common case: a run of printable ASCII, copied at once */
        const unsigned char *run = p;
        while (*p >= 0x20 && *p < 0x80 && *p != '"' && *p != '\\')
            p++;
        if (p > run)
            sl_str_add(s, run, (size_t)(p - run));
        unsigned c = *p;
        if (!c)
            break;
        if (c >= 0x80) {
            size_t n = utf8_len(p);
            if (n) {
                sl_str_add(s, p, n);
                p += n;
            } else {
                sl_str_add(s, "\xef\xbf\xbd", 3); /* U+FFFD for the byte that is not UTF-8 */
                p++;
            }
            continue;
        }
        p++;
        switch (c) {
        case '"':
            sl_str_add(s, "\\\"", 2);
            break;
        case '\\':
            sl_str_add(s, "\\\\", 2);
            break;
        case '\b':
            sl_str_add(s, "\\b", 2);
            break;
        case '\f':
            sl_str_add(s, "\\f", 2);
            break;
        case '\n':
            sl_str_add(s, "\\n", 2);
            break;
        case '\r':
            sl_str_add(s, "\\r", 2);
            break;
        case '\t':
            sl_str_add(s, "\\t", 2);
            break;
        default: {
            char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            sl_str_add(s, esc, sizeof(esc));
        }
        }
    }
    sl_str_addc(s, '"');
}

void sl_jsonw_key(struct sl_jsonw *w, const char *key)
{
    sep(w);
    add_string(w->out, key);
    sl_str_add(w->out, ": ", w->compact ? 1 : 2);
}

void sl_jsonw_str(struct sl_jsonw *w, const char *s)
{
    if (!s) {
        sl_jsonw_null(w);
        return;
    }
    sep(w);
    add_string(w->out, s);
}

void sl_jsonw_int(struct sl_jsonw *w, long long v)
{
    sep(w);
    sl_str_addf(w->out, "%lld", v);
}

void sl_jsonw_bool(struct sl_jsonw *w, bool v)
{
    sep(w);
    if (v)
        sl_str_add(w->out, "true", 4);
    else
        sl_str_add(w->out, "false", 5);
}

void sl_jsonw_null(struct sl_jsonw *w)
{
    sep(w);
    sl_str_add(w->out, "null", 4);
}

void sl_jsonw_real(struct sl_jsonw *w, double v, int precision)
{
    if (!isfinite(v)) {
        sl_jsonw_null(w);
        return;
    }
    char buf[64];
    int n = snprintf(buf, sizeof(buf), "%.*g", precision > 0 ? precision : 17, v);
    if (n < 0 || (size_t)n >= sizeof(buf) - 3) {
        sl_jsonw_null(w);
        return;
    }
    size_t len = (size_t)n;
    char *dot = strchr(buf, ','); /* a locale's decimal comma, as jansson turns it back */
    if (dot)
        *dot = '.';
    if (!strchr(buf, '.') && !strchr(buf, 'e')) {
        memcpy(buf + len, ".0", 3);
        len += 2;
    }
    char *e = strchr(buf, 'e');
    if (e) { /* "1e+20" -> "1e20", "1e-05" -> "1e-5" */
        char *start = e + 1, *end = start + 1;
        if (*start == '-')
            start++;
        while (*end == '0')
            end++;
        if (end != start) {
            memmove(start, end, len - (size_t)(end - buf) + 1);
            len -= (size_t)(end - start);
        }
    }
    sep(w);
    sl_str_add(w->out, buf, len);
}

void sl_jsonw_raw(struct sl_jsonw *w, const char *json, size_t len)
{
    sep(w);
    sl_str_add(w->out, json, len);
}

void sl_jsonw_strv(struct sl_jsonw *w, const char *const *v)
{
    if (!v) {
        sl_jsonw_null(w);
        return;
    }
    sl_jsonw_arr(w);
    for (; *v; v++)
        sl_jsonw_str(w, *v);
    sl_jsonw_end_arr(w);
}

void sl_jsonw_kstr(struct sl_jsonw *w, const char *key, const char *s)
{
    sl_jsonw_key(w, key);
    sl_jsonw_str(w, s);
}

void sl_jsonw_kint(struct sl_jsonw *w, const char *key, long long v)
{
    sl_jsonw_key(w, key);
    sl_jsonw_int(w, v);
}

void sl_jsonw_kbool(struct sl_jsonw *w, const char *key, bool v)
{
    sl_jsonw_key(w, key);
    sl_jsonw_bool(w, v);
}

void sl_jsonw_kstrv(struct sl_jsonw *w, const char *key, const char *const *v)
{
    sl_jsonw_key(w, key);
    sl_jsonw_strv(w, v);
}
