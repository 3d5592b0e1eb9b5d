#!/usr/bin/env bash
# The layering rules of DESIGN.md §1: a room includes only the rooms it may use.
set -u
root=${SL_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
declare -A allowed=(
  [base]="base"
  [config]="base config"
  [expr]="base expr"
  [plan]="base config expr plan"
  [sched]="base plan sched"
  [exec]="base exec"
  [jobspec]="base plan config expr exec jobspec"
  [store]="base store"
  [flags]="base flags"
  [scan]="base scan"
  [server]="base sched plan jobspec store exec flags scan server config expr"
  [agent]="base exec agent"
  [cli]="base config expr plan sched exec jobspec store flags scan server agent cli"
)
bad=0 checked=0
for room in "${!allowed[@]}"; do
  [[ -d $root/src/$room ]] || continue
  while IFS=: read -r file _ inc; do
    target=$(sed -E 's/.*#include "([a-z]+)\/.*/\1/' <<<"$inc")
    checked=$((checked + 1))
    if [[ " ${allowed[$room]} " != *" $target "* ]]; then
      echo "not ok - ${file#$root/} includes $target/, which the $room room may not use"
      bad=$((bad + 1))
    fi
  done < <(grep -Hn '^#include "[a-z]*/' "$root"/src/"$room"/*.[ch] 2>/dev/null)
done
echo "$((checked - bad)) passed, $bad failed"
((bad == 0))
