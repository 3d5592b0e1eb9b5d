#include "base/compat.h"
#include "base/include_http.h"
#include "base/alloc.h"
#include "base/str.h"

#include <curl/curl.h>
#include <strings.h>

static bool host_matches(const char *host, const char *entry)
{
    if (!strncmp(entry, "*.", 2)) {
        size_t h = strlen(host), e = strlen(entry + 1); /* ".example.com" */
        return h > e && !strcasecmp(host + h - e, entry + 1);
    }
    return !strcasecmp(host, entry);
}

bool sl_include_http_host_allowed(const char *url, const char *const *hosts)
{
    CURLU *u = curl_url();
    char *host = NULL;
    bool ok = false;
    if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK && host && *host) {
        /* an IPv6 literal comes back in brackets; the list names it without */
        size_t n = strlen(host);
        if (host[0] == '[' && host[n - 1] == ']') {
            memmove(host, host + 1, n - 2);
            host[n - 2] = '\0';
        }
        for (const char *const *h = hosts; h && *h && !ok; h++)
            ok = host_matches(host, *h);
    }
    curl_free(host);
    curl_url_cleanup(u);
    return ok;
}

struct body {
    struct sl_str s;
    bool too_big;
};

static size_t collect(char *p, size_t size, size_t n, void *ctx)
{
    struct body *b = ctx;
    if (b->s.len + size * n > SL_INCLUDE_HTTP_MAX_BYTES) {
        b->too_big = true;
        return 0;
    }
    sl_str_add(&b->s, p, size * n);
    return size * n;
}

static bool is_http(const char *url)
{
    return !strncasecmp(url, "http://", 7) || !strncasecmp(url, "https://", 8);
}

int sl_include_http_get(const char *url, const char *what, const char *const *hosts, char **text,
                        size_t *len, struct sl_error *err)
{
    struct body b = {SL_STR_INIT, false};
    CURL *h = curl_easy_init();
    char *next = NULL; /* the redirect being followed, when HOSTS is given */
    long code = 0;
    int rc = 0;

    if (!h)
        return sl_error_set(err, SL_EIO, "Remote file `%s` could not be fetched: libcurl failed",
                            what);
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, hosts ? 0L : 1L);
    curl_easy_setopt(h, CURLOPT_MAXREDIRS, (long)SL_INCLUDE_HTTP_MAX_REDIRECTS);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#endif
    curl_easy_setopt(h, CURLOPT_TIMEOUT, SL_INCLUDE_HTTP_TIMEOUT_S);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "sluice/" SL_VERSION);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
    for (int hop = 0;; hop++) {
        const char *at = next ? next : url;
        if (!is_http(at)) {
            rc = sl_error_set(err, SL_EINVAL, "Remote file `%s` does not have a valid address!",
                              what);
            goto out;
        }
        if (hosts && !sl_include_http_host_allowed(at, hosts)) {
            if (next)
                rc = sl_error_set(err, SL_EPERM,
                                  "Remote file `%s` could not be fetched: it redirects to `%s`, "
                                  "whose host is not on this server's --allow-remote-includes "
                                  "list",
                                  what, next);
            else
                rc = sl_error_set(err, SL_EPERM,
                                  "Remote file `%s` could not be fetched: its host is not on "
                                  "this server's --allow-remote-includes list",
                                  what);
            goto out;
        }
        sl_str_reset(&b.s);
        curl_easy_setopt(h, CURLOPT_URL, at);
        CURLcode cc = curl_easy_perform(h);
        code = 0;
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
        if (b.too_big)
            rc = sl_error_set(err, SL_ELIMIT,
                              "Remote file `%s` could not be fetched: it is larger than %u bytes",
                              what, SL_INCLUDE_HTTP_MAX_BYTES);
        else if (cc == CURLE_OPERATION_TIMEDOUT)
            rc = sl_error_set(err, SL_ETIMEOUT,
                              "Remote file `%s` could not be fetched because of a timeout error!",
                              what);
        else if (cc == CURLE_COULDNT_RESOLVE_HOST || cc == CURLE_COULDNT_CONNECT ||
                 cc == CURLE_COULDNT_RESOLVE_PROXY)
            rc = sl_error_set(err, SL_EIO,
                              "Remote file `%s` could not be fetched because of a socket error!",
                              what);
        else if (cc != CURLE_OK)
            rc = sl_error_set(err, SL_EIO,
                              "Remote file `%s` could not be fetched because of HTTP error! (%s)",
                              what, curl_easy_strerror(cc));
        if (rc < 0)
            goto out;
        char *loc = NULL;
        if (hosts && code >= 300 && code < 400 &&
            curl_easy_getinfo(h, CURLINFO_REDIRECT_URL, &loc) == CURLE_OK && loc) {
            if (hop >= SL_INCLUDE_HTTP_MAX_REDIRECTS) {
                rc = sl_error_set(err, SL_EIO,
                                  "Remote file `%s` could not be fetched because of HTTP error! "
                                  "(more than %d redirects)",
                                  what, SL_INCLUDE_HTTP_MAX_REDIRECTS);
                goto out;
            }
            char *copy = sl_xstrdup(loc); /* LOC belongs to the handle's next request */
            free(next);
            next = copy;
            continue;
        }
        break;
    }
    if (code >= 400)
        rc = sl_error_set(err, code == 404 ? SL_ENOENT : SL_EIO,
                          "Remote file `%s` could not be fetched because of HTTP code `%ld` "
                          "error!",
                          what, code);
out:
    curl_easy_cleanup(h);
    free(next);
    if (rc == 0) {
        *len = b.s.len;
        *text = sl_str_detach(&b.s);
    }
    sl_str_release(&b.s);
    return rc;
}
