#!/usr/bin/env bash
# The web UI's serving and sign-in against the real binary on loopback: index.html at / and
# at deep links, hashed immutable assets with gzip, the security headers, a token exchanged
# for a session cookie, CSRF refusals (no token, another origin: another port of the same
# host), the token API, sign-out, and the raw log download.
set -u
. "$(dirname "$0")/lib/skip.sh"
bin=${SLUICE_BIN:?SLUICE_BIN is not set}
command -v curl >/dev/null || skip "needs curl"
tmp=$(mktemp -d)
. "$(dirname "$0")/lib/server.sh"
db=() # the UI's checks are of the server, not of its store: the data directory's SQLite
cleanup() { [[ -n $pid ]] && kill -9 "$pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
# hdr_has NAME PATTERN TEXT: TEXT (headers) matches PATTERN, case-insensitively
hdr_has() { if grep -qi -- "$2" <<<"$3"; then ok "$1"; else bad "$1: no '$2' in: $3"; fi; }

server_start || { bad "server starts"; finish; exit 1; }
u=$url

hdr=$(curl -s -D - -o "$tmp/index" "$u/")
hdr_has "/ is HTML" "content-type: text/html" "$hdr"
hdr_has "index is revalidated" "cache-control: no-cache" "$hdr"
hdr_has "strict CSP: scripts from this origin only" "script-src 'self';" "$hdr"
hdr_has "CSP forbids framing" "frame-ancestors 'none'" "$hdr"
hdr_has "X-Frame-Options" "x-frame-options: deny" "$hdr"
hdr_has "Referrer-Policy" "referrer-policy: no-referrer" "$hdr"
if grep -q '<script>' "$tmp/index" || grep -q ' on[a-z]*=' "$tmp/index"; then bad "no inline script"; else ok "no inline script in index.html"; fi
js=$(grep -o '/assets/app\.[0-9a-f]\{16\}\.js' "$tmp/index")
[[ -n $js ]] && ok "index names content-hashed assets ($js)" || bad "hashed asset name"
hdr=$(curl -s -D - -o "$tmp/app.gz" -H 'Accept-Encoding: gzip' "$u$js")
hdr_has "hashed asset is immutable" "max-age=31536000, immutable" "$hdr"
hdr_has "asset is gzip-compressed" "content-encoding: gzip" "$hdr"
if gzip -dc "$tmp/app.gz" | cmp -s - "$SL_SOURCE_DIR/web/app.js"; then ok "gzip body is web/app.js"; else bad "gzip body"; fi
etag=$(grep -i '^etag' <<<"$hdr" | tr -d '\r' | cut -d' ' -f2)
expect "If-None-Match gives 304" 304 "$(curl -s -o /dev/null -w '%{http_code}' -H "If-None-Match: $etag" "$u$js")"
for p in /projects /projects/1 /pipelines/3 /jobs/7 /admin/tokens /signin; do
  expect "deep link $p serves the page" 200 "$(curl -s -o /dev/null -w '%{http_code}' "$u$p")"
done
expect "unknown path is still 404" 404 "$(curl -s -o /dev/null -w '%{http_code}' "$u/nope")"
expect "unknown asset is 404" 404 "$(curl -s -o /dev/null -w '%{http_code}' "$u/assets/app.0000000000000000.js")"

# sign-in
expect "sign-in needs JSON (a form post is refused)" 415 \
  "$(curl -s -o /dev/null -w '%{http_code}' --data-urlencode "token=$admin" "$u/api/v1/session")"
expect "sign-in with a wrong token" 401 "$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' -d '{"token":"slt_x"}' "$u/api/v1/session")"
hdr=$(curl -s -D - -o "$tmp/sess" -c "$tmp/jar" -H 'Content-Type: application/json' -d "{\"token\":\"$admin\"}" "$u/api/v1/session")
hdr_has "sign-in answers 201" "HTTP/1.1 201" "$hdr"
hdr_has "cookie is HttpOnly and SameSite=Lax" "set-cookie: sl_session=[0-9a-f]*; Path=/; Max-Age=43200; HttpOnly; SameSite=Lax" "$hdr"
if grep -q "$admin" "$tmp/sess" "$tmp/jar"; then bad "the token is not echoed"; else ok "the token is not in the answer or the cookie"; fi
hdr=$(curl -s -D - -o /dev/null -H 'X-Forwarded-Proto: https' -H 'Content-Type: application/json' -d "{\"token\":\"$admin\"}" "$u/api/v1/session")
hdr_has "cookie is Secure behind TLS" "; Secure" "$hdr"
csrf=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["csrf_token"])' "$tmp/sess")
expect "the cookie authenticates a GET" 200 "$(curl -s -o /dev/null -w '%{http_code}' -b "$tmp/jar" "$u/api/v1/projects")"
post() { curl -s -o "$tmp/body" -w '%{http_code}' -b "$tmp/jar" -H 'Content-Type: application/json' -d '{"name":"t","role":"viewer"}' "$@" "$u/api/v1/tokens"; }
expect "cookie POST without a CSRF token: 403" 403 "$(post)"
expect "cookie POST with a wrong CSRF token: 403" 403 "$(post -H "X-CSRF-Token: ${csrf//[0-9]/a}")"
expect "cookie POST from another port of the host: 403" 403 "$(post -H "X-CSRF-Token: $csrf" -H "Origin: http://127.0.0.1:1")"
expect "cookie POST marked cross-site: 403" 403 "$(post -H "X-CSRF-Token: $csrf" -H "Sec-Fetch-Site: same-site")"
expect "forged form post (another origin, no token): 403" 403 \
  "$(curl -s -o /dev/null -w '%{http_code}' -b "$tmp/jar" -H "Origin: http://evil.example" --data 'x=1' "$u/api/v1/pipelines/1/cancel")"
expect "cookie POST with the CSRF token from this origin: 201" 201 "$(post -H "X-CSRF-Token: $csrf" -H "Origin: $u")"
viewer=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["token"])' "$tmp/body")
vid=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$tmp/body")
expect "bearer requests need no CSRF token" 200 "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $admin" "$u/api/v1/tokens")"

# the role rules are the API's: a viewer's session cannot create tokens
curl -s -o "$tmp/vs" -c "$tmp/vjar" -H 'Content-Type: application/json' -d "{\"token\":\"$viewer\"}" "$u/api/v1/session"
vcsrf=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["csrf_token"])' "$tmp/vs")
expect "a viewer's session is refused an admin route" 403 \
  "$(curl -s -o /dev/null -w '%{http_code}' -b "$tmp/vjar" "$u/api/v1/tokens")"
# the server keeps a token it verified in memory a while (store/tokens.c): used just now, it
# is refused the moment it is revoked, as a bearer token and through its session
expect "the viewer token works as a bearer token" 200 "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $viewer" "$u/api/v1/projects")"
expect "revoke the viewer token" 204 "$(curl -s -o /dev/null -w '%{http_code}' -X DELETE -H "Authorization: Bearer $admin" "$u/api/v1/tokens/$vid")"
expect "a revoked token's session ends" 401 "$(curl -s -o /dev/null -w '%{http_code}' -b "$tmp/vjar" "$u/api/v1/projects")"
expect "a revoked token is refused at once" 401 "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $viewer" "$u/api/v1/projects")"

expect "sign-out" 204 "$(curl -s -o /dev/null -w '%{http_code}' -X DELETE -b "$tmp/jar" -H "X-CSRF-Token: $csrf" "$u/api/v1/session")"
expect "the session is gone after sign-out" 401 "$(curl -s -o /dev/null -w '%{http_code}' -b "$tmp/jar" "$u/api/v1/projects")"
audit=$(curl -s -H "Authorization: Bearer $admin" "$u/api/v1/audit")
hdr_has "sign-in is audited" '"session.create"' "$audit"
hdr_has "token creation is audited" '"token.create"' "$audit"
# the audit API's filters (the audit page uses them): actor, action, time, ANDed
actors() { curl -s -H "Authorization: Bearer $admin" "$u/api/v1/audit?$1" |
  python3 -c 'import json,sys; print(" ".join(sorted({e["actor"] + "/" + e["action"] for e in json.load(sys.stdin)})))'; }
expect "the audit log by actor and action" "token:$vid/session.create" "$(actors "actor=token:$vid&action=session.create")"
hdr_has "the audit log by actor alone keeps only that actor" "^token:$vid/" "$(actors "actor=token:$vid" | tr ' ' '\n' | sort -u | sed -n 1p)"
expect "no other actor in it" "" "$(actors "actor=token:$vid" | tr ' ' '\n' | grep -v "^token:$vid/")"
expect "nothing since tomorrow" "" "$(actors "since=2999-01-01T00:00:00Z")"
expect "everything before the far future" yes "$([[ -n $(actors "until=2999-01-01") ]] && echo yes)"
expect "nothing before 1970" "" "$(actors "until=1970-01-02")"
expect "a bad time is refused" 400 "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $admin" "$u/api/v1/audit?since=yesterday")"

server_stop

# session expiry: a server whose sign-ins last 2 s
server_start --session-ttl 2 || { bad "the server starts with --session-ttl 2"; finish; exit 1; }
u=$url
hdr=$(curl -s -D - -o /dev/null -c "$tmp/ejar" -H 'Content-Type: application/json' -d "{\"token\":\"$admin\"}" "$u/api/v1/session")
hdr_has "--session-ttl sets the cookie's Max-Age" "Max-Age=2;" "$hdr"
expect "the new session works" 200 "$(curl -s -o /dev/null -w '%{http_code}' -b "$tmp/ejar" "$u/api/v1/projects")"
code=200
for _ in $(seq 600); do
  code=$(curl -s -o /dev/null -w '%{http_code}' -b "$tmp/ejar" "$u/api/v1/projects")
  [[ $code == 401 ]] && break
  sleep 0.1
done
expect "the session has expired after its 2 s" 401 "$code"
"$bin" serve --listen 127.0.0.1:0 --data "$tmp/data" --session-ttl 0 >/dev/null 2>"$tmp/err0"
expect "--session-ttl 0 is refused" 2 "$?"
server_stop
finish
