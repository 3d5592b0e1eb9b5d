/* node.h: the YAML tree that the whole config room works on.
 *
 * A configuration is a tree of nodes allocated in one arena (struct sl_arena) and freed
 * together. Every node keeps where it came from (file, line, column) so that every error
 * can name them. Nodes are IMMUTABLE once built: aliases share nodes, and transformations
 * (include merging, extends, !reference, defaults) build new nodes that share the subtrees
 * they do not change. Never modify a node you did not just create.
 *
 * Scalars keep their type as Psych (GitLab's YAML loader, YAML 1.1) resolves a plain
 * scalar: null (`~`, `null`, empty), bool (`true/false/yes/no/on/off`, any case), int
 * (decimal, 0x, 0o, 0b, and legacy octal `0755`; `str` holds the decimal value, so
 * `012345` reads as "5349" as in GitLab), float, or string (quoted scalars are always
 * strings). `str` is the scalar's string form as GitLab would see it after `to_s`: bools
 * are "true"/"false", null is "". */
#ifndef SL_CONFIG_NODE_H
#define SL_CONFIG_NODE_H

#include "base/compat.h"
#include "base/arena.h"
#include "base/error.h"

enum sl_node_kind {
    SL_NODE_NULL,
    SL_NODE_BOOL,
    SL_NODE_INT,
    SL_NODE_FLOAT,
    SL_NODE_STR,
    SL_NODE_SEQ,
    SL_NODE_MAP,
};

struct sl_pos {
    const char *file; /* borrowed: interned for the life of the arena */
    int line;         /* 1-based; 0 when the node was synthesised */
    int col;          /* 1-based */
};

struct sl_node;

struct sl_pair {
    const char *key; /* scalar key as a string (GitLab stringifies keys) */
    struct sl_pos key_pos;
    struct sl_node *value;
};

struct sl_node {
    enum sl_node_kind kind;
    bool quoted; /* scalar written in quotes or as a block (| >) */
    /* SEQ that `!reference` splicing built: its array depth as GitLab counts it, where the
     * referenced array stays an item (one level deeper); 0 for every other node. */
    unsigned char spliced_depth;
    const char *str;   /* scalars: the string form (see above); NULL for SEQ and MAP */
    const char *tag;   /* explicit tag ("!reference") or NULL */
    struct sl_pos pos; /* where the node starts */
    size_t n;          /* SEQ: items; MAP: pairs */
    struct sl_node **items;
    struct sl_pair *pairs;
};

/* Limits of the YAML reader; zero fields take the defaults below. */
struct sl_yaml_limits {
    size_t max_bytes; /* input size; default SL_YAML_MAX_BYTES */
    size_t max_nodes; /* nodes with aliases expanded; default SL_YAML_MAX_NODES */
    int max_depth;    /* nesting depth; default SL_YAML_MAX_DEPTH */
};

#define SL_YAML_MAX_BYTES (4u << 20)
#define SL_YAML_MAX_NODES 2000000u
#define SL_YAML_MAX_DEPTH 100

struct sl_diag;

/* Parses BUF (LEN bytes; FILE names it in positions) into a tree allocated in A.
 * Anchors and aliases are resolved by sharing nodes, merge keys (`<<`) as Psych does,
 * tags are kept. A stream whose first document holds only `spec:` is a header: it is
 * returned in *header (may be NULL) and the second document is the configuration.
 * An empty document yields a NULL node. Errors (syntax with the parser's position, a limit
 * hit: "The parsed YAML is too big", "The parsed YAML is too deep") are added to DIAG and
 * SL_EINVAL or SL_ELIMIT returned; *out is then untouched. */
int sl_yaml_parse(struct sl_arena *a, const char *file, const char *buf, size_t len,
                  const struct sl_yaml_limits *limits, struct sl_node **out,
                  struct sl_node **header, struct sl_diag *diag);

/* Constructors (the node is allocated in A; strings are copied into A). */
struct sl_node *sl_node_new(struct sl_arena *a, enum sl_node_kind kind, struct sl_pos pos);
struct sl_node *sl_node_new_str(struct sl_arena *a, const char *s, struct sl_pos pos);
/* Appends to a SEQ / MAP under construction (not yet shared). */
void sl_node_seq_push(struct sl_arena *a, struct sl_node *seq, struct sl_node *item);
void sl_node_map_push(struct sl_arena *a, struct sl_node *map, const char *key,
                      struct sl_pos key_pos, struct sl_node *value);
/* A shallow copy of N (its item or pair array copied, children shared). */
struct sl_node *sl_node_shallow_copy(struct sl_arena *a, const struct sl_node *n);

/* Lookups. sl_node_get returns the value of KEY in MAP, or NULL when MAP is not a map or
 * has no such key (a key present with a null value returns that NULL-kind node). */
struct sl_node *sl_node_get(const struct sl_node *map, const char *key);
const struct sl_pair *sl_node_get_pair(const struct sl_node *map, const char *key);
bool sl_node_is_scalar(const struct sl_node *n);
/* True for a STR scalar (quoted or plain) only. */
bool sl_node_is_str(const struct sl_node *n);
/* The scalar's string form, or NULL when N is NULL or not a scalar. */
const char *sl_node_scalar(const struct sl_node *n);
/* Human name of N's kind for messages ("a hash", "an array", "a string", ...). */
const char *sl_node_kind_name(const struct sl_node *n);
/* N's array nesting depth as GitLab's validators count it (a scalar 0, `[a]` 1, `[[a]]`
 * 2, a spliced SEQ its spliced_depth), counted no further than CAP. */
int sl_node_depth(const struct sl_node *n, int cap);
/* Appends N as Ruby's #inspect writes it (`["a", 1, {"k"=>nil}]`), which is how GitLab
 * shows a value in its messages and turns an array into text. */
struct sl_str;
void sl_node_inspect(struct sl_str *s, const struct sl_node *n);
/* Deep equality of values (positions and tags ignored). */
bool sl_node_equal(const struct sl_node *a, const struct sl_node *b);

#endif
