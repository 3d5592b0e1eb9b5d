# lib/agents.sh: what the `sluice agent` end-to-end scripts share. Source it after
# lib/server.sh (it uses bin, tmp, db, url, admin, req, jget, wait_for, ok/bad/expect,
# project_make, pipeline_run, pipeline_wait).
#
#   runner_token NAME [runner create ARGS...]   a runner in the server's store: its glrt- token
#   agent_start NAME TOKEN [agent ARGS...]      a `sluice agent` with its work dir in
#                                               $tmp/agent-NAME and stderr in $tmp/NAME.err;
#                                               its pid in apid[NAME]
#   agent_stop NAME                             SIGTERM, waits, checks exit 0 and no sanitizer report
#   agents_kill                                 kill -9 of every agent still running (cleanup)
#   git_repo FILE                               $tmp/repo as a git repository whose
#                                               .gitlab-ci.yml is FILE's content (a new commit)
declare -A apid=()
# under lib/e2e.sh: agents still running are killed at exit (before the server)
declare -F at_exit >/dev/null && at_exit agents_kill

runner_token() {
  local name=$1
  shift
  "$bin" runner create --name "$name" "$@" --data "$tmp/data" "${db[@]}" | grep -o 'glrt-[A-Za-z0-9_-]*' | head -1
}

agent_start() {
  local name=$1 token=$2
  shift 2
  SLUICE_RUNNER_TOKEN=$token "$bin" agent --url "$url" --name "$name" \
    --work-dir "$tmp/agent-$name" "$@" 2>>"$tmp/$name.err" &
  apid[$name]=$!
}

agent_stop() {
  local name=$1 rc
  [[ -n ${apid[$name]:-} ]] || return 0
  kill -TERM "${apid[$name]}" 2>/dev/null
  wait "${apid[$name]}" 2>/dev/null
  rc=$?
  unset "apid[$name]"
  if grep -q 'Sanitizer' "$tmp/$name.err"; then
    bad "agent $name ran clean under the sanitizers" "$(grep -A30 'Sanitizer' "$tmp/$name.err" | head -40)"
  fi
  expect "agent $name stops on SIGTERM with exit code 0" 0 "$rc" "$(tail -5 "$tmp/$name.err")"
}

agents_kill() {
  local n
  for n in "${!apid[@]}"; do kill -9 "${apid[$n]}" 2>/dev/null; done
}

git_repo() { printf '%s\n' "$1" | repo_ci "$tmp/repo" "pipeline $(date +%s%N)" || exit 1; }

# agents_need NAME: skips the script (77) when this server build lacks what agents need:
# the runner commands and git over HTTP for the job's source (call after project_make).
# Under CI=true that is a failure instead: nothing may skip there.
agents_need() {
  local c
  c=$(curl -s -o /dev/null -w '%{http_code}' "$url/$1.git/info/refs?service=git-upload-pack")
  if ! "$bin" runner --help >/dev/null 2>&1 || [[ $c == 404 || $c == 000 ]]; then
    if [[ ${CI:-} == true ]]; then
      bad "the server serves the runner API and git over HTTP (info/refs: $c)"
      finish
      exit 1
    fi
    echo "SKIPPED: this server has no runner API or git HTTP yet (info/refs answered $c)" >&2
    exit 77
  fi
}
