#!/usr/bin/env bash
# GitLab's schema fixtures (tests/data/schema, from GitLab's spec/frontend/editor/schema/ci),
# checked the way GitLab's own harness checks them: split.py makes one document per
# top-level key, and `sluice lint --schema --json` must find every positive document valid
# (warnings allowed) and reject every negative one with an error whose message contains the
# substring negative-expected.tsv gives for it (what the fixture is about).
set -u
. "$(dirname "$0")/lib/skip.sh"
bin=${SLUICE_BIN:?SLUICE_BIN is not set}
src=${SL_SOURCE_DIR:?SL_SOURCE_DIR is not set}
data=$src/tests/data/schema
if ! command -v python3 >/dev/null || ! python3 -c 'import yaml' 2>/dev/null; then
  skip "needs python3 with PyYAML (scripts/install-deps.sh installs python3-yaml)"
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 "$data/split.py" "$data/positive" "$tmp/positive" >/dev/null || exit 1
python3 "$data/split.py" "$data/negative" "$tmp/negative" >/dev/null || exit 1

python3 - "$bin" "$tmp" "$data/negative-expected.tsv" <<'EOF'
import json, os, subprocess, sys

binary, tmp, expected_tsv = sys.argv[1:]
expected = {}
for line in open(expected_tsv, encoding="utf-8"):
    if line.startswith("#") or not line.strip():
        continue
    name, substring = line.rstrip("\n").split("\t", 1)
    expected[name] = substring
passed = failed = 0

def report(ok, name, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print(f"ok - {name}")
    else:
        failed += 1
        print(f"not ok - {name}{': ' + detail if detail else ''}")

def lint(path):
    p = subprocess.run([binary, "lint", "--schema", "--json", "-f", path],
                       capture_output=True, text=True, timeout=30)
    try:
        return p.returncode, json.loads(p.stdout)
    except ValueError:
        return p.returncode, {"valid": None, "errors": [{"message": p.stdout + p.stderr}]}

def messages(out):
    return [e.get("message", "") for e in out.get("errors", [])]

positive = sorted(os.listdir(os.path.join(tmp, "positive")))
negative = sorted(os.listdir(os.path.join(tmp, "negative")))
# the counts GitLab's fixtures split into: a fixture that stops splitting is a lost test
report(len(positive) == 185, "185 positive documents", f"{len(positive)} split")
report(len(negative) == 226, "226 negative documents", f"{len(negative)} split")

for doc in positive:
    rc, out = lint(os.path.join(tmp, "positive", doc))
    report(rc == 0 and out.get("valid") is True, f"positive/{doc} is valid",
           f"exit {rc}: " + " | ".join(messages(out)))

for doc in negative:
    rc, out = lint(os.path.join(tmp, "negative", doc))
    want = expected.get(doc)
    if want is None:
        report(False, f"negative/{doc}", "no row in negative-expected.tsv")
        continue
    got = messages(out)
    ok = rc == 1 and out.get("valid") is False and any(want in m for m in got)
    report(ok, f"negative/{doc} is rejected for: {want}",
           f"exit {rc}, errors: " + (" | ".join(got) or "none"))

# --schema skips exactly the whole-project checks; without it they still run, and where
# GitLab's backend is more lenient than its JSON schema, plain lint follows the backend.
modes = [  # (document, error without --schema or None, error with --schema or None)
    ("job: {stage: nope, script: [x], needs: [ghost]}\n", "chosen stage nope does not exist", None),
    ("job: {script: [x], dependencies: [ghost]}\n", "undefined dependency: ghost", None),
    ("job: {extends: .missing}\n", "unknown keys in `extends` (.missing)", None),
    ("include: missing.yml\njob: {script: [x]}\n", "`missing.yml` does not exist", None),
    ("job: {script: [!reference [.x, script]]}\n", "could not be found", None),
    ("spec: {inputs: {a: {type: number, default: 1}}}\njob: {script: [x]}\n",
     "jobs spec config should implement the script:", None),
    ("job: {script: [x], image: null}\n", None, "jobs:job:image config can't be blank"),
    ("job: {script: [x], artifacts: {reports: {browser_performance: [a.json]}}}\n", None,
     "reports:browser_performance config should be a string"),
    ("job: {script: [x], artifacts: {reports: {performance: p.json}}}\n", None,
     "reports config contains unknown keys: performance"),
    # GitLab's Processable: script and trigger are mutually exclusive; the schema has both
    ("job: {script: [x], trigger: {project: group/project}}\n",
     "jobs:job config these keys cannot be used together: script, trigger", None),
]
for i, (doc, plain_err, schema_err) in enumerate(modes):
    path = os.path.join(tmp, f"mode{i}.yml")
    with open(path, "w") as f:
        f.write(doc)
    for flag, want in (([], plain_err), (["--schema"], schema_err)):
        p = subprocess.run([binary, "lint", "--json", *flag, "-f", path],
                           capture_output=True, text=True, timeout=30)
        out = json.loads(p.stdout)
        got = messages(out)
        ok = (p.returncode == 0 and out["valid"]) if want is None else \
             (p.returncode == 1 and any(want in m for m in got))
        report(ok, f"lint {' '.join(flag) or '(whole project)'} on {doc.strip()!r}: "
               f"{want or 'valid'}", f"exit {p.returncode}: " + " | ".join(got))

for name in sorted(set(expected) - set(negative)):
    report(False, f"negative-expected.tsv row {name}", "no such document")

print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
EOF
