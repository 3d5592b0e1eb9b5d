/* fuzz_expr.c: libFuzzer target for the CI expression language (rules:if, only:variables).
 *
 * The input's first line is the expression; each further line `NAME=VALUE` defines a
 * variable the evaluation can see. Properties: compiling never crashes; sl_expr_valid
 * agrees with sl_expr_compile; a compiled expression prints its tree and evaluates (with
 * and without variables) without crashing, and sl_expr_matches gives the same verdict as
 * compiling and evaluating. */
#include "base/compat.h"
#include "base/alloc.h"
#include "base/error.h"
#include "expr/expr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_VARS 16

struct vars {
    char *name[MAX_VARS], *value[MAX_VARS];
    size_t n;
};

static const char *lookup(void *ctx, const char *name)
{
    struct vars *v = ctx;
    for (size_t i = 0; i < v->n; i++)
        if (!strcmp(v->name[i], name))
            return v->value[i];
    return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 8192)
        return 0;
    char *text = sl_xstrndup((const char *)data, size);
    char *nl = strchr(text, '\n');
    struct vars v = {0};
    if (nl) {
        *nl = '\0';
        for (char *line = nl + 1, *next; line && v.n < MAX_VARS; line = next) {
            next = strchr(line, '\n');
            if (next)
                *next++ = '\0';
            char *eq = strchr(line, '=');
            if (!eq)
                continue;
            *eq = '\0';
            v.name[v.n] = line;
            v.value[v.n++] = eq + 1;
        }
    }
    struct sl_expr *e = NULL;
    struct sl_error err = SL_ERROR_INIT;
    int rc = sl_expr_compile(&e, text, &err);
    if ((rc == 0) != sl_expr_valid(text))
        abort(); /* lint and rules would disagree about the same text */
    if (rc == 0) {
        free(sl_expr_tree(e));
        struct sl_expr_value out;
        sl_expr_eval(e, NULL, NULL, &out);
        sl_expr_value_release(&out);
        bool verdict = sl_expr_truthful(e, lookup, &v);
        if (sl_expr_matches(text, lookup, &v) != verdict)
            abort(); /* the cached path must decide as the compiled one */
    }
    char *tokens = NULL;
    if (sl_expr_tokens(text, &tokens, NULL) == 0)
        free(tokens);
    sl_expr_free(e);
    sl_error_release(&err);
    free(text);
    return 0;
}
