/* Unit tests of the pipeline state machine: one test per transition, plus the API's
 * contracts (change lists, validation, copies, restore). Whole scenarios are data, in
 * tests/cases/sched/ (test_sched_cases.c). */
#include "base/compat.h"
#include "harness/harness.h"
#include "base/error.h"
#include "sched/pipeline.h"

#define ST(s, i) sl_sched_status_name(sl_sched_job_status((s), (i)))

static struct sl_sched_job job(const char *name, int stage)
{
    return (struct sl_sched_job){.name = name, .stage = stage};
}

static struct sl_sched *make(const struct sl_sched_job *jobs, size_t n, size_t nstages)
{
    struct sl_sched *s = NULL;
    struct sl_error err = SL_ERROR_INIT;

    if (sl_sched_new(&s, jobs, n, nstages, &err) < 0) {
        sl_test_fail(__FILE__, __LINE__, "sl_sched_new: %s", sl_error_format(&err));
        s = NULL;
    }
    sl_error_release(&err);
    return s;
}

/* Runs job I to the end with REASON/CODE; false when an event is refused. */
static bool run(struct sl_sched *s, size_t i, enum sl_sched_failure reason, int code, int64_t t)
{
    return sl_sched_job_started(s, i, t, NULL) == 0 &&
           sl_sched_job_finished(s, i, reason, code, t + 1, NULL) == 0;
}

/* True when the last event's changes include JOB going FROM -> TO. */
static bool changed(struct sl_sched *s, size_t jobi, enum sl_sched_status from,
                    enum sl_sched_status to)
{
    size_t n;
    const struct sl_sched_change *c = sl_sched_changes(s, &n);

    for (size_t k = 0; k < n; k++)
        if (c[k].job == jobi && c[k].from == from && c[k].to == to && !c[k].kill)
            return true;
    return false;
}

TEST(new_starts_created_and_start_makes_first_stage_pending)
{
    struct sl_sched_job jobs[] = {job("a", 0), job("b", 0), job("c", 1)};
    struct sl_sched *s = make(jobs, 3, 2);
    size_t idx[4], n;

    CHECK(s);
    CHECK_STR_EQ(ST(s, 0), "created");
    CHECK_INT_EQ(sl_sched_status(s), SL_SCHED_CREATED);
    CHECK_INT_EQ(sl_sched_pending(s, idx, 4), 0);
    CHECK(sl_sched_start(s, 0, NULL) == 0);
    CHECK(changed(s, 0, SL_SCHED_CREATED, SL_SCHED_PENDING));
    CHECK(changed(s, 1, SL_SCHED_CREATED, SL_SCHED_PENDING));
    sl_sched_changes(s, &n);
    CHECK_INT_EQ(n, 2);
    CHECK_INT_EQ(sl_sched_pending(s, idx, 1), 2); /* count beyond the cap */
    CHECK_INT_EQ(idx[0], 0);
    CHECK_STR_EQ(ST(s, 2), "created");
    CHECK_INT_EQ(sl_sched_status(s), SL_SCHED_PENDING);
    sl_sched_free(s);
}

TEST(pending_to_running_to_success)
{
    struct sl_sched_job jobs[] = {job("a", 0), job("b", 1)};
    struct sl_sched *s = make(jobs, 2, 2);

    CHECK(s && sl_sched_start(s, 0, NULL) == 0);
    CHECK(sl_sched_job_started(s, 0, 1, NULL) == 0);
    CHECK(changed(s, 0, SL_SCHED_PENDING, SL_SCHED_RUNNING));
    CHECK_INT_EQ(sl_sched_status(s), SL_SCHED_RUNNING);
    CHECK(sl_sched_job_finished(s, 0, SL_SCHED_FAILURE_NONE, 0, 2, NULL) == 0);
    CHECK(changed(s, 0, SL_SCHED_RUNNING, SL_SCHED_SUCCESS));
    CHECK(changed(s, 1, SL_SCHED_CREATED, SL_SCHED_PENDING)); /* same event */
    CHECK(run(s, 1, SL_SCHED_FAILURE_NONE, 0, 3));
    CHECK_INT_EQ(sl_sched_status(s), SL_SCHED_SUCCESS);
    CHECK(sl_sched_is_finished(s));
    CHECK(!sl_sched_is_active(s));
    sl_sched_free(s);
}

TEST(running_to_failed_skips_later_on_success)
{
    struct sl_sched_job jobs[] = {job("a", 0), job("b", 1), job("c", 1)};
    struct sl_sched *s;

    jobs[2].when = SL_SCHED_ON_FAILURE;
    s = make(jobs, 3, 2);
    CHECK(s && sl_sched_start(s, 0, NULL) == 0);
    CHECK(run(s, 0, SL_SCHED_FAILURE_SCRIPT, 1, 1));
    CHECK(changed(s, 0, SL_SCHED_RUNNING, SL_SCHED_FAILED));
    CHECK(changed(s, 1, SL_SCHED_CREATED, SL_SCHED_SKIPPED));
    CHECK(changed(s, 2, SL_SCHED_CREATED, SL_SCHED_PENDING));
    CHECK_INT_EQ(sl_sched_job_failure(s, 0), SL_SCHED_FAILURE_SCRIPT);
    CHECK_INT_EQ(sl_sched_job_exit_code(s, 0), 1);
    CHECK(!sl_sched_job_failure_allowed(s, 0));
    CHECK(run(s, 2, SL_SCHED_FAILURE_NONE, 0, 3));
    CHECK_INT_EQ(sl_sched_status(s), SL_SCHED_FAILED);
    sl_sched_free(s);
}

TEST(created_to_manual_then_play_to_pending)
{
    struct sl_sched_job jobs[] = {job("gate", 0), job("after", 1)};
    struct sl_sched *s;

    jobs[0].when = SL_SCHED_WHEN_MANUAL; /* allow_failure false: blocking */
    s = make(jobs, 2, 2);
    CHECK(s && sl_sched_start(s, 0, NULL) == 0);
    CHECK(changed(s, 0, SL_SCHED_CREATED, SL_SCHED_MANUAL));
    CHECK_INT_EQ(sl_sched_status(s), SL_SCHED_MANUAL);
    CHECK(!sl_sched_is_active(s) && !sl_sched_is_finished(s));
    CHECK(sl_sched_play(s, 0, 1, NULL) == 0);
    CHECK(changed(s, 0, SL_SCHED_MANUAL, SL_SCHED_PENDING));
    CHECK(sl_sched_play(s, 0, 1, NULL) == SL_EINVAL);
    CHECK(run(s, 0, SL_SCHED_FAILURE_NONE, 0, 2));
    CHECK_STR_EQ(ST(s, 1), "pending");
    sl_sched_free(s);
}

TEST(nonblocking_manual_is_ignored_by_the_pipeline)
{
    struct sl_sched_job jobs[] = {job("a", 0), job("opt", 0)};
    struct sl_sched *s;

    jobs[1].when = SL_SCHED_WHEN_MANUAL;
    jobs[1].allow_failure = true;
    s = make(jobs, 2, 1);
    CHECK(s && sl_sched_start(s, 0, NULL) == 0);
    CHECK(run(s, 0, SL_SCHED_FAILURE_NONE, 0, 1));
    CHECK_STR_EQ(ST(s, 1), "manual");
    CHECK_INT_EQ(sl_sched_status(s), SL_SCHED_SUCCESS);
    CHECK(!sl_sched_has_warnings(s));
    CHECK(!sl_sched_job_failure_allowed(s, 1));
    sl_sched_free(s);
}

TEST(created_to_scheduled_then_tick_to_pending)
{
    struct sl_sched_job jobs[] = {job("d", 0)};
    struct sl_sched *s;
    int64_t at = -1;

    jobs[0].when = SL_SCHED_DELAYED;
    jobs[0].start_in_ms = 500;
    s = make(jobs, 1, 1);
    CHECK(s && !sl_sched_next_due(s, &at) && at == -1);
    CHECK(sl_sched_start(s, 1000, NULL) == 0);
    CHECK(changed(s, 0, SL_SCHED_CREATED, SL_SCHED_SCHEDULED));
    CHECK(sl_sched_next_due(s, &at));
    CHECK_INT_EQ(at, 1500);
    CHECK_INT_EQ(sl_sched_job_due(s, 0), 1500);
    CHECK_INT_EQ(sl_sched_status(s), SL_SCHED_SCHEDULED);
    CHECK(sl_sched_is_active(s));
    CHECK(sl_sched_tick(s, 1499, NULL) == 0);
    sl_sched_changes(s, &(size_t){0});
    CHECK_STR_EQ(ST(s, 0), "scheduled");
    CHECK(sl_sched_tick(s, 1500, NULL) == 0);
    CHECK(changed(s, 0, SL_SCHED_SCHEDULED, SL_SCHED_PENDING));
    CHECK(!sl_sched_next_due(s, &at));
    sl_sched_free(s);
}

TEST(delayed_zero_is_pending_in_the_same_event)
{
    struct sl_sched_job jobs[] = {job("d", 0)};
    struct sl_sched *s;

    jobs[0].when = SL_SCHED_DELAYED;
    s = make(jobs, 1, 1);
    CHECK(s && sl_sched_start(s, 7, NULL) == 0);
    CHECK(changed(s, 0, SL_SCHED_CREATED, SL_SCHED_SCHEDULED));
    CHECK(changed(s, 0, SL_SCHED_SCHEDULED, SL_SCHED_PENDING));
    sl_sched_free(s);
}

TEST(failure_to_pending_by_retry_increments_attempt)
{
    struct sl_sched_job jobs[] = {job("f", 0)};
    struct sl_sched *s;

    jobs[0].retry_max = 1;
    s = make(jobs, 1, 1);
    CHECK(s && sl_sched_start(s, 0, NULL) == 0);
    CHECK(run(s, 0, SL_SCHED_FAILURE_SCRIPT, 2, 1));
    CHECK(changed(s, 0, SL_SCHED_RUNNING, SL_SCHED_PENDING));
    CHECK_INT_EQ(sl_sched_job_attempt(s, 0), 2);
    CHECK_INT_EQ(sl_sched_job_failure(s, 0), SL_SCHED_FAILURE_SCRIPT); /* the last finish */
    CHECK(run(s, 0, SL_SCHED_FAILURE_SCRIPT, 2, 3));
    CHECK_STR_EQ(ST(s, 0), "failed");
    CHECK_INT_EQ(sl_sched_job_attempt(s, 0), 2);
    sl_sched_free(s);
}

TEST(retry_matches_reason_or_exit_code)
{
    static const int codes[] = {137, 143};
    struct sl_sched_job jobs[] = {job("a", 0), job("b", 0), job("c", 0), job("d", 0)};
    struct sl_sched *s;

    for (size_t i = 0; i < 4; i++)
        jobs[i].retry_max = 2;
    jobs[0].retry_when = SL_SCHED_RETRY_BIT(SL_SCHED_FAILURE_API);
    jobs[1].retry_exit_codes = codes;
    jobs[1].nretry_exit_codes = 2;
    jobs[2].retry_when = SL_SCHED_RETRY_BIT(SL_SCHED_FAILURE_API);
    jobs[2].retry_exit_codes = codes;
    jobs[2].nretry_exit_codes = 2;
    jobs[3].retry_when = SL_SCHED_RETRY_ALWAYS;
    s = make(jobs, 4, 1);
    CHECK(s && sl_sched_start(s, 0, NULL) == 0);
    CHECK(run(s, 0, SL_SCHED_FAILURE_SCRIPT, 137, 1)); /* reason not listed, no codes */
    CHECK_STR_EQ(ST(s, 0), "failed");
    CHECK(run(s, 1, SL_SCHED_FAILURE_SCRIPT, 143, 1)); /* code listed */
    CHECK_STR_EQ(ST(s, 1), "pending");
    CHECK(run(s, 1, SL_SCHED_FAILURE_API, SL_SCHED_NO_EXIT_CODE, 2)); /* `when` empty */
    CHECK_STR_EQ(ST(s, 1), "failed");
    CHECK(run(s, 2, SL_SCHED_FAILURE_API, SL_SCHED_NO_EXIT_CODE, 1)); /* reason listed */
    CHECK_STR_EQ(ST(s, 2), "pending");
    CHECK(run(s, 3, SL_SCHED_FAILURE_DATA_INTEGRITY, 0, 1));
    CHECK_STR_EQ(ST(s, 3), "pending");
    sl_sched_free(s);
}

TEST(allow_failure_exit_codes_decide_the_warning)
{
    static const int codes[] = {3};
    struct sl_sched_job jobs[] = {job("a", 0), job("b", 1)};
    struct sl_sched *s;

    jobs[0].allow_failure = true;
    jobs[0].allow_exit_codes = codes;
    jobs[0].nallow_exit_codes = 1;
    s = make(jobs, 2, 2);
    CHECK(s && sl_sched_start(s, 0, NULL) == 0);
    CHECK(run(s, 0, SL_SCHED_FAILURE_SCRIPT, 3, 1));
    CHECK(sl_sched_job_failure_allowed(s, 0));
    CHECK(sl_sched_has_warnings(s));
    CHECK_STR_EQ(ST(s, 1), "pending");
    /* a user retry resets the allowance until the new attempt ends */
    CHECK(sl_sched_retry_job(s, 0, 5, NULL) == 0);
    CHECK(!sl_sched_has_warnings(s));
    CHECK(run(s, 0, SL_SCHED_FAILURE_SCRIPT, 4, 6));
    CHECK(!sl_sched_job_failure_allowed(s, 0));
    CHECK_INT_EQ(sl_sched_status(s), SL_SCHED_RUNNING); /* b was not skipped: still pending */
    CHECK(run(s, 1, SL_SCHED_FAILURE_NONE, 0, 8));
    CHECK_INT_EQ(sl_sched_status(s), SL_SCHED_FAILED);
    sl_sched_free(s);
}

TEST(manual_with_exit_code_allowance_is_blocking)
{
    static const int codes[] = {3};
    struct sl_sched_job jobs[] = {job("m", 0), job("b", 1)};
    struct sl_sched *s;

    jobs[0].when = SL_SCHED_WHEN_MANUAL;
    jobs[0].allow_failure = true;
    jobs[0].allow_exit_codes = codes;
    jobs[0].nallow_exit_codes = 1;
    s = make(jobs, 2, 2);
    CHECK(s && sl_sched_start(s, 0, NULL) == 0);
    CHECK_INT_EQ(sl_sched_status(s), SL_SCHED_MANUAL);
    CHECK_STR_EQ(ST(s, 1), "created");
    sl_sched_free(s);
}

TEST(cancel_kills_running_and_cancels_the_rest)
{
    struct sl_sched_job jobs[] = {job("a", 0), job("b", 0), job("c", 1)};
    struct sl_sched *s = make(jobs, 3, 2);
    const struct sl_sched_change *c;
    size_t n;
    bool kill_seen = false;

    CHECK(s && sl_sched_start(s, 0, NULL) == 0);
    CHECK(sl_sched_job_started(s, 0, 1, NULL) == 0);
    CHECK(sl_sched_cancel(s, 2, NULL) == 0);
    c = sl_sched_changes(s, &n);
    for (size_t k = 0; k < n; k++)
        if (c[k].kill && c[k].job == 0 && c[k].from == SL_SCHED_RUNNING &&
            c[k].to == SL_SCHED_RUNNING)
            kill_seen = true;
    CHECK(kill_seen);
    CHECK(changed(s, 1, SL_SCHED_PENDING, SL_SCHED_CANCELED));
    CHECK(changed(s, 2, SL_SCHED_CREATED, SL_SCHED_CANCELED));
    CHECK(sl_sched_job_kill_requested(s, 0));
    CHECK_INT_EQ(sl_sched_status(s), SL_SCHED_RUNNING);
    /* a second cancel asks nothing new */
    CHECK(sl_sched_cancel(s, 3, NULL) == 0);
    sl_sched_changes(s, &n);
    CHECK_INT_EQ(n, 0);
    CHECK(sl_sched_job_finished(s, 0, SL_SCHED_FAILURE_NONE, 0, 4, NULL) == 0);
    CHECK(changed(s, 0, SL_SCHED_RUNNING, SL_SCHED_CANCELED));
    CHECK(!sl_sched_job_kill_requested(s, 0));
    CHECK_INT_EQ(sl_sched_status(s), SL_SCHED_CANCELED);
    sl_sched_free(s);
}

TEST(canceled_job_is_not_retried_automatically)
{
    struct sl_sched_job jobs[] = {job("a", 0)};
    struct sl_sched *s;

    jobs[0].retry_max = 2;
    s = make(jobs, 1, 1);
    CHECK(s && sl_sched_start(s, 0, NULL) == 0);
    CHECK(sl_sched_job_started(s, 0, 1, NULL) == 0);
    CHECK(sl_sched_cancel_job(s, 0, 2, NULL) == 0);
    CHECK(sl_sched_job_finished(s, 0, SL_SCHED_FAILURE_SCRIPT, 143, 3, NULL) == 0);
    CHECK_STR_EQ(ST(s, 0), "canceled");
    CHECK_INT_EQ(sl_sched_job_attempt(s, 0), 1);
    sl_sched_free(s);
}

TEST(user_retry_goes_through_created)
{
    struct sl_sched_job jobs[] = {job("a", 0), job("b", 1)};
    struct sl_sched *s = make(jobs, 2, 2);

    CHECK(s && sl_sched_start(s, 0, NULL) == 0);
    CHECK(run(s, 0, SL_SCHED_FAILURE_SCRIPT, 1, 1));
    CHECK_STR_EQ(ST(s, 1), "skipped");
    CHECK(sl_sched_retry_job(s, 1, 2, NULL) == SL_EINVAL); /* skipped is not retryable */
    CHECK(sl_sched_retry_job(s, 0, 3, NULL) == 0);
    CHECK(changed(s, 0, SL_SCHED_FAILED, SL_SCHED_CREATED));
    CHECK(changed(s, 1, SL_SCHED_SKIPPED, SL_SCHED_CREATED));
    CHECK(changed(s, 0, SL_SCHED_CREATED, SL_SCHED_PENDING));
    CHECK_INT_EQ(sl_sched_job_attempt(s, 0), 2);
    sl_sched_free(s);
}

TEST(refused_events_change_nothing)
{
    struct sl_sched_job jobs[] = {job("a", 0)};
    struct sl_sched *s = make(jobs, 1, 1);
    struct sl_error err = SL_ERROR_INIT;
    size_t n;

    CHECK(s);
    CHECK(sl_sched_job_started(s, 0, 0, &err) == SL_EINVAL);
    CHECK(strstr(err.message, "not started") != NULL);
    CHECK(sl_sched_start(s, 0, NULL) == 0);
    CHECK(sl_sched_job_finished(s, 0, SL_SCHED_FAILURE_NONE, 0, 1, &err) == SL_EINVAL);
    CHECK(strstr(err.message, "cannot finish job a: it is pending") != NULL);
    CHECK(sl_sched_job_started(s, 5, 0, &err) == SL_EINVAL);
    CHECK(sl_sched_job_started(s, 0, 1, NULL) == 0);
    CHECK(sl_sched_job_finished(s, 0, SL_SCHED_FAILURE_COUNT, 1, 1, &err) == SL_EINVAL);
    sl_sched_changes(s, &n);
    CHECK_INT_EQ(n, 0);
    CHECK_STR_EQ(ST(s, 0), "running");
    sl_error_release(&err);
    sl_sched_free(s);
}

TEST(new_rejects_bad_job_lists)
{
    static const size_t self[] = {0}, far[] = {7}, to1[] = {1}, to0[] = {0};
    struct sl_sched_job jobs[2] = {job("a", 0), job("b", 0)};
    struct sl_sched *s = NULL;
    struct sl_error err = SL_ERROR_INIT;

    CHECK(sl_sched_new(&s, jobs, 0, 1, &err) == SL_EINVAL);
    jobs[0].stage = 3;
    CHECK(sl_sched_new(&s, jobs, 2, 2, &err) == SL_EINVAL);
    jobs[0].stage = 0;
    jobs[0].retry_max = 3;
    CHECK(sl_sched_new(&s, jobs, 2, 1, &err) == SL_EINVAL);
    CHECK(strstr(err.message, "retry max 3") != NULL);
    jobs[0].retry_max = 0;
    jobs[0].needs_declared = true;
    jobs[0].needs = self;
    jobs[0].nneeds = 1;
    CHECK(sl_sched_new(&s, jobs, 2, 1, &err) == SL_ECYCLE);
    jobs[0].needs = far;
    CHECK(sl_sched_new(&s, jobs, 2, 1, &err) == SL_EINVAL);
    jobs[0].needs = to1; /* a needs b, b needs a */
    jobs[1].needs_declared = true;
    jobs[1].needs = to0;
    jobs[1].nneeds = 1;
    CHECK(sl_sched_new(&s, jobs, 2, 1, &err) == SL_ECYCLE);
    CHECK(s == NULL);
    jobs[1].needs_declared = false; /* b (stage-ordered, same stage) is fine */
    CHECK(sl_sched_new(&s, jobs, 2, 1, &err) == 0);
    sl_sched_free(s);
    sl_sched_free(NULL);
    sl_error_release(&err);
}

TEST(new_copies_the_caller_arrays)
{
    size_t *needs = malloc(sizeof(*needs));
    int *codes = malloc(sizeof(*codes));
    char *name = strdup("b");
    struct sl_sched_job jobs[] = {job("a", 0), job(name, 0)};
    struct sl_sched *s;

    needs[0] = 0;
    codes[0] = 5;
    jobs[1].needs_declared = true;
    jobs[1].needs = needs;
    jobs[1].nneeds = 1;
    jobs[1].allow_failure = true;
    jobs[1].allow_exit_codes = codes;
    jobs[1].nallow_exit_codes = 1;
    s = make(jobs, 2, 1);
    free(needs);
    free(codes);
    free(name);
    CHECK(s && sl_sched_start(s, 0, NULL) == 0);
    CHECK_STR_EQ(ST(s, 1), "created");
    CHECK(run(s, 0, SL_SCHED_FAILURE_NONE, 0, 1));
    CHECK(run(s, 1, SL_SCHED_FAILURE_SCRIPT, 5, 2));
    CHECK(sl_sched_job_failure_allowed(s, 1));
    sl_sched_free(s);
}

TEST(restore_rebuilds_and_catches_up)
{
    struct sl_sched_job jobs[] = {job("a", 0), job("b", 0), job("c", 1)};
    struct sl_sched_saved saved[] = {
        {SL_SCHED_SUCCESS, 1, 0, SL_SCHED_FAILURE_NONE, 0},
        {SL_SCHED_SUCCESS, 2, 0, SL_SCHED_FAILURE_NONE, 0},
        {SL_SCHED_CREATED, 1, SL_SCHED_NO_EXIT_CODE, SL_SCHED_FAILURE_NONE, 0},
    };
    struct sl_sched *s = NULL;

    CHECK(sl_sched_restore(&s, jobs, 3, 2, saved, 10, NULL) == 0);
    CHECK(changed(s, 2, SL_SCHED_CREATED, SL_SCHED_PENDING));
    CHECK_INT_EQ(sl_sched_job_attempt(s, 1), 2);
    CHECK(sl_sched_start(s, 11, NULL) == SL_EINVAL); /* already started */
    sl_sched_free(s);
    s = NULL;
    saved[2].status = SL_SCHED_STATUS_COUNT;
    CHECK(sl_sched_restore(&s, jobs, 3, 2, saved, 10, NULL) == SL_EINVAL);
    CHECK(s == NULL);
}

TEST(composite_status_follows_gitlab)
{
    /* the pipeline status of {X} alone and of {X, success}, X restored in each status but
     * created (which restore would decide at once) */
    static const struct {
        enum sl_sched_status st;
        bool allow;
        enum sl_sched_status alone, with_success;
    } rows[] = {
        {SL_SCHED_PENDING, false, SL_SCHED_PENDING, SL_SCHED_RUNNING},
        {SL_SCHED_RUNNING, false, SL_SCHED_RUNNING, SL_SCHED_RUNNING},
        {SL_SCHED_SUCCESS, false, SL_SCHED_SUCCESS, SL_SCHED_SUCCESS},
        {SL_SCHED_FAILED, false, SL_SCHED_FAILED, SL_SCHED_FAILED},
        {SL_SCHED_FAILED, true, SL_SCHED_SUCCESS, SL_SCHED_SUCCESS},
        {SL_SCHED_CANCELED, false, SL_SCHED_CANCELED, SL_SCHED_CANCELED},
        {SL_SCHED_CANCELED, true, SL_SCHED_SUCCESS, SL_SCHED_SUCCESS},
        {SL_SCHED_SKIPPED, false, SL_SCHED_SKIPPED, SL_SCHED_SUCCESS},
        {SL_SCHED_MANUAL, false, SL_SCHED_MANUAL, SL_SCHED_MANUAL},
        {SL_SCHED_MANUAL, true, SL_SCHED_SKIPPED, SL_SCHED_SUCCESS},
        {SL_SCHED_SCHEDULED, false, SL_SCHED_SCHEDULED, SL_SCHED_SCHEDULED},
    };
    for (size_t r = 0; r < SL_ARRAY_LEN(rows); r++) {
        for (int pair = 0; pair < 2; pair++) {
            struct sl_sched_job jobs[] = {job("x", 0), job("ok", 0)};
            struct sl_sched_saved saved[] = {
                {rows[r].st, 1, SL_SCHED_NO_EXIT_CODE, SL_SCHED_FAILURE_NONE, 1000},
                {SL_SCHED_SUCCESS, 1, 0, SL_SCHED_FAILURE_NONE, 0},
            };
            struct sl_sched *s = NULL;
            enum sl_sched_status want = pair ? rows[r].with_success : rows[r].alone;
            jobs[0].allow_failure = rows[r].allow;
            jobs[0].when = rows[r].st == SL_SCHED_MANUAL      ? SL_SCHED_WHEN_MANUAL
                           : rows[r].st == SL_SCHED_SCHEDULED ? SL_SCHED_DELAYED
                                                              : SL_SCHED_ON_SUCCESS;
            CHECK(sl_sched_restore(&s, jobs, pair ? 2 : 1, 1, saved, 0, NULL) == 0);
            CHECK(s != NULL);
            if (sl_sched_status(s) != want)
                sl_test_fail(__FILE__, __LINE__, "row %zu (%s%s) pair %d: got %s, want %s", r,
                             sl_sched_status_name(rows[r].st), rows[r].allow ? "+allow" : "", pair,
                             sl_sched_status_name(sl_sched_status(s)), sl_sched_status_name(want));
            CHECK_INT_EQ(sl_sched_has_warnings(s), rows[r].allow && rows[r].st != SL_SCHED_MANUAL);
            sl_sched_free(s);
        }
    }
}

TEST(status_names_that_end)
{
    static const char *const ended[] = {"success", "failed", "canceled", "skipped"};
    static const char *const not_ended[] = {"created",  "pending",   "running",
                                            "manual",   "scheduled", "waiting_for_resource",
                                            "nonsense", ""};
    for (size_t i = 0; i < SL_ARRAY_LEN(ended); i++)
        CHECK(sl_sched_status_name_ended(ended[i]));
    for (size_t i = 0; i < SL_ARRAY_LEN(not_ended); i++)
        CHECK(!sl_sched_status_name_ended(not_ended[i]));
}

TEST(names_round_trip)
{
    for (int st = 0; st < SL_SCHED_STATUS_COUNT; st++) {
        enum sl_sched_status back;
        CHECK(sl_sched_status_parse(sl_sched_status_name(st), &back) == 0);
        CHECK_INT_EQ(back, st);
    }
    for (int f = 1; f < SL_SCHED_FAILURE_COUNT; f++) {
        enum sl_sched_failure back;
        uint32_t mask = 0;
        CHECK(sl_sched_failure_parse(sl_sched_failure_name(f), &back) == 0);
        CHECK_INT_EQ(back, f);
        CHECK(sl_sched_retry_when_parse(sl_sched_failure_name(f), &mask) == 0);
        CHECK_INT_EQ(mask, SL_SCHED_RETRY_BIT(f));
    }
    for (int w = 0; w <= SL_SCHED_DELAYED; w++) {
        enum sl_sched_when back;
        CHECK(sl_sched_when_parse(sl_sched_when_name(w), &back) == 0);
        CHECK_INT_EQ(back, w);
    }
    uint32_t mask = 0;
    CHECK(sl_sched_retry_when_parse("always", &mask) == 0 && mask == SL_SCHED_RETRY_ALWAYS);
    CHECK(sl_sched_retry_when_parse("nope", &mask) == SL_EINVAL);
    CHECK(sl_sched_failure_parse("", &(enum sl_sched_failure){0}) == SL_EINVAL);
    CHECK_STR_EQ(sl_sched_failure_name(SL_SCHED_FAILURE_SCRIPT), "script_failure");
    CHECK_STR_EQ(sl_sched_status_name(SL_SCHED_STATUS_COUNT), "unknown");
}

/* A large pipeline runs to the end; each event settles in linear time, so 5 000 jobs in 5
 * stages with a needs chain on the side finish quickly (no timing asserted). */
TEST(large_pipeline_runs_to_completion)
{
    enum { N = 5000, STAGES = 5 };
    static struct sl_sched_job jobs[N];
    static size_t needs[N];
    static size_t idx[N];
    struct sl_sched *s;
    int64_t t = 0;
    size_t events = 0;

    for (size_t i = 0; i < N; i++) {
        jobs[i] = job("j", (int)(i % STAGES));
        if (i % 10 == 0 && i >= 10) {
            needs[i] = i - 10;
            jobs[i].needs_declared = true;
            jobs[i].needs = &needs[i];
            jobs[i].nneeds = 1;
        }
    }
    s = make(jobs, N, STAGES);
    CHECK(s && sl_sched_start(s, t++, NULL) == 0);
    while (sl_sched_is_active(s)) {
        size_t n = sl_sched_pending(s, idx, N);
        CHECK(n > 0);
        for (size_t k = 0; k < n; k++) {
            CHECK(run(s, idx[k], SL_SCHED_FAILURE_NONE, 0, t++));
            events += 2;
        }
    }
    CHECK_INT_EQ(sl_sched_status(s), SL_SCHED_SUCCESS);
    CHECK_INT_EQ(events, 2 * N);
    sl_sched_free(s);
}

TEST(delay_past_the_end_of_time_saturates)
{
    struct sl_sched_job jobs[] = {job("d", 0)};
    struct sl_sched *s;
    int64_t at = 0;

    jobs[0].when = SL_SCHED_DELAYED;
    jobs[0].start_in_ms = INT64_MAX;
    s = make(jobs, 1, 1);
    CHECK(s && sl_sched_start(s, 10, NULL) == 0);
    CHECK(sl_sched_next_due(s, &at));
    CHECK(at == INT64_MAX);
    CHECK(sl_sched_tick(s, INT64_MAX - 1, NULL) == 0);
    CHECK_STR_EQ(ST(s, 0), "scheduled");
    sl_sched_free(s);
}
