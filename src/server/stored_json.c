/* stored_json.c: JSON the server wrote into a row, read back.
 *
 * A row the server did not write that way (an edited database, a restored backup of
 * another version, a disk fault) must not pass for an absent value: json_loads answers
 * NULL for both, and jansson's NULL-safe getters then carry on as if the row held nothing
 * (a notification rule's events read as none, a dotenv report as empty). Here the
 * unreadable row is logged with what it is, its id and jansson's reason, and the caller
 * gets NULL to turn into its own error (a 500 with a message, the row skipped, the job
 * failed), as the code around it does. */
#include "base/log.h"
#include "server/internal.h"

#include <inttypes.h>
#include <stdio.h>

static const char *type_name(int t)
{
    switch (t) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    default:
        return "a scalar";
    }
}

json_t *sl_srv_stored_json(const char *text, int want, const char *what, int64_t id)
{
    if (!text)
        return NULL;
    json_error_t je;
    json_t *v = json_loads(text, JSON_DECODE_ANY, &je);
    char why[200], idtext[24];
    if (!v)
        snprintf(why, sizeof(why), "not JSON: %s", je.text);
    else if (want >= 0 && (int)json_typeof(v) != want)
        snprintf(why, sizeof(why), "%s where %s was written", type_name(json_typeof(v)),
                 type_name(want));
    else
        return v;
    json_decref(v);
    snprintf(idtext, sizeof(idtext), "%" PRId64, id);
    sl_log(SL_LOG_ERROR, "a stored row cannot be read", "row", what, "id", idtext, "error", why,
           NULL);
    return NULL;
}
