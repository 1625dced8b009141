"""Session fixtures for interoperability tests against upstream freezer 19.0.0.

The upstream venv is built once (see ``upstream.py``); if it cannot be built the tests that need
it fail, they are never skipped.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.interop.keystone_stub import KeystoneStub
from tests.interop.upstream import UpstreamUnavailable, agent_path, ensure_upstream_venv

#: Where our own console script lives: next to the interpreter running the tests.
OUR_AGENT = Path(sys.executable).parent / "freezer-agent"


@pytest.fixture(scope="session")
def upstream_venv() -> Path:
    """The venv holding upstream ``freezer==19.0.0`` (built on first use, then cached)."""
    try:
        venv = ensure_upstream_venv()
    except UpstreamUnavailable as exc:
        pytest.fail(f"cannot build the upstream freezer venv: {exc}", pytrace=False)
    assert agent_path(venv).exists()
    return venv


@pytest.fixture(scope="session")
def keystone_stub() -> Iterator[KeystoneStub]:
    """A Keystone v3 double; upstream's agent authenticates against it for every action."""
    with KeystoneStub() as stub:
        yield stub


def _base_env(home: Path) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
        "HOME": str(home),
        # Naive --restore-from-date values are UTC in upstream 19.0.0; make local time agree.
        "TZ": "UTC",
        "LC_ALL": "C.UTF-8",
        "LANG": "C.UTF-8",
    }


@pytest.fixture(scope="session")
def upstream_env(
    upstream_venv: Path, keystone_stub: KeystoneStub, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, str]:
    """Environment for upstream's agent: a private HOME (it creates ``~/.freezer``) and ``OS_*``
    pointing at the Keystone stub."""
    home = tmp_path_factory.mktemp("upstream-home")
    return {**_base_env(home), **keystone_stub.os_env()}


@pytest.fixture(scope="session")
def our_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Environment for our agent: no ``OS_*`` at all, local storage must not need Keystone."""
    home = tmp_path_factory.mktemp("our-home")
    return _base_env(home)


@pytest.fixture(scope="session")
def our_agent() -> Path:
    """Our ``freezer-agent`` console script."""
    if not OUR_AGENT.exists():
        pytest.fail(f"our freezer-agent console script is missing ({OUR_AGENT})", pytrace=False)
    return OUR_AGENT
