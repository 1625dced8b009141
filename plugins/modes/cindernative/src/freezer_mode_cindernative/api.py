"""The few Cinder calls the cindernative plugin makes (block-storage API v3, raw REST).

Raw calls keep the requests exactly as documented by Cinder (microversion
3.43 for backup metadata), independent of how an SDK release models them.
"""

from __future__ import annotations

from typing import Any

from freezer_openstack import Cloud, OpenStackError, check
from freezer_openstack.waits import wait_for

MICROVERSION = "3.43"
"""Backups carry metadata from 3.43 on: how Freezer marks the backups it made."""


def _bs(cloud: Cloud) -> Any:
    return cloud.conn.block_storage


def get_volume(cloud: Cloud, volume_id: str) -> dict[str, Any]:
    resp = _bs(cloud).get(f"/volumes/{volume_id}", raise_exc=False)
    if resp.status_code == 404:
        raise OpenStackError(f"volume {volume_id} not found in Cinder: check --cindernative-vol-id")
    return dict(check(resp, f"reading volume {volume_id}").json()["volume"])


def find_volume(cloud: Cloud, volume_id: str) -> dict[str, Any] | None:
    resp = _bs(cloud).get(f"/volumes/{volume_id}", raise_exc=False)
    return None if resp.status_code == 404 else dict(check(resp, f"reading volume {volume_id}").json()["volume"])


def delete_volume(cloud: Cloud, volume_id: str) -> None:
    check(_bs(cloud).delete(f"/volumes/{volume_id}", raise_exc=False), f"deleting volume {volume_id}", ok=(202, 404))


def get_backup(cloud: Cloud, backup_id: str) -> dict[str, Any] | None:
    resp = _bs(cloud).get(f"/backups/{backup_id}", raise_exc=False, microversion=MICROVERSION)
    return None if resp.status_code == 404 else dict(check(resp, f"reading backup {backup_id}").json()["backup"])


def volume_backups(cloud: Cloud, volume_id: str) -> list[dict[str, Any]]:
    resp = _bs(cloud).get("/backups/detail", params={"volume_id": volume_id}, raise_exc=False,
                          microversion=MICROVERSION)
    found = check(resp, f"listing backups of volume {volume_id}").json()["backups"]
    return [b for b in found if b.get("volume_id") == volume_id]


def create_backup(cloud: Cloud, body: dict[str, Any]) -> dict[str, Any]:
    resp = _bs(cloud).post("/backups", json={"backup": body}, raise_exc=False, microversion=MICROVERSION)
    return dict(check(resp, f"creating a backup of volume {body['volume_id']}").json()["backup"])


def delete_backup(cloud: Cloud, backup_id: str) -> None:
    check(_bs(cloud).delete(f"/backups/{backup_id}", raise_exc=False), f"deleting backup {backup_id}",
          ok=(202, 404))


def discard_backup(cloud: Cloud, backup_id: str) -> None:
    """Delete a backup Freezer gave up on: Cinder deletes only settled backups, so wait for it to settle first."""
    wait_for(lambda: get_backup(cloud, backup_id) or {"status": "deleted"}, f"cinder backup {backup_id}",
             ("available", "error", "deleted"), max(cloud.timeout, 300))
    delete_backup(cloud, backup_id)


def restore_backup(cloud: Cloud, backup_id: str, name: str) -> str:
    """Restore into a new volume named ``name``; its id."""
    resp = _bs(cloud).post(f"/backups/{backup_id}/restore", json={"restore": {"name": name}}, raise_exc=False)
    return str(check(resp, f"restoring backup {backup_id}").json()["restore"]["volume_id"])


def wait_backup(cloud: Cloud, backup_id: str) -> dict[str, Any]:
    return wait_for(lambda: get_backup(cloud, backup_id), f"cinder backup {backup_id}", ("available",),
                    cloud.timeout)


def wait_volume(cloud: Cloud, volume_id: str, what: str) -> dict[str, Any]:
    return wait_for(lambda: find_volume(cloud, volume_id), what, ("available",), cloud.timeout,
                    failed=("error", "error_restoring"))
