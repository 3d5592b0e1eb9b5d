#!/usr/bin/env bash
# The data-driven `sluice run` cases of tests/cases/run/ replayed through `sluice serve`
# (run_cases.py --server): a project per case on its repository, a pipeline per run made
# through the API, the same expectations checked against the server's answers, so a local
# run and a server pipeline are shown to behave alike. Arguments: [-v] [CASE...].
set -u
here=$(cd "$(dirname "$0")" && pwd)
: "${SLUICE_BIN:?SLUICE_BIN is not set}"
export SL_SOURCE_DIR=${SL_SOURCE_DIR:-$(cd "$here/../.." && pwd)}
. "$(dirname "$0")/lib/skip.sh"
needs python3 git
verbose=()
if [[ ${1:-} == -v ]]; then
  verbose=(-v)
  shift
fi
exec python3 "$here/run_cases.py" "${verbose[@]}" --server "$@"
