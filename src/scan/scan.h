/* scan.h: finding secrets in text (a commit's diff, a job's log) with rules in gitleaks'
 * TOML format.
 *
 *   struct sl_scan *s;
 *   sl_scan_default(&s, err);                             sluice's shipped rules
 *   sl_scan_extend(s, toml, len, ".gitleaks.toml", err);  a project's own, added (and its
 *                                                         allowlists) on top
 *   sl_scan_text(s, "src/app.py", text, len, on_finding, ctx, err);
 *   sl_scan_free(s);
 *
 * A rule file holds `[[rules]]` (id, description, regex, secretGroup, entropy, keywords,
 * path, and `[[rules.allowlists]]` or the older `[rules.allowlist]`: regexes with
 * regexTarget secret|match|line, stopwords, paths, condition OR|AND) and global
 * `[allowlist]` / `[[allowlists]]`. `[extend] useDefault = false` in a project's file
 * drops the shipped rules, `[extend] disabledRules = ["id", ...]` some of them. Regexes are PCRE2
 * (gitleaks' Go syntax is a subset for what rules use), compiled with JIT and run under match and
 * depth limits, so a hostile rule or text costs bounded time. A rule runs only on text holding one
 * of its keywords (case-insensitive): that pre-filter is what keeps scanning cheap.
 *
 * Findings are reported with the secret's place in the text; sl_scan_redact makes the
 * excerpt that may be stored. Nothing here stores or logs a secret.
 *
 * Errors: SL_EINVAL with FILE:LINE for a rule file that is not TOML or whose rule is
 * wrong (no id, a regex that does not compile: PCRE2's message and offset), SL_ELIMIT for
 * more than SL_SCAN_RULES_MAX rules. A regex that hits its match limit on some text skips
 * that rule for that text (counted in sl_scan_stats), never an error. */
#ifndef SL_SCAN_SCAN_H
#define SL_SCAN_SCAN_H

#include "base/compat.h"
#include "base/error.h"

#define SL_SCAN_RULES_MAX 1024

struct sl_scan;

struct sl_scan_finding {
    const char *rule_id, *description; /* borrowed from the scanner */
    size_t line;                       /* 1-based line of the secret's start */
    size_t start, end;                 /* the secret's bytes in the text: [start, end) */
    size_t line_start, line_end;       /* that line's bytes (without its newline) */
};

/* Called for each finding, in order of rules then place; return non-zero to stop. */
typedef int (*sl_scan_hit_fn)(void *ctx, const struct sl_scan_finding *f);

/* The rules shipped with sluice (src/scan/default-rules.toml, embedded). */
int sl_scan_default(struct sl_scan **out, struct sl_error *err);
/* Rules from TOML (LEN bytes, NAME for messages): a scanner of its own. */
int sl_scan_load(struct sl_scan **out, const char *toml, size_t len, const char *name,
                 struct sl_error *err);
/* Adds the rules and allowlists of TOML to S; with `[extend] useDefault = false` S's
 * earlier rules are dropped first, with `disabledRules` those of the ids listed (unknown
 * ids are ignored). A rule with an id S has replaces it. */
int sl_scan_extend(struct sl_scan *s, const char *toml, size_t len, const char *name,
                   struct sl_error *err);
void sl_scan_free(struct sl_scan *s);
size_t sl_scan_rule_count(const struct sl_scan *s);

/* Scans TEXT (LEN bytes; PATH the file it is, or NULL for a log, where rules with a
 * `path` do not apply). Returns 0, or what FN returned when it stopped. */
int sl_scan_text(const struct sl_scan *s, const char *path, const char *text, size_t len,
                 sl_scan_hit_fn fn, void *ctx);

/* As sl_scan_text, for a text met in parts (a job's log in chunks), findings identical to
 * those of the whole text's scan:
 * - START: only what starts at or after byte START of TEXT is looked for (a line's start:
 *   the bytes before it are the text a regex may look back on); places and lines are still
 *   TEXT's own, counted from byte 0.
 * - MORE (NULL: TEXT ends at LEN): TEXT goes on past LEN, which ends a line. *MORE is set,
 *   and the scan stops (findings reported so far are then to be thrown away), when a finding
 *   could depend on the bytes after LEN: a match on a keyword's line that may go on past the
 *   line (it can reach 64 KiB past it), or a rule without keywords. Scan a longer text then.
 * - FLAGS: SL_SCAN_NO_LINES: findings' lines are not counted (line 0): for a caller that
 *   numbers them from a newline count of its own (the store's line index), which saves a walk
 *   over the text up to the last finding.
 * Findings that end at or before LEN are exactly the whole text's otherwise. */
#define SL_SCAN_NO_LINES 1u
int sl_scan_text_part(const struct sl_scan *s, const char *path, const char *text, size_t len,
                      size_t start, bool *more, unsigned flags, sl_scan_hit_fn fn, void *ctx);

/* The line of F in TEXT with the secret, and every other copy of it on that line, replaced:
 * its first 4 characters are kept when it is at least 16 long (they name the kind: AKIA,
 * ghp_), the rest is `*****`; at most 80 bytes of the line on each side. Caller frees. */
char *sl_scan_redact(const char *text, const struct sl_scan_finding *f);
/* As sl_scan_redact, and the secrets of the other findings ALL[0..N) of TEXT are replaced
 * too where the excerpt shows them (a line with two kinds of secret shows neither). */
char *sl_scan_redact_among(const char *text, const struct sl_scan_finding *f,
                           const struct sl_scan_finding *all, size_t n);

/* The newlines in the N bytes at P (what numbers a finding's line; for callers that number
 * the lines of a text they scanned). */
size_t sl_scan_newlines(const char *p, size_t n);

/* Shannon entropy of DATA in bits per byte (gitleaks' `entropy`). */
double sl_scan_entropy(const char *data, size_t len);

/* For tests and benches: runs S's keyword pass on PATH (kwfilter.h's enum
 * sl_kwfilter_path; by default the best the CPU has, or SL_SCAN_KEYWORD_PASS's). Returns the
 * path it runs on, SCALAR when PATH cannot run here. Findings are the same on every path. */
int sl_scan_set_keyword_pass(struct sl_scan *s, int path);

/* Texts on which some rule hit PCRE2's match limit (and was skipped there). */
unsigned long sl_scan_stats_limit_hits(const struct sl_scan *s);

#endif
