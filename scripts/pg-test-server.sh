#!/usr/bin/env bash
# pg-test-server.sh: a throwaway PostgreSQL server on a private unix socket, for tests and
# benchmarks. Nothing listens on TCP; the socket and the data live in one temporary
# directory that `stop` removes.
#
#   scripts/pg-test-server.sh start [--durable] [--watch PID]
#                                                  prints a libpq URI on stdout, e.g.
#                                                  postgresql:///postgres?host=/tmp/sluice-pg.X&user=postgres
#   scripts/pg-test-server.sh stop DIR|URI        stops the server and removes its directory
#
# The binaries come from Debian's postgresql package (/usr/lib/postgresql/<version>/bin, the
# newest version found; PG_BINDIR overrides). PostgreSQL refuses to run as root, so under
# root the server runs as the `postgres` user (or `nobody`). Without --durable, fsync is off:
# fast for tests, not for figures that claim durability. With --watch PID, a background
# watcher stops the server once process PID is gone (a test that crashed cannot stop it).
# Exit status: 0 started/stopped; 1 failure (the reason on stderr); 77 PostgreSQL is not
# installed (so callers can skip).
set -euo pipefail

die() {
  echo "pg-test-server: $*" >&2
  exit 1
}

find_bindir() {
  if [[ -n ${PG_BINDIR:-} ]]; then
    echo "$PG_BINDIR"
    return
  fi
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  if [[ -z $d || ! -x $d/initdb ]]; then
    echo "pg-test-server: PostgreSQL server binaries not found under /usr/lib/postgresql" \
      "(install the postgresql package: scripts/install-deps.sh)" >&2
    exit 77
  fi
  echo "$d"
}

# The user the server runs as, and how to run a command as that user.
run_as_user=
as_user() {
  if [[ -n $run_as_user ]]; then
    runuser -u "$run_as_user" -- "$@"
  else
    "$@"
  fi
}

pick_user() {
  if ((EUID == 0)); then
    if id postgres >/dev/null 2>&1; then
      run_as_user=postgres
    elif id nobody >/dev/null 2>&1; then
      run_as_user=nobody
    else
      die "running as root and neither the postgres nor the nobody user exists"
    fi
    command -v runuser >/dev/null || die "runuser (util-linux) is needed to drop root"
  fi
}

start() {
  local durable=0 watch=
  while (($#)); do
    case $1 in
    --durable) durable=1 ;;
    --watch) watch=${2:?--watch needs a PID}; shift ;;
    *) die "unknown option $1" ;;
    esac
    shift
  done
  local bindir dir
  bindir=$(find_bindir)
  pick_user
  dir=$(mktemp -d /tmp/sluice-pg.XXXXXX)
  [[ -n $run_as_user ]] && chown "$run_as_user" "$dir"
  chmod 0700 "$dir"
  cd "$dir" # the server user must be able to stay in its working directory

  local opts="-c listen_addresses='' -c unix_socket_directories=$dir -c max_connections=100"
  if ((durable == 0)); then
    opts+=" -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
  fi
  if ! as_user "$bindir/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --locale=C \
    --no-sync >"$dir/initdb.log" 2>&1; then
    cat "$dir/initdb.log" >&2
    rm -rf "$dir"
    die "initdb failed"
  fi
  if ! as_user "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 -o "$opts" \
    start >"$dir/pg_ctl.log" 2>&1; then
    cat "$dir/pg_ctl.log" "$dir/server.log" >&2 2>/dev/null || true
    rm -rf "$dir"
    die "pg_ctl start failed"
  fi
  if [[ -n $watch ]]; then
    # detached, with no descriptor of ours open, so the caller's pipe sees EOF
    setsid bash -c 'while kill -0 "$1" 2>/dev/null && [[ -d $2 ]]; do sleep 1; done
                    [[ -d $2 ]] && exec "$0" stop "$2"' "$0" "$watch" "$dir" \
      </dev/null >/dev/null 2>&1 &
  fi
  echo "postgresql:///postgres?host=$dir&user=postgres"
}

stop() {
  local arg=${1:-}
  [[ -n $arg ]] || die "usage: $0 stop DIR|URI"
  local dir=$arg
  if [[ $arg == postgres* ]]; then
    dir=${arg#*host=}
    dir=${dir%%&*}
  fi
  [[ $dir == /tmp/sluice-pg.* && -d $dir ]] || die "not a test server directory: $dir"
  local bindir
  bindir=$(find_bindir)
  pick_user
  cd "$dir"
  as_user "$bindir/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}

case ${1:-} in
start) shift; start "$@" ;;
stop) shift; stop "$@" ;;
*) die "usage: $0 start [--durable] | stop DIR|URI" ;;
esac
