#!/usr/bin/env bash
# A quiet running job's log is shown while it runs: a job of the built-in workers prints one
# line and then waits, printing nothing, until the script lets it go. Before that, the line
# must be in GET /jobs/{id}/log?offset=N (read from where an earlier read stopped, as a
# client polling with X-Next-Offset does) and in the SSE stream GET /jobs/{id}/log/stream
# opened before the line was printed; the job is still running when both show it. The
# server flushes a quiet job's output every 200 ms (docs/server.md); a line held until the
# next one or the job's end never shows here and the waits fail. How long a line takes to
# show is a figure for bench/log_flush.sh, not a bound here. SL_SERVER_DB: on that store.
. "$(dirname "$0")/lib/e2e.sh"
needs curl python3 git
spid=
cleanup() {
  [[ -n $spid ]] && kill "$spid" 2>/dev/null
  [[ -n ${pid:-} ]] && kill -9 "$pid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
# shellcheck source=lib/server.sh
. "$src/tests/e2e/lib/server.sh"
# shellcheck source=lib/agents.sh
. "$src/tests/e2e/lib/agents.sh"
shared_dir
sh=$tmp/shared

server_start --workers 1 || { bad "server starts"; finish; exit 1; }
# the job waits for "begin" before printing, so the stream and the first read are there
# before the line is; then it prints one line (no other output follows) and waits for "end"
git_repo "quiet:
  script:
    - while [ ! -e $sh/begin ]; do sleep 0.05; done
    - echo the-quiet-line
    - while [ ! -e $sh/end ]; do sleep 0.05; done"
project_make quiet
pipeline_run
job=$(jget "['jobs'][0]['id']")
job_status() { api GET /api/v1/jobs/$job; jget "['status']"; }
running() { [[ $(job_status) == running ]]; }
wait_for 120 running || bad "the job runs" "$body"

curl -sN -m 600 -H "Authorization: Bearer $admin" "$url/api/v1/jobs/$job/log/stream" >"$tmp/sse" &
spid=$!
# the stream is open: it sent what the log holds so far (the job's first lines)
wait_for 60 grep -qs '^event: log' "$tmp/sse" || bad "the stream sends the log so far" "$(cat "$tmp/sse")"
offset() { curl -s -o /dev/null -D - -H "Authorization: Bearer $admin" "$url/api/v1/jobs/$job/log?offset=0" |
  tr -d '\r' | sed -n 's/^[Xx]-[Nn]ext-[Oo]ffset: //p'; }
from=$(offset)
expect "the log has an X-Next-Offset before the line" yes "$([[ $from =~ ^[0-9]+$ ]] && echo yes)" "$from"
out=$(curl -s -H "Authorization: Bearer $admin" "$url/api/v1/jobs/$job/log")
lacks "the line is not printed yet" "the-quiet-line"

touch "$sh/begin"
polled() {
  body=$(curl -s -H "Authorization: Bearer $admin" "$url/api/v1/jobs/$job/log?offset=$from")
  grep -qx 'the-quiet-line' <<<"$body"
}
if wait_for 120 polled; then ok "log?offset=$from shows the quiet line"; else
  bad "log?offset=$from shows the quiet line" "$body"; fi
streamed() {
  python3 - "$tmp/sse" <<'PY'
import json, sys
text = ''
for block in open(sys.argv[1], encoding='utf-8', errors='replace').read().split('\n\n'):
    lines = dict(l.split(': ', 1) for l in block.split('\n') if ': ' in l and not l.startswith(':'))
    if lines.get('event') == 'log':
        text += json.loads(lines['data'])['text']
sys.exit(0 if 'the-quiet-line' in text.replace('\r', '').split('\n') else 1)
PY
}
if wait_for 120 streamed; then ok "the SSE stream shows the quiet line"; else
  bad "the SSE stream shows the quiet line" "$(cat "$tmp/sse")"; fi
expect "the job is still running when both show it" running "$(job_status)"
out=$(cat "$tmp/sse")
lacks "the stream has not ended" "event: end"

touch "$sh/end"
wait $spid
spid=
out=$(cat "$tmp/sse")
has "the stream ends with the job's success" '"status":"success"'
server_stop
finish
