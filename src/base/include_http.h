/* include_http.h: include:remote and include:template files over HTTP(S) (libcurl), shared
 * by the CLI's include resolver (src/cli/includes.c) and the server's
 * (src/server/pipelines.c). Messages are GitLab's (lib/gitlab/ci/config/external/file/
 * remote.rb), with what sluice adds after them.
 *
 * The server passes a host allow-list (`sluice serve --allow-remote-includes`): then a URL
 * whose host is not on it is refused before any connection, and redirects are followed
 * one by one, each target's host checked the same way (libcurl's own following would
 * connect first and look after). The CLI passes none: a user's laptop reaches what its
 * user can. */
#ifndef SL_BASE_INCLUDE_HTTP_H
#define SL_BASE_INCLUDE_HTTP_H

#include "base/compat.h"
#include "base/error.h"

#define SL_INCLUDE_HTTP_MAX_BYTES (4u << 20) /* one fetched file */
#define SL_INCLUDE_HTTP_TIMEOUT_S 30L        /* one request, connection included */
#define SL_INCLUDE_HTTP_MAX_REDIRECTS 10
#define SL_INCLUDE_TEMPLATES_URL                                                                   \
    "https://gitlab.com/gitlab-org/gitlab/-/raw/master/lib/gitlab/ci/templates"

/* Whether URL's host is on HOSTS (NULL-ended; an entry "example.com" names that host, an
 * entry "*.example.com" its subdomains; compared without case). False for a URL without a
 * host. */
bool sl_include_http_host_allowed(const char *url, const char *const *hosts);

/* GETs URL (http or https only); WHAT is the URL as the pipeline wrote it, for messages.
 * HOSTS: the allow-list, or NULL for any host. On success *text (caller frees,
 * NUL-terminated) and *len. Errors: SL_ENOENT for HTTP 404, SL_EPERM for a host not
 * allowed, SL_ELIMIT, SL_ETIMEOUT, SL_EIO. */
int sl_include_http_get(const char *url, const char *what, const char *const *hosts, char **text,
                        size_t *len, struct sl_error *err);

#endif
