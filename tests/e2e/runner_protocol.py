#!/usr/bin/env python3
"""runner_protocol.py: speaks GitLab's runner API (/api/v4) to a sluice server request by
request as gitlab-runner's network package does (network/gitlab.go: verify, register,
jobs/request with info.features, PUT jobs/:id, PATCH jobs/:id/trace with Content-Range),
asserting status codes, headers and JSON shapes. Driven by runner_protocol.sh, which starts
the servers; prints TAP-style lines and the harness's closing line.

usage: runner_protocol.py main URL ADMIN_TOKEN REGISTRATION_TOKEN PROJECT_ID
       runner_protocol.py lease URL ADMIN_TOKEN PROJECT_ID    (a server with --lease 3)
"""
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

passed = failed = 0


def ok(name):
    global passed
    passed += 1
    print("ok - " + name, flush=True)


def bad(name, detail=""):
    global failed
    failed += 1
    print("not ok - " + name, flush=True)
    for line in str(detail).splitlines()[:20]:
        print("#   " + line)


def expect(name, want, got, detail=""):
    if want == got:
        ok(name)
    else:
        bad("%s: got %r, want %r" % (name, got, want), detail)


class Resp:
    def __init__(self, code, headers, body):
        self.code, self.headers, self.raw = code, headers, body
        try:
            self.json = json.loads(body) if body else None
        except ValueError:
            self.json = None

    def h(self, name):
        return self.headers.get(name)


def call(url, method, path, body=None, headers=None, raw=None, timeout=60):
    data = None
    hdrs = {"User-Agent": "gitlab-runner 17.11.0 (runner_protocol.py)"}
    if body is not None:
        data = json.dumps(body).encode()
        hdrs["Content-Type"] = "application/json"
    if raw is not None:
        data = raw
        hdrs["Content-Type"] = "text/plain"
    hdrs.update(headers or {})
    rq = urllib.request.Request(url + path, data=data, method=method, headers=hdrs)
    try:
        with urllib.request.urlopen(rq, timeout=timeout) as r:
            return Resp(r.status, r.headers, r.read().decode("utf-8", "replace"))
    except urllib.error.HTTPError as e:
        return Resp(e.code, e.headers, e.read().decode("utf-8", "replace"))


# what gitlab-runner sends as "info" (common.VersionInfo) in verify and jobs/request
INFO = {
    "name": "gitlab-runner",
    "version": "17.11.0",
    "revision": "abcdef12",
    "platform": "linux",
    "architecture": "amd64",
    "executor": "shell",
    "shell": "bash",
    "features": {
        "variables": True,
        "image": False,
        "services": False,
        "artifacts": True,
        "cache": True,
        "upload_multiple_artifacts": True,
        "upload_raw_artifacts": True,
        "session": False,
        "terminal": False,
        "refspecs": True,
        "masking": True,
        "proxy": False,
        "raw_variables": True,
        "artifacts_exclude": True,
        "multi_build_steps": True,
        "trace_reset": True,
        "trace_checksum": True,
        "trace_size": True,
        "vault_secrets": False,
        "cancelable": True,
        "return_exit_code": True,
        "service_variables": True,
    },
    "config": {"gpus": ""},
}


def request_job(url, token, timeout=60):
    return call(url, "POST", "/api/v4/jobs/request",
                {"token": token, "system_id": "s_0123456789ab", "info": INFO, "last_update": ""},
                headers={"RUNNER-TOKEN": token}, timeout=timeout)


def update(url, job, state, token=None, **extra):
    body = {"token": token or job["token"], "state": state, "info": INFO}
    body.update(extra)
    return call(url, "PUT", "/api/v4/jobs/%d" % job["id"], body,
                headers={"JOB-TOKEN": token or job["token"]})


def patch(url, job, start, data, token=None):
    end = start + len(data) - 1
    return call(url, "PATCH", "/api/v4/jobs/%d/trace?debug_trace=false" % job["id"],
                raw=data, headers={"JOB-TOKEN": token or job["token"],
                                   "Content-Range": "%d-%d" % (start, end)})


def v1(url, admin, method, path, body=None):
    return call(url, method, path, body, headers={"Authorization": "Bearer " + admin})


def new_runner(url, admin, **kw):
    r = v1(url, admin, "POST", "/api/v1/runners", kw)
    if r.code != 201:
        bad("POST /api/v1/runners answers 201", r.raw)
        sys.exit(1)
    return r.json


def new_pipeline(url, admin, project):
    r = v1(url, admin, "POST", "/api/v1/projects/%s/pipelines" % project, {"ref": "main"})
    if r.code != 201:
        bad("a pipeline is created", r.raw)
        sys.exit(1)
    return r.json["id"]


def wait_for(what, fn, seconds=30):
    deadline = time.time() + seconds
    while time.time() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(0.1)
    bad("within %ds: %s" % (seconds, what))
    return None


def job_api(url, admin, jid):
    return v1(url, admin, "GET", "/api/v1/jobs/%d" % jid).json


def ja_pipeline(url, admin, jid):
    return (job_api(url, admin, jid) or {}).get("pipeline_id", 0)


def multipart(fields, filename, content):
    """A multipart/form-data body as gitlab-runner's network package builds it (the file
    part named "file"); returns (content type, body)."""
    b = "----sluiceboundary%d" % os.getpid()
    out = b""
    for k, v in fields.items():
        out += ("--%s\r\nContent-Disposition: form-data; name=\"%s\"\r\n\r\n%s\r\n"
                % (b, k, v)).encode()
    out += ("--%s\r\nContent-Disposition: form-data; name=\"file\"; filename=\"%s\"\r\n"
            "Content-Type: application/octet-stream\r\n\r\n" % (b, filename)).encode()
    out += content + ("\r\n--%s--\r\n" % b).encode()
    return "multipart/form-data; boundary=" + b, out


def upload(url, job, query, filename, content, token=None, fields=None):
    ctype, body = multipart(fields or {}, filename, content)
    hdrs = {"Content-Type": ctype}
    if token is not False:
        hdrs["JOB-TOKEN"] = token or job["token"]
    rq = urllib.request.Request(url + "/api/v4/jobs/%d/artifacts?%s" % (job["id"], query),
                                data=body, method="POST", headers=hdrs)
    try:
        with urllib.request.urlopen(rq, timeout=60) as r:
            return Resp(r.status, r.headers, r.read().decode("utf-8", "replace"))
    except urllib.error.HTTPError as e:
        return Resp(e.code, e.headers, e.read().decode("utf-8", "replace"))


def download(url, jid, token):
    rq = urllib.request.Request(url + "/api/v4/jobs/%d/artifacts" % jid,
                                headers={"JOB-TOKEN": token})
    try:
        with urllib.request.urlopen(rq, timeout=60) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, b""


def artifacts_flow(url, admin, job):
    """POST and GET /api/v4/jobs/:id/artifacts as gitlab-runner sends them while JOB runs."""
    import gzip
    import io
    import zipfile
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("out/result.txt", "built\n")
    zbytes = buf.getvalue()
    r = upload(url, job, "artifact_format=zip&artifact_type=archive&expire_in=1+week",
               "artifacts.zip", zbytes)
    expect("POST artifacts (zip archive): 201", 201, r.code, r.raw)
    r = upload(url, job, "artifact_format=gzip&artifact_type=dotenv", "dotenv.gz",
               gzip.compress(b"BUILD_ID=42\n"))
    expect("POST artifacts (dotenv, gzip): 201", 201, r.code, r.raw)
    junit = (b'<testsuite><testcase name="a"/><testcase name="b"><failure/></testcase>'
             b'</testsuite>')
    r = upload(url, job, "artifact_format=gzip&artifact_type=junit", "junit.xml.gz",
               gzip.compress(junit) + gzip.compress(b'<testsuite><testcase name="c"/></testsuite>'))
    expect("POST artifacts (junit, two gzip members): 201", 201, r.code, r.raw)
    r = upload(url, job, "artifact_format=gzip&artifact_type=dotenv", "dotenv.gz",
               gzip.compress(b"not a dotenv line\n"))
    expect("a dotenv report that does not parse: 400", 400, r.code, r.raw)
    r = upload(url, job, "artifact_format=zip&artifact_type=sbom", "x.zip", zbytes)
    expect("an unknown artifact_type: 400", 400, r.code, r.raw)
    r = upload(url, job, "artifact_format=gzip&artifact_type=archive", "x.gz", zbytes)
    expect("an archive that is not zip: 400", 400, r.code, r.raw)
    r = upload(url, job, "", "x.zip", zbytes, token="glcbt-" + "0" * 64)
    expect("another token: 403 Job-Status failed", [403, "failed"], [r.code, r.h("Job-Status")])
    r = upload(url, job, "", "x.zip", zbytes, token=False, fields={"token": job["token"]})
    expect("the job token as a form field: 201", 201, r.code, r.raw)
    rq = urllib.request.Request(url + "/api/v4/jobs/%d/artifacts" % job["id"], data=b"{}",
                                method="POST", headers={"JOB-TOKEN": job["token"],
                                                        "Content-Type": "application/json"})
    try:
        code = urllib.request.urlopen(rq, timeout=60).status
    except urllib.error.HTTPError as e:
        code = e.code
    expect("a body that is not multipart: 400", 400, code)
    code, data = download(url, job["id"], job["token"])
    expect("GET artifacts with a running job's token: the zip", [200, zbytes], [code, data])
    code, _ = download(url, job["id"], "glcbt-" + "0" * 64)
    expect("GET artifacts with an unknown token: 403", 403, code)
    arts = v1(url, admin, "GET", "/api/v1/jobs/%d/artifacts" % job["id"]).json or []
    expect("the archive is the job's artifact row", [len(zbytes)],
           sorted({a["size"] for a in arts}))
    return zbytes


def main_flow(url, admin, regtoken, project):
    # --- verify and register, as `gitlab-runner register` and `run` do
    r = call(url, "POST", "/api/v4/runners/verify", {"token": "glrt-" + "0" * 64, "info": INFO})
    expect("verify with an unknown token: 403", 403, r.code)
    rn = new_runner(url, admin, name="proto", tags=[])
    expect("a runner token is glrt-", True, rn["token"].startswith("glrt-"))
    expect("a runner without tags runs untagged jobs", True, rn["run_untagged"])
    r = call(url, "POST", "/api/v4/runners/verify",
             {"token": rn["token"], "system_id": "s_0123456789ab", "info": INFO},
             headers={"RUNNER-TOKEN": rn["token"]})
    expect("verify: 200", 200, r.code, r.raw)
    expect("verify answers id, token, token_expires_at", [rn["id"], rn["token"], None],
           [(r.json or {}).get(k) for k in ("id", "token", "token_expires_at")])
    got = v1(url, admin, "GET", "/api/v1/runners/%d" % rn["id"]).json
    expect("the runner's reported version is recorded", "17.11.0", got.get("version"))
    expect("contacted_at is set", True, got.get("contacted_at") is not None)

    r = call(url, "POST", "/api/v4/runners",
             {"token": "GR1348941" + "0" * 40, "description": "x", "info": INFO})
    expect("register with a wrong registration token: 403", 403, r.code)
    r = call(url, "POST", "/api/v4/runners",
             {"token": regtoken, "description": "legacy", "tag_list": "a, b",
              "run_untagged": False, "locked": False, "info": INFO})
    expect("register (legacy registration token): 201", 201, r.code, r.raw)
    legacy = r.json or {}
    expect("registered runner's token is glrt-", True,
           str(legacy.get("token", "")).startswith("glrt-"))
    got = v1(url, admin, "GET", "/api/v1/runners/%s" % legacy.get("id")).json or {}
    expect("its tag_list became tags", ["a", "b"], got.get("tags"))
    expect("run_untagged false as asked", False, got.get("run_untagged"))

    # --- jobs/request: 204 at once when paused; long-poll woken by a new pipeline
    v1(url, admin, "POST", "/api/v1/runners/%d/pause" % rn["id"])
    t0 = time.time()
    r = request_job(url, rn["token"])
    expect("a paused runner gets 204", 204, r.code, r.raw)
    v1(url, admin, "POST", "/api/v1/runners/%d/resume" % rn["id"])

    got = {}

    def poll():
        got["r"] = request_job(url, rn["token"])

    th = threading.Thread(target=poll)
    th.start()
    # the request is held (no job yet): make one and the held request must get it
    def held():
        m = v1(url, admin, "GET", "/metrics").raw
        return re.search(r"^sluice_runner_requests_held [1-9]", m, re.M)

    wait_for("the jobs/request long-poll is held", held, 60)
    pid = new_pipeline(url, admin, project)
    th.join(40)
    r = got.get("r")
    expect("a held jobs/request is woken with the job: 201", 201, r.code if r else None,
           r.raw if r else "")
    job = r.json if r and r.code == 201 else None
    if not job:
        return
    # --- the payload gitlab-runner decodes (spec.Job)
    for k in ("id", "token", "allow_git_fetch", "job_info", "git_info", "runner_info",
              "variables", "steps", "image", "services", "artifacts", "cache", "credentials",
              "dependencies", "features"):
        if k not in job:
            bad("payload has %s" % k, json.dumps(job)[:500])
            break
    else:
        ok("payload has every field gitlab-runner reads")
    expect("the job token is glcbt-", True, job["token"].startswith("glcbt-"))
    gi = job["git_info"]
    expect("repo_url carries the job token", True,
           ("gitlab-ci-token:%s@" % job["token"]) in gi["repo_url"], gi["repo_url"])
    expect("repo_url is the server's own, NAME.git", True,
           gi["repo_url"].endswith("/proto.git") and url.split("//")[1] in gi["repo_url"],
           gi["repo_url"])
    expect("git_info ref/ref_type", ["main", "branch"], [gi["ref"], gi["ref_type"]])
    expect("git_info sha is 40 hex", 40, len(gi["sha"]))
    expect("refspecs", ["+refs/heads/main:refs/remotes/origin/main"], gi["refspecs"])
    vs = {v["key"]: v for v in job["variables"]}
    expect("variables in GitLab's list form", True,
           all(set(v) >= {"key", "value", "public", "masked"} for v in job["variables"]))
    expect("CI_JOB_TOKEN is the job token, masked, not public",
           [job["token"], True, False],
           [vs.get("CI_JOB_TOKEN", {}).get(k) for k in ("value", "masked", "public")])
    expect("CI_JOB_ID", str(job["id"]), vs.get("CI_JOB_ID", {}).get("value"))
    expect("the job's own variable", "hello", vs.get("GREETING", {}).get("value"))
    expect("steps[0] is script with before_script first", ["script", ["echo before", "echo hi"]],
           [job["steps"][0]["name"], job["steps"][0]["script"]])
    expect("runner_info.timeout in seconds", 600, job["runner_info"]["timeout"])
    expect("job_info.name/stage", ["build", "build"],
           [job["job_info"]["name"], job["job_info"]["stage"]])
    expect("artifacts: one archive entry", ["archive", "zip", ["out/"]],
           [job["artifacts"][0].get(k) for k in ("artifact_type", "artifact_format", "paths")]
           if job["artifacts"] else None)
    # main is protected by default: GitLab's separate caches for protected branches
    expect("cache: the key and fallback keys of a protected pipeline end -protected",
           ["deps-protected", ["deps-old-protected"]],
           [job["cache"][0].get("key"), job["cache"][0].get("fallback_keys")]
           if job["cache"] else None)
    # --- the source over git's smart HTTP, with the job token as gitlab-runner fetches it
    env = dict(os.environ, GIT_TERMINAL_PROMPT="0", GIT_ASKPASS="/bin/false")
    for proto in ("0", "2"):
        ls = subprocess.run(["git", "-c", "protocol.version=" + proto, "ls-remote",
                             gi["repo_url"], "refs/heads/main"],
                            capture_output=True, text=True, env=env, timeout=60)
        expect("git ls-remote over HTTP (protocol v%s) sees the job's commit" % proto,
               gi["sha"], ls.stdout.split("\t")[0], ls.stderr)
    with tempfile.TemporaryDirectory() as d:
        # as gitlab-runner does: init, fetch the refspecs, check the sha out
        subprocess.run(["git", "init", "-q", d], check=True)
        cl = subprocess.run(["git", "-C", d, "fetch", "-q", "--depth", str(gi["depth"]),
                             gi["repo_url"]] + gi["refspecs"],
                            capture_output=True, text=True, env=env, timeout=120)
        head = subprocess.run(["git", "-C", d, "rev-parse", "refs/remotes/origin/main"],
                              capture_output=True, text=True).stdout.strip()
        expect("git fetch over HTTP of the refspecs gets the commit", gi["sha"], head, cl.stderr)
    wrong = gi["repo_url"].replace(job["token"], "glcbt-" + "0" * 64)
    ls = subprocess.run(["git", "ls-remote", wrong], capture_output=True, text=True, env=env,
                        timeout=60)
    expect("git over HTTP with a wrong job token fails", True, ls.returncode != 0)
    r = call(url, "GET", "/proto.git/info/refs?service=git-upload-pack")
    expect("git over HTTP without a job token: 401 with a Basic challenge", [401, True],
           [r.code, (r.h("WWW-Authenticate") or "").startswith("Basic")])
    r = call(url, "GET", "/proto.git/info/refs?service=git-receive-pack")
    expect("no push over HTTP: 403", 403, r.code)
    ja = job_api(url, admin, job["id"])
    expect("the job API: running on runner:%d" % rn["id"],
           ["running", "runner:%d" % rn["id"]], [ja["status"], ja["runner"]])
    # --- what each runner runs, in the admin API (the runners page shows it)
    got = v1(url, admin, "GET", "/api/v1/runners/%d" % rn["id"]).json or {}
    expect("GET /api/v1/runners/ID: running names the job",
           [[job["id"], "build", "build", ja["pipeline_id"]]],
           [[x.get(k) for k in ("id", "name", "stage", "pipeline_id")]
            for x in got.get("running", [])])
    expect("and when it started", True, bool((got.get("running") or [{}])[0].get("started_at")))
    lst = (v1(url, admin, "GET", "/api/v1/runners").json or {}).get("runners", [])
    expect("GET /api/v1/runners: the job under its runner only",
           {rn["id"]: [job["id"]]},
           {x["id"]: [j["id"] for j in x.get("running", [])] for x in lst if x.get("running")})

    # --- PUT running, PATCH trace with ranges and a gap, PUT success
    r = update(url, job, "running")
    expect("PUT running: 200", 200, r.code, r.raw)
    expect("X-GitLab-Trace-Update-Interval at most a third of the lease", True,
           r.h("X-GitLab-Trace-Update-Interval") is not None
           and 1 <= int(r.h("X-GitLab-Trace-Update-Interval")) <= 20)
    r = patch(url, job, 0, b"hello")
    expect("PATCH 0-4: 202", 202, r.code, r.raw)
    expect("PATCH answers Range 0-5", "0-5", r.h("Range"))
    expect("PATCH answers Job-Status running", "running", r.h("Job-Status"))
    r = patch(url, job, 10, b"xyz")
    expect("PATCH with a gap: 416", 416, r.code, r.raw)
    expect("416 says where the log ends", "0-5", r.h("Range"))
    r = patch(url, job, 5, b" world\n")
    expect("PATCH 5-11: 202 Range 0-12", [202, "0-12"], [r.code, r.h("Range")])
    r = patch(url, job, 12, b"more", token="glcbt-" + "0" * 64)
    expect("PATCH with a wrong job token: 403 Job-Status failed", [403, "failed"],
           [r.code, r.h("Job-Status")])
    zbytes = artifacts_flow(url, admin, job)
    r = update(url, job, "success", output={"checksum": "crc32:0", "bytesize": 99}, exit_code=0)
    expect("PUT success with more log than received: 412", 412, r.code, r.raw)
    r = update(url, job, "success", output={"checksum": "crc32:0", "bytesize": 12}, exit_code=0)
    expect("PUT success: 200", 200, r.code, r.raw)
    got = v1(url, admin, "GET", "/api/v1/runners/%d" % rn["id"]).json or {}
    expect("a finished job is no longer among its runner's running jobs", [],
           got.get("running"))
    ja = job_api(url, admin, job["id"])
    expect("the job API: success, still says runner:%d" % rn["id"],
           ["success", "runner:%d" % rn["id"]], [ja["status"], ja["runner"]])
    lg = v1(url, admin, "GET", "/api/v1/jobs/%d/log/raw" % job["id"])
    expect("the log is what was patched", "hello world\n", lg.raw)
    r = patch(url, job, 12, b"late")
    expect("a patch after the end: 403 Job-Status success", [403, "success"],
           [r.code, r.h("Job-Status")])
    r = update(url, job, "failed", failure_reason="script_failure")
    expect("a second outcome: 403", 403, r.code)
    ls = subprocess.run(["git", "ls-remote", gi["repo_url"]], capture_output=True, text=True,
                        env=env, timeout=60)
    expect("the job token no longer reads the source once the job ended", True,
           ls.returncode != 0)
    expect("the job kept one outcome", "success", job_api(url, admin, job["id"])["status"])
    code, _ = download(url, job["id"], job["token"])
    expect("GET artifacts with the token of a job that ended: 403", 403, code)

    # --- tags: the untagged runner never gets the tagged job
    r = request_job(url, rn["token"], timeout=60)
    expect("the untagged runner gets the next untagged job", [201, "untagged"],
           [r.code, (r.json or {}).get("job_info", {}).get("name")], r.raw)
    if r.code == 201:
        nj = r.json
        expect("the later job gets the uploaded dotenv variable", "42",
               {v["key"]: v["value"] for v in nj["variables"]}.get("BUILD_ID"))
        dep = [d for d in nj["dependencies"] if d["id"] == job["id"]]
        expect("its dependency names the uploaded archive", True,
               bool(dep) and dep[0].get("artifacts_file", {}).get("size") == len(zbytes))
        code, data = download(url, job["id"], dep[0]["token"] if dep else nj["token"])
        expect("it downloads the archive with the token the payload gives", [200, zbytes],
               [code, data])
        tr = v1(url, admin, "GET",
                "/api/v1/pipelines/%d/test_report" % ja_pipeline(url, admin, job["id"])).json
        expect("the pipeline's test report counts the uploaded JUnit cases", [3, 1],
               [(tr or {}).get("total", {}).get("count"), (tr or {}).get("total", {}).get("failed")],
               tr)
        # the end with the log in "trace" (sluice agent's short job): what the server lacks
        # is appended, what it has is kept, and the bytesize then matches
        r = patch(url, nj, 0, b"first\n")
        expect("the first patch of the untagged job: 202", 202, r.code, r.raw)
        r = update(url, nj, "success", exit_code=0, trace="first\nlast \u00e9\n",
                   output={"checksum": "crc32:0", "bytesize": 14})
        expect("PUT success with the whole log in trace: 200", 200, r.code, r.raw)
        lg = v1(url, admin, "GET", "/api/v1/jobs/%d/log/raw" % nj["id"])
        expect("the log is the patch and the rest of the trace", "first\nlast \u00e9\n", lg.raw)
    # --- the stuck hint: only the untagged runner is online, the job tagged a waits
    pl = v1(url, admin, "GET", "/api/v1/pipelines/%d" % ja_pipeline(url, admin, job["id"])).json
    tid = [j["id"] for j in (pl or {}).get("jobs", []) if j["name"] == "tagged"]
    tja = job_api(url, admin, tid[0]) if tid else {}
    expect("a pending job no online runner can take is stuck, and says why",
           [True, "This job is stuck because you don't have any active runners online or "
            "available with any of these tags assigned to them: a"],
           [tja.get("stuck"), tja.get("stuck_reason")], tja)
    tagged_rn = new_runner(url, admin, name="tagged", tags=["a", "b"], run_untagged=False)
    r = request_job(url, tagged_rn["token"])
    expect("the tagged runner gets the job tagged a", [201, "tagged"],
           [r.code, (r.json or {}).get("job_info", {}).get("name")], r.raw)
    tj = r.json if r.code == 201 else None

    # --- cancel from the API reaches the runner through Job-Status: canceling (the runner
    # runs after_script and reports), then canceled
    if tj:
        update(url, tj, "running")
        r = v1(url, admin, "POST", "/api/v1/jobs/%d/cancel" % tj["id"])
        expect("cancel of a runner's running job: 200, canceling", [200, "canceling"],
               [r.code, (r.json or {}).get("status")], r.raw)
        r = patch(url, tj, 0, b"script\n")
        expect("its patch: 202 Job-Status canceling", [202, "canceling"],
               [r.code, r.h("Job-Status")])
        r = update(url, tj, "running")
        expect("its running update: 200 Job-Status canceling", [200, "canceling"],
               [r.code, r.h("Job-Status")])
        r = patch(url, tj, 7, b"after_script\n")
        expect("the after_script's log is taken", [202, "canceling"], [r.code, r.h("Job-Status")])
        r = update(url, tj, "failed", failure_reason="job_canceled", exit_code=1,
                   output={"bytesize": 20})
        expect("its final update (failed, job_canceled): 200 Job-Status canceled",
               [200, "canceled"], [r.code, r.h("Job-Status")], r.raw)
        ja = job_api(url, admin, tj["id"]) or {}
        expect("the job is canceled, with no failure reason", ["canceled", None],
               [ja.get("status"), ja.get("failure_reason")], ja)
        r = patch(url, tj, 20, b"x")
        expect("a canceled job's patch: 403 Job-Status canceled", [403, "canceled"],
               [r.code, r.h("Job-Status")])
        log = v1(url, admin, "GET", "/api/v1/jobs/%d/log" % tj["id"]).raw
        expect("its log holds what ran until the end", "script\nafter_script\n", log)

    # --- unregister and delete revoke
    r = call(url, "DELETE", "/api/v4/runners", {"token": legacy.get("token", "")})
    expect("DELETE /api/v4/runners: 204", 204, r.code, r.raw)
    r = call(url, "POST", "/api/v4/runners/verify", {"token": legacy.get("token", "")})
    expect("an unregistered runner's verify: 403", 403, r.code)
    r = v1(url, admin, "DELETE", "/api/v1/runners/%d" % tagged_rn["id"])
    expect("DELETE /api/v1/runners/ID: 204", 204, r.code)
    r = request_job(url, tagged_rn["token"])
    expect("a deleted runner's request: 403", 403, r.code)
    r = v1(url, admin, "GET", "/api/v1/runners")
    expect("the runner list has the one left", [rn["id"]],
           [x["id"] for x in (r.json or {}).get("runners", [])])
    r = call(url, "GET", "/api/v1/runners")
    expect("the runner list needs a token", 401, r.code)


def lease_flow(url, admin, project):
    rn = new_runner(url, admin, name="sleepy")
    pid = new_pipeline(url, admin, project)
    r = request_job(url, rn["token"])
    expect("a job is handed over", 201, r.code, r.raw)
    if r.code != 201:
        return
    job = r.json
    expect("X-GitLab-Trace-Update-Interval is a third of a 3 s lease", "1",
           update(url, job, "running").h("X-GitLab-Trace-Update-Interval"))
    # the runner goes silent: its lease lapses
    ja = wait_for("the silent runner's job fails runner_system_failure",
                  lambda: (lambda j: j if j["attempt"] == 2 or j["status"] != "running" else None)(
                      job_api(url, admin, job["id"])))
    if not ja:
        return
    r = update(url, job, "success", exit_code=0)
    expect("the late runner's update: 403 Job-Status failed", [403, "failed"],
           [r.code, r.h("Job-Status")])
    r = patch(url, job, 0, b"late")
    expect("the late runner's patch: 403", 403, r.code)
    # retry: {max: 1, when: runner_system_failure} made a new attempt with a new token
    r = request_job(url, rn["token"])
    expect("the retry is handed over", 201, r.code, r.raw)
    if r.code != 201:
        return
    retry = r.json
    expect("the retry has its own job token", True, retry["token"] != job["token"])
    # as GitLab's: a new job; the lost attempt keeps its outcome, marked retried
    expect("the retry is a new job", True, retry["id"] != job["id"])
    first = job_api(url, admin, job["id"]) or {}
    expect("the lost attempt: failed, runner_system_failure, retried",
           ["failed", "runner_system_failure", True],
           [first.get("status"), first.get("failure_reason"), first.get("retried")])
    ja = job_api(url, admin, retry["id"])
    expect("attempt 2", 2, ja["attempt"])
    expect("CI_JOB_ATTEMPT 2", "2",
           {v["key"]: v["value"] for v in retry["variables"]}.get("CI_JOB_ATTEMPT"))
    r = update(url, job, "success", exit_code=0)
    expect("the first attempt's token cannot end the retry", 403, r.code)
    patch(url, retry, 0, b"ok\n")
    r = update(url, retry, "success", exit_code=0)
    expect("the retry succeeds", 200, r.code, r.raw)
    p = v1(url, admin, "GET", "/api/v1/pipelines/%d" % pid).json
    expect("the pipeline succeeds", "success", p.get("status"))


def zip_flow(url, admin, pipeline):
    """A built-in worker's artifacts (stored .tar.zst) downloaded by a runner: a zip, as
    gitlab-runner extracts a dependency's artifacts."""
    import io
    import zipfile
    p = v1(url, admin, "GET", "/api/v1/pipelines/%s" % pipeline).json or {}
    remote = [j for j in p.get("jobs", []) if j["name"] == "remote"]
    if not remote:
        bad("the pipeline has its manual job", p)
        return
    r = v1(url, admin, "POST", "/api/v1/jobs/%d/play" % remote[0]["id"])
    expect("play the manual job", 200, r.code, r.raw)
    rn = new_runner(url, admin, name="zipper")
    r = request_job(url, rn["token"])
    expect("the job is handed over", 201, r.code, r.raw)
    if r.code != 201:
        return
    job = r.json
    deps = [d for d in job.get("dependencies", []) if d.get("name") == "build"]
    expect("it depends on build's artifacts", True, bool(deps) and "artifacts_file" in deps[0],
           job.get("dependencies"))
    if not deps:
        return
    code, data = download(url, deps[0]["id"], deps[0]["token"])
    expect("GET the dependency's artifacts: 200", 200, code)
    try:
        z = zipfile.ZipFile(io.BytesIO(data))
        expect("a valid zip", None, z.testzip())
        expect("holding the worker's files", b"built\n", z.read("out/file.txt"))
    except (zipfile.BadZipFile, KeyError) as e:
        bad("the download is a zip with out/file.txt", "%s: %r" % (e, data[:64]))
    update(url, job, "success", exit_code=0)


def main():
    mode = sys.argv[1]
    if mode == "main":
        main_flow(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5])
    elif mode == "zip":
        zip_flow(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        lease_flow(sys.argv[2], sys.argv[3], sys.argv[4])
    print("%d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed else 0)


main()
