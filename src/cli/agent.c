/* agent.c: `sluice agent`, a runner of this machine for a sluice server (src/agent/), in
 * the foreground until SIGTERM or SIGINT (a second one cancels running jobs at once). */
#include "base/compat.h"
#include "agent/agent.h"
#include "base/log.h"
#include "cli/cli.h"
#include "cli/opts.h"
#include "cli/run_executor.h"

#include <pthread.h>
#include <signal.h>

static const struct sl_cli_opt agent_opts[] = {
    {'u', 0, "url", "URL", "the server, e.g. http://ci.example:8080", SL_OPT_REQUIRED},
    {'t', 0, "token", "TOKEN",
     "the runner's token (sluice runner create); default $SLUICE_RUNNER_TOKEN, which keeps it "
     "out of `ps`",
     SL_OPT_REQUIRED},
    {'n', 0, "name", "N", "this agent's name in logs (default: the host name)", 0},
    {'c', 0, "concurrency", "N", "jobs at once (default 1)", 0},
    {'e', 0, "executor", "E",
     "auto (default: docker for a job with an image, else shell), shell, sandbox or docker", 0},
    {'w', 0, "work-dir", "DIR", "builds, git mirrors, logs (default ./sluice-agent)", 0},
    {'C', 0, "cache-dir", "DIR", "job caches (default WORK-DIR/cache)", 0},
    {'g', 0, "grace", "SECONDS", "how long running jobs may finish at stop (default 30)", 0},
    {'l', 0, "long-poll", "SECONDS", "the longest a job request is held open (default 60)", 0},
    {'M', 0, "memory", "B", "the sandbox's memory limit per job (bytes; k, m, g suffixes)", 0},
    {'N', 0, "pids", "N", "the sandbox's limit of processes per job", 0},
    {'U', 0, "cpus", "F", "the sandbox's CPUs per job (a fraction allowed)", 0},
    {'R', 0, "rootfs", "DIR", "the sandbox's root file system (default the host's /)", 0},
    {'H', 0, "sandbox-host-network", NULL, "honour SLUICE_SANDBOX_NETWORK=host of jobs", 0},
};

const struct sl_cli_spec sl_cli_spec_agent = {
    .name = "agent",
    .about = "Takes jobs from a sluice server (or GitLab) over GitLab's runner API (/api/v4) and\n"
             "runs them on this machine: the source over the server's git HTTP, the log streamed\n"
             "back, artifacts uploaded, caches kept here. Logs are JSON lines on stderr.\n"
             "SIGTERM or SIGINT: no new jobs, running ones get the grace period, then are\n"
             "canceled; a second signal cancels them at once.\n",
    .docs = "docs/agents.md",
    .opts = agent_opts,
    .nopts = SL_ARRAY_LEN(agent_opts),
};

struct sig_ctx {
    struct sl_agent *a;
    sigset_t set;
};

static void *signals(void *arg)
{
    struct sig_ctx *c = arg;
    int sig, n = 0;
    while (sigwait(&c->set, &sig) == 0) {
        sl_log(SL_LOG_INFO, n == 0 ? "stopping" : "stopping now", "signal",
               sig == SIGTERM  ? "SIGTERM"
               : sig == SIGHUP ? "SIGHUP"
                               : "SIGINT",
               NULL);
        if (n++ == 0)
            sl_agent_stop(c->a);
        else
            sl_agent_stop_now(c->a);
    }
    return NULL;
}

int sl_cmd_agent(int argc, char **argv)
{
    struct sl_agent_options o = {0};
    long v;
    int opt;

    o.token = getenv("SLUICE_RUNNER_TOKEN");
    struct sl_cli_args ca;
    sl_cli_args_init(&ca, &sl_cli_spec_agent, argc, argv);
    while ((opt = sl_cli_next(&ca)) > 0) {
        switch (opt) {
        case 'u':
            o.url = ca.arg;
            break;
        case 't':
            o.token = ca.arg;
            break;
        case 'n':
            o.name = ca.arg;
            break;
        case 'c':
            if (!sl_cli_parse_long(ca.arg, 1, 256, &v)) {
                sl_cli_error("agent: --concurrency takes 1 to 256, not '%s'", ca.arg);
                return SL_EXIT_USAGE;
            }
            o.concurrency = (int)v;
            break;
        case 'e':
            if (!sl_agent_executor_parse(ca.arg, &o.executor)) {
                sl_cli_error("agent: --executor is auto, shell, sandbox or docker, not '%s'",
                             ca.arg);
                return SL_EXIT_USAGE;
            }
            break;
        case 'w':
            o.work_dir = ca.arg;
            break;
        case 'C':
            o.cache_dir = ca.arg;
            break;
        case 'g':
            if (!sl_cli_parse_long(ca.arg, 0, 86400, &v)) {
                sl_cli_error("agent: --grace takes seconds (0 to 86400), not '%s'", ca.arg);
                return SL_EXIT_USAGE;
            }
            o.grace_ms = v ? v * 1000 : -1;
            break;
        case 'l':
            if (!sl_cli_parse_long(ca.arg, 1, 3600, &v)) {
                sl_cli_error("agent: --long-poll takes seconds (1 to 3600), not '%s'", ca.arg);
                return SL_EXIT_USAGE;
            }
            o.long_poll_s = (int)v;
            break;
        case 'M':
        case 'N':
        case 'U':
            if (!sl_run_executor_limit("agent",
                                       opt == 'M'   ? "memory"
                                       : opt == 'N' ? "pids"
                                                    : "cpus",
                                       ca.arg, &o.sandbox))
                return SL_EXIT_USAGE;
            break;
        case 'R':
            o.sandbox.rootfs = ca.arg;
            break;
        case 'H':
            o.sandbox.allow_host_network = true;
            break;
        }
    }
    if (opt < 0)
        return ca.exit;
    if (sl_cli_too_many(&ca, 0))
        return SL_EXIT_USAGE;
    if (!o.url || !o.token) {
        sl_cli_error("agent: --url and --token are required; see 'sluice agent --help'");
        return SL_EXIT_USAGE;
    }

    /* every thread inherits the mask, so only the signal thread sees these; SIGPIPE: a
     * server closing early must not kill the agent */
    /* static: the detached signal thread waits on it until the process exits, after this
     * function has returned and its stack frame is reused (exit handlers' qsort there,
     * seen by ThreadSanitizer) */
    static struct sig_ctx sc;
    sigemptyset(&sc.set);
    sigaddset(&sc.set, SIGTERM);
    sigaddset(&sc.set, SIGINT);
    sigaddset(&sc.set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sc.set, NULL);
    signal(SIGPIPE, SIG_IGN);

    struct sl_agent *a = NULL;
    struct sl_error err = SL_ERROR_INIT;
    int nrc = sl_agent_new(&a, &o, &err);
    if (nrc < 0) {
        sl_cli_error("agent: %s", sl_error_format(&err));
        sl_error_release(&err);
        return nrc == SL_EPERM ? SL_EXIT_FAIL : SL_EXIT_USAGE; /* EPERM: the sandbox probe */
    }
    sc.a = a;
    pthread_t t;
    if (pthread_create(&t, NULL, signals, &sc) == 0)
        pthread_detach(t);
    int rc = sl_agent_run(a, &err);
    if (rc < 0) {
        sl_log(SL_LOG_ERROR, "agent stopped", "error", sl_error_format(&err), NULL);
        sl_cli_error("agent: %s", sl_error_format(&err));
        sl_error_release(&err);
    }
    /* the signal thread still points at A: leave it to the process's exit */
    return rc < 0 ? SL_EXIT_FAIL : SL_EXIT_OK;
}
