/* http.h: starting and stopping the HTTP daemon (http.c). */
#ifndef SL_SERVER_HTTP_H
#define SL_SERVER_HTTP_H

#include "base/compat.h"
#include "base/error.h"

struct sl_server;

/* Binds LISTEN ("ADDR:PORT", IPv4) with a pool of THREADS and fills S->address. */
/* Binds and listens on LISTEN ("ADDR:PORT") into s->listen_fd, before anything else of the
 * server is made, so that a port in use fails the start at once with the system's reason
 * and leaves nothing behind. */
int sl_srv_http_bind(struct sl_server *s, const char *listen, struct sl_error *err);
/* Serves on the socket sl_srv_http_bind bound (the daemon then owns it). */
int sl_srv_http_start(struct sl_server *s, int threads, struct sl_error *err);
/* Stops accepting and closes every connection (waits for handlers in flight). */
void sl_srv_http_stop(struct sl_server *s);

#endif
