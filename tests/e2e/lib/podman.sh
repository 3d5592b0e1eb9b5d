# lib/podman.sh: a real `podman system service` on a private socket, for the tests of the
# docker executor (scripts/podman-test-server.sh; images built offline from busybox-static).
# Source it after lib/skip.sh and after setting `src` (the source tree).
#
#   podman_start       starts the service (or skips the test: nothing may skip in CI),
#                      exports DOCKER_HOST, sets srv (its directory) and sock
#   podman_stop        stops it (for the EXIT trap)
#   docker_api PATH    a GET of the Docker API there: docker_api /networks
#   ours / nets        how many containers / networks sluice left there (label sluice.pid)
podman_start() {
  local errf="${TMPDIR:-/tmp}/podman-start.$$" rc
  srv=$("$src/scripts/podman-test-server.sh" start --watch $$ 2>"$errf")
  rc=$?
  if ((rc != 0)); then
    cat "$errf" >&2
    rm -f "$errf"
    ((rc == 77)) && skip "podman, runc or busybox-static is not installed"
    skip "cannot start podman system service (see above)"
  fi
  rm -f "$errf"
  sock=$srv/podman.sock
  export DOCKER_HOST=unix://$sock
}
podman_stop() { [[ -z ${srv:-} ]] || "$src/scripts/podman-test-server.sh" stop "$srv"; }
docker_api() { curl -s --unix-socket "$sock" "http://d/v1.41$1"; }
ours() { docker_api '/containers/json?all=1' | grep -o '"sluice.pid":"[0-9]*"' | wc -l; }
nets() { docker_api '/networks' | grep -o '"sluice.pid":"[0-9]*"' | wc -l; }
