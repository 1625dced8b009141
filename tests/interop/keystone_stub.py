"""A minimal Keystone v3 double for running upstream freezer-agent without OpenStack.

Upstream freezer-agent 19.0.0 authenticates against Keystone and builds compute, block-storage
and image proxies in every job, even for ``--storage local``.  This server answers just enough
of the identity API for that to succeed:

* ``GET /`` and ``GET /v3``: version discovery documents;
* ``POST /v3/auth/tokens``: a token in the ``X-Subject-Token`` header and a token body whose
  catalog is ``catalog`` (empty by default);
* ``GET /v3/auth/tokens``: the same token body (token validation).

Everything else is answered with 404 and recorded in ``requests`` so that a test can see what
the client asked for.  It is a test double, not an identity service: it checks no password.
"""

from __future__ import annotations

import json
import threading
import uuid
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self


def _iso(ts: datetime) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%S.000000Z")


class KeystoneStub:
    """A threaded HTTP server on 127.0.0.1 (ephemeral port) speaking a sliver of Keystone v3."""

    def __init__(self, catalog: list[dict[str, Any]] | None = None) -> None:
        self.catalog: list[dict[str, Any]] = list(catalog or [])
        self.requests: list[tuple[str, str]] = []
        self.token = uuid.uuid4().hex
        self.project_id = uuid.uuid4().hex
        self.user_id = uuid.uuid4().hex
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The server root, e.g. ``http://127.0.0.1:41234``."""
        if self._server is None:
            raise RuntimeError("KeystoneStub is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def auth_url(self) -> str:
        """What to put in ``OS_AUTH_URL``."""
        return f"{self.url}/v3"

    def start(self) -> Self:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def _body(self) -> bytes:
                length = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(length) if length else b""

            def _reply(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
                data = json.dumps(body).encode() if body is not None else b""
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                stub._record("GET", self.path)
                path = self.path.split("?", 1)[0].rstrip("/")
                if path == "":
                    self._reply(300, {"versions": {"values": [stub._v3_version()]}})
                elif path == "/v3":
                    self._reply(200, {"version": stub._v3_version()})
                elif path == "/v3/auth/tokens":
                    self._reply(200, stub._token_body(), {"X-Subject-Token": stub.token})
                else:
                    self._reply(404, {"error": {"code": 404, "message": "not found", "title": "Not Found"}})

            def do_POST(self) -> None:
                stub._record("POST", self.path)
                self._body()
                path = self.path.split("?", 1)[0].rstrip("/")
                if path == "/v3/auth/tokens":
                    self._reply(201, stub._token_body(), {"X-Subject-Token": stub.token})
                else:
                    self._reply(404, {"error": {"code": 404, "message": "not found", "title": "Not Found"}})

            def do_HEAD(self) -> None:
                stub._record("HEAD", self.path)
                self._reply(404, None)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="keystone-stub", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- client configuration --------------------------------------------------------------------

    def os_env(self) -> dict[str, str]:
        """``OS_*`` variables that make keystoneauth (and so upstream freezer) talk to this stub."""
        return {
            "OS_AUTH_URL": self.auth_url,
            "OS_IDENTITY_API_VERSION": "3",
            "OS_USERNAME": "freezer-interop",
            "OS_PASSWORD": "not-a-secret",
            "OS_PROJECT_NAME": "freezer-interop",
            "OS_USER_DOMAIN_NAME": "Default",
            "OS_PROJECT_DOMAIN_NAME": "Default",
            "OS_REGION_NAME": "RegionOne",
        }

    # -- documents -------------------------------------------------------------------------------

    def _record(self, method: str, path: str) -> None:
        with self._lock:
            self.requests.append((method, path))

    def _v3_version(self) -> dict[str, Any]:
        return {
            "id": "v3.14",
            "status": "stable",
            "updated": "2020-04-07T00:00:00Z",
            "links": [{"rel": "self", "href": f"{self.url}/v3/"}],
            "media-types": [
                {"base": "application/json", "type": "application/vnd.openstack.identity-v3+json"}
            ],
        }

    def _token_body(self) -> dict[str, Any]:
        now = datetime.now(UTC)
        return {
            "token": {
                "methods": ["password"],
                "user": {
                    "id": self.user_id,
                    "name": "freezer-interop",
                    "domain": {"id": "default", "name": "Default"},
                },
                "project": {
                    "id": self.project_id,
                    "name": "freezer-interop",
                    "domain": {"id": "default", "name": "Default"},
                },
                "roles": [{"id": uuid.uuid4().hex, "name": "member"}],
                "issued_at": _iso(now),
                "expires_at": _iso(now + timedelta(hours=1)),
                "catalog": self.catalog,
            }
        }
