#!/usr/bin/env bash
# `make demo`'s script (scripts/demo.sh) on a copy of examples/demo, stdin not a terminal,
# as the newcomer check and CI run it: the local run, then sluice serve with the project
# registered and one pipeline run through the API, the URL and the token's file printed,
# and the server stopped afterwards. Run twice: the second run reuses the server's data.
. "$(dirname "$0")/lib/e2e.sh"
needs curl python3 git cc
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok - $1"; }
bad() { fail=$((fail + 1)); echo "not ok - $1"; [[ $# -gt 1 ]] && echo "$2" | sed 's/^/#   /'; }
expect() { # expect NAME WANT GOT [detail]
  if [[ $2 == "$3" ]]; then ok "$1"; else bad "$1: got '$3', want '$2'" "${4:-}"; fi
}

mkdir -p "$tmp/scripts" "$tmp/examples"
cp "$src/scripts/demo.sh" "$tmp/scripts/"
tar -C "$src/examples" --exclude=./demo/.sluice -cf - ./demo | tar -C "$tmp/examples" -xf -
bin=$(realpath "$bin")

for round in 1 2; do
  bash "$tmp/scripts/demo.sh" "$bin" </dev/null >"$tmp/out$round" 2>&1
  rc=$?
  out=$(sed 's/\x1b\[[0-9;]*m//g' "$tmp/out$round")
  expect "run $round: the demo exits 0" 0 "$rc" "$(tail -20 <<<"$out")"
  expect "run $round: the local run still comes first" 1 "$(grep -c '^== sluice run --manual deploy' <<<"$out")"
  pl=$(sed -n 's/^pipeline \([0-9]*\): success$/\1/p' <<<"$out")
  expect "run $round: the server's pipeline $round succeeded" "$round" "$pl" "$(tail -20 <<<"$out")"
  expect "run $round: its 8 jobs are listed, all success (the manual deploy played)" 8 \
    "$(grep -cE '^  [a-z].* (build|test|deploy) +success' <<<"$out")"
  url=$(sed -n 's/^The server: \(http:[^ ]*\).*/\1/p' <<<"$out")
  expect "run $round: the URL is printed" 1 "$(grep -c '^http://127.0.0.1:[0-9]*$' <<<"$url")"
  expect "run $round: the admin token's file is printed" 1 \
    "$(grep -c "^Admin token: $tmp/examples/demo/.sluice/server/admin.token" <<<"$out")"
  expect "run $round: it says what it ran" 1 "$(grep -c '^The demo ran: sluice lint, sluice plan, sluice run' <<<"$out")"
  expect "run $round: it says nothing is left running" 1 "$(grep -c '^Still running: nothing' <<<"$out")"
  code=$(curl -s -o /dev/null -w '%{http_code}' "$url/healthz")
  expect "run $round: stdin is not a terminal, so the server is stopped" 000 "$code"
done
expect "the token file is 0600" 600 "$(stat -c %a "$tmp/examples/demo/.sluice/server/admin.token")"
expect "the second run finds the project registered" 1 \
  "$(grep -c "the project 'demo' is registered" "$tmp/out2")"

echo "# $pass passed, $fail failed"
((fail == 0))
