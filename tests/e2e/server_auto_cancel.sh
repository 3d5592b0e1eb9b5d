#!/usr/bin/env bash
# workflow:auto_cancel and interruptible on a real `sluice serve`: a new pipeline of a newer
# commit on a branch cancels the older one whose started jobs are all interruptible
# (conservative), spares one where a job that is not interruptible has started, cancels only
# the interruptible jobs of a pipeline that says on_new_commit: interruptible, leaves other
# branches and pipelines of the same commit alone; on_job_failure: all cancels the
# rest of a pipeline when a job fails. On SQLite here and on PostgreSQL through server_pg.sh.
. "$(dirname "$0")/lib/e2e.sh"
needs curl
chmod 0711 "$tmp"
# shellcheck source=lib/server.sh
. "$src/tests/e2e/lib/server.sh"

repo_ci "$tmp/repo" one <<'YML' || exit 1
workflow:
  rules:
    - if: $MODE == "interruptible"
      auto_cancel: {on_new_commit: interruptible}
    - if: $FAILFAST
      auto_cancel: {on_job_failure: all}
    - when: always
slow_i:
  interruptible: true
  rules: [{if: $KIND =~ /^i/}]
  script: [sleep 60]
slow_n:
  rules: [{if: $KIND =~ /n$/}]
  script: [sleep 60]
fails:
  rules: [{if: $FAILFAST}]
  script: [sleep 1, exit 1]
YML
git -C "$tmp/repo" branch other || exit 1

server_start --workers 6 || { bad "server starts"; finish; exit 1; }
ok "server starts ($url)"
maint=$("$bin" token create --role maintainer --data "$tmp/data" "${db[@]}" 2>/dev/null)
req POST /api/v1/projects "$maint" "{\"name\":\"app\",\"repo_url\":\"file://$tmp/repo\"}"
proj=$(jget "['id']")

pipeline() { # pipeline REF VARIABLES-JSON -> $pl
  req POST "/api/v1/projects/$proj/pipelines" "$maint" "{\"ref\":\"$1\",\"variables\":$2}"
  pl=$(jget "['id']")
}
next_commit() { git -C "$tmp/repo" -c user.email=t@t -c user.name=t commit -q --allow-empty -m next; }
status_of() { req GET "/api/v1/pipelines/$1" "$maint"; jget "['status']"; }
job_status() { # job_status PIPELINE NAME
  req GET "/api/v1/pipelines/$1" "$maint"
  python3 -c "import json,sys; print([j['status'] for j in json.load(sys.stdin)['jobs'] if j['name']==sys.argv[1]][0])" "$2" <<<"$body"
}
running() { [[ $(job_status "$1" "$2") == running ]]; }
is_status() { [[ $(status_of "$1") == "$2" ]]; }

# conservative: only interruptible jobs started -> the older pipeline is canceled
pipeline main '{"KIND":"i"}'
p1=$pl
wait_for 60 running "$p1" slow_i || bad "slow_i of pipeline $p1 starts" "$body"
pipeline other '{"KIND":"i"}'
p_other=$pl
wait_for 60 running "$p_other" slow_i || bad "slow_i on branch other starts" "$body"
next_commit
pipeline main '{"KIND":"i"}'
p2=$pl
if wait_for 30 is_status "$p1" canceled; then ok "conservative: the older pipeline (interruptible jobs only) is canceled"
else bad "conservative: the older pipeline is canceled" "$(status_of "$p1") $body"; fi
expect "a pipeline of another branch is left alone" running "$(status_of "$p_other")"

# conservative: a started job that is not interruptible protects its pipeline
next_commit
pipeline main '{"KIND":"in"}'
p3=$pl
wait_for 60 running "$p3" slow_n || bad "slow_n of pipeline $p3 starts" "$body"
if wait_for 30 is_status "$p2" canceled; then ok "... the pipeline before it (interruptible only) is canceled"
else bad "the pipeline before it is canceled" "$(status_of "$p2")"; fi
next_commit
pipeline main '{"KIND":"i"}'
p4=$pl
wait_for 60 running "$p4" slow_i || bad "slow_i of pipeline $p4 starts" "$body"
expect "conservative: a started non-interruptible job protects the older pipeline" running \
  "$(status_of "$p3")"

# on_new_commit: interruptible (the older pipeline's own setting) -> only its interruptible jobs
next_commit
pipeline main '{"KIND":"in","MODE":"interruptible"}'
p5=$pl
wait_for 60 running "$p5" slow_n || bad "slow_n of pipeline $p5 starts" "$body"
next_commit
pipeline main '{"KIND":"i"}'
p6=$pl
sj() { [[ $(job_status "$p5" slow_i) == canceled ]]; }
if wait_for 30 sj; then ok "interruptible: the older pipeline's interruptible job is canceled"
else bad "interruptible: slow_i of pipeline $p5 is canceled" "$(job_status "$p5" slow_i)"; fi
expect "interruptible: its other job runs on" running "$(job_status "$p5" slow_n)"

# a pipeline of the same commit is never redundant
wait_for 60 running "$p6" slow_i || bad "slow_i of pipeline $p6 starts" "$body"
pipeline main '{"KIND":"i"}'
p7=$pl
wait_for 60 running "$p7" slow_i || bad "slow_i of pipeline $p7 starts" "$body"
expect "a new pipeline of the same commit cancels nothing" running "$(status_of "$p6")"

# on_job_failure: all (the earlier pipelines canceled first, so workers are free)
for p in $p3 $p4 $p5 $p6 $p7 $p_other; do req POST "/api/v1/pipelines/$p/cancel" "$maint"; done
for p in $p3 $p4 $p5 $p6 $p7 $p_other; do wait_for 30 is_status "$p" canceled || bad "pipeline $p is canceled"; done
pipeline other '{"KIND":"n","FAILFAST":"1"}'
p6=$pl
wait_for 60 running "$p6" slow_n || bad "slow_n of pipeline $p6 starts" "$body"
fast() { [[ $(job_status "$p6" slow_n) == canceled ]]; }
if wait_for 60 fast; then ok "on_job_failure: all: a failure cancels the rest of the pipeline"
else bad "on_job_failure: all cancels slow_n" "$(job_status "$p6" slow_n)"; fi
expect "the failed job stays failed" failed "$(job_status "$p6" fails)"

server_stop
finish
