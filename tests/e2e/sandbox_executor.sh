#!/usr/bin/env bash
# The sandbox executor (`sluice run --executor sandbox`): a job cannot write outside its
# workspace, cannot see the other jobs' workspaces (a hidden host path), has no network
# but loopback, cannot see host processes; a memory hog is killed at --memory and says
# `out of memory`; a fork bomb stops at --pids; a timeout still ends the job; cgroups are
# removed afterwards.
set -u
. "$(dirname "$0")/lib/skip.sh"
. "$(dirname "$0")/lib/repo.sh"
bin=${SLUICE_BIN:?SLUICE_BIN is not set}
command -v git >/dev/null || skip "needs git"
probe=$("$bin" __sandbox -- /bin/true 2>&1) || skip "the kernel refuses the sandbox: $probe"
. "$(dirname "$0")/lib/check.sh"
tmp=$(mktemp -d /var/tmp/sluice-sandbox-test.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
proj=$tmp/project
mkdir -p "$proj" && cd "$proj" || exit 1
sleep 600 &
hostpid=$!
repo_ci . <<YML || exit 1
views:
  script:
    - echo inside > mine.txt && cat mine.txt
    - touch $tmp/escape 2>/dev/null || echo cannot-write-project-parent
    - touch /etc/escape 2>/dev/null || echo cannot-write-etc
    - ls $proj/.sluice/builds
    - test -e $proj/.sluice/secret.txt || echo secret-hidden
    - test -d /proc/$hostpid && echo sees-host-process || echo no-host-process
    - timeout 3 bash -c 'echo > /dev/tcp/127.0.0.1/1' 2>/dev/null || echo loopback-only
    - timeout 3 bash -c 'echo > /dev/tcp/10.255.255.53/53' 2>/dev/null || echo no-network
    - ls /tmp | wc -l | sed 's/^/tmp-entries=/'
YML
mkdir -p .sluice && echo s3cret >.sluice/secret.txt
out=$("$bin" run --no-color --executor sandbox 2>&1)
kill $hostpid 2>/dev/null
has "job ran" "inside"
has "cannot write outside its workspace" "cannot-write-project-parent"
has "host root read-only" "cannot-write-etc"
[[ ! -e $tmp/escape ]] && ok "nothing written outside" || bad "a file escaped"
[[ -f .sluice/builds/views/mine.txt ]] && ok "workspace writable" || bad "workspace not written"
has "a hidden host file is not visible" "secret-hidden"
has "no host processes" "no-host-process"
has "no network" "no-network"
has "a job passes" "views │ ●  success"

cat >.gitlab-ci.yml <<'YML'
hog:
  script:
    - |
      python3 -c 'exec("b=[]\nwhile True: b.append(bytearray(8*1024*1024))")'
bomb:
  script:
    - for i in $(seq 1 300); do sleep 30 & done; echo forked-$((100 + 200))
slow:
  timeout: 2s
  script: [sleep 300, echo not-reached]
YML
git commit -qam limits
out=$("$bin" run --no-color --executor sandbox --memory 64m --pids 40 2>&1)
has "memory hog killed with out of memory" "out of memory"
has "memory hog fails" "hog  │ ●  failed"
has "fork bomb stopped at the pids limit" "Resource temporarily unavailable"
lacks "fork bomb did not fork 300" "forked-300"
has "timeout ends a sandboxed job" "job_execution_timeout"
lacks "timeout stopped the script" "not-reached"
left=$(ls /sys/fs/cgroup/memory /sys/fs/cgroup/pids /sys/fs/cgroup 2>/dev/null | grep -c "sluice-sandbox-" || true)
# other runs may be going on at the same time: only our helper pids count
mine=0
for d in /sys/fs/cgroup/{memory,pids,}/sluice-sandbox-*; do
  [[ -d $d ]] || continue
  p=${d##*-}
  kill -0 "$p" 2>/dev/null || mine=$((mine + 1))
done
((mine == 0)) && ok "cgroups removed" || bad "cgroups left: $left"
finish
