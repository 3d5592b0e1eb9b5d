/* model.h: the compiled form of an Unleash state, shared by the files of src/flags only.
 * Everything lives in the state's arena; regexes are freed by sl_flags_state_free. */
#ifndef SL_FLAGS_MODEL_H
#define SL_FLAGS_MODEL_H

#include "flags/flags.h"
#include "base/arena.h"
#include "base/map.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

enum op {
    OP_UNKNOWN,
    OP_IN,
    OP_NOT_IN,
    OP_STR_CONTAINS,
    OP_STR_STARTS_WITH,
    OP_STR_ENDS_WITH,
    OP_NUM_EQ,
    OP_NUM_GT,
    OP_NUM_GTE,
    OP_NUM_LT,
    OP_NUM_LTE,
    OP_DATE_AFTER,
    OP_DATE_BEFORE,
    OP_SEMVER_EQ,
    OP_SEMVER_GT,
    OP_SEMVER_LT,
    OP_SEMVER_GTE,
    OP_SEMVER_LTE,
    OP_REGEX,
    OP_IN_CIDR,
};

/* A semantic version (semver.org 2.0, strict: no leading `v`). PRE points into the
 * version's own copy; NPRE dot-separated identifiers. */
struct semver {
    uint64_t major, minor, patch;
    const char *pre; /* NULL: a release */
    size_t pre_len;
};

struct cidr {
    uint8_t addr[16]; /* IPv4 as ::ffff:a.b.c.d */
    unsigned bits;    /* prefix length over the 128 bits */
};

struct constraint {
    const char *context_name;
    enum op op;
    bool inverted, case_insensitive;
    const char **values; /* lower-cased when case_insensitive (string operators) */
    size_t nvalues;
    bool valid;         /* the single value parsed (number, date, semver, regex) */
    double num;         /* NUM_* */
    int64_t date_ms;    /* DATE_* */
    struct semver sv;   /* SEMVER_* */
    pcre2_code *re;     /* REGEX */
    struct cidr *cidrs; /* IN_CIDR: the valid values */
    size_t ncidrs;
};

enum strategy_kind {
    ST_UNKNOWN,
    ST_DEFAULT,
    ST_USER_WITH_ID,
    ST_GRADUAL_USER_ID,
    ST_GRADUAL_SESSION_ID,
    ST_GRADUAL_RANDOM,
    ST_FLEXIBLE,
    ST_REMOTE_ADDRESS,
    ST_APP_HOSTNAME,
};

struct override {
    const char *context_name;
    const char **values;
    size_t nvalues;
};

struct variant {
    const char *name;
    long weight;
    const char *stickiness; /* NULL: default */
    const char *payload_type, *payload_value;
    struct override *overrides;
    size_t noverrides;
};

struct variants {
    struct variant *v;
    size_t n;
};

struct strategy {
    enum strategy_kind kind;
    bool disabled;
    const char *group_id;   /* NULL when absent */
    double percentage;      /* percentage / rollout; NaN when absent or invalid */
    const char *stickiness; /* flexibleRollout; NULL: default */
    const char **list;      /* userIds, IPs, hostNames */
    size_t nlist;
    struct constraint *constraints;
    size_t nconstraints;
    const long *segments;
    size_t nsegments;
    struct variants variants;
};

struct dependency {
    const char *feature;
    bool enabled; /* expected state (default true) */
    const char **variants;
    size_t nvariants;
};

struct feature {
    const char *name;
    bool enabled, impression_data;
    struct strategy *strategies;
    size_t nstrategies;
    bool has_strategies_list; /* strategies given (even empty) */
    struct variants variants;
    struct dependency *deps;
    size_t ndeps;
};

struct segment {
    long id;
    struct constraint *constraints;
    size_t nconstraints;
};

struct sl_flags_state {
    struct sl_arena arena;
    struct feature *features;
    size_t nfeatures;
    struct segment *segments;
    size_t nsegments;
    struct sl_map by_name; /* name -> feature */
    pcre2_match_context *mctx;
};

/* values.c: parsers shared by the compiler and the evaluator. */
bool sl_flags_js_number(const char *s, double *out);
bool sl_flags_parse_date(const char *s, int64_t *ms);
bool sl_flags_parse_semver(const char *s, struct semver *out);
int sl_flags_semver_cmp(const struct semver *a, const struct semver *b);
bool sl_flags_parse_ip(const char *s, uint8_t out[16]);
bool sl_flags_parse_cidr(const char *s, struct cidr *out);
bool sl_flags_cidr_contains(const struct cidr *c, const uint8_t ip[16]);

/* constraint.c */
int sl_flags_constraint_compile(struct sl_flags_state *st, struct constraint *c, const json_t *j,
                                const char *path, struct sl_error *err);
bool sl_flags_constraint_eval(const struct sl_flags_state *st, const struct constraint *c,
                              const struct sl_flags_context *ctx);
/* The value of context field NAME (top level first, then properties), NULL if absent. */
const char *sl_flags_ctx_get(const struct sl_flags_context *ctx, const char *name);

#endif
