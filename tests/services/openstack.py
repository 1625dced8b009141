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
and the ports.  A bed that fails to start fails the tests.  The tests share
the ``cloud`` (an admin connection) and ``tenant`` (a fresh project)
fixtures and the functions below: run the agent, freeze a daemon, find a
volume's bytes, list what Freezer may have left behind.

To iterate on tests without a cold start each time, start a bed by hand
(``OSBED=/tmp/mybed tests/services/openstack/all_start.sh``) and point
``FREEZER_OSBED`` at it: the session then uses that bed and leaves it
running (stop it with ``all_stop.sh``).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.services import Service, read_env_file

HERE = Path(__file__).resolve().parent / "openstack"
BASE_SERVICES = ("keystone", "rabbit", "glance", "swift", "cinder")


def _env(bed: Path) -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("OS_")} | {"OSBED": str(bed)}


def _script(name: str, bed: Path, *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(HERE / name), *args], env=_env(bed), capture_output=True, text=True,
                          timeout=timeout)


def _stop(bed: Path) -> None:
    _script("all_stop.sh", bed, timeout=300)


def _alive(pid_file: Path) -> bool:
    try:
        os.kill(int(pid_file.read_text()), 0)
    except (OSError, ValueError):
        return False
    return True


class _Bed:
    """One bed per session, started in the background as soon as the tests that need it are collected.

    A cold start takes minutes, mostly spent waiting on services; starting it
    when collection ends lets the rest of the suite run meanwhile.  Nova is
    included when a collected test asks for ``openstack_nova``.
    """

    directory: Path | None = None
    starting: subprocess.Popen[bytes] | None = None
    services: tuple[str, ...] = ()
    service: Service | None = None
    nova = False
    nova_failure = ""

    @classmethod
    def begin(cls, services: tuple[str, ...]) -> None:
        cls.directory = Path(tempfile.mkdtemp(prefix="freezer-osbed-"))
        cls.services = services
        with open(cls.directory / "all-start.log", "wb") as log:
            cls.starting = subprocess.Popen(["bash", str(HERE / "all_start.sh"), *services], env=_env(cls.directory),
                                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    @classmethod
    def ready(cls) -> Service:
        """Wait for the start begun by :meth:`begin`; fail the test if the bed did not come up."""
        assert cls.starting is not None and cls.directory is not None
        try:
            code = cls.starting.wait(timeout=1800)
        except subprocess.TimeoutExpired:
            os.killpg(cls.starting.pid, signal.SIGKILL)
            code = -1
        if code != 0:
            log = (cls.directory / "all-start.log").read_text(errors="replace")[-4000:]
            cls.end()
            pytest.fail(f"the OpenStack bed did not start (exit {code}):\n{log}", pytrace=False)
        cls.nova = "nova" in cls.services
        return Service("openstack", cls.directory, read_env_file(cls.directory / "env.sh"))

    @classmethod
    def end(cls) -> None:
        if cls.starting is None or cls.directory is None:
            return
        if cls.starting.poll() is None:
            os.killpg(cls.starting.pid, signal.SIGTERM)
            cls.starting.wait(timeout=60)
        _stop(cls.directory)
        shutil.rmtree(cls.directory, ignore_errors=True)
        cls.starting = None


@pytest.hookimpl(tryfirst=True)  # before ``-m`` deselects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test on the bed ``openstack``: ``make test`` runs them in a pytest of their own."""
    for item in items:
        if "openstack_cloud" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.openstack)


def pytest_collection_finish(session: pytest.Session) -> None:
    if os.environ.get("FREEZER_OSBED") or session.config.option.collectonly:
        return
    wanted = {name for item in session.items for name in getattr(item, "fixturenames", ())}
    if "openstack_cloud" in wanted:
        _Bed.begin(BASE_SERVICES + (("nova",) if "openstack_nova" in wanted else ()))


def pytest_sessionfinish(session: pytest.Session) -> None:
    _Bed.end()  # also when the session stopped before any bed test ran


@pytest.fixture(scope="session")
def openstack_cloud() -> Iterator[Service]:
    given = os.environ.get("FREEZER_OSBED")
    if given:
        env_file = Path(given) / "env.sh"
        if not env_file.is_file():
            pytest.fail(f"FREEZER_OSBED={given}: no running bed there (no env.sh)", pytrace=False)
        _Bed.service = Service("openstack", Path(given), read_env_file(env_file))
        _Bed.nova = _alive(Path(given) / "nova" / "api.pid")
        yield _Bed.service
        return
    if _Bed.starting is None:
        _Bed.begin(BASE_SERVICES)
    _Bed.service = _Bed.ready()
    try:
        yield _Bed.service
    finally:
        _Bed.end()


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


@pytest.fixture(scope="module")
def cloud(openstack_cloud: Service) -> Iterator[Any]:
    """An admin connection to the bed for one test module.

    A test that also asks for ``openstack_nova`` gets Nova in the catalog: the
    session fixture is set up before this module one.
    """
    conn = connection(openstack_cloud)
    yield conn
    conn.close()


@pytest.fixture(scope="module")
def tenant(openstack_cloud: Service, cloud: Any) -> Iterator[Project]:
    """A fresh project of this module, the bed's admin user an admin in it (own quotas, nothing of other tests)."""
    made = cloud.identity.create_project(name=f"freezer-tenant-{os.urandom(4).hex()}", domain_id="default")
    me = cloud.identity.find_user(openstack_cloud.env["OS_USERNAME"])
    cloud.identity.assign_project_role_to_user(made, me, cloud.identity.find_role("admin"))
    conn = cloud.connect_as_project({"id": made.id, "domain_id": made.domain_id})
    yield Project(made.id, made.name, conn)
    conn.close()


@dataclass
class Project:
    """A project of the bed: its id and name, and an admin connection scoped to it."""

    id: str
    name: str
    conn: Any

    @property
    def env(self) -> dict[str, str]:
        """The ``OS_*`` overrides that log the agent into this project."""
        return {"OS_PROJECT_NAME": self.name, "OS_PROJECT_DOMAIN_NAME": "Default"}


def backing_file(service: Service, volume_id: str) -> Path:
    """The file holding a volume's bytes (the NFS driver keeps it as ``volume-<id>`` on the share)."""
    return Path(service.env["OSBED"]) / "cinder" / "export" / f"volume-{volume_id}"


def new_volume(conn: Any, name: str) -> Any:
    """A blank 1 GiB volume (Cinder's minimum), once available."""
    volume = conn.block_storage.create_volume(size=1, name=name)
    return conn.block_storage.wait_for_status(volume, "available", failures=["error"], wait=300)


def temporaries(conn: Any, volume_id: str, prefix: str = "freezer_") -> list[str]:
    """Every snapshot of the volume, and every volume and image named like Freezer's temporaries, in any project."""
    left = [f"snapshot {s.id} ({s.status})" for s in conn.block_storage.snapshots(details=True, all_projects=True)
            if s.volume_id == volume_id]
    left += [f"volume {v.id} {v.name} ({v.status})" for v in conn.block_storage.volumes(all_projects=True)
             if (v.name or "").startswith(prefix)]
    left += [f"image {i.id} {i.name} ({i.status})" for i in conn.image.images()
             if (i.name or "").startswith(prefix)]
    return left


def connection(service: Service) -> Any:
    """An admin openstacksdk connection to the bed (for tests to arrange and to check through the real APIs)."""
    import openstack

    env = service.env
    return openstack.connect(auth_url=env["OS_AUTH_URL"], username=env["OS_USERNAME"], password=env["OS_PASSWORD"],
                             project_name=env["OS_PROJECT_NAME"], user_domain_name=env["OS_USER_DOMAIN_NAME"],
                             project_domain_name=env["OS_PROJECT_DOMAIN_NAME"], region_name=env["OS_REGION_NAME"])


AGENT = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "freezer-agent"


def agent_env(service: Service, env: dict[str, str] | None = None) -> dict[str, str]:
    """Our environment without any ``OS_*``/``ST_*``, plus the bed's openrc (and ``env``)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("OS_", "ST_"))}
    return base | {k: v for k, v in service.env.items() if k.startswith("OS_")} | (env or {})


def agent(service: Service, *args: str, env: dict[str, str] | None = None,
          timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """Run the real ``freezer-agent`` with the bed's openrc (``OS_*``) and nothing else from ours."""
    return subprocess.run([str(AGENT), *args], env=agent_env(service, env), capture_output=True, text=True,
                          timeout=timeout)


def start_agent(service: Service, *args: str) -> subprocess.Popen[str]:
    """Start ``freezer-agent`` as :func:`agent` runs it, without waiting (for tests that act while it runs)."""
    return subprocess.Popen([str(AGENT), *args], env=agent_env(service), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, preexec_fn=_interruptible)


def _interruptible() -> None:
    """Ctrl-C as a terminal gives it: a pytest started with ``&`` from a script passes SIGINT on ignored."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        found.append(todo.pop())
        todo.extend(children.get(found[-1], []))
    return found


@contextmanager
def paused(service: Service, daemon: str) -> Iterator[None]:
    """Freeze one of the bed's daemons and its workers (``"cinder/volume"``: its pid file's path).

    Requests it should serve stay in their first state ("creating") until the
    block ends, so a test can make a ``--timeout`` expire for certain instead
    of hoping the machine is slower than the timeout.
    """
    pids = _descendants(int((Path(service.env["OSBED"]) / f"{daemon}.pid").read_text()))
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        for pid in pids:
            os.kill(pid, signal.SIGCONT)


def wait_for_log(proc: subprocess.Popen[str], log: Path, text: str, timeout: float = 300) -> None:
    """Wait until the running agent's ``--log-file`` holds ``text`` (fail if the agent ends first)."""
    deadline = time.monotonic() + timeout
    while not (log.exists() and text in log.read_text(errors="replace")):
        if proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"freezer-agent ended (exit {proc.returncode}) before logging {text!r}:\n{err}{out}")
        if time.monotonic() > deadline:
            pytest.fail(f"freezer-agent did not log {text!r} within {timeout:g} s")
        time.sleep(0.2)


def agent_timing_out(service: Service, frozen: str, log: Path, *args: str) -> tuple[int, str]:
    """Run the agent with ``--timeout 1`` while the daemon ``frozen`` is paused (see :func:`paused`).

    The daemon is resumed once the agent logs its cleanup, so the cleanup itself
    still goes through the real APIs.  Returns the exit code and stderr.
    """
    with paused(service, frozen):
        proc = start_agent(service, *args, "--timeout", "1", "--log-file", str(log))
        wait_for_log(proc, log, "removing temporary")
    _, err = proc.communicate(timeout=600)
    return proc.returncode, err
