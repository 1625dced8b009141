"""Lean copies of the botocore data files an S3 client keeps in memory: about 10 MiB less per agent.

A botocore S3 client parses all of ``endpoints.json`` (every AWS service in
every partition, 1.2 MB) and the S3 model with its documentation (1.4 MB)
into Python objects that live as long as the client: about 10 MiB of RSS,
in an agent whose whole data pipeline is bounded to 32 MiB.  The copies keep
every partition with its regions, and every S3 operation and shape; they drop
the other services' endpoints and empty the documentation strings.

They are written once per botocore version into the user's cache directory,
by a child process (so the agent itself never holds the full files), and put
first on the client session's data path; files they do not replace (the
endpoint rules, paginators, ...) still come from botocore.  When they cannot
be written (read-only home, ...) the client loads botocore's own files, as
usual: only the memory saving is lost.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import botocore

LOG = logging.getLogger("freezer.storage.s3")

S3_MODEL = Path("s3") / "2006-03-01" / "service-2.json"


def lean_data_dir() -> Path | None:
    """The directory of lean data files for the installed botocore, made on first use; None if it cannot be."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    target = cache / "freezer" / f"botocore-{botocore.__version__}"
    if (target / "endpoints.json").is_file() and (target / S3_MODEL).is_file():
        return target
    return target if _made(target) else None


@functools.cache
def _made(target: Path) -> bool:
    """Write ``target`` in a child process, once per process: an unwritable cache is not retried per storage."""
    try:
        done = subprocess.run([sys.executable, "-m", __name__, str(target)], capture_output=True, text=True,
                              timeout=120, check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        LOG.debug("lean botocore data not written: %s", exc)
        return False
    if done.returncode != 0:
        LOG.debug("lean botocore data not written: %s", done.stderr.strip()[-500:])
        return False
    return True


def _without_documentation(node: Any) -> Any:
    """Documentation strings emptied, not removed: botocore reads the keys (for docstrings)."""
    if isinstance(node, dict):
        return {k: "" if k == "documentation" else _without_documentation(v) for k, v in node.items()
                if k != "documentationUrl"}
    if isinstance(node, list):
        return [_without_documentation(v) for v in node]
    return node


def write_lean_data(target: Path) -> None:
    """Write the lean ``endpoints.json`` and S3 model into ``target``, atomically (concurrent agents race here)."""
    from botocore.loaders import create_loader

    loader = create_loader()
    endpoints = loader.load_data("endpoints")
    for partition in endpoints["partitions"]:
        partition["services"] = {name: value for name, value in partition["services"].items() if name == "s3"}
    model = _without_documentation(loader.load_service_model("s3", "service-2", "2006-03-01"))

    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        (staging / S3_MODEL).parent.mkdir(parents=True)
        (staging / "endpoints.json").write_text(json.dumps(endpoints, separators=(",", ":")))
        (staging / S3_MODEL).write_text(json.dumps(model, separators=(",", ":")))
        try:
            staging.rename(target)
        except OSError:  # another agent got there first: its copy is as good
            if not (target / S3_MODEL).is_file():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


if __name__ == "__main__":
    write_lean_data(Path(sys.argv[1]))
