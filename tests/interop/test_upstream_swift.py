"""Upstream freezer 19.0.0 and our agent share one real Swift container.

Upstream's swift storage takes its connection from a keystoneauth session
(``OS_*`` variables): it asks the session for the ``object-store`` endpoint
and a token, and has no tempauth path of its own.  So it is given the
project's Keystone double whose catalog lists the Swift all-in-one's account
URL and whose token *is* a real tempauth token obtained from that Swift: the
storage, its authorisation check and every byte are real, only the identity
lookup is doubled (the same double upstream already needs for every action).

(a) upstream writes a level 0 and a level 1 (DLO manifests, ``segments/%08d``)
    and our agent, with plain ``ST_*`` credentials, restores them byte-identically;
(b) our agent writes a level 0 there and upstream restores it.
"""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from swiftclient.client import Connection

from freezer_core.testing.trees import make_tree, tree_state
from tests.interop.keystone_stub import KeystoneStub
from tests.interop.upstream import run_upstream_agent
from tests.services import Service

pytestmark = pytest.mark.interop

HOST = "interop-swift-host"


@pytest.fixture(scope="module")
def swift_keystone(swift_server: Service) -> Iterator[KeystoneStub]:
    """A Keystone double handing out a real tempauth token and the SAIO account URL."""
    env = swift_server.env
    conn = Connection(authurl=env["ST_AUTH"], user=env["ST_USER"], key=env["ST_KEY"], retries=0)
    url, token = conn.get_auth()
    conn.close()
    endpoints = [{"id": f"swift-{i}", "interface": i, "region": "RegionOne", "region_id": "RegionOne", "url": url}
                 for i in ("public", "internal", "admin")]
    with KeystoneStub([{"type": "object-store", "name": "swift", "id": "swift", "endpoints": endpoints}]) as stub:
        stub.token = token
        yield stub


def _our_env(base: dict[str, str], service: Service) -> dict[str, str]:
    return base | {k: v for k, v in service.env.items() if k.startswith("ST_")}


def _ours(agent: Path, env: dict[str, str], *args: str) -> None:
    proc = subprocess.run([str(agent), *args], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"our freezer-agent exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}"


def _tree(root: Path) -> Path:
    src = root / "src"
    make_tree(src, {"docs/readme.txt": b"interop over swift\n", "data/blob.bin": os.urandom(200_000),
                    "data/log.txt": b"line\n" * 20_000, "empty": b""})
    return src


def test_upstream_backup_our_restore(swift_server: Service, swift_keystone: KeystoneStub, upstream_env: dict[str, str],
                                     our_env: dict[str, str], our_agent: Path, tmp_path: Path) -> None:
    container = f"fz-up-{uuid.uuid4().hex[:8]}"
    src = _tree(tmp_path)
    upstream = upstream_env | swift_keystone.os_env()
    common = ["--storage", "swift", "--container", container, "--backup-name", "srv", "--hostname", HOST,
              "--log-file", str(tmp_path / "upstream.log")]
    backup = [*common, "--path-to-backup", str(src), "--incremental", "--max-level", "2",
              "--max-segment-size", "65536"]
    run_upstream_agent(backup, upstream)
    state0 = tree_state(src)
    (src / "docs/readme.txt").write_bytes(b"changed at level 1\n")
    (src / "data/new.bin").write_bytes(os.urandom(90_000))
    time.sleep(1.1)  # upstream names levels by epoch seconds
    run_upstream_agent(backup, upstream)

    env = swift_server.env
    conn = Connection(authurl=env["ST_AUTH"], user=env["ST_USER"], key=env["ST_KEY"], retries=0)
    manifests = [o["name"] for o in conn.get_container(container, full_listing=True)[1]
                 if o["name"].endswith("/data")]
    assert len(manifests) == 2
    assert all("x-object-manifest" in conn.head_object(container, m) for m in manifests)
    conn.close()

    ours = _our_env(our_env, swift_server)
    out = tmp_path / "restored"
    _ours(our_agent, ours, "--action", "restore", *common[:8], "--restore-abs-path", str(out),
          "--log-file", str(tmp_path / "ours.log"))
    assert tree_state(out) == tree_state(src)
    assert tree_state(out) != state0


def test_our_backup_upstream_restore(swift_server: Service, swift_keystone: KeystoneStub, upstream_env: dict[str, str],
                                     our_env: dict[str, str], our_agent: Path, tmp_path: Path) -> None:
    container = f"fz-ours-{uuid.uuid4().hex[:8]}"
    src = _tree(tmp_path)
    common = ["--storage", "swift", "--container", container, "--backup-name", "srv", "--hostname", HOST]
    _ours(our_agent, _our_env(our_env, swift_server), *common, "--path-to-backup", str(src),
          "--max-segment-size", "65536", "--log-file", str(tmp_path / "ours.log"))
    out = tmp_path / "restored"
    run_upstream_agent(["--action", "restore", *common, "--restore-abs-path", str(out),
                        "--log-file", str(tmp_path / "upstream.log")], upstream_env | swift_keystone.os_env())
    assert tree_state(out) == tree_state(src)
