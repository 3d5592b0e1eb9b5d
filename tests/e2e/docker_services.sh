#!/usr/bin/env bash
# services: of the docker executor against a real `podman system service` on a private
# socket (scripts/podman-test-server.sh; test images built offline from busybox-static): a
# service reached by its aliases (derived and given, several in one alias:) and on
# localhost, two services with their own variables, two services on one port (each by its
# alias, the first on localhost too), the wait for an exposed port that
# never opens (a warning with the service's log, not a failure), CI_DEBUG_SERVICES, and
# cleanup: no container or network left after a job, nor after sluice is killed with -9
# (the next run removes them).
set -u
bin=${SLUICE_BIN:?SLUICE_BIN is not set}
src=${SL_SOURCE_DIR:?SL_SOURCE_DIR is not set}
. "$(dirname "$0")/lib/skip.sh"
. "$(dirname "$0")/lib/repo.sh"
command -v git >/dev/null || skip "needs git"
. "$(dirname "$0")/lib/check.sh"

. "$(dirname "$0")/lib/podman.sh"
podman_start
tmp=$(mktemp -d)
trap 'podman_stop; rm -rf "$tmp"' EXIT

# the service images: busybox's httpd serving "hello-from-$SVC_NAME" on $PORT (8080 by
# default, exposed), and one that exposes a port nobody listens on
export CONTAINERS_CONF=$srv/containers.conf CONTAINERS_STORAGE_CONF=$srv/storage.conf
read -r -a P <"$srv/podman-cmd"
"${P[@]}" create -q --name mk localhost/busybox:ci >/dev/null &&
  "${P[@]}" commit -q --change 'EXPOSE 8080' --change 'EXPOSE 9090' \
    --change 'CMD ["sh","-c","mkdir -p /www && echo hello-from-$SVC_NAME > /www/index.html && exec httpd -f -p ${PORT:-8080} -h /www"]' \
    mk localhost/websvc:ci >/dev/null &&
  "${P[@]}" commit -q --change 'EXPOSE 7070' --change 'CMD ["sh","-c","echo deaf service up; exec sleep 600"]' \
    mk registry.example.com/tools/deaf:1 >/dev/null &&
  "${P[@]}" rm mk >/dev/null || skip "cannot build the service images"

proj=$tmp/project
mkdir -p "$proj" && cd "$proj" || exit 1
repo_ci . <<'YML' || exit 1
one:
  image: localhost/busybox:ci
  services:
    - name: localhost/websvc:ci
      alias: "web, www"
      variables:
        SVC_NAME: one
        PORT: "9090"
  script:
    - echo "probe=${SL_HOST_PROBE:-unset}"
    - timeout 5 wget -q -O- http://web:9090/ | sed 's/^/alias1 /'
    - timeout 5 wget -q -O- http://www:9090/ | sed 's/^/alias2 /'
    - timeout 5 wget -q -O- http://localhost__websvc:9090/ | sed 's/^/derived1 /'
    - timeout 5 wget -q -O- http://localhost-websvc:9090/ | sed 's/^/derived2 /'
    - timeout 5 wget -q -O- http://localhost:9090/ | sed 's/^/local /'
two:
  image: localhost/busybox:ci
  variables:
    SVC_NAME: from-job
  services:
    - localhost/websvc:ci
    - name: localhost/websvc:ci
      alias: second
      variables: {SVC_NAME: second, PORT: "8081", HEALTHCHECK_TCP_PORT: "8081"}
  script:
    - timeout 5 wget -q -O- http://localhost__websvc:8080/ | sed 's/^/first /'
    - timeout 5 wget -q -O- http://second:8081/ | sed 's/^/other /'
same-port:
  image: localhost/busybox:ci
  services:
    - name: localhost/websvc:ci
      alias: db1
      variables: {SVC_NAME: db-one}
    - name: localhost/websvc:ci
      alias: db2
      variables: {SVC_NAME: db-two}
  script:
    - timeout 5 wget -q -O- http://db1:8080/ | sed 's/^/same1 /'
    - timeout 5 wget -q -O- http://db2:8080/ | sed 's/^/same2 /'
    - timeout 5 wget -q -O- http://localhost:8080/ | sed 's/^/samelocal /'
deaf:
  image: localhost/busybox:ci
  variables:
    SLUICE_SERVICES_WAIT_TIMEOUT: "1"
    CI_DEBUG_SERVICES: "true"
  services: [registry.example.com/tools/deaf:1]
  script:
    - getent hosts registry.example.com__tools__db >/dev/null || true
    - nslookup registry.example.com-tools-deaf >/dev/null 2>&1 && echo dash-alias-resolves
    - echo deaf-job-ran
YML
out=$(SL_HOST_PROBE=leaked "$bin" run --no-color 2>&1)
has "the host's environment does not reach the container" "probe=unset"
has "alias: first of a comma-separated alias" "alias1 hello-from-one"
has "alias: second of a comma-separated alias" "alias2 hello-from-one"
has "alias derived with __" "derived1 hello-from-one"
has "alias derived with -" "derived2 hello-from-one"
has "service on localhost" "local hello-from-one"
has "service variables override the job's" "first hello-from-from-job"
has "two services side by side" "other hello-from-second"
has "two services on one port: the first by its alias" "same1 hello-from-db-one"
has "two services on one port: the second by its alias" "same2 hello-from-db-two"
has "two services on one port: the first on localhost" "samelocal hello-from-db-one"
has "the wait names the timeout" "Waiting for services to be up and running (timeout 1 seconds)"
has "a port that never opens is a warning" "*** WARNING: Service registry.example.com/tools/deaf:1 probably didn't start properly: port 7070/tcp"
has "the warning shows the service's log" "[service:registry.example.com/tools/deaf:1] deaf service up"
has "the job runs anyway" "deaf-job-ran"
has "derived alias with - resolves" "dash-alias-resolves"
has "pipeline passed" "pipeline passed"
if (($(ours) == 0)); then ok "no container left"; else bad "containers left" "$(docker_api '/containers/json?all=1')"; fi
if (($(nets) == 0)); then ok "no network left"; else bad "networks left" "$(docker_api '/networks')"; fi

# kill -9 of sluice leaves the job's containers and network; the next run removes them
cat >.gitlab-ci.yml <<'YML'
long:
  image: localhost/busybox:ci
  services: [localhost/websvc:ci]
  script: [touch started, sleep 300]
YML
git commit -qam long
"$bin" run --no-color >/dev/null 2>&1 &
pid=$!
for _ in $(seq 1 600); do [[ -f .sluice/builds/long/started ]] && break; sleep 0.1; done
kill -9 $pid
wait $pid 2>/dev/null
if (($(ours) == 2 && $(nets) == 1)); then ok "kill -9: job and service containers and the network are left"; else bad "kill -9: expected 2 containers and 1 network" "$(docker_api '/containers/json?all=1') $(docker_api '/networks')"; fi
cat >.gitlab-ci.yml <<'YML'
quick:
  image: localhost/busybox:ci
  script: [echo quick]
YML
git commit -qam quick
out=$("$bin" run --no-color 2>&1)
has "next run works" "quick"
if (($(ours) == 0)); then ok "kill -9: leftover containers removed by the next run"; else bad "kill -9: containers still there" "$(docker_api '/containers/json?all=1')"; fi
if (($(nets) == 0)); then ok "kill -9: leftover network removed by the next run"; else bad "kill -9: network still there" "$(docker_api '/networks')"; fi

echo "$pass passed, $fail failed"
((fail == 0))
