"""python-freezerclient 6.5.0 and python-openstackclient (PyPI) in a venv of their own, outside the repository.

The venv lives at ``$FREEZER_SERVICES_CACHE/freezerclient-venv`` (default
``~/.cache/freezer-services``) and is built once by :func:`tests.venvs.cached_venv`,
which rebuilds it when the pins change.  Every dependency is pinned
(:data:`CONSTRAINTS`, the ``pip freeze`` of a venv verified on CPython 3.11) so
that a later release of any of them cannot change what the tests compare against.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.venvs import VenvBuildError, cached_venv, services_cache

REQUIREMENTS = ("python-freezerclient==6.5.0", "python-openstackclient==10.5.0")
CONSTRAINTS: tuple[str, ...] = (
    "autopage==0.6.0",
    "certifi==2026.10.19.post1",
    "cffi==2.1.1",
    "charset-normalizer==3.5.3",
    "cliff==4.17.0",
    "cmd2==4.3.1",
    "cryptography==50.0.2",
    "debtcollector==3.1.0",
    "decorator==5.3.1",
    "dogpile.cache==1.5.0",
    "idna==3.20",
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
    "os-service-types==1.9.0",
    "osc-lib==4.7.0",
    "oslo.config==10.7.0",
    "oslo.context==6.5.0",
    "oslo.i18n==6.9.0",
    "oslo.log==8.3.2",
    "oslo.serialization==5.11.0",
    "oslo.utils==10.2.0",
    "packaging==26.4",
    "pbr==7.1.3",
    "platformdirs==4.14.8",
    "prettytable==3.18.0",
    "prompt_toolkit==3.0.53",
    "psutil==7.2.2",
    "pycparser==3.12",
    "Pygments==2.21.0",
    "pyparsing==3.3.3",
    "pyperclip==1.11.0",
    "python-dateutil==4.0.0",
    "python-freezerclient==6.5.0",
    "python-keystoneclient==6.0.0",
    "python-manilaclient==6.3.0",
    "python-openstackclient==10.5.0",
    "PyYAML==6.0.4",
    "requests==2.34.2",
    "rfc3986==2.0.0",
    "rich==15.0.0",
    "rich-argparse==1.8.0",
    "stevedore==5.10.0",
    "typing_extensions==4.16.0",
    "tzdata==2026.6",
    "urllib3==2.8.0",
    "wcwidth==0.9.4",
    "wrapt==2.5.2",
)


def venv_dir() -> Path:
    return services_cache() / "freezerclient-venv"


def ensure_venv(timeout: float = 1200.0) -> Path:
    """The venv's ``bin`` directory, building the venv first if it is missing or stale (failing the test
    if that fails)."""
    try:
        venv = cached_venv(venv_dir(), REQUIREMENTS, constraints=CONSTRAINTS, provides="freezer", timeout=timeout)
    except VenvBuildError as exc:
        pytest.fail(f"building the python-freezerclient venv failed: {exc}", pytrace=False)
    return venv / "bin"
