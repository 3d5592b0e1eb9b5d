/* server_harness.c: see server_harness.h. */
#include "server_harness.h"

#include "base/log.h"
#include "base/str.h"
#include "server/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

static struct fz_server the;
static struct sl_server *server;
static char tmpdir[64];
static struct sl_str answer;

static void die(const char *what, const char *why)
{
    fprintf(stderr, "fuzz server harness: %s: %s\n", what, why ? why : "");
    exit(1);
}

static void sh(const char *cmd)
{
    if (system(cmd) != 0)
        die("set-up command failed", cmd);
}

static void cleanup(void)
{
    sl_server_free(server);
    server = NULL;
    if (tmpdir[0]) {
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
        if (system(cmd) != 0)
            fprintf(stderr, "fuzz server harness: could not remove %s\n", tmpdir);
    }
}

/* The answer's JSON field KEY as a new string (the set-up's calls answer objects). */
static char *answer_field(const struct fz_answer *a, const char *key, int64_t *num)
{
    json_t *v = json_loads(a->body, 0, NULL);
    json_t *f = v ? json_object_get(v, key) : NULL;
    if (!f)
        die("unexpected set-up answer", a->body);
    char *s = json_is_string(f) ? strdup(json_string_value(f)) : NULL;
    if (num)
        *num = json_integer_value(f);
    json_decref(v);
    return s;
}

static void admin_call(const char *method, const char *path, const char *body, int want,
                       struct fz_answer *a)
{
    char auth[512];
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s\r\nContent-Type: application/json\r\n",
             the.admin);
    fz_http(method, path, auth, body, strlen(body), a);
    if (a->status != want)
        die(path, a->body);
}

const struct fz_server *fz_server(void)
{
    if (server)
        return &the;
    sl_log_set_level(SL_LOG_ERROR); /* the access log would drown libFuzzer's own */
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/sluice-fuzz-XXXXXX");
    if (!mkdtemp(tmpdir))
        die("mkdtemp", strerror(errno));
    atexit(cleanup);
    char cmd[1024];
    snprintf(cmd, sizeof(cmd),
             "git init -q -b main '%s/repo' && cd '%s/repo' && "
             "printf 'build:\\n  script: [echo hi]\\n  artifacts: {paths: [out]}\\n"
             "test:\\n  needs: [build]\\n  script: [echo ok]\\n' > .gitlab-ci.yml && "
             "git -c user.email=fuzz@example.com -c user.name=fuzz add . && "
             "git -c user.email=fuzz@example.com -c user.name=fuzz commit -q -m init",
             tmpdir, tmpdir);
    sh(cmd);

    static char data[96], repo[96];
    snprintf(data, sizeof(data), "%s/data", tmpdir);
    snprintf(repo, sizeof(repo), "%s/repo", tmpdir);
    struct sl_server_options o = {
        .listen = "127.0.0.1:0", .data_dir = data, .workers = 0, .long_poll_s = -1};
    struct sl_error err = SL_ERROR_INIT;
    char *admin = NULL;
    if (sl_server_new(&server, &o, &admin, &err) < 0)
        die("sl_server_new", err.message);
    the.address = sl_server_address(server);
    the.admin = admin;
    the.repo_url = repo;
    static char sha[64];
    snprintf(cmd, sizeof(cmd), "git -C '%s' rev-parse HEAD", repo);
    FILE *p = popen(cmd, "r");
    if (!p || !fgets(sha, sizeof(sha), p))
        die("git rev-parse", repo);
    pclose(p);
    sha[strcspn(sha, "\n")] = 0;
    the.head_sha = sha;
    the.secret = "fuzz-webhook-secret";

    struct fz_answer a;
    char body[512];
    snprintf(body, sizeof(body),
             "{\"name\": \"fuzz\", \"repo_url\": \"%s\", \"webhook_secret\": \"%s\"}", repo,
             the.secret);
    admin_call("POST", "/api/v1/projects", body, 201, &a);
    free(answer_field(&a, "id", &the.project_id));
    admin_call("POST", "/api/v1/runners", "{\"name\": \"fuzz\"}", 201, &a);
    the.runner = answer_field(&a, "token", NULL);
    return &the;
}

static int dial(void)
{
    const char *colon = strrchr(the.address, ':');
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)strtol(colon + 1, NULL, 10))};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        die("socket", strerror(errno));
    struct timeval tv = {.tv_sec = FZ_ANSWER_TIMEOUT_S};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        int e = errno;
        close(fd);
        if (e == EINTR) /* libFuzzer's timers interrupt it: dial again */
            return dial();
        die("connect", strerror(e));
    }
    return fd;
}

static void send_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t w = send(fd, c, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return; /* the server may answer (413, 400) before reading it all */
        c += w;
        n -= (size_t)w;
    }
}

void fz_http(const char *method, const char *path, const char *headers, const void *body,
             size_t len, struct fz_answer *a)
{
    int fd = dial();
    struct sl_str req = SL_STR_INIT;
    sl_str_addf(&req, "%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n%s", method, path,
                the.address, headers ? headers : "");
    sl_str_addf(&req, "Content-Length: %zu\r\n\r\n", len);
    send_all(fd, req.buf, req.len);
    send_all(fd, body, len);
    sl_str_release(&req);

    sl_str_reset(&answer);
    sl_str_add(&answer, "", 0);
    char buf[16384];
    for (;;) {
        ssize_t n = recv(fd, buf, sizeof(buf), 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            fprintf(stderr, "fuzz: %s %s: no answer within %d s\n", method, path,
                    FZ_ANSWER_TIMEOUT_S);
            abort();
        }
        if (n <= 0)
            break;
        sl_str_add(&answer, buf, (size_t)n);
    }
    close(fd);
    a->status = 0;
    if (answer.len < 12 || sscanf(answer.buf, "HTTP/1.%*c %d", &a->status) != 1) {
        fprintf(stderr, "fuzz: %s %s: no HTTP answer (%zu bytes)\n", method, path, answer.len);
        abort();
    }
    const char *sep = strstr(answer.buf, "\r\n\r\n");
    a->body = sep ? sep + 4 : "";
    a->body_len = answer.len - (size_t)(a->body - answer.buf);
    if (getenv("FZ_TRACE")) /* to see what a corpus reaches */
        fprintf(stderr, "fuzz: %s %s -> %d %.*s\n", method, path, a->status,
                (int)(a->body_len > 160 ? 160 : a->body_len), a->body);
    if (a->status >= 500) {
        fprintf(stderr, "fuzz: %s %s answered %d: %.*s\n", method, path, a->status,
                (int)(a->body_len > 400 ? 400 : a->body_len), a->body);
        abort();
    }
}

char *fz_substitute(const uint8_t *data, size_t len, const char *const *needle,
                    const char *const *value, size_t n, size_t *out_len)
{
    struct sl_str s = SL_STR_INIT;
    sl_str_add(&s, "", 0);
    size_t i = 0;
    while (i < len) {
        size_t k = 0;
        for (; k < n; k++) {
            size_t nl = strlen(needle[k]);
            if (nl <= len - i && !memcmp(data + i, needle[k], nl)) {
                sl_str_add(&s, value[k], strlen(value[k]));
                i += nl;
                break;
            }
        }
        if (k == n)
            sl_str_add(&s, (const char *)data + i++, 1);
    }
    *out_len = s.len;
    return sl_str_detach(&s);
}
