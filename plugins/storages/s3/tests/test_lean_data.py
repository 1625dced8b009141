"""The lean botocore data files: same partitions and S3 API as botocore's own, used when written, optional."""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path

import botocore
import pytest
from botocore.loaders import create_loader
from freezer_storage_s3 import S3Storage
from freezer_storage_s3._lean_data import S3_MODEL, lean_data_dir, write_lean_data

from tests.services import Service

BUCKET = "freezer-tests"


def _options(server: Service) -> dict[str, str]:
    env = server.env
    return {"endpoint": env["S3_ENDPOINT"], "access_key": env["S3_ACCESS_KEY"], "secret_key": env["S3_SECRET_KEY"]}


def test_lean_files_keep_every_partition_and_the_whole_s3_api(tmp_path: Path) -> None:
    import json

    write_lean_data(tmp_path / "lean")
    full = create_loader()
    endpoints = json.loads((tmp_path / "lean" / "endpoints.json").read_text())
    original = full.load_data("endpoints")
    assert [p["partition"] for p in endpoints["partitions"]] == [p["partition"] for p in original["partitions"]]
    for lean, orig in zip(endpoints["partitions"], original["partitions"], strict=True):
        assert lean["services"] == {"s3": orig["services"]["s3"]}
        assert lean["regions"] == orig["regions"]
    model = json.loads((tmp_path / "lean" / S3_MODEL).read_text())
    s3 = full.load_service_model("s3", "service-2", "2006-03-01")
    assert model["operations"].keys() == s3["operations"].keys()
    assert model["shapes"].keys() == s3["shapes"].keys()
    assert model["shapes"]["PutObjectRequest"]["members"].keys() == s3["shapes"]["PutObjectRequest"]["members"].keys()
    assert len(json.dumps(model)) < len(json.dumps(s3)) / 3  # the documentation was most of it


def test_the_client_loads_the_lean_files_and_works(s3_server: Service, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    storage = S3Storage(f"{BUCKET}/lean-{uuid.uuid4().hex[:8]}", _options(s3_server))
    try:
        lean = tmp_path / "cache" / "freezer" / f"botocore-{botocore.__version__}"
        assert (lean / "endpoints.json").is_file() and (lean / S3_MODEL).is_file()
        storage.put("a/b", b"lean data")
        assert storage.get("a/b") == b"lean data"
        assert lean_data_dir() == lean  # made once, then found
    finally:
        storage.close()


def test_an_unwritable_cache_only_loses_the_saving(s3_server: Service, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    assert lean_data_dir() is None
    # Every later storage of this process knows it failed: no child is started again.
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: pytest.fail("the failed write was tried again"))
    storage = S3Storage(f"{BUCKET}/lean-{uuid.uuid4().hex[:8]}", _options(s3_server))
    try:
        storage.put("x", b"still works")
        assert storage.get("x") == b"still works"
    finally:
        storage.close()
