/* fuzz_mask.c: libFuzzer target for the streaming masker (exec/mask.h).
 *
 * Property: no input lets a secret through. For secrets of SL_MASK_MIN_LEN bytes or more
 * without '[' or ']' (the guarantee of mask.h), the output holds none of them, whole, in
 * base64, hex (either case) or URL-encoded (either case); and feeding the text in any
 * pieces gives the same output as masking it whole.
 *
 * Input: byte 0 the number of secrets (1-4), byte 1 a seed for the piece sizes, then per
 * secret a length byte (8-40) and that many bytes; the rest is the text. In the text, byte
 * 0x01 followed by a selector byte stands for one form of one secret, so the fuzzer reaches
 * secrets in every context without having to guess them. */
#include "base/compat.h"
#include "base/alloc.h"
#include "base/str.h"
#include "exec/mask.h"

#include <ctype.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_SECRETS 4
#define FORMS 6

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Encodes S in form F: 0 raw, 1 base64, 2 hex, 3 HEX, 4 URL %xx, 5 URL %XX. */
static void encode(struct sl_str *out, const uint8_t *s, size_t n, int f)
{
    const char *hex = f == 3 || f == 5 ? "0123456789ABCDEF" : "0123456789abcdef";
    switch (f) {
    case 0:
        sl_str_add(out, s, n);
        break;
    case 1:
        for (size_t i = 0; i < n; i += 3) {
            uint32_t v = (uint32_t)s[i] << 16;
            if (i + 1 < n)
                v |= (uint32_t)s[i + 1] << 8;
            if (i + 2 < n)
                v |= s[i + 2];
            sl_str_addc(out, b64[v >> 18]);
            sl_str_addc(out, b64[(v >> 12) & 63]);
            sl_str_addc(out, i + 1 < n ? b64[(v >> 6) & 63] : '=');
            sl_str_addc(out, i + 2 < n ? b64[v & 63] : '=');
        }
        break;
    case 2:
    case 3:
        for (size_t i = 0; i < n; i++) {
            sl_str_addc(out, hex[s[i] >> 4]);
            sl_str_addc(out, hex[s[i] & 15]);
        }
        break;
    default:
        for (size_t i = 0; i < n; i++) {
            if (isalnum(s[i]) || (s[i] && strchr("-._~", s[i]))) {
                sl_str_addc(out, (char)s[i]);
                continue;
            }
            sl_str_addc(out, '%');
            sl_str_addc(out, hex[s[i] >> 4]);
            sl_str_addc(out, hex[s[i] & 15]);
        }
    }
}

static void to_str(void *ctx, const char *d, size_t n)
{
    sl_str_add(ctx, d, n);
}

static bool contains(const struct sl_str *hay, const struct sl_str *needle)
{
    return needle->len > 0 && memmem(hay->buf, hay->len, needle->buf, needle->len) != NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t secret[MAX_SECRETS][48];
    size_t slen[MAX_SECRETS], ns, pos = 2;
    struct sl_mask *m;
    struct sl_str text = SL_STR_INIT, streamed = SL_STR_INIT;
    uint32_t seed;

    if (size < 2)
        return 0;
    ns = 1 + data[0] % MAX_SECRETS;
    seed = data[1] * 2654435761u + 1;
    m = sl_mask_new();
    for (size_t i = 0; i < ns; i++) {
        slen[i] = pos < size ? SL_MASK_MIN_LEN + data[pos++] % 33 : SL_MASK_MIN_LEN;
        for (size_t k = 0; k < slen[i]; k++) {
            uint8_t c = pos < size ? data[pos++] : (uint8_t)('a' + k);
            secret[i][k] = c == '[' || c == ']' ? 'x' : c;
        }
        if (sl_mask_add(m, (const char *)secret[i], slen[i], NULL) < 0)
            abort();
    }
    for (; pos < size; pos++) {
        if (data[pos] == 1 && pos + 1 < size) {
            uint8_t sel = data[++pos];
            size_t which = (sel / FORMS) % ns;
            encode(&text, secret[which], slen[which], sel % FORMS);
            continue;
        }
        sl_str_addc(&text, (char)data[pos]);
    }

    size_t whole_len;
    char *whole = sl_mask_string(m, text.buf, text.len, &whole_len);
    struct sl_mask_stream s;
    sl_mask_stream_init(&s, m, to_str, &streamed);
    for (size_t off = 0; off < text.len;) {
        seed = seed * 1103515245u + 12345u;
        size_t step = 1 + (seed >> 16) % 23;
        step = SL_MIN(step, text.len - off);
        sl_mask_stream_feed(&s, text.buf + off, step);
        off += step;
    }
    sl_mask_stream_flush(&s);
    sl_mask_stream_release(&s);
    if (streamed.len != whole_len || memcmp(streamed.buf, whole, whole_len) != 0) {
        fprintf(stderr, "streamed output differs from the whole-text output\n");
        abort();
    }
    for (size_t i = 0; i < ns; i++) {
        for (int f = 0; f < FORMS; f++) {
            struct sl_str form = SL_STR_INIT;
            encode(&form, secret[i], slen[i], f);
            if (contains(&streamed, &form)) {
                fprintf(stderr, "secret %zu leaked in form %d\n", i, f);
                abort();
            }
            sl_str_release(&form);
        }
    }
    free(whole);
    sl_str_release(&text);
    sl_str_release(&streamed);
    sl_mask_free(m);
    return 0;
}
