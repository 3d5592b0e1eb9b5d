/* toml.c: see toml.h. A recursive-descent reader over the text, building jansson values
 * as it goes; every error names the file and line. */
#include "base/compat.h"
#include "base/str.h"
#include "scan/toml.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>

struct cur {
    const char *p, *end;
    int line;
    int depth;
    const char *name;
    struct sl_error *err;
};

static int fail(struct cur *c, const char *why)
{
    return sl_error_set(c->err, SL_EINVAL, "%s:%d: %s", c->name, c->line, why);
}

static bool at_end(const struct cur *c)
{
    return c->p >= c->end;
}

static void skip_blank(struct cur *c)
{
    while (!at_end(c) && (*c->p == ' ' || *c->p == '\t'))
        c->p++;
}

static void skip_comment(struct cur *c)
{
    if (!at_end(c) && *c->p == '#')
        while (!at_end(c) && *c->p != '\n')
            c->p++;
}

/* Blanks, comments and newlines (inside arrays). */
static void skip_space(struct cur *c)
{
    for (;;) {
        skip_blank(c);
        skip_comment(c);
        if (at_end(c))
            return;
        if (*c->p == '\n') {
            c->line++;
            c->p++;
        } else if (*c->p == '\r' && c->p + 1 < c->end && c->p[1] == '\n') {
            c->p++;
        } else {
            return;
        }
    }
}

/* The end of a key = value line or a header: blanks, a comment, a newline or the end. */
static int end_of_line(struct cur *c)
{
    skip_blank(c);
    skip_comment(c);
    if (!at_end(c) && *c->p == '\r')
        c->p++;
    if (at_end(c))
        return 0;
    if (*c->p != '\n')
        return fail(c, "unexpected text after the value");
    c->p++;
    c->line++;
    return 0;
}

static void add_utf8(struct sl_str *s, unsigned long cp)
{
    if (cp < 0x80) {
        sl_str_addc(s, (char)cp);
    } else if (cp < 0x800) {
        sl_str_addc(s, (char)(0xc0 | (cp >> 6)));
        sl_str_addc(s, (char)(0x80 | (cp & 0x3f)));
    } else if (cp < 0x10000) {
        sl_str_addc(s, (char)(0xe0 | (cp >> 12)));
        sl_str_addc(s, (char)(0x80 | ((cp >> 6) & 0x3f)));
        sl_str_addc(s, (char)(0x80 | (cp & 0x3f)));
    } else {
        sl_str_addc(s, (char)(0xf0 | (cp >> 18)));
        sl_str_addc(s, (char)(0x80 | ((cp >> 12) & 0x3f)));
        sl_str_addc(s, (char)(0x80 | ((cp >> 6) & 0x3f)));
        sl_str_addc(s, (char)(0x80 | (cp & 0x3f)));
    }
}

static int escape(struct cur *c, struct sl_str *s)
{
    if (at_end(c))
        return fail(c, "a string ends in the middle of an escape");
    char e = *c->p++;
    static const char from[] = "btnfr\"\\", to[] = "\b\t\n\f\r\"\\";
    const char *k = strchr(from, e);
    if (k && e) {
        sl_str_addc(s, to[k - from]);
        return 0;
    }
    if (e != 'u' && e != 'U')
        return fail(c, "an unknown escape in a string");
    int n = e == 'u' ? 4 : 8;
    if (c->end - c->p < n)
        return fail(c, "a \\u escape needs its hex digits");
    unsigned long cp = 0;
    for (int i = 0; i < n; i++) {
        char h = *c->p++;
        if (!isxdigit((unsigned char)h))
            return fail(c, "a \\u escape needs its hex digits");
        cp = cp * 16 + (unsigned long)(isdigit((unsigned char)h) ? h - '0' : (h | 0x20) - 'a' + 10);
    }
    if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return fail(c, "a \\u escape that is no Unicode scalar value");
    add_utf8(s, cp);
    return 0;
}

/* A string of any of the four kinds, C->P at its first quote. */
static int string(struct cur *c, char **out)
{
    char q = *c->p;
    bool multi = c->end - c->p >= 3 && c->p[1] == q && c->p[2] == q;
    struct sl_str s = SL_STR_INIT;
    int rc = 0;
    c->p += multi ? 3 : 1;
    if (multi && !at_end(c) && *c->p == '\n') { /* a newline right after the quotes */
        c->p++;
        c->line++;
    } else if (multi && c->end - c->p >= 2 && c->p[0] == '\r' && c->p[1] == '\n') {
        c->p += 2;
        c->line++;
    }
    for (;;) {
        if (at_end(c)) {
            rc = fail(c, "a string is not closed");
            break;
        }
        char ch = *c->p;
        if (ch == q && !multi) {
            c->p++;
            break;
        }
        if (ch == q) {
            /* a run of quotes: the last three close the string, up to two before them
             * belong to it (a literal 'a' followed by five quotes is "a''") */
            size_t k = 0;
            while (c->p + k < c->end && c->p[k] == q)
                k++;
            if (k >= 3) {
                if (k > 5) {
                    rc = fail(c, "too many quotes at the end of a multi-line string");
                    break;
                }
                for (size_t i = 3; i < k; i++)
                    sl_str_addc(&s, q);
                c->p += k;
                break;
            }
            sl_str_add(&s, c->p, k);
            c->p += k;
            continue;
        }
        if (ch == '\n') {
            if (!multi) {
                rc = fail(c, "a newline inside a one-line string");
                break;
            }
            c->line++;
        }
        c->p++;
        if (ch == '\\' && q == '"') {
            if (multi && !at_end(c) &&
                (*c->p == '\n' || *c->p == ' ' || *c->p == '\t' || *c->p == '\r')) {
                /* a line-ending backslash trims the newline and the blanks after it */
                const char *save = c->p;
                skip_blank(c);
                if (!at_end(c) && (*c->p == '\n' || *c->p == '\r')) {
                    skip_space(c);
                    continue;
                }
                c->p = save;
            }
            if ((rc = escape(c, &s)) < 0)
                break;
            continue;
        }
        sl_str_addc(&s, ch);
    }
    if (rc < 0) {
        sl_str_release(&s);
        return rc;
    }
    sl_str_add(&s, "", 0);
    *out = sl_str_detach(&s);
    return 0;
}

static bool bare_key_char(char ch)
{
    return isalnum((unsigned char)ch) || ch == '_' || ch == '-';
}

/* A dotted key into PARTS (at most SL_TOML_DEPTH_MAX, heap strings) and *N. */
static int key(struct cur *c, char **parts, size_t *n)
{
    *n = 0;
    for (;;) {
        skip_blank(c);
        if (*n == SL_TOML_DEPTH_MAX)
            return fail(c, "a key with too many dotted parts");
        if (!at_end(c) && (*c->p == '"' || *c->p == '\'')) {
            int rc = string(c, &parts[*n]);
            if (rc < 0)
                return rc;
            (*n)++;
            /* jansson refuses (and frees the value of) a key that is not UTF-8: refuse it
             * here, so every later json_object_set_new succeeds */
            json_t *probe = json_string(parts[*n - 1]);
            if (!probe)
                return fail(c, "a key that is not UTF-8");
            json_decref(probe);
        } else {
            const char *s = c->p;
            while (!at_end(c) && bare_key_char(*c->p))
                c->p++;
            if (c->p == s)
                return fail(c, "a key is expected here");
            parts[(*n)++] = strndup(s, (size_t)(c->p - s));
        }
        skip_blank(c);
        if (at_end(c) || *c->p != '.')
            return 0;
        c->p++;
    }
}

static void free_parts(char **parts, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(parts[i]);
}

static int value(struct cur *c, json_t **out);

static int array(struct cur *c, json_t **out)
{
    json_t *a = json_array();
    c->p++; /* [ */
    for (;;) {
        skip_space(c);
        if (at_end(c)) {
            json_decref(a);
            return fail(c, "an array is not closed");
        }
        if (*c->p == ']') {
            c->p++;
            break;
        }
        json_t *v = NULL;
        int rc = value(c, &v);
        if (rc < 0) {
            json_decref(a);
            return rc;
        }
        json_array_append_new(a, v);
        skip_space(c);
        if (!at_end(c) && *c->p == ',') {
            c->p++;
        } else if (!at_end(c) && *c->p != ']') {
            json_decref(a);
            return fail(c, "array items are separated by commas");
        }
    }
    *out = a;
    return 0;
}

/* Sets the dotted key PARTS of OBJ to V (taken), making the tables between. */
static int set_key(struct cur *c, json_t *obj, char **parts, size_t n, json_t *v)
{
    for (size_t i = 0; i + 1 < n; i++) {
        json_t *next = json_object_get(obj, parts[i]);
        if (!next) {
            next = json_object();
            json_object_set_new(obj, parts[i], next);
        } else if (!json_is_object(next)) {
            json_decref(v);
            return fail(c, "a dotted key goes through a value that is not a table");
        }
        obj = next;
    }
    if (json_object_get(obj, parts[n - 1])) {
        json_decref(v);
        return fail(c, "a key is defined twice");
    }
    json_object_set_new(obj, parts[n - 1], v);
    return 0;
}

static int inline_table(struct cur *c, json_t **out)
{
    json_t *t = json_object();
    c->p++; /* { */
    skip_blank(c);
    if (!at_end(c) && *c->p == '}') {
        c->p++;
        *out = t;
        return 0;
    }
    for (;;) {
        char *parts[SL_TOML_DEPTH_MAX];
        size_t n = 0;
        int rc = key(c, parts, &n);
        json_t *v = NULL;
        if (rc == 0 && (at_end(c) || *c->p != '='))
            rc = fail(c, "an inline table's key needs `=` and a value");
        if (rc == 0) {
            c->p++;
            skip_blank(c);
            rc = value(c, &v);
        }
        if (rc == 0)
            rc = set_key(c, t, parts, n, v);
        free_parts(parts, n);
        if (rc < 0) {
            json_decref(t);
            return rc;
        }
        skip_blank(c);
        if (!at_end(c) && *c->p == ',') {
            c->p++;
            continue;
        }
        if (!at_end(c) && *c->p == '}') {
            c->p++;
            break;
        }
        json_decref(t);
        return fail(c, "an inline table is not closed (it must be on one line)");
    }
    *out = t;
    return 0;
}

static int number(struct cur *c, json_t **out)
{
    char buf[128];
    size_t n = 0;
    const char *s = c->p;
    while (!at_end(c) && (isalnum((unsigned char)*c->p) || strchr("+-._", *c->p))) {
        if (*c->p != '_') {
            if (n + 1 >= sizeof(buf))
                return fail(c, "a number is too long");
            buf[n++] = *c->p;
        }
        c->p++;
    }
    buf[n] = 0;
    if (c->p == s)
        return fail(c, "a value is expected here (a string, number, boolean, array or table)");
    if (!strcmp(buf, "true") || !strcmp(buf, "false")) {
        *out = json_boolean(buf[0] == 't');
        return 0;
    }
    if (!at_end(c) && (*c->p == ':' || (n == 10 && buf[4] == '-')))
        return fail(c, "dates and times are not supported in rule files");
    char *e;
    errno = 0;
    int base = 10;
    const char *digits = buf;
    if (buf[0] == '0' && (buf[1] == 'x' || buf[1] == 'o' || buf[1] == 'b')) {
        base = buf[1] == 'x' ? 16 : buf[1] == 'o' ? 8 : 2;
        digits = buf + 2;
    }
    long long i = strtoll(digits, &e, base);
    if (*e == 0 && errno == 0 && *digits) {
        *out = json_integer(i);
        return 0;
    }
    if (!strcmp(buf, "inf") || !strcmp(buf, "+inf") || !strcmp(buf, "-inf") || strstr(buf, "nan"))
        return fail(c, "inf and nan are not supported in rule files");
    errno = 0;
    double d = strtod(buf, &e);
    if (*e || errno || !isfinite(d))
        return fail(c, "not a number");
    *out = json_real(d);
    return 0;
}

static int value(struct cur *c, json_t **out)
{
    if (at_end(c))
        return fail(c, "a value is expected here");
    if (++c->depth > SL_TOML_DEPTH_MAX) {
        c->depth--;
        return fail(c, "values nested too deep");
    }
    int rc;
    char ch = *c->p;
    if (ch == '"' || ch == '\'') {
        char *s = NULL;
        rc = string(c, &s);
        if (rc == 0) {
            *out = json_string(s);
            if (!*out)
                rc = fail(c, "a string that is not UTF-8");
        }
        free(s);
    } else if (ch == '[') {
        rc = array(c, out);
    } else if (ch == '{') {
        rc = inline_table(c, out);
    } else {
        rc = number(c, out);
    }
    c->depth--;
    return rc;
}

/* A [table] or [[array of tables]] header: *CURRENT becomes the table it names. */
static int header(struct cur *c, json_t *root, json_t **current)
{
    bool aot = c->end - c->p >= 2 && c->p[1] == '[';
    c->p += aot ? 2 : 1;
    char *parts[SL_TOML_DEPTH_MAX];
    size_t n = 0;
    int rc = key(c, parts, &n);
    if (rc == 0 && (c->end - c->p < (aot ? 2 : 1) || c->p[0] != ']' || (aot && c->p[1] != ']')))
        rc = fail(c, aot ? "a [[table]] header is not closed by ]]"
                         : "a [table] header is not "
                           "closed by ]");
    if (rc < 0) {
        free_parts(parts, n);
        return rc;
    }
    c->p += aot ? 2 : 1;
    json_t *t = root;
    for (size_t i = 0; i < n && rc == 0; i++) {
        json_t *next = json_object_get(t, parts[i]);
        bool last = i + 1 == n;
        if (last && aot) {
            if (!next) {
                next = json_array();
                json_object_set_new(t, parts[i], next);
            } else if (!json_is_array(next)) {
                rc = fail(c, "[[...]] names a key that is not an array of tables");
                break;
            }
            json_t *o = json_object();
            json_array_append_new(next, o);
            t = o;
            break;
        }
        if (!next) {
            next = json_object();
            json_object_set_new(t, parts[i], next);
        }
        if (json_is_array(next) && json_array_size(next) > 0) /* the last [[...]] element */
            next = json_array_get(next, json_array_size(next) - 1);
        if (!json_is_object(next))
            rc = fail(c, "a table header goes through a value that is not a table");
        t = next;
    }
    free_parts(parts, n);
    if (rc == 0)
        *current = t;
    return rc < 0 ? rc : end_of_line(c);
}

int sl_toml_parse(const char *text, size_t len, const char *name, json_t **out,
                  struct sl_error *err)
{
    struct cur c = {.p = text, .end = text + len, .line = 1, .name = name, .err = err};
    *out = NULL;
    if (len > SL_TOML_SIZE_MAX)
        return sl_error_set(err, SL_EINVAL, "%s: more than %u bytes", name, SL_TOML_SIZE_MAX);
    if (memchr(text, 0, len))
        return sl_error_set(err, SL_EINVAL, "%s: a NUL byte: not a text file", name);
    json_t *root = json_object(), *current = root;
    int rc = 0;
    while (rc == 0) {
        skip_space(&c);
        if (at_end(&c))
            break;
        if (*c.p == '[') {
            rc = header(&c, root, &current);
            continue;
        }
        char *parts[SL_TOML_DEPTH_MAX];
        size_t n = 0;
        json_t *v = NULL;
        rc = key(&c, parts, &n);
        if (rc == 0 && (at_end(&c) || *c.p != '='))
            rc = fail(&c, "a key needs `=` and a value");
        if (rc == 0) {
            c.p++;
            skip_blank(&c);
            rc = value(&c, &v);
        }
        if (rc == 0)
            rc = set_key(&c, current, parts, n, v);
        free_parts(parts, n);
        if (rc == 0)
            rc = end_of_line(&c);
    }
    if (rc < 0) {
        json_decref(root);
        return rc;
    }
    *out = root;
    return 0;
}
