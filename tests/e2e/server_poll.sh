#!/usr/bin/env bash
# sluice serve polling repositories: a project with poll_interval_s is fetched every
# interval; registering it makes no pipeline, a commit on its default branch makes one
# (CI_PIPELINE_SOURCE=push, that commit), a commit on another branch or no commit makes
# none, a restart does not make the same commit's pipeline again, nor does a poll after a
# webhook built it.
. "$(dirname "$0")/lib/e2e.sh"
needs curl python3 git
. "$(dirname "$0")/lib/server.sh"

git_c() { git -C "$tmp/repo" "$@"; }
repo_ci "$tmp/repo" <<'YML' || exit 1
job:
  script:
    - echo "source=$CI_PIPELINE_SOURCE sha=$CI_COMMIT_SHA"
YML

start() { server_start || { bad "server starts"; exit 1; }; }
polls() { curl -s -H "Authorization: Bearer $admin" "$url/metrics" | sed -n 's/^sluice_polls_total //p'; }
# wait_polls N: until the server has done N project polls (sluice_polls_total), 30 s at most
wait_polls() {
  local deadline=$((SECONDS + 30))
  until (($(polls) >= $1)); do
    ((SECONDS >= deadline)) && { bad "the poller reached $1 polls (at $(polls))"; return 1; }
    sleep 0.1
  done
}
npipelines() { api GET "/api/v1/projects/$proj/pipelines"; jget '.__len__()'; }
# wait_count N SECONDS: until the project has N pipelines (or the time is up)
wait_count() {
  local n
  for _ in $(seq $((${2} * 10))); do
    n=$(npipelines)
    [[ $n == "$1" ]] && return 0
    sleep 0.1
  done
  return 1
}

start
base=$(polls)
api POST /api/v1/projects "{\"name\":\"p\",\"repo_url\":\"$tmp/repo\",\"poll_interval_s\":1}"
expect "a project polled every second" "201 1" "$code $(jget "['poll_interval_s']")" "$body"
proj=$(jget "['id']")
api POST /api/v1/projects "{\"name\":\"bad\",\"repo_url\":\"$tmp/repo\",\"poll_interval_s\":-1}"
expect "a negative interval: 400" 400 "$code"
api POST /api/v1/projects "{\"name\":\"bad\",\"repo_url\":\"$tmp/repo\",\"poll_interval_s\":\"60\"}"
expect "an interval that is not a number: 400" 400 "$code"
api GET /api/v1/projects/$proj
expect "the interval is part of the project" 1 "$(jget "['poll_interval_s']")"

wait_polls $((base + 2)) # the first poll (at once) and the next
expect "registering a project makes no pipeline (the first poll only records the branch)" 0 "$(npipelines)"

git_c commit -q --allow-empty -m second
sha=$(git -C "$tmp/repo" rev-parse main)
if wait_count 1 10; then ok "a commit on the default branch makes a pipeline"; else bad "a commit on the default branch makes a pipeline: $(npipelines) pipelines after 10 s" "$(tail -5 "$tmp/err")"; fi
api GET "/api/v1/projects/$proj/pipelines"
pl=$(jget "[0]['id']")
expect "for that commit, from a push, on the default branch" "$sha push main" \
  "$(jget "[0]['sha']") $(jget "[0]['source']") $(jget "[0]['ref']")"
for _ in $(seq 600); do
  api GET /api/v1/pipelines/$pl
  case $(jget "['status']") in success | failed | canceled) break ;; esac
  sleep 0.1
done
expect "the pipeline runs" success "$(jget "['status']")" "$body"
log=$(curl -s -H "Authorization: Bearer $admin" "$url/api/v1/jobs/$(jget "['jobs'][0]['id']")/log")
expect "its job sees CI_PIPELINE_SOURCE=push and the commit" 1 "$(grep -c "source=push sha=$sha" <<<"$log")" "$log"

git -C "$tmp/repo" checkout -q -b topic && git_c commit -q --allow-empty -m topic && git -C "$tmp/repo" checkout -q main
wait_polls $(($(polls) + 2))
expect "nothing new on the default branch, a commit elsewhere: no pipeline" 1 "$(npipelines)"

server_stop # SIGTERM with the poller running: exit 0, no sanitizer report
start
wait_polls 2
expect "after a restart the same commit makes no second pipeline" 1 "$(npipelines)"
git_c commit -q --allow-empty -m third
if wait_count 2 10; then ok "a commit after the restart makes one"; else bad "a commit after the restart makes one: $(npipelines) pipelines" "$(tail -5 "$tmp/err")"; fi
api GET "/api/v1/projects/$proj/pipelines"
expect "for the new commit" "$(git -C "$tmp/repo" rev-parse main)" "$(jget "[0]['sha']")"

api DELETE /api/v1/projects/$proj
expect "a polled project can be deleted" 204 "$code"
git_c commit -q --allow-empty -m fourth

# a commit a webhook built first is not built again by the next poll
repo_ci "$tmp/repo2" <"$tmp/repo/.gitlab-ci.yml" || exit 1
base=$(polls)
api POST /api/v1/projects "{\"name\":\"both\",\"repo_url\":\"$tmp/repo2\",\"poll_interval_s\":4,\"webhook_secret\":\"s\"}"
both=$(jget "['id']")
wait_polls $((base + 1)) # the first poll (at once) records the branch; the next is 4 s after it
git -C "$tmp/repo2" commit -q --allow-empty -m pushed
push="{\"ref\":\"refs/heads/main\",\"after\":\"$(git -C "$tmp/repo2" rev-parse main)\"}"
sig=$(printf '%s' "$push" | python3 -c 'import hmac,hashlib,sys; print(hmac.new(b"s", sys.stdin.buffer.read(), hashlib.sha256).hexdigest())')
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "$url/hooks/github?project=$both" --data-binary "$push" \
  -H "X-GitHub-Event: push" -H "X-Hub-Signature-256: sha256=$sig")
expect "a webhook push of the polled project makes its pipeline" 201 "$code"
wait_polls $((base + 2)) # its next poll, the only project polled now
api GET "/api/v1/projects/$both/pipelines"
expect "the next poll does not build that commit again" 1 "$(jget '.__len__()')" "$body"

expect "the server still answers after the project it polled is gone" 200 \
  "$(curl -s -o /dev/null -w '%{http_code}' "$url/healthz")"
expect "no poll error logged for it" 0 "$(grep -c 'poll: no pipeline' "$tmp/err")"

server_stop
finish
