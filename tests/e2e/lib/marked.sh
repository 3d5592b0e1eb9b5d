# shellcheck shell=bash
# Processes told by a number in their command lines, read from /proc: for tests that kill
# sluice and look at what of a job is left (server_orphans, agent_orphans). A job's script
# runs `sleep $mark` (and whatever else it starts holds $mark in its command line); this
# script's own command line holds only its path, so it is never counted.
#   mark          the number, made here
#   marked        PIDS: the processes whose command line holds it
#   running       the job runs: the foreground `sleep $mark` and at least one more (the
#                 shell may have exec'd the sleep: bash runs a script's last command in its
#                 own process)
#   gone          none is left
#   show          their command lines, for a failure's details
#   guard_pid P   the pid of sluice process P's job guard (spawn.c: `sluice-guard -s P`)
#   guard_gone P  P has no guard (any more)
# Whatever a failing run leaves is killed at the test's exit.
mark=9$(date +%s%N | tail -c 9)
marked() {
  local f a
  pids=()
  for f in /proc/[0-9]*/cmdline; do
    mapfile -d '' -t a 2>/dev/null <"$f" || continue
    [[ " ${a[*]-} " == *"$mark"* ]] || continue
    f=${f#/proc/}
    pids+=("${f%/cmdline}")
  done
}
at_exit 'marked; ((${#pids[@]})) && kill -9 "${pids[@]}" 2>/dev/null'
running() {
  local p a
  marked
  ((${#pids[@]} >= 2)) || return 1
  for p in "${pids[@]}"; do
    mapfile -d '' -t a 2>/dev/null <"/proc/$p/cmdline" || continue
    [[ ${a[0]-} == sleep && ${a[1]-} == "$mark" ]] && return 0
  done
  return 1
}
gone() {
  marked
  ((${#pids[@]} == 0))
}
show() {
  local p
  for p in "${pids[@]}"; do
    tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | cut -c1-120
    echo
  done
}
guard_pid() {
  local f a
  for f in /proc/[0-9]*/cmdline; do
    mapfile -d '' -t a 2>/dev/null <"$f" || continue
    [[ ${a[0]-} == sluice-guard && ${a[2]-} == "$1" ]] && echo "${f//[^0-9]/}"
  done
}
guard_gone() { [[ -z $(guard_pid "$1") ]]; }
