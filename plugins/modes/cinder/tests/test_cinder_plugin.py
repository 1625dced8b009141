"""The cinder mode and engine without a cloud: what they refuse before contacting any OpenStack service.

The backup and restore themselves run against a real Cinder and Glance in tests/test_openstack_cinder.py.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest
from freezer_mode_cinder import CinderMode
from freezer_mode_cinder.engine import CinderEngine
from freezer_openstack.images import MAGIC

from freezer_core.contract import Source
from freezer_core.errors import IntegrityError, ValidationError
from freezer_core.plugins import load_class


def _stream(header: dict) -> list[bytes]:
    head = json.dumps(header).encode()
    return [MAGIC + struct.pack(">I", len(head)) + head, b"image bytes"]


def test_the_plugins_are_registered_and_the_mode_picks_its_engine() -> None:
    assert load_class("mode", "cinder") is CinderMode
    assert load_class("engine", "cinder") is CinderEngine
    assert CinderMode.preferred_engine({}) == "cinder"
    assert CinderEngine.supports_incremental is False


@pytest.mark.parametrize(("options", "message"), [
    ({"engine_name": "tar", "cinder_vol_id": "v"}, "not --engine tar: drop --engine"),
    ({"engine_name": "cinder"}, "need --cinder-vol-id or --cinder-vol-name"),
])
def test_bad_options_fail_before_any_connection(monkeypatch: pytest.MonkeyPatch, options: dict,
                                                message: str) -> None:
    monkeypatch.delenv("OS_AUTH_URL", raising=False)  # a connection attempt would fail differently
    with pytest.raises(ValidationError, match=message), CinderMode(options).prepare():
        pass


def test_the_engine_restores_only_cinder_streams(tmp_path: Path) -> None:
    engine = CinderEngine({"dry_run": False})
    with pytest.raises(IntegrityError, match="a glance image, not a cinder volume: restore it with --mode glance"):
        engine.restore(_stream({"kind": "glance", "time_stamp": 1, "image": {}, "resource": {}}), tmp_path, 0)
    with pytest.raises(IntegrityError, match="not an OpenStack image stream"):
        engine.restore([b"tar data, not ours"], tmp_path, 0)
    with pytest.raises(ValidationError, match="use --mode cinder"):
        engine.backup(Source(path=tmp_path), None)


def test_dry_run_restore_creates_nothing(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    header = {"kind": "cinder", "time_stamp": 1700000000, "image": {"id": "i"},
              "resource": {"volume": {"id": "v", "name": "data", "size": 1}}}
    engine = CinderEngine({"dry_run": True})
    with caplog.at_level("INFO"):
        engine.restore(_stream(header), tmp_path, 0)
    assert "would create volume data~1700000000" in caplog.text and engine.restored == []
