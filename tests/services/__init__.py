"""Real servers for the test session (sshd, SeaweedFS S3, Swift, MariaDB, ...).

Each server has a ``<name>_start.sh`` / ``<name>_stop.sh`` pair in this
folder and a module ``<name>.py`` defining its session fixture with
:func:`start_service`.  Start scripts install what is missing, take their
directory and ports from the environment, and write ``env.sh`` (``export
KEY=VALUE`` lines) describing how to reach the server.

A server that cannot start fails the tests that need it: it is never a skip.
"""

from __future__ import annotations

import os
import shlex
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def read_env_file(path: Path) -> dict[str, str]:
    """The variables of an ``env.sh`` made of ``export KEY=VALUE`` lines."""
    env = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line.startswith("export "):
            key, _, value = line[len("export "):].partition("=")
            env[key] = " ".join(shlex.split(value)) if value else ""
    return env


@dataclass
class Service:
    name: str
    directory: Path
    env: dict[str, str] = field(default_factory=dict)


@contextmanager
def start_service(name: str, directory: Path, env: dict[str, str] | None = None,
                  timeout: float = 600) -> Iterator[Service]:
    """Run ``<name>_start.sh`` with ``env``, yield the :class:`Service`, then ``<name>_stop.sh``."""
    directory.mkdir(parents=True, exist_ok=True)
    full_env = os.environ | (env or {})
    start, stop = HERE / f"{name}_start.sh", HERE / f"{name}_stop.sh"
    done = subprocess.run(["bash", str(start)], env=full_env, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        subprocess.run(["bash", str(stop)], env=full_env, capture_output=True, timeout=120)
        pytest.fail(f"{name} did not start (exit {done.returncode}):\n{done.stdout}\n{done.stderr}", pytrace=False)
    env_file = next((p for p in [directory / "env.sh"] if p.exists()), None)
    service = Service(name, directory, read_env_file(env_file) if env_file else {})
    try:
        yield service
    finally:
        subprocess.run(["bash", str(stop)], env=full_env, capture_output=True, timeout=120)
