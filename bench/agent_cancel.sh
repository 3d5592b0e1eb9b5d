#!/usr/bin/env bash
# bench/agent_cancel.sh [SLUICE] [RUNS]: how long a cancel from the API takes to end a quiet
# job that a `sluice agent` runs (`sleep 600`, nothing printed): from the cancel's answer
# until the job is `canceled`. A cancel reaches a runner only in the answer to its next
# report, so this is about the report interval the server asks for
# (X-GitLab-Trace-Update-Interval). Prints each run and the median. Figures only.
set -euo pipefail
bin=$(realpath "${1:-$(dirname "$0")/../build/release/sluice}")
runs=${2:-5}
tmp=$(mktemp -d)
src=$(cd "$(dirname "$0")/.." && pwd)
. "$src/tests/e2e/lib/server.sh"
. "$src/tests/e2e/lib/agents.sh"
trap 'agents_kill; server_stop >/dev/null; rm -rf "$tmp"' EXIT

server_start --workers 0 >/dev/null
git_repo 'quiet:
  script: [sleep 600]'
project_make cancel
agent_start bench "$(runner_token bench)"
ms=()
for i in $(seq "$runs"); do
  pipeline_run
  job=$(python3 -c "import json,sys; print(json.load(sys.stdin)['jobs'][0]['id'])" <<<"$body")
  running() { req GET "/api/v1/jobs/$job" "$admin"; [[ $(jget "['status']") == running ]]; }
  wait_for 60 running
  sleep 5 # the agent has had its first answers: it reports at the interval they set
  req POST "/api/v1/jobs/$job/cancel" "$admin"
  t0=$(date +%s%N)
  done_() { req GET "/api/v1/jobs/$job" "$admin"; [[ $(jget "['status']") == canceled ]]; }
  wait_for 120 done_
  ms+=($(( ($(date +%s%N) - t0) / 1000000 )))
  echo "run $i: canceled ${ms[-1]} ms after the cancel"
done
printf '%s\n' "${ms[@]}" | sort -n | awk '{a[NR]=$1} END {print "median " a[int((NR+1)/2)] " ms, max " a[NR] " ms over " NR " runs"}'
