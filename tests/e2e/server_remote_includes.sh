#!/usr/bin/env bash
# include:remote on the server only from the hosts the operator allows (`sluice serve
# --allow-remote-includes`): a file from an allowed host is included; a host not on the
# list is refused before any request, and so is a redirect to one (redirects are followed
# hop by hop, each target checked); a redirect within the list is followed. Without the
# option the server makes no outside request (tests/e2e/server_parity.sh). The files come
# from a loopback HTTP server (lib/http_dir.sh), never the network.
. "$(dirname "$0")/lib/e2e.sh"
needs curl python3 git
bin=$(realpath "$bin")
. "$(dirname "$0")/lib/server.sh"
. "$(dirname "$0")/lib/http_dir.sh"
trap 'server_stop; http_dir_stop; rm -rf "$tmp"' EXIT

mkdir -p "$tmp/www"
printf 'remote_job:\n  script: [echo remote]\n' > "$tmp/www/remote.yml"
http_dir_start "$tmp/www" || { bad "the loopback HTTP server starts"; finish; exit; }
allowed=http://127.0.0.1:$http_port
other=http://localhost:$http_port # the same server, by a name not on the list
echo "$other/remote.yml" > "$tmp/www/away.yml.redirect"
echo "$allowed/remote.yml" > "$tmp/www/within.yml.redirect"

out=$("$bin" serve --data "$tmp/bad" --allow-remote-includes 'https://x.org/' 2>&1)
expect "--allow-remote-includes takes host names, not URLs" "2 1" \
  "$? $(grep -c 'takes host names' <<<"$out")" "$out"

server_start --allow-remote-includes "example.org, 127.0.0.1" || { bad "the server starts"; finish; exit; }

printf 'own:\n  script: [echo own]\n' | repo_ci "$tmp/app" || exit 1
req POST /api/v1/projects "$admin" "{\"name\":\"app\",\"repo_url\":\"$tmp/app\"}"
project=$(jget "['id']")

# pipeline_with INCLUDE_URL: commits a configuration including it, runs a pipeline, $body
pipeline_with() {
  (cd "$tmp/app" && printf 'include: {remote: "%s"}\nown:\n  script: [echo own]\n' "$1" > .gitlab-ci.yml \
    && git -c user.email=t@t -c user.name=t commit -qam "include $1") || exit 1
  req POST /api/v1/projects/$project/pipelines "$admin" '{}'
  pl=$(jget "['id']")
  finished() { req GET /api/v1/pipelines/$pl "$admin"; [[ $(jget "['status']") =~ ^(success|failed|canceled)$ ]]; }
  wait_for 120 finished || bad "pipeline $pl finishes" "$body"
}
jobs() { python3 -c "import json,sys; print(' '.join(sorted(j['name'] for j in json.load(sys.stdin)['jobs'])))" <<<"$body"; }

pipeline_with "$allowed/remote.yml"
expect "a remote file of an allowed host is included" "success own remote_job" \
  "$(jget "['status']") $(jobs)" "$body"

pipeline_with "$other/remote.yml"
expect "a host not on the list is refused" "failed 1" \
  "$(jget "['status']") $(grep -c "Remote file \`$other/remote.yml\` could not be fetched: its host is not on this server's --allow-remote-includes list" <<<"$body")" "$body"

pipeline_with "$allowed/away.yml"
expect "a redirect to a host not on the list is refused, naming the target" "failed 1" \
  "$(jget "['status']") $(grep -c "it redirects to \`$other/remote.yml\`, whose host is not on" <<<"$body")" "$body"

pipeline_with "$allowed/within.yml"
expect "a redirect within the list is followed" "success own remote_job" \
  "$(jget "['status']") $(jobs)" "$body"

pipeline_with "$allowed/missing.yml"
expect "a missing file: GitLab's message" "failed 1" \
  "$(jget "['status']") $(grep -c "Remote file \`$allowed/missing.yml\` could not be fetched because of HTTP code \`404\` error!" <<<"$body")" "$body"

server_stop
finish
