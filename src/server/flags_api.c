/* flags_api.c: the management API of feature flags (docs/api.md, docs/feature-flags.md):
 * flags, their configuration per environment, an environment's whole state in Unleash's
 * document, Unleash tokens and GitLab's instance id. Developers read, maintainers write
 * (the route table says so).
 *
 * Whatever is stored is compiled by src/flags first, so a configuration that the engine
 * (and so an SDK) would refuse is a 400 naming its path, never a broken poll later. Every
 * change is recorded in the flag's history and in the sl_audit trail. */
#include "base/compat.h"
#include "base/alloc.h"
#include "base/time.h"
#include "server/flags_api.h"

/* Names the routes below take for themselves: a flag of that name could not be reached. */
static const char *const reserved[] = {"tokens", "unleash", "environments"};

static bool project_exists(struct req *r, struct sl_store_project *p)
{
    struct sl_error err = SL_ERROR_INIT;
    int rc = sl_store_project_get(r->s->st, r->id, p, &err);
    if (rc < 0)
        sl_reply_sl_error(r, rc, &err);
    sl_error_release(&err);
    return rc == 0;
}

static bool reply_rc(struct req *r, int rc, struct sl_error *err)
{
    if (rc < 0)
        sl_reply_sl_error(r, rc, err);
    sl_error_release(err);
    return rc == 0;
}

static json_t *parse_or_empty(const char *text)
{
    json_t *v = text ? json_loads(text, 0, NULL) : NULL;
    return v ? v : json_array();
}

static json_t *env_json(const struct sl_store_flag_env *e)
{
    return json_pack("{s:s,s:b,s:o,s:o,s:o}", "environment", e->environment, "enabled", e->enabled,
                     "strategies", parse_or_empty(e->strategies), "variants",
                     parse_or_empty(e->variants), "updated_at", sl_srv_time_json(e->updated_at));
}

static json_t *flag_json(const struct sl_store_flag *f, const struct sl_store_flag_env *envs,
                         size_t nenvs)
{
    json_t *o =
        json_pack("{s:s,s:s,s:s,s:b,s:b,s:b,s:o,s:o,s:o,s:o}", "name", f->name, "description",
                  f->description, "type", f->type, "stale", f->stale, "archived", f->archived,
                  "impression_data", f->impression_data, "dependencies",
                  parse_or_empty(f->dependencies), "tags", parse_or_empty(f->tags), "created_at",
                  sl_srv_time_json(f->created_at), "updated_at", sl_srv_time_json(f->updated_at));
    json_t *arr = json_array();
    for (size_t i = 0; i < nenvs; i++)
        if (sl_streq(envs[i].flag, f->name))
            json_array_append_new(arr, env_json(&envs[i]));
    json_object_set_new(o, "environments", arr);
    return o;
}

/* The request's actor for a flag change. */
static void actor_of(struct req *r, char *buf, size_t size, const char *action, const char *detail,
                     struct sl_store_flag_actor *by)
{
    if (r->job_id)
        snprintf(buf, size, "job:%lld", (long long)r->job_id);
    else
        snprintf(buf, size, "token:%lld", (long long)r->token.id);
    *by = (struct sl_store_flag_actor){.actor = buf,
                                       .action = action,
                                       .detail = detail,
                                       .pipeline_id = r->pipeline_id,
                                       .job_id = r->job_id};
}

/* Compiles one feature (NAME with STRATEGIES, VARIANTS, DEPENDENCIES: borrowed, any may be
 * NULL) as the engine will: false with R answered 400 when it would not compile. */
static bool compiles(struct req *r, const char *name, json_t *strategies, json_t *variants,
                     json_t *dependencies)
{
    json_t *feat = json_pack("{s:s,s:b}", "name", name, "enabled", 1);
    if (strategies)
        json_object_set(feat, "strategies", strategies);
    if (variants)
        json_object_set(feat, "variants", variants);
    if (dependencies)
        json_object_set(feat, "dependencies", dependencies);
    json_t *doc = json_pack("{s:i,s:[o],s:[]}", "version", 1, "features", feat, "segments");
    struct sl_flags_state *st = NULL;
    struct sl_error err = SL_ERROR_INIT;
    int rc = sl_flags_state_compile(&st, doc, &err);
    if (rc < 0)
        sl_reply_error(r, 400, "invalid", "%s", sl_error_format(&err));
    sl_flags_state_free(st);
    sl_error_release(&err);
    json_decref(doc);
    return rc == 0;
}

/* An array member KEY of O as text (caller frees) into *out; NULL when absent. False with
 * R answered when present but not an array. */
static bool array_text(struct req *r, const json_t *o, const char *key, char **out)
{
    const json_t *v = json_object_get(o, key);
    *out = NULL;
    if (!v || json_is_null(v))
        return true;
    if (!json_is_array(v)) {
        sl_reply_error(r, 400, "invalid", "%s must be an array", key);
        return false;
    }
    *out = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER);
    return true;
}

static bool bool_field(struct req *r, const json_t *o, const char *key, bool *out)
{
    const json_t *v = json_object_get(o, key);
    if (!v)
        return true;
    if (!json_is_boolean(v)) {
        sl_reply_error(r, 400, "invalid", "%s must be true or false", key);
        return false;
    }
    *out = json_is_true(v);
    return true;
}

static bool string_field(struct req *r, const json_t *o, const char *key, char **out)
{
    const json_t *v = json_object_get(o, key);
    if (!v)
        return true;
    if (!json_is_string(v)) {
        sl_reply_error(r, 400, "invalid", "%s must be a string", key);
        return false;
    }
    free(*out);
    *out = sl_xstrdup(json_string_value(v));
    return true;
}

/* Reads a flag's attributes from body B over F (what B lacks stays). */
static bool flag_from_body(struct req *r, const json_t *b, struct sl_store_flag *f)
{
    char *deps = NULL, *tags = NULL;
    if (!string_field(r, b, "description", &f->description) ||
        !string_field(r, b, "type", &f->type) || !bool_field(r, b, "stale", &f->stale) ||
        !bool_field(r, b, "archived", &f->archived) ||
        !bool_field(r, b, "impression_data", &f->impression_data) ||
        !array_text(r, b, "dependencies", &deps) || !array_text(r, b, "tags", &tags)) {
        free(deps);
        free(tags);
        return false;
    }
    if (deps && !compiles(r, f->name, NULL, NULL, json_object_get(b, "dependencies"))) {
        free(deps);
        free(tags);
        return false;
    }
    if (deps) {
        free(f->dependencies);
        f->dependencies = deps;
    }
    if (tags) {
        free(f->tags);
        f->tags = tags;
    }
    return true;
}

void sl_h_flags_list(struct req *r)
{
    struct sl_store_project p = {0};
    struct sl_store_flag *flags = NULL;
    struct sl_store_flag_env *envs = NULL;
    size_t n = 0, ne = 0;
    struct sl_error err = SL_ERROR_INIT;
    if (!project_exists(r, &p))
        return;
    int rc = sl_store_flag_list(r->s->st, r->id, &flags, &n, &err);
    if (rc == 0)
        rc = sl_store_flag_env_list(r->s->st, r->id, NULL, NULL, &envs, &ne, &err);
    if (reply_rc(r, rc, &err)) {
        json_t *arr = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(arr, flag_json(&flags[i], envs, ne));
        sl_reply_json(r, 200, arr);
    }
    sl_store_flags_free(flags, n);
    sl_store_flag_envs_free(envs, ne);
    sl_store_project_release(&p);
}

static void reply_flag(struct req *r, const char *name, int status)
{
    struct sl_store_flag f = {0};
    struct sl_store_flag_env *envs = NULL;
    size_t ne = 0;
    struct sl_error err = SL_ERROR_INIT;
    int rc = sl_store_flag_get(r->s->st, r->id, name, &f, &err);
    if (rc == 0)
        rc = sl_store_flag_env_list(r->s->st, r->id, name, NULL, &envs, &ne, &err);
    if (reply_rc(r, rc, &err))
        sl_reply_json(r, status, flag_json(&f, envs, ne));
    sl_store_flag_release(&f);
    sl_store_flag_envs_free(envs, ne);
}

void sl_h_flag_get(struct req *r)
{
    reply_flag(r, r->key, 200);
}

/* Sets NAME's configuration in ENV from body B (what B lacks stays as stored; `rollout`
 * makes it a gradual rollout). Answers R on failure. */
static bool env_from_body(struct req *r, const char *name, const char *env, const json_t *b,
                          const struct sl_store_flag_actor *by_in)
{
    struct sl_store_flag_env cur = {0}, *list = NULL;
    size_t n = 0;
    struct sl_error err = SL_ERROR_INIT;
    json_t *strategies = NULL, *variants = NULL;
    bool ok = false;
    int rc = sl_store_flag_env_list(r->s->st, r->id, name, NULL, &list, &n, &err);
    if (!reply_rc(r, rc, &err))
        return false;
    for (size_t i = 0; i < n; i++)
        if (sl_streq(list[i].environment, env))
            cur = list[i], list[i] = (struct sl_store_flag_env){0};
    sl_store_flag_envs_free(list, n);
    if (!cur.environment)
        cur.environment = sl_xstrdup(env);
    if (!bool_field(r, b, "enabled", &cur.enabled))
        goto out;
    strategies = json_incref(json_object_get(b, "strategies"));
    variants = json_incref(json_object_get(b, "variants"));
    const json_t *rollout = json_object_get(b, "rollout");
    if (rollout) {
        /* a rollout step: the flexibleRollout strategy gets the percentage (kept with its
         * constraints when there is one), else it becomes the only strategy */
        json_int_t pct = json_integer_value(rollout);
        if (!json_is_integer(rollout) || pct < 0 || pct > 100) {
            sl_reply_error(r, 400, "invalid", "rollout is a percentage from 0 to 100");
            goto out;
        }
        if (!strategies)
            strategies = parse_or_empty(cur.strategies);
        json_t *s, *flex = NULL;
        size_t i;
        json_array_foreach(strategies, i, s)
        {
            const char *sname = json_string_value(json_object_get(s, "name"));
            if (!flex && sname && sl_streq(sname, "flexibleRollout"))
                flex = s;
        }
        char pcts[8];
        snprintf(pcts, sizeof(pcts), "%d", (int)pct);
        if (!flex) {
            json_array_clear(strategies);
            flex = json_pack("{s:s,s:{s:s,s:s},s:[]}", "name", "flexibleRollout", "parameters",
                             "stickiness", "default", "groupId", name, "constraints");
            json_array_append_new(strategies, flex);
        }
        json_t *params = json_object_get(flex, "parameters");
        if (!json_is_object(params)) {
            params = json_object();
            json_object_set_new(flex, "parameters", params);
        }
        json_object_set_new(params, "rollout", json_string(pcts));
        if (!json_object_get(b, "enabled"))
            cur.enabled = true;
    }
    if ((strategies && !json_is_array(strategies)) || (variants && !json_is_array(variants))) {
        sl_reply_error(r, 400, "invalid", "strategies and variants must be arrays");
        goto out;
    }
    json_t *cs = strategies ? json_incref(strategies) : parse_or_empty(cur.strategies);
    json_t *cv = variants ? json_incref(variants) : parse_or_empty(cur.variants);
    bool good = compiles(r, name, cs, cv, NULL);
    json_decref(cs);
    json_decref(cv);
    if (!good)
        goto out;
    if (strategies) {
        free(cur.strategies);
        cur.strategies = json_dumps(strategies, JSON_COMPACT | JSON_PRESERVE_ORDER);
    }
    if (variants) {
        free(cur.variants);
        cur.variants = json_dumps(variants, JSON_COMPACT | JSON_PRESERVE_ORDER);
    }
    struct sl_store_flag_actor by = *by_in;
    json_t *d = json_pack("{s:b}", "enabled", cur.enabled);
    if (rollout)
        json_object_set(d, "rollout", (json_t *)rollout);
    char *detail = json_dumps(d, JSON_COMPACT);
    by.detail = detail;
    if (rollout)
        by.action = "flag.rollout";
    rc = sl_store_flag_env_set(r->s->st, r->id, name, &cur, &by, sl_time_now_ms(), &err);
    free(detail);
    if (reply_rc(r, rc, &err)) {
        char target[SRV_KEY_MAX + 32];
        snprintf(target, sizeof(target), "project:%lld", (long long)r->id);
        json_object_set_new(d, "flag", json_string(name));
        json_object_set_new(d, "environment", json_string(env));
        sl_audit(r, by.actor, by.action, target, json_incref(d));
        ok = true;
    }
    json_decref(d);
out:
    json_decref(strategies);
    json_decref(variants);
    sl_store_flag_env_release(&cur);
    return ok;
}

void sl_h_flag_create(struct req *r)
{
    struct sl_store_project p = {0};
    struct sl_store_flag f = {0};
    struct sl_error err = SL_ERROR_INIT;
    char who[48];
    struct sl_store_flag_actor by;
    json_t *b = NULL;
    if (!project_exists(r, &p) || !(b = sl_body_json(r)))
        goto out;
    const char *name = json_string_value(json_object_get(b, "name"));
    if (!name) {
        sl_reply_error(r, 400, "invalid", "a flag needs a name");
        goto out;
    }
    for (size_t i = 0; i < SL_ARRAY_LEN(reserved); i++)
        if (sl_streq(name, reserved[i])) {
            sl_reply_error(r, 400, "invalid", "'%s' is reserved by the API's routes", name);
            goto out;
        }
    f.project_id = r->id;
    f.name = sl_xstrdup(name);
    if (!flag_from_body(r, b, &f))
        goto out;
    const json_t *envs = json_object_get(b, "environments");
    if (envs && !json_is_array(envs)) {
        sl_reply_error(r, 400, "invalid", "environments must be an array");
        goto out;
    }
    actor_of(r, who, sizeof(who), "flag.create", NULL, &by);
    if (!reply_rc(r, sl_store_flag_create(r->s->st, &f, &by, sl_time_now_ms(), NULL, &err), &err))
        goto out;
    sl_srv_audit_on(r, "flag.create", "project", r->id);
    size_t i;
    json_t *e;
    json_array_foreach(envs, i, e)
    {
        const char *env = json_string_value(json_object_get(e, "environment"));
        if (!env) {
            sl_reply_error(r, 400, "invalid", "environments[%zu] needs an environment", i);
            goto out;
        }
        struct sl_store_flag_actor eb = by;
        eb.action = "flag.env.set";
        if (!env_from_body(r, f.name, env, e, &eb))
            goto out;
    }
    reply_flag(r, f.name, 201);
out:
    json_decref(b);
    sl_store_flag_release(&f);
    sl_store_project_release(&p);
}

void sl_h_flag_update(struct req *r)
{
    struct sl_store_flag f = {0};
    struct sl_error err = SL_ERROR_INIT;
    char who[48];
    struct sl_store_flag_actor by;
    json_t *b = sl_body_json(r);
    if (!b)
        return;
    if (!reply_rc(r, sl_store_flag_get(r->s->st, r->id, r->key, &f, &err), &err) ||
        !flag_from_body(r, b, &f))
        goto out;
    actor_of(r, who, sizeof(who), "flag.update", NULL, &by);
    if (!reply_rc(r, sl_store_flag_update(r->s->st, &f, &by, sl_time_now_ms(), &err), &err))
        goto out;
    sl_srv_audit_on(r, "flag.update", "project", r->id);
    reply_flag(r, f.name, 200);
out:
    json_decref(b);
    sl_store_flag_release(&f);
}

void sl_h_flag_delete(struct req *r)
{
    struct sl_error err = SL_ERROR_INIT;
    char who[48];
    struct sl_store_flag_actor by;
    actor_of(r, who, sizeof(who), "flag.delete", NULL, &by);
    if (!reply_rc(r, sl_store_flag_delete(r->s->st, r->id, r->key, &by, sl_time_now_ms(), &err),
                  &err))
        return;
    sl_srv_audit_on(r, "flag.delete", "project", r->id);
    r->status = 204;
    sl_str_reset(&r->out);
}

void sl_h_flag_env_set(struct req *r)
{
    char who[48];
    struct sl_store_flag_actor by;
    json_t *b = sl_body_json(r);
    if (!b)
        return;
    actor_of(r, who, sizeof(who), "flag.env.set", NULL, &by);
    if (env_from_body(r, r->key, r->key2, b, &by))
        reply_flag(r, r->key, 200);
    json_decref(b);
}

void sl_h_flag_history(struct req *r)
{
    struct sl_store_page page = {0};
    struct sl_store_flag_change *ch = NULL;
    size_t n = 0;
    struct sl_error err = SL_ERROR_INIT;
    if (!sl_srv_page_args(r, &page))
        return;
    int rc = sl_store_flag_change_list(r->s->st, r->id, r->key, &page, &ch, &n, &err);
    if (reply_rc(r, rc, &err)) {
        json_t *arr = json_array();
        for (size_t i = 0; i < n; i++) {
            json_t *o = json_pack("{s:I,s:s,s:s,s:o,s:s,s:s,s:o}", "id", (json_int_t)ch[i].id,
                                  "flag", ch[i].flag, "environment", ch[i].environment, "at",
                                  sl_srv_time_json(ch[i].at), "actor", ch[i].actor, "action",
                                  ch[i].action, "detail", parse_or_empty(ch[i].detail));
            json_object_set_new(o, "pipeline_id",
                                ch[i].pipeline_id ? json_integer(ch[i].pipeline_id) : json_null());
            json_object_set_new(o, "job_id",
                                ch[i].job_id ? json_integer(ch[i].job_id) : json_null());
            json_array_append_new(arr, o);
        }
        sl_reply_json(r, 200, arr);
    }
    sl_store_flag_changes_free(ch, n);
}

/* ---- an environment's whole state ---- */

void sl_h_flags_state_get(struct req *r)
{
    struct sl_store_project p = {0};
    struct sl_error err = SL_ERROR_INIT;
    json_t *doc = NULL;
    if (!project_exists(r, &p))
        return;
    if (reply_rc(r, sl_srv_flags_document(r->s, r->id, r->key2, NULL, &doc, &err), &err))
        sl_reply_json(r, 200, doc);
    sl_store_project_release(&p);
}

/* One feature of an imported document as the store's rows (strings owned by F and E). */
static bool import_feature(struct req *r, size_t i, const json_t *feat, struct sl_store_flag *f,
                           struct sl_store_flag_env *e)
{
    const char *name = json_string_value(json_object_get(feat, "name"));
    if (!name) {
        sl_reply_error(r, 400, "invalid", "features[%zu] has no name", i);
        return false;
    }
    f->project_id = r->id;
    f->name = sl_xstrdup(name);
    const char *desc = json_string_value(json_object_get(feat, "description"));
    f->description = sl_xstrdup(desc ? desc : "");
    const char *type = json_string_value(json_object_get(feat, "type"));
    f->type = type ? sl_xstrdup(type) : NULL;
    f->stale = json_is_true(json_object_get(feat, "stale"));
    f->impression_data = json_is_true(json_object_get(feat, "impressionData"));
    json_t *deps = json_object_get(feat, "dependencies");
    f->dependencies =
        json_is_array(deps) ? json_dumps(deps, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_t *tags = json_object_get(feat, "tags");
    f->tags = json_is_array(tags) ? json_dumps(tags, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    e->enabled = json_is_true(json_object_get(feat, "enabled"));
    json_t *s = json_object_get(feat, "strategies"), *v = json_object_get(feat, "variants");
    e->strategies = json_is_array(s) ? json_dumps(s, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    e->variants = json_is_array(v) ? json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    return true;
}

void sl_h_flags_state_put(struct req *r)
{
    struct sl_store_project p = {0};
    struct sl_error err = SL_ERROR_INIT;
    struct sl_flags_state *compiled = NULL;
    struct sl_store_flag *flags = NULL;
    struct sl_store_flag_env *envs = NULL;
    struct sl_store_flag_segment *segs = NULL;
    size_t nf = 0, ns = 0;
    char who[48];
    struct sl_store_flag_actor by;
    json_t *doc = NULL, *b = NULL;
    if (!project_exists(r, &p) || !(b = sl_body_json(r)))
        goto out;
    /* a delta-API event list (`{events: [...]}`) is applied to an empty document first */
    if (json_object_get(b, "events")) {
        doc = json_pack("{s:i,s:[],s:[]}", "version", 1, "features", "segments");
        if (sl_flags_delta_apply(doc, json_object_get(b, "events"), &err) < 0) {
            sl_reply_sl_error(r, SL_EINVAL, &err);
            goto out;
        }
    } else {
        doc = json_incref(b);
    }
    if (!reply_rc(r, sl_flags_state_compile(&compiled, doc, &err), &err))
        goto out;
    const json_t *features = json_object_get(doc, "features");
    const json_t *segments = json_object_get(doc, "segments");
    flags = sl_xcalloc(json_array_size(features) + 1, sizeof(*flags));
    envs = sl_xcalloc(json_array_size(features) + 1, sizeof(*envs));
    segs = sl_xcalloc(json_array_size(segments) + 1, sizeof(*segs));
    size_t i;
    json_t *v;
    json_array_foreach(features, i, v)
    {
        if (!import_feature(r, i, v, &flags[nf], &envs[nf]))
            goto out;
        nf++;
    }
    json_array_foreach(segments, i, v)
    {
        json_t *id = json_object_get(v, "id"), *c = json_object_get(v, "constraints");
        if (!json_is_integer(id)) {
            sl_reply_error(r, 400, "invalid", "segments[%zu] needs an integer id", i);
            goto out;
        }
        const char *name = json_string_value(json_object_get(v, "name"));
        segs[ns].id = json_integer_value(id);
        segs[ns].name = sl_xstrdup(name ? name : "");
        segs[ns].constraints =
            json_is_array(c) ? json_dumps(c, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
        ns++;
    }
    char *detail = sl_xasprintf("{\"features\":%zu,\"segments\":%zu}", nf, ns);
    actor_of(r, who, sizeof(who), "flag.state.import", detail, &by);
    int rc = sl_store_flag_state_replace(r->s->st, r->id, r->key2, flags, envs, nf, segs, ns, &by,
                                         sl_time_now_ms(), &err);
    free(detail);
    if (!reply_rc(r, rc, &err))
        goto out;
    char target[48];
    snprintf(target, sizeof(target), "project:%lld", (long long)r->id);
    sl_audit(r, NULL, "flag.state.import", target,
             json_pack("{s:s,s:I,s:I}", "environment", r->key2, "features", (json_int_t)nf,
                       "segments", (json_int_t)ns));
    sl_reply_json(r, 200,
                  json_pack("{s:s,s:I,s:I}", "environment", r->key2, "features", (json_int_t)nf,
                            "segments", (json_int_t)ns));
out:
    sl_store_flags_free(flags, nf);
    sl_store_flag_envs_free(envs, nf);
    sl_store_flag_segments_free(segs, ns);
    sl_flags_state_free(compiled);
    json_decref(doc);
    json_decref(b);
    sl_store_project_release(&p);
}

/* ---- tokens ---- */

static json_t *token_json(const struct sl_store_flag_token *t)
{
    return json_pack("{s:I,s:I,s:s,s:s,s:s,s:o,s:o,s:o}", "id", (json_int_t)t->id, "project_id",
                     (json_int_t)t->project_id, "type", t->type, "environment", t->environment,
                     "name", t->name, "allowed_origins", parse_or_empty(t->allowed_origins),
                     "created_at", sl_srv_time_json(t->created_at), "last_used_at",
                     sl_srv_time_json(t->last_used_at));
}

void sl_h_flag_tokens_list(struct req *r)
{
    struct sl_store_flag_token *t = NULL;
    size_t n = 0;
    struct sl_error err = SL_ERROR_INIT;
    if (reply_rc(r, sl_store_flag_token_list(r->s->st, r->id, &t, &n, &err), &err)) {
        json_t *arr = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(arr, token_json(&t[i]));
        sl_reply_json(r, 200, arr);
    }
    sl_store_flag_tokens_free(t, n);
}

void sl_h_flag_token_create(struct req *r)
{
    struct sl_store_project p = {0};
    struct sl_error err = SL_ERROR_INIT;
    char *secret = NULL, *origins = NULL;
    int64_t id = 0;
    json_t *b = NULL;
    if (!project_exists(r, &p) || !(b = sl_body_json(r)))
        goto out;
    struct sl_store_flag_token t = {0};
    t.project_id = r->id;
    t.type = (char *)json_string_value(json_object_get(b, "type"));
    t.environment = (char *)json_string_value(json_object_get(b, "environment"));
    t.name = (char *)json_string_value(json_object_get(b, "name"));
    if (!array_text(r, b, "allowed_origins", &origins))
        goto out;
    const json_t *o;
    size_t i;
    json_array_foreach(json_object_get(b, "allowed_origins"), i, o)
    {
        if (!json_is_string(o)) {
            sl_reply_error(r, 400, "invalid", "allowed_origins holds origins as strings");
            goto out;
        }
    }
    t.allowed_origins = origins;
    if (!t.environment) {
        sl_reply_error(r, 400, "invalid", "a token needs an environment");
        goto out;
    }
    if (!reply_rc(
            r,
            sl_store_flag_token_create(r->s->st, &t, p.name, sl_time_now_ms(), &secret, &id, &err),
            &err))
        goto out;
    sl_srv_audit_on(r, "flag.token.create", "project", r->id);
    t.id = id;
    t.created_at = sl_time_now_ms();
    t.name = t.name ? t.name : (char *)"";
    t.allowed_origins = origins ? origins : (char *)"[]";
    json_t *out = token_json(&t);
    json_object_set_new(out, "token", json_string(secret));
    sl_reply_json(r, 201, out);
out:
    free(secret);
    free(origins);
    json_decref(b);
    sl_store_project_release(&p);
}

void sl_h_flag_token_revoke(struct req *r)
{
    struct sl_error err = SL_ERROR_INIT;
    char *end;
    long long id = strtoll(r->key, &end, 10);
    if (*end || id <= 0) {
        sl_reply_error(r, 404, "not_found", "no feature flag token %s", r->key);
        return;
    }
    if (!reply_rc(r, sl_store_flag_token_revoke(r->s->st, r->id, id, &err), &err))
        return;
    sl_srv_audit_on(r, "flag.token.revoke", "project", r->id);
    r->status = 204;
    sl_str_reset(&r->out);
}

/* ---- GitLab's view: the API URL and instance id of a project ---- */

static void reply_unleash(struct req *r, bool reset)
{
    struct sl_store_project p = {0};
    struct sl_error err = SL_ERROR_INIT;
    char *inst = NULL;
    if (!project_exists(r, &p))
        return;
    if (reply_rc(r,
                 sl_store_flag_instance_id(r->s->st, r->id, reset, sl_time_now_ms(), &inst, &err),
                 &err)) {
        const char *host = sl_header_arg(r, "Host");
        const char *proto = sl_header_arg(r, "X-Forwarded-Proto");
        char *url = sl_xasprintf("%s://%s/api/v4/feature_flags/unleash/%lld",
                                 proto && sl_streq(proto, "https") ? "https" : "http",
                                 host && *host && !strpbrk(host, " /\\\"") ? host : r->s->address,
                                 (long long)r->id);
        if (reset)
            sl_srv_audit_on(r, "flag.instance_id.reset", "project", r->id);
        sl_reply_json(r, 200, json_pack("{s:s,s:s}", "api_url", url, "instance_id", inst));
        free(url);
    }
    free(inst);
    sl_store_project_release(&p);
}

void sl_h_flags_unleash_get(struct req *r)
{
    reply_unleash(r, false);
}

void sl_h_flags_unleash_reset(struct req *r)
{
    reply_unleash(r, true);
}
