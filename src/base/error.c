#include "base/compat.h"
#include "base/error.h"
#include "base/alloc.h"
#include "base/str.h"

static void set(struct sl_error *err, int code, const char *file, int line, int column, char *msg)
{
    sl_error_release(err);
    err->code = code;
    err->message = msg;
    err->file = file ? sl_xstrdup(file) : NULL;
    err->line = line;
    err->column = column;
}

int sl_error_set(struct sl_error *err, int code, const char *fmt, ...)
{
    if (!err)
        return code;
    va_list ap;
    va_start(ap, fmt);
    set(err, code, NULL, 0, 0, sl_xvasprintf(fmt, ap));
    va_end(ap);
    return code;
}

int sl_error_set_at(struct sl_error *err, int code, const char *file, int line, int column,
                    const char *fmt, ...)
{
    if (!err)
        return code;
    va_list ap;
    va_start(ap, fmt);
    set(err, code, file, line, column, sl_xvasprintf(fmt, ap));
    va_end(ap);
    return code;
}

int sl_error_set_errno(struct sl_error *err, int code, const char *fmt, ...)
{
    int saved = errno;
    if (!err)
        return code;
    va_list ap;
    va_start(ap, fmt);
    char *m = sl_xvasprintf(fmt, ap);
    va_end(ap);
    char *full = sl_xasprintf("%s: %s", m, strerror(saved));
    free(m);
    set(err, code, NULL, 0, 0, full);
    return code;
}

void sl_error_release(struct sl_error *err)
{
    if (!err)
        return;
    free(err->message);
    free(err->file);
    err->message = err->file = NULL;
    err->code = 0;
    err->line = err->column = 0;
}

const char *sl_error_format(const struct sl_error *err)
{
    static __thread char buf[4096];
    const char *msg = err->message ? err->message : sl_strerror(err->code);
    if (err->file && err->line)
        snprintf(buf, sizeof(buf), "%s:%d:%d: %s", err->file, err->line, err->column, msg);
    else if (err->file)
        snprintf(buf, sizeof(buf), "%s: %s", err->file, msg);
    else
        snprintf(buf, sizeof(buf), "%s", msg);
    return buf;
}

const char *sl_strerror(int code)
{
    switch (code) {
    case SL_OK:
        return "success";
    case SL_EINVAL:
        return "invalid input";
    case SL_ENOENT:
        return "not found";
    case SL_EIO:
        return "input/output error";
    case SL_ELIMIT:
        return "limit exceeded";
    case SL_ECYCLE:
        return "cycle detected";
    case SL_EUNSUPPORTED:
        return "not supported";
    case SL_ESTORE:
        return "database error";
    case SL_ETIMEOUT:
        return "timed out";
    case SL_ECANCELED:
        return "canceled";
    case SL_EEXISTS:
        return "already exists";
    case SL_EPERM:
        return "permission denied";
    case SL_EBUSY:
        return "busy";
    case SL_EPROTO:
        return "protocol error";
    default:
        return "unknown error";
    }
}
