#!/usr/bin/env python3
"""A loopback HTTP server for e2e tests: serves DIR on 127.0.0.1 at a free port, written
to PORT_FILE once it listens. A file NAME.redirect answers GET /NAME with a 302 to the URL
it holds (for following redirects hop by hop). Usage: http_dir.py DIR PORT_FILE"""
import functools
import http.server
import os
import sys


class Handler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        target = os.path.join(self.directory, self.path.lstrip("/").split("?")[0] + ".redirect")
        if os.path.isfile(target):
            with open(target) as f:
                location = f.read().strip()
            self.send_response(302)
            self.send_header("Location", location)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        super().do_GET()


srv = http.server.ThreadingHTTPServer(
    ("127.0.0.1", 0), functools.partial(Handler, directory=sys.argv[1]))
with open(sys.argv[2] + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
os.rename(sys.argv[2] + ".tmp", sys.argv[2])
srv.serve_forever()
