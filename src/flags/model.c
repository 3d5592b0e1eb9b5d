/* model.c: an Unleash state document compiled into the structures of model.h, and the
 * delta-API events applied to a document. */
#include "base/compat.h"
#include "flags/model.h"
#include "base/alloc.h"

#include <math.h>

struct kind_name {
    const char *name;
    enum strategy_kind kind;
};

static const struct kind_name KINDS[] = {
    {"default", ST_DEFAULT},
    {"userWithId", ST_USER_WITH_ID},
    {"gradualRolloutUserId", ST_GRADUAL_USER_ID},
    {"gradualRolloutSessionId", ST_GRADUAL_SESSION_ID},
    {"gradualRolloutRandom", ST_GRADUAL_RANDOM},
    {"flexibleRollout", ST_FLEXIBLE},
    {"remoteAddress", ST_REMOTE_ADDRESS},
    {"applicationHostname", ST_APP_HOSTNAME},
};

/* A parameter as text (the SDKs accept "50" and 50 alike); NULL when absent or empty. */
static const char *param(struct sl_arena *a, const json_t *params, const char *key)
{
    const json_t *v = json_object_get(params, key);
    const char *t = NULL;
    if (json_is_string(v))
        t = sl_arena_strdup(a, json_string_value(v));
    else if (json_is_integer(v))
        t = sl_arena_printf(a, "%lld", (long long)json_integer_value(v));
    else if (json_is_real(v))
        t = sl_arena_printf(a, "%.17g", json_real_value(v));
    return t && *t ? t : NULL;
}

/* "a, b ,c" split on commas with the white space around each item removed. */
static void split_list(struct sl_arena *a, const char *s, const char ***out, size_t *n)
{
    size_t cap = 1;
    for (const char *p = s; p && *p; p++)
        cap += *p == ',';
    *out = sl_arena_alloc(a, cap * sizeof **out);
    *n = 0;
    while (s && *s) {
        const char *e = strchr(s, ',');
        if (!e)
            e = s + strlen(s);
        const char *b = s, *f = e;
        while (b < f && (*b == ' ' || *b == '\t' || *b == '\n'))
            b++;
        while (f > b && (f[-1] == ' ' || f[-1] == '\t' || f[-1] == '\n'))
            f--;
        (*out)[(*n)++] = sl_arena_strndup(a, b, (size_t)(f - b));
        s = *e ? e + 1 : e;
    }
}

static int compile_constraints(struct sl_flags_state *st, const json_t *arr,
                               struct constraint **out, size_t *n, const char *path,
                               struct sl_error *err)
{
    if (arr && !json_is_array(arr) && !json_is_null(arr))
        return sl_error_set(err, SL_EINVAL, "%s.constraints: an array is required", path);
    size_t k = json_array_size(arr);
    if (k > SL_FLAGS_MAX_CONSTRAINTS)
        return sl_error_set(err, SL_ELIMIT, "%s.constraints: more than %d", path,
                            SL_FLAGS_MAX_CONSTRAINTS);
    *out = sl_arena_alloc(&st->arena, (k ? k : 1) * sizeof **out);
    *n = k;
    for (size_t i = 0; i < k; i++) {
        char sub[512];
        snprintf(sub, sizeof sub, "%s.constraints[%zu]", path, i);
        int rc = sl_flags_constraint_compile(st, &(*out)[i], json_array_get(arr, i), sub, err);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static const char **string_array(struct sl_arena *a, const json_t *arr, size_t *n)
{
    size_t k = json_array_size(arr);
    const char **v = sl_arena_alloc(a, (k ? k : 1) * sizeof *v);
    *n = 0;
    for (size_t i = 0; i < k; i++)
        if (json_is_string(json_array_get(arr, i)))
            v[(*n)++] = sl_arena_strdup(a, json_string_value(json_array_get(arr, i)));
    return v;
}

static int compile_variants(struct sl_flags_state *st, const json_t *arr, struct variants *out,
                            const char *path, struct sl_error *err)
{
    struct sl_arena *a = &st->arena;
    if (arr && !json_is_array(arr) && !json_is_null(arr))
        return sl_error_set(err, SL_EINVAL, "%s.variants: an array is required", path);
    size_t k = json_array_size(arr);
    if (k > SL_FLAGS_MAX_CONSTRAINTS)
        return sl_error_set(err, SL_ELIMIT, "%s.variants: more than %d", path,
                            SL_FLAGS_MAX_CONSTRAINTS);
    out->v = sl_arena_alloc(a, (k ? k : 1) * sizeof *out->v);
    out->n = 0;
    for (size_t i = 0; i < k; i++) {
        const json_t *j = json_array_get(arr, i);
        const char *name = json_string_value(json_object_get(j, "name"));
        if (!json_is_object(j) || !name)
            return sl_error_set(err, SL_EINVAL, "%s.variants[%zu].name: a string is required", path,
                                i);
        struct variant *v = &out->v[out->n++];
        v->name = sl_arena_strdup(a, name);
        const json_t *w = json_object_get(j, "weight");
        v->weight = json_is_number(w) ? (long)json_number_value(w) : 0;
        const char *stick = json_string_value(json_object_get(j, "stickiness"));
        v->stickiness = stick && *stick ? sl_arena_strdup(a, stick) : NULL;
        const json_t *payload = json_object_get(j, "payload");
        if (json_is_object(payload)) {
            const char *pt = json_string_value(json_object_get(payload, "type"));
            const json_t *pv = json_object_get(payload, "value");
            v->payload_type = sl_arena_strdup(a, pt ? pt : "string");
            if (json_is_string(pv)) {
                v->payload_value = sl_arena_strdup(a, json_string_value(pv));
            } else {
                char *dump = json_dumps(pv, JSON_ENCODE_ANY | JSON_COMPACT);
                v->payload_value = sl_arena_strdup(a, dump ? dump : "");
                free(dump);
            }
        }
        const json_t *ovs = json_object_get(j, "overrides");
        size_t no = json_array_size(ovs);
        v->overrides = sl_arena_alloc(a, (no ? no : 1) * sizeof *v->overrides);
        for (size_t o = 0; o < no; o++) {
            const json_t *oj = json_array_get(ovs, o);
            const char *cn = json_string_value(json_object_get(oj, "contextName"));
            if (!cn)
                continue;
            struct override *ov = &v->overrides[v->noverrides++];
            ov->context_name = sl_arena_strdup(a, cn);
            ov->values = string_array(a, json_object_get(oj, "values"), &ov->nvalues);
        }
    }
    return 0;
}

static int compile_strategy(struct sl_flags_state *st, struct strategy *s, const json_t *j,
                            const char *path, struct sl_error *err)
{
    struct sl_arena *a = &st->arena;
    const char *name = json_string_value(json_object_get(j, "name"));
    if (!json_is_object(j) || !name)
        return sl_error_set(err, SL_EINVAL, "%s.name: a string is required", path);
    s->kind = ST_UNKNOWN;
    for (size_t i = 0; i < SL_ARRAY_LEN(KINDS); i++)
        if (sl_streq(name, KINDS[i].name))
            s->kind = KINDS[i].kind;
    s->disabled = json_is_true(json_object_get(j, "disabled"));
    const json_t *params = json_object_get(j, "parameters");
    s->group_id = param(a, params, "groupId");
    const char *pct = param(a, params, s->kind == ST_FLEXIBLE ? "rollout" : "percentage");
    if (!pct || !sl_flags_js_number(pct, &s->percentage))
        s->percentage = NAN;
    s->stickiness = param(a, params, "stickiness");
    const char *list = s->kind == ST_USER_WITH_ID     ? param(a, params, "userIds")
                       : s->kind == ST_REMOTE_ADDRESS ? param(a, params, "IPs")
                       : s->kind == ST_APP_HOSTNAME   ? param(a, params, "hostNames")
                                                      : NULL;
    split_list(a, list, &s->list, &s->nlist);
    int rc = compile_constraints(st, json_object_get(j, "constraints"), &s->constraints,
                                 &s->nconstraints, path, err);
    if (rc < 0)
        return rc;
    const json_t *segs = json_object_get(j, "segments");
    size_t ns = json_array_size(segs);
    long *ids = sl_arena_alloc(a, (ns ? ns : 1) * sizeof *ids);
    for (size_t i = 0; i < ns; i++) {
        const json_t *id = json_array_get(segs, i);
        ids[i] = json_is_integer(id) ? (long)json_integer_value(id) : -1;
    }
    s->segments = ids;
    s->nsegments = ns;
    return compile_variants(st, json_object_get(j, "variants"), &s->variants, path, err);
}

static int compile_feature(struct sl_flags_state *st, struct feature *f, const json_t *j,
                           const char *path, struct sl_error *err)
{
    struct sl_arena *a = &st->arena;
    const char *name = json_string_value(json_object_get(j, "name"));
    if (!json_is_object(j) || !name)
        return sl_error_set(err, SL_EINVAL, "%s.name: a string is required", path);
    f->name = sl_arena_strdup(a, name);
    f->enabled = json_is_true(json_object_get(j, "enabled"));
    f->impression_data = json_is_true(json_object_get(j, "impressionData"));
    const json_t *strats = json_object_get(j, "strategies");
    if (strats && !json_is_array(strats) && !json_is_null(strats))
        return sl_error_set(err, SL_EINVAL, "%s.strategies: an array is required", path);
    size_t ns = json_array_size(strats);
    if (ns > SL_FLAGS_MAX_STRATEGIES)
        return sl_error_set(err, SL_ELIMIT, "%s.strategies: more than %d", path,
                            SL_FLAGS_MAX_STRATEGIES);
    f->strategies = sl_arena_alloc(a, (ns ? ns : 1) * sizeof *f->strategies);
    f->nstrategies = ns;
    for (size_t i = 0; i < ns; i++) {
        char sub[512];
        snprintf(sub, sizeof sub, "%s.strategies[%zu]", path, i);
        int rc = compile_strategy(st, &f->strategies[i], json_array_get(strats, i), sub, err);
        if (rc < 0)
            return rc;
    }
    int rc = compile_variants(st, json_object_get(j, "variants"), &f->variants, path, err);
    if (rc < 0)
        return rc;
    const json_t *deps = json_object_get(j, "dependencies");
    size_t nd = json_array_size(deps);
    f->deps = sl_arena_alloc(a, (nd ? nd : 1) * sizeof *f->deps);
    for (size_t i = 0; i < nd; i++) {
        const json_t *dj = json_array_get(deps, i);
        const char *fn = json_string_value(json_object_get(dj, "feature"));
        if (!fn)
            return sl_error_set(err, SL_EINVAL,
                                "%s.dependencies[%zu].feature: a string is required", path, i);
        struct dependency *d = &f->deps[f->ndeps++];
        d->feature = sl_arena_strdup(a, fn);
        d->enabled = !json_is_false(json_object_get(dj, "enabled"));
        d->variants = string_array(a, json_object_get(dj, "variants"), &d->nvariants);
    }
    return 0;
}

int sl_flags_state_compile(struct sl_flags_state **out, const json_t *doc, struct sl_error *err)
{
    struct sl_flags_state *st = sl_xcalloc(1, sizeof *st);
    int rc = 0;
    st->mctx = pcre2_match_context_create(NULL);
    pcre2_set_match_limit(st->mctx, 100000);
    pcre2_set_depth_limit(st->mctx, 1000);
    const json_t *features = json_object_get(doc, "features");
    const json_t *segments = json_object_get(doc, "segments");
    if (!json_is_object(doc) || !json_is_array(features)) {
        rc = sl_error_set(err, SL_EINVAL, "features: an array is required");
        goto out;
    }
    if (segments && !json_is_array(segments) && !json_is_null(segments)) {
        rc = sl_error_set(err, SL_EINVAL, "segments: an array is required");
        goto out;
    }
    size_t nf = json_array_size(features), ns = json_array_size(segments);
    if (nf > SL_FLAGS_MAX_FEATURES || ns > SL_FLAGS_MAX_FEATURES) {
        rc = sl_error_set(err, SL_ELIMIT, "features: more than %d", SL_FLAGS_MAX_FEATURES);
        goto out;
    }
    st->segments = sl_arena_alloc(&st->arena, (ns ? ns : 1) * sizeof *st->segments);
    for (size_t i = 0; i < ns; i++) {
        const json_t *sj = json_array_get(segments, i);
        char path[64];
        snprintf(path, sizeof path, "segments[%zu]", i);
        const json_t *id = json_object_get(sj, "id");
        if (!json_is_integer(id)) {
            rc = sl_error_set(err, SL_EINVAL, "%s.id: an integer is required", path);
            goto out;
        }
        struct segment *sg = &st->segments[st->nsegments++];
        sg->id = (long)json_integer_value(id);
        if ((rc = compile_constraints(st, json_object_get(sj, "constraints"), &sg->constraints,
                                      &sg->nconstraints, path, err)) < 0)
            goto out;
    }
    st->features = sl_arena_alloc(&st->arena, (nf ? nf : 1) * sizeof *st->features);
    for (size_t i = 0; i < nf; i++) {
        char path[64];
        snprintf(path, sizeof path, "features[%zu]", i);
        struct feature *f = &st->features[st->nfeatures];
        if ((rc = compile_feature(st, f, json_array_get(features, i), path, err)) < 0) {
            st->nfeatures++; /* its regexes are freed with the rest */
            goto out;
        }
        st->nfeatures++;
        sl_map_put(&st->by_name, f->name, f); /* a later duplicate wins, as in the SDKs */
    }
    *out = st;
    st = NULL;
out:
    sl_flags_state_free(st);
    return rc;
}

static void free_regexes(struct constraint *c, size_t n)
{
    for (size_t i = 0; c && i < n; i++)
        pcre2_code_free(c[i].re);
}

void sl_flags_state_free(struct sl_flags_state *st)
{
    if (!st)
        return;
    for (size_t i = 0; i < st->nfeatures; i++)
        for (size_t k = 0; k < st->features[i].nstrategies; k++)
            free_regexes(st->features[i].strategies[k].constraints,
                         st->features[i].strategies[k].nconstraints);
    for (size_t i = 0; i < st->nsegments; i++)
        free_regexes(st->segments[i].constraints, st->segments[i].nconstraints);
    pcre2_match_context_free(st->mctx);
    sl_map_release(&st->by_name);
    sl_arena_release(&st->arena);
    free(st);
}

size_t sl_flags_state_count(const struct sl_flags_state *st)
{
    return st->nfeatures;
}

const char *sl_flags_state_name(const struct sl_flags_state *st, size_t i)
{
    return st->features[i].name;
}

bool sl_flags_state_impression_data(const struct sl_flags_state *st, size_t i)
{
    return st->features[i].impression_data;
}

long sl_flags_state_find(const struct sl_flags_state *st, const char *name)
{
    const struct feature *f = sl_map_get(&st->by_name, name);
    return f ? (long)(f - st->features) : -1;
}

/* --- delta API --------------------------------------------------------------------- */

/* Index in ARR of the object whose KEY equals V (string or integer), or -1. */
static long find_by(const json_t *arr, const char *key, const json_t *v)
{
    for (size_t i = 0; i < json_array_size(arr); i++)
        if (json_equal(json_object_get(json_array_get(arr, i), key), v))
            return (long)i;
    return -1;
}

static void upsert(json_t *arr, const char *key, json_t *item)
{
    long i = find_by(arr, key, json_object_get(item, key));
    if (i >= 0)
        json_array_set_new(arr, (size_t)i, item);
    else
        json_array_append_new(arr, item);
}

static json_t *array_of(json_t *doc, const char *key)
{
    json_t *a = json_object_get(doc, key);
    if (!json_is_array(a)) {
        a = json_array();
        json_object_set_new(doc, key, a);
    }
    return a;
}

int sl_flags_delta_apply(json_t *doc, const json_t *events, struct sl_error *err)
{
    if (!json_is_array(events))
        return sl_error_set(err, SL_EINVAL, "events: an array is required");
    for (size_t i = 0; i < json_array_size(events); i++) {
        const json_t *ev = json_array_get(events, i);
        const char *type = json_string_value(json_object_get(ev, "type"));
        json_t *features = array_of(doc, "features"), *segments = array_of(doc, "segments");
        if (!type)
            return sl_error_set(err, SL_EINVAL, "events[%zu].type: a string is required", i);
        if (sl_streq(type, "hydration")) {
            const json_t *f = json_object_get(ev, "features"), *s = json_object_get(ev, "segments");
            json_object_set_new(doc, "features",
                                json_is_array(f) ? json_deep_copy(f) : json_array());
            json_object_set_new(doc, "segments",
                                json_is_array(s) ? json_deep_copy(s) : json_array());
        } else if (sl_streq(type, "feature-updated")) {
            json_t *f = json_object_get(ev, "feature");
            if (!json_is_object(f) || !json_is_string(json_object_get(f, "name")))
                return sl_error_set(err, SL_EINVAL,
                                    "events[%zu].feature: an object with a name is required", i);
            upsert(features, "name", json_deep_copy(f));
        } else if (sl_streq(type, "feature-removed")) {
            long k = find_by(features, "name", json_object_get(ev, "featureName"));
            if (k >= 0)
                json_array_remove(features, (size_t)k);
        } else if (sl_streq(type, "segment-updated")) {
            json_t *s = json_object_get(ev, "segment");
            if (!json_is_object(s) || !json_is_integer(json_object_get(s, "id")))
                return sl_error_set(err, SL_EINVAL,
                                    "events[%zu].segment: an object with an id is required", i);
            upsert(segments, "id", json_deep_copy(s));
        } else if (sl_streq(type, "segment-removed")) {
            long k = find_by(segments, "id", json_object_get(ev, "segmentId"));
            if (k >= 0)
                json_array_remove(segments, (size_t)k);
        } else {
            return sl_error_set(err, SL_EINVAL, "events[%zu].type: unknown event type '%s'", i,
                                type);
        }
    }
    return 0;
}
