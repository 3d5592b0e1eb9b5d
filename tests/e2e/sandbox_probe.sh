#!/usr/bin/env bash
# The sandbox executor's start-up probe: where the kernel refuses what the sandbox needs,
# `sluice run` and `sluice agent` with --executor sandbox stop before any job with one error
# naming what is missing, and never run the job on the host instead. The refusals are real,
# and private to the test's own namespaces (the machine is not changed):
#   - no user namespaces: inside a user namespace of its own, the test sets that
#     namespace's user.max_user_namespaces to 0 (the sysctl is per user namespace);
#   - no cgroup controller: in a mount namespace of its own, /sys/fs/cgroup is an empty
#     tmpfs (a machine without cgroups mounted), with --memory, --pids and --cpus;
#   - no cgroup delegation: the job's user (nobody) may not create cgroups.
set -u
. "$(dirname "$0")/lib/skip.sh"
. "$(dirname "$0")/lib/repo.sh"
bin=${SLUICE_BIN:?SLUICE_BIN is not set}
command -v git >/dev/null || skip "needs git"
command -v unshare >/dev/null || skip "needs unshare (util-linux)"
probe=$("$bin" __sandbox -- /bin/true 2>&1) || skip "the kernel refuses the sandbox: $probe"
. "$(dirname "$0")/lib/check.sh"
code() { if [[ $rc == "$2" ]]; then ok "$1"; else bad "$1: exit $rc, want $2" "$out"; fi; }
tmp=$(mktemp -d /var/tmp/sluice-sandbox-probe.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
chmod 711 "$tmp"
# shellcheck source=lib/nobody.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/nobody.sh"
bin_for_nobody
proj=$tmp/project
mkdir -p "$proj" && cd "$proj" || exit 1
printf 'job:\n  script: echo ran-the-job\n' | repo_ci . || exit 1

# a limit the helper cannot read is a usage error, never an unlimited job (atoll read
# "64m" or "abc" as 64 or 0 before)
for lim in "--memory abc" "--memory 64m" "--pids -3" "--pids 0" "--cpus nan" "--cpus 0"; do
  # shellcheck disable=SC2086 # the option and its value, two words
  out=$("$bin" __sandbox $lim -- /bin/echo ran-anyway 2>&1)
  rc=$?
  code "__sandbox $lim: usage error" 2
  lacks "__sandbox $lim: nothing ran" "ran-anyway"
done

# the sandbox works here: the probe lets the run through
out=$("$bin" run --no-color --executor sandbox --pids 100 2>&1)
rc=$?
code "a working sandbox runs the job" 0
has "the job ran in the sandbox" "ran-the-job"

# 1. no user namespaces
nouserns() { unshare --user --map-root-user sh -c 'echo 0 >/proc/sys/user/max_user_namespaces && exec "$@"' sh "$@"; }
if nouserns true 2>/dev/null && ! nouserns unshare --user true 2>/dev/null; then
  out=$(nouserns "$bin" run --no-color --executor sandbox 2>&1)
  rc=$?
  code "run: no user namespaces: exit 1" 1
  has "run: says user namespaces are refused" "the kernel refuses new namespaces (user"
  has "run: names the sysctl" "user.max_user_namespaces"
  has "run: no silent fall-back" "no job is run without its sandbox"
  lacks "run: the job did not run on the host" "ran-the-job"
  [[ ! -d .sluice/pipelines/2 ]] && ok "run: no pipeline started" || bad "run: a pipeline started"
  # the agent probes before it asks the server for anything (nothing listens on port 1)
  out=$(nouserns "$bin" agent --url http://127.0.0.1:1 --token glrt-none --executor sandbox \
    --work-dir "$tmp/agent" 2>&1)
  rc=$?
  code "agent: no user namespaces: exit 1" 1
  has "agent: says user namespaces are refused" "the kernel refuses new namespaces (user"
  lacks "agent: it did not reach the server" "127.0.0.1:1"
else
  bad "a user namespace with user.max_user_namespaces=0 could be made and refuses nested ones"
fi

# 2. no cgroup controllers (an empty /sys/fs/cgroup in a mount namespace of the test's own)
nocg() { unshare --mount sh -c 'mount -t tmpfs none /sys/fs/cgroup && exec "$@"' sh "$@"; }
for lim in "--memory 64m:memory" "--pids 50:pids" "--cpus 0.5:cpu"; do
  opt=${lim%%:*} ctl=${lim##*:}
  # shellcheck disable=SC2086 # OPT is an option and its value
  out=$(nocg "$bin" run --no-color --executor sandbox $opt 2>&1)
  rc=$?
  code "run $opt without cgroups: exit 1" 1
  has "run $opt: names the missing controller" "${opt%% *} needs a cgroup controller this machine does not mount"
  has "run $opt: names where it looked" "/sys/fs/cgroup/$ctl"
  lacks "run $opt: the job did not run" "ran-the-job"
done
out=$(nocg "$bin" agent --url http://127.0.0.1:1 --token glrt-none --executor sandbox \
  --memory 64m --work-dir "$tmp/agent" 2>&1)
rc=$?
code "agent --memory without cgroups: exit 1" 1
has "agent --memory: names the missing controller" "--memory needs a cgroup controller"
# without limits no cgroup is needed: the run goes on
out=$(nocg "$bin" run --no-color --executor sandbox 2>&1)
rc=$?
code "run without limits needs no cgroups" 0

# 3. no cgroup delegation: nobody may not create cgroups
if [[ $(id -u) == 0 ]] && command -v setpriv >/dev/null; then
  nproj=$tmp/nobody
  cp -a "$proj" "$nproj" && rm -rf "$nproj/.sluice" && chown -R nobody: "$nproj"
  out=$(cd "$nproj" && setpriv --reuid=nobody --regid=nogroup --clear-groups \
    env HOME="$nproj" "$bin" run --no-color --executor sandbox --pids 50 2>&1)
  rc=$?
  code "run as nobody with --pids: exit 1" 1
  has "run as nobody: names the delegation" "--pids needs cgroup delegation: this user (uid"
  lacks "run as nobody: the job did not run" "ran-the-job"
else
  echo "# (not root: the delegation case needs a user to switch to; covered in CI as root)"
  [[ ${CI:-} == true ]] && bad "CI=true runs as root: the delegation case must run"
fi
finish
