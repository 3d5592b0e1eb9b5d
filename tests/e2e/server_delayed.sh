#!/usr/bin/env bash
# Delayed jobs at scale: 300 delayed jobs in 30 pipelines, each pipeline's first job due in a
# day and the nine after it in two seconds. Every due job starts (becomes pending) although
# an earlier job of its pipeline is not due and although far more than one page (100) of
# delayed jobs waits server-wide; the job due tomorrow stays scheduled.
. "$(dirname "$0")/lib/e2e.sh"
needs curl python3 git
. "$(dirname "$0")/lib/server.sh"
trap 'server_stop; rm -rf "$tmp"' EXIT

{
  # the 30 pipelines are of one branch: no auto-cancel of the older ones (GitLab cancels
  # redundant pipelines' jobs that have not started, delayed ones included)
  printf 'workflow:\n  auto_cancel:\n    on_new_commit: none\n'
  printf 'tomorrow:\n  when: delayed\n  start_in: 1 day\n  script: [echo late]\n'
  for i in 1 2 3 4 5 6 7 8 9; do
    printf 'soon-%s:\n  when: delayed\n  start_in: 2 seconds\n  script: [echo soon]\n' "$i"
  done
} | repo_ci "$tmp/repo" || exit 1

# no workers: a due job becomes pending and stays so, which is what is counted
server_start --workers 0 || exit 1
req POST /api/v1/projects "$admin" "{\"name\":\"delayed\",\"repo_url\":\"$tmp/repo\"}"
project=$(jget "['id']")
for i in $(seq 30); do
  req POST /api/v1/projects/$project/pipelines "$admin" '{}'
  [[ $code == 201 ]] || { bad "pipeline $i is created" "$body"; break; }
done
jobs_in() { # the gauges of jobs in statuses $@, summed, from one scrape (absent when none)
  curl -s -H "Authorization: Bearer $admin" "$url/metrics" |
    awk -v want=" $* " '/^sluice_jobs\{status="/ { s = $1; sub(/^sluice_jobs\{status="/, "", s);
      sub(/"\}$/, "", s); if (index(want, " " s " ")) n += $2 } END { print n + 0 }'
}
# one scrape for both: a job that falls due between two would be counted twice
expect "30 pipelines of 10 delayed jobs each wait" 300 "$(jobs_in scheduled pending)"
all_due_started() { [[ $(jobs_in pending) == 270 ]]; }
wait_for 60 all_due_started
expect "every due job started, whatever waits before it" 270 "$(jobs_in pending)"
expect "the jobs due tomorrow still wait" 30 "$(jobs_in scheduled)"
finish
