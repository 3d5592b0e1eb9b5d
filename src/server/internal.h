/* internal.h: what the files of the server room share (not a public API). */
#ifndef SL_SERVER_INTERNAL_H
#define SL_SERVER_INTERNAL_H

#include "base/compat.h"
#include "base/str.h"
#include "plan/plan.h"
#include "sched/pipeline.h"
#include "server/server.h"
#include "store/store.h"

struct sl_scan;
struct srv_log_tails;

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>

#define SRV_BODY_MAX (1024 * 1024) /* request bodies; over it: 413 */
#define SRV_LEASE_S 60             /* default lease (--lease); a worker renews it every second */
#define SRV_HIST_N 12              /* buckets of the histograms */
#define SRV_POLL_MAX_S 86400       /* longest poll interval a project may have */
#define SRV_KEY_MAX 255            /* the {key} of a route (a CI/CD variable's key) */
#define SRV_AUTH_BURST 30          /* failed authentications an address may make at once */
#define SRV_AUTH_REFILL_S 1.0      /* ... and one more every this many seconds (auth_limit.c) */

struct worker;

struct metrics {
    pthread_mutex_t mu;
    /* requests by route (index into the route table, or the last slot for "unmatched") and
     * status code */
    struct route_count {
        int route;
        int code;
        uint64_t n;
    } * counts;
    size_t ncounts, capcounts;
    uint64_t latency[SRV_HIST_N + 1]; /* cumulative later; here per bucket, +Inf last */
    double latency_sum;
    uint64_t latency_n;
    uint64_t job_dur[SRV_HIST_N + 1];
    double job_dur_sum;
    uint64_t job_dur_n;
    atomic_ullong store_errors;
    atomic_ullong auth_failures;  /* wrong tokens, sign-ins, webhook signatures */
    atomic_ullong auth_throttled; /* answered 429 (auth_limit.c) */
    atomic_ullong polls;          /* project polls done (poll.c): tests wait on it */
    atomic_ullong jobs_retried;   /* attempts retried as a new job (transitions.c) */
};

struct sl_server {
    struct sl_store *st;
    char *data_dir;
    char address[80];
    int listen_fd; /* bound by sl_srv_http_bind, then the daemon's; -1: none */
    struct MHD_Daemon *daemon;
    /* Idle workers wait here; pipeline creation, play and retry signal it. */
    pthread_mutex_t wake_mu;
    pthread_cond_t wake_cv;
    atomic_bool stopping;   /* no more claims */
    atomic_bool cancel_all; /* grace period over: cancel running jobs */
    atomic_bool trees_open; /* DATA/trees made 0711 since the start (pipelines.c tree_checkout) */
    struct worker *workers;
    int nworkers;
    /* jobs run as this user (sl_srv_run_as_setup); RUN_HOME: its home, NULL when it has none
     * (each job then gets one of its own) */
    bool run_as;
    uid_t run_uid;
    gid_t run_gid;
    struct sl_exec_choice executor; /* the workers' (sl_server_options) */
    bool use_sandbox;               /* --executor sandbox: every job in the sandbox */
    struct sl_exec_sandbox sandbox; /* its options, hide = the data directory */
    char *sandbox_hide_dir;         /* the data directory's real path */
    const char *sandbox_hide[2];
    char *run_home;
    pthread_t ticker;
    bool ticker_started;
    bool shut;
    char *worker_prefix; /* "serve@HOST:ID/": this server's workers (instance.c) */
    char *instance_file; /* DATA/instances/ID, flock'ed through instance_fd (instance.c) */
    int instance_fd;
    atomic_ullong next_request_id;
    struct metrics metrics;
    struct streams *streams;           /* log streams (stream.c) */
    struct sessions *sessions;         /* the UI's sign-in sessions (session.c) */
    struct srv_flags *flags;           /* feature flags' cache and SDK metrics (flags_state.c) */
    struct auth_limiter *auth_limiter; /* failed authentications per address (auth_limit.c) */
    struct srv_spec_views *spec_views; /* parsed views of stored specs (spec_view.c) */
    struct srv_mirrors *mirrors;       /* the projects' mirrors kept open (mirror_cache.c) */
    /* the poller (poll.c) */
    pthread_t poller;
    bool poller_started;
    pthread_mutex_t poll_mu;
    pthread_cond_t poll_cv; /* CLOCK_MONOTONIC */
    bool poll_kick;         /* under poll_mu: look again now */
    /* the runner API (runner.h) */
    char *external_url;     /* "http://HOST:PORT": what runners and jobs are told to reach */
    int lease_s;            /* a running job's lease (--lease) */
    int long_poll_s;        /* how long a jobs/request is held (--long-poll; 0 = not) */
    struct runner_hub *hub; /* held long-polls (runner_hold.c) */
    /* the delivery queue's sender (delivery.c) */
    pthread_t sender;
    bool sender_started;
    pthread_mutex_t delivery_mu;
    pthread_cond_t delivery_cv; /* CLOCK_MONOTONIC */
    bool delivery_kick;         /* under delivery_mu: something was queued */
    int64_t delivery_retry_base_ms;
    char *smtp_url, *smtp_from;  /* the mail relay (--smtp-url, --smtp-from); NULL: none */
    char *smtp_ca;               /* --smtp-ca: the relay's CA certificates; NULL: the system's */
    int64_t session_ttl_ms;      /* how long a sign-in lasts (--session-ttl) */
    char **remote_include_hosts; /* --allow-remote-includes, NULL-ended; NULL: none */
    struct sl_scan *scan;        /* the default secret rules, NULL until the first chunk */
    struct srv_log_tails *tails; /* running jobs' log ends, for the next chunk's scan */
};

/* One request as the handlers see it. */
struct req {
    struct sl_server *s;
    struct MHD_Connection *conn;
    const char *method;
    const char *path;
    int64_t id;                  /* the {id} of the route, when it has one */
    int64_t job_id, pipeline_id; /* the caller's job, when a CI_JOB_TOKEN authenticated it */
    char key[SRV_KEY_MAX + 1];   /* the {key} or {name} of the route, when it has one */
    char key2[SRV_KEY_MAX + 1];  /* the {env} of the route, when it has one */
    const char *body;
    size_t body_len;
    /* the body parsed once for the request (sl_body_json): by its check (validate.c), its
     * handler and the handler's runs after a hold; the request's, NULL: not kept */
    json_t **body_tree;
    struct srv_upload *upload;   /* an upload route's streamed body (upload.h), else NULL */
    struct sl_store_token token; /* the caller (authenticated routes) */
    /* the answer */
    int status;
    const char *content_type;
    struct sl_str out;
    char next_offset[32]; /* X-Next-Offset of a log read; "" = none */
    /* A handler that answers with something other than OUT (a stream) sets this; the
     * HTTP layer queues it with STATUS and destroys it. */
    struct MHD_Response *response;
    char request_id[72];  /* the client's X-Request-Id when sane, else a counter */
    char session_id[72];  /* the UI session the request was authenticated by; "" = bearer */
    char set_cookie[160]; /* a Set-Cookie header for the answer; "" = none */
    char retry_after[16]; /* a Retry-After header for the answer; "" = none */
    /* more headers of the answer (sl_reply_header) */
    struct {
        char name[40];
        char value[120];
    } headers[4];
    int nheaders;
    /* long-poll (runner_hold.c): a handler sets HOLD to be suspended until a wake of
     * HOLD_KEY (read HOLD_GEN of it first) or HOLD_WAKE_AT (monotonic ms; 0: HOLD_DEADLINE).
     * HOLD_DEADLINE and HOLD_STATUS are kept across the resumes of one request (0 and ""
     * at first): the request's end, and what a pipeline's wait waits to see change. */
    bool hold;
    bool hold_refused; /* set by the HTTP layer: holding failed thrice, answer now */
    int64_t hold_key;
    unsigned long hold_gen;
    int64_t hold_wake_at;
    int64_t hold_deadline;
    char hold_status[32];
};

/* Held long-polls (runner_hold.c; the runner API's are wrapped in runner.h). KEY is
 * SRV_HOLD_RUNNERS or a pipeline's id. */
#define SRV_HOLD_RUNNERS 0
/* KEY's wake generation: read it before looking, hand it to sl_srv_hold. */
unsigned long sl_srv_hold_gen(struct sl_server *s, int64_t key);
/* Suspends CONN until a wake of KEY or WAKE_AT (monotonic ms) passes; false, without
 * suspending, when KEY was woken after GEN was read (look again) or the server stops. FIRST:
 * the request's first hold, whose completion the caller then reports once
 * (sl_srv_hold_completed: the server's stop waits a moment for held requests' answers). */
bool sl_srv_hold(struct sl_server *s, struct MHD_Connection *conn, int64_t key, unsigned long gen,
                 int64_t wake_at, bool first);
void sl_srv_hold_completed(struct sl_server *s);
/* Resumes the requests held on KEY. A pipeline's: call it after the commit that changed
 * its status (a waiter woken before it reads the old status and is held again). */
void sl_srv_hold_wake(struct sl_server *s, int64_t key);
/* How many pipeline waits are held now (the sluice_pipeline_waits_held gauge). */
size_t sl_srv_pipeline_waits_held(struct sl_server *s);

typedef void (*route_fn)(struct req *r);

struct route {
    const char *method;
    const char *pattern; /* "/api/v1/projects/{id}/pipelines" */
    route_fn fn;
    const char *role; /* NULL: no authentication */
};

/* Whether a running job's CI_JOB_TOKEN may call RT too, on its own project only (the
 * route's {id} is the project): rollouts from pipelines (api.c lists them). */
bool sl_srv_route_takes_job_token(const struct route *rt);

/* The route table (api.c) and its size. */
extern const struct route sl_srv_routes[];
extern const size_t sl_srv_nroutes;

/* Answers (http.c). reply_json takes ownership of V. */
#define SL_SRV_JSON_DUMP_FLAGS (JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6))
void sl_reply_json(struct req *r, int status, json_t *v);
void sl_reply_error(struct req *r, int status, const char *code, const char *fmt, ...)
    SL_PRINTF(4, 5);
/* An answer written as text (base/jsonw.h, sl_jsonw_init_compact: the layout of
 * sl_reply_json's) instead of built as a tree: begin empties R's answer and gives it to be
 * written; end answers it with STATUS. An error answer in between replaces it. */
struct sl_str *sl_reply_json_begin(struct req *r);
void sl_reply_json_end(struct req *r, int status);
/* Answers TEXT (JSON so written; taken, TEXT is left empty) with STATUS. */
void sl_reply_json_text(struct req *r, int status, struct sl_str *text);

/* Maps a store/library error to a status: ENOENT 404, EEXISTS 409, EINVAL/ELIMIT 400,
 * EBUSY 409, anything else 500 (and counted as a store error). */
void sl_reply_sl_error(struct req *r, int code, const struct sl_error *err);
/* Adds a header to R's answer (at most 4; more are dropped). */
void sl_reply_header(struct req *r, const char *name, const char *fmt, ...) SL_PRINTF(3, 4);
/* Parses the body as a JSON object; answers 400 and returns NULL when it is not one. An
 * empty body is the empty object (routes whose fields are all optional accept it). The
 * tree is parsed once per request and shared by every caller (a reference each, to
 * decref): the route's check, its handler, and the handler's runs after a hold, which
 * would see a change made before (the held routes, jobs/request and a pipeline's ?wait=,
 * only read it). */
json_t *sl_body_json(struct req *r);
/* True when every field of body B is one of FIELDS (NULL-terminated); else answers 400
 * naming the first unknown one and the known ones. Superseded by the request tables of
 * validate.c, which also check types and limits: a route with a table needs no call. */
bool sl_body_fields_known(struct req *r, json_t *b, const char *const *fields);
/* The query argument NAME, or NULL. */
const char *sl_query_arg(struct req *r, const char *name);
/* The request header NAME, or NULL. */
const char *sl_header_arg(struct req *r, const char *name);
/* The client's address as text into BUF ("" when unknown). */
void sl_remote_addr(struct req *r, char *buf, size_t size);
/* Records an sl_audit event (failures are logged and counted as store errors, never fatal
 * to the request). ACTOR NULL = the request's token ("token:ID"). DETAIL (may be NULL) is
 * taken. */
void sl_audit(struct req *r, const char *actor, const char *action, const char *target,
              json_t *detail);

/* Failed authentications (auth_limit.c). The limiter is per address (see the file). */
struct auth_limiter *sl_auth_limiter_new(void);
void sl_auth_limiter_free(struct auth_limiter *l);
/* Whether ADDR may try to authenticate at NOW_NS (monotonic); when not, *RETRY_S (may be
 * NULL) is how many seconds until it may. */
bool sl_auth_limiter_allow(struct auth_limiter *l, const char *addr, int64_t now_ns, int *retry_s);
/* Takes one attempt of ADDR's budget. */
void sl_auth_limiter_fail(struct auth_limiter *l, const char *addr, int64_t now_ns);
/* For a route that authenticates: answers 429 (with Retry-After) and returns true when the
 * client's address has used up its failed attempts. */
bool sl_srv_auth_throttled(struct req *r);
/* Records a failed authentication of R's client (limiter and /metrics). */
void sl_srv_auth_failed(struct req *r);

/* Log streams (stream.c): GET /api/v1/jobs/{id}/log/stream as Server-Sent Events. */
void sl_streams_init(struct sl_server *s);
/* Ends every stream (their clients get the end of the body) before the daemon stops. */
void sl_streams_stop(struct sl_server *s);
void sl_streams_free(struct sl_server *s);
/* Job JOB_ID's log grew: its suspended streams look again now, not at their next poll. */
void sl_streams_log_grew(struct sl_server *s, int64_t job_id);
void sl_h_job_log_stream(struct req *r);

/* Log reads (log_api.c): by byte offset or line range, and the server-side search. */
void sl_h_job_log(struct req *r);
void sl_h_job_log_search(struct req *r);

/* A job's artifacts archive browsed (artifacts_api.c): entries, one file, the archive. */
void sl_h_job_artifact_files(struct req *r);
void sl_h_job_artifact_file(struct req *r);
void sl_h_job_artifact_download(struct req *r);

/* The web UI (ui.c): answers GET/HEAD of / , the pages' deep links and /assets/ from the
 * embedded web/ files; false when PATH is none of those (the caller answers 404). */
bool sl_srv_ui_handle(struct req *r);

/* UI sessions (session.c): an API token exchanged for a cookie. */
void sl_sessions_init(struct sl_server *s);
void sl_sessions_free(struct sl_server *s);
/* Whether R carries a session cookie. */
bool sl_srv_session_present(struct req *r);
/* Authenticates R by its session cookie into R->token (and R->session_id); for a
 * state-changing method also checks the CSRF token and the origin. 0, or -1 with R
 * answered (401, 403). */
int sl_srv_session_auth(struct req *r);
void sl_h_session_create(struct req *r);
void sl_h_session_get(struct req *r);
void sl_h_session_delete(struct req *r);

/* Tokens over HTTP and the raw log download (tokens.c). */
void sl_h_token_list(struct req *r);
void sl_h_token_create(struct req *r);
void sl_h_token_revoke(struct req *r);
void sl_h_job_log_raw(struct req *r);

/* Webhooks (webhook.c). */
enum srv_forge { SRV_FORGE_GITHUB, SRV_FORGE_GITLAB, SRV_FORGE_GITEA };
/* Whether SIGNATURE (the value of the forge's header) proves BODY was sent by someone who
 * knows SECRET: GitHub "sha256=" + hex HMAC-SHA256, Gitea hex HMAC-SHA256, GitLab the
 * secret itself. Constant time in the secret and the digest. An empty SECRET or a NULL
 * SIGNATURE never verifies. */
bool sl_srv_webhook_verify(enum srv_forge forge, const char *secret, const char *signature,
                           const void *body, size_t len);
void sl_h_hook_github(struct req *r);
/* CI/CD variables (api_variables.c). */
void sl_h_project_variables_list(struct req *r);
void sl_h_project_variable_get(struct req *r);
void sl_h_project_variable_create(struct req *r);
void sl_h_project_variable_update(struct req *r);
void sl_h_project_variable_delete(struct req *r);
void sl_h_admin_variables_list(struct req *r);
void sl_h_admin_variable_get(struct req *r);
void sl_h_admin_variable_create(struct req *r);
void sl_h_admin_variable_update(struct req *r);
void sl_h_admin_variable_delete(struct req *r);
void sl_h_hook_gitlab(struct req *r);
void sl_h_hook_gitea(struct req *r);

/* Merge (pull) requests (merge_requests.c): a forge's request event in one shape. Strings
 * are borrowed from the payload (or the arena given to sl_srv_mr_read). */
struct srv_mr {
    int64_t iid;
    const char *title, *description, *source_branch, *target_branch, *head_sha;
    const char *labels; /* "a,b"; "" when none */
    const char *state;  /* opened, closed or merged */
    const char
        *head_ref; /* the forge's ref of the head: refs/pull/N/head, refs/merge-requests/N/head */
    const char *source_project_path, *source_project_url; /* the fork's, when from one */
    /* the forge's merge of the request into its target (GitHub's test merge commit, when
     * its payload says the request is mergeable) and the ref it is fetched from; NULL when
     * the forge offers none: the pipeline is then a detached one */
    const char *merge_sha, *merge_ref;
    bool draft, from_fork;
    bool runs; /* the event brings commits: it makes a pipeline */
};
/* Whether EVENT (the forge's event header) is a merge or pull request event. */
bool sl_srv_mr_event(enum srv_forge forge, const char *event);
/* Reads PAYLOAD into *MR. SL_EINVAL (*WHY says what is missing) when it is not one. */
int sl_srv_mr_read(enum srv_forge forge, json_t *payload, struct srv_mr *mr, struct sl_arena *a,
                   const char **why);
/* Records the request's state (for CI_OPEN_MERGE_REQUESTS). */
int sl_srv_mr_record(struct sl_server *s, int64_t project_id, const struct srv_mr *mr,
                     struct sl_error *err);
/* For a merge request pipeline of T (filled by sl_trigger_from_git at its commit): its
 * CI_MERGE_REQUEST_* variables, its changed files against the target branch in MIRROR,
 * and whether it may see protected variables (*PROTECTED_OUT). MERGED_TARGET: the target's
 * commit the forge merged the request into when T is that merge (a merged results
 * pipeline), else NULL (a detached one, T at the request's head). */
int sl_srv_mr_prepare(struct sl_server *s, int64_t project_id, const struct srv_mr *mr,
                      const char *mirror, const char *merged_target, struct sl_trigger *t,
                      bool *protected_out, struct sl_error *err);
/* Whether pipeline P runs a fork's code: a pipeline of a request from a fork, or a child
 * pipeline of one (a child keeps its parent's request). Its jobs' tokens reach nothing
 * beyond their own pipeline and its parents (artifacts), change nothing (feature flags),
 * and it triggers no other project's pipeline. A request the store does not know counts
 * as a fork: the safe side. */
bool sl_srv_pipeline_from_fork(struct sl_server *s, const struct sl_store_pipeline *p);
/* For a branch pipeline of BRANCH: CI_OPEN_MERGE_REQUESTS of its open requests, if any. */
int sl_srv_mr_open_list(struct sl_server *s, int64_t project_id, const char *branch,
                        struct sl_trigger *t, struct sl_error *err);
/* A merge request pipeline of project P for MR (pipelines.c), as sl_srv_pipeline_create. */
int sl_srv_pipeline_create_mr(struct sl_server *s, const struct sl_store_project *p,
                              const struct srv_mr *mr, const char *actor, int64_t *id_out,
                              struct sl_error *err);

/* Pipelines (pipelines.c). */
/* Deletes project PROJECT_ID from the store (sl_store_project_delete: SL_ENOENT when there
 * is none) and its files: its mirror (DATA/repos/<id>, closed first), its caches
 * (cache/<id>), its workspaces (builds/<id>) and its pipelines' logs and artifacts
 * (pipelines/<pipeline id>); under the project's repository lock, so that no fetch of it
 * runs meanwhile, and no later request of it (one that read the project before) makes its
 * mirror again. The commits' trees (trees/<sha>) are not the project's alone and stay.
 * Its unfinished pipelines are canceled first, and this server's workers running their
 * jobs stopped and waited for (sl_srv_workers_drop); a runner's job is refused from then
 * on (403, rows gone), and an upload of its under way finishes before the files go
 * (sl_srv_job_files_begin), so nothing of the project is written after this returns.
 * Under the locks the directories are only moved to DATA/trash/; they are removed after. */
int sl_srv_project_delete(struct sl_server *s, int64_t project_id, struct sl_error *err);
/* Removes DATA/trash/, what a deletion cut short by a crash left there: at start. */
void sl_srv_trash_empty(struct sl_server *s);
/* Around a write of job JOB_ID's files by a request (a runner's artifacts upload): false
 * when the job is gone (deleted with its project), and then nothing is to be written;
 * true, and then sl_srv_job_files_end once the files are written, with no deletion of its
 * project in between. */
bool sl_srv_job_files_begin(struct sl_server *s, int64_t job_id);
void sl_srv_job_files_end(void);
/* Plans and stores a pipeline of project P for REF ("" = the default branch) with
 * VARIABLES (a JSON object or NULL) and SOURCE. A configuration that does not compile
 * still gives a pipeline (failed, with its messages); SL_EINVAL only for a request that
 * cannot be one (unknown ref, a repository that cannot be fetched: ERR says). */
int sl_srv_pipeline_create(struct sl_server *s, const struct sl_store_project *p, const char *ref,
                           json_t *variables, const char *source, int64_t *id_out,
                           struct sl_error *err);

/* As sl_srv_pipeline_create, recording ACTOR ("token:3"; NULL: the source) as who triggered
 * the pipeline's deployments, with INPUTS (a JSON object or NULL) for the spec:inputs of
 * the .gitlab-ci.yml. AUDIT (or NULL): the API request whose "pipeline.create" audit event
 * (sl_srv_audit_on) is stored in the pipeline's transaction, one commit for both. */
int sl_srv_pipeline_create_by(struct sl_server *s, const struct sl_store_project *p,
                              const char *ref, json_t *variables, json_t *inputs,
                              const char *source, const char *actor, struct req *audit,
                              int64_t *id_out, struct sl_error *err);

/* A downstream pipeline (bridge.c): the pipeline and bridge job that make it, and for a
 * child pipeline its configuration (trigger:include as a main file named CONFIG_NAME, a
 * path in the commit's tree for messages); CONFIG_YAML NULL: the project's .gitlab-ci.yml. */
struct srv_downstream {
    int64_t parent_pipeline_id, parent_job_id;
    /* trigger:include: the parent pipeline, whose commit, protection and merge request the
     * child keeps (never the branch's newest commit, nor the project's branch of that name
     * for a fork's request); NULL for a trigger:project pipeline */
    const struct sl_store_pipeline *parent;
    const char *config_yaml;
    const char *config_name;
};
int sl_srv_pipeline_create_downstream(struct sl_server *s, const struct sl_store_project *p,
                                      const char *ref, json_t *variables, const char *source,
                                      const struct srv_downstream *ds, int64_t *id_out,
                                      struct sl_error *err);

/* Bridge jobs (bridge.c). srv_bridge_spec adds to a bridge's stored SPEC what running it
 * needs later ({"bridge": {"trigger", "variables", "depend"}}). srv_bridges_fire makes the
 * downstream pipelines of the bridges of PIPELINE_ID that are running and not yet fired
 * (each is fired once); a bridge without `strategy: depend` then succeeds, one whose
 * downstream cannot be made fails with the reason in its log. srv_bridge_upstream_settle
 * tells a finished downstream pipeline's `depend` bridge how it ended. Neither may be
 * called inside a transition (sl_srv_transition calls them after its transaction). */
void sl_srv_bridge_spec(json_t *spec, const struct sl_config *cfg, const struct sl_plan_job *pj,
                        const struct sl_trigger *t);
bool sl_srv_spec_is_bridge(const char *spec);
void sl_srv_bridges_fire(struct sl_server *s, int64_t pipeline_id);
void sl_srv_bridge_upstream_settle(struct sl_server *s, int64_t pipeline_id);
/* The lease a bridge gets when it is made running, until srv_bridges_fire fires it (after
 * the transaction that started it): one server lease from NOW, so the sweep of lapsed
 * jobs leaves it alone meanwhile, however loaded the machine, yet fails it in the end if
 * the server died before firing it and none fired it since. */
int64_t sl_srv_bridge_unfired_lease(const struct sl_server *s, int64_t now);
/* At start-up: fires the bridges a stop or crash left running but not fired (made running
 * in a transaction whose firing never came). Returns what the store said. */
int sl_srv_bridges_resume(struct sl_server *s, struct sl_error *err);

/* Polling (poll.c): one thread fetches the repositories of projects with a poll interval
 * when they are due and makes a "push" pipeline when the default branch moved. */
int sl_srv_poller_start(struct sl_server *s, struct sl_error *err);
/* Makes the poller look at the projects again now (one was created or changed). */
void sl_srv_poller_wake(struct sl_server *s);
/* Stops and joins it (S->stopping must be set). */
void sl_srv_poller_join(struct sl_server *s);

/* Whether the repository of a project's REPO_URL can be read (repo_check.c): a path on this
 * machine (absolute or file://) must open as a git repository (bare or not); a network URL
 * must answer a fetch's ref listing as the mirror fetch asks it (no credentials), within
 * 10 s. Returns 0; SL_EINVAL with ERR saying why (libgit2's message, never the URL, which
 * may hold a password); SL_EBUSY when another request is waiting on a remote already, or too many
 * remotes that never answered are still being asked. */
int sl_srv_repo_check(const char *repo_url, struct sl_error *err);
/* Polls project P: fetches it and makes a "push" pipeline of its default branch when the
 * branch moved since the commit recorded for it (the first poll only records it). 1 with
 * *ID_OUT when a pipeline was made, 0 when the branch did not move, < 0 as
 * sl_srv_pipeline_create. */
int sl_srv_pipeline_poll(struct sl_server *s, const struct sl_store_project *p, int64_t *id_out,
                         struct sl_error *err);

/* Transitions (transitions.c): each rebuilds the pipeline's machine from the store,
 * applies one event and persists what changed (jobs, then the pipeline's status). */
enum srv_event {
    SRV_EV_SETTLE,
    SRV_EV_FINISHED,
    SRV_EV_PLAY,
    SRV_EV_RETRY,
    SRV_EV_CANCEL_JOB,
    SRV_EV_CANCEL_PIPELINE
};
struct srv_finish {
    enum sl_sched_failure reason;
    int exit_code;
    const char *worker_id;
    /* the attempt that ended (0: whichever is at the position): the end of an attempt
     * retried meanwhile changes nothing of the attempt that followed it */
    int64_t job_id;
};
/* JOB_POS is the job's position (ignored for SETTLE and CANCEL_PIPELINE). FORCE_RUNNING:
 * the job is stored failed by recovery but must be fed to the machine as running. */
int sl_srv_transition(struct sl_server *s, int64_t pipeline_id, enum srv_event ev, size_t job_pos,
                      const struct srv_finish *fin, bool force_running, struct sl_error *err);
/* As sl_srv_transition (FORCE_RUNNING false), on P: the pipeline's row as the caller read it
 * in its open transaction (a claim's, sl_srv_claim), used instead of reading it again and
 * left as the transition wrote it. */
int sl_srv_transition_of(struct sl_server *s, struct sl_store_pipeline *p, enum srv_event ev,
                         size_t job_pos, const struct srv_finish *fin, struct sl_error *err);
/* Runs first in sl_srv_transition_after's transaction (ARG its argument): 0 to go on with
 * the event, 1 to commit what it wrote without the event, < 0 (ERR set) to roll back all. */
typedef int (*srv_tx_first_fn)(struct sl_server *s, void *arg, struct sl_error *err);
/* As sl_srv_transition, with FIRST's writes (a job's last log bytes) in the transition's
 * transaction: both or neither are stored, for one commit. The secret-policy check of a
 * FINISHED event then reads after FIRST, in the transaction. What the transition does after
 * its commit (the resource groups' kick, auto-cancel, bridges) it still does after it; what
 * FIRST's writes should wake, the caller wakes after this returns. */
int sl_srv_transition_after(struct sl_server *s, int64_t pipeline_id, enum srv_event ev,
                            size_t job_pos, const struct srv_finish *fin, bool force_running,
                            srv_tx_first_fn first, void *arg, struct sl_error *err);
/* The scheduler's view of one job from its spec O (job_spec_json's keys) into SJ, arrays
 * allocated (sl_srv_sched_job_release frees them; SJ->name is left NULL). */
int sl_srv_sched_job_from_json(json_t *o, struct sl_sched_job *sj, struct sl_error *err);
void sl_srv_sched_job_release(struct sl_sched_job *sj);

/* The projects' mirrors (DATA/repos/<id>) kept opened from one pipeline to the next
 * (mirror_cache.c), a few, least recently used out. */
struct srv_mirrors *sl_srv_mirrors_new(void);
void sl_srv_mirrors_free(struct srv_mirrors *c);
/* Project PROJECT_ID's mirror, the bare repository DIR (made when CREATE and it does not
 * open), into *OUT for the caller alone: call it holding the project's repository lock
 * (pipelines.c), and give the repository back with sl_srv_mirror_give before releasing it.
 * libgit2 must be initialised. -1 when DIR does not open (git_error_last says why). */
struct git_repository;
int sl_srv_mirror_take(struct srv_mirrors *c, int64_t project_id, const char *dir, bool create,
                       struct git_repository **out);
/* Ends the use of REPO (from sl_srv_mirror_take; NULL: nothing): kept for the next take,
 * or freed. */
void sl_srv_mirror_give(struct srv_mirrors *c, int64_t project_id, struct git_repository *repo);
/* The repository of a project whose URL is the local directory PATH, for the fetch into its
 * mirror REPO (taken with sl_srv_mirror_take and not yet given back): kept open with the
 * mirror (opened again when PATH changed), so that a pipeline compares the two
 * repositories' refs without opening either. *OWNED tells that the caller frees it (REPO
 * is not a kept mirror). NULL when PATH does not open as a repository. */
struct git_repository *sl_srv_mirror_source(struct srv_mirrors *c, int64_t project_id,
                                            struct git_repository *repo, const char *path,
                                            bool *owned);
/* Closes project PROJECT_ID's kept mirror (at once, or when given back): the project is
 * deleted. */
void sl_srv_mirror_forget(struct srv_mirrors *c, int64_t project_id);

/* What the server reads again and again of a stored job's spec, parsed once per job id
 * (spec_view.c): the scheduler's view (name NULL), the pipeline's stage count (0: not
 * said), whether the job is a bridge, whether it waits for a deployment approval. */
struct srv_spec_view {
    struct sl_sched_job sched;
    size_t nstages;
    bool bridge;          /* a trigger job the server runs (bridge.c) */
    bool bridge_declared; /* ... or a `trigger:` job of any kind, which no runner may run */
    bool deployment_approval;
};
struct srv_spec_views *sl_srv_spec_views_new(void);
void sl_srv_spec_views_free(struct srv_spec_views *c);
/* The view of job JOB_ID whose stored spec is SPEC, into OUT (the caller's copy: release it
 * with sl_srv_spec_view_release). SL_EINVAL when SPEC is not a JSON object. */
int sl_srv_spec_view_get(struct srv_spec_views *c, int64_t job_id, const char *spec,
                         struct srv_spec_view *out, struct sl_error *err);
void sl_srv_spec_view_release(struct srv_spec_view *v);
/* The cached view of JOB_ID into OUT (release it with sl_srv_spec_view_release); false, OUT
 * untouched, when it is not cached (the caller reads the spec and uses sl_srv_spec_view_get). */
bool sl_srv_spec_view_cached(struct srv_spec_views *c, int64_t job_id, struct srv_spec_view *out);
/* V's fields past the scheduler's view (nstages, bridge, deployment_approval) from the spec
 * O, as sl_srv_spec_view_get reads them from its text. */
void sl_srv_spec_view_flags(json_t *o, struct srv_spec_view *v);
/* Keeps a copy of V (its arrays copied; the name not kept) as job JOB_ID's view: what the
 * pipeline's creation has parsed already (the spec's tree it stores as text), so the first
 * GET and transition of a new pipeline parse no spec. */
void sl_srv_spec_view_put(struct srv_spec_views *c, int64_t job_id, const struct srv_spec_view *v);
/* Lookups answered from the cache, parses since the start, and entries held (at most
 * SL_SRV_SPEC_VIEWS_MAX). */
#define SL_SRV_SPEC_VIEWS_MAX 16384 /* > SL_STORE_PIPELINE_JOBS_MAX: the largest pipeline fits */
void sl_srv_spec_views_stats(struct srv_spec_views *c, unsigned long *hits, unsigned long *misses,
                             size_t *entries);

/* The base environment of a built-in worker's job (jobenv.c): PATH, HOME, SHELL, LANG,
 * USER, LOGNAME of the user jobs run as (S may be NULL: this process's user; HOME_OVERRIDE,
 * when not NULL, is HOME); never the server's. NULL-terminated; the caller frees the
 * strings and the array. */
char **sl_srv_job_base_env(const struct sl_server *s, const char *home_override);
/* Decides who jobs run as (jobenv.c): USER (a name or uid; NULL: `nobody` when the server
 * is root, else the server's own user) and, for another user, closes the data directory to
 * it (see jobenv.c). Call once the store is open and before the workers start. SL_EINVAL:
 * no such user; SL_EPERM: another user asked of a server that is not root. */
int sl_srv_run_as_setup(struct sl_server *s, const char *user, struct sl_error *err);

/* Workers (worker.c). */
int sl_srv_workers_start(struct sl_server *s, int n, struct sl_error *err);
/* Wakes idle workers (a job may have become pending). */
void sl_srv_workers_wake(struct sl_server *s);
/* Joins them; running jobs are canceled when S->cancel_all is set. */
void sl_srv_workers_join(struct sl_server *s);
/* Waits until no worker of this process runs a job of one of PIPELINES (N ids) or does
 * anything for one (workspace, artifacts, cache, its end), canceling those that do, as a
 * cancel through the API would (sl_exec_cancel; their jobs' rows canceled first, so that
 * none is claimed again). For a project's deletion: its files are removed after. */
void sl_srv_workers_drop(struct sl_server *s, const int64_t *pipelines, size_t n);
/* Number of jobs running in this process's workers. */
int sl_srv_workers_busy(struct sl_server *s);
/* Start-up recovery (sl_store_recover_jobs fed to the scheduler): the running jobs of the
 * servers of this data directory that are gone (instance.c) and those whose lease lapsed. */
int sl_srv_recover(struct sl_server *s, struct sl_error *err);
/* Instance (instance.c): takes this start's id (S->worker_prefix) and holds its file;
 * *GONE (NGONE worker-id prefixes; caller frees each and the array) names the servers of
 * this data directory that stopped or crashed since. SL_EIO when DATA/instances cannot be
 * used. sl_srv_instance_stop lets the file go (NULL-safe, once or more). */
int sl_srv_instance_start(struct sl_server *s, char ***gone, size_t *ngone, struct sl_error *err);
void sl_srv_instance_stop(struct sl_server *s);
/* Fails running jobs whose lease lapsed (a runner gone or stopped) as runner_system_failure
 * (the ticker, every second). */
void sl_srv_recover_lapsed(struct sl_server *s);
/* Claims a job for WORKER_ID (a built-in worker: TAGS NULL; a remote runner: its tags,
 * with TOKEN_OUT for the job token) as sl_store_claim does, with the server's lease, and
 * marks its pipeline running in the claim's transaction. 1 with *OUT filled, 0 when none
 * is pending, or an error. */
/* *PIPELINE_OUT: the job's pipeline row as the claim's transaction left it (read and
 * settled in it), with *HAVE_PIPELINE true; false when it could not be read (the caller
 * reads it if it needs it). The caller releases it. */
int sl_srv_claim(struct sl_server *s, const char *worker_id, const char *const *tags, size_t ntags,
                 bool untagged, struct sl_store_job *out, char **token_out,
                 struct sl_store_pipeline *pipeline_out, bool *have_pipeline, struct sl_error *err);
/* Called with JOB just claimed (sl_srv_claim) by WORKER_ID: marks its deployment started;
 * false when the job was refused (an outdated deployment) and must not run. PIPELINE: the
 * job's pipeline row when the caller read it (NULL: read when needed). */
bool sl_srv_job_claimed(struct sl_server *s, const struct sl_store_job *job, const char *worker_id,
                        const struct sl_store_pipeline *pipeline);

/* Environments and deployments (deploy.c, deploy_api.c). */
/* Records the environments, environment jobs and deployments of new pipeline P (stored
 * with its jobs, in PLAN's order). */
int sl_srv_deploy_record(struct sl_server *s, const struct sl_store_pipeline *p,
                         const struct sl_plan *plan, const char *actor, struct sl_error *err);
/* Whether job PJ of a new pipeline of PROJECT_ID deploys to a protected environment that
 * needs approvals; then it is made to wait as a manual job that does not allow failure
 * (SPEC's "when" and "allow_failure" are rewritten) until its deployment is approved. */
bool sl_srv_deploy_gate(struct sl_server *s, int64_t project_id, const struct sl_plan_job *pj,
                        json_t *spec);
/* SL_EPERM (ERR says why) when environment ENVIRONMENT_ID is protected and ACTOR
 * ("token:<id>") of ROLE may not deploy to it, so may not run its jobs nor stop it; else 0. */
int sl_srv_deploy_access_refused(struct sl_server *s, int64_t environment_id, const char *actor,
                                 const char *role, struct sl_error *err);
/* Why job JOB_ID may not be played (PLAY) or retried by ACTOR ("token:<id>") of ROLE:
 * SL_EBUSY when its deployment waits for approvals (a play), SL_EPERM when it uses a
 * protected environment (any action) ACTOR may not deploy to (ERR says so); 0 when it may. */
int sl_srv_deploy_play_refused(struct sl_server *s, int64_t job_id, const char *actor,
                               const char *role, bool play, struct sl_error *err);
/* Job JOB_ID now has status JOB_STATUS: its deployment and environment follow (a no-op for
 * a job without an environment). Errors are logged, never returned: a job's progress never
 * waits on its deployment's bookkeeping. */
void sl_srv_deploy_job_moved(struct sl_server *s, int64_t job_id, const char *job_status);
/* A running job of a remote runner (sluice agent, gitlab-runner: "runner:ID"), which a
 * cancel reaches through Job-Status: canceling rather than at once. */
bool sl_srv_job_on_remote_runner(const struct sl_store_job *j);
/* The job's status as the API shows it: GitLab's "canceling" for a running job whose
 * runner was asked to cancel it, else its stored status. */
const char *sl_srv_job_status_shown(const struct sl_store_job *j);
/* Job OLD_ID was retried as job NEW_ID: the new job does to its environment what the old
 * one did, and has a deployment of its own (a deployment not started yet, such as a
 * rollback's, moves to it). A no-op for jobs without an environment. */
void sl_srv_deploy_job_retried(struct sl_server *s, int64_t old_id, int64_t new_id);
/* Called with a job just claimed by WORKER_ID: when it deploys to a protected environment
 * without deploy access (protected_environment_failure), was rejected by its approvers
 * (deployment_rejected) or would deploy over a newer successful deployment
 * (forward_deployment_failure), fails it with a line in its log and returns true; the
 * caller must not run it. Else its deployment and environment follow its running (as
 * sl_srv_deploy_job_moved does), the job's environment row read once. */
bool sl_srv_deploy_claimed(struct sl_server *s, const struct sl_store_job *job,
                           const char *worker_id);
/* JOB_ID is the new attempt an automatic retry (retry:) made, inside the transition's
 * transaction: when its deployment needs approvals it is blocked again and the job waits
 * for them (manual), as a retry through the API does (sl_srv_deploy_job_event). A no-op
 * for a job that deploys nothing or to an environment that needs no approval. */
int sl_srv_deploy_auto_retried(struct sl_server *s, int64_t job_id, struct sl_error *err);
/* Plays or retries (EV) JOB for ACTOR ("token:3"), whose deploy access the caller checked
 * (sl_srv_deploy_play_refused): the transition, and ACTOR as who triggered the deployment
 * the job (or the retry's new job) now runs, in one transaction. As sl_srv_transition. */
int sl_srv_deploy_job_event(struct sl_server *s, const struct sl_store_job *job, enum srv_event ev,
                            const char *actor, struct sl_error *err);
/* Stops environment ENVIRONMENT_ID: plays (or re-runs) the on_stop job of its latest
 * successful deployment, or stops it at once when there is none. SL_EBUSY when stopped. */
int sl_srv_deploy_stop(struct sl_server *s, int64_t environment_id, struct sl_error *err);
/* Re-runs the job of successful deployment DEPLOYMENT_ID (0: the latest successful one) of
 * the environment for ACTOR of ROLE, as a new deployment that says what it rolls back to.
 * SL_EPERM when the environment is protected and ACTOR may not deploy to it. */
int sl_srv_deploy_rollback(struct sl_server *s, int64_t environment_id, int64_t deployment_id,
                           const char *actor, const char *role, int64_t *new_id,
                           struct sl_error *err);
/* A push deleted BRANCH of PROJECT_ID: stops the environments last deployed from it that
 * have an on_stop job (review apps), as GitLab does; *STOPPED counts them. */
int sl_srv_deploy_stop_branch(struct sl_server *s, int64_t project_id, const char *branch,
                              int *stopped, struct sl_error *err);
/* Resource groups (resource_group.c). Gives the resource of each group of pipeline
 * PIPELINE_ID's jobs (0: of every group in use) to the next job in line, when it is free,
 * and wakes the workers if a job was queued. Errors are logged and counted. */
void sl_srv_resource_groups_kick(struct sl_server *s, int64_t pipeline_id);
/* The store status of a job the machine says is ST: a ready job of a resource group waits
 * for its resource (pipelines.c). */
const char *sl_srv_job_status_store(enum sl_sched_status st, bool in_resource_group);
/* A job's resource group and, while it waits, the job holding it (GET /jobs/{id}). */
void sl_srv_resource_group_job_info(struct sl_server *s, const struct sl_store_job *j, json_t *o);
void sl_h_resource_group_list(struct req *r);
void sl_h_resource_group_get(struct req *r);
void sl_h_resource_group_update(struct req *r);
void sl_h_resource_group_upcoming(struct req *r);
/* Stops environments whose auto_stop_in is over (the ticker calls it). */
void sl_srv_deploy_tick(struct sl_server *s, int64_t now);
/* Records ACTOR's (of role ACTOR_ROLE) approval or rejection of blocked deployment
 * DEPLOYMENT_ID. With enough approvals its job is queued; a rejection fails it. SL_EBUSY
 * when it waits for no approval, SL_EPERM for its triggerer or a role below the
 * environment's deploy_role, SL_EEXISTS when ACTOR decided already. */
int sl_srv_deploy_decide(struct sl_server *s, int64_t deployment_id, const char *actor,
                         const char *actor_role, bool approve, const char *comment,
                         struct sl_error *err);
void sl_h_environment_list(struct req *r);
/* The directory of job JOB_ID's artifacts (archive and artifacts.json) under pipeline
 * PIPELINE_ID's DATA/pipelines/<id>: jobs/<job id>/artifacts, one per attempt (a retry is a
 * new job), so a retry never overwrites what the attempt before it kept. Caller frees. */
char *sl_srv_artifacts_dir(const struct sl_server *s, int64_t pipeline_id, int64_t job_id);

/* The sources of claimed JOB (its stored SPEC's source_positions): each earlier job's name,
 * id, artifacts directory under PDIR (DATA/pipelines/<id>; NULL when it left none) and
 * dotenv variables from the store's job_reports, in restore order, allocated in A
 * (job_sources.c). */
struct sl_jobspec_source;
int sl_srv_job_sources(struct sl_server *s, const struct sl_store_job *job, json_t *spec,
                       const char *pdir, struct sl_arena *a, struct sl_jobspec_source **out,
                       size_t *n);
/* True when the claimed JOB is a bridge (trigger:), which no worker or runner runs: the
 * server does not create downstream pipelines yet (sluice run does), so its end is
 * recorded at once as GitLab's downstream_pipeline_creation_failed, with a log line
 * saying why (worker.c). WORKER_ID is the claimer. */
bool sl_srv_job_settle_bridge(struct sl_server *s, struct sl_store_job *job, const char *worker_id);
/* GET /api/v1/pipelines/{id}/test_report (reports_api.c) */
void sl_h_pipeline_test_report(struct req *r);
void sl_h_environment_get(struct req *r);
void sl_h_environment_stop(struct req *r);
void sl_h_environment_delete(struct req *r);
void sl_h_environment_rollback(struct req *r);
void sl_h_environment_deployments(struct req *r);
void sl_h_deployment_get(struct req *r);
void sl_h_deployment_approve(struct req *r);
void sl_h_deployment_reject(struct req *r);
void sl_h_protected_env_create(struct req *r);
void sl_h_protected_env_list(struct req *r);
void sl_h_protected_env_delete(struct req *r);
struct sl_arena;
struct sl_job_spec;
struct sl_mask;

/* The stored CI/CD variables one job gets (job_variables.c, GitLab's choice: instance then
 * project, the most specific environment scope, protected ones only on protected refs). */
struct srv_job_var {
    char *key, *value;
    bool raw;    /* never expanded */
    bool masked; /* masked or hidden: masked in the job's log */
    bool file;   /* variable_type file: the job gets a path to a file holding VALUE */
};
struct srv_job_vars {
    struct srv_job_var *vars;
    size_t n;
};
/* The variables of project PROJECT_ID for the job PLANNED describes (its environment from
 * PLANNED's variables). PROTECTED: whether its pipeline gets protected variables, as stored
 * on the pipeline (1, 0); -1 for a pipeline made before that was stored, for which
 * PLANNED's CI_COMMIT_REF_PROTECTED decides. Release with sl_srv_job_vars_release (values
 * are wiped). */
int sl_srv_job_variables(struct sl_server *s, int64_t project_id, int protected_,
                         const struct sl_job_spec *planned, struct srv_job_vars *out,
                         struct sl_error *err);
/* The same for a job in ENVIRONMENT (NULL: none, so only rows scoped `*` apply) on a ref
 * that is REF_PROTECTED or not: what pipeline creation hands the planner for rules and
 * include paths (environment NULL). */
int sl_srv_stored_variables(struct sl_server *s, int64_t project_id, const char *environment,
                            bool ref_protected, struct srv_job_vars *out, struct sl_error *err);
void sl_srv_job_vars_release(struct srv_job_vars *jv);
/* Appends KEY=VALUE (raw; masked when MASKED) to JV: what the server adds beside the stored
 * variables, such as the job's CI_JOB_TOKEN. */
void sl_srv_job_vars_add(struct srv_job_vars *jv, const char *key, const char *value, bool masked);
/* Adds the masked values of JV to M. */
int sl_srv_job_vars_mask(const struct srv_job_vars *jv, struct sl_mask *m, struct sl_error *err);
/* JV as the KEY=VALUE lists sl_jobspec_ctx takes (extra and extra_raw), in A; file variables
 * are written into FILES_DIR (made afresh, 0700, the job user's) and become their paths. */
int sl_srv_job_vars_env(struct sl_server *s, const struct srv_job_vars *jv, const char *files_dir,
                        struct sl_arena *a, const char *const **plain, const char *const **raw,
                        struct sl_error *err);

/* auto_cancel.c: GitLab's workflow:auto_cancel. A new pipeline P on a branch cancels the
 * older unfinished pipelines of older commits of its project and branch, each as its own
 * on_new_commit says: conservative (the whole pipeline, unless a job that is not
 * interruptible has started), interruptible (only its interruptible jobs), none. Failures
 * are logged. */
void sl_srv_auto_cancel_redundant(struct sl_server *s, const struct sl_store_pipeline *p);
/* on_job_failure: all. After job POS of PIPELINE_ID ended: when it failed (a failure not
 * allowed, no retry left) and its pipeline asked for it, the rest of the pipeline is
 * canceled. */
void sl_srv_auto_cancel_on_failure(struct sl_server *s, int64_t pipeline_id, size_t pos);

/* deploy_freeze.c */
void sl_h_freeze_period_create(struct req *r);
void sl_h_freeze_period_list(struct req *r);
void sl_h_freeze_period_get(struct req *r);
void sl_h_freeze_period_update(struct req *r);
void sl_h_freeze_period_delete(struct req *r);
/* Whether a freeze period of PROJECT_ID is active at NOW_MS (GitLab's rule). */
int sl_srv_deploy_frozen(struct sl_server *s, int64_t project_id, int64_t now_ms, bool *out,
                         struct sl_error *err);

/* protected_refs.c */
void sl_h_protected_branch_list(struct req *r);
void sl_h_protected_branch_create(struct req *r);
void sl_h_protected_branch_get(struct req *r);
void sl_h_protected_branch_delete(struct req *r);
void sl_h_protected_tag_list(struct req *r);
void sl_h_protected_tag_create(struct req *r);
void sl_h_protected_tag_get(struct req *r);
void sl_h_protected_tag_delete(struct req *r);
/* Whether REF (a tag when TAG) of PROJECT_ID is protected: a protected branch or tag of the
 * project names it or matches it as a wildcard. Decides CI_COMMIT_REF_PROTECTED. */
int sl_srv_ref_protected(struct sl_server *s, int64_t project_id, const char *ref, bool tag,
                         bool *out, struct sl_error *err);

/* TEXT, JSON the server stored in row ID of WHAT ("job spec"), parsed; NULL when TEXT is
 * NULL, and NULL with an error logged when it is not JSON or (WANT >= 0) not of json_type
 * WANT: a corrupt row is never read as an empty one (stored_json.c). Caller decrefs. */
json_t *sl_srv_stored_json(const char *text, int want, const char *what, int64_t id);

/* Shared by the handler files (api.c). */
json_t *sl_srv_time_json(int64_t ms);
/* A job as the API shows it (FULL: as GET /jobs/{id} does, else as in a pipeline). */
json_t *sl_srv_job_json(struct sl_server *s, const struct sl_store_job *j, bool full);
/* ?after= and ?limit= into PAGE; answers 400 and returns false when they are bad. */
bool sl_srv_page_args(struct req *r, struct sl_store_page *page);
/* An sl_audit event of the request's token on KIND:ID. */
void sl_srv_audit_on(struct req *r, const char *action, const char *kind, int64_t id);

/* The delivery queue (delivery.c): statuses and notifications are rows in the store that
 * one thread sends with retries (see the file). */
#define SRV_DELIVERY_ATTEMPTS 8                 /* attempts before a delivery is given up */
#define SRV_DELIVERY_RETRY_BASE_MS 5000         /* the first retry's wait (--delivery-retry-base) */
#define SRV_SESSION_TTL_MS (12LL * 3600 * 1000) /* a sign-in's life (--session-ttl) */
#define SRV_DELIVERY_KEEP_MS (30LL * 86400 * 1000) /* finished deliveries are kept 30 days */
int sl_srv_delivery_start(struct sl_server *s, struct sl_error *err);
/* Makes the sender look at the queue now. */
void sl_srv_delivery_wake(struct sl_server *s);
/* Stops and joins it (S->stopping must be set). */
void sl_srv_delivery_join(struct sl_server *s);
/* Queues a request to TARGET of KIND ("status:github", "notify:slack", ...) for PROJECT_ID
 * from SOURCE_ID (a notification rule; 0: the forge connection) with BODY (a mail's whole
 * message for notify:email) and wakes the sender. Inside a transition it is part of its
 * transaction. */
int sl_srv_delivery_queue(struct sl_server *s, int64_t project_id, int64_t source_id,
                          const char *kind, const char *target, const char *method,
                          const char *body, struct sl_error *err);
void sl_h_delivery_list(struct req *r);
/* Whether the host of URL (an smtp:// relay) is loopback, where mail may go in clear:
 * localhost, an IPv4 address in 127.0.0.0/8 or [::1], judged as written, never resolved. */
bool sl_srv_smtp_loopback(const char *url);

/* Commit statuses (forge.c). */
/* The header that authenticates TOKEN on a forge of KIND (caller frees; wipe it). */
char *sl_srv_forge_auth_header(const char *kind, const char *token);
void sl_h_forge_get(struct req *r);
void sl_h_forge_put(struct req *r);
void sl_h_forge_delete(struct req *r);
/* Pipeline P moved from OLD_STATUS (NULL: it was just created) to its status: queues its
 * commit status on the project's forge and, when it finished, the notifications its rules
 * ask for. Errors are logged, never returned: a pipeline never waits on its reports. */
void sl_srv_pipeline_reported(struct sl_server *s, const struct sl_store_pipeline *p,
                              const char *old_status);
/* Job JOB_ID's status changed: when its project's forge connection asks for per-job
 * statuses, queues the job's own (context sluice/job/NAME). Errors are logged. */
void sl_srv_job_reported(struct sl_server *s, int64_t job_id);
/* The same for the row JOB as just written (its status, name, allow_failure), of PIPELINE
 * (read from the store when NULL; only its project, sha, ref and parent are used): the
 * caller hands down what it read instead of its being read again. */
void sl_srv_job_reported_of(struct sl_server *s, const struct sl_store_job *job,
                            const struct sl_store_pipeline *pipeline);
/* Notifications (notify.c). */
/* Queues the notifications of finished pipeline P (failed, success, and fixed when its ref
 * had last failed) to every rule of its project that asks for them. */
void sl_srv_notify_pipeline(struct sl_server *s, const struct sl_store_pipeline *p);
void sl_h_notification_list(struct req *r);
void sl_h_notification_create(struct req *r);
void sl_h_notification_delete(struct req *r);
void sl_h_notification_test(struct req *r);

/* Secret detection (secret_scan.c): job logs as they are stored, pushes as they come. */
#define SRV_SCAN_OVERLAP 8192 /* bytes of a log's earlier text scanned again with a chunk */
/* The log tails' table; the default rules are compiled at the first chunk (default_scan). */
void sl_srv_scan_init(struct sl_server *s);
void sl_srv_scan_free(struct sl_server *s);
/* sl_store_log_append, and the new text scanned for secrets (with the end of the text
 * before it, so a secret split across chunks is found): findings are stored redacted.
 * Answers what the append answered; scanning errors are logged, never returned. PIPELINE_ID
 * is the job's pipeline when the caller holds its row (0: the job is read for it). */
int sl_srv_log_append(struct sl_server *s, int64_t job_id, int64_t pipeline_id, const void *data,
                      size_t len, int64_t now, int64_t *end_out, struct sl_error *err);
/* The log scan's caches: the last SRV_SCAN_OVERLAP bytes of the SRV_SCAN_TAILS_MAX jobs that
 * logged last, and the rules of the SRV_SCAN_RULES_MAX pipelines that logged last. */
#define SRV_SCAN_TAILS_MAX 64
#define SRV_SCAN_RULES_MAX 16
struct sl_srv_scan_stats {
    uint64_t tails_read_back; /* chunks whose earlier bytes came from the store, not memory */
    uint64_t rules_read;      /* rule files looked for in a project's mirror */
    uint64_t jobs_read;       /* jobs' pipelines looked up in the store for their rules */
};
void sl_srv_scan_stats(struct sl_server *s, struct sl_srv_scan_stats *out);
/* A project's rule files, the first of them that exists is read (secret_push.c). */
extern const char *const sl_srv_scan_rule_files[2];
/* The default rules extended by the rule file NAME's TEXT (LEN bytes; NULL: none). A file that
 * does not load is logged and the defaults scan. NULL only if the defaults do not compile. */
struct sl_scan *sl_srv_scan_rules(const char *name, const char *text, size_t len);
/* A push's findings (secret_push.c), not stored yet: the pipeline they belong to is made
 * after them, or refused because of them. */
struct srv_push_findings {
    struct sl_store_secret_finding *f;
    size_t n;
};
/* Scans the commits SHA brings to REF in the bare MIRROR (those since OLD_SHA, the ref's last
 * known commit; NULL: those not on DEFAULT_BRANCH), with the default rules extended by the
 * rule file of TREE (the commit's checkout). *OUT gets the findings (release with
 * sl_srv_push_findings_release). SL_EIO when the mirror or SHA cannot be read. */
int sl_srv_scan_push(struct sl_server *s, const char *mirror, const char *tree, const char *ref,
                     const char *default_branch, const char *old_sha, const char *sha,
                     struct srv_push_findings *out, struct sl_error *err);
/* Stores PF's findings as PROJECT_ID's, of PIPELINE_ID (0: none was made). Errors logged. */
void sl_srv_push_findings_store(struct sl_server *s, int64_t project_id, int64_t pipeline_id,
                                const struct srv_push_findings *pf);
void sl_srv_push_findings_release(struct srv_push_findings *pf);
/* Whether job JOB_ID of PIPELINE_ID (0: any of its jobs), ending well, fails instead: its log
 * holds a secret and the project's policy is fail or refuse. PROJECT_ID: the pipeline's
 * project when the caller holds its row (0: the pipeline is read for it). Errors are logged
 * (false). */
bool sl_srv_secret_fails_job(struct sl_server *s, int64_t pipeline_id, int64_t project_id,
                             int64_t job_id);
void sl_h_secret_finding_list(struct req *r);
void sl_h_secret_policy_get(struct req *r);
void sl_h_secret_policy_put(struct req *r);

/* Metrics (metrics.c). */
void sl_metrics_init(struct metrics *m);
void sl_metrics_release(struct metrics *m);
void sl_metrics_request(struct metrics *m, int route, int code, double seconds);
void sl_metrics_job(struct metrics *m, double seconds);
void sl_metrics_render(struct sl_server *s, struct sl_str *out);

/* JSON of stored rows (api.c): a pipeline as the API shows it, as a tree or written by W
 * (a jsonw writer, compact as the answers are). */
json_t *sl_pipeline_json(const struct sl_store_pipeline *p);
struct sl_jsonw;
void sl_srv_pipeline_w(struct sl_jsonw *w, const struct sl_store_pipeline *p);

#endif
