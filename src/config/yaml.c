/* yaml.c: YAML text to a node tree, through libfyaml's event parser.
 *
 * We build our own tree from events rather than use libfyaml's document API so that
 * aliases can share nodes (a "billion laughs" file costs nothing to load and is rejected by
 * counting its expanded size), merge keys follow Psych (GitLab's loader) rather than the
 * YAML spec, and scalars are typed as Psych types them. */
#include "base/compat.h"
#include "config/node.h"
#include "base/alloc.h"
#include "base/diag.h"
#include "base/error.h"
#include "base/map.h"
#include "base/str.h"

#include <ctype.h>
#include <libfyaml.h>
#include <pthread.h>

struct anchor {
    struct sl_node *node;
    size_t size; /* expanded node count */
};

struct reader {
    struct sl_arena *a;
    struct fy_parser *fyp;
    const char *file; /* interned in the arena */
    struct sl_diag *diag;
    struct sl_yaml_limits lim;
    struct sl_map anchors; /* name -> struct anchor (heap) */
    const char *src;       /* the text being parsed, for what libfyaml gets wrong */
    size_t srclen;
    int rc;
    /* the innermost open flow collection ('[' or '{', kind 0 when none): an unclosed one is
     * reported where it opened, as Psych does, not at the end of the file */
    struct sl_pos flow_pos;
    char flow_kind;
};

/* Whether a literal or folded scalar uses clip chomping (no `-` or `+` in its header) and
 * its last line ends the file without a line break. libfyaml 0.7.12 then still appends the
 * final line break; Psych (GitLab) does not, as the YAML spec says: clip keeps the final
 * break only when there is one. Found on a real pipeline whose last line was a `|` block. */
static bool clip_at_eof(const struct reader *r, struct fy_token *t)
{
    const struct fy_mark *s = fy_token_start_mark(t), *e = fy_token_end_mark(t);
    if (!s || !e || !r->src || !r->srclen || s->input_pos > r->srclen || e->input_pos > r->srclen)
        return false;
    const char *src = r->src, *end = src + r->srclen;
    if (end[-1] == '\n' || end[-1] == '\r')
        return false;
    for (const char *p = src + e->input_pos; p < end; p++)
        if (*p == '\n' || *p == '\r')
            return false;
    /* The file's last line must be content: not blank, and indented at least as much as the
     * first content line (a less indented `# comment` ends the scalar). */
    const char *c = src + s->input_pos;
    size_t indent = 0;
    for (const char *p = c; p < end; p++) {
        if (*p == ' ') {
            indent++;
        } else if (*p == '\n' || *p == '\r') {
            indent = 0;
        } else {
            break;
        }
    }
    const char *last = end;
    while (last > src && last[-1] != '\n' && last[-1] != '\r')
        last--;
    size_t lindent = 0;
    while (last + lindent < end && last[lindent] == ' ')
        lindent++;
    if (last + lindent == end || lindent < indent)
        return false;
    /* The token starts at its content; the header is on the last line before it that is
     * not blank (blank lines between belong to the content). */
    const char *line_end = src + s->input_pos;
    for (;;) {
        while (line_end > src && line_end[-1] != '\n')
            line_end--; /* start of the line holding line_end */
        if (line_end == src)
            return false;
        line_end--; /* the '\n' ending the previous line */
        const char *ls = line_end;
        while (ls > src && ls[-1] != '\n')
            ls--;
        bool blank = true;
        for (const char *p = ls; p < line_end; p++)
            if (*p != ' ' && *p != '\t' && *p != '\r')
                blank = false;
        if (blank)
            continue;
        /* header: ... [|>][0-9+-]* [blanks] [# comment] */
        for (const char *p = ls; p < line_end; p++) {
            if (*p != '|' && *p != '>')
                continue;
            bool chomp = false;
            const char *q = p + 1;
            for (; q < line_end && (isdigit((unsigned char)*q) || *q == '-' || *q == '+'); q++)
                chomp |= *q == '-' || *q == '+';
            while (q < line_end && (*q == ' ' || *q == '\t' || *q == '\r'))
                q++;
            if (q == line_end || *q == '#')
                return !chomp;
        }
        return false;
    }
}

static struct sl_pos mark_pos(const struct reader *r, const struct fy_mark *m)
{
    struct sl_pos p = {r->file, m ? m->line + 1 : 0, m ? m->column + 1 : 0};
    return p;
}

/* Where a node starts: at its tag when it has one (`!reference [a]` is reported at `!`). */
static struct sl_pos node_pos(const struct reader *r, struct fy_event *e, struct fy_token *tag)
{
    return mark_pos(r, tag ? fy_token_start_mark(tag) : fy_event_start_mark(e));
}

static int fail(struct reader *r, int rc, struct sl_pos pos, const char *fmt, ...) SL_PRINTF(4, 5);
static int fail(struct reader *r, int rc, struct sl_pos pos, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (!r->rc)
        sl_diag_vadd(r->diag, SL_DIAG_ERROR, r->file, pos.line, pos.col, fmt, ap);
    va_end(ap);
    if (!r->rc)
        r->rc = rc;
    return rc;
}

/* Copies libfyaml's own syntax errors into the diagnostics. */
static int syntax_error(struct reader *r)
{
    struct fy_diag *d = fy_parser_get_diag(r->fyp);
    void *it = NULL;
    struct fy_diag_error *e;
    bool any = false;
    while (d && (e = fy_diag_errors_iterate(d, &it))) {
        if (!r->rc && r->flow_kind && e->msg &&
            (strstr(e->msg, "without a closing") || strstr(e->msg, "missing comma in flow")))
            sl_diag_add(r->diag, SL_DIAG_ERROR, r->file, r->flow_pos.line, r->flow_pos.col,
                        "invalid YAML: did not find expected ',' or '%c' while parsing a flow "
                        "%s at line %d column %d",
                        r->flow_kind == '[' ? ']' : '}',
                        r->flow_kind == '[' ? "sequence" : "mapping", r->flow_pos.line,
                        r->flow_pos.col);
        else if (!r->rc)
            sl_diag_add(r->diag, SL_DIAG_ERROR, r->file, e->line, e->column, "invalid YAML: %s",
                        e->msg);
        any = true;
        break;
    }
    if (d)
        fy_diag_unref(d); /* fy_parser_get_diag returns a new reference */
    if (!any)
        fail(r, SL_EINVAL, (struct sl_pos){r->file, 0, 0}, "invalid YAML");
    r->rc = SL_EINVAL;
    return SL_EINVAL;
}

static size_t utf8_invalid_at(const unsigned char *s, size_t len);

static struct fy_event *next(struct reader *r)
{
    struct fy_event *e = fy_parser_parse(r->fyp);
    if (!e)
        syntax_error(r);
    return e;
}

static bool ieq(const char *s, size_t n, const char *lit)
{
    return strlen(lit) == n && !strncasecmp(s, lit, n);
}

/* Psych's ScalarScanner for plain scalars, the cases GitLab pipelines meet. */
static void type_plain(struct sl_arena *a, struct sl_node *n, const char *s, size_t len)
{
    if (len == 0 || (len == 1 && s[0] == '~') || ieq(s, len, "null")) {
        n->kind = SL_NODE_NULL;
        n->str = "";
        return;
    }
    if (ieq(s, len, "true") || ieq(s, len, "yes") || ieq(s, len, "on")) {
        n->kind = SL_NODE_BOOL;
        n->str = "true";
        return;
    }
    if (ieq(s, len, "false") || ieq(s, len, "no") || ieq(s, len, "off")) {
        n->kind = SL_NODE_BOOL;
        n->str = "false";
        return;
    }
    /* integers: [-+]? then 0x.. | 0o.. | 0b.. | 0[0-7_]+ (octal) | decimal with _ */
    size_t i = 0;
    bool neg = false;
    if (s[0] == '-' || s[0] == '+') {
        neg = s[0] == '-';
        i = 1;
    }
    if (i < len) {
        int base = 10;
        size_t j = i;
        if (len - i > 2 && s[i] == '0' && (s[i + 1] == 'x' || s[i + 1] == 'X'))
            base = 16, j = i + 2;
        else if (len - i > 2 && s[i] == '0' && (s[i + 1] == 'o' || s[i + 1] == 'O'))
            base = 8, j = i + 2;
        else if (len - i > 2 && s[i] == '0' && (s[i + 1] == 'b' || s[i + 1] == 'B'))
            base = 2, j = i + 2;
        else if (len - i > 1 && s[i] == '0')
            base = 8, j = i + 1;
        bool ok = j < len;
        unsigned long long v = 0;
        bool overflow = false;
        for (size_t k = j; k < len && ok; k++) {
            char c = s[k];
            int d;
            if (c == '_' && base != 10 ? true : (c == '_' && k > j))
                continue;
            if (isdigit((unsigned char)c))
                d = c - '0';
            else if (base == 16 && isxdigit((unsigned char)c))
                d = tolower((unsigned char)c) - 'a' + 10;
            else {
                ok = false;
                break;
            }
            if (d >= base) {
                ok = false;
                break;
            }
            if (v > (~0ULL - (unsigned)d) / (unsigned)base)
                overflow = true;
            v = v * (unsigned)base + (unsigned)d;
        }
        if (ok && !overflow) {
            n->kind = SL_NODE_INT;
            n->str = sl_arena_printf(a, "%s%llu", neg && v ? "-" : "", v);
            return;
        }
        if (ok) { /* too big for 64 bits: Ruby has bignums, keep the digits */
            n->kind = SL_NODE_INT;
            n->str = sl_arena_strndup(a, s, len);
            return;
        }
    }
    /* floats: [-+]?(.digits|digits(.digits?)?)([eE][-+]?digits)? and .inf/.nan */
    {
        char *end = NULL;
        char *tmp = sl_arena_strndup(a, s, len);
        bool has_digit = false;
        for (size_t k = 0; k < len; k++)
            has_digit |= isdigit((unsigned char)s[k]) != 0;
        bool charset = true;
        for (size_t k = 0; k < len; k++)
            if (!strchr("0123456789+-.eE_", s[k]))
                charset = false;
        if (has_digit && charset) {
            strtod(tmp, &end);
            if (end && *end == '\0') {
                n->kind = SL_NODE_FLOAT;
                n->str = tmp;
                return;
            }
        }
        if (ieq(s, len, ".inf") || ieq(s, len, "-.inf") || ieq(s, len, "+.inf") ||
            ieq(s, len, ".nan")) {
            n->kind = SL_NODE_FLOAT;
            n->str = tmp;
            return;
        }
    }
    n->kind = SL_NODE_STR;
    n->str = sl_arena_strndup(a, s, len);
}

static const char *tag_of(struct reader *r, struct fy_token *tag)
{
    if (!tag)
        return NULL;
    const char *h = fy_tag_token_handle0(tag);
    const char *s = fy_tag_token_suffix0(tag);
    return sl_arena_printf(r->a, "%s%s", h ? h : "", s ? s : "");
}

static void remember(struct reader *r, struct fy_token *anchor, struct sl_node *n, size_t size)
{
    if (!anchor)
        return;
    size_t len;
    const char *name = fy_token_get_text(anchor, &len);
    char *key = sl_xstrndup(name, len);
    struct anchor *an = sl_xmalloc(sizeof(*an));
    an->node = n;
    an->size = size;
    free(sl_map_put(&r->anchors, key, an));
    free(key);
}

static int parse_node(struct reader *r, struct fy_event *e, int depth, struct sl_node **out,
                      size_t *size);

static int check_size(struct reader *r, size_t size, struct sl_pos pos)
{
    if (size > r->lim.max_nodes)
        return fail(r, SL_ELIMIT, pos, "The parsed YAML is too big");
    return 0;
}

static void add_pair(struct reader *r, struct sl_node *map, const char *key, struct sl_pos kp,
                     struct sl_node *value)
{
    /* a repeated key replaces the value but keeps its place, as a Ruby Hash does */
    for (size_t i = 0; i < map->n; i++) {
        if (!strcmp(map->pairs[i].key, key)) {
            map->pairs[i].value = value;
            map->pairs[i].key_pos = kp;
            return;
        }
    }
    sl_node_map_push(r->a, map, key, kp, value);
}

/* KEY written at KP in a mapping: a second time is legal YAML 1.1 for Psych, which keeps
 * the last value (so does add_pair), but it is almost always a mistake; warn with both
 * places. WRITTEN maps a key to its index + 1 in *WPOS. */
static void note_written(struct reader *r, struct sl_map *written, struct sl_pos **wpos, size_t *nw,
                         size_t *wcap, const char *key, struct sl_pos kp)
{
    uintptr_t at = (uintptr_t)sl_map_get(written, key);
    if (at) {
        struct sl_pos first = (*wpos)[at - 1];
        sl_diag_add(r->diag, SL_DIAG_WARNING, r->file, kp.line, kp.col,
                    "duplicate key `%s` (first at %d:%d): GitLab keeps this last value", key,
                    first.line, first.col);
        (*wpos)[at - 1] = kp;
        return;
    }
    SL_GROW(*wpos, *wcap, *nw + 1);
    (*wpos)[(*nw)++] = kp;
    sl_map_put(written, key, (void *)(uintptr_t)*nw);
}

/* Psych merges `<<: *a` with Hash#merge! at the point it meets the key: keys written before
 * it are overridden, keys after it override. A list of maps merges with earlier maps
 * winning. */
static int merge_into(struct reader *r, struct sl_node *map, struct sl_node *src, struct sl_pos pos)
{
    if (src && src->kind == SL_NODE_MAP) {
        for (size_t i = 0; i < src->n; i++)
            add_pair(r, map, src->pairs[i].key, src->pairs[i].key_pos, src->pairs[i].value);
        return 0;
    }
    if (src && src->kind == SL_NODE_SEQ) {
        for (size_t i = src->n; i-- > 0;)
            if (!src->items[i] || src->items[i]->kind != SL_NODE_MAP)
                return fail(r, SL_EINVAL, pos, "merge key '<<' expects a hash or a list of hashes");
        /* earlier maps win: apply the list's keys so that the first occurrence wins */
        struct sl_node *tmp = sl_node_new(r->a, SL_NODE_MAP, pos);
        for (size_t i = src->n; i-- > 0;)
            merge_into(r, tmp, src->items[i], pos);
        return merge_into(r, map, tmp, pos);
    }
    return fail(r, SL_EINVAL, pos, "merge key '<<' expects a hash or a list of hashes");
}

static int parse_mapping(struct reader *r, struct fy_event *start, int depth, struct sl_node **out,
                         size_t *size)
{
    struct sl_pos pos = node_pos(r, start, start->mapping_start.tag);
    struct sl_node *map = sl_node_new(r->a, SL_NODE_MAP, pos);
    struct fy_token *anchor = start->mapping_start.anchor;
    size_t total = 1;
    int rc = 0;

    /* keys written in this mapping (not merged in), to warn about a repeated one */
    struct sl_map written = SL_MAP_INIT;
    struct sl_pos *wpos = NULL;
    size_t nw = 0, wcap = 0;

    map->tag = tag_of(r, start->mapping_start.tag);
    for (;;) {
        struct fy_event *ke = next(r);
        if (!ke) {
            rc = SL_EINVAL;
            goto out;
        }
        if (ke->type == FYET_MAPPING_END) {
            fy_parser_event_free(r->fyp, ke);
            break;
        }
        struct sl_pos kp = mark_pos(r, fy_event_start_mark(ke));
        struct sl_node *key = NULL;
        size_t ksize = 0;
        bool merge = ke->type == FYET_SCALAR && ke->scalar.value &&
                     fy_token_scalar_style(ke->scalar.value) == FYSS_PLAIN && !ke->scalar.tag;
        if ((rc = parse_node(r, ke, depth + 1, &key, &ksize)) < 0)
            goto out;
        if (key && !sl_node_is_scalar(key)) {
            rc = fail(r, SL_EINVAL, kp, "mapping keys must be strings, not %s",
                      sl_node_kind_name(key));
            goto out;
        }
        const char *k = key ? key->str : "";
        merge = merge && !strcmp(k, "<<");

        struct fy_event *ve = next(r);
        if (!ve) {
            rc = SL_EINVAL;
            goto out;
        }
        struct sl_pos vp = mark_pos(r, fy_event_start_mark(ve));
        struct sl_node *value = NULL;
        size_t vsize = 0;
        if ((rc = parse_node(r, ve, depth + 1, &value, &vsize)) < 0)
            goto out;
        if (!value)
            value = sl_node_new(r->a, SL_NODE_NULL, vp);
        total += vsize;
        if ((rc = check_size(r, total, pos)) < 0)
            goto out;
        if (merge) {
            if ((rc = merge_into(r, map, value, kp)) < 0)
                goto out;
        } else {
            note_written(r, &written, &wpos, &nw, &wcap, k, kp);
            add_pair(r, map, k, kp, value);
        }
    }
    remember(r, anchor, map, total);
    *out = map;
    *size = total;
out:
    sl_map_release(&written);
    free(wpos);
    return rc;
}

static int parse_sequence(struct reader *r, struct fy_event *start, int depth, struct sl_node **out,
                          size_t *size)
{
    struct sl_pos pos = node_pos(r, start, start->sequence_start.tag);
    struct sl_node *seq = sl_node_new(r->a, SL_NODE_SEQ, pos);
    struct fy_token *anchor = start->sequence_start.anchor;
    size_t total = 1;
    int rc;

    seq->tag = tag_of(r, start->sequence_start.tag);
    for (;;) {
        struct fy_event *ie = next(r);
        if (!ie)
            return SL_EINVAL;
        if (ie->type == FYET_SEQUENCE_END) {
            fy_parser_event_free(r->fyp, ie);
            break;
        }
        struct sl_pos ip = mark_pos(r, fy_event_start_mark(ie));
        struct sl_node *item = NULL;
        size_t isize = 0;
        if ((rc = parse_node(r, ie, depth + 1, &item, &isize)) < 0)
            return rc;
        if (!item)
            item = sl_node_new(r->a, SL_NODE_NULL, ip);
        sl_node_seq_push(r->a, seq, item);
        total += isize;
        if ((rc = check_size(r, total, pos)) < 0)
            return rc;
    }
    remember(r, anchor, seq, total);
    *out = seq;
    *size = total;
    return 0;
}

/* Builds the node that event E starts, consuming E (and, for collections, the events up to
 * the matching end). */
static int parse_node(struct reader *r, struct fy_event *e, int depth, struct sl_node **out,
                      size_t *size)
{
    struct sl_pos pos = mark_pos(r, fy_event_start_mark(e));
    int rc = 0;

    if (depth > r->lim.max_depth) {
        fy_parser_event_free(r->fyp, e);
        return fail(r, SL_ELIMIT, pos, "The parsed YAML is too deep");
    }
    switch (e->type) {
    case FYET_SCALAR: {
        size_t len = 0;
        if (e->scalar.tag)
            pos = node_pos(r, e, e->scalar.tag);
        const char *text = e->scalar.value ? fy_token_get_text(e->scalar.value, &len) : "";
        struct sl_node *n = sl_node_new(r->a, SL_NODE_STR, pos);
        n->tag = tag_of(r, e->scalar.tag);
        enum fy_scalar_style style =
            e->scalar.value ? fy_token_scalar_style(e->scalar.value) : FYSS_PLAIN;
        /* libfyaml 0.7.12 can return a block scalar longer than its content (the rest is
         * uninitialised memory) when the content is not indented past its parent; found by
         * fuzz_config. What we can catch (bytes that are not UTF-8) is a syntax error. */
        if ((style == FYSS_LITERAL || style == FYSS_FOLDED) && text &&
            utf8_invalid_at((const unsigned char *)text, len) < len) {
            fy_parser_event_free(r->fyp, e);
            return fail(r, SL_EINVAL, pos, "invalid YAML: malformed block scalar");
        }
        if ((style == FYSS_LITERAL || style == FYSS_FOLDED) && text && len &&
            text[len - 1] == '\n' && clip_at_eof(r, e->scalar.value))
            len--;
        if (style == FYSS_PLAIN && !n->tag) {
            type_plain(r->a, n, text ? text : "", text ? len : 0);
        } else {
            n->str = sl_arena_strndup(r->a, text ? text : "", text ? len : 0);
            n->quoted = style != FYSS_PLAIN;
        }
        remember(r, e->scalar.anchor, n, 1);
        *out = n;
        *size = 1;
        break;
    }
    case FYET_ALIAS: {
        size_t len;
        const char *name = fy_token_get_text(e->alias.anchor, &len);
        char *key = sl_xstrndup(name, len);
        struct anchor *an = sl_map_get(&r->anchors, key);
        if (!an)
            rc = fail(r, SL_EINVAL, pos, "unknown alias *%s", key);
        else {
            *out = an->node;
            *size = an->size;
        }
        free(key);
        break;
    }
    case FYET_MAPPING_START:
    case FYET_SEQUENCE_START: {
        bool seq = e->type == FYET_SEQUENCE_START;
        struct sl_pos saved = r->flow_pos;
        char saved_kind = r->flow_kind;
        if (fy_event_get_node_style(e) == FYNS_FLOW) {
            r->flow_pos = node_pos(r, e, seq ? e->sequence_start.tag : e->mapping_start.tag);
            r->flow_kind = seq ? '[' : '{';
        }
        rc = seq ? parse_sequence(r, e, depth, out, size) : parse_mapping(r, e, depth, out, size);
        r->flow_pos = saved;
        r->flow_kind = saved_kind;
        break;
    }
    default:
        rc = fail(r, SL_EINVAL, pos, "unexpected YAML event");
    }
    fy_parser_event_free(r->fyp, e);
    return rc;
}

/* Parses one document after its DOCUMENT_START event, through its DOCUMENT_END. */
static int parse_document(struct reader *r, struct sl_node **out)
{
    struct fy_event *e = next(r);
    struct sl_node *root = NULL;
    size_t size = 0;
    int rc;

    if (!e)
        return SL_EINVAL;
    if (e->type == FYET_DOCUMENT_END) {
        fy_parser_event_free(r->fyp, e);
        *out = NULL;
        return 0;
    }
    if ((rc = parse_node(r, e, 1, &root, &size)) < 0)
        return rc;
    if ((rc = check_size(r, size, root->pos)) < 0)
        return rc;
    e = next(r);
    if (!e)
        return SL_EINVAL;
    fy_parser_event_free(r->fyp, e); /* DOCUMENT_END */
    *out = root;
    return 0;
}

static bool only_spec(const struct sl_node *n)
{
    return n && n->kind == SL_NODE_MAP && n->n == 1 && !strcmp(n->pairs[0].key, "spec");
}

/* The offset of the first byte that is not part of valid UTF-8 (or a NUL), or LEN.
 * libfyaml 0.7.12 loops forever on some invalid sequences (found by fuzz_config), and
 * Psych rejects them anyway. */
static size_t utf8_invalid_at(const unsigned char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        unsigned char c = s[i];
        size_t n;
        uint32_t cp;
        if (c == 0)
            return i;
        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf)
            n = 1, cp = c & 0x1f;
        else if (c >= 0xe0 && c <= 0xef)
            n = 2, cp = c & 0x0f;
        else if (c >= 0xf0 && c <= 0xf4)
            n = 3, cp = c & 0x07;
        else
            return i;
        if (len - i <= n)
            return i;
        for (size_t k = 1; k <= n; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return i;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return i;
        i += n + 1;
    }
    return len;
}

/* libfyaml's diagnostics configuration, made once: its default asks isatty(stderr) for
 * colours every time, a system call per parse for output that is never written (errors are
 * collected, nothing is printed) */
static struct fy_diag_cfg diag_cfg;
static pthread_once_t diag_cfg_once = PTHREAD_ONCE_INIT;

static void diag_cfg_init(void)
{
    fy_diag_cfg_default(&diag_cfg);
    diag_cfg.fp = NULL;
    diag_cfg.output_fn = NULL;
    diag_cfg.level = FYET_ERROR;
    diag_cfg.colorize = false;
}

int sl_yaml_parse(struct sl_arena *a, const char *file, const char *buf, size_t len,
                  const struct sl_yaml_limits *limits, struct sl_node **out,
                  struct sl_node **header, struct sl_diag *diag)
{
    struct reader r = {0};
    struct sl_node *docs[2] = {NULL, NULL};
    size_t ndocs = 0;
    struct fy_event *e = NULL;
    struct fy_diag *fdiag = NULL;
    int rc = 0;

    r.a = a;
    r.file = sl_arena_strdup(a, file);
    r.diag = diag;
    r.src = buf;
    r.srclen = len;
    r.lim.max_bytes = limits && limits->max_bytes ? limits->max_bytes : SL_YAML_MAX_BYTES;
    r.lim.max_nodes = limits && limits->max_nodes ? limits->max_nodes : SL_YAML_MAX_NODES;
    r.lim.max_depth = limits && limits->max_depth ? limits->max_depth : SL_YAML_MAX_DEPTH;

    if (len > r.lim.max_bytes) {
        return fail(&r, SL_ELIMIT, (struct sl_pos){r.file, 0, 0},
                    "config file is %zu bytes, more than the limit of %zu bytes", len,
                    r.lim.max_bytes);
    }
    size_t bad = utf8_invalid_at((const unsigned char *)buf, len);
    if (bad < len) {
        int line = 1, col = 1;
        for (size_t i = 0; i < bad; i++) {
            if (buf[i] == '\n')
                line++, col = 1;
            else if (((unsigned char)buf[i] & 0xc0) != 0x80)
                col++;
        }
        return fail(&r, SL_EINVAL, (struct sl_pos){r.file, line, col},
                    buf[bad] ? "invalid YAML: the file is not valid UTF-8"
                             : "invalid YAML: the file contains a NUL byte");
    }
    pthread_once(&diag_cfg_once, diag_cfg_init);
    struct fy_diag_cfg dcfg = diag_cfg;
    fdiag = fy_diag_create(&dcfg);
    if (fdiag)
        fy_diag_set_collect_errors(fdiag, true);
    struct fy_parse_cfg cfg = {
        .flags = FYPCF_QUIET | FYPCF_COLLECT_DIAG | FYPCF_ALLOW_DUPLICATE_KEYS |
                 FYPCF_DEFAULT_VERSION_1_1 | FYPCF_DISABLE_DEPTH_LIMIT,
        .diag = fdiag,
    };
    r.fyp = fy_parser_create(&cfg);
    if (!r.fyp || fy_parser_set_string(r.fyp, buf, len) != 0) {
        rc = fail(&r, SL_EIO, (struct sl_pos){r.file, 0, 0}, "cannot create the YAML parser");
        goto out;
    }
    while ((e = next(&r))) {
        enum fy_event_type t = e->type;
        fy_parser_event_free(r.fyp, e);
        if (t == FYET_STREAM_END)
            break;
        if (t != FYET_DOCUMENT_START)
            continue;
        struct sl_node *doc = NULL;
        if ((rc = parse_document(&r, &doc)) < 0)
            goto out;
        if (ndocs == 2 || (ndocs == 1 && !only_spec(docs[0]))) {
            rc = fail(&r, SL_EINVAL, doc ? doc->pos : (struct sl_pos){r.file, 0, 0},
                      "a pipeline file holds one YAML document (after an optional `spec:` "
                      "header)");
            goto out;
        }
        docs[ndocs++] = doc;
    }
    if (r.rc) {
        rc = r.rc;
        goto out;
    }
    if (ndocs == 2) {
        if (header)
            *header = docs[0];
        *out = docs[1];
    } else {
        if (header)
            *header = NULL;
        *out = ndocs ? docs[0] : NULL;
    }
out:
    if (!rc && r.rc)
        rc = r.rc;
    {
        size_t it = 0;
        void *v;
        while (sl_map_next(&r.anchors, &it, NULL, &v))
            free(v);
        sl_map_release(&r.anchors);
    }
    if (r.fyp)
        fy_parser_destroy(r.fyp);
    if (fdiag)
        fy_diag_destroy(fdiag);
    return rc;
}
