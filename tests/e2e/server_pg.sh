#!/usr/bin/env bash
# server_api.sh and server_hooks.sh again with the server on PostgreSQL: each against its
# own throwaway server on a private unix socket (scripts/pg-test-server.sh), so the API,
# the auth matrix, webhooks and log streams are proven on both stores.
set -u
: "${SLUICE_BIN:?SLUICE_BIN is not set}"
src=${SL_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
pg=$src/scripts/pg-test-server.sh
status=0
for t in server_api server_hooks; do
  uri=$("$pg" start --watch $$)
  rc=$?
  if ((rc == 77)); then
    echo "SKIPPED: server_pg needs PostgreSQL (Debian's postgresql package), which is not installed" >&2
    exit 77
  fi
  ((rc == 0)) || { echo "not ok - cannot start PostgreSQL for $t" >&2; exit 1; }
  echo "# $t on $uri"
  SL_SERVER_DB=$uri bash "$src/tests/e2e/$t.sh"
  rc=$?
  "$pg" stop "$uri" >/dev/null
  ((rc == 0)) || { echo "not ok - $t on PostgreSQL"; status=1; }
done
exit $status
