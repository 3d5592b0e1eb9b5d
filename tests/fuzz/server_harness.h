/* server_harness.h: one real `sluice serve` inside a fuzz target's process, and a small
 * HTTP client to talk to it over loopback.
 *
 * The fuzzers of the server's inputs (fuzz_api, fuzz_webhook, fuzz_runner) drive the whole
 * path a hostile client reaches: libmicrohttpd, routing, authentication, the handlers and
 * the store. The server is started once per process, on a SQLite store in a temporary
 * directory, with no workers (jobs stay queued) and no long-poll hold (a jobs/request
 * answers at once), on a project whose repository is a real git repository made there.
 *
 *   const struct fz_server *s = fz_server();          starts it on the first call
 *   struct fz_answer a;
 *   fz_http("POST", "/api/v1/lint", NULL, body, len, &a);
 *
 * What counts as a finding: a crash or a sanitizer report (as in any fuzz target), an
 * answer of 500 or above (a malformed body is the client's error: 4xx), and a server that
 * does not answer within FZ_ANSWER_TIMEOUT_S. fz_http aborts on the last two so libFuzzer
 * records the input. FZ_TRACE=1 in the environment prints every request and its answer
 * (to see how deep a corpus reaches).
 *
 * Everything here is process-wide and never freed: the server lives until exit. Errors of
 * the set-up are fatal (message on stderr, exit 1): a fuzzer without its server is useless.
 */
#ifndef SL_TESTS_FUZZ_SERVER_HARNESS_H
#define SL_TESTS_FUZZ_SERVER_HARNESS_H

#include <stddef.h>
#include <stdint.h>

#define FZ_ANSWER_TIMEOUT_S 60

struct fz_server {
    const char *address;  /* "127.0.0.1:PORT" */
    const char *admin;    /* the admin API token */
    int64_t project_id;   /* a project on a real repository (main has a .gitlab-ci.yml) */
    const char *repo_url; /* its repository's path */
    const char *head_sha; /* the commit main points at */
    const char *secret;   /* its webhook secret */
    const char *runner;   /* a runner's authentication token (glrt-…), untagged jobs */
};

struct fz_answer {
    int status;
    const char *body; /* the answer's body, NUL-terminated; valid until the next fz_http */
    size_t body_len;
};

const struct fz_server *fz_server(void);

/* Sends one request (HTTP/1.1, Connection: close) with HEADERS (NULL or "Name: value\r\n"
 * lines) and BODY, and reads the whole answer into *A. Aborts on a 5xx answer or no answer. */
void fz_http(const char *method, const char *path, const char *headers, const void *body,
             size_t len, struct fz_answer *a);

/* Replaces every occurrence of each NEEDLE[i] in DATA with VALUE[i] (N pairs); the result is
 * malloc'd and NUL-terminated (*OUT_LEN its length). Fuzz inputs name the run's secrets by
 * placeholders ("@REPO@", "@RUNNER@", …) that only this process knows. */
char *fz_substitute(const uint8_t *data, size_t len, const char *const *needle,
                    const char *const *value, size_t n, size_t *out_len);

#endif
