#!/usr/bin/env bash
# agent_jobs.sh, agent_failover.sh, agent_restart.sh and server_deploy_agents.sh again with
# the server on PostgreSQL: each against its own throwaway server on a private unix socket
# (scripts/pg-test-server.sh), so claims, leases, retries and the deployment rules through
# agents are proven on both stores. Skipped (77, loudly) when PostgreSQL is not installed or
# cannot start here; under CI=true that fails instead (lib/skip.sh).
set -u
. "$(dirname "$0")/lib/skip.sh"
: "${SLUICE_BIN:?SLUICE_BIN is not set}"
src=${SL_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
pg=$src/scripts/pg-test-server.sh
status=0
for t in agent_jobs agent_failover agent_restart server_deploy_agents; do
  uri=$("$pg" start --watch $$ 2>"${TMPDIR:-/tmp}/agent_pg.$$.err")
  rc=$?
  why=$(cat "${TMPDIR:-/tmp}/agent_pg.$$.err")
  rm -f "${TMPDIR:-/tmp}/agent_pg.$$.err"
  ((rc == 77)) && skip "needs PostgreSQL (Debian's postgresql package), which is not installed"
  ((rc != 0)) && skip "PostgreSQL is installed but cannot start here: $why"
  echo "# $t on $uri"
  SL_SERVER_DB=$uri bash "$src/tests/e2e/$t.sh"
  rc=$?
  "$pg" stop "$uri" >/dev/null
  ((rc == 0)) || { echo "not ok - $t on PostgreSQL"; status=1; }
done
exit $status
