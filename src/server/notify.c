/* notify.c: a project's notification rules (POST/GET/DELETE /api/v1/projects/{id}/
 * notifications) and the messages a finished pipeline sends through the delivery queue.
 *
 * Events, as GitLab's pipeline notifications mean them: failed (the pipeline failed), fixed
 * (it succeeded where its ref had last failed: GitLab's ci_refs status, so a failed pipeline
 * retried to success is fixed too), success (every success, fixed ones included). Refs: all,
 * protected (protected branches and tags), default (the default branch only). Channels:
 *
 *   webhook  POST of the JSON documented in docs/notifications.md, signed with the rule's
 *            secret: X-Sluice-Signature: sha256=HEX(HMAC-SHA256(secret, body))
 *   slack    a Slack-compatible incoming webhook ({"text": ...}; Mattermost and Rocket.Chat
 *            take it too)
 *   matrix   PUT TARGET/send/m.room.message/TXN with the rule's secret as access token;
 *            TARGET is the room's client-server URL (…/_matrix/client/v3/rooms/ROOM_ID)
 *   email    one plain-text mail over the server's --smtp-url, with the failed jobs and the
 *            last lines of their logs */
#include "base/compat.h"

#include <inttypes.h>
#include "base/alloc.h"
#include "base/log.h"
#include "base/str.h"
#include "base/time.h"
#include "server/internal.h"

#include <time.h>

#define LOG_TAIL_BYTES 4096 /* of a failed job's log read for a mail */
#define LOG_TAIL_LINES 10
#define LINE_MAX_BYTES 300
#define FAILED_JOBS_MAX 20 /* failed jobs named in one message */

static const char *const channels[] = {"webhook", "slack", "matrix", "email"};
static const char *const events[] = {"failed", "fixed", "success"};
static const char *const ref_kinds[] = {"all", "protected", "default"};

static bool one_of(const char *s, const char *const *set, size_t n)
{
    for (size_t i = 0; s && i < n; i++)
        if (!strcmp(s, set[i]))
            return true;
    return false;
}

/* ---- which event a finished pipeline is ---- */

/* Records P's end as its ref's status (GitLab's ci_refs) and says which event it is:
 * failed, success, or fixed when the ref had failed before (a retried pipeline too). */
static const char *ref_event(struct sl_server *s, const struct sl_store_pipeline *p)
{
    char *ref = p->is_tag ? sl_xasprintf("refs/tags/%s", p->ref) : sl_xstrdup(p->ref);
    char *old = NULL;
    struct sl_error err = SL_ERROR_INIT;
    if (sl_store_ref_status_swap(s->st, p->project_id, ref, p->status, sl_time_now_ms(), &old,
                                 &err) < 0) {
        atomic_fetch_add(&s->metrics.store_errors, 1);
        sl_log(SL_LOG_ERROR, "cannot record a ref's status", "error", sl_error_format(&err), NULL);
    }
    const char *event = !strcmp(p->status, "failed")    ? "failed"
                        : old && !strcmp(old, "failed") ? "fixed"
                                                        : "success";
    sl_error_release(&err);
    free(old);
    free(ref);
    return event;
}

static bool rule_wants(const struct sl_store_notify_rule *r, const char *event)
{
    /* a rule whose events cannot be read sends nothing (logged), never everything */
    json_t *a = sl_srv_stored_json(r->events, JSON_ARRAY, "notification rule's events", r->id);
    size_t i;
    json_t *v;
    bool yes = false;
    json_array_foreach(a, i, v)
    {
        const char *e = json_string_value(v);
        /* a fixed pipeline is a success too: a rule with both gets one message */
        if (e && (!strcmp(e, event) || (!strcmp(event, "fixed") && !strcmp(e, "success"))))
            yes = true;
    }
    json_decref(a);
    return yes;
}

static bool rule_ref_ok(struct sl_server *s, const struct sl_store_notify_rule *r,
                        const struct sl_store_project *proj, const struct sl_store_pipeline *p)
{
    if (!strcmp(r->refs, "default"))
        return !p->is_tag && !strcmp(p->ref, proj->default_branch);
    if (!strcmp(r->refs, "protected")) {
        bool prot = false;
        return sl_srv_ref_protected(s, p->project_id, p->ref, p->is_tag, &prot, NULL) == 0 && prot;
    }
    return true;
}

/* ---- the messages ---- */

/* Appends the last lines of job JOB_ID's log to OUT, each indented, controls and colour
 * escapes dropped. */
static void log_tail(struct sl_server *s, int64_t job_id, struct sl_str *out)
{
    int64_t size = 0, next = 0;
    struct sl_str raw = SL_STR_INIT;
    if (sl_store_log_size(s->st, job_id, &size, NULL) < 0 ||
        sl_store_log_read(s->st, job_id, SL_MAX(0, size - LOG_TAIL_BYTES), LOG_TAIL_BYTES, &raw,
                          &next, NULL) < 0) {
        sl_str_release(&raw);
        return;
    }
    /* the start of the last LOG_TAIL_LINES lines */
    size_t start = raw.len, lines = 0;
    while (start > 0 && raw.buf[start - 1] == '\n')
        start--;
    size_t end = start;
    while (start > 0 && lines < LOG_TAIL_LINES) {
        start--;
        if (raw.buf[start] == '\n' && ++lines == LOG_TAIL_LINES) {
            start++;
            break;
        }
    }
    size_t col = 0;
    sl_str_adds(out, "    | ");
    for (size_t i = start; i < end; i++) {
        unsigned char c = (unsigned char)raw.buf[i];
        if (c == 0x1b) { /* ESC [ ... letter */
            while (i + 1 < end && !((raw.buf[i + 1] >= 'A' && raw.buf[i + 1] <= 'Z') ||
                                    (raw.buf[i + 1] >= 'a' && raw.buf[i + 1] <= 'z')))
                i++;
            i++;
            continue;
        }
        if (c == '\n') {
            sl_str_adds(out, "\r\n    | ");
            col = 0;
        } else if ((c >= 0x20 || c == '\t') && c != 0x7f && col < LINE_MAX_BYTES) {
            sl_str_add(out, (const char *)&c, 1);
            col++;
        }
    }
    sl_str_adds(out, "\r\n");
    sl_str_release(&raw);
}

struct message {
    const struct sl_store_project *proj;
    const struct sl_store_pipeline *p;
    const char *event; /* failed, fixed, success, test */
    struct sl_store_job *jobs;
    size_t njobs;
    char *url;
};

static const char *event_verb(const char *event)
{
    return !strcmp(event, "failed")  ? "failed"
           : !strcmp(event, "fixed") ? "was fixed"
           : !strcmp(event, "test")  ? "is a test notification"
                                     : "passed";
}

static char *summary(const struct message *m)
{
    return sl_xasprintf("%s: pipeline #%" PRId64 " on %s %s (%.8s)", m->proj->name, m->p->iid,
                        m->p->ref, event_verb(m->event), m->p->sha ? m->p->sha : "");
}

static bool job_failed(const struct sl_store_job *j)
{
    return !strcmp(j->status, "failed") && !j->allow_failure;
}

static char *webhook_body(struct sl_server *s, const struct message *m)
{
    json_t *failed = json_array();
    for (size_t i = 0; i < m->njobs && json_array_size(failed) < FAILED_JOBS_MAX; i++) {
        if (!job_failed(&m->jobs[i]))
            continue;
        char *ju = sl_xasprintf("%s/jobs/%" PRId64, s->external_url, m->jobs[i].id);
        json_array_append_new(failed,
                              json_pack("{s:I,s:s,s:s,s:s?,s:s}", "id", (json_int_t)m->jobs[i].id,
                                        "name", m->jobs[i].name, "stage", m->jobs[i].stage,
                                        "failure_reason", m->jobs[i].failure_reason, "url", ju));
        free(ju);
    }
    json_t *pl = json_pack("{s:I,s:I,s:s,s:s,s:b,s:s,s:s,s:s}", "id", (json_int_t)m->p->id, "iid",
                           (json_int_t)m->p->iid, "status", m->p->status, "ref", m->p->ref, "tag",
                           m->p->is_tag, "sha", m->p->sha ? m->p->sha : "", "source",
                           m->p->source ? m->p->source : "", "url", m->url);
    json_object_set_new(pl, "created_at", sl_srv_time_json(m->p->created_at));
    json_object_set_new(pl, "finished_at", sl_srv_time_json(m->p->finished_at));
    json_t *o = json_pack("{s:s,s:s,s:{s:I,s:s},s:o,s:o}", "object_kind", "pipeline", "event",
                          m->event, "project", "id", (json_int_t)m->proj->id, "name", m->proj->name,
                          "pipeline", pl, "failed_jobs", failed);
    char *text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    return text;
}

static char *chat_text(const struct message *m, bool markdown)
{
    struct sl_str t = SL_STR_INIT;
    char *sum = summary(m);
    if (markdown)
        sl_str_addf(&t, "<%s|%s>", m->url, sum);
    else
        sl_str_addf(&t, "%s %s", sum, m->url);
    size_t named = 0;
    for (size_t i = 0; i < m->njobs && named < FAILED_JOBS_MAX; i++)
        if (job_failed(&m->jobs[i])) {
            sl_str_addf(&t, "%s%s", named ? ", " : "\nfailed jobs: ", m->jobs[i].name);
            named++;
        }
    free(sum);
    return sl_str_detach(&t);
}

/* The header-safe form of S (no CR or LF). */
static void header_safe(struct sl_str *out, const char *s)
{
    for (; *s; s++)
        if (*s != '\r' && *s != '\n')
            sl_str_add(out, s, 1);
}

static char *mail_message(struct sl_server *s, const struct message *m, const char *rcpt)
{
    struct sl_str t = SL_STR_INIT;
    char date[64];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
    char *sum = summary(m);
    sl_str_adds(&t, "From: ");
    header_safe(&t, s->smtp_from ? s->smtp_from : "sluice");
    sl_str_adds(&t, "\r\nTo: ");
    header_safe(&t, rcpt);
    sl_str_addf(&t, "\r\nDate: %s\r\nSubject: [sluice] ", date);
    header_safe(&t, sum);
    sl_str_adds(&t, "\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
                    "Content-Transfer-Encoding: 8bit\r\nAuto-Submitted: auto-generated\r\n\r\n");
    sl_str_addf(&t, "%s\r\n\r\nPipeline: %s\r\nCommit:   %s\r\nSource:   %s\r\n", sum, m->url,
                m->p->sha ? m->p->sha : "", m->p->source ? m->p->source : "");
    size_t named = 0;
    for (size_t i = 0; i < m->njobs && named < FAILED_JOBS_MAX; i++) {
        const struct sl_store_job *j = &m->jobs[i];
        if (!job_failed(j))
            continue;
        named++;
        sl_str_addf(&t, "\r\nFailed job: %s (stage %s%s%s)\r\n  %s/jobs/%" PRId64 "\r\n", j->name,
                    j->stage, j->failure_reason ? ", " : "",
                    j->failure_reason ? j->failure_reason : "", s->external_url, j->id);
        log_tail(s, j->id, &t);
    }
    sl_str_adds(&t, "\r\n-- \r\nsluice\r\n");
    free(sum);
    return sl_str_detach(&t);
}

/* Queues M to rule R. */
static int queue_message(struct sl_server *s, const struct sl_store_notify_rule *r,
                         const struct message *m, struct sl_error *err)
{
    char kind[32];
    char *body = NULL;
    snprintf(kind, sizeof(kind), "notify:%s", r->channel);
    if (!strcmp(r->channel, "webhook")) {
        body = webhook_body(s, m);
    } else if (!strcmp(r->channel, "slack")) {
        char *text = chat_text(m, true);
        json_t *o = json_pack("{s:s,s:s}", "text", text, "username", "sluice");
        body = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
        json_decref(o);
        free(text);
    } else if (!strcmp(r->channel, "matrix")) {
        char *text = chat_text(m, false);
        json_t *o = json_pack("{s:s,s:s}", "msgtype", "m.text", "body", text);
        body = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
        json_decref(o);
        free(text);
    } else {
        body = mail_message(s, m, r->target);
    }
    int rc = sl_srv_delivery_queue(s, r->project_id, r->id, kind, r->target,
                                   !strcmp(r->channel, "matrix") ? "PUT" : "POST", body, err);
    free(body);
    return rc;
}

/* Queues EVENT of P to the rules of its project that want it (every rule when FORCE). */
static int notify(struct sl_server *s, const struct sl_store_pipeline *p, const char *event,
                  bool force, size_t *queued, struct sl_error *err)
{
    struct sl_store_project proj = {0};
    struct sl_store_notify_rule *rules = NULL;
    size_t nrules = 0;
    struct message m = {.proj = &proj, .p = p, .event = event};
    int rc;
    if ((rc = sl_store_notify_rule_list(s->st, p->project_id, false, &rules, &nrules, err)) < 0 ||
        nrules == 0)
        goto out;
    if ((rc = sl_store_project_get(s->st, p->project_id, &proj, err)) < 0)
        goto out;
    if (p->id && (rc = sl_store_job_list_by_pipeline(s->st, p->id, &m.jobs, &m.njobs, err)) < 0)
        goto out;
    m.url = sl_xasprintf("%s/pipelines/%" PRId64, s->external_url, p->id);
    for (size_t i = 0; rc == 0 && i < nrules; i++)
        if (force || (rule_wants(&rules[i], event) && rule_ref_ok(s, &rules[i], &proj, p))) {
            rc = queue_message(s, &rules[i], &m, err);
            if (rc == 0 && queued)
                (*queued)++;
        }
out:
    free(m.url);
    sl_store_jobs_free(m.jobs, m.njobs);
    sl_store_notify_rules_free(rules, nrules);
    sl_store_project_release(&proj);
    return rc;
}

void sl_srv_notify_pipeline(struct sl_server *s, const struct sl_store_pipeline *p)
{
    struct sl_error err = SL_ERROR_INIT;
    if (notify(s, p, ref_event(s, p), false, NULL, &err) < 0) {
        atomic_fetch_add(&s->metrics.store_errors, 1);
        sl_log(SL_LOG_ERROR, "cannot queue a pipeline's notifications", "error",
               sl_error_format(&err), NULL);
    }
    sl_error_release(&err);
}

/* ---- the API ---- */

/* NULL when the rule's stored events cannot be read (logged): the caller answers 500 */
static json_t *rule_json(const struct sl_store_notify_rule *r, bool has_secret)
{
    json_t *ev = sl_srv_stored_json(r->events, JSON_ARRAY, "notification rule's events", r->id);
    if (!ev)
        return NULL;
    json_t *o =
        json_pack("{s:I,s:s,s:s,s:o,s:s,s:b}", "id", (json_int_t)r->id, "channel", r->channel,
                  "target", r->target, "events", ev, "refs", r->refs, "has_secret", has_secret);
    json_object_set_new(o, "created_at", sl_srv_time_json(r->created_at));
    return o;
}

/* Whether ADDR is one plain mail address (no display name, nothing a header could split). */
static bool mail_address(const char *a)
{
    const char *at = strchr(a, '@');
    return at && at != a && at[1] && !strchr(at + 1, '@') && strlen(a) <= 254 &&
           !strpbrk(a, " \t\r\n<>()[],;:\"\\");
}

void sl_h_notification_create(struct req *r)
{
    struct sl_error err = SL_ERROR_INIT;
    struct sl_store_project proj = {0};
    char *ev_text = NULL;
    json_t *b = sl_body_json(r);
    if (!b)
        return;
    /* the fields and their types were checked before (validate.c) */
    const char *channel = json_string_value(json_object_get(b, "channel"));
    const char *target = json_string_value(json_object_get(b, "target"));
    const char *refs = json_string_value(json_object_get(b, "refs"));
    const char *secret = json_string_value(json_object_get(b, "secret"));
    json_t *ev = json_object_get(b, "events");
    if (!one_of(channel, channels, SL_ARRAY_LEN(channels))) {
        sl_reply_error(r, 400, "invalid", "channel must be webhook, slack, matrix or email");
        goto out;
    }
    bool email = !strcmp(channel, "email");
    if (!target || strlen(target) > 2048 ||
        (email ? !mail_address(target)
               : (strncmp(target, "http://", 7) && strncmp(target, "https://", 8)) ||
                     strpbrk(target, " \r\n"))) {
        sl_reply_error(r, 400, "invalid", "target must be %s",
                       email ? "one mail address" : "an http:// or https:// URL");
        goto out;
    }
    if (email && (!r->s->smtp_url || !r->s->smtp_from)) {
        sl_reply_error(r, 400, "invalid",
                       "this server sends no mail: start it with --smtp-url and --smtp-from");
        goto out;
    }
    if (json_object_get(b, "refs") && !one_of(refs, ref_kinds, SL_ARRAY_LEN(ref_kinds))) {
        sl_reply_error(r, 400, "invalid", "refs must be all, protected or default");
        goto out;
    }
    if (json_object_get(b, "secret") &&
        (!secret || strlen(secret) > 4096 || strpbrk(secret, "\r\n"))) {
        sl_reply_error(r, 400, "invalid", "secret must be a string (a single line)");
        goto out;
    }
    if (!strcmp(channel, "matrix") && (!secret || !*secret)) {
        sl_reply_error(r, 400, "invalid", "a matrix rule needs its access token as secret");
        goto out;
    }
    json_t *evs = json_array();
    if (!ev) {
        json_array_append_new(evs, json_string("failed"));
        json_array_append_new(evs, json_string("fixed"));
    } else {
        size_t i;
        json_t *v;
        bool good = json_is_array(ev) && json_array_size(ev) > 0;
        json_array_foreach(ev, i, v)
        {
            const char *e = json_string_value(v);
            if (!one_of(e, events, SL_ARRAY_LEN(events)))
                good = false;
            else
                json_array_append_new(evs, json_string(e));
        }
        if (!good) {
            json_decref(evs);
            sl_reply_error(r, 400, "invalid", "events must be a list of failed, fixed and success");
            goto out;
        }
    }
    ev_text = json_dumps(evs, JSON_COMPACT);
    json_decref(evs);
    struct sl_store_notify_rule rule = {.project_id = r->id,
                                        .channel = (char *)channel,
                                        .target = (char *)target,
                                        .events = ev_text,
                                        .refs = (char *)(refs ? refs : "all"),
                                        .secret = (char *)secret};
    int rc = sl_store_project_get(r->s->st, r->id, &proj, &err);
    if (rc == 0)
        rc = sl_store_notify_rule_create(r->s->st, &rule, sl_time_now_ms(), &rule.id, &err);
    if (rc < 0) {
        sl_reply_sl_error(r, rc, &err);
        goto out;
    }
    sl_srv_audit_on(r, "notification.create", "notification", rule.id);
    rule.created_at = sl_time_now_ms();
    sl_reply_json(r, 201, rule_json(&rule, secret && *secret));
out:
    free(ev_text);
    sl_store_project_release(&proj);
    json_decref(b);
    sl_error_release(&err);
}

void sl_h_notification_list(struct req *r)
{
    struct sl_error err = SL_ERROR_INIT;
    struct sl_store_project proj = {0};
    struct sl_store_notify_rule *rules = NULL;
    size_t n = 0;
    int rc = sl_store_project_get(r->s->st, r->id, &proj, &err);
    /* secrets opened only to say whether there is one */
    if (rc == 0)
        rc = sl_store_notify_rule_list(r->s->st, r->id, true, &rules, &n, &err);
    if (rc < 0) {
        sl_reply_sl_error(r, rc, &err);
    } else {
        json_t *a = json_array();
        for (size_t i = 0; i < n && a; i++) {
            json_t *o = rule_json(&rules[i], rules[i].secret && *rules[i].secret);
            if (!o) {
                sl_reply_error(r, 500, "internal",
                               "notification rule %lld cannot be read (its stored events are "
                               "not a JSON array): delete it and create it again",
                               (long long)rules[i].id);
                json_decref(a);
                a = NULL;
            } else {
                json_array_append_new(a, o);
            }
        }
        if (a)
            sl_reply_json(r, 200, a);
    }
    sl_store_notify_rules_free(rules, n);
    sl_store_project_release(&proj);
    sl_error_release(&err);
}

void sl_h_notification_delete(struct req *r)
{
    struct sl_error err = SL_ERROR_INIT;
    char *end;
    long long id = strtoll(r->key, &end, 10);
    if (*end || id <= 0) {
        sl_reply_error(r, 404, "not_found", "no notification rule '%s'", r->key);
        return;
    }
    int rc = sl_store_notify_rule_delete(r->s->st, r->id, id, &err);
    if (rc < 0) {
        sl_reply_sl_error(r, rc, &err);
    } else {
        sl_srv_audit_on(r, "notification.delete", "notification", id);
        r->status = 204;
    }
    sl_error_release(&err);
}

/* POST /api/v1/projects/{id}/notifications/test: a sample message to every rule, about the
 * project's latest pipeline (or a made-up one when it has none). */
void sl_h_notification_test(struct req *r)
{
    struct sl_error err = SL_ERROR_INIT;
    struct sl_store_project proj = {0};
    struct sl_store_pipeline *ps = NULL;
    size_t n = 0, queued = 0;
    struct sl_store_page page = {.limit = 1};
    int rc = sl_store_project_get(r->s->st, r->id, &proj, &err);
    if (rc == 0)
        rc = sl_store_pipeline_list(r->s->st, r->id, &page, &ps, &n, &err);
    struct sl_store_pipeline sample = {.project_id = r->id,
                                       .status = (char *)"success",
                                       .ref = proj.default_branch ? proj.default_branch
                                                                  : (char *)"main",
                                       .sha = (char *)"",
                                       .source = (char *)"api"};
    if (rc == 0)
        rc = notify(r->s, n ? &ps[0] : &sample, "test", true, &queued, &err);
    if (rc < 0) {
        sl_reply_sl_error(r, rc, &err);
    } else {
        sl_srv_audit_on(r, "notification.test", "project", r->id);
        sl_reply_json(r, 202, json_pack("{s:I}", "queued", (json_int_t)queued));
    }
    sl_store_pipelines_free(ps, n);
    sl_store_project_release(&proj);
    sl_error_release(&err);
}
