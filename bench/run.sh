#!/usr/bin/env bash
# `make bench`: every benchmark of bench/, one after the other. Figures only; the numbers
# recorded in bench/README.md come from these.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
sluice=$here/../build/release/sluice
echo "== lint and plan of a 1,000-job pipeline"
bash "$here/plan_lint.sh" "$sluice"
if [[ -f $here/run_vs_gcl.sh ]]; then
  echo "== sluice run against gitlab-ci-local"
  bash "$here/run_vs_gcl.sh" "$sluice"
fi
