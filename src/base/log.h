/* log.h: structured logs as JSON lines on stderr (the server, the agent).
 *
 *   sl_log(SL_LOG_INFO, "request", "route", "/api/v1/projects", "status", "200", NULL);
 *
 * Fields after the message are key/value string pairs ending with NULL; values are JSON
 * escaped. `sl_log_set_level` filters; `sl_log_set_fd` redirects (tests). Thread-safe: one
 * write(2) per line. */
#ifndef SL_LOG_H
#define SL_LOG_H

#include "base/compat.h"

enum sl_log_level { SL_LOG_DEBUG, SL_LOG_INFO, SL_LOG_WARN, SL_LOG_ERROR };

void sl_log_set_level(enum sl_log_level level);
void sl_log_set_fd(int fd);
/* Logs MSG with key/value string pairs (NULL-terminated list). */
void sl_log(enum sl_log_level level, const char *msg, ...);
/* Logs a formatted message without extra fields. */
void sl_logf(enum sl_log_level level, const char *fmt, ...) SL_PRINTF(2, 3);

#endif
