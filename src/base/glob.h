/* glob.h: path patterns as GitLab matches them: Ruby's File.fnmatch with FNM_PATHNAME,
 * FNM_DOTMATCH and FNM_EXTGLOB (rules:changes, rules:exists, artifacts and cache paths).
 *
 *   `*`      any characters except `/` (dot files included)
 *   `**` `/` zero or more whole directories ("**" not followed by "/" acts as "*")
 *   `?`      one character except `/`
 *   `[abc]` `[a-z]` `[!a]` `[^a]`  one character of (or not of) a class, never `/`
 *   `{a,b}`  alternatives, nested allowed
 *   `\x`     the character x itself
 *
 * Matching is by dynamic programming over pattern and path positions, so no pattern can
 * make it slow (backtracking matchers go exponential on patterns like `*a*a*a*b`); brace
 * alternatives are capped at SL_GLOB_MAX_ALTERNATIVES (more never match). Pure and
 * thread-safe. */
#ifndef SL_GLOB_H
#define SL_GLOB_H

#include "base/compat.h"

#define SL_GLOB_MAX_ALTERNATIVES 1024

/* True when PATH (relative, "/"-separated) matches PATTERN as described above. */
bool sl_glob_match(const char *pattern, const char *path);
/* True when PATTERN uses any wildcard (so a caller can skip walking for a plain path). */
bool sl_glob_has_magic(const char *pattern);

#endif
