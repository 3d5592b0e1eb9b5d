#!/usr/bin/env bash
# A job's artifacts browsed over the API against a real `sluice serve` running a real job:
# the archive's entries (GET .../artifacts/{a}/files), one file out of it as a download
# (.../file?path=), the whole archive (.../download); unknown artifacts, paths and hostile
# arguments are clear errors; a file is never served as a page of this origin.
# SL_SERVER_DB: on that store.
set -u
bin=${SLUICE_BIN:?SLUICE_BIN is not set}
src=${SL_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
for c in curl python3 git zstd tar; do
  command -v $c >/dev/null || { echo "SKIPPED: server_artifacts_browse needs $c, which is not installed" >&2; exit 77; }
done
tmp=$(mktemp -d)
cleanup() { [[ -n ${pid:-} ]] && kill -9 "$pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
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

server_stop
finish
