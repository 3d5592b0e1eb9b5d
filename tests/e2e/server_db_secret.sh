#!/usr/bin/env bash
# The database password stays out of the process list: a command line is readable by every
# user (ps, /proc/PID/cmdline). Against a real PostgreSQL (scripts/pg-test-server.sh, trust
# authentication on a private socket, so any password is accepted and the URL still works):
#   - `serve --db URL` with a password in the userinfo or a password= parameter: the server
#     starts, /proc/PID/cmdline and ps no longer show the password, stderr warns once;
#   - SLUICE_DB and --db-file FILE give the URL without a warning, and the server uses that
#     store (a token made through it is accepted);
#   - --db with --db-file, an unreadable or empty --db-file: usage errors (exit 2).
set -u
. "$(dirname "$0")/lib/skip.sh"
bin=${SLUICE_BIN:?SLUICE_BIN is not set}
src=${SL_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
pg=$src/scripts/pg-test-server.sh
tmp=$(mktemp -d)
uri=
trap '[[ -n $pid ]] && kill "$pid" 2>/dev/null; [[ -n $uri ]] && "$pg" stop "$uri" >/dev/null; rm -rf "$tmp"' EXIT
# shellcheck source=lib/server.sh
. "$(dirname "$0")/lib/server.sh"
db=()
uri=$("$pg" start --watch $$ 2>"$tmp/pg.err")
rc=$?
((rc == 77)) && { uri=; skip "needs PostgreSQL (Debian's postgresql package), which is not installed"; }
((rc != 0)) && { uri=; skip "PostgreSQL is installed but cannot start here: $(cat "$tmp/pg.err")"; }
# postgresql:///DB?host=SOCKET&user=U -> the same with a password, both ways
with_userinfo=$(sed 's|^postgresql:///|postgresql://postgres:Hunter2-userinfo@/|' <<<"$uri")
with_param="$uri&password=Hunter2-param"

cmdline() { tr '\0' ' ' <"/proc/$pid/cmdline"; }

for form in "$with_userinfo" "$with_param"; do
  what=userinfo
  [[ $form == "$with_param" ]] && what="password= parameter"
  rm -f "$tmp/err"
  if server_start --workers 0 --db "$form"; then
    line=$(cmdline)
    ps_line=$(ps -o args= -p "$pid")
    if grep -q Hunter2 <<<"$line$ps_line"; then
      bad "$what: /proc/PID/cmdline and ps do not show the password" "$line"
    else
      ok "$what: /proc/PID/cmdline and ps do not show the password"
    fi
    expect "$what: the rest of the URL is still there" 1 "$(grep -c 'host=/' <<<"$line")"
    expect "$what: one warning on stderr" 1 "$(grep -c 'password in --db was visible' "$tmp/err")"
    req GET /api/v1/projects "$admin"
    expect "$what: the server works on that store" 200 "$code"
    server_stop
  else
    bad "$what: the server starts with a password in --db" "$(cat "$tmp/err")"
  fi
done

# SLUICE_DB: no password on the command line at all, no warning
rm -f "$tmp/err" # the same data directory (its secrets key) and store: the admin token stays
if SLUICE_DB=$with_userinfo server_start --workers 0; then
  expect "SLUICE_DB: no warning" 0 "$(grep -c 'password in --db' "$tmp/err")"
  expect "SLUICE_DB: no URL on the command line" 0 "$(cmdline | grep -c postgresql)"
  # the server's store is the database's: a token made there through --db-file works
  printf '%s\n' "$with_userinfo" >"$tmp/dburl"
  chmod 600 "$tmp/dburl"
  tok=$("$bin" token create --role viewer --db-file "$tmp/dburl" 2>"$tmp/tok.err" | tail -1)
  expect "token create --db-file: no warning" 0 "$(grep -c 'password' "$tmp/tok.err")"
  req GET /api/v1/projects "$tok"
  expect "a token made through --db-file is the server's" 200 "$code"
  server_stop
else
  bad "the server starts with SLUICE_DB" "$(cat "$tmp/err")"
fi

# --db-file for the server itself
rm -f "$tmp/err" # the same data directory (its secrets key) and store: the admin token stays
if server_start --workers 0 --db-file "$tmp/dburl"; then
  expect "--db-file: no warning" 0 "$(grep -c 'password in --db' "$tmp/err")"
  req GET /api/v1/projects "$admin"
  expect "--db-file: the server works on that store" 200 "$code"
  server_stop
else
  bad "the server starts with --db-file" "$(cat "$tmp/err")"
fi

# usage errors: exit 2, a message, nothing started
: >"$tmp/empty"
for args in "--db-file $tmp/dburl --db $uri" "--db-file $tmp/nonexistent" "--db-file $tmp/empty"; do
  # shellcheck disable=SC2086 # the options, several words
  out=$("$bin" serve --listen 127.0.0.1:0 --data "$tmp/data2" $args 2>&1 </dev/null)
  expect "serve $args: usage error" 2 "$?" "$out"
done
# shellcheck disable=SC2086
out=$("$bin" token create --role viewer --db "$uri" --db-file "$tmp/dburl" 2>&1)
expect "token create with --db and --db-file: usage error" 2 "$?" "$out"
finish
