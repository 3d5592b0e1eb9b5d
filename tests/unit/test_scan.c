/* Secret detection (scan/): the TOML subset of rule files, the default rules against the
 * corpus of true and false positives in tests/cases/scan/corpus.tsv (one line per case),
 * allowlists, a project's rules on top of the defaults, redaction, and a hostile regex
 * that stays within its match limit. */
#include "base/compat.h"
#include "base/alloc.h"
#include "base/fs.h"
#include "base/str.h"
#include "harness/harness.h"
#include "scan/scan.h"
#include "scan/toml.h"

struct hits {
    const char *want; /* the rule to look for; NULL: all */
    int n;
    struct sl_scan_finding last;
};

static int on_hit(void *ctx, const struct sl_scan_finding *f)
{
    struct hits *h = ctx;
    if (!h->want || !strcmp(h->want, f->rule_id)) {
        h->n++;
        h->last = *f;
    }
    return 0;
}

static json_t *toml(const char *text)
{
    json_t *doc = NULL;
    struct sl_error err = SL_ERROR_INIT;
    if (sl_toml_parse(text, strlen(text), "t.toml", &doc, &err) < 0)
        fprintf(stderr, "# %s\n", err.message);
    sl_error_release(&err);
    return doc;
}

static char *toml_error(const char *text)
{
    json_t *doc = NULL;
    struct sl_error err = SL_ERROR_INIT;
    char *msg = NULL;
    if (sl_toml_parse(text, strlen(text), "t.toml", &doc, &err) < 0)
        msg = strdup(err.message);
    json_decref(doc);
    sl_error_release(&err);
    return msg;
}

TEST(toml_values_and_tables)
{
    json_t *d = toml("# comment\n"
                     "title = \"a \\\"b\\\" \\u00e9\"\n"
                     "lit = 'C:\\path'\n"
                     "multi = '''\nline1\nline2'''\n"
                     "basic = \"\"\"\nx \\\n   y\"\"\"\n"
                     "n = 1_000\nhex = 0xff\nf = 3.5\nb = true\n"
                     "arr = [\n  \"a\", # one\n  'b',\n]\n"
                     "inl = {x = 1, y.z = 'w'}\n"
                     "[extend]\nuseDefault = false\n"
                     "[[rules]]\nid = 'one'\n[[rules.allowlists]]\nstopwords = ['s']\n"
                     "[[rules]]\nid = 'two'\n"
                     "[rules.allowlist]\npaths = ['p']\n");
    CHECK(d != NULL);
    if (!d)
        return;
    CHECK_STR_EQ(json_string_value(json_object_get(d, "title")), "a \"b\" \xc3\xa9");
    CHECK_STR_EQ(json_string_value(json_object_get(d, "lit")), "C:\\path");
    CHECK_STR_EQ(json_string_value(json_object_get(d, "multi")), "line1\nline2");
    CHECK_STR_EQ(json_string_value(json_object_get(d, "basic")), "x y");
    CHECK_INT_EQ(json_integer_value(json_object_get(d, "n")), 1000);
    CHECK_INT_EQ(json_integer_value(json_object_get(d, "hex")), 255);
    CHECK(json_number_value(json_object_get(d, "f")) == 3.5);
    CHECK(json_is_true(json_object_get(d, "b")));
    CHECK_INT_EQ(json_array_size(json_object_get(d, "arr")), 2);
    CHECK_STR_EQ(
        json_string_value(json_object_get(json_object_get(json_object_get(d, "inl"), "y"), "z")),
        "w");
    CHECK(json_is_false(json_object_get(json_object_get(d, "extend"), "useDefault")));
    json_t *rules = json_object_get(d, "rules");
    CHECK_INT_EQ(json_array_size(rules), 2);
    json_t *one = json_array_get(rules, 0), *two = json_array_get(rules, 1);
    CHECK_INT_EQ(json_array_size(json_object_get(one, "allowlists")), 1);
    CHECK(json_object_get(json_object_get(two, "allowlist"), "paths") != NULL);
    json_decref(d);
}

TEST(toml_errors_name_the_line)
{
    static const struct {
        const char *text, *want;
    } cases[] = {
        {"a = 1\na = 2\n", "t.toml:2: a key is defined twice"},
        {"a = \"open\n", "t.toml:1: a newline inside a one-line string"},
        {"a = 1 b\n", "t.toml:1: unexpected text after the value"},
        {"\n\nwhen = 1979-05-27\n", "t.toml:3: dates and times are not supported in rule files"},
        {"[[rules]\n", "t.toml:1: a [[table]] header is not closed by ]]"},
        {"a = [1 2]\n", "t.toml:1: array items are separated by commas"},
        {"= 1\n", "t.toml:1: a key is expected here"},
        {"a = '''x", "t.toml:1: a string is not closed"},
        {"a = \"\\q\"\n", "t.toml:1: an unknown escape in a string"},
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(cases); i++) {
        char *msg = toml_error(cases[i].text);
        CHECK_STR_EQ(msg ? msg : "(parsed)", cases[i].want);
        free(msg);
    }
    /* nesting is bounded */
    struct sl_str deep = SL_STR_INIT;
    sl_str_adds(&deep, "a = ");
    for (int i = 0; i < 100; i++)
        sl_str_addc(&deep, '[');
    char *msg = toml_error(deep.buf);
    CHECK(msg && strstr(msg, "nested too deep"));
    free(msg);
    sl_str_release(&deep);
}

/* "\n" in a corpus line is a newline. */
static char *unescape(const char *s)
{
    struct sl_str o = SL_STR_INIT;
    for (; *s; s++) {
        if (s[0] == '\\' && s[1] == 'n') {
            sl_str_addc(&o, '\n');
            s++;
        } else {
            sl_str_addc(&o, *s);
        }
    }
    sl_str_add(&o, "", 0);
    return sl_str_detach(&o);
}

TEST(default_rules_on_the_corpus)
{
    struct sl_scan *s = NULL;
    struct sl_error err = SL_ERROR_INIT;
    CHECK_INT_EQ(sl_scan_default(&s, &err), 0);
    if (!s) {
        fprintf(stderr, "# %s\n", err.message);
        sl_error_release(&err);
        return;
    }
    char path[4096], *data = NULL;
    size_t len = 0;
    snprintf(path, sizeof(path), "%s/tests/cases/scan/corpus.tsv", sl_test_source_dir());
    CHECK_INT_EQ(sl_fs_read_file(path, 1u << 20, &data, &len, &err), 0);
    int cases = 0, hits_seen = 0;
    for (char *line = data, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = 0;
        if (*line == '#' || !*line)
            continue;
        char *rule = line, *kind = strchr(rule, '\t');
        char *text = kind ? strchr(kind + 1, '\t') : NULL;
        CHECK(kind && text);
        if (!kind || !text)
            continue;
        *kind++ = 0;
        *text++ = 0;
        char *t = unescape(text);
        struct hits h = {.want = rule};
        sl_test_case_begin(rule);
        sl_scan_text(s, NULL, t, strlen(t), on_hit, &h);
        bool want = !strcmp(kind, "hit");
        if (want != (h.n > 0))
            fprintf(stderr, "# %s %s: %s\n", rule, kind, text);
        CHECK(want == (h.n > 0));
        if (h.n) {
            /* the redacted excerpt never holds the secret */
            char *secret = strndup(t + h.last.start, h.last.end - h.last.start);
            char *ex = sl_scan_redact(t, &h.last);
            CHECK(strstr(ex, "*****") != NULL);
            CHECK(strstr(ex, secret) == NULL);
            free(ex);
            free(secret);
            hits_seen++;
        }
        sl_test_case_end();
        free(t);
        cases++;
    }
    CHECK(cases >= 40);
    CHECK(hits_seen >= 20);
    free(data);
    sl_scan_free(s);
}

TEST(project_rules_extend_and_allow)
{
    struct sl_scan *s = NULL;
    struct sl_error err = SL_ERROR_INIT;
    CHECK_INT_EQ(sl_scan_default(&s, &err), 0);
    size_t n = sl_scan_rule_count(s);
    const char *mine = "[[rules]]\n"
                       "id = 'acme-key'\n"
                       "description = 'ACME internal key'\n"
                       "regex = '''acme_([0-9a-f]{24})'''\n"
                       "keywords = ['acme_']\n"
                       "[allowlist]\n"
                       "paths = ['''^test/fixtures/''']\n";
    CHECK_INT_EQ(sl_scan_extend(s, mine, strlen(mine), ".gitleaks.toml", &err), 0);
    CHECK_INT_EQ(sl_scan_rule_count(s), n + 1);
    const char *text = "key = acme_0123456789abcdef01234567\n";
    struct hits h = {.want = "acme-key"};
    sl_scan_text(s, "src/app.conf", text, strlen(text), on_hit, &h);
    CHECK_INT_EQ(h.n, 1);
    CHECK_INT_EQ(h.last.line, 1);
    h = (struct hits){.want = "acme-key"};
    sl_scan_text(s, "test/fixtures/app.conf", text, strlen(text), on_hit, &h);
    CHECK_INT_EQ(h.n, 0); /* the global allowlist's path */
    /* disabledRules drops the earlier rules named (an unknown id is no error), not the
     * file's own rule of that id */
    const char *gh = "GITHUB_TOKEN=ghp_bS3rINYahugJR6AH0PkcLNDMT3wTMLS0eF1b\n";
    h = (struct hits){.want = "github-token"};
    sl_scan_text(s, "src/app.conf", gh, strlen(gh), on_hit, &h);
    CHECK_INT_EQ(h.n, 1);
    const char *off = "[extend]\ndisabledRules = ['github-token', 'no-such-rule', 'acme-key']\n"
                      "[[rules]]\nid = 'acme-key'\nregex = 'acme_([0-9a-f]{24})'\n";
    CHECK_INT_EQ(sl_scan_extend(s, off, strlen(off), "off.toml", &err), 0);
    CHECK_INT_EQ(sl_scan_rule_count(s), n);
    h = (struct hits){.want = "github-token"};
    sl_scan_text(s, "src/app.conf", gh, strlen(gh), on_hit, &h);
    CHECK_INT_EQ(h.n, 0);
    h = (struct hits){.want = "acme-key"};
    sl_scan_text(s, "src/app.conf", text, strlen(text), on_hit, &h);
    CHECK_INT_EQ(h.n, 1);
    const char *notlist = "[extend]\ndisabledRules = 'github-token'\n";
    CHECK(sl_scan_extend(s, notlist, strlen(notlist), "notlist.toml", &err) < 0);
    CHECK(err.message && strstr(err.message, "notlist.toml: extend.disabledRules must be"));
    sl_error_release(&err);
    /* useDefault = false keeps only the project's rules */
    const char *only = "[extend]\nuseDefault = false\n[[rules]]\nid = 'x'\nregex = 'x+'\n";
    CHECK_INT_EQ(sl_scan_extend(s, only, strlen(only), "only.toml", &err), 0);
    CHECK_INT_EQ(sl_scan_rule_count(s), 1);
    /* a bad regex names the rule and PCRE2's complaint */
    const char *bad = "[[rules]]\nid = 'broken'\nregex = '(unclosed'\n";
    CHECK(sl_scan_extend(s, bad, strlen(bad), "bad.toml", &err) < 0);
    CHECK(err.message && strstr(err.message, "bad.toml: rule broken: regex"));
    sl_error_release(&err);
    sl_scan_free(s);
}

TEST(hostile_regex_is_bounded)
{
    struct sl_scan *s = NULL;
    struct sl_error err = SL_ERROR_INIT;
    const char *rules = "[[rules]]\nid = 'evil'\nregex = '''(a+)+$'''\n";
    CHECK_INT_EQ(sl_scan_load(&s, rules, strlen(rules), "evil.toml", &err), 0);
    struct sl_str text = SL_STR_INIT;
    for (int i = 0; i < 5000; i++)
        sl_str_addc(&text, 'a');
    sl_str_adds(&text, "!");
    struct hits h = {0};
    sl_scan_text(s, NULL, text.buf, text.len, on_hit, &h);
    /* either PCRE2's JIT finds no match quickly or the limit stops it: never a hang */
    CHECK_INT_EQ(h.n, 0);
    sl_str_release(&text);
    sl_scan_free(s);
}

TEST(entropy)
{
    CHECK(sl_scan_entropy("aaaaaaaa", 8) == 0);
    double e = sl_scan_entropy("abcdefgh", 8);
    CHECK(e > 2.99 && e < 3.01);
}

/* A line with two secrets of two rules: each finding's excerpt hides both. */
struct all_hits {
    struct sl_scan_finding f[8];
    size_t n;
};

static int on_any(void *ctx, const struct sl_scan_finding *f)
{
    struct all_hits *h = ctx;
    if (h->n < 8)
        h->f[h->n++] = *f;
    return 0;
}

TEST(redact_among_hides_every_secret_of_the_line)
{
    struct sl_scan *s = NULL;
    struct sl_error err = SL_ERROR_INIT;
    CHECK_INT_EQ(sl_scan_default(&s, &err), 0);
    /* made up here: a GitHub token and a Stripe key on one line */
    char text[200];
    snprintf(text, sizeof(text), "a=%s%s b=%s%s\n", "ghp_", "Xq7Lm2Vr9Tz4Kp8Wn3Bc6Hd1Jf5Gs0Ya2ReU",
             "sk_live_", "4eC39HqLyjWDarjtT1zdp7dc");
    struct all_hits h = {0};
    sl_scan_text(s, NULL, text, strlen(text), on_any, &h);
    CHECK(h.n >= 2);
    for (size_t i = 0; i < h.n; i++) {
        char *ex = sl_scan_redact_among(text, &h.f[i], h.f, h.n);
        CHECK(strstr(ex, "Xq7Lm2Vr9") == NULL);
        CHECK(strstr(ex, "4eC39HqLy") == NULL);
        char *one = sl_scan_redact(text, &h.f[i]); /* alone it hides only its own */
        CHECK(strstr(one, "Xq7Lm2Vr9") == NULL || strstr(one, "4eC39HqLy") == NULL);
        free(one);
        free(ex);
    }
    char *ex = sl_scan_redact_among(text, &h.f[0], h.f, h.n);
    CHECK_STR_EQ(ex, "a=ghp_***** b=sk_l*****");
    free(ex);
    sl_scan_free(s);
}

/* --- the keyword filter -----------------------------------------------------------------
 * A rule runs only where one of its keywords is (in any case). What the filter could get
 * wrong is checked against the same rule without keywords, which searches the whole text:
 * both must find the same secrets at the same places. */

struct places {
    size_t at[512];
    size_t n;
};

struct by_rule {
    struct places with, without;
};

static int on_place(void *ctx, const struct sl_scan_finding *f)
{
    struct by_rule *b = ctx;
    struct places *p = strncmp(f->rule_id, "no-kw-", 6) ? &b->with : &b->without;
    if (p->n < SL_ARRAY_LEN(p->at))
        p->at[p->n++] = f->start;
    return 0;
}

/* Each keyword's rule (regex: the keyword, case-insensitive) twice, with and without it. */
static const char *filter_keywords[] = {"~",  "e",      "q~",   "~k",   "key",
                                        "kk", "keykey", "akia", "qy~ke"};

static struct sl_scan *filter_scanner(size_t only)
{
    struct sl_str t = SL_STR_INIT;
    sl_str_addf(&t, "[[rules]]\nid = 'kw-%zu'\nregex = '''(?i)%s'''\nkeywords = ['%s']\n", only,
                filter_keywords[only], filter_keywords[only]);
    sl_str_addf(&t, "[[rules]]\nid = 'no-kw-%zu'\nregex = '''(?i)%s'''\n", only,
                filter_keywords[only]);
    /* the other keywords in the table too: they share its buckets and pairs */
    for (size_t k = 0; k < SL_ARRAY_LEN(filter_keywords); k++)
        if (k != only)
            sl_str_addf(&t, "[[rules]]\nid = 'other-%zu'\nregex = 'zzzz'\nkeywords = ['%s']\n", k,
                        filter_keywords[k]);
    struct sl_scan *s = NULL;
    struct sl_error err = SL_ERROR_INIT;
    if (sl_scan_load(&s, t.buf, t.len, "filter.toml", &err) < 0)
        fprintf(stderr, "# %s\n", err.message);
    sl_error_release(&err);
    sl_str_release(&t);
    return s;
}

static void check_same_places(struct sl_scan *s, const char *text, size_t len)
{
    struct by_rule b = {0};
    sl_scan_text(s, NULL, text, len, on_place, &b);
    CHECK_INT_EQ(b.with.n, b.without.n);
    bool same = b.with.n == b.without.n;
    for (size_t i = 0; same && i < b.with.n; i++)
        same = b.with.at[i] == b.without.at[i];
    CHECK(same);
    if (!same)
        fprintf(stderr, "# text: %.*s\n", (int)len, text);
}

TEST(keyword_filter_finds_what_a_whole_text_search_finds)
{
    static const char alphabet[] = "kKeEyYqQ~aAiI \n";
    unsigned long x = 0x9e3779b97f4a7c15UL;
    for (size_t k = 0; k < SL_ARRAY_LEN(filter_keywords); k++) {
        struct sl_scan *s = filter_scanner(k);
        CHECK(s != NULL);
        if (!s)
            continue;
        sl_test_case_begin(filter_keywords[k]);
        const char *w = filter_keywords[k];
        size_t wl = strlen(w);
        char buf[256];
        /* the keyword alone, at the start, at the end, in upper and mixed case */
        check_same_places(s, w, wl);
        snprintf(buf, sizeof(buf), "%s and more", w);
        check_same_places(s, buf, strlen(buf));
        snprintf(buf, sizeof(buf), "text then %s", w);
        check_same_places(s, buf, strlen(buf));
        for (size_t i = 0; i < wl; i++) /* upper case */
            buf[i] = (char)(w[i] >= 'a' && w[i] <= 'z' ? w[i] - 32 : w[i]);
        check_same_places(s, buf, wl);
        for (size_t i = 0; i < wl; i++) /* mixed: every other letter upper */
            buf[i] = (char)(i % 2 && w[i] >= 'a' && w[i] <= 'z' ? w[i] - 32 : w[i]);
        check_same_places(s, buf, wl);
        check_same_places(s, w, wl - 1); /* cut short of its last byte */
        check_same_places(s, w + 1, wl - 1);
        /* random texts of the keywords' letters in both cases: keywords everywhere,
         * overlapping, split by newlines */
        for (int round = 0; round < 3000; round++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            size_t len = x % sizeof(buf);
            for (size_t i = 0; i < len; i++) {
                x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                buf[i] = alphabet[x % (sizeof(alphabet) - 1)];
            }
            if (len > wl && round % 3 == 0) /* a keyword at the very end, a case mixed */
                for (size_t i = 0; i < wl; i++)
                    buf[len - wl + i] =
                        (char)(round % 2 && w[i] >= 'a' && w[i] <= 'z' ? w[i] - 32 : w[i]);
            check_same_places(s, buf, len);
        }
        sl_test_case_end();
        sl_scan_free(s);
    }
}

TEST(keyword_filter_with_the_default_rules_in_any_case)
{
    struct sl_scan *s = NULL;
    struct sl_error err = SL_ERROR_INIT;
    CHECK_INT_EQ(sl_scan_default(&s, &err), 0);
    if (!s)
        return;
    /* made up here; keywords in upper and mixed case, at the text's start and end */
    static const char *texts[] = {
        "GHP_ is not it, but ghp_Xq7Lm2Vr9Tz4Kp8Wn3Bc6Hd1Jf5Gs0Ya2ReU is",
        "AKIAQ3EGV5YB4UF6PJXN",
        "id AKIAQ3EGV5YB4UF6PJXN",
        "PASSWORD=\"Zq8kLm2vR7xTp4Wn9bQ3\"",
        "Password: Zq8kLm2vR7xTp4Wn9bQ3",
        "export MY_TOKEN=Zq8kLm2vR7xTp4Wn9bQ3",
    };
    static const char *rules[] = {"github-token",   "aws-access-key-id", "aws-access-key-id",
                                  "generic-secret", "generic-secret",    "generic-secret"};
    for (size_t i = 0; i < SL_ARRAY_LEN(texts); i++) {
        sl_test_case_begin(texts[i]);
        struct hits h = {.want = rules[i]};
        sl_scan_text(s, NULL, texts[i], strlen(texts[i]), on_hit, &h);
        CHECK_INT_EQ(h.n, 1);
        sl_test_case_end();
    }
    sl_scan_free(s);
}

TEST(a_rule_without_keywords_runs_on_every_text)
{
    struct sl_scan *s = NULL;
    struct sl_error err = SL_ERROR_INIT;
    const char *rules = "[[rules]]\nid = 'any'\nregex = '''[0-9]{4}'''\n"
                        "[[rules]]\nid = 'empty-kw'\nregex = '''x[0-9]{3}'''\nkeywords = ['']\n";
    CHECK_INT_EQ(sl_scan_load(&s, rules, strlen(rules), "any.toml", &err), 0);
    if (!s)
        return;
    const char *text = "a 1234\nb\nc 5678 x999";
    struct hits h = {.want = "any"};
    sl_scan_text(s, NULL, text, strlen(text), on_hit, &h);
    CHECK_INT_EQ(h.n, 2);
    CHECK_INT_EQ(h.last.line, 3);
    /* an empty keyword is no keyword: the rule is filtered by none and runs everywhere */
    h = (struct hits){.want = "empty-kw"};
    sl_scan_text(s, NULL, text, strlen(text), on_hit, &h);
    CHECK_INT_EQ(h.n, 1);
    sl_scan_free(s);
}

/* A text scanned in two parts (sl_scan_text_part: the first lines with MORE, then the rest
 * from its START) gives the whole text's findings, at the whole text's places and lines; a
 * key begun in the first part, or a rule without keywords, asks for the text after it. */
struct found {
    struct sl_scan_finding f[16];
    size_t n;
};

static int on_found(void *ctx, const struct sl_scan_finding *f)
{
    struct found *h = ctx;
    if (h->n < 16)
        h->f[h->n++] = *f;
    return 0;
}

static bool found_same(const struct found *a, const struct found *b)
{
    size_t same = 0;
    for (size_t i = 0; i < a->n; i++)
        for (size_t k = 0; k < b->n; k++)
            same += !strcmp(a->f[i].rule_id, b->f[k].rule_id) && a->f[i].start == b->f[k].start &&
                    a->f[i].end == b->f[k].end && a->f[i].line == b->f[k].line;
    return a->n == b->n && same == a->n;
}

TEST(a_text_in_two_parts_finds_what_the_whole_finds)
{
    struct sl_scan *s = NULL;
    struct sl_error err = SL_ERROR_INIT;
    CHECK_INT_EQ(sl_scan_default(&s, &err), 0);
    if (!s)
        return;
    const char *text = "[1] ok\nGITHUB_TOKEN=ghp_bS3rINYahugJR6AH0PkcLNDMT3wTMLS0eF1b\n"
                       "ghp_fXAkLhwnZpdqlpMn6Oo8FHzdMoL7yLZ1o8pi at a line's start\n[2] ok\n"
                       "SLACK_BOT_TOKEN=xoxb-028124351434-N6dK0N0K99B4lO72dQeGSG1b\n";
    size_t len = strlen(text);
    struct found whole = {0}, parts = {0};
    sl_scan_text(s, NULL, text, len, on_found, &whole);
    CHECK(whole.n >= 3); /* the generic rule finds some of them too */
    /* every cut at a line's end */
    for (const char *nl = text; (nl = strchr(nl, '\n')) != NULL && nl[1]; nl++) {
        size_t cut = (size_t)(nl + 1 - text);
        bool more = true;
        parts.n = 0;
        sl_scan_text_part(s, NULL, text, cut, 0, &more, 0, on_found, &parts);
        CHECK(!more);
        sl_scan_text_part(s, NULL, text, len, cut, NULL, 0, on_found, &parts);
        sl_test_case_begin(nl + 1);
        CHECK(found_same(&whole, &parts));
        sl_test_case_end();
    }
    /* a key begun in the first part goes on past it */
    const char *key = "x\n-----BEGIN RSA PRIVATE KEY-----\n"
                      "i6DPvldcP/w5GsIzSmL4dujeBSRah+GLV6K0F+w0Plsx/YTXzOBn/ZyEG98le8k3\n"
                      "-----END RSA PRIVATE KEY-----\n";
    bool more = false;
    parts.n = 0;
    sl_scan_text_part(s, NULL, key, strlen("x\n-----BEGIN RSA PRIVATE KEY-----\n"), 0, &more, 0,
                      on_found, &parts);
    CHECK(more);
    CHECK_INT_EQ(parts.n, 0);
    sl_scan_free(s);
    /* a rule without keywords may match anywhere after the part */
    const char *rules = "[[rules]]\nid = 'any'\nregex = '''[0-9]{4}'''\n";
    s = NULL;
    CHECK_INT_EQ(sl_scan_load(&s, rules, strlen(rules), "any.toml", &err), 0);
    if (!s)
        return;
    more = false;
    sl_scan_text_part(s, NULL, "a 1234\n", 7, 0, &more, 0, on_found, &parts);
    CHECK(more);
    sl_scan_free(s);
}

/* Each finding's line, counted from another rule's finding before or after it (findings come
 * rule by rule), in a text long enough for the counting's blocks; and a scan run from a
 * finding's callback (its own keyword places, the outer scan's intact). */
struct lines {
    const char *text;
    struct sl_scan *s;
    int n, wrong, inner;
};

static int on_line(void *ctx, const struct sl_scan_finding *f)
{
    struct lines *l = ctx;
    size_t want = 1;
    for (size_t i = 0; i < f->start; i++)
        want += l->text[i] == '\n';
    l->n++;
    l->wrong += f->line != want;
    if (l->s) { /* a scan inside the scan: one token on its line 2 */
        struct hits h = {.want = "github-token"};
        const char *t = "x\nGITHUB_TOKEN=ghp_bS3rINYahugJR6AH0PkcLNDMT3wTMLS0eF1b\n";
        sl_scan_text(l->s, NULL, t, strlen(t), on_hit, &h);
        l->inner += h.n == 1 && h.last.line == 2;
    }
    return 0;
}

TEST(findings_of_several_rules_have_their_lines)
{
    struct sl_scan *s = NULL;
    struct sl_error err = SL_ERROR_INIT;
    CHECK_INT_EQ(sl_scan_default(&s, &err), 0);
    if (!s)
        return;
    struct sl_str t = SL_STR_INIT;
    /* an AWS key late (its rule runs first), a GitHub token early, a Slack token between;
     * lines of every length around them, \r\n ones too */
    for (int i = 0; i < 3000; i++) {
        sl_str_addf(&t, "[%d] %.*s%s", i, i % 300, "", i % 7 ? "\n" : "\r\n");
        if (i == 2500)
            sl_str_adds(&t, "export AWS_ACCESS_KEY_ID=AKIAKTAIPPAT6CVJJEEV\n");
        if (i == 17)
            sl_str_adds(&t, "GITHUB_TOKEN=ghp_bS3rINYahugJR6AH0PkcLNDMT3wTMLS0eF1b\n");
        if (i == 1200)
            sl_str_adds(&t, "SLACK_BOT_TOKEN=xoxb-028124351434-N6dK0N0K99B4lO72dQeGSG1b\n");
        if (i == 2999)
            sl_str_adds(&t, "and at the end ghp_fXAkLhwnZpdqlpMn6Oo8FHzdMoL7yLZ1o8pi");
    }
    sl_str_add(&t, "", 0);
    struct lines l = {.text = t.buf};
    sl_scan_text(s, NULL, t.buf, t.len, on_line, &l);
    CHECK(l.n >= 4);
    CHECK_INT_EQ(l.wrong, 0);
    l = (struct lines){.text = t.buf, .s = s};
    sl_scan_text(s, NULL, t.buf, t.len, on_line, &l);
    CHECK(l.n >= 4);
    CHECK_INT_EQ(l.wrong, 0);
    CHECK_INT_EQ(l.inner, l.n);
    sl_str_release(&t);
    sl_scan_free(s);
}

/* The generic rule's check before its regex (may_assign in scan.c) skips only lines the regex
 * cannot match: the default rule, which has the check, finds on generated lines what the same
 * rule with one keyword more (no check: the regex on every keyword line) finds, at the same
 * places and lines. The lines mix the rule's words (in any case, after api, api_, api-) with
 * runs of its class around the 20 it allows, quotes, white space across lines, separators and
 * not, values of 15, 16 and over 128 bytes (after `=>` and `:=` too, quoted or not, starting
 * with `=` or `>`), and bytes a caseless UTF-8 regex folds into its class or words (the
 * Kelvin sign, the long s). The same lines without those bytes too (a text with none: the
 * places the check rejects are dropped as they are found, not only line by line), and in parts
 * of 4 KiB (sl_scan_text_part's START and LEN: the check's limit is the part's end). */
struct all_found {
    struct sl_scan_finding *f;
    size_t n, cap;
};

static int on_each(void *ctx, const struct sl_scan_finding *f)
{
    struct all_found *a = ctx;
    SL_GROW(a->f, a->cap, a->n + 1);
    a->f[a->n++] = *f;
    return 0;
}

static bool all_same(const struct all_found *a, const struct all_found *b)
{
    size_t same = 0;
    for (size_t i = 0; i < a->n && i < b->n; i++)
        same += a->f[i].start == b->f[i].start && a->f[i].end == b->f[i].end &&
                a->f[i].line == b->f[i].line;
    return a->n == b->n && same == a->n;
}

static bool all_ascii(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s >= 0x80)
            return false;
    return true;
}

/* TEXT in parts of about 4 KiB ending at a line's end, each scanned by A and by B from the
 * last one's end to its own, as the text's end (sl_scan_text_part's START and LEN, no MORE:
 * a match the part cuts ends at LEN), their findings into FA and FB. */
static void scan_parts(const struct sl_scan *a, const struct sl_scan *b, const char *text,
                       size_t len, struct all_found *fa, struct all_found *fb)
{
    for (size_t start = 0; start < len;) {
        size_t end = SL_MIN(len, start + 4096);
        const char *nl = end < len ? memrchr(text + start, '\n', end - start) : NULL;
        size_t cut = nl ? (size_t)(nl - text) + 1 : len;
        sl_scan_text_part(a, NULL, text, cut, start, NULL, 0, on_each, fa);
        sl_scan_text_part(b, NULL, text, cut, start, NULL, 0, on_each, fb);
        start = cut;
    }
}

static unsigned long next_random(unsigned long *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

TEST(the_generic_rules_check_skips_only_lines_it_cannot_match)
{
    char path[4096], *data = NULL;
    size_t len = 0;
    struct sl_error err = SL_ERROR_INIT;
    snprintf(path, sizeof(path), "%s/src/scan/default-rules.toml", sl_test_source_dir());
    CHECK_INT_EQ(sl_fs_read_file(path, 1u << 20, &data, &len, &err), 0);
    if (!data)
        return;
    char *begin = strstr(data, "[[rules]]\nid = \"generic-secret\"");
    CHECK(begin != NULL);
    if (!begin) {
        free(data);
        return;
    }
    char *end = strstr(begin + 1, "[[rules]]\n");
    if (end)
        *end = 0;
    const char *kw =
        "keywords = [\"key\", \"secret\", \"token\", \"passw\", \"pwd\", \"credential\"]";
    char *at = strstr(begin, kw);
    CHECK(at != NULL);
    if (!at) {
        free(data);
        return;
    }
    struct sl_str other = SL_STR_INIT;
    sl_str_add(&other, begin, (size_t)(at - begin));
    sl_str_adds(&other, "keywords = [\"key\", \"secret\", \"token\", \"passw\", \"pwd\", "
                        "\"credential\", \"zq~zq\"]");
    sl_str_adds(&other, at + strlen(kw));
    struct sl_scan *checked = NULL, *plain = NULL;
    CHECK_INT_EQ(sl_scan_load(&checked, begin, strlen(begin), "generic.toml", &err), 0);
    CHECK_INT_EQ(sl_scan_load(&plain, other.buf, other.len, "generic-plain.toml", &err), 0);
    static const char *const before[] = {"",  "x ", "api",   "API_",         "api-",   "apI__",
                                         "ſ", "\"", "api_x", "\xe2\x84\xaa", "export "};
    static const char *const words[] = {"key",    "secret",     "token",      "passw", "password",
                                        "passwd", "pwd",        "credential", "Token", "SECRET",
                                        "ſecret", "to\u212Aen", "passwor"};
    static const char *const runs[] = {"",
                                       "_id",
                                       "S_FOR_THE_REGISTRY_X",
                                       "S_FOR_THE_REGISTRY_XY",
                                       "_A-B.c9_d-E.f0_g-H.ij",
                                       "_A-B.c9_d-E.f0_g-H.ijk",
                                       "\xe2\x84\xaa",
                                       "ſ"};
    static const char *const quotes[] = {"", "'", "\"", "''"};
    static const char *const spaces[] = {"", " ", "\n", " \n\t ", "\r\n", "\v\f", "\xc2\xa0"};
    static const char *const seps[] = {"=", ":", "=>", ":=", " ", "-", "is", ""};
    static const char *const values[] = {"aB3dE5fG7hJ9kL1mN2pQ",
                                         "short",
                                         "\"xY9zW8vU7tS6rR5qP4oN3mM2\"",
                                         "${VAR_NAME_X}",
                                         "3600",
                                         "Zq8/Wm+R3v.T_k-9",
                                         "Zq8/Wm+R3v.T_k-",
                                         "=Zq8/Wm+R3v.T_k-",
                                         ">Zq8/Wm+R3v.T_k-9x",
                                         "'Zq8/Wm+R3v.T_k-9 tail",
                                         " \"Zq8/Wm+R3v.T_kx",
                                         "Zq8/Wm+R3v\xe2\x84\xaaT_k-9w",
                                         "Zq8/Wm+R3v.T_k-9aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                                         "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                                         "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"};
    struct sl_str text = SL_STR_INIT;
    const char *const *from[8] = {before, words, runs, quotes, spaces, seps, spaces, values};
    const size_t nfrom[8] = {SL_ARRAY_LEN(before), SL_ARRAY_LEN(words),  SL_ARRAY_LEN(runs),
                             SL_ARRAY_LEN(quotes), SL_ARRAY_LEN(spaces), SL_ARRAY_LEN(seps),
                             SL_ARRAY_LEN(spaces), SL_ARRAY_LEN(values)};
    for (int ascii = 0; ascii < 2; ascii++) {
        sl_test_case_begin(ascii ? "ASCII lines" : "lines with bytes of 0x80 or more");
        sl_str_reset(&text);
        unsigned long x = 88172645463325252UL;
        for (int i = 0; i < 40000; i++) {
            const char *p[8];
            for (int k = 0; k < 8; k++)
                do
                    p[k] = from[k][next_random(&x) % nfrom[k]];
                while (ascii && !all_ascii(p[k]));
            sl_str_addf(&text, "[%d] %s%s%s%s%s%s%s%s\n", i, p[0], p[1], p[2], p[3], p[4], p[5],
                        p[6], p[7]);
            if (i % 7 == 0)
                sl_str_adds(&text, "[x] fetching token for registry mirror 12 (cached)\n");
        }
        struct all_found a = {0}, b = {0}, pa = {0}, pb = {0};
        if (checked && plain) {
            sl_scan_text(checked, NULL, text.buf, text.len, on_each, &a);
            sl_scan_text(plain, NULL, text.buf, text.len, on_each, &b);
            scan_parts(checked, plain, text.buf, text.len, &pa, &pb);
        }
        CHECK(a.n > 1000); /* many lines match: the check lets them through */
        CHECK(all_same(&a, &b));
        CHECK(pa.n > 1000);
        CHECK(all_same(&pa, &pb));
        free(a.f);
        free(b.f);
        free(pa.f);
        free(pb.f);
        sl_test_case_end();
    }
    sl_str_release(&text);
    sl_str_release(&other);
    sl_scan_free(checked);
    sl_scan_free(plain);
    free(data);
    sl_error_release(&err);
}

/* The places of the generic rule's keywords that its check rejects are dropped as they are
 * found (scan.c's assign_may) only when no other rule has the keyword and the line has no byte
 * of 0x80 or more: a project's rule with the keyword `token` still finds `token_ttl=3600`,
 * which the generic rule skips; on a line whose only ASCII keyword cannot start a match, the
 * Kelvin sign's `toKen` assignment is still found (the regex decides on such a line), as is
 * the ASCII one on the next, and the line after, with no keyword that may start a match, is
 * skipped; and a text cut right after `password = ` asks for what follows. */
TEST(the_generic_rules_rejected_places_are_dropped_only_when_no_rule_needs_them)
{
    struct sl_scan *s = NULL;
    struct sl_error err = SL_ERROR_INIT;
    CHECK_INT_EQ(sl_scan_default(&s, &err), 0);
    if (!s)
        return;
    const char *ttl = "[7] refresh token_ttl=3600 key=build/cache/x12345678\n";
    struct hits h = {0};
    sl_scan_text(s, NULL, ttl, strlen(ttl), on_hit, &h);
    CHECK_INT_EQ(h.n, 0);
    const char *rules = "[[rules]]\nid = 'ttl'\nregex = '''token_ttl=([0-9]+)'''\n"
                        "keywords = ['token']\n";
    CHECK_INT_EQ(sl_scan_extend(s, rules, strlen(rules), "ttl.toml", &err), 0);
    h = (struct hits){0};
    sl_scan_text(s, NULL, ttl, strlen(ttl), on_hit, &h);
    CHECK_INT_EQ(h.n, 1);
    CHECK_STR_EQ(h.last.rule_id, "ttl");
    CHECK_INT_EQ(h.last.start, strlen("[7] refresh token_ttl="));
    sl_scan_free(s);
    s = NULL;
    CHECK_INT_EQ(sl_scan_default(&s, &err), 0);
    if (!s)
        return;
    const char *kelvin = "[1] key=1 to\xe2\x84\xaa"
                         "en=Zq8/Wm+R3v.T_k-9abc\n"
                         "[2] key=1 toKen=Zq8/Wm+R3v.T_k-9abc\n"
                         "[3] key=Zq8/Wm+R3v.T_k-9abc token_ttl=3600 secret: ${X}\n";
    struct all_found a = {0};
    sl_scan_text(s, NULL, kelvin, strlen(kelvin), on_each, &a);
    CHECK_INT_EQ(a.n, 2);
    if (a.n == 2) {
        CHECK_INT_EQ(a.f[0].line, 1);
        CHECK_INT_EQ(a.f[1].line, 2);
    }
    free(a.f);
    const char *cut = "[1] ok\n[2] password = \n";
    bool more = false;
    h = (struct hits){0};
    sl_scan_text_part(s, NULL, cut, strlen(cut) - 1, 0, &more, 0, on_hit, &h);
    CHECK(more);
    sl_scan_free(s);
    sl_error_release(&err);
}
