"""check(): one line with the service's own reason, whether it answered JSON or an HTML page."""

from __future__ import annotations

import json

import pytest
import requests
from freezer_openstack import OpenStackError, check

GLANCE_413 = """<html>
 <head>
  <title>413 Request Entity Too Large</title>
 </head>
 <body>
  <h1>413 Request Entity Too Large</h1>
  The request returned a 413 Request Entity Too Large. This generally means that rate limiting or a quota
  threshold was breached.<br /><br />
The response body:<br />
Project p1 is over a limit for [Resource image_count_total is over limit of 1 due to current usage 1 and delta 1]

 </body>
</html>"""
"""Glance 33's answer to an image create over its unified limit (the page webob makes)."""


def _response(status: int, body: str, reason: str = "") -> requests.Response:
    resp = requests.Response()
    resp.status_code, resp._content, resp.reason = status, body.encode(), reason
    return resp


def test_an_html_page_gives_the_services_words_only() -> None:
    with pytest.raises(OpenStackError) as caught:
        check(_response(413, GLANCE_413), "creating image x")
    assert str(caught.value) == ("creating image x failed: HTTP 413 Project p1 is over a limit for [Resource "
                                 "image_count_total is over limit of 1 due to current usage 1 and delta 1]")


def test_json_messages_and_pages_without_a_body_section() -> None:
    cinder = json.dumps({"overLimit": {"code": 413, "message": "VolumeLimitExceeded: Maximum number of volumes "
                                                               "allowed (1) exceeded for quota 'volumes'."}})
    with pytest.raises(OpenStackError, match=r"HTTP 413 VolumeLimitExceeded: .*quota 'volumes'\.$"):
        check(_response(413, cinder), "creating volume v")
    page = "<html><head><title>404 Not Found</title></head><body><h1>404 Not Found</h1>No such &amp; thing</body>"
    with pytest.raises(OpenStackError, match="^reading x failed: HTTP 404 404 Not Found No such & thing$"):
        check(_response(404, page), "reading x")
    assert check(_response(204, ""), "deleting x").status_code == 204
