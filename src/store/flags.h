/* store/flags.h: feature flags in the store (flags.c), part of store.h's interface (same
 * conventions: ownership, errors, both backends).
 *
 * A project's flags have attributes of their own (description, type, stale, archived,
 * impression data, dependencies, tags) and, per environment, a configuration: enabled,
 * strategies (each with constraints, segment ids, strategy variants) and the flag's variants.
 * The configuration is kept as the JSON Unleash's client API serves (`strategies`,
 * `variants` arrays); the store checks only that it is a JSON array within the caps, the
 * server compiles it with src/flags before storing (so what is stored always evaluates).
 * Environments are names: the first configuration or token naming one makes it exist.
 *
 * Every write bumps the project's revision (caches and ETags compare it) and records a
 * change (who, when, what; with the pipeline and job when a job made it) in the same
 * transaction. */
#ifndef SL_STORE_FLAGS_H
#define SL_STORE_FLAGS_H

#include "store/store.h"

#define SL_STORE_FLAGS_MAX 10000   /* flags of one project */
#define SL_STORE_FLAG_NAME_MAX 255 /* bytes of a flag or environment name */
#define SL_STORE_FLAG_SEGMENTS_MAX 1000

struct sl_store_flag {
    int64_t id;
    int64_t project_id;
    char *name;
    char *description; /* NULL on input means "" */
    char *type; /* release, experiment, operational, kill-switch, permission; NULL: release */
    bool stale;
    bool archived; /* archived flags are not served to SDKs */
    bool impression_data;
    char *dependencies; /* JSON array [{feature, enabled?, variants?}]; NULL on input: [] */
    char *tags;         /* JSON array [{type, value}]; NULL on input: [] */
    int64_t created_at, updated_at;
};

/* A flag's configuration in one environment. */
struct sl_store_flag_env {
    char *flag; /* the flag's name (read only on writes: the call names the flag) */
    char *environment;
    bool enabled;
    char *strategies; /* JSON array; NULL on input: [] */
    char *variants;   /* JSON array; NULL on input: [] */
    int64_t updated_at;
};

struct sl_store_flag_segment {
    int64_t id; /* the id strategies refer to, chosen by the caller */
    char *name;
    char *constraints; /* JSON array */
};

/* Who makes a change (input only, borrowed). ACTION ("flag.create", "flag.env.set", ...) and
 * DETAIL (JSON; NULL: {}) describe it; PIPELINE_ID and JOB_ID (0: none) name the job that
 * made it with its CI_JOB_TOKEN. */
struct sl_store_flag_actor {
    const char *actor; /* "token:3", "job:42" */
    const char *action;
    const char *detail;
    int64_t pipeline_id, job_id;
};

/* A recorded change (listed newest first). */
struct sl_store_flag_change {
    int64_t id;
    int64_t project_id;
    char *flag;        /* "" for a change of the whole environment (import) */
    char *environment; /* "" for a change of the flag's own attributes */
    int64_t at;
    char *actor, *action, *detail;
    int64_t pipeline_id, job_id;
};

void sl_store_flag_release(struct sl_store_flag *f);
void sl_store_flags_free(struct sl_store_flag *arr, size_t n);
void sl_store_flag_env_release(struct sl_store_flag_env *e);
void sl_store_flag_envs_free(struct sl_store_flag_env *arr, size_t n);
void sl_store_flag_segments_free(struct sl_store_flag_segment *arr, size_t n);
void sl_store_flag_changes_free(struct sl_store_flag_change *arr, size_t n);

/* Creates flag F of F->project_id (id and times ignored; NOW used). SL_EEXISTS when the
 * project has a flag of that name; SL_EINVAL for an empty or over-long name. */
int sl_store_flag_create(struct sl_store *st, const struct sl_store_flag *f,
                         const struct sl_store_flag_actor *by, int64_t now, int64_t *id_out,
                         struct sl_error *err);
/* Overwrites the attributes of flag F->name of F->project_id. SL_ENOENT when none. */
int sl_store_flag_update(struct sl_store *st, const struct sl_store_flag *f,
                         const struct sl_store_flag_actor *by, int64_t now, struct sl_error *err);
int sl_store_flag_get(struct sl_store *st, int64_t project_id, const char *name,
                      struct sl_store_flag *out, struct sl_error *err);
/* Every flag of a project by name (at most SL_STORE_FLAGS_MAX). */
int sl_store_flag_list(struct sl_store *st, int64_t project_id, struct sl_store_flag **out,
                       size_t *n, struct sl_error *err);
/* Deletes the flag with its configurations. SL_ENOENT when none. */
int sl_store_flag_delete(struct sl_store *st, int64_t project_id, const char *name,
                         const struct sl_store_flag_actor *by, int64_t now, struct sl_error *err);

/* Sets flag NAME's configuration in E->environment (made or replaced). SL_ENOENT when the
 * flag does not exist. */
int sl_store_flag_env_set(struct sl_store *st, int64_t project_id, const char *name,
                          const struct sl_store_flag_env *e, const struct sl_store_flag_actor *by,
                          int64_t now, struct sl_error *err);
/* The configurations of flag NAME (every environment, by name; NAME NULL: of every flag)
 * or of every flag in ENVIRONMENT (ENVIRONMENT not NULL). */
int sl_store_flag_env_list(struct sl_store *st, int64_t project_id, const char *name,
                           const char *environment, struct sl_store_flag_env **out, size_t *n,
                           struct sl_error *err);
/* The environment names a project's flags or tokens use, by name (caller frees with
 * sl_store_flag_names_free). */
int sl_store_flag_environments(struct sl_store *st, int64_t project_id, char ***out, size_t *n,
                               struct sl_error *err);
void sl_store_flag_names_free(char **arr, size_t n);

/* Segments of a project by id (at most SL_STORE_FLAG_SEGMENTS_MAX). */
int sl_store_flag_segment_list(struct sl_store *st, int64_t project_id,
                               struct sl_store_flag_segment **out, size_t *n, struct sl_error *err);

/* Replaces ENVIRONMENT's configuration of the project in one transaction (Unleash state
 * import): FLAGS[i] are created or get their attributes (archived cleared), ENVS[i] (same
 * order, ENVS[i].flag ignored) becomes FLAGS[i]'s configuration, every other flag of the
 * project ends disabled in ENVIRONMENT (its strategies kept), SEGS are created or replaced.
 * Nothing changes when any part fails. */
int sl_store_flag_state_replace(struct sl_store *st, int64_t project_id, const char *environment,
                                const struct sl_store_flag *flags,
                                const struct sl_store_flag_env *envs, size_t nflags,
                                const struct sl_store_flag_segment *segs, size_t nsegs,
                                const struct sl_store_flag_actor *by, int64_t now,
                                struct sl_error *err);

/* The project's flag revision (0 before any change). */
int sl_store_flag_revision(struct sl_store *st, int64_t project_id, int64_t *out,
                           struct sl_error *err);

/* Changes of a project (NAME not NULL: of that flag only), newest first. */
int sl_store_flag_change_list(struct sl_store *st, int64_t project_id, const char *name,
                              const struct sl_store_page *page, struct sl_store_flag_change **out,
                              size_t *n, struct sl_error *err);

/* ---- Unleash tokens: `<project>:<environment>.<64 hex>`, only SHA-256 stored ---- */

struct sl_store_flag_token {
    int64_t id;
    int64_t project_id;
    char *environment;
    char *type; /* "client" or "frontend" */
    char *name;
    char *allowed_origins; /* JSON array of origins (frontend); [] = none, ["*"] = any */
    int64_t created_at, last_used_at;
    bool revoked;
};

void sl_store_flag_token_release(struct sl_store_flag_token *t);
void sl_store_flag_tokens_free(struct sl_store_flag_token *arr, size_t n);
/* Creates a token of T->type for T->project_id and T->environment; PROJECT_NAME is the
 * token's visible prefix. *secret_out (caller frees; shown once) gets the token. */
int sl_store_flag_token_create(struct sl_store *st, const struct sl_store_flag_token *t,
                               const char *project_name, int64_t now, char **secret_out,
                               int64_t *id_out, struct sl_error *err);
/* Looks SECRET up by its hash (constant-time compare). SL_ENOENT for an unknown, malformed
 * or revoked one. */
int sl_store_flag_token_verify(struct sl_store *st, const char *secret, int64_t now,
                               struct sl_store_flag_token *out, struct sl_error *err);
int sl_store_flag_token_list(struct sl_store *st, int64_t project_id,
                             struct sl_store_flag_token **out, size_t *n, struct sl_error *err);
/* SL_ENOENT when PROJECT_ID has no token ID. */
int sl_store_flag_token_revoke(struct sl_store *st, int64_t project_id, int64_t id,
                               struct sl_error *err);

/* ---- GitLab's Unleash endpoint: one instance id per project ---- */

/* The project's instance id (made on first use); RESET makes a
 * new one (the old one stops working). *out is caller-freed. */
int sl_store_flag_instance_id(struct sl_store *st, int64_t project_id, bool reset, int64_t now,
                              char **out, struct sl_error *err);
/* The project an instance id belongs to; SL_ENOENT when none. */
int sl_store_flag_instance_project(struct sl_store *st, const char *instance_id,
                                   int64_t *project_id, struct sl_error *err);

#endif
