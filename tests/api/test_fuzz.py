"""Fuzzing the running API from its own ``/openapi.json`` (SQLite): no 5xx, no traceback, ever.

Hypothesis draws an operation of the OpenAPI document, path parameters (ids
that exist, odd ones, other projects), paging parameters (numbers and junk) and
a body: one built from the operation's schema, any JSON, or bytes that are not
JSON.  No answer may be a 5xx or hold a traceback; an unparsable body
sent where the server reads one gets upstream's ``753 {"title": "Malformed
JSON"}``.  The server log must hold no unexpected error afterwards.  Bounded:
a fixed number of examples, no shrinking across runs (derandomized).
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.api.server import ADMIN, ApiServer, member_token, reader_token, start_api, stop_api

JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner,
                                                                                 max_size=4),
                    max_leaves=12)
ODD_TEXT = st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=30)


def from_schema(schema: dict[str, Any], depth: int = 0) -> st.SearchStrategy[Any]:
    """Values shaped like ``schema`` (enums, types, properties), now and then anything at all."""
    if depth > 4:
        return JSON
    if "enum" in schema:
        shaped: st.SearchStrategy[Any] = st.sampled_from(schema["enum"])
    elif "anyOf" in schema or "oneOf" in schema:
        shaped = st.one_of([from_schema(s, depth + 1) for s in schema.get("anyOf") or schema["oneOf"]])
    else:
        kind = schema.get("type")
        kinds = kind if isinstance(kind, list) else [kind]
        options = []
        for k in kinds:
            if k == "object" or (k is None and "properties" in schema):
                props = {name: from_schema(sub, depth + 1) for name, sub in schema.get("properties", {}).items()}
                options.append(st.fixed_dictionaries({}, optional=props) |
                               st.builds(lambda a, b: a | b, st.fixed_dictionaries({}, optional=props),
                                         st.dictionaries(st.text(max_size=8), JSON, max_size=2)))
            elif k == "array":
                options.append(st.lists(from_schema(schema.get("items", {}), depth + 1), max_size=3))
            elif k == "string":
                options.append(st.text(max_size=20) | st.sampled_from(["1 days", "2030-01-01T00:00:00", "fs"]))
            elif k == "integer":
                options.append(st.integers(-2**40, 2**40))
            elif k == "boolean":
                options.append(st.booleans())
            elif k == "null":
                options.append(st.none())
        shaped = st.one_of(options) if options else JSON
    return st.one_of(shaped, shaped, shaped, JSON)


@pytest.fixture(scope="module")
def fuzz_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    directory = tmp_path_factory.mktemp("freezer-api-fuzz")
    server = start_api(directory, f"sqlite:///{directory / 'freezer.sqlite'}", "sqlite")
    try:
        yield server
    finally:
        stop_api(server)


def _reads_body(method: str, template: str) -> bool:
    """Operations whose body the server parses (GET lists read a search body)."""
    if method in ("post", "patch"):
        return True
    return method == "get" and template.count("/") == 3 and template.startswith("/v2/{project_id}/")


def test_fuzz_openapi_operations(fuzz_api: ApiServer) -> None:
    doc = requests.get(fuzz_api.url + "/openapi.json", timeout=30).json()
    operations = [(path, method, op) for path, item in doc["paths"].items() for method, op in item.items()
                  if method in ("get", "post", "patch", "put", "delete")]
    project = fuzz_api.new_project()
    token = member_token(project)
    # some documents that exist, so that fuzzed ids hit real rows too
    cid = f"{project}_fuzz.example.org"
    fuzz_api.call("POST", f"/v2/{project}/clients", token, {"client_id": cid})
    job = fuzz_api.call("POST", f"/v2/{project}/jobs", token, {"client_id": cid, "job_actions": [
        {"freezer_action": {"action": "backup", "mode": "fs", "backup_name": "f"}}], "job_schedule": {}}).json()
    session = fuzz_api.call("POST", f"/v2/{project}/sessions", token, {"description": "fuzz"}).json()
    known = [cid, job["job_id"], session["session_id"], "nope", "..", "%00"]

    @st.composite
    def requests_(draw: st.DrawFn) -> tuple[str, str, str, dict[str, str], bytes | None, bool, str]:
        template, method, op = draw(st.sampled_from(operations))
        def mostly(usual: list[str]) -> str:  # odd values one time in five: most requests should get far
            return draw(ODD_TEXT) if draw(st.integers(0, 4)) == 0 else draw(st.sampled_from(usual))

        values = {"project_id": mostly([project] * 5 + ["project-other"])}
        for name in ("backup_id", "client_id", "action_id", "job_id", "session_id"):
            values[name] = mostly(known)
        path = template
        for name, value in values.items():
            path = path.replace("{" + name + "}", urllib.parse.quote(value, safe=""))
        params = {}
        for p in op.get("parameters", []):
            if p.get("in") == "query" and draw(st.booleans()):
                params[p["name"]] = str(draw(st.integers(-5, 10**12) | ODD_TEXT))
        schema = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
        kind = draw(st.sampled_from(["none", "schema", "json", "junk"]))
        malformed = kind == "junk"
        if kind == "schema" and schema:
            body: bytes | None = json.dumps(draw(from_schema(schema))).encode()
        elif kind == "json":
            body = json.dumps(draw(JSON)).encode()
        elif malformed:
            body = draw(st.sampled_from([b"{bad", b"[1,", b"\xff\xfe", b"{'a': 1}", b"nul"]) |
                        st.binary(min_size=1, max_size=40).filter(_not_json))
        else:
            body = None
        who = draw(st.sampled_from([token, token, token, reader_token(project), ADMIN]))
        return method.upper(), template, path, params, body, malformed and who == token, who

    @settings(max_examples=200, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(requests_())
    def check(req: tuple[str, str, str, dict[str, str], bytes | None, bool, str]) -> None:
        method, template, path, params, body, malformed, who = req
        headers = {"X-Auth-Token": who, "Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        r = requests.request(method, fuzz_api.url + path, params=params, data=body, headers=headers, timeout=30)
        event(f"{method} {r.status_code}")  # pytest --hypothesis-show-statistics shows the spread
        assert not 500 <= r.status_code < 600, (method, path, params, body, r.status_code, r.text)  # 753 is fine
        assert "Traceback" not in r.text, (method, path, r.text)
        if malformed and path.startswith(f"/v2/{project}/") and r.status_code not in (404, 405) and \
                _reads_body(method.lower(), template):
            # (bad paging parameters are rejected first, as upstream reads them before the body)
            expected = {(753, "Malformed JSON")} | ({(400, "Invalid parameter")} if params else set())
            assert (r.status_code, r.json()["title"]) in expected, (method, path, r.text)

    check()
    log = fuzz_api.log.read_text()
    assert "Traceback" not in log and "unexpected error" not in log, log[-4000:]


def _not_json(raw: bytes) -> bool:
    try:
        json.loads(raw)
    except ValueError:
        return True
    return False
