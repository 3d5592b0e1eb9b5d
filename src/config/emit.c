/* emit.c: the resolved configuration as YAML (`sluice config`), like GitLab's merged YAML.
 *
 * Block style, two-space indentation, keys in the tree's order. Scalars are written so that
 * reading the output back (yaml.c, Psych typing) gives the same tree: a string that would
 * read as anything else (null, a bool, a number, a date-like or indicator-led text) is
 * quoted, a multi-line string is a literal block (`|`, `|-`, `|+`) when that represents it
 * exactly, and a double-quoted string with escapes otherwise. Tags are gone by now. */
#include "base/compat.h"
#include "config/config.h"

#include <ctype.h>

/* The code point of the YAML 1.1 line breaks and BOM that S starts with (NEL U+0085,
 * LS U+2028, PS U+2029, U+FEFF), or 0: a parser turns the breaks into newlines anywhere
 * but in double quotes, so those strings need escapes (found by fuzz_config). */
static unsigned special_char(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    if (n >= 2 && u[0] == 0xc2 && u[1] == 0x85)
        return 0x85;
    if (n >= 3 && u[0] == 0xe2 && u[1] == 0x80 && (u[2] == 0xa8 || u[2] == 0xa9))
        return u[2] == 0xa8 ? 0x2028 : 0x2029;
    if (n >= 3 && u[0] == 0xef && u[1] == 0xbb && u[2] == 0xbf)
        return 0xfeff;
    return 0;
}

static bool is_printable_line(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f || special_char(s + i, n - i))
            return false;
    }
    return true;
}

/* Would yaml.c read the plain scalar S as something other than this string? */
static bool plain_is_ambiguous(const char *s)
{
    static const char *const words[] = {"null", "~", "true", "false", "yes",   "no",   "on", "off",
                                        "y",    "n", ".inf", "-.inf", "+.inf", ".nan", "<<", "="};
    for (size_t i = 0; i < SL_ARRAY_LEN(words); i++)
        if (!strcasecmp(s, words[i]))
            return true;
    /* anything starting like a number (ints, floats, octals, dates, times, versions) */
    const char *p = s;
    if (*p == '-' || *p == '+' || *p == '.')
        p++;
    return isdigit((unsigned char)*p) != 0;
}

static bool can_be_plain(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || plain_is_ambiguous(s))
        return false;
    if (strchr("-?:,[]{}#&*!|>'\"%@`", s[0]))
        return false;
    if (isspace((unsigned char)s[0]) || isspace((unsigned char)s[n - 1]))
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f || special_char(s + i, n - i))
            return false;
        if (c == ':' && (s[i + 1] == ' ' || s[i + 1] == '\0'))
            return false;
        if (c == '#' && i > 0 && s[i - 1] == ' ')
            return false;
        /* flow indicators would end the scalar inside a flow collection only, but keep
         * the output unsurprising */
        if (c == ',' || c == '[' || c == ']' || c == '{' || c == '}')
            return false;
    }
    return true;
}

static void emit_double_quoted(struct sl_str *out, const char *s)
{
    sl_str_addc(out, '"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        unsigned sc = special_char(s, 3); /* NUL-terminated: the checks stop at the NUL */
        if (sc) {
            sl_str_addf(out, "\\u%04x", sc);
            s += sc == 0x85 ? 1 : 2;
            continue;
        }
        switch (c) {
        case '"':
            sl_str_adds(out, "\\\"");
            break;
        case '\\':
            sl_str_adds(out, "\\\\");
            break;
        case '\n':
            sl_str_adds(out, "\\n");
            break;
        case '\t':
            sl_str_adds(out, "\\t");
            break;
        case '\r':
            sl_str_adds(out, "\\r");
            break;
        default:
            if (c < 0x20 || c == 0x7f)
                sl_str_addf(out, "\\x%02x", c);
            else
                sl_str_addc(out, (char)c);
        }
    }
    sl_str_addc(out, '"');
}

/* Single quotes for one printable line without quotes of its own: libfyaml 0.7.12 leaks
 * memory reading single-quoted scalars with many '' escapes (found by fuzz_config), so
 * those go in double quotes. */
static bool single_quotable(const char *s)
{
    return !strchr(s, '\n') && !strchr(s, '\'') && is_printable_line(s, strlen(s));
}

static void emit_single_quoted(struct sl_str *out, const char *s)
{
    sl_str_addc(out, '\'');
    for (; *s; s++) {
        if (*s == '\'')
            sl_str_addc(out, '\'');
        sl_str_addc(out, *s);
    }
    sl_str_addc(out, '\'');
}

static void indent(struct sl_str *out, int n)
{
    for (int i = 0; i < n; i++)
        sl_str_addc(out, ' ');
}

/* A literal block represents S exactly when every line is printable, no line but possibly
 * empty ones starts with a space (we do not emit indentation indicators) and S does not
 * start with an empty line. */
static bool literal_ok(const char *s)
{
    if (!strchr(s, '\n') || s[0] == '\n' || s[0] == ' ' || s[0] == '\t')
        return false;
    const char *line = s;
    for (;;) {
        const char *nl = strchr(line, '\n');
        size_t n = nl ? (size_t)(nl - line) : strlen(line);
        if (!is_printable_line(line, n))
            return false;
        if (!nl)
            break;
        line = nl + 1;
    }
    return true;
}

static void emit_literal(struct sl_str *out, const char *s, int ind)
{
    size_t n = strlen(s);
    size_t trailing = 0;
    while (trailing < n && s[n - 1 - trailing] == '\n')
        trailing++;
    sl_str_adds(out, trailing == 0 ? "|-" : trailing == 1 ? "|" : "|+");
    const char *line = s;
    const char *end = s + n - (trailing ? 1 : 0);
    while (line <= end) {
        const char *nl = memchr(line, '\n', (size_t)(end - line));
        size_t len = nl ? (size_t)(nl - line) : (size_t)(end - line);
        sl_str_addc(out, '\n');
        if (len) {
            indent(out, ind);
            sl_str_add(out, line, len);
        }
        if (!nl)
            break;
        line = nl + 1;
    }
}

static void emit_scalar(struct sl_str *out, const struct sl_node *n, int ind)
{
    switch (n->kind) {
    case SL_NODE_NULL:
        sl_str_adds(out, "null");
        return;
    case SL_NODE_BOOL:
    case SL_NODE_INT:
    case SL_NODE_FLOAT:
        sl_str_adds(out, n->str);
        return;
    default:
        break;
    }
    const char *s = n->str;
    if (can_be_plain(s))
        sl_str_adds(out, s);
    else if (literal_ok(s))
        emit_literal(out, s, ind);
    else if (single_quotable(s))
        emit_single_quoted(out, s);
    else
        emit_double_quoted(out, s);
}

static void emit_key(struct sl_str *out, const char *k)
{
    if (can_be_plain(k) && !strchr(k, '\n'))
        sl_str_adds(out, k);
    else if (single_quotable(k))
        emit_single_quoted(out, k);
    else
        emit_double_quoted(out, k);
}

static bool is_empty_collection(const struct sl_node *n)
{
    return (n->kind == SL_NODE_SEQ || n->kind == SL_NODE_MAP) && n->n == 0;
}

static void emit_node(struct sl_str *out, const struct sl_node *n, int ind);

/* The value after "key:" or "- ": a scalar on the same line, a collection below. */
static void emit_value(struct sl_str *out, const struct sl_node *v, int ind, bool in_seq)
{
    if (is_empty_collection(v)) {
        sl_str_adds(out, v->kind == SL_NODE_SEQ ? " []\n" : " {}\n");
    } else if (v->kind == SL_NODE_MAP) {
        if (in_seq) {
            /* "- key: v" with the rest of the map aligned under the first key */
            sl_str_addc(out, ' ');
            emit_node(out, v, -(ind + 2));
        } else {
            sl_str_addc(out, '\n');
            emit_node(out, v, ind + 2);
        }
    } else if (v->kind == SL_NODE_SEQ) {
        if (in_seq) {
            sl_str_addc(out, ' ');
            emit_node(out, v, -(ind + 2));
        } else {
            sl_str_addc(out, '\n');
            emit_node(out, v, ind); /* GitLab-style: list items at the key's indentation */
        }
    } else {
        sl_str_addc(out, ' ');
        emit_scalar(out, v, ind + 2);
        sl_str_addc(out, '\n');
    }
}

/* IND < 0: the first line continues the current one, later lines at -IND. */
static void emit_node(struct sl_str *out, const struct sl_node *n, int ind)
{
    bool cont = ind < 0;
    int col = cont ? -ind : ind;
    if (n->kind == SL_NODE_MAP) {
        for (size_t i = 0; i < n->n; i++) {
            if (!(cont && i == 0))
                indent(out, col);
            emit_key(out, n->pairs[i].key);
            sl_str_addc(out, ':');
            emit_value(out, n->pairs[i].value, col, false);
        }
    } else if (n->kind == SL_NODE_SEQ) {
        for (size_t i = 0; i < n->n; i++) {
            if (!(cont && i == 0))
                indent(out, col);
            sl_str_addc(out, '-');
            emit_value(out, n->items[i], col, true);
        }
    } else {
        if (!cont)
            indent(out, col);
        emit_scalar(out, n, col + 2);
        sl_str_addc(out, '\n');
    }
}

void sl_config_emit_yaml(const struct sl_config *cfg, struct sl_str *out)
{
    if (!cfg || !cfg->root)
        return;
    if (is_empty_collection(cfg->root)) {
        sl_str_adds(out, "{}\n");
        return;
    }
    sl_str_adds(out, "---\n");
    emit_node(out, cfg->root, 0);
}
