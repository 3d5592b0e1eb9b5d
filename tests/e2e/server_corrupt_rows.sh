#!/usr/bin/env bash
# A corrupt row is an error, never a crash: with the server stopped, the stored jobs' specs
# are overwritten with text that is not the JSON the server wrote (not JSON, an array, keys
# of the wrong types, an empty string, bytes that are no UTF-8) and a pipeline's variables
# and lint errors too; then the server starts again (recovery reads those rows), answers
# the pipeline, its jobs, a retry, a play, a cancel and the metrics (200, or an error
# status: never a dropped connection), its built-in worker fails the corrupt jobs it claims
# and the pipeline finishes (a job whose spec cannot be read is scheduled from its row's
# columns, transitions.c), and it still stops cleanly (exit 0, no sanitizer report).
. "$(dirname "$0")/lib/e2e.sh"
needs curl python3 git sqlite3
. "$(dirname "$0")/lib/server.sh"
db=() # the rows are corrupted with sqlite3: this script's store is the data directory's
trap 'server_stop; rm -rf "$tmp"' EXIT
shared_dir

{
  printf 'a:\n  script: [echo a]\n'
  printf 'b:\n  needs: [a]\n  script: [echo b]\n'
  printf 'c:\n  stage: test\n  script: [echo c]\n'
  printf 'd:\n  stage: deploy\n  when: manual\n  script: [echo d]\n'
  printf 'e:\n  stage: deploy\n  script: [echo e]\n'
  printf 'f:\n  stage: deploy\n  retry: 2\n  script: [echo f]\n'
} | repo_ci "$tmp/repo" || exit 1

server_start --workers 0 || exit 1
req POST /api/v1/projects "$admin" "{\"name\":\"corrupt\",\"repo_url\":\"$tmp/repo\"}"
project=$(jget "['id']")
req POST /api/v1/projects/$project/pipelines "$admin" '{}'
expect "the pipeline is created" 201 "$code" "$body"
pipeline=$(jget "['id']")
server_stop

sqlite3 "$tmp/data/sluice.db" <<SQL || bad "the rows are corrupted with sqlite3"
UPDATE jobs SET spec = 'not json at all' WHERE name = 'a';
UPDATE jobs SET spec = '[1, 2, 3]' WHERE name = 'b';
UPDATE jobs SET spec = '{"needs":"a","stage_idx":[1],"nstages":"x","when":7,"retry_max":{}}' WHERE name = 'c';
UPDATE jobs SET spec = '' WHERE name = 'd';
UPDATE jobs SET spec = CAST(X'7B226E65656473223A5BFF' AS TEXT) WHERE name = 'e';
UPDATE jobs SET spec = '{"needs":[99999999,-1],"allow_exit_codes":"x"}' WHERE name = 'f';
UPDATE pipelines SET variables = '{{{', yaml_errors = '"x"' WHERE id = $pipeline;
SQL

alive() {
  req GET /healthz ""
  expect "$1: the server still answers" 200 "$code"
}
answered() { # NAME: any HTTP status, not a dropped connection (curl's 000)
  if [[ $code != 000 && -n $code ]]; then ok "$1: answered ($code)"; else bad "$1: no answer"; fi
}

# recovery at start reads every unfinished job's row
server_start --workers 0 || { bad "the server starts on corrupt rows"; exit 1; }
ok "the server starts on corrupt rows"
req GET /api/v1/pipelines/$pipeline "$admin"
answered "GET the pipeline"
req GET "/api/v1/pipelines/$pipeline?include_retried=true" "$admin"
answered "GET the pipeline with its retried jobs"
req GET /api/v1/projects/$project/pipelines "$admin"
answered "GET the project's pipelines"
for name in a b c d e f; do
  id=$(sqlite3 "$tmp/data/sluice.db" "SELECT id FROM jobs WHERE name = '$name'")
  req GET /api/v1/jobs/$id "$admin"
  answered "GET job $name"
  req POST /api/v1/jobs/$id/retry "$admin" '{}'
  answered "retry job $name"
  req POST /api/v1/jobs/$id/play "$admin" '{}'
  answered "play job $name"
done
req GET /metrics "$admin"
expect "GET /metrics" 200 "$code"
alive "after the reads and actions"
server_stop

# a worker claims what is pending: a job it cannot decode fails, the server goes on
rm -f "$tmp/err"
server_start --workers 1 || { bad "the server starts with a worker on corrupt rows"; exit 1; }
settled() {
  [[ $(sqlite3 "$tmp/data/sluice.db" "SELECT count(*) FROM jobs WHERE status IN ('pending', 'running')") == 0 ]]
}
wait_for 60 settled
expect "the worker settles every pending corrupt job" 0 \
  "$(sqlite3 "$tmp/data/sluice.db" "SELECT count(*) FROM jobs WHERE status IN ('pending', 'running')")"
status_of() { sqlite3 "$tmp/data/sluice.db" "SELECT status FROM jobs WHERE name = '$1' ORDER BY id DESC LIMIT 1"; }
# a, b and c cannot be decoded into a runnable job: they fail (their pipeline is not wedged
# on their rows), and what came after them in later stages is skipped
for name in a b c; do
  expect "job $name, whose spec is corrupt, failed" failed "$(status_of "$name")"
done
expect "no corrupt job passed" 0 \
  "$(sqlite3 "$tmp/data/sluice.db" "SELECT count(*) FROM jobs WHERE status = 'success'")"
pstatus=$(sqlite3 "$tmp/data/sluice.db" "SELECT status FROM pipelines WHERE id = $pipeline")
expect "the pipeline finished failed" failed "$pstatus"
req POST /api/v1/pipelines/$pipeline/cancel "$admin" '{}'
answered "cancel the pipeline"
alive "after the worker and the cancel"
server_stop

# JSON the server keeps in other rows: a notification rule's events, an audit event's
# detail. A rule whose events cannot be read is an error the API says (500 naming the
# rule), it sends nothing (a rule read as "no events" or "all events" would be silent),
# and the other rule of the project goes on; each unreadable row is logged.
server_start --workers 1 || { bad "the server starts again"; exit 1; }
api POST /api/v1/projects/$project/notifications '{"channel":"webhook","target":"http://127.0.0.1:9/good","events":["failed","success"]}'
expect "a good rule is made" 201 "$code" "$body"
good=$(jget "['id']")
api POST /api/v1/projects/$project/notifications '{"channel":"webhook","target":"http://127.0.0.1:9/corrupt","events":["failed","success"]}'
expect "a rule to corrupt is made" 201 "$code" "$body"
broken=$(jget "['id']")
server_stop
sqlite3 "$tmp/data/sluice.db" <<SQL || bad "the rule and audit rows are corrupted with sqlite3"
UPDATE notification_rules SET events = '["failed", ' WHERE id = $broken;
UPDATE audit_events SET detail = '{"project":' WHERE action = 'notification.create';
SQL
: >"$tmp/err"
server_start --workers 1 || { bad "the server starts on a corrupt rule"; exit 1; }
api GET /api/v1/projects/$project/notifications
expect "listing rules with a corrupt one answers 500" 500 "$code" "$body"
out=$body has "the answer names the corrupt rule" "notification rule $broken cannot be read"
api GET /api/v1/audit
expect "the audit log answers with corrupt details" 200 "$code" "$body"
expect "the corrupt details are shown as empty objects" "[{}, {}]" \
  "$(python3 -c "import json,sys; print([e['detail'] for e in json.load(sys.stdin) if e['action'] == 'notification.create'])" <<<"$body")"
out=$(cat "$tmp/err") has "the unreadable audit detail is logged" '"row":"audit event'"'"'s detail"'
api POST /api/v1/projects/$project/pipelines '{}'
expect "a pipeline to notify about is created" 201 "$code" "$body"
second=$(jget "['id']")
finished() {
  [[ $(sqlite3 "$tmp/data/sluice.db" "SELECT finished_at IS NOT NULL FROM pipelines WHERE id = $second") == 1 ]]
}
wait_for 120 finished || bad "pipeline $second finishes"
queued() { [[ $(sqlite3 "$tmp/data/sluice.db" "SELECT count(*) FROM deliveries WHERE source_id = $good") -ge 1 ]]; }
wait_for 60 queued
expect "the good rule queues its message" 1 \
  "$(sqlite3 "$tmp/data/sluice.db" "SELECT count(*) >= 1 FROM deliveries WHERE source_id = $good")"
expect "the corrupt rule queues none" 0 \
  "$(sqlite3 "$tmp/data/sluice.db" "SELECT count(*) FROM deliveries WHERE source_id = $broken")"
out=$(cat "$tmp/err") has "the unreadable rule is logged with its id" \
  '"row":"notification rule'"'"'s events","id":"'"$broken"'"'
alive "after the corrupt rule"

# a feature flag whose stored strategies cannot be read goes to Unleash clients disabled
# (read as [] they would turn it on for everyone), and the row is logged
# (a segment read as having no constraints would match everyone: its flags too)
api PUT /api/v1/projects/$project/feature_flags/environments/production/state '{"version":1,
  "segments":[{"id":1,"name":"beta","constraints":[{"contextName":"plan","operator":"IN","values":["beta"]}]}],
  "features":[{"name":"guarded","enabled":true,"strategies":[{"name":"default"}]},
    {"name":"segmented","enabled":true,"strategies":[{"name":"default","segments":[1]}]},
    {"name":"plain","enabled":true,"strategies":[{"name":"default"}]}]}'
expect "flags and a segment are imported" 200 "$code" "$body"
api POST /api/v1/projects/$project/feature_flags/tokens '{"type":"client","environment":"production"}'
ctoken=$(jget "['token']")
flags_enabled() {
  curl -s -H "Authorization: $ctoken" "$url/api/client/features" |
    python3 -c "import json,sys; print(sorted((f['name'], f['enabled']) for f in json.load(sys.stdin)['features']))"
}
expect "the flags are enabled" "[('guarded', True), ('plain', True), ('segmented', True)]" "$(flags_enabled)"
server_stop
sqlite3 "$tmp/data/sluice.db" <<SQL || bad "the flag's strategies and the segment are corrupted with sqlite3"
UPDATE feature_flag_envs SET strategies = '[{"name":' WHERE flag_id = (SELECT id FROM feature_flags WHERE name = 'guarded');
UPDATE feature_flag_segments SET constraints = '{"contextName"' WHERE segment_id = 1;
SQL
server_start --workers 0 || { bad "the server starts on a corrupt flag"; exit 1; }
expect "a flag with unreadable strategies, or using an unreadable segment, is sent disabled" \
  "[('guarded', False), ('plain', True), ('segmented', False)]" "$(flags_enabled)"
out=$(cat "$tmp/err") has "the unreadable strategies are logged" '"row":"feature flag'"'"'s strategies"'
out=$(cat "$tmp/err") has "the unreadable segment is logged" '"row":"flag segment'"'"'s constraints","id":"1"'
alive "after the corrupt flag"
finish
