"""The OpenAPI 3 document of the v2 API, built from the same schemas the server validates with."""

from __future__ import annotations

from typing import Any

import falcon

from freezer_service.api import schemas

_ERROR = {"type": "object", "properties": {"title": {"type": "string"}, "description": {"type": "string"}}}
_ANY = {"type": "object", "additionalProperties": True}
_SEARCH = {"type": "object", "properties": {
    "match": {"type": "array", "items": {"type": "object"}},
    "match_not": {"type": "array", "items": {"type": "object"}}}}
_PAGING = [{"name": n, "in": "query", "required": False, "schema": {"type": "integer", "minimum": 0}}
           for n in ("limit", "offset")]

_BODIES: dict[str, dict[str, Any]] = {
    "backups": {"type": "object", "required": ["backup_name"], "properties": {
        "backup_name": {"type": "string"}, "container": {"type": "string"}, "hostname": {"type": "string"},
        "time_stamp": {"type": "integer"}, "status": {"enum": schemas.BACKUP_STATUSES}}},
    "clients": schemas.CLIENT,
    "actions": {"type": "object", "required": ["freezer_action"],
                "properties": {k: v for k, v in schemas.ACTION["properties"].items()
                               if k not in ("action_id", "user_id")}},
    "jobs": {"type": "object", "required": ["client_id", "job_actions"],
             "properties": {k: v for k, v in schemas.JOB["properties"].items() if k != "user_id"}},
    "sessions": {"type": "object", "properties": {k: v for k, v in schemas.SESSION["properties"].items()
                                                  if k not in ("session_id", "user_id")}},
}
_ID = {"backups": "backup_id", "clients": "client_id", "actions": "action_id", "jobs": "job_id",
       "sessions": "session_id"}


def _op(summary: str, ok: str, body: dict[str, Any] | None = None, params: list[Any] | None = None,
        errors: tuple[str, ...] = ("400", "401", "403", "404")) -> dict[str, Any]:
    op: dict[str, Any] = {"summary": summary, "responses": {ok: {"description": "success",
                                                                  "content": {"application/json": {"schema": _ANY}}}}}
    for code in errors:
        op["responses"][code] = {"description": "error", "content": {"application/json": {"schema": _ERROR}}}
    if body is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    if params:
        op["parameters"] = params
    return op


def _path_param(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}


def build() -> dict[str, Any]:
    paths: dict[str, Any] = {
        "/": {"get": {"summary": "API versions", "security": [], "responses": {"300": {"description": "versions"}}}},
        "/v2": {"get": {"summary": "JSON home", "security": [], "responses": {"200": {"description": "json-home"}}}},
        "/healthcheck": {"get": {"summary": "Health", "security": [], "responses": {"200": {"description": "OK"}}}},
    }
    project = _path_param("project_id")
    for kind, id_name in _ID.items():
        base = f"/v2/{{project_id}}/{kind}"
        item = f"{base}/{{{id_name}}}"
        paths[base] = {"parameters": [project],
                       "get": _op(f"List {kind}", "200", params=_PAGING),
                       "post": _op(f"Create a {kind[:-1]}", "201", _BODIES[kind],
                                   errors=("400", "401", "403", "409", "422"))}
        item_ops: dict[str, Any] = {"parameters": [project, _path_param(id_name)],
                                    "get": _op(f"Show a {kind[:-1]}", "200"),
                                    "delete": _op(f"Delete a {kind[:-1]}", "204")}
        if kind != "clients":
            item_ops["patch"] = _op(f"Update a {kind[:-1]}", "200", _ANY)
        if kind in ("actions", "jobs", "sessions"):
            item_ops["post"] = _op(f"Create or replace a {kind[:-1]}", "201", _BODIES[kind])
        paths[item] = item_ops
    paths["/v2/{project_id}/jobs/{job_id}/event"] = {
        "parameters": [project, _path_param("job_id")],
        "post": _op("Request start, stop or abort", "202", {"type": "object", "minProperties": 1,
                                                            "maxProperties": 1})}
    paths["/v2/{project_id}/sessions/{session_id}/action"] = {
        "parameters": [project, _path_param("session_id")],
        "post": _op("A job starts or ends in the session", "202", _ANY,
                    errors=("400", "401", "403", "404", "405", "409"))}
    paths["/v2/{project_id}/sessions/{session_id}/jobs/{job_id}"] = {
        "parameters": [project, _path_param("session_id"), _path_param("job_id")],
        "put": _op("Add a job to the session", "204"), "delete": _op("Remove a job from the session", "204")}
    return {"openapi": "3.0.3",
            "info": {"title": "Freezer API", "version": "2",
                     "description": "Backup metadata, jobs and sessions (OpenStack Freezer v2 wire format). "
                                    "List requests accept a search body: " + str(_SEARCH)},
            "components": {"securitySchemes": {"token": {"type": "apiKey", "in": "header",
                                                         "name": "X-Auth-Token"}}},
            "security": [{"token": []}],
            "paths": paths}


class OpenAPI:
    def __init__(self) -> None:
        self.doc = build()

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = self.doc
