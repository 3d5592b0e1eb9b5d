/* fuzz_jobjson.c: libFuzzer target for the runnable job's JSON codec (what the server
 * stores and a newer or older peer may send). Properties: decoding never crashes; what
 * decodes encodes, and the encoding decodes again to the same encoding (a round trip
 * loses nothing it kept). */
#include "base/compat.h"
#include "base/error.h"
#include "exec/jobjson.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sl_job_decoded d, d2;
    struct sl_error err = SL_ERROR_INIT;
    char *once = NULL, *twice = NULL;
    memset(&d2, 0, sizeof(d2));
    if (sl_job_json_decode(&d, (const char *)data, size, &err) == 0) {
        if (sl_job_json_encode(&once, &d.spec, &err) < 0)
            abort(); /* a decoded job must encode */
        if (sl_job_json_decode(&d2, once, strlen(once), &err) < 0)
            abort(); /* ... and its encoding decode */
        if (sl_job_json_encode(&twice, &d2.spec, &err) < 0 || strcmp(once, twice))
            abort(); /* ... to the same job */
        sl_job_decoded_release(&d2);
    }
    sl_job_decoded_release(&d);
    free(once);
    free(twice);
    sl_error_release(&err);
    return 0;
}
