#!/usr/bin/env bash
# server_api.sh, server_hooks.sh, server_mr.sh, server_poll.sh, server_deploy.sh, server_resource_group.sh, server_env_url.sh, server_deploy_crash.sh, server_secrets.sh, runner_protocol.sh, server_flags.sh, server_parity.sh, server_log_api.sh, server_artifacts_browse.sh, server_secret_scan.sh, server_crash_transitions.sh and server_pipeline_wait.sh again with the server on PostgreSQL:
# each against its own throwaway server on a private unix socket
# (scripts/pg-test-server.sh), so the API, the auth matrix, webhooks, log streams and
# polling are proven on both stores. Skipped (77, loudly) when PostgreSQL is not installed
# or cannot start here.
set -u
. "$(dirname "$0")/lib/skip.sh"
: "${SLUICE_BIN:?SLUICE_BIN is not set}"
src=${SL_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
pg=$src/scripts/pg-test-server.sh
status=0
for t in server_api server_hooks server_mr server_poll server_deploy server_secrets server_auto_cancel \
  server_notify server_notify_refs server_resource_group server_env_url server_deploy_crash runner_protocol server_flags server_parity \
  server_log_api server_artifacts_browse server_secret_scan server_crash_transitions server_pipeline_wait; do
  uri=$("$pg" start --watch $$ 2>"${TMPDIR:-/tmp}/server_pg.$$.err")
  rc=$?
  why=$(cat "${TMPDIR:-/tmp}/server_pg.$$.err")
  rm -f "${TMPDIR:-/tmp}/server_pg.$$.err"
  if ((rc == 77)); then
    skip "needs PostgreSQL (Debian's postgresql package), which is not installed"
  fi
  if ((rc != 0)); then
    skip "PostgreSQL is installed but cannot start here: $why"
  fi
  echo "# $t on $uri"
  SL_SERVER_DB=$uri bash "$src/tests/e2e/$t.sh"
  rc=$?
  "$pg" stop "$uri" >/dev/null
  # 77: a part skipped for want of a tool (the script said so; under CI=true it fails)
  ((rc == 0 || rc == 77)) || { echo "not ok - $t on PostgreSQL"; status=1; }
done
exit $status
