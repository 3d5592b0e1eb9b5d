#!/usr/bin/env bash
# CI/CD variables on the real server: the secrets key made on first start (0600), the
# project and instance variables API with GitLab's fields and masking rules, no masked
# value in any answer, a developer sees no value, audit events without values, no value in
# clear in the SQLite file or its WAL, `sluice secrets rotate-key`, and a start refused
# without the key (or with the wrong one).
. "$(dirname "$0")/lib/e2e.sh"
needs curl
. "$(dirname "$0")/lib/server.sh"
db=() # the checks read the data directory's SQLite file and its WAL
start() { server_start --workers 0 "$@"; } # returns 1 when the server exits instead

secret='Sup3r-s3cret_deploy+key/42'
hidden='h1dden-value-never-shown'
plain='registry.example.com'

start || { bad "server starts" "$(cat "$tmp/err")"; exit 1; }
ok "server starts"
expect "secrets.key made on first start, 0600" 600 "$(stat -c %a "$tmp/data/secrets.key" 2>&1)"
expect "secrets.key holds 64 hex digits" 1 "$(grep -cE '^[0-9a-f]{64}$' "$tmp/data/secrets.key")"
dev=$("$bin" token create --role developer --data "$tmp/data")
maint=$("$bin" token create --role maintainer --data "$tmp/data")
git init -q --bare "$tmp/p.git" # a project's repository must be readable when it is made
req POST /api/v1/projects "$admin" "{\"name\":\"p\",\"repo_url\":\"$tmp/p.git\"}"
pid_p=$(jget "['id']")

req POST /api/v1/projects/$pid_p/variables "$maint" "{\"key\":\"DEPLOY_KEY\",\"value\":\"$secret\",\"masked\":true,\"protected\":true}"
expect "create a masked variable: 201" 201 "$code" "$body"
expect "the create answer has no value" None "$(jget "['value']")"
expect "the create answer has GitLab's fields" "env_var True True False *" \
  "$(jget "['variable_type']") $(jget "['masked']") $(jget "['protected']") $(jget "['raw']") $(jget "['environment_scope']")"
req POST /api/v1/projects/$pid_p/variables "$maint" "{\"key\":\"HIDDEN\",\"value\":\"$hidden\",\"masked_and_hidden\":true}"
expect "create a hidden variable: 201" 201 "$code" "$body"
expect "hidden implies masked" "True True" "$(jget "['hidden']") $(jget "['masked']")"
req POST /api/v1/projects/$pid_p/variables "$maint" "{\"key\":\"PLAIN\",\"value\":\"$plain\",\"variable_type\":\"file\"}"
expect "create a plain file variable: 201" 201 "$code" "$body"
req POST /api/v1/projects/$pid_p/variables "$maint" "{\"key\":\"PLAIN\",\"value\":\"x\"}"
expect "a taken key: 400 as GitLab" "400 (PLAIN) has already been taken" "$code $(jget "['message']['key'][0]")"
req POST /api/v1/projects/$pid_p/variables "$maint" '{"key":"PLAIN","value":"y","environment_scope":"production"}'
expect "the same key in another scope: 201" 201 "$code" "$body"

for v in short1 'has space here' 'with$dollar' 'two
lines ok'; do
  req POST /api/v1/projects/$pid_p/variables "$maint" "$(python3 -c 'import json,sys; print(json.dumps({"key":"BAD","value":sys.argv[1],"masked":True}))' "$v")"
  expect "masked value '${v//$'\n'/\\n}' refused: 400 value is invalid" "400 is invalid" "$code $(jget "['message']['value'][0]")"
done
req POST /api/v1/projects/$pid_p/variables "$maint" '{"key":"RAWMASK","value":"with$dollar[x]","masked":true,"raw":true}'
expect "a raw masked value may hold \$ and brackets: 201" 201 "$code" "$body"
req POST /api/v1/projects/$pid_p/variables "$maint" '{"key":"BAD-KEY","value":"v"}'
expect "a bad key: 400 with GitLab's wording" "400 can contain only letters, digits and '_'." "$code $(jget "['message']['key'][0]")"
req POST /api/v1/projects/$pid_p/variables "$dev" '{"key":"DEV","value":"v"}'
expect "a developer cannot write: 403" 403 "$code"

req GET /api/v1/projects/$pid_p/variables "$maint"
expect "maintainer list: 5 variables" 5 "$(jget ".__len__()")"
expect "maintainer sees plain values only" "None None $plain" \
  "$(python3 -c 'import json,sys; d={(v["key"],v["environment_scope"]):v["value"] for v in json.load(sys.stdin)}; print(d[("DEPLOY_KEY","*")], d[("HIDDEN","*")], d[("PLAIN","*")])' <<<"$body")"
req GET /api/v1/projects/$pid_p/variables "$dev"
expect "developer list: keys and attributes, no value at all" "5 0" \
  "$(python3 -c 'import json,sys; d=json.load(sys.stdin); print(len(d), sum(v["value"] is not None for v in d))' <<<"$body")"
req GET /api/v1/projects/$pid_p/variables/PLAIN "$maint"
expect "a key in two scopes needs filter[environment_scope]: 400" 400 "$code"
req GET "/api/v1/projects/$pid_p/variables/PLAIN?filter%5Benvironment_scope%5D=production" "$maint"
expect "get with filter[environment_scope]" "200 y" "$code $(jget "['value']")"
req PUT /api/v1/projects/$pid_p/variables/DEPLOY_KEY "$maint" '{"description":"prod deploys"}'
expect "update keeps a masked value hidden" "200 None prod deploys" "$code $(jget "['value']") $(jget "['description']")"
req PUT /api/v1/projects/$pid_p/variables/HIDDEN "$maint" '{"masked":false}'
expect "a hidden variable cannot be unmasked: 400" 400 "$code"
req PUT /api/v1/projects/$pid_p/variables/PLAIN?filter%5Benvironment_scope%5D=production "$maint" '{"masked":true}'
expect "masking a value that cannot be masked: 400" 400 "$code"
req DELETE /api/v1/projects/$pid_p/variables/RAWMASK "$maint"
expect "delete: 204" 204 "$code"
req DELETE /api/v1/projects/$pid_p/variables/RAWMASK "$maint"
expect "delete again: 404" 404 "$code"
req GET /api/v1/projects/999/variables "$maint"
expect "variables of a missing project: 404" 404 "$code"

req POST /api/v1/admin/variables "$admin" "{\"key\":\"INSTANCE_TOKEN\",\"value\":\"$secret-i\",\"masked\":true}"
expect "instance variable: 201 without value" "201 None" "$code $(jget "['value']")"
req GET /api/v1/admin/variables "$admin"
expect "instance list" "1 INSTANCE_TOKEN" "$(jget ".__len__()") $(jget "[0]['key']")"
req GET /api/v1/admin/variables "$maint"
expect "instance variables need admin: 403" 403 "$code"

req GET "/api/v1/audit?action=variable.create" "$admin"
expect "audit events of the creations" 6 "$(jget ".__len__()")"
grep -q -- "$secret" "$tmp/body" && bad "audit carries no value" || ok "audit carries no value"
server_stop

for f in "$tmp/data/sluice.db" "$tmp/data/sluice.db-wal" "$tmp/err" "$tmp/out"; do
  [[ -f $f ]] || continue
  hits=$(grep -c -a -F -e "$secret" -e "$hidden" -e "$plain" "$f")
  expect "no value in clear in $(basename "$f")" 0 "$hits"
done

# rotation: every value re-sealed, the old key opens nothing, the new one everything
cp "$tmp/data/secrets.key" "$tmp/old.key"
"$bin" secrets rotate-key --data "$tmp/data" >"$tmp/rot" 2>&1
# 5 variables and the project's webhook secret
expect "rotate-key re-seals all values" "re-sealed 6 values under a new key" "$(cat "$tmp/rot")"
cmp -s "$tmp/old.key" "$tmp/data/secrets.key" && bad "the key file changed" || ok "the key file changed"
expect "the rotated key file stays 0600" 600 "$(stat -c %a "$tmp/data/secrets.key")"
start || bad "server starts with the rotated key" "$(cat "$tmp/err")"
req GET "/api/v1/projects/$pid_p/variables/PLAIN?filter%5Benvironment_scope%5D=%2A" "$maint"
expect "a value reads back after rotation" "200 $plain" "$code $(jget "['value']")"

# the CLI: the value from stdin stays off the command line
printf '%s\n' 'cli-Secret-value-99' | "$bin" var set CLI_SECRET - --masked --url "$url" --token "$maint" --project "$pid_p" 2>"$tmp/cli"
expect "var set from stdin" 0 "$?" "$(cat "$tmp/cli")"
"$bin" var set CLI_SECRET 'cli-Secret-value-100' --masked --description updated --url "$url" --token "$maint" --project "$pid_p" 2>"$tmp/cli"
expect "var set on an existing key updates it" 0 "$?" "$(cat "$tmp/cli")"
req GET /api/v1/projects/$pid_p/variables/CLI_SECRET "$maint"
expect "the CLI's variable, masked" "True updated None" "$(jget "['masked']") $(jget "['description']") $(jget "['value']")"
"$bin" var set BAD short --masked --url "$url" --token "$maint" --project "$pid_p" 2>"$tmp/cli"
expect "var set reports a refused value" "1 1" "$? $(grep -c 'value is invalid' "$tmp/cli")"
list=$("$bin" var list --url "$url" --token "$maint" --project "$pid_p")
expect "var list shows keys and attributes" 1 "$(grep -cE '^CLI_SECRET +\* +env_var +masked' <<<"$list")"
grep -q 'cli-Secret' <<<"$list" && bad "var list shows no value" || ok "var list shows no value"
"$bin" var rm CLI_SECRET --url "$url" --token "$maint" --project "$pid_p"
expect "var rm" 0 "$?"
"$bin" var rm CLI_SECRET --url "$url" --token "$maint" --project "$pid_p" 2>/dev/null
expect "var rm of a missing key fails" 1 "$?"
"$bin" var list --url "$url" --token "$dev" >/dev/null 2>&1
expect "instance variables need admin from the CLI too" 1 "$?"
server_stop

start --secrets-key-file "$tmp/old.key" && { bad "the old key is refused"; server_stop; } ||
  expect "the old key is refused clearly" 1 "$(grep -c 'does not open the stored variable values' "$tmp/err")"
mv "$tmp/data/secrets.key" "$tmp/saved.key"
start && { bad "a missing key is refused"; server_stop; } ||
  expect "a missing key is refused clearly" 1 "$(grep -c 'sealed variable values but the secrets key' "$tmp/err")"
[[ -f $tmp/data/secrets.key ]] && bad "no new key is made over sealed values" || ok "no new key is made over sealed values"
start --secrets-key-file "$tmp/saved.key" || bad "--secrets-key-file works" "$(cat "$tmp/err")"
[[ -n $pid ]] && ok "--secrets-key-file works" && server_stop
finish
