/* eval.c: Unleash's isEnabled and getVariant over a compiled state.
 *
 * A flag is on when it is enabled, its parents (one level, `dependencies`) are as
 * expected, and it has no strategies or one of them passes: its constraints, the
 * constraints of all its segments (a missing segment fails), and the strategy itself.
 * The first passing strategy with variants chooses the variant; otherwise the flag's
 * variants do, overrides first, then by weight over murmur3 with the variant seed. */
#include "base/compat.h"
#include "flags/model.h"
#include "base/alloc.h"

#include <ctype.h>
#include <math.h>

static const char DISABLED[] = "disabled";

static uint64_t next_random(const struct sl_flags_context *ctx)
{
    static _Thread_local uint64_t fallback = 0x9e3779b97f4a7c15ull;
    uint64_t *s = ctx->rng ? ctx->rng : &fallback;
    if (*s == 0)
        *s = 0x9e3779b97f4a7c15ull;
    uint64_t x = *s; /* xorshift64 */
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *s = x;
    return x;
}

/* The SDKs' random stickiness: a number as text, so it hashes like any other id. */
static const char *random_id(const struct sl_flags_context *ctx, char buf[24])
{
    snprintf(buf, 24, "%u", (unsigned)(next_random(ctx) % 100000) + 1);
    return buf;
}

static bool constraints_pass(const struct sl_flags_state *st, const struct constraint *c, size_t n,
                             const struct sl_flags_context *ctx)
{
    for (size_t i = 0; i < n; i++)
        if (!sl_flags_constraint_eval(st, &c[i], ctx))
            return false;
    return true;
}

static const struct segment *find_segment(const struct sl_flags_state *st, long id)
{
    for (size_t i = 0; i < st->nsegments; i++)
        if (st->segments[i].id == id)
            return &st->segments[i];
    return NULL;
}

static bool rollout(double percentage, const char *group, const char *id)
{
    return percentage > 0 &&
           sl_flags_normalize(group, id, 100, SL_FLAGS_SEED_ROLLOUT) <= percentage;
}

static bool in_list(const struct strategy *s, const char *v, bool fold)
{
    for (size_t i = 0; v && i < s->nlist; i++)
        if (fold ? strcasecmp(s->list[i], v) == 0 : sl_streq(s->list[i], v))
            return true;
    return false;
}

static bool remote_address(const struct strategy *s, const char *addr)
{
    uint8_t ip[16];
    if (!addr)
        return false;
    bool parsed = sl_flags_parse_ip(addr, ip);
    for (size_t i = 0; i < s->nlist; i++) {
        struct cidr c;
        if (sl_streq(s->list[i], addr))
            return true;
        if (parsed && sl_flags_parse_cidr(s->list[i], &c) && sl_flags_cidr_contains(&c, ip))
            return true;
    }
    return false;
}

static bool strategy_on(const struct feature *f, const struct strategy *s,
                        const struct sl_flags_context *ctx)
{
    char rnd[24];
    switch (s->kind) {
    case ST_DEFAULT:
        return true;
    case ST_USER_WITH_ID:
        return in_list(s, sl_flags_ctx_get(ctx, "userId"), false);
    case ST_GRADUAL_USER_ID:
    case ST_GRADUAL_SESSION_ID: {
        const char *id =
            sl_flags_ctx_get(ctx, s->kind == ST_GRADUAL_USER_ID ? "userId" : "sessionId");
        return id && rollout(s->percentage, s->group_id ? s->group_id : "", id);
    }
    case ST_GRADUAL_RANDOM:
        return s->percentage >= (double)(next_random(ctx) % 100 + 1);
    case ST_FLEXIBLE: {
        const char *stick = s->stickiness ? s->stickiness : "default", *id;
        if (sl_streq(stick, "default")) {
            id = sl_flags_ctx_get(ctx, "userId");
            if (!id)
                id = sl_flags_ctx_get(ctx, "sessionId");
            if (!id)
                id = random_id(ctx, rnd);
        } else if (sl_streq(stick, "random")) {
            id = random_id(ctx, rnd);
        } else {
            id = sl_flags_ctx_get(ctx, stick);
        }
        return id && rollout(s->percentage, s->group_id ? s->group_id : f->name, id);
    }
    case ST_REMOTE_ADDRESS:
        return remote_address(s, sl_flags_ctx_get(ctx, "remoteAddress"));
    case ST_APP_HOSTNAME:
        /* server-side there is no SDK host: the context's `hostname` stands for it */
        return in_list(s, sl_flags_ctx_get(ctx, "hostname"), true);
    default:
        return false; /* an unknown strategy is off, as in the SDKs */
    }
}

static bool strategy_passes(const struct sl_flags_state *st, const struct feature *f,
                            const struct strategy *s, const struct sl_flags_context *ctx)
{
    if (!constraints_pass(st, s->constraints, s->nconstraints, ctx))
        return false;
    for (size_t i = 0; i < s->nsegments; i++) {
        const struct segment *sg = find_segment(st, s->segments[i]);
        if (!sg || !constraints_pass(st, sg->constraints, sg->nconstraints, ctx))
            return false;
    }
    return strategy_on(f, s, ctx);
}

/* The id a variant is chosen by: the STICKINESS field, or by default the first of userId,
 * sessionId, remoteAddress; a random one when the context has none. */
static const char *variant_seed(const struct sl_flags_context *ctx, const char *stickiness,
                                char rnd[24])
{
    const char *v = NULL;
    if (stickiness && !sl_streq(stickiness, "default")) {
        v = sl_flags_ctx_get(ctx, stickiness);
    } else {
        static const char *const ORDER[] = {"userId", "sessionId", "remoteAddress"};
        for (size_t i = 0; !v && i < SL_ARRAY_LEN(ORDER); i++)
            v = sl_flags_ctx_get(ctx, ORDER[i]);
    }
    return v ? v : random_id(ctx, rnd);
}

static const struct variant *select_variant(const struct variants *vs, const char *group,
                                            const char *stickiness,
                                            const struct sl_flags_context *ctx)
{
    long total = 0;
    for (size_t i = 0; i < vs->n; i++)
        total += vs->v[i].weight > 0 ? vs->v[i].weight : 0;
    if (total <= 0)
        return NULL;
    for (size_t i = 0; i < vs->n; i++)
        for (size_t o = 0; o < vs->v[i].noverrides; o++) {
            const struct override *ov = &vs->v[i].overrides[o];
            const char *cv = sl_flags_ctx_get(ctx, ov->context_name);
            for (size_t k = 0; cv && k < ov->nvalues; k++)
                if (sl_streq(ov->values[k], cv))
                    return &vs->v[i];
        }
    char rnd[24];
    uint32_t target = sl_flags_normalize(group, variant_seed(ctx, stickiness, rnd), (uint32_t)total,
                                         SL_FLAGS_SEED_VARIANT);
    long counter = 0;
    for (size_t i = 0; i < vs->n; i++) {
        if (vs->v[i].weight <= 0)
            continue;
        counter += vs->v[i].weight;
        if (counter >= (long)target)
            return &vs->v[i];
    }
    return NULL;
}

static void set_variant(struct sl_flags_variant *out, const struct variant *v, bool feature_on)
{
    out->name = v ? v->name : DISABLED;
    out->enabled = v != NULL;
    out->feature_enabled = feature_on;
    out->payload_type = v ? v->payload_type : NULL;
    out->payload_value = v ? v->payload_value : NULL;
}

static bool feature_on(const struct sl_flags_state *st, const struct feature *f,
                       const struct sl_flags_context *ctx, const struct variant **sv);

static void feature_variant(const struct sl_flags_state *st, const struct feature *f,
                            const struct sl_flags_context *ctx, struct sl_flags_variant *out)
{
    const struct variant *sv = NULL;
    if (!f || !feature_on(st, f, ctx, &sv)) {
        set_variant(out, NULL, false);
        return;
    }
    if (!sv && f->variants.n > 0)
        sv = select_variant(&f->variants, f->name, f->variants.v[0].stickiness, ctx);
    set_variant(out, sv, true);
}

static bool parents_ok(const struct sl_flags_state *st, const struct feature *f,
                       const struct sl_flags_context *ctx)
{
    for (size_t i = 0; i < f->ndeps; i++) {
        const struct dependency *d = &f->deps[i];
        const struct feature *p = sl_map_get(&st->by_name, d->feature);
        const struct variant *ignored;
        if (!p || p->ndeps > 0) /* one level only: a parent with parents fails */
            return false;
        if (!d->enabled) {
            if (feature_on(st, p, ctx, &ignored))
                return false;
        } else if (d->nvariants > 0) {
            struct sl_flags_variant v;
            feature_variant(st, p, ctx, &v);
            bool hit = false;
            for (size_t k = 0; v.feature_enabled && k < d->nvariants && !hit; k++)
                hit = sl_streq(d->variants[k], v.name);
            if (!hit)
                return false;
        } else if (!feature_on(st, p, ctx, &ignored)) {
            return false;
        }
    }
    return true;
}

static bool feature_on(const struct sl_flags_state *st, const struct feature *f,
                       const struct sl_flags_context *ctx, const struct variant **sv)
{
    *sv = NULL;
    if (!f->enabled || !parents_ok(st, f, ctx))
        return false;
    bool any = false;
    for (size_t i = 0; i < f->nstrategies; i++) {
        const struct strategy *s = &f->strategies[i];
        if (s->disabled)
            continue;
        any = true;
        if (!strategy_passes(st, f, s, ctx))
            continue;
        if (s->variants.n > 0) {
            const char *stick =
                s->variants.v[0].stickiness ? s->variants.v[0].stickiness : s->stickiness;
            *sv = select_variant(&s->variants, s->group_id ? s->group_id : f->name, stick, ctx);
        }
        return true;
    }
    return !any; /* no (enabled) strategy: on for everyone */
}

bool sl_flags_is_enabled(const struct sl_flags_state *st, const char *name,
                         const struct sl_flags_context *ctx)
{
    const struct feature *f = sl_map_get(&st->by_name, name);
    const struct variant *sv;
    return f && feature_on(st, f, ctx, &sv);
}

void sl_flags_get_variant(const struct sl_flags_state *st, const char *name,
                          const struct sl_flags_context *ctx, struct sl_flags_variant *out)
{
    feature_variant(st, sl_map_get(&st->by_name, name), ctx, out);
}

bool sl_flags_eval_at(const struct sl_flags_state *st, size_t i, const struct sl_flags_context *ctx,
                      struct sl_flags_variant *out)
{
    feature_variant(st, &st->features[i], ctx, out);
    return out->feature_enabled;
}

/* --- contexts from JSON ------------------------------------------------------------------ */

static const char *text_of(struct sl_flags_context_hold *h, const json_t *v)
{
    char *t = NULL;
    if (json_is_string(v))
        return json_string_value(v);
    if (json_is_integer(v))
        t = sl_xasprintf("%lld", (long long)json_integer_value(v));
    else if (json_is_real(v))
        t = sl_xasprintf("%.17g", json_real_value(v));
    else if (json_is_boolean(v))
        return json_is_true(v) ? "true" : "false";
    else
        return NULL;
    h->owned = sl_xrealloc(h->owned, (h->nowned + 1) * sizeof *h->owned);
    h->owned[h->nowned++] = t;
    return t;
}

static size_t fill(struct sl_flags_context_hold *h, struct sl_flags_field **out, const json_t *obj,
                   bool skip_props)
{
    size_t n = 0;
    const char *k;
    const json_t *v;
    *out = sl_xcalloc(json_object_size(obj) + 1, sizeof **out);
    json_object_foreach((json_t *)obj, k, v)
    {
        if (skip_props && sl_streq(k, "properties"))
            continue;
        const char *t = text_of(h, v);
        if (t)
            (*out)[n++] = (struct sl_flags_field){k, t};
    }
    return n;
}

void sl_flags_context_from_json(struct sl_flags_context *ctx, struct sl_flags_context_hold *hold,
                                const json_t *json)
{
    memset(hold, 0, sizeof *hold);
    int64_t now = ctx->now_ms;
    uint64_t *rng = ctx->rng;
    memset(ctx, 0, sizeof *ctx);
    ctx->now_ms = now;
    ctx->rng = rng;
    ctx->nfields = fill(hold, &hold->fields, json_is_object(json) ? json : NULL, true);
    const json_t *props = json_object_get(json, "properties");
    ctx->nprops = fill(hold, &hold->props, json_is_object(props) ? props : NULL, false);
    ctx->fields = hold->fields;
    ctx->props = hold->props;
}

void sl_flags_context_hold_release(struct sl_flags_context_hold *hold)
{
    for (size_t i = 0; i < hold->nowned; i++)
        free(hold->owned[i]);
    free(hold->owned);
    free(hold->fields);
    free(hold->props);
    memset(hold, 0, sizeof *hold);
}
