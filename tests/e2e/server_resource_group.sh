#!/usr/bin/env bash
# resource_group on a real `sluice serve`, GitLab's process modes with concurrent pipelines:
# a pipeline's job holds its group; the same job of three newer pipelines waits as
# waiting_for_resource and says which job holds the group; then the group's jobs run one at
# a time, in the order of the group's mode (each job logs its start and end in the group's
# file: no two overlap). One of the three is "late": its group job waits behind a job of an
# earlier stage, so it is an upcoming job, not a ready one, when the holder ends:
#   unordered            (late: 1st)  ready ones by id, the late one when ready   2 3 1
#   oldest_first         (late: 1st)  the oldest pipeline's turn waits for it      1 2 3
#   newest_first         (late: 3rd)  the newest pipeline's turn waits for it      3 2 1
#   newest_ready_first   (late: 3rd)  the newest ready one                         2 1 3
# The API shows the groups as GitLab does. On SQLite here, on PostgreSQL via server_pg.sh.
. "$(dirname "$0")/lib/e2e.sh"
needs curl
chmod 0711 "$tmp"
# shellcheck source=lib/server.sh
. "$src/tests/e2e/lib/server.sh"
shared_dir
sh=$tmp/shared

repo_ci "$tmp/repo" one <<'YML' || exit 1
stages: [pre, deploy]
pre:
  stage: pre
  rules:
    - if: $LATE
  script:
    - while [ -d "$SHARED" ] && [ ! -f "$SHARED/late-$GROUP" ]; do sleep 0.1; done
deploy:
  stage: deploy
  resource_group: $GROUP
  script:
    - echo "start $TAG" >> "$SHARED/log-$GROUP"
    - if [ -n "$HOLD" ]; then while [ -d "$SHARED" ] && [ ! -f "$SHARED/hold-$GROUP" ]; do sleep 0.1; done; fi
    - sleep 0.3
    - echo "end $TAG" >> "$SHARED/log-$GROUP"
YML

server_start --workers 6 || { bad "server starts"; finish; exit 1; }
ok "server starts ($url)"
maint=$("$bin" token create --role maintainer --data "$tmp/data" "${db[@]}" 2>/dev/null)
req POST /api/v1/projects "$maint" "{\"name\":\"app\",\"repo_url\":\"file://$tmp/repo\"}"
proj=$(jget "['id']")

pipeline() { # pipeline GROUP TAG EXTRA-JSON -> $pl
  req POST "/api/v1/projects/$proj/pipelines" "$maint" \
    "{\"ref\":\"main\",\"variables\":{\"GROUP\":\"$1\",\"TAG\":\"$2\",\"SHARED\":\"$sh\"$3}}"
  pl=$(jget "['id']")
}
job_of() { # job_of PIPELINE NAME -> $job (id) and $st (status)
  req GET "/api/v1/pipelines/$1" "$maint"
  read -r job st < <(python3 -c "import json,sys; j=[j for j in json.load(sys.stdin)['jobs'] if j['name']==sys.argv[1]][0]; print(j['id'], j['status'])" "$2" <<<"$body")
}
job_is() { job_of "$1" "$2"; [[ $st == "$3" ]]; }
lines() { [[ -f $sh/log-$1 ]] && (($(grep -c '^start' "$sh/log-$1") >= $2)) && (($(grep -c '^end' "$sh/log-$1") >= $2)); }
order() { grep '^start' "$sh/log-$1" | sed 's/^start //' | grep -v '^0$' | tr '\n' ' ' | sed 's/ $//'; }
alternates() { # start/end lines of the group's log never overlap
  python3 -c "
import sys
held = None
for l in open(sys.argv[1]):
    what, tag = l.split()
    if what == 'start':
        if held is not None: sys.exit('%s started while %s ran' % (tag, held))
        held = tag
    else:
        if held != tag: sys.exit('%s ended while %s held' % (tag, held))
        held = None
" "$sh/log-$1"
}

run_mode() { # run_mode MODE LATE(1|3) EARLY(1: release the late one once the holder ended) WANT
  local g=rg-$1 late=$2 early=$3 want=$4 holder p=() i extra
  pipeline "$g" 0 ',"HOLD":"1"'
  local p0=$pl
  wait_for 120 job_is "$p0" deploy running || bad "$1: the holder runs" "$st $body"
  holder=$job
  req PUT "/api/v1/projects/$proj/resource_groups/$g" "$maint" "{\"process_mode\":\"$1\"}"
  expect "$1: PUT resource_groups/$g sets the mode" "200 $1" "$code $(jget "['process_mode']")" "$body"
  for i in 1 2 3; do
    extra=
    ((i == late)) && extra=',"LATE":"1"'
    pipeline "$g" "$i" "$extra"
    p[i]=$pl
  done
  for i in 1 2 3; do
    ((i == late)) && continue
    wait_for 120 job_is "${p[i]}" deploy waiting_for_resource ||
      bad "$1: pipeline $i's job waits for the resource" "$st"
  done
  wait_for 120 job_is "${p[late]}" pre running || bad "$1: the late pipeline's first job runs" "$st"
  local one=${p[1]}
  [[ $late == 1 ]] && one=${p[2]}
  job_of "$one" deploy
  req GET "/api/v1/jobs/$job" "$maint"
  expect "$1: a waiting job says which job holds the group" \
    "waiting_for_resource $g $holder" \
    "$(jget "['status']") $(jget "['resource_group']['key']") $(jget "['resource_group']['held_by']['id']")" "$body"
  req GET "/api/v1/projects/$proj/resource_groups/$g/upcoming_jobs" "$maint"
  # GitLab's upcoming_processables: oldest_first and newest_first count the late job too
  local n=2
  [[ $1 == oldest_first || $1 == newest_first ]] && n=3
  expect "$1: upcoming_jobs lists the jobs in line" "$n" "$(jget ".__len__()")" "$body"
  touch "$sh/hold-$g"
  wait_for 120 job_is "$p0" deploy success || bad "$1: the holder ends" "$st"
  if ((early)); then
    touch "$sh/late-$g"
  else
    wait_for 120 lines "$g" 3 || bad "$1: the two ready jobs run" "$(cat "$sh/log-$g")"
    touch "$sh/late-$g"
  fi
  if wait_for 180 lines "$g" 4; then
    expect "$1: the jobs run in GitLab's order" "$want" "$(order "$g")" "$(cat "$sh/log-$g")"
  else
    bad "$1: every job of the group runs" "$(cat "$sh/log-$g")"
  fi
  if out=$(alternates "$g" 2>&1); then ok "$1: never two jobs of the group at once"
  else bad "$1: never two jobs of the group at once" "$out"; fi
  for i in 1 2 3; do
    wait_for 60 job_is "${p[i]}" deploy success || bad "$1: pipeline $i's job succeeds" "$st"
  done
}

run_mode unordered 1 0 "2 3 1"
run_mode oldest_first 1 1 "1 2 3"
run_mode newest_first 3 1 "3 2 1"
run_mode newest_ready_first 3 0 "2 1 3"

req GET "/api/v1/projects/$proj/resource_groups" "$maint"
expect "GET resource_groups lists the four groups by key" \
  "rg-newest_first rg-newest_ready_first rg-oldest_first rg-unordered" \
  "$(python3 -c "import json,sys; print(' '.join(g['key'] for g in json.load(sys.stdin)))" <<<"$body")" "$body"
expect "... in GitLab's shape" "id key process_mode created_at updated_at" \
  "$(python3 -c "import json,sys; print(' '.join(json.load(sys.stdin)[0]))" <<<"$body")"
req GET "/api/v1/projects/$proj/resource_groups/rg-unordered" "$maint"
expect "GET resource_groups/{key}" "200 unordered" "$code $(jget "['process_mode']")"
req GET "/api/v1/projects/$proj/resource_groups/nope" "$maint"
expect "an unknown group is 404" 404 "$code"
req PUT "/api/v1/projects/$proj/resource_groups/rg-unordered" "$maint" '{"process_mode":"fastest"}'
expect "an unknown process mode is refused" 400 "$code" "$body"
viewer=$("$bin" token create --role viewer --data "$tmp/data" "${db[@]}" 2>/dev/null)
req PUT "/api/v1/projects/$proj/resource_groups/rg-unordered" "$viewer" '{"process_mode":"oldest_first"}'
expect "a viewer may not change a group" 403 "$code"

# a key with '/' (GitLab allows production/eu): URL-encoded in the path, as GitLab's API
mkdir -m 1777 "$sh/log-production" # the job (another user) writes log-production/eu
pipeline production/eu eu ""
eu_done() { job_is "$pl" deploy success; }
wait_for 60 eu_done || bad "the job of group production/eu runs" "$body"
enc=production%2Feu
req GET "/api/v1/projects/$proj/resource_groups/$enc" "$maint"
expect "GET resource_groups/production%2Feu" "200 production/eu unordered" \
  "$code $(jget "['key']") $(jget "['process_mode']")" "$body"
req PUT "/api/v1/projects/$proj/resource_groups/$enc" "$maint" '{"process_mode":"oldest_first"}'
expect "PUT resource_groups/production%2Feu sets its mode" "200 production/eu oldest_first" \
  "$code $(jget "['key']") $(jget "['process_mode']")" "$body"
req GET "/api/v1/projects/$proj/resource_groups/$enc/upcoming_jobs" "$maint"
expect "its upcoming jobs: none, the job ran" "200 0" "$code $(jget ".__len__()")" "$body"
req GET "/api/v1/projects/$proj/resource_groups/production" "$maint"
expect "its first part is no group: 404" 404 "$code" "$body"
req GET "/api/v1/projects/$proj/resource_groups/production%2Fus" "$maint"
expect "nor another key under it: 404" 404 "$code" "$body"

server_stop
finish
