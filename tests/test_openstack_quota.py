"""Quotas exceeded: one line naming the quota (the service's own words), nothing left behind.

The tests work in a fresh project (``tenant``), the agent logged into it:
quotas are tightened there and nowhere else, and what is left is asked of
Cinder and Glance through that project and the admin's view of every project.
Nova's own quota (``instances=0`` on restore) is in test_openstack_nova_paths.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from tests.services import Service
from tests.services.openstack import Project, agent, new_volume, temporaries


def _quota(cloud: Any, project: Project, **limits: int) -> None:
    resp = cloud.block_storage.put(f"/os-quota-sets/{project.id}", json={"quota_set": limits})
    assert resp.status_code == 200, resp.text


def _one_line(stderr: str) -> str:
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    return lines[0]


def _settled(cloud: Any, volume_id: str) -> list[str]:
    """What Freezer left, once Cinder's asynchronous deletes are done (bounded)."""
    for _ in range(120):
        left = temporaries(cloud, volume_id)
        if not left:
            return left
        time.sleep(1)
    return temporaries(cloud, volume_id)


def _volumes(project: Project) -> set[str]:
    return {v.id for v in project.conn.block_storage.volumes()}


def test_cinder_backup_and_restore_over_quota(openstack_cloud: Service, cloud: Any, tenant: Project,
                                              tmp_path: Path) -> None:
    volume = new_volume(tenant.conn, "quota-vol")
    store = ["--storage", "local", "--container", str(tmp_path / "c"), "--backup-name", "q"]
    run = ["--mode", "cinder", "--cinder-vol-id", volume.id, *store]

    _quota(cloud, tenant, snapshots=0)  # the first temporary is refused
    no_snapshot = agent(openstack_cloud, *run, env=tenant.env)
    line = _one_line(no_snapshot.stderr)
    assert no_snapshot.returncode != 0
    assert f"snapshotting volume {volume.id} failed: HTTP 413" in line and "snapshots" in line, line
    assert _settled(cloud, volume.id) == []

    _quota(cloud, tenant, snapshots=10, volumes=1)  # the snapshot is made, its temporary volume refused
    no_copy = agent(openstack_cloud, *run, env=tenant.env)
    line = _one_line(no_copy.stderr)
    assert no_copy.returncode != 0 and "failed: HTTP 413" in line and "'volumes'" in line, line
    assert _settled(cloud, volume.id) == []  # the snapshot made before the refusal is gone
    assert not [p for p in (tmp_path / "c").rglob("metadata") if p.is_file()]

    _quota(cloud, tenant, volumes=2)
    done = agent(openstack_cloud, *run, env=tenant.env)
    assert done.returncode == 0, done.stderr
    _quota(cloud, tenant, volumes=1)  # the restore uploads its image, then cannot get a new volume
    before = _volumes(tenant)
    refused = agent(openstack_cloud, "--action", "restore", *run, env=tenant.env)
    line = _one_line(refused.stderr)
    assert refused.returncode != 0 and "creating volume quota-vol~" in line and "'volumes'" in line, line
    assert _settled(cloud, volume.id) == []  # the image uploaded for the volume is gone
    assert _volumes(tenant) == before
    tenant.conn.block_storage.delete_volume(volume.id)


def _image_limits(cloud: Any, project: Project, **limits: int) -> None:
    """Set Glance's unified limits (Keystone ``/v3/limits``) of the project."""
    [service] = [s for s in cloud.identity.services() if s.type == "image"]
    have = {lim["resource_name"]: lim["id"] for lim in cloud.identity.get(
        "/limits", params={"project_id": project.id, "service_id": service.id}).json()["limits"]}
    for name, value in limits.items():
        if name in have:  # replaced, not patched: Keystone 30 answers a PATCH to 0 with 200 and keeps the old value
            assert cloud.identity.delete(f"/limits/{have[name]}").status_code == 204
        resp = cloud.identity.post("/limits", json={"limits": [{
            "service_id": service.id, "project_id": project.id, "region_id": "RegionOne",
            "resource_name": name, "resource_limit": value}]})
        assert resp.status_code == 201 and resp.json()["limits"][0]["resource_limit"] == value, resp.text


def _images(project: Project) -> set[str]:
    return {i.id for i in project.conn.image.images(owner=project.id)}


def test_glance_restore_over_the_image_quotas(openstack_cloud: Service, cloud: Any, tenant: Project,
                                              tmp_path: Path) -> None:
    made = tenant.conn.image.post("/images", json={"name": "quota-img", "container_format": "bare",
                                                   "disk_format": "raw"}).json()
    tenant.conn.image.put(f"/images/{made['id']}/file", data=b"q" * (3 * 1024 * 1024),
                          headers={"Content-Type": "application/octet-stream"})
    run = ["--mode", "glance", "--engine", "glance", "--glance-image-id", made["id"], "--backup-name", "gq",
           "--storage", "local", "--container", str(tmp_path / "c")]
    done = agent(openstack_cloud, *run, env=tenant.env)
    assert done.returncode == 0, done.stderr
    before = _images(tenant)

    _image_limits(cloud, tenant, image_count_total=len(before))  # no room for one more image
    no_image = agent(openstack_cloud, "--action", "restore", *run, env=tenant.env)
    line = _one_line(no_image.stderr)
    assert no_image.returncode != 0 and "creating image quota-img~" in line and "HTTP 413" in line, line
    assert "image_count_total" in line, line
    assert _images(tenant) == before

    _image_limits(cloud, tenant, image_count_total=100, image_size_total=1)  # MiB: the image is made, its data not
    no_data = agent(openstack_cloud, "--action", "restore", *run, env=tenant.env)
    line = _one_line(no_data.stderr)
    assert no_data.returncode != 0 and "uploading image quota-img~" in line and "image_size_total" in line, line
    assert _images(tenant) == before  # the half-made image is gone
    _image_limits(cloud, tenant, image_size_total=10000000)
    tenant.conn.image.delete_image(made["id"])


def test_nova_backup_over_the_image_quota(openstack_nova: Service, cloud: Any, tenant: Project,
                                          tmp_path: Path) -> None:
    """Nova's snapshot is an image of the project: with no room left in Glance, Nova refuses it."""
    flavor = cloud.compute.find_flavor("freezer.tiny") or cloud.compute.create_flavor(
        name="freezer.tiny", ram=64, vcpus=1, disk=1)
    made = cloud.image.post("/images", json={"name": "quota-base", "container_format": "bare", "disk_format": "raw",
                                             "visibility": "public"}).json()
    cloud.image.put(f"/images/{made['id']}/file", data=b"base\n" * 4096,
                    headers={"Content-Type": "application/octet-stream"})
    server = tenant.conn.compute.create_server(name="quota-vm", image_id=made["id"], flavor_id=flavor.id,
                                               networks="none")
    server = tenant.conn.compute.wait_for_server(server, status="ACTIVE", failures=["ERROR"], wait=300)
    before = _images(tenant)
    _image_limits(cloud, tenant, image_count_total=len(before))
    try:
        refused = agent(openstack_nova, "--mode", "nova", "--engine", "nova", "--nova-inst-id", server.id,
                        "--backup-name", "nq", "--storage", "local", "--container", str(tmp_path / "c"),
                        env=tenant.env)
    finally:
        _image_limits(cloud, tenant, image_count_total=100000)
    line = _one_line(refused.stderr)
    assert refused.returncode != 0 and f"snapshotting instance {server.id} (Glance refused" in line, line
    assert "image quota is exhausted" in line and "HTTPOverLimit" in line, line  # Nova answers 500
    assert _images(tenant) == before
    assert not [p for p in (tmp_path / "c").rglob("metadata") if p.is_file()]
    tenant.conn.compute.delete_server(server.id)
    cloud.image.delete_image(made["id"])
