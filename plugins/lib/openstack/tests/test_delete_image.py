"""delete_image outlasts what a busy or just-refused Glance does to the request (no server needed)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
import requests
from freezer_openstack import images
from keystoneauth1 import exceptions as ksa_exceptions


def _answer(status: int) -> requests.Response:
    resp = requests.Response()
    resp.status_code = status
    resp._content = b""
    return resp


def _cloud(answers: list[Any]) -> tuple[Any, list[str]]:
    calls: list[str] = []

    def delete(path: str, raise_exc: bool) -> requests.Response:
        calls.append(path)
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return _answer(answer)

    return SimpleNamespace(conn=SimpleNamespace(image=SimpleNamespace(delete=delete))), calls


def test_a_connection_glance_dropped_is_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(images.time, "sleep", lambda _s: None)
    cloud, calls = _cloud([ksa_exceptions.ConnectFailure("Remote end closed connection without response"), 204])
    images.delete_image(cloud, "img-1")
    assert calls == ["/images/img-1", "/images/img-1"]


def test_a_connection_that_never_comes_back_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(images.time, "sleep", lambda _s: None)
    cloud, calls = _cloud([ksa_exceptions.ConnectFailure("refused")] * 3)
    with pytest.raises(ksa_exceptions.ConnectFailure):
        images.delete_image(cloud, "img-1", attempts=3)
    assert len(calls) == 3
