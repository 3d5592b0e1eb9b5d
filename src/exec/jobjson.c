/* jobjson.c: struct sl_job_spec to and from versioned JSON (jobjson.h). Encoding builds a
 * jansson tree; decoding walks one, checking each field's type and copying what it keeps
 * into the arena of the decoded spec, so the jansson tree can go at once. */
#include "exec/jobjson.h"

#include <inttypes.h>
#include <jansson.h>

#include "base/alloc.h"

/* Enum values by GitLab's spelling: one table each, index = enum value. */
static const char *const when_names[] = {"on_success", "on_failure", "always", NULL};
static const char *const policy_names[] = {"pull-push", "pull", "push", NULL};

/* --- encoding ------------------------------------------------------------------------- */

/* NAMES[V], or NAMES[0] (the default) for a value outside the table. */
static json_t *enum_json(const char *const *names, size_t n, int v)
{
    return json_string(names[v >= 0 && (size_t)v < n - 1 ? v : 0]);
}
#define ENUM_JSON(names, v) enum_json(names, sizeof(names) / sizeof(names[0]), (int)(v))

static json_t *strv_json(const char *const *v)
{
    json_t *a = json_array();
    for (size_t i = 0; v && v[i]; i++)
        json_array_append_new(a, json_string(v[i]));
    return a;
}

/* Sets KEY to a string or a list only when given, so "not given" survives a round trip. */
static void set_str(json_t *o, const char *key, const char *s)
{
    if (s)
        json_object_set_new(o, key, json_string(s));
}

static void set_strv(json_t *o, const char *key, const char *const *v)
{
    if (v)
        json_object_set_new(o, key, strv_json(v));
}

static json_t *image_json(const struct sl_job_image *im)
{
    json_t *o = json_object();
    set_str(o, "name", im->name);
    set_strv(o, "entrypoint", im->entrypoint);
    set_strv(o, "pull_policy", im->pull_policy);
    set_strv(o, "alias", im->alias);
    set_strv(o, "command", im->command);
    set_strv(o, "variables", im->variables);
    set_str(o, "platform", im->platform);
    set_str(o, "user", im->user);
    return o;
}

static json_t *select_json(json_t *o, const struct sl_artifacts_select *sel)
{
    set_strv(o, "paths", sel->paths);
    set_strv(o, "exclude", sel->exclude);
    json_object_set_new(o, "untracked", json_boolean(sel->untracked));
    return o;
}

static json_t *cache_json(const struct sl_cache_spec *c)
{
    json_t *o = select_json(json_object(), &c->select);
    set_str(o, "key", c->key);
    set_strv(o, "key_files", c->key_files);
    set_str(o, "key_prefix", c->key_prefix);
    set_strv(o, "fallback_keys", c->fallback_keys);
    json_object_set_new(o, "policy", ENUM_JSON(policy_names, c->policy));
    json_object_set_new(o, "when", ENUM_JSON(when_names, c->when));
    json_object_set_new(o, "max_bytes", json_integer(c->max_bytes));
    return o;
}

int sl_job_json_encode_tree(json_t **out, const struct sl_job_spec *spec, struct sl_error *err)
{
    *out = NULL;
    const struct sl_exec_spec *x = &spec->exec;
    if (!x->script || !x->script[0])
        return sl_error_set(err, SL_EINVAL, "job json: job %s has no script",
                            x->name ? x->name : "(unnamed)");
    json_t *o = json_object();
    json_object_set_new(o, "version", json_integer(SL_JOB_JSON_VERSION));
    set_str(o, "name", x->name);
    set_strv(o, "before_script", x->before_script);
    set_strv(o, "script", x->script);
    set_strv(o, "after_script", x->after_script);
    set_strv(o, "env", x->env);
    json_object_set_new(o, "timeout_ms", json_integer(x->timeout_ms));
    json_object_set_new(o, "after_script_timeout_ms", json_integer(x->after_script_timeout_ms));
    json_object_set_new(o, "kill_grace_ms", json_integer(x->kill_grace_ms));
    set_str(o, "shell", x->shell);
    set_str(o, "project_dir", spec->project_dir);
    set_str(o, "workspace", spec->workspace);

    json_t *srcs = json_array();
    for (size_t i = 0; i < spec->nsources; i++) {
        const struct sl_job_source *s = &spec->sources[i];
        json_t *so = json_object();
        set_str(so, "name", s->name);
        set_str(so, "store_dir", s->store_dir);
        json_object_set_new(so, "job_id", json_integer(s->job_id));
        json_array_append_new(srcs, so);
    }
    json_object_set_new(o, "sources", srcs);

    json_t *caches = json_array();
    for (size_t i = 0; i < spec->ncaches; i++)
        json_array_append_new(caches, cache_json(&spec->caches[i]));
    json_object_set_new(o, "caches", caches);
    set_str(o, "cache_dir", spec->cache_dir);

    if (spec->has_artifacts) {
        json_t *a = select_json(json_object(), &spec->artifacts.select);
        set_str(a, "name", spec->artifacts.name);
        json_object_set_new(a, "expire_in_s", json_integer(spec->artifacts.expire_in_s));
        json_object_set_new(a, "max_bytes", json_integer(spec->artifacts.max_bytes));
        json_object_set_new(a, "when", ENUM_JSON(when_names, spec->artifacts_when));
        json_object_set_new(o, "artifacts", a);
    }
    set_str(o, "artifacts_dir", spec->artifacts_dir);

    set_strv(o, "dotenv", spec->dotenv);
    set_strv(o, "junit", spec->junit);
    set_str(o, "coverage", spec->coverage);

    if (spec->image)
        json_object_set_new(o, "image", image_json(spec->image));
    json_t *svcs = json_array();
    for (size_t i = 0; i < spec->nservices; i++)
        json_array_append_new(svcs, image_json(&spec->services[i]));
    json_object_set_new(o, "services", svcs);

    json_t *vars = json_array();
    for (size_t i = 0; i < spec->nvariables; i++) {
        const struct sl_job_var *v = &spec->variables[i];
        json_array_append_new(vars, json_pack("{s:s,s:s,s:b}", "key", v->key ? v->key : "", "value",
                                              v->value ? v->value : "", "raw", v->raw));
    }
    json_object_set_new(o, "variables", vars);
    set_strv(o, "tags", spec->tags);
    *out = o;
    return 0;
}

int sl_job_json_encode(char **out, const struct sl_job_spec *spec, struct sl_error *err)
{
    json_t *o;
    *out = NULL;
    int rc = sl_job_json_encode_tree(&o, spec, err);
    if (rc < 0)
        return rc;
    *out = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (!*out)
        return sl_error_set(err, SL_EIO, "job json: cannot encode job");
    return 0;
}

/* --- decoding ------------------------------------------------------------------------- */

struct dec {
    struct sl_arena *a;
    struct sl_error *err;
};

static int bad(struct dec *d, const char *where, const char *key, const char *what)
{
    return sl_error_set(d->err, SL_EINVAL, "job json: %s%s%s: %s", where, *where ? "." : "", key,
                        what);
}

/* Each getter leaves *OUT alone when KEY is absent or null. */
static int get_str(struct dec *d, json_t *o, const char *where, const char *key, const char **out)
{
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v))
        return bad(d, where, key, "expected a string");
    *out = sl_arena_strndup(d->a, json_string_value(v), json_string_length(v));
    return 0;
}

static int get_strv(struct dec *d, json_t *o, const char *where, const char *key,
                    const char *const **out)
{
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_array(v))
        return bad(d, where, key, "expected a list of strings");
    size_t n = json_array_size(v);
    if (n > SL_JOB_JSON_MAX_LIST)
        return sl_error_set(d->err, SL_ELIMIT, "job json: %s: more than %d entries", key,
                            SL_JOB_JSON_MAX_LIST);
    const char **list = sl_arena_alloc(d->a, (n + 1) * sizeof(*list));
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(v, i);
        if (!json_is_string(e))
            return bad(d, where, key, "expected a list of strings");
        list[i] = sl_arena_strndup(d->a, json_string_value(e), json_string_length(e));
    }
    *out = list;
    return 0;
}

static int get_int(struct dec *d, json_t *o, const char *where, const char *key, int64_t *out)
{
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_integer(v))
        return bad(d, where, key, "expected an integer");
    *out = json_integer_value(v);
    return 0;
}

static int get_bool(struct dec *d, json_t *o, const char *where, const char *key, bool *out)
{
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_boolean(v))
        return bad(d, where, key, "expected true or false");
    *out = json_is_true(v);
    return 0;
}

/* An enum by its name in NAMES; *OUT is the index. */
static int get_enum(struct dec *d, json_t *o, const char *where, const char *key,
                    const char *const *names, int *out)
{
    const char *s = NULL;
    if (get_str(d, o, where, key, &s) < 0)
        return -1;
    if (!s)
        return 0;
    for (int i = 0; names[i]; i++)
        if (strcmp(names[i], s) == 0) {
            *out = i;
            return 0;
        }
    return bad(d, where, key, "unknown value");
}

/* A list of objects: *N entries of SIZE bytes, each filled by FN. */
typedef int (*obj_fn)(struct dec *d, json_t *o, const char *where, void *item);

static int get_objs(struct dec *d, json_t *o, const char *key, size_t size, obj_fn fn, void **out,
                    size_t *n)
{
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_array(v))
        return bad(d, "", key, "expected a list of objects");
    size_t count = json_array_size(v);
    if (count > SL_JOB_JSON_MAX_LIST)
        return sl_error_set(d->err, SL_ELIMIT, "job json: %s: more than %d entries", key,
                            SL_JOB_JSON_MAX_LIST);
    char *items = sl_arena_alloc(d->a, (count + 1) * size);
    for (size_t i = 0; i < count; i++) {
        json_t *e = json_array_get(v, i);
        char where[64];
        snprintf(where, sizeof(where), "%s[%zu]", key, i);
        if (!json_is_object(e))
            return sl_error_set(d->err, SL_EINVAL, "job json: %s: expected an object", where);
        if (fn(d, e, where, items + i * size) < 0)
            return -1;
    }
    *out = items;
    *n = count;
    return 0;
}

static int dec_select(struct dec *d, json_t *o, const char *where, struct sl_artifacts_select *sel)
{
    if (get_strv(d, o, where, "paths", &sel->paths) < 0 ||
        get_strv(d, o, where, "exclude", &sel->exclude) < 0 ||
        get_bool(d, o, where, "untracked", &sel->untracked) < 0)
        return -1;
    return 0;
}

static int dec_image(struct dec *d, json_t *o, const char *where, void *item)
{
    struct sl_job_image *im = item;
    if (get_str(d, o, where, "name", &im->name) < 0 ||
        get_strv(d, o, where, "entrypoint", &im->entrypoint) < 0 ||
        get_strv(d, o, where, "pull_policy", &im->pull_policy) < 0 ||
        get_strv(d, o, where, "alias", &im->alias) < 0 ||
        get_strv(d, o, where, "command", &im->command) < 0 ||
        get_strv(d, o, where, "variables", &im->variables) < 0 ||
        get_str(d, o, where, "platform", &im->platform) < 0 ||
        get_str(d, o, where, "user", &im->user) < 0)
        return -1;
    if (!im->name)
        return bad(d, where, "name", "missing");
    return 0;
}

static int dec_source(struct dec *d, json_t *o, const char *where, void *item)
{
    struct sl_job_source *s = item;
    if (get_str(d, o, where, "name", &s->name) < 0 ||
        get_str(d, o, where, "store_dir", &s->store_dir) < 0 ||
        get_int(d, o, where, "job_id", &s->job_id) < 0)
        return -1;
    return 0;
}

static int dec_var(struct dec *d, json_t *o, const char *where, void *item)
{
    struct sl_job_var *v = item;
    if (get_str(d, o, where, "key", &v->key) < 0 || get_str(d, o, where, "value", &v->value) < 0 ||
        get_bool(d, o, where, "raw", &v->raw) < 0)
        return -1;
    if (!v->key || !*v->key)
        return bad(d, where, "key", "missing");
    if (!v->value)
        v->value = "";
    return 0;
}

static int dec_cache(struct dec *d, json_t *o, const char *where, void *item)
{
    struct sl_cache_spec *c = item;
    *c = (struct sl_cache_spec)SL_CACHE_SPEC_INIT;
    int policy = 0, when = 0;
    if (dec_select(d, o, where, &c->select) < 0 || get_str(d, o, where, "key", &c->key) < 0 ||
        get_strv(d, o, where, "key_files", &c->key_files) < 0 ||
        get_str(d, o, where, "key_prefix", &c->key_prefix) < 0 ||
        get_strv(d, o, where, "fallback_keys", &c->fallback_keys) < 0 ||
        get_enum(d, o, where, "policy", policy_names, &policy) < 0 ||
        get_enum(d, o, where, "when", when_names, &when) < 0 ||
        get_int(d, o, where, "max_bytes", &c->max_bytes) < 0)
        return -1;
    c->policy = (enum sl_cache_policy)policy;
    c->when = (enum sl_cache_when)when;
    return 0;
}

static int dec_artifacts(struct dec *d, json_t *o, struct sl_job_spec *spec)
{
    json_t *a = json_object_get(o, "artifacts");
    if (!a || json_is_null(a))
        return 0;
    if (!json_is_object(a))
        return bad(d, "", "artifacts", "expected an object");
    const char *w = "artifacts";
    int when = 0;
    if (dec_select(d, a, w, &spec->artifacts.select) < 0 ||
        get_str(d, a, w, "name", &spec->artifacts.name) < 0 ||
        get_int(d, a, w, "expire_in_s", &spec->artifacts.expire_in_s) < 0 ||
        get_int(d, a, w, "max_bytes", &spec->artifacts.max_bytes) < 0 ||
        get_enum(d, a, w, "when", when_names, &when) < 0)
        return -1;
    spec->artifacts_when = (enum sl_job_artifacts_when)when;
    spec->has_artifacts = true;
    return 0;
}

static int dec_root(struct dec *d, json_t *o, struct sl_job_spec *spec)
{
    json_t *ver = json_object_get(o, "version");
    if (!json_is_integer(ver) || json_integer_value(ver) < 1)
        return sl_error_set(d->err, SL_EUNSUPPORTED, "job json: no version");
    if (json_integer_value(ver) > SL_JOB_JSON_VERSION)
        return sl_error_set(d->err, SL_EUNSUPPORTED,
                            "job json: version %" PRId64 " is newer than this runner's (%d)",
                            (int64_t)json_integer_value(ver), SL_JOB_JSON_VERSION);
    struct sl_exec_spec *x = &spec->exec;
    struct sl_job_image *image = NULL;
    if (get_str(d, o, "", "name", &x->name) < 0 ||
        get_strv(d, o, "", "before_script", &x->before_script) < 0 ||
        get_strv(d, o, "", "script", &x->script) < 0 ||
        get_strv(d, o, "", "after_script", &x->after_script) < 0 ||
        get_strv(d, o, "", "env", &x->env) < 0 ||
        get_int(d, o, "", "timeout_ms", &x->timeout_ms) < 0 ||
        get_int(d, o, "", "after_script_timeout_ms", &x->after_script_timeout_ms) < 0 ||
        get_int(d, o, "", "kill_grace_ms", &x->kill_grace_ms) < 0 ||
        get_str(d, o, "", "shell", &x->shell) < 0 ||
        get_str(d, o, "", "project_dir", &spec->project_dir) < 0 ||
        get_str(d, o, "", "workspace", &spec->workspace) < 0 ||
        get_objs(d, o, "sources", sizeof(struct sl_job_source), dec_source, (void **)&spec->sources,
                 &spec->nsources) < 0 ||
        get_objs(d, o, "caches", sizeof(struct sl_cache_spec), dec_cache, (void **)&spec->caches,
                 &spec->ncaches) < 0 ||
        get_str(d, o, "", "cache_dir", &spec->cache_dir) < 0 || dec_artifacts(d, o, spec) < 0 ||
        get_str(d, o, "", "artifacts_dir", &spec->artifacts_dir) < 0 ||
        get_strv(d, o, "", "dotenv", &spec->dotenv) < 0 ||
        get_strv(d, o, "", "junit", &spec->junit) < 0 ||
        get_str(d, o, "", "coverage", &spec->coverage) < 0 ||
        get_objs(d, o, "services", sizeof(struct sl_job_image), dec_image, (void **)&spec->services,
                 &spec->nservices) < 0 ||
        get_objs(d, o, "variables", sizeof(struct sl_job_var), dec_var, (void **)&spec->variables,
                 &spec->nvariables) < 0 ||
        get_strv(d, o, "", "tags", &spec->tags) < 0)
        return -1;
    json_t *im = json_object_get(o, "image");
    if (im && !json_is_null(im)) {
        if (!json_is_object(im))
            return bad(d, "", "image", "expected an object");
        image = sl_arena_alloc(d->a, sizeof(struct sl_job_image));
        if (dec_image(d, im, "image", image) < 0)
            return -1;
        spec->image = image;
    }
    if (!x->script || !x->script[0])
        return bad(d, "", "script", "missing or empty");
    return 0;
}

static void decoded_init(struct sl_job_decoded *out)
{
    memset(out, 0, sizeof(*out));
    out->arena = (struct sl_arena)SL_ARENA_INIT;
    sl_exec_spec_init(&out->spec.exec);
}

static int decode_object(struct sl_job_decoded *out, const json_t *o, struct sl_error *err)
{
    if (!json_is_object(o))
        return sl_error_set(err, SL_EINVAL, "job json: expected an object");
    struct dec d = {&out->arena, err};
    return dec_root(&d, (json_t *)o, &out->spec) < 0 ? (err && err->code ? err->code : SL_EINVAL)
                                                     : 0;
}

int sl_job_json_decode(struct sl_job_decoded *out, const char *text, size_t len,
                       struct sl_error *err)
{
    decoded_init(out);
    if (len > SL_JOB_JSON_MAX_BYTES)
        return sl_error_set(err, SL_ELIMIT, "job json: %zu bytes, over the %d-byte cap", len,
                            SL_JOB_JSON_MAX_BYTES);
    json_error_t je;
    json_t *o = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (!o)
        return sl_error_set(err, SL_EINVAL, "job json: line %d column %d: %s", je.line, je.column,
                            je.text);
    int rc = decode_object(out, o, err);
    json_decref(o);
    return rc;
}

int sl_job_json_decode_tree(struct sl_job_decoded *out, const json_t *o, struct sl_error *err)
{
    decoded_init(out);
    return decode_object(out, o, err);
}

void sl_job_decoded_release(struct sl_job_decoded *d)
{
    sl_arena_release(&d->arena);
    memset(&d->spec, 0, sizeof(d->spec));
}
