#!/usr/bin/env bash
# sluice completion bash|zsh|fish: valid scripts whose words come from the command table and
# each command's --help (so a new command or option completes without an edit).
set -u
bin=${SLUICE_BIN:?SLUICE_BIN is not set}
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok - $1"; }
bad() { fail=$((fail + 1)); echo "not ok - $1"; echo "$out" | sed 's/^/#   /'; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$bin" completion bash >"$tmp/sluice.bash" && ok "bash script printed" || bad "bash script printed"
out=$(bash -n "$tmp/sluice.bash" 2>&1) && ok "bash script parses" || bad "bash script parses"
complete_words() { # the completions of the words given, the last one being completed
  bash -c 'source "$1"; shift; COMP_WORDS=(sluice "$@"); COMP_CWORD=$#; _sluice; printf "%s\n" "${COMPREPLY[@]}"' _ "$tmp/sluice.bash" "$@"
}
out=$(complete_words cle)
[[ $out == clean ]] && ok "bash: a command" || bad "bash: a command"
out=$(complete_words run --list)
grep -qx -- "--list-json" <<<"$out" && grep -qx -- "--list" <<<"$out" && ok "bash: run's options" || bad "bash: run's options"
out=$(complete_words clean --d)
[[ $out == --dry-run ]] && ok "bash: clean's options" || bad "bash: clean's options"
out=$(complete_words completion "")
[[ $(tr '\n' ' ' <<<"$out") == *"bash zsh fish"* ]] && ok "bash: completion's shells" || bad "bash: completion's shells"
# every command of 'sluice --help' completes
for c in $("$bin" --help | awk '/^Commands:/{on=1; next} /^$/{if (on) exit} on {print $1}'); do
  grep -q "^    $c) " "$tmp/sluice.bash" || { out=$c; bad "bash: command $c has its options"; }
done
ok "bash: every command of sluice --help is there"
"$bin" completion zsh >"$tmp/_sluice"
if command -v zsh >/dev/null; then
  out=$(zsh -n "$tmp/_sluice" 2>&1) && ok "zsh script parses" || bad "zsh script parses"
else
  grep -q '^#compdef sluice' "$tmp/_sluice" && ok "zsh script printed (zsh absent: not parsed)" || bad "zsh script printed"
fi
"$bin" completion fish >"$tmp/sluice.fish"
if command -v fish >/dev/null; then
  out=$(fish --no-execute "$tmp/sluice.fish" 2>&1) && ok "fish script parses" || bad "fish script parses"
else
  grep -q "__fish_seen_subcommand_from run' -l list-json" "$tmp/sluice.fish" && ok "fish script printed (fish absent: not parsed)" || { out=$(head "$tmp/sluice.fish"); bad "fish script printed"; }
fi
# man pages from the same help texts (scripts/man.sh, which make install runs)
out=$(bash "${SL_SOURCE_DIR:?}/scripts/man.sh" "$bin" "$tmp/man" 2>&1) && ok "man pages made" || bad "man pages made"
[[ -f $tmp/man/sluice.1 && -f $tmp/man/sluice-run.1 && -f $tmp/man/sluice-clean.1 ]] && ok "man sluice, man sluice-run" \
  || { out=$(ls "$tmp/man"); bad "man sluice, man sluice-run"; }
grep -qF -- '\-\-list\-json' "$tmp/man/sluice-run.1" && ok "man sluice-run lists run's options" || bad "man sluice-run lists run's options"
if command -v man >/dev/null; then
  out=$(MANWIDTH=100 man -l "$tmp/man/sluice-run.1" 2>&1) && grep -q "sluice-run - run the pipeline" <<<"$out" \
    && ok "man renders sluice-run" || bad "man renders sluice-run"
fi
out=$("$bin" completion tcsh 2>&1); rc=$?
[[ $rc == 2 ]] && ok "an unknown shell is a usage error" || bad "an unknown shell is a usage error"
echo "$pass passed, $fail failed"
((fail == 0))
