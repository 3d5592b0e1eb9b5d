#!/usr/bin/env bash
# Feature flags end to end against the real binary: the management API, an environment's
# Unleash state imported and exported, the client API with ETag/304 (seen in the access
# log), filters, the frontend API and its CORS, GitLab's endpoint, token isolation (a
# project's or environment's token sees nothing of another; a frontend token reads no
# strategies; a developer cannot write), SDK metrics on /metrics, rollouts and their history;
# then real Unleash SDKs (tests/flags/sdk.test.js: unleash-client and unleash-proxy-client
# from tests/flags/node_modules, installed by scripts/install-deps.sh) on every case of the
# Unleash client specification. The SDK part is SKIPPED without node or the modules, except
# under CI=true. server_pg.sh runs this again on PostgreSQL (SL_SERVER_DB).
set -u
bin=${SLUICE_BIN:?SLUICE_BIN is not set}
src=${SL_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
tmp=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT
source "$src/tests/e2e/lib/server.sh"
jx() { python3 -c "import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))" "$1" <<<"$body"; }

server_start --workers 0 || { echo "not ok - the server starts"; exit 1; }
ok "server starts ($url)"

req POST /api/v1/tokens "$admin" '{"name":"m","role":"maintainer"}'
maint=$(jget "['token']")
req POST /api/v1/tokens "$admin" '{"name":"d","role":"developer"}'
dev=$(jget "['token']")
# the projects' repositories only need to exist (a repo_url is read when a project is made)
git init -q --bare "$tmp/empty.git"
req POST /api/v1/projects "$maint" "{\"name\":\"shop\",\"repo_url\":\"$tmp/empty.git\"}"
a=$(jget "['id']")
req POST /api/v1/projects "$maint" "{\"name\":\"blog\",\"repo_url\":\"$tmp/empty.git\"}"
b=$(jget "['id']")
F=/api/v1/projects/$a/feature_flags

# ---- management ----
req POST "$F" "$maint" '{"name":"new-checkout","description":"the new checkout","impression_data":true,
  "tags":[{"type":"simple","value":"web"}],
  "environments":[{"environment":"production","enabled":true,"strategies":[{"name":"default"}]}]}'
expect "a maintainer creates a flag with its production configuration" "201 True" \
  "$code $(jget "['environments'][0]['enabled']")" "$body"
req POST "$F" "$maint" '{"name":"new-checkout"}'
expect "the same name again: 409" 409 "$code"
req POST "$F" "$maint" '{"name":"tokens"}'
expect "a name the routes take for themselves: 400" 400 "$code"
req POST "$F" "$dev" '{"name":"by-dev"}'
expect "a developer cannot create a flag" 403 "$code"
req PUT "$F/new-checkout/environments/production" "$dev" '{"enabled":false}'
expect "a developer cannot change one" 403 "$code"
req GET "$F" "$dev"
expect "a developer reads the flags" "200 new-checkout" "$code $(jget "[0]['name']")"
req PUT "$F/new-checkout/environments/staging" "$maint" \
  '{"enabled":true,"strategies":[{"name":"flexibleRollout","constraints":[{"contextName":"userId","operator":"NOPE","values":[]}]}]}'
expect "an unknown operator compiles (the SDKs ignore it) and is stored" 200 "$code" "$body"
req PUT "$F/new-checkout/environments/staging" "$maint" '{"strategies":[{"name":"default","constraints":"x"}]}'
expect "a strategy of the wrong shape: 400 naming its path" "400 1" \
  "$code $(jget "['error']['message']" | grep -c 'constraints')" "$body"
req PUT "$F/new-checkout/environments/staging" "$maint" '{"rollout":25}'
expect "a rollout step keeps the flexibleRollout and sets its percentage" "200 25" \
  "$code $(jx "[e for e in d['environments'] if e['environment']=='staging'][0]['strategies'][0]['parameters']['rollout']")" "$body"
req PUT "$F/new-checkout/environments/staging" "$maint" '{"rollout":101}'
expect "a rollout over 100: 400" 400 "$code"
req GET "$F/new-checkout/history" "$dev"
expect "the history names the rollout, newest first" "200 flag.rollout token:" \
  "$code $(jget "[0]['action']") $(jget "[0]['actor']" | sed 's/[0-9]*$//')" "$body"
req GET /api/v1/audit "$admin"
expect "the rollout is in the audit trail" 1 "$(jx "[e['action'] for e in d]" | grep -c flag.rollout)"
req PUT "$F/new-checkout" "$maint" '{"stale":true}'
expect "attributes change" "200 True" "$code $(jget "['stale']")"
req PUT "$F/new-checkout" "$maint" '{"type":"odd"}'
expect "an unknown type: 400" 400 "$code"

# a name with UTF-8 and dots travels in the path
req POST "$F" "$maint" '{"name":"café.ünïcode"}'
expect "a UTF-8 flag name is created" 201 "$code"
req GET "$F/caf%C3%A9.%C3%BCn%C3%AFcode" "$dev"
expect "and found by its percent-encoded name" "200 café.ünïcode" "$code $(jget "['name']")"
req DELETE "$F/caf%C3%A9.%C3%BCn%C3%AFcode" "$maint"
expect "and deleted" 204 "$code"

# ---- state import/export ----
state='{"version":1,"segments":[{"id":1,"name":"beta","constraints":[{"contextName":"plan","operator":"IN","values":["beta"]}]}],
 "features":[{"name":"search.v2","enabled":true,"strategies":[{"name":"default","segments":[1]}],
   "variants":[{"name":"blue","weight":1000,"payload":{"type":"string","value":"b"}}]},
  {"name":"dark-mode","enabled":true,"strategies":[{"name":"userWithId","parameters":{"userIds":"7,8"}}]}]}'
req PUT "$F/environments/production/state" "$dev" "$state"
expect "a developer cannot import" 403 "$code"
req PUT "$F/environments/production/state" "$maint" "$state"
expect "a maintainer imports production" "200 2 1" "$code $(jget "['features']") $(jget "['segments']")" "$body"
req GET "$F/environments/production/state" "$dev"
expect "the export holds every flag, new-checkout disabled (absent from the import)" \
  "200 ['dark-mode', 'new-checkout', 'search.v2'] False" \
  "$code $(jx "[f['name'] for f in d['features']]") $(jx "[f['enabled'] for f in d['features'] if f['name']=='new-checkout'][0]")" "$body"
req GET "$F/environments/staging/state" "$dev"
expect "staging keeps its own configuration" True \
  "$(jx "[f['enabled'] for f in d['features'] if f['name']=='new-checkout'][0]")"
req PUT "$F/environments/production/state" "$maint" '{"version":1,"features":[{"name":"x","strategies":[{"name":"default","constraints":"bad"}]}]}'
expect "an import that would not compile: 400, and nothing changes" "400 3" \
  "$code $(req GET "$F/environments/production/state" "$dev"; jget "['features'].__len__()")"
req PUT "$F/environments/production/state" "$maint" '{"version":1,"features":"no"}'
expect "an import of the wrong shape: 400" 400 "$code"

# ---- tokens ----
req POST "$F/tokens" "$dev" '{"type":"client","environment":"production"}'
expect "a developer cannot make Unleash tokens" 403 "$code"
req POST "$F/tokens" "$maint" '{"type":"client","environment":"production"}'
expect "a client token is <project>:<environment>.<secret>" "201 shop:production." \
  "$code $(jget "['token']" | cut -c1-16)"
cprod=$(jget "['token']")
ctid=$(jget "['id']")
req POST "$F/tokens" "$maint" '{"type":"client","environment":"staging"}'
cstage=$(jget "['token']")
req POST "$F/tokens" "$maint" '{"type":"frontend","environment":"production","allowed_origins":["https://shop.example"]}'
fprod=$(jget "['token']")
req POST "$F/tokens" "$maint" '{"type":"admin","environment":"production"}'
expect "an unknown token type: 400" 400 "$code"
req POST /api/v1/projects/$b/feature_flags "$maint" '{"name":"blog-only","environments":[{"environment":"production","enabled":true}]}'
req POST /api/v1/projects/$b/feature_flags/tokens "$maint" '{"type":"client","environment":"production"}'
cblog=$(jget "['token']")
req GET "$F/tokens" "$maint"
expect "tokens are listed without their secret" "200 False" "$code $(grep -c "${cprod##*.}" <<<"$body" | sed 's/^0$/False/;s/^[1-9].*/True/')"

# ---- the client API ----
features() { # features TOKEN [CURL ARGS...] -> $code, $body, $etag
  local t=$1
  shift
  rm -f "$tmp/body"
  code=$(curl -s -D "$tmp/h" -o "$tmp/body" -w '%{http_code}' -H "Authorization: $t" "$@" "$url/api/client/features${q:-}")
  body=$(cat "$tmp/body" 2>/dev/null)
  etag=$(sed -n 's/^[Ee][Tt][Aa][Gg]: *//p' "$tmp/h" | tr -d '\r')
}
q= features "$cprod"
expect "a client token reads its environment" "200 ['dark-mode', 'new-checkout', 'search.v2'] 1" \
  "$code $(jx "[f['name'] for f in d['features']]") $(jget "['segments'].__len__()")" "$body"
expect "in Unleash's shape" "2 shop default" \
  "$(jget "['version']") $(jget "['features'][2]['project']") $(jget "['features'][2]['strategies'][0]['name']")"
first=$etag
q= features "$cprod" -H "If-None-Match: $first"
expect "the same ETag again: 304 and no body" "304 " "$code $body"
q= features "$cstage"
expect "the staging token sees staging" "200 True" \
  "$code $(jx "[f['enabled'] for f in d['features'] if f['name']=='new-checkout'][0]")"
q= features "$cblog"
expect "project B's token sees nothing of A" "200 ['blog-only']" "$code $(jx "[f['name'] for f in d['features']]")"
q= features "$fprod"
expect "a frontend token cannot read strategies" 403 "$code"
q= features "Bearer $maint"
expect "a sluice API token is no Unleash token" 401 "$code"
last=${cprod: -1}
q= features "${cprod%?}$([[ $last == 0 ]] && echo 1 || echo 0)"
expect "a wrong secret: 401" 401 "$code"
q='?namePrefix=search' features "$cprod"
expect "namePrefix filters" "['search.v2']" "$(jx "[f['name'] for f in d['features']]")"
q='?tag=simple:web' features "$cprod"
expect "tag filters" "['new-checkout']" "$(jx "[f['name'] for f in d['features']]")"
q='?project=blog' features "$cprod"
expect "project filters (another project: nothing)" "[]" "$(jx "[f['name'] for f in d['features']]")"
req PUT "$F/dark-mode/environments/production" "$maint" '{"enabled":false}'
q= features "$cprod" -H "If-None-Match: $first"
expect "after a change the old ETag gets the new state" "200 False" \
  "$code $(jx "[f['enabled'] for f in d['features'] if f['name']=='dark-mode'][0]")"
grep -q '"path":"/api/client/features".*"status":"304"' "$tmp/err" &&
  ok "the access log shows the 304" || bad "the access log shows the 304" "$(grep client/features "$tmp/err" | tail -3)"
# the compiled environments are cached: a poll of an unchanged one is a hit, a change of the
# project compiles it again once
cache() { # cache -> "BUILDS HITS" from /metrics
  req GET /metrics "$admin"
  sed -n 's/^sluice_feature_flag_cache_\(builds\|hits\)_total //p' <<<"$body" | tr '\n' ' '
}
read -r b0 h0 <<<"$(cache)"
q= features "$cprod"
q= features "$cprod"
read -r b1 h1 <<<"$(cache)"
expect "polls of an unchanged environment come from the cache" "$b0 $((h0 + 2))" "$b1 $h1"
req PUT "$F/dark-mode/environments/production" "$maint" '{"enabled":true}'
q= features "$cprod"
q= features "$cprod"
read -r b2 h2 <<<"$(cache)"
expect "a change compiles the environment again, once" "$((b1 + 1)) $((h1 + 1))" "$b2 $h2"
req PUT "$F/dark-mode/environments/production" "$maint" '{"enabled":false}'
req DELETE "$F/tokens/$ctid" "$maint"
q= features "$cprod"
expect "a revoked token: 401" 401 "$code"

# metrics from an SDK, counted per flag, environment and variant
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: $cstage" -H 'Content-Type: application/json' \
  --data '{"appName":"a","instanceId":"i","bucket":{"start":"2026-01-01T00:00:00Z","stop":"2026-01-01T00:01:00Z",
  "toggles":{"new-checkout":{"yes":3,"no":1,"variants":{"disabled":4}},"made-up":{"yes":9}}}}' "$url/api/client/metrics")
expect "client metrics are accepted" 202 "$code"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: $cstage" -H 'Content-Type: application/json' \
  --data '{"appName":"a","instanceId":"i","sdkVersion":"x"}' "$url/api/client/register")
expect "a registration is accepted" 202 "$code"
req GET /metrics "$admin"
expect "/metrics counts yes and no per flag and environment" 2 \
  "$(grep -Ec "sluice_feature_flag_evaluations_total\{project=\"$a\",environment=\"staging\",flag=\"new-checkout\",result=\"(yes\"\} 3|no\"\} 1)" <<<"$body")"
expect "and variants" 1 "$(grep -c "sluice_feature_flag_variants_total{.*flag=\"new-checkout\",variant=\"disabled\"} 4" <<<"$body")"
expect "names the SDK does not know are not counted" 0 "$(grep -c made-up <<<"$body")"

# ---- the frontend API ----
front() { # front TOKEN [CURL ARGS...]
  local t=$1
  shift
  rm -f "$tmp/body"
  code=$(curl -s -D "$tmp/h" -o "$tmp/body" -w '%{http_code}' -H "Authorization: $t" "$@")
  body=$(cat "$tmp/body" 2>/dev/null)
}
front "$fprod" "$url/api/frontend?userId=7"
expect "the frontend answers enabled flags only (dark-mode is off, user 7 is outside search.v2's segment)" "200 []" \
  "$code $(jx "[t['name'] for t in d['toggles']]")" "$body"
req PUT "$F/dark-mode/environments/production" "$maint" '{"enabled":true}'
front "$fprod" "$url/api/frontend?userId=7&properties%5Bplan%5D=beta"
expect "GET context: userId and properties[plan]" "['dark-mode', 'search.v2'] blue string" \
  "$(jx "[t['name'] for t in d['toggles']]") $(jget "['toggles'][1]['variant']['name']") $(jget "['toggles'][1]['variant']['payload']['type']")" "$body"
front "$fprod" "$url/api/frontend?userId=9&properties%5Bplan%5D=beta"
expect "another user, another answer" "['search.v2']" "$(jx "[t['name'] for t in d['toggles']]")"
front "$fprod" -H 'Content-Type: application/json' --data '{"context":{"userId":"8","environment":"nope","properties":{"plan":"beta"}}}' "$url/api/frontend"
expect "POST {context}: the token, not context.environment, picks the environment" "200 ['dark-mode', 'search.v2']" \
  "$code $(jx "[t['name'] for t in d['toggles']]")"
expect "the answer carries no strategies" 0 "$(grep -c strategies <<<"$body")"
front "$fprod" -H 'Origin: https://shop.example' "$url/api/frontend"
expect "an allowed origin may read the answer" "https://shop.example" \
  "$(sed -n 's/^[Aa]ccess-[Cc]ontrol-[Aa]llow-[Oo]rigin: *//p' "$tmp/h" | tr -d '\r')"
front "$fprod" -H 'Origin: https://evil.example' "$url/api/frontend"
expect "another origin may not" 0 "$(grep -ci '^access-control-allow-origin' "$tmp/h")"
code=$(curl -s -D "$tmp/h" -o /dev/null -w '%{http_code}' -X OPTIONS -H 'Origin: https://shop.example' \
  -H 'Access-Control-Request-Method: GET' "$url/api/frontend")
expect "a preflight is answered" "204 1" "$code $(grep -ci '^access-control-allow-headers:.*authorization' "$tmp/h")"
front "$cstage" "$url/api/frontend"
expect "a client token is not a frontend token" 403 "$code"

# ---- GitLab's endpoint ----
req GET "$F/unleash" "$dev"
expect "the project's API URL and instance id, as GitLab shows them" \
  "200 $url/api/v4/feature_flags/unleash/$a glffct-" "$code $(jget "['api_url']") $(jget "['instance_id']" | cut -c1-7)"
inst=$(jget "['instance_id']")
gl() { rm -f "$tmp/body"; code=$(curl -s -o "$tmp/body" -w '%{http_code}' "$@"); body=$(cat "$tmp/body" 2>/dev/null); }
gl -H "UNLEASH-INSTANCEID: $inst" -H 'UNLEASH-APPNAME: staging' "$url/api/v4/feature_flags/unleash/$a/client/features"
expect "instance id + app name select the environment" "200 True" \
  "$code $(jx "[f['enabled'] for f in d['features'] if f['name']=='new-checkout'][0]")" "$body"
gl "$url/api/v4/feature_flags/unleash/$a/features?instance_id=$inst&app_name=production"
expect "or as query parameters (the older path)" "200 3" "$code $(jget "['features'].__len__()")"
gl -H "UNLEASH-INSTANCEID: $inst" -H 'UNLEASH-APPNAME: production' "$url/api/v4/feature_flags/unleash/$b/client/features"
expect "project A's instance id opens nothing of B" 401 "$code"
req POST "$F/unleash/reset" "$dev"
expect "a developer cannot reset the instance id" 403 "$code"
req POST "$F/unleash/reset" "$maint"
expect "a maintainer resets it" 200 "$code"
gl -H "UNLEASH-INSTANCEID: $inst" -H 'UNLEASH-APPNAME: production' "$url/api/v4/feature_flags/unleash/$a/client/features"
expect "the old instance id stops working" 401 "$code"

# ---- rollouts from a pipeline: a job's CI_JOB_TOKEN (a job taken over the runner API) ----
printf 'deploy:\n  script: [echo deploy]\n' | repo_ci "$tmp/repo" || bad "a git repository is made"
req POST /api/v1/projects "$maint" "{\"name\":\"deployer\",\"repo_url\":\"$tmp/repo\"}"
d=$(jget "['id']")
req POST /api/v1/projects/$d/feature_flags "$maint" '{"name":"checkout"}'
req POST /api/v1/runners "$admin" '{"name":"flags","tags":[]}'
rtok=$(jget "['token']")
req POST /api/v1/projects/$d/pipelines "$maint" '{"ref":"main"}'
pipe=$(jget "['id']")
code=$(curl -s -o "$tmp/job" -w '%{http_code}' -H 'Content-Type: application/json' \
  --data "{\"token\":\"$rtok\",\"info\":{\"features\":{}}}" "$url/api/v4/jobs/request")
expect "the runner takes the job" 201 "$code" "$(cat "$tmp/job")"
jobvar() { python3 -c "import json,sys; print([v['value'] for v in json.load(open(sys.argv[1]))['variables'] if v['key']==sys.argv[2]][0])" "$tmp/job" "$1"; }
jid=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['id'])" "$tmp/job")
jtok=$(jobvar CI_JOB_TOKEN)
# (--project: the server's jobs get CI_PROJECT_ID 1 whatever their project, from plan/context.c)
out=$(env -u SLUICE_URL -u SLUICE_TOKEN CI_SERVER_URL="$(jobvar CI_SERVER_URL)" CI_JOB_TOKEN="$jtok" \
  "$bin" flag set checkout --env production --rollout 10 --project "$d" 2>&1)
expect "sluice flag set in the job, with its CI_SERVER_URL and CI_JOB_TOKEN" "0 checkout: production rolled out to 10%" "$? $out"
req GET /api/v1/projects/$d/feature_flags/checkout/history "$dev"
expect "the rollout step names its pipeline and job" "flag.rollout job:$jid $pipe $jid" \
  "$(jget "[0]['action']") $(jget "[0]['actor']") $(jget "[0]['pipeline_id']") $(jget "[0]['job_id']")" "$body"
out=$(CI_JOB_TOKEN="$jtok" "$bin" flag list --url "$url" --project "$d" --env production 2>&1)
expect "sluice flag list with the job token" 1 "$(grep -c 'checkout .*production:on(10%)' <<<"$out")" "$out"
code=$(curl -s -o /dev/null -w '%{http_code}' -X PUT -H "Authorization: Bearer $jtok" \
  --data '{"enabled":true}' "$url/api/v1/projects/$a/feature_flags/new-checkout/environments/production")
expect "a job token cannot touch another project's flags" 403 "$code"
code=$(curl -s -o /dev/null -w '%{http_code}' -X PUT -H "Authorization: Bearer $jtok" --data '{}' "$url/api/v1/projects/$d/feature_flags/checkout")
expect "nor do more than read and roll out" 401 "$code"
code=$(curl -s -o /dev/null -w '%{http_code}' -X PUT -H 'Content-Type: application/json' -H "JOB-TOKEN: $jtok" \
  --data "{\"token\":\"$jtok\",\"state\":\"success\"}" "$url/api/v4/jobs/$jid")
out=$(CI_JOB_TOKEN="$jtok" "$bin" flag enable checkout --env production --url "$url" --project "$d" 2>&1)
expect "once the job is over its token does nothing" 1 "$(grep -c 'not running' <<<"$out")" "$out"
out=$("$bin" flag enable checkout --env staging --url "$url" --project "$d" --token "$maint" 2>&1)
expect "sluice flag enable from a laptop with an API token" "checkout: enabled in staging" "$out"
out=$("$bin" flag set checkout --env staging --rollout 101 --url "$url" --project "$d" --token "$maint" 2>&1)
expect "a rollout over 100 is a usage error" 2 "$?"

# ---- real SDKs on the whole specification ----
mods=$src/tests/flags/node_modules
if ! command -v node >/dev/null || [[ ! -d $mods/unleash-client || ! -d $mods/unleash-proxy-client ]]; then
  echo "SKIPPED: the SDK part needs node and tests/flags/node_modules (scripts/install-deps.sh)" >&2
  [[ ${CI:-} == true ]] && bad "the Unleash SDKs are installed (CI=true)"
  server_stop
  finish || exit 1
  ((fail == 0)) && exit 77
fi
req POST /api/v1/projects "$maint" "{\"name\":\"spec\",\"repo_url\":\"$tmp/empty.git\"}"
spec_id=$(jget "['id']")
NODE_PATH=$mods node "$src/tests/flags/sdk.test.js" "$url" "$maint" "$spec_id" "$src/tests/data/unleash-spec" >"$tmp/sdk.out" 2>&1
rc=$?
sed 's/^/  /' "$tmp/sdk.out"
sdk_pass=$(sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\1/p' "$tmp/sdk.out")
expect "the SDK tests pass (${sdk_pass:-0} checks)" 0 "$rc"
grep -q '"path":"/api/client/features".*"status":"304"' "$tmp/err" && ok "the SDK's second poll is a 304 in the access log" ||
  bad "the SDK's second poll is a 304 in the access log"
req GET /metrics "$admin"
expect "the SDK's metrics reach /metrics" 1 \
  "$(grep -c "sluice_feature_flag_evaluations_total{project=\"$spec_id\",environment=\"spec-01\",flag=\"Feature.A\",result=\"yes\"} [1-9]" <<<"$body")"

server_stop
finish
