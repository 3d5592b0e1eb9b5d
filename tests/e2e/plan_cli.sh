#!/usr/bin/env bash
# `sluice plan` as a user runs it: in a real git repository, text and --json output, the
# trigger options, exit codes 0 (created or skipped) and 2 (usage, configuration and
# pipeline-creation errors, lint errors as FILE:LINE:COL: message).
set -u
. "$(dirname "$0")/lib/skip.sh"
. "$(dirname "$0")/lib/repo.sh"
bin=$(realpath "${SLUICE_BIN:?SLUICE_BIN is not set}")
if ! command -v git >/dev/null || ! command -v python3 >/dev/null; then
  skip "needs git and python3"
fi
pass=0 fail=0
check() { # check NAME WANT_EXIT CMD... ; stdout+stderr in $out, stdout alone in $stdout
  local name=$1 want=$2; shift 2
  stdout=$("$@" 2>"$tmp/stderr"); local got=$?
  out="$stdout$(printf '\n'; cat "$tmp/stderr")"
  if [[ $got == "$want" ]]; then pass=$((pass + 1)); echo "ok - $name";
  else fail=$((fail + 1)); echo "not ok - $name: exit $got, want $want"; echo "$out" | sed 's/^/#   /'; fi
}
contains() { # contains NAME TEXT
  if grep -qF -- "$2" <<<"$out"; then pass=$((pass + 1)); echo "ok - $1";
  else fail=$((fail + 1)); echo "not ok - $1: output lacks '$2'"; echo "$out" | sed 's/^/#   /'; fi
}
json() { # json NAME PYTHON-EXPR (over j = the parsed stdout)
  if python3 -c "import json,sys; j=json.loads(sys.stdin.read()); sys.exit(0 if ($2) else 1)" <<<"$stdout"; then
    pass=$((pass + 1)); echo "ok - $1"
  else fail=$((fail + 1)); echo "not ok - $1: $2"; echo "$stdout" | head -c 2000 | sed 's/^/#   /'; echo; fi
}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
repo=$tmp/repo
mkdir -p "$repo/src"
cd "$repo"
repo_init . || exit 1
cat > .gitlab-ci.yml <<'EOF'
workflow:
  name: "$CI_COMMIT_REF_NAME by $CI_PIPELINE_SOURCE"
  rules:
    - if: $CI_PIPELINE_SOURCE == "schedule"
      when: never
    - when: always
stages: [build, test, deploy]
build:
  stage: build
  script: [make]
  parallel:
    matrix:
      - OS: [linux, mac]
unit:
  script: [make test]
  needs: [build]
  rules:
    - changes: [src/**/*]
docs:
  script: [make docs]
  rules:
    - changes: [docs/**/*]
deploy:
  stage: deploy
  script: [deploy]
  environment: production
  rules:
    - if: $CI_COMMIT_TAG
    - if: $CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH
      when: manual
EOF
echo 'int main;' > src/main.c && repo_commit . first || exit 1
echo 'int x;' > src/x.c && repo_commit . second || exit 1
git tag v1.0

check "plan: created" 0 "$bin" plan
contains "text: pipeline line with name" 'pipeline created "main by push"'
contains "text: stage header" "stage build"
contains "text: matrix instance" "build: [linux]"
contains "text: manual job" "manual"
contains "text: needs listed" "needs: build: [linux], build: [mac]"
contains "text: excluded section" "not in the pipeline"
contains "text: docs left out by rules" "rules: no rule matched"

check "plan --json: created" 0 "$bin" plan --json
json "json: top-level keys" 'list(j) == ["pipeline", "reason", "name", "stages", "jobs", "excluded", "variable_attributes"]'
json "json: created" 'j["pipeline"] == "created" and j["name"] == "main by push"'
json "json: stages in order" 'j["stages"] == ["build", "test", "deploy"]'
json "json: job keys" 'set(j["jobs"][0]) >= {"name","stage","when","allow_failure","needs","dependencies","variables","parallel","retry","timeout_s","environment","resource_group","interruptible"}'
json "json: unit needs both instances" '[n["job"] for n in j["jobs"][2]["needs"]] == ["build: [linux]", "build: [mac]"]'
json "json: unit from git diff" 'j["jobs"][2]["name"] == "unit"'
json "json: docs excluded" 'j["excluded"] == [{"name": "docs", "reason": "rules: no rule matched"}]'
json "json: deploy manual, blocking" 'j["jobs"][3]["when"] == "manual" and j["jobs"][3]["allow_failure"] is False'
json "json: environment" 'j["jobs"][3]["environment"] == "production"'
json "json: commit variables" 'len(j["jobs"][0]["variables"]["CI_COMMIT_SHA"]) == 40 and j["jobs"][0]["variables"]["CI_COMMIT_TITLE"] == "second"'
json "json: matrix variables" 'j["jobs"][1]["variables"]["OS"] == "mac" and j["jobs"][1]["parallel"] == {"index": 2, "total": 2}'

check "--changed overrides the diff" 0 "$bin" plan --json --changed docs/a.md
json "changed: docs in, unit out (and needs error avoided)" '[x["name"] for x in j["excluded"]] == ["unit"]'

check "--tag: tag pipeline" 0 "$bin" plan --json --tag v1.0
json "tag: deploy automatic" '[x for x in j["jobs"] if x["name"] == "deploy"][0]["when"] == "on_success"'
json "tag: CI_COMMIT_TAG set, branch unset" '"CI_COMMIT_BRANCH" not in j["jobs"][0]["variables"] and j["jobs"][0]["variables"]["CI_COMMIT_TAG"] == "v1.0"'

check "--ref other branch" 0 "$bin" plan --json --ref feature
json "ref: deploy excluded off the default branch" '"deploy" in [x["name"] for x in j["excluded"]]'

check "--var is a pipeline variable" 0 "$bin" plan --json --var OS=bsd --var EXTRA=1
json "var: beats matrix values" 'j["jobs"][0]["variables"]["OS"] == "bsd" and j["jobs"][0]["variables"]["EXTRA"] == "1"'

check "--source schedule: skipped, exit 0" 0 "$bin" plan --source schedule
contains "skipped: says which rule" "workflow:rules: rule 1 (.gitlab-ci.yml:4) has when: never"
check "--source schedule --json" 0 "$bin" plan --json --source schedule
json "json skipped" 'j["pipeline"] == "skipped" and j["jobs"] == [] and "rule 1" in j["reason"]'

check "--source unknown: an error" 2 "$bin" plan --source pushh
contains "unknown source named" "unknown pipeline source 'pushh'"
check "--ref naming no branch: planned, with a warning" 0 "$bin" plan --json --ref no-such-branch
contains "the warning says what was assumed" "--ref no-such-branch names no branch or tag"
json "still the branch asked for" 'j["jobs"][0]["variables"]["CI_COMMIT_BRANCH"] == "no-such-branch"'

check "plan does not take a pipeline id" 0 "$bin" plan --json
json "pipeline id 1 before any run" 'j["jobs"][0]["variables"]["CI_PIPELINE_ID"] == "1"'
[[ ! -e .sluice/pipeline-counter ]] && { pass=$((pass + 1)); echo "ok - no counter file written"; } \
  || { fail=$((fail + 1)); echo "not ok - plan wrote .sluice/pipeline-counter"; }

check "--ref and --tag together: usage error" 2 "$bin" plan --ref a --tag b
check "bad --var: usage error" 2 "$bin" plan --var NOEQUALS
check "missing file: usage error" 2 "$bin" plan -f nowhere.yml
check "unknown tag: error" 2 "$bin" plan --tag v9
contains "unknown tag named" "tag v9 does not exist"

cat > bad.yml <<'EOF'
job:
  script: [echo]
  when: sometimes
EOF
check "invalid config: exit 2" 2 "$bin" plan -f bad.yml
contains "lint error as FILE:LINE:COL" "bad.yml:3:"

cat > needs.yml <<'EOF'
build:
  stage: build
  script: [echo]
  rules:
    - if: $NEVER
test:
  script: [echo]
  needs: [build]
EOF
check "needs on a job left out: exit 2" 2 "$bin" plan -f needs.yml
contains "GitLab's wording" "'test' job needs 'build' job, but 'build' does not exist in the pipeline."

echo "$pass passed, $fail failed"
((fail == 0))
