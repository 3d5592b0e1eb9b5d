#!/usr/bin/env bash
# `make demo`: shows sluice on the example project in examples/demo.
# Usage: scripts/demo.sh PATH_TO_SLUICE
set -euo pipefail
sluice=$(realpath "${1:-build/release/sluice}")
cd "$(dirname "$0")/../examples/demo"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "sluice lint: validate examples/demo/.gitlab-ci.yml"
"$sluice" lint -f .gitlab-ci.yml

step "sluice config: the merged configuration (includes, extends, anchors, !reference resolved)"
"$sluice" config -f .gitlab-ci.yml
