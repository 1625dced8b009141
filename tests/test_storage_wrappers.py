"""Retries, bandwidth limits and several storages at once: the core's storage wrappers."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from freezer_core.contract import StorageProperties
from freezer_core.errors import ObjectNotFound, PermissionDenied, StorageError, TransientStorageError
from freezer_core.pipeline.transfer import download, upload
from freezer_core.storage_wrappers import MultiStorage, RetryingStorage, TokenBucket
from freezer_core.testing.memory import MemoryStorage
from freezer_core.testing.storage import StorageTests
from freezer_core.testing.trees import tree_state

AGENT = str(Path(sys.executable).with_name("freezer-agent"))


class Flaky(MemoryStorage):
    """Fails the first ``failures`` calls of put/get with ``error``."""

    def __init__(self, failures: int, error: Exception) -> None:
        super().__init__()
        self.failures, self.error, self.calls = failures, error, 0

    def _maybe_fail(self) -> None:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error

    def put(self, name: str, data: bytes) -> None:
        self._maybe_fail()
        super().put(name, data)

    def get(self, name: str, offset: int = 0, length: int | None = None) -> bytes:
        self._maybe_fail()
        return super().get(name, offset, length)


def test_transient_errors_are_retried_with_growing_delays() -> None:
    delays: list[float] = []
    inner = Flaky(3, TransientStorageError("connection reset"))
    storage = RetryingStorage(inner, attempts=5, base_delay=1.0, sleep=delays.append)
    storage.put("x", b"1")
    assert inner.objects["x"] == b"1"
    assert len(delays) == 3
    assert delays[0] < delays[1] < delays[2]


def test_permanent_errors_fail_at_once() -> None:
    delays: list[float] = []
    inner = Flaky(1, PermissionDenied("bad credentials"))
    storage = RetryingStorage(inner, sleep=delays.append)
    with pytest.raises(PermissionDenied):
        storage.put("x", b"1")
    assert delays == [] and inner.calls == 1


def test_missing_objects_are_not_retried() -> None:
    delays: list[float] = []
    with pytest.raises(ObjectNotFound):
        RetryingStorage(MemoryStorage(), sleep=delays.append).get("nope")
    assert delays == []


def test_retries_give_up_with_a_clear_error() -> None:
    inner = Flaky(100, ConnectionResetError("reset by peer"))
    with pytest.raises(StorageError, match="reading x on memory:memory failed: reset by peer"):
        RetryingStorage(inner, attempts=3, sleep=lambda _: None).get("x")
    assert inner.calls == 3


class TestRetryingStorageConformance(StorageTests):
    @pytest.fixture
    def storage(self):
        return RetryingStorage(MemoryStorage(), sleep=lambda _: None)


class TestMultiStorageConformance(StorageTests):
    @pytest.fixture
    def storage(self):
        return MultiStorage([MemoryStorage(), MemoryStorage()])


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_token_bucket_holds_the_rate() -> None:
    clock = FakeClock()
    bucket = TokenBucket(1000, clock=clock, sleep=clock.sleep)
    bucket.take(5000)
    assert clock.now == pytest.approx(5.0, rel=0.01)
    bucket.take(500)
    assert clock.now == pytest.approx(5.5, rel=0.01)


def test_multi_storage_writes_everywhere_and_reads_from_any() -> None:
    a, b = MemoryStorage(), MemoryStorage()
    multi = MultiStorage([a, b])
    segments = upload(multi, "d/data", [b"x" * 1000], segment_size=300)
    assert a.objects["d/data"] == b.objects["d/data"] == b"x" * 1000
    a.objects.clear()
    assert b"".join(download(multi, "d/data", segments, segment_size=300)) == b"x" * 1000


def test_multi_storage_takes_the_strictest_limits() -> None:
    class Limited(MemoryStorage):
        def __init__(self, props: StorageProperties) -> None:
            super().__init__()
            self.props = props

        def properties(self) -> StorageProperties:
            return self.props

    multi = MultiStorage([Limited(StorageProperties(connections=8, min_part_size=5, max_parts=10_000)),
                          Limited(StorageProperties(connections=2, max_parts=1000)),
                          Limited(StorageProperties(connections=4, max_object_size=99))])
    assert multi.properties() == StorageProperties(connections=2, min_part_size=5, max_object_size=99,
                                                   max_parts=1000)
    assert MultiStorage([MemoryStorage(), MemoryStorage()]).properties().max_parts is None


def test_multi_storage_fails_loudly_when_one_write_fails() -> None:
    good, bad = MemoryStorage(), Flaky(100, PermissionDenied("read-only"))
    with pytest.raises(StorageError, match="1 of 2 storages"):
        MultiStorage([good, bad]).put("m", b"1")


def test_backup_to_two_storages_and_restore_from_the_survivor(tmp_path: Path, sample_tree: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    config = tmp_path / "job.ini"
    config.write_text(f"""[default]
action = backup
path_to_backup = {sample_tree}
backup_name = multi
hostname = h
incremental = True
max_level = 3

[storage:one]
storage = local
container = {first}

[storage:two]
storage = local
container = {second}
""")
    for _ in range(2):
        done = subprocess.run([AGENT, "--config", str(config), "--log-file", "/dev/null"],
                              capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        (sample_tree / "added.txt").write_text("more")
    expected_files = sorted(p.relative_to(first) for p in first.rglob("*") if p.is_file())
    assert expected_files == sorted(p.relative_to(second) for p in second.rglob("*") if p.is_file())
    assert len([p for p in expected_files if p.name == "metadata"]) == 2
    subprocess.run(["rm", "-rf", str(first)], check=True)
    out = tmp_path / "out"
    done = subprocess.run([AGENT, "--config", str(config), "--action", "restore", "--restore-abs-path", str(out),
                           "--log-file", "/dev/null"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    (sample_tree / "added.txt").unlink()
    restored = tree_state(out)
    assert "added.txt" in restored
    del restored["added.txt"]
    assert restored == tree_state(sample_tree)
