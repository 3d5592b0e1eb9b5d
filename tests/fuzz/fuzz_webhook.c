/* fuzz_webhook.c: libFuzzer target for the forges' webhook payloads (GitHub, GitLab,
 * Gitea), sent to a real server (server_harness.h) with a valid signature, so the payload
 * parsing behind the verification is reached. Input: byte 0 picks the forge (mod 3), the
 * event header (of four per forge) and, with bit 7, a wrong signature instead; the rest is
 * the payload, where "@REPO@" becomes the project's repository path and "@SHA@" the commit
 * main points at (so a well-formed push names a real project and commit and makes a
 * pipeline). Properties: no crash, no 5xx, always an answer. */
#include "base/compat.h"
#include "base/str.h"
#include "server_harness.h"

#include <sodium.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct forge {
    const char *path, *event_header, *signature_header;
    bool hmac;          /* HMAC-SHA256 of the body in hex (GitLab sends the secret itself) */
    const char *prefix; /* before the hex */
    const char *events[4];
};

static const struct forge forges[] = {
    {"/hooks/github",
     "X-GitHub-Event",
     "X-Hub-Signature-256",
     true,
     "sha256=",
     {"push", "create", "ping", "pull_request"}},
    {"/hooks/gitlab",
     "X-Gitlab-Event",
     "X-Gitlab-Token",
     false,
     "",
     {"Push Hook", "Tag Push Hook", "Merge Request Hook", "System Hook"}},
    {"/hooks/gitea",
     "X-Gitea-Event",
     "X-Gitea-Signature",
     true,
     "",
     {"push", "create", "pull_request", "delete"}},
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const struct fz_server *s = fz_server();
    const struct forge *f = &forges[(data[0] & 0x7f) % 3];
    const char *event = f->events[((data[0] & 0x7f) / 3) % 4];
    bool forged = data[0] & 0x80;

    const char *needle[] = {"@REPO@", "@SHA@"}, *value[] = {s->repo_url, s->head_sha};
    size_t len;
    char *body = fz_substitute(data + 1, size - 1, needle, value, 2, &len);

    char sig[2 * crypto_auth_hmacsha256_BYTES + 1];
    if (f->hmac) {
        unsigned char mac[crypto_auth_hmacsha256_BYTES];
        crypto_auth_hmacsha256_state st;
        crypto_auth_hmacsha256_init(&st, (const unsigned char *)s->secret, strlen(s->secret));
        crypto_auth_hmacsha256_update(&st, (const unsigned char *)body, len);
        crypto_auth_hmacsha256_final(&st, mac);
        if (forged)
            mac[0] ^= 1;
        sodium_bin2hex(sig, sizeof(sig), mac, sizeof(mac));
    } else {
        snprintf(sig, sizeof(sig), "%s%s", s->secret, forged ? "x" : "");
    }
    struct sl_str headers = SL_STR_INIT;
    sl_str_addf(&headers, "Content-Type: application/json\r\n%s: %s\r\n%s: %s%s\r\n",
                f->event_header, event, f->signature_header, f->prefix, sig);
    struct fz_answer a;
    fz_http("POST", f->path, headers.buf, body, len, &a);
    free(body);
    sl_str_release(&headers);
    return 0;
}
