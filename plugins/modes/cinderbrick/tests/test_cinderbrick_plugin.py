"""The cinderbrick mode without a cloud: registration, refusals, and os-brick's side of an attach.

The attach against a real Cinder, and the whole backup and restore, run in tests/test_openstack_osbrick.py.
"""

from __future__ import annotations

import pytest
from freezer_mode_cinderbrick import CinderbrickMode, attach

from freezer_core.errors import ModeError, ValidationError
from freezer_core.plugins import load_class


def test_the_mode_is_registered_and_picks_the_osbrick_engine() -> None:
    assert load_class("mode", "cinderbrick") is CinderbrickMode
    assert CinderbrickMode.preferred_engine({}) == "osbrick"
    assert load_class("engine", "osbrick").name == "osbrick"


@pytest.mark.parametrize(("options", "message"), [
    ({"engine_name": "tar", "cinderbrick_vol_id": "v"}, "not --engine tar: drop --engine"),
    ({"engine_name": "osbrick"}, "needs --cinderbrick-vol-id"),
])
def test_bad_options_fail_before_any_connection(monkeypatch: pytest.MonkeyPatch, options: dict,
                                                message: str) -> None:
    monkeypatch.delenv("OS_AUTH_URL", raising=False)
    for context in (CinderbrickMode(options).prepare, CinderbrickMode(options).restoring):
        with pytest.raises(ValidationError, match=message), context():
            pass


def test_connector_properties_describe_this_host() -> None:
    props = attach.connector_properties("backup-host")
    assert props["host"] == "backup-host" and props["os_type"] == "linux" and props["multipath"] is False


def test_an_unknown_protocol_is_one_clear_error() -> None:
    info = {"driver_volume_type": "carrier_pigeon", "data": {}}
    with pytest.raises(ModeError, match="os-brick could not attach the volume over carrier_pigeon"):
        attach.connect(info)
