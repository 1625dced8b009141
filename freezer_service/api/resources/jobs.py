"""``/v2/{project_id}/jobs``: ordered actions for one client, with a schedule, and their events.

Creating a job also creates (or checks) the actions it lists, so they show in
``action-list``; the job keeps a copy of each action, which is what the
scheduler runs.  Everything is validated *before* anything is written.
"""

from __future__ import annotations

from typing import Any

import falcon

from freezer_service.api import errors, policy
from freezer_service.api.common import (
    Resource,
    clean_schedule,
    dashless,
    identity,
    list_search,
    missing,
    new_id,
    now,
    ok,
    paging,
    read_json,
    required_body,
)
from freezer_service.api.resources.actions import make_action
from freezer_service.api.resources.clients import find_client
from freezer_service.api.schemas import JOB, validate
from freezer_service.db.base import Backend

KIND = "jobs"
EVENTS = ("start", "stop", "abort")
ALIASES = {"job-action": "job_actions", "job_action": "job_actions", "job-actions": "job_actions",
           "job-schedule": "job_schedule", "client-id": "client_id", "action-defaults": "action_defaults"}
_CAPABILITY_OF = {"action": "supported_actions", "mode": "supported_modes", "storage": "supported_storages",
                  "engine_name": "supported_engines"}
_NOT_PATCHABLE = ("user_id", "job_id", "user_credentials", "project_id", "_version")


def _normalise(body: dict[str, Any]) -> dict[str, Any]:
    doc = {ALIASES.get(k, k): v for k, v in body.items()}
    if "job_schedule" in doc:
        doc["job_schedule"] = clean_schedule(doc["job_schedule"] if doc["job_schedule"] is not None else {})
    return doc


class JobBuilder:
    """Turns a request body into a valid job document plus the actions to create."""

    def __init__(self, backend: Backend, project_id: str, user_id: str) -> None:
        self.backend, self.project_id, self.user_id = backend, project_id, user_id
        self.new_actions: list[dict[str, Any]] = []

    def resolve_actions(self, doc: dict[str, Any]) -> None:
        defaults = doc.get("action_defaults", {})
        if not isinstance(defaults, dict):
            raise errors.bad_request("action_defaults must be a JSON object")
        entries = doc.get("job_actions")
        if not isinstance(entries, list):
            return  # the schema check reports it
        resolved = []
        for entry in entries:
            if not isinstance(entry, dict):
                raise errors.bad_request("Each entry of job_actions must be a JSON object")
            resolved.append(self._resolve(dict(entry), dashless(defaults)))
        doc["job_actions"] = resolved

    def _resolve(self, entry: dict[str, Any], defaults: dict[str, Any]) -> dict[str, Any]:
        given = entry.get("freezer_action")
        if isinstance(given, dict):
            entry["freezer_action"] = {**defaults, **dashless(given)}
        action_id = entry.get("action_id")
        if action_id:
            stored = self.backend.get("actions", self.project_id, str(action_id))
            if stored is None:
                raise errors.unprocessable(f"Action not found with ID {action_id}")
            if isinstance(given, dict) and entry["freezer_action"] != stored.doc.get("freezer_action"):
                raise errors.unprocessable(f"Action {action_id} differs from the stored action with this ID")
            return {**stored.doc, **entry, "freezer_action": stored.doc.get("freezer_action")}
        if not isinstance(given, dict):
            raise errors.bad_request("'freezer_action' is a required property")
        action = make_action(entry, new_id(), self.project_id, self.user_id)
        self.new_actions.append(action)
        return action

    def check_client(self, doc: dict[str, Any]) -> None:
        client = find_client(self.backend, self.project_id, doc["client_id"])
        if client is None:
            raise errors.unprocessable(f"Client not found with ID {doc['client_id']}")
        info = client.doc.get("client", {})
        for entry in doc["job_actions"]:
            for key, capability in _CAPABILITY_OF.items():
                value = entry["freezer_action"].get(key)
                supported = info.get(capability)
                if value is not None and isinstance(supported, list) and value not in supported:
                    raise errors.unprocessable(f"Client {doc['client_id']} does not support {key}: {value}")

    def finish(self, doc: dict[str, Any]) -> dict[str, Any]:
        validate(doc, JOB)
        self.check_client(doc)
        for action in self.new_actions:
            self.backend.create("actions", self.project_id, action["action_id"], action)
        self.new_actions = []
        return doc

    def build(self, body: dict[str, Any], job_id: str | None = None) -> dict[str, Any]:
        doc = _normalise(body)
        doc.pop("user_credentials", None)
        doc["job_id"] = job_id or (doc.get("job_id") if isinstance(doc.get("job_id"), str) and doc.get("job_id")
                                   else new_id())
        doc.update(user_id=self.user_id, project_id=self.project_id)
        doc.setdefault("session_id", "")
        doc.setdefault("session_tag", 0)
        doc.setdefault("job_schedule", {})
        if isinstance(doc["job_schedule"], dict):
            doc["job_schedule"].update(time_created=now(), time_started=-1, time_ended=-1)
        self.resolve_actions(doc)
        return doc


def _versioned(stored: Any) -> dict[str, Any]:
    """The job as served: its document plus ``_version``, for conditional updates (``If-Match``)."""
    return {**stored.doc, "_version": stored.version}


def _if_match(req: falcon.Request) -> int | None:
    """The version an ``If-Match: "<version>"`` header asks for, or None."""
    raw = req.get_header("If-Match")
    if raw is None or raw.strip() == "*":
        return None
    try:
        return int(raw.strip().removeprefix("W/").strip('"'))
    except ValueError:
        message = f"If-Match must be a job version such as \"3\", not {raw!r}"
        raise errors.error(400, "Bad Request", message) from None


def _visible(backend: Backend, who: Any, project_id: str, docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Hide ``current_pid`` of jobs running on another project's (central) client from non-admins."""
    if policy.can(who, "jobs:get_all_projects", project_id):
        return docs
    own: dict[str, bool] = {}
    out = []
    for doc in docs:
        cid = str(doc.get("client_id", ""))
        if cid not in own:
            own[cid] = backend.get("clients", project_id, cid) is not None
        if not own[cid] and "current_pid" in doc.get("job_schedule", {}):
            doc = {**doc, "job_schedule": {k: v for k, v in doc["job_schedule"].items() if k != "current_pid"}}
        out.append(doc)
    return out


class Jobs(Resource):
    def on_get(self, req: falcon.Request, resp: falcon.Response, project_id: str) -> None:
        who = identity(req)
        policy.enforce(who, "jobs:get_all", project_id)
        limit, offset = paging(req)
        everywhere = policy.can(who, "jobs:get_all_projects", project_id) and \
            req.get_param_as_bool("all_projects", default=True)
        found = self.backend.list(KIND, None if everywhere else project_id, list_search(req),
                                  limit=limit, offset=offset)
        ok(resp, {"jobs": _visible(self.backend, who, project_id, [_versioned(s) for s in found])})

    def on_post(self, req: falcon.Request, resp: falcon.Response, project_id: str) -> None:
        who = identity(req)
        policy.enforce(who, "jobs:create", project_id)
        builder = JobBuilder(self.backend, project_id, who.user_id)
        doc = builder.build(required_body(req))
        if self.backend.get(KIND, project_id, doc["job_id"]) is not None:
            raise errors.conflict(f"Job {doc['job_id']} already exists")
        doc = builder.finish(doc)
        self.backend.create(KIND, project_id, doc["job_id"], doc)
        ok(resp, {"job_id": doc["job_id"]}, 201)


class Job(Resource):
    def _get(self, req: falcon.Request, project_id: str, job_id: str) -> Any:
        who = identity(req)
        policy.enforce(who, "jobs:get", project_id)
        stored = self.backend.get(KIND, project_id, job_id)
        if stored is None and policy.can(who, "jobs:get_all_projects", project_id):
            stored = self.backend.get(KIND, None, job_id)
        return stored

    def on_get(self, req: falcon.Request, resp: falcon.Response, project_id: str, job_id: str) -> None:
        stored = self._get(req, project_id, job_id)
        if stored is None:
            return missing(resp)
        ok(resp, _visible(self.backend, identity(req), project_id, [_versioned(stored)])[0])

    def on_patch(self, req: falcon.Request, resp: falcon.Response, project_id: str, job_id: str) -> None:
        who = identity(req)
        policy.enforce(who, "jobs:update", project_id)
        patch = {k: v for k, v in _normalise(required_body(req)).items() if k not in _NOT_PATCHABLE}
        builder = JobBuilder(self.backend, project_id, who.user_id)

        def mutate(doc: dict[str, Any]) -> dict[str, Any]:
            builder.new_actions = []
            doc = {**doc, **patch, "user_id": who.user_id}
            if "job_actions" in patch or "action_defaults" in patch:
                builder.resolve_actions(doc)
            validate(doc, JOB)
            builder.check_client(doc)
            return doc

        expected = _if_match(req)
        stored = (self.backend.update(KIND, project_id, job_id, mutate) if expected is None
                  else self.backend.update(KIND, project_id, job_id, mutate, expected_version=expected))
        if stored is None:
            raise errors.not_found(f"Job not found with ID {job_id}")
        for action in builder.new_actions:
            self.backend.create("actions", project_id, action["action_id"], action)
        ok(resp, {"job_id": job_id, "version": stored.version})

    def on_post(self, req: falcon.Request, resp: falcon.Response, project_id: str, job_id: str) -> None:
        who = identity(req)
        policy.enforce(who, "jobs:create", project_id)
        builder = JobBuilder(self.backend, project_id, who.user_id)
        doc = builder.finish(builder.build(required_body(req), job_id=job_id))
        stored = self.backend.put(KIND, project_id, job_id, doc)
        ok(resp, {"job_id": job_id, "version": stored.version}, 201)

    def on_delete(self, req: falcon.Request, resp: falcon.Response, project_id: str, job_id: str) -> None:
        policy.enforce(identity(req), "jobs:delete", project_id)
        if not self.backend.delete(KIND, project_id, job_id):
            raise errors.not_found(f"No job found with ID {job_id}")
        resp.status = falcon.HTTP_204


class JobEvent(Resource):
    def on_post(self, req: falcon.Request, resp: falcon.Response, project_id: str, job_id: str) -> None:
        policy.enforce(identity(req), "jobs:event:create", project_id)
        body = read_json(req)
        if not isinstance(body, dict) or len(body) != 1:
            raise errors.error(400, "Bad request format", "Bad event request format")
        event = next(iter(body))
        if event not in EVENTS:
            raise errors.error(400, "Bad request format", f"Bad Action Method: {event}")
        outcome: dict[str, str] = {}

        def mutate(doc: dict[str, Any]) -> dict[str, Any]:
            schedule = dict(doc.get("job_schedule") or {})
            if schedule.get("event") == event:
                outcome["result"] = f"{event} already requested"
                return doc
            schedule["event"] = event
            if event == "start":
                schedule.update(status="", result="")
            outcome["result"] = "success"
            return {**doc, "job_schedule": schedule}

        if self.backend.update(KIND, project_id, job_id, mutate) is None:
            raise errors.not_found(f"Job not found with ID {job_id}")
        ok(resp, {"result": outcome["result"]}, 202)
