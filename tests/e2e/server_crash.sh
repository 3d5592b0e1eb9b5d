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
pid=
cleanup() { [[ -n $pid ]] && kill -9 "$pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
pass=0 fail=0
expect() { # expect NAME WANT GOT [detail]
  if [[ $2 == "$3" ]]; then pass=$((pass + 1)); echo "ok - $1"
  else fail=$((fail + 1)); echo "not ok - $1: got '$3', want '$2'"; [[ -n ${4:-} ]] && echo "$4" | sed 's/^/#   /'; fi
}

# a server started as root runs jobs as nobody: the marker goes where nobody may write
chmod 711 "$tmp" && mkdir -m 1777 "$tmp/shared"
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

start() {
  "$bin" serve --listen 127.0.0.1:0 --data "$tmp/data" --workers 2 >"$tmp/out" 2>>"$tmp/err" &
  pid=$!
  for _ in $(seq 1200); do grep -q 'listening on' "$tmp/out" && break; sleep 0.05; done
  url=http://$(sed -n 's/.*listening on http:\/\///p' "$tmp/out")
}
req() {
  local args=(-s -X "$1" "$url$2" -H "Authorization: Bearer $(cat "$tmp/data/admin.token")")
  [[ $# -ge 3 ]] && args+=(--data-binary "$3")
  body=$(curl "${args[@]}")
}
jget() { python3 -c "import json,sys; d=json.load(sys.stdin); print(eval('d'+sys.argv[1]))" "$1" <<<"$body"; }

start
req POST /api/v1/projects "{\"name\":\"crash\",\"repo_url\":\"$tmp/repo\"}"
req POST /api/v1/projects/1/pipelines '{"ref":"main"}'
pl=$(jget "['id']")
for _ in $(seq 600); do
  req GET /api/v1/pipelines/$pl
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
  req GET /api/v1/pipelines/$pl
  status=$(jget "['status']")
  [[ $status == success || $status == failed || $status == canceled ]] && break
  sleep 0.1
done
expect "the pipeline finishes after the restart" success "$status" "$body"
lost=$(jget "['jobs'][1]['id']")
retried=$(jget "['jobs'][0]['id']")
expect "the job without retry failed with runner_system_failure" "failed runner_system_failure" \
  "$(jget "['jobs'][1]['status']") $(jget "['jobs'][1]['failure_reason']")"
req GET /api/v1/jobs/$retried
expect "the job with retry ran again and passed" "success 2" "$(jget "['status']") $(jget "['attempt']")"
req GET /api/v1/jobs/$retried/log
expect "its second attempt's log" 1 "$(grep -xc 'second attempt' <<<"$body")" "$body"
expect "the later stage ran" success "$(curl -s -H "Authorization: Bearer $(cat "$tmp/data/admin.token")" "$url/api/v1/pipelines/$pl" | python3 -c 'import json,sys; print(json.load(sys.stdin)["jobs"][2]["status"])')"
expect "recovery is logged" 2 "$(grep -c 'marked failed' "$tmp/err")"
kill -TERM "$pid"; wait "$pid"; pid=
echo "$pass passed, $fail failed"
((fail == 0))
