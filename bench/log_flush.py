#!/usr/bin/env python3
"""bench/log_flush.py SLUICE [LINES]: how soon a quiet job's line is visible on the server.

Starts `sluice serve --workers 1` (SQLite in a temporary directory) and runs one job of the
built-in worker that prints LINES lines (default 40), each its own wall-clock time in
nanoseconds (`date +%s%N`) and then nothing for 0.3 to 1.3 s (so every line is a quiet
job's last line until the next). Every other line comes right behind another one ("after
a line": the worker stores the first at once, the second waits for the flush of a quiet
job's output, which is the case the 200 ms is about); the rest follows a quiet spell
("alone": stored as it comes). Two readers watch its log meanwhile:

  poll: GET /api/v1/jobs/{id}/log?offset=N every 5 ms, N from X-Next-Offset;
  sse:  GET /api/v1/jobs/{id}/log/stream, one long response.

For each reader and kind of line, the delay of each line is the moment the reader got it
less the time the line holds; printed as min / median / p95 / max in ms. The server promises a waiting line
is stored within 200 ms (docs/server.md); the stream looks every 200 ms more (docs/api.md).
Figures only; they go in bench/README.md by hand.
"""
import json, os, random, re, shutil, subprocess, sys, tempfile, threading, time, urllib.request

sluice = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build/release/sluice")
nlines = int(sys.argv[2]) if len(sys.argv) > 2 else 40
tmp = tempfile.mkdtemp(prefix="bench-log-flush-")
repo = os.path.join(tmp, "repo")
STAMP = re.compile(r"^(alone|after) (\d{19})\r?$")


def api(method, path, body=None, raw=False):
    req = urllib.request.Request(url + path, method=method,
                                 data=json.dumps(body).encode() if body is not None else None,
                                 headers={"Authorization": "Bearer " + admin,
                                          "Content-Type": "application/json"})
    with urllib.request.urlopen(req) as r:
        data = r.read()
        return (data, r.headers) if raw else json.loads(data or b"null")


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def seen(delays, text):
    """Records the delay of every stamp line in TEXT (whole lines only)."""
    now = time.time_ns()
    for line in text.split("\n"):
        m = STAMP.match(line)
        if m:
            delays.setdefault(m.group(1), []).append((now - int(m.group(2))) / 1e6)


def poller(job, delays, done):
    offset, pending = 0, ""
    while not done.is_set():
        data, h = api("GET", f"/api/v1/jobs/{job}/log?offset={offset}", raw=True)
        offset = int(h.get("X-Next-Offset", offset + len(data)))
        pending += data.decode("utf-8", "replace")
        if "\n" in pending:
            whole, pending = pending.rsplit("\n", 1)
            seen(delays, whole)
        time.sleep(0.005)


def streamer(job, delays):
    req = urllib.request.Request(url + f"/api/v1/jobs/{job}/log/stream",
                                 headers={"Authorization": "Bearer " + admin})
    pending, event = "", None
    with urllib.request.urlopen(req) as r:
        for raw in r:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: ") and event == "log":
                pending += json.loads(line[6:])["text"]
                if "\n" in pending:
                    whole, pending = pending.rsplit("\n", 1)
                    seen(delays, whole)
            elif line.startswith("data: ") and event == "end":
                return


def main():
    global url, admin
    os.makedirs(repo)
    random.seed(11)
    waits = " ".join("%.2f" % random.uniform(0.3, 1.3) for _ in range(nlines // 2))
    open(os.path.join(repo, ".gitlab-ci.yml"), "w").write(
        "quiet:\n  script:\n    - 'for w in %s; do echo \"alone $(date +%%s%%N)\"; sleep $w; "
        "echo before; echo \"after $(date +%%s%%N)\"; sleep $w; done'\n" % waits)
    for args in (["init", "-q", "-b", "main"], ["add", "."],
                 ["-c", "user.email=b@b", "-c", "user.name=b", "commit", "-qm", "bench"]):
        subprocess.run(["git", "-C", repo, *args], check=True)
    out = open(os.path.join(tmp, "out"), "w")
    srv = subprocess.Popen([sluice, "serve", "--listen", "127.0.0.1:0", "--data",
                            os.path.join(tmp, "data"), "--workers", "1"],
                           stdout=out, stderr=open(os.path.join(tmp, "err"), "w"))
    try:
        for _ in range(600):
            m = re.search(r"listening on (http://\S+)", open(os.path.join(tmp, "out")).read())
            if m:
                break
            time.sleep(0.05)
        else:
            raise SystemExit("the server did not start")
        url = m.group(1)
        admin = open(os.path.join(tmp, "data", "admin.token")).read().strip()
        proj = api("POST", "/api/v1/projects", {"name": "flush", "repo_url": repo})["id"]
        pl = api("POST", f"/api/v1/projects/{proj}/pipelines", {"ref": "main"})
        job = pl["jobs"][0]["id"]
        poll_d, sse_d, done = {}, {}, threading.Event()
        threads = [threading.Thread(target=poller, args=(job, poll_d, done)),
                   threading.Thread(target=streamer, args=(job, sse_d))]
        for t in threads:
            t.start()
        threads[1].join(600)  # the stream ends with the job
        done.set()
        threads[0].join(60)
        for name, byk in (("log?offset=", poll_d), ("log/stream", sse_d)):
            for kind in ("alone", "after"):
                d = byk.get(kind)
                if not d:
                    print(f"{name}, {kind}: no line seen")
                    continue
                print(f"{name}, {kind}: {len(d)} lines, print to visible: min "
                      f"{min(d):.0f} ms, median {pct(d, 50):.0f} ms, p95 {pct(d, 95):.0f} ms, "
                      f"max {max(d):.0f} ms")
    finally:
        srv.terminate()
        srv.wait(60)
        shutil.rmtree(tmp, ignore_errors=True)


main()
