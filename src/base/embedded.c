#include "base/compat.h"
#include "base/embedded.h"

const struct sl_embedded *sl_embedded_find(const char *path)
{
    for (const struct sl_embedded *e = sl_embedded_files; e->path; e++)
        if (!strcmp(e->path, path))
            return e;
    return NULL;
}
