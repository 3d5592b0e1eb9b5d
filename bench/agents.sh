#!/usr/bin/env bash
# bench/agents.sh [SLUICE] [AGENTS] [SAMPLES] [JOBS] [wait|poll] [keep|new]: dispatch latency
# (queued -> the agent's first log line) p50/p99 with AGENTS agents long-polling, jobs/s through them, and the
# server's CPU per job and while idle (bench/agents.py does the work; wait|poll: how it waits
# for a pipeline's end, held GETs (the default) or 5 ms polls; keep|new: one keep-alive
# connection per pipeline (the default) or one per request). Figures only.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
exec python3 "$here/agents.py" "${1:-$here/../build/release/sluice}" "${2:-20}" "${3:-100}" "${4:-200}" "${5:-wait}" "${6:-keep}"
