/* docker.c: the docker executor (GitLab's "docker" executor), over the Docker Engine API
 * (docker_api.h), against Docker or Podman.
 *
 * One job is one container, kept alive by a sleep loop as its command (after the image's
 * entrypoint, so an entrypoint that prepares the environment and execs its arguments
 * works as with the runner). The workspace is bind-mounted at /builds/<project path>, the
 * generated scripts (script.c) at /sluice, read-only. Each phase (before_script+script,
 * then after_script) is an exec in that same container, run by bash when the image has it,
 * else sh, as the runner's shell detection does; its output arrives as Docker's
 * multiplexed stream. The exec is watched without /containers/{id}/wait (which makes
 * Podman 4 spin a core).
 *
 * Timeout and cancel: `kill -TERM -1` is exec'd in the container (every process but the
 * keep-alive init), then KILL after the grace period; so after_script can still run in
 * the same container after a cancel. The container is then removed (force), always.
 * Containers carry the label sluice.pid=<pid>; those whose process is gone (a sluice
 * killed with -9) are removed, with the networks of services, once per process: by
 * sl_exec_docker_sweep_start at `sluice serve` and `sluice agent` start, else (the engine
 * was not there then, or `sluice run`) by the first job.
 * Services (docker_services.h) run beside the job's container, in its network namespace,
 * on a network of their own per job. */
#include "base/compat.h"
#include "exec/cancel.h"
#include "exec/docker_api.h"
#include "exec/docker_services.h"
#include "exec/executors.h"
#include "exec/output.h"
#include "base/alloc.h"
#include "base/fs.h"
#include "base/log.h"
#include "base/str.h"
#include "base/time.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <unistd.h>

#define LABEL "sluice.pid"
/* Run the phase's script with bash when the image has it, else sh (the runner's shell
 * detection); "$@" is the script file. */
#define DETECT_SHELL                                                                               \
    "for b in /usr/local/bin/bash /usr/bin/bash /bin/bash; do if [ -x $b ]; then exec $b "         \
    "--noprofile --norc \"$@\"; fi; done; exec sh \"$@\""
#define KEEP_ALIVE "trap 'exit 0' TERM; while :; do sleep 3600 & wait $!; done"

/* Variables of the host that make no sense inside a container (sluice run passes the
 * user's environment, which the shell executor wants). */
static const char *const host_only[] = {
    "PATH",   "HOME",     "PWD",  "OLDPWD", "SHELL", "USER", "LOGNAME",         "SHLVL",
    "TMPDIR", "HOSTNAME", "TERM", "MAIL",   "_",     "LANG", "LD_LIBRARY_PATH", "LD_PRELOAD"};

struct job {
    const struct sl_exec_spec *spec;
    const struct sl_exec_docker *dk;
    struct sl_docker *d;
    struct sl_exec_output out;
    char *id;         /* the container */
    char *dir;        /* host directory with the scripts */
    char *builds_dir; /* /builds/<project path> */
    int64_t grace_ns;
    struct sl_docker_services svc; /* services: and their network */
    json_t *aliases;               /* the job's endpoint aliases on that network */
};

struct phase {
    const char *file; /* script in /sluice */
    const char *status;
    int64_t deadline_ns;
    int cancel_fd, force_fd;
    bool timed_out, canceled;
    int exit_code;
};

static atomic_int counter;
/* held while a sweep runs; SWEPT once one has reached the engine */
static pthread_mutex_t sweep_lock = PTHREAD_MUTEX_INITIALIZER;
static bool swept;

static const char *policy_name(unsigned p)
{
    return p == SL_PULL_ALWAYS ? "always" : p == SL_PULL_NEVER ? "never" : "if-not-present";
}

/* Removes containers of sluice processes that are gone, and their networks, from D. */
static void sweep(struct sl_docker *d)
{
    json_t *list = NULL, *v;
    long status;
    size_t i;
    char *path, *filters = sl_docker_escape("{\"label\":[\"" LABEL "\"]}");

    path = sl_xasprintf("/containers/json?all=1&filters=%s", filters);
    if (sl_docker_call(d, "GET", path, NULL, &status, &list, NULL, NULL) == 0 &&
        json_is_array(list)) {
        /* services first: they live in their job container's network namespace, which
         * the engine will not remove while they exist */
        for (int pass = 0; pass < 2; pass++)
            json_array_foreach(list, i, v)
            {
                json_t *labels = json_object_get(v, "Labels");
                const char *id = json_string_value(json_object_get(v, "Id"));
                const char *pid = json_string_value(json_object_get(labels, LABEL));
                bool service = json_object_get(labels, "sluice.service") != NULL;
                char *del;
                if (!id || service != (pass == 0) || !sl_docker_label_owner_gone(pid))
                    continue;
                del = sl_xasprintf("/containers/%s?force=1&v=1", id);
                sl_docker_call(d, "DELETE", del, NULL, &status, NULL, NULL, NULL);
                free(del);
            }
    }
    json_decref(list);
    free(path);
    free(filters);
    sl_docker_services_sweep(d, LABEL);
}

/* The sweep, once per process: the first caller that reaches the engine of HOST does it.
 * With TRY, a sweep already under way is not waited for (a job need not wait: it is
 * being done). STOP (NULL: none): the engine's calls end when it is set. 0, or the
 * engine's error in ERR (nothing swept: a later call retries). */
static int sweep_once(const char *host, bool try, const atomic_bool *stop, struct sl_error *err)
{
    struct sl_docker *d;
    int rc = 0;
    if (try ? pthread_mutex_trylock(&sweep_lock) != 0 : pthread_mutex_lock(&sweep_lock) != 0)
        return 0;
    if (!swept && (rc = sl_docker_open_until(&d, host, stop, err)) == 0) {
        sweep(d);
        sl_docker_close(d);
        /* a sweep cut short by the stop may have missed some: not swept */
        swept = !stop || !atomic_load(stop);
    }
    pthread_mutex_unlock(&sweep_lock);
    return rc;
}

/* the start's sweep thread (sl_exec_docker_sweep_start), joined by sl_exec_docker_sweep_stop */
static pthread_mutex_t sweeper_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_t sweeper;
static bool sweeper_started;
static atomic_bool sweeper_stop;

static void *sweep_main(void *arg)
{
    struct sl_error e = SL_ERROR_INIT;
    (void)arg;
    /* no engine at all (no socket, no DOCKER_HOST) is the common shell-only machine: not
     * worth a warning at every start; one that is there but does not answer is */
    int rc = sweep_once(NULL, false, &sweeper_stop, &e);
    if (atomic_load(&sweeper_stop))
        sl_log(SL_LOG_INFO, "docker: sweep of dead sluice processes' containers ended by the stop",
               "swept", swept ? "yes" : "no", NULL);
    else if (rc < 0)
        sl_log(rc == SL_ENOENT ? SL_LOG_DEBUG : SL_LOG_WARN,
               "docker: containers of dead sluice processes not swept", "error",
               sl_error_format(&e), NULL);
    sl_error_release(&e);
    return NULL;
}

void sl_exec_docker_sweep_start(void)
{
    pthread_mutex_lock(&sweeper_mu);
    if (!sweeper_started) {
        atomic_store(&sweeper_stop, false);
        sweeper_started = pthread_create(&sweeper, NULL, sweep_main, NULL) == 0;
        if (!sweeper_started)
            sl_log(SL_LOG_WARN,
                   "docker: cannot start the sweep of dead sluice processes' containers", NULL);
    }
    pthread_mutex_unlock(&sweeper_mu);
}

void sl_exec_docker_sweep_stop(void)
{
    pthread_mutex_lock(&sweeper_mu);
    if (sweeper_started) {
        atomic_store(&sweeper_stop, true);
        pthread_join(sweeper, NULL);
        sweeper_started = false;
    }
    pthread_mutex_unlock(&sweeper_mu);
}

static bool feed(void *ctx, const char *data, size_t n)
{
    struct job *j = ctx;
    sl_exec_output_feed(&j->out, data, n);
    return true;
}

static bool ignore(void *ctx, const char *data, size_t n)
{
    (void)ctx, (void)data, (void)n;
    return true;
}

static int write_file(const char *path, const char *text, struct sl_error *err)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    size_t len = strlen(text), off = 0;

    if (fd < 0)
        return sl_error_set_errno(err, SL_EIO, "cannot write %s", path);
    while (off < len) {
        ssize_t w = write(fd, text + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            close(fd);
            return sl_error_set_errno(err, SL_EIO, "cannot write %s", path);
        }
        off += (size_t)w;
    }
    close(fd);
    return 0;
}

static const char *env_get(const char *const *env, const char *name)
{
    size_t n = strlen(name);
    for (; env && *env; env++)
        if (!strncmp(*env, name, n) && (*env)[n] == '=')
            return *env + n + 1;
    return NULL;
}

/* The job's environment for the container: host-only variables dropped, the directories
 * pointed at the container's paths. */
static json_t *container_env(const struct job *j)
{
    json_t *a = json_array();
    for (const char *const *e = j->spec->env; e && *e; e++) {
        bool skip = sl_starts_with(*e, "CI_PROJECT_DIR=") || sl_starts_with(*e, "CI_BUILDS_DIR=") ||
                    sl_starts_with(*e, "CI_JOB_STATUS=");
        for (size_t i = 0; i < SL_ARRAY_LEN(host_only) && !skip; i++) {
            size_t n = strlen(host_only[i]);
            skip = !strncmp(*e, host_only[i], n) && (*e)[n] == '=';
        }
        if (!skip)
            json_array_append_new(a, json_string(*e));
    }
    char *pd = sl_xasprintf("CI_PROJECT_DIR=%s", j->builds_dir);
    json_array_append_new(a, json_string(pd));
    json_array_append_new(a, json_string("CI_BUILDS_DIR=/builds"));
    free(pd);
    return a;
}

static json_t *strv(const char *const *v)
{
    json_t *a = json_array();
    for (; v && *v; v++)
        json_array_append_new(a, json_string(*v));
    return a;
}

/* Makes sure IMAGE (the job's, or a service's) is there, per the pull policy: WANTED is
 * the pipeline's pull_policy for it (0: none given). Fills R for image_pull_failure. */
static int ensure_image(struct job *j, const char *image, unsigned wanted, struct sl_exec_result *r)
{
    const struct sl_exec_docker *dk = j->dk;
    unsigned policy = dk->default_pull_policy ? dk->default_pull_policy : SL_PULL_IF_NOT_PRESENT;
    char *name = sl_docker_escape(image), *path = NULL, *msg = NULL, *raw = NULL;
    json_t *reply = NULL;
    long status = 0;
    bool present;
    int rc = 0;

    if (wanted) {
        unsigned allowed = dk->allowed_pull_policies ? dk->allowed_pull_policies : ~0u;
        if (!(wanted & allowed)) {
            msg = sl_xasprintf("pull_policy (%s) defined in the pipeline is not one of the "
                               "allowed_pull_policies",
                               policy_name(wanted));
            goto fail;
        }
        /* the first of the job's list that the operator allows */
        for (unsigned p = 1; p <= SL_PULL_NEVER; p <<= 1)
            if (wanted & allowed & p) {
                policy = p;
                break;
            }
    }
    path = sl_xasprintf("/images/%s/json", name);
    if (sl_docker_call(j->d, "GET", path, NULL, &status, NULL, NULL, NULL) < 0)
        status = 0;
    present = status == 200;
    if (policy == SL_PULL_NEVER && !present) {
        msg = sl_xasprintf("image %s is not present and the pull policy is never", image);
        goto fail;
    }
    if (policy == SL_PULL_ALWAYS || !present) {
        struct sl_error e = SL_ERROR_INIT;
        const char *colon = strrchr(image, ':'), *slash = strrchr(image, '/');
        char *repo, *tag, *q;
        if (colon && (!slash || colon > slash)) {
            char *r0 = sl_xstrndup(image, (size_t)(colon - image));
            repo = sl_docker_escape(r0);
            free(r0);
            tag = sl_docker_escape(colon + 1);
        } else {
            repo = sl_docker_escape(image);
            tag = sl_xstrdup("latest");
        }
        sl_exec_output_system(&j->out, "Pulling docker image %s ...", image);
        q = sl_xasprintf("/images/create?fromImage=%s&tag=%s%s%s", repo, tag,
                         dk->platform ? "&platform=" : "", dk->platform ? dk->platform : "");
        free(repo);
        free(tag);
        free(path);
        path = q;
        if (sl_docker_call(j->d, "POST", path, NULL, &status, NULL, &raw, &e) < 0) {
            msg = sl_xstrdup(sl_error_format(&e));
            sl_error_release(&e);
            goto fail;
        }
        /* the progress stream is JSON objects one after the other; an error is an object
         * with "error" (Podman answers 200 and reports the failure inside) */
        const char *errp = raw ? strstr(raw, "\"error\"") : NULL;
        if (status != 200 || errp) {
            json_t *o = NULL;
            if (errp) {
                const char *start = errp;
                while (start > raw && *start != '{')
                    start--;
                o = json_loads(start, JSON_DISABLE_EOF_CHECK, NULL);
            } else {
                o = json_loads(raw, JSON_DISABLE_EOF_CHECK, NULL);
            }
            const char *em = json_string_value(json_object_get(o, "error"));
            msg = em ? sl_xstrdup(em) : sl_docker_error_text(status, o, raw);
            json_decref(o);
            goto fail;
        }
    }
    sl_exec_output_system(&j->out, "Using docker image %s", image);
    goto out;
fail:
    r->status = SL_EXEC_FAILED;
    r->failure = SL_EXEC_IMAGE_PULL_FAILURE;
    for (char *p = msg; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    snprintf(r->message, sizeof(r->message), "failed to pull image %s: %s", image, msg);
    sl_exec_output_system(&j->out, "ERROR: Job failed (image_pull_failure): %s", r->message);
    rc = -1;
out:
    json_decref(reply);
    free(name);
    free(path);
    free(msg);
    free(raw);
    return rc;
}

static int create_container(struct job *j, struct sl_error *err)
{
    const struct sl_exec_docker *dk = j->dk;
    json_t *body = json_object(), *host = json_object(), *labels = json_object(), *reply = NULL;
    char *bind_ws, *bind_dir, *pidstr, *path, *raw = NULL;
    long status;
    int rc;

    pidstr = sl_xasprintf("%d", (int)getpid());
    json_object_set_new(labels, LABEL, json_string(pidstr));
    json_object_set_new(labels, "sluice.job", json_string(j->spec->name ? j->spec->name : ""));
    json_object_set_new(body, "Image", json_string(dk->image));
    json_object_set_new(body, "Cmd", json_pack("[sss]", "sh", "-c", KEEP_ALIVE));
    if (dk->entrypoint)
        json_object_set_new(body, "Entrypoint",
                            dk->entrypoint[0] && dk->entrypoint[0][0] ? strv(dk->entrypoint)
                                                                      : json_array());
    json_object_set_new(body, "Env", container_env(j));
    json_object_set_new(body, "WorkingDir", json_string(j->builds_dir));
    json_object_set_new(body, "Labels", labels);
    if (dk->user)
        json_object_set_new(body, "User", json_string(dk->user));
    bind_ws = sl_xasprintf("%s:%s", j->spec->workdir, j->builds_dir);
    bind_dir = sl_xasprintf("%s:/sluice:ro", j->dir);
    json_object_set_new(host, "Binds", json_pack("[ss]", bind_ws, bind_dir));
    if (j->svc.network) {
        /* the services join this container's network namespace (docker_services.h) */
        json_t *ep = json_object(), *eps = json_object();
        json_object_set_new(host, "NetworkMode", json_string(j->svc.network));
        json_object_set(ep, "Aliases", j->aliases);
        json_object_set_new(eps, j->svc.network, ep);
        json_object_set_new(body, "NetworkingConfig", json_pack("{so}", "EndpointsConfig", eps));
    }
    json_object_set_new(body, "HostConfig", host);
    path =
        sl_xasprintf("/containers/create?name=sluice-%s-%d", pidstr, atomic_fetch_add(&counter, 1));
    rc = sl_docker_call(j->d, "POST", path, body, &status, &reply, &raw, err);
    if (rc == 0 && status != 201) {
        char *m = sl_docker_error_text(status, reply, raw);
        rc = sl_error_set(err, SL_EPROTO, "cannot create the job's container: %s", m);
        free(m);
    }
    if (rc == 0) {
        j->id = sl_xstrdup(json_string_value(json_object_get(reply, "Id")));
        free(path);
        path = sl_xasprintf("/containers/%s/start", j->id);
        json_decref(reply);
        reply = NULL;
        free(raw);
        raw = NULL;
        rc = sl_docker_call(j->d, "POST", path, NULL, &status, &reply, &raw, err);
        if (rc == 0 && status != 204 && status != 304) {
            char *m = sl_docker_error_text(status, reply, raw);
            rc = sl_error_set(err, SL_EPROTO, "cannot start the job's container: %s", m);
            free(m);
        }
    }
    json_decref(body);
    json_decref(reply);
    free(raw);
    free(path);
    free(bind_ws);
    free(bind_dir);
    free(pidstr);
    return rc;
}

/* Creates an exec of CMD (with ENV added) in the container; its id, or NULL. */
static char *exec_create(struct job *j, json_t *cmd, const char *env, struct sl_error *err)
{
    json_t *body = json_object(), *reply = NULL;
    char *path = sl_xasprintf("/containers/%s/exec", j->id), *id = NULL, *raw = NULL;
    long status;

    json_object_set_new(body, "AttachStdout", json_true());
    json_object_set_new(body, "AttachStderr", json_true());
    json_object_set_new(body, "Cmd", cmd);
    if (env)
        json_object_set_new(body, "Env", json_pack("[s]", env));
    json_object_set_new(body, "WorkingDir", json_string(j->builds_dir));
    if (sl_docker_call(j->d, "POST", path, body, &status, &reply, &raw, err) == 0) {
        if (status == 201 && json_string_value(json_object_get(reply, "Id"))) {
            id = sl_xstrdup(json_string_value(json_object_get(reply, "Id")));
        } else {
            char *m = sl_docker_error_text(status, reply, raw);
            sl_error_set(err, SL_EPROTO, "cannot exec in the job's container: %s", m);
            free(m);
        }
    }
    json_decref(body);
    json_decref(reply);
    free(raw);
    free(path);
    return id;
}

/* Runs `kill -SIG -1` in the container: every process of the job but its init. */
static void signal_all(struct job *j, const char *sig)
{
    char *cmd = sl_xasprintf("kill -%s -1", sig);
    char *id = exec_create(j, json_pack("[sss]", "sh", "-c", cmd), NULL, NULL);
    struct sl_docker_stream *s = NULL;
    int ready;

    if (id) {
        char *path = sl_xasprintf("/exec/%s/start", id);
        json_t *body = json_pack("{sbsb}", "Detach", 0, "Tty", 0);
        if (sl_docker_stream_open(&s, j->d, "POST", path, body, true, ignore, NULL, NULL) == 0)
            sl_docker_stream_wait(s, NULL, 0, 10000, &ready, NULL);
        sl_docker_stream_close(s);
        json_decref(body);
        free(path);
    }
    free(id);
    free(cmd);
}

static int run_phase(struct job *j, struct phase *ph, struct sl_error *err)
{
    char *envs = sl_xasprintf("CI_JOB_STATUS=%s", ph->status);
    char *file = sl_xasprintf("/sluice/%s", ph->file);
    char *id =
        exec_create(j, json_pack("[sssss]", "sh", "-c", DETECT_SHELL, "sh", file), envs, err);
    struct sl_docker_stream *s = NULL;
    char *path = NULL;
    json_t *body = NULL, *reply = NULL;
    bool term_sent = false, kill_sent = false;
    int64_t kill_at = 0;
    long status;
    int rc = SL_EIO;

    if (!id)
        goto out;
    path = sl_xasprintf("/exec/%s/start", id);
    body = json_pack("{sbsb}", "Detach", 0, "Tty", 0);
    if ((rc = sl_docker_stream_open(&s, j->d, "POST", path, body, true, feed, j, err)) < 0)
        goto out;
    for (;;) {
        int fds[2], nfds = 0, ready, w;
        int ic = -1, iforce = -1;
        int64_t now = sl_time_mono_ns(), wait_ms = -1;

        if (!term_sent && ph->deadline_ns && now >= ph->deadline_ns) {
            ph->timed_out = true;
            signal_all(j, "TERM");
            term_sent = true;
            kill_at = now + j->grace_ns;
        }
        if (kill_at && !kill_sent && now >= kill_at) {
            signal_all(j, "KILL");
            kill_sent = true;
        }
        if (!term_sent && ph->cancel_fd >= 0) {
            ic = nfds;
            fds[nfds++] = ph->cancel_fd;
        }
        if (!kill_sent && ph->force_fd >= 0) {
            iforce = nfds;
            fds[nfds++] = ph->force_fd;
        }
        if (!term_sent && ph->deadline_ns)
            wait_ms = (ph->deadline_ns - now) / 1000000 + 1;
        if (kill_at && !kill_sent) {
            int64_t k = (kill_at - now) / 1000000 + 1;
            wait_ms = wait_ms < 0 ? k : SL_MIN(wait_ms, k);
        }
        w = sl_docker_stream_wait(s, fds, nfds, wait_ms, &ready, err);
        sl_exec_output_flush(&j->out);
        if (w < 0) {
            rc = w;
            goto out;
        }
        if (w == 1)
            break;
        if (ready >= 0 && ready == ic) {
            ph->canceled = true;
            signal_all(j, "TERM");
            term_sent = true;
            kill_at = sl_time_mono_ns() + j->grace_ns;
        } else if (ready >= 0 && ready == iforce) {
            ph->canceled = true;
            signal_all(j, "KILL");
            term_sent = kill_sent = true;
        }
    }
    sl_exec_output_end(&j->out);
    sl_exec_output_flush(&j->out);
    free(path);
    path = sl_xasprintf("/exec/%s/json", id);
    rc = sl_docker_call(j->d, "GET", path, NULL, &status, &reply, NULL, err);
    if (rc == 0) {
        json_t *ec = json_object_get(reply, "ExitCode");
        ph->exit_code = json_is_integer(ec) ? (int)json_integer_value(ec) : -1;
    }
out:
    sl_docker_stream_close(s);
    json_decref(body);
    json_decref(reply);
    free(path);
    free(id);
    free(file);
    free(envs);
    return rc;
}

static void system_failure(struct sl_exec_result *r, const struct sl_error *e)
{
    r->status = SL_EXEC_FAILED;
    r->failure = SL_EXEC_RUNNER_SYSTEM_FAILURE;
    snprintf(r->message, sizeof(r->message), "%s", e->message ? e->message : "docker executor");
}

static void run_after_script(struct job *j, struct sl_exec_result *r)
{
    const struct sl_exec_spec *spec = j->spec;
    struct phase ph = {.file = "after_script.sh", .cancel_fd = -1, .force_fd = -1};
    struct sl_error err = SL_ERROR_INIT;
    int64_t tmo = sl_exec_after_script_timeout_ms(spec);

    ph.status = sl_exec_status_name(r->status);
    if (tmo > 0)
        ph.deadline_ns = sl_time_mono_ns() + tmo * 1000000;
    if (spec->cancel)
        ph.force_fd = sl_exec_cancel_force_fd(spec->cancel);
    sl_exec_output_system(&j->out, "Running after_script");
    bool started = run_phase(j, &ph, &err) == 0;
    /* the container's shell reports a signal as 128 + its number */
    struct sl_exec_phase_end e = {ph.timed_out, ph.canceled, ph.exit_code,
                                  ph.exit_code > 128 ? ph.exit_code - 128 : 0};
    sl_exec_after_script_ended(&j->out, r, started ? NULL : sl_error_format(&err), &e, tmo);
    sl_error_release(&err);
}

static void remove_container(struct job *j)
{
    long status;
    char *path;

    if (!j->id)
        return;
    path = sl_xasprintf("/containers/%s?force=1&v=1", j->id);
    sl_docker_call(j->d, "DELETE", path, NULL, &status, NULL, NULL, NULL);
    free(path);
}

/* The job's network, before its container (which is created on it). */
static int start_network(struct job *j, struct sl_error *err)
{
    char pid[16];
    snprintf(pid, sizeof(pid), "%d", (int)getpid());
    j->svc.d = j->d;
    j->svc.out = &j->out;
    j->svc.dk = j->dk;
    /* the job may shorten or lengthen the wait (the runner's wait_for_services_timeout,
     * which is the operator's there): seconds, -1 for none */
    const char *w = env_get(j->spec->env, "SLUICE_SERVICES_WAIT_TIMEOUT");
    if (w && *w) {
        char *end = NULL;
        long v = strtol(w, &end, 10);
        if (*end == '\0' && v >= -1 && v <= 3600)
            j->svc.wait_ms = v < 0 ? -1 : v == 0 ? -1 : (int64_t)v * 1000;
    }
    return sl_docker_services_network(&j->svc, LABEL, pid, &j->aliases, err);
}

/* The services, in the job container's network namespace, then the wait for their ports
 * at the job's address on the network. */
static int start_services(struct job *j, struct sl_error *err)
{
    char pid[16], *path;
    json_t *env, *reply = NULL;
    long status = 0;
    int rc;

    if (!j->svc.network)
        return 0;
    snprintf(pid, sizeof(pid), "%d", (int)getpid());
    env = container_env(j);
    rc = sl_docker_services_start(&j->svc, j->id, env, LABEL, pid, err);
    json_decref(env);
    if (rc < 0)
        return rc;
    path = sl_xasprintf("/containers/%s/json", j->id);
    const char *ip = NULL;
    if (sl_docker_call(j->d, "GET", path, NULL, &status, &reply, NULL, NULL) == 0 && status == 200)
        ip = json_string_value(json_object_get(
            json_object_get(json_object_get(json_object_get(reply, "NetworkSettings"), "Networks"),
                            j->svc.network),
            "IPAddress"));
    sl_docker_services_wait(&j->svc, ip && *ip ? ip : NULL, j->spec->env);
    json_decref(reply);
    free(path);
    return 0;
}

/* /builds/<project path>: the spec's, CI_PROJECT_PATH, or the workspace's base name. */
static char *builds_dir(const struct sl_exec_spec *spec)
{
    const char *p = spec->docker->project_path;
    const char *base;

    if (!p)
        p = env_get(spec->env, "CI_PROJECT_PATH");
    if (!p || !*p || strstr(p, "..")) {
        base = spec->workdir ? strrchr(spec->workdir, '/') : NULL;
        p = base && base[1] ? base + 1 : "project";
    }
    return sl_xasprintf("/builds/%s", p);
}

int sl_exec_docker_run(const struct sl_exec_spec *spec, struct sl_exec_result *result,
                       struct sl_error *err)
{
    struct job j = {.spec = spec, .dk = spec ? spec->docker : NULL};
    struct sl_exec_result r;
    struct sl_error e = SL_ERROR_INIT;
    struct phase ph = {.file = "script.sh", .status = "running", .cancel_fd = -1, .force_fd = -1};
    int64_t start = sl_time_mono_ns();
    int log_fd = -1;
    char tmpl[] = "/tmp/sluice-docker.XXXXXX";

    if (!spec || !spec->script || !result)
        return sl_error_set(err, SL_EINVAL, "job %s has no script",
                            spec && spec->name ? spec->name : "(unnamed)");
    if (!j.dk)
        return sl_error_set(err, SL_EINVAL, "job %s: no docker options",
                            spec->name ? spec->name : "(unnamed)");
    memset(&r, 0, sizeof(r));
    r.exit_code = -1;
    r.after_script_exit_code = -1;
    j.grace_ns = (spec->kill_grace_ms > 0 ? spec->kill_grace_ms : SL_EXEC_KILL_GRACE_MS) * 1000000;
    if (spec->log_path)
        log_fd = open(spec->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    sl_exec_output_init(&j.out, spec->on_line, spec->ctx, log_fd);
    sl_exec_output_set_mask(&j.out, spec->mask);
    j.builds_dir = builds_dir(spec);

    if (spec->cancel && sl_exec_cancel_requested(spec->cancel)) {
        r.status = SL_EXEC_CANCELED;
        goto done;
    }
    if (!j.dk->image) {
        sl_error_set(&e, SL_EINVAL,
                     "the docker executor needs an image: give the job an "
                     "image: or pass --image");
        system_failure(&r, &e);
        sl_exec_output_system(&j.out, "ERROR: %s", r.message);
        goto done;
    }
    if (sl_docker_open(&j.d, j.dk->host, &e) < 0) {
        /* the way out first: the message is cut at the result's size */
        char *why = sl_xstrdup(sl_error_format(&e));
        sl_error_set(&e, SL_EIO,
                     "no container engine (start Docker, or Podman with `podman system "
                     "service`, or pass --executor shell): %s",
                     why);
        free(why);
        system_failure(&r, &e);
        sl_exec_output_system(&j.out, "ERROR: %s", r.message);
        goto done;
    }
    sweep_once(j.dk->host, true, NULL, NULL);
    if (!spec->workdir || !sl_fs_is_dir(spec->workdir)) {
        sl_error_set(&e, SL_ENOENT, "working directory %s does not exist",
                     spec->workdir ? spec->workdir : "(none)");
        system_failure(&r, &e);
        goto done;
    }
    if (ensure_image(&j, j.dk->image, j.dk->pull_policy, &r) < 0)
        goto done;
    for (size_t i = 0; i < j.dk->nservices; i++) {
        const struct sl_exec_service *sv = &j.dk->services[i];
        if (ensure_image(&j, sv->name, sv->pull_policy ? sv->pull_policy : j.dk->pull_policy, &r) <
            0)
            goto done;
    }
    if (j.dk->nservices && start_network(&j, &e) < 0) {
        system_failure(&r, &e);
        sl_exec_output_system(&j.out, "ERROR: %s", r.message);
        goto done;
    }
    if (!mkdtemp(tmpl)) {
        sl_error_set_errno(&e, SL_EIO, "cannot make a directory for the job's scripts");
        system_failure(&r, &e);
        goto done;
    }
    j.dir = sl_xstrdup(tmpl);
    const char *const *main_lists[] = {spec->before_script, spec->script};
    const char *const *after_lists[] = {spec->after_script};
    char *s1 = sl_exec_script_build(j.out.marker, false, main_lists, 2);
    char *s2 = sl_exec_script_build(j.out.marker, false, after_lists, 1);
    char *p1 = sl_xasprintf("%s/script.sh", j.dir), *p2 = sl_xasprintf("%s/after_script.sh", j.dir);
    int wrc = write_file(p1, s1, &e);
    if (wrc == 0)
        wrc = write_file(p2, s2, &e);
    free(s1);
    free(s2);
    free(p1);
    free(p2);
    if (wrc < 0 || create_container(&j, &e) < 0 || start_services(&j, &e) < 0) {
        system_failure(&r, &e);
        sl_exec_output_system(&j.out, "ERROR: %s", r.message);
        goto done;
    }

    if (spec->timeout_ms > 0)
        ph.deadline_ns = start + spec->timeout_ms * 1000000;
    if (spec->cancel) {
        ph.cancel_fd = sl_exec_cancel_fd(spec->cancel);
        ph.force_fd = sl_exec_cancel_force_fd(spec->cancel);
    }
    if (run_phase(&j, &ph, &e) < 0) {
        system_failure(&r, &e);
        sl_exec_output_system(&j.out, "ERROR: %s", r.message);
        goto done;
    }
    r.exit_code = ph.exit_code;
    if (ph.exit_code > 128)
        r.signal = ph.exit_code - 128;
    sl_exec_result_settle(&r, ph.timed_out, ph.canceled, ph.exit_code);
    if (sl_exec_after_script_due(spec, &r))
        run_after_script(&j, &r);

done:
    if (j.svc.ndone) {
        const char *dbg = env_get(spec->env, "CI_DEBUG_SERVICES");
        if (dbg && sl_streq(dbg, "true"))
            sl_docker_services_logs(&j.svc);
    }
    if (j.d) {
        sl_docker_services_remove(&j.svc, false);
        remove_container(&j);
        sl_docker_services_remove(&j.svc, true);
    }
    json_decref(j.aliases);
    if (j.dir) {
        char *p = sl_xasprintf("%s/script.sh", j.dir);
        unlink(p);
        free(p);
        p = sl_xasprintf("%s/after_script.sh", j.dir);
        unlink(p);
        free(p);
        rmdir(j.dir);
    }
    sl_exec_output_flush(&j.out);
    if (log_fd >= 0)
        close(log_fd);
    r.log_bytes = j.out.bytes;
    r.log_lines = j.out.lines;
    r.duration_ms = (sl_time_mono_ns() - start) / 1000000;
    if (r.failure == SL_EXEC_RUNNER_SYSTEM_FAILURE && err)
        sl_error_set(err, e.code ? e.code : SL_EIO, "%s", r.message);
    *result = r;
    sl_exec_output_release(&j.out);
    sl_docker_close(j.d);
    free(j.id);
    free(j.dir);
    free(j.builds_dir);
    sl_error_release(&e);
    return 0;
}
