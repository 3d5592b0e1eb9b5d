/* git_http.c: the project's mirror over git's smart HTTP, read-only, for runners: GET
 * /NAME.git/info/refs?service=git-upload-pack and POST /NAME.git/git-upload-pack,
 * authenticated by a running job's token as GitLab does (Basic gitlab-ci-token:<token>),
 * and only for that job's own project. `git http-backend` does the protocol: it is run by
 * argv with a CGI environment of our making (never a shell, never the server's
 * environment), its stdin a file holding the request body, its answer streamed back. */
#include "base/compat.h"
#include "base/str.h"
#include "base/alloc.h"
#include "base/fs.h"
#include "base/log.h"
#include "server/runner.h"

#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <signal.h>
#include <sodium.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#define CGI_HEADER_MAX (16 * 1024)

/* The answer being streamed from git http-backend's stdout. */
struct cgi_out {
    pid_t pid;
    int fd;
    char *pending; /* body bytes read together with the headers */
    size_t npending, off;
};

static ssize_t cgi_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    struct cgi_out *c = cls;
    if (c->off < c->npending) {
        size_t n = SL_MIN(max, c->npending - c->off);
        memcpy(buf, c->pending + c->off, n);
        c->off += n;
        return (ssize_t)n;
    }
    for (;;) {
        ssize_t n = read(c->fd, buf, max);
        if (n > 0)
            return n;
        if (n < 0 && errno == EINTR)
            continue;
        return MHD_CONTENT_READER_END_OF_STREAM;
    }
}

static void cgi_free(void *cls)
{
    struct cgi_out *c = cls;
    if (c->fd >= 0)
        close(c->fd);
    if (c->pid > 0) {
        kill(c->pid, SIGKILL); /* a client that went away mid-pack: no use finishing */
        while (waitpid(c->pid, NULL, 0) < 0 && errno == EINTR)
            ;
    }
    free(c->pending);
    free(c);
}

/* "NAME" and the service of a git smart-HTTP path, or false. */
static bool git_path(const char *path, char **name, const char **tail)
{
    static const char *const tails[] = {".git/info/refs", ".git/git-upload-pack"};
    for (size_t i = 0; i < SL_ARRAY_LEN(tails); i++) {
        size_t pl = strlen(path), tl = strlen(tails[i]);
        if (pl > tl + 1 && path[0] == '/' && !strcmp(path + pl - tl, tails[i])) {
            *name = sl_xstrndup(path + 1, pl - tl - 1);
            *tail = tails[i] + 4; /* "/info/refs" or "/git-upload-pack" */
            return true;
        }
    }
    return false;
}

static void unauthorized(struct req *r)
{
    sl_reply_header(r, "WWW-Authenticate", "Basic realm=\"sluice\"");
    sl_reply_error(r, 401, "unauthorized", "a job token is required (gitlab-ci-token:<token>)");
}

/* The job token of a Basic "gitlab-ci-token:<token>" Authorization into OUT. */
static bool basic_token(struct req *r, char *out, size_t size)
{
    const char *h = sl_header_arg(r, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!h || strncasecmp(h, "Basic ", 6) != 0)
        return false;
    unsigned char dec[256];
    size_t n = 0;
    if (sodium_base642bin(dec, sizeof(dec) - 1, h + 6, strlen(h + 6), " ", &n, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0)
        return false;
    dec[n] = '\0';
    const char *colon = strchr((char *)dec, ':');
    if (!colon || (size_t)(colon - (char *)dec) != strlen("gitlab-ci-token") ||
        strncmp((char *)dec, "gitlab-ci-token", strlen("gitlab-ci-token")) != 0)
        return false;
    snprintf(out, size, "%s", colon + 1);
    return true;
}

/* Runs git http-backend for PATH_INFO on the mirror ROOT/ID and queues its answer. */
static void run_backend(struct req *r, int64_t project_id, const char *tail)
{
    char *root = sl_fs_join(r->s->data_dir, "repos");
    char *path_info = sl_xasprintf("/%lld%s", (long long)project_id, tail);
    const char *query = sl_query_arg(r, "service");
    char *qs = sl_xasprintf("service=%s", query ? query : "");
    const char *ctype = sl_header_arg(r, MHD_HTTP_HEADER_CONTENT_TYPE);
    const char *cenc = sl_header_arg(r, MHD_HTTP_HEADER_CONTENT_ENCODING);
    const char *proto = sl_header_arg(r, "Git-Protocol");
    char *env[16];
    size_t ne = 0;
    env[ne++] = sl_xasprintf("GIT_PROJECT_ROOT=%s", root);
    env[ne++] = sl_xstrdup("GIT_HTTP_EXPORT_ALL=1");
    env[ne++] = sl_xasprintf("PATH_INFO=%s", path_info);
    env[ne++] = sl_xasprintf("REQUEST_METHOD=%s", r->method);
    env[ne++] = sl_xasprintf("QUERY_STRING=%s", strcmp(tail, "/info/refs") ? "" : qs);
    env[ne++] = sl_xasprintf("CONTENT_TYPE=%s", ctype ? ctype : "");
    env[ne++] = sl_xasprintf("CONTENT_LENGTH=%zu", r->body_len);
    env[ne++] = sl_xstrdup("REMOTE_USER=gitlab-ci-token");
    env[ne++] = sl_xstrdup("PATH=/usr/local/bin:/usr/bin:/bin");
    env[ne++] = sl_xstrdup("GIT_CONFIG_NOSYSTEM=1");
    env[ne++] = sl_xstrdup("HOME=/nonexistent");
    if (cenc)
        env[ne++] = sl_xasprintf("HTTP_CONTENT_ENCODING=%s", cenc);
    /* protocol v2 when the client asks (only the safe values git itself sends) */
    if (proto && strspn(proto, "abcdefghijklmnopqrstuvwxyz0123456789=:") == strlen(proto))
        env[ne++] = sl_xasprintf("GIT_PROTOCOL=%s", proto);
    env[ne] = NULL;

    int in = -1, pipefd[2] = {-1, -1};
    struct cgi_out *c = NULL;
    posix_spawn_file_actions_t fa;
    bool fa_init = false;
    pid_t pid = -1;
    char tmpl[] = "/tmp/sluice-git-XXXXXX";
    in = mkostemp(tmpl, O_CLOEXEC);
    if (in >= 0) {
        unlink(tmpl);
        size_t off = 0;
        while (off < r->body_len) {
            ssize_t n = write(in, r->body + off, r->body_len - off);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                break;
            off += (size_t)n;
        }
        lseek(in, 0, SEEK_SET);
    }
    if (in < 0 || pipe2(pipefd, O_CLOEXEC) < 0) {
        sl_reply_error(r, 500, "internal", "cannot run git http-backend");
        goto out;
    }
    posix_spawn_file_actions_init(&fa);
    fa_init = true;
    posix_spawn_file_actions_adddup2(&fa, in, 0);
    posix_spawn_file_actions_adddup2(&fa, pipefd[1], 1);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    char *argv[] = {(char *)"git", (char *)"http-backend", NULL};
    if (posix_spawnp(&pid, "git", &fa, NULL, argv, env) != 0) {
        pid = -1;
        sl_reply_error(r, 500, "internal", "cannot run git http-backend (is git installed?)");
        goto out;
    }
    close(pipefd[1]);
    pipefd[1] = -1;
    c = sl_xcalloc(1, sizeof(*c));
    c->pid = pid;
    c->fd = pipefd[0];
    pipefd[0] = -1;
    pid = -1;
    /* the CGI headers, up to the blank line */
    struct sl_str head = SL_STR_INIT;
    char buf[4096];
    char *end = NULL;
    while (!end && head.len < CGI_HEADER_MAX) {
        ssize_t n = read(c->fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        sl_str_add(&head, buf, (size_t)n);
        end = strstr(head.buf, "\r\n\r\n");
    }
    if (!end) {
        sl_str_release(&head);
        sl_reply_error(r, 502, "bad_gateway", "git http-backend gave no answer");
        goto out;
    }
    *end = '\0';
    size_t body_at = (size_t)(end - head.buf) + 4;
    c->npending = head.len - body_at;
    c->pending = sl_xmalloc(c->npending + 1);
    memcpy(c->pending, head.buf + body_at, c->npending);
    int status = 200;
    const char *content_type = "application/octet-stream";
    char *ct = NULL;
    for (char *line = head.buf, *next; line && *line; line = next) {
        next = strstr(line, "\r\n");
        if (next) {
            *next = '\0';
            next += 2;
        }
        if (!strncasecmp(line, "Status:", 7))
            status = (int)sl_parse_clamp(line + 7, 0, 999); /* a CGI's Status: line */
        else if (!strncasecmp(line, "Content-Type:", 13))
            content_type = ct = sl_xstrdup(line + 13 + strspn(line + 13, " "));
    }
    r->response =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 64 * 1024, cgi_read, c, cgi_free);
    MHD_add_response_header(r->response, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    MHD_add_response_header(r->response, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    r->status = status >= 100 && status < 600 ? status : 502;
    c = NULL; /* the response owns it */
    free(ct);
    sl_str_release(&head);
out:
    if (fa_init)
        posix_spawn_file_actions_destroy(&fa);
    if (c)
        cgi_free(c);
    if (pid > 0)
        waitpid(pid, NULL, 0);
    if (in >= 0)
        close(in);
    if (pipefd[0] >= 0)
        close(pipefd[0]);
    if (pipefd[1] >= 0)
        close(pipefd[1]);
    for (size_t i = 0; i < ne; i++)
        free(env[i]);
    free(qs);
    free(path_info);
    free(root);
}

bool sl_srv_git_http_handle(struct req *r)
{
    char *name = NULL;
    const char *tail = NULL;
    if (!git_path(r->path, &name, &tail))
        return false;
    char token[160];
    struct sl_store_job job = {0};
    struct sl_store_pipeline p = {0};
    struct sl_store_project proj = {0};
    bool refs = !strcmp(tail, "/info/refs");
    if ((refs && strcmp(r->method, "GET") != 0) || (!refs && strcmp(r->method, "POST") != 0)) {
        sl_reply_error(r, 405, "method_not_allowed", "%s is not allowed on %s", r->method, r->path);
        goto out;
    }
    if (refs && !sl_streq(sl_query_arg(r, "service"), "git-upload-pack")) {
        /* read-only: no receive-pack, no dumb protocol */
        sl_reply_error(r, 403, "forbidden", "only git-upload-pack is served");
        goto out;
    }
    if (!basic_token(r, token, sizeof(token))) {
        unauthorized(r);
        goto out;
    }
    /* the job must be running and belong to the project asked for */
    if (sl_store_job_token_lookup(r->s->st, token, &job, NULL) < 0 ||
        strcmp(job.status, "running") != 0 ||
        sl_store_pipeline_get(r->s->st, job.pipeline_id, &p, NULL) < 0 ||
        sl_store_project_get(r->s->st, p.project_id, &proj, NULL) < 0 ||
        strcmp(proj.name, name) != 0) {
        unauthorized(r);
        goto out;
    }
    run_backend(r, proj.id, tail);
out:
    sodium_memzero(token, sizeof(token));
    sl_store_job_release(&job);
    sl_store_pipeline_release(&p);
    sl_store_project_release(&proj);
    free(name);
    return true;
}
