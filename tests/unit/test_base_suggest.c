/* "did you mean" suggestions: the Damerau-Levenshtein distance (a swap of two adjacent
 * letters is one edit) and the choice of the closest known name (base/suggest.h), and the
 * hint attached to the diagnostic just added (base/diag.h). */
#include "base/compat.h"
#include "harness/harness.h"
#include "base/diag.h"
#include "base/suggest.h"

TEST(distance_counts_a_swap_as_one_edit)
{
    CHECK_INT_EQ(sl_suggest_distance("scirpt", "script"), 1);
    CHECK_INT_EQ(sl_suggest_distance("tset", "test"), 1);
    CHECK_INT_EQ(sl_suggest_distance("biuld", "build"), 1);
    CHECK_INT_EQ(sl_suggest_distance("manul", "manual"), 1);
    CHECK_INT_EQ(sl_suggest_distance("", "abc"), 3);
    CHECK_INT_EQ(sl_suggest_distance("kitten", "sitting"), 3);
    CHECK_INT_EQ(sl_suggest_distance("same", "same"), 0);
    /* optimal string alignment: "ca" -> "abc" is 3 (no edit of a swapped pair) */
    CHECK_INT_EQ(sl_suggest_distance("ca", "abc"), 3);
}

TEST(distance_refuses_long_input)
{
    char big[SL_SUGGEST_MAX_LEN + 2];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    CHECK(sl_suggest_distance(big, "a") == SIZE_MAX);
}

TEST(suggest_picks_closest_known_name)
{
    static const char *const keys[] = {"stage", "script", "before_script", "services", NULL};
    CHECK_STR_EQ(sl_suggest_list("scirpt", keys), "script");
    CHECK_STR_EQ(sl_suggest_list("stgae", keys), "stage");
    static const char *const whens[] = {"on_success", "on_failure", "always", "manual", NULL};
    CHECK_STR_EQ(sl_suggest_list("manul", whens), "manual");
    static const char *const stages[] = {".pre", "build", "test", "deploy", ".post", NULL};
    CHECK_STR_EQ(sl_suggest_list("tset", stages), "test");
    CHECK_STR_EQ(sl_suggest_list("biuld", stages), "build");
    /* nothing close: no hint rather than a wild guess */
    CHECK(sl_suggest_list("zzzzzz", keys) == NULL);
    CHECK(sl_suggest_list("ab", stages) == NULL);
    CHECK(sl_suggest_list("script", keys) == NULL); /* the word itself is not a hint */
    CHECK(sl_suggest_list("x", NULL) == NULL);
}

TEST(diag_hint_goes_to_last_item_even_a_repeated_one)
{
    struct sl_diag d = SL_DIAG_INIT;
    sl_diag_hint(&d, "nothing to attach to");
    sl_diag_add(&d, SL_DIAG_ERROR, "f.yml", 1, 1, "first");
    sl_diag_add(&d, SL_DIAG_ERROR, "f.yml", 2, 3, "second");
    sl_diag_add(&d, SL_DIAG_ERROR, "f.yml", 1, 1, "first"); /* deduplicated */
    sl_diag_hint(&d, "did you mean `%s`?", "script");
    sl_diag_hint(&d, "a second hint is ignored");
    CHECK_INT_EQ(d.n, 2);
    CHECK_STR_EQ(d.items[0].hint, "did you mean `script`?");
    CHECK(d.items[1].hint == NULL);
    sl_diag_release(&d);
}
