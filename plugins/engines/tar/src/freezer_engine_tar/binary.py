"""Finding a GNU tar binary.

Only GNU tar writes the listed-incremental archives (dumpdir members, snapshot
file) that upstream Freezer stores, so a BSD or busybox tar is refused up
front instead of failing halfway through a backup.
"""

from __future__ import annotations

import shutil
import subprocess

from freezer_core.errors import EngineError

CANDIDATES = ("gnutar", "gtar", "tar")
"""Names tried in order, as upstream does: BSD systems install GNU tar as gnutar or gtar."""

NOT_FOUND = "GNU tar is required by the tar engine: install it (apt-get install tar)"


def find_gnu_tar() -> str:
    """Absolute path of the first GNU tar on PATH, or EngineError."""
    for name in CANDIDATES:
        path = shutil.which(name)
        if path and is_gnu_tar(path):
            return path
    raise EngineError(NOT_FOUND)


def is_gnu_tar(path: str) -> bool:
    """True when ``path --version`` identifies itself as GNU tar."""
    try:
        result = subprocess.run(
            [path, "--version"],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return False
    first_line = result.stdout.split(b"\n", 1)[0]
    return result.returncode == 0 and b"GNU tar" in first_line
