/* auth_limit.c: failed authentications, rate-limited per client address.
 *
 * Each address has a bucket of SRV_AUTH_BURST attempts that refills at one attempt every
 * SRV_AUTH_REFILL_S seconds; a failed authentication (a wrong token or session sign-in)
 * takes one. Webhook signatures are counted but not limited: forges send every project's
 * hooks from shared addresses (webhook.c). An address whose bucket is empty is answered 429 with
 * Retry-After before its credentials are even looked at, until it has refilled. Tokens are
 * 256-bit, so guessing is hopeless anyway: this keeps a guesser from costing the store a
 * lookup per request and the log a line per attempt.
 *
 * The table is fixed-size (no allocation per client, so a flood of addresses cannot grow
 * the server): an address hashes to a window of SLOT_WINDOW slots; a new address takes the
 * window's stalest slot. An address evicted this way starts afresh, which only lets the
 * noisiest of many thousands of addresses retry early. */
#include "base/compat.h"
#include "base/alloc.h"
#include "base/time.h"
#include "server/internal.h"

#include <microhttpd.h>

#define SLOTS 1024
#define SLOT_WINDOW 8
#define ADDR_MAX 64

struct slot {
    char addr[ADDR_MAX]; /* "" = free */
    double tokens;
    int64_t at_ns; /* when TOKENS was last brought up to date */
};

struct auth_limiter {
    pthread_mutex_t mu;
    struct slot slots[SLOTS];
};

/* The table (80 KiB) is mapped on its own: its pages take memory once an address hashes
 * into them, where calloc cleared reused heap memory, all of it resident in an idle server. */
struct auth_limiter *sl_auth_limiter_new(void)
{
    struct auth_limiter *l = sl_xmap_zeroed(sizeof(*l));
    pthread_mutex_init(&l->mu, NULL);
    return l;
}

void sl_auth_limiter_free(struct auth_limiter *l)
{
    if (!l)
        return;
    pthread_mutex_destroy(&l->mu);
    sl_xunmap(l, sizeof(*l));
}

static uint32_t hash(const char *s)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

/* ADDR's slot, brought up to NOW (its refill added); a new one when ADDR has none. */
static struct slot *slot_for(struct auth_limiter *l, const char *addr, int64_t now_ns)
{
    size_t base = hash(addr) % SLOTS;
    struct slot *stalest = NULL;
    for (size_t i = 0; i < SLOT_WINDOW; i++) {
        struct slot *s = &l->slots[(base + i) % SLOTS];
        if (!strcmp(s->addr, addr)) {
            double refill = (double)(now_ns - s->at_ns) / 1e9 / SRV_AUTH_REFILL_S;
            s->tokens = SL_MIN(SRV_AUTH_BURST, s->tokens + SL_MAX(refill, 0));
            s->at_ns = now_ns;
            return s;
        }
        if (!stalest || !s->addr[0] || (stalest->addr[0] && s->at_ns < stalest->at_ns))
            stalest = s;
    }
    snprintf(stalest->addr, sizeof(stalest->addr), "%s", addr);
    stalest->tokens = SRV_AUTH_BURST;
    stalest->at_ns = now_ns;
    return stalest;
}

bool sl_auth_limiter_allow(struct auth_limiter *l, const char *addr, int64_t now_ns, int *retry_s)
{
    pthread_mutex_lock(&l->mu);
    struct slot *s = slot_for(l, addr, now_ns);
    bool ok = s->tokens >= 1;
    if (!ok && retry_s)
        *retry_s = (int)((1 - s->tokens) * SRV_AUTH_REFILL_S) + 1;
    pthread_mutex_unlock(&l->mu);
    return ok;
}

void sl_auth_limiter_fail(struct auth_limiter *l, const char *addr, int64_t now_ns)
{
    pthread_mutex_lock(&l->mu);
    struct slot *s = slot_for(l, addr, now_ns);
    s->tokens = SL_MAX(s->tokens - 1, 0);
    pthread_mutex_unlock(&l->mu);
}

bool sl_srv_auth_throttled(struct req *r)
{
    char addr[ADDR_MAX];
    int retry = 0;
    sl_remote_addr(r, addr, sizeof(addr));
    if (sl_auth_limiter_allow(r->s->auth_limiter, addr, sl_time_mono_ns(), &retry))
        return false;
    atomic_fetch_add(&r->s->metrics.auth_throttled, 1);
    snprintf(r->retry_after, sizeof(r->retry_after), "%d", retry);
    sl_reply_error(r, 429, "too_many_requests",
                   "too many failed authentications from this address: retry in %d s", retry);
    return true;
}

void sl_srv_auth_failed(struct req *r)
{
    char addr[ADDR_MAX];
    sl_remote_addr(r, addr, sizeof(addr));
    sl_auth_limiter_fail(r->s->auth_limiter, addr, sl_time_mono_ns());
    atomic_fetch_add(&r->s->metrics.auth_failures, 1);
}
