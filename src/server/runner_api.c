/* runner_api.c: GitLab's runner endpoints under /api/v4, as gitlab-runner 17/18 (network/
 * gitlab.go) and `sluice agent` call them: verify, register, unregister, jobs/request
 * (long-polled), job updates and trace patches. Codes and headers are GitLab's, since the
 * runner acts on them: 403 or Job-Status failed/canceled aborts the job, 416 with Range
 * resends the trace from there, 412 resends all of it, X-GitLab-Trace-Update-Interval sets
 * how often it reports. */
#include "base/compat.h"
#include "base/alloc.h"
#include "base/log.h"
#include "base/time.h"
#include "server/runner.h"

#include <inttypes.h>

static void forbidden(struct req *r)
{
    sl_reply_json(r, 403, json_pack("{s:s}", "message", "403 Forbidden"));
}

/* The request's runner token: the body's "token", else the RUNNER-TOKEN header. Borrowed
 * from BODY or the request. */
static const char *runner_token(struct req *r, json_t *body)
{
    const char *t = json_string_value(json_object_get(body, "token"));
    return t ? t : sl_header_arg(r, "RUNNER-TOKEN");
}

/* Authenticates the runner of R into *RN and records that it was seen with what its
 * "info" says; false with R answered (403) otherwise. */
static bool runner_auth(struct req *r, json_t *body, struct sl_store_runner *rn)
{
    struct sl_error err = SL_ERROR_INIT;
    int rc = sl_store_runner_verify(r->s->st, runner_token(r, body), rn, &err);
    if (rc == SL_ENOENT)
        forbidden(r);
    else if (rc < 0)
        sl_reply_sl_error(r, rc, &err);
    sl_error_release(&err);
    if (rc < 0)
        return false;
    json_t *info = json_object_get(body, "info");
    struct sl_error cerr = SL_ERROR_INIT;
    if (sl_store_runner_contacted(r->s->st, rn, json_string_value(json_object_get(info, "version")),
                                  json_string_value(json_object_get(info, "platform")),
                                  json_string_value(json_object_get(info, "architecture")),
                                  json_string_value(json_object_get(info, "executor")),
                                  sl_time_now_ms(), &cerr) < 0)
        sl_log(SL_LOG_WARN, "cannot record a runner's contact", "error", sl_error_format(&cerr),
               NULL);
    sl_error_release(&cerr);
    return true;
}

/* The body as JSON; an empty body is an empty object (gitlab-runner always sends one, a
 * probe may not). */
static json_t *body_or_empty(struct req *r)
{
    if (r->body_len == 0)
        return json_object();
    return sl_body_json(r);
}

static json_t *token_answer(int64_t id, const char *token)
{
    return json_pack("{s:I,s:s,s:n}", "id", (json_int_t)id, "token", token, "token_expires_at");
}

void sl_h_v4_runner_verify(struct req *r)
{
    json_t *body = body_or_empty(r);
    struct sl_store_runner rn = {0};
    if (body && runner_auth(r, body, &rn))
        sl_reply_json(r, 200, token_answer(rn.id, runner_token(r, body)));
    sl_store_runner_release(&rn);
    json_decref(body);
}

/* GitLab's tag_list: a comma-separated string (or an array from newer clients). */
static void tags_from(json_t *v, struct sl_store_runner *rn)
{
    size_t cap = 0;
    if (json_is_array(v)) {
        size_t i;
        json_t *t;
        json_array_foreach(v, i, t)
        {
            if (json_is_string(t) && *json_string_value(t)) {
                SL_GROW(rn->tags, cap, rn->ntags + 1);
                rn->tags[rn->ntags++] = sl_xstrdup(json_string_value(t));
            }
        }
        return;
    }
    const char *s = json_string_value(v);
    while (s && *s) {
        size_t n = strcspn(s, ",");
        const char *a = s, *b = s + n;
        while (a < b && *a == ' ')
            a++;
        while (b > a && b[-1] == ' ')
            b--;
        if (b > a) {
            SL_GROW(rn->tags, cap, rn->ntags + 1);
            rn->tags[rn->ntags++] = sl_xstrndup(a, (size_t)(b - a));
        }
        s += n + (s[n] == ',');
    }
}

void sl_h_v4_runner_register(struct req *r)
{
    json_t *body = body_or_empty(r);
    struct sl_store_runner rn = {0};
    struct sl_error err = SL_ERROR_INIT;
    char *token = NULL;
    int64_t id = 0;
    int rc;
    if (!body)
        return;
    rc = sl_store_registration_token_check(r->s->st, runner_token(r, body), &err);
    if (rc == SL_ENOENT) {
        forbidden(r);
        goto out;
    }
    if (rc < 0) {
        sl_reply_sl_error(r, rc, &err);
        goto out;
    }
    const char *desc = json_string_value(json_object_get(body, "description"));
    rn.name = (char *)(desc ? desc : "");
    rn.description = rn.name;
    tags_from(json_object_get(body, "tag_list"), &rn);
    json_t *ru = json_object_get(body, "run_untagged");
    /* GitLab: a runner without tags runs untagged jobs unless told otherwise */
    rn.run_untagged = json_is_boolean(ru) ? json_is_true(ru) : rn.ntags == 0;
    rn.locked = json_is_true(json_object_get(body, "locked"));
    rn.paused = json_is_true(json_object_get(body, "paused")) ||
                json_is_false(json_object_get(body, "active"));
    if ((rc = sl_store_runner_create(r->s->st, &rn, sl_time_now_ms(), &token, &id, &err)) < 0) {
        sl_reply_sl_error(r, rc, &err);
        goto out;
    }
    char target[48];
    snprintf(target, sizeof(target), "runner:%" PRId64, id);
    sl_audit(r, "registration-token", "runner.register", target, NULL);
    sl_reply_json(r, 201, token_answer(id, token));
out:
    rn.name = rn.description = NULL;
    sl_store_runner_release(&rn);
    free(token);
    sl_error_release(&err);
    json_decref(body);
}

void sl_h_v4_runner_delete(struct req *r)
{
    json_t *body = body_or_empty(r);
    struct sl_store_runner rn = {0};
    if (body && runner_auth(r, body, &rn)) {
        struct sl_error err = SL_ERROR_INIT;
        int rc = sl_store_runner_delete(r->s->st, rn.id, &err);
        if (rc < 0) {
            sl_reply_sl_error(r, rc, &err);
        } else {
            char target[48];
            snprintf(target, sizeof(target), "runner:%" PRId64, rn.id);
            sl_audit(r, target, "runner.unregister", target, NULL);
            r->status = 204;
            sl_str_reset(&r->out);
        }
        sl_error_release(&err);
    }
    sl_store_runner_release(&rn);
    json_decref(body);
}

static void no_content(struct req *r)
{
    sl_str_reset(&r->out);
    r->status = 204;
}

static void worker_id(const struct sl_store_runner *rn, char out[48])
{
    snprintf(out, 48, "runner:%" PRId64, rn->id);
}

/* Claims a job for RN and answers 201 with its payload; false when there was none. */
static bool hand_over(struct req *r, const struct sl_store_runner *rn)
{
    struct sl_server *s = r->s;
    struct sl_store_job job = {0};
    struct sl_store_pipeline p = {0};
    struct sl_error err = SL_ERROR_INIT;
    char wid[48], *token = NULL;
    struct sl_str payload = SL_STR_INIT;
    bool handed = false, have_p = false;
    worker_id(rn, wid);
    for (;;) {
        /* a runner without tags has rn->tags NULL, which the store reads as "no tag
         * filter" (the built-in workers): it must be an empty list, or an untagged runner
         * takes tagged jobs */
        static const char *const no_tags[] = {NULL};
        const char *const *tags = rn->tags ? (const char *const *)rn->tags : no_tags;
        int rc = sl_srv_claim(s, wid, tags, rn->ntags, rn->run_untagged, &job, &token, &p, &have_p,
                              &err);
        if (rc < 0) {
            sl_reply_sl_error(r, rc, &err);
            handed = true; /* answered */
            goto out;
        }
        if (rc == 0)
            goto out;
        /* the job's pipeline as the claim left it, for its commit status and its payload */
        if (sl_srv_job_claimed(s, &job, wid, have_p ? &p : NULL) &&
            !sl_srv_job_settle_bridge(s, &job, wid))
            break;
        /* refused (an outdated deployment) or settled (a bridge runs no script): the next;
         * the token the claim gave it opens nothing once it is no longer running */
        sl_store_pipeline_release(&p);
        memset(&p, 0, sizeof(p));
        have_p = false;
        sl_store_job_release(&job);
        free(token);
        token = NULL;
    }
    if (sl_srv_runner_payload(s, &job, have_p ? &p : NULL, rn, token, &payload, &err) < 0) {
        /* canceled in between, or unreadable: the job cannot run here; let it end as a
         * system failure rather than hang until its lease lapses */
        sl_log(SL_LOG_WARN, "cannot hand a job over", "error", sl_error_format(&err), NULL);
        struct srv_finish fin = {SL_SCHED_FAILURE_RUNNER_SYSTEM, SL_SCHED_NO_EXIT_CODE, wid,
                                 job.id};
        sl_srv_transition(s, job.pipeline_id, SRV_EV_FINISHED, (size_t)job.position, &fin, false,
                          NULL);
        goto out;
    }
    char num[32];
    snprintf(num, sizeof(num), "%" PRId64, job.id);
    sl_log(SL_LOG_INFO, "job handed to a runner", "job_id", num, "name", job.name, "runner", wid,
           NULL);
    sl_reply_json_text(r, 201, &payload);
    handed = true;
out:
    sl_str_release(&payload);
    free(token);
    sl_store_pipeline_release(&p);
    sl_store_job_release(&job);
    sl_error_release(&err);
    return handed;
}

void sl_h_v4_jobs_request(struct req *r)
{
    struct sl_server *s = r->s;
    json_t *body = body_or_empty(r);
    struct sl_store_runner rn = {0};
    unsigned long gen = sl_srv_runners_gen(s);
    int64_t now = sl_time_mono_ns() / 1000000;
    /* the runner's token, the claim's pick and the payload in one read transaction, the
     * claim's on the same connection (sl_store_read_begin; its snapshot begins after GEN, so
     * a job queued after it wakes the request again); it ends before the request is held */
    sl_store_read_begin(s->st);
    if (!body || !runner_auth(r, body, &rn))
        goto out;
    no_content(r);
    /* resumed after its client went away: a job handed over now would be lost with it */
    if (r->hold_deadline && !sl_srv_conn_alive(r->conn))
        goto out;
    if (rn.paused || atomic_load(&s->stopping))
        goto out;
    if (hand_over(r, &rn))
        goto out;
    if (s->long_poll_s > 0) {
        if (!r->hold_deadline)
            r->hold_deadline = now + (int64_t)s->long_poll_s * 1000;
        if (now < r->hold_deadline) {
            r->hold = true; /* the 204 stands if it cannot be held */
            r->hold_gen = gen;
        }
    }
out:
    sl_store_read_end(s->st);
    sl_store_runner_release(&rn);
    json_decref(body);
}

/* The job of the request's job token (the body's "token", else JOB-TOKEN). */
static bool job_auth(struct req *r, json_t *body, struct sl_store_job *job)
{
    const char *token = body ? json_string_value(json_object_get(body, "token")) : NULL;
    return sl_srv_runner_job_auth(r, token ? token : sl_header_arg(r, "JOB-TOKEN"), job);
}

/* 403 with Job-Status saying what became of the attempt, so a runner whose attempt is
 * over stops. */
bool sl_srv_runner_job_auth(struct req *r, const char *token, struct sl_store_job *job)
{
    struct sl_error err = SL_ERROR_INIT;
    int rc = sl_store_job_token_lookup(r->s->st, token, job, &err);
    sl_error_release(&err);
    if (rc < 0 && rc != SL_ENOENT) {
        sl_reply_error(r, 500, "internal", "cannot look the job token up");
        return false;
    }
    if (rc == SL_ENOENT || job->id != r->id) {
        /* an earlier attempt's token, or another job's: that attempt is over */
        sl_reply_header(r, "Job-Status", "failed");
        forbidden(r);
        return false;
    }
    if (strcmp(job->status, "running") != 0) {
        /* the attempt ended (a retry is a new job with a token of its own: this one's
         * attempt is over whatever the retry does) */
        bool ended = sl_sched_status_name_ended(job->status);
        sl_reply_header(r, "Job-Status", "%s", ended ? job->status : "failed");
        forbidden(r);
        return false;
    }
    return true;
}

bool sl_srv_job_on_remote_runner(const struct sl_store_job *j)
{
    return j->runner_id && !strcmp(j->status, "running") && !strncmp(j->runner_id, "runner:", 7);
}

const char *sl_srv_job_status_shown(const struct sl_store_job *j)
{
    return !strcmp(j->status, "running") && j->cancel_requested_at ? "canceling" : j->status;
}

/* How often a runner reports on a running job (X-GitLab-Trace-Update-Interval): every 3 s,
 * GitLab's interval for a job someone watches, since a cancel reaches a runner only in the
 * answer to a report (Job-Status: canceling); at most a third of the lease, which the
 * reports renew. A quiet job's report costs the server some 0.1 ms. */
#define SRV_TRACE_UPDATE_S 3

void sl_srv_runner_renew(struct req *r, const struct sl_store_job *job)
{
    int third = r->s->lease_s / 3 > 0 ? r->s->lease_s / 3 : 1;
    int every = third < SRV_TRACE_UPDATE_S ? third : SRV_TRACE_UPDATE_S;
    /* The lease is written only when a sixth of it has passed since it was last set: a
     * runner reports at least every third of it (the header below), so at every report the
     * deadline is still at least half a lease away, and a short job's patches and end (most
     * jobs) cost no store write each. */
    int64_t now = sl_time_now_ms(), lease_ms = (int64_t)r->s->lease_s * 1000;
    if (job->lease_deadline - now < lease_ms - lease_ms / 6)
        sl_store_job_renew_lease(r->s->st, job->id, job->runner_id, r->s->lease_s, now, NULL);
    sl_reply_header(r, "X-GitLab-Trace-Update-Interval", "%d", every);
}

/* The end of a runner's job: what it sends of the log with it, before its transition. */
struct end_log {
    const struct sl_store_job *job;
    json_t *trace;    /* "trace" or NULL */
    json_t *bytesize; /* "output"."bytesize" or NULL */
    bool grew;        /* bytes were appended (a stream wakes after the commit) */
    bool resend;      /* we hold less than BYTESIZE: 412, and no transition */
};

/* srv_tx_first_fn, in the end's transaction: "trace" (GitLab's field: the job's whole log),
 * which `sluice agent` sends with a short job's end instead of a last PATCH: the part past
 * what the server holds is appended, as a PATCH from there would append it (the bytes before
 * are the ones the runner sent then). gitlab-runner sends no trace here, and nothing is
 * written. 1 (the append alone is committed) when BYTESIZE says the runner sent more. */
static int end_log(struct sl_server *s, void *arg, struct sl_error *err)
{
    struct end_log *el = arg;
    int64_t have = 0;
    bool capped = false;
    int rc = sl_store_log_size(s->st, el->job->id, &have, err);
    if (rc < 0)
        return rc;
    if (json_is_string(el->trace) && (int64_t)json_string_length(el->trace) > have &&
        have <= sl_store_log_max(s->st)) {
        size_t n = json_string_length(el->trace) - (size_t)have;
        rc =
            sl_srv_log_append(s, el->job->id, el->job->pipeline_id,
                              json_string_value(el->trace) + have, n, sl_time_now_ms(), &have, err);
        /* past the log cap the rest is dropped, as a PATCH's is */
        if (rc == SL_ELIMIT) {
            sl_error_release(err);
            capped = true;
            rc = 0;
        }
        if (rc < 0)
            return rc;
        el->grew = true;
    }
    if (!capped && json_is_integer(el->bytesize) && json_integer_value(el->bytesize) > have &&
        json_integer_value(el->bytesize) <= sl_store_log_max(s->st)) {
        el->resend = true;
        return 1;
    }
    return 0;
}

void sl_h_v4_job_update(struct req *r)
{
    struct sl_server *s = r->s;
    json_t *body = sl_body_json(r);
    struct sl_store_job job = {0};
    /* the token's lookup and the end's transaction on one connection (sl_store_read_begin) */
    sl_store_read_begin(s->st);
    if (!body || !job_auth(r, body, &job))
        goto out;
    sl_srv_runner_renew(r, &job);
    const char *state = json_string_value(json_object_get(body, "state"));
    if (!state || !strcmp(state, "running")) {
        sl_reply_header(r, "Job-Status", "%s", sl_srv_job_status_shown(&job));
        sl_reply_json(r, 200, json_object());
        goto out;
    }
    if (strcmp(state, "success") != 0 && strcmp(state, "failed") != 0) {
        sl_reply_error(r, 400, "invalid", "state must be running, success or failed, not '%s'",
                       state);
        goto out;
    }
    enum sl_sched_failure f = SL_SCHED_FAILURE_NONE;
    if (!strcmp(state, "failed")) {
        const char *why = json_string_value(json_object_get(body, "failure_reason"));
        if (!why || sl_sched_failure_parse(why, &f) < 0 || f == SL_SCHED_FAILURE_NONE)
            f = SL_SCHED_FAILURE_UNKNOWN;
    }
    json_t *ec = json_object_get(body, "exit_code");
    struct srv_finish fin = {
        f, json_is_integer(ec) ? (int)json_integer_value(ec) : SL_SCHED_NO_EXIT_CODE, job.runner_id,
        job.id};
    struct sl_error err = SL_ERROR_INIT;
    /* the end of an attempt that was canceling is its cancel, whatever the runner says (as
     * GitLab's: gitlab-runner reports failed, job_canceled) */
    bool canceling = job.cancel_requested_at != 0;
    if (canceling)
        state = "canceled";
    /* the log's last bytes (end_log) and the end in one transaction */
    struct end_log el = {.job = &job,
                         .trace = json_object_get(body, "trace"),
                         .bytesize = json_object_get(json_object_get(body, "output"), "bytesize")};
    int rc = canceling
                 ? sl_srv_transition_after(s, job.pipeline_id, SRV_EV_CANCEL_JOB,
                                           (size_t)job.position, NULL, false, end_log, &el, &err)
                 : sl_srv_transition_after(s, job.pipeline_id, SRV_EV_FINISHED,
                                           (size_t)job.position, &fin, false, end_log, &el, &err);
    /* the log's streams are woken once it is committed */
    if (el.grew && rc == 0)
        sl_streams_log_grew(s, job.id);
    if (rc == 0 && el.resend) {
        /* the runner says how much log it sent; when we hold less, it resends (412) */
        sl_reply_header(r, "Job-Status", "%s", sl_srv_job_status_shown(&job));
        sl_reply_json(r, 412, json_pack("{s:s}", "message", "trace validation failed"));
        sl_error_release(&err);
        goto out;
    }
    /* the machine keeps a job it was asked to stop running until its end is told, so the
     * cancel stores the job canceled but leaves the pipeline running (an auto-canceled or
     * canceled pipeline whose last job was an agent's stayed `running`): settled again from
     * the rows, it ends */
    if (rc == 0 && canceling)
        rc = sl_srv_transition(s, job.pipeline_id, SRV_EV_SETTLE, 0, NULL, false, &err);
    if (rc < 0) {
        sl_reply_sl_error(r, rc, &err);
    } else {
        char num[32];
        snprintf(num, sizeof(num), "%" PRId64, job.id);
        sl_log(SL_LOG_INFO, "job finished", "job_id", num, "name", job.name, "outcome", state,
               "runner", job.runner_id, NULL);
        sl_reply_header(r, "Job-Status", "%s", state);
        sl_reply_json(r, 200, json_object());
    }
    sl_error_release(&err);
out:
    sl_store_read_end(s->st);
    sl_store_job_release(&job);
    json_decref(body);
}

/* Offsets past this are refused, so END - START + 1 and END + 1 never overflow (a log
 * is capped far below it). */
#define RANGE_OFFSET_MAX (INT64_C(1) << 62)

/* "START-END" (END inclusive) of a Content-Range; false when malformed or out of range. */
static bool parse_range(const char *h, int64_t *start, int64_t *end)
{
    char *e;
    if (!h)
        return false;
    if (!strncmp(h, "bytes ", 6))
        h += 6;
    long long a = strtoll(h, &e, 10);
    if (e == h || *e != '-' || a < 0 || a > RANGE_OFFSET_MAX)
        return false;
    const char *b = e + 1;
    long long z = strtoll(b, &e, 10);
    if (e == b || (*e && *e != '/') || z < a - 1 || z > RANGE_OFFSET_MAX)
        return false;
    *start = a;
    *end = z;
    return true;
}

void sl_h_v4_job_trace(struct req *r)
{
    struct sl_server *s = r->s;
    struct sl_store_job job = {0};
    int64_t size = 0, start = 0, end = 0;
    struct sl_error err = SL_ERROR_INIT;
    /* the token's lookup and the log's size in one read transaction, the append after them
     * on the same connection (sl_store_read_begin) */
    sl_store_read_begin(s->st);
    if (!job_auth(r, NULL, &job))
        goto out;
    sl_srv_runner_renew(r, &job);
    if (sl_store_log_size(s->st, job.id, &size, &err) < 0) {
        sl_reply_sl_error(r, 500, &err);
        goto out;
    }
    const char *cr = sl_header_arg(r, "Content-Range");
    if (!cr) {
        start = size;
        end = size + (int64_t)r->body_len - 1;
    } else if (!parse_range(cr, &start, &end) || end - start + 1 != (int64_t)r->body_len) {
        sl_reply_header(r, "Range", "0-%" PRId64, size);
        sl_reply_error(r, 400, "invalid", "Content-Range must be START-END of the body's bytes");
        goto out;
    }
    /* a log at its cap takes nothing more: what comes after is dropped, never a gap (a
     * capped log is longer than the cap by its last line, the note saying so) */
    int64_t cap = sl_store_log_max(s->st);
    bool full = size > cap || (start > size && end + 1 > cap);
    if (start != size && !full) {
        /* a gap or an overlap: the runner resends from what we hold */
        sl_reply_header(r, "Range", "0-%" PRId64, size);
        sl_reply_header(r, "Job-Status", "%s", sl_srv_job_status_shown(&job));
        sl_reply_json(r, 416, json_pack("{s:s}", "message", "416 Range Not Satisfiable"));
        goto out;
    }
    if (full) {
        size = end + 1;
    } else if (r->body_len) {
        int rc = sl_srv_log_append(s, job.id, job.pipeline_id, r->body, r->body_len,
                                   sl_time_now_ms(), &size, &err);
        if (rc == 0 || rc == SL_ELIMIT)
            sl_streams_log_grew(s, job.id);
        /* past the log cap the rest is dropped, as the built-in workers do */
        if (rc < 0 && rc != SL_ELIMIT) {
            sl_reply_sl_error(r, rc, &err);
            goto out;
        }
        if (rc == SL_ELIMIT)
            size = end + 1;
    }
    sl_reply_header(r, "Range", "0-%" PRId64, size);
    /* "canceling": the runner stops the script, runs after_script and reports */
    sl_reply_header(r, "Job-Status", "%s", sl_srv_job_status_shown(&job));
    sl_reply_json(r, 202, json_object());
out:
    sl_store_read_end(s->st);
    sl_error_release(&err);
    sl_store_job_release(&job);
}
