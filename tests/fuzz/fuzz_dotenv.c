/* fuzz_dotenv.c: libFuzzer target for reports:dotenv (a job's file, so outside input).
 * Properties: parsing never crashes; what parses stays within GitLab's limits and has
 * only keys GitLab accepts; a failure says why. */
#include "base/compat.h"
#include "base/error.h"
#include "exec/reports.h"
#include "expr/vars.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sl_dotenv env;
    struct sl_error err = SL_ERROR_INIT;
    int rc = sl_reports_dotenv_parse(&env, (const char *)data, size, &err);
    if (rc == 0) {
        for (size_t i = 0; i < env.n; i++) {
            if (!sl_vars_name_ok(env.vars[i].key) || !env.vars[i].value)
                abort(); /* a key GitLab refuses got through */
            if (sl_dotenv_get(&env, env.vars[i].key) == NULL)
                abort();
        }
        sl_dotenv_release(&env);
    } else if (!err.message) {
        abort(); /* every refusal says why */
    }
    sl_error_release(&err);
    return 0;
}
