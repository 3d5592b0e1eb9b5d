/* fuzz_expand.c: libFuzzer target for variable expansion ($V, ${V}, %V%, $$, raw
 * variables, references between variables and their cycles).
 *
 * Each input line `NAME=VALUE` (or `!NAME=VALUE` for a raw one) defines a variable; the
 * last line is also expanded on its own. Properties: expanding every variable either
 * succeeds or reports a cycle, never crashes or loops; expansion with and without
 * keep_undefined, the runner's expansion and both environments build for any values. */
#include "base/compat.h"
#include "base/alloc.h"
#include "base/error.h"
#include "expr/vars.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_VARS 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 16384)
        return 0;
    char *text = sl_xstrndup((const char *)data, size);
    struct sl_vars v;
    memset(&v, 0, sizeof(v));
    const char *last = text;
    size_t n = 0;
    for (char *line = text, *next; line && n < MAX_VARS; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        last = line;
        bool raw = *line == '!';
        char *eq = strchr(line + raw, '=');
        if (!eq || eq == line + raw)
            continue;
        *eq = '\0';
        sl_vars_set(&v, line + raw, eq + 1, raw);
        *eq = '=';
        n++;
    }
    struct sl_vars copy;
    memset(&copy, 0, sizeof(copy));
    sl_vars_copy(&copy, &v);
    struct sl_error err = SL_ERROR_INIT;
    (void)sl_vars_expand_all(&copy, &err); /* a cycle is an error, not a hang */
    free(sl_vars_expand(&v, last, true));
    free(sl_vars_expand(&v, last, false));
    free(sl_vars_runner_expand(&v, last));
    free(sl_vars_unescape(last));
    sl_vars_envp_free(sl_vars_envp(&v));
    sl_vars_envp_free(sl_vars_envp_runner(&v));
    sl_error_release(&err);
    sl_vars_release(&copy);
    sl_vars_release(&v);
    free(text);
    return 0;
}
