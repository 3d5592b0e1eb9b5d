/* delivery.c: the delivery queue's sender. Commit statuses (forge.c) and notifications
 * (notify.c) queue rows in the store (sl_store_delivery_add); one thread here takes the
 * due ones, sends them with libcurl and records the outcome:
 *
 *   2xx                      delivered
 *   408, 429, 5xx, timeouts,
 *   connection errors        retried after base * 2^(attempt-1) (--delivery-retry-base),
 *                            given up after SRV_DELIVERY_ATTEMPTS attempts
 *   any other 4xx            given up at once as a configuration problem (a wrong token, a
 *                            repository that does not exist): retrying cannot help; logged
 *                            and audited
 *
 * Rows are claimed with a lease (sl_store_delivery_claim), so a pending row survives a
 * restart or a crash mid-send and is taken again, by this server or another on the same
 * PostgreSQL. Credentials are read from the row's source (the forge connection, the
 * notification rule) when sending: the queue holds none. */
#include "base/compat.h"

#include <inttypes.h>
#include "base/alloc.h"
#include "base/log.h"
#include "base/str.h"
#include "base/time.h"
#include "server/internal.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <sodium.h>

#define LEASE_MS (120 * 1000)     /* longer than one send can take */
#define SEND_TIMEOUT_S 20         /* one request, connecting included */
#define IDLE_WAIT_MS 1000         /* look at the store at least this often (other servers) */
#define ANSWER_MAX 2048           /* bytes of an answer kept for last_error */
#define BACKOFF_MAX_MS (3600000L) /* the longest wait between two attempts */

/* What one attempt gave. */
struct outcome {
    bool ok;
    bool permanent; /* a configuration problem: do not retry */
    char error[600];
};

struct answer {
    struct sl_str body;
};

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
    struct answer *a = arg;
    size_t len = size * n;
    if (a->body.len < ANSWER_MAX)
        sl_str_add(&a->body, p, SL_MIN(len, ANSWER_MAX - a->body.len));
    return len;
}

/* A one-line excerpt of an answer body for last_error. */
static void excerpt(const struct sl_str *b, char *out, size_t size)
{
    size_t j = 0;
    for (size_t i = 0; i < b->len && j + 1 < size && j < 200; i++)
        out[j++] = (b->buf[i] == '\n' || b->buf[i] == '\r' || b->buf[i] == '\t') ? ' ' : b->buf[i];
    out[j] = 0;
}

static void classify_http(CURLcode cc, long code, const struct answer *a, struct outcome *o)
{
    char ex[256];
    if (cc != CURLE_OK) {
        snprintf(o->error, sizeof(o->error), "%s", curl_easy_strerror(cc));
        return;
    }
    excerpt(&a->body, ex, sizeof(ex));
    if (code >= 200 && code < 300) {
        o->ok = true;
        return;
    }
    o->permanent = code >= 400 && code < 500 && code != 408 && code != 429;
    snprintf(o->error, sizeof(o->error), "%sHTTP %ld%s%s",
             o->permanent ? "configuration problem: " : "", code, *ex ? ": " : "", ex);
}

/* Sends an HTTP request: METHOD URL with BODY and the extra HEADERS (NULL-terminated). */
static void send_http(const char *method, const char *url, const char *body,
                      const char *const *headers, struct outcome *o)
{
    CURL *c = curl_easy_init();
    struct curl_slist *hs = NULL;
    struct answer a = {SL_STR_INIT};
    long code = 0;
    if (!c) {
        snprintf(o->error, sizeof(o->error), "cannot make an HTTP client");
        return;
    }
    hs = curl_slist_append(hs, "Content-Type: application/json");
    hs = curl_slist_append(hs, "User-Agent: sluice");
    hs = curl_slist_append(hs, "Expect:");
    for (const char *const *h = headers; h && *h; h++)
        hs = curl_slist_append(hs, *h);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hs);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)SEND_TIMEOUT_S);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &a);
    CURLcode cc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    classify_http(cc, code, &a, o);
    sl_str_release(&a.body);
    curl_slist_free_all(hs);
    curl_easy_cleanup(c);
}

/* ---- mail ---- */

struct upload {
    const char *p;
    size_t left;
};

static size_t on_read(char *buf, size_t size, size_t n, void *arg)
{
    struct upload *u = arg;
    size_t len = SL_MIN(size * n, u->left);
    memcpy(buf, u->p, len);
    u->p += len;
    u->left -= len;
    return len;
}

/* (internal.h) A name that only starts like an address (127.mail.example.com) is no
 * address: DNS says where it goes. */
bool sl_srv_smtp_loopback(const char *url)
{
    CURLU *u = curl_url();
    char *host = NULL;
    bool lo = false;
    if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK) {
        struct in_addr a4;
        lo = !strcmp(host, "localhost") || !strcmp(host, "[::1]") ||
             (inet_pton(AF_INET, host, &a4) == 1 && (ntohl(a4.s_addr) >> 24) == 127);
    }
    curl_free(host);
    curl_url_cleanup(u);
    return lo;
}

/* Sends MESSAGE (headers and body, CRLF lines) from the server's --smtp-from to RCPT. */
static void send_mail(struct sl_server *s, const char *rcpt, const char *message, struct outcome *o)
{
    if (!s->smtp_url || !s->smtp_from) {
        o->permanent = true;
        snprintf(o->error, sizeof(o->error),
                 "configuration problem: the server has no --smtp-url and --smtp-from");
        return;
    }
    CURL *c = curl_easy_init();
    struct curl_slist *to = NULL;
    struct upload up = {message, strlen(message)};
    long code = 0;
    if (!c) {
        snprintf(o->error, sizeof(o->error), "cannot make an SMTP client");
        return;
    }
    char *from = sl_xasprintf("<%s>", s->smtp_from);
    char *rc_addr = sl_xasprintf("<%s>", rcpt);
    to = curl_slist_append(to, rc_addr);
    curl_easy_setopt(c, CURLOPT_URL, s->smtp_url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    if (s->smtp_ca)
        curl_easy_setopt(c, CURLOPT_CAINFO, s->smtp_ca);
    /* off loopback, a plain smtp:// relay must speak STARTTLS: no mail in clear on a network */
    if (!strncmp(s->smtp_url, "smtp://", 7) && !sl_srv_smtp_loopback(s->smtp_url))
        curl_easy_setopt(c, CURLOPT_USE_SSL, (long)CURLUSESSL_ALL);
    curl_easy_setopt(c, CURLOPT_MAIL_FROM, from);
    curl_easy_setopt(c, CURLOPT_MAIL_RCPT, to);
    curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
    curl_easy_setopt(c, CURLOPT_READDATA, &up);
    curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)SEND_TIMEOUT_S);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    CURLcode cc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    if (cc == CURLE_OK) {
        o->ok = true;
    } else if (cc == CURLE_USE_SSL_FAILED || cc == CURLE_PEER_FAILED_VERIFICATION ||
               cc == CURLE_SSL_CACERT_BADFILE) {
        /* the relay, not the network: it will not start offering STARTTLS or change its
         * certificate by itself, and mail is not sent in clear instead */
        o->permanent = true;
        snprintf(o->error, sizeof(o->error), "configuration problem: %s (%s)",
                 cc == CURLE_USE_SSL_FAILED
                     ? "the relay offers no STARTTLS, and mail off loopback is never sent in clear"
                     : "the relay's TLS certificate is not trusted (--smtp-ca names its CA)",
                 curl_easy_strerror(cc));
    } else {
        /* a 5xx reply (a refused sender or recipient, failed auth) will not change by itself */
        o->permanent = code >= 500 && code < 600;
        snprintf(o->error, sizeof(o->error), "%s%s (SMTP %ld)",
                 o->permanent ? "configuration problem: " : "", curl_easy_strerror(cc), code);
    }
    free(from);
    free(rc_addr);
    curl_slist_free_all(to);
    curl_easy_cleanup(c);
}

/* ---- one delivery ---- */

static void hmac_hex(const char *secret, const char *body, char out[2 * 32 + 1])
{
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, (const unsigned char *)secret, strlen(secret));
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)body, strlen(body));
    crypto_auth_hmacsha256_final(&st, mac);
    sodium_bin2hex(out, 2 * 32 + 1, mac, sizeof(mac));
}

/* Sends D once into O. */
static void attempt(struct sl_server *s, const struct sl_store_delivery *d, struct outcome *o)
{
    struct sl_error err = SL_ERROR_INIT;
    json_t *pl = sl_srv_stored_json(d->payload, JSON_OBJECT, "delivery's payload", d->id);
    const char *body = json_string_value(json_object_get(pl, "body"));
    const char *method = json_string_value(json_object_get(pl, "method"));
    char *auth = NULL, *url = NULL;
    if (!body) {
        o->permanent = true;
        snprintf(o->error, sizeof(o->error), "the delivery's payload cannot be read");
        goto out;
    }
    if (!strncmp(d->kind, "status:", 7)) {
        struct sl_store_forge f = {0};
        if (sl_store_forge_get(s->st, d->project_id, true, &f, &err) < 0) {
            o->permanent = true;
            snprintf(o->error, sizeof(o->error), "the forge connection is gone: %s",
                     sl_error_format(&err));
            goto out;
        }
        auth = sl_srv_forge_auth_header(f.kind, f.token);
        sl_store_forge_release(&f);
        const char *hs[] = {auth, "Accept: application/json", NULL};
        send_http(method ? method : "POST", d->target, body, hs, o);
        goto out;
    }
    struct sl_store_notify_rule rule = {0};
    if (d->source_id && sl_store_notify_rule_get(s->st, d->source_id, true, &rule, &err) < 0) {
        o->permanent = true;
        snprintf(o->error, sizeof(o->error), "the notification rule is gone: %s",
                 sl_error_format(&err));
        goto out;
    }
    const char *secret = rule.secret ? rule.secret : "";
    if (!strcmp(d->kind, "notify:email")) {
        send_mail(s, d->target, body, o);
    } else if (!strcmp(d->kind, "notify:matrix")) {
        /* the transaction id is the delivery's: a retry of a send that did arrive is a no-op */
        url = sl_xasprintf("%s/send/m.room.message/sluice-%" PRId64, d->target, d->id);
        auth = sl_xasprintf("Authorization: Bearer %s", secret);
        const char *hs[] = {auth, NULL};
        send_http("PUT", url, body, hs, o);
    } else {
        char hex[2 * 32 + 1];
        const char *hs[] = {NULL, NULL};
        if (*secret && !strcmp(d->kind, "notify:webhook")) {
            hmac_hex(secret, body, hex);
            auth = sl_xasprintf("X-Sluice-Signature: sha256=%s", hex);
            hs[0] = auth;
        }
        send_http("POST", d->target, body, hs, o);
    }
    sl_store_notify_rule_release(&rule);
out:
    if (auth) {
        sodium_memzero(auth, strlen(auth));
        free(auth);
    }
    free(url);
    json_decref(pl);
    sl_error_release(&err);
}

/* Records what one attempt of D gave. */
static void record(struct sl_server *s, struct sl_store_delivery *d, const struct outcome *o)
{
    struct sl_error err = SL_ERROR_INIT;
    int64_t now = sl_time_now_ms();
    d->attempts++;
    free(d->state);
    free(d->last_error);
    d->last_error = o->ok ? NULL : sl_xstrdup(o->error);
    bool give_up = !o->ok && (o->permanent || d->attempts >= SRV_DELIVERY_ATTEMPTS);
    d->state = sl_xstrdup(o->ok ? "delivered" : give_up ? "given_up" : "pending");
    if (!o->ok && !give_up) {
        int64_t wait = s->delivery_retry_base_ms;
        for (int i = 1; i < d->attempts && wait < BACKOFF_MAX_MS; i++)
            wait *= 2;
        d->next_at = now + SL_MIN(wait, BACKOFF_MAX_MS);
    }
    if (sl_store_delivery_update(s->st, d, now, &err) < 0) {
        atomic_fetch_add(&s->metrics.store_errors, 1);
        sl_log(SL_LOG_ERROR, "cannot record a delivery", "error", sl_error_format(&err), NULL);
    }
    sl_error_release(&err);
    if (!give_up)
        return;
    char id[24], target[40], attempts[16];
    snprintf(id, sizeof(id), "%" PRId64, d->id);
    snprintf(target, sizeof(target), "delivery:%" PRId64, d->id);
    snprintf(attempts, sizeof(attempts), "%d", d->attempts);
    sl_log(SL_LOG_WARN,
           o->permanent ? "a delivery was refused: check the project's settings"
                        : "a delivery was given up",
           "delivery", id, "kind", d->kind, "attempts", attempts, "error", o->error, NULL);
    json_t *detail = json_pack("{s:I,s:s,s:i,s:s,s:b}", "project_id", (json_int_t)d->project_id,
                               "kind", d->kind, "attempts", d->attempts, "error", o->error,
                               "configuration_problem", o->permanent);
    char *dt = json_dumps(detail, JSON_COMPACT);
    struct sl_store_audit a = {.at = now,
                               .actor = (char *)"system",
                               .action = (char *)"delivery.given_up",
                               .target = target,
                               .detail = dt};
    if (sl_store_audit_add(s->st, &a, NULL, &err) < 0)
        atomic_fetch_add(&s->metrics.store_errors, 1);
    sl_error_release(&err);
    free(dt);
    json_decref(detail);
}

/* ---- the thread ---- */

/* Removes finished deliveries older than SRV_DELIVERY_KEEP_MS, at most once an hour. */
static void prune(struct sl_server *s, int64_t *last)
{
    int64_t now = sl_time_now_ms();
    if (now - *last < 3600 * 1000)
        return;
    *last = now;
    struct sl_error err = SL_ERROR_INIT;
    if (sl_store_delivery_prune(s->st, now - SRV_DELIVERY_KEEP_MS, &err) < 0) {
        atomic_fetch_add(&s->metrics.store_errors, 1);
        sl_log(SL_LOG_ERROR, "cannot prune old deliveries", "error", sl_error_format(&err), NULL);
    }
    sl_error_release(&err);
}

static void *sender_main(void *arg)
{
    struct sl_server *s = arg;
    int64_t pruned = 0;
    while (!atomic_load(&s->stopping)) {
        struct sl_store_delivery d = {0};
        struct sl_error err = SL_ERROR_INIT;
        int64_t next = 0, wait = IDLE_WAIT_MS, now = sl_time_now_ms();
        /* a read first: an idle queue costs no write (SQLite has one writer) */
        int rc = sl_store_delivery_next_due(s->st, &next, &err);
        if (rc == 0 && next && next <= now)
            rc = sl_store_delivery_claim(s->st, now, LEASE_MS, &d, &err);
        if (rc == 1) {
            struct outcome o = {0};
            attempt(s, &d, &o);
            record(s, &d, &o);
            sl_store_delivery_release(&d);
            continue;
        }
        if (rc < 0) {
            atomic_fetch_add(&s->metrics.store_errors, 1);
            sl_log(SL_LOG_ERROR, "cannot take a delivery", "error", sl_error_format(&err), NULL);
        }
        sl_error_release(&err);
        prune(s, &pruned);
        if (rc == 0 && next > now)
            wait = SL_MIN(next - now, (int64_t)IDLE_WAIT_MS);
        pthread_mutex_lock(&s->delivery_mu);
        if (!s->delivery_kick && !atomic_load(&s->stopping) && wait > 0) {
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            ts.tv_sec += wait / 1000;
            ts.tv_nsec += (long)(wait % 1000) * 1000000L;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&s->delivery_cv, &s->delivery_mu, &ts);
        }
        s->delivery_kick = false;
        pthread_mutex_unlock(&s->delivery_mu);
    }
    return NULL;
}

int sl_srv_delivery_start(struct sl_server *s, struct sl_error *err)
{
    if (pthread_create(&s->sender, NULL, sender_main, s) != 0)
        return sl_error_set(err, SL_EIO, "cannot start the delivery thread");
    s->sender_started = true;
    return 0;
}

void sl_srv_delivery_wake(struct sl_server *s)
{
    pthread_mutex_lock(&s->delivery_mu);
    s->delivery_kick = true;
    pthread_cond_signal(&s->delivery_cv);
    pthread_mutex_unlock(&s->delivery_mu);
}

void sl_srv_delivery_join(struct sl_server *s)
{
    if (!s->sender_started)
        return;
    sl_srv_delivery_wake(s);
    pthread_join(s->sender, NULL);
    s->sender_started = false;
}

int sl_srv_delivery_queue(struct sl_server *s, int64_t project_id, int64_t source_id,
                          const char *kind, const char *target, const char *method,
                          const char *body, struct sl_error *err)
{
    json_t *pl = json_pack("{s:s,s:s}", "method", method ? method : "POST", "body", body);
    char *text = json_dumps(pl, JSON_COMPACT);
    struct sl_store_delivery d = {.project_id = project_id,
                                  .source_id = source_id,
                                  .kind = (char *)kind,
                                  .target = (char *)target,
                                  .payload = text};
    int rc = sl_store_delivery_add(s->st, &d, sl_time_now_ms(), NULL, err);
    free(text);
    json_decref(pl);
    if (rc == 0)
        sl_srv_delivery_wake(s);
    return rc;
}

/* ---- GET /api/v1/projects/{id}/deliveries ---- */

static json_t *delivery_json(const struct sl_store_delivery *d)
{
    json_t *o = json_pack("{s:I,s:s,s:s,s:s,s:i}", "id", (json_int_t)d->id, "kind", d->kind,
                          "target", d->target, "state", d->state, "attempts", d->attempts);
    json_object_set_new(o, "last_error", d->last_error ? json_string(d->last_error) : json_null());
    json_object_set_new(o, "created_at", sl_srv_time_json(d->created_at));
    json_object_set_new(o, "updated_at", sl_srv_time_json(d->updated_at));
    json_object_set_new(o, "delivered_at", sl_srv_time_json(d->delivered_at));
    json_object_set_new(o, "next_attempt_at",
                        sl_srv_time_json(!strcmp(d->state, "pending") ? d->next_at : 0));
    return o;
}

void sl_h_delivery_list(struct req *r)
{
    struct sl_error err = SL_ERROR_INIT;
    struct sl_store_project proj = {0};
    struct sl_store_delivery *ds = NULL;
    struct sl_store_page page;
    size_t n = 0;
    if (!sl_srv_page_args(r, &page))
        return;
    page.status = sl_query_arg(r, "state");
    if (page.status && strcmp(page.status, "pending") != 0 &&
        strcmp(page.status, "delivered") != 0 && strcmp(page.status, "given_up") != 0) {
        sl_reply_error(r, 400, "invalid", "state must be pending, delivered or given_up");
        return;
    }
    int rc = sl_store_project_get(r->s->st, r->id, &proj, &err);
    if (rc == 0)
        rc = sl_store_delivery_list(r->s->st, r->id, &page, &ds, &n, &err);
    if (rc < 0) {
        sl_reply_sl_error(r, rc, &err);
    } else {
        json_t *a = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(a, delivery_json(&ds[i]));
        sl_reply_json(r, 200, a);
    }
    sl_store_deliveries_free(ds, n);
    sl_store_project_release(&proj);
    sl_error_release(&err);
}
