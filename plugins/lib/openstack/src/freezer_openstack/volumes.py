"""Cinder volumes, snapshots and uploads to images, as the cinder and cinderbrick plugins use them.

Raw block-storage v3 calls (as the cindernative plugin makes them), so the
requests are exactly Cinder's documented ones.  Every ``delete_*`` waits for
the resource to settle first (Cinder refuses to delete a volume that is still
``uploading`` or ``creating``) and then until it is gone, both bounded, so a
cleanup that returned really left nothing behind.
"""

from __future__ import annotations

import logging
from typing import Any

from freezer_openstack import Cloud, OpenStackError, check
from freezer_openstack.waits import wait_for

LOG = logging.getLogger("freezer.openstack.volumes")
SETTLE = 300.0
"""Seconds a cleanup waits for a busy resource to settle, however short ``--timeout`` is."""
_GONE = {"status": "deleted"}


def _bs(cloud: Cloud) -> Any:
    return cloud.conn.block_storage


def find_volume(cloud: Cloud, volume_id: str) -> dict[str, Any] | None:
    resp = _bs(cloud).get(f"/volumes/{volume_id}", raise_exc=False)
    return None if resp.status_code == 404 else dict(check(resp, f"reading volume {volume_id}").json()["volume"])


def get_volume(cloud: Cloud, volume_id: str | None, name: str | None = None, option: str = "--cinder-vol-id",
               ) -> dict[str, Any]:
    """The volume given by id, or by a name that must match exactly one volume."""
    if volume_id:
        found = find_volume(cloud, volume_id)
        if found is None:
            raise OpenStackError(f"volume {volume_id} not found in Cinder: check {option}")
        return found
    resp = check(_bs(cloud).get("/volumes/detail", params={"name": name}, raise_exc=False), f"listing volumes {name}")
    volumes = [v for v in resp.json().get("volumes", []) if v.get("name") == name]
    if len(volumes) != 1:
        raise OpenStackError(f"{len(volumes)} volumes are named {name!r}: give the volume id instead"
                             if volumes else f"no volume is named {name!r}: check the volume name")
    return dict(volumes[0])


def wait_volume(cloud: Cloud, volume_id: str, what: str, timeout: float | None = None) -> dict[str, Any]:
    return wait_for(lambda: find_volume(cloud, volume_id), what, ("available",), timeout or cloud.timeout,
                    failed=("error", "error_restoring", "error_extending"))


def create_volume(cloud: Cloud, name: str, size: int, **source: Any) -> str:
    """Start creating a volume (``snapshot_id=``, ``imageRef=`` or empty); its id."""
    body = {"name": name, "size": size, "description": "made by freezer-agent", **source}
    resp = _bs(cloud).post("/volumes", json={"volume": body}, raise_exc=False)
    return str(check(resp, f"creating volume {name}").json()["volume"]["id"])


def delete_volume(cloud: Cloud, volume_id: str) -> None:
    """Delete a volume once it has settled, and wait until Cinder no longer has it."""
    what = f"volume {volume_id}"
    wait_for(lambda: find_volume(cloud, volume_id) or _GONE, what,
             ("available", "error", "error_restoring", "error_extending", "in-use", "deleted"), SETTLE)
    check(_bs(cloud).delete(f"/volumes/{volume_id}", raise_exc=False), f"deleting {what}", ok=(202, 404))
    wait_for(lambda: find_volume(cloud, volume_id) or _GONE, what, ("deleted",), SETTLE, failed=("error_deleting",))


def find_snapshot(cloud: Cloud, snapshot_id: str) -> dict[str, Any] | None:
    resp = _bs(cloud).get(f"/snapshots/{snapshot_id}", raise_exc=False)
    if resp.status_code == 404:
        return None
    return dict(check(resp, f"reading snapshot {snapshot_id}").json()["snapshot"])


def create_snapshot(cloud: Cloud, volume_id: str, name: str) -> str:
    """Start a snapshot of the volume (``force``: in-use volumes too); its id."""
    body = {"volume_id": volume_id, "name": name, "force": True, "description": "made by freezer-agent"}
    resp = _bs(cloud).post("/snapshots", json={"snapshot": body}, raise_exc=False)
    return str(check(resp, f"snapshotting volume {volume_id}").json()["snapshot"]["id"])


def wait_snapshot(cloud: Cloud, snapshot_id: str) -> dict[str, Any]:
    return wait_for(lambda: find_snapshot(cloud, snapshot_id), f"snapshot {snapshot_id}", ("available",),
                    cloud.timeout)


def delete_snapshot(cloud: Cloud, snapshot_id: str) -> None:
    what = f"snapshot {snapshot_id}"
    wait_for(lambda: find_snapshot(cloud, snapshot_id) or _GONE, what, ("available", "error", "deleted"), SETTLE)
    check(_bs(cloud).delete(f"/snapshots/{snapshot_id}", raise_exc=False), f"deleting {what}", ok=(202, 404))
    wait_for(lambda: find_snapshot(cloud, snapshot_id) or _GONE, what, ("deleted",), SETTLE,
             failed=("error_deleting",))


def volume_action(cloud: Cloud, volume_id: str, action: str, body: Any, what: str) -> Any:
    """POST ``/volumes/<id>/action`` with ``{action: body}``; the JSON answer, or None when it has none."""
    resp = check(_bs(cloud).post(f"/volumes/{volume_id}/action", json={action: body}, raise_exc=False), what)
    return resp.json() if resp.content else None


def upload_to_image(cloud: Cloud, volume_id: str, image_name: str) -> str:
    """Start Cinder's ``os-volume_upload_image`` (raw, bare); the new image's id."""
    body = {"image_name": image_name, "force": True, "disk_format": "raw", "container_format": "bare"}
    answer = volume_action(cloud, volume_id, "os-volume_upload_image", body,
                           f"uploading volume {volume_id} to an image")
    return str(answer["os-volume_upload_image"]["image_id"])
