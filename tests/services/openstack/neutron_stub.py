"""osbed: minimal stand-in for the Neutron API (NOT real Neutron). Nova's server GET always asks Neutron for the
instance's ports/security groups; with servers booted with networks="none" every list is empty.
GET /v2.0/<plural>[...] -> {"<plural>": []}; GET /v2.0/<plural>/<id> -> 404; other methods -> 404."""
import json
import re
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def _send(self, code, body):
        b = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(b)))
        self.end_headers()
        self.wfile.write(b)
    def do_GET(self):
        path = self.path.split("?")[0].rstrip("/")
        if path in ("", "/"):
            return self._send(200, {"versions": [{"id": "v2.0", "status": "CURRENT",
                "links": [{"rel": "self", "href": f"http://{self.headers['Host']}/v2.0/"}]}]})
        m = re.match(r"^/v2\.0/([a-z_-]+?)(?:\.json)?$", path)
        if m:
            return self._send(200, {m.group(1).replace("-", "_"): []})
        return self._send(404, {"NeutronError": {"type": "NotFound", "message": "osbed stub", "detail": ""}})
    def _nf(self):
        n = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(n)
        self._send(404, {"NeutronError": {"type": "NotFound", "message": "osbed stub", "detail": ""}})
    do_POST = do_PUT = do_DELETE = _nf
    def log_message(self, *a):
        sys.stderr.write("neutron-stub %s\n" % (a[0] % a[1:]))

ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
