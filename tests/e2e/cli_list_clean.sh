#!/usr/bin/env bash
# sluice run --list / --list-json, sluice clean (--keep, --dry-run, one kind), .sluice/.gitignore,
# and a pipeline number taken only by a run that started.
set -u
bin=${SLUICE_BIN:?SLUICE_BIN is not set}
. "$(dirname "$0")/lib/check.sh"
. "$(dirname "$0")/lib/skip.sh"
. "$(dirname "$0")/lib/repo.sh"
needs git
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cd "$dir" || exit 1
repo_ci . <<'YAML' || exit 1
stages: [build, test]
build:
  stage: build
  script: echo built
test:
  stage: test
  needs: [build]
  allow_failure: true
  script: echo tested
deploy:
  stage: test
  when: manual
  script: echo deployed
YAML
out=$("$bin" run --list 2>&1)
has "--list: header" "job     stage  when        allow_failure  needs"
has "--list: needs" "test    test   on_success  true           build"
has "--list: manual, no needs" "deploy  test   manual      true           -"
out=$("$bin" run --list-json)
if python3 -c 'import json,sys
d = {j["name"]: j for j in json.load(sys.stdin)}
assert d["test"] == {"name": "test", "stage": "test", "when": "on_success", "allow_failure": True, "needs": ["build"]}, d
assert d["build"]["needs"] is None and d["deploy"]["when"] == "manual", d
' <<<"$out"; then ok "--list-json"; else bad "--list-json" "$out"; fi
[[ ! -e .sluice ]] && ok "--list runs nothing, makes nothing" || { out=$(ls -a .sluice); bad "--list runs nothing" "$out"; }
# refused runs take no pipeline number
"$bin" run nosuchjob >/dev/null 2>&1
"$bin" run --stage nosuchstage >/dev/null 2>&1
for i in 1 2 3; do "$bin" run --no-color >/dev/null 2>&1; done
out=$(ls .sluice/pipelines | sort -n | tr '\n' ' ')
expect "refused runs used no number" "1 2 3 " "$out"
expect ".sluice/.gitignore ignores it all" "*" "$(cat .sluice/.gitignore)"
out=$(git status --porcelain --untracked-files=all)
expect "git status shows nothing of .sluice" "" "$out"
mkdir -p .sluice/pipelines/3/artifacts/x && echo a > .sluice/pipelines/3/artifacts/x/f
out=$("$bin" clean --dry-run --keep 1)
has "--dry-run: workspaces" "would remove .sluice/builds"
has "--dry-run: old pipelines" "would remove .sluice/pipelines/1"
if grep -q "pipelines/3" <<<"$out"; then bad "--keep 1 keeps the newest" "$out"; else ok "--keep 1 keeps the newest"; fi
[[ -d .sluice/builds && -d .sluice/pipelines/1 ]] && ok "--dry-run removes nothing" || bad "--dry-run removes nothing" "$out"
out=$("$bin" clean --artifacts)
has "--artifacts" "removed .sluice/pipelines/3/artifacts"
[[ -d .sluice/pipelines/3/logs && -d .sluice/builds ]] && ok "--artifacts keeps logs and workspaces" || bad "--artifacts keeps logs and workspaces" "$out"
out=$("$bin" clean --keep 1)
[[ ! -e .sluice/builds && ! -e .sluice/pipelines/1 && -d .sluice/pipelines/3 ]] && ok "clean --keep 1" || bad "clean --keep 1" "$out"
out=$("$bin" clean)
out=$(ls -A .sluice | sort | tr '\n' ' ')
expect "clean keeps only the counters, the run lock and .gitignore" \
  ".gitignore job-counter pipeline-counter pipelines run.lock " "$out"
"$bin" run --no-color >/dev/null 2>&1
expect "numbers never repeat after clean" "4" "$(ls .sluice/pipelines)"
out=$("$bin" clean --keep x 2>&1); rc=$?
expect "a bad --keep is a usage error" 2 "$rc"
finish
