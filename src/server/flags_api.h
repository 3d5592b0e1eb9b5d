/* flags_api.h: feature flags in the server (shared by flags_state.c, flags_api.c and
 * flags_client.c; not a public API).
 *
 * The Unleash document of a project's environment (`{version, features, segments}`) is
 * built from the store, compiled by src/flags and kept in a small cache keyed by project
 * and environment and stamped with the project's flag revision (store/flags.h): a poll
 * costs one indexed read of the revision, and the body and ETag are served as built. Any
 * server sharing the database sees a change at its next poll, since every write bumps the
 * revision in the same transaction. */
#ifndef SL_SERVER_FLAGS_API_H
#define SL_SERVER_FLAGS_API_H

#include "flags/flags.h"
#include "server/internal.h"
#include "store/flags.h"

/* One built environment. Immutable once made; shared by requests (reference counted). */
struct srv_flags_snapshot {
    int64_t project_id;
    char *environment;
    int64_t revision;
    char *body; /* the client API's answer, unfiltered */
    size_t len;
    char etag[48]; /* quoted, as sent */
    struct sl_flags_state *state;
    int refs; /* under the cache's lock */
};

/* Filters of GET /api/client/features (each NULL/0: no filter); borrowed. */
struct srv_flags_filter {
    const char *name_prefix;
    const char *const *tags; /* "type:value" */
    size_t ntags;
    const char *const *projects;
    size_t nprojects;
};

/* The cache and the SDKs' metrics of server S (made by sl_server_new, freed by
 * sl_server_free). */
void sl_srv_flags_init(struct sl_server *s);
void sl_srv_flags_free(struct sl_server *s);

/* The current snapshot of ENVIRONMENT of PROJECT_ID into *out (release with
 * sl_srv_flags_snapshot_release). */
int sl_srv_flags_snapshot_get(struct sl_server *s, int64_t project_id, const char *environment,
                              struct srv_flags_snapshot **out, struct sl_error *err);
void sl_srv_flags_snapshot_release(struct sl_server *s, struct srv_flags_snapshot *snap);

/* The Unleash document of ENVIRONMENT of PROJECT_ID as the client API serves it, filtered
 * by FILTER (may be NULL). *out is the caller's (json_decref). */
int sl_srv_flags_document(struct sl_server *s, int64_t project_id, const char *environment,
                          const struct srv_flags_filter *filter, json_t **out,
                          struct sl_error *err);

/* A quoted ETag of LEN bytes at BODY into OUT. */
void sl_srv_flags_etag(const char *body, size_t len, char out[48]);

/* Counts an SDK's metrics bucket (`{toggles: {NAME: {yes, no, variants: {V: n}}}}`) for
 * the flags of SNAP (names it does not know are ignored, so hostile names cannot grow the
 * series). */
void sl_srv_flags_count(struct sl_server *s, const struct srv_flags_snapshot *snap,
                        const json_t *bucket);
/* Appends the counters to a /metrics answer. */
void sl_srv_flags_metrics_render(struct sl_server *s, struct sl_str *out);
/* The cache's number of builds and hits (tests, benchmarks). */
void sl_srv_flags_cache_stats(struct sl_server *s, uint64_t *builds, uint64_t *hits);

/* Management API (flags_api.c). */
void sl_h_flags_list(struct req *r);
void sl_h_flag_create(struct req *r);
void sl_h_flag_get(struct req *r);
void sl_h_flag_update(struct req *r);
void sl_h_flag_delete(struct req *r);
void sl_h_flag_history(struct req *r);
void sl_h_flag_env_set(struct req *r);
void sl_h_flags_state_get(struct req *r);
void sl_h_flags_state_put(struct req *r);
void sl_h_flag_tokens_list(struct req *r);
void sl_h_flag_token_create(struct req *r);
void sl_h_flag_token_revoke(struct req *r);
void sl_h_flags_unleash_get(struct req *r);
void sl_h_flags_unleash_reset(struct req *r);

/* Unleash client and frontend APIs, GitLab's endpoint (flags_client.c). */
void sl_h_unleash_features(struct req *r);
void sl_h_unleash_register(struct req *r);
void sl_h_unleash_metrics(struct req *r);
void sl_h_unleash_frontend(struct req *r);
void sl_h_unleash_frontend_metrics(struct req *r);
void sl_h_unleash_frontend_preflight(struct req *r);
void sl_h_gitlab_unleash_features(struct req *r);
void sl_h_gitlab_unleash_register(struct req *r);
void sl_h_gitlab_unleash_metrics(struct req *r);

#endif
