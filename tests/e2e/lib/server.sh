# lib/server.sh: what the server's end-to-end scripts share. Source it after setting
# `bin` (the sluice binary) and `tmp` (a temporary directory the script removes).
#
#   server_stop              SIGTERM, then checks exit code 0 and no sanitizer report
#   server_start [ARGS...]   starts `sluice serve` on a free loopback port with its data in
#                            $tmp/data (and SL_SERVER_DB's store when set); sets pid, url,
#                            admin; returns 1 with the server's stderr when it does not start
#                            (at once when it exits, as a refused start does: pid is then
#                            empty); its stdout is in $tmp/out, its stderr added to $tmp/err
#   req METHOD PATH TOKEN [BODY]   one API call: sets code and body
#   api METHOD PATH [BODY]   the same as the admin
#   jget EXPR                Python expression on the last body: jget "['id']"
#   project_make NAME        a project of $tmp/repo (default branch main): sets project
#   pipeline_run [BODY]      a pipeline of $project on main (or BODY's): sets pl
#   pipeline_wait SECONDS    until $pl ends (held GETs, ?wait=): sets pstatus (and body);
#                            pipeline_done polls once
#   wait_for SECONDS CMD...  runs CMD every 0.1 s until it succeeds or SECONDS pass
#   ok / bad / expect / has / lacks / finish   the checks of lib/check.sh
#   repo_init / repo_commit / repo_ci          the git repositories of lib/repo.sh
#   shared_dir               makes $tmp/shared, where jobs may read and write: a server
#                            started as root runs jobs as nobody, who cannot enter $tmp
. "$(dirname "${BASH_SOURCE[0]}")/check.sh"
. "$(dirname "${BASH_SOURCE[0]}")/repo.sh"
pid=
db=()
# under lib/e2e.sh: a server the script has not stopped is killed at exit
declare -F at_exit >/dev/null && at_exit '[[ -n $pid ]] && kill -9 "$pid" 2>/dev/null'
[[ -n ${SL_SERVER_DB:-} ]] && db=(--db "$SL_SERVER_DB")

shared_dir() {
  chmod 711 "$tmp"
  mkdir -p "$tmp/shared"
  chmod 1777 "$tmp/shared"
}

server_start() {
  # the redirection below truncates out in the child, maybe after our first grep: remove the
  # previous server's out first, or its "listening on" line would be read as the new one's
  rm -f "$tmp/out"
  "$bin" serve --listen 127.0.0.1:0 --data "$tmp/data" "${db[@]}" "$@" >"$tmp/out" 2>>"$tmp/err" &
  pid=$!
  wait_for 30 server_up
  local addr
  addr=$(sed -n 's/.*listening on http:\/\///p' "$tmp/out")
  if [[ -z $addr ]]; then
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; pid=; }
    cat "$tmp/err" >&2
    return 1
  fi
  url=http://$addr
  admin=$(cat "$tmp/data/admin.token")
}

server_up() { grep -qs 'listening on' "$tmp/out" || ! kill -0 "$pid" 2>/dev/null; }

server_stop() { # stops the server with SIGTERM: it must exit 0 with no sanitizer report
  [[ -n $pid ]] || return 0
  kill -TERM "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  local rc=$?
  pid=
  if grep -q 'Sanitizer' "$tmp/err"; then
    bad "the server ran clean under the sanitizers" "$(grep -A30 'Sanitizer' "$tmp/err" | head -40)"
  fi
  expect "the server stops on SIGTERM with exit code 0" 0 "$rc"
}

wait_for() { # wait_for SECONDS CMD...
  local deadline=$((SECONDS + $1))
  shift
  until "$@"; do
    ((SECONDS >= deadline)) && return 1
    sleep 0.1
  done
}

req() { # req METHOD PATH TOKEN [BODY] -> $code, $body
  local args=(-s -o "$tmp/body" -w '%{http_code}' -X "$1" "$url$2")
  [[ -n $3 ]] && args+=(-H "Authorization: Bearer $3")
  [[ $# -ge 4 ]] && args+=(--data-binary "$4" -H 'Content-Type: application/json')
  code=$(curl "${args[@]}")
  body=$(cat "$tmp/body")
}

api() { req "$1" "$2" "$admin" "${@:3}"; }
jget() { python3 -c "import json,sys; d=json.load(sys.stdin); print(eval('d'+sys.argv[1]))" "$1" <<<"$body"; }

project_make() {
  req POST /api/v1/projects "$admin" "{\"name\":\"$1\",\"repo_url\":\"$tmp/repo\",\"default_branch\":\"main\"}"
  [[ $code == 201 ]] || { bad "project $1 created" "$body"; finish; exit 1; }
  project=$(jget "['id']")
}

pipeline_run() {
  local b=${1:-}
  [[ -n $b ]] || b='{"ref":"main"}'
  req POST /api/v1/projects/$project/pipelines "$admin" "$b"
  [[ $code == 201 ]] || { bad "pipeline created" "$body"; finish; exit 1; }
  pl=$(jget "['id']")
}

pipeline_done() {
  req GET /api/v1/pipelines/$pl "$admin"
  pstatus=$(jget "['status']" 2>/dev/null)
  [[ $pstatus == success || $pstatus == failed || $pstatus == canceled ]]
}

pipeline_wait() { # held waits (?wait=N, answered when the status changes), not polls
  pstatus=
  local deadline=$((SECONDS + $1)) w
  while :; do
    w=$((deadline - SECONDS))
    ((w > 60)) && w=60
    ((w < 1)) && w=1
    req GET "/api/v1/pipelines/$pl?wait=$w" "$admin"
    pstatus=$(jget "['status']" 2>/dev/null)
    [[ $pstatus == success || $pstatus == failed || $pstatus == canceled ]] && return 0
    ((SECONDS >= deadline)) && return 1
    # an answer that does not hold (an error, no server, a skipped pipeline): not a spin
    [[ $code == 200 && $pstatus != skipped ]] || sleep 0.1
  done
}

# project_files ID PL: which of project ID's directories (and pipeline PL's) are in the
# server's data directory, as a line
project_files() {
  local f have=
  for f in "repos/$1" "cache/$1" "builds/$1" "pipelines/$2"; do
    [[ -e $tmp/data/$f ]] && have+="$f "
  done
  echo "${have% }"
}
