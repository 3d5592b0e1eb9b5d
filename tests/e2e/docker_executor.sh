#!/usr/bin/env bash
# The docker executor against a real `podman system service` on a private socket
# (scripts/podman-test-server.sh, test image localhost/busybox:ci built offline from
# busybox-static): image by name, entrypoint override, pull_policy never with a missing
# image, a failed pull, after_script with CI_JOB_STATUS in the same container, artifacts out
# of a container job, a timeout and a cancel that kill the job, containers removed, a
# sluice killed with -9 leaving a container that the next run removes, a dead DOCKER_HOST,
# and --executor shell ignoring the image with a warning.
set -u
. "$(dirname "$0")/lib/skip.sh"
. "$(dirname "$0")/lib/repo.sh"
bin=${SLUICE_BIN:?SLUICE_BIN is not set}
src=${SL_SOURCE_DIR:?SL_SOURCE_DIR is not set}
command -v git >/dev/null || skip "needs git"
. "$(dirname "$0")/lib/check.sh"

. "$(dirname "$0")/lib/podman.sh"
podman_start
tmp=$(mktemp -d)
trap 'podman_stop; rm -rf "$tmp"' EXIT

proj=$tmp/project
mkdir -p "$proj" && cd "$proj" || exit 1
repo_ci . <<'YML' || exit 1
by-name:
  image: localhost/busybox:ci
  script:
    - echo "in $CI_PROJECT_DIR pwd=$(pwd)"
    - test -f .gitlab-ci.yml && echo workspace-mounted
    - echo made-in-container > out.txt
    - echo "path=$PATH."
  after_script:
    - echo "after status=$CI_JOB_STATUS seen=$(cat out.txt)"
  artifacts:
    paths: [out.txt]
entry:
  image:
    name: localhost/busybox:ci
    entrypoint: [""]
  script: [echo entry-ok, exit 3]
  after_script: [echo "after status=$CI_JOB_STATUS"]
never:
  image:
    name: localhost/absent:1
    pull_policy: never
  script: [echo must-not-run]
pull-fails:
  image: example.invalid/none/img:1
  script: [echo must-not-run]
YML
out=$("$bin" run --no-color 2>&1)
has "image by name: job ran in the container" "in /builds/"
has "workspace bind-mounted" "workspace-mounted"
has "the image's PATH, not the host's" "path=/bin."
has "after_script in the same container with CI_JOB_STATUS" "after status=success seen=made-in-container"
has "artifacts out of a container job" "Uploaded artifacts: 1 files"
if [[ $(cat .sluice/builds/by-name/out.txt 2>/dev/null) == made-in-container ]]; then
  ok "file written in the container is in the workspace"
else bad "file written in the container is in the workspace"; fi
has "entrypoint override runs the script" "entry-ok"
has "exit code of the script" "script_failure, exit code 3"
has "after_script sees failed" "after status=failed"
has "pull_policy never: image_pull_failure" "ERROR: Job failed (image_pull_failure): failed to pull image localhost/absent:1: image localhost/absent:1 is not present and the pull policy is never"
lacks "pull_policy never: nothing ran" "must-not-run"
has "failed pull: the engine's message" "ERROR: Job failed (image_pull_failure): failed to pull image example.invalid/none/img:1:"
if (($(ours) == 0)); then ok "no container left"; else bad "containers left" "$(docker_api '/containers/json?all=1')"; fi

# a timeout kills the job, no after_script
cat >.gitlab-ci.yml <<'YML'
slow:
  image: localhost/busybox:ci
  timeout: 2s
  script: [echo started, sleep 300, echo not-reached]
  after_script: [echo after-must-not-run]
YML
git commit -qam timeout
out=$("$bin" run --no-color 2>&1)
has "timeout: job_execution_timeout" "job_execution_timeout"
lacks "timeout: the script was stopped" "not-reached"
lacks "timeout: no after_script" "after-must-not-run"
if (($(ours) == 0)); then ok "timeout: container removed"; else bad "timeout: container left"; fi

# cancel (Ctrl-C) mid-job: the script dies, after_script runs with canceled
cat >.gitlab-ci.yml <<'YML'
long:
  image: localhost/busybox:ci
  script: [touch started, sleep 300, echo not-reached]
  after_script: [echo "after status=$CI_JOB_STATUS"]
YML
git commit -qam cancel
"$bin" run --no-color >"$tmp/cancel.out" 2>&1 &
pid=$!
for _ in $(seq 1 600); do [[ -f .sluice/builds/long/started ]] && break; sleep 0.1; done
kill -INT $pid
wait $pid
out=$(cat "$tmp/cancel.out")
has "cancel: after_script with canceled" "after status=canceled"
lacks "cancel: the script was stopped" "not-reached"
if (($(ours) == 0)); then ok "cancel: container removed"; else bad "cancel: container left"; fi

# kill -9 of sluice leaves a container; the next run removes it
"$bin" run --no-color >/dev/null 2>&1 &
pid=$!
rm -f .sluice/builds/long/started
for _ in $(seq 1 600); do [[ -f .sluice/builds/long/started ]] && break; sleep 0.1; done
kill -9 $pid
wait $pid 2>/dev/null
if (($(ours) == 1)); then ok "kill -9: a container is left behind"; else bad "kill -9: expected one container" "$(docker_api '/containers/json?all=1')"; fi
cat >.gitlab-ci.yml <<'YML'
quick:
  image: localhost/busybox:ci
  script: [echo quick]
YML
git commit -qam quick
out=$("$bin" run --no-color 2>&1)
has "next run works" "quick"
if (($(ours) == 0)); then ok "kill -9: leftover removed by the next run"; else bad "kill -9: leftover still there"; fi

# a dead DOCKER_HOST is an error, never a fall-back
out=$(DOCKER_HOST=unix://$tmp/nothing.sock "$bin" run --no-color 2>&1)
has "dead DOCKER_HOST named" "DOCKER_HOST=unix://$tmp/nothing.sock does not answer"
has "dead DOCKER_HOST: how to go on" "--executor shell"
# --executor shell ignores the image, with a warning
out=$("$bin" run --no-color --executor shell 2>&1)
has "shell: image ignored warning" "\`image\` is ignored: --executor shell runs jobs on this machine"
has "shell: job ran on the host" "quick"

finish
