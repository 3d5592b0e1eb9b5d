#!/usr/bin/env bash
# Which notification rules a pipeline's end is sent to (docs/notifications.md), on a real
# `sluice serve` with the loopback webhook receiver of forge_receiver.py:
#  - events: a rule subscribed to `success` gets every success (a fixed one too, as `fixed`),
#    one subscribed to `failed` only gets the failure and no success;
#  - refs: `protected` notifies for the protected branches (release, and main: a project's
#    default branch is protected from its creation, as in GitLab) and not for another
#    (feature), `default` only for the default branch, `all` for every branch.
# Pipelines, in order: main, release (protected), feature succeed; feature fails; feature
# succeeds again (fixed).
. "$(dirname "$0")/lib/e2e.sh"
needs curl python3 git
rpid=
at_exit '[[ -n $rpid ]] && kill "$rpid" 2>/dev/null'
# shellcheck source=lib/server.sh
. "$src/tests/e2e/lib/server.sh"

mkdir "$tmp/recv"
python3 "$src/tests/e2e/forge_receiver.py" "$tmp/recv" 2>"$tmp/recv.err" &
rpid=$!
wait_for 60 test -s "$tmp/recv/ports" || { bad "the receivers start" "$(cat "$tmp/recv.err")"; finish; exit 1; }
R=http://127.0.0.1:$(python3 -c "import json; print(json.load(open('$tmp/recv/ports'))['http'])")

gitc() { git -C "$tmp/repo" "$@"; }
repo_ci "$tmp/repo" <<'YML' || exit 1
job:
  script:
    - echo "on $CI_COMMIT_REF_NAME"
    - if [ "${FAIL:-}" = yes ]; then echo "failing as asked"; exit 1; fi
YML
gitc branch release
gitc branch feature

server_start --workers 1 --delivery-retry-base 0.2 || { bad "server starts"; finish; exit 1; }
req POST /api/v1/projects "$admin" "{\"name\":\"refs\",\"repo_url\":\"$tmp/repo\",\"default_branch\":\"main\"}"
expect "project created" 201 "$code" "$body"
proj=$(jget "['id']")
req POST "/api/v1/projects/$proj/protected_branches" "$admin" '{"name":"release"}'
expect "release is protected" 201 "$code" "$body"
req GET "/api/v1/projects/$proj/protected_branches" "$admin"
expect "the protected branches: main (the default, from the project's creation) and release" "main release" \
  "$(python3 -c 'import json,sys; print(" ".join(sorted(b["name"] for b in json.load(sys.stdin))))' <<<"$body")" "$body"

rule() { # rule NAME EVENTS REFS: a webhook rule posting to $R/hook/NAME
  req POST "/api/v1/projects/$proj/notifications" "$admin" \
    "{\"channel\":\"webhook\",\"target\":\"$R/hook/$1\",\"events\":$2,\"refs\":\"$3\"}"
  expect "rule $1 is made" 201 "$code" "$body"
}
rule success-all '["success"]' all
rule failed-all '["failed"]' all
rule success-protected '["success"]' protected
rule failed-protected '["failed","fixed"]' protected
rule success-default '["success"]' default

run() { # run REF [FAIL]: a pipeline on REF, waited for; its status in $st
  local vars='{}'
  [[ -n ${2:-} ]] && vars='{"FAIL":"yes"}'
  req POST "/api/v1/projects/$proj/pipelines" "$admin" "{\"ref\":\"$1\",\"variables\":$vars}"
  [[ $code == 201 ]] || { bad "a pipeline on $1 is made" "$body"; return; }
  local p
  p=$(jget "['id']")
  st=
  done_() { req GET "/api/v1/pipelines/$p" "$admin"; st=$(jget "['status']"); [[ $st =~ ^(success|failed|canceled)$ ]]; }
  wait_for 300 done_ || bad "the pipeline on $1 ends" "$body"
}
run main
expect "main succeeds" success "$st"
run release
expect "release succeeds" success "$st"
run feature
expect "feature succeeds" success "$st"
run feature fail
expect "feature fails when asked" failed "$st"
run feature
expect "feature succeeds again" success "$st"

got() { # got NAME: "REF:EVENT" of each message the receiver got at /hook/NAME, in order
  python3 - "$tmp/recv/http.jsonl" "/hook/$1" <<'PY'
import json, os, sys
out = []
if os.path.exists(sys.argv[1]):
    for l in open(sys.argv[1]):
        r = json.loads(l)
        if r["path"] == sys.argv[2]:
            b = json.loads(r["body"])
            out.append(b["pipeline"]["ref"] + ":" + b["event"])
print(" ".join(out))
PY
}
settled() {
  req GET "/api/v1/projects/$proj/deliveries?state=pending" "$admin"
  [[ $code == 200 && $body == "[]" ]]
}
want_all="main:success release:success feature:success feature:fixed"
arrived() { [[ $(got success-all) == "$want_all" ]]; }
wait_for 120 arrived
wait_for 120 settled || bad "the deliveries settle" "$body"
expect "success, refs all: every success, the fixed one as fixed" "$want_all" "$(got success-all)"
expect "failed only: the failure, no success" "feature:failed" "$(got failed-all)"
expect "success, refs protected: the protected branches only, not feature" \
  "main:success release:success" "$(got success-protected)"
expect "failed and fixed, refs protected: nothing from an unprotected branch" "" "$(got failed-protected)"
expect "success, refs default: the default branch only" "main:success" "$(got success-default)"
req GET "/api/v1/projects/$proj/deliveries" "$admin"
expect "the deliveries API lists the 8 messages, all delivered" "8 delivered" \
  "$(python3 -c 'import json,sys; d=json.load(sys.stdin); print(len(d), ",".join(sorted({x["state"] for x in d})))' <<<"$body")" "$body"
server_stop
finish
