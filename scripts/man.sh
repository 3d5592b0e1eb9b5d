#!/usr/bin/env bash
# scripts/man.sh SLUICE OUTDIR: the man pages sluice.1 and sluice-CMD.1, made by the binary
# from the same option tables as its --help and completion (src/cli/man.c). Used by
# `make install`.
set -euo pipefail
bin=$1 out=$2
mkdir -p "$out"
"$bin" __man "$out"
