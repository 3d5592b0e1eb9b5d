#!/usr/bin/env bash
# bench/agents.sh [SLUICE] [AGENTS] [SAMPLES] [JOBS]: dispatch latency (queued -> the agent's
# first log line) p50/p99 with AGENTS agents long-polling, jobs/s through them, and the
# server's CPU per job and while idle (bench/agents.py does the work). Figures only.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
exec python3 "$here/agents.py" "${1:-$here/../build/release/sluice}" "${2:-20}" "${3:-100}" "${4:-200}"
