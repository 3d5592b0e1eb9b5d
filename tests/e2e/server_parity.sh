#!/usr/bin/env bash
# What a server pipeline shares with `sluice run` (one job spec, src/jobspec): caches kept
# per project in the data directory across pipelines, with key, fallback and policy rules,
# a protected ref's apart from the others';
# dotenv reports feeding later jobs' variables (below the pipeline's own variables);
# artifacts:paths with $CI_PROJECT_DIR; JUnit counts in the pipeline's test report and
# coverage on the job; CI_JOB_URL at the server; a bridge job settled, not refused.
. "$(dirname "$0")/lib/e2e.sh"
needs curl python3 git
bin=$(realpath "$bin")
. "$(dirname "$0")/lib/server.sh"
trap 'server_stop; rm -rf "$tmp"' EXIT

repo_ci "$tmp/repo" <<'YML' || exit 1
stages: [build, test]
variables:
  FROM_PIPELINE: yaml
build:
  stage: build
  cache:
    key: deps-$CI_COMMIT_REF_SLUG
    paths: [$CI_PROJECT_DIR/.deps]
  script:
    - if [ -f .deps/stamp ]; then echo "cache hit $(cat .deps/stamp)"; else echo "cache miss"; fi
    - mkdir -p .deps out && echo "$CI_JOB_ID" > .deps/stamp
    - echo "built" > out/app.txt && echo "debug" > out/app.o
    - printf 'VERSION=1.2.3\nFROM_PIPELINE=dotenv\n' > build.env
    - printf '<testsuite><testcase name="a"/><testcase name="b"><failure/></testcase><testcase name="c"><skipped/></testcase></testsuite>' > report.xml
    - echo "Coverage 87.5%"
    - echo "job_url=$CI_JOB_URL"
    - echo "ids=$IDS"
  variables:
    IDS: "p$CI_PIPELINE_ID-i$CI_PIPELINE_IID-j$CI_JOB_ID"
  coverage: '/Coverage (\d+\.\d+)%/'
  artifacts:
    paths: [$CI_PROJECT_DIR/out/]
    exclude: ["$CI_PROJECT_DIR/out/*.o"]
    reports:
      dotenv: build.env
      junit: report.xml
test:
  stage: test
  cache:
    key: other-key
    fallback_keys: [deps-$CI_COMMIT_REF_SLUG]
    paths: [.deps]
    policy: pull
  script:
    - echo "version=$VERSION from=$FROM_PIPELINE"
    - echo "artifact=$(cat out/app.txt) object=$(ls out/app.o 2>/dev/null || echo none)"
    - if [ -f .deps/stamp ]; then echo "test cache hit"; else echo "test cache miss"; fi
YML
server_start --workers 2 || exit 1
req POST /api/v1/projects "$admin" "{\"name\":\"parity\",\"repo_url\":\"$tmp/repo\"}"
project=$(jget "['id']")

# run_pipeline BODY: creates a pipeline and waits for its end; sets pl
run_pipeline() {
  req POST /api/v1/projects/$project/pipelines "$admin" "$1"
  pl=$(jget "['id']")
  finished() { req GET /api/v1/pipelines/$pl "$admin"; [[ $(jget "['status']") =~ ^(success|failed|canceled)$ ]]; }
  wait_for 120 finished || bad "pipeline $pl finishes" "$body"
}
job_log() { # job_log NAME: the log of job NAME of pipeline $pl, in $log
  req GET /api/v1/pipelines/$pl "$admin"
  local id
  id=$(python3 -c "import json,sys; d=json.load(sys.stdin)
print([j['id'] for j in d['jobs'] if j['name'] == sys.argv[1]][0])" "$1" <<<"$body")
  req GET /api/v1/jobs/$id "$admin"
  job_body=$body
  req GET /api/v1/jobs/$id/log "$admin"
  log=$body
}

run_pipeline '{}'
expect "the first pipeline succeeds" success "$(jget "['status']")" "$body"
job_log build
expect "a first pipeline starts with a cold cache" 1 "$(grep -c '^cache miss' <<<"$log")" "$log"
expect "CI_JOB_URL points at the job's page on the server" 1 \
  "$(grep -c "^job_url=$url/jobs/[0-9]" <<<"$log")" "$log"
expect "a variable's \$CI_PIPELINE_ID, _IID and \$CI_JOB_ID are the server's ids" 1 \
  "$(grep -cx "ids=p$pl-i1-j$(python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])' <<<"$job_body")" <<<"$log")" "$log"
body=$job_body
expect "the job records its coverage" 87.5 "$(jget "['coverage']")" "$body"
job_log test
expect "dotenv variables reach the next stage" 1 "$(grep -c '^version=1.2.3 from=dotenv' <<<"$log")" "$log"
expect "artifacts:paths and exclude with \$CI_PROJECT_DIR" 1 \
  "$(grep -c '^artifact=built object=none' <<<"$log")" "$log"
expect "a fallback key restores the build job's cache" 1 "$(grep -c '^test cache hit' <<<"$log")" "$log"
req GET /api/v1/pipelines/$pl/test_report "$admin"
expect "the test report counts the JUnit cases" "3 1 1 1" \
  "$(jget "['total']['count'], d['total']['success'], d['total']['failed'], d['total']['skipped']" | tr -d '(),')" "$body"
expect "one suite per job, with its id" "build 1" \
  "$(jget "['test_suites'][0]['name'], len(d['test_suites'][0]['build_ids'])" | tr -d "(),'")" "$body"
ls "$tmp/data/cache/$project/protected"/deps-main.* >/dev/null 2>&1 &&
  ok "caches are kept per project in the data directory (main, protected by default, in protected/)" ||
  bad "caches are kept per project in the data directory" "$(find "$tmp/data" -maxdepth 4)"

run_pipeline '{"variables":{"FROM_PIPELINE":"api"}}'
expect "the second pipeline succeeds" success "$(jget "['status']")" "$body"
job_log build
expect "the second pipeline restores the first one's cache" 1 "$(grep -c '^cache hit [0-9]' <<<"$log")" "$log"
job_log test
expect "a pipeline variable ranks above dotenv" 1 "$(grep -c '^version=1.2.3 from=api' <<<"$log")" "$log"
req GET /api/v1/pipelines/999999/test_report "$admin"
expect "an unknown pipeline's test report is 404" 404 "$code"

# separate caches for protected branches (GitLab's default): an unprotected branch's pipeline
# (a fork's request alike) writing main's cache key never reaches main's protected pipelines
git -C "$tmp/repo" branch topic
run_pipeline '{"ref":"topic","variables":{"CI_COMMIT_REF_SLUG":"main"}}'
job_log build
expect "an unprotected pipeline does not restore the protected one's cache, same key" 1 \
  "$(grep -c '^cache miss' <<<"$log")" "$log"
topic_job=$(grep -o 'ids=p[0-9]*-i[0-9]*-j[0-9]*' <<<"$log" | sed 's/.*-j//')
expect "... and keeps what it writes apart" yes \
  "$(ls "$tmp/data/cache/$project/non_protected"/deps-main.* >/dev/null 2>&1 && echo yes)" "$(find "$tmp/data/cache")"
run_pipeline '{}'
job_log build
got=$(grep -o '^cache hit [0-9]*' <<<"$log" | sed 's/cache hit //')
expect "main's next pipeline restores its own cache, not the unprotected one's" "yes" \
  "$([[ -n $got && $got != "$topic_job" ]] && echo yes)" "$log (topic job $topic_job)"

# a bridge (trigger:) runs its child pipeline on the server too (trigger:include: the same
# commit, its own pipeline), and its log says which
mkdir "$tmp/bridge" && printf 'unit:\n  script: [echo unit]\n' >"$tmp/bridge/child.yml"
repo_ci "$tmp/bridge" <<'YML' || exit 1
child:
  trigger:
    include: child.yml
  allow_failure: true
after:
  stage: deploy
  script: [echo after]
YML
req POST /api/v1/projects "$admin" "{\"name\":\"bridge\",\"repo_url\":\"$tmp/bridge\"}"
project=$(jget "['id']")
run_pipeline '{}'
expect "a pipeline with a bridge is made and passes" success "$(jget "['status']")" "$body"
job_log child
body=$job_body
expect "the bridge succeeds (it does not wait for its child without strategy: depend)" success \
  "$(jget "['status']")" "$body"
expect "its log names the downstream pipeline" 1 \
  "$(grep -c 'downstream pipeline #[0-9]* created' <<<"$log")" "$log"

# include:project and include:component from another project of the server (its mirror),
# a nested include:local read from that project; include:remote refused with one message
mkdir -p "$tmp/lib/templates"
(cd "$tmp/lib" && printf 'include: {local: nested.yml}\nfrom_lib:\n  script: [echo from-lib]\n' > ci.yml \
  && printf 'nested_lib:\n  script: [echo nested]\n' > nested.yml \
  && printf 'spec:\n  inputs:\n    who: {default: x}\n---\ngreet_$[[ inputs.who ]]:\n  script: [echo hi]\n' > templates/greet.yml) || exit 1
repo_init "$tmp/lib" && repo_commit "$tmp/lib" && git -C "$tmp/lib" tag v1.0.0 || exit 1
repo_ci "$tmp/app" <<'YML' || exit 1
include:
  - project: lib
    file: ci.yml
  - component: $CI_SERVER_FQDN/lib/greet@~latest
    inputs: {who: app}
own:
  script: [echo own]
YML
req POST /api/v1/projects "$admin" "{\"name\":\"lib\",\"repo_url\":\"$tmp/lib\"}"
req POST /api/v1/projects "$admin" "{\"name\":\"app\",\"repo_url\":\"$tmp/app\"}"
project=$(jget "['id']")
run_pipeline '{}'
expect "a pipeline including another project's files passes" success "$(jget "['status']")" "$body"
names=$(python3 -c "import json,sys; print(' '.join(sorted(j['name'] for j in json.load(sys.stdin)['jobs'])))" <<<"$body")
expect "its jobs come from the project, its nested include and the component" \
  "from_lib greet_app nested_lib own" "$names"
(cd "$tmp/app" && printf 'include: {remote: "https://example.com/x.yml"}\nown:\n  script: [echo own]\n' > .gitlab-ci.yml \
  && git -c user.email=t@t -c user.name=t commit -qam remote) || exit 1
req POST /api/v1/projects/$project/pipelines "$admin" '{}'
pl=$(jget "['id']")
req GET /api/v1/pipelines/$pl "$admin"
expect "include:remote is refused on the server" 1 \
  "$(grep -c 'include:remote `https://example.com/x.yml` is not resolved on this server' <<<"$body")" "$body"

server_stop
finish
