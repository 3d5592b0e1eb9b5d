/* git_net.h: time limits on libgit2's network connections.
 *
 * libgit2 1.5 (Debian 12's) waits on a silent remote for ever: its sockets have no
 * timeout, and the options for one came in 1.7. So a pipeline's fetch from a repository
 * that accepts the connection and never answers held a server thread (an HTTP thread, for
 * a webhook or an API call) until the server stopped.
 *
 * sl_git_net_install registers a plain socket stream for libgit2 (git_stream_register,
 * GIT_STREAM_STANDARD) that libgit2 uses for git:// and http://, and beneath its TLS for
 * https:// (libgit2 builds a TLS stream on the registered standard one). Connecting gives
 * up after the connect limit over all of the host's addresses, and a read or a write after
 * the idle limit without a byte moving, with a libgit2 network error that names the host
 * and the limit ("example.com:80 sent nothing for 120 s"; over https, libgit2's mbedTLS
 * stream replaces it with its own "SSL error: ... Generic error"). A fetch that moves data slowly
 * but steadily is never cut: git servers send progress and keep-alives while they prepare
 * a pack. SSH (libssh2) and local paths are not concerned.
 *
 * sl_git_net_set_limits sets the limits (seconds; default 30 to connect, 120 idle) of the
 * connections made from then on, in the whole process; it touches no libgit2, so a server
 * calls it at start while libgit2 is still unloaded. Install after git_libgit2_init, and
 * again after a last git_libgit2_shutdown (which clears libgit2's registry); returns 0, or
 * -1 when libgit2 refuses the registration (git_error_last says why). Both are
 * thread-safe. */
#ifndef SL_BASE_GIT_NET_H
#define SL_BASE_GIT_NET_H

void sl_git_net_set_limits(int connect_s, int idle_s);
int sl_git_net_install(void);

#endif
