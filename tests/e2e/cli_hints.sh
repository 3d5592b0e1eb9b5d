#!/usr/bin/env bash
# Messages that help: FILE:LINE:COL: message, the source line with a caret under the column,
# and a "did you mean" hint for a misspelt key, stage, job or `when` value, in lint (text
# and --json), plan and run alike.
set -u
bin=${SLUICE_BIN:?SLUICE_BIN is not set}
. "$(dirname "$0")/lib/check.sh"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cd "$dir" || exit 1
cat >.gitlab-ci.yml <<'YAML'
stages: [build, test]
compile:
  stage: biuld
  scirpt: make
check:
  stage: tset
  script: make check
  when: manul
  needs: [compiel]
YAML
out=$("$bin" lint 2>/dev/null)
has "lint: position and message" ".gitlab-ci.yml:4:3: jobs:compile config contains unknown keys: scirpt"
has "lint: key hint" "hint: did you mean \`script\`?"
has "lint: stage hint (swap)" "hint: did you mean \`test\`?"
has "lint: stage hint" "hint: did you mean \`build\`?"
has "lint: when hint" "hint: did you mean \`manual\`?"
has "lint: job hint" "hint: did you mean \`compile\`?"
has "lint: source line" "  scirpt: make"
# the caret sits under column 3 of "  scirpt: make" (two spaces of indent after the 2 of ours)
if grep -qx -- '    ^' <<<"$out"; then ok "lint: caret under the column"; else bad "lint: caret" "$out"; fi
out=$("$bin" lint --json 2>/dev/null)
if python3 -c 'import json,sys
d = json.load(sys.stdin)
hints = {e["message"]: e.get("hint") for e in d["errors"]}
k = [h for m, h in hints.items() if "unknown keys: scirpt" in m]
assert k == ["did you mean `script`?"], hints
assert any(h == "did you mean `manual`?" for h in hints.values()), hints
' <<<"$out"; then ok "lint --json: hint field"; else bad "lint --json: hint field" "$out"; fi
out=$("$bin" plan 2>&1 >/dev/null)
has "plan: hint on stderr" "hint: did you mean \`script\`?"
out=$("$bin" run 2>&1 >/dev/null)
has "run: hint on stderr" "hint: did you mean \`script\`?"
# --json: a refused configuration is said on stdout too, with the hint as a field
out=$("$bin" plan --json 2>/dev/null)
if python3 -c 'import json,sys
d = json.load(sys.stdin)
assert d["valid"] is False, d
assert any(e.get("hint") == "did you mean `script`?" for e in d["errors"]), d
' <<<"$out"; then ok "plan --json: the refusal as lint's object, hint field"; else bad "plan --json: the refusal as JSON" "$out"; fi
out=$("$bin" run --json 2>/dev/null)
if python3 -c 'import json,sys
lines = sys.stdin.read().splitlines()
assert len(lines) == 1, lines
d = json.loads(lines[0])
assert d["event"] == "config" and d["time"] and d["valid"] is False, d
assert any(e.get("hint") == "did you mean `script`?" for e in d["errors"]), d
' <<<"$out"; then ok "run --json: the refusal as one config event, hint field"; else bad "run --json: the refusal as a JSON line" "$out"; fi
# nothing close: no hint
cat >.gitlab-ci.yml <<'YAML'
job:
  script: true
  zzzzzzzz: 1
YAML
out=$("$bin" lint 2>&1)
if grep -q "hint:" <<<"$out"; then bad "no hint when nothing is close" "$out"; else ok "no hint when nothing is close"; fi
finish
