#!/usr/bin/env bash
# kill -9 of sluice serve while `sluice agent`s end short jobs: an agent sends a short job's
# log with its end (PUT jobs/:id with "trace"), and the server stores the log's last bytes
# and the job's end in one transaction (runner_api.c end_log). Whatever instant the server
# dies at, the store it leaves has no job that ended without its log: a job is either still
# running (its end was not stored, the agent sends it again once the server is back) or
# ended with the log it sent. Five rounds: start the server, make a pipeline of 12 jobs
# that each print one line and end, kill -9 a random 0.2 to 1.2 s later (a kill point, not a
# time bound); then, with the server down, the store is read directly and checked. At the
# end the server runs until every pipeline has finished: each job succeeded once, its line
# in its log exactly once. SQLite (the data directory's file, read with sqlite3).
. "$(dirname "$0")/lib/e2e.sh"
needs curl python3 git sqlite3
# shellcheck source=lib/server.sh
. "$src/tests/e2e/lib/server.sh"
# shellcheck source=lib/agents.sh
. "$src/tests/e2e/lib/agents.sh"
[[ -n ${SL_SERVER_DB:-} ]] && skip "reads the SQLite store directly"

# the same port across the restarts, as a real server keeps its address
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
git_repo "default:
  retry:
    max: 2
    when: runner_system_failure
work:
  parallel: 12
  script:
    - echo \"done \$CI_JOB_NAME\""
serve() { server_start --workers 0 --lease 6 --listen 127.0.0.1:$port; }
serve || { echo "not ok - server starts"; exit 1; }
project_make crash
agents_need crash
ta=$(runner_token A --run-untagged)
tb=$(runner_token B --run-untagged)
agent_start A "$ta" --long-poll 30
agent_start B "$tb" --long-poll 30
wait_for 30 grep -qs '"agent started"' "$tmp/A.err" "$tmp/B.err"

# jobs that succeeded without the line their script prints in their log
ended_without_log() {
  sqlite3 "$tmp/data/sluice.db" "SELECT j.id FROM jobs j WHERE j.status = 'success'
    AND COALESCE((SELECT group_concat(CAST(data AS TEXT), '') FROM
      (SELECT data FROM job_log_chunks c WHERE c.job_id = j.id ORDER BY seq)), '')
      NOT LIKE '%done work%'"
}

pls=()
for round in 1 2 3 4 5; do
  pipeline_run
  pls+=("$pl")
  sleep "$(python3 -c 'import random; print(round(random.uniform(0.2, 1.2), 2))')"
  kill -9 "$pid"
  wait "$pid" 2>/dev/null
  pid=
  bad_jobs=$(ended_without_log)
  expect "round $round: no job ended without its log" "" "$bad_jobs"
  serve || { bad "round $round: the server restarts" "$(tail -20 "$tmp/err")"; break; }
done

for pl in "${pls[@]}"; do
  pipeline_wait 180
  expect "pipeline $pl succeeds across the kills" success "$pstatus" "$body"
  n=$(jget "['jobs'].__len__()")
  okn=0
  for ((i = 0; i < n; i++)); do
    req GET /api/v1/pipelines/$pl "$admin"
    jid=$(jget "['jobs'][$i]['id']")
    jname=$(jget "['jobs'][$i]['name']")
    req GET /api/v1/jobs/$jid/log "$admin"
    [[ $(grep -cxF "done $jname" <<<"$body") == 1 ]] && ((okn++))
  done
  expect "pipeline $pl: each of its $n jobs has its line once in its log" "$n" "$okn"
done
expect "no job ended without its log at the end either" "" "$(ended_without_log)"
agent_stop A
agent_stop B
server_stop
finish