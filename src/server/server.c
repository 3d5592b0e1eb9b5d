/* server.c: the server's life: store, admin token, recovery, workers, HTTP, shutdown. */
#include "base/compat.h"
#include "base/alloc.h"
#include "base/fs.h"
#include "base/git_net.h"
#include "base/log.h"
#include "base/time.h"
#include "config/config.h"
#include "expr/expr.h"
#include "server/http.h"
#include "server/flags_api.h"
#include "server/internal.h"
#include "server/runner.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const roles[] = {"viewer", "developer", "maintainer", "admin"};

int sl_server_role_rank(const char *role)
{
    for (size_t i = 0; role && i < SL_ARRAY_LEN(roles); i++)
        if (!strcmp(role, roles[i]))
            return (int)i;
    return -1;
}

static char *db_url_for(const char *data_dir, const char *db_url)
{
    if (db_url)
        return sl_xstrdup(db_url);
    return sl_xasprintf("%s/sluice.db", data_dir);
}

int sl_server_store_open(const char *data_dir, const char *db_url, bool init, struct sl_store **out,
                         struct sl_error *err)
{
    int rc;
    char *url = db_url_for(data_dir, db_url);
    /* A token in a store no server uses is a token nobody can use: without INIT the store
     * must exist (a typo in --data or --db is an error, not a new empty store). */
    if (!init && !db_url && !sl_fs_exists(url)) {
        rc = sl_error_set(err, SL_ENOENT,
                          "%s holds no sluice store (start `sluice serve --data %s` first, or "
                          "pass --init to create one)",
                          data_dir, data_dir);
        free(url);
        return rc;
    }
    if (!db_url && (rc = sl_fs_mkdir_p(data_dir, 0700, err)) < 0) {
        free(url);
        return rc;
    }
    struct sl_store_options so = {0};
    so.existing_only = !init;
    rc = sl_store_open_with(out, url, &so, err);
    free(url);
    if (rc == SL_ENOENT && !init) {
        sl_error_release(err);
        rc = sl_error_set(err, SL_ENOENT,
                          "the database of %s holds no sluice store (start `sluice serve` on it "
                          "first, or pass --init to create one)",
                          db_url ? "--db" : data_dir);
    }
    return rc;
}

int sl_server_token_create(const char *data_dir, const char *db_url,
                           const struct sl_server_new_token *nt, char **secret_out, int64_t *id_out,
                           struct sl_error *err)
{
    const char *role = nt->role, *name = nt->name;
    struct sl_store *st = NULL;
    if (sl_server_role_rank(role) < 0)
        return sl_error_set(err, SL_EINVAL,
                            "unknown role '%s' (admin, maintainer, developer or viewer)",
                            role ? role : "");
    int rc = sl_server_store_open(data_dir, db_url, nt->init, &st, err);
    if (rc < 0)
        return rc;
    rc = sl_store_token_create(st, name ? name : role, role, sl_time_now_ms(), nt->expires_at,
                               secret_out, id_out, err);
    sl_store_close(st);
    return rc;
}

/* First start: no token at all yet. */
static int ensure_admin_token(struct sl_server *s, char **admin_token, struct sl_error *err)
{
    struct sl_store_page page = {0, 1, NULL};
    struct sl_store_token *toks = NULL;
    size_t n = 0;
    int rc = sl_store_token_list(s->st, &page, &toks, &n, err);
    sl_store_tokens_free(toks, n);
    if (rc < 0 || n > 0)
        return rc;
    /* The file first, then the store: a start that fails in between leaves a file whose
     * token the store does not know (the next start makes a new one), never a stored admin
     * token nobody has. */
    char secret[SL_STORE_TOKEN_LEN + 1];
    sl_store_token_generate(secret);
    char *path = sl_fs_join(s->data_dir, "admin.token");
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || fchmod(fd, 0600) < 0 ||
        write(fd, secret, strlen(secret)) != (ssize_t)strlen(secret) || write(fd, "\n", 1) != 1 ||
        fsync(fd) < 0)
        rc = sl_error_set_errno(err, SL_EIO, "cannot write %s", path);
    if (fd >= 0 && close(fd) < 0 && rc == 0)
        rc = sl_error_set_errno(err, SL_EIO, "cannot write %s", path);
    if (rc == 0)
        rc = sl_store_token_add(s->st, "admin", "admin", secret, sl_time_now_ms(), 0, NULL, err);
    if (rc < 0)
        unlink(path);
    free(path);
    if (rc == 0 && admin_token)
        *admin_token = sl_xstrdup(secret);
    sodium_memzero(secret, sizeof(secret));
    return rc;
}

static int load_secrets_key(struct sl_server *s, const char *file, struct sl_error *err)
{
    char *path = file ? sl_xstrdup(file) : sl_fs_join(s->data_dir, "secrets.key");
    bool created = false;
    int rc = sl_store_seal_key_load(s->st, path, &created, err);
    if (rc == 0 && created)
        sl_log(SL_LOG_INFO, "made a new secrets key: back it up with the database", "path", path,
               NULL);
    free(path);
    return rc;
}

/* The topmost directory of PATH that does not exist yet (PATH itself when only it is
 * missing), or NULL when PATH exists. Caller frees. */
static char *first_missing(const char *path)
{
    char *p = sl_xstrdup(path), *top = NULL;
    while (*p && !sl_fs_exists(p)) {
        free(top);
        top = sl_xstrdup(p);
        char *slash = strrchr(p, '/');
        if (!slash || slash == p)
            break;
        *slash = 0;
    }
    free(p);
    return top;
}

/* --executor sandbox: the data directory (workspaces, repositories, the store, keys)
 * hidden from jobs, and a trial job as the jobs' user, so a kernel that refuses is found
 * now (exec.h), not at the first job. */
static int sandbox_setup(struct sl_server *s, const struct sl_exec_sandbox *sb,
                         struct sl_error *err)
{
    s->sandbox = *sb;
    s->sandbox_hide_dir = realpath(s->data_dir, NULL);
    s->sandbox_hide[0] = s->sandbox_hide_dir;
    s->sandbox.hide = s->sandbox_hide;
    s->use_sandbox = true;
    return s->run_as ? sl_exec_sandbox_probe_as(&s->sandbox, s->run_uid, s->run_gid, err)
                     : sl_exec_sandbox_probe(&s->sandbox, err);
}

/* "a.com, *.b.org" as a NULL-ended list of its non-empty entries; NULL for NULL. */
static char **split_hosts(const char *list)
{
    if (!list)
        return NULL;
    size_t n = 0;
    char **out = sl_xcalloc(strlen(list) / 2 + 2, sizeof(*out));
    for (const char *p = list; *p;) {
        size_t len = strcspn(p, ",");
        const char *e = p + len;
        while (p < e && *p == ' ')
            p++;
        while (e > p && e[-1] == ' ')
            e--;
        if (e > p)
            out[n++] = sl_xstrndup(p, (size_t)(e - p));
        p += strcspn(p, ",");
        if (*p)
            p++;
    }
    return out;
}

int sl_server_new(struct sl_server **out, const struct sl_server_options *opts, char **admin_token,
                  struct sl_error *err)
{
    struct sl_server *s = sl_xcalloc(1, sizeof(*s));
    int rc;
    char *url = NULL;
    char *made = NULL; /* the topmost directory this start made, removed if it fails */

    s->listen_fd = -1;
    sl_metrics_init(&s->metrics);
    sl_srv_flags_init(s);
    s->spec_views = sl_srv_spec_views_new();
    s->mirrors = sl_srv_mirrors_new();
    pthread_mutex_init(&s->wake_mu, NULL);
    pthread_mutex_init(&s->poll_mu, NULL);
    /* timed waits on the monotonic clock: a wall-clock step must not stall a worker */
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->wake_cv, &ca);
    pthread_cond_init(&s->poll_cv, &ca);
    pthread_mutex_init(&s->delivery_mu, NULL);
    pthread_cond_init(&s->delivery_cv, &ca);
    pthread_condattr_destroy(&ca);
    s->delivery_retry_base_ms = opts->delivery_retry_base_ms > 0 ? opts->delivery_retry_base_ms
                                                                 : SRV_DELIVERY_RETRY_BASE_MS;
    s->session_ttl_ms = opts->session_ttl_ms > 0 ? opts->session_ttl_ms : SRV_SESSION_TTL_MS;
    s->smtp_url = opts->smtp_url ? sl_xstrdup(opts->smtp_url) : NULL;
    s->smtp_from = opts->smtp_from ? sl_xstrdup(opts->smtp_from) : NULL;
    s->smtp_ca = opts->smtp_ca ? sl_xstrdup(opts->smtp_ca) : NULL;
    s->remote_include_hosts = split_hosts(opts->remote_include_hosts);
    s->lease_s = opts->lease_s > 0 ? opts->lease_s : SRV_LEASE_S;
    s->long_poll_s = opts->long_poll_s == 0  ? SRV_LONG_POLL_MAX_S
                     : opts->long_poll_s < 0 ? 0
                                             : SL_MIN(opts->long_poll_s, SRV_LONG_POLL_MAX_S);
    sl_srv_runners_init(s);
    if (!opts->data_dir) {
        rc = sl_error_set(err, SL_EINVAL, "a data directory is required");
        goto out;
    }
    /* the port first: in use, nothing else is made */
    if ((rc = sl_srv_http_bind(s, opts->listen ? opts->listen : "127.0.0.1:8080", err)) < 0)
        goto out;
    made = first_missing(opts->data_dir);
    if ((rc = sl_fs_mkdir_p(opts->data_dir, 0700, err)) < 0)
        goto out;
    s->data_dir = realpath(opts->data_dir, NULL);
    if (!s->data_dir) {
        rc = sl_error_set_errno(err, SL_EIO, "%s", opts->data_dir);
        goto out;
    }
    sl_config_set_expr_checker(sl_expr_valid);
    sl_config_set_regex_matcher(sl_regex_match_once);
    url = db_url_for(s->data_dir, opts->db_url);
    struct sl_store_options so = {.max_log_bytes = opts->log_cap};
    if ((rc = sl_store_open_with(&s->st, url, &so, err)) < 0)
        goto out;
    if ((rc = load_secrets_key(s, opts->secrets_key_file, err)) < 0)
        goto out;
    sl_srv_scan_init(s);
    s->executor = opts->executor;
    if ((rc = sl_srv_run_as_setup(s, opts->run_as, err)) < 0)
        goto out;
    if (opts->sandbox && (rc = sandbox_setup(s, opts->sandbox, err)) < 0)
        goto out;
    /* before any fetch: libgit2 itself is loaded on first use */
    int git_wait = opts->git_timeout_s > 0 ? opts->git_timeout_s : 120;
    sl_git_net_set_limits(git_wait < 30 ? git_wait : 30, git_wait);
    /* jobs' processes that outlived a server killed with -9 with its guard (spawn.c):
     * killed before the recovery marks their jobs failed; this server's listed from now */
    char *groups = sl_fs_join(s->data_dir, "groups");
    sl_exec_groups_take_over(groups);
    free(groups);
    sl_srv_trash_empty(s);
    if ((rc = sl_srv_recover(s, err)) < 0 || (rc = sl_srv_bridges_resume(s, err)) < 0)
        goto out;
    if ((rc = sl_srv_workers_start(s, opts->workers < 0 ? 1 : opts->workers, err)) < 0)
        goto out;
    if ((rc = sl_srv_poller_start(s, err)) < 0)
        goto out;
    if ((rc = sl_srv_http_start(s, opts->http_threads, err)) < 0)
        goto out;
    if (opts->external_url) {
        size_t n = strlen(opts->external_url);
        while (n > 0 && opts->external_url[n - 1] == '/')
            n--;
        s->external_url = sl_xstrndup(opts->external_url, n);
    } else {
        s->external_url = sl_xasprintf("http://%s", s->address);
    }
    if ((rc = sl_srv_delivery_start(s, err)) < 0)
        goto out;
    /* last: a start that fails leaves no admin token nobody was shown */
    if ((rc = ensure_admin_token(s, admin_token, err)) < 0)
        goto out;
    *out = s;
    s = NULL;
out:
    free(url);
    sl_server_free(s);
    if (rc < 0 && made) /* no half-made data directory either */
        sl_fs_remove_tree(made, NULL);
    free(made);
    return rc;
}

const char *sl_server_address(const struct sl_server *s)
{
    return s->address;
}

void sl_server_shutdown(struct sl_server *s, int64_t grace_ms)
{
    if (s->shut)
        return;
    s->shut = true;
    atomic_store(&s->stopping, true);
    sl_srv_http_stop(s);
    sl_srv_poller_join(s);
    sl_srv_workers_wake(s);
    /* the monotonic clock: a wall-clock step must not cut the grace short or stretch it */
    int64_t deadline = sl_time_mono_ns() + grace_ms * 1000000;
    while (s->workers && sl_srv_workers_busy(s) > 0 && sl_time_mono_ns() < deadline)
        usleep(50 * 1000);
    if (s->workers && sl_srv_workers_busy(s) > 0) {
        sl_log(SL_LOG_WARN, "grace period over: canceling running jobs", NULL);
        atomic_store(&s->cancel_all, true);
    }
    if (s->workers)
        sl_srv_workers_join(s);
    /* the start's docker sweep: no thread of it outlives the server */
    sl_exec_docker_sweep_stop();
    sl_exec_groups_record(NULL); /* no job runs any more: none listed (spawn.c) */
    /* after the workers: their last transitions queue statuses, sent at the next start */
    sl_srv_delivery_join(s);
}

void sl_server_free(struct sl_server *s)
{
    if (!s)
        return;
    sl_server_shutdown(s, 0);
    sl_streams_free(s);
    sl_store_close(s->st);
    sl_srv_scan_free(s);
    sl_metrics_release(&s->metrics);
    sl_srv_flags_free(s);
    sl_srv_spec_views_free(s->spec_views);
    sl_srv_mirrors_free(s->mirrors);
    pthread_mutex_destroy(&s->wake_mu);
    pthread_cond_destroy(&s->wake_cv);
    pthread_mutex_destroy(&s->poll_mu);
    pthread_cond_destroy(&s->poll_cv);
    pthread_mutex_destroy(&s->delivery_mu);
    pthread_cond_destroy(&s->delivery_cv);
    free(s->smtp_url);
    free(s->smtp_from);
    free(s->smtp_ca);
    for (char **h = s->remote_include_hosts; h && *h; h++)
        free(*h);
    free(s->remote_include_hosts);
    sl_srv_runners_free(s);
    free(s->external_url);
    if (s->listen_fd >= 0)
        close(s->listen_fd);
    sl_srv_instance_stop(s);
    free(s->worker_prefix);
    free(s->run_home);
    free(s->sandbox_hide_dir);
    free(s->data_dir);
    free(s);
}
