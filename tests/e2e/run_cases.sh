#!/usr/bin/env bash
# Replays the data-driven `sluice run` cases of tests/cases/run/ (one directory per case:
# a project with its .gitlab-ci.yml, and an `expect` file; see tests/cases/run/README.md).
# The replayer is run_cases.py beside this file. Arguments: [-v] [CASE...].
set -u
. "$(dirname "$0")/lib/skip.sh"
here=$(cd "$(dirname "$0")" && pwd)
: "${SLUICE_BIN:?SLUICE_BIN is not set}"
export SL_SOURCE_DIR=${SL_SOURCE_DIR:-$(cd "$here/../.." && pwd)}
if ! command -v python3 >/dev/null; then
  skip "needs python3 to read sluice's JSON events, and there is none"
fi
if ! command -v git >/dev/null; then
  skip "needs git to make the case repositories, and there is none"
fi
exec python3 "$here/run_cases.py" "$@"
