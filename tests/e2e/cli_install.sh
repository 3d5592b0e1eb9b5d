#!/usr/bin/env bash
# make install's steps (scripts/install.sh, run here on the dev build with PREFIX and
# DESTDIR): the binary and its sandbox helper, completions for bash, zsh and fish, and man
# pages made from the same option tables as --help (man sluice, man sluice-run), each
# listing every option its command's --help lists, rendered by man without a warning.
set -u
. "$(dirname "$0")/lib/skip.sh"
bin=${SLUICE_BIN:?SLUICE_BIN is not set}
src=${SL_SOURCE_DIR:?SL_SOURCE_DIR is not set}
command -v man >/dev/null || skip "needs man, which is not installed"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok - $1"; }
bad() { fail=$((fail + 1)); echo "not ok - $1"; [[ $# -gt 1 ]] && echo "$2" | sed 's/^/#   /'; }
expect() { if [[ $2 == "$3" ]]; then ok "$1"; else bad "$1: got '$3', want '$2'" "${4:-}"; fi; }

out=$(PREFIX=/opt/sl DESTDIR=$tmp/root bash "$src/scripts/install.sh" "$(dirname "$bin")" 2>&1)
expect "install.sh succeeds" 0 "$?" "$out"
root=$tmp/root/opt/sl
for f in bin/sluice bin/sluice-sandbox share/bash-completion/completions/sluice \
  share/zsh/site-functions/_sluice share/fish/vendor_completions.d/sluice.fish \
  share/man/man1/sluice.1 share/man/man1/sluice-run.1; do
  [[ -s $root/$f ]] && ok "installed under DESTDIR/PREFIX: $f" || bad "installed under DESTDIR/PREFIX: $f"
done
expect "nothing outside DESTDIR/PREFIX" "opt" "$(ls "$tmp/root")"
expect "the binaries are executable" "755 755" "$(stat -c %a "$root/bin/sluice" "$root/bin/sluice-sandbox" | tr '\n' ' ' | sed 's/ $//')"
"$root/bin/sluice" --version >"$tmp/v" 2>&1
expect "the installed binary runs" 0 "$?" "$(cat "$tmp/v")"
bash -c ". '$root/share/bash-completion/completions/sluice' && complete -p sluice" >/dev/null 2>&1
expect "the bash completion loads and registers" 0 "$?"

# the man pages: one per command of 'sluice --help', each with every option of its --help
cmds=$("$bin" --help | awk '/^Commands:/{on=1; next} /^$/{if (on) exit} on {print $1}')
[[ -n $cmds ]] || bad "sluice --help lists its commands"
for c in $cmds; do
  page=$root/share/man/man1/sluice-$c.1
  [[ -s $page ]] || { bad "man page sluice-$c.1 exists"; continue; }
  text=$(MANWIDTH=100 man --warnings -l "$page" 2>"$tmp/warn")
  [[ -s $tmp/warn ]] && bad "man renders sluice-$c.1 without a warning" "$(head -5 "$tmp/warn")"
  missing=
  for o in $("$bin" "$c" --help 2>/dev/null | grep -oE '(^|[ ,])--[a-z][a-z0-9-]*' | sed 's/^[ ,]*//' | sort -u); do
    grep -qF -- "$o" <<<"$text" || missing+=" $o"
  done
  expect "sluice-$c.1 lists every option of 'sluice $c --help'" "" "$missing"
done
text=$(MANWIDTH=100 man --warnings -l "$root/share/man/man1/sluice.1" 2>"$tmp/warn")
[[ -s $tmp/warn ]] && bad "man renders sluice.1 without a warning" "$(head -5 "$tmp/warn")"
missing=
for c in $cmds; do grep -qw -- "$c" <<<"$text" || missing+=" $c"; done
expect "sluice.1 names every command" "" "$missing"
# man finds them by name through MANPATH, as `man sluice-run` after make install
MANPATH=$root/share/man MANWIDTH=100 man sluice-run >"$tmp/run.txt" 2>&1
expect "man sluice-run finds the installed page" "0 1" "$? $(grep -c -- '--list-json' "$tmp/run.txt" | sed 's/[1-9][0-9]*/1/')" "$(head -5 "$tmp/run.txt")"
echo "$pass passed, $fail failed"
((fail == 0))
