/* exec.c: sl_exec_run picks the executor of the spec; what every executor decides alike
 * about a job's outcome (executors.h). */
#include "base/compat.h"
#include "exec/cancel.h"
#include "exec/executors.h"

int sl_exec_run(const struct sl_exec_spec *spec, struct sl_exec_result *result,
                struct sl_error *err)
{
    if (spec && spec->executor == SL_EXEC_DOCKER)
        return sl_exec_docker_run(spec, result, err);
    return sl_exec_shell_run(spec, result, err);
}

void sl_exec_result_settle(struct sl_exec_result *r, bool timed_out, bool canceled, int exit_code)
{
    if (timed_out) {
        r->status = SL_EXEC_TIMEOUT;
        r->failure = SL_EXEC_JOB_EXECUTION_TIMEOUT;
    } else if (canceled) {
        r->status = SL_EXEC_CANCELED;
    } else if (exit_code != 0) {
        r->status = SL_EXEC_FAILED;
        r->failure = SL_EXEC_SCRIPT_FAILURE;
    } else {
        r->status = SL_EXEC_SUCCESS;
    }
}

bool sl_exec_after_script_due(const struct sl_exec_spec *spec, const struct sl_exec_result *r)
{
    return spec->after_script && spec->after_script[0] && r->status != SL_EXEC_TIMEOUT &&
           !(spec->cancel && sl_exec_cancel_forced(spec->cancel));
}

int64_t sl_exec_after_script_timeout_ms(const struct sl_exec_spec *spec)
{
    return spec->after_script_timeout_ms ? spec->after_script_timeout_ms
                                         : SL_EXEC_AFTER_SCRIPT_TIMEOUT_MS;
}

void sl_exec_after_script_ended(struct sl_exec_output *out, struct sl_exec_result *r,
                                const char *why_not_started, const struct sl_exec_phase_end *e,
                                int64_t timeout_ms)
{
    static const char failed[] = "WARNING: after_script failed, but job will continue unaffected";
    if (why_not_started) {
        sl_exec_output_system(out, "%s: %s", failed, why_not_started);
        return;
    }
    r->after_script_ran = true;
    if (e->timed_out) {
        r->after_script_timed_out = true;
        sl_exec_output_system(out, "%s: execution took longer than %lld.%03lld seconds", failed,
                              (long long)(timeout_ms / 1000), (long long)(timeout_ms % 1000));
    } else if (e->canceled) {
        sl_exec_output_system(out, "WARNING: after_script was canceled");
    } else {
        r->after_script_exit_code = e->exit_code;
        if (e->exit_code != 0)
            sl_exec_output_system(out, "%s: %s %d", failed,
                                  e->signal ? "killed by signal" : "exit code",
                                  e->signal ? e->signal : e->exit_code);
    }
}
