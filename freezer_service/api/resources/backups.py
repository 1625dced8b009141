"""``/v2/{project_id}/backups``: what the agents report after each backup."""

from __future__ import annotations

from typing import Any

import falcon

from freezer_service.api import errors, policy
from freezer_service.api.common import Resource, identity, list_search, missing, new_id, ok, paging, required_body
from freezer_service.api.schemas import BACKUP_STATUSES

KIND = "backups"


def _check_status(status: Any) -> None:
    if status not in BACKUP_STATUSES:
        raise errors.bad_data(f"Backup status must be one of {', '.join(BACKUP_STATUSES)}, not {status!r}")


def _new_backup(metadata: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """Validate raw agent metadata; returns (status, metadata without status)."""
    metadata = dict(metadata)
    status = metadata.pop("status", None)
    if status is not None:
        _check_status(status)
    if not isinstance(metadata.get("backup_name"), str) or not metadata["backup_name"]:
        raise errors.bad_data("Missing backup_name in the backup metadata")
    if status in (None, "available", "deleted"):
        for key in ("container", "hostname"):
            if not metadata.get(key):
                raise errors.bad_data(f"Missing {key} in the metadata of a backup with status "
                                      f"{status or 'available'}")
    return status or "available", metadata


class Backups(Resource):
    def on_get(self, req: falcon.Request, resp: falcon.Response, project_id: str) -> None:
        policy.enforce(identity(req), "backups:get_all", project_id)
        limit, offset = paging(req)
        found = self.backend.list(KIND, project_id, list_search(req), limit=limit, offset=offset)
        ok(resp, {"backups": [s.doc for s in found]})

    def on_post(self, req: falcon.Request, resp: falcon.Response, project_id: str) -> None:
        who = identity(req)
        policy.enforce(who, "backups:create", project_id)
        status, metadata = _new_backup(required_body(req))
        backup_id = new_id()
        doc = {"project_id": project_id, "backup_id": backup_id, "user_id": who.user_id,
               "status": status, "backup_metadata": metadata}
        self.backend.create(KIND, project_id, backup_id, doc)
        ok(resp, {"backup_id": backup_id}, 201)


class Backup(Resource):
    def on_get(self, req: falcon.Request, resp: falcon.Response, project_id: str, backup_id: str) -> None:
        policy.enforce(identity(req), "backups:get", project_id)
        stored = self.backend.get(KIND, project_id, backup_id)
        if stored is None:
            return missing(resp)
        ok(resp, stored.doc)

    def on_patch(self, req: falcon.Request, resp: falcon.Response, project_id: str, backup_id: str) -> None:
        who = identity(req)
        policy.enforce(who, "backups:update", project_id)
        body = required_body(req)
        if "status" in body:
            _check_status(body["status"])
        patch_meta = body.get("backup_metadata", {})
        if not isinstance(patch_meta, dict):
            raise errors.bad_data("backup_metadata must be a JSON object")

        def mutate(doc: dict[str, Any]) -> dict[str, Any]:
            doc["backup_metadata"] = {**doc.get("backup_metadata", {}), **patch_meta}
            doc["status"] = body.get("status", doc.get("status"))
            doc["user_id"] = who.user_id
            return doc

        stored = self.backend.update(KIND, project_id, backup_id, mutate)
        if stored is None:
            raise errors.not_found(f"Backup not registered with ID {backup_id}")
        ok(resp, stored.doc)

    def on_delete(self, req: falcon.Request, resp: falcon.Response, project_id: str, backup_id: str) -> None:
        policy.enforce(identity(req), "backups:delete", project_id)
        if not self.backend.delete(KIND, project_id, backup_id):
            raise errors.not_found(f"No backup found with ID {backup_id}")
        resp.status = falcon.HTTP_204
