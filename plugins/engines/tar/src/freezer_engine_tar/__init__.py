"""Freezer's tar engine: GNU tar listed-incremental archives, compatible with upstream Freezer.

The engine emits a plain (uncompressed) GNU tar stream and keeps tar's
snapshot file as its engine state; the core pipeline compresses and encrypts
the stream, so a gzip + OpenSSL pipeline yields what upstream's
``tar -z | openssl enc`` writes.
"""

from __future__ import annotations

from freezer_engine_tar.engine import TarEngine

__all__ = ["TarEngine"]
