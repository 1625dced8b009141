"""--mode nova end to end: the deployment note's nova commands against a real Nova (fake hypervisor)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.services import Service
from tests.services.openstack import agent


def _boot(cloud: Any, tmp_path: Path, name: str) -> Any:
    (tmp_path / "base").write_bytes(b"base image bytes\n" * 4096)
    image = cloud.image.create_image(name=f"{name}-base", disk_format="raw", container_format="bare",
                                     filename=str(tmp_path / "base"), allow_duplicates=True, wait=True)
    flavor = cloud.compute.find_flavor("freezer.tiny") or cloud.compute.create_flavor(
        name="freezer.tiny", ram=64, vcpus=1, disk=1)
    server = cloud.compute.create_server(name=name, image_id=image.id, flavor_id=flavor.id, networks="none",
                                         metadata={"role": "db"})
    return cloud.compute.wait_for_server(server, status="ACTIVE", failures=["ERROR"], wait=300)


def test_note_commands_backup_restore_admin(openstack_nova: Service, cloud: Any, tmp_path: Path) -> None:
    server = _boot(cloud, tmp_path, "vm1")
    images_before = {i.id for i in cloud.image.images()}
    note = ["--nova-inst-id", server.id, "--backup-name", "nova_backup", "--engine", "nova"]

    backup = agent(openstack_nova, "--mode", "nova", "--no-incremental", "true", *note,
                   "--metadata-out", str(tmp_path / "b.json"))
    assert backup.returncode == 0, backup.stderr
    assert {i.id for i in cloud.image.images()} == images_before  # the temporary snapshot is gone
    stored = [o.name for o in cloud.object_store.objects("freezer_backups") if o.name.startswith("data/nova/")]
    assert stored

    restore = agent(openstack_nova, "--action", "restore", "--mode", "nova", *note)
    assert restore.returncode == 0, restore.stderr
    servers = [s for s in cloud.compute.servers() if s.name.startswith("vm1~")]
    assert len(servers) == 1 and servers[0].status == "ACTIVE"
    assert servers[0].flavor["original_name"] == "freezer.tiny" and servers[0].metadata == {"role": "db"}
    data = cloud.image.get(f"/images/{servers[0].image['id']}/file").content
    assert data.startswith(f"osbed fake disk of instance {server.id}".encode())  # the snapshot's bytes

    ts = json.loads((tmp_path / "b.json").read_text())["time_stamp"]
    admin = agent(openstack_nova, "--action", "admin", *note, "--remove-from-date", _iso(ts + 1),
                  "--metadata-out", str(tmp_path / "a.json"))
    assert admin.returncode == 0, admin.stderr
    assert len(json.loads((tmp_path / "a.json").read_text())["removed_backups"]) == 1


def test_incremental_and_unknown_instance_are_refused(openstack_nova: Service, cloud: Any) -> None:
    images_before = {i.id for i in cloud.image.images()}
    incr = agent(openstack_nova, "--mode", "nova", "--incremental", "--nova-inst-id", "x", "--engine", "nova")
    assert incr.returncode != 0 and "--mode nova backups cannot be incremental" in incr.stderr
    missing = agent(openstack_nova, "--mode", "nova", "--engine", "nova", "--nova-inst-id",
                    "00000000-0000-0000-0000-000000000000")
    assert missing.returncode != 0 and "not found in Nova" in missing.stderr
    assert {i.id for i in cloud.image.images()} == images_before


def _iso(ts: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S")
