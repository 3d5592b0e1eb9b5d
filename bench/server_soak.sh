#!/usr/bin/env bash
# Memory soak of sluice serve: creates PIPELINES one-job pipelines through the API (and, with
# WORKERS > 0, runs them) and prints the server's RSS every EVERY pipelines.
#   bench/server_soak.sh [PATH_TO_SLUICE] [PIPELINES] [WORKERS] [EVERY]
# RSS must stay flat after warm-up: a growth per pipeline is a leak or an unbounded cache.
set -euo pipefail
sluice=$(realpath "${1:-build/release/sluice}")
n=${2:-5000}
workers=${3:-1}
every=${4:-500}
tmp=$(mktemp -d)
pid=
trap '[[ -n $pid ]] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"' EXIT
git_c() { git -C "$tmp/repo" -c user.email=b@b -c user.name=b "$@"; }
mkdir "$tmp/repo"
git -C "$tmp/repo" init -q -b main
printf 'job:\n  script:\n    - echo hi\n' >"$tmp/repo/.gitlab-ci.yml"
git_c add . && git_c commit -qm init

"$sluice" serve --listen 127.0.0.1:0 --data "$tmp/data" --workers "$workers" \
  >"$tmp/out" 2>"$tmp/err" &
pid=$!
for _ in $(seq 200); do grep -q 'listening on' "$tmp/out" && break; sleep 0.05; done
url=$(sed -n 's/.*listening on \(http:[^ ]*\).*/\1/p' "$tmp/out")
echo "idle RSS: $(ps -o rss= -p "$pid") kB"
python3 - "$url" "$tmp" "$n" "$every" "$pid" "$workers" <<'PY'
import json, sys, time, urllib.request
url, tmp, n, every, pid, workers = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5], int(sys.argv[6])
admin = open(tmp + "/data/admin.token").read().strip()
def api(path, body=None):
    r = urllib.request.Request(url + path, data=None if body is None else json.dumps(body).encode(),
                               headers={"Authorization": "Bearer " + admin})
    return json.load(urllib.request.urlopen(r))
def rss():
    for l in open("/proc/%s/status" % pid):
        if l.startswith("VmRSS:"):
            return int(l.split()[1])
def cpu():
    f = open("/proc/%s/stat" % pid).read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / 100.0
proj = api("/api/v1/projects", {"name": "soak", "repo_url": tmp + "/repo"})["id"]
t0, c0 = time.time(), cpu()
last = None
for i in range(1, n + 1):
    pl = api("/api/v1/projects/%d/pipelines" % proj, {})
    if workers:
        while pl["status"] not in ("success", "failed", "canceled"):
            time.sleep(0.002)
            pl = api("/api/v1/pipelines/%d" % pl["id"])
    if i % every == 0:
        print("%6d pipelines: RSS %6d kB, server CPU %.2f s, wall %.1f s" % (i, rss(), cpu() - c0, time.time() - t0), flush=True)
print("server CPU per pipeline (API included): %.2f ms" % ((cpu() - c0) * 1000 / n))
PY
