#!/usr/bin/env bash
# environment:url filled by the deploying job's own dotenv report, as GitLab's dynamic
# environment URLs (`url: $DYNAMIC_URL`, the variable written by the job to a reports:dotenv
# file): the environment's url is expanded once the job has succeeded; a url the job's
# variables already define is kept as it is. environment:kubernetes is kept and shown. The
# other forms: deployment_tier over the guessed tier, and the actions prepare, verify and
# access, which use an environment (CI_ENVIRONMENT_ACTION) without deploying to it. On
# SQLite here and on PostgreSQL through server_pg.sh.
. "$(dirname "$0")/lib/e2e.sh"
needs curl
chmod 0711 "$tmp"
# shellcheck source=lib/server.sh
. "$src/tests/e2e/lib/server.sh"

repo_ci "$tmp/repo" one <<'YML' || exit 1
review:
  script:
    - echo "DYNAMIC_HOST=app-$CI_PIPELINE_IID.example.test" > deploy.env
  artifacts:
    reports:
      dotenv: deploy.env
  environment:
    name: review/$CI_COMMIT_REF_SLUG
    url: https://$DYNAMIC_HOST/$CI_ENVIRONMENT_SLUG
static:
  script: ["true"]
  environment:
    name: staging
    url: https://staging.example.test/$CI_COMMIT_REF_SLUG
    kubernetes:
      agent: group/project:staging-agent
      namespace: staging
tiered:
  script: ["true"]
  environment: {name: customer-portal, deployment_tier: staging}
prepare:
  script: [echo "uses $CI_ENVIRONMENT_NAME $CI_ENVIRONMENT_ACTION $CI_ENVIRONMENT_TIER"]
  environment: {name: production, action: prepare}
verify:
  script: [echo "uses $CI_ENVIRONMENT_NAME $CI_ENVIRONMENT_ACTION $CI_ENVIRONMENT_TIER"]
  environment: {name: production, action: verify}
access:
  script: [echo "uses $CI_ENVIRONMENT_NAME $CI_ENVIRONMENT_ACTION $CI_ENVIRONMENT_TIER"]
  environment: {name: production, action: access}
YML

server_start --workers 2 || { bad "server starts"; finish; exit 1; }
ok "server starts ($url)"
maint=$("$bin" token create --role maintainer --data "$tmp/data" "${db[@]}" 2>/dev/null)
req POST /api/v1/projects "$maint" "{\"name\":\"app\",\"repo_url\":\"file://$tmp/repo\"}"
proj=$(jget "['id']")
req POST "/api/v1/projects/$proj/pipelines" "$maint" '{"ref":"main"}'
pl=$(jget "['id']")
iid=$(jget "['iid']")
done_() { req GET "/api/v1/pipelines/$pl" "$maint"; [[ $(jget "['status']") =~ ^(success|failed)$ ]]; }
wait_for 180 done_ || bad "the pipeline ends" "$body"
expect "the pipeline succeeds" success "$(jget "['status']")" "$body"
env_url() { # env_url NAME
  req GET "/api/v1/projects/$proj/environments" "$maint"
  python3 -c "import json,sys; print([e['external_url'] for e in json.load(sys.stdin) if e['name']==sys.argv[1]][0])" "$1" <<<"$body"
}
expect "a url from the job's dotenv report" "https://app-$iid.example.test/review-main" \
  "$(env_url review/main)" "$body"
expect "a url the job's variables define" "https://staging.example.test/main" "$(env_url staging)"
req GET "/api/v1/projects/$proj/environments" "$maint"
expect "environment:kubernetes is kept and shown" "group/project:staging-agent staging None" \
  "$(python3 -c "import json,sys; e={e['name']: e for e in json.load(sys.stdin)}; print(e['staging']['kubernetes']['agent'], e['staging']['kubernetes']['namespace'], e['review/main']['kubernetes'])" <<<"$body")" "$body"

env_field() { # env_field NAME FIELD: FIELD of environment NAME in the last body
  python3 -c "import json,sys; print([e[sys.argv[2]] for e in json.load(sys.stdin) if e['name']==sys.argv[1]][0])" "$1" "$2" <<<"$body"
}
expect "deployment_tier is kept over the guessed tier (other)" staging "$(env_field customer-portal tier)"
expect "prepare, verify and access make the environment, deploy nothing" "production None" \
  "$(env_field production tier) $(env_field production last_deployment)" "$body"
prod=$(env_field production id)
req GET "/api/v1/environments/$prod/deployments" "$maint"
expect "production has no deployment" "200 0" "$code $(jget ".__len__()")" "$body"
req GET "/api/v1/pipelines/$pl" "$maint"
pbody=$body
for a in prepare verify access; do
  body=$pbody
  job=$(python3 -c "import json,sys; print([j['id'] for j in json.load(sys.stdin)['jobs'] if j['name']==sys.argv[1]][0])" "$a" <<<"$body")
  req GET "/api/v1/jobs/$job/log" "$maint"
  expect "the $a job sees CI_ENVIRONMENT_ACTION=$a" 1 "$(grep -cx "uses production $a production" <<<"$body")" "$body"
done

server_stop
finish
