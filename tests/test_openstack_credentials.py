"""Where the agent finds OpenStack credentials, and that only OpenStack actions look for them."""

from __future__ import annotations

import socket
import threading
from pathlib import Path
from typing import Any

import yaml

from tests.services import Service
from tests.services.openstack import agent


class _Listener:
    """A TCP port that counts the connections made to it (a Keystone that must never be asked)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            conn.close()


def test_local_file_backup_never_contacts_keystone(sample_tree: Path, tmp_path: Path) -> None:
    keystone = _Listener()
    broken = {"OS_AUTH_URL": f"http://127.0.0.1:{keystone.port}/v3", "OS_USERNAME": "nobody",
              "OS_PASSWORD": "wrong", "OS_PROJECT_NAME": "none", "OS_CLOUD": "no-such-cloud",
              "OS_IDENTITY_API_VERSION": "2"}
    bed = Service("none", tmp_path, broken)
    container = tmp_path / "backups"
    backup = agent(bed, "--path-to-backup", str(sample_tree), "--storage", "local", "--container", str(container),
                   "--backup-name", "files")
    assert backup.returncode == 0, backup.stderr
    restore = agent(bed, "--action", "restore", "--storage", "local", "--container", str(container),
                    "--backup-name", "files", "--restore-abs-path", str(tmp_path / "out"))
    assert restore.returncode == 0, restore.stderr
    assert (tmp_path / "out" / "blob.bin").read_bytes() == (sample_tree / "blob.bin").read_bytes()
    keystone.sock.close()
    assert keystone.connections == 0


def _image(cloud: Any, name: str) -> Any:
    made = cloud.image.post("/images", json={"name": name, "container_format": "bare", "disk_format": "raw"}).json()
    cloud.image.put(f"/images/{made['id']}/file", data=b"credentials test image\n" * 1000,
                    headers={"Content-Type": "application/octet-stream"})
    return cloud.image.get_image(made["id"])


def test_clouds_yaml_internal_interface_and_region(openstack_cloud: Service, cloud: Any, tmp_path: Path) -> None:
    env = openstack_cloud.env
    config = tmp_path / "clouds.yaml"
    config.write_text(yaml.safe_dump({"clouds": {"bed": {
        "auth": {"auth_url": env["OS_AUTH_URL"], "username": env["OS_USERNAME"], "password": env["OS_PASSWORD"],
                 "project_name": env["OS_PROJECT_NAME"], "user_domain_name": "Default",
                 "project_domain_name": "Default"},
        "region_name": env["OS_REGION_NAME"], "interface": "internal", "identity_api_version": 3}}}))
    image = _image(cloud, "creds-img")
    only_yaml = Service("yaml", tmp_path, {"OS_CLOUD": "bed", "OS_CLIENT_CONFIG_FILE": str(config)})
    common = ["--mode", "glance", "--engine", "glance", "--glance-image-id", image.id, "--storage", "local",
              "--container", str(tmp_path / "c"), "--backup-name", "img"]
    # no OS_AUTH_URL at all: everything comes from clouds.yaml (the bed's catalog has internal endpoints)
    done = agent(only_yaml, *common, env={"OS_INTERFACE": "internal"})
    assert done.returncode == 0, done.stderr
    assert [p for p in (tmp_path / "c").rglob("metadata") if p.is_file()]

    wrong_region = agent(openstack_cloud, *common, env={"OS_REGION_NAME": "NoSuchRegion"})
    assert wrong_region.returncode != 0 and "Traceback" not in wrong_region.stderr
    assert len(wrong_region.stderr.strip().splitlines()) == 1

    unknown_cloud = agent(only_yaml, *common, env={"OS_CLOUD": "other"})
    assert unknown_cloud.returncode != 0 and "Traceback" not in unknown_cloud.stderr
    assert "other" in unknown_cloud.stderr
    cloud.image.delete_image(image.id)
