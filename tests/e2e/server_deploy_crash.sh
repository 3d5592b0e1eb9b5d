#!/usr/bin/env bash
# The deployment flow survives a kill -9 of the server in the middle: a review app is
# deployed (its auto_stop_in timer armed), production waits for two approvals and has one,
# a job of a resource group waits behind the group's holder, which is running; then the
# server is killed with SIGKILL and started again on the same store. After the restart
# the second approval deploys production, the lost holder is failed by its lapsed lease
# and the group goes to the waiting job, and the review app's timer still fires (its
# on_stop job runs). Every state is checked through the API. On SQLite here and on
# PostgreSQL through server_pg.sh.
. "$(dirname "$0")/lib/e2e.sh"
needs curl
chmod 0711 "$tmp"
# shellcheck source=lib/server.sh
. "$src/tests/e2e/lib/server.sh"
shared_dir

repo_ci "$tmp/repo" one <<'YML' || exit 1
stages: [deploy, cleanup]
review:
  stage: deploy
  rules: [{if: $KIND == "app"}]
  script: [echo review]
  environment:
    name: review/$CI_COMMIT_REF_SLUG
    on_stop: stop_review
    auto_stop_in: 20 seconds
stop_review:
  stage: cleanup
  rules: [{if: $KIND == "app", when: manual}]
  script: [echo stopping]
  environment: {name: review/$CI_COMMIT_REF_SLUG, action: stop}
production:
  stage: deploy
  rules: [{if: $KIND == "app"}]
  script: [echo deploying]
  environment: {name: production, url: https://prod.test}
locked:
  stage: deploy
  rules: [{if: $KIND == "lock"}]
  resource_group: db
  script:
    - if [ -n "$HOLD" ]; then while [ -d "$SHARED" ] && [ ! -f "$SHARED/never" ]; do sleep 0.1; done; fi
    - echo locked
YML

server_start --workers 3 --lease 5 || { bad "server starts"; finish; exit 1; }
ok "server starts ($url)"
maint=$("$bin" token create --role maintainer --data "$tmp/data" "${db[@]}")
dev=$("$bin" token create --role developer --data "$tmp/data" "${db[@]}")
dev2=$("$bin" token create --role developer --data "$tmp/data" "${db[@]}")
req POST /api/v1/projects "$maint" "{\"name\":\"app\",\"repo_url\":\"file://$tmp/repo\",\"default_branch\":\"main\"}"
proj=$(jget "['id']")
req POST "/api/v1/projects/$proj/protected_environments" "$maint" \
  '{"name":"production","deploy_role":"developer","required_approval_count":2}'
expect "production needs two approvals" 201 "$code" "$body"

job_of() { # job_of PIPELINE NAME -> $job $st
  req GET "/api/v1/pipelines/$1" "$maint"
  read -r job st < <(python3 -c "import json,sys; j=[j for j in json.load(sys.stdin)['jobs'] if j['name']==sys.argv[1]][0]; print(j['id'], j['status'])" "$2" <<<"$body")
}
job_is() { job_of "$1" "$2"; [[ $st =~ ^($3)$ ]]; }
env_field() { # env_field NAME FIELD
  req GET "/api/v1/projects/$proj/environments" "$maint"
  python3 -c "import json,sys; print([e for e in json.load(sys.stdin) if e['name']==sys.argv[1]][0][sys.argv[2]])" "$1" "$2" <<<"$body"
}
env_is() { [[ $(env_field "$1" state) == "$2" ]]; }

req POST "/api/v1/projects/$proj/pipelines" "$dev" '{"ref":"main","variables":{"KIND":"app"}}'
app=$(jget "['id']")
wait_for 120 job_is "$app" review success || bad "the review app deploys" "$st"
wait_for 60 job_is "$app" production manual || bad "production waits for approvals" "$st"
prod_job=$job
req GET "/api/v1/projects/$proj/environments" "$maint"
prod_env=$(python3 -c "import json,sys; print([e['id'] for e in json.load(sys.stdin) if e['name']=='production'][0])" <<<"$body")
req GET "/api/v1/environments/$prod_env/deployments" "$maint"
dep=$(jget "[0]['id']")
req POST "/api/v1/deployments/$dep/approve" "$maint" '{"comment":"one"}'
expect "the first approval" "200 blocked" "$code $(jget "['status']")" "$body"

req POST "/api/v1/projects/$proj/pipelines" "$dev" \
  "{\"ref\":\"main\",\"variables\":{\"KIND\":\"lock\",\"HOLD\":\"1\",\"SHARED\":\"$tmp/shared\"}}"
holder_pl=$(jget "['id']")
wait_for 120 job_is "$holder_pl" locked running || bad "the group's holder runs" "$st"
holder=$job
req POST "/api/v1/projects/$proj/pipelines" "$dev" '{"ref":"main","variables":{"KIND":"lock"}}'
waiter_pl=$(jget "['id']")
wait_for 120 job_is "$waiter_pl" locked waiting_for_resource || bad "the next job of the group waits" "$st"

kill -9 "$pid"
wait "$pid" 2>/dev/null
pid=
ok "the server is killed with SIGKILL mid-flow"
server_start --workers 3 --lease 5 || { bad "the server starts again"; finish; exit 1; }
ok "the server starts again on the same store"

req GET "/api/v1/deployments/$dep" "$maint"
expect "after the restart: production still blocked with its approval" "blocked 1" \
  "$(jget "['status']") $(jget "['approvals'].__len__()")" "$body"
req POST "/api/v1/deployments/$dep/approve" "$dev2" '{"comment":"two"}'
expect "the second approval" 200 "$code" "$body"
wait_for 120 job_is "$app" production success || bad "production deploys after the restart" "$st"
req GET "/api/v1/deployments/$dep" "$maint"
expect "the deployment succeeded with two approvals" "success 2" \
  "$(jget "['status']") $(jget "['approvals'].__len__()")" "$body"
expect "production's url" https://prod.test "$(env_field production external_url)"

# the holder's runner died with the server: its lease lapses, it fails, the group moves on
wait_for 180 job_is "$holder_pl" locked failed || bad "the lost holder fails" "$st"
if wait_for 180 job_is "$waiter_pl" locked success; then ok "the waiting job of the group runs after the restart"
else bad "the waiting job of the group runs after the restart" "$st"; fi

# the review app's auto_stop_in timer fires after the restart: its on_stop job stops it
if wait_for 180 env_is review/main stopped; then ok "auto_stop_in survives the restart: the review app stops"
else bad "auto_stop_in survives the restart: the review app stops" "$(env_field review/main state)"; fi
job_of "$app" stop_review
expect "its on_stop job ran" success "$st"
wait_for 60 job_is "$app" stop_review success
req GET "/api/v1/pipelines/$app" "$maint"
expect "the review-and-production pipeline ends in success" success "$(jget "['status']")" "$body"

server_stop
finish
