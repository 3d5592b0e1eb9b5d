#!/usr/bin/env python3
"""SMTP relays for server_smtp_tls.sh, made with aiosmtpd (Debian's python3-aiosmtpd), on
HOST (an address of this machine that is not loopback, so sluice treats them as relays on a
network):
  tls    offers STARTTLS with CERT/KEY, requires it before anything else (require_starttls)
         and requires AUTH (PLAIN or LOGIN) as USER/PASSWORD, over TLS only
  plain  offers no STARTTLS and no AUTH: a relay a client must not send mail to in clear
Every mail is one JSON line in DIR/mail.jsonl: relay, from, to, data, whether the session
was under TLS and the login it authenticated as. Every session's commands go to
DIR/sessions.jsonl. The ports go to DIR/ports as JSON.

usage: smtp_sink.py DIR HOST CERT KEY USER PASSWORD"""
import asyncio
import json
import os
import ssl
import sys

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

DIR, HOST, CERT, KEY, USER, PASSWORD = sys.argv[1:7]


def record(name, obj):
    with open(os.path.join(DIR, name), "a") as f:
        f.write(json.dumps(obj) + "\n")


class Handler:
    def __init__(self, relay):
        self.relay = relay

    async def handle_DATA(self, server, session, envelope):
        login = session.auth_data.login.decode() if isinstance(session.auth_data, LoginPassword) else None
        record("mail.jsonl", {"relay": self.relay, "from": envelope.mail_from, "to": envelope.rcpt_tos,
                              "data": envelope.content.decode("utf-8", "replace"),
                              "tls": session.ssl is not None, "login": login})
        return "250 OK"


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = (isinstance(auth_data, LoginPassword) and auth_data.login.decode() == USER and
          auth_data.password.decode() == PASSWORD)
    record("sessions.jsonl", {"auth": mechanism, "ok": ok, "tls": session.ssl is not None})
    # handled=False: aiosmtpd answers the refusal (535) itself
    return AuthResult(success=ok, handled=False, auth_data=auth_data)


async def main():
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(CERT, KEY)
    loop = asyncio.get_running_loop()
    tls = await loop.create_server(
        lambda: SMTP(Handler("tls"), tls_context=ctx, require_starttls=True, authenticator=authenticator,
                     auth_required=True, auth_require_tls=True), HOST, 0)
    plain = await loop.create_server(lambda: SMTP(Handler("plain")), HOST, 0)
    tmp = os.path.join(DIR, "ports.tmp")
    with open(tmp, "w") as f:
        json.dump({"tls": tls.sockets[0].getsockname()[1], "plain": plain.sockets[0].getsockname()[1]}, f)
    os.rename(tmp, os.path.join(DIR, "ports"))
    await asyncio.Event().wait()


asyncio.run(main())
