"""The plugin contract as a third-party author meets it."""

from __future__ import annotations

import importlib.util
import inspect
import re
import sys
from pathlib import Path

import pytest

from freezer_core import hookspecs, plugins
from freezer_core.errors import PluginNotInstalled
from freezer_core.testing.storage import StorageTests

ROOT = Path(__file__).resolve().parents[1]


def _load_example():
    path = ROOT / "docs/examples/freezer_storage_dict.py"
    spec = importlib.util.spec_from_file_location("freezer_storage_dict", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["freezer_storage_dict"] = module
    spec.loader.exec_module(module)
    return module


class TestDocumentedThirdPartyStorage(StorageTests):
    """The one-file storage shown in docs/plugins.md passes the conformance suite."""

    @pytest.fixture
    def storage(self, tmp_path: Path):
        store = _load_example().DbmStorage(str(tmp_path / "backups.db"), {})
        yield store
        store.close()


def test_missing_plugin_says_how_to_install_it() -> None:
    with pytest.raises(PluginNotInstalled) as info:
        plugins.load_class("storage", "s3x")
    assert str(info.value) == "storage 's3x' is not installed: pip install freezer-storage-s3x"


def test_installed_plugins_are_listed_with_versions() -> None:
    found = {(p.kind, p.name): p for p in plugins.installed()}
    for key, dist in [(("storage", "local"), "freezer-storage-local"), (("engine", "tar"), "freezer-engine-tar"),
                      (("mode", "fs"), "freezer-mode-fs")]:
        assert found[key].distribution == dist
        assert re.match(r"\d+\.\d+", found[key].version)


def test_builtin_plugins_load_and_match_the_contract() -> None:
    for kind, name in [("storage", "local"), ("engine", "tar"), ("mode", "fs")]:
        cls = plugins.load_class(kind, name)
        assert cls.name == name


def test_every_hookspec_is_documented() -> None:
    """docs/plugins.md documents each hook with its exact signature."""
    doc = (ROOT / "docs/plugins.md").read_text()
    specs = [f for n, f in inspect.getmembers(hookspecs, inspect.isfunction)
             if hasattr(f, "freezer_spec")]
    assert specs, "no hookspecs found"
    for spec in specs:
        assert spec.__doc__, f"hookspec {spec.__name__} has no docstring"
        args = ", ".join(inspect.signature(spec).parameters)
        assert f"`{spec.__name__}({args})`" in doc, f"hook {spec.__name__}({args}) is not documented in docs/plugins.md"


def test_failing_hook_never_breaks_the_caller(caplog: pytest.LogCaptureFixture) -> None:
    class Broken:
        @hookspecs.hookimpl
        def action_started(self, action):
            raise RuntimeError("plugin bug")

    pm = plugins.plugin_manager()
    pm.register(Broken(), name="broken-test-plugin")
    try:
        plugins.call_hook("action_started", action={"action": "backup"})
    finally:
        pm.unregister(name="broken-test-plugin")
    assert "hook action_started of plugin broken-test-plugin failed" in caplog.text
