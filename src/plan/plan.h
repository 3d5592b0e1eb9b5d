/* plan.h: a compiled configuration plus a trigger (which commit, which ref, what caused
 * it, which variables) becomes the pipeline: which jobs exist, in which stages, with which
 * needs, `when`, `allow_failure` and variables, exactly as GitLab decides (SPEC.md §2).
 *
 *   struct sl_trigger t;
 *   sl_trigger_init(&t);
 *   if (sl_trigger_from_git(&t, project_dir, &err) < 0) ... no repository: a clear error ...
 *   sl_vars_set(&t.pipeline_vars, "DEPLOY", "1", false);         (--var)
 *   struct sl_plan *p;
 *   if (sl_plan_build(&p, cfg, &t, &err) < 0) ... GitLab's pipeline-creation error ...
 *   p->created ? p->jobs : p->reason
 *   sl_plan_free(p); sl_trigger_release(&t);
 *
 * Everything in a plan is allocated in its arena and freed with it; node pointers borrow
 * from the configuration, which must outlive the plan. */
#ifndef SL_PLAN_H
#define SL_PLAN_H

#include "base/compat.h"
#include "base/arena.h"
#include "base/error.h"
#include "config/config.h"
#include "expr/vars.h"

/* --- the trigger -------------------------------------------------------------------- */

struct sl_trigger {
    char *ref;        /* branch or tag name */
    bool tag;         /* a tag pipeline */
    char *sha;        /* the commit; "" when the repository has none */
    char *before_sha; /* the parent, or 40 zeros */
    char *source;     /* CI_PIPELINE_SOURCE: push (default), web, api, schedule, ... */
    char *project_dir;
    /* the project_dir given to sl_trigger_from_repo is a real path already (a server's
     * tree): not resolved again */
    bool project_dir_real;
    char *config_path; /* CI_CONFIG_PATH, relative to the project */
    /* CI_DEFAULT_BRANCH when the caller knows it (a server's project says it); NULL: the
     * repository's (origin/HEAD, init.defaultBranch, then main, master or HEAD's branch) */
    char *default_branch;
    /* CI_SERVER_URL ("http://127.0.0.1:8080"): the server sets its own before
     * sl_trigger_from_git; else derived from the origin remote; NULL: none known */
    char *server_url;
    /* what sl_trigger_from_git had to assume (a --ref that names no branch or tag), for the
     * caller to show as a warning; NULL when nothing */
    char *warning;
    /* CI_PIPELINE_ID and CI_PIPELINE_IID; 0: not known yet (a server plans before its
     * store numbers the pipeline): the plan leaves both out, and references to them are
     * expanded when the job starts (jobspec.h) */
    int64_t pipeline_id, pipeline_iid;
    /* CI_PIPELINE_CREATED_AT, ms since the epoch: the caller's moment of creating the
     * pipeline (the server's is the stored pipeline's created_at), so planning reads no
     * clock and one trigger always plans the same; 0: not known, the variable is left out */
    int64_t created_at_ms;
    /* Files changed by the commit (relative paths). CHANGES_KNOWN false means there is no
     * push event to compare with, and `changes` rules are true, as in GitLab. */
    char **changed;
    size_t nchanged, capchanged;
    bool changes_known;
    bool changed_by_user; /* --changed: also answers rules:changes:compare_to */
    /* rules:changes:compare_to: the files that differ between the merge base of REF and the
     * commit, answered by whoever made the trigger (sl_trigger_from_git sets the git
     * repository's diff), so rules run no git of their own; *PATHS and each path are the
     * caller's. NULL: compare_to is an error. Called at most once per ref and plan. */
    int (*changed_since)(const struct sl_trigger *t, const char *ref, char ***paths, size_t *npaths,
                         struct sl_error *err);
    /* CI_COMMIT_REF_PROTECTED: -1 (sl_trigger_init) lets sl_trigger_from_git assume what a
     * local run can know (the default branch is protected, as GitLab's default is); 0 or 1
     * is the server's answer from the project's protected branches and tags. */
    int ref_protected;
    struct sl_vars predefined;    /* CI_* of the pipeline (context.c) */
    struct sl_vars pipeline_vars; /* --var, the API's variables: the highest precedence */
    /* The server's stored CI/CD variables that apply to the whole pipeline (instance and
     * project, scope `*`, protected ones only on a protected ref), just below
     * pipeline_vars: as in GitLab, include paths and rules (workflow and jobs) see them.
     * They never go into a planned job's variables (the server adds them when the job
     * starts, scoped to its environment) nor into anything the plan stores, such as
     * workflow:name, so a secret is not written where it is not masked. */
    struct sl_vars stored_vars;
};

void sl_trigger_init(struct sl_trigger *t);
void sl_trigger_release(struct sl_trigger *t);
/* Fills T from the git repository holding PROJECT_DIR through libgit2: HEAD's branch (or
 * T->ref/T->tag when the caller set them first), commit (T->sha when the caller set it: a
 * commit no branch points at, such as a merge request's, which T->ref then only names;
 * the commit variables are empty when REPO lacks it), message, author, parent, changed
 * files, default branch (origin/HEAD, init.defaultBranch, else "main"), remote URL and
 * project path, and every predefined variable VARIABLES.md marks MUST or SHOULD that is
 * knowable locally. A directory that is not in a repository, or a repository without a
 * commit, is not an error: the commit variables are then empty and documented as such
 * (docs/plan.md); the ref defaults to "main". SL_EINVAL when the requested ref or tag does
 * not exist. */
int sl_trigger_from_git(struct sl_trigger *t, const char *project_dir, struct sl_error *err);
/* sl_trigger_from_git with the repository already open: REPO (a libgit2 git_repository *,
 * not freed; NULL: PROJECT_DIR's is opened) answers the commit, refs and configuration, and
 * PROJECT_DIR still gives the project's directory and, without an origin remote, its name
 * and CI_REPOSITORY_URL. The server passes the project's mirror, which holds every commit
 * a tree checked out from it has, so that the tree's repository is not opened a second
 * time. */
struct git_repository;
int sl_trigger_from_repo(struct sl_trigger *t, const char *project_dir, struct git_repository *repo,
                         struct sl_error *err);
/* The variables `include:local` paths may use (GitLab: the project-level predefined ones,
 * CI_* and GITLAB_*), as "K=V" strings for struct sl_config_opts.vars, NULL-terminated;
 * free each string and the array. */
char **sl_trigger_include_vars(const struct sl_trigger *t);
/* sl_config_opts.include_rule for a struct sl_trigger * TRIGGER: whether include:rules
 * RULE's `if` (over VARS, "K=V" strings) and `changes` (TRIGGER's changed files, true when
 * changes are unknown) hold. `exists` is config's. */
bool sl_plan_include_rule(void *trigger, const struct sl_node *rule, const char *const *vars);
/* Adds PATH to the changed files (--changed), making changes known. Files given this way
 * replace git's diff everywhere, rules:changes:compare_to included. */
void sl_trigger_add_changed(struct sl_trigger *t, const char *path);
/* The local pipeline counter in DIR/.sluice/pipeline-counter: the next id, incremented
 * (atomically, under a lock) when BUMP. 1 for a new project. */
int sl_plan_next_pipeline_id(const char *project_dir, bool bump, int64_t *id, struct sl_error *err);
/* Reserves N job ids (CI_JOB_ID) in DIR/.sluice/job-counter: *FIRST .. *FIRST + N - 1,
 * never handed out again, so jobs of different local runs never share an id. */
int sl_plan_reserve_job_ids(const char *project_dir, int64_t n, int64_t *first,
                            struct sl_error *err);
/* GitLab's slugify: lowercase, every char outside [a-z0-9] becomes '-', at most 63
 * bytes, no '-' at either end. Allocated in A. */
char *sl_plan_slugify(struct sl_arena *a, const char *s);
/* The deployment tier GitLab guesses from an environment's NAME (Environment#guess_tier):
 * development, testing, staging, production or other. Static string. */
const char *sl_plan_guess_tier(const char *name);

/* --- the plan ------------------------------------------------------------------------ */

enum sl_plan_when {
    SL_PLAN_ON_SUCCESS,
    SL_PLAN_ON_FAILURE,
    SL_PLAN_ALWAYS,
    SL_PLAN_MANUAL,
    SL_PLAN_DELAYED,
};

struct sl_plan_need {
    const char *job; /* the needed job's full name (parallel instances expanded) */
    size_t index;    /* into plan->jobs */
    bool artifacts;
    bool optional;
};

/* The typed keywords a runnable job is made from (jobfields.c). Strings are as written in
 * the configuration, NOT expanded: the runner expands them with the job's final variables
 * (jobspec.h). Lists are NULL-terminated, NULL when not given. */
struct sl_plan_artifacts {
    bool declared; /* `artifacts:` given as a map */
    const char *name;
    const char *const *paths;
    const char *const *exclude;
    bool untracked;
    const char *when;      /* on_success (NULL), on_failure, always */
    const char *expire_in; /* as written ("1 week", "never") or NULL */
    const char *expose_as;
    /* reports: each a path or glob list */
    const char *const *dotenv;
    const char *const *junit;
    const char *coverage_format; /* reports:coverage_report:coverage_format */
    const char *coverage_path;   /* reports:coverage_report:path */
    /* the other reports (codequality, sast, ...) by name, paths alike: "name=path" pairs */
    const char *const *other_reports;
};

/* One entry of `cache:` (a job may have up to 4). */
struct sl_plan_cache {
    const char *key;              /* key: string, or NULL */
    const char *const *key_files; /* key:files */
    const char *key_prefix;       /* key:prefix */
    const char *const *fallback_keys;
    const char *const *paths;
    bool untracked;
    bool unprotect;
    const char *policy; /* pull-push (NULL), pull, push, or a variable reference */
    const char *when;   /* on_success (NULL), on_failure, always */
};

/* `image:` or one `services:` entry, in any of its forms (a string, or a map). */
struct sl_plan_image {
    const char *name;
    const char *const *entrypoint;
    const char *const *pull_policy; /* always, if-not-present, never */
    const char *platform;           /* docker:platform */
    const char *user;               /* docker:user */
    const char *alias;              /* services: alias (may list several, comma-separated) */
    const char *const *command;     /* services */
    const char *const *variables;   /* services: KEY=VALUE as written */
};

/* One entry of a bridge's `trigger:include`. */
struct sl_plan_trigger_include {
    const char *local;    /* include:local (or the entry as a bare string), or NULL */
    const char *artifact; /* include:artifact, with JOB the job that made it */
    const char *job;
    bool other;                /* project, template, remote or component */
    const char *const *inputs; /* the entry's inputs as YAML "'NAME': VALUE" lines */
};

/* A bridge job's `trigger:`, typed (meaningful when DECLARED). */
struct sl_plan_trigger {
    bool declared;
    const char *project; /* trigger:project (or trigger as a bare string): multi-project */
    const char *branch;
    const char *strategy;
    bool depend;                              /* strategy: depend */
    bool forward_yaml_variables;              /* forward:yaml_variables (default true) */
    bool forward_pipeline_variables;          /* forward:pipeline_variables (default false) */
    struct sl_plan_trigger_include *includes; /* trigger:include (child pipelines) */
    size_t nincludes;
};

/* What the configuration says of one top-level variable besides its value and `expand:`
 * (which is the variable's raw flag). */
struct sl_plan_var_attr {
    const char *name;
    const char *description;    /* `description:` (manual pipeline forms) */
    const char *const *options; /* `options:` */
};

struct sl_plan_job {
    const char *name;      /* full name: "test 2/3", "build: [linux, amd64]" */
    const char *base_name; /* the configuration's job name */
    const struct sl_node *node;
    const char *stage;
    size_t stage_index; /* into plan->stages */
    enum sl_plan_when when;
    int64_t start_in_s; /* when: delayed */
    bool allow_failure;
    int *allow_exit_codes;
    size_t nallow_exit_codes;
    bool needs_declared; /* `needs:` present (even []) */
    struct sl_plan_need *needs;
    size_t nneeds;
    bool dependencies_declared;
    size_t *dependencies; /* indices into plan->jobs */
    size_t ndependencies;
    struct sl_vars variables;           /* everything the job sees, expanded, precedence applied */
    int parallel_index, parallel_total; /* 0, 0 without parallel */
    int retry_max;
    const char **retry_when; /* GitLab failure names */
    size_t nretry_when;
    int *retry_exit_codes;
    size_t nretry_exit_codes;
    int64_t timeout_s;
    const char *environment; /* expanded environment:name or NULL */
    /* The rest of `environment:` (meaningful when ENVIRONMENT is set): the action (start,
     * prepare, verify, access, stop; "start" by default), the expanded url or NULL, the
     * deployment tier (given, or guessed from the name as GitLab does), the on_stop job's
     * name or NULL, auto_stop_in in seconds (0: never). */
    const char *environment_action;
    const char *environment_url;
    /* environment:url as the job's variables leave it, undefined references kept, when it
     * has some (they may come from the job's dotenv report); else NULL */
    const char *environment_url_template;
    /* environment:kubernetes as compact JSON (kept and shown, never acted on), or NULL */
    const char *environment_kubernetes;
    const char *environment_tier;
    const char *environment_on_stop;
    int64_t environment_auto_stop_in_s;
    const char *resource_group;
    bool interruptible;
    const char *const *before_script; /* flattened, NULL-terminated */
    const char *const *script;
    const char *const *after_script;
    /* typed keywords (unexpanded, see above) */
    struct sl_plan_artifacts artifacts;
    struct sl_plan_cache *caches;
    size_t ncaches;
    const struct sl_plan_image *image; /* NULL: none */
    struct sl_plan_image *services;
    size_t nservices;
    const char *coverage;    /* the `coverage` regex (/.../) or NULL */
    const char *const *tags; /* NULL-terminated, never NULL */
    /* A bridge job (GitLab's Ci::Bridge): its `trigger:` (a project path, or a map of
     * include/project/branch/strategy/forward), as written; NULL for a job that runs a
     * script. Who runs the downstream pipeline decides what it means (docs/child.md). */
    const struct sl_node *trigger;
    struct sl_plan_trigger bridge; /* the same, typed (jobfields.c) */
    /* The names of the YAML variables the job has (the top-level ones it inherits, then its
     * own), in that order: GitLab's yaml_variables, which a bridge forwards. */
    const char *const *yaml_variable_names;
};

/* True when one of J's rules has `changes:` patterns (paths:) that match one of PATHS
 * (relative to the project): `sluice run --watch` re-runs such jobs when those files
 * change. compare_to is not consulted: PATHS are the changes. */
bool sl_plan_job_changes_match(const struct sl_plan_job *j, char **paths, size_t npaths);

struct sl_plan_excluded {
    const char *name;
    const char *reason;
};

struct sl_plan {
    struct sl_arena arena;
    bool created;        /* false: workflow:rules decided there is no pipeline */
    const char *reason;  /* which rule decided (created or not), or NULL */
    const char *name;    /* workflow:name, expanded, or NULL */
    const char **stages; /* the stages that have jobs, in order */
    size_t nstages;
    struct sl_plan_job *jobs; /* stage order, then file order */
    size_t njobs;
    struct sl_plan_excluded *excluded;
    size_t nexcluded;
    struct sl_vars variables; /* the pipeline-level variables rules were evaluated with */
    /* workflow:auto_cancel (the matching workflow rule's overriding it), GitLab's values:
     * on_new_commit conservative (default), interruptible or none; on_job_failure none
     * (default) or all. Static strings. */
    const char *auto_cancel_on_new_commit;
    const char *auto_cancel_on_job_failure;
    /* top-level variables given with description: or options: (GitLab's prefilled
     * variables of a manual pipeline), in file order */
    struct sl_plan_var_attr *var_attrs;
    size_t nvar_attrs;
};

#define SL_PLAN_DEFAULT_TIMEOUT_S 3600
#define SL_PLAN_MAX_NEEDS 50 /* GitLab's ci_needs_size_limit default */

/* Builds the pipeline CFG makes for T. SL_EINVAL with GitLab's pipeline-creation error
 * (a need on a job left out, a need on a later stage, a variable cycle). On success *out
 * owns the plan (free with sl_plan_free); a skipped pipeline is a success with
 * created = false. */
int sl_plan_build(struct sl_plan **out, const struct sl_config *cfg, const struct sl_trigger *t,
                  struct sl_error *err);
void sl_plan_free(struct sl_plan *p);
const char *sl_plan_when_name(enum sl_plan_when w);
/* Appends the plan to OUT as `sluice plan --json` prints it (issue 3's shape; json.c), one
 * line without its line break. */
struct sl_str;
void sl_plan_write_json(const struct sl_plan *p, struct sl_str *out);
/* The index of the job called NAME, or SIZE_MAX. */
size_t sl_plan_find(const struct sl_plan *p, const char *name);
/* Writes node N as JSON (scalars as strings, booleans as booleans), for a bridge's
 * `trigger` and an environment's `kubernetes`. */
struct sl_jsonw;
void sl_plan_node_write_json(struct sl_jsonw *w, const struct sl_node *n);
/* The same as a jansson value the caller owns (json_decref), for the server's answers;
 * forward-declared so that users of plan.h need not include jansson. */
struct json_t;
struct json_t *sl_plan_node_json(const struct sl_node *n);

/* bridge.c: what bridge job PJ (triggered by T) passes to its downstream pipeline as
 * pipeline variables, by `trigger:forward`: its YAML variables (its own and the top-level
 * ones it inherits, with the values it sees) unless `yaml_variables: false`, and T's
 * pipeline variables with `pipeline_variables: true`. Added to OUT. */
void sl_plan_bridge_variables(const struct sl_plan_job *pj, const struct sl_trigger *t,
                              struct sl_vars *out);

#endif
