"""``/v2/{project_id}/clients``: the hosts running a scheduler.

A client id is unique in its project.  A *central* client (registered by an
admin or service) is visible to, and can run jobs of, every project.
"""

from __future__ import annotations

from typing import Any

import falcon

from freezer_service.api import errors, policy
from freezer_service.api.common import Resource, identity, list_search, missing, new_id, ok, paging, required_body
from freezer_service.api.schemas import CAPABILITIES, CLIENT, validate
from freezer_service.db.base import Stored

KIND = "clients"


def find_client(backend: Any, project_id: str, client_id: str) -> Stored | None:
    """The client of the project with this id, else a central client with it."""
    return backend.get(KIND, project_id, client_id) or backend.find_central(KIND, client_id)


class Clients(Resource):
    def on_get(self, req: falcon.Request, resp: falcon.Response, project_id: str) -> None:
        policy.enforce(identity(req), "clients:get_all", project_id)
        limit, offset = paging(req)
        found = self.backend.list(KIND, project_id, list_search(req), limit=limit, offset=offset,
                                  include_central=True)
        ok(resp, {"clients": [s.doc for s in found]})

    def on_post(self, req: falcon.Request, resp: falcon.Response, project_id: str) -> None:
        who = identity(req)
        policy.enforce(who, "clients:create", project_id)
        body = required_body(req)
        info = dict(body["client"]) if isinstance(body.get("client"), dict) else dict(body)
        validate(info, CLIENT)
        central = bool(info.get("is_central", False))
        if central:
            policy.enforce(who, "clients:create_central", project_id)
        client_id = info["client_id"]
        owner = self.backend.find_central(KIND, client_id)
        if owner is not None and owner.project_id != project_id:
            raise errors.conflict(f"Client {client_id} is a central client of another project")
        existing = self.backend.get(KIND, project_id, client_id)
        info.setdefault("uuid", existing.doc["client"].get("uuid") if existing else new_id())
        for key, allowed in CAPABILITIES.items():
            info.setdefault(key, list(allowed))
        info["is_central"] = central
        doc = {"project_id": project_id, "user_id": who.user_id, "client": info}
        self.backend.put(KIND, project_id, client_id, doc, is_central=central)
        ok(resp, {"client_id": client_id}, 201)


class Client(Resource):
    def on_get(self, req: falcon.Request, resp: falcon.Response, project_id: str, client_id: str) -> None:
        policy.enforce(identity(req), "clients:get", project_id)
        stored = find_client(self.backend, project_id, client_id)
        if stored is None:
            return missing(resp)
        ok(resp, stored.doc)

    def on_delete(self, req: falcon.Request, resp: falcon.Response, project_id: str, client_id: str) -> None:
        policy.enforce(identity(req), "clients:delete", project_id)
        if self.backend.delete(KIND, project_id, client_id):
            resp.status = falcon.HTTP_204
            return
        if self.backend.find_central(KIND, client_id) is not None:
            raise errors.forbidden()
        raise errors.not_found(f"No client found with ID {client_id}")
