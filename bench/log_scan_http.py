#!/usr/bin/env python3
"""log_scan_http: the server's CPU per trace PATCH (a runner sending a job's log in chunks of
4 KiB by default; 64 KiB and 1 MiB PATCHes too), against a real `sluice serve --workers 0` on
loopback with SQLite, to put bench/log_scan.c's per-chunk cost of secret scanning beside what a
whole PATCH costs (HTTP, the job token's check, the job's lease renewal, the append, the scan).

    python3 bench/log_scan_http.py build/release/sluice [CHUNKS] [CHUNK_BYTES] [PERF-DATA] [LOG-FILE|--dense]

Prints the server's user+system CPU per PATCH (from /proc/PID/stat) and the wall time. With
PERF-DATA, `perf record --call-graph dwarf -F 4000` records the server over the PATCHes alone
into that file and the script prints scanning's share of the server's log handling: the
samples under sl_srv_log_append not under its store append (the findings' inserts and
PCRE2's JIT samples, which perf cannot unwind, counted as scanning's) against all the
server's other samples in that time (HTTP, the token's check, the lease, the append): what
scanning adds to a job's log handling as the server does it. A server cannot run without its
scanner, so the share from the profile is the with-and-without figure. One PATCH before the
measured ones is left out (the server compiles its default rules at its first chunk). CHUNK_BYTES is at most
1 MiB (the server's body cap); the log (CHUNKS * CHUNK_BYTES) under its 1 GiB default cap.
The log's text is a generated compiler line repeated, with a line naming a `token` (a keyword of
the default rules, so the filter lets it through to its regexes) every 40 lines; with LOG-FILE
(PERF-DATA may be "-" for none) it is that file's bytes instead, sent in order and from its
start again at its end, so an ordinary build log can be measured as it is.

LOG-FILE `--dense` sends a generated keyword-dense log instead (dense_log below): every line
holds the generic rule's keywords (`key`, `secret`, `token`, `passw`, `pwd`, `credential`) in
assignments whose values vary line by line (counters, short paths, short ids; `k=v`,
YAML-ish `key: value` and CLI-ish `--token-file=/x` forms) but are too short (under 16) or of
the wrong class to be a secret: no finding, and every keyword place goes through the rules'
per-place checks, the worst case of an ordinary-looking log. `log_scan_http.py --dense-text
BYTES` prints BYTES of it (for bench/scan_speed.c's LOG-FILE, or bench/log_scan.c's)."""
import http.client, json, os, subprocess, sys, tempfile, time


def dense_log(nbytes):
    """About NBYTES of log lines, each with assignment-like keywords and no secret (a value
    of the generic rule's class is at most 15 bytes long, or broken by a byte of another class:
    `$`, `{`, `,`, `:`, a space)."""
    x, i, out, n = 88172645463325252, 0, [], 0
    forms = [
        "step {i}: key=build/cache/x{a} secret_path=/run/s/{h2} token_ttl={t} auth_mode=none",
        "  api_key: ${{API_KEY_{a}}}",
        "  secret_name: db-creds-{a}",
        "  token: <masked>  # rotated {t}s ago",
        "+ deploy --token-file=/x/t{a} --secret-env=PROD_{a} --key-id=k{h2}",
        "[{i:06d}] cache key: deps-v2-{h4} (hit) token_refresh in {t}s",
        "pwd=/src/g{a}/p{b}",
        "Using credential helper store for 10.0.{a}.{b}",
        "password_file=/run/sec/db{a} password_length={b}",
        "export SECRET_ID={h4} TOKEN_TYPE=bearer KEY_SIZE={b}",
        "  passwd: \"{h4}, rotated\"  pwd: /srv/{h2}",
        "INFO token={h4} expires_in={t} secret={a}:{b} credential_id={h2}",
    ]
    while n < nbytes:
        x ^= (x << 13) & (2**64 - 1)
        x ^= x >> 7
        x ^= (x << 17) & (2**64 - 1)
        f = forms[i % len(forms)] if i % 5 else forms[x % len(forms)]
        line = f.format(i=i, a=x % 1000, b=(x >> 10) % 97, t=(x >> 20) % 7200,
                        h2=format((x >> 30) & 0xff, "02x"), h4=format((x >> 40) & 0xffff, "04x")) + "\n"
        out.append(line)
        n += len(line)
        i += 1
    return "".join(out).encode()


if len(sys.argv) == 3 and sys.argv[1] == "--dense-text":
    sys.stdout.buffer.write(dense_log(int(sys.argv[2])))
    raise SystemExit(0)
bin_, chunks = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 4000
size = int(sys.argv[3]) if len(sys.argv) > 3 else 4096
perf_data = sys.argv[4] if len(sys.argv) > 4 and sys.argv[4] != "-" else None
log_file = sys.argv[5] if len(sys.argv) > 5 else None
tmp = tempfile.mkdtemp()
repo = os.path.join(tmp, "repo")
os.makedirs(repo)
subprocess.run(["git", "init", "-q", "-b", "main"], cwd=repo, check=True)
open(os.path.join(repo, ".gitlab-ci.yml"), "w").write("job:\n  script: [echo hi]\n")
subprocess.run(["git", "add", "."], cwd=repo, check=True)
subprocess.run(["git", "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "x"], cwd=repo, check=True)
out = open(os.path.join(tmp, "out"), "w+")
srv = subprocess.Popen([bin_, "serve", "--listen", "127.0.0.1:0", "--data", os.path.join(tmp, "data"), "--workers", "0"],
                       stdout=out, stderr=subprocess.DEVNULL)
addr = None
for _ in range(300):
    out.seek(0)
    t = out.read()
    if "listening on http://" in t:
        addr = t.split("listening on http://")[1].split()[0]
        break
    time.sleep(0.05)
host, port = addr.rsplit(":", 1)
admin = open(os.path.join(tmp, "data", "admin.token")).read().strip()
c = http.client.HTTPConnection(host, int(port))


def call(method, path, body=None, headers=None, raw=None):
    h = dict(headers or {})
    data = raw
    if body is not None:
        data = json.dumps(body).encode()
        h["Content-Type"] = "application/json"
    c.request(method, path, body=data, headers=h)
    r = c.getresponse()
    b = r.read()
    return r.status, (json.loads(b) if b and b[:1] in b"{[" else b)


A = {"Authorization": "Bearer " + admin}
_, p = call("POST", "/api/v1/projects", {"name": "bench", "repo_url": repo}, A)
_, rn = call("POST", "/api/v1/runners", {"name": "bench", "tags": [], "run_untagged": True}, A)
call("POST", f"/api/v1/projects/{p['id']}/pipelines", {"ref": "main"}, A)
_, job = call("POST", "/api/v4/jobs/request", {"token": rn["token"], "info": {"features": {"trace_reset": True}}})
line = b"[42] CC src/module_17/file_233.o -O2 -Wall -fPIC ok\n"
lines = [line] * 39 + [b"[43] fetching token for registry mirror 12 (cached)\n"]
text = (dense_log(256 << 10) if log_file == "--dense" else open(log_file, "rb").read()) if log_file \
    else b"".join(lines)
if not text:
    raise SystemExit(f"{log_file} is empty")
one = len(text)
text = text * (size // one + 2)  # any chunk's bytes lie in one slice of it
period = one * ((len(text) - size) // one)  # whole copies: chunk i+1 goes on where i ended


def chunk_at(i):
    o = (i * size) % period
    return text[o:o + size]


chunk = chunk_at(0)


def cpu():
    f = open(f"/proc/{srv.pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


# one PATCH first, not measured: the server compiles its default rules at its first log chunk,
# once a process
st, _ = call("PATCH", f"/api/v4/jobs/{job['id']}/trace", raw=chunk,
             headers={"JOB-TOKEN": job["token"], "Content-Range": f"0-{size - 1}"})
assert st == 202, st
perf = None
if perf_data:
    perf = subprocess.Popen(["perf", "record", "-q", "-o", perf_data, "--call-graph", "dwarf,16384",
                             "-F", "4000", "-p", str(srv.pid)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    time.sleep(1.0)  # perf attached before the first PATCH
c0, w0, at = cpu(), time.monotonic(), size
for i in range(chunks):
    st, _ = call("PATCH", f"/api/v4/jobs/{job['id']}/trace", raw=chunk_at(i + 1),
                 headers={"JOB-TOKEN": job["token"], "Content-Range": f"{at}-{at + size - 1}"})
    assert st == 202, st
    at += size
c1, w1 = cpu(), time.monotonic()
print(f"{chunks} PATCHes of {size} bytes: server CPU {1e6 * (c1 - c0) / chunks:.0f} us per PATCH, "
      f"wall {1e6 * (w1 - w0) / chunks:.0f} us per PATCH")
if perf:
    perf.send_signal(2)
    perf.wait()
srv.terminate()
srv.wait()
if perf:
    STORE = {"sl_store_log_append_lines", "sl_store_log_append_findings", "sl_store_log_append"}
    FIND = {"insert_findings", "sl_db_secret_finding_add", "sl_store_secret_finding_add"}
    script = subprocess.run(["perf", "script", "-i", perf_data], capture_output=True, text=True).stdout
    total = scan = jit = 0
    for sample in script.split("\n\n"):
        frames = [l.split()[1].split("+0x")[0] for l in sample.split("\n")[1:] if l.strip()
                  and len(l.split()) > 1]
        if not frames:
            continue
        total += 1
        if all(f == "[unknown]" for f in frames):
            jit += 1  # PCRE2's JIT code (nothing else runs unwound so: see the share without it)
        elif "sl_srv_log_append" in frames:
            below = frames[:frames.index("sl_srv_log_append")]
            if not any(f in STORE for f in below) or any(f in FIND for f in below):
                scan += 1
    rest = total - scan - jit
    print(f"perf: {total} server samples, scanning {scan} + {jit} unwound no further: scanning's share "
          f"of the rest of the server's log handling {100.0 * (scan + jit) / max(rest, 1):.2f}% "
          f"(without the unwound ones {100.0 * scan / max(rest + jit, 1):.2f}%)")
