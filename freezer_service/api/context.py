"""Who is calling: identity headers turned into a request context.

The identity comes from headers set by an authentication middleware in front
of the application: keystonemiddleware (``X-Identity-Status``, ``X-User-Id``,
``X-Project-Id``, ``X-Roles``), or :mod:`freezer_service.api.embedded_auth`,
which sets the same headers from a local token file.  Both strip any identity
header the caller sent, so the headers can be trusted here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import falcon

from freezer_service.api import errors

PUBLIC = ("/", "/v2", "/healthcheck", "/openapi.json")


def is_public(path: str) -> bool:
    return (path.rstrip("/") or "/") in PUBLIC


@dataclass(frozen=True)
class Identity:
    user_id: str
    project_id: str | None
    roles: frozenset[str] = field(default_factory=frozenset)
    auth_token: str | None = None

    @classmethod
    def from_environ(cls, env: dict[str, Any]) -> Identity | None:
        if env.get("HTTP_X_IDENTITY_STATUS", "") != "Confirmed":
            return None
        roles = frozenset(r.strip().lower() for r in env.get("HTTP_X_ROLES", "").split(",") if r.strip())
        project = env.get("HTTP_X_PROJECT_ID") or env.get("HTTP_X_TENANT_ID") or None
        return cls(user_id=env.get("HTTP_X_USER_ID", ""), project_id=project, roles=roles,
                   auth_token=env.get("HTTP_X_AUTH_TOKEN"))


class ContextMiddleware:
    """Falcon middleware: puts the :class:`Identity` in ``req.context.identity`` or answers 401."""

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        req.context.request_id = req.env.get("freezer.request_id", "")
        req.context.identity = Identity.from_environ(req.env)
        if req.context.identity is None and not is_public(req.path):
            raise errors.error(401, "Unauthorized", "The request you have made requires authentication.",
                               headers={"WWW-Authenticate": "Keystone uri=\"\""})
