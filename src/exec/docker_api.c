/* docker_api.c: the Docker Engine API over a unix socket (docker_api.h). */
#include "base/compat.h"
#include "exec/docker_api.h"
#include "base/alloc.h"
#include "base/str.h"
#include "base/time.h"

#include <curl/curl.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define API_PREFIX "http://d/v1.41"
#define RAW_MAX (1024 * 1024)
/* A frame header of the multiplexed stream: stream type, three zero bytes, size (BE). */
#define FRAME_HEAD 8

struct sl_docker {
    char *socket;
    const atomic_bool *stop; /* sl_docker_open_until's: set, calls under way end */
};

struct sl_docker_stream {
    CURLM *multi;
    CURL *easy;
    struct curl_slist *headers;
    char *body;
    bool demux;
    sl_docker_chunk_fn fn;
    void *ctx;
    bool stop;
    bool done;
    CURLcode result;
    long status;
    /* demultiplexer state: header bytes seen so far, payload bytes left in this frame */
    unsigned char head[FRAME_HEAD];
    size_t nhead;
    size_t left;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init_once(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

const char *sl_docker_socket(const struct sl_docker *d)
{
    return d->socket;
}

char *sl_docker_escape(const char *s)
{
    struct sl_str b = SL_STR_INIT;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            strchr("-._~", *p))
            sl_str_addc(&b, (char)*p);
        else
            sl_str_addf(&b, "%%%02X", *p);
    }
    if (!b.buf)
        return sl_xstrdup("");
    return sl_str_detach(&b);
}

struct buf {
    struct sl_str s;
};

static size_t collect(char *data, size_t size, size_t n, void *ctx)
{
    struct buf *b = ctx;
    size_t len = size * n;
    if (b->s.len + len <= RAW_MAX)
        sl_str_add(&b->s, data, len);
    return len;
}

static int stop_asked(void *ctx, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                      curl_off_t ulnow)
{
    (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
    return atomic_load((const atomic_bool *)ctx) ? 1 : 0;
}

static CURL *new_easy(const struct sl_docker *d, const char *method, const char *path,
                      const char *body, struct curl_slist **headers)
{
    CURL *c = curl_easy_init();
    char *url;

    if (!c)
        return NULL;
    url = sl_xasprintf("%s%s", API_PREFIX, path);
    curl_easy_setopt(c, CURLOPT_URL, url);
    free(url);
    curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, d->socket);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    if (d->stop) { /* called at least once a second, answer or not */
        curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, stop_asked);
        curl_easy_setopt(c, CURLOPT_XFERINFODATA, (void *)d->stop);
        curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    }
    *headers = curl_slist_append(NULL, "Content-Type: application/json");
    /* no "Expect: 100-continue" round trip on POST bodies */
    *headers = curl_slist_append(*headers, "Expect:");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, *headers);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    } else if (!strcmp(method, "POST")) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, 0L);
    }
    return c;
}

int sl_docker_call(struct sl_docker *d, const char *method, const char *path, json_t *body,
                   long *status, json_t **reply, char **raw, struct sl_error *err)
{
    struct curl_slist *headers = NULL;
    struct buf b = {SL_STR_INIT};
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    CURL *c;
    CURLcode cc;
    int rc = 0;

    pthread_once(&curl_once, curl_init_once);
    if (reply)
        *reply = NULL;
    if (raw)
        *raw = NULL;
    *status = 0;
    c = new_easy(d, method, path, text, &headers);
    if (!c) {
        rc = sl_error_set(err, SL_EIO, "cannot make a curl handle");
        goto out;
    }
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    cc = curl_easy_perform(c);
    if (cc != CURLE_OK) {
        rc = sl_error_set(err, SL_EIO, "container engine at %s: %s %s: %s", d->socket, method, path,
                          curl_easy_strerror(cc));
        goto out;
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
    if (reply && b.s.len)
        *reply = json_loadb(b.s.buf, b.s.len, JSON_DECODE_ANY, NULL);
    if (raw)
        *raw = b.s.buf ? sl_str_detach(&b.s) : sl_xstrdup("");
out:
    sl_str_release(&b.s);
    if (c)
        curl_easy_cleanup(c);
    curl_slist_free_all(headers);
    free(text);
    return rc;
}

char *sl_docker_error_text(long status, json_t *reply, const char *raw)
{
    const char *m = json_string_value(json_object_get(reply, "message"));
    size_t n;

    if (m && *m)
        return sl_xstrdup(m);
    if (raw && *raw) {
        n = strlen(raw);
        while (n && (raw[n - 1] == '\n' || raw[n - 1] == '\r'))
            n--;
        return sl_xstrndup(raw, n);
    }
    return sl_xasprintf("HTTP %ld", status);
}

/* --- discovery ------------------------------------------------------------------------ */

static bool ping(struct sl_docker *d, struct sl_error *err)
{
    long status;
    char *raw = NULL;
    bool ok;

    if (sl_docker_call(d, "GET", "/_ping", NULL, &status, NULL, &raw, err) < 0)
        return false;
    ok = status == 200;
    if (!ok)
        sl_error_set(err, SL_EPROTO, "container engine at %s answered /_ping with HTTP %ld",
                     d->socket, status);
    free(raw);
    return ok;
}

static bool is_socket(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISSOCK(st.st_mode);
}

int sl_docker_open(struct sl_docker **out, const char *host, struct sl_error *err)
{
    return sl_docker_open_until(out, host, NULL, err);
}

int sl_docker_open_until(struct sl_docker **out, const char *host, const atomic_bool *stop,
                         struct sl_error *err)
{
    struct sl_docker *d = sl_xcalloc(1, sizeof(*d));
    d->stop = stop;
    struct sl_error e = SL_ERROR_INIT;
    const char *xdg = getenv("XDG_RUNTIME_DIR");
    char *rootless = xdg ? sl_xasprintf("%s/podman/podman.sock", xdg) : NULL;
    const char *candidates[] = {"/var/run/docker.sock", "/run/podman/podman.sock", rootless};
    int rc = 0;

    *out = NULL;
    if (!host)
        host = getenv("DOCKER_HOST");
    if (host && *host) {
        if (!sl_starts_with(host, "unix://")) {
            rc = sl_error_set(err, SL_EUNSUPPORTED,
                              "DOCKER_HOST=%s: only unix:// sockets are supported", host);
            goto out;
        }
        d->socket = sl_xstrdup(host + strlen("unix://"));
        if (!ping(d, &e)) {
            rc = sl_error_set(err, SL_EIO, "DOCKER_HOST=%s does not answer: %s", host,
                              sl_error_format(&e));
            goto out;
        }
        goto found;
    }
    for (size_t i = 0; i < SL_ARRAY_LEN(candidates); i++) {
        if (!candidates[i] || !is_socket(candidates[i]))
            continue;
        free(d->socket);
        d->socket = sl_xstrdup(candidates[i]);
        sl_error_release(&e);
        if (ping(d, &e))
            goto found;
    }
    rc = sl_error_set(err, SL_ENOENT,
                      "no container engine answers (tried /var/run/docker.sock, "
                      "/run/podman/podman.sock%s%s%s%s)",
                      rootless ? ", " : "", rootless ? rootless : "", e.message ? ": " : "",
                      e.message ? e.message : "");
    goto out;
found:
    *out = d;
    d = NULL;
out:
    if (d) {
        free(d->socket);
        free(d);
    }
    free(rootless);
    sl_error_release(&e);
    return rc;
}

void sl_docker_close(struct sl_docker *d)
{
    if (!d)
        return;
    free(d->socket);
    free(d);
}

/* --- streams -------------------------------------------------------------------------- */

static size_t stream_write(char *data, size_t size, size_t n, void *ctx)
{
    struct sl_docker_stream *s = ctx;
    size_t len = size * n, i = 0;

    if (s->stop)
        return 0; /* makes curl end the transfer */
    if (!s->demux) {
        if (!s->fn(s->ctx, data, len))
            s->stop = true;
        return len;
    }
    while (i < len && !s->stop) {
        if (s->left == 0) {
            size_t take = SL_MIN(FRAME_HEAD - s->nhead, len - i);
            memcpy(s->head + s->nhead, data + i, take);
            s->nhead += take;
            i += take;
            if (s->nhead == FRAME_HEAD) {
                s->left = (size_t)s->head[4] << 24 | (size_t)s->head[5] << 16 |
                          (size_t)s->head[6] << 8 | s->head[7];
                s->nhead = 0;
            }
            continue;
        }
        size_t take = SL_MIN(s->left, len - i);
        if (!s->fn(s->ctx, data + i, take))
            s->stop = true;
        s->left -= take;
        i += take;
    }
    return len;
}

int sl_docker_stream_open(struct sl_docker_stream **out, struct sl_docker *d, const char *method,
                          const char *path, json_t *body, bool demux, sl_docker_chunk_fn fn,
                          void *ctx, struct sl_error *err)
{
    struct sl_docker_stream *s = sl_xcalloc(1, sizeof(*s));

    pthread_once(&curl_once, curl_init_once);
    *out = NULL;
    s->demux = demux;
    s->fn = fn;
    s->ctx = ctx;
    s->body = body ? json_dumps(body, JSON_COMPACT) : NULL;
    s->easy = new_easy(d, method, path, s->body, &s->headers);
    s->multi = curl_multi_init();
    if (!s->easy || !s->multi) {
        sl_docker_stream_close(s);
        return sl_error_set(err, SL_EIO, "cannot make a curl handle");
    }
    curl_easy_setopt(s->easy, CURLOPT_WRITEFUNCTION, stream_write);
    curl_easy_setopt(s->easy, CURLOPT_WRITEDATA, s);
    curl_multi_add_handle(s->multi, s->easy);
    *out = s;
    return 0;
}

int sl_docker_stream_wait(struct sl_docker_stream *s, const int *fds, int nfds, int64_t timeout_ms,
                          int *ready, struct sl_error *err)
{
    struct curl_waitfd wfd[8];
    int64_t start = sl_time_mono_ns(), waited = 0;

    *ready = -1;
    if (nfds > (int)SL_ARRAY_LEN(wfd))
        nfds = (int)SL_ARRAY_LEN(wfd);
    while (!s->done) {
        int running = 0, nmsg;
        CURLMsg *m;
        int slice = 200;

        curl_multi_perform(s->multi, &running);
        while ((m = curl_multi_info_read(s->multi, &nmsg))) {
            if (m->msg == CURLMSG_DONE) {
                s->done = true;
                s->result = m->data.result;
                curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &s->status);
            }
        }
        if (s->done)
            break;
        if (timeout_ms >= 0 && waited >= timeout_ms)
            return 0;
        if (timeout_ms >= 0)
            slice = (int)SL_MIN((int64_t)slice, timeout_ms - waited);
        for (int i = 0; i < nfds; i++)
            wfd[i] = (struct curl_waitfd){.fd = fds[i], .events = CURL_WAIT_POLLIN};
        curl_multi_poll(s->multi, wfd, (unsigned)nfds, slice, NULL);
        for (int i = 0; i < nfds; i++) {
            if (wfd[i].revents) {
                *ready = i;
                return 0;
            }
        }
        waited = (sl_time_mono_ns() - start) / 1000000;
    }
    if (s->result != CURLE_OK && !(s->stop && s->result == CURLE_WRITE_ERROR))
        return sl_error_set(err, SL_EIO, "container engine stream: %s",
                            curl_easy_strerror(s->result));
    return 1;
}

long sl_docker_stream_status(const struct sl_docker_stream *s)
{
    return s->status;
}

void sl_docker_stream_close(struct sl_docker_stream *s)
{
    if (!s)
        return;
    if (s->multi && s->easy)
        curl_multi_remove_handle(s->multi, s->easy);
    if (s->easy)
        curl_easy_cleanup(s->easy);
    if (s->multi)
        curl_multi_cleanup(s->multi);
    curl_slist_free_all(s->headers);
    free(s->body);
    free(s);
}
