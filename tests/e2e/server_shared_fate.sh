#!/usr/bin/env bash
# No shared fate between projects: a project whose repository URL never answers (a listener
# that accepts and says nothing) holds only its own lock while its fetch hangs; another
# project's pipeline is created and runs meanwhile. With --git-timeout, the fetch gives up
# on a remote silent for that long, and the request gets the error.
. "$(dirname "$0")/lib/e2e.sh"
needs curl python3 git ss
. "$(dirname "$0")/lib/server.sh"
hang=
trap '[[ -n $hang ]] && kill "$hang" 2>/dev/null; server_stop; rm -rf "$tmp"' EXIT

printf 'job:\n  script: [echo fine]\n' | repo_ci "$tmp/repo" || exit 1
mkdir "$tmp/remote" && git clone -q --bare "$tmp/repo" "$tmp/remote/x.git" || exit 1

# the silent remote: answers the check when the project is made (one request), then accepts
# connections, reads, and never answers
python3 "$(dirname "$0")/lib/git_http_backend.py" "$tmp/remote" "$tmp/port" --answer 1 &
hang=$!
wait_for 10 test -s "$tmp/port" || { bad "the silent remote listens"; finish; exit 1; }

server_start --workers 1 || exit 1
req POST /api/v1/projects "$admin" "{\"name\":\"silent\",\"repo_url\":\"http://127.0.0.1:$(cat "$tmp/port")/x.git\"}"
expect "the project is made while its remote still answers" 201 "$code" "$body"
silent=$(jget "['id']")
req POST /api/v1/projects "$admin" "{\"name\":\"fine\",\"repo_url\":\"$tmp/repo\"}"
fine=$(jget "['id']")

# the silent project's pipeline: its fetch hangs (in the background, bounded by curl)
curl -s -m 120 -o "$tmp/silent.out" -w '%{http_code}' -X POST -H "Authorization: Bearer $admin" \
  "$url/api/v1/projects/$silent/pipelines" --data-binary '{}' >"$tmp/silent.code" &
cpid=$!
# the server is connected to the silent remote (its socket is one more fd there)
wait_for 30 bash -c "ss -tn state established 2>/dev/null | grep -q ':$(cat "$tmp/port") '"
expect "the silent project's fetch hangs" 1 "$(kill -0 $cpid 2>/dev/null && echo 1 || echo 0)"

# bounded: a server with one lock for every fetch would keep this waiting for ever
code=$(curl -s -m 60 -o "$tmp/body" -w '%{http_code}' -X POST -H "Authorization: Bearer $admin" \
  "$url/api/v1/projects/$fine/pipelines" --data-binary '{}')
body=$(cat "$tmp/body")
expect "another project's pipeline is created meanwhile" 201 "$code" "$body"
pl=$(jget "['id']")
done_ok() { req GET /api/v1/pipelines/$pl "$admin"; [[ $(jget "['status']") == success ]]; }
wait_for 60 done_ok
expect "and runs to success" success "$(jget "['status']")" "$body"
expect "while the silent one still hangs" 1 "$(kill -0 $cpid 2>/dev/null && echo 1 || echo 0)"

kill "$hang" 2>/dev/null
wait "$hang" 2>/dev/null
hang=
wait $cpid
expect "the hung request ends with an error once the remote goes away" 1 \
  "$([[ $(cat "$tmp/silent.code") =~ ^[45] ]] && echo 1 || echo 0)" "$(cat "$tmp/silent.code") $(cat "$tmp/silent.out")"

# a fetch gives up on a remote that stays silent (--git-timeout): the request that made
# the pipeline gets its error, the HTTP thread is free again, the server stops cleanly
server_stop
rm -f "$tmp/port"
python3 "$(dirname "$0")/lib/git_http_backend.py" "$tmp/remote" "$tmp/port" --answer 1 &
hang=$!
wait_for 10 test -s "$tmp/port" || { bad "the silent remote listens again"; finish; exit 1; }
server_start --workers 1 --git-timeout 2 || exit 1
req PUT /api/v1/projects/$silent "$admin" "{\"repo_url\":\"http://127.0.0.1:$(cat "$tmp/port")/x.git\"}"
expect "the project moves to the new remote while it answers" 200 "$code" "$body"
req POST /api/v1/projects/$silent/pipelines "$admin" '{}'
expect "a pipeline's fetch from a remote silent for 2 s fails, saying so" "400 1" \
  "$code $(grep -c "127.0.0.1:$(cat "$tmp/port") sent nothing for 2 s" <<<"$body")" "$body"
req POST /api/v1/projects/$fine/pipelines "$admin" '{}'
expect "the server goes on" 201 "$code" "$body"
req POST /api/v1/projects/$silent/pipelines "$admin" '{}'
expect "the next try fails the same way (the lock was let go)" 400 "$code" "$body"
finish
