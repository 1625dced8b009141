"""``freezer-scheduler`` configuration: upstream's option names, read with oslo.config.

An upstream ``scheduler.conf`` works as is: ``[DEFAULT]`` or ``[scheduler]``
(``client_id``, ``jobs_dir``, ``interval``, ``no_api``, ``concurrent_jobs``,
``disable_exec``...), ``[capabilities]`` (``supported_actions`` ...) and
``[service_auth]`` whose every option defaults to its ``OS_*`` variable.
Command-line flags override the file.  Our additions: ``timezone``,
``state_dir``, ``pidfile``, ``log_file`` and ``shutdown_grace``.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from oslo_config import cfg

from freezer_core.errors import ConfigError


def _env(name: str) -> str | None:
    return os.environ.get(name) or None


def default_jobs_dir() -> str:
    return os.environ.get("FREEZER_SCHEDULER_CONF_D", "/etc/freezer/scheduler/conf.d")


def default_state_dir() -> str:
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return os.path.join(base, "freezer", "scheduler")


def default_pidfile() -> str:
    user = os.environ.get("USER") or str(os.getuid())
    return os.path.join(os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir(), f"freezer_sched_{user}.pid")


SCHEDULER_OPTS = [
    cfg.StrOpt("client_id", help="Client id (default <project_id>_<hostname>)."),
    cfg.StrOpt("jobs_dir", default=default_jobs_dir(), help="Directory of job files (--no-api)."),
    cfg.FloatOpt("interval", default=60.0, min=0.1, help="Seconds between polls of the API."),
    cfg.BoolOpt("no_api", default=False, help="Read jobs from the jobs directory, not the API."),
    cfg.IntOpt("concurrent_jobs", default=1, min=1, help="Jobs run at the same time."),
    cfg.BoolOpt("disable_exec", default=False, help="Refuse exec actions."),
    cfg.BoolOpt("insecure", default=False, help="Do not verify the API's TLS certificate."),
    cfg.StrOpt("timezone", default="UTC", help="Zone of naive dates and calendar fields in schedules."),
    cfg.StrOpt("state_dir", default=default_state_dir(), help="Run journal and logs of the children."),
    cfg.StrOpt("pidfile", default=default_pidfile(), help="Pid file of the daemon."),
    cfg.StrOpt("log_file", help="Log file (default: <state_dir>/scheduler.log when daemonized)."),
    cfg.FloatOpt("shutdown_grace", default=0.0, min=0,
                 help="On SIGTERM, seconds running jobs may take to finish before they are aborted."),
]
CAPABILITY_OPTS = [cfg.ListOpt(f"supported_{k}", default=[], help=f"Supported {k} (empty: all).")
                   for k in ("actions", "modes", "storages", "engines")]
AUTH_ENV = {"username": "OS_USERNAME", "password": "OS_PASSWORD", "project_name": "OS_PROJECT_NAME",
            "project_id": "OS_PROJECT_ID", "user_domain_name": "OS_USER_DOMAIN_NAME",
            "project_domain_name": "OS_PROJECT_DOMAIN_NAME", "auth_url": "OS_AUTH_URL", "backup_url": "OS_BACKUP_URL",
            "token": "OS_TOKEN", "endpoint_type": "OS_INTERFACE", "cacert": "OS_CACERT",
            "region_name": "OS_REGION_NAME"}


def auth_opts() -> list[cfg.Opt]:
    """``[service_auth]``, each option defaulting to its ``OS_*`` variable as it is now."""
    return [cfg.StrOpt(name, default=_env(env), secret=name in ("password", "token"), help=f"[env: {env}]")
            for name, env in AUTH_ENV.items()]


def load(config_files: list[str]) -> Any:
    """Read the config files (none is fine); ``[scheduler]`` values win over ``[DEFAULT]`` ones."""
    conf = cfg.ConfigOpts()
    conf.register_opts(SCHEDULER_OPTS)
    conf.register_opts(SCHEDULER_OPTS, group="scheduler")
    conf.register_opts(CAPABILITY_OPTS, group="capabilities")
    conf.register_opts(auth_opts(), group="service_auth")
    for path in config_files:
        if not Path(path).is_file():
            raise ConfigError(f"config file {path} does not exist")
    try:
        conf(args=[], project="freezer", prog="freezer-scheduler", default_config_files=config_files)
    except cfg.Error as exc:
        raise ConfigError(f"bad scheduler configuration: {exc}") from None
    return conf


def value(conf: Any, name: str) -> Any:
    """A scheduler option: ``[scheduler]`` if set there, else ``[DEFAULT]``."""
    grouped = getattr(conf.scheduler, name)
    default = next(o.default for o in SCHEDULER_OPTS if o.dest == name)
    return grouped if grouped != default else getattr(conf, name)
