/* flags_eval: cost of one Unleash isEnabled in the engine (src/flags) for a flexibleRollout
 * at 50% with two constraints (STR_ENDS_WITH and SEMVER_GTE), over varying user ids, and
 * of one getVariant with three weighted variants.
 *
 * Build (after building sl_flags in a release dir) and run:
 *   cmake -S . -B build/rel -G Ninja -DCMAKE_BUILD_TYPE=Release && \
 *     cmake --build build/rel --target sl_flags
 *   cc -O2 -D_GNU_SOURCE -Isrc bench/flags_eval.c build/rel/libsl_flags.a \
 *      build/rel/libsl_base.a $(pkg-config --libs jansson libpcre2-8) -o /tmp/flags_eval
 *   /tmp/flags_eval [ITERATIONS]
 */
#include "base/compat.h"
#include "flags/flags.h"

#include <time.h>

static const char DOC[] =
    "{\"version\":1,\"features\":[{\"name\":\"checkout.v2\",\"enabled\":true,"
    "\"strategies\":[{\"name\":\"flexibleRollout\",\"parameters\":{\"rollout\":\"50\","
    "\"stickiness\":\"default\",\"groupId\":\"checkout.v2\"},\"constraints\":["
    "{\"contextName\":\"email\",\"operator\":\"STR_ENDS_WITH\",\"values\":[\"@example.com\"],"
    "\"caseInsensitive\":true},"
    "{\"contextName\":\"appVersion\",\"operator\":\"SEMVER_GTE\",\"value\":\"2.3.0\"}]}],"
    "\"variants\":[{\"name\":\"a\",\"weight\":340},{\"name\":\"b\",\"weight\":330},"
    "{\"name\":\"c\",\"weight\":330}]}]}";

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 2000000;
    json_error_t je;
    json_t *doc = json_loads(DOC, 0, &je);
    struct sl_flags_state *st = NULL;
    if (!doc || sl_flags_state_compile(&st, doc, NULL) < 0) {
        fprintf(stderr, "flags_eval: cannot compile the document\n");
        return 1;
    }
    char uid[32];
    struct sl_flags_field fields[] = {{"userId", uid}, {"appName", "shop"}};
    struct sl_flags_field props[] = {{"email", "someone@Example.com"}, {"appVersion", "2.4.1"}};
    struct sl_flags_context ctx = {fields, 2, props, 2, 0, NULL};
    long on = 0;
    double t0 = now_s();
    for (long i = 0; i < n; i++) {
        snprintf(uid, sizeof uid, "%ld", i);
        on += sl_flags_is_enabled(st, "checkout.v2", &ctx);
    }
    double t1 = now_s();
    struct sl_flags_variant v;
    long a = 0;
    for (long i = 0; i < n; i++) {
        snprintf(uid, sizeof uid, "%ld", i);
        sl_flags_get_variant(st, "checkout.v2", &ctx, &v);
        a += v.name[0] == 'a';
    }
    double t2 = now_s();
    printf("isEnabled (flexibleRollout 50%% + 2 constraints): %.0f ns/op (%.1f%% on)\n",
           (t1 - t0) / (double)n * 1e9, 100.0 * (double)on / (double)n);
    printf("getVariant (same flag, 3 variants):              %.0f ns/op (%.1f%% 'a')\n",
           (t2 - t1) / (double)n * 1e9, 100.0 * (double)a / (double)n);
    sl_flags_state_free(st);
    json_decref(doc);
    return 0;
}
