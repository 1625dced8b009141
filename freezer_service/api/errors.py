"""Error responses in upstream Freezer's shape: ``{"title": ..., "description": ...}``.

Titles are the ones upstream clients print or match on (``Bad request
format``, ``Malformed JSON`` with status 753, ``Access Forbidden``...).  Any
other exception becomes a 500 with a generic text: a traceback is logged with
the request id, never sent.
"""

from __future__ import annotations

import logging
from typing import Any

import falcon

from freezer_core.errors import FreezerError, ValidationError

LOG = logging.getLogger("freezer_service.api")

FORBIDDEN_TEXT = "You are not allowed to access this resource"


def error(status: int | str, title: str, description: str | None = None,
          headers: dict[str, str] | None = None) -> falcon.HTTPError:
    return falcon.HTTPError(status if isinstance(status, str) else falcon.code_to_http_status(status),
                            title=title, description=description, headers=headers)


def bad_request(description: str) -> falcon.HTTPError:
    return error(400, "Bad request format", description)


def bad_data(description: str) -> falcon.HTTPError:
    return error(400, "Bad Data Format", description)


def malformed_json() -> falcon.HTTPError:
    return error("753 Syntax Error", "Malformed JSON", "Could not decode the request body as JSON")


def forbidden() -> falcon.HTTPError:
    return error(403, "Access Forbidden", FORBIDDEN_TEXT)


def not_found(description: str) -> falcon.HTTPError:
    return error(404, "Not Found", description)


def conflict(description: str) -> falcon.HTTPError:
    return error(409, "Document already existing", description)


def unprocessable(description: str) -> falcon.HTTPError:
    return error(422, "Unprocessable Entity", description)


def bad_method(description: str) -> falcon.HTTPError:
    return error(405, "Bad Method", description)


def invalid_parameter(name: str, why: str) -> falcon.HTTPError:
    return error(400, "Invalid parameter", f"The \"{name}\" parameter is invalid. {why}")


_TITLES = {400: "Bad request format", 403: "Access Forbidden", 404: "Not Found",
           409: "Document already existing", 422: "Unprocessable Entity"}


def handle_freezer_error(req: falcon.Request, resp: falcon.Response, exc: FreezerError, params: Any) -> None:
    """Known failures: their own HTTP status and one-line message."""
    status = exc.http_status
    if isinstance(exc, ValidationError):
        status = 400
    if status >= 500:
        LOG.error("%s: %s", req.context.get("request_id", "-"), exc)
    raise error(status, _TITLES.get(status, falcon.code_to_http_status(status)[4:]), str(exc))


def handle_unexpected(req: falcon.Request, resp: falcon.Response, exc: Exception, params: Any) -> None:
    """Anything else is a bug: log it whole, answer a plain 500."""
    if isinstance(exc, falcon.HTTPError | falcon.HTTPStatus):
        raise exc
    LOG.exception("%s: unexpected error on %s %s", req.context.get("request_id", "-"), req.method, req.path)
    raise error(500, "Internal Server Error",
                f"Unexpected error; the server log has the details under {req.context.get('request_id', '')}")


def serialize_error(req: falcon.Request, resp: falcon.Response, exc: falcon.HTTPError) -> None:
    """Always JSON (clients send ``Accept: application/json`` or nothing)."""
    resp.content_type = falcon.MEDIA_JSON
    resp.media = exc.to_dict()
