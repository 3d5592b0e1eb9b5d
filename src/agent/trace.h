/* trace.h: a running job's log, sent to the server as gitlab-runner sends it.
 *
 * The log is the job's log file (exec writes it, already masked); a thread of its own
 * sends what is new as PATCH /api/v4/jobs/{id}/trace with `Content-Range: START-END`
 * (END inclusive), at most SL_AGENT_TRACE_CHUNK bytes per patch. The first bytes go at
 * once (the job's first line shows without delay), later ones every update interval
 * (X-GitLab-Trace-Update-Interval of the server's answers; 3 s until told), and a job
 * quiet for a whole interval gets a PUT state=running instead, so its lease never lapses.
 *
 * Answers (network/gitlab.go): 202 moves the sent offset (to the server's Range when it
 * gives one); 416 resends from the server's Range; Job-Status `canceling` cancels the job
 * gracefully (after_script runs); `canceled`, `failed`, 403 and 404 mean the job is no
 * longer this agent's: it is force-canceled and nothing more is sent for it. Transport
 * failures are retried at the next interval. */
#ifndef SL_AGENT_TRACE_H
#define SL_AGENT_TRACE_H

#include "base/compat.h"
#include "exec/exec.h"

#define SL_AGENT_TRACE_CHUNK (1024 * 1024)

struct sl_agent_trace;

struct sl_agent_trace_opts {
    const char *base_url; /* ".../api/v4" */
    int64_t job_id;
    const char *token; /* the job token; borrowed for the trace's life */
    const char *log_path;
    struct sl_exec_cancel *cancel; /* canceled on `canceling`, forced on abort */
    const char *info_json;         /* runner info object for the keep-alive PUT */
};

/* Starts the sender thread. Never fails (a failed start is a trace that sends at finish). */
struct sl_agent_trace *sl_agent_trace_start(const struct sl_agent_trace_opts *o);
/* New bytes are in the log (cheap; called for every line). */
void sl_agent_trace_notify(struct sl_agent_trace *t);
/* Sends everything left, retrying with backoff until DEADLINE_MS (sl_time_mono_ns()/1e6
 * scale) when the server is away, and stops the thread. 0 when the server has the whole
 * log; SL_ECANCELED when the job is no longer ours; SL_ETIMEOUT past the deadline. */
int sl_agent_trace_finish(struct sl_agent_trace *t, int64_t deadline_ms);
/* As sl_agent_trace_finish, but when the whole log is at most MAX bytes and the server lacks
 * some of it, that rest is not sent: 1, and the caller sends the log with the job's end (the
 * "trace" of the final PUT, which saves a request per short job), or calls
 * sl_agent_trace_finish to send it after all (a server that did not take it). */
int sl_agent_trace_finish_short(struct sl_agent_trace *t, int64_t deadline_ms, uint64_t max);
/* True once the server said the job is no longer this agent's (see above). */
bool sl_agent_trace_aborted(const struct sl_agent_trace *t);
/* The latest update interval the server asked for, in seconds. */
int sl_agent_trace_interval(const struct sl_agent_trace *t);
void sl_agent_trace_free(struct sl_agent_trace *t);

#endif
