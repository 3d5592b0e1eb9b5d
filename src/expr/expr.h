/* expr.h: GitLab's CI expression language, as `rules:if`, `workflow:rules:if` and
 * `only/except:variables` use it (SPEC.md §3; lib/gitlab/ci/pipeline/expression/).
 *
 *   struct sl_expr *e;
 *   if (sl_expr_compile(&e, "$CI_COMMIT_BRANCH == \"main\"", &err) < 0)
 *       ... lint says "Invalid expression syntax"; at run time the rule does not match ...
 *   bool yes = sl_expr_truthful(e, lookup, ctx);
 *   sl_expr_free(e);
 *
 * Tokens, tried in GitLab's lexer order at each position after blanks: `(` `)`
 * `$[[ inputs.NAME ]]` `$NAME` `"str"` `'str'` `/regex/flags` `null` `true` `false` `==`
 * `=~` `!=` `!~` `&&` `||` `!`. GitLab's lexer stops after SL_EXPR_MAX_TOKENS - 1 tokens:
 * an expression of 100 tokens or more is "Too many tokens!" (its loop runs MAX_TOKENS
 * times and raises when it ends without reaching the end of the input).
 *
 * Parsing is GitLab's shunting-yard, precedence from tightest: `!` (a prefix operator),
 * the comparisons, `&&`, `||`; binary operators are left-associative. Like GitLab's, the
 * parser also accepts operands written before their operator (`$A "x" ==`).
 *
 * Values are Ruby's: nil, booleans, strings and regexes; `&&`/`||` return an operand (only
 * nil and false are falsy there), `!` and the final result use Rails' present? (nil,
 * false, "" and blank strings are false). `=~` with a string on the right uses it as a
 * regex when it has the /re/flags form (a variable holding "/^v/"), otherwise tests
 * whether the left side occurs in it. Booleans compare equal to "true"/"false".
 *
 * Regexes are RE2 syntax run on PCRE2 with JIT and match/depth/heap limits, so no pattern
 * or subject can make matching slow (a limit hit is no match). Compiled expressions are
 * immutable and may be shared between threads. */
#ifndef SL_EXPR_H
#define SL_EXPR_H

#include "base/compat.h"
#include "base/error.h"

#define SL_EXPR_MAX_TOKENS 100
/* The longest regex body accepted, in bytes (RE2 itself caps program size). */
#define SL_REGEX_MAX_PATTERN (32 * 1024)

/* Returns the value of variable NAME, or NULL when it is not defined. `$[[ inputs.X ]]`
 * asks for "inputs.X". The returned string is borrowed until the evaluation returns. */
typedef const char *(*sl_expr_lookup)(void *ctx, const char *name);

struct sl_expr;

enum sl_expr_type { SL_EXPR_NIL, SL_EXPR_BOOL, SL_EXPR_STRING, SL_EXPR_REGEX };

/* The value of an evaluation. STR (for STRING, and for REGEX the regex's source `/re/f`)
 * is owned by the value: release with sl_expr_value_release. */
struct sl_expr_value {
    enum sl_expr_type type;
    bool b;
    char *str;
};

/* Compiles SRC. SL_EINVAL on a syntax error, with GitLab's message in ERR: from the lexer
 * "Unknown lexeme found!", "Too many tokens!", "Invalid regular expression!"; from the
 * parser "Unmatched parenthesis", "Unprocessable token found in parse tree:
 * parenthesis_open" (an unclosed one), "Unreachable nodes in parse tree", "Empty parse
 * tree"; from operators "Invalid left operand", "Invalid right operand", "Invalid
 * operand". ERR's column is the 1-based byte offset of the offending token when known.
 * On success *out owns the expression (free with sl_expr_free). */
int sl_expr_compile(struct sl_expr **out, const char *src, struct sl_error *err);
void sl_expr_free(struct sl_expr *e);

/* Evaluates E; LOOKUP may be NULL (every variable undefined). A regex that hits a match
 * limit counts as no match. Never fails. OUT is owned by the caller. */
void sl_expr_eval(const struct sl_expr *e, sl_expr_lookup lookup, void *ctx,
                  struct sl_expr_value *out);
void sl_expr_value_release(struct sl_expr_value *v);
/* Rails' present? of the result: what decides a rule. Allocates nothing. */
bool sl_expr_truthful(const struct sl_expr *e, sl_expr_lookup lookup, void *ctx);
/* Compile and evaluate in one step; a syntax error is false, as in GitLab. Compiled
 * expressions are kept in a small per-thread cache keyed by SRC, so calling this for the
 * same rule on many jobs compiles it once. */
bool sl_expr_matches(const char *src, sl_expr_lookup lookup, void *ctx);
/* True when SRC compiles (for lint). */
bool sl_expr_valid(const char *src);

/* For tests and tools: the tokens of SRC as JSON `["$A", "==", "\"x\""]` into *out
 * (caller frees), and the parse tree as GitLab's inspect prints it: `or(and($A, $B), $C)`
 * (caller frees). */
int sl_expr_tokens(const char *src, char **out, struct sl_error *err);
char *sl_expr_tree(const struct sl_expr *e);

/* Regexes as GitLab writes them (`/re/flags`, RE2 syntax), also for `only: refs`. */
struct sl_regex;
/* Compiles "/re/flags" (flags among i s m U) the way Gitlab::UntrustedRegexp::RubySyntax
 * reads it: the body is everything between the first and the last slash of the line.
 * SL_EINVAL when SRC is not of that form or is not valid RE2. *out is freed with
 * sl_regex_free. */
int sl_regex_compile(struct sl_regex **out, const char *src, struct sl_error *err);
/* As sl_regex_compile after replacing every `\/` by `/`, as an expression's pattern is
 * read (Lexeme::Pattern). */
int sl_regex_compile_pattern(struct sl_regex **out, const char *src, struct sl_error *err);
/* Unanchored search in LEN bytes of SUBJECT. A match-limit hit is no match. */
bool sl_regex_search(const struct sl_regex *re, const char *subject, size_t len);
/* The source it was compiled from. Borrowed. */
const char *sl_regex_source(const struct sl_regex *re);
void sl_regex_free(struct sl_regex *re);
/* True when S has the /re/flags form (not whether it compiles). */
bool sl_regex_literal(const char *s);
/* SRC compiled as sl_regex_compile_pattern, from a per-thread cache of recent patterns;
 * NULL when SRC is not a valid regex. Borrowed: valid until the thread's next call. */
const struct sl_regex *sl_regex_cached(const char *src);
/* PATTERN, a bare RE2 regex (no slashes, as an input's `regex` is written), searched for in
 * SUBJECT: 1 found, 0 not, SL_EINVAL when PATTERN is not valid. */
int sl_regex_match_once(const char *pattern, const char *subject);

#endif
