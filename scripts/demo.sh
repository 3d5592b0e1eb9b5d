#!/usr/bin/env bash
# `make demo`: sluice's main job on the example project in examples/demo: check the
# pipeline, show its plan, then run it here (stages, a needs DAG, artifacts, a cache, a
# matrix and a manual job, which the demo plays). Then the server: `sluice serve` on SQLite
# with its data in examples/demo/.sluice/server, the demo project registered (a git copy
# of examples/demo, since the server builds commits of a repository), one pipeline run
# through the API, its jobs' statuses, the URL and where the admin token is. The server
# keeps running when stdin is a terminal; otherwise (tests, scripts) it is stopped.
# Usage: scripts/demo.sh PATH_TO_SLUICE
set -euo pipefail
sluice=$(realpath "${1:-build/release/sluice}")
cd "$(dirname "$0")/../examples/demo"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "sluice lint: validate examples/demo/.gitlab-ci.yml (includes, extends, anchors, !reference)"
"$sluice" lint -f .gitlab-ci.yml

step "sluice plan: the pipeline a push to this branch creates"
"$sluice" plan -f .gitlab-ci.yml

step "sluice run --manual deploy: run it here, playing the manual deploy job"
# the demo runs on this machine (the server too): its gcc image is ignored (one warning)
"$sluice" run -f .gitlab-ci.yml --manual deploy --executor shell

echo
echo "Logs, artifacts and caches are in examples/demo/.sluice/; run 'sluice run --help' for more."

step "sluice serve: the CI server on SQLite, the demo project registered, one pipeline through the API"
for tool in curl python3 git; do
  command -v $tool >/dev/null || { echo "the server demo needs $tool (scripts/install-deps.sh installs it)" >&2; exit 1; }
done
demo=$PWD
data=$demo/.sluice/server
repo=$demo/.sluice/demo-repo
mkdir -p "$data"
# The demo lives in a folder of sluice's own repository; the server builds commits of a
# repository whose root holds .gitlab-ci.yml, so it gets a git copy of the folder.
rm -rf "$repo"
mkdir -p "$repo"
tar -C "$demo" --exclude=./.sluice -cf - . | tar -C "$repo" -xf -
git -C "$repo" init -q -b main
git -C "$repo" add -A
git -C "$repo" -c user.name="sluice demo" -c user.email=demo@sluice.invalid commit -qm "the sluice demo project"

"$sluice" serve --listen 127.0.0.1:0 --data "$data" --executor shell >"$data/serve.out" 2>"$data/serve.log" &
server=$!
stop_server() {
  kill -TERM "$server" 2>/dev/null && wait "$server" 2>/dev/null
  server=
}
trap '[[ -n ${server:-} ]] && stop_server' EXIT
for _ in $(seq 200); do
  grep -q 'listening on' "$data/serve.out" && break
  kill -0 "$server" 2>/dev/null || break
  sleep 0.05
done
url=$(sed -n 's/.*listening on \(http:[^ ]*\).*/\1/p' "$data/serve.out")
[[ -n $url ]] || { echo "sluice serve did not start:" >&2; cat "$data/serve.log" >&2; exit 1; }
token_file=$data/admin.token
token=$(cat "$token_file")
api() { # api METHOD PATH [BODY]: prints the body; fails on an HTTP error
  curl -sS --fail-with-body -X "$1" -H "Authorization: Bearer $token" ${3:+--data-binary "$3"} "$url$2"
}
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))" "$1"; }
echo "server: $url (data in examples/demo/.sluice/server, log in serve.log)"

project=$(api GET /api/v1/projects | json "next((p['id'] for p in d if p['name'] == 'demo'), '')")
if [[ -z $project ]]; then
  project=$(api POST /api/v1/projects "{\"name\":\"demo\",\"repo_url\":\"$repo\",\"default_branch\":\"main\"}" | json "d['id']")
  echo "registered the project 'demo' (id $project, repository $repo)"
else
  echo "the project 'demo' is registered (id $project)"
fi
pipeline=$(api POST "/api/v1/projects/$project/pipelines" '{"ref":"main"}' | json "d['id']")
wait_pipeline() {
  for _ in $(seq 600); do
    status=$(api GET "/api/v1/pipelines/$pipeline" | json "d['status']")
    manual=$(api GET "/api/v1/pipelines/$pipeline" | json "next((j['id'] for j in d['jobs'] if j['status'] == 'manual'), '')")
    case $status in success | failed | canceled | skipped | manual) return ;; esac
    sleep 0.2
  done
}
echo "pipeline $pipeline created; waiting for it"
status= manual=
wait_pipeline
if [[ -n $manual && $status == success ]]; then
  echo "playing the manual job $manual (deploy), as the local run did"
  api POST "/api/v1/jobs/$manual/play" >/dev/null
  sleep 0.2
  wait_pipeline
fi
api GET "/api/v1/pipelines/$pipeline" | json "'\n'.join('  %-32s %-7s %-8s %s' % (j['name'], j['stage'], j['status'], '' if j['duration_s'] is None else '%.1fs' % j['duration_s']) for j in d['jobs'])"
echo "pipeline $pipeline: $status"

echo
echo "The server: $url  (API under /api/v1, docs/api.md; /metrics, /healthz)"
echo "Admin token: $token_file  (e.g. curl -H \"Authorization: Bearer \$(cat $token_file)\" $url/api/v1/pipelines/$pipeline)"
echo
echo "The demo ran: sluice lint, sluice plan, sluice run (pipeline in examples/demo/.sluice/),"
echo "sluice serve with one pipeline through its API."
if [[ -t 0 ]]; then
  trap - EXIT
  echo "Still running: sluice serve (pid $server); stop it with: kill $server"
else
  stop_server
  echo "Still running: nothing (sluice serve stopped: stdin is not a terminal; run the demo"
  echo "from a terminal to keep it running)."
fi
case $status in success | manual) ;; *) exit 1 ;; esac
