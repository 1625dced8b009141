"""Byte compatibility of tar backups with upstream freezer 19.0.0 on local storage.

(a) upstream's freezer-agent writes a chain of levels 0-2 and our agent restores every level;
(b) our agent writes a chain of levels 0-2 and upstream's freezer-agent restores every level.

Both directions run for gzip, bzip2 and xz, unencrypted and with OpenSSL ``enc -aes-256-cfb``
encryption.  A restored tree must equal the source tree as it was when that level was taken:
same relative paths, types, content (sha256), permission bits, file mtimes and symlink targets.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest

from freezer_core.testing.trees import Dir, Entry, File, Symlink, make_tree, tree_state
from tests.interop.upstream import run_upstream_agent

pytestmark = pytest.mark.interop

HOST = "interop-host"
COMPRESSIONS = ("gzip", "bzip2", "xz")
ENCRYPTIONS = ("plain", "openssl")
LEVELS = (0, 1, 2)
PASSPHRASE = "correct horse battery staple\n"
COMBOS = [(c, e) for c in COMPRESSIONS for e in ENCRYPTIONS]
LEVEL_CASES = [pytest.param(c, e, lvl, id=f"{c}-{e}-L{lvl}") for c, e in COMBOS for lvl in LEVELS]
COMBO_CASES = [pytest.param(c, e, id=f"{c}-{e}") for c, e in COMBOS]

State = dict[str, tuple[object, ...]]


# -- the tree and its changes between levels ------------------------------------------------------


def _level0_spec() -> dict[str, Entry]:
    import random

    rng = random.Random(19)
    return {
        "docs/readme.txt": b"Freezer interop tree, level 0\n",
        "docs/notes with space.md": b"# notes\n" * 40,
        "bin/run.sh": File(b"#!/bin/sh\necho run\n", mode=0o755),
        "private/key": File(b"not really a key\n", mode=0o600),
        "locked": Dir(mode=0o700),
        "locked/inside.txt": File(b"inside a 0700 dir\n", mode=0o640),
        "data/blob.bin": rng.randbytes(400_000),
        "data/text.log": b"".join(f"{i:06d} line of a compressible log\n".encode() for i in range(6000)),
        "sizes/511": bytes(511),
        "sizes/512": b"\x01" * 512,
        "sizes/513": b"\x02" * 513,
        "empty.txt": b"",
        "cache": Dir(),
        "deep/a/b/c/d.txt": b"deep\n",
        "\u00fcn\u00ef/c\u00f6d\u00e9.txt": "unicode name \u2603\n".encode(),
        "current": Symlink("docs/readme.txt"),
        "dangling": Symlink("nowhere/at/all"),
        "absolute": Symlink("/etc/hostname"),
    }


def _mutate_level1(src: Path) -> None:
    (src / "docs/readme.txt").write_bytes(b"Freezer interop tree, level 1 (longer than before)\n")
    with (src / "data/text.log").open("ab") as f:
        f.write(b"appended at level 1\n" * 100)
    (src / "private/key").unlink()
    (src / "bin/run.sh").chmod(0o700)
    (src / "current").unlink()
    (src / "current").symlink_to("bin/run.sh")
    make_tree(src, {"new/file.txt": b"new at level 1\n", "new/emptydir": Dir(mode=0o750)})


def _mutate_level2(src: Path) -> None:
    import random

    shutil.rmtree(src / "deep")
    (src / "docs/notes with space.md").rename(src / "docs/renamed.md")
    (src / "data/blob.bin").write_bytes(random.Random(2).randbytes(400_000))  # same size, new bytes
    (src / "empty.txt").unlink()
    (src / "new/file.txt").write_bytes(b"")
    make_tree(src, {"level2.txt": File(b"level 2\n", mode=0o444), "private/key2": File(b"k2", mode=0o600)})


MUTATIONS: tuple[Callable[[Path], None], ...] = (
    lambda src: make_tree(src, _level0_spec()),
    _mutate_level1,
    _mutate_level2,
)


# -- running the agents ---------------------------------------------------------------------------


def _run_ours(agent: Path, args: list[str], env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [str(agent), *args], check=False, env=dict(env), capture_output=True, text=True, timeout=300
    )
    if proc.returncode != 0:
        log = ""
        if "--log-file" in args:
            path = Path(args[args.index("--log-file") + 1])
            if path.exists():
                log = "\n".join(path.read_text(errors="replace").splitlines()[-40:])
        raise AssertionError(
            f"our freezer-agent exited {proc.returncode}: {' '.join(args)}\n--- stdout\n{proc.stdout[-3000:]}\n"
            f"--- stderr\n{proc.stderr[-3000:]}\n--- log\n{log}"
        )
    return proc


@dataclass
class Chain:
    """A level 0-2 chain in a local container plus what each level must restore to."""

    root: Path
    container: Path
    name: str
    compression: str
    pass_file: Path | None
    states: list[State] = field(default_factory=list)
    dates: list[str] = field(default_factory=list)

    def common_args(self, agent: str) -> list[str]:
        """Options shared by backup and restore; ``agent`` ("upstream" or "ours") names the log."""
        args = [
            "--storage",
            "local",
            "--container",
            str(self.container),
            "--backup-name",
            self.name,
            "--hostname",
            HOST,
            "--log-file",
            str(self.root / f"{agent}-agent.log"),
        ]
        if self.pass_file is not None:
            args += ["--encrypt-pass-file", str(self.pass_file)]
        return args

    def restore_args(self, agent: str, level: int, target: Path) -> list[str]:
        args = ["--action", "restore", *self.common_args(agent), "--restore-abs-path", str(target)]
        if level < len(self.dates) - 1:
            args += ["--restore-from-date", self.dates[level]]
        return args


def _build_chain(
    root: Path, compression: str, encryption: str, backup: Callable[[Chain, Path], None]
) -> Chain:
    root.mkdir(parents=True)
    pass_file = None
    if encryption == "openssl":
        pass_file = root / "pass"
        pass_file.write_text(PASSPHRASE)
        pass_file.chmod(0o600)
    chain = Chain(root, root / "container", f"tree-{compression}-{encryption}", compression, pass_file)
    src = root / "src"
    for level, mutate in enumerate(MUTATIONS):
        if level:
            time.sleep(1.1)  # storage names are epoch seconds: keep runs in distinct seconds
        mutate(src)
        chain.states.append(tree_state(src))
        backup(chain, src)
        # Any instant after this run and before the next one selects this level on restore.
        chain.dates.append(datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S"))
    # Every level must look different, or restoring the wrong one could pass unnoticed.
    assert len({repr(state) for state in chain.states}) == len(chain.states)
    return chain


class ChainCache:
    """Builds each (direction, compression, encryption) chain once per session."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._chains: dict[tuple[str, str, str], Chain | Exception] = {}

    def get(self, key: tuple[str, str, str], build: Callable[[Path], Chain]) -> Chain:
        if key not in self._chains:
            try:
                self._chains[key] = build(self.root / "-".join(key))
            except Exception as exc:  # noqa: BLE001 - remembered so every level reports the same failure
                self._chains[key] = exc
        found = self._chains[key]
        if isinstance(found, Chain):
            return found
        raise AssertionError(f"building the {key} chain failed:\n{found}") from found


@pytest.fixture(scope="session")
def chain_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChainCache]:
    yield ChainCache(tmp_path_factory.mktemp("interop-chains"))


@pytest.fixture(scope="session")
def upstream_chain(chain_cache: ChainCache, upstream_env: dict[str, str]) -> Callable[[str, str], Chain]:
    """(a) A chain written by upstream's agent (``--incremental --max-level 3``)."""

    def backup(chain: Chain, src: Path) -> None:
        run_upstream_agent(
            [
                "--action",
                "backup",
                *chain.common_args("upstream"),
                "--path-to-backup",
                str(src),
                "--incremental",
                "--max-level",
                "3",
                "--compression",
                chain.compression,
            ],
            upstream_env,
        )

    def get(compression: str, encryption: str) -> Chain:
        return chain_cache.get(
            ("upstream", compression, encryption),
            lambda root: _build_chain(root, compression, encryption, backup),
        )

    return get


@pytest.fixture(scope="session")
def our_chain(
    chain_cache: ChainCache, our_agent: Path, our_env: dict[str, str]
) -> Callable[[str, str], Chain]:
    """(b) A chain written by our agent, in the OpenSSL format when encrypted."""

    def backup(chain: Chain, src: Path) -> None:
        args = [
            "--action",
            "backup",
            *chain.common_args("ours"),
            "--path-to-backup",
            str(src),
            "--incremental",
            "--max-level",
            "3",
            "--compression",
            chain.compression,
        ]
        if chain.pass_file is not None:
            args += ["--encrypt-format", "openssl"]
        _run_ours(our_agent, args, our_env)

    def get(compression: str, encryption: str) -> Chain:
        return chain_cache.get(
            ("ours", compression, encryption),
            lambda root: _build_chain(root, compression, encryption, backup),
        )

    return get


# -- storage layout -------------------------------------------------------------------------------


def stored_files(container: Path) -> list[tuple[str, ...]]:
    """Files in ``container`` as path components, epoch-second names replaced by their role.

    ``data/tar/h_n/1795671542/1_1795671547/data`` becomes
    ``("data", "tar", "h_n", "<L0>", "1_<ts>", "data")``.
    """
    out: list[tuple[str, ...]] = []
    for path in sorted(p for p in container.rglob("*") if p.is_file()):
        parts = list(path.relative_to(container).parts)
        if len(parts) >= 5 and parts[3].isdigit():
            parts[3] = "<L0>"
            level, _, ts = parts[4].partition("_")
            assert level.isdigit() and ts.isdigit(), f"unexpected level directory {parts[4]!r}"
            parts[4] = f"{level}_<ts>"
        out.append(tuple(parts))
    return out


def expected_layout(name: str) -> list[tuple[str, ...]]:
    key = f"{HOST}_{name}"
    files: list[tuple[str, ...]] = []
    for level in LEVELS:
        files += [
            ("data", "tar", key, "<L0>", f"{level}_<ts>", "data"),
            ("data", "tar", key, "<L0>", f"{level}_<ts>", "engine_metadata"),
        ]
    files += [("metadata", "tar", key, "<L0>", f"{level}_<ts>", "metadata") for level in LEVELS]
    return sorted(files)


def level_dirs(container: Path, kind: str, name: str) -> list[Path]:
    base = container / kind / "tar" / f"{HOST}_{name}"
    (l0,) = [p for p in base.iterdir()]
    return sorted(l0.iterdir(), key=lambda p: int(p.name.split("_")[0]))


# -- tests ----------------------------------------------------------------------------------------


def _fresh(path: Path) -> Path:
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    return path


def _assert_same_tree(restored: Path, expected: State, what: str) -> None:
    got = tree_state(restored)
    if got != expected:
        missing = sorted(set(expected) - set(got))
        extra = sorted(set(got) - set(expected))
        differ = {k: (expected[k], got[k]) for k in sorted(set(got) & set(expected)) if got[k] != expected[k]}
        pytest.fail(f"{what}: restored tree differs\n missing: {missing}\n extra: {extra}\n differ: {differ}")


@pytest.mark.parametrize(("compression", "encryption"), COMBO_CASES)
def test_upstream_writes_reference_layout(
    upstream_chain: Callable[[str, str], Chain], compression: str, encryption: str
) -> None:
    """What upstream stores: the paths, the metadata JSON and the engine state format."""
    chain = upstream_chain(compression, encryption)
    assert stored_files(chain.container) == expected_layout(chain.name)
    data_dirs = level_dirs(chain.container, "data", chain.name)
    meta_dirs = level_dirs(chain.container, "metadata", chain.name)
    assert [d.name for d in data_dirs] == [d.name for d in meta_dirs]
    l0_ts = int(data_dirs[0].parent.name)
    stamps = [int(d.name.split("_")[1]) for d in data_dirs]
    assert stamps[0] == l0_ts and stamps == sorted(set(stamps))
    for d in meta_dirs:
        meta = json.loads((d / "metadata").read_text())
        assert meta == {"engine_name": "tar", "compression": compression, "encryption": encryption != "plain"}
    for d in data_dirs:
        # The GNU listed-incremental snapshot, stored in clear even for encrypted backups.
        assert (d / "engine_metadata").read_bytes().startswith(b"GNU tar-")
        head = (d / "data").read_bytes()[:8]
        if encryption == "openssl":
            assert head == b"Salted__"
        else:
            magic = {"gzip": b"\x1f\x8b", "bzip2": b"BZh", "xz": b"\xfd7zXZ\x00"}[compression]
            assert head.startswith(magic)


@pytest.mark.parametrize(("compression", "encryption", "level"), LEVEL_CASES)
def test_upstream_restores_its_own_backup(
    upstream_chain: Callable[[str, str], Chain],
    upstream_env: dict[str, str],
    compression: str,
    encryption: str,
    level: int,
) -> None:
    """Harness check: upstream round-trips its own chain, so any failure below is ours."""
    chain = upstream_chain(compression, encryption)
    target = _fresh(chain.root / f"upstream-restore-L{level}")
    run_upstream_agent(chain.restore_args("upstream", level, target), upstream_env)
    _assert_same_tree(target, chain.states[level], f"upstream restore of upstream L{level}")


@pytest.mark.parametrize(("compression", "encryption", "level"), LEVEL_CASES)
def test_we_restore_upstream_backup(
    upstream_chain: Callable[[str, str], Chain],
    our_agent: Path,
    our_env: dict[str, str],
    compression: str,
    encryption: str,
    level: int,
) -> None:
    """(a) upstream backs up, we restore each level byte-identically."""
    chain = upstream_chain(compression, encryption)
    target = _fresh(chain.root / f"our-restore-L{level}")
    _run_ours(our_agent, chain.restore_args("ours", level, target), our_env)
    _assert_same_tree(target, chain.states[level], f"our restore of upstream L{level}")


@pytest.mark.parametrize(("compression", "encryption"), COMBO_CASES)
def test_we_write_upstream_layout(
    our_chain: Callable[[str, str], Chain], compression: str, encryption: str
) -> None:
    """(b) our chain is stored where, and in the shape, upstream looks for it."""
    chain = our_chain(compression, encryption)
    stored = stored_files(chain.container)  # also checks every level directory is <level>_<epoch>
    missing = sorted(set(expected_layout(chain.name)) - set(stored))
    assert not missing, f"files upstream reads are missing: {missing}\nstored: {stored}"
    for d in level_dirs(chain.container, "metadata", chain.name):
        meta = json.loads((d / "metadata").read_text())
        # Upstream reads these keys; anything else in the document is ignored by it.
        assert meta["engine_name"] == "tar"
        assert meta["compression"] == compression
        assert bool(meta["encryption"]) is (encryption != "plain")
    for d in level_dirs(chain.container, "data", chain.name):
        if encryption == "openssl":
            assert (d / "data").read_bytes()[:8] == b"Salted__"


@pytest.mark.parametrize(("compression", "encryption", "level"), LEVEL_CASES)
def test_upstream_restores_our_backup(
    our_chain: Callable[[str, str], Chain],
    upstream_env: dict[str, str],
    compression: str,
    encryption: str,
    level: int,
) -> None:
    """(b) we back up, upstream restores each level byte-identically."""
    chain = our_chain(compression, encryption)
    target = _fresh(chain.root / f"upstream-restore-L{level}")
    run_upstream_agent(chain.restore_args("upstream", level, target), upstream_env)
    _assert_same_tree(target, chain.states[level], f"upstream restore of our L{level}")


def test_keystone_stub_is_all_upstream_needs(
    upstream_env: dict[str, str], keystone_stub: object, tmp_path: Path
) -> None:
    """Upstream refuses to run without Keystone (its bug); with the stub it backs up locally."""
    src = make_tree(tmp_path / "src", {"a.txt": b"a\n"})
    args = [
        "--storage",
        "local",
        "--container",
        str(tmp_path / "c"),
        "--path-to-backup",
        str(src),
        "--backup-name",
        "stub",
        "--hostname",
        HOST,
        "--log-file",
        str(tmp_path / "log"),
    ]
    no_keystone = {k: v for k, v in upstream_env.items() if not k.startswith("OS_")}
    proc = run_upstream_agent(args, no_keystone, check=False)
    assert proc.returncode == 1 and "auth_url required" in proc.stderr
    run_upstream_agent(args, upstream_env)
    assert (tmp_path / "c" / "data" / "tar" / f"{HOST}_stub").is_dir()
    assert not (Path(upstream_env["HOME"]) / ".freezer" / "freezer.log").exists()
    assert os.listdir(tmp_path / "c" / "metadata" / "tar" / f"{HOST}_stub")
