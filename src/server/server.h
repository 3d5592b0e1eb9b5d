/* server.h: `sluice serve`: the HTTP API (libmicrohttpd), built-in workers and start-up
 * recovery over one store.
 *
 *   struct sl_server_options o = {.listen = "127.0.0.1:8080", .data_dir = "/var/lib/sluice"};
 *   struct sl_server *s;
 *   if (sl_server_new(&s, &o, err) < 0) ...          opens the store, recovers, binds
 *   printf("listening on %s\n", sl_server_address(s));
 *   ... wait for a signal ...
 *   sl_server_shutdown(s, grace_ms);                 stop accepting, drain the workers
 *   sl_server_free(s);
 *
 * Data directory layout: sluice.db (SQLite, unless --db), admin.token (first start, 0600),
 * secrets.key (first start, 0600, unless --secrets-key-file),
 * repos/<project id>/ (bare mirrors fetched with libgit2), trees/<sha>/ (a checked-out
 * commit the jobs copy from), builds/<job id>/ (job workspaces), pipelines/<id>/ (logs and
 * artifacts of the jobs).
 *
 * docs/server.md is the user's side of this; docs/api.md lists every route. */
#ifndef SL_SERVER_H
#define SL_SERVER_H

#include "base/compat.h"
#include "base/error.h"
#include "exec/choose.h"

struct sl_server;

struct sl_server_options {
    const char *listen;   /* "ADDR:PORT"; NULL = 127.0.0.1:8080; port 0 picks a free one */
    const char *data_dir; /* required; created when missing */
    const char *db_url;   /* NULL = sqlite at DATA_DIR/sluice.db */
    int workers;          /* built-in workers; 0 = none (< 0 = 1) */
    int http_threads;     /* libmicrohttpd's thread pool; 0 = 2 */
    /* the key CI/CD variables are sealed with; NULL = DATA_DIR/secrets.key (made on first
     * start, 0600) */
    const char *secrets_key_file;
    /* the user built-in workers run jobs as (a name or uid); NULL = `nobody` when the server
     * runs as root, else the server's own user */
    const char *run_as;
    /* the runner API: a running job's lease in seconds (0 = 60), how long a jobs/request
     * is held (0 = 30; < 0 = not held), the URL runners and jobs reach the server at
     * (NULL = http://ADDRESS bound) */
    int lease_s;
    int long_poll_s;
    const char *external_url;
    /* the built-in workers' executor (exec/choose.h): auto (the default) runs a job with an
     * image in a container, one without on shell; strings borrowed for the server's life */
    struct sl_exec_choice executor;
    /* --executor sandbox: every job in the sandbox with these limits and root (borrowed);
     * NULL: executor decides. The server hides its data directory from the jobs and tries
     * the sandbox at start as the jobs' user: a refusal fails sl_server_new (SL_EPERM). */
    const struct sl_exec_sandbox *sandbox;
    /* the most bytes of a job's log stored (the store's max_log_bytes); 0 = 1 GiB */
    int64_t log_cap;
    /* the delivery queue (statuses, notifications): the first retry's wait in ms (0 = 5000;
     * doubling after each failed attempt), and the mail relay (NULL: no mail) */
    int64_t delivery_retry_base_ms;
    const char *smtp_url;  /* smtp://HOST[:PORT] (STARTTLS off loopback) or smtps://... */
    const char *smtp_from; /* the sender's address */
    const char *smtp_ca;   /* PEM CA certificates the relay's is checked against; NULL: the
                            * system's */
    /* how long a web UI sign-in (a session cookie) lasts, in ms; 0 = 12 hours */
    int64_t session_ttl_ms;
    /* --allow-remote-includes: the hosts include:remote and include:template may be
     * fetched from, comma-separated ("gitlab.com,*.example.com"); NULL: none (the server
     * then makes no outside request for a pipeline's configuration) */
    const char *remote_include_hosts;
    /* how long a fetch of a project's repository waits on a silent remote, in seconds: to
     * connect, and between two reads or writes (base/git_net.h); 0 = 120 */
    int git_timeout_s;
};

/* Opens (and migrates) the store, creates the admin token on first start (*ADMIN_TOKEN,
 * when not NULL, gets it: caller frees; NULL when the token already existed), recovers
 * jobs a crash left running, starts the workers and the HTTP daemon. On success *OUT owns
 * the server. SL_EINVAL for a bad listen address, SL_EIO when it cannot bind, store errors
 * as sl_store_open. */
int sl_server_new(struct sl_server **out, const struct sl_server_options *opts, char **admin_token,
                  struct sl_error *err);
/* "ADDR:PORT" actually bound. Borrowed. */
const char *sl_server_address(const struct sl_server *s);
/* Stops accepting connections, lets running jobs finish for up to GRACE_MS, then cancels
 * the rest (recorded as canceled) and joins every thread. Idempotent. */
void sl_server_shutdown(struct sl_server *s, int64_t grace_ms);
/* Shuts down (grace 0) if needed and frees. Accepts NULL. */
void sl_server_free(struct sl_server *s);

/* What `sluice token create` asks for: ROLE (required), NAME (NULL: the role's), valid
 * until EXPIRES_AT (ms since the epoch; 0: for ever); INIT makes a store where none is. */
struct sl_server_new_token {
    const char *role;
    const char *name;
    int64_t expires_at;
    bool init;
};

/* Creates an API token in the store at DB_URL (NULL = DATA_DIR/sluice.db). *SECRET_OUT
 * (caller frees) is the token, shown once; *ID_OUT (may be NULL) its id. SL_EINVAL for an
 * unknown role or a past expiry; SL_ENOENT when the database holds no sluice store yet,
 * unless NT->init (then it is made). */
int sl_server_token_create(const char *data_dir, const char *db_url,
                           const struct sl_server_new_token *nt, char **secret_out, int64_t *id_out,
                           struct sl_error *err);

/* Opens the store of a server's DATA_DIR (or DB_URL) for a command-line tool; *OUT owns it
 * (sl_store_close). SL_ENOENT when it holds no sluice store yet, unless INIT. */
struct sl_store;
int sl_server_store_open(const char *data_dir, const char *db_url, bool init, struct sl_store **out,
                         struct sl_error *err);

/* Roles by strength: admin > maintainer > developer > viewer. -1 for an unknown name. */
int sl_server_role_rank(const char *role);

#endif
