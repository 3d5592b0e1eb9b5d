#!/usr/bin/env bash
# The job templates sluice ships in examples/templates/ compile, and their rules pick the
# pipelines their docs promise: dependency scanning on the default branch, tags and merge
# requests, not on other branches' pushes.
set -u
. "$(dirname "$0")/lib/skip.sh"
. "$(dirname "$0")/lib/repo.sh"
bin=$(realpath "${SLUICE_BIN:?SLUICE_BIN is not set}")
src=${SL_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
command -v git >/dev/null || skip "needs git, which is not installed"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
expect() { # expect NAME WANT GOT
  if [[ $2 == "$3" ]]; then pass=$((pass + 1)); echo "ok - $1"
  else fail=$((fail + 1)); echo "not ok - $1: got '$3', want '$2'"; fi
}
cd "$tmp" && mkdir ci && cp "$src/examples/templates/dependency-scanning.yml" ci/ &&
  printf 'include:\n  - local: ci/dependency-scanning.yml\nbuild:\n  stage: build\n  script: [echo]\n' |
  repo_ci . t && git tag v1 && git branch feature || exit 1
jobs() { "$bin" plan "$@" 2>&1 | awk '/^stage /{s=1; next} /^not in/{s=0} s && NF {print $1}' | sort | tr '\n' ' '; }
expect "dependency-scanning.yml lints clean" 0 "$("$bin" lint >/dev/null 2>&1; echo $?)"
expect "on the default branch: both scanners" "build osv-scanner trivy-fs " "$(jobs)"
expect "on a tag: both scanners" "build osv-scanner trivy-fs " "$(jobs --tag v1)"
expect "on another branch's push: neither" "build " "$(jobs --ref feature)"
expect "in a merge request pipeline: both" "osv-scanner trivy-fs " \
  "$(jobs --ref feature --source merge_request_event)"
echo "$pass passed, $fail failed"
((fail == 0))
