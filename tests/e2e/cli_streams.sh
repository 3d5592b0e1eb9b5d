#!/usr/bin/env bash
# Exit codes and streams, the same across commands: 2 for usage errors including a missing
# pipeline file; a command's result on stdout (for lint: the findings and the verdict line);
# usage errors and sluice's own diagnostics on stderr.
set -u
bin=${SLUICE_BIN:?SLUICE_BIN is not set}
. "$(dirname "$0")/lib/repo.sh"
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
# run --json: stdout is JSON lines only, even for a pipeline that does not run
repo_init . || exit 1
printf 'workflow:\n  rules:\n    - if: $NEVER\njob:\n  script: echo ok\n' >skipped.yml
run env -u CI "$bin" run --json -f skipped.yml
is "run --json, a skipped pipeline: exit 0" "$rc" 0
is "run --json, a skipped pipeline: every stdout line is JSON, a note" "$(python3 -c 'import json,sys; print(" ".join(json.loads(l)["event"] for l in sys.stdin))' <<<"$out" 2>&1)" "note"
has "run --json, a skipped pipeline: the note says so" "pipeline skipped" "$out"
run env -u CI "$bin" run -f skipped.yml
has "run, a skipped pipeline: the same line as text" "pipeline skipped: " "$out"
# the API commands share their client options (src/cli/api_client.c): the same checks, the
# same messages, the same exit codes
closed=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
for form in "var list" "env list" "flag list" "notify test"; do
  cmd=${form%% *}
  run env -u SLUICE_URL -u SLUICE_TOKEN -u CI_SERVER_URL -u CI_JOB_TOKEN "$bin" $form --project 1
  is "$cmd: no --url or --token exits 2" "$rc" 2
  has "$cmd: ... and says what is required on stderr" "$cmd: --url and --token (or SLUICE_URL and SLUICE_TOKEN" "$err"
  for bad in x 0 -1; do
    run "$bin" $form --url http://127.0.0.1:$closed --token t --project=$bad
    is "$cmd: --project=$bad exits 2" "$rc" 2
    has "$cmd: --project=$bad is refused by name" "$cmd: --project takes a project id" "$err"
  done
  run env SLUICE_URL=http://127.0.0.1:$closed SLUICE_TOKEN=t "$bin" $form --project 1
  is "$cmd: SLUICE_URL and SLUICE_TOKEN are taken; a server that cannot be reached exits 1" "$rc" 1
  has "$cmd: ... naming the server on stderr" "$cmd: http://127.0.0.1:$closed:" "$err"
  is "$cmd: ... and nothing on stdout" "$out" ""
done
run env -u SLUICE_URL -u SLUICE_TOKEN CI_SERVER_URL=http://127.0.0.1:$closed CI_JOB_TOKEN=t CI_PROJECT_ID=1 "$bin" flag list
is "flag: in a job CI_SERVER_URL, CI_JOB_TOKEN and CI_PROJECT_ID are the defaults" "$rc $(grep -c "flag: http://127.0.0.1:$closed:" <<<"$err")" "1 1"
echo "$pass passed, $fail failed"
((fail == 0))
