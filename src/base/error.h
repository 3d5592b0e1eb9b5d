/* error.h: error codes and the error detail that fallible functions fill.
 *
 * Convention (DESIGN.md §4): a fallible function returns 0 or a negative SL_E* code, and
 * takes an optional `struct sl_error *err` as its last argument. When err is not NULL the
 * callee fills it with a message (and file:line:col when the error is about an input
 * file). The caller owns err and releases it with sl_error_release. */
#ifndef SL_ERROR_H
#define SL_ERROR_H

#include "base/compat.h"

enum sl_errcode {
    SL_OK = 0,
    SL_EINVAL = -1,       /* invalid input: configuration, argument, request */
    SL_ENOENT = -2,       /* a file or object does not exist */
    SL_EIO = -3,          /* an operating-system call failed */
    SL_ELIMIT = -4,       /* a configured limit (size, count, depth) was hit */
    SL_ECYCLE = -5,       /* a cycle (include, extends, variables, needs) */
    SL_EUNSUPPORTED = -6, /* recognised but not supported by sluice */
    SL_ESTORE = -7,       /* the database failed */
    SL_ETIMEOUT = -8,
    SL_ECANCELED = -9,
    SL_EEXISTS = -10,
    SL_EPERM = -11,
    SL_EBUSY = -12,
    SL_EPROTO = -13, /* a peer (HTTP, git, Docker) answered something unexpected */
};

struct sl_error {
    int code;
    char *message; /* owned; NULL when no error was recorded */
    char *file;    /* owned; NULL when the error is not about a file */
    int line;      /* 1-based; 0 when unknown */
    int column;    /* 1-based; 0 when unknown */
};

#define SL_ERROR_INIT                                                                              \
    {                                                                                              \
        0, NULL, NULL, 0, 0                                                                        \
    }

/* Records CODE and a formatted message in ERR (if not NULL), replacing what was there.
 * Returns CODE so callers can write `return sl_error_set(err, SL_EINVAL, "...")`. */
int sl_error_set(struct sl_error *err, int code, const char *fmt, ...) SL_PRINTF(3, 4);
/* As sl_error_set, with the position in an input file. FILE may be NULL. */
int sl_error_set_at(struct sl_error *err, int code, const char *file, int line, int column,
                    const char *fmt, ...) SL_PRINTF(6, 7);
/* Like sl_error_set with strerror(errno) appended: "MESSAGE: No such file or directory". */
int sl_error_set_errno(struct sl_error *err, int code, const char *fmt, ...) SL_PRINTF(3, 4);
void sl_error_release(struct sl_error *err);
/* "FILE:LINE:COL: MESSAGE" (or less when parts are unknown); borrowed from a static
 * thread-local buffer that the next call overwrites. */
const char *sl_error_format(const struct sl_error *err);
/* A short name for CODE ("invalid input", ...). Static string. */
const char *sl_strerror(int code);

#endif
