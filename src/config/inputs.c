/* inputs.c: GitLab's CI inputs (lib/gitlab/ci/config/interpolation/ and header/).
 *
 * A file whose first YAML document is a `spec:` header declares inputs; the file that
 * includes it passes values (`include: - local: x.yml inputs: {...}`), and the main file's
 * values come from the pipeline's creator (`sluice run/plan --input`, the API's `inputs`).
 * Each declared input is checked as GitLab's Inputs classes check it: a type (string when
 * unset, number, boolean, array), required unless it has a `default`, `options` (string
 * and number only), `regex` (strings only, matched through the injected matcher), and for
 * inputs with `rules` the first rule that holds gives the default and options.
 *
 * Then every `$[[ inputs.NAME | fn | ... ]]` block of the document, in values and keys, is
 * replaced (Interpolation::Template): a block that is the whole scalar keeps its value's
 * type, and an array that replaces an item of an array is spliced into it; inside a longer
 * string a value is its text (an array as Ruby's inspect writes it). Functions: at most
 * three of `truncate(offset, length)` and `expand_vars` (known variables only, as
 * ExpandVariables.expand_existing). Messages are GitLab's, at the offending node. */
#include "base/compat.h"
#include "config/resolve.h"
#include "base/alloc.h"
#include "base/str.h"

#include <ctype.h>
#include <errno.h>

#define MAX_FUNCTIONS 3
#define MAX_ACCESS_OBJECTS 5
#define MAX_ACCESS_BYTES 1024
#define MAX_BLOCKS 10000
#define MAX_NODES 500000
#define MAX_NODE_BYTES (1024 * 1024)
#define MAX_TEMPLATE_ERRORS 3 /* GitLab surfaces the first three */

static sl_config_regex_match_fn regex_match;

void sl_config_set_regex_matcher(sl_config_regex_match_fn fn)
{
    regex_match = fn;
}

bool sl_config_input_fits(const char *type, const struct sl_node *v)
{
    if (!strcmp(type, "number"))
        return v->kind == SL_NODE_INT || v->kind == SL_NODE_FLOAT;
    if (!strcmp(type, "boolean"))
        return v->kind == SL_NODE_BOOL;
    if (!strcmp(type, "array"))
        return v->kind == SL_NODE_SEQ;
    return v->kind == SL_NODE_STR;
}

/* --- the inputs: declared specs against the values given ------------------------------ */

static const char *const input_types[] = {"array", "boolean", "number", "string", NULL};

/* The input's type, or NULL (reported) when its specification matches none. */
static const char *spec_type(struct sl_resolve *r, const char *name, const struct sl_node *spec,
                             struct sl_pos at)
{
    if (!spec || spec->kind == SL_NODE_NULL)
        return "string";
    if (spec->kind == SL_NODE_MAP) {
        const struct sl_node *t = sl_node_get(spec, "type");
        if (!t)
            return "string";
        for (size_t i = 0; input_types[i]; i++)
            if (sl_node_is_scalar(t) && !strcmp(t->str, input_types[i]))
                return input_types[i];
    }
    sl_resolve_error(r, at,
                     "unknown input specification for `%s` (valid types: array, boolean, "
                     "number, string)",
                     name);
    return NULL;
}

/* Input rules (18.7): the first rule whose `if` holds (decided by the caller's hook, as for
 * include:rules) gives the default and the options. NULL when none holds. */
static const struct sl_node *matching_rule(struct sl_resolve *r, const struct sl_node *rules)
{
    const struct sl_config_opts *o = &r->opts;
    for (size_t i = 0; rules && rules->kind == SL_NODE_SEQ && i < rules->n; i++) {
        const struct sl_node *rule = rules->items[i];
        if (rule->kind != SL_NODE_MAP)
            continue;
        if (!sl_node_get(rule, "if") || !o->include_rule ||
            o->include_rule(o->include_rule_ctx, rule, o->vars))
            return rule;
    }
    return NULL;
}

/* run_validations of BaseInput and its subclasses, for the default (IS_DEFAULT) or the
 * value given. */
static void validate_value(struct sl_resolve *r, const char *name, const char *type,
                           const struct sl_node *spec, const struct sl_node *options,
                           const struct sl_node *v, bool is_default)
{
    const char *which = is_default ? "default" : "provided";
    bool str = !strcmp(type, "string"), num = !strcmp(type, "number");
    if (!sl_config_input_fits(type, v))
        sl_resolve_error(r, v->pos, "`%s` input: %s value is not %s %s", name, which,
                         !strcmp(type, "array") ? "an" : "a", type);
    if (options && !str && !num) {
        sl_resolve_error(r, options->pos,
                         "`%s` input: Options can only be used with string and number inputs",
                         name);
    } else if (options && options->kind == SL_NODE_SEQ && v->kind != SL_NODE_NULL) {
        bool found = false;
        for (size_t i = 0; i < options->n && !found; i++)
            found = sl_node_equal(options->items[i], v);
        if (!found)
            sl_resolve_error(r, v->pos,
                             "`%s` input: `%s` cannot be used because it is not in the list of "
                             "%sallowed options",
                             name, sl_node_is_scalar(v) ? v->str : "?", num ? "the " : "");
    }
    const struct sl_node *re = sl_node_get(spec, "regex");
    if (re && !str) {
        sl_resolve_error(r, re->pos,
                         "`%s` input: RegEx validation can only be used with string "
                         "inputs",
                         name);
    } else if (re && v->kind == SL_NODE_STR && regex_match) {
        int m = sl_node_is_scalar(re) ? regex_match(re->str, v->str) : -1;
        if (m < 0)
            sl_resolve_error(r, re->pos, "`%s` input: invalid regular expression", name);
        else if (!m)
            sl_resolve_error(r, v->pos,
                             "`%s` input: %s value does not match required RegEx "
                             "pattern",
                             name, which);
    }
}

/* The map of every input's actual value (given, else default), or NULL with errors. */
static struct sl_node *input_values(struct sl_resolve *r, const struct sl_node *specs,
                                    const struct sl_node *args, struct sl_pos at)
{
    size_t before = r->errors;
    struct sl_node *out = sl_node_new(r->a, SL_NODE_MAP, at);
    struct sl_str unknown = SL_STR_INIT;

    for (size_t i = 0; args && args->kind == SL_NODE_MAP && i < args->n; i++)
        if (!sl_node_get_pair(specs, args->pairs[i].key))
            sl_str_addf(&unknown, "%s%s", unknown.len ? ", " : "", args->pairs[i].key);
    if (unknown.len)
        sl_resolve_error(r, args->pos, "unknown input arguments: %s", unknown.buf);
    sl_str_release(&unknown);

    for (size_t i = 0; i < specs->n; i++) {
        const char *name = specs->pairs[i].key;
        const struct sl_node *spec = specs->pairs[i].value;
        const char *type = spec_type(r, name, spec, specs->pairs[i].key_pos);
        if (!type)
            continue;
        const struct sl_node *given = sl_node_get(args, name);
        const struct sl_node *options = sl_node_get(spec, "options");
        const struct sl_pair *def = sl_node_get_pair(spec, "default");
        const struct sl_node *rules = sl_node_get(spec, "rules");
        if (rules) {
            const struct sl_node *rule = matching_rule(r, rules);
            def = rule ? sl_node_get_pair(rule, "default") : NULL;
            options = rule ? sl_node_get(rule, "options") : NULL;
        }
        if (given && given->kind == SL_NODE_NULL)
            given = NULL; /* nil counts as not given (BaseInput#actual_value) */
        if (!def && !given) {
            sl_resolve_error(r, specs->pairs[i].key_pos,
                             "`%s` input: required value has not been provided", name);
            continue;
        }
        if (def)
            validate_value(r, name, type, spec, options, def->value, true);
        if (given)
            validate_value(r, name, type, spec, options, given, false);
        sl_node_map_push(r->a, out, name, specs->pairs[i].key_pos,
                         given ? (struct sl_node *)given : def->value);
    }
    return r->errors > before ? NULL : out;
}

/* --- blocks: $[[ access | function ... ]] ---------------------------------------------- */

struct interp {
    struct sl_resolve *r;
    const struct sl_node *values; /* input name -> value */
    size_t nodes, blocks, errors;
};

static void interp_error(struct interp *in, struct sl_pos pos, const char *msg)
{
    if (in->errors++ < MAX_TEMPLATE_ERRORS)
        sl_resolve_error(in->r, pos, "%s", msg);
}

/* Finds the next block at or after S as GitLab's BLOCK_REGEXP does
 * (a `$[[`, blanks, a content of two characters or more on one line, blanks, `]]`):
 * START and END delimit the block, DATA and DLEN its content. */
static bool next_block(const char *s, const char **start, const char **end, const char **data,
                       size_t *dlen)
{
    for (const char *open = strstr(s, "$[["); open; open = strstr(open + 1, "$[[")) {
        const char *p = open + 3;
        while (isspace((unsigned char)*p))
            p++;
        if (!*p)
            return false;
        /* the content's last non-blank, the first one followed by blanks and `]]`; `.`
         * does not cross a line break */
        for (const char *e = p + 1; *e && *e != '\n'; e++) {
            if (isspace((unsigned char)*e))
                continue;
            const char *q = e + 1;
            while (isspace((unsigned char)*q))
                q++;
            if (q[0] == ']' && q[1] == ']') {
                *start = open;
                *end = q + 2;
                *data = p;
                *dlen = (size_t)(e + 1 - p);
                return true;
            }
        }
    }
    return false;
}

/* ExpandVariables.expand_existing over the pipeline variables: `$V`, `${V}`, `%V%` of known
 * variables replaced, anything else kept. */
static char *expand_existing(struct interp *in, const char *s)
{
    struct sl_str out = SL_STR_INIT;
    while (*s) {
        const char *name = NULL, *after = NULL;
        size_t n = 0;
        if (*s == '$' || *s == '%') {
            bool brace = s[0] == '$' && s[1] == '{';
            name = s + 1 + brace;
            if (isalpha((unsigned char)*name) || *name == '_')
                while (isalnum((unsigned char)name[n]) || name[n] == '_')
                    n++;
            char close = s[0] == '%' ? '%' : brace ? '}' : 0;
            if (n && (!close || name[n] == close))
                after = name + n + (close ? 1 : 0);
        }
        const char *value = NULL;
        for (const char *const *v = in->r->opts.vars; after && v && *v; v++)
            if (!strncmp(*v, name, n) && (*v)[n] == '=')
                value = *v + n + 1; /* the last one given wins */
        if (value) {
            sl_str_adds(&out, value);
            s = after;
        } else {
            sl_str_addc(&out, *s++);
        }
    }
    return sl_str_detach(&out);
}

/* Ruby's String#[offset, length] on characters (UTF-8); an offset past the end is "". */
static char *truncate_chars(const char *s, unsigned long offset, unsigned long length)
{
    const char *p = s;
    for (unsigned long i = 0; i < offset && *p; i++)
        do
            p++;
        while ((*p & 0xC0) == 0x80);
    const char *e = p;
    for (unsigned long i = 0; i < length && *e; i++)
        do
            e++;
        while ((*e & 0xC0) == 0x80);
    return sl_xstrndup(p, (size_t)(e - p));
}

/* `truncate(OFFSET, LENGTH)` as GitLab's pattern reads it (the closing parenthesis is
 * optional there too). */
static bool parse_truncate(const char *f, unsigned long *offset, unsigned long *length)
{
    if (strncmp(f, "truncate(", 9))
        return false;
    const char *p = f + 9;
    char *e;
    while (isspace((unsigned char)*p))
        p++;
    if (!isdigit((unsigned char)*p))
        return false;
    errno = 0;
    *offset = strtoul(p, &e, 10);
    for (p = e; isspace((unsigned char)*p); p++)
        ;
    if (*p++ != ',')
        return false;
    while (isspace((unsigned char)*p))
        p++;
    if (!isdigit((unsigned char)*p))
        return false;
    *length = strtoul(p, &e, 10);
    for (p = e; isspace((unsigned char)*p); p++)
        ;
    if (*p == ')')
        p++;
    return !*p && errno == 0;
}

static void trim(const char **s, size_t *n)
{
    while (*n && isspace((unsigned char)**s))
        (*s)++, (*n)--;
    while (*n && isspace((unsigned char)(*s)[*n - 1]))
        (*n)--;
}

/* The value of one block's DATA, or NULL after reporting (at POS) why not. */
static const struct sl_node *block_value(struct interp *in, const char *data, size_t dlen,
                                         struct sl_pos pos)
{
    struct sl_resolve *r = in->r;
    const char *parts[64];
    size_t plen[64], np = 0;
    const struct sl_node *v = NULL;
    char *msg = NULL;

    /* data.split('|').map(&:strip): trailing empty fields dropped */
    for (const char *p = data, *end = data + dlen; np < SL_ARRAY_LEN(parts);) {
        const char *bar = memchr(p, '|', (size_t)(end - p));
        parts[np] = p;
        plen[np++] = (size_t)((bar ? bar : end) - p);
        if (!bar)
            break;
        p = bar + 1;
    }
    while (np > 1 && plen[np - 1] == 0)
        np--;
    for (size_t i = 0; i < np; i++)
        trim(&parts[i], &plen[i]);

    /* access: `inputs.NAME`, split('.', 5) */
    const char *acc = parts[0];
    size_t alen = plen[0];
    const char *objs[MAX_ACCESS_OBJECTS];
    size_t olen[MAX_ACCESS_OBJECTS], no = 0;
    for (const char *p = acc, *end = acc + alen;;) {
        const char *dot = no + 1 < MAX_ACCESS_OBJECTS ? memchr(p, '.', (size_t)(end - p)) : NULL;
        objs[no] = p;
        olen[no++] = (size_t)((dot ? dot : end) - p);
        if (!dot)
            break;
        p = dot + 1;
    }
    if (no <= 1 || alen > MAX_ACCESS_BYTES) {
        interp_error(in, pos,
                     no <= 1 ? "invalid pattern used for interpolation. valid pattern is $[[ "
                               "inputs.input ]]"
                             : "maximum interpolation expression size exceeded");
        return NULL;
    }
    for (size_t i = 0; i < no; i++) {
        char *key = sl_xstrndup(objs[i], olen[i]);
        const struct sl_node *next = NULL;
        if (i == 0 && !strcmp(key, "inputs"))
            next = in->values;
        else if (i > 0 && v && v->kind == SL_NODE_MAP)
            next = sl_node_get(v, key);
        if (!next) {
            msg = sl_xasprintf("unknown input name provided: `%s` in `%.*s`", key, (int)alen, acc);
            interp_error(in, pos, msg);
            free(msg);
            free(key);
            return NULL;
        }
        free(key);
        v = next;
    }
    if (np - 1 > MAX_FUNCTIONS) {
        interp_error(in, pos, "too many functions in interpolation block");
        return NULL;
    }
    /* the function stack: every name must match before any runs */
    bool ok = true;
    for (size_t i = 1; i < np; i++) {
        unsigned long o, l;
        char *f = sl_xstrndup(parts[i], plen[i]);
        if (strcmp(f, "expand_vars") && !parse_truncate(f, &o, &l)) {
            msg = sl_xasprintf("no function matching `%s`: check that the function name, "
                               "arguments, and types are correct",
                               f);
            interp_error(in, pos, msg);
            free(msg);
            ok = false;
        }
        free(f);
    }
    for (size_t i = 1; ok && i < np; i++) {
        unsigned long o = 0, l = 0;
        char *f = sl_xstrndup(parts[i], plen[i]);
        bool expand = !strcmp(f, "expand_vars");
        if (!expand)
            parse_truncate(f, &o, &l);
        if (v->kind != SL_NODE_STR) {
            msg = sl_xasprintf("error in `%s` function: invalid input type: %s can only be used "
                               "with string inputs",
                               expand ? "expand_vars" : "truncate",
                               expand ? "expand_vars" : "truncate");
            interp_error(in, pos, msg);
            free(msg);
            free(f);
            return NULL;
        }
        char *s = expand ? expand_existing(in, v->str) : truncate_chars(v->str, o, l);
        struct sl_node *nv = sl_node_new_str(r->a, s, v->pos);
        nv->quoted = true;
        v = nv;
        free(s);
        free(f);
    }
    return ok ? v : NULL;
}

/* Ruby's to_s of a value put inside a string. */
static void add_text(struct sl_str *out, const struct sl_node *v)
{
    if (v->kind == SL_NODE_SEQ || v->kind == SL_NODE_MAP)
        sl_node_inspect(out, v);
    else
        sl_str_adds(out, v->str);
}

/* S interpolated: *whole is the value when one block is all of S (type kept), else NULL and
 * the text is returned (caller frees). NULL and *whole NULL: S has no block, or an error. */
static char *interpolate_text(struct interp *in, const char *s, struct sl_pos pos,
                              const struct sl_node **whole, bool *failed)
{
    const char *start, *end, *data;
    size_t dlen;
    *whole = NULL;
    *failed = false;
    if (!strstr(s, "$[[") || !next_block(s, &start, &end, &data, &dlen))
        return NULL;
    if (strlen(s) > MAX_NODE_BYTES) {
        interp_error(in, pos, "config node too large");
        *failed = true;
        return NULL;
    }
    struct sl_str out = SL_STR_INIT;
    const char *p = s;
    bool first = true;
    while (next_block(p, &start, &end, &data, &dlen)) {
        if (++in->blocks > MAX_BLOCKS) {
            interp_error(in, pos, "too many interpolation blocks");
            *failed = true;
            break;
        }
        const struct sl_node *v = block_value(in, data, dlen, pos);
        if (!v) {
            *failed = true;
            break;
        }
        if (first && start == s && !*end) {
            *whole = v;
            break;
        }
        first = false;
        sl_str_add(&out, p, (size_t)(start - p));
        add_text(&out, v);
        p = end;
    }
    if (*failed || *whole) {
        sl_str_release(&out);
        return NULL;
    }
    sl_str_adds(&out, p);
    return sl_str_detach(&out);
}

static struct sl_node *interpolate(struct interp *in, struct sl_node *n, int depth);

static struct sl_node *interpolate_scalar(struct interp *in, struct sl_node *n)
{
    const struct sl_node *whole;
    bool failed;
    char *text = interpolate_text(in, n->str, n->pos, &whole, &failed);
    if (whole)
        return (struct sl_node *)whole;
    if (!text)
        return n;
    struct sl_node *c = sl_node_new_str(in->r->a, text, n->pos);
    c->quoted = true;
    free(text);
    return c;
}

static struct sl_node *interpolate(struct interp *in, struct sl_node *n, int depth)
{
    if (!n || depth > SL_YAML_MAX_DEPTH || in->errors)
        return n;
    if (++in->nodes > MAX_NODES) {
        if (in->nodes == MAX_NODES + 1)
            interp_error(in, n->pos, "config too large");
        return n;
    }
    if (n->kind == SL_NODE_STR)
        return interpolate_scalar(in, n);
    if (n->kind == SL_NODE_SEQ) {
        struct sl_node *copy = NULL; /* made on the first change: nodes are immutable */
        for (size_t i = 0; i < n->n; i++) {
            struct sl_node *old = n->items[i], *now = interpolate(in, old, depth + 1);
            if (now == old && !copy)
                continue;
            if (!copy) {
                copy = sl_node_new(in->r->a, SL_NODE_SEQ, n->pos);
                copy->quoted = n->quoted;
                for (size_t j = 0; j < i; j++)
                    sl_node_seq_push(in->r->a, copy, n->items[j]);
            }
            /* an array input replacing a string item is spliced in (Config#recursive_replace) */
            if (old->kind == SL_NODE_STR && now->kind == SL_NODE_SEQ)
                for (size_t j = 0; j < now->n; j++)
                    sl_node_seq_push(in->r->a, copy, now->items[j]);
            else
                sl_node_seq_push(in->r->a, copy, now);
        }
        return copy ? copy : n;
    }
    if (n->kind != SL_NODE_MAP)
        return n;
    struct sl_node *copy = NULL;
    for (size_t i = 0; i < n->n; i++) {
        const struct sl_pair *p = &n->pairs[i];
        const struct sl_node *whole = NULL;
        bool failed = false;
        char *key = strstr(p->key, "$[[")
                        ? interpolate_text(in, p->key, p->key_pos, &whole, &failed)
                        : NULL;
        if (whole) {
            struct sl_str ks = SL_STR_INIT;
            add_text(&ks, whole);
            key = sl_str_detach(&ks);
        }
        struct sl_node *now = interpolate(in, p->value, depth + 1);
        if (!key && now == p->value) {
            if (copy)
                sl_node_map_push(in->r->a, copy, p->key, p->key_pos, now);
            continue;
        }
        if (!copy) {
            copy = sl_node_new(in->r->a, SL_NODE_MAP, n->pos);
            for (size_t j = 0; j < i; j++)
                sl_node_map_push(in->r->a, copy, n->pairs[j].key, n->pairs[j].key_pos,
                                 n->pairs[j].value);
        }
        sl_node_map_push(in->r->a, copy, key ? sl_arena_strdup(in->r->a, key) : p->key, p->key_pos,
                         now);
        free(key);
    }
    return copy ? copy : n;
}

/* --- entry points --------------------------------------------------------------------- */

int sl_config_interpolate_inputs(struct sl_resolve *r, struct sl_node **root,
                                 const struct sl_node *header, const struct sl_node *args,
                                 struct sl_pos at)
{
    const struct sl_node *specs = sl_node_get(sl_node_get(header, "spec"), "inputs");
    bool given = args && args->kind == SL_NODE_MAP && args->n;
    if (!specs || specs->kind != SL_NODE_MAP) {
        if (given)
            sl_resolve_error(r, args->pos,
                             "Given inputs not defined in the `spec` section of the included "
                             "configuration file");
        return 0;
    }
    struct sl_node *values = input_values(r, specs, args, at);
    if (!values)
        return 0;
    struct interp in = {r, values, 0, 0, 0};
    *root = interpolate(&in, *root, 0);
    return 0;
}

struct sl_node *sl_config_inputs_from_strings(struct sl_resolve *r, const struct sl_node *header,
                                              const char *const *inputs, struct sl_pos at)
{
    const struct sl_node *specs = sl_node_get(sl_node_get(header, "spec"), "inputs");
    struct sl_node *out = NULL;
    for (const char *const *i = inputs; i && *i; i++) {
        const char *eq = strchr(*i, '=');
        char *name = sl_xstrndup(*i, eq ? (size_t)(eq - *i) : strlen(*i));
        const char *text = eq ? eq + 1 : "";
        const struct sl_node *spec = sl_node_get(specs, name);
        const struct sl_node *t = sl_node_get(spec, "type");
        const char *type = sl_node_is_scalar(t) ? t->str : "string";
        struct sl_node *v = NULL;
        if (!strcmp(type, "number") || !strcmp(type, "boolean") || !strcmp(type, "array")) {
            /* typed as YAML reads the text (`3`, `true`, `[a, b]`); a mismatch is then the
             * input's own "provided value is not a ..." */
            struct sl_node *doc = NULL;
            struct sl_diag d = SL_DIAG_INIT;
            if (sl_yaml_parse(r->a, at.file, text, strlen(text), &r->yaml, &doc, NULL, &d) == 0 &&
                doc && sl_config_input_fits(type, doc))
                v = doc;
            sl_diag_release(&d);
        }
        if (!v) {
            v = sl_node_new_str(r->a, text, at);
            v->quoted = true;
        }
        v->pos = at;
        if (!out)
            out = sl_node_new(r->a, SL_NODE_MAP, at);
        /* the last one given wins */
        out = sl_config_map_with(r->a, out, sl_arena_strdup(r->a, name), at, v);
        free(name);
    }
    return out;
}
