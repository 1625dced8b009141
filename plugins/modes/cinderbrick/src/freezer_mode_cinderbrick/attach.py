"""Attaching a Cinder volume to this host with os-brick, the way ``cinder local-attach`` does.

Cinder is told first (``os-reserve``), hands back the connection info for this
host's connector (``os-initialize_connection``), os-brick connects the volume
(an iSCSI/FC/NVMe device, an RBD mapping, or the volume's file on a mounted
NFS share) and Cinder records the attachment (``os-attach``).  Leaving the
block undoes each step that was done, newest first, even after a failure.

os-brick runs its privileged commands through oslo.privsep: as root they run
in this process; otherwise privsep starts its helper through ``sudo``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from freezer_openstack import Cloud, OpenStackError
from freezer_openstack.volumes import volume_action

from freezer_core.errors import ModeError

LOG = logging.getLogger("freezer.mode.cinderbrick")
ROOT_HELPER = "sudo"
MOUNT_POINT_BASE = "/var/lib/freezer/mnt"
"""Where os-brick mounts a file-system share (NFS, ...) when Cinder does not say."""


def _brick() -> Any:
    """os-brick, imported only when a volume is attached, with privileged calls made in-process as root."""
    try:
        with warnings.catch_warnings():  # oslo.privsep imports eventlet, which warns that it is deprecated
            warnings.simplefilter("ignore")
            from os_brick import privileged
            from os_brick.initiator import connector
    except ImportError as exc:  # pragma: no cover - a broken install
        raise ModeError(f"os-brick cannot be imported ({exc}): pip install os-brick") from None
    if os.geteuid() == 0:
        privileged.default.set_client_mode(False)
    return connector


def connector_properties(host: str | None = None) -> dict[str, Any]:
    """What Cinder needs to know about this host to export a volume to it."""
    connector = _brick()
    try:
        ip = socket.gethostbyname(socket.gethostname())
    except OSError:
        ip = "127.0.0.1"
    props: dict[str, Any] = connector.get_connector_properties(ROOT_HELPER, ip, False, False, host=host)
    return props


def initialize_connection(cloud: Cloud, volume_id: str, props: dict[str, Any]) -> dict[str, Any]:
    answer = volume_action(cloud, volume_id, "os-initialize_connection", {"connector": props},
                           f"asking Cinder to export volume {volume_id} to this host")
    info = (answer or {}).get("connection_info")
    if not isinstance(info, dict) or "driver_volume_type" not in info:
        raise OpenStackError(f"Cinder gave no connection info for volume {volume_id}")
    return info


def connect(info: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """Connect the volume with os-brick; (connector, device info with ``path``)."""
    brick = _brick()
    protocol = str(info["driver_volume_type"])
    conn = dict(info)
    conn.setdefault("mount_point_base", MOUNT_POINT_BASE)
    try:
        initiator = brick.InitiatorConnector.factory(protocol, ROOT_HELPER, use_multipath=False,
                                                     device_scan_attempts=3, conn=conn)
        device = initiator.connect_volume(info["data"])
    except Exception as exc:  # noqa: BLE001 - os-brick raises many kinds; one line is what the user needs
        raise ModeError(f"os-brick could not attach the volume over {protocol}: {_one_line(exc)}") from None
    if not device or not device.get("path"):
        raise ModeError(f"os-brick attached the volume over {protocol} but returned no device path")
    return initiator, device


@contextlib.contextmanager
def attached(cloud: Cloud, volume_id: str) -> Iterator[Path]:
    """The volume, attached here: a block device or an image file path."""
    host = socket.gethostname()
    undo: list[tuple[str, Any]] = []
    try:
        props = connector_properties(host)
        volume_action(cloud, volume_id, "os-reserve", {}, f"reserving volume {volume_id}")
        undo.append(("unreserve", lambda: volume_action(cloud, volume_id, "os-unreserve", {}, "unreserving")))
        info = initialize_connection(cloud, volume_id, props)
        undo.append(("terminate the connection", lambda: volume_action(
            cloud, volume_id, "os-terminate_connection", {"connector": props}, "terminating the connection")))
        initiator, device = connect(info)
        undo.append(("disconnect", lambda: initiator.disconnect_volume(info["data"], device)))
        volume_action(cloud, volume_id, "os-attach", {"mountpoint": device["path"], "host_name": host, "mode": "rw"},
                      f"recording the attachment of volume {volume_id}")
        undo[0] = ("detach", lambda: volume_action(cloud, volume_id, "os-detach", {}, "detaching"))
        LOG.info("volume %s attached at %s (%s)", volume_id, device["path"], info["driver_volume_type"])
        yield Path(device["path"])
    finally:
        for what, step in reversed(undo):
            try:
                step()
            except BaseException as exc:  # noqa: BLE001 - every step is tried; the first error is reported
                LOG.error("volume %s: could not %s: %s", volume_id, what, _one_line(exc))


def _one_line(value: Any) -> str:
    return " ".join(str(value).split())[:300]
