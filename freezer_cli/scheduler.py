"""``freezer-scheduler start|stop|restart|status``: the node daemon that runs jobs.

Option names are upstream freezer-scheduler's (``-c/--client-id``,
``-i/--interval``, ``-f/--scheduler-jobs-dir/--conf``, ``-n/--no-api``,
``--concurrent-jobs``, ``--disable-exec``, ``--no-daemon``, ``--config-file``),
plus ``--jobs-dir``, which upstream documents but does not accept.  Flags
override the config file; every failure is one line on stderr.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click

from freezer_core.errors import ConfigError, FreezerError

PROG = "freezer-scheduler"
LOG = logging.getLogger("freezer.scheduler")


def _fail(message: str, code: int) -> None:
    click.echo(f"{PROG}: error: {' '.join(str(message).split())}", err=True)
    sys.exit(code)


def _settings(conf: Any, opts: dict[str, Any]) -> dict[str, Any]:
    from freezer_service.scheduler import config

    values = {name: config.value(conf, name) for name in
              ("client_id", "jobs_dir", "interval", "no_api", "concurrent_jobs", "disable_exec", "insecure",
               "timezone", "state_dir", "pidfile", "log_file", "shutdown_grace")}
    values.update({k: v for k, v in opts.items() if v not in (None, False)})
    return values


def _capabilities(conf: Any, disable_exec: bool) -> dict[str, list[str]]:
    from freezer_service.scheduler.core import CAPABILITY_KEYS

    caps = {cap: list(getattr(conf.capabilities, cap)) for cap in CAPABILITY_KEYS.values()}
    if disable_exec:
        actions = caps["supported_actions"] or ["backup", "restore", "info", "admin", "exec"]
        caps["supported_actions"] = [a for a in actions if a != "exec"]
    return {k: v for k, v in caps.items() if v}


def build(conf: Any, values: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """The scheduler object and the client document it registers."""
    from freezer_service.scheduler.api import Credentials, HttpSource
    from freezer_service.scheduler.core import Scheduler, Settings, default_client_id
    from freezer_service.scheduler.files import FileSource
    from freezer_service.scheduler.runner import ChildExecutor, Journal

    try:
        zone = ZoneInfo(values["timezone"])
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"--timezone: unknown time zone {values['timezone']!r}") from None
    state = Path(values["state_dir"]).expanduser()
    source: Any
    if values["no_api"]:
        source = FileSource(Path(values["jobs_dir"]).expanduser())
        client_id = values["client_id"] or default_client_id(None)
    else:
        auth = conf.service_auth
        source = HttpSource(Credentials(
            backup_url=auth.backup_url, token=auth.token, auth_url=auth.auth_url, username=auth.username,
            password=auth.password, project_id=auth.project_id, project_name=auth.project_name,
            user_domain_name=auth.user_domain_name or "Default",
            project_domain_name=auth.project_domain_name or "Default",
            interface=auth.endpoint_type or "public", insecure=values["insecure"], cacert=auth.cacert))
        client_id = values["client_id"] or default_client_id(source.project_id)
    caps = _capabilities(conf, values["disable_exec"])
    journal = Journal(state / "runs" / client_id)
    executor = ChildExecutor(journal, log_path=state / "actions.log")
    settings = Settings(client_id, interval=float(values["interval"]), concurrent_jobs=int(values["concurrent_jobs"]),
                        disable_exec=bool(values["disable_exec"]), zone=zone, capabilities=caps)
    client = {"client_id": client_id, "hostname": os.uname().nodename,
              "description": "freezer-scheduler", **caps}
    return Scheduler(source, settings, executor, journal), client


def serve(conf: Any, values: dict[str, Any], daemon: bool) -> None:
    from freezer_service.scheduler.daemon import PidFile, daemonize

    state = Path(values["state_dir"]).expanduser()
    state.mkdir(parents=True, exist_ok=True, mode=0o700)
    log_file = values["log_file"] or (str(state / "scheduler.log") if daemon else None)
    pidfile = PidFile(values["pidfile"])
    if pidfile.running() is not None:
        raise FreezerError(f"freezer-scheduler is already running (pid {pidfile.running()})")
    scheduler, client = build(conf, values)
    if daemon:
        assert log_file is not None
        daemonize(log_file)
    handlers: list[logging.Handler] = [logging.FileHandler(log_file)] if log_file and not daemon else []
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s",
                        handlers=handlers or None, force=True)
    pidfile.acquire()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        scheduler.start(client)
        LOG.info("freezer-scheduler started: client %s, polling every %.0f s", client["client_id"],
                 scheduler.settings.interval)
        while not stop.is_set():
            wake = scheduler.tick()
            stop.wait(min(max((wake - scheduler.clock.now()).total_seconds(), 0.05), scheduler.settings.interval))
        grace = float(values["shutdown_grace"])
        LOG.info("stopping: running jobs are %s", f"given {grace:.0f} s" if grace else "aborted and reported")
        scheduler.shutdown(float(values["shutdown_grace"]))
    finally:
        pidfile.release()


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("command", type=click.Choice(["start", "stop", "restart", "status"]))
@click.option("-c", "--client-id", "--client_id", "client_id", help="Client id [<project_id>_<hostname>].")
@click.option("-i", "--interval", type=float, help="Seconds between polls [60].")
@click.option("-f", "--scheduler-jobs-dir", "--conf", "--jobs-dir", "--jobs_dir", "jobs_dir",
              help="Jobs directory for --no-api [/etc/freezer/scheduler/conf.d].")
@click.option("-n", "--no-api", "no_api", is_flag=True, default=None, help="Run jobs from the jobs directory.")
@click.option("--no-daemon", is_flag=True, help="Stay in the foreground (systemd, containers).")
@click.option("--concurrent-jobs", "--concurrent_jobs", "--scheduler-concurrent-jobs", "concurrent_jobs",
              type=int, help="Jobs run at the same time [1].")
@click.option("--disable-exec", is_flag=True, default=None, help="Refuse exec actions.")
@click.option("--insecure", is_flag=True, default=None, help="Do not verify the API's TLS certificate.")
@click.option("--config-file", "config_files", multiple=True, help="oslo.config file (repeatable).")
@click.option("--timezone", help="Zone of naive schedule dates and calendar fields [UTC].")
@click.option("--state-dir", help="Run journal directory [~/.local/state/freezer/scheduler].")
@click.option("--pidfile", help="Pid file [$XDG_RUNTIME_DIR or /tmp/freezer_sched_<user>.pid].")
@click.option("--log-file", help="Log file [<state-dir>/scheduler.log when daemonized, else stderr].")
@click.option("--shutdown-grace", type=float, help="Seconds jobs may finish in on SIGTERM before abort [0].")
def cli(command: str, no_daemon: bool, config_files: tuple[str, ...], **opts: Any) -> None:
    """Run Freezer jobs on this node: COMMAND is start, stop, restart or status."""
    from freezer_service.scheduler import config
    from freezer_service.scheduler.daemon import PidFile

    conf = config.load(list(config_files))
    values = _settings(conf, opts)
    pidfile = PidFile(values["pidfile"])
    if command == "status":
        pid = pidfile.running()
        click.echo(f"freezer-scheduler is running (pid {pid})" if pid else "freezer-scheduler is not running")
        sys.exit(0 if pid else 3)
    if command in ("stop", "restart"):
        pid = pidfile.stop()
        click.echo(f"freezer-scheduler (pid {pid}) stopped" if pid else "freezer-scheduler was not running",
                   err=command == "restart")
        if command == "stop":
            return
    serve(conf, values, daemon=not no_daemon)


def main(argv: list[str] | None = None) -> None:
    try:
        cli.main(argv, prog_name=PROG, standalone_mode=False)
    except click.ClickException as exc:
        _fail(exc.format_message(), 2)
    except click.Abort:
        _fail("interrupted", 8)
    except FreezerError as exc:
        _fail(exc.message, exc.exit_code)


if __name__ == "__main__":
    main()
