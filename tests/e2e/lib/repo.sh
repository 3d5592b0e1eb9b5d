# lib/repo.sh: the git repositories end-to-end scripts run their pipelines from. Source it
# anywhere (it needs only git); lib/server.sh sources it.
#
#   repo_init DIR           DIR (made when missing) as a git repository on branch main whose
#                           own config has the test's identity and no signing: a fresh
#                           machine has no git identity, and plain `git commit` works there
#   repo_commit DIR [MSG]   commits everything in DIR (added, changed, removed) as MSG (init)
#   repo_ci DIR [MSG]       stdin becomes DIR/.gitlab-ci.yml, committed with whatever else is
#                           in DIR as MSG (init); DIR is made a repository first when it is not
#
# Each returns 1 with a line on stderr when git fails, so a script says what it does then:
#   repo_ci "$tmp/repo" <<'YML' || exit 1
repo_init() {
  [[ -d $1/.git ]] && return 0
  mkdir -p "$1" && git -C "$1" init -q -b main &&
    git -C "$1" config user.email t@t && git -C "$1" config user.name t &&
    git -C "$1" config commit.gpgsign false ||
    { echo "cannot make a git repository in $1" >&2; return 1; }
}

repo_commit() {
  git -C "$1" add -A && git -C "$1" commit -qm "${2:-init}" ||
    { echo "cannot commit in $1" >&2; return 1; }
}

repo_ci() {
  repo_init "$1" && cat >"$1/.gitlab-ci.yml" && repo_commit "$1" "${2:-init}"
}
