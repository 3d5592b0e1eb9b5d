#!/usr/bin/env bash
# kill -9 of sluice serve while jobs run, then a restart: the jobs left running are marked
# failed with runner_system_failure, retried where `retry` allows, and the pipeline finishes.
set -u
. "$(dirname "$0")/lib/skip.sh"
. "$(dirname "$0")/lib/repo.sh"
bin=${SLUICE_BIN:?SLUICE_BIN is not set}
if ! command -v curl >/dev/null; then
  skip "needs curl, which is not installed"
fi
tmp=$(mktemp -d)
. "$(dirname "$0")/lib/server.sh"
cleanup() { [[ -n $pid ]] && kill -9 "$pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT

# a server started as root runs jobs as nobody: the marker goes where nobody may write
shared_dir
repo_ci "$tmp/repo" <<YML || exit 1
stages: [slow, after]
retried:
  stage: slow
  retry:
    max: 1
    when: runner_system_failure
  script:
    - if [ -f "$tmp/shared/marker" ]; then echo second attempt; else touch "$tmp/shared/marker"; sleep 20; fi
lost:
  stage: slow
  allow_failure: true
  script: [sleep 20]
done:
  stage: after
  script: [echo after the crash]
YML

start() { server_start --workers 2 || { bad "the server starts"; finish; exit 1; }; }

start
api POST /api/v1/projects "{\"name\":\"crash\",\"repo_url\":\"$tmp/repo\"}"
api POST /api/v1/projects/1/pipelines '{"ref":"main"}'
pl=$(jget "['id']")
for _ in $(seq 600); do
  api GET /api/v1/pipelines/$pl
  [[ $(jget "['jobs'][0]['status']") == running && $(jget "['jobs'][1]['status']") == running ]] && break
  sleep 0.1
done
expect "both slow jobs run" "running running" "$(jget "['jobs'][0]['status']") $(jget "['jobs'][1]['status']")" "$body"
kill -9 "$pid"
wait "$pid" 2>/dev/null
pid=

start
status=
# generous: under a sanitizer on a loaded 2-core machine the retry and the later stage
# take many seconds (a bound, not a timing: the test is about the outcome)
for _ in $(seq 1200); do
  api GET /api/v1/pipelines/$pl
  status=$(jget "['status']")
  [[ $status == success || $status == failed || $status == canceled ]] && break
  sleep 0.1
done
expect "the pipeline finishes after the restart" success "$status" "$body"
lost=$(jget "['jobs'][1]['id']")
retried=$(jget "['jobs'][0]['id']")
expect "the job without retry failed with runner_system_failure" "failed runner_system_failure" \
  "$(jget "['jobs'][1]['status']") $(jget "['jobs'][1]['failure_reason']")"
api GET /api/v1/jobs/$retried
expect "the job with retry ran again and passed" "success 2" "$(jget "['status']") $(jget "['attempt']")"
api GET /api/v1/jobs/$retried/log
expect "its second attempt's log" 1 "$(grep -xc 'second attempt' <<<"$body")" "$body"
api GET /api/v1/pipelines/$pl
expect "the later stage ran" success "$(jget "['jobs'][2]['status']")"
expect "recovery is logged" 2 "$(grep -c 'marked failed' "$tmp/err")"
server_stop
finish
