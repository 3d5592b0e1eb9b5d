/* validate.h: the shape of every route's request, as data, checked by one validator before
 * the handler runs (http.c). A handler then sees only bodies whose fields are known and of
 * the right type, strings within their documented limit, and a ?status= GitLab knows; it
 * still checks what needs the store or the rest of the body (a required field, a cron
 * expression, a reference that exists).
 *
 * Adding a route with a JSON body: add its entry to sl_srv_request_specs (validate.c), with a
 * field table, and the limits to docs/api.md; the server_api suite's validation test fails
 * for a POST/PUT/PATCH route of /api/v1 that has no entry. An empty body (zero bytes or {})
 * passes the check: a route that needs a field says so itself. */
#ifndef SL_SERVER_VALIDATE_H
#define SL_SERVER_VALIDATE_H

#include "base/compat.h"

struct req;
struct route;

enum srv_field_type {
    SRV_F_STRING = 1,
    SRV_F_INT,
    SRV_F_BOOL,
    SRV_F_FLAG,         /* true/false, or GitLab's form strings "true", "false", "1", "0" */
    SRV_F_OBJECT,       /* any JSON object */
    SRV_F_STRING_MAP,   /* an object whose values are strings ("variables": {"A": "1"}) */
    SRV_F_ARRAY,        /* any JSON array */
    SRV_F_STRING_ARRAY, /* an array of strings */
    SRV_F_INT_OR_STRING /* expires_in: 3600 or "30 days" */
};

struct srv_field {
    const char *name;
    enum srv_field_type type;
    size_t max;    /* a string's bytes, or an array's or object's members; 0: no limit here */
    bool nullable; /* null is accepted (and means "not given") */
};

struct srv_request_spec {
    const char *method;
    const char *pattern; /* as in the route table */
    const struct srv_field *fields;
    size_t nfields;
    bool open;      /* a document with its own schema: unknown fields are left to the handler */
    bool raw;       /* the body is not JSON (lint's YAML): not checked here */
    bool json_only; /* anything but Content-Type: application/json is answered 415 */
    const char *const *statuses; /* the values ?status= takes (NULL-terminated), or NULL */
};

extern const struct srv_request_spec sl_srv_request_specs[];
extern const size_t sl_srv_nrequest_specs;

/* The entry of RT, or NULL. */
const struct srv_request_spec *sl_srv_request_spec_of(const struct route *rt);
/* Checks R's body and query against RT's entry; false with 400 answered (naming the field:
 * "unknown field 'default_brnach'; did you mean 'default_branch'?"). A route without an
 * entry passes. */
bool sl_srv_request_check(struct req *r, const struct route *rt);

#endif
