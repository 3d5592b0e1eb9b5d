#!/usr/bin/env bash
# `make demo`: sluice's main job on the example project in examples/demo: check the
# pipeline, show its plan, then run it here (stages, a needs DAG, artifacts, a cache, a
# matrix and a manual job, which the demo plays).
# Usage: scripts/demo.sh PATH_TO_SLUICE
set -euo pipefail
sluice=$(realpath "${1:-build/release/sluice}")
cd "$(dirname "$0")/../examples/demo"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "sluice lint: validate examples/demo/.gitlab-ci.yml (includes, extends, anchors, !reference)"
"$sluice" lint -f .gitlab-ci.yml

step "sluice plan: the pipeline a push to this branch creates"
"$sluice" plan -f .gitlab-ci.yml

step "sluice run --manual deploy: run it here, playing the manual deploy job"
"$sluice" run -f .gitlab-ci.yml --manual deploy

echo
echo "Logs, artifacts and caches are in examples/demo/.sluice/; run 'sluice run --help' for more."
