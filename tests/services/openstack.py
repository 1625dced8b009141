"""The ``openstack_cloud`` session fixture: a real OpenStack control plane on 127.0.0.1.

``openstack/all_start.sh`` starts Keystone, RabbitMQ, Glance, Swift (Keystone
auth), Cinder (NFS driver on a bind-mounted local directory, cinder-backup to
a local directory) and, when a test asks for ``openstack_nova``, Nova with
Placement, a fake hypervisor and a Neutron stub (the bed's only doubles).
Every service is registered in Keystone's catalog, so clients find them the
normal way.  Each session's bed has its own directory (data, logs, pids) and
free ports, so beds of several sessions on one machine never meet; only the
venvs are shared, in ``~/.cache/freezer-services/openstack`` (override with
``OSBED_CACHE``), installed on first use under a file lock.  ``env`` holds
the ``OS_*`` variables of an admin openrc, ``OSBED`` (the bed's directory)
and the ports.  A bed that fails to start fails the tests.

To iterate on tests without a cold start each time, start a bed by hand
(``OSBED=/tmp/mybed tests/services/openstack/all_start.sh``) and point
``FREEZER_OSBED`` at it: the session then uses that bed and leaves it
running (stop it with ``all_stop.sh``).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.services import Service, read_env_file

HERE = Path(__file__).resolve().parent / "openstack"
BASE_SERVICES = ("keystone", "rabbit", "glance", "swift", "cinder")


def _script(name: str, bed: Path, *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")} | {"OSBED": str(bed)}
    return subprocess.run(["bash", str(HERE / name), *args], env=env, capture_output=True, text=True,
                          timeout=timeout)


def _start(bed: Path, services: tuple[str, ...]) -> Service:
    done = _script("all_start.sh", bed, *services, timeout=1800)
    if done.returncode != 0:
        _stop(bed)
        pytest.fail(f"the OpenStack bed did not start (exit {done.returncode}):\n{done.stdout}\n{done.stderr}",
                    pytrace=False)
    return Service("openstack", bed, read_env_file(bed / "env.sh"))


def _stop(bed: Path) -> None:
    _script("all_stop.sh", bed, timeout=300)


def _alive(pid_file: Path) -> bool:
    try:
        os.kill(int(pid_file.read_text()), 0)
    except (OSError, ValueError):
        return False
    return True


class _Bed:
    """One bed per session; Nova is added only when a test asks for it."""

    service: Service | None = None
    nova = False
    nova_failure = ""


@pytest.fixture(scope="session")
def openstack_cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    given = os.environ.get("FREEZER_OSBED")
    if given:
        env_file = Path(given) / "env.sh"
        if not env_file.is_file():
            pytest.fail(f"FREEZER_OSBED={given}: no running bed there (no env.sh)", pytrace=False)
        _Bed.service = Service("openstack", Path(given), read_env_file(env_file))
        _Bed.nova = _alive(Path(given) / "nova" / "api.pid")
        yield _Bed.service
        return
    bed = tmp_path_factory.mktemp("osbed")
    _Bed.service = _start(bed, BASE_SERVICES)
    try:
        yield _Bed.service
    finally:
        _stop(bed)


@pytest.fixture(scope="session")
def openstack_nova(openstack_cloud: Service) -> Service:
    """The same bed with Nova and Placement started too."""
    if not _Bed.nova and not _Bed.nova_failure:
        done = _script("nova_start.sh", openstack_cloud.directory, timeout=1800)
        if done.returncode != 0:
            _Bed.nova_failure = (f"Nova did not start (exit {done.returncode}):\n"
                                 f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
        _Bed.nova = done.returncode == 0
    if _Bed.nova_failure:
        pytest.fail(_Bed.nova_failure, pytrace=False)  # once tried, never restarted within the session
    return openstack_cloud


def connection(service: Service) -> Any:
    """An admin openstacksdk connection to the bed (for tests to arrange and to check through the real APIs)."""
    import openstack

    env = service.env
    return openstack.connect(auth_url=env["OS_AUTH_URL"], username=env["OS_USERNAME"], password=env["OS_PASSWORD"],
                             project_name=env["OS_PROJECT_NAME"], user_domain_name=env["OS_USER_DOMAIN_NAME"],
                             project_domain_name=env["OS_PROJECT_DOMAIN_NAME"], region_name=env["OS_REGION_NAME"])


AGENT = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "freezer-agent"


def agent(service: Service, *args: str, env: dict[str, str] | None = None,
          timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """Run the real ``freezer-agent`` with the bed's openrc (``OS_*``) and nothing else from ours."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("OS_", "ST_"))}
    full = base | {k: v for k, v in service.env.items() if k.startswith("OS_")} | (env or {})
    return subprocess.run([str(AGENT), *args], env=full, capture_output=True, text=True, timeout=timeout)
