# lib/e2e.sh: the first lines every end-to-end script had. Source it first:
#
#   . "$(dirname "$0")/lib/e2e.sh"
#   needs curl git          (lib/skip.sh: skips unless every tool is here)
#
# It sets -u, bin (the sluice binary, from SLUICE_BIN) and src (the source tree, from
# SL_SOURCE_DIR or this file's place), sources lib/skip.sh, and makes tmp, a temporary
# directory that an EXIT trap removes; a script that sets its own EXIT trap removes it there.
#
#   at_exit CMD   CMD runs at exit (the last one given first), before tmp is removed:
#                 lib/server.sh gives one that kills a server still running
set -u
bin=${SLUICE_BIN:?SLUICE_BIN is not set}
src=${SL_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)}
. "$(dirname "${BASH_SOURCE[0]}")/skip.sh"
tmp=$(mktemp -d)
at_exits=()
at_exit() { at_exits=("$1" ${at_exits[@]+"${at_exits[@]}"}); }
e2e_exit() {
  local c
  for c in ${at_exits[@]+"${at_exits[@]}"}; do eval "$c"; done
  rm -rf "$tmp"
}
trap e2e_exit EXIT
