#!/usr/bin/env bash
# Two sluice servers on one PostgreSQL (and one data directory), one worker each: the two
# `needs` of a job, run one on each server, finish at the same moment (both wait on one
# file). Each server's transition locks the pipeline's row in its transaction, so the one
# that comes second sees the first's result: the job that needs both starts exactly once,
# and every pipeline finishes. Eight rounds. (The race is narrow: with the process-wide
# mutex of before, 16 rounds did not show it here either; the test holds the property, the
# transaction makes it hold by construction.) Then a third server starts while jobs run and
# must leave them be.
. "$(dirname "$0")/lib/e2e.sh"
needs curl python3 git
uri=$("$src/scripts/pg-test-server.sh" start --watch $$ 2>"$tmp/pg.err")
rc=$?
why=$(cat "$tmp/pg.err")
((rc == 77)) && skip "needs PostgreSQL (Debian's postgresql package), which is not installed"
((rc != 0)) && skip "PostgreSQL is installed but cannot start here: $why"
SL_SERVER_DB=$uri
. "$(dirname "$0")/lib/server.sh"
pid2=
# the verdict is finish's: a script that stops early (a syntax error) fails
verdict=1
trap '[[ -n $pid2 ]] && { kill -TERM "$pid2"; wait "$pid2"; }; server_stop; "$src/scripts/pg-test-server.sh" stop "$uri" >/dev/null; rm -rf "$tmp"; exit $verdict' EXIT
shared_dir

repo_ci "$tmp/repo" <<YML || exit 1
stages: [one, two]
a:
  stage: one
  script: ['while [ ! -e "$tmp/shared/go-\$CI_PIPELINE_ID" ]; do sleep 0.01; done']
b:
  stage: one
  script: ['while [ ! -e "$tmp/shared/go-\$CI_PIPELINE_ID" ]; do sleep 0.01; done']
c:
  stage: two
  needs: [a, b]
  script: [echo c ran]
YML

server_start --workers 1 || exit 1
url1=$url
"$bin" serve --listen 127.0.0.1:0 --data "$tmp/data" --db "$uri" --workers 1 >"$tmp/out2" 2>"$tmp/err2" &
pid2=$!
wait_for 30 grep -qs 'listening on' "$tmp/out2" || { bad "the second server starts" "$(cat "$tmp/err2")"; exit 1; }
ok "two servers on one PostgreSQL"

req POST /api/v1/projects "$admin" "{\"name\":\"two\",\"repo_url\":\"$tmp/repo\"}"
project=$(jget "['id']")
once=0 finished=0 split=0
for round in $(seq 8); do
  req POST /api/v1/projects/$project/pipelines "$admin" '{}'
  pl=$(jget "['id']")
  both_running() {
    req GET /api/v1/pipelines/$pl "$admin"
    [[ "$(jget "['jobs'][0]['status']") $(jget "['jobs'][1]['status']")" == "running running" ]]
  }
  wait_for 60 both_running || { bad "round $round: a and b run at once" "$body"; continue; }
  touch "$tmp/shared/go-$pl"
  over() { req GET /api/v1/pipelines/$pl "$admin"; [[ $(jget "['status']") =~ ^(success|failed|canceled)$ ]]; }
  if wait_for 60 over && [[ $(jget "['status']") == success ]]; then
    finished=$((finished + 1))
  else
    bad "round $round: the pipeline finishes" "$body"
  fi
  c=$(jget "['jobs'][2]['id']")
  req GET /api/v1/jobs/$c "$admin"
  [[ $(jget "['attempt']") == 1 ]] && once=$((once + 1))
  req GET /api/v1/jobs/$c/log "$admin"
  [[ $(grep -cx 'c ran' <<<"$body") == 1 ]] || bad "round $round: c ran once" "$body"
done
expect "every pipeline finished" 8 "$finished"
expect "the job needing both started exactly once each time" 8 "$once"

# A server that starts while the others run jobs takes none of theirs for its own: the
# workers of each start are named apart (instance.c), on one host and one data directory.
req POST /api/v1/projects/$project/pipelines "$admin" '{}'
pl=$(jget "['id']")
wait_for 60 both_running || bad "a and b run before a third server starts" "$body"
"$bin" serve --listen 127.0.0.1:0 --data "$tmp/data" --db "$uri" --workers 1 >"$tmp/out3" 2>"$tmp/err3" &
pid3=$!
wait_for 30 grep -qs 'listening on' "$tmp/out3" || bad "a third server starts" "$(cat "$tmp/err3")"
req GET /api/v1/pipelines/$pl "$admin"
expect "the running jobs stay running when a third server starts" "running running" \
  "$(jget "['jobs'][0]['status']") $(jget "['jobs'][1]['status']")" "$(cat "$tmp/err3")"
expect "the third server recovered nothing" 0 "$(grep -c 'marked failed' "$tmp/err3")"
touch "$tmp/shared/go-$pl"
wait_for 60 over || true
expect "that pipeline succeeds" success "$(jget "['status']")" "$body"
kill -TERM "$pid3" && wait "$pid3"
expect "the third server stops cleanly" "0 0" "$? $(grep -c Sanitizer "$tmp/err3")"

kill -TERM "$pid2" && wait "$pid2"
expect "the second server stops cleanly" "0 0" "$? $(grep -c Sanitizer "$tmp/err2")"
pid2=
finish
verdict=$?
