#!/usr/bin/env bash
# Feature flags served: /api/client/features with N flags (full answers and 304s per
# second) and frontend evaluations per second.
#   bench/flags.sh [PATH_TO_SLUICE] [FLAGS] [SECONDS]
# One project, FLAGS flags imported into "production" (each a flexibleRollout with two
# constraints and two variants), a client and a frontend token. With wrk installed it
# drives 4 connections per case; without, a keep-alive loop in Python on one connection
# (which measures Python as much as sluice: say which in bench/README.md).
set -euo pipefail
sluice=$(realpath "${1:-build/release/sluice}")
nflags=${2:-1000}
secs=${3:-10}
tmp=$(mktemp -d)
pid=
trap '[[ -n $pid ]] && kill "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT

"$sluice" serve --listen 127.0.0.1:0 --data "$tmp/data" --workers 0 >"$tmp/out" 2>"$tmp/err" &
pid=$!
for _ in $(seq 200); do grep -q 'listening on' "$tmp/out" && break; sleep 0.05; done
url=$(sed -n 's/.*listening on \(http:[^ ]*\).*/\1/p' "$tmp/out")
admin=$(cat "$tmp/data/admin.token")
api() { curl -sf -H "Authorization: Bearer $admin" -H 'Content-Type: application/json' "$@"; }
git init -q "$tmp/repo" # a project's repo_url must be readable when it is made
project=$(api "$url/api/v1/projects" --data "{\"name\":\"bench\",\"repo_url\":\"$tmp/repo\"}" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
python3 - "$nflags" >"$tmp/state.json" <<'PY'
import json, sys
n = int(sys.argv[1])
feats = [{"name": "flag-%05d" % i, "enabled": True,
          "strategies": [{"name": "flexibleRollout",
                          "parameters": {"rollout": "50", "stickiness": "default", "groupId": "g%d" % i},
                          "constraints": [
                              {"contextName": "email", "operator": "STR_ENDS_WITH",
                               "values": ["@example.com"], "caseInsensitive": True},
                              {"contextName": "version", "operator": "SEMVER_GTE", "value": "1.2.0"}]}],
          "variants": [{"name": "a", "weight": 500, "stickiness": "default"},
                       {"name": "b", "weight": 500, "stickiness": "default"}]} for i in range(n)]
print(json.dumps({"version": 1, "features": feats, "segments": []}))
PY
api -X PUT "$url/api/v1/projects/$project/feature_flags/environments/production/state" \
  --data-binary @"$tmp/state.json" >/dev/null
tok() {
  api "$url/api/v1/projects/$project/feature_flags/tokens" --data "{\"type\":\"$1\",\"environment\":\"production\"}" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])'
}
client=$(tok client)
front=$(tok frontend)
size=$(curl -s -H "Authorization: $client" "$url/api/client/features" | wc -c)
etag=$(curl -s -D - -o /dev/null -H "Authorization: $client" "$url/api/client/features" |
  sed -n 's/^[Ee][Tt][Aa][Gg]: *//p' | tr -d '\r')
echo "$nflags flags, answer of $size bytes, ETag $etag"
fq='/api/frontend?userId=42&properties%5Bemail%5D=a%40example.com&properties%5Bversion%5D=1.3.0'

run() { # run NAME PATH HEADER...
  local name=$1 path=$2
  shift 2
  if command -v wrk >/dev/null; then
    local hs=()
    for h in "$@"; do hs+=(-H "$h"); done
    printf '%-36s ' "$name"
    wrk -t2 -c4 -d"${secs}s" "${hs[@]}" "$url$path" | sed -n 's/^Requests\/sec: *//p' | sed 's/$/ req\/s (wrk, 4 connections)/'
  else
    python3 - "$url" "$path" "$secs" "$name" "$@" <<'PY'
import http.client, sys, time, urllib.parse
url, path, secs, name = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]
headers = dict(h.split(": ", 1) for h in sys.argv[5:])
u = urllib.parse.urlparse(url)
c = http.client.HTTPConnection(u.hostname, u.port)
n, codes, t0 = 0, {}, time.time()
while time.time() - t0 < secs:
    c.request("GET", path, headers=headers)
    r = c.getresponse()
    r.read()
    codes[r.status] = codes.get(r.status, 0) + 1
    n += 1
dt = time.time() - t0
print("%-36s %.0f req/s (one keep-alive connection, Python) %s" % (name, n / dt, codes))
PY
  fi
}
run "client features (200, full state)" /api/client/features "Authorization: $client"
run "client features (304, If-None-Match)" /api/client/features "Authorization: $client" "If-None-Match: $etag"
run "frontend evaluation of $nflags flags" "$fq" "Authorization: $front"
echo "RSS after the runs: $(ps -o rss= -p "$pid") kB"
