#!/usr/bin/env bash
# Every option each command's --help lists appears in that command's docs page (its README
# section or its page in docs/), so the docs and the binary do not drift apart. The words
# are the ones shell completion uses (sluice completion bash). And the other way round: a
# command line the docs show (`sluice CMD ... --opt` in backticks, or a line of a code block
# starting with `sluice CMD`) names only options CMD has.
set -u
bin=${SLUICE_BIN:?SLUICE_BIN is not set}
src=${SL_SOURCE_DIR:?SL_SOURCE_DIR is not set}
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok - $1"; }
bad() { fail=$((fail + 1)); echo "not ok - $1"; }
# the docs page of each command, besides its README section
declare -A page=([lint]=lint [config]=lint [plan]=plan [run]=run [clean]=run [serve]=server
  [token]=server [agent]=agents [runner]=agents [var]=secrets [notify]=notifications [secrets]=secrets
  [env]=deployments [flag]=feature-flags [completion]=run [version]=run)
words=$("$bin" completion bash | sed -n 's/^    \([a-z]*\)) words="\(.*\)" ;;$/\1 \2/p' | grep -v '^help ')
cmds=$("$bin" --help | awk '/^Commands:/{on=1; next} /^$/{if (on) exit} on {print $1}')
for c in $cmds; do
  [[ -n ${page[$c]:-} ]] || { bad "command $c has a docs page in this test's table"; continue; }
  doc=$(awk -v h="### sluice $c" '$0 == h {on = 1; next} /^### / {on = 0} on' "$src/README.md")
  doc+=$(cat "$src/docs/${page[$c]}.md")
  missing=
  for w in $(awk -v c="$c" '$1 == c {$1 = ""; print}' <<<"$words"); do
    [[ $w == -h || $w == --help ]] && continue
    grep -qF -- "$w" <<<"$doc" || missing+=" $w"
  done
  [[ -z $missing ]] && ok "$c: every option is in README/docs/${page[$c]}.md" \
    || bad "$c: not in README/docs/${page[$c]}.md:$missing"
done
stale=
nlines=0
while read -r line; do
  c=$(awk '{print $2}' <<<"$line")
  grep -qx -- "$c" <<<"$cmds" || continue # prose that starts with "sluice"
  nlines=$((nlines + 1))
  have=$(awk -v c="$c" '$1 == c {$1 = ""; print}' <<<"$words")
  for o in $(grep -oE -- '(^|[ [(=|])--[a-z][a-z0-9-]*' <<<"$line" | grep -oE -- '--[a-z0-9-]+'); do
    [[ " $have " == *" $o "* ]] || stale+=$'\n'"  $c has no $o: $line"
  done
done < <({ grep -ohE '`sluice [a-z]+[^`]*`' "$src/README.md" "$src"/docs/*.md
  grep -hE '^[[:space:]]*(\$ )?sluice [a-z]+' "$src/README.md" "$src"/docs/*.md; } |
  sed 's/`//g; s/^[[:space:]]*\$\{0,1\} *//' | sort -u)
((nlines > 20)) && ok "the docs show command lines ($nlines)" || bad "the docs show command lines ($nlines)"
[[ -z $stale ]] && ok "every option a command line in the docs names exists" \
  || { bad "every option a command line in the docs names exists"; echo "$stale" | sed 's/^/#/'; }
echo "$pass passed, $fail failed"
((fail == 0))
