/* reports_api.c: GET /api/v1/pipelines/{id}/test_report, the JUnit reports of a pipeline's
 * jobs in GitLab's test report summary shape (Ci::TestReportSummary): one suite per job
 * group (a parallel job's instances share one, as GitLab groups them by group_name), and
 * their total. */
#include "base/compat.h"
#include "base/alloc.h"
#include "base/map.h"
#include "server/internal.h"

/* A job's group: its name without a trailing " N/M" of `parallel: N` (GitLab's group_name). */
static char *group_name(const char *name)
{
    const char *sp = strrchr(name, ' ');
    if (sp && sp != name) {
        const char *p = sp + 1;
        size_t digits = strspn(p, "0123456789");
        if (digits && p[digits] == '/' && strspn(p + digits + 1, "0123456789") &&
            !p[digits + 1 + strspn(p + digits + 1, "0123456789")])
            return sl_xstrndup(name, (size_t)(sp - name));
    }
    return sl_xstrdup(name);
}

static void add_counts(json_t *into, json_t *from, const char *const *keys_into,
                       const char *const *keys_from, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        json_t *a = json_object_get(into, keys_into[i]), *b = json_object_get(from, keys_from[i]);
        double sum = json_number_value(a) + json_number_value(b);
        json_object_set_new(into, keys_into[i],
                            json_is_real(a) || json_is_real(b) ? json_real(sum)
                                                               : json_integer((json_int_t)sum));
    }
}

void sl_h_pipeline_test_report(struct req *r)
{
    static const char *const junit_keys[] = {"time_s", "count",   "success",
                                             "failed", "skipped", "error"};
    static const char *const suite_keys[] = {"total_time",   "total_count",   "success_count",
                                             "failed_count", "skipped_count", "error_count"};
    static const char *const total_keys[] = {"time",   "count",   "success",
                                             "failed", "skipped", "error"};
    struct sl_store_pipeline p;
    struct sl_store_job_report *reps = NULL;
    size_t n = 0;
    struct sl_error err = SL_ERROR_INIT;
    memset(&p, 0, sizeof(p));
    int rc = sl_store_pipeline_get(r->s->st, r->id, &p, &err);
    if (rc == 0)
        rc = sl_store_job_reports_by_pipeline(r->s->st, r->id, &reps, &n, &err);
    if (rc < 0) {
        sl_reply_sl_error(r, rc, &err);
        goto out;
    }
    json_t *total = json_pack("{s:f,s:i,s:i,s:i,s:i,s:i,s:n}", "time", 0.0, "count", 0, "success",
                              0, "failed", 0, "skipped", 0, "error", 0, "suite_error");
    json_t *suites = json_array();
    struct sl_map byname = SL_MAP_INIT; /* group name -> suite (borrowed from SUITES) */
    for (size_t i = 0; i < n; i++) {
        json_t *j =
            sl_srv_stored_json(reps[i].junit, JSON_OBJECT, "job's junit report", reps[i].job_id);
        if (!json_is_object(j)) {
            json_decref(j);
            continue;
        }
        char *group = group_name(reps[i].name);
        /* by name through a map: a pipeline may have thousands of jobs */
        json_t *suite = sl_map_get(&byname, group);
        if (!suite) {
            suite = json_pack("{s:s,s:f,s:i,s:i,s:i,s:i,s:i,s:[],s:n}", "name", group, "total_time",
                              0.0, "total_count", 0, "success_count", 0, "failed_count", 0,
                              "skipped_count", 0, "error_count", 0, "build_ids", "suite_error");
            json_array_append_new(suites, suite); /* the array holds the reference */
            sl_map_put(&byname, group, suite);
        }
        add_counts(suite, j, suite_keys, junit_keys, SL_ARRAY_LEN(junit_keys));
        add_counts(total, j, total_keys, junit_keys, SL_ARRAY_LEN(junit_keys));
        json_array_append_new(json_object_get(suite, "build_ids"),
                              json_integer((json_int_t)reps[i].job_id));
        free(group);
        json_decref(j);
    }
    sl_map_release(&byname);
    sl_reply_json(r, 200, json_pack("{s:o,s:o}", "total", total, "test_suites", suites));
out:
    sl_store_job_reports_free(reps, n);
    sl_store_pipeline_release(&p);
    sl_error_release(&err);
}
