#!/usr/bin/env bash
# Merge (pull) request pipelines on a real `sluice serve`: signed GitHub, Gitea and GitLab
# request webhooks make pipelines with CI_PIPELINE_SOURCE=merge_request_event and GitLab's
# CI_MERGE_REQUEST_* variables (no CI_COMMIT_BRANCH; GitHub's and Gitea's checked value by
# value: IID, title, branches, SHAs, diff base, labels, draft, event type, ref path);
# rules:changes compares with the
# target branch, not the last push; GitLab's "merge request pipelines, else branch
# pipelines" workflow makes one pipeline per push (CI_OPEN_MERGE_REQUESTS), and branch
# pipelines again once the request is closed; a request from a fork gets no protected
# variable, not even when its YAML sets CI_COMMIT_REF_PROTECTED. With the project's
# fork_pipelines_need_approval, a fork's pipeline (each forge's way of saying fork: GitHub's
# and Gitea's head.repo unlike base.repo, GitLab's source_project_id unlike
# target_project_id) is held ("manual", waits_for_approval, no job started) until a
# maintainer approves it; a developer may not, a held one can be canceled, and the project's
# own requests are not held. A fork's child pipeline keeps the fork's commit and gets no
# protected variable (from a branch named like a protected one), its job token reads no
# other pipeline's artifacts and changes no flag, and its trigger:project fails
# (insufficient_bridge_permissions), where the project's own request's may. Where GitHub offers its test merge of a mergeable request
# (refs/pull/N/merge, a merge of the head), the pipeline runs on it (merged_result, the head
# in source_sha); a null mergeable, a stale merge and Gitea run on the head. On SQLite here and on PostgreSQL through server_pg.sh
# (SL_SERVER_DB). A fork's request from a branch named like one of the project's does not
# auto-cancel that branch's pipeline, nor include from another project of the server.
. "$(dirname "$0")/lib/e2e.sh"
needs curl python3 git
chmod 0711 "$tmp" # a root server runs jobs as nobody: the data directory's path must be walkable
# shellcheck source=lib/server.sh
. "$src/tests/e2e/lib/server.sh"
rpid=
trap '[[ -n $pid ]] && kill -9 "$pid" 2>/dev/null; [[ -n $rpid ]] && kill "$rpid" 2>/dev/null; rm -rf "$tmp"' EXIT

gitc() { git -C "$tmp/repo" "$@"; }
repo_ci "$tmp/repo" <<'YML' || exit 1
workflow:
  rules:
    - if: $CI_PIPELINE_SOURCE == "merge_request_event"
    - if: $CI_COMMIT_BRANCH && $CI_OPEN_MERGE_REQUESTS
      when: never
    - if: $CI_COMMIT_BRANCH
show:
  script:
    - echo "src=$CI_PIPELINE_SOURCE iid=${CI_MERGE_REQUEST_IID:-} title=${CI_MERGE_REQUEST_TITLE:-} branch=[${CI_COMMIT_BRANCH:-}] ref=$CI_COMMIT_REF_NAME"
    - echo "mr=${CI_MERGE_REQUEST_SOURCE_BRANCH_NAME:-}>${CI_MERGE_REQUEST_TARGET_BRANCH_NAME:-} labels=${CI_MERGE_REQUEST_LABELS:-} draft=${CI_MERGE_REQUEST_DRAFT:-} type=${CI_MERGE_REQUEST_EVENT_TYPE:-}"
    - echo "base=${CI_MERGE_REQUEST_DIFF_BASE_SHA:-} head=${CI_MERGE_REQUEST_SOURCE_BRANCH_SHA:-} sha=$CI_COMMIT_SHA"
    - echo "prot=[${PROT:-}] refprot=$CI_COMMIT_REF_PROTECTED"
    - echo "srcprot=${CI_MERGE_REQUEST_SOURCE_BRANCH_PROTECTED:-}"
    - echo "target=${CI_MERGE_REQUEST_TARGET_BRANCH_SHA:-} path=${CI_MERGE_REQUEST_REF_PATH:-}"
docs:
  rules:
    - changes: [docs/*]
  script: [echo docs]
YML
base=$(gitc rev-parse main)
gitc checkout -qb feature
mkdir -p "$tmp/repo/docs" && echo a > "$tmp/repo/docs/a.md" && gitc add docs && gitc commit -qm docs
echo x > "$tmp/repo/src.txt" && gitc add src.txt && gitc commit -qm code
head=$(gitc rev-parse feature)
# a fork's commit, reachable only from the forge's pull request ref
gitc checkout -q --detach "$base"
echo fork > "$tmp/repo/fork.txt" && gitc add fork.txt && gitc commit -qm fork
fork=$(gitc rev-parse HEAD)
gitc update-ref refs/pull/9/head "$fork"
# a fork whose YAML claims a protected ref: what it says must not buy protected variables
python3 - "$tmp/repo/.gitlab-ci.yml" <<'PY'
import sys
p = sys.argv[1]
text = open(p).read()
open(p, "w").write('variables:\n  CI_COMMIT_REF_PROTECTED: "true"\n' + text)
PY
gitc commit -qam "fork claims a protected ref"
fork2=$(gitc rev-parse HEAD)
for n in 21 22; do gitc update-ref refs/pull/$n/head "$fork2"; done
gitc update-ref refs/merge-requests/23/head "$fork2"
# GitHub's test merge of the request into main (refs/pull/N/merge): parents main, then head
gitc checkout -q --detach main
gitc merge -q --no-ff -m "Merge feature into main" "$head"
merged=$(gitc rev-parse HEAD)
for n in 31 32 33; do gitc update-ref refs/pull/$n/merge "$merged"; done
gitc update-ref refs/pull/33/head "$fork"
gitc update-ref refs/pull/41/head "$fork"
# a commit whose YAML includes another project's file
gitc checkout -q --detach "$base"
printf 'include:\n  - project: other\n    file: /inc.yml\n' > "$tmp/repo/.gitlab-ci.yml"
gitc commit -qam "include another project"
incl=$(gitc rev-parse HEAD)
for n in 51 52; do gitc update-ref refs/pull/$n/head "$incl"; done
mkdir -p "$tmp/other" && git -C "$tmp/other" init -q -b main &&
  printf 'incjob:\n  rules: [{if: $CI_PIPELINE_SOURCE == "merge_request_event"}]\n  script: [echo included]\n' > "$tmp/other/inc.yml" &&
  git -C "$tmp/other" add . && git -C "$tmp/other" -c user.email=t@t -c user.name=t commit -qm inc
# a branch "slow" whose job waits while a file exists (interruptible: auto-cancel may stop it)
gitc checkout -q -b slow main
printf 'slow:\n  interruptible: true\n  script:\n    - touch "$HOLD.started"; while [ -e "$HOLD" ]; do sleep 0.1; done\n' \
  > "$tmp/repo/.gitlab-ci.yml"
gitc commit -qam slow
gitc checkout -q main

server_start || { bad "server starts"; finish; exit 1; }
ok "server starts ($url)"
secret=mr-webhook-secret
req POST /api/v1/projects "$admin" "{\"name\":\"mr\",\"repo_url\":\"file://$tmp/repo\",\"webhook_secret\":\"$secret\"}"
expect "project created" 201 "$code" "$body"
proj=$(jget "['id']")
req POST "/api/v1/projects/$proj/protected_branches" "$admin" '{"name":"feature"}'
req POST "/api/v1/projects/$proj/variables" "$admin" '{"key":"PROT","value":"p","protected":true}'
expect "a protected variable" 201 "$code" "$body"

# hook FORGE EVENT JSON -> $code $body (signed as the forge signs)
hook() {
  local sig_header sig
  case $1 in
  github) sig_header=X-Hub-Signature-256 sig=sha256=$(python3 -c 'import hmac,hashlib,sys; print(hmac.new(sys.argv[1].encode(), sys.argv[2].encode(), hashlib.sha256).hexdigest())' "$secret" "$3") ;;
  gitea) sig_header=X-Gitea-Signature sig=$(python3 -c 'import hmac,hashlib,sys; print(hmac.new(sys.argv[1].encode(), sys.argv[2].encode(), hashlib.sha256).hexdigest())' "$secret" "$3") ;;
  gitlab) sig_header=X-Gitlab-Token sig=$secret ;;
  esac
  local ev_header=X-GitHub-Event
  [[ $1 == gitea ]] && ev_header=X-Gitea-Event
  [[ $1 == gitlab ]] && ev_header=X-Gitlab-Event
  code=$(curl -s -o "$tmp/body" -w '%{http_code}' -X POST "$url/hooks/$1" --data-binary "$3" \
    -H 'Content-Type: application/json' -H "$ev_header: $2" -H "$sig_header: $sig")
  body=$(cat "$tmp/body")
}
# pr ACTION NUMBER HEAD_SHA [FORK] [DRAFT] [MERGE_SHA MERGEABLE]: a GitHub/Gitea
# pull_request payload (MERGEABLE: true, false or null, as GitHub says it)
pr() {
  REPO=$tmp/repo python3 - "$@" <<'PY'
import json, os, sys
args = sys.argv[1:] + ["", "", "", ""]
action, number, sha, fork, draft, merge, mergeable = args[:7]
head_repo = {"full_name": fork or "t/repo", "html_url": "https://forge.example/" + (fork or "t/repo")}
branch = os.environ.get("PR_BRANCH", "feature")
print(json.dumps({"action": action, "number": int(number),
  "pull_request": {"number": int(number), "title": "Add docs", "body": "why", "draft": draft == "draft",
    "labels": [{"name": "bug"}, {"name": "ui"}], "merged": False,
    "head": {"ref": branch, "sha": sha, "repo": head_repo},
    "base": {"ref": "main", "sha": "", "repo": {"full_name": "t/repo"}},
    "merge_commit_sha": merge or None, "mergeable": json.loads(mergeable or "null")},
  "repository": {"full_name": "t/repo", "clone_url": "file://" + os.environ["REPO"]}}))
PY
}
push() { # push SHA: a GitHub push of branch feature
  printf '{"ref":"refs/heads/feature","before":"%s","after":"%s","repository":{"clone_url":"file://%s"}}' \
    "$base" "$1" "$tmp/repo"
}
done_pipeline() { req GET "/api/v1/pipelines/$1" "$admin"; [[ $(jget "['status']") =~ ^(success|failed|canceled)$ ]]; }
jobs_of() { python3 -c "import json,sys; print(' '.join(sorted(j['name'] for j in json.load(sys.stdin)['jobs'])))" <<<"$body"; }
log_of() { # log_of PIPELINE JOB -> $body
  req GET "/api/v1/pipelines/$1" "$admin"
  local id
  id=$(python3 -c "import json,sys; print([j['id'] for j in json.load(sys.stdin)['jobs'] if j['name']==sys.argv[1]][0])" "$2" <<<"$body")
  req GET "/api/v1/jobs/$id/log" "$admin"
}
line() { grep -v '^\$ ' <<<"$body" | grep -o "$1.*" | head -1; }

# --- a branch pipeline before any request; rules:changes sees the last push only ----------
hook github push "$(push "$head")"
expect "a push of a branch without a request: a branch pipeline" "201 push" "$code $(jget "['source']")" "$body"
pl=$(jget "['id']")
wait_for 120 done_pipeline "$pl" || bad "pipeline $pl finishes" "$body"
expect "its changes are the pushed commit's (no docs job)" "show" "$(jobs_of)" "$body"

# --- GitHub: opened -----------------------------------------------------------------------
hook github pull_request "$(pr opened 7 "$head")"
expect "github pull_request opened: a merge request pipeline" "201 merge_request_event" \
  "$code $(jget "['source']")" "$body"
pl=$(jget "['id']")
wait_for 120 done_pipeline "$pl" || bad "pipeline $pl finishes" "$body"
expect "rules:changes compares with the target branch (docs changed two commits ago)" \
  "docs show" "$(jobs_of)" "$body"
log_of "$pl" show
expect "CI_MERGE_REQUEST_IID, _TITLE, no CI_COMMIT_BRANCH, the source branch as the ref" \
  "src=merge_request_event iid=7 title=Add docs branch=[] ref=feature" "$(line src=)" "$body"
expect "source and target branches, labels, draft, event type" \
  "mr=feature>main labels=bug,ui draft=false type=detached" "$(line mr=)" "$body"
expect "the diff base is the merge base; the head is the request's" \
  "base=$base head=$head sha=$head" "$(line base=)" "$body"
expect "both branches protected, not a fork: protected variables" "prot=[p] refprot=true" \
  "$(line prot=)" "$body"
expect "... and its source branch says protected" srcprot=true "$(line srcprot=)" "$body"

# --- one pipeline per push while the request is open ---------------------------------------
hook github push "$(push "$head")"
expect "a push of the request's branch: no branch pipeline (CI_OPEN_MERGE_REQUESTS)" \
  "202 no_pipeline" "$code $(jget "['status']")" "$body"
hook github pull_request "$(pr synchronize 7 "$head")"
expect "... its synchronize event makes the one pipeline" "201 merge_request_event" \
  "$code $(jget "['source']")" "$body"
hook github pull_request "$(pr labeled 7 "$head")"
expect "a labeled event is recorded, no pipeline" "202 recorded" "$code $(jget "['status']")" "$body"

# --- a fork -----------------------------------------------------------------------------
hook github pull_request "$(pr opened 9 "$fork" someone/fork)"
expect "a fork's pull request: a pipeline on its head (fetched from refs/pull/9/head)" \
  "201 $fork" "$code $(jget "['sha']")" "$body"
pl=$(jget "['id']")
wait_for 120 done_pipeline "$pl" || bad "pipeline $pl finishes" "$body"
log_of "$pl" show
expect "a fork gets no protected variable" "prot=[] refprot=false" "$(line prot=)" "$body"
expect "a fork's source branch is not the project's protected branch of that name" \
  srcprot=false "$(line srcprot=)" "$body"
expect "a fork's jobs see its commit as CI_COMMIT_SHA, not the project's branch of that name" \
  "head=$fork sha=$fork" "$(line base= | cut -d' ' -f2-)" "$body"

# --- closed: branch pipelines again -----------------------------------------------------
hook github pull_request "$(pr closed 7 "$head")"
expect "closed: recorded" "202 closed" "$code $(jget "['state']")" "$body"
hook github push "$(push "$head")"
expect "a push once the request is closed: a branch pipeline again (a fork's open request of a branch of the same name is another branch)" "201 push" \
  "$code $(jget "['source']")" "$body"

# --- Gitea ------------------------------------------------------------------------------
hook gitea pull_request "$(pr opened 11 "$head" "" draft)"
expect "gitea pull_request opened: a merge request pipeline" "201 merge_request_event" \
  "$code $(jget "['source']")" "$body"
pl=$(jget "['id']")
wait_for 120 done_pipeline "$pl" || bad "pipeline $pl finishes" "$body"
expect "gitea: rules:changes compares with the target branch" "docs show" "$(jobs_of)" "$body"
log_of "$pl" show
expect "gitea: CI_MERGE_REQUEST_IID, _TITLE, no CI_COMMIT_BRANCH, the source branch as the ref" \
  "src=merge_request_event iid=11 title=Add docs branch=[] ref=feature" "$(line src=)" "$body"
expect "gitea: source and target branches, labels, draft, event type" \
  "mr=feature>main labels=bug,ui draft=true type=detached" "$(line mr=)" "$body"
expect "gitea: the diff base is the merge base; the head is the request's" \
  "base=$base head=$head sha=$head" "$(line base=)" "$body"
expect "gitea: the target branch's commit, GitLab's ref path" \
  "target=$base path=refs/merge-requests/11/head" "$(line target=)" "$body"
expect "gitea: both branches protected, not a fork: protected variables" "prot=[p] refprot=true" \
  "$(line prot=)" "$body"
hook gitea pull_request "$(pr synchronized 11 "$head")"
expect "gitea synchronized: a pipeline" 201 "$code" "$body"

# --- GitLab -----------------------------------------------------------------------------
gl() { # gl ACTION [OLDREV [IID SHA SOURCE_PROJECT_ID]]
  python3 - "$1" "${2:-}" "${4:-$head}" "$tmp/repo" "${3:-3}" "${5:-1}" <<'PY'
import json, sys
action, oldrev, sha, repo, iid, src = sys.argv[1:7]
oa = {"iid": int(iid), "title": "Draft: docs", "description": "d", "source_branch": "feature",
      "target_branch": "main", "last_commit": {"id": sha}, "action": action, "state": "opened",
      "draft": True, "source_project_id": int(src), "target_project_id": 1}
if oldrev: oa["oldrev"] = oldrev
print(json.dumps({"object_kind": "merge_request", "object_attributes": oa,
  "labels": [{"title": "backend"}], "project": {"git_http_url": "file://" + repo}}))
PY
}
hook gitlab "Merge Request Hook" "$(gl open)"
expect "gitlab Merge Request Hook open: a merge request pipeline" "201 merge_request_event" \
  "$code $(jget "['source']")" "$body"
pl=$(jget "['id']")
wait_for 120 done_pipeline "$pl" || bad "pipeline $pl finishes" "$body"
log_of "$pl" show
expect "gitlab: iid, labels and draft from the hook" "mr=feature>main labels=backend draft=true type=detached" \
  "$(line mr=)" "$body"
hook gitlab "Merge Request Hook" "$(gl update)"
expect "gitlab update without new commits (no oldrev): recorded, no pipeline" "202 recorded" \
  "$code $(jget "['status']")" "$body"
hook gitlab "Merge Request Hook" "$(gl update "$base")"
expect "gitlab update with new commits (oldrev): a pipeline" 201 "$code" "$body"
hook gitlab "Merge Request Hook" "{\"object_attributes\": {\"iid\": 4}, \"project\": {\"git_http_url\": \"file://$tmp/repo\"}}"
expect "a request event without its fields: 400 naming what is missing" "400 1" \
  "$code $(grep -c 'lacks' <<<"$body")" "$body"

# --- merged results: GitHub's test merge, where it offers one --------------------------
# (with a GitHub connection to a loopback receiver: where the status goes)
mkdir "$tmp/recv"
python3 "$src/tests/e2e/forge_receiver.py" "$tmp/recv" 2>"$tmp/recv.err" &
rpid=$!
wait_for 60 test -s "$tmp/recv/ports" || bad "the forge receiver starts" "$(cat "$tmp/recv.err")"
R=http://127.0.0.1:$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['http'])" "$tmp/recv/ports")
req PUT "/api/v1/projects/$proj/forge" "$admin" "{\"kind\":\"github\",\"api_url\":\"$R/github\",\"repository\":\"o/r\",\"token\":\"ghtok\"}"
expect "a GitHub connection for the statuses" 200 "$code" "$body"
hook github pull_request "$(pr opened 31 "$head" "" "" "$merged" true)"
expect "github: a mergeable request with its test merge runs on the merge" \
  "201 $merged $head" "$code $(jget "['sha']") $(jget "['source_sha']")" "$body"
pl=$(jget "['id']")
expect "... its target_sha the target's commit merged into" "$base" "$(jget "['target_sha']")" "$body"
wait_for 120 done_pipeline "$pl" || bad "pipeline $pl finishes" "$body"
expect "a merged results pipeline sees the request's whole diff (docs job)" "docs show" "$(jobs_of)" "$body"
log_of "$pl" show
expect "CI_MERGE_REQUEST_EVENT_TYPE=merged_result, CI_COMMIT_SHA the merge" \
  "mr=feature>main labels=bug,ui draft=false type=merged_result" "$(line mr=)" "$body"
expect "... the head and diff base are the request's" "base=$base head=$head sha=$merged" \
  "$(line base=)" "$body"
delivered() { req GET "/api/v1/projects/$proj/deliveries?state=pending" "$admin"; [[ $code == 200 && $body == "[]" ]]; }
wait_for 120 delivered || bad "the statuses are delivered" "$body"
expect "its commit statuses go to the request's head, none to the test merge" "yes 0" \
  "$(grep -q "/statuses/$head" "$tmp/recv/http.jsonl" && echo yes) $(grep -c "/statuses/$merged" "$tmp/recv/http.jsonl")"
hook github pull_request "$(pr opened 32 "$head" "" "" "$merged" null)"
expect "mergeable null (GitHub still computing): a detached pipeline on the head" \
  "201 $head False" "$code $(jget "['sha']") $(jget ".get('source_sha') is not None")" "$body"
hook github pull_request "$(pr opened 33 "$fork" "" "" "$merged" true)"
expect "a test merge that is not of the request's head (stale): the head, detached" \
  "201 $fork" "$code $(jget "['sha']")" "$body"
hook gitea pull_request "$(pr opened 31 "$head" "" "" "$merged" true)"
expect "gitea makes no test merge: its request runs on the head" "201 $head" \
  "$code $(jget "['sha']")" "$body"

# --- forks held for a maintainer's approval --------------------------------------------
req PUT "/api/v1/projects/$proj" "$admin" '{"fork_pipelines_need_approval": true}'
expect "the project asks for approval of forks' pipelines" "200 True" \
  "$code $(jget "['fork_pipelines_need_approval']")" "$body"
held_state() { # held_state PIPELINE -> "STATUS WAITS JOB-STATUSES"
  req GET "/api/v1/pipelines/$1" "$admin"
  python3 -c "import json,sys; d=json.load(sys.stdin); print(d['status'], d['waits_for_approval'], ' '.join(sorted(set(j['status'] for j in d['jobs']))))" <<<"$body"
}
hook github pull_request "$(pr opened 21 "$fork2" someone/fork)"
expect "github: head.repo unlike base.repo is a fork: its pipeline is held" \
  "201 manual True fork" "$code $(jget "['status']") $(jget "['waits_for_approval']") $(jget "['hold_reason']")" "$body"
held_gh=$(jget "['id']")
hook gitea pull_request "$(pr opened 22 "$fork2" someone/fork)"
expect "gitea: head.repo unlike base.repo: held" "201 manual True" \
  "$code $(jget "['status']") $(jget "['waits_for_approval']")" "$body"
held_gitea=$(jget "['id']")
hook gitlab "Merge Request Hook" "$(gl open '' 23 "$fork2" 2)"
expect "gitlab: source_project_id unlike target_project_id: held" "201 manual True" \
  "$code $(jget "['status']") $(jget "['waits_for_approval']")" "$body"
held_gl=$(jget "['id']")
hook gitlab "Merge Request Hook" "$(gl open)"
expect "gitlab: the project's own request (same project ids) is not held" "201 False" \
  "$code $(jget "['waits_for_approval']")" "$body"
own=$(jget "['id']")
hook github pull_request "$(pr opened 24 "$head")"
expect "github: the project's own pull request is not held" "201 False" \
  "$code $(jget "['waits_for_approval']")" "$body"
wait_for 120 done_pipeline "$own" || bad "pipeline $own finishes" "$body"
# the project's own pipelines ran to their end meanwhile; the held ones started nothing
for pl in $held_gh $held_gitea $held_gl; do
  expect "held pipeline $pl: still manual, its jobs created" "manual True created" "$(held_state "$pl")"
done
req GET "/api/v1/pipelines/$held_gh" "$admin"
job=$(python3 -c "import json,sys; print(json.load(sys.stdin)['jobs'][0]['id'])" <<<"$body")
req POST "/api/v1/jobs/$job/retry" "$admin"
expect "a job of a held pipeline cannot be retried or played around the hold" 409 "$code" "$body"
req POST /api/v1/tokens "$admin" '{"name":"dev","role":"developer"}'
dev=$(jget "['token']")
req POST "/api/v1/pipelines/$held_gh/approve" "$dev"
expect "a developer may not approve" 403 "$code" "$body"
req POST "/api/v1/pipelines/$held_gh/approve" "$admin"
expect "a maintainer approves: it runs" "200 False True" \
  "$code $(jget "['waits_for_approval']") $(jget "['approved_by'].startswith('token:')")" "$body"
wait_for 120 done_pipeline "$held_gh" || bad "approved pipeline $held_gh finishes" "$body"
expect "the approved pipeline succeeded" success "$(jget "['status']")" "$body"
wait_for 120 delivered || bad "the held pipelines' statuses are delivered" "$body"
expect "the forge is told a held pipeline waits for approval, then how it ran" \
  "The pipeline waits for a maintainer's approval|The pipeline is waiting|The pipeline passed" \
  "$(python3 - "$tmp/recv/http.jsonl" "$fork2" <<'PY'
import json, sys
seen = []
for l in open(sys.argv[1]):
    r = json.loads(l)
    if r["path"].endswith("/statuses/" + sys.argv[2]):
        d = json.loads(r["body"])["description"]
        if d not in seen:
            seen.append(d)
print("|".join(seen))
PY
)"
log_of "$held_gh" show
expect "approved, a fork still gets no protected variable, whatever its YAML claims" \
  "prot=[] refprot=true" "$(line prot=)" "$body"
req POST "/api/v1/pipelines/$held_gh/approve" "$admin"
expect "approving twice: 409" 409 "$code" "$body"
req POST "/api/v1/pipelines/$held_gitea/cancel" "$admin"
expect "a held pipeline can be canceled" "200 canceled False" \
  "$code $(jget "['status']") $(jget "['waits_for_approval']")" "$body"
req POST "/api/v1/pipelines/$held_gitea/approve" "$admin"
expect "a canceled held pipeline cannot be approved" 409 "$code" "$body"
req POST "/api/v1/pipelines/$held_gl/approve" "$admin"
wait_for 120 done_pipeline "$held_gl" || bad "approved pipeline $held_gl finishes" "$body"
log_of "$held_gl" show
expect "gitlab's fork, approved: no protected variable" "prot=[]" "$(line prot= | cut -d' ' -f1)" "$body"
req POST "/api/v1/pipelines/999999/approve" "$admin"
expect "approving no pipeline: 404" 404 "$code" "$body"

# --- a fork's YAML may not include from another project of the server --------------------
req POST /api/v1/projects "$admin" "{\"name\":\"other\",\"repo_url\":\"file://$tmp/other\"}"
expect "another project" 201 "$code" "$body"
hook github pull_request "$(pr opened 52 "$incl")"
c=$code
req GET "/api/v1/pipelines/$(jget "['id']")" "$admin"
expect "the project's own request may include from another project" "201 incjob" "$c $(jobs_of)" "$body"
hook github pull_request "$(pr opened 51 "$incl" someone/fork)"
expect "a fork's request may not: its pipeline fails, saying why" "201 failed 1" \
  "$code $(jget "['status']") $(grep -c "from a fork may include only from project" <<<"$body")" "$body"

# --- a fork's child pipeline is a fork's pipeline: the fork's commit, no protected variable,
# no artifact from outside, no change through its job token, no other project triggered ----
gitc checkout -q -b arts "$base"
printf 'build:\n  script: [echo built > out.txt]\n  artifacts: {paths: [out.txt]}\n' > "$tmp/repo/.gitlab-ci.yml"
gitc commit -qam arts
req POST "/api/v1/projects/$proj/pipelines" "$admin" '{"ref":"arts"}'
arts=$(jget "['id']")
wait_for 120 done_pipeline "$arts" || bad "the artifacts pipeline finishes" "$body"
artjob=$(python3 -c "import json,sys; print(json.load(sys.stdin)['jobs'][0]['id'])" <<<"$body")
req POST "/api/v1/projects/$proj/feature_flags" "$admin" '{"name":"gate"}'
gitc checkout -q --detach "$base"
cat > "$tmp/repo/.gitlab-ci.yml" <<'YML'
workflow:
  rules: [{if: $CI_PIPELINE_SOURCE == "merge_request_event"}]
kid:
  trigger:
    include: child.yml
    strategy: depend
away:
  trigger:
    project: t/other
YML
cat > "$tmp/repo/child.yml" <<YML
childjob:
  script:
    - echo "child prot=[\${PROT:-}] sha=\$CI_COMMIT_SHA"
    - |
      echo "art=\$(curl -s -o /dev/null -w '%{http_code}' -H "JOB-TOKEN: \$CI_JOB_TOKEN" "\$CI_SERVER_URL/api/v4/jobs/$artjob/artifacts")"
    - |
      echo "flag=\$(curl -s -o /dev/null -w '%{http_code}' -X PUT -H "Authorization: Bearer \$CI_JOB_TOKEN" --data '{"enabled":true}' "\$CI_SERVER_URL/api/v1/projects/$proj/feature_flags/gate/environments/production")"
YML
gitc add child.yml && gitc commit -qam "a child pipeline"
kids=$(gitc rev-parse HEAD)
for n in 61 62; do gitc update-ref refs/pull/$n/head "$kids"; done
gitc checkout -q main
bridge_reason() { # bridge_reason PIPELINE BRIDGE -> its failure_reason
  req GET "/api/v1/pipelines/$1" "$admin"
  python3 -c "import json,sys; print([j.get('failure_reason') for j in json.load(sys.stdin)['jobs'] if j['name']==sys.argv[1]][0])" "$2" <<<"$body"
}
child_line() { # child_line PIPELINE -> the child job's log line, in $child
  req GET "/api/v1/pipelines/$1" "$admin"
  local down
  down=$(jget "['downstream'][0]['id']")
  log_of "$down" childjob
  child="$(line 'child prot=') $(line 'art=') $(line 'flag=')"
}
hook github pull_request "$(pr opened 61 "$kids")"
own=$(jget "['id']")
wait_for 120 done_pipeline "$own" || bad "the project's own request's pipeline $own finishes" "$body"
child_line "$own"
expect "the project's own request: its child runs its commit, protected (both branches are), may read the project's artifacts and roll out a flag" \
  "child prot=[p] sha=$kids art=200 flag=200" "$child" "$body"
expect "... and may trigger another project's pipeline (which fails here: it has no .gitlab-ci.yml)" \
  downstream_pipeline_creation_failed "$(bridge_reason "$own" away)" "$body"
hook github pull_request "$(pr opened 62 "$kids" someone/fork)"
forked=$(jget "['id']")
req POST "/api/v1/pipelines/$forked/approve" "$admin"
wait_for 120 done_pipeline "$forked" || bad "the fork's pipeline $forked finishes" "$body"
child_line "$forked"
expect "a fork's request from a protected branch's name: its child runs the fork's commit, gets no protected variable, reads no artifact of another pipeline, changes no flag" \
  "child prot=[] sha=$kids art=403 flag=403" "$child" "$body"
expect "... and may not trigger another project's pipeline" \
  insufficient_bridge_permissions "$(bridge_reason "$forked" away)" "$body"

# --- a request's pipeline cancels only its own request's, never a branch's of that name ---
mkdir -p "$tmp/shared" && chmod 1777 "$tmp/shared"
hold=$tmp/shared/hold-slow
touch "$hold"
req POST "/api/v1/projects/$proj/pipelines" "$admin" "{\"ref\":\"slow\",\"variables\":{\"HOLD\":\"$hold\"}}"
slow=$(jget "['id']")
wait_for 120 test -e "$hold.started" || bad "the slow branch's job runs" "$body"
PR_BRANCH=slow hook github pull_request "$(PR_BRANCH=slow pr opened 41 "$fork" someone/fork)"
expect "a fork's request from a branch named like the project's: its pipeline (held)" \
  "201 slow 41" "$code $(jget "['ref']") $(jget "['merge_request_iid']")" "$body"
req GET "/api/v1/pipelines/$slow" "$admin"
expect "... does not auto-cancel the project's branch pipeline of that name" running \
  "$(jget "['status']")" "$body"
rm -f "$hold"
wait_for 120 done_pipeline "$slow" || bad "the slow pipeline finishes" "$body"
expect "the branch pipeline ends as its job does" success "$(jget "['status']")" "$body"

server_stop
finish
