/* embedded.h: files compiled into the binary (migrations, web UI), generated at build time
 * by cmake/embed.cmake. The table ends with a NULL path. Data is NUL-terminated (the NUL
 * is not counted in size). */
#ifndef SL_EMBEDDED_H
#define SL_EMBEDDED_H

#include <stddef.h>

struct sl_embedded {
    const char *path; /* relative to the source root: "web/index.html" */
    const unsigned char *data;
    size_t size;
};

extern const struct sl_embedded sl_embedded_files[];

/* The embedded file at PATH, or NULL. */
const struct sl_embedded *sl_embedded_find(const char *path);

#endif
