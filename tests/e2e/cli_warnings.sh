#!/usr/bin/env bash
# Warnings that help: a misspelt variable in an expression gets "did you mean"; keywords
# sluice accepts but does not act on are warned once per keyword per pipeline (never per
# job, never again in a job log); a duplicate mapping key is warned with both positions.
# In lint, plan and run alike.
set -u
bin=${SLUICE_BIN:?SLUICE_BIN is not set}
. "$(dirname "$0")/lib/check.sh"
. "$(dirname "$0")/lib/repo.sh"
count() { # NAME WANT TEXT: TEXT occurs on exactly WANT lines
    local n
    n=$(grep -cF -- "$3" <<<"$out")
    if [ "$n" -eq "$2" ]; then ok "$1"; else bad "$1: '$3' on $n lines, want $2" "$out"; fi
}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cd "$dir" || exit 1
repo_ci . <<'YAML' || exit 1
variables:
  DEPLOY_ENV: prod
a:
  image: alpine
  tags: [docker]
  secrets: {X: {vault: a/b@c}}
  script: echo a
  rules:
    - if: $CI_COMMIT_BRNACH == "nope" || $DEPLOY_ENVV == "x"
    - when: on_success
b:
  image: alpine
  tags: [docker]
  secrets: {Y: {vault: a/b@c}}
  script: echo first
  script: echo b-last
c:
  image: alpine
  tags: [docker]
  script: echo c
  only:
    variables:
      - $MY_OWN_PROJECT_VARIABLE == "x" || $CI_COMMIT_REF_NAME =~ /$CI_COMMIT_BRNCH/
YAML
out=$("$bin" lint 2>/dev/null)
has "lint: variable hint" "hint: did you mean \`CI_COMMIT_BRANCH\`?"
has "lint: defined variable hint" "hint: did you mean \`DEPLOY_ENV\`?"
has "lint: variable warning" "\$CI_COMMIT_BRNACH is neither defined in this file nor predefined by GitLab"
count "lint: no hint for a far name (a project variable)" 0 "MY_OWN_PROJECT_VARIABLE"
count "lint: nothing inside a /regex/ literal" 0 "CI_COMMIT_BRNCH"
count "lint: secrets warned once" 1 "secrets is accepted but sluice does not act on it"
has "lint: the once-warning counts the rest" "(and in 1 more place, warned once)"
has "lint: duplicate key, both positions" ".gitlab-ci.yml:16:3: warning: duplicate key \`script\` (first at 15:3): GitLab keeps this last value"
out=$("$bin" lint --json 2>/dev/null)
if python3 -c 'import json,sys
d = json.load(sys.stdin)
assert any(w.get("hint") == "did you mean `CI_COMMIT_BRANCH`?" for w in d["warnings"]), d
' <<<"$out"; then ok "lint --json: variable hint field"; else bad "lint --json: variable hint field" "$out"; fi
out=$("$bin" plan 2>&1 >/dev/null)
has "plan: variable hint" "hint: did you mean \`CI_COMMIT_BRANCH\`?"
count "plan: tags warned once" 1 "\`tags\` is ignored"
has "plan: tags names the jobs" "\`tags\` is ignored: a local run runs every job on this machine (jobs a, b)"
out=$("$bin" run --no-color --executor shell 2>&1)
has "run: variable hint" "hint: did you mean \`DEPLOY_ENV\`?"
count "run: secrets warned once" 1 "secrets is accepted but sluice does not act on it"
count "run: tags warned once" 1 "\`tags\` is ignored"
count "run: image warned once, not per job" 1 "image"
has "run: image names the jobs" "\`image\` is ignored: --executor shell runs jobs on this machine (jobs a, b)"
has "run: the last duplicate value wins" "b-last"
logs=$(cat .sluice/pipelines/*/logs/*.log)
if grep -qi "ignored\|warning" <<<"$logs"; then out=$logs; bad "job logs repeat no warning" "$out"; else ok "job logs repeat no warning"; fi
finish
