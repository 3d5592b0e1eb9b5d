/* keywords_rare.c: the shapes of what sluice keeps but does not act on (SPEC.md §1 RARE:
 * `run` steps, `secrets`, `id_tokens`, `hooks`, `identity`, `dast_configuration`, `pages`,
 * job `inputs`, the `spec:` header) and of include entries (top-level `include`, which
 * only shape-only mode leaves for the validator, `trigger:include` and `spec:include`).
 *
 * The shapes are GitLab's JSON schema's (../shared/gitlab-ci/schema/ci.json), the messages
 * in the wording of GitLab's validators ("LOC config contains unknown keys: x", "LOC config
 * missing required keys: x", "LOC:KEY config should be ..."). A valid use is never an
 * error: lint.c adds the "accepted but sluice does not act on it" warning. */
#include "base/compat.h"
#include "config/keywords.h"
#include "config/resolve.h"
#include "base/alloc.h"
#include "base/str.h"

#include <ctype.h>

/* Names of steps, step env and step inputs: ^[a-zA-Z_][a-zA-Z0-9_]*$. */
static bool identifier_ok(const char *s)
{
    if (!s || !(isalpha((unsigned char)*s) || *s == '_'))
        return false;
    for (s++; *s; s++)
        if (!(isalnum((unsigned char)*s) || *s == '_'))
            return false;
    return true;
}

static bool yaml_path(const char *s)
{
    size_t n = strlen(s);
    return (n > 4 && !strcmp(s + n - 4, ".yml")) || (n > 5 && !strcmp(s + n - 5, ".yaml"));
}

/* KEY of MAP is required and a string: reports it missing or of the wrong shape. Returns the
 * value when it is a string. */
static const struct sl_node *required_str(struct lint *l, const char *loc,
                                          const struct sl_node *map, const char *key)
{
    const struct sl_node *v = sl_kw_val(l, map, key);
    if (!v) {
        sl_lint_error(l, map, "%s config missing required keys: %s", loc, key);
        return NULL;
    }
    if (!sl_kw_is_scalar(v)) {
        sl_lint_error(l, v, "%s:%s config should be a string", loc, key);
        return NULL;
    }
    return v;
}

/* Optional string-valued keys of MAP. */
static void optional_strs(struct lint *l, const char *loc, const struct sl_node *map,
                          const char *const *keys)
{
    for (const char *const *k = keys; *k; k++) {
        const struct sl_node *v = sl_kw_val(l, map, *k);
        if (v && !sl_kw_is_scalar(v))
            sl_lint_error(l, v, "%s:%s config should be a string", loc, *k);
    }
}

/* --- run: steps ----------------------------------------------------------------------- */

/* step: / func: a string reference, {git: {url, rev, dir, file}} or {oci: {registry,
 * repository, tag, dir, file}}. */
static void check_step_ref(struct lint *l, const char *loc, const char *key,
                           const struct sl_node *n)
{
    static const char *const git_keys[] = {"url", "rev", "dir", "file", NULL};
    static const char *const git_req[] = {"url", "rev", NULL};
    static const char *const oci_keys[] = {"registry", "repository", "tag", "dir", "file", NULL};
    static const char *const oci_req[] = {"registry", "repository", "tag", NULL};
    static const char *const one[] = {"git", NULL}, *const other[] = {"oci", NULL};
    char *x = sl_kw_loc(loc, key);
    if (sl_kw_is_str(n, false))
        goto out;
    if (n->kind != SL_NODE_MAP || n->n != 1 || !(sl_node_get(n, "git") || sl_node_get(n, "oci"))) {
        sl_lint_error(l, n, "%s config should be a string, a hash with git or a hash with oci", x);
        goto out;
    }
    bool git = sl_node_get(n, "git") != NULL;
    sl_kw_unknown_keys(l, x, n, git ? one : other);
    const struct sl_node *r = sl_node_get(n, git ? "git" : "oci");
    char *rl = sl_kw_loc(x, git ? "git" : "oci");
    if (r->kind != SL_NODE_MAP) {
        sl_lint_error(l, r, "%s config should be a hash", rl);
    } else {
        sl_kw_unknown_keys(l, rl, r, git ? git_keys : oci_keys);
        sl_kw_required_keys(l, rl, r, git ? git_req : oci_req);
        optional_strs(l, rl, r, git ? git_keys : oci_keys);
    }
    free(rl);
out:
    free(x);
}

static void check_step(struct lint *l, const char *loc, const struct sl_node *n)
{
    static const char *const script_keys[] = {"name", "env", "script", NULL};
    /* `action` is the older schema's GitHub action step (GitLab's positive fixtures) */
    static const char *const ref_keys[] = {"name", "env", "inputs", "step", "func", "action", NULL};
    static const char *const refs[] = {"script", "step", "func", "action"};
    if (n->kind != SL_NODE_MAP) {
        sl_lint_error(l, n, "%s config should be a hash", loc);
        return;
    }
    const struct sl_node *v;
    if (!(v = sl_kw_val(l, n, "name")))
        sl_lint_error(l, n, "%s config missing required keys: name", loc);
    else if (!sl_kw_is_str(v, false) || !identifier_ok(v->str))
        sl_lint_error(l, v, "%s:name config should be a name of letters, digits and underscores",
                      loc);
    size_t nrefs = 0;
    for (size_t i = 0; i < SL_ARRAY_LEN(refs); i++)
        nrefs += sl_node_get_pair(n, refs[i]) != NULL;
    bool script = sl_node_get_pair(n, "script") != NULL;
    sl_kw_unknown_keys(l, loc, n, script ? script_keys : ref_keys);
    if (nrefs != 1)
        sl_lint_error(l, n, "%s config must use exactly one of these keys: script, step, func",
                      loc);
    if (script && (v = sl_node_get(n, "script")) && !sl_kw_is_str(v, true))
        sl_lint_error(l, v, "%s:script config should be a non-empty string", loc);
    for (size_t i = 1; i < SL_ARRAY_LEN(refs); i++)
        if ((v = sl_node_get(n, refs[i])) && nrefs == 1)
            check_step_ref(l, loc, refs[i], v);
    if ((v = sl_kw_val(l, n, "env"))) {
        bool ok = v->kind == SL_NODE_MAP;
        for (size_t i = 0; ok && i < v->n; i++)
            ok = identifier_ok(v->pairs[i].key) && sl_kw_is_str(v->pairs[i].value, false);
        if (!ok)
            sl_lint_error(l, v, "%s:env config should be a hash of names to strings", loc);
    }
    if (!script && (v = sl_kw_val(l, n, "inputs"))) {
        bool ok = v->kind == SL_NODE_MAP;
        for (size_t i = 0; ok && i < v->n; i++)
            ok = identifier_ok(v->pairs[i].key);
        if (!ok)
            sl_lint_error(l, v, "%s:inputs config should be a hash of names to values", loc);
    }
}

void sl_kw_check_run(struct lint *l, const char *p, const char *k, const struct sl_node *n)
{
    char *loc = sl_kw_loc(p, k);
    if (n->kind != SL_NODE_SEQ) {
        sl_lint_error(l, n, "%s config should be an array of steps", loc);
    } else {
        char *step = sl_kw_loc(loc, "step");
        for (size_t i = 0; i < n->n; i++)
            check_step(l, step, n->items[i]);
        free(step);
    }
    free(loc);
}

/* --- secrets -------------------------------------------------------------------------- */

static void check_vault(struct lint *l, const char *loc, const struct sl_node *n)
{
    static const char *const keys[] = {"engine", "path", "field", NULL};
    static const char *const engine_keys[] = {"name", "path", NULL};
    char *x = sl_kw_loc(loc, "vault");
    if (sl_kw_is_scalar(n))
        goto out;
    if (n->kind != SL_NODE_MAP) {
        sl_lint_error(l, n, "%s config should be a string or a hash", x);
        goto out;
    }
    sl_kw_unknown_keys(l, x, n, keys);
    sl_kw_required_keys(l, x, n, keys);
    const struct sl_node *e = sl_kw_val(l, n, "engine");
    if (e) {
        char *el = sl_kw_loc(x, "engine");
        if (e->kind != SL_NODE_MAP) {
            sl_lint_error(l, e, "%s config should be a hash", el);
        } else {
            sl_kw_unknown_keys(l, el, e, engine_keys);
            sl_kw_required_keys(l, el, e, engine_keys);
            optional_strs(l, el, e, engine_keys);
        }
        free(el);
    }
    static const char *const strs[] = {"path", "field", NULL};
    optional_strs(l, x, n, strs);
out:
    free(x);
}

/* A provider given as a hash with a required `name` (or SECRET_ID) and optional strings. */
static void check_provider(struct lint *l, const char *loc, const char *key,
                           const struct sl_node *n, const char *const *keys, bool string_ok)
{
    char *x = sl_kw_loc(loc, key);
    if (string_ok && sl_kw_is_scalar(n))
        goto out;
    if (n->kind != SL_NODE_MAP) {
        sl_lint_error(l, n, "%s config should be a %s", x, string_ok ? "string or a hash" : "hash");
        goto out;
    }
    sl_kw_unknown_keys(l, x, n, keys);
    required_str(l, x, n, keys[0]);
    for (const char *const *k = keys + 1; *k; k++) {
        const struct sl_node *v = sl_kw_val(l, n, *k);
        /* gcp_secret_manager:version may be a number */
        if (v && !sl_kw_is_str(v, false) && !(sl_kw_is_int(v) && !strcmp(*k, "version")))
            sl_lint_error(l, v, "%s:%s config should be a string", x, *k);
    }
out:
    free(x);
}

void sl_kw_check_secrets(struct lint *l, const char *p, const char *k, const struct sl_node *n)
{
    static const char *const allowed[] = {"vault",
                                          "gcp_secret_manager",
                                          "azure_key_vault",
                                          "aws_secrets_manager",
                                          "gitlab_secrets_manager",
                                          "file",
                                          "token",
                                          NULL};
    static const char *const gcp[] = {"name", "version", NULL};
    static const char *const azure[] = {"name", "version", NULL};
    static const char *const aws[] = {"secret_id", "version_id", "version_stage",     "region",
                                      "role_arn",  "field",      "role_session_name", NULL};
    static const char *const gsm[] = {"name", "source", NULL};
    char *loc = sl_kw_loc(p, k);
    if (n->kind != SL_NODE_MAP) {
        sl_lint_error(l, n, "%s config should be a hash", loc);
        goto out;
    }
    for (size_t i = 0; i < n->n; i++) {
        const struct sl_node *s = n->pairs[i].value, *v;
        char *x = sl_kw_loc(loc, n->pairs[i].key);
        if (s->kind != SL_NODE_MAP) {
            sl_lint_error(l, s, "%s config should be a hash", x);
            free(x);
            continue;
        }
        sl_kw_unknown_keys(l, x, s, allowed);
        size_t providers = 0;
        for (size_t j = 0; j < 5; j++)
            providers += sl_node_get_pair(s, allowed[j]) != NULL;
        if (providers == 0)
            sl_lint_error(l, s,
                          "%s config must use one of these keys: vault, gcp_secret_manager, "
                          "azure_key_vault, aws_secrets_manager, gitlab_secrets_manager",
                          x);
        if ((v = sl_node_get(s, "vault")))
            check_vault(l, x, v);
        if ((v = sl_node_get(s, "gcp_secret_manager"))) {
            check_provider(l, x, "gcp_secret_manager", v, gcp, false);
            if (!sl_node_get_pair(s, "token"))
                sl_lint_error(l, s,
                              "%s config missing required keys: token (gcp_secret_manager "
                              "needs it)",
                              x);
        }
        if ((v = sl_node_get(s, "azure_key_vault")))
            check_provider(l, x, "azure_key_vault", v, azure, false);
        if ((v = sl_node_get(s, "aws_secrets_manager")))
            check_provider(l, x, "aws_secrets_manager", v, aws, true);
        if ((v = sl_node_get(s, "gitlab_secrets_manager")))
            check_provider(l, x, "gitlab_secrets_manager", v, gsm, false);
        if ((v = sl_kw_val(l, s, "file")) && !sl_kw_is_bool(v))
            sl_lint_error(l, v, "%s:file config should be a boolean value", x);
        if ((v = sl_kw_val(l, s, "token")) && !sl_kw_is_scalar(v))
            sl_lint_error(l, v, "%s:token config should be a string", x);
        free(x);
    }
out:
    free(loc);
}

/* --- id_tokens, hooks, identity, dast_configuration, pages ------------------------------ */

void sl_kw_check_id_tokens(struct lint *l, const char *p, const char *k, const struct sl_node *n)
{
    static const char *const allowed[] = {"aud", NULL};
    char *loc = sl_kw_loc(p, k);
    if (n->kind != SL_NODE_MAP) {
        sl_lint_error(l, n, "%s config should be a hash", loc);
        goto out;
    }
    for (size_t i = 0; i < n->n; i++) {
        const struct sl_node *t = n->pairs[i].value, *aud;
        char *x = sl_kw_loc(loc, n->pairs[i].key);
        if (t->kind != SL_NODE_MAP) {
            sl_lint_error(l, t, "%s config should be a hash", x);
        } else {
            sl_kw_unknown_keys(l, x, t, allowed);
            if (!(aud = sl_kw_val(l, t, "aud"))) {
                sl_lint_error(l, t, "%s config missing required keys: aud", x);
            } else {
                bool ok = sl_kw_is_scalar(aud) || (sl_kw_strings(aud) && aud->n > 0);
                for (size_t a = 0; ok && aud->kind == SL_NODE_SEQ && a < aud->n; a++)
                    for (size_t b = 0; ok && b < a; b++)
                        ok = strcmp(aud->items[a]->str, aud->items[b]->str) != 0;
                if (!ok)
                    sl_lint_error(l, aud, "%s:aud config should be a string or an array of strings",
                                  x);
            }
        }
        free(x);
    }
out:
    free(loc);
}

void sl_kw_check_hooks(struct lint *l, const char *p, const char *k, const struct sl_node *n)
{
    static const char *const allowed[] = {"pre_get_sources_script", NULL};
    char *loc = sl_kw_loc(p, k);
    const struct sl_node *s;
    if (n->kind != SL_NODE_MAP) {
        sl_lint_error(l, n, "%s config should be a hash", loc);
    } else {
        sl_kw_unknown_keys(l, loc, n, allowed);
        if ((s = sl_kw_val(l, n, "pre_get_sources_script")) && !sl_kw_script_ok(s, 1))
            sl_lint_error(l, s,
                          "%s:pre_get_sources_script config should be a string or a nested array "
                          "of strings up to 10 levels deep",
                          loc);
    }
    free(loc);
}

void sl_kw_check_identity(struct lint *l, const char *p, const char *k, const struct sl_node *n)
{
    const char *s = sl_node_scalar(n);
    if (!s || strcmp(s, "google_cloud"))
        sl_lint_error(l, n, "%s:%s config should be one of: google_cloud", p, k);
}

void sl_kw_check_dast(struct lint *l, const char *p, const char *k, const struct sl_node *n)
{
    static const char *const allowed[] = {"site_profile", "scanner_profile", NULL};
    char *loc = sl_kw_loc(p, k);
    if (n->kind != SL_NODE_MAP) {
        sl_lint_error(l, n, "%s config should be a hash", loc);
    } else {
        sl_kw_unknown_keys(l, loc, n, allowed);
        optional_strs(l, loc, n, allowed);
    }
    free(loc);
}

void sl_kw_check_pages(struct lint *l, const char *p, const char *k, const struct sl_node *n)
{
    static const char *const allowed[] = {"path_prefix", "expire_in", "publish", NULL};
    char *loc = sl_kw_loc(p, k);
    if (sl_kw_is_bool(n))
        goto out;
    if (n->kind != SL_NODE_MAP) {
        sl_lint_error(l, n, "%s config should be a hash or a boolean value", loc);
    } else {
        sl_kw_unknown_keys(l, loc, n, allowed);
        optional_strs(l, loc, n, allowed);
    }
out:
    free(loc);
}

/* --- inputs (job inputs, spec:inputs, values passed to includes and triggers) ---------- */

static const char *const input_types[] = {"string", "number", "boolean", "array", NULL};

/* One input declaration; SPEC: of spec:inputs (rules allowed, default optional), else of
 * a job's inputs (default required). */
static void check_input(struct lint *l, const char *loc, const struct sl_node *n, bool spec)
{
    static const char *const spec_keys[] = {"type",  "default", "description", "options",
                                            "regex", "rules",   NULL};
    static const char *const job_keys[] = {"type",    "default", "description",
                                           "options", "regex",   NULL};
    static const char *const rule_keys[] = {"if", "options", "default", NULL};
    const struct sl_node *v, *def = sl_kw_val(l, n, "default");
    const char *type = "string";
    if (spec && n->kind == SL_NODE_NULL)
        return;
    if (n->kind != SL_NODE_MAP) {
        sl_lint_error(l, n, "%s config should be a hash", loc);
        return;
    }
    sl_kw_unknown_keys(l, loc, n, spec ? spec_keys : job_keys);
    if ((v = sl_kw_val(l, n, "type"))) {
        if (!sl_kw_one_of(sl_node_scalar(v), input_types)) {
            sl_lint_error(l, v, "%s:type config should be one of: string, number, boolean, array",
                          loc);
            type = NULL;
        } else {
            type = v->str;
        }
    }
    if (!spec && !def)
        sl_lint_error(l, n, "%s config missing required keys: default", loc);
    if (def && type && !sl_config_input_fits(type, def))
        sl_lint_error(l, def, "%s:default config should be %s %s value (the input's type)", loc,
                      !strcmp(type, "array") ? "an" : "a", type);
    if ((v = sl_kw_val(l, n, "description")) && (!sl_kw_is_scalar(v) || strlen(v->str) > 1024))
        sl_lint_error(l, v, "%s:description config should be a string of at most 1024 characters",
                      loc);
    if ((v = sl_kw_val(l, n, "options"))) {
        bool ok = v->kind == SL_NODE_SEQ && v->n <= 50;
        for (size_t i = 0; ok && i < v->n; i++)
            ok = sl_kw_is_scalar(v->items[i]);
        if (!ok)
            sl_lint_error(l, v,
                          "%s:options config should be an array of at most 50 strings, numbers "
                          "or booleans",
                          loc);
    }
    if ((v = sl_kw_val(l, n, "regex")) && !sl_kw_is_scalar(v))
        sl_lint_error(l, v, "%s:regex config should be a string", loc);
    if (spec && (v = sl_kw_val(l, n, "rules"))) {
        char *rl = sl_xasprintf("%s:rules:rule", loc);
        if (sl_node_get_pair(n, "default"))
            sl_lint_error(l, n, "%s config these keys cannot be used together: rules, default",
                          loc);
        if (sl_node_get_pair(n, "options"))
            sl_lint_error(l, n, "%s config these keys cannot be used together: rules, options",
                          loc);
        if (v->kind != SL_NODE_SEQ) {
            sl_lint_error(l, v, "%s:rules config should be an array of hashes", loc);
        } else {
            for (size_t i = 0; i < v->n; i++) {
                const struct sl_node *r = v->items[i], *x;
                if (r->kind != SL_NODE_MAP) {
                    sl_lint_error(l, r, "%s:rules config should be an array of hashes", loc);
                    continue;
                }
                sl_kw_unknown_keys(l, rl, r, rule_keys);
                if (!sl_node_get_pair(r, "default"))
                    sl_lint_error(l, r, "%s config missing required keys: default", rl);
                if ((x = sl_kw_val(l, r, "if")) && !sl_kw_is_scalar(x))
                    sl_lint_error(l, x, "%s if should be a string", rl);
                if ((x = sl_kw_val(l, r, "options")) && (x->kind != SL_NODE_SEQ || x->n > 50))
                    sl_lint_error(l, x, "%s:options config should be an array of at most 50 values",
                                  rl);
            }
        }
        free(rl);
    }
}

void sl_kw_check_job_inputs(struct lint *l, const char *p, const char *k, const struct sl_node *n)
{
    char *loc = sl_kw_loc(p, k);
    if (n->kind != SL_NODE_MAP) {
        sl_lint_error(l, n, "%s config should be a hash", loc);
    } else {
        if (n->n > 50)
            sl_lint_error(l, n, "%s config has too many entries (maximum 50)", loc);
        for (size_t i = 0; i < n->n; i++) {
            char *x = sl_kw_loc(loc, n->pairs[i].key);
            check_input(l, x, n->pairs[i].value, false);
            free(x);
        }
    }
    free(loc);
}

void sl_lint_inputs_values(struct lint *l, const char *loc, const struct sl_node *n)
{
    char *x = sl_kw_loc(loc, "inputs");
    if (n->kind != SL_NODE_MAP) {
        sl_lint_error(l, n, "%s config should be a hash", x);
        goto out;
    }
    for (size_t i = 0; i < n->n; i++) {
        const char *name = n->pairs[i].key;
        const struct sl_node *v = n->pairs[i].value;
        bool ok = *name != '\0';
        for (const char *c = name; ok && *c; c++)
            ok = isalnum((unsigned char)*c) || *c == '_' || *c == '-';
        if (!ok)
            sl_lint_error_pos(l, n->pairs[i].key_pos,
                              "%s config has an invalid input name: %s (letters, digits, _ and - "
                              "only)",
                              x, name);
        if (v->kind == SL_NODE_STR && strlen(v->str) > 1024)
            sl_lint_error(l, v, "%s:%s config is too long (maximum is 1024 characters)", x, name);
    }
out:
    free(x);
}

/* --- include entries ------------------------------------------------------------------ */

struct include_form {
    const char *key;
    unsigned kinds;             /* 1 << enum kw_include_kind */
    const char *const *allowed; /* besides `rules` (top) and `inputs` (top, trigger) */
};

static const char *const f_local[] = {"local", NULL};
static const char *const f_project[] = {"project", "ref", "file", NULL};
static const char *const f_remote[] = {"remote", "integrity", "cache", NULL};
static const char *const f_remote_trigger[] = {"remote", NULL};
static const char *const f_template[] = {"template", NULL};
static const char *const f_component[] = {"component", NULL};
static const char *const f_artifact[] = {"artifact", "job", NULL};

#define TOP (1u << KW_INCLUDE_TOP)
#define TRIGGER (1u << KW_INCLUDE_TRIGGER)
#define SPEC (1u << KW_INCLUDE_SPEC)

static const struct include_form forms[] = {
    {"local", TOP | TRIGGER | SPEC, f_local}, {"project", TOP | TRIGGER | SPEC, f_project},
    {"remote", TOP | SPEC, f_remote},         {"remote", TRIGGER, f_remote_trigger},
    {"template", TOP | TRIGGER, f_template},  {"component", TOP | TRIGGER, f_component},
    {"artifact", TRIGGER, f_artifact},
};

static char *form_names(unsigned kind)
{
    struct sl_str s = SL_STR_INIT;
    for (size_t i = 0; i < SL_ARRAY_LEN(forms); i++)
        if ((forms[i].kinds & kind) && !strstr(s.buf ? s.buf : "", forms[i].key))
            sl_str_addf(&s, "%s%s", s.len ? ", " : "", forms[i].key);
    return sl_str_detach(&s);
}

static void check_include_file(struct lint *l, const char *loc, const char *key,
                               const struct sl_node *v, bool list_ok)
{
    bool ok = sl_kw_is_str(v, true) && yaml_path(v->str);
    if (list_ok && v->kind == SL_NODE_SEQ) {
        ok = v->n > 0;
        for (size_t i = 0; ok && i < v->n; i++)
            ok = sl_kw_is_str(v->items[i], true) && yaml_path(v->items[i]->str);
    }
    if (!ok)
        sl_lint_error(l, v, "%s:%s config should be a path to a .yml or .yaml file%s", loc, key,
                      list_ok ? " or an array of them" : "");
}

void sl_lint_include_item(struct lint *l, const char *loc, const struct sl_node *n,
                          enum kw_include_kind kind)
{
    unsigned bit = 1u << kind;
    const struct include_form *form = NULL;
    size_t found = 0;
    const struct sl_node *v;

    if (kind == KW_INCLUDE_TOP && sl_kw_is_scalar(n)) {
        if (!sl_kw_is_str(n, true) || !yaml_path(n->str))
            sl_lint_error(l, n, "Included file `%s` does not have YAML extension!", n->str);
        return;
    }
    if (n->kind != SL_NODE_MAP) {
        sl_lint_error(l, n, "%s config should be %s", loc,
                      kind == KW_INCLUDE_TOP ? "a string or a hash" : "a hash");
        return;
    }
    for (size_t i = 0; i < SL_ARRAY_LEN(forms); i++) {
        if ((forms[i].kinds & bit) && sl_node_get_pair(n, forms[i].key)) {
            found++;
            form = &forms[i];
        }
    }
    if (found != 1) {
        char *names = form_names(bit);
        if (found == 0 && sl_node_get_pair(n, "file"))
            sl_lint_error(l, n, "%s config missing required keys: project", loc);
        else
            sl_lint_error(l, n, "%s config must use exactly one of these keys: %s", loc, names);
        free(names);
        return;
    }
    const char *allowed[8];
    size_t na = 0;
    for (const char *const *a = form->allowed; *a; a++)
        allowed[na++] = *a;
    if (kind == KW_INCLUDE_TOP)
        allowed[na++] = "rules";
    if (kind != KW_INCLUDE_SPEC)
        allowed[na++] = "inputs";
    allowed[na] = NULL;
    sl_kw_unknown_keys(l, loc, n, allowed);

    v = sl_node_get(n, form->key);
    if (!strcmp(form->key, "project")) {
        sl_lint_project_path(l, loc, v);
        if (!(v = sl_kw_val(l, n, "file")))
            sl_lint_error(l, n, "%s config missing required keys: file", loc);
        else
            check_include_file(l, loc, "file", v, kind != KW_INCLUDE_TRIGGER);
        if ((v = sl_kw_val(l, n, "ref")) &&
            !(sl_kw_is_scalar(v) && (kind != KW_INCLUDE_TRIGGER || v->str[0])))
            sl_lint_error(l, v, "%s:ref config should be a non-empty string", loc);
    } else if (!strcmp(form->key, "remote")) {
        if (!sl_kw_is_str(v, true) ||
            !(sl_starts_with(v->str, "http://") || sl_starts_with(v->str, "https://")) ||
            !yaml_path(v->str))
            sl_lint_error(l, v, "%s:remote config should be an http(s) URL of a .yml or .yaml file",
                          loc);
        if ((v = sl_kw_val(l, n, "integrity")) &&
            !(sl_kw_is_str(v, false) && sl_starts_with(v->str, "sha256-") && strlen(v->str) == 51))
            sl_lint_error(l, v, "%s:integrity config should be sha256- and a base64 SHA-256 hash",
                          loc);
        if ((v = sl_kw_val(l, n, "cache")) && !sl_kw_is_bool(v) && !sl_kw_is_str(v, true))
            sl_lint_error(l, v, "%s:cache config should be a boolean value or a duration", loc);
    } else if (!strcmp(form->key, "component")) {
        if (!sl_kw_is_str(v, true))
            sl_lint_error(l, v, "%s:component config should be a non-empty string", loc);
    } else {
        check_include_file(l, loc, form->key, v, false);
        if (!strcmp(form->key, "artifact") && !(v = sl_kw_val(l, n, "job")))
            sl_lint_error(l, n, "%s config missing required keys: job", loc);
        else if (!strcmp(form->key, "artifact") && !sl_kw_is_scalar(v))
            sl_lint_error(l, v, "%s:job config should be a string", loc);
    }
    if (kind == KW_INCLUDE_TOP && (v = sl_kw_get(n, "rules")))
        sl_lint_include_rules(l, loc, v);
    if (kind != KW_INCLUDE_SPEC && (v = sl_kw_get(n, "inputs")))
        sl_lint_inputs_values(l, loc, v);
}

void sl_lint_include(struct lint *l, const struct sl_node *n)
{
    if (n->kind == SL_NODE_SEQ) {
        for (size_t i = 0; i < n->n; i++)
            sl_lint_include_item(l, "include", n->items[i], KW_INCLUDE_TOP);
    } else if (n->kind == SL_NODE_MAP || sl_kw_is_scalar(n)) {
        sl_lint_include_item(l, "include", n, KW_INCLUDE_TOP);
    } else {
        sl_lint_error(l, n,
                      "include config should be a string, a hash or an array of strings and "
                      "hashes");
    }
}

/* --- the spec: header ----------------------------------------------------------------- */

void sl_lint_spec(struct lint *l, const struct sl_node *header)
{
    static const char *const allowed[] = {"inputs", "include", "component", "description", NULL};
    static const char *const components[] = {"name", "sha", "version", "reference", NULL};
    const struct sl_node *spec = sl_node_get(header, "spec"), *v;
    if (!spec)
        return;
    if (spec->kind != SL_NODE_MAP) {
        sl_lint_error(l, spec, "spec config should be a hash");
        return;
    }
    sl_kw_unknown_keys(l, "spec", spec, allowed);
    if ((v = sl_kw_val(l, spec, "description")) && (!sl_kw_is_scalar(v) || strlen(v->str) > 256))
        sl_lint_error(l, v, "spec:description config is too long (maximum is 256 characters)");
    if ((v = sl_kw_val(l, spec, "component"))) {
        if (v->kind != SL_NODE_SEQ) {
            sl_lint_error(l, v, "spec:component config should be an array of strings");
        } else {
            struct sl_str bad = SL_STR_INIT;
            for (size_t i = 0; i < v->n; i++) {
                const char *s = sl_node_scalar(v->items[i]);
                bool dup = false;
                for (size_t j = 0; s && j < i; j++)
                    dup = dup || !strcmp(s, v->items[j]->str);
                if (!sl_kw_one_of(s, components) || dup)
                    sl_str_addf(&bad, "%s%s", bad.len ? ", " : "", s ? s : "(not a string)");
            }
            if (bad.len)
                sl_lint_error(l, v,
                              "spec:component config contains unknown or repeated values: %s "
                              "(allowed: name, sha, version, reference)",
                              bad.buf);
            sl_str_release(&bad);
        }
    }
    if ((v = sl_kw_val(l, spec, "include"))) {
        if (v->kind != SL_NODE_SEQ)
            sl_lint_error(l, v, "spec:include config should be an array of hashes");
        else
            for (size_t i = 0; i < v->n; i++)
                sl_lint_include_item(l, "spec:include", v->items[i], KW_INCLUDE_SPEC);
    }
    if ((v = sl_kw_val(l, spec, "inputs"))) {
        if (v->kind != SL_NODE_MAP) {
            sl_lint_error(l, v, "spec:inputs config should be a hash");
        } else {
            for (size_t i = 0; i < v->n; i++) {
                char *x = sl_xasprintf("spec:inputs:%s", v->pairs[i].key);
                check_input(l, x, v->pairs[i].value, true);
                free(x);
            }
        }
    }
}
