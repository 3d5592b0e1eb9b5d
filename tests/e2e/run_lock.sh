#!/usr/bin/env bash
# Two `sluice run`s of one project at once: they would share .sluice/builds/<job>, so the
# second waits for the first (.sluice/run.lock), says so, and then runs; both pass and
# the second's job starts only after the first's ended.
. "$(dirname "$0")/lib/e2e.sh"
. "$(dirname "$0")/lib/check.sh"
. "$(dirname "$0")/lib/repo.sh"
needs git
cd "$tmp" || exit 1
repo_ci . <<YML || exit 1
job:
  script:
    - echo start >> $tmp/order
    - while [ ! -e $tmp/go ]; do sleep 0.05; done
    - echo end >> $tmp/order
YML
"$bin" run --no-color >"$tmp/first.out" 2>&1 &
first=$!
# the first holds the lock once its job has started
for _ in $(seq 1 3000); do [[ -s $tmp/order ]] && break; sleep 0.1; done
"$bin" run --no-color >"$tmp/second.out" 2>&1 &
second=$!
for _ in $(seq 1 3000); do grep -q "waiting for it to end" "$tmp/second.out" && break; sleep 0.1; done
grep -q "waiting for it to end" "$tmp/second.out" && ok "the second run says it waits" ||
  bad "the second run did not wait" "$(cat "$tmp/second.out")"
[[ $(grep -c start "$tmp/order") == 1 ]] && ok "the second run's job has not started" ||
  bad "two jobs ran at once in one workspace" "$(cat "$tmp/order")"
touch "$tmp/go"
wait $first && ok "the first run passes" || bad "the first run failed" "$(cat "$tmp/first.out")"
wait $second && ok "the second run passes" || bad "the second run failed" "$(cat "$tmp/second.out")"
[[ $(tr '\n' ' ' <"$tmp/order") == "start end start end " ]] && ok "the jobs ran one after the other" ||
  bad "jobs overlapped" "$(cat "$tmp/order")"
finish
