#!/usr/bin/env bash
# The deployment rules hold through `sluice agent`s as on the server's own workers: a server
# without built-in workers and one agent (three jobs at once). A deployment job run by the
# agent makes its deployment and environment (CI_ENVIRONMENT_* in its log); an older
# pipeline's deployment job fails unrun (forward_deployment_failure); a job of a protected
# environment whose pipeline's token may not deploy fails unrun (protected_environment_failure)
# and deploys when a maintainer retries it; a deployment job skipped or canceled makes a
# skipped or canceled deployment; a protected review app is stopped only by who may deploy to it, `stopping`
# while its on_stop job runs on the agent, then `stopped`; a resource group's jobs of three concurrent
# pipelines run one at a time on the agent; a new commit's pipeline cancels the older
# pipeline's interruptible job running on the agent, unless the older pipeline says
# on_new_commit: none; a failed job cancels the rest of its pipeline on the agent with
# on_job_failure: all, not with the default (none). SL_SERVER_DB: on that store
# (agent_pg.sh passes PostgreSQL).
set -u
bin=${SLUICE_BIN:?SLUICE_BIN is not set}
src=${SL_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$(dirname "$0")/lib/skip.sh"
needs curl python3 git
tmp=$(mktemp -d)
cleanup() { agents_kill; [[ -n ${pid:-} ]] && kill -9 "$pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
# shellcheck source=lib/server.sh
. "$src/tests/e2e/lib/server.sh"
# shellcheck source=lib/agents.sh
. "$src/tests/e2e/lib/agents.sh"
shared_dir
sh=$tmp/shared

# a 9 s lease: the agent updates every 3 s, so it hears of a cancel within seconds
server_start --workers 0 --lease 9 || { bad "server starts"; finish; exit 1; }
ok "server starts without built-in workers"
git_repo "stages: [build, deploy, cleanup]
workflow:
  rules:
    - if: \$MODE == \"none\"
      auto_cancel: {on_new_commit: none}
    - if: \$FAILFAST
      auto_cancel: {on_job_failure: all}
    - when: always
broken:
  stage: build
  rules: [{if: \$KIND == \"broken\"}]
  script: [exit 1]
hold:
  stage: build
  rules: [{if: \$KIND == \"hold\"}]
  script:
    - touch $sh/held
    - while [ -d $sh ] && [ ! -f $sh/never ]; do sleep 0.1; done
production:
  stage: deploy
  rules: [{if: \$KIND == \"deploy\" || \$KIND == \"broken\" || \$KIND == \"hold\"}]
  script: [echo \"deploying \$CI_COMMIT_SHA to \$CI_ENVIRONMENT_NAME (\$CI_ENVIRONMENT_SLUG \$CI_ENVIRONMENT_ACTION \$CI_ENVIRONMENT_TIER \$CI_ENVIRONMENT_URL)\"]
  environment: {name: production, url: https://prod.test}
locked:
  stage: deploy
  rules: [{if: \$KIND == \"lock\"}]
  resource_group: db
  script:
    - echo \"start \$CI_PIPELINE_ID\" >> $sh/group.log
    - while [ -d $sh ] && [ ! -f $sh/release ]; do sleep 0.1; done
    - sleep 1
    - echo \"end \$CI_PIPELINE_ID\" >> $sh/group.log
slow:
  stage: deploy
  rules: [{if: \$KIND == \"slow\" || \$KIND == \"fail\"}]
  interruptible: true
  script:
    - echo \"started \$CI_PIPELINE_ID\" >> $sh/slow.log
    - while [ -d $sh ] && [ ! -f $sh/never ]; do sleep 0.1; done
fails:
  stage: deploy
  rules: [{if: \$KIND == \"fail\"}]
  script: [sleep 1, exit 1]
review:
  stage: deploy
  rules: [{if: \$KIND == \"review\"}]
  script: [echo review]
  environment: {name: review/\$CI_COMMIT_REF_SLUG, on_stop: stop_review}
stop_review:
  stage: cleanup
  rules: [{if: \$KIND == \"review\", when: manual}]
  script:
    - while [ -d $sh ] && [ ! -f $sh/stop-release ]; do sleep 0.1; done
  environment: {name: review/\$CI_COMMIT_REF_SLUG, action: stop}"
commit() { echo "$1" > "$tmp/repo/version" && git -C "$tmp/repo" add version &&
  git -C "$tmp/repo" -c user.email=t@t -c user.name=t commit -qm "$1"; }
project_make deploys
agents_need deploys
maint=$("$bin" token create --role maintainer --data "$tmp/data" "${db[@]}")
dev=$("$bin" token create --role developer --data "$tmp/data" "${db[@]}")
agent_start A "$(runner_token A --run-untagged)" --concurrency 3 --executor shell
wait_for 30 grep -qs '"agent started"' "$tmp/A.err" || bad "agent A starts" "$(tail -5 "$tmp/A.err")"

run() { # run TOKEN KIND -> $pl, after it ended
  req POST "/api/v1/projects/$project/pipelines" "$1" "{\"ref\":\"main\",\"variables\":{\"KIND\":\"$2\"}}"
  [[ $code == 201 ]] || bad "a $2 pipeline is made" "$code $body"
  pl=$(jget "['id']")
  pipeline_wait 120 || bad "pipeline $pl ends" "$body$(tail -3 "$tmp/A.err")"
}
job_of() { # job_of NAME [FIELD]: FIELD (id) of job NAME in the last pipeline body
  python3 -c "import json,sys; print([j[sys.argv[2]] for j in json.load(sys.stdin)['jobs'] if j['name'] == sys.argv[1]][0])" "$1" "${2:-id}" <<<"$body"
}
job_ended() { req GET "/api/v1/jobs/$1" "$dev"; [[ $(jget "['status']") =~ ^(success|failed|canceled)$ ]]; }

# a deployment through the agent
run "$dev" deploy
job1=$(job_of production)
expect "the deployment job ran on the agent" "success success" "$pstatus $(job_of production status)" "$body"
req GET "/api/v1/jobs/$job1" "$dev"
expect "by the agent, not a built-in worker" yes "$([[ $(jget "['runner']") == runner:* ]] && echo yes)" "$body"
req GET "/api/v1/jobs/$job1/log" "$dev"
expect "the job saw CI_ENVIRONMENT_*" 1 \
  "$(grep -c '^deploying [0-9a-f]* to production (production start production https://prod.test)' <<<"$body")" "$body"
req GET "/api/v1/projects/$project/environments" "$dev"
env=$(jget "[0]['id']")
expect "production is available, deployed by that job" "available $job1 success" \
  "$(jget "[0]['state']") $(jget "[0]['last_deployment']['deployable']['id']") $(jget "[0]['last_deployment']['status']")" "$body"

# outdated deployment prevention on the agent's claim
commit two
run "$dev" deploy
job2=$(job_of production)
req POST "/api/v1/jobs/$job1/retry" "$dev"
expect "the older deployment job retried" 200 "$code" "$body"
job1=$(jget "['id']")
wait_for 60 job_ended "$job1"
expect "the agent's claim fails it unrun: forward_deployment_failure" "failed forward_deployment_failure" \
  "$(jget "['status']") $(jget "['failure_reason']")" "$body"
req GET "/api/v1/jobs/$job1/log" "$dev"
expect "its log says why and nothing of it ran" "1 0" \
  "$(grep -c 'older than the latest deployment' <<<"$body") $(grep -c '^deploying' <<<"$body")" "$body"
req GET "/api/v1/environments/$env" "$dev"
expect "production still runs the newer deployment" "$job2" "$(jget "['last_deployment']['deployable']['id']")"

# protected environments on the agent's claim
req POST "/api/v1/projects/$project/protected_environments" "$maint" '{"name":"production","deploy_role":"maintainer"}'
expect "production protected for maintainers" 201 "$code" "$body"
commit three
run "$dev" deploy
job3=$(job_of production)
expect "a developer's pipeline: protected_environment_failure" "failed protected_environment_failure" \
  "$(job_of production status) $(job_of production failure_reason)" "$body"
req GET "/api/v1/jobs/$job3/log" "$dev"
expect "its log says why and nothing of it ran" "1 0" \
  "$(grep -c 'environment this job is deploying to is protected' <<<"$body") $(grep -c '^deploying' <<<"$body")" "$body"
req POST "/api/v1/jobs/$job3/retry" "$maint"
expect "a maintainer retries it" 200 "$code" "$body"
job3=$(jget "['id']")
wait_for 60 job_ended "$job3"
expect "the retry deploys on the agent" success "$(jget "['status']")" "$body"
req GET "/api/v1/environments/$env" "$dev"
expect "production runs the retry's deployment" "$job3" "$(jget "['last_deployment']['deployable']['id']")"

# a deployment job skipped (an earlier stage failed): its deployment is skipped
commit broken
run "$maint" broken
expect "a failed build skips the deployment job" "failed skipped" "$pstatus $(job_of production status)" "$body"
skipped_job=$(job_of production)
req GET "/api/v1/environments/$env/deployments?limit=1" "$dev"
expect "its deployment is skipped, production's last deployment unchanged" "$skipped_job skipped" \
  "$(jget "[0]['deployable']['id']") $(jget "[0]['status']")" "$body"
req GET "/api/v1/environments/$env" "$dev"
expect "production still runs the retry's deployment" "$job3" "$(jget "['last_deployment']['deployable']['id']")"

# a pipeline canceled before its deployment job ran: the deployment is canceled
req POST "/api/v1/projects/$project/pipelines" "$maint" '{"ref":"main","variables":{"KIND":"hold"}}'
pl=$(jget "['id']")
wait_for 60 test -f "$sh/held" || bad "the hold job starts on the agent" "$(tail -3 "$tmp/A.err")"
req POST "/api/v1/pipelines/$pl/cancel" "$maint"
pipeline_wait 180
held_job=$(job_of production)
expect "the canceled pipeline's deployment job is canceled" "canceled canceled" \
  "$pstatus $(job_of production status)" "$body"
req GET "/api/v1/environments/$env/deployments?limit=1" "$dev"
expect "and so is its deployment" "$held_job canceled" \
  "$(jget "[0]['deployable']['id']") $(jget "[0]['status']")" "$body"

# a review app stopped through the API: stopping while its on_stop job runs on the agent
req POST "/api/v1/projects/$project/pipelines" "$dev" '{"ref":"main","variables":{"KIND":"review"}}'
pl=$(jget "['id']")
reviewed() { req GET "/api/v1/pipelines/$pl" "$dev"; [[ $(job_of review status) == success ]]; }
wait_for 120 reviewed || bad "the review job succeeds" "$body"
req GET "/api/v1/projects/$project/environments" "$dev"
review_env=$(python3 -c "import json,sys; print([e['id'] for e in json.load(sys.stdin) if e['name'] == 'review/main'][0])" <<<"$body")
req POST "/api/v1/projects/$project/protected_environments" "$maint" '{"name":"review/*","deploy_role":"maintainer"}'
expect "review apps protected for maintainers" 201 "$code" "$body"
req POST "/api/v1/environments/$review_env/stop" "$dev"
expect "a developer may not stop a protected environment" 403 "$code" "$body"
req GET "/api/v1/pipelines/$pl" "$dev"
req POST "/api/v1/jobs/$(job_of stop_review)/play" "$dev"
expect "nor play its on_stop job" 403 "$code" "$body"
req POST "/api/v1/environments/$review_env/stop" "$maint"
expect "stop: the on_stop job is played, the environment is stopping" "200 stopping" \
  "$code $(jget "['state']")" "$body"
stop_running() { req GET "/api/v1/pipelines/$pl" "$dev"; [[ $(job_of stop_review status) == running ]]; }
wait_for 60 stop_running || bad "the on_stop job runs on the agent" "$body"
req GET "/api/v1/environments/$review_env" "$dev"
expect "stopping while the on_stop job runs" stopping "$(jget "['state']")" "$body"
touch "$sh/stop-release"
review_stopped() { req GET "/api/v1/environments/$review_env" "$dev"; [[ $(jget "['state']") == stopped ]]; }
if wait_for 60 review_stopped; then ok "stopped once the on_stop job succeeded"; else
  bad "review/main stops when its on_stop job succeeds" "$body"; fi

# a resource group across three concurrent pipelines, on one agent that runs three jobs at once
pls=()
for _ in 1 2 3; do
  req POST "/api/v1/projects/$project/pipelines" "$dev" '{"ref":"main","variables":{"KIND":"lock"}}'
  pls+=("$(jget "['id']")")
done
waiting() { # one of the pipelines' locked job waits for the group
  local p
  for p in "${pls[@]}"; do
    req GET "/api/v1/pipelines/$p" "$dev"
    [[ $(job_of locked status) == waiting_for_resource ]] && return 0
  done
  return 1
}
# the first holder runs until released: the other two wait for the group meanwhile
if wait_for 60 waiting; then ok "a job of the group waits for it (waiting_for_resource)"; else
  bad "a job of the group waits for it" "$body"; fi
touch "$sh/release"
for p in "${pls[@]}"; do pl=$p; pipeline_wait 120; expect "lock pipeline $p succeeds" success "$pstatus" "$body"; done
expect "the group's jobs ran one at a time" "start end start end start end" \
  "$(cut -d' ' -f1 "$sh/group.log" | tr '\n' ' ' | sed 's/ $//')" "$(cat "$sh/group.log")"
expect "each start followed by its own end" 3 \
  "$(paste -d' ' - - < "$sh/group.log" | awk '$2 == $4' | wc -l)" "$(cat "$sh/group.log")"

# auto-cancel: a new commit's pipeline cancels the older one's interruptible job on the agent
req POST "/api/v1/projects/$project/pipelines" "$dev" '{"ref":"main","variables":{"KIND":"slow"}}'
old=$(jget "['id']")
started() { grep -qs "started $1" "$sh/slow.log"; }
wait_for 60 started "$old" || bad "the slow job of pipeline $old starts on the agent" "$(tail -3 "$tmp/A.err")"
commit four
req POST "/api/v1/projects/$project/pipelines" "$dev" '{"ref":"main","variables":{"KIND":"slow"}}'
new=$(jget "['id']")
pl=$old
# the agent hears of the cancel at its next update (Job-Status: canceling), then reports
if pipeline_wait 180 && [[ $pstatus == canceled ]]; then ok "the older pipeline is canceled"; else
  bad "the older pipeline is canceled" "$body"; fi
expect "its interruptible job, running on the agent, is canceled" canceled "$(job_of slow status)" "$body"
wait_for 60 started "$new" || bad "the new pipeline's slow job starts" "$(cat "$sh/slow.log")"
req POST "/api/v1/pipelines/$new/cancel" "$maint"
pl=$new
pipeline_wait 180
expect "the new pipeline is canceled by hand" canceled "$pstatus" "$body"

# on_new_commit: none (the older pipeline's own setting): nothing of it is canceled
req POST "/api/v1/projects/$project/pipelines" "$dev" '{"ref":"main","variables":{"KIND":"slow","MODE":"none"}}'
old=$(jget "['id']")
wait_for 60 started "$old" || bad "the slow job of pipeline $old starts on the agent" "$(tail -3 "$tmp/A.err")"
commit five
req POST "/api/v1/projects/$project/pipelines" "$dev" '{"ref":"main","variables":{"KIND":"slow","MODE":"none"}}'
new=$(jget "['id']")
wait_for 60 started "$new" || bad "the slow job of pipeline $new starts on the agent" "$(tail -3 "$tmp/A.err")"
# a cancel reaches an agent's job in the answer to its next update (PUT or trace PATCH, one
# per job every 3 s when quiet, a burst of two at its start): five updates of the two
# running jobs since the cancel would have been decided hold at least one of the older's
contacts() {
  req GET /metrics "$dev"
  awk '/^sluice_http_requests_total\{method="(PUT|PATCH)",route="\/api\/v4\/jobs\/\{id\}(\/trace)?"/ { n += $2 } END { print n + 0 }' <<<"$body"
}
contacted() { (($(contacts) >= $1)); }
c0=$(contacts)
wait_for 60 contacted $((c0 + 5)) || bad "the agent updates its running jobs" "$(tail -3 "$tmp/A.err")"
req GET "/api/v1/pipelines/$old" "$dev"
expect "on_new_commit: none: the older pipeline's interruptible job runs on" "running running" \
  "$(jget "['status']") $(job_of slow status)" "$body"
for p in $old $new; do req POST "/api/v1/pipelines/$p/cancel" "$maint"; done
for p in $old $new; do pl=$p; pipeline_wait 180; expect "pipeline $p canceled by hand" canceled "$pstatus" "$body"; done

# on_job_failure: none (the default) lets the pipeline run on after a failure; all cancels it
failed_job() { req GET "/api/v1/pipelines/$1" "$dev"; [[ $(job_of fails status) == failed ]]; }
req POST "/api/v1/projects/$project/pipelines" "$dev" '{"ref":"main","variables":{"KIND":"fail"}}'
pl=$(jget "['id']")
wait_for 60 failed_job "$pl" || bad "the failing job of pipeline $pl fails" "$body"
c0=$(contacts) # the slow job alone runs on: its next update would hear a cancel
wait_for 60 contacted $((c0 + 2)) || bad "the agent updates its slow job" "$(tail -3 "$tmp/A.err")"
req GET "/api/v1/pipelines/$pl" "$dev"
expect "on_job_failure: none: the rest runs on after a failure" "running running" \
  "$(jget "['status']") $(job_of slow status)" "$body"
req POST "/api/v1/pipelines/$pl/cancel" "$maint"
pipeline_wait 180
req POST "/api/v1/projects/$project/pipelines" "$dev" '{"ref":"main","variables":{"KIND":"fail","FAILFAST":"1"}}'
pl=$(jget "['id']")
pipeline_wait 180
expect "on_job_failure: all: the failure cancels the agent's running job" "failed failed canceled" \
  "$pstatus $(job_of fails status) $(job_of slow status)" "$body"

agent_stop A
server_stop
finish
