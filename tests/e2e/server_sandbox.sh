#!/usr/bin/env bash
# `sluice serve --executor sandbox`: the built-in workers run every job in the sandbox as
# the --run-as user: a read-only host, the server's data directory hidden, no network,
# --pids applied (as root: cgroups are not delegated to nobody here); an image is ignored
# with a warning. At
# start the server tries the sandbox as that user and stops with a line naming what the
# kernel refuses (here: nobody may not create cgroups for --memory), exit code 1.
set -u
bin=${SLUICE_BIN:?SLUICE_BIN is not set}
src=${SL_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$src/tests/e2e/lib/skip.sh"
for c in curl python3 git; do command -v $c >/dev/null || skip "needs $c"; done
probe=$("$bin" __sandbox -- /bin/true 2>&1) || skip "the kernel refuses the sandbox: $probe"
tmp=$(mktemp -d)
cleanup() { [[ -n ${pid:-} ]] && kill -9 "$pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
# shellcheck source=lib/server.sh
. "$src/tests/e2e/lib/server.sh"
# shellcheck source=lib/agents.sh
. "$src/tests/e2e/lib/agents.sh"
shared_dir
# shellcheck source=lib/nobody.sh
. "$src/tests/e2e/lib/nobody.sh"
bin_for_nobody

if [[ $(id -u) == 0 ]]; then
  out=$("$bin" serve --listen 127.0.0.1:0 --data "$tmp/refused" --executor sandbox --memory 64m 2>&1)
  expect "a refused sandbox stops the server with exit code 1" 1 "$?" "$out"
  expect "it says nobody may not create cgroups" 1 \
    "$(grep -c -- '--memory needs cgroup delegation: this user (uid 65534)' <<<"$out")" "$out"
fi

# cgroups are not delegated to nobody here (above): the limits need the jobs to run as a
# user who may create cgroups, the server's own (root)
limits=()
[[ $(id -u) == 0 ]] && limits=(--run-as root --pids 40)
server_start --executor sandbox "${limits[@]}" || { echo "not ok - server starts"; exit 1; }
ok "the server starts with --executor sandbox"
git_repo "boxed:
  image: localhost/never-pulled:1
  script:
    - touch /etc/sluice-escape 2>/dev/null || echo cannot-write-etc
    - test -e $tmp/data/sluice.db && echo sees-the-store || echo data-dir-hidden
    - timeout 3 bash -c 'echo > /dev/tcp/10.255.255.53/53' 2>/dev/null || echo no-network
    - echo boxed-done
bomb:
  allow_failure: true
  script:
    - for i in \$(seq 1 100); do sleep 30 >/dev/null 2>&1 & done; echo forked-\$((50 + 50))"
project_make boxed
pipeline_run
pipeline_wait 300 || bad "the pipeline ended within 300 s" "$body"
expect "the pipeline passes" success "$pstatus" "$body"
jobs=$body
joblog() { # joblog NAME: the log of the pipeline's job NAME in $body
  local id
  id=$(python3 -c "import json,sys; print([j['id'] for j in json.load(sys.stdin)['jobs'] if j['name']==sys.argv[1]][0])" "$1" <<<"$jobs")
  req GET "/api/v1/jobs/$id/log" "$admin"
}
joblog boxed
expect "the job's log warns that its image is ignored" 1 \
  "$(grep -c -F 'WARNING: image localhost/never-pulled:1 ignored by the sandbox executor' <<<"$body")" "$body"
for want in cannot-write-etc data-dir-hidden no-network boxed-done; do
  expect "the job's log has the line $want" 1 "$(grep -c -x -- "$want" <<<"$body")" "$body"
done
if ((${#limits[@]})); then
  joblog bomb
  expect "--pids: the fork loop is refused" 1 \
    "$(grep -c -m1 'fork: retry: Resource temporarily unavailable' <<<"$body")" "$body"
  expect "--pids: the fork loop did not fork 100" 0 "$(grep -c -x forked-100 <<<"$body")" "$body"
fi
[[ ! -e /etc/sluice-escape ]] && ok "nothing written to /etc" || bad "a job wrote /etc"
rm -f /etc/sluice-escape
server_stop
finish
