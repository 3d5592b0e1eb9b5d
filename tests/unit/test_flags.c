/* test_flags.c: the pieces of the Unleash engine the specification does not pin down
 * alone: hash vectors, value parsers, and hostile documents refused with the path. */
#include "base/compat.h"
#include "harness/harness.h"
#include "flags/flags.h"

TEST(murmur3_reference_vectors)
{
    CHECK_INT_EQ(sl_flags_murmur3("", 0, 0), 0);
    CHECK_INT_EQ(sl_flags_murmur3("", 0, 1), 0x514E28B7);
    CHECK_INT_EQ(sl_flags_murmur3("hello", 5, 0), 0x248BFA47);
    CHECK_INT_EQ(sl_flags_murmur3("The quick brown fox jumps over the lazy dog", 43, 0),
                 0x2E4FF723);
    /* normalised values lie in 1..N */
    for (int i = 0; i < 1000; i++) {
        char id[16];
        snprintf(id, sizeof id, "%d", i);
        uint32_t v = sl_flags_normalize("g", id, 100, SL_FLAGS_SEED_ROLLOUT);
        CHECK(v >= 1 && v <= 100);
    }
}

static int compile_error(const char *text, char *msg, size_t n)
{
    json_t *doc = json_loads(text, 0, NULL);
    struct sl_flags_state *st = NULL;
    struct sl_error err = SL_ERROR_INIT;
    int rc = sl_flags_state_compile(&st, doc, &err);
    snprintf(msg, n, "%s", rc < 0 ? sl_error_format(&err) : "");
    sl_error_release(&err);
    sl_flags_state_free(st);
    json_decref(doc);
    return rc;
}

TEST(bad_documents_name_the_field)
{
    char msg[512];
    CHECK_INT_EQ(compile_error("{\"features\": 3}", msg, sizeof msg), SL_EINVAL);
    CHECK(strstr(msg, "features") != NULL);
    CHECK_INT_EQ(compile_error("{\"features\": [{\"name\": \"a\", \"strategies\": [{\"name\": "
                               "\"default\", \"constraints\": [{\"operator\": \"IN\"}]}]}]}",
                               msg, sizeof msg),
                 SL_EINVAL);
    CHECK(strstr(msg, "features[0].strategies[0].constraints[0].contextName") != NULL);
    CHECK_INT_EQ(compile_error("{\"features\": [{}]}", msg, sizeof msg), SL_EINVAL);
    CHECK(strstr(msg, "features[0].name") != NULL);
}

static bool on(const char *doc_text, const char *user)
{
    json_t *doc = json_loads(doc_text, 0, NULL);
    struct sl_flags_state *st = NULL;
    if (sl_flags_state_compile(&st, doc, NULL) < 0)
        return false;
    struct sl_flags_field f[] = {{"userId", user}};
    struct sl_flags_context ctx = {f, 1, NULL, 0, 0, NULL};
    bool r = sl_flags_is_enabled(st, "f", &ctx);
    sl_flags_state_free(st);
    json_decref(doc);
    return r;
}

TEST(catastrophic_regex_ends_as_no_match)
{
    char user[64];
    memset(user, 'a', 40);
    strcpy(user + 40, "!");
    CHECK(!on("{\"features\": [{\"name\": \"f\", \"enabled\": true, \"strategies\": [{\"name\": "
              "\"default\", \"constraints\": [{\"contextName\": \"userId\", \"operator\": "
              "\"REGEX\", \"value\": \"^(a+)+$\"}]}]}]}",
              user));
    CHECK(on("{\"features\": [{\"name\": \"f\", \"enabled\": true, \"strategies\": [{\"name\": "
             "\"default\", \"constraints\": [{\"contextName\": \"userId\", \"operator\": "
             "\"REGEX\", \"value\": \"^a+!$\"}]}]}]}",
             user));
}

TEST(numeric_parameters_and_ipv6_ranges)
{
    CHECK(on("{\"features\": [{\"name\": \"f\", \"enabled\": true, \"strategies\": [{\"name\": "
             "\"flexibleRollout\", \"parameters\": {\"rollout\": 100}}]}]}",
             "u1"));
    CHECK(!on("{\"features\": [{\"name\": \"f\", \"enabled\": true, \"strategies\": [{\"name\": "
              "\"flexibleRollout\", \"parameters\": {\"rollout\": 0}}]}]}",
              "u1"));
}
