/* docker_services.c: a docker job's services (docker_services.h). */
#include "base/compat.h"
#include "exec/docker_services.h"
#include "base/alloc.h"
#include "base/str.h"
#include "base/time.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_WAIT_MS 30000
#define LOG_TAIL "20"

static atomic_int net_counter;

void sl_docker_strv_free(char **v)
{
    for (char **p = v; p && *p; p++)
        free(*p);
    free(v);
}

static void push_unique(char ***v, size_t *n, size_t *cap, const char *s)
{
    if (!s || !*s)
        return;
    for (size_t i = 0; i < *n; i++)
        if (sl_streq((*v)[i], s))
            return;
    SL_GROW(*v, *cap, *n + 2);
    (*v)[(*n)++] = sl_xstrdup(s);
    (*v)[*n] = NULL;
}

static char *replace_slashes(const char *s, const char *with)
{
    struct sl_str o = SL_STR_INIT;
    for (; *s; s++) {
        if (*s == '/')
            sl_str_adds(&o, with);
        else
            sl_str_addc(&o, *s);
    }
    return sl_str_detach(&o);
}

char **sl_docker_service_aliases(const char *name, const char *const *aliases)
{
    char **v = NULL;
    size_t n = 0, cap = 0;
    char *base = sl_xstrdup(name ? name : "");
    char *at = strchr(base, '@'); /* a digest */
    if (at)
        *at = '\0';
    char *slash = strrchr(base, '/'), *colon = strrchr(base, ':');
    if (colon && (!slash || colon > slash)) /* a tag, not a registry's port */
        *colon = '\0';
    char *a1 = replace_slashes(base, "__"), *a2 = replace_slashes(base, "-");
    SL_GROW(v, cap, 1);
    v[0] = NULL;
    push_unique(&v, &n, &cap, a1);
    push_unique(&v, &n, &cap, a2);
    /* one alias: string may name several, comma- or space-separated, as the runner reads it */
    for (const char *const *a = aliases; a && *a; a++) {
        char *copy = sl_xstrdup(*a), *save = NULL;
        for (char *t = strtok_r(copy, ", \t", &save); t; t = strtok_r(NULL, ", \t", &save))
            push_unique(&v, &n, &cap, t);
        free(copy);
    }
    free(a1);
    free(a2);
    free(base);
    return v;
}

/* The TCP ports the image of service I exposes (its ExposedPorts), at most 16. */
static size_t exposed_ports(struct sl_docker_services *s, size_t i, int *ports)
{
    char *name = sl_docker_escape(s->dk->services[i].name);
    char *path = sl_xasprintf("/images/%s/json", name);
    json_t *reply = NULL, *v;
    const char *key;
    long status = 0;
    size_t n = 0;

    if (sl_docker_call(s->d, "GET", path, NULL, &status, &reply, NULL, NULL) == 0 && status == 200)
        json_object_foreach(json_object_get(json_object_get(reply, "Config"), "ExposedPorts"), key,
                            v)
        {
            /* "8080/tcp": the digits before the slash (an engine's text, so checked) */
            int port = (int)sl_parse_clamp(key, 0, 65536);
            if (port > 0 && port < 65536 && n < 16 && !strstr(key, "/udp"))
                ports[n++] = port;
        }
    json_decref(reply);
    free(path);
    free(name);
    return n;
}

/* HEALTHCHECK_TCP_PORT of the service (its variables, then the job's), or 0. */
static int healthcheck_port(const struct sl_exec_service *sv, const char *const *job_env)
{
    const char *v = NULL;
    for (const char *const *e = job_env; e && *e; e++)
        if (sl_starts_with(*e, "HEALTHCHECK_TCP_PORT="))
            v = *e + 21;
    for (const char *const *e = sv->variables; e && *e; e++)
        if (sl_starts_with(*e, "HEALTHCHECK_TCP_PORT="))
            v = *e + 21;
    int port = v ? (int)sl_parse_clamp(v, 0, 65536) : 0;
    return port > 0 && port < 65536 ? port : 0;
}

int sl_docker_services_network(struct sl_docker_services *s, const char *label, const char *pid,
                               json_t **aliases, struct sl_error *err)
{
    json_t *body = json_object(), *labels = json_object(), *reply = NULL, *al = json_array();
    char *raw = NULL;
    long status = 0;
    int rc;

    /* unique across processes and jobs: every rootful Podman shares one network database */
    s->network = sl_xasprintf("sluice-%s-%d-%lld", pid, atomic_fetch_add(&net_counter, 1),
                              (long long)(sl_time_mono_ns() % 1000000000));
    json_object_set_new(labels, label, json_string(pid));
    json_object_set_new(body, "Name", json_string(s->network));
    json_object_set_new(body, "Labels", labels);
    json_object_set_new(body, "CheckDuplicate", json_true());
    rc = sl_docker_call(s->d, "POST", "/networks/create", body, &status, &reply, &raw, err);
    if (rc == 0 && status != 201 && status != 200) {
        char *m = sl_docker_error_text(status, reply, raw);
        rc = sl_error_set(err, SL_EPROTO, "cannot create the job's network: %s", m);
        free(m);
    }
    if (rc < 0) {
        free(s->network);
        s->network = NULL;
        json_decref(al);
    } else {
        /* the ports the services sharing the job's namespace take; aliases given so far */
        int taken[256];
        size_t ntaken = 0;
        json_t *seen = json_object();
        s->own = sl_xcalloc(s->dk->nservices + 1, sizeof(*s->own));
        for (size_t i = 0; i < s->dk->nservices; i++) {
            int ports[16];
            int hp = healthcheck_port(&s->dk->services[i], NULL);
            size_t np = hp ? 1 : exposed_ports(s, i, ports);
            if (hp)
                ports[0] = hp;
            bool clash = false;
            for (size_t k = 0; k < np && !clash; k++)
                for (size_t t = 0; t < ntaken && !clash; t++)
                    clash = taken[t] == ports[k];
            json_t *dest = al;
            if (clash)
                dest = s->own[i] = json_array();
            else
                for (size_t k = 0; k < np && ntaken < SL_ARRAY_LEN(taken); k++)
                    taken[ntaken++] = ports[k];
            char **v =
                sl_docker_service_aliases(s->dk->services[i].name, s->dk->services[i].aliases);
            for (char **p = v; *p; p++)
                if (!json_object_get(seen, *p)) {
                    json_object_set_new(seen, *p, json_true());
                    json_array_append_new(dest, json_string(*p));
                }
            sl_docker_strv_free(v);
        }
        json_decref(seen);
        *aliases = al;
    }
    json_decref(body);
    json_decref(reply);
    free(raw);
    return rc;
}

static json_t *strv_json(const char *const *v)
{
    json_t *a = json_array();
    for (; v && *v; v++)
        json_array_append_new(a, json_string(*v));
    return a;
}

int sl_docker_services_start(struct sl_docker_services *s, const char *job_id, json_t *env,
                             const char *label, const char *pid, struct sl_error *err)
{
    int rc = 0;

    s->ids = sl_xcalloc(s->dk->nservices + 1, sizeof(*s->ids));
    for (size_t i = 0; i < s->dk->nservices && rc == 0; i++) {
        const struct sl_exec_service *sv = &s->dk->services[i];
        json_t *body = json_object(), *host = json_object(), *labels = json_object();
        json_t *reply = NULL, *e = json_deep_copy(env);
        char *raw = NULL, *mode = sl_xasprintf("container:%s", job_id), *path = NULL;
        long status = 0;

        for (const char *const *v = sv->variables; v && *v; v++)
            json_array_append_new(e, json_string(*v));
        json_object_set_new(labels, label, json_string(pid));
        json_object_set_new(labels, "sluice.service", json_string(sv->name));
        json_object_set_new(body, "Image", json_string(sv->name));
        json_object_set_new(body, "Env", e);
        json_object_set_new(body, "Labels", labels);
        if (sv->entrypoint)
            json_object_set_new(body, "Entrypoint",
                                sv->entrypoint[0] && sv->entrypoint[0][0]
                                    ? strv_json(sv->entrypoint)
                                    : json_array());
        if (sv->command)
            json_object_set_new(body, "Cmd", strv_json(sv->command));
        if (s->own && s->own[i]) { /* a port an earlier service has: an endpoint of its own */
            json_t *ep = json_object(), *eps = json_object();
            json_object_set_new(host, "NetworkMode", json_string(s->network));
            json_object_set(ep, "Aliases", s->own[i]);
            json_object_set_new(eps, s->network, ep);
            json_object_set_new(body, "NetworkingConfig",
                                json_pack("{so}", "EndpointsConfig", eps));
        } else {
            json_object_set_new(host, "NetworkMode", json_string(mode));
        }
        json_object_set_new(body, "HostConfig", host);
        rc = sl_docker_call(s->d, "POST", "/containers/create", body, &status, &reply, &raw, err);
        if (rc == 0 && status != 201) {
            char *m = sl_docker_error_text(status, reply, raw);
            rc = sl_error_set(err, SL_EPROTO, "cannot create the service %s: %s", sv->name, m);
            free(m);
        }
        if (rc == 0) {
            s->ids[s->ndone++] = sl_xstrdup(json_string_value(json_object_get(reply, "Id")));
            path = sl_xasprintf("/containers/%s/start", s->ids[s->ndone - 1]);
            json_decref(reply);
            reply = NULL;
            free(raw);
            raw = NULL;
            rc = sl_docker_call(s->d, "POST", path, NULL, &status, &reply, &raw, err);
            if (rc == 0 && status != 204 && status != 304) {
                char *m = sl_docker_error_text(status, reply, raw);
                rc = sl_error_set(err, SL_EPROTO, "cannot start the service %s: %s", sv->name, m);
                free(m);
            }
        }
        if (rc == 0)
            sl_exec_output_system(s->out, "Starting service %s ...", sv->name);
        json_decref(body);
        json_decref(reply);
        free(raw);
        free(mode);
        free(path);
    }
    return rc;
}

static bool collect(void *ctx, const char *data, size_t n)
{
    struct sl_str *o = ctx;
    if (o->len < (1u << 20))
        sl_str_add(o, data, n);
    return true;
}

/* The service's log (the last TAIL lines, or all with NULL) as text. Caller frees. */
static char *service_log(struct sl_docker_services *s, const char *id, const char *tail)
{
    struct sl_docker_stream *st = NULL;
    struct sl_str o = SL_STR_INIT;
    char *path = sl_xasprintf("/containers/%s/logs?stdout=1&stderr=1%s%s", id, tail ? "&tail=" : "",
                              tail ? tail : "");
    int ready;

    if (sl_docker_stream_open(&st, s->d, "GET", path, NULL, true, collect, &o, NULL) == 0)
        while (sl_docker_stream_wait(st, NULL, 0, 5000, &ready, NULL) == 0 && ready >= 0)
            ;
    sl_docker_stream_close(st);
    free(path);
    return sl_str_detach(&o);
}

static void print_log(struct sl_docker_services *s, const char *name, const char *text)
{
    const char *p = text;
    while (p && *p) {
        size_t n = strcspn(p, "\n");
        sl_exec_output_system(s->out, "[service:%s] %.*s", name, (int)n, p);
        p += n;
        if (*p)
            p++;
    }
}

static bool running(struct sl_docker_services *s, const char *id)
{
    json_t *reply = NULL;
    long status = 0;
    char *path = sl_xasprintf("/containers/%s/json", id);
    bool r = sl_docker_call(s->d, "GET", path, NULL, &status, &reply, NULL, NULL) == 0 &&
             status == 200 &&
             json_is_true(json_object_get(json_object_get(reply, "State"), "Running"));
    json_decref(reply);
    free(path);
    return r;
}

/* The address of service container ID on network NET (heap), or NULL. */
static char *service_ip(struct sl_docker_services *s, const char *id)
{
    json_t *reply = NULL;
    long status = 0;
    char *path = sl_xasprintf("/containers/%s/json", id), *ip = NULL;
    if (sl_docker_call(s->d, "GET", path, NULL, &status, &reply, NULL, NULL) == 0 &&
        status == 200) {
        json_t *nets = json_object_get(json_object_get(reply, "NetworkSettings"), "Networks");
        const char *v =
            json_string_value(json_object_get(json_object_get(nets, s->network), "IPAddress"));
        if (v && *v)
            ip = sl_xstrdup(v);
    }
    json_decref(reply);
    free(path);
    return ip;
}

static bool port_open(const char *ip, int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    bool ok = false;

    if (fd < 0 || inet_pton(AF_INET, ip, &a.sin_addr) != 1)
        goto out;
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0) {
        ok = true;
    } else if (errno == EINPROGRESS) {
        struct pollfd p = {fd, POLLOUT, 0};
        int soerr = 0;
        socklen_t len = sizeof(soerr);
        ok = poll(&p, 1, 200) == 1 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) == 0 &&
             soerr == 0;
    }
out:
    if (fd >= 0)
        close(fd);
    return ok;
}

void sl_docker_services_wait(struct sl_docker_services *s, const char *host_ip,
                             const char *const *job_env)
{
    int64_t wait_ms = s->wait_ms ? s->wait_ms : s->dk->services_wait_ms;
    if (wait_ms == 0)
        wait_ms = DEFAULT_WAIT_MS;
    if (wait_ms < 0 || s->ndone == 0)
        return;
    if (!host_ip) { /* rootless engines keep the network out of the host's reach */
        sl_exec_output_system(s->out, "WARNING: the job's address on its network is unknown: "
                                      "not waiting for the services' ports");
        return;
    }
    sl_exec_output_system(s->out,
                          "Waiting for services to be up and running (timeout %lld "
                          "seconds)...",
                          (long long)(wait_ms / 1000));
    for (size_t i = 0; i < s->ndone; i++) {
        const char *name = s->dk->services[i].name;
        int ports[16];
        size_t np;
        int hp = healthcheck_port(&s->dk->services[i], job_env);
        if (hp) {
            ports[0] = hp;
            np = 1;
        } else {
            np = exposed_ports(s, i, ports);
        }
        const char *why = NULL;
        char *own_ip = s->own && s->own[i] ? service_ip(s, s->ids[i]) : NULL;
        const char *ip = s->own && s->own[i] ? own_ip : host_ip;
        if (np == 0)
            why = "it exposes no port (set HEALTHCHECK_TCP_PORT)";
        else if (!ip)
            why = "its address on the job's network is unknown";
        /* as the runner's health check: up when any of its ports answers */
        int64_t deadline = sl_time_mono_ns() + wait_ms * 1000000;
        while (!why) {
            bool up = false;
            for (size_t k = 0; k < np && !up; k++)
                up = port_open(ip, ports[k]);
            if (up)
                break;
            if (!running(s, s->ids[i]))
                why = "the service container exited";
            else if (sl_time_mono_ns() >= deadline)
                why = "no answer before the timeout";
            else {
                struct timespec ts = {0, 50 * 1000000};
                nanosleep(&ts, NULL); /* the poll interval of a bounded wait */
            }
        }
        if (why) {
            struct sl_str m = SL_STR_INIT;
            for (size_t k = 0; k < np; k++)
                sl_str_addf(&m, "%s%d/tcp", k ? ", " : "port ", ports[k]);
            sl_str_addf(&m, "%s%s", np ? ": " : "", why);
            sl_exec_output_system(
                s->out, "*** WARNING: Service %s probably didn't start properly: %s", name, m.buf);
            sl_str_release(&m);
            char *log = service_log(s, s->ids[i], LOG_TAIL);
            print_log(s, name, log);
            free(log);
        }
        free(own_ip);
    }
}

void sl_docker_services_logs(struct sl_docker_services *s)
{
    for (size_t i = 0; i < s->ndone; i++) {
        char *log = service_log(s, s->ids[i], NULL);
        print_log(s, s->dk->services[i].name, log);
        free(log);
    }
}

void sl_docker_services_remove(struct sl_docker_services *s, bool job_gone)
{
    long status;
    if (!job_gone) {
        for (size_t i = 0; i < s->ndone; i++) {
            char *path = sl_xasprintf("/containers/%s?force=1&v=1", s->ids[i]);
            sl_docker_call(s->d, "DELETE", path, NULL, &status, NULL, NULL, NULL);
            free(path);
            free(s->ids[i]);
        }
        free(s->ids);
        s->ids = NULL;
        s->ndone = 0;
        return;
    }
    for (size_t i = 0; s->own && i < s->dk->nservices; i++)
        json_decref(s->own[i]);
    free(s->own);
    s->own = NULL;
    if (s->network) {
        char *path = sl_xasprintf("/networks/%s", s->network);
        sl_docker_call(s->d, "DELETE", path, NULL, &status, NULL, NULL, NULL);
        free(path);
        free(s->network);
        s->network = NULL;
    }
}

bool sl_docker_label_owner_gone(const char *pid)
{
    char *end;
    if (!pid || !*pid)
        return false;
    errno = 0;
    long n = strtol(pid, &end, 10);
    if (*end || errno || n <= 0 || n > INT_MAX)
        return false;
    return kill((pid_t)n, 0) < 0 && errno == ESRCH;
}

void sl_docker_services_sweep(struct sl_docker *d, const char *label)
{
    json_t *list = NULL, *v;
    long status;
    size_t i;
    char *f = sl_xasprintf("{\"label\":[\"%s\"]}", label);
    char *filters = sl_docker_escape(f);
    char *path = sl_xasprintf("/networks?filters=%s", filters);

    if (sl_docker_call(d, "GET", path, NULL, &status, &list, NULL, NULL) == 0 &&
        json_is_array(list)) {
        json_array_foreach(list, i, v)
        {
            const char *name = json_string_value(json_object_get(v, "Name"));
            const char *pid =
                json_string_value(json_object_get(json_object_get(v, "Labels"), label));
            if (!name || !sl_docker_label_owner_gone(pid))
                continue;
            char *del = sl_xasprintf("/networks/%s", name);
            sl_docker_call(d, "DELETE", del, NULL, &status, NULL, NULL, NULL);
            free(del);
        }
    }
    json_decref(list);
    free(path);
    free(filters);
    free(f);
}
