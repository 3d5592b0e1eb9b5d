/* inputs.c: `spec:inputs` of the main file (GitLab's pipeline inputs): every
 * `$[[ inputs.NAME ]]` of the document is replaced by the input's value, which locally is
 * its `default` (no one passes pipeline inputs to a local run). A value that stands alone
 * in a scalar keeps its type (a boolean, a list); inside a longer string it is its text.
 * Interpolation functions (`| expand_vars`, `| truncate(...)`) are not supported and say
 * so. */
#include "base/compat.h"
#include "config/resolve.h"
#include "base/str.h"

#include <ctype.h>

struct interp {
    struct sl_resolve *r;
    const struct sl_node *inputs; /* spec:inputs */
};

/* The input named by TEXT[0..len) ("inputs.NAME", blanks trimmed) or NULL with an error. */
static const struct sl_node *input_value(struct interp *in, const char *text, size_t len,
                                         struct sl_pos pos)
{
    while (len && isspace((unsigned char)*text))
        text++, len--;
    while (len && isspace((unsigned char)text[len - 1]))
        len--;
    if (memchr(text, '|', len)) {
        sl_resolve_error(in->r, pos,
                         "interpolation functions are not supported by sluice: "
                         "`$[[ %.*s ]]`",
                         (int)len, text);
        return NULL;
    }
    if (len < 7 || strncmp(text, "inputs.", 7)) {
        sl_resolve_error(in->r, pos, "unknown interpolation provided: `%.*s`", (int)len, text);
        return NULL;
    }
    char name[256];
    snprintf(name, sizeof(name), "%.*s", (int)(len - 7 > 255 ? 255 : len - 7), text + 7);
    const struct sl_node *spec = sl_node_get(in->inputs, name);
    if (!spec) {
        sl_resolve_error(in->r, pos, "unknown input name provided: `%s` in `inputs.%s`", name,
                         name);
        return NULL;
    }
    const struct sl_node *def = sl_node_get(spec, "default");
    if (!def) {
        sl_resolve_error(in->r, pos, "`%s` input: required value has not been provided", name);
        return NULL;
    }
    return def;
}

static struct sl_node *interpolate(struct interp *in, struct sl_node *n, int depth);

static struct sl_node *interpolate_scalar(struct interp *in, struct sl_node *n)
{
    const char *s = n->str;
    const char *open = strstr(s, "$[[");
    if (!open)
        return n;
    /* the whole scalar is one interpolation: the value keeps its type */
    const char *close = strstr(open, "]]");
    if (open == s && close && close[2] == '\0') {
        const struct sl_node *v = input_value(in, s + 3, (size_t)(close - s - 3), n->pos);
        return v ? (struct sl_node *)v : n;
    }
    struct sl_str out = SL_STR_INIT;
    const char *p = s;
    while ((open = strstr(p, "$[[")) && (close = strstr(open, "]]"))) {
        sl_str_add(&out, p, (size_t)(open - p));
        const struct sl_node *v = input_value(in, open + 3, (size_t)(close - open - 3), n->pos);
        if (v && !sl_node_is_scalar(v))
            sl_resolve_error(in->r, n->pos,
                             "an array or hash input cannot be interpolated "
                             "into a string");
        else if (v)
            sl_str_adds(&out, v->str);
        p = close + 2;
    }
    sl_str_adds(&out, p);
    struct sl_node *c = sl_node_new_str(in->r->a, out.buf, n->pos);
    c->quoted = true;
    sl_str_release(&out);
    return c;
}

static struct sl_node *interpolate(struct interp *in, struct sl_node *n, int depth)
{
    if (!n || depth > SL_YAML_MAX_DEPTH)
        return n;
    if (n->kind == SL_NODE_STR)
        return interpolate_scalar(in, n);
    if (n->kind != SL_NODE_SEQ && n->kind != SL_NODE_MAP)
        return n;
    struct sl_node *copy = NULL; /* made on the first change: nodes are immutable */
    for (size_t i = 0; i < n->n; i++) {
        struct sl_node *old = n->kind == SL_NODE_SEQ ? n->items[i] : n->pairs[i].value;
        struct sl_node *now = interpolate(in, old, depth + 1);
        if (now == old)
            continue;
        if (!copy)
            copy = sl_node_shallow_copy(in->r->a, n);
        if (n->kind == SL_NODE_SEQ)
            copy->items[i] = now;
        else
            copy->pairs[i].value = now;
    }
    return copy ? copy : n;
}

int sl_config_interpolate_inputs(struct sl_resolve *r, struct sl_node **root,
                                 const struct sl_node *header)
{
    const struct sl_node *inputs = sl_node_get(sl_node_get(header, "spec"), "inputs");
    if (!inputs || inputs->kind != SL_NODE_MAP)
        return 0;
    struct interp in = {r, inputs};
    *root = interpolate(&in, *root, 0);
    return 0;
}
