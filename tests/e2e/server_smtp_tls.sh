#!/usr/bin/env bash
# Email notifications through a relay off loopback (docs/notifications.md), on a real
# `sluice serve` and real SMTP relays (smtp_sink.py, aiosmtpd) on this machine's own
# non-loopback address, with a self-signed certificate made here by openssl:
#  - smtp://USER:PASSWORD@HOST with --smtp-ca: the failure mail arrives over STARTTLS, and
#    the relay saw the AUTH (it requires both); the password is starred out of the
#    server's command line (what ps shows);
#  - a plain smtp:// relay that offers no STARTTLS gets no mail: the delivery is given up at
#    once as a configuration problem saying so (mail off loopback is never sent in clear);
#  - without --smtp-ca the relay's certificate is not trusted: given up, no mail;
#  - a wrong password: the relay's 535 is given up as a configuration problem, no mail.
# serve refuses an --smtp-ca it cannot read, and one without --smtp-url.
. "$(dirname "$0")/lib/e2e.sh"
needs curl python3 git openssl ip
py=
for p in python3 /usr/bin/python3; do
  command -v "$p" >/dev/null && "$p" -c 'import aiosmtpd' 2>/dev/null && { py=$p; break; }
done
[[ -n $py ]] || skip "needs python3-aiosmtpd (scripts/install-deps.sh), which is not installed"
# an address of this machine that is not loopback: sluice sends mail in clear only to loopback
host=$(ip -4 -o addr show scope global | awk '{print $4}' | cut -d/ -f1 | head -1)
[[ -n $host ]] || skip "this machine has no non-loopback IPv4 address"
spid=
at_exit '[[ -n $spid ]] && kill "$spid" 2>/dev/null'
# shellcheck source=lib/server.sh
. "$src/tests/e2e/lib/server.sh"

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=relay.test \
  -addext "subjectAltName=IP:$host" -keyout "$tmp/relay.key" -out "$tmp/relay.pem" 2>"$tmp/openssl.err" ||
  { bad "openssl makes the relay's certificate" "$(cat "$tmp/openssl.err")"; finish; exit 1; }
mkdir "$tmp/sink"
"$py" "$src/tests/e2e/smtp_sink.py" "$tmp/sink" "$host" "$tmp/relay.pem" "$tmp/relay.key" mailer 's3cr3t-pw' \
  2>"$tmp/sink.err" &
spid=$!
wait_for 60 test -s "$tmp/sink/ports" || { bad "the relays start" "$(cat "$tmp/sink.err")"; finish; exit 1; }
tport=$(python3 -c "import json; print(json.load(open('$tmp/sink/ports'))['tls'])")
pport=$(python3 -c "import json; print(json.load(open('$tmp/sink/ports'))['plain'])")

"$bin" serve --smtp-url "smtp://$host:$tport" --smtp-from a@example.test --smtp-ca "$tmp/none.pem" >/dev/null 2>&1
expect "serve refuses an --smtp-ca it cannot read" 2 "$?"
"$bin" serve --smtp-ca "$tmp/relay.pem" >/dev/null 2>&1
expect "serve refuses --smtp-ca without --smtp-url" 2 "$?"

mkdir "$tmp/repo"
(cd "$tmp/repo" && git init -q -b main && printf 'job:\n  script:\n    - echo "the last words"\n    - exit 1\n' >.gitlab-ci.yml &&
  git add . && git -c user.email=t@t -c user.name=t commit -qm init) || { echo "cannot make a git repo" >&2; exit 1; }

start() { # start SMTP-URL [serve ARGS...]
  local u=$1
  shift
  server_start --workers 1 --delivery-retry-base 0.2 --smtp-url "$u" --smtp-from sluice@example.test "$@" ||
    { bad "the server starts with $u"; finish; exit 1; }
}
mails() { [[ -s $tmp/sink/mail.jsonl ]] && wc -l <"$tmp/sink/mail.jsonl" || echo 0; }
fail_once() { # a failed pipeline; then waits for its mail's delivery to leave pending: $d
  req POST "/api/v1/projects/$proj/pipelines" "$admin" '{}'
  local p
  p=$(jget "['id']")
  ended() { req GET "/api/v1/pipelines/$p" "$admin"; [[ $(jget "['status']") == failed ]]; }
  wait_for 300 ended || bad "pipeline $p fails" "$body"
  newest() {
    req GET "/api/v1/projects/$proj/deliveries" "$admin"
    d=$(python3 -c 'import json,sys; ds=[x for x in json.load(sys.stdin) if x["kind"]=="notify:email"]
d=max(ds, key=lambda x: x["id"]) if ds else None
print(json.dumps(d) if d and d["id"]>int(sys.argv[1]) and d["state"]!="pending" else "")' "$last" <<<"$body")
    [[ -n $d ]]
  }
  wait_for 300 newest || bad "the mail of pipeline $p is delivered or given up" "$body"
  last=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["id"])' "${d:-{\"id\":$last\}}")
}
dget() { python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(d[sys.argv[2]])' "$d" "$1"; }
last=0

# ---- STARTTLS and AUTH ----
start "smtp://mailer:s3cr3t-pw@$host:$tport" --smtp-ca "$tmp/relay.pem"
cmdline=$(tr '\0' ' ' <"/proc/$pid/cmdline")
expect "the password is not in the server's command line (ps)" "0 1" \
  "$(grep -c s3cr3t-pw <<<"$cmdline") $(grep -c 'smtp://mailer:\*\*\*\*\*\*\*\*\*@' <<<"$cmdline")" "$cmdline"
req POST /api/v1/projects "$admin" "{\"name\":\"mailed\",\"repo_url\":\"$tmp/repo\"}"
proj=$(jget "['id']")
req POST "/api/v1/projects/$proj/notifications" "$admin" '{"channel":"email","target":"dev@example.test","events":["failed"]}'
expect "an email rule is made" 201 "$code" "$body"
fail_once
expect "the mail is delivered at the first attempt" "delivered 1" "$(dget state) $(dget attempts)" "$d"
python3 - "$tmp/sink/mail.jsonl" <<'PY' && ok "the relay got the failure mail over STARTTLS, authenticated as mailer" ||
import json, sys
ms = [json.loads(l) for l in open(sys.argv[1])]
assert len(ms) == 1, ms
m = ms[0]
assert m["relay"] == "tls" and m["tls"] is True and m["login"] == "mailer", m
assert m["from"] == "sluice@example.test" and m["to"] == ["dev@example.test"], m
assert "Subject: [sluice] mailed: pipeline" in m["data"] and "failed" in m["data"], m["data"]
assert "the last words" in m["data"], m["data"]
PY
  bad "the relay got the failure mail over STARTTLS, authenticated" "$(cat "$tmp/sink/mail.jsonl" "$tmp/sink.err" 2>&1)"
expect "the AUTH was made once, under TLS, and accepted" "1 true true" \
  "$(python3 -c 'import json,sys; ss=[json.loads(l) for l in open(sys.argv[1])]; print(len(ss), str(ss[0]["ok"]).lower(), str(ss[0]["tls"]).lower())' "$tmp/sink/sessions.jsonl" 2>&1)"
server_stop

# ---- a plain relay off loopback: no mail in clear ----
start "smtp://$host:$pport"
fail_once
expect "a relay without STARTTLS: given up at once" "given_up 1" "$(dget state) $(dget attempts)" "$d"
expect "as a configuration problem that says why" 1 \
  "$(grep -c 'configuration problem: the relay offers no STARTTLS, and mail off loopback is never sent in clear' <<<"$(dget last_error)")" "$d"
expect "the plain relay got no mail" 1 "$(mails)"
server_stop

# ---- a certificate sluice does not trust ----
start "smtp://mailer:s3cr3t-pw@$host:$tport"
fail_once
expect "without --smtp-ca the self-signed relay is not trusted: given up at once" "given_up 1" \
  "$(dget state) $(dget attempts)" "$d"
expect "... saying so" 1 "$(grep -c "configuration problem: the relay's TLS certificate is not trusted" <<<"$(dget last_error)")" "$d"
expect "no mail" 1 "$(mails)"
server_stop

# ---- a wrong password ----
start "smtp://mailer:wrong@$host:$tport" --smtp-ca "$tmp/relay.pem"
fail_once
expect "a refused AUTH: given up at once as a configuration problem" "given_up 1 1" \
  "$(dget state) $(dget attempts) $(grep -c '^configuration problem: .*(SMTP 535)' <<<"$(dget last_error)")" "$d"
expect "no mail" 1 "$(mails)"
expect "the relay refused the password" 1 "$(grep -c '"ok": false' "$tmp/sink/sessions.jsonl")"
grep -q 's3cr3t-pw\|mailer:wrong' "$tmp/err" && bad "the server's log holds no relay password" "$(grep -m3 's3cr3t-pw\|mailer:wrong' "$tmp/err")" ||
  ok "the server's log holds no relay password"
server_stop
finish
