/* api_variables.c: CI/CD variables of projects and of the instance, as GitLab's API has
 * them (docs/api.md, docs/secrets.md).
 *
 * No answer carries the value of a masked or hidden variable, the answer to its creation
 * included; a developer sees keys and attributes only, never a value. Audit events name
 * the variable and its attributes, never its value. */
#include "base/compat.h"
#include "base/alloc.h"
#include "base/time.h"
#include "exec/mask.h"
#include "expr/vars.h"
#include "server/internal.h"

#include <ctype.h>

/* 400 in GitLab's shape ({"message": {FIELD: [TEXT]}}) and sluice's ({"error": ...}). */
static void field_error(struct req *r, const char *field, const char *text)
{
    char *msg = sl_xasprintf("%s %s", field, text);
    sl_reply_json(r, 400,
                  json_pack("{s:{s:s,s:s,s:s},s:{s:[s]}}", "error", "code", "invalid", "message",
                            msg, "field", field, "message", field, text));
    free(msg);
}

static bool can_see_values(const struct req *r)
{
    return sl_server_role_rank(r->token.role) >= sl_server_role_rank("maintainer");
}

static json_t *var_json(const struct req *r, const struct sl_store_variable *v)
{
    json_t *o = json_pack("{s:s,s:s,s:b,s:b,s:b,s:b,s:s,s:s}", "variable_type", v->variable_type,
                          "key", v->key, "protected", v->protected_, "masked", v->masked, "hidden",
                          v->hidden, "raw", v->raw, "environment_scope", v->environment_scope,
                          "description", v->description);
    bool show = v->value && !v->masked && !v->hidden && can_see_values(r);
    json_object_set_new(o, "value", show ? json_string(v->value) : json_null());
    return o;
}

/* Reads a boolean field: JSON true/false or GitLab's form strings "true"/"false". -1 when
 * absent, -2 when not a boolean. */
static int get_bool(json_t *b, const char *name)
{
    json_t *v = json_object_get(b, name);
    const char *s = json_string_value(v);
    if (!v)
        return -1;
    if (json_is_boolean(v))
        return json_is_true(v);
    if (s && (sl_streq(s, "true") || sl_streq(s, "1")))
        return 1;
    if (s && (sl_streq(s, "false") || sl_streq(s, "0")))
        return 0;
    return -2;
}

/* Fills V from body B over its current attributes. Answers 400 and returns false when a
 * field is wrong. */
static bool read_body(struct req *r, json_t *b, struct sl_store_variable *v, bool creating,
                      bool *value_given)
{
    static const char *const bools[] = {"protected", "masked", "raw", "masked_and_hidden"};
    bool *dst[] = {&v->protected_, &v->masked, &v->raw, &v->hidden};
    json_t *val = json_object_get(b, "value");
    const char *type = json_string_value(json_object_get(b, "variable_type"));
    json_t *scope = json_object_get(b, "environment_scope");
    json_t *desc = json_object_get(b, "description");

    for (size_t i = 0; i < SL_ARRAY_LEN(bools); i++) {
        int x = get_bool(b, bools[i]);
        if (x == -2) {
            field_error(r, bools[i], "is invalid");
            return false;
        }
        if (x < 0)
            continue;
        if (i == 3 && !creating) {
            if ((bool)x != v->hidden) {
                field_error(r, "masked_and_hidden", "can only be set when the variable is created");
                return false;
            }
            continue;
        }
        *dst[i] = x;
    }
    if (v->hidden && !v->masked) {
        if (creating) {
            v->masked = true;
        } else {
            field_error(r, "masked", "cannot be removed from a hidden variable");
            return false;
        }
    }
    if (val && !json_is_string(val)) {
        field_error(r, "value", "is invalid");
        return false;
    }
    if (val) {
        free(v->value);
        v->value = sl_xstrdup(json_string_value(val));
        *value_given = true;
    }
    if (creating && !v->value) {
        field_error(r, "value", "is missing");
        return false;
    }
    if (v->value && strlen(v->value) > SL_STORE_VARIABLE_VALUE_MAX) {
        field_error(r, "value", "is too long (maximum is 10000 characters)");
        return false;
    }
    if (type) {
        if (!sl_streq(type, "env_var") && !sl_streq(type, "file")) {
            field_error(r, "variable_type", "does not have a valid value");
            return false;
        }
        free(v->variable_type);
        v->variable_type = sl_xstrdup(type);
    }
    if (scope) {
        const char *s = json_string_value(scope);
        if (!s || !*s || strlen(s) > 255) {
            field_error(r, "environment_scope", "is invalid");
            return false;
        }
        free(v->environment_scope);
        v->environment_scope = sl_xstrdup(s);
    }
    if (desc) {
        const char *s = json_string_value(desc);
        if (!s || strlen(s) > 255) {
            field_error(r, "description", "is too long (maximum is 255 characters)");
            return false;
        }
        free(v->description);
        v->description = sl_xstrdup(s);
    }
    if (v->masked && v->value && !sl_mask_value_ok(v->value, v->raw)) {
        field_error(r, "value", "is invalid");
        return false;
    }
    return true;
}

static json_t *audit_detail(const struct sl_store_variable *v)
{
    return json_pack("{s:s,s:s,s:b,s:b,s:b,s:b,s:s}", "key", v->key, "environment_scope",
                     v->environment_scope ? v->environment_scope : "*", "protected", v->protected_,
                     "masked", v->masked, "hidden", v->hidden, "raw", v->raw, "variable_type",
                     v->variable_type ? v->variable_type : "env_var");
}

static void audit_var(struct req *r, int64_t project_id, const char *action,
                      const struct sl_store_variable *v)
{
    char target[SRV_KEY_MAX + 64];
    if (project_id)
        snprintf(target, sizeof(target), "project:%lld/variable:%s", (long long)project_id, v->key);
    else
        snprintf(target, sizeof(target), "instance/variable:%s", v->key);
    sl_audit(r, NULL, action, target, audit_detail(v));
}

/* The project of the route exists (else 404 answered). */
static bool project_exists(struct req *r)
{
    struct sl_store_project p = {0};
    struct sl_error err = SL_ERROR_INIT;
    int rc = sl_store_project_get(r->s->st, r->id, &p, &err);
    if (rc < 0)
        sl_reply_sl_error(r, rc, &err);
    sl_store_project_release(&p);
    sl_error_release(&err);
    return rc == 0;
}

static const char *scope_filter(struct req *r)
{
    return sl_query_arg(r, "filter[environment_scope]");
}

static void list(struct req *r, int64_t project_id)
{
    struct sl_store_variable *vs = NULL;
    size_t n = 0;
    struct sl_error err = SL_ERROR_INIT;
    int rc = sl_store_variable_list(r->s->st, project_id, can_see_values(r), &vs, &n, &err);
    if (rc < 0) {
        sl_reply_sl_error(r, rc, &err);
    } else {
        json_t *a = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(a, var_json(r, &vs[i]));
        sl_reply_json(r, 200, a);
    }
    sl_store_variables_free(vs, n);
    sl_error_release(&err);
}

static void get(struct req *r, int64_t project_id)
{
    struct sl_store_variable v = {0};
    struct sl_error err = SL_ERROR_INIT;
    int rc = sl_store_variable_get(r->s->st, project_id, r->key, scope_filter(r), can_see_values(r),
                                   &v, &err);
    if (rc < 0)
        sl_reply_sl_error(r, rc, &err);
    else
        sl_reply_json(r, 200, var_json(r, &v));
    sl_store_variable_release(&v);
    sl_error_release(&err);
}

/* Answers with the stored row of KEY in SCOPE. */
static void reply_stored(struct req *r, int status, int64_t project_id, const char *key,
                         const char *scope)
{
    struct sl_store_variable got = {0};
    struct sl_error err = SL_ERROR_INIT;
    int rc = sl_store_variable_get(r->s->st, project_id, key, scope, true, &got, &err);
    if (rc < 0)
        sl_reply_sl_error(r, rc, &err);
    else
        sl_reply_json(r, status, var_json(r, &got));
    sl_store_variable_release(&got);
    sl_error_release(&err);
}

static void create(struct req *r, int64_t project_id)
{
    json_t *b = sl_body_json(r);
    struct sl_store_variable v = {0};
    struct sl_error err = SL_ERROR_INIT;
    bool given = false;
    if (!b)
        return;
    const char *key = json_string_value(json_object_get(b, "key"));
    v.project_id = project_id;
    if (!key) {
        field_error(r, "key", "is missing");
        goto out;
    }
    if (strlen(key) > SL_STORE_VARIABLE_KEY_MAX) {
        field_error(r, "key", "is too long (maximum is 255 characters)");
        goto out;
    }
    if (!sl_vars_name_ok(key)) {
        field_error(r, "key", "can contain only letters, digits and '_'.");
        goto out;
    }
    v.key = sl_xstrdup(key);
    v.variable_type = sl_xstrdup("env_var");
    v.environment_scope = sl_xstrdup("*");
    v.description = sl_xstrdup("");
    if (!read_body(r, b, &v, true, &given))
        goto out;
    int rc = sl_store_variable_create(r->s->st, &v, sl_time_now_ms(), NULL, &err);
    if (rc == SL_EEXISTS) {
        char *msg = sl_xasprintf("(%s) has already been taken", v.key);
        field_error(r, "key", msg);
        free(msg);
    } else if (rc < 0) {
        sl_reply_sl_error(r, rc, &err);
    } else {
        audit_var(r, project_id, "variable.create", &v);
        reply_stored(r, 201, project_id, v.key, v.environment_scope);
    }
out:
    sl_store_variable_release(&v);
    sl_error_release(&err);
    json_decref(b);
}

static void update(struct req *r, int64_t project_id)
{
    json_t *b = sl_body_json(r);
    struct sl_store_variable v = {0};
    struct sl_error err = SL_ERROR_INIT;
    bool given = false;
    int rc;
    if (!b)
        return;
    const char *scope = scope_filter(r);
    /* the current value is needed to check a variable that becomes masked */
    if ((rc = sl_store_variable_get(r->s->st, project_id, r->key, scope, true, &v, &err)) < 0) {
        sl_reply_sl_error(r, rc, &err);
        goto out;
    }
    char *old_scope = sl_xstrdup(v.environment_scope);
    if (read_body(r, b, &v, false, &given)) {
        char *value = v.value;
        if (!given)
            v.value = NULL; /* keep the sealed value as it is */
        rc = sl_store_variable_update(r->s->st, &v, old_scope, sl_time_now_ms(), &err);
        v.value = value;
        if (rc < 0) {
            sl_reply_sl_error(r, rc, &err);
        } else {
            audit_var(r, project_id, "variable.update", &v);
            reply_stored(r, 200, project_id, v.key, v.environment_scope);
        }
    }
    free(old_scope);
out:
    sl_store_variable_release(&v);
    sl_error_release(&err);
    json_decref(b);
}

static void delete (struct req *r, int64_t project_id)
{
    struct sl_store_variable v = {0};
    struct sl_error err = SL_ERROR_INIT;
    int rc = sl_store_variable_get(r->s->st, project_id, r->key, scope_filter(r), false, &v, &err);
    if (rc == 0)
        rc = sl_store_variable_delete(r->s->st, project_id, r->key, v.environment_scope, &err);
    if (rc < 0) {
        sl_reply_sl_error(r, rc, &err);
    } else {
        audit_var(r, project_id, "variable.delete", &v);
        r->status = 204;
        sl_str_reset(&r->out);
    }
    sl_store_variable_release(&v);
    sl_error_release(&err);
}

void sl_h_project_variables_list(struct req *r)
{
    if (project_exists(r))
        list(r, r->id);
}

void sl_h_project_variable_get(struct req *r)
{
    if (project_exists(r))
        get(r, r->id);
}

void sl_h_project_variable_create(struct req *r)
{
    if (project_exists(r))
        create(r, r->id);
}

void sl_h_project_variable_update(struct req *r)
{
    if (project_exists(r))
        update(r, r->id);
}

void sl_h_project_variable_delete(struct req *r)
{
    if (project_exists(r))
        delete (r, r->id);
}

void sl_h_admin_variables_list(struct req *r)
{
    list(r, 0);
}

void sl_h_admin_variable_get(struct req *r)
{
    get(r, 0);
}

void sl_h_admin_variable_create(struct req *r)
{
    create(r, 0);
}

void sl_h_admin_variable_update(struct req *r)
{
    update(r, 0);
}

void sl_h_admin_variable_delete(struct req *r)
{
    delete (r, 0);
}
