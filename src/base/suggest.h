/* suggest.h: "did you mean `script`?" — the closest known name to a misspelt one.
 *
 * The distance is Damerau-Levenshtein in its optimal-string-alignment form: insertions,
 * deletions, substitutions and swaps of two adjacent characters each count as one edit,
 * so `scirpt`→`script` and `tset`→`test` are one edit away, not two.
 *
 *   struct sl_suggest s;
 *   sl_suggest_init(&s, word);
 *   for (each known name) sl_suggest_try(&s, name);
 *   if (s.best) ... did you mean s.best ...
 *
 * s.best borrows the candidate string passed to sl_suggest_try: it lives as long as that. */
#ifndef SL_SUGGEST_H
#define SL_SUGGEST_H

#include "base/compat.h"

/* Edit distance of A and B (optimal string alignment); SIZE_MAX when either is longer
 * than SL_SUGGEST_MAX_LEN (names are short; a hostile one must not cost quadratic time). */
#define SL_SUGGEST_MAX_LEN 128
size_t sl_suggest_distance(const char *a, const char *b);

struct sl_suggest {
    const char *word; /* borrowed */
    const char *best; /* borrowed from a candidate; NULL: none close enough */
    size_t best_dist;
};

void sl_suggest_init(struct sl_suggest *s, const char *word);
/* Considers NAME: kept when it is closer than the best so far (the first wins a tie) and
 * within the limit: at most 1 edit for words up to 4 characters, 2 up to 8, else 3; never
 * the word itself, never a name as far as its own length (that is not a misspelling). */
void sl_suggest_try(struct sl_suggest *s, const char *name);
/* Convenience over a NULL-terminated list. */
const char *sl_suggest_list(const char *word, const char *const *names);

#endif
