"""The swift storage against a real Swift all-in-one (tempauth), started by the test session."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from freezer_storage_swift import SwiftStorage
from freezer_storage_swift.auth import load_credentials, read_openrc
from swiftclient.client import ClientException, Connection

from freezer_core.errors import ObjectNotFound, PermissionDenied, StorageError, TransientStorageError, ValidationError
from freezer_core.testing.storage import StorageTests
from tests.interop.keystone_stub import KeystoneStub
from tests.services import Service

DATA = "data/tar/host_name/1700000000/0_1700000000/data"
DIR = DATA.rsplit("/", 1)[0]


def _open(service: Service, container: str, **options: object) -> SwiftStorage:
    return SwiftStorage(container, {**{k.lower(): v for k, v in service.env.items() if k.startswith("ST_")},
                                    **options})


def _raw(service: Service) -> Connection:
    env = service.env
    return Connection(authurl=env["ST_AUTH"], user=env["ST_USER"], key=env["ST_KEY"], retries=0)


@pytest.fixture
def container() -> str:
    return f"fz-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def storage(swift_server: Service, container: str) -> Iterator[SwiftStorage]:
    store = _open(swift_server, container)
    yield store
    store.close()


class TestSwiftStorage(StorageTests):
    pass


def test_container_prefix_confines_everything(swift_server: Service, container: str) -> None:
    """``--container name/prefix``: objects live under the prefix and siblings are never touched."""
    raw = _raw(swift_server)
    raw.put_container(container)
    raw.put_object(container, "some/prefix2/sibling", b"keep")
    raw.put_object(container, "some/prefix", b"an object named like the prefix")
    store = _open(swift_server, f"{container}/some/prefix/")
    store.put("m/t/h_db/1/0_1/metadata", b"{}")
    _upload(store, "d/t/h_db/1/0_1/data", [b"12", b"34"])
    assert raw.head_object(container, "some/prefix/d/t/h_db/1/0_1/data")["x-object-manifest"] == (
        f"{container}/some/prefix/d/t/h_db/1/0_1/segments/")
    assert store.list("") == ["d", "m"]
    assert store.get("d/t/h_db/1/0_1/data", 1, 2) == b"23"
    assert {o.name for o in store.walk()} == {"m/t/h_db/1/0_1/metadata", "d/t/h_db/1/0_1/data",
                                              "d/t/h_db/1/0_1/segments/00000000",
                                              "d/t/h_db/1/0_1/segments/00000001"}
    store.delete("")
    assert list(store.walk()) == []
    assert sorted(o["name"] for o in raw.get_container(container)[1]) == ["some/prefix", "some/prefix2/sibling"]


def _upload(store: SwiftStorage, name: str, parts: list[bytes]) -> None:
    up = store.open_upload(name)
    offset = 0
    for number, part in enumerate(parts):
        up.write_part(number, offset, part)
        offset += len(part)
    up.complete()


def test_layout_is_upstreams_dlo(swift_server: Service, storage: SwiftStorage, container: str) -> None:
    parts = [b"a" * 1000, b"b" * 1000, b"c" * 10]
    _upload(storage, DATA, parts)
    raw = _raw(swift_server)
    headers = raw.head_object(container, DATA)
    assert headers["x-object-manifest"] == f"{container}/{DIR}/segments/"
    assert int(headers["content-length"]) == 2010
    names = {o["name"]: o["bytes"] for o in raw.get_container(container, full_listing=True)[1]}
    assert names == {DATA: 0, f"{DIR}/segments/00000000": 1000, f"{DIR}/segments/00000001": 1000,
                     f"{DIR}/segments/00000002": 10}
    assert raw.get_object(container, DATA)[1] == b"".join(parts)
    assert storage.list(DIR) == ["data", "segments"]
    assert sum(o.size for o in storage.walk("data")) == 2010


def test_ranged_reads_across_segments(storage: SwiftStorage) -> None:
    parts = [bytes([i]) * 100 for i in range(5)]
    whole = b"".join(parts)
    _upload(storage, DATA, parts)
    assert storage.size(DATA) == 500
    assert storage.get(DATA, 95, 210) == whole[95:305]
    assert storage.get(DATA, 399) == whole[399:]
    assert storage.get(DATA, 500, 10) == b""


def test_slo_option(swift_server: Service, container: str) -> None:
    store = _open(swift_server, container, swift_slo="true")
    parts = [b"x" * 300, b"y" * 300, b"z"]
    _upload(store, DATA, parts)
    headers = _raw(swift_server).head_object(container, DATA)
    assert headers.get("x-static-large-object") == "True"
    assert store.get(DATA) == b"".join(parts)
    assert store.get(DATA, 250, 100) == (b"".join(parts))[250:350]
    assert sum(o.size for o in store.walk()) == 601  # the manifest counts 0, its segments count
    store.delete(DATA)
    assert list(store.walk()) == []
    # One SLO manifest lists at most 1000 segments, so the core grows them along a long upload.
    assert store.properties().max_parts == 1000
    assert _open(swift_server, container).properties().max_parts is None  # a DLO has no limit


def test_abort_removes_segments(storage: SwiftStorage) -> None:
    up = storage.open_upload(DATA)
    up.write_part(0, 0, b"1" * 50)
    up.write_part(1, 50, b"2" * 50)
    assert len(list(storage.walk(DIR))) == 2
    up.abort()
    assert list(storage.walk()) == []


def test_deleting_a_manifest_deletes_its_segments(storage: SwiftStorage) -> None:
    _upload(storage, DATA, [b"1" * 10, b"2" * 10])
    storage.put(f"{DIR}/engine_metadata", b"state")
    storage.delete(DATA)
    assert [o.name for o in storage.walk()] == [f"{DIR}/engine_metadata"]


def test_stale_segments_never_join_a_manifest(storage: SwiftStorage) -> None:
    _upload(storage, DATA, [b"old" * 10, b"old" * 10, b"old"])
    _upload(storage, DATA, [b"new"])
    assert storage.get(DATA) == b"new"


def test_subtree_delete_uses_many_objects(storage: SwiftStorage) -> None:
    for i in range(25):
        storage.put(f"bulk/{i:03d}", b"x")
    storage.put("bulk2/keep", b"k")
    storage.delete("bulk")
    assert [o.name for o in storage.walk()] == ["bulk2/keep"]


def test_default_container_and_describe(swift_server: Service) -> None:
    store = _open(swift_server, "")
    assert store.bucket == "freezer_backups"
    assert store.describe() == "swift:freezer_backups"


def test_wrong_key_is_permission_denied(swift_server: Service, container: str) -> None:
    store = _open(swift_server, container, st_key="not-the-key")
    with pytest.raises(PermissionDenied, match=r"Swift refused the credentials: check .*ST_USER/ST_KEY") as info:
        store.list("")
    assert "not-the-key" not in str(info.value)
    assert store.is_permanent(info.value)


def test_unreachable_auth_url_names_it(swift_server: Service, container: str) -> None:
    store = _open(swift_server, container, st_auth="http://127.0.0.1:9/auth/v1.0")
    with pytest.raises(StorageError, match=r"http://127.0.0.1:9/auth/v1.0") as info:
        store.size("x")
    assert not store.is_permanent(info.value)


def test_is_permanent() -> None:
    store = SwiftStorage("c", {"st_auth": "http://127.0.0.1:9/auth/v1.0", "st_user": "a:b", "st_key": "k"})
    for status in (500, 503, 408, 429):
        assert not store.is_permanent(ClientException("x", http_status=status))
    for status in (401, 403, 404):
        assert store.is_permanent(ClientException("x", http_status=status))
    assert not store.is_permanent(ConnectionError())
    assert not store.is_permanent(TransientStorageError("x"))
    assert store.is_permanent(ObjectNotFound("x"))


def test_missing_credentials_say_what_to_set() -> None:
    with pytest.raises(ValidationError, match="OS_AUTH_URL.*ST_AUTH"):
        load_credentials({}, environ={})


def test_openrc_file(tmp_path: Path) -> None:
    rc = tmp_path / "openrc.sh"
    rc.write_text("#!/usr/bin/env bash\nexport OS_AUTH_URL=https://keystone.example:5000/v3\n"
                  "export OS_USERNAME='ops user'\nunset OS_TENANT_ID\n"
                  'read -sr OS_PASSWORD_INPUT\nexport OS_PASSWORD=$OS_PASSWORD_INPUT\n'
                  'export OS_INTERFACE=internal\nOS_REGION_NAME="RegionTwo"\n')
    assert read_openrc(str(rc), {}) == {"OS_AUTH_URL": "https://keystone.example:5000/v3",
                                        "OS_USERNAME": "ops user", "OS_INTERFACE": "internal",
                                        "OS_REGION_NAME": "RegionTwo"}
    creds = load_credentials({"osrc": str(rc)}, environ={"OS_PASSWORD": "pw", "ST_AUTH": "http://x"})
    assert creds.keystone and creds.interface == "internal" and creds.region == "RegionTwo"
    assert creds.values["OS_PASSWORD"] == "pw"


def test_keystone_v3_credentials(swift_server: Service, container: str) -> None:
    """OS_* through keystoneauth: the catalog's object-store endpoint and token are used.

    The identity service is a double that hands out a real tempauth token, so
    the Swift side (and the token check) is real.
    """
    raw = _raw(swift_server)
    url, token = raw.get_auth()
    catalog = [{"type": "object-store", "name": "swift", "id": "s", "endpoints": [
        {"id": "e", "interface": "internal", "region": "RegionOne", "region_id": "RegionOne", "url": url}]}]
    with KeystoneStub(catalog) as stub:
        stub.token = token
        env = stub.os_env() | {"OS_INTERFACE": "internal"}
        store = SwiftStorage(container, {k.lower(): v for k, v in env.items()})
        store.put("k/obj", b"via keystone")
        assert raw.get_object(container, "k/obj")[1] == b"via keystone"
        assert json.dumps(store.list("k")) == '["obj"]'
        wrong_region = SwiftStorage(container, {**{k.lower(): v for k, v in env.items()},
                                                "os_region_name": "Nowhere"})
        with pytest.raises(StorageError, match="no object-store endpoint"):
            wrong_region.size("k/obj")
        store.close()
        wrong_region.close()
