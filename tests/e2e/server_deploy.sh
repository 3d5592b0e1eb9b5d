#!/usr/bin/env bash
# Environments and deployments on a real `sluice serve`: environments made by the first
# deployment (name and url expanded, tier guessed), deployments following their jobs,
# outdated-deployment prevention (forward_deployment_failure), rollback to an earlier
# deployment, auto_stop_in running the on_stop job, stop and delete. On SQLite here and on
# PostgreSQL through server_pg.sh (SL_SERVER_DB).
. "$(dirname "$0")/lib/e2e.sh"
needs curl
# shellcheck source=lib/server.sh
. "$src/tests/e2e/lib/server.sh"

git_commit() { git -C "$tmp/repo" commit -qam "$1"; }
repo_init "$tmp/repo" && echo 1 >"$tmp/repo/version" || exit 1
repo_ci "$tmp/repo" one <<'YML' || exit 1
stages: [deploy, cleanup]
review:
  stage: deploy
  script: [echo "review $CI_ENVIRONMENT_NAME at $CI_ENVIRONMENT_URL ($CI_ENVIRONMENT_TIER)"]
  environment:
    name: review/$CI_COMMIT_REF_SLUG
    url: https://$CI_COMMIT_REF_SLUG.review.test
    on_stop: stop_review
    auto_stop_in: 2 seconds
stop_review:
  stage: cleanup
  script: [echo "stopping $CI_ENVIRONMENT_NAME"]
  when: manual
  environment: {name: review/$CI_COMMIT_REF_SLUG, action: stop}
production:
  stage: deploy
  script: [echo "deploying $CI_COMMIT_SHA to $CI_ENVIRONMENT_NAME"]
  environment: {name: production, url: https://prod.test}
YML

server_start || { bad "server starts"; finish; exit 1; }
ok "server starts ($url)"
maint=$("$bin" token create --role maintainer --data "$tmp/data" "${db[@]}")
dev=$("$bin" token create --role developer --data "$tmp/data" "${db[@]}")
req POST /api/v1/projects "$maint" "{\"name\":\"app\",\"repo_url\":\"file://$tmp/repo\",\"default_branch\":\"main\"}"
expect "project created" 201 "$code" "$body"
proj=$(jget "['id']")

pipeline_done() { # pipeline_done ID: its status is final (the manual stop job waits)
  req GET "/api/v1/pipelines/$1" "$maint"
  [[ $(jget "['status']") =~ ^(success|failed|canceled|manual)$ ]]
}
run_pipeline() { # run_pipeline [TOKEN] -> $pl, after it finished; made by TOKEN (the developer)
  req POST "/api/v1/projects/$proj/pipelines" "${1:-$dev}" '{"ref":"main"}'
  pl=$(jget "['id']")
  wait_for 60 pipeline_done "$pl" || bad "pipeline $pl finishes" "$body"
}
job_field() { # job_field NAME FIELD: FIELD of job NAME in the last pipeline body
  python3 -c "import json,sys; print([j[sys.argv[2]] for j in json.load(sys.stdin)['jobs'] if j['name'] == sys.argv[1]][0])" "$1" "$2" <<<"$body"
}
job_of() { job_field "$1" id; }

run_pipeline
pl1=$pl
expect "the first pipeline succeeds" success "$(jget "['status']")" "$body$(tail -5 "$tmp/err")"
prod_job1=$(job_of production)
req GET "/api/v1/projects/$proj/environments" "$dev"
expect "two environments made by the first deployment" 2 "$(jget ".__len__()")" "$body"
expect "names expanded with the job's variables" "review/main production" \
  "$(jget "[0]['name']") $(jget "[1]['name']")"
expect "tiers guessed as GitLab guesses them" "development production" \
  "$(jget "[0]['tier']") $(jget "[1]['tier']")"
expect "urls expanded" "https://main.review.test https://prod.test" \
  "$(jget "[0]['external_url']") $(jget "[1]['external_url']")"
review=$(jget "[0]['id']")
prod=$(jget "[1]['id']")
expect "production's last deployment is the first pipeline's" "success $prod_job1" \
  "$(jget "[1]['last_deployment']['status']") $(jget "[1]['last_deployment']['deployable']['id']")"
dep1=$(jget "[1]['last_deployment']['id']")
req GET "/api/v1/jobs/$prod_job1/log" "$dev"
expect "the job saw CI_ENVIRONMENT_*" 1 "$(grep -c 'deploying .* to production' <<<"$body")" "$body"

# auto_stop_in: the ticker runs the on_stop job of the review app's deployment
review_stopped() { req GET "/api/v1/environments/$review" "$dev"; [[ $(jget "['state']") == stopped ]]; }
if wait_for 60 review_stopped; then ok "auto_stop_in ran the on_stop job: review/main stopped"; else
  bad "review/main stops after auto_stop_in" "$body"; fi
req GET "/api/v1/pipelines/$pl1" "$dev"
expect "the stop job ran" success "$(job_field stop_review status)"

echo 2 > "$tmp/repo/version" && git_commit two
run_pipeline
pl2=$pl
prod_job2=$(job_of production)
req GET "/api/v1/environments/$prod/deployments" "$dev"
expect "two deployments of production, newest first" "2 $prod_job2 $prod_job1" \
  "$(jget ".__len__()") $(jget "[0]['deployable']['id']") $(jget "[1]['deployable']['id']")" "$body"
expect "deployments have per-project iids" "success success" \
  "$(jget "[0]['status']") $(jget "[1]['status']")"
dep2=$(jget "[0]['id']")
req GET "/api/v1/environments/$prod/deployments?limit=1&after=$dep2" "$dev"
expect "keyset paging of deployments" "1 $dep1" "$(jget ".__len__()") $(jget "[0]['id']")"

# outdated deployment prevention: re-running the older pipeline's job does not deploy
req POST "/api/v1/jobs/$prod_job1/retry" "$dev"
expect "retry of the older deployment job accepted: a new job" "200 yes" \
  "$code $([[ $(jget "['id']") != "$prod_job1" ]] && echo yes)" "$body"
prod_job1=$(jget "['id']") # each retry is a new job (GitLab's): from here on, the newest
old_done() { req GET "/api/v1/jobs/$prod_job1" "$dev"; [[ $(jget "['status']") =~ ^(success|failed)$ ]]; }
wait_for 60 old_done
expect "the older job fails with forward_deployment_failure" "failed forward_deployment_failure" \
  "$(jget "['status']") $(jget "['failure_reason']")" "$body"
req GET "/api/v1/jobs/$prod_job1/log" "$dev"
expect "its log says why" 1 "$(grep -c 'older than the latest deployment' <<<"$body")" "$body"
req GET "/api/v1/environments/$prod" "$dev"
expect "production still runs the newer deployment" "$dep2" "$(jget "['last_deployment']['id']")"

# rollback: an explicit re-deploy of the older deployment runs
req POST "/api/v1/environments/$prod/rollback" "$dev" "{\"deployment_id\":$dep1}"
expect "a developer may not roll back" 403 "$code"
req POST "/api/v1/environments/$prod/rollback" "$maint" '{"deployment_id":"x"}'
expect "a bad deployment_id: 400" 400 "$code" "$body"
req POST "/api/v1/environments/$prod/rollback" "$maint" '{"deployment_idd":1}'
expect "an unknown field: 400" 400 "$code" "$body"
req POST "/api/v1/environments/$prod/rollback" "$maint" "{\"deployment_id\":$dep1}"
expect "rollback accepted: a new deployment" "201 $dep1" "$code $(jget "['rollback_of']")" "$body"
dep3=$(jget "['id']")
rolled() { req GET "/api/v1/deployments/$dep3" "$dev"; [[ $(jget "['status']") =~ ^(success|failed)$ ]]; }
wait_for 60 rolled
expect "the rollback deployed, by a new job" "success yes" \
  "$(jget "['status']") $([[ $(jget "['deployable']['id']") -gt $prod_job1 ]] && echo yes)" "$body"
prod_job1=$(jget "['deployable']['id']")
req GET "/api/v1/environments/$prod" "$dev"
expect "production now runs the rollback" "$dep3" "$(jget "['last_deployment']['id']")"
req GET "/api/v1/deployments/$dep1" "$dev"
expect "the deployment rolled back to keeps its own outcome" success "$(jget "['status']")"

# stop and delete
req DELETE "/api/v1/environments/$prod" "$maint"
expect "an available environment cannot be deleted: 409" 409 "$code" "$body"
req POST "/api/v1/environments/$prod/stop" "$dev"
expect "production (no on_stop) stops at once" "200 stopped" "$code $(jget "['state']")" "$body"
req POST "/api/v1/environments/$prod/stop" "$dev"
expect "stopping a stopped environment: 409" 409 "$code"
req DELETE "/api/v1/environments/$prod" "$maint"
expect "a stopped environment is deleted" 204 "$code"
req GET "/api/v1/environments/$prod" "$dev"
expect "and is gone" 404 "$code"
req GET "/api/v1/projects/999/environments" "$dev"
expect "environments of an unknown project: 404" 404 "$code"
req GET "/api/v1/audit?action=environment.rollback" "$admin"
expect "the rollback is audited" environment.rollback "$(jget "[0]['action']")" "$body"

# protected environments: two approvals, never by whoever triggered the deployment
dev2=$("$bin" token create --role developer --data "$tmp/data" "${db[@]}")
req POST "/api/v1/projects/$proj/protected_environments" "$dev" '{"name":"production"}'
expect "a developer may not protect an environment" 403 "$code"
req POST "/api/v1/projects/$proj/protected_environments" "$maint" \
  '{"name":"production","deploy_role":"developer","required_approval_count":2}'
expect "production protected by tier, two approvals" "201 2" "$code $(jget "['required_approval_count']")" "$body"
rule=$(jget "['id']")
req POST "/api/v1/projects/$proj/protected_environments" "$maint" '{"name":"production"}'
expect "protecting it again: 409" 409 "$code"
req POST "/api/v1/projects/$proj/protected_environments" "$maint" '{"name":"x","deploy_role":"viewer"}'
expect "a viewer cannot be a deployer: 400" 400 "$code"
req GET "/api/v1/projects/$proj/protected_environments" "$dev"
expect "the rules are listed" "1 production" "$(jget ".__len__()") $(jget "[0]['name']")"

echo 3 > "$tmp/repo/version" && git_commit three
run_pipeline
pl3=$pl
prod_job3=$(job_of production)
expect "the deployment job waits as a manual job" manual "$(job_field production status)" "$body"
req GET "/api/v1/jobs/$prod_job3" "$dev"
expect "the job says it waits for approval, not for a play" True "$(jget "['waits_for_approval']")" "$body"
req GET "/api/v1/projects/$proj/environments?state=available" "$dev"
prod=$(python3 -c "import json,sys; print([e['id'] for e in json.load(sys.stdin) if e['name'] == 'production'][0])" <<<"$body")
req GET "/api/v1/environments/$prod/deployments" "$dev"
dep4=$(jget "[0]['id']")
expect "its deployment is blocked, needing 2 approvals" "blocked 2" \
  "$(jget "[0]['status']") $(jget "[0]['required_approval_count']")" "$body"
req POST "/api/v1/jobs/$prod_job3/play" "$maint"
expect "playing a blocked deployment's job: 409" 409 "$code" "$body"
req POST "/api/v1/deployments/$dep4/approve" "$dev" '{"comment":"mine"}'
expect "whoever triggered it cannot approve: 403" 403 "$code" "$body"
req POST "/api/v1/deployments/$dep4/approve" "$maint" '{"comment":"looks good"}'
expect "first approval: still blocked" "200 blocked" "$code $(jget "['status']")" "$body"
req POST "/api/v1/deployments/$dep4/approve" "$maint"
expect "the same approver twice: 409" 409 "$code"
req POST "/api/v1/deployments/$dep4/approve" "$dev2" '{"bogus":1}'
expect "an unknown field: 400" 400 "$code"
req POST "/api/v1/deployments/$dep4/approve" "$dev2"
expect "second approval: the job is queued" "200 queued 2" \
  "$code $([[ $(jget "['status']") =~ ^(created|running|success)$ ]] && echo queued) $(jget "['approvals'].__len__()")" "$body"
approved() { req GET "/api/v1/deployments/$dep4" "$dev"; [[ $(jget "['status']") =~ ^(success|failed)$ ]]; }
wait_for 60 approved
expect "the approved deployment ran" success "$(jget "['status']")" "$body"
expect "approvals are shown on the deployment" "token:2 looks good" \
  "$(jget "['approvals'][0]['user']") $(jget "['approvals'][0]['comment']")"

echo 4 > "$tmp/repo/version" && git_commit four
run_pipeline
prod_job4=$(job_of production)
req GET "/api/v1/environments/$prod/deployments" "$dev"
dep5=$(jget "[0]['id']")
req POST "/api/v1/deployments/$dep5/reject" "$maint" '{"comment":"not today"}'
expect "a rejection is recorded" 200 "$code" "$body"
rejected() { req GET "/api/v1/jobs/$prod_job4" "$dev"; [[ $(jget "['status']") =~ ^(success|failed)$ ]]; }
wait_for 60 rejected
expect "a rejected deployment's job fails" "failed deployment_rejected" \
  "$(jget "['status']") $(jget "['failure_reason']")" "$body"
req GET "/api/v1/deployments/$dep5" "$dev"
expect "and so does the deployment" failed "$(jget "['status']")"
req POST "/api/v1/deployments/$dep5/approve" "$dev2"
expect "a decided deployment takes no more approvals: 409" 409 "$code"
req GET "/api/v1/audit?action=deployment.approve" "$admin"
expect "approvals are audited" 2 "$(jget ".__len__()")"
req GET "/api/v1/audit?action=deployment.reject" "$admin"
expect "the rejection is audited, with its deployment and comment" "1 deployment:$dep5 not today" \
  "$(jget ".__len__()") $(jget "[0]['target']") $(jget "[0]['detail']['comment']")" "$body"
req GET "/api/v1/deployments/$dep5" "$dev"
expect "and shown on the deployment" "rejected not today" \
  "$(jget "['approvals'][0]['status']") $(jget "['approvals'][0]['comment']")" "$body"
# run again, a deployment that needed approvals needs them again (GitLab blocks every one)
req POST "/api/v1/jobs/$prod_job3/retry" "$dev2"
expect "a retry of the approved deployment's job waits for approval" "200 manual True" \
  "$code $(jget "['status']") $(jget "['waits_for_approval']")" "$body"
again_job=$(jget "['id']")
req GET "/api/v1/environments/$prod/deployments?limit=1" "$dev"
again=$(jget "[0]['id']")
expect "its new deployment is blocked" "$again_job blocked" "$(jget "[0]['deployable']['id']") $(jget "[0]['status']")" "$body"
req POST "/api/v1/deployments/$again/approve" "$dev2"
expect "who retried it cannot approve it: 403" 403 "$code" "$body"
req POST "/api/v1/deployments/$again/approve" "$maint"
req POST "/api/v1/deployments/$again/approve" "$dev"
expect "two other approvals: queued" 200 "$code" "$body"
again_done() { req GET "/api/v1/deployments/$again" "$dev"; [[ $(jget "['status']") =~ ^(success|failed)$ ]]; }
wait_for 60 again_done
expect "the re-run deployed" success "$(jget "['status']")" "$body"
req POST "/api/v1/environments/$prod/rollback" "$maint" "{\"deployment_id\":$dep4}"
expect "a rollback waits for approvals too" "201 blocked $dep4" "$code $(jget "['status']") $(jget "['rollback_of']")" "$body"
back=$(jget "['id']")
req POST "/api/v1/deployments/$back/reject" "$dev" '{"comment":"no rollback"}'
back_done() { req GET "/api/v1/deployments/$back" "$dev"; [[ $(jget "['status']") == failed ]]; }
if wait_for 60 back_done; then ok "a rejected rollback fails"; else bad "a rejected rollback fails" "$body"; fi
# an automatic retry (retry:) of an approved deployment that failed is blocked again too,
# also when it waits for a resource group first
cp "$tmp/repo/.gitlab-ci.yml" "$tmp/ci.yml"
sed -i 's|^  script: \[echo "deploying .*|  script: [exit 3]\n  retry: 1\n  resource_group: production|' \
  "$tmp/repo/.gitlab-ci.yml" &&
  git_commit "deploy fails"
run_pipeline
flaky_job=$(job_of production)
req GET "/api/v1/environments/$prod/deployments?limit=1" "$dev"
flaky=$(jget "[0]['id']")
expect "a failing deployment (retry: 1) waits for approval" "$flaky_job blocked" \
  "$(jget "[0]['deployable']['id']") $(jget "[0]['status']")" "$body"
# approved through `sluice env approve` (the same API): never by whoever triggered it
out=$("$bin" env approve "$flaky" --comment "first" --url "$url" --token "$maint")
expect "sluice env approve: one of two approvals, still blocked" "0 deployment $flaky is blocked" "$? $out"
out=$("$bin" env approve "$flaky" --url "$url" --token "$dev" 2>&1)
expect "sluice env approve by whoever triggered it: refused, exit 1" "1 1" "$? $(grep -c 'answered 403' <<<"$out")" "$out"
out=$("$bin" env approve "$flaky" --url "$url" --token "$dev2")
expect "sluice env approve by a second token: approved, it runs" "0 1" \
  "$? $(grep -Ec "^deployment $flaky is (created|running|failed)$" <<<"$out")" "$out"
req GET "/api/v1/deployments/$flaky" "$dev"
expect "both approvals recorded, with the comment" "2 first" \
  "$(jget "['approvals'].__len__()") $(jget "['approvals'][0]['comment']")" "$body"
auto_retried() { req GET "/api/v1/environments/$prod/deployments?limit=1" "$dev"; [[ $(jget "[0]['id']") != "$flaky" ]]; }
wait_for 60 auto_retried || bad "the failed deployment job is retried automatically" "$body"
retry_dep=$(jget "[0]['id']")
retry_job=$(jget "[0]['deployable']['id']")
expect "the automatic retry's deployment is blocked, needing 2 approvals of its own" \
  "blocked 2 0" "$(jget "[0]['status']") $(jget "[0]['required_approval_count']") \
$(jget "[0].get('approvals', []).__len__()")" "$body"
req GET "/api/v1/jobs/$retry_job" "$dev"
expect "its job, a new one, waits for approval" "yes manual True" \
  "$([[ $retry_job != "$flaky_job" ]] && echo yes) $(jget "['status']") $(jget "['waits_for_approval']")" "$body"
req GET "/api/v1/jobs/$flaky_job" "$dev"
expect "the attempt that failed stays failed" "failed script_failure" \
  "$(jget "['status']") $(jget "['failure_reason']")" "$body"
req GET "/api/v1/deployments/$flaky" "$dev"
expect "the deployment of the attempt that failed is failed" failed "$(jget "['status']")" "$body"
req GET "/api/v1/pipelines/$pl" "$dev"
expect "the pipeline waits with it" manual "$(jget "['status']")" "$body"
out=$("$bin" env reject "$retry_dep" --comment "still broken" --url "$url" --token "$maint")
expect "sluice env reject: the retry's deployment is rejected" "0 deployment $retry_dep is failed" "$? $out"
req GET "/api/v1/deployments/$retry_dep" "$dev"
expect "the rejection is on the deployment, with its comment" "rejected still broken" \
  "$(jget "['approvals'][0]['status']") $(jget "['approvals'][0]['comment']")" "$body"
retry_done() { req GET "/api/v1/jobs/$retry_job" "$dev"; [[ $(jget "['status']") =~ ^(success|failed)$ ]]; }
wait_for 60 retry_done
expect "and its job fails, not retried again" "failed deployment_rejected" \
  "$(jget "['status']") $(jget "['failure_reason']")" "$body"
cp "$tmp/ci.yml" "$tmp/repo/.gitlab-ci.yml" && git_commit "deploy works again"
req DELETE "/api/v1/protected_environments/$rule" "$maint"
expect "a rule is removed" 204 "$code"
req DELETE "/api/v1/protected_environments/$rule" "$maint"
expect "and is gone: 404" 404 "$code"

# who may deploy: a minimum role, or named tokens (GitLab's deploy access of users)
req GET /api/v1/session "$dev2"
dev2_id=$(jget "['token']['id']")
req POST "/api/v1/projects/$proj/protected_environments" "$maint" '{"name":"production","deploy_tokens":[0]}'
expect "deploy_tokens are token ids" 400 "$code" "$body"
req POST "/api/v1/projects/$proj/protected_environments" "$maint" \
  "{\"name\":\"production\",\"deploy_role\":\"admin\",\"deploy_tokens\":[$dev2_id],\"required_approval_count\":1}"
expect "production: admins or one named developer token" "201 [$dev2_id]" "$code $(jget "['deploy_tokens']")" "$body"
rule=$(jget "['id']")
echo 5 > "$tmp/repo/version" && git_commit five
run_pipeline
prod_job5=$(job_of production)
req GET "/api/v1/environments/$prod/deployments" "$dev"
dep6=$(jget "[0]['id']")
req POST "/api/v1/deployments/$dep6/approve" "$maint"
expect "a maintainer neither admin nor named may not approve: 403" 403 "$code" "$body"
req POST "/api/v1/deployments/$dep6/approve" "$dev2" '{"comment":"named"}'
expect "the named developer token may" 200 "$code" "$body"
done6() { req GET "/api/v1/jobs/$prod_job5" "$dev"; [[ $(jget "['status']") =~ ^(success|failed)$ ]]; }
wait_for 60 done6
expect "the deployment it approved ran" success "$(jget "['status']")" "$body"
req POST "/api/v1/jobs/$prod_job5/retry" "$maint"
expect "a maintainer may not re-run a job of the protected environment: 403" 403 "$code" "$body"
req POST "/api/v1/environments/$prod/rollback" "$maint"
expect "nor roll it back: 403" 403 "$code" "$body"
req DELETE "/api/v1/protected_environments/$rule" "$maint"
expect "the rule is removed" 204 "$code"

# who may deploy, without approvals: a pipeline made by a token without deploy access does
# not deploy (GitLab drops the job with protected_environment_failure)
req POST "/api/v1/projects/$proj/protected_environments" "$maint" \
  "{\"name\":\"production\",\"deploy_role\":\"maintainer\",\"deploy_tokens\":[$dev2_id]}"
expect "production: maintainers or the named developer, no approvals" "201 0" \
  "$code $(jget "['required_approval_count']")" "$body"
rule=$(jget "['id']")
req GET "/api/v1/environments/$prod" "$dev"
before=$(jget "['last_deployment']['id']")
echo 6 > "$tmp/repo/version" && git_commit six
run_pipeline "$dev"
prod_job6=$(job_of production)
expect "a developer's pipeline: its deployment job fails unrun" \
  "failed failed protected_environment_failure" \
  "$(jget "['status']") $(job_field production status) $(job_field production failure_reason)" "$body"
req GET "/api/v1/jobs/$prod_job6/log" "$dev"
expect "its log says why, naming the token" "1 0" \
  "$(grep -c "environment this job is deploying to is protected.*token:[0-9]* may not deploy to production" <<<"$body") \
$(grep -c "^deploying [0-9a-f]* to production" <<<"$body")" "$body"
req GET "/api/v1/environments/$prod/deployments" "$dev"
expect "its deployment failed, production's last deployment is unchanged" "$prod_job6 failed" \
  "$(jget "[0]['deployable']['id']") $(jget "[0]['status']")" "$body"
req GET "/api/v1/environments/$prod" "$dev"
expect "production still runs what it ran" "$before" "$(jget "['last_deployment']['id']")"
req POST "/api/v1/environments/$prod/stop" "$dev"
expect "nor may the developer stop it" 403 "$code" "$body"
req POST "/api/v1/jobs/$prod_job6/retry" "$maint"
expect "a maintainer retries it" 200 "$code" "$body"
prod_job6=$(jget "['id']")
done6b() { req GET "/api/v1/jobs/$prod_job6" "$dev"; [[ $(jget "['status']") =~ ^(success|failed)$ ]]; }
wait_for 60 done6b
expect "the maintainer's retry deploys" success "$(jget "['status']")" "$body"
req GET /api/v1/session "$maint"
maint_id=$(jget "['token']['id']")
req GET "/api/v1/environments/$prod" "$dev"
expect "production's last deployment is the retry's, triggered by the maintainer" \
  "$prod_job6 token:$maint_id" \
  "$(jget "['last_deployment']['deployable']['id']") $(jget "['last_deployment']['triggered_by']")" "$body"
echo 7 > "$tmp/repo/version" && git_commit seven
run_pipeline "$dev2"
expect "the named developer token's pipeline deploys" "success success" \
  "$(jget "['status']") $(job_field production status)" "$body"
echo 8 > "$tmp/repo/version" && git_commit eight
run_pipeline "$maint"
expect "a maintainer's pipeline deploys" "success success" \
  "$(jget "['status']") $(job_field production status)" "$body"
req DELETE "/api/v1/protected_environments/$rule" "$maint"
expect "the rule is removed" 204 "$code"

# a rule by wildcard, then one by tier: the review app's deployment is blocked by each
for name in 'review/*' development; do
  req POST "/api/v1/projects/$proj/protected_environments" "$maint" \
    "{\"name\":\"$name\",\"deploy_role\":\"developer\",\"required_approval_count\":1}"
  expect "protected: $name" 201 "$code" "$body"
  rule=$(jget "['id']")
  echo "$name" > "$tmp/repo/version" && git_commit "rule $name"
  run_pipeline "$dev"
  expect "$name: review/main's deployment waits for approval, production deploys" \
    "manual True success" \
    "$(job_field review status) $(job_field review waits_for_approval) $(job_field production status)" "$body"
  req DELETE "/api/v1/protected_environments/$rule" "$maint"
  expect "the rule is removed" 204 "$code"
done

# a deleted branch stops its review app (GitLab's push of a branch deletion)
git -C "$tmp/repo" checkout -qb feature
sed -i '/auto_stop_in/d' "$tmp/repo/.gitlab-ci.yml" && git_commit "feature: no auto stop"
git -C "$tmp/repo" checkout -q main
req POST /api/v1/projects "$maint" "{\"name\":\"app2\",\"repo_url\":\"file://$tmp/repo\",\"default_branch\":\"main\",\"webhook_secret\":\"s3cret-s3cret\"}"
proj2=$(jget "['id']")
req POST "/api/v1/projects/$proj2/pipelines" "$dev" '{"ref":"feature"}'
wait_for 60 pipeline_done "$(jget "['id']")"
req GET "/api/v1/projects/$proj2/environments" "$dev"
feature_env=$(python3 -c "import json,sys; print([e['id'] for e in json.load(sys.stdin) if e['name'] == 'review/feature'][0])" <<<"$body")
main_env=$(python3 -c "import json,sys; print([e['id'] for e in json.load(sys.stdin) if e['name'] == 'production'][0])" <<<"$body")
deleted='{"object_kind":"push","ref":"refs/heads/feature","after":"0000000000000000000000000000000000000000","project":{}}'
code=$(curl -s -o "$tmp/body" -w '%{http_code}' -X POST "$url/hooks/gitlab?project=app2" --data-binary "$deleted" \
  -H 'Content-Type: application/json' -H 'X-Gitlab-Event: Push Hook' -H 'X-Gitlab-Token: s3cret-s3cret')
body=$(cat "$tmp/body")
expect "a branch deletion stops one environment" "202 1" "$code $(jget "['stopped_environments']")" "$body"
feature_stopped() { req GET "/api/v1/environments/$feature_env" "$dev"; [[ $(jget "['state']") == stopped ]]; }
if wait_for 60 feature_stopped; then ok "review/feature stopped by its on_stop job"; else
  bad "review/feature stops when its branch is deleted" "$body"; fi
req GET "/api/v1/environments/$main_env" "$dev"
expect "production (deployed from feature, no on_stop) is left alone" available "$(jget "['state']")"

# the same through `sluice env`
out=$("$bin" env list --project "$proj2" --url "$url" --token "$dev")
expect "sluice env list shows the environments and their state" "1 1" \
  "$(grep -c 'review/feature *stopped' <<<"$out") $(grep -c 'production *available' <<<"$out")" "$out"
out=$("$bin" env show "$main_env" --url "$url" --token "$dev")
expect "sluice env show lists the deployments" 1 "$(grep -c '^  #[0-9]* *success' <<<"$out")" "$out"
out=$(SLUICE_URL=$url SLUICE_TOKEN=$dev "$bin" env rollback "$main_env" 2>&1)
expect "sluice env rollback as a developer: refused, exit 1" "1 1" "$? $(grep -c 'answered 403' <<<"$out")" "$out"
out=$("$bin" env rollback "$main_env" --url "$url" --token "$maint")
expect "sluice env rollback re-deploys the last deployment" 1 "$(grep -c 'rolls back to deployment' <<<"$out")" "$out"
redeployed() { req GET "/api/v1/environments/$main_env/deployments?limit=1" "$dev"; [[ $(jget "[0]['status']") =~ ^(success|failed)$ ]]; }
wait_for 60 redeployed
expect "the re-deploy ran" "success True" "$(jget "[0]['status']") $(jget "[0]['rollback_of'] is not None")" "$body"
out=$("$bin" env stop "$main_env" --url "$url" --token "$dev")
rc=$?
req GET "/api/v1/environments/$main_env" "$dev"
expect "sluice env stop stops it (no on_stop job: at once)" "0 stopped" "$rc $(jget "['state']")" "$out$body"
"$bin" env approve nope --url "$url" --token "$dev" 2>/dev/null
expect "a bad id is a usage error" 2 "$?"
"$bin" env list --url "$url" 2>/dev/null
expect "no token is a usage error" 2 "$?"

# a forge's push names no token of sluice's: it has no deploy access to a protected environment
req POST "/api/v1/projects/$proj2/protected_environments" "$maint" '{"name":"production","deploy_role":"developer"}'
expect "app2's production protected for developers" 201 "$code" "$body"
git -C "$tmp/repo" checkout -q feature
echo push > "$tmp/repo/version" && git_commit "feature: pushed"
pushed=$(git -C "$tmp/repo" rev-parse HEAD)
git -C "$tmp/repo" checkout -q main
push="{\"object_kind\":\"push\",\"ref\":\"refs/heads/feature\",\"after\":\"$pushed\",\"project\":{}}"
code=$(curl -s -o "$tmp/body" -w '%{http_code}' -X POST "$url/hooks/gitlab?project=app2" --data-binary "$push" \
  -H 'Content-Type: application/json' -H 'X-Gitlab-Event: Push Hook' -H 'X-Gitlab-Token: s3cret-s3cret')
body=$(cat "$tmp/body")
expect "the push makes a pipeline" 201 "$code" "$body"
pushed_pl=$(jget "['id']")
wait_for 60 pipeline_done "$pushed_pl"
expect "its production job fails unrun, its review app deploys" "protected_environment_failure success" \
  "$(job_field production failure_reason) $(job_field review status)" "$body"

# the per-project switch of outdated-deployment prevention (GitLab's ci_forward_deployment_enabled)
req PUT "/api/v1/projects/$proj" "$maint" '{"ci_forward_deployment_enabled":false}'
expect "switch the prevention off: 200" "200 False" "$code $(jget "['ci_forward_deployment_enabled']")" "$body"
req PUT "/api/v1/projects/$proj" "$maint" '{"ci_forward_deployment_enabeld":false}'
expect "a misspelt field: 400 naming it" "400 1" "$code $(grep -c enabeld <<<"$body")" "$body"
req PUT "/api/v1/projects/$proj" "$dev" '{"ci_forward_deployment_enabled":true}'
expect "a developer may not change it" 403 "$code"
req POST "/api/v1/jobs/$prod_job1/retry" "$dev"
expect "retry of the older deployment job again" 200 "$code" "$body"
prod_job1=$(jget "['id']")
old_again() { req GET "/api/v1/jobs/$prod_job1" "$dev"; [[ $(jget "['status']") =~ ^(success|failed)$ ]]; }
wait_for 60 old_again
expect "with the prevention off the older job deploys" success "$(jget "['status']")" "$body"
req PUT "/api/v1/projects/$proj" "$maint" '{"ci_forward_deployment_enabled":true}'
expect "switched on again" "200 True" "$code $(jget "['ci_forward_deployment_enabled']")" "$body"

# auto_stop_in over while the on_stop job's stage is not reached (a manual gate blocks the
# pipeline before it): the environment stays available, its timer is kept and tried again,
# and the review app stops once the gate is played and its stop job can run
repo_ci "$tmp/gated" one <<'YML' || exit 1
stages: [deploy, gate, cleanup]
review:
  stage: deploy
  script: [echo review]
  environment: {name: review/gated, on_stop: stop_review, auto_stop_in: 1 second}
gate:
  stage: gate
  when: manual
  allow_failure: false
  script: [echo open]
stop_review:
  stage: cleanup
  when: manual
  script: [echo stopping]
  environment: {name: review/gated, action: stop}
YML
req POST /api/v1/projects "$maint" "{\"name\":\"gated\",\"repo_url\":\"file://$tmp/gated\",\"default_branch\":\"main\"}"
gproj=$(jget "['id']")
req POST "/api/v1/projects/$gproj/pipelines" "$dev" '{"ref":"main"}'
gpl=$(jget "['id']")
wait_for 60 pipeline_done "$gpl" || bad "the gated pipeline waits at its gate" "$body"
expect "the gated pipeline waits for its manual gate" "manual created" \
  "$(job_field gate status) $(job_field stop_review status)" "$body"
req GET "/api/v1/projects/$gproj/environments" "$dev"
genv=$(jget "[0]['id']")
first_due=$(jget "[0]['auto_stop_at']")
retried() { req GET "/api/v1/environments/$genv" "$dev"; [[ $(jget "['auto_stop_at']") != "$first_due" ]]; }
if wait_for 60 retried; then ok "a stop that cannot start yet keeps its timer, moved later"; else
  bad "the timer of a stop that cannot start is kept" "$body"; fi
expect "... and the environment is still available" "available False" \
  "$(jget "['state']") $(jget "['auto_stop_at'] is None")" "$body"
first_due=$(jget "['auto_stop_at']")
wait_for 60 retried || bad "the stop is tried again" "$body"
expect "its tries are logged once, not at every retry" 1 \
  "$(grep 'cannot be stopped yet' "$tmp/err" | grep -c 'review/gated')" "$(grep 'review/gated' "$tmp/err")"
req GET "/api/v1/pipelines/$gpl" "$dev"
req POST "/api/v1/jobs/$(job_of gate)/play" "$dev"
expect "the gate is played" 200 "$code" "$body"
genv_stopped() { req GET "/api/v1/environments/$genv" "$dev"; [[ $(jget "['state']") == stopped ]]; }
if wait_for 60 genv_stopped; then ok "once its stage is reached the kept timer runs the stop job"; else
  bad "the review app stops after its gate" "$body"; fi
req GET "/api/v1/pipelines/$gpl" "$dev"
expect "the stop job ran" success "$(job_field stop_review status)" "$body"

server_stop
finish
