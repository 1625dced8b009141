"""freezer-agent end to end on S3: the real command, a real S3 server (SeaweedFS on 127.0.0.1).

Upstream Freezer's S3 storage failed every backup at the metadata upload;
these runs prove backup, incremental backup, restore, info and admin all work,
with credentials given as flags or in upstream's environment variables.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest
from freezer_storage_s3 import S3Storage

from freezer_core.testing.trees import tree_state
from tests.services import Service

AGENT = str(Path(sys.executable).parent / "freezer-agent")
BUCKET = "freezer-e2e"


def agent(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in ("ACCESS_KEY", "SECRET_KEY", "ENDPOINT")}
    return subprocess.run([AGENT, "--log-file", str(tmp_path / "freezer.log"), *args],
                          env=base | (env or {}), capture_output=True, text=True, timeout=300)


def ok(done: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout) if done.stdout.strip() else {}


def flags(server: Service) -> list[str]:
    env = server.env
    return ["--endpoint", env["S3_ENDPOINT"], "--access-key", env["S3_ACCESS_KEY"],
            "--secret-key", env["S3_SECRET_KEY"]]


@pytest.fixture
def container() -> str:
    return f"{BUCKET}/run-{uuid.uuid4().hex[:8]}/some/prefix"


def test_full_incremental_restore_and_info(tmp_path: Path, sample_tree: Path, s3_server: Service,
                                          container: str) -> None:
    where = ["--storage", "s3", "--container", container, "--backup-name", "e2e", "--hostname", "h1",
             *flags(s3_server)]
    backup = [*where, "--path-to-backup", str(sample_tree), "--incremental", "--max-level", "3",
              "--metadata-out", "-"]
    assert ok(agent(tmp_path, *backup))["curr_backup_level"] == 0
    (sample_tree / "d0" / "nested" / "t1.txt").write_text("changed")
    (sample_tree / "added.txt").write_text("new")
    (sample_tree / "d1" / "nested" / "t2.txt").unlink()
    assert ok(agent(tmp_path, *backup))["curr_backup_level"] == 1

    out = tmp_path / "out"
    ok(agent(tmp_path, *where, "--action", "restore", "--restore-abs-path", str(out)))
    assert tree_state(out) == tree_state(sample_tree)

    info = ok(agent(tmp_path, *where, "--action", "info", "--metadata-out", "-"))
    assert [(b["backup_name"], b["chains"], b["backups"]) for b in info["backups"]] == [("h1_e2e", 1, 2)]
    assert info["objects"] == 6  # data, engine_metadata and metadata per level

    removed = ok(agent(tmp_path, *where, "--action", "admin", "--remove-before-date", "2999-01-01T00:00:00",
                       "--metadata-out", "-"))
    assert sorted(b["level"] for b in removed["removed_backups"]) == [0, 1]
    storage = S3Storage(container, {"endpoint": s3_server.env["S3_ENDPOINT"],
                                    "access_key": s3_server.env["S3_ACCESS_KEY"],
                                    "secret_key": s3_server.env["S3_SECRET_KEY"]})
    assert list(storage.walk()) == []
    assert storage.list("data/tar/h1_e2e") == [] and storage.list("metadata/tar/h1_e2e") == []
    storage.close()


def test_backup_of_several_parts_with_credentials_from_the_environment(
        tmp_path: Path, s3_server: Service, container: str) -> None:
    """12 MiB of incompressible data in three multipart parts: ``--max-segment-size 1M`` is raised to S3's 5 MiB."""
    env = {"ENDPOINT": s3_server.env["S3_ENDPOINT"], "ACCESS_KEY": s3_server.env["S3_ACCESS_KEY"],
           "SECRET_KEY": s3_server.env["S3_SECRET_KEY"]}
    src = tmp_path / "src"
    src.mkdir()
    (src / "random.bin").write_bytes(os.urandom(12 * 1024 * 1024))
    where = ["--storage", "s3", "--container", container, "--backup-name", "big", "--hostname", "h1"]
    record = ok(agent(tmp_path, *where, "--path-to-backup", str(src), "--compression", "none",
                      "--max-segment-size", "1M", "--metadata-out", "-", env=env))
    assert record["stored_size"] > 12 * 1024 * 1024

    client = boto3.client("s3", endpoint_url=env["ENDPOINT"], region_name="us-east-1",
                          aws_access_key_id=env["ACCESS_KEY"], aws_secret_access_key=env["SECRET_KEY"])
    bucket, prefix = container.split("/", 1)
    keys = {o["Key"]: o for o in client.list_objects_v2(Bucket=bucket, Prefix=prefix + "/")["Contents"]}
    data_key = next(k for k in keys if k.endswith("/data"))
    assert data_key.startswith(f"{prefix}/data/tar/h1_big/")
    assert client.head_object(Bucket=bucket, Key=data_key, PartNumber=3)["PartsCount"] == 3
    assert client.list_multipart_uploads(Bucket=bucket, Prefix=prefix + "/").get("Uploads", []) == []
    client.close()

    out = tmp_path / "out"
    ok(agent(tmp_path, *where, "--action", "restore", "--restore-abs-path", str(out), env=env))
    assert tree_state(out) == tree_state(src)


def test_wrong_credentials_are_one_line_and_exit_3(tmp_path: Path, sample_tree: Path, s3_server: Service,
                                                   container: str) -> None:
    done = agent(tmp_path, "--storage", "s3", "--container", container, "--path-to-backup", str(sample_tree),
                 "--endpoint", s3_server.env["S3_ENDPOINT"], "--access-key", s3_server.env["S3_ACCESS_KEY"],
                 "--secret-key", "wrong-secret")
    assert done.returncode == 3, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("freezer-agent: error: S3 refused the credentials")
    assert "--access-key/--secret-key" in lines[0]
    assert "Traceback" not in done.stderr + done.stdout
    assert "wrong-secret" not in done.stderr + (tmp_path / "freezer.log").read_text()
