/* agent.h: `sluice agent`, a runner that takes jobs from a sluice server (or anything that
 * speaks GitLab's runner API) and runs them on this machine with exec.
 *
 *   struct sl_agent *a;
 *   sl_agent_new(&a, &opts, &err);
 *   ... a signal thread calls sl_agent_stop(a) on SIGTERM ...
 *   rc = sl_agent_run(a, &err);      blocks until stopped
 *   sl_agent_free(a);
 *
 * The protocol is gitlab-runner's (network/gitlab.go): POST /api/v4/runners/verify once,
 * then each of CONCURRENCY slots long-polls POST /api/v4/jobs/request; a 201 carries a job
 * (payload.h), which the slot runs: source over the server's git HTTP (source.h), the
 * dependencies' artifacts with JOB-TOKEN, sl_job_run, the log streamed as PATCH
 * /api/v4/jobs/{id}/trace (trace.h), the artifacts uploaded, and the outcome sent as PUT
 * /api/v4/jobs/{id}. When the server is away every request is retried with exponential
 * backoff (1 s doubling to 60 s, jittered) and the agent reconnects by itself; a job's
 * log and outcome are kept until the server takes them.
 *
 * Stopping (sl_agent_stop, SIGTERM): no new job is taken, held long-polls end, running
 * jobs get GRACE_MS to finish; then they are canceled (after_script runs) and reported
 * failed with runner_system_failure, so `retry: when: runner_system_failure` applies.
 * sl_agent_stop_now (a second signal) cancels them at once.
 *
 * Logs are JSON lines (base/log.h) on stderr. */
#ifndef SL_AGENT_H
#define SL_AGENT_H

#include "base/compat.h"
#include "base/error.h"
#include "exec/exec.h"

enum sl_agent_executor {
    SL_AGENT_EXEC_AUTO = 0, /* docker for a job with an image, shell otherwise */
    SL_AGENT_EXEC_SHELL,
    SL_AGENT_EXEC_SANDBOX,
    SL_AGENT_EXEC_DOCKER,
};

struct sl_agent_options {
    const char *url;   /* the server, "http://host:port" (a trailing / is fine) */
    const char *token; /* the runner authentication token, glrt-... */
    const char *name;  /* for logs and the runner info sent; NULL: the host name */
    int concurrency;   /* jobs at once; 0: 1 */
    enum sl_agent_executor executor;
    const char *work_dir;  /* builds, checkouts, mirrors, logs; NULL: ./sluice-agent */
    const char *cache_dir; /* job caches; NULL: WORK_DIR/cache */
    int64_t grace_ms;      /* for running jobs at stop; 0: 30 s; < 0: none */
    int long_poll_s;       /* how long one jobs/request may be held; 0: 60 s (curl timeout) */
    /* --executor sandbox: limits and root (--memory, --pids, --cpus, --rootfs); `hide` is
     * the agent's own (its work directory: other jobs' workspaces, caches, tokens) */
    struct sl_exec_sandbox sandbox;
};

/* Parses "auto|shell|sandbox|docker"; false when unknown. */
bool sl_agent_executor_parse(const char *s, enum sl_agent_executor *out);

struct sl_agent;

/* Checks OPTS and makes the work directory. *OUT (free with sl_agent_free). */
int sl_agent_new(struct sl_agent **out, const struct sl_agent_options *opts, struct sl_error *err);
/* Verifies the token and runs until stopped. 0 after a stop; SL_EPERM when the server
 * refuses the token (at start, or later: a deleted runner), with the reason in ERR. */
int sl_agent_run(struct sl_agent *a, struct sl_error *err);
/* Graceful stop (see above). Safe from any thread, not from a signal handler. */
void sl_agent_stop(struct sl_agent *a);
/* Cancels running jobs now. Safe from any thread. */
void sl_agent_stop_now(struct sl_agent *a);
void sl_agent_free(struct sl_agent *a);

#endif
