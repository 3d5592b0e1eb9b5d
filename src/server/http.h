/* http.h: starting and stopping the HTTP daemon (http.c). */
#ifndef SL_SERVER_HTTP_H
#define SL_SERVER_HTTP_H

#include "base/compat.h"
#include "base/error.h"

struct sl_server;

/* Binds LISTEN ("ADDR:PORT", IPv4) with a pool of THREADS and fills S->address. */
int srv_http_start(struct sl_server *s, const char *listen, int threads, struct sl_error *err);
/* Stops accepting and closes every connection (waits for handlers in flight). */
void srv_http_stop(struct sl_server *s);

#endif
