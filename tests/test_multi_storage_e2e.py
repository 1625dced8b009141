"""One backup written to S3 and SSH at once; restored from either, even when the other lost it."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import boto3

from freezer_core.testing.trees import tree_state
from tests.services import Service

AGENT = str(Path(sys.executable).with_name("freezer-agent"))


def test_backup_to_s3_and_ssh_then_restore_from_the_survivor(tmp_path: Path, sample_tree: Path,
                                                             s3_server: Service, sshd_server: Service) -> None:
    s3, ssh = s3_server.env, sshd_server.env
    bucket, folder = f"multi-{uuid.uuid4().hex[:8]}", f"multi-{uuid.uuid4().hex[:8]}"
    config = tmp_path / "job.ini"
    config.write_text(f"""[default]
path_to_backup = {sample_tree}
backup_name = multi
hostname = h
incremental = True
max_level = 3

[storage:objects]
storage = s3
container = {bucket}/backups
endpoint = {s3["S3_ENDPOINT"]}
access_key = {s3["S3_ACCESS_KEY"]}
secret_key = {s3["S3_SECRET_KEY"]}

[storage:remote]
storage = ssh
container = {folder}
ssh_host = {ssh["SSH_TEST_HOST"]}
ssh_port = {ssh["SSH_TEST_PORT"]}
ssh_username = {ssh["SSH_TEST_USER"]}
ssh_key = {ssh["SSH_TEST_KEY"]}
ssh_known_hosts = {ssh["SSH_TEST_KNOWN_HOSTS"]}
""")

    def agent(*args: str) -> None:
        done = subprocess.run([AGENT, "--config", str(config), *args, "--log-file", os.devnull],
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr

    agent()
    (sample_tree / "later.txt").write_text("level 1")
    agent()
    ssh_metadata = sorted(p.name for p in (Path(ssh["SSH_TEST_ROOT"]) / folder).rglob("*") if p.is_file())
    client = boto3.client("s3", endpoint_url=s3["S3_ENDPOINT"], aws_access_key_id=s3["S3_ACCESS_KEY"],
                          aws_secret_access_key=s3["S3_SECRET_KEY"], region_name="us-east-1")
    keys = [o["Key"] for o in client.list_objects_v2(Bucket=bucket)["Contents"]]
    assert ssh_metadata.count("metadata") == 2
    assert sum(k.endswith("/metadata") for k in keys) == 2

    for key in keys:  # the S3 copy is lost
        client.delete_object(Bucket=bucket, Key=key)
    out = tmp_path / "out"
    agent("--action", "restore", "--restore-abs-path", str(out))
    assert tree_state(out) == tree_state(sample_tree)
