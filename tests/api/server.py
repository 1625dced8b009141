"""A real ``freezer-api`` process on 127.0.0.1 for the API tests, and an HTTP helper to talk to it."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.services import free_port

PROJECTS = 40
ADMIN, SERVICE = "tok-admin", "tok-service"


def member_token(project: str) -> str:
    return f"tok-member-{project}"


def reader_token(project: str) -> str:
    return f"tok-reader-{project}"


def write_tokens(path: Path) -> None:
    lines = ["[user:admin]", f"token = {ADMIN}", "project_id = admin-project", "roles = admin,member,reader",
             "[user:service]", f"token = {SERVICE}", "project_id = service-project", "roles = service"]
    for i in range(PROJECTS):
        project = f"project{i}"
        lines += [f"[user:member-{project}]", f"token = {member_token(project)}", f"project_id = {project}",
                  "roles = member",
                  f"[user:reader-{project}]", f"token = {reader_token(project)}", f"project_id = {project}",
                  "roles = reader"]
    path.write_text("\n".join(lines) + "\n")


@dataclass
class ApiServer:
    """A running server; :meth:`call` sends one request with a token."""

    url: str
    process: subprocess.Popen[bytes]
    log: Path
    backend: str
    _projects: itertools.count[int] = field(default_factory=itertools.count)

    def new_project(self) -> str:
        """A project no other test has used on this server."""
        index = next(self._projects)
        if index >= PROJECTS:
            raise RuntimeError("tests/api/server.py: raise PROJECTS, every project is in use")
        return f"project{index}"

    def call(self, method: str, path: str, token: str | None = None, body: Any = None, *,
             raw: bytes | None = None, headers: dict[str, str] | None = None, **params: Any) -> requests.Response:
        sent = {"Accept": "application/json", **(headers or {})}
        if token is not None:
            sent["X-Auth-Token"] = token
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        if data is not None:
            sent.setdefault("Content-Type", "application/json")
        return requests.request(method, self.url + path, data=data, headers=sent, params=params or None,
                                timeout=30)


def start_api(directory: Path, connection: str, backend: str, extra_conf: str = "",
              extra_tokens: str = "") -> ApiServer:
    """Start ``freezer-api`` with embedded tokens; ``extra_conf`` is appended to its configuration file,
    ``extra_tokens`` (``[user:NAME]`` sections) to its token file."""
    directory.mkdir(parents=True, exist_ok=True)
    write_tokens(directory / "tokens.ini")
    with open(directory / "tokens.ini", "a") as tokens:
        tokens.write(extra_tokens)
    port = free_port()
    conf = directory / "freezer-api.conf"
    conf.write_text(f"[DEFAULT]\nbind_host = 127.0.0.1\nbind_port = {port}\n"
                    f"[database]\nconnection = {connection}\n"
                    f"[embedded_auth]\ntokens_file = {directory / 'tokens.ini'}\n" + extra_conf)
    log = directory / "freezer-api.log"
    with open(log, "wb") as out:
        process = subprocess.Popen([sys.executable, "-c", "from freezer_service.cmd.api import main; main()",
                                    "--config-file", str(conf)], stdout=out, stderr=subprocess.STDOUT)
    server = ApiServer(f"http://127.0.0.1:{port}", process, log, backend)
    for _ in range(300):
        if process.poll() is not None:
            pytest.fail(f"freezer-api exited with {process.returncode}:\n{log.read_text()}", pytrace=False)
        try:
            if requests.get(server.url + "/healthcheck", timeout=2).status_code == 200:
                return server
        except requests.ConnectionError:
            pass
        time.sleep(0.1)
    stop_api(server)
    pytest.fail(f"freezer-api did not answer on {server.url}:\n{log.read_text()}", pytrace=False)


def stop_api(server: ApiServer) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()
