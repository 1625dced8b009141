"""The WSGI application: routes, error handling, request ids, and the auth middleware in front."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any

import falcon

from freezer_core.errors import FreezerError
from freezer_service.api import context, errors, openapi, versions
from freezer_service.api.resources import actions, backups, clients, jobs, sessions
from freezer_service.db.base import Backend

LOG = logging.getLogger("freezer_service.api.requests")
WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def build_falcon(backend: Backend) -> falcon.App:
    app = falcon.App(middleware=[context.ContextMiddleware()])
    app.req_options.strip_url_path_trailing_slash = True
    app.req_options.auto_parse_form_urlencoded = False
    app.set_error_serializer(errors.serialize_error)
    app.add_error_handler(Exception, errors.handle_unexpected)
    app.add_error_handler(FreezerError, errors.handle_freezer_error)
    app.add_route("/", versions.Versions())
    app.add_route("/v2", versions.JsonHome())
    app.add_route("/healthcheck", versions.Healthcheck())
    app.add_route("/openapi.json", openapi.OpenAPI())
    p = "/v2/{project_id}"
    for path, resource in (
        ("/backups", backups.Backups), ("/backups/{backup_id}", backups.Backup),
        ("/clients", clients.Clients), ("/clients/{client_id}", clients.Client),
        ("/actions", actions.Actions), ("/actions/{action_id}", actions.Action),
        ("/jobs", jobs.Jobs), ("/jobs/{job_id}", jobs.Job), ("/jobs/{job_id}/event", jobs.JobEvent),
        ("/sessions", sessions.Sessions), ("/sessions/{session_id}", sessions.Session),
        ("/sessions/{session_id}/action", sessions.SessionAction),
        ("/sessions/{session_id}/jobs/{job_id}", sessions.SessionJob),
    ):
        app.add_route(p + path, resource(backend))
    return app


class RequestLog:
    """Outermost WSGI layer: a request id per request, in the response and in one log line."""

    def __init__(self, app: WSGIApp) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request_id = f"req-{uuid.uuid4()}"
        environ["freezer.request_id"] = request_id
        started = time.monotonic()
        seen: dict[str, str] = {}

        def _start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            seen["status"] = status.split(" ", 1)[0]
            headers = [h for h in headers if h[0].lower() != "x-openstack-request-id"]
            headers.append(("x-openstack-request-id", request_id))
            return start_response(status, headers, exc_info)

        try:
            return self.app(environ, _start)
        finally:
            LOG.info("%s %s %s %s %s %.1fms", request_id, environ.get("REMOTE_ADDR", "-"),
                     environ.get("REQUEST_METHOD"), environ.get("PATH_INFO"), seen.get("status", "-"),
                     (time.monotonic() - started) * 1000)


def build_app(backend: Backend, auth: Callable[[WSGIApp], WSGIApp], password_login: Any = None) -> WSGIApp:
    """The full stack: request log → web UI under /ui (freezer_service.ui) → authentication → Falcon.

    ``password_login`` (a :data:`freezer_service.ui.PasswordLogin`) turns on the UI's username/password form."""
    from freezer_service.ui import with_ui

    return RequestLog(with_ui(auth, build_falcon(backend), password_login=password_login))
