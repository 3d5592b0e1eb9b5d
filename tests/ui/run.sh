#!/usr/bin/env bash
# Runs ui.test.js, fork.test.js, then firefox.test.js on the same server: a git repository
# with a pipeline that exercises the UI, a real `sluice serve` on loopback, Debian's chromium
# and firefox-esr through playwright-core (tests/ui/node_modules, installed by scripts/install-deps.sh).
# Skips (77) without chromium, node or playwright-core, and skips the Firefox part without
# firefox-esr, except in CI, where either is a failure.
set -u
here=$(cd "$(dirname "$0")" && pwd)
bin=${SLUICE_BIN:?SLUICE_BIN is not set}
missing=
command -v node >/dev/null || missing="node"
[[ -x ${CHROMIUM:-/usr/bin/chromium} ]] || missing="$missing chromium"
[[ -d $here/node_modules/playwright-core ]] || missing="$missing playwright-core (npm install in tests/ui)"
if [[ -n $missing ]]; then
  echo "SKIPPED: the UI test needs:$missing (scripts/install-deps.sh installs them)" >&2
  [[ ${CI:-} == true ]] && exit 1
  exit 77
fi
tmp=$(mktemp -d)
pid= pid2=
cleanup() {
  for p in $pid $pid2; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  rm -rf "$tmp"
}
trap cleanup EXIT

mkdir "$tmp/repo"
(cd "$tmp/repo" && git init -q -b main && cat > .gitlab-ci.yml <<'YML'
stages: [build, test, deploy]
build:
  stage: build
  script:
    - echo -e "section_start:$(date +%s):prep[collapsed=true]\r\e[0KPreparing"
    - echo inside the section
    - echo -e "section_end:$(date +%s):prep\r\e[0K"
    - printf '\033[32mgreen\033[0m \033[38;5;208morange\033[0m \033[38;2;10;20;200mtruecolor\033[0m\n'
    - echo "2026-12-02T20:00:00.123456Z 00O stamped line"
    - mkdir -p out/sub && echo artifact-content > out/sub/result.txt
  artifacts:
    paths: [out/]
unit:
  stage: test
  needs: [build]
  script: [echo unit ok]
slow:
  stage: test
  rules: [{if: '$MODE == "full"'}]
  script:
    - printf '\033[32mstarting\033[0m\n'
    - for i in $(seq 1 40); do echo "tick $i"; sleep 0.5; done
flaky:
  stage: test
  rules: [{if: '$MODE == "full"'}]
  allow_failure: true
  script: [echo failing on purpose, exit 3]
sleeper:
  stage: test
  rules: [{if: '$MODE == "full"'}]
  allow_failure: true
  script: [echo sleeping, sleep 600]
big:
  stage: test
  rules: [{if: '$MODE == "full"'}]
  needs: [build]
  script: ["seq -f 'line %09.0f' 1 7000000"]
gpu:
  stage: test
  rules: [{if: '$MODE == "stuck"'}]
  needs: []
  tags: [gpu]
  script: [echo no runner has gpu]
leak:
  stage: test
  rules: [{if: '$MODE == "secret"'}]
  script:
    - T=ghp_Xq7Lm2Vr9; echo "export DEMO_TOKEN=${T}Tz4Kp8Wn3Bc6Hd1Jf5Gs0Ya2ReU (oops)"
from-fork:
  stage: test
  rules: [{if: '$CI_PIPELINE_SOURCE == "merge_request_event"'}]
  script: [echo a merge request pipeline]
deploy:
  stage: deploy
  needs: [build]
  rules: [{if: '$MODE == "full"', when: manual}]
  environment: production
  script: [echo deployed]
YML
git add . && git -c user.email=t@t -c user.name=t commit -qm init &&
  git update-ref refs/pull/5/head HEAD && git update-ref refs/pull/6/head HEAD) ||
  exit 1 # refs/pull: forks' pull requests (fork.test.js)

"$bin" serve --listen 127.0.0.1:0 --data "$tmp/data" --workers 6 >"$tmp/out" 2>"$tmp/err" &
pid=$!
for _ in $(seq 200); do grep -q 'listening on' "$tmp/out" && break; sleep 0.05; done
addr=$(sed -n 's/.*listening on http:\/\///p' "$tmp/out")
[[ -n $addr ]] || { echo "not ok - server starts"; cat "$tmp/err"; exit 1; }
admin=$(cat "$tmp/data/admin.token")
# a second server without built-in workers: a tagged job there waits for a runner
"$bin" serve --listen 127.0.0.1:0 --data "$tmp/data2" --workers 0 >"$tmp/out2" 2>"$tmp/err2" &
pid2=$!
for _ in $(seq 200); do grep -q 'listening on' "$tmp/out2" && break; sleep 0.05; done
addr2=$(sed -n 's/.*listening on http:\/\///p' "$tmp/out2")
[[ -n $addr2 ]] || { echo "not ok - the second server starts"; cat "$tmp/err2"; exit 1; }
project=$(curl -s -H "Authorization: Bearer $admin" -H 'Content-Type: application/json' \
  -d "{\"name\":\"demo\",\"repo_url\":\"$tmp/repo\"}" "http://$addr/api/v1/projects" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
shots=${SL_BUILD_DIR:-$tmp}/ui-screenshots
mkdir -p "$shots"
URL=http://$addr ADMIN=$admin PROJECT=$project SHOTS=$shots BENCH_OUT=${BENCH_OUT:-} \
  URL2=http://$addr2 ADMIN2=$(cat "$tmp/data2/admin.token") REPO=$tmp/repo \
  NODE_PATH=$here/node_modules node "$here/ui.test.js"
rc=$?
# a fork's pipeline held for a maintainer's approval, in its own project of the same server
URL=http://$addr ADMIN=$admin REPO=$tmp/repo SHOTS=$shots \
  NODE_PATH=$here/node_modules node "$here/fork.test.js" || rc=1
# then the same server in Firefox (Debian's firefox-esr over WebDriver BiDi)
firefox=${FIREFOX:-/usr/bin/firefox-esr}
if [[ -x $firefox ]]; then
  URL=http://$addr ADMIN=$admin PROJECT=$project SHOTS=$shots FIREFOX=$firefox \
    NODE_PATH=$here/node_modules node "$here/firefox.test.js" || rc=1
elif [[ ${CI:-} == true ]]; then
  echo "not ok - the Firefox part needs firefox-esr (scripts/install-deps.sh installs it)"
  rc=1
else
  echo "# SKIPPED: the Firefox part needs firefox-esr (scripts/install-deps.sh installs it)"
fi
echo "# screenshots in $shots"
exit $rc
