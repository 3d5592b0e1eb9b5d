/* The expression language against GitLab's own cases (tests/data/expressions.tsv, copied
 * unchanged from shared/gitlab-ci), plus limits and regex safety. */
#include "base/compat.h"
#include "harness/harness.h"
#include "base/alloc.h"
#include "base/fs.h"
#include "base/str.h"
#include "base/time.h"
#include "expr/expr.h"
#include "expr/internal.h"

#include <jansson.h>
#include <pthread.h>

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

/* Whether MESSAGE is one GitLab raises from the error class that the row names. */
static bool error_of_class(const char *message, const char *row)
{
    static const struct {
        const char *cls, *message;
    } known[] = {
        {"Lexer::SyntaxError", "Unknown lexeme found!"},
        {"Lexer::SyntaxError", "Too many tokens!"},
        {"Lexer::SyntaxError", "Invalid regular expression!"},
        {"ParseError", "Unmatched parenthesis"},
        {"ParseError", "Unprocessable token found in parse tree: parenthesis_open"},
        {"ParseError", "Unreachable nodes in parse tree"},
        {"ParseError", "Empty parse tree"},
        {"OperatorError", "Invalid left operand"},
        {"OperatorError", "Invalid right operand"},
        {"OperatorError", "Invalid operand"},
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(known); i++)
        if (sl_starts_with(row, known[i].cls) && !strcmp(message, known[i].message))
            return true;
    return false;
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
    const char *max = strstr(expected, "max_tokens: ");
    if (max) { /* a row of lexer_spec run with a smaller limit */
        struct tokens t = {0};
        sl_error_release(&err);
        rc = sl_expr_lex(src, atoi(max + 12), &t, &err);
        sl_expr_tokens_release(&t);
    }
    bool want_error = sl_starts_with(expected, "ERROR:");

    if (!vars) {
        sl_test_fail(__FILE__, line, "bad JSON in the corpus: %s", jerr.text);
        goto out;
    }
    if (want_error) {
        if (rc == 0)
            sl_test_fail(__FILE__, line, "'%s' compiled, want %s", src, expected);
        else if (!error_of_class(err.message, expected + 6))
            sl_test_fail(__FILE__, line, "'%s': '%s' is not a %s", src, err.message, expected);
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
    /* GitLab's lexer runs MAX_TOKENS (100) rounds and raises when they end: 99 tokens is the
     * most an expression can have */
    struct sl_str s = SL_STR_INIT;
    for (int i = 0; i < 50; i++)
        sl_str_adds(&s, i ? " && $A" : "$A");
    struct sl_expr *e = NULL;
    CHECK(sl_expr_compile(&e, s.buf, NULL) == 0); /* 99 tokens */
    sl_expr_free(e);
    struct sl_error err = SL_ERROR_INIT;
    sl_str_adds(&s, " &&");
    CHECK(sl_expr_compile(&e, s.buf, &err) == SL_EINVAL); /* 100 */
    CHECK_STR_EQ(err.message, "Too many tokens!");
    sl_str_adds(&s, " $B");
    CHECK(sl_expr_compile(&e, s.buf, &err) == SL_EINVAL); /* 101 */
    CHECK_STR_EQ(err.message, "Too many tokens!");
    sl_str_adds(&s, " ?"); /* past the limit the unknown lexeme is never reached */
    CHECK(sl_expr_compile(&e, s.buf, &err) == SL_EINVAL);
    CHECK_STR_EQ(err.message, "Too many tokens!");
    sl_error_release(&err);
    sl_str_release(&s);
}

static const char *lookup_fixed(void *ctx, const char *name)
{
    (void)ctx;
    static const char *const vars[][2] = {
        {"BRANCH", "feature/login"},
        {"CI_COMMIT_BRANCH", "main"},
        {"CI_PIPELINE_SOURCE", "push"},
        {"EMPTY", ""},
        {"BLANK", " \t\n\xc2\xa0\xe3\x80\x80"}, /* with NBSP and the ideographic space */
        {"SET", "x"},
        {"RE", "/^feat.*\\/log/"},
        {"RE_I", "/LOGIN$/i"},
        {"NOT_RE", "/unclosed(/"},
        {"MULTI", "first line\n/^feat/"},
        {"SLASHED", "/ab\\/"},
        {"NL", "a\nb\n"},
        {"TRUE", "true"},
    };
    if (!strcmp(name, "LONG")) {
        static char buf[100001];
        memset(buf, 'a', sizeof(buf) - 1);
        return buf;
    }
    for (size_t i = 0; i < SL_ARRAY_LEN(vars); i++)
        if (!strcmp(name, vars[i][0]))
            return vars[i][1];
    return NULL;
}

static bool yes(const char *src)
{
    return sl_expr_matches(src, lookup_fixed, NULL);
}

TEST(catastrophic_regex_ends_quickly)
{
    int64_t t0 = sl_time_mono_ns();
    CHECK(!yes("$LONG =~ /(a+)+$b/"));
    CHECK(!yes("$LONG =~ /(a|aa)*c/"));
    CHECK(!yes("$LONG =~ /(a+)+$/ && $LONG =~ /^(a|a)*b/"));
    CHECK(!yes("$LONG =~ /(.*a){20}/ && $LONG =~ /x/"));
    CHECK(!yes("$LONG =~ /^(a|aa)*[bc]/"));
    CHECK(!yes("$LONG =~ /(a*)*[bc]/"));
    int64_t ms = (sl_time_mono_ns() - t0) / 1000000;
    printf("# six catastrophic regexes on 100,000 bytes: %lld ms\n", (long long)ms);
    /* a figure, not a benchmark: without limits these run for longer than a pipeline, so a
     * minute (far beyond what load alone makes of milliseconds) tells the two apart */
    CHECK(ms < 60000);
}

TEST(regex_flags_and_re2_syntax)
{
    CHECK(yes("$BRANCH =~ /^FEATURE\\//i"));
    CHECK(!yes("$BRANCH =~ /^FEATURE\\//"));
    CHECK(yes("$BRANCH =~ /log.n$/"));
    CHECK(yes("$BRANCH !~ /^release/"));
    /* RE2: `$` without m is the very end, not before a final newline */
    CHECK(!yes("$NL =~ /b$/"));
    CHECK(yes("$NL =~ /b$/m"));
    CHECK(yes("$NL =~ /^b$/m"));
    CHECK(!yes("$NL =~ /a.b/"));
    CHECK(yes("$NL =~ /a.b/s"));
    CHECK(yes("$BRANCH =~ /f.*?e/U")); /* U: ungreedy, so *? is greedy; either matches */
    CHECK(yes("$BRANCH =~ /\\x{66}eat\\pL/"));
    CHECK(yes("$BRANCH =~ /[[:alpha:]]+\\/[a-z]{5}/"));
    /* \v is a vertical tab in RE2 (PCRE2: any vertical space) */
    CHECK(!yes("$NL =~ /\\v/"));
    /* what RE2 refuses is a syntax error */
    static const char *const refused[] = {
        "$BRANCH =~ /x/g",     "$BRANCH =~ /(unclosed/", "$BRANCH =~ /(a)\\1/",
        "$BRANCH =~ /a(?=b)/", "$BRANCH =~ /(?<!a)b/",   "$BRANCH =~ /(?>ab)/",
        "$BRANCH =~ /a++/",    "$BRANCH =~ /a{1001}/",   "$BRANCH =~ /\\Z/",
        "$BRANCH =~ /\\h/",    "$BRANCH =~ /(?x)a b/",   "$BRANCH =~ /(*UTF)a/",
        "$BRANCH =~ /a**/",    "$BRANCH =~ /\\e/",       "$BRANCH =~ /(?P=n)/",
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(refused); i++) {
        struct sl_error err = SL_ERROR_INIT;
        struct sl_expr *e = NULL;
        sl_test_case_begin(refused[i]);
        CHECK(sl_expr_compile(&e, refused[i], &err) == SL_EINVAL);
        if (err.message && strcmp(err.message, "Invalid regular expression!") &&
            strcmp(err.message, "Unknown lexeme found!"))
            sl_test_fail(__FILE__, __LINE__, "message %s", err.message);
        sl_error_release(&err);
        sl_test_case_end();
    }
    static const char *const accepted[] = {
        "$BRANCH =~ /a{1000}/",   "$BRANCH =~ /(?P<n>a)/", "$BRANCH =~ /(?i:A)b/",
        "$BRANCH =~ /\\Qa.b\\E/", "$BRANCH =~ /\\C/",      "$BRANCH =~ /x{,3}/",
        "$BRANCH =~ /\\12/",
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(accepted); i++) {
        sl_test_case_begin(accepted[i]);
        CHECK(sl_expr_valid(accepted[i]));
        sl_test_case_end();
    }
}

TEST(variables_holding_regexes)
{
    CHECK(yes("$BRANCH =~ $RE"));
    CHECK(yes("$BRANCH =~ $RE_I"));
    CHECK(!yes("$BRANCH !~ $RE"));
    /* not valid RE2: the string is searched for the left side instead */
    CHECK(!yes("$BRANCH =~ $NOT_RE"));
    CHECK(yes("\"uncl\" =~ $NOT_RE"));
    /* Ruby's `^` and `$` are line anchors: the /re/ form may sit on any line */
    CHECK(yes("$BRANCH =~ $MULTI"));
    /* `\/` becomes `/` first, then the form is read: "/ab\/" is the regex ab */
    CHECK(yes("\"xaby\" =~ $SLASHED"));
    /* the substring fallback: the left side occurs in the right */
    CHECK(yes("\"23\" =~ \"1234\""));
    CHECK(!yes("\"1234\" =~ \"23\""));
    CHECK(yes("$UNDEFINED =~ \"anything\"")); /* nil.to_s is "", which occurs everywhere */
    CHECK(!yes("$BRANCH =~ $UNDEFINED"));
    CHECK(yes("$BRANCH !~ $UNDEFINED"));
    CHECK(!yes("$BRANCH =~ false"));
    CHECK(yes("$BRANCH !~ false"));
    /* the per-thread cache returns the same answers on the second call */
    for (int i = 0; i < 3; i++) {
        CHECK(yes("$BRANCH =~ $RE"));
        CHECK(!yes("$BRANCH =~ $NOT_RE"));
    }
}

TEST(ruby_truthiness)
{
    static const struct {
        const char *src, *want;
    } cases[] = {
        {"$EMPTY && \"x\"", "\"x\""}, /* "" is truthy for && */
        {"$EMPTY || $SET", "\"\""},   /* ... and || returns it */
        {"$UNDEFINED || $SET", "\"x\""},
        {"$UNDEFINED && $SET", "null"},
        {"false || $EMPTY", "\"\""},
        {"$SET && false", "false"},
        {"!$BLANK", "true"}, /* blank counts Unicode spaces */
        {"!!$SET", "true"},
        {"!!!$SET", "false"},
        {"!$SET == \"false\"", "true"}, /* (!$SET) == "false" */
        {"$TRUE == true", "true"},
        {"null == false", "false"},
        {"/ab/ == /ab/", "true"},
        {"/ab/ == \"/ab/\"", "false"},
        {"$A \"x\" ==", "false"}, /* GitLab's RPN parser takes postfix too */
        {"$SET \"x\" ==", "true"},
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(cases); i++) {
        sl_test_case_begin(cases[i].src);
        struct sl_expr *e = NULL;
        struct sl_error err = SL_ERROR_INIT;
        if (sl_expr_compile(&e, cases[i].src, &err) < 0) {
            sl_test_fail(__FILE__, __LINE__, "does not compile: %s", err.message);
        } else {
            struct sl_expr_value v;
            sl_expr_eval(e, lookup_fixed, NULL, &v);
            char *got = format_value(&v);
            if (strcmp(got, cases[i].want))
                sl_test_fail(__FILE__, __LINE__, "got %s, want %s", got, cases[i].want);
            free(got);
            sl_expr_value_release(&v);
        }
        CHECK(!yes("$BLANK"));
        CHECK(yes("\"false\""));
        sl_expr_free(e);
        sl_error_release(&err);
        sl_test_case_end();
    }
}

TEST(lexer_details)
{
    char *toks = NULL;
    /* the pattern lexeme's backtracking: `/ab//` is one token (body "ab/") */
    CHECK(sl_expr_tokens("$A =~ /ab// || $B", &toks, NULL) == 0);
    CHECK_STR_EQ(toks, "[\"$A\", \"=~\", \"/ab//\", \"||\", \"$B\"]");
    free(toks);
    CHECK(sl_expr_tokens("$A =~ /a\\/b/i", &toks, NULL) == 0);
    CHECK_STR_EQ(toks, "[\"$A\", \"=~\", \"/a\\\\/b/i\"]");
    free(toks);
    /* a string does not cross a newline ("." in Ruby) */
    CHECK(!sl_expr_valid("$A == \"a\nb\""));
    CHECK(sl_expr_valid("$A == 'say \"hi\"'"));
    /* `true` needs a word boundary; `null` does not */
    CHECK(!sl_expr_valid("$A == trueish"));
    CHECK(!sl_expr_valid("$A == nullx"));
    CHECK(sl_expr_valid("$[[ inputs.env ]] == \"x\""));
    CHECK(sl_expr_valid("$[[inputs.env]]"));
}

TEST(syntax_errors_have_gitlab_messages)
{
    static const char *const cases[][3] = {
        {"", "Empty parse tree", "0"},
        {"   ", "Empty parse tree", "0"},
        {"$A \"x\"", "Unreachable nodes in parse tree", "0"},
        {"== \"x\"", "Invalid left operand", "1"},
        {"$A ==", "Invalid left operand", "4"},   /* RPN: the only operand pops as right */
        {"$A == !", "Invalid left operand", "4"}, /* RPN $A ! ==: `!` takes $A */
        {"!", "Invalid operand", "1"},
        {"($A == \"x\"", "Unprocessable token found in parse tree: parenthesis_open", "1"},
        {"$A == \"x\")", "Unmatched parenthesis", "10"},
        {"$A = \"x\"", "Unknown lexeme found!", "4"},
        {"$A == 1", "Unknown lexeme found!", "7"},
        {"$A =~ /((/", "Invalid regular expression!", "7"},
        {"$A =~ /./", "Unknown lexeme found!", "7"},
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(cases); i++) {
        sl_test_case_begin(cases[i][0]);
        struct sl_expr *e = NULL;
        struct sl_error err = SL_ERROR_INIT;
        CHECK(sl_expr_compile(&e, cases[i][0], &err) == SL_EINVAL);
        CHECK_STR_EQ(err.message, cases[i][1]);
        CHECK_INT_EQ(err.column, atoi(cases[i][2]));
        CHECK(!sl_expr_matches(cases[i][0], lookup_fixed, NULL));
        sl_error_release(&err);
        sl_test_case_end();
    }
}

static void *thread_main(void *arg)
{
    int *hits = arg;
    for (int i = 0; i < 2000; i++)
        *hits += yes("$BRANCH =~ $RE && $CI_COMMIT_BRANCH == \"main\"") +
                 yes("$BRANCH =~ /^feat/") + yes("$BRANCH =~ \"x\"");
    return NULL;
}

TEST(threads_share_compiled_expressions)
{
    struct sl_expr *e = NULL;
    CHECK(sl_expr_compile(&e, "$BRANCH =~ /log/ && $BRANCH =~ $RE", NULL) == 0);
    pthread_t th[4];
    int hits[4] = {0};
    for (int i = 0; i < 4; i++)
        CHECK(pthread_create(&th[i], NULL, thread_main, &hits[i]) == 0);
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        CHECK_INT_EQ(hits[i], 4000);
    }
    CHECK(sl_expr_truthful(e, lookup_fixed, NULL));
    sl_expr_free(e);
}

TEST(speed_of_a_typical_rule)
{
    struct sl_expr *e = NULL;
    CHECK(sl_expr_compile(&e, "$CI_COMMIT_BRANCH == \"main\" && $CI_PIPELINE_SOURCE =~ /push|web/",
                          NULL) == 0);
    int n = 200000, hits = 0;
    int64_t t0 = sl_time_mono_ns();
    for (int i = 0; i < n; i++)
        hits += sl_expr_truthful(e, lookup_fixed, NULL);
    int64_t t1 = sl_time_mono_ns();
    for (int i = 0; i < n; i++)
        hits +=
            sl_expr_matches("$CI_COMMIT_BRANCH == \"main\" && $CI_PIPELINE_SOURCE =~ /push|web/",
                            lookup_fixed, NULL);
    int64_t t2 = sl_time_mono_ns();
    printf("# a typical rule: %lld ns per evaluation compiled once, %lld ns through "
           "sl_expr_matches (cached)\n",
           (long long)((t1 - t0) / n), (long long)((t2 - t1) / n));
    CHECK_INT_EQ(hits, 2 * n);
    sl_expr_free(e);
}
