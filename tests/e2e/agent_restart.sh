#!/usr/bin/env bash
# The server restarts under its agents: two `sluice agent`s long-polling and one running a
# job whose log spans the restart. The agents reconnect by themselves (with backoff, and
# say so in their logs), the running job's log arrives whole and its outcome once, and a
# pipeline made after the restart runs every job exactly once. SL_SERVER_DB: on that store
# (agent_pg.sh passes PostgreSQL).
. "$(dirname "$0")/lib/e2e.sh"
needs curl python3 git
# shellcheck source=lib/server.sh
. "$src/tests/e2e/lib/server.sh"
# shellcheck source=lib/agents.sh
. "$src/tests/e2e/lib/agents.sh"

# the same port across the restart, as a real server keeps its address
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
git_repo "spanning:
  script:
    - echo before-the-restart
    - while [ -d $tmp ] && [ ! -f $tmp/restarted ]; do sleep 0.1; done
    - echo after-the-restart"
server_start --workers 0 --lease 20 --listen 127.0.0.1:$port || { echo "not ok - server starts"; exit 1; }
project_make restart
agents_need restart
ta=$(runner_token A --run-untagged)
tb=$(runner_token B --run-untagged)
agent_start A "$ta" --long-poll 60
agent_start B "$tb" --long-poll 60
wait_for 30 grep -qs '"agent started"' "$tmp/A.err" "$tmp/B.err"
pipeline_run
spanning=$(jget "['jobs'][0]['id']")
req_log() { req GET /api/v1/jobs/$spanning/log "$admin"; grep -q before-the-restart <<<"$body"; }
wait_for 60 req_log || bad "the spanning job's first line reached the server" "$body"

kill -TERM "$pid"
wait "$pid" 2>/dev/null
expect "the server stops while the agents hold long-polls" 0 "$?"
pid=
wait_for 30 grep -qs '"server unreachable' "$tmp/A.err" "$tmp/B.err"
ok "the agents notice the server is away"
server_start --workers 0 --lease 20 --listen 127.0.0.1:$port || { echo "not ok - server restarts"; exit 1; }
touch "$tmp/restarted"
pipeline_wait 90
expect "the spanning job's pipeline succeeds across the restart" success "$pstatus" "$body"
req GET /api/v1/jobs/$spanning/log "$admin"
expect "its log is whole: both lines, once each" "1 1" \
  "$(grep -cx before-the-restart <<<"$body") $(grep -cx after-the-restart <<<"$body")" "$body"
req GET /api/v1/jobs/$spanning "$admin"
expect "its one outcome" "success 1" "$(jget "['status']") $(jget "['attempt']")"
# the agent that was long-polling lost its request and says when it is back (the one
# running the job kept sending its log and took it up again, as checked above)
for n in A B; do
  grep -qs '"server unreachable' "$tmp/$n.err" || continue
  wait_for 60 grep -qs '"server reachable again"' "$tmp/$n.err"
  expect "agent $n reconnected by itself" 0 "$?" "$(tail -5 "$tmp/$n.err")"
done

# after the restart: every job of a new pipeline exactly once
git_repo "work:
  parallel: 10
  script:
    - echo \"\$CI_JOB_NAME|\$CI_BUILDS_DIR\" >> $tmp/runs"
pipeline_run
pipeline_wait 120
expect "a pipeline after the restart succeeds" success "$pstatus" "$body"
expect "each of its 10 jobs ran exactly once" "10 10" \
  "$(wc -l < "$tmp/runs") $(cut -d'|' -f1 "$tmp/runs" | sort -u | wc -l)"
agent_stop A
agent_stop B
server_stop
finish
