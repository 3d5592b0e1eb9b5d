#include "base/compat.h"
#include "exec/mask.h"
#include "base/alloc.h"
#include "base/str.h"

#include <ctype.h>

/* One form of a secret. FOLD[i] marks a hex digit, matched in either case (PAT holds it in
 * lower case). */
struct pattern {
    char *pat;
    bool *fold;
    size_t len;
};

struct sl_mask {
    struct pattern *p;
    size_t n, cap;
    size_t secrets;
    size_t maxlen;
    /* bytes that can start a pattern: most input bytes are emitted after one lookup */
    bool start[256];
};

static const char b64_std[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char b64_url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
static const char hexd[] = "0123456789abcdef";

/* Encoded forms shorter than this are not added: they would mask ordinary text. */
#define MIN_FORM 6

bool sl_mask_value_ok(const char *value, bool raw)
{
    if (strlen(value) < SL_MASK_MIN_LEN)
        return false;
    for (const char *p = value; *p; p++) {
        unsigned char c = (unsigned char)*p;
        bool ok = raw ? (c > ' ' && c != 0x7f) : (isalnum(c) || strchr("_+=/@:.~-", c));
        if (!ok)
            return false;
    }
    return true;
}

struct sl_mask *sl_mask_new(void)
{
    return sl_xcalloc(1, sizeof(struct sl_mask));
}

void sl_mask_free(struct sl_mask *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n; i++) {
        free(m->p[i].pat);
        free(m->p[i].fold);
    }
    free(m->p);
    free(m);
}

bool sl_mask_empty(const struct sl_mask *m)
{
    return !m || m->n == 0;
}

static bool same_pattern(const struct pattern *p, const char *pat, const bool *fold, size_t len)
{
    return p->len == len && !memcmp(p->pat, pat, len) && !memcmp(p->fold, fold, len);
}

/* Adds PAT/FOLD (copied) unless present or too short. */
static void add_pattern(struct sl_mask *m, const char *pat, const bool *fold, size_t len,
                        size_t min)
{
    if (len < min)
        return;
    for (size_t i = 0; i < m->n; i++)
        if (same_pattern(&m->p[i], pat, fold, len))
            return;
    if (m->n == m->cap) {
        m->cap = m->cap ? 2 * m->cap : 16;
        m->p = sl_xrealloc(m->p, m->cap * sizeof(*m->p));
    }
    struct pattern *p = &m->p[m->n++];
    p->pat = sl_xmalloc(len);
    p->fold = sl_xmalloc(len * sizeof(bool));
    memcpy(p->pat, pat, len);
    memcpy(p->fold, fold, len * sizeof(bool));
    p->len = len;
    m->maxlen = SL_MAX(m->maxlen, len);
    unsigned char c = (unsigned char)pat[0];
    m->start[c] = true;
    if (fold[0])
        m->start[(unsigned char)toupper(c)] = true;
}

/* The base64 of SKIP zero bytes followed by S, in alphabet ABC; the characters that depend
 * on the zero bytes or on what would follow S are cut, unless PADDED (SKIP == 0 only),
 * which gives the standalone encoding, with and without its '=' padding. */
static void add_base64(struct sl_mask *m, const char *abc, const unsigned char *s, size_t n,
                       size_t skip, bool padded, char *tmp, bool *nofold)
{
    size_t total = skip + n, bits = 8 * total, out = 0;
    size_t full = bits / 6;                          /* characters made of 6 known bits */
    size_t first = skip ? skip + (skip + 2) / 3 : 0; /* skip 1 -> 2 chars, 2 -> 3 */

    for (size_t ch = 0; ch * 6 < bits; ch++) {
        size_t bit = ch * 6;
        unsigned v = 0;
        for (size_t b = bit; b < bit + 6; b++) {
            size_t byte = b / 8;
            unsigned x = 0;
            if (byte >= skip && byte < total)
                x = (s[byte - skip] >> (7 - b % 8)) & 1;
            v = (v << 1) | x;
        }
        if (ch < first)
            continue;
        if (ch >= full && !padded)
            break;
        tmp[out++] = abc[v];
    }
    if (padded) {
        add_pattern(m, tmp, nofold, out, MIN_FORM); /* printed without its padding */
        while (out % 4)
            tmp[out++] = '=';
    }
    add_pattern(m, tmp, nofold, out, MIN_FORM);
}

static bool unreserved(unsigned char c)
{
    return isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

int sl_mask_add(struct sl_mask *m, const char *secret, size_t len, struct sl_error *err)
{
    const unsigned char *s = (const unsigned char *)secret;
    char *tmp = NULL;
    bool *fold = NULL, *nofold = NULL;
    size_t n;

    if (len == 0)
        return sl_error_set(err, SL_EINVAL, "cannot mask an empty value");
    if (len > SL_MASK_SECRET_MAX)
        return sl_error_set(err, SL_ELIMIT, "a masked value is limited to %d bytes",
                            SL_MASK_SECRET_MAX);
    if (m->secrets >= SL_MASK_SECRETS_MAX)
        return sl_error_set(err, SL_ELIMIT, "at most %d values can be masked", SL_MASK_SECRETS_MAX);
    m->secrets++;
    tmp = sl_xmalloc(3 * len + 4);
    fold = sl_xcalloc(3 * len + 4, sizeof(bool));
    nofold = sl_xcalloc(3 * len + 4, sizeof(bool));

    add_pattern(m, secret, nofold, len, 1);
    for (int a = 0; a < 2; a++) {
        const char *abc = a ? b64_url : b64_std;
        add_base64(m, abc, s, len, 0, true, tmp, nofold);
        for (size_t skip = 0; skip < 3; skip++)
            add_base64(m, abc, s, len, skip, false, tmp, nofold);
    }
    /* RFC 3986 (curl, jq @uri, encodeURIComponent for these characters), and with '/'
     * kept as Python's urllib.parse.quote does by default */
    for (int keep_slash = 0; keep_slash < 2; keep_slash++) {
        n = 0;
        for (size_t i = 0; i < len; i++) {
            fold[n] = false;
            if (unreserved(s[i]) || (keep_slash && s[i] == '/')) {
                tmp[n++] = (char)s[i];
                continue;
            }
            tmp[n++] = '%';
            fold[n] = fold[n + 1] = true;
            tmp[n++] = hexd[s[i] >> 4];
            tmp[n++] = hexd[s[i] & 15];
        }
        add_pattern(m, tmp, fold, n, MIN_FORM);
    }
    for (size_t i = 0; i < len; i++) {
        tmp[2 * i] = hexd[s[i] >> 4];
        tmp[2 * i + 1] = hexd[s[i] & 15];
        fold[2 * i] = fold[2 * i + 1] = true;
    }
    add_pattern(m, tmp, fold, 2 * len, MIN_FORM);
    free(tmp);
    free(fold);
    free(nofold);
    return 0;
}

/* How far pattern P matches the N bytes at D: P->len for a whole match, N when D is a
 * proper prefix of P, 0 when it does not match. */
static size_t match(const struct pattern *p, const char *d, size_t n)
{
    size_t k = SL_MIN(n, p->len);
    for (size_t i = 0; i < k; i++) {
        unsigned char c = (unsigned char)d[i];
        if (p->fold[i])
            c = (unsigned char)tolower(c);
        if (c != (unsigned char)p->pat[i])
            return 0;
    }
    return k;
}

/* Masks D[0..N). Returns how many bytes were consumed; when not AT_END, the rest may be
 * the start of a pattern and must wait for more input. */
static size_t mask_run(const struct sl_mask *m, const char *d, size_t n, bool at_end,
                       sl_mask_emit_fn emit, void *ctx)
{
    size_t i = 0, done = 0; /* d[done..i) is plain output not yet emitted */

    while (i < n) {
        if (!m->start[(unsigned char)d[i]]) {
            i++;
            continue;
        }
        size_t best = 0;
        bool more = false; /* a longer pattern may still match once more input comes */
        for (size_t k = 0; k < m->n; k++) {
            const struct pattern *p = &m->p[k];
            size_t got = match(p, d + i, n - i);
            if (got == 0)
                continue;
            if (got == p->len)
                best = SL_MAX(best, got);
            else if (!at_end)
                more = true;
        }
        if (more)
            break;
        if (best == 0) {
            i++;
            continue;
        }
        if (i > done)
            emit(ctx, d + done, i - done);
        emit(ctx, SL_MASK_TEXT, sizeof(SL_MASK_TEXT) - 1);
        i += best;
        done = i;
    }
    if (i > done)
        emit(ctx, d + done, i - done);
    return i;
}

void sl_mask_stream_init(struct sl_mask_stream *s, const struct sl_mask *mask, sl_mask_emit_fn emit,
                         void *ctx)
{
    memset(s, 0, sizeof(*s));
    s->mask = mask;
    s->emit = emit;
    s->ctx = ctx;
}

void sl_mask_stream_release(struct sl_mask_stream *s)
{
    free(s->buf);
    s->buf = NULL;
    s->len = s->cap = 0;
}

void sl_mask_stream_feed(struct sl_mask_stream *s, const char *data, size_t n)
{
    if (n == 0)
        return;
    if (sl_mask_empty(s->mask)) {
        s->emit(s->ctx, data, n);
        return;
    }
    if (s->len == 0) {
        /* nothing held back: mask the caller's bytes in place, keep only a tail */
        size_t used = mask_run(s->mask, data, n, false, s->emit, s->ctx);
        data += used;
        n -= used;
        if (n == 0)
            return;
    }
    if (s->len + n > s->cap) {
        s->cap = SL_MAX(s->len + n, 2 * s->cap);
        s->buf = sl_xrealloc(s->buf, s->cap);
    }
    memcpy(s->buf + s->len, data, n);
    s->len += n;
    size_t used = mask_run(s->mask, s->buf, s->len, false, s->emit, s->ctx);
    memmove(s->buf, s->buf + used, s->len - used);
    s->len -= used;
}

void sl_mask_stream_flush(struct sl_mask_stream *s)
{
    if (s->len == 0)
        return;
    mask_run(s->mask, s->buf, s->len, true, s->emit, s->ctx);
    s->len = 0;
}

static void to_str(void *ctx, const char *data, size_t len)
{
    struct sl_str *out = ctx;
    sl_str_add(out, data, len);
}

char *sl_mask_string(const struct sl_mask *m, const char *text, size_t len, size_t *out_len)
{
    struct sl_str out = SL_STR_INIT;
    struct sl_mask_stream s;

    sl_mask_stream_init(&s, m, to_str, &out);
    sl_mask_stream_feed(&s, text, len);
    sl_mask_stream_flush(&s);
    sl_mask_stream_release(&s);
    sl_str_grow(&out, 0);
    if (out_len)
        *out_len = out.len;
    return sl_str_detach(&out);
}
