#!/usr/bin/env bash
# scripts/man.sh SLUICE OUTDIR: man pages from the binary's own help, so they list the same
# options as --help: sluice.1 (the command list) and sluice-CMD.1 for each command of
# `sluice --help`. Used by `make install`.
set -euo pipefail
bin=$1 out=$2
mkdir -p "$out"
version=$("$bin" --version | awk '{print $2}')
roff() { # escape backslashes and leading dots/quotes of a help text
  sed -e 's/\\/\\e/g' -e 's/^\([.'"'"']\)/\\\&\1/'
}
page() { # NAME TITLE-LINE HELP-TEXT
  {
    printf '.TH %s 1 "" "sluice %s" "sluice manual"\n' "$(tr a-z A-Z <<<"$1")" "$version"
    printf '.SH NAME\n%s \\- %s\n' "$1" "$2"
    printf '.SH DESCRIPTION\n.nf\n'
    roff <<<"$3"
    printf '.fi\n.SH SEE ALSO\nThe documentation in docs/ of the sources; sluice(1).\n'
  } >"$out/$1.1"
}
cmds=$("$bin" --help | awk '/^Commands:/{on=1; next} /^$/{if (on) exit} on {print $1}')
page sluice "run GitLab CI pipelines locally and as a server" "$("$bin" --help)"
for c in $cmds; do
  summary=$("$bin" --help | awk -v c="$c" '$1 == c {$1 = ""; sub(/^ +/, ""); print; exit}')
  page "sluice-$c" "$summary" "$("$bin" "$c" --help 2>&1 || true)"
done
