"""``ModeTests``: the conformance suite every mode plugin passes.

Subclass it and provide two fixtures:

* ``backup_mode``: a mode whose ``prepare()`` can make a source here;
* ``restore_mode``: a mode whose ``restoring()`` yields a directory here.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from freezer_core.contract import Mode, Source


class _Boom(Exception):
    pass


class ModeTests:
    def test_prepare_yields_a_source(self, backup_mode: Mode) -> None:
        with backup_mode.prepare() as source:
            assert isinstance(source, Source)
            assert isinstance(source.resource_id, str) and source.resource_id
            if source.path is not None:
                assert Path(source.path).exists()

    def test_prepare_releases_and_propagates_when_the_backup_fails(self, backup_mode: Mode) -> None:
        with pytest.raises(_Boom):
            with backup_mode.prepare():
                raise _Boom()
        # released: it can be prepared again at once
        with backup_mode.prepare() as source:
            assert isinstance(source, Source)

    def test_restoring_yields_a_directory(self, restore_mode: Mode) -> None:
        with restore_mode.restoring() as target:
            assert Path(target).is_dir()

    def test_restoring_propagates_failures(self, restore_mode: Mode) -> None:
        with pytest.raises(_Boom):
            with restore_mode.restoring():
                raise _Boom()
