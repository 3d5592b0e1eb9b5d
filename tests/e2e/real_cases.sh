#!/usr/bin/env bash
# Replays tests/cases/real/: minimal reproductions of what trying sluice on real public
# pipelines taught us (see tests/cases/real/README.md). Each case is a directory with a
# .gitlab-ci.yml (and any local includes) and an `expect` file, one of:
#   valid                      `sluice lint` exits 0
#   error: FILE:LINE:COL: MSG  (one line per error) `sluice lint` exits 1 and prints exactly
#                              these errors, in this order (warnings are ignored)
#   config                     `sluice config` exits 0 and prints exactly the YAML that
#   <merged YAML>              follows this first line
#   plan                       `sluice plan --ref main --json` (run on a copy of the case
#   NAME <- NEED, NEED         outside any git work tree) creates the pipeline with exactly
#                              these jobs, in order, each with the jobs it needs
# Cases of bugs not fixed yet are kept: they fail until the bug is fixed. Arguments: [CASE...]
set -u
. "$(dirname "$0")/lib/skip.sh"
: "${SLUICE_BIN:?SLUICE_BIN is not set}"
[[ $SLUICE_BIN == */* && $SLUICE_BIN != /* ]] && SLUICE_BIN=$PWD/$SLUICE_BIN
here=$(cd "$(dirname "$0")" && pwd)
cases=${SL_SOURCE_DIR:-$(cd "$here/../.." && pwd)}/tests/cases/real
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok - $1"; }
not_ok() {
  fail=$((fail + 1)); echo "not ok - $1: $2"
  [[ -n ${3-} ]] && sed 's/^/#   /' <<<"$3"
  return 0
}
run_case() { # run_case DIR
  local dir=$1 name want first got rc
  name=$(basename "$dir")
  if [[ ! -f $dir/expect || ! -f $dir/.gitlab-ci.yml ]]; then
    not_ok "$name" "needs .gitlab-ci.yml and expect"; return
  fi
  want=$(cat "$dir/expect")
  first=$(head -n 1 "$dir/expect")
  case $first in
  valid)
    got=$(cd "$dir" && timeout 20 "$SLUICE_BIN" lint -f .gitlab-ci.yml 2>&1); rc=$?
    if ((rc == 0)); then ok "$name: valid"; else not_ok "$name" "lint exit $rc, want 0 (valid)" "$got"; fi
    ;;
  error:*)
    got=$(cd "$dir" && timeout 20 "$SLUICE_BIN" lint -f .gitlab-ci.yml 2>/dev/null); rc=$?
    local errs exp
    errs=$(grep -v -e ': warning: ' -e ' is valid$' -e ' is invalid: ' -e '^  ' <<<"$got")  # '  ': source line, caret, hint
    exp=$(sed -n 's/^error: //p' "$dir/expect")
    if ((rc != 1)); then
      not_ok "$name" "lint exit $rc, want 1" "$got"
    elif [[ $errs != "$exp" ]]; then
      not_ok "$name" "errors differ" "$(diff <(echo "$exp") <(echo "$errs") | sed -n 's/^[<>]/&/p')"
    else
      ok "$name: $(wc -l <<<"$exp") error(s)"
    fi
    ;;
  config)
    got=$(cd "$dir" && timeout 20 "$SLUICE_BIN" config -f .gitlab-ci.yml 2>/dev/null); rc=$?
    local exp
    exp=$(tail -n +2 "$dir/expect")
    if ((rc != 0)); then
      not_ok "$name" "config exit $rc, want 0" "$got"
    elif [[ $got != "$exp" ]]; then
      not_ok "$name" "merged YAML differs (- want, + got)" "$(diff <(echo "$exp") <(echo "$got") | grep '^[<>]' | sed 's/^</-/; s/^>/+/')"
    else
      ok "$name: merged YAML"
    fi
    ;;
  plan)
    if ! command -v python3 >/dev/null; then
      echo "# SKIPPED: $name: plan cases need python3 to read sluice plan --json" >&2
      skipped=$((skipped + 1))
      return
    fi
    local tmp exp
    tmp=$(mktemp -d) && cp -r "$dir/." "$tmp/" && rm -f "$tmp/expect"
    got=$(cd "$tmp" && timeout 20 "$SLUICE_BIN" plan -f .gitlab-ci.yml --ref main --json 2>&1); rc=$?
    rm -rf "$tmp"
    exp=$(tail -n +2 "$dir/expect")
    if ((rc != 0)); then
      not_ok "$name" "plan exit $rc, want 0" "$got"
      return
    fi
    got=$(python3 -c '
import json, sys
d = json.load(sys.stdin)
if d["pipeline"] != "created":
    print("pipeline " + d["pipeline"] + ": " + d["reason"])
for j in d["jobs"]:
    needs = [n["job"] if isinstance(n, dict) else n for n in (j["needs"] or [])]
    print(j["name"] + (" <- " + ", ".join(needs) if needs else ""))
' <<<"$got")
    if [[ $got != "$exp" ]]; then
      not_ok "$name" "plan differs (- want, + got)" "$(diff <(echo "$exp") <(echo "$got") | grep '^[<>]' | sed 's/^</-/; s/^>/+/')"
    else
      ok "$name: plan"
    fi
    ;;
  *)
    not_ok "$name" "expect must start with valid, error:, config or plan"
    ;;
  esac
}
if (($#)); then
  for c in "$@"; do run_case "$cases/$c"; done
else
  for dir in "$cases"/*/; do run_case "${dir%/}"; done
fi
echo "$pass passed, $fail failed, ${skipped:-0} skipped"
((fail == 0)) || exit 1
((${skipped:-0} == 0)) || skip "${skipped} plan cases need python3"
