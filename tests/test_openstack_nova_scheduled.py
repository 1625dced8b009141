"""The deployment note's scheduled nova job: created from its job file through a real freezer-api and run by a
real freezer-scheduler, backing up a VM of the OpenStack bed into the bed's Swift.

As in the note, the scheduler runs with the openrc's ``OS_*`` variables (the jobs log into Keystone with
them); it reaches freezer-api with a token of that API's own (the test API's embedded tokens).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.api.server import ApiServer, start_api, stop_api
from tests.scheduler.conftest import SchedulerProcess, wait_for
from tests.services import Service

CLIENT = "localhost.localdomain"


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory, cloud: Any) -> Iterator[ApiServer]:
    directory = tmp_path_factory.mktemp("nova-scheduled-api")
    tokens = f"[user:bed]\ntoken = tok-bed\nproject_id = {cloud.current_project_id}\nroles = admin,member,reader\n"
    server = start_api(directory, f"sqlite:///{directory / 'freezer.sqlite'}", "sqlite", extra_tokens=tokens)
    try:
        yield server
    finally:
        stop_api(server)


def test_note_job_file_runs_on_a_scheduler(openstack_nova: Service, cloud: Any, api: ApiServer,
                                           tmp_path: Path) -> None:
    image = cloud.image.post("/images", json={"name": "sched-base", "disk_format": "raw",
                                              "container_format": "bare"}).json()
    cloud.image.put(f"/images/{image['id']}/file", data=b"scheduled base\n" * 2048,
                    headers={"Content-Type": "application/octet-stream"})
    flavor = cloud.compute.find_flavor("freezer.tiny") or cloud.compute.create_flavor(
        name="freezer.tiny", ram=64, vcpus=1, disk=1)
    server = cloud.compute.create_server(name="sched-vm", image_id=image["id"], flavor_id=flavor.id,
                                         networks="none")
    server = cloud.compute.wait_for_server(server, status="ACTIVE", failures=["ERROR"], wait=300)
    images_before = {i.id for i in cloud.image.images()}

    project = cloud.current_project_id
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    env |= {k: v for k, v in openstack_nova.env.items() if k.startswith("OS_")}  # the note's openrc
    env |= {"OS_BACKUP_URL": api.url, "OS_TOKEN": "tok-bed", "OS_PROJECT_ID": project}
    job = {"job-action": [{"freezer_action": {"action": "backup", "mode": "nova", "nova_inst_id": server.id,
                                              "backup-name": "nova_backup_by_json", "container": "freezer_backups",
                                              "engine_name": "nova", "no_incremental": True},
                           "exit_status": "success", "max_retries": 2, "max_retries_interval": 60,
                           "mandatory": True}],
           "job_schedule": {"schedule_start_date": "", "schedule_interval": "30 minutes"},
           "description": "scheduled test"}
    job_file = tmp_path / "test.json"
    job_file.write_text(json.dumps(job))

    scheduler = SchedulerProcess(tmp_path, ["-c", CLIENT], env=env).start()
    try:
        wait_for("registration", lambda: "started: client" in scheduler.text(), timeout=300)
        freezer = str(Path(sys.executable).with_name("freezer"))
        created = subprocess.run([freezer, "job-create", "--file", str(job_file), "--client", CLIENT], env=env,
                                 capture_output=True, text=True, timeout=120)
        assert created.returncode == 0 and "created" in created.stdout, created.stderr

        def backups() -> list[dict[str, Any]]:
            r = api.call("GET", f"/v2/{project}/backups/", "tok-bed", limit=100)
            return [b for b in r.json()["backups"]
                    if b["backup_metadata"].get("backup_name") == "nova_backup_by_json"]

        records = wait_for("the scheduled nova backup in freezer-api", backups, timeout=900)
    finally:
        scheduler.stop()
    assert records[0]["backup_metadata"]["curr_backup_level"] == 0
    stored = [o.name for o in cloud.object_store.objects("freezer_backups")
              if o.name.startswith("data/nova/") and "nova_backup_by_json" in o.name]
    assert stored, scheduler.text()[-3000:]
    assert {i.id for i in cloud.image.images()} == images_before  # the snapshot is gone
