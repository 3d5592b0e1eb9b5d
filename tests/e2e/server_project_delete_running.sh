#!/usr/bin/env bash
# DELETE /api/v1/projects/{id} while its jobs run (pipelines.c sl_srv_project_delete): a
# built-in worker's job is canceled and waited for before the delete answers (its processes
# are gone by then, and none of the project's files is made again), and a `sluice agent`'s
# job is refused from then on (its trace, its end and an artifacts upload with its token:
# 403), so the agent ends it and nothing of the project comes back on the server's disk.
# Both jobs print and write into their cache and artifacts paths in a loop until stopped.
. "$(dirname "$0")/lib/e2e.sh"
needs curl python3 git
. "$(dirname "$0")/lib/server.sh"
. "$(dirname "$0")/lib/agents.sh"
shared_dir
sh=$tmp/shared

# each job writes its shell's pid, id and token where the test reads them, then loops
loop='while :; do echo tick; date >"$CI_PROJECT_DIR/cached/c"; date >"$CI_PROJECT_DIR/out/o"; sleep 0.2; done'
repo_ci "$tmp/repo" <<YML || exit 1
.loop:
  cache:
    key: k
    paths: [cached/]
    when: always
  artifacts:
    paths: [out/]
    when: always
local:
  extends: .loop
  script:
    - mkdir -p cached out
    - echo "\$\$ \$CI_JOB_ID \$CI_JOB_TOKEN" >$sh/local.new && mv $sh/local.new $sh/local
    - '$loop'
remote:
  extends: .loop
  tags: [remote]
  script:
    - mkdir -p cached out
    - echo "\$\$ \$CI_JOB_ID \$CI_JOB_TOKEN" >$sh/remote.new && mv $sh/remote.new $sh/remote
    - '$loop'
YML

server_start --workers 1 || { bad "the server starts"; exit 1; }
d=$tmp/data
project_make running
agents_need running
pipeline_run
tok=$(runner_token rem --tags remote)
agent_start rem "$tok"

# group PGID: the processes of that process group, zombies (ended, not reaped yet) aside
group() {
  local f st
  for f in /proc/[0-9]*/stat; do
    st=$(cat "$f" 2>/dev/null) || continue
    st=${st##*) }
    set -- $st
    [[ $3 == "$PGID" && $1 != Z ]] && echo "${f//[^0-9]/}"
  done
}
started() { [[ -s $sh/local && -s $sh/remote ]]; }
if wait_for 120 started; then ok "both jobs run"; else
  bad "both jobs run" "$(ls "$sh"; tail -20 "$tmp/err" "$tmp/rem.err")"
  finish
  exit 1
fi
read -r lpid ljob ltok <"$sh/local"
read -r rpid rjob rtok <"$sh/remote"
# under lib/e2e.sh: a job left running by a failed check is killed at exit
at_exit "kill -9 -$lpid -$rpid 2>/dev/null"
trace() { # trace JOB TOKEN: a trace PATCH as a runner sends it -> code, status (Job-Status)
  code=$(curl -s -o "$tmp/body" -D "$tmp/head" -w '%{http_code}' -X PATCH \
    -H "JOB-TOKEN: $2" -H 'Content-Range: 0-0' --data-binary x "$url/api/v4/jobs/$1/trace")
  status=$(sed -n 's/^[Jj]ob-[Ss]tatus: *\([a-z]*\).*/\1/p' "$tmp/head")
}
update() { # update JOB TOKEN STATE: PUT /api/v4/jobs/JOB as a runner sends it -> code, status
  code=$(curl -s -o "$tmp/body" -D "$tmp/head" -w '%{http_code}' -X PUT -H "JOB-TOKEN: $2" \
    -H 'Content-Type: application/json' --data-binary "{\"state\":\"$3\"}" "$url/api/v4/jobs/$1")
  status=$(sed -n 's/^[Jj]ob-[Ss]tatus: *\([a-z]*\).*/\1/p' "$tmp/head")
}
update "$rjob" "$rtok" running
expect "the agent's job is running before" "200 running" "$code $status" "$(cat "$tmp/body")"

api DELETE "/api/v1/projects/$project"
expect "the project is deleted" 204 "$code" "$body"
# the built-in worker's job was stopped before the answer: no process of its group is left
left=$(PGID=$lpid group)
if [[ -n $left ]]; then
  bad "the built-in worker's job is gone when the delete answers" "$left"
else
  ok "the built-in worker's job is gone when the delete answers"
fi
expect "none of the project's files is left" "" "$(project_files "$project" "$pl")" "$(ls -R "$d" | head -40)"

# the agent's job: every request of it is refused now
trace "$rjob" "$rtok"
expect "the agent's job's trace is refused" 403 "$code" "$(cat "$tmp/body")"
update "$rjob" "$rtok" success
expect "its end is refused" 403 "$code" "$(cat "$tmp/body")"
echo zip >"$tmp/a.zip"
code=$(curl -s -o "$tmp/body" -w '%{http_code}' -H "JOB-TOKEN: $rtok" -F "file=@$tmp/a.zip" \
  "$url/api/v4/jobs/$rjob/artifacts?artifact_format=zip&artifact_type=archive")
expect "an artifacts upload of it is refused" 403 "$code" "$(cat "$tmp/body")"
remote_gone() { [[ -z $(PGID=$rpid group) ]]; }
if wait_for 120 remote_gone; then ok "the agent ends its job"; else
  bad "the agent ends its job" "$(PGID=$rpid group; tail -20 "$tmp/rem.err")"
fi
expect "and none of the project's files came back" "" "$(project_files "$project" "$pl")" \
  "$(ls -R "$d" | head -40)"
agent_stop rem
server_stop
finish
