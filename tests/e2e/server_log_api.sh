#!/usr/bin/env bash
# A job's log by line range and searched on the server, and the operator's log cap, against
# a real `sluice serve --log-cap` running real jobs:
#  - ?lines=A-B answers exactly those lines (the line index finds line A without reading
#    the log from its start), with X-Log-First-Line/-Line-Count/-Offset/-Lines;
#  - /log/search finds lines (ignoring ASCII case and ANSI colours), bounded by limit with
#    next_from to go on; hostile arguments are 400;
#  - a log over the cap is stored up to it and ends with a line saying so; the job still
#    runs to its end;
#  - a line longer than the executor's line buffer is stored whole.
# SL_SERVER_DB: on that store.
. "$(dirname "$0")/lib/e2e.sh"
needs curl python3 git
# shellcheck source=lib/server.sh
. "$src/tests/e2e/lib/server.sh"
# shellcheck source=lib/agents.sh
. "$src/tests/e2e/lib/agents.sh"
jget() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)" <<<"$body"; }

expect "--log-cap refuses a bad size" 2 "$("$bin" serve --log-cap 12Q --data "$tmp/x" >/dev/null 2>&1; echo $?)"
server_start --workers 2 --log-cap 1M || { echo "not ok - server starts"; exit 1; }

git_repo "numbered:
  script:
    - seq -f 'line %06.0f' 1 50000
    - printf '\\033[32mGreen\\033[0m Needle here\\n'
huge:
  script:
    - seq -f 'big %07.0f' 1 200000
    - echo after the cap
wide:
  script:
    - head -c 200000 /dev/zero | tr '\\0' x; echo
    - echo after the wide line"
project_make logs
pipeline_run
wait_for 300 pipeline_done || bad "the pipeline ends" "$body"
expect "the pipeline succeeds (a capped log fails no job)" success "$pstatus"
req GET /api/v1/pipelines/$pl "$admin"
num=$(python3 -c 'import json,sys; print([j["id"] for j in json.load(sys.stdin)["jobs"] if j["name"]=="numbered"][0])' <<<"$body")
huge=$(python3 -c 'import json,sys; print([j["id"] for j in json.load(sys.stdin)["jobs"] if j["name"]=="huge"][0])' <<<"$body")
wide=$(python3 -c 'import json,sys; print([j["id"] for j in json.load(sys.stdin)["jobs"] if j["name"]=="wide"][0])' <<<"$body")

lines() { # lines JOB RANGE -> $code, $body, $hdr
  code=$(curl -s -D "$tmp/hdr" -o "$tmp/body" -w '%{http_code}' -H "Authorization: Bearer $admin" "$url/api/v1/jobs/$1/log?lines=$2")
  body=$(cat "$tmp/body")
  hdr=$(tr -d '\r' <"$tmp/hdr")
}
h() { sed -n "s/^$1: //Ip" <<<"$hdr"; }

# the job's log starts with the runner's own lines: find where the numbers start
req GET "/api/v1/jobs/$num/log/search?q=line%20000001" "$admin"
first=$(jget "['lines'][0]")
[[ $first =~ ^[0-9]+$ ]] && ok "search finds the first numbered line (line $first)" || bad "search finds line 000001" "$body"
lines "$num" "$((first + 29999))-$((first + 30001))"
expect "lines=A-B answers 200" 200 "$code"
expect "lines=A-B is exactly those lines" "line 030000
line 030001
line 030002" "$body"
expect "X-Log-First-Line" "$((first + 29999))" "$(h X-Log-First-Line)"
expect "X-Log-Line-Count" 3 "$(h X-Log-Line-Count)"
off=$(h X-Log-Offset)
expect "X-Log-Offset is where the line starts" "line 030000" "$(curl -s -H "Authorization: Bearer $admin" "$url/api/v1/jobs/$num/log?offset=$off" | head -1)"
total=$(h X-Log-Lines)
lines "$num" "$total-"
has_last=$(grep -c 'Needle' <<<"$(curl -s -H "Authorization: Bearer $admin" "$url/api/v1/jobs/$num/log?lines=$((total - 10))-$total")")
expect "the last lines are reachable by number (the command and its output)" 2 "$has_last"
lines "$num" "$((total + 5))-$((total + 9))"
expect "a range past the end is empty" "200:" "$code:$body"
for bad_range in 0-3 5-2 x-1 1-y -5 "" 1-2-3; do
  lines "$num" "$bad_range"
  expect "lines=$bad_range is refused" 400 "$code"
done
lines 999999 1-2
expect "lines of an unknown job: 404" 404 "$code"

req GET "/api/v1/jobs/$num/log/search?q=green%20NEEDLE" "$admin"
# the line after line 050000 is the printf command as the log echoes it, then its output
expect "search ignores case and ANSI colours" "$((first + 50001))" "$(jget "['lines'][0]")"
req GET "/api/v1/jobs/$num/log/search?q=line%2000001&limit=3" "$admin"
expect "search stops at its limit" "[$((first + 9)), $((first + 10)), $((first + 11))] True" "$(jget "['lines']") $(jget "['truncated']")"
next=$(jget "['next_from']")
req GET "/api/v1/jobs/$num/log/search?q=line%2000001&limit=3&from=$next" "$admin"
expect "next_from goes on from there" "[$((first + 12)), $((first + 13)), $((first + 14))]" "$(jget "['lines']")"
req GET "/api/v1/jobs/$num/log/search?q=nowhere" "$admin"
expect "no match: empty, not truncated" "[] False None" "$(jget "['lines']") $(jget "['truncated']") $(jget "['next_from']")"
long=$(printf 'x%.0s' $(seq 300))
for q in "q=" "q=$long" "q=a&limit=0" "q=a&limit=99999" "q=a&from=0" "q=a&from=x"; do
  req GET "/api/v1/jobs/$num/log/search?$q" "$admin"
  expect "search ${q:0:20} is refused" 400 "$code"
done

# the cap: 1 MiB stored, then the note; what the job printed after it is not there
size=$(curl -s -H "Authorization: Bearer $admin" "$url/api/v1/jobs/$huge/log/raw" | wc -c)
tail=$(curl -s -H "Authorization: Bearer $admin" "$url/api/v1/jobs/$huge/log/raw" | tail -c 300)
((size > 1048576 && size < 1048576 + 300)) && ok "a capped log holds the cap and its note ($size bytes)" || bad "capped log size" "$size"
case $tail in *"reached its cap of 1048576 bytes"*) ok "a capped log says so in its last line" ;; *) bad "the cap's note" "$tail" ;; esac
case $tail in *"after the cap"*) bad "nothing after the cap is stored" "$tail" ;; *) ok "nothing after the cap is stored" ;; esac
req GET "/api/v1/jobs/$huge/log/search?q=reached%20its%20cap" "$admin"
lines "$huge" "$(jget "['lines'][0]")-"
case $body in *"sluice serve --log-cap"*) ok "the note is the log's last line by number too" ;; *) bad "the note by line" "$body" ;; esac

# a line longer than the executor's line buffer (64 KiB) is stored as the job printed it:
# one line, not a line per piece
wide_log=$(curl -s -H "Authorization: Bearer $admin" "$url/api/v1/jobs/$wide/log/raw")
expect "a 200,000-byte line is stored whole, as one line" "1 200000" \
  "$(grep -c '^x*$' <<<"$wide_log" | tr -d ' ') $(grep '^x*$' <<<"$wide_log" | awk '{print length}')"
expect "and the line after it follows it" 1 "$(grep -cx 'after the wide line' <<<"$wide_log")"

server_stop
finish
