#!/usr/bin/env python3
"""bench/delayed_jobs.py SLUICE [PIPELINES]: how late delayed jobs start on the server.

Starts `sluice serve --workers 0` (SQLite in a temporary directory; no worker, so a due job
becomes pending and stays so) and creates PIPELINES pipelines (default 30) a random 0 to
300 ms apart, each of eleven delayed jobs: one due in a day (first in the file, so every
pipeline has an earlier row that is not due) and ten with start_in from 3 to 25 s in a
scrambled order. That is 300 jobs that fall due, spread over some 25 s, while 330 wait.

Each job's due time is read from the store while it is scheduled (jobs.due_at, right
after its pipeline is made), the time it
became pending after (jobs.queued_at); lateness = queued_at - due_at. Prints min / median /
p95 / max over the jobs that fell due, and how many of them were more than 1 s late.
Figures only; they go in bench/README.md by hand.
"""
import json, os, random, re, shutil, sqlite3, subprocess, sys, tempfile, time, urllib.request

sluice = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build/release/sluice")
npipelines = int(sys.argv[2]) if len(sys.argv) > 2 else 30
tmp = tempfile.mkdtemp(prefix="bench-delayed-")
repo = os.path.join(tmp, "repo")
STARTS = [3, 25, 7, 12, 4, 18, 9, 21, 5, 15]  # seconds, scrambled


def api(method, path, body=None):
    req = urllib.request.Request(url + path, method=method,
                                 data=json.dumps(body).encode() if body is not None else None,
                                 headers={"Authorization": "Bearer " + admin,
                                          "Content-Type": "application/json"})
    with urllib.request.urlopen(req) as r:
        return json.loads(r.read() or b"null")


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def rows(db, sql):
    con = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=30)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def main():
    global url, admin
    os.makedirs(repo)
    random.seed(11)
    yml = ["workflow:\n  auto_cancel:\n    on_new_commit: none\n",
           "tomorrow:\n  when: delayed\n  start_in: 1 day\n  script: [echo late]\n"]
    for i, s in enumerate(STARTS):
        yml.append("d%d:\n  when: delayed\n  start_in: %d seconds\n  script: [echo soon]\n" % (i, s))
    open(os.path.join(repo, ".gitlab-ci.yml"), "w").write("".join(yml))
    for args in (["init", "-q", "-b", "main"], ["add", "."],
                 ["-c", "user.email=b@b", "-c", "user.name=b", "commit", "-qm", "bench"]):
        subprocess.run(["git", "-C", repo, *args], check=True)
    data = os.path.join(tmp, "data")
    db = os.path.join(data, "sluice.db")
    out = open(os.path.join(tmp, "out"), "w")
    srv = subprocess.Popen([sluice, "serve", "--listen", "127.0.0.1:0", "--data", data,
                            "--workers", "0"], stdout=out, stderr=open(os.path.join(tmp, "err"), "w"))
    try:
        for _ in range(600):
            m = re.search(r"listening on (http://\S+)", open(os.path.join(tmp, "out")).read())
            if m:
                break
            time.sleep(0.05)
        else:
            raise SystemExit("the server did not start")
        url = m.group(1)
        admin = open(os.path.join(data, "admin.token")).read().strip()
        proj = api("POST", "/api/v1/projects", {"name": "delayed", "repo_url": repo})["id"]
        due = {}
        for _ in range(npipelines):
            pl = api("POST", f"/api/v1/projects/{proj}/pipelines", {"ref": "main"})["id"]
            due.update(rows(db, "SELECT id, due_at FROM jobs WHERE status = 'scheduled' "
                                f"AND name != 'tomorrow' AND pipeline_id = {pl}"))
            time.sleep(random.uniform(0, 0.3))
        want = npipelines * len(STARTS)
        if len(due) != want:
            raise SystemExit(f"{len(due)} jobs scheduled, want {want} (one fell due already?)")
        last = max(due.values()) / 1000
        while time.time() < last + 30:
            left = rows(db, "SELECT count(*) FROM jobs WHERE status = 'scheduled' "
                            "AND name != 'tomorrow'")[0][0]
            if left == 0:
                break
            time.sleep(0.5)
        queued = dict(rows(db, "SELECT id, queued_at FROM jobs WHERE status = 'pending'"))
        late = [(queued[i] - d) for i, d in due.items() if queued.get(i)]
        waiting = rows(db, "SELECT count(*) FROM jobs WHERE status = 'scheduled'")[0][0]
        print(f"{len(late)} of {want} delayed jobs became pending ({waiting} still scheduled, "
              f"the {npipelines} due tomorrow among them)")
        if late:
            print(f"lateness (queued_at - due_at): min {min(late)} ms, median {pct(late, 50)} ms, "
                  f"p95 {pct(late, 95)} ms, max {max(late)} ms; "
                  f"{sum(1 for x in late if x > 1000)} more than 1 s late, "
                  f"{sum(1 for x in late if x < 0)} early")
    finally:
        srv.terminate()
        srv.wait(60)
        shutil.rmtree(tmp, ignore_errors=True)


main()
