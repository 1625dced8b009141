from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

# Hook plugins installed on the machine must not change what the tests see.
os.environ.setdefault("FREEZER_DISABLE_PLUGIN_AUTOLOAD", "1")


@pytest.fixture
def sample_tree(tmp_path: Path) -> Path:
    """A small tree with text, binary, nested, empty and linked entries."""
    rng = random.Random(7)
    src = tmp_path / "source"
    for d in range(3):
        sub = src / f"d{d}" / "nested"
        sub.mkdir(parents=True)
        for f in range(5):
            (sub / f"t{f}.txt").write_text(" ".join(rng.choice("abcdef") * 3 for _ in range(300)))
    (src / "blob.bin").write_bytes(rng.randbytes(300_000))
    (src / "empty").mkdir()
    (src / "link").symlink_to("blob.bin")
    (src / "script.sh").write_text("#!/bin/sh\necho hi\n")
    (src / "script.sh").chmod(0o755)
    return src


@pytest.fixture
def pass_file(tmp_path: Path) -> Path:
    p = tmp_path / "pass"
    p.write_text("s3cret passphrase\n")
    return p
