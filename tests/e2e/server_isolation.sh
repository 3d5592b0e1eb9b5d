#!/usr/bin/env bash
# What a built-in worker's job can see of the server, and what people see of the server's
# state: the job does not inherit the server's environment; a pipeline whose job runs says
# running with its started_at; a first start that cannot write admin.token stores no admin
# token (the next start makes one that works).
. "$(dirname "$0")/lib/e2e.sh"
needs curl python3 git
bin=$(realpath "$bin")
. "$(dirname "$0")/lib/server.sh"
trap 'server_stop; rm -rf "$tmp"' EXIT

# -- the admin token's file comes before the store ---------------------------------------
mkdir -p "$tmp/data/admin.token"
"$bin" serve --listen 127.0.0.1:0 --data "$tmp/data" "${db[@]}" >"$tmp/out0" 2>"$tmp/err0"
expect "a first start that cannot write admin.token fails" 1 "$(($? != 0))" "$(cat "$tmp/err0")"
rmdir "$tmp/data/admin.token"
server_start --workers 1 || exit 1
req GET /api/v1/projects "$admin"
expect "the next start's admin token is the one the store knows" 200 "$code" "$body"

# -- the job's environment ------------------------------------------------------------------
shared_dir
repo_ci "$tmp/repo" <<YML || exit 1
job:
  script:
    - echo "probe=\${SL_ISOLATION_PROBE:-unset} home=\$HOME"
    - echo "job_url=\$CI_JOB_URL pipeline_url=\$CI_PIPELINE_URL"
    - env | grep -c '^SL_ISOLATION_PROBE=' || true
    - echo "user=\$(id -un) uid=\$(id -u)"
    - cat "$tmp/data/admin.token" && echo read-token || echo token-denied
    - cat "$tmp/data/sluice.db" >/dev/null && echo read-db || echo db-denied
    - cat "/proc/\$SERVER_PID/environ" >/dev/null && echo read-environ || echo environ-denied
    - ls "$tmp/data" && echo listed-data || echo list-denied
    - touch "\$HOME/.probe" && echo home-writable || echo home-denied
    - while [ ! -e "$tmp/shared/go" ]; do sleep 0.05; done
YML
server_stop
SL_ISOLATION_PROBE=server-secret server_start --workers 1 || exit 1
req POST /api/v1/projects "$admin" "{\"name\":\"iso\",\"repo_url\":\"$tmp/repo\"}"
project=$(jget "['id']")
req POST /api/v1/projects/$project/pipelines "$admin" "{\"variables\":{\"SERVER_PID\":\"$pid\"}}"
pl=$(jget "['id']")
job_running() { req GET /api/v1/pipelines/$pl "$admin"; [[ $(jget "['jobs'][0]['status']") == running ]]; }
wait_for 60 job_running
pipeline_running() { req GET /api/v1/pipelines/$pl "$admin"; [[ $(jget "['status']") == running ]]; }
wait_for 60 pipeline_running
expect "a pipeline whose job runs says running" running "$(jget "['status']")" "$body"
expect "with its started_at" True "$(jget ".get('started_at') is not None")" "$body"
req GET "/api/v1/projects/$project/pipelines?status=running" "$admin"
expect "?status=running lists it" "$pl" "$(jget "[0]['id']")" "$body"
# the job now waits, printing nothing: what it printed last is in its log all the same
req GET /api/v1/pipelines/$pl "$admin"
job=$(jget "['jobs'][0]['id']")
quiet_line_stored() { req GET /api/v1/jobs/$job/log "$admin"; grep -q '^home-' <<<"$body"; }
wait_for 10 quiet_line_stored
expect "a quiet running job's last line is in its log before the job ends" 1 \
  "$(grep -c '^home-' <<<"$body")" "$body"
touch "$tmp/shared/go"
finished() { req GET /api/v1/pipelines/$pl "$admin"; [[ $(jget "['status']") =~ ^(success|failed)$ ]]; }
wait_for 60 finished
expect "the pipeline succeeds" success "$(jget "['status']")" "$body"
job=$(jget "['jobs'][0]['id']")
req GET /api/v1/jobs/$job/log "$admin"
expect "the job does not see the server's environment" 1 "$(grep -c '^probe=unset home=/' <<<"$body")" "$body"
expect "env lists none of it" 1 "$(grep -cx '0' <<<"$body")" "$body"
expect "the server's value appears nowhere in the log" 0 "$(grep -c server-secret <<<"$body")" "$body"
expect "CI_JOB_URL and CI_PIPELINE_URL point at this server's pages" 1 \
  "$(grep -cx "job_url=$url/jobs/$job pipeline_url=$url/pipelines/$pl" <<<"$body")" "$body"
# a server started as root runs jobs as nobody (--run-as), who cannot reach the server's files
if [[ $(id -u) == 0 ]]; then
  expect "a root server runs jobs as nobody" "user=nobody uid=$(id -u nobody)" \
    "$(grep '^user=' <<<"$body")" "$body"
  expect "the job cannot read admin.token" "1 0" \
    "$(grep -cx token-denied <<<"$body") $(grep -c "$admin" <<<"$body")" "$body"
  expect "nor the SQLite file" 1 "$(grep -cx db-denied <<<"$body")" "$body"
  expect "nor /proc/<server pid>/environ" 1 "$(grep -cx environ-denied <<<"$body")" "$body"
  expect "nor list the data directory" 1 "$(grep -cx list-denied <<<"$body")" "$body"
  expect "its HOME is its own" 1 "$(grep -cx home-writable <<<"$body")" "$body"
  expect "the store is 0600, the data directory 0711" "600 711" \
    "$(stat -c %a "$tmp/data/sluice.db") $(stat -c %a "$tmp/data")"
elif [[ ${CI:-} == true ]]; then
  bad "CI runs this test as root (jobs as another user need it); it runs as $(id -un)"
else
  echo "ok - # SKIP jobs run as another user only when the server is root"
fi

# -- a job canceled at shutdown finishes its pipeline ---------------------------------------
server_stop
server_start --workers 1 --grace 0 || exit 1
rm -f "$tmp/shared/go"
req POST /api/v1/projects/$project/pipelines "$admin" "{\"variables\":{\"SERVER_PID\":\"$pid\"}}"
pl=$(jget "['id']")
wait_for 60 job_running
server_stop
server_start --workers 1 || exit 1
req GET /api/v1/pipelines/$pl "$admin"
expect "a job canceled at shutdown is canceled" canceled "$(jget "['jobs'][0]['status']")" "$body"
expect "and so is its pipeline, across the restart" canceled "$(jget "['status']")" "$body"
expect "with its finished_at" True "$(jget ".get('finished_at') is not None")" "$body"

# -- include:local stays in the repository ---------------------------------------------------
main_sha=$(git -C "$tmp/repo" rev-parse main)
(cd "$tmp/repo" && git checkout -q -b escape && mkdir -p ci &&
  ln -s "$tmp/data/admin.token" ci/token.yml &&
  printf 'include:\n  - local: ci/token.yml\n  - local: ../%s/.gitlab-ci.yml\njob: {script: [true]}\n' \
    "$main_sha" >.gitlab-ci.yml &&
  git add . && git -c user.email=t@t -c user.name=t commit -qm escape &&
  git checkout -q -b escape-main && rm .gitlab-ci.yml && ln -s "$tmp/data/admin.token" .gitlab-ci.yml &&
  git add -A . && git -c user.email=t@t -c user.name=t commit -qm escape-main &&
  git checkout -q main) || exit 1
req POST /api/v1/projects/$project/pipelines "$admin" '{"ref":"escape"}'
expect "an include leaving the repository fails the pipeline" failed "$(jget "['status']")" "$body"
expect "a symlink out of it: GitLab's wording" 1 \
  "$(grep -c 'Local file `ci/token.yml` does not exist!' <<<"$body")" "$body"
expect "a .. path out of it: GitLab's wording" 1 \
  "$(grep -c "Local file \`../$main_sha/.gitlab-ci.yml\` does not exist!" <<<"$body")" "$body"
req POST /api/v1/projects/$project/pipelines "$admin" '{"ref":"escape-main"}'
expect "a .gitlab-ci.yml that is a symlink out of the repository fails" failed \
  "$(jget "['status']")" "$body"
expect "and says why" 1 "$(grep -c 'symlink leading out of the repository' <<<"$body")" "$body"
expect "no answer shows the admin token" 0 "$(grep -c "$admin" <<<"$body")" "$body"

# -- --run-as names a user that exists --------------------------------------------------------
"$bin" serve --listen 127.0.0.1:0 --data "$tmp/data2" --run-as no-such-user-here >/dev/null 2>"$tmp/err2"
expect "--run-as an unknown user: exit 2" 2 "$?" "$(cat "$tmp/err2")"
expect "and says so" 1 "$(grep -c "no user 'no-such-user-here'" "$tmp/err2")" "$(cat "$tmp/err2")"

# -- sluice token create only on a store a server made ------------------------------------
"$bin" token create --role viewer --data "$tmp/nostore" >/dev/null 2>"$tmp/tokerr"
expect "token create refuses a directory without a store" 2 "$?" "$(cat "$tmp/tokerr")"
expect "and says so" 1 "$(grep -c 'holds no sluice store' "$tmp/tokerr")" "$(cat "$tmp/tokerr")"
expect "and creates nothing" no "$([[ -e $tmp/nostore ]] && echo yes || echo no)"
mkdir "$tmp/empty" && : >"$tmp/empty/sluice.db"
"$bin" token create --role viewer --data "$tmp/empty" >/dev/null 2>"$tmp/tokerr"
expect "token create refuses an empty database" 2 "$?" "$(cat "$tmp/tokerr")"
tok=$("$bin" token create --role viewer --data "$tmp/nostore" --init)
expect "with --init it creates the store and the token" slt_ "${tok:0:4}"
tok=$("$bin" token create --role viewer --data "$tmp/data")
expect "on a server's store it needs no --init" slt_ "${tok:0:4}"

finish
