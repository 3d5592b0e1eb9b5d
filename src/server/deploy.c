/* deploy.c: environments and deployments as GitLab keeps them, driven by the jobs.
 *
 * A pipeline's jobs with `environment:` are recorded when the pipeline is made: each names
 * its environment (made on first use) and what it does to it. A job whose action is
 * `start` (the default) makes a deployment; `stop` stops the environment when it
 * succeeds; `prepare`, `verify` and `access` only use it. From then on the deployment
 * follows its job: every change of a job's status (transitions.c, a worker's claim)
 * comes through sl_srv_deploy_job_moved, which is a no-op for jobs without an environment.
 *
 * Two checks run when a worker or an agent claims a deploying job, where GitLab enqueues
 * it. Deploy access: a job of a protected environment runs only for a token that may
 * deploy to it (whoever created the pipeline, or played, retried or rolled back the job;
 * or its approvers when it needed approvals), else it fails with
 * protected_environment_failure. What GitLab calls "outdated deployment prevention": a job
 * of an older pipeline than the environment's latest successful deployment fails with
 * forward_deployment_failure instead of running over it, unless it is a rollback (GitLab
 * lets a rollback re-run an older job on purpose). */
#include "base/compat.h"
#include "base/alloc.h"
#include "base/arena.h"
#include "base/log.h"
#include "base/time.h"
#include "server/internal.h"

#include <fnmatch.h>
#include <jansson.h>

/* How long an environment whose auto_stop_in is over waits before its stop is tried again when
 * its on_stop job cannot be played yet (its stage not reached) */
#define DEPLOY_STOP_RETRY_MS 5000

/* GitLab's wording for forward_deployment_failure (Ci::Build failure reasons) */
#define FORWARD_DEPLOYMENT_MESSAGE                                                                 \
    "The deployment job is older than the latest deployment, and therefore failed."

/* GitLab's wording for protected_environment_failure (its job failure messages) */
#define PROTECTED_ENVIRONMENT_MESSAGE                                                              \
    "The environment this job is deploying to is protected. Only users with permission may "       \
    "successfully run this job."

/* A job's status as a deployment's: waiting jobs keep the deployment created (or blocked). */
static const char *deployment_status(const char *job_status)
{
    static const char *const same[] = {"running", "success", "failed", "canceled", "skipped"};
    for (size_t i = 0; i < SL_ARRAY_LEN(same); i++)
        if (!strcmp(job_status, same[i]))
            return same[i];
    return "created";
}

static bool ended(const char *status)
{
    return !strcmp(status, "success") || !strcmp(status, "failed") || !strcmp(status, "canceled") ||
           !strcmp(status, "skipped");
}

static void log_store_error(struct sl_server *s, const char *what, const struct sl_error *err)
{
    atomic_fetch_add(&s->metrics.store_errors, 1);
    sl_log(SL_LOG_ERROR, what, "error", sl_error_format(err), NULL);
}

/* The protection of environment NAME (of tier TIER) in PROJECT_ID: the matching rule that
 * needs the most approvals (a name, a wildcard or a tier match). 1 with *out filled, 0 when
 * none matches. */
static int protection_of(struct sl_server *s, int64_t project_id, const char *name,
                         const char *tier, struct sl_store_protected_env *out)
{
    struct sl_store_protected_env *rules = NULL;
    size_t n = 0;
    int found = 0;
    if (sl_store_protected_env_list(s->st, project_id, &rules, &n, NULL) < 0)
        return 0;
    for (size_t i = 0; i < n; i++) {
        const char *pat = rules[i].name;
        if (strcmp(pat, name) && fnmatch(pat, name, 0) != 0 && (!tier || strcmp(pat, tier)))
            continue;
        if (found && rules[i].required_approval_count <= out->required_approval_count)
            continue;
        sl_store_protected_env_release(out);
        *out = rules[i];
        rules[i] = (struct sl_store_protected_env){0};
        found = 1;
    }
    sl_store_protected_envs_free(rules, n);
    return found;
}

/* Whether ACTOR ("token:<id>") of role ROLE may deploy to (and approve for) what RULE
 * protects: its role is high enough, or the rule names its token. */
static bool may_deploy(const struct sl_store_protected_env *rule, const char *actor,
                       const char *role)
{
    if (sl_server_role_rank(role) >= sl_server_role_rank(rule->deploy_role))
        return true;
    long long id = 0;
    if (!actor || sscanf(actor, "token:%lld", &id) != 1)
        return false;
    for (size_t i = 0; i < rule->ndeploy_tokens; i++)
        if (rule->deploy_tokens[i] == id)
            return true;
    return false;
}

/* The role ACTOR ("token:<id>") has now; NULL when ACTOR is no token (a webhook, the
 * poller: sluice cannot tell which forge user pushed) or its token was revoked or expired.
 * Caller frees. */
static char *actor_role(struct sl_server *s, const char *actor, int64_t now)
{
    long long id = 0;
    struct sl_store_token *t = NULL;
    size_t n = 0;
    char *role = NULL;
    if (!actor || sscanf(actor, "token:%lld", &id) != 1 || id < 1)
        return NULL;
    struct sl_store_page page = {.after = (int64_t)id - 1, .limit = 1};
    if (sl_store_token_list(s->st, &page, &t, &n, NULL) == 0 && n == 1 && t[0].id == id &&
        !t[0].revoked && (!t[0].expires_at || t[0].expires_at > now))
        role = sl_xstrdup(t[0].role);
    sl_store_tokens_free(t, n);
    return role;
}

/* Whether deployment D, about to run, has deploy access to what RULE protects: it needed
 * approvals and has them all (each approver had deploy access, sl_srv_deploy_decide), or
 * the token that triggered it (made the pipeline, played, retried or rolled back the job)
 * has deploy access now. */
static bool deploy_allowed(struct sl_server *s, const struct sl_store_deployment *d,
                           const struct sl_store_protected_env *rule, int64_t now)
{
    if (d->required_approvals > 0) {
        struct sl_store_approval *list = NULL;
        size_t n = 0, approved = 0;
        if (sl_store_approval_list(s->st, d->id, &list, &n, NULL) == 0)
            for (size_t i = 0; i < n; i++)
                approved += !strcmp(list[i].status, "approved");
        sl_store_approvals_free(list, n);
        if (approved >= (size_t)d->required_approvals)
            return true;
    }
    char *role = actor_role(s, d->triggered_by, now);
    bool ok = role && may_deploy(rule, d->triggered_by, role);
    free(role);
    return ok;
}

static int approvals_needed(struct sl_server *s, int64_t project_id, const struct sl_plan_job *pj)
{
    struct sl_store_protected_env rule = {0};
    int need = 0;
    if (pj->environment && !strcmp(pj->environment_action, "start") &&
        protection_of(s, project_id, pj->environment, pj->environment_tier, &rule))
        need = rule.required_approval_count;
    sl_store_protected_env_release(&rule);
    return need;
}

bool sl_srv_deploy_gate(struct sl_server *s, int64_t project_id, const struct sl_plan_job *pj,
                        json_t *spec)
{
    if (approvals_needed(s, project_id, pj) <= 0)
        return false;
    json_object_set_new(spec, "when", json_string("manual"));
    json_object_set_new(spec, "allow_failure", json_false());
    /* what the API says of the job while it is manual: blocked by approval, not a play */
    json_object_set_new(spec, "deployment_approval", json_true());
    return true;
}

int sl_srv_deploy_record(struct sl_server *s, const struct sl_store_pipeline *p,
                         const struct sl_plan *plan, const char *actor, struct sl_error *err)
{
    struct sl_store_job *jobs = NULL;
    size_t n = 0;
    int rc = 0;
    int64_t now = sl_time_now_ms();
    bool any = false;

    for (size_t i = 0; i < plan->njobs; i++)
        any = any || plan->jobs[i].environment;
    if (!any)
        return 0;
    if ((rc = sl_store_job_list_by_pipeline(s->st, p->id, &jobs, &n, err)) < 0)
        return rc;
    for (size_t i = 0; i < plan->njobs && i < n; i++) {
        const struct sl_plan_job *pj = &plan->jobs[i];
        if (!pj->environment)
            continue;
        struct sl_arena a = SL_ARENA_INIT;
        int64_t env_id = 0;
        rc = sl_store_environment_ensure(s->st, p->project_id, pj->environment,
                                         sl_plan_slugify(&a, pj->environment), pj->environment_tier,
                                         pj->environment_url, now, &env_id, err);
        sl_arena_release(&a);
        if (rc == 0 && pj->environment_kubernetes && !strcmp(pj->environment_action, "start"))
            rc =
                sl_store_environment_set_kubernetes(s->st, env_id, pj->environment_kubernetes, err);
        if (rc < 0)
            break;
        struct sl_store_environment_job ej = {0};
        ej.job_id = jobs[i].id;
        ej.environment_id = env_id;
        ej.action = (char *)pj->environment_action;
        ej.auto_stop_in_s = pj->environment_auto_stop_in_s;
        ej.url = (char *)(pj->environment_url_template ? pj->environment_url_template
                                                       : pj->environment_url);
        for (size_t k = 0; pj->environment_on_stop && k < plan->njobs && k < n; k++)
            if (!strcmp(plan->jobs[k].name, pj->environment_on_stop))
                ej.on_stop_job_id = jobs[k].id;
        if ((rc = sl_store_environment_job_add(s->st, &ej, err)) < 0)
            break;
        if (strcmp(pj->environment_action, "start") != 0)
            continue;
        struct sl_store_deployment d = {0};
        d.project_id = p->project_id;
        d.environment_id = env_id;
        d.job_id = jobs[i].id;
        d.pipeline_id = p->id;
        d.required_approvals = approvals_needed(s, p->project_id, pj);
        d.status = d.required_approvals > 0 ? (char *)"blocked"
                                            : (char *)deployment_status(jobs[i].status);
        d.sha = p->sha;
        d.ref = p->ref;
        char by[64];
        snprintf(by, sizeof(by), "pipeline:%s", p->source ? p->source : "api");
        d.triggered_by = actor ? (char *)actor : by;
        if ((rc = sl_store_deployment_create(s->st, &d, now, NULL, err)) < 0)
            break;
    }
    sl_store_jobs_free(jobs, n);
    return rc;
}

/* GitLab's dynamic environment URL: EJ's url still names variables its job did not have,
 * expanded now with the job's dotenv report (what stays undefined expands to nothing).
 * NULL when the url names none. Caller frees. */
static char *dynamic_url(struct sl_server *s, const struct sl_store_environment_job *ej)
{
    struct sl_store_job job = {0};
    struct sl_store_job_report *reps = NULL;
    struct sl_vars v = SL_VARS_INIT;
    size_t n = 0;
    char *url = NULL;
    if (!ej->url || !strchr(ej->url, '$') || sl_store_job_get(s->st, ej->job_id, &job, NULL) < 0)
        return NULL;
    if (sl_store_job_reports_by_pipeline(s->st, job.pipeline_id, &reps, &n, NULL) == 0)
        for (size_t i = 0; i < n; i++) {
            if (reps[i].job_id != ej->job_id || !reps[i].dotenv)
                continue;
            json_t *a = sl_srv_stored_json(reps[i].dotenv, JSON_ARRAY, "job's dotenv report",
                                           reps[i].job_id);
            size_t k;
            json_t *x;
            json_array_foreach(a, k, x)
            {
                const char *kv = json_string_value(x), *eq = kv ? strchr(kv, '=') : NULL;
                if (!eq)
                    continue;
                char *name = sl_xstrndup(kv, (size_t)(eq - kv));
                sl_vars_set(&v, name, eq + 1, false);
                free(name);
            }
            json_decref(a);
        }
    url = sl_vars_expand(&v, ej->url, false);
    sl_vars_release(&v);
    sl_store_job_reports_free(reps, n);
    sl_store_job_release(&job);
    return url;
}

/* The deploying job EJ moved to JOB_STATUS: its latest deployment follows. A job that runs
 * again after its deployment ended (a retry) makes a new deployment, as each GitLab retry
 * is a new job with a deployment of its own. */
static int follow_start(struct sl_server *s, const struct sl_store_environment_job *ej,
                        const char *job_status, int64_t now, struct sl_error *err)
{
    struct sl_store_deployment d = {0};
    const char *want = deployment_status(job_status);
    int rc = sl_store_deployment_get_by_job(s->st, ej->job_id, &d, err);
    if (rc < 0)
        goto out;
    /* a rejected deployment never ran: its job is played only to fail (sl_srv_deploy_decide) */
    if (!strcmp(d.status, "failed") && d.required_approvals > 0 && !d.started_at)
        goto out;
    if (ended(d.status) && !ended(want)) {
        struct sl_store_deployment nd = d;
        nd.status = (char *)want;
        nd.rollback_of = 0; /* who triggered it stays: GitLab's retry keeps the job's user */
        rc = sl_store_deployment_create(s->st, &nd, now, NULL, err);
        goto out;
    }
    if (!strcmp(d.status, want) || (!strcmp(d.status, "blocked") && !strcmp(want, "created")))
        goto out;
    if ((rc = sl_store_deployment_set_status(s->st, d.id, want, d.status, now, err)) < 0)
        goto out;
    if (!strcmp(want, "success")) {
        int64_t stop_at = ej->auto_stop_in_s > 0 ? now + ej->auto_stop_in_s * 1000 : 0;
        char *url = dynamic_url(s, ej);
        rc = sl_store_environment_set_state(s->st, ej->environment_id, "available", NULL, stop_at,
                                            url ? url : ej->url, now, err);
        free(url);
    }
out:
    sl_store_deployment_release(&d);
    return rc;
}

/* The stopping job EJ moved: running makes the environment stopping, success stopped, any
 * other end available again (the stop did not happen). */
static int follow_stop(struct sl_server *s, const struct sl_store_environment_job *ej,
                       const char *job_status, int64_t now, struct sl_error *err)
{
    const char *state = !strcmp(job_status, "running")   ? "stopping"
                        : !strcmp(job_status, "success") ? "stopped"
                        : ended(job_status)              ? "available"
                                                         : NULL;
    if (!state)
        return 0;
    struct sl_store_environment e = {0};
    int rc = sl_store_environment_get(s->st, ej->environment_id, &e, err);
    /* a failed stop of an environment nobody asked to stop changes nothing */
    if (rc == 0 && strcmp(e.state, state) &&
        (strcmp(state, "available") || !strcmp(e.state, "stopping")))
        rc = sl_store_environment_set_state(s->st, e.id, state, NULL, 0, NULL, now, err);
    sl_store_environment_release(&e);
    return rc;
}

/* The job of environment job EJ (read by the caller) now has status JOB_STATUS. */
static void job_moved_of(struct sl_server *s, const struct sl_store_environment_job *ej,
                         const char *job_status)
{
    struct sl_error err = SL_ERROR_INIT;
    int64_t now = sl_time_now_ms();
    int rc = 0;
    if (!strcmp(ej->action, "start"))
        rc = follow_start(s, ej, job_status, now, &err);
    else if (!strcmp(ej->action, "stop"))
        rc = follow_stop(s, ej, job_status, now, &err);
    if (rc < 0)
        log_store_error(s, "cannot record a deployment's status", &err);
    sl_error_release(&err);
}

void sl_srv_deploy_job_moved(struct sl_server *s, int64_t job_id, const char *job_status)
{
    struct sl_store_environment_job ej = {0};
    struct sl_error err = SL_ERROR_INIT;
    int rc = sl_store_environment_job_get(s->st, job_id, &ej, &err);
    if (rc == 0)
        job_moved_of(s, &ej, job_status);
    else if (rc != SL_ENOENT)
        log_store_error(s, "cannot record a deployment's status", &err);
    sl_store_environment_job_release(&ej);
    sl_error_release(&err);
}

void sl_srv_deploy_job_retried(struct sl_server *s, int64_t old_id, int64_t new_id)
{
    struct sl_store_environment_job ej = {0};
    struct sl_store_deployment d = {0};
    struct sl_error err = SL_ERROR_INIT;
    int rc = sl_store_environment_job_get(s->st, old_id, &ej, &err);
    if (rc == SL_ENOENT) {
        rc = 0;
        goto out;
    }
    if (rc < 0)
        goto out;
    int64_t was = ej.job_id;
    ej.job_id = new_id;
    rc = sl_store_environment_job_add(s->st, &ej, &err);
    ej.job_id = was;
    if (rc < 0 || strcmp(ej.action, "start"))
        goto out;
    if ((rc = sl_store_deployment_get_by_job(s->st, old_id, &d, &err)) == SL_ENOENT) {
        rc = 0;
        goto out;
    }
    if (rc < 0)
        goto out;
    if (!ended(d.status) && !d.started_at) {
        /* never ran (a rollback's, or one waiting for approval): the new job runs it */
        rc = sl_store_deployment_move_job(s->st, d.id, new_id, &err);
    } else {
        /* as each GitLab retry is a new job with a deployment of its own, triggered by
         * whoever triggered the attempt before (a retry through the API then names its
         * token: sl_srv_deploy_job_event) */
        struct sl_store_deployment nd = d;
        nd.job_id = new_id;
        nd.status = (char *)"created";
        nd.rollback_of = 0;
        rc = sl_store_deployment_create(s->st, &nd, sl_time_now_ms(), NULL, &err);
    }
out:
    if (rc < 0)
        log_store_error(s, "cannot give a retried job its deployment", &err);
    sl_store_deployment_release(&d);
    sl_store_environment_job_release(&ej);
    sl_error_release(&err);
}

/* Ends claimed JOB without running it: LINE in its log, then failed with REASON. */
static void fail_unrun(struct sl_server *s, const struct sl_store_job *job, const char *worker_id,
                       enum sl_sched_failure reason, const char *line)
{
    struct sl_error err = SL_ERROR_INIT;
    sl_store_log_append(s->st, job->id, line, strlen(line), sl_time_now_ms(), NULL, NULL);
    struct srv_finish fin = {reason, SL_SCHED_NO_EXIT_CODE, worker_id, job->id};
    if (sl_srv_transition(s, job->pipeline_id, SRV_EV_FINISHED, (size_t)job->position, &fin, false,
                          &err) < 0)
        log_store_error(s, "cannot fail a deployment job that may not run", &err);
    sl_error_release(&err);
}

/* Whether claimed JOB of environment job EJ (a start, read by the caller) is refused
 * (sl_srv_deploy_claimed), failed then. */
static bool refuse_of(struct sl_server *s, const struct sl_store_job *job, const char *worker_id,
                      const struct sl_store_environment_job *ej)
{
    struct sl_store_deployment d = {0}, last = {0};
    struct sl_store_environment e = {0};
    struct sl_store_protected_env rule = {0};
    struct sl_error err = SL_ERROR_INIT;
    bool refuse = false;
    char line[512];

    if (sl_store_deployment_get_by_job(s->st, job->id, &d, &err) < 0)
        goto out;
    if (!strcmp(d.status, "failed") && d.required_approvals > 0) {
        /* rejected by an approver: played only so that it fails as GitLab fails it */
        refuse = true;
        fail_unrun(s, job, worker_id, SL_SCHED_FAILURE_DEPLOYMENT_REJECTED,
                   "ERROR: The deployment was rejected by its approvers.\n");
        goto out;
    }
    if (sl_store_environment_get(s->st, ej->environment_id, &e, &err) < 0)
        goto out;
    /* GitLab drops a job of a protected environment its user may not deploy to when it
     * would be enqueued: here when it is claimed, before anything of it runs */
    if (protection_of(s, d.project_id, e.name, e.tier, &rule) &&
        !deploy_allowed(s, &d, &rule, sl_time_now_ms())) {
        refuse = true;
        snprintf(line, sizeof(line),
                 "ERROR: " PROTECTED_ENVIRONMENT_MESSAGE " (%s may not deploy to %s: that needs "
                 "the %s role or a token the protection names)\n",
                 d.triggered_by, e.name, rule.deploy_role);
        fail_unrun(s, job, worker_id, SL_SCHED_FAILURE_PROTECTED_ENVIRONMENT, line);
        goto out;
    }
    if (d.rollback_of || !e.last_deployment_id || e.last_deployment_id == d.id)
        goto out;
    if (sl_store_deployment_get(s->st, e.last_deployment_id, &last, &err) < 0)
        goto out;
    refuse = last.pipeline_id > d.pipeline_id;
    if (refuse) { /* unless the project switched the prevention off */
        struct sl_store_project proj = {0};
        if (sl_store_project_get(s->st, e.project_id, &proj, &err) == 0)
            refuse = !proj.outdated_deployments_allowed;
        sl_store_project_release(&proj);
    }
    if (!refuse)
        goto out;
    snprintf(line, sizeof(line),
             "ERROR: " FORWARD_DEPLOYMENT_MESSAGE " (%s runs deployment #%lld of "
             "pipeline %lld; this job is of pipeline %lld)\n",
             e.name, (long long)last.iid, (long long)last.pipeline_id, (long long)d.pipeline_id);
    fail_unrun(s, job, worker_id, SL_SCHED_FAILURE_FORWARD_DEPLOYMENT, line);
out:
    sl_store_deployment_release(&d);
    sl_store_deployment_release(&last);
    sl_store_environment_release(&e);
    sl_store_protected_env_release(&rule);
    sl_error_release(&err);
    return refuse;
}

bool sl_srv_deploy_claimed(struct sl_server *s, const struct sl_store_job *job,
                           const char *worker_id)
{
    struct sl_store_environment_job ej = {0};
    struct sl_error err = SL_ERROR_INIT;
    bool refuse = false;
    int rc = sl_store_environment_job_get(s->st, job->id, &ej, &err);
    if (rc == 0) {
        refuse = !strcmp(ej.action, "start") && refuse_of(s, job, worker_id, &ej);
        if (!refuse)
            job_moved_of(s, &ej, "running");
    } else if (rc != SL_ENOENT) {
        log_store_error(s, "cannot record a deployment's status", &err);
    }
    sl_store_environment_job_release(&ej);
    sl_error_release(&err);
    return refuse;
}

int sl_srv_deploy_stop(struct sl_server *s, int64_t environment_id, struct sl_error *err)
{
    struct sl_store_environment e = {0};
    struct sl_store_deployment d = {0};
    struct sl_store_environment_job ej = {0};
    struct sl_store_job stop = {0};
    int64_t now = sl_time_now_ms();
    int rc;

    if ((rc = sl_store_environment_get(s->st, environment_id, &e, err)) < 0)
        goto out;
    if (!strcmp(e.state, "stopped")) {
        rc = sl_error_set(err, SL_EBUSY, "environment %s is already stopped", e.name);
        goto out;
    }
    /* the on_stop job of the latest successful deployment, as GitLab stops it */
    if (e.last_deployment_id &&
        sl_store_deployment_get(s->st, e.last_deployment_id, &d, NULL) == 0 &&
        sl_store_environment_job_get(s->st, d.job_id, &ej, NULL) == 0 && ej.on_stop_job_id &&
        sl_store_job_get_current(s->st, ej.on_stop_job_id, &stop, NULL) == 0) {
        enum srv_event ev = !strcmp(stop.status, "manual") || !strcmp(stop.status, "scheduled")
                                ? SRV_EV_PLAY
                                : SRV_EV_RETRY;
        if (!strcmp(stop.status, "running") || !strcmp(stop.status, "pending"))
            goto out; /* already on its way */
        /* its stage is not reached (an earlier stage waits: a manual gate, approvals): it
         * cannot be played yet, and nothing is changed */
        if (!strcmp(stop.status, "created")) {
            rc = sl_error_set(err, SL_EBUSY,
                              "the on_stop job %s of environment %s waits for an earlier stage",
                              stop.name, e.name);
            goto out;
        }
        /* the job first: a stop job that cannot be played leaves the environment as it was */
        if ((rc = sl_srv_transition(s, stop.pipeline_id, ev, (size_t)stop.position, NULL, false,
                                    err)) < 0)
            goto out;
        /* only from the state read: the stop job may have run (and stopped it) meanwhile */
        rc = sl_store_environment_set_state(s->st, e.id, "stopping", e.state, 0, NULL, now, err);
        if (rc == SL_EBUSY) {
            rc = 0;
            sl_error_release(err);
        }
        goto out;
    }
    /* nothing to run: stopped at once, as GitLab does without on_stop */
    rc = sl_store_environment_set_state(s->st, e.id, "stopped", NULL, 0, NULL, now, err);
out:
    sl_store_environment_release(&e);
    sl_store_deployment_release(&d);
    sl_store_environment_job_release(&ej);
    sl_store_job_release(&stop);
    return rc;
}

int sl_srv_deploy_rollback(struct sl_server *s, int64_t environment_id, int64_t deployment_id,
                           const char *actor, const char *role, int64_t *new_id,
                           struct sl_error *err)
{
    struct sl_store_environment e = {0};
    struct sl_store_deployment d = {0};
    struct sl_store_job job = {0};
    int64_t now = sl_time_now_ms();
    int rc;

    if ((rc = sl_store_environment_get(s->st, environment_id, &e, err)) < 0)
        goto out;
    /* a rollback deploys as its caller, who needs deploy access as for a retry */
    if ((rc = sl_srv_deploy_access_refused(s, e.id, actor, role, err)) < 0)
        goto out;
    if (!deployment_id)
        deployment_id = e.last_deployment_id;
    if (!deployment_id) {
        rc = sl_error_set(err, SL_EINVAL, "environment %s has no successful deployment", e.name);
        goto out;
    }
    if ((rc = sl_store_deployment_get(s->st, deployment_id, &d, err)) < 0)
        goto out;
    if (d.environment_id != e.id) {
        rc = sl_error_set(err, SL_EINVAL, "deployment %lld is not of environment %s",
                          (long long)deployment_id, e.name);
        goto out;
    }
    if (strcmp(d.status, "success") != 0) {
        rc = sl_error_set(err, SL_EINVAL,
                          "deployment %lld is %s: only a successful deployment can be rolled "
                          "back to",
                          (long long)deployment_id, d.status);
        goto out;
    }
    /* the job's newest attempt: retried since, the rollback retries that one */
    if ((rc = sl_store_job_get_current(s->st, d.job_id, &job, err)) < 0)
        goto out;
    if (!ended(job.status)) {
        rc = sl_error_set(err, SL_EBUSY, "the job of deployment %lld is %s",
                          (long long)deployment_id, job.status);
        goto out;
    }
    /* the new deployment first, so the retried job follows it and not the old one */
    struct sl_store_deployment nd = d;
    nd.job_id = job.id; /* moves to the retry with it (sl_srv_deploy_job_retried) */
    nd.status = (char *)"created";
    nd.rollback_of = d.id;
    nd.triggered_by = (char *)actor;
    if ((rc = sl_store_deployment_create(s->st, &nd, now, new_id, err)) < 0)
        goto out;
    /* a retry as ACTOR's, blocked again when the environment needs approvals */
    rc = sl_srv_deploy_job_event(s, &job, SRV_EV_RETRY, actor, err);
out:
    sl_store_environment_release(&e);
    sl_store_deployment_release(&d);
    sl_store_job_release(&job);
    return rc;
}

void sl_srv_deploy_tick(struct sl_server *s, int64_t now)
{
    struct sl_store_environment *due = NULL;
    size_t n = 0;
    struct sl_error err = SL_ERROR_INIT;
    if (sl_store_environment_list_due(s->st, now, 20, &due, &n, &err) < 0)
        log_store_error(s, "cannot list environments due to stop", &err);
    for (size_t i = 0; i < n; i++) {
        sl_error_release(&err);
        /* a retry's own write left its timer DEPLOY_STOP_RETRY_MS after its last change: its
         * tries are logged once, not every few seconds while a gate waits for days */
        bool retry = due[i].auto_stop_at - due[i].updated_at == DEPLOY_STOP_RETRY_MS;
        enum sl_log_level level = retry ? SL_LOG_DEBUG : SL_LOG_INFO;
        sl_log(level, "auto_stop_in reached: stopping the environment", "environment", due[i].name,
               NULL);
        int rc = sl_srv_deploy_stop(s, due[i].id, &err);
        if (rc == 0)
            continue;
        /* SL_EBUSY: its on_stop job waits for an earlier stage, or another server stopped it
         * meanwhile; the timer is kept and tried again later (only while the environment is
         * still in the state read). Any other failure spends it: not again at every tick.
         * GitLab marks such an environment "stopping" and never plays its stop job once the
         * stage is reached; here the review app stops when it can. */
        bool again = rc == SL_EBUSY;
        if (again)
            sl_log(level, "auto_stop_in: the environment cannot be stopped yet, again later",
                   "environment", due[i].name, "reason", sl_error_format(&err), NULL);
        else
            log_store_error(s, "cannot stop an environment", &err);
        sl_store_environment_set_state(s->st, due[i].id, due[i].state, due[i].state,
                                       again ? now + DEPLOY_STOP_RETRY_MS : 0, NULL, now, NULL);
    }
    sl_store_environments_free(due, n);
    sl_error_release(&err);
}

int sl_srv_deploy_access_refused(struct sl_server *s, int64_t environment_id, const char *actor,
                                 const char *role, struct sl_error *err)
{
    struct sl_store_environment e = {0};
    struct sl_store_protected_env rule = {0};
    int rc = 0;
    if (sl_store_environment_get(s->st, environment_id, &e, NULL) == 0 &&
        protection_of(s, e.project_id, e.name, e.tier, &rule) && !may_deploy(&rule, actor, role))
        rc = sl_error_set(err, SL_EPERM, "deploying to %s needs the %s role or a deploy token",
                          e.name, rule.deploy_role);
    sl_store_environment_release(&e);
    sl_store_protected_env_release(&rule);
    return rc;
}

int sl_srv_deploy_play_refused(struct sl_server *s, int64_t job_id, const char *actor,
                               const char *role, bool play, struct sl_error *err)
{
    struct sl_store_environment_job ej = {0};
    struct sl_store_deployment d = {0};
    int rc = 0;
    if (sl_store_environment_job_get(s->st, job_id, &ej, NULL) < 0)
        return 0; /* uses no environment */
    if (play && !strcmp(ej.action, "start") &&
        sl_store_deployment_get_by_job(s->st, job_id, &d, NULL) == 0 &&
        !strcmp(d.status, "blocked"))
        rc = sl_error_set(err, SL_EBUSY, "deployment %lld to %s waits for %d approval(s)",
                          (long long)d.id, d.environment_name, d.required_approvals);
    else /* GitLab: only who has deploy access runs a job of a protected environment, whatever
          * its action (a stop job too) */
        rc = sl_srv_deploy_access_refused(s, ej.environment_id, actor, role, err);
    sl_store_deployment_release(&d);
    sl_store_environment_job_release(&ej);
    return rc;
}

/* A deployment that needed approvals, run again (a retry, a rollback): the new attempt JOB
 * waits for approvals of its own deployment D, as GitLab blocks every deployment to such an
 * environment. Inside the caller's transaction: JOB back to manual, D blocked, the
 * pipeline settled. A no-op when the environment needs no approval any more. */
static int block_again(struct sl_server *s, struct sl_store_job *job,
                       const struct sl_store_deployment *d, struct sl_error *err)
{
    struct sl_store_environment e = {0};
    struct sl_store_protected_env rule = {0};
    int rc = 0;
    if (d->required_approvals <= 0 || strcmp(d->status, "created") || d->started_at ||
        (strcmp(job->status, "pending") && strcmp(job->status, "waiting_for_resource")) ||
        sl_store_environment_get(s->st, d->environment_id, &e, NULL) < 0)
        goto out;
    if (!protection_of(s, e.project_id, e.name, e.tier, &rule) || rule.required_approval_count <= 0)
        goto out;
    if ((rc = sl_store_deployment_set_status(s->st, d->id, "blocked", "created", sl_time_now_ms(),
                                             err)) < 0)
        goto out;
    char *was = job->status;
    job->status = (char *)"manual";
    job->queued_at = 0;
    rc = sl_store_job_update(s->st, job, was, err); /* pending, or waiting for its group */
    job->status = was;
    if (rc == 0)
        rc = sl_srv_transition(s, job->pipeline_id, SRV_EV_SETTLE, 0, NULL, false, err);
out:
    sl_store_environment_release(&e);
    sl_store_protected_env_release(&rule);
    return rc;
}

int sl_srv_deploy_auto_retried(struct sl_server *s, int64_t job_id, struct sl_error *err)
{
    struct sl_store_job job = {0};
    struct sl_store_deployment d = {0};
    int rc = 0;
    if (sl_store_job_get(s->st, job_id, &job, NULL) == 0 &&
        sl_store_deployment_get_by_job(s->st, job_id, &d, NULL) == 0)
        rc = block_again(s, &job, &d, err);
    sl_store_job_release(&job);
    sl_store_deployment_release(&d);
    return rc;
}

int sl_srv_deploy_job_event(struct sl_server *s, const struct sl_store_job *job, enum srv_event ev,
                            const char *actor, struct sl_error *err)
{
    struct sl_store_deployment d = {0};
    if (sl_store_deployment_get_by_job(s->st, job->id, &d, NULL) < 0) /* deploys nothing */
        return sl_srv_transition(s, job->pipeline_id, ev, (size_t)job->position, NULL, false, err);
    sl_store_deployment_release(&d);
    /* one transaction: no worker claims the job before its deployment names ACTOR, whose
     * deploy access the claim checks (a transition inside it joins it) */
    int trc = sl_store_tx_begin(s->st, job->pipeline_id, err);
    if (trc < 0 && trc != SL_EBUSY)
        return trc;
    if (trc == SL_EBUSY)
        sl_error_release(err);
    int rc = sl_srv_transition(s, job->pipeline_id, ev, (size_t)job->position, NULL, false, err);
    struct sl_store_job now = {0};
    /* the attempt that runs now: the job played, or the new job a retry made */
    if (rc == 0 && sl_store_job_get_current(s->st, job->id, &now, NULL) == 0 &&
        sl_store_deployment_get_by_job(s->st, now.id, &d, NULL) == 0 &&
        !strcmp(d.status, "created") && !d.started_at) {
        if (strcmp(d.triggered_by, actor))
            rc = sl_store_deployment_set_triggered_by(s->st, d.id, actor, err);
        if (rc == 0 && ev == SRV_EV_RETRY)
            rc = block_again(s, &now, &d, err);
    }
    sl_store_job_release(&now);
    sl_store_deployment_release(&d);
    if (trc == 0) {
        rc = sl_store_tx_end(s->st, rc, err);
        /* what sl_srv_transition leaves to the outermost transaction */
        if (rc == 0) {
            sl_srv_resource_groups_kick(s, job->pipeline_id);
            sl_srv_workers_wake(s);
            sl_srv_hold_wake(s, job->pipeline_id);
        }
    }
    return rc;
}

int sl_srv_deploy_decide(struct sl_server *s, int64_t deployment_id, const char *actor,
                         const char *actor_role, bool approve, const char *comment,
                         struct sl_error *err)
{
    struct sl_store_deployment d = {0};
    struct sl_store_environment e = {0};
    struct sl_store_protected_env rule = {0};
    struct sl_store_approval *list = NULL;
    struct sl_store_job job = {0};
    size_t n = 0;
    int64_t now = sl_time_now_ms();
    int rc;

    if ((rc = sl_store_deployment_get(s->st, deployment_id, &d, err)) < 0)
        goto out;
    if (strcmp(d.status, "blocked") != 0) {
        rc = sl_error_set(err, SL_EBUSY, "deployment %lld is %s: it waits for no approval",
                          (long long)d.id, d.status);
        goto out;
    }
    if (!strcmp(d.triggered_by, actor)) {
        rc = sl_error_set(err, SL_EPERM,
                          "%s triggered deployment %lld and cannot approve or reject it", actor,
                          (long long)d.id);
        goto out;
    }
    if ((rc = sl_store_environment_get(s->st, d.environment_id, &e, err)) < 0)
        goto out;
    if (protection_of(s, d.project_id, e.name, e.tier, &rule) &&
        !may_deploy(&rule, actor, actor_role)) {
        rc = sl_error_set(err, SL_EPERM, "deploying to %s needs the %s role or a deploy token",
                          e.name, rule.deploy_role);
        goto out;
    }
    struct sl_store_approval a = {0};
    a.deployment_id = d.id;
    a.actor = (char *)actor;
    a.status = approve ? (char *)"approved" : (char *)"rejected";
    a.comment = (char *)comment;
    if ((rc = sl_store_approval_add(s->st, &a, now, err)) < 0)
        goto out;
    size_t approved = 0;
    if ((rc = sl_store_approval_list(s->st, d.id, &list, &n, err)) < 0)
        goto out;
    for (size_t i = 0; i < n; i++)
        approved += !strcmp(list[i].status, "approved");
    if (approve && approved < (size_t)d.required_approvals)
        goto out;
    /* enough approvals: the job is queued; a rejection: it is played to fail at once */
    if ((rc = sl_store_deployment_set_status(s->st, d.id, approve ? "created" : "failed", "blocked",
                                             now, err)) < 0)
        goto out;
    if ((rc = sl_store_job_get(s->st, d.job_id, &job, err)) < 0)
        goto out;
    rc = sl_srv_transition(s, job.pipeline_id, SRV_EV_PLAY, (size_t)job.position, NULL, false, err);
out:
    sl_store_deployment_release(&d);
    sl_store_environment_release(&e);
    sl_store_protected_env_release(&rule);
    sl_store_approvals_free(list, n);
    sl_store_job_release(&job);
    return rc;
}

int sl_srv_deploy_stop_branch(struct sl_server *s, int64_t project_id, const char *branch,
                              int *stopped, struct sl_error *err)
{
    struct sl_store_page page = {.after = 0, .limit = SL_STORE_LIST_MAX, .status = "available"};
    int rc = 0;
    *stopped = 0;
    for (;;) {
        struct sl_store_environment *es = NULL;
        size_t n = 0;
        if ((rc = sl_store_environment_list(s->st, project_id, &page, &es, &n, err)) < 0)
            return rc;
        for (size_t i = 0; i < n && rc == 0; i++) {
            struct sl_store_deployment d = {0};
            struct sl_store_environment_job ej = {0};
            /* as GitLab's StopService for a branch: environments last deployed from it
             * that have a stop action */
            if (es[i].last_deployment_id &&
                sl_store_deployment_get(s->st, es[i].last_deployment_id, &d, NULL) == 0 &&
                !strcmp(d.ref, branch) &&
                sl_store_environment_job_get(s->st, d.job_id, &ej, NULL) == 0 &&
                ej.on_stop_job_id) {
                sl_log(SL_LOG_INFO, "branch deleted: stopping its environment", "environment",
                       es[i].name, "ref", branch, NULL);
                if ((rc = sl_srv_deploy_stop(s, es[i].id, err)) == 0) {
                    (*stopped)++;
                } else if (rc == SL_EBUSY) { /* its stop job waits for its stage: not now */
                    sl_log(SL_LOG_INFO, "branch deleted: the environment cannot be stopped yet",
                           "environment", es[i].name, "reason", sl_error_format(err), NULL);
                    sl_error_release(err);
                    rc = 0;
                }
            }
            sl_store_deployment_release(&d);
            sl_store_environment_job_release(&ej);
        }
        page.after = n ? es[n - 1].id : 0;
        sl_store_environments_free(es, n);
        if (rc < 0 || n < SL_STORE_LIST_MAX)
            return rc;
    }
}
