/* test_flags_spec.c: every case of the Unleash client specification
 * (tests/data/unleash-spec, 22 files: 227 isEnabled and 52 getVariant cases) through the
 * evaluation engine. Files 19 and 20 give their state as delta-API events, applied to an
 * empty document first. */
#include "base/compat.h"
#include "harness/harness.h"
#include "flags/flags.h"

#include <time.h>

static json_t *load(const char *rel)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/tests/data/unleash-spec/%s", sl_test_source_dir(), rel);
    json_error_t je;
    json_t *j = json_load_file(path, 0, &je);
    if (!j)
        fprintf(stderr, "# %s:%d:%d: %s\n", path, je.line, je.column, je.text);
    return j;
}

/* The file's state as a compiled state (NULL on failure, reported). */
static struct sl_flags_state *state_of(const json_t *spec, const char *file)
{
    const json_t *state = json_object_get(spec, "state");
    json_t *doc = NULL;
    struct sl_flags_state *st = NULL;
    struct sl_error err = SL_ERROR_INIT;
    if (json_object_get(state, "events")) {
        doc = json_pack("{s:i, s:[], s:[]}", "version", 1, "features", "segments");
        if (sl_flags_delta_apply(doc, json_object_get(state, "events"), &err) < 0)
            goto fail;
        state = doc;
    }
    if (sl_flags_state_compile(&st, state, &err) < 0)
        goto fail;
    json_decref(doc);
    return st;
fail:
    sl_test_fail(__FILE__, __LINE__, "%s: %s", file, sl_error_format(&err));
    sl_error_release(&err);
    json_decref(doc);
    return NULL;
}

static bool payload_matches(const json_t *want, const struct sl_flags_variant *got)
{
    if (!want)
        return got->payload_type == NULL;
    const char *t = json_string_value(json_object_get(want, "type"));
    const char *v = json_string_value(json_object_get(want, "value"));
    return got->payload_type && t && v && sl_streq(t, got->payload_type) &&
           sl_streq(v, got->payload_value);
}

static size_t n_enabled, n_variant;

static void run_file(const char *file)
{
    json_t *spec = load(file);
    if (!spec) {
        sl_test_fail(__FILE__, __LINE__, "cannot load %s", file);
        return;
    }
    struct sl_flags_state *st = state_of(spec, file);
    if (!st)
        goto out;
    const json_t *t;
    size_t i;
    json_array_foreach(json_object_get(spec, "tests"), i, t)
    {
        char name[512];
        snprintf(name, sizeof name, "%s: %s", file,
                 json_string_value(json_object_get(t, "description")));
        sl_test_case_begin(name);
        struct sl_flags_context ctx = {.now_ms = (int64_t)time(NULL) * 1000};
        struct sl_flags_context_hold hold;
        sl_flags_context_from_json(&ctx, &hold, json_object_get(t, "context"));
        const char *toggle = json_string_value(json_object_get(t, "toggleName"));
        bool want = json_is_true(json_object_get(t, "expectedResult"));
        bool got = sl_flags_is_enabled(st, toggle, &ctx);
        if (got != want)
            sl_test_fail(__FILE__, __LINE__, "%s: got %d, want %d", toggle, got, want);
        sl_flags_context_hold_release(&hold);
        sl_test_case_end();
        n_enabled++;
    }
    json_array_foreach(json_object_get(spec, "variantTests"), i, t)
    {
        char name[512];
        snprintf(name, sizeof name, "%s: variant: %s", file,
                 json_string_value(json_object_get(t, "description")));
        sl_test_case_begin(name);
        struct sl_flags_context ctx = {.now_ms = (int64_t)time(NULL) * 1000};
        struct sl_flags_context_hold hold;
        sl_flags_context_from_json(&ctx, &hold, json_object_get(t, "context"));
        const char *toggle = json_string_value(json_object_get(t, "toggleName"));
        const json_t *want = json_object_get(t, "expectedResult");
        struct sl_flags_variant got;
        sl_flags_get_variant(st, toggle, &ctx, &got);
        const char *wname = json_string_value(json_object_get(want, "name"));
        bool wen = json_is_true(json_object_get(want, "enabled"));
        const json_t *wfe = json_object_get(want, "feature_enabled");
        if (!wname || !sl_streq(wname, got.name) || wen != got.enabled ||
            (wfe && json_is_true(wfe) != got.feature_enabled) ||
            !payload_matches(json_object_get(want, "payload"), &got))
            sl_test_fail(__FILE__, __LINE__,
                         "%s: got {%s, enabled %d, feature_enabled %d, payload %s:%s}, want %s",
                         toggle, got.name, got.enabled, got.feature_enabled,
                         got.payload_type ? got.payload_type : "-",
                         got.payload_value ? got.payload_value : "-",
                         json_dumps(want, JSON_COMPACT));
        sl_flags_context_hold_release(&hold);
        sl_test_case_end();
        n_variant++;
    }
out:
    sl_flags_state_free(st);
    json_decref(spec);
}

TEST(every_case_of_the_specification)
{
    json_t *index = load("index.json");
    CHECK(json_is_array(index));
    const json_t *f;
    size_t i;
    json_array_foreach(index, i, f)
    {
        run_file(json_string_value(f));
    }
    json_decref(index);
    CHECK_INT_EQ(i, 22);
    CHECK_INT_EQ(n_enabled, 227);
    CHECK_INT_EQ(n_variant, 52);
}
