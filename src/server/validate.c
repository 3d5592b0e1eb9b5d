/* validate.c: the request tables of the routes (validate.h) and their one validator. The
 * limits are the ones docs/api.md documents ("Limits of request fields"). */
#include "base/compat.h"
#include "server/validate.h"
#include "base/str.h"
#include "base/suggest.h"
#include "server/internal.h"

#include <jansson.h>
#include <microhttpd.h>
#include <strings.h>

enum {
    NAME_MAX_LEN = 255,         /* names of tokens, runners, flags, environments, refs */
    PROJECT_NAME_MAX_LEN = 200, /* a project's name is a path segment of its URLs */
    URL_MAX_LEN = 4096,
    REF_MAX_LEN = 255,
    SECRET_MAX_LEN = 256,
    DESC_MAX_LEN = 255,
};

/* GitLab's statuses of pipelines and jobs (Ci::HasStatus::AVAILABLE_STATUSES), and of
 * deployments (Deployment's state machine) */
static const char *const pipeline_statuses[] = {"created",   "waiting_for_resource",
                                                "preparing", "pending",
                                                "running",   "success",
                                                "failed",    "canceling",
                                                "canceled",  "skipped",
                                                "manual",    "scheduled",
                                                NULL};
static const char *const deployment_statuses[] = {"created",  "running", "success", "failed",
                                                  "canceled", "skipped", "blocked", NULL};

#define F(...) ((const struct srv_field[]){__VA_ARGS__})
#define FIELDS(...) .fields = F(__VA_ARGS__), .nfields = SL_ARRAY_LEN(F(__VA_ARGS__))

static const struct srv_field project_fields[] = {
    {"name", SRV_F_STRING, PROJECT_NAME_MAX_LEN, false},
    {"repo_url", SRV_F_STRING, URL_MAX_LEN, false},
    {"default_branch", SRV_F_STRING, REF_MAX_LEN, false},
    {"webhook_secret", SRV_F_STRING, SECRET_MAX_LEN, false},
    {"poll_interval_s", SRV_F_INT, 0, false},
    {"ci_forward_deployment_enabled", SRV_F_BOOL, 0, false},
    {"fork_pipelines_need_approval", SRV_F_BOOL, 0, false},
};
/* GitLab's variable attributes; the value's and description's limits are the handler's,
 * which answers them in GitLab's {"message": {FIELD: [...]}} shape */
static const struct srv_field variable_fields[] = {
    {"key", SRV_F_STRING, 0, false},
    {"value", SRV_F_STRING, 0, false},
    {"variable_type", SRV_F_STRING, 0, false},
    {"protected", SRV_F_FLAG, 0, false},
    {"masked", SRV_F_FLAG, 0, false},
    {"raw", SRV_F_FLAG, 0, false},
    {"masked_and_hidden", SRV_F_FLAG, 0, false},
    {"environment_scope", SRV_F_STRING, 0, false},
    {"description", SRV_F_STRING, 0, true},
};
static const struct srv_field freeze_fields[] = {
    {"freeze_start", SRV_F_STRING, NAME_MAX_LEN, false},
    {"freeze_end", SRV_F_STRING, NAME_MAX_LEN, false},
    {"cron_timezone", SRV_F_STRING, NAME_MAX_LEN, false},
};
static const struct srv_field protected_ref_fields[] = {{"name", SRV_F_STRING, REF_MAX_LEN, false}};
static const struct srv_field flag_fields[] = {
    {"name", SRV_F_STRING, NAME_MAX_LEN, false}, {"description", SRV_F_STRING, DESC_MAX_LEN, true},
    {"type", SRV_F_STRING, NAME_MAX_LEN, true},  {"stale", SRV_F_BOOL, 0, false},
    {"archived", SRV_F_BOOL, 0, false},          {"impression_data", SRV_F_BOOL, 0, false},
    {"dependencies", SRV_F_ARRAY, 0, true},      {"tags", SRV_F_ARRAY, 0, true},
    {"environments", SRV_F_ARRAY, 0, true},
};

#define NO_BODY .fields = NULL, .nfields = 0

const struct srv_request_spec sl_srv_request_specs[] = {
    {"POST", "/api/v1/projects", .fields = project_fields, .nfields = SL_ARRAY_LEN(project_fields)},
    {"PUT", "/api/v1/projects/{id}", .fields = project_fields,
     .nfields = SL_ARRAY_LEN(project_fields)},
    {"POST", "/api/v1/projects/{id}/pipelines",
     FIELDS({"ref", SRV_F_STRING, REF_MAX_LEN, false}, {"variables", SRV_F_STRING_MAP, 0, true},
            {"inputs", SRV_F_OBJECT, 0, true})},
    {"GET", "/api/v1/projects/{id}/pipelines", NO_BODY, .statuses = pipeline_statuses},
    {"GET", "/api/v1/pipelines/{id}", NO_BODY, .statuses = pipeline_statuses}, /* ?wait&status */
    {"POST", "/api/v1/pipelines/{id}/cancel", NO_BODY},
    {"POST", "/api/v1/pipelines/{id}/retry", NO_BODY},
    {"POST", "/api/v1/pipelines/{id}/approve", NO_BODY},
    {"POST", "/api/v1/jobs/{id}/play", NO_BODY},
    {"POST", "/api/v1/jobs/{id}/retry", NO_BODY},
    {"POST", "/api/v1/jobs/{id}/cancel", NO_BODY},
    {"POST", "/api/v1/environments/{id}/stop", NO_BODY},
    {"POST", "/api/v1/environments/{id}/rollback", FIELDS({"deployment_id", SRV_F_INT, 0, true})},
    {"GET", "/api/v1/environments/{id}/deployments", NO_BODY, .statuses = deployment_statuses},
    {"POST", "/api/v1/deployments/{id}/approve", FIELDS({"comment", SRV_F_STRING, 0, false})},
    {"POST", "/api/v1/deployments/{id}/reject", FIELDS({"comment", SRV_F_STRING, 0, false})},
    {"POST", "/api/v1/projects/{id}/protected_environments",
     FIELDS({"name", SRV_F_STRING, NAME_MAX_LEN, false},
            {"deploy_role", SRV_F_STRING, NAME_MAX_LEN, false},
            {"deploy_tokens", SRV_F_ARRAY, 100, false},
            {"required_approval_count", SRV_F_INT, 0, false})},
    {"PUT", "/api/v1/projects/{id}/resource_groups/{group}",
     FIELDS({"process_mode", SRV_F_STRING, NAME_MAX_LEN, false})},
    {"POST", "/api/v1/projects/{id}/freeze_periods", .fields = freeze_fields,
     .nfields = SL_ARRAY_LEN(freeze_fields)},
    {"PUT", "/api/v1/freeze_periods/{id}", .fields = freeze_fields,
     .nfields = SL_ARRAY_LEN(freeze_fields)},
    {"POST", "/api/v1/projects/{id}/protected_branches", .fields = protected_ref_fields,
     .nfields = SL_ARRAY_LEN(protected_ref_fields)},
    {"POST", "/api/v1/projects/{id}/protected_tags", .fields = protected_ref_fields,
     .nfields = SL_ARRAY_LEN(protected_ref_fields)},
    {"POST", "/api/v1/lint", NO_BODY, .raw = true}, /* the body is the YAML */
    /* a cross-origin HTML form cannot send JSON without a CORS preflight this server never
     * grants: so no other site can sign a browser in with its own token */
    {"POST", "/api/v1/session", FIELDS({"token", SRV_F_STRING, NAME_MAX_LEN, false}),
     .json_only = true},
    {"POST", "/api/v1/tokens",
     FIELDS({"name", SRV_F_STRING, NAME_MAX_LEN, false}, {"role", SRV_F_STRING, 0, false},
            {"expires_at", SRV_F_STRING, NAME_MAX_LEN, true},
            {"expires_in", SRV_F_INT_OR_STRING, NAME_MAX_LEN, true})},
    {"POST", "/api/v1/projects/{id}/variables", .fields = variable_fields,
     .nfields = SL_ARRAY_LEN(variable_fields)},
    {"PUT", "/api/v1/projects/{id}/variables/{key}", .fields = variable_fields,
     .nfields = SL_ARRAY_LEN(variable_fields)},
    {"POST", "/api/v1/admin/variables", .fields = variable_fields,
     .nfields = SL_ARRAY_LEN(variable_fields)},
    {"PUT", "/api/v1/admin/variables/{key}", .fields = variable_fields,
     .nfields = SL_ARRAY_LEN(variable_fields)},
    /* an Unleash document (or {events: [...]}): sl_flags_state_compile checks its schema */
    {"PUT", "/api/v1/projects/{id}/feature_flags/environments/{env}/state",
     FIELDS({"events", SRV_F_ARRAY, 0, true}), .open = true},
    {"POST", "/api/v1/projects/{id}/feature_flags/tokens",
     FIELDS({"name", SRV_F_STRING, NAME_MAX_LEN, false}, {"type", SRV_F_STRING, 0, false},
            {"environment", SRV_F_STRING, NAME_MAX_LEN, false},
            {"allowed_origins", SRV_F_STRING_ARRAY, 0, true})},
    {"POST", "/api/v1/projects/{id}/feature_flags/unleash/reset", NO_BODY},
    {"POST", "/api/v1/projects/{id}/feature_flags", .fields = flag_fields,
     .nfields = SL_ARRAY_LEN(flag_fields)},
    {"PUT", "/api/v1/projects/{id}/feature_flags/{name}", .fields = flag_fields,
     .nfields = SL_ARRAY_LEN(flag_fields)},
    /* an environment's strategies and variants, in Unleash's shape, checked by the handler */
    {"PUT", "/api/v1/projects/{id}/feature_flags/{name}/environments/{env}",
     FIELDS({"enabled", SRV_F_BOOL, 0, false}, {"strategies", SRV_F_ARRAY, 0, true},
            {"variants", SRV_F_ARRAY, 0, true}),
     .open = true},
    {"POST", "/api/v1/runners",
     FIELDS({"name", SRV_F_STRING, NAME_MAX_LEN, false},
            {"description", SRV_F_STRING, DESC_MAX_LEN, true},
            {"tags", SRV_F_STRING_ARRAY, 0, true}, {"run_untagged", SRV_F_BOOL, 0, false},
            {"locked", SRV_F_BOOL, 0, false}, {"paused", SRV_F_BOOL, 0, false})},
    {"PUT", "/api/v1/projects/{id}/forge",
     FIELDS({"kind", SRV_F_STRING, NAME_MAX_LEN, false}, {"api_url", SRV_F_STRING, 2048, false},
            {"repository", SRV_F_STRING, 1024, false}, {"token", SRV_F_STRING, 0, false},
            {"per_job", SRV_F_BOOL, 0, false})},
    {"POST", "/api/v1/projects/{id}/notifications",
     FIELDS({"channel", SRV_F_STRING, NAME_MAX_LEN, false}, {"target", SRV_F_STRING, 2048, false},
            {"events", SRV_F_STRING_ARRAY, 0, false}, {"refs", SRV_F_STRING, NAME_MAX_LEN, false},
            {"secret", SRV_F_STRING, 4096, false})},
    {"POST", "/api/v1/projects/{id}/notifications/test", NO_BODY},
    {"PUT", "/api/v1/projects/{id}/secret_detection",
     FIELDS({"policy", SRV_F_STRING, NAME_MAX_LEN, false})},
    {"POST", "/api/v1/runners/{id}/pause", NO_BODY},
    {"POST", "/api/v1/runners/{id}/resume", NO_BODY},
};
const size_t sl_srv_nrequest_specs = SL_ARRAY_LEN(sl_srv_request_specs);

const struct srv_request_spec *sl_srv_request_spec_of(const struct route *rt)
{
    for (size_t i = 0; i < sl_srv_nrequest_specs; i++)
        if (!strcmp(sl_srv_request_specs[i].method, rt->method) &&
            !strcmp(sl_srv_request_specs[i].pattern, rt->pattern))
            return &sl_srv_request_specs[i];
    return NULL;
}

static const char *type_name(enum srv_field_type t)
{
    switch (t) {
    case SRV_F_STRING:
        return "a string";
    case SRV_F_INT:
        return "an integer";
    case SRV_F_BOOL:
        return "true or false";
    case SRV_F_FLAG:
        return "true or false (or \"true\", \"false\")";
    case SRV_F_OBJECT:
        return "an object";
    case SRV_F_STRING_MAP:
        return "an object of strings";
    case SRV_F_ARRAY:
        return "an array";
    case SRV_F_STRING_ARRAY:
        return "an array of strings";
    case SRV_F_INT_OR_STRING:
        return "an integer or a string";
    }
    return "?";
}

static bool is_flag(const json_t *v)
{
    static const char *const forms[] = {"true", "false", "1", "0", NULL};
    if (json_is_boolean(v))
        return true;
    for (const char *const *f = forms; json_is_string(v) && *f; f++)
        if (!strcmp(json_string_value(v), *f))
            return true;
    return false;
}

/* Whether V has F's type; for a string map, *BAD is the member that is not a string. */
static bool type_ok(const struct srv_field *f, json_t *v, const char **bad)
{
    const char *k;
    json_t *x;
    size_t i;
    switch (f->type) {
    case SRV_F_STRING:
        return json_is_string(v);
    case SRV_F_INT:
        return json_is_integer(v);
    case SRV_F_BOOL:
        return json_is_boolean(v);
    case SRV_F_FLAG:
        return is_flag(v);
    case SRV_F_OBJECT:
        return json_is_object(v);
    case SRV_F_STRING_MAP:
        if (!json_is_object(v))
            return false;
        json_object_foreach(v, k, x)
        {
            if (!json_is_string(x)) {
                *bad = k;
                return false;
            }
        }
        return true;
    case SRV_F_ARRAY:
        return json_is_array(v);
    case SRV_F_STRING_ARRAY:
        if (!json_is_array(v))
            return false;
        json_array_foreach(v, i, x)
        {
            if (!json_is_string(x))
                return false;
        }
        return true;
    case SRV_F_INT_OR_STRING:
        return json_is_integer(v) || json_is_string(v);
    }
    return false;
}

static size_t size_of(json_t *v)
{
    return json_is_string(v)   ? json_string_length(v)
           : json_is_array(v)  ? json_array_size(v)
           : json_is_object(v) ? json_object_size(v)
                               : 0;
}

static void unknown_field(struct req *r, const struct srv_request_spec *spec, const char *k)
{
    struct sl_suggest sg;
    struct sl_str all = SL_STR_INIT;
    sl_suggest_init(&sg, k);
    for (size_t i = 0; i < spec->nfields; i++) {
        sl_suggest_try(&sg, spec->fields[i].name);
        sl_str_addf(&all, "%s%s", i ? ", " : "", spec->fields[i].name);
    }
    if (!spec->nfields)
        sl_reply_error(r, 400, "invalid", "unknown field '%s': this route takes no body fields", k);
    else if (sg.best)
        sl_reply_error(r, 400, "invalid", "unknown field '%s'; did you mean '%s'? (fields: %s)", k,
                       sg.best, all.buf);
    else
        sl_reply_error(r, 400, "invalid", "unknown field '%s' (fields: %s)", k, all.buf);
    sl_str_release(&all);
}

static bool check_body(struct req *r, const struct srv_request_spec *spec)
{
    const char *ct = sl_header_arg(r, MHD_HTTP_HEADER_CONTENT_TYPE);
    if (spec->json_only && (!ct || strncasecmp(ct, "application/json", 16) != 0)) {
        sl_reply_error(r, 415, "unsupported_media_type", "the body must be application/json");
        return false;
    }
    if (spec->raw || r->body_len == 0 || r->upload)
        return true;
    json_t *b = sl_body_json(r); /* answers 400 itself for what is not a JSON object */
    if (!b)
        return false;
    bool ok = true;
    const char *k;
    json_t *v;
    json_object_foreach(b, k, v)
    {
        const struct srv_field *f = NULL;
        for (size_t i = 0; i < spec->nfields && !f; i++)
            if (!strcmp(spec->fields[i].name, k))
                f = &spec->fields[i];
        if (!f) {
            if (spec->open)
                continue;
            unknown_field(r, spec, k);
            ok = false;
            break;
        }
        if (json_is_null(v) && f->nullable)
            continue;
        const char *bad = NULL;
        if (!type_ok(f, v, &bad)) {
            if (bad)
                sl_reply_error(r, 400, "invalid", "%s.%s must be a string", k, bad);
            else
                sl_reply_error(r, 400, "invalid", "%s must be %s", k, type_name(f->type));
            ok = false;
            break;
        }
        if (f->max && size_of(v) > f->max) {
            sl_reply_error(r, 400, "invalid", "%s is too long (at most %zu %s)", k, f->max,
                           json_is_string(v) ? "bytes" : "members");
            ok = false;
            break;
        }
    }
    json_decref(b);
    return ok;
}

static bool check_status(struct req *r, const struct srv_request_spec *spec)
{
    const char *status = spec->statuses ? sl_query_arg(r, "status") : NULL;
    if (!status)
        return true;
    struct sl_str all = SL_STR_INIT;
    for (const char *const *s = spec->statuses; *s; s++) {
        if (!strcmp(*s, status)) {
            sl_str_release(&all);
            return true;
        }
        sl_str_addf(&all, "%s%s", s == spec->statuses ? "" : ", ", *s);
    }
    const char *hint = sl_suggest_list(status, spec->statuses);
    sl_reply_error(r, 400, "invalid", "status '%s' is not one of %s%s%s%s", status, all.buf,
                   hint ? "; did you mean '" : "", hint ? hint : "", hint ? "'?" : "");
    sl_str_release(&all);
    return false;
}

bool sl_srv_request_check(struct req *r, const struct route *rt)
{
    const struct srv_request_spec *spec = sl_srv_request_spec_of(rt);
    return !spec || (check_status(r, spec) && check_body(r, spec));
}
