/* internal.h: what the files of the agent room share (agent.c, runjob.c, upload.c). */
#ifndef SL_AGENT_INTERNAL_H
#define SL_AGENT_INTERNAL_H

#include "agent/agent.h"
#include "agent/payload.h"
#include "exec/exec.h"

#include <pthread.h>
#include <stdatomic.h>

struct sl_agent;

/* One of the agent's CONCURRENCY slots: a thread that polls and runs one job at a time. */
struct agent_slot {
    struct sl_agent *a;
    int index;
    pthread_t thread;
    struct sl_exec_cancel *cancel; /* the running job's, or NULL; under a->mu */
    bool stop_failed;              /* canceled by the agent's stop: runner_system_failure */
};

struct sl_agent {
    struct sl_agent_options o;
    char *base; /* URL + "/api/v4" */
    char *work_dir, *cache_dir;
    char *work_abs;      /* WORK_DIR's real path, hidden from sandbox jobs */
    const char *hide[3]; /* the sandbox's hidden paths: work_abs, cache_dir's real path */
    char *cache_abs;
    struct sl_exec_sandbox sandbox; /* o.sandbox with hide */
    char *system_id;
    char *info_json; /* the runner info object sent with requests (JSON text) */
    char *runner_hdr;
    pthread_mutex_t mu;
    pthread_cond_t cv;   /* stop, stop_now, a slot ending */
    atomic_int stopping; /* no new jobs; held long-polls end (read by curl callbacks too) */
    bool stop_now;
    bool refused; /* the server refused the runner token */
    char refused_msg[256];
    int slots_alive;
    struct agent_slot *slots;
};

/* Runs the job PAYLOAD (LEN bytes, the 201 answer of jobs/request) on SLOT and reports it
 * to the server. Never fails: every outcome is reported, or logged when it cannot be. */
void sl_agent_run_job(struct agent_slot *slot, const char *payload, size_t len);

/* Waits up to MS on a->cv (locked by the caller), waking early on stop. */
void sl_agent_wait(struct sl_agent *a, int64_t ms);

/* The next backoff delay after DELAY_MS (1 s doubling to 60 s, +-20 % jitter). */
int64_t sl_agent_backoff(int64_t delay_ms);

/* Collects JOB's artifacts entries due for a job that succeeded (SUCCESS) or not, packs
 * each as its artifact_format asks (zip, gzip, raw) and uploads it. SAY writes a line to
 * the job's log. Returns false when an upload the job needed failed (the job fails). */
typedef void (*agent_say_fn)(void *ctx, const char *fmt, ...) SL_PRINTF(2, 3);
bool sl_agent_upload_artifacts(struct sl_agent *a, const struct sl_agent_job *job,
                               const char *workspace, const char *tmp_dir, bool success,
                               agent_say_fn say, void *ctx);

#endif
