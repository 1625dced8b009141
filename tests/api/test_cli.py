"""The ``freezer`` CLI against a running server, including the deployment note's job file."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from freezer_cli import client
from freezer_cli.main import cli
from tests.api.server import ApiServer, member_token

if "job-create" not in cli.commands:
    client.register(cli)

# The job file of the original deployment note, as written (repeated key, dashes, "job-action").
NOTE_JOB = (Path(__file__).parents[1] / "data" / "deployment-note-job.json").read_text()



@pytest.fixture
def run(api: ApiServer):  # type: ignore[no-untyped-def]
    project = api.new_project()
    env = {"OS_BACKUP_URL": api.url, "OS_TOKEN": member_token(project), "OS_PROJECT_ID": project,
           "OS_AUTH_URL": ""}

    def invoke(*args: str, code: int = 0) -> str:
        result = CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)
        assert result.exit_code == code, result.output
        return result.output

    invoke.project = project  # type: ignore[attr-defined]
    return invoke


def test_note_job_file(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    client_id = f"{run.project}_localhost.localdomain"
    (tmp_path / "client.json").write_text(json.dumps({"client_id": client_id, "hostname": "localhost"}))
    assert "registered" in run("client-register", "--file", str(tmp_path / "client.json"))
    rows = json.loads(run("client-list", "--format", "json"))
    assert rows == [{"Client ID": client_id, "uuid": rows[0]["uuid"], "hostname": "localhost", "description": ""}]
    (tmp_path / "test.json").write_text(NOTE_JOB)
    out = run("job-create", "--file", str(tmp_path / "test.json"), "--client", client_id)
    job_id = out.split()[1]
    assert out.strip() == f"Job {job_id} created"
    job = json.loads(run("job-get", job_id))
    action = job["job_actions"][0]
    assert action["freezer_action"]["backup_name"] == "nova_backup_by_json"
    assert (action["exit_status"], action["max_retries"]) == ("success", 2)
    assert job["job_schedule"]["schedule_interval"] == "30 minutes"
    assert "schedule_start_date" not in job["job_schedule"]
    listed = json.loads(run("job-list", "--format", "json"))
    assert listed[0]["Job ID"] == job_id and listed[0]["# Actions"] == 1
    assert json.loads(run("action-list", "-f", "json"))[0]["Name"] == "nova_backup_by_json"
    assert "requested to start" in run("job-start", job_id)
    assert "start already requested" in run("job-start", job_id)
    one_off = tmp_path / "oneoff.json"
    one_off.write_text(json.dumps({"job_actions": [{"freezer_action": {"action": "info"}}], "job_schedule": {}}))
    assert "created" in run("job-create", "--file", str(one_off), "--client", client_id)
    assert "deleted" in run("job-delete", job_id)
    assert "Error 404" in run("job-show", job_id, code=1)


def test_sessions_and_backups(run, api: ApiServer, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    client_id = f"{run.project}_node1"
    (tmp_path / "c.json").write_text(json.dumps({"client_id": client_id}))
    run("client-register", "--file", str(tmp_path / "c.json"))
    (tmp_path / "j.json").write_text(json.dumps({"job_actions": [{"freezer_action": {"action": "info"}}]}))
    job_id = run("job-create", "--file", str(tmp_path / "j.json"), "--client", client_id).split()[1]
    session_id = run("session-create", "--description", "nightly").split()[1]
    run("session-add-job", "--session-id", session_id, "--job_id", job_id)
    started = json.loads(run("session-start", "--session_id", session_id, "--job-id", job_id, "--job-tag", "0",
                             "-f", "json"))
    assert started == {"result": "success", "session_tag": 1}
    assert json.loads(run("session-list", "-f", "json"))[0]["# Jobs"] == 1
    run("session-remove-job", "--session-id", session_id, "--job-id", job_id)
    assert "deleted" in run("session-delete", session_id)
    token = member_token(run.project)
    ids = {stamp: api.call("POST", f"/v2/{run.project}/backups", token, {
        "backup_name": "b", "container": "c", "hostname": "h", "time_stamp": stamp}).json()["backup_id"]
        for stamp in (1700000900, 1700000500)}
    rows = json.loads(run("backup-list", "-f", "json"))  # oldest first, as python-freezerclient
    assert [r["Backup ID"] for r in rows] == [ids[1700000500], ids[1700000900]]
    assert rows[0]["Created at"] == str(datetime.datetime.fromtimestamp(1700000500))
    shown = json.loads(run("backup-show", rows[0]["Backup ID"], "-f", "json"))
    assert (shown["Backup ID"], shown["Project ID"], shown["Status"]) == (rows[0]["Backup ID"], run.project,
                                                                          "available")
    assert "deleted" in run("backup-delete", rows[0]["Backup ID"])
