/* suggest.c: closest known name by Damerau-Levenshtein (optimal string alignment). */
#include "base/compat.h"
#include "base/suggest.h"

size_t sl_suggest_distance(const char *a, const char *b)
{
    size_t n = strlen(a), m = strlen(b);
    if (n > SL_SUGGEST_MAX_LEN || m > SL_SUGGEST_MAX_LEN)
        return SIZE_MAX;
    /* three rows: the one before last is needed for the swap */
    size_t rows[3][SL_SUGGEST_MAX_LEN + 1];
    size_t *pp = rows[0], *prev = rows[1], *cur = rows[2];
    for (size_t j = 0; j <= m; j++)
        prev[j] = j;
    for (size_t i = 1; i <= n; i++) {
        cur[0] = i;
        for (size_t j = 1; j <= m; j++) {
            size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            size_t d = prev[j] + 1;
            if (cur[j - 1] + 1 < d)
                d = cur[j - 1] + 1;
            if (prev[j - 1] + cost < d)
                d = prev[j - 1] + cost;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && pp[j - 2] + 1 < d)
                d = pp[j - 2] + 1;
            cur[j] = d;
        }
        size_t *t = pp;
        pp = prev;
        prev = cur;
        cur = t;
    }
    return prev[m];
}

void sl_suggest_init(struct sl_suggest *s, const char *word)
{
    s->word = word;
    s->best = NULL;
    s->best_dist = SIZE_MAX;
}

static size_t limit_for(size_t len)
{
    return len <= 4 ? 1 : len <= 8 ? 2 : 3;
}

void sl_suggest_try(struct sl_suggest *s, const char *name)
{
    if (!s->word || !name || !strcmp(s->word, name))
        return;
    size_t d = sl_suggest_distance(s->word, name);
    size_t len = strlen(s->word);
    if (d == SIZE_MAX || d > limit_for(len) || d >= strlen(name) || d >= len)
        return;
    if (d < s->best_dist) {
        s->best = name;
        s->best_dist = d;
    }
}

const char *sl_suggest_list(const char *word, const char *const *names)
{
    struct sl_suggest s;
    sl_suggest_init(&s, word);
    for (const char *const *n = names; n && *n; n++)
        sl_suggest_try(&s, *n);
    return s.best;
}
