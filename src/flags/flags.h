/* flags.h: Unleash feature-flag evaluation (pure: no I/O, no clock, no global state).
 *
 * A state is Unleash's client document `{version, features, segments}` (what
 * `/api/client/features` serves) compiled once into C structures: constraint values are
 * pre-parsed (numbers, dates, semver, CIDR ranges, lower-cased strings) and regexes
 * compiled (PCRE2 with JIT and match limits), so one evaluation is lookups and compares.
 * Evaluation follows the Unleash client specification exactly (MurmurHash3 x86_32
 * normalisation with seed 0 for rollouts and 86028157 for variants, stickiness fallbacks,
 * constraint edge cases, segments, strategy and flag variants with overrides, one level of
 * dependent flags); tests/unit/test_flags_spec.c runs every case of the specification.
 *
 * A compiled state is immutable and may be shared by threads; each evaluation brings its
 * own context (and its own random state for the `random` stickiness).
 */
#ifndef SL_FLAGS_H
#define SL_FLAGS_H

#include "base/compat.h"
#include "base/error.h"

#include <jansson.h>

/* Caps on a state document: a hostile or broken document is refused, never half-used. */
#define SL_FLAGS_MAX_FEATURES 100000
#define SL_FLAGS_MAX_STRATEGIES 1000  /* per feature */
#define SL_FLAGS_MAX_CONSTRAINTS 1000 /* per strategy or segment */
#define SL_FLAGS_MAX_VALUES 100000    /* per constraint */
#define SL_FLAGS_MAX_REGEX 4096       /* bytes of one REGEX constraint */

struct sl_flags_state;

/* One field of a context: NAME borrowed, VALUE borrowed (NULL or "" mean "absent"). */
struct sl_flags_field {
    const char *name;
    const char *value;
};

/* The Unleash context of one evaluation. FIELDS are the top-level fields (userId,
 * sessionId, remoteAddress, environment, appName, currentTime and any other), PROPS the
 * `properties`; a field is looked up at the top level first, then in the properties, as
 * the SDKs do. Everything is borrowed for the duration of the call. */
struct sl_flags_context {
    const struct sl_flags_field *fields;
    size_t nfields;
    const struct sl_flags_field *props;
    size_t nprops;
    int64_t now_ms; /* "now" (ms since the epoch) when the context has no currentTime */
    uint64_t *rng;  /* random state (gradualRolloutRandom, `random`/absent stickiness);
                     * NULL: a fixed seed, so such evaluations are deterministic */
};

/* A variant as the SDKs report it. Strings borrowed from the state (or static). */
struct sl_flags_variant {
    const char *name;          /* "disabled" when no variant applies */
    bool enabled;              /* a variant was chosen */
    bool feature_enabled;      /* the flag itself is on for this context */
    const char *payload_type;  /* NULL when the variant has no payload */
    const char *payload_value; /* the payload's value as text */
};

/* Compiles DOC (`{version, features, segments}`; borrowed) into *out (free with
 * sl_flags_state_free). A feature or constraint the SDKs would ignore (unknown operator,
 * invalid regex or date) compiles and evaluates as the SDKs do (false); a document of the
 * wrong shape or over the caps is SL_EINVAL/SL_ELIMIT naming the offending path
 * (`features[3].strategies[0].constraints[1].values`). */
int sl_flags_state_compile(struct sl_flags_state **out, const json_t *doc, struct sl_error *err);
void sl_flags_state_free(struct sl_flags_state *st);

/* Applies Unleash delta-API events (`[{eventId, type: hydration | feature-updated |
 * feature-removed | segment-updated | segment-removed, ...}]`) to DOC, a state document
 * modified in place (start from `{"version":1,"features":[],"segments":[]}`). Unknown
 * event types are SL_EINVAL naming the event's index. */
int sl_flags_delta_apply(json_t *doc, const json_t *events, struct sl_error *err);

/* The number of features of ST and the name of the I-th one (borrowed), in document
 * order; the index is what sl_flags_eval_at takes. */
size_t sl_flags_state_count(const struct sl_flags_state *st);
const char *sl_flags_state_name(const struct sl_flags_state *st, size_t i);
bool sl_flags_state_impression_data(const struct sl_flags_state *st, size_t i);
/* Index of the feature called NAME, or -1. */
long sl_flags_state_find(const struct sl_flags_state *st, const char *name);

/* Unleash `isEnabled(name, context)`: false for an unknown flag. */
bool sl_flags_is_enabled(const struct sl_flags_state *st, const char *name,
                         const struct sl_flags_context *ctx);
/* Unleash `getVariant(name, context)` into *out (never fails: an unknown or disabled flag
 * gives the "disabled" variant). */
void sl_flags_get_variant(const struct sl_flags_state *st, const char *name,
                          const struct sl_flags_context *ctx, struct sl_flags_variant *out);
/* Both at once for the feature at index I (what the frontend API serves): returns
 * whether it is enabled and fills *out with its variant. */
bool sl_flags_eval_at(const struct sl_flags_state *st, size_t i, const struct sl_flags_context *ctx,
                      struct sl_flags_variant *out);

/* MurmurHash3 x86_32 of the N bytes at KEY. Exposed for tests and benchmarks. */
uint32_t sl_flags_murmur3(const void *key, size_t n, uint32_t seed);
/* Unleash's normalisation: murmur3("GROUP:ID", SEED) % NORMALIZER + 1. */
uint32_t sl_flags_normalize(const char *group, const char *id, uint32_t normalizer, uint32_t seed);

#define SL_FLAGS_SEED_ROLLOUT 0u
#define SL_FLAGS_SEED_VARIANT 86028157u

/* Context helper: fills *ctx from a JSON context object (`{"userId": …, "properties":
 * {…}}`; numbers and booleans become their JavaScript text, null is absent). The field
 * arrays and strings are allocated in *arena-like storage owned by HOLD, released with
 * sl_flags_context_hold_release. JSON must outlive the context. */
struct sl_flags_context_hold {
    struct sl_flags_field *fields, *props;
    char **owned;
    size_t nowned;
};
void sl_flags_context_from_json(struct sl_flags_context *ctx, struct sl_flags_context_hold *hold,
                                const json_t *json);
void sl_flags_context_hold_release(struct sl_flags_context_hold *hold);

#endif
