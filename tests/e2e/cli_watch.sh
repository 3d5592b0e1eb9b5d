#!/usr/bin/env bash
# sluice run --watch: a run, then a re-run each time a tracked file changes: only the jobs
# whose rules:changes match the change, else every job; an untracked file changes nothing;
# Ctrl-C (SIGINT) while waiting ends it with the last run's exit code.
set -u
bin=${SLUICE_BIN:?SLUICE_BIN is not set}
. "$(dirname "$0")/lib/skip.sh"
. "$(dirname "$0")/lib/repo.sh"
needs git
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok - $1"; }
bad() { fail=$((fail + 1)); echo "not ok - $1"; sed 's/^/#   /' "$dir/out" "$dir/err"; }
dir=$(mktemp -d)
pid=
trap '[[ -n $pid ]] && kill "$pid" 2>/dev/null; rm -rf "$dir"' EXIT
# waits (up to 5 minutes: a loaded machine) until FILE has COUNT lines matching RE
wait_for() { # RE COUNT FILE
  for _ in $(seq 3000); do
    (($(grep -cE -- "$1" "$3") >= $2)) && return 0
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}
mkdir -p "$dir/p/docs" "$dir/p/src"
cd "$dir/p" || exit 1
echo a >docs/a.md
echo b >src/b.c
repo_ci . <<'YAML' || exit 1
build:
  script: echo building
docs:
  rules:
    - changes: [docs/**]
  script: echo documenting
YAML
"$bin" run --watch --no-color >"$dir/out" 2>"$dir/err" &
pid=$!
wait_for '^sluice: watching 3 tracked files' 1 "$dir/err" && ok "first run, then watching" || bad "first run, then watching"
grep -q '^pipeline #1 .*: 2 jobs' "$dir/out" && ok "the first run runs every job" || bad "the first run runs every job"

echo untracked >notes.txt # not tracked: no run
echo more >>docs/a.md
wait_for '^pipeline #2' 1 "$dir/out" && wait_for '^sluice: watching' 2 "$dir/err" \
  && ok "a change re-runs" || bad "a change re-runs"
grep -q '^sluice: changed: docs/a.md; running again' "$dir/err" && ok "the change is named (the untracked file is not)" \
  || bad "the change is named (the untracked file is not)"
grep -q '^pipeline #2 .*: 1 job$' "$dir/out" && grep -q '^docs *│ documenting' "$dir/out" \
  && ok "docs/ changed: only the job whose rules:changes match" || bad "docs/ changed: only the job whose rules:changes match"

echo more >>src/b.c
wait_for '^pipeline #3' 1 "$dir/out" && wait_for '^sluice: watching' 3 "$dir/err" \
  && ok "another change re-runs" || bad "another change re-runs"
[[ $(sed -n '/^pipeline #3/,$p' "$dir/out" | grep -c '│ building') == 1 ]] \
  && ! sed -n '/^pipeline #3/,$p' "$dir/out" | grep -q 'documenting' \
  && ok "no rules:changes match: every job of the pipeline (docs is not in it)" \
  || bad "no rules:changes match: every job of the pipeline (docs is not in it)"

kill -INT "$pid"
for _ in $(seq 3000); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
wait "$pid"
rc=$?
pid=
[[ $rc == 0 ]] && ok "Ctrl-C while waiting: exits with the last run's code (0)" || bad "Ctrl-C while waiting: exit $rc"
grep -q '^sluice: run --watch stopped' "$dir/err" && ok "it says it stopped" || bad "it says it stopped"
out=$("$bin" run --watch --list 2>&1); rc=$?
[[ $rc == 2 ]] && ok "--watch with --list is a usage error" || bad "--watch with --list is a usage error"
echo "$pass passed, $fail failed"
((fail == 0))
