#include "base/compat.h"
#include "base/log.h"
#include "base/str.h"
#include "base/time.h"

#include <unistd.h>

static enum sl_log_level min_level = SL_LOG_INFO;
static int log_fd = 2;

static const char *level_name(enum sl_log_level l)
{
    switch (l) {
    case SL_LOG_DEBUG:
        return "debug";
    case SL_LOG_INFO:
        return "info";
    case SL_LOG_WARN:
        return "warn";
    default:
        return "error";
    }
}

void sl_log_set_level(enum sl_log_level level)
{
    min_level = level;
}

void sl_log_set_fd(int fd)
{
    log_fd = fd;
}

static void emit(enum sl_log_level level, const char *msg, va_list *ap)
{
    struct sl_str s = SL_STR_INIT;
    char ts[40];
    int64_t now = sl_time_now_ms();
    sl_time_iso8601(now, ts, sizeof(ts));
    ts[strlen(ts) - 1] = '\0'; /* drop Z to add milliseconds */
    sl_str_addf(&s, "{\"time\":\"%s.%03dZ\",\"level\":\"%s\",\"msg\":\"", ts, (int)(now % 1000),
                level_name(level));
    sl_str_add_json_escaped(&s, msg);
    sl_str_addc(&s, '"');
    if (ap) {
        const char *k;
        while ((k = va_arg(*ap, const char *))) {
            const char *v = va_arg(*ap, const char *);
            sl_str_adds(&s, ",\"");
            sl_str_add_json_escaped(&s, k);
            sl_str_adds(&s, "\":\"");
            sl_str_add_json_escaped(&s, v ? v : "");
            sl_str_addc(&s, '"');
        }
    }
    sl_str_adds(&s, "}\n");
    ssize_t SL_UNUSED w = write(log_fd, s.buf, s.len);
    sl_str_release(&s);
}

void sl_log(enum sl_log_level level, const char *msg, ...)
{
    if (level < min_level)
        return;
    va_list ap;
    va_start(ap, msg);
    emit(level, msg, &ap);
    va_end(ap);
}

void sl_logf(enum sl_log_level level, const char *fmt, ...)
{
    if (level < min_level)
        return;
    va_list ap;
    va_start(ap, fmt);
    char *m = NULL;
    if (vasprintf(&m, fmt, ap) < 0)
        m = NULL;
    va_end(ap);
    emit(level, m ? m : fmt, NULL);
    free(m);
}
