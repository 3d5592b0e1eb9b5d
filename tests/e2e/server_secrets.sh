#!/usr/bin/env bash
# Protected refs and API tokens on a real `sluice serve`: the default branch protected from
# the project's creation, protected branches and tags by name and wildcard deciding
# CI_COMMIT_REF_PROTECTED (409 on a second protection, unprotecting the default branch),
# audit events; tokens with an expiry (API and CLI) that stop working when it passes; and
# failed authentications rate-limited per address (429 with Retry-After, /metrics).
# On SQLite here and on PostgreSQL through server_pg.sh (SL_SERVER_DB).
. "$(dirname "$0")/lib/e2e.sh"
needs curl
chmod 0711 "$tmp" # a root server runs jobs as nobody: the data directory's path must be walkable
# shellcheck source=lib/server.sh
. "$src/tests/e2e/lib/server.sh"

gitc() { git -C "$tmp/repo" "$@"; }
repo_ci "$tmp/repo" one <<'YML' || exit 1
show:
  script: [echo "protected=$CI_COMMIT_REF_PROTECTED ref=$CI_COMMIT_REF_NAME"]
YML
gitc branch release/1.0
gitc branch feature
gitc tag v1.0
gitc tag nightly

server_start || { bad "server starts"; finish; exit 1; }
ok "server starts ($url)"
maint=$("$bin" token create --role maintainer --data "$tmp/data" "${db[@]}" 2>"$tmp/cli_err")
expect "token create names the new token's id on stderr" 1 \
  "$(grep -c '^sluice: token [0-9]* created' "$tmp/cli_err")" "$(cat "$tmp/cli_err")"
dev=$("$bin" token create --role developer --data "$tmp/data" "${db[@]}" 2>/dev/null)
req POST /api/v1/projects "$maint" "{\"name\":\"app\",\"repo_url\":\"file://$tmp/repo\",\"default_branch\":\"main\"}"
expect "project created" 201 "$code" "$body"
proj=$(jget "['id']")

# ---- protected branches and tags ----
req GET "/api/v1/projects/$proj/protected_branches" "$dev"
expect "the default branch is protected from the project's creation" "200 main" \
  "$code $(jget "[0]['name']")" "$body"
req POST "/api/v1/projects/$proj/protected_branches" "$maint" '{"name":"release/*"}'
expect "protect release/* (wildcard): 201" "201 release/*" "$code $(jget "['name']")" "$body"
req POST "/api/v1/projects/$proj/protected_branches" "$maint" '{"name":"release/*"}'
expect "protecting it again: 409 with GitLab's message" "409 Protected branch 'release/*' already exists" \
  "$code $(jget "['error']['message']")" "$body"
req POST "/api/v1/projects/$proj/protected_branches?name=hotfix-*" "$maint"
expect "the name may come as ?name= as in GitLab's API" "201 hotfix-*" "$code $(jget "['name']")" "$body"
req POST "/api/v1/projects/$proj/protected_branches" "$maint" '{"name":""}'
expect "an empty name: 400" 400 "$code" "$body"
req POST "/api/v1/projects/$proj/protected_branches" "$maint" '{"nmae":"x"}'
expect "an unknown field: 400 naming it" "400 1" "$code $(grep -c nmae <<<"$body")" "$body"
req GET "/api/v1/projects/$proj/protected_branches/release%2F*" "$dev"
expect "one protected branch by its (URL-encoded) name" "200 release/*" "$code $(jget "['name']")" "$body"
req GET "/api/v1/projects/$proj/protected_branches/nope" "$dev"
expect "an unprotected name: 404" 404 "$code" "$body"
req POST "/api/v1/projects/$proj/protected_tags" "$maint" '{"name":"v*"}'
expect "protect tags v*: 201" 201 "$code" "$body"
req POST "/api/v1/projects/999999/protected_tags" "$maint" '{"name":"v*"}'
expect "an unknown project: 404" 404 "$code" "$body"

pipeline_done() {
  req GET "/api/v1/pipelines/$1" "$maint"
  [[ $(jget "['status']") =~ ^(success|failed|canceled)$ ]]
}
protected_of() { # protected_of REF: CI_COMMIT_REF_PROTECTED of a pipeline on REF
  req POST "/api/v1/projects/$proj/pipelines" "$dev" "{\"ref\":\"$1\"}"
  local pl
  pl=$(jget "['id']")
  wait_for 60 pipeline_done "$pl" || { echo "pipeline on $1 did not finish: $body" >&2; return; }
  local job
  job=$(jget "['jobs'][0]['id']")
  req GET "/api/v1/jobs/$job/log" "$dev"
  sed -n 's/.*protected=\([a-z]*\) ref=.*/\1/p' <<<"$body" | head -1
}
expect "main (the default branch) is protected" true "$(protected_of main)"
expect "release/1.0 matches release/*" true "$(protected_of release/1.0)"
expect "feature is not protected" false "$(protected_of feature)"
expect "tag v1.0 matches v*" true "$(protected_of v1.0)"
expect "tag nightly is not protected" false "$(protected_of nightly)"

req DELETE "/api/v1/projects/$proj/protected_branches/main" "$maint"
expect "unprotect the default branch: 204" 204 "$code" "$body"
req DELETE "/api/v1/projects/$proj/protected_branches/main" "$maint"
expect "unprotecting it again: 404" 404 "$code" "$body"
expect "main is no longer protected" false "$(protected_of main)"
req DELETE "/api/v1/projects/$proj/protected_tags/v%2A" "$maint"
expect "unprotect tags v*: 204" 204 "$code" "$body"
expect "tag v1.0 is no longer protected" false "$(protected_of v1.0)"

req GET "/api/v1/audit?limit=100" "$("$bin" token create --role admin --data "$tmp/data" "${db[@]}" 2>/dev/null)"
expect "protections and unprotections are audit events" "2 1 1 1" \
  "$(grep -o '"protected_branch.create"' <<<"$body" | wc -l) $(grep -o '"protected_branch.delete"' <<<"$body" | wc -l) $(grep -o '"protected_tag.create"' <<<"$body" | wc -l) $(grep -o '"protected_tag.delete"' <<<"$body" | wc -l)" "$body"

# ---- stored CI/CD variables reach jobs, as GitLab chooses them ----
repo_ci "$tmp/vrepo" vars <<'YML' || exit 1
variables:
  FROM_YAML: yaml
  OVERRIDDEN: yaml-value
show:
  script:
    - echo "scoped=$SCOPED override=$OVERRIDDEN level=$LEVEL raw=$RAW_ONE yaml=$FROM_YAML"
    - echo "prot=[${PROT_ONLY:-}] api=$FROM_API"
    - echo "freeze=[${CI_DEPLOY_FREEZE:-}]"
    - echo "project_id=$CI_PROJECT_ID"
    - echo "file=$(cat "$CA_FILE") path_is_file=$([ -f "$CA_FILE" ] && echo yes)"
    - echo "$CA_FILE" > where
  artifacts: {paths: [where]}
tokens:
  script:
    - echo "token $CI_JOB_TOKEN"
    - python3 -c 'import os; print("reversed", os.environ["CI_JOB_TOKEN"][::-1])'
    - echo "git_http=$(curl -s -o /dev/null -w '%{http_code}' -u "gitlab-ci-token:$CI_JOB_TOKEN" "$CI_SERVER_URL/vars.git/info/refs?service=git-upload-pack")"
    - echo "envs=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization:Bearer $CI_JOB_TOKEN" "$CI_SERVER_URL/api/v1/projects/$CI_PROJECT_ID/environments")"
    - echo "other_envs=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization:Bearer $CI_JOB_TOKEN" "$CI_SERVER_URL/api/v1/projects/1/environments")"
deploy:
  environment: {name: production}
  script: [echo "scoped=$SCOPED"]
leak:
  script:
    - echo "whole $SECRET"
    - printf 'split %s' "${SECRET:0:9}"; sleep 0.2; printf '%s\n' "${SECRET:9}"
    - printf '%s' "$SECRET" | base64
    - python3 -c 'import os, urllib.parse; print(urllib.parse.quote(os.environ["SECRET"], safe=""))'
    - echo "stderr $SECRET" >&2
    - exit 1
  after_script:
    - echo "after $SECRET"
YML
git -C "$tmp/vrepo" branch feature || exit 1
admin=$("$bin" token create --role admin --data "$tmp/data" "${db[@]}" 2>/dev/null)
req POST /api/v1/projects "$maint" "{\"name\":\"vars\",\"repo_url\":\"file://$tmp/vrepo\",\"default_branch\":\"main\"}"
vproj=$(jget "['id']")
secret='Sup3r-s3cret_deploy+key/42'
setvar() { # setvar PATH JSON
  req POST "$1" "$admin" "$2"
  [[ $code == 201 ]] || bad "variable $2 created" "$code $body"
}
setvar /api/v1/admin/variables '{"key":"LEVEL","value":"instance"}'
setvar /api/v1/admin/variables '{"key":"INSTANCE_ONLY","value":"i"}'
setvar "/api/v1/projects/$vproj/variables" '{"key":"LEVEL","value":"project"}'
setvar "/api/v1/projects/$vproj/variables" '{"key":"SCOPED","value":"any"}'
setvar "/api/v1/projects/$vproj/variables" '{"key":"SCOPED","value":"prod","environment_scope":"production"}'
setvar "/api/v1/projects/$vproj/variables" '{"key":"SCOPED","value":"prod-ish","environment_scope":"prod*"}'
setvar "/api/v1/projects/$vproj/variables" '{"key":"OVERRIDDEN","value":"project-value"}'
setvar "/api/v1/projects/$vproj/variables" '{"key":"RAW_ONE","value":"$FROM_YAML-kept","raw":true}'
setvar "/api/v1/projects/$vproj/variables" '{"key":"PROT_ONLY","value":"p","protected":true}'
setvar "/api/v1/projects/$vproj/variables" '{"key":"FROM_API","value":"project"}'
setvar "/api/v1/projects/$vproj/variables" '{"key":"CA_FILE","value":"-----CERT-----","variable_type":"file"}'
setvar "/api/v1/projects/$vproj/variables" "{\"key\":\"SECRET\",\"value\":\"$secret\",\"masked\":true}"

vpipeline() { # vpipeline REF [VARIABLES-JSON] -> $vpl, finished
  req POST "/api/v1/projects/$vproj/pipelines" "$dev" "{\"ref\":\"$1\"${2:+,\"variables\":$2}}"
  vpl=$(jget "['id']")
  wait_for 60 pipeline_done "$vpl" || bad "pipeline $vpl finishes" "$body"
}
job_log() { # job_log NAME: the log of job NAME of pipeline $vpl, in $body
  req GET "/api/v1/pipelines/$vpl" "$dev"
  local id
  id=$(python3 -c "import json,sys; print([j['id'] for j in json.load(sys.stdin)['jobs'] if j['name']==sys.argv[1]][0])" "$1" <<<"$body")
  req GET "/api/v1/jobs/$id/log" "$dev"
}
out_line() { grep -v '^\$ ' <<<"$body" | grep -o "$1.*" | head -1; } # what the job printed
vpipeline main '{"FROM_API":"api"}'
job_log show
expect "CI_PROJECT_ID is the server's project id" "project_id=$vproj" "$(out_line project_id=)" "$body"
expect "scopes, project over instance and YAML, raw kept, YAML global kept" \
  'scoped=any override=project-value level=project raw=$FROM_YAML-kept yaml=yaml' \
  "$(out_line scoped=)" "$body"
expect "a protected variable on a protected ref; the API's variables rank above the project's" \
  "prot=[p] api=api" "$(out_line prot=)" "$body"
expect "a file variable is a path to a file holding the value" "file=-----CERT----- path_is_file=yes" \
  "$(out_line file=)" "$body"
job_log deploy
expect "the exact environment scope wins over a pattern and *" "scoped=prod" \
  "$(out_line scoped=)" "$body"
job_log tokens
expect "CI_JOB_TOKEN is masked in the log" 1 "$(grep -c '^token \[MASKED\]$' <<<"$body")" "$body"
expect "... and works for git over HTTP while the job runs" "git_http=200" "$(out_line git_http=)" "$body"
expect "... and lists its own project's environments, not another's" "envs=200 other_envs=403" \
  "$(out_line envs=) $(out_line other_envs=)" "$body"
job_token=$(grep '^reversed ' <<<"$body" | cut -d' ' -f2 | python3 -c 'import sys; print(sys.stdin.read().strip()[::-1])')
code=$(curl -s -o /dev/null -w '%{http_code}' -u "gitlab-ci-token:$job_token" "$url/vars.git/info/refs?service=git-upload-pack")
expect "a job token stops working when its job ends" 1 "$([[ ${job_token:0:6} == glcbt- && $code =~ ^40[13]$ ]] && echo 1)" "$code ${job_token:0:6}"
job_log leak
expect "the masked variable's value, split, base64 and URL-encoded, is masked (stdout, stderr, after_script)" \
  "0 6" "$(grep -c "$secret\|c3VwM3ItczNjcmV0\|U3VwM3Itc zNjcmV0\|%2Bkey%2F42" <<<"$body") $(grep -c '\[MASKED\]' <<<"$body")" "$body"
vpipeline feature
job_log show
expect "no protected variable on an unprotected ref" "prot=[] api=project" \
  "$(out_line prot=)" "$body"
expect "file variables are removed with the job" 0 "$(find "$tmp/data/builds" -name 'CA_FILE' 2>/dev/null | wc -l)"
# ---- deploy freezes: CI_DEPLOY_FREEZE inside a freeze period ----
expect "no freeze period: CI_DEPLOY_FREEZE unset" "freeze=[]" "$(out_line freeze=)"
crons=$(python3 -c '
import datetime as d
n = d.datetime.now(d.timezone.utc)
c = lambda t: f"{t.minute} {t.hour} * * *"
print(c(n - d.timedelta(hours=2)), c(n + d.timedelta(hours=2)), c(n + d.timedelta(hours=3)), sep="|")')
IFS='|' read -r before after later <<<"$crons"
req POST "/api/v1/projects/$vproj/freeze_periods" "$maint" "{\"freeze_start\":\"$after\",\"freeze_end\":\"$later\",\"cron_timezone\":\"Europe/Berlin\"}"
expect "a freeze period later today: 201" "201 Europe/Berlin" "$code $(jget "['cron_timezone']")" "$body"
fp_later=$(jget "['id']")
vpipeline feature
job_log show
expect "a freeze that has not begun: still unset" "freeze=[]" "$(out_line freeze=)" "$body"
req POST "/api/v1/projects/$vproj/freeze_periods" "$maint" "{\"freeze_start\":\"$before\",\"freeze_end\":\"$after\"}"
expect "a freeze period around now (UTC by default): 201" "201 UTC" "$code $(jget "['cron_timezone']")" "$body"
fp_now=$(jget "['id']")
vpipeline feature
job_log show
expect "inside a freeze period: CI_DEPLOY_FREEZE=true" "freeze=[true]" "$(out_line freeze=)" "$body"
req GET "/api/v1/projects/$vproj/freeze_periods" "$dev"
expect "developers list the freeze periods" "200 2" "$code $(jget ".__len__()")" "$body"
req PUT "/api/v1/freeze_periods/$fp_now" "$maint" '{"freeze_end":"61 * * * *"}'
expect "a cron that is not one: 400 naming the field" "400 1" "$code $(grep -c 'freeze_end is invalid' <<<"$body")" "$body"
req POST "/api/v1/projects/$vproj/freeze_periods" "$maint" '{"freeze_start":"0 1 * * *","freeze_end":"0 2 * * *","cron_timezone":"Mars/Olympus"}'
expect "an unknown time zone: 400" "400 1" "$code $(grep -c 'cron_timezone is invalid' <<<"$body")" "$body"
req PUT "/api/v1/freeze_periods/$fp_now" "$maint" "{\"freeze_start\":\"$after\",\"freeze_end\":\"$later\"}"
expect "moved later: 200" "200 $after" "$code $(jget "['freeze_start']")" "$body"
vpipeline feature
job_log show
expect "out of every freeze again: unset" "freeze=[]" "$(out_line freeze=)" "$body"
req DELETE "/api/v1/freeze_periods/$fp_later" "$maint"
expect "delete a freeze period: 204" 204 "$code"
req GET "/api/v1/freeze_periods/$fp_later" "$dev"
expect "it is gone: 404" 404 "$code"

b64=$(printf '%s' "$secret" | base64)
urlenc=$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$secret")
hits=$(grep -rlaF -e "$secret" -e "$b64" -e "$urlenc" "$tmp/data" "$tmp/out" "$tmp/err" 2>/dev/null)
if [[ -n ${SL_SERVER_DB:-} ]] && command -v pg_dump >/dev/null; then
  pg_dump "$SL_SERVER_DB" >"$tmp/pg.dump" 2>/dev/null &&
    hits+=$(grep -laF -e "$secret" -e "$b64" -e "$urlenc" "$tmp/pg.dump")
fi
expect "no byte sluice wrote (store, WAL, logs, its own output) holds the secret in clear" "" "$hits"

# ---- rules and include paths see the stored variables; failed pipelines' errors are masked ----
mkdir -p "$tmp/rrepo/ci/parts" && printf 'extra:\n  script: [echo extra]\n' >"$tmp/rrepo/ci/parts/extra.yml"
repo_ci "$tmp/rrepo" rules <<'YML' || exit 1
include:
  - local: ci/$INC_DIR/extra.yml
workflow:
  rules:
    - if: $PIPELINES_OFF == "yes"
      when: never
    - when: always
gated:
  rules:
    - if: $DEPLOY_ENABLED == "yes"
  script: [echo gated]
prot_gated:
  rules:
    - if: $PROT_SWITCH
  script: [echo prot]
plain:
  script: [echo "plain"]
YML
git -C "$tmp/rrepo" checkout -qb feature && git -C "$tmp/rrepo" checkout -qb broken || exit 1
printf 'include:\n  - local: ci/$HIDDEN_DIR/x.yml\nplain:\n  script: [echo]\n' |
  repo_ci "$tmp/rrepo" broken || exit 1
req POST /api/v1/projects "$maint" "{\"name\":\"rules\",\"repo_url\":\"file://$tmp/rrepo\",\"default_branch\":\"main\"}"
rproj=$(jget "['id']")
setvar "/api/v1/projects/$rproj/variables" '{"key":"INC_DIR","value":"parts"}'
setvar "/api/v1/projects/$rproj/variables" '{"key":"DEPLOY_ENABLED","value":"yes"}'
setvar "/api/v1/projects/$rproj/variables" '{"key":"PROT_SWITCH","value":"on","protected":true}'
setvar "/api/v1/projects/$rproj/variables" '{"key":"HIDDEN_DIR","value":"Hidd3nDir_42","masked":true}'
job_names() { # job_names REF: the jobs of a new pipeline on REF, sorted, in $names
  req POST "/api/v1/projects/$rproj/pipelines" "$dev" "{\"ref\":\"$1\"}"
  names=$(python3 -c "import json,sys; print(' '.join(sorted(j['name'] for j in json.load(sys.stdin).get('jobs', []))))" <<<"$body" 2>/dev/null)
  [[ -n $names ]] || { req GET "/api/v1/pipelines/$(jget "['id']")" "$dev"
    names=$(python3 -c "import json,sys; print(' '.join(sorted(j['name'] for j in json.load(sys.stdin)['jobs'])))" <<<"$body"); }
}
job_names main
expect "a project variable in an include path and in rules:if; a protected one on a protected ref" \
  "extra gated plain prot_gated" "$names" "$body"
job_names feature
expect "a protected variable is not seen by the rules of an unprotected ref" \
  "extra gated plain" "$names" "$body"
setvar "/api/v1/projects/$rproj/variables" '{"key":"PIPELINES_OFF","value":"yes"}'
req POST "/api/v1/projects/$rproj/pipelines" "$dev" '{"ref":"main"}'
expect "workflow:rules see the stored variables (when: never: no pipeline)" "1" \
  "$([[ $code =~ ^4 ]] && grep -c 'workflow:rules' <<<"$body")" "$code $body"
req DELETE "/api/v1/projects/$rproj/variables/PIPELINES_OFF" "$maint"
req POST "/api/v1/projects/$rproj/pipelines" "$dev" '{"ref":"broken"}'
req GET "/api/v1/pipelines/$(jget "['id']")" "$dev"
expect "a failed pipeline's yaml_errors quote the include path with the masked value masked" \
  "failed 0 1" "$(jget "['status']") $(grep -c 'Hidd3nDir_42' <<<"$body") $(grep -c 'ci/\[MASKED\]/x.yml' <<<"$body")" "$body"

# ---- tokens that expire ----
admin2=$("$bin" token create --role admin --data "$tmp/data" "${db[@]}" 2>/dev/null)
req POST /api/v1/tokens "$admin2" '{"name":"short","role":"viewer","expires_in":1}'
expect "a token that expires in 1 s: 201 with its expires_at" "201 True" \
  "$code $(jget "['expires_at'] is not None")" "$body"
short=$(jget "['token']")
short_id=$(jget "['id']")
short_expired() { req GET /api/v1/projects "$short"; [[ $code == 401 ]]; }
wait_for 30 short_expired
expect "it stops working when it expires: 401" "401 invalid, expired or revoked token" \
  "$code $(jget "['error']['message']")" "$body"
req GET /api/v1/tokens "$admin2"
expect "the list says it expired, without any secret" "True False 0" \
  "$(python3 -c "import json,sys; t=[t for t in json.load(sys.stdin) if t['id']==$short_id][0]; print(t['expired'], t['active'], int('token' in t))" <<<"$body")" "$body"
req POST /api/v1/tokens "$admin2" '{"name":"dated","role":"viewer","expires_at":"2999-01-01"}'
expect "expires_at as a date: 201" "201 2999-01-01T00:00:00Z" "$code $(jget "['expires_at']")" "$body"
req GET /api/v1/projects "$(jget "['token']")"
expect "a token works before its expiry" 200 "$code" "$body"
req POST /api/v1/tokens "$admin2" '{"name":"past","role":"viewer","expires_at":"2001-01-01"}'
expect "an expiry in the past: 400" 400 "$code" "$body"
req POST /api/v1/tokens "$admin2" '{"name":"bad","role":"viewer","expires_in":"soonish"}'
expect "an expires_in that is no duration: 400" 400 "$code" "$body"
cli_tok=$("$bin" token create --role viewer --expires-in "1 day" --data "$tmp/data" "${db[@]}" 2>/dev/null)
req GET /api/v1/projects "$cli_tok"
expect "sluice token create --expires-in makes a working token" 200 "$code" "$body"
"$bin" token create --role viewer --expires-at yesterday --data "$tmp/data" "${db[@]}" >/dev/null 2>"$tmp/cli_err"
expect "--expires-at that is no date: usage error (2)" 2 "$?"

# ---- failed authentications are rate-limited per address ----
# from a source address of its own (127.0.0.2: all of 127/8 is this machine), so the budget
# starts full whatever this script did before
from2() { curl -s --interface 127.0.0.2 -o "$tmp/body" -D "$tmp/headers" -w '%{http_code}' "$@"; }
wrong=slt_$(printf '0%.0s' {1..64})
n401=0
for _ in $(seq 100); do # the budget refills while we try: count until the first 429
  code=$(from2 -H "Authorization: Bearer $wrong" "$url/api/v1/projects")
  [[ $code == 401 ]] || break
  n401=$((n401 + 1))
done
retry=$(tr -d '\r' <"$tmp/headers" | sed -n 's/^Retry-After: //Ip')
expect "the burst of 30 wrong tokens gets 401" 1 "$((n401 >= 30))" "$n401"
expect "then 429 with a Retry-After" "429 1" "$code $([[ $retry =~ ^[0-9]+$ ]] && echo 1)" \
  "$(cat "$tmp/body") (Retry-After '$retry')"
req GET /api/v1/projects "$maint"
expect "another address is not affected" 200 "$code"
code=$(from2 "$url/healthz")
expect "unauthenticated routes still answer the throttled address" 200 "$code"
allowed_again() { code=$(from2 -H "Authorization: Bearer $maint" "$url/api/v1/projects"); [[ $code == 200 ]]; }
wait_for 30 allowed_again
expect "a valid token works again from it once the budget refills" 200 "$code"
req GET /metrics "$maint"
expect "metrics count failed and throttled authentications" "1 1" \
  "$(grep -cE '^sluice_auth_failures_total (3[0-9]|[4-9][0-9])$' <<<"$body") $(grep -cE '^sluice_auth_throttled_total [1-9]' <<<"$body")" \
  "$(grep sluice_auth <<<"$body")"

server_stop
finish
