"""``freezer-scheduler`` options, config file, daemon life cycle and registration answers.

Options are resolved by the real command (click parsing, oslo.config file,
``OS_*`` environment) up to the scheduler object it would run; the daemon is
started for real (double fork) and driven through its pid file.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from freezer_cli.scheduler import PROG, _settings, build, cli
from freezer_service.scheduler import config
from freezer_service.scheduler.api import Credentials, HttpSource
from tests.api.server import ADMIN, ApiServer
from tests.scheduler.conftest import fs_job, make_tree, read_json, wait_for
from tests.scheduler.test_api_e2e import Project, api

__all__ = ["api"]
SCHEDULER = [sys.executable, "-m", "freezer_cli.scheduler"]


def resolve(*args: str) -> tuple[dict[str, Any], Any]:
    """The settings ``freezer-scheduler start ARGS`` would run with, and the loaded config."""
    ctx = cli.make_context(PROG, ["start", *args])
    opts = dict(ctx.params)
    for key in ("command", "no_daemon"):
        opts.pop(key)
    conf = config.load(list(opts.pop("config_files")))
    return _settings(conf, opts), conf


@pytest.mark.parametrize("flag", ["-f", "--scheduler-jobs-dir", "--conf", "--jobs-dir"])
def test_every_spelling_of_the_jobs_dir(flag: str) -> None:
    values, _ = resolve(flag, "/srv/jobs")
    assert values["jobs_dir"] == "/srv/jobs"


@pytest.mark.parametrize("flag", ["--concurrent-jobs", "--concurrent_jobs", "--scheduler-concurrent-jobs"])
def test_every_spelling_of_concurrent_jobs(flag: str) -> None:
    values, _ = resolve(flag, "3")
    assert values["concurrent_jobs"] == 3


def test_defaults_are_upstreams(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FREEZER_SCHEDULER_CONF_D", raising=False)
    values, _ = resolve()
    assert values["interval"] == 60 and values["concurrent_jobs"] == 1 and values["client_id"] is None
    assert values["no_api"] is False and values["disable_exec"] is False
    assert values["jobs_dir"] == "/etc/freezer/scheduler/conf.d"


def test_config_file_then_flags_then_the_scheduler_built(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``[scheduler]`` beats ``[DEFAULT]``, flags beat the file; capabilities and OS_* reach the client."""
    monkeypatch.setenv("OS_BACKUP_URL", "http://127.0.0.1:9/v2/proj42")
    monkeypatch.setenv("OS_TOKEN", "tok")
    for name in ("OS_AUTH_URL", "OS_PASSWORD", "OS_PROJECT_ID"):
        monkeypatch.delenv(name, raising=False)
    conf_file = tmp_path / "scheduler.conf"
    conf_file.write_text("[DEFAULT]\ninterval = 30\nconcurrent_jobs = 2\n"
                         "[scheduler]\ninterval = 15\ndisable_exec = true\n"
                         "[capabilities]\nsupported_modes = fs,mysql\nsupported_storages = local\n")
    values, conf = resolve("--config-file", str(conf_file), "--concurrent-jobs", "4",
                           "--state-dir", str(tmp_path / "state"))
    assert (values["interval"], values["concurrent_jobs"], values["disable_exec"]) == (15, 4, True)
    sched, client = build(conf, values)
    assert client["client_id"] == f"proj42_{os.uname().nodename}"  # <project_id>_<hostname>
    assert client["supported_modes"] == ["fs", "mysql"] and client["supported_storages"] == ["local"]
    assert "exec" not in client["supported_actions"]  # --disable-exec is advertised
    assert sched.settings.concurrent_jobs == 4 and sched.settings.interval == 15
    assert sched.source.creds.backup_url == "http://127.0.0.1:9/v2/proj42" and sched.source.creds.token == "tok"


def test_service_auth_section_overrides_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OS_USERNAME", "from-env")
    conf_file = tmp_path / "scheduler.conf"
    conf_file.write_text("[service_auth]\npassword = from-file\n")
    _, conf = resolve("--config-file", str(conf_file))
    assert conf.service_auth.username == "from-env" and conf.service_auth.password == "from-file"


@pytest.mark.parametrize(("args", "message"), [
    (["start", "--config-file", "/nonexistent/scheduler.conf"], "config file /nonexistent/scheduler.conf does not"),
    (["start", "--interval", "soon"], "'soon' is not a valid float"),
    (["start", "--timezone", "Mars/Olympus", "-n", "--no-daemon"], "unknown time zone 'Mars/Olympus'"),
    (["start", "--no-daemon"], "no Freezer API given"),
    (["launch"], "'launch' is not one of"),
])
def test_bad_input_is_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    done = subprocess.run([*SCHEDULER, *args, "--pidfile", str(tmp_path / "p.pid"), "--state-dir",
                           str(tmp_path / "s")] if args[0] == "start" else [*SCHEDULER, *args],
                          capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode != 0
    assert done.stderr.startswith(f"{PROG}: error: ") and message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr


@pytest.fixture
def daemon_args(tmp_path: Path) -> Iterator[list[str]]:
    args = ["--pidfile", str(tmp_path / "d.pid"), "--state-dir", str(tmp_path / "state")]
    yield args
    subprocess.run([*SCHEDULER, "stop", *args], capture_output=True, timeout=60)


def test_daemon_start_status_restart_stop(tmp_path: Path, daemon_args: list[str]) -> None:
    """Without ``--no-daemon`` the scheduler detaches; it runs jobs, restarts with a new pid, stops."""
    jobs, store = tmp_path / "jobs", tmp_path / "store"
    jobs.mkdir()
    src = make_tree(tmp_path / "src")
    (jobs / "once.json").write_text(json.dumps(fs_job(src, store, "daemon", {})))
    start = subprocess.run([*SCHEDULER, "start", "-n", "-i", "1", "-f", str(jobs), *daemon_args],
                           capture_output=True, text=True, timeout=60)
    assert start.returncode == 0, start.stderr
    first = wait_for("the daemon's pid file", lambda: (tmp_path / "d.pid").exists()
                     and (tmp_path / "d.pid").read_text().strip())
    status = subprocess.run([*SCHEDULER, "status", *daemon_args], capture_output=True, text=True, timeout=60)
    assert (status.returncode, status.stdout.strip()) == (0, f"freezer-scheduler is running (pid {first})")
    done = wait_for("the job run by the daemon", lambda: read_json(jobs / "once.json.result"))
    assert done["result"] == "success"
    assert "freezer-scheduler started" in (tmp_path / "state" / "scheduler.log").read_text()

    restart = subprocess.run([*SCHEDULER, "restart", "-n", "-i", "1", "-f", str(jobs), *daemon_args],
                             capture_output=True, text=True, timeout=90)
    assert restart.returncode == 0, restart.stderr
    assert f"(pid {first}) stopped" in restart.stderr
    def new_pid() -> str | None:  # between the old daemon's exit and the new one's start there is no pid file
        try:
            pid = (tmp_path / "d.pid").read_text().strip()
        except FileNotFoundError:
            return None
        return pid if pid and pid != first else None

    second = wait_for("the new daemon", new_pid)
    assert not Path(f"/proc/{first}").exists() or "Z" in Path(f"/proc/{first}/stat").read_text().split()[2]

    stop = subprocess.run([*SCHEDULER, "stop", *daemon_args], capture_output=True, text=True, timeout=60)
    assert stop.returncode == 0 and f"(pid {second}) stopped" in stop.stdout
    status = subprocess.run([*SCHEDULER, "status", *daemon_args], capture_output=True, text=True, timeout=60)
    assert status.returncode == 3 and "not running" in status.stdout
    assert read_json(jobs / "once.json.result")["result"] == "success"  # the one-off job did not run again


def test_a_409_on_registration_means_already_registered(api: ApiServer) -> None:
    """Upstream's rule: a client id taken (here: a central client of another project) does not stop the node."""
    owner, member = Project(api), Project(api)
    r = api.call("POST", f"/v2/{owner.id}/clients", ADMIN, {"client_id": "central.example.org", "is_central": True})
    assert r.status_code == 201
    source = HttpSource(Credentials(backup_url=api.url, token=member.token, project_id=member.id))
    assert api.call("POST", f"/v2/{member.id}/clients", member.token,
                    {"client_id": "central.example.org"}).status_code == 409
    source.register({"client_id": "central.example.org", "hostname": "n"})  # no error
    source.register({"client_id": "mine.example.org", "hostname": "n"})
    source.register({"client_id": "mine.example.org", "hostname": "n"})  # registering again is fine
    assert [c["client"]["client_id"] for c in member.call("GET", "clients")["clients"]
            if c["project_id"] == member.id] == ["mine.example.org"]
