"""``StorageTests``: the conformance suite every storage plugin passes.

Use it in a plugin's tests by subclassing it and providing a ``storage``
fixture that returns a fresh, empty storage::

    from freezer_core.testing.storage import StorageTests

    class TestMyStorage(StorageTests):
        @pytest.fixture
        def storage(self, tmp_path):
            return MyStorage(str(tmp_path), {})

Every test here states a promise of the :class:`~freezer_core.contract.Storage`
contract that the core relies on; a storage that passes them all works with
levels, retention, restore and ``info``.
"""

from __future__ import annotations

import concurrent.futures
import uuid

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from freezer_core.contract import Storage, StorageProperties, Upload
from freezer_core.errors import ObjectNotFound

ALL_BYTES = bytes(range(256)) * 4


class StorageTests:
    """Subclass and provide a ``storage`` fixture (a fresh, empty storage)."""

    def test_put_then_get_returns_the_same_bytes(self, storage: Storage) -> None:
        storage.put("a/b/obj", ALL_BYTES)
        assert storage.get("a/b/obj") == ALL_BYTES
        assert storage.size("a/b/obj") == len(ALL_BYTES)

    def test_put_replaces(self, storage: Storage) -> None:
        storage.put("obj", b"first version")
        storage.put("obj", b"2nd")
        assert storage.get("obj") == b"2nd"

    def test_empty_object(self, storage: Storage) -> None:
        storage.put("empty", b"")
        assert storage.get("empty") == b""
        assert storage.size("empty") == 0

    def test_missing_object(self, storage: Storage) -> None:
        assert storage.size("no/such/object") is None
        with pytest.raises(ObjectNotFound):
            storage.get("no/such/object")

    def test_ranged_reads(self, storage: Storage) -> None:
        storage.put("r", ALL_BYTES)
        assert storage.get("r", 10, 20) == ALL_BYTES[10:30]
        assert storage.get("r", 1000) == ALL_BYTES[1000:]
        assert storage.get("r", 1020, 100) == ALL_BYTES[1020:]
        assert storage.get("r", 0, 0) == b""

    def test_list_gives_sorted_direct_children(self, storage: Storage) -> None:
        for name in ["m/t/h_db/20/0_20/metadata", "m/t/h_db/10/0_10/metadata",
                     "m/t/h_db/10/1_11/metadata", "m/t/h_db2/30/0_30/metadata"]:
            storage.put(name, b"{}")
        assert storage.list("m/t") == ["h_db", "h_db2"]
        assert storage.list("m/t/h_db") == ["10", "20"]
        assert storage.list("m/t/h_db/10") == ["0_10", "1_11"]
        assert storage.list("m/t/h_db/10/") == ["0_10", "1_11"]
        assert storage.list("m/t/h_d") == []
        assert storage.list("nothing/here") == []

    def test_walk_lists_every_object_with_its_size(self, storage: Storage) -> None:
        storage.put("w/a", b"1")
        storage.put("w/b/c", b"22")
        storage.put("w2/d", b"333")
        found = {(o.name, o.size) for o in storage.walk("w")}
        assert found == {("w/a", 1), ("w/b/c", 2)}
        assert {o.name for o in storage.walk()} >= {"w/a", "w/b/c", "w2/d"}

    def test_delete_removes_object_and_subtree_but_not_siblings(self, storage: Storage) -> None:
        storage.put("d/db/1/x", b"x")
        storage.put("d/db/2/y", b"y")
        storage.put("d/db2/1/z", b"z")
        storage.delete("d/db")
        assert storage.size("d/db/1/x") is None
        assert storage.size("d/db/2/y") is None
        assert storage.get("d/db2/1/z") == b"z"
        storage.delete("d/db2/1/z")
        assert storage.size("d/db2/1/z") is None

    def test_delete_missing_is_not_an_error(self, storage: Storage) -> None:
        storage.delete("never/existed")

    def test_upload_in_parts_out_of_order_and_concurrently(self, storage: Storage) -> None:
        part = 7919
        data = ALL_BYTES * 40
        pieces = [(i, off, data[off:off + part]) for i, off in enumerate(range(0, len(data), part))]
        upload = storage.open_upload("up/data")
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda p: _hand_over(storage, upload, *p), reversed(pieces)))
        _hand_over(storage, upload, *pieces[1])  # a retried part is harmless
        upload.complete()
        assert storage.size("up/data") == len(data)
        assert storage.get("up/data") == data

    def test_upload_is_invisible_until_complete(self, storage: Storage) -> None:
        upload = storage.open_upload("inv/data")
        upload.write_part(0, 0, b"partial")
        assert storage.size("inv/data") is None
        assert "inv/data" not in {o.name for o in storage.walk()}
        upload.complete()
        assert storage.get("inv/data") == b"partial"

    def test_aborted_upload_leaves_nothing(self, storage: Storage) -> None:
        upload = storage.open_upload("ab/data")
        upload.write_part(0, 0, b"some bytes")
        upload.abort()
        upload.abort()
        assert storage.size("ab/data") is None
        assert [o for o in storage.walk("ab")] == []

    def test_empty_upload_completes_an_empty_object(self, storage: Storage) -> None:
        upload = storage.open_upload("e/data")
        upload.complete()
        assert storage.size("e/data") == 0

    def test_properties(self, storage: Storage) -> None:
        props = storage.properties()
        assert isinstance(props, StorageProperties)
        assert props.connections >= 1
        assert storage.describe()

    def test_behaves_like_a_dict(self, storage: Storage) -> None:
        """A random sequence of operations agrees with a plain dict (the model)."""
        run_state_machine_as_test(
            lambda: _DictModel(storage),
            settings=settings(max_examples=15, stateful_step_count=12, deadline=None,
                              suppress_health_check=list(HealthCheck)),
        )


_names = st.lists(st.sampled_from(["a", "b", "ab", "a2"]), min_size=1, max_size=3).map("/".join)


def _hand_over(storage: Storage, upload: Upload, number: int, offset: int, data: bytes) -> None:
    """Give ``upload`` a part the way the core does.

    A storage that declares ``borrows_parts`` gets a read-only view of a
    buffer that is overwritten as soon as ``write_part`` returns, so a
    storage that keeps the view instead of consuming it stores garbage and
    fails the read-back; any other storage gets ``bytes`` it may keep.
    """
    if not storage.properties().borrows_parts:
        upload.write_part(number, offset, data)
        return
    buffer = bytearray(data)
    upload.write_part(number, offset, memoryview(buffer).toreadonly())  # type: ignore[arg-type]
    buffer[:] = bytes(len(buffer))


class _DictModel(RuleBasedStateMachine):
    def __init__(self, storage: Storage) -> None:
        super().__init__()
        self.storage = storage
        self.base = f"sm-{uuid.uuid4().hex[:8]}"
        self.model: dict[str, bytes] = {}

    def _full(self, name: str) -> str:
        return f"{self.base}/{name}"

    @rule(name=_names, data=st.binary(max_size=64))
    def put(self, name: str, data: bytes) -> None:
        # A name can't be both an object and a directory of objects.
        if any(k.startswith(name + "/") or name.startswith(k + "/") for k in self.model):
            return
        self.storage.put(self._full(name), data)
        self.model[name] = data

    @rule(name=_names)
    def delete(self, name: str) -> None:
        self.storage.delete(self._full(name))
        for k in [k for k in self.model if k == name or k.startswith(name + "/")]:
            del self.model[k]

    @invariant()
    def agrees(self) -> None:
        stored = {o.name[len(self.base) + 1:]: o.size for o in self.storage.walk(self.base)}
        assert stored == {k: len(v) for k, v in self.model.items()}
        for k, v in self.model.items():
            assert self.storage.get(self._full(k)) == v
        top = sorted({k.split("/", 1)[0] for k in self.model})
        assert self.storage.list(self.base) == top
