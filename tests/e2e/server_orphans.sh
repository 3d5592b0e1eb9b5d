#!/usr/bin/env bash
# kill -9 of sluice serve while its built-in worker runs a shell job: nothing of the job may
# outlive the server, neither its shell, nor the foreground `sleep`, nor a background
# subshell that ignores SIGHUP and SIGTERM (spawn.c's guard kills each running job's process
# group when the server is gone, TERM then KILL); the restarted server still marks the job
# failed with runner_system_failure (worker.c recover). When the guard was killed with -9
# too, the restart kills the job's group (recorded in data/groups, spawn.c) before that.
# Also: the guard's command line is short (sluice-guard -s <server pid>). The job's
# processes are told by a number in their command lines (the shell's and its subshell's
# hold the script, the sleep's its argument), read from /proc.
. "$(dirname "$0")/lib/e2e.sh"
needs curl python3 git
. "$(dirname "$0")/lib/server.sh"
. "$(dirname "$0")/lib/nobody.sh"
[[ -r /proc/self/cmdline ]] || skip "needs /proc"
# a server started as root runs jobs as nobody, who must reach the binary and its helper
bin_for_nobody
shared_dir

. "$(dirname "$0")/lib/marked.sh"
# guard_line PID: the command line of the guard among the children of the server PID (its
# argv: sluice-guard -s PID), or of any child of it whose command line holds the guard's
# script
guard_line() {
  local f st a
  for f in /proc/[0-9]*/stat; do
    st=$(cat "$f" 2>/dev/null) || continue
    st=${st##*) }
    [[ ${st#* } == "$1 "* ]] || continue
    mapfile -d '' -t a 2>/dev/null <"${f%stat}cmdline" || continue
    [[ ${a[0]-} == sluice-guard || " ${a[*]-} " == *"kill -s KILL"* ]] && echo "${a[*]}"
  done
}

repo_ci "$tmp/repo" <<YML || exit 1
job:
  script:
    - ( trap '' HUP TERM; while :; do sleep 1; done ) &
    - sleep $mark
YML

# round NAME [SERVE ARGS...]: one pipeline of the job on a server started with ARGS,
# killed with -9 while the job runs, then started again
round() {
  local name=$1 logged
  shift
  server_start --workers 1 "$@" || { bad "$name: the server starts"; return; }
  [[ -n ${project:-} ]] || project_make orphans
  pipeline_run

  if wait_for 120 running; then
    ok "$name: the job's background subshell and its sleep run (${#pids[@]} processes)"
  else
    api GET /api/v1/pipelines/$pl
    local job=$body
    api GET "/api/v1/jobs/$(jget "['jobs'][0]['id']")/log"
    bad "$name: the job's processes run: ${#pids[@]} found" "$job
$body
$(show)"
  fi

  expect "$name: the guard shows a short command line" "sluice-guard -s $pid" "$(guard_line "$pid")"
  kill -9 "$pid"
  wait "$pid" 2>/dev/null
  pid=
  # generous: the guard gives TERM a second before KILL; a loaded machine may take longer
  if wait_for 60 gone; then
    ok "$name: no process of the job is left once the server is gone"
  else
    bad "$name: no process of the job is left once the server is gone: ${#pids[@]} are" "$(show)"
  fi

  logged=$(grep -c 'job left running by a crash marked failed' "$tmp/err")
  server_start --workers 1 "$@" || { bad "$name: the server starts again"; return; }
  pipeline_wait 120
  expect "$name: the pipeline ends after the restart" failed "$pstatus" "$body"
  expect "$name: the job is failed by the restart's recovery" "failed runner_system_failure" \
    "$(jget "['jobs'][0]['status']") $(jget "['jobs'][0]['failure_reason']")" "$body"
  expect "$name: recovery is logged" $((logged + 1)) \
    "$(grep -c 'job left running by a crash marked failed' "$tmp/err")" \
    "$(grep 'marked failed' "$tmp/err")"
  server_stop
}

round shell

# the guard itself killed with -9, then the server, before another job starts a new guard:
# the job's processes outlive both; the next start's recovery kills them (the groups it
# recorded in data/groups, checked by their leaders' start times)
# guard_round NAME [SERVE ARGS...]
guard_round() {
  local name=$1 g s
  shift
  server_start --workers 1 "$@" || bad "$name, guard killed: the server starts"
  pipeline_run
  if wait_for 120 running; then ok "$name, guard killed: the job runs"; else bad "$name, guard killed: the job runs" "$(show)"; fi
  s=$pid
  g=$(guard_pid "$s")
  [[ -n $g ]] || bad "$name, guard killed: the server's guard is found"
  [[ -n $g ]] && kill -9 "$g"
  kill -9 "$s"
  wait "$s" 2>/dev/null
  pid=
  wait_for 60 guard_gone "$s"
  marked
  if ((${#pids[@]} >= 2)); then ok "$name, guard killed: the job's processes outlive server and guard"; else
    bad "$name, guard killed: the job's processes outlive server and guard: ${#pids[@]} are" "$(show)"
  fi
  local killed
  killed=$(grep -c 'processes of jobs left running by a crash killed' "$tmp/err")
  server_start --workers 1 "$@" || bad "$name, guard killed: the server starts again"
  if wait_for 60 gone; then ok "$name, guard killed: the restart kills what the job left"; else
    bad "$name, guard killed: the restart kills what the job left: ${#pids[@]} are" "$(show)"
  fi
  expect "$name, guard killed: the restart says so" $((killed + 1)) \
    "$(grep -c 'processes of jobs left running by a crash killed' "$tmp/err")" "$(tail -5 "$tmp/err")"
  pipeline_wait 120
  expect "$name, guard killed: the job is failed by the restart's recovery" "failed runner_system_failure" \
    "$(jget "['jobs'][0]['status']") $(jget "['jobs'][0]['failure_reason']")" "$body"
  server_stop
}
guard_round shell
# the sandbox executor's job runs under its helper, in a pid namespace whose init is in
# the helper's group: where this kernel allows the sandbox, the same must hold there
if probe=$("$bin" __sandbox -- /bin/true 2>&1); then
  round sandbox --executor sandbox
  guard_round sandbox --executor sandbox
else
  echo "# the sandbox round is skipped: the kernel refuses the sandbox: $probe"
fi
finish
