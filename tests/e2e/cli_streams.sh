#!/usr/bin/env bash
# Exit codes and streams, the same across commands: 2 for usage errors including a missing
# pipeline file; a command's result on stdout (for lint: the findings and the verdict line);
# usage errors and sluice's own diagnostics on stderr.
set -u
bin=${SLUICE_BIN:?SLUICE_BIN is not set}
pass=0 fail=0
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cd "$dir" || exit 1
# run CMD...: sets rc, out (stdout) and err (stderr)
run() { "$@" >"$dir/.out" 2>"$dir/.err"; rc=$?; out=$(<"$dir/.out"); err=$(<"$dir/.err"); }
is() { # is NAME GOT WANT
  if [[ $2 == "$3" ]]; then pass=$((pass + 1)); echo "ok - $1";
  else fail=$((fail + 1)); echo "not ok - $1: got '$2', want '$3'"; echo "# stdout: $out"; echo "# stderr: $err"; fi
}
has() { # has NAME TEXT HAYSTACK
  if grep -qF -- "$2" <<<"$3"; then pass=$((pass + 1)); echo "ok - $1";
  else fail=$((fail + 1)); echo "not ok - $1: lacks '$2'"; echo "# stdout: $out"; echo "# stderr: $err"; fi
}
for cmd in lint plan run; do
  run "$bin" "$cmd" -f missing.yml
  is "$cmd: a missing file exits 2" "$rc" 2
  is "$cmd: a missing file prints nothing on stdout" "$out" ""
  has "$cmd: a missing file is named on stderr" "missing.yml" "$err"
done
printf 'job:\n  script: echo ok\n' >good.yml
run "$bin" lint -f good.yml
is "lint valid exits 0" "$rc" 0
is "lint valid: verdict on stdout" "$out" "good.yml is valid"
is "lint valid: nothing on stderr" "$err" ""
printf 'job:\n  scirpt: echo ok\n' >bad.yml
run "$bin" lint -f bad.yml
is "lint invalid exits 1" "$rc" 1
has "lint invalid: finding on stdout" "bad.yml:2:3: jobs:job config contains unknown keys: scirpt" "$out"
has "lint invalid: verdict on stdout" "bad.yml is invalid: 2 errors, 0 warnings" "$out"
is "lint invalid: nothing on stderr" "$err" ""
# an include that is missing is a finding of the pipeline, not a usage error
printf 'include: other.yml\njob:\n  script: echo ok\n' >inc.yml
run "$bin" lint -f inc.yml
is "lint: a missing include exits 1" "$rc" 1
has "lint: a missing include is a finding on stdout" "other.yml" "$out"
run "$bin" lint --json -f bad.yml
is "lint --json invalid exits 1" "$rc" 1
has "lint --json on stdout" '"valid": false' "$out"
echo "$pass passed, $fail failed"
((fail == 0))
