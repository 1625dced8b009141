"""Build and run upstream Freezer (``freezer==19.0.0`` from PyPI) in a venv of its own.

The venv lives at ``<repo>/.venv-upstream/venv`` (override the cache directory with
``FREEZER_UPSTREAM_CACHE``) and is built once by :func:`tests.venvs.cached_venv`, which
rebuilds it when the pins change and serialises builds so parallel test workers do not race.

Every dependency is pinned (``UPSTREAM_CONSTRAINTS``) to the set that was verified to install
and run on CPython 3.11: ``freezer==19.0.0`` itself installs from wheels/sdists without extra
pins, but its dependency tree is wide (openstacksdk, oslo.*, eventlet, os-brick, tooz, ...) and a
future release of any of them could break the upstream agent, so the working combination is
frozen here.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from tests.venvs import VenvBuildError, cached_venv

REPO_ROOT = Path(__file__).resolve().parents[2]
UPSTREAM_REQUIREMENT = "freezer==19.0.0"

#: The dependency set of freezer 19.0.0 verified on CPython 3.11 (``pip freeze`` of a working venv).
UPSTREAM_CONSTRAINTS: tuple[str, ...] = (
    "APScheduler==3.11.3",
    "autopage==0.6.0",
    "bcrypt==5.0.0",
    "botocore==1.44.8",
    "certifi==2026.10.19.post1",
    "cffi==2.1.1",
    "charset-normalizer==3.5.3",
    "cliff==4.17.0",
    "cmd2==4.3.1",
    "cryptography==50.0.2",
    "debtcollector==3.1.0",
    "decorator==5.3.1",
    "dnspython==2.9.2",
    "dogpile.cache==1.5.0",
    "eventlet==0.41.3",
    "fasteners==0.20",
    "freezer==19.0.0",
    "futurist==3.5.0",
    "greenlet==3.5.6",
    "idna==3.20",
    "invoke==3.0.3",
    "iso8601==2.1.0",
    "jmespath==1.1.0",
    "jsonpatch==1.48",
    "jsonpointer==3.12",
    "keystoneauth1==5.18.1",
    "markdown-it-py==4.3.0",
    "mdurl==0.1.2",
    "msgpack==1.2.4",
    "netaddr==1.3.0",
    "openstacksdk==4.22.0",
    "os-brick==7.1.1",
    "os-service-types==1.9.0",
    "osc-lib==4.7.0",
    "oslo.concurrency==7.6.1",
    "oslo.config==10.7.0",
    "oslo.context==6.5.0",
    "oslo.i18n==6.9.0",
    "oslo.log==8.3.2",
    "oslo.privsep==3.12.0",
    "oslo.serialization==5.11.0",
    "oslo.service==4.8.0",
    "oslo.utils==10.2.0",
    "packaging==26.4",
    "paramiko==5.1.0",
    "Paste==3.10.1",
    "PasteDeploy==3.1.0",
    "pbr==7.1.3",
    "platformdirs==4.14.8",
    "prettytable==3.18.0",
    "prompt_toolkit==3.0.53",
    "psutil==7.2.2",
    "pycparser==3.12",
    "Pygments==2.21.0",
    "pymongo==4.20.1",
    "PyMySQL==1.2.4",
    "PyNaCl==1.6.2",
    "pyparsing==3.3.3",
    "pyperclip==1.11.0",
    "python-cinderclient==9.10.0",
    "python-dateutil==2.9.0.post0",
    "python-freezerclient==6.5.0",
    "python-keystoneclient==6.0.0",
    "python-neutronclient==14.0.0",
    "python-novaclient==18.13.1",
    "python-swiftclient==4.11.0",
    "PyYAML==6.0.4",
    "repoze-lru==0.8",
    "requests==2.34.2",
    "rfc3986==2.0.0",
    "rich==15.0.0",
    "rich-argparse==1.8.0",
    "Routes==2.5.1",
    "six==1.17.0",
    "stevedore==5.10.0",
    "tenacity==9.2.1",
    "tooz==9.1.0",
    "typing_extensions==4.16.0",
    "tzlocal==5.4.5",
    "urllib3==2.8.0",
    "voluptuous==0.16.0",
    "wcwidth==0.9.4",
    "WebOb==1.8.11",
    "wrapt==2.5.2",
    "yappi==1.7.6",
)


UpstreamUnavailable = VenvBuildError
"""The upstream venv could not be built."""


def cache_dir() -> Path:
    """Directory holding the upstream venv and its build lock (git-ignored)."""
    return Path(os.environ.get("FREEZER_UPSTREAM_CACHE", REPO_ROOT / ".venv-upstream"))


def venv_dir() -> Path:
    return cache_dir() / "venv"


def agent_path(venv: Path | None = None) -> Path:
    return (venv or venv_dir()) / "bin" / "freezer-agent"


def ensure_upstream_venv(python: str | None = None, timeout: float = 900.0) -> Path:
    """Return the upstream venv, building it first if it is missing or stale.

    Raises :class:`UpstreamUnavailable` (with pip's output) when the build fails.
    """
    return cached_venv(venv_dir(), (UPSTREAM_REQUIREMENT,), constraints=UPSTREAM_CONSTRAINTS,
                       provides="freezer-agent", python=python or sys.executable, timeout=timeout)


def run_upstream_agent(
    args: Sequence[str],
    env: Mapping[str, str],
    *,
    cwd: str | os.PathLike[str] | None = None,
    timeout: float = 300.0,
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    """Run upstream ``freezer-agent`` with ``args`` in exactly ``env`` (nothing is inherited).

    ``env`` should carry ``PATH``, ``HOME`` (upstream creates ``~/.freezer``) and the ``OS_*``
    variables of a reachable Keystone (see ``keystone_stub``).  Pass ``--log-file`` in ``args``,
    or upstream logs to ``~/.freezer/freezer.log``.  With ``check`` a non-zero exit raises
    :class:`AssertionError` carrying stdout, stderr and the log file's tail.
    """
    venv = ensure_upstream_venv()
    cmd = [str(agent_path(venv)), *args]
    proc = subprocess.run(
        cmd, check=False, env=dict(env), cwd=cwd, capture_output=True, text=True, timeout=timeout
    )
    if check and proc.returncode != 0:
        log_tail = ""
        argv = list(args)
        if "--log-file" in argv:
            log = Path(argv[argv.index("--log-file") + 1])
            if log.exists():
                log_tail = "\n".join(log.read_text(errors="replace").splitlines()[-40:])
        raise AssertionError(
            f"upstream freezer-agent exited {proc.returncode}: {' '.join(cmd)}\n--- stdout\n{proc.stdout[-3000:]}\n"
            f"--- stderr\n{proc.stderr[-3000:]}\n--- log\n{log_tail}"
        )
    return proc
