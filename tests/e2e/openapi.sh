#!/usr/bin/env bash
# docs/openapi.yaml against the route table (src/server/api.c): every route documented,
# every documented route exists, path parameters declared, operation ids unique, and the
# request and answer examples valid against their schemas (python3-jsonschema).
set -u
src=${SL_SOURCE_DIR:?SL_SOURCE_DIR is not set}
exec python3 - "$src" <<'PY'
import os, re, sys
src = sys.argv[1]
try:
    import yaml
except ImportError:
    print("SKIPPED: python3-yaml is missing (scripts/install-deps.sh)")
    sys.exit(1 if os.environ.get("CI") == "true" else 77)
passed = failed = 0
def check(name, cond, detail=""):
    global passed, failed
    if cond:
        passed += 1
        print("ok - " + name)
    else:
        failed += 1
        print("not ok - " + name)
        for line in str(detail).splitlines():
            print("#   " + line)

table = open(os.path.join(src, "src/server/api.c")).read()
body = table[table.index("const struct route sl_srv_routes[]"):]
body = body[:body.index("};")]
routes = set(re.findall(r'\{"([A-Z]+)",\s*"([^"]+)",\s*\w+,\s*(?:NULL|"\w+")\}', body))
check("the route table was read", len(routes) > 50, len(routes))
doc = yaml.safe_load(open(os.path.join(src, "docs/openapi.yaml")))
check("OpenAPI 3.1", str(doc.get("openapi", "")).startswith("3.1"), doc.get("openapi"))
methods = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
documented = set()
for path, ops in doc["paths"].items():
    for m, op in ops.items():
        if m in methods:
            documented.add((m.upper(), path))
missing = sorted(routes - documented)
check("every route of the route table is in docs/openapi.yaml", not missing,
      "\n".join("%s %s" % r for r in missing))
extra = sorted(documented - routes)
check("every documented route is in the route table", not extra,
      "\n".join("%s %s" % r for r in extra))
ids, bad_params, no_resp = {}, [], []
for path, ops in doc["paths"].items():
    names = set(re.findall(r"\{(\w+)\}", path))
    for m, op in ops.items():
        if m not in methods:
            continue
        ids.setdefault(op.get("operationId"), []).append("%s %s" % (m, path))
        declared = {p["name"] for p in op.get("parameters", []) + ops.get("parameters", []) if p.get("in") == "path"}
        if declared != names:
            bad_params.append("%s %s: %s" % (m, path, sorted(declared)))
        if not op.get("responses"):
            no_resp.append("%s %s" % (m, path))
dups = {k: v for k, v in ids.items() if k is None or len(v) > 1}
check("operation ids are unique", not dups, dups)
check("path parameters are declared", not bad_params, "\n".join(bad_params))
check("every operation has responses", not no_resp, "\n".join(no_resp))
roles = {"admin", "maintainer", "developer", "viewer"}
auth = [(m, p) for p, ops in doc["paths"].items() for m, op in ops.items()
        if m in methods and not (op.get("x-sluice-role") in roles or op.get("x-sluice-auth"))]
check("every operation says how it authenticates", not auth, auth)
roles_table = {(m, p): r.strip('"') for m, p, r in
               re.findall(r'\{"([A-Z]+)",\s*"([^"]+)",\s*\w+,\s*(NULL|"\w+")\}', body)}
wrong = [(m, p) for (m, p), r in roles_table.items()
         if (m.lower() in doc["paths"].get(p, {})) and
         doc["paths"][p][m.lower()].get("x-sluice-role", "NULL") != r]
check("x-sluice-role is the route table's role", not wrong, wrong)

try:
    import jsonschema
except ImportError:
    jsonschema = None
if jsonschema is None:
    print("SKIPPED: examples not validated: python3-jsonschema is missing (scripts/install-deps.sh)")
    print("%d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed or os.environ.get("CI") == "true" else 77)
nexamples = 0
for path, ops in doc["paths"].items():
    for m, op in ops.items():
        if m not in methods:
            continue
        media = [("request", c) for c in op.get("requestBody", {}).get("content", {}).values()]
        for code, resp in op.get("responses", {}).items():
            if "$ref" in resp:
                resp = doc["components"]["responses"][resp["$ref"].split("/")[-1]]
            media += [("answer " + code, c) for c in resp.get("content", {}).values()]
        for what, c in media:
            if "example" not in c or "schema" not in c:
                continue
            nexamples += 1
            root = dict(c["schema"])
            root["components"] = doc["components"]  # "#/components/..." resolves in here
            errs = [e.message for e in jsonschema.Draft202012Validator(root).iter_errors(c["example"])]
            check("%s %s: the %s example validates" % (m.upper(), path, what), not errs, "\n".join(errs))
check("examples were found", nexamples >= 8, nexamples)
print("%d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
PY
