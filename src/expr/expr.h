/* expr.h: GitLab's CI expression language, as `rules:if`, `workflow:rules:if` and
 * `only/except:variables` use it (SPEC.md §3).
 *
 *   struct sl_expr *e;
 *   if (sl_expr_compile(&e, "$CI_COMMIT_BRANCH == \"main\"", &err) < 0)
 *       ... lint says "Invalid expression syntax"; at run time the rule does not match ...
 *   bool yes = sl_expr_truthful(e, lookup, ctx);
 *   sl_expr_free(e);
 *
 * Tokens, in GitLab's lexer order: `(` `)` `$[[ inputs.NAME ]]` `$NAME` `"str"` `'str'`
 * `/regex/flags` `null` `true` `false` `==` `=~` `!=` `!~` `&&` `||` `!`; at most
 * SL_EXPR_MAX_TOKENS. Precedence from tightest: `!`, the comparisons, `&&`, `||`, all
 * left-associative. Values are Ruby's: nil, booleans, strings and regexes; `&&`/`||`
 * return an operand (only nil and false are falsy there), `!` and the final result use
 * Rails' present? (nil, false, "" and blank strings are false).
 *
 * Regexes are RE2 syntax run on PCRE2 with JIT and match/depth limits, so no pattern or
 * subject can make matching slow (a limit hit is no match). Compiled expressions are
 * immutable and may be shared between threads. */
#ifndef SL_EXPR_H
#define SL_EXPR_H

#include "base/compat.h"
#include "base/error.h"

#define SL_EXPR_MAX_TOKENS 100

/* Returns the value of variable NAME, or NULL when it is not defined. `$[[ inputs.X ]]`
 * asks for "inputs.X". The returned string is borrowed for the evaluation. */
typedef const char *(*sl_expr_lookup)(void *ctx, const char *name);

struct sl_expr;

enum sl_expr_type { SL_EXPR_NIL, SL_EXPR_BOOL, SL_EXPR_STRING, SL_EXPR_REGEX };

/* The value of an evaluation. STR (for STRING and REGEX: the regex's source `/re/f`) is
 * owned by the value: release with sl_expr_value_release. */
struct sl_expr_value {
    enum sl_expr_type type;
    bool b;
    char *str;
};

/* Compiles SRC. SL_EINVAL on a syntax error; ERR's message is GitLab's error text
 * ("Unknown lexeme found!", "Too many tokens!", "unmatched parenthesis", "Invalid left
 * operand", "Unreachable nodes in parse tree", "Empty parse tree", "Invalid regular
 * expression!"). On success *out owns the expression. */
int sl_expr_compile(struct sl_expr **out, const char *src, struct sl_error *err);
void sl_expr_free(struct sl_expr *e);

/* Evaluates E. A regex that hits a match limit counts as no match. Never fails. */
void sl_expr_eval(const struct sl_expr *e, sl_expr_lookup lookup, void *ctx,
                  struct sl_expr_value *out);
void sl_expr_value_release(struct sl_expr_value *v);
/* Rails' present? of the result: what decides a rule. */
bool sl_expr_truthful(const struct sl_expr *e, sl_expr_lookup lookup, void *ctx);
/* Compile and evaluate in one step; any syntax error is false, as in GitLab. */
bool sl_expr_matches(const char *src, sl_expr_lookup lookup, void *ctx);
/* True when SRC compiles (for lint). */
bool sl_expr_valid(const char *src);

/* For tests and tools: the tokens of SRC as JSON-ish `["$A", "==", "\"x\""]` into *out
 * (caller frees), and the parse tree as `or(and($A, $B), $C)`. */
int sl_expr_tokens(const char *src, char **out, struct sl_error *err);
char *sl_expr_tree(const struct sl_expr *e);

/* Regexes as GitLab writes them (`/re/flags`, RE2 syntax), also for `only: refs` and
 * `coverage`. */
struct sl_regex;
/* Compiles "/re/flags" (flags among i s m U). SL_EINVAL when SRC is not of that form or
 * does not compile. */
int sl_regex_compile(struct sl_regex **out, const char *src, struct sl_error *err);
/* Unanchored search. A match-limit hit is no match. LEN bytes of SUBJECT. */
bool sl_regex_search(const struct sl_regex *re, const char *subject, size_t len);
void sl_regex_free(struct sl_regex *re);
/* True when S has the form /.../flags with valid flags (not whether it compiles). */
bool sl_regex_literal(const char *s);

#endif
