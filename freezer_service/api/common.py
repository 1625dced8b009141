"""Request plumbing shared by the resources: bodies, paging, search, normalisation."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import falcon

from freezer_core.errors import ValidationError
from freezer_service.api import errors
from freezer_service.api.context import Identity
from freezer_service.api.schemas import DATE_KEYS
from freezer_service.db import search
from freezer_service.db.base import Backend

DEFAULT_LIMIT = 10


def new_id() -> str:
    return uuid.uuid4().hex


def now() -> int:
    return int(time.time())


def read_json(req: falcon.Request) -> Any:
    """The JSON body, or ``None`` without one.  Any content type is read, as upstream does."""
    length = req.content_length
    if not length:
        return None
    raw = req.bounded_stream.read()
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise errors.malformed_json() from None


def required_body(req: falcon.Request) -> dict[str, Any]:
    """A non-empty JSON object body, else 400 ``Missing request body``."""
    body = read_json(req)
    if body is None or body == {}:
        raise errors.error(400, "Bad request format", "Missing request body")
    if not isinstance(body, dict):
        raise errors.bad_request(f"The request body must be a JSON object, not {type(body).__name__}")
    return body


def paging(req: falcon.Request) -> tuple[int, int]:
    """``limit`` (default 10, also for 0) and ``offset`` (default 0) query parameters."""
    values = []
    for name, default in (("limit", DEFAULT_LIMIT), ("offset", 0)):
        raw = req.get_param(name)
        if raw in (None, ""):
            values.append(default)
            continue
        try:
            value = int(raw)
        except ValueError:
            raise errors.invalid_parameter(name, "The value must be an integer.") from None
        if value < 0:
            raise errors.invalid_parameter(name, "The value must be at least 0.")
        values.append(value or default if name == "limit" else value)
    return values[0], values[1]


def list_search(req: falcon.Request) -> search.Search:
    try:
        return search.parse(read_json(req), req.get_param("time_after"), req.get_param("time_before"))
    except ValidationError as exc:
        raise errors.bad_request(str(exc)) from None


def identity(req: falcon.Request) -> Identity:
    who: Identity | None = req.context.identity
    if who is None:  # the context middleware answers 401 before this
        raise errors.error(401, "Unauthorized", "The request you have made requires authentication.")
    return who


def dashless(doc: Any) -> Any:
    """Option names with dashes read as their underscore form (``backup-name``)."""
    if not isinstance(doc, dict):
        return doc
    return {str(k).replace("-", "_"): v for k, v in doc.items()}


def clean_schedule(schedule: Any) -> Any:
    """Dashes become underscores; an empty date means "not set"."""
    if not isinstance(schedule, dict):
        return schedule
    return {k: v for k, v in dashless(schedule).items() if not (k in DATE_KEYS and v in ("", None))}


class Resource:
    """Base of the API resources: holds the backend."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend


def ok(resp: falcon.Response, body: Any, status: int = 200) -> None:
    resp.status = falcon.code_to_http_status(status)
    resp.media = body


def missing(resp: falcon.Response) -> None:
    """404 with an empty body: what upstream answers for a GET of an unknown id."""
    resp.status = falcon.HTTP_404
    resp.text = ""
    resp.content_type = falcon.MEDIA_JSON
