#!/usr/bin/env bash
# `sluice agent --executor docker` and `--executor sandbox` against a real `sluice serve`
# (no built-in workers) and a real `podman system service` on a private socket
# (scripts/podman-test-server.sh, the busybox test image): a job with an image runs in a
# container through an agent (the image's files, the workspace at /builds/<project>, an
# artifact out of the container reaching the server); a job on a sandbox agent runs on a
# read-only host view with the agent's own directories hidden and the agent's --pids limit.
# A docker agent killed with -9 during a job leaves its container: its next start removes it.
set -u
bin=${SLUICE_BIN:?SLUICE_BIN is not set}
src=${SL_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$src/tests/e2e/lib/skip.sh"
for c in curl python3 git; do command -v $c >/dev/null || skip "needs $c"; done
tmp=$(mktemp -d)
srv=
cleanup() {
  agents_kill
  [[ -n ${pid:-} ]] && kill -9 "$pid" 2>/dev/null
  [[ -n $srv ]] && "$src/scripts/podman-test-server.sh" stop "$srv"
  rm -rf "$tmp"
}
trap cleanup EXIT
# shellcheck source=lib/server.sh
. "$src/tests/e2e/lib/server.sh"
# shellcheck source=lib/agents.sh
. "$src/tests/e2e/lib/agents.sh"

srv=$("$src/scripts/podman-test-server.sh" start --watch $$ 2>"$tmp/podman-start")
rc=$?
if ((rc != 0)); then
  cat "$tmp/podman-start" >&2
  srv=
  ((rc == 77)) && skip "podman, runc or busybox-static is not installed"
  skip "cannot start podman system service (see above)"
fi
export DOCKER_HOST=unix://$srv/podman.sock
probe=$("$bin" __sandbox -- /bin/true 2>&1) || skip "the kernel refuses the sandbox: $probe"

server_start --workers 0 || { echo "not ok - server starts"; exit 1; }
ok "server starts without built-in workers"
git_repo "in-container:
  tags: [docker]
  image: localhost/busybox:ci
  script:
    - test -x /bin/busybox && ls /usr/bin/python3 2>/dev/null || echo busybox-image-only
    - echo \"dir=\$CI_PROJECT_DIR pwd=\$(pwd)\"
    - echo made-in-a-container > made.txt
  artifacts:
    paths: [made.txt]
in-sandbox:
  tags: [sandbox]
  script:
    - touch /etc/sluice-escape 2>/dev/null || echo cannot-write-etc
    - test -e $tmp/agent-sbx/repos && echo sees-agent-mirrors || echo agent-dir-hidden
    - echo sandbox-job-done
bomb:
  tags: [sandbox]
  allow_failure: true
  script:
    - for i in \$(seq 1 100); do sleep 30 >/dev/null 2>&1 & done; echo forked-\$((50 + 50))"
project_make agent-executors
ctr=$(runner_token ctr --tags docker)
sbx=$(runner_token sbx --tags sandbox)
agent_start ctr "$ctr" --executor docker
agent_start sbx "$sbx" --executor sandbox --pids 30
pipeline_run
pipeline_wait 600 || bad "the pipeline ended within 600 s" "$body"
expect "the pipeline passes" success "$pstatus" "$body"
joblog() { # joblog NAME: the log of the pipeline's job NAME into $log
  req GET /api/v1/pipelines/$pl "$admin"
  local id
  id=$(python3 -c "import json,sys; print([j['id'] for j in json.load(sys.stdin)['jobs'] if j['name']==sys.argv[1]][0])" "$1" <<<"$body")
  req GET "/api/v1/jobs/$id/log" "$admin"
  log=$(tr -d '\r' <<<"$body")
  jobid=$id
}
# has NAME LINE: the log has LINE as a whole line (not only in the echo of a command)
has() { if grep -qx -- "$2" <<<"$log"; then ok "$1"; else bad "$1: the log lacks the line '$2'" "$log"; fi; }
joblog in-container
has "docker agent: the job ran in the image" "busybox-image-only"
has "docker agent: the workspace is /builds/<project>" "dir=/builds/.* pwd=/builds/.*"
req GET "/api/v1/jobs/$jobid/artifacts" "$admin"
expect "docker agent: the container's artifact reached the server" 200 "$code"
joblog in-sandbox
has "sandbox agent: the host root is read-only" "cannot-write-etc"
has "sandbox agent: the agent's work directory is hidden" "agent-dir-hidden"
has "sandbox agent: the job ends" "sandbox-job-done"
joblog bomb
grep -q 'fork: retry: Resource temporarily unavailable' <<<"$log" && ok "sandbox agent: --pids refuses the fork loop" ||
  bad "sandbox agent: --pids did not refuse the fork loop" "$log"
grep -qx forked-100 <<<"$log" && bad "sandbox agent: the fork loop forked 100" "$log" ||
  ok "sandbox agent: the fork loop did not fork 100"
[[ ! -e /etc/sluice-escape ]] && ok "sandbox agent: nothing written to /etc" || bad "a sandbox job wrote /etc"
rm -f /etc/sluice-escape
left=$(curl -s --unix-socket "$srv/podman.sock" 'http://d/v1.41/containers/json?all=1' | grep -o '"sluice.pid"' | wc -l)
expect "docker agent: no container left" 0 "$left"

# kill -9 of the docker agent during a job: the agent's next start removes its containers
git_repo "long:
  tags: [docker]
  image: localhost/busybox:ci
  script: [touch started, sleep 300]"
pipeline_run
started() { [[ -n $(find "$tmp/agent-ctr" -name started -print -quit 2>/dev/null) ]]; }
wait_for 120 started
expect "kill -9: the docker agent's job started" 0 "$?" "$(tail -5 "$tmp/ctr.err")"
dead=${apid[ctr]}
of_dead() { curl -s --unix-socket "$srv/podman.sock" 'http://d/v1.41/containers/json?all=1' | grep -o "\"sluice.pid\":\"$dead\"" | wc -l; }
kill -9 "$dead"
wait "$dead" 2>/dev/null
unset "apid[ctr]"
expect "kill -9: the agent's job container is left" 1 "$(of_dead)"
agent_start ctr "$ctr" --executor docker
swept() { (($(of_dead) == 0)); }
wait_for 60 swept
expect "kill -9: the agent's next start removes the dead agent's container, no job run" 0 "$?" \
  "$(curl -s --unix-socket "$srv/podman.sock" 'http://d/v1.41/containers/json?all=1')"
agent_stop ctr
agent_stop sbx
server_stop
finish
