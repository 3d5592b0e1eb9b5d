#!/usr/bin/env bash
# Webhook-to-job-start latency of sluice serve, and its idle RSS.
#   bench/server_latency.sh [PATH_TO_SLUICE] [ROUNDS]
# Each round commits to a local repository, then POSTs a signed GitHub push for that commit
# to /hooks/github; the time from just before the POST to (a) the worker's "job started"
# log line (the job was claimed: running) and (b) the job's first script line (its shell
# runs `date +%s%N`) is printed, with the median and the worst. The webhook's answer comes
# after the pipeline is stored, so (a) covers fetching the repository into the mirror,
# checking the commit out, planning, storing and the claim.
set -euo pipefail
sluice=$(realpath "${1:-build/release/sluice}")
rounds=${2:-20}
tmp=$(mktemp -d)
pid=
trap '[[ -n $pid ]] && kill "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT
git_c() { git -C "$tmp/repo" -c user.email=b@b -c user.name=b "$@"; }
mkdir "$tmp/repo"
git -C "$tmp/repo" init -q -b main
printf 'job:\n  script:\n    - date +%%s%%N\n' >"$tmp/repo/.gitlab-ci.yml"
git_c add . && git_c commit -qm init

"$sluice" serve --listen 127.0.0.1:0 --data "$tmp/data" >"$tmp/out" 2>"$tmp/err" &
pid=$!
for _ in $(seq 100); do grep -q 'listening on' "$tmp/out" && break; sleep 0.05; done
url=$(sed -n 's/.*listening on \(http:[^ ]*\).*/\1/p' "$tmp/out")
sleep 1
echo "idle RSS 1 s after start: $(ps -o rss= -p "$pid") kB"
admin=$(cat "$tmp/data/admin.token")
curl -sf -H "Authorization: Bearer $admin" "$url/api/v1/projects" \
  --data-binary "{\"name\":\"b\",\"repo_url\":\"$tmp/repo\",\"webhook_secret\":\"s\"}" >/dev/null

python3 - "$url" "$admin" "$tmp" "$rounds" <<'PY'
import calendar, hashlib, hmac, json, subprocess, sys, time, urllib.request
url, admin, tmp, rounds = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
def api(path):
    r = urllib.request.Request(url + path, headers={"Authorization": "Bearer " + admin})
    return json.load(urllib.request.urlopen(r))
def started_at(job_id, log_from):
    # the worker's "job started" line for JOB_ID, as epoch seconds
    for line in open(tmp + "/err", encoding="utf-8").read().splitlines()[log_from:]:
        d = json.loads(line)
        if d.get("msg") == "job started" and d.get("job_id") == str(job_id):
            t = time.strptime(d["time"][:19], "%Y-%m-%dT%H:%M:%S")
            return calendar.timegm(t) + int(d["time"][20:23]) / 1000
    return None
claim, script = [], []
for i in range(rounds):
    subprocess.run(["git", "-C", tmp + "/repo", "-c", "user.email=b@b", "-c", "user.name=b",
                    "commit", "-q", "--allow-empty", "-m", str(i)], check=True)
    sha = subprocess.run(["git", "-C", tmp + "/repo", "rev-parse", "main"], check=True,
                         capture_output=True, text=True).stdout.strip()
    body = json.dumps({"ref": "refs/heads/main", "after": sha,
                       "repository": {"clone_url": tmp + "/repo"}}).encode()
    sig = "sha256=" + hmac.new(b"s", body, hashlib.sha256).hexdigest()
    log_from = len(open(tmp + "/err", encoding="utf-8").read().splitlines())
    req = urllib.request.Request(url + "/hooks/github", data=body, method="POST", headers={
        "X-GitHub-Event": "push", "X-Hub-Signature-256": sig, "Content-Type": "application/json"})
    t0 = time.time()
    pl = json.load(urllib.request.urlopen(req))
    for _ in range(500):
        got = api("/api/v1/pipelines/%d" % pl["id"])
        if got["status"] in ("success", "failed"):
            break
        time.sleep(0.01)
    job = got["jobs"][0]["id"]
    r = urllib.request.Request(url + "/api/v1/jobs/%d/log" % job,
                               headers={"Authorization": "Bearer " + admin})
    log = urllib.request.urlopen(r).read().decode()
    first = next(int(l) for l in log.splitlines() if l.strip().isdigit()) / 1e9
    claim.append((started_at(job, log_from) - t0) * 1000)
    script.append((first - t0) * 1000)
def show(name, v):
    v = sorted(v)
    print("%s: median %.1f ms, min %.1f, max %.1f (%d rounds)" % (name, v[len(v) // 2], v[0], v[-1], len(v)))
show("webhook POST -> job claimed (running)", claim)
show("webhook POST -> job's first script line", script)
PY
echo "RSS after $rounds pipelines: $(ps -o rss= -p "$pid") kB"
