"""Pinned virtual environments for third-party programs the tests drive (upstream Freezer, clients, Keystone).

Each lives outside our own ``.venv`` and is built once, then reused: building takes minutes, so it is
cached across test runs.  A stamp file inside the venv lists the Python version, the requirements and
the constraints it was built from; when the caller's pins differ from the stamp (or the stamp or the
expected program is missing, e.g. after an interrupted build) the venv is removed and built again.
Builds are serialised with an exclusive lock on ``<venv>.lock`` beside it, so parallel pytest sessions
never build the same venv twice or use one half-built.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

STAMP = ".freezer-stamp"
TAIL_LINES = 30


def services_cache() -> Path:
    """Where the test servers' and clients' venvs are kept: ``$FREEZER_SERVICES_CACHE``, default
    ``~/.cache/freezer-services`` (outside the repository, shared by every checkout)."""
    return Path(os.environ.get("FREEZER_SERVICES_CACHE", Path.home() / ".cache" / "freezer-services"))


class VenvBuildError(RuntimeError):
    """A venv could not be built; the message ends with the failing command's last output lines."""


def cached_venv(
    venv: Path,
    requirements: Sequence[str],
    *,
    constraints: Sequence[str] = (),
    provides: str,
    python: str = sys.executable,
    pip_cache: Path | None = None,
    timeout: float = 1200.0,
) -> Path:
    """The venv at ``venv`` with ``requirements`` installed under ``constraints``, built if missing or stale.

    ``provides`` names a program the install must put in ``bin`` (``freezer-agent``, ``gunicorn``...): its
    absence marks the venv broken.  ``pip_cache`` overrides pip's download cache.

    :raises VenvBuildError: naming the failing step, with its last lines of output.
    """
    venv.parent.mkdir(parents=True, exist_ok=True)
    want = stamp_text(requirements, constraints, python)
    stamp = venv / STAMP
    with open(venv.with_name(venv.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if stamp.is_file() and stamp.read_text() == want and (venv / "bin" / provides).exists():
            return venv
        shutil.rmtree(venv, ignore_errors=True)
        _run([python, "-m", "venv", str(venv)], timeout)
        pinned = venv / "constraints.txt"
        pinned.write_text("".join(f"{line}\n" for line in constraints))
        env = os.environ | ({"PIP_CACHE_DIR": str(pip_cache)} if pip_cache else {})
        _run([str(venv / "bin" / "python"), "-m", "pip", "install", "--disable-pip-version-check", "-q",
              "-c", str(pinned), *requirements], timeout, env)
        if not (venv / "bin" / provides).exists():
            raise VenvBuildError(f"building {venv}: {provides} is missing from bin/ after installing "
                                 + " ".join(requirements))
        stamp.write_text(want)
        return venv


def stamp_text(requirements: Sequence[str], constraints: Sequence[str], python: str = sys.executable) -> str:
    """What a venv's stamp says: its interpreter's version, then each requirement and pin on a line."""
    version = sys.version.split()[0] if python == sys.executable else subprocess.run(
        [python, "-c", "import sys; print(sys.version.split()[0])"], capture_output=True, text=True,
        check=True).stdout.strip()
    lines = [f"# python {version}", *requirements, "# constraints", *constraints]
    return "".join(f"{line}\n" for line in lines)


def _run(cmd: list[str], timeout: float, env: dict[str, str] | None = None) -> None:
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise VenvBuildError(f"{' '.join(cmd)}: {exc}") from exc
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).splitlines()[-TAIL_LINES:])
        raise VenvBuildError(f"{' '.join(cmd)} exited {done.returncode}:\n{tail}")
