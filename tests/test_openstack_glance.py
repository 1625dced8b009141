"""--mode glance end to end: the real freezer-agent against a real Glance (tests/services/openstack)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from tests.services import Service
from tests.services.openstack import agent


def _upload(cloud: Any, name: str, payload: bytes, **props: str) -> Any:
    body = {"name": name, "container_format": "bare", "disk_format": "raw", "min_ram": 64, **props}
    made = cloud.image.post("/images", json=body).json()
    cloud.image.put(f"/images/{made['id']}/file", data=payload, headers={"Content-Type": "application/octet-stream"})
    return cloud.image.get_image(made["id"])


def _image_ids(conn: Any) -> set[str]:
    return {i.id for i in conn.image.images()}


def _download(conn: Any, image_id: str) -> bytes:
    return bytes(conn.image.get(f"/images/{image_id}/file").content)


def _record(path: Path) -> dict[str, Any]:
    return dict(json.loads(path.read_text()))


def test_image_backup_restore_by_date_and_admin(openstack_cloud: Service, cloud: Any, tmp_path: Path) -> None:
    payload = os.urandom(3 * 1024 * 1024 + 17)
    image = _upload(cloud, "cirros-like", payload, freezer_test="kept")  # raw: Glance checks a declared format
    before = _image_ids(cloud)
    pass_file = tmp_path / "pass"
    pass_file.write_text("glance-secret\n")
    container = tmp_path / "backups"
    common = ["--mode", "glance", "--engine", "glance", "--glance-image-id", image.id, "--backup-name", "img",
              "--storage", "local",
              "--container", str(container), "--encrypt-pass-file", str(pass_file)]

    first = agent(openstack_cloud, *common, "--metadata-out", str(tmp_path / "m1.json"))
    assert first.returncode == 0, first.stderr
    cloud.image.patch(f"/images/{image.id}", json=[{"op": "replace", "path": "/freezer_test", "value": "changed"}],
                      headers={"Content-Type": "application/openstack-images-v2.1-json-patch"})  # tells backups apart
    second = agent(openstack_cloud, *common, "--metadata-out", str(tmp_path / "m2.json"))
    assert second.returncode == 0, second.stderr
    ts1, ts2 = _record(tmp_path / "m1.json")["time_stamp"], _record(tmp_path / "m2.json")["time_stamp"]
    assert ts1 < ts2
    assert _image_ids(cloud) == before  # a backup creates nothing in Glance

    stored = b"".join(p.read_bytes() for p in container.rglob("*") if p.is_file())
    assert payload[:64] not in stored and payload[-64:] not in stored  # compressed and encrypted, never clear
    assert {p.parts[-5] for p in container.rglob("data") if p.is_file()} == {"glance"}  # data/glance/host_name/...

    restored = agent(openstack_cloud, "--action", "restore", *common, "--restore-from-date",
                     _iso(ts1), "--metadata-out", str(tmp_path / "r.json"))
    assert restored.returncode == 0, restored.stderr
    new = [i for i in cloud.image.images() if i.id not in before]
    assert len(new) == 1 and new[0].status == "active"
    assert new[0].name.startswith("cirros-like~") and new[0].disk_format == "raw" and new[0].min_ram == 64
    assert new[0].properties.get("freezer_test") == "kept"  # the backup of --restore-from-date, not the newest
    assert _download(cloud, new[0].id) == payload

    admin = agent(openstack_cloud, "--action", "admin", *common, "--remove-from-date",
                  _iso(ts2 + 1), "--metadata-out", str(tmp_path / "a.json"))
    assert admin.returncode == 0, admin.stderr
    assert len(_record(tmp_path / "a.json")["removed_backups"]) == 2
    assert not [p for p in container.rglob("data") if p.is_file()]
    cloud.image.delete_image(new[0].id)
    cloud.image.delete_image(image.id)


def test_missing_image_and_missing_credentials_are_one_line(openstack_cloud: Service, cloud: Any,
                                                             tmp_path: Path) -> None:
    before = _image_ids(cloud)
    common = ["--mode", "glance", "--engine", "glance", "--backup-name", "img", "--storage", "local",
              "--container", str(tmp_path / "c")]
    missing = agent(openstack_cloud, *common, "--glance-image-id", "00000000-0000-0000-0000-000000000000")
    assert missing.returncode != 0
    assert "image 00000000-0000-0000-0000-000000000000 not found in Glance" in missing.stderr
    assert "Traceback" not in missing.stderr

    no_creds = agent(Service("none", tmp_path, {}), *common, "--glance-image-id", "x")
    assert no_creds.returncode != 0 and "no OpenStack credentials" in no_creds.stderr

    wrong = agent(openstack_cloud, *common, "--glance-image-id", "x", env={"OS_PASSWORD": "wrong"})
    assert wrong.returncode != 0 and "Keystone refused the credentials" in wrong.stderr
    assert _image_ids(cloud) == before


def test_project_backup_restores_every_image(openstack_cloud: Service, cloud: Any, tmp_path: Path) -> None:
    project = cloud.identity.create_project(name=f"img-tenant-{os.getpid()}", domain_id="default")
    me = cloud.identity.find_user(openstack_cloud.env["OS_USERNAME"])
    cloud.identity.assign_project_role_to_user(project, me, cloud.identity.find_role("admin"))
    tenant = cloud.connect_as_project({"id": project.id, "domain_id": project.domain_id})
    payloads = {f"tenant-img{i}": os.urandom(200_000 + i) for i in range(2)}
    originals = {name: _upload(tenant, name, data) for name, data in payloads.items()}
    assert {i.owner for i in originals.values()} == {project.id}
    before = _image_ids(cloud)
    common = ["--mode", "glance", "--engine", "glance", "--project-id", project.id, "--backup-name", "tenant",
              "--storage", "local", "--container", str(tmp_path / "c")]

    backup = agent(openstack_cloud, *common)  # logged into the admin project: lists the tenant's images
    assert backup.returncode == 0, backup.stderr
    restore = agent(openstack_cloud, "--action", "restore", *common)
    assert restore.returncode == 0, restore.stderr
    new = {i.name.split("~")[0]: i for i in cloud.image.images() if i.id not in before}
    assert sorted(new) == sorted(payloads)
    for name, data in payloads.items():
        assert _download(cloud, new[name].id) == data
        cloud.image.delete_image(new[name].id)
        cloud.image.delete_image(originals[name].id)
    tenant.close()

    empty = cloud.identity.create_project(name=f"img-empty-{os.getpid()}", domain_id="default")
    nothing = agent(openstack_cloud, "--mode", "glance", "--engine", "glance", "--project-id", empty.id,
                    "--backup-name", "none", "--storage", "local", "--container", str(tmp_path / "c"))
    assert nothing.returncode != 0 and f"project {empty.id} owns no active image" in nothing.stderr


def _iso(ts: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S")
