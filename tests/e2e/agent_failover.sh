#!/usr/bin/env bash
# Agents that die or freeze mid-job, against a real `sluice serve` with a 4 s lease:
#  - kill -9 of the agent running a job: the attempt ends runner_system_failure once the
#    lease lapses, its retry (retry: {max: 1, when: runner_system_failure}) runs on the other
#    agent, the pipeline succeeds; each attempt is a job of its own (GitLab's retry), the first
#    marked retried with its outcome and runner;
#  - SIGSTOP of the agent running a job, past its lease, then SIGCONT: the attempt failed
#    and was retried elsewhere meanwhile as a new job; the frozen agent's late log and state are refused
#    (the agent says so), and the job keeps its one outcome and its log without them;
#  - cancel from the API of a job an agent runs: canceling, its after_script runs, canceled.
# SL_SERVER_DB: on that store (agent_pg.sh passes PostgreSQL).
. "$(dirname "$0")/lib/e2e.sh"
needs curl python3 git
cleanup() {
  agents_kill
  # the killed agent's job ran in a session of its own: end it too
  for f in "$tmp"/victim*.pid; do [[ -f $f ]] && kill -9 -- "-$(cat "$f")" 2>/dev/null; done
  [[ -n ${pid:-} ]] && kill -9 "$pid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
# shellcheck source=lib/server.sh
. "$src/tests/e2e/lib/server.sh"
# shellcheck source=lib/agents.sh
. "$src/tests/e2e/lib/agents.sh"

job_by_attempt() { # job_by_attempt NAME ATTEMPT -> the id of that attempt (each is a job)
  req GET "/api/v1/pipelines/$pl?include_retried=true" "$admin"
  python3 -c '
import json,sys
d=json.load(sys.stdin)
ids=sorted(j["id"] for j in d["jobs"] if j["name"]==sys.argv[1])
print(ids[int(sys.argv[2])-1] if len(ids)>=int(sys.argv[2]) else "")' "$1" "$2" <<<"$body"
}
listed() { # listed NAME -> how many jobs of that name the pipeline lists by default
  req GET "/api/v1/pipelines/$pl" "$admin"
  python3 -c 'import json,sys; print(sum(j["name"]==sys.argv[1] for j in json.load(sys.stdin)["jobs"]))' "$1" <<<"$body"
}
attempt_of() { # attempt_of ID -> $got: status, failure_reason, attempt, retried; $runner
  req GET "/api/v1/jobs/$1" "$admin"
  got=$(jget "['status']+' '+str(d['failure_reason'])+' '+str(d['attempt'])+' '+str(d['retried'])")
  runner=$(jget "['runner']")
}

server_start --workers 0 --lease 4 || { echo "not ok - server starts"; exit 1; }
ta=$(runner_token A --run-untagged)
tb=$(runner_token B --run-untagged)

# --- kill -9 -------------------------------------------------------------------------
git_repo "stages: [slow, after]
retried:
  stage: slow
  retry: {max: 1, when: runner_system_failure}
  script:
    - echo \"\$CI_BUILDS_DIR\" >> $tmp/attempts
    - if [ -f $tmp/marker ]; then echo second attempt; else echo \$\$ > $tmp/victim.pid; touch $tmp/marker; sleep 60; fi
after:
  stage: after
  script: [echo after the loss]"
project_make killed
agents_need killed
agent_start A "$ta"
wait_for 30 grep -qs '"agent started"' "$tmp/A.err"
pipeline_run
wait_for 60 test -f "$tmp/marker" || bad "the job started on agent A" "$(tail -5 "$tmp/A.err")"
agent_start B "$tb"
wait_for 30 grep -qs '"agent started"' "$tmp/B.err"
kill -9 "${apid[A]}"
wait "${apid[A]}" 2>/dev/null
unset "apid[A]"
pipeline_wait 90
expect "the pipeline succeeds after the agent was killed" success "$pstatus" "$body"
# as GitLab: the retry is a new job with its own id; the killed agent's attempt keeps its
# outcome, is marked retried and is listed only with ?include_retried=true
first=$(job_by_attempt retried 1)
second=$(job_by_attempt retried 2)
expect "the retry is a new job" yes "$([[ -n $second && $second != "$first" ]] && echo yes)"
attempt_of "$first"
runner_first=$runner
expect "the killed agent's attempt: failed, runner_system_failure, retried" \
  "failed runner_system_failure 1 True" "$got" "$body"
attempt_of "$second"
runner_second=$runner
expect "its retry: success, attempt 2, not retried" "success None 2 False" "$got" "$body"
expect "the job API says which runner ran each attempt" yes \
  "$([[ -n $runner_first && $runner_first != None && -n $runner_second && $runner_second != None && $runner_first != "$runner_second" ]] && echo yes)" \
  "$runner_first / $runner_second"
expect "the pipeline lists the newest attempt only" 1 "$(listed retried)" "$body"
expect "the first attempt ran on A, the retry on B" "agent-A agent-B" \
  "$(sed -n 1p "$tmp/attempts" | grep -o 'agent-[AB]') $(sed -n 2p "$tmp/attempts" | grep -o 'agent-[AB]')"
req GET /api/v1/jobs/$second/log "$admin"
expect "the retry's log" 1 "$(grep -cx 'second attempt' <<<"$body")" "$body"
kill -9 -- "-$(cat "$tmp/victim.pid")" 2>/dev/null

# --- SIGSTOP past the lease, then SIGCONT --------------------------------------------------
agent_stop B
git_repo "frozen:
  retry: {max: 1, when: runner_system_failure}
  script:
    - echo \"\$CI_BUILDS_DIR\" >> $tmp/attempts2
    - if [ -f $tmp/marker2 ]; then echo second attempt; else echo \$\$ > $tmp/victim2.pid; touch $tmp/marker2; sleep 6; echo late-line-from-the-frozen-agent; touch $tmp/late-done; fi"
project_make frozen
tc=$(runner_token C --run-untagged)
td=$(runner_token D --run-untagged)
agent_start C "$tc"
wait_for 30 grep -qs '"agent started"' "$tmp/C.err"
pipeline_run
wait_for 60 test -f "$tmp/marker2" || bad "the job started on agent C" "$(tail -5 "$tmp/C.err")"
kill -STOP "${apid[C]}"
agent_start D "$td"
pipeline_wait 90
expect "the pipeline succeeds while agent C is frozen" success "$pstatus" "$body"
first=$(job_by_attempt frozen 1)
second=$(job_by_attempt frozen 2)
expect "the frozen agent's retry is a new job" yes "$([[ -n $second && $second != "$first" ]] && echo yes)"
attempt_of "$second"
expect "the retry of the frozen agent's job succeeded on D" "success None 2 False agent-C agent-D" \
  "$got $(sed -n 1p "$tmp/attempts2" | grep -o 'agent-[CD]') $(sed -n 2p "$tmp/attempts2" | grep -o 'agent-[CD]')" "$body"
attempt_of "$first"
expect "the frozen agent's attempt: failed, runner_system_failure, retried" \
  "failed runner_system_failure 1 True" "$got" "$body"
outcome=$(jget "['status']")\ $(jget "['failure_reason']")
# the frozen job's own shell (a session of its own) went on and finishes: its last line
# waits in the pipe of frozen C
wait_for 30 test -f "$tmp/late-done"
kill -CONT "${apid[C]}"
wait_for 30 grep -qs '"job no longer ours"\|"final state refused"\|"job aborted by the server' "$tmp/C.err"
expect "agent C is told the job is no longer its own" 0 "$?" "$(tail -5 "$tmp/C.err")"
wait_for 30 test ! -d "$tmp/agent-C/jobs/$first"
req GET /api/v1/jobs/$first "$admin"
expect "the job keeps its one outcome" "$outcome" "$(jget "['status']") $(jget "['failure_reason']")" "$body"
req GET /api/v1/jobs/$first/log "$admin"
expect "no late line was appended to its log" 0 "$(grep -cx late-line-from-the-frozen-agent <<<"$body")" "$body"
req GET /api/v1/pipelines/$pl "$admin"
expect "the pipeline is still a success" success "$(jget "['status']")"

# --- cancel from the API: Job-Status canceling reaches the agent, which runs after_script,
# then the job is canceled --------------------------------------------------------------
git_repo "slow:
  variables: {GIT_DEPTH: '3'}
  script:
    - touch $tmp/slow-started
    - sleep 120
  after_script:
    - echo after-script-ran-on-cancel"
project_make canceled
pipeline_run
wait_for 60 test -f "$tmp/slow-started" || bad "the slow job started" "$(tail -5 "$tmp/D.err")"
job=$(job_by_attempt slow 1)
req POST "/api/v1/jobs/$job/cancel" "$admin"
expect "cancel of an agent's running job: 200, canceling" "200 canceling" \
  "$code $(jget "['status']")" "$body"
canceled() { req GET "/api/v1/jobs/$job" "$admin"; [[ $(jget "['status']") == canceled ]]; }
wait_for 120 canceled
expect "then canceled, once the agent reported" canceled "$(jget "['status']")" "$body"
req GET "/api/v1/jobs/$job/log" "$admin"
expect "its after_script ran" 1 "$(grep -cx after-script-ran-on-cancel <<<"$body")" "$body"
expect "its log says GIT_DEPTH is not applied" 1 "$(grep -c '^WARNING: GIT_DEPTH=3 is not applied' <<<"$body")" "$body"
agent_stop C
agent_stop D
server_stop
finish
