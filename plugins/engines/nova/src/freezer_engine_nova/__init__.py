"""nova engine: an instance snapshotted to an image, streamed, and booted again at restore.

Backup waits (within ``--timeout``) until the instance has no task in
progress, asks Nova for a snapshot image, waits for it to become active and
streams it through the pipeline, so the stored copy is compressed and
encrypted.  The stream header records what a rebuild needs: name, flavor,
networks, boot device, metadata, key pair, and the image's formats.  The
temporary snapshot image is deleted whatever happens (success, error,
Ctrl-C): it is registered for removal as soon as Nova names it.

An instance booted from a volume has no image disk for Nova to snapshot:
its root volume goes through a Cinder snapshot, a volume made from it and an
upload of that volume to an image, all three temporary.  Its restore makes a
volume ``<name>~<timestamp>`` from the image and boots from that volume.

Restore uploads the image as ``<name>~<timestamp>`` and boots an instance of
that name with the recorded flavor on the recorded networks (matched by
name) or on ``--nova-restore-network``; an instance that fails to boot is
deleted with its image (and volume).

With ``--project-id`` (and no instance named) one backup holds every
instance of the project, one after the other, each framed by its own header
(``kind`` ``nova-project``); only one instance's snapshot exists at a time.
Its restore boots every instance again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from freezer_openstack import Cloud, OpenStackError, Temporaries, check, volumes, wait_for
from freezer_openstack.images import (
    ImageStream,
    delete_image,
    frame,
    image_chunks,
    restore_images,
    upload_image,
    wait_image_active,
)

from freezer_core.contract import BackupStream, Engine, Options, Source
from freezer_core.errors import IntegrityError

__all__ = ["NovaEngine", "get_server"]

LOG = logging.getLogger("freezer.engine.nova")
MICROVERSION = "2.45"
"""createImage answers with the image id from 2.45 on."""
BOOT_MICROVERSION = "2.37"
"""``networks: none`` (an instance without ports) needs 2.37."""


def get_server(cloud: Cloud, server_id: str) -> dict[str, Any] | None:
    resp = cloud.conn.compute.get(f"/servers/{server_id}", raise_exc=False)
    return None if resp.status_code == 404 else dict(check(resp, f"reading instance {server_id}").json()["server"])


def _snapshot_refusal(resp: Any, what: str) -> str:
    """What a refused createImage is called: Nova answers Glance's image quota with HTTP 500, so say it is that."""
    if resp.status_code == 500 and "HTTPOverLimit" in (resp.text or ""):
        return f"snapshotting {what} (Glance refused the snapshot image: the project's image quota is exhausted)"
    return f"snapshotting {what}"


def _task_state(server: dict[str, Any]) -> str:
    return str(server.get("OS-EXT-STS:task_state") or "idle")


def _delete_server(cloud: Cloud, server_id: str) -> None:
    check(cloud.conn.compute.delete(f"/servers/{server_id}", raise_exc=False), f"deleting instance {server_id}",
          ok=(204, 404))


class NovaEngine(Engine):
    name = "nova"
    supports_incremental = False

    def __init__(self, options: Options) -> None:
        super().__init__(options)
        self.restored: list[str] = []

    # ------------------------------------------------------------ backup

    def backup(self, source: Source, previous_state: bytes | None) -> BackupStream:
        cloud: Cloud = source.extra.get("cloud") or Cloud(self.options)
        now = int(time.time())
        if "project_servers" in source.extra:
            return ProjectStream(self, cloud, source.resource_id, list(source.extra["project_servers"]), now)
        temporaries = Temporaries()
        try:
            image, resource = self.snapshot(cloud, source.resource_id, now, temporaries)
            return ImageStream(cloud, image, "nova", now, resource, cleanup=temporaries.close)
        except BaseException:
            temporaries.close()
            raise

    def snapshot(self, cloud: Cloud, server_id: str, now: int,
                 temporaries: Temporaries) -> tuple[dict[str, Any], dict[str, Any]]:
        """An active image of the instance's disk (registered in ``temporaries``) and its rebuild facts."""
        what = f"instance {server_id}"
        server = wait_for(lambda: get_server(cloud, server_id), what, ("idle",), cloud.timeout,
                          failed=(), state=_task_state)
        if server.get("status") == "ERROR":
            raise OpenStackError(f"{what} is in ERROR: fix or rebuild it before backing it up")
        name = f"{cloud.prefix}backup_{server_id}_{now}"
        resource = self._rebuild_facts(server)
        if not server.get("image"):
            image_id = self._volume_image(cloud, server, name, resource, temporaries)
        else:
            with temporaries.creating():
                body = {"createImage": {"name": name, "metadata": {"created_by": "freezer"}}}
                resp = cloud.conn.compute.post(f"/servers/{server_id}/action", raise_exc=False,
                                               microversion=MICROVERSION, json=body)
                image_id = check(resp, _snapshot_refusal(resp, what)).json()["image_id"]
                temporaries.add(f"image {image_id}", lambda: delete_image(cloud, image_id))
        image = wait_image_active(cloud, image_id, f"snapshot image {name} ({image_id}) of {what}")
        LOG.info("streaming snapshot of %s (%s bytes)", what, image.get("size"))
        return image, resource

    @staticmethod
    def _volume_image(cloud: Cloud, server: dict[str, Any], name: str, resource: dict[str, Any],
                      temporaries: Temporaries) -> str:
        """Root volume -> Cinder snapshot -> volume -> image, every step temporary; the image's id."""
        root = _root_volume(cloud, server)
        with temporaries.creating():
            snapshot_id = volumes.create_snapshot(cloud, root["id"], name)
            temporaries.add(f"snapshot {snapshot_id}", lambda: volumes.delete_snapshot(cloud, snapshot_id))
        volumes.wait_snapshot(cloud, snapshot_id)
        with temporaries.creating():
            copy_id = volumes.create_volume(cloud, name, int(root["size"]), snapshot_id=snapshot_id)
            temporaries.add(f"volume {copy_id}", lambda: volumes.delete_volume(cloud, copy_id))
        volumes.wait_volume(cloud, copy_id, f"volume {copy_id} (copy of the root volume of instance {server['id']})")
        with temporaries.creating():
            image_id = volumes.upload_to_image(cloud, copy_id, name)
            temporaries.add(f"image {image_id}", lambda: delete_image(cloud, image_id))
        resource.update(boot_device_type="volume", volume_size=int(root["size"]),
                        volume_type=root.get("volume_type"))
        return image_id

    @staticmethod
    def _rebuild_facts(server: dict[str, Any]) -> dict[str, Any]:
        flavor = server.get("flavor") or {}
        return {"server_id": server["id"], "server_name": server.get("name") or server["id"],
                "flavor_id": flavor.get("id"), "flavor_name": flavor.get("original_name"),
                "networks": sorted((server.get("addresses") or {}).keys()),
                "boot_device_type": "image", "metadata": server.get("metadata") or {},
                "key_name": server.get("key_name"),
                "availability_zone": server.get("OS-EXT-AZ:availability_zone"),
                "security_groups": sorted({g.get("name") for g in server.get("security_groups") or []} - {None})}

    # ------------------------------------------------------------ restore

    def restore(self, chunks: Iterable[bytes], target: Path, level: int) -> None:
        restore_images(self.options, chunks, "nova", self._restore_one, dry_run="boot the instance(s)")

    def _restore_one(self, cloud: Cloud, header: dict[str, Any], data: Iterable[bytes]) -> None:
        facts = header["resource"]
        name = f"{facts['server_name']}~{header['time_stamp']}"
        with Temporaries() as temporaries:
            networks = self._networks(cloud, facts)
            image = upload_image(cloud, header, iter(data), name)
            temporaries.add(f"image {image['id']}", lambda: delete_image(cloud, image["id"]))
            volume_id = None
            if facts.get("boot_device_type") == "volume":
                size = max(int(facts.get("volume_size") or 1), 1)
                with temporaries.creating():
                    volume_id = volumes.create_volume(cloud, name, size, imageRef=image["id"])
                    temporaries.add(f"volume {volume_id}", lambda: volumes.delete_volume(cloud, volume_id))
                volumes.wait_volume(cloud, volume_id, f"volume {name} ({volume_id})")
            with temporaries.creating():
                server_id = self._boot(cloud, name, image["id"], facts, networks, volume_id)
                temporaries.add(f"instance {server_id}", lambda: _delete_server(cloud, server_id))
            wait_for(lambda: get_server(cloud, server_id), f"restored instance {name} ({server_id})",
                     ("active",), cloud.timeout)
            temporaries.forget(f"instance {server_id}")
            if volume_id is None:
                temporaries.forget(f"image {image['id']}")  # the instance runs from it
            else:
                temporaries.forget(f"volume {volume_id}")  # the image was only the way into the volume
        self.restored.append(server_id)
        LOG.info("restored instance %s as %s (%s)", facts["server_id"], name, server_id)

    def _networks(self, cloud: Cloud, facts: dict[str, Any]) -> Any:
        given = self.options.get("nova_restore_network")
        if given:
            return [{"uuid": str(n).strip()} for n in str(given).split(",") if str(n).strip()]
        if not facts.get("networks"):
            return "none"
        found = []
        for net in facts["networks"]:
            resp = check(cloud.conn.network.get("/networks", params={"name": net}, raise_exc=False),
                         f"looking up network {net}")
            matches = resp.json().get("networks", [])
            if len(matches) != 1:
                state = "ambiguous" if matches else "gone"
                raise OpenStackError(f"network {net!r} of the backed-up instance is {state}: "
                                     f"give --nova-restore-network")
            found.append({"uuid": matches[0]["id"]})
        return found

    def _boot(self, cloud: Cloud, name: str, image_id: str, facts: dict[str, Any], networks: Any,
              volume_id: str | None = None) -> str:
        flavor = facts.get("flavor_id")
        if not flavor:
            raise IntegrityError("the backup does not record the instance's flavor")
        body: dict[str, Any] = {"name": name, "imageRef": image_id, "flavorRef": flavor, "networks": networks,
                                "metadata": {str(k): str(v) for k, v in (facts.get("metadata") or {}).items()}}
        if volume_id is not None:
            body["imageRef"] = ""
            body["block_device_mapping_v2"] = [{"boot_index": 0, "uuid": volume_id, "source_type": "volume",
                                                "destination_type": "volume", "delete_on_termination": False}]
        if facts.get("key_name"):
            body["key_name"] = facts["key_name"]
        resp = cloud.conn.compute.post("/servers", json={"server": body}, raise_exc=False,
                                       microversion=BOOT_MICROVERSION)
        return str(check(resp, f"booting instance {name}").json()["server"]["id"])


def _root_volume(cloud: Cloud, server: dict[str, Any]) -> dict[str, Any]:
    """The Cinder record of the volume the instance boots from."""
    resp = check(cloud.conn.compute.get(f"/servers/{server['id']}/os-volume_attachments", raise_exc=False),
                 f"listing the volumes of instance {server['id']}")
    attachments = resp.json().get("volumeAttachments", [])
    root_device = server.get("OS-EXT-SRV-ATTR:root_device_name")
    chosen = next((a for a in attachments if root_device and a.get("device") == root_device),
                  attachments[0] if attachments else None)
    if chosen is None:
        raise OpenStackError(f"instance {server['id']} has neither an image nor a volume to back up")
    return volumes.get_volume(cloud, chosen["volumeId"])


class ProjectStream(BackupStream):
    """Every instance of a project, one framed image after another; one snapshot exists at a time."""

    def __init__(self, engine: NovaEngine, cloud: Cloud, project_id: str, server_ids: list[str], now: int) -> None:
        self.engine, self.cloud, self.project_id, self.server_ids, self.now = engine, cloud, project_id, server_ids, now
        self._temporaries: Temporaries | None = None

    def __iter__(self) -> Iterator[bytes]:
        yield frame({"kind": "nova-project", "time_stamp": self.now, "image": {},
                     "resource": {"project_id": self.project_id, "servers": self.server_ids}})
        for server_id in self.server_ids:
            self._temporaries = Temporaries()
            try:
                image, resource = self.engine.snapshot(self.cloud, server_id, self.now, self._temporaries)
                yield frame({"kind": "nova", "time_stamp": self.now, "image": image, "resource": resource,
                             "length": int(image["size"])})
                yield from image_chunks(self.cloud, image)
            finally:
                self._temporaries.close()
                self._temporaries = None

    def state(self) -> bytes:
        return b""

    def close(self) -> None:
        if self._temporaries is not None:
            self._temporaries.close()
            self._temporaries = None
