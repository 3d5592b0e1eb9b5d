#!/usr/bin/env bash
# DELETE /api/v1/projects/{id} removes the project's files from the data directory with its
# rows (pipelines.c sl_srv_project_delete): its mirror (repos/<id>), its caches
# (cache/<id>), its workspaces (builds/<id>) and its pipelines' logs and artifacts
# (pipelines/<id>); another project's stay, and a pipeline asked of the deleted project
# afterwards makes none of them again. They go through trash/, which a start empties.
. "$(dirname "$0")/lib/e2e.sh"
needs curl python3 git
. "$(dirname "$0")/lib/server.sh"
shared_dir

repo_ci "$tmp/repo" <<'YML' || exit 1
job:
  cache:
    key: k
    paths: [cached/]
  artifacts:
    paths: [out.txt]
  script:
    - mkdir -p cached && echo c >cached/c
    - echo artifact >out.txt
YML

server_start --workers 1 || { bad "the server starts"; exit 1; }
d=$tmp/data
# project NAME: makes it, runs one pipeline to its end; sets id and pl
project() {
  project_make "$1"
  id=$project
  pipeline_run
  pipeline_wait 120
  expect "project $1: the pipeline passes" success "$pstatus" "$body"
}

project gone
gid=$id gpl=$pl
project kept
kid=$id kpl=$pl
expect "the project's files are there before" "repos/$gid cache/$gid builds/$gid pipelines/$gpl" \
  "$(project_files "$gid" "$gpl")"
arts=$(find "$d/pipelines/$gpl" -path '*/artifacts/*' -type f | wc -l)
caches=$(find "$d/cache/$gid" -type f | wc -l)
if ((arts > 0 && caches > 0)); then ok "its artifacts and its cache are on disk"; else
  bad "its artifacts and its cache are on disk: $arts and $caches files" "$(ls -R "$d" | head -60)"
fi

api DELETE /api/v1/projects/$gid
expect "the project is deleted" 204 "$code" "$body"
expect "none of its files is left" "" "$(project_files "$gid" "$gpl")" "$(ls -R "$d" | head -40)"
expect "the other project's files stay" "repos/$kid cache/$kid builds/$kid pipelines/$kpl" \
  "$(project_files "$kid" "$kpl")"

api POST /api/v1/projects/$gid/pipelines '{"ref":"main"}'
expect "a pipeline of the deleted project is refused" 404 "$code" "$body"
expect "and makes none of its files again" "" "$(project_files "$gid" "$gpl")"
api DELETE /api/v1/projects/$gid
expect "deleting it again: 404" 404 "$code" "$body"
expect "nothing is left in trash/ (where the files were moved before their removal)" "" \
  "$(ls -A "$d/trash" 2>/dev/null)"
server_stop

# what a crash left in trash/ (a deletion moved the files, then died) goes at the next start
mkdir -p "$d/trash/12345.0/logs" && echo left >"$d/trash/12345.0/logs/1.log"
server_start --workers 0 || { bad "the server starts again"; exit 1; }
expect "the start empties trash/" "" "$(ls -A "$d/trash" 2>/dev/null)"
expect "and keeps the other project's files" "repos/$kid cache/$kid builds/$kid pipelines/$kpl" \
  "$(project_files "$kid" "$kpl")"
server_stop
finish
