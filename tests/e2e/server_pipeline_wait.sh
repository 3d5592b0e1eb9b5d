#!/usr/bin/env bash
# GET /api/v1/pipelines/{id}?wait=N[&status=S] (api.c h_pipeline_get, runner_hold.c): held,
# without a thread, while the pipeline's status is S (or the status it had, when that was not
# an end), answered with the pipeline when its status changes, when N seconds pass or when the
# server stops; at once for an ended pipeline; 400 for a bad N or S. Many waits held at once,
# and a client that goes away while held, leave the server serving.
. "$(dirname "$0")/lib/e2e.sh"
needs curl python3 git
. "$(dirname "$0")/lib/server.sh"
shared_dir
go=$tmp/shared/go

repo_ci "$tmp/repo" <<YML || exit 1
blocked:
  script:
    - while [ ! -e $go ]; do sleep 0.1; done
YML

server_start --workers 1 || { bad "the server starts"; exit 1; }
project_make waits

# held N: the pipeline waits held now are N (the gauge of /metrics)
held() {
  [[ $(curl -s -H "Authorization: Bearer $admin" "$url/metrics" |
    sed -n 's/^sluice_pipeline_waits_held //p') == "$1" ]]
}
# wait_bg NAME QUERY: a held GET of $pl in the background, its code in $tmp/NAME.code and its
# body in $tmp/NAME.body; its pid in $bgpid. A bound: it must answer within 50 s (N <= 60)
wait_bg() {
  curl -s --max-time 50 -o "$tmp/$1.body" -w '%{http_code}' -H "Authorization: Bearer $admin" \
    "$url/api/v1/pipelines/$pl?$2" >"$tmp/$1.code" &
  bgpid=$!
}
# status_of NAME: the status of the answer NAME
status_of() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['status'])" "$tmp/$1.body" 2>/dev/null; }

for q in wait=0 wait=61 wait=abc wait= 'wait=5x' 'wait=5&status=runing'; do
  api GET "/api/v1/pipelines/1?$q"
  expect "?$q is refused" 400 "$code" "$body"
done

pipeline_run
wait_for 60 eval 'api GET /api/v1/pipelines/$pl; [[ $(jget "[\"status\"]") == running ]]' ||
  bad "the pipeline runs" "$body"

# a wait that times out answers the pipeline as it is
api GET "/api/v1/pipelines/$pl?wait=1"
expect "a wait of 1 s on a running pipeline answers 200" 200 "$code" "$body"
expect "... with the pipeline still running" running "$(jget "['status']")"
expect "... with its jobs" blocked "$(jget "['jobs'][0]['name']")"
api GET "/api/v1/pipelines/$pl?wait=1&status=running"
expect "a wait of 1 s while running answers the running pipeline" running "$(jget "['status']")"

# held until the job ends, not before: one wait without status, one with, twenty more at once
wait_bg first "wait=60"
first=$bgpid
wait_bg named "wait=60&status=running"
named=$bgpid
many=()
for i in $(seq 1 20); do
  wait_bg "m$i" "wait=60&include_retried=true"
  many+=("$bgpid")
done
if wait_for 30 held 22; then ok "22 waits are held at once"; else
  bad "22 waits are held at once" "$(curl -s -H "Authorization: Bearer $admin" "$url/metrics" | grep held)"
fi
if kill -0 "$first" 2>/dev/null && kill -0 "$named" 2>/dev/null; then
  ok "a held wait has not answered while the job runs"
else
  bad "a held wait has not answered while the job runs" "$(cat "$tmp/first.code" "$tmp/named.code")"
fi
api GET "/api/v1/pipelines/$pl"
expect "a GET without wait answers at once meanwhile" running "$(jget "['status']")"
touch "$go"
wait "$first" "$named" "${many[@]}"
expect "the wait answers 200 when the job ends" 200 "$(cat "$tmp/first.code")"
expect "... with the pipeline's end" success "$(status_of first)" "$(cat "$tmp/first.body")"
expect "the wait on status=running answers 200" 200 "$(cat "$tmp/named.code")"
expect "... with the pipeline's end" success "$(status_of named)"
n=0
for i in $(seq 1 20); do
  [[ $(cat "$tmp/m$i.code") == 200 && $(status_of "m$i") == success ]] && n=$((n + 1))
done
expect "the 20 other waits answer the pipeline's end" 20 "$n"
wait_for 10 held 0 || bad "no wait is held after they answered"

# an ended pipeline answers at once; with status= its own status, it is held (until a retry)
wait_bg ended "wait=60"
wait "$bgpid"
expect "a wait on an ended pipeline answers 200" 200 "$(cat "$tmp/ended.code")"
expect "... with its end" success "$(status_of ended)"
api GET "/api/v1/pipelines/$pl?wait=1&status=success"
expect "status=success on a succeeded pipeline is held for its second" success "$(jget "['status']")"

# a pipeline blocked on a manual job has not ended: a wait on it is held
repo_ci "$tmp/repo" manual <<'YML' || exit 1
gate:
  when: manual
  allow_failure: false
  script: [echo gate]
YML
pipeline_run
wait_for 30 eval 'api GET /api/v1/pipelines/$pl; [[ $(jget "[\"status\"]") == manual ]]' ||
  bad "the pipeline is manual" "$body"
wait_bg gone "wait=60"
gone=$bgpid
wait_for 30 held 1 || bad "the wait on a manual pipeline is held"
# its client goes away while it is held: the server lets it go and serves on
kill "$gone"
wait "$gone" 2>/dev/null
if wait_for 30 held 0; then ok "a wait whose client went away is let go"; else
  bad "a wait whose client went away is let go"
fi
api GET "/api/v1/pipelines/$pl"
expect "the server serves after it" manual "$(jget "['status']")"

# playing the job wakes the wait on manual
wait_bg played "wait=60&status=manual"
played=$bgpid
wait_for 30 held 1 || bad "the wait on status=manual is held"
job=$(jget "['jobs'][0]['id']")
api POST "/api/v1/jobs/$job/play"
expect "the manual job is played" 200 "$code" "$body"
wait "$played"
expect "the wait on manual answers 200 once the job is played" 200 "$(cat "$tmp/played.code")"
st=$(status_of played)
[[ $st != manual ]] && ok "... with a status after manual ($st)" || bad "... with a status after manual" "$st"

# the server stops with waits held: each is answered, and the server exits 0
repo_ci "$tmp/repo" manual2 <<'YML' || exit 1
gate:
  when: manual
  allow_failure: false
  script: [echo gate again]
YML
pipeline_run
wait_for 30 eval 'api GET /api/v1/pipelines/$pl; [[ $(jget "[\"status\"]") == manual ]]' ||
  bad "the pipeline is manual" "$body"
stops=()
for i in 1 2 3; do
  wait_bg "s$i" "wait=60"
  stops+=("$bgpid")
done
wait_for 30 held 3 || bad "three waits are held before the stop"
server_stop
wait "${stops[@]}"
n=0
for i in 1 2 3; do
  [[ $(cat "$tmp/s$i.code") == 200 && $(status_of "s$i") == manual ]] && n=$((n + 1))
done
expect "the three held waits are answered the pipeline as it is when the server stops" 3 "$n"
finish
