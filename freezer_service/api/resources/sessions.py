"""``/v2/{project_id}/sessions``: jobs on several nodes that start together.

The start/end rounds are in :mod:`freezer_service.api.session_protocol`
(see docs/scheduler.md): a job asks to start with the tag it knows; the
first job of a round moves the session to the next tag, the others join
within ``hold_off`` seconds.
"""

from __future__ import annotations

from typing import Any

import falcon

from freezer_service.api import errors, policy
from freezer_service.api.common import (
    Resource,
    clean_schedule,
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
from freezer_service.api.schemas import SESSION, validate
from freezer_service.api.session_protocol import NOT_STARTED, SessionError, end, settle, start

KIND = "sessions"
DEFAULTS: dict[str, Any] = {"session_tag": 0, "hold_off": 30, "description": "", "result": None,
                            "time_start": -1, "time_end": -1, "time_started": -1, "time_ended": -1}


def make_session(body: dict[str, Any], session_id: str, project_id: str, user_id: str) -> dict[str, Any]:
    doc = {**DEFAULTS, **body, "session_id": session_id, "project_id": project_id, "user_id": user_id}
    doc["schedule"] = clean_schedule(doc.get("schedule") or {})
    doc.setdefault("status", "active")
    if isinstance(doc.get("jobs"), list) or not doc.get("jobs"):
        doc.pop("jobs", None)
    validate(doc, SESSION)
    return doc


def _refused(exc: SessionError) -> falcon.HTTPError:
    if exc.status == 409:
        return errors.error(409, "Conflict", str(exc))
    return errors.bad_request(str(exc))


class Sessions(Resource):
    def on_get(self, req: falcon.Request, resp: falcon.Response, project_id: str) -> None:
        policy.enforce(identity(req), "sessions:get_all", project_id)
        limit, offset = paging(req)
        found = self.backend.list(KIND, project_id, list_search(req), limit=limit, offset=offset)
        ok(resp, {"sessions": [s.doc for s in found]})

    def on_post(self, req: falcon.Request, resp: falcon.Response, project_id: str) -> None:
        who = identity(req)
        policy.enforce(who, "sessions:create", project_id)
        body = {k: v for k, v in required_body(req).items() if k not in ("session_id", "status", "jobs")}
        session_id = new_id()
        self.backend.create(KIND, project_id, session_id, make_session(body, session_id, project_id, who.user_id))
        ok(resp, {"session_id": session_id}, 201)


class Session(Resource):
    def on_get(self, req: falcon.Request, resp: falcon.Response, project_id: str, session_id: str) -> None:
        policy.enforce(identity(req), "sessions:get", project_id)
        stored = self.backend.get(KIND, project_id, session_id)
        if stored is None:
            return missing(resp)
        ok(resp, stored.doc)

    def on_patch(self, req: falcon.Request, resp: falcon.Response, project_id: str, session_id: str) -> None:
        who = identity(req)
        policy.enforce(who, "sessions:update", project_id)
        body = {k: v for k, v in required_body(req).items() if k not in ("session_id", "project_id")}
        if "jobs" in body and not isinstance(body["jobs"], dict):
            raise errors.bad_request("jobs must be a JSON object keyed by job id")

        def mutate(doc: dict[str, Any]) -> dict[str, Any]:
            jobs = {**(doc.get("jobs") or {}), **body.get("jobs", {})}
            merged = {**doc, **body, "user_id": who.user_id}
            if jobs:
                merged["jobs"] = jobs
            return make_session(merged, session_id, project_id, who.user_id)

        stored = self.backend.update(KIND, project_id, session_id, mutate)
        if stored is None:
            raise errors.not_found(f"Session not register with ID {session_id}")
        ok(resp, {"session_id": session_id, "version": stored.version})

    def on_post(self, req: falcon.Request, resp: falcon.Response, project_id: str, session_id: str) -> None:
        who = identity(req)
        policy.enforce(who, "sessions:create", project_id)
        doc = make_session(required_body(req), session_id, project_id, who.user_id)
        stored = self.backend.put(KIND, project_id, session_id, doc)
        ok(resp, {"session_id": session_id, "version": stored.version}, 201)

    def on_delete(self, req: falcon.Request, resp: falcon.Response, project_id: str, session_id: str) -> None:
        policy.enforce(identity(req), "sessions:delete", project_id)
        if not self.backend.delete(KIND, project_id, session_id):
            raise errors.not_found(f"No session found with ID {session_id}")
        resp.status = falcon.HTTP_204


class SessionAction(Resource):
    def on_post(self, req: falcon.Request, resp: falcon.Response, project_id: str, session_id: str) -> None:
        policy.enforce(identity(req), "sessions:action:create", project_id)
        body = read_json(req)
        if not isinstance(body, dict) or len(body) != 1:
            raise errors.bad_request("Bad action request format: expected {\"start\": {...}} or {\"end\": {...}}")
        verb, args = next(iter(body.items()))
        if verb not in ("start", "end"):
            raise errors.bad_method(f"Bad Action Method: {verb}")
        if not isinstance(args, dict):
            raise errors.bad_request(f"The {verb} request must be a JSON object")
        outcome: dict[str, Any] = {}

        def mutate(doc: dict[str, Any]) -> dict[str, Any]:
            try:
                if verb == "start":
                    outcome["result"] = start(doc, args.get("job_id"), args.get("current_tag"), now())
                else:
                    outcome["result"] = end(doc, args.get("job_id"), args.get("current_tag"), args.get("result"),
                                            now())
            except SessionError as exc:
                raise _refused(exc) from None
            outcome["session_tag"] = doc.get("session_tag", 0)
            return doc

        if self.backend.update(KIND, project_id, session_id, mutate) is None:
            raise errors.not_found(f"Session not register with ID {session_id}")
        ok(resp, outcome, 202)


class SessionJob(Resource):
    def on_put(self, req: falcon.Request, resp: falcon.Response, project_id: str, session_id: str,
               job_id: str) -> None:
        policy.enforce(identity(req), "sessions:job:add", project_id)
        session = self.backend.get(KIND, project_id, session_id)
        if session is None:
            raise errors.not_found(f"Session not register with ID {session_id}")
        job = self.backend.get("jobs", project_id, job_id)
        if job is None:
            raise errors.not_found(f"Job not found with ID {job_id}")
        entry = {"client_id": job.doc.get("client_id", ""), **NOT_STARTED}  # its part in a round is yet to come

        def add(doc: dict[str, Any]) -> dict[str, Any]:
            doc["jobs"] = {**(doc.get("jobs") or {}), job_id: entry}
            return doc

        session = self.backend.update(KIND, project_id, session_id, add)
        if session is None:
            raise errors.not_found(f"Session not register with ID {session_id}")
        tag, sched = session.doc.get("session_tag", 0), dict(session.doc.get("schedule") or {})
        self.backend.update("jobs", project_id, job_id,
                            lambda d: {**d, "session_id": session_id, "session_tag": tag, "job_schedule": sched})
        resp.status = falcon.HTTP_204

    def on_delete(self, req: falcon.Request, resp: falcon.Response, project_id: str, session_id: str,
                  job_id: str) -> None:
        policy.enforce(identity(req), "sessions:job:remove", project_id)
        removed: list[bool] = []

        def remove(doc: dict[str, Any]) -> dict[str, Any]:
            jobs = dict(doc.get("jobs") or {})
            removed[:] = [jobs.pop(job_id, None) is not None]
            doc["jobs"] = jobs
            settle(doc, now())  # the jobs left may all have ended the round
            return doc

        if self.backend.update(KIND, project_id, session_id, remove) is None:
            raise errors.not_found(f"Session not register with ID {session_id}")

        def detach(doc: dict[str, Any]) -> dict[str, Any]:
            if doc.get("session_id") != session_id:
                return doc
            return {**doc, "session_id": "", "session_tag": 0, "job_schedule": {"event": "stop"}}

        job = self.backend.update("jobs", project_id, job_id, detach)
        if not removed[0] and (job is None or job.doc.get("session_id") != ""):
            raise errors.not_found(f"Job {job_id} is not in session {session_id}")
        resp.status = falcon.HTTP_204
