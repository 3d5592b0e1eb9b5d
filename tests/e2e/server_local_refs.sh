#!/usr/bin/env bash
# sluice serve with a project whose repo_url is a local directory: the server keeps that
# repository open with the project's mirror and compares their refs directly instead of a
# fetch (pipelines.c local_fetch_is_noop), and reads the commit's variables from the mirror
# (trigger_read). Whatever moved in the source since the last pipeline still reaches the
# next one: a new commit on the branch, the branch rewound, a new branch, refs packed
# (packed-refs instead of loose files), a tag moved to another commit, an annotated tag
# made at a commit whose tree was checked out before the tag existed (its message: the
# tree's repository has the tags of its checkout only), a branch that is a symbolic
# ref (a tag and a symbolic branch first while every ref is a loose file, read by
# loose_noop, then with packed refs, read by libgit2's iterator); and the jobs see the
# commit's title and the tag's message, read from the mirror, and CI_DEFAULT_BRANCH is the
# project's default_branch (the mirror's own guess would say main whenever main exists).
. "$(dirname "$0")/lib/e2e.sh"
needs curl python3 git
. "$(dirname "$0")/lib/server.sh"

git_c() { git -C "$tmp/repo" -c user.email=t@t -c user.name=t "$@"; }
repo_ci "$tmp/repo" <<'YML' || exit 1
job:
  script:
    - echo "sha=$CI_COMMIT_SHA title=$CI_COMMIT_TITLE tagmsg=${CI_COMMIT_TAG_MESSAGE:-none}"
    - echo "default=$CI_DEFAULT_BRANCH"
YML

server_start || { bad "server starts"; exit 1; }
api POST /api/v1/projects "{\"name\":\"p\",\"repo_url\":\"$tmp/repo\",\"default_branch\":\"main\"}"
expect "a project on a local directory" 201 "$code" "$body"
proj=$(jget "['id']")

# pipeline REF: creates a pipeline for REF (a branch, else a tag), waits for its end; sets
# pl_sha, and out to its job's log
pipeline() {
  api POST "/api/v1/projects/$proj/pipelines" "{\"ref\":\"$1\"}"
  [[ $code == 201 ]] || { bad "a pipeline for $1" "$code $body"; pl_sha=; out=; return 1; }
  local pl
  pl=$(jget "['id']")
  pl_sha=$(jget "['sha']")
  for _ in $(seq 600); do
    api GET "/api/v1/pipelines/$pl"
    case $(jget "['status']") in success | failed | canceled) break ;; esac
    sleep 0.1
  done
  out=$(curl -s -H "Authorization: Bearer $admin" "$url/api/v1/jobs/$(jget "['jobs'][0]['id']")/log")
}

pipeline main
first=$(git_c rev-parse main)
expect "the first pipeline is at main's commit" "$first" "$pl_sha"
pipeline main
expect "nothing moved: the same commit again" "$first" "$pl_sha"

git_c commit -q --allow-empty -m "second commit"
second=$(git_c rev-parse main)
pipeline main
expect "a commit on main since the last pipeline: the new commit" "$second" "$pl_sha"
has "the job sees the commit, and its title" \
  "sha=$second title=second commit tagmsg=none"

git_c reset -q --hard "$first"
pipeline main
expect "main rewound to its first commit: that commit" "$first" "$pl_sha"

git_c branch feature "$second"
pipeline feature
expect "a branch made since: its commit" "$second" "$pl_sha"

# all refs loose so far (pipelines.c loose_noop reads the directories): a tag made, then moved
git_c tag v0 "$first"
pipeline v0
expect "a loose tag: its commit" "$first" "$pl_sha"
git_c tag -f v0 "$second" >/dev/null
pipeline v0
expect "the loose tag moved: its new commit" "$second" "$pl_sha"
git_c symbolic-ref refs/heads/loose-alias refs/heads/feature
pipeline loose-alias
expect "a loose symbolic branch: what it points at" "$second" "$pl_sha"
[[ -e $tmp/repo/.git/packed-refs ]] && bad "no packed-refs yet (the loose walk was tested)"

git_c pack-refs --all
git_c checkout -q feature
git_c commit -q --allow-empty -m "third commit"
third=$(git_c rev-parse feature)
git_c pack-refs --all
[[ -e $tmp/repo/.git/refs/heads/feature ]] && bad "pack-refs left feature a loose ref"
pipeline feature
expect "a packed branch that moved: its new commit" "$third" "$pl_sha"

git_c tag v1 "$first"
pipeline v1
expect "a tag: its commit" "$first" "$pl_sha"
git_c tag -f v1 "$third" >/dev/null
pipeline v1
expect "the tag moved to another commit: that commit" "$third" "$pl_sha"

# an annotated tag at a commit whose tree the server checked out before the tag existed
git_c tag -a v2 -m "release two" "$second"
pipeline v2
expect "an annotated tag on an older commit: its commit" "$second" "$pl_sha"
has "the job sees the tag's message" "sha=$second title=second commit tagmsg=release two"

git_c symbolic-ref refs/heads/alias refs/heads/main
pipeline alias
expect "a branch that is a symbolic ref: what it points at" "$first" "$pl_sha"
git_c checkout -q main
git_c commit -q --allow-empty -m "fourth commit"
fourth=$(git_c rev-parse main)
pipeline alias
expect "the symbolic ref's target moved: the new commit" "$fourth" "$pl_sha"
has "CI_DEFAULT_BRANCH: the project's default branch" "default=main"

# a project of the same repository whose default branch is feature, though main exists
api POST /api/v1/projects "{\"name\":\"d\",\"repo_url\":\"$tmp/repo\",\"default_branch\":\"feature\"}"
expect "a project whose default branch is feature" 201 "$code" "$body"
proj=$(jget "['id']")
pipeline main
expect "its pipeline for main: main's commit" "$fourth" "$pl_sha"
has "CI_DEFAULT_BRANCH: feature, the project's, not main" "default=feature"

server_stop
finish
