# lib/http_dir.sh: a loopback HTTP server of a directory (lib/http_dir.py) for include tests.
#
#   http_dir_start DIR   serves DIR on 127.0.0.1; sets http_pid and http_port, or returns 1
#   http_dir_stop        stops it (the script's EXIT trap should call it)
http_pid=
http_port=

http_dir_start() {
  local portfile
  portfile=$(mktemp -u "${TMPDIR:-/tmp}/http_dir.XXXXXX")
  python3 "$(dirname "${BASH_SOURCE[0]}")/http_dir.py" "$1" "$portfile" &
  http_pid=$!
  for _ in $(seq 600); do [[ -s $portfile ]] && break; sleep 0.1; done
  [[ -s $portfile ]] || return 1
  http_port=$(cat "$portfile")
  rm -f "$portfile"
}

http_dir_stop() {
  [[ -n $http_pid ]] || return 0
  kill "$http_pid" 2>/dev/null
  wait "$http_pid" 2>/dev/null
  http_pid=
}
