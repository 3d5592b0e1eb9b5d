#!/usr/bin/env bash
# `sluice run`'s variables files: ~/.config/sluice/variables.yml, .sluice/variables.yml and
# --variables-file (YAML or dotenv), their precedence (above the YAML's variables, below
# --var), masked values masked on screen and in the stored logs, file variables as paths
# removed after the run, and clear errors for a bad file.
. "$(dirname "$0")/lib/e2e.sh"
. "$(dirname "$0")/lib/check.sh"
. "$(dirname "$0")/lib/repo.sh"
needs git
export HOME=$tmp/home
mkdir -p "$HOME/.config/sluice" "$tmp/p/.sluice"
cd "$tmp/p" || exit 1
repo_ci . one <<'YML' || exit 1
variables:
  FROM_YAML: yaml
  OVERRIDE_ME: yaml
show:
  script:
    - echo "home=$HOME_ONE project=$PROJECT_ONE override=$OVERRIDE_ME cli=$CLI_ONE raw=$RAW_ONE yaml=$FROM_YAML"
    - echo "file=$(cat "$CERT") at_path=$([ -f "$CERT" ] && echo yes)"
    - echo "$CERT" > .cert-path
    - echo "token $TOKEN"; printf '%s' "$TOKEN" | base64
YML
cat > "$HOME/.config/sluice/variables.yml" <<'YML'
HOME_ONE: from-home
PROJECT_ONE: home-loses
YML
cat > .sluice/variables.yml <<'YML'
PROJECT_ONE: from-project
OVERRIDE_ME: from-project
RAW_ONE: {value: "$FROM_YAML-kept", raw: true}
CERT: {value: "-----CERT-----", variable_type: file}
TOKEN: {value: "glpat-Secr3t_t0ken.value", masked: true, description: a deploy token}
YML
printf '# a dotenv file\nCLI_ONE=from-file\nexport OVERRIDE_ME="from-dotenv"\n' > "$tmp/extra.env"

out=$("$bin" run --no-color --variables-file "$tmp/extra.env" --var CLI_ONE=from-var 2>&1)
expect "the run passes" 0 "$?" "$out"
printed() { grep -v '\$ ' <<<"$out" | grep -o "$1.*" | head -1; }
expect "home < project < --variables-file < --var; above the YAML; raw kept" \
  'home=from-home project=from-project override=from-dotenv cli=from-var raw=$FROM_YAML-kept yaml=yaml' \
  "$(printed home=)" "$out"
expect "a file variable is the path of a file holding the value" "file=-----CERT----- at_path=yes" \
  "$(printed file=)" "$out"
expect "a masked value is masked on screen, base64 too" "0 2" \
  "$(grep -c 'Secr3t_t0ken\|Z2xwYXQtU2VjcjN0' <<<"$out") $(grep -c '\[MASKED\]' <<<"$out")" "$out"
expect "... and in the stored logs" "0 1" \
  "$(grep -rl 'Secr3t_t0ken' .sluice/pipelines | wc -l) $(grep -rl '\[MASKED\]' .sluice/pipelines | wc -l)"
expect "the file variable's file is gone after the run" "" "$(find .sluice -name CERT)"

"$bin" run --variables-file "$tmp/nope.yml" >"$tmp/out" 2>&1
expect "a missing --variables-file is a usage error (2)" "2 1" "$? $(grep -c 'nope.yml' "$tmp/out")" "$(cat "$tmp/out")"
printf 'GOOD: 1\nbad-name: x\n' > "$tmp/bad.yml"
"$bin" run --variables-file "$tmp/bad.yml" >"$tmp/out" 2>&1
expect "a bad name: 2, naming file and line" "2 1" "$? $(grep -c 'bad.yml:2: .bad-name. is not a variable name' "$tmp/out")" "$(cat "$tmp/out")"
printf 'T: {value: short, masked: true}\n' > "$tmp/bad.yml"
"$bin" run --variables-file "$tmp/bad.yml" >"$tmp/out" 2>&1
expect "a value GitLab would not mask: 2" "2 1" "$? $(grep -c 'T cannot be masked' "$tmp/out")" "$(cat "$tmp/out")"
printf 'T: {value: x, secret: true}\n' > "$tmp/bad.yml"
"$bin" run --variables-file "$tmp/bad.yml" >"$tmp/out" 2>&1
expect "an unknown attribute: 2" "2 1" "$? $(grep -c "'secret' is not an attribute" "$tmp/out")" "$(cat "$tmp/out")"
printf 'just some words\n' > "$tmp/bad.env"
"$bin" run --variables-file "$tmp/bad.env" >"$tmp/out" 2>&1
expect "neither YAML nor dotenv: 2" "2 1" "$? $(grep -c 'bad.env:1: neither a YAML mapping nor a KEY=value line' "$tmp/out")" "$(cat "$tmp/out")"

finish
