/* names.c: GitLab's names for statuses, `when` values and failure reasons. */
#include "base/compat.h"
#include "sched/pipeline.h"

static const char *const status_names[SL_SCHED_STATUS_COUNT] = {
    [SL_SCHED_CREATED] = "created",     [SL_SCHED_PENDING] = "pending",
    [SL_SCHED_RUNNING] = "running",     [SL_SCHED_SUCCESS] = "success",
    [SL_SCHED_FAILED] = "failed",       [SL_SCHED_CANCELED] = "canceled",
    [SL_SCHED_SKIPPED] = "skipped",     [SL_SCHED_MANUAL] = "manual",
    [SL_SCHED_SCHEDULED] = "scheduled",
};

static const char *const when_names[] = {
    [SL_SCHED_ON_SUCCESS] = "on_success", [SL_SCHED_ON_FAILURE] = "on_failure",
    [SL_SCHED_ALWAYS] = "always",         [SL_SCHED_WHEN_MANUAL] = "manual",
    [SL_SCHED_DELAYED] = "delayed",
};

static const char *const failure_names[SL_SCHED_FAILURE_COUNT] = {
    [SL_SCHED_FAILURE_NONE] = "",
    [SL_SCHED_FAILURE_UNKNOWN] = "unknown_failure",
    [SL_SCHED_FAILURE_SCRIPT] = "script_failure",
    [SL_SCHED_FAILURE_API] = "api_failure",
    [SL_SCHED_FAILURE_STUCK_OR_TIMEOUT] = "stuck_or_timeout_failure",
    [SL_SCHED_FAILURE_RUNNER_SYSTEM] = "runner_system_failure",
    [SL_SCHED_FAILURE_RUNNER_UNSUPPORTED] = "runner_unsupported",
    [SL_SCHED_FAILURE_STALE_SCHEDULE] = "stale_schedule",
    [SL_SCHED_FAILURE_JOB_EXECUTION_TIMEOUT] = "job_execution_timeout",
    [SL_SCHED_FAILURE_ARCHIVED] = "archived_failure",
    [SL_SCHED_FAILURE_UNMET_PREREQUISITES] = "unmet_prerequisites",
    [SL_SCHED_FAILURE_SCHEDULER] = "scheduler_failure",
    [SL_SCHED_FAILURE_DATA_INTEGRITY] = "data_integrity_failure",
    [SL_SCHED_FAILURE_STUCK_PENDING_WITH_MATCHING_RUNNERS] = "stuck_pending_with_matching_runners",
    [SL_SCHED_FAILURE_STUCK_PENDING_NO_MATCHING_RUNNERS] = "stuck_pending_no_matching_runners",
    [SL_SCHED_FAILURE_NO_UPDATES_RUNNING] = "no_updates_running",
    [SL_SCHED_FAILURE_NO_UPDATES_CANCELING] = "no_updates_canceling",
    [SL_SCHED_FAILURE_RUNNER_CONFIGURATION_ERROR] = "runner_configuration_error",
    [SL_SCHED_FAILURE_RUNNER_EXTERNAL_DEPENDENCY] = "runner_external_dependency_failure",
    [SL_SCHED_FAILURE_RUNNER_INTERRUPTED] = "runner_interrupted",
    [SL_SCHED_FAILURE_SERVER_TIMEOUT_RUNNING] = "server_timeout_running",
    [SL_SCHED_FAILURE_SERVER_TIMEOUT_CANCELING] = "server_timeout_canceling",
    [SL_SCHED_FAILURE_FORWARD_DEPLOYMENT] = "forward_deployment_failure",
    [SL_SCHED_FAILURE_DEPLOYMENT_REJECTED] = "deployment_rejected",
    [SL_SCHED_FAILURE_DOWNSTREAM_CREATION] = "downstream_pipeline_creation_failed",
    [SL_SCHED_FAILURE_DOWNSTREAM_BRIDGE_PROJECT_NOT_FOUND] = "downstream_bridge_project_not_found",
    [SL_SCHED_FAILURE_INSUFFICIENT_BRIDGE_PERMISSIONS] = "insufficient_bridge_permissions",
    [SL_SCHED_FAILURE_PROTECTED_ENVIRONMENT] = "protected_environment_failure",
    [SL_SCHED_FAILURE_SECRET_DETECTED] = "secret_detected",
};

/* The reasons must fit the uint32_t retry_when mask. */
_Static_assert(SL_SCHED_FAILURE_COUNT <= 32, "failure reasons exceed the retry mask");

const char *sl_sched_status_name(enum sl_sched_status st)
{
    return (unsigned)st < SL_SCHED_STATUS_COUNT ? status_names[st] : "unknown";
}

const char *sl_sched_when_name(enum sl_sched_when w)
{
    return (unsigned)w < SL_ARRAY_LEN(when_names) ? when_names[w] : "unknown";
}

const char *sl_sched_failure_name(enum sl_sched_failure f)
{
    return (unsigned)f < SL_SCHED_FAILURE_COUNT ? failure_names[f] : "unknown";
}

static int lookup(const char *const *names, size_t n, const char *name)
{
    if (!name || !*name)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (names[i] && sl_streq(names[i], name))
            return (int)i;
    return -1;
}

int sl_sched_status_parse(const char *name, enum sl_sched_status *out)
{
    int i = lookup(status_names, SL_ARRAY_LEN(status_names), name);
    if (i < 0)
        return SL_EINVAL;
    *out = (enum sl_sched_status)i;
    return 0;
}

int sl_sched_when_parse(const char *name, enum sl_sched_when *out)
{
    int i = lookup(when_names, SL_ARRAY_LEN(when_names), name);
    if (i < 0)
        return SL_EINVAL;
    *out = (enum sl_sched_when)i;
    return 0;
}

int sl_sched_failure_parse(const char *name, enum sl_sched_failure *out)
{
    int i = lookup(failure_names, SL_ARRAY_LEN(failure_names), name);
    if (i < 0)
        return SL_EINVAL;
    *out = (enum sl_sched_failure)i;
    return 0;
}

int sl_sched_retry_when_parse(const char *name, uint32_t *mask)
{
    enum sl_sched_failure f;

    if (name && sl_streq(name, "always")) {
        *mask = SL_SCHED_RETRY_ALWAYS;
        return 0;
    }
    if (sl_sched_failure_parse(name, &f) < 0)
        return SL_EINVAL;
    *mask |= SL_SCHED_RETRY_BIT(f);
    return 0;
}
