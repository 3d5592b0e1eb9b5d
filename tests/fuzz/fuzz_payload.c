/* fuzz_payload.c: libFuzzer target for the runner protocol's job payload as `sluice agent`
 * reads it from a server (GitLab's /api/v4/jobs/request answer). Properties: parsing never
 * crashes; every refusal says why. */
#include "base/compat.h"
#include "base/error.h"
#include "agent/payload.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sl_agent_job job;
    struct sl_error err = SL_ERROR_INIT;
    memset(&job, 0, sizeof(job));
    if (sl_agent_payload_parse(&job, (const char *)data, size, &err) < 0 && !err.message)
        abort();
    sl_agent_job_release(&job);
    sl_error_release(&err);
    return 0;
}
