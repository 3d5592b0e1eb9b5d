/* exec.c: sl_exec_run picks the executor of the spec (executors.h). */
#include "base/compat.h"
#include "exec/executors.h"

int sl_exec_run(const struct sl_exec_spec *spec, struct sl_exec_result *result,
                struct sl_error *err)
{
    if (spec && spec->executor == SL_EXEC_DOCKER)
        return sl_exec_docker_run(spec, result, err);
    return sl_exec_shell_run(spec, result, err);
}
