"""Embedded authentication for one machine: tokens listed in a local file.

WSGI middleware in the place keystonemiddleware takes in a cloud: it maps the
``X-Auth-Token`` of a request to a user, a project and roles, and sets the
same identity headers keystonemiddleware sets.  The file (INI) has one
section per user::

    [user:alice]
    token = 9c1d...            ; or token_sha256 = <hex digest of the token>
    project_id = p1
    roles = member

Tokens are compared by SHA-256 digest, so the file may hold digests only, and
a token never appears in a log.
"""

from __future__ import annotations

import configparser
import hashlib
import hmac
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from freezer_core.errors import ConfigError
from freezer_service.api.context import is_public

IDENTITY_HEADERS = ("HTTP_X_IDENTITY_STATUS", "HTTP_X_USER_ID", "HTTP_X_USER", "HTTP_X_PROJECT_ID",
                    "HTTP_X_TENANT_ID", "HTTP_X_TENANT", "HTTP_X_ROLES", "HTTP_X_PROJECT_NAME",
                    "HTTP_X_SERVICE_ROLES", "HTTP_X_IS_ADMIN_PROJECT")


@dataclass(frozen=True)
class TokenEntry:
    user_id: str
    project_id: str
    roles: tuple[str, ...]


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def load_tokens(path: str | Path) -> dict[str, TokenEntry]:
    """The token file as ``{sha256(token): TokenEntry}``."""
    parser = configparser.ConfigParser(interpolation=None)
    try:
        with open(path, encoding="utf-8") as fh:
            parser.read_file(fh)
    except (OSError, configparser.Error) as exc:
        raise ConfigError(f"cannot read the token file {path}: {exc}") from exc
    tokens: dict[str, TokenEntry] = {}
    for section in parser.sections():
        if not section.startswith("user:"):
            continue
        entry = parser[section]
        key = entry.get("token_sha256") or (digest(entry["token"]) if entry.get("token") else None)
        if not key or not entry.get("project_id"):
            raise ConfigError(f"[{section}] in {path} needs 'token' (or 'token_sha256') and 'project_id'")
        roles = tuple(r.strip() for r in entry.get("roles", "member").split(",") if r.strip())
        tokens[key.lower()] = TokenEntry(section[len("user:"):], entry["project_id"], roles)
    return tokens


class EmbeddedAuth:
    """WSGI middleware: 401 without a known token, identity headers with one."""

    def __init__(self, app: Callable[..., Iterable[bytes]], tokens: dict[str, TokenEntry]) -> None:
        self.app = app
        self.tokens = tokens

    def _lookup(self, token: str) -> TokenEntry | None:
        wanted = digest(token)
        for key, entry in self.tokens.items():
            if hmac.compare_digest(key, wanted):
                return entry
        return None

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        for header in IDENTITY_HEADERS:
            environ.pop(header, None)
        token = environ.get("HTTP_X_AUTH_TOKEN", "")
        entry = self._lookup(token) if token else None
        if entry is None:
            if is_public(environ.get("PATH_INFO", "")):
                return self.app(environ, start_response)
            body = json.dumps({"error": {"code": 401, "title": "Unauthorized",
                                         "message": "The request you have made requires authentication."}})
            start_response("401 Unauthorized", [("Content-Type", "application/json"),
                                                ("WWW-Authenticate", "Keystone uri=\"embedded\""),
                                                ("Content-Length", str(len(body)))])
            return [body.encode()]
        environ.update(HTTP_X_IDENTITY_STATUS="Confirmed", HTTP_X_USER_ID=entry.user_id,
                       HTTP_X_PROJECT_ID=entry.project_id, HTTP_X_ROLES=",".join(entry.roles))
        return self.app(environ, start_response)
