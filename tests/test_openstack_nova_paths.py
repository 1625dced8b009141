"""--mode nova beyond the note's commands: a whole project, boot from volume, failures and interrupts.

Every failure must be one line and leave no temporary snapshot, volume or
image behind: the checks ask Nova, Cinder and Glance themselves.  The fake
hypervisor (the bed's double) keeps a snapshot "queued" forever for an
instance whose metadata says ``osbed_snapshot=hang``.
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from tests.services import Service
from tests.services.openstack import agent, backing_file, start_agent

MIB = 1024 * 1024


def _flavor(cloud: Any) -> Any:
    return cloud.compute.find_flavor("freezer.tiny") or cloud.compute.create_flavor(
        name="freezer.tiny", ram=64, vcpus=1, disk=1)


def _base_image(cloud: Any, name: str, public: bool = False) -> Any:
    body = {"name": name, "disk_format": "raw", "container_format": "bare",
            "visibility": "public" if public else "private"}
    made = cloud.image.post("/images", json=body).json()
    cloud.image.put(f"/images/{made['id']}/file", data=b"base image bytes\n" * 4096,
                    headers={"Content-Type": "application/octet-stream"})
    return cloud.image.get_image(made["id"])


def _boot(conn: Any, name: str, image_id: str, **metadata: str) -> Any:
    server = conn.compute.create_server(name=name, image_id=image_id, flavor_id=_flavor(conn).id, networks="none",
                                        metadata=metadata)
    return conn.compute.wait_for_server(server, status="ACTIVE", failures=["ERROR"], wait=300)


def _state(cloud: Any) -> dict[str, set[str]]:
    """What a failed or finished action must leave exactly as it was (asked of the real APIs)."""
    return {"images": {i.id for i in cloud.image.images()},
            "volumes": {v.id for v in cloud.block_storage.volumes(all_projects=True)},
            "snapshots": {s.id for s in cloud.block_storage.snapshots(all_projects=True)},
            "servers": {s.id for s in cloud.compute.servers(all_projects=True)}}


def _settled(cloud: Any, before: dict[str, set[str]]) -> dict[str, set[str]]:
    """The state once Cinder's asynchronous deletes are done (bounded)."""
    for _ in range(120):
        now = _state(cloud)
        if now == before:
            return now
        time.sleep(1)
    return _state(cloud)


def _one_line(stderr: str) -> str:
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    return lines[0]


def test_project_backup_restores_every_instance(openstack_nova: Service, cloud: Any, tmp_path: Path) -> None:
    project = cloud.identity.create_project(name=f"tenant-{os.getpid()}", domain_id="default")
    admin_role = cloud.identity.find_role("admin")
    me = cloud.identity.find_user(openstack_nova.env["OS_USERNAME"])
    cloud.identity.assign_project_role_to_user(project, me, admin_role)
    tenant = cloud.connect_as_project({"id": project.id, "domain_id": project.domain_id})
    image = _base_image(cloud, "tenant-base", public=True)
    servers = [_boot(tenant, f"web{i}", image.id, role=f"r{i}") for i in range(2)]
    before = _state(cloud)
    common = ["--mode", "nova", "--engine", "nova", "--project-id", project.id, "--backup-name", "tenant",
              "--storage", "local", "--container", str(tmp_path / "c")]

    backup = agent(openstack_nova, *common, "--metadata-out", str(tmp_path / "b.json"))
    assert backup.returncode == 0, backup.stderr
    assert _settled(cloud, before) == before  # both snapshots are gone
    assert json.loads((tmp_path / "b.json").read_text())["backup_size"] > 2 * 16 * 16384

    restore = agent(openstack_nova, "--action", "restore", *common)
    assert restore.returncode == 0, restore.stderr
    back = {s.name.split("~")[0]: s for s in cloud.compute.servers() if "~" in s.name and s.id not in before["servers"]}
    assert sorted(back) == ["web0", "web1"]
    for original in servers:
        again = back[original.name]
        assert again.status == "ACTIVE" and again.metadata == original.metadata
        data = cloud.image.get(f"/images/{again.image['id']}/file").content
        assert data.startswith(f"osbed fake disk of instance {original.id}".encode())
    tenant.close()


def test_boot_from_volume_goes_through_a_volume_snapshot(openstack_nova: Service, cloud: Any,
                                                         tmp_path: Path) -> None:
    image = _base_image(cloud, "bfv-base")
    root = cloud.block_storage.create_volume(size=1, name="bfv-root", image_id=image.id)
    root = cloud.block_storage.wait_for_status(root, "available", failures=["error"], wait=600)
    disk = os.urandom(MIB)
    with backing_file(openstack_nova, root.id).open("r+b") as f:
        f.write(disk)
    server = cloud.compute.create_server(
        name="bfv", flavor_id=_flavor(cloud).id, networks="none",
        block_device_mapping=[{"boot_index": 0, "uuid": root.id, "source_type": "volume",
                               "destination_type": "volume", "delete_on_termination": False}])
    server = cloud.compute.wait_for_server(server, status="ACTIVE", failures=["ERROR"], wait=300)
    before = _state(cloud)
    common = ["--mode", "nova", "--engine", "nova", "--nova-inst-id", server.id, "--backup-name", "bfv",
              "--storage", "local", "--container", str(tmp_path / "c")]

    backup = agent(openstack_nova, *common, timeout=1200)
    assert backup.returncode == 0, backup.stderr
    assert _settled(cloud, before) == before  # the snapshot, its volume and the image are all gone

    restore = agent(openstack_nova, "--action", "restore", *common, timeout=1200)
    assert restore.returncode == 0, restore.stderr
    new = [s for s in cloud.compute.servers() if s.name.startswith("bfv~")]
    assert len(new) == 1 and new[0].status == "ACTIVE" and not new[0].image.get("id")
    volumes = [v for v in cloud.block_storage.volumes() if v.name == new[0].name]
    assert len(volumes) == 1 and volumes[0].status == "in-use"
    with backing_file(openstack_nova, volumes[0].id).open("rb") as f:
        assert f.read(MIB) == disk
    assert {i.id for i in cloud.image.images()} == before["images"]  # the way into the volume is gone too


def test_failures_are_one_line_and_leave_nothing(openstack_nova: Service, cloud: Any, tmp_path: Path) -> None:
    image = _base_image(cloud, "fail-base")
    healthy = _boot(cloud, "healthy", image.id)
    broken = _boot(cloud, "broken", image.id)
    stuck = _boot(cloud, "stuck", image.id, osbed_snapshot="hang")
    cloud.compute.post(f"/servers/{broken.id}/action", json={"os-resetState": {"state": "error"}})
    local = ["--storage", "local", "--container", str(tmp_path / "c"), "--engine", "nova", "--mode", "nova"]
    before = _state(cloud)

    error = agent(openstack_nova, *local, "--nova-inst-id", broken.id, "--backup-name", "broken")
    assert error.returncode != 0 and f"instance {broken.id} is in ERROR" in _one_line(error.stderr)

    hung = agent(openstack_nova, *local, "--nova-inst-id", stuck.id, "--backup-name", "stuck", "--timeout", "8")
    line = _one_line(hung.stderr)
    assert hung.returncode != 0 and "timed out after 8 s waiting for snapshot image" in line
    assert "last state was 'queued'" in line
    assert _settled(cloud, before) == before

    # a restore over quota: Nova refuses the instance, and the image uploaded for it is removed
    # uncompressed, in 64 KiB segments: a damaged last segment is found only once the upload is under way
    good = agent(openstack_nova, *local, "--nova-inst-id", healthy.id, "--backup-name", "healthy",
                 "--compression", "none", "--max-segment-size", "65536")
    assert good.returncode == 0, good.stderr
    project = cloud.current_project_id
    quota = cloud.compute.get(f"/os-quota-sets/{project}").json()["quota_set"]["instances"]
    # force: Nova otherwise refuses a limit below what the project already uses
    assert cloud.compute.put(f"/os-quota-sets/{project}",
                             json={"quota_set": {"instances": 0, "force": True}}).status_code == 200
    try:
        over = agent(openstack_nova, "--action", "restore", *local, "--nova-inst-id", healthy.id,
                     "--backup-name", "healthy")
    finally:
        cloud.compute.put(f"/os-quota-sets/{project}", json={"quota_set": {"instances": quota, "force": True}})
    line = _one_line(over.stderr)
    assert over.returncode != 0 and "booting instance healthy~" in line and "uota" in line
    assert _settled(cloud, before) == before

    # an image upload cut off: the stored backup's tail is damaged, the half-made image is removed
    data = [p for p in (tmp_path / "c").rglob("*") if p.is_file() and "healthy" in str(p) and p.name == "data"]
    assert len(data) == 1
    blob = bytearray(data[0].read_bytes())
    assert len(blob) > 4 * 65536
    blob[-1000:] = bytes(1000)
    data[0].write_bytes(bytes(blob))
    cut = agent(openstack_nova, "--action", "restore", *local, "--nova-inst-id", healthy.id,
                "--backup-name", "healthy")
    assert cut.returncode != 0
    _one_line(cut.stderr)
    assert _settled(cloud, before) == before


def test_sigterm_during_a_snapshot_removes_it(openstack_nova: Service, cloud: Any, tmp_path: Path) -> None:
    image = _base_image(cloud, "term-base")
    stuck = _boot(cloud, "term-stuck", image.id, osbed_snapshot="hang")
    before = _state(cloud)
    proc = start_agent(openstack_nova, "--mode", "nova", "--engine", "nova", "--nova-inst-id", stuck.id,
                       "--backup-name", "term", "--storage", "local", "--container", str(tmp_path / "c"),
                       "--timeout", "600")
    try:
        for _ in range(300):  # until the temporary snapshot image exists in Glance
            if any(i.name.startswith(f"freezer_backup_{stuck.id}") for i in cloud.image.images()):
                break
            time.sleep(0.5)
        else:
            pytest.fail("the agent never asked Nova for a snapshot")
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode != 0 and "interrupted" in _one_line(stderr)
    assert _settled(cloud, before) == before
