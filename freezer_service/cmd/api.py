"""``freezer-api``: the REST service in one process (SQLite and embedded tokens by default)."""

from __future__ import annotations

import logging
import sys
from typing import Any

from freezer_core.errors import ConfigError, FreezerError
from freezer_service import config
from freezer_service.api import policy
from freezer_service.api.app import WSGIApp, build_app
from freezer_service.db import load_backend

LOG = logging.getLogger("freezer_service.api")


def auth_layer(conf: Any) -> Any:
    """The authentication middleware chosen by ``auth_strategy``."""
    strategy = conf.auth_strategy or ("keystone" if config.keystone_configured(conf) else "embedded")
    if strategy == "keystone":
        try:
            from keystonemiddleware import auth_token
        except ImportError:
            raise ConfigError("auth_strategy keystone needs keystonemiddleware: pip install keystonemiddleware") \
                from None
        from freezer_service.api.context import is_public

        def keystone(app: WSGIApp) -> WSGIApp:
            protected = auth_token.AuthProtocol(app, {"oslo_config_config": conf})

            def dispatch(environ: dict[str, Any], start_response: Any) -> Any:
                if is_public(environ.get("PATH_INFO", "")):
                    return app(environ, start_response)
                return protected(environ, start_response)
            return dispatch
        return keystone
    from freezer_service.api.embedded_auth import EmbeddedAuth, load_tokens

    if not conf.embedded_auth.tokens_file:
        raise ConfigError("embedded authentication needs [embedded_auth] tokens_file "
                          "(or auth_strategy = keystone)")
    tokens = load_tokens(conf.embedded_auth.tokens_file)
    return lambda app: EmbeddedAuth(app, tokens)


def ui_password_login(conf: Any) -> Any:
    """The web UI's username/password login under ``auth_strategy = keystone``: the server exchanges them
    for a token at the Keystone of ``[keystone_authtoken]`` (``www_authenticate_uri``, else ``auth_url``)."""
    if (conf.auth_strategy or ("keystone" if config.keystone_configured(conf) else "embedded")) != "keystone":
        return None
    from oslo_config import cfg

    from freezer_service.ui import keystone_password_login

    probe = cfg.ConfigOpts()
    probe.register_opts([*config.KEYSTONE_HINT_OPTS, cfg.StrOpt("cafile"), cfg.BoolOpt("insecure", default=False)],
                        group="keystone_authtoken")
    probe([], project="freezer", default_config_files=list(conf.config_file or []),
          default_config_dirs=list(conf.config_dir or []))
    section = probe.keystone_authtoken
    url = section.www_authenticate_uri or section.auth_url
    if not url:
        return None
    return keystone_password_login(url, verify=False if section.insecure else (section.cafile or True))


def make_app(conf: Any) -> tuple[WSGIApp, Any]:
    policy.configure(conf)
    backend = load_backend(conf.storage.backend, connection=config.database_url(conf), conf=conf)
    backend.upgrade()
    return build_app(backend, auth_layer(conf), ui_password_login(conf)), backend


def serve(conf: Any) -> None:
    from cheroot import wsgi

    app, backend = make_app(conf)
    # A listen backlog of 128 (cheroot's default is 5): a burst of clients (every scheduler of a fleet
    # polling at once) waits for a thread instead of having its connection reset.
    server = wsgi.Server((conf.bind_host, conf.bind_port), app, numthreads=conf.api_threads,
                         server_name="freezer-api", request_queue_size=128)
    LOG.info("freezer-api listening on http://%s:%s (backend %s)", conf.bind_host, conf.bind_port,
             conf.storage.backend)
    try:
        server.start()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
        backend.close()


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["db-migrate"]:
        from freezer_service.cmd import db_migrate

        db_migrate.main(args[1:])
        return
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    try:
        conf = config.load(args)
        if conf.db_sync:
            backend = load_backend(conf.storage.backend, connection=config.database_url(conf), conf=conf)
            backend.upgrade()
            backend.close()
            return
        serve(conf)
    except FreezerError as exc:
        print(f"freezer-api: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
