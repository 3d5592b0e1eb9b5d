#!/usr/bin/env bash
# A job's artifacts browsed over the API against a real `sluice serve` running a real job:
# the archive's entries (GET .../artifacts/{a}/files), one file out of it as a download
# (.../file?path=), the whole archive (.../download); unknown artifacts, paths and hostile
# arguments are clear errors; a file is never served as a page of this origin. A retried
# job keeps each attempt's artifacts apart (each downloads its own), and a later job
# retried after it gets the newest attempt's. SL_SERVER_DB: on that store.
. "$(dirname "$0")/lib/e2e.sh"
needs curl python3 git zstd tar
# shellcheck source=lib/server.sh
. "$src/tests/e2e/lib/server.sh"
# shellcheck source=lib/agents.sh
. "$src/tests/e2e/lib/agents.sh"
jget() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)" <<<"$body"; }

server_start --workers 1 || { echo "not ok - server starts"; exit 1; }
git_repo 'build:
  script:
    - mkdir -p out/sub && echo hello > out/a.txt && seq 1 1000 > out/sub/numbers.txt
    - printf "<script>alert(1)</script>" > out/page.html
  artifacts:
    paths: [out/]'
project_make arts
pipeline_run
wait_for 300 pipeline_done || bad "the pipeline ends" "$body"
expect "the pipeline succeeds" success "$pstatus"
job=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["jobs"][0]["id"])' <<<"$body")
req GET /api/v1/jobs/$job/artifacts "$admin"
art=$(jget "[0]['id']")
[[ $art =~ ^[0-9]+$ ]] && ok "the job has an artifact ($art)" || bad "the job's artifact" "$body"

req GET /api/v1/jobs/$job/artifacts/$art/files "$admin"
expect "files: 200" 200 "$code"
expect "files lists the archive's files with their sizes" "out/a.txt:file:6 out/sub/numbers.txt:file:3893" \
  "$(python3 -c 'import json,sys; print(" ".join("%s:%s:%d" % (f["path"], f["type"], f["size"]) for f in json.load(sys.stdin)["files"] if f["path"] in ("out/a.txt","out/sub/numbers.txt")))' <<<"$body")"
expect "files: not truncated" False "$(jget "['truncated']")"

hdr=$(curl -s -D - -o "$tmp/one" -H "Authorization: Bearer $admin" "$url/api/v1/jobs/$job/artifacts/$art/file?path=out/sub/numbers.txt" | tr -d '\r')
if seq 1 1000 | cmp -s - "$tmp/one"; then ok "one file out of the archive"; else bad "one file" "$hdr"; fi
grep -qi '^content-disposition: attachment; filename="numbers.txt"' <<<"$hdr" && ok "a file is a download named after it" || bad "Content-Disposition" "$hdr"
hdr=$(curl -s -D - -o /dev/null -H "Authorization: Bearer $admin" "$url/api/v1/jobs/$job/artifacts/$art/file?path=out/page.html" | tr -d '\r')
grep -qi '^content-type: application/octet-stream' <<<"$hdr" && grep -qi '^content-disposition: attachment' <<<"$hdr" &&
  ok "an HTML artifact is not served as a page" || bad "HTML artifact's headers" "$hdr"

curl -s -o "$tmp/all" -H "Authorization: Bearer $admin" "$url/api/v1/jobs/$job/artifacts/$art/download"
expect "the whole archive downloads and unpacks" "hello" "$(zstd -dc "$tmp/all" | tar -xO out/a.txt 2>/dev/null)"

code() { curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $admin" "$url$1"; }
expect "no such file: 404" 404 "$(code "/api/v1/jobs/$job/artifacts/$art/file?path=out/nope")"
expect "a directory is not a file: 404" 404 "$(code "/api/v1/jobs/$job/artifacts/$art/file?path=out/sub")"
expect "no path: 400" 400 "$(code "/api/v1/jobs/$job/artifacts/$art/file")"
expect "a path too long: 400" 400 "$(code "/api/v1/jobs/$job/artifacts/$art/file?path=$(printf 'a%.0s' $(seq 5000))")"
expect "an unknown artifact: 404" 404 "$(code "/api/v1/jobs/$job/artifacts/999999/files")"
expect "an artifact id that is no number: 404" 404 "$(code "/api/v1/jobs/$job/artifacts/x1/download")"
expect "another job's artifact: 404" 404 "$(code "/api/v1/jobs/$((job + 1000))/artifacts/$art/files")"
expect "without a token: 401" 401 "$(curl -s -o /dev/null -w '%{http_code}' "$url/api/v1/jobs/$job/artifacts/$art/files")"

# --- a retried job: each attempt keeps its own artifacts ----------------------------------
git_repo 'build:
  stage: build
  script:
    - mkdir -p out && echo "$CI_JOB_ID" > out/id.txt
  artifacts:
    paths: [out/]
use:
  stage: test
  script:
    - echo "got=$(cat out/id.txt)"'
pipeline_run
wait_for 300 pipeline_done || bad "the retry pipeline ends" "$body"
ids() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(" ".join(str(j["id"]) for j in d["jobs"] if j["name"] == sys.argv[1]))' "$1" <<<"$body"; }
first=$(ids build)
used=$(ids use)
req POST "/api/v1/jobs/$first/retry" "$admin"
expect "the build job is retried as a new job" 201-or-200 "$([[ $code == 20[01] ]] && echo 201-or-200 || echo "$code")" "$body"
second=$(jget "['id']")
retried_done() { req GET "/api/v1/jobs/$second" "$admin"; [[ $(jget "['status']") =~ ^(success|failed)$ ]]; }
wait_for 300 retried_done || bad "the retried attempt ends" "$body"
expect "the new attempt succeeds as a job of its own" "success yes" "$(jget "['status']") $([[ $second != "$first" ]] && echo yes)" "$body"
artifact_of() { # artifact_of JOB -> the content of out/id.txt in its downloaded archive
  req GET "/api/v1/jobs/$1/artifacts" "$admin"
  local a
  a=$(jget "[-1]['id']")
  curl -s -o "$tmp/att" -H "Authorization: Bearer $admin" "$url/api/v1/jobs/$1/artifacts/$a/download"
  zstd -dc "$tmp/att" | tar -xO out/id.txt 2>/dev/null
}
expect "the first attempt's artifacts are still its own" "$first" "$(artifact_of "$first")"
expect "the second attempt's artifacts are its own" "$second" "$(artifact_of "$second")"
req GET "/api/v1/jobs/$first/artifacts" "$admin"
p1=$(jget "[0]['path']")
req GET "/api/v1/jobs/$second/artifacts" "$admin"
p2=$(jget "[0]['path']")
expect "two attempts, two archives on disk" "yes" "$([[ -n $p1 && $p1 != "$p2" && -f $tmp/data/$p1 && -f $tmp/data/$p2 ]] && echo yes)" "$p1 $p2"
req GET "/api/v1/jobs/$used/log" "$admin"
expect "the later job got the first attempt's artifacts" "got=$first" "$(grep -o 'got=[0-9]*' <<<"$body" | tail -1)" "$body"
req POST "/api/v1/jobs/$used/retry" "$admin"
used2=$(jget "['id']")
used_done() { req GET "/api/v1/jobs/$used2" "$admin"; [[ $(jget "['status']") =~ ^(success|failed)$ ]]; }
wait_for 300 used_done || bad "the retried later job ends" "$body"
req GET "/api/v1/jobs/$used2/log" "$admin"
expect "a later job retried after it gets the newest attempt's artifacts" "got=$second" \
  "$(grep -o 'got=[0-9]*' <<<"$body" | tail -1)" "$body"

server_stop
finish
