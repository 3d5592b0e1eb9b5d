#!/usr/bin/env bash
# sluice serve against the real binary on loopback: a project from a temporary git
# repository, a 3-job pipeline in two stages run to success by the built-in worker, a job's
# log, the auth matrix over every route, lint, 404/405/413 errors, and a graceful SIGTERM.
set -u
. "$(dirname "$0")/lib/skip.sh"
bin=${SLUICE_BIN:?SLUICE_BIN is not set}
needs curl ss
tmp=$(mktemp -d)
# lib/server.sh: SL_SERVER_DB runs it against that store (server_pg.sh passes a PostgreSQL URI)
. "$(dirname "$0")/lib/server.sh"
helpers=() # the loopback git remotes' pids
cleanup() { [[ -n $pid ]] && kill -9 "$pid" 2>/dev/null; kill "${helpers[@]}" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT

# the repository: two stages, three jobs, an artifact passed from build to test
repo_ci "$tmp/repo" <<'YML' || exit 1
stages: [build, test]
build:
  stage: build
  script:
    - echo "building on $CI_COMMIT_REF_NAME with GREETING=$GREETING"
    - mkdir -p out && echo artifact-content > out/a.txt
  artifacts:
    paths: [out/]
unit:
  stage: test
  script:
    - cat out/a.txt
lint:
  stage: test
  script: [echo lint ok]
YML

server_start || { bad "server starts"; finish; exit 1; }
ok "server starts on a free port (${url#http://})"
expect "admin token printed once" 1 "$(grep -c "$admin" "$tmp/out")"
expect "admin.token is 0600" 600 "$(stat -c %a "$tmp/data/admin.token")"


req GET /healthz ""
expect "healthz without a token" 200 "$code"
req GET /readyz ""
expect "readyz without a token" 200 "$code"
want_store=sqlite
[[ ${SL_SERVER_DB:-} == postgres* ]] && want_store=postgres
expect "readyz names the store in use" "$want_store" "$(jget "['store']")"

viewer=$("$bin" token create --role viewer --data "$tmp/data" "${db[@]}")
dev=$("$bin" token create --role developer --data "$tmp/data" "${db[@]}" --name ci)
maint=$("$bin" token create --role maintainer --data "$tmp/data" "${db[@]}")
expect "token create prints a token" slt_ "${viewer:0:4}"
"$bin" token create --role root --data "$tmp/data" "${db[@]}" >/dev/null 2>&1
expect "token create refuses an unknown role" 2 "$?"

req POST /api/v1/projects "" "{\"name\":\"demo\",\"repo_url\":\"$tmp/repo\"}"
expect "creating a project without a token: 401" 401 "$code"
expect "401 is a JSON error" unauthorized "$(jget "['error']['code']")"
req POST /api/v1/projects "slt_bogus" "{\"name\":\"demo\",\"repo_url\":\"$tmp/repo\"}"
expect "a forged token: 401" 401 "$code"
req POST /api/v1/projects "$viewer" "{\"name\":\"demo\",\"repo_url\":\"$tmp/repo\"}"
expect "a viewer creating a project: 403" 403 "$code"
req POST /api/v1/projects "$maint" "{\"name\":\"demo\",\"repo_url\":\"file://$tmp/repo\",\"default_branch\":\"main\"}"
expect "a maintainer creates a project: 201" 201 "$code" "$body"
proj=$(jget "['id']")
req POST /api/v1/projects "$maint" "{\"name\":\"demo\",\"repo_url\":\"$tmp/repo\"}"
expect "a taken name: 409" 409 "$code"
req GET /api/v1/projects "$viewer"
expect "list projects" "200 demo" "$code $(jget "[0]['name']")" "$body"

req POST /api/v1/projects/$proj/pipelines "$dev" '{"ref":"main","variables":{"GREETING":"hello"}}'
expect "create a pipeline: 201" 201 "$code" "$body"
pl=$(jget "['id']")
expect "the pipeline has 3 jobs" 3 "$(jget "['jobs'].__len__()")"
status=
for _ in $(seq 600); do
  req GET /api/v1/pipelines/$pl "$viewer"
  status=$(jget "['status']")
  [[ $status == success || $status == failed || $status == canceled ]] && break
  sleep 0.1
done
expect "the pipeline succeeds" success "$status" "$body$(tail -20 "$tmp/err")"
expect "its jobs all succeeded" "success success success" \
  "$(jget "['jobs'][0]['status']") $(jget "['jobs'][1]['status']") $(jget "['jobs'][2]['status']")"
expect "pipeline shape: sha, source" "40 api" "$(jget "['sha'].__len__()") $(jget "['source']")"
build=$(jget "['jobs'][0]['id']")
unit=$(jget "['jobs'][1]['id']")
# the creation's audit event, stored in the pipeline's transaction: one, naming the pipeline
req GET "/api/v1/audit?action=pipeline.create" "$admin"
expect "the pipeline's creation is audited once" "1 pipeline:$pl" \
  "$(jget ".__len__()") $(jget "[0]['target']")" "$body"
# API validation: unknown fields, wrong types, a status outside GitLab's, an empty body
req POST /api/v1/projects/$proj/pipelines "$dev" '{"ref":"main","varaibles":{}}'
expect "an unknown body field: 400 naming it" "400 1" "$code $(grep -c "unknown field 'varaibles'" <<<"$body")" "$body"
req POST /api/v1/projects/$proj/pipelines "$dev" '{"ref":"main","variables":{"A":1}}'
expect "a variable that is not a string: 400 naming it" "400 1" "$code $(grep -c 'variables.A must be a string' <<<"$body")" "$body"
req GET "/api/v1/projects/$proj/pipelines?status=succeeded" "$viewer"
expect "?status= outside GitLab's statuses: 400" 400 "$code" "$body"
req POST /api/v1/projects "$maint" '{"name":"typo","repo_url":"/x","default_brnach":"main"}'
expect "project: an unknown field: 400 naming it" "400 1" "$code $(grep -c "unknown field 'default_brnach'" <<<"$body")" "$body"
req PUT /api/v1/projects/$proj "$maint" ""
expect "an empty body where every field is optional: 200" 200 "$code" "$body"
req PUT /api/v1/projects/$proj "$maint" "{}"
expect "{} where every field is optional: 200" 200 "$code" "$body"
# a repository on this machine that cannot be read is refused when the project is made
req POST /api/v1/projects "$maint" "{\"name\":\"gone\",\"repo_url\":\"$tmp/no-such-repo\"}"
expect "repo_url: a path that does not exist: 400 naming it" "400 1" "$code $(grep -c 'repo_url cannot be read' <<<"$body")" "$body"
mkdir "$tmp/not-a-repo"
req POST /api/v1/projects "$maint" "{\"name\":\"plain\",\"repo_url\":\"file://$tmp/not-a-repo\"}"
expect "repo_url: a directory that is no git repository: 400" "400 1" "$code $(grep -c 'repo_url cannot be read' <<<"$body")" "$body"
req PUT /api/v1/projects/$proj "$maint" "{\"repo_url\":\"$tmp/no-such-repo\"}"
expect "repo_url: the same when a project is changed" 400 "$code" "$body"
# ... and a network URL too: asked for its refs (a loopback `git http-backend`), not fetched
# first at the first pipeline
mkdir "$tmp/remote" && git clone -q --bare "$tmp/repo" "$tmp/remote/app.git"
python3 "$(dirname "$0")/lib/git_http_backend.py" "$tmp/remote" "$tmp/http.port" &
backend=$!
helpers+=("$backend")
for _ in $(seq 100); do [[ -s $tmp/http.port ]] && break; sleep 0.1; done
remote=http://127.0.0.1:$(cat "$tmp/http.port")
req POST /api/v1/projects "$maint" "{\"name\":\"over-http\",\"repo_url\":\"$remote/app.git\"}"
expect "repo_url: a remote that answers is taken" 201 "$code" "$body"
req POST /api/v1/projects "$maint" "{\"name\":\"missing\",\"repo_url\":\"$remote/missing.git\"}"
expect "repo_url: a remote without that repository: 400" "400 1" "$code $(grep -c 'repo_url cannot be read' <<<"$body")" "$body"
kill "$backend"; wait "$backend" 2>/dev/null
# a remote that accepts and never answers: the request waits 10 s, not for ever
python3 "$(dirname "$0")/lib/git_http_backend.py" "$tmp/remote" "$tmp/silent.port" --answer 0 &
silent=$!
helpers+=("$silent")
for _ in $(seq 100); do [[ -s $tmp/silent.port ]] && break; sleep 0.1; done
curl -s -o "$tmp/silent.body" -w '%{http_code}' -X POST -H "Authorization: Bearer $maint" \
  -H 'Content-Type: application/json' "$url/api/v1/projects" \
  --data-binary "{\"name\":\"silent\",\"repo_url\":\"http://127.0.0.1:$(cat "$tmp/silent.port")/app.git\"}" >"$tmp/silent.code" &
waiter=$!
# while that request waits on the silent remote (connected to it), another network check is
# refused at once: one request at a time holds an HTTP thread on a remote
for _ in $(seq 300); do
  ss -tn state established 2>/dev/null | grep -q ":$(cat "$tmp/silent.port") " && break
  sleep 0.1
done
code=$(curl -s -o "$tmp/body" -D "$tmp/headers" -w '%{http_code}' -X POST -H "Authorization: Bearer $maint" \
  -H 'Content-Type: application/json' "$url/api/v1/projects" \
  --data-binary "{\"name\":\"second\",\"repo_url\":\"$remote/app.git\"}")
body=$(cat "$tmp/body")
expect "repo_url: a second check while one waits: 503 busy with Retry-After" "503 1 1" "$code $(grep -c '"busy"' <<<"$body") $(grep -ci '^retry-after:' "$tmp/headers")" "$body"
req GET /api/v1/projects "$viewer"
expect "... and the rest of the API answers meanwhile" 200 "$code"
# ... on new connections, one after another, while that handler still holds its pool thread
# (the other pool thread answers them: the pool's concurrency, which a pool of one lacks)
answered=0
for _ in $(seq 20); do
  req GET /healthz ""
  [[ $code == 200 ]] && answered=$((answered + 1))
done
still=$(kill -0 "$waiter" 2>/dev/null && echo waiting || echo done)
expect "... 20 new connections answered while the slow request still waits" "20 waiting" "$answered $still"
wait "$waiter"
expect "repo_url: a remote that never answers: 400 once the check gives up" "400 1" "$(cat "$tmp/silent.code") $(grep -c 'repo_url cannot be read: no answer within 10 s' "$tmp/silent.body")" "$(cat "$tmp/silent.body")"
kill "$silent"; wait "$silent" 2>/dev/null
# a port nobody listens on (the backend's, now closed), over each network scheme
for scheme in http git ssh; do
  req POST /api/v1/projects "$maint" "{\"name\":\"closed-$scheme\",\"repo_url\":\"$scheme://127.0.0.1:$(cat "$tmp/http.port")/app.git\"}"
  expect "repo_url: $scheme:// to a closed port: 400 with the system's error" "400 1" "$code $(grep -ci 'repo_url cannot be read: .*refused' <<<"$body")" "$body"
done
req POST /api/v1/projects "$maint" "{\"name\":\"secret\",\"repo_url\":\"http://u:hunter2@127.0.0.1:$(cat "$tmp/http.port")/app.git\"}"
expect "repo_url: the answer never repeats a password the URL holds" "400 0" "$code $(grep -c hunter2 <<<"$body")" "$body"
# ... the same one validator for every route, from its request table (src/server/validate.c)
req POST /api/v1/tokens "$admin" '{"name":"t","rol":"viewer"}'
expect "tokens: an unknown field, with the likely one" "400 1" "$code $(grep -c "unknown field 'rol'; did you mean 'role'" <<<"$body")" "$body"
req POST /api/v1/runners "$admin" '{"tags":"linux"}'
expect "runners: tags of the wrong type" "400 1" "$code $(grep -c 'tags must be an array of strings' <<<"$body")" "$body"
req POST /api/v1/projects/$proj/freeze_periods "$maint" '{"freeze_start":1}'
expect "freeze periods: a number for a cron string" "400 1" "$code $(grep -c 'freeze_start must be a string' <<<"$body")" "$body"
long=$(printf 'n%.0s' $(seq 201))
req POST /api/v1/projects "$maint" "{\"name\":\"$long\",\"repo_url\":\"/x\"}"
expect "a project name over the documented 200 bytes" "400 1" "$code $(grep -c 'name is too long (at most 200 bytes)' <<<"$body")" "$body"
# every other name over its documented limit (docs/api.md), one over each
n256=$(printf 'k%.0s' $(seq 256))
req POST /api/v1/projects/$proj/variables "$maint" "{\"key\":\"$n256\",\"value\":\"v\"}"
expect "a variable key over GitLab's 255 characters" "400 1" "$code $(grep -c 'is too long (maximum is 255 characters)' <<<"$body")" "$body"
req POST /api/v1/projects/$proj/variables "$maint" "{\"key\":\"${n256:1}\",\"value\":\"v\"}"
expect "... and a key of exactly 255 is taken" 201 "$code" "$body"
req POST /api/v1/projects/$proj/feature_flags "$maint" "{\"name\":\"$n256\"}"
expect "a feature flag name over 255 bytes" "400 1" "$code $(grep -c 'name is too long (at most 255 bytes)' <<<"$body")" "$body"
req POST /api/v1/projects/$proj/protected_environments "$maint" "{\"name\":\"$n256\"}"
expect "a protected environment name over 255 bytes" "400 1" "$code $(grep -c 'name is too long (at most 255 bytes)' <<<"$body")" "$body"
req PUT "/api/v1/projects/$proj/feature_flags/environments/$n256/state" "$maint" '{"version":1,"features":[]}'
expect "an environment name over 255 bytes in a path: 400, not 404" "400 1" "$code $(grep -c 'a name in the path is too long (at most 255 bytes)' <<<"$body")" "$body"
req POST /api/v1/tokens "$admin" "{\"name\":\"$n256\",\"role\":\"viewer\"}"
expect "a token name over 255 bytes" "400 1" "$code $(grep -c 'name is too long (at most 255 bytes)' <<<"$body")" "$body"
req POST /api/v1/runners "$admin" "{\"description\":\"$n256\"}"
expect "a runner description over 255 bytes" "400 1" "$code $(grep -c 'description is too long (at most 255 bytes)' <<<"$body")" "$body"
req POST /api/v1/projects/$proj/pipelines "$dev" '{"ref":["main"]}'
expect "pipelines: ref of the wrong type" "400 1" "$code $(grep -c 'ref must be a string' <<<"$body")" "$body"
req POST /api/v1/pipelines/999999/cancel "$dev" '{"force":true}'
expect "a route without body fields refuses one" "400 1" "$code $(grep -c "unknown field 'force': this route takes no body fields" <<<"$body")" "$body"
req POST /api/v1/pipelines/999999/cancel "$dev" '{}'
expect "... and takes {} (then answers as without a body)" 404 "$code" "$body"
req POST /api/v1/projects/$proj/pipelines "$dev" '[1]'
expect "a body that is not an object" "400 1" "$code $(grep -c 'the body must be a JSON object' <<<"$body")" "$body"
req GET "/api/v1/environments/999999/deployments?status=sucess" "$viewer"
expect "deployments: ?status= outside GitLab's, with the likely one" "400 1" "$code $(grep -c "did you mean 'success'" <<<"$body")" "$body"
req GET "/api/v1/projects/$proj/pipelines?status=sucess" "$viewer"
expect "pipelines: the same" "400 1" "$code $(grep -c "status 'sucess' is not one of" <<<"$body")" "$body"
req GET /api/v1/jobs/$build/log "$viewer"
expect "the build log has its output and variables" 1 \
  "$(grep -c 'building on main with GREETING=hello' <<<"$body")" "$body"
req GET /api/v1/jobs/$unit/log "$viewer"
expect "the test job got the build's artifacts" 1 "$(grep -xc 'artifact-content' <<<"$body")" "$body"
expect "the test job's log names whose artifacts it got" 1 \
  "$(grep -c 'Downloaded artifacts of build$' <<<"$body")" "$body"
expect "a job log ends with GitLab's outcome line" "Job succeeded" "$(tail -n1 <<<"$body")" "$body"
req GET "/api/v1/jobs/$unit/log?offset=5" "$viewer"
full=$(curl -s -H "Authorization: Bearer $viewer" "$url/api/v1/jobs/$unit/log")
expect "log offset skips bytes" "${full:5}" "$body"
req GET /api/v1/jobs/$build "$viewer"
expect "job detail" "success 0 1" "$(jget "['status']") $(jget "['exit_code']") $(jget "['attempt']")"
req GET /api/v1/jobs/$build/artifacts "$viewer"
expect "build's artifacts are recorded" 1 "$(jget ".__len__()")" "$body"
req GET "/api/v1/projects/$proj/pipelines?status=success" "$viewer"
expect "list pipelines by status" "200 $pl" "$code $(jget "[0]['id']")"
req GET "/api/v1/projects/$proj/pipelines?after=$pl" "$viewer"
expect "keyset: nothing after the last" "[]" "$body"
req POST /api/v1/jobs/$build/retry "$dev"
expect "retry a job" "200 2" "$code $(jget "['attempt']")" "$body"
# as GitLab's: the retry is a new job, the earlier attempt keeps its outcome, marked retried
rebuild=$(jget "['id']")
expect "the retry is a new job" "yes False" "$([[ $rebuild != "$build" ]] && echo yes) $(jget "['retried']")" "$body"
req GET /api/v1/jobs/$build "$viewer"
expect "the earlier attempt keeps its outcome and is retried" "success 1 True" \
  "$(jget "['status']") $(jget "['attempt']") $(jget "['retried']")" "$body"
req POST /api/v1/jobs/$build/retry "$dev"
expect "a retried attempt cannot be retried again: 409" 409 "$code" "$body"
req GET /api/v1/pipelines/$pl "$viewer"
attempts() { python3 -c 'import json,sys; print(" ".join("%d %s" % (j["id"], j["retried"]) for j in json.load(sys.stdin)["jobs"] if j["name"] == "build"))' <<<"$body"; }
expect "the pipeline lists the newest attempt only" "$rebuild False" "$(attempts)" "$body"
req GET "/api/v1/pipelines/$pl?include_retried=true" "$viewer"
expect "?include_retried=true lists both attempts, the retried first" "$build True $rebuild False" \
  "$(attempts)" "$body"
for _ in $(seq 600); do
  req GET /api/v1/pipelines/$pl "$viewer"
  [[ $(jget "['status']") == success ]] && break
  sleep 0.1
done
expect "the retried pipeline succeeds again" success "$(jget "['status']")"

# a broken configuration gives a failed pipeline with its messages
(cd "$tmp/repo" && git checkout -q -b broken && printf 'job:\n  script: [true]\n  when: sometimes\n' > .gitlab-ci.yml &&
  git -c user.email=t@t -c user.name=t commit -qam broken)
req POST /api/v1/projects/$proj/pipelines "$dev" '{"ref":"broken"}'
expect "a broken config still gives a pipeline" "201 failed" "$code $(jget "['status']")" "$body"
expect "it carries the lint messages" 1 "$(jget "['yaml_errors'].__len__()>0" | grep -c True)" "$body"
req POST /api/v1/projects/$proj/pipelines "$dev" '{"ref":"no-such-branch"}'
expect "an unknown ref: 400" 400 "$code"

# a server job log ends with GitLab's outcome line for a failure and a timeout too, as a
# local one does
(cd "$tmp/repo" && git checkout -q -b failing main && printf 'fails:\n  script: [exit 3]\nslow:\n  timeout: 1s\n  script: [sleep 60]\n' > .gitlab-ci.yml &&
  git -c user.email=t@t -c user.name=t commit -qam failing && git checkout -q main)
req POST /api/v1/projects/$proj/pipelines "$dev" '{"ref":"failing"}'
fpl=$(jget "['id']")
for _ in $(seq 300); do
  req GET /api/v1/pipelines/$fpl "$viewer"
  [[ $(jget "['status']") == failed ]] && break
  sleep 0.1
done
expect "the failing pipeline fails" failed "$(jget "['status']")" "$body"
jobid() { python3 -c 'import json,sys; print([j["id"] for j in json.load(sys.stdin)["jobs"] if j["name"] == sys.argv[1]][0])' "$1" <<<"$body"; }
fails=$(jobid fails) slow=$(jobid slow)
req GET /api/v1/jobs/$fails/log "$viewer"
expect "a failed job's server log ends with GitLab's line" "ERROR: Job failed: exit code 3" "$(tail -n1 <<<"$body")" "$body"
req GET /api/v1/jobs/$slow/log "$viewer"
expect "a timed-out job's server log ends with GitLab's line" "ERROR: Job failed: execution took longer than 1s seconds" "$(tail -n1 <<<"$body")" "$body"

# inputs fill the spec:inputs of the .gitlab-ci.yml, with their types
(cd "$tmp/repo" && git checkout -q -b inputs main && printf 'spec:\n  inputs:\n    env:\n      options: [staging, prod]\n    replicas:\n      type: number\n      default: 1\n---\ndeploy-$[[ inputs.env ]]:\n  parallel: $[[ inputs.replicas ]]\n  when: manual\n  script: [echo]\n' > .gitlab-ci.yml &&
  git -c user.email=t@t -c user.name=t commit -qam inputs)
req POST /api/v1/projects/$proj/pipelines "$dev" '{"ref":"inputs","inputs":{"env":"prod","replicas":2}}'
expect "inputs reach the pipeline's spec" "201 deploy-prod 1/2,deploy-prod 2/2" \
  "$code $(jget "['jobs'][0]['name']"),$(jget "['jobs'][1]['name']")" "$body"
req POST /api/v1/projects/$proj/pipelines "$dev" '{"ref":"inputs","inputs":{"env":"qa"}}'
expect "an input outside its options fails the pipeline with GitLab's message" \
  "201 failed .gitlab-ci.yml:1:1: \`env\` input: \`qa\` cannot be used because it is not in the list of allowed options" \
  "$code $(jget "['status']") $(jget "['yaml_errors'][0]")" "$body"
req POST /api/v1/projects/$proj/pipelines "$dev" '{"ref":"inputs","inputs":[1]}'
expect "inputs that are not an object: 400" 400 "$code"

# lint
req POST /api/v1/lint "$viewer" $'job:\n  script: echo hi\n'
expect "lint a valid pipeline" "200 True" "$code $(jget "['valid']")"
req POST /api/v1/lint "$viewer" $'job:\n  script: echo hi\n  when: sometimes\n'
expect "lint an invalid pipeline" "200 False" "$code $(jget "['valid']")"
expect "lint gives errors with positions" "3:9" "$(jget "['errors'][0]['line']"):$(jget "['errors'][0]['column']")" "$body"
req POST /api/v1/lint "$viewer" $'job:\n  scirpt: echo hi\n'
expect "lint hints the closest keyword" "did you mean \`script\`?" "$(jget ".get('errors') and [e.get('hint') for e in d['errors'] if 'unknown keys' in e['message']][0]")" "$body"

# errors
req GET /api/v1/pipelines/999999 "$viewer"
expect "an unknown pipeline: 404" "404 not_found" "$code $(jget "['error']['code']")"
req GET /api/v1/nothing "$viewer"
expect "an unknown route: 404" 404 "$code"
req PUT /api/v1/projects "$viewer" '{}'
expect "a wrong method: 405" 405 "$code"
head -c 1100000 /dev/zero | tr '\0' 'a' > "$tmp/big"
code=$(curl -s -o "$tmp/body" -w '%{http_code}' -H "Authorization: Bearer $viewer" --data-binary @"$tmp/big" "$url/api/v1/lint")
expect "a body over 1 MiB: 413" 413 "$code"
req POST /api/v1/projects "$maint" 'not json'
expect "a body that is not JSON: 400" 400 "$code"

# the auth matrix over the whole route table: no token 401, each role 403 or not
roles=(viewer developer maintainer admin)
declare -A tok=([viewer]=$viewer [developer]=$dev [maintainer]=$maint [admin]=$admin)
rank() { local i; for i in "${!roles[@]}"; do [[ ${roles[$i]} == "$1" ]] && echo "$i"; done; }
routes_tested=()
while read -r method path need; do
  [[ -z $method || $method == \#* ]] && continue
  routes_tested+=("$method $path $need")
  p=${path//\{id\}/999999}
  p=${p//\{key\}/NO_SUCH_KEY}
  p=${p//\{name\}/no-such-flag}
  p=${p//\{env\}/production}
  if [[ $need == unleash ]]; then
    # Unleash SDKs' routes: a sluice API token is no Unleash token (nor an instance id)
    for r in "" "${roles[@]}"; do
      req "$method" "$p" "${r:+${tok[$r]}}" '{}'
      expect "$method $path ${r:-without a token} and no Unleash token: 401" 401 "$code"
    done
    continue
  fi
  p=${p//\{ref\}/no-such-ref}
  p=${p//\{group\}/no-such-group}
  if [[ $need == signature ]]; then
    # webhooks: a token is no credential there; without the forge's signature, 401
    for r in "" "${roles[@]}"; do
      req "$method" "$p" "${r:+${tok[$r]}}" '{}'
      expect "$method $path ${r:-without a token} and no signature: 401" 401 "$code"
    done
    continue
  fi
  if [[ $need == runner ]]; then
    # the runner API (/api/v4): only runner and job tokens count; an API token is none
    for r in "" "${roles[@]}"; do
      req "$method" "$p" "${r:+${tok[$r]}}" '{}'
      expect "$method $path ${r:-without a token} and no runner or job token: 403" 403 "$code"
    done
    continue
  fi
  if [[ $need == none ]]; then
    req "$method" "$p" ""
    [[ $code != 401 && $code != 403 ]] && ok "$method $path needs no token" || bad "$method $path needs no token: $code"
    continue
  fi
  req "$method" "$p" ""
  expect "$method $path without a token: 401" 401 "$code"
  for r in "${roles[@]}"; do
    req "$method" "$p" "${tok[$r]}" '{}'
    if (($(rank "$r") < $(rank "$need"))); then
      expect "$method $path as $r: 403" 403 "$code"
    else
      [[ $code != 401 && $code != 403 ]] && ok "$method $path as $r is allowed ($code)" ||
        bad "$method $path as $r is allowed: $code"
    fi
  done
done <<'ROUTES'
GET /healthz none
GET /readyz none
GET /metrics viewer
POST /api/v1/projects maintainer
GET /api/v1/projects viewer
GET /api/v1/projects/{id} viewer
PUT /api/v1/projects/{id} maintainer
DELETE /api/v1/projects/{id} admin
POST /api/v1/projects/{id}/pipelines developer
GET /api/v1/projects/{id}/pipelines viewer
GET /api/v1/pipelines/{id} viewer
POST /api/v1/pipelines/{id}/cancel developer
POST /api/v1/pipelines/{id}/retry developer
POST /api/v1/pipelines/{id}/approve maintainer
GET /api/v1/pipelines/{id}/test_report viewer
GET /api/v1/jobs/{id} viewer
GET /api/v1/jobs/{id}/log viewer
GET /api/v1/jobs/{id}/log/stream viewer
GET /api/v1/jobs/{id}/artifacts viewer
POST /api/v1/jobs/{id}/play developer
POST /api/v1/jobs/{id}/retry developer
POST /api/v1/jobs/{id}/cancel developer
GET /api/v1/projects/{id}/environments viewer
GET /api/v1/environments/{id} viewer
POST /api/v1/environments/{id}/stop developer
POST /api/v1/environments/{id}/rollback maintainer
DELETE /api/v1/environments/{id} maintainer
GET /api/v1/environments/{id}/deployments viewer
GET /api/v1/deployments/{id} viewer
POST /api/v1/deployments/{id}/approve developer
POST /api/v1/deployments/{id}/reject developer
POST /api/v1/projects/{id}/protected_environments maintainer
GET /api/v1/projects/{id}/protected_environments viewer
DELETE /api/v1/protected_environments/{id} maintainer
POST /api/v1/lint viewer
GET /api/v1/audit admin
GET /api/v1/jobs/{id}/log/raw viewer
POST /api/v1/session none
GET /api/v1/session viewer
DELETE /api/v1/session viewer
GET /api/v1/tokens admin
POST /api/v1/tokens admin
DELETE /api/v1/tokens/{id} admin
GET /api/v1/projects/{id}/variables developer
POST /api/v1/projects/{id}/variables maintainer
GET /api/v1/projects/{id}/variables/{key} developer
PUT /api/v1/projects/{id}/variables/{key} maintainer
DELETE /api/v1/projects/{id}/variables/{key} maintainer
GET /api/v1/admin/variables admin
POST /api/v1/admin/variables admin
GET /api/v1/admin/variables/{key} admin
PUT /api/v1/admin/variables/{key} admin
DELETE /api/v1/admin/variables/{key} admin
GET /api/v1/projects/{id}/resource_groups viewer
GET /api/v1/projects/{id}/resource_groups/{group} viewer
PUT /api/v1/projects/{id}/resource_groups/{group} maintainer
GET /api/v1/projects/{id}/resource_groups/{group}/upcoming_jobs viewer
GET /api/v1/projects/{id}/freeze_periods viewer
POST /api/v1/projects/{id}/freeze_periods maintainer
GET /api/v1/freeze_periods/{id} viewer
PUT /api/v1/freeze_periods/{id} maintainer
DELETE /api/v1/freeze_periods/{id} maintainer
GET /api/v1/projects/{id}/protected_branches viewer
POST /api/v1/projects/{id}/protected_branches maintainer
GET /api/v1/projects/{id}/protected_branches/{ref} viewer
DELETE /api/v1/projects/{id}/protected_branches/{ref} maintainer
GET /api/v1/projects/{id}/protected_tags viewer
POST /api/v1/projects/{id}/protected_tags maintainer
GET /api/v1/projects/{id}/protected_tags/{ref} viewer
DELETE /api/v1/projects/{id}/protected_tags/{ref} maintainer
GET /api/v1/projects/{id}/feature_flags/environments/{env}/state developer
PUT /api/v1/projects/{id}/feature_flags/environments/{env}/state maintainer
GET /api/v1/projects/{id}/feature_flags/tokens maintainer
POST /api/v1/projects/{id}/feature_flags/tokens maintainer
DELETE /api/v1/projects/{id}/feature_flags/tokens/{key} maintainer
GET /api/v1/projects/{id}/feature_flags/unleash developer
POST /api/v1/projects/{id}/feature_flags/unleash/reset maintainer
GET /api/v1/projects/{id}/feature_flags developer
POST /api/v1/projects/{id}/feature_flags maintainer
GET /api/v1/projects/{id}/feature_flags/{name} developer
PUT /api/v1/projects/{id}/feature_flags/{name} maintainer
DELETE /api/v1/projects/{id}/feature_flags/{name} maintainer
GET /api/v1/projects/{id}/feature_flags/{name}/history developer
PUT /api/v1/projects/{id}/feature_flags/{name}/environments/{env} maintainer
GET /api/client/features unleash
POST /api/client/register unleash
POST /api/client/metrics unleash
GET /api/frontend unleash
POST /api/frontend unleash
OPTIONS /api/frontend none
POST /api/frontend/client/metrics unleash
OPTIONS /api/frontend/client/metrics none
GET /api/v4/feature_flags/unleash/{id}/features unleash
GET /api/v4/feature_flags/unleash/{id}/client/features unleash
POST /api/v4/feature_flags/unleash/{id}/client/register unleash
POST /api/v4/feature_flags/unleash/{id}/client/metrics unleash
POST /api/v1/runners admin
GET /api/v1/runners admin
GET /api/v1/runners/{id} admin
POST /api/v1/runners/{id}/pause admin
POST /api/v1/runners/{id}/resume admin
DELETE /api/v1/runners/{id} admin
GET /api/v1/jobs/{id}/log/search viewer
GET /api/v1/jobs/{id}/artifacts/{key}/download viewer
GET /api/v1/jobs/{id}/artifacts/{key}/file viewer
GET /api/v1/jobs/{id}/artifacts/{key}/files viewer
GET /api/v1/projects/{id}/forge maintainer
PUT /api/v1/projects/{id}/forge maintainer
DELETE /api/v1/projects/{id}/forge maintainer
GET /api/v1/projects/{id}/notifications maintainer
POST /api/v1/projects/{id}/notifications maintainer
POST /api/v1/projects/{id}/notifications/test maintainer
DELETE /api/v1/projects/{id}/notifications/{key} maintainer
GET /api/v1/projects/{id}/deliveries maintainer
GET /api/v1/projects/{id}/secret_findings developer
GET /api/v1/projects/{id}/secret_detection developer
PUT /api/v1/projects/{id}/secret_detection maintainer
POST /api/v4/runners/verify runner
POST /api/v4/runners runner
DELETE /api/v4/runners runner
POST /api/v4/jobs/request runner
PUT /api/v4/jobs/{id} runner
PATCH /api/v4/jobs/{id}/trace runner
POST /api/v4/jobs/{id}/artifacts runner
GET /api/v4/jobs/{id}/artifacts runner
POST /hooks/github signature
POST /hooks/gitlab signature
POST /hooks/gitea signature
ROUTES

# the matrix above must be the route table itself: every row of src/server/api.c's table,
# with the same role, and nothing else
if [[ -n ${SL_SOURCE_DIR:-} && -f $SL_SOURCE_DIR/src/server/api.c ]]; then
  table=$(python3 - "$SL_SOURCE_DIR/src/server/api.c" <<'PY'
import re, sys
src = open(sys.argv[1]).read()
body = src[src.index('const struct route sl_srv_routes[]'):]
body = body[:body.index('};')]
for m in re.finditer(r'\{\s*"(\w+)",\s*"([^"]+)",\s*\w+,\s*(NULL|"(\w+)")\s*\}', body):
    role = m.group(4) or ('signature' if m.group(2).startswith('/hooks/') else
                          'unleash' if m.group(1) != 'OPTIONS' and
                          re.match(r'/api/(client/|frontend|v4/feature_flags/)', m.group(2)) else
                          'runner' if m.group(2).startswith('/api/v4/') else 'none')
    print(m.group(1), m.group(2), role)
PY
)
  expect "the auth matrix covers exactly the route table ($(wc -l <<<"$table") routes)" \
    "$(sort <<<"$table")" "$(printf '%s\n' "${routes_tested[@]}" | sort)"
else
  echo "# SL_SOURCE_DIR not set: the matrix is not compared with the route table" >&2
fi

req GET /metrics "$viewer"
expect "metrics: jobs by status" 1 "$(grep -c '^sluice_jobs{status="success"} 3' <<<"$body")" "$body"
expect "metrics: requests by route and code" 1 \
  "$(grep -c '^sluice_http_requests_total{method="GET",route="/api/v1/pipelines/{id}",code="200"}' <<<"$body")"
expect "metrics: job duration histogram" 1 "$(grep -c '^sluice_job_duration_seconds_count 6' <<<"$body")"
expect "access log is JSON lines with route and status" 1 \
  "$(grep -c '"route":"/api/v1/projects/{id}/pipelines","status":"201"' "$tmp/err" | sed 's/[1-9][0-9]*/1/')"

# bridge jobs: a child pipeline (strategy: depend) and a project the server does not have
(cd "$tmp/repo" && git checkout -q -b bridges main && mkdir -p ci &&
  printf 'variables:\n  TOP: from-parent\nchild:\n  trigger:\n    include: ci/child.yml\n    strategy: depend\nmissing:\n  trigger: no/such-project\n  allow_failure: true\n' > .gitlab-ci.yml &&
  printf 'workflow:\n  rules:\n    - if: $CI_PIPELINE_SOURCE == "parent_pipeline"\nunit:\n  script: [echo "child sees $TOP"]\n' > ci/child.yml &&
  git add . && git -c user.email=t@t -c user.name=t commit -qm bridges)
req POST /api/v1/projects/$proj/pipelines "$dev" '{"ref":"bridges"}'
expect "a pipeline with bridge jobs: 201" 201 "$code" "$body"
bpl=$(jget "['id']")
for _ in $(seq 300); do
  req GET /api/v1/pipelines/$bpl "$viewer"
  status=$(jget "['status']")
  [[ $status == success || $status == failed || $status == canceled ]] && break
  sleep 0.1
done
expect "a depend bridge ends with its child: the pipeline passes (missing project allowed to fail)" \
  success "$status" "$body"
expect "GET /api/v1/pipelines/{id} lists the child as downstream" "1 parent_pipeline success $bpl" \
  "$(jget "['downstream'].__len__()") $(jget "['downstream'][0]['source']") $(jget "['downstream'][0]['status']") $(jget "['downstream'][0]['parent_pipeline_id']")" "$body"
expect "a trigger:project the server does not have fails the bridge" \
  "failed downstream_bridge_project_not_found" \
  "$(jget "['jobs'][1]['status']") $(jget "['jobs'][1]['failure_reason']")" "$body"
child_pl=$(jget "['downstream'][0]['id']")
req GET /api/v1/pipelines/$child_pl "$viewer"
unit_job=$(jget "['jobs'][0]['id']")
req GET /api/v1/jobs/$unit_job/log/raw "$viewer"
expect "the child's job sees the bridge's forwarded variables" 1 "$(grep -c 'child sees from-parent' <<<"$body")" "$body"

req DELETE /api/v1/projects/$proj "$admin"
expect "delete a project: 204" 204 "$code"
req GET /api/v1/projects/$proj "$admin"
expect "it is gone" 404 "$code"

server_stop
expect "SIGTERM is logged" 1 "$(grep -c '"msg":"stopped"' "$tmp/err")"
finish
