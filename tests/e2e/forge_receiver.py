#!/usr/bin/env python3
"""Loopback receivers for server_notify.sh: an HTTP server that answers as GitHub, GitLab and
Gitea answer their commit-status APIs (201 with the status, 401 with their error body for a
wrong token), as Slack's incoming webhooks and Matrix's send-event API do, plus endpoints that
fail (flaky: three 503s, then as GitHub; deny: always 401; down: always 503; switch: 503 while
a file exists),
and a small SMTP sink. Every request is one JSON line in DIR/http.jsonl (with the time it came),
every mail one JSON line in DIR/mail.jsonl. The ports go to DIR/ports as JSON.

usage: forge_receiver.py DIR"""
import json
import os
import socketserver
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DIR = sys.argv[1]
lock = threading.Lock()
flaky_left = [3]
TOKENS = {"github": ("Authorization", "Bearer ghtok"), "gitea": ("Authorization", "token gttok"),
          "gitlab": ("PRIVATE-TOKEN", "gltok"), "flaky": ("Authorization", "Bearer ghtok"),
          "switch": ("Authorization", "Bearer ghtok")}


def record(name, obj):
    with lock, open(os.path.join(DIR, name), "a") as f:
        f.write(json.dumps(obj) + "\n")


class H(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def answer(self, code, obj):
        data = json.dumps(obj).encode() if not isinstance(obj, str) else obj.encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json" if not isinstance(obj, str) else "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def handle_any(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n).decode("utf-8", "replace")
        record("http.jsonl", {"t": time.time(), "method": self.command, "path": self.path,
                              "headers": {k: v for k, v in self.headers.items()}, "body": body})
        forge = self.path.split("/")[1]
        if forge == "deny":
            return self.answer(401, {"message": "Bad credentials",
                                     "documentation_url": "https://docs.github.com/rest"})
        if forge == "flaky":
            with lock:
                fail = flaky_left[0] > 0
                flaky_left[0] -= 1 if fail else 0
            if fail:
                return self.answer(503, {"message": "Service Unavailable"})
        if forge == "down" or (forge == "switch" and os.path.exists(os.path.join(DIR, "down"))):
            return self.answer(503, {"message": "Service Unavailable"})
        if forge in TOKENS:
            h, want = TOKENS[forge]
            if self.headers.get(h) != want:
                if forge == "gitlab":
                    return self.answer(401, {"message": "401 Unauthorized"})
                return self.answer(401, {"message": "Bad credentials"})
            st = json.loads(body)
            if forge == "gitlab":
                return self.answer(201, {"id": 1, "status": st["state"], "name": st.get("name"),
                                         "target_url": st.get("target_url"), "ref": st.get("ref")})
            return self.answer(201, {"id": 1, "state": st["state"], "context": st.get("context"),
                                     "target_url": st.get("target_url")})
        if forge == "slack":
            return self.answer(200, "ok")
        if forge == "matrix":
            if self.command != "PUT" or self.headers.get("Authorization") != "Bearer mxtok":
                return self.answer(401, {"errcode": "M_UNKNOWN_TOKEN", "error": "Invalid token"})
            return self.answer(200, {"event_id": "$ev%d" % int(time.time() * 1000)})
        if forge == "hook":
            return self.answer(200, {"ok": True})
        return self.answer(404, {"message": "Not Found"})

    do_POST = do_PUT = do_GET = handle_any


class Smtp(socketserver.StreamRequestHandler):
    def handle(self):
        def say(line):
            self.wfile.write((line + "\r\n").encode())
        say("220 sink ESMTP")
        mail = {"from": None, "to": [], "data": ""}
        while True:
            line = self.rfile.readline()
            if not line:
                return
            cmd = line.decode("utf-8", "replace").rstrip("\r\n")
            up = cmd.upper()
            if up.startswith("EHLO"):
                self.wfile.write(b"250-sink\r\n250 8BITMIME\r\n")
            elif up.startswith("HELO"):
                say("250 sink")
            elif up.startswith("MAIL FROM:"):
                mail["from"] = cmd[10:].strip()
                say("250 ok")
            elif up.startswith("RCPT TO:"):
                mail["to"].append(cmd[8:].strip())
                say("250 ok")
            elif up == "DATA":
                say("354 go on")
                lines = []
                while True:
                    l = self.rfile.readline().decode("utf-8", "replace")
                    if l in (".\r\n", ".\n", ""):
                        break
                    lines.append(l[1:] if l.startswith("..") else l)
                mail["data"] = "".join(lines)
                record("mail.jsonl", mail)
                mail = {"from": None, "to": [], "data": ""}
                say("250 queued")
            elif up == "QUIT":
                say("221 bye")
                return
            else:
                say("250 ok")


class TS(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    http = ThreadingHTTPServer(("127.0.0.1", 0), H)
    smtp = TS(("127.0.0.1", 0), Smtp)
    threading.Thread(target=smtp.serve_forever, daemon=True).start()
    tmp = os.path.join(DIR, "ports.tmp")
    with open(tmp, "w") as f:
        json.dump({"http": http.server_address[1], "smtp": smtp.server_address[1]}, f)
    os.rename(tmp, os.path.join(DIR, "ports"))
    http.serve_forever()


main()
