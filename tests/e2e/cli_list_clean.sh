#!/usr/bin/env bash
# sluice run --list / --list-json, sluice clean (--keep, --dry-run, one kind), .sluice/.gitignore,
# and a pipeline number taken only by a run that started.
set -u
bin=${SLUICE_BIN:?SLUICE_BIN is not set}
. "$(dirname "$0")/lib/skip.sh"
. "$(dirname "$0")/lib/repo.sh"
needs git
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok - $1"; }
bad() { fail=$((fail + 1)); echo "not ok - $1"; echo "$out" | sed 's/^/#   /'; }
has() { if grep -qF -- "$2" <<<"$out"; then ok "$1"; else bad "$1: lacks '$2'"; fi; }
eq() { if [[ $2 == "$3" ]]; then ok "$1"; else out="got '$3', want '$2'"; bad "$1"; fi; }
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
' <<<"$out"; then ok "--list-json"; else bad "--list-json"; fi
[[ ! -e .sluice ]] && ok "--list runs nothing, makes nothing" || { out=$(ls -a .sluice); bad "--list runs nothing"; }
# refused runs take no pipeline number
"$bin" run nosuchjob >/dev/null 2>&1
"$bin" run --stage nosuchstage >/dev/null 2>&1
for i in 1 2 3; do "$bin" run --no-color >/dev/null 2>&1; done
out=$(ls .sluice/pipelines | sort -n | tr '\n' ' ')
eq "refused runs used no number" "1 2 3 " "$out"
eq ".sluice/.gitignore ignores it all" "*" "$(cat .sluice/.gitignore)"
out=$(git status --porcelain --untracked-files=all)
eq "git status shows nothing of .sluice" "" "$out"
mkdir -p .sluice/pipelines/3/artifacts/x && echo a > .sluice/pipelines/3/artifacts/x/f
out=$("$bin" clean --dry-run --keep 1)
has "--dry-run: workspaces" "would remove .sluice/builds"
has "--dry-run: old pipelines" "would remove .sluice/pipelines/1"
if grep -q "pipelines/3" <<<"$out"; then bad "--keep 1 keeps the newest"; else ok "--keep 1 keeps the newest"; fi
[[ -d .sluice/builds && -d .sluice/pipelines/1 ]] && ok "--dry-run removes nothing" || bad "--dry-run removes nothing"
out=$("$bin" clean --artifacts)
has "--artifacts" "removed .sluice/pipelines/3/artifacts"
[[ -d .sluice/pipelines/3/logs && -d .sluice/builds ]] && ok "--artifacts keeps logs and workspaces" || bad "--artifacts keeps logs and workspaces"
out=$("$bin" clean --keep 1)
[[ ! -e .sluice/builds && ! -e .sluice/pipelines/1 && -d .sluice/pipelines/3 ]] && ok "clean --keep 1" || bad "clean --keep 1"
out=$("$bin" clean)
out=$(ls -A .sluice | sort | tr '\n' ' ')
eq "clean keeps only the counters, the run lock and .gitignore" \
  ".gitignore job-counter pipeline-counter pipelines run.lock " "$out"
"$bin" run --no-color >/dev/null 2>&1
eq "numbers never repeat after clean" "4" "$(ls .sluice/pipelines)"
out=$("$bin" clean --keep x 2>&1); rc=$?
eq "a bad --keep is a usage error" 2 "$rc"
echo "$pass passed, $fail failed"
((fail == 0))
