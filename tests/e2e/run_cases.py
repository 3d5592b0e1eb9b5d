#!/usr/bin/env python3
"""Replays the `sluice run` cases of tests/cases/run/ (format: tests/cases/run/README.md).

Each case directory is copied into a fresh git repository (branch main, one commit), then
`$SLUICE_BIN run --json ARGS...` runs there once per section of its `expect` file, and the
JSON-lines events are checked against the expectations. Prints `ok`/`not ok` lines and a
final `N passed, N failed`; exits 1 when anything failed.

With --server the same cases run through `sluice serve` instead (one server for the whole
replay, a project per case on the case's repository, a pipeline per run created through the
API): the server's answers (pipeline and job statuses, attempts, failure reasons, coverage,
the test report, logs, start and end times) are turned into the events the checks read, so
every case asserts the same outcome in both modes. What only a command line has (job
selection, --stage, -f, another directory, sluice's stderr and its .sluice/ log files) is
local-only: such a run, or such a check, is reported as skipped with the reason.

Usage: run_cases.py [-v] [--server] [CASE...]   (CASE: a directory under tests/cases/run/)
"""
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from datetime import datetime

SRC = os.environ.get("SL_SOURCE_DIR") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
CASES = os.path.join(SRC, "tests", "cases", "run")
BIN = os.environ.get("SLUICE_BIN")
JOB_STATUSES = {"created", "pending", "running", "success", "failed", "canceled", "skipped",
                "manual", "scheduled", "warning"}
FINAL = {"success", "failed", "canceled", "skipped", "warning"}
DEFAULT_WITHIN = 120.0

verbose = False
server = None   # the Server of a --server replay
passed = 0
failed = 0
skipped = 0
todos = 0
failures = []


todo_case = None  # the SERVER_TODO reason of the case being replayed


def report(ok, name, detail=""):
    global passed, failed, todos
    if not ok and todo_case:
        todos += 1
        if verbose:
            print(f"not ok - {name} # TODO {todo_case}")
        return
    if ok:
        passed += 1
        if verbose:
            print(f"ok - {name}")
    else:
        failed += 1
        failures.append(name)
        print(f"not ok - {name}")
        for line in detail.rstrip("\n").split("\n") if detail else []:
            print(f"#   {line}")


# --- the expect file ------------------------------------------------------------------------

class Run:
    def __init__(self):
        self.args = []
        self.sh = []          # shell commands run in the project before sluice
        self.branch = None
        self.cwd = "."
        self.within = DEFAULT_WITHIN
        self.interrupt = None  # (job, delay)
        self.checks = []       # (lineno, words)


def parse_expect(path):
    runs = [Run()]
    with open(path, encoding="utf-8") as f:
        for no, raw in enumerate(f, 1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            if line == "---":
                runs.append(Run())
                continue
            words = shlex.split(line, comments=False)
            r, key = runs[-1], words[0]
            if key == "args":
                r.args += words[1:]
            elif key == "sh":
                r.sh.append(line[len("sh"):].strip())
            elif key == "branch":
                r.branch = words[1]
            elif key == "cwd":
                r.cwd = words[1]
            elif key == "within":
                r.within = float(words[1])
            elif key == "interrupt":
                r.interrupt = (words[1], float(words[2]) if len(words) > 2 else 0.5)
            elif key in ("exit", "pipeline", "warnings", "job", "jobs", "absent", "order",
                         "log", "nolog", "logline", "loglines", "logfile", "event", "noevent",
                         "gap", "stderr", "nostderr", "noproc"):
                r.checks.append((no, words))
            else:
                raise ValueError(f"{path}:{no}: unknown directive '{key}'")
    return runs


# --- running sluice -------------------------------------------------------------------------

class Outcome:
    """What one run produced, gathered while streaming (a 10 MB log makes ~1M events)."""

    def __init__(self, wanted_texts):
        self.wanted = wanted_texts      # job -> set of substrings to look for
        self.found = set()              # (job, text) seen in some log line
        self.exact = set()              # (job, line) for wanted exact lines
        self.nlines = {}                # (job, stream) -> count
        self.sample = {}                # job -> first lines of its log, for diagnostics
        self.job_events = []            # (t, job, status, detail)
        self.summary = {}               # job -> summary object
        self.summary_order = []
        self.pipeline = None
        self.last_event = None
        self.bad = []                   # malformed lines or events
        self.started = {}               # job -> first running time
        self.running_seen = threading.Event()
        # server mode: job -> ((start lo, hi), (end lo, hi)), bounds from polling
        self.windows = {}
        self.watch_job = None

    def feed(self, raw):
        try:
            ev = json.loads(raw)
        except ValueError:
            if len(self.bad) < 5:
                self.bad.append(f"not JSON: {raw[:200]!r}")
            return
        if not isinstance(ev, dict) or "event" not in ev or "time" not in ev:
            if len(self.bad) < 5:
                self.bad.append(f"no event/time: {raw[:200]!r}")
            return
        kind = ev["event"]
        self.last_event = kind
        if kind == "log":
            job, line = ev.get("job"), ev.get("line", "")
            key = (job, ev.get("stream"))
            self.nlines[key] = self.nlines.get(key, 0) + 1
            s = self.sample.setdefault(job, [])
            if len(s) < 40:
                s.append(line)
            for text in self.wanted.get(job, ()):
                if text in line:
                    self.found.add((job, text))
                if text == line:
                    self.exact.add((job, text))
        elif kind == "job":
            t = parse_time(ev["time"])
            st = ev.get("status")
            if st not in JOB_STATUSES and len(self.bad) < 5:
                self.bad.append(f"unknown job status: {raw[:200]}")
            self.job_events.append((t, ev.get("job"), st, ev.get("detail")))
            if st == "running":
                self.started.setdefault(ev.get("job"), t)
                if ev.get("job") == self.watch_job:
                    self.running_seen.set()
        elif kind == "summary":
            for k in ("job", "stage", "status", "allow_failure", "duration_ms", "attempt",
                      "coverage", "failure_reason"):
                if k not in ev and len(self.bad) < 5:
                    self.bad.append(f"summary without '{k}': {raw[:200]}")
            self.summary[ev.get("job")] = ev
            self.summary_order.append(ev.get("job"))
        elif kind == "pipeline":
            if self.pipeline is not None and len(self.bad) < 5:
                self.bad.append("two pipeline events")
            self.pipeline = ev


def parse_time(s):
    # 2026-11-23T08:12:30.926Z
    return datetime.strptime(s.replace("Z", "+0000"), "%Y-%m-%dT%H:%M:%S.%f%z").timestamp()


def clean_env():
    """The host environment minus CI variables (tests may themselves run inside a CI job)."""
    env = {k: v for k, v in os.environ.items()
           if not (k.startswith("CI_") or k.startswith("GITLAB_") or k in ("CI", "GITLAB_CI"))}
    env.pop("NO_COLOR", None)
    return env


def run_sluice(proj, r, out, subst):
    args = [BIN, "run", "--json"] + [subst(a) for a in r.args]
    cwd = os.path.normpath(os.path.join(proj, r.cwd))
    stderr_f = tempfile.TemporaryFile()
    t0 = time.monotonic()
    p = subprocess.Popen(args, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=stderr_f, env=clean_env())

    def pump():
        for raw in p.stdout:
            out.feed(raw.decode("utf-8", "replace"))

    th = threading.Thread(target=pump, daemon=True)
    th.start()
    interrupted_at = None
    if r.interrupt:
        job, delay = r.interrupt
        out.watch_job = job
        if out.running_seen.wait(timeout=r.within):
            time.sleep(delay)
            if p.poll() is None:
                p.send_signal(signal.SIGINT)
                interrupted_at = time.monotonic()
    hung = False
    try:
        p.wait(timeout=max(0.1, r.within - (time.monotonic() - t0)))
    except subprocess.TimeoutExpired:
        hung = True
        p.kill()
        p.wait()
    th.join(timeout=30)
    elapsed = time.monotonic() - t0
    stderr_f.seek(0)
    err = stderr_f.read().decode("utf-8", "replace")
    return p.returncode, err, elapsed, hung, interrupted_at is not None


# --- the server mode --------------------------------------------------------------------------

# Checks about the command line itself, which a server pipeline has no counterpart of.
LOCAL_ONLY_CHECKS = {"stderr", "nostderr", "logfile", "loglines"}
FINAL_PIPELINE = {"success", "failed", "canceled", "skipped", "manual"}
ACTIVE_JOB = {"pending", "running", "scheduled"}  # "created" may wait on a manual job


# Cases whose server replay differs today, with why: replayed and reported as TODO (their
# failures do not count), so the list shrinks as the server catches up. Empty: every case
# asserts the same outcome in both modes.
SERVER_TODO = {}


def skip(name, why):
    global skipped
    skipped += 1
    if verbose:
        print(f"ok - {name} # SKIP {why}")


class Server:
    """One `sluice serve` on a free loopback port, its data in a temporary directory."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="sluice-run-cases-server-")
        os.chmod(self.dir, 0o711)  # a root server runs jobs as nobody (--run-as)
        self.err = open(os.path.join(self.dir, "stderr"), "wb")
        self.p = subprocess.Popen(
            [BIN, "serve", "--listen", "127.0.0.1:0", "--data", os.path.join(self.dir, "data"),
             "--workers", "8"], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=self.err, env=clean_env())
        self.url = None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and self.url is None:
            line = self.p.stdout.readline().decode("utf-8", "replace")
            if not line:
                break
            m = re.search(r"listening on (http://\S+)", line)
            if m:
                self.url = m.group(1)
        if self.url is None:
            raise OSError("sluice serve did not start")
        threading.Thread(target=lambda: self.p.stdout.read(), daemon=True).start()
        with open(os.path.join(self.dir, "data", "admin.token"), encoding="utf-8") as f:
            self.token = f.read().strip()

    def req(self, method, path, body=None, raw=False):
        data = json.dumps(body).encode() if body is not None else None
        rq = urllib.request.Request(self.url + path, data=data, method=method)
        rq.add_header("Authorization", f"Bearer {self.token}")
        if data is not None:
            rq.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(rq, timeout=60) as resp:
                text = resp.read()
                if raw:
                    return resp.status, text, resp.headers
                return resp.status, json.loads(text or b"null"), resp.headers
        except urllib.error.HTTPError as e:
            text = e.read()
            try:
                return e.code, json.loads(text), e.headers
            except ValueError:
                return e.code, text, e.headers

    def stop(self):
        self.p.send_signal(signal.SIGTERM)
        try:
            self.p.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
        self.err.close()
        with open(os.path.join(self.dir, "stderr"), encoding="utf-8", errors="replace") as f:
            err = f.read()
        if "Sanitizer" in err:
            report(False, "the server ran clean under the sanitizers", err[-3000:])
        report(self.p.returncode == 0, "the server stops on SIGTERM with exit code 0",
               f"exit {self.p.returncode}")
        shutil.rmtree(self.dir, ignore_errors=True)


def server_args(r, subst):
    """(variables, jobs to play) of a run's arguments, or (None, reason) for a local-only run."""
    variables, manual = {}, []
    args = [subst(a) for a in r.args]
    i = 0
    while i < len(args):
        a = args[i]
        if a in ("--var", "--manual", "-j", "--jobs") and i + 1 < len(args):
            bad_var = a == "--var" and "=" not in args[i + 1]
            bad_j = a in ("-j", "--jobs") and not (args[i + 1].isdigit() and
                                                   1 <= int(args[i + 1]) <= 1024)
            if bad_var or bad_j:
                return None, f"`{a} {args[i + 1]}` is a usage error of the command line"
            if a == "--var":
                k, _, v = args[i + 1].partition("=")
                variables[k] = v
            elif a == "--manual":
                manual.append(args[i + 1])
            i += 2
            continue
        if a.startswith("--var="):
            k, _, v = a[len("--var="):].partition("=")
            variables[k] = v
        elif not a.startswith("-j"):
            return None, f"`{a}` has no server counterpart"
        i += 1
    if r.cwd != ".":
        return None, "runs from another directory"
    return (variables, manual), None


def pipeline_tree(pid, prefix="", depth=0):
    """[(name prefix, pipeline)] of pipeline PID and the pipelines its bridges made, each
    child's jobs named "<bridge> > <job>" as sluice run names them."""
    _, pl, _ = server.req("GET", f"/api/v1/pipelines/{pid}")
    tree = [(prefix, pl)]
    bridges = {j["id"]: j["name"] for j in pl.get("jobs", [])}
    for d in pl.get("downstream", []) if depth < 4 else []:
        bridge = bridges.get(d.get("parent_job_id"))
        if bridge is not None:
            tree += pipeline_tree(d["id"], f"{prefix}{bridge} > ", depth + 1)
    return tree


def run_server(proj, project_id, r, out, subst, sel):
    """Runs one pipeline of the case through the server and feeds OUT as sluice run's events
    would. Returns (exit code, error text, elapsed, hung)."""
    variables, manual = sel
    t0 = time.monotonic()
    ref = subprocess.run(["git", "rev-parse", "--abbrev-ref", "HEAD"], cwd=proj,
                         capture_output=True, text=True).stdout.strip() or "main"
    code, pl, _ = server.req("POST", f"/api/v1/projects/{project_id}/pipelines",
                             {"ref": ref, "variables": variables})
    if code != 201:
        return 2, json.dumps(pl), time.monotonic() - t0, False
    if pl.get("error_message") or pl.get("yaml_errors"):
        return 2, json.dumps(pl), time.monotonic() - t0, False
    pid = pl["id"]
    seen = {}       # job -> statuses in the order polled
    played = set()
    interrupted = False
    hung = True
    prev = time.time()  # the poll before this one: each change happened in (prev, now]
    while time.monotonic() - t0 < r.within:
        just_played = False
        tree = pipeline_tree(pid)
        pl = tree[0][1]
        now = time.time()
        jobs = [(prefix + j["name"], j) for prefix, p in tree for j in p.get("jobs", [])]
        for name, j in jobs:
            st = seen.setdefault(name, [])
            if not st or st[-1][1] != j["status"]:
                st.append((now, j["status"], prev))
            if j["status"] == "manual" and name in manual and j["id"] not in played:
                played.add(j["id"])
                server.req("POST", f"/api/v1/jobs/{j['id']}/play")
                just_played = True
            if r.interrupt and not interrupted and name == r.interrupt[0] and \
                    j["status"] == "running":
                time.sleep(r.interrupt[1])
                server.req("POST", f"/api/v1/pipelines/{pid}/cancel")
                interrupted = True
        waiting = any(j["status"] in ACTIVE_JOB for _, j in jobs) or any(
            j["status"] == "manual" and name in manual and j["id"] not in played
            for name, j in jobs)
        # a child pipeline without strategy:depend may outlive its parent, as under sluice
        # run (which waits for every pipeline it started)
        ended = all(p.get("status") in FINAL_PIPELINE for _, p in tree)
        if ended and not waiting and not just_played:
            hung = False
            break
        prev = now
        time.sleep(0.03)
    elapsed = time.monotonic() - t0
    suites = {}
    for prefix, p in tree:
        code, report_, _ = server.req("GET", f"/api/v1/pipelines/{p['id']}/test_report")
        if code == 200:
            for s in (report_ or {}).get("test_suites", []):
                suites[prefix + s["name"]] = s
    warnings = False
    for prefix, p, j in [(x, p, j) for x, p in tree for j in p.get("jobs", [])]:
        _, full, _ = server.req("GET", f"/api/v1/jobs/{j['id']}")
        name = prefix + full["name"]
        allowed = full["status"] == "failed" and full.get("allow_failure", False)
        if p["id"] == pid:
            warnings |= allowed  # a child's allowed failures are its own pipeline's
        start = end = None
        for t, st, before in seen.get(name, []):
            if st != "skipped" and st in FINAL | {"running"} and start is None:
                start = (before, t)
            if st in FINAL:
                end = (before, t)
            out.job_events.append((t, name, st, None))
        if start is not None and full["status"] != "skipped":
            out.started.setdefault(name, start[1])
            out.windows[name] = (start, end)
        if allowed and end is not None:
            out.job_events.append((end[1], name, "warning", None))
        suite = suites.get(re.sub(r" \d+/\d+$", "", name))
        tests = None
        if suite:
            tests = {"passed": suite["success_count"],
                     "failed": suite["failed_count"] + suite["error_count"]}
        out.summary[name] = {"job": name, "stage": full["stage"], "status": full["status"],
                             "allow_failure": allowed, "attempt": full["attempt"],
                             "coverage": full.get("coverage"), "tests": tests,
                             "failure_reason": full.get("failure_reason") or None,
                             "duration_ms": None}
        out.summary_order.append(name)
        offset = 0
        while True:
            code, text, headers = server.req("GET", f"/api/v1/jobs/{j['id']}/log?offset={offset}",
                                             raw=True)
            if code != 200 or not text:
                break
            for line in text.decode("utf-8", "replace").split("\n"):
                out.feed(json.dumps({"event": "log", "time": "", "job": name, "line": line,
                                     "stream": "output"}))
            nxt = int(headers.get("X-Next-Offset") or 0)
            if nxt <= offset:
                break
            offset = nxt
    st = pl.get("status")
    out.pipeline = {"status": st, "warnings": warnings}
    out.last_event = "pipeline"
    rc = 0 if st in ("success", "manual", "skipped") else 1
    if hung:
        server.req("POST", f"/api/v1/pipelines/{pid}/cancel")
    return rc, "", elapsed, hung


# --- checks ---------------------------------------------------------------------------------

def slug(name):
    s = re.sub(r"[^0-9a-z]", "-", name.lower())[:63]
    return s.strip("-")


def latest_pipeline_dir(proj):
    d = os.path.join(proj, ".sluice", "pipelines")
    try:
        ids = [int(x) for x in os.listdir(d) if x.isdigit()]
    except OSError:
        return None
    return os.path.join(d, str(max(ids))) if ids else None


def job_window(out, job, bound=None):
    """(first running time, last final-status time) of JOB, or None. In server mode the
    times are only known between two polls: BOUND "early" gives the earliest start and end
    they allow, "late" the latest, so a check of order or overlap asks whether the polls
    allow it (the server's scheduler is the one sluice run uses; its order is what is
    checked, not the poller's resolution)."""
    if job in out.windows:
        (slo, shi), end = out.windows[job]
        if end is None:
            return (slo if bound == "early" else shi), None
        return (slo, end[0]) if bound == "early" else (shi, end[1])
    start = out.started.get(job)
    end = None
    for t, j, st, _ in out.job_events:
        if j == job and st in FINAL:
            end = t
    return start, end


def diag(out, job=None):
    lines = []
    if job is not None and job in out.sample:
        lines.append(f"log of {job!r} (first lines):")
        lines += ["  " + l for l in out.sample[job][:25]]
    if out.summary:
        lines.append("summary: " + "; ".join(
            f"{j}={s.get('status')}/a{s.get('attempt')}/{s.get('failure_reason')}"
            for j, s in out.summary.items()))
    return "\n".join(lines)


def check(name, words, out, rc, err, elapsed, proj, subst):
    key = words[0]
    a = [subst(w) for w in words[1:]]
    if key == "exit":
        return rc == int(a[0]), f"exit {rc}, want {a[0]}\nstderr: {err[-2000:]}"
    if key == "pipeline":
        got = out.pipeline and out.pipeline.get("status")
        return got == a[0], f"pipeline status {got!r}, want {a[0]!r}"
    if key == "warnings":
        got = out.pipeline and out.pipeline.get("warnings")
        return got == (a[0] == "true"), f"pipeline warnings {got!r}, want {a[0]}"
    if key == "jobs":
        n = len(out.summary)
        return n == int(a[0]), f"{n} summary rows ({sorted(out.summary)}), want {a[0]}"
    if key == "absent":
        return a[0] not in out.summary, f"{a[0]!r} has a summary row: {out.summary.get(a[0])}"
    if key == "job":
        job, want = a[0], a[1]
        s = out.summary.get(job)
        if s is None:
            return False, f"no summary row for {job!r}; rows: {sorted(out.summary)}"
        probs = []
        if s.get("status") != want:
            probs.append(f"status {s.get('status')!r}, want {want!r}")
        for kv in a[2:]:
            k, _, v = kv.partition("=")
            if k == "attempt":
                if s.get("attempt") != int(v):
                    probs.append(f"attempt {s.get('attempt')}, want {v}")
            elif k == "reason":
                got = s.get("failure_reason")
                if (got if got is not None else "null") != v:
                    probs.append(f"failure_reason {got!r}, want {v}")
            elif k == "allow_failure":
                if s.get("allow_failure") != (v == "true"):
                    probs.append(f"allow_failure {s.get('allow_failure')!r}, want {v}")
            elif k == "coverage":
                got = s.get("coverage")
                if v == "null":
                    ok = got is None
                else:
                    try:
                        ok = got is not None and abs(float(got) - float(v)) < 1e-6
                    except (TypeError, ValueError):
                        ok = False
                if not ok:
                    probs.append(f"coverage {got!r}, want {v}")
            elif k == "tests":
                got = s.get("tests")
                if v == "none":
                    ok = got is None
                else:
                    p_, f_ = v.split("/")
                    ok = isinstance(got, dict) and got.get("passed") == int(p_) and \
                        got.get("failed") == int(f_)
                if not ok:
                    probs.append(f"tests {got!r}, want {v}")
            elif k == "stage":
                if s.get("stage") != v:
                    probs.append(f"stage {s.get('stage')!r}, want {v}")
            else:
                probs.append(f"(bad expectation {kv})")
        return not probs, "; ".join(probs) + "\n" + diag(out, job)
    if key == "order":
        x, op, y = a[0], a[1], a[2]
        # A < B: A's end as early, B's start as late as the polls allow; A || B: each start
        # as early and each end as late as they allow
        sx, ex = job_window(out, x, "early")
        sy, ey = job_window(out, y, "late" if op == "<" else "early")
        if op == "||":
            ex = job_window(out, x, "late")[1]
            ey = job_window(out, y, "late")[1]
        if None in (sx, ex, sy, ey):
            return False, f"{x!r}: ran {sx}..{ex}; {y!r}: ran {sy}..{ey} (a job never ran)"
        if op == "<":
            return ex <= sy, f"{x!r} ended at {ex:.3f}, {y!r} started at {sy:.3f}, earlier"
        if op == "||":
            return sx < ey and sy < ex, \
                f"no overlap: {x!r} ran {sx:.3f}..{ex:.3f}, {y!r} ran {sy:.3f}..{ey:.3f}"
        return False, f"bad operator {op}"
    if key == "gap":  # gap A B SECONDS: B started at least SECONDS after A ended
        x, y, secs = a[0], a[1], float(a[2])
        _, ex = job_window(out, x, "early")
        sy, _ = job_window(out, y, "late")
        if ex is None or sy is None:
            return False, f"{x!r} end {ex}, {y!r} start {sy}"
        return sy - ex >= secs - 0.01, f"{y!r} started {sy - ex:.3f} s after {x!r} ended"
    if key in ("log", "nolog"):
        job, text = a[0], a[1]
        has = (job, text) in out.found
        if key == "log":
            return has, f"no line of {job!r}'s log contains {text!r}\n" + diag(out, job)
        return not has, f"a line of {job!r}'s log contains {text!r}\n" + diag(out, job)
    if key == "logline":
        job, text = a[0], a[1]
        return (job, text) in out.exact, \
            f"no line of {job!r}'s log is exactly {text!r}\n" + diag(out, job)
    if key == "loglines":  # loglines JOB STREAM N
        job, stream, n = a[0], a[1], int(a[2])
        got = out.nlines.get((job, stream), 0)
        return got == n, f"{got} {stream} lines in {job!r}'s log, want {n}"
    if key == "logfile":  # logfile JOB MIN MAX: size of .sluice/pipelines/<last>/logs/<slug>.log
        job, lo, hi = a[0], int(a[1]), int(a[2])
        d = latest_pipeline_dir(proj)
        if not d:
            return False, "no .sluice/pipelines/<id>/ directory"
        path = os.path.join(d, "logs", slug(job) + ".log")
        if not os.path.exists(path):
            return False, f"no {path}; logs: {os.listdir(os.path.join(d, 'logs'))}"
        size = os.path.getsize(path)
        return lo <= size <= hi, f"{path} is {size} bytes, want {lo}..{hi}"
    if key in ("event", "noevent"):  # event JOB STATUS: some job event had STATUS
        job, st = a[0], a[1]
        seen = [s for _, j, s, _ in out.job_events if j == job]
        if key == "event":
            return st in seen, f"{job!r} went through {seen}, not {st!r}"
        return st not in seen, f"{job!r} went through {seen}, including {st!r}"
    if key in ("stderr", "nostderr"):
        has = a[0] in err
        return has == (key == "stderr"), f"stderr {'lacks' if key == 'stderr' else 'has'} " \
            f"{a[0]!r}:\n{err[-2000:]}"
    if key == "noproc":  # no process left whose command line contains TEXT
        left = []
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    cmd = f.read().replace(b"\0", b" ").decode("utf-8", "replace")
            except OSError:
                continue
            if a[0] in cmd:
                left.append(f"{pid}: {cmd}")
                try:
                    os.kill(int(pid), signal.SIGKILL)  # do not leave it behind us either
                except OSError:
                    pass
        return not left, "left running: " + "; ".join(left)
    return False, f"unknown check {key}"


def git(proj, *args):
    subprocess.run(["git", "-c", "user.name=sluice tests", "-c", "user.email=tests@sluice",
                    "-c", "init.defaultBranch=main", "-c", "commit.gpgsign=false"] + list(args),
                   cwd=proj, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def replay(case):
    src = os.path.join(CASES, case)
    try:
        runs = parse_expect(os.path.join(src, "expect"))
    except (OSError, ValueError) as e:
        report(False, f"{case}: expect file", str(e))
        return
    root = tempfile.mkdtemp(prefix=f"sluice-run-{case}-")
    proj = os.path.join(root, "project")
    scratch = os.path.join(root, "scratch")
    os.mkdir(scratch)
    if server:
        # jobs of a root server run as nobody: they must reach @TMP@ as local jobs do
        os.chmod(root, 0o711)
        os.chmod(scratch, 0o777)
    uid = f"{os.getpid()}{int(time.time() * 1000) % 10**9}"
    subst_map = {"@ID@": uid, "@TMP@": scratch, "@PROJECT@": proj}

    def subst(s):
        for k, v in subst_map.items():
            s = s.replace(k, v)
        return s

    ok_all = True
    project_id = None
    try:
        shutil.copytree(src, proj, ignore=shutil.ignore_patterns("expect", "README.md"),
                        symlinks=True)
        git(proj, "init", "-q", "-b", "main")
        git(proj, "add", "-A")
        git(proj, "commit", "-q", "-m", f"case {case}")
        for i, r in enumerate(runs, 1):
            tag = case if len(runs) == 1 else f"{case} (run {i})"
            if r.branch:
                git(proj, "checkout", "-q", "-B", r.branch)
            for cmd in r.sh:
                res = subprocess.run(["bash", "-c", subst(cmd)], cwd=proj, capture_output=True,
                                     text=True)
                if res.returncode != 0:
                    report(False, f"{tag}: setup `{cmd}`", res.stdout + res.stderr)
            if server and r.sh:
                # what sluice run takes from the working tree, a server takes from a push of
                # it (ignored files stay out either way)
                git(proj, "add", "-A")
                git(proj, "commit", "-q", "--allow-empty", "-m", f"{tag}: edits")
            wanted = {}
            for _, w in r.checks:
                if w[0] in ("log", "nolog", "logline"):
                    wanted.setdefault(subst(w[1]), set()).add(subst(w[2]))
            out = Outcome(wanted)
            if server:
                sel, why = server_args(r, subst)
                if sel is None:
                    skip(f"{tag}", f"local-only run: {why}")
                    continue
                if project_id is None:
                    code, pj, _ = server.req("POST", "/api/v1/projects",
                                             {"name": f"{case}-{uid}", "repo_url": proj})
                    if code != 201:
                        report(False, f"{tag}: project created", json.dumps(pj))
                        ok_all = False
                        continue
                    project_id = pj["id"]
                rc, err, elapsed, hung = run_server(proj, project_id, r, out, subst, sel)
                interrupted = bool(r.interrupt)
            else:
                rc, err, elapsed, hung, interrupted = run_sluice(proj, r, out, subst)
            if hung:
                ok_all = False
                report(False, f"{tag}: sluice ended within {r.within:g} s",
                       f"killed after {elapsed:.1f} s\n{diag(out)}\nstderr: {err[-1000:]}")
                continue
            report(not out.bad, f"{tag}: well-formed events", "\n".join(out.bad))
            if rc in (0, 1):
                report(out.pipeline is not None and out.last_event == "pipeline",
                       f"{tag}: ends with a pipeline event",
                       f"last event {out.last_event!r}; exit {rc}; stderr: {err[-1000:]}")
                ran = {j for _, j, s, _ in out.job_events}
                missing = sorted(j for j in ran if j not in out.summary)
                report(not missing, f"{tag}: a summary row for every job", f"missing: {missing}")
            if r.interrupt:
                report(interrupted, f"{tag}: interrupted while {r.interrupt[0]} ran",
                       f"{r.interrupt[0]} never reached running\n{diag(out)}")
            for no, words in r.checks:
                name = f"{tag}: {' '.join(shlex.quote(w) for w in words)}"
                if server and words[0] in LOCAL_ONLY_CHECKS:
                    skip(name, "about sluice run's own output")
                    continue
                try:
                    ok, detail = check(name, words, out, rc, err, elapsed, proj, subst)
                except (IndexError, ValueError) as e:
                    ok, detail = False, f"expect line {no}: {e}"
                ok_all &= ok
                report(ok, name, detail)
            if verbose:
                print(f"# {tag}: {elapsed:.2f} s")
    except (OSError, subprocess.CalledProcessError) as e:
        ok_all = False
        extra = getattr(e, "stderr", b"") or b""
        report(False, f"{case}: setup", f"{e}\n{extra.decode('utf-8', 'replace')}")
    finally:
        if ok_all and not os.environ.get("SL_KEEP"):
            shutil.rmtree(root, ignore_errors=True)
        elif not ok_all:
            print(f"#   (kept {root})")
    todo = f" # TODO {todo_case}" if todo_case and not ok_all else ""
    print(f"{'ok' if ok_all else 'not ok'} - case {case}{' (server)' if server else ''}{todo}")


def main():
    global verbose, server, todo_case
    argv = sys.argv[1:]
    use_server = False
    while argv and argv[0] in ("-v", "--server"):
        if argv[0] == "-v":
            verbose = True
        else:
            use_server = True
        argv = argv[1:]
    if not BIN:
        print("SLUICE_BIN is not set", file=sys.stderr)
        return 2
    cases = argv or sorted(d for d in os.listdir(CASES)
                           if os.path.isfile(os.path.join(CASES, d, "expect")))
    for c in cases:
        if use_server:
            # a server per case: job ids, caches and workspaces start from nothing, as they
            # do for a case's fresh repository in sluice run
            try:
                server = Server()
            except OSError as e:
                report(False, f"{c}: sluice serve starts", str(e))
                continue
        todo_case = SERVER_TODO.get(c) if use_server else None
        try:
            replay(c)
        finally:
            todo_case = None
            if server:
                server.stop()
                server = None
    print(f"{passed} passed, {failed} failed" + (f", {skipped} skipped" if skipped else "") +
          (f", {todos} todo (server differences listed in SERVER_TODO)" if todos else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
