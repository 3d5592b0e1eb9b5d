#!/usr/bin/env bash
# The front of the binary: --help, --version, unknown commands, exit codes, and a usage line
# that lists every option of its command (by its short or long form).
set -u
bin=${SLUICE_BIN:?SLUICE_BIN is not set}
. "$(dirname "$0")/lib/check.sh"
runs "--help exits 0" 0 "$bin" --help
has "--help lists commands" "Commands:"
runs "--version exits 0" 0 "$bin" --version
has "--version prints the version" "sluice "
# the commit built, from git at build time (cmake/commit.cmake); "unknown" outside git
if grep -qE '\(commit ([0-9a-f]{12}(-dirty)?|unknown)\)$' <<<"$out"; then pass=$((pass + 1)); echo "ok - --version names the commit";
else fail=$((fail + 1)); echo "not ok - --version names the commit: $out"; fi
runs "no command is a usage error" 2 "$bin"
runs "unknown command is a usage error" 2 "$bin" frobnicate
has "unknown command is named" "'frobnicate' is not a sluice command"
runs "a misspelt command is a usage error" 2 "$bin" lnit
has "a misspelt command gets a hint" "did you mean \`lint\`?"
runs "help COMMAND exits 0" 0 "$bin" help run
has "help COMMAND is the command's --help" "usage: sluice run"
runs "help of an unknown command is a usage error" 2 "$bin" help frobnicate
# include:local stays in the project: a `..` path and a symlink out of it name no file
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/project/ci" && printf 'outside: {script: [echo outside]}\n' >"$tmp/secret.yml"
ln -s ../../secret.yml "$tmp/project/ci/link.yml"
printf 'include:\n  - local: ../secret.yml\n  - local: ci/link.yml\njob: {script: [echo in]}\n' \
  >"$tmp/project/.gitlab-ci.yml"
runs "lint refuses includes leaving the project" 1 "$bin" lint -f "$tmp/project/.gitlab-ci.yml"
has "a .. path: GitLab's wording" 'Local file `../secret.yml` does not exist!'
has "a symlink out of it: GitLab's wording" 'Local file `ci/link.yml` does not exist!'
runs "run refuses them too" 2 "$bin" run -f "$tmp/project/.gitlab-ci.yml"
has "run says why" 'Local file `ci/link.yml` does not exist!'
for cmd in $("$bin" --help | awk '/^Commands:/{on=1; next} on && !NF {exit} on {print $1}'); do
  runs "$cmd --help exits 0" 0 "$bin" "$cmd" --help
  has "$cmd --help shows usage" "usage: sluice $cmd"
  runs "$cmd with a bad option is a usage error" 2 "$bin" "$cmd" --no-such-option
done
# the usage line lists every option of the command's table, by its short or long form
for cmd in $("$bin" --help | awk '/^Commands:/{on=1; next} /^$/{if (on) exit} on {print $1}'); do
  help=$("$bin" "$cmd" --help 2>&1)
  usage=$(awk 'NR == 1 || (NR > 1 && $0 != "" && go) {go = 1; print; next} {exit}' <<<"$help")
  missing= n=0
  while read -r short long; do # short is "-" when the option has no short form
    [[ $long == --help ]] && continue
    n=$((n + 1))
    forms=$long
    [[ $short != - ]] && forms="$short|$long"
    grep -qE -- "(^|[[ |])($forms)([] =|.]|$)" <<<"$usage" || missing+=" $long"
  done < <(sed -nE 's/^  (-[a-zA-Z]), (--[a-z0-9-]+).*/\1 \2/p; s/^      (--[a-z0-9-]+).*/- \1/p' <<<"$help")
  if [[ -z $missing ]]; then pass=$((pass + 1)); echo "ok - $cmd: the usage line lists its $n options";
  else fail=$((fail + 1)); echo "not ok - $cmd: the usage line lacks:$missing ($n options)"; echo "$usage" | sed 's/^/#   /'; fi
done
finish
