/* glob.h: path patterns as GitLab matches them: Ruby's File.fnmatch with FNM_PATHNAME,
 * FNM_DOTMATCH and FNM_EXTGLOB (rules:changes, rules:exists, artifacts and cache paths).
 *
 *   `*`      any characters except `/` (dot files included)
 *   `**` `/` at the start of a path segment: zero or more whole directories; elsewhere
 *            `**` is `*`
 *   `?`      one character (UTF-8 aware) except `/`
 *   `[abc]` `[a-z]` `[!a]` `[^a]`  one character of (or not of) a class, never `/`; a
 *            class that does not close never matches, `[]` is empty and `[!]` any
 *   `{a,b}`  alternatives, nested allowed, expanded first as Ruby's brace expansion does
 *            (an unclosed `{` never matches)
 *   `\x`     the character x itself
 *
 * The algorithm is Ruby's own (dir.c: fnmatch, fnmatch_helper, bracket,
 * ruby_brace_expand), so results agree with GitLab byte for byte. Its cost is bounded by
 * a budget of SL_GLOB_MAX_STEPS steps per call: a pattern made to be slow (nested braces
 * with thousands of alternatives, `*a*a*a*b` on a long name) stops there and does not
 * match. Pure and thread-safe. */
#ifndef SL_GLOB_H
#define SL_GLOB_H

#include "base/compat.h"

#define SL_GLOB_MAX_STEPS 2000000

/* True when PATH (relative, "/"-separated) matches PATTERN as described above. */
bool sl_glob_match(const char *pattern, const char *path);
/* As sl_glob_match; *EXHAUSTED (if not NULL) tells whether the step budget ran out, in
 * which case the answer is false. */
bool sl_glob_match_ex(const char *pattern, const char *path, bool *exhausted);
/* True when PATTERN uses any wildcard (so a caller can skip walking for a plain path). */
bool sl_glob_has_magic(const char *pattern);

#endif
