#!/usr/bin/env bash
# `sluice serve` that cannot start: the system's reason for a port that cannot be bound,
# exit 2, and nothing left behind (no data directory, no admin token nobody was shown).
set -u
bin=${SLUICE_BIN:?SLUICE_BIN is not set}
. "$(dirname "$0")/lib/check.sh"
tmp=$(mktemp -d)
holder=
trap '[[ -n $holder ]] && kill "$holder" 2>/dev/null; rm -rf "$tmp"' EXIT
# a port held by another process (python3 keeps it bound and says which)
python3 -c 'import socket,sys,time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen()
print(s.getsockname()[1], flush=True); time.sleep(600)' >"$tmp/port" &
holder=$!
for _ in $(seq 1200); do [[ -s $tmp/port ]] && break; sleep 0.05; done
port=$(cat "$tmp/port")
out=$("$bin" serve --listen "127.0.0.1:$port" --data "$tmp/new/data" 2>&1); rc=$?
[[ $rc == 2 ]] && ok "a port in use exits 2" || bad "a port in use exits 2 (got $rc)" "$out"
has "the system's reason" "cannot listen on 127.0.0.1:$port: Address already in use"
[[ ! -e $tmp/new ]] && ok "no data directory made" || { out=$(find "$tmp/new"); bad "no data directory made" "$out"; }
out=$("$bin" serve --listen "127.0.0.1:http" --data "$tmp/new2" 2>&1); rc=$?
[[ $rc == 2 && ! -e $tmp/new2 ]] && ok "a bad port: exit 2, nothing made" || bad "a bad port: exit 2, nothing made" "$out"
# a store that cannot be opened: the data directory this start made goes again
mkdir "$tmp/keep"
out=$("$bin" serve --listen 127.0.0.1:0 --db "postgres:///none?host=$tmp/nosock" --data "$tmp/keep/d" 2>&1); rc=$?
[[ $rc == 2 ]] && ok "an unreachable store exits 2" || bad "an unreachable store exits 2 (got $rc)" "$out"
[[ -d $tmp/keep && ! -e $tmp/keep/d ]] && ok "the half-made data directory is removed, its parent kept" \
  || { out=$(find "$tmp/keep"); bad "the half-made data directory is removed, its parent kept" "$out"; }
finish
