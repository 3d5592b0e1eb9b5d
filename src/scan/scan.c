/* scan.c: see scan.h. Rules are read from the TOML tree (toml.h) into compiled form once;
 * a scan finds the keywords in one case-insensitive pass over the text (no lowercased copy
 * of it), then runs each rule whose keywords occur. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "base/compat.h"
#include "base/alloc.h"
#include "base/embedded.h"
#include "base/str.h"
#include "scan/kwfilter.h"
#include "scan/scan.h"
#include "scan/toml.h"

#include <math.h>
#include <pcre2.h>
#if defined(__x86_64__)
#include <emmintrin.h>
#endif
#include <pthread.h>
#include <stdatomic.h>

#define MATCH_LIMIT 200000 /* PCRE2 backtracking steps per match attempt */
#define DEPTH_LIMIT 2000
#define KEYWORDS_MAX 64
#define WINDOW (64u << 10) /* how far past a keyword's line a match may reach */

enum target { TARGET_SECRET, TARGET_MATCH, TARGET_LINE };

struct allowlist {
    pcre2_code **regexes;
    size_t nregexes;
    enum target target;
    char **stopwords; /* lowercased */
    size_t nstopwords;
    pcre2_code **paths;
    size_t npaths;
    bool and_; /* condition AND: every kind given must match */
};

struct rule {
    char *id, *description;
    pcre2_code *regex; /* NULL: a path-only rule (diffs of files only) */
    pcre2_code *path;
    int secret_group;
    double entropy;
    char **keywords; /* lowercased */
    size_t nkeywords;
    int *kw_index; /* each keyword's entry in the scanner's keyword list; -1: none ("") */
    struct allowlist *allow;
    size_t nallow;
    bool generic; /* the default generic-secret rule's regex and keywords: may_assign() */
};

#define KW_HEADS 1024 /* buckets of keywords by their first two bytes (hashed) */
/* keywords this long are found through kw_at (by the SIMD filter's places, or every other
 * pair of the text), shorter ones by memchr; the filter takes those of 2 bytes too */
#define KW_SAMPLED_MIN 3
#define KW_FILTERED_MIN 2

#define KW_TRI_BITS 65536 /* kw_tri: the bits of a 16-bit hash */

struct keyword {
    const char *word; /* borrowed from its rule */
    size_t wlen;
    int chain; /* the next keyword of the same bucket, -1: none */
    /* only generic rules (struct rule's GENERIC) have it: a place of it where may_assign()
     * says no match can start is of no use to any rule, and is dropped as it is found */
    bool assign_only;
    /* its first 8 bytes (fewer: HEAD_MASK has the ones it has) as one load of a text's 8
     * bytes reads them, and the 0x20 of each that is a letter: a text's 8 bytes T hold the
     * keyword's head in any case when ((T | HEAD_CASE) & HEAD_MASK) == HEAD (see
     * keyword_head), one compare instead of a fold a byte */
    uint64_t head, head_case, head_mask;
};

struct sl_scan {
    struct rule *rules;
    size_t nrules;
    /* every distinct keyword of the rules, indexed once when the rules change: a scan of a
     * small text (a runner's 4 KiB trace chunk) must not pay for building it */
    struct keyword *kw;
    size_t nkw;
    int kw_head[KW_HEADS];
    /* by the two bytes at a text's even offset, as they are (any case): whether they are a
     * keyword's first two (PAIR_AT0) or its second and third (PAIR_AT1). A keyword of 3
     * bytes or more has one of those two pairs at an even offset wherever it is, so a scan
     * looks at every other pair of the text only; most of them are in no keyword. */
    uint8_t kw_at[65536];
    /* on the filter's path, by a hash of the three bytes at a place the filter let through
     * (each byte | 0x20, see tri_hash): whether a keyword of 2 bytes or more may start there.
     * The filter's nibble buckets let through places whose bytes are no keyword's (most of an
     * ordinary build log's: "pa" of "payload", "se" of "session"); this bit, in 8 KiB, drops
     * nearly all of them before a bucket's keywords are compared. */
    uint64_t kw_tri[KW_TRI_BITS / 64];
    /* in front of kw_at on x86-64: the places where a keyword of 3 bytes or more may start,
     * 32 at a time (kwfilter.h); PASS is the path asked for, FILTER says what was built */
    enum sl_kwfilter_path pass;
    struct sl_kwfilter filter;
    /* the filter as last built for these rules on a SIMD path (SIMD_OK): its buckets' search
     * is done once per rule set, not again when only the path changes (tests, benches) */
    struct sl_kwfilter simd;
    bool simd_ok;
    size_t kw_min; /* the shortest keyword found through kw_at: KW_SAMPLED_MIN or FILTERED */
    struct allowlist *allow; /* global */
    size_t nallow;
    atomic_ulong limit_hits;
};

/* --- compiling ---------------------------------------------------------------------- */

static int compile(const char *re, const char *name, const char *what, pcre2_code **out,
                   struct sl_error *err)
{
    int ec;
    PCRE2_SIZE off;
    pcre2_code *code = pcre2_compile((PCRE2_SPTR)re, PCRE2_ZERO_TERMINATED,
                                     PCRE2_UTF | PCRE2_MATCH_INVALID_UTF, &ec, &off, NULL);
    if (!code) {
        PCRE2_UCHAR msg[160];
        pcre2_get_error_message(ec, msg, sizeof(msg));
        return sl_error_set(err, SL_EINVAL, "%s: %s: the regex does not compile at offset %zu: %s",
                            name, what, (size_t)off, (const char *)msg);
    }
    /* JIT for whole and partial matches (scan_text tries a line first, PARTIAL_SOFT);
     * without JIT it still works, slower */
    pcre2_jit_compile(code, PCRE2_JIT_COMPLETE | PCRE2_JIT_PARTIAL_SOFT);
    *out = code;
    return 0;
}

/* ASCII letters only: the keyword filter folds the text's bytes the same way, in place */
static inline unsigned char fold(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c + ('a' - 'A')) : c;
}

static char *lower_dup(const char *s)
{
    char *d = sl_xstrdup(s);
    for (char *p = d; *p; p++)
        *p = (char)fold((unsigned char)*p);
    return d;
}

/* The strings of array V (a string alone counts as one) into *OUT; SL_EINVAL otherwise. */
static int strings(json_t *v, const char *name, const char *what, char ***out, size_t *n,
                   bool lower, struct sl_error *err)
{
    *out = NULL;
    *n = 0;
    if (!v)
        return 0;
    if (!json_is_array(v))
        return sl_error_set(err, SL_EINVAL, "%s: %s must be an array of strings", name, what);
    *out = sl_xcalloc(json_array_size(v) + 1, sizeof(**out));
    size_t i;
    json_t *x;
    json_array_foreach(v, i, x)
    {
        if (!json_is_string(x))
            return sl_error_set(err, SL_EINVAL, "%s: %s must be an array of strings", name, what);
        (*out)[(*n)++] = lower ? lower_dup(json_string_value(x)) : sl_xstrdup(json_string_value(x));
    }
    return 0;
}

static void free_strings(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

static int regexes(json_t *v, const char *name, const char *what, pcre2_code ***out, size_t *n,
                   struct sl_error *err)
{
    char **src = NULL;
    size_t ns = 0;
    int rc = strings(v, name, what, &src, &ns, false, err);
    *out = sl_xcalloc(ns + 1, sizeof(**out));
    *n = 0;
    for (size_t i = 0; rc == 0 && i < ns; i++)
        if ((rc = compile(src[i], name, what, &(*out)[i], err)) == 0)
            (*n)++;
    free_strings(src, ns);
    return rc;
}

static void allowlist_release(struct allowlist *a)
{
    for (size_t i = 0; i < a->nregexes; i++)
        pcre2_code_free(a->regexes[i]);
    free(a->regexes);
    for (size_t i = 0; i < a->npaths; i++)
        pcre2_code_free(a->paths[i]);
    free(a->paths);
    free_strings(a->stopwords, a->nstopwords);
}

static int allowlist_read(json_t *o, const char *name, struct allowlist *a, struct sl_error *err)
{
    memset(a, 0, sizeof(*a));
    if (!json_is_object(o))
        return sl_error_set(err, SL_EINVAL, "%s: an allowlist must be a table", name);
    const char *target = json_string_value(json_object_get(o, "regexTarget"));
    const char *cond = json_string_value(json_object_get(o, "condition"));
    a->target = !target || !strcmp(target, "secret") ? TARGET_SECRET
                : !strcmp(target, "match")           ? TARGET_MATCH
                : !strcmp(target, "line")            ? TARGET_LINE
                                                     : (enum target) - 1;
    if ((int)a->target < 0)
        return sl_error_set(err, SL_EINVAL, "%s: regexTarget must be secret, match or line", name);
    if (cond && strcasecmp(cond, "OR") && strcasecmp(cond, "AND"))
        return sl_error_set(err, SL_EINVAL, "%s: an allowlist's condition must be OR or AND", name);
    a->and_ = cond && !strcasecmp(cond, "AND");
    int rc;
    if ((rc = regexes(json_object_get(o, "regexes"), name, "allowlist regexes", &a->regexes,
                      &a->nregexes, err)) < 0 ||
        (rc = regexes(json_object_get(o, "paths"), name, "allowlist paths", &a->paths, &a->npaths,
                      err)) < 0 ||
        (rc = strings(json_object_get(o, "stopwords"), name, "stopwords", &a->stopwords,
                      &a->nstopwords, true, err)) < 0)
        return rc;
    return 0;
}

/* The allowlists under KEY_MANY (an array of tables) and KEY_ONE (one table) of O. */
static int allowlists_read(json_t *o, const char *key_many, const char *key_one, const char *name,
                           struct allowlist **out, size_t *n, struct sl_error *err)
{
    json_t *many = json_object_get(o, key_many), *one = json_object_get(o, key_one);
    size_t cap = (json_is_array(many) ? json_array_size(many) : 0) + (one ? 1 : 0);
    int rc = 0;
    *out = sl_xrealloc(*out, (*n + cap + 1) * sizeof(**out));
    if (many && !json_is_array(many))
        return sl_error_set(err, SL_EINVAL, "%s: %s must be an array of tables", name, key_many);
    size_t i;
    json_t *x;
    json_array_foreach(many, i, x)
    {
        if ((rc = allowlist_read(x, name, &(*out)[*n], err)) < 0) {
            allowlist_release(&(*out)[*n]);
            return rc;
        }
        (*n)++;
    }
    if (one) {
        if ((rc = allowlist_read(one, name, &(*out)[*n], err)) < 0) {
            allowlist_release(&(*out)[*n]);
            return rc;
        }
        (*n)++;
    }
    return 0;
}

static void rule_release(struct rule *r)
{
    free(r->id);
    free(r->description);
    pcre2_code_free(r->regex);
    pcre2_code_free(r->path);
    free_strings(r->keywords, r->nkeywords);
    free(r->kw_index);
    for (size_t i = 0; i < r->nallow; i++)
        allowlist_release(&r->allow[i]);
    free(r->allow);
    memset(r, 0, sizeof(*r));
}

/* The default rules' generic-secret regex and its keywords (default-rules.toml): a keyword's
 * line can match it only where may_assign() says so, which is checked before the regex runs. A
 * rule that differs in any of them runs its regex on every keyword line. */
static const char generic_re[] =
    "(?i)(?:api[_-]?key|secret|token|passw(?:or)?d|pwd|credential)[a-z0-9_.\\-]{0,20}['\"]?\\s*"
    "(?:=|:|=>|:=)\\s*['\"]?([A-Za-z0-9+/_=.\\-]{16,128})(?![A-Za-z0-9+/_=.\\-])";
static const char *const generic_keywords[] = {"key",   "secret", "token",
                                               "passw", "pwd",    "credential"};

static bool is_generic(const char *re, char **keywords, size_t n)
{
    if (!re || strcmp(re, generic_re) || n != SL_ARRAY_LEN(generic_keywords))
        return false;
    for (size_t i = 0; i < SL_ARRAY_LEN(generic_keywords); i++) {
        bool found = false;
        for (size_t k = 0; k < n && !found; k++)
            found = !strcmp(keywords[k], generic_keywords[i]);
        if (!found)
            return false;
    }
    return true;
}

static int rule_read(json_t *o, const char *file, struct rule *r, struct sl_error *err)
{
    memset(r, 0, sizeof(*r));
    const char *id = json_string_value(json_object_get(o, "id"));
    if (!json_is_object(o) || !id || !*id)
        return sl_error_set(err, SL_EINVAL, "%s: every [[rules]] needs an id", file);
    char name[512];
    snprintf(name, sizeof(name), "%s: rule %s", file, id);
    r->id = sl_xstrdup(id);
    const char *desc = json_string_value(json_object_get(o, "description"));
    r->description = sl_xstrdup(desc ? desc : id);
    const char *re = json_string_value(json_object_get(o, "regex"));
    const char *path = json_string_value(json_object_get(o, "path"));
    json_t *group = json_object_get(o, "secretGroup"), *entropy = json_object_get(o, "entropy");
    int rc;
    if (!re && !path)
        return sl_error_set(err, SL_EINVAL, "%s: needs a regex or a path", name);
    if ((re && (rc = compile(re, name, "regex", &r->regex, err)) < 0) ||
        (path && (rc = compile(path, name, "path", &r->path, err)) < 0))
        return rc;
    if (group && (!json_is_integer(group) || json_integer_value(group) < 0 ||
                  json_integer_value(group) > 99))
        return sl_error_set(err, SL_EINVAL, "%s: secretGroup must be a group number", name);
    r->secret_group = (int)json_integer_value(group);
    if (entropy && (!json_is_number(entropy) || json_number_value(entropy) < 0 ||
                    json_number_value(entropy) > 8))
        return sl_error_set(err, SL_EINVAL, "%s: entropy must be 0 to 8 bits", name);
    r->entropy = entropy ? json_number_value(entropy) : 0;
    if ((rc = strings(json_object_get(o, "keywords"), name, "keywords", &r->keywords, &r->nkeywords,
                      true, err)) < 0)
        return rc;
    if (r->nkeywords > KEYWORDS_MAX)
        return sl_error_set(err, SL_EINVAL, "%s: more than %d keywords", name, KEYWORDS_MAX);
    for (size_t k = 0; k < r->nkeywords; k++)
        if (!*r->keywords[k]) {
            /* "" is in every text (gitleaks: strings.Contains): the rule is filtered by
             * nothing, not skipped everywhere as a keyword never found would make it */
            free_strings(r->keywords, r->nkeywords);
            r->keywords = NULL;
            r->nkeywords = 0;
            break;
        }
    r->generic = is_generic(re, r->keywords, r->nkeywords);
    return allowlists_read(o, "allowlists", "allowlist", name, &r->allow, &r->nallow, err);
}

/* A keyword's bucket: by its first two bytes folded (a keyword is lowercased, the text's
 * bytes are folded when they are looked up) */
static unsigned kw_bucket(const char *w)
{
    return ((unsigned)fold((unsigned char)w[0]) << 8 | fold((unsigned char)w[1])) & (KW_HEADS - 1);
}

#define PAIR_AT0 1
#define PAIR_AT1 2

/* The index of the two bytes at W in kw_at: the bytes as one 16-bit load reads them, the
 * same order however the table was filled */
static inline unsigned kw_pair(const char *w)
{
    uint16_t v;
    memcpy(&v, w, 2);
    return v;
}

/* The hash of the three bytes at T (kw_tri's bit): each byte | 0x20, the same for the two
 * cases of a letter and for a keyword's (lowercased) byte and any text byte that folds to it,
 * so a place where a keyword starts always has its keyword's bit (other bytes may share it:
 * '_' and DEL, a digit and a control byte; they are verified) */
static inline unsigned tri_hash(const char *t)
{
    uint32_t v = ((uint32_t)(unsigned char)t[0] | (uint32_t)(unsigned char)t[1] << 8 |
                  (uint32_t)(unsigned char)t[2] << 16) |
                 0x202020u;
    return (v * 0x9E3779B1u) >> 16;
}

static void tri_set(uint64_t *tri, const char *three)
{
    unsigned h = tri_hash(three);
    tri[h / 64] |= (uint64_t)1 << (h % 64);
}

static inline bool tri_has(const uint64_t *tri, const char *t)
{
    unsigned h = tri_hash(t);
    return tri[h / 64] >> (h % 64) & 1;
}

static void pair_set(uint8_t *at, unsigned char a, unsigned char b, uint8_t bit)
{
    const char two[2] = {(char)a, (char)b};
    at[kw_pair(two)] |= bit;
}

/* The other case of an ASCII letter; C itself for any other byte. */
static unsigned char other_case(unsigned char c)
{
    return c >= 'a' && c <= 'z' ? (unsigned char)(c - ('a' - 'A')) : fold(c);
}

static pthread_once_t byte_kind_once;
static void byte_kind_make(void);

/* K's HEAD, HEAD_CASE and HEAD_MASK. A letter's two cases differ in bit 0x20 alone, and
 * T | 0x20 is a lowercase letter only when T is it or its upper case; any other byte of a
 * keyword (a digit, `_`, `-`, a space) is compared as it is: the same as fold() a byte. */
static void keyword_head(struct keyword *k)
{
    k->head = k->head_case = k->head_mask = 0;
    for (size_t i = 0; i < k->wlen && i < 8; i++) {
        unsigned char c = (unsigned char)k->word[i];
        int shift = 8 * (int)i;
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
        shift = 56 - shift;
#endif
        k->head |= (uint64_t)c << shift;
        k->head_case |= (uint64_t)(c >= 'a' && c <= 'z' ? 0x20 : 0) << shift;
        k->head_mask |= (uint64_t)0xff << shift;
    }
}

/* Marks the keywords that generic rules alone have (kw's ASSIGN_ONLY). */
static void keywords_mark_assign_only(struct sl_scan *s)
{
    for (size_t j = 0; j < s->nkw; j++)
        s->kw[j].assign_only = true;
    for (size_t i = 0; i < s->nrules; i++)
        for (size_t k = 0; k < s->rules[i].nkeywords; k++)
            if (!s->rules[i].generic && s->rules[i].kw_index[k] >= 0)
                s->kw[s->rules[i].kw_index[k]].assign_only = false;
}

static void index_keywords(struct sl_scan *s, bool rules_changed)
{
    if (rules_changed)
        s->simd_ok = false;
    size_t cap = 0;
    free(s->kw);
    s->kw = NULL;
    s->nkw = 0;
    for (size_t i = 0; i < KW_HEADS; i++)
        s->kw_head[i] = -1;
    memset(s->kw_at, 0, sizeof(s->kw_at));
    memset(s->kw_tri, 0, sizeof(s->kw_tri));
    for (size_t i = 0; i < s->nrules; i++) {
        struct rule *r = &s->rules[i];
        free(r->kw_index);
        r->kw_index = sl_xcalloc(r->nkeywords + 1, sizeof(*r->kw_index));
        for (size_t k = 0; k < r->nkeywords; k++) {
            const char *w = r->keywords[k];
            size_t j = 0;
            while (j < s->nkw && strcmp(s->kw[j].word, w))
                j++;
            if (j == s->nkw && *w) {
                SL_GROW(s->kw, cap, s->nkw + 1);
                s->kw[s->nkw++] = (struct keyword){.word = w, .wlen = strlen(w), .chain = -1};
            }
            /* found once here, not by name on every scan (15 rules' 50 keywords against
             * the list of 50 were 2,500 strcmp() a 4 KiB chunk) */
            r->kw_index[k] = *w ? (int)j : -1;
        }
    }
    keywords_mark_assign_only(s);
    pthread_once(&byte_kind_once, byte_kind_make); /* may_assign's table */
    for (size_t j = 0; j < s->nkw; j++)
        keyword_head(&s->kw[j]);
    /* the filter's places are each looked up, so a keyword of 2 bytes is found there too;
     * every other pair of the scalar pass would miss it at an odd offset */
    s->kw_min = sl_kwfilter_available(s->pass) && s->pass != SL_KWFILTER_SCALAR ? KW_FILTERED_MIN
                                                                                : KW_SAMPLED_MIN;
    for (size_t j = 0; j < s->nkw; j++) {
        if (s->kw[j].wlen < s->kw_min)
            continue; /* found by memchr() on one of its bytes */
        unsigned bucket = kw_bucket(s->kw[j].word);
        s->kw[j].chain = s->kw_head[bucket];
        s->kw_head[bucket] = (int)j;
        /* every case of the two bytes as the text may hold them: the text is not
         * lowercased first, its bytes are looked up as they are (bytes 1-2: the scalar
         * pass's, of keywords of 3 bytes or more) */
        for (int o = 0; o < (s->kw[j].wlen >= KW_SAMPLED_MIN ? 2 : 1); o++) {
            unsigned char a = (unsigned char)s->kw[j].word[o];
            unsigned char b = (unsigned char)s->kw[j].word[o + 1];
            uint8_t bit = o ? PAIR_AT1 : PAIR_AT0;
            pair_set(s->kw_at, a, b, bit);
            pair_set(s->kw_at, other_case(a), b, bit);
            pair_set(s->kw_at, a, other_case(b), bit);
            pair_set(s->kw_at, other_case(a), other_case(b), bit);
        }
        /* a keyword of 2 bytes may have any third byte after it */
        char three[3] = {s->kw[j].word[0], s->kw[j].word[1], s->kw[j].word[2]};
        for (int c = 0; c < (s->kw[j].wlen == 2 ? 256 : 1); c++) {
            if (s->kw[j].wlen == 2)
                three[2] = (char)c;
            tri_set(s->kw_tri, three);
        }
    }
    const char **long_words = sl_xcalloc(s->nkw + 1, sizeof(*long_words));
    size_t nlong = 0;
    for (size_t j = 0; j < s->nkw; j++)
        if (s->kw[j].wlen >= s->kw_min)
            long_words[nlong++] = s->kw[j].word;
    if (s->kw_min == KW_FILTERED_MIN && s->simd_ok) { /* the same words: the same tables */
        s->filter = s->simd;
        s->filter.path = s->pass;
    } else {
        sl_kwfilter_build(&s->filter, long_words, nlong, s->pass);
        if (s->filter.path != SL_KWFILTER_SCALAR)
            s->simd = s->filter, s->simd_ok = true;
    }
    free(long_words);
}

int sl_scan_set_keyword_pass(struct sl_scan *s, int path)
{
    s->pass = (enum sl_kwfilter_path)path;
    index_keywords(s, false);
    return (int)s->filter.path;
}

/* `[extend] disabledRules`: drops S's rules (the ones extended, not the file's own) with
 * those ids; an id S does not have is no error, as in gitleaks, since the file may name
 * rules of gitleaks' own default set. */
static int rules_disable(struct sl_scan *s, const json_t *ids, const char *name,
                         struct sl_error *err)
{
    if (!ids)
        return 0;
    size_t i;
    json_t *id;
    json_array_foreach(ids, i, id) if (!json_is_string(id)) ids = NULL;
    if (!json_is_array(ids))
        return sl_error_set(err, SL_EINVAL, "%s: extend.disabledRules must be an array of rule ids",
                            name);
    json_array_foreach(ids, i, id)
    {
        size_t k = 0;
        while (k < s->nrules && strcmp(s->rules[k].id, json_string_value(id)))
            k++;
        if (k == s->nrules)
            continue;
        rule_release(&s->rules[k]);
        memmove(&s->rules[k], &s->rules[k + 1], (s->nrules - k - 1) * sizeof(*s->rules));
        s->nrules--;
    }
    return 0;
}

int sl_scan_extend(struct sl_scan *s, const char *toml, size_t len, const char *name,
                   struct sl_error *err)
{
    json_t *doc = NULL;
    int rc = sl_toml_parse(toml, len, name, &doc, err);
    if (rc < 0)
        return rc;
    json_t *extend = json_object_get(doc, "extend");
    if (json_is_false(json_object_get(extend, "useDefault"))) {
        for (size_t i = 0; i < s->nrules; i++)
            rule_release(&s->rules[i]);
        s->nrules = 0;
    }
    if ((rc = rules_disable(s, json_object_get(extend, "disabledRules"), name, err)) < 0)
        goto out;
    json_t *rules = json_object_get(doc, "rules");
    if (rules && !json_is_array(rules)) {
        rc = sl_error_set(err, SL_EINVAL, "%s: rules must be [[rules]] tables", name);
        goto out;
    }
    if (s->nrules + json_array_size(rules) > SL_SCAN_RULES_MAX) {
        rc = sl_error_set(err, SL_ELIMIT, "%s: more than %d rules", name, SL_SCAN_RULES_MAX);
        goto out;
    }
    s->rules = sl_xrealloc(s->rules, (s->nrules + json_array_size(rules) + 1) * sizeof(*s->rules));
    size_t i;
    json_t *x;
    json_array_foreach(rules, i, x)
    {
        struct rule r;
        if ((rc = rule_read(x, name, &r, err)) < 0) {
            rule_release(&r);
            goto out;
        }
        size_t k = 0;
        while (k < s->nrules && strcmp(s->rules[k].id, r.id))
            k++;
        if (k < s->nrules)
            rule_release(&s->rules[k]); /* the project's rule of that id replaces ours */
        else
            s->nrules++;
        s->rules[k] = r;
    }
    rc = allowlists_read(doc, "allowlists", "allowlist", name, &s->allow, &s->nallow, err);
out:
    index_keywords(s, true); /* the rules changed, also when a later one failed */
    json_decref(doc);
    return rc;
}

int sl_scan_load(struct sl_scan **out, const char *toml, size_t len, const char *name,
                 struct sl_error *err)
{
    struct sl_scan *s = sl_xcalloc(1, sizeof(*s));
    s->pass = sl_kwfilter_default();
    int rc = sl_scan_extend(s, toml, len, name, err);
    if (rc < 0) {
        sl_scan_free(s);
        s = NULL;
    }
    *out = s;
    return rc;
}

int sl_scan_default(struct sl_scan **out, struct sl_error *err)
{
    const struct sl_embedded *e = sl_embedded_find("src/scan/default-rules.toml");
    if (!e)
        return sl_error_set(err, SL_EINVAL, "the default secret rules are not in this binary");
    return sl_scan_load(out, (const char *)e->data, e->size, "default-rules.toml", err);
}

void sl_scan_free(struct sl_scan *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->nrules; i++)
        rule_release(&s->rules[i]);
    free(s->rules);
    for (size_t i = 0; i < s->nallow; i++)
        allowlist_release(&s->allow[i]);
    free(s->allow);
    free(s->kw);
    free(s);
}

size_t sl_scan_rule_count(const struct sl_scan *s)
{
    return s->nrules;
}

unsigned long sl_scan_stats_limit_hits(const struct sl_scan *s)
{
    return atomic_load(&s->limit_hits);
}

/* --- scanning ----------------------------------------------------------------------- */

double sl_scan_entropy(const char *data, size_t len)
{
    if (len == 0)
        return 0;
    size_t count[256] = {0};
    for (size_t i = 0; i < len; i++)
        count[(unsigned char)data[i]]++;
    double h = 0;
    for (int i = 0; i < 256; i++)
        if (count[i]) {
            double p = (double)count[i] / (double)len;
            h -= p * log2(p);
        }
    return h;
}

/* A thread's match context (the limits) and match data, made on its first scan and kept
 * until it ends: a server scans every 4 KiB trace chunk, and making them per scan and per
 * rule (and PCRE2's heap frames with the match data) was a good part of a small chunk's
 * cost. Two match data: a rule's (its ovector is read after the allowlists ran) and the
 * allowlists'. OVECTOR_PAIRS covers secretGroup's largest (99). */
#define OVECTOR_PAIRS 100

struct places;

struct matcher {
    pcre2_match_context *mc;
    pcre2_match_data *md, *md_allow;
    /* the keywords' places of the thread's last scan, kept with their arrays for the next:
     * allocating them per scan (and growing each as places were found) was most of what a
     * scan of a small chunk did besides reading it. BUSY: a scan on the thread is using
     * them (one run from a finding's callback allocates its own). */
    struct places *places;
    size_t nplaces;
    bool busy;
};

static pthread_key_t matcher_key;
static pthread_once_t matcher_once = PTHREAD_ONCE_INIT;

static void places_free(struct places *p, size_t n);

static void matcher_free(void *p)
{
    struct matcher *m = p;
    places_free(m->places, m->nplaces);
    pcre2_match_data_free(m->md);
    pcre2_match_data_free(m->md_allow);
    pcre2_match_context_free(m->mc);
    free(m);
}

static void matcher_key_make(void)
{
    pthread_key_create(&matcher_key, matcher_free);
}

static struct matcher *matcher_get(void)
{
    pthread_once(&matcher_once, matcher_key_make);
    struct matcher *m = pthread_getspecific(matcher_key);
    if (m)
        return m;
    m = sl_xcalloc(1, sizeof(*m));
    m->mc = pcre2_match_context_create(NULL);
    m->md = pcre2_match_data_create(OVECTOR_PAIRS, NULL);
    m->md_allow = pcre2_match_data_create(OVECTOR_PAIRS, NULL);
    if (!m->mc || !m->md || !m->md_allow) {
        fputs("sluice: out of memory\n", stderr); /* alloc.h's rule */
        abort();
    }
    pcre2_set_match_limit(m->mc, MATCH_LIMIT);
    pcre2_set_depth_limit(m->mc, DEPTH_LIMIT);
    pthread_setspecific(matcher_key, m);
    return m;
}

/* Whether RE matches the LEN bytes at S (anywhere). */
static bool matches(pcre2_code *re, const char *s, size_t len, const struct matcher *m)
{
    return pcre2_match(re, (PCRE2_SPTR)s, len, 0, 0, m->md_allow, m->mc) >= 0;
}

static bool contains_lower(const char *s, size_t len, const char *lowered_word)
{
    size_t w = strlen(lowered_word);
    for (size_t i = 0; w && i + w <= len; i++) {
        size_t k = 0;
        while (k < w && fold((unsigned char)s[i + k]) == lowered_word[k])
            k++;
        if (k == w)
            return true;
    }
    return false;
}

/* Whether allowlist A lets the finding go: PATH, the whole MATCH, the SECRET and its LINE. */
static bool allowed_by(const struct allowlist *a, const char *path, const char *match,
                       size_t match_len, const char *secret, size_t secret_len, const char *line,
                       size_t line_len, const struct matcher *m)
{
    int kinds = 0, hits = 0;
    if (a->nregexes) {
        kinds++;
        const char *t = a->target == TARGET_LINE    ? line
                        : a->target == TARGET_MATCH ? match
                                                    : secret;
        size_t tl = a->target == TARGET_LINE    ? line_len
                    : a->target == TARGET_MATCH ? match_len
                                                : secret_len;
        for (size_t i = 0; i < a->nregexes; i++)
            if (matches(a->regexes[i], t, tl, m)) {
                hits++;
                break;
            }
    }
    if (a->nstopwords) {
        kinds++;
        for (size_t i = 0; i < a->nstopwords; i++)
            if (contains_lower(secret, secret_len, a->stopwords[i])) {
                hits++;
                break;
            }
    }
    if (a->npaths) {
        kinds++;
        for (size_t i = 0; path && i < a->npaths; i++)
            if (matches(a->paths[i], path, strlen(path), m)) {
                hits++;
                break;
            }
    }
    return kinds && (a->and_ ? hits == kinds : hits > 0);
}

/* Where each distinct keyword of the rules occurs in the text, in any case: found in one
 * pass over it, through a table of the keywords' first two bytes in each case, so that 15
 * rules with 50 keywords cost one read of the text, not 50, and no lowercased copy of it. */
struct places {
    const char *word;
    size_t wlen;
    bool assign_only; /* the keyword's (struct keyword) */
    size_t *at;       /* ascending offsets */
    size_t n, cap;
};

/* The text a keyword pass looks at: TEXT[0..LEN), which is WHOLE[START..WHOLE_LEN) (START a
 * line's start), and what its places of assign-only keywords are checked by. */
struct find_text {
    const char *text;
    size_t len;
    const char *whole;
    size_t whole_len, start;
    /* whether TEXT has a byte of 0x80 or more (TEXT_UNKNOWN: not looked at yet); the last
     * line of it looked at for one (offsets in TEXT, [LINE_START, LINE_END)), whether it had,
     * and how many lines were looked at */
    enum { TEXT_UNKNOWN, TEXT_HIGH, TEXT_ASCII } text_high;
    size_t line_start, line_end, lines;
    bool line_high;
};

static bool may_assign(const char *text, size_t lim, size_t p, const char *word, size_t wlen);
static bool any_high(const char *t, size_t n);

/* Whether the line of T's place Q has a byte of 0x80 or more (places come in ascending order:
 * a line is looked at once). Line by line while that costs less than looking at the whole
 * text once (an ordinary log's chunk has a few such places, a log with keywords on every line
 * thousands), which may then say that no line has one. */
static bool line_high(struct find_text *t, size_t q)
{
    if (t->text_high == TEXT_ASCII)
        return false;
    if (q >= t->line_end || q < t->line_start) {
        /* a line's look is three calls, some 40 ns: what a look at about 512 bytes costs */
        if (t->text_high == TEXT_UNKNOWN && ++t->lines > t->len / 512) {
            t->text_high = any_high(t->text, t->len) ? TEXT_HIGH : TEXT_ASCII;
            if (t->text_high == TEXT_ASCII)
                return false;
        }
        const char *nl = memrchr(t->text, '\n', q);
        t->line_start = nl ? (size_t)(nl - t->text) + 1 : 0;
        nl = memchr(t->text + q, '\n', t->len - q);
        t->line_end = nl ? (size_t)(nl - t->text) : t->len;
        t->line_high = any_high(t->text + t->line_start, t->line_end - t->line_start);
    }
    return t->line_high;
}

/* Whether a generic rule may match from assign-only keyword P found at Q of T: what the rule's
 * line check (sl_scan_text_part) would say of it, asked once, as it is found. That check looks
 * at a line's keywords only when the line is ASCII (with a byte of 0x80 or more the regex
 * decides: a caseless UTF-8 regex folds the Kelvin sign into `token`), so a place on such a
 * line is kept. may_assign's limit is the whole text's end, not the line's end plus the match
 * window the rule loop gives it: it says no only at a byte a match would have to hold, so a
 * place it drops with the farther limit is one no match can start at with the nearer. */
static bool assign_may(struct find_text *t, const struct places *p, size_t q)
{
    return may_assign(t->whole, t->whole_len, t->start + q, p->word, p->wlen) || line_high(t, q);
}

/* Whether the WLEN bytes at T are the lowercased WORD, folding T's bytes. */
static bool same_folded(const char *t, const char *word, size_t wlen)
{
    for (size_t k = 0; k < wlen; k++)
        if (fold((unsigned char)t[k]) != (unsigned char)word[k])
            return false;
    return true;
}

static void place_add(struct places *p, size_t at)
{
    SL_GROW(p->at, p->cap, p->n + 1);
    p->at[p->n++] = at;
}

/* Whether keyword K is at T, which has AVAIL bytes: its head by one compare of 8 bytes where
 * they are there, the bytes past 8 folded one by one. */
static inline bool keyword_at(const struct keyword *k, const char *t, size_t avail)
{
    if (k->wlen > avail)
        return false;
    if (avail < 8)
        return same_folded(t, k->word, k->wlen);
    uint64_t v;
    memcpy(&v, t, 8);
    return ((v | k->head_case) & k->head_mask) == k->head &&
           (k->wlen <= 8 || same_folded(t + 8, k->word + 8, k->wlen - 8));
}

/* The keywords of S->kw_min bytes or more that start at Q (Q + 1 < T's LEN); of those only
 * generic rules have, the places where they may match (assign_may). */
static void verify_at(const struct sl_scan *s, struct places *p, struct find_text *t, size_t q)
{
    const char *text = t->text;
    for (int j = s->kw_head[kw_bucket(text + q)]; j >= 0; j = s->kw[j].chain)
        if (keyword_at(&s->kw[j], text + q, t->len - q) &&
            (!p[j].assign_only || assign_may(t, &p[j], q)))
            place_add(&p[j], q);
}

/* The next place at or after FROM of byte C in either case (LEN when none); *LO and *UP
 * keep the next of each case found so far (SIZE_MAX: not searched yet). */
static size_t next_either(const char *text, size_t len, size_t from, unsigned char c, size_t *lo,
                          size_t *up)
{
    unsigned char cases[2] = {fold(c), other_case(fold(c))};
    size_t *next[2] = {lo, up};
    for (int k = 0; k < (cases[0] == cases[1] ? 1 : 2); k++)
        if (*next[k] == SIZE_MAX || (*next[k] < from && *next[k] != len)) {
            const char *h = from < len ? memchr(text + from, cases[k], len - from) : NULL;
            *next[k] = h ? (size_t)(h - text) : len;
        }
    return cases[0] == cases[1] ? *lo : SL_MIN(*lo, *up);
}

/* The places of a keyword shorter than S->kw_min (1 byte; 2 on the scalar pass: the default
 * rules have one, "q~"): by memchr() on its last byte, a non-letter if it has one (one case
 * to look for). */
static void find_short(struct places *p, const char *text, size_t len)
{
    size_t w = p->wlen;
    size_t pick = w == 2 && other_case((unsigned char)p->word[1]) != (unsigned char)p->word[1] &&
                          other_case((unsigned char)p->word[0]) == (unsigned char)p->word[0]
                      ? 0
                      : w - 1;
    size_t lo = SIZE_MAX, up = SIZE_MAX;
    for (size_t h = pick;
         (h = next_either(text, len, h, (unsigned char)p->word[pick], &lo, &up)) < len; h++)
        if (h - pick + w <= len && same_folded(text + h - pick, p->word, w))
            place_add(p, h - pick);
}

/* The keywords of 3 bytes or more, without the SIMD filter: every other pair of the text
 * in kw_at. A keyword at an odd offset Q has its second and third bytes at Q + 1
 * (PAIR_AT1), checked before one that may start at Q + 1 itself, so places ascend. Q is
 * verified only when its own pair could begin a keyword too: "ok" (of "token") and "cc" (of
 * "acca") are most of a build log's pairs in the table, and rarely after "t" or "a" there
 * (a lookup instead of a bucket's keywords compared). */
static void find_paired(const struct sl_scan *s, struct places *p, struct find_text *t)
{
    const char *text = t->text;
    size_t len = t->len;
    for (size_t i = 0; i + 1 < len; i += 2) {
        unsigned v = s->kw_at[kw_pair(text + i)];
        if (!v)
            continue;
        if (v & PAIR_AT1 && i > 0 && s->kw_at[kw_pair(text + i - 1)] & PAIR_AT0)
            verify_at(s, p, t, i - 1);
        if (v & PAIR_AT0)
            verify_at(s, p, t, i);
    }
}

/* The same with the filter (kwfilter.h): the places it lets through, in order, then each
 * place after its last block; a place is a keyword's start only if its three bytes have a
 * keyword's bit in kw_tri (in the blocks; after them, where a place's third byte may be past
 * LEN, if its pair is one's first two bytes, PAIR_AT0). On an ordinary build log the filter
 * lets through about 590 places in 171 KB, 400 of them with a keyword's pair and 56 keywords:
 * the pair's lookup let 340 of them on to a bucket's compares, kw_tri lets few. */
static void find_filtered(const struct sl_scan *s, struct places *p, struct find_text *t)
{
    const char *text = t->text;
    size_t len = t->len;
    size_t end = sl_kwfilter_end(len), q = 0;
    struct sl_kwfilter_block blocks[64];
    /* a block's places are before END and its 34 bytes read: a place's 3 bytes are in TEXT */
    while (q < end) {
        size_t n = sl_kwfilter_blocks(&s->filter, text, len, q, blocks, SL_ARRAY_LEN(blocks), &q);
        for (size_t b = 0; b < n; b++)
            for (uint32_t mask = blocks[b].mask; mask; mask &= mask - 1) {
                size_t at = blocks[b].at + (size_t)__builtin_ctz(mask);
                if (tri_has(s->kw_tri, text + at))
                    verify_at(s, p, t, at);
            }
    }
    for (q = end; q + 1 < len; q++)
        if (s->kw_at[kw_pair(text + q)] & PAIR_AT0)
            verify_at(s, p, t, q);
}

/* The places of S's keywords in TEXT[START..LEN) (START a line's start), offsets from START,
 * into P (S->nkw of them; their arrays may be kept from a scan before, and are reused). */
static void find_places(const struct sl_scan *s, struct places *p, const char *whole, size_t len,
                        size_t start)
{
    size_t n = s->nkw;
    for (size_t j = 0; j < n; j++) {
        p[j].word = s->kw[j].word;
        p[j].wlen = s->kw[j].wlen;
        p[j].assign_only = s->kw[j].assign_only;
        p[j].n = 0;
    }
    const char *text = whole + start;
    struct find_text t = {
        .text = text, .len = len - start, .whole = whole, .whole_len = len, .start = start};
    if (s->filter.path != SL_KWFILTER_SCALAR)
        find_filtered(s, p, &t);
    else
        find_paired(s, p, &t);
    for (size_t j = 0; j < n; j++)
        if (p[j].wlen < s->kw_min)
            find_short(&p[j], text, len - start);
}

static void places_free(struct places *p, size_t n)
{
    for (size_t j = 0; j < n; j++)
        free(p[j].at);
    free(p);
}

/* 64 bytes a step in four SSE2 compares (x86-64's baseline), 8 a word elsewhere: a rule's
 * finding deep in a 1 MiB chunk counted its lines a byte a step, which was a sixth of
 * scanning such a chunk. */
size_t sl_scan_newlines(const char *p, size_t n)
{
    size_t c = 0, i = 0;
#if defined(__x86_64__)
    const __m128i nl = _mm_set1_epi8('\n'), zero = _mm_setzero_si128();
    while (n - i >= 64) {
        /* four sums of 16 lanes, each lane counting to at most 255 */
        size_t blocks = SL_MIN((n - i) / 64, (size_t)255);
        __m128i a0 = zero, a1 = zero, a2 = zero, a3 = zero;
        for (size_t b = 0; b < blocks; b++, i += 64) {
            const __m128i *q = (const __m128i *)(p + i);
            a0 = _mm_sub_epi8(a0, _mm_cmpeq_epi8(_mm_loadu_si128(q), nl));
            a1 = _mm_sub_epi8(a1, _mm_cmpeq_epi8(_mm_loadu_si128(q + 1), nl));
            a2 = _mm_sub_epi8(a2, _mm_cmpeq_epi8(_mm_loadu_si128(q + 2), nl));
            a3 = _mm_sub_epi8(a3, _mm_cmpeq_epi8(_mm_loadu_si128(q + 3), nl));
        }
        __m128i sum = _mm_add_epi64(_mm_add_epi64(_mm_sad_epu8(a0, zero), _mm_sad_epu8(a1, zero)),
                                    _mm_add_epi64(_mm_sad_epu8(a2, zero), _mm_sad_epu8(a3, zero)));
        c += (size_t)_mm_cvtsi128_si64(sum) +
             (size_t)_mm_cvtsi128_si64(_mm_unpackhi_epi64(sum, sum));
    }
#else
    const uint64_t ones = 0x0101010101010101u, high = 0x8080808080808080u;
    for (; n - i >= 8; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        w ^= ones * '\n'; /* a newline's byte is 0 now: its high bit alone set below */
        c += (size_t)__builtin_popcountll(~(((w & ~high) + ~high) | w) & high);
    }
#endif
    for (; i < n; i++)
        c += p[i] == '\n';
    return c;
}

/* Whether the generic rule's regex may match at its keyword WORD (WLEN bytes) found at P of
 * TEXT, whose bytes up to LIM the regex may look at: a match holds a keyword in its
 * `api[_-]?key|secret|token|passw(or)?d|pwd|credential`, then at most 20 bytes of
 * [A-Za-z0-9_.-] (23 after "passw"), an optional quote, white space (newlines too), and `=` or
 * `:` (of `=`, `:`, `=>`, `:=`). That class, the quotes, the white space and the separators are
 * none of each other, so the class's run from the keyword's end must be the whole run there.
 * After the separator come white space, an optional quote and the value: a run of 16 to 128
 * bytes of [A-Za-z0-9+/_=.-] that the class does not go on after. The value's place is fixed
 * by the separator taken (`=>` and `:=` or their first byte alone: a value may start with `=`),
 * as white space and quotes are not in its class, so a run there of fewer than 16 is no match
 * (most keyword lines with an assignment say `token_ttl=3600` or `key: ${VAR}`).
 * True (the regex decides) on any byte of 0x80 or more on the way (in UTF mode `(?i)` folds the
 * Kelvin sign and the long s into the classes) and when LIM comes first. */
/* A byte's kinds for may_assign, by table (each test a load, not a chain of compares and
 * branches: it runs at every place of the generic rule's keywords) */
#define BYTE_CLASS 1 /* [A-Za-z0-9_.-]: what may follow the keyword */
#define BYTE_VALUE 2 /* [A-Za-z0-9+/_=.-]: a value's */
#define BYTE_SPACE 4 /* \s */
#define BYTE_QUOTE 8 /* ' or " */
#define BYTE_SEP 16  /* = or : */
#define BYTE_HIGH 32 /* 0x80 or more: the regex decides */

static uint8_t byte_kind[256];
static pthread_once_t byte_kind_once = PTHREAD_ONCE_INIT; /* made when rules are indexed */

static void byte_kind_make(void)
{
    for (unsigned c = 0; c < 256; c++) {
        bool alnum = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
        byte_kind[c] =
            (uint8_t)((alnum || c == '_' || c == '.' || c == '-' ? BYTE_CLASS : 0) |
                      (alnum || c == '+' || c == '/' || c == '_' || c == '=' || c == '.' || c == '-'
                           ? BYTE_VALUE
                           : 0) |
                      (c == ' ' || (c >= '\t' && c <= '\r') ? BYTE_SPACE : 0) |
                      (c == '\'' || c == '"' ? BYTE_QUOTE : 0) |
                      (c == '=' || c == ':' ? BYTE_SEP : 0) | (c >= 0x80 ? BYTE_HIGH : 0));
    }
}

static inline unsigned kind_of(char c)
{
    return byte_kind[(unsigned char)c];
}

/* Whether a value of 16 or more may start after the separator's end Q (below LIM). */
#if defined(__x86_64__)
/* Whether each byte of X is in [LO, LO + N) (as unsigned bytes): one add and one compare */
static inline __m128i in_range16(__m128i x, char lo, char n)
{
    return _mm_cmplt_epi8(_mm_add_epi8(x, _mm_set1_epi8((char)(0x80 - lo))),
                          _mm_set1_epi8((char)(-128 + n)));
}

/* BYTE_CLASS of each of X's bytes, as a compare's 0xff or 0: [A-Za-z0-9_.-] */
static inline __m128i class16(__m128i x)
{
    return _mm_or_si128(_mm_or_si128(in_range16(_mm_or_si128(x, _mm_set1_epi8(0x20)), 'a', 26),
                                     in_range16(x, '0', 10)),
                        _mm_or_si128(in_range16(x, '-', 2), _mm_cmpeq_epi8(x, _mm_set1_epi8('_'))));
}

/* BYTE_VALUE's: [A-Za-z0-9+/_=.-] (the class, `/` next to its `-` and `.`, `+` and `=`) */
static inline __m128i value16(__m128i x)
{
    return _mm_or_si128(class16(x),
                        _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8('/')),
                                                  _mm_cmpeq_epi8(x, _mm_set1_epi8('+'))),
                                     _mm_cmpeq_epi8(x, _mm_set1_epi8('='))));
}

/* How many of the 16 bytes at T from their first are of BYTE_CLASS */
static inline unsigned class_run16(const char *t)
{
    unsigned other =
        ~(unsigned)_mm_movemask_epi8(class16(_mm_loadu_si128((const __m128i *)t))) & 0xffffu;
    return other ? (unsigned)__builtin_ctz(other) : 16;
}
#endif

static bool may_value(const char *text, size_t lim, size_t q)
{
    while (q < lim && kind_of(text[q]) & BYTE_SPACE)
        q++;
    if (q < lim && kind_of(text[q]) & BYTE_QUOTE)
        q++;
        /* 16 of the class, or LIM first: it may; a byte of another class first: only if it is
         * 0x80 or more */
#if defined(__x86_64__)
    if (lim - q >= 16) { /* the 16 classified at once: no branch a byte, none mispredicted */
        __m128i x = _mm_loadu_si128((const __m128i *)(text + q));
        unsigned other = ~(unsigned)_mm_movemask_epi8(value16(x)) & 0xffffu;
        return !other || ((unsigned)_mm_movemask_epi8(x) >> __builtin_ctz(other) & 1);
    }
#endif
    for (size_t end = SL_MIN(lim, q + 16); q < end; q++)
        if (!(kind_of(text[q]) & BYTE_VALUE))
            return kind_of(text[q]) & BYTE_HIGH;
    return true;
}

static bool may_assign(const char *text, size_t lim, size_t p, const char *word, size_t wlen)
{
    if (wlen == 3 && !memcmp(word, "key", 3)) { /* only api[_-]?key */
        size_t a = p >= 1 && (text[p - 1] == '_' || text[p - 1] == '-') ? p - 1 : p;
        if (a < 3 || !same_folded(text + a - 3, "api", 3))
            return false;
    }
    /* the class's run after the keyword: 24 or more is too long (23 after "passw") */
    size_t q = p + wlen, too_long = q + 24;
#if defined(__x86_64__)
    if (lim - q >= 32) { /* by 16 at once, as may_value's value */
        unsigned run = class_run16(text + q);
        if (run == 16)
            run += class_run16(text + q + 16);
        if (run >= 24)
            return false;
        q += run;
    }
#endif
    for (size_t end = SL_MIN(lim, too_long); q < end && kind_of(text[q]) & BYTE_CLASS;)
        q++;
    if (q == too_long)
        return false;
    if (q < lim && kind_of(text[q]) & BYTE_QUOTE)
        q++;
    while (q < lim && kind_of(text[q]) & BYTE_SPACE)
        q++;
    if (q >= lim || kind_of(text[q]) & BYTE_HIGH)
        return true;
    if (!(kind_of(text[q]) & BYTE_SEP))
        return false;
    /* `=` or `:` alone, or `=>` or `:=` */
    bool two = q + 1 < lim && text[q + 1] == (text[q] == '=' ? '>' : '=');
    return q + 1 >= lim || may_value(text, lim, q + 1) || (two && may_value(text, lim, q + 2));
}

/* Whether any byte of T[0..N) is 0x80 or more. */
static bool any_high(const char *t, size_t n)
{
    size_t i = 0;
#if defined(__x86_64__)
    /* 64 bytes a step (a build log's lines with a keyword are hundreds of bytes long) */
    for (; n - i >= 64; i += 64) {
        const __m128i *q = (const __m128i *)(t + i);
        __m128i a = _mm_or_si128(_mm_loadu_si128(q), _mm_loadu_si128(q + 1));
        __m128i b = _mm_or_si128(_mm_loadu_si128(q + 2), _mm_loadu_si128(q + 3));
        if (_mm_movemask_epi8(_mm_or_si128(a, b)))
            return true;
    }
#endif
    for (; n - i >= 8; i += 8) {
        uint64_t w;
        memcpy(&w, t + i, 8);
        if (w & 0x8080808080808080u)
            return true;
    }
    for (; i < n; i++)
        if ((unsigned char)t[i] >= 0x80)
            return true;
    return false;
}

int sl_scan_text(const struct sl_scan *s, const char *path, const char *text, size_t len,
                 sl_scan_hit_fn fn, void *ctx)
{
    return sl_scan_text_part(s, path, text, len, 0, NULL, 0, fn, ctx);
}

int sl_scan_text_part(const struct sl_scan *s, const char *path, const char *text, size_t len,
                      size_t start, bool *more, unsigned flags, sl_scan_hit_fn fn, void *ctx)
{
    struct matcher *m = matcher_get();
    size_t nplaces = s->nkw;
    struct places *places;
    bool own = m->busy;
    if (own) {
        places = sl_xcalloc(nplaces ? nplaces : 1, sizeof(*places));
    } else {
        if (m->nplaces < nplaces) {
            m->places = sl_xrealloc(m->places, nplaces * sizeof(*m->places));
            memset(m->places + m->nplaces, 0, (nplaces - m->nplaces) * sizeof(*m->places));
            m->nplaces = nplaces;
        }
        places = m->places;
        m->busy = true;
    }
    if (start > len)
        start = len;
    if (more)
        *more = false;
    find_places(s, places, text, len, start);
    if (start)
        for (size_t j = 0; j < nplaces; j++)
            for (size_t k = 0; k < places[j].n; k++)
                places[j].at[k] += start;
    /* a finding's line: counted from the last finding's (of any rule), on or back */
    size_t line_at = 0, line_no = 1;
    int stop = 0;
    for (size_t ri = 0; ri < s->nrules && !stop; ri++) {
        const struct rule *r = &s->rules[ri];
        const struct places *kp[KEYWORDS_MAX];
        size_t cursor[KEYWORDS_MAX], present = 0;
        for (size_t k = 0; k < r->nkeywords; k++) {
            kp[k] = r->kw_index[k] >= 0 && (size_t)r->kw_index[k] < nplaces
                        ? &places[r->kw_index[k]]
                        : NULL;
            cursor[k] = 0;
            present += kp[k] && kp[k]->n;
        }
        if (!r->regex || (r->nkeywords && !present))
            continue;
        if (r->path && (!path || !matches(r->path, path, strlen(path), m)))
            continue;
        if (more && !r->nkeywords) { /* it may match anywhere after LEN too */
            *more = true;
            break;
        }
        pcre2_match_data *md = m->md;
        size_t at = start;
        while (at <= len && !stop) {
            /* The regex runs only around the lines that hold a keyword: from the start of
             * the next such line, taking a match that starts on that line (and may reach
             * up to WINDOW bytes past it: a private key spans lines). */
            size_t from = at, subject = len, kw_line_end = len;
            if (r->nkeywords) {
                size_t k_at = SIZE_MAX;
                for (size_t k = 0; k < r->nkeywords; k++) {
                    while (kp[k] && cursor[k] < kp[k]->n && kp[k]->at[cursor[k]] < at)
                        cursor[k]++;
                    if (kp[k] && cursor[k] < kp[k]->n)
                        k_at = SL_MIN(k_at, kp[k]->at[cursor[k]]);
                }
                if (k_at == SIZE_MAX)
                    break;
                const char *nl = k_at > at ? memrchr(text + at, '\n', k_at - at) : NULL;
                from = nl ? (size_t)(nl - text) + 1 : at;
                nl = memchr(text + k_at, '\n', len - k_at);
                kw_line_end = nl ? (size_t)(nl - text) : len;
                subject = SL_MIN(len, kw_line_end + 1); /* with its newline: a match that
                                                         * cannot cross it fails there */
                if (r->generic && !any_high(text + from, kw_line_end - from)) {
                    /* the line's keywords (a match holds one, as it is ASCII): may any of
                     * them start one? (most lines with `token` or `key` say no) */
                    size_t lim = SL_MIN(len, kw_line_end + WINDOW);
                    bool may = false;
                    for (size_t k = 0; k < r->nkeywords && !may; k++)
                        for (size_t c = cursor[k];
                             kp[k] && c < kp[k]->n && kp[k]->at[c] < kw_line_end && !may; c++)
                            may = may_assign(text, lim, kp[k]->at[c], kp[k]->word, kp[k]->wlen);
                    if (!may) {
                        at = kw_line_end + 1;
                        continue;
                    }
                }
            }
            /* on the line alone first; a match that would go on past it (PARTIAL) is tried
             * again on the window */
            int mrc = pcre2_match(r->regex, (PCRE2_SPTR)text, subject, from,
                                  r->nkeywords && (subject < len || more) ? PCRE2_PARTIAL_SOFT : 0,
                                  md, m->mc);
            if (mrc == PCRE2_ERROR_PARTIAL && more && kw_line_end + WINDOW > len) {
                *more = true; /* the window reaches past LEN: the text after it decides */
                stop = 1;
                break;
            }
            if (mrc == PCRE2_ERROR_PARTIAL)
                mrc = pcre2_match(r->regex, (PCRE2_SPTR)text, SL_MIN(len, kw_line_end + WINDOW),
                                  from, 0, md, m->mc);
            if (mrc == PCRE2_ERROR_MATCHLIMIT || mrc == PCRE2_ERROR_DEPTHLIMIT) {
                atomic_fetch_add((atomic_ulong *)&s->limit_hits, 1);
                break;
            }
            if (mrc < 0 && !r->nkeywords)
                break;
            if (mrc < 0 || pcre2_get_ovector_pointer(md)[0] > kw_line_end) {
                at = kw_line_end + 1; /* nothing on that line: on to the next keyword */
                continue;
            }
            PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
            size_t ms = ov[0], me = ov[1];
            int g = r->secret_group ? r->secret_group : mrc > 1 ? 1 : 0;
            size_t ss = ms, se = me;
            if (g < mrc && ov[2 * g] != PCRE2_UNSET) {
                ss = ov[2 * g];
                se = ov[2 * g + 1];
            }
            at = me > ms ? me : me + 1;
            if (se <= ss)
                continue;
            if (r->entropy > 0 && sl_scan_entropy(text + ss, se - ss) < r->entropy)
                continue;
            size_t ls = ss, le = ss;
            while (ls > 0 && text[ls - 1] != '\n')
                ls--;
            while (le < len && text[le] != '\n')
                le++;
            if (le > ls && text[le - 1] == '\r')
                le--;
            bool allowed = false;
            for (size_t k = 0; k < r->nallow && !allowed; k++)
                allowed = allowed_by(&r->allow[k], path, text + ms, me - ms, text + ss, se - ss,
                                     text + ls, le - ls, m);
            for (size_t k = 0; k < s->nallow && !allowed; k++)
                allowed = allowed_by(&s->allow[k], path, text + ms, me - ms, text + ss, se - ss,
                                     text + ls, le - ls, m);
            if (allowed)
                continue;
            if (flags & SL_SCAN_NO_LINES)
                line_no = 0;
            else if (ss >= line_at)
                line_no += sl_scan_newlines(text + line_at, ss - line_at);
            else
                line_no -= sl_scan_newlines(text + ss, line_at - ss);
            line_at = ss;
            struct sl_scan_finding f = {.rule_id = r->id,
                                        .description = r->description,
                                        .line = line_no,
                                        .start = ss,
                                        .end = se,
                                        .line_start = ls,
                                        .line_end = le};
            stop = fn(ctx, &f);
        }
    }
    if (own)
        places_free(places, nplaces);
    else
        m->busy = false;
    if (more && *more)
        return 0;
    return stop;
}

char *sl_scan_redact(const char *text, const struct sl_scan_finding *f)
{
    return sl_scan_redact_among(text, f, f, 1);
}

/* The finding of ALL[0..N) whose secret starts at I, or one whose secret's bytes are there
 * again (a copy); NULL when none. */
static const struct sl_scan_finding *secret_at(const char *text, size_t i, size_t le,
                                               const struct sl_scan_finding *all, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        size_t len = all[k].end - all[k].start;
        if (i == all[k].start ||
            (len && len <= le - i && !memcmp(text + i, text + all[k].start, len)))
            return &all[k];
    }
    return NULL;
}

char *sl_scan_redact_among(const char *text, const struct sl_scan_finding *f,
                           const struct sl_scan_finding *all, size_t n)
{
    enum { AROUND = 80 };
    size_t ls = f->line_start, le = f->line_end;
    if (f->start - ls > AROUND)
        ls = f->start - AROUND;
    size_t se = f->end < le ? f->end : le;
    if (le - se > AROUND)
        le = se + AROUND;
    struct sl_str s = SL_STR_INIT;
    /* every copy of a secret in the excerpt goes, not only the one found (a line may hold
     * it twice, or another rule's); the finding's own may run past the line (a private key) */
    for (size_t i = ls; i < le;) {
        const struct sl_scan_finding *x = secret_at(text, i, le, f, 1);
        if (!x)
            x = secret_at(text, i, le, all, n);
        if (x) {
            size_t len = x->end - x->start;
            sl_str_add(&s, text + x->start, len >= 16 ? 4 : 0);
            sl_str_adds(&s, "*****");
            i += len;
        } else {
            sl_str_addc(&s, text[i++]);
        }
    }
    sl_str_add(&s, "", 0);
    return sl_str_detach(&s);
}
