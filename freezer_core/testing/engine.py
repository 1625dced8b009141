"""``EngineTests``: the conformance suite every engine plugin passes.

Subclass it in a plugin's tests and provide an ``engine_factory`` fixture that
builds a new engine from an options mapping (upstream option dests such as
``dry_run``; fill in your engine's defaults for the rest)::

    from freezer_core.testing.engine import EngineTests

    class TestMyEngine(EngineTests):
        @pytest.fixture
        def engine_factory(self):
            return lambda options: MyEngine({**MY_DEFAULTS, **options})

An engine that makes incremental levels subclasses ``IncrementalEngineTests``
instead, which adds the level 1 and level 2 tests; an engine without levels
(``supports_incremental = False``) uses ``EngineTests`` alone.

Engines must create temporary files through :mod:`tempfile`: the suite points
it at a private directory and checks that nothing is left there once a stream
is closed.  Child processes are checked on Linux (through ``/proc``): a closed
stream or a failed restore must leave none behind, not even a zombie.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from freezer_core.contract import Engine, Source
from freezer_core.errors import EngineError
from freezer_core.testing.trees import Dir, Entry, File, Symlink, make_tree, tree_state

EngineFactory = Callable[[dict[str, Any]], Engine]

ODD_CHUNK_SIZES = (1, 3, 509, 4099, 65537, 1048583)
"""Restore feeds chunks of these sizes in turn: none aligns with a tar block or a pipe buffer."""

OLD = 1_500_000_000
"""An mtime well in the past, so that changes made later are seen as newer."""


def base_tree() -> dict[str, Entry]:
    """The level-0 tree: every kind of entry an engine must carry across."""
    return {
        "top.txt": File(b"top level\n", mtime=OLD),
        "docs/readme.md": File(b"# readme\n" * 100, mode=0o644, mtime=OLD + 1),
        "docs/deep/nested/leaf.bin": File(bytes(range(256)) * 33, mtime=OLD + 2),
        "docs/deep/block.bin": File(b"\x00" * 512, mtime=OLD + 3),
        "bin/run.sh": File(b"#!/bin/sh\necho hi\n", mode=0o755, mtime=OLD + 4),
        "secret/key": File(b"k" * 7, mode=0o600, mtime=OLD + 5),
        "secret": Dir(mode=0o700),
        "empty": Dir(),
        "empty2/inner": Dir(mode=0o750),
        "gone/soon.txt": File(b"to be deleted\n", mtime=OLD + 6),
        "also-gone.txt": File(b"deleted too\n", mtime=OLD + 7),
        "link": Symlink("docs/readme.md"),
        "dangling": Symlink("nowhere/at/all"),
        "zero": File(b"", mtime=OLD + 8),
    }


def odd_chunks(data: bytes) -> Iterator[bytes]:
    """``data`` cut into pieces of :data:`ODD_CHUNK_SIZES`, cycling."""
    pos, i = 0, 0
    while pos < len(data):
        size = ODD_CHUNK_SIZES[i % len(ODD_CHUNK_SIZES)]
        yield data[pos : pos + size]
        pos, i = pos + size, i + 1


def child_pids() -> set[int] | None:
    """Pids whose parent is this process (zombies included), or None where /proc is missing."""
    proc = Path("/proc")
    if not (proc / "self" / "stat").exists():
        return None
    me, found = os.getpid(), set()
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # exited while we looked
        fields = stat.rsplit(")", 1)[-1].split()
        if len(fields) > 1 and int(fields[1]) == me:
            found.add(int(entry.name))
    return found


def wait_for_newer_timestamps(scratch: Path, than_ns: int) -> None:
    """Return once the file system stamps files later than ``than_ns``.

    File times come from a coarse kernel clock, so a file changed a few
    milliseconds after a backup may carry a time from before that backup
    ended; incremental engines (rightly) skip such a file.  Real changes happen
    later than that; the suite waits for the clock instead of being flaky.
    """
    probe = scratch / "clock-probe"
    while True:
        probe.write_bytes(b"")
        if probe.stat().st_mtime_ns > than_ns:
            probe.unlink()
            return
        time.sleep(0.001)


class EngineTests:
    """Subclass and provide an ``engine_factory`` fixture (options dict -> new engine)."""


    # ------------------------------------------------------------ fixtures

    @pytest.fixture
    def engine_factory(self) -> EngineFactory:
        pytest.fail("subclasses of EngineTests must provide an engine_factory fixture")

    @pytest.fixture(autouse=True)
    def engine_tmpdir(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
        """A private temporary directory for the engine, so leftovers can be seen."""
        private = tmp_path / "engine-tmp"
        private.mkdir()
        monkeypatch.setattr(tempfile, "tempdir", str(private))
        monkeypatch.setenv("TMPDIR", str(private))
        return private

    @pytest.fixture
    def engine(self, engine_factory: EngineFactory) -> Engine:
        return engine_factory({})

    # ------------------------------------------------------------ helpers

    def backup(self, engine: Engine, path: Path, previous_state: bytes | list[bytes] | None = None
               ) -> tuple[bytes, bytes]:
        """Run a whole backup; returns (stream bytes, engine state).

        ``previous_state`` is the parent's state or the chain's states (level 0 first); the
        engine gets what its ``chain_state`` asks for, as the backup action hands it.
        """
        states = [previous_state] if isinstance(previous_state, bytes) else list(previous_state or [])
        given: Any = (states or None) if engine.chain_state else (states[-1] if states else None)
        stream = engine.backup(Source(path=path, resource_id="test"), given)
        try:
            data = b"".join(stream)
            state = stream.state()
        finally:
            stream.close()
        return data, state

    def restore(self, engine: Engine, data: bytes, target: Path, level: int) -> None:
        engine.restore(odd_chunks(data), target, level)

    # ------------------------------------------------------------ level 0

    def test_level0_round_trip(self, engine: Engine, tmp_path: Path) -> None:
        src = make_tree(tmp_path / "src", base_tree())
        data, _ = self.backup(engine, src)
        out = tmp_path / "out"
        out.mkdir()
        self.restore(engine, data, out, 0)
        assert tree_state(out) == tree_state(src)

    def test_level0_restore_creates_missing_target(self, engine: Engine, tmp_path: Path) -> None:
        src = make_tree(tmp_path / "src", {"a/b.txt": File(b"b", mtime=OLD)})
        data, _ = self.backup(engine, src)
        out = tmp_path / "not" / "yet" / "there"
        self.restore(engine, data, out, 0)
        assert tree_state(out) == tree_state(src)

    def test_single_file_round_trip(self, engine: Engine, tmp_path: Path) -> None:
        src = make_tree(tmp_path / "src", {"only.dat": File(bytes(range(256)) * 9, mode=0o640, mtime=OLD)})
        make_tree(tmp_path / "src", {"sibling-not-backed-up": b"no"})
        data, _ = self.backup(engine, src / "only.dat")
        out = tmp_path / "out"
        out.mkdir()
        self.restore(engine, data, out, 0)
        expected = tree_state(src)
        del expected["sibling-not-backed-up"]
        assert tree_state(out) == expected

    def test_missing_source_is_an_engine_error(self, engine: Engine, tmp_path: Path) -> None:
        missing = tmp_path / "does-not-exist"
        with pytest.raises(EngineError, match="does-not-exist"):
            stream = engine.backup(Source(path=missing), None)
            try:
                b"".join(stream)
            finally:
                stream.close()

    def test_state_is_bytes_once_iterated(self, engine: Engine, tmp_path: Path) -> None:
        src = make_tree(tmp_path / "src", {"f": b"data"})
        stream = engine.backup(Source(path=src), None)
        try:
            chunks = list(stream)
            state = stream.state()
        finally:
            stream.close()
        assert chunks and all(isinstance(c, bytes) for c in chunks)
        assert isinstance(state, bytes)

    def test_metadata_is_a_json_ready_dict(self, engine: Engine) -> None:
        import json

        meta = engine.metadata()
        assert isinstance(meta, dict)
        json.dumps(meta)

    # ------------------------------------------------------------ closing

    def test_close_is_idempotent_after_completion(
        self, engine: Engine, tmp_path: Path, engine_tmpdir: Path
    ) -> None:
        src = make_tree(tmp_path / "src", {"f": b"data"})
        before = child_pids()
        stream = engine.backup(Source(path=src), None)
        b"".join(stream)
        stream.close()
        stream.close()
        assert isinstance(stream.state(), bytes)
        assert list(engine_tmpdir.iterdir()) == []
        if before is not None:
            assert child_pids() == before

    def test_close_mid_stream_leaves_nothing(
        self, engine: Engine, tmp_path: Path, engine_tmpdir: Path
    ) -> None:
        big = {f"big{i}.bin": os.urandom(4 << 20) for i in range(3)}
        src = make_tree(tmp_path / "src", big)
        before = child_pids()
        stream = engine.backup(Source(path=src), None)
        chunks = iter(stream)
        first = next(chunks)
        assert first
        stream.close()
        stream.close()
        assert list(engine_tmpdir.iterdir()) == []
        if before is not None:
            assert child_pids() == before

    def test_close_before_iteration(self, engine: Engine, tmp_path: Path, engine_tmpdir: Path) -> None:
        src = make_tree(tmp_path / "src", {"f": b"data"})
        stream = engine.backup(Source(path=src), None)
        stream.close()
        stream.close()
        assert list(engine_tmpdir.iterdir()) == []

    # ------------------------------------------------------------ corruption

    def _big_backup(self, engine: Engine, tmp_path: Path) -> bytes:
        spec: dict[str, Entry] = {"a.txt": b"a" * 100, "payload.bin": os.urandom(1 << 20), "z.txt": b"z"}
        data, _ = self.backup(engine, make_tree(tmp_path / "src", spec))
        return data

    def test_truncated_stream_is_an_engine_error(self, engine: Engine, tmp_path: Path) -> None:
        data = self._big_backup(engine, tmp_path)
        before = child_pids()
        with pytest.raises(EngineError):
            self.restore(engine, data[: len(data) // 2], tmp_path / "out", 0)
        if before is not None:
            assert child_pids() == before

    def test_garbage_stream_is_an_engine_error(self, engine: Engine, tmp_path: Path) -> None:
        before = child_pids()
        garbage = bytes((i * 7919 + 13) % 251 for i in range(4096)) * 1024  # 4 MiB, outlives any pipe
        with pytest.raises(EngineError):
            self.restore(engine, garbage, tmp_path / "out", 0)
        if before is not None:
            assert child_pids() == before

    def test_failing_chunk_source_propagates_and_reaps(self, engine: Engine, tmp_path: Path) -> None:
        data = self._big_backup(engine, tmp_path)

        def broken() -> Iterator[bytes]:
            yield data[:10_000]
            raise OSError("storage went away")

        before = child_pids()
        with pytest.raises(OSError, match="storage went away"):
            engine.restore(broken(), tmp_path / "out", 0)
        if before is not None:
            assert child_pids() == before

    # ------------------------------------------------------------ dry run

    def test_dry_run_restore_writes_nothing(self, engine_factory: EngineFactory, tmp_path: Path) -> None:
        src = make_tree(tmp_path / "src", base_tree())
        data, _ = self.backup(engine_factory({}), src)
        out = tmp_path / "out"
        out.mkdir()
        self.restore(engine_factory({"dry_run": True}), data, out, 0)
        assert list(out.iterdir()) == []



class IncrementalEngineTests(EngineTests):
    """``EngineTests`` plus the levels: changes, deletions and chains restore in order."""

    def test_engine_says_it_is_incremental(self, engine: Engine) -> None:
        assert type(engine).supports_incremental is True

    def _modify(self, src: Path, scratch: Path, after_ns: int) -> None:
        """Modify, add and delete entries as a user would after a backup."""
        wait_for_newer_timestamps(scratch, after_ns)
        (src / "docs" / "readme.md").write_bytes(b"# readme, rewritten and longer\n" * 300)
        (src / "bin" / "run.sh").chmod(0o700)
        (src / "bin" / "run.sh").write_bytes(b"#!/bin/sh\necho changed\n")
        (src / "gone" / "soon.txt").unlink()
        (src / "gone").rmdir()
        (src / "also-gone.txt").unlink()
        (src / "link").unlink()
        (src / "link").symlink_to("top.txt")
        make_tree(
            src, {"new/dir/added.txt": b"added after level 0\n", "new/empty": Dir(), "empty/now-full": b"x"}
        )

    def test_level1_restores_changes_and_deletions(self, engine: Engine, tmp_path: Path) -> None:
        src = make_tree(tmp_path / "src", base_tree())
        level0, state0 = self.backup(engine, src)
        level0_tree = tree_state(src)
        self._modify(src, tmp_path, time.time_ns())
        level1, _ = self.backup(engine, src, state0)
        out = tmp_path / "out"
        out.mkdir()
        self.restore(engine, level0, out, 0)
        assert tree_state(out) == level0_tree
        self.restore(engine, level1, out, 1)
        restored = tree_state(out)
        assert "gone/soon.txt" not in restored and "gone" not in restored and "also-gone.txt" not in restored
        assert restored == tree_state(src)

    def test_level2_chain(self, engine: Engine, tmp_path: Path) -> None:
        src = make_tree(tmp_path / "src", base_tree())
        level0, state0 = self.backup(engine, src)
        self._modify(src, tmp_path, time.time_ns())
        level1, state1 = self.backup(engine, src, state0)
        level1_tree = tree_state(src)
        wait_for_newer_timestamps(tmp_path, time.time_ns())
        (src / "new" / "dir" / "added.txt").unlink()
        (src / "top.txt").write_bytes(b"top, level 2\n")
        make_tree(src, {"level2/file": File(b"2", mode=0o755)})
        level2, _ = self.backup(engine, src, [state0, state1])

        out1, out2 = tmp_path / "out1", tmp_path / "out2"
        for level, data in enumerate((level0, level1)):
            self.restore(engine, data, out1, level)
        assert tree_state(out1) == level1_tree
        for level, data in enumerate((level0, level1, level2)):
            self.restore(engine, data, out2, level)
        assert tree_state(out2) == tree_state(src)

    def test_unchanged_level1_restores_the_same_tree(self, engine: Engine, tmp_path: Path) -> None:
        src = make_tree(tmp_path / "src", base_tree())
        level0, state0 = self.backup(engine, src)
        level1, _ = self.backup(engine, src, state0)
        out = tmp_path / "out"
        self.restore(engine, level0, out, 0)
        self.restore(engine, level1, out, 1)
        assert tree_state(out) == tree_state(src)
