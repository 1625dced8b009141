"""The real python-freezerclient 6.5.0 (and ``openstack backup ...``) drives our server.

``freezer``: password credentials of a member of project A at the real Keystone; the client finds
our server through the catalog's ``backup`` endpoint (registered by the ``keystone_api`` fixture)
and appends ``/v2/<project of the token>``.  ``openstack --os-auth-type none``: no Keystone at all,
the endpoint names the project, the client sends ``X-Auth-Token: notused`` (mapped to a member by
an embedded token file).  Both use the deployment note's job file.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from freezer_cli import client
from freezer_cli.main import cli
from tests.api.freezerclient_venv import ensure_venv
from tests.api.server import ApiServer, start_api, stop_api
from tests.api.test_cli import NOTE_JOB
from tests.services import Service
from tests.services.keystone import issue_token


def run(argv: list[str], env: dict[str, str], cwd: Path) -> Any:
    """Run a client command; ``-f json`` output is decoded."""
    bare = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    done = subprocess.run(argv, env=bare | env, cwd=cwd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, (argv, done.stdout, done.stderr)
    return json.loads(done.stdout) if "json" in argv else done.stdout


def test_freezer_cli_through_keystone(keystone_api: ApiServer, keystone_server: Service, tmp_path: Path) -> None:
    freezer = str(ensure_venv() / "freezer")
    env = {"OS_AUTH_URL": keystone_server.env["OS_AUTH_URL"], "OS_USERNAME": "a-member",
           "OS_PASSWORD": keystone_server.env["KEYSTONE_PASSWORD"], "OS_PROJECT_NAME": "backup-a",
           "OS_USER_DOMAIN_NAME": "Default", "OS_PROJECT_DOMAIN_NAME": "Default", "OS_IDENTITY_API_VERSION": "3"}
    project = keystone_server.env["KEYSTONE_PROJECT_A_ID"]
    client_id = f"{project}_note-host.example.org"
    (tmp_path / "client.json").write_text(json.dumps({"client_id": client_id, "hostname": "note-host"}))
    (tmp_path / "job.json").write_text(NOTE_JOB)
    (tmp_path / "session.json").write_text(json.dumps({"description": "nightly", "hold_off": 60}))

    shown = run([freezer, "client-register", "--file", "client.json", "-f", "json"], env, tmp_path)
    assert shown["Client ID"] == client_id
    clients = run([freezer, "client-list", "-f", "json"], env, tmp_path)
    assert [c["Client ID"] for c in clients] == [client_id] and clients[0]["hostname"] == "note-host"

    job = run([freezer, "job-create", "--file", "job.json", "--client", client_id, "-f", "json"], env, tmp_path)
    assert (job["Client ID"], job["Description"], job["Interval"]) == (client_id, "scheduled test", "30 minutes")
    assert "nova_backup_by_json" in job["Actions"]
    run([freezer, "job-start", job["Job ID"]], env, tmp_path)
    listed = run([freezer, "job-list", "-f", "json"], env, tmp_path)
    assert [(j["Job ID"], j["# Actions"], j["Event"]) for j in listed] == [(job["Job ID"], 1, "start")]
    token, _ = issue_token(keystone_server, "a-member")
    stored = keystone_api.call("GET", f"/v2/{project}/jobs/{job['Job ID']}", token).json()
    assert stored["job_schedule"]["event"] == "start"

    r = keystone_api.call("POST", f"/v2/{project}/backups", token, {
        "backup_name": "nova_backup_by_json", "container": "freezer_backups", "hostname": "note-host",
        "path_to_backup": "/", "time_stamp": 1700000000, "curr_backup_level": 0})
    # (-f json fails inside the client: its "Created at" is a datetime, which json cannot encode)
    backups = run([freezer, "backup-list", "-f", "value", "-c", "Backup ID", "-c", "Hostname", "-c", "Status",
                   "-c", "Level"], env, tmp_path)
    # (project A may hold other tests' backups too)
    assert [r.json()["backup_id"], "note-host", "available", "0"] in [line.split() for line in backups.splitlines()]

    session = run([freezer, "session-create", "--file", "session.json", "-f", "json"], env, tmp_path)
    assert (session["Description"], session["Status"], session["Hold off"]) == ("nightly", "active", 60)
    run([freezer, "session-add-job", "--session-id", session["Session ID"], "--job-id", job["Job ID"]], env,
        tmp_path)
    sessions = run([freezer, "session-list", "-f", "json"], env, tmp_path)
    assert [(s["Session ID"], s["# Jobs"]) for s in sessions] == [(session["Session ID"], 1)]

    # Our ``freezer`` CLI prints the same columns and values (same Keystone credentials and catalog).
    if "job-list" not in cli.commands:
        client.register(cli)

    def ours(*args: str) -> Any:
        result = CliRunner().invoke(cli, [*args, "-f", "json"], env=env, catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return json.loads(result.output)

    assert ours("client-list") == clients
    assert ours("session-list") == sessions
    assert ours("job-list") == run([freezer, "job-list", "-f", "json"], env, tmp_path)  # now in a session
    assert ours("action-list") == run([freezer, "action-list", "-f", "json"], env, tmp_path)
    theirs = run([freezer, "job-show", job["Job ID"], "-f", "json"], env, tmp_path)
    mine = ours("job-show", job["Job ID"])
    assert list(mine) == list(theirs)
    assert {k: v for k, v in mine.items() if k != "Actions"} == {k: v for k, v in theirs.items() if k != "Actions"}


@pytest.fixture(scope="module")
def noauth_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    """An embedded-auth server where ``notused`` (the token OSC sends without auth) is a member of ``osc``."""
    directory = tmp_path_factory.mktemp("freezer-api-osc")
    server = start_api(directory, f"sqlite:///{directory / 'freezer.sqlite'}", "sqlite",
                       extra_tokens="[user:osc]\ntoken = notused\nproject_id = osc\nroles = member\n")
    try:
        yield server
    finally:
        stop_api(server)


def test_openstack_backup_without_keystone(noauth_api: ApiServer, tmp_path: Path) -> None:
    """Conformance check 15: client register, job create from the note's file, job start, job list."""
    osc = [str(ensure_venv() / "openstack"), "--os-auth-type", "none", "--os-endpoint",
           f"{noauth_api.url}/v2/osc", "backup"]
    (tmp_path / "c.json").write_text(json.dumps({"client_id": "osc_node1", "hostname": "node1"}))
    (tmp_path / "j.json").write_text(NOTE_JOB)
    assert run([*osc, "client", "register", "--file", "c.json", "-f", "json"], {}, tmp_path)["hostname"] == "node1"
    job = run([*osc, "job", "create", "--file", "j.json", "--client", "osc_node1", "-f", "json"], {}, tmp_path)
    assert job["Client ID"] == "osc_node1"
    run([*osc, "job", "start", job["Job ID"]], {}, tmp_path)
    listed = run([*osc, "job", "list", "-f", "json"], {}, tmp_path)
    assert [(j["Job ID"], j["Event"]) for j in listed] == [(job["Job ID"], "start")]
