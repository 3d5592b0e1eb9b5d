#!/usr/bin/env bash
# scripts/install.sh BUILD_DIR: what `make install` does, with PREFIX (default /usr/local) and
# DESTDIR (default empty) from the environment: the binary and its sandbox helper (found
# beside it) into PREFIX/bin, completions for bash, zsh and fish and the man pages, all made
# by the binary itself from its command table and --help texts. tests/e2e/cli_install.sh
# runs it on the dev build.
set -euo pipefail
build=${1:?usage: scripts/install.sh BUILD_DIR}
prefix=${PREFIX:-/usr/local}
root=${DESTDIR:-}$prefix
bin=$build/sluice
install -d "$root/bin" "$root/share/man/man1" "$root/share/bash-completion/completions" \
  "$root/share/zsh/site-functions" "$root/share/fish/vendor_completions.d"
install -m 755 "$bin" "$build/sluice-sandbox" "$root/bin/"
"$bin" completion bash >"$root/share/bash-completion/completions/sluice"
"$bin" completion zsh >"$root/share/zsh/site-functions/_sluice"
"$bin" completion fish >"$root/share/fish/vendor_completions.d/sluice.fish"
bash "$(dirname "$0")/man.sh" "$bin" "$root/share/man/man1"
