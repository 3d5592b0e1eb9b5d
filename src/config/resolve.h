/* resolve.h: the config room's private interface between the load orchestration (config.c)
 * and its passes (include.c, extends.c, reference.c, defaults.c, io.c).
 *
 * Every pass takes the resolver state, reads the current top-level map and, when it changes
 * anything, builds new nodes in the configuration's arena (nodes are immutable, node.h).
 * Problems go into r->diag with the position of the offending node, in GitLab's wording.
 * A pass returns 0 when it could do its work (errors may still have been reported: it
 * carries on with what is valid), or a negative SL_E* code when processing must stop. */
#ifndef SL_CONFIG_RESOLVE_H
#define SL_CONFIG_RESOLVE_H

#include "base/compat.h"
#include "config/config.h"

struct sl_resolve {
    struct sl_config *cfg;
    struct sl_arena *a; /* &cfg->arena */
    struct sl_diag *diag;
    struct sl_config_opts opts; /* with the defaults filled in */
    const char *project_dir;    /* arena string; "." when unknown */
    size_t nincludes;           /* files included so far (the 150 limit) */
    size_t errors;              /* errors this load added to diag */
    struct sl_yaml_limits yaml;
};

/* Adds an error at POS to the diagnostics and counts it. */
void sl_resolve_error(struct sl_resolve *r, struct sl_pos pos, const char *fmt, ...)
    SL_PRINTF(3, 4);
void sl_resolve_warning(struct sl_resolve *r, struct sl_pos pos, const char *fmt, ...)
    SL_PRINTF(3, 4);

/* Rails' Hash#deep_merge: a map whose keys are BASE's in their order with OVER's values
 * (maps merged recursively, anything else, null included, replaced), then OVER's new keys.
 * When either side is not a map, OVER wins. Returns a new node sharing unchanged subtrees. */
struct sl_node *sl_config_deep_merge(struct sl_arena *a, struct sl_node *base,
                                     struct sl_node *over);
/* A copy of MAP without KEY (MAP itself when it has no KEY). */
struct sl_node *sl_config_map_without(struct sl_arena *a, struct sl_node *map, const char *key);
/* A copy of MAP with KEY set to VALUE (replaced in place, or appended). */
struct sl_node *sl_config_map_with(struct sl_arena *a, struct sl_node *map, const char *key,
                                   struct sl_pos key_pos, struct sl_node *value);

/* A hash map from node addresses to pointers, for memoising per-node work (shared subtrees
 * are then visited once, so aliases and extends cannot make a pass quadratic). */
struct sl_ptrmap {
    const void **keys;
    void **values;
    size_t cap, n;
};
void *sl_ptrmap_get(const struct sl_ptrmap *m, const void *key);
void sl_ptrmap_put(struct sl_ptrmap *m, const void *key, void *value);
void sl_ptrmap_release(struct sl_ptrmap *m);

/* True for the top-level keys that are not jobs (SPEC.md §2 "Job names"). */
bool sl_config_is_reserved_key(const char *key);

/* include.c: expands `include` of the main file ROOT (named FILE) recursively, merging the
 * included files under it. *root is replaced by the merged map without `include`. */
int sl_config_resolve_includes(struct sl_resolve *r, struct sl_node **root);
/* inputs.c: checks the values ARGS (a map of input name -> value, or NULL) against the
 * `spec:inputs` of HEADER and replaces every `$[[ inputs.NAME ... ]]` of *root (inputs.c
 * says how). AT is where the values come from, for messages about them. Errors in GitLab's
 * wording go to r->diag; returns 0. */
int sl_config_interpolate_inputs(struct sl_resolve *r, struct sl_node **root,
                                 const struct sl_node *header, const struct sl_node *args,
                                 struct sl_pos at);
/* The main file's pipeline inputs INPUTS ("NAME=VALUE", NULL-ended) as a map of values:
 * an input declared as number, boolean or array reads its text as YAML (`3`, `true`,
 * `[a, b]`), anything else is a string. NULL when INPUTS is empty. */
struct sl_node *sl_config_inputs_from_strings(struct sl_resolve *r, const struct sl_node *header,
                                              const char *const *inputs, struct sl_pos at);
/* True when V has the input type TYPE ("string", "number", "boolean", "array"). */
bool sl_config_input_fits(const char *type, const struct sl_node *v);

/* extends.c: resolves `extends` of every top-level entry. */
int sl_config_resolve_extends(struct sl_resolve *r, struct sl_node **root);
/* reference.c: resolves every `!reference` tag; reports any other unknown tag. */
int sl_config_resolve_references(struct sl_resolve *r, struct sl_node **root);
/* defaults.c: copies `default:` (and the deprecated top-level keywords) into jobs. */
int sl_config_apply_defaults(struct sl_resolve *r, struct sl_node **root);

/* io.c: the default reader and lister, both rooted at CTX (a struct sl_config_io_root). */
struct sl_config_io_root {
    const char *dir;  /* project directory */
    size_t max_bytes; /* largest file read */
};
int sl_config_io_read(void *ctx, const char *path, char **out, size_t *len, struct sl_error *err);
int sl_config_io_list(void *ctx, void (*emit)(void *emit_ctx, const char *path), void *emit_ctx,
                      struct sl_error *err);

#endif
