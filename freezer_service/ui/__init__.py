"""The web UI: static pages served by ``freezer-api`` itself, under ``/ui/``.

The pages are plain HTML, CSS and JavaScript modules (no build step, nothing
fetched from the internet).  They call the same ``/v2/{project_id}/...`` API the
CLI uses, with the user's token in ``X-Auth-Token``; this layer only serves
files and answers two small questions for the login page:

* ``GET /ui/whoami`` (with a token): the token's user, project and roles, found
  by the API's own authentication middleware (embedded tokens or Keystone), so
  the pages know which project to address;
* ``GET /ui/config.json``: which login form to show (a token, or a username
  and password when a password login is configured), and ``POST /ui/login``
  (username/password → token) when it is.

:func:`with_ui` wraps the authenticated application: requests under ``/ui``
are answered here, everything else goes to the API unchanged.
"""

from __future__ import annotations

import json
import mimetypes
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
PasswordLogin = Callable[[str, str, str], str]
"""``(username, password, project) -> token``; raises :class:`LoginError` on refusal."""

PREFIX = "/ui"
STATIC = Path(__file__).with_name("static")
TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
         ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml", ".png": "image/png",
         ".json": "application/json", ".ico": "image/x-icon"}
SECURITY_HEADERS = [
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("X-Frame-Options", "DENY"),
    ("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
                                "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"),
]
IDENTITY = (("user_id", "HTTP_X_USER_ID"), ("user_name", "HTTP_X_USER_NAME"), ("project_id", "HTTP_X_PROJECT_ID"),
            ("project_name", "HTTP_X_PROJECT_NAME"))


class LoginError(Exception):
    """A password login was refused; the message is shown on the login page."""


def _respond(start_response: Callable[..., Any], status: str, body: bytes, content_type: str,
             extra: list[tuple[str, str]] | None = None) -> Iterable[bytes]:
    headers = [("Content-Type", content_type), ("Content-Length", str(len(body))), *SECURITY_HEADERS,
               *(extra or [])]
    start_response(status, headers)
    return [body]


def _json(start_response: Callable[..., Any], status: str, doc: Any) -> Iterable[bytes]:
    return _respond(start_response, status, json.dumps(doc).encode(), "application/json",
                    [("Cache-Control", "no-store")])


def _error(start_response: Callable[..., Any], code: int, title: str, description: str) -> Iterable[bytes]:
    reason = {400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 405: "Method Not Allowed",
              501: "Not Implemented"}[code]
    return _json(start_response, f"{code} {reason}", {"title": title, "description": description})


def static_file(relative: str) -> Path | None:
    """The file under ``static/`` a URL path names, or ``None`` (missing, or outside the directory)."""
    root = STATIC.resolve()
    candidate = (root / relative).resolve()
    if not candidate.is_relative_to(root) or not candidate.is_file():
        return None
    return candidate


def _whoami(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """Reached only through the authentication middleware: the identity it set."""
    if environ.get("HTTP_X_IDENTITY_STATUS") != "Confirmed":
        return _error(start_response, 401, "Unauthorized", "The request you have made requires authentication.")
    doc: dict[str, Any] = {key: environ.get(header) or None for key, header in IDENTITY}
    doc["project_id"] = doc["project_id"] or environ.get("HTTP_X_TENANT_ID") or None
    doc["roles"] = [r.strip() for r in environ.get("HTTP_X_ROLES", "").split(",") if r.strip()]
    return _json(start_response, "200 OK", doc)


def _read_body(environ: dict[str, Any]) -> Any:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    raw = environ["wsgi.input"].read(min(length, 65536)) if length > 0 else b""
    return json.loads(raw or b"{}")


def with_ui(auth: Callable[[WSGIApp], WSGIApp], api: WSGIApp, *,
            password_login: PasswordLogin | None = None) -> WSGIApp:
    """``auth(api)`` with the web UI in front of it under ``/ui``.

    ``password_login`` turns on the username/password form (a Keystone password
    login); without it the pages ask for a token.
    """
    protected = auth(api)
    whoami = auth(_whoami)

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path != PREFIX and not path.startswith(PREFIX + "/"):
            return protected(environ, start_response)
        method = environ.get("REQUEST_METHOD", "GET")
        rest = path[len(PREFIX):].lstrip("/")
        if rest == "whoami":
            return whoami(environ, start_response)
        if rest == "login":
            if method != "POST":
                return _error(start_response, 405, "Method Not Allowed", "Use POST.")
            if password_login is None:
                return _error(start_response, 501, "Password login not available",
                              "This server uses token authentication: paste a token instead.")
            try:
                body = _read_body(environ)
                token = password_login(str(body.get("username", "")), str(body.get("password", "")),
                                       str(body.get("project", "")))
            except (ValueError, AttributeError):
                return _error(start_response, 400, "Bad request format", "Send username, password and project.")
            except LoginError as exc:
                return _error(start_response, 401, "Login refused", str(exc))
            return _json(start_response, "200 OK", {"token": token})
        if method not in ("GET", "HEAD"):
            return _error(start_response, 405, "Method Not Allowed", "The web UI's files are read-only.")
        if rest == "config.json":
            return _json(start_response, "200 OK", {"login": "password" if password_login else "token"})
        if path == PREFIX:
            start_response("301 Moved Permanently", [("Location", PREFIX + "/"), ("Content-Length", "0")])
            return [b""]
        found = static_file(rest or "index.html")
        if found is None:
            return _error(start_response, 404, "Not Found", f"No such page: {path}")
        content_type = TYPES.get(found.suffix) or mimetypes.guess_type(found.name)[0] or "application/octet-stream"
        body = found.read_bytes()
        return _respond(start_response, "200 OK", b"" if method == "HEAD" else body, content_type,
                        [("Cache-Control", "no-cache")])

    return app


def keystone_password_login(auth_url: str, domain: str = "Default", timeout: float = 15,
                            verify: bool | str = True) -> PasswordLogin:
    """A :data:`PasswordLogin` that asks Keystone (v3 password method) for a project-scoped token.

    ``freezer-api`` passes it to :func:`with_ui` when it runs with ``auth_strategy = keystone``; the
    token it returns is then checked by keystonemiddleware like any other.  The password only travels
    to Keystone in this one request: it is neither stored nor logged.  Without a project, the user's
    only project is used (Keystone's ``GET /v3/auth/projects``); a user with several must name one.
    ``verify`` is requests' TLS setting (a CA bundle path, or ``False``).
    """
    import requests

    base = auth_url.rstrip("/")
    v3 = base if base.endswith("/v3") else base + "/v3"

    def post_token(identity: dict[str, Any], scope: dict[str, Any] | None) -> requests.Response:
        body: dict[str, Any] = {"auth": {"identity": identity}}
        if scope is not None:
            body["auth"]["scope"] = scope
        try:
            return requests.post(v3 + "/auth/tokens", json=body, timeout=timeout, verify=verify)
        except requests.RequestException as exc:
            raise LoginError(f"Keystone is not reachable: {exc}") from None

    def token_of(r: requests.Response) -> str:
        if r.status_code == 201 and r.headers.get("X-Subject-Token"):
            return str(r.headers["X-Subject-Token"])
        if r.status_code in (401, 403):
            raise LoginError("Keystone refused these credentials: check the username, password and project.")
        raise LoginError(f"Keystone answered HTTP {r.status_code}.")

    def only_project(unscoped: str) -> dict[str, Any]:
        try:
            r = requests.get(v3 + "/auth/projects", headers={"X-Auth-Token": unscoped}, timeout=timeout,
                             verify=verify)
            r.raise_for_status()
            projects = [p for p in r.json().get("projects", []) if p.get("enabled", True)]
        except (requests.RequestException, ValueError, AttributeError) as exc:
            raise LoginError(f"Could not list your projects in Keystone: {exc}") from None
        if len(projects) == 1:
            return {"project": {"id": projects[0]["id"]}}
        if not projects:
            raise LoginError("You have no role on any project: ask for one, or name a project.")
        names = ", ".join(sorted(str(p.get("name") or p["id"]) for p in projects))
        raise LoginError(f"You are a member of several projects ({names}): enter one in Project.")

    def login(username: str, password: str, project: str) -> str:
        if not username or not password:
            raise LoginError("Enter a username and a password.")
        password_identity = {"methods": ["password"], "password": {"user": {
            "name": username, "domain": {"name": domain}, "password": password}}}
        if project:
            return token_of(post_token(password_identity, {"project": {"name": project, "domain": {"name": domain}}}))
        unscoped = token_of(post_token(password_identity, None))
        scope = only_project(unscoped)
        return token_of(post_token({"methods": ["token"], "token": {"id": unscoped}}, scope))

    return login
