#!/usr/bin/env bash
# Times `sluice lint` and `sluice plan` on the generated 1,000-job pipeline (includes,
# extends, anchors, !reference, rules on every job) with hyperfine. Prints figures only.
# Usage: bench/plan_lint.sh [SLUICE] [N]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
sluice=$(realpath "${1:-$here/../build/release/sluice}")
n=${2:-1000}
dir=$here/out/pipeline-$n
python3 "$here/gen_pipeline.py" "$n" -o "$dir" >/dev/null
# plan reads the trigger from git: make the generated project a repository of its own
if [[ ! -d $dir/.git ]]; then
  git -C "$dir" init -q -b main
  git -C "$dir" add -A
  git -C "$dir" -c user.email=bench@sluice -c user.name=bench commit -qm "generated pipeline"
fi
cd "$dir"
hyperfine -N -w 3 -r 20 \
  "$sluice lint -f .gitlab-ci.yml" \
  "$sluice plan -f .gitlab-ci.yml" \
  "$sluice plan -f .gitlab-ci.yml --json"
