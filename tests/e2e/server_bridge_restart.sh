#!/usr/bin/env bash
# A `strategy: depend` bridge survives a restart of the server: the bridge waits on its child
# pipeline (a manual job there), the server stops with SIGTERM and starts again on the same
# data directory, the child's job is played, and the bridge then ends with its child.
# A bridge left running but never fired (a crash between the two) is fired at start-up,
# once when two servers start on that store at the same moment.
. "$(dirname "$0")/lib/e2e.sh"
needs curl python3 git
bin=$(realpath "$bin")
. "$(dirname "$0")/lib/server.sh"
pid2=
trap '[[ -n $pid2 ]] && kill -TERM "$pid2" 2>/dev/null; server_stop; rm -rf "$tmp"' EXIT

repo_init "$tmp/repo" || exit 1
printf 'gate:\n  script: [echo gate]\n  when: manual\n  allow_failure: false\n' >"$tmp/repo/child.yml"
repo_ci "$tmp/repo" <<'YML' || exit 1
child:
  trigger:
    include: child.yml
    strategy: depend
after:
  stage: deploy
  script: [echo after]
YML
server_start --workers 1 || exit 1
req POST /api/v1/projects "$admin" "{\"name\":\"restart\",\"repo_url\":\"$tmp/repo\"}"
project=$(jget "['id']")
req POST /api/v1/projects/$project/pipelines "$admin" '{}'
pl=$(jget "['id']")
has_child() { req GET /api/v1/pipelines/$pl "$admin"; [[ $(jget "['downstream'].__len__()") -ge 1 ]]; }
wait_for 300 has_child || bad "the bridge creates its child pipeline" "$body"
child=$(jget "['downstream'][0]['id']")
gate_manual() {
  req GET /api/v1/pipelines/$child "$admin"
  python3 -c "import json,sys; d=json.load(sys.stdin); sys.exit(0 if [j for j in d['jobs'] if j['name']=='gate' and j['status']=='manual'] else 1)" <<<"$body"
}
wait_for 300 gate_manual || bad "the child's gate waits to be played" "$body"
gate=$(python3 -c "import json,sys; print([j['id'] for j in json.load(sys.stdin)['jobs'] if j['name']=='gate'][0])" <<<"$body")
req GET /api/v1/pipelines/$pl "$admin"
bridge_status=$(python3 -c "import json,sys; print([j['status'] for j in json.load(sys.stdin)['jobs'] if j['name']=='child'][0])" <<<"$body")
expect "the depend bridge is running before the restart" running "$bridge_status" "$body"

server_stop
server_start --workers 1 || exit 1
req GET /api/v1/pipelines/$pl "$admin"
bridge_status=$(python3 -c "import json,sys; print([j['status'] for j in json.load(sys.stdin)['jobs'] if j['name']=='child'][0])" <<<"$body")
expect "the depend bridge is still running after the restart" running "$bridge_status" "$body"

req POST /api/v1/jobs/$gate/play "$admin" ''
expect "the child's gate is played" 200 "$code" "$body"
finished() { req GET /api/v1/pipelines/$pl "$admin"; [[ $(jget "['status']") =~ ^(success|failed|canceled)$ ]]; }
wait_for 300 finished || bad "the parent pipeline finishes" "$body"
expect "the parent passes once its child does" success "$(jget "['status']")" "$body"
bridge_status=$(python3 -c "import json,sys; print([j['status'] for j in json.load(sys.stdin)['jobs'] if j['name']=='child'][0])" <<<"$body")
expect "the bridge mirrors its child" success "$bridge_status" "$body"
server_stop

# A bridge made running by a transaction whose firing never came (the server died between
# the two) is fired when the server starts again. The store is set back by hand to that
# state: the bridge running, never fired (no runner), its pipeline running.
if [[ -z ${SL_SERVER_DB:-} ]]; then
  bridge=$(python3 -c "import json,sys; print([j['id'] for j in json.load(sys.stdin)['jobs'] if j['name']=='child'][0])" <<<"$body")
  sqlite3 "$tmp/data/sluice.db" \
    "UPDATE jobs SET status = 'running', runner_id = NULL, finished_at = NULL,
       lease_deadline = $(( $(date +%s) * 1000 + 3600000 )) WHERE id = $bridge;
     UPDATE pipelines SET status = 'running', finished_at = NULL WHERE id = $pl;" ||
    bad "the store is set back to an unfired bridge"
  server_start --workers 1 || exit 1
  two_children() { req GET /api/v1/pipelines/$pl "$admin"; [[ $(jget "['downstream'].__len__()") -ge 2 ]]; }
  wait_for 300 two_children || bad "the unfired bridge is fired at start-up" "$body"
  expect "start-up says it fired it" 1 "$(grep -c 'bridge left unfired by a stop fired now' "$tmp/err")"
  server_stop

  # Two servers starting at the same moment on that store both find the unfired bridge:
  # it is fired once (one more child), not once by each.
  sqlite3 "$tmp/data/sluice.db" \
    "UPDATE jobs SET status = 'running', runner_id = NULL, finished_at = NULL,
       lease_deadline = $(( $(date +%s) * 1000 + 3600000 )) WHERE id = $bridge;
     UPDATE pipelines SET status = 'running', finished_at = NULL WHERE id = $pl;" ||
    bad "the store is set back to an unfired bridge again"
  "$bin" serve --listen 127.0.0.1:0 --data "$tmp/data" --workers 1 >"$tmp/out2" 2>"$tmp/err2" &
  pid2=$!
  server_start --workers 1 || exit 1
  wait_for 30 grep -qs 'listening on' "$tmp/out2" || bad "the second server starts" "$(cat "$tmp/err2")"
  req GET /api/v1/pipelines/$pl "$admin"
  expect "both started: the bridge was fired by one of them (three children in all)" 3 \
    "$(jget "['downstream'].__len__()")" "$body"
  kill -TERM "$pid2" && wait "$pid2"
  expect "the second server stops cleanly" "0 0" "$? $(grep -c Sanitizer "$tmp/err2")"
  pid2=
  server_stop
fi
finish
