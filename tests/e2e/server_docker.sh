#!/usr/bin/env bash
# The server's built-in workers on the docker executor, against a real `podman system
# service` on a private socket: with the default --executor auto a job with an image runs in
# its container (with a service reached by alias), a job without one on shell; with
# --executor shell the image is ignored; no container is left. A server killed with -9
# while a docker job runs leaves its containers and network: the server's next start
# removes them, with no new job.
. "$(dirname "$0")/lib/e2e.sh"
needs curl python3 git
bin=$(realpath "$bin")
. "$(dirname "$0")/lib/podman.sh"
podman_start
. "$(dirname "$0")/lib/server.sh"
trap 'server_stop; podman_stop; rm -rf "$tmp"' EXIT

# a service image: busybox's httpd answering on 8080 (exposed)
export CONTAINERS_CONF=$srv/containers.conf CONTAINERS_STORAGE_CONF=$srv/storage.conf
read -r -a P <"$srv/podman-cmd"
"${P[@]}" create -q --name mk localhost/busybox:ci >/dev/null &&
  "${P[@]}" commit -q --change 'EXPOSE 8080' \
    --change 'CMD ["sh","-c","mkdir -p /www && echo hello-from-service > /www/index.html && exec httpd -f -p 8080 -h /www"]' \
    mk localhost/websvc:ci >/dev/null &&
  "${P[@]}" rm mk >/dev/null || skip "cannot build the service image"

repo_ci "$tmp/repo" <<'YML' || exit 1
in-container:
  image: localhost/busybox:ci
  services:
    - name: localhost/websvc:ci
      alias: web
  script:
    - echo "dir=$CI_PROJECT_DIR pwd=$(pwd)"
    - test -f .gitlab-ci.yml && echo workspace-mounted
    - timeout 5 wget -q -O- http://web:8080/ | sed 's/^/svc /'
on-host:
  script:
    - echo "host-pwd=$(pwd)"
YML

run_pipeline() { # run_pipeline -> $pl, waits for the end
  req POST /api/v1/projects/$project/pipelines "$admin" '{}'
  pl=$(jget "['id']")
  finished() { req GET /api/v1/pipelines/$pl "$admin"; [[ $(jget "['status']") =~ ^(success|failed|canceled)$ ]]; }
  wait_for 120 finished
}
job_log() { # job_log NAME -> $body
  req GET /api/v1/pipelines/$pl "$admin"
  local id
  id=$(python3 -c "import json,sys; d=json.load(sys.stdin); print([j['id'] for j in d['jobs'] if j['name']==sys.argv[1]][0])" "$1" <<<"$body")
  req GET /api/v1/jobs/$id/log "$admin"
}

server_start --workers 1 || exit 1
req POST /api/v1/projects "$admin" "{\"name\":\"dk\",\"repo_url\":\"$tmp/repo\"}"
project=$(jget "['id']")
run_pipeline
expect "auto: the pipeline succeeds" success "$(jget "['status']")" "$body"
job_log in-container
expect "auto: the job with an image ran in its container" 1 "$(grep -c '^dir=/builds/.* pwd=/builds/' <<<"$body")" "$body"
expect "auto: the workspace is mounted" 1 "$(grep -cx 'workspace-mounted' <<<"$body")" "$body"
expect "auto: its service answers by alias" 1 "$(grep -cx 'svc hello-from-service' <<<"$body")" "$body"
job_log on-host
expect "auto: the job without an image ran on the host" 1 "$(grep -c "^host-pwd=$tmp/data/" <<<"$body")" "$body"
expect "no container left" 0 "$(ours)"
server_stop

server_start --workers 1 --executor shell || exit 1
run_pipeline
job_log in-container
expect "--executor shell: the image is ignored" 1 "$(grep -c "^dir=$tmp/data/" <<<"$body")" "$body"
"$bin" serve --executor podman --data "$tmp/data2" >/dev/null 2>"$tmp/bad.err"
expect "--executor with an unknown name is a usage error" 2 "$?" "$(cat "$tmp/bad.err")"
server_stop

# kill -9 of the server during a docker job (with a service): the next start sweeps
repo_ci "$tmp/long" <<'YML' || exit 1
long:
  image: localhost/busybox:ci
  services: [localhost/websvc:ci]
  script: [touch started, sleep 300]
YML
server_start --workers 1 || exit 1
req POST /api/v1/projects "$admin" "{\"name\":\"long\",\"repo_url\":\"$tmp/long\"}"
req POST /api/v1/projects/$(jget "['id']")/pipelines "$admin" '{}'
started() { [[ -n $(find "$tmp/data" -name started -print -quit 2>/dev/null) ]]; }
wait_for 120 started
expect "kill -9: the docker job started" 0 "$?" "$(cat "$tmp/err")"
dead=$pid
of_dead() { docker_api "$1" | grep -o "\"sluice.pid\":\"$dead\"" | wc -l; }
kill -9 "$dead"
wait "$dead" 2>/dev/null
pid=
expect "kill -9: the job's and its service's containers are left" 2 "$(of_dead '/containers/json?all=1')" "$(docker_api '/containers/json?all=1')"
expect "kill -9: the service network is left" 1 "$(of_dead /networks)" "$(docker_api /networks)"
server_start --workers 1 || exit 1
swept() { (($(of_dead '/containers/json?all=1') == 0 && $(of_dead /networks) == 0)); }
wait_for 60 swept
expect "kill -9: the next start removes the dead server's containers and network, no job run" 0 "$?" \
  "$(docker_api '/containers/json?all=1') $(docker_api /networks)"
finish
