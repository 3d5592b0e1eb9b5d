/* metrics.c: counters kept in memory and /metrics in Prometheus' text format. Row counts
 * (pipelines and jobs by status, the queue) are read from the store at scrape time, so
 * they are right across restarts and servers. */
#include "base/compat.h"
#include "base/alloc.h"
#include "server/flags_api.h"
#include "server/internal.h"
#include "server/runner.h"

/* Upper bounds in seconds: HTTP latency and job duration share one scale. */
static const double latency_bounds[SRV_HIST_N] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                  0.1,   0.25,   0.5,   1,    2.5,   10};
static const double job_bounds[SRV_HIST_N] = {1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200};

void sl_metrics_init(struct metrics *m)
{
    memset(m, 0, sizeof(*m));
    pthread_mutex_init(&m->mu, NULL);
}

void sl_metrics_release(struct metrics *m)
{
    free(m->counts);
    pthread_mutex_destroy(&m->mu);
}

static size_t bucket(const double *bounds, double v)
{
    size_t i = 0;
    while (i < SRV_HIST_N && v > bounds[i])
        i++;
    return i;
}

void sl_metrics_request(struct metrics *m, int route, int code, double seconds)
{
    pthread_mutex_lock(&m->mu);
    size_t i;
    for (i = 0; i < m->ncounts; i++)
        if (m->counts[i].route == route && m->counts[i].code == code)
            break;
    if (i == m->ncounts) {
        SL_GROW(m->counts, m->capcounts, m->ncounts + 1);
        m->counts[m->ncounts++] = (struct route_count){route, code, 0};
    }
    m->counts[i].n++;
    m->latency[bucket(latency_bounds, seconds)]++;
    m->latency_sum += seconds;
    m->latency_n++;
    pthread_mutex_unlock(&m->mu);
}

void sl_metrics_job(struct metrics *m, double seconds)
{
    pthread_mutex_lock(&m->mu);
    m->job_dur[bucket(job_bounds, seconds)]++;
    m->job_dur_sum += seconds;
    m->job_dur_n++;
    pthread_mutex_unlock(&m->mu);
}

static void histogram(struct sl_str *out, const char *name, const char *help, const double *bounds,
                      const uint64_t *counts, double sum, uint64_t n)
{
    sl_str_addf(out, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
    uint64_t cum = 0;
    for (size_t i = 0; i < SRV_HIST_N; i++) {
        cum += counts[i];
        sl_str_addf(out, "%s_bucket{le=\"%g\"} %llu\n", name, bounds[i], (unsigned long long)cum);
    }
    cum += counts[SRV_HIST_N];
    sl_str_addf(out, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %g\n%s_count %llu\n", name,
                (unsigned long long)cum, name, sum, name, (unsigned long long)n);
}

static void by_status(struct sl_server *s, struct sl_str *out, enum sl_store_table t,
                      const char *name, const char *help, int64_t *pending)
{
    struct sl_store_count *c = NULL;
    size_t n = 0;
    sl_str_addf(out, "# HELP %s %s\n# TYPE %s gauge\n", name, help, name);
    if (sl_store_count_by_status(s->st, t, &c, &n, NULL) < 0) {
        atomic_fetch_add(&s->metrics.store_errors, 1);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        sl_str_addf(out, "%s{status=\"%s\"} %lld\n", name, c[i].status, (long long)c[i].count);
        if (pending && !strcmp(c[i].status, "pending"))
            *pending = c[i].count;
    }
    sl_store_counts_free(c, n);
}

void sl_metrics_render(struct sl_server *s, struct sl_str *out)
{
    struct metrics *m = &s->metrics;
    int64_t pending = 0;
    by_status(s, out, SL_STORE_PIPELINES, "sluice_pipelines", "Pipelines by status.", NULL);
    by_status(s, out, SL_STORE_JOBS, "sluice_jobs", "Jobs by status.", &pending);
    sl_str_addf(out,
                "# HELP sluice_queue_depth Jobs waiting to be claimed.\n"
                "# TYPE sluice_queue_depth gauge\nsluice_queue_depth %lld\n",
                (long long)pending);
    sl_str_addf(out,
                "# HELP sluice_jobs_running_here Jobs running in this server's workers.\n"
                "# TYPE sluice_jobs_running_here gauge\nsluice_jobs_running_here %d\n",
                sl_srv_workers_busy(s));
    sl_str_addf(out,
                "# HELP sluice_runner_requests_held Runners' jobs/request long-polls held "
                "waiting for a job.\n"
                "# TYPE sluice_runner_requests_held gauge\nsluice_runner_requests_held %zu\n",
                sl_srv_runners_held(s));
    sl_str_addf(out,
                "# HELP sluice_pipeline_waits_held GETs of a pipeline with ?wait= held "
                "waiting for its status to change.\n"
                "# TYPE sluice_pipeline_waits_held gauge\nsluice_pipeline_waits_held %zu\n",
                sl_srv_pipeline_waits_held(s));

    pthread_mutex_lock(&m->mu);
    sl_str_adds(out, "# HELP sluice_http_requests_total HTTP requests by route and code.\n"
                     "# TYPE sluice_http_requests_total counter\n");
    for (size_t i = 0; i < m->ncounts; i++) {
        const char *route = m->counts[i].route >= 0 && (size_t)m->counts[i].route < sl_srv_nroutes
                                ? sl_srv_routes[m->counts[i].route].pattern
                                : "unmatched";
        const char *method = m->counts[i].route >= 0 && (size_t)m->counts[i].route < sl_srv_nroutes
                                 ? sl_srv_routes[m->counts[i].route].method
                                 : "";
        sl_str_addf(out,
                    "sluice_http_requests_total{method=\"%s\",route=\"%s\",code=\"%d\"} %llu\n",
                    method, route, m->counts[i].code, (unsigned long long)m->counts[i].n);
    }
    histogram(out, "sluice_http_request_duration_seconds", "HTTP request latency.", latency_bounds,
              m->latency, m->latency_sum, m->latency_n);
    histogram(out, "sluice_job_duration_seconds", "Duration of jobs run by built-in workers.",
              job_bounds, m->job_dur, m->job_dur_sum, m->job_dur_n);
    pthread_mutex_unlock(&m->mu);
    sl_str_addf(out,
                "# HELP sluice_store_errors_total Store calls that failed unexpectedly.\n"
                "# TYPE sluice_store_errors_total counter\nsluice_store_errors_total %llu\n"
                "# HELP sluice_auth_failures_total Failed authentications (tokens, sign-ins, "
                "webhook signatures).\n"
                "# TYPE sluice_auth_failures_total counter\nsluice_auth_failures_total %llu\n"
                "# HELP sluice_auth_throttled_total Requests refused with 429 after too many "
                "failed authentications from their address.\n"
                "# TYPE sluice_auth_throttled_total counter\nsluice_auth_throttled_total %llu\n"
                "# HELP sluice_polls_total Polls of projects' repositories done (fetch and "
                "compare), whatever they found.\n"
                "# TYPE sluice_polls_total counter\nsluice_polls_total %llu\n"
                "# HELP sluice_jobs_retried_total Attempts of jobs retried (by retry: or by "
                "a user), each retry a new job.\n"
                "# TYPE sluice_jobs_retried_total counter\nsluice_jobs_retried_total %llu\n",
                (unsigned long long)atomic_load(&m->store_errors),
                (unsigned long long)atomic_load(&m->auth_failures),
                (unsigned long long)atomic_load(&m->auth_throttled),
                (unsigned long long)atomic_load(&m->polls),
                (unsigned long long)atomic_load(&m->jobs_retried));
    sl_srv_flags_metrics_render(s, out);
}
