#!/usr/bin/env bash
# `sluice run` for people: prefixed output lines, the summary table, exit codes, Ctrl-C
# still printing the summary, and nothing written outside .sluice/. (The JSON events and
# the pipeline semantics are checked by run_cases.sh.)
. "$(dirname "$0")/lib/e2e.sh"
. "$(dirname "$0")/lib/check.sh"
. "$(dirname "$0")/lib/repo.sh"
needs git
proj=$tmp/project
mkdir -p "$proj" && cd "$proj" || exit 1
echo "data" > file.txt
repo_ci . <<'YML' || exit 1
stages: [build, test]
build-it:
  stage: build
  script: [echo "hello from build", 'echo "Coverage: 50.0%"']
  coverage: '/Coverage: \d+\.\d+%/'
t:
  stage: test
  script: [echo "short name"]
broken:
  stage: test
  script: [echo "going down", exit 3]
slow:
  stage: test
  timeout: 1s
  script: [sleep 60]
YML

out=$(env -u CI "$bin" run --no-color -j 2 2>&1 </dev/null); rc=$?
[[ $rc == 1 ]] && ok "failed pipeline exits 1" || bad "failed pipeline exits 1 (got $rc)" "$out"
# every job line carries the job name, padded to the longest name
if grep -qE '^build-it +│ hello from build$' <<<"$out"; then
  ok "output lines are prefixed with the job name"
else bad "output lines are prefixed with the job name" "$out"; fi
w1=$(grep -E '^t +│ short name$' <<<"$out" | sed 's/│.*//' | wc -c)
w2=$(grep -E '^build-it +│ hello from build$' <<<"$out" | sed 's/│.*//' | wc -c)
if [[ $w1 -gt 2 && $w1 == "$w2" ]]; then
  ok "job name prefixes are padded to one width"
else bad "job name prefixes are padded to one width" "$out"; fi
has "command lines are echoed" '$ echo "hello from build"'
# the summary table: header, one row per job, the pipeline's verdict
has "summary header" "job"
has "summary has a status column" "status"
if grep -qE '^build-it +build +success .*50(\.0+)?%?' <<<"$out"; then ok "summary row of a passing job, with coverage"
else bad "summary row of a passing job, with coverage" "$out"; fi
if grep -qE '^broken +test +failed .*script_failure' <<<"$out"; then ok "summary row of a failed job, with its reason"
else bad "summary row of a failed job, with its reason" "$out"; fi
has "the pipeline's verdict" "pipeline failed"
last=$(tail -n1 <<<"$out")
[[ $last == "job logs: .sluice/pipelines/1/logs/" ]] && ok "the summary ends with where the logs are" \
  || bad "the summary ends with where the logs are: '$last'" "$out"
# every job log ends with GitLab's outcome line
[[ $(tail -n1 .sluice/pipelines/1/logs/build-it.log) == "Job succeeded" ]] && ok "log ends: Job succeeded" \
  || bad "log ends: Job succeeded" "$(cat .sluice/pipelines/1/logs/build-it.log)"
[[ $(tail -n1 .sluice/pipelines/1/logs/broken.log) == "ERROR: Job failed: exit code 3" ]] \
  && ok "log ends: ERROR: Job failed: exit code 3" \
  || bad "log ends: ERROR: Job failed: exit code 3" "$(cat .sluice/pipelines/1/logs/broken.log)"
# GitLab Runner's words, Go's duration and all ("execution took longer than 1h0m0s seconds")
[[ $(tail -n1 .sluice/pipelines/1/logs/slow.log) == "ERROR: Job failed: execution took longer than 1s seconds" ]] \
  && ok "log ends: ERROR: Job failed: execution took longer than 1s seconds" \
  || bad "log ends: ERROR: Job failed: execution took longer than 1s seconds" "$(cat .sluice/pipelines/1/logs/slow.log)"
if grep -qE '^slow +test +failed .*job_execution_timeout' <<<"$out"; then ok "summary row of a job over its timeout"
else bad "summary row of a job over its timeout" "$out"; fi
if grep -q $'\e\[' <<<"$out"; then bad "--no-color prints no escape sequences" "$(cat -v <<<"$out")"; else ok "--no-color prints no escape sequences"; fi

# nothing but .sluice/ appears in the project
st=$(git status --porcelain --ignored --untracked-files=all | grep -v '^.. \.sluice/' || true)
[[ -z $st ]] && ok "sluice writes only under .sluice/" || bad "sluice writes only under .sluice/" "$st"
[[ -d .sluice/builds && -d .sluice/pipelines ]] && ok ".sluice/ holds builds and pipelines" \
  || bad ".sluice/ holds builds and pipelines" "$(ls -la .sluice 2>&1)"

out=$(env -u CI "$bin" run --no-color build-it t 2>&1 </dev/null); rc=$?
[[ $rc == 0 ]] && ok "passing pipeline exits 0" || bad "passing pipeline exits 0 (got $rc)" "$out"
has "passing pipeline says so" "pipeline passed"
lacks "unselected jobs do not run" "going down"

out=$(env -u CI "$bin" run --no-such-option 2>&1 </dev/null); rc=$?
[[ $rc == 2 ]] && ok "bad option exits 2" || bad "bad option exits 2 (got $rc)" "$out"
has "bad option is named" "--no-such-option"

# Ctrl-C: SIGINT to sluice while a job sleeps ends the run quickly with the summary
cat > .gitlab-ci.yml <<'YML'
sleeper:
  script: [echo "zzz", sleep 29.93]
YML
git add .gitlab-ci.yml && git -c user.name=t -c user.email=t@t commit -qm sleep
env -u CI "$bin" run --no-color >"$tmp/int.out" 2>&1 </dev/null &
pid=$!
for _ in $(seq 600); do grep -q zzz "$tmp/int.out" 2>/dev/null && break; sleep 0.1; done
# the job's sleep has started (its odd duration names it among the machine's processes)
for _ in $(seq 1200); do pgrep -f '^sleep 29[.]93$' >/dev/null && break; sleep 0.05; done
t0=$(date +%s%3N)
kill -INT $pid
for _ in $(seq 200); do kill -0 $pid 2>/dev/null || break; sleep 0.1; done
if kill -0 $pid 2>/dev/null; then
  bad "SIGINT ends the run within 20 s"; kill -KILL $pid; wait $pid 2>/dev/null; rc=killed
else
  wait $pid; rc=$?
  ok "SIGINT ends the run within 20 s ($(($(date +%s%3N) - t0)) ms)"
fi
out=$(cat "$tmp/int.out")
[[ $rc == 1 ]] && ok "interrupted run exits 1" || bad "interrupted run exits 1 (got $rc)" "$out"
if grep -qE '^sleeper +[^ ]+ +canceled' <<<"$out"; then ok "the summary shows the canceled job"
else bad "the summary shows the canceled job" "$out"; fi
has "the pipeline is canceled" "pipeline canceled"
finish
