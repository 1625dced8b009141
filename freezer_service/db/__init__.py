"""Metadata backends, chosen by name among the ``freezer.db.backends`` entry points."""

from __future__ import annotations

from typing import Any

from freezer_core.errors import ConfigError, PluginNotInstalled
from freezer_service.db.base import Backend

NAMESPACE = "freezer.db.backends"


def load_backend(name: str, **options: Any) -> Backend:
    """Instantiate the backend registered as ``name`` (e.g. ``sqlalchemy``) with ``options``."""
    from stevedore import driver
    from stevedore.exception import NoMatches

    try:
        manager: Any = driver.DriverManager(NAMESPACE, name, invoke_on_load=True, invoke_kwds=options)
    except NoMatches:
        raise PluginNotInstalled("db-backend", name) from None
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"metadata backend '{name}' rejected its settings: {exc}") from exc
    backend = manager.driver
    if not isinstance(backend, Backend):
        raise ConfigError(f"entry point '{name}' in {NAMESPACE} is not a freezer metadata backend")
    return backend
