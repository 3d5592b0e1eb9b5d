#!/usr/bin/env bash
# Per-job overhead of the shell, sandbox and docker executors, and a 20-job pipeline on
# each (sluice run). Prints figures; asserts nothing. Needs a built sluice (SLUICE_BIN,
# default build/dev/sluice) and, for docker, podman (scripts/podman-test-server.sh).
#   bench/executors.sh [RUNS]        (RUNS trivial jobs per executor, default 20)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${SLUICE_BIN:-$root/build/dev/sluice}
runs=${1:-20}
tmp=$(mktemp -d /var/tmp/sluice-bench-exec.XXXXXX)
srv=
cleanup() {
  [[ -n $srv ]] && "$root/scripts/podman-test-server.sh" stop "$srv"
  rm -rf "$tmp"
}
trap cleanup EXIT
ms() { echo "scale=2; $1 / 1000000" | bc; }

echo "== raw start-up, $runs runs each (median ms)"
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
time_cmd() {
  for _ in $(seq 1 "$runs"); do
    local t0 t1
    t0=$(date +%s%N)
    "$@" >/dev/null 2>&1
    t1=$(date +%s%N)
    echo $((t1 - t0))
  done | median
}
printf '%-40s %s ms\n' "bash -c true" "$(ms "$(time_cmd bash --noprofile --norc -c true)")"
printf '%-40s %s ms\n' "sluice-sandbox -- bash -c true" \
  "$(ms "$(time_cmd "$(dirname "$bin")/sluice-sandbox" --workspace "$tmp" -- /usr/bin/bash --noprofile --norc -c true)")"
printf '%-40s %s ms\n' "sluice __sandbox -- bash -c true" \
  "$(ms "$(time_cmd "$bin" __sandbox --workspace "$tmp" -- /usr/bin/bash --noprofile --norc -c true)")"
printf '%-40s %s ms\n' "  with --memory 256m --pids 100" \
  "$(ms "$(time_cmd "$(dirname "$bin")/sluice-sandbox" --workspace "$tmp" --memory 268435456 --pids 100 -- /usr/bin/bash --noprofile --norc -c true)")"

proj=$tmp/p
mkdir -p "$proj" && cd "$proj"
git init -q -b main .
{
  for i in $(seq 1 20); do
    printf 'j%02d:\n  image: localhost/busybox:ci\n  script: [echo job %d]\n' "$i" "$i"
  done
} >.gitlab-ci.yml
git add -A && git commit -qm bench
pipeline() { # executor args...: wall ms of one sluice run of the 20 jobs
  local t0 t1
  t0=$(date +%s%N)
  "$bin" run --no-color "$@" >"$tmp/out" 2>&1 || { tail -5 "$tmp/out" >&2; }
  t1=$(date +%s%N)
  echo $((t1 - t0))
}
echo "== 20-job pipeline (sluice run -j 2), 3 runs each (median ms)"
for ex in shell sandbox; do
  v=$(for _ in 1 2 3; do pipeline -j 2 --executor $ex; done | median)
  printf '%-40s %s ms\n' "--executor $ex" "$(ms "$v")"
done
if srv=$("$root/scripts/podman-test-server.sh" start 2>/dev/null); then
  export DOCKER_HOST=unix://$srv/podman.sock
  v=$(for _ in 1 2 3; do pipeline -j 2 --executor docker; done | median)
  printf '%-40s %s ms\n' "--executor docker (podman 4.3, runc)" "$(ms "$v")"
  cat >.gitlab-ci.yml <<'YML'
one:
  image: localhost/busybox:ci
  script: [echo one]
YML
  git commit -qam one
  v=$(for _ in $(seq 1 5); do pipeline --executor docker; done | median)
  printf '%-40s %s ms\n' "one trivial docker job (sluice run)" "$(ms "$v")"
  v=$(for _ in $(seq 1 5); do pipeline --executor shell; done | median)
  printf '%-40s %s ms\n' "one trivial shell job (sluice run)" "$(ms "$v")"
  v=$(for _ in $(seq 1 5); do pipeline --executor sandbox; done | median)
  printf '%-40s %s ms\n' "one trivial sandbox job (sluice run)" "$(ms "$v")"
else
  echo "docker: podman not available, skipped"
fi
