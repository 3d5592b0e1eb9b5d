#!/usr/bin/env bash
# kill -9 of `sluice agent` while it runs a shell job: its guard (spawn.c) kills the job's
# process group, a background subshell that ignores SIGHUP and SIGTERM included; and when
# the guard was killed with -9 first, the agent's next start kills what is left (the groups
# recorded in <work dir>/.groups, checked by their leaders' start times). The job's
# processes are told by a number in their command lines, read from /proc.
. "$(dirname "$0")/lib/e2e.sh"
needs curl python3 git
. "$(dirname "$0")/lib/server.sh"
. "$(dirname "$0")/lib/agents.sh"
[[ -r /proc/self/cmdline ]] || skip "needs /proc"

. "$(dirname "$0")/lib/marked.sh"

git_repo "job:
  script:
    - ( trap '' HUP TERM; while :; do sleep 1; done ) &
    - sleep $mark"
server_start --workers 0 || { bad "the server starts"; finish; exit 1; }
project_make orphans
agents_need orphans
tok=$(runner_token orph)
killed_line='processes of jobs left running by a crash killed'

# round NAME KILL_GUARD: a job on the agent, the agent (and with KILL_GUARD its guard first)
# killed with -9
round() {
  local name=$1 g a
  pipeline_run
  agent_start orph "$tok" --executor shell
  a=${apid[orph]}
  if wait_for 120 running; then ok "$name: the job runs on the agent"; else
    bad "$name: the job runs on the agent" "$(tail -10 "$tmp/orph.err")"
  fi
  g=$(guard_pid "$a")
  [[ -n $g ]] || bad "$name: the agent's guard is found"
  if [[ $2 == yes && -n $g ]]; then
    kill -9 "$g"
    wait_for 60 guard_gone "$a"
  fi
  kill -9 "$a"
  wait "$a" 2>/dev/null
  unset "apid[orph]"
  local killed
  killed=$(grep -c "$killed_line" "$tmp/orph.err")
  if [[ $2 == yes ]]; then
    marked
    if ((${#pids[@]} >= 2)); then ok "$name: the job's processes outlive agent and guard"; else
      bad "$name: the job's processes outlive agent and guard: ${#pids[@]} are" "$(show)"
    fi
    agent_start orph "$tok" --executor shell
    if wait_for 60 gone; then ok "$name: the agent's next start kills them"; else
      bad "$name: the agent's next start kills them: ${#pids[@]} are" "$(show)"
    fi
    expect "$name: the start says so" $((killed + 1)) "$(grep -c "$killed_line" "$tmp/orph.err")" \
      "$(tail -5 "$tmp/orph.err")"
    agent_stop orph
  elif wait_for 60 gone; then
    ok "$name: no process of the job is left once the agent is gone"
  else
    bad "$name: no process of the job is left once the agent is gone: ${#pids[@]} are" "$(show)"
  fi
}
round agent no
round "agent, guard killed" yes
server_stop
finish
