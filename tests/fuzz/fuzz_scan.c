/* fuzz_scan.c: libFuzzer target for secret detection (src/scan): a project's rule file
 * (gitleaks TOML) read and compiled, and any text scanned with the default rules and with
 * the input's own rules when they load. Properties: no crash, every refusal says why, a
 * finding lies inside the text and its redacted excerpt never holds the secret. */
#include "base/compat.h"
#include "base/error.h"
#include "scan/scan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct ctx {
    const char *text;
    size_t len;
};

static int check(void *vctx, const struct sl_scan_finding *f)
{
    const struct ctx *c = vctx;
    if (f->start >= f->end || f->end > c->len || f->line_start > f->start || f->line_end > c->len)
        abort();
    char *ex = sl_scan_redact(c->text, f);
    size_t n = f->end - f->start;
    if (n >= 8 && memmem(ex, strlen(ex), c->text + f->start, n))
        abort();
    free(ex);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct sl_scan *defaults;
    struct sl_error err = SL_ERROR_INIT;
    if (!defaults && sl_scan_default(&defaults, &err) < 0)
        abort();
    struct ctx c = {(const char *)data, size};
    sl_scan_text(defaults, NULL, c.text, c.len, check, &c);
    struct sl_scan *mine = NULL;
    if (sl_scan_load(&mine, c.text, c.len, "fuzz.toml", &err) < 0) {
        if (!err.message)
            abort();
    } else {
        sl_scan_text(mine, "a/b.txt", c.text, c.len, check, &c);
    }
    sl_scan_free(mine);
    sl_error_release(&err);
    return 0;
}
