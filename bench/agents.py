#!/usr/bin/env python3
"""bench/agents.py SLUICE [AGENTS] [SAMPLES] [JOBS] [wait|poll] [keep|new]: jobs through `sluice agent`s.

Starts `sluice serve --workers 0` (SQLite in a temporary directory) and AGENTS agents
(default 20, concurrency 1 each, shell executor) long-polling it, then measures:

  dispatch latency: SAMPLES one-job pipelines, one at a time; for each, from the moment the
    pipeline's POST has returned (the job is queued then) to the `job received` line of the
    agent that got it (its JSON log, millisecond stamps: the agent writes its first log line
    and sends it in the same instant). p50, p90, p99, max.
  throughput: one pipeline of JOBS jobs (`parallel`, each `true`): jobs/s from the POST to
    the pipeline's success, and the server's CPU time (utime+stime of /proc/PID/stat) per job.
  idle: the server's and the agents' CPU over 10 s while the agents hold their long-polls.
  per job: the server's CPU for each of the SAMPLES one-job pipelines (the API calls that
    create and poll it included), and for each job of the JOBS-job pipeline.

The bench waits for a pipeline's end with held GETs (?wait=60, answered when its status
changes: two or three per pipeline), as `laminarc run` waits without polling; with `poll` it
polls every 5 ms instead, as before (a server older than ?wait= needs `poll`: it would answer
the waits at once and the bench would spin).

The client holds one keep-alive connection per pipeline for its POST and its waits (`keep`,
the default), as `laminarc run` uses one connection per run and the agents keep theirs; `new`
opens a connection for each request, as the bench did before (Python's urllib).

Figures only; they go in bench/README.md by hand.
"""
import datetime, http.client, json, os, re, shutil, signal, socket, subprocess, sys, tempfile, time, urllib.request

sluice = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build/release/sluice")
nagents = int(sys.argv[2]) if len(sys.argv) > 2 else 20
samples = int(sys.argv[3]) if len(sys.argv) > 3 else 100
njobs = int(sys.argv[4]) if len(sys.argv) > 4 else 200
mode = sys.argv[5] if len(sys.argv) > 5 else "wait"
if mode not in ("wait", "poll"):
    raise SystemExit(f"the mode is wait or poll, not {mode}")
conns = sys.argv[6] if len(sys.argv) > 6 else "keep"
if conns not in ("keep", "new"):
    raise SystemExit(f"the connections are keep or new, not {conns}")
tmp = tempfile.mkdtemp(prefix="bench-agents-")
procs = []
TICK = os.sysconf("SC_CLK_TCK")


def cpu_s(pid):
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / TICK


def api(method, path, token, body=None, conn=None):
    """One request; on CONN (an http.client.HTTPConnection kept alive) when given, else on a
    new connection (urllib, which closes it)."""
    if conn is not None:
        conn.request(method, path, body=json.dumps(body).encode() if body is not None else None,
                     headers={"Authorization": "Bearer " + token,
                              "Content-Type": "application/json"})
        r = conn.getresponse()
        data = r.read()
        if r.status >= 400:
            raise SystemExit(f"{method} {path}: {r.status} {data!r}")
        return json.loads(data or b"null")
    req = urllib.request.Request(url + path, method=method,
                                 data=json.dumps(body).encode() if body is not None else None,
                                 headers={"Authorization": "Bearer " + token,
                                          "Content-Type": "application/json"})
    with urllib.request.urlopen(req) as r:
        return json.loads(r.read() or b"null")


def git(*args):
    subprocess.run(["git", "-C", repo, "-c", "user.email=b@b", "-c", "user.name=b", *args],
                   check=True, stdout=subprocess.DEVNULL)


def commit(yml):
    open(os.path.join(repo, ".gitlab-ci.yml"), "w").write(yml)
    git("add", ".")
    git("commit", "-qm", "bench")


def connect():
    """The connection for one pipeline's requests: kept alive (`keep`), or None (`new`)."""
    if conns == "new":
        return None
    host, port = url.split("//")[1].rsplit(":", 1)
    return http.client.HTTPConnection(host, int(port))


def wait_pipeline(pid_, admin, conn=None, bound=600):
    end = time.time() + bound
    while time.time() < end:
        p = api("GET", f"/api/v1/pipelines/{pid_}" + ("?wait=60" if mode == "wait" else ""),
                admin, conn=conn)
        if p["status"] in ("success", "failed", "canceled"):
            return p
        if mode == "poll":
            time.sleep(0.005)
    raise SystemExit("pipeline did not finish")


def received_times():
    """job id -> the agent's `job received` time (epoch seconds)."""
    out = {}
    for i in range(nagents):
        for line in open(os.path.join(tmp, f"agent{i}.err")):
            if '"job received"' not in line:
                continue
            d = json.loads(line)
            t = datetime.datetime.strptime(d["time"], "%Y-%m-%dT%H:%M:%S.%fZ")
            out[int(d["job"])] = t.replace(tzinfo=datetime.timezone.utc).timestamp()
    return out


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


try:
    repo = os.path.join(tmp, "repo")
    os.mkdir(repo)
    git("init", "-q", "-b", "main")
    commit("one:\n  script: ['true']\n")
    srv = subprocess.Popen([sluice, "serve", "--listen", "127.0.0.1:0", "--data",
                            os.path.join(tmp, "data"), "--workers", "0"],
                           stdout=subprocess.PIPE, stderr=open(os.path.join(tmp, "server.err"), "w"),
                           text=True)
    procs.append(srv)
    line = srv.stdout.readline()
    while "listening on" not in line:
        line = srv.stdout.readline()
    url = "http://" + line.split("http://")[1].strip()
    admin = open(os.path.join(tmp, "data", "admin.token")).read().strip()
    proj = api("POST", "/api/v1/projects", admin, {"name": "bench", "repo_url": repo,
                                                   "default_branch": "main"})["id"]
    for i in range(nagents):
        tok = subprocess.run([sluice, "runner", "create", "--name", f"a{i}", "--run-untagged",
                              "--data", os.path.join(tmp, "data")], capture_output=True,
                             text=True, check=True).stdout.split()[-1]
        env = dict(os.environ, SLUICE_RUNNER_TOKEN=tok)
        procs.append(subprocess.Popen([sluice, "agent", "--url", url, "--name", f"a{i}",
                                       "--executor", "shell", "--work-dir",
                                       os.path.join(tmp, f"w{i}")], env=env,
                                      stderr=open(os.path.join(tmp, f"agent{i}.err"), "w")))
    time.sleep(2)  # all agents verified and holding a long-poll

    t0, c0 = time.time(), cpu_s(srv.pid)
    time.sleep(10)
    idle_srv = cpu_s(srv.pid) - c0
    idle_agents = sum(cpu_s(p.pid) for p in procs[1:])
    print(f"idle, {nagents} agents long-polling for 10 s: server CPU {idle_srv * 1000:.0f} ms, "
          f"agents' CPU since start {idle_agents * 1000:.0f} ms in all")

    posted, started = {}, {}
    c0 = cpu_s(srv.pid)
    for i in range(samples):
        t_start = time.time()
        conn = connect()
        p = api("POST", f"/api/v1/projects/{proj}/pipelines", admin, {"ref": "main"}, conn)
        if not p.get("jobs"):
            raise SystemExit(f"no job in the pipeline: {p}")
        posted[p["jobs"][0]["id"]] = time.time()
        started[p["jobs"][0]["id"]] = t_start
        wait_pipeline(p["id"], admin, conn)
        if conn is not None:
            conn.close()
    one = (cpu_s(srv.pid) - c0) * 1000 / samples
    print(f"server CPU per one-job pipeline (created, fetched, planned, dispatched, its trace "
          f"and end stored, {'waited for with ?wait=' if mode == 'wait' else 'polled every 5 ms'} "
          f"until done, {'one connection' if conns == 'keep' else 'a connection per request'}"
          f"): {one:.2f} ms")
    got = received_times()
    # the job is queued inside the POST (after the fetch and the plan), so the truth lies
    # between "from the POST's answer" (may even be negative) and "from the POST's start"
    for what, ref in (("from the POST's answer", posted), ("from the POST's start", started)):
        lat = [(got[j] - t) * 1000 for j, t in ref.items() if j in got]
        print(f"dispatch latency, queued -> the agent's first log line, {what}, {len(lat)} "
              f"jobs, {nagents} agents: p50 {pct(lat, 50):.1f} ms, p90 {pct(lat, 90):.1f} ms, "
              f"p99 {pct(lat, 99):.1f} ms, max {max(lat):.1f} ms")

    commit(f"many:\n  parallel: {njobs}\n  script: ['true']\n")
    c0 = cpu_s(srv.pid)
    t0 = time.time()
    conn = connect()
    p = api("POST", f"/api/v1/projects/{proj}/pipelines", admin, {"ref": "main"}, conn)
    p = wait_pipeline(p["id"], admin, conn)
    if conn is not None:
        conn.close()
    dt = time.time() - t0
    used = cpu_s(srv.pid) - c0
    print(f"throughput: {njobs} jobs on {nagents} agents in {dt:.2f} s = {njobs / dt:.1f} jobs/s "
          f"({p['status']}); server CPU {used * 1000 / njobs:.2f} ms per job")
finally:
    for p in reversed(procs):
        p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
    shutil.rmtree(tmp, ignore_errors=True)
