/* runner.h: GitLab's runner API (/api/v4) on the server, shared by the files of the runner
 * room (runner_api.c, runner_payload.c, runner_hold.c, runner_admin.c). Not a public API.
 *
 * A remote runner claims jobs through the same store operation as the built-in workers
 * (sl_store_claim_job_tagged), as worker "runner:<id>", and reports their end through the
 * same pipeline transition; each claim issues the attempt a new job token. */
#ifndef SL_SERVER_RUNNER_H
#define SL_SERVER_RUNNER_H

#include "base/compat.h"
#include "exec/reports.h"
#include "server/internal.h"

/* A runner is online when it was heard from within this long (GitLab's
 * ONLINE_CONTACT_TIMEOUT: 2 hours) */
#define SRV_RUNNER_ONLINE_S 7200
#define SRV_LONG_POLL_MAX_S 30 /* the longest a jobs/request is held (GitLab's Workhorse: 50) */

/* The job payload of JOB (claimed by RUNNER, whose job token is TOKEN) as JSON text (the
 * layout of the server's answers, sl_reply_json_text) into OUT, which it replaces (caller
 * releases; untouched on an error). PIPELINE: the job's pipeline row when the caller read it
 * (NULL: read here). */
int sl_srv_runner_payload(struct sl_server *s, const struct sl_store_job *job,
                          const struct sl_store_pipeline *pipeline,
                          const struct sl_store_runner *runner, const char *token,
                          struct sl_str *out, struct sl_error *err);

/* Held jobs/request long-polls (runner_hold.c). */
void sl_srv_runners_init(struct sl_server *s);
void sl_srv_runners_free(struct sl_server *s);
/* The runners' wake generation (sl_srv_hold_gen of SRV_HOLD_RUNNERS): read it before
 * looking for a job; a request that finds none is held on SRV_HOLD_RUNNERS until
 * sl_srv_runners_wake or its deadline. */
unsigned long sl_srv_runners_gen(struct sl_server *s);
/* How many runner requests are held now (the sluice_runner_requests_held gauge). */
size_t sl_srv_runners_held(struct sl_server *s);
/* Resumes every held request: a job became pending. */
void sl_srv_runners_wake(struct sl_server *s);
/* Resumes held requests (runners' and pipeline waits) whose wake time passed (the ticker). */
void sl_srv_runners_tick(struct sl_server *s);
/* Resumes every held request (before the daemon stops: MHD requires it) and waits up to a
 * second for their answers. */
void sl_srv_runners_release_all(struct sl_server *s);
/* Whether the client of CONN is still connected (a held request's client may be gone: it
 * must not be handed a job). */
bool sl_srv_conn_alive(struct MHD_Connection *conn);

/* A job's reports as the store keeps them (worker.c writes them for the built-in workers,
 * runner_artifacts.c for uploads): a JSON array of "KEY=VALUE" (NULL when ENV is empty)
 * and the JUnit counts' JSON object. Caller frees. */
char *sl_srv_dotenv_json(const struct sl_dotenv *env);
char *sl_srv_junit_json(const struct sl_junit_counts *c);

/* The job of the job token TOKEN (may be NULL), which must be job R->id and running; false
 * with R answered otherwise (403 with Job-Status saying what became of the attempt). On
 * true *JOB is filled (release it). */
bool sl_srv_runner_job_auth(struct req *r, const char *token, struct sl_store_job *job);
/* Extends JOB's lease (its runner just spoke) when a sixth of it has passed since it was
 * last set, and tells the runner how often to report (a third of the lease). */
void sl_srv_runner_renew(struct req *r, const struct sl_store_job *job);

/* /api/v4 (runner_api.c) */
void sl_h_v4_runner_verify(struct req *r);
void sl_h_v4_runner_register(struct req *r);
void sl_h_v4_runner_delete(struct req *r);
void sl_h_v4_jobs_request(struct req *r);
void sl_h_v4_job_update(struct req *r);
void sl_h_v4_job_trace(struct req *r);
/* artifacts (runner_artifacts.c) */
void sl_h_v4_job_artifacts_upload(struct req *r);
void sl_h_v4_job_artifacts_download(struct req *r);

/* Git over HTTP (git_http.c): answers R when its path is a project's smart-HTTP
 * endpoint (NAME.git/info/refs, NAME.git/git-upload-pack) and returns true; false when it
 * is not one. */
bool sl_srv_git_http_handle(struct req *r);

/* /api/v1/runners (runner_admin.c) */
void sl_h_runner_create(struct req *r);
void sl_h_runner_list(struct req *r);
void sl_h_runner_get(struct req *r);
void sl_h_runner_pause(struct req *r);
void sl_h_runner_resume(struct req *r);
void sl_h_runner_delete(struct req *r);
json_t *sl_srv_runner_json(const struct sl_store_runner *rn);
/* Why pending JOB (with its tags, as sl_store_job_get fills them) waits for ever, in
 * GitLab's "stuck" wording: no runner online, none that runs untagged jobs, none with the
 * job's tags. NULL when a runner online can take it, when built-in workers run (they take
 * any job) or when the job is not pending. Caller frees. */
char *sl_srv_runner_stuck_reason(struct sl_server *s, const struct sl_store_job *job, int64_t now);

#endif
