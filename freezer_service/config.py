"""``freezer-api`` configuration: upstream Freezer API's option names, read with oslo.config.

An upstream ``freezer-api.conf`` works as it is: ``[DEFAULT] bind_host`` and
``bind_port``, ``[storage] backend`` (or the older ``driver``), ``[database]
connection``, ``[keystone_authtoken]`` and ``[oslo_policy]``.  Our additions
are ``[DEFAULT] auth_strategy`` and ``[embedded_auth] tokens_file``.

The sample file ``etc/freezer-api.conf.sample`` is generated from
:func:`list_opts` by ``python -m freezer_service.config etc/freezer-api.conf.sample``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from oslo_config import cfg

from freezer_core.errors import ConfigError
from freezer_service.db.elasticsearch import options as elasticsearch_options


def default_state_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(base) / "freezer"


DEFAULT_OPTS = [
    cfg.HostAddressOpt("bind_host", default="127.0.0.1", help="Address the API listens on."),
    cfg.PortOpt("bind_port", default=9090, help="Port the API listens on."),
    cfg.StrOpt("auth_strategy", choices=["embedded", "keystone"],
               help="How callers authenticate: 'embedded' (tokens from [embedded_auth] tokens_file) or "
                    "'keystone' (keystonemiddleware with [keystone_authtoken]). Unset: keystone when "
                    "[keystone_authtoken] names a Keystone, else embedded."),
    cfg.IntOpt("api_threads", default=16, min=1, help="Threads serving requests."),
]
STORAGE_OPTS = [
    cfg.StrOpt("backend", default="sqlalchemy", deprecated_name="driver",
               help="Metadata backend: a name registered under the freezer.db.backends entry points."),
]
DATABASE_OPTS = [
    cfg.StrOpt("connection", secret=True,
               help="SQLAlchemy URL of the metadata database. Default: a SQLite file "
                    "freezer-api.sqlite in $XDG_DATA_HOME/freezer (~/.local/share/freezer)."),
]
EMBEDDED_AUTH_OPTS = [
    cfg.StrOpt("tokens_file", help="INI file mapping tokens to users, projects and roles "
                                   "(sections [user:NAME] with token or token_sha256, project_id, roles)."),
]
KEYSTONE_HINT_OPTS = [
    cfg.StrOpt("www_authenticate_uri", help="Keystone public endpoint (read by keystonemiddleware)."),
    cfg.StrOpt("auth_url", help="Keystone endpoint keystonemiddleware authenticates with."),
]


def list_opts() -> list[tuple[str, list[Any]]]:
    """Every option, by group (the oslo-config-generator hook).

    ``[oslo_policy]`` and ``[keystone_authtoken]`` belong to oslo.policy and keystonemiddleware,
    which register them themselves when the service starts; they are listed here for the sample.
    """
    from keystonemiddleware import auth_token
    from oslo_policy import opts as policy_opts

    return [("DEFAULT", DEFAULT_OPTS), ("storage", STORAGE_OPTS), ("database", DATABASE_OPTS),
            ("embedded_auth", EMBEDDED_AUTH_OPTS), (elasticsearch_options.GROUP, elasticsearch_options.OPTS),
            *policy_opts.list_opts(), *auth_token.list_opts()]


def load(argv: list[str] | None = None) -> cfg.ConfigOpts:
    """Parse the command line (``--config-file``, ``--config-dir``) and the files it names."""
    conf = cfg.ConfigOpts()
    for group, opts in (("DEFAULT", DEFAULT_OPTS), ("storage", STORAGE_OPTS), ("database", DATABASE_OPTS),
                        ("embedded_auth", EMBEDDED_AUTH_OPTS)):
        conf.register_opts(opts, group=None if group == "DEFAULT" else group)
    conf.register_cli_opts([cfg.BoolOpt("db-sync", default=False,
                                        help="Create or migrate the database schema, then exit.")])
    try:
        conf(argv if argv is not None else sys.argv[1:], project="freezer", prog="freezer-api",
             default_config_files=[], default_config_dirs=[])
    except (cfg.Error, OSError) as exc:
        raise ConfigError(f"freezer-api configuration: {exc}") from exc
    return conf


def keystone_configured(conf: cfg.ConfigOpts) -> bool:
    """True when the files have a [keystone_authtoken] section naming a Keystone."""
    probe = cfg.ConfigOpts()
    probe.register_opts(KEYSTONE_HINT_OPTS, group="keystone_authtoken")
    probe([], project="freezer", default_config_files=list(conf.config_file or []), default_config_dirs=[])
    return bool(probe.keystone_authtoken.www_authenticate_uri or probe.keystone_authtoken.auth_url)


def database_url(conf: cfg.ConfigOpts) -> str:
    if conf.database.connection:
        return str(conf.database.connection)
    state = default_state_dir()
    state.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{state / 'freezer-api.sqlite'}"


def write_sample(output: str) -> None:
    """Write the sample file with oslo-config-generator's formatter."""
    from unittest import mock

    from oslo_config import generator

    conf = cfg.ConfigOpts()
    generator.register_cli_opts(conf)
    conf(["--namespace", "freezer-api", "--output-file", output, "--wrap-width", "79"])
    # The generator finds options through the "oslo.config.opts" entry points; give it ours directly.
    with mock.patch.object(generator, "_list_opts", return_value=[("freezer-api", list_opts())]):
        generator.generate(conf)


if __name__ == "__main__":
    write_sample(sys.argv[1] if len(sys.argv) > 1 else "etc/freezer-api.conf.sample")
