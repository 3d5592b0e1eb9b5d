/* The time limits on libgit2's connections (base/git_net.h), against real sockets on
 * loopback: a listener that never accepts still completes the TCP handshake (the kernel's
 * backlog), so a remote that connects and says nothing is a listening socket nobody reads. */
#include "base/compat.h"
#include "harness/harness.h"
#include "base/git_net.h"

#include <arpa/inet.h>
#include <git2.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* A socket listening on 127.0.0.1 (*FD, *PORT), or, with LISTEN_ON false, a port just
 * closed (*FD -1). */
static void loopback(bool listen_on, int *fd_out, int *port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    *fd_out = -1;
    CHECK(fd >= 0);
    CHECK(bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0);
    CHECK(getsockname(fd, (struct sockaddr *)&a, &len) == 0);
    *port = ntohs(a.sin_port);
    if (listen_on && listen(fd, 8) == 0) {
        *fd_out = fd;
        return;
    }
    CHECK(!listen_on);
    close(fd);
}

/* The message libgit2 gives for connecting to URL to fetch (into BUF). */
static void connect_error(const char *url, char *buf, size_t size)
{
    git_remote *remote = NULL;
    snprintf(buf, size, "(connected)");
    CHECK(git_remote_create_detached(&remote, url) == 0);
    if (git_remote_connect(remote, GIT_DIRECTION_FETCH, NULL, NULL, NULL) < 0) {
        const git_error *e = git_error_last();
        snprintf(buf, size, "%s", e && e->message ? e->message : "(no message)");
    }
    git_remote_free(remote);
}

static void setup(void)
{
    git_libgit2_init();
    sl_git_net_set_limits(1, 1);
    CHECK(sl_git_net_install() == 0);
}

static void check_silent(const char *scheme)
{
    int fd, port;
    loopback(true, &fd, &port);
    char url[128], want[128], got[512];
    snprintf(url, sizeof(url), "%s://127.0.0.1:%d/x.git", scheme, port);
    snprintf(want, sizeof(want), "127.0.0.1:%d sent nothing for 1 s", port);
    connect_error(url, got, sizeof(got));
    if (!strstr(got, want))
        sl_test_fail(__FILE__, __LINE__, "%s: got '%s', want it to hold '%s'", url, got, want);
    close(fd);
}

TEST(a_silent_http_remote_is_given_up)
{
    setup();
    check_silent("http");
}

/* libgit2's TLS stream is built on the registered plain one: the handshake's read waits
 * under the same limit, and gives up (without the limit this waits for ever). libgit2's
 * mbedTLS stream then words the error itself: "SSL error: ... Generic error". */
TEST(a_silent_https_remote_is_given_up)
{
    setup();
    int fd, port;
    loopback(true, &fd, &port);
    char url[128], got[512];
    snprintf(url, sizeof(url), "https://127.0.0.1:%d/x.git", port);
    connect_error(url, got, sizeof(got));
    if (!strstr(got, "SSL error"))
        sl_test_fail(__FILE__, __LINE__, "%s: got '%s', want an SSL error", url, got);
    close(fd);
}

TEST(a_silent_git_daemon_is_given_up)
{
    setup();
    check_silent("git");
}

TEST(a_closed_port_says_refused)
{
    setup();
    int fd, port;
    loopback(false, &fd, &port);
    char url[128], want[128], got[512];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/x.git", port);
    snprintf(want, sizeof(want), "cannot connect to 127.0.0.1:%d: Connection refused", port);
    connect_error(url, got, sizeof(got));
    if (!strstr(got, want))
        sl_test_fail(__FILE__, __LINE__, "got '%s', want it to hold '%s'", got, want);
}

TEST(an_unknown_host_says_so)
{
    setup();
    char got[512];
    connect_error("http://no-such-host.invalid/x.git", got, sizeof(got));
    if (!strstr(got, "cannot resolve no-such-host.invalid:80"))
        sl_test_fail(__FILE__, __LINE__, "got '%s'", got);
}
