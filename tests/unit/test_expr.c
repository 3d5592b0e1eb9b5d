/* The expression language against GitLab's own cases (tests/data/expressions.tsv, copied
 * unchanged from shared/gitlab-ci), plus limits and regex safety. */
#include "base/compat.h"
#include "harness/harness.h"
#include "base/alloc.h"
#include "base/fs.h"
#include "base/str.h"
#include "base/time.h"
#include "expr/expr.h"

#include <jansson.h>

/* NAME may be dotted ("inputs.env") to reach into nested objects, as inputs are. */
static const char *lookup_json(void *ctx, const char *name)
{
    json_t *v = json_object_get(ctx, name);
    const char *dot = strchr(name, '.');
    if (!v && dot) {
        char *head = sl_xstrndup(name, (size_t)(dot - name));
        json_t *obj = json_object_get(ctx, head);
        free(head);
        return obj ? lookup_json(obj, dot + 1) : NULL;
    }
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static char *format_value(const struct sl_expr_value *v)
{
    struct sl_str s = SL_STR_INIT;
    switch (v->type) {
    case SL_EXPR_NIL:
        sl_str_adds(&s, "null");
        break;
    case SL_EXPR_BOOL:
        sl_str_adds(&s, v->b ? "true" : "false");
        break;
    default:
        sl_str_addc(&s, '"');
        sl_str_add_json_escaped(&s, v->str);
        sl_str_addc(&s, '"');
    }
    return sl_str_detach(&s);
}

/* One row: columns variables_setup_json, expression, expected, truthful, kind, source. */
static void check_row(char **col, int line)
{
    json_error_t jerr;
    json_t *vars = json_loads(col[0], 0, &jerr);
    const char *src = col[1], *expected = col[2], *truthful = col[3], *kind = col[4];
    struct sl_expr *e = NULL;
    struct sl_error err = SL_ERROR_INIT;
    int rc = sl_expr_compile(&e, src, &err);
    bool want_error = sl_starts_with(expected, "ERROR:");

    if (!vars) {
        sl_test_fail(__FILE__, line, "bad JSON in the corpus: %s", jerr.text);
        goto out;
    }
    if (want_error) {
        if (rc == 0)
            sl_test_fail(__FILE__, line, "'%s' compiled, want %s", src, expected);
        else if (sl_expr_matches(src, lookup_json, vars))
            sl_test_fail(__FILE__, line, "a broken expression matched");
        goto out;
    }
    if (!strcmp(kind, "tokens")) {
        char *toks = NULL;
        if (sl_expr_tokens(src, &toks, NULL) < 0 || strcmp(toks, expected))
            sl_test_fail(__FILE__, line, "tokens of '%s': got %s, want %s", src,
                         toks ? toks : "(error)", expected);
        free(toks);
        goto out;
    }
    if (rc < 0 && !strcmp(kind, "truthful")) {
        /* a rule that does not compile does not match */
        if (strcmp(expected, "false") || sl_expr_matches(src, lookup_json, vars))
            sl_test_fail(__FILE__, line, "'%s' does not compile (%s), want %s", src, err.message,
                         expected);
        goto out;
    }
    if (rc < 0) {
        sl_test_fail(__FILE__, line, "'%s' does not compile: %s", src, err.message);
        goto out;
    }
    if (!strcmp(kind, "parse_tree")) {
        char *tree = sl_expr_tree(e);
        if (strcmp(tree, expected))
            sl_test_fail(__FILE__, line, "tree of '%s': got %s, want %s", src, tree, expected);
        free(tree);
        goto out;
    }
    if (!strcmp(kind, "evaluate")) {
        struct sl_expr_value v;
        sl_expr_eval(e, lookup_json, vars, &v);
        char *got = format_value(&v);
        if (strcmp(got, expected))
            sl_test_fail(__FILE__, line, "'%s' evaluates to %s, want %s", src, got, expected);
        free(got);
        sl_expr_value_release(&v);
    }
    if (*truthful) {
        bool want = !strcmp(truthful, "true");
        if (sl_expr_truthful(e, lookup_json, vars) != want)
            sl_test_fail(__FILE__, line, "'%s' truthful? want %s", src, truthful);
    } else if (!strcmp(kind, "truthful")) {
        bool want = !strcmp(expected, "true");
        if (sl_expr_truthful(e, lookup_json, vars) != want)
            sl_test_fail(__FILE__, line, "'%s' truthful? want %s", src, expected);
    }
out:
    json_decref(vars);
    sl_expr_free(e);
    sl_error_release(&err);
}

TEST(gitlab_expression_corpus)
{
    char *path = sl_fs_join(sl_test_source_dir(), "tests/data/expressions.tsv");
    char *buf = NULL;
    size_t len = 0;
    CHECK(sl_fs_read_file(path, 1 << 20, &buf, &len, NULL) == 0);
    int lineno = 0, rows = 0;
    char *save = NULL;
    for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        lineno++;
        if (lineno == 1)
            continue; /* header */
        char *col[6] = {0};
        char *p = line;
        for (int c = 0; c < 6; c++) {
            col[c] = p;
            char *tab = p ? strchr(p, '\t') : NULL;
            if (tab) {
                *tab = '\0';
                p = tab + 1;
            } else {
                p = NULL;
            }
        }
        static char empty[1];
        for (int c = 0; c < 6; c++)
            if (!col[c])
                col[c] = empty;
        char name[160];
        snprintf(name, sizeof(name), "expressions.tsv:%d %s: %.100s", lineno, col[4], col[1]);
        sl_test_case_begin(name);
        check_row(col, lineno);
        sl_test_case_end();
        rows++;
    }
    free(buf);
    free(path);
    CHECK_INT_EQ(rows, 220);
}

TEST(token_limit)
{
    struct sl_str s = SL_STR_INIT;
    for (int i = 0; i < 50; i++)
        sl_str_adds(&s, i ? " && $A" : "$A");
    struct sl_expr *e = NULL;
    CHECK(sl_expr_compile(&e, s.buf, NULL) == 0); /* 99 tokens */
    sl_expr_free(e);
    sl_str_adds(&s, " && $B");
    struct sl_error err = SL_ERROR_INIT;
    CHECK(sl_expr_compile(&e, s.buf, &err) == SL_EINVAL);
    CHECK_STR_EQ(err.message, "Too many tokens!");
    sl_error_release(&err);
    sl_str_release(&s);
}

static const char *lookup_fixed(void *ctx, const char *name)
{
    (void)ctx;
    if (!strcmp(name, "LONG")) {
        static char buf[100001];
        memset(buf, 'a', sizeof(buf) - 1);
        return buf;
    }
    if (!strcmp(name, "BRANCH"))
        return "feature/login";
    return NULL;
}

TEST(catastrophic_regex_ends_quickly)
{
    int64_t t0 = sl_time_mono_ns();
    CHECK(!sl_expr_matches("$LONG =~ /(a+)+$b/", lookup_fixed, NULL));
    CHECK(!sl_expr_matches("$LONG =~ /(a|aa)*c/", lookup_fixed, NULL));
    /* a figure, not an assertion of speed: a backtracking engine without limits takes
     * longer than the universe; with limits it is milliseconds */
    CHECK((sl_time_mono_ns() - t0) / 1000000 < 10000);
}

TEST(regex_flags_and_escapes)
{
    CHECK(sl_expr_matches("$BRANCH =~ /^FEATURE\\//i", lookup_fixed, NULL));
    CHECK(!sl_expr_matches("$BRANCH =~ /^FEATURE\\//", lookup_fixed, NULL));
    CHECK(sl_expr_matches("$BRANCH =~ /log.n$/", lookup_fixed, NULL));
    CHECK(sl_expr_matches("$BRANCH !~ /^release/", lookup_fixed, NULL));
    CHECK(!sl_expr_valid("$BRANCH =~ /x/g"));
    CHECK(!sl_expr_valid("$BRANCH =~ /(unclosed/"));
}

TEST(syntax_errors_have_gitlab_messages)
{
    static const char *const cases[][2] = {
        {"", "Empty parse tree"},
        {"$A \"x\"", "Unreachable nodes in parse tree"},
        {"== \"x\"", "Invalid left operand"},
        {"$A ==", "Invalid right operand"},
        {"($A == \"x\"", "unmatched parenthesis"},
        {"$A = \"x\"", "Unknown lexeme found!"},
        {"$A == 1", "Unknown lexeme found!"},
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(cases); i++) {
        struct sl_expr *e = NULL;
        struct sl_error err = SL_ERROR_INIT;
        CHECK(sl_expr_compile(&e, cases[i][0], &err) == SL_EINVAL);
        CHECK_STR_EQ(err.message, cases[i][1]);
        sl_error_release(&err);
    }
}

TEST(speed_of_a_typical_rule)
{
    struct sl_expr *e = NULL;
    CHECK(sl_expr_compile(&e, "$BRANCH == \"main\" || $BRANCH =~ /^feature\\//", NULL) == 0);
    int64_t t0 = sl_time_mono_ns();
    int hits = 0;
    for (int i = 0; i < 100000; i++)
        hits += sl_expr_truthful(e, lookup_fixed, NULL);
    int64_t ns = (sl_time_mono_ns() - t0) / 100000;
    printf("# a typical rule: %lld ns per evaluation\n", (long long)ns);
    CHECK_INT_EQ(hits, 100000);
    sl_expr_free(e);
}
