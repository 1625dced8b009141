"""``/v2/{project_id}/actions``: reusable agent actions (``freezer_action`` plus retry policy)."""

from __future__ import annotations

from typing import Any

import falcon

from freezer_service.api import errors, policy
from freezer_service.api.common import (
    Resource,
    dashless,
    identity,
    list_search,
    missing,
    new_id,
    ok,
    paging,
    required_body,
)
from freezer_service.api.schemas import ACTION, validate

KIND = "actions"
DEFAULTS = {"max_retries": 5, "max_retries_interval": 6}


def make_action(body: dict[str, Any], action_id: str, project_id: str, user_id: str) -> dict[str, Any]:
    """A complete action document from a request body (defaults filled, option names normalised)."""
    doc = {**DEFAULTS, **body, "action_id": action_id, "project_id": project_id, "user_id": user_id}
    if "freezer_action" not in body:
        raise errors.bad_request("'freezer_action' is a required property")
    doc["freezer_action"] = dashless(body["freezer_action"])
    validate(doc, ACTION)
    return doc


def _given_id(body: dict[str, Any]) -> str | None:
    value = body.get("action_id")
    return value if isinstance(value, str) and value else None


class Actions(Resource):
    def on_get(self, req: falcon.Request, resp: falcon.Response, project_id: str) -> None:
        policy.enforce(identity(req), "actions:get_all", project_id)
        limit, offset = paging(req)
        found = self.backend.list(KIND, project_id, list_search(req), limit=limit, offset=offset)
        ok(resp, {"actions": [s.doc for s in found]})

    def on_post(self, req: falcon.Request, resp: falcon.Response, project_id: str) -> None:
        who = identity(req)
        policy.enforce(who, "actions:create", project_id)
        body = required_body(req)
        action_id = _given_id(body) or new_id()
        self.backend.create(KIND, project_id, action_id, make_action(body, action_id, project_id, who.user_id))
        ok(resp, {"action_id": action_id}, 201)


class Action(Resource):
    def on_get(self, req: falcon.Request, resp: falcon.Response, project_id: str, action_id: str) -> None:
        policy.enforce(identity(req), "actions:get", project_id)
        stored = self.backend.get(KIND, project_id, action_id)
        if stored is None:
            return missing(resp)
        ok(resp, stored.doc)

    def on_patch(self, req: falcon.Request, resp: falcon.Response, project_id: str, action_id: str) -> None:
        who = identity(req)
        policy.enforce(who, "actions:update", project_id)
        body = required_body(req)

        def mutate(doc: dict[str, Any]) -> dict[str, Any]:
            merged = {**doc, **body}
            return make_action(merged, action_id, project_id, who.user_id)

        stored = self.backend.update(KIND, project_id, action_id, mutate)
        if stored is None:
            raise errors.not_found(f"Action not found with ID {action_id}")
        ok(resp, {"action_id": action_id, "version": stored.version})

    def on_post(self, req: falcon.Request, resp: falcon.Response, project_id: str, action_id: str) -> None:
        who = identity(req)
        policy.enforce(who, "actions:create", project_id)
        doc = make_action(required_body(req), action_id, project_id, who.user_id)
        stored = self.backend.put(KIND, project_id, action_id, doc)
        ok(resp, {"action_id": action_id, "version": stored.version}, 201)

    def on_delete(self, req: falcon.Request, resp: falcon.Response, project_id: str, action_id: str) -> None:
        policy.enforce(identity(req), "actions:delete", project_id)
        if not self.backend.delete(KIND, project_id, action_id):
            raise errors.not_found(f"No action found with ID {action_id}")
        resp.status = falcon.HTTP_204
