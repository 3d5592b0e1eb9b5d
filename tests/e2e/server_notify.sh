#!/usr/bin/env bash
# Commit statuses, the delivery queue and notifications against the real binary, with
# loopback receivers (forge_receiver.py) that answer as GitHub, GitLab and Gitea do: each
# forge gets a pipeline's statuses in order as it fails and is retried to success; a
# receiver that fails 3 times gets the status on the 4th attempt after growing waits; one
# that answers 401 is given up at once as a configuration problem; one that always answers
# 503, and a port nothing listens on, are given up after the attempt limit (8); deliveries
# pending at a restart are delivered after it. Notifications: a signed webhook (the signature verifies), a
# Slack-compatible webhook, Matrix and a mail to an SMTP sink with the failed job's last log
# lines; failed then fixed; sluice notify test.
. "$(dirname "$0")/lib/e2e.sh"
needs curl python3 git
rpid=
at_exit '[[ -n $rpid ]] && kill "$rpid" 2>/dev/null'
. "$(dirname "$0")/lib/server.sh"
shared_dir

mkdir "$tmp/recv"
python3 "$src/tests/e2e/forge_receiver.py" "$tmp/recv" 2>"$tmp/recv.err" &
rpid=$!
wait_for 60 test -s "$tmp/recv/ports" || { bad "the receivers start" "$(cat "$tmp/recv.err")"; finish; exit 1; }
hport=$(python3 -c "import json; print(json.load(open('$tmp/recv/ports'))['http'])")
sport=$(python3 -c "import json; print(json.load(open('$tmp/recv/ports'))['smtp'])")
R=http://127.0.0.1:$hport

repo_ci "$tmp/repo" <<YML || exit 1
workflow:
  name: '\$PNAME'
job:
  script:
    - echo "building \$CI_PROJECT_ID"
    - |
      if [ "\${FAIL_ONCE:-}" = yes ] && [ ! -e "$tmp/shared/mark-\$CI_PROJECT_ID" ]; then
        touch "$tmp/shared/mark-\$CI_PROJECT_ID"; echo "boom: the first attempt fails"; exit 1
      fi
    - echo fine
    - if [ -n "\${HOLD_FILE:-}" ]; then touch "\$HOLD_FILE.started"; while [ -e "\$HOLD_FILE" ]; do sleep 0.1; done; fi
YML
sha=$(git -C "$tmp/repo" rev-parse HEAD)

base=0.2
server_start --workers 2 --delivery-retry-base $base --smtp-url "smtp://127.0.0.1:$sport" \
  --smtp-from sluice@example.test || { bad "server starts"; finish; exit 1; }

project() { # project NAME -> $proj
  req POST /api/v1/projects "$admin" "{\"name\":\"$1\",\"repo_url\":\"$tmp/repo\"}"
  proj=$(jget "['id']")
}
wait_pipeline() { # wait_pipeline ID -> its status in $st
  st=
  for _ in $(seq 3000); do
    req GET /api/v1/pipelines/$1 "$admin"
    st=$(jget "['status']")
    case $st in success | failed | canceled) return ;; esac
    sleep 0.1
  done
}
run_pipeline() { # run_pipeline PROJECT [NAME] -> $pl; fails once, then retried to success
  req POST /api/v1/projects/$1/pipelines "$admin" "{\"variables\":{\"FAIL_ONCE\":\"yes\",\"PNAME\":\"${2:-}\"}}"
  pl=$(jget "['id']")
  wait_pipeline "$pl"
  expect "project $1: the first run fails" failed "$st"
  req POST /api/v1/pipelines/$pl/retry "$admin"
  wait_pipeline "$pl"
  expect "project $1: the retry succeeds" success "$st"
}
settled() { # settled PROJECT: no delivery of it is pending any more
  req GET "/api/v1/projects/$1/deliveries?state=pending" "$admin"
  [[ $code == 200 && $(jget "") == "[]" ]]
}
states() { # states PATH-PREFIX FIELD [CONTEXT]: the states the receiver got there, comma-separated
  python3 - "$tmp/recv/http.jsonl" "$1" "$2" "${3:-}" <<'PY'
import json, sys
out = []
for l in open(sys.argv[1]):
    r = json.loads(l)
    b = json.loads(r["body"]) if r["path"].startswith(sys.argv[2]) else None
    if b is not None and (not sys.argv[4] or b.get("context", b.get("name")) == sys.argv[4]):
        out.append(b[sys.argv[3]])
print(",".join(out))
PY
}

# ---- the forge connection API ----
"$bin" serve --delivery-retry-base 0 >/dev/null 2>&1
expect "serve refuses a retry base of 0" 2 "$?"
"$bin" serve --smtp-url http://x --smtp-from a@b >/dev/null 2>&1
expect "serve refuses an --smtp-url that is not smtp:// or smtps://" 2 "$?"
"$bin" serve --smtp-url smtp://127.0.0.1 >/dev/null 2>&1
expect "serve wants --smtp-from with --smtp-url" 2 "$?"
project gh
gh=$proj
req PUT /api/v1/projects/$gh/forge "$admin" '{"kind":"gitlub","api_url":"x","repository":"o/r","token":"t"}'
expect "an unknown forge kind is refused" 400 "$code"
req PUT /api/v1/projects/$gh/forge "$admin" "{\"kind\":\"github\",\"api_url\":\"$R/github\",\"repository\":\"nope\",\"token\":\"t\"}"
expect "a GitHub repository must be owner/name" 400 "$code"
req PUT /api/v1/projects/$gh/forge "$admin" "{\"kind\":\"github\",\"api_url\":\"$R/github/\",\"repository\":\"o/r\",\"token\":\"ghtok\"}"
expect "a GitHub connection is set" 200 "$code" "$body"
req GET /api/v1/projects/$gh/forge "$admin"
expect "the connection reads back, its token never" "github $R/github o/r False" \
  "$(jget "['kind']") $(jget "['api_url']") $(jget "['repository']") $(jget "['token'] if 'token' in d else False")"
req POST /api/v1/tokens "$admin" '{"name":"dev","role":"developer"}'
dev=$(jget "['token']")
req GET /api/v1/projects/$gh/forge "$dev"
expect "a developer may not read the connection" 403 "$code"

# ---- notification rules ----
req POST /api/v1/projects/$gh/notifications "$admin" '{"channel":"pager","target":"x"}'
expect "an unknown channel is refused" 400 "$code"
req POST /api/v1/projects/$gh/notifications "$admin" '{"channel":"webhook","target":"http://x","events":["sometimes"]}'
expect "an unknown event is refused" 400 "$code"
req POST /api/v1/projects/$gh/notifications "$admin" '{"channel":"email","target":"a@b\r\nBcc: c@d"}'
expect "a mail target that could split a header is refused" 400 "$code"
req POST /api/v1/projects/$gh/notifications "$admin" '{"channel":"matrix","target":"http://x"}'
expect "a matrix rule needs its access token" 400 "$code"
req POST /api/v1/projects/$gh/notifications "$admin" "{\"channel\":\"webhook\",\"target\":\"$R/hook\",\"events\":[\"failed\",\"fixed\"],\"secret\":\"hooksecret\"}"
expect "a webhook rule is made" 201 "$code" "$body"
expect "its secret is never shown" "True False" "$(jget "['has_secret']") $(jget "['secret'] if 'secret' in d else False")"
req POST /api/v1/projects/$gh/notifications "$admin" "{\"channel\":\"slack\",\"target\":\"$R/slack\",\"events\":[\"failed\",\"fixed\"],\"refs\":\"default\"}"
expect "a slack rule is made" 201 "$code" "$body"
mx='!room:example.test'
req POST /api/v1/projects/$gh/notifications "$admin" "{\"channel\":\"matrix\",\"target\":\"$R/matrix/_matrix/client/v3/rooms/$mx\",\"events\":[\"failed\",\"fixed\"],\"secret\":\"mxtok\",\"refs\":\"protected\"}"
expect "a matrix rule is made" 201 "$code" "$body"
req POST /api/v1/projects/$gh/notifications "$admin" '{"channel":"email","target":"dev@example.test","events":["failed"]}'
expect "an email rule is made" 201 "$code" "$body"
req POST /api/v1/projects/$gh/notifications "$admin" "{\"channel\":\"webhook\",\"target\":\"$R/hook/never\",\"events\":[\"success\"],\"refs\":\"protected\"}"
never=$(jget "['id']")
req DELETE /api/v1/projects/$gh/notifications/$never "$admin"
expect "a rule is deleted" 204 "$code"
req GET /api/v1/projects/$gh/notifications "$admin"
expect "four rules are listed" 4 "$(jget ".__len__()")"

# ---- GitHub: statuses in order, notifications on failed and fixed ----
run_pipeline "$gh" "ci main"
ghpl=$pl
wait_for 300 settled "$gh" || bad "GitHub's deliveries settle" "$body"
expect "GitHub gets pending, failure, pending, success" "pending,failure,pending,success" \
  "$(states /github/repos/o/r/statuses/$sha state)"
line=$(grep -m1 "/github/repos/o/r/statuses/$sha" "$tmp/recv/http.jsonl")
expect "GitHub's status names the context, links the pipeline, sends the token" \
  "sluice/ci main $url/pipelines/$ghpl Bearer ghtok" \
  "$(python3 -c "import json,sys; r=json.loads(sys.argv[1]); b=json.loads(r['body']); print(b['context'], b['target_url'], r['headers']['Authorization'])" "$line")"
req GET /api/v1/projects/$gh/deliveries "$admin"
python3 - "$body" <<'PY' && ok "deliveries show kind, target, attempts, timestamps" || bad "deliveries show kind, target, attempts, timestamps" "$body"
import json, sys
ds = json.loads(sys.argv[1])
assert all(d["state"] == "delivered" and d["attempts"] == 1 and d["last_error"] is None
           and d["created_at"] and d["delivered_at"] for d in ds), ds
assert {d["kind"] for d in ds} == {"status:github", "notify:webhook", "notify:slack",
                                   "notify:matrix", "notify:email"}, ds
PY

python3 - "$tmp/recv/http.jsonl" <<'PY' && ok "the webhook's signature verifies, events failed then fixed" || bad "the webhook's signature verifies, events failed then fixed" "$(grep /hook "$tmp/recv/http.jsonl")"
import hashlib, hmac, json, sys
hooks = [json.loads(l) for l in open(sys.argv[1]) if json.loads(l)["path"] == "/hook"]
assert len(hooks) == 2, hooks
for h in hooks:
    want = "sha256=" + hmac.new(b"hooksecret", h["body"].encode(), hashlib.sha256).hexdigest()
    assert h["headers"]["X-Sluice-Signature"] == want, h
bodies = [json.loads(h["body"]) for h in hooks]
assert [b["event"] for b in bodies] == ["failed", "fixed"], bodies
assert bodies[0]["failed_jobs"][0]["name"] == "job" and bodies[1]["failed_jobs"] == [], bodies
assert bodies[0]["pipeline"]["ref"] == "main" and bodies[0]["object_kind"] == "pipeline"
PY
python3 - "$tmp/recv/http.jsonl" <<'PY' && ok "Slack and Matrix get their JSON" || bad "Slack and Matrix get their JSON" "$(grep -e /slack -e /matrix "$tmp/recv/http.jsonl")"
import json, sys
rs = [json.loads(l) for l in open(sys.argv[1])]
slack = [json.loads(r["body"]) for r in rs if r["path"] == "/slack"]
assert len(slack) == 2 and "failed" in slack[0]["text"] and "was fixed" in slack[1]["text"], slack
mx = [r for r in rs if r["path"].startswith("/matrix/")]
assert len(mx) == 2 and all(r["method"] == "PUT" for r in mx), mx
assert "/send/m.room.message/sluice-" in mx[0]["path"], mx
b = json.loads(mx[0]["body"])
assert b["msgtype"] == "m.text" and "failed" in b["body"], b
PY
python3 - "$tmp/recv/mail.jsonl" <<'PY' && ok "the SMTP sink gets the failure mail with the job's last log lines" || bad "the SMTP sink gets the failure mail with the job's last log lines" "$(cat "$tmp/recv/mail.jsonl" 2>&1)"
import json, sys
ms = [json.loads(l) for l in open(sys.argv[1])]
assert len(ms) == 1, ms
m = ms[0]
assert m["from"] == "<sluice@example.test>" and m["to"] == ["<dev@example.test>"], m
assert "Subject: [sluice] gh: pipeline #1 on main failed" in m["data"], m["data"]
assert "Failed job: job" in m["data"] and "boom: the first attempt fails" in m["data"], m["data"]
PY

# ---- GitLab and Gitea ----
project gl
gl=$proj
req PUT /api/v1/projects/$gl/forge "$admin" "{\"kind\":\"gitlab\",\"api_url\":\"$R/gitlab/api/v4\",\"repository\":\"group/proj\",\"token\":\"gltok\"}"
expect "a GitLab connection is set" 200 "$code" "$body"
project gt
gt=$proj
req PUT /api/v1/projects/$gt/forge "$admin" "{\"kind\":\"gitea\",\"api_url\":\"$R/gitea/api/v1\",\"repository\":\"o/r\",\"token\":\"gttok\",\"per_job\":true}"
expect "a Gitea connection with per-job statuses is set" "200 True" "$code $(jget "['per_job']")" "$body"
run_pipeline "$gl"
run_pipeline "$gt"
wait_for 300 settled "$gl" || bad "GitLab's deliveries settle" "$body"
wait_for 300 settled "$gt" || bad "Gitea's deliveries settle" "$body"
glst=$(states /gitlab/api/v4/projects/group%2Fproj/statuses/$sha state)
[[ $glst =~ ^pending,(running,)?failed,(pending,)?running,success$ ]] &&
  ok "GitLab gets its own vocabulary in order ($glst)" || bad "GitLab gets its own vocabulary in order" "$glst"
line=$(grep -m1 "/gitlab/api/v4/projects/group%2Fproj/statuses/$sha" "$tmp/recv/http.jsonl")
expect "GitLab's status has name, ref and PRIVATE-TOKEN" "sluice/pipeline main gltok" \
  "$(python3 -c "import json,sys; r=json.loads(sys.argv[1]); b=json.loads(r['body']); print(b['name'], b['ref'], r['headers']['PRIVATE-TOKEN'])" "$line")"
expect "Gitea gets pending, failure, pending, success" "pending,failure,pending,success" \
  "$(states /gitea/api/v1/repos/o/r/statuses/$sha state sluice/pipeline)"
expect "and the job's own statuses: running, failed, retried, running, passed" \
  "pending,failure,pending,pending,success" "$(states /gitea/api/v1/repos/o/r/statuses/$sha state sluice/job/job)"
line=$(grep "/gitea/api/v1/repos/o/r/statuses/$sha" "$tmp/recv/http.jsonl" | grep -m1 'sluice/job/job')
expect "a job's status links the job" "$url/jobs/" \
  "$(python3 -c "import json,sys; b=json.loads(json.loads(sys.argv[1])['body']); print(b['target_url'].rsplit('/',1)[0]+'/')" "$line")"

# ---- a receiver that fails 3 times, then succeeds ----
project flaky
fl=$proj
req PUT /api/v1/projects/$fl/forge "$admin" "{\"kind\":\"github\",\"api_url\":\"$R/flaky\",\"repository\":\"o/r\",\"token\":\"ghtok\"}"
req POST /api/v1/projects/$fl/pipelines "$admin" '{}'
flpl=$(jget "['id']")
seen=
retrying() { # a pending status with attempts made and a next attempt set
  req GET "/api/v1/projects/$fl/deliveries?state=pending" "$admin"
  [[ $code == 200 ]] && python3 -c "import json,sys; ds=json.loads(sys.argv[1]); sys.exit(0 if any(d['attempts']>=1 and d['last_error'] and d['next_attempt_at'] for d in ds) else 1)" "$body"
}
wait_for 300 retrying && ok "a failing delivery waits for its next attempt, with its error" || bad "a failing delivery waits for its next attempt" "$body"
wait_pipeline "$flpl"
wait_for 300 settled "$fl" || bad "the flaky deliveries settle" "$body"
req GET /api/v1/projects/$fl/deliveries "$admin"
expect "the first status took 4 attempts and was delivered" "delivered 4" \
  "$(jget "[-1]['state']") $(jget "[-1]['attempts']")" "$body"
python3 - "$tmp/recv/http.jsonl" "$base" <<'PY' && ok "the waits between attempts double (at least base, 2x, 4x)" || bad "the waits between attempts double" "$(grep /flaky "$tmp/recv/http.jsonl" | cut -c1-80)"
import json, sys
ts = [json.loads(l)["t"] for l in open(sys.argv[1]) if json.loads(l)["path"].startswith("/flaky/")]
base = float(sys.argv[2])
gaps = [b - a for a, b in zip(ts, ts[1:4])]
assert len(gaps) == 3, ts
for i, g in enumerate(gaps):
    assert g >= base * (2 ** i) * 0.9, (i, g, gaps)
PY
expect "the flaky forge gets the first status on its 4th attempt, then the next" \
  "pending,pending,pending,pending,success" "$(states /flaky/repos/o/r/statuses/$sha state)"

# ---- a receiver that always answers 401 ----
project denied
dn=$proj
req PUT /api/v1/projects/$dn/forge "$admin" "{\"kind\":\"github\",\"api_url\":\"$R/deny\",\"repository\":\"o/r\",\"token\":\"wrong\"}"
req POST /api/v1/projects/$dn/pipelines "$admin" '{}'
wait_pipeline "$(jget "['id']")"
wait_for 300 settled "$dn" || bad "the refused deliveries settle" "$body"
req GET /api/v1/projects/$dn/deliveries "$admin"
python3 - "$body" <<'PY' && ok "a 401 is given up at once as a configuration problem" || bad "a 401 is given up at once as a configuration problem" "$body"
import json, sys
ds = json.loads(sys.argv[1])
assert ds and all(d["state"] == "given_up" and d["attempts"] == 1 and
                  d["last_error"].startswith("configuration problem: HTTP 401") for d in ds), ds
PY
expect "the forge was asked once per status, never again" "$(jget ".__len__()")" \
  "$(grep -c '"path": "/deny/' "$tmp/recv/http.jsonl")"
req GET "/api/v1/audit?action=delivery.given_up" "$admin"
[[ $body == *delivery.given_up* ]] && ok "the given-up delivery is audited" || bad "the given-up delivery is audited" "$body"
grep -q "a delivery was refused" "$tmp/err" && ok "and logged" || bad "and logged" "$(tail -5 "$tmp/err")"

# ---- sluice notify test ----
out=$("$bin" notify test --project "$gh" --url "$url" --token "$admin" 2>&1)
expect "sluice notify test queues one sample per rule" "queued 4 sample notifications" "$out"
wait_for 300 settled "$gh" || bad "the samples settle" "$body"
expect "the webhook got the sample" 3 "$(grep -c '"path": "/hook"' "$tmp/recv/http.jsonl")"
out=$("$bin" notify test --project 9999 --url "$url" --token "$admin" 2>&1)
expect "sluice notify test of a missing project fails" 1 "$?"

# ---- a restart with pending deliveries ----
project restart
rs=$proj
req PUT /api/v1/projects/$rs/forge "$admin" "{\"kind\":\"github\",\"api_url\":\"$R/switch\",\"repository\":\"o/r\",\"token\":\"ghtok\"}"
touch "$tmp/recv/down"
req POST /api/v1/projects/$rs/pipelines "$admin" '{}'
rspl=$(jget "['id']")
fl=$rs
wait_for 300 retrying || bad "the restart project's delivery is retrying" "$body"
server_stop
rm "$tmp/recv/down"
server_start --workers 2 --delivery-retry-base $base --smtp-url "smtp://127.0.0.1:$sport" \
  --smtp-from sluice@example.test || bad "the server starts again"
wait_pipeline "$rspl"
wait_for 300 settled "$rs" || bad "the pending deliveries are sent after the restart" "$body"
req GET /api/v1/projects/$rs/deliveries "$admin"
expect "after the restart every status is delivered" "delivered" \
  "$(python3 -c "import json,sys; print(','.join(sorted({d['state'] for d in json.loads(sys.argv[1])})))" "$body")"
expect "the forge got them in order" "success" "$(states /switch/repos/o/r/statuses/$sha state | sed 's/.*,//')"

req DELETE /api/v1/projects/$gh/forge "$admin"
expect "the connection is deleted" 204 "$code"
req GET /api/v1/projects/$gh/forge "$admin"
expect "and is gone" 404 "$code"
server_stop

# ---- a forge that is always down, and one that is not there: given up after the limit ----
# (a short base so 8 attempts take about a second and a half: 0.01 * (1 + 2 + ... + 64))
server_start --workers 2 --delivery-retry-base 0.01 || bad "the server starts a third time"
closed=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
project down
dw=$proj
req PUT /api/v1/projects/$dw/forge "$admin" "{\"kind\":\"github\",\"api_url\":\"$R/down\",\"repository\":\"o/r\",\"token\":\"ghtok\"}"
project absent
ab=$proj
req PUT /api/v1/projects/$ab/forge "$admin" "{\"kind\":\"gitlab\",\"api_url\":\"http://127.0.0.1:$closed/api/v4\",\"repository\":\"1\",\"token\":\"gltok\"}"
for p in $dw $ab; do
  req POST /api/v1/projects/$p/pipelines "$admin" '{}'
  wait_pipeline "$(jget "['id']")"
done
for p in $dw $ab; do
  wait_for 300 settled "$p" || bad "project $p's deliveries settle" "$body"
done
given_up_after_limit() { # given_up_after_limit PROJECT ERROR-PREFIX
  req GET /api/v1/projects/$1/deliveries "$admin"
  python3 - "$body" "$2" <<'PY'
import json, sys
ds = json.loads(sys.argv[1])
assert ds and all(d["state"] == "given_up" and d["attempts"] == 8 and d["next_attempt_at"] is None
                  and sys.argv[2] in d["last_error"] for d in ds), ds
PY
}
given_up_after_limit "$dw" "HTTP 503" && ok "a forge answering 503: each status given up after 8 attempts" ||
  bad "a forge answering 503 is given up after 8 attempts" "$body"
expect "the down forge was asked 8 times per status" "$(($(jget ".__len__()") * 8))" \
  "$(grep -c '"path": "/down/' "$tmp/recv/http.jsonl")"
# ---- a canceled pipeline: GitHub's error, GitLab's canceled ----
for kind in github gitlab; do
  project "cancel-$kind"
  cp=$proj
  if [[ $kind == github ]]; then
    req PUT /api/v1/projects/$cp/forge "$admin" "{\"kind\":\"github\",\"api_url\":\"$R/github\",\"repository\":\"c/$cp\",\"token\":\"ghtok\"}"
  else
    req PUT /api/v1/projects/$cp/forge "$admin" "{\"kind\":\"gitlab\",\"api_url\":\"$R/gitlab/api/v4\",\"repository\":\"c/$cp\",\"token\":\"gltok\"}"
  fi
  touch "$tmp/shared/hold-$cp"
  req POST /api/v1/projects/$cp/pipelines "$admin" "{\"variables\":{\"HOLD_FILE\":\"$tmp/shared/hold-$cp\"}}"
  cpl=$(jget "['id']")
  wait_for 300 test -e "$tmp/shared/hold-$cp.started" || bad "the $kind job runs" "$(tail -3 "$tmp/err")"
  req POST /api/v1/pipelines/$cpl/cancel "$admin"
  rm -f "$tmp/shared/hold-$cp"
  wait_pipeline "$cpl"
  wait_for 300 settled "$cp" || bad "project $cp's deliveries settle" "$body"
done
expect "a canceled pipeline is GitHub's error" "pending,error" \
  "$(states "/github/repos/c/$((cp - 1))/statuses/$sha" state)"
expect "... and GitLab's canceled" "pending,running,canceled" \
  "$(states "/gitlab/api/v4/projects/c%2F$cp/statuses/$sha" state)"
given_up_after_limit "$ab" "" && ok "a forge nobody listens for (connection refused): given up after 8 attempts" ||
  bad "a connection error is given up after 8 attempts" "$body"
server_stop
finish
