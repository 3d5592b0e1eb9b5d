/* serve.c: `sluice serve`, the CI server (src/server/) in the foreground until SIGTERM,
 * SIGINT or SIGHUP. */
#include "base/compat.h"
#include "base/alloc.h"
#include "base/log.h"
#include "base/resident.h"
#include "base/time.h"
#include "cli/cli.h"
#include "cli/opts.h"
#include "cli/run_executor.h"
#include "exec/choose.h"
#include "server/server.h"

#include <malloc.h>

#include <errno.h>
#include <signal.h>

static const struct sl_cli_opt serve_opts[] = {
    {'l', 0, "listen", "ADDR:PORT",
     "where to listen (default 127.0.0.1:8080; port 0 picks a free port, printed on stdout)", 0},
    {SL_CLI_O_DATA, 0, "data", "DIR",
     "the data directory (default ./sluice-data): the SQLite database, repositories, "
     "workspaces, logs, artifacts",
     0},
    {SL_CLI_O_DB, 0, "db", "URL",
     "the store (default DIR/sluice.db; postgres://... too; or SLUICE_DB). A password in it "
     "is visible to every user in ps until it is scrubbed: use SLUICE_DB or --db-file",
     0},
    SL_CLI_OPT_DB_FILE(SL_CLI_O_DB_FILE),
    {'w', 0, "workers", "N", "built-in workers, jobs run at once (default 1; 0 = none)", 0},
    {'g', 0, "grace", "SECONDS", "how long running jobs may finish at shutdown (default 30)", 0},
    {'k', 0, "secrets-key-file", "FILE",
     "the key CI/CD variables are sealed with (default DIR/secrets.key, made on first start "
     "with mode 0600)",
     0},
    {'u', 0, "run-as", "USER",
     "the user built-in workers run jobs as (a name or uid; default: nobody when the server "
     "runs as root, else the server's own user); the data directory is then closed to it",
     0},
    {'L', 0, "lease", "SECONDS",
     "how long a running job belongs to its runner without news from it (default 60); then it "
     "fails runner_system_failure",
     0},
    {'P', 0, "long-poll", "SECONDS",
     "how long a runner's jobs/request waits for a job (default 30, the most; 0 = answer at "
     "once)",
     0},
    {'E', 0, "external-url", "URL",
     "the URL runners and jobs reach this server at (default http://ADDR:PORT bound)", 0},
    {'x', 0, "executor", "E",
     "auto (default: a job with an image runs on docker, one without on shell), shell, "
     "docker or sandbox for every job (sandbox is tried at start; the server stops, saying "
     "what the kernel refuses)",
     0},
    {'M', 0, "memory", "B", "the sandbox's memory limit per job (bytes; k, m, g suffixes)", 0},
    {'N', 0, "pids", "N", "the sandbox's limit of processes per job", 0},
    {'U', 0, "cpus", "F", "the sandbox's CPUs per job (a fraction allowed)", 0},
    {'O', 0, "rootfs", "DIR", "the sandbox's root file system (default the host's /)", 0},
    {'H', 0, "sandbox-host-network", NULL, "honour SLUICE_SANDBOX_NETWORK=host of jobs", 0},
    {'i', 0, "image", "IMAGE", "the default image of jobs that name none (as a runner's)", 0},
    {'p', 0, "pull-policy", "P", "always, if-not-present (default) or never", 0},
    {'a', 0, "allowed-pull-policies", "LIST",
     "the pull_policy values jobs may ask for (comma-separated; default: any)", 0},
    {'C', 0, "log-cap", "BYTES",
     "the most of a job's log stored (default 1G, 1 GiB; K, M, G, T suffixes); a log "
     "reaching it ends with a line saying so",
     0},
    {'R', 0, "delivery-retry-base", "SECONDS",
     "the wait before a failed commit status or notification is sent again (default 5, "
     "doubling after each failed attempt; decimals allowed)",
     0},
    {'S', 0, "smtp-url", "URL",
     "the mail relay of email notifications: smtps://HOST[:PORT] or smtp://HOST[:PORT] "
     "(STARTTLS required off loopback); user:password@ in the URL to authenticate",
     0},
    {'F', 0, "smtp-from", "ADDR", "the sender address of notification mails", 0},
    {'Y', 0, "smtp-ca", "FILE",
     "the CA certificates (PEM) the mail relay's TLS certificate is checked against "
     "(default: the system's), for a relay with a private CA or a self-signed certificate",
     0},
    {'T', 0, "session-ttl", "DURATION",
     "how long a web UI sign-in lasts (default 12h; \"30m\", \"8 hours\", seconds; at most 30 "
     "days); then the page asks for the token again",
     0},
    {'G', 0, "git-timeout", "SECONDS",
     "how long a fetch of a project's repository waits on a remote that sends nothing "
     "(between two reads; default 120; to connect, at most 30 of it); then the fetch fails",
     0},
    {'A', 0, "allow-remote-includes", "HOSTS",
     "fetch include:remote and include:template files from these hosts (comma-separated; "
     "*.example.com for its subdomains; default: none, the server makes no outside request "
     "for a configuration)",
     0},
};

const struct sl_cli_spec sl_cli_spec_serve = {
    .name = "serve",
    .about = "Runs the sluice server: the HTTP API under /api/v1, /healthz, /readyz and /metrics,\n"
             "and built-in workers that run jobs (a job with an image in a container, by\n"
             "default; see docs/executors.md). Logs are JSON lines on stderr. SIGTERM, SIGINT\n"
             "or SIGHUP stops it: no new connections, running jobs get the grace period to\n"
             "finish, then they are canceled and recorded so.\n",
    .epilog = "On first start an admin token is created, printed once and written to\n"
              "DIR/admin.token (mode 0600). More tokens: sluice token create.\n",
    .docs = "docs/server.md",
    .opts = serve_opts,
    .nopts = SL_ARRAY_LEN(serve_opts),
};

/* "1048576", "64M", "1G": a byte count from 1 KiB to 1 TiB */
/* A password in --smtp-url would show in ps and /proc/PID/cmdline for the server's whole
 * life. The server keeps a copy and overwrites the password in argv with '*' (as curl
 * does for -u), so it is visible only between exec and this option's parse. The copy is
 * kept in a static for the process's life: options are parsed once. */
static const char *keep_hiding_password(const char *optarg_)
{
    static char *kept;
    free(kept);
    kept = sl_xstrdup(optarg_);
    /* getopt's optarg points into the process's argv, whose strings are writable */
    char *host = strstr((char *)optarg_, "://");
    if (!host)
        return kept;
    host += 3;
    size_t authority = strcspn(host, "/?#");
    char *at = memrchr(host, '@', authority);
    char *colon = at ? memchr(host, ':', (size_t)(at - host)) : NULL;
    if (colon)
        memset(colon + 1, '*', (size_t)(at - colon - 1));
    return kept;
}

static bool parse_size(const char *s, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    int shift = 0;
    if (!*s || errno || v <= 0 || end == s)
        return false;
    if (*end) {
        const char *u = strchr("KMGT", *end);
        if (!u || end[1])
            return false;
        shift = 10 * (int)(u - "KMGT" + 1);
    }
    if (v > (1LL << 40) >> shift)
        return false;
    v <<= shift;
    if (v < 1024)
        return false;
    *out = v;
    return true;
}

int sl_cmd_serve(int argc, char **argv)
{
    struct sl_server_options o = {0};
    struct sl_exec_sandbox sandbox = {0};
    bool use_sandbox = false;
    long workers = 1, grace = 30, lease = 60, long_poll = 30;
    struct sl_cli_store_args so = {.data = "sluice-data"};
    char *db = NULL;
    int opt;

    o.listen = "127.0.0.1:8080";
    struct sl_cli_args ca;
    sl_cli_args_init(&ca, &sl_cli_spec_serve, argc, argv);
    while ((opt = sl_cli_next(&ca)) > 0) {
        if (sl_cli_store_opt(&so, opt, ca.arg))
            continue;
        switch (opt) {
        case 'l':
            o.listen = ca.arg;
            break;
        case 'w':
            if (!sl_cli_parse_long(ca.arg, 0, 256, &workers)) {
                sl_cli_error("serve: --workers takes 0 to 256, not '%s'", ca.arg);
                return SL_EXIT_USAGE;
            }
            break;
        case 'g':
            if (!sl_cli_parse_long(ca.arg, 0, 86400, &grace)) {
                sl_cli_error("serve: --grace takes seconds (0 to 86400), not '%s'", ca.arg);
                return SL_EXIT_USAGE;
            }
            break;
        case 'k':
            o.secrets_key_file = ca.arg;
            break;
        case 'u':
            o.run_as = ca.arg;
            break;
        case 'L':
            if (!sl_cli_parse_long(ca.arg, 3, 86400, &lease)) {
                sl_cli_error("serve: --lease takes seconds (3 to 86400), not '%s'", ca.arg);
                return SL_EXIT_USAGE;
            }
            break;
        case 'P':
            if (!sl_cli_parse_long(ca.arg, 0, 30, &long_poll)) {
                sl_cli_error("serve: --long-poll takes seconds (0 to 30), not '%s'", ca.arg);
                return SL_EXIT_USAGE;
            }
            break;
        case 'E':
            if (strncmp(ca.arg, "http://", 7) != 0 && strncmp(ca.arg, "https://", 8) != 0) {
                sl_cli_error("serve: --external-url takes http://HOST[:PORT], not '%s'", ca.arg);
                return SL_EXIT_USAGE;
            }
            o.external_url = ca.arg;
            break;
        case 'x':
            if (sl_streq(ca.arg, "auto"))
                o.executor.kind = SL_EXEC_CHOOSE_AUTO;
            else if (sl_streq(ca.arg, "shell"))
                o.executor.kind = SL_EXEC_CHOOSE_SHELL;
            else if (sl_streq(ca.arg, "docker"))
                o.executor.kind = SL_EXEC_CHOOSE_DOCKER;
            else if (sl_streq(ca.arg, "sandbox"))
                use_sandbox = true;
            else {
                sl_cli_error("serve: --executor takes auto, shell, docker or sandbox, not '%s'",
                             ca.arg);
                return SL_EXIT_USAGE;
            }
            break;
        case 'M':
        case 'N':
        case 'U':
            if (!sl_run_executor_limit("serve",
                                       opt == 'M'   ? "memory"
                                       : opt == 'N' ? "pids"
                                                    : "cpus",
                                       ca.arg, &sandbox))
                return SL_EXIT_USAGE;
            break;
        case 'O':
            sandbox.rootfs = ca.arg;
            break;
        case 'H':
            sandbox.allow_host_network = true;
            break;
        case 'i':
            o.executor.image = ca.arg;
            break;
        case 'p':
            if (!(o.executor.pull_policy = sl_exec_pull_policy(ca.arg, strlen(ca.arg)))) {
                sl_cli_error("serve: --pull-policy takes always, if-not-present or never, not "
                             "'%s'",
                             ca.arg);
                return SL_EXIT_USAGE;
            }
            break;
        case 'a':
            if (!(o.executor.allowed_policies = sl_run_executor_policies(ca.arg))) {
                sl_cli_error("serve: --allowed-pull-policies takes a comma-separated list of "
                             "always, if-not-present, never, not '%s'",
                             ca.arg);
                return SL_EXIT_USAGE;
            }
            break;
        case 'T': {
            int64_t secs = 0;
            if (sl_time_parse_duration(ca.arg, &secs) < 0 || secs < 1 || secs > 30 * 86400) {
                sl_cli_error("serve: --session-ttl takes a duration of 1 second to 30 days "
                             "(\"12h\", \"30 minutes\"), not '%s'",
                             ca.arg);
                return SL_EXIT_USAGE;
            }
            o.session_ttl_ms = secs * 1000;
            break;
        }
        case 'C':
            if (!parse_size(ca.arg, &o.log_cap)) {
                sl_cli_error("serve: --log-cap takes 1K to 1T bytes (K, M, G, T suffixes), "
                             "not '%s'",
                             ca.arg);
                return SL_EXIT_USAGE;
            }
            break;
        case 'G': {
            long v;
            if (!sl_cli_parse_long(ca.arg, 1, 86400, &v)) {
                sl_cli_error("serve: --git-timeout takes seconds (1 to 86400), not '%s'", ca.arg);
                return SL_EXIT_USAGE;
            }
            o.git_timeout_s = (int)v;
            break;
        }
        case 'R': {
            char *end;
            double v = strtod(ca.arg, &end);
            if (!*ca.arg || *end || !(v >= 0.01 && v <= 3600)) {
                sl_cli_error("serve: --delivery-retry-base takes seconds (0.01 to 3600), not '%s'",
                             ca.arg);
                return SL_EXIT_USAGE;
            }
            o.delivery_retry_base_ms = (int64_t)(v * 1000 + 0.5);
            break;
        }
        case 'S':
            if (strncmp(ca.arg, "smtp://", 7) != 0 && strncmp(ca.arg, "smtps://", 8) != 0) {
                sl_cli_error("serve: --smtp-url takes smtp://HOST[:PORT] or smtps://HOST[:PORT], "
                             "not '%s'",
                             ca.arg);
                return SL_EXIT_USAGE;
            }
            o.smtp_url = keep_hiding_password(ca.arg);
            break;
        case 'F':
            if (!*ca.arg || !strchr(ca.arg, '@') || strpbrk(ca.arg, " \r\n<>")) {
                sl_cli_error("serve: --smtp-from takes a mail address, not '%s'", ca.arg);
                return SL_EXIT_USAGE;
            }
            o.smtp_from = ca.arg;
            break;
        case 'Y':
            if (access(ca.arg, R_OK) != 0) {
                sl_cli_error("serve: --smtp-ca: cannot read '%s': %s", ca.arg, strerror(errno));
                return SL_EXIT_USAGE;
            }
            o.smtp_ca = ca.arg;
            break;
        case 'A':
            if (!*ca.arg || strpbrk(ca.arg, "/:@\t\r\n") || strspn(ca.arg, ",") == strlen(ca.arg)) {
                sl_cli_error("serve: --allow-remote-includes takes host names, comma-separated "
                             "(gitlab.com,*.example.com), not '%s'",
                             ca.arg);
                return SL_EXIT_USAGE;
            }
            o.remote_include_hosts = ca.arg;
            break;
        }
    }
    if (opt < 0)
        return ca.exit;
    if (!o.smtp_url != !o.smtp_from) {
        sl_cli_error("serve: --smtp-url and --smtp-from go together");
        return SL_EXIT_USAGE;
    }
    if (o.smtp_ca && !o.smtp_url) {
        sl_cli_error("serve: --smtp-ca is for the relay of --smtp-url, which is not given");
        return SL_EXIT_USAGE;
    }
    if (sl_cli_too_many(&ca, 0))
        return SL_EXIT_USAGE;
    if (sl_cli_db_url("serve", so.db_arg, so.db_file, &db) < 0)
        return SL_EXIT_USAGE;
    o.db_url = db;
    o.data_dir = so.data;
    o.workers = (int)workers;
    o.lease_s = (int)lease;
    o.long_poll_s = long_poll > 0 ? (int)long_poll : -1;
    /* glibc gives each thread that allocates an arena of its own (up to 8 per core); the
     * server's threads allocate little and rarely at once, so two arenas keep an idle or
     * lightly used server small without contention that matters. */
    mallopt(M_ARENA_MAX, 2);

    /* Every thread the server starts inherits this mask, so only sigwait below sees the
     * signals. SIGPIPE: a client closing early must not kill the server. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    /* the terminal it was started from closed (make demo from a terminal): stop as cleanly
     * as on SIGTERM instead of dying with jobs left running */
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    struct sl_server *s = NULL;
    struct sl_error err = SL_ERROR_INIT;
    char *admin = NULL;
    if (use_sandbox)
        o.sandbox = &sandbox;
    int nrc = sl_server_new(&s, &o, &admin, &err);
    if (nrc < 0) {
        sl_cli_error("serve: %s", sl_error_format(&err));
        sl_error_release(&err);
        free(db);
        return use_sandbox && nrc == SL_EPERM ? SL_EXIT_FAIL : SL_EXIT_USAGE;
    }
    if (admin) {
        printf("admin token (shown once, also in %s/admin.token): %s\n", o.data_dir, admin);
        free(admin);
    }
    /* start-up's passing allocations (migrations, the schema, the first statements) are
     * freed but stay in malloc's heap: hand the free pages back before idling */
    malloc_trim(0);
    /* and the code pages start-up ran once: an idle server runs a few dozen of them */
    sl_resident_drop_code();
    printf("sluice serve: listening on http://%s\n", sl_server_address(s));
    fflush(stdout);
    sl_log(SL_LOG_INFO, "listening", "address", sl_server_address(s), NULL);

    int sig = 0;
    sigwait(&set, &sig);
    sl_log(SL_LOG_INFO, "shutting down", "signal",
           sig == SIGTERM  ? "SIGTERM"
           : sig == SIGHUP ? "SIGHUP"
                           : "SIGINT",
           NULL);
    sl_server_shutdown(s, (int64_t)grace * 1000);
    sl_server_free(s);
    free(db);
    sl_log(SL_LOG_INFO, "stopped", NULL);
    return SL_EXIT_OK;
}
