#!/usr/bin/env bash
# podman-test-server.sh: a throwaway `podman system service` on a private unix socket, with
# its own storage, for the docker executor's tests and benchmarks.
#
#   scripts/podman-test-server.sh start [--watch PID]   prints DIR on stdout; the Docker API
#                                                       socket is DIR/podman.sock
#   scripts/podman-test-server.sh stop DIR              stops the service, removes DIR
#
# The test image localhost/busybox:ci is made offline from Debian's busybox-static (a root
# file system of busybox and its applet links, `podman image import`) and cached as a tar
# in $SLUICE_PODMAN_CACHE (default ~/.cache/sluice-podman), so later runs only load it.
# containers.conf for this machine (see the machine notes): runc (crun fails on hybrid
# cgroups), ulimits the root can grant, netavark for per-job networks with DNS aliases.
# With --watch PID a watcher stops the service when PID is gone.
# Exit status: 0 ok; 1 failure (reason on stderr); 77 podman, runc or busybox-static missing.
set -euo pipefail

die() {
  echo "podman-test-server: $*" >&2
  exit 1
}

start() {
  local watch=
  [[ ${1:-} == --watch ]] && watch=$2
  for b in podman runc busybox; do
    if ! command -v $b >/dev/null 2>&1 && [[ ! -x /usr/sbin/$b ]]; then
      echo "podman-test-server: $b is not installed (scripts/install-deps.sh)" >&2
      exit 77
    fi
  done
  local dir
  dir=$(mktemp -d /tmp/sluice-podman.XXXXXX)
  cat >"$dir/containers.conf" <<'CONF'
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=4096:4096"]
log_driver = "k8s-file"
[network]
network_backend = "netavark"
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
CONF
  cat >"$dir/storage.conf" <<CONF
[storage]
driver = "overlay"
graphroot = "$dir/root"
runroot = "$dir/run"
CONF
  export CONTAINERS_CONF=$dir/containers.conf CONTAINERS_STORAGE_CONF=$dir/storage.conf
  local P=(podman --root "$dir/root" --runroot "$dir/run" --tmpdir "$dir/tmp")
  echo "${P[*]}" >"$dir/podman-cmd"
  load_image "$dir" "${P[@]}" || { rm -rf "$dir"; die "cannot make the test image"; }
  "${P[@]}" system service --time=0 "unix://$dir/podman.sock" >"$dir/service.log" 2>&1 &
  echo $! >"$dir/pid"
  for _ in $(seq 1 200); do
    if curl -sf --unix-socket "$dir/podman.sock" http://d/_ping >/dev/null 2>&1; then
      if [[ -n $watch ]]; then
        (
          while kill -0 "$watch" 2>/dev/null; do sleep 1; done
          "$0" stop "$dir"
        ) >/dev/null 2>&1 </dev/null &
        disown
      fi
      echo "$dir"
      return 0
    fi
    sleep 0.05
  done
  cat "$dir/service.log" >&2
  stop "$dir"
  die "podman system service did not answer"
}

# localhost/busybox:ci from the cache, made from busybox-static when not cached yet.
load_image() {
  local dir=$1
  shift
  local cache=${SLUICE_PODMAN_CACHE:-${HOME:-/tmp}/.cache/sluice-podman}
  local tar=$cache/busybox-ci.tar bb rc
  bb=$(command -v busybox)
  mkdir -p "$cache"
  # tests start services in parallel: one of them makes the cache, the others wait for it
  # (two `image save` into one file made a broken tar, and every later run failed on it)
  local lock
  exec {lock}>"$cache/.lock"
  flock "$lock"
  if [[ ! -s $tar || $bb -nt $tar ]]; then
    local rootfs=$dir/rootfs
    mkdir -p "$rootfs"/{bin,tmp,etc,root,proc,sys,dev}
    cp "$bb" "$rootfs/bin/busybox"
    for a in $("$bb" --list); do
      [[ $a == busybox ]] || ln -sf busybox "$rootfs/bin/$a"
    done
    echo 'root:x:0:0:root:/root:/bin/sh' >"$rootfs/etc/passwd"
    echo 'root:x:0:' >"$rootfs/etc/group"
    chmod 1777 "$rootfs/tmp"
    # each step's failure is the image's: a service without it would fail every job
    tar -C "$rootfs" -cf "$dir/rootfs.tar" . &&
      "$@" image import --change 'CMD ["/bin/sh"]' --change 'ENV PATH=/bin' \
        "$dir/rootfs.tar" localhost/busybox:ci >/dev/null &&
      "$@" image save -o "$tar.$$" localhost/busybox:ci >/dev/null &&
      mv "$tar.$$" "$tar"
    rc=$?
    rm -rf "$rootfs" "$dir/rootfs.tar" "$tar.$$"
  else
    "$@" image load -i "$tar" >/dev/null
    rc=$?
  fi
  exec {lock}>&-
  return $rc
}

stop() {
  local dir=${1:?usage: stop DIR}
  [[ -d $dir && $dir == /tmp/sluice-podman.* ]] || die "not a test service directory: $dir"
  if [[ -f $dir/pid ]]; then
    local pid
    pid=$(cat "$dir/pid")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  if [[ -f $dir/podman-cmd ]]; then
    # containers the service left (a crashed test) and their mounts
    export CONTAINERS_CONF=$dir/containers.conf CONTAINERS_STORAGE_CONF=$dir/storage.conf
    $(cat "$dir/podman-cmd") rm -af -t 0 >/dev/null 2>&1 || true
    $(cat "$dir/podman-cmd") network prune -f >/dev/null 2>&1 || true
  fi
  { grep -o "$dir[^ ]*" /proc/mounts 2>/dev/null || true; } | sort -r | while read -r m; do
    umount -l "$m" 2>/dev/null || true
  done
  rm -rf "$dir" 2>/dev/null || { chattr -R -i "$dir" 2>/dev/null; rm -rf "$dir" || true; }
}

case ${1:-} in
start) shift; start "$@" ;;
stop) shift; stop "$@" ;;
*) die "usage: $0 start [--watch PID] | stop DIR" ;;
esac
