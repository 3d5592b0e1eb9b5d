/* fuzz_junit.c: libFuzzer target for reports:junit (XML a job writes). Properties: parsing
 * never crashes, never reaches outside the document (no entities, no DTD loading); the
 * counts it adds are consistent (every test is exactly one of success, failed, errored,
 * skipped) and a refused document leaves the counts untouched. */
#include "base/compat.h"
#include "base/error.h"
#include "exec/reports.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sl_junit_counts c;
    memset(&c, 0, sizeof(c));
    c.tests = c.success = 1; /* an earlier file's counts */
    struct sl_error err = SL_ERROR_INIT;
    int rc = sl_reports_junit_parse(&c, (const char *)data, size, "fuzz.xml", &err);
    if (c.success + c.failed + c.errored + c.skipped != c.tests)
        abort();
    if (rc < 0 && (c.tests != 1 || c.files != 0))
        abort(); /* a refused document changed the counts */
    sl_error_release(&err);
    return 0;
}
