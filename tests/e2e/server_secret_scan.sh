#!/usr/bin/env bash
# Secret detection on a real `sluice serve` (docs/secret-detection.md): job logs are scanned
# as they are stored.
#  - a job that prints a token makes a finding with the job, the log's line and a redacted
#    excerpt, and the token is in no answer of the findings API;
#  - a private key printed in two parts, the log stored between them, and a token a runner
#    sends in two trace chunks cut inside it (secrets split across chunks) are found once,
#    whole; and one cut by a server restart between the chunks (the log's end then comes
#    from the store, not the server's memory); the project's .gitleaks.toml at the
#    pipeline's commit allowlists a token in a runner's log;
#  - the policy API: report by default, fail/refuse set by a maintainer, others refused;
#    under refuse a job that prints a token fails (secret_detected), and its pipeline;
#  - pushes (a signed GitLab push webhook): the lines the new commits add are scanned; a
#    private key pushed in report-only mode is a finding with its commit, file and line and
#    the pipeline is made; with "refuse" a push adding a token makes no pipeline (202) and
#    the finding is kept, and so for a private key generated with openssl (no pipeline in the
#    project's list); with "fail" the pipeline is created failed; the pushed commit's
#    .gitleaks.toml allowlist suppresses a finding; only new commits are scanned; a
#    .sluice/secret-rules.toml adds a rule and allows a path, and beside a .gitleaks.toml it
#    is the one read (the .gitleaks.toml again once it is removed);
#  - the store's secret_findings rows, read from the SQLite file (or with psql), hold none of
#    the secrets nor their base64 in any column, nor does the server's log.
# SL_SERVER_DB: on that store.
. "$(dirname "$0")/lib/e2e.sh"
needs curl python3 git openssl
# shellcheck source=lib/server.sh
. "$src/tests/e2e/lib/server.sh"
# shellcheck source=lib/agents.sh
. "$src/tests/e2e/lib/agents.sh"

server_start --workers 1 || { echo "not ok - server starts"; exit 1; }

# made up here, in two halves so this file holds no token a scanner would flag
head=ghp_Xq7Lm2Vr9
tail=Tz4Kp8Wn3Bc6Hd1Jf5Gs0Ya2ReU
git_repo "leaky:
  script:
    - echo before
    - T1=$head; T2=$tail; echo \"token=\$T1\$T2 done\"
    - echo after
split:
  script:
    - printf -- '-----BEGIN OPENSSH PRIVATE %s-----\\n' KEY; for i in 1 2 3; do echo b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtz\$i; done
    - sleep 1
    - for i in 4 5 6; do echo ZWQyNTUxOQAAACBf6l2VqMvU0sW1Z7oJ5ybA0qhN3qk8gY6oX4JrZ2mHxw\$i; done; printf -- '-----END OPENSSH PRIVATE %s-----\\n' KEY"
project_make scanned
pipeline_run
wait_for 300 pipeline_done || bad "the pipeline ends" "$body"
expect "the pipeline succeeds (report only: a finding fails nothing)" success "$pstatus"
req GET /api/v1/pipelines/$pl "$admin"
leaky=$(python3 -c 'import json,sys; print([j["id"] for j in json.load(sys.stdin)["jobs"] if j["name"]=="leaky"][0])' <<<"$body")
split=$(python3 -c 'import json,sys; print([j["id"] for j in json.load(sys.stdin)["jobs"] if j["name"]=="split"][0])' <<<"$body")

req GET /api/v1/projects/$project/secret_findings "$admin"
expect "the findings answer 200" 200 "$code" "$body"
findings=$body
count() { python3 -c 'import json,sys; print(len([f for f in json.load(sys.stdin) if f["job_id"]==int(sys.argv[1])]))' "$1" <<<"$findings"; }
field() { python3 -c 'import json,sys; print([f for f in json.load(sys.stdin) if f["job_id"]==int(sys.argv[1])][0][sys.argv[2]])' "$1" "$2" <<<"$findings"; }
expect "one finding in the leaky job's log" 1 "$(count "$leaky")" "$findings"
expect "its rule" github-token "$(field "$leaky" rule)"
expect "its source" log "$(field "$leaky" source)"
expect "its excerpt is the line, the token masked" "token=ghp_***** done" "$(field "$leaky" excerpt)"
line=$(field "$leaky" line)
logline=$(curl -s -H "Authorization: Bearer $admin" "$url/api/v1/jobs/$leaky/log?lines=$line-$line")
expect "its line is the log's line with the token" 1 "$(grep -c "^token=$head$tail done" <<<"$logline")" "line $line: $logline"
expect "the key printed in two parts is found once, across the chunks" 1 "$(count "$split")" "$findings"
expect "the key's rule" private-key "$(field "$split" rule)"
expect "the key's excerpt" "----*****" "$(field "$split" excerpt)"
expect "no answer holds the token" 0 "$(grep -c "$tail" <<<"$findings")"
req GET "/api/v1/projects/$project/secret_findings?source=push" "$admin"
expect "?source=push: none yet" "200 []" "$code $body"
req GET "/api/v1/projects/$project/secret_findings?source=nope" "$admin"
expect "?source=nope is refused" 400 "$code"
req GET "/api/v1/projects/$project/secret_findings?limit=1" "$admin"
first=$(jget "[0]['id']")
req GET "/api/v1/projects/$project/secret_findings?limit=1&after=$first" "$admin"
expect "keyset pages: the next page starts after the last id" 1 "$(python3 -c 'import json,sys; d=json.load(sys.stdin); print(int(len(d)==1 and d[0]["id"]<int(sys.argv[1])))' "$first" <<<"$body")"
req GET /api/v1/projects/999999/secret_findings "$admin"
expect "findings of an unknown project: 404" 404 "$code"

req GET /api/v1/projects/$project/secret_detection "$admin"
expect "the policy is report by default" '200 report' "$code $(jget "['policy']")"
req PUT /api/v1/projects/$project/secret_detection "$admin" '{"policy":"refuse"}'
expect "a maintainer sets refuse" '200 refuse' "$code $(jget "['policy']")"
req PUT /api/v1/projects/$project/secret_detection "$admin" '{"policy":"sometimes"}'
expect "another word is refused" 400 "$code"
req PUT /api/v1/projects/$project/secret_detection "$admin" '{"policy":7}'
expect "a number is refused" 400 "$code"
req GET /api/v1/projects/$project/secret_detection "$admin"
expect "the policy stays" refuse "$(jget "['policy']")"
# with refuse (or fail) a job that prints a secret fails, and so does its pipeline
pipeline_run
wait_for 300 pipeline_done || bad "the second pipeline ends" "$body"
expect "refuse: the pipeline of a job that printed a token fails" failed "$pstatus"
jstate() { python3 -c 'import json,sys; j=[j for j in json.load(sys.stdin)["jobs"] if j["name"]==sys.argv[1]][0]; print(j["status"], j.get("failure_reason"))' "$1" <<<"$body"; }
expect "the job that printed it failed: secret_detected" "failed secret_detected" "$(jstate leaky)" "$body"
req PUT /api/v1/projects/$project/secret_detection "$admin" '{"policy":"report"}'

server_stop

# a runner's trace chunks are cut where the runner's buffer was, inside a line: no workers
# here, the test is the runner
server_start --workers 0 || { echo "not ok - server restarts"; exit 1; }
req POST /api/v1/runners "$admin" '{"name":"scanner","tags":[],"run_untagged":true}'
rtoken=$(jget "['token']")
# the project's rule file at the pipeline's commit applies to its logs: a fixture token
# (Fixture in it) is allowlisted
printf "[extend]\nuseDefault = true\n\n[allowlist]\ndescription = 'test tokens'\nregexes = ['''Fixture''']\n" >"$tmp/repo/.gitleaks.toml"
git_repo "remote:
  script:
    - echo hello"
pipeline_run
code=$(curl -s -o "$tmp/body" -w '%{http_code}' -X POST "$url/api/v4/jobs/request" -H 'Content-Type: application/json' \
  --data "{\"token\":\"$rtoken\",\"info\":{\"features\":{\"trace_reset\":true}}}")
body=$(cat "$tmp/body")
expect "the runner gets the job" 201 "$code" "$body"
rjob=$(jget "['id']")
jtoken=$(jget "['token']")
patch() { # patch START DATA
  curl -s -o /dev/null -w '%{http_code}' -X PATCH "$url/api/v4/jobs/$rjob/trace" -H "JOB-TOKEN: $jtoken" \
    -H "Content-Range: $1-$(($1 + ${#2} - 1))" --data-binary "$2"
}
c1=$(printf 'Running\nexport KEY=%s' "${head:0:7}")
c2=$(printf '%s # set\n' "${head:7}$tail")
expect "the first chunk is taken" 202 "$(patch 0 "$c1")"
expect "the second chunk is taken" 202 "$(patch ${#c1} "$c2")"
req GET "/api/v1/projects/$project/secret_findings?source=log" "$admin"
findings=$body
expect "the token cut between two trace chunks is found once" 1 "$(count "$rjob")" "$findings"
expect "its rule" github-token "$(field "$rjob" rule)"
expect "its excerpt" "export KEY=ghp_***** # set" "$(field "$rjob" excerpt)"
expect "its line" 2 "$(field "$rjob" line)"
c_allow=$(printf '\necho %s' "${head}Fixture${tail:0:20}")
expect "a chunk with an allowlisted token is taken" 202 "$(patch $((${#c1} + ${#c2})) "$c_allow")"
c_cut=$((${#c1} + ${#c2} + ${#c_allow}))
req GET "/api/v1/projects/$project/secret_findings?source=log" "$admin"
findings=$body
expect "the project's .gitleaks.toml allowlist suppresses a log finding" 1 "$(count "$rjob")" "$findings"
# the end of the log before a chunk is kept in memory; a server that did not take the chunk
# before (here: restarted in between) reads it back from the store and still finds the token
c3=$(printf '\nexport KEY2=%s' "${head:0:9}")
expect "the third chunk is taken" 202 "$(patch $c_cut "$c3")"
server_stop
server_start --workers 0 || { echo "not ok - server restarts"; exit 1; }
c4=$(printf '%s # again\n' "${head:9}$tail")
expect "the fourth chunk is taken by the restarted server" 202 "$(patch $((c_cut + ${#c3})) "$c4")"
req GET "/api/v1/projects/$project/secret_findings?source=log" "$admin"
findings=$body
expect "the token cut by a restart is found from the store's copy" 2 "$(count "$rjob")" "$findings"

# ---- pushes ----
secret=push-hook-secret
mkdir -p "$tmp/pushrepo"
commit() { # commit MESSAGE: commits what is in $tmp/pushrepo, sets sha
  repo_commit "$tmp/pushrepo" "$1" || exit 1
  sha=$(git -C "$tmp/pushrepo" rev-parse HEAD)
}
push() { # push: the GitLab webhook of main at $sha -> $code, $body
  local p="{\"object_kind\":\"push\",\"ref\":\"refs/heads/main\",\"after\":\"$sha\",\"project\":{\"git_http_url\":\"$tmp/pushrepo\"}}"
  code=$(curl -s -o "$tmp/body" -w '%{http_code}' -X POST "$url/hooks/gitlab" -H 'X-Gitlab-Event: Push Hook' \
    -H "X-Gitlab-Token: $secret" -H 'Content-Type: application/json' --data-binary "$p")
  body=$(cat "$tmp/body")
}
pushed() { # the push findings of commit $1
  req GET "/api/v1/projects/$pproject/secret_findings?source=push" "$admin"
  python3 -c 'import json,sys; print(json.dumps([f for f in json.load(sys.stdin) if f["commit"]==sys.argv[1]]))' "$1" <<<"$body"
}
fget() { python3 -c "import json,sys; d=json.load(sys.stdin); print(d[0]$1 if d else 'none')" <<<"$f"; }
pem_key() { # a made-up PEM private key block (not a key), written out in pieces
  printf -- '-----BEGIN RSA PRIVATE %s-----\n' KEY
  for i in 1 2 3 4; do printf 'MIIEpAIBAAKCAQEA%s7vQm4pL2xZk9TnR8sWb3HdYc6JfUe1qGa0o5XlViNtKyB\n' "$i"; done
  printf -- '-----END RSA PRIVATE %s-----\n' KEY
}
repo_init "$tmp/pushrepo" && printf 'job:\n  script: [echo hi]\n' >"$tmp/pushrepo/.gitlab-ci.yml" || exit 1
commit "ci"
req POST /api/v1/projects "$admin" "{\"name\":\"pushed\",\"repo_url\":\"$tmp/pushrepo\",\"default_branch\":\"main\",\"webhook_secret\":\"$secret\"}"
pproject=$(jget "['id']")
push
expect "a clean push makes a pipeline" 201 "$code" "$body"
expect "and no finding" "[]" "$(pushed "$sha")"

mkdir -p "$tmp/pushrepo/deploy"
{ echo "# deploy key"; pem_key; } >"$tmp/pushrepo/deploy/id_rsa"
commit "deploy key"
key_sha=$sha
push
expect "report only: a push with a private key still makes its pipeline" 201 "$code" "$body"
key_pl=$(jget "['id']")
f=$(pushed "$key_sha")
expect "the key is one finding" 1 "$(python3 -c 'import json,sys; print(len(json.load(sys.stdin)))' <<<"$f")" "$f"
expect "its rule, file, line and commit" "private-key deploy/id_rsa 2 $key_sha" \
  "$(fget "['rule']") $(fget "['file']") $(fget "['line']") $(fget "['commit']")"
expect "its pipeline" "$key_pl" "$(fget "['pipeline_id']")"
expect "its excerpt hides the key" "----*****" "$(fget "['excerpt']")"

req PUT /api/v1/projects/$pproject/secret_detection "$admin" '{"policy":"refuse"}'
echo "# nothing new" >>"$tmp/pushrepo/README"
commit "readme"
push
expect "only new commits are scanned: the key pushed before does not refuse this push" 201 "$code" "$body"
mkdir -p "$tmp/pushrepo/config"
printf 'A=1\nB=2\nGITHUB_TOKEN=%s%s\n' "$head" "$tail" >"$tmp/pushrepo/config/prod.env"
commit "token"
tok_sha=$sha
push
expect "refuse: a push adding a token makes no pipeline" "202 no_pipeline" "$code $(jget "['status']")" "$body"
expect "the answer says why, without the secret" "1 0" \
  "$(grep -c 'secret detection refuses' <<<"$body") $(grep -c "$tail" <<<"$body")"
f=$(pushed "$tok_sha")
expect "the refused push's finding is kept, without a pipeline" "github-token config/prod.env 3 None" \
  "$(fget "['rule']") $(fget "['file']") $(fget "['line']") $(fget "['pipeline_id']")"
expect "its excerpt" "GITHUB_TOKEN=ghp_*****" "$(fget "['excerpt']")"
pipelines() { req GET "/api/v1/projects/$pproject/pipelines" "$admin"; jget ".__len__()"; }
# a real private key, generated here: what a developer would push by mistake
before=$(pipelines)
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$tmp/pushrepo/config/tls.key" 2>/dev/null ||
  bad "openssl makes a key"
commit "tls key"
gen_sha=$sha
push
expect "refuse: a push adding a generated private key makes no pipeline" "202 no_pipeline" \
  "$code $(jget "['status']")" "$body"
expect "the answer names the private key rule" 1 "$(grep -c 'private-key' <<<"$body")" "$body"
expect "no pipeline was created" "$before" "$(pipelines)"
f=$(pushed "$gen_sha")
expect "the generated key is a finding without a pipeline" "private-key config/tls.key 1 None" \
  "$(fget "['rule']") $(fget "['file']") $(fget "['line']") $(fget "['pipeline_id']")"
keyline=$(sed -n 2p "$tmp/pushrepo/config/tls.key")
expect "no answer holds the key's text" 0 "$(grep -c -F -- "$keyline" <<<"$f$body")"

req PUT /api/v1/projects/$pproject/secret_detection "$admin" '{"policy":"fail"}'
printf 'SLACK=xoxb-%s-%s-%s\n' 2384729384 9823749823 Zq8Lm3Vr7Tz2Kp9Wn4Bc1Hd6 >"$tmp/pushrepo/config/slack.env"
commit "slack"
push
expect "fail: the push's pipeline is created failed" "201 failed" "$code $(jget "['status']")" "$body"

req PUT /api/v1/projects/$pproject/secret_detection "$admin" '{"policy":"refuse"}'
mkdir -p "$tmp/pushrepo/fixtures"
pem_key >"$tmp/pushrepo/fixtures/test-key.pem"
printf "[extend]\nuseDefault = true\n\n[allowlist]\ndescription = 'test keys'\npaths = ['''^fixtures/''']\n" >"$tmp/pushrepo/.gitleaks.toml"
commit "fixtures"
push
expect "the project's .gitleaks.toml allowlist: a fixture key refuses nothing" 201 "$code" "$body"
expect "and is no finding" "[]" "$(pushed "$sha")"

# .sluice/secret-rules.toml, sluice's own name for the rule file, adds a rule and allows a
# path; beside a .gitleaks.toml it is the one read (the .gitleaks.toml above allows
# fixtures/), and once it is gone the .gitleaks.toml is read again
req PUT /api/v1/projects/$pproject/secret_detection "$admin" '{"policy":"report"}'
rules_of() { # the rule and file of each push finding of commit $1, sorted
  pushed "$1" | python3 -c 'import json,sys; print(" ".join(sorted(f["rule"]+":"+f["file"] for f in json.load(sys.stdin))))'
}
mkdir -p "$tmp/pushrepo/.sluice" "$tmp/pushrepo/testdata"
cat >"$tmp/pushrepo/.sluice/secret-rules.toml" <<'TOML'
[[rules]]
id = "acme-key"
description = "ACME internal key"
regex = '''acme_([0-9a-f]{24})'''
keywords = ["acme_"]

[allowlist]
description = "test data"
paths = ['''^testdata/''']
TOML
printf 'ACME=acme_%s\n' 3f9c0a7d51e28b46c9d07e1a >"$tmp/pushrepo/config/acme.env"
printf 'GH=%s%s\n' "$head" "$tail" >"$tmp/pushrepo/testdata/gh.env"
pem_key >"$tmp/pushrepo/fixtures/second-key.pem"
commit "acme rules"
push
expect ".sluice/secret-rules.toml: its rule finds, its allowlist allows, .gitleaks.toml is not read" \
  "acme-key:config/acme.env private-key:fixtures/second-key.pem" "$(rules_of "$sha")"
git -C "$tmp/pushrepo" rm -rq .sluice
printf 'ACME=acme_%s\n' 0b8e4d2f6a91c73e5d08b4f2 >"$tmp/pushrepo/config/acme2.env"
printf 'GH2=%s%s\n' "$head" "${tail:0:15}Mq3Zr7Xv5Nb1" >"$tmp/pushrepo/testdata/gh2.env"
pem_key | sed 's/7vQm/8wRn/' >"$tmp/pushrepo/fixtures/third-key.pem"
commit "no sluice rules"
push
expect "without it, .gitleaks.toml is read again: no acme rule, fixtures/ allowed, testdata/ not" \
  "github-token:testdata/gh2.env" "$(rules_of "$sha")"
: no finding row holds a secret ----
# The rows are read from the store itself, not through the API (which could hide a column):
# every column of every secret_findings row, as text, against each secret found above and its
# base64, by every 12-byte window past the 4 characters redaction keeps; the PEM keys by
# their body lines. The server's own log is checked the same way.
rows() {
  if [[ -n ${SL_SERVER_DB:-} ]]; then
    psql "$SL_SERVER_DB" -X -q -At -F $'\t' -c 'SELECT * FROM secret_findings'
  else
    python3 -c 'import sqlite3,sys
for r in sqlite3.connect(sys.argv[1]).execute("SELECT * FROM secret_findings"):
    print("\t".join("" if v is None else str(v) for v in r))' "$tmp/data/sluice.db"
  fi
}
rows >"$tmp/rows" || bad "the store's finding rows are read" "$(cat "$tmp/rows")"
expect "the rows hold log and push findings" "yes yes" \
  "$(grep -qF 'token=ghp_***** done' "$tmp/rows" && echo yes) $(grep -qF "$gen_sha" "$tmp/rows" && echo yes)" \
  "$(cat "$tmp/rows")"
{
  echo "$head$tail"
  echo "${head}${tail:0:15}Mq3Zr7Xv5Nb1"
  echo "xoxb-2384729384-9823749823-Zq8Lm3Vr7Tz2Kp9Wn4Bc1Hd6"
  echo acme_3f9c0a7d51e28b46c9d07e1a
  grep -hv -- '-----' "$tmp/pushrepo/config/tls.key" <(pem_key)
  echo b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtz
  echo ZWQyNTUxOQAAACBf6l2VqMvU0sW1Z7oJ5ybA0qhN3qk8gY6oX4JrZ2mHxw
} >"$tmp/secrets"
held() { # held FILE: the windows of the secrets (and their base64) that FILE holds
  python3 - "$tmp/secrets" "$1" <<'PYS'
import base64, sys
text = open(sys.argv[2], encoding="utf-8", errors="replace").read()
for s in open(sys.argv[1]).read().split():
    for form in (s, base64.b64encode(s.encode()).decode()):
        for i in range(4, len(form) - 11):
            if form[i:i + 12] in text:
                print(s[:8] + "...: " + form[i:i + 12])
                break
PYS
}
expect "no stored finding row holds a secret or its base64, in any column" "" "$(held "$tmp/rows")" "$(cat "$tmp/rows")"
expect "nor does the server's log" "" "$(held "$tmp/err")"
server_stop
finish
