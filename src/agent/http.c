/* http.c: the agent's HTTP client on libcurl (http.h). */
#include "base/compat.h"
#include "agent/http.h"
#include "base/alloc.h"
#include "base/str.h"

#include <curl/curl.h>
#include <pthread.h>
#include <strings.h>

/* One connection cache (and DNS cache) for every request of the process: a job's payload
 * request, its trace patches and its end reuse the connections earlier requests opened
 * instead of a TCP connection each (about a third of a short job's requests, and the
 * server's accept, epoll and shutdown work for each). curl locks it through these. */
static CURLSH *share;
static pthread_mutex_t share_mu[CURL_LOCK_DATA_LAST];

static void share_lock(CURL *c, curl_lock_data data, curl_lock_access access, void *ctx)
{
    (void)c, (void)access, (void)ctx;
    pthread_mutex_lock(&share_mu[data]);
}

static void share_unlock(CURL *c, curl_lock_data data, void *ctx)
{
    (void)c, (void)ctx;
    pthread_mutex_unlock(&share_mu[data]);
}

struct sink {
    struct sl_str body;
    FILE *file;
    int64_t max;
    uint64_t written;
    bool over;
    struct sl_agent_http_resp *resp;
};

static size_t on_body(char *data, size_t size, size_t n, void *ctx)
{
    struct sink *s = ctx;
    size_t len = size * n;
    if (s->max > 0 && s->written + len > (uint64_t)s->max) {
        s->over = true;
        return 0; /* curl ends the transfer with CURLE_WRITE_ERROR */
    }
    s->written += len;
    if (s->file)
        return fwrite(data, 1, len, s->file);
    sl_str_add(&s->body, data, len);
    return len;
}

/* Copies header NAME's value (trimmed) into BUF when LINE is that header. */
static void header_value(const char *line, size_t len, const char *name, char *buf, size_t size)
{
    size_t nl = strlen(name);
    if (len <= nl || strncasecmp(line, name, nl) || line[nl] != ':')
        return;
    const char *v = line + nl + 1, *end = line + len;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
        end--;
    snprintf(buf, size, "%.*s", (int)(end - v), v);
}

static size_t on_header(char *line, size_t size, size_t n, void *ctx)
{
    struct sl_agent_http_resp *r = ((struct sink *)ctx)->resp;
    size_t len = size * n;
    char interval[16] = "";
    header_value(line, len, "Range", r->range, sizeof(r->range));
    header_value(line, len, "Job-Status", r->job_status, sizeof(r->job_status));
    header_value(line, len, "X-GitLab-Trace-Update-Interval", interval, sizeof(interval));
    if (*interval) {
        char *end;
        long v = strtol(interval, &end, 10);
        if (!*end && v >= 0 && v <= 3600)
            r->update_interval = (int)v;
    }
    return len;
}

static int on_progress(void *ctx, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    (void)dt, (void)dn, (void)ut, (void)un;
    atomic_int *abort_flag = ctx;
    return abort_flag && atomic_load(abort_flag);
}

void sl_agent_http_global_init(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    for (size_t i = 0; i < SL_ARRAY_LEN(share_mu); i++)
        pthread_mutex_init(&share_mu[i], NULL);
    CURLSH *sh = curl_share_init();
    if (sh && (curl_share_setopt(sh, CURLSHOPT_LOCKFUNC, share_lock) != CURLSHE_OK ||
               curl_share_setopt(sh, CURLSHOPT_UNLOCKFUNC, share_unlock) != CURLSHE_OK ||
               curl_share_setopt(sh, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT) != CURLSHE_OK ||
               curl_share_setopt(sh, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS) != CURLSHE_OK)) {
        /* an older libcurl without a shared connection cache: a connection per request */
        curl_share_cleanup(sh);
        sh = NULL;
    }
    share = sh;
}

int sl_agent_http(const struct sl_agent_http_req *req, struct sl_agent_http_resp *out,
                  struct sl_error *err)
{
    struct sl_agent_http_resp r = {.update_interval = -1};
    struct sink s = {SL_STR_INIT, NULL, SL_AGENT_HTTP_BODY_MAX, 0, false, &r};
    struct curl_slist *hdrs = NULL;
    curl_mime *mime = NULL;
    char *ctype = NULL;
    CURLcode cc;
    int rc = 0;
    CURL *c = curl_easy_init();

    if (!c)
        return sl_error_set(err, SL_EIO, "cannot start an HTTP request");
    if (req->download_path) {
        if (!(s.file = fopen(req->download_path, "we"))) {
            rc = sl_error_set_errno(err, SL_EIO, "%s", req->download_path);
            goto out;
        }
        s.max = req->download_max;
    }
    for (const char *const *h = req->headers; h && *h; h++)
        hdrs = curl_slist_append(hdrs, *h);
    /* curl would otherwise wait for "100 Continue" on every large PATCH and upload */
    hdrs = curl_slist_append(hdrs, "Expect:");
    curl_easy_setopt(c, CURLOPT_URL, req->url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, req->method);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, req->timeout_s > 0 ? req->timeout_s : 60L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "sluice-agent/" SL_VERSION);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &s);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    if (share)
        curl_easy_setopt(c, CURLOPT_SHARE, share);
    if (req->abort) {
        curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
        curl_easy_setopt(c, CURLOPT_XFERINFODATA, (void *)req->abort);
    }
    if (req->upload_path) {
        mime = curl_mime_init(c);
        curl_mimepart *part = curl_mime_addpart(mime);
        curl_mime_name(part, "file");
        curl_mime_filedata(part, req->upload_path);
        curl_mime_filename(part, req->upload_name ? req->upload_name : "artifacts.zip");
        curl_easy_setopt(c, CURLOPT_MIMEPOST, mime);
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, req->method);
    } else if (req->body) {
        ctype = sl_xasprintf("Content-Type: %s",
                             req->content_type ? req->content_type : "application/json");
        hdrs = curl_slist_append(hdrs, ctype);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, req->body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    cc = curl_easy_perform(c);
    if (s.file) {
        int closed = fclose(s.file);
        s.file = NULL;
        if (closed != 0 && cc == CURLE_OK && !s.over) {
            rc = sl_error_set_errno(err, SL_EIO, "%s", req->download_path);
            goto out;
        }
    }
    if (cc == CURLE_ABORTED_BY_CALLBACK) {
        rc = sl_error_set(err, SL_ECANCELED, "%s %s: stopped", req->method, req->url);
        goto out;
    }
    if (s.over) {
        rc = sl_error_set(err, SL_ELIMIT, "%s: answer larger than %lld bytes", req->method,
                          (long long)s.max);
        goto out;
    }
    if (cc != CURLE_OK) {
        rc = sl_error_set(err, SL_EIO, "%s: %s", req->method, curl_easy_strerror(cc));
        goto out;
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
    sl_str_addc(&s.body, '\0');
    r.len = s.body.len - 1;
    r.body = sl_str_detach(&s.body);
    *out = r;
out:
    if (s.file)
        fclose(s.file);
    sl_str_release(&s.body);
    curl_mime_free(mime);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(c);
    free(ctype);
    return rc;
}

void sl_agent_http_resp_release(struct sl_agent_http_resp *r)
{
    free(r->body);
    r->body = NULL;
}
