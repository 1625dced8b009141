"""cindernative mode: a Cinder volume backed up by the cinder-backup service.

The bytes never pass through Freezer: Cinder copies the volume into its own
backup store.  What Freezer stores (through its usual storage and catalog)
is a small record naming the Cinder backup, so ``--restore-from-date`` and
the chain names work as for files.  The mode checks the volume up front and
hands its lazily made connection to the ``cindernative`` engine, which it
always prefers.
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
from collections.abc import Iterator
from pathlib import Path

from freezer_openstack import Cloud

from freezer_core.contract import Mode, Options, Source
from freezer_core.errors import ValidationError
from freezer_mode_cindernative.api import get_volume

__all__ = ["CindernativeMode"]

LOG = logging.getLogger("freezer.mode.cindernative")


class CindernativeMode(Mode):
    name = "cindernative"

    @classmethod
    def preferred_engine(cls, options: Options) -> str | None:
        return "cindernative"

    def __init__(self, options: Options) -> None:
        super().__init__(options)
        self.cloud = Cloud(options)

    def _check_engine(self) -> None:
        engine = self.options.get("engine_name")
        if engine not in (None, "cindernative"):
            raise ValidationError(f"--mode cindernative is done by Cinder's backup service, not --engine {engine}: "
                                  f"drop --engine")

    @contextlib.contextmanager
    def prepare(self) -> Iterator[Source]:
        self._check_engine()
        volume_id = self.options.get("cindernative_vol_id")
        if not volume_id:
            raise ValidationError("--mode cindernative backups need --cindernative-vol-id: say which volume")
        try:
            volume = get_volume(self.cloud, str(volume_id))
            yield Source(None, resource_id=volume["id"], extra={"cloud": self.cloud, "volume": volume})
        finally:
            self.cloud.close()

    @contextlib.contextmanager
    def restoring(self) -> Iterator[Path]:
        self._check_engine()
        with tempfile.TemporaryDirectory(prefix="freezer-cindernative-") as scratch:
            yield Path(scratch)
