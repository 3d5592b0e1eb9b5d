/* webhook.c: POST /hooks/github, /hooks/gitlab, /hooks/gitea: pushes of branches and tags
 * from a forge become pipelines (CI_PIPELINE_SOURCE "push"), merge and pull request
 * events merge request pipelines (merge_requests.c).
 *
 * The project is the one named by `?project=ID` (or name) in the hook's URL, else the ones
 * whose repo_url is one of the payload's repository URLs. The request must prove it knows
 * the project's webhook secret: GitHub signs the body with HMAC-SHA256
 * (`X-Hub-Signature-256: sha256=<hex>`), Gitea likewise (`X-Gitea-Signature: <hex>`),
 * GitLab sends the secret itself (`X-Gitlab-Token`). Everything secret is compared in
 * constant time (libsodium). A request that does not verify is answered 401 and recorded
 * as an sl_audit event "webhook.rejected"; nothing tells the caller whether the project
 * exists. docs/webhooks.md is the user's side. */
#include "base/compat.h"
#include "base/alloc.h"
#include "base/log.h"
#include "server/internal.h"

#include <sodium.h>

#define PROJECTS_SCAN_MAX 10000 /* projects compared with a payload's URLs */

struct forge {
    const char *name;         /* "github" */
    const char *sig_header;   /* where the signature or token is */
    const char *event_header; /* the event's name */
    const char *const *push_events;
};

static const char *const github_push[] = {"push", NULL};
static const char *const gitlab_push[] = {"Push Hook", "Tag Push Hook", NULL};
static const char *const gitea_push[] = {"push", NULL};

static const struct forge forges[] = {
    [SRV_FORGE_GITHUB] = {"github", "X-Hub-Signature-256", "X-GitHub-Event", github_push},
    [SRV_FORGE_GITLAB] = {"gitlab", "X-Gitlab-Token", "X-Gitlab-Event", gitlab_push},
    [SRV_FORGE_GITEA] = {"gitea", "X-Gitea-Signature", "X-Gitea-Event", gitea_push},
};

static bool hmac_matches(const char *secret, const char *hex, const void *body, size_t len)
{
    unsigned char want[crypto_auth_hmacsha256_BYTES], got[crypto_auth_hmacsha256_BYTES];
    size_t n = 0;
    const char *end = NULL;
    if (strlen(hex) != 2 * sizeof(got) ||
        sodium_hex2bin(got, sizeof(got), hex, strlen(hex), NULL, &n, &end) != 0 ||
        n != sizeof(got) || *end)
        return false;
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, (const unsigned char *)secret, strlen(secret));
    crypto_auth_hmacsha256_update(&st, body, len);
    crypto_auth_hmacsha256_final(&st, want);
    bool ok = sodium_memcmp(want, got, sizeof(got)) == 0;
    sodium_memzero(&st, sizeof(st));
    return ok;
}

bool sl_srv_webhook_verify(enum srv_forge forge, const char *secret, const char *signature,
                           const void *body, size_t len)
{
    if (!secret || !*secret || !signature || sodium_init() < 0)
        return false;
    switch (forge) {
    case SRV_FORGE_GITHUB:
        return strncmp(signature, "sha256=", 7) == 0 &&
               hmac_matches(secret, signature + 7, body, len);
    case SRV_FORGE_GITEA:
        return hmac_matches(secret, signature, body, len);
    case SRV_FORGE_GITLAB: {
        /* Hashing both sides first makes the comparison independent of their lengths. */
        unsigned char a[crypto_hash_sha256_BYTES], b[crypto_hash_sha256_BYTES];
        crypto_hash_sha256(a, (const unsigned char *)secret, strlen(secret));
        crypto_hash_sha256(b, (const unsigned char *)signature, strlen(signature));
        return sodium_memcmp(a, b, sizeof(a)) == 0;
    }
    }
    return false;
}

/* URL without a trailing "/" or ".git", and "file:///x" as "/x": how two spellings of one
 * repository compare equal. Caller frees. */
static char *url_key(const char *u)
{
    if (sl_starts_with(u, "file://"))
        u += 7;
    size_t n = strlen(u);
    while (n > 0 && u[n - 1] == '/')
        n--;
    if (n > 4 && !memcmp(u + n - 4, ".git", 4))
        n -= 4;
    return sl_xstrndup(u, n);
}

/* The repository URLs a payload names (borrowed from PAYLOAD), at most 16. */
static size_t payload_urls(json_t *payload, const char **urls)
{
    static const char *const objs[] = {"repository", "project"};
    static const char *const keys[] = {"clone_url",    "ssh_url",     "html_url", "git_url",
                                       "git_http_url", "git_ssh_url", "web_url",  "url"};
    size_t n = 0;
    for (size_t i = 0; i < SL_ARRAY_LEN(objs); i++) {
        json_t *o = json_object_get(payload, objs[i]);
        for (size_t k = 0; json_is_object(o) && k < SL_ARRAY_LEN(keys) && n < 16; k++) {
            const char *v = json_string_value(json_object_get(o, keys[k]));
            if (v && *v)
                urls[n++] = v;
        }
    }
    return n;
}

static bool project_named_in(const struct sl_store_project *p, const char *const *urls, size_t n)
{
    char *mine = url_key(p->repo_url);
    bool found = false;
    for (size_t i = 0; i < n && !found; i++) {
        char *theirs = url_key(urls[i]);
        found = !strcmp(mine, theirs);
        free(theirs);
    }
    free(mine);
    return found;
}

/* Finds the project the hook is for and verifies the signature against its secret. On
 * success *OUT is the project (release it). 1 verified, 0 not (REASON says why), < 0 a
 * store error. */
static int find_and_verify(struct req *r, enum srv_forge forge, json_t *payload,
                           const char *signature, struct sl_store_project *out, const char **reason)
{
    struct sl_error err = SL_ERROR_INIT;
    const char *sel = sl_query_arg(r, "project");
    int rc = 0;
    *reason = "no project with a webhook secret matches the request's signature";
    if (sel) {
        struct sl_store_project p = {0};
        char *end;
        long long id = strtoll(sel, &end, 10);
        if (*sel && !*end && id > 0)
            rc = sl_store_project_get(r->s->st, id, &p, &err);
        else
            rc = sl_store_project_get_by_name(r->s->st, sel, &p, &err);
        if (rc == 0 &&
            sl_srv_webhook_verify(forge, p.webhook_secret, signature, r->body, r->body_len)) {
            *out = p;
            rc = 1;
        } else {
            sl_store_project_release(&p);
            rc = rc == SL_ENOENT ? 0 : rc;
        }
        goto out;
    }
    const char *urls[16];
    size_t nurls = payload ? payload_urls(payload, urls) : 0;
    if (!nurls) {
        *reason = "no ?project= and no repository URL in the payload";
        goto out;
    }
    struct sl_store_page page = {0, SL_STORE_LIST_MAX, NULL};
    for (size_t seen = 0; seen < PROJECTS_SCAN_MAX && rc == 0;) {
        struct sl_store_project *ps = NULL;
        size_t n = 0;
        if ((rc = sl_store_project_list(r->s->st, &page, &ps, &n, &err)) < 0)
            break;
        for (size_t i = 0; i < n && rc == 0; i++) {
            if (project_named_in(&ps[i], urls, nurls) &&
                sl_srv_webhook_verify(forge, ps[i].webhook_secret, signature, r->body,
                                      r->body_len)) {
                *out = ps[i];
                memset(&ps[i], 0, sizeof(ps[i]));
                rc = 1;
            }
        }
        seen += n;
        page.after = n ? ps[n - 1].id : 0;
        sl_store_projects_free(ps, n);
        if (n < (size_t)SL_STORE_LIST_MAX)
            break;
    }
out:
    if (rc < 0) {
        atomic_fetch_add(&r->s->metrics.store_errors, 1);
        sl_log(SL_LOG_ERROR, "webhook: store error", "error", sl_error_format(&err), NULL);
    }
    sl_error_release(&err);
    return rc;
}

static void reject(struct req *r, enum srv_forge forge, const char *reason)
{
    char actor[32];
    snprintf(actor, sizeof(actor), "webhook:%s", forges[forge].name);
    sl_audit(r, actor, "webhook.rejected", "", json_pack("{s:s}", "reason", reason));
    sl_log(SL_LOG_WARN, "webhook rejected", "request_id", r->request_id, "forge",
           forges[forge].name, "reason", reason, NULL);
    /* counted, but not against the sender's address: forges deliver every project's hooks
     * from shared addresses, and one project's wrong secret must not block the others */
    atomic_fetch_add(&r->s->metrics.auth_failures, 1);
    sl_reply_error(r, 401, "unauthorized", "the webhook's signature does not verify");
}

static bool is_push(enum srv_forge forge, const char *event)
{
    for (const char *const *e = forges[forge].push_events; event && *e; e++)
        if (!strcmp(*e, event))
            return true;
    return false;
}

static bool all_zeros(const char *sha)
{
    if (!sha || !*sha)
        return false;
    for (; *sha; sha++)
        if (*sha != '0')
            return false;
    return true;
}

/* Makes the pipeline of branch or tag NAME (REF in full) that a trusted push (MR NULL)
 * or merge request event asks for, and answers: 201 with the pipeline, 202 when there is none to
 * make. */
static void answer_pipeline(struct req *r, enum srv_forge forge, const struct sl_store_project *p,
                            const char *event, const char *ref, const char *name,
                            const struct srv_mr *mr, const char *target)
{
    const struct forge *f = &forges[forge];
    struct sl_error err = SL_ERROR_INIT;
    int64_t id = 0;
    char actor[32];
    snprintf(actor, sizeof(actor), "webhook:%s", f->name);
    int rc = mr ? sl_srv_pipeline_create_mr(r->s, p, mr, actor, &id, &err)
                : sl_srv_pipeline_create(r->s, p, name, NULL, "push", &id, &err);
    if (rc == SL_EINVAL) {
        /* no such ref (yet), workflow:rules said no, nothing to fetch: the push is not an
         * error of the sender's, and retrying the delivery would not help */
        sl_reply_json(
            r, 202,
            json_pack("{s:s,s:s}", "status", "no_pipeline", "message", sl_error_format(&err)));
        sl_audit(r, actor, "webhook.no_pipeline", target,
                 json_pack("{s:s,s:s}", "ref", ref, "message", sl_error_format(&err)));
    } else if (rc < 0) {
        sl_reply_sl_error(r, rc, &err);
    } else {
        sl_audit(
            r, actor, "webhook.pipeline", target,
            json_pack("{s:s,s:s,s:I}", "event", event, "ref", ref, "pipeline_id", (json_int_t)id));
        struct sl_store_pipeline pl = {0};
        if (sl_store_pipeline_get(r->s->st, id, &pl, &err) == 0)
            sl_reply_json(r, 201, sl_pipeline_json(&pl));
        else
            sl_reply_sl_error(r, SL_ESTORE, &err);
        sl_store_pipeline_release(&pl);
    }
    sl_error_release(&err);
}

/* A merge (pull) request event: recorded, and a pipeline when it brings commits. */
static void merge_request(struct req *r, enum srv_forge forge, const struct sl_store_project *p,
                          json_t *payload, const char *event, const char *target)
{
    struct srv_mr mr;
    struct sl_arena a = SL_ARENA_INIT;
    struct sl_error err = SL_ERROR_INIT;
    const char *why = NULL;
    if (sl_srv_mr_read(forge, payload, &mr, &a, &why) < 0) {
        sl_reply_error(r, 400, "invalid", "%s", why);
    } else if (sl_srv_mr_record(r->s, p->id, &mr, &err) < 0) {
        sl_reply_sl_error(r, SL_ESTORE, &err);
    } else if (!mr.runs) {
        sl_reply_json(r, 202,
                      json_pack("{s:s,s:I,s:s}", "status", "recorded", "merge_request_iid",
                                (json_int_t)mr.iid, "state", mr.state));
    } else {
        char *ref = sl_xasprintf("refs/heads/%s", mr.source_branch);
        answer_pipeline(r, forge, p, event, ref, mr.source_branch, &mr, target);
        free(ref);
    }
    sl_error_release(&err);
    sl_arena_release(&a);
}

static void hook(struct req *r, enum srv_forge forge)
{
    const struct forge *f = &forges[forge];
    const char *signature = sl_header_arg(r, f->sig_header);
    json_t *payload = NULL;
    struct sl_store_project p = {0};
    if (!signature) {
        reject(r, forge, "unsigned: no signature header");
        return;
    }
    payload = json_loadb(r->body ? r->body : "", r->body_len, 0, NULL);
    if (payload && !json_is_object(payload)) {
        json_decref(payload);
        payload = NULL;
    }
    const char *reason = NULL;
    int rc = find_and_verify(r, forge, payload, signature, &p, &reason);
    if (rc < 0) {
        sl_reply_error(r, 500, "internal", "the store failed");
        goto out;
    }
    if (rc == 0) {
        reject(r, forge, reason);
        goto out;
    }
    /* From here the sender is trusted. */
    char target[48];
    snprintf(target, sizeof(target), "project:%lld", (long long)p.id);
    const char *event = sl_header_arg(r, f->event_header);
    if (forge == SRV_FORGE_GITHUB && event && !strcmp(event, "ping")) {
        sl_reply_json(r, 200, json_pack("{s:s}", "status", "pong"));
        goto out;
    }
    if (!payload) {
        sl_reply_error(r, 400, "invalid_json", "the payload must be a JSON object");
        goto out;
    }
    if (sl_srv_mr_event(forge, event)) {
        merge_request(r, forge, &p, payload, event, target);
        goto out;
    }
    if (!is_push(forge, event)) {
        sl_reply_json(r, 202,
                      json_pack("{s:s,s:s}", "status", "ignored", "event", event ? event : ""));
        goto out;
    }
    const char *ref = json_string_value(json_object_get(payload, "ref"));
    const char *after = json_string_value(json_object_get(payload, "after"));
    const char *name = NULL;
    if (ref && sl_starts_with(ref, "refs/heads/"))
        name = ref + 11;
    else if (ref && sl_starts_with(ref, "refs/tags/"))
        name = ref + 10;
    if (!name || !*name) {
        sl_reply_error(r, 400, "invalid", "the push has no refs/heads/ or refs/tags/ ref");
        goto out;
    }
    if (all_zeros(after) || json_is_true(json_object_get(payload, "deleted"))) {
        /* a deleted branch stops its review apps */
        int stopped = 0;
        struct sl_error serr = SL_ERROR_INIT;
        if (sl_starts_with(ref, "refs/heads/") &&
            sl_srv_deploy_stop_branch(r->s, p.id, name, &stopped, &serr) < 0)
            sl_log(SL_LOG_WARN, "cannot stop the environments of a deleted branch", "ref", ref,
                   "error", sl_error_format(&serr), NULL);
        sl_error_release(&serr);
        sl_reply_json(r, 202,
                      json_pack("{s:s,s:s,s:i}", "status", "ignored", "reason",
                                "the ref was deleted", "stopped_environments", stopped));
        goto out;
    }
    answer_pipeline(r, forge, &p, event, ref, name, NULL, target);
out:
    sl_store_project_release(&p);
    json_decref(payload);
}

void sl_h_hook_github(struct req *r)
{
    hook(r, SRV_FORGE_GITHUB);
}

void sl_h_hook_gitlab(struct req *r)
{
    hook(r, SRV_FORGE_GITLAB);
}

void sl_h_hook_gitea(struct req *r)
{
    hook(r, SRV_FORGE_GITEA);
}
