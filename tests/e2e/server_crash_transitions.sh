#!/usr/bin/env bash
# kill -9 of sluice serve while its workers finish jobs quickly, again and again: every
# transition (a job's end, the next jobs made pending, the pipeline's status) is one store
# transaction, so whatever instant the server dies at, the store it leaves is consistent.
# Eight rounds: start, make two pipelines of 18 short jobs (stages, needs, an allowed
# failure), kill -9 a random 0 to 0.5 s after jobs run (a kill point, not a time bound);
# then, with the server down, the store is read directly and checked: no running job in a
# pipeline that is not running, no pending or running job in a finished pipeline, a
# successful pipeline has only passed, skipped or allowed-to-fail jobs, a failed one has a
# job that failed and was not allowed to. At the end the server runs until every pipeline
# has finished, and the same holds with nothing left unfinished. SQLite (the data
# directory's file, read with sqlite3), or SL_SERVER_DB's PostgreSQL (read with psql;
# server_pg.sh runs it so).
set -u
. "$(dirname "$0")/lib/skip.sh"
bin=${SLUICE_BIN:?SLUICE_BIN is not set}
if [[ -n ${SL_SERVER_DB:-} ]]; then needs curl python3 git psql; else needs curl python3 git sqlite3; fi
tmp=$(mktemp -d)
. "$(dirname "$0")/lib/server.sh"
trap '[[ -n $pid ]] && kill -9 "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT
shared_dir
sql() { # one query on the server's store, rows as a|b|c
  if [[ -n ${SL_SERVER_DB:-} ]]; then psql -XAtq "$SL_SERVER_DB" -c "$1"; else sqlite3 "$tmp/data/sluice.db" "$1"; fi
}

mkdir "$tmp/repo"
{
  printf 'stages: [one, two, three]\n'
  printf 'default:\n  retry:\n    max: 2\n    when: runner_system_failure\n'
  for s in one two three; do
    for i in 1 2 3 4 5; do
      printf '%s-%s:\n  stage: %s\n  script: ["sleep 0.$((RANDOM %% 3))"]\n' "$s" "$i" "$s"
    done
  done
  printf 'allowed:\n  stage: one\n  allow_failure: true\n  script: [exit 1]\n'
  printf 'early:\n  stage: three\n  needs: [one-1]\n  script: ["true"]\n'
  printf 'last:\n  stage: three\n  needs: [two-2, early]\n  script: ["true"]\n'
} >"$tmp/repo/.gitlab-ci.yml"
(cd "$tmp/repo" && git init -q -b main && git add . &&
  git -c user.email=t@t -c user.name=t commit -qm init) || exit 1

# prints one line per broken rule; FINAL: nothing may be left unfinished either
check_store() {
  { sql "SELECT 'p', id, status FROM pipelines"
    sql "SELECT 'j', pipeline_id, name, status, allow_failure FROM jobs WHERE retried_position IS NULL"; } |
    python3 -c '
import sys
final = sys.argv[1] == "final"
pipelines, jobs = {}, {}
for line in sys.stdin.read().splitlines():
    f = line.split("|")
    if f[0] == "p":
        pipelines[int(f[1])] = f[2]
    elif f[0] == "j":
        jobs.setdefault(int(f[1]), []).append((f[2], f[3], f[4] not in ("0", "f")))
finished = {"success", "failed", "canceled", "skipped"}
for pid, pst in sorted(pipelines.items()):
    js = jobs.get(pid, [])
    def bad(what):
        print("pipeline %d (%s): %s: %s" % (pid, pst, what, sorted(js)))
    if any(st == "running" for _, st, _ in js) and pst != "running":
        bad("a job runs, the pipeline does not")
    if pst in finished and any(st in ("pending", "running", "created", "canceling") for _, st, _ in js):
        bad("finished with a job left to run")
    if pst == "success" and any(st not in ("success", "skipped") and not (st == "failed" and a)
                                for _, st, a in js):
        bad("success with a job that did not pass")
    if pst == "failed" and not any(st == "failed" and not a for _, st, a in js):
        bad("failed without a job that failed")
    if final and pst not in finished:
        bad("not finished")
' "${1:-}"
}

running_now() { (($(sql "SELECT count(*) FROM jobs WHERE status = 'running'") > 0)); }
rounds=8
made=0 caught=0
for round in $(seq $rounds); do
  server_start --workers 4 || { bad "round $round: the server starts"; break; }
  [[ $round == 1 ]] && { req POST /api/v1/projects "$admin" "{\"name\":\"crash\",\"repo_url\":\"$tmp/repo\"}"; project=$(jget "['id']"); }
  for _ in 1 2; do
    req POST /api/v1/projects/$project/pipelines "$admin" '{}'
    [[ $code == 201 ]] && made=$((made + 1))
  done
  # the kill point: once jobs run (workers claim, finish and transition), a random 0 to
  # 0.5 s later
  wait_for 120 running_now || bad "round $round: jobs run"
  sleep "$(python3 -c 'import random; print(round(random.uniform(0, 0.5), 2))')"
  kill -9 "$pid"
  wait "$pid" 2>/dev/null
  pid=
  out=$(check_store)
  expect "round $round: the store is consistent after kill -9" "" "$out"
  caught=$((caught + $(sql "SELECT count(*) FROM jobs WHERE status = 'running'")))
done
expect "every pipeline was made" $((2 * rounds)) "$made"
# the kills fell while jobs ran (else nothing above was tested mid-transition)
expect "kills caught jobs running" yes "$( ((caught > 0)) && echo yes)" "$caught running at the kills"
echo "# $caught jobs were running at the $rounds kills"

server_start --workers 4 || { bad "the server starts after the last kill"; finish; exit 1; }
settled() {
  [[ $(sql "SELECT count(*) FROM pipelines WHERE status NOT IN ('success', 'failed', 'canceled', 'skipped')") == 0 ]]
}
wait_for 600 settled || bad "every pipeline finishes after the restarts" \
  "$(sql "SELECT id, status FROM pipelines")"
out=$(check_store final)
expect "all finished, and consistent" "" "$out"
expect "no job is left unfinished" 0 \
  "$(sql "SELECT count(*) FROM jobs WHERE status IN ('created', 'pending', 'running', 'canceling')")"
ran=$(sql "SELECT count(*) FROM jobs WHERE status = 'success'")
echo "# pipelines: $(sql "SELECT status || ' ' || count(*) FROM pipelines GROUP BY status" | paste -sd,); jobs failed by the kills: $(sql "SELECT count(*) FROM jobs WHERE failure_reason = 'runner_system_failure'")"
expect "jobs ran across the rounds" yes "$( ((ran > 0)) && echo yes)" "$ran"
server_stop
finish
