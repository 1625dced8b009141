"""Finding and loading plugins.

Drivers (one storage, one engine, one mode per action) are loaded by name
with stevedore, which imports only the plugin asked for, so boto3 or
swiftclient are never imported by a local backup.  Hooks are fanned out to
every registered plugin with pluggy.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from functools import cache
from importlib import metadata
from typing import Any, TypeVar

import pluggy
from stevedore import DriverManager, ExtensionManager
from stevedore.exception import NoMatches

from freezer_core import hookspecs
from freezer_core.contract import CONTRACT_VERSION, Engine, Mode, Storage
from freezer_core.errors import FreezerError, PluginNotInstalled

LOG = logging.getLogger(__name__)

KINDS: dict[str, tuple[str, type]] = {
    "storage": ("freezer.storages", Storage),
    "engine": ("freezer.engines", Engine),
    "mode": ("freezer.modes", Mode),
}
HOOKS_GROUP = "freezer.plugins"

T = TypeVar("T")


def load_class(kind: str, name: str) -> type[Any]:
    """The plugin class registered as ``name`` for ``kind`` (storage/engine/mode).

    :raises PluginNotInstalled: with the pip command that fixes it.
    """
    namespace, base = KINDS[kind]
    try:
        manager = DriverManager(namespace=namespace, name=name, invoke_on_load=False,
                                on_load_failure_callback=_raise_load_failure)
    except NoMatches:
        raise PluginNotInstalled(kind, name) from None
    cls = manager.driver
    if not (isinstance(cls, type) and issubclass(cls, base)):
        raise FreezerError(f"{kind} plugin '{name}' is not a {base.__name__} subclass: "
                           f"fix or uninstall the package that provides it")
    if getattr(cls, "api_version", None) != CONTRACT_VERSION:
        raise FreezerError(f"{kind} plugin '{name}' was written for plugin API "
                           f"{cls.api_version}, this Freezer speaks {CONTRACT_VERSION}: "
                           f"upgrade the plugin")
    return cls


def _raise_load_failure(_manager: Any, entrypoint: Any, exc: BaseException) -> None:
    raise FreezerError(f"plugin '{entrypoint.name}' failed to load ({exc}): "
                       f"reinstall the package that provides it") from exc


@dataclass(frozen=True)
class InstalledPlugin:
    kind: str
    name: str
    distribution: str
    version: str
    target: str


def installed() -> list[InstalledPlugin]:
    """Every installed driver and hook plugin, without importing any of them."""
    found = []
    groups = {ns: kind for kind, (ns, _) in KINDS.items()} | {HOOKS_GROUP: "hooks"}
    for ns, kind in groups.items():
        for ep in metadata.entry_points(group=ns):
            dist = ep.dist
            found.append(InstalledPlugin(kind, ep.name, dist.name if dist else "?",
                                         dist.version if dist else "?", ep.value))
    return sorted(found, key=lambda p: (p.kind, p.name))


def names(kind: str) -> list[str]:
    """Names of installed plugins of one kind (storage/engine/mode)."""
    return sorted(ExtensionManager(KINDS[kind][0]).entry_points_names())


@cache
def plugin_manager() -> pluggy.PluginManager:
    """The hook registry: specs from :mod:`freezer_core.hookspecs`, impls from entry points.

    Set ``FREEZER_DISABLE_PLUGIN_AUTOLOAD=1`` to load no third-party hooks.
    """
    pm = pluggy.PluginManager("freezer")
    pm.add_hookspecs(hookspecs)
    if not os.environ.get("FREEZER_DISABLE_PLUGIN_AUTOLOAD"):
        pm.load_setuptools_entrypoints(HOOKS_GROUP)
    pm.check_pending()
    return pm


def call_hook(name: str, **kwargs: Any) -> None:
    """Call every implementation of a hook; a failing plugin is logged, never fatal."""
    hook = getattr(plugin_manager().hook, name)
    for impl in reversed(hook.get_hookimpls()):
        wanted = {k: v for k, v in kwargs.items() if k in impl.argnames}
        try:
            impl.function(**wanted)
        except Exception:  # a plugin must not break a backup
            LOG.exception("hook %s of plugin %s failed", name, impl.plugin_name)
