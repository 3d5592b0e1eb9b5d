#!/usr/bin/env bash
# GitLab's runner API (/api/v4) spoken request by request as gitlab-runner does
# (runner_protocol.py) against a real `sluice serve` with no built-in workers: one server
# for registration, long-polls, payload, trace ranges, tags, cancel and revocation, one
# with a 3 s lease for a runner that goes silent (runner_system_failure, the retry on a new
# token, late updates refused), and a built-in worker's artifacts downloaded as a zip.
# SL_SERVER_DB: on that store (server_pg.sh passes
# PostgreSQL).
. "$(dirname "$0")/lib/e2e.sh"
needs curl python3 git
# shellcheck source=lib/server.sh
. "$src/tests/e2e/lib/server.sh"

repo_ci "$tmp/repo" <<'YML' || exit 1
stages: [build, test]
build:
  stage: build
  variables: {GREETING: hello}
  before_script: [echo before]
  script: [echo hi]
  timeout: 10m
  artifacts:
    paths: [out/]
  cache:
    key: deps
    fallback_keys: [deps-old]
    paths: [.deps/]
untagged:
  stage: test
  script: [echo untagged]
tagged:
  stage: test
  tags: [a]
  script: [echo tagged]
YML

project() { # project NAME -> $project
  req POST /api/v1/projects "$admin" "{\"name\":\"$1\",\"repo_url\":\"$tmp/repo\"}"
  [[ $code == 201 ]] || { bad "project created" "$body"; finish; exit 1; }
  project=$(jget "['id']")
}

status=0
server_start --workers 0 || { echo "not ok - server starts"; exit 1; }
regtoken=$("$bin" runner registration-token --data "$tmp/data" "${db[@]}")
expect "sluice runner registration-token prints one" 1 "$(grep -c '^GR1348941' <<<"$regtoken")"
project proto
python3 "$src/tests/e2e/runner_protocol.py" main "$url" "$admin" "$regtoken" "$project" || status=1
cli_token=$("$bin" runner create --tags x,y --name cli --data "$tmp/data" "${db[@]}")
req GET /api/v1/runners "$admin"
expect "sluice runner create makes a tagged runner" "['x', 'y']" \
  "$(jget "['runners'][-1]['tags']")"
expect "and prints its glrt- token" 1 "$(grep -c '^glrt-' <<<"$cli_token")"
server_stop

# the lease: the retry of a job whose runner went silent
(cd "$tmp/repo" && cat > .gitlab-ci.yml <<'YML'
job:
  retry: {max: 1, when: runner_system_failure}
  script: [echo hi]
YML
git -c user.email=t@t -c user.name=t commit -qam lease)
server_start --workers 0 --lease 3 || { echo "not ok - server starts"; exit 1; }
project sleepy
python3 "$src/tests/e2e/runner_protocol.py" lease "$url" "$admin" "$project" || status=1
server_stop

# a built-in worker's artifacts (kept as .tar.zst) reach a runner as a zip: a server with a
# worker runs build, then one without workers hands the manual job to a runner
(cd "$tmp/repo" && cat > .gitlab-ci.yml <<'YML'
stages: [build, test]
build:
  stage: build
  script: [mkdir -p out, echo built > out/file.txt]
  artifacts: {paths: [out/]}
remote:
  stage: test
  when: manual
  script: [cat out/file.txt]
YML
git -c user.email=t@t -c user.name=t commit -qam zip)
server_start --workers 1 || { echo "not ok - server starts"; exit 1; }
project zipped
req POST "/api/v1/projects/$project/pipelines" "$admin" '{"ref":"main"}'
zpl=$(jget "['id']")
built() { req GET "/api/v1/pipelines/$zpl" "$admin"; [[ $(jget "['jobs'][0]['status']") == success ]]; }
wait_for 300 built || bad "the worker ran build" "$body"
server_stop
server_start --workers 0 || { echo "not ok - server starts"; exit 1; }
python3 "$src/tests/e2e/runner_protocol.py" zip "$url" "$admin" "$zpl" || status=1
server_stop
finish || status=1
exit $status
