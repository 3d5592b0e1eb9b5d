/* session.c: the web UI's sign-in. An API token is exchanged for a session cookie so the
 * browser's script never keeps the token; every request made with the cookie re-verifies
 * the token (a revoked token ends its sessions at once, and its role is the one the API
 * checks, unchanged). State-changing requests made with the cookie also need the session's
 * CSRF token in X-CSRF-Token and, when the browser says where they come from (Origin,
 * Sec-Fetch-Site), to come from this origin: a form posted from another origin, another
 * port of the same host included, is refused even though SameSite=Lax lets the cookie go.
 *
 * Sessions live in this process's memory, with a fixed lifetime: a restart signs everyone
 * out, which for a CI server is a small price for no schema and no store writes per
 * request. (Several servers behind one address would need them in the store.) */
#include "base/compat.h"
#include "base/alloc.h"
#include "base/time.h"
#include "server/internal.h"

#include <microhttpd.h>
#include <sodium.h>

#define SESSION_COOKIE "sl_session"
#define SESSIONS_MAX 4096 /* live sessions; beyond: 503 */
#define ID_HEX 64

struct session {
    char id[ID_HEX + 1];
    char csrf[ID_HEX + 1];
    char *secret; /* the API token, zeroed when freed */
    int64_t expires_at;
    struct session *next;
};

struct sessions {
    pthread_mutex_t mu;
    struct session *head;
    size_t n;
};

static void random_hex(char *out)
{
    unsigned char raw[ID_HEX / 2];
    randombytes_buf(raw, sizeof(raw));
    sodium_bin2hex(out, ID_HEX + 1, raw, sizeof(raw));
}

static void session_free(struct session *se)
{
    if (!se)
        return;
    sodium_memzero(se->secret, strlen(se->secret));
    free(se->secret);
    sodium_memzero(se, sizeof(*se));
    free(se);
}

void sl_sessions_init(struct sl_server *s)
{
    s->sessions = sl_xcalloc(1, sizeof(*s->sessions));
    pthread_mutex_init(&s->sessions->mu, NULL);
}

void sl_sessions_free(struct sl_server *s)
{
    if (!s->sessions)
        return;
    for (struct session *se = s->sessions->head, *next; se; se = next) {
        next = se->next;
        session_free(se);
    }
    pthread_mutex_destroy(&s->sessions->mu);
    free(s->sessions);
    s->sessions = NULL;
}

/* Drops expired sessions (under the lock). */
static void sweep(struct sessions *ss, int64_t now)
{
    for (struct session **pp = &ss->head; *pp;) {
        if ((*pp)->expires_at <= now) {
            struct session *dead = *pp;
            *pp = dead->next;
            session_free(dead);
            ss->n--;
        } else {
            pp = &(*pp)->next;
        }
    }
}

/* Copies the live session ID's token and CSRF token out (under the lock): 0, or SL_ENOENT. */
static int lookup(struct sessions *ss, const char *id, char **secret, char *csrf,
                  int64_t *expires_at)
{
    int rc = SL_ENOENT;
    if (!id || strlen(id) != ID_HEX)
        return rc;
    int64_t now = sl_time_now_ms();
    pthread_mutex_lock(&ss->mu);
    sweep(ss, now);
    for (struct session *se = ss->head; se; se = se->next) {
        if (sodium_memcmp(se->id, id, ID_HEX) == 0) {
            *secret = sl_xstrdup(se->secret);
            memcpy(csrf, se->csrf, ID_HEX + 1);
            *expires_at = se->expires_at;
            rc = 0;
            break;
        }
    }
    pthread_mutex_unlock(&ss->mu);
    return rc;
}

static void drop(struct sessions *ss, const char *id)
{
    pthread_mutex_lock(&ss->mu);
    for (struct session **pp = &ss->head; *pp; pp = &(*pp)->next) {
        if (!strcmp((*pp)->id, id)) {
            struct session *dead = *pp;
            *pp = dead->next;
            session_free(dead);
            ss->n--;
            break;
        }
    }
    pthread_mutex_unlock(&ss->mu);
}

static bool is_https(struct req *r)
{
    const char *p = sl_header_arg(r, "X-Forwarded-Proto");
    return p && !strcasecmp(p, "https");
}

/* Whether the browser says R comes from another origin: Sec-Fetch-Site other than
 * same-origin (or none, typed by the user), or an Origin that is not scheme://Host. */
static bool cross_origin(struct req *r)
{
    const char *site = sl_header_arg(r, "Sec-Fetch-Site");
    if (site && strcmp(site, "same-origin") != 0 && strcmp(site, "none") != 0)
        return true;
    const char *origin = sl_header_arg(r, "Origin");
    if (!origin)
        return false;
    const char *host = sl_header_arg(r, MHD_HTTP_HEADER_HOST);
    if (!host)
        return true;
    char *want = sl_xasprintf("%s://%s", is_https(r) ? "https" : "http", host);
    bool other = strcmp(origin, want) != 0;
    free(want);
    return other;
}

static bool safe_method(const char *m)
{
    return !strcmp(m, "GET") || !strcmp(m, "HEAD");
}

bool sl_srv_session_present(struct req *r)
{
    return MHD_lookup_connection_value(r->conn, MHD_COOKIE_KIND, SESSION_COOKIE) != NULL;
}

int sl_srv_session_auth(struct req *r)
{
    const char *id = MHD_lookup_connection_value(r->conn, MHD_COOKIE_KIND, SESSION_COOKIE);
    char *secret = NULL, csrf[ID_HEX + 1];
    int64_t expires_at;
    struct sl_error err = SL_ERROR_INIT;
    int rc = -1;
    if (lookup(r->s->sessions, id, &secret, csrf, &expires_at) < 0) {
        sl_reply_error(r, 401, "unauthorized", "the session expired or is unknown: sign in again");
        goto out;
    }
    if (!safe_method(r->method)) {
        const char *given = sl_header_arg(r, "X-CSRF-Token");
        if (cross_origin(r)) {
            sl_reply_error(r, 403, "csrf", "a request from another origin is refused");
            goto out;
        }
        if (!given || strlen(given) != ID_HEX || sodium_memcmp(given, csrf, ID_HEX) != 0) {
            sl_reply_error(r, 403, "csrf", "the X-CSRF-Token header is missing or wrong");
            goto out;
        }
    }
    int vrc = sl_store_token_verify(r->s->st, secret, sl_time_now_ms(), &r->token, &err);
    if (vrc == SL_ENOENT) {
        drop(r->s->sessions, id);
        sl_reply_error(r, 401, "unauthorized", "the session's token was revoked: sign in again");
        goto out;
    }
    if (vrc < 0) {
        sl_reply_sl_error(r, vrc, &err);
        goto out;
    }
    snprintf(r->session_id, sizeof(r->session_id), "%s", id);
    rc = 0;
out:
    if (secret) {
        sodium_memzero(secret, strlen(secret));
        free(secret);
    }
    sodium_memzero(csrf, sizeof(csrf));
    sl_error_release(&err);
    return rc;
}

static void set_cookie(struct req *r, const char *value, int64_t max_age_s)
{
    snprintf(r->set_cookie, sizeof(r->set_cookie),
             SESSION_COOKIE "=%s; Path=/; Max-Age=%lld; HttpOnly; SameSite=Lax%s", value,
             (long long)max_age_s, is_https(r) ? "; Secure" : "");
}

static json_t *session_json(const struct sl_store_token *t, const char *csrf, int64_t expires_at)
{
    char at[40];
    sl_time_iso8601(expires_at, at, sizeof(at));
    return json_pack("{s:s?,s:s?,s:{s:I,s:s,s:s}}", "csrf_token", csrf, "expires_at",
                     expires_at ? at : NULL, "token", "id", (json_int_t)t->id, "name", t->name,
                     "role", t->role);
}

/* POST /api/v1/session {"token":"slt_…"}: no authentication (the token in the body is it). */
void sl_h_session_create(struct req *r)
{
    /* only application/json comes here (validate.c answers 415 to a form post) */
    if (cross_origin(r)) {
        sl_reply_error(r, 403, "csrf", "a request from another origin is refused");
        return;
    }
    json_t *b = sl_body_json(r);
    if (!b)
        return;
    const char *secret = json_string_value(json_object_get(b, "token"));
    struct sl_error err = SL_ERROR_INIT;
    if (!secret || strlen(secret) > 256) {
        sl_reply_error(r, 400, "invalid", "token is required (an API token, slt_…)");
        goto out;
    }
    if (sl_srv_auth_throttled(r))
        goto out;
    int rc = sl_store_token_verify(r->s->st, secret, sl_time_now_ms(), &r->token, &err);
    if (rc == SL_ENOENT) {
        sl_srv_auth_failed(r);
        sl_reply_error(r, 401, "unauthorized", "invalid, expired or revoked token");
        sl_audit(r, "session", "session.rejected", "", NULL);
        goto out;
    }
    if (rc < 0) {
        sl_reply_sl_error(r, rc, &err);
        goto out;
    }
    struct sessions *ss = r->s->sessions;
    int64_t now = sl_time_now_ms();
    struct session *se = sl_xcalloc(1, sizeof(*se));
    random_hex(se->id);
    random_hex(se->csrf);
    se->secret = sl_xstrdup(secret);
    se->expires_at = now + r->s->session_ttl_ms;
    pthread_mutex_lock(&ss->mu);
    sweep(ss, now);
    bool full = ss->n >= SESSIONS_MAX;
    if (!full) {
        se->next = ss->head;
        ss->head = se;
        ss->n++;
    }
    pthread_mutex_unlock(&ss->mu);
    if (full) {
        session_free(se);
        sl_reply_error(r, 503, "unavailable", "too many open sessions (%d)", SESSIONS_MAX);
        goto out;
    }
    set_cookie(r, se->id, (r->s->session_ttl_ms + 999) / 1000);
    sl_audit(r, NULL, "session.create", "", NULL);
    sl_reply_json(r, 201, session_json(&r->token, se->csrf, se->expires_at));
out:
    sl_error_release(&err);
    json_decref(b);
}

/* GET /api/v1/session: who is signed in, with the CSRF token (a reloaded page gets it back;
 * only this origin's script can read the answer). */
void sl_h_session_get(struct req *r)
{
    char *secret = NULL, csrf[ID_HEX + 1];
    int64_t expires_at;
    if (!r->session_id[0] ||
        lookup(r->s->sessions, r->session_id, &secret, csrf, &expires_at) < 0) {
        /* a bearer token: no session, but the caller's token all the same */
        sl_reply_json(r, 200, session_json(&r->token, NULL, 0));
        return;
    }
    sodium_memzero(secret, strlen(secret));
    free(secret);
    sl_reply_json(r, 200, session_json(&r->token, csrf, expires_at));
}

/* DELETE /api/v1/session: signs out (the cookie is cleared too). */
void sl_h_session_delete(struct req *r)
{
    if (r->session_id[0]) {
        drop(r->s->sessions, r->session_id);
        sl_audit(r, NULL, "session.delete", "", NULL);
    }
    set_cookie(r, "", 0);
    r->status = 204;
    sl_str_reset(&r->out);
}
