#!/usr/bin/env bash
# sluice serve's webhooks and log stream against the real binary on loopback: GitHub,
# GitLab and Gitea pushes with valid signatures (computed here with openssl) make pipelines
# with CI_PIPELINE_SOURCE=push; forged, unsigned, replayed-on-another-body and
# wrong-project deliveries are 401 and audited; ping, other events and deleted refs are
# ignored. Then a running job's log as Server-Sent Events, resumed with Last-Event-ID.
. "$(dirname "$0")/lib/e2e.sh"
needs curl openssl python3 git
# SL_SERVER_DB: run against that store (server_pg.sh passes a PostgreSQL URI)
. "$(dirname "$0")/lib/server.sh"

repo_ci "$tmp/repo" <<'YML' || exit 1
job:
  script:
    - echo "source=$CI_PIPELINE_SOURCE ref=$CI_COMMIT_REF_NAME tag=${CI_COMMIT_TAG:-none}"
YML
git -C "$tmp/repo" tag v1.0 && git -C "$tmp/repo" checkout -qb slow || exit 1
repo_ci "$tmp/repo" slow <<'YML' || exit 1
slow:
  script:
    - for i in 1 2 3 4 5; do printf 'tick %s\r\n' $i; echo "é line $i"; sleep 0.3; done
    - echo done
YML
git -C "$tmp/repo" checkout -q main || exit 1

server_start || { bad "server starts"; exit 1; }

hook() { # hook PATH BODY HEADER... -> $code $body
  local path=$1 data=$2
  shift 2
  local args=(-s -o "$tmp/body" -w '%{http_code}' -X POST "$url$path" --data-binary "$data"
    -H 'Content-Type: application/json')
  for h in "$@"; do args+=(-H "$h"); done
  code=$(curl "${args[@]}")
  body=$(cat "$tmp/body")
}
hmac() { printf '%s' "$2" | openssl dgst -sha256 -hmac "$1" | sed 's/^.*= *//'; }
wait_pipeline() { # wait_pipeline ID -> $body of the finished pipeline
  for _ in $(seq 600); do
    api GET /api/v1/pipelines/$1
    case $(jget "['status']") in success | failed | canceled) return ;; esac
    sleep 0.1
  done
}
job_log() { curl -s -H "Authorization: Bearer $admin" "$url/api/v1/jobs/$1/log"; }

secret=s3cret-for-tests
api POST /api/v1/projects "{\"name\":\"hooked\",\"repo_url\":\"$tmp/repo\",\"webhook_secret\":\"$secret\"}"
expect "a project with a webhook secret" "201 True" "$code $(jget "['webhook_secret_set']")" "$body"
proj=$(jget "['id']")
expect "the secret given is not echoed" 0 "$(grep -c "$secret" <<<"$body")"
git init -q --bare "$tmp/elsewhere" # a project's repository must be readable when it is made
api POST /api/v1/projects "{\"name\":\"other\",\"repo_url\":\"$tmp/elsewhere\"}"
other_secret=$(jget "['webhook_secret']")
expect "a project without one gets a generated secret, shown once" 64 "${#other_secret}"
api GET /api/v1/projects/$(jget "['id']")
expect "it is not shown again" "0 True" "$(grep -c "$other_secret" <<<"$body") $(jget "['webhook_secret_set']")"

# --- GitHub ---------------------------------------------------------------------------
sha=$(git -C "$tmp/repo" rev-parse main)
gh_push="{\"ref\":\"refs/heads/main\",\"before\":\"$(printf 0%.0s {1..40})\",\"after\":\"$sha\",\"repository\":{\"full_name\":\"t/repo\",\"clone_url\":\"file://$tmp/repo.git\"}}"
hook /hooks/github "$gh_push" "X-GitHub-Event: push" "X-Hub-Signature-256: sha256=$(hmac "$secret" "$gh_push")"
expect "github: a signed push makes a pipeline (project found by its URL)" "201 push main" \
  "$code $(jget "['source']") $(jget "['ref']")" "$body"
gh_pl=$(jget "['id']")
wait_pipeline "$gh_pl"
job=$(jget "['jobs'][0]['id']")
expect "github: the job sees CI_PIPELINE_SOURCE=push" 1 \
  "$(job_log "$job" | grep -c 'source=push ref=main tag=none')" "$(job_log "$job")"

hook /hooks/github "$gh_push" "X-GitHub-Event: push" "X-Hub-Signature-256: sha256=$(hmac wrong-secret "$gh_push")"
expect "github: signed with another secret: 401" "401 unauthorized" "$code $(jget "['error']['code']")"
hook /hooks/github "$gh_push" "X-GitHub-Event: push"
expect "github: unsigned: 401" 401 "$code"
hook /hooks/github "${gh_push/main/evil}" "X-GitHub-Event: push" "X-Hub-Signature-256: sha256=$(hmac "$secret" "$gh_push")"
expect "github: a valid signature over another body: 401" 401 "$code"
hook /hooks/github "$gh_push" "X-GitHub-Event: push" "X-Hub-Signature-256: $(hmac "$secret" "$gh_push")"
expect "github: a signature without sha256=: 401" 401 "$code"
hook /hooks/github "$gh_push" "X-GitHub-Event: push" "Authorization: Bearer $admin"
expect "github: an API token is no signature: 401" 401 "$code"
hook "/hooks/github?project=other" "$gh_push" "X-GitHub-Event: push" "X-Hub-Signature-256: sha256=$(hmac "$secret" "$gh_push")"
expect "github: signed for another project than ?project= names: 401" 401 "$code"
hook "/hooks/github?project=nosuch" "$gh_push" "X-GitHub-Event: push" "X-Hub-Signature-256: sha256=$(hmac "$secret" "$gh_push")"
expect "github: an unknown ?project=: 401 (no hint that it does not exist)" 401 "$code"

ping='{"zen":"Keep it logically awesome.","hook_id":1}'
hook "/hooks/github?project=$proj" "$ping" "X-GitHub-Event: ping" "X-Hub-Signature-256: sha256=$(hmac "$secret" "$ping")"
expect "github: ping (by ?project=ID)" "200 pong" "$code $(jget "['status']")" "$body"
issue='{"action":"opened"}'
hook "/hooks/github?project=hooked" "$issue" "X-GitHub-Event: issues" "X-Hub-Signature-256: sha256=$(hmac "$secret" "$issue")"
expect "github: other events are accepted and ignored" "202 ignored" "$code $(jget "['status']")"
del="{\"ref\":\"refs/heads/gone\",\"after\":\"$(printf 0%.0s {1..40})\",\"deleted\":true}"
hook "/hooks/github?project=hooked" "$del" "X-GitHub-Event: push" "X-Hub-Signature-256: sha256=$(hmac "$secret" "$del")"
expect "github: a deleted branch makes no pipeline" "202 ignored" "$code $(jget "['status']")"
tag="{\"ref\":\"refs/tags/v1.0\",\"after\":\"$sha\",\"repository\":{\"clone_url\":\"$tmp/repo\"}}"
hook /hooks/github "$tag" "X-GitHub-Event: push" "X-Hub-Signature-256: sha256=$(hmac "$secret" "$tag")"
expect "github: a tag push makes a tag pipeline" "201 True v1.0" "$code $(jget "['tag']") $(jget "['ref']")" "$body"
wait_pipeline "$(jget "['id']")"
expect "github: the tag job sees CI_COMMIT_TAG" 1 \
  "$(job_log "$(jget "['jobs'][0]['id']")" | grep -c 'source=push ref=v1.0 tag=v1.0')"
nobranch="{\"ref\":\"refs/heads/not-pushed-yet\",\"after\":\"$sha\",\"repository\":{\"clone_url\":\"$tmp/repo\"}}"
hook /hooks/github "$nobranch" "X-GitHub-Event: push" "X-Hub-Signature-256: sha256=$(hmac "$secret" "$nobranch")"
expect "github: a ref the repository does not have: no pipeline, not an error" "202 no_pipeline" "$code $(jget "['status']")"

# --- GitLab ---------------------------------------------------------------------------
gl_push="{\"object_kind\":\"push\",\"ref\":\"refs/heads/main\",\"after\":\"$sha\",\"project\":{\"git_http_url\":\"$tmp/repo/\"}}"
hook /hooks/gitlab "$gl_push" "X-Gitlab-Event: Push Hook" "X-Gitlab-Token: $secret"
expect "gitlab: the right token makes a pipeline" "201 push" "$code $(jget "['source']")" "$body"
hook /hooks/gitlab "$gl_push" "X-Gitlab-Event: Push Hook" "X-Gitlab-Token: ${secret}x"
expect "gitlab: a wrong token: 401" 401 "$code"
hook /hooks/gitlab "$gl_push" "X-Gitlab-Event: Push Hook"
expect "gitlab: no token: 401" 401 "$code"
gl_tag="{\"object_kind\":\"tag_push\",\"ref\":\"refs/tags/v1.0\",\"after\":\"$sha\"}"
hook "/hooks/gitlab?project=hooked" "$gl_tag" "X-Gitlab-Event: Tag Push Hook" "X-Gitlab-Token: $secret"
expect "gitlab: a tag push" "201 True" "$code $(jget "['tag']")" "$body"
issue='{"object_kind":"issue"}' # merge requests have their own suite: server_mr.sh
hook "/hooks/gitlab?project=hooked" "$issue" "X-Gitlab-Event: Issue Hook" "X-Gitlab-Token: $secret"
expect "gitlab: other events are ignored" 202 "$code"

# --- Gitea ----------------------------------------------------------------------------
gt_push="{\"ref\":\"refs/heads/main\",\"after\":\"$sha\",\"repository\":{\"clone_url\":\"file://$tmp/repo\"}}"
hook /hooks/gitea "$gt_push" "X-Gitea-Event: push" "X-Gitea-Signature: $(hmac "$secret" "$gt_push")"
expect "gitea: a signed push makes a pipeline" "201 push" "$code $(jget "['source']")" "$body"
hook /hooks/gitea "$gt_push" "X-Gitea-Event: push" "X-Gitea-Signature: $(hmac "$secret" "$gt_push.")"
expect "gitea: forged: 401" 401 "$code"
hook /hooks/gitea "$gt_push" "X-Gitea-Event: push" "X-Hub-Signature-256: sha256=$(hmac "$secret" "$gt_push")"
expect "gitea: GitHub's header on Gitea's route is not Gitea's signature: 401" 401 "$code"

# --- the audit trail ------------------------------------------------------------------
api GET "/api/v1/audit?action=webhook.rejected&limit=100"
expect "every rejected delivery is audited (11)" 11 "$(jget '.__len__()')" "$body"
expect "rejections name the forge and the caller's address" "webhook:gitea 127.0.0.1" \
  "$(jget "[0]['actor']") $(jget "[0]['remote_addr']")"
expect "an unsigned delivery is audited as such" 1 \
  "$(grep -c 'unsigned: no signature header' <<<"$body" | sed 's/[1-9][0-9]*/1/')"
api GET "/api/v1/audit?action=webhook.pipeline"
expect "accepted deliveries are audited with their pipeline" "5 webhook:github project:$proj" \
  "$(jget '.__len__()') $(jget "[-1]['actor']") $(jget "[-1]['target']")" "$body"
viewer=$("$bin" token create --role viewer --data "$tmp/data" "${db[@]}")
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $viewer" "$url/api/v1/audit")
expect "the audit trail is for admins: 403 for a viewer" 403 "$code"

# --- the log stream -------------------------------------------------------------------
api POST /api/v1/projects/$proj/pipelines '{"ref":"slow"}'
slow=$(jget "['jobs'][0]['id']")
curl -sN -m 30 -H "Authorization: Bearer $viewer" "$url/api/v1/jobs/$slow/log/stream" >"$tmp/sse" &
spid=$!
# the first stream is open and has sent something before the second starts
for _ in $(seq 1200); do [[ -s $tmp/sse ]] && break; sleep 0.05; done
curl -sN -m 30 -D "$tmp/sse-headers" -H "Authorization: Bearer $viewer" "$url/api/v1/jobs/$slow/log/stream?offset=3" >"$tmp/sse3" &
spid3=$!
# curl's own limit, so a stream that never ends fails the test instead of hanging it
wait $spid $spid3
expect "the stream is text/event-stream" 1 "$(grep -ci '^content-type: text/event-stream' "$tmp/sse-headers")"
expect "it ends with the job's status" 'data: {"status":"success","offset":' \
  "$(grep -A1 '^event: end' "$tmp/sse" | tail -1 | sed 's/\(offset":\).*/\1/')"
python3 - "$tmp/sse" "$tmp/sse3" "$tmp/log" <<'PY' >"$tmp/check"
import json, sys
def events(path):
    evs, cur = [], {}
    for line in open(path, encoding='utf-8').read().split('\n'):
        if line == '':
            if cur: evs.append(cur)
            cur = {}
        elif not line.startswith(':'):
            k, _, v = line.partition(': ')
            cur[k] = v
    return evs
full = events(sys.argv[1])
text = ''.join(json.loads(e['data'])['text'] for e in full if e.get('event') == 'log')
ids_ok = all(int(e['id']) > json.loads(e['data'])['offset'] for e in full if e.get('event') == 'log')
n_log = sum(1 for e in full if e.get('event') == 'log')
part = events(sys.argv[2])
text3 = ''.join(json.loads(e['data'])['text'] for e in part if e.get('event') == 'log')
print(len(text.encode()), n_log > 1, ids_ok, text3 == text[3:])
open(sys.argv[3], 'w', encoding='utf-8', newline='').write(text)
PY
expect "the streamed text is the stored log, byte for byte" "" "$(cmp "$tmp/log" <(job_log "$slow") 2>&1)"
expect "it came in several events while the job ran, ids are offsets, ?offset= skips" \
  "True True True" "$(cut -d' ' -f2- "$tmp/check")" "$(cat "$tmp/check")"
expect "carriage returns and UTF-8 survive" 1 "$(grep -c $'tick 5\r' "$tmp/log")"
last=$(grep '^id: ' "$tmp/sse" | sed -n 2p | cut -d' ' -f2)
curl -sN -m 30 -H "Authorization: Bearer $viewer" -H "Last-Event-ID: $last" "$url/api/v1/jobs/$slow/log/stream" >"$tmp/sse-resume"
first=$(grep -m1 '^data: {"offset"' "$tmp/sse-resume" | python3 -c 'import json,sys; print(json.loads(sys.stdin.read()[6:])["offset"])')
expect "a reconnection with Last-Event-ID resumes there" "$last" "$first"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $viewer" "$url/api/v1/jobs/999999/log/stream")
expect "the stream of an unknown job: 404" 404 "$code"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $viewer" "$url/api/v1/jobs/$slow/log/stream?offset=-1")
expect "a bad offset: 400" 400 "$code"

# a stream open at shutdown ends cleanly
api POST /api/v1/projects/$proj/pipelines '{"ref":"slow"}'
slow2=$(jget "['jobs'][0]['id']")
curl -sN -m 30 -H "Authorization: Bearer $viewer" "$url/api/v1/jobs/$slow2/log/stream" >"$tmp/sse-stop" &
spid=$!
for _ in $(seq 1200); do [[ -s $tmp/sse-stop ]] && break; sleep 0.05; done
kill -TERM "$pid"
wait $spid
expect "SIGTERM: an open stream gets its end event and a clean end of body" "0 1" \
  "$? $(grep -c '"status":"server_stopping"' "$tmp/sse-stop")"
wait "$pid"
expect "SIGTERM: exit 0" 0 "$?"
pid=
finish
