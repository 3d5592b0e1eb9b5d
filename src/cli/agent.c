/* agent.c: `sluice agent`, a runner of this machine for a sluice server (src/agent/), in
 * the foreground until SIGTERM or SIGINT (a second one cancels running jobs at once). */
#include "base/compat.h"
#include "agent/agent.h"
#include "base/log.h"
#include "cli/cli.h"

#include <getopt.h>
#include <pthread.h>
#include <signal.h>

static void usage(FILE *f)
{
    fprintf(f,
            "usage: sluice agent --url URL --token glrt-... [--name N] [--concurrency N]\n"
            "                    [--executor auto|shell|sandbox|docker] [--work-dir DIR]\n"
            "                    [--cache-dir DIR] [--grace SECONDS] [--long-poll SECONDS]\n\n"
            "Takes jobs from a sluice server (or GitLab) over GitLab's runner API (/api/v4) and\n"
            "runs them on this machine: the source over the server's git HTTP, the log streamed\n"
            "back, artifacts uploaded, caches kept here. Logs are JSON lines on stderr.\n"
            "SIGTERM or SIGINT: no new jobs, running ones get the grace period, then are\n"
            "canceled; a second signal cancels them at once.\n\n"
            "Options:\n"
            "  --url URL           the server, e.g. http://ci.example:8080\n"
            "  --token TOKEN       the runner's token (sluice runner create); default\n"
            "                      $SLUICE_RUNNER_TOKEN, which keeps it out of `ps`\n"
            "  --name N            this agent's name in logs (default: the host name)\n"
            "  --concurrency N     jobs at once (default 1)\n"
            "  --executor E        auto (default: docker for a job with an image, else shell),\n"
            "                      shell, sandbox or docker\n"
            "  --work-dir DIR      builds, git mirrors, logs (default ./sluice-agent)\n"
            "  --cache-dir DIR     job caches (default WORK-DIR/cache)\n"
            "  --grace SECONDS     how long running jobs may finish at stop (default 30)\n"
            "  --long-poll SECONDS the longest a job request is held open (default 60)\n"
            "  -h, --help          show this help\n");
}

static bool parse_int(const char *s, long lo, long hi, long *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (!*s || *end || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

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
    static const struct option longopts[] = {{"url", required_argument, NULL, 'u'},
                                             {"token", required_argument, NULL, 't'},
                                             {"name", required_argument, NULL, 'n'},
                                             {"concurrency", required_argument, NULL, 'c'},
                                             {"executor", required_argument, NULL, 'e'},
                                             {"work-dir", required_argument, NULL, 'w'},
                                             {"cache-dir", required_argument, NULL, 'C'},
                                             {"grace", required_argument, NULL, 'g'},
                                             {"long-poll", required_argument, NULL, 'l'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    struct sl_agent_options o = {0};
    long v;
    int opt;

    o.token = getenv("SLUICE_RUNNER_TOKEN");
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'u':
            o.url = optarg;
            break;
        case 't':
            o.token = optarg;
            break;
        case 'n':
            o.name = optarg;
            break;
        case 'c':
            if (!parse_int(optarg, 1, 256, &v)) {
                sl_cli_error("agent: --concurrency takes 1 to 256, not '%s'", optarg);
                return SL_EXIT_USAGE;
            }
            o.concurrency = (int)v;
            break;
        case 'e':
            if (!sl_agent_executor_parse(optarg, &o.executor)) {
                sl_cli_error("agent: --executor is auto, shell, sandbox or docker, not '%s'",
                             optarg);
                return SL_EXIT_USAGE;
            }
            break;
        case 'w':
            o.work_dir = optarg;
            break;
        case 'C':
            o.cache_dir = optarg;
            break;
        case 'g':
            if (!parse_int(optarg, 0, 86400, &v)) {
                sl_cli_error("agent: --grace takes seconds (0 to 86400), not '%s'", optarg);
                return SL_EXIT_USAGE;
            }
            o.grace_ms = v ? v * 1000 : -1;
            break;
        case 'l':
            if (!parse_int(optarg, 1, 3600, &v)) {
                sl_cli_error("agent: --long-poll takes seconds (1 to 3600), not '%s'", optarg);
                return SL_EXIT_USAGE;
            }
            o.long_poll_s = (int)v;
            break;
        case 'h':
            usage(stdout);
            return SL_EXIT_OK;
        default:
            sl_cli_error("agent: unknown option '%s'; see 'sluice agent --help'", argv[optind - 1]);
            return SL_EXIT_USAGE;
        }
    }
    if (optind < argc) {
        sl_cli_error("agent: unexpected argument '%s'", argv[optind]);
        return SL_EXIT_USAGE;
    }
    if (!o.url || !o.token) {
        sl_cli_error("agent: --url and --token are required; see 'sluice agent --help'");
        return SL_EXIT_USAGE;
    }

    /* every thread inherits the mask, so only the signal thread sees these; SIGPIPE: a
     * server closing early must not kill the agent */
    struct sig_ctx sc;
    sigemptyset(&sc.set);
    sigaddset(&sc.set, SIGTERM);
    sigaddset(&sc.set, SIGINT);
    sigaddset(&sc.set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sc.set, NULL);
    signal(SIGPIPE, SIG_IGN);

    struct sl_agent *a = NULL;
    struct sl_error err = SL_ERROR_INIT;
    if (sl_agent_new(&a, &o, &err) < 0) {
        sl_cli_error("agent: %s", sl_error_format(&err));
        sl_error_release(&err);
        return SL_EXIT_USAGE;
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
